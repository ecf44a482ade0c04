// dns-resolver (Azure DNS Private Resolver, az's `dns-resolver` extension): the resolver,
// inbound-endpoint, outbound-endpoint, forwarding-ruleset, forwarding-rule and vnet-link, with
// az's argument names (`--id` names the VNet or subnet, as az's flattened `virtualNetwork.id`
// and `subnet.id`) and its shorthand syntax for the list arguments:
//   --ip-configurations '[{private-ip-address:"",private-ip-allocation-method:Dynamic,id:SUBNET}]'
//   --outbound-endpoints '[{id:ENDPOINT}]'   --target-dns-servers '[{ip-address:10.0.0.1,port:53}]'
// (JSON is accepted too). Deletes ask for confirmation unless --yes, as az's do.
#include <cctype>
#include <cstring>
#include <variant>

#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kApiDnsResolver[] = "2022-07-01";
constexpr char kResolvers[] = "Microsoft.Network/dnsResolvers";
constexpr char kRulesets[] = "Microsoft.Network/dnsForwardingRulesets";

// ---- az's shorthand syntax ----

// "private-ip-address" → "privateIpAddress".
std::string CamelCase(const std::string& key) {
  std::string out;
  bool upper = false;
  for (char c : key) {
    if (c == '-' || c == '_') {
      upper = !out.empty();
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

class Shorthand {
 public:
  explicit Shorthand(const std::string& text) : text_(text) {}

  std::optional<json> Parse() {
    auto v = Value();
    Skip();
    if (!v || pos_ != text_.size()) return std::nullopt;
    return v;
  }

 private:
  void Skip() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    Skip();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::optional<std::string> Scalar(const char* stops) {
    Skip();
    if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
      char quote = text_[pos_++];
      size_t end = text_.find(quote, pos_);
      if (end == std::string::npos) return std::nullopt;
      std::string out = text_.substr(pos_, end - pos_);
      pos_ = end + 1;
      return out;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && std::strchr(stops, text_[pos_]) == nullptr) ++pos_;
    std::string out = text_.substr(start, pos_ - start);
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    return out;
  }
  std::optional<json> Value() {
    Skip();
    if (Eat('{')) {
      json obj = json::object();
      if (Eat('}')) return obj;
      do {
        auto key = Scalar(":=,}");
        if (!key || key->empty() || !(Eat(':') || Eat('='))) return std::nullopt;
        auto v = Value();
        if (!v) return std::nullopt;
        obj[CamelCase(*key)] = *v;
      } while (Eat(','));
      if (!Eat('}')) return std::nullopt;
      return obj;
    }
    if (Eat('[')) {
      json arr = json::array();
      if (Eat(']')) return arr;
      do {
        auto v = Value();
        if (!v) return std::nullopt;
        arr.push_back(*v);
      } while (Eat(','));
      if (!Eat(']')) return std::nullopt;
      return arr;
    }
    bool quoted = pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"');
    auto s = Scalar(",}]");
    if (!s) return std::nullopt;
    if (!quoted && !s->empty() && s->size() < 10 &&
        s->find_first_not_of("0123456789") == std::string::npos) {
      return json(std::stoll(*s));
    }
    return json(*s);
  }

  const std::string& text_;
  size_t pos_ = 0;
};

// The list argument `name` as a JSON array of objects (JSON or az's shorthand), or az's usage
// error.
std::variant<json, Outcome> ObjectList(const ParsedArgs& a, const std::string& name) {
  std::string text = a.GetOr(name, "");
  json v = json::parse(text, nullptr, false);
  if (v.is_discarded()) {
    auto parsed = Shorthand(text).Parse();
    v = parsed ? *parsed : json();
  }
  if (v.is_object()) v = json::array({v});
  bool ok = v.is_array();
  for (const auto& e : v) ok = ok && e.is_object();
  if (!ok) {
    return Outcome::Usage("argument " + name + ": invalid syntax: '" + text +
                          "'. Use JSON or az's shorthand syntax, e.g. '[{key:value,key:value}]'.");
  }
  return v;
}

// ---- shared argument specs and paths ----

ArgSpec ResolverNameArg(bool id_part = true) {
  return {.name = "--dns-resolver-name",
          .help = "The name of the DNS resolver.",
          .required = true,
          .id_part = id_part};
}

ArgSpec RulesetNameArg(bool id_part = true) {
  return {.name = "--ruleset-name",
          .aliases = {"--dns-forwarding-ruleset-name"},
          .help = "The name of the DNS forwarding ruleset.",
          .required = true,
          .id_part = id_part};
}

ArgSpec IdArg(const std::string& help) { return {.name = "--id", .help = help, .required = true}; }

PathFn ChildPath(const char* parent_type, std::string parent_arg, const char* child) {
  return [=](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"),
                        std::string(parent_type) + "/" + *a.Get(parent_arg) + "/" + child,
                        *a.Get("--name"));
  };
}

PathFn ChildListPath(const char* parent_type, std::string parent_arg, const char* child) {
  return [=](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"), parent_type, *a.Get(parent_arg)) + "/" +
           child;
  };
}

PathFn TopPath(const char* type) {
  return [=](const std::string& sub, const ParsedArgs& a) {
    return ResourcePath(sub, *a.Get("--resource-group"), type, *a.Get("--name"));
  };
}

// The create command of a resource at `path_of`, with az's create arguments around `own`.
void AddCreate(
    Registry& r, std::vector<std::string> path, std::string summary, std::vector<ArgSpec> head,
    std::vector<ArgSpec> own, bool located, PathFn path_of,
    std::function<std::variant<json, Outcome>(const ParsedArgs&, const std::string&)> body,
    std::pair<std::string, std::string> example) {
  std::vector<ArgSpec> args = {GroupArg(true, false)};
  for (auto& h : head) args.push_back(std::move(h));
  for (auto& o : own) args.push_back(std::move(o));
  if (located) {
    args.push_back(LocationArg());
    args.push_back(TagsArg());
  }
  args.push_back(NoWaitArg());
  r.AddCommand({.path = std::move(path),
                .summary = std::move(summary),
                .args = args,
                .run =
                    [located, path_of, body](Context& ctx, const ParsedArgs& a) {
                      return WithSub(ctx, [&](const std::string& sub) {
                        auto made = body(a, sub);
                        if (auto* stop = std::get_if<Outcome>(&made)) return *stop;
                        json b = std::get<json>(made);
                        if (located) {
                          auto location = LocationOr(ctx, a, sub);
                          if (!location) return Outcome::FromArm(location.error());
                          b["location"] = *location;
                          if (a.Has("--tags")) b["tags"] = TagsJson(a.GetList("--tags"));
                        }
                        return PutAt(ctx, path_of(sub, a), kApiDnsResolver, b);
                      });
                    },
                .examples = {std::move(example)}});
}

SimpleResource Child(std::vector<std::string> group_path, std::string noun, std::string name_help,
                     const char* parent_type, ArgSpec parent, const char* child) {
  std::string parent_arg = parent.name;
  return {.group_path = std::move(group_path),
          .noun = std::move(noun),
          .name_help = std::move(name_help),
          .api = kApiDnsResolver,
          .path_of = ChildPath(parent_type, parent_arg, child),
          .list_path = ChildListPath(parent_type, parent_arg, child),
          .parent_args = {std::move(parent)},
          .delete_confirms = true};
}

SimpleResource TopLevel(std::vector<std::string> group_path, std::string noun,
                        std::string name_help, const char* type) {
  return {.group_path = std::move(group_path),
          .noun = std::move(noun),
          .name_help = std::move(name_help),
          .api = kApiDnsResolver,
          .path_of = TopPath(type),
          .list_path =
              [type](const std::string& sub, const ParsedArgs& a) {
                return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" + type;
              },
          .list_group_optional = true,
          .subscription_list_path =
              [type](const std::string& sub, const ParsedArgs&) {
                return "/subscriptions/" + sub + "/providers/" + type;
              },
          .delete_confirms = true};
}

json Metadata(const ParsedArgs& a) { return TagsJson(a.GetList("--metadata")); }

ArgSpec MetadataArg() {
  return {.name = "--metadata",
          .help = "Metadata attached to the resource: key[=value] [key[=value] ...].",
          .kind = ArgKind::kList};
}

// --target-dns-servers → [{ipAddress, port}] (port 53 when absent).
std::variant<json, Outcome> TargetServers(const ParsedArgs& a) {
  auto list = ObjectList(a, "--target-dns-servers");
  if (auto* stop = std::get_if<Outcome>(&list)) return *stop;
  json out = json::array();
  for (const auto& t : std::get<json>(list)) {
    json server = {{"ipAddress", t.value("ipAddress", "")}, {"port", 53}};
    if (t.contains("port")) server["port"] = t["port"];
    out.push_back(server);
  }
  return out;
}

void AddResolver(Registry& r) {
  r.AddGroup({{"dns-resolver"}, "Manage Dns Resolver."});
  AddCreate(r, {"dns-resolver", "create"}, "Create a DNS resolver.",
            {{.name = "--name",
              .aliases = {"-n", "--dns-resolver-name"},
              .help = "The name of the DNS resolver.",
              .required = true}},
            {IdArg("ID of the virtual network.")}, true, TopPath(kResolvers),
            [](const ParsedArgs& a, const std::string&) -> std::variant<json, Outcome> {
              return json{{"properties", {{"virtualNetwork", {{"id", *a.Get("--id")}}}}}};
            },
            {"Create a DNS resolver in a virtual network.",
             "cove dns-resolver create -g MyResourceGroup -n MyResolver --id "
             "/subscriptions/.../virtualNetworks/MyVnet"});
  AddShowListDelete(
      r, TopLevel({"dns-resolver"}, "DNS resolver", "The name of the DNS resolver.", kResolvers));

  r.AddGroup({{"dns-resolver", "inbound-endpoint"}, "Manage inbound endpoint with dns resolver."});
  AddCreate(
      r, {"dns-resolver", "inbound-endpoint", "create"},
      "Create an inbound endpoint for a DNS "
      "resolver.",
      {ResolverNameArg(false),
       {.name = "--name",
        .aliases = {"-n", "--inbound-endpoint-name"},
        .help = "The name of the inbound endpoint for the DNS resolver.",
        .required = true}},
      {{.name = "--ip-configurations",
        .help = "IP configurations the inbound endpoint belongs to: [{private-ip-address, "
                "private-ip-allocation-method, id (the subnet)}]. Support shorthand-syntax, json.",
        .required = true}},
      true, ChildPath(kResolvers, "--dns-resolver-name", "inboundEndpoints"),
      [](const ParsedArgs& a, const std::string&) -> std::variant<json, Outcome> {
        auto list = ObjectList(a, "--ip-configurations");
        if (auto* stop = std::get_if<Outcome>(&list)) return *stop;
        json configs = json::array();
        for (auto c : std::get<json>(list)) {
          if (c.contains("id") && !c.contains("subnet")) {
            c["subnet"] = {{"id", c["id"]}};
            c.erase("id");
          }
          if (c.contains("privateIpAddress") && c["privateIpAddress"] == "") {
            c.erase("privateIpAddress");
          }
          configs.push_back(c);
        }
        return json{{"properties", {{"ipConfigurations", configs}}}};
      },
      {"Create an inbound endpoint with a dynamic address.",
       "cove dns-resolver inbound-endpoint create -g MyResourceGroup --dns-resolver-name "
       "MyResolver -n inbound --ip-configurations "
       "'[{private-ip-allocation-method:Dynamic,id:/subscriptions/.../subnets/inbound}]'"});
  AddShowListDelete(r, Child({"dns-resolver", "inbound-endpoint"}, "inbound endpoint",
                             "The name of the inbound endpoint for the DNS resolver.", kResolvers,
                             ResolverNameArg(), "inboundEndpoints"));

  r.AddGroup({{"dns-resolver", "outbound-endpoint"},
              "Manage outbound endpoint with dns "
              "resolver."});
  AddCreate(r, {"dns-resolver", "outbound-endpoint", "create"},
            "Create an outbound endpoint for a DNS resolver.",
            {ResolverNameArg(false),
             {.name = "--name",
              .aliases = {"-n", "--outbound-endpoint-name"},
              .help = "The name of the outbound endpoint for the DNS resolver.",
              .required = true}},
            {IdArg("ID of the subnet.")}, true,
            ChildPath(kResolvers, "--dns-resolver-name", "outboundEndpoints"),
            [](const ParsedArgs& a, const std::string&) -> std::variant<json, Outcome> {
              return json{{"properties", {{"subnet", {{"id", *a.Get("--id")}}}}}};
            },
            {"Create an outbound endpoint.",
             "cove dns-resolver outbound-endpoint create -g MyResourceGroup --dns-resolver-name "
             "MyResolver -n outbound --id /subscriptions/.../subnets/outbound"});
  AddShowListDelete(r, Child({"dns-resolver", "outbound-endpoint"}, "outbound endpoint",
                             "The name of the outbound endpoint for the DNS resolver.", kResolvers,
                             ResolverNameArg(), "outboundEndpoints"));
}

void AddRulesets(Registry& r) {
  r.AddGroup({{"dns-resolver", "forwarding-ruleset"},
              "Manage forwarding ruleset with dns "
              "resolver."});
  AddCreate(r, {"dns-resolver", "forwarding-ruleset", "create"}, "Create a DNS forwarding ruleset.",
            {{.name = "--name",
              .aliases = {"-n", "--ruleset-name", "--dns-forwarding-ruleset-name"},
              .help = "The name of the DNS forwarding ruleset.",
              .required = true}},
            {{.name = "--outbound-endpoints",
              .help = "The reference to the DNS resolver outbound endpoints that are used to "
                      "route DNS queries matching the forwarding rules in the ruleset to the "
                      "target DNS servers: [{id}]. Support shorthand-syntax, json.",
              .required = true}},
            true, TopPath(kRulesets),
            [](const ParsedArgs& a, const std::string&) -> std::variant<json, Outcome> {
              auto list = ObjectList(a, "--outbound-endpoints");
              if (auto* stop = std::get_if<Outcome>(&list)) return *stop;
              return json{{"properties", {{"dnsResolverOutboundEndpoints", std::get<json>(list)}}}};
            },
            {"Create a ruleset on an outbound endpoint.",
             "cove dns-resolver forwarding-ruleset create -g MyResourceGroup -n MyRuleset "
             "--outbound-endpoints '[{id:/subscriptions/.../outboundEndpoints/outbound}]'"});
  AddShowListDelete(r, TopLevel({"dns-resolver", "forwarding-ruleset"}, "DNS forwarding ruleset",
                                "The name of the DNS forwarding ruleset.", kRulesets));

  r.AddGroup({{"dns-resolver", "forwarding-rule"}, "Manage forwarding rule with dns resolver."});
  ArgSpec rule_name = {.name = "--name",
                       .aliases = {"-n", "--forwarding-rule-name"},
                       .help = "The name of the forwarding rule.",
                       .required = true};
  auto rule_path = ChildPath(kRulesets, "--ruleset-name", "forwardingRules");
  ArgSpec state = {.name = "--forwarding-rule-state",
                   .help = "The state of forwarding rule.",
                   .choices = {"Disabled", "Enabled"}};
  ArgSpec targets = {.name = "--target-dns-servers",
                     .help =
                         "DNS servers to forward the DNS query to: [{ip-address, port}]. "
                         "Support shorthand-syntax, json."};
  ArgSpec create_targets = targets;
  create_targets.required = true;
  AddCreate(r, {"dns-resolver", "forwarding-rule", "create"},
            "Create a forwarding rule in a DNS forwarding ruleset.",
            {RulesetNameArg(false), rule_name},
            {{.name = "--domain-name",
              .help = "The domain name for the forwarding rule (with the trailing dot).",
              .required = true},
             state,
             create_targets,
             MetadataArg()},
            false, rule_path,
            [](const ParsedArgs& a, const std::string&) -> std::variant<json, Outcome> {
              auto servers = TargetServers(a);
              if (auto* stop = std::get_if<Outcome>(&servers)) return *stop;
              json props = {{"domainName", *a.Get("--domain-name")},
                            {"targetDnsServers", std::get<json>(servers)},
                            {"forwardingRuleState", a.GetOr("--forwarding-rule-state", "Enabled")}};
              if (a.Has("--metadata")) props["metadata"] = Metadata(a);
              return json{{"properties", props}};
            },
            {"Forward a corporate domain to the on-premises DNS server.",
             "cove dns-resolver forwarding-rule create -g MyResourceGroup --ruleset-name "
             "MyRuleset -n corp --domain-name corp.example. --forwarding-rule-state Enabled "
             "--target-dns-servers '[{ip-address:192.168.0.53,port:53}]'"});
  ArgSpec update_name = rule_name;
  update_name.id_part = true;
  r.AddCommand({.path = {"dns-resolver", "forwarding-rule", "update"},
                .summary = "Update a forwarding rule in a DNS forwarding ruleset.",
                .args = {GroupArg(), RulesetNameArg(), update_name, state, targets, MetadataArg()},
                .run =
                    [rule_path](Context& ctx, const ParsedArgs& a) {
                      std::optional<json> servers;
                      if (a.Has("--target-dns-servers")) {
                        auto parsed = TargetServers(a);
                        if (auto* stop = std::get_if<Outcome>(&parsed)) return *stop;
                        servers = std::get<json>(parsed);
                      }
                      return ForEachTarget(ctx, a, rule_path, [&](const std::string& path) {
                        return GetModifyPut(ctx, path, kApiDnsResolver,
                                            [&](json& rule) -> std::optional<Outcome> {
                                              json& p = rule["properties"];
                                              if (servers) p["targetDnsServers"] = *servers;
                                              if (auto s = a.Get("--forwarding-rule-state")) {
                                                p["forwardingRuleState"] = *s;
                                              }
                                              if (a.Has("--metadata")) p["metadata"] = Metadata(a);
                                              return std::nullopt;
                                            });
                      });
                    },
                .supports_ids = true});
  AddShowListDelete(
      r, Child({"dns-resolver", "forwarding-rule"}, "forwarding rule",
               "The name of the forwarding rule.", kRulesets, RulesetNameArg(), "forwardingRules"));

  r.AddGroup({{"dns-resolver", "vnet-link"}, "Manage virtual network link with dns resolver."});
  AddCreate(r, {"dns-resolver", "vnet-link", "create"},
            "Create a virtual network link to a DNS forwarding ruleset.",
            {RulesetNameArg(false),
             {.name = "--name",
              .aliases = {"-n", "--virtual-network-link-name"},
              .help = "The name of the virtual network link.",
              .required = true}},
            {IdArg("ID of the virtual network."), MetadataArg()}, false,
            ChildPath(kRulesets, "--ruleset-name", "virtualNetworkLinks"),
            [](const ParsedArgs& a, const std::string&) -> std::variant<json, Outcome> {
              json props = {{"virtualNetwork", {{"id", *a.Get("--id")}}}};
              if (a.Has("--metadata")) props["metadata"] = Metadata(a);
              return json{{"properties", props}};
            },
            {"Apply a ruleset's rules to a virtual network.",
             "cove dns-resolver vnet-link create -g MyResourceGroup --ruleset-name MyRuleset -n "
             "hub --id /subscriptions/.../virtualNetworks/MyVnet"});
  AddShowListDelete(r, Child({"dns-resolver", "vnet-link"}, "virtual network link",
                             "The name of the virtual network link.", kRulesets, RulesetNameArg(),
                             "virtualNetworkLinks"));
}

}  // namespace

void AddDnsResolverCommands(Registry& registry) {
  AddResolver(registry);
  AddRulesets(registry);
}

}  // namespace cove::cli
