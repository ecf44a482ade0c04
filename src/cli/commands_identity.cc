// ad user, ad sp, login, logout, account get-access-token, role assignment, role definition,
// identity — az's identity commands against coved's Graph-shaped directory (/v1.0/...), its
// identity token endpoint (POST /{tenant}/oauth2/v2.0/token) and its ARM resources (role
// assignments and definitions, user-assigned managed identities).
#include <chrono>
#include <ctime>
#include <fstream>
#include <set>

#include "cli/commands.h"
#include "cli/credentials.h"
#include "common/guid.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kTenant[] = "c0ffee00-0000-4000-8000-0000000000ff";
constexpr char kManagementScope[] = "https://management.core.windows.net//.default";
constexpr char kIdentities[] = "Microsoft.ManagedIdentity/userAssignedIdentities";
constexpr char kNotLoggedIn[] = "Please run 'cove login' to setup account.";

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> ParseInt(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return std::stoll(text);
}

std::string TailOf(const std::string& id) {
  size_t slash = id.rfind('/');
  return AsciiLower(slash == std::string::npos ? id : id.substr(slash + 1));
}

// GET a Graph collection; an ARM-style 404 (coved without the directory) is an error as any.
ArmResult<json> GraphList(Context& ctx, const std::string& path) {
  auto arm = ctx.Arm();
  if (!arm) return tl::unexpected(arm.error());
  return (*arm)->List(path, kApiGraph);
}

// ---------------------------------------------------------------------------------------------
// ad user, ad sp

ArgSpec IdArg(const std::string& help) { return {.name = "--id", .help = help, .required = true}; }

void AddUsers(Registry& r) {
  r.AddGroup({{"ad"},
              "Manage Microsoft Entra ID (formerly known as Azure Active Directory, "
              "Azure AD, AAD) entities needed for Azure role-based access control "
              "(Azure RBAC) through Microsoft Graph API."});
  r.AddGroup({{"ad", "user"}, "Manage Microsoft Entra users."});
  r.AddCommand(
      {.path = {"ad", "user", "create"},
       .summary = "Create a user.",
       .args = {{.name = "--display-name",
                 .help = "Object's display name or its prefix.",
                 .required = true},
                {.name = "--password", .help = "The password of the user.", .required = true},
                {.name = "--user-principal-name",
                 .help = "The user principal name (someuser@contoso.com). It must contain one of "
                         "the verified domains for the tenant.",
                 .required = true},
                {.name = "--force-change-password-next-sign-in",
                 .help = "Marks this user as needing to update their password the next time "
                         "they authenticate. If omitted, false will be used.",
                 .kind = ArgKind::kFlag},
                {.name = "--mail-nickname",
                 .help = "Mail alias. Defaults to user principal name."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             std::string upn = *a.Get("--user-principal-name");
             json body = {
                 {"accountEnabled", true},
                 {"displayName", *a.Get("--display-name")},
                 {"userPrincipalName", upn},
                 {"mailNickname", a.GetOr("--mail-nickname", upn.substr(0, upn.find('@')))},
                 {"passwordProfile",
                  {{"password", *a.Get("--password")},
                   {"forceChangePasswordNextSignIn",
                    a.GetBool("--force-change-password-next-sign-in").value_or(false)}}}};
             auto arm = ctx.Arm();
             if (!arm) return Outcome::FromArm(arm.error());
             auto res = (*arm)->Post("/v1.0/users", kApiGraph, body);
             if (!res) return Outcome::FromGraph(res.error());
             return Outcome::Value(*res);
           },
       .examples = {{"Create a user.",
                     "cove ad user create --display-name Alice --password 'S3cret!pass' "
                     "--user-principal-name alice@contoso.com"}},
       .subscription_arg = false});
  r.AddCommand(
      {.path = {"ad", "user", "list"},
       .summary = "List Microsoft Entra users.",
       .args = {{.name = "--display-name", .help = "Object's display name or its prefix."},
                {.name = "--upn", .help = "User principal name, e.g. john.doe@contoso.com."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto users = GraphList(ctx, "/v1.0/users");
             if (!users) return Outcome::FromGraph(users.error());
             json out = json::array();
             for (const auto& u : *users) {
               if (auto upn = a.Get("--upn");
                   upn && !EqualsIgnoreCase(u.value("userPrincipalName", ""), *upn)) {
                 continue;
               }
               if (auto d = a.Get("--display-name");
                   d && u.value("displayName", "").rfind(*d, 0) != 0) {
                 continue;
               }
               out.push_back(u);
             }
             return Outcome::Value(out);
           },
       .subscription_arg = false});
  r.AddCommand({.path = {"ad", "user", "show"},
                .summary = "Get the details of a user.",
                .args = {IdArg("User's object id or principal name.")},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto arm = ctx.Arm();
                      if (!arm) return Outcome::FromArm(arm.error());
                      auto res =
                          (*arm)->Get("/v1.0/users/" + PercentEncode(*a.Get("--id")), kApiGraph);
                      if (!res) return Outcome::FromGraph(res.error(), true);
                      return Outcome::Value(*res);
                    },
                .subscription_arg = false});
  r.AddCommand({.path = {"ad", "user", "delete"},
                .summary = "Delete a user.",
                .args = {IdArg("User's object id or principal name.")},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto arm = ctx.Arm();
                      if (!arm) return Outcome::FromArm(arm.error());
                      auto res =
                          (*arm)->Delete("/v1.0/users/" + PercentEncode(*a.Get("--id")), kApiGraph);
                      if (!res) return Outcome::FromGraph(res.error());
                      return Outcome::Nothing();
                    },
                .subscription_arg = false});
}

// az's _resolve_service_principal: an appId (servicePrincipalNames) or an object id.
std::variant<std::string, Outcome> ResolveServicePrincipal(Context& ctx, const std::string& id) {
  auto sps = GraphList(ctx, "/v1.0/servicePrincipals");
  if (!sps) return Outcome::FromGraph(sps.error());
  for (const auto& sp : *sps) {
    if (EqualsIgnoreCase(sp.value("appId", ""), id)) return sp.value("id", "");
    if (sp.contains("servicePrincipalNames") && sp["servicePrincipalNames"].is_array()) {
      for (const auto& n : sp["servicePrincipalNames"]) {
        if (n.is_string() && n.get<std::string>() == id) return sp.value("id", "");
      }
    }
  }
  if (IsGuid(id)) return id;
  return Outcome::Failure("Service principal '" + id + "' doesn't exist", 3);
}

// The role definition id `role` names (a definition id, a GUID or a role name), resolved as
// az's _resolve_role_id does.
std::variant<std::string, Outcome> ResolveRole(Context& ctx, const std::string& sub,
                                               const std::string& scope, const std::string& role) {
  std::string lower = AsciiLower(role);
  if (lower.rfind("/subscriptions/", 0) == 0 &&
      lower.find("/providers/microsoft.authorization/roledefinitions/") != std::string::npos) {
    return role;
  }
  if (IsGuid(role)) {
    return "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role;
  }
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto defs = (*arm)->List(scope + "/providers/Microsoft.Authorization/roleDefinitions?$filter=" +
                               PercentEncode("roleName eq '" + role + "'"),
                           kApiAuthorization);
  if (!defs) return Outcome::FromArm(defs.error());
  json matched = json::array();
  for (const auto& d : *defs) {
    // The filter is the server's; match again so a server that ignores it is still right.
    if (d.contains("properties") && d["properties"].value("roleName", "") == role) {
      matched.push_back(d);
    }
  }
  if (matched.empty()) return Outcome::Failure("Role '" + role + "' doesn't exist.");
  if (matched.size() > 1) {
    std::string ids;
    for (const auto& d : matched) ids += (ids.empty() ? "" : "', '") + d.value("id", "");
    return Outcome::Failure("More than one role matches the given name '" + role +
                            "'. Please pick a value from '['" + ids + "']'");
  }
  return matched[0].value("id", "");
}

// Creates a role assignment. Returns the service's answer, or the error (409 kept as ArmError
// so callers can treat "already exists" as az does).
ArmResult<json> PutAssignment(Context& ctx, const std::string& scope, const std::string& role_id,
                              const std::string& principal_id, const std::string& principal_type,
                              const std::optional<std::string>& description,
                              const std::string& name) {
  auto arm = ctx.Arm();
  if (!arm) return tl::unexpected(arm.error());
  json props = {{"roleDefinitionId", role_id}, {"principalId", principal_id}};
  if (!principal_type.empty()) props["principalType"] = principal_type;
  if (description) props["description"] = *description;
  return (*arm)->Put(scope + "/providers/Microsoft.Authorization/roleAssignments/" + name,
                     kApiAuthorization, json{{"properties", props}});
}

std::string UtcStamp(const char* format, std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

void AddServicePrincipals(Registry& r) {
  r.AddGroup({{"ad", "sp"}, "Manage Microsoft Entra service principals."});
  r.AddCommand(
      {.path = {"ad", "sp", "create-for-rbac"},
       .summary = "Create an application and its associated service principal, optionally "
                  "configure the service principal's RBAC role assignments.",
       .args = {{.name = "--name",
                 .aliases = {"-n", "--display-name"},
                 .help = "Display name of the service principal. If not present, default to "
                         "cove-cli-%Y-%m-%d-%H-%M-%S where the suffix is the time of creation."},
                {.name = "--role", .help = "Role of the service principal."},
                {.name = "--scopes",
                 .help = "Space-separated list of scopes the service principal's role "
                         "assignment applies to. e.g., subscriptions/0b1f6471-1bf0-4dda-aec3-"
                         "111122223333/resourceGroups/myGroup/providers/Microsoft.Compute/"
                         "virtualMachines/myVM.",
                 .kind = ArgKind::kList},
                {.name = "--years",
                 .help = "Number of years for which the credentials will be valid. Default: 1 "
                         "year."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             std::optional<int64_t> years = 1;
             if (auto y = a.Get("--years")) {
               years = ParseInt(*y);
               if (!years || *years < 1) {
                 return Outcome::Usage("argument --years: invalid int value: '" + *y + "'");
               }
             }
             if (a.Has("--role") != a.Has("--scopes")) {
               return Outcome::Usage(
                   "Usage error: To create role assignments, specify both --role and --scopes.");
             }
             auto now = std::chrono::system_clock::now();
             std::string name = a.GetOr("--name", "cove-cli-" + UtcStamp("%Y-%m-%d-%H-%M-%S", now));
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             // Resolve the role before anything is made, so a bad role changes nothing.
             std::vector<std::pair<std::string, std::string>> grants;  // scope, role id
             for (const auto& scope : a.GetList("--scopes")) {
               auto role = ResolveRole(ctx, *sub, scope, *a.Get("--role"));
               if (auto* stop = std::get_if<Outcome>(&role)) return *stop;
               grants.emplace_back(scope, std::get<std::string>(role));
             }
             auto arm = ctx.Arm();
             if (!arm) return Outcome::FromArm(arm.error());
             // Idempotent as az: an application with this display name is reused.
             auto apps = GraphList(ctx, "/v1.0/applications");
             if (!apps) return Outcome::FromGraph(apps.error());
             json app;
             for (const auto& existing : *apps) {
               if (existing.value("displayName", "") == name) app = existing;
             }
             if (app.is_null()) {
               auto made =
                   (*arm)->Post("/v1.0/applications", kApiGraph, json{{"displayName", name}});
               if (!made) return Outcome::FromGraph(made.error());
               app = *made;
             } else {
               ctx.Warn("Found an existing application instance: (id) " + app.value("id", "") +
                        ". We will patch it.");
             }
             std::string app_id = app.value("appId", "");
             // As az: an existing application's passwords are removed first.
             if (app.contains("passwordCredentials") && app["passwordCredentials"].is_array()) {
               for (const auto& cred : app["passwordCredentials"]) {
                 if (!cred.is_object()) continue;
                 auto gone =
                     (*arm)->Post("/v1.0/applications/" + app.value("id", "") + "/removePassword",
                                  kApiGraph, json{{"keyId", cred.value("keyId", "")}});
                 if (!gone) return Outcome::FromGraph(gone.error());
               }
             }
             auto end = now + std::chrono::hours(24 * 365 * *years + 24 * (*years / 4));
             auto secret = (*arm)->Post(
                 "/v1.0/applications/" + app.value("id", "") + "/addPassword", kApiGraph,
                 json{{"passwordCredential",
                       {{"displayName", "rbac"},
                        {"startDateTime", UtcStamp("%Y-%m-%dT%H:%M:%SZ", now)},
                        {"endDateTime", UtcStamp("%Y-%m-%dT%H:%M:%SZ", end)}}}});
             if (!secret) return Outcome::FromGraph(secret.error());
             std::string sp_id;
             auto sps = GraphList(ctx, "/v1.0/servicePrincipals");
             if (!sps) return Outcome::FromGraph(sps.error());
             for (const auto& sp : *sps) {
               if (EqualsIgnoreCase(sp.value("appId", ""), app_id)) sp_id = sp.value("id", "");
             }
             if (sp_id.empty()) {
               auto sp = (*arm)->Post("/v1.0/servicePrincipals", kApiGraph,
                                      json{{"appId", app_id}, {"accountEnabled", true}});
               if (!sp) return Outcome::FromGraph(sp.error());
               sp_id = sp->value("id", "");
             }
             for (const auto& [scope, role_id] : grants) {
               ctx.Warn("Creating '" + *a.Get("--role") + "' role assignment under scope '" +
                        scope + "'");
               auto made = PutAssignment(ctx, scope, role_id, sp_id, "ServicePrincipal",
                                         std::nullopt, NewGuid());
               if (!made) {
                 if (made.error().status == 409) {
                   ctx.Warn("  Role assignment already exists.\n");
                   continue;
                 }
                 ctx.Warn("  Role assignment creation failed.\n");
                 return Outcome::FromArm(made.error());
               }
             }
             ctx.Warn(
                 "The output includes credentials that you must protect. Be sure that you do "
                 "not include these credentials in your code or check the credentials into your "
                 "source control. For more information, see https://aka.ms/azadsp-cli");
             return Outcome::Value(json{{"appId", app_id},
                                        {"displayName", name},
                                        {"password", secret->value("secretText", "")},
                                        {"tenant", kTenant}});
           },
       .examples = {{"Create a service principal that may push to a registry.",
                     "cove ad sp create-for-rbac -n ci-pusher --role AcrPush --scopes "
                     "$(cove acr show -n myregistry --query id -o tsv)"}}});
  r.AddCommand(
      {.path = {"ad", "sp", "list"},
       .summary = "List service principals.",
       .args = {{.name = "--all",
                 .help = "List all entities, expect long delay if under a big organization.",
                 .kind = ArgKind::kSwitch},
                {.name = "--display-name", .help = "Object's display name or its prefix."},
                {.name = "--spn", .help = "Service principal name."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto sps = GraphList(ctx, "/v1.0/servicePrincipals");
             if (!sps) return Outcome::FromGraph(sps.error());
             json out = json::array();
             bool filtered = a.Has("--display-name") || a.Has("--spn");
             for (const auto& sp : *sps) {
               if (auto d = a.Get("--display-name");
                   d && sp.value("displayName", "").rfind(*d, 0) != 0) {
                 continue;
               }
               if (auto spn = a.Get("--spn"); spn && sp.value("appId", "") != *spn) continue;
               out.push_back(sp);
             }
             if (!filtered && !a.Has("--all") && out.size() > 100) {
               ctx.Warn(
                   "The result is not complete. You can still use '--all' to get all of them "
                   "with long latency expected, or provide a filter through command arguments");
               out.erase(out.begin() + 100, out.end());
             }
             return Outcome::Value(out);
           },
       .subscription_arg = false});
  auto sp_id_arg = IdArg("Service principal name, or object id.");
  r.AddCommand({.path = {"ad", "sp", "show"},
                .summary = "Get the details of a service principal.",
                .args = {sp_id_arg},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto id = ResolveServicePrincipal(ctx, *a.Get("--id"));
                      if (auto* stop = std::get_if<Outcome>(&id)) return *stop;
                      auto arm = ctx.Arm();
                      if (!arm) return Outcome::FromArm(arm.error());
                      auto res = (*arm)->Get(
                          "/v1.0/servicePrincipals/" + PercentEncode(std::get<std::string>(id)),
                          kApiGraph);
                      if (!res) return Outcome::FromGraph(res.error(), true);
                      return Outcome::Value(*res);
                    },
                .subscription_arg = false});
  r.AddCommand({.path = {"ad", "sp", "delete"},
                .summary = "Delete a service principal.",
                .args = {sp_id_arg},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto id = ResolveServicePrincipal(ctx, *a.Get("--id"));
                      if (auto* stop = std::get_if<Outcome>(&id)) return *stop;
                      auto arm = ctx.Arm();
                      if (!arm) return Outcome::FromArm(arm.error());
                      auto res = (*arm)->Delete(
                          "/v1.0/servicePrincipals/" + PercentEncode(std::get<std::string>(id)),
                          kApiGraph);
                      if (!res) return Outcome::FromGraph(res.error());
                      return Outcome::Nothing();
                    },
                .subscription_arg = false});
}

// ---------------------------------------------------------------------------------------------
// login, logout, account get-access-token

// az login prints the account shape with cloudName where `account show` has environmentName.
json LoginAccount(const json& sub, const std::string& selected, const LoginState& login) {
  json account = AccountJson(sub, selected, {{"name", login.user_name}, {"type", login.user_type}});
  account.erase("environmentName");
  account["cloudName"] = "AzureCloud";
  return account;
}

void AddLogin(Registry& r) {
  r.AddCommand(
      {.path = {"login"},
       .summary = "Log in to cove (an identity token from coved's token endpoint).",
       .args = {{.name = "--username",
                 .aliases = {"-u"},
                 .help = "User name, service principal (its appId)."},
                {.name = "--password",
                 .aliases = {"-p"},
                 .help = "Credentials like user password, or for a service principal, provide "
                         "client secret."},
                {.name = "--service-principal",
                 .help = "Log in with a service principal.",
                 .kind = ArgKind::kSwitch},
                {.name = "--tenant",
                 .aliases = {"-t"},
                 .help = "The Microsoft Entra tenant, must be provided when using a service "
                         "principal."},
                {.name = "--allow-no-subscriptions",
                 .help = "Support access tenants without subscriptions.",
                 .kind = ArgKind::kSwitch},
                {.name = "--identity",
                 .aliases = {"-i"},
                 .help = "Log in using the Virtual Machine's (or container group's) managed "
                         "identity, from inside it (cove: only where 169.254.169.254 is an "
                         "address of this network namespace). With --username: a user-assigned "
                         "identity's client id, object id or resource id.",
                 .kind = ArgKind::kSwitch},
                {.name = "--bootstrap",
                 .help = "cove: log in as coved's bootstrap service principal (Owner at the "
                         "root scope), with the credential coved wrote to <data dir>/"
                         "bootstrap.json (readable by coved's user only).",
                 .kind = ArgKind::kSwitch}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             if (a.Has("--identity")) return LoginWithIdentity(ctx, a);
             bool sp = a.Has("--service-principal");
             std::string tenant = a.GetOr("--tenant", kTenant);
             std::string user, password;
             if (a.Has("--bootstrap")) {
               std::ifstream in(ctx.BootstrapPath());
               json file = json::parse(in, nullptr, /*allow_exceptions=*/false);
               if (!in.is_open() || !file.is_object() || !file["clientId"].is_string() ||
                   !file["clientSecret"].is_string()) {
                 return Outcome::Failure("cannot read coved's bootstrap credential " +
                                         ctx.BootstrapPath() +
                                         " (it is readable by coved's user only; set "
                                         "COVE_DATA_DIR to coved's data directory)");
               }
               sp = true;
               user = file["clientId"].get<std::string>();
               password = file["clientSecret"].get<std::string>();
               tenant = file.value("tenantId", tenant);
             } else {
               if (!a.Has("--username") || !a.Has("--password")) {
                 return Outcome::Usage(
                     "cove login needs --username and --password, --bootstrap, or --identity "
                     "inside a VM or container group (coved has no browser or device code "
                     "sign-in).");
               }
               if (sp && !a.Has("--tenant")) {
                 return Outcome::Usage(
                     "usage error: --service-principal --username NAME --password SECRET "
                     "--tenant TENANT");
               }
               user = *a.Get("--username");
               password = *a.Get("--password");
             }
             std::vector<std::pair<std::string, std::string>> form;
             if (sp) {
               form = {{"grant_type", "client_credentials"},
                       {"client_id", user},
                       {"client_secret", password},
                       {"scope", kManagementScope}};
             } else {
               form = {{"grant_type", "password"},
                       {"username", user},
                       {"password", password},
                       {"scope", kManagementScope}};
             }
             auto arm = ctx.Arm();
             if (!arm) return Outcome::FromArm(arm.error());
             auto res = (*arm)->PostForm("/" + PercentEncode(tenant) + "/oauth2/v2.0/token",
                                         FormEncode(form));
             if (!res) return Outcome::FromArm(res.error());
             json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
             if (res->status != 200 || !body.is_object() || !body.contains("access_token") ||
                 !body["access_token"].is_string()) {
               if (body.is_object() && body.contains("error_description") &&
                   body["error_description"].is_string()) {
                 return Outcome::Failure(body["error_description"].get<std::string>());
               }
               return Outcome::Failure("login failed: coved answered " +
                                       std::to_string(res->status) + " " + res->body);
             }
             LoginState login{user, sp ? "servicePrincipal" : "user", tenant,
                              body["access_token"].get<std::string>(), 0};
             int64_t expires_in = body.value("expires_in", int64_t{3599});
             login.expires_on = NowSeconds() + expires_in;
             if (auto claims = JwtClaims(login.access_token);
                 claims && claims->contains("exp") && (*claims)["exp"].is_number_integer()) {
               login.expires_on = (*claims)["exp"].get<int64_t>();
             }
             (*arm)->SetBearerToken(login.access_token);  // the new account lists its subscriptions
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             auto subs = (*arm)->List("/subscriptions", kApiSubscriptions);
             if (!subs) return Outcome::FromArm(subs.error());
             auto saved = WriteLogin(LoginPath(ctx.env().config_path), login);
             if (!saved) return Outcome::Failure(saved.error().message);
             json out = json::array();
             for (const auto& s : *subs) out.push_back(LoginAccount(s, *sub, login));
             return Outcome::Value(out);
           },
       .examples = {{"Log in as a user.", "cove login -u alice@contoso.com -p 'S3cret!pass'"},
                    {"Log in with a service principal (from `cove ad sp create-for-rbac`).",
                     "cove login --service-principal -u APPID -p SECRET --tenant "
                     "c0ffee00-0000-4000-8000-0000000000ff"},
                    {"Log in with a VM's system-assigned identity, from inside the VM.",
                     "sudo cove vm exec vm1 -- cove login --identity"},
                    {"Log in with a user-assigned identity of a container group.",
                     "cove container exec -g MyResourceGroup -n mygroup --exec-command \"cove "
                     "login --identity --username CLIENT_ID\""}},
       .subscription_arg = false});
  r.AddCommand({.path = {"logout"},
                .summary = "Log out to remove access to cove (removes the stored identity token).",
                .args = {{.name = "--username",
                          .help = "Account user, if missing, logout the current active account."}},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      std::string path = LoginPath(ctx.env().config_path);
                      auto login = ReadLogin(path);
                      bool have = login && *login;
                      if (have && a.Has("--username") &&
                          !EqualsIgnoreCase((*login)->user_name, *a.Get("--username"))) {
                        return Outcome::Failure("The account '" + *a.Get("--username") +
                                                "' is not logged in.");
                      }
                      auto removed = RemoveLogin(path);
                      if (!removed) return Outcome::Failure(removed.error().message);
                      if (!*removed) return Outcome::Failure("There are no active accounts.");
                      return Outcome::Nothing();
                    },
                .subscription_arg = false});
  r.AddCommand(
      {.path = {"account", "get-access-token"},
       .summary = "Get a token for utilities to access Azure.",
       .args = {{.name = "--resource",
                 .help = "Azure resource endpoints in AAD v1.0. Only "
                         "https://management.azure.com/ (ARM) is issued by cove (a managed "
                         "identity may also ask for what IMDS issues, e.g. "
                         "https://containerregistry.azure.net)."},
                {.name = "--scope",
                 .help = "Space-separated AAD scopes in AAD v2.0. Only the management scope is "
                         "issued by cove.",
                 .kind = ArgKind::kList},
                {.name = "--tenant",
                 .aliases = {"-t"},
                 .help = "Tenant ID for which the token is acquired."}},
       .run = [](Context& ctx, const ParsedArgs& a) {
         auto login = ReadLogin(LoginPath(ctx.env().config_path));
         if (!login) return Outcome::Failure(login.error().message);
         if (*login && (*login)->IsManagedIdentity()) {
           return ManagedIdentityAccessToken(ctx, a, **login);
         }
         if (!*login) {
           // Nobody signed in: the bootstrap credential's token, when this user can read it.
           auto token = ctx.ArmToken();
           if (!token) return Outcome::FromArm(token.error());
           if (token->empty()) return Outcome::Failure(kNotLoggedIn);
           auto claims = JwtClaims(*token);
           LoginState bootstrap{"bootstrap", "servicePrincipal", kTenant, *token,
                                NowSeconds() + 3599};
           if (claims && claims->contains("exp") && (*claims)["exp"].is_number_integer()) {
             bootstrap.expires_on = (*claims)["exp"].get<int64_t>();
           }
           *login = bootstrap;
         }
         if ((*login)->expires_on <= NowSeconds()) return Outcome::Failure(kNotLoggedIn);
         auto management = [](const std::string& s) {
           std::string l = AsciiLower(s);
           return l.rfind("https://management.azure.com", 0) == 0 ||
                  l.rfind("https://management.core.windows.net", 0) == 0;
         };
         std::vector<std::string> asked = a.GetList("--scope");
         if (auto res = a.Get("--resource")) asked.push_back(*res);
         for (const auto& s : asked) {
           if (!management(s)) {
             return Outcome::Failure(
                 "cove issues identity tokens for "
                 "https://management.azure.com/ only, not '" +
                 s + "'.");
           }
         }
         if (auto t = a.Get("--tenant"); t && !EqualsIgnoreCase(*t, (*login)->tenant)) {
           return Outcome::Failure(kNotLoggedIn);
         }
         auto sub = ctx.Subscription();
         if (!sub) return Outcome::FromArm(sub.error());
         std::time_t tt = static_cast<std::time_t>((*login)->expires_on);
         std::tm tm{};
         localtime_r(&tt, &tm);
         char buf[64];
         std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S.000000", &tm);
         return Outcome::Value(json{{"accessToken", (*login)->access_token},
                                    {"expiresOn", buf},
                                    {"expires_on", (*login)->expires_on},
                                    {"subscription", *sub},
                                    {"tenant", (*login)->tenant},
                                    {"tokenType", "Bearer"}});
       }});
}

// ---------------------------------------------------------------------------------------------
// role assignment, role definition

// Directory object id → az's displayable name (UPN, appId / client id), and its principalType.
struct Principal {
  std::string id;
  std::string type;  // User | ServicePrincipal
  std::string name;
};

// Every principal the directory and the subscription's managed identities know: users, service
// principals, user-assigned identities and the system-assigned identities of VMs and container
// groups (Entra lists managed identities among its service principals; their name here is the
// client id, or for a system-assigned one, whose client id ARM does not show, its object id).
std::variant<std::vector<Principal>, Outcome> AllPrincipals(Context& ctx, const std::string& sub) {
  std::vector<Principal> out;
  auto users = GraphList(ctx, "/v1.0/users");
  if (!users) return Outcome::FromGraph(users.error());
  for (const auto& u : *users) {
    out.push_back({u.value("id", ""), "User", u.value("userPrincipalName", "")});
  }
  auto sps = GraphList(ctx, "/v1.0/servicePrincipals");
  if (!sps) return Outcome::FromGraph(sps.error());
  for (const auto& sp : *sps) {
    out.push_back({sp.value("id", ""), "ServicePrincipal", sp.value("appId", "")});
  }
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto mis =
      (*arm)->List("/subscriptions/" + sub + "/providers/" + kIdentities, kApiManagedIdentity);
  if (!mis && mis.error().status != 404) return Outcome::FromArm(mis.error());
  if (mis) {
    for (const auto& mi : *mis) {
      json p = mi.value("properties", json::object());
      out.push_back({p.value("principalId", ""), "ServicePrincipal", p.value("clientId", "")});
    }
  }
  for (const auto& [type, api] : {std::pair{"Microsoft.Compute/virtualMachines", kApiCompute},
                                  std::pair{"Microsoft.ContainerInstance/containerGroups",
                                            kApiContainerInstance}}) {
    auto machines = (*arm)->List("/subscriptions/" + sub + "/providers/" + type, api);
    if (!machines && machines.error().status != 404) return Outcome::FromArm(machines.error());
    if (!machines) continue;
    for (const auto& m : *machines) {
      json identity = m.value("identity", json::object());
      if (!identity.is_object() || !identity.value("principalId", json()).is_string()) continue;
      std::string id = identity["principalId"];
      out.push_back({id, "ServicePrincipal", id});
    }
  }
  return out;
}

// az's _resolve_object_id_and_type: a UPN, an appId (or a managed identity's client id), or an
// object id (a user's, a service principal's or a managed identity's principalId).
std::variant<Principal, Outcome> ResolveAssignee(Context& ctx, const std::string& sub,
                                                 const std::string& assignee) {
  auto all = AllPrincipals(ctx, sub);
  if (auto* stop = std::get_if<Outcome>(&all)) return *stop;
  const auto& principals = std::get<std::vector<Principal>>(all);
  if (assignee.find('@') != std::string::npos) {
    for (const auto& p : principals) {
      if (p.type == "User" && EqualsIgnoreCase(p.name, assignee)) return p;
    }
  }
  for (const auto& p : principals) {
    if (p.type == "ServicePrincipal" && EqualsIgnoreCase(p.name, assignee)) return p;
  }
  if (IsGuid(assignee)) {
    for (const auto& p : principals) {
      if (EqualsIgnoreCase(p.id, assignee)) return p;
    }
  }
  return Outcome::Failure("Cannot find user or service principal in graph database for '" +
                          assignee +
                          "'. If the assignee is an appId, make sure the corresponding service "
                          "principal is created with 'cove ad sp create-for-rbac'.");
}

// az's view of a role assignment: properties flattened, with the fields the SDK model has.
json AssignmentView(const json& a) {
  json out = json::object();
  for (const char* k : {"condition", "conditionVersion", "createdBy",
                        "delegatedManagedIdentityResourceId", "description", "updatedBy"}) {
    out[k] = nullptr;
  }
  for (const auto& [k, v] : a.items()) {
    if (k != "properties") out[k] = v;
  }
  if (a.contains("properties") && a["properties"].is_object()) {
    for (const auto& [k, v] : a["properties"].items()) out[k] = v;
  }
  return out;
}

json DefinitionView(const json& d) {
  json out = json::object();
  for (const char* k : {"createdBy", "createdOn", "updatedBy", "updatedOn"}) out[k] = nullptr;
  for (const auto& [k, v] : d.items()) {
    if (k != "properties") out[k] = v;
  }
  if (d.contains("properties") && d["properties"].is_object()) {
    for (const auto& [k, v] : d["properties"].items()) out[k == "type" ? "roleType" : k] = v;
  }
  return out;
}

std::variant<std::string, Outcome> BuildScope(const ParsedArgs& a, const std::string& sub) {
  auto scope = a.Get("--scope");
  auto group = a.Get("--resource-group");
  if (scope && group) {
    return Outcome::Failure("Resource group \"" + *group +
                            "\" is redundant because scope is supplied");
  }
  if (scope) {
    if (AsciiLower(*scope).rfind("/subscriptions/", 0) == 0 && !ParseResourceId(*scope)) {
      return Outcome::Failure("Invalid scope. Please use --help to view the valid format.");
    }
    while (scope->size() > 1 && scope->back() == '/') scope->pop_back();
    return *scope;
  }
  if (group) return GroupPath(sub, *group);
  return "/subscriptions/" + sub;
}

struct Search {
  std::optional<std::string> scope;  // nullopt: the whole subscription (--all)
  std::optional<std::string> assignee;
  std::optional<std::string> role;
  bool include_inherited = false;
};

// az's _search_role_assignments (raw assignments, not yet viewed).
std::variant<json, Outcome> SearchAssignments(Context& ctx, const std::string& sub,
                                              const Search& s) {
  std::optional<Principal> who;
  if (s.assignee) {
    auto p = ResolveAssignee(ctx, sub, *s.assignee);
    if (auto* stop = std::get_if<Outcome>(&p)) return *stop;
    who = std::get<Principal>(p);
  }
  std::optional<std::string> role_id;
  if (s.role) {
    auto r = ResolveRole(ctx, sub, s.scope.value_or("/subscriptions/" + sub), *s.role);
    if (auto* stop = std::get_if<Outcome>(&r)) return *stop;
    role_id = std::get<std::string>(r);
  }
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  std::string base = s.scope.value_or("/subscriptions/" + sub);
  std::string path = base + "/providers/Microsoft.Authorization/roleAssignments";
  if (who) path += "?$filter=" + PercentEncode("principalId eq '" + who->id + "'");
  auto all = (*arm)->List(path, kApiAuthorization);
  if (!all) return Outcome::FromArm(all.error());
  json out = json::array();
  for (const auto& a : *all) {
    json p = a.value("properties", json::object());
    std::string scope = AsciiLower(p.value("scope", ""));
    if (s.scope) {
      std::string want = AsciiLower(*s.scope);
      bool exact = scope == want;
      bool above = s.include_inherited && want.rfind(scope, 0) == 0 &&
                   (want.size() == scope.size() || want[scope.size()] == '/' || scope == "/");
      if (!exact && !above) continue;
    }
    if (who && !EqualsIgnoreCase(p.value("principalId", ""), who->id)) continue;
    if (role_id && TailOf(p.value("roleDefinitionId", "")) != TailOf(*role_id)) continue;
    out.push_back(a);
  }
  return out;
}

// az's list_role_assignments output: viewed, with principalName and roleDefinitionName.
std::variant<json, Outcome> NamedAssignments(Context& ctx, const std::string& sub,
                                             const json& found) {
  json out = json::array();
  if (found.empty()) return out;
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto defs =
      (*arm)->List("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions",
                   kApiAuthorization);
  if (!defs) return Outcome::FromArm(defs.error());
  auto all = AllPrincipals(ctx, sub);
  if (auto* stop = std::get_if<Outcome>(&all)) return *stop;
  for (const auto& a : found) {
    json v = AssignmentView(a);
    v["roleDefinitionName"] = nullptr;
    for (const auto& d : *defs) {
      if (TailOf(d.value("id", "")) == TailOf(v.value("roleDefinitionId", ""))) {
        v["roleDefinitionName"] = d.value("properties", json::object()).value("roleName", "");
      }
    }
    v["principalName"] = "";
    for (const auto& p : std::get<std::vector<Principal>>(all)) {
      if (EqualsIgnoreCase(p.id, v.value("principalId", ""))) v["principalName"] = p.name;
    }
    out.push_back(v);
  }
  return out;
}

ArgSpec ScopeArg(const std::string& extra = "") {
  return {.name = "--scope",
          .help =
              "Scope at which the role assignment or definition applies to, e.g., "
              "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333, /subscriptions/"
              "0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/myGroup, or /subscriptions/"
              "0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/myGroup/providers/"
              "Microsoft.Compute/virtualMachines/myVM." +
              extra};
}

ArgSpec AssigneeArg() {
  return {.name = "--assignee",
          .help =
              "Represent a user or service principal. Supported format: object id, user "
              "sign-in name, or service principal name (appId; a managed identity's "
              "principalId or clientId)."};
}

ArgSpec RoleArg(bool required) {
  return {.name = "--role", .help = "Role name or id.", .required = required};
}

ArgSpec RoleGroupArg() {
  ArgSpec g = GroupArg(false, false);
  g.help = "Use it only if the role or assignment was added at the level of a resource group.";
  return g;
}

void AddRole(Registry& r) {
  r.AddGroup({{"role"}, "Manage Azure role-based access control (Azure RBAC)."});
  r.AddGroup({{"role", "assignment"}, "Manage role assignments."});
  r.AddCommand(
      {.path = {"role", "assignment", "create"},
       .summary = "Create a new role assignment for a user, group, or service principal.",
       .args = {AssigneeArg(),
                RoleArg(true),
                ScopeArg(),
                RoleGroupArg(),
                {.name = "--assignee-object-id",
                 .help = "Use this parameter instead of '--assignee' to bypass Graph API "
                         "invocation in case of insufficient privileges."},
                {.name = "--assignee-principal-type",
                 .help = "Use with --assignee-object-id to avoid errors caused by propagation "
                         "latency in Microsoft Graph.",
                 .choices = {"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}},
                {.name = "--description", .help = "Description of role assignment."},
                {.name = "--name",
                 .help = "A GUID for the role assignment. It must be unique and different for "
                         "each role assignment. If omitted, a new GUID is generated."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             if (a.Has("--assignee") == a.Has("--assignee-object-id")) {
               return Outcome::Usage("usage error: --assignee STRING | --assignee-object-id GUID");
             }
             if (a.Has("--assignee-principal-type") && !a.Has("--assignee-object-id")) {
               return Outcome::Usage(
                   "usage error: --assignee-object-id GUID --assignee-principal-type TYPE");
             }
             if (!a.Has("--scope") && !a.Has("--resource-group")) {
               ctx.Warn(
                   "--scope argument will become required for creating a role assignment in the "
                   "breaking change release of the fall of 2023. Please explicitly specify "
                   "--scope.");
             }
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             auto scope = BuildScope(a, *sub);
             if (auto* stop = std::get_if<Outcome>(&scope)) return *stop;
             const std::string& at = std::get<std::string>(scope);
             Principal who;
             if (auto assignee = a.Get("--assignee")) {
               auto p = ResolveAssignee(ctx, *sub, *assignee);
               if (auto* stop = std::get_if<Outcome>(&p)) return *stop;
               who = std::get<Principal>(p);
             } else {
               who.id = *a.Get("--assignee-object-id");
               who.type = a.GetOr("--assignee-principal-type", "");
             }
             auto role = ResolveRole(ctx, *sub, at, *a.Get("--role"));
             if (auto* stop = std::get_if<Outcome>(&role)) return *stop;
             auto made = PutAssignment(ctx, at, std::get<std::string>(role), who.id, who.type,
                                       a.Get("--description"), a.GetOr("--name", NewGuid()));
             if (!made) {
               if (made.error().status == 409 && made.error().code == "RoleAssignmentExists") {
                 // Idempotent as az: answer the existing assignment.
                 auto found =
                     SearchAssignments(ctx, *sub, Search{at, who.id, *a.Get("--role"), false});
                 if (auto* stop = std::get_if<Outcome>(&found)) return *stop;
                 auto named = NamedAssignments(ctx, *sub, std::get<json>(found));
                 if (auto* stop = std::get_if<Outcome>(&named)) return *stop;
                 const json& list = std::get<json>(named);
                 if (!list.empty()) return Outcome::Value(list[0]);
               }
               return Outcome::FromArm(made.error());
             }
             return Outcome::Value(AssignmentView(*made));
           },
       .examples = {{"Let a user push to a registry.",
                     "cove role assignment create --assignee alice@contoso.com --role AcrPush "
                     "--scope $(cove acr show -n myregistry --query id -o tsv)"}}});
  r.AddCommand(
      {.path = {"role", "assignment", "list"},
       .summary = "List role assignments.",
       .args = {AssigneeArg(),
                RoleArg(false),
                ScopeArg(),
                RoleGroupArg(),
                {.name = "--all",
                 .help = "Show all assignments under the current subscription.",
                 .kind = ArgKind::kSwitch},
                {.name = "--include-inherited",
                 .help = "Include assignments applied on parent scopes.",
                 .kind = ArgKind::kSwitch},
                {.name = "--include-groups",
                 .help = "Include extra assignments to the groups of which the user is a member "
                         "(cove has no groups; accepted).",
                 .kind = ArgKind::kSwitch}},
       .run = [](Context& ctx, const ParsedArgs& a) {
         auto sub = ctx.Subscription();
         if (!sub) return Outcome::FromArm(sub.error());
         Search s{std::nullopt, a.Get("--assignee"), a.Get("--role"), a.Has("--include-inherited")};
         if (a.Has("--all")) {
           if (a.Has("--scope") || a.Has("--resource-group")) {
             return Outcome::Failure("group or scope are not required when --all is used");
           }
         } else {
           auto scope = BuildScope(a, *sub);
           if (auto* stop = std::get_if<Outcome>(&scope)) return *stop;
           s.scope = std::get<std::string>(scope);
         }
         auto found = SearchAssignments(ctx, *sub, s);
         if (auto* stop = std::get_if<Outcome>(&found)) return *stop;
         auto named = NamedAssignments(ctx, *sub, std::get<json>(found));
         if (auto* stop = std::get_if<Outcome>(&named)) return *stop;
         return Outcome::Value(std::get<json>(named));
       }});
  r.AddCommand({.path = {"role", "assignment", "delete"},
                .summary = "Delete role assignments.",
                .args = {AssigneeArg(),
                         RoleArg(false),
                         ScopeArg(),
                         RoleGroupArg(),
                         {.name = "--ids",
                          .help = "Space-separated role assignment ids.",
                          .kind = ArgKind::kList},
                         {.name = "--include-inherited",
                          .help = "Include assignments applied on parent scopes.",
                          .kind = ArgKind::kSwitch},
                         YesArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto arm = ctx.Arm();
                  if (!arm) return Outcome::FromArm(arm.error());
                  if (a.Has("--ids")) {
                    for (const char* other : {"--assignee", "--role", "--resource-group", "--scope",
                                              "--include-inherited"}) {
                      if (a.Has(other)) {
                        ctx.Warn(std::string("option '") + other +
                                 "' will be ignored due to use of '--ids'.");
                      }
                    }
                    for (const auto& id : a.GetList("--ids")) {
                      auto res = (*arm)->Delete(id, kApiAuthorization);
                      if (!res) return Outcome::FromArm(res.error());
                    }
                    return Outcome::Nothing();
                  }
                  if (!a.Has("--assignee") && !a.Has("--role") && !a.Has("--scope") &&
                      !a.Has("--resource-group")) {
                    if (auto stop = Confirm(ctx, a,
                                            "This will delete all role assignments under the "
                                            "subscription. Are you sure?")) {
                      return *stop;
                    }
                  }
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  auto scope = BuildScope(a, *sub);
                  if (auto* stop = std::get_if<Outcome>(&scope)) return *stop;
                  auto found =
                      SearchAssignments(ctx, *sub,
                                        Search{std::get<std::string>(scope), a.Get("--assignee"),
                                               a.Get("--role"), a.Has("--include-inherited")});
                  if (auto* stop = std::get_if<Outcome>(&found)) return *stop;
                  const json& list = std::get<json>(found);
                  if (list.empty())
                    return Outcome::Failure("No matched assignments were found to delete");
                  for (const auto& assignment : list) {
                    auto res = (*arm)->Delete(assignment.value("id", ""), kApiAuthorization);
                    if (!res) return Outcome::FromArm(res.error());
                  }
                  return Outcome::Nothing();
                }});
  r.AddGroup({{"role", "definition"}, "Manage role definitions."});
  r.AddCommand(
      {.path = {"role", "definition", "list"},
       .summary = "List role definitions.",
       .args = {{.name = "--name", .aliases = {"-n"}, .help = "A role's name or id (a GUID)."},
                ScopeArg(),
                RoleGroupArg(),
                {.name = "--custom-role-only",
                 .help = "Custom roles only (cove has none).",
                 .kind = ArgKind::kFlag}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             auto scope = BuildScope(a, *sub);
             if (auto* stop = std::get_if<Outcome>(&scope)) return *stop;
             auto arm = ctx.Arm();
             if (!arm) return Outcome::FromArm(arm.error());
             auto defs = (*arm)->List(std::get<std::string>(scope) +
                                          "/providers/Microsoft.Authorization/roleDefinitions",
                                      kApiAuthorization);
             if (!defs) return Outcome::FromArm(defs.error());
             json out = json::array();
             for (const auto& d : *defs) {
               json v = DefinitionView(d);
               if (auto n = a.Get("--name");
                   n && v.value("name", "") != *n && v.value("roleName", "") != *n) {
                 continue;
               }
               if (a.GetBool("--custom-role-only").value_or(false) &&
                   v.value("roleType", "") != "CustomRole") {
                 continue;
               }
               out.push_back(v);
             }
             return Outcome::Value(out);
           },
       .examples = {{"Show the AcrPush role.", "cove role definition list --name AcrPush"}}});
}

// ---------------------------------------------------------------------------------------------
// identity

void AddManagedIdentity(Registry& r) {
  r.AddGroup({{"identity"}, "Managed Identities."});
  r.AddCommand(
      {.path = {"identity", "create"},
       .summary = "Create Identities.",
       .args = {NameArg("The name of the identity resource."), GroupArg(true, false),
                LocationArg(" If not specified, the location of the resource group will be used."),
                TagsArg()},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto sub = ctx.Subscription();
             if (!sub) return Outcome::FromArm(sub.error());
             std::string group = *a.Get("--resource-group");
             std::string location;
             if (auto l = a.Get("--location")) {
               location = *l;
             } else {
               auto rl = GroupLocation(ctx, *sub, group);
               if (!rl) return Outcome::FromArm(rl.error());
               location = *rl;
             }
             json body = {{"location", location}};
             if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
             return PutAt(ctx, ResourcePath(*sub, group, kIdentities, *a.Get("--name")),
                          kApiManagedIdentity, body);
           },
       .examples = {{"Create an identity for a container group (a trusted service).",
                     "cove identity create -g myResourceGroup -n aci-identity"}}});
  SimpleResource mi{
      .group_path = {"identity"},
      .noun = "managed identity",
      .name_help = "The name of the identity resource.",
      .api = kApiManagedIdentity,
      .path_of =
          [](const std::string& sub, const ParsedArgs& a) {
            return ResourcePath(sub, *a.Get("--resource-group"), kIdentities, *a.Get("--name"));
          },
      .list_path =
          [](const std::string& sub, const ParsedArgs& a) {
            return GroupPath(sub, *a.Get("--resource-group")) + "/providers/" + kIdentities;
          },
      .list_group_optional = true,
      .subscription_list_path =
          [](const std::string& sub, const ParsedArgs&) {
            return "/subscriptions/" + sub + "/providers/" + kIdentities;
          },
  };
  AddShowListDelete(r, mi);
}

}  // namespace

Outcome AssignRoleToServicePrincipal(Context& ctx, const std::string& scope,
                                     const std::string& role, const std::string& principal_id) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  auto role_id = ResolveRole(ctx, *sub, scope, role);
  if (auto* stop = std::get_if<Outcome>(&role_id)) return *stop;
  auto made = PutAssignment(ctx, scope, std::get<std::string>(role_id), principal_id,
                            "ServicePrincipal", std::nullopt, NewGuid());
  if (!made) {
    if (made.error().status == 409 && made.error().code == "RoleAssignmentExists") {
      return Outcome::Nothing();
    }
    return Outcome::FromArm(made.error());
  }
  return Outcome::Value(AssignmentView(*made));
}

std::optional<LoginState> CurrentLogin(const Context& ctx) {
  auto login = ReadLogin(LoginPath(ctx.env().config_path));
  if (!login || !*login) return std::nullopt;
  return **login;
}

void AddIdentityCommands(Registry& registry) {
  AddUsers(registry);
  AddServicePrincipals(registry);
  AddLogin(registry);
  AddRole(registry);
  AddManagedIdentity(registry);
}

}  // namespace cove::cli
