// Private endpoints, their network interfaces and private DNS zone groups.
#include <map>

#include "arm/engine.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

const char* kPeType = "Microsoft.Network/privateEndpoints";

// "myregistry.westus.data.azurecr.io" in zone "privatelink.azurecr.io" → "myregistry.westus.data".
std::string RecordNameFor(const std::string& fqdn, const std::string& zone) {
  auto strip = [&](const std::string& suffix) -> std::string {
    std::string dotted = "." + suffix;
    if (fqdn.size() > dotted.size() &&
        fqdn.compare(fqdn.size() - dotted.size(), dotted.size(), dotted) == 0) {
      return fqdn.substr(0, fqdn.size() - dotted.size());
    }
    return "";
  };
  std::string direct = strip(zone);
  if (!direct.empty()) return direct;
  const std::string pl = "privatelink.";
  if (zone.compare(0, pl.size(), pl) == 0) return strip(zone.substr(pl.size()));
  return "";
}

struct Static {
  std::string name;
  std::string member;
  std::string ip;
};

}  // namespace

Status Engine::PutPrivateEndpoint(const ArmPath& p, const Json& body, const Json* existing) {
  std::string key = p.Key();
  std::string pe_name = p.names.back();
  if (existing == nullptr && !IsValidNetworkName(pe_name)) {
    return tl::unexpected(NameInvalid(pe_name, kPeType,
                                      "Names are 1-80 word characters, '.', '-' or '_', "
                                      "beginning with a word character."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  std::string pe_id = doc["id"].get<std::string>();
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string subnet_id, props.RefId("subnet"));
  COVE_ASSIGN_OR_RETURN(auto auto_conns, props.Array("privateLinkServiceConnections"));
  COVE_ASSIGN_OR_RETURN(auto manual_conns, props.Array("manualPrivateLinkServiceConnections"));
  COVE_ASSIGN_OR_RETURN(auto ip_configs, props.Array("ipConfigurations"));
  COVE_ASSIGN_OR_RETURN(auto custom_nic, props.String("customNetworkInterfaceName"));
  if (subnet_id.empty()) return tl::unexpected(BadContent("properties.subnet.id", "is required"));
  if (auto_conns.size() + manual_conns.size() != 1) {
    return ArmFail(400, "InvalidPrivateEndpointConnectionCount",
                   "Private endpoint " + pe_id +
                       " must have exactly one connection in privateLinkServiceConnections or "
                       "manualPrivateLinkServiceConnections; it has " +
                       std::to_string(auto_conns.size() + manual_conns.size()) + ".");
  }
  bool manual = !manual_conns.empty();
  const Body& conn = manual ? manual_conns[0] : auto_conns[0];
  COVE_ASSIGN_OR_RETURN(auto conn_name, conn.String("name"));
  COVE_ASSIGN_OR_RETURN(Body conn_props, conn.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto target_id, conn_props.String("privateLinkServiceId"));
  COVE_ASSIGN_OR_RETURN(auto group_ids, conn_props.StringArray("groupIds"));
  COVE_ASSIGN_OR_RETURN(auto request_message, conn_props.String("requestMessage"));
  if (!target_id || target_id->empty()) {
    return tl::unexpected(BadContent(conn_props.where() + ".privateLinkServiceId", "is required"));
  }
  if (!conn_name || conn_name->empty()) conn_name = pe_name;
  std::vector<Static> statics;
  for (const auto& c : ip_configs) {
    COVE_ASSIGN_OR_RETURN(auto name, c.String("name"));
    COVE_ASSIGN_OR_RETURN(Body cp, c.Object("properties"));
    COVE_ASSIGN_OR_RETURN(auto group, cp.String("groupId"));
    COVE_ASSIGN_OR_RETURN(auto member, cp.String("memberName"));
    COVE_ASSIGN_OR_RETURN(auto ip, cp.String("privateIPAddress"));
    if (!member || member->empty()) {
      return tl::unexpected(BadContent(cp.where() + ".memberName", "is required"));
    }
    if (!ip || !ParseIpv4(*ip)) {
      return tl::unexpected(BadContent(cp.where() + ".privateIPAddress", "must be an IPv4 address"));
    }
    if (group && !EqualsIgnoreCase(*group, "registry")) {
      return ArmFail(400, "InvalidPrivateLinkGroupId",
                     "ipConfiguration group id '" + *group +
                         "' is not offered by the registry; the only group id is 'registry'.");
    }
    statics.push_back({name ? *name : *member, Lower(*member), *ip});
  }
  Json statics_json = Json::array();
  for (const auto& s : statics) {
    statics_json.push_back({{"name", s.name},
                            {"properties",
                             {{"groupId", "registry"},
                              {"memberName", s.member},
                              {"privateIPAddress", s.ip}}}});
  }

  if (existing != nullptr) {
    const Json& c = (*existing)["_cove"];
    auto differs = [&](const char* what) {
      return ArmFail(400, "PrivateEndpointPropertyCannotBeUpdated",
                     std::string("The ") + what + " of private endpoint " + pe_id +
                         " cannot be changed after creation; delete and recreate it.");
    };
    if (Lower(subnet_id) != c.value("subnet_key", "")) return differs("subnet");
    if (Lower(*target_id) != c.value("registry_key", "")) return differs("privateLinkServiceId");
    if (manual != c.value("manual", false)) return differs("connection kind (manual or automatic)");
    Json old_statics = (*existing)["properties"].value("ipConfigurations", Json::array());
    if (statics_json == old_statics) {
      txn_.Put(key, doc);  // tags
      return {};
    }
    // The static ipConfigurations change (az network private-endpoint ip-config add|remove, the
    // remedy ACR names when a replication needs a member the endpoint lacks): every member whose
    // static address was added, removed or moved leaves the NIC, and SyncEndpoint places it
    // again, validated as at creation (complete member list, in the subnet, not reserved, free).
    auto by_member = [](const Json& list) {
      std::map<std::string, std::string> out;
      for (const auto& s : list) {
        out[Lower(s["properties"].value("memberName", ""))] =
            s["properties"].value("privateIPAddress", "");
      }
      return out;
    };
    auto before = by_member(old_statics), after = by_member(statics_json);
    std::string nic_key = c.value("nic_key", "");
    Json nic = *txn_.Get(nic_key);
    Json kept = Json::array();
    for (const auto& ipc : nic["properties"]["ipConfigurations"]) {
      std::string member =
          ipc["properties"]["privateLinkConnectionProperties"].value("requiredMemberName", "");
      auto b = before.find(member), a = after.find(member);
      bool same = (b == before.end() && a == after.end()) ||
                  (b != before.end() && a != after.end() && b->second == a->second);
      if (same) kept.push_back(ipc);
    }
    nic["properties"]["ipConfigurations"] = kept;
    txn_.Put(nic_key, nic);
    doc["properties"]["ipConfigurations"] = statics_json;
    txn_.Put(key, doc);
    return SyncEndpoint(key);
  }

  // The subnet.
  std::string subnet_key = Lower(subnet_id);
  const Json* subnet = txn_.Get(subnet_key);
  if (subnet == nullptr ||
      !EqualsIgnoreCase(subnet->value("type", ""), "Microsoft.Network/virtualNetworks/subnets")) {
    return tl::unexpected(InvalidReference(subnet_id, pe_id));
  }
  std::string subnet_name = subnet->value("name", "");
  if (EqualsIgnoreCase(subnet_name, "GatewaySubnet") ||
      EqualsIgnoreCase(subnet_name, "AzureBastionSubnet")) {
    return ArmFail(400, "PrivateEndpointCreationNotAllowedInSubnet",
                   "Private endpoint " + pe_id + " cannot be created in subnet " +
                       subnet->value("id", "") + ": " + subnet_name +
                       " is reserved for Azure " +
                       (EqualsIgnoreCase(subnet_name, "GatewaySubnet") ? "virtual network gateways"
                                                                       : "Bastion") +
                       " and cannot hold private endpoints.");
  }
  if ((*subnet)["properties"].value("privateEndpointNetworkPolicies", "Disabled") == "Enabled") {
    return ArmFail(400, "PrivateEndpointCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled",
                   "Private endpoint " + pe_id + " cannot be created in a subnet " +
                       subnet->value("id", "") +
                       " since it has private endpoint network policies enabled. Set "
                       "privateEndpointNetworkPolicies to Disabled (or NetworkSecurityGroupEnabled "
                       "/ RouteTableEnabled).");
  }

  // The registry.
  auto target_path = ParseResourceId(*target_id);
  if (!target_path) {
    return ArmFail(400, "LinkedInvalidPropertyId",
                   "Property id '" + *target_id + "' at path '" + conn_props.where() +
                       ".privateLinkServiceId' is invalid. Expect fully qualified resource Id "
                       "that start with '/subscriptions/{subscriptionId}'.");
  }
  if (target_path->kind != PathKind::kResource ||
      target_path->TypeKey() != "microsoft.containerregistry/registries") {
    return ArmFail(400, "PrivateLinkServiceNotSupported",
                   "cove offers Private Link only for Microsoft.ContainerRegistry/registries; " +
                       *target_id + " is not a registry.");
  }
  std::string registry_key = target_path->Key();
  const Json* registry = txn_.Get(registry_key);
  if (registry == nullptr) return tl::unexpected(InvalidReference(*target_id, pe_id));
  if (group_ids.empty()) group_ids.push_back("registry");
  if (group_ids.size() != 1 || !EqualsIgnoreCase(group_ids[0], "registry")) {
    std::string got;
    for (const auto& g : group_ids) got += (got.empty() ? "" : ", ") + g;
    return ArmFail(400, "InvalidPrivateLinkGroupId",
                   "Group ids [" + got + "] are not offered by registry " +
                       registry->value("name", "") + "; the only group id is 'registry'.");
  }
  std::string sku = (*registry)["sku"].value("name", "");
  if (sku != "Premium") {
    return ArmFail(400, "PrivateEndpointNotSupportedForSku",
                   "Private endpoints are not supported for the SKU " + sku +
                       " of registry " + registry->value("name", "") +
                       "; they need the Premium SKU. For more information, please visit "
                       "https://aka.ms/acr/private-link.");
  }
  const Json& rules = (*registry)["properties"]["networkRuleSet"];
  if (rules.is_object() && !rules.value("virtualNetworkRules", Json::array()).empty()) {
    return ArmFail(400, "PrivateEndpointAndVirtualNetworkRulesNotSupported",
                   "Registry " + registry->value("name", "") +
                       " uses virtual network (service endpoint) rules; a registry cannot use "
                       "both service-endpoint rules and private endpoints. Remove "
                       "networkRuleSet.virtualNetworkRules first.");
  }
  if (target_path->SubscriptionKey() != p.SubscriptionKey()) {
    COVE_RETURN_IF_ERROR(CheckRegistered(p.SubscriptionKey(), "Microsoft.ContainerRegistry"));
  }

  // The network interface.
  std::string guid = Guid();
  std::string nic_name = custom_nic && !custom_nic->empty() ? *custom_nic : pe_name + ".nic." + guid;
  if (!IsValidNetworkName(nic_name)) {
    return tl::unexpected(NameInvalid(nic_name, "Microsoft.Network/networkInterfaces",
                                      "customNetworkInterfaceName must be 1-80 word characters, "
                                      "'.', '-' or '_'."));
  }
  std::string rg_key = p.ResourceGroupKey();
  std::string rg_id = txn_.Get(rg_key)->value("id", "");
  std::string nic_key = rg_key + "/providers/microsoft.network/networkinterfaces/" + Lower(nic_name);
  std::string nic_id = rg_id + "/providers/Microsoft.Network/networkInterfaces/" + nic_name;
  if (txn_.Get(nic_key) != nullptr) {
    return ArmFail(400, "NetworkInterfaceNameAlreadyInUse",
                   "Network interface " + nic_id + " already exists; choose another "
                   "customNetworkInterfaceName.");
  }
  txn_.Put(nic_key, Json{{"id", nic_id},
                         {"name", nic_name},
                         {"type", "Microsoft.Network/networkInterfaces"},
                         {"location", doc["location"]},
                         {"tags", Json::object()},
                         {"etag", "W/\"" + Guid() + "\""},
                         {"properties",
                          {{"provisioningState", "Succeeded"},
                           {"resourceGuid", Guid()},
                           {"ipConfigurations", Json::array()},
                           {"privateEndpoint", {{"id", pe_id}}},
                           {"nicType", "Standard"},
                           {"enableAcceleratedNetworking", false},
                           {"enableIPForwarding", false},
                           {"dnsSettings",
                            {{"dnsServers", Json::array()}, {"appliedDnsServers", Json::array()}}}}},
                         {"_cove", {{"private_endpoint_key", key}}}});

  // The connection on the registry.
  uint32_t link_id = NextLinkId();
  std::string connection_name = pe_name + "." + guid;
  std::string connection_key = registry_key + "/privateendpointconnections/" + Lower(connection_name);
  std::string status = manual ? "Pending" : "Approved";
  std::string description =
      manual ? (request_message ? *request_message : std::string()) : "Auto-Approved";
  txn_.Put(connection_key,
           Json{{"id", registry->value("id", "") + "/privateEndpointConnections/" + connection_name},
                {"name", connection_name},
                {"type", "Microsoft.ContainerRegistry/registries/privateEndpointConnections"},
                {"properties",
                 {{"privateEndpoint", {{"id", pe_id}}},
                  {"privateLinkServiceConnectionState",
                   {{"status", status}, {"description", description}, {"actionsRequired", "None"}}},
                  {"groupIds", Json::array({"registry"})},
                  {"linkIdentifier", std::to_string(link_id)},
                  {"provisioningState", "Succeeded"}}}});

  Json& dp = doc["properties"];
  std::string list = manual ? "manualPrivateLinkServiceConnections" : "privateLinkServiceConnections";
  Json entry = {{"id", pe_id + "/" + list + "/" + *conn_name},
                {"name", *conn_name},
                {"type", "Microsoft.Network/privateEndpoints/" + list},
                {"etag", doc["etag"]},
                {"properties",
                 {{"provisioningState", "Succeeded"},
                  {"privateLinkServiceId", registry->value("id", *target_id)},
                  {"groupIds", Json::array({"registry"})}}}};
  if (request_message) entry["properties"]["requestMessage"] = *request_message;
  dp["privateLinkServiceConnections"] = Json::array();
  dp["manualPrivateLinkServiceConnections"] = Json::array();
  dp[list].push_back(entry);
  dp["subnet"] = {{"id", subnet->value("id", subnet_id)}};
  dp["ipConfigurations"] = statics_json;
  dp["customNetworkInterfaceName"] = custom_nic ? *custom_nic : "";
  dp["networkInterfaces"] = Json::array({{{"id", nic_id}}});
  dp["customDnsConfigs"] = Json::array();
  dp["applicationSecurityGroups"] = Json::array();
  doc["_cove"] = {{"registry_key", registry_key},
                  {"connection_key", connection_key},
                  {"nic_key", nic_key},
                  {"subnet_key", subnet_key},
                  {"link_id", link_id},
                  {"manual", manual}};
  txn_.Put(key, doc);
  // ACR turns the registry's dedicated data endpoints on when a private endpoint connects to it:
  // the endpoint holds a registry_data_<region> member per region, and clients in the linked
  // VNets are redirected to <registry>.<region>.data.<suffix>, which must then be among the
  // registry's dataEndpointHostNames (rendered from dataEndpointEnabled) and resolve.
  Json connected = *txn_.Get(registry_key);
  if (!connected["properties"].value("dataEndpointEnabled", false)) {
    connected["properties"]["dataEndpointEnabled"] = true;
    txn_.Put(registry_key, connected);
  }
  return SyncEndpoint(key);
}

Status Engine::SyncEndpoint(const std::string& pe_key) {
  Json pe = *txn_.Get(pe_key);
  const Json& c = pe["_cove"];
  const Json* registry = txn_.Get(c.value("registry_key", ""));
  if (registry == nullptr) return {};
  std::string reg = Lower(registry->value("name", ""));
  const std::string& suffix = options_.dns_suffix;
  std::vector<std::pair<std::string, std::string>> required = {{"registry", reg + "." + suffix}};
  for (const auto& region : RegistryRegions(c.value("registry_key", ""))) {
    required.emplace_back("registry_data_" + region, reg + "." + region + ".data." + suffix);
  }
  std::map<std::string, Static> statics;
  for (const auto& s : pe["properties"].value("ipConfigurations", Json::array())) {
    std::string member = Lower(s["properties"].value("memberName", ""));
    statics[member] = {s.value("name", member), member, s["properties"].value("privateIPAddress", "")};
  }
  if (!statics.empty()) {
    std::string have, missing;
    for (const auto& [m, s] : statics) {
      have += std::string(have.empty() ? "" : ", ") + "[PrivateIPAddress: " + s.ip +
              ", GroupId: registry, MemberName: " + m + "]";
    }
    for (const auto& [m, fqdn] : required) {
      if (!statics.count(m)) {
        missing += std::string(missing.empty() ? "" : ", ") + "[GroupId: registry, MemberName: " + m + "]";
      }
    }
    if (!missing.empty()) {
      return ArmFail(400, "PrivateEndpointIpConfigurationMissingMemberNamesRequiredByFps",
                     "Private Endpoint " + pe.value("id", "") + " contains static ipconfigurations: " +
                         have + " and its missing these membernames/groupids requested by Private "
                         "Link service " + missing +
                         ". Private Endpoint needs to be reconfigured with missing memberNames.");
    }
    for (const auto& [m, s] : statics) {
      bool known = false;
      for (const auto& r : required) known = known || r.first == m;
      // A member for a region the registry does not replicate to yet is kept, unplaced, so that
      // the endpoint can be reconfigured before the replica is added (the order ACR's
      // PrivateEndpointIpConfigurationMissingMemberNamesRequiredByFps asks for); its address is
      // checked against the subnet when the replica makes it required.
      constexpr std::string_view kData = "registry_data_";
      if (!known && m.rfind(kData, 0) == 0 && IsAcrRegion(m.substr(kData.size()))) continue;
      if (!known) {
        return ArmFail(400, "PrivateEndpointIpConfigurationHasInvalidMemberName",
                       "Private Endpoint " + pe.value("id", "") + " has a static ipconfiguration "
                       "for member name '" + m + "', which registry " + reg + " does not offer.");
      }
    }
  }
  std::string subnet_key = c.value("subnet_key", "");
  const Json* subnet = txn_.Get(subnet_key);
  if (subnet == nullptr) return {};
  Cidr cidr = *ParseCidr((*subnet)["properties"].value("addressPrefix", "")).cidr;
  std::string nic_key = c.value("nic_key", "");
  Json nic = *txn_.Get(nic_key);
  std::map<std::string, std::string> used;  // ip → user
  for (const auto& [k, d] : txn_.documents()) {
    if (k == nic_key || !EqualsIgnoreCase(d->value("type", ""), "Microsoft.Network/networkInterfaces")) {
      continue;
    }
    for (const auto& ipc : (*d)["properties"].value("ipConfigurations", Json::array())) {
      if (Lower(ipc["properties"]["subnet"].value("id", "")) == subnet_key) {
        used[ipc["properties"].value("privateIPAddress", "")] = ipc.value("id", "");
      }
    }
  }
  std::map<std::string, Json> current;
  for (const auto& ipc : nic["properties"]["ipConfigurations"]) {
    current[ipc["properties"]["privateLinkConnectionProperties"].value("requiredMemberName", "")] = ipc;
  }
  for (const auto& [m, ipc] : current) used[ipc["properties"].value("privateIPAddress", "")] = ipc.value("id", "");
  size_t dynamic_needed = 0;
  for (const auto& [m, fqdn] : required) dynamic_needed += (!current.count(m) && !statics.count(m)) ? 1 : 0;

  Json configs = Json::array(), dns = Json::array();
  std::string nic_id = nic.value("id", "");
  std::string subnet_id = subnet->value("id", "");
  for (const auto& [member, fqdn] : required) {
    Json ipc;
    if (current.count(member)) {
      ipc = current[member];
    } else {
      std::string ip, name;
      bool is_static = statics.count(member) > 0;
      if (is_static) {
        const Static& s = statics[member];
        uint32_t a = *ParseIpv4(s.ip);
        if (!cidr.Contains(a)) {
          return ArmFail(400, "PrivateIPAddressNotInSubnet",
                         "Private static IP address " + s.ip + " of member " + member +
                             " does not belong to the range of subnet " + subnet->value("name", "") +
                             " (" + cidr.ToString() + ").");
        }
        if (a < cidr.First() + 4 || a == cidr.Last()) {
          return ArmFail(400, "PrivateIPAddressIsReserved",
                         "Private static IP address " + s.ip + " of member " + member +
                             " is reserved by Azure in subnet " + subnet->value("name", "") + " (" +
                             cidr.ToString() + "): the first four addresses and the last one are "
                             "not assignable.");
        }
        if (used.count(s.ip)) {
          return ArmFail(400, "PrivateIPAddressInUse",
                         "Private static IP address " + s.ip + " of member " + member +
                             " is already allocated to " + used[s.ip] + ".");
        }
        ip = s.ip;
        name = s.name;
      } else {
        for (uint64_t a = uint64_t{cidr.First()} + 4; a < cidr.Last(); ++a) {
          std::string candidate = FormatIpv4(static_cast<uint32_t>(a));
          if (!used.count(candidate)) {
            ip = candidate;
            break;
          }
        }
        if (ip.empty()) {
          return ArmFail(400, "SubnetIsFull",
                         "Subnet " + subnet->value("name", "") + " with address prefix " +
                             cidr.ToString() + " does not have enough capacity for " +
                             std::to_string(dynamic_needed) + " IP addresses. (Subnet " + subnet_id +
                             "; private endpoint " + pe.value("id", "") +
                             " needs one address per member, here for '" + member + "'.)");
        }
        name = "privateEndpointIpConfig." + Guid();
        --dynamic_needed;
      }
      used[ip] = nic_id;
      ipc = {{"id", nic_id + "/ipConfigurations/" + name},
             {"name", name},
             {"type", "Microsoft.Network/networkInterfaces/ipConfigurations"},
             {"properties",
              {{"provisioningState", "Succeeded"},
               {"privateIPAddress", ip},
               {"privateIPAllocationMethod", is_static ? "Static" : "Dynamic"},
               {"subnet", {{"id", subnet_id}}},
               {"primary", member == "registry"},
               {"privateIPAddressVersion", "IPv4"},
               {"privateLinkConnectionProperties",
                {{"groupId", "registry"}, {"requiredMemberName", member}, {"fqdns", {fqdn}}}}}}};
    }
    ipc["properties"]["primary"] = member == "registry";
    configs.push_back(ipc);
    dns.push_back({{"fqdn", fqdn}, {"ipAddresses", {ipc["properties"]["privateIPAddress"]}}});
  }
  nic["properties"]["ipConfigurations"] = configs;
  txn_.Put(nic_key, nic);
  pe["properties"]["customDnsConfigs"] = dns;
  txn_.Put(pe_key, pe);
  for (const auto& g : txn_.Children(pe_key, "privatednszonegroups"))
    COVE_RETURN_IF_ERROR(SyncZoneGroup(g, false));
  return {};
}

Status Engine::PutZoneGroup(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(),
                                      "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                                      "Names are 1-80 word characters, '.', '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, false));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto configs, props.Array("privateDnsZoneConfigs"));
  if (configs.empty()) {
    return tl::unexpected(BadContent("properties.privateDnsZoneConfigs", "needs at least one zone"));
  }
  Json out = Json::array();
  std::set<std::string> zones;
  for (const auto& c : configs) {
    COVE_ASSIGN_OR_RETURN(auto name, c.String("name"));
    COVE_ASSIGN_OR_RETURN(Body cp, c.Object("properties"));
    COVE_ASSIGN_OR_RETURN(auto zone_id, cp.String("privateDnsZoneId"));
    if (!zone_id || zone_id->empty()) {
      return tl::unexpected(BadContent(cp.where() + ".privateDnsZoneId", "is required"));
    }
    const Json* zone = txn_.Get(Lower(*zone_id));
    if (zone == nullptr ||
        !EqualsIgnoreCase(zone->value("type", ""), "Microsoft.Network/privateDnsZones")) {
      return tl::unexpected(InvalidReference(*zone_id, doc.value("id", "")));
    }
    if (!zones.insert(Lower(*zone_id)).second) {
      return ArmFail(400, "DuplicatePrivateDnsZoneIds",
                     "Private DNS zone " + *zone_id + " appears twice in privateDnsZoneConfigs.");
    }
    std::string config_name = name && !name->empty() ? *name : zone->value("name", "");
    out.push_back({{"name", config_name},
                   {"properties", {{"privateDnsZoneId", zone->value("id", *zone_id)}}}});
  }
  doc["properties"]["privateDnsZoneConfigs"] = out;
  if (!doc.contains("_cove")) doc["_cove"] = {{"records", Json::array()}};
  std::string key = p.Key();
  txn_.Put(key, doc);
  return SyncZoneGroup(key, false);
}

Status Engine::SyncZoneGroup(const std::string& group_key, bool remove_only) {
  Json group = *txn_.Get(group_key);
  for (const auto& r : group["_cove"].value("records", Json::array())) {
    std::string set_key = r.value("zone", "") + "/a/" + Lower(r.value("name", ""));
    const Json* set = txn_.Get(set_key);
    if (set == nullptr) continue;
    Json s = *set;
    Json kept = Json::array();
    for (const auto& a : s["properties"].value("aRecords", Json::array())) {
      if (a.value("ipv4Address", "") != r.value("ip", "")) kept.push_back(a);
    }
    s["properties"]["aRecords"] = kept;
    if (kept.empty() && s.contains("_cove")) {
      txn_.Erase(set_key);
    } else {
      txn_.Put(set_key, s);
    }
  }
  group["_cove"]["records"] = Json::array();
  if (remove_only) {
    txn_.Put(group_key, group);
    return {};
  }
  std::string pe_key = ParentOfKey(group_key);
  const Json* pe = txn_.Get(pe_key);
  const Json* nic = pe ? txn_.Get((*pe)["_cove"].value("nic_key", "")) : nullptr;
  Json desired = Json::array();
  if (nic != nullptr) {
    for (const auto& cfg : group["properties"]["privateDnsZoneConfigs"]) {
      std::string zone_key = Lower(cfg["properties"].value("privateDnsZoneId", ""));
      const Json* zone = txn_.Get(zone_key);
      if (zone == nullptr) continue;
      std::string zone_name = Lower(zone->value("name", ""));
      for (const auto& ipc : (*nic)["properties"]["ipConfigurations"]) {
        for (const auto& fqdn : ipc["properties"]["privateLinkConnectionProperties"]["fqdns"]) {
          std::string rec = RecordNameFor(Lower(fqdn.get<std::string>()), zone_name);
          if (rec.empty()) continue;
          std::string ip = ipc["properties"].value("privateIPAddress", "");
          desired.push_back({{"zone", zone_key}, {"name", rec}, {"ip", ip}});
          std::string set_key = zone_key + "/a/" + Lower(rec);
          const Json* existing = txn_.Get(set_key);
          Json s = existing != nullptr
                       ? *existing
                       : Json{{"id", zone->value("id", "") + "/A/" + rec},
                              {"name", rec},
                              {"type", "Microsoft.Network/privateDnsZones/A"},
                              {"properties",
                               {{"ttl", 10},
                                {"fqdn", rec + "." + zone_name + "."},
                                {"isAutoRegistered", false},
                                {"metadata", Json::object()},
                                {"aRecords", Json::array()},
                                {"provisioningState", "Succeeded"}}},
                              {"_cove", {{"managed_by", group_key}}}};
          s["etag"] = Guid();
          bool present = false;
          for (const auto& a : s["properties"]["aRecords"]) present = present || a.value("ipv4Address", "") == ip;
          if (!present) s["properties"]["aRecords"].push_back({{"ipv4Address", ip}});
          txn_.Put(set_key, s);
        }
      }
    }
  }
  group["_cove"]["records"] = desired;
  txn_.Put(group_key, group);
  return {};
}

Status Engine::DeleteZoneGroup(const std::string& key) {
  COVE_RETURN_IF_ERROR(SyncZoneGroup(key, true));
  txn_.EraseTree(key);
  return {};
}

Status Engine::DeletePrivateEndpoint(const std::string& key) {
  for (const auto& g : txn_.Children(key, "privatednszonegroups"))
    COVE_RETURN_IF_ERROR(DeleteZoneGroup(g));
  const Json& c = (*txn_.Get(key))["_cove"];
  std::string nic_key = c.value("nic_key", ""), connection_key = c.value("connection_key", "");
  txn_.EraseTree(nic_key);
  txn_.EraseTree(connection_key);
  txn_.EraseTree(key);
  return {};
}

Json Engine::RenderPrivateEndpoint(const Json& doc) const {
  Json out = doc;
  const Json& c = doc["_cove"];
  const Json* connection = txn_.Get(c.value("connection_key", ""));
  Json state = connection != nullptr
                   ? (*connection)["properties"]["privateLinkServiceConnectionState"]
                   : Json{{"status", "Disconnected"},
                          {"description", "The private endpoint connection was removed from the "
                                          "registry (or the registry was deleted)."},
                          {"actionsRequired", "Recreate the private endpoint."}};
  for (const char* list : {"privateLinkServiceConnections", "manualPrivateLinkServiceConnections"}) {
    for (auto& e : out["properties"][list]) {
      e["properties"]["privateLinkServiceConnectionState"] = state;
      e["properties"]["linkIdentifier"] = std::to_string(c.value("link_id", 0u));
    }
  }
  return out;
}

Json Engine::RenderZoneGroup(const Json& doc) const {
  Json out = doc;
  const Json& records = doc["_cove"].value("records", Json::array());
  for (auto& cfg : out["properties"]["privateDnsZoneConfigs"]) {
    std::string zone_key = Lower(cfg["properties"].value("privateDnsZoneId", ""));
    const Json* zone = txn_.Get(zone_key);
    std::map<std::string, Json> sets;
    for (const auto& r : records) {
      if (r.value("zone", "") != zone_key) continue;
      std::string name = r.value("name", "");
      if (!sets.count(name)) {
        sets[name] = {{"recordType", "A"},
                      {"recordSetName", name},
                      {"fqdn", name + "." + (zone ? Lower(zone->value("name", "")) : std::string())},
                      {"ttl", 10},
                      {"ipAddresses", Json::array()},
                      {"provisioningState", "Succeeded"}};
      }
      sets[name]["ipAddresses"].push_back(r.value("ip", ""));
    }
    Json list = Json::array();
    for (auto& [n, s] : sets) list.push_back(s);
    cfg["properties"]["recordSets"] = list;
  }
  return out;
}

namespace {

void ProjectPrivateEndpoint(const std::string&, const Json& doc, Snapshot& snapshot) {
  const Json& props = doc.contains("properties") ? doc["properties"] : Json::object();
  PrivateEndpointView pe;
  pe.id = Str(doc, "id");
  pe.name = Str(doc, "name");
  pe.location = Str(doc, "location");
  pe.subnet_id = Str(props["subnet"], "id");
  pe.vnet_id = pe.subnet_id.substr(0, pe.subnet_id.rfind('/'));
  pe.vnet_id = pe.vnet_id.substr(0, pe.vnet_id.rfind('/'));
  const Json& c = doc["_cove"];
  pe.manual = c.value("manual", false);
  pe.link_id = c.value("link_id", 0u);
  const char* list =
      pe.manual ? "manualPrivateLinkServiceConnections" : "privateLinkServiceConnections";
  if (props.contains(list) && !props[list].empty()) {
    pe.target_id = Str(props[list][0]["properties"], "privateLinkServiceId");
  }
  pe.registry_name = Lower(pe.target_id.substr(pe.target_id.rfind('/') + 1));
  auto conn = snapshot.documents.find(c.value("connection_key", ""));
  if (conn != snapshot.documents.end()) {
    pe.connection_id = Str(*conn->second, "id");
    pe.connection_status =
        Str((*conn->second)["properties"]["privateLinkServiceConnectionState"], "status");
  } else {
    pe.connection_status = "Disconnected";
  }
  auto nic = snapshot.documents.find(c.value("nic_key", ""));
  if (nic != snapshot.documents.end()) {
    pe.nic_id = Str(*nic->second, "id");
    for (const auto& ipc : (*nic->second)["properties"].value("ipConfigurations", Json::array())) {
      const Json& ip = ipc["properties"];
      EndpointMember m;
      m.member_name = Str(ip["privateLinkConnectionProperties"], "requiredMemberName");
      m.group_id = Str(ip["privateLinkConnectionProperties"], "groupId");
      m.ip = Str(ip, "privateIPAddress");
      m.fqdns = Strings(ip["privateLinkConnectionProperties"]["fqdns"]);
      m.static_ip = Str(ip, "privateIPAllocationMethod") == "Static";
      pe.members.push_back(std::move(m));
    }
  }
  snapshot.private_endpoints.push_back(std::move(pe));
}

}  // namespace

void RegisterEndpointProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.Network/privateEndpoints",
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 30,
                .put = EngineFn<&Engine::PutPrivateEndpoint>,
                .remove = EngineFn<&Engine::DeletePrivateEndpoint>,
                .render = EngineFn<&Engine::RenderPrivateEndpoint>,
                .project = ProjectPrivateEndpoint});
  registry.Add({.type = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                .api_versions = NetworkApiVersions(),
                .put = EngineFn<&Engine::PutZoneGroup>,
                .remove = EngineFn<&Engine::DeleteZoneGroup>,
                .render = EngineFn<&Engine::RenderZoneGroup>});
}

}  // namespace cove::arm
