// Registry: the OCI Distribution API (v1.1) for every registry in a Directory, as an
// http::Handler. This is the seed's "Registry REST API" box (login server: manifests, tags,
// uploads, catalog, referrers) and its "Data Storage" box (data hosts: signed blob downloads).
//
// A request's host picks the registry (Directory::Match) — unless the access Gate stands in
// front: then the registry is the one its verdict names (http::Request::verdict,
// access/access.h), so the registry served is always the one the network rules were decided
// for, and the host only tells that registry's data hosts from its login server. On a login
// server, a blob GET of a registry with its data endpoint enabled answers 307 to a signed URL on
// the data host of the registry's home region; the data host serves only such URLs (UrlSigner).
// Errors are OCI error bodies from oci/errors.h.
//
// The handlers do HTTP only: the repositories themselves — blobs, manifests, tags, referrers,
// uploads, the order in which a push becomes visible (nothing before it is verified) and the
// events that say what changed — are the RepositoryService's (registry/repository_service.h),
// which the Registry owns and exposes for subscribers. Handlers translate its Errors to OCI
// error bodies at the edge.
//
// Authentication: with RegistryOptions::authorizer set, every login-server request is checked
// (and /oauth2/* served) by it before dispatch (authz/authorizer.h); data hosts are not —
// their signed URLs are their authorization. Without one the registry is open.
//
// Thread-safety: Start() may be called from any thread; exchanges run on one thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "http/message.h"
#include "registry/authorizer.h"
#include "registry/directory.h"
#include "registry/repository_service.h"
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
  // Authentication and authorization of login-server requests (authz/authorizer.h); null:
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

  // The repositories behind the handlers; subscribe here for what changed.
  RepositoryService& repositories() { return repositories_; }

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

  std::shared_ptr<const Directory> directory_;
  mutable std::mutex directory_mu_;
  const UrlSigner& signer_;
  RegistryOptions options_;
  RegistryCounters counters_;
  RepositoryService repositories_;
};

}  // namespace cove::registry
