// SqliteMetaStore: the MetaStore in one SQLite database file (or ":memory:" for tests).
//
// The database runs in WAL mode with synchronous=FULL, so a write that returned Ok survives
// kill -9 and power loss; foreign keys are on; a busy timeout covers other processes (tools)
// holding the file. The schema is versioned with PRAGMA user_version; Open() applies the
// migrations a database has not seen, each in its own transaction, so a later version adds a
// migration at the end of the list (never edits an old one).
//
// Schema (version 1); every text column is COLLATE BINARY, so ORDER BY is byte-wise:
//   blob_links(registry, repository, digest, size)                PK(registry, repository, digest)
//   manifests(registry, repository, digest, media_type, bytes, artifact_type, subject,
//             annotations, created_ns)                           PK(registry, repository, digest)
//   manifest_refs(registry, repository, manifest_digest, kind, position, ref_digest)
//             kind 0 = blob, 1 = child manifest; rows cascade with their manifest
//   tags(registry, repository, tag, digest)                      PK(registry, repository, tag);
//             digest references manifests, cascading on delete
//   uploads(id, registry, repository, acknowledged, started_ns)  PK(id)
// Version 2 adds online GC's review queues (meta_store.h), stamped with the store's Clock:
//   gc_link_reviews(registry, repository, digest, queued_ns)      PK(registry, repository, digest)
//   gc_blob_reviews(digest, queued_ns)                            PK(digest)
//
// Garbage collection: one connection and one writer, so a sweep's claim is its BEGIN IMMEDIATE
// transaction under the mutex — SweepNextBlob runs `delete_bytes` inside it, and ProtectBlob
// (like every other method) waits for it. `delete_bytes` must not call this store. Beyond the
// header's queueing rules, a link review whose link is already gone queues its blob (an
// UnlinkBlob before the deletion of the manifest that still referenced the blob would otherwise
// leave nothing queued), and DeleteRegistry also queues what its manifests referenced.
//
// Ownership: the store owns its connection. Thread-safety: every method may be called from any
// thread; one connection serialises them behind a mutex (SQLite writes are serial anyway), with
// prepared statements cached for the connection's life.
#pragma once

#include <memory>
#include <string>

#include "storage/meta_store.h"

namespace cove::storage {

class SqliteMetaStore final : public MetaStore {
 public:
  // Opens (creating if needed) the database at `path` and migrates it to the current schema.
  // kIOError if the file cannot be opened; kCorruption if it is not a database or has a newer
  // schema than this build knows.
  // Queue stamps come from `clock` (which must outlive the store); the first form uses the
  // system clock.
  static Result<MetaStorePtr> Open(std::string path);
  static Result<MetaStorePtr> Open(std::string path, const Clock& clock);

  ~SqliteMetaStore() override;

  Status LinkBlob(const RepoKey& repo, const Digest& digest, uint64_t size) override;
  Result<uint64_t> LinkedBlob(const RepoKey& repo, const Digest& digest) override;
  Status UnlinkBlob(const RepoKey& repo, const Digest& digest) override;
  // Also true while a manifest with that digest is stored (its bytes may be kept as a blob).
  Result<bool> BlobReferenced(const Digest& digest) override;

  Status PutManifest(const RepoKey& repo, const ManifestRecord& manifest,
                     const std::optional<std::string>& tag) override;
  Result<ManifestRecord> GetManifest(const RepoKey& repo, const Digest& digest) override;
  Result<ManifestContent> GetManifestContent(const RepoKey& repo, const Digest& digest) override;
  Result<Digest> ResolveTag(const RepoKey& repo, const std::string& tag) override;
  Status DeleteManifest(const RepoKey& repo, const Digest& digest) override;
  Status DeleteRegistry(const std::string& registry) override;
  Status DeleteTag(const RepoKey& repo, const std::string& tag) override;
  Result<std::vector<std::string>> ListTags(const RepoKey& repo, const Page& page) override;
  Result<std::vector<std::string>> ListRepositories(const std::string& registry,
                                                    const Page& page) override;
  Result<std::vector<Referrer>> ListReferrers(
      const RepoKey& repo, const Digest& subject,
      const std::optional<std::string>& artifact_type) override;

  Status CreateUpload(const UploadRecord& upload) override;
  Result<UploadRecord> GetUpload(const std::string& id) override;
  Status SetUploadAcknowledged(const std::string& id, uint64_t acknowledged) override;
  Status DeleteUpload(const std::string& id) override;
  Result<std::vector<UploadRecord>> ListUploadsStartedBefore(Clock::TimePoint cutoff) override;

  Status ProtectBlob(const Digest& digest) override;
  Result<uint64_t> SweepLinks(Clock::TimePoint due_before, uint64_t limit) override;
  Result<std::optional<BlobSweep>> SweepNextBlob(
      Clock::TimePoint due_before,
      const std::function<Status(const Digest&)>& delete_bytes) override;
  Result<uint64_t> DeleteUntaggedManifests(const std::string& registry,
                                           Clock::TimePoint created_before,
                                           uint64_t limit) override;
  Result<uint64_t> RegistryUsage(const std::string& registry) override;
  Result<ReviewBacklog> PendingReviews() override;

  // The schema version this build writes.
  static int SchemaVersion();

  class Db;  // the connection and its statement cache

 private:
  SqliteMetaStore(std::unique_ptr<Db> db, const Clock& clock);
  int64_t NowNanos() const;

  std::unique_ptr<Db> db_;
  const Clock& clock_;
};

}  // namespace cove::storage
