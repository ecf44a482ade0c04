// FilesystemBlobStore: the BlobStore on a local (POSIX) filesystem, one file per blob.
//
// On-disk layout under `root` (the one place it is documented):
//
//   <root>/blobs/<alg>/<first 2 hex>/<hex>   committed blobs, <alg> is "sha256" or "sha512";
//                                            read-only once there, never partially written
//   <root>/uploads/<id>/data                 bytes of upload <id>, appended in order
//   <root>/tmp/<name>                        Put() staging files; removed at Open()
//
// A blob reaches blobs/ only by rename(2) of a file that was verified against its digest and
// fsynced; the fan-out directory is fsynced after the rename. A crash therefore leaves a blob
// either complete or absent; leftovers in tmp/ are deleted when the store is opened, and upload
// directories without a data file (a crash between mkdir and create, or between the commit's
// rename and the clean-up) are removed too.
//
// Commit order (as in CNCF distribution): the running SHA-256 of the upload is compared with the
// expected digest (the file is not re-read; a sha512 digest is the exception: the store hashes
// the upload's file at commit, since it cannot know the algorithm while bytes stream in) →
// fsync(data) → mkdir of the fan-out directory → rename into blobs/ → fsync(fan-out dir) →
// removal of uploads/<id>.
//
// If the layout's directories vanish while the store is open (a disk wiped or replaced under a
// running process), the next write re-creates them, so a QuorumBlobStore can repair the root.
//
// Ownership: the store owns the files under `root`; one process opens a root at a time (Open()
// deletes tmp/ leftovers, which would break another process's Put in progress). Uploads share
// the bookkeeping of live handles with the store through a shared_ptr, so an Upload may outlive
// the store object (it then still works on the files).
//
// Thread-safety: all BlobStore methods may be called from any thread. One live Upload handle
// per upload id (kFailedPrecondition for a second one); each Upload is used by one thread at a
// time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/blob_store.h"

namespace cove::storage {

class FilesystemBlobStore final : public BlobStore {
 public:
  // Creates the layout under `root` if missing (mkdir -p) and removes Put() leftovers in tmp/.
  // `clock` stamps uploads' modification times (UploadInfo::modified) and must outlive the store
  // and its uploads. kIOError if the directories cannot be created.
  static Result<BlobStorePtr> Open(std::string root, const Clock& clock);

  ~FilesystemBlobStore() override;

  Result<uint64_t> Stat(const Digest& digest) override;
  Result<BlobFile> Open(const Digest& digest, uint64_t offset = 0,
                        std::optional<uint64_t> length = {}) override;
  Result<std::string> Read(const Digest& digest, uint64_t max_size) override;
  Status Put(const Digest& digest, std::string_view bytes) override;
  Status Delete(const Digest& digest) override;

  Result<UploadPtr> CreateUpload(std::string_view id) override;
  Result<UploadPtr> ResumeUpload(std::string_view id, uint64_t acknowledged) override;
  Status DeleteUpload(std::string_view id) override;
  Result<std::vector<UploadInfo>> ListUploads() override;

  // Path of blob `digest` under the root (whether or not it exists). For tests and tools.
  std::string BlobPath(const Digest& digest) const;
  // Every committed blob, sorted (for repair and consistency checks; not on a request path).
  // Files under blobs/ that this store did not name are ignored. kIOError if a directory
  // cannot be read.
  Result<std::vector<Digest>> ListBlobs() const;

  struct Shared;  // paths, clock and the set of live upload ids; shared with Upload handles

 private:
  explicit FilesystemBlobStore(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
};

}  // namespace cove::storage
