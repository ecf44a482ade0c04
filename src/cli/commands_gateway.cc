// network public-ip, vnet-gateway, local-gateway, vpn-connection (+ shared-key), express-route
// (+ peering): the on-premises connectivity of issue 14, with az's names and answers
// (`public-ip create` → {"publicIp"}, `vnet-gateway create` → {"vnetGateway"},
// `vpn-connection create` → {"resource"}, the others the resource itself).
//
// `vnet-gateway create`, once the gateway is made, reads the VNet's GatewaySubnet and, when it is
// smaller than /27, warns on stderr as the Azure docs recommend (ARM's answers carry no
// warnings, so the warning is the CLI's; the gateway is created all the same).
#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kPublicIps[] = "Microsoft.Network/publicIPAddresses";
constexpr char kGateways[] = "Microsoft.Network/virtualNetworkGateways";
constexpr char kLocalGateways[] = "Microsoft.Network/localNetworkGateways";
constexpr char kConnections[] = "Microsoft.Network/connections";
constexpr char kCircuits[] = "Microsoft.Network/expressRouteCircuits";
constexpr char kVnets[] = "Microsoft.Network/virtualNetworks";

// A top-level Microsoft.Network type's show/list/delete, list by group or subscription.
SimpleResource TopLevel(std::vector<std::string> group_path, std::string noun,
                        std::string name_help, const std::string& type) {
  return {.group_path = std::move(group_path),
          .noun = std::move(noun),
          .name_help = std::move(name_help),
          .api = kApiNetwork,
          .path_of =
              [type](const std::string& sub, const ParsedArgs& a) {
                return ResourcePath(sub, *a.Get("--resource-group"), type, *a.Get("--name"));
              },
          .list_path =
              [type](const std::string& sub, const ParsedArgs& a) {
                return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" + type;
              },
          .list_group_optional = true,
          .subscription_list_path =
              [type](const std::string& sub, const ParsedArgs&) {
                return "/subscriptions/" + sub + "/providers/" + type;
              }};
}

// Creates the resource `type` named by -n in -g with `props` (and --location, --tags), and
// answers what `shape` makes of the result.
Outcome CreateTopLevel(Context& ctx, const ParsedArgs& a, const std::string& type, json body,
                       const std::function<json(const json&)>& shape = nullptr) {
  return WithSub(ctx, [&](const std::string& sub) {
    auto location = LocationOr(ctx, a, sub);
    if (!location) return Outcome::FromArm(location.error());
    body["location"] = *location;
    if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
    Outcome out = PutAt(ctx, ResourcePath(sub, *a.Get("--resource-group"), type, *a.Get("--name")),
                        kApiNetwork, body);
    if (out.value && shape) out.value = shape(*out.value);
    return out;
  });
}

std::vector<ArgSpec> CreateArgs(const std::string& name_help, std::vector<ArgSpec> own) {
  std::vector<ArgSpec> args = {GroupArg(true, false), NameArg(name_help, true, false)};
  for (auto& o : own) args.push_back(std::move(o));
  args.push_back(LocationArg());
  args.push_back(TagsArg());
  args.push_back(NoWaitArg());
  return args;
}

ArgSpec AsnArg(const std::string& help) { return {.name = "--asn", .help = help}; }
ArgSpec PeeringAddressArg() {
  return {.name = "--bgp-peering-address",
          .help = "Peering address and BGP identifier of this BGP speaker."};
}
ArgSpec PeerWeightArg() {
  return {.name = "--peer-weight", .help = "Weight (0-100) added to routes learned through BGP."};
}

// ---- public-ip ----

void AddPublicIp(Registry& r) {
  r.AddGroup({{"network", "public-ip"}, "Manage public IP addresses."});
  r.AddCommand(
      {.path = {"network", "public-ip", "create"},
       .summary = "Create a public IP address.",
       .args = CreateArgs(
           "The name of the public IP address.",
           {{.name = "--sku",
             .help = "Name of a public IP address SKU.",
             .choices = {"Basic", "Standard"},
             .default_text = "Standard"},
            {.name = "--allocation-method",
             .help = "IP address allocation method.",
             .choices = {"Dynamic", "Static"},
             .default_text = "Static"},
            {.name = "--version",
             .help = "IP address type.",
             .choices = {"IPv4", "IPv6"},
             .default_text = "IPv4"},
            {.name = "--idle-timeout", .help = "Idle timeout in minutes.", .default_text = "4"}}),
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             std::optional<int64_t> idle;
             if (auto bad = ReadInt(a, "--idle-timeout", idle)) return *bad;
             json props = {{"publicIPAllocationMethod", a.GetOr("--allocation-method", "Static")},
                           {"publicIPAddressVersion", a.GetOr("--version", "IPv4")}};
             if (idle) props["idleTimeoutInMinutes"] = *idle;
             json body = {{"sku", {{"name", a.GetOr("--sku", "Standard")}}}, {"properties", props}};
             return CreateTopLevel(ctx, a, kPublicIps, body, [](const json& v) {
               return json{{"publicIp", v}};
             });
           },
       .examples = {{"Create a static public IP address for a VPN gateway.",
                     "cove network public-ip create -g MyResourceGroup -n MyGatewayIp"}}});
  AddShowListDelete(r, TopLevel({"network", "public-ip"}, "public IP address",
                                "The name of the public IP address.", kPublicIps));
}

// ---- vnet-gateway ----

// Warns when the VNet's GatewaySubnet is smaller than /27 (the gateway is created anyway).
void WarnSmallGatewaySubnet(Context& ctx, const std::string& vnet_id) {
  auto arm = ctx.Arm();
  if (!arm) return;
  auto subnet = (*arm)->Get(vnet_id + "/subnets/GatewaySubnet", kApiNetwork);
  if (!subnet || !(*subnet).contains("properties")) return;
  std::string prefix = (*subnet)["properties"].value("addressPrefix", "");
  size_t slash = prefix.find('/');
  if (slash == std::string::npos) return;
  int length = std::atoi(prefix.c_str() + slash + 1);
  if (length > 27) {
    ctx.Warn("The GatewaySubnet " + prefix +
             " is smaller than /27. Azure recommends a /27 or "
             "larger gateway subnet, so that more gateway instances and configurations fit.");
  }
}

void AddVnetGateway(Registry& r) {
  r.AddGroup({{"network", "vnet-gateway"},
              "Use an Azure Virtual Network Gateway to establish secure, cross-premises "
              "connectivity."});
  r.AddCommand(
      {.path = {"network", "vnet-gateway", "create"},
       .summary = "Create a virtual network gateway.",
       .args = CreateArgs(
           "Name of the VNet gateway.",
           {{.name = "--vnet",
             .help = "Name or ID of an existing virtual network which has a subnet named "
                     "'GatewaySubnet'.",
             .required = true},
            {.name = "--public-ip-addresses",
             .aliases = {"--public-ip-address"},
             .help = "Specify a single public IP (name or ID) for an active-standby gateway.",
             .kind = ArgKind::kList},
            {.name = "--gateway-type",
             .help = "The gateway type.",
             .choices = {"ExpressRoute", "LocalGateway", "Vpn"},
             .default_text = "Vpn"},
            {.name = "--vpn-type",
             .help = "VPN routing type.",
             .choices = {"PolicyBased", "RouteBased"},
             .default_text = "RouteBased"},
            {.name = "--sku",
             .help = "VNet gateway SKU: VpnGw1-5 (Vpn), Standard, HighPerformance, "
                     "UltraPerformance, ErGw1AZ-3AZ (ExpressRoute).",
             .default_text = "VpnGw1"},
            AsnArg("Autonomous System Number to use for the BGP settings."),
            PeeringAddressArg(),
            PeerWeightArg()}),
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             std::optional<int64_t> asn, weight;
             if (auto bad = ReadInt(a, "--asn", asn)) return *bad;
             if (auto bad = ReadInt(a, "--peer-weight", weight)) return *bad;
             std::vector<std::string> ips = a.GetList("--public-ip-addresses");
             if (ips.size() > 1) {
               return Outcome::Usage(
                   "usage error: cove runs active-standby gateways: give one public IP address");
             }
             return WithSub(ctx, [&](const std::string& sub) {
               std::string group = *a.Get("--resource-group");
               std::string vnet_id = NameOrId(*a.Get("--vnet"), sub, group, kVnets);
               std::string type = a.GetOr("--gateway-type", "Vpn");
               json ipc_props = {{"privateIPAllocationMethod", "Dynamic"},
                                 {"subnet", {{"id", vnet_id + "/subnets/GatewaySubnet"}}}};
               if (!ips.empty()) {
                 ipc_props["publicIPAddress"] = {{"id", NameOrId(ips[0], sub, group, kPublicIps)}};
               }
               std::string sku = a.GetOr("--sku", type == "ExpressRoute" ? "Standard" : "VpnGw1");
               json props = {{"gatewayType", type},
                             {"vpnType", a.GetOr("--vpn-type", "RouteBased")},
                             {"sku", {{"name", sku}, {"tier", sku}}},
                             {"ipConfigurations",
                              {{{"name", "vnetGatewayConfig0"}, {"properties", ipc_props}}}}};
               if (asn || a.Has("--bgp-peering-address") || weight) {
                 props["enableBgp"] = true;
                 json bgp = json::object();
                 if (asn) bgp["asn"] = *asn;
                 if (weight) bgp["peerWeight"] = *weight;
                 if (auto addr = a.Get("--bgp-peering-address")) bgp["bgpPeeringAddress"] = *addr;
                 props["bgpSettings"] = bgp;
               }
               Outcome made = CreateTopLevel(ctx, a, kGateways, json{{"properties", props}},
                                             [](const json& v) {
                                               return json{{"vnetGateway", v}};
                                             });
               if (made.exit_code == 0) WarnSmallGatewaySubnet(ctx, vnet_id);
               return made;
             });
           },
       .examples = {{"Create a route-based VPN gateway with BGP.",
                     "cove network vnet-gateway create -g MyResourceGroup -n MyVnetGateway "
                     "--vnet MyVnet --public-ip-address MyGatewayIp --gateway-type Vpn "
                     "--vpn-type RouteBased --sku VpnGw1 --asn 65515"}}});
  AddShowListDelete(r, TopLevel({"network", "vnet-gateway"}, "virtual network gateway",
                                "Name of the VNet gateway.", kGateways));
}

// ---- local-gateway ----

// Applies the local gateway arguments to `props` (create and update).
void ApplyLocalGatewayArgs(const ParsedArgs& a, const std::optional<int64_t>& asn,
                           const std::optional<int64_t>& weight, json& props) {
  if (auto ip = a.Get("--gateway-ip-address")) props["gatewayIpAddress"] = *ip;
  if (a.Has("--local-address-prefixes")) {
    props["localNetworkAddressSpace"] = {
        {"addressPrefixes", a.GetList("--local-address-prefixes")}};
  }
  if (asn || a.Has("--bgp-peering-address") || weight) {
    json bgp = props.contains("bgpSettings") ? props["bgpSettings"] : json::object();
    if (asn) bgp["asn"] = *asn;
    if (weight) bgp["peerWeight"] = *weight;
    if (auto addr = a.Get("--bgp-peering-address")) bgp["bgpPeeringAddress"] = *addr;
    props["bgpSettings"] = bgp;
  }
}

void AddLocalGateway(Registry& r) {
  r.AddGroup({{"network", "local-gateway"},
              "Manage local gateways: the on-premises end of a site-to-site VPN."});
  std::vector<ArgSpec> settings = {
      {.name = "--gateway-ip-address", .help = "Gateway's public IP address (e.g. 10.1.1.1)."},
      {.name = "--local-address-prefixes",
       .help = "List of CIDR block prefixes representing the address space of the OnPremise "
               "VPN's subnet.",
       .kind = ArgKind::kList},
      AsnArg("Autonomous System Number to use for the BGP settings."),
      PeeringAddressArg(),
      PeerWeightArg()};
  std::vector<ArgSpec> create_settings = settings;
  create_settings[0].required = true;
  auto path_of = [](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"), kLocalGateways, *a.Get("--name"));
  };
  r.AddCommand({.path = {"network", "local-gateway", "create"},
                .summary = "Create a local VPN gateway.",
                .args = CreateArgs("Name of the local network gateway.", create_settings),
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      std::optional<int64_t> asn, weight;
                      if (auto bad = ReadInt(a, "--asn", asn)) return *bad;
                      if (auto bad = ReadInt(a, "--peer-weight", weight)) return *bad;
                      json props = json::object();
                      ApplyLocalGatewayArgs(a, asn, weight, props);
                      return CreateTopLevel(ctx, a, kLocalGateways, json{{"properties", props}});
                    },
                .examples = {{"Create a local gateway for an on-premises site.",
                              "cove network local-gateway create -g MyResourceGroup -n site1 "
                              "--gateway-ip-address 192.0.2.130 --local-address-prefixes "
                              "192.168.0.0/16"}}});
  std::vector<ArgSpec> update_args = {GroupArg(), NameArg("Name of the local network gateway.")};
  for (auto& s : settings) update_args.push_back(s);
  update_args.push_back(TagsArg());
  r.AddCommand({.path = {"network", "local-gateway", "update"},
                .summary = "Update a local VPN gateway.",
                .args = update_args,
                .run =
                    [path_of](Context& ctx, const ParsedArgs& a) {
                      std::optional<int64_t> asn, weight;
                      if (auto bad = ReadInt(a, "--asn", asn)) return *bad;
                      if (auto bad = ReadInt(a, "--peer-weight", weight)) return *bad;
                      return ForEachTarget(ctx, a, path_of, [&](const std::string& path) {
                        return GetModifyPut(
                            ctx, path, kApiNetwork, [&](json& g) -> std::optional<Outcome> {
                              ApplyLocalGatewayArgs(a, asn, weight, g["properties"]);
                              if (a.Has("--tags")) {
                                g["tags"] = TagsJson(a.GetList("--tags"));
                              }
                              return std::nullopt;
                            });
                      });
                    },
                .supports_ids = true});
  AddShowListDelete(r, TopLevel({"network", "local-gateway"}, "local network gateway",
                                "Name of the local network gateway.", kLocalGateways));
}

// ---- vpn-connection ----

ArgSpec ConnectionNameArg() {
  return {
      .name = "--connection-name", .help = "Connection name.", .required = true, .id_part = true};
}

std::string SharedKeyPath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, *a.Get("--resource-group"), kConnections, *a.Get("--connection-name")) +
         "/sharedkey";
}

void AddVpnConnection(Registry& r) {
  r.AddGroup({{"network", "vpn-connection"}, "Manage VPN connections."});
  r.AddCommand(
      {.path = {"network", "vpn-connection", "create"},
       .summary = "Create a VPN connection.",
       .args = CreateArgs(
           "Connection name.",
           {{.name = "--vnet-gateway1",
             .help = "Name or ID of the source virtual network gateway.",
             .required = true},
            {.name = "--local-gateway2",
             .help = "Name or ID of the destination local network gateway."},
            {.name = "--express-route-circuit2",
             .help = "Name or ID of the destination ExpressRoute circuit."},
            {.name = "--vnet-gateway2",
             .help = "Name or ID of the destination VNet gateway (VNet-to-VNet; not in cove)."},
            {.name = "--shared-key", .help = "Shared IPSec key."},
            {.name = "--enable-bgp",
             .help = "Enable BGP (Border Gateway Protocol).",
             .kind = ArgKind::kSwitch},
            {.name = "--routing-weight", .help = "Connection routing weight."},
            {.name = "--authorization-key",
             .help = "The authorization key for the VPN connection (ignored: one subscription)."}}),
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             int ends = a.Has("--local-gateway2") + a.Has("--express-route-circuit2") +
                        a.Has("--vnet-gateway2");
             if (ends != 1) {
               return Outcome::Usage(
                   "usage error: specify exactly one of --vnet-gateway2, --local-gateway2 or "
                   "--express-route-circuit2");
             }
             std::optional<int64_t> weight;
             if (auto bad = ReadInt(a, "--routing-weight", weight)) return *bad;
             return WithSub(ctx, [&](const std::string& sub) {
               std::string group = *a.Get("--resource-group");
               json props = {
                   {"virtualNetworkGateway1",
                    {{"id", NameOrId(*a.Get("--vnet-gateway1"), sub, group, kGateways)}}}};
               if (auto local = a.Get("--local-gateway2")) {
                 props["connectionType"] = "IPsec";
                 props["localNetworkGateway2"] = {
                     {"id", NameOrId(*local, sub, group, kLocalGateways)}};
               } else if (auto circuit = a.Get("--express-route-circuit2")) {
                 props["connectionType"] = "ExpressRoute";
                 props["peer"] = {{"id", NameOrId(*circuit, sub, group, kCircuits)}};
               } else {
                 props["connectionType"] = "Vnet2Vnet";
                 props["virtualNetworkGateway2"] = {
                     {"id", NameOrId(*a.Get("--vnet-gateway2"), sub, group, kGateways)}};
               }
               if (auto key = a.Get("--shared-key")) props["sharedKey"] = *key;
               if (a.Has("--enable-bgp")) props["enableBgp"] = true;
               if (weight) props["routingWeight"] = *weight;
               return CreateTopLevel(ctx, a, kConnections, json{{"properties", props}},
                                     [](const json& v) {
                                       return json{{"resource", v}};
                                     });
             });
           },
       .examples = {{"Create a site-to-site connection between an Azure and an on-premises "
                     "network.",
                     "cove network vpn-connection create -g MyResourceGroup -n MyConnection "
                     "--vnet-gateway1 MyVnetGateway --local-gateway2 MyLocalGateway "
                     "--shared-key Abc123"}}});
  AddShowListDelete(r, TopLevel({"network", "vpn-connection"}, "VPN connection", "Connection name.",
                                kConnections));

  r.AddGroup({{"network", "vpn-connection", "shared-key"}, "Manage VPN shared keys."});
  r.AddCommand({.path = {"network", "vpn-connection", "shared-key", "show"},
                .summary = "Retrieve a VPN connection shared key.",
                .args = {GroupArg(), ConnectionNameArg()},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return ForEachTarget(ctx, a, SharedKeyPath, [&](const std::string& p) {
                        return ShowAt(ctx, p, kApiNetwork);
                      });
                    },
                .supports_ids = true});
  r.AddCommand({.path = {"network", "vpn-connection", "shared-key", "update"},
                .summary = "Update a VPN connection shared key.",
                .args = {GroupArg(),
                         ConnectionNameArg(),
                         {.name = "--value",
                          .help = "The virtual network connection shared key value.",
                          .required = true}},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return ForEachTarget(ctx, a, SharedKeyPath, [&](const std::string& key_path) {
                        std::string connection = key_path.substr(0, key_path.rfind('/'));
                        Outcome put = GetModifyPut(
                            ctx, connection, kApiNetwork, [&](json& c) -> std::optional<Outcome> {
                              c["properties"]["sharedKey"] = *a.Get("--value");
                              return std::nullopt;
                            });
                        if (put.exit_code != 0) return put;
                        return ShowAt(ctx, key_path, kApiNetwork);
                      });
                    },
                .supports_ids = true});
}

// ---- express-route ----

ArgSpec CircuitNameArg(bool id_part = true) {
  return {.name = "--circuit-name",
          .help = "ExpressRoute circuit name.",
          .required = true,
          .id_part = id_part};
}

// "50", "50 Mbps", "1 Gbps" → Mbps.
std::optional<int64_t> BandwidthMbps(const std::vector<std::string>& words) {
  if (words.empty() || words.size() > 2) return std::nullopt;
  std::optional<int64_t> n;
  ParsedArgs one;
  one.occurrences["--bandwidth"] = {{words[0]}};
  if (ReadInt(one, "--bandwidth", n) || !n) return std::nullopt;
  if (words.size() == 1 || AsciiLower(words[1]) == "mbps") return *n;
  if (AsciiLower(words[1]) == "gbps") return *n * 1000;
  return std::nullopt;
}

std::string PeeringPath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, *a.Get("--resource-group"),
                      std::string(kCircuits) + "/" + *a.Get("--circuit-name") + "/peerings",
                      *a.Get("--name"));
}

std::vector<ArgSpec> PeeringSettings() {
  return {{.name = "--peer-asn",
           .help = "Autonomous system number of the customer/connectivity "
                   "provider."},
          {.name = "--vlan-id", .help = "Identifier used to identify the customer."},
          {.name = "--primary-peer-subnet",
           .help = "/30 subnet used to configure IP addresses "
                   "for primary interface."},
          {.name = "--secondary-peer-subnet",
           .help = "/30 subnet used to configure IP addresses "
                   "for secondary interface."},
          {.name = "--shared-key", .help = "Key for generating an MD5 for the BGP session."}};
}

std::optional<Outcome> ApplyPeeringArgs(const ParsedArgs& a, json& props) {
  std::optional<int64_t> asn, vlan;
  if (auto bad = ReadInt(a, "--peer-asn", asn)) return bad;
  if (auto bad = ReadInt(a, "--vlan-id", vlan)) return bad;
  if (asn) props["peerASN"] = *asn;
  if (vlan) props["vlanId"] = *vlan;
  if (auto p = a.Get("--primary-peer-subnet")) props["primaryPeerAddressPrefix"] = *p;
  if (auto s = a.Get("--secondary-peer-subnet")) props["secondaryPeerAddressPrefix"] = *s;
  if (auto k = a.Get("--shared-key")) props["sharedKey"] = *k;
  return std::nullopt;
}

void AddExpressRoute(Registry& r) {
  r.AddGroup({{"network", "express-route"},
              "Manage dedicated private network fiber connections "
              "to Azure."});
  r.AddCommand(
      {.path = {"network", "express-route", "create"},
       .summary = "Create an ExpressRoute circuit.",
       .args = CreateArgs(
           "ExpressRoute circuit name.",
           {{.name = "--bandwidth",
             .help = "Bandwidth of the circuit. Usage: INT {Mbps,Gbps}. Defaults to Mbps.",
             .kind = ArgKind::kList,
             .required = true},
            {.name = "--provider",
             .help = "Name of the ExpressRoute Service Provider.",
             .required = true},
            {.name = "--peering-location",
             .help = "Name of the peering location.",
             .required = true},
            {.name = "--sku-tier",
             .help = "SKU Tier.",
             .choices = {"Basic", "Local", "Premium", "Standard"},
             .default_text = "Standard"},
            {.name = "--sku-family",
             .help = "Chosen SKU family of ExpressRoute circuit.",
             .choices = {"MeteredData", "UnlimitedData"},
             .default_text = "MeteredData"},
            {.name = "--allow-classic-operations",
             .help = "Allow classic operations.",
             .kind = ArgKind::kFlag}}),
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto mbps = BandwidthMbps(a.GetList("--bandwidth"));
             if (!mbps) {
               return Outcome::Usage("usage error: --bandwidth INT {Mbps,Gbps}");
             }
             std::string tier = a.GetOr("--sku-tier", "Standard");
             std::string family = a.GetOr("--sku-family", "MeteredData");
             json body = {
                 {"sku", {{"name", tier + "_" + family}, {"tier", tier}, {"family", family}}},
                 {"properties",
                  {{"serviceProviderProperties",
                    {{"serviceProviderName", *a.Get("--provider")},
                     {"peeringLocation", *a.Get("--peering-location")},
                     {"bandwidthInMbps", *mbps}}},
                   {"allowClassicOperations",
                    a.GetBool("--allow-classic-operations").value_or(false)}}}};
             return CreateTopLevel(ctx, a, kCircuits, body);
           },
       .examples = {{"Create an ExpressRoute circuit.",
                     "cove network express-route create -g MyResourceGroup -n MyCircuit "
                     "--bandwidth 50 --provider Equinix --peering-location \"Silicon Valley\" "
                     "--sku-tier Standard --sku-family MeteredData"}}});
  AddShowListDelete(r, TopLevel({"network", "express-route"}, "ExpressRoute circuit",
                                "ExpressRoute circuit name.", kCircuits));

  r.AddGroup({{"network", "express-route", "peering"},
              "Manage ExpressRoute peering of an "
              "ExpressRoute circuit."});
  std::vector<ArgSpec> create_args = {
      GroupArg(true, false),
      CircuitNameArg(false),
      {.name = "--peering-type",
       .help = "BGP peering type for the circuit.",
       .required = true,
       .choices = {"AzurePrivatePeering", "AzurePublicPeering", "MicrosoftPeering"}}};
  for (auto& s : PeeringSettings()) create_args.push_back(s);
  create_args[3].required = true;  // --peer-asn
  create_args[4].required = true;  // --vlan-id
  r.AddCommand(
      {.path = {"network", "express-route", "peering", "create"},
       .summary = "Create peering settings for an ExpressRoute circuit.",
       .args = create_args,
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             json props = {{"peeringType", *a.Get("--peering-type")}};
             if (auto bad = ApplyPeeringArgs(a, props)) return *bad;
             return WithSub(ctx, [&](const std::string& sub) {
               std::string path = ResourcePath(
                   sub, *a.Get("--resource-group"),
                   std::string(kCircuits) + "/" + *a.Get("--circuit-name") + "/peerings",
                   *a.Get("--peering-type"));
               return PutAt(ctx, path, kApiNetwork, json{{"properties", props}});
             });
           },
       .examples = {{"Create Azure private peering.",
                     "cove network express-route peering create -g MyResourceGroup "
                     "--circuit-name MyCircuit --peering-type AzurePrivatePeering --peer-asn "
                     "10001 --vlan-id 101 --primary-peer-subnet 102.0.0.0/30 "
                     "--secondary-peer-subnet 103.0.0.0/30"}}});
  std::vector<ArgSpec> update_args = {GroupArg(), CircuitNameArg(),
                                      NameArg("Name of the peering.")};
  for (auto& s : PeeringSettings()) update_args.push_back(s);
  update_args.push_back(
      {.name = "--state", .help = "The state of peering.", .choices = {"Disabled", "Enabled"}});
  r.AddCommand({.path = {"network", "express-route", "peering", "update"},
                .summary = "Update peering settings of an ExpressRoute circuit.",
                .args = update_args,
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return ForEachTarget(ctx, a, PeeringPath, [&](const std::string& path) {
                        return GetModifyPut(ctx, path, kApiNetwork,
                                            [&](json& p) -> std::optional<Outcome> {
                                              if (auto bad = ApplyPeeringArgs(a, p["properties"])) {
                                                return bad;
                                              }
                                              if (auto s = a.Get("--state")) {
                                                p["properties"]["state"] = *s;
                                              }
                                              return std::nullopt;
                                            });
                      });
                    },
                .supports_ids = true});
  AddShowListDelete(r, {.group_path = {"network", "express-route", "peering"},
                        .noun = "ExpressRoute circuit peering",
                        .name_help = "Name of the peering.",
                        .api = kApiNetwork,
                        .path_of = PeeringPath,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return ResourcePath(sub, *a.Get("--resource-group"), kCircuits,
                                                  *a.Get("--circuit-name")) +
                                     "/peerings";
                            },
                        .parent_args = {CircuitNameArg()}});
}

}  // namespace

void AddGatewayCommands(Registry& registry) {
  AddPublicIp(registry);
  AddVnetGateway(registry);
  AddLocalGateway(registry);
  AddVpnConnection(registry);
  AddExpressRoute(registry);
}

}  // namespace cove::cli
