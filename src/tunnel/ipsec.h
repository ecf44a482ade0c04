// IpsecEndpoint: one end of an IKEv2 site-to-site IPsec tunnel (PSK, route-based in Azure's
// words), run by strongSwan's charon inside one network namespace, with userspace ESP.
//
// How it runs (checked on Debian 12, strongSwan 5.9.8, a kernel without an ESP transform —
// `ip xfrm state add … proto esp` fails "Requested type not found"):
//  - ESP is done in userspace by the `kernel-libipsec` plugin (libcharon-extra-plugins): charon
//    opens a TUN device (ipsec0) in the namespace; `kernel-netlink` still does addresses, routes
//    and the policy-routing rule. libipsec always encapsulates ESP in UDP 4500 (it pretends the
//    peer is behind a NAT), so the wire shows IKE on UDP 500 for IKE_SA_INIT, then UDP 4500
//    only — never raw ESP (IP protocol 50).
//  - Plugins loaded (charon.load, nothing modular): random nonce aes sha1 sha2 hmac gmp
//    curve25519 kdf pem pkcs1 pubkey x509 kernel-libipsec kernel-netlink socket-default vici
//    updown. There is no openssl nor gcm plugin installed, and libipsec has no AEAD: the default
//    ESP proposal (AES-GCM) fails on the responder ("unsupported AEAD algorithm AES_GCM_16",
//    NO_PROPOSAL_CHOSEN), so ESP is pinned to aes256-sha256 (CBC + HMAC) and IKE to
//    aes256-sha256-modp2048 (one of Azure's default IKEv2 policies).
//  - With charon.install_routes (default yes) charon puts the remote prefixes into table 220
//    (`ip rule` priority 220) through ipsec0, with the local LAN address as source when the
//    namespace has one inside the local prefixes; that works in a namespace — we add no routes.
//    On exit charon removes the TUN device, the routes and the rule.
//  - charon's PID file is compiled in (/var/run/charon.pid, and a second charon refuses to start
//    while it names a live process), so each charon runs in its own mount namespace with
//    <state_dir>/run bind-mounted over /run. The vici socket is <state_dir>/charon.vici
//    (charon.plugins.vici.socket); swanctl reaches it with --uri and reads <state_dir>/swanctl/
//    swanctl.conf with --file. STRONGSWAN_CONF points both at <state_dir>/strongswan.conf, so the
//    host's /etc/strongswan.conf and /etc/swanctl are never read.
//  - A wrong PSK: the responder answers AUTHENTICATION_FAILED, the initiator drops the IKE_SA
//    and (keyingtries 1) does not retry: no SA on either side, NotConnected.
//
// Files under state_dir: strongswan.conf, swanctl/swanctl.conf (0600, holds the PSK), run/
// (charon's /run), charon.vici, charon.log (charon's own log), charon.out (stdout/stderr).
//
// Thread-safety: an IpsecEndpoint may be used from one thread at a time; distinct endpoints are
// independent. The Namespaces passed to Start must outlive the endpoint.
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

// Azure's virtualNetworkGatewayConnection connectionStatus values.
enum class ConnectionStatus { kConnected, kConnecting, kNotConnected };

// "Connected", "Connecting", "NotConnected".
std::string_view ConnectionStatusName(ConnectionStatus status);

struct IpsecSpec {
  std::string name;   // the connection's name in charon ([A-Za-z0-9_-], at most 32)
  std::string netns;  // the namespace charon runs in (exists, holds local_address)
  std::string local_address, remote_address;                 // public addresses, in the "internet"
  std::vector<std::string> local_prefixes, remote_prefixes;  // the traffic selectors
  std::string psk;                                           // the shared key (not empty)
  std::string state_dir;  // absolute; created if missing; private to this endpoint
  bool initiator = true;  // starts IKE at once; a responder waits for the peer
  std::string ike_proposals = "aes256-sha256-modp2048";
  std::string esp_proposals = "aes256-sha256";
  // How long Start waits for charon's vici socket.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(10);
  std::string charon_path = "/usr/lib/ipsec/charon";
  std::string swanctl_path = "/usr/sbin/swanctl";
};

// What `swanctl --list-sas --raw` says about one connection.
struct SaSummary {
  ConnectionStatus status = ConnectionStatus::kNotConnected;
  uint64_t ingress_bytes = 0;  // ESP payload bytes in / out over the installed CHILD_SAs
  uint64_t egress_bytes = 0;
};

// Reads swanctl's --raw list-sas output for the IKE_SAs called `name`: Connected when one is
// ESTABLISHED with an INSTALLED CHILD_SA, Connecting when one exists otherwise, else
// NotConnected. Pure; unparseable input is NotConnected.
SaSummary ParseListSas(std::string_view raw, std::string_view name);

class IpsecEndpoint {
 public:
  // Writes the configuration, starts charon in spec.netns, waits (at most spec.start_timeout)
  // for its vici socket and loads the connection; an initiator starts IKE at once. Returns
  // without waiting for the tunnel (see WaitFor). kInvalidArgument for a bad spec, kIOError
  // when a file cannot be written or swanctl refuses the configuration, kUnavailable when charon
  // exits or its socket does not appear in time (the message carries charon's last log lines).
  // Nothing is left running on failure.
  static Result<std::unique_ptr<IpsecEndpoint>> Start(fabric::Namespaces& namespaces,
                                                      const IpsecSpec& spec);
  ~IpsecEndpoint();  // Stop()
  IpsecEndpoint(const IpsecEndpoint&) = delete;
  IpsecEndpoint& operator=(const IpsecEndpoint&) = delete;

  // The tunnel's state as charon reports it; NotConnected once charon is gone or does not answer.
  ConnectionStatus Status() const;
  SaSummary Summary() const;
  // Polls Status until it is `want` or `timeout` passes; true when it got there.
  bool WaitFor(ConnectionStatus want, std::chrono::milliseconds timeout) const;
  // Stops charon by PID (SIGTERM, then SIGKILL after a grace period); it tears the tunnel, the
  // TUN device and its routes down. Ok also when already stopped.
  cove::Status Stop();

  pid_t pid() const { return pid_; }
  const IpsecSpec& spec() const { return spec_; }
  // unix://<state_dir>/charon.vici
  std::string ViciUri() const;

 private:
  IpsecEndpoint(fabric::Namespaces& namespaces, IpsecSpec spec, pid_t pid)
      : namespaces_(namespaces), spec_(std::move(spec)), pid_(pid) {}
  // Runs swanctl with our strongswan.conf and vici socket.
  Result<std::string> Swanctl(const std::vector<std::string>& args) const;

  fabric::Namespaces& namespaces_;
  IpsecSpec spec_;
  mutable pid_t pid_;  // -1 once stopped or reaped (Status reaps a charon that died)
};

// The files Start writes, exposed for documentation and tests.
std::string StrongswanConf(const IpsecSpec& spec);
std::string SwanctlConf(const IpsecSpec& spec);

}  // namespace cove::tunnel
