// PostgresMetaStore: the MetaStore in a PostgreSQL database (libpq), shared by several stateless
// registry nodes of one region. Same answers as SqliteMetaStore (tests/storage/
// meta_store_conformance.h runs against both); every text column is COLLATE "C", so ORDER BY is
// byte-wise.
//
// Schema: one PostgreSQL schema per cove region (PostgresOptions::schema, created if missing),
// versioned in <schema>.cove_schema(version). Open() applies the migrations the database has not
// seen, each in its own transaction under pg_advisory_xact_lock (two nodes starting at once
// take turns); a database whose version is newer than this build is refused
// (kFailedPrecondition, naming both versions). Append migrations; never edit a shipped one.
// Version 1:
//   blob_links(registry, repository, digest, size, linked_ns)      PK(registry, repository, digest)
//   manifests(registry, repository, digest, media_type, bytes bytea, artifact_type, subject,
//             annotations, created_ns)                            PK(registry, repository, digest)
//   manifest_refs(registry, repository, manifest_digest, kind, position, ref_digest)
//             kind 0 = blob, 1 = child manifest; rows cascade with their manifest
//   tags(registry, repository, tag, digest)       PK(registry, repository, tag); cascades
//   uploads(id, registry, repository, acknowledged, started_ns)   PK(id)
//   gc_link_reviews(registry, repository, digest, queued_ns)       PK(registry, repository, digest)
//   gc_blob_reviews(digest, queued_ns)                             PK(digest)
//
// Connections: a pool of `pool_size` connections (a mutex and a condition variable; a caller
// waits for a free one). Every connection has search_path = the schema. Writes run in explicit
// READ COMMITTED transactions; the online GC claims review rows with SELECT ... FOR UPDATE
// SKIP LOCKED and decides in the same transaction (see meta_store.h), and PutManifest holds
// FOR SHARE locks on the links of the blobs it references, so it serialises with the link sweep.
// Every transaction takes row locks in one order — link reviews, links, manifests (then their
// tags), blob reviews — and several rows of one table sorted, so writers do not deadlock.
//
// Retries: a transaction that fails with serialization_failure (40001) or deadlock_detected
// (40P01) is run again, up to 5 attempts, after a small jittered backoff. A connection found
// broken (PQstatus bad, SQLSTATE 08*, or the server's 57P01-57P03 "terminating connection") is
// reset (PQreset) and the operation retried once — only when it did not reach COMMIT: a COMMIT
// that fails on the connection has an unknown outcome and answers kUnavailable.
// Errors: server unreachable → kUnavailable naming host, database and libpq's message; unique
// violation → kAlreadyExists; other constraint violations → kFailedPrecondition; a malformed
// conninfo → kInvalidArgument.
//
// Change feed: every transaction that deletes a manifest, deletes or moves a tag, or deletes a
// registry sends NOTIFY cove_<schema> with a JSON payload {"registry","repository","tag"} or
// {"registry","repository","digest"} or {"registry"}; PostgreSQL delivers it when the
// transaction commits. Listen() turns the feed into Invalidation callbacks (for
// CachingMetaStore on the other nodes).
//
// Ownership: the store owns its connections and its listener thread. Thread-safety: every
// method may be called from any thread; Listen's callback runs on the listener thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "storage/meta_store.h"

namespace cove::storage {

struct PostgresOptions {
  // A "postgresql://..." URI or "key=value ..." libpq connection string.
  std::string conninfo;
  // Lower-case letters, digits and '_', starting with a letter or '_', at most 48 bytes
  // (e.g. "cove_westus"); one per cove region.
  std::string schema = "cove";
  int pool_size = 8;
  // Stamps review queues (LinkBlob, ProtectBlob, deletions). Null: a SystemClock. Must outlive
  // the store.
  const Clock* clock = nullptr;
};

// One change another node made, from the change feed. Exactly one of: `everything` (the feed
// was interrupted; anything may have changed); `registry` alone (the registry was deleted);
// `registry`, `repository` and `tag` (a tag was moved or deleted); `registry`, `repository` and
// `digest` (a manifest was deleted).
struct Invalidation {
  bool everything = false;
  std::string registry;
  std::string repository;
  std::string tag;
  std::string digest;
};

class PostgresMetaStore final : public MetaStore {
 public:
  // Connects, creates the schema if missing and migrates it. kInvalidArgument for a bad schema
  // name, pool size or conninfo; kUnavailable if the server cannot be reached (naming host and
  // database); kFailedPrecondition if the schema is newer than this build.
  static Result<MetaStorePtr> Open(PostgresOptions options);

  ~PostgresMetaStore() override;

  // Starts the change feed: a dedicated connection LISTENs on cove_<schema>; `on_change` is
  // called on the listener thread for every notification committed after Listen returned. When
  // the connection drops, the listener reconnects (backing off up to a second) and then calls
  // `on_change` with Invalidation{.everything = true}, since notifications may have been lost.
  // Stops in the destructor. kUnavailable if the first LISTEN fails; kFailedPrecondition when
  // already listening.
  Status Listen(std::function<void(const Invalidation&)> on_change);

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
  // A link is kept while a manifest of its repository references the digest or has it.
  Result<uint64_t> SweepLinks(Clock::TimePoint due_before, uint64_t limit) override;
  // When `delete_bytes` fails, its error is returned and the review stays.
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

  class Engine;  // the pool, the transaction runner and the listener

 private:
  explicit PostgresMetaStore(std::unique_ptr<Engine> engine);

  std::unique_ptr<Engine> engine_;
};

}  // namespace cove::storage
