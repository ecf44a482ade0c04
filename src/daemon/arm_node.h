// ArmNode: coved's control plane — the ControlPlane (arm/control_plane.h) over
// <data_dir>/control.db and its ARM REST API (config arm_listen, default 127.0.0.1:7780, loopback
// only; port 0 picks a free port), with Entra's token endpoint beside it.
//
// Transport: HTTPS with a certificate from cove's CA (<data>/tls/ca.crt, http/tls.h; per-name
// certificates cached under <data>/tls/arm-hosts/), as MSAL and az insist on an https authority.
// `arm_insecure_http: true` (coved --arm-insecure-http) serves plain HTTP instead — an explicit
// opt-in for tests; authentication and the Host check stay on.
//
// Every request, on either transport, must name the listener in its Host header: the bound
// address, "localhost" or a name in config arm_host_names, with the bound port or none. Any other
// name is refused with 421 Misdirected Request and {"error":{"code":"InvalidHostName",...}}:
// a web page that rebinds its own DNS name to 127.0.0.1 reaches the socket but never the API.
//
// Authentication (issue 17): every ARM and Graph request needs `Authorization: Bearer <identity
// token>` issued by this listener's token endpoint (auth/token_service.h, identity tokens for
// Azure Resource Manager's audiences; a token for ACR's resource is refused, with ARM's "wrong
// audience" message), whose principal (oid) exists in the control plane's directory (users,
// service principals, managed identities) and is enabled. Otherwise 401 with ARM's body —
// AuthenticationFailed (no or malformed Authorization header) or InvalidAuthenticationToken
// (forged, expired, another key's token; a principal deleted or disabled since) — and
// `WWW-Authenticate: Bearer authorization_uri="https://<Host>/<tenant>", error="invalid_token",
// error_description="..."`; why, for people debugging, is in X-Cove-Auth-Error. Then RBAC
// (arm/rbac.h) on the request's action and scope: 403 AuthorizationFailed with Azure's message
// (Graph requests: Graph's Authorization_RequestDenied); a list (GET of a collection) is not
// refused but holds only the items the caller may read, as ARM's lists do. GET /cove/counters is authorized as
// Microsoft.Insights/metrics/read at the root scope "/". The token endpoint and the registry
// exchange below need no bearer token (they are how one gets one).
//
// Bootstrap (the first principal, as a cluster's admin kubeconfig): when <data>/bootstrap.json
// does not exist, Open() makes sure the control plane has the application and service principal
// "cove-bootstrap" with Owner at the tenant root "/", adds a new client secret to it (10 years)
// and writes, atomically and mode 0600 (readable by coved's user only — root under
// `scripts/dev up`):
//   {"tenantId": "...", "clientId": "<appId>", "clientSecret": "<secret>",
//    "principalId": "<object id>", "displayName": "cove-bootstrap"}
// The CLI signs in with it (client_credentials) when nobody is signed in and the file is
// readable (cli/context.h). Delete the file and restart coved for a new secret; the old ones
// stay valid until removed from the application (POST /v1.0/applications/{id}/removePassword).
//
// In the full daemon the registries the registry node serves come from here, and only from
// here: the node's Directory is rebuilt from every committed snapshot (RegistriesFromSnapshot,
// RegistryNode::SetControlPlaneRegistries).
//
// Thread-safety: Start/Stop from one thread; the control plane and server are thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "arm/api.h"
#include "arm/control_plane.h"
#include "auth/authenticator.h"
#include "auth/token_service.h"
#include "daemon/arm_discovery.h"
#include "daemon/config.h"
#include "http/server.h"
#include "http/tls.h"
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
  // Where replications' `properties.status` comes from: the data plane's report per registry
  // and region (arm/control_plane.h). Any time, any thread; until set, every replication
  // answers "Syncing".
  void SetReplicationStatus(arm::ReplicationStatusProvider status) {
    control_plane_->SetReplicationStatusProvider(std::move(status));
  }
  // Where listUsages' Size (`acr show-usage`) comes from: the registry's region nodes.
  void SetRegistryUsage(arm::RegistryUsageProvider usage) {
    control_plane_->SetRegistryUsageProvider(std::move(usage));
  }
  // Identity endpoints on the same listener (call before Start):
  //   POST /{tenant}/oauth2/v2.0/token   Entra's token endpoint, as `cove login` uses it:
  //       grant_type=password (username, password) or client_credentials (client_id = appId,
  //       client_secret) → {"token_type":"Bearer","expires_in":3599,"access_token":<identity
  //       JWT>}; errors in Entra's {"error","error_description"} form with its AADSTS codes.
  //       {tenant} is the tenant id, "organizations" or "common".
  //   POST /cove/acr/{loginServer}/oauth2/exchange   the registry's own /oauth2/exchange, for
  //       `cove acr login` on the host, where private endpoints are not routable (az acr login
  //       from outside the VNet simply fails against a registry without public access).
  // `registry_of` maps a login server to the registry's name ("" when it is not one); `tokens`
  // verifies the bearer tokens of ARM requests. Until SetAuth is called every ARM request is
  // refused with 401 (fail closed).
  void SetAuth(auth::Authenticator* authenticator, auth::TokenService* tokens,
               std::function<std::string(const std::string&)> registry_of) {
    authenticator_ = authenticator;
    tokens_ = tokens;
    discovery_.tokens = tokens;
    registry_of_ = std::move(registry_of);
  }
  // Where the bootstrap credential is: <data_dir>/bootstrap.json.
  std::string BootstrapPath() const { return config_.data_dir + "/bootstrap.json"; }

 private:
  ArmNode() = default;
  // Makes the bootstrap principal and writes BootstrapPath() when that file is missing.
  Status EnsureBootstrap(const Clock& clock);
  // True when `host` (a Host header value) names this listener.
  bool IsOwnHost(std::string_view host) const;

  Config config_;
  std::unique_ptr<http::CertificateAuthority> ca_;
  std::unique_ptr<http::SniContextProvider> tls_;
  std::set<std::string> host_names_;  // lowercased names without port
  std::atomic<uint16_t> port_{0};     // bound port (set by Start)
  std::unique_ptr<arm::ControlPlane> control_plane_;
  std::unique_ptr<arm::ArmApi> api_;
  class Routes;
  std::unique_ptr<Routes> routes_;
  std::function<nlohmann::json()> counters_;
  auth::Authenticator* authenticator_ = nullptr;
  auth::TokenService* tokens_ = nullptr;
  DiscoveryContext discovery_;  // what the discovery documents say (arm_discovery.h)
  std::function<std::string(const std::string&)> registry_of_;
  std::unique_ptr<http::Server> server_;
};

// The registries a snapshot declares, as the registry's Directory wants them.
std::vector<registry::RegistryInfo> RegistriesFromSnapshot(const arm::Snapshot& snapshot);

}  // namespace cove::daemon
