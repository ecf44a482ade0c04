// GarbageCollector: one pass's phases, and the proof that online collection never takes a blob
// that something references — pushes, deletions and sweeps at once, and the race of a sweep
// deleting a blob while an upload of the same bytes commits.
#include "registry/garbage_collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "oci/manifest.h"
#include "registry/repository_service.h"
#include "storage/filesystem_blob_store.h"
#include "storage/sqlite_meta_store.h"
#include "storage/test_util.h"
#include "support/temp_dir.h"

namespace cove::registry {
namespace {

using ::cove::testing::TempDir;
using namespace std::chrono_literals;

constexpr std::chrono::seconds kGrace = 1h;

class GarbageCollectorTest : public ::testing::Test {
 protected:
  GarbageCollectorTest() {
    auto blobs = storage::FilesystemBlobStore::Open(dir_.Join("blobs"), clock_);
    EXPECT_TRUE(blobs) << blobs.error().ToString();
    blobs_ = std::move(*blobs);
    auto meta = storage::SqliteMetaStore::Open(dir_.Join("meta.db"), clock_);
    EXPECT_TRUE(meta) << meta.error().ToString();
    meta_ = std::move(*meta);
    RepositoryServiceOptions options;
    options.new_upload_id = [this] { return "upload" + std::to_string(++next_id_); };
    service_ = std::make_unique<RepositoryService>(*blobs_, *meta_, clock_, options);
    GarbageCollectorOptions gc_options;
    gc_options.grace = kGrace;
    gc_ = std::make_unique<GarbageCollector>(
        *blobs_, *meta_, clock_,
        [this] {
          std::lock_guard lock(registries_mu_);
          return registries_;
        },
        gc_options);
  }

  void SetRetention(bool enabled, int days) {
    RegistryInfo info;
    info.name = repo_.registry;
    info.untagged_retention_enabled = enabled;
    info.untagged_retention_days = days;
    std::lock_guard lock(registries_mu_);
    registries_ = {info};
  }

  // Pushes `bytes` as a blob of `repo` through an upload; the error when that failed.
  Result<Digest> PushBlob(const storage::RepoKey& repo, const std::string& bytes) {
    COVE_ASSIGN_OR_RETURN(UploadSession session, service_->StartUpload(repo));
    COVE_RETURN_IF_ERROR(session.upload->Append(bytes));
    Digest digest = Digest::Of(bytes);
    COVE_RETURN_IF_ERROR(service_->CommitUpload(session.record, session.upload, digest));
    return digest;
  }

  static std::string ManifestJson(const std::string& config, const std::string& layer) {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
           R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
           Digest::Of(config).str() + R"(","size":)" + std::to_string(config.size()) +
           R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
           Digest::Of(layer).str() + R"(","size":)" + std::to_string(layer.size()) + "}]}";
  }

  // Pushes config and layer, then the manifest naming them.
  Result<Digest> PushImage(const storage::RepoKey& repo, const std::string& config,
                           const std::string& layer, std::optional<std::string> tag) {
    COVE_RETURN_IF_ERROR(PushBlob(repo, config));
    COVE_RETURN_IF_ERROR(PushBlob(repo, layer));
    std::string json = ManifestJson(config, layer);
    auto parsed = oci::ParseManifest(json, oci::kOciManifest);
    if (!parsed) return Fail(std::move(parsed).error());
    Digest digest = Digest::Of(json);
    COVE_RETURN_IF_ERROR(service_->PutManifest(repo, *parsed, digest, json, tag));
    return digest;
  }

  // Passes with the clock moved past the grace period each time, until one finds nothing.
  void CollectEverything() {
    for (int i = 0; i < 20; ++i) {
      clock_.Advance(kGrace + 1s);
      auto report = gc_->SweepOnce();
      ASSERT_TRUE(report) << report.error().ToString();
      auto pending = meta_->PendingReviews();
      ASSERT_TRUE(pending);
      if (pending->links == 0 && pending->blobs == 0) return;
    }
    ADD_FAILURE() << "reviews still pending after 20 passes";
  }

  TempDir dir_;
  ManualClock clock_;
  storage::BlobStorePtr blobs_;
  storage::MetaStorePtr meta_;
  std::unique_ptr<RepositoryService> service_;
  std::unique_ptr<GarbageCollector> gc_;
  std::mutex registries_mu_;
  std::vector<RegistryInfo> registries_;
  std::atomic<int> next_id_{0};
  const storage::RepoKey repo_{"myregistry", "app"};
};

TEST_F(GarbageCollectorTest, AbandonedUploadIsCollectedAfterGraceOnly) {
  auto kept = PushImage(repo_, "config", "layer", std::string("v1"));
  COVE_ASSERT_OK(kept);
  auto orphan = PushBlob(repo_, "never named by a manifest");
  COVE_ASSERT_OK(orphan);

  clock_.Advance(kGrace - 1s);
  auto report = gc_->SweepOnce();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->links_removed, 0u);
  COVE_EXPECT_OK(blobs_->Stat(*orphan));

  clock_.Advance(2s);
  report = gc_->SweepOnce();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->links_removed, 1u);  // the blob's review starts now
  EXPECT_EQ(report->blobs_deleted, 0u);
  COVE_EXPECT_OK(blobs_->Stat(*orphan));
  clock_.Advance(kGrace);
  report = gc_->SweepOnce();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->blobs_deleted, 1u);
  COVE_EXPECT_CODE(blobs_->Stat(*orphan), Code::kNotFound);
  COVE_EXPECT_OK(blobs_->Stat(Digest::Of("config")));
  COVE_EXPECT_OK(blobs_->Stat(Digest::Of("layer")));
  COVE_EXPECT_OK(service_->GetManifest(repo_, *kept));
}

TEST_F(GarbageCollectorTest, DeletedImageIsCollectedSharedLayerStays) {
  auto one = PushImage(repo_, "config one", "shared layer", std::string("one"));
  auto two = PushImage({"myregistry", "other"}, "config two", "shared layer", std::string("two"));
  COVE_ASSERT_OK(one);
  COVE_ASSERT_OK(two);
  COVE_ASSERT_OK(service_->DeleteManifest(repo_, *one));
  CollectEverything();
  COVE_EXPECT_CODE(blobs_->Stat(Digest::Of("config one")), Code::kNotFound);
  COVE_EXPECT_OK(blobs_->Stat(Digest::Of("shared layer")));
  COVE_EXPECT_OK(blobs_->Stat(Digest::Of("config two")));
  COVE_EXPECT_CODE(service_->StatBlob(repo_, Digest::Of("shared layer")), Code::kNotFound);
}

TEST_F(GarbageCollectorTest, RetentionOnlyWhenEnabledAndAfterItsDays) {
  auto old_image = PushImage(repo_, "config old", "layer old", std::string("latest"));
  COVE_ASSERT_OK(old_image);
  clock_.Advance(48h);
  auto new_image = PushImage(repo_, "config new", "layer new", std::string("latest"));
  COVE_ASSERT_OK(new_image);  // the old one is untagged now, two days old

  SetRetention(false, 1);
  auto report = gc_->SweepOnce();
  COVE_ASSERT_OK(report);
  EXPECT_EQ(report->manifests_deleted, 0u);
  SetRetention(true, 3);
  EXPECT_EQ(gc_->SweepOnce()->manifests_deleted, 0u);
  SetRetention(true, 1);
  EXPECT_EQ(gc_->SweepOnce()->manifests_deleted, 1u);
  COVE_EXPECT_CODE(service_->GetManifest(repo_, *old_image), Code::kNotFound);
  COVE_EXPECT_OK(service_->GetManifest(repo_, *new_image));
  CollectEverything();
  COVE_EXPECT_CODE(blobs_->Stat(Digest::Of("layer old")), Code::kNotFound);
  COVE_EXPECT_OK(blobs_->Stat(Digest::Of("layer new")));
}

TEST_F(GarbageCollectorTest, MountOfABlobBeingCollectedFallsBackToUpload) {
  auto blob = PushBlob({"myregistry", "from"}, "mounted bytes");
  COVE_ASSERT_OK(blob);
  COVE_ASSERT_OK(blobs_->Delete(*blob));  // as if a sweep had just taken the bytes
  auto mounted = service_->MountBlob(repo_, "from", *blob);
  COVE_ASSERT_OK(mounted);
  EXPECT_FALSE(mounted->has_value());
  COVE_EXPECT_CODE(service_->StatBlob(repo_, *blob), Code::kNotFound);
}

// The targeted race: a sweep is deleting blob X (its delete callback paused) while an upload of
// the same bytes commits. The upload's ProtectBlob waits for the sweep, so the commit writes the
// bytes after they were deleted rather than finding them present just before they go.
TEST_F(GarbageCollectorTest, UploadDuringTheDeletionOfTheSameBlobKeepsIt) {
  auto blob = PushBlob(repo_, "contended bytes");
  COVE_ASSERT_OK(blob);
  COVE_ASSERT_OK(service_->UnlinkBlob(repo_, *blob));
  clock_.Advance(kGrace + 1s);
  Clock::TimePoint due = clock_.Now() - kGrace;
  // The second upload has its bytes staged before the sweep starts; only its commit races.
  auto session = service_->StartUpload({"myregistry", "again"});
  COVE_ASSERT_OK(session);
  COVE_ASSERT_OK(session->upload->Append("contended bytes"));

  std::mutex mu;
  std::condition_variable cv;
  bool deleting = false, release = false, uploaded = false;
  std::thread sweeper([&] {
    auto swept = meta_->SweepNextBlob(due, [&](const Digest& d) {
      {
        std::unique_lock lock(mu);
        deleting = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
      }
      return blobs_->Delete(d);
    });
    EXPECT_TRUE(swept && swept->has_value() && (*swept)->deleted);
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return deleting; });
  }
  std::thread uploader([&] {
    auto committed = service_->CommitUpload(session->record, session->upload, *blob);
    EXPECT_TRUE(committed) << committed.error().ToString();
    std::lock_guard lock(mu);
    uploaded = true;
    cv.notify_all();
  });
  {
    // An upload that does not wait for the sweep finishes here, before the bytes go (a bounded
    // look; with the protection the upload is still waiting when it ends).
    std::unique_lock lock(mu);
    cv.wait_for(lock, 300ms, [&] { return uploaded; });
    release = true;
    cv.notify_all();
  }
  sweeper.join();
  uploader.join();
  COVE_EXPECT_OK(blobs_->Stat(*blob));
  COVE_EXPECT_OK(service_->StatBlob({"myregistry", "again"}, *blob));
  // Its new review is not due at the sweep's cutoff.
  auto later = gc_->SweepOnce();
  COVE_ASSERT_OK(later);
  EXPECT_EQ(later->blobs_deleted, 0u);
  COVE_EXPECT_OK(blobs_->Stat(*blob));
}

// Pushers, deleters and a sweeper (with retention of untagged manifests after 0 days, and the
// clock moved a sixteenth of the grace period on every pass, so reviews fall due all the time) run at once for a few seconds. No step waits
// for another; every interleaving the scheduler finds is allowed. At the end nothing that is
// referenced has lost its bytes, and once the queues are drained nothing unreferenced is left.
TEST_F(GarbageCollectorTest, ConcurrentPushesDeletesAndSweepsKeepEveryReferencedBlob) {
  SetRetention(true, 0);
  constexpr int kPushers = 3;
  constexpr int kLayers = 6;  // a small pool: the same digests are pushed, deleted, pushed again
  auto layer = [](int i) { return "layer " + std::to_string(i); };
  auto config = [](int pusher, int i) {
    return "config " + std::to_string(pusher) + "/" + std::to_string(i);
  };
  std::atomic<bool> stop{false};
  std::atomic<int> pushed{0}, refused{0}, deleted{0}, passes{0};
  std::mutex digests_mu;
  std::vector<std::pair<storage::RepoKey, Digest>> manifests;  // guarded by digests_mu

  std::vector<std::thread> threads;
  for (int p = 0; p < kPushers; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937 rng(p);
      storage::RepoKey repo{"myregistry", "repo" + std::to_string(p % 2)};
      for (int i = 0; !stop; ++i) {
        std::optional<std::string> tag;
        if (rng() % 2) tag = "t" + std::to_string(rng() % 3);
        auto digest = PushImage(repo, config(p, i % 4), layer(rng() % kLayers), tag);
        if (!digest) {
          // A link swept before the manifest came, or bytes before their link (the clock runs
          // a grace period every sixteen passes): the client would push again.
          EXPECT_TRUE(digest.error().code == Code::kNotFound ||
                      digest.error().code == Code::kUnavailable)
              << digest.error().ToString();
          ++refused;
          continue;
        }
        ++pushed;
        std::lock_guard lock(digests_mu);
        manifests.emplace_back(repo, *digest);
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937 rng(99);
    while (!stop) {
      std::optional<std::pair<storage::RepoKey, Digest>> victim;
      {
        std::lock_guard lock(digests_mu);
        if (!manifests.empty()) {
          size_t k = rng() % manifests.size();
          victim = manifests[k];
          manifests.erase(manifests.begin() + static_cast<std::ptrdiff_t>(k));
        }
      }
      if (victim && rng() % 2) {
        if (service_->DeleteManifest(victim->first, victim->second)) ++deleted;
      } else {
        (void)service_->DeleteTag({"myregistry", "repo" + std::to_string(rng() % 2)},
                                  "t" + std::to_string(rng() % 3));
      }
    }
  });
  threads.emplace_back([&] {
    while (!stop) {
      clock_.Advance(kGrace / 16);  // a review is due some sixteen passes after its event
      auto report = gc_->SweepOnce();
      EXPECT_TRUE(report) << report.error().ToString();
      ++passes;
    }
  });
  // The test's length, not a synchronisation: the threads run freely until then.
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until && !HasFailure()) {
    std::this_thread::sleep_for(10ms);
  }
  stop = true;
  for (auto& t : threads) t.join();
  // How many pushes win against the sweeper depends on the machine's load; some must.
  EXPECT_GT(pushed.load(), 0);
  EXPECT_GT(pushed.load() + refused.load(), 10);
  EXPECT_GT(passes.load(), 10);
  RecordProperty("pushed", pushed.load());
  RecordProperty("refused", refused.load());
  RecordProperty("deleted", deleted.load());
  RecordProperty("passes", passes.load());

  std::vector<Digest> pool;
  for (int i = 0; i < kLayers; ++i) pool.push_back(Digest::Of(layer(i)));
  for (int p = 0; p < kPushers; ++p) {
    for (int i = 0; i < 4; ++i) pool.push_back(Digest::Of(config(p, i)));
  }
  // Every blob a link or a manifest references is in the store.
  for (const Digest& d : pool) {
    if (*meta_->BlobReferenced(d)) {
      EXPECT_TRUE(blobs_->Stat(d)) << d.str() << " is referenced but its bytes are gone";
    }
  }
  // No unreferenced blob escapes the queues: once they are drained (the clock past the grace
  // period), exactly the referenced blobs remain.
  SetRetention(false, 0);
  CollectEverything();
  for (const Digest& d : pool) {
    bool referenced = *meta_->BlobReferenced(d);
    EXPECT_EQ(blobs_->Stat(d).has_value(), referenced) << d.str();
  }
}

}  // namespace
}  // namespace cove::registry
