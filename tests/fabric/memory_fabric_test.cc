// The fabric's convergence over MemoryNamespaces: no root, no kernel. Create a topology, check
// what Fabric made (namespaces, bridges, veths, addresses, routes, sysctls, nft scripts, VM
// files), converge again without a change, converge to a smaller topology and back, repair
// drift, and take everything down.
#include <gtest/gtest.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include "fabric/fabric.h"
#include "fabric/guard.h"
#include "fabric/memory_namespaces.h"
#include "fabric/netlink.h"
#include "fabric/nsg.h"
#include "support/temp_dir.h"

namespace cove::fabric {
namespace {

namespace fs = std::filesystem;

Subnet MakeSubnet(std::string id, std::string prefix, std::vector<std::string> locals = {}) {
  Subnet s;
  s.id = std::move(id);
  s.prefix = std::move(prefix);
  s.local_addresses = std::move(locals);
  return s;
}

Network MakeNetwork(std::string id, std::string space, std::vector<Subnet> subnets) {
  Network n;
  n.id = std::move(id);
  n.address_spaces = {std::move(space)};
  n.subnets = std::move(subnets);
  return n;
}

Vm MakeVm(std::string id, std::string network, std::string subnet, std::string address) {
  Vm v;
  v.id = std::move(id);
  v.network_id = std::move(network);
  v.subnet_id = std::move(subnet);
  v.address = std::move(address);
  return v;
}

// myVNet (private endpoint 10.0.0.5, 10.0.0.6; vm1, vm2; outbound 203.0.113.100) peered with
// peerVNet (vm3), and the public network (a registry endpoint 203.0.113.10 and pubvm).
Topology Full() {
  Topology t;
  t.networks.push_back(
      MakeNetwork("myVNet", "10.0.0.0/16",
                  {MakeSubnet("myVNet/mySubnet", "10.0.0.0/24", {"10.0.0.5", "10.0.0.6"}),
                   MakeSubnet("myVNet/other", "10.0.1.0/24")}));
  t.networks.back().outbound_address = "203.0.113.100";
  t.networks.push_back(
      MakeNetwork("peerVNet", "10.1.0.0/16", {MakeSubnet("peerVNet/default", "10.1.0.0/24")}));
  Network pub = MakeNetwork("internet", "203.0.113.0/24",
                            {MakeSubnet("internet/default", "203.0.113.0/24", {"203.0.113.10"})});
  pub.is_public = true;
  pub.dns_address = "203.0.113.53";
  t.networks.push_back(pub);
  t.peerings.push_back({"myVNet", "peerVNet"});
  t.vms.push_back(MakeVm("vm1", "myVNet", "myVNet/mySubnet", "10.0.0.4"));
  t.vms.push_back(MakeVm("vm2", "myVNet", "myVNet/other", "10.0.1.4"));
  t.vms.push_back(MakeVm("vm3", "peerVNet", "peerVNet/default", "10.1.0.4"));
  t.vms.push_back(MakeVm("pubvm", "internet", "internet/default", "203.0.113.20"));
  t.vms[0].ca_pem = "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n";
  t.vms[0].registry_hosts = {"myregistry.azurecr.io"};
  return t;
}

// Without peerVNet (so without the peering and vm3) and without vm2.
Topology Smaller() {
  Topology t = Full();
  t.networks.erase(t.networks.begin() + 1);
  t.peerings.clear();
  t.vms = {t.vms[0], t.vms[3]};
  return t;
}

IfAddress Addr(const std::string& ip, int length, int scope = RT_SCOPE_UNIVERSE) {
  return IfAddress{*Ipv4::Parse(ip), length, scope};
}
Cidr Prefix(const std::string& text) { return *Cidr::Parse(text); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class MemoryFabricTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.Join("ca-bundle.crt")) << "SYSTEM CA\n";
    options_.prefix = "mem";
    options_.etc_netns = dir_.Join("netns");
    options_.system_ca_bundle = dir_.Join("ca-bundle.crt");
    fabric_ = std::make_unique<Fabric>(namespaces_, options_);
  }
  void ApplyOk(const Topology& t) {
    auto s = fabric_->Apply(t);
    ASSERT_TRUE(s) << s.error().ToString();
  }
  std::string Net(const std::string& id) { return fabric_->NetworkNamespace(id); }
  std::string VmNs(const std::string& id) { return fabric_->VmNamespace(id); }
  std::string Bridge(const std::string& subnet_id) { return "b" + ShortId(subnet_id); }
  int Index(const std::string& ns, const std::string& link) {
    auto l = namespaces_.Link(ns, link);
    return l ? l->index : -1;
  }
  bool HasRoute(const std::string& ns, const std::string& dst, const std::string& link,
                std::optional<std::string> gateway = std::nullopt) {
    for (const RouteInfo& r : namespaces_.Routes(ns)) {
      if (r.dst == Prefix(dst) && r.oif == Index(ns, link) &&
          r.gateway == (gateway ? Ipv4::Parse(*gateway).value() : std::optional<Ipv4>())) {
        return true;
      }
    }
    return false;
  }

  cove::testing::TempDir dir_;
  MemoryNamespaces namespaces_;
  FabricOptions options_;
  std::unique_ptr<Fabric> fabric_;
};

TEST_F(MemoryFabricTest, CreatesEveryNamespaceLinkAddressAndRoute) {
  ApplyOk(Full());
  auto existing = fabric_->Existing();
  ASSERT_TRUE(existing);
  std::vector<std::string> want = {Net("myVNet"), Net("peerVNet"), Net("internet"), VmNs("vm1"),
                                   VmNs("vm2"),   VmNs("vm3"),     VmNs("pubvm")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*existing, want);

  const std::string net = Net("myVNet");
  EXPECT_EQ(namespaces_.Sysctl(net, "net/ipv4/ip_forward"), "1");
  // The subnet's bridge: up, the gateway and the private endpoint's member addresses.
  auto bridge = namespaces_.Link(net, Bridge("myVNet/mySubnet"));
  ASSERT_TRUE(bridge);
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_TRUE(bridge->up);
  EXPECT_EQ(
      namespaces_.Addresses(net, Bridge("myVNet/mySubnet")),
      (std::set<IfAddress>{Addr("10.0.0.1", 24), Addr("10.0.0.5", 32), Addr("10.0.0.6", 32)}));
  // The DNS address on lo, host-scoped.
  EXPECT_TRUE(namespaces_.Addresses(net, "lo").count(Addr("168.63.129.16", 32, RT_SCOPE_HOST)));

  // vm1: eth0 with its address, MAC and default route; its port on the subnet's bridge.
  const std::string vm1 = VmNs("vm1");
  auto eth0 = namespaces_.Link(vm1, "eth0");
  ASSERT_TRUE(eth0);
  EXPECT_TRUE(eth0->up);
  EXPECT_EQ(eth0->kind, "veth");
  EXPECT_EQ(namespaces_.Mac(vm1, "eth0"), VmMac("vm1"));
  EXPECT_EQ(namespaces_.Addresses(vm1, "eth0"), std::set<IfAddress>{Addr("10.0.0.4", 24)});
  EXPECT_TRUE(HasRoute(vm1, "0.0.0.0/0", "eth0", "10.0.0.1"));
  EXPECT_TRUE(namespaces_.Addresses(vm1, "lo").count(Addr("169.254.169.254", 32, RT_SCOPE_HOST)));
  auto port = namespaces_.Link(net, VmPortName("vm1"));
  ASSERT_TRUE(port);
  EXPECT_EQ(port->master, bridge->index);
  EXPECT_TRUE(port->up);
  EXPECT_EQ(namespaces_.Peer(net, VmPortName("vm1")),
            (std::pair<std::string, std::string>{vm1, "eth0"}));
  // The machine's guard and the network's tables.
  ASSERT_FALSE(namespaces_.NftScripts(vm1).empty());
  EXPECT_EQ(namespaces_.NftScripts(vm1).back(), RenderMachineGuard());
  ASSERT_FALSE(namespaces_.NftScripts(net).empty());
  EXPECT_NE(namespaces_.NftScripts(net).back().find(RenderNat(Full().networks[0])),
            std::string::npos);

  // The peering: a veth between the two networks, proxy ARP, routes to the other side only.
  const std::string peer_link = "p" + ShortId("peerVNet");
  EXPECT_EQ(namespaces_.Peer(net, peer_link),
            (std::pair<std::string, std::string>{Net("peerVNet"), "p" + ShortId("myVNet")}));
  EXPECT_TRUE(HasRoute(net, "10.1.0.0/16", peer_link));
  EXPECT_TRUE(HasRoute(Net("peerVNet"), "10.0.0.0/16", "p" + ShortId("myVNet")));
  EXPECT_EQ(namespaces_.InetConf(net, peer_link, IPV4_DEVCONF_PROXY_ARP), 1u);
  EXPECT_EQ(namespaces_.Sysctl(net, "net/ipv4/neigh/" + peer_link + "/proxy_delay"), "0");

  // The uplink: the outbound address on inet0, routes to the public spaces; the public side
  // routes the outbound address back.
  EXPECT_EQ(namespaces_.Addresses(net, kUplinkName),
            std::set<IfAddress>{Addr("203.0.113.100", 32)});
  EXPECT_TRUE(HasRoute(net, "203.0.113.0/24", kUplinkName));
  EXPECT_TRUE(HasRoute(Net("internet"), "203.0.113.100/32", "u" + ShortId("myVNet")));
  // peerVNet has no outbound address: no uplink.
  EXPECT_FALSE(namespaces_.Link(Net("peerVNet"), kUplinkName));

  // The VM's files.
  const std::string etc = options_.etc_netns + "/" + vm1;
  EXPECT_NE(ReadFile(etc + "/resolv.conf").find("nameserver 168.63.129.16"), std::string::npos);
  EXPECT_EQ(ReadFile(etc + "/ssl/certs/ca-certificates.crt"), "SYSTEM CA\n" + Full().vms[0].ca_pem);
  EXPECT_EQ(ReadFile(etc + "/containers/certs.d/myregistry.azurecr.io/ca.crt"),
            Full().vms[0].ca_pem);
}

TEST_F(MemoryFabricTest, ConvergingAgainChangesNothing) {
  ApplyOk(Full());
  const uint64_t after_first = namespaces_.mutations();
  EXPECT_GT(after_first, 0u);
  ApplyOk(Full());
  EXPECT_EQ(namespaces_.mutations(), after_first);
  // A restarted daemon (a new Fabric, same prefix) adopts what is there.
  Fabric restarted(namespaces_, options_);
  auto s = restarted.Apply(Full());
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(namespaces_.mutations(), after_first);
}

TEST_F(MemoryFabricTest, ConvergesToASmallerTopologyAndBack) {
  ApplyOk(Full());
  ApplyOk(Smaller());
  const std::string net = Net("myVNet");
  EXPECT_FALSE(namespaces_.Exists(Net("peerVNet")));
  EXPECT_FALSE(namespaces_.Exists(VmNs("vm2")));
  EXPECT_FALSE(namespaces_.Exists(VmNs("vm3")));
  EXPECT_TRUE(namespaces_.Exists(VmNs("vm1")));
  EXPECT_FALSE(namespaces_.Link(net, "p" + ShortId("peerVNet")));
  EXPECT_FALSE(namespaces_.Link(net, VmPortName("vm2")));
  EXPECT_FALSE(HasRoute(net, "10.1.0.0/16", "p" + ShortId("peerVNet")));
  EXPECT_FALSE(fs::exists(options_.etc_netns + "/" + VmNs("vm2")));
  EXPECT_TRUE(fs::exists(options_.etc_netns + "/" + VmNs("vm1")));
  auto existing = fabric_->Existing();
  ASSERT_TRUE(existing);
  EXPECT_EQ(existing->size(), 4u);  // myVNet, internet, vm1, pubvm
  const uint64_t converged = namespaces_.mutations();
  ApplyOk(Smaller());
  EXPECT_EQ(namespaces_.mutations(), converged);

  ApplyOk(Full());
  EXPECT_TRUE(namespaces_.Exists(VmNs("vm3")));
  EXPECT_TRUE(HasRoute(net, "10.1.0.0/16", "p" + ShortId("peerVNet")));
  EXPECT_EQ(namespaces_.Addresses(VmNs("vm2"), "eth0"), std::set<IfAddress>{Addr("10.0.1.4", 24)});
  const uint64_t back = namespaces_.mutations();
  ApplyOk(Full());
  EXPECT_EQ(namespaces_.mutations(), back);
}

TEST_F(MemoryFabricTest, RepairsDrift) {
  ApplyOk(Full());
  const std::string net = Net("myVNet"), vm1 = VmNs("vm1");
  {
    auto nl = namespaces_.OpenNetlink(net);
    ASSERT_TRUE(nl);
    const int bridge = Index(net, Bridge("myVNet/mySubnet"));
    ASSERT_TRUE((*nl)->DeleteAddress(bridge, Addr("10.0.0.5", 32)));
    ASSERT_TRUE((*nl)->AddAddress(bridge, Addr("10.0.0.99", 32)));  // a stray one
    ASSERT_TRUE((*nl)->AddBridge("bstray"));
    ASSERT_TRUE((*nl)->DeleteLink("p" + ShortId("peerVNet")));  // takes the far end along
  }
  {
    auto nl = namespaces_.OpenNetlink(vm1);
    ASSERT_TRUE(nl);
    auto routes = (*nl)->Routes();
    ASSERT_TRUE(routes);
    for (const RouteInfo& r : *routes) {
      if (r.dst.length == 0) {
        ASSERT_TRUE((*nl)->DeleteRoute(r));
      }
    }
    ASSERT_TRUE((*nl)->SetMac("eth0", {2, 0, 0, 0, 0, 1}));
  }
  ASSERT_TRUE(namespaces_.WriteSysctl(net, "net/ipv4/ip_forward", "0"));
  EXPECT_FALSE(HasRoute(vm1, "0.0.0.0/0", "eth0", "10.0.0.1"));

  ApplyOk(Full());
  EXPECT_EQ(
      namespaces_.Addresses(net, Bridge("myVNet/mySubnet")),
      (std::set<IfAddress>{Addr("10.0.0.1", 24), Addr("10.0.0.5", 32), Addr("10.0.0.6", 32)}));
  EXPECT_FALSE(namespaces_.Link(net, "bstray"));
  EXPECT_TRUE(HasRoute(net, "10.1.0.0/16", "p" + ShortId("peerVNet")));
  EXPECT_TRUE(HasRoute(Net("peerVNet"), "10.0.0.0/16", "p" + ShortId("myVNet")));
  EXPECT_TRUE(HasRoute(vm1, "0.0.0.0/0", "eth0", "10.0.0.1"));
  EXPECT_EQ(namespaces_.Mac(vm1, "eth0"), VmMac("vm1"));
  EXPECT_EQ(namespaces_.Sysctl(net, "net/ipv4/ip_forward"), "1");
  const uint64_t repaired = namespaces_.mutations();
  ApplyOk(Full());
  EXPECT_EQ(namespaces_.mutations(), repaired);
}

TEST_F(MemoryFabricTest, AnInvalidTopologyChangesNothing) {
  ApplyOk(Full());
  const uint64_t before = namespaces_.mutations();
  Topology bad = Full();
  bad.vms[0].address = "10.9.9.9";  // outside its subnet
  auto s = fabric_->Apply(bad);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::kInvalidArgument);
  EXPECT_EQ(namespaces_.mutations(), before);
}

TEST_F(MemoryFabricTest, DownRemovesEverythingAndLeavesOthersAlone) {
  ASSERT_TRUE(namespaces_.Create("other"));  // not ours: another prefix
  ApplyOk(Full());
  ASSERT_TRUE(fabric_->Down());
  auto left = namespaces_.List();
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, std::vector<std::string>{"other"});
  std::error_code ec;
  EXPECT_TRUE(fs::is_empty(options_.etc_netns, ec) || !fs::exists(options_.etc_netns));
  EXPECT_TRUE(fabric_->Down());  // idempotent
}

TEST(MemoryNamespacesTest, VethEndsVanishTogetherAndWithTheirNamespace) {
  MemoryNamespaces ns;
  ASSERT_TRUE(ns.Create("a"));
  ASSERT_TRUE(ns.Create("b"));
  EXPECT_EQ(ns.Create("a").error().code, Code::kAlreadyExists);
  auto a = ns.OpenNetlink("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE((*a)->AddVeth("x", "y", "b"));
  EXPECT_EQ((*a)->AddVeth("x", "z", "b").error().code, Code::kAlreadyExists);
  EXPECT_EQ(ns.Peer("b", "y"), (std::pair<std::string, std::string>{"a", "x"}));
  ASSERT_TRUE((*a)->DeleteLink("x"));
  EXPECT_FALSE(ns.Link("b", "y"));
  ASSERT_TRUE((*a)->AddVeth("x", "y", "b"));
  ASSERT_TRUE(ns.Delete("b"));
  EXPECT_FALSE(ns.Link("a", "x"));
  EXPECT_EQ(ns.OpenNetlink("b").error().code, Code::kNotFound);
  EXPECT_EQ((*a)->AddVeth("x", "y", "b").error().code, Code::kNotFound);
  EXPECT_EQ(ns.Delete("b").error().code, Code::kNotFound);
  // Nothing here enters the kernel.
  EXPECT_EQ(ns.Spawn("a", {"true"}, {}).error().code, Code::kUnimplemented);
  EXPECT_EQ(ns.Open("a").error().code, Code::kUnimplemented);
}

TEST(MemoryNamespacesTest, ConnectedRoutesFollowTheirAddresses) {
  MemoryNamespaces ns;
  ASSERT_TRUE(ns.Create("a"));
  auto nl = ns.OpenNetlink("a");
  ASSERT_TRUE(nl);
  ASSERT_TRUE((*nl)->AddBridge("br"));
  auto br = (*nl)->Link("br");
  ASSERT_TRUE(br && *br);
  ASSERT_TRUE((*nl)->AddAddress((*br)->index, Addr("10.0.0.1", 24)));
  EXPECT_EQ((*nl)->AddAddress((*br)->index, Addr("10.0.0.1", 24)).error().code,
            Code::kAlreadyExists);
  auto routes = (*nl)->Routes();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].dst, Prefix("10.0.0.0/24"));
  EXPECT_EQ((*routes)[0].protocol, RTPROT_KERNEL);
  ASSERT_TRUE((*nl)->DeleteAddress((*br)->index, Addr("10.0.0.1", 24)));
  EXPECT_TRUE((*nl)->Routes()->empty());
  EXPECT_EQ((*nl)->DeleteAddress((*br)->index, Addr("10.0.0.1", 24)).error().code, Code::kNotFound);
}

}  // namespace
}  // namespace cove::fabric

namespace cove::fabric {
namespace {

// A wire between a router-only network (no address spaces, subnets or DNS) and a machine:
// both ends get their address, converging again changes nothing, and removing the wire
// removes both ends.
TEST_F(MemoryFabricTest, WiresComeAndGo) {
  Topology t = Smaller();
  Network edge;
  edge.id = "msee";
  edge.dns_address.clear();
  t.networks.push_back(edge);
  t.wires.push_back(Wire{.id = "w1",
                         .a = {.network_id = "msee", .vm_id = "", .address = "169.254.21.1", .length = 30},
                         .b = {.network_id = "", .vm_id = "vm1", .address = "169.254.21.2", .length = 30}});
  ApplyOk(t);
  const std::string a = "w" + ShortId("w1"), b = "x" + ShortId("w1");
  EXPECT_EQ(namespaces_.Addresses(Net("msee"), a), std::set<IfAddress>{Addr("169.254.21.1", 30)});
  EXPECT_EQ(namespaces_.Addresses(VmNs("vm1"), b), std::set<IfAddress>{Addr("169.254.21.2", 30)});
  const uint64_t converged = namespaces_.mutations();
  ApplyOk(t);
  EXPECT_EQ(namespaces_.mutations(), converged);

  t.wires.clear();
  ApplyOk(t);
  EXPECT_FALSE(namespaces_.Link(Net("msee"), a));
  EXPECT_FALSE(namespaces_.Link(VmNs("vm1"), b));
  EXPECT_TRUE(namespaces_.Link(VmNs("vm1"), "eth0"));
}

TEST_F(MemoryFabricTest, BadWiresAreRefused) {
  Topology t = Smaller();
  Wire w{.id = "w1",
         .a = {.network_id = "myVNet", .vm_id = "", .address = "169.254.21.1", .length = 30},
         .b = {.network_id = "", .vm_id = "vm1", .address = "169.254.21.2", .length = 30}};
  for (auto broken : std::vector<std::function<void(Wire&)>>{
           [](Wire& x) { x.a.vm_id = "vm1"; },            // both ids
           [](Wire& x) { x.b.vm_id = "nobody"; },         // unknown VM
           [](Wire& x) { x.a.network_id = "nowhere"; },   // unknown network
           [](Wire& x) { x.b.address = "169.254.21.9"; },  // another prefix
           [](Wire& x) { x.b.address = "bad"; },
           [](Wire& x) { x.id.clear(); }}) {
    Topology bad = t;
    bad.wires = {w};
    broken(bad.wires[0]);
    EXPECT_FALSE(Validate(bad));
  }
  t.wires = {w};
  EXPECT_TRUE(Validate(t));
}

}  // namespace
}  // namespace cove::fabric
