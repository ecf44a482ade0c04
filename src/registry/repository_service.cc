#include "registry/repository_service.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace cove::registry {
namespace {

std::string RandomId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  return HexEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

}  // namespace

std::string_view EventKindName(RepositoryEvent::Kind kind) {
  switch (kind) {
    case RepositoryEvent::Kind::kBlobLinked:
      return "blob-linked";
    case RepositoryEvent::Kind::kBlobUnlinked:
      return "blob-unlinked";
    case RepositoryEvent::Kind::kManifestPut:
      return "manifest-put";
    case RepositoryEvent::Kind::kTagSet:
      return "tag-set";
    case RepositoryEvent::Kind::kTagDeleted:
      return "tag-deleted";
    case RepositoryEvent::Kind::kManifestDeleted:
      return "manifest-deleted";
    case RepositoryEvent::Kind::kRegistryDeleted:
      return "registry-deleted";
  }
  return "unknown";
}

RepositoryService::RepositoryService(storage::BlobStore& blobs, storage::MetaStore& meta,
                                     const Clock& clock, RepositoryServiceOptions options)
    : blobs_(blobs), meta_(meta), clock_(clock), options_(std::move(options)) {
  if (!options_.new_upload_id) options_.new_upload_id = RandomId;
}

RepositoryService::~RepositoryService() = default;

// ---- events ----

void RepositoryService::Subscribe(RepositoryObserver* observer) {
  std::lock_guard lock(observers_mu_);
  observers_.push_back(observer);
}

void RepositoryService::Unsubscribe(RepositoryObserver* observer) {
  std::lock_guard lock(observers_mu_);
  observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
}

void RepositoryService::Emit(const RepositoryEvent& event) {
  std::vector<RepositoryObserver*> observers;
  {
    std::lock_guard lock(observers_mu_);
    if (observers_.empty()) return;
    observers = observers_;
  }
  for (RepositoryObserver* observer : observers) observer->OnRepositoryEvent(event);
}

// ---- blobs ----

Result<uint64_t> RepositoryService::StatBlob(const storage::RepoKey& repo, const Digest& digest) {
  return meta_.LinkedBlob(repo, digest);
}

Result<storage::BlobFile> RepositoryService::OpenBlob(const Digest& digest, uint64_t offset,
                                                      std::optional<uint64_t> length) {
  return blobs_.Open(digest, offset, length);
}

Status RepositoryService::UnlinkBlob(const storage::RepoKey& repo, const Digest& digest) {
  COVE_RETURN_IF_ERROR(meta_.UnlinkBlob(repo, digest));
  RepositoryEvent event;
  event.kind = RepositoryEvent::Kind::kBlobUnlinked;
  event.repo = repo;
  event.digest = digest;
  Emit(event);
  return Ok();
}

Result<std::optional<uint64_t>> RepositoryService::MountBlob(const storage::RepoKey& repo,
                                                             const std::string& from,
                                                             const Digest& digest) {
  auto size = meta_.LinkedBlob({repo.registry, from}, digest);
  if (!size) return std::optional<uint64_t>();
  // Bytes a sweep was deleting just now: the client uploads the blob instead.
  COVE_RETURN_IF_ERROR(meta_.ProtectBlob(digest));
  if (auto linked = LinkStoredBlob(repo, digest, *size); !linked) {
    if (linked.error().code == Code::kNotFound) return std::optional<uint64_t>();
    return Fail(std::move(linked).error());
  }
  RepositoryEvent event;
  event.kind = RepositoryEvent::Kind::kBlobLinked;
  event.repo = repo;
  event.digest = digest;
  event.size = *size;
  event.mounted_from = from;
  Emit(event);
  return std::optional<uint64_t>(*size);
}

// ---- uploads ----

Result<UploadSession> RepositoryService::StartUpload(const storage::RepoKey& repo) {
  UploadSession session;
  session.record = {options_.new_upload_id(), repo, 0, clock_.Now()};
  COVE_ASSIGN_OR_RETURN(session.upload, blobs_.CreateUpload(session.record.id));
  if (auto created = meta_.CreateUpload(session.record); !created) {
    session.upload.reset();
    (void)blobs_.DeleteUpload(session.record.id);
    return Fail(std::move(created).error());
  }
  return session;
}

Result<storage::UploadRecord> RepositoryService::FindUpload(const storage::RepoKey& repo,
                                                            const std::string& id) {
  COVE_ASSIGN_OR_RETURN(auto record, meta_.GetUpload(id));
  if (record.repo.registry != repo.registry || record.repo.repository != repo.repository) {
    return Fail(Code::kNotFound, "upload " + id + " is not in repository " + repo.repository);
  }
  return record;
}

Result<storage::UploadPtr> RepositoryService::TakeUpload(const storage::UploadRecord& record) {
  {
    std::lock_guard lock(uploads_mu_);
    auto it = idle_index_.find(record.id);
    if (it != idle_index_.end()) {
      storage::UploadPtr upload = std::move(*it->second);
      idle_uploads_.erase(it->second);
      idle_index_.erase(it);
      if (upload->size() == record.acknowledged) return upload;
      // The handle saw bytes that were never acknowledged: reopen at the acknowledged length.
    }
  }
  return blobs_.ResumeUpload(record.id, record.acknowledged);
}

void RepositoryService::KeepUpload(storage::UploadPtr upload) {
  std::lock_guard lock(uploads_mu_);
  std::string id = upload->id();
  if (idle_index_.count(id)) return;  // cannot happen: handles are exclusive
  idle_uploads_.push_front(std::move(upload));
  idle_index_[id] = idle_uploads_.begin();
  while (idle_uploads_.size() > options_.max_idle_uploads) {
    idle_index_.erase(idle_uploads_.back()->id());
    idle_uploads_.pop_back();
  }
}

Status RepositoryService::AcknowledgeUpload(storage::UploadPtr upload) {
  COVE_RETURN_IF_ERROR(upload->Flush());  // durable and resumable on any node first
  COVE_RETURN_IF_ERROR(meta_.SetUploadAcknowledged(upload->id(), upload->size()));
  KeepUpload(std::move(upload));
  return Ok();
}

Result<uint64_t> RepositoryService::CommitUpload(const storage::UploadRecord& record,
                                                 storage::UploadPtr& upload,
                                                 const Digest& expected) {
  // No sweep deletes blob `expected` for a grace period from here (one deleting it right now
  // finishes first, and Commit below then writes the bytes again rather than finding them).
  if (auto protect = meta_.ProtectBlob(expected); !protect) {
    upload.reset();
    return Fail(std::move(protect).error());
  }
  // Verify, fsync and rename into the content-addressed store: the blob exists from here on.
  auto committed = upload->Commit(expected);
  if (!committed) {
    if (committed.error().code != Code::kInvalidArgument) upload.reset();
    return Fail(std::move(committed).error());
  }
  upload.reset();  // the store removed the staged bytes
  // Only now is it visible in the repository.
  if (auto linked = LinkStoredBlob(record.repo, expected, *committed); !linked) {
    Code code = linked.error().code == Code::kNotFound ? Code::kUnavailable : linked.error().code;
    return Fail(code, "link " + expected.str() + ": " + linked.error().message);
  }
  if (auto deleted = meta_.DeleteUpload(record.id);
      !deleted && deleted.error().code != Code::kNotFound) {
    spdlog::warn("upload {}: forgetting session: {}", record.id, deleted.error().ToString());
  }
  RepositoryEvent event;
  event.kind = RepositoryEvent::Kind::kBlobLinked;
  event.repo = record.repo;
  event.digest = expected;
  event.size = *committed;
  Emit(event);
  return *committed;
}

Status RepositoryService::LinkStoredBlob(const storage::RepoKey& repo, const Digest& digest,
                                         uint64_t size) {
  COVE_RETURN_IF_ERROR(meta_.LinkBlob(repo, digest, size));
  // Once linked the blob is referenced and no sweep takes it; but one may have taken it after
  // ProtectBlob's grace period ran out, before the link (a stalled request).
  if (auto stat = blobs_.Stat(digest); !stat && stat.error().code == Code::kNotFound) {
    (void)meta_.UnlinkBlob(repo, digest);
    return Fail(Code::kNotFound, "blob " + digest.str() + " was collected before it was linked");
  }
  return Ok();
}

Status RepositoryService::CancelUpload(const storage::UploadRecord& record) {
  ForgetUpload(record.id);
  auto deleted = blobs_.DeleteUpload(record.id);
  if (!deleted && deleted.error().code == Code::kFailedPrecondition) {
    return Fail(std::move(deleted).error());
  }
  return meta_.DeleteUpload(record.id);
}

void RepositoryService::DiscardUpload(const std::string& id) {
  ForgetUpload(id);
  (void)blobs_.DeleteUpload(id);
  (void)meta_.DeleteUpload(id);
}

void RepositoryService::ForgetUpload(const std::string& id) {
  std::lock_guard lock(uploads_mu_);
  auto it = idle_index_.find(id);
  if (it == idle_index_.end()) return;
  idle_uploads_.erase(it->second);
  idle_index_.erase(it);
}

Result<size_t> RepositoryService::PurgeAbandonedUploads() {
  auto cutoff = clock_.Now() - options_.upload_ttl;
  size_t purged = 0;
  COVE_ASSIGN_OR_RETURN(auto stale, meta_.ListUploadsStartedBefore(cutoff));
  for (const auto& record : stale) {
    ForgetUpload(record.id);
    auto deleted = blobs_.DeleteUpload(record.id);
    if (!deleted && deleted.error().code == Code::kFailedPrecondition) continue;  // in use
    COVE_RETURN_IF_ERROR(meta_.DeleteUpload(record.id));
    ++purged;
  }
  // Staged bytes whose session was never recorded (a crash between the two steps).
  COVE_ASSIGN_OR_RETURN(auto staged, blobs_.ListUploads());
  for (const auto& info : staged) {
    if (info.modified >= cutoff) continue;
    if (meta_.GetUpload(info.id)) continue;
    ForgetUpload(info.id);
    if (blobs_.DeleteUpload(info.id)) ++purged;
  }
  return purged;
}

// ---- manifests and tags ----

Status RepositoryService::PutManifest(const storage::RepoKey& repo,
                                      const oci::ParsedManifest& manifest, const Digest& digest,
                                      std::string bytes, const std::optional<std::string>& tag,
                                      Digest* unknown) {
  storage::ManifestRecord record;
  record.digest = digest;
  record.media_type = manifest.media_type;
  record.artifact_type = manifest.artifact_type;
  record.annotations_json = manifest.annotations_json;
  record.created = clock_.Now();
  if (manifest.subject) record.subject = manifest.subject->digest;

  // Every blob and child manifest must already be in this repository.
  std::vector<const oci::Descriptor*> blobs;
  if (manifest.config) blobs.push_back(&*manifest.config);
  for (const auto& layer : manifest.layers) {
    if (!oci::IsForeignLayer(layer.media_type)) blobs.push_back(&layer);
  }
  for (const oci::Descriptor* d : blobs) {
    auto size = meta_.LinkedBlob(repo, d->digest);
    if (!size) {
      if (size.error().code == Code::kNotFound) {
        if (unknown != nullptr) *unknown = d->digest;
        return Fail(Code::kNotFound,
                    "blob " + d->digest.str() + " is not in repository " + repo.repository);
      }
      return Fail(std::move(size).error());
    }
    if (*size != d->size) {
      return Fail(Code::kInvalidArgument, "descriptor of " + d->digest.str() + " says " +
                                              std::to_string(d->size) + " bytes; the blob has " +
                                              std::to_string(*size));
    }
    record.blobs.push_back(d->digest);
  }
  for (const auto& child : manifest.manifests) {
    auto found = meta_.GetManifestContent(repo, child.digest);
    if (!found) {
      if (found.error().code == Code::kNotFound) {
        if (unknown != nullptr) *unknown = child.digest;
        return Fail(Code::kNotFound,
                    "manifest " + child.digest.str() + " is not in repository " + repo.repository);
      }
      return Fail(std::move(found).error());
    }
    record.manifests.push_back(child.digest);
  }
  record.bytes = std::move(bytes);

  // What the tag pointed at before, for the event (the put below is what decides).
  std::optional<Digest> previous;
  if (tag) {
    if (auto resolved = meta_.ResolveTag(repo, *tag)) previous = *resolved;
  }
  COVE_RETURN_IF_ERROR(meta_.PutManifest(repo, record, tag));
  // A link sweep may have removed a link between the check above and the put (its upload came
  // more than a grace period ago): the manifest would name a blob the repository lacks.
  for (const Digest& blob : record.blobs) {
    if (auto linked = meta_.LinkedBlob(repo, blob); !linked) {
      if (linked.error().code == Code::kNotFound) {
        (void)meta_.DeleteManifest(repo, digest);
        if (unknown != nullptr) *unknown = blob;
        return Fail(Code::kNotFound,
                    "blob " + blob.str() + " is not in repository " + repo.repository);
      }
      return Fail(std::move(linked).error());
    }
  }

  RepositoryEvent put;
  put.kind = RepositoryEvent::Kind::kManifestPut;
  put.repo = repo;
  put.digest = digest;
  put.size = record.bytes.size();
  put.media_type = record.media_type;
  Emit(put);
  if (tag && previous != digest) {
    RepositoryEvent tagged;
    tagged.kind = RepositoryEvent::Kind::kTagSet;
    tagged.repo = repo;
    tagged.tag = *tag;
    tagged.digest = digest;
    tagged.previous = previous;
    Emit(tagged);
  }
  return Ok();
}

Result<Digest> RepositoryService::ResolveTag(const storage::RepoKey& repo, const std::string& tag) {
  return meta_.ResolveTag(repo, tag);
}

Result<storage::ManifestContent> RepositoryService::GetManifest(const storage::RepoKey& repo,
                                                                const Digest& digest) {
  return meta_.GetManifestContent(repo, digest);
}

Status RepositoryService::DeleteManifest(const storage::RepoKey& repo, const Digest& digest) {
  COVE_RETURN_IF_ERROR(meta_.DeleteManifest(repo, digest));
  RepositoryEvent event;
  event.kind = RepositoryEvent::Kind::kManifestDeleted;
  event.repo = repo;
  event.digest = digest;
  Emit(event);
  return Ok();
}

Status RepositoryService::DeleteTag(const storage::RepoKey& repo, const std::string& tag) {
  auto pointed = meta_.ResolveTag(repo, tag);
  COVE_RETURN_IF_ERROR(meta_.DeleteTag(repo, tag));
  RepositoryEvent event;
  event.kind = RepositoryEvent::Kind::kTagDeleted;
  event.repo = repo;
  event.tag = tag;
  if (pointed) event.digest = *pointed;
  Emit(event);
  return Ok();
}

Result<std::vector<std::string>> RepositoryService::ListTags(const storage::RepoKey& repo,
                                                             const storage::Page& page) {
  return meta_.ListTags(repo, page);
}

Result<std::vector<std::string>> RepositoryService::ListRepositories(const std::string& registry,
                                                                     const storage::Page& page) {
  return meta_.ListRepositories(registry, page);
}

Result<std::vector<storage::Referrer>> RepositoryService::ListReferrers(
    const storage::RepoKey& repo, const Digest& subject,
    const std::optional<std::string>& artifact_type) {
  return meta_.ListReferrers(repo, subject, artifact_type);
}

// ---- registries ----

Status RepositoryService::DeleteRegistry(const std::string& name) {
  // Upload sessions first (their staged bytes need the ids), then the metadata in one go.
  COVE_ASSIGN_OR_RETURN(auto uploads, meta_.ListUploadsStartedBefore(Clock::TimePoint::max()));
  for (const auto& record : uploads) {
    if (record.repo.registry != name) continue;
    ForgetUpload(record.id);
    auto deleted = blobs_.DeleteUpload(record.id);
    if (!deleted && deleted.error().code != Code::kNotFound) {
      // In use by a request right now: its session record goes below, so it cannot commit; the
      // bytes are purged with the abandoned uploads.
      spdlog::debug("deleting registry {}: upload {}: {}", name, record.id,
                    deleted.error().message);
    }
  }
  COVE_RETURN_IF_ERROR(meta_.DeleteRegistry(name));
  RepositoryEvent event;
  event.kind = RepositoryEvent::Kind::kRegistryDeleted;
  event.repo.registry = name;
  Emit(event);
  return Ok();
}

}  // namespace cove::registry
