// network vnet, vnet subnet, vnet peering, nsg, nsg rule, nic, private-endpoint,
// private-endpoint dns-zone-group.
#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kVnets[] = "Microsoft.Network/virtualNetworks";
constexpr char kNsgs[] = "Microsoft.Network/networkSecurityGroups";
constexpr char kEndpoints[] = "Microsoft.Network/privateEndpoints";

ArgSpec VnetNameArg(bool id_part = true) {
  return {.name = "--vnet-name",
          .help = "The virtual network (VNet) name.",
          .required = true,
          .id_part = id_part};
}

std::string VnetPath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, *a.Get("--resource-group"), kVnets, *a.Get("--name"));
}

std::string SubnetPath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, *a.Get("--resource-group"),
                      std::string(kVnets) + "/" + *a.Get("--vnet-name") + "/subnets",
                      *a.Get("--name"));
}

// ---- vnet ----

void AddVnet(Registry& r) {
  r.AddGroup({{"network"}, "Manage Azure Network resources."});
  r.AddGroup({{"network", "vnet"}, "Manage Azure Virtual Networks."});
  r.AddCommand(
      {.path = {"network", "vnet", "create"},
       .summary = "Create a virtual network.",
       .args = {GroupArg(true, false),
                NameArg("The virtual network (VNet) name.", true, false),
                {.name = "--address-prefixes",
                 .help = "Space-separated list of IP address prefixes for the VNet.",
                 .kind = ArgKind::kList,
                 .default_text = "10.0.0.0/16"},
                {.name = "--subnet-name",
                 .help = "Name of a new subnet to create within the VNet."},
                {.name = "--subnet-prefixes",
                 .help = "Space-separated list of address prefixes in CIDR format for the new "
                         "subnet. If omitted, automatically reserves a /24 (or as large as "
                         "available) block within the VNet address space.",
                 .kind = ArgKind::kList},
                {.name = "--dns-servers",
                 .help = "Space-separated list of DNS server IP addresses.",
                 .kind = ArgKind::kList},
                {.name = "--network-security-group",
                 .aliases = {"--nsg"},
                 .help = "Name or ID of a network security group (NSG) for the new subnet."},
                LocationArg(" If not specified, the location of the resource group will be used."),
                TagsArg()},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return WithSub(ctx, [&](const std::string& sub) {
               auto location = LocationOr(ctx, a, sub);
               if (!location) return Outcome::FromArm(location.error());
               std::vector<std::string> prefixes = a.GetList("--address-prefixes");
               if (prefixes.empty()) prefixes = {"10.0.0.0/16"};
               json body = {{"location", *location},
                            {"properties", {{"addressSpace", {{"addressPrefixes", prefixes}}}}}};
               if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
               if (a.Has("--dns-servers")) {
                 body["properties"]["dhcpOptions"] = {{"dnsServers", a.GetList("--dns-servers")}};
               }
               if (auto subnet = a.Get("--subnet-name")) {
                 std::vector<std::string> sp = a.GetList("--subnet-prefixes");
                 if (sp.empty()) sp = {"10.0.0.0/24"};
                 json props = json::object();
                 if (sp.size() == 1) {
                   props["addressPrefix"] = sp[0];
                 } else {
                   props["addressPrefixes"] = sp;
                 }
                 if (auto nsg = a.Get("--network-security-group")) {
                   props["networkSecurityGroup"] = {
                       {"id", NameOrId(*nsg, sub, *a.Get("--resource-group"), kNsgs)}};
                 }
                 body["properties"]["subnets"] =
                     json::array({{{"name", *subnet}, {"properties", props}}});
               } else if (a.Has("--subnet-prefixes")) {
                 return Outcome::Usage(
                     "usage error: --subnet-name NAME [--subnet-prefixes PREFIX]");
               }
               auto arm = ctx.Arm();
               if (!arm) return Outcome::FromArm(arm.error());
               auto res = (*arm)->Put(VnetPath(sub, a), kApiNetwork, body);
               if (!res) return Outcome::FromArm(res.error());
               return Outcome::Value(json{{"newVNet", *res}});
             });
           },
       .examples = {{"Create a virtual network with a specific address prefix and one subnet.",
                     "cove network vnet create -g MyResourceGroup -n MyVnet --address-prefixes "
                     "10.0.0.0/16 --subnet-name MySubnet --subnet-prefixes 10.0.0.0/24"}}});
  r.AddCommand(
      {.path = {"network", "vnet", "update"},
       .summary = "Update a virtual network.",
       .args = {GroupArg(),
                NameArg("The virtual network (VNet) name."),
                {.name = "--address-prefixes",
                 .help = "Space-separated list of IP address prefixes for the VNet.",
                 .kind = ArgKind::kList},
                {.name = "--dns-servers",
                 .help = "Space-separated list of DNS server IP addresses (\"\" to clear).",
                 .kind = ArgKind::kList},
                TagsArg()},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return ForEachTarget(ctx, a, VnetPath, [&](const std::string& path) {
               return GetModifyPut(ctx, path, kApiNetwork, [&](json& v) -> std::optional<Outcome> {
                 if (a.Has("--address-prefixes")) {
                   v["properties"]["addressSpace"]["addressPrefixes"] =
                       a.GetList("--address-prefixes");
                 }
                 if (a.Has("--dns-servers")) {
                   std::vector<std::string> d = a.GetList("--dns-servers");
                   if (d.size() == 1 && d[0].empty()) d.clear();
                   v["properties"]["dhcpOptions"] = {{"dnsServers", d}};
                 }
                 if (a.Has("--tags")) v["tags"] = TagsJson(a.GetList("--tags"));
                 return std::nullopt;
               });
             });
           },
       .supports_ids = true});
  AddShowListDelete(r, {.group_path = {"network", "vnet"},
                        .noun = "virtual network",
                        .name_help = "The virtual network (VNet) name.",
                        .api = kApiNetwork,
                        .path_of = VnetPath,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" +
                                     kVnets;
                            },
                        .list_group_optional = true,
                        .subscription_list_path =
                            [](const std::string& sub, const ParsedArgs&) {
                              return "/subscriptions/" + sub + "/providers/" + kVnets;
                            }});
}

// ---- subnet ----

std::vector<ArgSpec> SubnetPropertyArgs(bool create) {
  return {
      {.name = "--address-prefixes",
       .aliases = {"--address-prefix"},
       .help = "Space-separated list of address prefixes in CIDR format.",
       .kind = ArgKind::kList,
       .required = create},
      {.name = "--network-security-group",
       .aliases = {"--nsg"},
       .help = "Name or ID of a network security group (NSG). Use \"\" to detach it."},
      {.name = "--service-endpoints",
       .help = "Space-separated list of services allowed private access to this subnet "
               "(e.g. Microsoft.ContainerRegistry).",
       .kind = ArgKind::kList},
      {.name = "--private-endpoint-network-policies",
       .help = "Enable or disable apply network policies on private endpoint in the subnet.",
       .choices = {"Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"}},
      {.name = "--disable-private-endpoint-network-policies",
       .help = "Disable private endpoint network policies on the subnet.",
       .kind = ArgKind::kFlag,
       .deprecated_for = "--private-endpoint-network-policies"},
      {.name = "--private-link-service-network-policies",
       .help = "Enable or disable apply network policies on private link service in the subnet.",
       .choices = {"Disabled", "Enabled"}},
      {.name = "--disable-private-link-service-network-policies",
       .help = "Disable private link service network policies on the subnet.",
       .kind = ArgKind::kFlag,
       .deprecated_for = "--private-link-service-network-policies"},
      {.name = "--delegations",
       .help = "Space-separated list of services to whom the subnet should be delegated "
               "(e.g. Microsoft.Sql/servers).",
       .kind = ArgKind::kList},
  };
}

// Applies the subnet arguments to a subnet's `properties`.
std::optional<Outcome> ApplySubnetArgs(const ParsedArgs& a, const std::string& sub, json& props) {
  if (a.Has("--address-prefixes")) {
    std::vector<std::string> p = a.GetList("--address-prefixes");
    props.erase("addressPrefix");
    props.erase("addressPrefixes");
    if (p.size() == 1) {
      props["addressPrefix"] = p[0];
    } else {
      props["addressPrefixes"] = p;
    }
  }
  if (auto nsg = a.Get("--network-security-group")) {
    if (nsg->empty()) {
      props["networkSecurityGroup"] = nullptr;
    } else {
      props["networkSecurityGroup"] = {
          {"id", NameOrId(*nsg, sub, *a.Get("--resource-group"), kNsgs)}};
    }
  }
  if (a.Has("--service-endpoints")) {
    json eps = json::array();
    for (const auto& s : a.GetList("--service-endpoints")) {
      if (!s.empty()) eps.push_back({{"service", s}});
    }
    props["serviceEndpoints"] = eps;
  }
  if (a.Has("--disable-private-endpoint-network-policies") &&
      a.Has("--private-endpoint-network-policies")) {
    return Outcome::Usage(
        "usage error: --disable-private-endpoint-network-policies and "
        "--private-endpoint-network-policies cannot be used together");
  }
  if (auto d = a.GetBool("--disable-private-endpoint-network-policies")) {
    props["privateEndpointNetworkPolicies"] = *d ? "Disabled" : "Enabled";
  }
  if (auto p = a.Get("--private-endpoint-network-policies")) {
    props["privateEndpointNetworkPolicies"] = *p;
  }
  if (auto d = a.GetBool("--disable-private-link-service-network-policies")) {
    props["privateLinkServiceNetworkPolicies"] = *d ? "Disabled" : "Enabled";
  }
  if (auto p = a.Get("--private-link-service-network-policies")) {
    props["privateLinkServiceNetworkPolicies"] = *p;
  }
  if (a.Has("--delegations")) {
    json d = json::array();
    int i = 0;
    for (const auto& s : a.GetList("--delegations")) {
      if (!s.empty())
        d.push_back({{"name", std::to_string(i++)}, {"properties", {{"serviceName", s}}}});
    }
    props["delegations"] = d;
  }
  return std::nullopt;
}

void AddSubnet(Registry& r) {
  r.AddGroup({{"network", "vnet", "subnet"}, "Manage subnets in an Azure Virtual Network."});
  std::vector<ArgSpec> create_args = {GroupArg(true, false), VnetNameArg(false),
                                      NameArg("The subnet name.", true, false)};
  for (auto& s : SubnetPropertyArgs(true)) create_args.push_back(s);
  r.AddCommand(
      {.path = {"network", "vnet", "subnet", "create"},
       .summary = "Create a subnet and associate an existing NSG and route table.",
       .args = create_args,
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return WithSub(ctx, [&](const std::string& sub) {
               json props = json::object();
               if (auto stop = ApplySubnetArgs(a, sub, props)) return *stop;
               return PutAt(ctx, SubnetPath(sub, a), kApiNetwork,
                            json{{"name", *a.Get("--name")}, {"properties", props}});
             });
           },
       .examples = {{"Create new subnet attached to an NSG with a custom route table.",
                     "cove network vnet subnet create -g MyResourceGroup --vnet-name MyVnet -n "
                     "MySubnet --address-prefixes 10.0.0.0/24 --network-security-group MyNsg"}}});
  std::vector<ArgSpec> update_args = {GroupArg(), VnetNameArg(), NameArg("The subnet name.")};
  for (auto& s : SubnetPropertyArgs(false)) update_args.push_back(s);
  r.AddCommand(
      {.path = {"network", "vnet", "subnet", "update"},
       .summary = "Update a subnet.",
       .args = update_args,
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return ForEachTarget(ctx, a, SubnetPath, [&](const std::string& path) {
               auto id = ParseResourceId(path);
               std::string sub = id ? id->subscription : kDefaultSubscription;
               return GetModifyPut(ctx, path, kApiNetwork, [&](json& s) {
                 if (!s.contains("properties") || !s["properties"].is_object()) {
                   s["properties"] = json::object();
                 }
                 return ApplySubnetArgs(a, sub, s["properties"]);
               });
             });
           },
       .examples = {{"Disable private endpoint network policies on a subnet (the seed's step).",
                     "cove network vnet subnet update -g myResourceGroup --vnet-name myVNet -n "
                     "mySubnet --disable-private-endpoint-network-policies"}},
       .supports_ids = true});
  AddShowListDelete(r, {.group_path = {"network", "vnet", "subnet"},
                        .noun = "subnet",
                        .name_help = "The subnet name.",
                        .api = kApiNetwork,
                        .path_of = SubnetPath,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return ResourcePath(sub, *a.Get("--resource-group"), kVnets,
                                                  *a.Get("--vnet-name")) +
                                     "/subnets";
                            },
                        .parent_args = {VnetNameArg()}});
}

// ---- peering ----

void AddPeering(Registry& r) {
  r.AddGroup({{"network", "vnet", "peering"},
              "Manage peering connections between Azure Virtual Networks."});
  auto peering_path = [](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(
        sub, *a.Get("--resource-group"),
        std::string(kVnets) + "/" + *a.Get("--vnet-name") + "/virtualNetworkPeerings",
        *a.Get("--name"));
  };
  r.AddCommand(
      {.path = {"network", "vnet", "peering", "create"},
       .summary = "Create a virtual network peering connection.",
       .args = {GroupArg(true, false),
                VnetNameArg(false),
                NameArg("The name of the VNet peering.", true, false),
                {.name = "--remote-vnet",
                 .help = "Resource ID or name of the remote VNet.",
                 .required = true},
                {.name = "--allow-vnet-access",
                 .help = "Allows access from the local VNet to the remote VNet.",
                 .kind = ArgKind::kFlag},
                {.name = "--allow-forwarded-traffic",
                 .help = "Allows forwarded traffic from the local VNet to the remote VNet.",
                 .kind = ArgKind::kFlag},
                {.name = "--allow-gateway-transit",
                 .help = "Allows gateway link to be used in the remote VNet.",
                 .kind = ArgKind::kFlag},
                {.name = "--use-remote-gateways",
                 .help = "Allows VNet to use the remote VNet's gateway.",
                 .kind = ArgKind::kFlag}},
       .run = [peering_path](Context& ctx, const ParsedArgs& a) {
         return WithSub(ctx, [&](const std::string& sub) {
           json props = {{"remoteVirtualNetwork",
                          {{"id", NameOrId(*a.Get("--remote-vnet"), sub, *a.Get("--resource-group"),
                                           kVnets)}}}};
           const std::pair<const char*, const char*> flags[] = {
               {"--allow-vnet-access", "allowVirtualNetworkAccess"},
               {"--allow-forwarded-traffic", "allowForwardedTraffic"},
               {"--allow-gateway-transit", "allowGatewayTransit"},
               {"--use-remote-gateways", "useRemoteGateways"}};
           for (const auto& [flag, field] : flags) {
             if (auto v = a.GetBool(flag)) props[field] = *v;
           }
           return PutAt(ctx, peering_path(sub, a), kApiNetwork, json{{"properties", props}});
         });
       }});
  AddShowListDelete(r, {.group_path = {"network", "vnet", "peering"},
                        .noun = "virtual network peering",
                        .name_help = "The name of the VNet peering.",
                        .api = kApiNetwork,
                        .path_of = peering_path,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return ResourcePath(sub, *a.Get("--resource-group"), kVnets,
                                                  *a.Get("--vnet-name")) +
                                     "/virtualNetworkPeerings";
                            },
                        .parent_args = {VnetNameArg()}});
}

// ---- nsg ----

void AddNsg(Registry& r) {
  r.AddGroup({{"network", "nsg"}, "Manage Azure Network Security Groups (NSGs)."});
  auto nsg_path = [](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"), kNsgs, *a.Get("--name"));
  };
  r.AddCommand(
      {.path = {"network", "nsg", "create"},
       .summary = "Create a network security group.",
       .args = {GroupArg(true, false), NameArg("Name of the network security group.", true, false),
                LocationArg(), TagsArg()},
       .run = [nsg_path](Context& ctx, const ParsedArgs& a) {
         return WithSub(ctx, [&](const std::string& sub) {
           auto location = LocationOr(ctx, a, sub);
           if (!location) return Outcome::FromArm(location.error());
           json body = {{"location", *location}, {"properties", json::object()}};
           if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
           auto arm = ctx.Arm();
           if (!arm) return Outcome::FromArm(arm.error());
           auto res = (*arm)->Put(nsg_path(sub, a), kApiNetwork, body);
           if (!res) return Outcome::FromArm(res.error());
           return Outcome::Value(json{{"NewNSG", *res}});
         });
       }});
  AddShowListDelete(r, {.group_path = {"network", "nsg"},
                        .noun = "network security group",
                        .name_help = "Name of the network security group.",
                        .api = kApiNetwork,
                        .path_of = nsg_path,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" +
                                     kNsgs;
                            },
                        .list_group_optional = true,
                        .subscription_list_path =
                            [](const std::string& sub, const ParsedArgs&) {
                              return "/subscriptions/" + sub + "/providers/" + kNsgs;
                            }});

  r.AddGroup({{"network", "nsg", "rule"}, "Manage network security group rules."});
  ArgSpec nsg_name = {.name = "--nsg-name",
                      .help = "Name of the network security group.",
                      .required = true,
                      .id_part = true};
  auto rule_path = [](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"),
                        std::string(kNsgs) + "/" + *a.Get("--nsg-name") + "/securityRules",
                        *a.Get("--name"));
  };
  ArgSpec create_nsg_name = nsg_name;
  create_nsg_name.id_part = false;
  r.AddCommand(
      {.path = {"network", "nsg", "rule", "create"},
       .summary = "Create a network security group rule.",
       .args = {GroupArg(true, false),
                create_nsg_name,
                NameArg("Name of the network security group rule.", true, false),
                {.name = "--priority",
                 .help = "Rule priority, between 100 (highest priority) and 4096 (lowest "
                         "priority). Must be unique for each rule in the collection.",
                 .required = true},
                {.name = "--access",
                 .help = "Allow or deny access.",
                 .choices = {"Allow", "Deny"},
                 .default_text = "Allow"},
                {.name = "--direction",
                 .help = "Direction of the rule.",
                 .choices = {"Inbound", "Outbound"},
                 .default_text = "Inbound"},
                {.name = "--protocol",
                 .help = "Network protocol this rule applies to.",
                 .choices = {"*", "Ah", "Esp", "Icmp", "Tcp", "Udp"},
                 .default_text = "*"},
                {.name = "--source-address-prefixes",
                 .help = "Space-separated list of CIDR prefixes or IP ranges. Alternatively, "
                         "specify ONE of 'VirtualNetwork', 'AzureLoadBalancer', 'Internet' or "
                         "'*' to match all IPs.",
                 .kind = ArgKind::kList,
                 .default_text = "*"},
                {.name = "--source-port-ranges",
                 .help = "Space-separated list of ports or port ranges between 0-65535. Use '*' "
                         "to match all ports.",
                 .kind = ArgKind::kList,
                 .default_text = "*"},
                {.name = "--destination-address-prefixes",
                 .help = "Space-separated list of CIDR prefixes or IP ranges. Alternatively, "
                         "specify ONE of 'VirtualNetwork', 'AzureLoadBalancer', 'Internet' or "
                         "'*' to match all IPs.",
                 .kind = ArgKind::kList,
                 .default_text = "*"},
                {.name = "--destination-port-ranges",
                 .help = "Space-separated list of ports or port ranges between 0-65535. Use '*' "
                         "to match all ports.",
                 .kind = ArgKind::kList,
                 .default_text = "80"},
                {.name = "--description", .help = "Rule description."}},
       .run = [rule_path](Context& ctx, const ParsedArgs& a) {
         return WithSub(ctx, [&](const std::string& sub) {
           std::string priority = *a.Get("--priority");
           if (priority.empty() || priority.find_first_not_of("0123456789") != std::string::npos ||
               priority.size() > 6) {
             return Outcome::Usage("argument --priority: invalid int value: '" + priority + "'");
           }
           json props = {{"priority", std::stoi(priority)},
                         {"access", a.GetOr("--access", "Allow")},
                         {"direction", a.GetOr("--direction", "Inbound")},
                         {"protocol", a.GetOr("--protocol", "*")}};
           auto set = [&](const char* flag, const char* one, const char* many, const char* dflt) {
             std::vector<std::string> v = a.GetList(flag);
             if (v.empty()) v = {dflt};
             if (v.size() == 1) {
               props[one] = v[0];
             } else {
               props[many] = v;
             }
           };
           set("--source-address-prefixes", "sourceAddressPrefix", "sourceAddressPrefixes", "*");
           set("--source-port-ranges", "sourcePortRange", "sourcePortRanges", "*");
           set("--destination-address-prefixes", "destinationAddressPrefix",
               "destinationAddressPrefixes", "*");
           set("--destination-port-ranges", "destinationPortRange", "destinationPortRanges", "80");
           if (auto d = a.Get("--description")) props["description"] = *d;
           return PutAt(ctx, rule_path(sub, a), kApiNetwork,
                        json{{"name", *a.Get("--name")}, {"properties", props}});
         });
       }});
  AddShowListDelete(r, {.group_path = {"network", "nsg", "rule"},
                        .noun = "network security group rule",
                        .name_help = "Name of the network security group rule.",
                        .api = kApiNetwork,
                        .path_of = rule_path,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return ResourcePath(sub, *a.Get("--resource-group"), kNsgs,
                                                  *a.Get("--nsg-name")) +
                                     "/securityRules";
                            },
                        .parent_args = {nsg_name}});
}

// ---- nic ----

void AddNic(Registry& r) {
  r.AddGroup({{"network", "nic"}, "Manage network interfaces."});
  AddShowListDelete(
      r,
      {.group_path = {"network", "nic"},
       .noun = "network interface",
       .name_help = "The network interface (NIC).",
       .api = kApiNetwork,
       .path_of =
           [](const std::string& sub, const ParsedArgs& a) {
             return ResourcePath(sub, *a.Get("--resource-group"),
                                 "Microsoft.Network/networkInterfaces", *a.Get("--name"));
           },
       .list_path =
           [](const std::string& sub, const ParsedArgs& a) {
             return GroupPath(sub, *a.Get("--resource-group")) +
                    "/providers/Microsoft.Network/networkInterfaces";
           },
       .list_group_optional = true,
       .subscription_list_path =
           [](const std::string& sub, const ParsedArgs&) {
             return "/subscriptions/" + sub + "/providers/Microsoft.Network/networkInterfaces";
           }},
      true, true, false);
}

// ---- private endpoint ----

ArgSpec IpConfigArg() {
  return {.name = "--ip-config",
          .help =
              "The private endpoint ip configurations. Usage: --ip-config name=MyIPConfig "
              "group-id=MyGroup member-name=MyMember private-ip-address=MyPrivateIPAddress. "
              "Multiple ip configurations can be specified by using more than one "
              "`--ip-config` argument.",
          .kind = ArgKind::kRepeat};
}

// Parses the --ip-config occurrences into ipConfigurations.
std::variant<json, Outcome> IpConfigs(const ParsedArgs& a) {
  json out = json::array();
  for (const auto& occurrence : a.GetRepeats("--ip-config")) {
    json config = {{"properties", json::object()}};
    for (const auto& kv : occurrence) {
      size_t eq = kv.find('=');
      std::string key = eq == std::string::npos ? kv : kv.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (key == "name") {
        config["name"] = value;
      } else if (key == "group-id" || key == "group_id") {
        config["properties"]["groupId"] = value;
      } else if (key == "member-name" || key == "member_name") {
        config["properties"]["memberName"] = value;
      } else if (key == "private-ip-address" || key == "private_ip_address") {
        config["properties"]["privateIPAddress"] = value;
      } else {
        return Outcome::Usage("argument --ip-config: unsupported key '" + key +
                              "'. Usage: --ip-config name=MyIPConfig group-id=MyGroup "
                              "member-name=MyMember private-ip-address=MyPrivateIPAddress");
      }
    }
    if (!config.contains("name")) {
      return Outcome::Usage("argument --ip-config: name is required");
    }
    out.push_back(config);
  }
  return out;
}

void AddPrivateEndpoint(Registry& r) {
  r.AddGroup({{"network", "private-endpoint"}, "Manage private endpoints."});
  auto pe_path = [](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"), kEndpoints, *a.Get("--name"));
  };
  r.AddCommand(
      {.path = {"network", "private-endpoint", "create"},
       .summary = "Create a private endpoint.",
       .args = {GroupArg(true, false),
                NameArg("Name of the private endpoint.", true, false),
                {.name = "--subnet",
                 .help = "Name or ID of an existing subnet. If name specified, also specify "
                         "--vnet-name.",
                 .required = true},
                {.name = "--vnet-name",
                 .help = "The virtual network (VNet) associated with the subnet (Omit if "
                         "supplying a subnet id)."},
                {.name = "--private-connection-resource-id",
                 .help = "The resource id of the private endpoint to connect to.",
                 .required = true},
                {.name = "--connection-name",
                 .help = "Name of the private link service connection.",
                 .required = true},
                {.name = "--group-id",
                 .aliases = {"--group-ids"},
                 .help = "The ID of the group obtained from the remote resource that this "
                         "private endpoint should connect to. You can use \"az network "
                         "private-link-resource list\" to obtain the supported group ids.",
                 .kind = ArgKind::kList},
                {.name = "--manual-request",
                 .help = "Use manual request to establish the connection. Configure it as "
                         "'true' when you don't have access to the subscription of private link "
                         "service.",
                 .kind = ArgKind::kFlag},
                {.name = "--request-message",
                 .help = "A message passed to the owner of the remote resource with this "
                         "connection request. Restricted to 140 chars."},
                {.name = "--nic-name",
                 .help = "The custom name of the network interface attached to the private "
                         "endpoint."},
                IpConfigArg(),
                LocationArg(" If not specified, the location of the resource group will be used."),
                TagsArg()},
       .run =
           [pe_path](Context& ctx, const ParsedArgs& a) {
             return WithSub(ctx, [&](const std::string& sub) {
               std::string subnet = *a.Get("--subnet");
               std::string subnet_id;
               if (IsResourceId(subnet)) {
                 subnet_id = subnet;
               } else if (auto vnet = a.Get("--vnet-name")) {
                 subnet_id = ResourcePath(sub, *a.Get("--resource-group"),
                                          std::string(kVnets) + "/" + *vnet + "/subnets", subnet);
               } else {
                 return Outcome::Usage("usage error: --subnet ID | --subnet NAME --vnet-name NAME");
               }
               auto ip_configs = IpConfigs(a);
               if (auto* stop = std::get_if<Outcome>(&ip_configs)) return *stop;
               auto location = LocationOr(ctx, a, sub);
               if (!location) return Outcome::FromArm(location.error());
               json connection = {
                   {"name", *a.Get("--connection-name")},
                   {"properties",
                    {{"privateLinkServiceId", *a.Get("--private-connection-resource-id")}}}};
               if (a.Has("--group-id"))
                 connection["properties"]["groupIds"] = a.GetList("--group-id");
               if (auto m = a.Get("--request-message"))
                 connection["properties"]["requestMessage"] = *m;
               bool manual = a.GetBool("--manual-request").value_or(false);
               json props = {{"subnet", {{"id", subnet_id}}}};
               props[manual ? "manualPrivateLinkServiceConnections"
                            : "privateLinkServiceConnections"] = json::array({connection});
               const json& configs = std::get<json>(ip_configs);
               if (!configs.empty()) props["ipConfigurations"] = configs;
               if (auto nic = a.Get("--nic-name")) props["customNetworkInterfaceName"] = *nic;
               json body = {{"location", *location}, {"properties", props}};
               if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
               return PutAt(ctx, pe_path(sub, a), kApiNetwork, body);
             });
           },
       .examples = {{"Create a private endpoint to a registry (the seed's step).",
                     "cove network private-endpoint create -g myResourceGroup -n "
                     "myPrivateEndpoint --vnet-name myVNet --subnet mySubnet "
                     "--private-connection-resource-id $(cove acr show -n myregistry --query id "
                     "-o tsv) --group-id registry --connection-name myConnection"}}});
  r.AddCommand({.path = {"network", "private-endpoint", "update"},
                .summary = "Update a private endpoint.",
                .args = {GroupArg(),
                         NameArg("Name of the private endpoint."),
                         {.name = "--request-message",
                          .help = "A message passed to the owner of the remote resource with this "
                                  "connection request. Restricted to 140 chars."},
                         {.name = "--manual-request",
                          .help = "Use manual request to establish the connection.",
                          .kind = ArgKind::kFlag},
                         IpConfigArg(),
                         TagsArg()},
                .run =
                    [pe_path](Context& ctx, const ParsedArgs& a) {
                      auto ip_configs = IpConfigs(a);
                      if (auto* stop = std::get_if<Outcome>(&ip_configs)) return *stop;
                      return ForEachTarget(ctx, a, pe_path, [&](const std::string& path) {
                        return GetModifyPut(
                            ctx, path, kApiNetwork, [&](json& pe) -> std::optional<Outcome> {
                              json& props = pe["properties"];
                              const char* kAuto = "privateLinkServiceConnections";
                              const char* kManual = "manualPrivateLinkServiceConnections";
                              if (auto manual = a.GetBool("--manual-request")) {
                                json& from = props[*manual ? kAuto : kManual];
                                json& to = props[*manual ? kManual : kAuto];
                                if (from.is_array() && !from.empty()) {
                                  to = from;
                                  from = json::array();
                                }
                              }
                              if (auto m = a.Get("--request-message")) {
                                for (const char* list : {kAuto, kManual}) {
                                  if (!props.contains(list) || !props[list].is_array()) continue;
                                  for (auto& c : props[list])
                                    c["properties"]["requestMessage"] = *m;
                                }
                              }
                              if (a.Has("--ip-config"))
                                props["ipConfigurations"] = std::get<json>(ip_configs);
                              if (a.Has("--tags")) pe["tags"] = TagsJson(a.GetList("--tags"));
                              return std::nullopt;
                            });
                      });
                    },
                .supports_ids = true});
  AddShowListDelete(r, {.group_path = {"network", "private-endpoint"},
                        .noun = "private endpoint",
                        .name_help = "Name of the private endpoint.",
                        .api = kApiNetwork,
                        .path_of = pe_path,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" +
                                     kEndpoints;
                            },
                        .list_group_optional = true,
                        .subscription_list_path =
                            [](const std::string& sub, const ParsedArgs&) {
                              return "/subscriptions/" + sub + "/providers/" + kEndpoints;
                            }});

  // ip-config: the endpoint's static ipConfigurations (ARM accepts changing them by a PUT).
  r.AddGroup({{"network", "private-endpoint", "ip-config"},
              "Manage private endpoint ip configurations."});
  ArgSpec ipc_endpoint = {.name = "--endpoint-name",
                          .help = "Name of the private endpoint.",
                          .required = true,
                          .id_part = true};
  auto ipc_pe_path = [](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"), kEndpoints, *a.Get("--endpoint-name"));
  };
  r.AddCommand(
      {.path = {"network", "private-endpoint", "ip-config", "add"},
       .summary = "Add a private endpoint ip configuration.",
       .args = {GroupArg(), ipc_endpoint,
                {.name = "--name", .aliases = {"-n"}, .help = "Name of the ip configuration.", .required = true},
                {.name = "--group-id", .help = "The ID of a group obtained from the remote resource that this private endpoint should connect to."},
                {.name = "--member-name", .help = "The member name of a group obtained from the remote resource that this private endpoint should connect to."},
                {.name = "--private-ip-address", .help = "A private ip address obtained from the private endpoint's subnet."}},
       .run =
           [ipc_pe_path](Context& ctx, const ParsedArgs& a) {
             return ForEachTarget(ctx, a, ipc_pe_path, [&](const std::string& path) {
               return GetModifyPut(ctx, path, kApiNetwork, [&](json& pe) -> std::optional<Outcome> {
                 json& list = pe["properties"]["ipConfigurations"];
                 if (!list.is_array()) list = json::array();
                 json props = json::object();
                 if (auto g = a.Get("--group-id")) props["groupId"] = *g;
                 if (auto m = a.Get("--member-name")) props["memberName"] = *m;
                 if (auto ip = a.Get("--private-ip-address")) props["privateIPAddress"] = *ip;
                 list.push_back({{"name", *a.Get("--name")}, {"properties", props}});
                 return std::nullopt;
               });
             });
           },
       .supports_ids = true});
  r.AddCommand(
      {.path = {"network", "private-endpoint", "ip-config", "remove"},
       .summary = "Remove a private endpoint ip configuration.",
       .args = {GroupArg(), ipc_endpoint,
                {.name = "--name", .aliases = {"-n"}, .help = "Name of the ip configuration.", .required = true}},
       .run =
           [ipc_pe_path](Context& ctx, const ParsedArgs& a) {
             return ForEachTarget(ctx, a, ipc_pe_path, [&](const std::string& path) {
               return GetModifyPut(ctx, path, kApiNetwork, [&](json& pe) -> std::optional<Outcome> {
                 json& list = pe["properties"]["ipConfigurations"];
                 json kept = json::array();
                 if (list.is_array()) {
                   for (const auto& c : list) {
                     if (c.value("name", "") != *a.Get("--name")) kept.push_back(c);
                   }
                 }
                 list = kept;
                 return std::nullopt;
               });
             });
           },
       .supports_ids = true});
  r.AddCommand(
      {.path = {"network", "private-endpoint", "ip-config", "list"},
       .summary = "List ip configuration within a private endpoint.",
       .args = {GroupArg(), ipc_endpoint},
       .run =
           [ipc_pe_path](Context& ctx, const ParsedArgs& a) {
             return ForEachTarget(ctx, a, ipc_pe_path, [&](const std::string& path) {
               auto arm = ctx.Arm();
               if (!arm) return Outcome::FromArm(arm.error());
               auto pe = (*arm)->Get(path, kApiNetwork);
               if (!pe) return Outcome::FromArm(pe.error());
               return Outcome::Value((*pe)["properties"].value("ipConfigurations", json::array()));
             });
           },
       .supports_ids = true});

  // dns-zone-group
  r.AddGroup({{"network", "private-endpoint", "dns-zone-group"},
              "Manage private endpoint dns zone group."});
  ArgSpec endpoint_name = {.name = "--endpoint-name",
                           .help = "Name of the private endpoint.",
                           .required = true,
                           .id_part = true};
  auto group_path = [](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(
        sub, *a.Get("--resource-group"),
        std::string(kEndpoints) + "/" + *a.Get("--endpoint-name") + "/privateDnsZoneGroups",
        *a.Get("--name"));
  };
  std::vector<ArgSpec> zone_args = {
      GroupArg(true, false),
      endpoint_name,
      NameArg("Name of the private dns zone group.", true, false),
      {.name = "--private-dns-zone",
       .help = "Name or ID of the private dns zone.",
       .required = true},
      {.name = "--zone-name",
       .help = "Name of the private dns zone config (the zone name, e.g. "
               "privatelink.azurecr.io).",
       .required = true}};
  zone_args[1].id_part = false;
  auto zone_config = [](const std::string& sub, const ParsedArgs& a) {
    return json{{"name", *a.Get("--zone-name")},
                {"properties",
                 {{"privateDnsZoneId",
                   NameOrId(*a.Get("--private-dns-zone"), sub, *a.Get("--resource-group"),
                            "Microsoft.Network/privateDnsZones")}}}};
  };
  r.AddCommand(
      {.path = {"network", "private-endpoint", "dns-zone-group", "create"},
       .summary = "Create a private endpoint dns zone group.",
       .args = zone_args,
       .run =
           [group_path, zone_config](Context& ctx, const ParsedArgs& a) {
             return WithSub(ctx, [&](const std::string& sub) {
               json body = {
                   {"name", *a.Get("--name")},
                   {"properties", {{"privateDnsZoneConfigs", json::array({zone_config(sub, a)})}}}};
               return PutAt(ctx, group_path(sub, a), kApiNetwork, body);
             });
           },
       .examples = {{"Create a private endpoint dns zone group.",
                     "cove network private-endpoint dns-zone-group create -g myResourceGroup "
                     "--endpoint-name myPrivateEndpoint -n MyZoneGroup --private-dns-zone "
                     "privatelink.azurecr.io --zone-name privatelink.azurecr.io"}}});
  r.AddCommand({.path = {"network", "private-endpoint", "dns-zone-group", "add"},
                .summary = "Add a private endpoint dns zone into a dns zone group.",
                .args = zone_args,
                .run = [group_path, zone_config](Context& ctx, const ParsedArgs& a) {
                  return WithSub(ctx, [&](const std::string& sub) {
                    return GetModifyPut(ctx, group_path(sub, a), kApiNetwork,
                                        [&](json& g) -> std::optional<Outcome> {
                                          json& configs = g["properties"]["privateDnsZoneConfigs"];
                                          if (!configs.is_array()) configs = json::array();
                                          configs.push_back(zone_config(sub, a));
                                          return std::nullopt;
                                        });
                  });
                }});
  r.AddCommand({.path = {"network", "private-endpoint", "dns-zone-group", "remove"},
                .summary = "Remove a private endpoint dns zone from a dns zone group.",
                .args = {zone_args[0], zone_args[1], zone_args[2], zone_args[4]},
                .run = [group_path](Context& ctx, const ParsedArgs& a) {
                  return WithSub(ctx, [&](const std::string& sub) {
                    return GetModifyPut(ctx, group_path(sub, a), kApiNetwork,
                                        [&](json& g) -> std::optional<Outcome> {
                                          json& configs = g["properties"]["privateDnsZoneConfigs"];
                                          json kept = json::array();
                                          if (configs.is_array()) {
                                            for (const auto& c : configs) {
                                              if (c.value("name", "") != *a.Get("--zone-name")) {
                                                kept.push_back(c);
                                              }
                                            }
                                          }
                                          configs = kept;
                                          return std::nullopt;
                                        });
                  });
                }});
  AddShowListDelete(r, {.group_path = {"network", "private-endpoint", "dns-zone-group"},
                        .noun = "private endpoint dns zone group",
                        .name_help = "Name of the private dns zone group.",
                        .api = kApiNetwork,
                        .path_of = group_path,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return ResourcePath(sub, *a.Get("--resource-group"), kEndpoints,
                                                  *a.Get("--endpoint-name")) +
                                     "/privateDnsZoneGroups";
                            },
                        .parent_args = {endpoint_name}});
}

}  // namespace

void AddNetworkCommands(Registry& registry) {
  AddVnet(registry);
  AddSubnet(registry);
  AddPeering(registry);
  AddNsg(registry);
  AddNic(registry);
  AddPrivateEndpoint(registry);
}

}  // namespace cove::cli
