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
//   dns_suffix: azurecr.io             # login servers are <registry>.<suffix>
//   threads: 2
//   upload_ttl_hours: 24               # abandoned uploads are purged after this
//   header_timeout_ms: 30000           # a request head must arrive within this
//   idle_timeout_ms: 60000             # longest silence inside a body or between requests
//   default_registry: myregistry       # serves requests to hosts that are not ours (IPs,
//                                      # localhost); without one they get 404 NAME_UNKNOWN
//   arm_listen: 127.0.0.1:7780         # the control plane's ARM REST API (plain HTTP, loopback)
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
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/identity.h"
#include "common/error.h"
#include "http/server.h"
#include "registry/directory.h"

namespace cove::daemon {

struct Config {
  std::string data_dir;
  std::string dns_suffix = "azurecr.io";
  int threads = 2;
  int upload_ttl_hours = 24;
  int header_timeout_ms = 30'000;
  int idle_timeout_ms = 60'000;
  std::string default_registry;
  std::vector<http::ListenerOptions> listen;
  http::ListenerOptions arm_listen{.address = "127.0.0.1", .port = 7780, .tls = false};
  std::vector<registry::RegistryInfo> registries;
  std::optional<auth::IdentityData> auth;  // the `auth:` section; none: every registry open
  // The file set `registries`, `default_registry` or `auth` (rather than keeping the embedded
  // defaults).
  bool registries_declared = false;
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
