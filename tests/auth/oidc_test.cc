// OpenID discovery pieces (auth/oidc.h): the JWKS verifies the tokens its keys signed, and the
// token endpoint's reading of scope and resource.
#include "auth/oidc.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "auth/jwt.h"
#include "auth/token_service.h"

namespace cove::auth {
namespace {

// The public key a JWK describes, parsed by OpenSSL from its x and y alone.
std::shared_ptr<EVP_PKEY> KeyOfJwk(const nlohmann::json& jwk) {
  auto x = Base64UrlDecode(jwk.value("x", ""));
  auto y = Base64UrlDecode(jwk.value("y", ""));
  if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
  std::string point = "\x04" + *x + *y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    key = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return std::shared_ptr<EVP_PKEY>(key, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

TEST(OidcTest, JwksVerifiesTheTokensItsKeysSigned) {
  ManualClock clock;
  KeySet keys;
  for (int i = 0; i < 2; ++i) {
    auto key = GenerateSigningKey("k" + std::to_string(i), clock.Now());
    ASSERT_TRUE(key) << key.error().ToString();
    keys.keys.push_back(*key);
  }
  auto token = SignJwt(keys.active(), {{"sub", "me"}, {"exp", 4102444800}});
  ASSERT_TRUE(token) << token.error().ToString();
  nlohmann::json jwks = Jwks(keys);
  ASSERT_EQ(jwks["keys"].size(), 2u);
  const auto& jwk = jwks["keys"][1];
  EXPECT_EQ(jwk["kid"], "k1");
  EXPECT_EQ(jwk["kty"], "EC");
  EXPECT_EQ(jwk["crv"], "P-256");
  EXPECT_EQ(jwk["alg"], "ES256");
  EXPECT_EQ(jwk["use"], "sig");
  // Only the JWK's coordinates: the token verifies with them, and not with the other key's.
  for (int i = 0; i < 2; ++i) {
    SigningKey from_jwk;
    from_jwk.kid = "k1";
    from_jwk.pkey = KeyOfJwk(jwks["keys"][i]);
    ASSERT_TRUE(from_jwk.pkey) << jwks["keys"][i].dump();
    KeySet one;
    one.keys.push_back(from_jwk);
    auto verified = VerifyJwt(*token, one, {.now = clock.Now()});
    EXPECT_EQ(verified.has_value(), i == 1) << i;
  }
}

TEST(OidcTest, OpenIdConfigurationNamesTheTenantsEndpoints) {
  auto doc = OpenIdConfiguration("https://h:1", "t", "https://h:1/adfs");
  EXPECT_EQ(doc["issuer"], "https://h:1/adfs");
  EXPECT_EQ(doc["token_endpoint"], "https://h:1/t/oauth2/v2.0/token");
  EXPECT_EQ(doc["authorization_endpoint"], "https://h:1/t/oauth2/v2.0/authorize");
  EXPECT_EQ(doc["jwks_uri"], "https://h:1/t/discovery/v2.0/keys");
}

TEST(OidcTest, RequestedAudienceReadsScopeAndResource) {
  auto az = RequestedAudience(
      std::string("https://management.core.windows.net//.default offline_access openid profile"),
      std::nullopt);
  ASSERT_TRUE(az) << az.error().ToString();
  EXPECT_EQ(*az, "https://management.core.windows.net/");
  EXPECT_EQ(*RequestedAudience(std::string("https://management.azure.com/.default"), std::nullopt),
            "https://management.azure.com");
  EXPECT_EQ(*RequestedAudience(std::nullopt, std::string("https://management.azure.com/")),
            "https://management.azure.com/");
  EXPECT_EQ(*RequestedAudience(std::nullopt, std::nullopt), kIdentityAudience);
  EXPECT_EQ(*RequestedAudience(std::string("openid profile"), std::nullopt), kIdentityAudience);
  // The same resource both ways is one resource.
  EXPECT_TRUE(RequestedAudience(std::string("https://management.azure.com//.default"),
                                std::string("https://management.azure.com/")));

  EXPECT_EQ(RequestedAudience(std::string("https://vault.azure.net/.default"), std::nullopt)
                .error()
                .code,
            Code::kNotFound);
  EXPECT_EQ(RequestedAudience(std::string("User.Read"), std::nullopt).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(RequestedAudience(std::string("https://management.azure.com//.default "
                                          "https://containerregistry.azure.net/.default"),
                              std::nullopt)
                .error()
                .code,
            Code::kInvalidArgument);
}

// The listener itself, as the metadata document's microsoftGraphResourceId, is Microsoft Graph:
// az asks "<listener>/" + "/.default" for `az ad` commands.
TEST(OidcTest, RequestedAudienceNamesGraphByTheListener) {
  constexpr std::string_view kSelf = "https://127.0.0.1:7780";
  EXPECT_EQ(*RequestedAudience(std::string("https://127.0.0.1:7780//.default"), std::nullopt,
                               kSelf),
            kGraphAudience);
  EXPECT_EQ(*RequestedAudience(std::nullopt, std::string("https://127.0.0.1:7780"), kSelf),
            kGraphAudience);
  EXPECT_EQ(*RequestedAudience(std::string("https://graph.microsoft.com/.default"), std::nullopt),
            "https://graph.microsoft.com");
  // Another listener is not this one's Graph; ARM's names stay ARM's.
  EXPECT_EQ(RequestedAudience(std::string("https://127.0.0.1:7781//.default"), std::nullopt, kSelf)
                .error()
                .code,
            Code::kNotFound);
  EXPECT_EQ(*RequestedAudience(std::string("https://management.core.windows.net//.default"),
                               std::nullopt, kSelf),
            "https://management.core.windows.net/");
}

}  // namespace
}  // namespace cove::auth
