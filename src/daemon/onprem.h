// On-premises connectivity, projected: what the fabric and the on-premises plane make of a
// snapshot's VPN gateways, local network gateways, connections and cove's on-premises sites.
//
// The seed's third picture (a Docker client on-premises reaching the registry's private
// endpoint over a site-to-site VPN) is built from real parts:
//   - a VPN gateway (Microsoft.Network/virtualNetworkGateways, gatewayType Vpn) is a machine in
//     its VNet's GatewaySubnet at the subnet's first free address (.4, as Azure's first gateway
//     instance), with ip_forwarding and a public leg holding its public IP (fabric/topology.h);
//     the VNet's router sends every connected local network gateway's address prefixes to it
//     (the routes Azure's gateway programs for a static-routing connection);
//   - an on-premises site (Cove.OnPremises/sites) is a fabric Network: its namespace is the
//     site's router, with the site's public IP as its outbound address (SNAT for the site's
//     internet traffic, IKE/NAT-T accepted), each of its address prefixes a LAN (the router
//     at the prefix's first address, the site's routerAddress), its machines (Cove.OnPremises/sites/machines) as Vms on the LAN, and
//     its own DNS server at dnsServer.address on the LAN;
//   - an IPsec connection (Microsoft.Network/connections, connectionType IPsec) becomes one
//     IpsecTunnel: strongSwan on the gateway machine and on the site whose public IP is the
//     local network gateway's gatewayIpAddress (the local network gateway is how Azure knows
//     the site; nothing else links them). The Azure side's traffic selectors are the VNet's
//     address spaces, the site's the local network gateway's prefixes; the key is the
//     connection's sharedKey. A local network gateway whose address no site has is a device
//     cove cannot reach: the connection stays Connecting, as in Azure;
//   - an ExpressRoute connection (connectionType ExpressRoute) between an ExpressRoute gateway
//     (gatewayType ExpressRoute) and a circuit whose AzurePrivatePeering is Enabled is real BGP
//     over three routers and two wires (fabric/topology.h's Wire):
//       site router ──(the peering's primary /30: .1 site, .2 MSEE)── MSEE ──(169.254.21.4k/30:
//       .1 MSEE, .2 gateway; k = the connection's index among ER connections)── ER gateway
//     The circuit is a fabric Network (id = the circuit's id) with no address space: Microsoft's
//     edge router (MSEE), AS azure_asn (12076), peering with the site (peer_asn) and with the
//     gateway (65515). The ER gateway is a forwarding machine in its GatewaySubnet at the
//     subnet's .5 (a VPN gateway takes .4), with no public leg; it advertises the VNet's
//     address spaces; the MSEE advertises the peering's primary /30 (the site router's own
//     traffic, e.g. its DNS server's queries, leaves from .1), which the VNet's router also
//     sends to the gateway. The site is the one whose bgp.asn equals the peering's peerASN (the ASN
//     is all a circuit's private peering knows of the customer's router, as the local network
//     gateway's address is for a VPN); it advertises its prefixes. No such site: the MSEE's
//     session towards the customer never comes up, so the connection never reaches Connected.
//     The VNet's router sends the site's prefixes to the ER gateway machine (static, as for a
//     VPN); the gateway's own table is what BGP fills, and its firewall answers net-unreachable
//     for those prefixes when no BGP route takes them (Vm::unreachable_via_subnet) rather than
//     bouncing them back to the VNet. A Disabled peering makes none of this
//     (its routers stop and their routes go).
//   - a site's DNS server (BIND or unbound, or none) forwards its zones (dnsServer.forwarders,
//     e.g. azurecr.io → a DNS Private Resolver's inbound endpoint) as configured.
// AddOnPremises is pure; daemon/onprem_plane.h runs the software.
//
// Thread-safety: pure functions over values.
#pragma once

#include <string>
#include <vector>

#include "arm/snapshot.h"
#include "fabric/topology.h"

namespace cove::daemon {

inline constexpr const char* kGatewayPublicSubnet = "public/gateways";
inline constexpr const char* kGatewayPublicPrefix = "192.0.2.0/24";

struct IpsecTunnel {
  std::string connection_id;    // the connection's ARM id
  std::string gateway_machine;  // the fabric Vm of the VPN gateway (its ARM id)
  std::string site_network;     // the fabric Network of the site (its ARM id)
  std::string gateway_address;  // the gateway's public IP
  std::string site_address;     // the site router's public IP
  std::vector<std::string> azure_prefixes;  // the VNet's address spaces
  std::vector<std::string> site_prefixes;   // the local network gateway's prefixes
  std::string shared_key;       // the connection's (the gateway's key)
  std::string site_shared_key;  // the site device's: its vpnDevice key, else the connection's
  auto operator<=>(const IpsecTunnel&) const = default;
};

struct DnsForward {
  std::string domain;  // "azurecr.io"
  std::vector<std::string> targets;
  auto operator<=>(const DnsForward&) const = default;
};

struct SiteDns {
  std::string site_network;  // fabric Network id
  std::string software;      // "bind" or "unbound"
  std::string address;       // where it listens, on the site's LAN
  std::vector<std::string> clients;  // the site's prefixes (who may ask)
  std::vector<DnsForward> forwards;
  // Where everything else goes: the internet's resolver (the public network's DNS server), as
  // an on-premises DNS server forwards to its ISP's. So a name the site does not forward to
  // Azure gets the public answer.
  std::vector<std::string> default_forwarders;
  auto operator<=>(const SiteDns&) const = default;
};

struct BgpPeer {
  std::string address;
  uint32_t asn = 0;
  std::string description;
  auto operator<=>(const BgpPeer&) const = default;
};

// One BGP speaker (FRR) in a namespace: a network's router (network_id) or a machine (vm_id).
struct BgpRouter {
  std::string network_id;
  std::string vm_id;
  uint32_t asn = 0;
  std::string router_id;
  std::vector<BgpPeer> neighbors;
  std::vector<std::string> networks;  // advertised prefixes
  auto operator<=>(const BgpRouter&) const = default;
};

// What an ExpressRoute connection's status is read from: the MSEE's sessions with the gateway
// and the site (both Established: Connected). No MSEE (the peering is Disabled or missing):
// NotConnected.
struct ExpressRouteLink {
  std::string connection_id;
  std::string msee_network;       // "" when the peering does not run
  std::string gateway_neighbor;   // the gateway's address as the MSEE's neighbor
  std::string site_neighbor;      // the site's (the primary /30's .1)
  auto operator<=>(const ExpressRouteLink&) const = default;
};

struct OnPremPlan {
  std::vector<IpsecTunnel> tunnels;
  std::vector<SiteDns> dns_servers;
  std::vector<BgpRouter> bgp_routers;
  std::vector<ExpressRouteLink> express_route;
  bool operator==(const OnPremPlan&) const = default;
};

// Adds the gateways, sites, their machines and the VNets' routes to `topology` (whose VNets and
// public network BuildTopology made) and returns what the on-premises plane must run.
// `ca_pem` and `registry_hosts` go to the site's machines as to VNet VMs.
// `internet_dns` is the public network's DNS server (the sites' default forwarder).
OnPremPlan AddOnPremises(const arm::Snapshot& snapshot, fabric::Topology& topology,
                         const std::string& ca_pem,
                         const std::vector<std::string>& registry_hosts,
                         const std::string& internet_dns);

// The address of a VPN gateway machine in its GatewaySubnet (the subnet's .4).
std::string GatewayMachineAddress(const std::string& gateway_subnet_prefix);
// The address of an ExpressRoute gateway machine in its GatewaySubnet (the subnet's .5).
std::string ExpressRouteGatewayAddress(const std::string& gateway_subnet_prefix);
// The fabric subnet id of a site's `index`th address prefix (each prefix is one LAN).
inline std::string SiteLanId(const std::string& site_id, size_t index) {
  return site_id + "/lan" + std::to_string(index);
}

}  // namespace cove::daemon
