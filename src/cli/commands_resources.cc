// group, provider, account.
#include <cstdlib>
#include <random>

#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {

ArgSpec GroupNameArg() {
  return {.name = "--name",
          .aliases = {"-n", "--resource-group", "-g"},
          .help = "Name of the new resource group.",
          .required = true};
}

// az's account shape. The user is the identity `cove login` holds; without one (cove's ARM API
// needs no login) the local user, as type "user".
json AccountView(const Context& ctx, const json& sub, const std::string& selected) {
  const char* local = std::getenv("USER");
  json user = {{"name", local ? local : "cove"}, {"type", "user"}};
  if (auto login = CurrentLogin(ctx)) {
    user = login->IsManagedIdentity()
               ? ManagedIdentityUser(*login)
               : json{{"name", login->user_name}, {"type", login->user_type}};
  }
  return AccountJson(sub, selected, user);
}

void AddGroup(Registry& r) {
  r.AddGroup({{"group"}, "Manage resource groups and template deployments."});
  r.AddCommand({.path = {"group", "create"},
                .summary = "Create a new resource group.",
                .args = {GroupNameArg(),
                         {.name = "--location",
                          .aliases = {"-l"},
                          .help = "Location. Values from: `az account list-locations`.",
                          .required = true},
                         {.name = "--managed-by",
                          .help = "The ID of the resource that manages this "
                                  "resource group."},
                         TagsArg()},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto sub = ctx.Subscription();
                      if (!sub) return Outcome::FromArm(sub.error());
                      json body = {{"location", *a.Get("--location")}};
                      if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
                      if (auto m = a.Get("--managed-by")) body["managedBy"] = *m;
                      return PutAt(ctx, GroupPath(*sub, *a.Get("--name")), kApiResources, body);
                    },
                .examples = {{"Create a new resource group in the West US region.",
                              "cove group create -l westus -n MyResourceGroup"}}});
  r.AddCommand({.path = {"group", "show"},
                .summary = "Gets a resource group.",
                .args = {GroupNameArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  return ShowAt(ctx, GroupPath(*sub, *a.Get("--name")), kApiResources);
                }});
  r.AddCommand(
      {.path = {"group", "list"},
       .summary = "List resource groups.",
       .args = {{.name = "--tag",
                 .help = "a single tag in 'key[=value]' format. Use \"\" to clear "
                         "existing tags."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             Outcome all = ListAt(ctx, "/subscriptions/" + *sub + "/resourcegroups", kApiResources);
             if (all.exit_code != 0 || !a.Has("--tag")) return all;
             std::string tag = *a.Get("--tag");
             size_t eq = tag.find('=');
             std::string key = tag.substr(0, eq);
             json kept = json::array();
             for (const auto& g : *all.value) {
               if (!g.contains("tags") || !g["tags"].is_object() || !g["tags"].contains(key)) {
                 continue;
               }
               if (eq != std::string::npos && g["tags"][key] != tag.substr(eq + 1)) continue;
               kept.push_back(g);
             }
             return Outcome::Value(kept);
           },
       .examples = {{"List all resource groups located in the West US region.",
                     "cove group list --query \"[?location=='westus']\""}}});
  r.AddCommand({.path = {"group", "delete"},
                .summary = "Delete a resource group.",
                .args = {GroupNameArg(),
                         YesArg(),
                         NoWaitArg(),
                         {.name = "--force-deletion-types",
                          .aliases = {"-f"},
                          .help = "The resource types you want to force delete."}},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  if (auto stop = Confirm(ctx, a,
                                          "Are you sure you want to perform this "
                                          "operation?")) {
                    return *stop;
                  }
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  return DeleteAt(ctx, GroupPath(*sub, *a.Get("--name")), kApiResources);
                }});
  r.AddCommand({.path = {"group", "exists"},
                .summary = "Check if a resource group exists.",
                .args = {GroupNameArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  auto arm = ctx.Arm();
                  if (!arm) return Outcome::FromArm(arm.error());
                  auto res = (*arm)->Exists(GroupPath(*sub, *a.Get("--name")), kApiResources);
                  if (!res) return Outcome::FromArm(res.error());
                  return Outcome::Value(*res);
                }});
}

ArgSpec NamespaceArg() {
  return {.name = "--namespace",
          .aliases = {"-n"},
          .help = "The resource namespace, aka 'provider'.",
          .required = true};
}

void AddProvider(Registry& r) {
  r.AddGroup({{"provider"}, "Manage resource providers."});
  auto post = [](const std::string& verb) {
    return [verb](Context& ctx, const ParsedArgs& a) {
      auto sub = ctx.Subscription();
      if (!sub) return Outcome::FromArm(sub.error());
      auto arm = ctx.Arm();
      if (!arm) return Outcome::FromArm(arm.error());
      std::string ns = *a.Get("--namespace");
      auto res =
          (*arm)->Post("/subscriptions/" + *sub + "/providers/" + ns + "/" + verb, kApiResources);
      if (!res) return Outcome::FromArm(res.error());
      std::string state = res->is_object() ? res->value("registrationState", "") : "";
      if ((state == "Registering" || state == "Unregistering") && !a.Has("--wait")) {
        ctx.Warn(std::string(verb == "register" ? "Registering" : "Unregistering") +
                 " is still on-going. You can monitor using 'cove provider show -n " + ns + "'");
      }
      return Outcome::Nothing();
    };
  };
  r.AddCommand({.path = {"provider", "register"},
                .summary = "Register a provider.",
                .args = {NamespaceArg(),
                         {.name = "--wait",
                          .help = "Wait for the registration to finish.",
                          .kind = ArgKind::kSwitch},
                         {.name = "--consent-to-permissions",
                          .help = "A value indicating whether authorization is consented or not.",
                          .kind = ArgKind::kSwitch}},
                .run = post("register"),
                .examples = {{"Register a provider in another subscription.",
                              "cove provider register --namespace Microsoft.Network "
                              "--subscription MySubscription"}}});
  r.AddCommand({.path = {"provider", "unregister"},
                .summary = "Unregister a provider.",
                .args = {NamespaceArg(),
                         {.name = "--wait",
                          .help = "Wait for unregistration to finish.",
                          .kind = ArgKind::kSwitch}},
                .run = post("unregister")});
  r.AddCommand(
      {.path = {"provider", "show"},
       .summary = "Gets the specified resource provider.",
       .args = {NamespaceArg(),
                {.name = "--expand", .help = "The $expand query parameter (accepted, ignored)."}},
       .run = [](Context& ctx, const ParsedArgs& a) {
         auto sub = ctx.Subscription();
         if (!sub) return Outcome::FromArm(sub.error());
         return ShowAt(ctx, "/subscriptions/" + *sub + "/providers/" + *a.Get("--namespace"),
                       kApiResources);
       }});
  r.AddCommand(
      {.path = {"provider", "list"},
       .summary = "Gets all resource providers for a subscription.",
       .args = {{.name = "--expand", .help = "The $expand query parameter (accepted, ignored)."}},
       .run = [](Context& ctx, const ParsedArgs&) {
         auto sub = ctx.Subscription();
         if (!sub) return Outcome::FromArm(sub.error());
         return ListAt(ctx, "/subscriptions/" + *sub + "/providers", kApiResources);
       }});
}

void AddAccount(Registry& r) {
  r.AddGroup({{"account"}, "Manage Azure subscription information."});
  r.AddCommand(
      {.path = {"account", "show"},
       .summary = "Get the details of a subscription.",
       .args = {{.name = "--name", .aliases = {"-n"}, .help = "Name or ID of subscription."}},
       .run = [](Context& ctx, const ParsedArgs& a) {
         auto sub = ctx.Subscription();
         if (!sub) return Outcome::FromArm(sub.error());
         std::string wanted = a.GetOr("--name", *sub);
         // A managed identity's account (`login --identity`, inside a machine, where the
         // control plane is not reachable) knows its subscription from IMDS, as az's does.
         if (auto login = CurrentLogin(ctx);
             login && login->IsManagedIdentity() && EqualsIgnoreCase(login->subscription, wanted)) {
           json known = {{"subscriptionId", login->subscription},
                         {"displayName", login->subscription},
                         {"tenantId", login->tenant}};
           return Outcome::Value(AccountView(ctx, known, *sub));
         }
         auto found = ctx.FindSubscription(wanted);
         if (!found) return Outcome::FromArm(found.error());
         return Outcome::Value(AccountView(ctx, *found, *sub));
       }});
  r.AddCommand({.path = {"account", "list"},
                .summary = "Get a list of subscriptions for the logged in account.",
                .args = {{.name = "--all",
                          .help = "List all subscriptions from all clouds, rather than just "
                                  "'isDefault' cloud.",
                          .kind = ArgKind::kSwitch},
                         {.name = "--refresh",
                          .help = "Retrieve up-to-date subscriptions from server.",
                          .kind = ArgKind::kSwitch}},
                .run = [](Context& ctx, const ParsedArgs&) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  auto arm = ctx.Arm();
                  if (!arm) return Outcome::FromArm(arm.error());
                  auto subs = (*arm)->List("/subscriptions", kApiSubscriptions);
                  if (!subs) return Outcome::FromArm(subs.error());
                  json out = json::array();
                  for (const auto& s : *subs) out.push_back(AccountView(ctx, s, *sub));
                  return Outcome::Value(out);
                }});
  r.AddCommand(
      {.path = {"account", "set"},
       .summary = "Set a subscription to be the current active subscription.",
       .args = {{.name = "--subscription",
                 .aliases = {"-s", "--name", "-n"},
                 .help = "Name or ID of subscription.",
                 .required = true}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto found = ctx.FindSubscription(*a.Get("--subscription"));
             if (!found) {
               if (found.error().code.empty() && found.error().status == 404) {
                 return Outcome::Failure("The subscription of '" + *a.Get("--subscription") +
                                         "' doesn't exist in cloud 'AzureCloud'.");
               }
               return Outcome::FromArm(found.error());
             }
             auto saved = ctx.ConfigSet("subscription", found->value("subscriptionId", ""));
             if (!saved) return Outcome::Failure(saved.error().message);
             return Outcome::Nothing();
           },
       .subscription_arg = false});
  r.AddCommand({.path = {"account", "create"},
                .summary = "Create a subscription (cove extension: PUT /subscriptions/{id}).",
                .args = {{.name = "--name",
                          .aliases = {"-n"},
                          .help = "Display name of the new subscription.",
                          .required = true},
                         {.name = "--subscription-id",
                          .help = "Its id (a GUID). Default: a new random GUID."}},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto arm = ctx.Arm();
                      if (!arm) return Outcome::FromArm(arm.error());
                      std::string id = a.GetOr("--subscription-id", NewGuid());
                      auto res = (*arm)->Put("/subscriptions/" + id, kApiSubscriptions,
                                             json{{"displayName", *a.Get("--name")}});
                      if (!res) return Outcome::FromArm(res.error());
                      return Outcome::Value(*res);
                    },
                .subscription_arg = false});
}

}  // namespace

json AccountJson(const json& sub, const std::string& selected, const json& user) {
  std::string id = sub.value("subscriptionId", "");
  return json{{"environmentName", "AzureCloud"},
              {"homeTenantId", sub.value("tenantId", "")},
              {"id", id},
              {"isDefault", EqualsIgnoreCase(id, selected)},
              {"managedByTenants", json::array()},
              {"name", sub.value("displayName", "")},
              {"state", sub.value("state", "Enabled")},
              {"tenantId", sub.value("tenantId", "")},
              {"user", user}};
}

void AddResourceCommands(Registry& registry) {
  AddGroup(registry);
  AddProvider(registry);
  AddAccount(registry);
}

}  // namespace cove::cli
