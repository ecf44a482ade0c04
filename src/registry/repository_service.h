// RepositoryService: the registry's domain — a repository's blobs, manifests, tags, referrers
// and uploads, the order in which things become visible, and the events that say what changed.
// The OCI handlers (registry.cc, blobs.cc, manifests.cc, uploads.cc) do HTTP only: they parse
// requests, call this service, and translate its Errors to OCI error codes at the edge. As in
// distribution/distribution, handlers sit in front of the storage logic and never reach the
// stores themselves; this is the only code in cove_registry that calls BlobStore and MetaStore.
//
// Commit order (crash-safe; nothing is visible before it is verified):
//   blob:     bytes stream into an upload (hashed as they come) → CommitUpload protects the
//             digest from the garbage collector for a grace period (MetaStore::ProtectBlob) →
//             verifies the digest → the BlobStore fsyncs and renames the bytes into the
//             content-addressed store → the blob is linked into the repository (MetaStore) → the
//             upload session is forgotten → kBlobLinked. A crash before the link leaves an
//             unreferenced blob (the garbage collector's, registry/garbage_collector.h), never a
//             link to missing bytes.
//   manifest: every blob and child manifest it names must already be in the repository; then
//             the manifest, its references and its tag are stored in one MetaStore transaction
//             → kManifestPut → kTagSet (when the tag was new or pointed elsewhere).
//
// Events: subscribers (RepositoryObserver) are called synchronously, on the thread that made
// the change, after the change is durable in the stores and only when it succeeded; a failed
// call emits nothing. One call's events arrive in the order above; concurrent calls may
// interleave theirs. An observer must not block for long (it runs on request threads) and must
// not subscribe or unsubscribe from inside OnRepositoryEvent. Replication (issue 12) and garbage
// collection (issue 13) subscribe here.
//
// Upload handles (with their running hash) are kept between the requests of a chunked upload so
// each chunk costs only its own bytes; after a restart the first request of an upload resumes it
// from disk at the length the client was told.
//
// Errors are cove Codes: kNotFound (no such blob, manifest, tag, upload or repository),
// kInvalidArgument (digest mismatch, malformed input), kFailedPrecondition (an upload busy with
// another request), and the stores' own (kIOError, kUnavailable, kCorruption...).
//
// Thread-safety: every method may be called from any thread. One upload handle (UploadPtr) must
// be driven by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/error.h"
#include "oci/manifest.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"

namespace cove::registry {

// What changed. Fields not named for a kind are empty.
struct RepositoryEvent {
  enum class Kind {
    kBlobLinked,       // repo, digest, size; mounted_from for a cross-repository mount
    kBlobUnlinked,     // repo, digest
    kManifestPut,      // repo, digest, size (bytes), media_type; also when stored again
    kTagSet,           // repo, tag, digest; previous when the tag moved
    kTagDeleted,       // repo, tag, digest (what it pointed at just before, when known)
    kManifestDeleted,  // repo, digest; the tags that pointed at it are gone with it
    kRegistryDeleted,  // repo.registry: every repository, manifest, tag and link of it
  };
  Kind kind = Kind::kBlobLinked;
  storage::RepoKey repo;
  Digest digest;
  std::string tag;
  std::optional<Digest> previous;
  uint64_t size = 0;
  std::string media_type;
  std::optional<std::string> mounted_from;
};

std::string_view EventKindName(RepositoryEvent::Kind kind);

class RepositoryObserver {
 public:
  virtual ~RepositoryObserver() = default;
  // Called after the change is durable; see the header comment for the threading rules.
  virtual void OnRepositoryEvent(const RepositoryEvent& event) = 0;
};

struct RepositoryServiceOptions {
  // Uploads not completed within this time are purged.
  std::chrono::seconds upload_ttl{24 * 3600};
  // Idle upload handles kept open between chunks.
  size_t max_idle_uploads = 256;  // each holds a file descriptor
  // Makes upload ids; default: 128 random bits, hex. Tests may inject a sequence.
  std::function<std::string()> new_upload_id;
};

// A started upload: its session and the handle its bytes are written through.
struct UploadSession {
  storage::UploadRecord record;
  storage::UploadPtr upload;
};

class RepositoryService {
 public:
  RepositoryService(storage::BlobStore& blobs, storage::MetaStore& meta, const Clock& clock,
                    RepositoryServiceOptions options = {});
  ~RepositoryService();
  RepositoryService(const RepositoryService&) = delete;
  RepositoryService& operator=(const RepositoryService&) = delete;

  // ---- events ----
  // `observer` must outlive the service or be unsubscribed first.
  void Subscribe(RepositoryObserver* observer);
  void Unsubscribe(RepositoryObserver* observer);

  // ---- blobs ----
  // Size of blob `digest` if `repo` links it; kNotFound otherwise.
  Result<uint64_t> StatBlob(const storage::RepoKey& repo, const Digest& digest);
  // The bytes of a blob found with StatBlob, opened for reading the range [offset, offset +
  // length) (BlobStore::Open); kNotFound, kOutOfRange.
  Result<storage::BlobFile> OpenBlob(const Digest& digest, uint64_t offset = 0,
                                     std::optional<uint64_t> length = {});
  // Removes the blob from `repo` (the bytes stay for the collector); kNotFound. kBlobUnlinked.
  Status UnlinkBlob(const storage::RepoKey& repo, const Digest& digest);
  // Links into `repo` the blob `digest` that repository `from` of the same registry links.
  // The blob's size when mounted; nullopt when `from` does not have it (the caller starts an
  // ordinary upload instead). kBlobLinked with mounted_from.
  Result<std::optional<uint64_t>> MountBlob(const storage::RepoKey& repo, const std::string& from,
                                            const Digest& digest);

  // ---- uploads ----
  // Starts an empty upload in `repo` (staged bytes first, then the session).
  Result<UploadSession> StartUpload(const storage::RepoKey& repo);
  // The session of upload `id` in `repo`; kNotFound if absent or in another repository.
  Result<storage::UploadRecord> FindUpload(const storage::RepoKey& repo, const std::string& id);
  // The handle of an upload, at its acknowledged length: the one kept since the last chunk, or
  // reopened from disk. kFailedPrecondition if another request holds it.
  Result<storage::UploadPtr> TakeUpload(const storage::UploadRecord& record);
  // Keeps a handle for the upload's next request.
  void KeepUpload(storage::UploadPtr upload);
  // Records the bytes appended so far as acknowledged to the client, then keeps the handle.
  // On error the handle is dropped (the next request resumes at the old length).
  Status AcknowledgeUpload(storage::UploadPtr upload);
  // Verifies the bytes against `expected`, moves them into the content-addressed store, links
  // the blob into the upload's repository and forgets the session (the commit order above).
  // Returns the blob size and emits kBlobLinked. kInvalidArgument when the digest does not
  // match: nothing changed and `upload` is still usable. Any other error drops `upload`;
  // kUnavailable when the garbage collector took the bytes before they were linked (a commit
  // stalled for longer than the grace period): the client uploads again.
  Result<uint64_t> CommitUpload(const storage::UploadRecord& record, storage::UploadPtr& upload,
                                const Digest& expected);
  // Removes a client's upload: its staged bytes and session. kFailedPrecondition if a request
  // is using it; kNotFound if the session is gone.
  Status CancelUpload(const storage::UploadRecord& record);
  // Removes what is left of an upload that did not become a blob (best effort; its handle must
  // already be released).
  void DiscardUpload(const std::string& id);
  // Deletes uploads started more than options.upload_ttl ago (and staged bytes with no
  // session). Returns how many were removed.
  Result<size_t> PurgeAbandonedUploads();

  // ---- manifests and tags ----
  // Stores `manifest` (already parsed from `bytes`, whose digest is `digest`) in `repo` and
  // points `tag` at it, after checking that every blob and child manifest it names is in the
  // repository (foreign layers excepted). kNotFound when one is missing (`*unknown`, when set,
  // names it); kInvalidArgument when a descriptor's size is not the blob's. Emits kManifestPut,
  // then kTagSet when the tag was new or moved.
  Status PutManifest(const storage::RepoKey& repo, const oci::ParsedManifest& manifest,
                     const Digest& digest, std::string bytes, const std::optional<std::string>& tag,
                     Digest* unknown = nullptr);
  Result<Digest> ResolveTag(const storage::RepoKey& repo, const std::string& tag);
  Result<storage::ManifestContent> GetManifest(const storage::RepoKey& repo, const Digest& digest);
  // Deletes the manifest and its tags; kNotFound. kManifestDeleted.
  Status DeleteManifest(const storage::RepoKey& repo, const Digest& digest);
  // Deletes one tag (the manifest stays); kNotFound. kTagDeleted.
  Status DeleteTag(const storage::RepoKey& repo, const std::string& tag);
  Result<std::vector<std::string>> ListTags(const storage::RepoKey& repo,
                                            const storage::Page& page);
  Result<std::vector<std::string>> ListRepositories(const std::string& registry,
                                                    const storage::Page& page);
  Result<std::vector<storage::Referrer>> ListReferrers(
      const storage::RepoKey& repo, const Digest& subject,
      const std::optional<std::string>& artifact_type);

  // ---- registries ----
  // Deletes the content of registry `name`: its repositories, manifests, tags, blob links and
  // upload sessions (staged bytes included). Blob bytes stay in the BlobStore until collected.
  // What was deleted before an error stays deleted. kRegistryDeleted on success.
  Status DeleteRegistry(const std::string& name);

 private:
  void Emit(const RepositoryEvent& event);
  // Links a blob whose review ProtectBlob stamped, then checks that its bytes are still there;
  // kNotFound (and no link) when a sweep took them first.
  Status LinkStoredBlob(const storage::RepoKey& repo, const Digest& digest, uint64_t size);
  void ForgetUpload(const std::string& id);

  storage::BlobStore& blobs_;
  storage::MetaStore& meta_;
  const Clock& clock_;
  RepositoryServiceOptions options_;

  std::mutex observers_mu_;
  std::vector<RepositoryObserver*> observers_;  // guarded by observers_mu_

  std::mutex uploads_mu_;
  std::list<storage::UploadPtr> idle_uploads_;  // most recently used at the front
  std::unordered_map<std::string, std::list<storage::UploadPtr>::iterator> idle_index_;
};

}  // namespace cove::registry
