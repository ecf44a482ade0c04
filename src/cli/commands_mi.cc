// Managed identities in the CLI: `login --identity`, the managed-identity halves of
// `account get-access-token` and `acr login`, `vm identity assign|show|remove`, and the
// --assign-identity/--role/--scope handling that `vm create` and `container create` share.
//
// `login --identity` runs inside a cove VM or container group (`cove vm exec`, `cove container
// exec`): it asks that machine's IMDS (cli/imds.h, which refuses to talk to a 169.254.169.254
// that is not local) for a token and for /metadata/instance, and stores az's managed-identity
// account. Unlike az it does not list subscriptions through ARM (inside a machine coved's ARM
// listener on the host's loopback is not reachable): the account is the machine's own
// subscription, named by its id.
//
// `acr login` with such an account talks to the registry itself, as az does: a fresh IMDS token
// for https://management.azure.com/, then POST https://<loginServer>/oauth2/exchange
// (grant_type=access_token, service, tenant, access_token) over verified HTTPS, from inside the
// machine where the registry (its private endpoint or public address) is reachable. This is the
// path on which the registry applies trusted-service rules to container groups.
#include <chrono>
#include <ctime>

#include "cli/commands.h"
#include "cli/credentials.h"
#include "cli/imds.h"
#include "common/guid.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kManagementResource[] = "https://management.azure.com/";
constexpr char kSystem[] = "[system]";
constexpr char kIdentityType[] = "Microsoft.ManagedIdentity/userAssignedIdentities";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The registry suffix of an IMDS azEnvironment (az's cloud.suffixes.acr_login_server_endpoint).
std::string AcrSuffixOf(const std::string& environment) {
  std::string e = AsciiLower(environment);
  if (e == "azureusgovernmentcloud") return "azurecr.us";
  if (e == "azurechinacloud") return "azurecr.cn";
  return "azurecr.io";
}

std::string LocalTime(int64_t unix_seconds) {
  std::time_t tt = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S.000000", &tm);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// login --identity

Outcome LoginWithIdentity(Context& ctx, const ParsedArgs& a) {
  for (const char* other : {"--password", "--service-principal", "--tenant"}) {
    if (a.Has(other)) {
      return Outcome::Usage(std::string("usage error: '--identity' is not applicable with ") +
                            other +
                            " (use --username for a user-assigned identity's client id, "
                            "object id or resource id)");
    }
  }
  // az: a resource id → msi_res_id; a GUID → client_id, and object_id when IMDS knows no
  // identity with that client id.
  std::vector<IdentitySelector> tries;
  if (auto u = a.Get("--username")) {
    if (IsResourceId(*u)) {
      tries.push_back({IdentitySelector::Kind::kResourceId, *u});
    } else if (IsGuid(*u)) {
      tries.push_back({IdentitySelector::Kind::kClientId, *u});
      tries.push_back({IdentitySelector::Kind::kObjectId, *u});
    } else {
      return Outcome::Usage(
          "usage error: --username with --identity is a user-assigned identity's client id, "
          "object id or resource id, got '" +
          *u + "'");
    }
  } else {
    tries.push_back({});
  }
  auto imds = ImdsClient::ForThisNamespace();
  if (!imds) return Outcome::Failure(imds.error().message);
  Result<ImdsToken> token = Fail(Code::kInternal, "no attempt");
  IdentitySelector who;
  for (const auto& t : tries) {
    who = t;
    token = imds->Token(kManagementResource, t);
    if (token || token.error().code != Code::kNotFound) break;
  }
  if (!token) {
    if (token.error().code == Code::kNotFound) {
      return Outcome::Failure(
          a.Has("--username")
              ? "Failed to log in with the user-assigned identity '" + *a.Get("--username") +
                    "': this machine has no such identity (IMDS: Identity not found)."
              : "Failed to log in with the system-assigned identity: this machine has none "
                "(IMDS: Identity not found). Give --username for a user-assigned one.");
    }
    return Outcome::Failure(token.error().message);
  }
  auto instance = imds->Instance();
  if (!instance) return Outcome::Failure(instance.error().message);
  json compute = instance->value("compute", json::object());
  std::string sub = compute.value("subscriptionId", "");
  if (sub.empty()) return Outcome::Failure("IMDS's /metadata/instance names no subscriptionId");
  std::string tenant = kCoveTenant;
  if (auto claims = JwtClaims(token->access_token);
      claims && claims->contains("tid") && (*claims)["tid"].is_string()) {
    tenant = (*claims)["tid"].get<std::string>();
  }
  LoginState login{who.UserName(), "servicePrincipal", tenant, token->access_token,
                   token->expires_on};
  login.assigned_identity_info = who.AssignedIdentityInfo();
  login.subscription = AsciiLower(sub);
  login.acr_suffix = AcrSuffixOf(compute.value("azEnvironment", "AzurePublicCloud"));
  auto saved = WriteLogin(LoginPath(ctx.env().config_path), login);
  if (!saved) return Outcome::Failure(saved.error().message);
  json account = AccountJson({{"subscriptionId", login.subscription},
                              {"displayName", login.subscription},
                              {"tenantId", tenant},
                              {"state", "Enabled"}},
                             login.subscription, ManagedIdentityUser(login));
  account.erase("environmentName");
  account["cloudName"] = "AzureCloud";
  return Outcome::Value(json::array({account}));
}

json ManagedIdentityUser(const LoginState& login) {
  return json{{"assignedIdentityInfo", login.assigned_identity_info},
              {"name", login.user_name},
              {"type", login.user_type}};
}

std::variant<ImdsToken, Outcome> ManagedIdentityToken(Context& ctx, const LoginState& login,
                                                      const std::string& resource, bool fresh) {
  std::string r = AsciiLower(resource);
  bool management = r == "https://management.azure.com/" || r == "https://management.azure.com";
  if (!fresh && management && login.expires_on > Now() + 300) {
    return ImdsToken{login.access_token, "", kManagementResource, login.expires_on};
  }
  auto who = IdentitySelector::FromInfo(login.assigned_identity_info);
  if (!who) return Outcome::Failure(who.error().message + "; run 'cove login --identity'");
  auto imds = ImdsClient::ForThisNamespace();
  if (!imds) return Outcome::Failure(imds.error().message);
  auto token = imds->Token(resource, *who);
  if (!token) return Outcome::Failure(token.error().message);
  if (management) {
    LoginState updated = login;
    updated.access_token = token->access_token;
    updated.expires_on = token->expires_on;
    // A cache: failing to write it only costs the next command an IMDS call.
    (void)WriteLogin(LoginPath(ctx.env().config_path), updated);
  }
  return *token;
}

Outcome ManagedIdentityAccessToken(Context& ctx, const ParsedArgs& a, const LoginState& login) {
  std::vector<std::string> scopes = a.GetList("--scope");
  if (scopes.size() > 1) {
    return Outcome::Usage("a managed identity gets a token for one resource at a time");
  }
  std::string resource = a.GetOr("--resource", "https://management.core.windows.net/");
  if (!scopes.empty()) {
    resource = scopes[0];
    const std::string suffix = "/.default";
    if (resource.size() > suffix.size() &&
        resource.compare(resource.size() - suffix.size(), suffix.size(), suffix) == 0) {
      resource.erase(resource.size() - suffix.size());
    }
  }
  auto token = ManagedIdentityToken(ctx, login, resource, false);
  if (auto* stop = std::get_if<Outcome>(&token)) return *stop;
  const ImdsToken& t = std::get<ImdsToken>(token);
  std::string sub = a.GetOr("--subscription", login.subscription);
  return Outcome::Value(json{{"accessToken", t.access_token},
                             {"expiresOn", LocalTime(t.expires_on)},
                             {"expires_on", t.expires_on},
                             {"subscription", sub},
                             {"tenant", login.tenant},
                             {"tokenType", "Bearer"}});
}

std::string ManagedIdentityLoginServer(const std::string& registry, const LoginState& login) {
  if (registry.find('.') != std::string::npos) return AsciiLower(registry);
  return AsciiLower(registry) + "." + (login.acr_suffix.empty() ? "azurecr.io" : login.acr_suffix);
}

std::variant<std::string, Outcome> ManagedIdentityRefreshToken(Context& ctx,
                                                               const LoginState& login,
                                                               const std::string& server,
                                                               const http::HttpsOptions& tls) {
  auto token = ManagedIdentityToken(ctx, login, kManagementResource, /*fresh=*/true);
  if (auto* stop = std::get_if<Outcome>(&token)) return *stop;
  return ExchangeAtRegistry(ctx, server, login.tenant, std::get<ImdsToken>(token).access_token,
                            tls);
}

std::variant<std::string, Outcome> ExchangeAtRegistry(Context& ctx, const std::string& server,
                                                      const std::string& tenant,
                                                      const std::string& access_token,
                                                      const http::HttpsOptions& tls) {
  auto http = http::HttpClient::Create("https://" + server, std::chrono::seconds(60), tls);
  if (!http) return Outcome::Failure(http.error().message);
  auto res = http->Send("POST", "/oauth2/exchange",
                        FormEncode({{"grant_type", "access_token"},
                                    {"service", server},
                                    {"tenant", tenant},
                                    {"access_token", access_token}}),
                        "application/x-www-form-urlencoded");
  if (!res) {
    return Outcome::Failure("Unable to reach the registry '" + server +
                            "': " + res.error().message);
  }
  json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status == 200 && body.is_object() && body.contains("refresh_token") &&
      body["refresh_token"].is_string()) {
    return body["refresh_token"].get<std::string>();
  }
  // az: "Access to registry '<server>' was denied. Response code: <status>." as a warning, then
  // its error. cove adds the registry's own error (DENIED, UNAUTHORIZED) so the reason shows.
  std::string why;
  if (body.is_object() && body.contains("errors") && body["errors"].is_array() &&
      !body["errors"].empty() && body["errors"][0].is_object()) {
    why = " (" + body["errors"][0].value("code", "") + ": " +
          body["errors"][0].value("message", "") + ")";
  } else if (res->status != 200 && !res->body.empty() && res->body.size() < 512) {
    why = " (" + res->body + ")";
  }
  ctx.Warn("Unable to get AAD authorization tokens with message: Access to registry '" + server +
           "' was denied. Response code: " + std::to_string(res->status) + "." + why);
  return Outcome::Failure("Unable to authenticate using AAD or admin login credentials.");
}

// ---------------------------------------------------------------------------------------------
// --assign-identity, --role, --scope (vm create, vm identity assign, container create)

std::variant<ManagedIdentityRequest, Outcome> ParseIdentities(
    const std::vector<std::string>& values, const std::string& sub, const std::string& group) {
  ManagedIdentityRequest req;
  if (values.empty()) req.system = true;
  for (const auto& v : values) {
    if (EqualsIgnoreCase(v, kSystem)) {
      req.system = true;
      continue;
    }
    std::string id = IsResourceId(v) ? v : ResourcePath(sub, group, kIdentityType, v);
    auto parsed = ParseResourceId(id);
    if (!parsed || !EqualsIgnoreCase(parsed->Type(), kIdentityType)) {
      return Outcome::Usage("usage error: '" + v +
                            "' is neither [system] nor a user-assigned identity's name or "
                            "resource id");
    }
    bool dup = false;
    for (const auto& u : req.user) dup = dup || EqualsIgnoreCase(u, id);
    if (!dup) req.user.push_back(id);
  }
  return req;
}

json IdentityRequestJson(const ManagedIdentityRequest& req) {
  if (!req.system && req.user.empty()) return json{{"type", "None"}};
  json out = {{"type", req.system && !req.user.empty() ? "SystemAssigned, UserAssigned"
                       : req.system                    ? "SystemAssigned"
                                                       : "UserAssigned"}};
  if (!req.user.empty()) {
    json ids = json::object();
    for (const auto& id : req.user) ids[id] = json::object();
    out["userAssignedIdentities"] = ids;
  }
  return out;
}

ManagedIdentityRequest IdentityRequestOf(const json& identity) {
  ManagedIdentityRequest req;
  if (!identity.is_object()) return req;
  std::string type = AsciiLower(identity.value("type", ""));
  req.system = type.find("systemassigned") != std::string::npos;
  if (type.find("userassigned") != std::string::npos &&
      identity.contains("userAssignedIdentities") &&
      identity["userAssignedIdentities"].is_object()) {
    for (const auto& [id, v] : identity["userAssignedIdentities"].items()) req.user.push_back(id);
  }
  return req;
}

std::optional<Outcome> CheckRoleAndScope(const ParsedArgs& a, bool system) {
  if (a.Has("--role") != a.Has("--scope")) {
    return Outcome::Usage(
        "usage error: please specify both --role and --scope when assigning a role to the "
        "managed identity");
  }
  if (a.Has("--scope") && !system) {
    return Outcome::Usage(
        "usage error: --role and --scope assign a role to the system assigned identity; add "
        "[system] to the identities");
  }
  return std::nullopt;
}

std::variant<std::optional<ManagedIdentityRequest>, Outcome> CreateIdentityRequest(
    const ParsedArgs& a, const std::string& sub, const std::string& group) {
  if (!a.Has("--assign-identity")) {
    if (a.Has("--role") || a.Has("--scope")) {
      return Outcome::Usage("usage error: --assign-identity [--scope SCOPE] [--role ROLE]");
    }
    return std::optional<ManagedIdentityRequest>();
  }
  auto req = ParseIdentities(a.GetList("--assign-identity"), sub, group);
  if (auto* stop = std::get_if<Outcome>(&req)) return *stop;
  auto& r = std::get<ManagedIdentityRequest>(req);
  if (auto stop = CheckRoleAndScope(a, r.system)) return *stop;
  return std::optional<ManagedIdentityRequest>(r);
}

std::optional<Outcome> AssignSystemRole(Context& ctx, const ParsedArgs& a, const json& identity) {
  if (!a.Has("--scope")) return std::nullopt;
  std::string principal = identity.is_object() ? identity.value("principalId", "") : "";
  if (principal.empty()) {
    return Outcome::Failure(
        "the service answered no principalId for the system assigned "
        "identity; no role was assigned");
  }
  Outcome made = AssignRoleToServicePrincipal(ctx, *a.Get("--scope"), *a.Get("--role"), principal);
  if (made.exit_code != 0) return made;
  return std::nullopt;
}

json AzIdentityView(const json& identity, const std::optional<std::string>& role,
                    const std::optional<std::string>& scope) {
  json out = {{"systemAssignedIdentity", ""}, {"userAssignedIdentities", json::object()}};
  if (identity.is_object()) {
    out["systemAssignedIdentity"] = identity.value("principalId", "");
    if (identity.contains("userAssignedIdentities")) {
      out["userAssignedIdentities"] = identity["userAssignedIdentities"];
    }
  }
  if (role) out["role"] = *role;
  if (scope) out["scope"] = *scope;
  return out;
}

}  // namespace cove::cli
