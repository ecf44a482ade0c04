// RegionNode: one Azure region of cove's registries — `coved region`, its own process with its
// own stores, one per region that any registry is replicated to (docs/regions.md). The full
// daemon starts and supervises them (daemon/regions.h); clients never reach a region directly:
// Private Link forwarders carry their connections here over the backbone.
//
// A region node is a RegistryNode (stores, Gate, Distribution API, tokens) whose registries are
// the control plane's registries that have this region among their regions, plus a backbone
// API for the supervisor and the other regions. It listens on the backbone address (loopback:
// the backbone is the host's own namespace, which no VNet and no public client can route to):
//   client listeners   TLS, and plain HTTP for coved's plain loopback listeners (tests); PROXY
//                      v2 required, believed only from the forwarders' address
//                      (Options::forwarder_sources): every connection carries the client's
//                      address and, through a private endpoint, its LinkID, and the access Gate
//                      decides on those exactly as it would for a direct connection;
//   backbone listener  TLS (a certificate for the backbone address from cove's CA), every request
//                      authenticated with the backbone key (<secrets>/keys/backbone.key, a shared
//                      secret of the nodes of one cove; `Authorization: Bearer <hex>`):
//       PUT /cove/region/v1/config     a RegionConfig (below): persisted, then applied
//       GET /cove/region/v1/status     {"region", "version"} — the supervisor's health probe
//       GET /cove/region/v1/counters   the Gate's per-endpoint counters (access/access.h)
//       GET /cove/region/v1/usage?registry=R
//                                      {"region", "registry", "sizeBytes"}: the storage R uses
//                                      here (MetaStore::RegistryUsage; `acr show-usage`)
//       /cove/replication/v1/...       the region's replication (replication/replicator.h):
//                                      the other regions pull its journal and content here
//
// Replication: the region's Replicator records every change of its RepositoryService in
// <data>/replication.db and pulls the other regions of each registry (the config's peers); it is
// also the registry's ContentSource, so a client reads through to a peer what this region has
// not received yet (read-your-writes, registry/content_source.h).
//
// Configuration: the control plane's committed documents, pushed by the supervisor after every
// commit (RegionConfig) and kept in <data>/config.json (mode 0600), so a region restarted while
// the control plane is down serves what it served before. The region builds the snapshot and
// the projection itself (arm::BuildSnapshot, daemon::Project): one translation, the same as the
// full daemon's. A push older than the one applied is ignored.
//
// Data directory: <coved data>/regions/<region>/ (RegistryNode's layout: blobs/, meta.db,
// tls/hosts/); the CA and the signing keys are the full daemon's (Config::secrets_dir), so a
// token issued in one region is good in every other.
//
// Thread-safety: Start/Stop from one thread; Apply from any (serialized).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "arm/snapshot.h"
#include "common/clock.h"
#include "common/error.h"
#include "daemon/config.h"
#include "daemon/registry_node.h"
#include "http/server.h"
#include "replication/replicator.h"

namespace cove::daemon {

// Another region's backbone endpoint.
struct RegionPeer {
  std::string region;
  std::string address;
  uint16_t port = 0;  // its backbone listener
};

// What the supervisor pushes to a region.
struct RegionConfig {
  uint64_t version = 0;  // the control plane's snapshot version
  std::string dns_suffix;
  arm::Documents documents;
  std::vector<RegionPeer> peers;  // every other live region

  std::string ToJson() const;
  // kInvalidArgument naming what is wrong.
  static Result<RegionConfig> Parse(std::string_view json);
};

// The backbone key: 32 random bytes, hex, in <secrets>/keys/backbone.key (0600), created when
// missing. kIOError naming the path.
Result<std::string> LoadOrCreateBackboneKey(const std::string& secrets_dir);

struct RegionNodeOptions {
  std::string region;
  // data_dir = the region's own directory, secrets_dir = the full daemon's data directory;
  // listen is replaced by the client listener below.
  Config config;
  std::string backbone_address = "127.0.0.1";
  // Who PROXY v2 headers are believed from: the Private Link forwarders' source address.
  std::vector<std::string> forwarder_sources = {"127.0.0.1/32"};
  // Replication deliberately slowed: each batch pulled from a peer waits this long before it
  // is applied (tests and benchmarks of read-your-writes; ReplicatorOptions::apply_delay).
  std::chrono::milliseconds replication_delay{0};
};

struct RegionPorts {
  uint16_t client = 0;        // TLS
  uint16_t client_plain = 0;  // plain HTTP
  uint16_t backbone = 0;
};

class RegionNode {
 public:
  // Opens the region's stores and, when <data>/config.json exists, applies it.
  static Result<std::unique_ptr<RegionNode>> Open(RegionNodeOptions options, const Clock& clock);
  ~RegionNode();

  Result<RegionPorts> Start();
  void Stop();

  // Persists `config`, then applies it (registries of this region, identities, network
  // policy). A config older than the applied one is ignored (OK). Errors keep what was served.
  Status Apply(const RegionConfig& config);
  uint64_t version() const;
  const std::string& region() const { return options_.region; }
  RegistryNode& registry_node() { return *node_; }
  replication::Replicator& replicator() { return *replicator_; }

 private:
  class BackboneApi;
  RegionNode() = default;
  Status ApplyLocked(const RegionConfig& config);

  RegionNodeOptions options_;
  const Clock* clock_ = nullptr;
  std::string backbone_key_;
  std::unique_ptr<RegistryNode> node_;
  std::unique_ptr<http::SniContextProvider> backbone_tls_;
  std::unique_ptr<BackboneApi> api_;
  std::shared_ptr<replication::Replicator> replicator_;  // destroyed before node_'s stores
  std::unique_ptr<http::Server> backbone_;  // stops before the replicator it serves
  mutable std::mutex mu_;  // serializes Apply
  uint64_t version_ = 0;   // guarded by mu_
  bool applied_ = false;   // guarded by mu_
};

}  // namespace cove::daemon
