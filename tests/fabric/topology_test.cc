// Topology values: address parsing and Validate's rules (no kernel state involved).
#include "fabric/topology.h"

#include <gtest/gtest.h>

#include "fabric/guard.h"
#include "fabric/nsg.h"

namespace cove::fabric {
namespace {

Topology Basic() {
  Topology t;
  Network vnet;
  vnet.id = "vnet1";
  vnet.address_spaces = {"10.0.0.0/16"};
  vnet.subnets = {Subnet{.id = "vnet1/s1", .prefix = "10.0.0.0/24", .local_addresses = {"10.0.0.5"}}};
  t.networks.push_back(vnet);
  Network pub;
  pub.id = "internet";
  pub.is_public = true;
  pub.address_spaces = {"203.0.113.0/24"};
  pub.dns_address = "203.0.113.53";
  pub.subnets = {Subnet{.id = "internet/s", .prefix = "203.0.113.0/24"}};
  t.networks.push_back(pub);
  t.vms.push_back(Vm{.id = "vm1", .network_id = "vnet1", .subnet_id = "vnet1/s1", .address = "10.0.0.4"});
  return t;
}

TEST(AddressTest, ParseAndPrint) {
  auto c = Cidr::Parse("10.1.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ToString(), "10.1.0.0/16");
  EXPECT_EQ(c->Gateway().ToString(), "10.1.0.1");
  EXPECT_EQ(c->Broadcast().ToString(), "10.1.255.255");
  EXPECT_TRUE(c->Contains(*Ipv4::Parse("10.1.2.3")));
  EXPECT_FALSE(c->Contains(*Ipv4::Parse("10.2.0.1")));
  EXPECT_TRUE(c->Overlaps(*Cidr::Parse("10.0.0.0/8")));
  EXPECT_FALSE(c->Overlaps(*Cidr::Parse("10.2.0.0/16")));
  EXPECT_FALSE(Cidr::Parse("10.0.0.1/24"));  // host bits
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0"));
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/2x"));
  EXPECT_FALSE(Ipv4::Parse("10.0.0.256"));
  EXPECT_TRUE(IsTestNet(*Cidr::Parse("198.51.100.0/25")));
  EXPECT_FALSE(IsTestNet(*Cidr::Parse("198.51.0.0/16")));
}

TEST(ValidateTest, AcceptsBasic) {
  auto s = Validate(Basic());
  EXPECT_TRUE(s) << s.error().ToString();
}

TEST(ValidateTest, RejectsWhatWouldBreakTheFabric) {
  auto fails = [](Topology t, const std::string& why) {
    auto s = Validate(t);
    EXPECT_FALSE(s) << why;
    if (!s) {
      EXPECT_EQ(s.error().code, Code::kInvalidArgument) << why;
    }
  };
  Topology t = Basic();
  t.networks[0].subnets[0].prefix = "10.1.0.0/24";
  fails(t, "subnet outside the address space");
  t = Basic();
  t.networks[0].subnets.push_back(Subnet{.id = "x", .prefix = "10.0.0.128/25"});
  fails(t, "overlapping subnets");
  t = Basic();
  t.vms[0].address = "10.0.0.1";
  fails(t, "VM on the gateway");
  t = Basic();
  t.vms[0].address = "10.0.0.5";
  fails(t, "VM on a private endpoint address");
  t = Basic();
  t.vms[0].address = "10.0.1.4";
  fails(t, "VM outside its subnet");
  t = Basic();
  t.vms[0].subnet_id = "internet/s";
  fails(t, "subnet of another network");
  t = Basic();
  t.networks[1].address_spaces = {"10.9.0.0/16"};
  fails(t, "public network outside TEST-NET");
  t = Basic();
  t.networks[0].address_spaces = {"192.0.2.0/24"};
  fails(t, "VNet in TEST-NET");
  t = Basic();
  t.peerings.push_back({"vnet1", "internet"});
  fails(t, "public network peered");
  t = Basic();
  t.networks.push_back(t.networks[0]);
  t.networks.back().id = "vnet2";
  t.networks.back().subnets[0].id = "vnet2/s1";
  ASSERT_TRUE(Validate(t)) << "overlapping VNets coexist unpeered";
  t.peerings.push_back({"vnet1", "vnet2"});
  fails(t, "overlapping VNets peered");
  t = Basic();
  t.vms.push_back(t.vms[0]);
  fails(t, "VM twice");
  t = Basic();
  t.networks[0].outbound_address = "203.0.113.100";
  ASSERT_TRUE(Validate(t));
  t.networks[0].outbound_address = "198.51.100.7";
  fails(t, "outbound address outside the public network");
  t.networks[0].outbound_address = "203.0.113.53";
  fails(t, "outbound address on the public DNS address");
  t.networks[0].outbound_address = "203.0.113.100";
  t.networks.erase(t.networks.begin() + 1);
  fails(t, "outbound address without a public network");
}

TEST(NsgRenderTest, VirtualNetworkTagIncludesOnPremisesPrefixesRoutedThroughAGateway) {
  Topology t = Basic();
  Subnet& s = t.networks[0].subnets[0];
  s.nsg_enabled = true;
  s.nsg_rules = {NsgRule{.name = "from-vnet", .priority = 100, .protocol = "Tcp",
                         .source_prefixes = {"VirtualNetwork"}, .destination_ports = {"443"}}};
  auto before = RenderNsg(t, t.networks[0]);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->find("192.168.0.0/16"), std::string::npos) << *before;
  t.networks[0].routes = {{"192.168.0.0/16", "10.0.0.4"}};
  auto after = RenderNsg(t, t.networks[0]);
  ASSERT_TRUE(after);
  EXPECT_NE(after->find("192.168.0.0/16"), std::string::npos) << *after;
}

TEST(NsgRenderTest, RulesInPriorityOrderWithDefaultsAndCheckedTokens) {
  Topology t = Basic();
  Subnet& s = t.networks[0].subnets[0];
  s.nsg_enabled = true;
  s.nsg_rules = {
      NsgRule{.name = "deny-443", .priority = 200, .access = NsgRule::Access::kDeny,
              .protocol = "Tcp", .destination_ports = {"443"}},
      NsgRule{.name = "allow-vm", .priority = 100, .protocol = "Tcp",
              .source_prefixes = {"10.0.0.4"}, .destination_ports = {"443", "8000-8100"}},
  };
  auto script = RenderNsg(t, t.networks[0]);
  ASSERT_TRUE(script) << script.error().ToString();
  auto allow = script->find("ip saddr 10.0.0.4 th dport { 443, 8000-8100 } accept");
  auto deny = script->find("th dport 443 drop");
  auto deny_all = script->find("DenyAllInBound");
  ASSERT_NE(allow, std::string::npos) << *script;
  ASSERT_NE(deny, std::string::npos) << *script;
  EXPECT_LT(allow, deny);
  EXPECT_LT(deny, deny_all);
  s.nsg_rules[0].destination_ports = {"443; flush ruleset"};
  EXPECT_FALSE(RenderNsg(t, t.networks[0]));
  s.nsg_rules[0].destination_ports = {"443"};
  s.nsg_rules[0].source_prefixes = {"10.0.0.0/24 accept"};
  EXPECT_FALSE(RenderNsg(t, t.networks[0]));
}

TEST(GuardRenderTest, OneChainPerMachinePortWithItsMacAndAddress) {
  Topology t = Basic();
  t.vms.push_back(Vm{.id = "pub1", .network_id = "internet", .subnet_id = "internet/s",
                     .address = "203.0.113.20"});
  auto mac = VmMac("vm1");
  EXPECT_EQ(mac[0], 0x02) << "locally administered, unicast";
  EXPECT_EQ(MacText(mac), MacText(VmMac("vm1"))) << "stable";
  EXPECT_NE(MacText(mac), MacText(VmMac("vm2")));
  EXPECT_EQ(MacText(mac).size(), 17u);

  std::string vnet = RenderPortGuard(t, t.networks[0]);
  const std::string port = VmPortName("vm1");
  EXPECT_NE(vnet.find("iifname \"" + port + "\" jump " + port), std::string::npos) << vnet;
  EXPECT_NE(vnet.find("ether saddr != " + MacText(mac) + " counter drop"), std::string::npos);
  EXPECT_NE(vnet.find("ip saddr 10.0.0.4 accept"), std::string::npos);
  EXPECT_NE(vnet.find("arp saddr ether " + MacText(mac) + " arp saddr ip 10.0.0.4 accept"),
            std::string::npos);
  EXPECT_EQ(vnet.find("203.0.113.20"), std::string::npos) << "another network's machine";
  EXPECT_NE(RenderPortGuard(t, t.networks[1]).find("ip saddr 203.0.113.20 accept"),
            std::string::npos);
  // Without machines the table is only removed.
  t.vms.clear();
  EXPECT_EQ(RenderPortGuard(t, t.networks[0]),
            "add table bridge cove_guard\ndelete table bridge cove_guard\n");
  EXPECT_NE(RenderMachineGuard().find("iifname != \"lo\" ip daddr 169.254.169.254"),
            std::string::npos);
  Vm er;
  er.unreachable_via_subnet = {"192.168.0.0/16", "172.16.0.0/30"};
  EXPECT_NE(RenderMachineGuard(er).find("oifname \"eth0\" ip daddr { 192.168.0.0/16, "
                                        "172.16.0.0/30 } counter reject with icmp type "
                                        "net-unreachable"),
            std::string::npos);
}

}  // namespace
}  // namespace cove::fabric
