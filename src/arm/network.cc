// Microsoft.Network virtual networks, subnets, peerings and network security groups.
#include <algorithm>
#include <cctype>
#include <set>

#include "arm/engine.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

std::vector<Cidr> VnetPrefixes(const Json& vnet) {
  std::vector<Cidr> out;
  const Json& list = vnet["properties"]["addressSpace"]["addressPrefixes"];
  if (!list.is_array()) return out;
  for (const auto& s : list) {
    auto c = ParseCidr(s.get<std::string>());
    if (c.cidr) out.push_back(*c.cidr);
  }
  return out;
}

Status CheckPortRange(const std::string& value, const std::string& where) {
  if (value == "*") return {};
  auto dash = value.find('-');
  auto port = [](std::string_view s) -> int {
    if (s.empty() || s.size() > 5) return -1;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v <= 65535 ? v : -1;
  };
  int lo = port(std::string_view(value).substr(0, dash));
  int hi = dash == std::string::npos ? lo : port(std::string_view(value).substr(dash + 1));
  if (lo < 0 || hi < 0 || hi < lo) {
    return ArmFail(400, "SecurityRuleInvalidPortRange",
                   "Security rule has invalid Port range. Value provided: " + value +
                       ". Value should be an integer OR integer range with '-' delimiter. Valid "
                       "range 0-65535. (" + where + ")");
  }
  return {};
}

// A delegation's service: a resource type "Namespace.Name/type" (Microsoft.Network/dnsResolvers).
bool IsDelegationServiceName(const std::string& name) {
  size_t slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == name.size() ||
      name.find('/', slash + 1) != std::string::npos ||
      name.substr(0, slash).find('.') == std::string::npos) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '/') return false;
  }
  return true;
}

Json DefaultRule(const std::string& nsg_id, const char* name, int priority, const char* dir,
                 const char* access, const char* src, const char* dst, const char* desc) {
  return Json{{"id", nsg_id + "/defaultSecurityRules/" + name},
              {"name", name},
              {"type", "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"},
              {"properties",
               {{"provisioningState", "Succeeded"},
                {"description", desc},
                {"protocol", "*"},
                {"sourcePortRange", "*"},
                {"destinationPortRange", "*"},
                {"sourceAddressPrefix", src},
                {"destinationAddressPrefix", dst},
                {"access", access},
                {"priority", priority},
                {"direction", dir},
                {"sourcePortRanges", Json::array()},
                {"destinationPortRanges", Json::array()},
                {"sourceAddressPrefixes", Json::array()},
                {"destinationAddressPrefixes", Json::array()}}}};
}

}  // namespace

std::vector<std::string> KeysOfType(const Txn& txn, std::string_view type) {
  std::vector<std::string> out;
  for (const auto& [k, doc] : txn.documents()) {
    if (!k.empty() && k[0] == '/' && EqualsIgnoreCase(doc->value("type", ""), type)) {
      out.push_back(k);
    }
  }
  return out;
}

Result<Cidr> ParseAddressPrefix(const std::string& text, const std::string& resource_id) {
  CidrParse c = ParseCidr(text);
  if (!c.cidr) {
    return ArmFail(400, "InvalidAddressPrefixFormat",
                   "Address prefix " + text + " of resource " + resource_id +
                       " is not formatted correctly. It should follow CIDR notation, for "
                       "example 10.0.0.0/24.");
  }
  if (!c.aligned) {
    Cidr fixed{c.cidr->First(), c.cidr->length};
    return ArmFail(400, "InvalidCIDRNotation",
                   "The address prefix " + text + " in resource " + resource_id +
                       " has an invalid CIDR notation. For the given prefix length, the address "
                       "prefix should be " + fixed.ToString() + ".");
  }
  return *c.cidr;
}

std::vector<std::string> Engine::SubnetUsers(const std::string& subnet_key) const {
  std::vector<std::string> users;
  for (const auto& k : KeysOfType(txn_, "Microsoft.Network/networkInterfaces")) {
    const Json& nic = *txn_.Get(k);
    for (const auto& ipc : nic["properties"].value("ipConfigurations", Json::array())) {
      if (Lower(ipc["properties"]["subnet"].value("id", "")) == subnet_key) {
        users.push_back(ipc.value("id", ""));
      }
    }
  }
  // Gateways and DNS resolver endpoints (provider.h: subnet_users).
  const ProviderRegistry& providers = ResourceProviders();
  for (const auto& [k, doc] : txn_.documents()) {
    if (k.empty() || k[0] != '/' || !doc->is_object()) continue;
    const ResourceProvider* provider = providers.Find(doc->value("type", ""));
    if (provider == nullptr || provider->subnet_users == nullptr) continue;
    for (auto& id : provider->subnet_users(*doc, subnet_key)) users.push_back(std::move(id));
  }
  return users;
}

Status Engine::CheckSubnetPrefix(const std::string& vnet_key, const std::string& subnet_key,
                                 const std::string& subnet_name, const Cidr& prefix) {
  const Json& vnet = *txn_.Get(vnet_key);
  bool inside = false;
  for (const Cidr& space : VnetPrefixes(vnet)) inside = inside || space.Contains(prefix);
  std::string vnet_name = vnet.value("name", "");
  if (!inside) {
    return ArmFail(400, "NetcfgSubnetRangeOutsideVnet",
                   "Subnet '" + subnet_name + "' is not valid because its IP address range (" +
                       prefix.ToString() + ") is outside the IP address range of virtual network '" +
                       vnet_name + "'.");
  }
  for (const auto& k : txn_.Children(vnet_key, "subnets")) {
    if (k == subnet_key) continue;
    const Json& other = *txn_.Get(k);
    auto c = ParseCidr(other["properties"].value("addressPrefix", ""));
    if (c.cidr && c.cidr->Overlaps(prefix)) {
      return ArmFail(400, "NetcfgSubnetRangesOverlap",
                     "Subnet '" + subnet_name + "' is not valid because its IP address range (" +
                         prefix.ToString() + ") overlaps with that of an existing subnet '" +
                         other.value("name", "") + "' (" + c.cidr->ToString() +
                         ") in virtual network '" + vnet_name + "'.");
    }
  }
  return {};
}

Status Engine::CheckPeeringOverlap(const std::string& vnet_key, const std::string& remote_key,
                                   const std::vector<Cidr>& local) {
  const Json* remote = txn_.Get(remote_key);
  const Json* vnet = txn_.Get(vnet_key);
  if (remote == nullptr || vnet == nullptr) return {};
  for (const Cidr& a : local) {
    for (const Cidr& b : VnetPrefixes(*remote)) {
      if (a.Overlaps(b)) {
        return ArmFail(400, "VnetAddressSpacesOverlap",
                       "Virtual networks " + vnet->value("id", "") + " and " +
                           remote->value("id", "") +
                           " cannot be peered because their address spaces overlap. "
                           "Overlapping address prefixes: " +
                           (a.length >= b.length ? a : b).ToString());
      }
    }
  }
  return {};
}

Status Engine::PutVnet(const ArmPath& p, const Json& body, const Json* existing) {
  std::string key = p.Key();
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(), "Microsoft.Network/virtualNetworks",
                                      "The name can be up to 80 characters long. It must begin "
                                      "with a word character, and it must end with a word "
                                      "character or with '_'. The name may contain word "
                                      "characters or '.', '-', '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(Body space, props.Object("addressSpace"));
  bool have_prefixes = false;
  COVE_ASSIGN_OR_RETURN(auto prefixes, space.StringArray("addressPrefixes", &have_prefixes));
  if (!have_prefixes && existing != nullptr) {
    for (const auto& s : (*existing)["properties"]["addressSpace"]["addressPrefixes"]) {
      prefixes.push_back(s.get<std::string>());
    }
  }
  if (prefixes.empty()) {
    return tl::unexpected(
        BadContent("properties.addressSpace.addressPrefixes", "needs at least one prefix"));
  }
  std::vector<Cidr> cidrs;
  for (const auto& s : prefixes) {
    COVE_ASSIGN_OR_RETURN(Cidr c, ParseAddressPrefix(s, doc["id"].get<std::string>()));
    cidrs.push_back(c);
  }
  COVE_ASSIGN_OR_RETURN(Body dhcp, props.Object("dhcpOptions"));
  COVE_ASSIGN_OR_RETURN(auto dns_servers, dhcp.StringArray("dnsServers"));
  for (const auto& s : dns_servers) {
    if (!ParseIpv4(s)) {
      return tl::unexpected(BadContent("properties.dhcpOptions.dnsServers",
                                       "holds '" + s + "', which is not an IPv4 address"));
    }
  }
  Json& dp = doc["properties"];
  dp["addressSpace"] = {{"addressPrefixes", prefixes}};
  if (dhcp.present() || !dp.contains("dhcpOptions")) dp["dhcpOptions"] = {{"dnsServers", dns_servers}};
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = Guid();
  dp["enableDdosProtection"] = false;
  dp.erase("subnets");
  dp.erase("virtualNetworkPeerings");
  txn_.Put(key, doc);

  // Peers (either direction) must not overlap the new address space.
  for (const auto& k : KeysOfType(txn_, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings")) {
    const Json& peering = *txn_.Get(k);
    std::string owner = ParentOfKey(k);
    std::string remote = Lower(peering["properties"]["remoteVirtualNetwork"].value("id", ""));
    if (owner == key) COVE_RETURN_IF_ERROR(CheckPeeringOverlap(key, remote, cidrs));
    if (remote == key) COVE_RETURN_IF_ERROR(CheckPeeringOverlap(key, owner, cidrs));
  }

  bool have_subnets = false;
  COVE_ASSIGN_OR_RETURN(auto subnets, props.Array("subnets", &have_subnets));
  if (have_subnets) {
    std::set<std::string> wanted;
    for (const auto& s : subnets) {
      COVE_ASSIGN_OR_RETURN(auto name, s.String("name"));
      if (!name || name->empty()) return tl::unexpected(BadContent(s.where() + ".name", "is required"));
      wanted.insert(Lower(*name));
    }
    for (const auto& k : txn_.Children(key, "subnets")) {
      if (!wanted.count(LastSegment(k))) COVE_RETURN_IF_ERROR(DeleteSubnet(k));
    }
    for (const auto& s : subnets) {
      ArmPath child = p;
      child.types.push_back("subnets");
      child.names.push_back(s.json()->value("name", ""));
      COVE_RETURN_IF_ERROR(PutSubnet(child, *s.json(), txn_.Get(child.Key())));
    }
  }
  for (const auto& k : txn_.Children(key, "subnets")) {
    const Json& s = *txn_.Get(k);
    auto c = ParseCidr(s["properties"].value("addressPrefix", ""));
    if (c.cidr) COVE_RETURN_IF_ERROR(CheckSubnetPrefix(key, k, s.value("name", ""), *c.cidr));
  }
  return {};
}

Status Engine::PutSubnet(const ArmPath& p, const Json& body, const Json* existing) {
  std::string key = p.Key();
  std::string name = p.names.back();
  if (existing == nullptr && !IsValidNetworkName(name)) {
    return tl::unexpected(NameInvalid(name, "Microsoft.Network/virtualNetworks/subnets",
                                      "Subnet names are 1-80 word characters, '.', '-' or '_', "
                                      "beginning with a word character."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, false));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto prefix, props.String("addressPrefix"));
  if (!prefix) {
    COVE_ASSIGN_OR_RETURN(auto list, props.StringArray("addressPrefixes"));
    if (!list.empty()) prefix = list.front();
  }
  if (!prefix && existing != nullptr) prefix = (*existing)["properties"].value("addressPrefix", "");
  if (!prefix || prefix->empty()) {
    return tl::unexpected(BadContent("properties.addressPrefix", "is required"));
  }
  COVE_ASSIGN_OR_RETURN(Cidr cidr, ParseAddressPrefix(*prefix, doc["id"].get<std::string>()));
  if (cidr.length > 29) {
    return ArmFail(400, "NetcfgInvalidSubnet",
                   "Subnet '" + name + "' is not valid in virtual network '" +
                       p.names[p.names.size() - 2] + "': " + cidr.ToString() +
                       " is smaller than /29, the smallest subnet Azure supports (it reserves "
                       "five addresses in every subnet).");
  }
  COVE_RETURN_IF_ERROR(CheckSubnetPrefix(p.ParentKey(), key, name, cidr));
  const Json* old_props = existing != nullptr ? &(*existing)["properties"] : nullptr;
  COVE_ASSIGN_OR_RETURN(
      auto pe_policies,
      props.Enum("privateEndpointNetworkPolicies",
                 {"Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"}));
  if (!pe_policies) {
    pe_policies = old_props ? old_props->value("privateEndpointNetworkPolicies", "Disabled")
                            : "Disabled";
  }
  COVE_ASSIGN_OR_RETURN(auto pls_policies,
                        props.Enum("privateLinkServiceNetworkPolicies", {"Enabled", "Disabled"}));
  if (!pls_policies) {
    pls_policies = old_props ? old_props->value("privateLinkServiceNetworkPolicies", "Enabled")
                             : "Enabled";
  }
  bool have_endpoints = false;
  COVE_ASSIGN_OR_RETURN(auto endpoints, props.Array("serviceEndpoints", &have_endpoints));
  Json service_endpoints = Json::array();
  for (const auto& e : endpoints) {
    COVE_ASSIGN_OR_RETURN(auto service, e.String("service"));
    if (!service || service->empty()) {
      return tl::unexpected(BadContent(e.where() + ".service", "is required"));
    }
    COVE_ASSIGN_OR_RETURN(auto locations, e.StringArray("locations"));
    if (locations.empty()) locations.push_back("*");
    service_endpoints.push_back(
        {{"service", *service}, {"locations", locations}, {"provisioningState", "Succeeded"}});
  }
  if (!have_endpoints && old_props) {
    service_endpoints = old_props->value("serviceEndpoints", Json::array());
  }
  COVE_ASSIGN_OR_RETURN(std::string nsg_id, props.RefId("networkSecurityGroup"));
  if (!nsg_id.empty()) {
    const Json* nsg = txn_.Get(Lower(nsg_id));
    if (nsg == nullptr ||
        !EqualsIgnoreCase(nsg->value("type", ""), "Microsoft.Network/networkSecurityGroups")) {
      return tl::unexpected(InvalidReference(nsg_id, doc["id"].get<std::string>()));
    }
    nsg_id = nsg->value("id", nsg_id);
  }
  bool have_delegations = false;
  COVE_ASSIGN_OR_RETURN(auto delegation_list, props.Array("delegations", &have_delegations));
  Json delegations = Json::array();
  for (size_t i = 0; i < delegation_list.size(); ++i) {
    const Body& d = delegation_list[i];
    COVE_ASSIGN_OR_RETURN(auto delegation_name, d.String("name"));
    COVE_ASSIGN_OR_RETURN(Body delegation_props, d.Object("properties"));
    COVE_ASSIGN_OR_RETURN(auto service, delegation_props.String("serviceName"));
    std::string dname = delegation_name && !delegation_name->empty() ? *delegation_name
                                                                      : std::to_string(i);
    std::string delegation_id = doc["id"].get<std::string>() + "/delegations/" + dname;
    if (!service || !IsDelegationServiceName(*service)) {
      return ArmFail(400, "InvalidServiceNameOnDelegation",
                     "The service name " + service.value_or("") + " specified on delegation " +
                         delegation_id +
                         " is not valid. A service name is a resource type, for example "
                         "Microsoft.Network/dnsResolvers.");
    }
    delegations.push_back({{"id", delegation_id},
                           {"name", dname},
                           {"type", "Microsoft.Network/virtualNetworks/subnets/delegations"},
                           {"properties",
                            {{"serviceName", *service},
                             {"actions", {"Microsoft.Network/virtualNetworks/subnets/join/action"}},
                             {"provisioningState", "Succeeded"}}}});
  }
  if (!have_delegations && old_props) {
    delegations = old_props->value("delegations", Json::array());
  }
  if (existing != nullptr) {
    auto users = SubnetUsers(key);
    if (!users.empty() && (*existing)["properties"].value("addressPrefix", "") != cidr.ToString()) {
      return ArmFail(400, "InUseSubnetCannotBeUpdated",
                     "Subnet " + name + " is in use by " + users.front() +
                         " and its address prefix cannot be changed.");
    }
    auto service_names = [](const Json& list) {
      std::set<std::string> out;
      for (const auto& d : list) out.insert(Lower(d["properties"].value("serviceName", "")));
      return out;
    };
    if (!users.empty() && service_names(delegations) !=
                              service_names(old_props->value("delegations", Json::array()))) {
      return ArmFail(400, "InUseSubnetCannotBeUpdated",
                     "Subnet " + name + " is in use by " + users.front() +
                         " and its delegations cannot be changed.");
    }
    std::erase_if(users, [](const std::string& id) {
      return Lower(id).find("/providers/microsoft.network/networkinterfaces/") == std::string::npos;
    });
    if (!users.empty() && *pe_policies == "Enabled") {
      return ArmFail(400, "PrivateEndpointNetworkPoliciesCannotBeEnabledOnPrivateEndpointSubnet",
                     "Private endpoint network policies cannot be set to Enabled on subnet " +
                         doc["id"].get<std::string>() +
                         " because it holds private endpoints (" + users.front() +
                         "). Use NetworkSecurityGroupEnabled or RouteTableEnabled to apply "
                         "policies to private endpoints.");
    }
  }
  Json& dp = doc["properties"];
  dp["addressPrefix"] = cidr.ToString();
  dp.erase("addressPrefixes");
  dp["privateEndpointNetworkPolicies"] = *pe_policies;
  dp["privateLinkServiceNetworkPolicies"] = *pls_policies;
  dp["serviceEndpoints"] = service_endpoints;
  if (delegations.empty()) {
    dp.erase("delegations");  // as answered before delegations were kept
  } else {
    dp["delegations"] = delegations;
  }
  if (nsg_id.empty()) {
    dp.erase("networkSecurityGroup");
  } else {
    dp["networkSecurityGroup"] = {{"id", nsg_id}};
  }
  dp.erase("ipConfigurations");
  dp.erase("privateEndpoints");
  txn_.Put(key, doc);
  return {};
}

Status Engine::DeleteSubnet(const std::string& key) {
  auto users = SubnetUsers(key);
  if (!users.empty()) {
    const Json& s = *txn_.Get(key);
    return ArmFail(400, "InUseSubnetCannotBeDeleted",
                   "Subnet " + s.value("name", "") + " is in use by " + users.front() +
                       " and cannot be deleted. In order to delete the subnet, delete all the "
                       "resources within the subnet. See aka.ms/deletesubnet.");
  }
  txn_.EraseTree(key);
  return {};
}

Status Engine::DeleteVnet(const std::string& key) {
  for (const auto& k : txn_.Children(key, "subnets")) COVE_RETURN_IF_ERROR(DeleteSubnet(k));
  txn_.EraseTree(key);
  return {};
}

Status Engine::PutPeering(const ArmPath& p, const Json& body, const Json* existing) {
  std::string key = p.Key();
  std::string vnet_key = p.ParentKey();
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(),
                                      "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
                                      "Names are 1-80 word characters, '.', '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, false));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string remote_id, props.RefId("remoteVirtualNetwork"));
  if (remote_id.empty()) {
    return tl::unexpected(BadContent("properties.remoteVirtualNetwork.id", "is required"));
  }
  std::string remote_key = Lower(remote_id);
  const Json* remote = txn_.Get(remote_key);
  if (remote == nullptr ||
      !EqualsIgnoreCase(remote->value("type", ""), "Microsoft.Network/virtualNetworks")) {
    return tl::unexpected(InvalidReference(remote_id, doc["id"].get<std::string>()));
  }
  if (remote_key == vnet_key) {
    return ArmFail(400, "CannotPeerVirtualNetworkWithItself",
                   "Virtual network " + remote_id + " cannot be peered with itself.");
  }
  auto remote_path = ParseResourceId(remote_id);
  if (remote_path && remote_path->SubscriptionKey() != p.SubscriptionKey()) {
    COVE_RETURN_IF_ERROR(CheckRegistered(remote_path->SubscriptionKey(), "Microsoft.Network"));
  }
  for (const auto& k : txn_.Children(vnet_key, "virtualnetworkpeerings")) {
    if (k == key) continue;
    if (Lower((*txn_.Get(k))["properties"]["remoteVirtualNetwork"].value("id", "")) == remote_key) {
      return ArmFail(400, "VnetPeeringAlreadyExists",
                     "Virtual network " + txn_.Get(vnet_key)->value("id", "") +
                         " already has peering " + txn_.Get(k)->value("name", "") + " to " +
                         remote_id + ".");
    }
  }
  COVE_RETURN_IF_ERROR(
      CheckPeeringOverlap(vnet_key, remote_key, VnetPrefixes(*txn_.Get(vnet_key))));
  Json& dp = doc["properties"];
  dp["remoteVirtualNetwork"] = {{"id", remote->value("id", remote_id)}};
  dp["remoteAddressSpace"] = (*remote)["properties"]["addressSpace"];
  for (const auto& [field, def] : std::initializer_list<std::pair<const char*, bool>>{
           {"allowVirtualNetworkAccess", true},
           {"allowForwardedTraffic", false},
           {"allowGatewayTransit", false},
           {"useRemoteGateways", false}}) {
    COVE_ASSIGN_OR_RETURN(auto v, props.Bool(field));
    dp[field] = v ? *v : (existing ? (*existing)["properties"].value(field, def) : def);
  }
  if (dp["useRemoteGateways"].get<bool>()) {
    // Gateway transit (gateways.cc models the gateways): the remote VNet has one, this VNet
    // none, and the remote side's peering back (when it exists) allows transit.
    if (GatewaysInVnet(txn_, remote_key).empty()) {
      return ArmFail(400, "RemotePeeringDoesNotHaveGateway",
                     "Virtual network " + remote_id +
                         " has no virtual network gateway, so peering " + p.names.back() +
                         " cannot set useRemoteGateways.");
    }
    if (!GatewaysInVnet(txn_, vnet_key).empty()) {
      return ArmFail(400, "UseRemoteGatewaysNotAllowedWithLocalGateway",
                     "Virtual network " + txn_.Get(vnet_key)->value("id", "") +
                         " has a virtual network gateway of its own, so peering " +
                         p.names.back() + " cannot set useRemoteGateways.");
    }
    for (const auto& k : txn_.Children(remote_key, "virtualnetworkpeerings")) {
      const Json& back = (*txn_.Get(k))["properties"];
      if (Lower(back["remoteVirtualNetwork"].value("id", "")) == vnet_key &&
          !back.value("allowGatewayTransit", false)) {
        return ArmFail(400, "RemotePeeringDoesNotAllowGatewayTransit",
                       "Peering " + txn_.Get(k)->value("id", "") +
                           " does not set allowGatewayTransit, so peering " + p.names.back() +
                           " cannot set useRemoteGateways.");
      }
    }
  }
  txn_.Put(key, doc);
  return {};
}

Status Engine::PutNsg(const ArmPath& p, const Json& body, const Json* existing) {
  std::string key = p.Key();
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(), "Microsoft.Network/networkSecurityGroups",
                                      "Names are 1-80 word characters, '.', '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  if (!doc["properties"].contains("resourceGuid")) doc["properties"]["resourceGuid"] = Guid();
  for (const char* f : {"securityRules", "defaultSecurityRules", "subnets", "networkInterfaces"}) {
    doc["properties"].erase(f);
  }
  txn_.Put(key, doc);
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  bool have_rules = false;
  COVE_ASSIGN_OR_RETURN(auto rules, props.Array("securityRules", &have_rules));
  if (have_rules) {
    std::set<std::string> wanted;
    for (const auto& r : rules) {
      COVE_ASSIGN_OR_RETURN(auto name, r.String("name"));
      if (!name || name->empty()) return tl::unexpected(BadContent(r.where() + ".name", "is required"));
      wanted.insert(Lower(*name));
    }
    for (const auto& k : txn_.Children(key, "securityrules")) {
      if (!wanted.count(LastSegment(k))) txn_.EraseTree(k);
    }
    for (const auto& r : rules) {
      ArmPath child = p;
      child.types.push_back("securityRules");
      child.names.push_back(r.json()->value("name", ""));
      COVE_RETURN_IF_ERROR(PutSecurityRule(child, *r.json(), txn_.Get(child.Key())));
    }
  }
  return {};
}

Status Engine::PutSecurityRule(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(),
                                      "Microsoft.Network/networkSecurityGroups/securityRules",
                                      "Names are 1-80 word characters, '.', '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, false));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto priority, props.Int("priority"));
  if (!priority || *priority < 100 || *priority > 4096) {
    return ArmFail(400, "SecurityRuleInvalidPriority",
                   "Security rule has invalid Priority. Value provided: " +
                       (priority ? std::to_string(*priority) : std::string("none")) +
                       " Allowed range 100-4096.");
  }
  COVE_ASSIGN_OR_RETURN(auto direction, props.Enum("direction", {"Inbound", "Outbound"}));
  COVE_ASSIGN_OR_RETURN(auto access, props.Enum("access", {"Allow", "Deny"}));
  COVE_ASSIGN_OR_RETURN(auto protocol,
                        props.Enum("protocol", {"Tcp", "Udp", "Icmp", "Esp", "Ah", "*"}));
  if (!direction) return tl::unexpected(BadContent("properties.direction", "is required"));
  if (!access) return tl::unexpected(BadContent("properties.access", "is required"));
  if (!protocol) return tl::unexpected(BadContent("properties.protocol", "is required"));
  Json& dp = doc["properties"];
  dp["priority"] = *priority;
  dp["direction"] = *direction;
  dp["access"] = *access;
  dp["protocol"] = *protocol;
  for (const char* side : {"source", "destination"}) {
    std::string s = side;
    COVE_ASSIGN_OR_RETURN(auto range, props.String((s + "PortRange").c_str()));
    COVE_ASSIGN_OR_RETURN(auto ranges, props.StringArray((s + "PortRanges").c_str()));
    if (!range && ranges.empty()) range = "*";
    if (range) COVE_RETURN_IF_ERROR(CheckPortRange(*range, "properties." + s + "PortRange"));
    for (const auto& r : ranges)
      COVE_RETURN_IF_ERROR(CheckPortRange(r, "properties." + s + "PortRanges"));
    COVE_ASSIGN_OR_RETURN(auto prefix, props.String((s + "AddressPrefix").c_str()));
    COVE_ASSIGN_OR_RETURN(auto prefixes, props.StringArray((s + "AddressPrefixes").c_str()));
    if (!prefix && prefixes.empty()) prefix = "*";
    for (const auto& a : prefixes) {
      if (!ParseIpv4(a) && !ParseCidr(a).cidr) {
        return tl::unexpected(BadContent("properties." + s + "AddressPrefixes",
                                         "holds '" + a + "', which is not an address or prefix"));
      }
    }
    if (range) dp[s + "PortRange"] = *range; else dp.erase(s + "PortRange");
    dp[s + "PortRanges"] = ranges;
    if (prefix) dp[s + "AddressPrefix"] = *prefix; else dp.erase(s + "AddressPrefix");
    dp[s + "AddressPrefixes"] = prefixes;
  }
  COVE_ASSIGN_OR_RETURN(auto description, props.String("description"));
  if (description) dp["description"] = *description;
  std::string key = p.Key();
  for (const auto& k : txn_.Children(p.ParentKey(), "securityrules")) {
    if (k == key) continue;
    const Json& other = (*txn_.Get(k))["properties"];
    if (other.value("priority", 0) == *priority && other.value("direction", "") == *direction) {
      return ArmFail(400, "SecurityRuleConflict",
                     "Security rule " + p.names.back() + " conflicts with rule " +
                         txn_.Get(k)->value("name", "") +
                         ". Rules cannot have the same Priority and Direction. Priority: " +
                         std::to_string(*priority) + ", Direction: " + *direction + ".");
    }
  }
  txn_.Put(key, doc);
  return {};
}

Status Engine::DeleteNsg(const std::string& key) {
  for (const auto& k : KeysOfType(txn_, "Microsoft.Network/virtualNetworks/subnets")) {
    const Json& s = *txn_.Get(k);
    if (Lower(s["properties"].value("networkSecurityGroup", Json::object()).value("id", "")) == key) {
      return ArmFail(400, "InUseNetworkSecurityGroupCannotBeDeleted",
                     "Network security group " + txn_.Get(key)->value("id", "") +
                         " cannot be deleted because it is in use by the following resources: " +
                         s.value("id", "") + ".");
    }
  }
  txn_.EraseTree(key);
  return {};
}

Json Engine::RenderVnet(const Json& doc) const {
  Json out = doc;
  std::string key = Lower(doc.value("id", ""));
  Json subnets = Json::array(), peerings = Json::array();
  for (const auto& k : txn_.Children(key, "subnets")) subnets.push_back(RenderSubnet(*txn_.Get(k)));
  for (const auto& k : txn_.Children(key, "virtualnetworkpeerings")) {
    peerings.push_back(RenderPeering(*txn_.Get(k)));
  }
  for (auto& s : subnets) s.erase("_cove");
  out["properties"]["subnets"] = subnets;
  out["properties"]["virtualNetworkPeerings"] = peerings;
  return out;
}

Json Engine::RenderSubnet(const Json& doc) const {
  Json out = doc;
  std::string key = Lower(doc.value("id", ""));
  Json ipcs = Json::array(), pes = Json::array();
  for (const auto& id : SubnetUsers(key)) ipcs.push_back({{"id", id}});
  for (const auto& k : KeysOfType(txn_, "Microsoft.Network/privateEndpoints")) {
    const Json& pe = *txn_.Get(k);
    if (Lower(pe["properties"]["subnet"].value("id", "")) == key) {
      pes.push_back({{"id", pe.value("id", "")}});
    }
  }
  if (!ipcs.empty()) out["properties"]["ipConfigurations"] = ipcs;
  if (!pes.empty()) out["properties"]["privateEndpoints"] = pes;
  return out;
}

Json Engine::RenderPeering(const Json& doc) const {
  Json out = doc;
  std::string vnet_key = ParentOfKey(Lower(doc.value("id", "")));
  std::string remote_key = Lower(doc["properties"]["remoteVirtualNetwork"].value("id", ""));
  std::string state = "Disconnected";
  if (txn_.Get(remote_key) != nullptr) {
    state = "Initiated";
    for (const auto& k : txn_.Children(remote_key, "virtualnetworkpeerings")) {
      if (Lower((*txn_.Get(k))["properties"]["remoteVirtualNetwork"].value("id", "")) == vnet_key) {
        state = "Connected";
      }
    }
    out["properties"]["remoteAddressSpace"] = (*txn_.Get(remote_key))["properties"]["addressSpace"];
  }
  out["properties"]["peeringState"] = state;
  out["properties"]["peeringSyncLevel"] = state == "Connected" ? "FullyInSync" : "RemoteNotInSync";
  return out;
}

Json Engine::RenderNsg(const Json& doc) const {
  Json out = doc;
  std::string key = Lower(doc.value("id", ""));
  std::string id = doc.value("id", "");
  Json rules = Json::array();
  for (const auto& k : txn_.Children(key, "securityrules")) rules.push_back(*txn_.Get(k));
  std::sort(rules.begin(), rules.end(), [](const Json& a, const Json& b) {
    return a["properties"].value("priority", 0) < b["properties"].value("priority", 0);
  });
  out["properties"]["securityRules"] = rules;
  out["properties"]["defaultSecurityRules"] = Json::array(
      {DefaultRule(id, "AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork",
                   "VirtualNetwork", "Allow inbound traffic from all VMs in VNET"),
       DefaultRule(id, "AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow",
                   "AzureLoadBalancer", "*", "Allow inbound traffic from azure load balancer"),
       DefaultRule(id, "DenyAllInBound", 65500, "Inbound", "Deny", "*", "*",
                   "Deny all inbound traffic"),
       DefaultRule(id, "AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork",
                   "VirtualNetwork", "Allow outbound traffic from all VMs to all VMs in VNET"),
       DefaultRule(id, "AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet",
                   "Allow outbound traffic from all VMs to Internet"),
       DefaultRule(id, "DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*",
                   "Deny all outbound traffic")});
  Json subnets = Json::array();
  for (const auto& k : KeysOfType(txn_, "Microsoft.Network/virtualNetworks/subnets")) {
    const Json& s = *txn_.Get(k);
    if (Lower(s["properties"].value("networkSecurityGroup", Json::object()).value("id", "")) == key) {
      subnets.push_back({{"id", s.value("id", "")}});
    }
  }
  if (!subnets.empty()) out["properties"]["subnets"] = subnets;
  return out;
}

namespace {

void ProjectVnet(const std::string& key, const Json& doc, Snapshot& snapshot) {
  const Json& props = doc.contains("properties") ? doc["properties"] : Json::object();
  VnetView v;
  v.id = Str(doc, "id");
  v.name = Str(doc, "name");
  v.location = Str(doc, "location");
  v.address_prefixes = Strings(props["addressSpace"]["addressPrefixes"]);
  if (props.contains("dhcpOptions")) v.dns_servers = Strings(props["dhcpOptions"]["dnsServers"]);
  for (const Json* sn : ChildDocuments(snapshot.documents, key, "subnets")) {
    const Json& sp = (*sn)["properties"];
    SubnetView sv;
    sv.id = Str(*sn, "id");
    sv.name = Str(*sn, "name");
    sv.address_prefix = Str(sp, "addressPrefix");
    sv.private_endpoint_network_policies = sp.value("privateEndpointNetworkPolicies", "Disabled");
    if (sp.contains("networkSecurityGroup"))
      sv.network_security_group_id = Str(sp["networkSecurityGroup"], "id");
    v.subnets.push_back(std::move(sv));
  }
  for (const Json* pr : ChildDocuments(snapshot.documents, key, "virtualnetworkpeerings")) {
    const Json& pp = (*pr)["properties"];
    PeeringView pv;
    pv.id = Str(*pr, "id");
    pv.name = Str(*pr, "name");
    pv.remote_vnet_id = Str(pp["remoteVirtualNetwork"], "id");
    pv.allow_virtual_network_access = pp.value("allowVirtualNetworkAccess", true);
    pv.allow_forwarded_traffic = pp.value("allowForwardedTraffic", false);
    pv.allow_gateway_transit = pp.value("allowGatewayTransit", false);
    pv.use_remote_gateways = pp.value("useRemoteGateways", false);
    std::string remote_key = Lower(pv.remote_vnet_id);
    pv.peering_state = "Disconnected";
    if (snapshot.documents.count(remote_key)) {
      pv.peering_state = "Initiated";
      for (const Json* back :
           ChildDocuments(snapshot.documents, remote_key, "virtualnetworkpeerings")) {
        if (Lower(Str((*back)["properties"]["remoteVirtualNetwork"], "id")) == key) {
          pv.peering_state = "Connected";
        }
      }
    }
    v.peerings.push_back(std::move(pv));
  }
  snapshot.vnets.push_back(std::move(v));
}

void ProjectNsg(const std::string& key, const Json& doc, Snapshot& snapshot) {
  NsgView n;
  n.id = Str(doc, "id");
  n.name = Str(doc, "name");
  for (const Json* r : ChildDocuments(snapshot.documents, key, "securityrules")) {
    const Json& rp = (*r)["properties"];
    SecurityRuleView rv;
    rv.name = Str(*r, "name");
    rv.priority = rp.value("priority", 0);
    rv.direction = Str(rp, "direction");
    rv.access = Str(rp, "access");
    rv.protocol = Str(rp, "protocol");
    auto both = [&](const char* one, const char* many) {
      std::vector<std::string> out = Strings(rp.value(many, Json::array()));
      if (rp.contains(one)) out.push_back(Str(rp, one));
      return out;
    };
    rv.source_prefixes = both("sourceAddressPrefix", "sourceAddressPrefixes");
    rv.destination_prefixes = both("destinationAddressPrefix", "destinationAddressPrefixes");
    rv.source_ports = both("sourcePortRange", "sourcePortRanges");
    rv.destination_ports = both("destinationPortRange", "destinationPortRanges");
    n.rules.push_back(std::move(rv));
  }
  std::sort(n.rules.begin(), n.rules.end(),
            [](const auto& a, const auto& b) { return a.priority < b.priority; });
  snapshot.network_security_groups.push_back(std::move(n));
}

}  // namespace

void RegisterNetworkProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.Network/virtualNetworks",
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 70,
                .put = EngineFn<&Engine::PutVnet>,
                .remove = EngineFn<&Engine::DeleteVnet>,
                .render = EngineFn<&Engine::RenderVnet>,
                .project = ProjectVnet});
  registry.Add({.type = "Microsoft.Network/virtualNetworks/subnets",
                .api_versions = NetworkApiVersions(),
                .put = EngineFn<&Engine::PutSubnet>,
                .remove = EngineFn<&Engine::DeleteSubnet>,
                .render = EngineFn<&Engine::RenderSubnet>});
  registry.Add({.type = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
                .api_versions = NetworkApiVersions(),
                .put = EngineFn<&Engine::PutPeering>,
                .render = EngineFn<&Engine::RenderPeering>});
  registry.Add({.type = "Microsoft.Network/networkSecurityGroups",
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 80,
                .put = EngineFn<&Engine::PutNsg>,
                .remove = EngineFn<&Engine::DeleteNsg>,
                .render = EngineFn<&Engine::RenderNsg>,
                .project = ProjectNsg});
  registry.Add({.type = "Microsoft.Network/networkSecurityGroups/securityRules",
                .api_versions = NetworkApiVersions(),
                .put = EngineFn<&Engine::PutSecurityRule>});
}

}  // namespace cove::arm
