// onprem site|machine: cove's on-premises sites (Cove.OnPremises, arm/sites.cc) — not an az
// command group (Azure has no such resource), shaped like one:
//   cove onprem site create -g RG -n site1 --address-prefixes 192.168.0.0/16 --dns-server bind
//       --forwarder azurecr.io=10.0.2.4 [--forwarder corp.example=10.0.2.5,10.0.2.6]
//       [--public-ip-address 192.0.2.130] [--dns-server-address 192.168.0.53] [--asn 65010]
//   cove onprem machine create -g RG --site site1 -n host1 [--address 192.168.0.10]
// Each --forwarder is DOMAIN=IP[,IP...]: the domain the site's resolver forwards and where to
// (normally the DNS Private Resolver's inbound endpoint).
#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kApiOnPremises[] = "2026-12-01";
constexpr char kSites[] = "Cove.OnPremises/sites";

std::string SitePath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, *a.Get("--resource-group"), kSites, *a.Get("--name"));
}

std::string MachinePath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, *a.Get("--resource-group"),
                      std::string(kSites) + "/" + *a.Get("--site") + "/machines", *a.Get("--name"));
}

ArgSpec SiteArg(bool id_part = true) {
  return {.name = "--site",
          .help = "Name of the on-premises site.",
          .required = true,
          .id_part = id_part};
}

std::vector<ArgSpec> SiteSettings() {
  return {{.name = "--address-prefixes",
           .help = "Space-separated address prefixes of the site's network.",
           .kind = ArgKind::kList},
          {.name = "--public-ip-address",
           .help = "The site router's internet address, in 192.0.2.130-254 (allocated when "
                   "absent)."},
          {.name = "--dns-server",
           .help = "The site's DNS server software.",
           .choices = {"bind", "unbound", "none"},
           .default_text = "none"},
          {.name = "--dns-server-address",
           .help = "The DNS server's address (default: the first prefix's network + 53)."},
          {.name = "--forwarder",
           .help = "A conditional forwarder of the site's DNS server: DOMAIN=IP[,IP...]. "
                   "Repeat for more.",
           .kind = ArgKind::kRepeat},
          {.name = "--asn", .help = "The site router's BGP autonomous system number."}};
}

// Applies the site arguments to `props` (create and update).
std::optional<Outcome> ApplySiteArgs(const ParsedArgs& a, json& props) {
  std::optional<int64_t> asn;
  if (auto bad = ReadInt(a, "--asn", asn)) return bad;
  if (a.Has("--address-prefixes")) props["addressPrefixes"] = a.GetList("--address-prefixes");
  if (auto ip = a.Get("--public-ip-address")) props["publicIpAddress"] = *ip;
  if (asn) props["bgp"] = {{"asn", *asn}};
  bool dns_args = a.Has("--dns-server") || a.Has("--dns-server-address") || a.Has("--forwarder");
  if (!dns_args) return std::nullopt;
  json dns = props.contains("dnsServer") ? props["dnsServer"] : json::object();
  if (auto sw = a.Get("--dns-server")) dns["software"] = *sw;
  if (auto addr = a.Get("--dns-server-address")) dns["address"] = *addr;
  if (dns.value("software", "none") == "none") {
    dns.erase("address");
    dns["forwarders"] = json::array();
  }
  if (a.Has("--forwarder")) {
    json forwarders = json::array();
    for (const auto& occurrence : a.GetRepeats("--forwarder")) {
      for (const auto& f : occurrence) {
        size_t eq = f.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == f.size()) {
          return Outcome::Usage("usage error: --forwarder DOMAIN=IP[,IP...] (got '" + f + "')");
        }
        json targets = json::array();
        for (size_t start = eq + 1; start <= f.size();) {
          size_t comma = f.find(',', start);
          if (comma == std::string::npos) comma = f.size();
          if (comma > start) targets.push_back(f.substr(start, comma - start));
          start = comma + 1;
        }
        forwarders.push_back({{"domainName", f.substr(0, eq)}, {"targetDnsServers", targets}});
      }
    }
    dns["forwarders"] = forwarders;
  }
  props["dnsServer"] = dns;
  return std::nullopt;
}

void AddSite(Registry& r) {
  r.AddGroup({{"onprem"},
              "Manage cove's on-premises sites and their machines (not an az "
              "group: Azure has no such resource)."});
  r.AddGroup({{"onprem", "site"},
              "Manage on-premises sites: a network with a router, hosts and "
              "its own DNS server, reached over VPN or ExpressRoute."});
  std::vector<ArgSpec> create_args = {GroupArg(true, false),
                                      NameArg("Name of the on-premises site.", true, false)};
  for (auto& s : SiteSettings()) create_args.push_back(s);
  create_args[2].required = true;  // --address-prefixes
  create_args.push_back(LocationArg());
  create_args.push_back(TagsArg());
  r.AddCommand(
      {.path = {"onprem", "site", "create"},
       .summary = "Create an on-premises site.",
       .args = create_args,
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             json props = json::object();
             if (auto bad = ApplySiteArgs(a, props)) return *bad;
             return WithSub(ctx, [&](const std::string& sub) {
               auto location = LocationOr(ctx, a, sub);
               if (!location) return Outcome::FromArm(location.error());
               json body = {{"location", *location}, {"properties", props}};
               if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
               return PutAt(ctx, SitePath(sub, a), kApiOnPremises, body);
             });
           },
       .examples = {{"A site whose BIND forwards azurecr.io to the resolver's inbound endpoint.",
                     "cove onprem site create -g MyResourceGroup -n site1 --address-prefixes "
                     "192.168.0.0/16 --dns-server bind --forwarder azurecr.io=10.0.2.4"}}});
  std::vector<ArgSpec> update_args = {GroupArg(), NameArg("Name of the on-premises site.")};
  for (auto& s : SiteSettings()) update_args.push_back(s);
  update_args.push_back(TagsArg());
  r.AddCommand({.path = {"onprem", "site", "update"},
                .summary = "Update an on-premises site.",
                .args = update_args,
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return ForEachTarget(ctx, a, SitePath, [&](const std::string& path) {
                        return GetModifyPut(ctx, path, kApiOnPremises,
                                            [&](json& site) -> std::optional<Outcome> {
                                              if (a.Has("--tags")) {
                                                site["tags"] = TagsJson(a.GetList("--tags"));
                                              }
                                              return ApplySiteArgs(a, site["properties"]);
                                            });
                      });
                    },
                .supports_ids = true});
  AddShowListDelete(r, {.group_path = {"onprem", "site"},
                        .noun = "on-premises site",
                        .name_help = "Name of the on-premises site.",
                        .api = kApiOnPremises,
                        .path_of = SitePath,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" +
                                     kSites;
                            },
                        .list_group_optional = true,
                        .subscription_list_path =
                            [](const std::string& sub, const ParsedArgs&) {
                              return "/subscriptions/" + sub + "/providers/" + kSites;
                            }});
}

void AddMachine(Registry& r) {
  r.AddGroup({{"onprem", "machine"}, "Manage the hosts of an on-premises site."});
  r.AddCommand(
      {.path = {"onprem", "machine", "create"},
       .summary = "Create a host in an on-premises site.",
       .args = {GroupArg(true, false),
                SiteArg(false),
                NameArg("Name of the machine.", true, false),
                {.name = "--address",
                 .help = "The machine's address in the site (default: the lowest free from the "
                         "first prefix's network + 10)."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return WithSub(ctx, [&](const std::string& sub) {
               json props = json::object();
               if (auto address = a.Get("--address")) props["address"] = *address;
               return PutAt(ctx, MachinePath(sub, a), kApiOnPremises, json{{"properties", props}});
             });
           },
       .examples = {{"A docker host in site1.",
                     "cove onprem machine create -g MyResourceGroup --site site1 -n host1"}}});
  AddShowListDelete(r, {.group_path = {"onprem", "machine"},
                        .noun = "machine",
                        .name_help = "Name of the machine.",
                        .api = kApiOnPremises,
                        .path_of = MachinePath,
                        .list_path =
                            [](const std::string& sub, const ParsedArgs& a) {
                              return ResourcePath(sub, *a.Get("--resource-group"), kSites,
                                                  *a.Get("--site")) +
                                     "/machines";
                            },
                        .parent_args = {SiteArg()}});
}

}  // namespace

void AddOnPremCommands(Registry& registry) {
  AddSite(registry);
  AddMachine(registry);
}

}  // namespace cove::cli
