#include "registry/url_signer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace cove::registry {
namespace {

std::pair<std::string, std::string> Split(const std::string& query) {
  auto amp = query.find('&');
  return {query.substr(3, amp - 3), query.substr(amp + 5)};
}

TEST(UrlSignerTest, SignedUrlVerifiesOnlyForItsClaims) {
  ManualClock clock;
  UrlSigner signer(std::string(32, 's'), clock);
  BlobUrlClaims claims{"myregistry", "app", "sha256:00", "westus"};
  auto [se, sig] = Split(signer.Sign(claims));
  EXPECT_TRUE(signer.Verify(claims, se, sig));
  for (auto other : {BlobUrlClaims{"otherreg", "app", "sha256:00", "westus"},
                     BlobUrlClaims{"myregistry", "ap", "sha256:00", "westus"},
                     BlobUrlClaims{"myregistry", "app", "sha256:01", "westus"},
                     BlobUrlClaims{"myregistry", "app", "sha256:00", "eastus"}}) {
    EXPECT_FALSE(signer.Verify(other, se, sig));
  }
  // Changing the expiry breaks the signature.
  EXPECT_FALSE(signer.Verify(claims, std::to_string(std::stoll(se) + 1), sig));
  // Another key does not verify it.
  UrlSigner other(std::string(32, 't'), clock);
  EXPECT_FALSE(other.Verify(claims, se, sig));
  EXPECT_FALSE(signer.Verify(claims, "", sig));
  EXPECT_FALSE(signer.Verify(claims, se, ""));
  EXPECT_FALSE(signer.Verify(claims, "12x", sig));
}

// Rotation: the newest key signs, older ones still verify until they are dropped; a signature
// no key matches asks the reload hook once (another node's new key).
TEST(UrlSignerTest, NewestKeySignsEveryKeyVerifies) {
  ManualClock clock;
  BlobUrlClaims claims{"myregistry", "app", "sha256:00", "westus"};
  UrlSigner before(std::string(32, 'a'), clock);
  auto [old_se, old_sig] = Split(before.Sign(claims));

  UrlSigner signer(std::vector<std::string>{std::string(32, 'a'), std::string(32, 'b')}, clock);
  EXPECT_TRUE(signer.Verify(claims, old_se, old_sig)) << "a URL signed before the rotation";
  auto [se, sig] = Split(signer.Sign(claims));
  EXPECT_NE(sig, old_sig);
  EXPECT_TRUE(UrlSigner(std::string(32, 'b'), clock).Verify(claims, se, sig));

  signer.SetKeys({std::string(32, 'b')});  // the old key dropped
  EXPECT_FALSE(signer.Verify(claims, old_se, old_sig));

  int asked = 0;
  UrlSigner stale(std::string(32, 'a'), clock);
  stale.SetReload([&] {
    ++asked;
    stale.SetKeys({std::string(32, 'a'), std::string(32, 'b')});
    return true;
  });
  EXPECT_TRUE(stale.Verify(claims, se, sig)) << "another node's newer key, after a reload";
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(stale.Verify(claims, se, sig));
  EXPECT_EQ(asked, 1) << "no reload when a key matches";
}

TEST(UrlSignerTest, ValidTwentyMinutes) {
  ManualClock clock;
  UrlSigner signer(std::string(32, 's'), clock);
  BlobUrlClaims claims{"myregistry", "app", "sha256:00", "westus"};
  auto [se, sig] = Split(signer.Sign(claims));
  EXPECT_EQ(std::stoll(se), UnixSeconds(clock.Now()) + 20 * 60);
  clock.Advance(std::chrono::minutes(20));
  EXPECT_TRUE(signer.Verify(claims, se, sig));
  clock.Advance(std::chrono::seconds(1));
  auto expired = signer.Verify(claims, se, sig);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, Code::kPermissionDenied);
}

TEST(UrlSignerTest, KeyIsCreatedOnceWithMode0600) {
  auto path = std::filesystem::temp_directory_path() /
              ("cove-signer-" + std::to_string(::getpid()) + ".key");
  std::filesystem::remove(path);
  auto k1 = UrlSigner::LoadOrCreateKey(path.string());
  ASSERT_TRUE(k1);
  EXPECT_EQ(k1->size(), 32u);
  auto k2 = UrlSigner::LoadOrCreateKey(path.string());
  ASSERT_TRUE(k2);
  EXPECT_EQ(*k1, *k2);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cove::registry
