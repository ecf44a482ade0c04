// AzureBlobStore: the BlobStore on an Azure Blob Storage container (one container per cove
// region), spoken to with the Blob REST API (x-ms-version 2021-08-06) and Shared Key signing,
// over keep-alive connections pooled per store (http::PooledClient). Tested against Azurite.
//
// Layout in the container (the one place it is documented):
//
//   blobs/<alg>/<hex>               committed blobs (block blobs), <alg> "sha256" or "sha512";
//                                   written whole by Put Blob or by a copy of a verified upload
//   uploads/<id>/lock               empty marker blob; its lease is the one live handle
//   uploads/<id>/data               the upload's bytes: blocks with ids base64("%020u" offset),
//                                   so they sort; committed (Put Block List) at every Flush
//   uploads/<id>/state/<%020u off>  the running SHA-256 at that length (OpenSSL's SHA256_CTX,
//                                   serialised as distribution's storage driver does)
//
// Consistency. Azure gives strong read-after-write consistency for a blob, so a blob written by
// one node is seen by every other at once. A blob appears under blobs/ in one step: Put Blob
// (after the digest was verified) or Copy Blob from the upload's data blob (after the running
// hash matched); a copy still pending (x-ms-copy-status) is reported as absent by Stat/Open.
// If the destination exists the copy is skipped and the upload dropped.
//
// Uploads. Append() buffers up to 8 MiB and stages each full buffer as a block (Put Block);
// Flush() stages the rest, commits the block list (the data blob now holds every acknowledged
// byte) and saves the hash state at that length: the caller flushes before it acknowledges a
// length, after which any node can ResumeUpload() there. ResumeUpload(id, n) loads the state
// saved at the largest flushed length <= n (at exactly n when the caller acknowledged a flushed
// length) and hashes the committed bytes between, then cuts the block list at n (the partial
// last block is read back into the buffer). Dropping a handle flushes what it buffered (so a
// graceful restart loses nothing); a crashed node's unflushed bytes were never acknowledged.
// ListUploads reports each upload's flushed length (its committed data blob) and the injected
// clock's time of its last flush.
//
// The lease. A handle holds a 30 s lease on uploads/<id>/lock (x-ms-proposed-lease-id, so an
// acquire retried after a lost answer still succeeds), renewed by any request the handle makes
// once 10 s have passed since the last renewal, and released when the handle is dropped. A
// second handle on any node gets kFailedPrecondition (LeaseAlreadyPresent). If a node dies
// holding it the lease lapses at most 30 s after its last renewal; until then the upload cannot
// be resumed or deleted elsewhere. A handle that was idle for longer than 30 s renews on its
// next request; if another node took the lease meanwhile that renewal fails and the handle
// breaks (kFailedPrecondition), so two nodes never both append after the lapse.
//
// Retries. Idempotent calls (every call but the creation of an upload's lock) are retried up to
// 5 times with exponential backoff from 50 ms when the connection fails or the service answers
// 500, 503 or 408; errors name the endpoint, the call, the HTTP status and x-ms-error-code.
// 404 → kNotFound, 403 → kPermissionDenied (a bad key), unreachable → kUnavailable.
//
// Reads. Open(digest, offset, length) never buffers a blob: it returns the read end of a pipe
// (BlobFile::stream) fed by a thread of its own doing a ranged GET of just [offset, offset +
// length); the thread ends when the range is delivered or the reader closes its end (EPIPE; the
// thread blocks SIGPIPE, and coved ignores it anyway). A whole-blob read is hashed while it
// streams, its last piece held back until the digest matched: on a mismatch the reader sees an
// early EOF and the store logs an error. One thread per open stream (the HTTP server's
// connection limit bounds them).
//
// The data endpoint. The registry's data host streams blobs from storage through Open(); it
// does not redirect clients to the account with a SAS URL (the fabric's clients cannot reach
// the account, and signed-URL semantics stay cove's own).
//
// Request dates (x-ms-date) come from the system clock, since the service refuses skewed ones;
// the injected Clock stamps UploadInfo::modified (metadata "covemodified", nanoseconds).
//
// Thread-safety: all BlobStore methods may be called from any thread; each Upload is driven by
// one thread at a time. Upload handles and open streams share the connection pool through a
// shared_ptr, so they may outlive the store object.
#pragma once

#include <memory>
#include <string>

#include "storage/blob_store.h"

namespace cove::storage {

struct AzureBlobOptions {
  // "http(s)://HOST:PORT/ACCOUNT" (Azurite, path-style) or "https://ACCOUNT.blob.SUFFIX".
  std::string endpoint;
  std::string account;
  std::string key;        // the account key, base64
  std::string container;  // one per cove region; created if missing
  std::string ca_file;    // PEM bundle for https; "" = the system's
  const Clock* clock = nullptr;  // stamps UploadInfo::modified; must outlive the store
};

class AzureBlobStore final : public BlobStore {
 public:
  // Connects, checks the credentials and creates the container if missing.
  // kInvalidArgument for a malformed endpoint or key; kUnavailable (naming the endpoint) when
  // the account cannot be reached; kPermissionDenied when the key is refused.
  static Result<BlobStorePtr> Open(AzureBlobOptions options);

  ~AzureBlobStore() override;

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

  // Names of every blob in the container under `prefix`, sorted (tests and consistency checks).
  Result<std::vector<std::string>> ListNames(const std::string& prefix);

  class Service;  // the signed REST calls; shared with Upload handles and read streams

 private:
  explicit AzureBlobStore(std::shared_ptr<Service> service);

  std::shared_ptr<Service> service_;
};

}  // namespace cove::storage
