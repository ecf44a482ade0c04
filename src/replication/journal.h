// Journal: a region's durable replication state, in one SQLite file (WAL, synchronous=FULL).
//
//   journal    every change this region holds, its own writes and the remote ones it applied:
//              seq (local, increasing), origin region, HLC, kind, registry, repository, tag,
//              digest, media type, size. (origin, hlc) names an entry in every region, so an
//              entry that arrives twice (from its origin and relayed by another peer) is kept
//              once.
//   registers  last-writer-wins state, one row per (kind, registry, repository, name):
//              tag      name = tag,             digest = what it points at, or deleted
//              manifest name = manifest digest, present or deleted
//              blob     name = blob digest,     linked or unlinked
//              A register only ever moves to a newer HLC (Hlc ordering).
//   cursors    per peer region: the last seq of the peer's journal applied here.
//
// Record() writes an entry, its register and (for a remote entry) the peer's cursor in one
// transaction, so a crash leaves either all of it or none.
//
// Errors: storage errors through storage::SqlError (kIOError, kUnavailable, kCorruption...).
//
// Thread-safety: every method may be called from any thread (one connection, one mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "replication/hlc.h"

namespace cove::replication {

enum class EntryKind {
  kBlobLinked,
  kBlobUnlinked,
  kManifestPut,
  kManifestDeleted,
  kTagSet,
  kTagDeleted,
};

// "blob-linked", "blob-unlinked", "manifest-put", "manifest-deleted", "tag-set", "tag-deleted".
std::string_view EntryKindName(EntryKind kind);
std::optional<EntryKind> ParseEntryKind(std::string_view name);

struct Entry {
  int64_t seq = 0;  // in the journal that holds it (0 before it is recorded)
  Hlc hlc;          // hlc.origin is the region that made the write
  EntryKind kind = EntryKind::kBlobLinked;
  std::string registry;
  std::string repository;
  std::string tag;     // tag kinds
  std::string digest;  // blob or manifest digest; for tags what the tag points (pointed) at
  std::string media_type;
  uint64_t size = 0;
};

// The last-writer-wins state of one tag, manifest or blob.
struct Register {
  Hlc hlc;
  std::string digest;  // tags: the manifest; manifests and blobs: their own digest
  bool deleted = false;
};

enum class RegisterKind { kTag, kManifest, kBlob };

class Journal {
 public:
  // Opens or creates the journal at `path`.
  static Result<std::unique_ptr<Journal>> Open(const std::string& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends `entry` (its seq is assigned) unless an entry with the same origin and HLC is
  // there already, moves its register when the entry is newer, and, when `peer` is set, sets
  // that peer's cursor to `peer_seq`; one transaction. Returns the seq of the entry (the
  // existing one for a duplicate).
  Result<int64_t> Record(const Entry& entry, const std::string* peer = nullptr,
                         int64_t peer_seq = 0);
  // True if an entry with this origin and HLC is recorded.
  Result<bool> Has(const Hlc& hlc);
  // Entries with seq > `after`, in seq order, at most `limit`.
  Result<std::vector<Entry>> After(int64_t after, int64_t limit);
  // The highest seq (0 when empty).
  Result<int64_t> Head();
  // The greatest HLC recorded (of any origin), for the clock after a restart.
  Result<std::optional<Hlc>> MaxHlc();

  Result<std::optional<Register>> Get(RegisterKind kind, const std::string& registry,
                                      const std::string& repository, const std::string& name);
  // Forgets every register of `registry` (a registry deleted by the control plane).
  Status ForgetRegistry(const std::string& registry);

  Result<int64_t> Cursor(const std::string& peer);  // 0 when none
  Status SetCursor(const std::string& peer, int64_t seq);

 private:
  struct Db;
  explicit Journal(std::unique_ptr<Db> db);
  std::unique_ptr<Db> db_;
};

}  // namespace cove::replication
