#include "auth/jwt.h"

#include <jwt.h>

#include <cstdlib>
#include <memory>

namespace cove::auth {
namespace {

struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

Result<nlohmann::json> ParseObject(std::string_view part, const char* what) {
  COVE_ASSIGN_OR_RETURN(auto bytes, Base64UrlDecode(part));
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object()) {
    return Fail(Code::kUnauthenticated, std::string("token ") + what + " is not a JSON object");
  }
  return j;
}

int64_t NumberClaim(const nlohmann::json& claims, const char* name, bool* present) {
  auto it = claims.find(name);
  *present = it != claims.end() && it->is_number();
  return *present ? it->get<int64_t>() : 0;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64Url[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kB64Url[(acc << (6 - bits)) & 63]);
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    else
      return Fail(Code::kUnauthenticated, "token is not base64url");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (text.size() % 4 == 1) return Fail(Code::kUnauthenticated, "token is not base64url");
  return out;
}

Result<std::string> SignJwt(const SigningKey& key, const nlohmann::json& claims) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return Fail(Code::kInternal, "jwt_new failed");
  JwtPtr jwt(raw);
  if (jwt_add_grants_json(jwt.get(), claims.dump().c_str()) != 0 ||
      jwt_add_header(jwt.get(), "kid", key.kid.c_str()) != 0 ||
      jwt_set_alg(jwt.get(), JWT_ALG_ES256,
                  reinterpret_cast<const unsigned char*>(key.private_pem.data()),
                  static_cast<int>(key.private_pem.size())) != 0) {
    return Fail(Code::kInternal, "cannot prepare a JWT");
  }
  std::unique_ptr<char, FreeDeleter> encoded(jwt_encode_str(jwt.get()));
  if (!encoded) return Fail(Code::kInternal, "libjwt could not sign the token");
  return std::string(encoded.get());
}

Result<std::pair<nlohmann::json, nlohmann::json>> DecodeJwtUnverified(std::string_view token) {
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Fail(Code::kUnauthenticated, "token is not a JWS in compact form");
  }
  COVE_ASSIGN_OR_RETURN(auto header, ParseObject(token.substr(0, dot1), "header"));
  COVE_ASSIGN_OR_RETURN(auto payload,
                        ParseObject(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload"));
  return std::make_pair(std::move(header), std::move(payload));
}

Result<nlohmann::json> VerifyJwt(std::string_view token, const KeySet& keys,
                                 const VerifyOptions& options) {
  if (token.size() > 16 * 1024) return Fail(Code::kUnauthenticated, "token is too long");
  COVE_ASSIGN_OR_RETURN(auto decoded, DecodeJwtUnverified(token));
  const auto& header = decoded.first;
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "ES256") {
    return Fail(Code::kUnauthenticated, "token algorithm must be ES256");
  }
  auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string()) {
    return Fail(Code::kUnauthenticated, "token names no signing key (kid)");
  }
  const SigningKey* key = keys.Find(kid->get<std::string>());
  if (!key) return Fail(Code::kUnauthenticated, "token signing key is unknown or retired");

  std::string text(token);
  jwt_t* raw = nullptr;
  int rc =
      jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->public_pem.data()),
                 static_cast<int>(key->public_pem.size()));
  JwtPtr jwt(raw);
  if (rc != 0 || !jwt) return Fail(Code::kUnauthenticated, "token signature is not valid");
  if (jwt_get_alg(jwt.get()) != JWT_ALG_ES256) {
    return Fail(Code::kUnauthenticated, "token algorithm must be ES256");
  }
  // The payload libjwt verified is the one decoded above (same bytes).
  nlohmann::json claims = std::move(decoded.second);

  int64_t now = UnixSeconds(options.now);
  int64_t leeway = options.leeway.count();
  bool has = false;
  int64_t exp = NumberClaim(claims, "exp", &has);
  if (!has) return Fail(Code::kUnauthenticated, "token has no expiry");
  if (now >= exp) return Fail(Code::kUnauthenticated, "token has expired");
  int64_t nbf = NumberClaim(claims, "nbf", &has);
  if (has && now + leeway < nbf) return Fail(Code::kUnauthenticated, "token is not valid yet");
  if (!options.audience.empty()) {
    auto aud = claims.find("aud");
    bool match =
        aud != claims.end() && aud->is_string() && aud->get<std::string>() == options.audience;
    if (!match) return Fail(Code::kUnauthenticated, "token is for another audience");
  }
  if (!options.issuer.empty()) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != options.issuer) {
      return Fail(Code::kUnauthenticated, "token is from another issuer");
    }
  }
  return claims;
}

}  // namespace cove::auth
