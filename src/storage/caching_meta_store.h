// CachingMetaStore: a MetaStore in front of another that keeps the pull path's answers — which
// digest a tag points at, and a manifest's media type and bytes — in memory, so that a manifest
// GET on a registry node over a shared engine (PostgreSQL) costs no round trip.
//
// What is cached and until when:
//   - ResolveTag(repo, tag) → digest, and GetManifestContent(repo, digest) → bytes; misses
//     (kNotFound) are not cached, so a push is seen at once wherever it lands;
//   - every write through this object drops what it may change before it returns (the tag a
//     PutManifest moves; the repository's entries on a manifest or tag deletion; the registry's
//     on DeleteRegistry and retention): a node reads its own writes exactly;
//   - writes made by other nodes arrive as invalidations (Invalidate / InvalidateAll), which
//     the owner wires to the engine's change feed (PostgresMetaStore::Listen: LISTEN/NOTIFY,
//     delivered when the writer's transaction commits). Until one arrives — typically well under
//     a millisecond on one network — another node may still answer with the tag's previous
//     digest; a deleted manifest stays readable by digest on the other nodes for that long.
//     When the feed is lost (the engine restarted), the owner calls InvalidateAll and
//     SetEnabled(false) until the feed is back: no answer is then older than the engine's.
// The cache is bounded by bytes (manifests are counted by their size, tags by a fixed cost) and
// evicts the least recently used entry.
//
// Ownership: owns the store behind it. Thread-safety: every method may be called from any
// thread; the cache is one mutex-guarded LRU (lookups are a hash probe and a list splice).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

#include "storage/meta_store.h"

namespace cove::storage {

struct MetaCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
};

class CachingMetaStore final : public MetaStore {
 public:
  explicit CachingMetaStore(MetaStorePtr inner, uint64_t max_bytes = 64 << 20);

  // Another node changed `repository` of `registry` (a tag moved or was deleted, a manifest was
  // deleted): its cached entries are dropped. An empty repository drops the whole registry's.
  void Invalidate(const std::string& registry, const std::string& repository);
  void InvalidateAll();
  // Off: every read goes to the engine and nothing is kept (the change feed is down).
  void SetEnabled(bool enabled);
  MetaCacheStats Stats() const;
  MetaStore& inner() { return *inner_; }

  Status LinkBlob(const RepoKey& repo, const Digest& digest, uint64_t size) override;
  Result<uint64_t> LinkedBlob(const RepoKey& repo, const Digest& digest) override;
  Status UnlinkBlob(const RepoKey& repo, const Digest& digest) override;
  Result<bool> BlobReferenced(const Digest& digest) override;
  Status PutManifest(const RepoKey& repo, const ManifestRecord& manifest,
                     const std::optional<std::string>& tag) override;
  Result<ManifestRecord> GetManifest(const RepoKey& repo, const Digest& digest) override;
  Result<ManifestContent> GetManifestContent(const RepoKey& repo, const Digest& digest) override;
  Result<Digest> ResolveTag(const RepoKey& repo, const std::string& tag) override;
  Status DeleteManifest(const RepoKey& repo, const Digest& digest) override;
  Status DeleteTag(const RepoKey& repo, const std::string& tag) override;
  Result<std::vector<std::string>> ListTags(const RepoKey& repo, const Page& page) override;
  Result<std::vector<std::string>> ListRepositories(const std::string& registry,
                                                    const Page& page) override;
  Status DeleteRegistry(const std::string& registry) override;
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

 private:
  // Key: registry \0 repository \0 ('t' tag | 'm' digest).
  using Value = std::variant<Digest, ManifestContent>;
  struct Entry {
    std::string key;
    Value value;
    uint64_t cost = 0;
  };
  static std::string RepoPrefix(const RepoKey& repo);
  std::optional<Value> Lookup(const std::string& key);
  // Keeps `value` unless an invalidation of its repository happened since `generation`.
  void Insert(std::string key, Value value, uint64_t generation);
  void DropPrefix(const std::string& prefix);
  void DropKey(const std::string& key);
  uint64_t Generation() const;

  MetaStorePtr inner_;
  const uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used; guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  uint64_t bytes_ = 0;                                                 // guarded by mu_
  // Bumped by every invalidation: a read that started before one does not insert what it read
  // (it may be the value just invalidated).
  uint64_t generation_ = 0;  // guarded by mu_
  bool enabled_ = true;      // guarded by mu_
  uint64_t hits_ = 0, misses_ = 0;  // guarded by mu_
};

}  // namespace cove::storage
