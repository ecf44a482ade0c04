// Registry: the OCI Distribution API (v1.1) for every registry in a Directory, as an
// http::Handler. This is the seed's "Registry REST API" box (login server: manifests, tags,
// uploads, catalog, referrers) and its "Data Storage" box (data hosts: signed blob downloads).
//
// A request's host picks the registry (Directory::Match). On a login server, a blob GET of a
// registry with its data endpoint enabled answers 307 to a signed URL on the data host of the
// registry's home region; the data host serves only such URLs (UrlSigner). Errors are OCI error
// bodies from oci/errors.h.
//
// Push order, as in CNCF distribution: bytes stream into an Upload while being hashed; on the
// final PUT the digest is checked, the blob is fsynced and renamed into the content-addressed
// store, and only then linked into the repository (MetaStore). A manifest is stored, with its
// tag, in one MetaStore transaction after every blob and child manifest it names was found in
// the repository. Nothing is visible before it is verified.
//
// Authentication: with RegistryOptions::authorizer set, every login-server request is checked
// (and /oauth2/* served) by it before dispatch (registry/authorizer.h); data hosts are not —
// their signed URLs are their authorization. Without one the registry is open.
//
// Upload handles (with their running hash) are kept between the requests of a chunked upload
// so each chunk costs only its own bytes; after a restart the first request of an upload
// resumes it from disk at the length the client was told.
//
// Thread-safety: Start() may be called from any thread; exchanges run on one thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "http/message.h"
#include "registry/authorizer.h"
#include "registry/directory.h"
#include "registry/url_signer.h"
#include "storage/blob_store.h"
#include "storage/meta_store.h"

namespace cove::registry {

struct RegistryOptions {
  uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  // Uploads not completed within this time are purged.
  std::chrono::seconds upload_ttl{24 * 3600};
  // Idle upload handles kept open between chunks.
  size_t max_idle_uploads = 256;  // each holds a file descriptor
  // Makes upload ids; default: 128 random bits, hex. Tests may inject a sequence.
  std::function<std::string()> new_upload_id;
  // Authentication and authorization of login-server requests (registry/authorizer.h); null:
  // the registry is open, as it was before cove had auth.
  std::shared_ptr<Authorizer> authorizer;
};

// Counts of what the registry served, for diagnostics and tests.
struct RegistryCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> blob_bytes_served{0};       // from login server hosts
  std::atomic<uint64_t> data_host_bytes_served{0};  // from data hosts
  std::atomic<uint64_t> redirects{0};
  std::atomic<uint64_t> blobs_committed{0};
  std::atomic<uint64_t> manifests_stored{0};
};

class Registry final : public http::Handler {
 public:
  Registry(std::shared_ptr<const Directory> directory, storage::BlobStore& blobs,
           storage::MetaStore& meta, const UrlSigner& signer, const Clock& clock,
           RegistryOptions options = {});
  ~Registry() override;

  // Replaces the directory; requests already started keep the one they saw.
  void SetDirectory(std::shared_ptr<const Directory> directory);
  std::shared_ptr<const Directory> directory() const;

  http::ExchangePtr Start(http::Request request) override;

  // Deletes uploads started more than options.upload_ttl ago (and staged bytes with no
  // session). Returns how many were removed.
  Result<size_t> PurgeAbandonedUploads();

  // Deletes the content of registry `name` (lowercase): its repositories, manifests, tags, blob
  // links and upload sessions (staged bytes included). Blob bytes other registries do not link
  // stay in the BlobStore until they are collected. For a registry that was deleted, or before
  // one is served under a name that was used before (it starts empty, as in ACR). Errors are the
  // stores'; what was deleted before one stays deleted.
  Status DeleteRegistryContent(const std::string& name);

  const RegistryCounters& counters() const { return counters_; }

 private:
  struct Call;  // one request's parsed context (registry.cc)
  class UploadExchange;
  class ManifestPut;
  class AfterCheck;

  // The authorizer's answer for a login-server request; null when it may go on. When the
  // authorizer checks later (Authorizer::CheckLater), an exchange that waits for its verdict
  // and then dispatches `call` (moved into it).
  http::ExchangePtr Authorize(Call& call);
  // Whether the authorizer lets a cross-repository mount read its source (Call::mount_allowed).
  void CheckMount(Call& call);
  http::ExchangePtr Dispatch(Call& call);
  http::ExchangePtr Base(Call& call);
  http::ExchangePtr Catalog(Call& call);
  http::ExchangePtr Tags(Call& call);
  http::ExchangePtr Referrers(Call& call);
  http::ExchangePtr Blob(Call& call);
  http::ExchangePtr DataHostBlob(Call& call);
  http::ExchangePtr ServeBlob(Call& call, const Digest& digest, uint64_t size, bool data_host);
  http::ExchangePtr UploadStart(Call& call);
  http::ExchangePtr Upload(Call& call);
  http::ExchangePtr Manifest(Call& call);
  http::ExchangePtr ManifestGet(Call& call);
  http::ExchangePtr ManifestDelete(Call& call);

  // Upload handle cache.
  Result<storage::UploadPtr> TakeUpload(const storage::UploadRecord& record);
  void ReturnUpload(storage::UploadPtr upload);
  void ForgetUpload(const std::string& id);

  std::shared_ptr<const Directory> directory_;
  mutable std::mutex directory_mu_;
  storage::BlobStore& blobs_;
  storage::MetaStore& meta_;
  const UrlSigner& signer_;
  const Clock& clock_;
  RegistryOptions options_;
  RegistryCounters counters_;

  std::mutex uploads_mu_;
  std::list<storage::UploadPtr> idle_uploads_;  // most recently used at the front
  std::unordered_map<std::string, std::list<storage::UploadPtr>::iterator> idle_index_;
};

}  // namespace cove::registry
