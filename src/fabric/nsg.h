// NSG and NAT: network security group rules of a network's subnets as one nftables table
// (`inet cove_nsg`) inside the network's namespace, and the SNAT of its default outbound access
// (`ip cove_nat`: traffic leaving through the uplink `inet0` takes the outbound address, and
// nothing may open a connection in through it),
// through libnftables.
//
// For every subnet with nsg_enabled, traffic delivered to an address of the subnet (its private
// endpoint addresses, hook input) or forwarded to it (its VMs, hook forward, bridged frames
// included) goes through the subnet's inbound chain; traffic forwarded from it through its
// outbound chain. Replies of allowed connections pass (conntrack). Each chain holds the subnet's
// rules in priority order, then Azure's default rules:
//   inbound:  65000 AllowVnetInBound (VirtualNetwork → VirtualNetwork), 65001
//             AllowAzureLoadBalancerInBound (from 168.63.129.16), 65500 DenyAllInBound;
//   outbound: 65000 AllowVnetOutBound, 65001 AllowInternetOutBound, 65500 DenyAllOutBound.
// Prefixes: "*"/"Any", a CIDR, an address, or the service tags VirtualNetwork (the network's
// and its peers' address spaces, and the on-premises prefixes it routes through a gateway:
// Network::routes), AzureLoadBalancer (168.63.129.16) and Internet (anything not
// VirtualNetwork). Ports: "*", "443", "8000-8999". Anything else is kInvalidArgument (rules are
// rendered as nft text, so every token is checked, never pasted).
//
// Both tables are replaced atomically on each apply; without NSG-enabled subnets (or an
// outbound address) they are removed.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>

#include "common/error.h"
#include "fabric/namespaces.h"
#include "fabric/topology.h"

namespace cove::fabric {

// The nft script that makes `network`'s table what it should be (for tests and diagnostics).
Result<std::string> RenderNsg(const Topology& topology, const Network& network);

// The nft script for the NAT table (for tests and diagnostics).
std::string RenderNat(const Network& network);

// The name of a network namespace's link to the public network.
inline constexpr char kUplinkName[] = "inet0";

// Renders both, and the network's bridge port guard (guard.h), and runs them inside namespace
// `ns` in one transaction (Namespaces::RunNft).
Status ApplyNetfilter(Namespaces& namespaces, const std::string& ns, const Topology& topology,
                      const Network& network);

}  // namespace cove::fabric
