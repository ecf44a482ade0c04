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

  // VPN gateways: forwarding machines in their GatewaySubnet with a public leg.
  for (const auto& g : snapshot.vnet_gateways) {
    if (g.gateway_type != "Vpn" || g.public_ip.empty()) continue;
    fabric::Network* vnet = FindNetwork(topology, g.vnet_id);
    if (!vnet) continue;
    fabric::Vm vm;
    vm.id = g.id;
    vm.network_id = vnet->id;
    for (const fabric::Subnet& s : vnet->subnets) {
      if (SameId(s.id, g.gateway_subnet_id)) vm.subnet_id = s.id;
    }
    if (vm.subnet_id.empty()) continue;
    vm.address = GatewayMachineAddress(g.gateway_subnet_prefix);
    vm.ip_forwarding = true;
    vm.public_address = g.public_ip;
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
    const std::string hop = GatewayMachineAddress(gateway->gateway_subnet_prefix);
    for (const std::string& p : local->address_prefixes) {
      fabric::Route route{p, hop};
      if (std::find(vnet->routes.begin(), vnet->routes.end(), route) == vnet->routes.end()) {
        vnet->routes.push_back(std::move(route));
      }
    }
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
  return plan;
}

}  // namespace cove::daemon
