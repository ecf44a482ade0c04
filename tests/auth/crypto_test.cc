// Passwords (Argon2id), signing keys on disk with rotation, and ES256 JWTs (auth/password.h,
// auth/keys.h, auth/jwt.h) — including tokens forged the ways real attacks forge them.
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "auth/jwt.h"
#include "auth/keys.h"
#include "auth/password.h"
#include "common/digest.h"
#include "support/temp_dir.h"

namespace cove::auth {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

TEST(PasswordTest, HashesVerifyAndNeverContainThePassword) {
  auto hash = HashPassword("s3cret", HashCost::kMinimal);
  ASSERT_TRUE(hash);
  EXPECT_TRUE(hash->starts_with("$argon2id$"));
  EXPECT_EQ(hash->find("s3cret"), std::string::npos);
  EXPECT_TRUE(VerifyPassword("s3cret", *hash));
  EXPECT_FALSE(VerifyPassword("s3cret ", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
  EXPECT_FALSE(VerifyPassword("s3cret", "not a hash"));
  EXPECT_FALSE(VerifyPassword("s3cret", ""));
  EXPECT_NE(*hash, *HashPassword("s3cret", HashCost::kMinimal));  // salted
}

TEST(PasswordTest, InteractiveCostIsTheDefault) {
  auto hash = HashPassword("pw");
  ASSERT_TRUE(hash);
  EXPECT_NE(hash->find("m=65536,t=2"), std::string::npos) << *hash;
}

TEST(PasswordTest, GeneratedPasswordsAreRandomAndSafeInBasicCredentials) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto p = GeneratePassword();
    EXPECT_EQ(p.size(), 43u);
    EXPECT_EQ(p.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
              std::string::npos);
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 50u);
}

class KeysTest : public ::testing::Test {
 protected:
  cove::testing::TempDir dir_;
  ManualClock clock_;
  std::string keys_dir() const { return dir_.path() + "/keys/token-signing"; }
};

TEST_F(KeysTest, CreatesAPrivateKeyFileAndReloadsIt) {
  auto ring = KeyRing::Open(keys_dir(), clock_);
  ASSERT_TRUE(ring) << ring.error().ToString();
  auto keys = (*ring)->Keys();
  ASSERT_EQ(keys->keys.size(), 1u);
  std::string file = keys_dir() + "/" + keys->active().kid + ".pem";
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto again = KeyRing::Open(keys_dir(), clock_);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->Keys()->active().kid, keys->active().kid);
  EXPECT_EQ((*again)->Keys()->active().public_pem, keys->active().public_pem);
}

TEST_F(KeysTest, RotationSignsWithTheNewKeyAndRetiresTheOldOneAfterRetain) {
  KeyRingOptions options{std::chrono::hours(24 * 30), std::chrono::hours(3)};
  auto ring = *KeyRing::Open(keys_dir(), clock_, options);
  std::string old_kid = ring->Keys()->active().kid;
  json claims = {{"exp", UnixSeconds(clock_.Now()) + 7200}, {"aud", "a"}};
  auto old_token = *SignJwt(ring->Keys()->active(), claims);

  clock_.Advance(std::chrono::hours(24 * 30));  // due
  ASSERT_TRUE(ring->Maintain());
  auto keys = ring->Keys();
  ASSERT_EQ(keys->keys.size(), 2u);
  EXPECT_NE(keys->active().kid, old_kid);
  EXPECT_TRUE(keys->Find(old_kid));

  clock_.Advance(std::chrono::hours(3) + std::chrono::seconds(1));
  ASSERT_TRUE(ring->Maintain());
  EXPECT_EQ(ring->Keys()->keys.size(), 1u);
  EXPECT_FALSE(ring->Keys()->Find(old_kid));
  EXPECT_FALSE(fs::exists(keys_dir() + "/" + old_kid + ".pem"));
  VerifyOptions v{clock_.Now(), std::chrono::seconds(60), "a", ""};
  auto r = VerifyJwt(old_token, *ring->Keys(), v);
  ASSERT_FALSE(r);
}

TEST_F(KeysTest, RefusesAFileThatIsNotAP256Key) {
  fs::create_directories(keys_dir());
  { std::ofstream(keys_dir() + "/100-abcd.pem") << "garbage"; }
  auto ring = KeyRing::Open(keys_dir(), clock_);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, Code::kCorruption);
}

// Nodes sharing a key storage: a key made by one is known to the other after a reload, which a
// verifier asks for (ReloadSoon) when it meets a kid it does not know; a non-rotating node never
// rotates or retires keys itself.
TEST_F(KeysTest, NodesSharingAStorageSeeEachOthersKeys) {
  KeyRingOptions options{std::chrono::hours(24 * 30), std::chrono::hours(3)};
  auto owner = *KeyRing::Open(keys_dir(), clock_, options);
  auto other = *KeyRing::Open(keys_dir(), clock_, options);
  ASSERT_EQ(other->Keys()->active().kid, owner->Keys()->active().kid);

  clock_.Advance(std::chrono::hours(24 * 30));
  ASSERT_TRUE(owner->Maintain());
  std::string new_kid = owner->Keys()->active().kid;
  json claims = {{"exp", UnixSeconds(clock_.Now()) + 600}, {"aud", "a"}};
  auto token = *SignJwt(owner->Keys()->active(), claims);
  VerifyOptions v{clock_.Now(), std::chrono::seconds(60), "a", ""};
  EXPECT_FALSE(VerifyJwt(token, *other->Keys(), v));
  EXPECT_TRUE(other->Keys()->keys.size() == 1);

  ASSERT_TRUE(other->Maintain(/*rotate=*/false));
  EXPECT_EQ(other->Keys()->active().kid, new_kid);
  EXPECT_TRUE(VerifyJwt(token, *other->Keys(), v));

  clock_.Advance(std::chrono::hours(4));
  ASSERT_TRUE(other->Maintain(/*rotate=*/false));
  EXPECT_EQ(other->Keys()->keys.size(), 2u) << "a non-rotating node retired a key";
  ASSERT_TRUE(owner->Maintain());
  ASSERT_TRUE(other->Maintain(/*rotate=*/false));
  EXPECT_EQ(other->Keys()->keys.size(), 1u) << "the owner's retirement is not seen";
}

TEST_F(KeysTest, ReloadSoonRunsAtMostOnceASecond) {
  auto a = *KeyRing::Open(keys_dir(), clock_);
  auto b = *KeyRing::Open(keys_dir(), clock_);
  clock_.Advance(std::chrono::seconds(1));  // kids order by their second
  ASSERT_TRUE(a->Rotate());
  // b's Open reloaded just now: a reload within the second is skipped.
  EXPECT_FALSE(b->ReloadSoon());
  ASSERT_TRUE(b->Reload());
  EXPECT_EQ(b->Keys()->active().kid, a->Keys()->active().kid);
}

class JwtTest : public KeysTest {
 protected:
  void SetUp() override {
    ring_ = std::move(*KeyRing::Open(keys_dir(), clock_));
    now_ = UnixSeconds(clock_.Now());
  }
  VerifyOptions Options() const {
    return {clock_.Now(), std::chrono::seconds(60), "reg.azurecr.io", "iss"};
  }
  json Claims() const {
    return {{"aud", "reg.azurecr.io"},
            {"iss", "iss"},
            {"exp", now_ + 300},
            {"nbf", now_},
            {"sub", "principal:x"}};
  }
  std::string Sign(const json& claims) { return *SignJwt(ring_->Keys()->active(), claims); }
  // header.payload with a given signature.
  static std::string Assemble(const json& header, const json& payload, std::string_view sig) {
    return Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump()) + "." +
           std::string(sig);
  }

  std::unique_ptr<KeyRing> ring_;
  int64_t now_ = 0;
};

TEST_F(JwtTest, SignsStandardEs256ThatOpenSslVerifiesIndependently) {
  std::string token = Sign(Claims());
  auto decoded = DecodeJwtUnverified(token);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->first["alg"], "ES256");
  EXPECT_EQ(decoded->first["typ"], "JWT");
  EXPECT_EQ(decoded->first["kid"], ring_->Keys()->active().kid);

  // JOSE ES256: the signature is R||S, 32 bytes each, over "header.payload" with SHA-256.
  auto last_dot = token.rfind('.');
  auto sig = *Base64UrlDecode(token.substr(last_dot + 1));
  ASSERT_EQ(sig.size(), 64u);
  ECDSA_SIG* ecdsa = ECDSA_SIG_new();
  ECDSA_SIG_set0(ecdsa, BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(ecdsa, &der);
  const std::string& pem = ring_->Keys()->active().public_pem;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  std::string signed_part = token.substr(0, last_dot);
  EXPECT_EQ(EVP_DigestVerify(ctx, der, der_len,
                             reinterpret_cast<const unsigned char*>(signed_part.data()),
                             signed_part.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  BIO_free(bio);
  OPENSSL_free(der);
  ECDSA_SIG_free(ecdsa);

  auto claims = VerifyJwt(token, *ring_->Keys(), Options());
  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ((*claims)["sub"], "principal:x");
}

// cove signs and verifies ES256 itself with keys parsed once (libjwt 1.10 parses the PEM on
// every call, ≈ 0.8 ms); libjwt, Debian's maintained JWT library, checks that both directions
// interoperate.
TEST_F(JwtTest, InteroperatesWithLibjwtBothWays) {
  const SigningKey& key = ring_->Keys()->active();
  std::string ours = Sign(Claims());
  jwt_t* decoded = nullptr;
  ASSERT_EQ(jwt_decode(&decoded, ours.c_str(),
                       reinterpret_cast<const unsigned char*>(key.public_pem.data()),
                       static_cast<int>(key.public_pem.size())),
            0);
  EXPECT_EQ(jwt_get_alg(decoded), JWT_ALG_ES256);
  EXPECT_STREQ(jwt_get_grant(decoded, "sub"), "principal:x");
  EXPECT_STREQ(jwt_get_header(decoded, "kid"), key.kid.c_str());
  jwt_free(decoded);

  for (int i = 0; i < 20; ++i) {  // R or S with leading zero bytes come up now and then
    jwt_t* made = nullptr;
    ASSERT_EQ(jwt_new(&made), 0);
    auto claims = Claims();
    claims["n"] = i;
    ASSERT_EQ(jwt_add_grants_json(made, claims.dump().c_str()), 0);
    ASSERT_EQ(jwt_add_header(made, "kid", key.kid.c_str()), 0);
    ASSERT_EQ(jwt_set_alg(made, JWT_ALG_ES256,
                          reinterpret_cast<const unsigned char*>(key.private_pem.data()),
                          static_cast<int>(key.private_pem.size())),
              0);
    char* text = jwt_encode_str(made);
    ASSERT_NE(text, nullptr);
    auto verified = VerifyJwt(text, *ring_->Keys(), Options());
    ASSERT_TRUE(verified) << verified.error().ToString();
    EXPECT_EQ((*verified)["n"], i);
    free(text);
    jwt_free(made);
  }
}

TEST_F(JwtTest, RefusesExpiredEarlyAndMisaddressedTokens) {
  auto expired = Claims();
  expired["exp"] = now_;
  EXPECT_EQ(VerifyJwt(Sign(expired), *ring_->Keys(), Options()).error().message,
            "token has expired");
  auto early = Claims();
  early["nbf"] = now_ + 61;
  EXPECT_EQ(VerifyJwt(Sign(early), *ring_->Keys(), Options()).error().message,
            "token is not valid yet");
  auto skewed = Claims();
  skewed["nbf"] = now_ + 59;  // within the leeway
  EXPECT_TRUE(VerifyJwt(Sign(skewed), *ring_->Keys(), Options()));
  auto no_exp = Claims();
  no_exp.erase("exp");
  EXPECT_FALSE(VerifyJwt(Sign(no_exp), *ring_->Keys(), Options()));
  auto other_aud = Claims();
  other_aud["aud"] = "other.azurecr.io";
  EXPECT_EQ(VerifyJwt(Sign(other_aud), *ring_->Keys(), Options()).error().message,
            "token is for another audience");
  auto other_iss = Claims();
  other_iss["iss"] = "someone";
  EXPECT_FALSE(VerifyJwt(Sign(other_iss), *ring_->Keys(), Options()));
}

TEST_F(JwtTest, RefusesForgedTokens) {
  std::string good = Sign(Claims());
  auto [header, payload] = *DecodeJwtUnverified(good);
  std::string sig = good.substr(good.rfind('.') + 1);
  const auto& keys = *ring_->Keys();

  // Payload changed after signing (more access, another subject).
  auto more = payload;
  more["sub"] = "admin:reg";
  EXPECT_EQ(VerifyJwt(Assemble(header, more, sig), keys, Options()).error().message,
            "token signature is not valid");
  // A signature by a key we do not have, claiming our kid.
  auto stranger = *GenerateSigningKey(header["kid"], clock_.Now());
  EXPECT_FALSE(VerifyJwt(*SignJwt(stranger, Claims()), keys, Options()));
  // Unknown kid, and no kid.
  auto unknown = header;
  unknown["kid"] = "1-deadbeef";
  EXPECT_EQ(VerifyJwt(Assemble(unknown, payload, sig), keys, Options()).error().message,
            "token signing key is unknown or retired");
  auto no_kid = header;
  no_kid.erase("kid");
  EXPECT_FALSE(VerifyJwt(Assemble(no_kid, payload, sig), keys, Options()));
  // alg none, with and without a signature.
  auto none = header;
  none["alg"] = "none";
  EXPECT_EQ(VerifyJwt(Assemble(none, payload, ""), keys, Options()).error().message,
            "token algorithm must be ES256");
  EXPECT_FALSE(VerifyJwt(Assemble(none, payload, sig), keys, Options()));
  // Algorithm confusion: HS256 with the (public) verification key as the HMAC secret.
  auto hs = header;
  hs["alg"] = "HS256";
  std::string signing_input = Base64UrlEncode(hs.dump()) + "." + Base64UrlEncode(payload.dump());
  const std::string& pem = keys.active().public_pem;
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), pem.data(), static_cast<int>(pem.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  std::string forged = signing_input + "." +
                       Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
  EXPECT_EQ(VerifyJwt(forged, keys, Options()).error().message, "token algorithm must be ES256");
  // Not a JWT at all.
  for (const char* junk : {"", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.", "e30.e30.e30"}) {
    EXPECT_FALSE(VerifyJwt(junk, keys, Options())) << junk;
  }
}

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    auto back = Base64UrlDecode(Base64UrlEncode(bytes));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, bytes);
    bytes.push_back(static_cast<char>(i * 37));
  }
  EXPECT_FALSE(Base64UrlDecode("a"));
  EXPECT_FALSE(Base64UrlDecode("ab$c"));
}

}  // namespace
}  // namespace cove::auth
