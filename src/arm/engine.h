// Engine: the body of the control plane — one request against one transaction (Txn). Internal
// to cove_arm; ControlPlane (control_plane.h) owns locking, persistence and snapshots.
//
// A Txn starts as a copy of the committed documents (cheap: documents are shared pointers) and
// records which keys a request changed. The Engine reads and writes only through it; when a
// rule refuses the request, the Txn is thrown away and nothing changed.
//
// Stored documents are the resource JSON as Azure returns it, minus what is derived on every
// read (a VNet's subnets, a subnet's users, a registry's connections, connection states seen
// from the private endpoint, record counts). Internal bookkeeping lives under "_cove" and is
// never rendered.
//
// Routing and ARM's generic behaviour (api-version, If-Match/If-None-Match, PATCH merge,
// collections, resource-group deletes) are written once here, for every type in the table of
// ResourceProviders (provider.h); what differs per type is in that type's provider. Errors are
// cove::Errors carrying ARM's status and code (errors.h).
//
// Thread-safety: an Engine and its Txn belong to one request on one thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "arm/cidr.h"
#include "arm/control_plane.h"
#include "arm/errors.h"
#include "arm/resource_path.h"
#include "arm/snapshot.h"

namespace cove::arm {

class Txn {
 public:
  explicit Txn(Documents base) : docs_(std::move(base)) {}
  const Json* Get(const std::string& key) const;
  void Put(const std::string& key, Json doc);
  void Erase(const std::string& key);
  // Erases `key` and every key below it ("key/...").
  void EraseTree(const std::string& key);
  std::vector<std::string> KeysWithPrefix(const std::string& prefix) const;
  // Keys exactly one level below: "<parent>/<type>/<name>".
  std::vector<std::string> Children(const std::string& parent, const std::string& type) const;
  const Documents& documents() const { return docs_; }
  bool changed() const { return !touched_.empty(); }
  std::vector<std::pair<std::string, std::optional<std::string>>> Changes() const;

 private:
  Documents docs_;
  std::set<std::string> touched_;
};

// What a request reads from its body; every accessor names the JSON path when the type is
// wrong (InvalidRequestContent).
class Body {
 public:
  Body(const Json* json, std::string where) : json_(json), where_(std::move(where)) {}
  bool present() const { return json_ != nullptr && !json_->is_null(); }
  const Json* json() const { return json_; }
  const std::string& where() const { return where_; }
  Result<std::optional<std::string>> String(const char* key) const;
  Result<std::optional<bool>> Bool(const char* key) const;
  Result<std::optional<int64_t>> Int(const char* key) const;
  Result<Body> Object(const char* key) const;  // absent → !present()
  Result<std::vector<Body>> Array(const char* key, bool* present = nullptr) const;
  Result<std::vector<std::string>> StringArray(const char* key, bool* present = nullptr) const;
  // The value of a string enum, in Azure's casing; fails naming the allowed values.
  Result<std::optional<std::string>> Enum(const char* key,
                                          std::initializer_list<const char*> allowed) const;
  // An {"id": "..."} reference; "" when absent.
  Result<std::string> RefId(const char* key) const;

 private:
  const Json* json_;
  std::string where_;
};

class SecretBox;
class ProviderRegistry;

class Engine {
 public:
  // `secrets` seals and opens the admin users' passwords; null for read-only requests (an
  // action that needs it then fails with 500).
  Engine(Txn& txn, const ControlPlaneOptions& options, SecretBox* secrets = nullptr)
      : txn_(txn), options_(options), secrets_(secrets) {}
  Result<ArmResponse> Dispatch(const ArmRequest& request);

  // The first subscription on a fresh store; providers registered since an older coved made
  // it; admin passwords for registries made before they existed.
  Status Bootstrap();

  // --- what a provider written as free functions works with (provider.h): the request's
  // transaction and options, the rendered form of a stored resource, and the common pieces of
  // a new or updated document.
  Txn& txn() { return txn_; }
  const Txn& txn() const { return txn_; }
  const ControlPlaneOptions& options() const { return options_; }
  SecretBox* secrets() const { return secrets_; }
  // Where replications' status comes from (control_plane.h); null: none. Must outlive the
  // engine.
  void set_replication_status(const ReplicationStatusProvider* provider) {
    replication_status_ = provider;
  }
  // The data plane's report on `region` of `registry_name` (both lowercase); nullopt without a
  // provider or a report.
  std::optional<ReplicationStatus> ReplicationStatusOf(const std::string& registry_name,
                                                       const std::string& region) const;
  // Where listUsages' Size comes from (control_plane.h); null: none. Must outlive the engine.
  void set_registry_usage(const RegistryUsageProvider* provider) { registry_usage_ = provider; }
  // Where connections' connectionStatus comes from (control_plane.h); null: none. Must outlive
  // the engine.
  void set_connection_status(const ConnectionStatusProvider* provider) {
    connection_status_ = provider;
  }
  // The data plane's report on the connection `connection_id` (as stored); "Unknown" with no
  // bytes without a provider or a report.
  ConnectionStatus ConnectionStatusOf(const std::string& connection_id) const;
  // Where container groups' live state comes from (control_plane.h); null: none. Must outlive
  // the engine.
  void set_container_runtime(const ContainerGroupRuntime* runtime) { container_runtime_ = runtime; }
  const ContainerGroupRuntime* container_runtime() const { return container_runtime_; }
  // The request being dispatched (set by Dispatch for its duration); null outside it.
  const ArmRequest* request() const { return request_; }
  // Where deployments' properties.status comes from (control_plane.h); null: none. Must
  // outlive the engine.
  void set_workload_status(const WorkloadStatusProvider* provider) { workload_status_ = provider; }
  // The data plane's status of the deployment `deployment_id`; nullopt without a provider or
  // a report.
  std::optional<Json> WorkloadStatusOf(const std::string& deployment_id) const {
    if (workload_status_ == nullptr || !*workload_status_) return std::nullopt;
    return (*workload_status_)(deployment_id);
  }
  Json Render(const std::string& key) const;
  Json RenderDoc(const Json& doc) const;
  // id, name, type, location (by `has_location`/`global_location`), tags, properties,
  // provisioningState and a fresh etag, on top of `existing` when there is one.
  Result<Json> Envelope(const ArmPath& p, const Json& body, const Json* existing, bool has_location,
                        bool global_location = false);
  std::string Guid();
  uint32_t NextLinkId();
  // The ids of what occupies the subnet `subnet_key`: NIC ipConfigurations (private endpoints'
  // and users'), and what the providers' subnet_users hooks name (network.cc).
  std::vector<std::string> SubnetUsers(const std::string& subnet_key) const;

 private:
  // The resource files register their providers (provider.h), which call the per-type members
  // below.
  friend void RegisterNetworkProviders(ProviderRegistry&);
  friend void RegisterEndpointProviders(ProviderRegistry&);
  friend void RegisterComputeProviders(ProviderRegistry&);
  friend void RegisterContainerProviders(ProviderRegistry&);
  friend void RegisterRegistryProviders(ProviderRegistry&);
  friend void RegisterRegistryAuthProviders(ProviderRegistry&);
  friend void RegisterDnsZoneProviders(ProviderRegistry&);
  friend void RegisterIdentityProviders(ProviderRegistry&);

  // --- generic flows (engine.cc): every resource type through its ResourceProvider
  Result<ArmResponse> Subscriptions(const ArmRequest& r, const ArmPath& p);
  Result<ArmResponse> Providers(const ArmRequest& r, const ArmPath& p);
  Result<ArmResponse> ResourceGroups(const ArmRequest& r, const ArmPath& p);
  Result<ArmResponse> Resource(const ArmRequest& r, const ArmPath& p);
  Result<ArmResponse> Collection(const ArmRequest& r, const ArmPath& p);
  Status PutResource(const ArmPath& p, const Json& body, const Json* existing);
  Status DeleteResource(const std::string& key);
  Status DeleteResourceGroup(const std::string& rg_key);
  Status CheckRegistered(const std::string& subscription_key, const std::string& ns);
  std::string IdFor(const ArmPath& p, const Json* existing) const;

  // --- Microsoft.Network: VNets, subnets, peerings, NSGs (network.cc)
  Status PutVnet(const ArmPath& p, const Json& body, const Json* existing);
  Status PutSubnet(const ArmPath& p, const Json& body, const Json* existing);
  Status PutPeering(const ArmPath& p, const Json& body, const Json* existing);
  Status PutNsg(const ArmPath& p, const Json& body, const Json* existing);
  Status PutSecurityRule(const ArmPath& p, const Json& body, const Json* existing);
  Status DeleteVnet(const std::string& key);
  Status DeleteSubnet(const std::string& key);
  Status DeleteNsg(const std::string& key);
  Status CheckSubnetPrefix(const std::string& vnet_key, const std::string& subnet_key,
                           const std::string& subnet_name, const Cidr& prefix);
  Status CheckPeeringOverlap(const std::string& vnet_key, const std::string& remote_key,
                             const std::vector<Cidr>& local_prefixes);
  Json RenderVnet(const Json& doc) const;
  Json RenderSubnet(const Json& doc) const;
  Json RenderPeering(const Json& doc) const;
  Json RenderNsg(const Json& doc) const;

  // --- private endpoints, NICs, zone groups (endpoints.cc)
  Status PutPrivateEndpoint(const ArmPath& p, const Json& body, const Json* existing);
  Status PutZoneGroup(const ArmPath& p, const Json& body, const Json* existing);
  Status DeletePrivateEndpoint(const std::string& key);
  Status DeleteZoneGroup(const std::string& key);
  // Brings an endpoint's NIC members, customDnsConfigs and zone-group records in line with
  // the regions of the registry it connects to.
  Status SyncEndpoint(const std::string& pe_key);
  Status SyncZoneGroup(const std::string& group_key, bool remove_only);
  Json RenderPrivateEndpoint(const Json& doc) const;
  Json RenderZoneGroup(const Json& doc) const;

  // --- client machines: user NICs and Microsoft.Compute VMs (compute.cc)
  // A NIC: a user's (PutUserNic), or a private endpoint's, whose tags only may change.
  Status PutNic(const ArmPath& p, const Json& body, const Json* existing);
  Status PutUserNic(const ArmPath& p, const Json& body, const Json* existing);
  // Refuses a NIC a VM or a private endpoint uses; erases it otherwise.
  Status DeleteNic(const std::string& key);
  Status PutVm(const ArmPath& p, const Json& body, const Json* existing);
  Status DeleteVm(const std::string& key);
  // A free address of the public pool (198.51.100.2-99) shared by public VMs and container
  // groups; the one `existing` (the machine being updated) already holds is kept.
  Result<std::string> AllocatePublicIp(const std::string& key, const Json* existing);
  // --- Microsoft.ContainerInstance container groups (containers.cc)
  Status PutContainerGroup(const ArmPath& p, const Json& body, const Json* existing);
  Status DeleteContainerGroup(const std::string& key);
  // --- registries (registries.cc)
  Status PutRegistry(const ArmPath& p, const Json& body, const Json* existing);
  Status PutReplication(const ArmPath& p, const Json& body, const Json* existing);
  Status PutConnection(const ArmPath& p, const Json& body, const Json* existing);
  Status DeleteRegistry(const std::string& key);
  Status DeleteReplication(const std::string& key);
  Status DeleteConnection(const std::string& key);
  Result<ArmResponse> CheckNameAvailability(const std::string& body);
  Result<ArmResponse> PrivateLinkResources(const ArmPath& p, bool single);
  Json RenderRegistry(const Json& doc) const;
  std::string FindRegistryKeyByName(const std::string& lower_name) const;
  std::vector<std::string> RegistryRegions(const std::string& registry_key) const;
  std::vector<std::string> EndpointsOf(const std::string& registry_key) const;

  // --- private DNS zones (dns_zones.cc)
  Status PutZone(const ArmPath& p, const Json& body, const Json* existing);
  Status PutRecordSet(const ArmPath& p, const Json& body, const Json* existing);
  Status PutVnetLink(const ArmPath& p, const Json& body, const Json* existing);
  Json RenderZone(const Json& doc) const;
  Json RenderRecordSet(const Json& doc) const;

  // --- identities: userAssignedIdentities, role assignments and definitions (identities.cc)
  // `scope` is the raw path before "/providers/Microsoft.Authorization", `rest` the decoded
  // segments after it.
  Result<ArmResponse> Authorization(const ArmRequest& r, const std::string& scope,
                                    const std::vector<std::string>& rest);
  Result<ArmResponse> RoleAssignments(const ArmRequest& r, const std::string& scope_id,
                                      const std::vector<std::string>& rest);
  Result<ArmResponse> RoleDefinitions(const ArmRequest& r, const std::string& scope_id,
                                      const std::vector<std::string>& rest);
  // The canonical id of an existing scope ("" for the tenant root); 404 as ARM answers.
  Result<std::string> ScopeId(const std::string& scope);
  Status PutIdentity(const ArmPath& p, const Json& body, const Json* existing);
  Status DeleteIdentity(const std::string& key);
  // The managed-identity block of a machine (a VM or a container group): validates
  // body["identity"], writes doc["identity"] as Azure answers it and doc["_cove"]["systemAssigned"]
  // {principalId, clientId}; a system-assigned principal is made once and kept while
  // SystemAssigned stays. `existing` is the stored machine (null when new). Dropping
  // SystemAssigned deletes the old principal's role assignments.
  Status ApplyMachineIdentity(const Json& body, const Json* existing, Json& doc);
  // A machine is going away: its system-assigned principal's role assignments go with it.
  void DropMachineIdentity(const std::string& key);

  // --- registry credentials, scope maps and tokens (registry_auth.cc)
  // Makes the admin user's two passwords if the registry has none yet.
  Status EnsureAdminCredentials(const std::string& registry_key);
  Result<ArmResponse> RegistryAction(const ArmPath& registry, const std::string& action,
                                     const std::string& body);
  // RegistryAction for the actions it serves; nullopt for any other.
  std::optional<Result<ArmResponse>> RegistryActions(const ArmPath& registry,
                                                     const std::string& action,
                                                     const std::string& body);
  // SystemScopeMap for the SystemDefined names; nullopt for any other scope map.
  std::optional<Result<ArmResponse>> InterceptSystemScopeMap(const ArmRequest& r, const ArmPath& p);
  Result<ArmResponse> SystemScopeMap(const ArmRequest& r, const ArmPath& p);
  // The three SystemDefined maps of a registry, rendered.
  Json SystemScopeMaps(const std::string& registry_key) const;
  // GET .../registries/{r}/listUsages (registries.cc).
  Result<ArmResponse> ListUsages(const ArmPath& p, bool single);
  Status PutScopeMap(const ArmPath& p, const Json& body, const Json* existing);
  Status DeleteScopeMap(const std::string& key);
  Status PutToken(const ArmPath& p, const Json& body, const Json* existing);

  Txn& txn_;
  const ControlPlaneOptions& options_;
  SecretBox* secrets_;
  const ReplicationStatusProvider* replication_status_ = nullptr;
  const RegistryUsageProvider* registry_usage_ = nullptr;
  const ConnectionStatusProvider* connection_status_ = nullptr;
  const ContainerGroupRuntime* container_runtime_ = nullptr;
  const ArmRequest* request_ = nullptr;
  const WorkloadStatusProvider* workload_status_ = nullptr;
};

// EngineFn<&Engine::PutVnet>: an Engine member as the plain function a ResourceProvider holds
// (the engine comes first). Used by the Register*Providers functions, which are friends.
template <auto kMember>
struct EngineMember;
template <typename R, typename... A, R (Engine::*kMember)(A...)>
struct EngineMember<kMember> {
  static R Call(Engine& engine, A... args) { return (engine.*kMember)(std::forward<A>(args)...); }
};
template <typename R, typename... A, R (Engine::*kMember)(A...) const>
struct EngineMember<kMember> {
  static R Call(const Engine& engine, A... args) {
    return (engine.*kMember)(std::forward<A>(args)...);
  }
};
template <auto kMember>
inline constexpr auto EngineFn = &EngineMember<kMember>::Call;

// A random (version 4) GUID from options.random.
std::string RandomGuid(const ControlPlaneOptions& options);
// "Now" from options.clock (the system clock when null).
Clock::TimePoint NowFrom(const ControlPlaneOptions& options);
// The 404 ResourceNotFound that ARM answers for a missing resource.
Error ResourceNotFound(const ArmPath& p);

// Who a principal id (an object id) names in the directory: a user, a service principal, or a
// managed identity's principalId. type is ARM's principalType (User | ServicePrincipal).
struct PrincipalRef {
  std::string id;
  std::string type;
};
std::optional<PrincipalRef> FindPrincipal(const Txn& txn, std::string_view object_id);
// The system-assigned principal of a stored machine document: {principalId, clientId}, or null.
const Json* SystemAssignedOf(const Json& machine);
// Deletes every role assignment of `principal_id` (at any scope).
void DeleteRoleAssignmentsOf(Txn& txn, std::string_view principal_id);
// True for _repositories_admin, _repositories_pull, _repositories_push (any casing).
bool IsSystemScopeMapName(std::string_view name);

// Shared helpers.
std::string NormalizeLocation(std::string_view location);
bool IsValidNetworkName(std::string_view name);  // Microsoft.Network naming rule
bool IsValidDnsName(std::string_view name, int min_labels);
std::string LastSegment(const std::string& id);
// The keys of every stored document of `type` (any casing), in key order (network.cc).
std::vector<std::string> KeysOfType(const Txn& txn, std::string_view type);
// The keys of the virtual network gateways in the VNet `vnet_key` (gateways.cc).
std::vector<std::string> GatewaysInVnet(const Txn& txn, const std::string& vnet_key);
// An address prefix of resource `resource_id`: InvalidAddressPrefixFormat when it is not CIDR,
// InvalidCIDRNotation when host bits are set (network.cc).
Result<Cidr> ParseAddressPrefix(const std::string& text, const std::string& resource_id);
// Key of the resource `levels` levels up (a subnet key → its VNet key with levels = 1).
std::string ParentOfKey(const std::string& key, int levels = 1);
// The regions ACR offers (replications, registry_data_<region> members): Azure's public regions
// as `az account list-locations` names them (registries.cc).
const std::vector<std::string>& AcrRegions();
bool IsAcrRegion(const std::string& region);
Error BadContent(const std::string& where, const std::string& what);
Error InvalidReference(const std::string& id, const std::string& referenced_by);
Error NameInvalid(const std::string& name, const std::string& type, const std::string& rule);

}  // namespace cove::arm
