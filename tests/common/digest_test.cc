#include "common/digest.h"

#include <gtest/gtest.h>

namespace cove {
namespace {

TEST(DigestTest, OfKnownVectors) {
  EXPECT_EQ(Digest::Of("").str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Digest::Of("abc", DigestAlgorithm::kSha512).hex().substr(0, 16), "ddaf35a193617aba");
}

TEST(DigestTest, StreamingEqualsOneShot) {
  Hasher h;
  h.Update("hello ");
  h.Update("world");
  EXPECT_EQ(h.Finish(), Digest::Of("hello world"));
}

TEST(DigestTest, ParseRoundTrip) {
  auto d = Digest::Parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->str(), Digest::Of("").str());
}

TEST(DigestTest, ParseRejects) {
  for (const char* bad : {"", "sha256", "sha256:", "md5:abcd", "sha256:E3B0",
                          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
                          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855x",
                          "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}) {
    auto d = Digest::Parse(bad);
    EXPECT_FALSE(d) << bad;
    if (!d) {
      EXPECT_EQ(d.error().code, Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace cove
