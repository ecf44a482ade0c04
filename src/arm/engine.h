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
// Thread-safety: an Engine and its Txn belong to one request on one thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "arm/cidr.h"
#include "arm/control_plane.h"
#include "arm/resource_path.h"
#include "arm/snapshot.h"

namespace cove::arm {

struct ArmError {
  int status = 400;
  std::string code;
  std::string message;
};
template <typename T>
using ArmResult = tl::expected<T, ArmError>;
using ArmStatus = ArmResult<void>;

inline tl::unexpected<ArmError> ArmFail(int status, std::string code, std::string message) {
  return tl::unexpected<ArmError>(ArmError{status, std::move(code), std::move(message)});
}

#define ARM_TRY(expr)                                                            \
  do {                                                                           \
    auto arm_status_ = (expr);                                                   \
    if (!arm_status_) return tl::unexpected<ArmError>(std::move(arm_status_).error()); \
  } while (0)

#define ARM_ASSIGN(lhs, expr)                                                        \
  auto COVE_CONCAT_(arm_result_, __LINE__) = (expr);                                 \
  if (!COVE_CONCAT_(arm_result_, __LINE__))                                          \
    return tl::unexpected<ArmError>(std::move(COVE_CONCAT_(arm_result_, __LINE__)).error()); \
  lhs = std::move(*COVE_CONCAT_(arm_result_, __LINE__))

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
  ArmResult<std::optional<std::string>> String(const char* key) const;
  ArmResult<std::optional<bool>> Bool(const char* key) const;
  ArmResult<std::optional<int64_t>> Int(const char* key) const;
  ArmResult<Body> Object(const char* key) const;  // absent → !present()
  ArmResult<std::vector<Body>> Array(const char* key, bool* present = nullptr) const;
  ArmResult<std::vector<std::string>> StringArray(const char* key, bool* present = nullptr) const;
  // The value of a string enum, in Azure's casing; fails naming the allowed values.
  ArmResult<std::optional<std::string>> Enum(const char* key,
                                             std::initializer_list<const char*> allowed) const;
  // An {"id": "..."} reference; "" when absent.
  ArmResult<std::string> RefId(const char* key) const;

 private:
  const Json* json_;
  std::string where_;
};

class SecretBox;

class Engine {
 public:
  // `secrets` seals and opens the admin users' passwords; null for read-only requests (an
  // action that needs it then fails with 500).
  Engine(Txn& txn, const ControlPlaneOptions& options, SecretBox* secrets = nullptr)
      : txn_(txn), options_(options), secrets_(secrets) {}
  ArmResult<ArmResponse> Dispatch(const ArmRequest& request);

  // The first subscription on a fresh store; providers registered since an older coved made
  // it; admin passwords for registries made before they existed.
  ArmStatus Bootstrap();

 private:
  // --- generic flows (engine.cc)
  ArmResult<ArmResponse> Subscriptions(const ArmRequest& r, const ArmPath& p);
  ArmResult<ArmResponse> Providers(const ArmRequest& r, const ArmPath& p);
  ArmResult<ArmResponse> ResourceGroups(const ArmRequest& r, const ArmPath& p);
  ArmResult<ArmResponse> Resource(const ArmRequest& r, const ArmPath& p);
  ArmResult<ArmResponse> Collection(const ArmRequest& r, const ArmPath& p);
  ArmStatus PutResource(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeleteResource(const std::string& key);
  ArmStatus DeleteResourceGroup(const std::string& rg_key);
  ArmStatus CheckRegistered(const std::string& subscription_key, const std::string& ns);
  Json Render(const std::string& key) const;
  Json RenderDoc(const Json& doc) const;

  // Common pieces of a new or updated document.
  ArmResult<Json> Envelope(const ArmPath& p, const Json& body, const Json* existing,
                           bool has_location, bool global_location = false);
  std::string IdFor(const ArmPath& p, const Json* existing) const;
  std::string Guid();
  uint32_t NextLinkId();

  // --- Microsoft.Network: VNets, subnets, peerings, NSGs (network.cc)
  ArmStatus PutVnet(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutSubnet(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutPeering(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutNsg(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutSecurityRule(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeleteVnet(const std::string& key);
  ArmStatus DeleteSubnet(const std::string& key);
  ArmStatus DeleteNsg(const std::string& key);
  ArmStatus CheckSubnetPrefix(const std::string& vnet_key, const std::string& subnet_key,
                              const std::string& subnet_name, const Cidr& prefix);
  ArmStatus CheckPeeringOverlap(const std::string& vnet_key, const std::string& remote_key,
                                const std::vector<Cidr>& local_prefixes);
  Json RenderVnet(const Json& doc) const;
  Json RenderSubnet(const Json& doc) const;
  Json RenderPeering(const Json& doc) const;
  Json RenderNsg(const Json& doc) const;
  std::vector<std::string> SubnetUsers(const std::string& subnet_key) const;

  // --- private endpoints, NICs, zone groups (endpoints.cc)
  ArmStatus PutPrivateEndpoint(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutZoneGroup(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeletePrivateEndpoint(const std::string& key);
  ArmStatus DeleteZoneGroup(const std::string& key);
  // Brings an endpoint's NIC members, customDnsConfigs and zone-group records in line with
  // the regions of the registry it connects to.
  ArmStatus SyncEndpoint(const std::string& pe_key);
  ArmStatus SyncZoneGroup(const std::string& group_key, bool remove_only);
  Json RenderPrivateEndpoint(const Json& doc) const;
  Json RenderZoneGroup(const Json& doc) const;

  // --- client machines: user NICs and Microsoft.Compute VMs (compute.cc)
  ArmStatus PutUserNic(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutVm(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeleteVm(const std::string& key);
  // A free address of the public pool (198.51.100.2-99) shared by public VMs and container
  // groups; the one `existing` (the machine being updated) already holds is kept.
  ArmResult<std::string> AllocatePublicIp(const std::string& key, const Json* existing);
  // --- Microsoft.ContainerInstance container groups (containers.cc)
  ArmStatus PutContainerGroup(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeleteContainerGroup(const std::string& key);
  // --- registries (registries.cc)
  ArmStatus PutRegistry(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutReplication(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutConnection(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeleteRegistry(const std::string& key);
  ArmStatus DeleteReplication(const std::string& key);
  ArmStatus DeleteConnection(const std::string& key);
  ArmResult<ArmResponse> CheckNameAvailability(const std::string& body);
  ArmResult<ArmResponse> PrivateLinkResources(const ArmPath& p, bool single);
  Json RenderRegistry(const Json& doc) const;
  std::string FindRegistryKeyByName(const std::string& lower_name) const;
  std::vector<std::string> RegistryRegions(const std::string& registry_key) const;
  std::vector<std::string> EndpointsOf(const std::string& registry_key) const;

  // --- private DNS zones (dns_zones.cc)
  ArmStatus PutZone(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutRecordSet(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus PutVnetLink(const ArmPath& p, const Json& body, const Json* existing);
  Json RenderZone(const Json& doc) const;
  Json RenderRecordSet(const Json& doc) const;

  // --- identities: userAssignedIdentities, role assignments and definitions (identities.cc)
  // `scope` is the raw path before "/providers/Microsoft.Authorization", `rest` the decoded
  // segments after it.
  ArmResult<ArmResponse> Authorization(const ArmRequest& r, const std::string& scope,
                                       const std::vector<std::string>& rest);
  ArmResult<ArmResponse> RoleAssignments(const ArmRequest& r, const std::string& scope_id,
                                         const std::vector<std::string>& rest);
  ArmResult<ArmResponse> RoleDefinitions(const ArmRequest& r, const std::string& scope_id,
                                         const std::vector<std::string>& rest);
  // The canonical id of an existing scope ("" for the tenant root); 404 as ARM answers.
  ArmResult<std::string> ScopeId(const std::string& scope);
  ArmStatus PutIdentity(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeleteIdentity(const std::string& key);
  // The managed-identity block of a machine (a VM or a container group): validates
  // body["identity"], writes doc["identity"] as Azure answers it and doc["_cove"]["systemAssigned"]
  // {principalId, clientId}; a system-assigned principal is made once and kept while
  // SystemAssigned stays. `existing` is the stored machine (null when new). Dropping
  // SystemAssigned deletes the old principal's role assignments.
  ArmStatus ApplyMachineIdentity(const Json& body, const Json* existing, Json& doc);
  // A machine is going away: its system-assigned principal's role assignments go with it.
  void DropMachineIdentity(const std::string& key);

  // --- registry credentials, scope maps and tokens (registry_auth.cc)
  // Makes the admin user's two passwords if the registry has none yet.
  ArmStatus EnsureAdminCredentials(const std::string& registry_key);
  ArmResult<ArmResponse> RegistryAction(const ArmPath& registry, const std::string& action,
                                        const std::string& body);
  ArmResult<ArmResponse> SystemScopeMap(const ArmRequest& r, const ArmPath& p);
  // The three SystemDefined maps of a registry, rendered.
  Json SystemScopeMaps(const std::string& registry_key) const;
  ArmStatus PutScopeMap(const ArmPath& p, const Json& body, const Json* existing);
  ArmStatus DeleteScopeMap(const std::string& key);
  ArmStatus PutToken(const ArmPath& p, const Json& body, const Json* existing);

  Txn& txn_;
  const ControlPlaneOptions& options_;
  SecretBox* secrets_;
};

// A random (version 4) GUID from options.random.
std::string RandomGuid(const ControlPlaneOptions& options);
// "Now" from options.clock (the system clock when null).
Clock::TimePoint NowFrom(const ControlPlaneOptions& options);
// The 404 ResourceNotFound that ARM answers for a missing resource.
ArmError ResourceNotFound(const ArmPath& p);

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
// Key of the resource `levels` levels up (a subnet key → its VNet key with levels = 1).
std::string ParentOfKey(const std::string& key, int levels = 1);
ArmError BadContent(const std::string& where, const std::string& what);
ArmError InvalidReference(const std::string& id, const std::string& referenced_by);
ArmError NameInvalid(const std::string& name, const std::string& type, const std::string& rule);

}  // namespace cove::arm
