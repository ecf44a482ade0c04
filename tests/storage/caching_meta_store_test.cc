// CachingMetaStore: a node reads its own writes, and another node's writes are seen once their
// invalidation arrives. (The conformance suite runs through it in sqlite_meta_store_test.cc,
// which owns the suite's one inclusion in this binary.)
#include "storage/caching_meta_store.h"

#include <gtest/gtest.h>

#include "storage/sqlite_meta_store.h"
#include "storage/test_util.h"
#include "support/temp_dir.h"

namespace cove::storage {
namespace {

using ::cove::testing::TempDir;

MetaStorePtr OpenFile(const std::string& path) {
  auto opened = SqliteMetaStore::Open(path);
  EXPECT_TRUE(opened) << opened.error().ToString();
  return opened ? std::move(*opened) : nullptr;
}

ManifestRecord Manifest(const std::string& body) {
  ManifestRecord m;
  m.bytes = body;
  m.digest = Digest::Of(body);
  m.media_type = "application/vnd.oci.image.manifest.v1+json";
  return m;
}

// Two registry nodes over one database file: each with its own cache.
class TwoNodesTest : public ::testing::Test {
 protected:
  TempDir dir_;
  CachingMetaStore a_{OpenFile(dir_.Join("meta.db"))};
  CachingMetaStore b_{OpenFile(dir_.Join("meta.db"))};
  RepoKey repo_{"myregistry", "app"};
};

TEST_F(TwoNodesTest, ServesRepeatedReadsFromMemory) {
  auto m = Manifest("{\"v\":1}");
  COVE_ASSERT_OK(a_.PutManifest(repo_, m, "v1"));
  for (int i = 0; i < 3; ++i) {
    auto d = a_.ResolveTag(repo_, "v1");
    COVE_ASSERT_OK(d);
    auto content = a_.GetManifestContent(repo_, *d);
    COVE_ASSERT_OK(content);
    EXPECT_EQ(content->bytes, m.bytes);
  }
  auto stats = a_.Stats();
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.hits, 4u);
  EXPECT_EQ(stats.entries, 2u);
}

TEST_F(TwoNodesTest, MissesAreNotCached) {
  COVE_EXPECT_CODE(a_.ResolveTag(repo_, "v1"), Code::kNotFound);
  COVE_ASSERT_OK(b_.PutManifest(repo_, Manifest("{}"), "v1"));
  COVE_EXPECT_OK(a_.ResolveTag(repo_, "v1"));  // no invalidation needed for a new tag
}

TEST_F(TwoNodesTest, ANodeReadsItsOwnWrites) {
  auto m1 = Manifest("{\"v\":1}"), m2 = Manifest("{\"v\":2}");
  COVE_ASSERT_OK(a_.PutManifest(repo_, m1, "v"));
  EXPECT_EQ(*a_.ResolveTag(repo_, "v"), m1.digest);
  COVE_ASSERT_OK(a_.PutManifest(repo_, m2, "v"));
  EXPECT_EQ(*a_.ResolveTag(repo_, "v"), m2.digest);
  COVE_ASSERT_OK(a_.DeleteTag(repo_, "v"));
  COVE_EXPECT_CODE(a_.ResolveTag(repo_, "v"), Code::kNotFound);
  COVE_ASSERT_OK(a_.GetManifestContent(repo_, m1.digest));
  COVE_ASSERT_OK(a_.DeleteManifest(repo_, m1.digest));
  COVE_EXPECT_CODE(a_.GetManifestContent(repo_, m1.digest), Code::kNotFound);
}

TEST_F(TwoNodesTest, AnotherNodesWriteIsSeenAfterItsInvalidation) {
  auto m1 = Manifest("{\"v\":1}"), m2 = Manifest("{\"v\":2}");
  COVE_ASSERT_OK(a_.PutManifest(repo_, m1, "v"));
  EXPECT_EQ(*a_.ResolveTag(repo_, "v"), m1.digest);
  COVE_ASSERT_OK(b_.PutManifest(repo_, m2, "v"));
  EXPECT_EQ(*a_.ResolveTag(repo_, "v"), m1.digest) << "cached until the change feed says";
  a_.Invalidate("myregistry", "app");
  EXPECT_EQ(*a_.ResolveTag(repo_, "v"), m2.digest);

  // Only the named repository is dropped; "" drops the registry.
  RepoKey other{"myregistry", "other"};
  COVE_ASSERT_OK(a_.PutManifest(other, m1, "v"));
  COVE_ASSERT_OK(a_.ResolveTag(other, "v"));
  a_.Invalidate("myregistry", "app");
  uint64_t hits = a_.Stats().hits;
  COVE_ASSERT_OK(a_.ResolveTag(other, "v"));
  EXPECT_EQ(a_.Stats().hits, hits + 1);
  a_.Invalidate("myregistry", "");
  COVE_ASSERT_OK(a_.ResolveTag(other, "v"));
  EXPECT_EQ(a_.Stats().hits, hits + 1);
}

TEST_F(TwoNodesTest, DisabledCacheReadsTheEngineEveryTime) {
  auto m1 = Manifest("{\"v\":1}"), m2 = Manifest("{\"v\":2}");
  COVE_ASSERT_OK(a_.PutManifest(repo_, m1, "v"));
  COVE_ASSERT_OK(a_.ResolveTag(repo_, "v"));
  a_.SetEnabled(false);
  COVE_ASSERT_OK(b_.PutManifest(repo_, m2, "v"));
  EXPECT_EQ(*a_.ResolveTag(repo_, "v"), m2.digest);
  EXPECT_EQ(a_.Stats().entries, 0u);
  a_.SetEnabled(true);
  EXPECT_EQ(*a_.ResolveTag(repo_, "v"), m2.digest);
  EXPECT_EQ(a_.Stats().entries, 1u);
}

TEST(CachingMetaStoreTest, StaysWithinItsByteBudget) {
  TempDir dir;
  CachingMetaStore cache(OpenFile(dir.Join("meta.db")), 64 * 1024);
  RepoKey repo{"r", "x"};
  for (int i = 0; i < 100; ++i) {
    auto m = Manifest("{\"pad\":\"" + std::string(4000, 'a') + std::to_string(i) + "\"}");
    COVE_ASSERT_OK(cache.PutManifest(repo, m, std::nullopt));
    COVE_ASSERT_OK(cache.GetManifestContent(repo, m.digest));
  }
  EXPECT_LE(cache.Stats().bytes, 64u * 1024);
  EXPECT_GT(cache.Stats().entries, 5u);
}

}  // namespace
}  // namespace cove::storage
