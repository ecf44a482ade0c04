// Topology: the desired network fabric as plain data, and the IPv4 address helpers it needs.
//
// The control plane's state (virtual networks, subnets, peerings, client VMs, private endpoint
// member addresses, NSGs) is translated by the daemon into one Topology; Fabric::Apply makes the
// machine match it. Everything here is a value: no I/O, no kernel state.
//
// Model (see fabric.h for how it is realized):
//   - Network: a virtual network (or the one "public internet" network, is_public) with address
//     spaces and subnets. Every network has a DNS address local in its namespace (Azure's
//     168.63.129.16 by default for VNets; a TEST-NET address chosen by the caller for the public
//     network, or none).
//   - Subnet: a prefix inside one of its network's address spaces. Its first usable address
//     (.1) is the gateway; local_addresses are extra addresses that other planes listen on
//     (private endpoint member IPs, the public registry endpoint). An NSG, when enabled, filters
//     traffic forwarded or delivered to the subnet's addresses.
//   - Peering: two networks that reach each other's address spaces (not transitively). Azure's
//     two directional peerings collapse into one Peering once both sides are Connected.
//   - Vm: a client machine in one subnet with one address. A machine with ip_forwarding
//     routes for others (its bridge port lets through any source address from its MAC, as
//     Azure's NIC setting enableIPForwarding does); one with a public_address has a second leg
//     in the public network holding that address (a VPN gateway's public IP).
//   - A VNet with an outbound_address reaches the public network (its registry endpoint and
//     internet clients) with that source address; the public network never reaches into it,
//     except for IKE and IPsec NAT-T (UDP 500 and 4500) when accepts_ipsec is set (an
//     on-premises site's router, whose public address is its outbound address).
//   - Route: a prefix a network's router sends to a next hop in one of its subnets (a VNet's
//     route to an on-premises site through its VPN gateway, as Azure's effective routes have
//     with next hop type VirtualNetworkGateway).
//   - Wire: a point-to-point link between two namespaces (each end a network's router or a
//     machine), each end holding an address with a prefix length (an ExpressRoute circuit's
//     /30 between a site's router and Microsoft's edge, the edge's link to the ER gateway).
//     Nothing is routed over it by the fabric: the connected prefix only (BGP does the rest).
//     A Network may have no address spaces, subnets or DNS address (a plain router, such as
//     the circuit's edge, reached only over wires).
//   - An on-premises site is a Network too: its namespace is the site's router, its subnet the
//     site's LAN, its machines Vms, and its dns_address (the site's own DNS server) may be one
//     of its subnet's local addresses, on the LAN instead of on lo.
//
// Validate() checks what the kernel would otherwise reject or what would make the fabric wrong:
// ids unique and non-empty, prefixes well-formed, subnets inside an address space and not
// overlapping each other, VM and local addresses inside their subnet and not reserved, no
// address used twice in a network, peered networks not overlapping, public prefixes within
// TEST-NET (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and VNets outside it, outbound
// addresses inside the public address spaces and used by nothing else.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cove::fabric {

// An IPv4 address in host byte order.
struct Ipv4 {
  uint32_t value = 0;
  static Result<Ipv4> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Ipv4&) const = default;
};

// An IPv4 prefix (network address and length); Parse accepts "10.0.0.0/24" and rejects host
// bits set ("10.0.0.1/24").
struct Cidr {
  Ipv4 network;
  int length = 32;
  static Result<Cidr> Parse(std::string_view text);
  std::string ToString() const;
  uint32_t Mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  bool Contains(Ipv4 a) const { return (a.value & Mask()) == network.value; }
  bool Contains(const Cidr& other) const {
    return other.length >= length && Contains(other.network);
  }
  bool Overlaps(const Cidr& other) const { return Contains(other.network) || other.Contains(network); }
  Ipv4 Gateway() const { return Ipv4{network.value + 1}; }
  Ipv4 Broadcast() const { return Ipv4{network.value | ~Mask()}; }
  auto operator<=>(const Cidr&) const = default;
};

// One NSG security rule (inbound rules filter traffic to the subnet's addresses, outbound rules
// traffic from them). Prefixes are CIDRs, single addresses or "*"; ports are "*", "443" or
// "8000-8999"; protocol is "Tcp", "Udp", "Icmp" or "*".
struct NsgRule {
  enum class Direction { kInbound, kOutbound };
  enum class Access { kAllow, kDeny };
  std::string name;
  int priority = 100;  // 100..4096, lower first
  Direction direction = Direction::kInbound;
  Access access = Access::kAllow;
  std::string protocol = "*";
  std::vector<std::string> source_prefixes = {"*"};
  std::vector<std::string> source_ports = {"*"};
  std::vector<std::string> destination_prefixes = {"*"};
  std::vector<std::string> destination_ports = {"*"};
};

struct Subnet {
  std::string id;  // stable, unique within the topology (e.g. the ARM resource id)
  std::string prefix;  // "10.0.0.0/24"
  std::vector<std::string> local_addresses;
  // NSG rules apply only when enabled (Azure: privateEndpointNetworkPolicies /
  // NetworkSecurityGroupEnabled); Azure's default rules follow the given ones.
  bool nsg_enabled = false;
  std::vector<NsgRule> nsg_rules;
};

inline constexpr std::string_view kAzureDnsAddress = "168.63.129.16";
// Every VM has the instance metadata address on its lo (its IMDS listens there).
inline constexpr std::string_view kInstanceMetadataAddress = "169.254.169.254";

// A static route in a network's router: `prefix` through `next_hop` (an address of one of the
// network's subnets, usually a machine with ip_forwarding).
struct Route {
  std::string prefix;
  std::string next_hop;
  auto operator<=>(const Route&) const = default;
};

struct Network {
  std::string id;
  bool is_public = false;
  std::vector<std::string> address_spaces;  // "10.0.0.0/16"
  std::vector<Subnet> subnets;
  std::string dns_address = std::string(kAzureDnsAddress);  // "" for none
  // Default outbound access (VNets only): a TEST-NET address of the public network that this
  // network's traffic to the internet is SNATed to, as Azure does with a VNet's outbound IP.
  // "" for none (the VNet then reaches nothing outside itself and its peers).
  std::string outbound_address;
  // The outbound address also takes IKE and NAT-T (UDP 500, 4500) from the public network.
  bool accepts_ipsec = false;
  std::vector<Route> routes;
};

struct Peering {
  std::string network_a;  // Network ids
  std::string network_b;
};

struct Vm {
  std::string id;
  std::string network_id;
  std::string subnet_id;
  std::string address;  // "10.0.0.4"
  // Extra /etc/hosts lines for the VM ("10.0.0.5 myregistry.azurecr.io").
  std::vector<std::string> hosts;
  // PEM of a CA the VM trusts in addition to the system bundle (curl, skopeo, podman).
  std::string ca_pem;
  // Registry host names (with :port when not 443) that get containers/certs.d/<host>/ca.crt.
  std::vector<std::string> registry_hosts;
  // Routes packets for others (enableIPForwarding): ip_forward on, any source address passes
  // its bridge port.
  bool ip_forwarding = false;
  // A second leg in the public network with this TEST-NET address (a gateway's public IP);
  // only IKE and NAT-T (UDP 500, 4500) and replies come in through it. "" for none.
  std::string public_address;
  // Prefixes the machine never sends back into its subnet (eth0): with no better route (a
  // withdrawn BGP route) it answers ICMP net-unreachable at once instead of bouncing the packet
  // between itself and the network's router, which routes those prefixes to it (an
  // ExpressRoute gateway's on-premises prefixes).
  std::vector<std::string> unreachable_via_subnet;
};

// One end of a Wire: in a network's router namespace or in a machine (exactly one of the two
// ids), holding `address`/`length` ("172.16.0.1", 30).
struct WireEnd {
  std::string network_id;
  std::string vm_id;
  std::string address;
  int length = 30;
  auto operator<=>(const WireEnd&) const = default;
};

struct Wire {
  std::string id;  // stable, unique among wires
  WireEnd a, b;
  auto operator<=>(const Wire&) const = default;
};

struct Topology {
  std::vector<Network> networks;
  std::vector<Peering> peerings;
  std::vector<Vm> vms;
  std::vector<Wire> wires;

  const Network* FindNetwork(std::string_view id) const;
  const Vm* FindVm(std::string_view id) const;
};

// kInvalidArgument naming the first problem found.
Status Validate(const Topology& topology);

// Whether `cidr` lies inside one of the three TEST-NET blocks.
bool IsTestNet(const Cidr& cidr);

}  // namespace cove::fabric
