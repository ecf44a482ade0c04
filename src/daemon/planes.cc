#include "daemon/planes.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "arm/resource_path.h"

namespace cove::daemon {
namespace {

uint32_t Fnv(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

// Stable allocation: each key (in sorted order) takes base + hash % size, probing upwards.
std::map<std::string, std::string> Allocate(const std::vector<std::string>& keys,
                                            const std::string& net, uint32_t first, uint32_t last,
                                            std::set<uint32_t> taken = {}) {
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  std::map<std::string, std::string> out;
  uint32_t size = last - first + 1;
  for (const auto& k : sorted) {
    uint32_t start = Fnv(k) % size;
    for (uint32_t i = 0; i < size; ++i) {
      uint32_t host = first + (start + i) % size;
      if (taken.insert(host).second) {
        out[k] = net + std::to_string(host);
        break;
      }
    }
  }
  return out;
}

bool SameId(std::string_view a, std::string_view b) { return arm::Lower(a) == arm::Lower(b); }

fabric::NsgRule ToRule(const arm::SecurityRuleView& r) {
  fabric::NsgRule out;
  out.name = r.name;
  out.priority = r.priority;
  out.direction = r.direction == "Outbound" ? fabric::NsgRule::Direction::kOutbound
                                            : fabric::NsgRule::Direction::kInbound;
  out.access = r.access == "Deny" ? fabric::NsgRule::Access::kDeny : fabric::NsgRule::Access::kAllow;
  out.protocol = r.protocol.empty() ? "*" : r.protocol;
  auto or_any = [](const std::vector<std::string>& v) {
    return v.empty() ? std::vector<std::string>{"*"} : v;
  };
  out.source_prefixes = or_any(r.source_prefixes);
  out.destination_prefixes = or_any(r.destination_prefixes);
  out.source_ports = or_any(r.source_ports);
  out.destination_ports = or_any(r.destination_ports);
  return out;
}

std::string OutboundKey(const std::string& vnet_id) { return "vnet:" + arm::Lower(vnet_id); }

}  // namespace

imds::Machines MachinesOf(const arm::Snapshot& snapshot) {
  imds::Machines out;
  auto identity = [](const arm::MachineIdentityView& i) {
    return imds::MachineIdentity{i.resource_id, i.principal_id, i.client_id};
  };
  for (const auto& m : snapshot.machines) {
    imds::Machine machine;
    machine.id = m.id;
    machine.name = m.name;
    switch (m.kind) {
      case arm::MachineView::Kind::kContainerGroup:
        machine.type = "Microsoft.ContainerInstance/containerGroups";
        break;
      case arm::MachineView::Kind::kClusterNode:  // an AKS node: a VMSS instance
        machine.type = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines";
        break;
      case arm::MachineView::Kind::kVirtualMachine:
        machine.type = "Microsoft.Compute/virtualMachines";
        break;
    }
    machine.subscription_id = m.subscription;
    machine.resource_group = m.resource_group;
    machine.location = m.location;
    machine.vm_id = m.machine_id;
    (m.is_public ? machine.public_ip : machine.private_ip) = m.address;
    if (m.system_assigned) machine.system_assigned = identity(*m.system_assigned);
    for (const auto& u : m.user_assigned) machine.user_assigned.push_back(identity(u));
    out[imds::TagOf(m.id)] = std::move(machine);
  }
  return out;
}

std::map<std::string, std::string> PublicAddresses(const arm::Snapshot& snapshot) {
  std::vector<std::string> names;
  for (const auto& r : snapshot.registries) names.push_back(r.name);
  auto out = Allocate(names, "203.0.113.", 10, 52);
  // More than 43 registries: the rest of the /24 above the DNS server's .53.
  std::vector<std::string> rest;
  for (const auto& n : names) {
    if (!out.count(n)) rest.push_back(n);
  }
  if (!rest.empty()) out.merge(Allocate(rest, "203.0.113.", 54, 254));
  return out;
}

fabric::Topology BuildTopology(const arm::Snapshot& snapshot, const std::string& ca_pem,
                               OnPremPlan* onprem) {
  fabric::Topology t;
  std::vector<std::string> hosts;
  for (const auto& r : snapshot.registries) {
    hosts.push_back(r.login_server);
    for (const auto& h : r.data_endpoint_host_names) hosts.push_back(h);
  }
  std::vector<std::string> vnet_keys;
  for (const auto& v : snapshot.vnets) vnet_keys.push_back(OutboundKey(v.id));
  auto outbound = Allocate(vnet_keys, "198.51.100.", 100, 254);

  for (const auto& v : snapshot.vnets) {
    fabric::Network n;
    n.id = v.id;
    n.address_spaces = v.address_prefixes;
    n.outbound_address = outbound[OutboundKey(v.id)];
    for (const auto& s : v.subnets) {
      fabric::Subnet sub;
      sub.id = s.id;
      sub.prefix = s.address_prefix;
      for (const auto& pe : snapshot.private_endpoints) {
        if (!SameId(pe.subnet_id, s.id)) continue;
        for (const auto& m : pe.members) {
          if (!m.ip.empty()) sub.local_addresses.push_back(m.ip);
        }
      }
      const auto& pol = s.private_endpoint_network_policies;
      sub.nsg_enabled = !s.network_security_group_id.empty() &&
                        (pol == "NetworkSecurityGroupEnabled" || pol == "Enabled");
      if (sub.nsg_enabled) {
        for (const auto& nsg : snapshot.network_security_groups) {
          if (!SameId(nsg.id, s.network_security_group_id)) continue;
          for (const auto& r : nsg.rules) sub.nsg_rules.push_back(ToRule(r));
        }
      }
      n.subnets.push_back(std::move(sub));
    }
    t.networks.push_back(std::move(n));
    for (const auto& p : v.peerings) {
      if (p.peering_state != "Connected" || !p.allow_virtual_network_access) continue;
      const arm::VnetView* remote = nullptr;
      for (const auto& o : snapshot.vnets) {
        if (SameId(o.id, p.remote_vnet_id)) remote = &o;
      }
      if (!remote || arm::Lower(remote->id) < arm::Lower(v.id)) continue;  // once per pair
      t.peerings.push_back({v.id, remote->id});
    }
  }

  fabric::Network pub;
  pub.id = kPublicNetworkId;
  pub.is_public = true;
  pub.address_spaces = {"203.0.113.0/24", "198.51.100.0/24"};
  pub.dns_address = kPublicDnsAddress;
  fabric::Subnet endpoints{.id = "public/endpoints", .prefix = "203.0.113.0/24"};
  for (const auto& [name, ip] : PublicAddresses(snapshot)) endpoints.local_addresses.push_back(ip);
  pub.subnets.push_back(std::move(endpoints));
  pub.subnets.push_back(fabric::Subnet{.id = "public/clients", .prefix = "198.51.100.0/24"});
  t.networks.push_back(std::move(pub));

  for (const auto& vm : snapshot.machines) {
    if (vm.address.empty() || (!vm.is_public && vm.subnet_id.empty())) continue;
    fabric::Vm f;
    f.id = vm.id;
    if (vm.is_public) {
      f.network_id = kPublicNetworkId;
      f.subnet_id = "public/clients";
    } else {
      const arm::VnetView* vnet = nullptr;
      const arm::SubnetView* subnet = nullptr;
      for (const auto& v : snapshot.vnets) {
        for (const auto& s : v.subnets) {
          if (SameId(s.id, vm.subnet_id)) vnet = &v, subnet = &s;
        }
      }
      if (!subnet) continue;
      f.network_id = vnet->id;
      f.subnet_id = subnet->id;
    }
    f.address = vm.address;
    f.ca_pem = ca_pem;
    f.registry_hosts = hosts;
    t.vms.push_back(std::move(f));
  }
  OnPremPlan plan = AddOnPremises(snapshot, t, ca_pem, hosts, kPublicDnsAddress);
  if (onprem) *onprem = std::move(plan);
  return t;
}

dns::CatalogSpec BuildCatalog(const arm::Snapshot& snapshot) {
  dns::CatalogSpec spec;
  const std::string& suffix = snapshot.dns_suffix;
  dns::ZoneSpec pub{.id = "", .name = suffix};
  dns::ZoneSpec link{.id = "", .name = "privatelink." + suffix};
  auto addresses = PublicAddresses(snapshot);
  for (const auto& r : snapshot.registries) {
    // No public address left (over 244 registries): no public records rather than a bad one,
    // which would keep the whole catalog from building.
    if (!addresses.count(r.name)) continue;
    std::vector<std::string> labels = {r.name};
    for (const auto& h : r.data_endpoint_host_names) {
      if (h.size() > suffix.size() + 1) labels.push_back(h.substr(0, h.size() - suffix.size() - 1));
    }
    for (const auto& l : labels) {
      pub.records.push_back({l, dns::kTypeCNAME, 3600, l + ".privatelink." + suffix + "."});
      link.records.push_back({l, dns::kTypeA, 300, addresses[r.name]});
    }
  }
  spec.public_zones = {std::move(pub), std::move(link)};

  for (const auto& z : snapshot.zones) {
    dns::ZoneSpec zone{.id = z.id, .name = z.name};
    std::set<std::string> names;
    for (const auto& r : z.records) {
      names.insert(arm::Lower(r.name));
      uint32_t ttl = static_cast<uint32_t>(std::clamp<int64_t>(r.ttl, 0, 2147483647));
      if (r.type == "A") {
        for (const auto& ip : r.ipv4_addresses) zone.records.push_back({r.name, dns::kTypeA, ttl, ip});
      } else if (r.type == "CNAME" && !r.cname.empty()) {
        std::string target = r.cname.back() == '.' ? r.cname : r.cname + ".";
        zone.records.push_back({r.name, dns::kTypeCNAME, ttl, target});
      }
    }
    // Auto-registration: VMs of VNets linked with registrationEnabled (Azure's TTL is 10).
    for (const auto& l : z.links) {
      if (!l.registration_enabled) continue;
      for (const auto& vm : snapshot.machines) {
        if (vm.vnet_id.empty() || !SameId(vm.vnet_id, l.vnet_id)) continue;
        if (names.insert(arm::Lower(vm.name)).second) {
          zone.records.push_back({vm.name, dns::kTypeA, 10, vm.address});
        }
      }
    }
    spec.private_zones.push_back(std::move(zone));
  }
  for (const auto& v : snapshot.vnets) {
    dns::ViewSpec view{.id = v.id};
    // The rules of the DNS forwarding rulesets linked to the VNet (Azure DNS Private Resolver).
    // One enabled rule per domain: should two linked rulesets both have one, the first
    // ruleset's wins rather than the whole catalog failing to build.
    std::set<std::string> domains;
    for (const auto& rs : snapshot.forwarding_rulesets) {
      if (std::none_of(rs.vnet_ids.begin(), rs.vnet_ids.end(),
                       [&](const std::string& id) { return SameId(id, v.id); })) {
        continue;
      }
      for (const auto& rule : rs.rules) {
        std::string domain = arm::Lower(rule.domain);
        if (!domain.ends_with('.')) domain += '.';
        if (rule.enabled && !domains.insert(domain).second) continue;
        dns::ForwardRuleSpec f{.domain = rule.domain, .targets = {}, .enabled = rule.enabled};
        for (const auto& t : rule.targets) {
          f.targets.push_back({t.ip, static_cast<uint16_t>(t.port)});
        }
        view.forwards.push_back(std::move(f));
      }
    }
    for (const auto& z : snapshot.zones) {
      for (const auto& l : z.links) {
        if (!SameId(l.vnet_id, v.id)) continue;
        view.links.push_back({z.id, l.resolution_policy == "NxDomainRedirect"
                                        ? dns::ResolutionPolicy::kNxDomainRedirect
                                        : dns::ResolutionPolicy::kDefault});
      }
    }
    spec.views.push_back(std::move(view));
  }
  return spec;
}

// ---- Planes

namespace {

// Forwarded DNS queries leave from inside the VNet whose view they were asked in (the public
// view's from the public network), so they take the VNet's routes: to on-premises servers
// through its VPN gateway.
class NamespaceUpstreamOpener final : public dns::UpstreamSocketOpener {
 public:
  NamespaceUpstreamOpener(fabric::Namespaces& namespaces, const fabric::Fabric& fabric)
      : namespaces_(namespaces), fabric_(fabric) {}
  Result<UniqueFd> Open(std::string_view view, int family, int type) override {
    const std::string ns = fabric_.NetworkNamespace(view.empty() ? kPublicNetworkId : view);
    return fabric::InNamespace<UniqueFd>(namespaces_, ns, [&]() -> Result<UniqueFd> {
      UniqueFd fd(::socket(family, type | SOCK_CLOEXEC, 0));
      if (!fd.valid()) return Fail(Code::kIOError, std::string("socket: ") + std::strerror(errno));
      return fd;
    });
  }

 private:
  fabric::Namespaces& namespaces_;
  const fabric::Fabric& fabric_;
};

}  // namespace

Planes::Planes(PlanesOptions options, privatelink::ListenerOpener& registry_opener,
               imds::Service* imds)
    : options_(std::move(options)), imds_(imds), registry_listeners_(registry_opener, "registry") {
  if (imds_) {
    // Small: a machine asks for a token now and then.
    imds_server_ = std::make_unique<http::Server>(*imds_, nullptr,
                                                  http::ServerOptions{.threads = 1});
    imds_server_->Start();
    imds_opener_ = std::make_unique<privatelink::ServerListenerOpener>(namespaces_, *imds_server_);
    imds_listeners_ =
        std::make_unique<privatelink::ListenerSet>(*imds_opener_, "instance metadata");
  }
  fabric_ = std::make_unique<fabric::Fabric>(
      namespaces_, fabric::FabricOptions{.prefix = options_.prefix, .etc_netns = options_.etc_netns});
  dns_upstream_ = std::make_unique<NamespaceUpstreamOpener>(namespaces_, *fabric_);
  dns_ = std::make_unique<dns::Server>(catalog_, options_.dns, dns_upstream_.get());
  dns_->Start();
  std::string state = options_.state_dir;
  if (state.empty()) state = (std::filesystem::temp_directory_path() / ("cove-onprem-" + options_.prefix)).string();
  onprem_ = std::make_unique<OnPremPlane>(namespaces_, *fabric_, state + "/onprem");
  containers_ = std::make_unique<ContainersPlane>(
      ContainersPlaneOptions{.prefix = options_.prefix, .state_dir = state, .ca_file = options_.ca_file},
      namespaces_);
  aks_ = std::make_unique<AksPlane>(
      AksPlaneOptions{.prefix = options_.prefix, .state_dir = state, .ca_file = options_.ca_file},
      namespaces_);
}

std::optional<arm::ConnectionStatus> Planes::ConnectionStatus(const std::string& connection_id) const {
  return onprem_->Status(connection_id);
}

Planes::~Planes() {
  aks_.reset();         // the nodes' containerds stop here
  containers_.reset();  // before the namespaces' other tenants: its containers stop here
  onprem_.reset();
  dns_->Stop();
  {
    std::lock_guard lock(mu_);
    registry_listeners_.Clear();
    if (imds_listeners_) imds_listeners_->Clear();
  }
  if (imds_server_) imds_server_->Stop();
}

Result<std::string> Planes::Inode(const std::string& ns) {
  struct stat st{};
  std::string path = namespaces_.PathOf(ns);
  if (::stat(path.c_str(), &st) != 0) return Fail(Code::kNotFound, "no namespace " + ns);
  return ns + "@" + std::to_string(st.st_ino);
}

Status Planes::Down() {
  std::lock_guard lock(mu_);
  registry_listeners_.Clear();
  if (imds_listeners_) imds_listeners_->Clear();
  for (const auto& [where, key] : dns_sockets_) dns_->RemoveSocketsAt(where.first, where.second);
  dns_sockets_.clear();
  aks_->Down();
  containers_->Down();
  onprem_->Stop();
  return fabric_->Down();
}

Status Planes::Apply(const ProjectionPtr& projection) {
  std::lock_guard lock(mu_);
  const arm::SnapshotPtr& snapshot = projection->snapshot;
  if (imds_) imds_->SetMachines(projection->machines);
  auto catalog = dns::Catalog::Build(projection->catalog);
  if (catalog) {
    catalog_.Set(*catalog);
  } else {
    spdlog::warn("dns catalog (version {}): {}", snapshot->version, catalog.error().message);
  }
  const fabric::Topology& topology = projection->topology;
  Status applied = fabric_->Apply(topology);
  if (!applied) spdlog::warn("fabric (version {}): {}", snapshot->version, applied.error().message);
  onprem_->Apply(projection->onprem);
  containers_->Apply(PlanContainerGroups(
      *snapshot, [this](const std::string& id) { return fabric_->VmNamespace(id); },
      options_.etc_netns,
      options_.container_secrets ? options_.container_secrets
                                 : SecretsOf([](const std::string&) -> Result<nlohmann::json> {
                                     return nlohmann::json::object();
                                   })));
  aks_->Apply(PlanAksClusters(
      *snapshot, [this](const std::string& id) { return fabric_->VmNamespace(id); },
      options_.etc_netns));
  // Sites run their own DNS server (the plan's), and their machines are not Azure VMs: no
  // cove DNS socket and no instance metadata listener there.
  std::set<std::string> sites, azure_machines;
  for (const auto& s : snapshot->sites) sites.insert(arm::Lower(s.id));
  for (const auto& m : snapshot->machines) azure_machines.insert(arm::Lower(m.id));

  for (const auto& vm : topology.vms) {
    std::string ns = fabric_->VmNamespace(vm.id);
    if (vms_logged_.insert(ns).second) {
      spdlog::info("vm: {} at {} in namespace {}", vm.id, vm.address, ns);
    }
  }

  // DNS sockets: one pair per network namespace at its DNS address, plus one per DNS Private
  // Resolver inbound endpoint in its VNet's namespace, keyed by (view, address). A VNet that
  // is gone, or whose namespace is a new one (its inode changed), loses its sockets first, so
  // that the old namespace is freed.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>>
      dns_want;  // (view, address) → (namespace, "<ns>@<inode>")
  for (const auto& n : topology.networks) {
    if (sites.count(arm::Lower(n.id)) || n.dns_address.empty()) continue;
    std::string ns = fabric_->NetworkNamespace(n.id);
    auto key = Inode(ns);
    if (key) dns_want[{n.is_public ? "" : n.id, n.dns_address}] = {ns, *key};
  }
  for (const auto& r : snapshot->dns_resolvers) {
    const fabric::Network* vnet = topology.FindNetwork(r.vnet_id);
    if (!vnet) continue;
    std::string ns = fabric_->NetworkNamespace(vnet->id);
    auto key = Inode(ns);
    if (!key) continue;
    for (const auto& in : r.inbound) {
      if (!in.address.empty()) dns_want[{vnet->id, in.address}] = {ns, *key};
    }
  }
  for (auto it = dns_sockets_.begin(); it != dns_sockets_.end();) {
    auto want = dns_want.find(it->first);
    if (want != dns_want.end() && want->second.second == it->second) {
      ++it;
      continue;
    }
    const auto& [view, address] = it->first;
    size_t closed = dns_->RemoveSocketsAt(view, address);
    spdlog::info("dns: closed {} socket(s) of view '{}' at {} in {}", closed, view, address,
                 it->second);
    it = dns_sockets_.erase(it);
  }
  for (const auto& [where, want] : dns_want) {
    const auto& [view, address] = where;
    const auto& [ns, key] = want;
    if (dns_sockets_.count(where)) continue;
    auto udp = fabric::BindUdp(namespaces_, ns, address, 53);
    auto tcp = fabric::ListenTcp(namespaces_, ns, address, 53);
    if (!udp || !tcp) {
      spdlog::warn("dns in {}: {}", ns, (!udp ? udp.error() : tcp.error()).message);
      continue;
    }
    auto u = dns_->AddUdpSocket(std::move(*udp), view);
    auto t = dns_->AddTcpSocket(std::move(*tcp), view);
    if (!u || !t) {
      spdlog::warn("dns in {}: {}", ns, (!u ? u.error() : t.error()).message);
      dns_->RemoveSocketsAt(view, address);  // the one that was added, if any
      continue;
    }
    dns_sockets_[where] = key;
    spdlog::info("dns: {}:53 in {} answers view '{}'", address, ns, view);
  }

  // Registry listeners wanted now (step 4), and instance metadata listeners (step 5).
  std::vector<privatelink::ListenerSpec> registry_want;
  std::map<std::string, std::string> vnet_regions;  // VNet id (lowercased) → location
  for (const auto& v : snapshot->vnets) vnet_regions[arm::Lower(v.id)] = v.location;
  for (const auto& pe : snapshot->private_endpoints) {
    if (pe.link_id == 0) continue;
    std::string ns = fabric_->NetworkNamespace(pe.vnet_id);
    auto key = Inode(ns);
    if (!key) continue;
    for (const auto& m : pe.members) {
      if (m.ip.empty()) continue;
      static constexpr std::string_view kData = "registry_data_";
      std::string service =
          m.member_name.starts_with(kData)
              ? "data/" + pe.registry_name + "/" + m.member_name.substr(kData.size())
              : "login/" + pe.registry_name + "/" + vnet_regions[arm::Lower(pe.vnet_id)];
      registry_want.push_back({.ns = ns, .ns_instance = *key, .address = m.ip, .port = 443,
                               .link_id = pe.link_id, .tls = true, .service = service});
    }
  }
  {
    std::string ns = fabric_->NetworkNamespace(kPublicNetworkId);
    auto key = Inode(ns);
    if (key) {
      for (const auto& [name, ip] : PublicAddresses(*snapshot)) {
        registry_want.push_back({.ns = ns, .ns_instance = *key, .address = ip, .port = 443,
                                 .link_id = std::nullopt, .tls = true, .service = "sni"});
      }
    }
  }
  registry_listeners_.Reconcile(registry_want);
  if (imds_listeners_) {
    std::vector<privatelink::ListenerSpec> imds_want;
    const std::string ip(fabric::kInstanceMetadataAddress);
    for (const auto& vm : topology.vms) {
      if (!azure_machines.count(arm::Lower(vm.id))) continue;
      std::string ns = fabric_->VmNamespace(vm.id);
      auto key = Inode(ns);
      // Bound to lo: connections that arrive from outside the machine never reach it.
      if (key) {
        imds_want.push_back({.ns = ns, .ns_instance = *key, .address = ip, .port = imds::kPort,
                             .link_id = std::nullopt, .tls = false, .device = "lo",
                             .tag = imds::TagOf(vm.id)});
      }
    }
    imds_listeners_->Reconcile(imds_want);
  }
  return applied;
}

}  // namespace cove::daemon
