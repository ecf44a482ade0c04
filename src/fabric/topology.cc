#include "fabric/topology.h"

#include <arpa/inet.h>

#include <charconv>
#include <map>
#include <set>

namespace cove::fabric {

Result<Ipv4> Ipv4::Parse(std::string_view text) {
  std::string s(text);
  in_addr a{};
  if (s.empty() || ::inet_pton(AF_INET, s.c_str(), &a) != 1) {
    return Fail(Code::kInvalidArgument, "bad IPv4 address '" + s + "'");
  }
  return Ipv4{ntohl(a.s_addr)};
}

std::string Ipv4::ToString() const {
  in_addr a{htonl(value)};
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

Result<Cidr> Cidr::Parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return Fail(Code::kInvalidArgument, "bad prefix '" + std::string(text) + "' (no /length)");
  }
  COVE_ASSIGN_OR_RETURN(Ipv4 ip, Ipv4::Parse(text.substr(0, slash)));
  std::string_view len_text = text.substr(slash + 1);
  int length = -1;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || length < 0 ||
      length > 32) {
    return Fail(Code::kInvalidArgument, "bad prefix length in '" + std::string(text) + "'");
  }
  Cidr c{ip, length};
  if ((ip.value & c.Mask()) != ip.value) {
    return Fail(Code::kInvalidArgument,
                "prefix '" + std::string(text) + "' has host bits set (did you mean " +
                    Cidr{Ipv4{ip.value & c.Mask()}, length}.ToString() + "?)");
  }
  return c;
}

std::string Cidr::ToString() const { return network.ToString() + "/" + std::to_string(length); }

bool IsTestNet(const Cidr& cidr) {
  static const Cidr kBlocks[] = {{{0xC0000200}, 24}, {{0xC6336400}, 24}, {{0xCB007100}, 24}};
  for (const Cidr& b : kBlocks) {
    if (b.Contains(cidr)) return true;
  }
  return false;
}

const Network* Topology::FindNetwork(std::string_view id) const {
  for (const Network& n : networks) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

const Vm* Topology::FindVm(std::string_view id) const {
  for (const Vm& v : vms) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

namespace {

tl::unexpected<Error> Invalid(std::string what) {
  return Fail(Code::kInvalidArgument, "topology: " + std::move(what));
}

}  // namespace

Status Validate(const Topology& topology) {
  std::set<std::string> network_ids, subnet_ids, vm_ids;
  std::map<std::string, std::vector<Cidr>> spaces_of;
  std::map<std::string, std::set<uint32_t>> used;  // network id → addresses taken
  std::map<std::string, std::pair<const Network*, Cidr>> subnet_of;
  int public_networks = 0;
  for (const Network& n : topology.networks) {
    if (n.id.empty()) return Invalid("network with an empty id");
    if (!network_ids.insert(n.id).second) return Invalid("network '" + n.id + "' given twice");
    if (n.is_public && ++public_networks > 1) return Invalid("more than one public network");
    std::vector<Cidr>& spaces = spaces_of[n.id];
    for (const std::string& s : n.address_spaces) {
      COVE_ASSIGN_OR_RETURN(Cidr c, Cidr::Parse(s));
      if (n.is_public != IsTestNet(c)) {
        return Invalid(n.is_public ? "public address space " + s + " outside TEST-NET"
                                   : "virtual network '" + n.id + "' uses TEST-NET " + s);
      }
      for (const Cidr& o : spaces) {
        if (o.Overlaps(c)) return Invalid("address spaces of '" + n.id + "' overlap");
      }
      spaces.push_back(c);
    }
    std::vector<Cidr> subnets;
    for (const Subnet& s : n.subnets) {
      if (s.id.empty()) return Invalid("subnet with an empty id in '" + n.id + "'");
      if (!subnet_ids.insert(s.id).second) return Invalid("subnet '" + s.id + "' given twice");
      COVE_ASSIGN_OR_RETURN(Cidr c, Cidr::Parse(s.prefix));
      if (c.length > 29) return Invalid("subnet " + s.prefix + " is smaller than /29");
      bool inside = false;
      for (const Cidr& sp : spaces) inside = inside || sp.Contains(c);
      if (!inside) return Invalid("subnet " + s.prefix + " outside the address spaces of '" + n.id + "'");
      for (const Cidr& o : subnets) {
        if (o.Overlaps(c)) return Invalid("subnets " + o.ToString() + " and " + s.prefix + " overlap");
      }
      subnets.push_back(c);
      subnet_of[s.id] = {&n, c};
      used[n.id].insert(c.Gateway().value);
      for (const std::string& a : s.local_addresses) {
        COVE_ASSIGN_OR_RETURN(Ipv4 ip, Ipv4::Parse(a));
        if (!c.Contains(ip) || ip == c.network || ip == c.Broadcast() || ip == c.Gateway()) {
          return Invalid("local address " + a + " is not a host address of " + s.prefix);
        }
        if (!used[n.id].insert(ip.value).second) return Invalid("address " + a + " used twice");
      }
      for (const NsgRule& r : s.nsg_rules) {
        if (r.priority < 100 || r.priority > 4096) {
          return Invalid("NSG rule '" + r.name + "' priority outside 100..4096");
        }
      }
    }
    if (!n.dns_address.empty()) {
      COVE_ASSIGN_OR_RETURN(Ipv4 dns, Ipv4::Parse(n.dns_address));
      if (n.is_public) {
        bool inside = false;
        for (const Cidr& sp : spaces) inside = inside || sp.Contains(dns);
        if (!inside) return Invalid("public DNS address outside the public address spaces");
      }
      // A site's DNS server may sit on its LAN, as one of the subnet's local addresses.
      bool on_lan = false;
      for (const Subnet& s : n.subnets) {
        for (const std::string& a : s.local_addresses) on_lan = on_lan || a == n.dns_address;
      }
      if (!on_lan && !used[n.id].insert(dns.value).second) {
        return Invalid("DNS address " + n.dns_address + " used twice");
      }
    }
    for (const Route& r : n.routes) {
      COVE_ASSIGN_OR_RETURN(Cidr dst, Cidr::Parse(r.prefix));
      for (const Cidr& sp : spaces) {
        if (sp.Overlaps(dst)) {
          return Invalid("route " + r.prefix + " of '" + n.id + "' overlaps its address space");
        }
      }
      COVE_ASSIGN_OR_RETURN(Ipv4 hop, Ipv4::Parse(r.next_hop));
      bool on_subnet = false;
      for (const Cidr& c : subnets) {
        on_subnet = on_subnet || (c.Contains(hop) && hop != c.network && hop != c.Broadcast() &&
                                  hop != c.Gateway());
      }
      if (!on_subnet) {
        return Invalid("next hop " + r.next_hop + " of route " + r.prefix +
                       " is not a host address of a subnet of '" + n.id + "'");
      }
    }
    if (n.accepts_ipsec && n.outbound_address.empty()) {
      return Invalid("'" + n.id + "' accepts IPsec but has no outbound address");
    }
  }
  for (const Peering& p : topology.peerings) {
    const Network* a = topology.FindNetwork(p.network_a);
    const Network* b = topology.FindNetwork(p.network_b);
    if (!a || !b) return Invalid("peering names an unknown network");
    if (a == b) return Invalid("network '" + a->id + "' peered with itself");
    if (a->is_public || b->is_public) return Invalid("the public network cannot be peered");
    for (const Cidr& x : spaces_of[a->id]) {
      for (const Cidr& y : spaces_of[b->id]) {
        if (x.Overlaps(y)) {
          return Invalid("peered networks '" + a->id + "' and '" + b->id + "' overlap (" +
                         x.ToString() + ", " + y.ToString() + ")");
        }
      }
    }
  }
  std::set<std::pair<std::string, std::string>> pairs;
  for (const Peering& p : topology.peerings) {
    auto key = std::minmax(p.network_a, p.network_b);
    if (!pairs.insert({key.first, key.second}).second) return Invalid("peering given twice");
  }
  for (const Vm& v : topology.vms) {
    if (v.id.empty()) return Invalid("VM with an empty id");
    if (!vm_ids.insert(v.id).second) return Invalid("VM '" + v.id + "' given twice");
    auto it = subnet_of.find(v.subnet_id);
    if (it == subnet_of.end() || it->second.first->id != v.network_id) {
      return Invalid("VM '" + v.id + "' names an unknown network/subnet");
    }
    const Cidr& c = it->second.second;
    COVE_ASSIGN_OR_RETURN(Ipv4 ip, Ipv4::Parse(v.address));
    if (!c.Contains(ip) || ip == c.network || ip == c.Broadcast() || ip == c.Gateway()) {
      return Invalid("VM address " + v.address + " is not a host address of " + c.ToString());
    }
    for (const std::string& p : v.unreachable_via_subnet) COVE_RETURN_IF_ERROR(Cidr::Parse(p));
    if (!used[v.network_id].insert(ip.value).second) {
      return Invalid("VM address " + v.address + " used twice");
    }
  }
  std::set<std::string> wire_ids;
  for (const Wire& w : topology.wires) {
    if (w.id.empty()) return Invalid("wire with an empty id");
    if (!wire_ids.insert(w.id).second) return Invalid("wire '" + w.id + "' given twice");
    for (const WireEnd* e : {&w.a, &w.b}) {
      if (e->network_id.empty() == e->vm_id.empty()) {
        return Invalid("an end of wire '" + w.id + "' must name a network or a VM");
      }
      if (!e->network_id.empty() && !topology.FindNetwork(e->network_id)) {
        return Invalid("wire '" + w.id + "' names an unknown network");
      }
      if (!e->vm_id.empty() && !topology.FindVm(e->vm_id)) {
        return Invalid("wire '" + w.id + "' names an unknown VM");
      }
      if (e->length < 8 || e->length > 31) return Invalid("wire '" + w.id + "' bad prefix length");
      COVE_ASSIGN_OR_RETURN(Ipv4 ip, Ipv4::Parse(e->address));
      (void)ip;
    }
    if (w.a.network_id == w.b.network_id && w.a.vm_id == w.b.vm_id) {
      return Invalid("wire '" + w.id + "' connects a namespace to itself");
    }
    const Ipv4 a = *Ipv4::Parse(w.a.address), b = *Ipv4::Parse(w.b.address);
    const Cidr net{Ipv4{a.value & Cidr{a, w.a.length}.Mask()}, w.a.length};
    if (a == b || w.a.length != w.b.length || !net.Contains(b)) {
      return Invalid("the ends of wire '" + w.id + "' are not two addresses of one prefix");
    }
  }
  const Network* pub = nullptr;
  for (const Network& n : topology.networks) {
    if (n.is_public) pub = &n;
  }
  // Outbound addresses of networks and public legs of machines: host addresses of the public
  // network, each used once.
  auto check_public = [&](const std::string& address, const std::string& what) -> Status {
    if (!pub) return Invalid(what + " without a public network");
    COVE_ASSIGN_OR_RETURN(Ipv4 ip, Ipv4::Parse(address));
    bool inside = false;
    for (const Cidr& sp : spaces_of[pub->id]) inside = inside || sp.Contains(ip);
    if (!inside) return Invalid(what + " outside the public address spaces");
    for (const Subnet& s : pub->subnets) {
      Cidr c = *Cidr::Parse(s.prefix);
      if (ip == c.network || ip == c.Broadcast()) return Invalid(what + " is not a host address");
    }
    if (!used[pub->id].insert(ip.value).second) return Invalid(what + " used twice");
    return Ok();
  };
  for (const Network& n : topology.networks) {
    if (n.outbound_address.empty()) continue;
    if (n.is_public) return Invalid("the public network has no outbound address");
    COVE_RETURN_IF_ERROR(
        check_public(n.outbound_address, "outbound address " + n.outbound_address + " of '" + n.id + "'"));
  }
  for (const Vm& v : topology.vms) {
    if (v.public_address.empty()) continue;
    COVE_RETURN_IF_ERROR(
        check_public(v.public_address, "public address " + v.public_address + " of '" + v.id + "'"));
  }
  return Ok();
}

}  // namespace cove::fabric
