#include "fabric/nsg.h"


#include <algorithm>
#include <charconv>
#include <memory>

#include "common/ascii.h"
#include "fabric/fabric.h"
#include "fabric/guard.h"

namespace cove::fabric {
namespace {

tl::unexpected<Error> Invalid(const NsgRule& rule, const std::string& what) {
  return Fail(Code::kInvalidArgument, "NSG rule '" + rule.name + "': " + what);
}

bool IsAny(const std::string& s) { return s == "*" || s == "Any" || s == "any"; }

// "{ a, b }" or "a" for a set of nft literals.
std::string SetOf(const std::vector<std::string>& items) {
  if (items.size() == 1) return items[0];
  std::string out = "{ ";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + " }";
}

// The address match for `prefixes` on `field` ("saddr"/"daddr"), "" for any.
Result<std::string> AddressMatch(const NsgRule& rule, const std::vector<std::string>& prefixes,
                                 const std::string& field, const std::vector<std::string>& vnet) {
  std::vector<std::string> items;
  bool internet = false;
  for (const std::string& p : prefixes) {
    if (IsAny(p)) return std::string();
    if (p == "VirtualNetwork") {
      items.insert(items.end(), vnet.begin(), vnet.end());
    } else if (p == "AzureLoadBalancer") {
      items.push_back(std::string(kAzureDnsAddress));
    } else if (p == "Internet") {
      internet = true;
    } else if (p.find('/') != std::string::npos) {
      auto c = Cidr::Parse(p);
      if (!c) return Invalid(rule, c.error().message);
      items.push_back(c->ToString());
    } else {
      auto ip = Ipv4::Parse(p);
      if (!ip) return Invalid(rule, "bad prefix '" + p + "'");
      items.push_back(ip->ToString());
    }
  }
  if (internet) {
    if (!items.empty()) return Invalid(rule, "Internet mixed with other prefixes");
    return "ip " + field + " != " + SetOf(vnet) + " ";
  }
  if (items.empty()) return Invalid(rule, "no prefixes");
  return "ip " + field + " " + SetOf(items) + " ";
}

Result<std::string> PortMatch(const NsgRule& rule, const std::vector<std::string>& ports,
                              const std::string& field) {
  std::vector<std::string> items;
  for (const std::string& p : ports) {
    if (IsAny(p)) return std::string();
    auto number = [&](std::string_view s) -> std::optional<int> {
      int v = -1;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > 65535) return {};
      return v;
    };
    auto dash = p.find('-');
    if (dash == std::string::npos) {
      auto v = number(p);
      if (!v) return Invalid(rule, "bad port '" + p + "'");
      items.push_back(std::to_string(*v));
    } else {
      auto lo = number(std::string_view(p).substr(0, dash));
      auto hi = number(std::string_view(p).substr(dash + 1));
      if (!lo || !hi || *lo > *hi) return Invalid(rule, "bad port range '" + p + "'");
      items.push_back(std::to_string(*lo) + "-" + std::to_string(*hi));
    }
  }
  if (items.empty()) return Invalid(rule, "no ports");
  return "th " + field + " " + SetOf(items) + " ";
}

Result<std::string> RenderRule(const NsgRule& rule, const std::vector<std::string>& vnet) {
  std::string out = "    ";
  std::string proto = AsciiLower(rule.protocol);
  COVE_ASSIGN_OR_RETURN(std::string sports, PortMatch(rule, rule.source_ports, "sport"));
  COVE_ASSIGN_OR_RETURN(std::string dports, PortMatch(rule, rule.destination_ports, "dport"));
  const bool ports = !sports.empty() || !dports.empty();
  if (proto == "tcp" || proto == "udp") {
    out += "meta l4proto " + proto + " ";
  } else if (proto == "icmp") {
    if (ports) return Invalid(rule, "ports with ICMP");
    out += "meta l4proto icmp ";
  } else if (proto == "*" || proto == "any") {
    if (ports) out += "meta l4proto { tcp, udp } ";
  } else {
    return Invalid(rule, "unknown protocol '" + rule.protocol + "'");
  }
  COVE_ASSIGN_OR_RETURN(std::string src, AddressMatch(rule, rule.source_prefixes, "saddr", vnet));
  COVE_ASSIGN_OR_RETURN(std::string dst,
                        AddressMatch(rule, rule.destination_prefixes, "daddr", vnet));
  out += src + dst + sports + dports;
  out += rule.access == NsgRule::Access::kAllow ? "accept" : "drop";
  // The rule's name as a comment, for `nft list` readers (checked: letters, digits, ._-).
  if (!rule.name.empty() && rule.name.size() <= 80 &&
      std::all_of(rule.name.begin(), rule.name.end(),
                  [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                      c == '_' || c == '-'; })) {
    out += " comment \"" + rule.name + "\"";
  }
  return out + "\n";
}

std::vector<NsgRule> DefaultRules() {
  auto rule = [](std::string name, int priority, NsgRule::Direction d, NsgRule::Access a,
                 std::string src, std::string dst) {
    NsgRule r;
    r.name = std::move(name);
    r.priority = priority;
    r.direction = d;
    r.access = a;
    r.source_prefixes = {std::move(src)};
    r.destination_prefixes = {std::move(dst)};
    return r;
  };
  using D = NsgRule::Direction;
  using A = NsgRule::Access;
  return {
      rule("AllowVnetInBound", 65000, D::kInbound, A::kAllow, "VirtualNetwork", "VirtualNetwork"),
      rule("AllowAzureLoadBalancerInBound", 65001, D::kInbound, A::kAllow, "AzureLoadBalancer",
           "*"),
      rule("DenyAllInBound", 65500, D::kInbound, A::kDeny, "*", "*"),
      rule("AllowVnetOutBound", 65000, D::kOutbound, A::kAllow, "VirtualNetwork",
           "VirtualNetwork"),
      rule("AllowInternetOutBound", 65001, D::kOutbound, A::kAllow, "*", "Internet"),
      rule("DenyAllOutBound", 65500, D::kOutbound, A::kDeny, "*", "*"),
  };
}

}  // namespace

Result<std::string> RenderNsg(const Topology& topology, const Network& network) {
  // VirtualNetwork: this network's address spaces, those of its peers and the on-premises
  // prefixes it routes through a gateway (Azure's tag includes "the on-premises address space
  // connected via a virtual network gateway").
  std::vector<std::string> vnet;
  auto add_spaces = [&](const Network& n) {
    for (const std::string& s : n.address_spaces) vnet.push_back(s);
  };
  add_spaces(network);
  for (const Route& r : network.routes) vnet.push_back(r.prefix);
  for (const Peering& p : topology.peerings) {
    if (p.network_a == network.id) add_spaces(*topology.FindNetwork(p.network_b));
    if (p.network_b == network.id) add_spaces(*topology.FindNetwork(p.network_a));
  }
  if (vnet.empty()) vnet.push_back("0.0.0.0/32");

  std::string script = "add table inet cove_nsg\ndelete table inet cove_nsg\n";
  std::string chains, input, forward;
  for (const Subnet& s : network.subnets) {
    if (!s.nsg_enabled) continue;
    const std::string prefix = Cidr::Parse(s.prefix)->ToString();
    const std::string base = "s" + ShortId(s.id);
    std::vector<NsgRule> rules = s.nsg_rules;
    std::stable_sort(rules.begin(), rules.end(),
                     [](const NsgRule& a, const NsgRule& b) { return a.priority < b.priority; });
    for (const NsgRule& r : DefaultRules()) rules.push_back(r);
    for (auto dir : {NsgRule::Direction::kInbound, NsgRule::Direction::kOutbound}) {
      const bool in = dir == NsgRule::Direction::kInbound;
      chains += "  chain " + base + (in ? "_in" : "_out") + " {\n";
      for (const NsgRule& r : rules) {
        if (r.direction != dir) continue;
        COVE_ASSIGN_OR_RETURN(std::string line, RenderRule(r, vnet));
        chains += line;
      }
      chains += "  }\n";
    }
    input += "    ip daddr " + prefix + " jump " + base + "_in\n";
    forward += "    ip daddr " + prefix + " jump " + base + "_in\n";
    forward += "    ip saddr " + prefix + " jump " + base + "_out\n";
  }
  if (chains.empty()) return script;  // no NSG: the table is only removed
  script += "table inet cove_nsg {\n" + chains;
  script += "  chain input {\n    type filter hook input priority 0; policy accept;\n";
  script += "    ct state established,related accept\n" + input + "  }\n";
  script += "  chain forward {\n    type filter hook forward priority 0; policy accept;\n";
  script += "    ct state established,related accept\n" + forward + "  }\n";
  script += "}\n";
  return script;
}

std::string RenderNat(const Network& network) {
  std::string script = "add table ip cove_nat\ndelete table ip cove_nat\n";
  if (network.outbound_address.empty()) return script;
  const std::string address = Ipv4::Parse(network.outbound_address)->ToString();  // validated
  script += "table ip cove_nat {\n  chain postrouting {\n";
  script += "    type nat hook postrouting priority srcnat; policy accept;\n";
  script += std::string("    oifname \"") + kUplinkName + "\" snat to " + address + "\n";
  script += "  }\n";
  // Like Azure's outbound IP, the address takes no connections from the internet; a site's
  // router takes IKE and NAT-T (its VPN device listens there).
  for (const char* hook : {"input", "forward"}) {
    script += std::string("  chain ") + hook + " {\n    type filter hook " + hook +
              " priority 0; policy accept;\n";
    if (network.accepts_ipsec && std::string_view(hook) == "input") {
      script += std::string("    iifname \"") + kUplinkName + "\" udp dport { 500, 4500 } accept\n";
    }
    script += std::string("    iifname \"") + kUplinkName +
              "\" ct state != { established, related } reject\n  }\n";
  }
  script += "}\n";
  return script;
}

Status ApplyNetfilter(Namespaces& namespaces, const std::string& ns, const Topology& topology,
                      const Network& network) {
  COVE_ASSIGN_OR_RETURN(std::string script, RenderNsg(topology, network));
  script += RenderNat(network);
  script += RenderPortGuard(topology, network);
  return namespaces.RunNft(ns, script);
}

}  // namespace cove::fabric
