#include "auth/oidc.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "auth/jwt.h"
#include "auth/token_service.h"

namespace cove::auth {
namespace {

// The uncompressed point 0x04 || X || Y of a P-256 key; nullopt when OpenSSL cannot give it.
std::optional<std::string> PublicPoint(EVP_PKEY* key) {
  unsigned char point[65];
  size_t length = 0;
  if (key == nullptr ||
      EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                      sizeof(point), &length) != 1 ||
      length != sizeof(point) || point[0] != 0x04) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(point), length);
}

}  // namespace

nlohmann::json OpenIdConfiguration(std::string_view base, std::string_view tenant,
                                   std::string_view issuer) {
  std::string root = std::string(base) + "/" + std::string(tenant);
  return {{"issuer", std::string(issuer)},
          {"token_endpoint", root + "/oauth2/v2.0/token"},
          {"authorization_endpoint", root + "/oauth2/v2.0/authorize"},
          {"jwks_uri", root + "/discovery/v2.0/keys"},
          {"token_endpoint_auth_methods_supported", {"client_secret_post"}},
          {"grant_types_supported", {"client_credentials", "password"}},
          {"response_types_supported", {"token"}},
          {"response_modes_supported", {"query"}},
          {"scopes_supported", {"openid", "profile", "offline_access"}},
          {"subject_types_supported", {"pairwise"}},
          {"id_token_signing_alg_values_supported", {"ES256"}},
          {"claims_supported", {"sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid"}},
          {"tenant_region_scope", nullptr},
          {"cloud_instance_name", "cove"}};
}

nlohmann::json Jwks(const KeySet& keys) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& key : keys.keys) {
    auto point = PublicPoint(key.pkey.get());
    if (!point) continue;
    out.push_back({{"kty", "EC"},
                   {"use", "sig"},
                   {"alg", "ES256"},
                   {"crv", "P-256"},
                   {"kid", key.kid},
                   {"x", Base64UrlEncode(point->substr(1, 32))},
                   {"y", Base64UrlEncode(point->substr(33, 32))}});
  }
  return {{"keys", std::move(out)}};
}

Result<std::string> RequestedAudience(const std::optional<std::string>& scope,
                                      const std::optional<std::string>& resource,
                                      std::string_view self) {
  std::vector<std::string> asked;
  if (scope) {
    constexpr std::string_view kDefault = "/.default";
    size_t start = 0;
    while (start < scope->size()) {
      size_t end = scope->find(' ', start);
      if (end == std::string::npos) end = scope->size();
      std::string item = scope->substr(start, end - start);
      start = end + 1;
      if (item.empty() || item == "openid" || item == "profile" || item == "email" ||
          item == "offline_access") {
        continue;
      }
      if (!item.ends_with(kDefault)) {
        return Fail(Code::kInvalidArgument,
                    "The scope '" + item + "' is not valid: cove issues tokens for "
                    "'<resource>/.default' scopes only.");
      }
      asked.push_back(item.substr(0, item.size() - kDefault.size()));
    }
  }
  if (resource && !resource->empty() &&
      std::find(asked.begin(), asked.end(), *resource) == asked.end()) {
    asked.push_back(*resource);
  }
  if (asked.empty()) return std::string(kIdentityAudience);
  if (asked.size() > 1) {
    return Fail(Code::kInvalidArgument,
                "A token can be issued for one resource at a time; the request asked for " +
                    std::to_string(asked.size()) + ".");
  }
  if (!self.empty() && (asked.front() == self || asked.front() == std::string(self) + "/")) {
    return std::string(kGraphAudience);
  }
  const auto& audiences = IdentityAudiences();
  if (std::find(audiences.begin(), audiences.end(), asked.front()) == audiences.end()) {
    return Fail(Code::kNotFound,
                "The resource principal named " + asked.front() +
                    " was not found in the tenant.");
  }
  return asked.front();
}

}  // namespace cove::auth
