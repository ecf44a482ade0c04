// MetaStoreConformance: the behaviour every MetaStore implementation must have.
//
// An implementation's test file includes this header once, defines a MetaStoreHarness and
// instantiates the suite, e.g.
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreConformance,
//                            ::testing::Values(MetaStoreImpl{"Memory", MakeMemory},
//                                              MetaStoreImpl{"File", MakeFile}),
//                            MetaStoreImplName);
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "storage/meta_store.h"
#include "storage/test_util.h"

namespace cove::storage::testing {

class MetaStoreHarness {
 public:
  virtual ~MetaStoreHarness() = default;
  virtual MetaStore& store() = 0;
  // Whether Restart() keeps the data (false for purely in-memory stores).
  virtual bool Persistent() const = 0;
  // Drops the store object and opens a new one on the same data (a process restart).
  virtual void Restart() = 0;
};

struct MetaStoreImpl {
  std::string name;
  std::function<std::unique_ptr<MetaStoreHarness>()> make;
  // A store whose review queues are stamped by `clock`, which outlives the harness; required by
  // MetaStoreGcConformance (meta_store_gc_conformance.h), unused here.
  std::function<std::unique_ptr<MetaStoreHarness>(const Clock& clock)> make_with_clock = {};
};

// gtest prints the parameter by name.
inline void PrintTo(const MetaStoreImpl& impl, std::ostream* os) { *os << impl.name; }

inline std::string MetaStoreImplName(const ::testing::TestParamInfo<MetaStoreImpl>& info) {
  return info.param.name;
}

class MetaStoreConformance : public ::testing::TestWithParam<MetaStoreImpl> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_NE(harness_, nullptr);
  }
  MetaStore& store() { return harness_->store(); }

  static Digest D(const std::string& seed) { return Digest::Of(seed); }

  // A manifest whose bytes are `seed`, referencing the given blobs.
  ManifestRecord Manifest(const std::string& seed, std::vector<Digest> blobs = {}) {
    ManifestRecord m;
    m.bytes = "{\"seed\":\"" + seed + "\"}";
    m.digest = Digest::Of(m.bytes);
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.blobs = std::move(blobs);
    m.created = clock_.Now();
    return m;
  }

  ManualClock clock_;
  std::unique_ptr<MetaStoreHarness> harness_;
  const RepoKey repo_{"reg1", "team/app"};
};

// ---- blob links ----

TEST_P(MetaStoreConformance, LinkUnlinkBlob) {
  Digest d = D("layer");
  COVE_EXPECT_CODE(store().LinkedBlob(repo_, d), Code::kNotFound);
  COVE_ASSERT_OK(store().LinkBlob(repo_, d, 42));
  COVE_ASSERT_OK(store().LinkBlob(repo_, d, 42));  // idempotent
  EXPECT_EQ(*store().LinkedBlob(repo_, d), 42u);
  // Other repositories and registries do not see it.
  COVE_EXPECT_CODE(store().LinkedBlob({"reg1", "team/other"}, d), Code::kNotFound);
  COVE_EXPECT_CODE(store().LinkedBlob({"reg2", "team/app"}, d), Code::kNotFound);
  COVE_ASSERT_OK(store().UnlinkBlob(repo_, d));
  COVE_EXPECT_CODE(store().LinkedBlob(repo_, d), Code::kNotFound);
  COVE_EXPECT_CODE(store().UnlinkBlob(repo_, d), Code::kNotFound);
}

TEST_P(MetaStoreConformance, LargeSizes) {
  uint64_t big = uint64_t{1} << 40;
  COVE_ASSERT_OK(store().LinkBlob(repo_, D("big"), big));
  EXPECT_EQ(*store().LinkedBlob(repo_, D("big")), big);
}

TEST_P(MetaStoreConformance, BlobReferencedByLinksAndManifests) {
  Digest linked = D("linked"), config = D("config"), layer = D("layer");
  EXPECT_FALSE(*store().BlobReferenced(linked));
  COVE_ASSERT_OK(store().LinkBlob({"reg2", "x"}, linked, 1));
  EXPECT_TRUE(*store().BlobReferenced(linked));
  COVE_ASSERT_OK(store().UnlinkBlob({"reg2", "x"}, linked));
  EXPECT_FALSE(*store().BlobReferenced(linked));

  ManifestRecord m = Manifest("m", {config, layer});
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::nullopt));
  EXPECT_TRUE(*store().BlobReferenced(config));
  EXPECT_TRUE(*store().BlobReferenced(layer));
  EXPECT_TRUE(*store().BlobReferenced(m.digest));
  COVE_ASSERT_OK(store().DeleteManifest(repo_, m.digest));
  EXPECT_FALSE(*store().BlobReferenced(config));
  EXPECT_FALSE(*store().BlobReferenced(layer));
  EXPECT_FALSE(*store().BlobReferenced(m.digest));
}

// ---- manifests and tags ----

TEST_P(MetaStoreConformance, PutGetManifestRoundTrip) {
  ManifestRecord m = Manifest("full", {D("config"), D("layer"), D("layer")});
  m.bytes += std::string("\0\x01\xff", 3);  // arbitrary bytes survive
  m.digest = Digest::Of(m.bytes);
  m.media_type = "application/vnd.oci.image.index.v1+json";
  m.artifact_type = "application/vnd.example.sbom";
  m.subject = D("subject");
  m.annotations_json = R"({"org.opencontainers.image.created":"2024-01-01T00:00:00Z"})";
  m.manifests = {D("child-b"), D("child-a")};
  m.created = clock_.Now() + std::chrono::nanoseconds(123'456'789);
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("v1")));

  auto got = store().GetManifest(repo_, m.digest);
  COVE_ASSERT_OK(got);
  EXPECT_EQ(got->digest, m.digest);
  EXPECT_EQ(got->media_type, m.media_type);
  EXPECT_EQ(got->bytes, m.bytes);
  EXPECT_EQ(got->artifact_type, m.artifact_type);
  EXPECT_EQ(got->subject, m.subject);
  EXPECT_EQ(got->annotations_json, m.annotations_json);
  EXPECT_EQ(got->blobs, m.blobs);          // order and duplicates kept
  EXPECT_EQ(got->manifests, m.manifests);  // order kept
  EXPECT_EQ(got->created, m.created);
  EXPECT_EQ(*store().ResolveTag(repo_, "v1"), m.digest);
  auto content = store().GetManifestContent(repo_, m.digest);
  COVE_ASSERT_OK(content);
  EXPECT_EQ(content->media_type, m.media_type);
  EXPECT_EQ(content->bytes, m.bytes);

  ManifestRecord plain = Manifest("plain");
  COVE_ASSERT_OK(store().PutManifest(repo_, plain, std::nullopt));
  got = store().GetManifest(repo_, plain.digest);
  COVE_ASSERT_OK(got);
  EXPECT_FALSE(got->subject.has_value());
  EXPECT_TRUE(got->blobs.empty());
  EXPECT_EQ(got->annotations_json, "");
}

TEST_P(MetaStoreConformance, ManifestMissing) {
  COVE_EXPECT_CODE(store().GetManifest(repo_, D("none")), Code::kNotFound);
  COVE_EXPECT_CODE(store().GetManifestContent(repo_, D("none")), Code::kNotFound);
  COVE_EXPECT_CODE(store().ResolveTag(repo_, "latest"), Code::kNotFound);
  COVE_EXPECT_CODE(store().DeleteManifest(repo_, D("none")), Code::kNotFound);
  COVE_EXPECT_CODE(store().DeleteTag(repo_, "latest"), Code::kNotFound);
  ManifestRecord m = Manifest("elsewhere");
  COVE_ASSERT_OK(store().PutManifest({"reg1", "other"}, m, std::string("latest")));
  COVE_EXPECT_CODE(store().GetManifest(repo_, m.digest), Code::kNotFound);
  COVE_EXPECT_CODE(store().ResolveTag(repo_, "latest"), Code::kNotFound);
  COVE_EXPECT_CODE(store().GetManifest({"reg2", "other"}, m.digest), Code::kNotFound);
}

TEST_P(MetaStoreConformance, RePutSameDigestOnlyMovesTags) {
  ManifestRecord m = Manifest("again", {D("l1")});
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("a")));
  ManifestRecord again = m;
  again.media_type = "something/else";
  again.blobs = {D("l2")};
  COVE_ASSERT_OK(store().PutManifest(repo_, again, std::string("b")));
  COVE_ASSERT_OK(store().PutManifest(repo_, again, std::nullopt));
  auto got = store().GetManifest(repo_, m.digest);
  COVE_ASSERT_OK(got);
  EXPECT_EQ(got->media_type, m.media_type);
  EXPECT_EQ(got->blobs, m.blobs);
  EXPECT_EQ(*store().ResolveTag(repo_, "a"), m.digest);
  EXPECT_EQ(*store().ResolveTag(repo_, "b"), m.digest);
  EXPECT_EQ(*store().ListTags(repo_, {}), (std::vector<std::string>{"a", "b"}));
}

TEST_P(MetaStoreConformance, TagMoves) {
  ManifestRecord one = Manifest("one"), two = Manifest("two");
  COVE_ASSERT_OK(store().PutManifest(repo_, one, std::string("latest")));
  COVE_ASSERT_OK(store().PutManifest(repo_, two, std::string("latest")));
  EXPECT_EQ(*store().ResolveTag(repo_, "latest"), two.digest);
  COVE_EXPECT_OK(store().GetManifest(repo_, one.digest));  // the old one stays, untagged
  EXPECT_EQ(*store().ListTags(repo_, {}), std::vector<std::string>{"latest"});
}

TEST_P(MetaStoreConformance, DeleteManifestCascades) {
  ManifestRecord m = Manifest("doomed", {D("cfg")});
  ManifestRecord keep = Manifest("keep");
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("t1")));
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("t2")));
  COVE_ASSERT_OK(store().PutManifest(repo_, keep, std::string("t3")));
  COVE_ASSERT_OK(store().DeleteManifest(repo_, m.digest));
  COVE_EXPECT_CODE(store().GetManifest(repo_, m.digest), Code::kNotFound);
  COVE_EXPECT_CODE(store().ResolveTag(repo_, "t1"), Code::kNotFound);
  COVE_EXPECT_CODE(store().ResolveTag(repo_, "t2"), Code::kNotFound);
  EXPECT_EQ(*store().ResolveTag(repo_, "t3"), keep.digest);
  EXPECT_FALSE(*store().BlobReferenced(D("cfg")));
  COVE_EXPECT_CODE(store().DeleteManifest(repo_, m.digest), Code::kNotFound);
  // It can be pushed again, with its references.
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::nullopt));
  EXPECT_EQ(store().GetManifest(repo_, m.digest)->blobs, m.blobs);
}

TEST_P(MetaStoreConformance, DeleteTagKeepsManifest) {
  ManifestRecord m = Manifest("tagged");
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("v1")));
  COVE_ASSERT_OK(store().DeleteTag(repo_, "v1"));
  COVE_EXPECT_CODE(store().ResolveTag(repo_, "v1"), Code::kNotFound);
  COVE_EXPECT_CODE(store().DeleteTag(repo_, "v1"), Code::kNotFound);
  COVE_EXPECT_OK(store().GetManifest(repo_, m.digest));
}

TEST_P(MetaStoreConformance, ListTagsOrderAndPaging) {
  // Byte-wise: uppercase before lowercase, '-' (0x2d) < '.' (0x2e) < '_' (0x5f).
  std::vector<std::string> sorted = {"V1", "latest", "v1", "v1-rc", "v1.0", "v1_0"};
  ManifestRecord m = Manifest("tags");
  for (const char* tag : {"v1_0", "latest", "v1.0", "V1", "v1-rc", "v1"}) {
    COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string(tag)));
  }
  EXPECT_EQ(*store().ListTags(repo_, {}), sorted);
  EXPECT_EQ(*store().ListTags(repo_, {"", 1}), std::vector<std::string>{"V1"});
  EXPECT_EQ(*store().ListTags(repo_, {"V1", 2}), (std::vector<std::string>{"latest", "v1"}));
  EXPECT_EQ(*store().ListTags(repo_, {"v1", std::nullopt}),
            (std::vector<std::string>{"v1-rc", "v1.0", "v1_0"}));
  EXPECT_EQ(*store().ListTags(repo_, {"v1-", std::nullopt}),  // `last` need not be a tag
            (std::vector<std::string>{"v1-rc", "v1.0", "v1_0"}));
  EXPECT_TRUE(store().ListTags(repo_, {"", 0})->empty());
  EXPECT_TRUE(store().ListTags(repo_, {"v1_0", 10})->empty());
  EXPECT_TRUE(store().ListTags(repo_, {"zzz", std::nullopt})->empty());
  EXPECT_EQ(*store().ListTags(repo_, {"", 100}), sorted);
}

TEST_P(MetaStoreConformance, ListTagsOfMissingRepository) {
  COVE_EXPECT_CODE(store().ListTags(repo_, {}), Code::kNotFound);
  // A repository with only a blob, or only untagged manifests, exists and has no tags.
  COVE_ASSERT_OK(store().LinkBlob(repo_, D("b"), 1));
  auto tags = store().ListTags(repo_, {});
  COVE_ASSERT_OK(tags);
  EXPECT_TRUE(tags->empty());
  RepoKey other{"reg1", "untagged"};
  COVE_ASSERT_OK(store().PutManifest(other, Manifest("u"), std::nullopt));
  COVE_EXPECT_OK(store().ListTags(other, {}));
  COVE_EXPECT_CODE(store().ListTags({"reg2", "untagged"}, {}), Code::kNotFound);
}

TEST_P(MetaStoreConformance, ListRepositoriesOrderPagingAndIsolation) {
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "a_b"}, D("1"), 1));
  COVE_ASSERT_OK(store().PutManifest({"reg1", "a/b"}, Manifest("2"), std::nullopt));
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "a-b"}, D("3"), 1));
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "A"}, D("4"), 1));
  // Both a link and a manifest in one repository: listed once.
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "a/b"}, D("5"), 1));
  COVE_ASSERT_OK(store().LinkBlob({"reg2", "only-in-reg2"}, D("6"), 1));

  std::vector<std::string> sorted = {"A", "a-b", "a/b", "a_b"};
  EXPECT_EQ(*store().ListRepositories("reg1", {}), sorted);
  EXPECT_EQ(*store().ListRepositories("reg1", {"", 1}), std::vector<std::string>{"A"});
  EXPECT_EQ(*store().ListRepositories("reg1", {"a-b", 1}), std::vector<std::string>{"a/b"});
  EXPECT_EQ(*store().ListRepositories("reg1", {"a-b", std::nullopt}),
            (std::vector<std::string>{"a/b", "a_b"}));
  EXPECT_TRUE(store().ListRepositories("reg1", {"", 0})->empty());
  EXPECT_TRUE(store().ListRepositories("reg1", {"a_b", 5})->empty());
  EXPECT_TRUE(store().ListRepositories("reg1", {"zz", std::nullopt})->empty());
  EXPECT_EQ(*store().ListRepositories("reg2", {}), std::vector<std::string>{"only-in-reg2"});
  EXPECT_TRUE(store().ListRepositories("reg3", {})->empty());

  // A repository disappears with its last link and manifest.
  COVE_ASSERT_OK(store().UnlinkBlob({"reg1", "A"}, D("4")));
  COVE_ASSERT_OK(store().UnlinkBlob({"reg1", "a/b"}, D("5")));
  EXPECT_EQ(*store().ListRepositories("reg1", {}), (std::vector<std::string>{"a-b", "a/b", "a_b"}));
  COVE_ASSERT_OK(store().DeleteManifest({"reg1", "a/b"}, Manifest("2").digest));
  EXPECT_EQ(*store().ListRepositories("reg1", {}), (std::vector<std::string>{"a-b", "a_b"}));
}

TEST_P(MetaStoreConformance, DeleteRegistryTakesAllOfItsContentAndNothingElse) {
  ManifestRecord m = Manifest("m", {D("layer")});
  for (const char* registry : {"reg1", "reg2"}) {
    COVE_ASSERT_OK(store().LinkBlob({registry, "app"}, D("layer"), 5));
    COVE_ASSERT_OK(store().PutManifest({registry, "app"}, m, "v1"));
    COVE_ASSERT_OK(store().LinkBlob({registry, "other"}, D("x"), 1));
    COVE_ASSERT_OK(store().CreateUpload({std::string("up-") + registry, {registry, "app"}, 0,
                                         clock_.Now()}));
  }
  COVE_ASSERT_OK(store().DeleteRegistry("reg1"));
  EXPECT_TRUE(store().ListRepositories("reg1", {})->empty());
  COVE_EXPECT_CODE(store().ResolveTag({"reg1", "app"}, "v1"), Code::kNotFound);
  COVE_EXPECT_CODE(store().GetManifest({"reg1", "app"}, m.digest), Code::kNotFound);
  COVE_EXPECT_CODE(store().LinkedBlob({"reg1", "app"}, D("layer")), Code::kNotFound);
  COVE_EXPECT_CODE(store().GetUpload("up-reg1"), Code::kNotFound);
  // The other registry keeps everything.
  EXPECT_EQ(*store().ListRepositories("reg2", {}), (std::vector<std::string>{"app", "other"}));
  EXPECT_EQ(*store().ResolveTag({"reg2", "app"}, "v1"), m.digest);
  COVE_ASSERT_OK(store().GetUpload("up-reg2"));
  EXPECT_TRUE(*store().BlobReferenced(D("layer")));
  // Nothing to delete is fine.
  COVE_ASSERT_OK(store().DeleteRegistry("reg1"));
  COVE_ASSERT_OK(store().DeleteRegistry("reg3"));
}

TEST_P(MetaStoreConformance, ListReferrers) {
  Digest subject = D("subject image");
  ManifestRecord sig = Manifest("signature");
  sig.subject = subject;
  sig.artifact_type = "application/vnd.example.signature";
  sig.annotations_json = R"({"k":"v"})";
  ManifestRecord sbom = Manifest("sbom");
  sbom.subject = subject;
  sbom.artifact_type = "application/vnd.example.sbom";
  ManifestRecord sbom2 = Manifest("sbom two");
  sbom2.subject = subject;
  sbom2.artifact_type = "application/vnd.example.sbom";
  ManifestRecord unrelated = Manifest("unrelated");
  unrelated.subject = D("another subject");
  unrelated.artifact_type = "application/vnd.example.sbom";
  for (const auto* m : {&sig, &sbom, &sbom2, &unrelated}) {
    COVE_ASSERT_OK(store().PutManifest(repo_, *m, std::nullopt));
  }
  ManifestRecord elsewhere = Manifest("elsewhere");
  elsewhere.subject = subject;
  COVE_ASSERT_OK(store().PutManifest({"reg1", "other"}, elsewhere, std::nullopt));

  auto all = store().ListReferrers(repo_, subject, std::nullopt);
  COVE_ASSERT_OK(all);
  std::vector<Digest> expected = {sig.digest, sbom.digest, sbom2.digest};
  std::sort(expected.begin(), expected.end(),
            [](const Digest& a, const Digest& b) { return a.str() < b.str(); });
  ASSERT_EQ(all->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*all)[i].digest, expected[i]);
  for (const Referrer& r : *all) {
    if (r.digest == sig.digest) {
      EXPECT_EQ(r.size, sig.bytes.size());
      EXPECT_EQ(r.media_type, sig.media_type);
      EXPECT_EQ(r.artifact_type, sig.artifact_type);
      EXPECT_EQ(r.annotations_json, sig.annotations_json);
    }
  }

  auto sboms = store().ListReferrers(repo_, subject, std::string("application/vnd.example.sbom"));
  COVE_ASSERT_OK(sboms);
  ASSERT_EQ(sboms->size(), 2u);
  EXPECT_EQ((*sboms)[0].artifact_type, "application/vnd.example.sbom");
  EXPECT_EQ((*sboms)[1].artifact_type, "application/vnd.example.sbom");
  EXPECT_LT((*sboms)[0].digest.str(), (*sboms)[1].digest.str());

  EXPECT_TRUE(store().ListReferrers(repo_, subject, std::string("application/none"))->empty());
  EXPECT_TRUE(store().ListReferrers(repo_, D("no referrers"), std::nullopt)->empty());
  COVE_ASSERT_OK(store().DeleteManifest(repo_, sig.digest));
  EXPECT_EQ(store().ListReferrers(repo_, subject, std::nullopt)->size(), 2u);
}

// ---- uploads ----

TEST_P(MetaStoreConformance, UploadLifecycle) {
  UploadRecord u{"upload-1", repo_, 0, clock_.Now()};
  COVE_EXPECT_CODE(store().GetUpload("upload-1"), Code::kNotFound);
  COVE_ASSERT_OK(store().CreateUpload(u));
  COVE_EXPECT_CODE(store().CreateUpload(u), Code::kAlreadyExists);
  auto got = store().GetUpload("upload-1");
  COVE_ASSERT_OK(got);
  EXPECT_EQ(got->id, "upload-1");
  EXPECT_EQ(got->repo.registry, repo_.registry);
  EXPECT_EQ(got->repo.repository, repo_.repository);
  EXPECT_EQ(got->acknowledged, 0u);
  EXPECT_EQ(got->started, u.started);
  COVE_ASSERT_OK(store().SetUploadAcknowledged("upload-1", 1234));
  EXPECT_EQ(store().GetUpload("upload-1")->acknowledged, 1234u);
  COVE_EXPECT_CODE(store().SetUploadAcknowledged("nope", 1), Code::kNotFound);
  COVE_ASSERT_OK(store().DeleteUpload("upload-1"));
  COVE_EXPECT_CODE(store().DeleteUpload("upload-1"), Code::kNotFound);
  COVE_EXPECT_CODE(store().GetUpload("upload-1"), Code::kNotFound);
}

TEST_P(MetaStoreConformance, UploadsStartedBefore) {
  Clock::TimePoint t0 = clock_.Now();
  COVE_ASSERT_OK(store().CreateUpload({"old", repo_, 0, t0}));
  COVE_ASSERT_OK(store().CreateUpload({"older", repo_, 0, t0 - std::chrono::hours(1)}));
  COVE_ASSERT_OK(store().CreateUpload({"new", repo_, 0, t0 + std::chrono::hours(1)}));
  auto before = store().ListUploadsStartedBefore(t0);  // strictly before
  COVE_ASSERT_OK(before);
  ASSERT_EQ(before->size(), 1u);
  EXPECT_EQ((*before)[0].id, "older");
  before = store().ListUploadsStartedBefore(t0 + std::chrono::nanoseconds(1));
  ASSERT_EQ(before->size(), 2u);
  EXPECT_EQ((*before)[0].id, "older");
  EXPECT_EQ((*before)[1].id, "old");
  EXPECT_EQ(store().ListUploadsStartedBefore(t0 + std::chrono::hours(2))->size(), 3u);
  EXPECT_TRUE(store().ListUploadsStartedBefore(t0 - std::chrono::hours(2))->empty());
}

// ---- durability and concurrency ----

TEST_P(MetaStoreConformance, SurvivesRestart) {
  if (!harness_->Persistent()) GTEST_SKIP() << "in-memory store";
  ManifestRecord m = Manifest("durable", {D("cfg")});
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("v1")));
  COVE_ASSERT_OK(store().LinkBlob(repo_, D("cfg"), 7));
  COVE_ASSERT_OK(store().CreateUpload({"up", repo_, 5, clock_.Now()}));
  harness_->Restart();
  EXPECT_EQ(*store().ResolveTag(repo_, "v1"), m.digest);
  EXPECT_EQ(store().GetManifest(repo_, m.digest)->bytes, m.bytes);
  EXPECT_EQ(*store().LinkedBlob(repo_, D("cfg")), 7u);
  EXPECT_EQ(store().GetUpload("up")->acknowledged, 5u);
}

TEST_P(MetaStoreConformance, ConcurrentWritersAllVisible) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      RepoKey repo{"reg1", "repo" + std::to_string(t)};
      for (int i = 0; i < kPerThread; ++i) {
        std::string n = std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(store().LinkBlob(repo, D("blob" + n), static_cast<uint64_t>(i)));
        EXPECT_TRUE(store().PutManifest(repo, Manifest("m" + n, {D("blob" + n)}),
                                        "tag" + std::to_string(i)));
        EXPECT_TRUE(store().ListRepositories("reg1", {}));  // readers interleave
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store().ListRepositories("reg1", {})->size(), static_cast<size_t>(kThreads));
  for (int t = 0; t < kThreads; ++t) {
    RepoKey repo{"reg1", "repo" + std::to_string(t)};
    EXPECT_EQ(store().ListTags(repo, {})->size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      std::string n = std::to_string(t) + "-" + std::to_string(i);
      EXPECT_EQ(*store().LinkedBlob(repo, D("blob" + n)), static_cast<uint64_t>(i));
      EXPECT_EQ(*store().ResolveTag(repo, "tag" + std::to_string(i)), Manifest("m" + n).digest);
    }
  }
}

}  // namespace cove::storage::testing
