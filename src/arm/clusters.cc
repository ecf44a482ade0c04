// AKS (issue 16): Microsoft.ContainerService/managedClusters with their agent pools, and cove's
// own workload resource Cove.Kubernetes/deployments.
//
// managedClusters  PUT .../providers/Microsoft.ContainerService/managedClusters/{c}
//   {"location", "identity"?: {"type": "SystemAssigned" (default) | "UserAssigned",
//    "userAssignedIdentities"?: {id: {}}}, "properties": {"kubernetesVersion"?, "dnsPrefix"?,
//    "agentPoolProfiles": [{"name", "count", "vmSize", "osType", "mode": "System"|"User",
//    "vnetSubnetID", "type": "VirtualMachineScaleSets", "maxPods"?}], "networkProfile"?}}
//   cove makes no managed virtual network: every pool's vnetSubnetID is REQUIRED (400
//   InvalidParameter naming agentPoolProfile.vnetSubnetID otherwise). The answer has Azure's
//   shape: provisioningState, powerState {"code": "Running"}, fqdn
//   <dnsPrefix>-<8 hex>.hcp.<location>.azmk8s.io, nodeResourceGroup MC_<rg>_<cluster>_<location>,
//   identityProfile.kubeletidentity {resourceId, clientId, objectId} and agentPoolProfiles
//   (rendered from the agent pools, without their nodes). The node resource group is made with
//   managedBy = the cluster's id and holds the kubelet identity, a real user-assigned identity
//   "<cluster>-agentpool" (identities.cc: principal, client id, IMDS tokens), and one NIC per
//   node. Deleting the cluster deletes its deployments, the kubelet identity (and its role
//   assignments), the node resource group and the agent pools.
// agentPools       PUT/GET/DELETE .../managedClusters/{c}/agentPools/{p} {"properties": {the
//   profile's fields but name}}. A PUT of the cluster with agentPoolProfiles writes the pools it
//   names (others are kept). The last System pool can be neither deleted (OperationNotAllowed)
//   nor scaled to 0 (InvalidParameter agentPoolProfile.count); vnetSubnetID and vmSize are fixed
//   at creation (PropertyChangeNotAllowed).
// Nodes: a pool of count N has N nodes named as AKS names its VMSS instances,
//   aks-<pool>-<8 digits, stable per cluster>-vmss<index in base 36, 6 digits>, index from 0.
//   Each takes the lowest free address of the pool's subnet from .4 through a NIC
//   "<node>-nic" in the node resource group (so NICs, private endpoints and nodes never share an
//   address, and the subnet lists the node as a user). Scaling down removes the highest
//   indexes. WHERE NODES ARE RENDERED: the agent pool's properties.cove.nodes
//   [{"name", "privateIpAddress", "machineId"}] (GET .../agentPools/{p}; not in the cluster's
//   agentPoolProfiles). In the snapshot they are MachineViews of kind kClusterNode with id
//   <node resource group>/providers/Microsoft.Compute/virtualMachineScaleSets/<vmss>/
//   virtualMachines/<index> and the kubelet identity as their one user-assigned identity.
//   Errors as AKS answers them: InvalidParameter (names, counts, sizes), SubnetIsDelegated,
//   InsufficientSubnetSize (more nodes than free addresses), OperationNotAllowed.
//
// deployments      PUT .../providers/Cove.Kubernetes/deployments/{d}
//   {"location"? (default: the cluster's), "properties": {"clusterId", "replicas"? (0-100,
//    default 1), "containers": [{"name", "image", "command"?: [..], "args"?: [..], "env"?:
//    [{"name", "value"}]}]}}
//   clusterId must name an existing cluster of the same subscription; container names follow
//   ACI's rule and images docker's syntax (container_names.h). properties.status is rendered on
//   every read from the WorkloadStatusProvider (control_plane.h), or {"replicas": N,
//   "readyReplicas": 0, "pods": []} without one.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "arm/container_names.h"
#include "arm/engine.h"
#include "arm/onprem_support.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

constexpr char kClusterType[] = "Microsoft.ContainerService/managedClusters";
constexpr char kPoolType[] = "Microsoft.ContainerService/managedClusters/agentPools";
constexpr char kDeploymentType[] = "Cove.Kubernetes/deployments";
constexpr char kIdentityType[] = "Microsoft.ManagedIdentity/userAssignedIdentities";
constexpr char kNicType[] = "Microsoft.Network/networkInterfaces";
constexpr char kDefaultVersion[] = "1.30.6";
constexpr int kMaxCount = 1000;
constexpr int kMaxReplicas = 100;

uint64_t Fnv1a(std::string_view s, uint64_t seed = 1469598103934665603ULL) {
  uint64_t h = seed;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// The 8 digits of the cluster's VMSS names, stable per cluster id.
std::string NodeNumber(const std::string& cluster_id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08llu",
                static_cast<unsigned long long>(Fnv1a(Lower(cluster_id)) % 100000000ULL));
  return buf;
}

std::string Base36(int i) {
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s(6, '0');
  for (int k = 5; k >= 0 && i > 0; --k, i /= 36) s[k] = digits[i % 36];
  return s;
}

Error InvalidParameter(const std::string& field, const std::string& detail = "") {
  return ArmErrorOf(400, "InvalidParameter",
                    "The value of parameter " + field + " is invalid." +
                        (detail.empty() ? "" : " " + detail) +
                        " Please see https://aka.ms/aks-naming-rules for more details.");
}

// AKS's rules: clusters 1-63 letters, digits, '-' and '_', starting and ending with a letter or
// digit; Linux pools 1-12 lowercase letters and digits, starting with a letter.
bool IsValidClusterName(std::string_view n) {
  if (n.empty() || n.size() > 63 || !std::isalnum(static_cast<unsigned char>(n.front())) ||
      !std::isalnum(static_cast<unsigned char>(n.back()))) {
    return false;
  }
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

bool IsValidPoolName(std::string_view n) {
  if (n.empty() || n.size() > 12 || !std::islower(static_cast<unsigned char>(n.front()))) {
    return false;
  }
  for (char c : n) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

bool IsValidDnsPrefix(std::string_view n) {
  if (n.empty() || n.size() > 54 || !std::isalnum(static_cast<unsigned char>(n.front())) ||
      !std::isalnum(static_cast<unsigned char>(n.back()))) {
    return false;
  }
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

// The stored cluster's node resource group id ("" when it has none).
std::string NodeGroupIdOf(const Json& cluster) { return Str(Cove(cluster, "nodes"), "groupId"); }

// Addresses of every NIC's ipConfigurations in `subnet_key` (as compute.cc counts them).
std::set<uint32_t> UsedAddresses(const Txn& txn, const std::string& subnet_key) {
  std::set<uint32_t> used;
  for (const auto& k : KeysOfType(txn, kNicType)) {
    for (const auto& ipc : Field(Field(*txn.Get(k), "properties"), "ipConfigurations")) {
      const Json& pr = Field(ipc, "properties");
      if (Lower(Str(Field(pr, "subnet"), "id")) != subnet_key) continue;
      if (auto ip = ParseIpv4(Str(pr, "privateIPAddress"))) used.insert(*ip);
    }
  }
  return used;
}

// The stored pool's nodes (with their ids, NICs and indexes), from "_cove".
const Json& StoredNodes(const Json& pool) { return Cove(pool, "nodes"); }

// Validates the profile `b` of pool `req.name` of the cluster `cluster` (stored at
// `cluster_key`, already in the txn) and writes the pool, its nodes and their NICs.
// `existing` is the stored pool; `default_mode` the mode when none is given.
Status ApplyPool(Engine& engine, const ArmPath& cluster_path, const Json& cluster,
                 const std::string& pool_name, const Body& b, const Json* existing,
                 const char* default_mode) {
  Txn& txn = engine.txn();
  const std::string f = "agentPoolProfile";
  if (existing == nullptr && !IsValidPoolName(pool_name)) {
    return tl::unexpected(InvalidParameter(
        f + ".name", "Agent pool name '" + pool_name +
                         "' must start with a lowercase letter and hold 1-12 lowercase letters "
                         "and digits."));
  }
  const Json old_props = existing != nullptr ? Field(*existing, "properties") : Json::object();
  COVE_ASSIGN_OR_RETURN(auto count, b.Int("count"));
  COVE_ASSIGN_OR_RETURN(auto vm_size, b.String("vmSize"));
  COVE_ASSIGN_OR_RETURN(auto os_type, b.Enum("osType", {"Linux", "Windows"}));
  COVE_ASSIGN_OR_RETURN(auto mode, b.Enum("mode", {"System", "User", "Gateway"}));
  COVE_ASSIGN_OR_RETURN(
      auto type, b.Enum("type", {"VirtualMachineScaleSets", "AvailabilitySet", "VirtualMachines"}));
  COVE_ASSIGN_OR_RETURN(auto max_pods, b.Int("maxPods"));
  COVE_ASSIGN_OR_RETURN(auto subnet_id, b.String("vnetSubnetID"));
  COVE_ASSIGN_OR_RETURN(auto version, b.String("orchestratorVersion"));
  if (!subnet_id && existing != nullptr) subnet_id = Str(old_props, "vnetSubnetID");
  int n = static_cast<int>(count.value_or(IntField(old_props, "count", 1)));
  std::string m = mode.value_or(existing != nullptr ? Str(old_props, "mode") : default_mode);
  std::string size =
      vm_size.value_or(existing != nullptr ? Str(old_props, "vmSize") : "Standard_DS2_v2");
  if (n < 0 || n > kMaxCount || (m == "System" && n == 0)) {
    return tl::unexpected(InvalidParameter(
        f + ".count", m == "System" && n == 0 ? "A System agent pool must have at least one node."
                                              : "count must be in 0-1000."));
  }
  if (os_type.value_or("Linux") != "Linux") {
    return tl::unexpected(
        InvalidParameter(f + ".osType", "cove runs Linux nodes only (osType 'Linux')."));
  }
  if (m == "Gateway") {
    return tl::unexpected(InvalidParameter(f + ".mode", "cove runs System and User pools only."));
  }
  if (type.value_or("VirtualMachineScaleSets") != "VirtualMachineScaleSets") {
    return tl::unexpected(InvalidParameter(
        f + ".type", "cove runs agent pools of type 'VirtualMachineScaleSets' only."));
  }
  if (max_pods && (*max_pods < 10 || *max_pods > 250)) {
    return tl::unexpected(InvalidParameter(f + ".maxPods", "maxPods must be in 10-250."));
  }
  if (existing != nullptr) {
    for (const auto& [field, now] :
         {std::pair<std::string, std::string>{"vnetSubnetID", subnet_id.value_or("")},
          {"vmSize", size}}) {
      if (!EqualsIgnoreCase(now, Str(old_props, field.c_str()))) {
        return ArmFail(400, "PropertyChangeNotAllowed",
                       "Changing property '" + f + "." + field + "' is not allowed.");
      }
    }
  }
  // --- the subnet (required: cove makes no managed virtual network)
  if (!subnet_id || subnet_id->empty()) {
    return tl::unexpected(InvalidParameter(
        f + ".vnetSubnetID",
        "cove requires vnetSubnetID on every agent pool: it makes no managed virtual network. "
        "Give the id of an existing subnet (az aks create --vnet-subnet-id)."));
  }
  auto subnet_path = ParseResourceId(*subnet_id);
  const Json* subnet = subnet_path ? txn.Get(subnet_path->Key()) : nullptr;
  if (subnet == nullptr ||
      !EqualsIgnoreCase(subnet->value("type", ""), "Microsoft.Network/virtualNetworks/subnets")) {
    return tl::unexpected(
        InvalidParameter(f + ".vnetSubnetID", "The subnet '" + *subnet_id + "' was not found."));
  }
  if (!Field(Field(*subnet, "properties"), "delegations").empty()) {
    return ArmFail(400, "SubnetIsDelegated",
                   "AgentPoolProfile.VnetSubnetID " + subnet->value("id", "") +
                       " cannot be used as it's a delegated subnet. Please check "
                       "https://aka.ms/adv-network-prerequest for more details.");
  }
  const std::string subnet_key = subnet_path->Key();
  const std::string subnet_full = subnet->value("id", *subnet_id);
  auto cidr = ParseCidr(Str(Field(*subnet, "properties"), "addressPrefix")).cidr;
  if (!cidr)
    return tl::unexpected(InvalidParameter(f + ".vnetSubnetID", "The subnet has no prefix."));

  // --- nodes: keep indexes below n, remove the rest, add the missing ones
  const std::string cluster_id = cluster.value("id", "");
  const std::string group_id = NodeGroupIdOf(cluster);
  const std::string number = Str(Cove(cluster, "nodes"), "number");
  const std::string vmss = "aks-" + pool_name + "-" + number + "-vmss";
  const Json old_nodes = existing != nullptr ? StoredNodes(*existing) : Json::array();
  Json nodes = Json::array();
  for (const auto& node : old_nodes) {
    int index = static_cast<int>(IntField(node, "index", 0));
    std::string nic_key = Lower(Str(node, "nicId"));
    if (index < n) {
      nodes.push_back(node);
    } else {
      txn.Erase(nic_key);
    }
  }
  auto used = UsedAddresses(txn, subnet_key);
  int missing = n - static_cast<int>(nodes.size());
  int64_t capacity = static_cast<int64_t>(cidr->Last()) - (cidr->First() + 4);
  int64_t available = capacity - static_cast<int64_t>(used.size());
  if (missing > 0 && missing > available) {
    return ArmFail(400, "InsufficientSubnetSize",
                   "Pre-allocated IPs " + std::to_string(missing) + " exceeds IPs available " +
                       std::to_string(std::max<int64_t>(available, 0)) + " in Subnet Cidr " +
                       cidr->ToString() + ", Subnet Name " + subnet->value("name", "") +
                       ". http://aka.ms/aks/insufficientsubnetsize");
  }
  const std::string location = cluster.value("location", "");
  for (int i = 0; i < n; ++i) {
    bool have = false;
    for (const auto& node : nodes) have = have || IntField(node, "index", -1) == i;
    if (have) continue;
    uint32_t ip = 0;
    for (uint32_t a = cidr->First() + 4; ip == 0 && a < cidr->Last(); ++a) {
      if (!used.count(a)) ip = a;
    }
    used.insert(ip);
    std::string name = vmss + Base36(i);
    std::string node_id = group_id + "/providers/Microsoft.Compute/virtualMachineScaleSets/" +
                          vmss + "/virtualMachines/" + std::to_string(i);
    std::string nic_id =
        group_id + "/providers/Microsoft.Network/networkInterfaces/" + name + "-nic";
    Json nic = {{"id", nic_id},
                {"name", name + "-nic"},
                {"type", kNicType},
                {"location", location},
                {"tags", Json::object()},
                {"properties",
                 {{"provisioningState", "Succeeded"},
                  {"resourceGuid", engine.Guid()},
                  {"ipConfigurations",
                   Json::array({{{"id", nic_id + "/ipConfigurations/ipconfig1"},
                                 {"name", "ipconfig1"},
                                 {"type", "Microsoft.Network/networkInterfaces/ipConfigurations"},
                                 {"properties",
                                  {{"provisioningState", "Succeeded"},
                                   {"privateIPAddress", FormatIpv4(ip)},
                                   {"privateIPAllocationMethod", "Dynamic"},
                                   {"privateIPAddressVersion", "IPv4"},
                                   {"primary", true},
                                   {"subnet", {{"id", subnet_full}}}}}}})},
                  // The node "uses" it: a user cannot delete it (NicInUse) or give it to a VM.
                  {"virtualMachine", {{"id", node_id}}}}},
                {"etag", "W/\"" + engine.Guid() + "\""},
                {"_cove", {{"clusterNode", node_id}}}};
    txn.Put(Lower(nic_id), nic);
    nodes.push_back({{"name", name},
                     {"index", i},
                     {"privateIpAddress", FormatIpv4(ip)},
                     {"machineId", engine.Guid()},
                     {"id", node_id},
                     {"nicId", nic_id}});
  }
  std::sort(nodes.begin(), nodes.end(), [](const Json& a, const Json& b) {
    return IntField(a, "index", 0) < IntField(b, "index", 0);
  });

  // --- the pool document
  ArmPath pool_path = cluster_path;
  pool_path.kind = PathKind::kResource;
  pool_path.types.push_back("agentPools");
  pool_path.names.push_back(pool_name);
  Json envelope_body = Json::object();
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(pool_path, envelope_body, existing, false));
  Json& dp = doc["properties"];
  dp["count"] = n;
  dp["vmSize"] = size;
  dp["osType"] = "Linux";
  dp["osSKU"] = "Ubuntu";
  dp["mode"] = m;
  dp["type"] = "VirtualMachineScaleSets";
  dp["maxPods"] = max_pods.value_or(IntField(old_props, "maxPods", 30));
  dp["vnetSubnetID"] = subnet_full;
  std::string cluster_version = Str(Field(cluster, "properties"), "kubernetesVersion");
  dp["orchestratorVersion"] = version.value_or(
      existing != nullptr ? Str(old_props, "orchestratorVersion") : cluster_version);
  dp["currentOrchestratorVersion"] = dp["orchestratorVersion"];
  dp["powerState"] = {{"code", "Running"}};
  dp["provisioningState"] = "Succeeded";
  Json rendered_nodes = Json::array();
  for (const auto& node : nodes) {
    rendered_nodes.push_back({{"name", node["name"]},
                              {"privateIpAddress", node["privateIpAddress"]},
                              {"machineId", node["machineId"]}});
  }
  dp["cove"] = {{"nodes", rendered_nodes}};
  doc["_cove"] = {{"nodes", nodes}};
  txn.Put(pool_path.Key(), doc);
  return {};
}

void ErasePoolNodes(Txn& txn, const Json& pool) {
  for (const auto& node : StoredNodes(pool)) txn.Erase(Lower(Str(node, "nicId")));
}

int SystemPools(const Txn& txn, const std::string& cluster_key, const std::string& except_key) {
  int n = 0;
  for (const auto& k : txn.Children(cluster_key, "agentpools")) {
    if (k != except_key && Str(Field(*txn.Get(k), "properties"), "mode") == "System") ++n;
  }
  return n;
}

Status PutCluster(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  Txn& txn = engine.txn();
  const std::string& name = p.names.back();
  if (existing == nullptr && !IsValidClusterName(name)) {
    return tl::unexpected(NameInvalid(name, kClusterType,
                                      "Names are 1-63 letters, digits, '-' or '_', starting and "
                                      "ending with a letter or digit."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  if (!props.present()) return tl::unexpected(BadContent("properties", "is required"));
  const Json old_props = existing != nullptr ? Field(*existing, "properties") : Json::object();
  const std::string location = doc.value("location", "");
  const std::string cluster_id = doc.value("id", "");

  // --- identity: SystemAssigned (default) or one UserAssigned
  COVE_ASSIGN_OR_RETURN(Body identity, b.Object("identity"));
  COVE_ASSIGN_OR_RETURN(auto id_type, identity.Enum("type", {"SystemAssigned", "UserAssigned"}));
  Json out_identity;
  if (id_type.value_or("SystemAssigned") == "UserAssigned") {
    const Json* assigned = identity.json() != nullptr && identity.json()->is_object() &&
                                   identity.json()->contains("userAssignedIdentities")
                               ? &(*identity.json())["userAssignedIdentities"]
                               : nullptr;
    if (assigned == nullptr || !assigned->is_object() || assigned->size() != 1) {
      return tl::unexpected(InvalidParameter("identity.userAssignedIdentities",
                                             "A UserAssigned cluster names exactly one identity."));
    }
    std::string uid = assigned->begin().key();
    auto up = ParseResourceId(uid);
    const Json* u = up ? txn.Get(up->Key()) : nullptr;
    if (u == nullptr || !EqualsIgnoreCase(u->value("type", ""), kIdentityType)) {
      return tl::unexpected(InvalidParameter("identity.userAssignedIdentities",
                                             "The identity '" + uid + "' was not found."));
    }
    const Json& up_props = Field(*u, "properties");
    out_identity = {{"type", "UserAssigned"},
                    {"userAssignedIdentities",
                     {{u->value("id", uid),
                       {{"principalId", Str(up_props, "principalId")},
                        {"clientId", Str(up_props, "clientId")}}}}}};
  } else {
    const Json& old_identity = existing != nullptr ? Field(*existing, "identity") : Json::object();
    std::string principal = Str(old_identity, "principalId");
    if (principal.empty()) principal = engine.Guid();
    out_identity = {{"type", "SystemAssigned"},
                    {"principalId", principal},
                    {"tenantId", "c0ffee00-0000-4000-8000-0000000000ff"}};
  }
  doc["identity"] = out_identity;

  // --- properties
  COVE_ASSIGN_OR_RETURN(auto version, props.String("kubernetesVersion"));
  COVE_ASSIGN_OR_RETURN(auto dns_prefix, props.String("dnsPrefix"));
  COVE_ASSIGN_OR_RETURN(Body network, props.Object("networkProfile"));
  COVE_ASSIGN_OR_RETURN(auto plugin, network.Enum("networkPlugin", {"azure", "kubenet", "none"}));
  COVE_ASSIGN_OR_RETURN(auto service_cidr, network.String("serviceCidr"));
  COVE_ASSIGN_OR_RETURN(auto dns_service_ip, network.String("dnsServiceIP"));
  std::string prefix =
      dns_prefix.value_or(existing != nullptr ? Str(old_props, "dnsPrefix") : name);
  if (!IsValidDnsPrefix(prefix)) {
    return tl::unexpected(InvalidParameter(
        "properties.dnsPrefix", "DNS prefix '" + prefix +
                                    "' must hold 1-54 letters, digits and '-', starting and "
                                    "ending with a letter or digit."));
  }
  if (existing != nullptr && dns_prefix && *dns_prefix != Str(old_props, "dnsPrefix")) {
    return ArmFail(400, "PropertyChangeNotAllowed",
                   "Changing property 'dnsPrefix' is not allowed.");
  }
  std::string k8s =
      version.value_or(existing != nullptr ? Str(old_props, "kubernetesVersion") : kDefaultVersion);
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08llx",
                static_cast<unsigned long long>(Fnv1a(Lower(cluster_id), 7) & 0xffffffffULL));
  std::string fqdn = prefix + "-" + hex + ".hcp." + location + ".azmk8s.io";
  std::string node_group = "MC_" + p.resource_group + "_" + name + "_" + location;
  std::string group_id =
      "/subscriptions/" + Lower(p.subscription) + "/resourceGroups/" + node_group;
  if (existing != nullptr && !NodeGroupIdOf(*existing).empty()) {
    group_id = NodeGroupIdOf(*existing);
    node_group = LastSegment(group_id);
  }
  const std::string group_key = Lower(group_id);
  if (const Json* g = txn.Get(group_key);
      g != nullptr && !EqualsIgnoreCase(g->value("managedBy", ""), cluster_id)) {
    return ArmFail(400, "NodeResourceGroupAlreadyExists",
                   "The node resource group '" + node_group +
                       "' already exists and is not managed by cluster '" + name + "'.");
  }
  Json& dp = doc["properties"];
  dp = Json::object();
  dp["provisioningState"] = "Succeeded";
  dp["powerState"] = {{"code", "Running"}};
  dp["kubernetesVersion"] = k8s;
  dp["currentKubernetesVersion"] = k8s;
  dp["dnsPrefix"] = prefix;
  dp["fqdn"] = fqdn;
  dp["azurePortalFQDN"] = prefix + "-" + hex + ".portal.hcp." + location + ".azmk8s.io";
  dp["nodeResourceGroup"] = node_group;
  dp["enableRBAC"] = true;
  dp["supportPlan"] = "KubernetesOfficial";
  dp["maxAgentPools"] = 100;
  const Json& old_network = Field(old_props, "networkProfile");
  auto or_old = [&](const std::optional<std::string>& v, const char* key, const char* dflt) {
    if (v) return *v;
    std::string o = Str(old_network, key);
    return o.empty() ? std::string(dflt) : o;
  };
  dp["networkProfile"] = {{"networkPlugin", or_old(plugin, "networkPlugin", "azure")},
                          {"loadBalancerSku", "standard"},
                          {"outboundType", "loadBalancer"},
                          {"serviceCidr", or_old(service_cidr, "serviceCidr", "10.0.0.0/16")},
                          {"dnsServiceIP", or_old(dns_service_ip, "dnsServiceIP", "10.0.0.10")}};

  // --- the node resource group and the kubelet identity
  if (txn.Get(group_key) == nullptr) {
    txn.Put(group_key, Json{{"id", group_id},
                            {"name", node_group},
                            {"type", "Microsoft.Resources/resourceGroups"},
                            {"location", location},
                            {"managedBy", cluster_id},
                            {"tags", Json::object()},
                            {"properties", {{"provisioningState", "Succeeded"}}}});
  }
  std::string kubelet_id = group_id + "/providers/" + kIdentityType + "/" + name + "-agentpool";
  if (txn.Get(Lower(kubelet_id)) == nullptr) {
    auto kp = ParseArmPath(kubelet_id);
    const ResourceProvider* identities = ResourceProviders().Find(kIdentityType);
    if (!kp || identities == nullptr) {
      return ArmFail(500, "InternalServerError", "cannot make the kubelet identity");
    }
    COVE_RETURN_IF_ERROR(identities->put(engine, *kp, Json{{"location", location}}, nullptr));
  }
  const Json& kubelet = Field(*txn.Get(Lower(kubelet_id)), "properties");
  dp["identityProfile"] = {{"kubeletidentity",
                            {{"resourceId", kubelet_id},
                             {"clientId", Str(kubelet, "clientId")},
                             {"objectId", Str(kubelet, "principalId")}}}};
  std::string number = existing != nullptr ? Str(Cove(*existing, "nodes"), "number") : "";
  if (number.empty()) number = NodeNumber(cluster_id);
  doc["_cove"] = {{"nodes", {{"groupId", group_id}, {"number", number}}}};
  const std::string key = p.Key();
  txn.Put(key, doc);

  // --- agent pools
  bool have_profiles = false;
  COVE_ASSIGN_OR_RETURN(auto profiles, props.Array("agentPoolProfiles", &have_profiles));
  if (existing == nullptr && profiles.empty()) {
    return tl::unexpected(InvalidParameter("properties.agentPoolProfiles",
                                           "A cluster needs at least one agent pool."));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < profiles.size(); ++i) {
    COVE_ASSIGN_OR_RETURN(auto pool_name, profiles[i].String("name"));
    if (!pool_name) {
      return tl::unexpected(InvalidParameter("agentPoolProfile.name", "The name is required."));
    }
    if (!seen.insert(Lower(*pool_name)).second) {
      return tl::unexpected(InvalidParameter(
          "agentPoolProfile.name", "Agent pool name '" + *pool_name + "' is used twice."));
    }
    std::string pool_key = key + "/agentpools/" + Lower(*pool_name);
    const Json* old_pool = txn.Get(pool_key);
    Json old_copy = old_pool != nullptr ? *old_pool : Json();
    COVE_RETURN_IF_ERROR(ApplyPool(engine, p, *txn.Get(key), *pool_name, profiles[i],
                                   old_pool != nullptr ? &old_copy : nullptr,
                                   i == 0 ? "System" : "User"));
  }
  if (SystemPools(txn, key, "") == 0) {
    return ArmFail(400, "OperationNotAllowed",
                   "There has to be at least one system agent pool in cluster '" + name + "'.");
  }
  return {};
}

// Every deployment of the cluster `cluster_id` (in any group of its subscription).
std::vector<std::string> DeploymentsOf(const Txn& txn, const std::string& cluster_id) {
  std::vector<std::string> out;
  for (const auto& k : KeysOfType(txn, kDeploymentType)) {
    if (EqualsIgnoreCase(Str(Field(*txn.Get(k), "properties"), "clusterId"), cluster_id)) {
      out.push_back(k);
    }
  }
  return out;
}

Status DeleteCluster(Engine& engine, const std::string& key) {
  Txn& txn = engine.txn();
  const Json* doc = txn.Get(key);
  if (doc == nullptr) return {};
  const Json cluster = *doc;
  for (const auto& k : DeploymentsOf(txn, cluster.value("id", ""))) txn.EraseTree(k);
  DeleteRoleAssignmentsOf(txn, Str(Field(cluster, "identity"), "principalId"));
  std::string kubelet_id =
      Str(Field(Field(Field(cluster, "properties"), "identityProfile"), "kubeletidentity"),
          "resourceId");
  if (!kubelet_id.empty() && txn.Get(Lower(kubelet_id)) != nullptr) {
    const ResourceProvider* identities = ResourceProviders().Find(kIdentityType);
    COVE_RETURN_IF_ERROR(identities->remove(engine, Lower(kubelet_id)));
  }
  for (const auto& k : txn.Children(key, "agentpools")) ErasePoolNodes(txn, *txn.Get(k));
  std::string group_key = Lower(NodeGroupIdOf(cluster));
  if (!group_key.empty()) txn.EraseTree(group_key);
  txn.EraseTree(key);
  return {};
}

Json RenderCluster(const Engine& engine, const Json& doc) {
  Json out = doc;
  Json profiles = Json::array();
  auto path = ParseResourceId(doc.value("id", ""));
  if (path) {
    for (const auto& k : engine.txn().Children(path->Key(), "agentpools")) {
      const Json& pool = *engine.txn().Get(k);
      Json profile = Field(pool, "properties");
      profile.erase("cove");
      profile["name"] = pool.value("name", "");
      profiles.push_back(profile);
    }
  }
  out["properties"]["agentPoolProfiles"] = profiles;
  out["sku"] = {{"name", "Base"}, {"tier", "Free"}};
  return out;
}

Status PutPool(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  ArmPath cluster_path = p;
  cluster_path.types.pop_back();
  cluster_path.names.pop_back();
  const Json* cluster = engine.txn().Get(cluster_path.Key());
  if (cluster == nullptr) return tl::unexpected(ResourceNotFound(cluster_path));
  Json cluster_copy = *cluster;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  Json empty = Json::object();
  Body profile = props.present() ? props : Body(&empty, "properties");
  COVE_RETURN_IF_ERROR(
      ApplyPool(engine, cluster_path, cluster_copy, p.names.back(), profile, existing, "User"));
  if (SystemPools(engine.txn(), cluster_path.Key(), "") == 0) {
    return ArmFail(400, "OperationNotAllowed",
                   "There has to be at least one system agent pool in cluster '" +
                       cluster_copy.value("name", "") + "'.");
  }
  return {};
}

Status DeletePool(Engine& engine, const std::string& key) {
  Txn& txn = engine.txn();
  const Json* pool = txn.Get(key);
  if (pool == nullptr) return {};
  std::string cluster_key = ParentOfKey(key);
  if (Str(Field(*pool, "properties"), "mode") == "System" &&
      SystemPools(txn, cluster_key, key) == 0 && txn.Get(cluster_key) != nullptr) {
    return ArmFail(400, "OperationNotAllowed",
                   "There has to be at least one system agent pool: agent pool '" +
                       pool->value("name", "") + "' is the last one of cluster '" +
                       txn.Get(cluster_key)->value("name", "") + "'.");
  }
  ErasePoolNodes(txn, *pool);
  txn.EraseTree(key);
  return {};
}

void ProjectCluster(const std::string& key, const Json& doc, Snapshot& snapshot) {
  ClusterView c;
  c.id = Str(doc, "id");
  c.name = Str(doc, "name");
  c.location = Str(doc, "location");
  auto path = ParseResourceId(c.id);
  if (path) c.resource_group = path->resource_group;
  const Json& props = Field(doc, "properties");
  c.node_resource_group = Str(props, "nodeResourceGroup");
  const Json& kubelet = Field(Field(props, "identityProfile"), "kubeletidentity");
  c.kubelet_identity_id = Str(kubelet, "resourceId");
  c.kubelet_client_id = Str(kubelet, "clientId");
  c.kubelet_object_id = Str(kubelet, "objectId");
  const bool kubelet_live = snapshot.Find(c.kubelet_identity_id) != nullptr;
  for (const Json* pool : ChildDocuments(snapshot.documents, key, "agentpools")) {
    AgentPoolView v;
    v.id = Str(*pool, "id");
    v.name = Str(*pool, "name");
    const Json& pp = Field(*pool, "properties");
    v.subnet_id = Str(pp, "vnetSubnetID");
    v.vnet_id = v.subnet_id.substr(0, Lower(v.subnet_id).rfind("/subnets/"));
    v.count = static_cast<int>(IntField(pp, "count", 0));
    for (const auto& node : StoredNodes(*pool)) {
      MachineView m;
      m.kind = MachineView::Kind::kClusterNode;
      m.id = Str(node, "id");
      m.name = Str(node, "name");
      m.location = c.location;
      if (auto np = ParseResourceId(m.id)) {
        m.subscription = np->subscription;
        m.resource_group = np->resource_group;
      }
      m.machine_id = Str(node, "machineId");
      m.address = Str(node, "privateIpAddress");
      m.subnet_id = v.subnet_id;
      m.vnet_id = v.vnet_id;
      if (kubelet_live) {
        m.user_assigned.push_back(
            {c.kubelet_identity_id, c.kubelet_object_id, c.kubelet_client_id});
      }
      v.nodes.push_back({m.name, m.id});
      snapshot.machines.push_back(std::move(m));
    }
    c.pools.push_back(std::move(v));
  }
  snapshot.clusters.push_back(std::move(c));
}

// ---------------------------------------------------------------- deployments

Status PutDeployment(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  Txn& txn = engine.txn();
  const std::string& name = p.names.back();
  if (existing == nullptr && !IsValidAciName(name)) {
    return tl::unexpected(NameInvalid(name, kDeploymentType,
                                      "Names are 1-63 lowercase letters, digits or '-', not "
                                      "starting or ending with '-' and without '--'."));
  }
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  if (!props.present()) return tl::unexpected(BadContent("properties", "is required"));
  COVE_ASSIGN_OR_RETURN(auto cluster_id, props.String("clusterId"));
  if (!cluster_id || cluster_id->empty()) {
    return tl::unexpected(BadContent("properties.clusterId", "is required"));
  }
  auto cp = ParseResourceId(*cluster_id);
  const Json* cluster = cp ? txn.Get(cp->Key()) : nullptr;
  if (cluster == nullptr || !EqualsIgnoreCase(cluster->value("type", ""), kClusterType)) {
    return tl::unexpected(InvalidReference(
        *cluster_id, "/subscriptions/" + p.subscription + "/resourceGroups/" + p.resource_group +
                         "/providers/" + kDeploymentType + "/" + name));
  }
  if (!EqualsIgnoreCase(cp->subscription, p.subscription)) {
    return tl::unexpected(BadContent("properties.clusterId",
                                     "names a cluster of another subscription; a deployment's "
                                     "cluster must be in its own subscription"));
  }
  Json with_location = body;
  if (!with_location.contains("location") || with_location["location"].is_null()) {
    with_location["location"] = cluster->value("location", "");
  }
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, with_location, existing, true));
  COVE_ASSIGN_OR_RETURN(auto replicas, props.Int("replicas"));
  if (replicas && (*replicas < 0 || *replicas > kMaxReplicas)) {
    return tl::unexpected(BadContent("properties.replicas", "must be an integer in 0-100"));
  }
  COVE_ASSIGN_OR_RETURN(auto containers, props.Array("containers"));
  if (containers.empty()) {
    return tl::unexpected(BadContent("properties.containers", "must hold at least one container"));
  }
  Json out = Json::array();
  std::set<std::string> names;
  for (const Body& c : containers) {
    COVE_ASSIGN_OR_RETURN(auto cname, c.String("name"));
    if (!cname || !IsValidAciName(*cname)) {
      return tl::unexpected(
          BadContent(c.where() + ".name", "'" + cname.value_or("") +
                                              "' is not a valid container name: 1-63 lowercase "
                                              "letters, digits or '-', not starting or ending "
                                              "with '-'"));
    }
    if (!names.insert(*cname).second) {
      return tl::unexpected(BadContent(c.where() + ".name", "repeats '" + *cname + "'"));
    }
    COVE_ASSIGN_OR_RETURN(auto image, c.String("image"));
    if (!image || !IsValidImage(*image)) {
      return tl::unexpected(
          BadContent(c.where() + ".image", "'" + image.value_or("") +
                                               "' is not a valid image name "
                                               "([registry/]repository[:tag|@digest])"));
    }
    bool have_command = false, have_args = false;
    COVE_ASSIGN_OR_RETURN(auto command, c.StringArray("command", &have_command));
    COVE_ASSIGN_OR_RETURN(auto args, c.StringArray("args", &have_args));
    COVE_ASSIGN_OR_RETURN(auto env, c.Array("env"));
    Json out_env = Json::array();
    std::set<std::string> env_names;
    for (const Body& e : env) {
      COVE_ASSIGN_OR_RETURN(auto ename, e.String("name"));
      COVE_ASSIGN_OR_RETURN(auto value, e.String("value"));
      if (!ename || !IsValidEnvName(*ename)) {
        return tl::unexpected(BadContent(e.where() + ".name",
                                         "must be 1-63 letters, digits or '_', not starting "
                                         "with a digit"));
      }
      if (!env_names.insert(*ename).second) {
        return tl::unexpected(BadContent(e.where() + ".name", "repeats '" + *ename + "'"));
      }
      out_env.push_back({{"name", *ename}, {"value", value.value_or("")}});
    }
    Json oc = {{"name", *cname}, {"image", *image}};
    if (have_command) oc["command"] = command;
    if (have_args) oc["args"] = args;
    if (!out_env.empty()) oc["env"] = out_env;
    out.push_back(oc);
  }
  Json& dp = doc["properties"];
  dp = {{"clusterId", cluster->value("id", *cluster_id)},
        {"replicas", replicas.value_or(1)},
        {"containers", out},
        {"provisioningState", "Succeeded"}};
  txn.Put(p.Key(), doc);
  return {};
}

Json RenderDeployment(const Engine& engine, const Json& doc) {
  Json out = doc;
  int replicas = static_cast<int>(IntField(Field(doc, "properties"), "replicas", 1));
  out["properties"]["status"] =
      engine.WorkloadStatusOf(doc.value("id", ""))
          .value_or(Json{{"replicas", replicas}, {"readyReplicas", 0}, {"pods", Json::array()}});
  return out;
}

void ProjectDeployment(const std::string&, const Json& doc, Snapshot& snapshot) {
  WorkloadView w;
  w.id = Str(doc, "id");
  w.name = Str(doc, "name");
  const Json& props = Field(doc, "properties");
  w.cluster_id = Str(props, "clusterId");
  w.replicas = static_cast<int>(IntField(props, "replicas", 1));
  for (const auto& c : Field(props, "containers")) {
    WorkloadContainerView v;
    v.name = Str(c, "name");
    v.image = Str(c, "image");
    v.command = Strings(Field(c, "command"));
    v.args = Strings(Field(c, "args"));
    for (const auto& e : Field(c, "env")) v.env.emplace_back(Str(e, "name"), Str(e, "value"));
    w.containers.push_back(std::move(v));
  }
  snapshot.workloads.push_back(std::move(w));
}

}  // namespace

void RegisterClusterProviders(ProviderRegistry& registry) {
  registry.Add({.type = kClusterType,
                .location = LocationRule::kRegional,
                .api_versions = ContainerServiceApiVersions(),
                .delete_rank = 14,
                .put = PutCluster,
                .remove = DeleteCluster,
                .render = RenderCluster,
                .project = ProjectCluster});
  registry.Add({.type = kPoolType,
                .api_versions = ContainerServiceApiVersions(),
                .put = PutPool,
                .remove = DeletePool});
  registry.Add({.type = kDeploymentType,
                .location = LocationRule::kRegional,
                .api_versions = KubernetesApiVersions(),
                .delete_rank = 12,  // before the clusters they run on
                .put = PutDeployment,
                .render = RenderDeployment,
                .project = ProjectDeployment});
}

}  // namespace cove::arm
