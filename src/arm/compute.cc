// Client machines: user network interfaces (Microsoft.Network/networkInterfaces made by users,
// as `az vm create` makes <vm>VMNic) and Microsoft.Compute/virtualMachines.
//
// NIC:  PUT .../networkInterfaces/{nic}
//       {"location", "properties": {"ipConfigurations": [{"name", "properties": {"subnet": {"id"},
//        "privateIPAllocationMethod": "Dynamic"|"Static", "privateIPAddress"}}]}}
//       One ipConfiguration. Dynamic takes the lowest free host address of the subnet from .4
//       (Azure reserves .0-.3 and the broadcast), the same pool private endpoints draw from.
// VM:   PUT .../providers/Microsoft.Compute/virtualMachines/{vm}
//       {"location", "properties": {"networkProfile": {"networkInterfaces": [{"id"}]}}}
//       or, a cove extension for an internet client, {"properties": {"cove": {"network": "public"}}}
//       with no NIC: cove gives it a TEST-NET address (198.51.100.2-99).
//       Every VM answer has properties.cove: {"network": "private"|"public",
//       "privateIpAddress" (private VMs), "publicIpAddress" (public VMs)}. The VM's NIC gets
//       properties.virtualMachine.id. The daemon realizes VMs as namespaces (daemon/planes.h);
//       the namespace name is fabric::Fabric::VmNamespace(vm id).
//       A VM may carry a managed-identity block ("identity", next to "properties"; see
//       arm/identities.cc); deleting the VM drops its system-assigned principal.
#include <set>

#include "arm/engine.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

std::set<uint32_t> UsedInSubnet(const Txn& txn, const std::string& subnet_key,
                                const std::string& except_key) {
  std::set<uint32_t> used;
  for (const auto& [k, d] : txn.documents()) {
    if (k == except_key || Lower(d->value("type", "")) != "microsoft.network/networkinterfaces") {
      continue;
    }
    if (!d->contains("properties")) continue;
    for (const auto& ipc : (*d)["properties"].value("ipConfigurations", Json::array())) {
      if (!ipc.contains("properties")) continue;
      const Json& pr = ipc["properties"];
      if (!pr.contains("subnet") || Lower(pr["subnet"].value("id", "")) != subnet_key) continue;
      if (auto ip = ParseIpv4(pr.value("privateIPAddress", ""))) used.insert(*ip);
    }
  }
  return used;
}

}  // namespace

Status Engine::PutUserNic(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(), "Microsoft.Network/networkInterfaces",
                                      "Names are 1-80 word characters, '.', '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto configs, props.Array("ipConfigurations"));
  if (configs.size() != 1) {
    return tl::unexpected(BadContent("properties.ipConfigurations", "must hold exactly one entry"));
  }
  const Body& c = configs[0];
  COVE_ASSIGN_OR_RETURN(auto name, c.String("name"));
  COVE_ASSIGN_OR_RETURN(Body cp, c.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string subnet_id, cp.RefId("subnet"));
  COVE_ASSIGN_OR_RETURN(auto method, cp.Enum("privateIPAllocationMethod", {"Dynamic", "Static"}));
  COVE_ASSIGN_OR_RETURN(auto address, cp.String("privateIPAddress"));
  auto subnet_path = ParseResourceId(subnet_id);
  const Json* subnet = subnet_path ? txn_.Get(subnet_path->Key()) : nullptr;
  if (subnet == nullptr || Lower(subnet->value("type", "")) != "microsoft.network/virtualnetworks/subnets") {
    return tl::unexpected(InvalidReference(subnet_id, doc.value("id", "")));
  }
  std::string subnet_key = subnet_path->Key();
  auto cidr = ParseCidr((*subnet)["properties"].value("addressPrefix", "")).cidr;
  if (!cidr) return ArmFail(400, "InvalidRequestContent", "The subnet has no address prefix.");
  std::string key = p.Key();
  auto used = UsedInSubnet(txn_, subnet_key, key);
  bool is_static = method.value_or(address ? "Static" : "Dynamic") == "Static";
  uint32_t ip = 0;
  if (is_static) {
    auto want = address ? ParseIpv4(*address) : std::nullopt;
    if (!want || !cidr->Contains(*want) || *want < cidr->First() + 4 || *want == cidr->Last()) {
      return ArmFail(400, "PrivateIPAddressNotInSubnet",
                     "IP address " + address.value_or("") + " does not belong to subnet " +
                         subnet->value("id", "") + " or is reserved.");
    }
    if (used.count(*want)) {
      return ArmFail(400, "PrivateIPAddressInUse",
                     "IP configuration " + doc.value("id", "") + " is using the private IP address " +
                         *address + " which is already allocated to another resource.");
    }
    ip = *want;
  } else {
    // Keep the current dynamic address on an update.
    if (existing != nullptr) {
      for (const auto& ipc : (*existing)["properties"].value("ipConfigurations", Json::array())) {
        if (auto cur = ParseIpv4(ipc["properties"].value("privateIPAddress", ""));
            cur && cidr->Contains(*cur) && !used.count(*cur)) {
          ip = *cur;
        }
      }
    }
    for (uint32_t a = cidr->First() + 4; ip == 0 && a < cidr->Last(); ++a) {
      if (!used.count(a)) ip = a;
    }
    if (ip == 0) {
      return ArmFail(400, "SubnetIsFull", "Subnet " + subnet->value("name", "") +
                                             " with address prefix " + cidr->ToString() +
                                             " does not have enough capacity for 1 IP address.");
    }
  }
  std::string ipc_name = name.value_or("ipconfig1");
  doc["properties"]["ipConfigurations"] = Json::array(
      {{{"id", doc.value("id", "") + "/ipConfigurations/" + ipc_name},
        {"name", ipc_name},
        {"type", "Microsoft.Network/networkInterfaces/ipConfigurations"},
        {"properties",
         {{"provisioningState", "Succeeded"},
          {"privateIPAddress", FormatIpv4(ip)},
          {"privateIPAllocationMethod", is_static ? "Static" : "Dynamic"},
          {"privateIPAddressVersion", "IPv4"},
          {"primary", true},
          {"subnet", {{"id", subnet->value("id", "")}}}}}}});
  if (!doc["properties"].contains("resourceGuid")) doc["properties"]["resourceGuid"] = Guid();
  doc["properties"]["provisioningState"] = "Succeeded";
  txn_.Put(key, doc);
  return {};
}

Status Engine::PutVm(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(), "Microsoft.Compute/virtualMachines",
                                      "Names are 1-64 word characters, '.', '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(Body cove, props.Object("cove"));
  COVE_ASSIGN_OR_RETURN(auto network, cove.Enum("network", {"private", "public"}));
  COVE_ASSIGN_OR_RETURN(Body profile, props.Object("networkProfile"));
  bool have_nics = false;
  COVE_ASSIGN_OR_RETURN(auto nics, profile.Array("networkInterfaces", &have_nics));
  std::string key = p.Key();
  Json out_cove = Json::object();
  doc.erase("_cove");
  if (network.value_or(have_nics ? "private" : "public") == "public") {
    if (have_nics && !nics.empty()) {
      return tl::unexpected(BadContent("properties.networkProfile", "a public VM has no NIC"));
    }
    COVE_ASSIGN_OR_RETURN(std::string mine, AllocatePublicIp(key, existing));
    out_cove = {{"network", "public"}, {"publicIpAddress", mine}};
    doc["properties"].erase("networkProfile");
  } else {
    if (nics.size() != 1) {
      return tl::unexpected(
          BadContent("properties.networkProfile.networkInterfaces", "must hold exactly one NIC"));
    }
    COVE_ASSIGN_OR_RETURN(auto nic_id, nics[0].String("id"));
    std::string nic_key;
    if (nic_id) {
      if (auto np = ParseResourceId(*nic_id)) nic_key = np->Key();
    }
    const Json* nic = nic_key.empty() ? nullptr : txn_.Get(nic_key);
    if (nic == nullptr || Lower(nic->value("type", "")) != "microsoft.network/networkinterfaces" ||
        nic->contains("_cove")) {
      return tl::unexpected(InvalidReference(nic_id.value_or(""), doc.value("id", "")));
    }
    const Json& ipc = (*nic)["properties"]["ipConfigurations"][0]["properties"];
    std::string subnet_id = ipc["subnet"].value("id", "");
    std::string vm_of_nic = (*nic)["properties"].contains("virtualMachine")
                                ? (*nic)["properties"]["virtualMachine"].value("id", "")
                                : "";
    if (!vm_of_nic.empty() && Lower(vm_of_nic) != key) {
      return ArmFail(400, "NicInUse", "Network interface " + *nic_id +
                                          " is used by virtual machine " + vm_of_nic + ".");
    }
    Json nic_doc = *nic;
    nic_doc["properties"]["virtualMachine"] = {{"id", doc.value("id", "")}};
    txn_.Put(nic_key, nic_doc);
    out_cove = {{"network", "private"}, {"privateIpAddress", ipc.value("privateIPAddress", "")}};
    doc["properties"]["networkProfile"] = {
        {"networkInterfaces", Json::array({{{"id", nic->value("id", "")}}})}};
    auto subnet_path = ParseResourceId(subnet_id);
    const Json* subnet = subnet_path ? txn_.Get(subnet_path->Key()) : nullptr;
    std::string vnet_id = subnet_id.substr(0, Lower(subnet_id).rfind("/subnets/"));
    doc["_cove"] = {{"subnetId", subnet ? subnet->value("id", subnet_id) : subnet_id},
                    {"vnetId", vnet_id}};
  }
  doc["properties"]["cove"] = out_cove;
  if (!doc["properties"].contains("vmId")) doc["properties"]["vmId"] = Guid();
  doc["properties"]["provisioningState"] = "Succeeded";
  COVE_RETURN_IF_ERROR(ApplyMachineIdentity(body, existing, doc));
  txn_.Put(key, doc);
  return {};
}

Result<std::string> Engine::AllocatePublicIp(const std::string& key, const Json* existing) {
  auto address_of = [](const Json& d) -> std::string {
    if (!d.contains("properties") || !d["properties"].is_object()) return "";
    const Json& props = d["properties"];
    if (!props.contains("cove") || !props["cove"].is_object()) return "";
    return props["cove"].value("publicIpAddress", "");
  };
  std::set<std::string> used;
  for (const auto& [k, d] : txn_.documents()) {
    std::string t = Lower(d->value("type", ""));
    if (k == key || (t != "microsoft.compute/virtualmachines" &&
                     t != "microsoft.containerinstance/containergroups")) {
      continue;
    }
    used.insert(address_of(*d));
  }
  std::string mine = existing != nullptr ? address_of(*existing) : "";
  if (!mine.empty() && !used.count(mine)) return mine;
  for (int h = 2; h <= 99; ++h) {
    std::string a = "198.51.100." + std::to_string(h);
    if (!used.count(a)) return a;
  }
  return ArmFail(400, "PublicIPCountLimitReached",
                 "No public address left: cove's public machines share 198.51.100.2-99.");
}

Status Engine::DeleteVm(const std::string& key) {
  DropMachineIdentity(key);
  const Json* doc = txn_.Get(key);
  if (doc != nullptr && doc->contains("properties") && (*doc)["properties"].contains("networkProfile")) {
    for (const auto& n : (*doc)["properties"]["networkProfile"].value("networkInterfaces", Json::array())) {
      auto path = ParseResourceId(n.value("id", ""));
      const Json* nic = path ? txn_.Get(path->Key()) : nullptr;
      if (nic == nullptr) continue;
      Json nic_doc = *nic;
      nic_doc["properties"].erase("virtualMachine");
      txn_.Put(path->Key(), nic_doc);
    }
  }
  txn_.EraseTree(key);
  return {};
}

void ProjectMachine(const std::string&, const Json& doc, Snapshot& snapshot) {
  const Json& props = doc.contains("properties") ? doc["properties"] : Json::object();
  MachineView m;
  m.kind = Lower(Str(doc, "type")) == "microsoft.compute/virtualmachines"
               ? MachineView::Kind::kVirtualMachine
               : MachineView::Kind::kContainerGroup;
  m.id = Str(doc, "id");
  m.name = Str(doc, "name");
  m.location = Str(doc, "location");
  if (auto path = ParseResourceId(m.id)) {
    m.subscription = path->subscription;
    m.resource_group = path->resource_group;
  }
  const Json cove = props.contains("cove") ? props["cove"] : Json::object();
  m.is_public = Str(cove, "network") == "public";
  m.address = m.is_public ? Str(cove, "publicIpAddress") : Str(cove, "privateIpAddress");
  if (m.kind == MachineView::Kind::kVirtualMachine) {
    m.machine_id = Str(props, "vmId");
    if (!m.is_public) {
      m.subnet_id = doc.contains("_cove") ? Str(doc["_cove"], "subnetId") : "";
      m.vnet_id = doc.contains("_cove") ? Str(doc["_cove"], "vnetId") : "";
    }
  } else {
    m.machine_id = doc.contains("_cove") ? Str(doc["_cove"], "machineId") : "";
  }
  const Json& sa = Cove(doc, "systemAssigned");
  if (!Str(sa, "principalId").empty()) {
    m.system_assigned = MachineIdentityView{m.id, Str(sa, "principalId"), Str(sa, "clientId")};
    PrincipalView p;
    p.kind = PrincipalKind::kManagedIdentity;
    p.id = m.system_assigned->principal_id;
    p.name = m.name;
    p.app_id = m.system_assigned->client_id;
    p.resource_id = m.id;
    snapshot.principals.push_back(std::move(p));
  }
  if (doc.contains("identity") && doc["identity"].is_object() &&
      doc["identity"].contains("userAssignedIdentities")) {
    for (const auto& [uid, v] : doc["identity"]["userAssignedIdentities"].items()) {
      auto path = ParseResourceId(uid);
      auto live = path ? snapshot.documents.find(path->Key()) : snapshot.documents.end();
      if (live == snapshot.documents.end()) continue;  // deleted since it was assigned
      const Json& lp = (*live->second)["properties"];
      m.user_assigned.push_back(
          {Str(*live->second, "id"), Str(lp, "principalId"), Str(lp, "clientId")});
    }
  }
  snapshot.machines.push_back(std::move(m));
}

Status Engine::PutNic(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing != nullptr && existing->contains("_cove")) {
    // A private endpoint's NIC: only tags may change.
    Json doc = *existing;
    if (body.contains("tags") && body["tags"].is_object()) doc["tags"] = body["tags"];
    txn_.Put(p.Key(), doc);
    return {};
  }
  return PutUserNic(p, body, existing);
}

Status Engine::DeleteNic(const std::string& key) {
  const Json* doc = txn_.Get(key);
  if (doc->contains("properties") && (*doc)["properties"].contains("virtualMachine")) {
    return ArmFail(400, "NicInUse",
                   "Network interface " + doc->value("id", "") + " is used by virtual machine " +
                       (*doc)["properties"]["virtualMachine"].value("id", "") + ".");
  }
  if (doc->contains("_cove")) {
    return ArmFail(400, "CannotDeleteNicAttachedToPrivateEndpoint",
                   "Network interface " + doc->value("id", "") + " is used by private endpoint " +
                       (*doc)["properties"]["privateEndpoint"].value("id", "") +
                       " and cannot be deleted; delete the private endpoint instead.");
  }
  txn_.EraseTree(key);
  return {};
}

void RegisterComputeProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.Network/networkInterfaces",
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 60,
                .put = EngineFn<&Engine::PutNic>,
                .remove = EngineFn<&Engine::DeleteNic>,
                // A private endpoint's NIC goes with its endpoint.
                .owned_by_other = [](const Json& doc) { return doc.contains("_cove"); }});
  registry.Add({.type = "Microsoft.Compute/virtualMachines",
                .location = LocationRule::kRegional,
                .api_versions = ComputeApiVersions(),
                .delete_rank = 10,
                .put = EngineFn<&Engine::PutVm>,
                .remove = EngineFn<&Engine::DeleteVm>,
                .project = ProjectMachine});
}

}  // namespace cove::arm
