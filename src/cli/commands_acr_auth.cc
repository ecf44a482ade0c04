// acr login, acr credential, acr scope-map, acr token — az's registry authentication commands.
//
// `acr login` asks the ARM listener, not the registry, for a refresh token
// (POST /cove/acr/{loginServer}/oauth2/exchange): see cli.h for why. With a managed-identity
// account (`login --identity`, inside a VM or container group) it asks the registry itself
// over HTTPS (commands_mi.cc), as az does.
#include <algorithm>
#include <chrono>
#include <ctime>

#include "cli/commands.h"
#include "cli/credentials.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kNotLoggedIn[] = "Please run 'cove login' to setup account.";
const std::vector<std::string> kRepositoryActions = {
    "content/delete", "content/read", "content/write", "metadata/read", "metadata/write"};

std::string ValidActionsText() {
  std::string out = "{";
  for (size_t i = 0; i < kRepositoryActions.size(); ++i) {
    out += (i ? ", '" : "'") + kRepositoryActions[i] + "'";
  }
  return out + "}";
}

ArgSpec OptionalGroupArg() { return GroupArg(false, false); }
ArgSpec RegistryArg() { return RegistryNameArg("--registry", {"-r"}); }

// The registry resource (GET), for its loginServer and adminUserEnabled.
std::variant<json, Outcome> GetRegistry(Context& ctx, const std::string& path) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto reg = (*arm)->Get(path, kApiAcr);
  if (!reg) return Outcome::FromArm(reg.error(), true);
  return *reg;
}

std::string LoginServerOf(const json& registry) {
  return registry.value("properties", json::object()).value("loginServer", "");
}

// Each `--repository REPO ACTION...` occurrence as scope-map actions, as az's
// _parse_scope_map_actions builds them (repository and actions lowercased).
std::variant<std::vector<std::string>, Outcome> ParseRepositoryActions(
    const std::vector<std::vector<std::string>>& rules) {
  std::vector<std::string> actions;
  for (const auto& rule : rules) {
    std::string repo = AsciiLower(rule[0]);
    if (rule.size() < 2) {
      return Outcome::Usage("At least one action must be specified with \"" + repo + "\".");
    }
    for (size_t i = 1; i < rule.size(); ++i) {
      std::string action = AsciiLower(rule[i]);
      if (std::find(kRepositoryActions.begin(), kRepositoryActions.end(), action) ==
          kRepositoryActions.end()) {
        return Outcome::Usage("Invalid action \"" + action + "\" provided. \nValid actions are " +
                              ValidActionsText() + ".");
      }
      actions.push_back("repositories/" + repo + "/" + action);
    }
  }
  return actions;
}

// az's view of a scope map: the SDK names properties.type `scopeMapType` (the resource's own
// `type` stays the ARM type).
json ScopeMapView(json map) {
  if (map.is_array()) {
    for (auto& m : map) m = ScopeMapView(m);
    return map;
  }
  if (map.is_object() && map.contains("properties") && map["properties"].is_object() &&
      map["properties"].contains("type")) {
    map["properties"]["scopeMapType"] = map["properties"]["type"];
    map["properties"].erase("type");
  }
  return map;
}

std::string UtcIn(int64_t days) {
  auto t = std::chrono::system_clock::now() + std::chrono::hours(24 * days);
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// --expiration-in-days / --expiration → the expiry to send (nullopt: none), or a usage error.
std::variant<std::optional<std::string>, Outcome> Expiry(const ParsedArgs& a) {
  if (a.Has("--expiration-in-days") && a.Has("--expiration")) {
    return Outcome::Usage(
        "usage error: --expiration and --expiration-in-days are mutually "
        "exclusive.");
  }
  if (auto e = a.Get("--expiration")) return std::optional<std::string>(*e);
  if (auto d = a.Get("--expiration-in-days")) {
    bool digits = !d->empty() && d->size() <= 6 &&
                  std::all_of(d->begin(), d->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
      return Outcome::Usage("argument --expiration-in-days: invalid int value: '" + *d + "'");
    }
    int64_t days = std::stoll(*d);
    if (days <= 0) return Outcome::Usage("argument --expiration-in-days: must be positive.");
    return std::optional<std::string>(UtcIn(days));
  }
  return std::optional<std::string>();
}

std::vector<ArgSpec> ExpiryArgs() {
  return {{.name = "--expiration-in-days",
           .help = "Number of days for which the credentials will be valid. If not specified, "
                   "the expiration will default to the max value \"9999-12-31T23:59:59.999999+00:"
                   "00\""},
          {.name = "--expiration",
           .help = "UTC time for which the credentials will be valid. In the format of "
                   "%Y-%m-%dT%H:%M:%S.%f. If not specified, the expiration will default to the "
                   "max value \"9999-12-31T23:59:59.999999+00:00\""}};
}

// ---------------------------------------------------------------------------------------------
// acr login

// The end of `acr login`: the token printed (--expose-token) or the Docker config written.
Outcome FinishLogin(Context& ctx, const std::string& server, const std::string& user,
                    const std::string& secret, bool expose) {
  if (expose) {
    ctx.Warn(
        "You can perform manual login using the provided access token below, for example: "
        "'docker login loginServer -u " +
        std::string(kNullGuid) + " -p accessToken'");
    return Outcome::Value(json{{"accessToken", secret}, {"loginServer", server}});
  }
  const std::string& file = ctx.env().docker_config_path;
  auto stored = StoreDockerAuth(file, server, user, secret);
  if (!stored) return Outcome::Failure(stored.error().message);
  if (auto helper = DockerCredentialHelper(file, server)) {
    ctx.Warn(file + " names the credential helper '" + *helper + "' for " + server +
             ": docker asks it instead of the entry cove wrote (skopeo and podman read the "
             "entry).");
  }
  ctx.out() << "Login Succeeded\n";
  return Outcome::Nothing();
}

void AddLogin(Registry& r) {
  r.AddCommand(
      {.path = {"acr", "login"},
       .summary = "Log in to an Azure Container Registry (writes credentials for docker, "
                  "skopeo, podman and containerd's tools).",
       .args = {RegistryNameArg(),
                OptionalGroupArg(),
                {.name = "--username",
                 .aliases = {"-u"},
                 .help = "The username used to log into a container registry (the admin user or "
                         "a repository-scoped token)."},
                {.name = "--password",
                 .aliases = {"-p"},
                 .help = "The password used to log into a container registry."},
                {.name = "--expose-token",
                 .aliases = {"-t"},
                 .help = "Expose access token instead of automatically logging in through "
                         "Docker CLI",
                 .kind = ArgKind::kSwitch}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             bool expose = a.Has("--expose-token");
             auto user = a.Get("--username");
             auto password = a.Get("--password");
             if (expose && (user || password)) {
               return Outcome::Usage(
                   "`--expose-token` cannot be combined with `--username` or `--password`.");
             }
             if (user.has_value() != password.has_value()) {
               return Outcome::Failure(
                   "Please specify both username and password in non-interactive mode.");
             }
             std::string name = *a.Get("--name");
             if (name != AsciiLower(name)) {
               ctx.Warn(
                   "Uppercase characters are detected in the registry name. When using its "
                   "server url in docker commands, to avoid authentication errors, use all "
                   "lowercase.");
             }
             std::optional<LoginState> login;
             if (!user) {
               // Checked before anything is looked up, as az asks for an account first.
               login = CurrentLogin(ctx);
               if (login && login->IsManagedIdentity()) {
                 // Straight to the registry, from inside the machine (commands_mi.cc).
                 std::string server = ManagedIdentityLoginServer(name, *login);
                 auto secret = ManagedIdentityRefreshToken(ctx, *login, server);
                 if (auto* stop = std::get_if<Outcome>(&secret)) return *stop;
                 return FinishLogin(ctx, server, kNullGuid, std::get<std::string>(secret), expose);
               }
               auto now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
               if (!login || login->expires_on <= now) return Outcome::Failure(kNotLoggedIn);
             }
             // The login server from ARM; as az does (ResourceNotFound), a registry ARM does
             // not show this account — absent, or one it may not read (AcrPull alone grants no
             // ARM read; lists hold only what the caller may read) — is <name>.<suffix>.
             std::string server;
             {
               auto path = RegistryPath(ctx, a, "--name");
               std::variant<json, Outcome> reg = Outcome::Failure("", 3);
               if (auto* p = std::get_if<std::string>(&path)) {
                 reg = GetRegistry(ctx, *p);
               } else {
                 reg = std::get<Outcome>(path);
               }
               if (auto* stop = std::get_if<Outcome>(&reg)) {
                 if (stop->exit_code != 3) return *stop;
                 LoginState suffix_of = login.value_or(LoginState{});
                 server = ManagedIdentityLoginServer(name, suffix_of);
               } else {
                 server = LoginServerOf(std::get<json>(reg));
               }
             }
             {
               std::string secret;
               if (user) {
                 secret = *password;
               } else {
                 auto arm = ctx.Arm();
                 if (!arm) return Outcome::FromArm(arm.error());
                 auto res = (*arm)->PostForm("/cove/acr/" + server + "/oauth2/exchange",
                                             FormEncode({{"grant_type", "access_token"},
                                                         {"service", server},
                                                         {"tenant", login->tenant},
                                                         {"access_token", login->access_token}}));
                 if (!res) return Outcome::FromArm(res.error());
                 json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
                 if (res->status != 200 || !body.is_object() || !body.contains("refresh_token") ||
                     !body["refresh_token"].is_string()) {
                   std::string why = res->body;
                   if (body.is_object() && body.contains("errors") && body["errors"].is_array() &&
                       !body["errors"].empty() && body["errors"][0].is_object()) {
                     why = body["errors"][0].value("message", why);
                   }
                   return Outcome::Failure("Authentication to the registry '" + server +
                                           "' failed (" + std::to_string(res->status) +
                                           "): " + why);
                 }
                 secret = body["refresh_token"].get<std::string>();
               }
               return FinishLogin(ctx, server, user.value_or(kNullGuid), secret, expose);
             }
           },
       .examples = {{"Log in with the identity of `cove login` (writes ~/.docker/config.json).",
                     "cove acr login -n myregistry"},
                    {"Get a refresh token for `skopeo login` / `podman login`.",
                     "cove acr login -n myregistry --expose-token --query accessToken -o tsv"}}});
}

// ---------------------------------------------------------------------------------------------
// acr credential

void AddCredential(Registry& r) {
  r.AddGroup({{"acr", "credential"}, "Manage login credentials for Azure Container Registries."});
  auto admin_call = [](Context& ctx, const ParsedArgs& a, const std::string& action,
                       const std::optional<json>& body) {
    return WithRegistry(ctx, a, "--name", [&](const std::string& path) {
      auto reg = GetRegistry(ctx, path);
      if (auto* stop = std::get_if<Outcome>(&reg)) return *stop;
      if (!std::get<json>(reg)
               .value("properties", json::object())
               .value("adminUserEnabled", false)) {
        return Outcome::Failure("Run 'cove acr update -n " + *a.Get("--name") +
                                " --admin-enabled true' to enable admin first.");
      }
      auto arm = ctx.Arm();
      if (!arm) return Outcome::FromArm(arm.error());
      auto res = (*arm)->Post(path + "/" + action, kApiAcr, body);
      if (!res) return Outcome::FromArm(res.error());
      return Outcome::Value(*res);
    });
  };
  r.AddCommand({.path = {"acr", "credential", "show"},
                .summary = "Get the login credentials for an Azure Container Registry.",
                .args = {RegistryNameArg(), OptionalGroupArg()},
                .run =
                    [admin_call](Context& ctx, const ParsedArgs& a) {
                      return admin_call(ctx, a, "listCredentials", std::nullopt);
                    },
                .examples = {{"Get the username used to log into a container registry.",
                              "cove acr credential show -n myregistry --query username"}}});
  r.AddCommand({.path = {"acr", "credential", "renew"},
                .summary = "Regenerate login credentials for an Azure Container Registry.",
                .args = {RegistryNameArg(),
                         OptionalGroupArg(),
                         {.name = "--password-name",
                          .help = "The name of password to regenerate.",
                          .required = true,
                          .choices = {"password", "password2"}}},
                .run = [admin_call](Context& ctx, const ParsedArgs& a) {
                  return admin_call(ctx, a, "regenerateCredential",
                                    json{{"name", *a.Get("--password-name")}});
                }});
}

// ---------------------------------------------------------------------------------------------
// acr scope-map

ArgSpec RepositoryArg(const std::string& name, const std::string& help, bool required = false) {
  return {.name = name,
          .help = help + " Use the format \"" + name +
                  " REPO [ACTION1 ACTION2 ...]\" per flag. "
                  "Valid actions are " +
                  ValidActionsText() + ".",
          .kind = ArgKind::kRepeat,
          .required = required};
}

Outcome PutScopeMap(Context& ctx, const std::string& path, const std::vector<std::string>& actions,
                    const std::optional<std::string>& description) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  json props = {{"actions", actions}};
  if (description) props["description"] = *description;
  auto res = (*arm)->Put(path, kApiAcr, json{{"properties", props}});
  if (!res) return Outcome::FromArm(res.error());
  return Outcome::Value(ScopeMapView(*res));
}

void AddScopeMap(Registry& r) {
  r.AddGroup({{"acr", "scope-map"}, "Manage scope access maps for Azure Container Registry."});
  ArgSpec name = {
      .name = "--name", .aliases = {"-n"}, .help = "The name of the scope map.", .required = true};
  r.AddCommand(
      {.path = {"acr", "scope-map", "create"},
       .summary = "Create a scope map for an Azure Container Registry.",
       .args = {name,
                RegistryArg(),
                OptionalGroupArg(),
                RepositoryArg("--repository", "Repository permissions.", true),
                {.name = "--description", .help = "Description for the scope map."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto actions = ParseRepositoryActions(a.GetRepeats("--repository"));
             if (auto* stop = std::get_if<Outcome>(&actions)) return *stop;
             return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
               return PutScopeMap(ctx, registry + "/scopeMaps/" + *a.Get("--name"),
                                  std::get<std::vector<std::string>>(actions),
                                  a.Get("--description"));
             });
           },
       .examples = {{"Create a scope map that allows content/write and metadata/read actions "
                     "for `hello-world` repository, and content/read action for `hello-world-"
                     "again`.",
                     "cove acr scope-map create -n MyScopeMap -r myregistry --repository "
                     "hello-world content/write metadata/read --repository hello-world-again "
                     "content/read --description \"Sample scope map.\""}}});
  r.AddCommand(
      {.path = {"acr", "scope-map", "update"},
       .summary = "Update a scope map for an Azure Container Registry.",
       .args = {name,
                RegistryArg(),
                OptionalGroupArg(),
                RepositoryArg("--add-repository", "Repository permissions to be added."),
                RepositoryArg("--remove-repository", "Repository permissions to be removed."),
                {.name = "--description", .help = "Description for the scope map."}},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto added = ParseRepositoryActions(a.GetRepeats("--add-repository"));
             if (auto* stop = std::get_if<Outcome>(&added)) return *stop;
             auto removed = ParseRepositoryActions(a.GetRepeats("--remove-repository"));
             if (auto* stop = std::get_if<Outcome>(&removed)) return *stop;
             return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
               std::string path = registry + "/scopeMaps/" + *a.Get("--name");
               auto arm = ctx.Arm();
               if (!arm) return Outcome::FromArm(arm.error());
               auto current = (*arm)->Get(path, kApiAcr);
               if (!current) return Outcome::FromArm(current.error(), true);
               json props = current->value("properties", json::object());
               std::vector<std::string> actions;
               if (props.contains("actions") && props["actions"].is_array()) {
                 for (const auto& x : props["actions"]) {
                   if (x.is_string()) actions.push_back(x.get<std::string>());
                 }
               }
               // As az: case-insensitive, current order kept, added actions' casing wins.
               for (const auto& gone : std::get<std::vector<std::string>>(removed)) {
                 std::erase_if(actions,
                               [&](const std::string& x) { return EqualsIgnoreCase(x, gone); });
               }
               for (const auto& add : std::get<std::vector<std::string>>(added)) {
                 auto same = std::find_if(actions.begin(), actions.end(),
                                          [&](const auto& x) { return EqualsIgnoreCase(x, add); });
                 if (same == actions.end()) {
                   actions.push_back(add);
                 } else {
                   *same = add;
                 }
               }
               std::optional<std::string> description = a.Get("--description");
               if (!description && props.contains("description") &&
                   props["description"].is_string()) {
                 description = props["description"].get<std::string>();
               }
               return PutScopeMap(ctx, path, actions, description);
             });
           },
       .examples = {{"Update the scope map to add content/read for `hello-world`.",
                     "cove acr scope-map update -n MyScopeMap -r myregistry --add-repository "
                     "hello-world content/read"}}});
  r.AddCommand({.path = {"acr", "scope-map", "show"},
                .summary = "Show details and attributes of a scope map for an Azure Container "
                           "Registry.",
                .args = {name, RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildShow("scopeMaps", ScopeMapView)});
  r.AddCommand({.path = {"acr", "scope-map", "list"},
                .summary = "List all scope maps for an Azure Container Registry.",
                .args = {RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildList("scopeMaps", ScopeMapView)});
  r.AddCommand({.path = {"acr", "scope-map", "delete"},
                .summary = "Delete a scope map for an Azure Container Registry.",
                .args = {name, RegistryArg(), OptionalGroupArg(), YesArg()},
                .run = RegistryChildDelete("scopeMaps", [](const std::string& name) {
                  return "Deleting the scope map '" + name +
                         "' will remove its permissions with associated tokens. Proceed?";
                })});
}

// ---------------------------------------------------------------------------------------------
// acr token

// POST generateCredentials for token `token_path`: `which` "password1", "password2" or empty
// (both).
ArmResult<json> GenerateCredentials(Context& ctx, const std::string& registry,
                                    const std::string& token_path, const std::string& which,
                                    const std::optional<std::string>& expiry) {
  auto arm = ctx.Arm();
  if (!arm) return tl::unexpected(arm.error());
  json body = {{"tokenId", token_path}};
  if (!which.empty()) body["name"] = which;
  if (expiry) body["expiry"] = *expiry;
  return (*arm)->Post(registry + "/generateCredentials", kApiAcr, body);
}

void AddToken(Registry& r) {
  r.AddGroup({{"acr", "token"}, "Manage tokens for an Azure Container Registry."});
  ArgSpec name = {
      .name = "--name", .aliases = {"-n"}, .help = "The name of the token.", .required = true};
  ArgSpec scope_map = {.name = "--scope-map",
                       .help = "The name of the scope map associated with the token."};
  ArgSpec status = {
      .name = "--status", .help = "The status of the token.", .choices = {"disabled", "enabled"}};
  std::vector<ArgSpec> create_args = {
      name,
      RegistryArg(),
      OptionalGroupArg(),
      scope_map,
      RepositoryArg("--repository",
                    "Repository permissions. A scope map named \"<token>-scope-map\" is made "
                    "for them."),
      status,
      {.name = "--no-passwords",
       .help = "Do not generate passwords during token creation. You can generate passwords "
               "after the token is created by using `cove acr token credential generate` "
               "command.",
       .kind = ArgKind::kFlag}};
  for (auto& e : ExpiryArgs()) create_args.push_back(e);
  r.AddCommand(
      {.path = {"acr", "token", "create"},
       .summary = "Create a token associated with a scope map for an Azure Container Registry.",
       .args = create_args,
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             bool repos = a.Has("--repository");
             if (repos == a.Has("--scope-map")) {
               return Outcome::Usage(
                   "usage error: can't use --scope-map and --repository | "
                   "--gateway");
             }
             bool no_passwords = a.GetBool("--no-passwords").value_or(false);
             if (no_passwords && (a.Has("--expiration-in-days") || a.Has("--expiration"))) {
               return Outcome::Usage(
                   "usage error: --no-passwords and expiration arguments are mutually "
                   "exclusive.");
             }
             auto expiry = Expiry(a);
             if (auto* stop = std::get_if<Outcome>(&expiry)) return *stop;
             std::vector<std::string> actions;
             if (repos) {
               auto parsed = ParseRepositoryActions(a.GetRepeats("--repository"));
               if (auto* stop = std::get_if<Outcome>(&parsed)) return *stop;
               actions = std::get<std::vector<std::string>>(parsed);
             }
             std::string token = *a.Get("--name");
             return WithRegistry(ctx, a, "--registry", [&](const std::string& registry) {
               auto arm = ctx.Arm();
               if (!arm) return Outcome::FromArm(arm.error());
               std::string map_id;
               if (repos) {
                 // az's create_default_scope_map: reuse an identical one, refuse a different one.
                 std::string map_name = token + "-scope-map";
                 map_id = registry + "/scopeMaps/" + map_name;
                 auto existing = (*arm)->Get(map_id, kApiAcr);
                 if (existing) {
                   std::vector<std::string> have;
                   json props = existing->value("properties", json::object());
                   for (const auto& x : props.value("actions", json::array())) {
                     if (x.is_string()) have.push_back(x.get<std::string>());
                   }
                   std::vector<std::string> want = actions;
                   std::sort(have.begin(), have.end());
                   std::sort(want.begin(), want.end());
                   if (have != want) {
                     return Outcome::Failure(
                         "The default scope map was already configured with different "
                         "repository permissions.\nPlease use \"cove acr scope-map update -r " +
                         *a.Get("--registry") + " -n " + map_name +
                         " --add-repository <REPO> <ACTION> --remove-repository <REPO> "
                         "<ACTION>\" to update.");
                   }
                 } else if (existing.error().status == 404) {
                   Outcome made = PutScopeMap(ctx, map_id, actions, "Created by token: " + token);
                   if (made.exit_code != 0) return made;
                 } else {
                   return Outcome::FromArm(existing.error());
                 }
               } else {
                 map_id = registry + "/scopeMaps/" + *a.Get("--scope-map");
               }
               std::string token_path = registry + "/tokens/" + token;
               json props = {{"scopeMapId", map_id}, {"status", a.GetOr("--status", "enabled")}};
               auto made = (*arm)->Put(token_path, kApiAcr, json{{"properties", props}});
               if (!made) return Outcome::FromArm(made.error());
               json out = *made;
               if (no_passwords) return Outcome::Value(out);
               auto creds = GenerateCredentials(ctx, registry, token_path, "",
                                                std::get<std::optional<std::string>>(expiry));
               if (!creds) return Outcome::FromArm(creds.error());
               if (!out.contains("properties") || !out["properties"].is_object()) {
                 out["properties"] = json::object();
               }
               json& c = out["properties"]["credentials"];
               if (!c.is_object()) c = json::object();
               c["username"] = creds->value("username", token);
               c["passwords"] = creds->value("passwords", json::array());
               auto reg = GetRegistry(ctx, registry);
               if (auto* stop = std::get_if<Outcome>(&reg)) return *stop;
               std::string first;
               if (c["passwords"].is_array() && !c["passwords"].empty() &&
                   c["passwords"][0].is_object()) {
                 first = c["passwords"][0].value("value", "");
               }
               ctx.Warn(
                   "Please store your generated credentials safely. Meanwhile you can use it "
                   "through \"docker login " +
                   LoginServerOf(std::get<json>(reg)) + " -u " + c["username"].get<std::string>() +
                   " -p " + first + "\".");
               return Outcome::Value(out);
             });
           },
       .examples = {{"Create a token with repository permissions defined in an existing scope "
                     "map.",
                     "cove acr token create -n MyToken -r myregistry --scope-map MyScopeMap"},
                    {"Create a token which has read permissions on hello-world repository.",
                     "cove acr token create -n myToken -r myregistry --repository hello-world "
                     "content/read metadata/read"}}});
  r.AddCommand({.path = {"acr", "token", "update"},
                .summary = "Update a token (replace associated scope map) for an Azure "
                           "Container Registry.",
                .args = {name, RegistryArg(), OptionalGroupArg(), scope_map, status},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return WithRegistry(ctx, a, "--registry", [&](const std::string& reg) {
                        json props = json::object();
                        if (auto m = a.Get("--scope-map")) {
                          props["scopeMapId"] = reg + "/scopeMaps/" + *m;
                        }
                        if (auto s = a.Get("--status")) props["status"] = *s;
                        auto arm = ctx.Arm();
                        if (!arm) return Outcome::FromArm(arm.error());
                        auto res = (*arm)->Patch(reg + "/tokens/" + *a.Get("--name"), kApiAcr,
                                                 json{{"properties", props}});
                        if (!res) return Outcome::FromArm(res.error(), true);
                        return Outcome::Value(*res);
                      });
                    },
                .examples = {{"Disable a token.",
                              "cove acr token update -n MyToken -r myregistry --status "
                              "disabled"}}});
  r.AddCommand({.path = {"acr", "token", "show"},
                .summary = "Show details and attributes of a token for an Azure Container "
                           "Registry.",
                .args = {name, RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildShow("tokens")});
  r.AddCommand({.path = {"acr", "token", "list"},
                .summary = "List all tokens for an Azure Container Registry.",
                .args = {RegistryArg(), OptionalGroupArg()},
                .run = RegistryChildList("tokens")});
  r.AddCommand({.path = {"acr", "token", "delete"},
                .summary = "Delete a token for an Azure Container Registry.",
                .args = {name, RegistryArg(), OptionalGroupArg(), YesArg()},
                .run = RegistryChildDelete("tokens", [](const std::string& name) {
                  return "Deleting the token '" + name +
                         "' will invalidate access to anyone using its credentials. Proceed?";
                })});

  r.AddGroup({{"acr", "token", "credential"},
              "Manage credentials of a token for an Azure "
              "Container Registry."});
  std::vector<ArgSpec> generate_args = {
      name,
      RegistryArg(),
      OptionalGroupArg(),
      {.name = "--password1",
       .help = "Flag indicating if first password should be generated.",
       .kind = ArgKind::kSwitch},
      {.name = "--password2",
       .help = "Flag indicating if second password should be generated.",
       .kind = ArgKind::kSwitch}};
  for (auto& e : ExpiryArgs()) generate_args.push_back(e);
  r.AddCommand(
      {.path = {"acr", "token", "credential", "generate"},
       .summary = "Generate or replace one or both passwords of a token for an Azure Container "
                  "Registry. For using token and password to access a container registry, see "
                  "'cove acr login'.",
       .args = generate_args,
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             auto expiry = Expiry(a);
             if (auto* stop = std::get_if<Outcome>(&expiry)) return *stop;
             bool p1 = a.Has("--password1"), p2 = a.Has("--password2");
             std::string which = p1 != p2 ? (p1 ? "password1" : "password2") : "";
             return WithRegistry(ctx, a, "--registry", [&](const std::string& reg) {
               auto res = GenerateCredentials(ctx, reg, reg + "/tokens/" + *a.Get("--name"), which,
                                              std::get<std::optional<std::string>>(expiry));
               if (!res) return Outcome::FromArm(res.error());
               return Outcome::Value(*res);
             });
           },
       .examples = {{"Generate password1 for the token 'MyToken', with an expiration of 30 "
                     "days.",
                     "cove acr token credential generate -n MyToken -r myregistry --password1 "
                     "--expiration-in-days 30"}}});
}

}  // namespace

void AddAcrAuthCommands(Registry& registry) {
  AddLogin(registry);
  AddCredential(registry);
  AddScopeMap(registry);
  AddToken(registry);
}

}  // namespace cove::cli
