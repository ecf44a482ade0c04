#include "runtime/credentials.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "common/ascii.h"

namespace cove::runtime {
namespace {

using json = nlohmann::json;

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void SkipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

std::string Token(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && IsTokenChar(s[i])) ++i;
  return std::string(s.substr(start, i - start));
}

constexpr uint64_t kTokenAnswerLimit = 1024 * 1024;

}  // namespace

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {}  // namespace

Result<Credential> ParseCredential(std::string_view json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return Fail(Code::kInvalidArgument, "the credential on stdin must be one JSON object");
  }
  for (const auto& [key, value] : j.items()) {
    if ((key != "username" && key != "password" && key != "identity") || !value.is_string()) {
      return Fail(Code::kInvalidArgument,
                  "the credential may hold only string fields username+password or identity, "
                  "got '" +
                      key + "'");
    }
  }
  Credential c;
  bool basic = j.contains("username") || j.contains("password");
  if (basic && j.contains("identity")) {
    return Fail(Code::kInvalidArgument, "a credential is username+password or identity, not both");
  }
  if (basic) {
    if (!j.contains("username") || !j.contains("password")) {
      return Fail(Code::kInvalidArgument, "username and password go together");
    }
    c.kind = Credential::Kind::kBasic;
    c.username = j["username"];
    c.password = j["password"];
  } else if (j.contains("identity")) {
    c.kind = Credential::Kind::kIdentity;
    c.identity = j["identity"];
    if (c.identity.empty()) return Fail(Code::kInvalidArgument, "identity is empty");
  }
  return c;
}

Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view s) {
  std::vector<Challenge> out;
  size_t i = 0;
  auto bad = [&](const std::string& why) {
    return Fail(Code::kInvalidArgument, "malformed WWW-Authenticate (" + why + ")");
  };
  while (true) {
    SkipSpace(s, i);
    while (i < s.size() && s[i] == ',') {
      ++i;
      SkipSpace(s, i);
    }
    if (i >= s.size()) break;
    std::string scheme = Token(s, i);
    if (scheme.empty()) return bad("expected a scheme at offset " + std::to_string(i));
    Challenge ch{AsciiLower(scheme), {}};
    // auth-params until the next scheme (a token not followed by '=').
    while (true) {
      SkipSpace(s, i);
      while (i < s.size() && s[i] == ',') {
        ++i;
        SkipSpace(s, i);
      }
      if (i >= s.size()) break;
      size_t mark = i;
      std::string name = Token(s, i);
      if (name.empty()) return bad("expected a parameter at offset " + std::to_string(i));
      SkipSpace(s, i);
      if (i >= s.size() || s[i] != '=') {
        // token68 directly after the scheme, or the next challenge's scheme.
        if (ch.params.empty() && mark > 0 && i >= s.size()) {
          ch.params[""] = name;
          break;
        }
        i = mark;
        break;
      }
      ++i;
      SkipSpace(s, i);
      std::string value;
      if (i < s.size() && s[i] == '"') {
        ++i;
        bool closed = false;
        while (i < s.size()) {
          char c = s[i++];
          if (c == '\\' && i < s.size()) {
            value.push_back(s[i++]);
          } else if (c == '"') {
            closed = true;
            break;
          } else {
            value.push_back(c);
          }
        }
        if (!closed) return bad("unterminated quoted string");
      } else {
        value = Token(s, i);
        while (i < s.size() && s[i] == '=') value.push_back(s[i++]);  // token68 padding
      }
      ch.params[AsciiLower(name)] = value;
      SkipSpace(s, i);
      if (i < s.size() && s[i] != ',') return bad("expected ',' at offset " + std::to_string(i));
    }
    out.push_back(std::move(ch));
  }
  if (out.empty()) return bad("no challenge");
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  size_t pad = 0;
  while (!s.empty() && s.back() == '=') {
    s.pop_back();
    ++pad;
  }
  if (s.size() % 4 == 1 || pad > 2) return Fail(Code::kInvalidArgument, "not base64");
  size_t unpadded = s.size();
  while (s.size() % 4 != 0) s.push_back('=');
  std::string out(s.size() / 4 * 3 + 1, '\0');
  int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return Fail(Code::kInvalidArgument, "not base64");
  out.resize(unpadded * 3 / 4);  // EVP_DecodeBlock counts the padding as zero bytes
  return out;
}

std::string BasicAuthorization(const std::string& username, const std::string& password) {
  return "Basic " + Base64Encode(username + ":" + password);
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

std::string TenantOf(std::string_view jwt) {
  size_t a = jwt.find('.');
  if (a == std::string_view::npos) return "";
  size_t b = jwt.find('.', a + 1);
  if (b == std::string_view::npos) return "";
  auto payload = Base64Decode(jwt.substr(a + 1, b - a - 1));
  if (!payload) return "";
  json j = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("tid") || !j["tid"].is_string()) return "";
  return j["tid"];
}

Result<std::string> ImdsAccessToken(Transport& transport, const std::string& client_id,
                                    const std::string& resource, const std::string& imds) {
  FetchRequest req;
  req.url = imds + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
            PercentEncode(resource) + "&client_id=" + PercentEncode(client_id);
  req.headers["Metadata"] = "true";
  COVE_ASSIGN_OR_RETURN(FetchResponse res, transport.Fetch(req, nullptr, kTokenAnswerLimit));
  if (res.status != 200) return Fail(ResponseError(res));
  json j = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string()) {
    return Fail(Code::kInvalidArgument, "IMDS answered without an access_token");
  }
  return j["access_token"].get<std::string>();
}

Result<std::string> ExchangeForRefreshToken(Transport& transport, const std::string& registry,
                                            const std::string& access_token) {
  FetchRequest req;
  req.method = "POST";
  req.url = "https://" + registry + "/oauth2/exchange";
  req.headers["Content-Type"] = "application/x-www-form-urlencoded";
  req.headers["Accept"] = "application/json";
  std::vector<std::pair<std::string, std::string>> form = {{"grant_type", "access_token"},
                                                           {"service", registry}};
  if (std::string tenant = TenantOf(access_token); !tenant.empty()) {
    form.emplace_back("tenant", tenant);
  }
  form.emplace_back("access_token", access_token);
  req.body = FormEncode(form);
  COVE_ASSIGN_OR_RETURN(FetchResponse res, transport.Fetch(req, nullptr, kTokenAnswerLimit));
  if (res.status != 200) return Fail(ResponseError(res));
  json j = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("refresh_token") || !j["refresh_token"].is_string()) {
    return Fail(Code::kInvalidArgument, "the registry's exchange answered without a refresh_token");
  }
  return j["refresh_token"].get<std::string>();
}

}  // namespace cove::runtime
