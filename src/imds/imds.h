// Imds: Azure's Instance Metadata Service for cove's machines (VMs and container groups) — where
// a managed identity gets its tokens, as `cove login --identity`, the Azure SDKs' managed
// identity credentials and `curl -H Metadata:true` inside a machine ask for them.
//
// coved listens on 169.254.169.254:80 inside every machine's network namespace (the fabric puts
// that address on the machine's lo, daemon/planes.h); each listener is tagged with the
// machine's ARM id (lowercased, http::ListenerOptions::tag), so the service knows which
// machine asks from the socket, never from anything the request says. A machine that is not
// (or no longer) in the current Machines gets "Identity not found".
//
// Only the machine itself is answered: the connection's source must be one of the machine's
// own addresses (169.254.169.254, 127.0.0.0/8, its private or public address; FromTheMachine).
// A machine that routes 169.254.169.254 to a neighbour reaches the neighbour's listener from
// its own address and gets 403 with no machine data. Below this check the listener is bound to
// the machine's lo (daemon/planes.h), a firewall rule in each machine's namespace lets
// 169.254.169.254 be reached from lo only (fabric/guard.h), and every bridge port drops spoofed
// addresses, so a neighbour can neither reach the listener nor borrow the machine's address.
//
// Endpoints (plain HTTP, GET only; every request needs the header `Metadata: true`, and one that
// carries X-Forwarded-For is refused, as Azure's IMDS does against request forgery through
// proxies):
//   /metadata/identity/oauth2/token?api-version=2018-02-01&resource=<uri>
//       [&client_id=<clientId> | &object_id=<principalId> | &msi_res_id=<identity id>]
//       (mi_res_id is msi_res_id's newer name). Which identity: the one named (among the
//       machine's system-assigned and user-assigned identities); with none named, the
//       system-assigned one, else the only user-assigned one.
//       → 200 {"access_token","client_id","expires_in","expires_on","ext_expires_in",
//              "not_before","resource","token_type":"Bearer"} — numbers as strings, as Azure
//       sends them. The token is cove's identity token (auth/token_service.h) for the principal,
//       with aud = the resource, appid = clientId, xms_mirid = the identity's resource id (the
//       machine's for a system-assigned identity) and xms_az_rid = the machine: the registry
//       decides from that whether the call comes from a trusted service (auth/network.h).
//   /metadata/instance[/compute|/network]?api-version=<version> → the machine's compute
//       (azEnvironment, location, name, resourceGroupName, resourceId, subscriptionId, vmId,
//       osType, provider) and network (its address) sections.
// Errors: {"error": "invalid_request", "error_description": ...} for the identity endpoint
// ("Required metadata header not specified", "Identity not found", "Multiple user assigned
// identities exist, ...", "Required query variable 'api-version' is missing", AADSTS500011 for
// an unknown resource as invalid_resource), and {"error": "Bad request. ..."} for the instance
// endpoint; 404 / 405 for other paths and methods.
//
// Where cove differs: tokens are cove's identity tokens (signed by coved's identity key ring),
// valid at coved's registries and token endpoints, not at Entra.
//
// Thread-safety: SetMachines and the handler may be used from any thread; each request uses the
// machine set current when it started.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/identity.h"
#include "auth/token_service.h"
#include "http/message.h"

namespace cove::imds {

inline constexpr char kAddress[] = "169.254.169.254";
inline constexpr uint16_t kPort = 80;

struct MachineIdentity {
  std::string resource_id;  // user-assigned: the identity's id; system-assigned: the machine's
  std::string principal_id;
  std::string client_id;
};

struct Machine {
  std::string id;    // ARM id, as stored
  std::string name;  // resource name
  std::string type;  // "Microsoft.Compute/virtualMachines", "Microsoft.ContainerInstance/containerGroups"
  std::string subscription_id, resource_group, location;
  std::string vm_id;  // a GUID
  std::string private_ip, public_ip;
  std::optional<MachineIdentity> system_assigned;
  std::vector<MachineIdentity> user_assigned;
};

// Machines by listener tag: the lowercased ARM id.
using Machines = std::map<std::string, Machine>;

// The tag of a machine's listener.
std::string TagOf(const std::string& machine_id);

// Whether a connection to `machine`'s listener comes from the machine itself: from one of its
// own addresses (above), not through a PROXY header.
bool FromTheMachine(const http::Peer& peer, const Machine& machine);

class Service final : public http::Handler {
 public:
  // `store` (principals) and `tokens` must outlive the service. `tenant` is the tid of tokens.
  Service(const auth::IdentityStore& store, auth::TokenService& tokens, std::string tenant);

  void SetMachines(std::shared_ptr<const Machines> machines);

  http::ExchangePtr Start(http::Request request) override;

  // The answer to one request (what Start responds with; tests call it directly).
  http::Response Handle(const http::Request& request) const;

 private:
  http::Response Token(const http::Request& request, const Machine& machine) const;

  const auth::IdentityStore& store_;
  auth::TokenService& tokens_;
  std::string tenant_;
  std::atomic<std::shared_ptr<const Machines>> machines_;
};

}  // namespace cove::imds
