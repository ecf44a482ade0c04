// Fabric: realizes a Topology (topology.h) as Linux network namespaces, and removes it again.
//
// Layout (names are ≤ 15 characters, derived from ids, so a restarted daemon finds its own):
//   - each Network → namespace  <prefix>-n<hash8(network id)>
//       lo up, ip_forward=1, the network's DNS address (168.63.129.16) as a /32 on lo;
//       a bridge per subnet      b<hash8(subnet id)>  holding the gateway (.1/len) and the
//       subnet's local addresses (/32 each: private endpoint members, public endpoints);
//   - each Vm → namespace        <prefix>-m<hash8(vm id)>
//       lo up with 169.254.169.254/32 (where coved serves the VM's instance metadata, reachable
//       from lo only: guard.h); eth0 (veth) with address/len, the MAC VmMac(vm id) and a
//       default route via the subnet gateway; the other end m<hash8(vm id)> in the network
//       namespace, enslaved to the subnet's bridge, where it lets through only frames from that
//       MAC and address (anti-spoofing, guard.h); and files under
//       /etc/netns/<ns>/ that `ip netns exec` (and Exec below) bind over /etc: resolv.conf
//       (nameserver = the network's DNS address), hosts, ssl/certs/ca-certificates.crt (system
//       bundle + the VM's CA) and containers/certs.d/<host>/ca.crt;
//   - each Peering → a veth pair p<hash8(other network id)> between the two network namespaces,
//       proxy ARP on both ends, and routes for the other side's address spaces through it (not
//       transitive: a network routes only to the networks it is peered with).
//   - each VNet with an outbound address → a veth pair inet0 (VNet side, holding the outbound
//       address, routes to the public address spaces) ↔ u<hash8(network id)> (public side, route to the outbound
//       address, proxy ARP), and SNAT to that address on inet0: VMs reach the public endpoint
//       as Azure's default outbound access does, and nothing in the public network can open a
//       connection into the VNet (its private addresses are routed nowhere there).
//   - each Wire → a veth pair w<hash8(wire id)> (end a) ↔ x<hash8(wire id)> (end b) between
//     the two ends' namespaces (a network's router or a machine), each end holding its
//     address/length; no routes beyond the connected prefix (BGP speakers add theirs);
//   - each Network's routes → routes through their next hop on the subnet's bridge (a VNet's
//     on-premises prefixes through its VPN gateway machine);
//   - each Vm with a public address (a VPN gateway) → a veth pair inet0 (machine side, holding
//     the address, routes to the public address spaces) ↔ u<hash8(vm id)> (public side), like
//     a VNet's uplink without SNAT; its firewall takes only IKE/NAT-T and replies through it;
//   - TUN devices that software inside a namespace made (strongSwan's userspace ESP) are left
//     alone, as are routes of other protocols than cove's (static);
//   - NSG-enabled subnets → an nftables table `cove_nsg` in the network namespace (nsg.h);
//     machines' bridge ports → the table `bridge cove_guard` there (guard.h).
// No namespace is ever linked to the host's network namespace, and the public network has no
// default route, so nothing reaches the host's networks.
//
// Apply(desired) is idempotent and converges: it creates what is missing, fixes what differs
// (addresses, bridge membership, routes, files) and deletes what cove made that is no longer
// desired (namespaces named <prefix>-..., links, addresses and routes inside them, /etc/netns
// dirs). It keeps no state file: after a restart a new Fabric with the same prefix adopts what
// exists. Down() deletes every namespace and /etc/netns dir with the prefix.
//
// Everything Fabric changes in the kernel goes through the Namespaces seam (namespaces.h):
// namespaces, links, addresses and routes (Namespaces::OpenNetlink), sysctls (WriteSysctl) and
// nftables (RunNft). Only the /etc/netns files are written directly (under
// FabricOptions::etc_netns). So a Fabric over MemoryNamespaces (memory_namespaces.h) runs its
// whole convergence without root (tests/fabric/memory_fabric_test.cc); Exec/Spawn need
// LinuxNamespaces.
//
// Sockets other planes make inside a namespace (namespaces.h: ListenTcp, BindUdp) keep that
// namespace alive after Apply/Down delete its name: close the listeners of a removed VNet or
// private endpoint, or they keep listening in an orphaned namespace that nothing reaches.
//
// Use:
//   LinuxNamespaces namespaces;
//   Fabric fabric(namespaces);                       // names cove-n…, cove-m…
//   fabric.Apply(topology);                           // on every control-plane change
//   auto fd = ListenTcp(namespaces, fabric.NetworkNamespace("myVNet"), "10.0.0.5", 443);
//   server.Adopt(std::move(*fd), {.tls = true, .link_id = 1234});
//   auto dns = BindUdp(namespaces, fabric.NetworkNamespace("myVNet"), "168.63.129.16", 53);
//   fabric.Exec("vm1", {"skopeo", "inspect", "docker://myregistry.azurecr.io/app:1"});
//   fabric.Down();                                    // cove down
//
// Thread-safety: Apply/Down serialize on an internal mutex; Exec/Spawn and the names may be
// used from any thread.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "fabric/namespaces.h"
#include "fabric/topology.h"

namespace cove::fabric {

struct FabricOptions {
  // Namespace names start with "<prefix>-"; 1..5 characters of [a-z0-9].
  std::string prefix = "cove";
  // Where per-namespace /etc overlays go (`ip netns exec` reads /etc/netns).
  std::string etc_netns = "/etc/netns";
  // The system CA bundle that VM trust stores start from.
  std::string system_ca_bundle = "/etc/ssl/certs/ca-certificates.crt";
};

struct ExecResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string output;  // stdout and stderr, interleaved
};

class Fabric {
 public:
  // `namespaces` must outlive the Fabric. kInvalidArgument from Apply if the prefix is bad.
  Fabric(Namespaces& namespaces, FabricOptions options = {});

  // Makes the machine match `desired` (see above). kInvalidArgument when the topology does not
  // validate (nothing is changed then); kIOError when the kernel refuses something (what was
  // done so far stays; the next Apply continues from there).
  Status Apply(const Topology& desired);
  // Removes everything cove made with this prefix. Idempotent.
  Status Down();

  // Namespace names (whether or not they exist).
  std::string NetworkNamespace(std::string_view network_id) const;
  std::string VmNamespace(std::string_view vm_id) const;
  // Names of existing namespaces with this fabric's prefix.
  Result<std::vector<std::string>> Existing() const;

  // Runs `argv` inside the VM's namespace the way `ip netns exec` does (own mount namespace,
  // /etc/netns/<ns>/* bound over /etc, /sys remounted), with stdin from /dev/null, waits at
  // most `timeout_ms` (then kills it) and returns its exit code and output.
  // kNotFound when the VM's namespace does not exist.
  Result<ExecResult> Exec(std::string_view vm_id, const std::vector<std::string>& argv,
                          int timeout_ms = 60'000);
  // Starts `argv` in the VM as Exec does, with the given descriptors as its stdin/stdout/stderr
  // (-1: /dev/null), e.g. the terminal's for `cove vm exec`; returns the pid to wait for.
  Result<pid_t> Spawn(std::string_view vm_id, const std::vector<std::string>& argv,
                      int stdin_fd, int stdout_fd, int stderr_fd);
  // The same as Exec for any namespace by name (e.g. a network namespace).
  Result<ExecResult> ExecIn(const std::string& ns, const std::vector<std::string>& argv,
                            int timeout_ms = 60'000);

 private:
  Status ApplyLocked(const Topology& desired);
  Status ApplyNetwork(const Topology& desired, const Network& network);
  Status ApplyVm(const Topology& desired, const Vm& vm);
  Status ApplyPeering(const Topology& desired, const Peering& peering);
  Status ApplyUplink(const Topology& desired, const Network& network);
  // A veth kUplinkName in `ns` holding `address` ↔ `outer` in the public namespace.
  Status ApplyPublicLeg(const Topology& desired, const std::string& ns, const std::string& outer,
                        const std::string& address);
  // A veth pair between the wire's two ends with their addresses.
  Status ApplyWire(const Wire& wire);
  std::string WireEndNamespace(const WireEnd& end) const;
  Status SyncStaticRoutes(Netlink& nl, const Network& network);
  Status WriteVmFiles(const Topology& desired, const Vm& vm);
  Status EnsureNamespace(const std::string& ns);
  Status RemoveNamespace(const std::string& ns);
  bool Ours(std::string_view ns) const;

  Namespaces& namespaces_;
  const FabricOptions options_;
  std::mutex mu_;
};

// The 8-hex-digit FNV-1a hash used in names.
std::string ShortId(std::string_view id);

}  // namespace cove::fabric
