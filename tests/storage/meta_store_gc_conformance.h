// MetaStoreGcConformance: online garbage collection's behaviour (meta_store.h, "online garbage
// collection") that every MetaStore implementation must have — the queueing rules, due and not
// due, ProtectBlob, the sweeps, ACR's retention of untagged manifests, usage, the backlog.
//
// It runs on the harness of meta_store_conformance.h, made with MetaStoreImpl::make_with_clock
// so that the suite's ManualClock stamps the queues:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreGcConformance,
//                            ::testing::Values(MetaStoreImpl{"Memory", Make, MakeWithClock}),
//                            MetaStoreImplName);
//
// Assertions hold for any implementation that follows the header: where the header allows more
// queueing than it requires (DeleteRegistry), the suite checks what must be swept, not counts.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "storage/meta_store.h"
#include "storage/meta_store_conformance.h"
#include "storage/test_util.h"

namespace cove::storage::testing {

class MetaStoreGcConformance : public ::testing::TestWithParam<MetaStoreImpl> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(GetParam().make_with_clock) << GetParam().name << " has no make_with_clock";
    harness_ = GetParam().make_with_clock(clock_);
    ASSERT_NE(harness_, nullptr);
  }
  MetaStore& store() { return harness_->store(); }

  static Digest D(const std::string& seed) { return Digest::Of(seed); }

  ManifestRecord Manifest(const std::string& seed, std::vector<Digest> blobs = {}) {
    ManifestRecord m;
    m.bytes = "{\"seed\":\"" + seed + "\"}";
    m.digest = Digest::Of(m.bytes);
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.blobs = std::move(blobs);
    m.created = clock_.Now();
    return m;
  }

  MetaStore::ReviewBacklog Pending() {
    auto pending = store().PendingReviews();
    EXPECT_TRUE(pending) << pending.error().ToString();
    return pending ? *pending : MetaStore::ReviewBacklog{};
  }

  // Sweeps every due blob review with a callback that records what it deleted; returns the
  // digests reviewed.
  std::set<std::string> SweepAllBlobs(std::set<std::string>* deleted = nullptr) {
    std::set<std::string> reviewed;
    for (int i = 0; i < 1000; ++i) {
      auto swept = store().SweepNextBlob(clock_.Now(), [&](const Digest& d) -> Status {
        if (deleted != nullptr) deleted->insert(d.str());
        return Ok();
      });
      EXPECT_TRUE(swept) << swept.error().ToString();
      if (!swept || !*swept) break;
      reviewed.insert((*swept)->reviewed.str());
    }
    return reviewed;
  }

  static constexpr std::chrono::hours kGrace{24};

  ManualClock clock_;
  std::unique_ptr<MetaStoreHarness> harness_;
  const RepoKey repo_{"reg1", "team/app"};
};

// ---- queueing and sweeping links ----

TEST_P(MetaStoreGcConformance, NothingPendingAtFirst) {
  auto pending = Pending();
  EXPECT_EQ(pending.links, 0u);
  EXPECT_EQ(pending.blobs, 0u);
  EXPECT_EQ(*store().SweepLinks(clock_.Now() + kGrace, 100), 0u);
  auto swept = store().SweepNextBlob(clock_.Now() + kGrace, [](const Digest&) { return Ok(); });
  COVE_ASSERT_OK(swept);
  EXPECT_FALSE(swept->has_value());
}

TEST_P(MetaStoreGcConformance, LinkWithoutManifestIsRemovedOnceDue) {
  Digest layer = D("orphan layer");
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 10));
  EXPECT_EQ(Pending().links, 1u);
  // Not due before its stamp.
  EXPECT_EQ(*store().SweepLinks(clock_.Now() - std::chrono::nanoseconds(1), 100), 0u);
  EXPECT_EQ(*store().LinkedBlob(repo_, layer), 10u);
  EXPECT_EQ(Pending().links, 1u);
  clock_.Advance(kGrace);
  // Due at its stamp (at or before due_before).
  EXPECT_EQ(*store().SweepLinks(clock_.Now() - kGrace, 100), 1u);
  COVE_EXPECT_CODE(store().LinkedBlob(repo_, layer), Code::kNotFound);
  auto pending = Pending();
  EXPECT_EQ(pending.links, 0u);
  EXPECT_EQ(pending.blobs, 1u);  // the link sweep queued its blob
  // The blob review is stamped when the link went: due a grace period later.
  auto early = store().SweepNextBlob(clock_.Now() - std::chrono::nanoseconds(1),
                                     [](const Digest&) { return Ok(); });
  COVE_ASSERT_OK(early);
  EXPECT_FALSE(early->has_value());
  std::set<std::string> deleted;
  EXPECT_EQ(SweepAllBlobs(&deleted), std::set<std::string>{layer.str()});
  EXPECT_EQ(deleted, std::set<std::string>{layer.str()});
  EXPECT_EQ(Pending().blobs, 0u);
}

TEST_P(MetaStoreGcConformance, SweepLinksKeepsReferencedLinks) {
  Digest config = D("config"), layer = D("layer"), loose = D("loose");
  COVE_ASSERT_OK(store().LinkBlob(repo_, config, 1));
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 2));
  COVE_ASSERT_OK(store().LinkBlob(repo_, loose, 3));
  // The same blob linked elsewhere is another link with its own review.
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "other"}, layer, 2));
  COVE_ASSERT_OK(store().PutManifest(repo_, Manifest("m", {config, layer}), std::string("v1")));
  EXPECT_EQ(Pending().links, 4u);
  clock_.Advance(kGrace);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 100), 2u);  // loose, and layer in "other"
  EXPECT_EQ(*store().LinkedBlob(repo_, config), 1u);
  EXPECT_EQ(*store().LinkedBlob(repo_, layer), 2u);
  COVE_EXPECT_CODE(store().LinkedBlob(repo_, loose), Code::kNotFound);
  COVE_EXPECT_CODE(store().LinkedBlob({"reg1", "other"}, layer), Code::kNotFound);
  EXPECT_EQ(Pending().links, 0u);  // kept links drop their review too
  clock_.Advance(kGrace);
  std::set<std::string> deleted;
  SweepAllBlobs(&deleted);
  EXPECT_EQ(deleted, std::set<std::string>{loose.str()});  // layer is still referenced
}

TEST_P(MetaStoreGcConformance, SweepLinksHonoursLimit) {
  for (int i = 0; i < 5; ++i) COVE_ASSERT_OK(store().LinkBlob(repo_, D(std::to_string(i)), 1));
  clock_.Advance(kGrace);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 2), 2u);
  EXPECT_EQ(Pending().links, 3u);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 0), 0u);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 10), 3u);
  EXPECT_EQ(Pending().links, 0u);
}

TEST_P(MetaStoreGcConformance, LaterEventMovesTheStampLater) {
  Digest layer = D("relinked");
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 1));
  clock_.Advance(std::chrono::hours(20));
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 1));  // pushed again
  EXPECT_EQ(Pending().links, 1u);
  clock_.Advance(std::chrono::hours(5));  // 25 h after the first link, 5 h after the second
  EXPECT_EQ(*store().SweepLinks(clock_.Now() - kGrace, 100), 0u);
  EXPECT_EQ(*store().LinkedBlob(repo_, layer), 1u);
  clock_.Advance(std::chrono::hours(19));
  EXPECT_EQ(*store().SweepLinks(clock_.Now() - kGrace, 100), 1u);
}

// ---- manifest deletion ----

TEST_P(MetaStoreGcConformance, DeleteManifestQueuesItsLinksAndItsDigest) {
  Digest config = D("config"), layer = D("layer");
  COVE_ASSERT_OK(store().LinkBlob(repo_, config, 1));
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 2));
  ManifestRecord m = Manifest("doomed", {config, layer, layer});
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("v1")));
  clock_.Advance(kGrace);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 100), 0u);  // referenced: reviews dropped
  ASSERT_EQ(Pending().links, 0u);

  COVE_ASSERT_OK(store().DeleteManifest(repo_, m.digest));
  auto pending = Pending();
  EXPECT_EQ(pending.links, 2u);  // config and layer, once each
  EXPECT_EQ(pending.blobs, 1u);  // the manifest's own digest
  COVE_EXPECT_CODE(store().DeleteManifest(repo_, m.digest), Code::kNotFound);
  EXPECT_EQ(Pending().links, 2u);  // a failed deletion queues nothing

  EXPECT_EQ(*store().SweepLinks(clock_.Now() - std::chrono::nanoseconds(1), 100), 0u);
  clock_.Advance(kGrace);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 100), 2u);
  std::set<std::string> deleted;
  EXPECT_EQ(SweepAllBlobs(&deleted),
            (std::set<std::string>{config.str(), layer.str(), m.digest.str()}));
  EXPECT_EQ(deleted, (std::set<std::string>{config.str(), layer.str(), m.digest.str()}));
}

TEST_P(MetaStoreGcConformance, UnlinkBlobQueuesTheBlob) {
  Digest shared = D("shared"), alone = D("alone");
  COVE_ASSERT_OK(store().LinkBlob(repo_, shared, 1));
  COVE_ASSERT_OK(store().LinkBlob({"reg2", "x"}, shared, 1));
  COVE_ASSERT_OK(store().LinkBlob(repo_, alone, 1));
  EXPECT_EQ(Pending().blobs, 0u);
  COVE_ASSERT_OK(store().UnlinkBlob(repo_, shared));
  COVE_ASSERT_OK(store().UnlinkBlob(repo_, alone));
  EXPECT_EQ(Pending().blobs, 2u);
  COVE_EXPECT_CODE(store().UnlinkBlob(repo_, alone), Code::kNotFound);
  clock_.Advance(kGrace);
  std::set<std::string> deleted;
  EXPECT_EQ(SweepAllBlobs(&deleted), (std::set<std::string>{shared.str(), alone.str()}));
  EXPECT_EQ(deleted, std::set<std::string>{alone.str()});  // reg2 still links `shared`
  EXPECT_EQ(Pending().blobs, 0u);
  EXPECT_EQ(*store().LinkedBlob({"reg2", "x"}, shared), 1u);
}

TEST_P(MetaStoreGcConformance, DeleteRegistryQueuesEveryBlobItLinked) {
  Digest a = D("a"), b = D("b"), kept = D("kept");
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "one"}, a, 1));
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "two"}, b, 1));
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "two"}, kept, 1));
  COVE_ASSERT_OK(store().LinkBlob({"reg2", "app"}, kept, 1));
  COVE_ASSERT_OK(store().PutManifest({"reg1", "two"}, Manifest("m", {b}), std::string("v1")));
  COVE_ASSERT_OK(store().DeleteRegistry("reg1"));
  clock_.Advance(kGrace);
  std::set<std::string> deleted;
  std::set<std::string> reviewed = SweepAllBlobs(&deleted);
  for (const Digest& d : {a, b, kept}) EXPECT_TRUE(reviewed.count(d.str())) << d.str();
  EXPECT_TRUE(deleted.count(a.str()));
  EXPECT_TRUE(deleted.count(b.str()));
  EXPECT_FALSE(deleted.count(kept.str()));
  EXPECT_TRUE(*store().BlobReferenced(kept));
}

// ---- sweeping blobs ----

TEST_P(MetaStoreGcConformance, ProtectBlobPostponesTheSweep) {
  Digest d = D("uploading");
  COVE_ASSERT_OK(store().ProtectBlob(d));
  EXPECT_EQ(Pending().blobs, 1u);
  clock_.Advance(std::chrono::hours(23));
  COVE_ASSERT_OK(store().ProtectBlob(d));  // a second upload of the same bytes
  EXPECT_EQ(Pending().blobs, 1u);
  clock_.Advance(std::chrono::hours(2));
  int calls = 0;
  auto swept = store().SweepNextBlob(clock_.Now() - kGrace, [&](const Digest&) {
    ++calls;
    return Ok();
  });
  COVE_ASSERT_OK(swept);
  EXPECT_FALSE(swept->has_value());
  EXPECT_EQ(calls, 0);
  clock_.Advance(std::chrono::hours(22));
  swept = store().SweepNextBlob(clock_.Now() - kGrace, [&](const Digest& got) {
    ++calls;
    EXPECT_EQ(got, d);
    return Ok();
  });
  COVE_ASSERT_OK(swept);
  ASSERT_TRUE(swept->has_value());
  EXPECT_EQ((*swept)->reviewed, d);
  EXPECT_TRUE((*swept)->deleted);
  EXPECT_EQ(calls, 1);
}

TEST_P(MetaStoreGcConformance, ReferencedBlobIsNotDeleted) {
  Digest d = D("in use");
  COVE_ASSERT_OK(store().ProtectBlob(d));
  COVE_ASSERT_OK(store().LinkBlob(repo_, d, 1));
  clock_.Advance(kGrace);
  bool called = false;
  auto swept = store().SweepNextBlob(clock_.Now(), [&](const Digest&) {
    called = true;
    return Ok();
  });
  COVE_ASSERT_OK(swept);
  ASSERT_TRUE(swept->has_value());
  EXPECT_EQ((*swept)->reviewed, d);
  EXPECT_FALSE((*swept)->deleted);
  EXPECT_FALSE(called);
  EXPECT_EQ(Pending().blobs, 0u);
}

TEST_P(MetaStoreGcConformance, FailedDeleteKeepsTheReview) {
  Digest d = D("stubborn");
  COVE_ASSERT_OK(store().ProtectBlob(d));
  clock_.Advance(kGrace);
  auto failed = store().SweepNextBlob(
      clock_.Now(), [](const Digest&) -> Status { return Fail(Code::kIOError, "disk"); });
  if (failed) {
    ASSERT_TRUE(failed->has_value());
    EXPECT_FALSE((*failed)->deleted);
  }
  EXPECT_EQ(Pending().blobs, 1u);
  // Already gone counts as deleted.
  auto swept = store().SweepNextBlob(
      clock_.Now(), [](const Digest&) -> Status { return Fail(Code::kNotFound, "gone"); });
  COVE_ASSERT_OK(swept);
  ASSERT_TRUE(swept->has_value());
  EXPECT_EQ((*swept)->reviewed, d);
  EXPECT_TRUE((*swept)->deleted);
  EXPECT_EQ(Pending().blobs, 0u);
}

TEST_P(MetaStoreGcConformance, ProtectBlobWaitsForTheSweepDecidingAboutIt) {
  Digest d = D("contended");
  COVE_ASSERT_OK(store().ProtectBlob(d));
  clock_.Advance(kGrace);
  Clock::TimePoint due = clock_.Now();
  std::mutex mu;
  std::condition_variable cv;
  bool in_callback = false, release = false, callback_done = false, protected_ = false;
  std::thread sweeper([&] {
    auto swept = store().SweepNextBlob(due, [&](const Digest&) {
      std::unique_lock lock(mu);
      in_callback = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      callback_done = true;
      return Ok();
    });
    EXPECT_TRUE(swept && swept->has_value() && (*swept)->deleted);
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_callback; });
  }
  clock_.Advance(std::chrono::seconds(1));  // the upload comes after the sweep's cutoff
  std::thread uploader([&] {
    EXPECT_TRUE(store().ProtectBlob(d));
    std::lock_guard lock(mu);
    EXPECT_TRUE(callback_done) << "ProtectBlob returned while a sweep was deleting the blob";
    protected_ = true;
    cv.notify_all();
  });
  {
    // A ProtectBlob that does not wait shows itself here (a bounded look, not synchronisation).
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return protected_; });
    release = true;
    cv.notify_all();
  }
  sweeper.join();
  uploader.join();
  // The protection came after the deletion: a fresh review, not due at the old cutoff.
  EXPECT_EQ(Pending().blobs, 1u);
  auto swept = store().SweepNextBlob(due, [](const Digest&) { return Ok(); });
  COVE_ASSERT_OK(swept);
  EXPECT_FALSE(swept->has_value());
}

TEST_P(MetaStoreGcConformance, ReviewsSurviveRestart) {
  if (!harness_->Persistent()) GTEST_SKIP() << "in-memory store";
  COVE_ASSERT_OK(store().LinkBlob(repo_, D("l"), 1));
  COVE_ASSERT_OK(store().ProtectBlob(D("b")));
  harness_->Restart();
  auto pending = Pending();
  EXPECT_EQ(pending.links, 1u);
  EXPECT_EQ(pending.blobs, 1u);
}

// ---- retention of untagged manifests ----

TEST_P(MetaStoreGcConformance, RetentionDeletesOldUntaggedManifestsOnly) {
  Digest layer = D("layer");
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 1));
  ManifestRecord tagged = Manifest("tagged", {layer});
  ManifestRecord untagged = Manifest("untagged", {layer});
  ManifestRecord moved = Manifest("tag moved away");
  ManifestRecord child = Manifest("child");
  ManifestRecord index = Manifest("index");
  index.media_type = "application/vnd.oci.image.index.v1+json";
  index.manifests = {child.digest};
  ManifestRecord subject = Manifest("subject");
  ManifestRecord live_referrer = Manifest("signature of a stored subject");
  live_referrer.subject = subject.digest;
  ManifestRecord orphan_referrer = Manifest("signature of a deleted subject");
  orphan_referrer.subject = D("no longer stored");
  COVE_ASSERT_OK(store().PutManifest(repo_, tagged, std::string("v1")));
  COVE_ASSERT_OK(store().PutManifest(repo_, untagged, std::nullopt));
  COVE_ASSERT_OK(store().PutManifest(repo_, moved, std::string("latest")));
  COVE_ASSERT_OK(store().PutManifest(repo_, tagged, std::string("latest")));
  COVE_ASSERT_OK(store().PutManifest(repo_, child, std::nullopt));
  COVE_ASSERT_OK(store().PutManifest(repo_, index, std::string("multi")));
  COVE_ASSERT_OK(store().PutManifest(repo_, subject, std::string("s")));
  COVE_ASSERT_OK(store().PutManifest(repo_, live_referrer, std::nullopt));
  COVE_ASSERT_OK(store().PutManifest(repo_, orphan_referrer, std::nullopt));
  // The same untagged manifest in another registry is not this registry's to delete.
  COVE_ASSERT_OK(store().PutManifest({"reg2", "team/app"}, untagged, std::nullopt));
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 100), 0u);  // the layer's link is referenced
  clock_.Advance(std::chrono::hours(1));
  ManifestRecord young = Manifest("young");
  COVE_ASSERT_OK(store().PutManifest(repo_, young, std::nullopt));
  clock_.Advance(std::chrono::hours(1));

  Clock::TimePoint cutoff = clock_.Now() - std::chrono::minutes(90);
  auto deleted = store().DeleteUntaggedManifests("reg1", cutoff, 100);
  COVE_ASSERT_OK(deleted);
  EXPECT_EQ(*deleted, 3u);  // untagged, moved, orphan_referrer
  for (const auto* gone : {&untagged, &moved, &orphan_referrer}) {
    COVE_EXPECT_CODE(store().GetManifest(repo_, gone->digest), Code::kNotFound);
  }
  for (const auto* kept : {&tagged, &child, &index, &subject, &live_referrer, &young}) {
    COVE_EXPECT_OK(store().GetManifest(repo_, kept->digest));
  }
  COVE_EXPECT_OK(store().GetManifest({"reg2", "team/app"}, untagged.digest));
  // Deletion queues as DeleteManifest does: the layer's link, the manifests' digests.
  EXPECT_EQ(Pending().links, 1u);
  clock_.Advance(kGrace);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 100), 0u);  // `tagged` still references it
  std::set<std::string> reviewed = SweepAllBlobs();
  for (const auto* gone : {&untagged, &moved, &orphan_referrer}) {
    EXPECT_TRUE(reviewed.count(gone->digest.str())) << gone->digest.str();
  }
  // Nothing left to delete at that cutoff; the young one later.
  EXPECT_EQ(*store().DeleteUntaggedManifests("reg1", cutoff, 100), 0u);
  EXPECT_EQ(*store().DeleteUntaggedManifests("reg1", clock_.Now(), 100), 1u);
  EXPECT_EQ(*store().DeleteUntaggedManifests("reg3", clock_.Now(), 100), 0u);
}

TEST_P(MetaStoreGcConformance, RetentionHonoursLimitAndFreesIndexChildrenLater) {
  ManifestRecord child = Manifest("child");
  ManifestRecord index = Manifest("untagged index");
  index.media_type = "application/vnd.oci.image.index.v1+json";
  index.manifests = {child.digest};
  COVE_ASSERT_OK(store().PutManifest(repo_, child, std::nullopt));
  COVE_ASSERT_OK(store().PutManifest(repo_, index, std::nullopt));
  for (int i = 0; i < 3; ++i) {
    COVE_ASSERT_OK(store().PutManifest(repo_, Manifest("loose" + std::to_string(i)), std::nullopt));
  }
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(*store().DeleteUntaggedManifests("reg1", clock_.Now(), 2), 2u);
  uint64_t total = 2;
  for (int pass = 0; pass < 5; ++pass) {
    total += *store().DeleteUntaggedManifests("reg1", clock_.Now(), 2);
  }
  EXPECT_EQ(total, 5u);  // the child once the index that named it was gone
  COVE_EXPECT_CODE(store().GetManifest(repo_, child.digest), Code::kNotFound);
}

// ---- usage ----

TEST_P(MetaStoreGcConformance, UsageCountsDistinctBlobsOnce) {
  EXPECT_EQ(*store().RegistryUsage("reg1"), 0u);
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "a"}, D("big"), 1000));
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "b"}, D("big"), 1000));
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "b"}, D("small"), 24));
  COVE_ASSERT_OK(store().LinkBlob({"reg2", "a"}, D("other"), 5));
  ManifestRecord m = Manifest("m", {D("big")});
  COVE_ASSERT_OK(store().PutManifest({"reg1", "a"}, m, std::string("v1")));
  EXPECT_EQ(*store().RegistryUsage("reg1"), 1024u + m.bytes.size());
  EXPECT_EQ(*store().RegistryUsage("reg2"), 5u);
  EXPECT_EQ(*store().RegistryUsage("reg3"), 0u);
  COVE_ASSERT_OK(store().UnlinkBlob({"reg1", "a"}, D("big")));
  EXPECT_EQ(*store().RegistryUsage("reg1"), 1024u + m.bytes.size());  // "b" still links it
  COVE_ASSERT_OK(store().DeleteRegistry("reg1"));
  EXPECT_EQ(*store().RegistryUsage("reg1"), 0u);
}

}  // namespace cove::storage::testing
