// coved's configuration: where it keeps data, what it listens on, and which registries it
// serves. In `coved registry` mode this file (or the embedded defaults) declares the registries;
// it is the way to run cove as a plain registry. In full mode (`coved` with the control plane)
// every registry comes from the control plane: the embedded default registry is dropped and a
// file that declares registries, a default registry or an `auth:` section is refused
// (UseControlPlaneRegistries).
//
// A registry without an `auth:` entry is open (anyone may push and pull). That is for one
// person on one machine: an open registry is refused on any listener that is not loopback
// (CheckOpenRegistries).
//
//   data_dir: /var/lib/cove            # blobs/, meta.db, tls/, keys/
//   metadata: postgresql://cove@db.example/cove
//                                      # shared engines (daemon/engines.h): metadata in
//   blobs: "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=…;EndpointSuffix=core.windows.net"
//                                      # PostgreSQL, blobs in Azure Blob Storage (a connection
//                                      # string); nodes over the same ones are interchangeable.
//                                      # $COVE_METADATA / $COVE_BLOBS override the file (keep
//                                      # passwords out of it), --metadata / --blobs both
//   secrets_dir: /srv/cove/secrets     # the CA and keys when nodes share them (default data_dir)
//   dns_suffix: azurecr.io             # login servers are <registry>.<suffix>
//   threads: 2
//   upload_ttl_hours: 24               # abandoned uploads are purged after this
//   header_timeout_ms: 30000           # a request head must arrive within this
//   idle_timeout_ms: 60000             # longest silence inside a body or between requests
//   default_registry: myregistry       # serves requests to hosts that are not ours (IPs,
//                                      # localhost); without one they get 404 NAME_UNKNOWN
//   arm_listen: 127.0.0.1:7780         # the control plane's ARM REST API (HTTPS, loopback)
//   arm_host_names: [cove.example]     # further names it answers to (Host header, certificate)
//   arm_insecure_http: false           # true: plain HTTP instead (tests; still authenticated)
//   listen:
//     - {address: 127.0.0.1, port: 443}              # TLS (the default)
//     - {address: 127.0.0.1, port: 5000, tls: false} # plain HTTP: loopback only
//     - {address: 10.1.0.5, port: 443, proxy_protocol: true, proxy_sources: [10.1.0.0/28]}
//                                      # behind forwarders (another host's private endpoint,
//                                      # a load balancer): PROXY v2 headers, believed only
//                                      # from these addresses/CIDRs; others are refused
//   registries:
//     - name: myregistry
//       region: westus                 # home region
//       replicas: [eastus]             # further regions (data hosts)
//       data_endpoint_enabled: true
//   auth:                              # optional: identities (auth/bootstrap.h); registries
//     registries: [{name: myregistry, admin_user: {enabled: true, password_hashes: [...]}}]
//                                      # listed there require authentication, others stay open
//   limits:                            # what one client may take (defaults shown; 0: no limit)
//     connections: 10000               # HTTP connections at once (registry and ARM listeners)
//     connections_per_source: 256      # per client address (PROXY v2 source) and link id
//     body_min_rate: 500               # bytes/s a request body must average after the grace
//     body_grace_ms: 20000
//     discard_body_bytes: 65536        # largest body read and dropped after a refusal
//     password_workers: 2              # Argon2id threads (never the I/O threads)
//     password_queue: 64               # attempts waiting for a worker; more get 503
//     password_in_flight_per_source: 4 # more from one source get 429
//     password_failures_per_source: 10      # per minute, then 429 + Retry-After
//     password_failures_per_principal: 50   # per 5 minutes, then 429 for sources that have
//                                           # not signed in as the principal in 24 hours
//     password_refusal_delay_ms: 1000  # throttled/busy 429s are held back this long (tarpit)
//     dns_tcp_connections: 1024        # DNS over TCP, in the process
//     dns_tcp_connections_per_view: 256     # per VNet
//     dns_tcp_connections_per_source: 32    # per client address within a VNet
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/identity.h"
#include "auth/password_guard.h"
#include "common/error.h"
#include "dns/server.h"
#include "http/server.h"
#include "registry/directory.h"

namespace cove::daemon {

// The `limits:` section (see above); the fields' defaults are the documented ones.
struct Limits {
  size_t connections = 10'000;
  size_t connections_per_source = 256;
  uint64_t body_min_rate = 500;
  int body_grace_ms = 20'000;
  uint64_t discard_body_bytes = 64 * 1024;
  int password_workers = 2;
  size_t password_queue = 64;
  size_t password_in_flight_per_source = 4;
  int password_failures_per_source = 10;
  int password_failures_per_principal = 50;
  int password_refusal_delay_ms = 1000;
  size_t dns_tcp_connections = 1024;
  size_t dns_tcp_connections_per_view = 256;
  size_t dns_tcp_connections_per_source = 32;

  // The HTTP server's options with these limits (threads and timeouts from `config`).
  void ApplyTo(http::ServerOptions& options) const;
  auth::PasswordGuardOptions PasswordOptions() const;
  dns::ServerOptions DnsOptions() const;
};

struct Config {
  std::string data_dir;
  // Shared engines (daemon/engines.h): "" = the embedded ones under data_dir.
  std::string metadata;  // a PostgreSQL connection URI or key=value string
  std::string blobs;     // an Azure Storage connection string
  // Where the CA (tls/ca.{crt,key}) and the signing keys (keys/) are, when they are shared with
  // other nodes: a region node (daemon/region_node.h) uses the full daemon's data directory, so
  // every region signs and verifies with the same keys and presents certificates of the same
  // CA. "": data_dir. Host certificates (tls/hosts/) are always the node's own.
  std::string secrets_dir;
  // The Azure region this node serves, when it is one region of several (daemon/region_node.h):
  // its blob redirects name that region's data host. "": the registry's home region.
  std::string region;
  // Blobs in three failure domains (zoneRedundancy: Enabled): <data>/blobs, <data>/zones/2/blobs
  // and <data>/zones/3/blobs, a write acknowledged on two (storage/quorum_blob_store.h). A node
  // that was not zone-redundant before keeps <data>/blobs as its first zone and copies it to the
  // others (QuorumBlobStore::Repair, at start and every 10 minutes).
  bool zone_redundant = false;
  std::string dns_suffix = "azurecr.io";
  int threads = 2;
  int upload_ttl_hours = 24;
  // Online garbage collection (registry/garbage_collector.h): a pass every gc_interval_seconds
  // (0: none); reviews wait gc_grace_seconds (GitLab's default review delay, 24 h). Flags only
  // (coved --gc-interval, --gc-grace; passed on to the region processes).
  int gc_interval_seconds = 600;
  int gc_grace_seconds = 24 * 3600;
  int header_timeout_ms = 30'000;
  int idle_timeout_ms = 60'000;
  std::string default_registry;
  std::vector<http::ListenerOptions> listen;
  http::ListenerOptions arm_listen{.address = "127.0.0.1", .port = 7780, .tls = true};
  std::vector<std::string> arm_host_names;
  std::vector<registry::RegistryInfo> registries;
  std::optional<auth::IdentityData> auth;  // the `auth:` section; none: every registry open
  // The file set `registries`, `default_registry` or `auth` (rather than keeping the embedded
  // defaults).
  bool registries_declared = false;
  Limits limits;
};

// The embedded defaults: registry "myregistry" in westus with its data endpoint enabled, under
// azurecr.io, TLS on 127.0.0.1:443 when running as root, else on 127.0.0.1:5443; data under
// /var/lib/cove for root, else $HOME/.local/share/cove.
Config DefaultConfig();

// Parses YAML text over the defaults. kInvalidArgument naming the field that is wrong:
// unknown keys, wrong types, ports out of range, plain HTTP on a non-loopback address,
// proxy_protocol without proxy_sources (or the reverse) and proxy_sources that do not parse.
Result<Config> ParseConfig(const std::string& yaml_text);
// Reads and parses a file; kNotFound / kIOError when it cannot be read.
Result<Config> LoadConfig(const std::string& path);

// Full mode: the control plane owns every registry. Drops the embedded default registry;
// kInvalidArgument (saying to create registries through the control plane, or to run
// `coved registry`) when the file declared registries, a default registry or an `auth:` section.
Status UseControlPlaneRegistries(Config& config);

// The registries without an `auth:` entry (open: anyone may push and pull), by name.
std::vector<std::string> OpenRegistries(const Config& config);
// kInvalidArgument naming the open registries and the first listener that is not loopback, when
// both exist: an open registry is served on loopback only.
Status CheckOpenRegistries(const Config& config);

// True for 127.0.0.0/8 and ::1.
bool IsLoopback(const std::string& address);

// Parses "ADDR:PORT" ("[::1]:PORT" for IPv6). kInvalidArgument for a missing or bad port, or
// for plain HTTP (`tls` false) on an address that is not loopback.
Result<http::ListenerOptions> ParseListenAddress(const std::string& text, bool tls);

}  // namespace cove::daemon
