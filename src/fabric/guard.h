// Guard: isolation between the fabric's machines (VMs and container groups), as nftables rules
// run through libnftables (Namespaces::RunNft).
//
//   - Anti-spoofing on every bridge port (RenderPortGuard). In each network namespace a table
//     `bridge cove_guard` sends every frame that enters through a machine's port (the veth end
//     m<hash8(vm id)>, VmPortName, enslaved to its subnet's bridge) to the port's chain, which
//     passes only what the machine may send: its own Ethernet address (VmMac, which the fabric
//     sets on the machine's eth0) as the source, and then either IPv4 from the machine's own
//     address or ARP whose sender is the machine (both its addresses). Everything else — another
//     source address (a neighbour's, a container group's: trusted services are recognised by
//     source address; a private endpoint's; the gateway's; 169.254.169.254), another source
//     MAC, IPv6, VLAN tags, other ethertypes — is counted and dropped. The table lists the
//     network's current machines, so a machine's rules come when it is attached and go when it
//     is detached; they match the port by name, so they are in place before the port joins the
//     bridge.
//     A machine with ip_forwarding (a VPN gateway) may send from any IPv4 source address: it
//     forwards what came through its tunnel; its ARP is still checked.
//   - A machine's public leg (inet0, Vm::public_address): only IKE and NAT-T (UDP 500, 4500)
//     and replies to what the machine sent come in; nothing is forwarded from it.
//   - A machine's unreachable_via_subnet prefixes: forwarded packets to them that would leave
//     through eth0 (back to the network's router, which routes them here) are refused with
//     ICMP net-unreachable.
//   - The instance metadata address in each machine's namespace (RenderMachineGuard): a table
//     `inet cove_guard` drops traffic to 169.254.169.254 that did not arrive on lo. A machine
//     that routes the address to a neighbour reaches nothing there (src/imds also answers only
//     the machine's own addresses, and the neighbour's answer, sent from 169.254.169.254, would
//     not pass the neighbour's port).
// Each table is replaced atomically whenever it is applied.
//
// Thread-safety: stateless functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "fabric/namespaces.h"
#include "fabric/topology.h"

namespace cove::fabric {

// The name of a machine's bridge port (the veth end in its network's namespace).
std::string VmPortName(std::string_view vm_id);
// The Ethernet address of a machine's eth0: locally administered, 02:c0 and the 32-bit hash of
// its id (ShortId), so it is stable across restarts.
std::array<uint8_t, 6> VmMac(std::string_view vm_id);
// "02:c0:12:34:56:78".
std::string MacText(const std::array<uint8_t, 6>& mac);

// The nft script that makes `network`'s `bridge cove_guard` table hold one chain per machine of
// the network (none: the table is removed). For tests and diagnostics.
std::string RenderPortGuard(const Topology& topology, const Network& network);
// The nft script of a machine namespace's `inet cove_guard` table (for `vm`: a public leg adds
// its filter).
std::string RenderMachineGuard(const Vm& vm = {});
// Runs RenderMachineGuard(vm) inside the machine namespace `ns`.
Status ApplyMachineGuard(Namespaces& namespaces, const std::string& ns, const Vm& vm = {});

}  // namespace cove::fabric
