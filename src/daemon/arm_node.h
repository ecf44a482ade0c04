// ArmNode: coved's control plane — the ControlPlane (arm/control_plane.h) over
// <data_dir>/control.db and its ARM REST API on plain HTTP on loopback (config arm_listen,
// default 127.0.0.1:7780; port 0 picks a free port).
//
// In the full daemon the registries the registry node serves come from here, and only from
// here: the node's Directory is rebuilt from every committed snapshot (RegistriesFromSnapshot,
// RegistryNode::SetControlPlaneRegistries).
//
// Thread-safety: Start/Stop from one thread; the control plane and server are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "arm/api.h"
#include "arm/control_plane.h"
#include "auth/authenticator.h"
#include "daemon/config.h"
#include "http/server.h"
#include "registry/directory.h"

namespace cove::daemon {

class ArmNode {
 public:
  // Opens the control plane under config.data_dir. Errors name the path.
  static Result<std::unique_ptr<ArmNode>> Open(const Config& config, const Clock& clock);
  ~ArmNode();

  // Binds config.arm_listen and starts serving; returns the bound port.
  Result<uint16_t> Start();
  void Stop();

  arm::ControlPlane& control_plane() { return *control_plane_; }
  // cove-only diagnostics on the same listener: GET /cove/counters answers what `counters`
  // returns (the registry's per-endpoint counters, access::Gate::CountersJson). Call before
  // Start.
  void SetCounters(std::function<nlohmann::json()> counters) { counters_ = std::move(counters); }
  // Identity endpoints on the same listener (call before Start):
  //   POST /{tenant}/oauth2/v2.0/token   Entra's token endpoint, as `cove login` uses it:
  //       grant_type=password (username, password) or client_credentials (client_id = appId,
  //       client_secret) → {"token_type":"Bearer","expires_in":3599,"access_token":<identity
  //       JWT>}; errors in Entra's {"error","error_description"} form with its AADSTS codes.
  //       {tenant} is the tenant id, "organizations" or "common".
  //   POST /cove/acr/{loginServer}/oauth2/exchange   the registry's own /oauth2/exchange, for
  //       `cove acr login` on the host, where private endpoints are not routable (az acr login
  //       from outside the VNet simply fails against a registry without public access).
  // `registry_of` maps a login server to the registry's name ("" when it is not one).
  void SetAuth(auth::Authenticator* authenticator,
               std::function<std::string(const std::string&)> registry_of) {
    authenticator_ = authenticator;
    registry_of_ = std::move(registry_of);
  }

 private:
  ArmNode() = default;
  Config config_;
  std::unique_ptr<arm::ControlPlane> control_plane_;
  std::unique_ptr<arm::ArmApi> api_;
  class Routes;
  std::unique_ptr<Routes> routes_;
  std::function<nlohmann::json()> counters_;
  auth::Authenticator* authenticator_ = nullptr;
  std::function<std::string(const std::string&)> registry_of_;
  std::unique_ptr<http::Server> server_;
};

// The registries a snapshot declares, as the registry's Directory wants them.
std::vector<registry::RegistryInfo> RegistriesFromSnapshot(const arm::Snapshot& snapshot);

}  // namespace cove::daemon
