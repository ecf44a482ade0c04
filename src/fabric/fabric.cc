#include "fabric/fabric.h"

#include <fcntl.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "fabric/guard.h"
#include "fabric/netlink.h"
#include "fabric/nsg.h"

namespace cove::fabric {
namespace fs = std::filesystem;
namespace {

constexpr char kVmLink[] = "eth0";

tl::unexpected<Error> Errno(const std::string& what, int err = errno) {
  return Fail(Code::kIOError, what + ": " + std::strerror(err));
}

std::string BridgeName(std::string_view subnet_id) { return "b" + ShortId(subnet_id); }
std::string PeerLinkName(std::string_view other_network_id) {
  return "p" + ShortId(other_network_id);
}

std::string UplinkName(std::string_view network_id) { return "u" + ShortId(network_id); }
// A wire's two ends: w<hash8(wire id)> at end a, x<hash8(wire id)> at end b.
std::string WireLinkName(const Wire& wire, const WireEnd& end) {
  return (&end == &wire.a ? "w" : "x") + ShortId(wire.id);
}

// Links that software running inside a namespace makes for itself (strongSwan's userspace ESP
// makes a TUN device): the fabric leaves them alone.
bool MadeInside(const LinkInfo& link) { return link.kind == "tun"; }

// Whether `address` is one of the network's subnets' local addresses (a site's DNS server on
// its LAN rather than on lo).
bool IsLocalAddress(const Network& network, const std::string& address) {
  for (const Subnet& s : network.subnets) {
    for (const std::string& a : s.local_addresses) {
      if (a == address) return true;
    }
  }
  return false;
}

// Makes the routes through `oif` exactly `want` (link-scoped, no gateway).
Status SyncLinkRoutes(Netlink& nl, int oif, const std::set<Cidr>& want) {
  COVE_ASSIGN_OR_RETURN(auto routes, nl.Routes());
  std::set<Cidr> have;
  for (const RouteInfo& r : routes) {
    if (r.oif != oif) continue;
    if (want.count(r.dst) && !r.gateway && r.type == RTN_UNICAST) {
      have.insert(r.dst);
    } else if (r.protocol != RTPROT_KERNEL) {
      COVE_RETURN_IF_ERROR(nl.DeleteRoute(r));
    }
  }
  for (const Cidr& c : want) {
    if (!have.count(c)) COVE_RETURN_IF_ERROR(nl.ReplaceRoute(c, oif, std::nullopt));
  }
  return Ok();
}

const Subnet* FindSubnet(const Network& n, std::string_view id) {
  for (const Subnet& s : n.subnets) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

Cidr MustCidr(const std::string& text) { return *Cidr::Parse(text); }  // validated before
Ipv4 MustIp(const std::string& text) { return *Ipv4::Parse(text); }

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Code::kNotFound, "cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `content` to `path` unless it already holds exactly that (temp file + rename).
Status WriteIfChanged(const fs::path& path, const std::string& content) {
  auto current = ReadFile(path);
  if (current && *current == content) return Ok();
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Fail(Code::kIOError, "mkdir " + path.parent_path().string() + ": " + ec.message());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) return Fail(Code::kIOError, "write " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) return Fail(Code::kIOError, "rename to " + path.string() + ": " + ec.message());
  return Ok();
}

// Makes the IPv4 addresses of link `ifindex` exactly `want` (others removed).
Status SyncAddresses(Netlink& nl, int ifindex, const std::set<IfAddress>& want,
                     const std::set<IfAddress>& keep = {}) {
  COVE_ASSIGN_OR_RETURN(auto have_list, nl.Addresses(ifindex));
  std::set<IfAddress> have(have_list.begin(), have_list.end());
  for (const IfAddress& a : have) {
    if (!want.count(a) && !keep.count(a)) COVE_RETURN_IF_ERROR(nl.DeleteAddress(ifindex, a));
  }
  for (const IfAddress& a : want) {
    if (!have.count(a)) COVE_RETURN_IF_ERROR(nl.AddAddress(ifindex, a));
  }
  return Ok();
}

// A veth pair `here` (in `nl`'s namespace) ↔ `there` (in namespace `there_ns`), created unless
// both ends are already there; a lone end is removed first.
Status EnsureVeth(Netlink& nl, const std::string& here, Netlink& far, const std::string& there,
                  const std::string& there_ns) {
  COVE_ASSIGN_OR_RETURN(auto a, nl.Link(here));
  COVE_ASSIGN_OR_RETURN(auto b, far.Link(there));
  if (a && b && a->kind == "veth" && b->kind == "veth") return Ok();
  if (a) COVE_RETURN_IF_ERROR(nl.DeleteLink(here));
  if (b) {
    auto gone = far.DeleteLink(there);  // may have gone with `here`
    if (!gone && gone.error().code != Code::kNotFound) return gone;
  }
  return nl.AddVeth(here, there, there_ns);
}

// Proxy ARP on `link`, answering at once (the kernel otherwise waits up to proxy_delay, 0.8 s,
// before each proxied reply).
Status EnableProxyArp(Namespaces& namespaces, const std::string& ns, Netlink& nl,
                      const std::string& link) {
  COVE_RETURN_IF_ERROR(nl.SetInetConf(link, IPV4_DEVCONF_PROXY_ARP, 1));
  return namespaces.WriteSysctl(ns, "net/ipv4/neigh/" + link + "/proxy_delay", "0");
}

bool ValidPrefix(const std::string& p) {
  if (p.empty() || p.size() > 5) return false;
  return std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

}  // namespace

std::string ShortId(std::string_view id) {
  uint32_t h = 2166136261u;
  for (char c : id) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return buf;
}

Fabric::Fabric(Namespaces& namespaces, FabricOptions options)
    : namespaces_(namespaces), options_(std::move(options)) {}

std::string Fabric::NetworkNamespace(std::string_view network_id) const {
  return options_.prefix + "-n" + ShortId(network_id);
}

std::string Fabric::VmNamespace(std::string_view vm_id) const {
  return options_.prefix + "-m" + ShortId(vm_id);
}

bool Fabric::Ours(std::string_view ns) const {
  return ns.size() > options_.prefix.size() + 1 && ns.starts_with(options_.prefix + "-");
}

Result<std::vector<std::string>> Fabric::Existing() const {
  COVE_ASSIGN_OR_RETURN(auto all, namespaces_.List());
  std::vector<std::string> out;
  for (std::string& n : all) {
    if (Ours(n)) out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status Fabric::EnsureNamespace(const std::string& ns) {
  auto created = namespaces_.Create(ns);
  if (created || created.error().code != Code::kAlreadyExists) return created;
  // It exists: make sure it is a live namespace, not a file left by a crash mid-create.
  auto entered = namespaces_.RunIn(ns, [] { return Ok(); });
  if (entered || entered.error().code != Code::kNotFound) return entered;
  COVE_RETURN_IF_ERROR(namespaces_.Delete(ns));
  return namespaces_.Create(ns);
}

Status Fabric::RemoveNamespace(const std::string& ns) {
  auto deleted = namespaces_.Delete(ns);
  if (!deleted && deleted.error().code != Code::kNotFound) return deleted;
  std::error_code ec;
  fs::remove_all(fs::path(options_.etc_netns) / ns, ec);
  if (ec) return Fail(Code::kIOError, "remove /etc/netns dir of " + ns + ": " + ec.message());
  return Ok();
}

Status Fabric::Down() {
  std::lock_guard lock(mu_);
  if (!ValidPrefix(options_.prefix)) return Fail(Code::kInvalidArgument, "bad fabric prefix");
  COVE_ASSIGN_OR_RETURN(auto existing, Existing());
  // VMs first: their veths then vanish with them rather than with the network.
  std::stable_partition(existing.begin(), existing.end(), [&](const std::string& n) {
    return n.starts_with(options_.prefix + "-m");
  });
  for (const std::string& ns : existing) COVE_RETURN_IF_ERROR(RemoveNamespace(ns));
  std::error_code ec;
  for (fs::directory_iterator it(options_.etc_netns, ec), end; !ec && it != end; it.increment(ec)) {
    if (Ours(it->path().filename().string())) {
      COVE_RETURN_IF_ERROR(RemoveNamespace(it->path().filename().string()));
    }
  }
  return Ok();
}

Status Fabric::Apply(const Topology& desired) {
  std::lock_guard lock(mu_);
  return ApplyLocked(desired);
}

Status Fabric::ApplyLocked(const Topology& desired) {
  if (!ValidPrefix(options_.prefix)) {
    return Fail(Code::kInvalidArgument,
                "fabric prefix '" + options_.prefix + "' must be 1-5 characters of [a-z0-9]");
  }
  COVE_RETURN_IF_ERROR(Validate(desired));
  std::set<std::string> wanted;
  for (const Network& n : desired.networks) {
    if (!wanted.insert(NetworkNamespace(n.id)).second) {
      return Fail(Code::kInvalidArgument, "two network ids hash to one name: " + n.id);
    }
  }
  for (const Vm& v : desired.vms) {
    if (!wanted.insert(VmNamespace(v.id)).second) {
      return Fail(Code::kInvalidArgument, "two VM ids hash to one name: " + v.id);
    }
  }
  // Remove what is no longer wanted (VMs first), including /etc/netns leftovers.
  COVE_ASSIGN_OR_RETURN(auto existing, Existing());
  std::stable_partition(existing.begin(), existing.end(), [&](const std::string& n) {
    return n.starts_with(options_.prefix + "-m");
  });
  for (const std::string& ns : existing) {
    if (!wanted.count(ns)) COVE_RETURN_IF_ERROR(RemoveNamespace(ns));
  }
  std::error_code ec;
  for (fs::directory_iterator it(options_.etc_netns, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (Ours(name) && !wanted.count(name)) COVE_RETURN_IF_ERROR(RemoveNamespace(name));
  }

  for (const Network& n : desired.networks) COVE_RETURN_IF_ERROR(ApplyNetwork(desired, n));
  for (const Peering& p : desired.peerings) COVE_RETURN_IF_ERROR(ApplyPeering(desired, p));
  for (const Network& n : desired.networks) {
    if (!n.outbound_address.empty()) COVE_RETURN_IF_ERROR(ApplyUplink(desired, n));
  }
  for (const Vm& v : desired.vms) COVE_RETURN_IF_ERROR(ApplyVm(desired, v));
  for (const Wire& w : desired.wires) COVE_RETURN_IF_ERROR(ApplyWire(w));
  return Ok();
}

std::string Fabric::WireEndNamespace(const WireEnd& end) const {
  return end.vm_id.empty() ? NetworkNamespace(end.network_id) : VmNamespace(end.vm_id);
}

Status Fabric::ApplyWire(const Wire& wire) {
  const std::string ns_a = WireEndNamespace(wire.a), ns_b = WireEndNamespace(wire.b);
  const std::string link_a = WireLinkName(wire, wire.a), link_b = WireLinkName(wire, wire.b);
  COVE_ASSIGN_OR_RETURN(auto nl_a, namespaces_.OpenNetlink(ns_a));
  COVE_ASSIGN_OR_RETURN(auto nl_b, namespaces_.OpenNetlink(ns_b));
  COVE_RETURN_IF_ERROR(EnsureVeth(*nl_a, link_a, *nl_b, link_b, ns_b));
  for (auto [nl, link, end] : {std::tuple{nl_a.get(), &link_a, &wire.a},
                               std::tuple{nl_b.get(), &link_b, &wire.b}}) {
    COVE_RETURN_IF_ERROR(nl->SetUp(*link));
    COVE_ASSIGN_OR_RETURN(auto info, nl->Link(*link));
    COVE_RETURN_IF_ERROR(SyncAddresses(*nl, info->index, {{MustIp(end->address), end->length}}));
  }
  return Ok();
}

Status Fabric::ApplyNetwork(const Topology& desired, const Network& network) {
  const std::string ns = NetworkNamespace(network.id);
  COVE_RETURN_IF_ERROR(EnsureNamespace(ns));
  // Forwarding first: interfaces created afterwards inherit it (proxy ARP on peering links
  // needs it too).
  COVE_RETURN_IF_ERROR(namespaces_.WriteSysctl(ns, "net/ipv4/ip_forward", "1"));
  COVE_ASSIGN_OR_RETURN(auto nl, namespaces_.OpenNetlink(ns));

  // Which links belong here.
  std::set<std::string> links = {"lo"};
  for (const Subnet& s : network.subnets) links.insert(BridgeName(s.id));
  for (const Vm& v : desired.vms) {
    if (v.network_id == network.id) links.insert(VmPortName(v.id));
  }
  for (const Peering& p : desired.peerings) {
    if (p.network_a == network.id) links.insert(PeerLinkName(p.network_b));
    if (p.network_b == network.id) links.insert(PeerLinkName(p.network_a));
  }
  if (!network.outbound_address.empty()) links.insert(kUplinkName);
  for (const Wire& w : desired.wires) {
    if (w.a.vm_id.empty() && w.a.network_id == network.id) links.insert(WireLinkName(w, w.a));
    if (w.b.vm_id.empty() && w.b.network_id == network.id) links.insert(WireLinkName(w, w.b));
  }
  if (network.is_public) {
    for (const Network& n : desired.networks) {
      if (!n.outbound_address.empty()) links.insert(UplinkName(n.id));
    }
    for (const Vm& v : desired.vms) {
      if (!v.public_address.empty()) links.insert(UplinkName(v.id));
    }
  }
  COVE_ASSIGN_OR_RETURN(auto have, nl->Links());
  for (const LinkInfo& l : have) {
    if (links.count(l.name) || MadeInside(l)) continue;
    auto gone = nl->DeleteLink(l.name);  // a veth's far end may already have taken it along
    if (!gone && gone.error().code != Code::kNotFound) return gone;
  }

  // lo: up, 127.0.0.1/8 and the DNS address. The latter is host-scoped: otherwise the kernel
  // may pick it as the sender of ARP requests on peering links, and the peer (which has the
  // same address) drops those as martians.
  COVE_RETURN_IF_ERROR(nl->SetUp("lo"));
  COVE_ASSIGN_OR_RETURN(auto lo, nl->Link("lo"));
  std::set<IfAddress> lo_addresses;
  if (!network.dns_address.empty() && !IsLocalAddress(network, network.dns_address)) {
    lo_addresses.insert({MustIp(network.dns_address), 32, RT_SCOPE_HOST});
  }
  COVE_RETURN_IF_ERROR(
      SyncAddresses(*nl, lo->index, lo_addresses, {{Ipv4{0x7f000001}, 8, RT_SCOPE_HOST}}));

  for (const Subnet& s : network.subnets) {
    const std::string bridge = BridgeName(s.id);
    COVE_ASSIGN_OR_RETURN(auto link, nl->Link(bridge));
    if (link && link->kind != "bridge") {
      COVE_RETURN_IF_ERROR(nl->DeleteLink(bridge));
      link.reset();
    }
    if (!link) COVE_RETURN_IF_ERROR(nl->AddBridge(bridge));
    COVE_RETURN_IF_ERROR(nl->SetUp(bridge));
    if (network.is_public) {
      // VNets' outbound addresses may lie inside a public subnet; the public namespace answers
      // ARP for them on the subnet and routes them to their VNet's uplink.
      COVE_RETURN_IF_ERROR(EnableProxyArp(namespaces_, ns, *nl, bridge));
    }
    COVE_ASSIGN_OR_RETURN(link, nl->Link(bridge));
    const Cidr prefix = MustCidr(s.prefix);
    std::set<IfAddress> want = {{prefix.Gateway(), prefix.length}};
    for (const std::string& a : s.local_addresses) want.insert({MustIp(a), 32});
    COVE_RETURN_IF_ERROR(SyncAddresses(*nl, link->index, want));
  }
  COVE_RETURN_IF_ERROR(SyncStaticRoutes(*nl, network));
  return ApplyNetfilter(namespaces_, ns, desired, network);
}

// The network's routes through next hops (Network::routes) exactly: cove's own routes with a
// gateway on a subnet's bridge that are not wanted go (those other software installs, with
// another protocol, stay).
Status Fabric::SyncStaticRoutes(Netlink& nl, const Network& network) {
  std::map<Cidr, std::pair<Ipv4, int>> want;  // prefix → next hop, bridge
  std::set<int> bridges;
  for (const Subnet& s : network.subnets) {
    COVE_ASSIGN_OR_RETURN(auto bridge, nl.Link(BridgeName(s.id)));
    if (!bridge) return Fail(Code::kInternal, "bridge of subnet " + s.id + " missing");
    bridges.insert(bridge->index);
    const Cidr prefix = MustCidr(s.prefix);
    for (const Route& r : network.routes) {
      const Ipv4 hop = MustIp(r.next_hop);
      if (prefix.Contains(hop)) want[MustCidr(r.prefix)] = {hop, bridge->index};
    }
  }
  COVE_ASSIGN_OR_RETURN(auto routes, nl.Routes());
  for (const RouteInfo& r : routes) {
    if (!r.gateway || !bridges.count(r.oif) || r.protocol != RTPROT_STATIC) continue;
    auto it = want.find(r.dst);
    if (it != want.end() && it->second == std::pair{*r.gateway, r.oif}) {
      want.erase(it);
    } else {
      COVE_RETURN_IF_ERROR(nl.DeleteRoute(r));
    }
  }
  for (const auto& [dst, hop] : want) COVE_RETURN_IF_ERROR(nl.ReplaceRoute(dst, hop.second, hop.first));
  return Ok();
}

Status Fabric::ApplyPeering(const Topology& desired, const Peering& peering) {
  const Network* a = desired.FindNetwork(peering.network_a);
  const Network* b = desired.FindNetwork(peering.network_b);
  const std::string ns_a = NetworkNamespace(a->id), ns_b = NetworkNamespace(b->id);
  const std::string link_a = PeerLinkName(b->id), link_b = PeerLinkName(a->id);
  COVE_ASSIGN_OR_RETURN(auto nl_a, namespaces_.OpenNetlink(ns_a));
  COVE_ASSIGN_OR_RETURN(auto nl_b, namespaces_.OpenNetlink(ns_b));
  COVE_RETURN_IF_ERROR(EnsureVeth(*nl_a, link_a, *nl_b, link_b, ns_b));
  struct Side {
    const std::string& ns;
    Netlink& nl;
    const std::string& link;
    const Network& other;
  };
  for (const Side& side : {Side{ns_a, *nl_a, link_a, *b}, Side{ns_b, *nl_b, link_b, *a}}) {
    COVE_RETURN_IF_ERROR(side.nl.SetUp(side.link));
    // Neither end has an address: each answers ARP for what it routes elsewhere.
    COVE_RETURN_IF_ERROR(EnableProxyArp(namespaces_, side.ns, side.nl, side.link));
    COVE_ASSIGN_OR_RETURN(auto link, side.nl.Link(side.link));
    std::set<Cidr> want;
    for (const std::string& s : side.other.address_spaces) want.insert(MustCidr(s));
    COVE_RETURN_IF_ERROR(SyncLinkRoutes(side.nl, link->index, want));
  }
  return Ok();
}

Status Fabric::ApplyUplink(const Topology& desired, const Network& network) {
  return ApplyPublicLeg(desired, NetworkNamespace(network.id), UplinkName(network.id),
                        network.outbound_address);
}

Status Fabric::ApplyPublicLeg(const Topology& desired, const std::string& ns,
                              const std::string& outer, const std::string& address) {
  const Network* pub = nullptr;
  for (const Network& n : desired.networks) {
    if (n.is_public) pub = &n;
  }
  const std::string pub_ns = NetworkNamespace(pub->id);
  COVE_ASSIGN_OR_RETURN(auto nl, namespaces_.OpenNetlink(ns));
  COVE_ASSIGN_OR_RETURN(auto pub_nl, namespaces_.OpenNetlink(pub_ns));
  COVE_RETURN_IF_ERROR(EnsureVeth(*nl, kUplinkName, *pub_nl, outer, pub_ns));
  const Ipv4 outbound = MustIp(address);
  // VNet side: the outbound address (so it answers ARP for it).
  COVE_RETURN_IF_ERROR(nl->SetUp(kUplinkName));
  COVE_ASSIGN_OR_RETURN(auto inner, nl->Link(kUplinkName));
  COVE_RETURN_IF_ERROR(SyncAddresses(*nl, inner->index, {{outbound, 32}}));
  // Routes to the public address spaces only (not a default route): other destinations fail
  // at once with "network unreachable" instead of waiting for ARP.
  std::set<Cidr> spaces;
  for (const std::string& s : pub->address_spaces) spaces.insert(MustCidr(s));
  COVE_RETURN_IF_ERROR(SyncLinkRoutes(*nl, inner->index, spaces));
  // Public side: the outbound address lives behind this link; answer ARP for the rest.
  COVE_RETURN_IF_ERROR(pub_nl->SetUp(outer));
  COVE_RETURN_IF_ERROR(EnableProxyArp(namespaces_, pub_ns, *pub_nl, outer));
  COVE_ASSIGN_OR_RETURN(auto link, pub_nl->Link(outer));
  return SyncLinkRoutes(*pub_nl, link->index, {Cidr{outbound, 32}});
}

Status Fabric::ApplyVm(const Topology& desired, const Vm& vm) {
  const Network* network = desired.FindNetwork(vm.network_id);
  const Subnet* subnet = FindSubnet(*network, vm.subnet_id);
  const std::string ns = VmNamespace(vm.id);
  const std::string net_ns = NetworkNamespace(network->id);
  COVE_RETURN_IF_ERROR(EnsureNamespace(ns));
  COVE_ASSIGN_OR_RETURN(auto vm_nl, namespaces_.OpenNetlink(ns));
  COVE_ASSIGN_OR_RETURN(auto net_nl, namespaces_.OpenNetlink(net_ns));
  const std::string outer = VmPortName(vm.id);
  // The machine's firewall first (169.254.169.254 from lo only; a public leg takes only IKE),
  // then its links.
  COVE_RETURN_IF_ERROR(ApplyMachineGuard(namespaces_, ns, vm));
  COVE_RETURN_IF_ERROR(
      namespaces_.WriteSysctl(ns, "net/ipv4/ip_forward", vm.ip_forwarding ? "1" : "0"));
  // ARP asks with the machine's own address (what its bridge port lets through), not with the
  // source of the packet that needs it, which a forwarding machine may also hold.
  COVE_RETURN_IF_ERROR(namespaces_.WriteSysctl(ns, "net/ipv4/conf/all/arp_announce", "2"));
  COVE_RETURN_IF_ERROR(EnsureVeth(*net_nl, outer, *vm_nl, kVmLink, ns));
  // The address its bridge port lets through (guard.h), set again if the machine changed it.
  COVE_RETURN_IF_ERROR(vm_nl->SetMac(kVmLink, VmMac(vm.id)));
  // Anything else in the VM (a stale link from an older layout) goes; a TUN device a VPN
  // daemon in it made stays.
  COVE_ASSIGN_OR_RETURN(auto vm_links, vm_nl->Links());
  for (const LinkInfo& l : vm_links) {
    if (l.name == "lo" || l.name == kVmLink || MadeInside(l)) continue;
    if (l.name == kUplinkName && !vm.public_address.empty()) continue;
    bool wired = false;
    for (const Wire& w : desired.wires) {
      wired = wired || (w.a.vm_id == vm.id && l.name == WireLinkName(w, w.a)) ||
              (w.b.vm_id == vm.id && l.name == WireLinkName(w, w.b));
    }
    if (wired) continue;
    COVE_RETURN_IF_ERROR(vm_nl->DeleteLink(l.name));
  }

  COVE_ASSIGN_OR_RETURN(auto bridge, net_nl->Link(BridgeName(subnet->id)));
  if (!bridge) return Fail(Code::kInternal, "bridge of subnet " + subnet->id + " missing");
  COVE_RETURN_IF_ERROR(net_nl->SetUp(outer, bridge->index));

  // lo: up, 127.0.0.1/8 and the instance metadata address (coved serves IMDS there, as Azure's
  // host does for its VMs: src/imds).
  COVE_RETURN_IF_ERROR(vm_nl->SetUp("lo"));
  COVE_ASSIGN_OR_RETURN(auto lo, vm_nl->Link("lo"));
  COVE_RETURN_IF_ERROR(SyncAddresses(*vm_nl, lo->index,
                                     {{MustIp(std::string(kInstanceMetadataAddress)), 32, RT_SCOPE_HOST}},
                                     {{Ipv4{0x7f000001}, 8, RT_SCOPE_HOST}}));
  COVE_RETURN_IF_ERROR(vm_nl->SetUp(kVmLink));
  COVE_ASSIGN_OR_RETURN(auto eth, vm_nl->Link(kVmLink));
  const Cidr prefix = MustCidr(subnet->prefix);
  COVE_RETURN_IF_ERROR(SyncAddresses(*vm_nl, eth->index, {{MustIp(vm.address), prefix.length}}));
  // One default route, via the subnet's gateway.
  COVE_ASSIGN_OR_RETURN(auto routes, vm_nl->Routes());
  bool have_default = false;
  for (const RouteInfo& r : routes) {
    if (r.dst.length != 0 || r.type != RTN_UNICAST) continue;
    if (r.gateway == prefix.Gateway() && r.oif == eth->index) {
      have_default = true;
    } else {
      COVE_RETURN_IF_ERROR(vm_nl->DeleteRoute(r));
    }
  }
  if (!have_default) {
    COVE_RETURN_IF_ERROR(vm_nl->ReplaceRoute(Cidr{Ipv4{0}, 0}, eth->index, prefix.Gateway()));
  }
  if (!vm.public_address.empty()) {
    COVE_RETURN_IF_ERROR(ApplyPublicLeg(desired, ns, UplinkName(vm.id), vm.public_address));
  }
  return WriteVmFiles(desired, vm);
}

Status Fabric::WriteVmFiles(const Topology& desired, const Vm& vm) {
  const Network* network = desired.FindNetwork(vm.network_id);
  const fs::path dir = fs::path(options_.etc_netns) / VmNamespace(vm.id);
  std::string resolv = "# written by cove: this VM resolves through its network's DNS\n";
  if (!network->dns_address.empty()) resolv += "nameserver " + network->dns_address + "\n";
  COVE_RETURN_IF_ERROR(WriteIfChanged(dir / "resolv.conf", resolv));
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const std::string& line : vm.hosts) hosts += line + "\n";
  COVE_RETURN_IF_ERROR(WriteIfChanged(dir / "hosts", hosts));

  std::error_code ec;
  if (vm.ca_pem.empty()) {
    fs::remove_all(dir / "ssl", ec);
    fs::remove_all(dir / "containers", ec);
    return Ok();
  }
  // /etc/ssl is replaced as a whole inside the VM: keep openssl.cnf, add the CA to the bundle.
  std::string bundle = ReadFile(options_.system_ca_bundle).value_or("");
  if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
  bundle += vm.ca_pem;
  if (bundle.back() != '\n') bundle += '\n';
  COVE_RETURN_IF_ERROR(WriteIfChanged(dir / "ssl/certs/ca-certificates.crt", bundle));
  COVE_RETURN_IF_ERROR(WriteIfChanged(dir / "ssl/certs/cove-ca.pem", vm.ca_pem));
  if (auto cnf = ReadFile("/etc/ssl/openssl.cnf")) {
    COVE_RETURN_IF_ERROR(WriteIfChanged(dir / "ssl/openssl.cnf", *cnf));
  }
  // /etc/containers likewise: the host's configuration (policy.json, registries.conf, ...)
  // plus certs.d/<host>/ca.crt for each registry host.
  const fs::path containers = dir / "containers";
  if (fs::is_directory("/etc/containers")) {
    for (auto it = fs::recursive_directory_iterator("/etc/containers", ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path rel = fs::relative(it->path(), "/etc/containers");
      if (*rel.begin() == "certs.d") continue;
      if (it->is_regular_file()) {
        COVE_ASSIGN_OR_RETURN(std::string content, ReadFile(it->path()));
        COVE_RETURN_IF_ERROR(WriteIfChanged(containers / rel, content));
      }
    }
  }
  std::set<std::string> hosts_wanted(vm.registry_hosts.begin(), vm.registry_hosts.end());
  for (const std::string& host : hosts_wanted) {
    if (host.empty() || host.find('/') != std::string::npos || host[0] == '.') {
      return Fail(Code::kInvalidArgument, "bad registry host '" + host + "'");
    }
    COVE_RETURN_IF_ERROR(WriteIfChanged(containers / "certs.d" / host / "ca.crt", vm.ca_pem));
  }
  for (fs::directory_iterator it(containers / "certs.d", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!hosts_wanted.count(it->path().filename().string())) fs::remove_all(it->path(), ec);
  }
  return Ok();
}

Result<ExecResult> Fabric::Exec(std::string_view vm_id, const std::vector<std::string>& argv,
                                int timeout_ms) {
  return ExecIn(VmNamespace(vm_id), argv, timeout_ms);
}

Result<pid_t> Fabric::Spawn(std::string_view vm_id, const std::vector<std::string>& argv,
                            int stdin_fd, int stdout_fd, int stderr_fd) {
  const std::string ns = VmNamespace(vm_id);
  SpawnOptions options;
  options.etc_overlay = (fs::path(options_.etc_netns) / ns).string();
  options.stdin_fd = stdin_fd;
  options.stdout_fd = stdout_fd;
  options.stderr_fd = stderr_fd;
  return namespaces_.Spawn(ns, argv, options);
}

Result<ExecResult> Fabric::ExecIn(const std::string& ns, const std::vector<std::string>& argv,
                                  int timeout_ms) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno("pipe");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  SpawnOptions options;
  options.etc_overlay = (fs::path(options_.etc_netns) / ns).string();
  options.stdout_fd = write_end.get();
  options.stderr_fd = write_end.get();
  COVE_ASSIGN_OR_RETURN(const pid_t pid, namespaces_.Spawn(ns, argv, options));
  write_end.Reset();
  ExecResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t got = ::read(read_end.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buf, static_cast<size_t>(got));
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  if (timed_out) {
    return Fail(Code::kUnavailable, "'" + argv[0] + "' in " + ns + " timed out; output: " +
                                        result.output);
  }
  return result;
}

}  // namespace cove::fabric
