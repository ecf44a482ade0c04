#include "storage/caching_meta_store.h"

namespace cove::storage {
namespace {

constexpr uint64_t kEntryOverhead = 128;  // key, list node, map slot: a rough fixed cost

std::string Key(const std::string& prefix, char kind, std::string_view name) {
  std::string key = prefix;
  key.push_back(kind);
  key.append(name);
  return key;
}

}  // namespace

CachingMetaStore::CachingMetaStore(MetaStorePtr inner, uint64_t max_bytes)
    : inner_(std::move(inner)), max_bytes_(max_bytes) {}

std::string CachingMetaStore::RepoPrefix(const RepoKey& repo) {
  std::string prefix = repo.registry;
  prefix.push_back('\0');
  prefix.append(repo.repository);
  prefix.push_back('\0');
  return prefix;
}

uint64_t CachingMetaStore::Generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

std::optional<CachingMetaStore::Value> CachingMetaStore::Lookup(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (!enabled_ || it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void CachingMetaStore::Insert(std::string key, Value value, uint64_t generation) {
  uint64_t cost = kEntryOverhead + key.size();
  if (const auto* content = std::get_if<ManifestContent>(&value)) {
    cost += content->bytes.size() + content->media_type.size();
  }
  std::lock_guard lock(mu_);
  if (!enabled_ || generation != generation_ || cost > max_bytes_ / 4) return;
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->cost;
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{key, std::move(value), cost});
  index_.emplace(std::move(key), lru_.begin());
  bytes_ += cost;
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().cost;
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void CachingMetaStore::DropPrefix(const std::string& prefix) {
  std::lock_guard lock(mu_);
  ++generation_;
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->key.starts_with(prefix)) {
      bytes_ -= it->cost;
      index_.erase(it->key);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

void CachingMetaStore::DropKey(const std::string& key) {
  std::lock_guard lock(mu_);
  ++generation_;
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->cost;
    lru_.erase(it->second);
    index_.erase(it);
  }
}

void CachingMetaStore::Invalidate(const std::string& registry, const std::string& repository) {
  std::string prefix = registry;
  prefix.push_back('\0');
  if (!repository.empty()) {
    prefix.append(repository);
    prefix.push_back('\0');
  }
  DropPrefix(prefix);
}

void CachingMetaStore::InvalidateAll() {
  std::lock_guard lock(mu_);
  ++generation_;
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

void CachingMetaStore::SetEnabled(bool enabled) {
  std::lock_guard lock(mu_);
  ++generation_;
  enabled_ = enabled;
  if (!enabled) {
    lru_.clear();
    index_.clear();
    bytes_ = 0;
  }
}

MetaCacheStats CachingMetaStore::Stats() const {
  std::lock_guard lock(mu_);
  return {hits_, misses_, index_.size(), bytes_};
}

// ---- the cached reads ----

Result<Digest> CachingMetaStore::ResolveTag(const RepoKey& repo, const std::string& tag) {
  std::string key = Key(RepoPrefix(repo), 't', tag);
  if (auto cached = Lookup(key)) return std::get<Digest>(*cached);
  uint64_t generation = Generation();
  auto digest = inner_->ResolveTag(repo, tag);
  if (digest) Insert(std::move(key), *digest, generation);
  return digest;
}

Result<ManifestContent> CachingMetaStore::GetManifestContent(const RepoKey& repo,
                                                             const Digest& digest) {
  std::string key = Key(RepoPrefix(repo), 'm', digest.str());
  if (auto cached = Lookup(key)) return std::get<ManifestContent>(*cached);
  uint64_t generation = Generation();
  auto content = inner_->GetManifestContent(repo, digest);
  if (content) Insert(std::move(key), *content, generation);
  return content;
}

// ---- writes that change cached answers: drop them before returning ----

Status CachingMetaStore::PutManifest(const RepoKey& repo, const ManifestRecord& manifest,
                                     const std::optional<std::string>& tag) {
  auto put = inner_->PutManifest(repo, manifest, tag);
  if (tag) DropKey(Key(RepoPrefix(repo), 't', *tag));
  return put;
}

Status CachingMetaStore::DeleteManifest(const RepoKey& repo, const Digest& digest) {
  auto deleted = inner_->DeleteManifest(repo, digest);
  DropPrefix(RepoPrefix(repo));  // the manifest and every tag that pointed at it
  return deleted;
}

Status CachingMetaStore::DeleteTag(const RepoKey& repo, const std::string& tag) {
  auto deleted = inner_->DeleteTag(repo, tag);
  DropKey(Key(RepoPrefix(repo), 't', tag));
  return deleted;
}

Status CachingMetaStore::DeleteRegistry(const std::string& registry) {
  auto deleted = inner_->DeleteRegistry(registry);
  Invalidate(registry, "");
  return deleted;
}

Result<uint64_t> CachingMetaStore::DeleteUntaggedManifests(const std::string& registry,
                                                           Clock::TimePoint created_before,
                                                           uint64_t limit) {
  auto deleted = inner_->DeleteUntaggedManifests(registry, created_before, limit);
  Invalidate(registry, "");
  return deleted;
}

// ---- everything else goes straight through ----

Status CachingMetaStore::LinkBlob(const RepoKey& repo, const Digest& digest, uint64_t size) {
  return inner_->LinkBlob(repo, digest, size);
}
Result<uint64_t> CachingMetaStore::LinkedBlob(const RepoKey& repo, const Digest& digest) {
  return inner_->LinkedBlob(repo, digest);
}
Status CachingMetaStore::UnlinkBlob(const RepoKey& repo, const Digest& digest) {
  return inner_->UnlinkBlob(repo, digest);
}
Result<bool> CachingMetaStore::BlobReferenced(const Digest& digest) {
  return inner_->BlobReferenced(digest);
}
Result<ManifestRecord> CachingMetaStore::GetManifest(const RepoKey& repo, const Digest& digest) {
  return inner_->GetManifest(repo, digest);
}
Result<std::vector<std::string>> CachingMetaStore::ListTags(const RepoKey& repo,
                                                            const Page& page) {
  return inner_->ListTags(repo, page);
}
Result<std::vector<std::string>> CachingMetaStore::ListRepositories(const std::string& registry,
                                                                    const Page& page) {
  return inner_->ListRepositories(registry, page);
}
Result<std::vector<Referrer>> CachingMetaStore::ListReferrers(
    const RepoKey& repo, const Digest& subject, const std::optional<std::string>& artifact_type) {
  return inner_->ListReferrers(repo, subject, artifact_type);
}
Status CachingMetaStore::CreateUpload(const UploadRecord& upload) {
  return inner_->CreateUpload(upload);
}
Result<UploadRecord> CachingMetaStore::GetUpload(const std::string& id) {
  return inner_->GetUpload(id);
}
Status CachingMetaStore::SetUploadAcknowledged(const std::string& id, uint64_t acknowledged) {
  return inner_->SetUploadAcknowledged(id, acknowledged);
}
Status CachingMetaStore::DeleteUpload(const std::string& id) { return inner_->DeleteUpload(id); }
Result<std::vector<UploadRecord>> CachingMetaStore::ListUploadsStartedBefore(
    Clock::TimePoint cutoff) {
  return inner_->ListUploadsStartedBefore(cutoff);
}
Status CachingMetaStore::ProtectBlob(const Digest& digest) { return inner_->ProtectBlob(digest); }
Result<uint64_t> CachingMetaStore::SweepLinks(Clock::TimePoint due_before, uint64_t limit) {
  return inner_->SweepLinks(due_before, limit);
}
Result<std::optional<MetaStore::BlobSweep>> CachingMetaStore::SweepNextBlob(
    Clock::TimePoint due_before, const std::function<Status(const Digest&)>& delete_bytes) {
  return inner_->SweepNextBlob(due_before, delete_bytes);
}
Result<uint64_t> CachingMetaStore::RegistryUsage(const std::string& registry) {
  return inner_->RegistryUsage(registry);
}
Result<MetaStore::ReviewBacklog> CachingMetaStore::PendingReviews() {
  return inner_->PendingReviews();
}

}  // namespace cove::storage
