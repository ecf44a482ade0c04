// ControlPlane: cove's Azure Resource Manager — the resource model, its validation rules and
// cascades, and persistence — behind a transport-free request API (the REST server in
// arm/api.h is a thin layer over Handle()).
//
// Resources: subscriptions and provider registrations; resource groups; Microsoft.Network
// virtualNetworks (+subnets, virtualNetworkPeerings), networkSecurityGroups (+securityRules),
// networkInterfaces (made by private endpoints), privateEndpoints (+privateDnsZoneGroups),
// privateDnsZones (+A, CNAME, virtualNetworkLinks); Microsoft.ContainerRegistry registries
// (+replications, privateEndpointConnections, privateLinkResources, scopeMaps, tokens,
// listCredentials / regenerateCredential / generateCredentials); Microsoft.ManagedIdentity
// userAssignedIdentities; Microsoft.Authorization roleAssignments (any scope) and the built-in
// roleDefinitions; on-premises connectivity (issue 14): Microsoft.Network publicIPAddresses,
// virtualNetworkGateways, localNetworkGateways, connections (+sharedkey), expressRouteCircuits
// (+peerings), dnsResolvers (+inboundEndpoints, outboundEndpoints), dnsForwardingRulesets
// (+forwardingRules, virtualNetworkLinks), and cove's own Cove.OnPremises sites (+machines);
// AKS (issue 16): Microsoft.ContainerService managedClusters (+agentPools) and cove's own
// Cove.Kubernetes deployments (arm/clusters.cc, docs/aks.md);
// and a Microsoft Graph-shaped directory (/v1.0/users, applications,
// servicePrincipals; arm/directory.h). Bodies, ids, status codes and error bodies are Azure's;
// see the report in the module's README section for the list.
//
// Identity decisions (issue 5, issue 17): Handle() does not authenticate — its transport does
// (daemon/arm_node.h: HTTPS, bearer identity tokens, RBAC with arm/rbac.h over the built-in
// role definitions, a Host check), so in-process callers (tests, coved's bootstrap) act with
// full rights. Tenant id c0ffee00-0000-4000-8000-0000000000ff. User, service-principal and token
// passwords are stored only as Argon2id hashes and shown once, when made. The admin user's two
// passwords must be readable again (listCredentials), so they are also stored sealed with
// libsodium's secretbox under a key in <data>/keys/credentials.key (arm/identity_support.h).
// Sealed values live in documents whose key ends in "/#secrets"; they never reach a Snapshot
// (which carries hashes only) or a rendered answer.
//
// Every write runs against a private copy of the state; if any rule refuses it, nothing
// changes. A successful write is persisted in one SQLite transaction (arm/state_store.h), then
// a new Snapshot is published and subscribers are told.
//
// Connection status (issue 14): a connection's connectionStatus and byte counters come from
// the ConnectionStatusProvider set with SetConnectionStatusProvider (the tunnel or BGP session
// the data plane runs), read on every render; without one, or when it answers nullopt, the
// status is "Unknown" with 0 bytes, as Azure answers before it has measured anything.
//
// Replication status (issue 12): whether a region has caught up is known to the data plane, not
// to the control plane. A replication's `properties.status` ({displayStatus, message,
// timestamp}, as ACR answers) is rendered on every read from the ReplicationStatusProvider set
// with SetReplicationStatusProvider — asked for every region, the home region's replication
// included. Without a provider, or when it answers nullopt, the status is "Syncing" with the
// message "waiting for the region's first report": never "Ready" unless the data plane said
// so. A report also renders cove's extension `properties.status.cove` = {"lagEntries": N,
// "lagMs": N} (absent without a report); Azure clients ignore the unknown member.
//
// Long-running operations (issue 15): writes of the types Azure's specs mark long-running answer
// with Azure-AsyncOperation (and, for DELETE, Location) headers naming an operation status
// resource that Handle() also answers; see arm/operations.h.
//
// Thread-safety: Handle() may be called from any thread; writes are serialised by one mutex,
// reads (GET) work on the current snapshot without taking it. snapshot() never blocks on a
// writer for longer than a pointer copy. Subscriber callbacks run on the writing thread, after
// the commit and in commit order; they must not call back into Handle(). The replication status
// provider is called on the request's thread (a write's under the writer mutex), once per
// replication rendered; it must be quick and must not call back into Handle().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/snapshot.h"
#include "common/clock.h"
#include "common/error.h"

namespace cove::arm {

// The default subscription that exists from the start (displayName "cove").
inline constexpr const char* kDefaultSubscription = "c0ffee00-0000-4000-8000-000000000001";

struct ArmRequest {
  std::string method;                      // GET, HEAD, PUT, PATCH, DELETE, POST
  std::string path;                        // decoded or not; no query
  std::optional<std::string> api_version;  // the api-version query parameter
  std::string body;
  std::string if_match;       // If-Match header ("" when absent)
  std::string if_none_match;  // If-None-Match header
  std::string filter;         // the $filter query parameter, decoded ("" when absent)
  // Paging of the generic listings (GET .../resources, arm/resource_listing.h): $top and
  // $skiptoken, decoded ("" when absent). A page's nextLink is answered path-absolute
  // ("/subscriptions/...?..."); the transport makes it a URL (arm/api.h).
  std::string top;
  std::string skip_token;
  std::string expand;  // $expand, decoded ("" when absent)
  std::string tail;    // ACI's container logs: ?tail= ("" when absent)
};

struct ArmResponse {
  int status = 200;
  std::optional<Json> body;  // none for 204 and HEAD
  // Response headers beyond Content-Type (long-running operations, arm/operations.h). A value
  // starting with "/" is path-absolute; the transport makes it a URL on the request's origin.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ControlPlaneOptions {
  std::string dns_suffix = "azurecr.io";
  // Source of randomness for GUIDs (NIC names, resourceGuid). Defaults to a random_device seed.
  std::function<uint64_t()> random;
  // Time for creationDate fields; the system clock when null. Must outlive the control plane.
  const Clock* clock = nullptr;
  // Tests only: Argon2id hashes at libsodium's minimum cost (they verify the same way).
  bool fast_password_hashing = false;
};

// What the data plane reports about one region of a geo-replicated registry.
struct ReplicationStatus {
  std::string display_status;  // "Syncing" | "Ready" | "Failed" (rendered as displayStatus)
  std::string message;         // "" when there is nothing to say
  Clock::TimePoint timestamp;  // when display_status took its current value
  uint64_t lag_entries = 0;    // changes accepted elsewhere that the region has not applied
  uint64_t lag_ms = 0;         // age of the oldest of them (0 when caught up)
};

// Answers the status of `region` (lowercase, e.g. "eastus") of the registry `registry_name`
// (lowercase, the login server's first label); nullopt when it has no report (yet).
using ReplicationStatusProvider = std::function<std::optional<ReplicationStatus>(
    const std::string& registry_name, const std::string& region)>;

// The storage registry `registry_name` (lowercase) uses, in bytes (listUsages' Size), as the data
// plane reports it; nullopt when it has no answer (Size is then 0).
using RegistryUsageProvider =
    std::function<std::optional<uint64_t>(const std::string& registry_name)>;

// What the data plane reports about one Microsoft.Network/connections resource (issue 14): the
// tunnel's (IPsec) or the BGP session's (ExpressRoute) state, rendered as the connection's
// read-only connectionStatus, ingressBytesTransferred and egressBytesTransferred.
struct ConnectionStatus {
  std::string status = "Unknown";  // Unknown | Connecting | Connected | NotConnected
  uint64_t ingress_bytes = 0;
  uint64_t egress_bytes = 0;
};

// Answers the status of the connection `connection_id` (its ARM id as created); nullopt when it
// has no report (yet): rendered as "Unknown" with no bytes.
using ConnectionStatusProvider =
    std::function<std::optional<ConnectionStatus>(const std::string& connection_id)>;

// A container group's live state and controls (issue 16), from the runtime that runs it
// (daemon/containers_plane.h). Every member may be empty (then: no runtime here). Called on the
// request's thread; each must be quick and must not call back into Handle().
struct ContainerGroupRuntime {
  // ACI's instance view of the group `group_id` (its ARM id as rendered, any casing), or nullopt
  // when the runtime does not know it:
  //   {"provisioningState"?, "state", "events": [...], "containers": {"<name>": {"restartCount",
  //    "currentState", "previousState"?, "events"}}}
  std::function<std::optional<nlohmann::json>(const std::string& group_id)> instance_view;
  // "restart" | "stop" | "start"; kNotFound when the runtime has no such group.
  std::function<Status(const std::string& group_id, const std::string& action)> act;
  // The container's output; its last `tail` lines when given. kNotFound: no such container.
  std::function<Result<std::string>(const std::string& group_id, const std::string& container,
                                    std::optional<int> tail)>
      logs;
};
// The live status of a Cove.Kubernetes/deployments workload (issue 16), rendered as its
// properties.status: {"replicas": N, "readyReplicas": N, "pods": [{"name", "node", "state":
// "Pending"|"Pulling"|"Running"|"Succeeded"|"Failed", "restartCount", "exitCode"?, "message",
// "image"}]}; nullopt when the data plane does not know the deployment (rendered as
// {"replicas": N, "readyReplicas": 0, "pods": []}). `deployment_id` is the ARM id as created.
using WorkloadStatusProvider =
    std::function<std::optional<nlohmann::json>(const std::string& deployment_id)>;

class StateStore;
class Engine;
class SecretBox;
class OperationLog;

class ControlPlane {
 public:
  // Opens the store at `db_path` (":memory:" for tests that do not restart), loads every
  // document, and creates the default subscription on first start. The key that encrypts
  // the admin users' passwords is <dir of db_path>/keys/credentials.key (made on first use);
  // a ":memory:" control plane keeps a random one in memory.
  static Result<std::unique_ptr<ControlPlane>> Open(const std::string& db_path,
                                                    ControlPlaneOptions options = {});
  ~ControlPlane();

  // Answers one ARM request. Never throws; bad input is an Azure-shaped error response.
  ArmResponse Handle(const ArmRequest& request);

  // The current snapshot.
  SnapshotPtr snapshot() const;

  // Calls `callback` with every new snapshot after it is committed. Returns an id for
  // Unsubscribe.
  int Subscribe(std::function<void(const SnapshotPtr&)> callback);
  void Unsubscribe(int id);

  // Where replications' `properties.status` comes from (see the top of this file). May be
  // called at any time, from any thread; a null provider restores the "Syncing" default.
  void SetReplicationStatusProvider(ReplicationStatusProvider provider);
  // Where listUsages' Size comes from; the same rules as the status provider (called on the
  // request's thread, quick, never back into Handle()).
  void SetRegistryUsageProvider(RegistryUsageProvider provider);
  // Where connections' connectionStatus comes from; the same rules as the status provider.
  void SetConnectionStatusProvider(ConnectionStatusProvider provider);
  // Where container groups' instance views, actions and logs go (see ContainerGroupRuntime); the
  // same rules as the status provider.
  void SetContainerGroupRuntime(ContainerGroupRuntime runtime);
  // The secrets the runtime must deliver to the group `group_id`, unsealed, for in-process
  // callers only (never answered over ARM): {"env": {"<container>/<VAR>": value}, "registries":
  // {"<server, lowercase>": password}}; both empty when the group has none. kNotFound when there
  // is no such group.
  Result<nlohmann::json> ContainerGroupSecrets(const std::string& group_id);
  // Where deployments' properties.status comes from; the same rules as the status provider.
  void SetWorkloadStatusProvider(WorkloadStatusProvider provider);

 private:
  ControlPlane() = default;
  void Publish(Documents documents);
  // Keeps the sealed-secret documents of `documents` for ContainerGroupSecrets.
  void KeepSealed(const Documents& documents);

  ControlPlaneOptions options_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SecretBox> secrets_;  // used under write_mu_
  Documents committed_;  // every document, sealed secrets included; guarded by write_mu_
  std::mutex write_mu_;  // one writer at a time
  mutable std::mutex snapshot_mu_;  // guards the pointer only
  SnapshotPtr snapshot_;
  std::mutex subscribers_mu_;
  std::map<int, std::function<void(const SnapshotPtr&)>> subscribers_;
  int next_subscriber_ = 1;
  mutable std::mutex status_mu_;  // guards the pointer only
  std::shared_ptr<const ReplicationStatusProvider> replication_status_;
  std::shared_ptr<const RegistryUsageProvider> registry_usage_;  // guarded by status_mu_
  std::shared_ptr<const ConnectionStatusProvider> connection_status_;  // guarded by status_mu_
  std::shared_ptr<const ContainerGroupRuntime> container_runtime_;  // guarded by status_mu_
  std::mutex sealed_mu_;
  Documents sealed_;  // the "/#secrets" documents of the last commit; guarded by sealed_mu_
  std::shared_ptr<const WorkloadStatusProvider> workload_status_;  // guarded by status_mu_
  // Long-running operations' status resources (arm/operations.h); thread-safe itself.
  std::unique_ptr<OperationLog> operations_;
};

// The Azure error body {"error":{"code":...,"message":...}}.
Json ErrorBody(const std::string& code, const std::string& message);
// Microsoft Graph's: the same plus "innerError": {"date", "request-id", "client-request-id"}.
Json GraphErrorBody(const std::string& code, const std::string& message, const std::string& date,
                    const std::string& request_id);

}  // namespace cove::arm
