// coved's configuration: where it keeps data, what it listens on, and which registries it
// serves. Until the control plane owns registries, this file (or the embedded defaults) is how
// registries are declared; it stays the way to run cove as a plain registry.
//
//   data_dir: /var/lib/cove            # blobs/, meta.db, tls/, keys/
//   dns_suffix: azurecr.io             # login servers are <registry>.<suffix>
//   threads: 2
//   upload_ttl_hours: 24               # abandoned uploads are purged after this
//   header_timeout_ms: 30000           # a request head must arrive within this
//   idle_timeout_ms: 60000             # longest silence inside a body or between requests
//   default_registry: myregistry       # serves requests to hosts that are not ours (IPs)
//   arm_listen: 127.0.0.1:7780         # the control plane's ARM REST API (HTTPS, loopback)
//   arm_host_names: [cove.example]     # further names it answers to (Host header, certificate)
//   arm_insecure_http: false           # true: plain HTTP instead (tests; still authenticated)
//   listen:
//     - {address: 127.0.0.1, port: 443}              # TLS (the default)
//     - {address: 127.0.0.1, port: 5000, tls: false} # plain HTTP: loopback only
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
  http::ListenerOptions arm_listen{.address = "127.0.0.1", .port = 7780, .tls = true};
  std::vector<std::string> arm_host_names;
  std::vector<registry::RegistryInfo> registries;
  std::optional<auth::IdentityData> auth;  // the `auth:` section; none: every registry open
};

// The embedded defaults: registry "myregistry" in westus with its data endpoint enabled, under
// azurecr.io, TLS on 127.0.0.1:443 when running as root, else on 127.0.0.1:5443; data under
// /var/lib/cove for root, else $HOME/.local/share/cove.
Config DefaultConfig();

// Parses YAML text over the defaults. kInvalidArgument naming the field that is wrong:
// unknown keys, wrong types, ports out of range, plain HTTP on a non-loopback address.
Result<Config> ParseConfig(const std::string& yaml_text);
// Reads and parses a file; kNotFound / kIOError when it cannot be read.
Result<Config> LoadConfig(const std::string& path);

// True for 127.0.0.0/8 and ::1.
bool IsLoopback(const std::string& address);

// Parses "ADDR:PORT" ("[::1]:PORT" for IPv6). kInvalidArgument for a missing or bad port, or
// for plain HTTP (`tls` false) on an address that is not loopback.
Result<http::ListenerOptions> ParseListenAddress(const std::string& text, bool tls);

}  // namespace cove::daemon
