#include "oci/reference.h"

#include <gtest/gtest.h>

#include <string>

namespace cove::oci {
namespace {

constexpr const char* kSha256 =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(RepositoryNameTest, AcceptsSpecNames) {
  for (const char* name :
       {"a", "0", "library/ubuntu", "my-org/my.app", "a__b", "a_b", "a.b", "a-b", "a--b",
        "a---------b", "a/b/c/d", "foo.bar_baz__qux--x/y0", "123/456", "a.b.c-d_e__f"}) {
    EXPECT_TRUE(IsValidRepositoryName(name)) << name;
  }
}

TEST(RepositoryNameTest, RejectsWhatTheRegexRejects) {
  for (const char* name :
       {"",    "A",     "library/Ubuntu", "-a",   ".a",   "_a",   "a-",   "a.",
        "a_",  "a___b", "a..b",           "a._b", "a-.b", "a_-b", "a//b", "a/",
        "/a",  "/",     "a/-b",           "a/b.", "a b",  "a:b",  "a@b",  "a\xc3\xa9",
        "a\n", "a%2fb"}) {
    EXPECT_FALSE(IsValidRepositoryName(name)) << name;
  }
}

TEST(RepositoryNameTest, LengthLimitIs255) {
  EXPECT_TRUE(IsValidRepositoryName(std::string(255, 'a')));
  EXPECT_FALSE(IsValidRepositoryName(std::string(256, 'a')));
  // 255 with slashes counted.
  std::string name;
  while (name.size() + 2 <= 255) name += "a/";
  name += "a";
  ASSERT_EQ(name.size(), 255u);
  // 128 components exceed the component limit even within 255 characters.
  EXPECT_FALSE(IsValidRepositoryName(name));
}

TEST(RepositoryNameTest, ComponentLimitIs64) {
  std::string name = "a";
  for (int i = 1; i < 64; ++i) name += "/a";
  EXPECT_TRUE(IsValidRepositoryName(name));
  name += "/a";
  EXPECT_FALSE(IsValidRepositoryName(name));
}

TEST(RepositoryNameTest, LongHostileInputIsLinear) {
  // A regex engine with backtracking can take exponential time on this; the scanner is one pass.
  std::string name(250, 'a');
  name += "-----";
  EXPECT_FALSE(IsValidRepositoryName(name));
  EXPECT_FALSE(IsValidRepositoryName(std::string(1 << 20, 'a')));
}

TEST(TagTest, AcceptsSpecTags) {
  for (const char* tag : {"latest", "v1.0.0", "_", "_private", "A", "1", "a-b_c.d", "x.", "x-"}) {
    EXPECT_TRUE(IsValidTag(tag)) << tag;
  }
  EXPECT_TRUE(IsValidTag(std::string(128, 'a')));
  EXPECT_TRUE(IsValidTag("_" + std::string(127, '.')));
}

TEST(TagTest, Rejects) {
  for (const char* tag : {"", ".hidden", "-dash", "a/b", "a:b", "a@b", "a b", "a+b", "\xc3\xa9"}) {
    EXPECT_FALSE(IsValidTag(tag)) << tag;
  }
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
}

TEST(ReferenceTest, ParsesTag) {
  auto r = ParseReference("v1.2");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_FALSE(r->is_digest());
  EXPECT_EQ(r->tag(), "v1.2");
  EXPECT_EQ(r->str(), "v1.2");
}

TEST(ReferenceTest, ParsesDigest) {
  auto r = ParseReference(kSha256);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_TRUE(r->is_digest());
  EXPECT_EQ(r->digest().algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(r->str(), kSha256);
}

TEST(ReferenceTest, RejectsBadDigestsAndTags) {
  for (const char* bad :
       {"sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", ":", "latest:", ".tag", "",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}) {
    auto r = ParseReference(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_FALSE(r.error().message.empty());
  }
  EXPECT_NE(ParseReference("sha256:abc").error().message.find("digest"), std::string::npos);
  EXPECT_NE(ParseReference(".tag").error().message.find("tag"), std::string::npos);
  EXPECT_FALSE(ParseReference(std::string(129, 'a')));
}

}  // namespace
}  // namespace cove::oci
