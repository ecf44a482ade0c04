// RepositoryService against the real stores (no HTTP): the commit order (nothing visible before
// it is verified), the events (in order, only after the change is durable, none on failure).
#include "registry/repository_service.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "oci/manifest.h"
#include "storage/filesystem_blob_store.h"
#include "storage/sqlite_meta_store.h"
#include "storage/test_util.h"
#include "support/temp_dir.h"

namespace cove::registry {
namespace {

using ::cove::testing::TempDir;
using Kind = RepositoryEvent::Kind;

// Delegates to a real MetaStore, failing the operations a test turns off.
class FlakyMetaStore final : public storage::MetaStore {
 public:
  explicit FlakyMetaStore(storage::MetaStore& inner) : inner_(inner) {}
  bool fail_link = false;
  bool fail_put_manifest = false;
  bool fail_delete = false;

  Status LinkBlob(const storage::RepoKey& r, const Digest& d, uint64_t s) override {
    if (fail_link) return Fail(Code::kIOError, "injected");
    return inner_.LinkBlob(r, d, s);
  }
  Result<uint64_t> LinkedBlob(const storage::RepoKey& r, const Digest& d) override {
    return inner_.LinkedBlob(r, d);
  }
  Status UnlinkBlob(const storage::RepoKey& r, const Digest& d) override {
    if (fail_delete) return Fail(Code::kIOError, "injected");
    return inner_.UnlinkBlob(r, d);
  }
  Result<bool> BlobReferenced(const Digest& d) override { return inner_.BlobReferenced(d); }
  Status PutManifest(const storage::RepoKey& r, const storage::ManifestRecord& m,
                     const std::optional<std::string>& t) override {
    if (fail_put_manifest) return Fail(Code::kIOError, "injected");
    return inner_.PutManifest(r, m, t);
  }
  Result<storage::ManifestRecord> GetManifest(const storage::RepoKey& r, const Digest& d) override {
    return inner_.GetManifest(r, d);
  }
  Result<storage::ManifestContent> GetManifestContent(const storage::RepoKey& r,
                                                      const Digest& d) override {
    return inner_.GetManifestContent(r, d);
  }
  Result<Digest> ResolveTag(const storage::RepoKey& r, const std::string& t) override {
    return inner_.ResolveTag(r, t);
  }
  Status DeleteManifest(const storage::RepoKey& r, const Digest& d) override {
    if (fail_delete) return Fail(Code::kIOError, "injected");
    return inner_.DeleteManifest(r, d);
  }
  Status DeleteTag(const storage::RepoKey& r, const std::string& t) override {
    if (fail_delete) return Fail(Code::kIOError, "injected");
    return inner_.DeleteTag(r, t);
  }
  Result<std::vector<std::string>> ListTags(const storage::RepoKey& r,
                                            const storage::Page& p) override {
    return inner_.ListTags(r, p);
  }
  Result<std::vector<std::string>> ListRepositories(const std::string& r,
                                                    const storage::Page& p) override {
    return inner_.ListRepositories(r, p);
  }
  Status DeleteRegistry(const std::string& r) override {
    if (fail_delete) return Fail(Code::kIOError, "injected");
    return inner_.DeleteRegistry(r);
  }
  Result<std::vector<storage::Referrer>> ListReferrers(
      const storage::RepoKey& r, const Digest& s, const std::optional<std::string>& a) override {
    return inner_.ListReferrers(r, s, a);
  }
  Status CreateUpload(const storage::UploadRecord& u) override { return inner_.CreateUpload(u); }
  Result<storage::UploadRecord> GetUpload(const std::string& id) override {
    return inner_.GetUpload(id);
  }
  Status SetUploadAcknowledged(const std::string& id, uint64_t a) override {
    return inner_.SetUploadAcknowledged(id, a);
  }
  Status DeleteUpload(const std::string& id) override { return inner_.DeleteUpload(id); }
  Result<std::vector<storage::UploadRecord>> ListUploadsStartedBefore(Clock::TimePoint c) override {
    return inner_.ListUploadsStartedBefore(c);
  }
  Status ProtectBlob(const Digest& d) override { return inner_.ProtectBlob(d); }
  Result<uint64_t> SweepLinks(Clock::TimePoint due, uint64_t limit) override {
    return inner_.SweepLinks(due, limit);
  }
  Result<std::optional<BlobSweep>> SweepNextBlob(
      Clock::TimePoint due, const std::function<Status(const Digest&)>& del) override {
    return inner_.SweepNextBlob(due, del);
  }
  Result<uint64_t> DeleteUntaggedManifests(const std::string& r, Clock::TimePoint before,
                                           uint64_t limit) override {
    return inner_.DeleteUntaggedManifests(r, before, limit);
  }
  Result<uint64_t> RegistryUsage(const std::string& r) override { return inner_.RegistryUsage(r); }
  Result<ReviewBacklog> PendingReviews() override { return inner_.PendingReviews(); }

 private:
  storage::MetaStore& inner_;
};

// Records every event, and checks at the moment it is told that the change is visible.
class Recorder final : public RepositoryObserver {
 public:
  Recorder(storage::BlobStore& blobs, storage::MetaStore& meta) : blobs_(blobs), meta_(meta) {}

  void OnRepositoryEvent(const RepositoryEvent& event) override {
    events.push_back(event);
    switch (event.kind) {
      case Kind::kBlobLinked:
        EXPECT_TRUE(blobs_.Stat(event.digest)) << "linked before the bytes are in the store";
        EXPECT_TRUE(meta_.LinkedBlob(event.repo, event.digest)) << "announced before linked";
        break;
      case Kind::kManifestPut:
        EXPECT_TRUE(meta_.GetManifestContent(event.repo, event.digest));
        break;
      case Kind::kTagSet: {
        auto resolved = meta_.ResolveTag(event.repo, event.tag);
        EXPECT_TRUE(resolved && *resolved == event.digest);
        break;
      }
      case Kind::kTagDeleted:
        EXPECT_FALSE(meta_.ResolveTag(event.repo, event.tag));
        break;
      case Kind::kManifestDeleted:
        EXPECT_FALSE(meta_.GetManifestContent(event.repo, event.digest));
        break;
      case Kind::kBlobUnlinked:
        EXPECT_FALSE(meta_.LinkedBlob(event.repo, event.digest));
        break;
      case Kind::kRegistryDeleted:
        EXPECT_TRUE(meta_.ListRepositories(event.repo.registry, {}).value().empty());
        break;
    }
  }

  std::vector<std::string> Kinds() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.emplace_back(EventKindName(e.kind));
    return out;
  }

  std::vector<RepositoryEvent> events;

 private:
  storage::BlobStore& blobs_;
  storage::MetaStore& meta_;
};

using Kinds = std::vector<std::string>;

class RepositoryServiceTest : public ::testing::Test {
 protected:
  RepositoryServiceTest() {
    auto blobs = storage::FilesystemBlobStore::Open(dir_.Join("blobs"), clock_);
    EXPECT_TRUE(blobs) << blobs.error().ToString();
    blobs_ = std::move(*blobs);
    auto meta = storage::SqliteMetaStore::Open(dir_.Join("meta.db"));
    EXPECT_TRUE(meta) << meta.error().ToString();
    real_meta_ = std::move(*meta);
    meta_ = std::make_unique<FlakyMetaStore>(*real_meta_);
    RepositoryServiceOptions options;
    options.new_upload_id = [this] { return "upload" + std::to_string(++next_id_); };
    service_ = std::make_unique<RepositoryService>(*blobs_, *meta_, clock_, options);
    recorder_ = std::make_unique<Recorder>(*blobs_, *real_meta_);
    service_->Subscribe(recorder_.get());
  }

  // Pushes `bytes` as a blob of `repo` through an upload.
  Digest PushBlob(const storage::RepoKey& repo, const std::string& bytes) {
    auto session = service_->StartUpload(repo);
    EXPECT_TRUE(session) << session.error().ToString();
    EXPECT_TRUE(session->upload->Append(bytes));
    Digest digest = Digest::Of(bytes);
    auto committed = service_->CommitUpload(session->record, session->upload, digest);
    EXPECT_TRUE(committed) << committed.error().ToString();
    return digest;
  }

  static std::string ManifestJson(const Digest& config, size_t config_size, const Digest& layer,
                                  size_t layer_size) {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
           R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
           config.str() + R"(","size":)" + std::to_string(config_size) +
           R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
           layer.str() + R"(","size":)" + std::to_string(layer_size) + "}]}";
  }

  Status Put(const storage::RepoKey& repo, const std::string& json, std::optional<std::string> tag,
             Digest* unknown = nullptr) {
    auto parsed = oci::ParseManifest(json, oci::kOciManifest);
    EXPECT_TRUE(parsed) << parsed.error().ToString();
    return service_->PutManifest(repo, *parsed, Digest::Of(json), json, tag, unknown);
  }

  TempDir dir_;
  ManualClock clock_;
  storage::BlobStorePtr blobs_;
  storage::MetaStorePtr real_meta_;
  std::unique_ptr<FlakyMetaStore> meta_;
  std::unique_ptr<RepositoryService> service_;
  std::unique_ptr<Recorder> recorder_;
  int next_id_ = 0;
  const storage::RepoKey repo_{"myregistry", "app"};
};

TEST_F(RepositoryServiceTest, NothingIsVisibleBeforeTheDigestIsVerified) {
  auto session = service_->StartUpload(repo_);
  COVE_ASSERT_OK(session);
  COVE_ASSERT_OK(session->upload->Append("hello "));
  COVE_ASSERT_OK(session->upload->Append("world"));
  Digest digest = Digest::Of("hello world");

  COVE_EXPECT_CODE(service_->StatBlob(repo_, digest), Code::kNotFound);
  COVE_EXPECT_CODE(blobs_->Stat(digest), Code::kNotFound);

  // A wrong digest changes nothing and leaves the upload usable.
  auto wrong = service_->CommitUpload(session->record, session->upload, Digest::Of("other"));
  COVE_EXPECT_CODE(wrong, Code::kInvalidArgument);
  ASSERT_NE(session->upload, nullptr);
  COVE_EXPECT_CODE(service_->StatBlob(repo_, digest), Code::kNotFound);
  COVE_EXPECT_CODE(blobs_->Stat(digest), Code::kNotFound);
  EXPECT_TRUE(recorder_->events.empty());

  auto committed = service_->CommitUpload(session->record, session->upload, digest);
  COVE_ASSERT_OK(committed);
  EXPECT_EQ(*committed, 11u);
  EXPECT_EQ(session->upload, nullptr);
  EXPECT_EQ(service_->StatBlob(repo_, digest).value(), 11u);
  // The session is forgotten once the blob is linked.
  COVE_EXPECT_CODE(service_->FindUpload(repo_, session->record.id), Code::kNotFound);

  ASSERT_EQ(recorder_->Kinds(), Kinds{"blob-linked"});
  const RepositoryEvent& e = recorder_->events[0];
  EXPECT_EQ(e.repo.registry, "myregistry");
  EXPECT_EQ(e.repo.repository, "app");
  EXPECT_EQ(e.digest, digest);
  EXPECT_EQ(e.size, 11u);
  EXPECT_FALSE(e.mounted_from);
}

TEST_F(RepositoryServiceTest, ALinkFailureLeavesTheBlobUnreferencedAndEmitsNothing) {
  auto session = service_->StartUpload(repo_);
  COVE_ASSERT_OK(session);
  COVE_ASSERT_OK(session->upload->Append("bytes"));
  meta_->fail_link = true;
  COVE_EXPECT_CODE(service_->CommitUpload(session->record, session->upload, Digest::Of("bytes")),
                   Code::kIOError);
  EXPECT_EQ(session->upload, nullptr);
  // As after a crash between the two steps: the bytes are stored, the repository sees nothing.
  COVE_EXPECT_OK(blobs_->Stat(Digest::Of("bytes")));
  COVE_EXPECT_CODE(service_->StatBlob(repo_, Digest::Of("bytes")), Code::kNotFound);
  EXPECT_TRUE(recorder_->events.empty());
}

TEST_F(RepositoryServiceTest, ChunksAreAcknowledgedAndResumed) {
  auto session = service_->StartUpload(repo_);
  COVE_ASSERT_OK(session);
  std::string id = session->record.id;
  COVE_ASSERT_OK(session->upload->Append("abc"));
  COVE_ASSERT_OK(service_->AcknowledgeUpload(std::move(session->upload)));

  auto record = service_->FindUpload(repo_, id);
  COVE_ASSERT_OK(record);
  EXPECT_EQ(record->acknowledged, 3u);
  COVE_EXPECT_CODE(service_->FindUpload({"myregistry", "other"}, id), Code::kNotFound);

  auto upload = service_->TakeUpload(*record);
  COVE_ASSERT_OK(upload);
  // The handle is exclusive: a second request is refused while this one holds it.
  COVE_EXPECT_CODE(service_->TakeUpload(*record), Code::kFailedPrecondition);
  COVE_ASSERT_OK((*upload)->Append("def"));
  COVE_ASSERT_OK(service_->CommitUpload(*record, *upload, Digest::Of("abcdef")));
  EXPECT_EQ(recorder_->Kinds(), Kinds{"blob-linked"});
}

TEST_F(RepositoryServiceTest, CancelAndDiscardRemoveTheUploadWithoutEvents) {
  auto session = service_->StartUpload(repo_);
  COVE_ASSERT_OK(session);
  auto record = session->record;
  service_->KeepUpload(std::move(session->upload));
  COVE_ASSERT_OK(service_->CancelUpload(record));
  COVE_EXPECT_CODE(service_->FindUpload(repo_, record.id), Code::kNotFound);
  COVE_EXPECT_CODE(service_->CancelUpload(record), Code::kNotFound);

  auto other = service_->StartUpload(repo_);
  COVE_ASSERT_OK(other);
  std::string id = other->record.id;
  other->upload.reset();
  service_->DiscardUpload(id);
  COVE_EXPECT_CODE(service_->FindUpload(repo_, id), Code::kNotFound);
  EXPECT_TRUE(blobs_->ListUploads().value().empty());
  EXPECT_TRUE(recorder_->events.empty());
}

TEST_F(RepositoryServiceTest, MountLinksOnlyWhatTheSourceHas) {
  Digest digest = PushBlob({"myregistry", "base"}, "layer");
  recorder_->events.clear();

  auto missing = service_->MountBlob(repo_, "nothing-here", digest);
  COVE_ASSERT_OK(missing);
  EXPECT_FALSE(*missing);
  EXPECT_TRUE(recorder_->events.empty());

  auto mounted = service_->MountBlob(repo_, "base", digest);
  COVE_ASSERT_OK(mounted);
  EXPECT_EQ(mounted->value_or(0), 5u);
  EXPECT_EQ(service_->StatBlob(repo_, digest).value(), 5u);
  ASSERT_EQ(recorder_->Kinds(), Kinds{"blob-linked"});
  EXPECT_EQ(recorder_->events[0].mounted_from.value_or(""), "base");
}

TEST_F(RepositoryServiceTest, ManifestNeedsItsBlobsAndAnnouncesPutThenTag) {
  Digest config = PushBlob(repo_, "{}");
  std::string json = ManifestJson(config, 2, Digest::Of("layer"), 5);
  recorder_->events.clear();

  // A missing layer: nothing stored, nothing announced, the culprit named.
  Digest unknown;
  COVE_EXPECT_CODE(Put(repo_, json, "v1", &unknown), Code::kNotFound);
  EXPECT_EQ(unknown, Digest::Of("layer"));
  COVE_EXPECT_CODE(service_->ResolveTag(repo_, "v1"), Code::kNotFound);
  EXPECT_TRUE(recorder_->events.empty());

  // A descriptor whose size is not the blob's.
  PushBlob(repo_, "layer");
  recorder_->events.clear();
  COVE_EXPECT_CODE(Put(repo_, ManifestJson(config, 3, Digest::Of("layer"), 5), "v1"),
                   Code::kInvalidArgument);
  EXPECT_TRUE(recorder_->events.empty());

  // The store failing: nothing announced.
  meta_->fail_put_manifest = true;
  COVE_EXPECT_CODE(Put(repo_, json, "v1"), Code::kIOError);
  EXPECT_TRUE(recorder_->events.empty());
  meta_->fail_put_manifest = false;

  COVE_ASSERT_OK(Put(repo_, json, "v1"));
  ASSERT_EQ(recorder_->Kinds(), (Kinds{"manifest-put", "tag-set"}));
  EXPECT_EQ(recorder_->events[0].digest, Digest::Of(json));
  EXPECT_EQ(recorder_->events[0].size, json.size());
  EXPECT_EQ(recorder_->events[0].media_type, oci::kOciManifest);
  EXPECT_EQ(recorder_->events[1].tag, "v1");
  EXPECT_EQ(recorder_->events[1].digest, Digest::Of(json));
  EXPECT_FALSE(recorder_->events[1].previous);
  EXPECT_EQ(service_->GetManifest(repo_, Digest::Of(json)).value().bytes, json);

  // Putting it again under the same tag moves nothing.
  recorder_->events.clear();
  COVE_ASSERT_OK(Put(repo_, json, "v1"));
  EXPECT_EQ(recorder_->Kinds(), Kinds{"manifest-put"});

  // Another manifest under the tag moves it.
  PushBlob(repo_, "layer2");
  std::string json2 = ManifestJson(config, 2, Digest::Of("layer2"), 6);
  recorder_->events.clear();
  COVE_ASSERT_OK(Put(repo_, json2, "v1"));
  ASSERT_EQ(recorder_->Kinds(), (Kinds{"manifest-put", "tag-set"}));
  EXPECT_EQ(recorder_->events[1].previous.value_or(Digest()), Digest::Of(json));
  EXPECT_EQ(service_->ResolveTag(repo_, "v1").value(), Digest::Of(json2));

  // By digest: no tag event.
  recorder_->events.clear();
  COVE_ASSERT_OK(Put(repo_, json, std::nullopt));
  EXPECT_EQ(recorder_->Kinds(), Kinds{"manifest-put"});
}

TEST_F(RepositoryServiceTest, DeletesAnnounceOnlyWhatWasDeleted) {
  Digest config = PushBlob(repo_, "{}");
  Digest layer = PushBlob(repo_, "layer");
  std::string json = ManifestJson(config, 2, layer, 5);
  COVE_ASSERT_OK(Put(repo_, json, "v1"));
  COVE_ASSERT_OK(Put(repo_, json, "v2"));
  recorder_->events.clear();

  meta_->fail_delete = true;
  COVE_EXPECT_CODE(service_->DeleteTag(repo_, "v1"), Code::kIOError);
  COVE_EXPECT_CODE(service_->DeleteManifest(repo_, Digest::Of(json)), Code::kIOError);
  COVE_EXPECT_CODE(service_->UnlinkBlob(repo_, layer), Code::kIOError);
  COVE_EXPECT_CODE(service_->DeleteRegistry("myregistry"), Code::kIOError);
  EXPECT_TRUE(recorder_->events.empty());
  meta_->fail_delete = false;

  COVE_ASSERT_OK(service_->DeleteTag(repo_, "v1"));
  COVE_EXPECT_CODE(service_->DeleteTag(repo_, "v1"), Code::kNotFound);
  ASSERT_EQ(recorder_->Kinds(), Kinds{"tag-deleted"});
  EXPECT_EQ(recorder_->events[0].tag, "v1");
  EXPECT_EQ(recorder_->events[0].digest, Digest::Of(json));

  recorder_->events.clear();
  COVE_ASSERT_OK(service_->DeleteManifest(repo_, Digest::Of(json)));
  COVE_EXPECT_CODE(service_->DeleteManifest(repo_, Digest::Of(json)), Code::kNotFound);
  COVE_EXPECT_CODE(service_->ResolveTag(repo_, "v2"), Code::kNotFound);
  ASSERT_EQ(recorder_->Kinds(), Kinds{"manifest-deleted"});
  EXPECT_EQ(recorder_->events[0].digest, Digest::Of(json));

  recorder_->events.clear();
  COVE_ASSERT_OK(service_->UnlinkBlob(repo_, layer));
  COVE_EXPECT_CODE(service_->UnlinkBlob(repo_, layer), Code::kNotFound);
  EXPECT_EQ(recorder_->Kinds(), Kinds{"blob-unlinked"});

  recorder_->events.clear();
  COVE_ASSERT_OK(service_->DeleteRegistry("myregistry"));
  ASSERT_EQ(recorder_->Kinds(), Kinds{"registry-deleted"});
  EXPECT_EQ(recorder_->events[0].repo.registry, "myregistry");
  COVE_EXPECT_CODE(service_->StatBlob(repo_, config), Code::kNotFound);
}

TEST_F(RepositoryServiceTest, UnsubscribedObserversHearNothing) {
  Recorder second(*blobs_, *real_meta_);
  service_->Subscribe(&second);
  PushBlob(repo_, "one");
  service_->Unsubscribe(&second);
  PushBlob(repo_, "two");
  EXPECT_EQ(second.Kinds(), Kinds{"blob-linked"});
  EXPECT_EQ(recorder_->Kinds(), (Kinds{"blob-linked", "blob-linked"}));
}

TEST_F(RepositoryServiceTest, PurgeRemovesAbandonedUploadsQuietly) {
  auto session = service_->StartUpload(repo_);
  COVE_ASSERT_OK(session);
  std::string id = session->record.id;
  service_->KeepUpload(std::move(session->upload));
  EXPECT_EQ(service_->PurgeAbandonedUploads().value(), 0u);
  clock_.Advance(std::chrono::hours(25));
  EXPECT_EQ(service_->PurgeAbandonedUploads().value(), 1u);
  COVE_EXPECT_CODE(service_->FindUpload(repo_, id), Code::kNotFound);
  EXPECT_TRUE(recorder_->events.empty());
}

}  // namespace
}  // namespace cove::registry
