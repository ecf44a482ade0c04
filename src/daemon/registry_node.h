// RegistryNode: one running registry node — stores, TLS, the access Gate, the Distribution API
// and its listeners — built from a Config. coved's `registry` mode is exactly this (its Gate
// applies the `auth:` section's network settings: public network access, bypass); the full
// daemon adds the control plane, the fabric and DNS around it, and each control-plane commit's
// projection replaces the configured registries, identities and network rules (Apply).
//
// Data directory layout (created on first start):
//   <data>/blobs/       FilesystemBlobStore (blobs/, uploads/, tmp/); zone-redundant
//                       (Config::zone_redundant): the first of three zones, with
//                       <data>/zones/{2,3}/blobs/ (storage/quorum_blob_store.h)
//   <data>/meta.db      SqliteMetaStore (WAL)
//   <data>/tls/         ca.crt, ca.key, hosts/<name>.{crt,key}
//   <data>/keys/        blob-url/ (the signed data-endpoint URLs' keys, rotated:
//                       daemon/url_keys.h), token-signing/ and identity-signing/ (auth/keys.h)
// Over shared engines (Config::metadata / Config::blobs, daemon/engines.h) meta.db, blobs/ and
// keys/ are in PostgreSQL and Azure Blob Storage instead, and the node keeps only tls/.
//
// GET /cove/health on every registry listener, before the network rules and without
// credentials (load balancers probe it): 200 {"status":"ok","metadata":"ok","blobs":"ok"}, or
// 503 with "degraded" and the engine that is "unavailable". Nothing else — no engine address,
// no error text (those are logged). Probed at most once a second.
// Thread-safety: Start/Stop from one thread; everything else runs on the server's threads and
// one maintenance thread (purges abandoned uploads every 10 minutes; a garbage collection pass,
// registry/garbage_collector.h, every Config::gc_interval_seconds).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "auth/authenticator.h"
#include "auth/keys.h"
#include "common/clock.h"
#include "daemon/config.h"
#include "daemon/engines.h"
#include "daemon/url_keys.h"
#include "daemon/projection.h"
#include "access/access.h"
#include "http/server.h"
#include "http/tls.h"
#include "registry/garbage_collector.h"
#include "registry/registry.h"
#include "storage/blob_store.h"
#include "storage/quorum_blob_store.h"
#include "storage/meta_store.h"

namespace cove::daemon {

class RegistryNode {
 public:
  // Opens stores and TLS material under config.data_dir. Errors name the path or setting;
  // kInvalidArgument when an open registry (no `auth:` entry) would be served on a listener that
  // is not loopback (CheckOpenRegistries).
  static Result<std::unique_ptr<RegistryNode>> Open(Config config, const Clock& clock);
  ~RegistryNode();

  // Binds every configured listener and starts serving. Returns the bound ports in order.
  Result<std::vector<uint16_t>> Start();
  void Stop();

  registry::Registry& registry() { return *registry_; }
  // The node's metadata (a region node answers usage questions from it).
  storage::MetaStore& meta() { return *engines_.meta; }
  registry::GarbageCollector& collector() { return *collector_; }
  // The network-rule gate in front of the registry (access/access.h) and the HTTP server
  // (planes adopt listeners made inside namespaces into it).
  access::Gate& gate() { return *gate_; }
  http::Server& server() { return *server_; }
  // One control-plane commit (daemon/projection.h), in one step that fails closed: its
  // identities first, then the Gate's network policy, then its registries — a registry is never
  // served before its authentication and its network rules exist. When the identities cannot
  // be built or set, nothing changes (kInvalidArgument or the build's error); when the
  // registries cannot be set (SetControlPlaneRegistries), the identities and policy are the
  // new ones and the previous registries stay.
  Status Apply(const Projection& projection);
  // Serves exactly `from_control_plane` from now on: the configured registries and the default
  // registry are no longer served, so other hosts get 404 NAME_UNKNOWN (the full daemon calls
  // this after every control-plane commit). Registries missing since the previous call are
  // deleted with their content (registry::Registry::DeleteRegistryContent); one that appears
  // after the first call is emptied before it is served. kInvalidArgument when the set is not a
  // valid Directory; a store error when a new registry could not be emptied; the previous
  // directory then stays.
  Status SetControlPlaneRegistries(std::vector<registry::RegistryInfo> from_control_plane);
  // Who may use the control plane's registries (daemon/identities.h builds it from a snapshot),
  // plus the `auth:` section's identities for registries the control plane does not own (none
  // in coved's full mode, whose configuration has no `auth:` section).
  // kInvalidArgument when the merged data is inconsistent; the previous identities then stay.
  Status SetControlPlaneIdentities(auth::IdentityData from_control_plane);
  // The name of the registry whose login server is `host` (lowercase, no port); "" for any
  // other host (no fallback to the default registry).
  std::string RegistryOfLoginServer(const std::string& host) const;
  const std::string& ca_certificate_pem() const { return ca_->CertificatePem(); }
  const http::CertificateAuthority& ca() const { return *ca_; }
  // Always present; a registry without identities in the current snapshot is open.
  auth::Authenticator* authenticator() { return authenticator_.get(); }
  auth::TokenService* tokens() { return tokens_.get(); }
  // The current identities (what SetControlPlaneIdentities last set), for the instance
  // metadata service.
  const auth::IdentityStore& identities() const { return identities_; }

 private:
  RegistryNode() = default;
  void Maintain();
  void Upkeep();  // keys, zone repair, abandoned uploads

  Config config_;
  const Clock* clock_ = nullptr;
  Engines engines_;
  std::unique_ptr<http::CertificateAuthority> ca_;
  std::unique_ptr<http::SniContextProvider> tls_;
  std::unique_ptr<UrlKeys> url_keys_;
  std::unique_ptr<registry::UrlSigner> signer_;
  // Authentication.
  std::unique_ptr<auth::KeyRing> token_keys_, identity_keys_;
  std::unique_ptr<auth::TokenService> tokens_;
  auth::IdentityStore identities_;
  std::shared_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<registry::GarbageCollector> collector_;
  std::unique_ptr<access::Gate> gate_;
  std::unique_ptr<http::Handler> health_;  // GET /cove/health, else the gate
  std::unique_ptr<http::Server> server_;

  std::mutex registries_mu_;  // serializes SetControlPlaneRegistries
  bool control_plane_seen_ = false;

  std::thread maintenance_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace cove::daemon
