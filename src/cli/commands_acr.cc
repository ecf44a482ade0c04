// acr, acr replication, acr private-endpoint-connection, acr network-rule, acr config retention,
// acr show-usage.
#include <cctype>
#include <cstdlib>

#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {
constexpr char kRegistries[] = "Microsoft.ContainerRegistry/registries";
}  // namespace

ArgSpec RegistryNameArg(const std::string& name, std::vector<std::string> aliases) {
  return {.name = name,
          .aliases = std::move(aliases),
          .help = "The name of the container registry. It should be specified in lower case.",
          .required = true};
}

std::variant<std::string, Outcome> RegistryPath(Context& ctx, const ParsedArgs& a,
                                                const std::string& name_arg) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  std::string name = *a.Get(name_arg);
  if (auto g = a.Get("--resource-group")) return ResourcePath(*sub, *g, kRegistries, name);
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto all = (*arm)->List("/subscriptions/" + *sub + "/providers/" + kRegistries, kApiAcr);
  if (!all) return Outcome::FromArm(all.error());
  for (const auto& reg : *all) {
    if (EqualsIgnoreCase(reg.value("name", ""), name)) return reg.value("id", "");
  }
  return Outcome::Failure("The resource with name '" + name +
                              "' and type 'Microsoft.ContainerRegistry/registries' could not be "
                              "found in subscription '" +
                              *sub + "'.",
                          3);
}

Outcome WithRegistry(Context& ctx, const ParsedArgs& a, const std::string& name_arg,
                     const std::function<Outcome(const std::string&)>& body) {
  auto path = RegistryPath(ctx, a, name_arg);
  if (auto* stop = std::get_if<Outcome>(&path)) return *stop;
  return body(std::get<std::string>(path));
}

Handler RegistryChildShow(std::string collection, ValueView view) {
  return [collection, view](Context& ctx, const ParsedArgs& a) {
    return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
      Outcome o = ShowAt(ctx, registry + "/" + collection + "/" + *a.Get("--name"), kApiAcr);
      if (o.value && view) o.value = view(*o.value);
      return o;
    });
  };
}

Handler RegistryChildList(std::string collection, ValueView view) {
  return [collection, view](Context& ctx, const ParsedArgs& a) {
    return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
      Outcome o = ListAt(ctx, registry + "/" + collection, kApiAcr);
      if (o.value && view) o.value = view(*o.value);
      return o;
    });
  };
}

Handler RegistryChildDelete(std::string collection,
                            std::function<std::string(const std::string& name)> confirm) {
  return [collection, confirm](Context& ctx, const ParsedArgs& a) {
    if (confirm) {
      if (auto stop = Confirm(ctx, a, confirm(*a.Get("--name")))) return *stop;
    }
    return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
      return DeleteAt(ctx, registry + "/" + collection + "/" + *a.Get("--name"), kApiAcr);
    });
  };
}

namespace {

ArgSpec OptionalGroupArg() { return GroupArg(false, false); }

std::vector<ArgSpec> RegistryPropertyArgs() {
  return {
      {.name = "--admin-enabled",
       .help = "Indicates whether the admin user is enabled.",
       .kind = ArgKind::kFlag},
      {.name = "--public-network-enabled",
       .help = "Allow public network access for the container registry.",
       .kind = ArgKind::kFlag},
      {.name = "--default-action",
       .help = "Default action to apply when no rule matches. Only applicable to Premium SKU.",
       .choices = {"Allow", "Deny"}},
      {.name = "--allow-trusted-services",
       .help = "Allow trusted Azure Services to access network restricted registries. For more "
               "information, please visit https://aka.ms/acr/trusted-services.",
       .kind = ArgKind::kFlag},
      {.name = "--data-endpoint-enabled",
       .help = "Enable dedicated data endpoint for client firewall configuration.",
       .kind = ArgKind::kFlag},
      {.name = "--anonymous-pull-enabled",
       .help = "Enable registry-wide pull from unauthenticated clients.",
       .kind = ArgKind::kFlag},
      TagsArg(),
  };
}

// Applies the shared registry flags to `props` (properties of a registry or of a PATCH body).
void ApplyRegistryArgs(const ParsedArgs& a, const json& current_rules, json& props) {
  if (auto v = a.GetBool("--admin-enabled")) props["adminUserEnabled"] = *v;
  if (auto v = a.GetBool("--public-network-enabled")) {
    props["publicNetworkAccess"] = *v ? "Enabled" : "Disabled";
  }
  if (auto v = a.Get("--default-action")) {
    json rules = current_rules.is_object() ? current_rules : json::object();
    rules["defaultAction"] = *v;
    props["networkRuleSet"] = rules;
  }
  if (auto v = a.GetBool("--allow-trusted-services")) {
    props["networkRuleBypassOptions"] = *v ? "AzureServices" : "None";
  }
  if (auto v = a.GetBool("--data-endpoint-enabled")) props["dataEndpointEnabled"] = *v;
  if (auto v = a.GetBool("--anonymous-pull-enabled")) props["anonymousPullEnabled"] = *v;
}

void AddRegistry(Registry& r) {
  r.AddGroup({{"acr"}, "Manage private registries with Azure Container Registries."});
  std::vector<ArgSpec> create_args = {
      RegistryNameArg(),
      GroupArg(true, false),
      {.name = "--sku",
       .help = "The SKU of the container registry.",
       .required = true,
       .choices = {"Basic", "Standard", "Premium"}},
      LocationArg(" If not specified, the location of the resource group will be used."),
      {.name = "--zone-redundancy",
       .help = "Indicates whether or not zone redundancy should be enabled for this registry "
               "or replication.",
       .choices = {"Disabled", "Enabled"}}};
  for (auto& a : RegistryPropertyArgs()) create_args.push_back(a);
  r.AddCommand(
      {.path = {"acr", "create"},
       .summary = "Create an Azure Container Registry.",
       .args = create_args,
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             std::string location;
             if (auto l = a.Get("--location")) {
               location = *l;
             } else {
               auto rl = GroupLocation(ctx, *sub, *a.Get("--resource-group"));
               if (!rl) return Outcome::FromArm(rl.error());
               location = *rl;
             }
             json props = {{"adminUserEnabled", false}};
             ApplyRegistryArgs(a, json::object(), props);
             if (auto z = a.Get("--zone-redundancy")) props["zoneRedundancy"] = *z;
             json body = {{"location", location},
                          {"sku", {{"name", *a.Get("--sku")}}},
                          {"properties", props}};
             if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
             return PutAt(
                 ctx, ResourcePath(*sub, *a.Get("--resource-group"), kRegistries, *a.Get("--name")),
                 kApiAcr, body);
           },
       .examples = {{"Create a Premium registry (private endpoints need Premium).",
                     "cove acr create -n myregistry -g myResourceGroup --sku Premium -l westus"}}});
  r.AddCommand({.path = {"acr", "show"},
                .summary = "Get the details of an Azure Container Registry.",
                .args = {RegistryNameArg(), OptionalGroupArg()},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
                        return ShowAt(ctx, path, kApiAcr);
                      });
                    },
                .examples = {{"Get the resource id of a registry.",
                              "cove acr show -n myregistry --query id -o tsv"}}});
  r.AddCommand({.path = {"acr", "list"},
                .summary = "List container registries.",
                .args = {OptionalGroupArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  std::string base = a.Has("--resource-group")
                                         ? GroupPath(*sub, *a.Get("--resource-group"))
                                         : "/subscriptions/" + *sub;
                  return ListAt(ctx, base + "/providers/" + kRegistries, kApiAcr);
                }});
  std::vector<ArgSpec> update_args = {RegistryNameArg(),
                                      OptionalGroupArg(),
                                      {.name = "--sku",
                                       .help = "The SKU of the container registry.",
                                       .choices = {"Basic", "Standard", "Premium"}}};
  for (auto& a : RegistryPropertyArgs()) update_args.push_back(a);
  r.AddCommand({.path = {"acr", "update"},
                .summary = "Update an Azure Container Registry.",
                .args = update_args,
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
                        auto arm = ctx.Arm();
                        if (!arm) return Outcome::FromArm(arm.error());
                        auto current = (*arm)->Get(path, kApiAcr);
                        if (!current) return Outcome::FromArm(current.error());
                        json rules = json::object();
                        if (current->contains("properties") &&
                            (*current)["properties"].is_object() &&
                            (*current)["properties"].contains("networkRuleSet")) {
                          rules = (*current)["properties"]["networkRuleSet"];
                        }
                        json props = json::object();
                        ApplyRegistryArgs(a, rules, props);
                        json body = json::object();
                        if (!props.empty()) body["properties"] = props;
                        if (auto s = a.Get("--sku")) body["sku"] = {{"name", *s}};
                        if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
                        auto res = (*arm)->Patch(path, kApiAcr, body);
                        if (!res) return Outcome::FromArm(res.error());
                        return Outcome::Value(*res);
                      });
                    },
                .examples = {{"Disable public network access (the seed's last step).",
                              "cove acr update -n myregistry --public-network-enabled false"}}});
  r.AddCommand({.path = {"acr", "delete"},
                .summary = "Delete an Azure Container Registry.",
                .args = {RegistryNameArg(), OptionalGroupArg(), YesArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  if (auto stop = Confirm(ctx, a,
                                          "Are you sure you want to delete the registry '" +
                                              *a.Get("--name") + "'?")) {
                    return *stop;
                  }
                  return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
                    return DeleteAt(ctx, path, kApiAcr);
                  });
                }});
  r.AddCommand({.path = {"acr", "show-endpoints"},
                .summary = "Display registry endpoints.",
                .args = {RegistryNameArg(), OptionalGroupArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
                    auto arm = ctx.Arm();
                    if (!arm) return Outcome::FromArm(arm.error());
                    auto reg = (*arm)->Get(path, kApiAcr);
                    if (!reg) return Outcome::FromArm(reg.error(), true);
                    const json& props = (*reg)["properties"];
                    json endpoints = json::array();
                    if (props.value("dataEndpointEnabled", false) &&
                        props.contains("dataEndpointHostNames") &&
                        props["dataEndpointHostNames"].is_array()) {
                      for (const auto& host : props["dataEndpointHostNames"]) {
                        std::string h = host.get<std::string>();
                        size_t first = h.find('.');
                        size_t second = h.find('.', first + 1);
                        std::string region =
                            first == std::string::npos || second == std::string::npos
                                ? ""
                                : h.substr(first + 1, second - first - 1);
                        endpoints.push_back({{"endpoint", h}, {"region", region}});
                      }
                    } else {
                      // az: one wildcard storage endpoint per replication (the home region's
                      // among them), with a hint about dedicated data endpoints.
                      ctx.Warn(
                          "To configure client firewall w/o using wildcard storage blob "
                          "urls, use \"cove acr update --name " +
                          *a.Get("--name") +
                          " --data-endpoint-enabled\" to enable dedicated data endpoints.");
                      auto replicas = (*arm)->List(path + "/replications", kApiAcr);
                      if (!replicas) return Outcome::FromArm(replicas.error());
                      for (const auto& replica : *replicas) {
                        endpoints.push_back({{"endpoint", "*.blob.core.windows.net"},
                                             {"region", replica.value("location", "")}});
                      }
                      if (endpoints.empty()) {
                        endpoints.push_back({{"endpoint", "*.blob.core.windows.net"},
                                             {"region", reg->value("location", "")}});
                      }
                    }
                    return Outcome::Value(json{{"dataEndpoints", endpoints},
                                               {"loginServer", props.value("loginServer", "")}});
                  });
                }});
  r.AddCommand({.path = {"acr", "check-name"},
                .summary = "Checks if an Azure Container Registry name is valid and available "
                           "for use.",
                .args = {RegistryNameArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  auto arm = ctx.Arm();
                  if (!arm) return Outcome::FromArm(arm.error());
                  auto res = (*arm)->Post(
                      "/subscriptions/" + *sub +
                          "/providers/Microsoft.ContainerRegistry/checkNameAvailability",
                      kApiAcr, json{{"name", *a.Get("--name")}, {"type", kRegistries}});
                  if (!res) return Outcome::FromArm(res.error());
                  return Outcome::Value(*res);
                }});
}

ArgSpec RegistryArg() { return RegistryNameArg("--registry", {"-r"}); }

namespace {

// az's --region-endpoint-enabled of `acr replication create|update`.
ArgSpec RegionEndpointEnabledArg() {
  return {.name = "--region-endpoint-enabled",
          .help = "Allow routing to this replication. Requests will not be routed to a disabled "
                  "replication. Data syncing to all replications will continue regardless of the "
                  "routing status.",
          .kind = ArgKind::kFlag};
}

}  // namespace

void AddReplication(Registry& r) {
  r.AddGroup({{"acr", "replication"},
              "Manage geo-replicated regions of Azure Container "
              "Registries."});
  r.AddCommand(
      {.path = {"acr", "replication", "create"},
       .summary = "Create a replicated region for an Azure Container Registry.",
       .args = {RegistryArg(),
                {.name = "--location",
                 .aliases = {"-l"},
                 .help = "Location. Values from: `az account list-locations`.",
                 .required = true},
                {.name = "--name",
                 .aliases = {"-n"},
                 .help = "The name of the replication.",
                 .default_text = "the location"},
                OptionalGroupArg(),
                RegionEndpointEnabledArg(),
                {.name = "--zone-redundancy",
                 .help = "Indicates whether or not zone redundancy should be enabled for this "
                         "registry or replication.",
                 .choices = {"Disabled", "Enabled"}},
                TagsArg()},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
               std::string location = *a.Get("--location");
               // az names the replication after the location without spaces, in lowercase
               // ("East US" → eastus); ARM normalizes the location the same way.
               std::string default_name;
               for (char c : location) {
                 if (c != ' ') default_name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
               }
               json props = json::object();
               if (auto v = a.GetBool("--region-endpoint-enabled"))
                 props["regionEndpointEnabled"] = *v;
               if (auto z = a.Get("--zone-redundancy")) props["zoneRedundancy"] = *z;
               json body = {{"location", location}, {"properties", props}};
               if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
               return PutAt(ctx, registry + "/replications/" + a.GetOr("--name", default_name), kApiAcr,
                            body);
             });
           },
       .examples = {{"Replicate a registry to East US.",
                     "cove acr replication create -r myregistry -l eastus"}}});
  ArgSpec replication_name = {.name = "--name",
                              .aliases = {"-n"},
                              .help = "The name of the replication.",
                              .required = true};
  r.AddCommand({.path = {"acr", "replication", "show"},
                .summary = "Get the details of a replicated region.",
                .args = {replication_name, RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildShow("replications")});
  r.AddCommand({.path = {"acr", "replication", "list"},
                .summary = "List all of the regions for a geo-replicated Azure Container "
                           "Registry.",
                .args = {RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildList("replications")});
  r.AddCommand(
      {.path = {"acr", "replication", "update"},
       .summary = "Updates a replication.",
       .args = {replication_name,
                RegistryArg(),
                OptionalGroupArg(),
                RegionEndpointEnabledArg(),
                TagsArg()},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
               auto arm = ctx.Arm();
               if (!arm) return Outcome::FromArm(arm.error());
               json body = json::object();
               if (auto v = a.GetBool("--region-endpoint-enabled")) {
                 body["properties"] = {{"regionEndpointEnabled", *v}};
               }
               if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
               auto res =
                   (*arm)->Patch(registry + "/replications/" + *a.Get("--name"), kApiAcr, body);
               if (!res) return Outcome::FromArm(res.error(), true);
               return Outcome::Value(*res);
             });
           },
       .examples = {{"Stop routing requests to a replica (its content still replicates).",
                     "cove acr replication update -r myregistry -n eastus "
                     "--region-endpoint-enabled false"}}});
  r.AddCommand({.path = {"acr", "replication", "delete"},
                .summary = "Delete a replicated region from an Azure Container Registry.",
                .args = {replication_name, RegistryArg(), OptionalGroupArg(), YesArg()},
                .run = RegistryChildDelete("replications")});

  r.AddGroup({{"acr", "private-endpoint-connection"},
              "Manage container registry private endpoint connections."});
  ArgSpec connection_name = {.name = "--name",
                             .aliases = {"-n"},
                             .help = "The name of the private endpoint connection.",
                             .required = true};
  r.AddCommand({.path = {"acr", "private-endpoint-connection", "list"},
                .summary = "List all private endpoint connections to a container registry.",
                .args = {RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildList("privateEndpointConnections")});
  r.AddCommand({.path = {"acr", "private-endpoint-connection", "show"},
                .summary = "Show details of a container registry's private endpoint connection.",
                .args = {connection_name, RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildShow("privateEndpointConnections")});
  r.AddCommand({.path = {"acr", "private-endpoint-connection", "delete"},
                .summary = "Delete a private endpoint connection request for a container "
                           "registry.",
                .args = {connection_name, RegistryArg(), OptionalGroupArg(), YesArg()},
                .run = RegistryChildDelete("privateEndpointConnections")});
  for (const std::string verb : {"approve", "reject"}) {
    r.AddCommand(
        {.path = {"acr", "private-endpoint-connection", verb},
         .summary = (verb == "approve" ? "Approve" : "Reject") +
                    std::string(" a private endpoint connection request for a container "
                                "registry."),
         .args = {connection_name,
                  RegistryArg(),
                  OptionalGroupArg(),
                  {.name = "--description", .help = "Comments for the " + verb + " operation."}},
         .run = [verb](Context& ctx, const ParsedArgs& a) {
           return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
             std::string path = registry + "/privateEndpointConnections/" + *a.Get("--name");
             auto arm = ctx.Arm();
             if (!arm) return Outcome::FromArm(arm.error());
             auto conn = (*arm)->Get(path, kApiAcr);
             if (!conn) return Outcome::FromArm(conn.error());
             (*conn)["properties"]["privateLinkServiceConnectionState"] = {
                 {"status", verb == "approve" ? "Approved" : "Rejected"},
                 {"description", a.GetOr("--description", "")},
                 {"actionsRequired", "None"}};
             auto res = (*arm)->Put(path, kApiAcr, *conn);
             if (!res) return Outcome::FromArm(res.error());
             return Outcome::Value(*res);
           });
         }});
  }
}

void AddNetworkRule(Registry& r) {
  r.AddGroup({{"acr", "network-rule"}, "Manage network rules for Azure Container Registries."});
  std::vector<ArgSpec> args = {
      RegistryNameArg(),
      OptionalGroupArg(),
      {.name = "--ip-address", .help = "IPv4 address or CIDR range."},
      {.name = "--subnet",
       .help = "Name or ID of subnet. If name is supplied, `--vnet-name` must be supplied."},
      {.name = "--vnet-name", .help = "Name of a virtual network."}};
  auto edit = [](bool add) {
    return [add](Context& ctx, const ParsedArgs& a) {
      bool ip = a.Has("--ip-address"), subnet = a.Has("--subnet");
      if (ip == subnet) {
        return Outcome::Usage(
            "usage error: --subnet ID | --subnet NAME --vnet-name NAME | --ip-address IP");
      }
      return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
        auto arm = ctx.Arm();
        if (!arm) return Outcome::FromArm(arm.error());
        auto reg = (*arm)->Get(path, kApiAcr);
        if (!reg) return Outcome::FromArm(reg.error());
        json rules = (*reg)["properties"].value("networkRuleSet", json::object());
        if (!rules.is_object()) rules = json::object();
        if (!rules.contains("defaultAction")) rules["defaultAction"] = "Allow";
        std::string list = ip ? "ipRules" : "virtualNetworkRules";
        std::string key = ip ? "value" : "id";
        std::string value;
        if (ip) {
          value = *a.Get("--ip-address");
        } else {
          value = *a.Get("--subnet");
          if (!IsResourceId(value)) {
            auto vnet = a.Get("--vnet-name");
            if (!vnet) {
              return Outcome::Usage(
                  "usage error: --subnet ID | --subnet NAME --vnet-name NAME | --ip-address IP");
            }
            auto rid = ParseResourceId(path);
            value = ResourcePath(rid->subscription, rid->resource_group,
                                 "Microsoft.Network/virtualNetworks/" + *vnet + "/subnets", value);
          }
        }
        json kept = json::array();
        if (rules.contains(list) && rules[list].is_array()) {
          for (const auto& rule : rules[list]) {
            if (!EqualsIgnoreCase(rule.value(key, ""), value)) kept.push_back(rule);
          }
        }
        if (add) kept.push_back({{"action", "Allow"}, {key, value}});
        rules[list] = kept;
        auto res = (*arm)->Patch(path, kApiAcr, json{{"properties", {{"networkRuleSet", rules}}}});
        if (!res) return Outcome::FromArm(res.error());
        return Outcome::Value(*res);
      });
    };
  };
  r.AddCommand({.path = {"acr", "network-rule", "add"},
                .summary = "Add a network rule.",
                .args = args,
                .run = edit(true),
                .examples = {{"Allow one client address through the firewall.",
                              "cove acr network-rule add -n myregistry --ip-address "
                              "203.0.113.7"}}});
  r.AddCommand({.path = {"acr", "network-rule", "remove"},
                .summary = "Remove a network rule.",
                .args = args,
                .run = edit(false)});
  r.AddCommand(
      {.path = {"acr", "network-rule", "list"},
       .summary = "List network rules.",
       .args = {RegistryNameArg(), OptionalGroupArg()},
       .run = [](Context& ctx, const ParsedArgs& a) {
         return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
           auto arm = ctx.Arm();
           if (!arm) return Outcome::FromArm(arm.error());
           auto reg = (*arm)->Get(path, kApiAcr);
           if (!reg) return Outcome::FromArm(reg.error());
           json rules = (*reg)["properties"].value("networkRuleSet", json::object());
           if (!rules.is_object()) rules = json::object();
           return Outcome::Value(
               json{{"ipRules", rules.value("ipRules", json::array())},
                    {"virtualNetworkRules", rules.value("virtualNetworkRules", json::array())}});
         });
       }});
}

// properties.policies.retentionPolicy of a registry document; ACR's defaults when never set.
json RetentionPolicyOf(const json& registry) {
  if (registry.contains("properties") && registry["properties"].contains("policies") &&
      registry["properties"]["policies"].contains("retentionPolicy")) {
    return registry["properties"]["policies"]["retentionPolicy"];
  }
  return json{{"days", 7}, {"lastUpdatedTime", nullptr}, {"status", "disabled"}};
}

// az acr config retention, az acr show-usage.
void AddRetentionAndUsage(Registry& r) {
  r.AddGroup({{"acr", "config"}, "Configure policies for Azure Container Registries."});
  r.AddGroup({{"acr", "config", "retention"},
              "Manage retention policy for Azure Container Registries."});
  r.AddCommand({.path = {"acr", "config", "retention", "show"},
                .summary = "Show the configured retention policy for an Azure Container Registry.",
                .args = {RegistryArg(), OptionalGroupArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithRegistry(ctx, a, "--registry", [&](const std::string& path) {
                    auto arm = ctx.Arm();
                    if (!arm) return Outcome::FromArm(arm.error());
                    auto reg = (*arm)->Get(path, kApiAcr);
                    if (!reg) return Outcome::FromArm(reg.error(), true);
                    return Outcome::Value(RetentionPolicyOf(*reg));
                  });
                },
                .examples = {{"Show the configured retention policy for an Azure Container "
                              "Registry.",
                              "cove acr config retention show -r myregistry"}}});
  r.AddCommand(
      {.path = {"acr", "config", "retention", "update"},
       .summary = "Update retention policy for an Azure Container Registry.",
       .args = {RegistryArg(),
                OptionalGroupArg(),
                {.name = "--status",
                 .help = "Indicates whether retention policy is enabled.",
                 .required = true,
                 .choices = {"disabled", "enabled"}},
                {.name = "--type",
                 .help = "The type of retention policy.",
                 .required = true,
                 .choices = {"UntaggedManifests"}},
                {.name = "--days",
                 .help = "The number of days to retain an untagged manifest after which it gets "
                         "purged (Range: 0 to 365).",
                 .default_text = "Default: 7"}},
       .run = [](Context& ctx, const ParsedArgs& a) {
         int days = 7;
         if (auto d = a.Get("--days")) {
           char* end = nullptr;
           long v = std::strtol(d->c_str(), &end, 10);
           if (d->empty() || *end != '\0' || v < 0 || v > 365) {
             return Outcome::Failure("argument --days: must be an integer from 0 to 365.", 2);
           }
           days = static_cast<int>(v);
         }
         return WithRegistry(ctx, a, "--registry", [&](const std::string& path) {
           auto arm = ctx.Arm();
           if (!arm) return Outcome::FromArm(arm.error());
           json body = {{"properties",
                         {{"policies",
                           {{"retentionPolicy", {{"days", days}, {"status", *a.Get("--status")}}}}}}}};
           auto res = (*arm)->Patch(path, kApiAcr, body);
           if (!res) return Outcome::FromArm(res.error());
           return Outcome::Value(RetentionPolicyOf(*res));
         });
       },
       .examples = {{"Enable retention policy for an Azure Container Registry to delete an "
                     "untagged manifest after 30 days.",
                     "cove acr config retention update -r myregistry --status Enabled --days 30 "
                     "--type UntaggedManifests"}}});
  r.AddCommand({.path = {"acr", "show-usage"},
                .summary = "Get the storage usage for an Azure Container Registry.",
                .args = {RegistryNameArg(), OptionalGroupArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
                    return ShowAt(ctx, path + "/listUsages", kApiAcr);
                  });
                },
                .examples = {{"Get the storage usage for an Azure Container Registry.",
                              "cove acr show-usage -n myregistry"}}});
}

}  // namespace

void AddAcrCommands(Registry& registry) {
  AddRegistry(registry);
  AddReplication(registry);
  AddNetworkRule(registry);
  AddRetentionAndUsage(registry);
}

}  // namespace cove::cli
