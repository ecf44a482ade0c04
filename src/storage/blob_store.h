// BlobStore: content-addressed bytes (image layers, configs) and the uploads that create them.
//
// A blob is named by its digest and is immutable. It becomes visible to Stat/Open only after its
// bytes were verified against the digest, fsynced, and renamed into place: a crash at any moment
// leaves either the whole blob or nothing. Blobs are shared by every registry and repository on
// the node; which repository may see a blob is metadata (MetaStore::LinkBlob), not the store's
// business.
//
// An Upload is an append-only staging area with an id. Append() writes and hashes as bytes
// stream in; Flush() makes them durable and resumable from any node (the caller flushes before
// it acknowledges a length); Commit() checks the digest and moves the bytes into the
// content-addressed store. Uploads outlive the process: after a restart ResumeUpload() reopens
// one at the length the caller acknowledged (bytes past it, from a request interrupted by the
// crash, are cut off).
//
// Reading: Open() returns a BlobFile. A seekable one (stream == false, local stores) is a file
// the HTTP server may pread/sendfile from; a stream (stream == true, remote stores) is a pipe
// that delivers the blob's bytes in order and must be read sequentially to EOF.
//
// Thread-safety: a BlobStore may be called from any thread. One Upload object must be driven by
// one thread at a time; the store refuses a second live handle to the same upload id
// (kFailedPrecondition) so two requests cannot interleave appends.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace cove::storage {

struct BlobFile {
  UniqueFd fd;        // open for reading, positioned at 0
  uint64_t size = 0;  // the whole blob's size
  // True when `fd` is a pipe (not seekable): it delivers exactly the bytes [offset, offset +
  // length) that Open was asked for, in order, and ends early (EOF before them all) if the
  // store failed or found the bytes corrupt midway. False: a file holding the whole blob.
  bool stream = false;
};

// Ok if `bytes` hash to `digest` (with its algorithm); kInvalidArgument naming both digests
// otherwise. Every store's Put checks this before it writes anything.
inline Status CheckBytes(const Digest& digest, std::string_view bytes) {
  Digest actual = Digest::Of(bytes, digest.algorithm());
  if (actual == digest) return Ok();
  return Fail(Code::kInvalidArgument,
              "bytes have digest " + actual.str() + ", not " + digest.str());
}

// The length of the range [offset, offset + length) of a blob of `size` bytes (length defaults
// to the rest), or kOutOfRange naming `digest` if the range does not fit.
inline Result<uint64_t> BlobRangeLength(const Digest& digest, uint64_t size, uint64_t offset,
                                        std::optional<uint64_t> length) {
  uint64_t n = length.value_or(offset <= size ? size - offset : 0);
  if (offset > size || n > size - offset) {
    return Fail(Code::kOutOfRange, "range " + std::to_string(offset) + "+" + std::to_string(n) +
                                       " is outside blob " + digest.str() + " of " +
                                       std::to_string(size) + " bytes");
  }
  return n;
}

class Upload {
 public:
  // Releases the live handle; the upload stays on disk for a later ResumeUpload.
  virtual ~Upload() = default;
  virtual const std::string& id() const = 0;
  // Bytes appended so far.
  virtual uint64_t size() const = 0;
  // Writes `data` at the end and feeds it to the running hash. kIOError when the disk fails;
  // the handle is then unusable and the caller resumes the upload at its acknowledged length.
  virtual Status Append(std::string_view data) = 0;
  // Makes every appended byte durable and resumable from any node: after Ok, ResumeUpload(id,
  // size()) on any node (or process) continues from here. The caller flushes before it
  // acknowledges a length. kIOError/kUnavailable when the storage fails (the handle is then
  // unusable, as after a failed Append).
  virtual Status Flush() = 0;
  // Verifies that the bytes appended so far have digest `expected`; if so makes them the blob
  // `expected` (fsync, rename, fsync of the directory) and removes the upload. Returns the blob
  // size. kInvalidArgument if the digest does not match (the upload is left as it was);
  // kIOError on disk failure. If the blob already exists the staged bytes are simply dropped.
  virtual Result<uint64_t> Commit(const Digest& expected) = 0;
};
using UploadPtr = std::unique_ptr<Upload>;

struct UploadInfo {
  std::string id;
  uint64_t size = 0;
  Clock::TimePoint modified;  // last append (file modification time)
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Size of blob `digest`, or kNotFound.
  virtual Result<uint64_t> Stat(const Digest& digest) = 0;
  // The blob opened for reading, for the bytes [offset, offset + length) (length defaults to the
  // rest of the blob). A seekable BlobFile holds the whole blob (the caller reads the range); a
  // stream delivers just the range. kNotFound; kOutOfRange if the range is outside the blob.
  virtual Result<BlobFile> Open(const Digest& digest, uint64_t offset = 0,
                                std::optional<uint64_t> length = {}) = 0;
  // The whole blob if it is at most `max_size` bytes; kNotFound; kResourceExhausted if larger.
  virtual Result<std::string> Read(const Digest& digest, uint64_t max_size) = 0;
  // Stores `bytes` as blob `digest` in one step (verify, write, fsync, rename).
  // kInvalidArgument if the bytes do not hash to `digest`.
  virtual Status Put(const Digest& digest, std::string_view bytes) = 0;
  // Removes the blob; kNotFound if absent.
  virtual Status Delete(const Digest& digest) = 0;

  // Starts an empty upload with the given id (the caller makes ids unguessable).
  // kAlreadyExists if the id is taken; kInvalidArgument if the id has characters other than
  // [A-Za-z0-9_-] or is longer than 128.
  virtual Result<UploadPtr> CreateUpload(std::string_view id) = 0;
  // Reopens upload `id` at length `acknowledged` (truncating anything past it) and restores the
  // running hash. kNotFound if there is no such upload; kCorruption if it holds fewer than
  // `acknowledged` bytes; kFailedPrecondition if another handle to it is alive.
  virtual Result<UploadPtr> ResumeUpload(std::string_view id, uint64_t acknowledged) = 0;
  // Deletes upload `id` and its bytes; kNotFound if absent; kFailedPrecondition if in use.
  virtual Status DeleteUpload(std::string_view id) = 0;
  // Every upload on disk (for purging abandoned ones and for consistency checks).
  virtual Result<std::vector<UploadInfo>> ListUploads() = 0;
};
using BlobStorePtr = std::unique_ptr<BlobStore>;

}  // namespace cove::storage
