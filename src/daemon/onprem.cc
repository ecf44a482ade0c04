#include "daemon/onprem.h"

#include <algorithm>

#include "arm/engine.h"

namespace cove::daemon {
namespace {

bool SameId(std::string_view a, std::string_view b) { return arm::Lower(a) == arm::Lower(b); }

template <typename T>
const T* FindById(const std::vector<T>& items, const std::string& id) {
  for (const T& item : items) {
    if (SameId(item.id, id)) return &item;
  }
  return nullptr;
}

fabric::Vm* FindVm(fabric::Topology& topology, const std::string& id) {
  for (fabric::Vm& v : topology.vms) {
    if (SameId(v.id, id)) return &v;
  }
  return nullptr;
}

fabric::Network* FindNetwork(fabric::Topology& topology, const std::string& id) {
  for (fabric::Network& n : topology.networks) {
    if (SameId(n.id, id)) return &n;
  }
  return nullptr;
}

}  // namespace

std::string GatewayMachineAddress(const std::string& gateway_subnet_prefix) {
  auto prefix = fabric::Cidr::Parse(gateway_subnet_prefix);
  if (!prefix) return "";
  return fabric::Ipv4{prefix->network.value + 4}.ToString();
}

std::string ExpressRouteGatewayAddress(const std::string& gateway_subnet_prefix) {
  auto prefix = fabric::Cidr::Parse(gateway_subnet_prefix);
  if (!prefix) return "";
  return fabric::Ipv4{prefix->network.value + 5}.ToString();
}

namespace {

// The VNet's route to `prefixes` through `hop` (once each; none into its own address space,
// which the fabric would refuse).
void AddRoutes(fabric::Network& vnet, const std::vector<std::string>& prefixes,
               const std::string& hop) {
  for (const std::string& p : prefixes) {
    auto dst = fabric::Cidr::Parse(p);
    bool inside = !dst;
    for (const std::string& space : vnet.address_spaces) {
      auto c = fabric::Cidr::Parse(space);
      inside = inside || (c && c->Overlaps(*dst));
    }
    if (inside) continue;
    fabric::Route route{p, hop};
    if (std::find(vnet.routes.begin(), vnet.routes.end(), route) == vnet.routes.end()) {
      vnet.routes.push_back(std::move(route));
    }
  }
}

// The router running in a namespace (one speaker per namespace), made on first use.
BgpRouter& RouterIn(std::vector<BgpRouter>& routers, const std::string& network_id,
                    const std::string& vm_id, uint32_t asn, const std::string& router_id) {
  for (BgpRouter& r : routers) {
    if (SameId(r.network_id, network_id) && SameId(r.vm_id, vm_id)) return r;
  }
  routers.push_back(BgpRouter{.network_id = network_id,
                              .vm_id = vm_id,
                              .asn = asn,
                              .router_id = router_id,
                              .neighbors = {},
                              .networks = {}});
  return routers.back();
}

void AddOnce(std::vector<std::string>& to, const std::vector<std::string>& items) {
  for (const std::string& i : items) {
    if (std::find(to.begin(), to.end(), i) == to.end()) to.push_back(i);
  }
}

// ExpressRoute connections: see the header.
void AddExpressRoute(const arm::Snapshot& snapshot, fabric::Topology& topology, OnPremPlan& plan) {
  int index = 0;
  for (const auto& c : snapshot.connections) {
    if (c.type != "ExpressRoute") continue;
    const int k = index++;
    ExpressRouteLink link{.connection_id = c.id, .msee_network = "", .gateway_neighbor = "",
                          .site_neighbor = ""};
    const auto* gateway = FindById(snapshot.vnet_gateways, c.gateway_id);
    const auto* circuit = FindById(snapshot.circuits, c.circuit_id);
    const arm::CircuitPeeringView* peering = nullptr;
    for (size_t i = 0; circuit && i < circuit->peerings.size(); ++i) {
      const arm::CircuitPeeringView& p = circuit->peerings[i];
      if (p.name == "AzurePrivatePeering" && p.enabled) peering = &p;
    }
    fabric::Network* vnet = gateway ? FindNetwork(topology, gateway->vnet_id) : nullptr;
    auto primary = fabric::Cidr::Parse(peering ? peering->primary_prefix : "");
    if (!gateway || gateway->gateway_type != "ExpressRoute" || !peering || !vnet || !primary ||
        primary->length != 30 || !topology.FindVm(gateway->id) || k >= 64) {
      plan.express_route.push_back(std::move(link));
      continue;
    }
    // The circuit's edge: one router namespace per circuit.
    if (!FindNetwork(topology, circuit->id)) {
      fabric::Network msee;
      msee.id = circuit->id;
      msee.dns_address.clear();
      topology.networks.push_back(std::move(msee));
      vnet = FindNetwork(topology, gateway->vnet_id);  // the push may have moved it
    }
    const fabric::Ipv4 base{(169u << 24) | (254u << 16) | (21u << 8) | static_cast<uint32_t>(4 * k)};
    const std::string msee_gw = fabric::Ipv4{base.value + 1}.ToString();
    const std::string gw_msee = fabric::Ipv4{base.value + 2}.ToString();
    topology.wires.push_back(fabric::Wire{
        .id = c.id + "/gateway",
        .a = {.network_id = circuit->id, .vm_id = "", .address = msee_gw, .length = 30},
        .b = {.network_id = "", .vm_id = gateway->id, .address = gw_msee, .length = 30}});
    const std::string site_side = fabric::Ipv4{primary->network.value + 1}.ToString();
    const std::string msee_side = fabric::Ipv4{primary->network.value + 2}.ToString();
    link.msee_network = circuit->id;
    link.gateway_neighbor = gw_msee;
    link.site_neighbor = site_side;

    // (References into plan.bgp_routers last only until the next RouterIn.)
    RouterIn(plan.bgp_routers, "", gateway->id, gateway->bgp_asn, gw_msee)
        .neighbors.push_back({msee_gw, peering->azure_asn, "MSEE"});
    AddOnce(RouterIn(plan.bgp_routers, "", gateway->id, 0, "").networks, vnet->address_spaces);
    BgpRouter& msee = RouterIn(plan.bgp_routers, circuit->id, "", peering->azure_asn, msee_side);
    msee.neighbors.push_back({gw_msee, gateway->bgp_asn, "ER gateway"});
    // The peering's /30 goes to the gateway too (as Azure's gateway learns the MSEE's link
    // subnets): what the site's router sends from its own address there (its DNS server's
    // queries) finds its way back.
    AddOnce(msee.networks, {primary->ToString()});
    AddRoutes(*vnet, {primary->ToString()}, ExpressRouteGatewayAddress(gateway->gateway_subnet_prefix));
    AddOnce(FindVm(topology, gateway->id)->unreachable_via_subnet, {primary->ToString()});

    const arm::SiteView* site = nullptr;
    for (const auto& s : snapshot.sites) {
      if (s.bgp_asn != 0 && s.bgp_asn == peering->peer_asn && FindNetwork(topology, s.id)) site = &s;
    }
    // The MSEE waits for the customer's router whether or not it exists.
    BgpPeer customer{site_side, peering->peer_asn, "customer"};
    if (std::find(msee.neighbors.begin(), msee.neighbors.end(), customer) == msee.neighbors.end()) {
      msee.neighbors.push_back(customer);
    }
    if (site) {
      AddRoutes(*vnet, site->address_prefixes, ExpressRouteGatewayAddress(gateway->gateway_subnet_prefix));
      AddOnce(FindVm(topology, gateway->id)->unreachable_via_subnet, site->address_prefixes);
      const std::string wire_id = circuit->id + "/primary";
      bool wired = false;
      for (const fabric::Wire& w : topology.wires) wired = wired || w.id == wire_id;
      if (!wired) {
        topology.wires.push_back(fabric::Wire{
            .id = wire_id,
            .a = {.network_id = site->id, .vm_id = "", .address = site_side, .length = 30},
            .b = {.network_id = circuit->id, .vm_id = "", .address = msee_side, .length = 30}});
        BgpRouter& ce = RouterIn(plan.bgp_routers, site->id, "", site->bgp_asn, site_side);
        ce.neighbors.push_back({msee_side, peering->azure_asn, "MSEE"});
        AddOnce(ce.networks, site->address_prefixes);
      }
    }
    plan.express_route.push_back(std::move(link));
  }
}

}  // namespace


OnPremPlan AddOnPremises(const arm::Snapshot& snapshot, fabric::Topology& topology,
                         const std::string& ca_pem,
                         const std::vector<std::string>& registry_hosts,
                         const std::string& internet_dns) {
  OnPremPlan plan;
  fabric::Network* pub = nullptr;
  for (fabric::Network& n : topology.networks) {
    if (n.is_public) pub = &n;
  }
  if (pub && (!snapshot.vnet_gateways.empty() || !snapshot.sites.empty())) {
    pub->address_spaces.push_back(kGatewayPublicPrefix);
    pub->subnets.push_back(fabric::Subnet{.id = kGatewayPublicSubnet, .prefix = kGatewayPublicPrefix});
  }

  // VPN gateways: forwarding machines in their GatewaySubnet with a public leg; ExpressRoute
  // gateways: the same at .5 without one.
  for (const auto& g : snapshot.vnet_gateways) {
    const bool er = g.gateway_type == "ExpressRoute";
    if (!er && (g.gateway_type != "Vpn" || g.public_ip.empty())) continue;
    fabric::Network* vnet = FindNetwork(topology, g.vnet_id);
    if (!vnet) continue;
    fabric::Vm vm;
    vm.id = g.id;
    vm.network_id = vnet->id;
    for (const fabric::Subnet& s : vnet->subnets) {
      if (SameId(s.id, g.gateway_subnet_id)) vm.subnet_id = s.id;
    }
    if (vm.subnet_id.empty()) continue;
    vm.address = er ? ExpressRouteGatewayAddress(g.gateway_subnet_prefix)
                    : GatewayMachineAddress(g.gateway_subnet_prefix);
    vm.ip_forwarding = true;
    if (!er) vm.public_address = g.public_ip;
    topology.vms.push_back(std::move(vm));
  }

  // DNS Private Resolver inbound endpoints: addresses of their VNet's namespace.
  for (const auto& r : snapshot.dns_resolvers) {
    fabric::Network* vnet = FindNetwork(topology, r.vnet_id);
    if (!vnet) continue;
    for (const auto& in : r.inbound) {
      for (fabric::Subnet& s : vnet->subnets) {
        if (SameId(s.id, in.subnet_id) && !in.address.empty()) s.local_addresses.push_back(in.address);
      }
    }
  }

  // Sites: a router namespace with a LAN, its machines and its DNS server.
  for (const auto& site : snapshot.sites) {
    if (site.address_prefixes.empty() || site.public_ip.empty()) continue;
    fabric::Network n;
    n.id = site.id;
    n.address_spaces = site.address_prefixes;
    // One LAN per prefix (the router at each one's first address).
    for (size_t i = 0; i < site.address_prefixes.size(); ++i) {
      n.subnets.push_back(fabric::Subnet{.id = SiteLanId(site.id, i), .prefix = site.address_prefixes[i]});
    }
    auto lan_of = [&](const std::string& address) -> fabric::Subnet* {
      auto ip = fabric::Ipv4::Parse(address);
      for (fabric::Subnet& s : n.subnets) {
        if (ip && fabric::Cidr::Parse(s.prefix)->Contains(*ip)) return &s;
      }
      return nullptr;
    };
    n.dns_address.clear();
    fabric::Subnet* dns_lan = lan_of(site.dns_address);
    if (site.dns_software != "none" && dns_lan) {
      dns_lan->local_addresses.push_back(site.dns_address);
      n.dns_address = site.dns_address;
      SiteDns dns{.site_network = site.id,
                  .software = site.dns_software,
                  .address = site.dns_address,
                  .clients = site.address_prefixes,
                  .forwards = {},
                  .default_forwarders = {}};
      if (!internet_dns.empty()) dns.default_forwarders.push_back(internet_dns);
      for (const auto& f : site.forwarders) dns.forwards.push_back({f.domain, f.targets});
      plan.dns_servers.push_back(std::move(dns));
    }
    n.outbound_address = site.public_ip;
    n.accepts_ipsec = true;
    for (const auto& m : site.machines) {
      const fabric::Subnet* lan = lan_of(m.address);
      if (!lan) continue;
      fabric::Vm vm;
      vm.id = m.id;
      vm.network_id = site.id;
      vm.subnet_id = lan->id;
      vm.address = m.address;
      vm.ca_pem = ca_pem;
      vm.registry_hosts = registry_hosts;
      topology.vms.push_back(std::move(vm));
    }
    topology.networks.push_back(std::move(n));
  }

  // IPsec connections: a tunnel between the gateway machine and the site with the local
  // network gateway's address, and the VNet's routes to the site's prefixes.
  for (const auto& c : snapshot.connections) {
    if (c.type != "IPsec") continue;
    const auto* gateway = FindById(snapshot.vnet_gateways, c.gateway_id);
    const auto* local = FindById(snapshot.local_gateways, c.local_gateway_id);
    if (!gateway || !local || gateway->gateway_type != "Vpn") continue;
    fabric::Network* vnet = FindNetwork(topology, gateway->vnet_id);
    if (!vnet) continue;
    AddRoutes(*vnet, local->address_prefixes, GatewayMachineAddress(gateway->gateway_subnet_prefix));
    const arm::SiteView* site = nullptr;
    for (const auto& s : snapshot.sites) {
      if (s.public_ip == local->gateway_ip) site = &s;
    }
    plan.tunnels.push_back(IpsecTunnel{.connection_id = c.id,
                                       .gateway_machine = gateway->id,
                                       .site_network = site ? site->id : "",
                                       .gateway_address = gateway->public_ip,
                                       .site_address = local->gateway_ip,
                                       .azure_prefixes = vnet->address_spaces,
                                       .site_prefixes = local->address_prefixes,
                                       .shared_key = c.shared_key,
                                       .site_shared_key = site && !site->vpn_shared_key.empty()
                                                              ? site->vpn_shared_key
                                                              : c.shared_key});
  }
  AddExpressRoute(snapshot, topology, plan);
  return plan;
}

}  // namespace cove::daemon
