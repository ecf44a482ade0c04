// BgpSpeaker: a BGP-4 speaker run by FRR (zebra + bgpd, Debian's `frr` 8.4) inside one network
// namespace — the two ends of an ExpressRoute private peering and the provider edge between them.
// bgpd runs the sessions; zebra installs what bgpd selects into the namespace's kernel table
// (`ip route` shows them as `proto bgp`), so learned routes carry the traffic, and removes them
// when a session or a route goes away (and when zebra stops).
//
// How it runs (checked on Debian 12, FRR 8.4.4):
//  - Each speaker has its own files under state_dir, nothing under /etc/frr or /run/frr:
//    `zebra|bgpd -f <state_dir>/<daemon>.conf -i <state_dir>/<daemon>.pid -z <state_dir>/zserv.api
//    --vty_socket <state_dir> -P 0 --log file:<state_dir>/<daemon>.log` (-P 0: no TCP vty). vtysh
//    reaches them with `vtysh --vty_socket <state_dir> -d bgpd`.
//  - FRR insists that the user it runs as belongs to its vty group (frrvty, compiled in):
//    `-u root -g root` fails ("privs_init: user(root) is not part of vty group specified
//    (frrvty)"); zebra has no -S (skip_runas). So both run as Debian's `frr` user (in frrvty),
//    keeping the capabilities they need; Start chowns state_dir and its files to that user.
//    REQUIRES: the user can reach state_dir (every parent directory searchable by it).
//  - FRR 8 refuses to send or accept eBGP routes without a policy (`bgp ebgp-requires-policy`);
//    the configuration turns it off, and `no bgp network import-check` advertises the networks
//    whether or not the namespace has a route for them (a VNet's prefix is not a kernel route on
//    its gateway).
//  - ExpressRoute's private peering puts the session on an 802.1Q subinterface with the
//    peering's VLAN id; this kernel cannot make VLAN links (no 8021q module: `ip link add … type
//    vlan` says "Unknown device type"), so the peering runs on the plain link.
//  - Timers: keepalive/hold come from the spec (Azure uses 60/180; tests use 1/3), and the
//    connect-retry timer too (FRR's default 120 s would keep a restarted peer down for minutes).
//
// Thread-safety: a BgpSpeaker may be used from one thread at a time; distinct speakers are
// independent. The Namespaces passed to Start must outlive the speaker.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "fabric/namespaces.h"

namespace cove::tunnel {

struct BgpNeighbor {
  std::string address;  // IPv4, directly connected
  uint32_t remote_asn = 0;
  std::string description;  // optional; plain words
};

struct BgpSpec {
  std::string name;   // FRR's hostname ([A-Za-z0-9_-])
  std::string netns;  // the namespace zebra and bgpd run in
  uint32_t asn = 0;
  std::string router_id;  // IPv4 dotted quad
  std::vector<BgpNeighbor> neighbors;
  std::vector<std::string> networks;  // IPv4 prefixes this speaker advertises
  std::string state_dir;              // absolute; created if missing; private to this speaker
  int keepalive_seconds = 60;
  int hold_seconds = 180;
  int connect_retry_seconds = 10;
  std::chrono::milliseconds start_timeout = std::chrono::seconds(10);
  std::string frr_dir = "/usr/lib/frr";
  std::string vtysh_path = "/usr/bin/vtysh";
  std::string user = "frr";  // FRR's user and group (see the header)
  std::string group = "frr";
};

struct SessionState {
  std::string neighbor;
  uint32_t remote_asn = 0;
  std::string state;  // FRR's: "Established", "Active", "Connect", "Idle", "OpenSent", …
  uint64_t prefixes_received = 0;
  bool established() const { return state == "Established"; }
};

// Reads `show bgp summary json` (every address family's peers, each neighbor once). kCorruption
// when it is not that JSON.
Result<std::vector<SessionState>> ParseBgpSummary(std::string_view json);

class BgpSpeaker {
 public:
  // Writes the configuration, starts zebra and then bgpd in spec.netns and waits (at most
  // spec.start_timeout each) for their sockets. Sessions come up on their own afterwards (see
  // WaitEstablished). kInvalidArgument for a bad spec, kNotFound when the FRR user is missing,
  // kIOError when a file cannot be written, kUnavailable when a daemon exits or does not come
  // up in time (with its log). Nothing is left running on failure.
  static Result<std::unique_ptr<BgpSpeaker>> Start(fabric::Namespaces& namespaces,
                                                   const BgpSpec& spec);
  ~BgpSpeaker();  // Stop()
  BgpSpeaker(const BgpSpeaker&) = delete;
  BgpSpeaker& operator=(const BgpSpeaker&) = delete;

  // Every configured neighbor's session. kUnavailable when bgpd is not running or does not answer.
  Result<std::vector<SessionState>> Sessions() const;
  // Polls Sessions until `neighbor`'s session is Established (or, with `established` false, is
  // anything else or gone) or `timeout` passes; true when it got there.
  bool WaitEstablished(const std::string& neighbor, std::chrono::milliseconds timeout,
                       bool established = true) const;
  // Removes a neighbor from the running configuration: bgpd closes the session and the routes
  // learned over it are withdrawn here and towards the other peers. kNotFound for a neighbor
  // that is not configured, kUnavailable when bgpd does not answer, kIOError when it refuses.
  cove::Status RemoveNeighbor(const std::string& address);
  // Stops bgpd (it sends a Cease to its peers) and then zebra (it removes its routes) by PID.
  // Ok also when already stopped.
  cove::Status Stop();

  // The spec, less the neighbors RemoveNeighbor took out.
  const BgpSpec& spec() const { return spec_; }

 private:
  BgpSpeaker(fabric::Namespaces& namespaces, BgpSpec spec)
      : namespaces_(namespaces), spec_(std::move(spec)) {}
  // Starts one FRR daemon and waits for its vty socket.
  cove::Status StartDaemon(const std::string& daemon, pid_t* pid);
  // Runs vtysh against bgpd with the given commands (each one -c).
  Result<std::string> Vtysh(const std::vector<std::string>& commands) const;

  fabric::Namespaces& namespaces_;
  BgpSpec spec_;
  pid_t zebra_pid_ = -1;
  pid_t bgpd_pid_ = -1;
};

// The files Start writes, exposed for documentation and tests.
std::string ZebraConf(const BgpSpec& spec);
std::string BgpdConf(const BgpSpec& spec);

}  // namespace cove::tunnel
