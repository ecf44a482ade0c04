#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <memory>

namespace cove::auth {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter>;

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
  if (!key.pkey) return Fail(Code::kInternal, "signing key " + key.kid + " is not loaded");
  nlohmann::json header = {{"alg", "ES256"}, {"kid", key.kid}, {"typ", "JWT"}};
  std::string out = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned char der[80];  // a DER ECDSA-Sig-Value for P-256 is at most 72 bytes
  size_t der_len = sizeof der;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), der, &der_len, reinterpret_cast<const unsigned char*>(out.data()),
                     out.size()) != 1) {
    return Fail(Code::kInternal, "OpenSSL could not sign the token");
  }
  // JOSE wants R||S, each left-padded to 32 bytes (RFC 7518 §3.4), not DER.
  const unsigned char* p = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  unsigned char rs[64];
  if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), rs, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), rs + 32, 32) != 32) {
    return Fail(Code::kInternal, "OpenSSL made a malformed signature");
  }
  out += '.';
  out += Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(rs), sizeof rs));
  return out;
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

  if (!key->pkey) return Fail(Code::kInternal, "signing key " + key->kid + " is not loaded");
  auto last_dot = token.rfind('.');
  COVE_ASSIGN_OR_RETURN(auto rs, Base64UrlDecode(token.substr(last_dot + 1)));
  if (rs.size() != 64) return Fail(Code::kUnauthenticated, "token signature is not valid");
  // R||S back to the DER form OpenSSL verifies.
  EcdsaSigPtr sig(ECDSA_SIG_new());
  const auto* bytes = reinterpret_cast<const unsigned char*>(rs.data());
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Fail(Code::kInternal, "cannot allocate a signature");
  }
  unsigned char der[80];
  unsigned char* out = der;
  int der_len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (der_len <= 0 || der_len > static_cast<int>(sizeof der)) {
    return Fail(Code::kUnauthenticated, "token signature is not valid");
  }
  i2d_ECDSA_SIG(sig.get(), &out);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->pkey.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(token.data()), last_dot) != 1) {
    return Fail(Code::kUnauthenticated, "token signature is not valid");
  }
  // The payload verified is the one decoded above (same bytes).
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
