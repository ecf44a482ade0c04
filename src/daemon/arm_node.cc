#include "daemon/arm_node.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <optional>
#include <random>
#include <set>
#include <variant>

#include <spdlog/spdlog.h>

#include "arm/identity_support.h"
#include "arm/rbac.h"
#include "arm/resource_path.h"
#include "auth/jwt.h"
#include "auth/oidc.h"
#include "auth/wire.h"
#include "common/ascii.h"

namespace cove::daemon {

namespace {

constexpr uint64_t kMaxFormBytes = 64 * 1024;
constexpr std::string_view kTenantId = "c0ffee00-0000-4000-8000-0000000000ff";

// "/{tenant}/oauth2/v2.0/token" → tenant; nullopt for other paths.
std::optional<std::string> TokenEndpointTenant(std::string_view path) {
  constexpr std::string_view kSuffix = "/oauth2/v2.0/token";
  if (path.size() <= kSuffix.size() + 1 || path.front() != '/' || !path.ends_with(kSuffix)) {
    return std::nullopt;
  }
  std::string_view tenant = path.substr(1, path.size() - kSuffix.size() - 1);
  if (tenant.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(tenant);
}

constexpr std::string_view kBootstrapName = "cove-bootstrap";
constexpr const char* kOwnerRole = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

http::Response ArmJson(int status, const nlohmann::json& body) {
  return http::Response::Text(status, "application/json; charset=utf-8",
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// "name", "name:port", "[v6]:port" → (lowercased name, port or "").
std::pair<std::string, std::string> SplitHost(std::string_view host) {
  std::string name, port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return {std::string(host), ""};
    name = std::string(host.substr(1, close - 1));
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    name = std::string(host.substr(0, colon));
    port = std::string(host.substr(colon + 1));
  } else {
    name = std::string(host);
  }
  return {AsciiLower(name), port};
}

// A random (version 4) GUID.
std::string NewGuid() {
  std::random_device rd;
  unsigned char b[16];
  for (auto& x : b) x = static_cast<unsigned char>(rd());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

// Writes `text` to `path` with mode 0600 (a temporary file renamed over it).
Status WritePrivateFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Code::kIOError, "cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(Code::kIOError, "cannot write " + tmp);
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Fail(Code::kIOError, "cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return Ok();
}

}  // namespace

// ARM requests, plus GET /cove/counters and the identity endpoints (arm_node.h).
class ArmNode::Routes final : public http::Handler {
 public:
  explicit Routes(ArmNode& node) : node_(node) {}
  http::ExchangePtr Start(http::Request request) override {
    request.target = arm::CollapseSlashes(request.target);  // ARM's "//subscriptions/..."
    std::string_view path = request.path();
    std::string host(request.headers.Get("Host").value_or(""));
    if (!node_.IsOwnHost(host)) {
      spdlog::warn("arm api: refused a request for host '{}' (not a name of this listener)",
                   host);
      return http::Respond(ArmJson(
          421, arm::ErrorBody("InvalidHostName",
                              "The host name '" + host +
                                  "' is not a name of this endpoint. cove's control plane "
                                  "answers only to its own address, localhost and its "
                                  "arm_host_names (a defence against DNS rebinding).")));
    }
    if (auto answer = AnswerDiscovery(request, node_.discovery_)) {
      return http::Respond(std::move(*answer));
    }
    if (node_.authenticator_) {
      if (auto tenant = TokenEndpointTenant(path)) return Login(std::move(request), *tenant);
      constexpr std::string_view kAcr = "/cove/acr/", kExchange = "/oauth2/exchange";
      if (path.starts_with(kAcr) && path.ends_with(kExchange) &&
          path.size() > kAcr.size() + kExchange.size()) {
        std::string login_server(
            path.substr(kAcr.size(), path.size() - kAcr.size() - kExchange.size()));
        return Exchange(std::move(request), std::move(login_server));
      }
    }
    const bool counters = path == "/cove/counters" && node_.counters_;
    arm::ArmOperation op;
    if (counters) {
      op.action = "Microsoft.Insights/metrics/read";
      op.scope = "/";
    } else {
      op = arm::OperationFor(request.method, path);
    }
    std::string list_for;  // a principal whose list is filtered (ArmOperation::list)
    if (auto refused = Authorize(request, host, op, &list_for)) {
      return http::Respond(std::move(*refused));
    }
    if (!list_for.empty()) {
      return node_.api_->Start(std::move(request), [this, list_for](arm::ArmResponse& answer) {
        arm::FilterList(*node_.control_plane_->snapshot(), list_for, *answer.body);
      });
    }
    if (counters) {
      if (request.method != "GET") {
        return http::Respond(http::Response::Text(405, "application/json", "{}"));
      }
      return http::Respond(
          http::Response::Text(200, "application/json", node_.counters_().dump()));
    }
    return node_.api_->Start(std::move(request));
  }

 private:
  // The bearer token's principal and RBAC (arm_node.h); nullopt when the request may go on.
  // A list the caller may not read whole is allowed with `*list_for` = its principal, whose
  // readable items the answer then keeps.
  std::optional<http::Response> Authorize(const http::Request& request, const std::string& host,
                                          const arm::ArmOperation& op, std::string* list_for) {
    auto unauthenticated = [&](const std::string& code, const std::string& message,
                               const std::string& why) {
      nlohmann::json body = arm::ErrorBody(code, message);
      if (op.graph) {
        body = arm::ErrorBody("InvalidAuthenticationToken",
                              code == "AuthenticationFailed" ? "Access token is empty."
                                                             : "Access token validation failure.");
      }
      http::Response r = ArmJson(401, body);
      std::string description = message;
      for (auto& c : description) {
        if (c == '"' || static_cast<unsigned char>(c) < 0x20) c = '\'';
      }
      r.headers.Set("WWW-Authenticate",
                    "Bearer authorization_uri=\"https://" + host + "/" + std::string(kTenantId) +
                        "\", error=\"invalid_token\", error_description=\"" + description + "\"");
      std::string reason = why;
      for (auto& c : reason) {
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      }
      r.headers.Set("X-Cove-Auth-Error", reason);
      return r;
    };
    auto header = request.headers.Get("Authorization");
    if (!header || header->empty()) {
      return unauthenticated("AuthenticationFailed",
                             "Authentication failed. The 'Authorization' header is missing.",
                             "no Authorization header");
    }
    std::string_view value = *header;
    constexpr std::string_view kBearer = "bearer ";
    if (value.size() <= kBearer.size() ||
        !arm::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
      return unauthenticated("AuthenticationFailed",
                             "Authentication failed. The 'Authorization' header is provided in "
                             "an invalid format.",
                             "the Authorization header is not 'Bearer <token>'");
    }
    if (node_.tokens_ == nullptr) {
      return unauthenticated("InvalidAuthenticationToken", "The access token is invalid.",
                             "this listener has no token verifier (coved is not fully started)");
    }
    std::string token(value.substr(kBearer.size()));
    while (!token.empty() && token.front() == ' ') token.erase(0, 1);
    auto claims = node_.tokens_->VerifyIdentityToken(token);
    if (!claims) {
      return unauthenticated("InvalidAuthenticationToken", "The access token is invalid.",
                             claims.error().message);
    }
    // ARM takes its own audiences; the directory also Microsoft Graph's (az ad's tokens).
    if (!claims->audience.starts_with("https://management.") &&
        !(op.graph && claims->audience.starts_with("https://graph.microsoft.com"))) {
      return unauthenticated("InvalidAuthenticationToken",
                             "The access token has been obtained for wrong audience or resource '" +
                                 claims->audience +
                                 "'. It should exactly match with one of the allowed audiences "
                                 "'https://management.core.windows.net/','https://management."
                                 "core.windows.net','https://management.azure.com/','https://"
                                 "management.azure.com'.",
                             "the token is for another audience");
    }
    arm::SnapshotPtr snapshot = node_.control_plane_->snapshot();
    arm::AccessDecision d = arm::Authorize(*snapshot, claims->principal_id, op);
    switch (d.verdict) {
      case arm::Verdict::kAllowed:
        return std::nullopt;
      case arm::Verdict::kUnknownPrincipal:
        return unauthenticated("InvalidAuthenticationToken",
                               "The access token is invalid: its principal does not exist in "
                               "the tenant.",
                               "the token's principal no longer exists");
      case arm::Verdict::kDisabled:
        return unauthenticated("InvalidAuthenticationToken",
                               "The access token is invalid: its principal is disabled.",
                               "the token's principal is disabled (accountEnabled false)");
      case arm::Verdict::kDenied:
        if (op.list) {
          *list_for = claims->principal_id;
          return std::nullopt;
        }
        break;
    }
    spdlog::info("arm api: {} {}: principal {} may not {} at {}", request.method, request.path(),
                 claims->principal_id, op.action, op.scope);
    if (op.graph) {
      return ArmJson(403, arm::ErrorBody("Authorization_RequestDenied",
                                         "Insufficient privileges to complete the operation."));
    }
    return ArmJson(403, arm::ErrorBody("AuthorizationFailed",
                                       arm::AuthorizationFailedMessage(*d.principal, op)));
  }

  http::ExchangePtr Login(http::Request request, const std::string& tenant) {
    if (request.method != "POST") {
      auto r = EntraError(405, "invalid_request", "AADSTS900561: The endpoint only accepts POST "
                                                  "requests.");
      r.headers.Set("Allow", "POST");
      return http::Respond(std::move(r));
    }
    if (tenant != kTenantId && tenant != "organizations" && tenant != "common") {
      return http::Respond(EntraError(
          400, "invalid_request",
          "AADSTS90002: Tenant '" + tenant + "' not found. Check to make sure you have the "
          "correct tenant ID and are signing into the correct cloud."));
    }
    auto too_large = EntraError(413, "invalid_request", "AADSTS90056: The request is too large.");
    // The password is checked on the authenticator's workers (auth/password_guard.h), never on
    // this listener's one I/O thread.
    std::string source = request.peer.remote_ip;
    // The listener as the client named it: a resource naming it is Microsoft Graph (oidc.h).
    std::string self =
        node_.discovery_.scheme + "://" + std::string(request.headers.Get("Host").value_or(""));
    return http::BufferLater(kMaxFormBytes, std::move(too_large),
                             [this, source, self](std::string body, http::Answer answer) {
                               LoginWith(body, source, self, std::move(answer));
                             });
  }

  struct LoginForm {
    std::string grant, name, secret;
    std::string audience;   // the resource asked for (scope or resource), auth/oidc.h
    std::string client_id;  // the client (MSAL's public client for a user), the id_token's aud
  };

  void LoginWith(std::string_view body, const std::string& source, const std::string& self,
                 http::Answer answer) {
    auto parsed = ParseLogin(body, self);
    if (auto* error = std::get_if<http::Response>(&parsed)) {
      answer(std::move(*error));
      return;
    }
    LoginForm form = std::get<LoginForm>(std::move(parsed));
    // A user's sign-in also gets an OpenID id_token, which MSAL makes the account from (az login
    // -u/-p reads upn and tid from it): iss is the ADFS authority's (auth/oidc.h), aud the client.
    std::string issuer = self + "/adfs";
    node_.authenticator_->LoginLater(
        form.name, form.secret, source,
        [this, form, issuer, answer = std::move(answer)](Result<std::string> token) {
          std::string id_token =
              token && form.grant == "password" ? IdToken(*token, form, issuer) : "";
          answer(LoginAnswer(form.grant, form.name, token, id_token));
        },
        form.audience);
  }

  // The id_token of a user's access token `token` (its oid and times); "" if it cannot sign.
  std::string IdToken(const std::string& token, const LoginForm& form, const std::string& issuer) {
    auto access = auth::DecodeJwtUnverified(token);
    if (!access || node_.tokens_ == nullptr) return "";
    const nlohmann::json& c = access->second;
    nlohmann::json claims = {{"iss", issuer},
                             {"aud", form.client_id},
                             {"sub", c.value("oid", "")},
                             {"oid", c.value("oid", "")},
                             {"tid", std::string(kTenantId)},  // Entra's: the tenant id
                             {"upn", form.name},
                             {"unique_name", form.name},
                             {"preferred_username", form.name},
                             {"iat", c.value("iat", 0)},
                             {"nbf", c.value("nbf", 0)},
                             {"exp", c.value("exp", 0)}};
    auto signed_token = auth::SignJwt(node_.tokens_->IdentityKeys()->active(), claims);
    return signed_token ? *signed_token : "";
  }

  // The form's grant and credentials, or the Entra error to answer.
  static std::variant<LoginForm, http::Response> ParseLogin(std::string_view body,
                                                            std::string_view self) {
    auto form = auth::ParseForm(body);
    if (!form) {
      return EntraError(400, "invalid_request", "AADSTS900144: The request body is not a form.");
    }
    auto param = [&](const char* name) { return auth::FormValue(*form, name); };
    auto missing = [](const char* name) {
      return EntraError(400, "invalid_request",
                        std::string("AADSTS900144: The request body must contain the following "
                                    "parameter: '") + name + "'.");
    };
    auto grant = param("grant_type");
    if (!grant) return missing("grant_type");
    std::optional<std::string> name, secret;
    if (*grant == "password") {
      if (!(name = param("username"))) return missing("username");
      if (!(secret = param("password"))) return missing("password");
    } else if (*grant == "client_credentials") {
      if (!(name = param("client_id"))) return missing("client_id");
      if (!(secret = param("client_secret"))) return missing("client_secret");
    } else {
      return EntraError(400, "unsupported_grant_type",
                        "AADSTS70003: The app requested an unsupported grant type '" + *grant +
                            "'.");
    }
    auto audience = auth::RequestedAudience(param("scope"), param("resource"), self);
    if (!audience && audience.error().code == Code::kNotFound) {
      return EntraError(400, "invalid_resource",
                        "AADSTS500011: " + audience.error().message);
    }
    if (!audience) {
      return EntraError(400, "invalid_scope", "AADSTS70011: " + audience.error().message);
    }
    return LoginForm{*grant, *name, *secret, *audience, param("client_id").value_or("")};
  }

  static http::Response LoginAnswer(const std::string& grant, const std::string& name,
                                    const Result<std::string>& token,
                                    const std::string& id_token = "") {
    if (!token && token.error().code == Code::kResourceExhausted) {
      // Entra's throttling answer: 429 with Retry-After (AADSTS50053, too many attempts).
      auto r = EntraError(429, "invalid_grant",
                          "AADSTS50053: You've tried to sign in too many times with an incorrect "
                          "user ID or password. " + token.error().message);
      r.headers.Set("Retry-After", std::to_string(auth::RetryAfterOf(token.error())));
      return r;
    }
    if (!token && token.error().code == Code::kUnavailable) {
      auto r = EntraError(503, "temporarily_unavailable",
                          "AADSTS90033: A transient error has occurred. Please try again.");
      r.headers.Set("Retry-After", "1");
      return r;
    }
    if (!token) {
      if (grant == "client_credentials") {
        return EntraError(401, "invalid_client",
                          "AADSTS7000215: Invalid client secret provided. Ensure the secret "
                          "being sent in the request is the client secret value, not the "
                          "client secret ID, for a secret added to app '" + name + "'.");
      }
      return EntraError(400, "invalid_grant",
                        "AADSTS50126: Error validating credentials due to invalid username or "
                        "password.");
    }
    nlohmann::json out = {{"token_type", "Bearer"},
                          {"expires_in", 3599},
                          {"ext_expires_in", 3599},
                          {"access_token", *token}};
    if (!id_token.empty()) out["id_token"] = id_token;
    return http::Response::Text(200, "application/json; charset=utf-8", out.dump());
  }

  http::ExchangePtr Exchange(http::Request request, std::string login_server) {
    login_server = AsciiLower(login_server);
    std::string registry = node_.registry_of_ ? node_.registry_of_(login_server) : "";
    if (registry.empty()) {
      nlohmann::json body = {
          {"errors", {{{"code", "NAME_UNKNOWN"},
                       {"message", "no registry has the login server '" + login_server + "'"}}}}};
      return http::Respond(http::Response::Text(
          404, "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    }
    // The registry's own handler, as if the request had reached <login server>/oauth2/exchange.
    std::string_view query = request.query();
    request.target = "/oauth2/exchange" + (query.empty() ? "" : "?" + std::string(query));
    auto too_large = http::Response::Text(
        413, "application/json",
        R"({"errors":[{"code":"UNSUPPORTED","message":"request body too large"}]})");
    return http::Buffer(kMaxFormBytes, std::move(too_large),
                        [this, request = std::move(request), registry,
                         login_server](std::string body) {
                          return node_.authenticator_->HandleTokenRequest(
                              request, body, registry, login_server,
                              auth::Authenticator::Via::kControlPlane);
                        });
  }

  ArmNode& node_;
};

Result<std::unique_ptr<ArmNode>> ArmNode::Open(const Config& config, const Clock& clock) {
  std::unique_ptr<ArmNode> node(new ArmNode());
  node->config_ = config;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Fail(Code::kIOError, "cannot create " + config.data_dir + ": " + ec.message());
  arm::ControlPlaneOptions options;
  options.dns_suffix = config.dns_suffix;
  options.clock = &clock;
  COVE_ASSIGN_OR_RETURN(node->control_plane_,
                        arm::ControlPlane::Open(config.data_dir + "/control.db", options));
  node->api_ = std::make_unique<arm::ArmApi>(*node->control_plane_,
                                             config.arm_listen.tls ? "https" : "http");
  node->discovery_ = {config.arm_listen.tls ? "https" : "http", std::string(kTenantId),
                      config.dns_suffix, nullptr};
  COVE_RETURN_IF_ERROR(node->EnsureBootstrap(clock));
  // The bound address as a Host name (an IPv6 address unbracketed, as SplitHost gives it).
  node->host_names_ = {"localhost", arm::Lower(config.arm_listen.address)};
  for (const auto& n : config.arm_host_names) node->host_names_.insert(arm::Lower(n));
  if (config.arm_listen.tls) {
    COVE_ASSIGN_OR_RETURN(node->ca_, http::CertificateAuthority::LoadOrCreate(
                                         config.data_dir + "/tls", clock));
    node->tls_ = std::make_unique<http::SniContextProvider>(
        *node->ca_, config.data_dir + "/tls/arm-hosts", clock,
        [n = node.get()](std::string_view name) { return n->host_names_.count(std::string(name)); },
        config.arm_listen.address);
  }
  http::ServerOptions server_options;
  server_options.threads = 1;
  server_options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  config.limits.ApplyTo(server_options);
  node->routes_ = std::make_unique<Routes>(*node);
  node->server_ =
      std::make_unique<http::Server>(*node->routes_, node->tls_.get(), server_options);
  return node;
}

bool ArmNode::IsOwnHost(std::string_view host) const {
  auto [name, port] = SplitHost(host);
  if (name.empty() || !host_names_.count(name)) return false;
  return port.empty() || port == std::to_string(port_.load());
}

Status ArmNode::EnsureBootstrap(const Clock& clock) {
  const std::string path = BootstrapPath();
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return Ok();
  auto call = [&](const std::string& method, const std::string& target,
                  const nlohmann::json& body) -> Result<nlohmann::json> {
    arm::ArmRequest r;
    r.method = method;
    r.path = target;
    r.api_version = "2022-04-01";
    if (!body.is_null()) r.body = body.dump();
    arm::ArmResponse answer = control_plane_->Handle(r);
    if (answer.status == 404 && method == "GET") return nlohmann::json::object();  // absent
    if (answer.status >= 300 && answer.status != 409) {
      return Fail(Code::kInternal, "bootstrap principal: " + method + " " + target + ": " +
                                       (answer.body ? answer.body->dump() : "no body"));
    }
    return answer.body.value_or(nlohmann::json());
  };
  // The application and its service principal, made once.
  std::string app_object, app_id;
  COVE_ASSIGN_OR_RETURN(auto apps, call("GET", "/v1.0/applications", nullptr));
  for (const auto& a : apps.value("value", nlohmann::json::array())) {
    if (a.value("displayName", "") == kBootstrapName) {
      app_object = a.value("id", "");
      app_id = a.value("appId", "");
      break;
    }
  }
  if (app_object.empty()) {
    COVE_ASSIGN_OR_RETURN(auto app, call("POST", "/v1.0/applications",
                                         {{"displayName", std::string(kBootstrapName)}}));
    app_object = app.value("id", "");
    app_id = app.value("appId", "");
  }
  COVE_ASSIGN_OR_RETURN(auto sp, call("GET", "/v1.0/servicePrincipals/" + app_id, nullptr));
  if (!sp.contains("id")) {
    COVE_ASSIGN_OR_RETURN(sp, call("POST", "/v1.0/servicePrincipals", {{"appId", app_id}}));
  }
  std::string principal = sp.value("id", "");
  // Owner at the tenant root (409 RoleAssignmentExists when a previous start made it).
  COVE_RETURN_IF_ERROR(
      call("PUT",
           "/providers/Microsoft.Authorization/roleAssignments/" + NewGuid(),
           {{"properties",
             {{"roleDefinitionId",
               std::string("/providers/Microsoft.Authorization/roleDefinitions/") + kOwnerRole},
              {"principalId", principal},
              {"principalType", "ServicePrincipal"},
              {"description", "cove's bootstrap principal (<data_dir>/bootstrap.json)"}}}}));
  COVE_ASSIGN_OR_RETURN(
      auto secret,
      call("POST", "/v1.0/applications/" + app_object + "/addPassword",
           {{"passwordCredential",
             {{"displayName", "bootstrap.json"},
              {"endDateTime",
               arm::FormatGraphTime(clock.Now() + std::chrono::hours(24 * 365 * 10))}}}}));
  nlohmann::json file = {{"tenantId", std::string(kTenantId)},
                         {"clientId", app_id},
                         {"clientSecret", secret.value("secretText", "")},
                         {"principalId", principal},
                         {"displayName", std::string(kBootstrapName)}};
  COVE_RETURN_IF_ERROR(WritePrivateFile(path, file.dump(2) + "\n"));
  spdlog::info("bootstrap principal {} (appId {}, Owner at /): credential written to {}",
               principal, app_id, path);
  return Ok();
}

ArmNode::~ArmNode() { Stop(); }

Result<uint16_t> ArmNode::Start() {
  auto port = server_->Listen(config_.arm_listen);
  if (!port) {
    return Fail(port.error().code, "arm api: listen on " + config_.arm_listen.address + ":" +
                                       std::to_string(config_.arm_listen.port) + ": " +
                                       port.error().message);
  }
  port_ = *port;
  server_->Start();
  spdlog::info("arm api listening on {}:{}", config_.arm_listen.address, *port);
  spdlog::info("arm api: {} (bearer tokens from /{}/oauth2/v2.0/token; bootstrap credential {})",
               config_.arm_listen.tls ? "https, certificate from " + config_.data_dir +
                                            "/tls/ca.crt"
                                      : "plain http (arm_insecure_http)",
               kTenantId, BootstrapPath());
  return *port;
}

void ArmNode::Stop() {
  if (server_) server_->Stop();
}

std::vector<registry::RegistryInfo> RegistriesFromSnapshot(const arm::Snapshot& snapshot) {
  std::vector<registry::RegistryInfo> out;
  for (const auto& r : snapshot.registries) {
    registry::RegistryInfo info;
    info.name = r.name;
    info.home_region = r.home_region;
    info.regions = r.regions;
    info.data_endpoint_enabled = r.data_endpoint_enabled;
    info.untagged_retention_enabled = r.retention_enabled;
    info.untagged_retention_days = r.retention_days;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace cove::daemon
