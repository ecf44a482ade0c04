// SiteDns: an on-premises site's own DNS server, run as the real software a site runs (BIND 9 or
// unbound) with a configuration cove writes, so that the same configuration can be copied to a
// real site (docs/onprem-dns.md walks through it).
//
// The site's resolver answers its hosts recursively and sends the names Azure keeps private to a
// DNS Private Resolver inbound endpoint (an address in the VNet, reached over the VPN or
// ExpressRoute), e.g. `azurecr.io` → 10.0.2.4:
//   BIND 9:  zone "azurecr.io" { type forward; forward only; forwarders { 10.0.2.4; }; };
//   unbound: forward-zone: name: "azurecr.io"  forward-addr: 10.0.2.4
// Every other name is resolved from the root servers, or asked of the site's upstream resolver
// (an ISP's: `upstream`) when it has one. Forwarding the
// public zone (azurecr.io), not only privatelink.azurecr.io, is what makes the whole CNAME chain
// come from the inbound endpoint; see the mistakes in docs/onprem-dns.md.
//
// RenderBindConfig / RenderUnboundConfig are pure functions of a SiteDnsSpec (which
// ValidateSiteDnsSpec accepted: every value lands in a configuration file, so names and
// addresses are checked character by character first). SiteDnsServer writes the files under
// spec.state_dir (configuration, zone files, pid file, working directory: nothing outside it),
// checks them with named-checkconf / unbound-checkconf, starts `named -g` / `unbound -d` inside
// the site's network namespace through fabric::Namespaces::Spawn, and returns once the server
// answers a query (polling with a bound, waking early if the server exits). It owns that one
// process and stops it by its PID.
//
// Thread-safety: the functions are pure; a SiteDnsServer is used from one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "fabric/namespaces.h"

namespace cove::onprem {

struct SiteDnsSpec {
  enum Software { kBind, kUnbound };

  // A conditional forwarder: queries at or below `zone` go to `targets` (and nowhere else).
  struct Forward {
    std::string zone;                  // "azurecr.io"
    std::vector<std::string> targets;  // IPv4/IPv6 addresses, port 53: "10.0.2.4"
  };
  // A record of a zone the site's server holds itself (the site's own names).
  struct LocalRecord {
    std::string name;  // relative to the zone; "@" is the apex
    std::string type;  // A, AAAA or CNAME
    std::string value;
    uint32_t ttl = 300;
  };
  struct LocalZone {
    std::string name;  // "corp.example"
    std::vector<LocalRecord> records;
  };

  Software software = kBind;
  std::string netns;           // the site namespace the server runs in
  std::string listen_address;  // "192.168.1.53"
  uint16_t port = 53;
  // Who may ask (allow-query/allow-recursion, access-control): the site's prefixes. Loopback is
  // always allowed.
  std::vector<std::string> allow_from;  // "192.168.0.0/16"
  std::vector<Forward> forwards;
  std::vector<LocalZone> local_zones;
  // The site's upstream resolver (its ISP's): every name outside the forwarded and local zones
  // is asked there instead of the root servers. Empty: recursion from the root servers.
  std::vector<std::string> upstream;
  // false (the lab): no DNSSEC validation at all, the site namespace has no path to the root's
  // keys. true (a real site): validation on, except below the forwarded zones (see the configs).
  bool dnssec_validation = false;
  std::string state_dir;  // absolute; created if missing
};

// Returns Ok, or kInvalidArgument naming the field: addresses and prefixes that inet_pton does
// not read, zone and record names with anything but letters, digits, '-', '_' and dots (or an
// empty label), unknown record types, a forward without targets, a zone name given twice (as a
// forward or a local zone), an empty or relative state_dir.
Status ValidateSiteDnsSpec(const SiteDnsSpec& spec);

// named.conf for the spec. REQUIRES: ValidateSiteDnsSpec(spec) is Ok.
std::string RenderBindConfig(const SiteDnsSpec& spec);
// The zone file of one local zone, which both configurations load from <state_dir>/<zone>.zone.
std::string RenderZoneFile(const SiteDnsSpec::LocalZone& zone);
// unbound.conf for the spec. REQUIRES: ValidateSiteDnsSpec(spec) is Ok.
std::string RenderUnboundConfig(const SiteDnsSpec& spec);

struct SiteDnsOptions {
  std::chrono::milliseconds start_timeout{15'000};  // until the server must answer
  std::chrono::milliseconds stop_timeout{5'000};    // after SIGTERM, before SIGKILL
};

class SiteDnsServer {
 public:
  // Writes, checks and starts the server (see above). kInvalidArgument for a bad spec or a
  // configuration the checker refuses (its output in the message); kNotFound when the namespace
  // does not exist; kUnavailable when the server exits or does not answer in time (the end of
  // its log in the message; the process is stopped). `namespaces` must outlive the server.
  static Result<std::unique_ptr<SiteDnsServer>> Start(const SiteDnsSpec& spec,
                                                      fabric::Namespaces& namespaces,
                                                      SiteDnsOptions options = {});
  ~SiteDnsServer();
  SiteDnsServer(const SiteDnsServer&) = delete;
  SiteDnsServer& operator=(const SiteDnsServer&) = delete;

  // Stops the process (SIGTERM, then SIGKILL after stop_timeout) and reaps it. Idempotent.
  // Returns Ok once it is gone, kIOError if it could not be signalled.
  Status Stop();

  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }
  // What the server has written to stdout/stderr so far (its log, in the foreground modes).
  std::string Log() const;

 private:
  SiteDnsServer(pid_t pid, std::string config_path, std::string log_path, SiteDnsOptions options);
  pid_t pid_;
  std::string config_path_;
  std::string log_path_;
  SiteDnsOptions options_;
};

}  // namespace cove::onprem
