// Registry: the OCI Distribution API (v1.1) for every registry in a Directory, as an
// http::Handler. This is the seed's "Registry REST API" box (login server: manifests, tags,
// uploads, catalog, referrers) and its "Data Storage" box (data hosts: signed blob downloads).
//
// A request's host picks the registry (Directory::Match) — unless the access Gate stands in
// front: then the registry is the one its verdict names (http::Request::verdict,
// access/access.h), so the registry served is always the one the network rules were decided
// for, and the host only tells that registry's data hosts from its login server. On a login
// server, a blob GET of a registry with its data endpoint enabled answers 307 to a signed URL on
// the data host of the region this node serves (RegistryOptions::region, when it is one of the
// registry's regions; otherwise — and always in a single-region deployment — the registry's home
// region); the data host serves only such URLs (UrlSigner). Errors are OCI error bodies from
// oci/errors.h.
//
// Regions (issue 12, docs/regions.md): each region of a registry runs as its own node with its
// own stores, and replication copies content between them asynchronously. With a ContentSource
// (registry/content_source.h) the handlers read through to the other regions:
//   - blob GET/HEAD on the login server, not held here: GET with the data endpoint on answers
//     307 to the data host of a region that holds it (ContentSource::RegionHolding); otherwise
//     (HEAD, or the data endpoint off) the blob is copied here first (FetchBlob) and served.
//     HEAD answers 200 with the size, never a redirect: the spec's existence check is metadata.
//   - blob GET/HEAD on a data host (a signed URL), not held here yet (replication lag): FetchBlob,
//     then served. The node answers the data hosts of any region the way it did before regions
//     existed (the signature names the host's region; the bytes are content-addressed); in a
//     multi-region deployment the forwarders send each data host only to its own region's node.
//   - manifest GET/HEAD by tag: RefreshTag first (its errors are logged; the local tag is served);
//     a manifest not held here: FetchManifest, then served.
//   - tags/list, _catalog and referrers stay local: eventually consistent, as in ACR.
// A source that fails (kUnavailable: a peer that claimed the content did not deliver it) is
// logged and the node answers from what it holds, as it did without a source: 404 for a miss.
// Without a source (null: one region, or no peers yet) the node serves only what it holds.
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
// Thread-safety: Start(), SetDirectory() and SetContentSource() may be called from any thread;
// exchanges run on one thread at a time.
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
#include "registry/content_source.h"
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
  // 0: none (a shared store, where a kept handle would hold the upload's lease from others).
  size_t max_idle_uploads = 256;  // each holds a file descriptor
  // Makes upload ids; default: 128 random bits, hex. Tests may inject a sequence.
  std::function<std::string()> new_upload_id;
  // Authentication and authorization of login-server requests (authz/authorizer.h); null:
  // the registry is open, as it was before cove had auth.
  std::shared_ptr<Authorizer> authorizer;
  // The region this node serves ("eastus"): its blob redirects name this region's data host when
  // the registry is replicated there. "" (a node that is not one region of several): redirects
  // name the registry's home region, as before regions were failure domains.
  std::string region;
  // Where the node reads through to the other regions (registry/content_source.h); null: none,
  // the node serves only what it holds. Replaced at runtime with Registry::SetContentSource.
  std::shared_ptr<ContentSource> content_source;
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

  // Replaces the content source (null: none), as the peers change; requests already started
  // keep the one they saw.
  void SetContentSource(std::shared_ptr<ContentSource> source);
  std::shared_ptr<ContentSource> content_source() const;

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
  // 307 to a signed URL for the blob on the data host of `region`.
  http::ExchangePtr RedirectToDataHost(Call& call, const Digest& digest, const std::string& region);
  // The blob's size after copying it from another region through `source`; the local answer
  // (kNotFound) when the source does not deliver it (its errors other than kNotFound are logged).
  Result<uint64_t> FetchBlob(ContentSource& source, const storage::RepoKey& repo,
                             const Digest& digest);
  http::ExchangePtr UploadStart(Call& call);
  http::ExchangePtr Upload(Call& call);
  http::ExchangePtr Manifest(Call& call);
  http::ExchangePtr ManifestGet(Call& call);
  http::ExchangePtr ManifestDelete(Call& call);

  std::shared_ptr<const Directory> directory_;
  mutable std::mutex directory_mu_;
  std::shared_ptr<ContentSource> content_source_;
  mutable std::mutex content_source_mu_;
  const UrlSigner& signer_;
  RegistryOptions options_;  // options_.content_source moved to content_source_
  RegistryCounters counters_;
  RepositoryService repositories_;
};

}  // namespace cove::registry
