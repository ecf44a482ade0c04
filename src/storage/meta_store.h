// MetaStore: the registry's metadata — which blobs each repository may see, manifests, tags,
// referrers, and upload sessions — for every registry served by this node.
//
// Every key starts with the registry name (a node serves many registries) and a repository
// name. Repositories exist implicitly: a repository is listed while it has a linked blob or a
// manifest. Manifest bytes live here (they are at most 4 MiB) so that storing a manifest, its
// references and its tag is one atomic transaction: readers see all of it or none of it.
//
// SqliteMetaStore is the implementation (WAL mode); a PostgreSQL one will follow and must pass
// the same conformance suite (tests/storage/meta_store_conformance.h).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
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
};
using MetaStorePtr = std::unique_ptr<MetaStore>;

}  // namespace cove::storage
