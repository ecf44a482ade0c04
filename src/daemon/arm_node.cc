#include "daemon/arm_node.h"

#include <cctype>
#include <filesystem>
#include <optional>
#include <set>
#include <variant>

#include <spdlog/spdlog.h>

#include "arm/resource_path.h"
#include "auth/wire.h"

namespace cove::daemon {

namespace {

constexpr uint64_t kMaxFormBytes = 64 * 1024;
constexpr std::string_view kTenantId = "c0ffee00-0000-4000-8000-0000000000ff";

// Entra's error form: {"error": code, "error_description": "AADSTS...: ..."}.
http::Response EntraError(int status, std::string code, std::string description) {
  nlohmann::json body = {{"error", std::move(code)},
                         {"error_description", std::move(description)}};
  // The description may echo the request (a tenant, a grant type), which need not be UTF-8.
  return http::Response::Text(status, "application/json; charset=utf-8",
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

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

}  // namespace

// ARM requests, plus GET /cove/counters and the identity endpoints (arm_node.h).
class ArmNode::Routes final : public http::Handler {
 public:
  explicit Routes(ArmNode& node) : node_(node) {}
  http::ExchangePtr Start(http::Request request) override {
    std::string_view path = request.path();
    if (path == "/cove/counters" && node_.counters_) {
      if (request.method != "GET") {
        return http::Respond(http::Response::Text(405, "application/json", "{}"));
      }
      return http::Respond(
          http::Response::Text(200, "application/json", node_.counters_().dump()));
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
    return node_.api_->Start(std::move(request));
  }

 private:
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
    return http::BufferLater(kMaxFormBytes, std::move(too_large),
                             [this, source](std::string body, http::Answer answer) {
                               LoginWith(body, source, std::move(answer));
                             });
  }

  void LoginWith(std::string_view body, const std::string& source, http::Answer answer) {
    auto parsed = ParseLogin(body);
    if (auto* error = std::get_if<http::Response>(&parsed)) {
      answer(std::move(*error));
      return;
    }
    LoginForm form = std::get<LoginForm>(std::move(parsed));
    node_.authenticator_->LoginLater(
        form.name, form.secret, source,
        [grant = form.grant, name = form.name, answer = std::move(answer)](
            Result<std::string> token) { answer(LoginAnswer(grant, name, token)); });
  }

  struct LoginForm {
    std::string grant, name, secret;
  };
  // The form's grant and credentials, or the Entra error to answer.
  static std::variant<LoginForm, http::Response> ParseLogin(std::string_view body) {
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
    return LoginForm{*grant, *name, *secret};
  }

  static http::Response LoginAnswer(const std::string& grant, const std::string& name,
                                    const Result<std::string>& token) {
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
    return http::Response::Text(200, "application/json; charset=utf-8", out.dump());
  }

  http::ExchangePtr Exchange(http::Request request, std::string login_server) {
    for (auto& c : login_server) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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
  node->api_ = std::make_unique<arm::ArmApi>(*node->control_plane_);
  http::ServerOptions server_options;
  server_options.threads = 1;
  server_options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  config.limits.ApplyTo(server_options);
  node->routes_ = std::make_unique<Routes>(*node);
  node->server_ = std::make_unique<http::Server>(*node->routes_, nullptr, server_options);
  return node;
}

ArmNode::~ArmNode() { Stop(); }

Result<uint16_t> ArmNode::Start() {
  auto port = server_->Listen(config_.arm_listen);
  if (!port) {
    return Fail(port.error().code, "arm api: listen on " + config_.arm_listen.address + ":" +
                                       std::to_string(config_.arm_listen.port) + ": " +
                                       port.error().message);
  }
  server_->Start();
  spdlog::info("arm api listening on {}:{}", config_.arm_listen.address, *port);
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
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace cove::daemon
