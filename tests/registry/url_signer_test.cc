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
