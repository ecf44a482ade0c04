// What connects a VNet to an on-premises network (issue 14), as Microsoft.Network models it:
//
// publicIPAddresses       Standard, Static, IPv4 only. ipAddress is allocated by cove from
//                         192.0.2.10-126 (TEST-NET-1; 198.51.100.0/24 is the public machines'
//                         pool, 192.0.2.130-254 the on-premises sites'). Kept on updates.
// virtualNetworkGateways  gatewayType Vpn | ExpressRoute, vpnType RouteBased (PolicyBased is
//                         refused: cove's VPN is route-based IKEv2), one ipConfiguration in the
//                         VNet's subnet named exactly GatewaySubnet, a public IP (required for
//                         Vpn), one gateway of each type per VNet. bgpSettings.asn defaults to
//                         65515 (ExpressRoute gateways always use it); bgpPeeringAddress is
//                         cove's choice, always derived: the last usable address of
//                         GatewaySubnet for a Vpn gateway, the one before it for ExpressRoute (a
//                         given one is ignored, as Azure assigns it). A GatewaySubnet smaller
//                         than /27 is accepted (ARM answers carry no warnings); `cove network
//                         vnet-gateway create` warns on stderr.
// localNetworkGateways    gatewayIpAddress (IPv4), localNetworkAddressSpace, optional
//                         bgpSettings {asn, bgpPeeringAddress}.
// connections             IPsec (virtualNetworkGateway1 of type Vpn + localNetworkGateway2 +
//                         sharedKey, IKEv2) or ExpressRoute (virtualNetworkGateway1 of type
//                         ExpressRoute + peer: a circuit with its AzurePrivatePeering). The
//                         on-premises prefixes must not overlap the gateway VNet's address space
//                         (nor the spokes that use its gateway) nor another local gateway's
//                         connected to the same gateway. sharedKey is stored apart and never
//                         rendered (GET .../connections/{c}/sharedkey answers it, as Azure's
//                         ConnectionSharedKey); a missing one is generated. connectionStatus and
//                         the byte counters are rendered from the data plane's report
//                         (Engine::ConnectionStatusOf).
// expressRouteCircuits    sku {tier Standard|Premium, family MeteredData|UnlimitedData},
//                         serviceProviderProperties (any provider name: cove is the provider, so
//                         serviceProviderProvisioningState is Provisioned at once), bandwidth
//                         50-10000 Mbps as Azure offers it, serviceKey a GUID.
//   /peerings             AzurePrivatePeering only: peerASN (not reserved), vlanId 1-4094,
//                         primary and secondary /30 prefixes that do not overlap, state
//                         Enabled|Disabled; azureASN 12076.
// Deletes refuse while something uses the resource (a gateway or local gateway with
// connections, a public IP of a gateway, a circuit or its peering with connections).
//
// Error codes: see onprem_support.h (Azure's where known; "cove's name" below otherwise).
#include <algorithm>
#include <set>

#include "arm/onprem_support.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

constexpr char kPublicIpType[] = "Microsoft.Network/publicIPAddresses";
constexpr char kGatewayType[] = "Microsoft.Network/virtualNetworkGateways";
constexpr char kLocalGatewayType[] = "Microsoft.Network/localNetworkGateways";
constexpr char kConnectionType[] = "Microsoft.Network/connections";
constexpr char kCircuitType[] = "Microsoft.Network/expressRouteCircuits";
constexpr char kCircuitPeeringType[] = "Microsoft.Network/expressRouteCircuits/peerings";
constexpr char kSubnetType[] = "Microsoft.Network/virtualNetworks/subnets";

constexpr int kPublicPoolFirst = 10, kPublicPoolLast = 126;  // 192.0.2.x
constexpr int64_t kAzureGatewayAsn = 65515;
constexpr int64_t kAzureCircuitAsn = 12076;

// ------------------------------------------------------------------ shared

std::vector<Cidr> PrefixesOf(const Json& list) {
  std::vector<Cidr> out;
  if (!list.is_array()) return out;
  for (const auto& s : list) {
    if (!s.is_string()) continue;
    if (auto c = ParseCidr(s.get<std::string>()).cidr) out.push_back(*c);
  }
  return out;
}

const Json& GatewayIpConfig(const Json& gateway) {
  const Json& list = Field(Field(gateway, "properties"), "ipConfigurations");
  static const Json* empty = new Json(Json::object());
  return list.is_array() && !list.empty() ? list[0] : *empty;
}

// ------------------------------------------------------------------ public IP addresses

// The ipConfiguration (of a gateway) that uses the public IP `pip_key`; "" when none.
std::string PublicIpUser(const Txn& txn, const std::string& pip_key) {
  for (const auto& k : KeysOfType(txn, kGatewayType)) {
    const Json& ipc = GatewayIpConfig(*txn.Get(k));
    if (Lower(Field(Field(ipc, "properties"), "publicIPAddress").value("id", "")) == pip_key) {
      return ipc.value("id", "");
    }
  }
  return "";
}

Result<std::string> AllocatePublicIpAddress(const Txn& txn, const std::string& key,
                                            const Json* existing) {
  std::string mine = existing != nullptr ? Str(Field(*existing, "properties"), "ipAddress") : "";
  if (!mine.empty()) return mine;
  std::set<std::string> used;
  for (const auto& k : KeysOfType(txn, kPublicIpType)) {
    if (k != key) used.insert(Str(Field(*txn.Get(k), "properties"), "ipAddress"));
  }
  for (int h = kPublicPoolFirst; h <= kPublicPoolLast; ++h) {
    std::string a = "192.0.2." + std::to_string(h);
    if (!used.count(a)) return a;
  }
  return ArmFail(400, "PublicIPCountLimitReached",
                 "No public IP address left: cove's public IP addresses share 192.0.2.10-126.");
}

Status PutPublicIp(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kPublicIpType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  std::string id = doc.value("id", "");
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body sku, b.Object("sku"));
  COVE_ASSIGN_OR_RETURN(auto sku_name, sku.Enum("name", {"Standard", "Basic"}));
  COVE_ASSIGN_OR_RETURN(auto tier, sku.Enum("tier", {"Regional", "Global"}));
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto method, props.Enum("publicIPAllocationMethod", {"Static", "Dynamic"}));
  COVE_ASSIGN_OR_RETURN(auto version, props.Enum("publicIPAddressVersion", {"IPv4", "IPv6"}));
  COVE_ASSIGN_OR_RETURN(auto idle, props.Int("idleTimeoutInMinutes"));
  if (sku_name == "Basic") {
    // cove's name: Azure retired Basic public IPs (2025-09-30); cove never offered them.
    return ArmFail(400, "BasicSkuPublicIpAddressNotSupported",
                   "Public IP address " + id +
                       " cannot use the Basic SKU: Basic public IP addresses are retired. Use "
                       "the Standard SKU.");
  }
  if (tier == "Global") {
    return tl::unexpected(
        BadContent("sku.tier", "must be Regional: cove has no cross-region load balancer"));
  }
  if (method == "Dynamic") {
    return ArmFail(400, "StandardSkuPublicIPAddressesMustBeStatic",
                   "Standard sku publicIp " + id + " must have AllocationMethod set to Static.");
  }
  if (version == "IPv6") {
    return tl::unexpected(
        BadContent("properties.publicIPAddressVersion", "must be IPv4: cove's networks are IPv4"));
  }
  int64_t idle_minutes =
      idle ? *idle
           : (existing ? IntField(Field(*existing, "properties"), "idleTimeoutInMinutes", 4) : 4);
  if (idle_minutes < 4 || idle_minutes > 30) {
    return ArmFail(400, "PublicIPIdleTimeoutIsOutOfRange",  // cove's name
                   "Idle timeout of public IP address " + id + " is " +
                       std::to_string(idle_minutes) + " minutes; it must be 4-30 minutes.");
  }
  COVE_ASSIGN_OR_RETURN(std::string address,
                        AllocatePublicIpAddress(engine.txn(), p.Key(), existing));
  doc["sku"] = {{"name", "Standard"}, {"tier", "Regional"}};
  Json& dp = doc["properties"];
  dp["publicIPAllocationMethod"] = "Static";
  dp["publicIPAddressVersion"] = "IPv4";
  dp["idleTimeoutInMinutes"] = idle_minutes;
  dp["ipAddress"] = address;
  dp["ipTags"] = Json::array();
  dp["ddosSettings"] = {{"protectionMode", "VirtualNetworkInherited"}};
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = engine.Guid();
  dp.erase("ipConfiguration");
  engine.txn().Put(p.Key(), doc);
  return {};
}

Status DeletePublicIp(Engine& engine, const std::string& key) {
  std::string user = PublicIpUser(engine.txn(), key);
  if (!user.empty()) {
    return ArmFail(400, "PublicIPAddressCannotBeDeleted",
                   "Public IP address " + engine.txn().Get(key)->value("id", "") +
                       " can not be deleted since it is still allocated to resource " + user +
                       ". In order to delete the public IP, disassociate/detach the Public IP "
                       "address from the resource.  To learn how to do this, see "
                       "aka.ms/deletepublicip.");
  }
  engine.txn().EraseTree(key);
  return {};
}

Json RenderPublicIp(const Engine& engine, const Json& doc) {
  Json out = doc;
  std::string user = PublicIpUser(engine.txn(), Lower(doc.value("id", "")));
  if (!user.empty()) out["properties"]["ipConfiguration"] = {{"id", user}};
  return out;
}

void ProjectPublicIp(const std::string&, const Json& doc, Snapshot& snapshot) {
  snapshot.public_ips.push_back(
      {Str(doc, "id"), Str(doc, "name"), Str(Field(doc, "properties"), "ipAddress")});
}

// ------------------------------------------------------------------ virtual network gateways

const std::vector<std::string>& VpnSkus() {
  static const auto* v = new std::vector<std::string>{
      "Basic",    "VpnGw1",   "VpnGw2",   "VpnGw3",   "VpnGw4",  "VpnGw5",
      "VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ"};
  return *v;
}

const std::vector<std::string>& ExpressRouteSkus() {
  static const auto* v =
      new std::vector<std::string>{"Standard", "HighPerformance", "UltraPerformance", "ErGw1AZ",
                                   "ErGw2AZ",  "ErGw3AZ",         "ErGwScale"};
  return *v;
}

// The SKU in its canonical spelling, or InvalidGatewaySku (cove's name) for one the gateway
// type does not offer.
Result<std::string> GatewaySku(const std::string& name, const std::string& type,
                               const std::string& id) {
  const auto& skus = type == "Vpn" ? VpnSkus() : ExpressRouteSkus();
  for (const auto& s : skus) {
    if (EqualsIgnoreCase(s, name)) return s;
  }
  std::string list;
  for (const auto& s : skus) list += (list.empty() ? "" : ", ") + s;
  return ArmFail(400, "InvalidGatewaySku",
                 "The SKU '" + name + "' of virtual network gateway " + id +
                     " is not valid for a gateway of type " + type + ". Valid SKUs: " + list + ".");
}

// A gateway's VNet and type are fixed (cove's name).
Error FixedAfterCreation(const std::string& id) {
  return ArmErrorOf(400, "VirtualNetworkGatewayPropertyCannotBeUpdated",
                    "The virtual network and gateway type of virtual network gateway " + id +
                        " cannot be changed after creation; delete and recreate it.");
}

// Everything a gateway body names, checked.
struct GatewayRefs {
  const Json* subnet = nullptr;
  std::string subnet_key, vnet_key;
  Cidr subnet_prefix;
  const Json* public_ip = nullptr;  // null for an ExpressRoute gateway without one
  std::string public_ip_key;
};

Result<GatewayRefs> CheckGatewayRefs(const Txn& txn, const Json& doc, const std::string& type,
                                     const std::string& subnet_id, const std::string& pip_id,
                                     const std::string& ipc_id) {
  std::string id = doc.value("id", "");
  GatewayRefs refs;
  refs.subnet = FindOfType(txn, subnet_id, kSubnetType);
  if (refs.subnet == nullptr) return tl::unexpected(InvalidReference(subnet_id, id));
  if (refs.subnet->value("name", "") != "GatewaySubnet") {
    return ArmFail(400, "InvalidGatewaySubnet",  // cove's name
                   "Subnet " + refs.subnet->value("id", "") + " referenced by " + ipc_id +
                       " is not a gateway subnet: a virtual network gateway is deployed only to "
                       "the subnet named 'GatewaySubnet'.");
  }
  refs.subnet_key = Lower(subnet_id);
  refs.vnet_key = ParentOfKey(refs.subnet_key);
  COVE_RETURN_IF_ERROR(CheckSameRegion(doc, *txn.Get(refs.vnet_key)));
  refs.subnet_prefix =
      ParseCidr(Str(Field(*refs.subnet, "properties"), "addressPrefix")).cidr.value_or(Cidr{});
  if (pip_id.empty()) {
    if (type == "Vpn") {
      return ArmFail(400, "VpnGatewayRequiresPublicIpAddress",  // cove's name
                     "Virtual network gateway " + id +
                         " of type Vpn needs a public IP address in " + ipc_id +
                         " (properties.publicIPAddress): its IPsec tunnels end there.");
    }
    return refs;
  }
  refs.public_ip = FindOfType(txn, pip_id, kPublicIpType);
  if (refs.public_ip == nullptr) return tl::unexpected(InvalidReference(pip_id, id));
  COVE_RETURN_IF_ERROR(CheckSameRegion(doc, *refs.public_ip));
  refs.public_ip_key = Lower(pip_id);
  std::string user = PublicIpUser(txn, refs.public_ip_key);
  if (!user.empty() && Lower(user) != Lower(ipc_id)) {
    return ArmFail(400, "PublicIPAddressInUse",
                   "Resource " + ipc_id + " is referencing public IP address " +
                       refs.public_ip->value("id", "") + " that is already allocated to resource " +
                       user + ".");
  }
  return refs;
}

Status PutVnetGateway(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kGatewayType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  const Txn& txn = engine.txn();
  std::string id = doc.value("id", "");
  std::string key = p.Key();
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto type, props.Enum("gatewayType", {"Vpn", "ExpressRoute"}));
  COVE_ASSIGN_OR_RETURN(auto vpn_type, props.Enum("vpnType", {"RouteBased", "PolicyBased"}));
  COVE_ASSIGN_OR_RETURN(Body sku, props.Object("sku"));
  COVE_ASSIGN_OR_RETURN(auto sku_name, sku.String("name"));
  COVE_ASSIGN_OR_RETURN(auto active_active, props.Bool("activeActive"));
  COVE_ASSIGN_OR_RETURN(auto enable_bgp, props.Bool("enableBgp"));
  COVE_ASSIGN_OR_RETURN(Body bgp, props.Object("bgpSettings"));
  COVE_ASSIGN_OR_RETURN(auto asn, bgp.Int("asn"));
  COVE_ASSIGN_OR_RETURN(auto peer_weight, bgp.Int("peerWeight"));
  COVE_ASSIGN_OR_RETURN(auto ip_configs, props.Array("ipConfigurations"));
  if (!type) type = old ? Str(*old, "gatewayType") : "Vpn";
  if (type->empty()) type = "Vpn";
  if (old != nullptr && Str(*old, "gatewayType") != *type) {
    return tl::unexpected(FixedAfterCreation(id));
  }
  if (vpn_type == "PolicyBased") {
    return ArmFail(400, "PolicyBasedGatewayNotSupported",  // cove's name
                   "Virtual network gateway " + id +
                       " cannot be PolicyBased: cove's VPN gateways are RouteBased (IKEv2 with "
                       "route-based tunnels, as strongSwan runs them). Use vpnType RouteBased.");
  }
  if (active_active.value_or(false)) {
    return ArmFail(400, "ActiveActiveGatewayNotSupported",  // cove's name
                   "Virtual network gateway " + id +
                       " cannot be active-active: cove runs one gateway instance.");
  }
  if (!sku_name && old) sku_name = Str(Field(*old, "sku"), "name");
  if (!sku_name || sku_name->empty()) {
    return tl::unexpected(BadContent("properties.sku.name", "is required"));
  }
  COVE_ASSIGN_OR_RETURN(std::string sku_canonical, GatewaySku(*sku_name, *type, id));
  if (ip_configs.empty() && old) {
    // An update that leaves the ipConfiguration out keeps it (PATCH sends it back anyway).
    ip_configs.emplace_back(&(*old)["ipConfigurations"][0], "properties.ipConfigurations[0]");
  }
  if (ip_configs.size() != 1) {
    return tl::unexpected(
        BadContent("properties.ipConfigurations",
                   ip_configs.empty() ? "needs one ipConfiguration with the GatewaySubnet"
                                      : "holds one ipConfiguration (active-active gateways are not "
                                        "supported)"));
  }
  const Body& ipc = ip_configs[0];
  COVE_ASSIGN_OR_RETURN(auto ipc_name, ipc.String("name"));
  COVE_ASSIGN_OR_RETURN(Body ipc_props, ipc.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string subnet_id, ipc_props.RefId("subnet"));
  COVE_ASSIGN_OR_RETURN(std::string pip_id, ipc_props.RefId("publicIPAddress"));
  if (subnet_id.empty()) {
    return tl::unexpected(BadContent(ipc_props.where() + ".subnet.id", "is required"));
  }
  int64_t gateway_asn = asn ? *asn
                            : (old ? IntField(Field(*old, "bgpSettings"), "asn", kAzureGatewayAsn)
                                   : kAzureGatewayAsn);
  if (*type == "ExpressRoute" && gateway_asn != kAzureGatewayAsn) {
    return ArmFail(400, "InvalidAsn",
                   "Virtual network gateway " + id +
                       " is an ExpressRoute gateway, whose ASN is always 65515; bgpSettings.asn " +
                       std::to_string(gateway_asn) + " cannot be set.");
  }
  COVE_RETURN_IF_ERROR(CheckAsn(gateway_asn, "virtual network gateway " + id, true));
  int64_t weight = peer_weight.value_or(0);
  if (weight < 0 || weight > 100) {
    return tl::unexpected(BadContent("properties.bgpSettings.peerWeight", "must be 0-100"));
  }
  std::string ipc_id = id + "/ipConfigurations/" + ipc_name.value_or("default");
  COVE_ASSIGN_OR_RETURN(GatewayRefs refs,
                        CheckGatewayRefs(txn, doc, *type, subnet_id, pip_id, ipc_id));
  if (existing != nullptr && Str(Field(*existing, "_cove"), "subnet_key") != refs.subnet_key) {
    return tl::unexpected(FixedAfterCreation(id));
  }
  for (const auto& k : GatewaysInVnet(txn, refs.vnet_key)) {
    if (k != key && Str(Field(*txn.Get(k), "properties"), "gatewayType") == *type) {
      return ArmFail(400, "VnetGatewayAlreadyExists",  // cove's name
                     "Virtual network " + txn.Get(refs.vnet_key)->value("id", "") +
                         " already has a virtual network gateway of type " + *type + ": " +
                         txn.Get(k)->value("id", "") +
                         ". A virtual network has at most one VPN gateway and one ExpressRoute "
                         "gateway.");
    }
  }
  bool bgp_on = enable_bgp.value_or(old ? old->value("enableBgp", false) : false);
  if (bgp_on && sku_canonical == "Basic") {
    return ArmFail(400, "BgpNotSupportedOnBasicSku",  // cove's name
                   "Virtual network gateway " + id + " uses the Basic SKU, which has no BGP.");
  }
  uint32_t peering = refs.subnet_prefix.Last() - (*type == "Vpn" ? 1 : 2);
  std::string public_address =
      refs.public_ip != nullptr ? Str(Field(*refs.public_ip, "properties"), "ipAddress") : "";

  Json ipc_doc = {{"id", ipc_id},
                  {"name", ipc_name.value_or("default")},
                  {"type", "Microsoft.Network/virtualNetworkGateways/ipConfigurations"},
                  {"properties",
                   {{"privateIPAllocationMethod", "Dynamic"},
                    {"subnet", {{"id", refs.subnet->value("id", subnet_id)}}},
                    {"provisioningState", "Succeeded"}}}};
  if (refs.public_ip != nullptr) {
    ipc_doc["properties"]["publicIPAddress"] = {{"id", refs.public_ip->value("id", pip_id)}};
  }
  Json& dp = doc["properties"];
  dp["ipConfigurations"] = Json::array({ipc_doc});
  dp["gatewayType"] = *type;
  dp["vpnType"] = "RouteBased";
  dp["vpnGatewayGeneration"] = *type == "Vpn" ? "Generation1" : "None";
  dp["sku"] = {{"name", sku_canonical}, {"tier", sku_canonical}, {"capacity", 2}};
  dp["enableBgp"] = bgp_on;
  dp["activeActive"] = false;
  dp["enablePrivateIpAddress"] = false;
  dp["bgpSettings"] = {
      {"asn", gateway_asn},
      {"bgpPeeringAddress", FormatIpv4(peering)},
      {"peerWeight", weight},
      {"bgpPeeringAddresses",
       Json::array({{{"ipconfigurationId", ipc_id},
                     {"defaultBgpIpAddresses", Json::array({FormatIpv4(peering)})},
                     {"customBgpIpAddresses", Json::array()},
                     {"tunnelIpAddresses",
                      public_address.empty() ? Json::array() : Json::array({public_address})}}})}};
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = engine.Guid();
  doc["_cove"] = {{"subnet_key", refs.subnet_key}, {"vnet_key", refs.vnet_key}};
  engine.txn().Put(key, doc);
  return {};
}

Status DeleteVnetGateway(Engine& engine, const std::string& key) {
  const Txn& txn = engine.txn();
  std::string id = txn.Get(key)->value("id", "");
  auto connections = ReferencesTo(txn, kConnectionType, "virtualNetworkGateway1", key);
  if (!connections.empty()) {
    return ArmFail(400, "VirtualNetworkGatewayCannotBeDeleted",
                   "Virtual network gateway " + id +
                       " cannot be deleted because it is used by connection(s) " +
                       IdsOf(txn, connections) + ". Delete the connections first.");
  }
  std::string vnet_key = Str(Field(*txn.Get(key), "_cove"), "vnet_key");
  for (const auto& k :
       KeysOfType(txn, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings")) {
    const Json& pp = Field(*txn.Get(k), "properties");
    if (pp.value("useRemoteGateways", false) &&
        Lower(Field(pp, "remoteVirtualNetwork").value("id", "")) == vnet_key &&
        GatewaysInVnet(txn, vnet_key).size() == 1) {
      return ArmFail(400, "VirtualNetworkGatewayCannotBeDeleted",
                     "Virtual network gateway " + id + " cannot be deleted because peering " +
                         txn.Get(k)->value("id", "") +
                         " uses it (useRemoteGateways). Update the peering first.");
    }
  }
  engine.txn().EraseTree(key);
  return {};
}

std::vector<std::string> GatewaySubnetUsers(const Json& doc, const std::string& subnet_key) {
  if (Str(Field(doc, "_cove"), "subnet_key") != subnet_key) return {};
  return {GatewayIpConfig(doc).value("id", "")};
}

void ProjectVnetGateway(const std::string&, const Json& doc, Snapshot& snapshot) {
  const Json& props = Field(doc, "properties");
  const Json& ipc = Field(GatewayIpConfig(doc), "properties");
  const Json& bgp = Field(props, "bgpSettings");
  VnetGatewayView g;
  g.id = Str(doc, "id");
  g.name = Str(doc, "name");
  g.gateway_subnet_id = Str(Field(ipc, "subnet"), "id");
  g.vnet_id = g.gateway_subnet_id.substr(0, Lower(g.gateway_subnet_id).rfind("/subnets/"));
  if (const Json* subnet = snapshot.Find(g.gateway_subnet_id)) {
    g.gateway_subnet_prefix = Str(Field(*subnet, "properties"), "addressPrefix");
  }
  g.gateway_type = Str(props, "gatewayType");
  g.sku = Str(Field(props, "sku"), "name");
  if (const Json* pip = snapshot.Find(Str(Field(ipc, "publicIPAddress"), "id"))) {
    g.public_ip = Str(Field(*pip, "properties"), "ipAddress");
  }
  g.enable_bgp = props.value("enableBgp", false);
  g.bgp_asn = static_cast<uint32_t>(IntField(bgp, "asn", kAzureGatewayAsn));
  g.bgp_peering_address = Str(bgp, "bgpPeeringAddress");
  snapshot.vnet_gateways.push_back(std::move(g));
}

// ------------------------------------------------------------------ local network gateways

// What on-premises prefixes must not overlap once connection `connection_key` joins `gateway_key`
// to `local_key`: the gateway VNet's address space and the spokes that use its gateway
// (useRemoteGateways), and every other local gateway connected to the same gateway.
Status CheckSitePrefixes(const Txn& txn, const std::string& gateway_key,
                         const std::string& local_key) {
  const Json& gateway = *txn.Get(gateway_key);
  const Json& local = *txn.Get(local_key);
  std::vector<Cidr> site = PrefixesOf(
      Field(Field(Field(local, "properties"), "localNetworkAddressSpace"), "addressPrefixes"));
  std::vector<std::string> vnets = {Str(Field(gateway, "_cove"), "vnet_key")};
  for (const auto& k :
       KeysOfType(txn, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings")) {
    const Json& pp = Field(*txn.Get(k), "properties");
    if (pp.value("useRemoteGateways", false) &&
        Lower(Field(pp, "remoteVirtualNetwork").value("id", "")) == vnets.front()) {
      vnets.push_back(ParentOfKey(k));
    }
  }
  for (const auto& vnet_key : vnets) {
    const Json* vnet = txn.Get(vnet_key);
    if (vnet == nullptr) continue;
    for (const Cidr& b :
         PrefixesOf(Field(Field(Field(*vnet, "properties"), "addressSpace"), "addressPrefixes"))) {
      for (const Cidr& a : site) {
        if (!a.Overlaps(b)) continue;
        return ArmFail(400, "LocalNetworkGatewayAddressSpaceOverlapsVirtualNetwork",  // cove's
                       "The address space of local network gateway " + local.value("id", "") +
                           " (" + a.ToString() +
                           ") overlaps the address space of virtual "
                           "network " +
                           vnet->value("id", "") + " (" + b.ToString() +
                           "), which reaches it through virtual network gateway " +
                           gateway.value("id", "") + ".");
      }
    }
  }
  for (const auto& c : ReferencesTo(txn, kConnectionType, "virtualNetworkGateway1", gateway_key)) {
    std::string other_key =
        Lower(Field(Field(*txn.Get(c), "properties"), "localNetworkGateway2").value("id", ""));
    const Json* other = txn.Get(other_key);
    if (other == nullptr || other_key == local_key) continue;
    for (const Cidr& b : PrefixesOf(Field(
             Field(Field(*other, "properties"), "localNetworkAddressSpace"), "addressPrefixes"))) {
      for (const Cidr& a : site) {
        if (!a.Overlaps(b)) continue;
        return ArmFail(400, "LocalNetworkGatewayAddressSpacesOverlap",  // cove's name
                       "The address space of local network gateway " + local.value("id", "") +
                           " (" + a.ToString() + ") overlaps that of local network gateway " +
                           other->value("id", "") + " (" + b.ToString() + "), which connection " +
                           txn.Get(c)->value("id", "") +
                           " connects to the same virtual network gateway " +
                           gateway.value("id", "") + ".");
      }
    }
  }
  return {};
}

Status PutLocalGateway(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kLocalGatewayType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  std::string id = doc.value("id", "");
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto address, props.String("gatewayIpAddress"));
  COVE_ASSIGN_OR_RETURN(Body space, props.Object("localNetworkAddressSpace"));
  bool have_prefixes = false;
  COVE_ASSIGN_OR_RETURN(auto prefixes, space.StringArray("addressPrefixes", &have_prefixes));
  COVE_ASSIGN_OR_RETURN(Body bgp, props.Object("bgpSettings"));
  COVE_ASSIGN_OR_RETURN(auto asn, bgp.Int("asn"));
  COVE_ASSIGN_OR_RETURN(auto peering, bgp.String("bgpPeeringAddress"));
  COVE_ASSIGN_OR_RETURN(auto weight, bgp.Int("peerWeight"));
  if (!address && old) address = Str(*old, "gatewayIpAddress");
  if (!address || !ParseIpv4(*address)) {
    return tl::unexpected(BadContent("properties.gatewayIpAddress",
                                     "must be the IPv4 address of the on-premises VPN device"));
  }
  if (!have_prefixes && old) {
    for (const auto& s : Field(Field(*old, "localNetworkAddressSpace"), "addressPrefixes")) {
      prefixes.push_back(s.get<std::string>());
    }
  }
  for (const auto& s : prefixes) COVE_RETURN_IF_ERROR(ParseAddressPrefix(s, id));
  Json bgp_doc;
  if (bgp.present()) {
    if (!asn) return tl::unexpected(BadContent("properties.bgpSettings.asn", "is required"));
    COVE_RETURN_IF_ERROR(CheckAsn(*asn, "local network gateway " + id, false));
    if (!peering || !ParseIpv4(*peering)) {
      return tl::unexpected(BadContent("properties.bgpSettings.bgpPeeringAddress",
                                       "must be the IPv4 address of the on-premises BGP peer"));
    }
    bgp_doc = {{"asn", *asn}, {"bgpPeeringAddress", *peering}, {"peerWeight", weight.value_or(0)}};
  } else if (old && old->contains("bgpSettings") && !b.json()->contains("properties")) {
    bgp_doc = (*old)["bgpSettings"];
  }
  if (prefixes.empty() && bgp_doc.is_null()) {
    return tl::unexpected(BadContent("properties.localNetworkAddressSpace.addressPrefixes",
                                     "needs at least one prefix (or bgpSettings)"));
  }
  Json& dp = doc["properties"];
  dp["gatewayIpAddress"] = *address;
  dp["localNetworkAddressSpace"] = {{"addressPrefixes", prefixes}};
  if (bgp_doc.is_null()) {
    dp.erase("bgpSettings");
  } else {
    dp["bgpSettings"] = bgp_doc;
  }
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = engine.Guid();
  std::string key = p.Key();
  engine.txn().Put(key, doc);
  for (const auto& c : ReferencesTo(engine.txn(), kConnectionType, "localNetworkGateway2", key)) {
    std::string gateway_key = Lower(
        Field(Field(*engine.txn().Get(c), "properties"), "virtualNetworkGateway1").value("id", ""));
    if (engine.txn().Get(gateway_key) != nullptr) {
      COVE_RETURN_IF_ERROR(CheckSitePrefixes(engine.txn(), gateway_key, key));
    }
  }
  return {};
}

Status DeleteLocalGateway(Engine& engine, const std::string& key) {
  auto connections = ReferencesTo(engine.txn(), kConnectionType, "localNetworkGateway2", key);
  if (!connections.empty()) {
    return ArmFail(400, "LocalNetworkGatewayCannotBeDeleted",  // cove's name
                   "Local network gateway " + engine.txn().Get(key)->value("id", "") +
                       " cannot be deleted because it is used by connection(s) " +
                       IdsOf(engine.txn(), connections) + ". Delete the connections first.");
  }
  engine.txn().EraseTree(key);
  return {};
}

void ProjectLocalGateway(const std::string&, const Json& doc, Snapshot& snapshot) {
  const Json& props = Field(doc, "properties");
  const Json& bgp = Field(props, "bgpSettings");
  LocalGatewayView l;
  l.id = Str(doc, "id");
  l.name = Str(doc, "name");
  l.gateway_ip = Str(props, "gatewayIpAddress");
  l.address_prefixes = Strings(Field(Field(props, "localNetworkAddressSpace"), "addressPrefixes"));
  l.bgp_asn = static_cast<uint32_t>(IntField(bgp, "asn", 0));
  l.bgp_peering_address = Str(bgp, "bgpPeeringAddress");
  snapshot.local_gateways.push_back(std::move(l));
}

// ------------------------------------------------------------------ connections

bool IsValidSharedKey(const std::string& key) {
  if (key.empty() || key.size() > 128) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 127; });
}

// A random pre-shared key, as Azure makes one when none is given: 32 letters and digits.
std::string NewSharedKey(Engine& engine) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string key;
  while (key.size() < 32) key.push_back(kAlphabet[engine.options().random() % 62]);
  return key;
}

Status PutConnection(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kConnectionType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  const Txn& txn = engine.txn();
  std::string id = doc.value("id", "");
  std::string key = p.Key();
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(
      auto type, props.Enum("connectionType", {"IPsec", "ExpressRoute", "Vnet2Vnet", "VPNClient"}));
  COVE_ASSIGN_OR_RETURN(std::string gateway_id, props.RefId("virtualNetworkGateway1"));
  COVE_ASSIGN_OR_RETURN(std::string local_id, props.RefId("localNetworkGateway2"));
  COVE_ASSIGN_OR_RETURN(std::string peer_id, props.RefId("peer"));
  COVE_ASSIGN_OR_RETURN(auto shared_key, props.String("sharedKey"));
  COVE_ASSIGN_OR_RETURN(auto protocol, props.Enum("connectionProtocol", {"IKEv2", "IKEv1"}));
  COVE_ASSIGN_OR_RETURN(auto enable_bgp, props.Bool("enableBgp"));
  COVE_ASSIGN_OR_RETURN(auto routing_weight, props.Int("routingWeight"));
  if (!type) return tl::unexpected(BadContent("properties.connectionType", "is required"));
  if (*type == "Vnet2Vnet" || *type == "VPNClient") {
    return ArmFail(400, "ConnectionTypeNotSupported",  // cove's name
                   "Connection " + id + " cannot be of type " + *type +
                       ": cove connects virtual networks to on-premises sites only (IPsec, "
                       "ExpressRoute).");
  }
  const char* other_field = *type == "IPsec" ? "localNetworkGateway2" : "peer";
  std::string other_id = *type == "IPsec" ? local_id : peer_id;
  if (gateway_id.empty() || other_id.empty() || (!local_id.empty() && !peer_id.empty())) {
    return ArmFail(400, "GatewayConnectionMustHaveExactlyTwoEndpoints",
                   "Virtual Network Gateway connection " + id +
                       " must have exactly two endpoints. The first endpoint must be a "
                       "VirtualNetworkGateway, the second endpoint can be a "
                       "VirtualNetworkGateway or a LocalNetworkGateway or a ExpressRouteCircuit.");
  }
  const Json* gateway = FindOfType(txn, gateway_id, kGatewayType);
  if (gateway == nullptr) return tl::unexpected(InvalidReference(gateway_id, id));
  COVE_RETURN_IF_ERROR(CheckSameRegion(doc, *gateway));
  std::string gateway_type = Str(Field(*gateway, "properties"), "gatewayType");
  std::string wanted = *type == "IPsec" ? "Vpn" : "ExpressRoute";
  if (gateway_type != wanted) {
    return ArmFail(400, "InvalidGatewayTypeForConnection",  // cove's name
                   "Connection " + id + " of type " + *type +
                       " needs a virtual network gateway of type " + wanted + "; " +
                       gateway->value("id", "") + " is of type " + gateway_type + ".");
  }
  std::string gateway_key = Lower(gateway_id);
  std::string other_key = Lower(other_id);
  const Json* other =
      FindOfType(txn, other_id, *type == "IPsec" ? kLocalGatewayType : kCircuitType);
  if (other == nullptr) return tl::unexpected(InvalidReference(other_id, id));
  if (existing != nullptr &&
      (Str(*old, "connectionType") != *type ||
       Lower(Str(Field(*old, "virtualNetworkGateway1"), "id")) != gateway_key ||
       Lower(Str(Field(*old, other_field), "id")) != other_key)) {
    return ArmFail(400, "ConnectionPropertyCannotBeUpdated",  // cove's name
                   "The type, virtual network gateway and on-premises end of connection " + id +
                       " cannot be changed after creation; delete and recreate it.");
  }
  for (const auto& c : ReferencesTo(txn, kConnectionType, "virtualNetworkGateway1", gateway_key)) {
    if (c != key &&
        Lower(Str(Field(Field(*txn.Get(c), "properties"), other_field), "id")) == other_key) {
      return ArmFail(400, "ConnectionAlreadyExists",  // cove's name
                     "Connection " + txn.Get(c)->value("id", "") + " already connects " +
                         gateway->value("id", "") + " to " + other->value("id", "") + ".");
    }
  }
  int64_t weight = routing_weight.value_or(old ? IntField(*old, "routingWeight", 0) : 0);
  if (weight < 0 || weight > 32000) {
    return tl::unexpected(BadContent("properties.routingWeight", "must be 0-32000"));
  }
  Json& dp = doc["properties"];
  dp = Json{{"provisioningState", "Succeeded"},
            {"resourceGuid", old ? Str(*old, "resourceGuid") : engine.Guid()},
            {"connectionType", *type},
            {"virtualNetworkGateway1", {{"id", gateway->value("id", gateway_id)}}},
            {"routingWeight", weight},
            {"connectionMode", "Default"},
            {"expressRouteGatewayBypass", false},
            {"useLocalAzureIpAddress", false},
            {"usePolicyBasedTrafficSelectors", false},
            {"ipsecPolicies", Json::array()},
            {"trafficSelectorPolicies", Json::array()}};
  dp[other_field] = {{"id", other->value("id", other_id)}};
  Json cove = Json::object();
  if (*type == "IPsec") {
    if (protocol == "IKEv1") {
      return ArmFail(
          400, "ConnectionProtocolNotSupported",  // cove's name
          "Connection " + id + " cannot use IKEv1: cove's VPN gateways speak IKEv2 only.");
    }
    std::string psk =
        shared_key ? *shared_key : (existing ? Str(Field(*existing, "_cove"), "sharedKey") : "");
    if (psk.empty() && !shared_key) psk = NewSharedKey(engine);
    if (!IsValidSharedKey(psk)) {
      return tl::unexpected(
          BadContent("properties.sharedKey", "must be 1-128 printable ASCII characters"));
    }
    bool bgp_on = enable_bgp.value_or(old ? old->value("enableBgp", false) : false);
    if (bgp_on) {
      const Json& gateway_props = Field(*gateway, "properties");
      const Json& local_bgp = Field(Field(*other, "properties"), "bgpSettings");
      if (!gateway_props.value("enableBgp", false) || local_bgp.empty()) {
        return ArmFail(
            400, "BgpNotEnabledOnGateways",  // cove's name
            "Connection " + id + " enables BGP, but " +
                (local_bgp.empty()
                     ? "local network gateway " + other->value("id", "") + " has no bgpSettings"
                     : "virtual network gateway " + gateway->value("id", "") +
                           " does not enable BGP") +
                ".");
      }
      int64_t local_asn = IntField(local_bgp, "asn", 0);
      if (local_asn == IntField(Field(gateway_props, "bgpSettings"), "asn", kAzureGatewayAsn)) {
        return ArmFail(400, "BgpAsnMustDiffer",  // cove's name
                       "Connection " + id + " enables BGP between ASN " +
                           std::to_string(local_asn) +
                           " and the same ASN on the Azure side; the two ends of a BGP "
                           "connection need different ASNs.");
      }
    }
    dp["connectionProtocol"] = "IKEv2";
    dp["enableBgp"] = bgp_on;
    dp["dpdTimeoutSeconds"] = 45;
    cove["sharedKey"] = psk;
  } else {
    bool has_private_peering = false;
    for (const auto& k : engine.txn().Children(other_key, "peerings")) {
      has_private_peering = has_private_peering || LastSegment(k) == "azureprivatepeering";
    }
    if (!has_private_peering) {
      return ArmFail(400, "ExpressRouteCircuitPrivatePeeringNotConfigured",  // cove's name
                     "ExpressRoute circuit " + other->value("id", "") +
                         " has no AzurePrivatePeering; connection " + id +
                         " needs it to reach the virtual network.");
    }
    dp["enableBgp"] = false;
  }
  doc["_cove"] = cove;
  engine.txn().Put(key, doc);
  if (*type == "IPsec")
    COVE_RETURN_IF_ERROR(CheckSitePrefixes(engine.txn(), gateway_key, other_key));
  return {};
}

Json RenderConnection(const Engine& engine, const Json& doc) {
  Json out = doc;
  ConnectionStatus status = engine.ConnectionStatusOf(doc.value("id", ""));
  out["properties"]["connectionStatus"] = status.status;
  out["properties"]["ingressBytesTransferred"] = status.ingress_bytes;
  out["properties"]["egressBytesTransferred"] = status.egress_bytes;
  return out;
}

// GET .../connections/{c}/sharedkey: {"id", "value"} of an IPsec connection.
Result<ArmResponse> SharedKey(Engine& engine, const ArmPath& p, bool) {
  const Json* connection = engine.txn().Get(p.ParentKey());
  if (connection == nullptr) return tl::unexpected(ResourceNotFound(p));
  if (Str(Field(*connection, "properties"), "connectionType") != "IPsec") {
    return ArmFail(400, "SharedKeyNotApplicable",  // cove's name
                   "Connection " + connection->value("id", "") +
                       " is not an IPsec connection and has no shared key.");
  }
  return ArmResponse{200, Json{{"id", connection->value("id", "") + "/sharedkey"},
                               {"value", Str(Field(*connection, "_cove"), "sharedKey")}}};
}

void ProjectConnection(const std::string&, const Json& doc, Snapshot& snapshot) {
  const Json& props = Field(doc, "properties");
  ConnectionView c;
  c.id = Str(doc, "id");
  c.name = Str(doc, "name");
  c.type = Str(props, "connectionType");
  c.gateway_id = Str(Field(props, "virtualNetworkGateway1"), "id");
  c.local_gateway_id = Str(Field(props, "localNetworkGateway2"), "id");
  c.circuit_id = Str(Field(props, "peer"), "id");
  c.shared_key = Str(Field(doc, "_cove"), "sharedKey");
  c.protocol = Str(props, "connectionProtocol");
  c.enable_bgp = props.value("enableBgp", false);
  snapshot.connections.push_back(std::move(c));
}

// ------------------------------------------------------------------ ExpressRoute circuits

constexpr int kBandwidths[] = {50, 100, 200, 500, 1000, 2000, 5000, 10000};

Status PutCircuit(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kCircuitType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  std::string id = doc.value("id", "");
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body sku, b.Object("sku"));
  COVE_ASSIGN_OR_RETURN(auto sku_name, sku.String("name"));
  COVE_ASSIGN_OR_RETURN(auto tier, sku.Enum("tier", {"Standard", "Premium"}));
  COVE_ASSIGN_OR_RETURN(auto family, sku.Enum("family", {"MeteredData", "UnlimitedData"}));
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(Body provider, props.Object("serviceProviderProperties"));
  COVE_ASSIGN_OR_RETURN(auto provider_name, provider.String("serviceProviderName"));
  COVE_ASSIGN_OR_RETURN(auto location, provider.String("peeringLocation"));
  COVE_ASSIGN_OR_RETURN(auto bandwidth, provider.Int("bandwidthInMbps"));
  const Json* old_sku = existing != nullptr ? &Field(*existing, "sku") : nullptr;
  const Json* old_provider = old ? &Field(*old, "serviceProviderProperties") : nullptr;
  if (sku_name && (!tier || !family)) {
    // "Premium_UnlimitedData" names both.
    size_t underscore = sku_name->find('_');
    Json parts = {
        {"tier", sku_name->substr(0, underscore)},
        {"family", underscore == std::string::npos ? "" : sku_name->substr(underscore + 1)}};
    Body from_name(&parts, "sku.name");
    if (!tier) {
      COVE_ASSIGN_OR_RETURN(tier, from_name.Enum("tier", {"Standard", "Premium"}));
    }
    if (!family) {
      COVE_ASSIGN_OR_RETURN(family, from_name.Enum("family", {"MeteredData", "UnlimitedData"}));
    }
  }
  if (!tier) tier = old_sku ? Str(*old_sku, "tier") : "Standard";
  if (!family) family = old_sku ? Str(*old_sku, "family") : "MeteredData";
  if (sku_name && !EqualsIgnoreCase(*sku_name, *tier + "_" + *family)) {
    return tl::unexpected(BadContent(
        "sku.name", "must be '" + *tier + "_" + *family + "' (the tier and family it names)"));
  }
  if (!provider_name && old_provider) provider_name = Str(*old_provider, "serviceProviderName");
  if (!location && old_provider) location = Str(*old_provider, "peeringLocation");
  if (!bandwidth && old_provider) bandwidth = IntField(*old_provider, "bandwidthInMbps", 0);
  if (!provider_name || provider_name->empty()) {
    return tl::unexpected(
        BadContent("properties.serviceProviderProperties.serviceProviderName", "is required"));
  }
  if (!location || location->empty()) {
    return tl::unexpected(
        BadContent("properties.serviceProviderProperties.peeringLocation", "is required"));
  }
  if (!bandwidth || std::find(std::begin(kBandwidths), std::end(kBandwidths), *bandwidth) ==
                        std::end(kBandwidths)) {
    return ArmFail(400, "InvalidCircuitBandwidth",  // cove's name
                   "ExpressRoute circuit " + id + ": bandwidth " +
                       (bandwidth ? std::to_string(*bandwidth) : std::string("(none)")) +
                       " Mbps is not offered; the offered bandwidths are 50, 100, 200, 500, "
                       "1000, 2000, 5000 and 10000 Mbps.");
  }
  if (old_provider != nullptr) {
    if (Str(*old_provider, "serviceProviderName") != *provider_name ||
        Str(*old_provider, "peeringLocation") != *location) {
      return ArmFail(400, "CircuitPropertyCannotBeUpdated",  // cove's name
                     "The service provider and peering location of ExpressRoute circuit " + id +
                         " cannot be changed once it is provisioned; create a new circuit.");
    }
    if (*bandwidth < IntField(*old_provider, "bandwidthInMbps", 0)) {
      return ArmFail(
          400, "CircuitBandwidthCannotBeDecreased",  // cove's name
          "The bandwidth of ExpressRoute circuit " + id + " can be increased but not decreased.");
    }
    if (Str(*old_sku, "family") == "UnlimitedData" && *family == "MeteredData") {
      return ArmFail(
          400, "CircuitSkuFamilyCannotBeChanged",  // cove's name
          "ExpressRoute circuit " + id + " cannot change from UnlimitedData to MeteredData.");
    }
  }
  doc["sku"] = {{"name", *tier + "_" + *family}, {"tier", *tier}, {"family", *family}};
  Json& dp = doc["properties"];
  dp["serviceProviderProperties"] = {{"serviceProviderName", *provider_name},
                                     {"peeringLocation", *location},
                                     {"bandwidthInMbps", *bandwidth}};
  dp["circuitProvisioningState"] = "Enabled";
  dp["serviceProviderProvisioningState"] = "Provisioned";
  dp["allowClassicOperations"] = false;
  dp["globalReachEnabled"] = false;
  dp["authorizations"] = Json::array();
  dp["serviceProviderNotes"] = "";
  dp["gatewayManagerEtag"] = "";
  if (!dp.contains("serviceKey")) dp["serviceKey"] = engine.Guid();
  dp.erase("peerings");
  engine.txn().Put(p.Key(), doc);
  return {};
}

Status DeleteCircuit(Engine& engine, const std::string& key) {
  auto connections = ReferencesTo(engine.txn(), kConnectionType, "peer", key);
  if (!connections.empty()) {
    return ArmFail(400, "ExpressRouteCircuitCannotBeDeleted",  // cove's name
                   "ExpressRoute circuit " + engine.txn().Get(key)->value("id", "") +
                       " cannot be deleted because it is used by connection(s) " +
                       IdsOf(engine.txn(), connections) + ". Delete the connections first.");
  }
  engine.txn().EraseTree(key);
  return {};
}

Json RenderCircuitPeering(const Engine& engine, const Json& doc) {
  Json out = doc;
  Json connections = Json::array();
  std::string circuit_key = ParentOfKey(Lower(doc.value("id", "")));
  for (const auto& c : ReferencesTo(engine.txn(), kConnectionType, "peer", circuit_key)) {
    connections.push_back({{"id", engine.txn().Get(c)->value("id", "")}});
  }
  out["properties"]["connections"] = connections;
  return out;
}

Json RenderCircuit(const Engine& engine, const Json& doc) {
  Json out = doc;
  Json peerings = Json::array();
  for (const auto& k : engine.txn().Children(Lower(doc.value("id", "")), "peerings")) {
    peerings.push_back(RenderCircuitPeering(engine, *engine.txn().Get(k)));
  }
  out["properties"]["peerings"] = peerings;
  return out;
}

Result<Cidr> PeerPrefix(const Body& props, const char* field, const std::string& id,
                        const Json* old) {
  COVE_ASSIGN_OR_RETURN(auto text, props.String(field));
  if (!text && old) text = Str(*old, field);
  if (!text || text->empty()) {
    return tl::unexpected(BadContent(std::string("properties.") + field, "is required"));
  }
  COVE_ASSIGN_OR_RETURN(Cidr c, ParseAddressPrefix(*text, id));
  if (c.length != 30) {
    return ArmFail(400, "InvalidPeeringAddressPrefix",  // cove's name
                   std::string(field) + " " + *text + " of peering " + id +
                       " must be a /30 subnet: its first usable address is your router's, the "
                       "second Microsoft's.");
  }
  return c;
}

Status PutCircuitPeering(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, false));
  std::string id = doc.value("id", "");
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(
      auto type,
      props.Enum("peeringType", {"AzurePrivatePeering", "MicrosoftPeering", "AzurePublicPeering"}));
  COVE_ASSIGN_OR_RETURN(auto peer_asn, props.Int("peerASN"));
  COVE_ASSIGN_OR_RETURN(auto vlan, props.Int("vlanId"));
  COVE_ASSIGN_OR_RETURN(auto shared_key, props.String("sharedKey"));
  COVE_ASSIGN_OR_RETURN(auto state, props.Enum("state", {"Enabled", "Disabled"}));
  std::string name = p.names.back();
  if (!type) type = name;
  if (*type != "AzurePrivatePeering") {
    return ArmFail(400, "PeeringTypeNotSupported",  // cove's name
                   "Peering " + id + " of type " + *type +
                       " is not supported: cove's circuits offer AzurePrivatePeering only.");
  }
  if (name != *type) {
    return tl::unexpected(NameInvalid(name, kCircuitPeeringType,
                                      "A peering is named after its type: AzurePrivatePeering."));
  }
  if (!peer_asn && old) peer_asn = IntField(*old, "peerASN", 0);
  if (!peer_asn) return tl::unexpected(BadContent("properties.peerASN", "is required"));
  COVE_RETURN_IF_ERROR(CheckAsn(*peer_asn, "peering " + id, false));
  if (!vlan && old) vlan = IntField(*old, "vlanId", 0);
  if (!vlan || *vlan < 1 || *vlan > 4094) {
    return ArmFail(400, "InvalidVlanId",  // cove's name
                   "The VLAN id " + (vlan ? std::to_string(*vlan) : std::string("(none)")) +
                       " of peering " + id + " is not valid: it must be 1-4094.");
  }
  COVE_ASSIGN_OR_RETURN(Cidr primary, PeerPrefix(props, "primaryPeerAddressPrefix", id, old));
  COVE_ASSIGN_OR_RETURN(Cidr secondary, PeerPrefix(props, "secondaryPeerAddressPrefix", id, old));
  if (primary.Overlaps(secondary)) {
    return ArmFail(400, "InvalidPeeringAddressPrefix",  // cove's name
                   "The primary (" + primary.ToString() + ") and secondary (" +
                       secondary.ToString() + ") peer address prefixes of peering " + id +
                       " overlap; they must be two different /30 subnets.");
  }
  Json& dp = doc["properties"];
  dp["peeringType"] = *type;
  dp["azureASN"] = kAzureCircuitAsn;
  dp["peerASN"] = *peer_asn;
  dp["primaryPeerAddressPrefix"] = primary.ToString();
  dp["secondaryPeerAddressPrefix"] = secondary.ToString();
  dp["primaryAzurePort"] = "";
  dp["secondaryAzurePort"] = "";
  dp["vlanId"] = *vlan;
  dp["state"] = state ? *state : (old ? Str(*old, "state") : "Enabled");
  if (shared_key) dp["sharedKey"] = *shared_key;
  dp["gatewayManagerEtag"] = "";
  dp["lastModifiedBy"] = "Customer";
  dp.erase("connections");
  engine.txn().Put(p.Key(), doc);
  return {};
}

Status DeleteCircuitPeering(Engine& engine, const std::string& key) {
  auto connections = ReferencesTo(engine.txn(), kConnectionType, "peer", ParentOfKey(key));
  if (!connections.empty()) {
    return ArmFail(400, "ExpressRouteCircuitPeeringCannotBeDeleted",  // cove's name
                   "Peering " + engine.txn().Get(key)->value("id", "") +
                       " cannot be deleted because connection(s) " +
                       IdsOf(engine.txn(), connections) +
                       " use it. Delete the connections first, or set its state to Disabled.");
  }
  engine.txn().EraseTree(key);
  return {};
}

void ProjectCircuit(const std::string& key, const Json& doc, Snapshot& snapshot) {
  const Json& provider = Field(Field(doc, "properties"), "serviceProviderProperties");
  CircuitView c;
  c.id = Str(doc, "id");
  c.name = Str(doc, "name");
  c.bandwidth_mbps = static_cast<int>(IntField(provider, "bandwidthInMbps", 0));
  c.provider = Str(provider, "serviceProviderName");
  c.peering_location = Str(provider, "peeringLocation");
  c.service_key = Str(Field(doc, "properties"), "serviceKey");
  for (const Json* peering : ChildDocuments(snapshot.documents, key, "peerings")) {
    const Json& pp = Field(*peering, "properties");
    CircuitPeeringView v;
    v.name = Str(*peering, "name");
    v.peer_asn = static_cast<uint32_t>(IntField(pp, "peerASN", 0));
    v.azure_asn = static_cast<uint32_t>(IntField(pp, "azureASN", kAzureCircuitAsn));
    v.vlan_id = static_cast<int>(IntField(pp, "vlanId", 0));
    v.primary_prefix = Str(pp, "primaryPeerAddressPrefix");
    v.secondary_prefix = Str(pp, "secondaryPeerAddressPrefix");
    v.enabled = Str(pp, "state") != "Disabled";
    c.peerings.push_back(std::move(v));
  }
  snapshot.circuits.push_back(std::move(c));
}

}  // namespace

std::vector<std::string> GatewaysInVnet(const Txn& txn, const std::string& vnet_key) {
  std::vector<std::string> out;
  for (const auto& k : KeysOfType(txn, kGatewayType)) {
    if (Str(Field(*txn.Get(k), "_cove"), "vnet_key") == vnet_key) out.push_back(k);
  }
  return out;
}

void RegisterGatewayProviders(ProviderRegistry& registry) {
  registry.Add({.type = kConnectionType,
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 62,
                .put = PutConnection,
                .render = RenderConnection,
                .project = ProjectConnection});
  registry.Add({.type = "Microsoft.Network/connections/sharedkey",
                .api_versions = NetworkApiVersions(),
                .computed = SharedKey});
  registry.Add({.type = kLocalGatewayType,
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 63,
                .put = PutLocalGateway,
                .remove = DeleteLocalGateway,
                .project = ProjectLocalGateway});
  registry.Add({.type = kGatewayType,
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 64,
                .put = PutVnetGateway,
                .remove = DeleteVnetGateway,
                .project = ProjectVnetGateway,
                .subnet_users = GatewaySubnetUsers});
  registry.Add({.type = kCircuitType,
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 65,
                .put = PutCircuit,
                .remove = DeleteCircuit,
                .render = RenderCircuit,
                .project = ProjectCircuit});
  registry.Add({.type = kCircuitPeeringType,
                .api_versions = NetworkApiVersions(),
                .put = PutCircuitPeering,
                .remove = DeleteCircuitPeering,
                .render = RenderCircuitPeering});
  registry.Add({.type = kPublicIpType,
                .location = LocationRule::kRegional,
                .api_versions = NetworkApiVersions(),
                .delete_rank = 66,
                .put = PutPublicIp,
                .remove = DeletePublicIp,
                .render = RenderPublicIp,
                .project = ProjectPublicIp});
}

}  // namespace cove::arm
