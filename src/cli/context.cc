#include "cli/context.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/credentials.h"

namespace cove::cli {

using nlohmann::json;

Outcome Outcome::FromArm(const ArmError& error, bool missing_is_3) {
  if (error.code.empty()) return Failure(error.message);
  std::string text = "(" + error.code + ") " + error.message + "\nCode: " + error.code +
                     "\nMessage: " + error.message;
  return Failure(text, missing_is_3 && error.status == 404 ? 3 : 1);
}

Outcome Outcome::FromGraph(const ArmError& error, bool missing_is_3) {
  return Failure(error.message, missing_is_3 && error.status == 404 ? 3 : 1);
}

Environment Environment::FromProcess() {
  Environment env;
  if (const char* e = std::getenv("COVE_ENDPOINT"); e && *e) env.endpoint = e;
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) {
    env.config_path = std::string(xdg) + "/cove/config";
  } else {
    env.config_path = std::string(home ? home : ".") + "/.config/cove/config";
  }
  env.stdin_is_tty = ::isatty(0) == 1;
  env.stdout_is_tty = ::isatty(1) == 1;
  if (::geteuid() == 0) {
    env.data_dir = "/var/lib/cove";
  } else {
    env.data_dir = std::string(home ? home : ".") + "/.local/share/cove";
  }
  if (const char* d = std::getenv("COVE_DATA_DIR"); d && *d) env.data_dir = d;
  if (const char* c = std::getenv("COVE_CA_FILE"); c && *c) env.ca_file = c;
  if (const char* p = std::getenv("COVE_FABRIC_PREFIX"); p && *p) env.fabric_prefix = p;
  env.docker_config_path = DockerConfigPath(std::getenv("DOCKER_CONFIG"), home);
  return env;
}

void Context::Warn(const std::string& message) {
  if (args_ && args_->Has("--only-show-errors")) return;
  err_ << "WARNING: " << message << "\n";
}

ArmResult<ArmClient*> Context::Arm() {
  if (!arm_) {
    const std::string& e = env_.endpoint;
    auto bad = [&] {
      return ArmFail(0, "",
                     "COVE_ENDPOINT must be https://HOST:PORT (or http://HOST:PORT on a loopback "
                     "host, for coved --arm-insecure-http), got '" + e + "'");
    };
    if (e.rfind("http://", 0) == 0) {
      std::string host = e.substr(7, e.find_first_of(":/", 7) == std::string::npos
                                         ? std::string::npos
                                         : e.find_first_of(":/", 7) - 7);
      if (host != "127.0.0.1" && host != "localhost" && host.rfind("127.", 0) != 0 &&
          e.rfind("http://[::1]", 0) != 0) {
        return bad();
      }
    } else if (e.rfind("https://", 0) != 0) {
      return bad();
    }
    http::HttpsOptions tls;
    tls.ca_file = env_.ca_file.empty() ? env_.data_dir + "/tls/ca.crt" : env_.ca_file;
    auto http = http::HttpClient::Create(e, std::chrono::seconds(60), tls);
    if (!http) return bad();
    std::ostream* debug = args_ && args_->Has("--debug") ? &err_ : nullptr;
    arm_ = std::make_unique<ArmClient>(std::move(*http), debug);
    arm_->SetTokenSource([this] { return ArmToken(); });
  }
  return arm_.get();
}

ArmResult<std::string> Context::ArmToken() {
  auto login = ReadLogin(LoginPath(env_.config_path));
  if (!login) return ArmFail(0, "", login.error().message);
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (*login) {
    if ((*login)->expires_on > now) return (*login)->access_token;
    return ArmFail(0, "",
                   "The access token of " + (*login)->user_name +
                       " has expired. Please run 'cove login' to setup account" +
                       ((*login)->IsManagedIdentity() ? " (cove login --identity)." : "."));
  }
  // Nobody signed in: the bootstrap credential, when this user may read it.
  std::ifstream in(BootstrapPath());
  if (!in) return std::string();
  json file = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!file.is_object() || !file.contains("clientId") || !file.contains("clientSecret") ||
      !file["clientId"].is_string() || !file["clientSecret"].is_string()) {
    return ArmFail(0, "", BootstrapPath() + " is not coved's bootstrap credential");
  }
  auto arm = Arm();
  if (!arm) return tl::unexpected(arm.error());
  std::string tenant = file.value("tenantId", "organizations");
  auto res = (*arm)->PostForm(
      "/" + PercentEncode(tenant) + "/oauth2/v2.0/token",
      FormEncode({{"grant_type", "client_credentials"},
                  {"client_id", file["clientId"].get<std::string>()},
                  {"client_secret", file["clientSecret"].get<std::string>()},
                  {"scope", "https://management.core.windows.net//.default"}}));
  if (!res) return tl::unexpected(res.error());
  json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status != 200 || !body.is_object() || !body.contains("access_token") ||
      !body["access_token"].is_string()) {
    std::string why = body.is_object() && body.contains("error_description") &&
                              body["error_description"].is_string()
                          ? body["error_description"].get<std::string>()
                          : "coved answered " + std::to_string(res->status);
    return ArmFail(0, "", "signing in with " + BootstrapPath() + " failed: " + why);
  }
  return body["access_token"].get<std::string>();
}

ArmResult<json> Context::FindSubscription(const std::string& name_or_id) {
  auto arm = Arm();
  if (!arm) return tl::unexpected(arm.error());
  auto subs = (*arm)->List("/subscriptions", kApiSubscriptions);
  if (!subs) return tl::unexpected(subs.error());
  for (const auto& s : *subs) {
    if (EqualsIgnoreCase(s.value("subscriptionId", ""), name_or_id) ||
        EqualsIgnoreCase(s.value("displayName", ""), name_or_id)) {
      return s;
    }
  }
  return ArmFail(404, "",
                 "Subscription '" + name_or_id +
                     "' not found. Check the spelling and casing "
                     "and try again.");
}

ArmResult<std::string> Context::Subscription() {
  if (subscription_) return *subscription_;
  std::optional<std::string> wanted = args_ ? args_->Get("--subscription") : std::nullopt;
  if (wanted) {
    // An id is used as given (az does the same for ids it knows); a name is looked up.
    static const std::string kHex = "0123456789abcdefABCDEF-";
    bool looks_like_id =
        wanted->size() == 36 && wanted->find_first_not_of(kHex) == std::string::npos;
    if (looks_like_id) {
      subscription_ = AsciiLower(*wanted);
    } else {
      auto found = FindSubscription(*wanted);
      if (!found) return tl::unexpected(found.error());
      subscription_ = found->value("subscriptionId", "");
    }
  } else if (auto stored = ConfigGet("subscription")) {
    subscription_ = *stored;
  } else {
    subscription_ = kDefaultSubscription;
  }
  return *subscription_;
}

std::optional<std::string> Context::ConfigGet(const std::string& key) const {
  std::ifstream in(env_.config_path);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      size_t b = s.find_first_not_of(" \t\r");
      size_t e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    if (trim(line.substr(0, eq)) == key) return trim(line.substr(eq + 1));
  }
  return std::nullopt;
}

Result<void> Context::ConfigSet(const std::string& key, const std::string& value) const {
  std::vector<std::string> lines;
  {
    std::ifstream in(env_.config_path);
    std::string line;
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      std::string k = eq == std::string::npos ? "" : line.substr(0, eq);
      k.erase(k.find_last_not_of(" \t") + 1);
      if (k != key) lines.push_back(line);
    }
  }
  lines.push_back(key + " = " + value);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(env_.config_path).parent_path(), ec);
  std::string tmp = env_.config_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
    if (!out) return Fail(Code::kIOError, "cannot write " + tmp);
  }
  std::filesystem::rename(tmp, env_.config_path, ec);
  if (ec) return Fail(Code::kIOError, "cannot write " + env_.config_path + ": " + ec.message());
  return Ok();
}

bool IsResourceId(const std::string& text) { return AsciiLower(text).rfind("/subscriptions/", 0) == 0; }

Result<ResourceId> ParseResourceId(const std::string& id) {
  std::vector<std::string> parts;
  std::stringstream ss(id);
  std::string part;
  while (std::getline(ss, part, '/')) parts.push_back(part);
  auto bad = [&] {
    return Fail(Code::kInvalidArgument, "'" + id + "' is not a valid resource ID.");
  };
  if (parts.size() < 3 || !parts[0].empty() || AsciiLower(parts[1]) != "subscriptions" ||
      parts[2].empty()) {
    return bad();
  }
  ResourceId out;
  out.subscription = parts[2];
  if (parts.size() == 3) return out;
  if (parts.size() < 5 || AsciiLower(parts[3]) != "resourcegroups" || parts[4].empty()) return bad();
  out.resource_group = parts[4];
  if (parts.size() == 5) return out;
  if (parts.size() < 9 || AsciiLower(parts[5]) != "providers" || parts[6].empty() ||
      (parts.size() - 7) % 2 != 0) {
    return bad();
  }
  out.provider = parts[6];
  for (size_t i = 7; i + 1 < parts.size(); i += 2) {
    if (parts[i].empty() || parts[i + 1].empty()) return bad();
    out.types.emplace_back(parts[i], parts[i + 1]);
  }
  return out;
}

std::string ResourceId::Type() const {
  std::string t = provider;
  for (const auto& [type, name] : types) t += "/" + type;
  return t;
}

std::string GroupPath(const std::string& sub, const std::string& group) {
  return "/subscriptions/" + sub + "/resourceGroups/" + group;
}

std::string ResourcePath(const std::string& sub, const std::string& group,
                         const std::string& type_path, const std::string& name) {
  return GroupPath(sub, group) + "/providers/" + type_path + "/" + name;
}

}  // namespace cove::cli
