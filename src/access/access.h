// access: ACR's network rules as one pure decision — the Verdict — and the Gate that applies
// it (and counts traffic per endpoint) in front of the registry's HTTP handler. This is the
// only place where the network decides; the registry's authentication (auth/authenticator.h)
// reads the verdict the Gate attached to the request and never decides it again.
//
// Decide(policy, registry, via) answers how a connection may use a registry, as ACR does:
//   - through a private endpoint (Via.link_id set): the link id must belong to a private
//     endpoint connection of THIS registry (another registry's link id is refused) and that
//     connection must be Approved. IP rules, publicNetworkAccess and defaultAction never apply
//     to private endpoints.
//   - through the public endpoint (no link id): publicNetworkAccess Disabled → denied, except
//     from a trusted Azure service machine's address (a container group's) while
//     networkRuleBypassOptions is AzureServices: then the verdict is "allow only this machine's
//     own identity" (kAllowOwnIdentityOnly, naming the machine): the registry's authentication
//     lets in only a managed identity whose token was issued in that machine, challenges
//     callers without credentials (the service's Docker client pings /v2/ first) and DENIES
//     everyone else with the verdict's message (auth/network.h);
//     otherwise defaultAction Allow → allowed; defaultAction Deny → allowed only if the client
//     IP matches an Allow IP rule (an address or an IPv4 CIDR).
// A denial is HTTP 403 with the OCI error table's DENIED body (DeniedResponse, the one place it
// is written). Public denials carry Azure's exact message ("client with IP '<ip>' is not
// allowed access. Refer https://aka.ms/acr/firewall to grant access."). Private endpoint
// denials name the private endpoint connection and its state ("... private endpoint connection
// 'pe1.conn' ... is Pending ..."): cove does better than Azure here, which answers a generic
// 403 that leaves the user guessing. The data endpoint (<reg>.<region>.data.<suffix>) applies
// the same rules as the login server.
//
// Gate is an http::Handler that wraps the registry: per request it matches the Host/SNI to a
// registry (through a caller-supplied function), decides, and either answers 403 or hands the
// request on with the Verdict attached (http::Request::verdict: the registry it matched and
// what the network allows). It also counts, per endpoint key, requests, denials, request body
// bytes and response body bytes. The keys:
//   "listener:<local-ip>"            a connection through no private endpoint, by the address
//                                    it arrived on (the registry's own public listener);
//   "link:<id>"                      every connection through the private endpoint whose link
//                                    id is <id> (all its members together);
//   "link:<id>/member:<local-ip>"    the same, through one member of that endpoint (the
//                                    registry's login server or one data host: the member's
//                                    private address in its VNet, e.g. 10.0.0.5 / 10.0.0.6).
// A private endpoint connection counts under both of its keys. Members are keyed under their
// endpoint's link id because VNets may overlap: two VNets' endpoints can both hold 10.0.0.5, and
// a key by address alone would add them into one entry. `denied` counts every 403 answered at
// the endpoint: the Gate's own and those the registry decides later (a data host's signed URL
// that does not verify, authentication's DENIED). Counters are read with Counters() and
// rendered as JSON by CountersJson() (coved serves them at GET /cove/counters on its ARM
// listener).
//
// Thread-safety: Decide is pure. Gate::Start runs on the HTTP server's threads; SetPolicy may
// be called from any thread (policies are immutable snapshots swapped under a mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/message.h"

namespace cove::access {

struct IpRule {
  std::string value;  // "203.0.113.7" or "203.0.113.0/24"
  std::string action = "Allow";
};

struct RegistryRules {
  std::string name;  // lowercased registry name
  bool public_network_access = true;
  bool bypass_azure_services = true;     // networkRuleBypassOptions == AzureServices
  std::string default_action = "Allow";  // Allow | Deny
  std::vector<IpRule> ip_rules;
};

// A private endpoint connection as the link id of its endpoint identifies it.
struct LinkInfo {
  std::string registry;          // lowercased name of the target registry
  std::string endpoint_name;     // the private endpoint
  std::string connection_name;   // the registry's privateEndpointConnection name
  std::string status;            // Pending | Approved | Rejected | Disconnected
};

struct Policy {
  std::map<std::string, RegistryRules> registries;  // by lowercased name
  std::map<uint32_t, LinkInfo> links;
  // Where trusted Azure services call from: a source address → the resource id of the trusted
  // service machine that has it (a container group's public address → the group's id).
  std::map<std::string, std::string> trusted_service_sources;
};
using PolicyPtr = std::shared_ptr<const Policy>;

// How a connection came.
struct Via {
  std::optional<uint32_t> link_id;  // private endpoint
  std::string client_ip;           // the public client's address (PROXY source when proxied)
};

// The network's one decision on a request.
struct Verdict {
  enum class Kind {
    kAllow,                 // the network lets the request through
    kAllowOwnIdentityOnly,  // only the managed identity of `machine`, a trusted service's
    kDeny,                  // 403 DENIED with `message`
  };
  Kind kind = Kind::kAllow;
  std::string registry;  // the lowercased registry the host matched ("" for none)
  bool via_private_endpoint = false;
  // kAllowOwnIdentityOnly: the resource id of the trusted service machine the connection
  // comes from (its source address is the machine's).
  std::string machine;
  // kDeny: why. kAllowOwnIdentityOnly: the denial for any caller that is not the machine's own
  // identity.
  std::string message;

  // Whether the request goes on to the registry (for kAllowOwnIdentityOnly: to its
  // authentication, which may still deny it).
  bool allowed() const { return kind != Kind::kDeny; }
};
using VerdictPtr = std::shared_ptr<const Verdict>;

// The verdict for `registry` (lowercased; "" for a host that is no registry's: allowed). A
// registry the policy does not know is governed by no rules (allowed).
Verdict Decide(const Policy& policy, const std::string& registry, const Via& via);

// Azure's public-endpoint message.
std::string PublicDeniedMessage(const std::string& ip);
// The full 403 body {"errors":[{"code":"DENIED","message":...}]} (the OCI error table's).
std::string DeniedBody(const std::string& message);
// The 403 DENIED response every network denial answers with (the Gate's and, for the
// kAllowOwnIdentityOnly verdict, the registry's authentication's).
http::Response DeniedResponse(const std::string& message);

// Whether `ip` (IPv4 text) matches `rule` (address or IPv4 CIDR). IPv6 never matches.
bool MatchesIpRule(const std::string& ip, const std::string& rule);

struct EndpointCounters {
  uint64_t requests = 0;
  uint64_t denied = 0;     // requests answered 403 (the Gate's denials and the registry's)
  uint64_t bytes_in = 0;   // request bodies
  uint64_t bytes_out = 0;  // response bodies
};

class Gate final : public http::Handler {
 public:
  // `inner` must outlive the gate. `registry_of_host` maps a lowercased host (no port) to the
  // lowercased registry name it serves, or "" when the host is not a registry's.
  Gate(http::Handler& inner, std::function<std::string(const std::string&)> registry_of_host);

  void SetPolicy(PolicyPtr policy);
  http::ExchangePtr Start(http::Request request) override;

  std::map<std::string, EndpointCounters> Counters() const;
  nlohmann::json CountersJson() const;

 private:
  struct Slot {
    std::atomic<uint64_t> requests{0}, denied{0}, bytes_in{0}, bytes_out{0};
  };
  std::vector<std::shared_ptr<Slot>> SlotsFor(const http::Peer& peer);
  PolicyPtr policy() const;

  http::Handler& inner_;
  std::function<std::string(const std::string&)> registry_of_host_;
  mutable std::mutex mu_;
  PolicyPtr policy_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

}  // namespace cove::access
