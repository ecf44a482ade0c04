#include "fabric/guard.h"

#include <charconv>
#include <cstdio>

#include "fabric/fabric.h"
#include "fabric/nsg.h"

namespace cove::fabric {

std::string VmPortName(std::string_view vm_id) { return "m" + ShortId(vm_id); }

std::array<uint8_t, 6> VmMac(std::string_view vm_id) {
  // ShortId is the 32-bit FNV-1a hash in hex; its bytes, in order, after 02:c0.
  const std::string hex = ShortId(vm_id);
  std::array<uint8_t, 6> mac = {0x02, 0xc0, 0, 0, 0, 0};
  for (size_t i = 0; i < 4; ++i) {
    std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, mac[2 + i], 16);
  }
  return mac;
}

std::string MacText(const std::array<uint8_t, 6>& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

std::string RenderPortGuard(const Topology& topology, const Network& network) {
  std::string script = "add table bridge cove_guard\ndelete table bridge cove_guard\n";
  std::string dispatch, chains;
  for (const Vm& vm : topology.vms) {
    if (vm.network_id != network.id) continue;
    auto address = Ipv4::Parse(vm.address);
    if (!address) continue;  // Validate refuses such a topology before anything is applied
    const std::string port = VmPortName(vm.id);
    const std::string ip = address->ToString();
    const std::string mac = MacText(VmMac(vm.id));
    dispatch += "    iifname \"" + port + "\" jump " + port + "\n";
    chains += "  chain " + port + " {\n";
    chains += "    ether saddr != " + mac + " counter drop\n";
    chains += vm.ip_forwarding ? "    ether type ip accept\n" : "    ip saddr " + ip + " accept\n";
    chains += "    arp saddr ether " + mac + " arp saddr ip " + ip + " accept\n";
    chains += "    counter drop\n";
    chains += "  }\n";
  }
  if (chains.empty()) return script;  // no machines: the table is only removed
  script += "table bridge cove_guard {\n" + chains;
  script += "  chain prerouting {\n";
  script += "    type filter hook prerouting priority -200; policy accept;\n";
  script += dispatch + "  }\n}\n";
  return script;
}

std::string RenderMachineGuard(const Vm& vm) {
  std::string script = std::string("add table inet cove_guard\ndelete table inet cove_guard\n") +
                       "table inet cove_guard {\n  chain input {\n"
                       "    type filter hook input priority -200; policy accept;\n"
                       "    iifname != \"lo\" ip daddr " +
                       std::string(kInstanceMetadataAddress) + " counter drop\n";
  const std::string leg = std::string("iifname \"") + kUplinkName + "\" ";
  if (!vm.public_address.empty()) {
    script += "    " + leg + "ct state established,related accept\n";
    script += "    " + leg + "udp dport { 500, 4500 } accept\n";
    script += "    " + leg + "counter drop\n";
  }
  script += "  }\n";
  if (!vm.public_address.empty() || !vm.unreachable_via_subnet.empty()) {
    script += "  chain forward {\n    type filter hook forward priority -200; policy accept;\n";
    if (!vm.public_address.empty()) script += "    " + leg + "counter drop\n";
    if (!vm.unreachable_via_subnet.empty()) {
      std::string set;
      for (const std::string& p : vm.unreachable_via_subnet) set += (set.empty() ? "" : ", ") + p;
      script += "    oifname \"eth0\" ip daddr { " + set +
                " } counter reject with icmp type net-unreachable\n";
    }
    script += "  }\n";
  }
  return script + "}\n";
}

Status ApplyMachineGuard(Namespaces& namespaces, const std::string& ns, const Vm& vm) {
  return namespaces.RunNft(ns, RenderMachineGuard(vm));
}

}  // namespace cove::fabric
