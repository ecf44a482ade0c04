// MetaStore: the registry's metadata — which blobs each repository may see, manifests, tags,
// referrers, and upload sessions — for every registry served by this node.
//
// Every key starts with the registry name (a node serves many registries) and a repository
// name. Repositories exist implicitly: a repository is listed while it has a linked blob or a
// manifest. Manifest bytes live here (they are at most 4 MiB) so that storing a manifest, its
// references and its tag is one atomic transaction: readers see all of it or none of it.
//
// SqliteMetaStore (one file, WAL mode) is the embedded default; PostgresMetaStore serves several
// stateless registry nodes. Both pass the same conformance suites
// (tests/storage/meta_store_conformance.h, tests/storage/meta_store_gc_conformance.h).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/error.h"

namespace cove::storage {

struct RepoKey {
  std::string registry;
  std::string repository;
};

struct ManifestRecord {
  Digest digest;
  std::string media_type;
  std::string bytes;                 // exactly as pushed
  std::string artifact_type;         // artifactType, else config.mediaType (referrers rule)
  std::optional<Digest> subject;     // the subject's digest, for the referrers API
  std::string annotations_json;      // the manifest's "annotations" object as JSON, or ""
  std::vector<Digest> blobs;         // config and layers it references
  std::vector<Digest> manifests;     // child manifests (index / manifest list)
  Clock::TimePoint created;
};

// What a manifest GET serves: the stored bytes and their media type.
struct ManifestContent {
  std::string media_type;
  std::string bytes;
};

// One entry of a referrers answer.
struct Referrer {
  Digest digest;
  std::string media_type;
  uint64_t size = 0;
  std::string artifact_type;
  std::string annotations_json;
};

struct UploadRecord {
  std::string id;
  RepoKey repo;
  uint64_t acknowledged = 0;  // bytes the client was told were received
  Clock::TimePoint started;
};

// Paging for lists: entries strictly after `last` in byte-wise order, at most `limit` of them
// (no limit when unset).
struct Page {
  std::string last;
  std::optional<uint64_t> limit;
};

class MetaStore {
 public:
  virtual ~MetaStore() = default;

  // ---- blobs in repositories ----
  // Makes blob `digest` (of `size` bytes) visible in `repo`. Idempotent.
  virtual Status LinkBlob(const RepoKey& repo, const Digest& digest, uint64_t size) = 0;
  // Size of the linked blob, or kNotFound if `repo` does not link it.
  virtual Result<uint64_t> LinkedBlob(const RepoKey& repo, const Digest& digest) = 0;
  // Removes the link; kNotFound if there was none.
  virtual Status UnlinkBlob(const RepoKey& repo, const Digest& digest) = 0;
  // True if any repository of any registry still links `digest` or a manifest references it
  // (the garbage collector's question).
  virtual Result<bool> BlobReferenced(const Digest& digest) = 0;

  // ---- manifests and tags ----
  // Stores `manifest` in `repo` and, when `tag` is set, points the tag at it; one transaction.
  // Re-putting the same digest is allowed (it updates nothing but the tag).
  virtual Status PutManifest(const RepoKey& repo, const ManifestRecord& manifest,
                             const std::optional<std::string>& tag) = 0;
  // kNotFound if `repo` has no manifest `digest`.
  virtual Result<ManifestRecord> GetManifest(const RepoKey& repo, const Digest& digest) = 0;
  // Only the media type and bytes (the hot path of a pull; no references are loaded).
  // kNotFound if `repo` has no manifest `digest`.
  virtual Result<ManifestContent> GetManifestContent(const RepoKey& repo,
                                                     const Digest& digest) = 0;
  // Digest the tag points at, or kNotFound.
  virtual Result<Digest> ResolveTag(const RepoKey& repo, const std::string& tag) = 0;
  // Deletes the manifest and every tag pointing at it; kNotFound if absent.
  virtual Status DeleteManifest(const RepoKey& repo, const Digest& digest) = 0;
  // Deletes one tag (the manifest stays); kNotFound if absent.
  virtual Status DeleteTag(const RepoKey& repo, const std::string& tag) = 0;
  // Tags of `repo` in byte-wise order, paged. kNotFound if the repository does not exist.
  virtual Result<std::vector<std::string>> ListTags(const RepoKey& repo, const Page& page) = 0;
  // Repositories of `registry` in byte-wise order, paged.
  virtual Result<std::vector<std::string>> ListRepositories(const std::string& registry,
                                                            const Page& page) = 0;
  // Deletes everything recorded for `registry` — blob links, manifests, tags and upload
  // sessions of all its repositories — in one transaction (a registry deleted from the control
  // plane; one created again under the name starts empty). Blob bytes stay in the BlobStore,
  // shared by content. Ok when there was nothing.
  virtual Status DeleteRegistry(const std::string& registry) = 0;
  // Manifests in `repo` whose subject is `subject`, optionally only those with
  // `artifact_type`; ordered by digest.
  virtual Result<std::vector<Referrer>> ListReferrers(
      const RepoKey& repo, const Digest& subject,
      const std::optional<std::string>& artifact_type) = 0;

  // ---- upload sessions ----
  virtual Status CreateUpload(const UploadRecord& upload) = 0;  // kAlreadyExists
  virtual Result<UploadRecord> GetUpload(const std::string& id) = 0;  // kNotFound
  virtual Status SetUploadAcknowledged(const std::string& id, uint64_t acknowledged) = 0;
  virtual Status DeleteUpload(const std::string& id) = 0;  // kNotFound
  // Uploads started before `cutoff` (abandoned).
  virtual Result<std::vector<UploadRecord>> ListUploadsStartedBefore(Clock::TimePoint cutoff) = 0;

  // ---- online garbage collection (no read-only window) ----
  // Garbage is found through review queues, as GitLab's online GC does, not by scanning: every
  // event that can leave something unreferenced queues a review of it in the same transaction,
  // stamped with the store's clock (a later event on the same key moves the stamp later):
  //   - a blob link (registry, repository, digest) is queued by LinkBlob (an upload whose
  //     manifest never comes) and by every manifest deletion (DeleteManifest, a retention
  //     sweep) for each blob the manifest referenced;
  //   - a blob (digest) is queued by UnlinkBlob, by the link sweep when it removes a link, by
  //     DeleteRegistry for every blob the registry linked, by a manifest deletion for the
  //     manifest's own digest, and by ProtectBlob.
  // The sweeps below take what was queued at or before `due_before` (the caller passes
  // now - grace period), decide under a claim that writers touching the same key wait for, and
  // drop the review. Sweeps on several nodes at once each take different reviews.

  // Called before an upload commits blob bytes and before a cross-repository mount links a
  // blob: stamps the blob's review with now, so no sweep deletes its bytes for a grace period.
  // Waits while a sweep is deciding about `digest` (it may be deleting the bytes right then; a
  // caller that then finds the blob missing writes it again).
  virtual Status ProtectBlob(const Digest& digest) = 0;
  // Sweeps up to `limit` due link reviews: a link that no manifest of its repository
  // references is removed (and its blob queued); any other review is dropped. A PutManifest
  // referencing the blob and the sweep of its link serialise: the manifest commits and the link
  // stays, or the link is gone first. Returns the number of links removed.
  virtual Result<uint64_t> SweepLinks(Clock::TimePoint due_before, uint64_t limit) = 0;
  // Sweeps one due blob review: when nothing references the blob (BlobReferenced is false) it
  // calls `delete_bytes(digest)` while still holding the claim — a ProtectBlob of the same
  // digest waits — and drops the review if that returned Ok (kNotFound counts as Ok); when the
  // callback fails the review stays for a later sweep. Returns the digest reviewed (deleted or
  // not) as `reviewed`, `deleted` says which; nullopt when no review is due.
  struct BlobSweep {
    Digest reviewed;
    bool deleted = false;
  };
  virtual Result<std::optional<BlobSweep>> SweepNextBlob(
      Clock::TimePoint due_before, const std::function<Status(const Digest&)>& delete_bytes) = 0;
  // ACR's retention policy: deletes up to `limit` manifests of `registry` created before
  // `created_before` that no tag points at and no other manifest of the repository references
  // (index children stay), skipping artifacts whose subject manifest is still stored. Deletion
  // queues like DeleteManifest. Returns how many were deleted.
  virtual Result<uint64_t> DeleteUntaggedManifests(const std::string& registry,
                                                   Clock::TimePoint created_before,
                                                   uint64_t limit) = 0;
  // Storage used by `registry` (`az acr show-usage`'s Size): the sizes of the distinct blobs
  // its repositories link plus the bytes of its manifests.
  virtual Result<uint64_t> RegistryUsage(const std::string& registry) = 0;
  // Reviews not yet swept: (links, blobs). For tests and /cove/health.
  struct ReviewBacklog {
    uint64_t links = 0;
    uint64_t blobs = 0;
  };
  virtual Result<ReviewBacklog> PendingReviews() = 0;
};
using MetaStorePtr = std::unique_ptr<MetaStore>;

}  // namespace cove::storage
