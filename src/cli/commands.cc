#include "cli/commands.h"

#include <iostream>
#include <random>

namespace cove::cli {

using nlohmann::json;

const Registry& Commands() {
  static const Registry* registry = [] {
    auto* r = new Registry();
    r->AddGroup({{}, "Azure's container registry private-endpoint architecture, on your machine."});
    AddResourceCommands(*r);
    AddNetworkCommands(*r);
    AddDnsCommands(*r);
    AddAcrCommands(*r);
    AddDeployCommands(*r);
    AddCaCommands(*r);
    AddVmCommands(*r);
    AddIdentityCommands(*r);
    AddAcrAuthCommands(*r);
    AddContainerCommands(*r);
    AddAksCommands(*r);
    AddGatewayCommands(*r);
    AddDnsResolverCommands(*r);
    AddOnPremCommands(*r);
    AddCloudCommands(*r);
    return r;
  }();
  return *registry;
}

std::string NewGuid() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  uint64_t a = gen(), b = gen();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// Runs a handler with the subscription resolved (most create commands).
Outcome WithSub(Context& ctx, const std::function<Outcome(const std::string&)>& body) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  return body(*sub);
}

// GET → modify → PUT, az's generic update.
Outcome GetModifyPut(Context& ctx, const std::string& path, const std::string& api,
                     const std::function<std::optional<Outcome>(json&)>& modify,
                     const std::function<json(const json&)>& shape) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto current = (*arm)->Get(path, api);
  if (!current) return Outcome::FromArm(current.error());
  if (auto stop = modify(*current)) return *stop;
  auto res = (*arm)->Put(path, api, *current);
  if (!res) return Outcome::FromArm(res.error());
  return Outcome::Value(shape ? shape(*res) : *res);
}

ArmResult<std::string> LocationOr(Context& ctx, const ParsedArgs& a, const std::string& sub) {
  if (auto l = a.Get("--location")) return *l;
  return GroupLocation(ctx, sub, *a.Get("--resource-group"));
}

std::optional<Outcome> ReadInt(const ParsedArgs& a, const std::string& name,
                               std::optional<int64_t>& out) {
  auto text = a.Get(name);
  if (!text) return std::nullopt;
  size_t digits = !text->empty() && (*text)[0] == '-' ? 1 : 0;
  if (text->size() == digits || text->size() > 18 ||
      text->find_first_not_of("0123456789", digits) != std::string::npos) {
    return Outcome::Usage("argument " + name + ": invalid int value: '" + *text + "'");
  }
  out = std::stoll(*text);
  return std::nullopt;
}

ArgSpec GroupArg(bool required, bool id_part) {
  return {.name = "--resource-group",
          .aliases = {"-g"},
          .help =
              "Name of resource group. You can configure the default group using `az "
              "configure --defaults group=<name>` (not in cove).",
          .required = required,
          .id_part = id_part};
}

ArgSpec NameArg(const std::string& help, bool required, bool id_part) {
  return {
      .name = "--name", .aliases = {"-n"}, .help = help, .required = required, .id_part = id_part};
}

ArgSpec LocationArg(const std::string& help_extra) {
  return {.name = "--location",
          .aliases = {"-l"},
          .help = "Location. Values from: `az account list-locations`." + help_extra};
}

ArgSpec TagsArg() {
  return {.name = "--tags",
          .help =
              "Space-separated tags: key[=value] [key[=value] ...]. Use \"\" to clear "
              "existing tags.",
          .kind = ArgKind::kList};
}

ArgSpec YesArg() {
  return {.name = "--yes",
          .aliases = {"-y"},
          .help = "Do not prompt for confirmation.",
          .kind = ArgKind::kSwitch};
}

ArgSpec NoWaitArg() {
  return {.name = "--no-wait",
          .help =
              "Do not wait for the long-running operation to finish (cove's operations "
              "finish at once; accepted for scripts written for az).",
          .kind = ArgKind::kSwitch};
}

json TagsJson(const std::vector<std::string>& tags) {
  json out = json::object();
  for (const auto& t : tags) {
    if (t.empty()) continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos) {
      out[t] = "";
    } else {
      out[t.substr(0, eq)] = t.substr(eq + 1);
    }
  }
  return out;
}

Outcome ForEachTarget(Context& ctx, const ParsedArgs& args, const PathFn& path_of,
                      const std::function<Outcome(const std::string& path)>& body) {
  if (args.Has("--ids")) {
    std::vector<std::string> ids = args.GetList("--ids");
    json values = json::array();
    for (const auto& id : ids) {
      if (!ParseResourceId(id)) return Outcome::Usage("invalid resource ID: " + id);
    }
    for (const auto& id : ids) {
      Outcome one = body(id);
      if (one.exit_code != 0) return one;
      if (one.value) values.push_back(*one.value);
    }
    if (ids.size() == 1) {
      return values.empty() ? Outcome::Nothing() : Outcome::Value(values[0]);
    }
    return values.empty() ? Outcome::Nothing() : Outcome::Value(values);
  }
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  return body(path_of(*sub, args));
}

Outcome ShowAt(Context& ctx, const std::string& path, const std::string& api) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto res = (*arm)->Get(path, api);
  if (!res) return Outcome::FromArm(res.error(), /*missing_is_3=*/true);
  return Outcome::Value(*res);
}

Outcome ListAt(Context& ctx, const std::string& path, const std::string& api) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto res = (*arm)->List(path, api);
  if (!res) return Outcome::FromArm(res.error());
  return Outcome::Value(*res);
}

Outcome DeleteAt(Context& ctx, const std::string& path, const std::string& api) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto res = (*arm)->Delete(path, api);
  if (!res) return Outcome::FromArm(res.error());
  return Outcome::Nothing();
}

Outcome PutAt(Context& ctx, const std::string& path, const std::string& api, const json& body) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto res = (*arm)->Put(path, api, body);
  if (!res) return Outcome::FromArm(res.error());
  return Outcome::Value(*res);
}

std::optional<Outcome> Confirm(Context& ctx, const ParsedArgs& args, const std::string& question) {
  if (args.Has("--yes")) return std::nullopt;
  if (!ctx.env().stdin_is_tty) {
    return Outcome::Failure("Unable to prompt for confirmation as no tty available. Use --yes.");
  }
  ctx.err() << question << " (y/n): " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (AsciiLower(answer) == "y" || AsciiLower(answer) == "yes") return std::nullopt;
  return Outcome::Nothing();
}

ArmResult<std::string> GroupLocation(Context& ctx, const std::string& sub,
                                     const std::string& group) {
  auto arm = ctx.Arm();
  if (!arm) return tl::unexpected(arm.error());
  auto rg = (*arm)->Get(GroupPath(sub, group), kApiResources);
  if (!rg) return tl::unexpected(rg.error());
  return rg->value("location", "");
}

std::string NameOrId(const std::string& value, const std::string& sub, const std::string& group,
                     const std::string& type_path) {
  if (IsResourceId(value)) return value;
  return ResourcePath(sub, group, type_path, value);
}

void AddShowListDelete(Registry& registry, const SimpleResource& r, bool show, bool list,
                       bool del) {
  auto with = [&](std::vector<ArgSpec> own) {
    std::vector<ArgSpec> args = {GroupArg()};
    for (const auto& p : r.parent_args) args.push_back(p);
    for (auto& a : own) args.push_back(std::move(a));
    return args;
  };
  auto path = [&](const std::string& verb) {
    std::vector<std::string> p = r.group_path;
    p.push_back(verb);
    return p;
  };
  if (show) {
    registry.AddCommand({.path = path("show"),
                         .summary = "Get the details of a " + r.noun + ".",
                         .args = with({NameArg(r.name_help)}),
                         .run =
                             [r](Context& ctx, const ParsedArgs& a) {
                               return ForEachTarget(ctx, a, r.path_of, [&](const std::string& p) {
                                 return ShowAt(ctx, p, r.api);
                               });
                             },
                         .supports_ids = true});
  }
  if (list) {
    std::vector<ArgSpec> args = with({});
    if (r.list_group_optional) args[0].required = false;
    for (auto& a : args) a.id_part = false;
    registry.AddCommand({.path = path("list"),
                         .summary = "List " + r.noun + "s.",
                         .args = args,
                         .run = [r](Context& ctx, const ParsedArgs& a) {
                           auto sub = ctx.Subscription();
                           if (!sub) return Outcome::FromArm(sub.error());
                           if (!a.Has("--resource-group") && r.subscription_list_path) {
                             return ListAt(ctx, r.subscription_list_path(*sub, a), r.api);
                           }
                           return ListAt(ctx, r.list_path(*sub, a), r.api);
                         }});
  }
  if (del) {
    std::vector<ArgSpec> own = {NameArg(r.name_help)};
    if (r.delete_confirms) own.push_back(YesArg());
    own.push_back(NoWaitArg());
    registry.AddCommand({.path = path("delete"),
                         .summary = "Delete a " + r.noun + ".",
                         .args = with(own),
                         .run =
                             [r](Context& ctx, const ParsedArgs& a) {
                               if (r.delete_confirms) {
                                 if (auto stop = Confirm(ctx, a,
                                                         "Are you sure you want to perform "
                                                         "this operation?")) {
                                   return *stop;
                                 }
                               }
                               return ForEachTarget(ctx, a, r.path_of, [&](const std::string& p) {
                                 return DeleteAt(ctx, p, r.api);
                               });
                             },
                         .supports_ids = true});
  }
}

}  // namespace cove::cli
