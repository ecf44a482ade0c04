#include "cli/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

Result<std::optional<std::string>> ReadWhole(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Code::kIOError, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return std::optional<std::string>(text.str());
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(name) + "=" + PercentEncode(value);
  }
  return out;
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = Sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::optional<json> JwtClaims(const std::string& token) {
  size_t first = token.find('.');
  if (first == std::string::npos) return std::nullopt;
  size_t second = token.find('.', first + 1);
  if (second == std::string::npos || token.find('.', second + 1) != std::string::npos) {
    return std::nullopt;
  }
  auto payload = Base64Decode(std::string_view(token).substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  json claims = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return std::nullopt;
  return claims;
}

Result<void> WriteFileAtomic(const std::string& path, const std::string& data) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      std::filesystem::create_directories(dir, ec);
      if (ec) return Fail(Code::kIOError, "cannot create " + dir.string() + ": " + ec.message());
      ::chmod(dir.c_str(), 0700);
    }
  }
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Fail(Code::kIOError, "cannot write " + tmp + ": " + std::strerror(errno));
  // O_CREAT's mode is masked by the umask; an existing leftover may be wider. Force 0600.
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t written = 0;
  while (ok && written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    written += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp.c_str());
    return Fail(Code::kIOError, "cannot write " + path + ": " + std::strerror(saved));
  }
  return Ok();
}

std::string LoginPath(const std::string& config_path) {
  std::filesystem::path dir = std::filesystem::path(config_path).parent_path();
  return (dir / "login.json").string();
}

Result<std::optional<LoginState>> ReadLogin(const std::string& path) {
  COVE_ASSIGN_OR_RETURN(auto text, ReadWhole(path));
  if (!text) return std::optional<LoginState>();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto str = [&](const json& o, const char* key) -> std::optional<std::string> {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string()) return std::nullopt;
    return o[key].get<std::string>();
  };
  if (!j.is_object() || !j.contains("user") || !j.contains("expiresOn") ||
      !j["expiresOn"].is_number_integer()) {
    return Fail(Code::kInvalidArgument, path + " is not a cove login file; run 'cove logout'");
  }
  auto name = str(j["user"], "name");
  auto type = str(j["user"], "type");
  auto tenant = str(j, "tenantId");
  auto token = str(j, "accessToken");
  if (!name || !type || !tenant || !token) {
    return Fail(Code::kInvalidArgument, path + " is not a cove login file; run 'cove logout'");
  }
  LoginState login{*name, *type, *tenant, *token, j["expiresOn"].get<int64_t>()};
  login.assigned_identity_info = str(j["user"], "assignedIdentityInfo").value_or("");
  login.subscription = str(j, "subscriptionId").value_or("");
  login.acr_suffix = str(j, "acrLoginServerSuffix").value_or("");
  return std::optional<LoginState>(std::move(login));
}

Result<void> WriteLogin(const std::string& path, const LoginState& login) {
  json j = {{"user", {{"name", login.user_name}, {"type", login.user_type}}},
            {"tenantId", login.tenant},
            {"accessToken", login.access_token},
            {"expiresOn", login.expires_on}};
  if (login.IsManagedIdentity()) {
    j["user"]["assignedIdentityInfo"] = login.assigned_identity_info;
    j["subscriptionId"] = login.subscription;
    j["acrLoginServerSuffix"] = login.acr_suffix;
  }
  return WriteFileAtomic(path, j.dump(2) + "\n");
}

Result<bool> RemoveLogin(const std::string& path) {
  std::error_code ec;
  bool removed = std::filesystem::remove(path, ec);
  if (ec) return Fail(Code::kIOError, "cannot remove " + path + ": " + ec.message());
  return removed;
}

std::string DockerConfigPath(const char* docker_config_env, const char* home) {
  if (docker_config_env && *docker_config_env) {
    return (std::filesystem::path(docker_config_env) / "config.json").string();
  }
  return (std::filesystem::path(home && *home ? home : ".") / ".docker" / "config.json").string();
}

namespace {

Result<json> ReadDockerConfig(const std::string& path) {
  COVE_ASSIGN_OR_RETURN(auto text, ReadWhole(path));
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || (j.contains("auths") && !j["auths"].is_object())) {
    return Fail(Code::kInvalidArgument,
                "Failed to parse " + path + " (not a docker config file); it was left unchanged.");
  }
  return j;
}

}  // namespace

Result<void> StoreDockerAuth(const std::string& path, const std::string& server,
                             const std::string& user, const std::string& password) {
  COVE_ASSIGN_OR_RETURN(json config, ReadDockerConfig(path));
  if (!config.contains("auths")) config["auths"] = json::object();
  json entry = config["auths"].value(server, json::object());
  if (!entry.is_object()) entry = json::object();
  entry["auth"] = Base64Encode(user + ":" + password);
  // A stale identity token for the server would be preferred over `auth` by docker.
  entry.erase("identitytoken");
  config["auths"][server] = entry;
  return WriteFileAtomic(path, config.dump(1, '\t') + "\n");
}

std::optional<std::string> DockerCredentialHelper(const std::string& path,
                                                  const std::string& server) {
  auto config = ReadDockerConfig(path);
  if (!config) return std::nullopt;
  if (config->contains("credHelpers") && (*config)["credHelpers"].is_object() &&
      (*config)["credHelpers"].contains(server) && (*config)["credHelpers"][server].is_string()) {
    return (*config)["credHelpers"][server].get<std::string>();
  }
  if (config->contains("credsStore") && (*config)["credsStore"].is_string() &&
      !(*config)["credsStore"].get<std::string>().empty()) {
    return (*config)["credsStore"].get<std::string>();
  }
  return std::nullopt;
}

Result<std::optional<std::pair<std::string, std::string>>> ReadDockerAuth(
    const std::string& path, const std::string& server) {
  using Pair = std::pair<std::string, std::string>;
  COVE_ASSIGN_OR_RETURN(json config, ReadDockerConfig(path));
  if (!config.contains("auths") || !config["auths"].contains(server)) {
    return std::optional<Pair>();
  }
  const json& entry = config["auths"][server];
  if (!entry.is_object() || !entry.contains("auth") || !entry["auth"].is_string()) {
    return std::optional<Pair>();
  }
  auto decoded = Base64Decode(entry["auth"].get<std::string>());
  if (!decoded) return Fail(Code::kInvalidArgument, "auths." + server + ".auth is not base64");
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) {
    return Fail(Code::kInvalidArgument, "auths." + server + ".auth is not user:password");
  }
  return std::optional<Pair>(Pair(decoded->substr(0, colon), decoded->substr(colon + 1)));
}

}  // namespace cove::cli
