// QuorumBlobStore: one BlobStore kept in N failure domains (zone redundancy: N = 3 storage roots,
// as ACR's zoneRedundancy keeps a region's content in three availability zones). Losing one
// domain loses nothing acknowledged, and serving goes on.
//
// Children. The store drives N child BlobStores (normally FilesystemBlobStores on three roots:
// OpenZoneRedundantBlobStore). The write quorum is W = N/2 + 1 (2 of 3); a read needs one child
// with a good copy.
//
// Writes (Put, Upload::Commit) go to every child at once (one thread per extra child, so three
// fsyncs overlap) and succeed when at least W children stored the blob; the children that failed
// are counted in ChildHealth()[i].missed_writes and caught up by Repair(). With fewer than W the
// write fails with kUnavailable and the copies this write created are deleted again, so a
// refused write leaves no visible blob. Copies a child already held before the write are never
// rolled back (they may be an earlier, acknowledged write of the same content). If the roll-back
// itself fails the leftover is harmless: a blob is content-addressed (any copy with these bytes
// is the right blob) and clients reach it only through metadata (MetaStore::LinkBlob), which the
// caller writes only after an acknowledged write; Repair() may then spread it, GC removes it.
// Writes and deletes of one digest are serialised inside the process (striped locks), so a
// roll-back never removes a copy that a concurrent write of the same digest relies on.
//
// Uploads: CreateUpload opens the upload on every child and needs W of them; Append writes to
// each child still in the upload (in turn: appends land in page cache) and drops a child that
// fails from this handle; the upload fails (kIOError, handle unusable, as BlobStore says) when
// fewer than W remain. ResumeUpload reopens the upload on the children that hold at least the
// acknowledged length (a child dropped earlier holds less and sits this upload out). Commit is
// a quorum write as above; a digest mismatch (kInvalidArgument) leaves the upload usable, as
// every BlobStore must. A commit that fails quorum spends the handle; the staged bytes on the
// children that did not commit stay resumable.
//
// Reads (Stat, Open, Read) are served by the first child, healthy ones first, that has the blob
// and whose copy verifies. Verification: the bytes of a child's copy are hashed the first time
// this store object serves that copy, and the result is remembered (a bounded set, cleared when
// full); later reads of the copy cost nothing extra. A copy that does not match is skipped
// (counted in corrupt_copies) and the next child serves. Why not rely on FilesystemBlobStore's
// own commit-time verification alone: that catches bad uploads, not a disk that rots or
// truncates a file later, and a size check would miss flipped bits; why not hash on every read:
// a 64 MiB layer would be read twice per pull. The price is one extra read of each blob per
// process lifetime, paid by the first request; copies larger than
// QuorumOptions::verify_max_size (256 MiB) are not hashed on read, so that request does not
// wait seconds, and verify_reads = false trusts the children entirely. Both leave bit rot in
// what they skip to Repair()'s scrub.
// Reads never write: a copy found missing or corrupt is left to Repair() (the owner runs it
// periodically and after a disk is replaced), so a read costs no fsync on another zone.
// A child that is missing the blob or fails (kIOError, kUnavailable, ...) is skipped. When no
// child serves: kResourceExhausted (Read over max_size), kCorruption (only bad copies seen and
// every child answered), kNotFound when at least N - W + 1 children say the blob is absent
// (then no acknowledged write can be hiding on the others), kUnavailable otherwise.
//
// Delete removes the blob from every child and is OK when at least one had it. A child that
// could not be reached is remembered (in memory) and Repair() deletes there before it copies, so
// a delete does not come back from a child that was down; after a restart such a leftover is
// copied back like any blob (harmless, see above; GC deletes it again).
//
// Repair() lists the blobs of every child (QuorumChild::list_blobs), and for each blob copies a
// verified copy to every child that lacks it or holds a corrupt one (streamed through an upload
// on the target child, whose commit verifies the digest again), so a replaced disk catches up.
// It reads every copy (a scrub) unless RepairOptions::verify_copies is false. RepairBlobs()
// does the same for a given list (e.g. the digests the metadata links).
//
// Ownership: the store owns its children; Upload handles share them (an Upload may outlive the
// store object, as with FilesystemBlobStore). Thread-safety: every method may be called from any
// thread; one live Upload handle per id (kFailedPrecondition for a second one); an Upload is
// used by one thread at a time. Repair() may run beside requests. Nothing times out: a child
// whose calls hang (a dead NFS mount) holds up the calls that reach it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/error.h"
#include "storage/blob_store.h"

namespace cove::storage {

// One failure domain of a QuorumBlobStore.
struct QuorumChild {
  std::string name;    // for diagnostics and errors: the root path, or "zone-1"
  BlobStorePtr store;  // REQUIRES: not null
  // Every blob the child holds (BlobStore has no listing). Optional: a child without it is
  // still written, read and repaired, but Repair() cannot learn about blobs only it holds.
  std::function<Result<std::vector<Digest>>(BlobStore&)> list_blobs;
};

struct QuorumOptions {
  // Hash each child's copy the first time it is served and skip copies that do not match.
  bool verify_reads = true;
  // Copies larger than this are served unhashed (their first byte would wait for the whole
  // hash: about 0.2 s per 256 MiB); Repair()'s scrub still checks them.
  uint64_t verify_max_size = 256 << 20;
  // How many verified (child, blob) pairs are remembered; the set is cleared when full.
  size_t verified_cache_entries = 1 << 16;
};

struct QuorumChildHealth {
  enum class State {
    kHealthy,      // its last operation succeeded and Repair() has nothing known to do there
    kLagging,      // reachable, but it missed writes or holds corrupt copies: run Repair()
    kUnavailable,  // its last operation failed with an error of the child itself
  };
  std::string name;
  State state = State::kHealthy;
  uint64_t failures = 0;        // operations that failed on this child since the store opened
  uint64_t missed_writes = 0;   // blobs acknowledged without it since its last complete Repair()
  uint64_t corrupt_copies = 0;  // copies that failed verification since its last complete Repair()
  std::string last_error;       // the latest failure, empty if none
};

// "healthy", "lagging", "unavailable".
std::string_view ChildStateName(QuorumChildHealth::State state);

struct RepairOptions {
  // Hash every existing copy and replace those that do not match (a scrub). Off: only missing
  // copies are made (the source of a copy is always verified).
  bool verify_copies = true;
};

struct RepairReport {
  size_t blobs = 0;          // digests examined
  size_t copied = 0;         // copies made on children that lacked the blob
  size_t replaced = 0;       // corrupt copies replaced by a verified one
  size_t deleted = 0;        // deletes that had missed an unreachable child, applied now
  size_t failed = 0;         // copies or deletes not done (child unreachable or failing): run again
  size_t unrecoverable = 0;  // blobs of which no child holds a good copy
};

class QuorumBlobStore final : public BlobStore {
 public:
  // kInvalidArgument if `children` is empty or a store is null.
  static Result<std::unique_ptr<QuorumBlobStore>> Create(std::vector<QuorumChild> children,
                                                         QuorumOptions options = {});
  ~QuorumBlobStore() override;

  Result<uint64_t> Stat(const Digest& digest) override;
  Result<BlobFile> Open(const Digest& digest, uint64_t offset = 0,
                        std::optional<uint64_t> length = {}) override;
  Result<std::string> Read(const Digest& digest, uint64_t max_size) override;
  Status Put(const Digest& digest, std::string_view bytes) override;
  Status Delete(const Digest& digest) override;

  Result<UploadPtr> CreateUpload(std::string_view id) override;
  Result<UploadPtr> ResumeUpload(std::string_view id, uint64_t acknowledged) override;
  Status DeleteUpload(std::string_view id) override;
  // The union over the children (an upload on any child is listed, so abandoned leftovers can
  // be purged); size is the length that at least W children (or all that hold it, if fewer)
  // reach; modified the latest. Fails only if no child answers.
  Result<std::vector<UploadInfo>> ListUploads() override;

  // Applies remembered deletes, then repairs every blob any child lists (see the header
  // paragraph). Errors only if no child can be listed; per-blob failures are counted.
  // A child's missed_writes and corrupt_copies are reset when this run left nothing to do there.
  Result<RepairReport> Repair(const RepairOptions& options = {});
  // Repairs the given blobs only.
  RepairReport RepairBlobs(const std::vector<Digest>& digests, const RepairOptions& options = {});

  // One entry per child, in the order they were given.
  std::vector<QuorumChildHealth> ChildHealth() const;
  size_t write_quorum() const;

  struct Shared;  // children, health, live upload ids, verified copies; shared with Uploads

 private:
  friend Result<std::unique_ptr<QuorumBlobStore>> OpenZoneRedundantBlobStore(
      const std::vector<std::string>& roots, const Clock& clock, QuorumOptions options);

  explicit QuorumBlobStore(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
};

// The zone-redundant blob store of a region: a FilesystemBlobStore on each root (created if
// missing), under a QuorumBlobStore. A root that cannot be opened becomes a child that fails
// every operation (kUnavailable; restart once the disk is back, then Repair()) as long as at
// least W roots open; otherwise kIOError naming each failure. kInvalidArgument if `roots` is
// empty or two roots are the same directory. `clock` must outlive the store and its uploads.
Result<std::unique_ptr<QuorumBlobStore>> OpenZoneRedundantBlobStore(
    const std::vector<std::string>& roots, const Clock& clock, QuorumOptions options = {});

}  // namespace cove::storage
