// network private-dns zone, link vnet, record-set a|cname.
#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kZones[] = "Microsoft.Network/privateDnsZones";

ArgSpec ZoneNameArg(bool id_part = true) {
  return {.name = "--zone-name",
          .aliases = {"-z"},
          .help = "The name of the Private DNS zone.",
          .required = true,
          .id_part = id_part};
}

std::string ZonePath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, *a.Get("--resource-group"), kZones, *a.Get("--name"));
}

std::string InZone(const std::string& sub, const ParsedArgs& a, const std::string& type,
                   const std::string& name) {
  return ResourcePath(sub, *a.Get("--resource-group"),
                      std::string(kZones) + "/" + *a.Get("--zone-name") + "/" + type, name);
}

void AddZone(Registry& r) {
  r.AddGroup({{"network", "private-dns"}, "Manage Private DNS domains in Azure."});
  r.AddGroup({{"network", "private-dns", "zone"}, "Manage Private DNS zones."});
  r.AddCommand({.path = {"network", "private-dns", "zone", "create"},
                .summary = "Create a Private DNS zone.",
                .args = {GroupArg(true, false),
                         NameArg("The name of the Private DNS zone.", true, false), TagsArg()},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto sub = ctx.Subscription();
                      if (!sub) return Outcome::FromArm(sub.error());
                      json body = {{"location", "global"}};
                      if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
                      return PutAt(ctx, ZonePath(*sub, a), kApiPrivateDns, body);
                    },
                .examples = {{"Create the registry's private zone.",
                              "cove network private-dns zone create -g myResourceGroup -n "
                              "privatelink.azurecr.io"}}});
  AddShowListDelete(r, {.group_path = {"network", "private-dns", "zone"},
                        .noun = "Private DNS zone",
                        .name_help = "The name of the Private DNS zone.",
                        .api = kApiPrivateDns,
                        .path_of = ZonePath,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" +
                                     kZones;
                            },
                        .list_group_optional = true,
                        .subscription_list_path =
                            [](const std::string& sub, const ParsedArgs&) {
                              return "/subscriptions/" + sub + "/providers/" + kZones;
                            },
                        .delete_confirms = true});
}

void AddLink(Registry& r) {
  r.AddGroup({{"network", "private-dns", "link"}, "Manage Private DNS zone links."});
  r.AddGroup({{"network", "private-dns", "link", "vnet"},
              "Manage virtual network links to the specified Private DNS zone."});
  auto link_path = [](const std::string& sub, const ParsedArgs& a) {
    return InZone(sub, a, "virtualNetworkLinks", *a.Get("--name"));
  };
  ArgSpec registration = {.name = "--registration-enabled",
                          .aliases = {"-e"},
                          .help = "Specify if the link is registration enabled.",
                          .kind = ArgKind::kFlag};
  ArgSpec policy = {.name = "--resolution-policy",
                    .help =
                        "The resolution policy on the virtual network link. Only applicable "
                        "for privatelink zones, and for virtual network links with "
                        "registration disabled.",
                    .choices = {"Default", "NxDomainRedirect"}};
  ArgSpec create_registration = registration;
  create_registration.required = true;
  r.AddCommand(
      {.path = {"network", "private-dns", "link", "vnet", "create"},
       .summary = "Create a virtual network link to the specified Private DNS zone.",
       .args = {GroupArg(true, false),
                ZoneNameArg(false),
                NameArg("The name of the virtual network link to the specified Private DNS "
                        "zone.",
                        true, false),
                {.name = "--virtual-network",
                 .aliases = {"-v"},
                 .help = "Name or ID of the virtual network.",
                 .required = true},
                create_registration,
                policy,
                TagsArg()},
       .run =
           [link_path](Context& ctx, const ParsedArgs& a) {
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             json props = {
                 {"virtualNetwork",
                  {{"id", NameOrId(*a.Get("--virtual-network"), *sub, *a.Get("--resource-group"),
                                   "Microsoft.Network/virtualNetworks")}}},
                 {"registrationEnabled", a.GetBool("--registration-enabled").value_or(true)}};
             if (auto p = a.Get("--resolution-policy")) props["resolutionPolicy"] = *p;
             json body = {{"location", "global"}, {"properties", props}};
             if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
             return PutAt(ctx, link_path(*sub, a), kApiPrivateDns, body);
           },
       .examples = {{"Link the registry's zone to a VNet.",
                     "cove network private-dns link vnet create -g myResourceGroup "
                     "--zone-name privatelink.azurecr.io -n MyDNSLink --virtual-network myVNet "
                     "--registration-enabled false"}}});
  r.AddCommand(
      {.path = {"network", "private-dns", "link", "vnet", "update"},
       .summary = "Update a virtual network link's properties.",
       .args = {GroupArg(), ZoneNameArg(),
                NameArg("The name of the virtual network link to the specified Private DNS "
                        "zone."),
                registration, policy, TagsArg()},
       .run =
           [link_path](Context& ctx, const ParsedArgs& a) {
             return ForEachTarget(ctx, a, link_path, [&](const std::string& path) {
               auto arm = ctx.Arm();
               if (!arm) return Outcome::FromArm(arm.error());
               auto link = (*arm)->Get(path, kApiPrivateDns);
               if (!link) return Outcome::FromArm(link.error());
               if (auto e = a.GetBool("--registration-enabled")) {
                 (*link)["properties"]["registrationEnabled"] = *e;
               }
               if (auto p = a.Get("--resolution-policy")) {
                 (*link)["properties"]["resolutionPolicy"] = *p;
               }
               if (a.Has("--tags")) (*link)["tags"] = TagsJson(a.GetList("--tags"));
               auto res = (*arm)->Put(path, kApiPrivateDns, *link);
               if (!res) return Outcome::FromArm(res.error());
               return Outcome::Value(*res);
             });
           },
       .supports_ids = true});
  AddShowListDelete(r, {.group_path = {"network", "private-dns", "link", "vnet"},
                        .noun = "virtual network link",
                        .name_help = "The name of the virtual network link to the specified "
                                     "Private DNS zone.",
                        .api = kApiPrivateDns,
                        .path_of = link_path,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return ResourcePath(sub, *a.Get("--resource-group"), kZones,
                                                  *a.Get("--zone-name")) +
                                     "/virtualNetworkLinks";
                            },
                        .parent_args = {ZoneNameArg()},
                        .delete_confirms = true});
}

// record-set a / cname
void AddRecordSets(Registry& r) {
  r.AddGroup(
      {{"network", "private-dns", "record-set"}, "Manage Private DNS records and record sets."});
  r.AddGroup({{"network", "private-dns", "record-set", "a"}, "Manage Private DNS A records."});
  r.AddGroup(
      {{"network", "private-dns", "record-set", "cname"}, "Manage Private DNS CNAME records."});
  ArgSpec record_set_name = {.name = "--record-set-name",
                             .aliases = {"-n"},
                             .help =
                                 "The name of the record set relative to the zone. Creates a "
                                 "new record set if one does not exist.",
                             .required = true};
  ArgSpec ipv4 = {.name = "--ipv4-address",
                  .aliases = {"-a"},
                  .help = "IPV4 address in string notation.",
                  .required = true};
  ArgSpec ttl = {.name = "--ttl", .help = "Record set TTL (time-to-live).", .default_text = "3600"};
  auto ttl_of = [](const ParsedArgs& a) -> std::optional<int> {
    std::string t = a.GetOr("--ttl", "3600");
    if (t.empty() || t.size() > 10 || t.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    return static_cast<int>(std::stoll(t));
  };

  r.AddCommand(
      {.path = {"network", "private-dns", "record-set", "a", "add-record"},
       .summary = "Add an A record.",
       .args = {GroupArg(true, false), ZoneNameArg(false), record_set_name, ipv4},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             auto arm = ctx.Arm();
             if (!arm) return Outcome::FromArm(arm.error());
             std::string path = InZone(*sub, a, "A", *a.Get("--record-set-name"));
             auto current = (*arm)->Get(path, kApiPrivateDns);
             json set;
             if (current) {
               set = *current;
             } else if (current.error().status == 404) {
               set = {{"properties", {{"ttl", 3600}, {"aRecords", json::array()}}}};
             } else {
               return Outcome::FromArm(current.error());
             }
             json& records = set["properties"]["aRecords"];
             if (!records.is_array()) records = json::array();
             records.push_back({{"ipv4Address", *a.Get("--ipv4-address")}});
             return PutAt(ctx, path, kApiPrivateDns, set);
           },
       .examples = {{"Add the registry's record (what a zone group does for you).",
                     "cove network private-dns record-set a add-record -g myResourceGroup -z "
                     "privatelink.azurecr.io -n myregistry -a 10.0.0.5"}}});
  r.AddCommand({.path = {"network", "private-dns", "record-set", "a", "remove-record"},
                .summary = "Remove an A record from its record set.",
                .args = {GroupArg(true, false),
                         ZoneNameArg(false),
                         record_set_name,
                         ipv4,
                         {.name = "--keep-empty-record-set",
                          .help = "Keep the empty record set if the last record is removed.",
                          .kind = ArgKind::kSwitch}},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  auto arm = ctx.Arm();
                  if (!arm) return Outcome::FromArm(arm.error());
                  std::string path = InZone(*sub, a, "A", *a.Get("--record-set-name"));
                  auto current = (*arm)->Get(path, kApiPrivateDns);
                  if (!current) return Outcome::FromArm(current.error());
                  json kept = json::array();
                  const json& records = (*current)["properties"]["aRecords"];
                  if (records.is_array()) {
                    for (const auto& rec : records) {
                      if (rec.value("ipv4Address", "") != *a.Get("--ipv4-address"))
                        kept.push_back(rec);
                    }
                  }
                  if (kept.empty() && !a.Has("--keep-empty-record-set")) {
                    return DeleteAt(ctx, path, kApiPrivateDns);
                  }
                  (*current)["properties"]["aRecords"] = kept;
                  return PutAt(ctx, path, kApiPrivateDns, *current);
                }});
  r.AddCommand({.path = {"network", "private-dns", "record-set", "a", "create"},
                .summary = "Create an empty A record set.",
                .args = {GroupArg(true, false),
                         ZoneNameArg(false),
                         NameArg("The name of the record set, relative to the name of the zone.",
                                 true, false),
                         ttl,
                         {.name = "--metadata",
                          .help = "Metadata in space-separated key=value pairs.",
                          .kind = ArgKind::kList}},
                .run = [ttl_of](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  auto t = ttl_of(a);
                  if (!t)
                    return Outcome::Usage("argument --ttl: invalid int value: '" +
                                          a.GetOr("--ttl", "") + "'");
                  json props = {{"ttl", *t}, {"aRecords", json::array()}};
                  if (a.Has("--metadata")) props["metadata"] = TagsJson(a.GetList("--metadata"));
                  return PutAt(ctx, InZone(*sub, a, "A", *a.Get("--name")), kApiPrivateDns,
                               json{{"properties", props}});
                }});
  r.AddCommand({.path = {"network", "private-dns", "record-set", "cname", "set-record"},
                .summary = "Set the value of a CNAME record.",
                .args = {GroupArg(true, false),
                         ZoneNameArg(false),
                         record_set_name,
                         {.name = "--cname",
                          .aliases = {"-c"},
                          .help = "Value of the cname record-set. It should be Canonical name.",
                          .required = true},
                         ttl},
                .run = [ttl_of](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  auto arm = ctx.Arm();
                  if (!arm) return Outcome::FromArm(arm.error());
                  auto t = ttl_of(a);
                  if (!t)
                    return Outcome::Usage("argument --ttl: invalid int value: '" +
                                          a.GetOr("--ttl", "") + "'");
                  std::string path = InZone(*sub, a, "CNAME", *a.Get("--record-set-name"));
                  auto current = (*arm)->Get(path, kApiPrivateDns);
                  json set;
                  if (current) {
                    set = *current;
                  } else if (current.error().status == 404) {
                    set = {{"properties", {{"ttl", *t}}}};
                  } else {
                    return Outcome::FromArm(current.error());
                  }
                  if (a.Has("--ttl")) set["properties"]["ttl"] = *t;
                  set["properties"]["cnameRecord"] = {{"cname", *a.Get("--cname")}};
                  return PutAt(ctx, path, kApiPrivateDns, set);
                }});
  for (const std::string type : {"A", "CNAME"}) {
    std::string word = AsciiLower(type);
    AddShowListDelete(
        r,
        {.group_path = {"network", "private-dns", "record-set", word},
         .noun = type + " record set",
         .name_help = "The name of the record set, relative to the name of "
                      "the zone.",
         .api = kApiPrivateDns,
         .path_of = [type](const std::string& sub,
                           const ParsedArgs& a) { return InZone(sub, a, type, *a.Get("--name")); },
         .list_path =
             [type](const std::string& sub, const ParsedArgs& a) {
               return ResourcePath(sub, *a.Get("--resource-group"), kZones, *a.Get("--zone-name")) +
                      "/" + type;
             },
         .parent_args = {ZoneNameArg()},
         .delete_confirms = true});
  }
  r.AddCommand(
      {.path = {"network", "private-dns", "record-set", "list"},
       .summary = "List all record sets within a Private DNS zone.",
       .args = {GroupArg(true, false), ZoneNameArg(false)},
       .run = [](Context& ctx, const ParsedArgs& a) {
         auto sub = ctx.Subscription();
         if (!sub) return Outcome::FromArm(sub.error());
         return ListAt(
             ctx,
             ResourcePath(*sub, *a.Get("--resource-group"), kZones, *a.Get("--zone-name")) + "/ALL",
             kApiPrivateDns);
       }});
}

}  // namespace

void AddDnsCommands(Registry& registry) {
  AddZone(registry);
  AddLink(registry);
  AddRecordSets(registry);
}

}  // namespace cove::cli
