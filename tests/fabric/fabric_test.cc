// The fabric on the real kernel (needs root): namespaces, bridges, veths, routes, peerings and
// NSGs checked with real TCP/UDP traffic between namespaces, plus idempotence, removal,
// adoption by a new Fabric, Down() and the VM exec/files. Every namespace and /etc/netns dir a
// test makes starts with a per-run prefix and is removed in TearDown, pass or fail.
#include "fabric/fabric.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "fabric/guard.h"
#include "fabric/netlink.h"
#include "http/message.h"
#include "http/server.h"
#include "http/tls.h"
#include "support/temp_dir.h"

namespace cove::fabric {
namespace {

namespace fs = std::filesystem;

std::string RunPrefix() {
  std::random_device rd;
  char buf[8];
  std::snprintf(buf, sizeof buf, "t%04x", rd() & 0xffff);
  return buf;
}

Network Vnet(std::string id, std::string space, std::vector<Subnet> subnets) {
  Network n;
  n.id = std::move(id);
  n.address_spaces = {std::move(space)};
  n.subnets = std::move(subnets);
  return n;
}

Subnet MakeSubnet(std::string id, std::string prefix, std::vector<std::string> locals = {}) {
  Subnet s;
  s.id = std::move(id);
  s.prefix = std::move(prefix);
  s.local_addresses = std::move(locals);
  return s;
}

Vm MakeVm(std::string id, std::string network, std::string subnet, std::string address) {
  Vm v;
  v.id = std::move(id);
  v.network_id = std::move(network);
  v.subnet_id = std::move(subnet);
  v.address = std::move(address);
  return v;
}

// The seed's first diagram: myVNet 10.0.0.0/16 with mySubnet (private endpoint 10.0.0.5,
// 10.0.0.6) and vm1 at 10.0.0.4, plus the public internet with the registry's public address.
Topology Seed() {
  Topology t;
  t.networks.push_back(Vnet("myVNet", "10.0.0.0/16",
                            {MakeSubnet("myVNet/mySubnet", "10.0.0.0/24", {"10.0.0.5", "10.0.0.6"}),
                             MakeSubnet("myVNet/other", "10.0.1.0/24")}));
  t.networks.back().outbound_address = "203.0.113.100";
  Network pub = Vnet("internet", "203.0.113.0/24",
                     {MakeSubnet("internet/default", "203.0.113.0/24", {"203.0.113.10"})});
  pub.is_public = true;
  pub.dns_address = "203.0.113.53";
  t.networks.push_back(pub);
  t.vms.push_back(MakeVm("vm1", "myVNet", "myVNet/mySubnet", "10.0.0.4"));
  t.vms.push_back(MakeVm("vm2", "myVNet", "myVNet/other", "10.0.1.4"));
  t.vms.push_back(MakeVm("pubvm", "internet", "internet/default", "203.0.113.20"));
  return t;
}

// Waits for a connection on a non-blocking listener; returns the accepted socket and the
// peer's address (bounded wait: a failure guard).
std::pair<UniqueFd, std::string> Accept(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 10'000) != 1) return {UniqueFd(), ""};
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  UniqueFd fd(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
  return {std::move(fd), text};
}

class FabricTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    options_.prefix = RunPrefix();
    fabric_ = std::make_unique<Fabric>(namespaces_, options_);
  }
  void TearDown() override {
    if (!fabric_) return;
    auto down = fabric_->Down();
    EXPECT_TRUE(down) << down.error().ToString();
    // Belt and braces: whatever still carries the prefix goes, even if Down is broken.
    auto left = namespaces_.List();
    for (const std::string& n : left.value_or(std::vector<std::string>{})) {
      if (n.starts_with(options_.prefix + "-")) {
        ADD_FAILURE() << "left behind: namespace " << n;
        (void)namespaces_.Delete(n);
      }
    }
    std::error_code ec;
    for (fs::directory_iterator it(options_.etc_netns, ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->path().filename().string().starts_with(options_.prefix + "-")) {
        ADD_FAILURE() << "left behind: " << it->path();
        fs::remove_all(it->path(), ec);
      }
    }
  }

  void ApplyOk(const Topology& t) {
    auto s = fabric_->Apply(t);
    ASSERT_TRUE(s) << s.error().ToString();
  }

  std::string Net(const std::string& id) { return fabric_->NetworkNamespace(id); }
  std::string VmNs(const std::string& id) { return fabric_->VmNamespace(id); }

  // Listens at address:0 in `ns`; returns the socket and port.
  std::pair<UniqueFd, uint16_t> Listen(const std::string& ns, const std::string& address) {
    auto fd = ListenTcp(namespaces_, ns, address, 0);
    EXPECT_TRUE(fd) << fd.error().ToString();
    if (!fd) return {UniqueFd(), 0};
    uint16_t port = *LocalPort(fd->get());
    return {std::move(*fd), port};
  }

  // Connects from `from_ns` to address:port, exchanges a few bytes with the accepted socket of
  // `listener` and returns the source address the listener saw ("" on failure).
  std::string RoundTrip(const std::string& from_ns, int listener, const std::string& address,
                        uint16_t port) {
    auto client = ConnectTcp(namespaces_, from_ns, address, port);
    if (!client) {
      ADD_FAILURE() << client.error().ToString();
      return "";
    }
    auto [server, peer] = Accept(listener);
    if (!server.valid()) {
      ADD_FAILURE() << "no connection arrived";
      return "";
    }
    EXPECT_EQ(::write(client->get(), "ping", 4), 4);
    char buf[8] = {};
    EXPECT_EQ(::read(server.get(), buf, sizeof buf), 4);
    EXPECT_EQ(std::string(buf, 4), "ping");
    return peer;
  }

  // Whether a TCP connection from `from_ns` to address:port fails (unreachable or refused).
  bool Unreachable(const std::string& from_ns, const std::string& address, uint16_t port) {
    auto client = ConnectTcp(namespaces_, from_ns, address, port, 3000);
    return !client.has_value();
  }

  // Links, addresses and routes of `ns`, as text (to compare states).
  std::string Snapshot(const std::string& ns) {
    auto nl = namespaces_.OpenNetlink(ns);
    if (!nl) return "error: " + nl.error().ToString();
    std::ostringstream out;
    auto links = (*nl)->Links();
    if (!links) return "error: " + links.error().ToString();
    for (const LinkInfo& l : *links) {
      out << l.name << "#" << l.index << " " << l.kind << " m" << l.master << (l.up ? " up" : "")
          << ":";
      auto addresses = (*nl)->Addresses(l.index);
      for (const IfAddress& a : addresses.value_or(std::vector<IfAddress>{})) {
        out << " " << a.ip.ToString() << "/" << a.length;
      }
      out << "\n";
    }
    auto routes = (*nl)->Routes();
    for (const RouteInfo& r : routes.value_or(std::vector<RouteInfo>{})) {
      out << "route " << r.dst.ToString() << " dev " << r.oif << " via "
          << (r.gateway ? r.gateway->ToString() : "-") << " type " << r.type << "\n";
    }
    return out.str();
  }

  std::vector<std::string> Existing() { return fabric_->Existing().value_or(std::vector<std::string>{}); }

  LinuxNamespaces namespaces_;
  FabricOptions options_;
  std::unique_ptr<Fabric> fabric_;
};

TEST_F(FabricTest, VmReachesListenerAtPrivateEndpointAddressAndDns) {
  ApplyOk(Seed());
  const std::string vnet = Net("myVNet");
  auto [pe, pe_port] = Listen(vnet, "10.0.0.5");
  ASSERT_TRUE(pe.valid());
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pe.get(), "10.0.0.5", pe_port), "10.0.0.4");
  // From another subnet of the same VNet, through the VNet's router.
  EXPECT_EQ(RoundTrip(VmNs("vm2"), pe.get(), "10.0.0.5", pe_port), "10.0.1.4");

  // Azure DNS: TCP and UDP at 168.63.129.16 inside the VNet.
  auto [dns_tcp, dns_port] = Listen(vnet, "168.63.129.16");
  ASSERT_TRUE(dns_tcp.valid());
  EXPECT_EQ(RoundTrip(VmNs("vm1"), dns_tcp.get(), "168.63.129.16", dns_port), "10.0.0.4");
  auto udp = BindUdp(namespaces_, vnet, "168.63.129.16", 0);
  ASSERT_TRUE(udp) << udp.error().ToString();
  uint16_t udp_port = *LocalPort(udp->get());
  auto sender = InNamespace<UniqueFd>(namespaces_, VmNs("vm1"), [] {
    return Result<UniqueFd>(UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)));
  });
  ASSERT_TRUE(sender && sender->valid());
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(udp_port);
  ::inet_pton(AF_INET, "168.63.129.16", &to.sin_addr);
  ASSERT_EQ(::sendto(sender->get(), "q", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 1);
  pollfd p{udp->get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10'000), 1);
  sockaddr_in from{};
  socklen_t len = sizeof from;
  char c;
  ASSERT_EQ(::recvfrom(udp->get(), &c, 1, 0, reinterpret_cast<sockaddr*>(&from), &len), 1);
  char text[INET_ADDRSTRLEN];
  EXPECT_STREQ(::inet_ntop(AF_INET, &from.sin_addr, text, sizeof text), "10.0.0.4");

  // An address that is no interface's cannot be bound.
  auto bad = ListenTcp(namespaces_, vnet, "10.0.0.77", 0);
  EXPECT_FALSE(bad);
}

TEST_F(FabricTest, OverlappingVnetsEachReachTheirOwnListener) {
  Topology t;
  for (std::string v : {"vnetA", "vnetB"}) {
    t.networks.push_back(Vnet(v, "10.0.0.0/16", {MakeSubnet(v + "/s", "10.0.0.0/24", {"10.0.0.5"})}));
    t.vms.push_back(MakeVm(v + "-vm", v, v + "/s", "10.0.0.4"));
  }
  ApplyOk(t);
  auto [a, port_a] = Listen(Net("vnetA"), "10.0.0.5");
  // The same address and port in the other VNet: a separate socket in a separate namespace.
  auto b = ListenTcp(namespaces_, Net("vnetB"), "10.0.0.5", port_a);
  ASSERT_TRUE(b) << b.error().ToString();
  EXPECT_EQ(RoundTrip(VmNs("vnetA-vm"), a.get(), "10.0.0.5", port_a), "10.0.0.4");
  EXPECT_EQ(RoundTrip(VmNs("vnetB-vm"), b->get(), "10.0.0.5", port_a), "10.0.0.4");
  // Nothing crossed over: each listener has no further connection waiting.
  pollfd p[2] = {{a.get(), POLLIN, 0}, {b->get(), POLLIN, 0}};
  EXPECT_EQ(::poll(p, 2, 0), 0);
}

TEST_F(FabricTest, PeeringsRouteBothWaysAndAreNotTransitive) {
  Topology t;
  t.networks.push_back(Vnet("hubA", "10.1.0.0/16", {MakeSubnet("hubA/s", "10.1.0.0/24", {"10.1.0.5"})}));
  t.networks.push_back(Vnet("midB", "10.2.0.0/16", {MakeSubnet("midB/s", "10.2.0.0/24", {"10.2.0.5"})}));
  t.networks.push_back(Vnet("farC", "10.3.0.0/16", {MakeSubnet("farC/s", "10.3.0.0/24", {"10.3.0.5"})}));
  t.vms.push_back(MakeVm("a1", "hubA", "hubA/s", "10.1.0.4"));
  t.vms.push_back(MakeVm("b1", "midB", "midB/s", "10.2.0.4"));
  t.vms.push_back(MakeVm("c1", "farC", "farC/s", "10.3.0.4"));
  t.peerings = {{"hubA", "midB"}, {"midB", "farC"}};
  ApplyOk(t);
  auto [la, pa] = Listen(Net("hubA"), "10.1.0.5");
  auto [lb, pb] = Listen(Net("midB"), "10.2.0.5");
  auto [lc, pc] = Listen(Net("farC"), "10.3.0.5");
  EXPECT_EQ(RoundTrip(VmNs("a1"), lb.get(), "10.2.0.5", pb), "10.1.0.4");
  EXPECT_EQ(RoundTrip(VmNs("b1"), la.get(), "10.1.0.5", pa), "10.2.0.4");
  EXPECT_EQ(RoundTrip(VmNs("c1"), lb.get(), "10.2.0.5", pb), "10.3.0.4");
  // VM to VM across the peering.
  auto [vm_b, vm_b_port] = Listen(VmNs("b1"), "10.2.0.4");
  EXPECT_EQ(RoundTrip(VmNs("a1"), vm_b.get(), "10.2.0.4", vm_b_port), "10.1.0.4");
  // A and C are both peered with B but not with each other.
  EXPECT_TRUE(Unreachable(VmNs("a1"), "10.3.0.5", pc));
  EXPECT_TRUE(Unreachable(VmNs("c1"), "10.1.0.5", pa));

  // Removing the A–B peering cuts A off; B–C stays.
  t.peerings = {{"midB", "farC"}};
  ApplyOk(t);
  EXPECT_TRUE(Unreachable(VmNs("a1"), "10.2.0.5", pb));
  EXPECT_EQ(RoundTrip(VmNs("c1"), lb.get(), "10.2.0.5", pb), "10.3.0.4");
}

// Every IPv4 address of the host's own interfaces except loopback.
std::vector<std::string> HostAddresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* sa = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if ((ntohl(sa->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN];
    out.push_back(::inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text));
  }
  ::freeifaddrs(list);
  return out;
}

TEST_F(FabricTest, PublicCannotReachVnetAndNothingReachesTheHost) {
  ApplyOk(Seed());
  auto [pe, pe_port] = Listen(Net("myVNet"), "10.0.0.5");
  auto [pub, pub_port] = Listen(Net("internet"), "203.0.113.10");
  // The public endpoint is reachable from the internet; the private one is not.
  EXPECT_EQ(RoundTrip(VmNs("pubvm"), pub.get(), "203.0.113.10", pub_port), "203.0.113.20");
  EXPECT_TRUE(Unreachable(VmNs("pubvm"), "10.0.0.5", pe_port));
  // VNet VMs reach the internet through their VNet's outbound address (SNAT)...
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pub.get(), "203.0.113.10", pub_port), "203.0.113.100");
  EXPECT_EQ(RoundTrip(VmNs("vm2"), pub.get(), "203.0.113.10", pub_port), "203.0.113.100");
  // ...which takes no connections from the internet, even to a listener on every address.
  auto wildcard = ListenTcp(namespaces_, Net("myVNet"), "0.0.0.0", 0);
  ASSERT_TRUE(wildcard);
  EXPECT_TRUE(Unreachable(VmNs("pubvm"), "203.0.113.100", *LocalPort(wildcard->get())));
  auto [vm_listener, vm_port] = Listen(VmNs("vm1"), "10.0.0.4");
  EXPECT_TRUE(Unreachable(VmNs("pubvm"), "10.0.0.4", vm_port));
  // A VNet without an outbound address reaches nothing public.
  Topology t = Seed();
  t.networks[0].outbound_address.clear();
  ApplyOk(t);
  EXPECT_TRUE(Unreachable(VmNs("vm1"), "203.0.113.10", pub_port));
  EXPECT_EQ(Snapshot(Net("myVNet")).find("inet0"), std::string::npos);
  ApplyOk(Seed());
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pub.get(), "203.0.113.10", pub_port), "203.0.113.100");

  // A listener on every host address (in the host's own namespace): nothing gets there.
  int host = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  UniqueFd host_fd(host);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  ASSERT_EQ(::bind(host, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(::listen(host, 16), 0);
  uint16_t host_port = *LocalPort(host);
  for (const std::string& address : HostAddresses()) {
    for (const std::string& ns : {VmNs("vm1"), VmNs("pubvm"), Net("myVNet"), Net("internet")}) {
      EXPECT_TRUE(Unreachable(ns, address, host_port)) << ns << " reached host " << address;
    }
  }
  // 127.0.0.1 inside a namespace is the namespace's own loopback.
  EXPECT_TRUE(Unreachable(VmNs("vm1"), "127.0.0.1", host_port));
  // The public network has no default route (VMs and VNets route only into it).
  auto nl = namespaces_.OpenNetlink(Net("internet"));
  ASSERT_TRUE(nl);
  auto routes = (*nl)->Routes();
  ASSERT_TRUE(routes);
  for (const RouteInfo& r : *routes) EXPECT_NE(r.dst.length, 0) << "default route";
}

TEST_F(FabricTest, ReapplyChangesNothing) {
  Topology t = Seed();
  t.networks.push_back(Vnet("peer", "10.9.0.0/16", {MakeSubnet("peer/s", "10.9.0.0/24")}));
  t.peerings = {{"myVNet", "peer"}};
  ApplyOk(t);
  std::map<std::string, std::string> before;
  for (const std::string& ns : Existing()) before[ns] = Snapshot(ns);
  EXPECT_EQ(before.size(), 6u);
  EXPECT_NE(before[Net("myVNet")].find("inet0"), std::string::npos);
  ApplyOk(t);
  std::map<std::string, std::string> after;
  for (const std::string& ns : Existing()) after[ns] = Snapshot(ns);
  EXPECT_EQ(before, after);  // same interfaces (same ifindexes), addresses and routes
}

TEST_F(FabricTest, ApplyRemovesVmSubnetAndAddressesNoLongerWanted) {
  Topology t = Seed();
  ApplyOk(t);
  const std::string vm2 = VmNs("vm2");
  ASSERT_TRUE(fs::exists(options_.etc_netns + "/" + vm2));
  // vm2 and its subnet go; 10.0.0.6 stops being a private endpoint address.
  t.vms.erase(t.vms.begin() + 1);
  t.networks[0].subnets.pop_back();
  t.networks[0].subnets[0].local_addresses = {"10.0.0.5"};
  ApplyOk(t);
  auto names = Existing();
  EXPECT_EQ(std::count(names.begin(), names.end(), vm2), 0);
  EXPECT_FALSE(fs::exists(options_.etc_netns + "/" + vm2));
  std::string snap = Snapshot(Net("myVNet"));
  EXPECT_EQ(snap.find("b" + ShortId("myVNet/other")), std::string::npos) << snap;
  EXPECT_EQ(snap.find("m" + ShortId("vm2")), std::string::npos) << snap;
  EXPECT_EQ(snap.find("10.0.0.6"), std::string::npos) << snap;
  EXPECT_NE(snap.find("10.0.0.5/32"), std::string::npos) << snap;
  EXPECT_FALSE(ListenTcp(namespaces_, Net("myVNet"), "10.0.0.6", 0));

  // Moving vm1 to a new subnet re-attaches it.
  t.networks[0].subnets.push_back(MakeSubnet("myVNet/third", "10.0.2.0/24"));
  t.vms[0].subnet_id = "myVNet/third";
  t.vms[0].address = "10.0.2.4";
  ApplyOk(t);
  auto [pe, port] = Listen(Net("myVNet"), "10.0.0.5");
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pe.get(), "10.0.0.5", port), "10.0.2.4");
  std::string vm_snap = Snapshot(VmNs("vm1"));
  EXPECT_EQ(vm_snap.find("10.0.0.4"), std::string::npos) << vm_snap;
}

TEST_F(FabricTest, NewFabricAdoptsWhatExists) {
  Topology t = Seed();
  ApplyOk(t);
  std::map<std::string, std::string> before;
  for (const std::string& ns : Existing()) before[ns] = Snapshot(ns);
  auto [pe, port] = Listen(Net("myVNet"), "10.0.0.5");

  // "Restart": a new Fabric with the same prefix and no memory of the first.
  fabric_ = std::make_unique<Fabric>(namespaces_, options_);
  ApplyOk(t);
  std::map<std::string, std::string> after;
  for (const std::string& ns : Existing()) after[ns] = Snapshot(ns);
  EXPECT_EQ(before, after);
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pe.get(), "10.0.0.5", port), "10.0.0.4");
  // ...and it can remove what the first one made.
  t.vms.pop_back();
  ApplyOk(t);
  auto names = Existing();
  EXPECT_EQ(std::count(names.begin(), names.end(), VmNs("pubvm")), 0);
}

TEST_F(FabricTest, DownRemovesEverything) {
  ApplyOk(Seed());
  EXPECT_EQ(Existing().size(), 5u);
  ASSERT_TRUE(fabric_->Down());
  EXPECT_TRUE(Existing().empty());
  std::error_code ec;
  for (fs::directory_iterator it(options_.etc_netns, ec), end; !ec && it != end; it.increment(ec)) {
    EXPECT_FALSE(it->path().filename().string().starts_with(options_.prefix + "-")) << it->path();
  }
  ASSERT_TRUE(fabric_->Down());  // idempotent
}

TEST_F(FabricTest, VmSeesItsOwnResolvConfHostsAndInterfaces) {
  Topology t = Seed();
  t.vms[0].hosts = {"10.0.0.5 myregistry.azurecr.io"};
  ApplyOk(t);
  auto r = fabric_->Exec("vm1", {"cat", "/etc/resolv.conf", "/etc/hosts"});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_NE(r->output.find("nameserver 168.63.129.16"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("10.0.0.5 myregistry.azurecr.io"), std::string::npos) << r->output;
  auto pub = fabric_->Exec("pubvm", {"cat", "/etc/resolv.conf"});
  ASSERT_TRUE(pub);
  EXPECT_NE(pub->output.find("nameserver 203.0.113.53"), std::string::npos) << pub->output;
  auto ls = fabric_->Exec("vm1", {"ls", "/sys/class/net"});
  ASSERT_TRUE(ls);
  EXPECT_EQ(ls->output, "eth0\nlo\n");
  // The instance metadata address is the VM's own (on lo), in private and public VMs alike.
  for (const char* vm : {"vm1", "pubvm"}) {
    auto lo = fabric_->Exec(vm, {"ip", "-4", "-o", "addr", "show", "dev", "lo"});
    ASSERT_TRUE(lo);
    EXPECT_NE(lo->output.find("inet 169.254.169.254/32 scope host lo"), std::string::npos)
        << vm << ": " << lo->output;
    EXPECT_NE(lo->output.find("inet 127.0.0.1/8"), std::string::npos) << lo->output;
  }
  auto fail = fabric_->Exec("vm1", {"sh", "-c", "exit 3"});
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->exit_code, 3);
  EXPECT_FALSE(fabric_->Exec("no-such-vm", {"true"}));
  auto missing = fabric_->Exec("vm1", {"/no/such/program"});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->exit_code, 127);

  // Spawn with the caller's descriptors (what `cove vm exec` does with its terminal).
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  auto pid = fabric_->Spawn("vm1", {"sh", "-c", "read x; echo \"got $x from $(cat /etc/resolv.conf | tail -1)\""},
                            in[0], out[1], out[1]);
  ::close(in[0]);
  ::close(out[1]);
  ASSERT_TRUE(pid) << pid.error().ToString();
  ASSERT_EQ(::write(in[1], "hi\n", 3), 3);
  ::close(in[1]);
  std::string got;
  char buf[256];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_EQ(got, "got hi from nameserver 168.63.129.16\n");

  // iproute2 sees the same namespaces and files.
  std::string cmd = "ip netns exec " + VmNs("vm1") + " cat /etc/resolv.conf";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string ip_out;
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) ip_out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_NE(ip_out.find("nameserver 168.63.129.16"), std::string::npos) << ip_out;
}

TEST_F(FabricTest, VmTrustsTheGivenCa) {
  Topology t = Seed();
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIBcove\n-----END CERTIFICATE-----\n";
  t.vms[0].ca_pem = pem;
  t.vms[0].registry_hosts = {"myregistry.azurecr.io", "myregistry.westus.data.azurecr.io"};
  ApplyOk(t);
  auto r = fabric_->Exec(
      "vm1", {"sh", "-c",
              "tail -c 200 /etc/ssl/certs/ca-certificates.crt; "
              "cat /etc/containers/certs.d/myregistry.azurecr.io/ca.crt; "
              "ls /etc/containers/certs.d; test -f /etc/containers/policy.json && echo policy"});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_NE(r->output.find("MIIBcove\n-----END CERTIFICATE-----\n-----BEGIN"), std::string::npos)
      << r->output;
  EXPECT_NE(r->output.find("myregistry.westus.data.azurecr.io"), std::string::npos);
  if (fs::exists("/etc/containers/policy.json")) {
    EXPECT_NE(r->output.find("policy"), std::string::npos) << r->output;
  }
  // Only the VM it was given to.
  auto other = fabric_->Exec("vm2", {"grep", "-c", "MIIBcove", "/etc/ssl/certs/ca-certificates.crt"});
  ASSERT_TRUE(other);
  EXPECT_NE(other->exit_code, 0);
  // A host dropped from the list loses its certs.d entry.
  t.vms[0].registry_hosts = {"myregistry.azurecr.io"};
  ApplyOk(t);
  EXPECT_FALSE(fs::exists(options_.etc_netns + "/" + VmNs("vm1") +
                          "/containers/certs.d/myregistry.westus.data.azurecr.io"));
}

TEST_F(FabricTest, NsgFiltersTrafficToThePrivateEndpoint) {
  Topology t = Seed();
  Subnet& s = t.networks[0].subnets[0];
  s.nsg_enabled = true;
  ApplyOk(t);
  auto [pe, port] = Listen(Net("myVNet"), "10.0.0.5");
  // Defaults: traffic inside the VNet is allowed.
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pe.get(), "10.0.0.5", port), "10.0.0.4");
  // Deny the port from vm2's subnet, allow it from vm1.
  s.nsg_rules = {
      NsgRule{.name = "allow-vm1", .priority = 100, .protocol = "Tcp",
              .source_prefixes = {"10.0.0.4"}, .destination_ports = {std::to_string(port)}},
      NsgRule{.name = "deny-rest", .priority = 200, .access = NsgRule::Access::kDeny,
              .protocol = "Tcp", .destination_ports = {std::to_string(port)}},
  };
  ApplyOk(t);
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pe.get(), "10.0.0.5", port), "10.0.0.4");
  EXPECT_TRUE(Unreachable(VmNs("vm2"), "10.0.0.5", port));
  // Without NSG on the subnet the rules do not apply.
  s.nsg_enabled = false;
  ApplyOk(t);
  EXPECT_EQ(RoundTrip(VmNs("vm2"), pe.get(), "10.0.0.5", port), "10.0.1.4");
}

// A machine's bridge port lets through only frames from its own MAC and address: a VM cannot
// pose as a neighbour (guard.h). `connect` runs python3 in the VM, bound to `source`: exit 0
// when the TCP connection is made, else not (3 s: what is shown is that nothing answers).
TEST_F(FabricTest, BridgePortsLetThroughOnlyTheirMachine) {
  Topology t = Seed();
  t.vms.push_back(MakeVm("vm3", "myVNet", "myVNet/mySubnet", "10.0.0.7"));
  ApplyOk(t);
  auto [pe, port] = Listen(Net("myVNet"), "10.0.0.5");
  ASSERT_TRUE(pe.valid());
  auto connect = [&](const std::string& vm, const std::string& source, const std::string& to,
                     uint16_t to_port) {
    auto r = fabric_->Exec(
        vm, {"python3", "-c",
             "import socket, sys\ns = socket.socket()\ns.settimeout(3)\ns.bind(('" + source +
                 "', 0))\ns.connect(('" + to + "', " + std::to_string(to_port) + "))"});
    return r && r->exit_code == 0;
  };
  for (const char* vm : {"vm1", "vm3"}) {
    auto mac = fabric_->Exec(vm, {"cat", "/sys/class/net/eth0/address"});
    ASSERT_TRUE(mac);
    EXPECT_EQ(mac->output, MacText(VmMac(vm)) + "\n");
  }
  EXPECT_TRUE(connect("vm1", "10.0.0.4", "10.0.0.5", port));
  (void)Accept(pe.get());
  // vm1 takes vm3's address (and forgets its neighbours, so it must ARP as vm3 too).
  auto taken = fabric_->Exec("vm1", {"sh", "-c", "ip addr add 10.0.0.7/32 dev eth0 && "
                                                 "ip neigh flush dev eth0"});
  ASSERT_TRUE(taken && taken->exit_code == 0) << (taken ? taken->output : "");
  EXPECT_FALSE(connect("vm1", "10.0.0.7", "10.0.0.5", port));
  EXPECT_TRUE(connect("vm3", "10.0.0.7", "10.0.0.5", port)) << "the real vm3 is unaffected";
  (void)Accept(pe.get());
  // A MAC of its own choosing cuts vm1 off, until the fabric sets its own back (and drops the
  // borrowed address).
  auto mac = fabric_->Exec("vm1", {"sh", "-c", "ip link set dev eth0 address 02:00:00:00:00:01 "
                                               "&& ip neigh flush dev eth0"});
  ASSERT_TRUE(mac && mac->exit_code == 0);
  EXPECT_FALSE(connect("vm1", "10.0.0.4", "10.0.0.5", port));
  ApplyOk(t);
  EXPECT_TRUE(connect("vm1", "10.0.0.4", "10.0.0.5", port));
  (void)Accept(pe.get());
  // A machine detached from the network takes its port's rules along.
  t.vms.pop_back();
  ApplyOk(t);
  auto rules = fabric_->ExecIn(Net("myVNet"), {"nft", "list", "table", "bridge", "cove_guard"});
  ASSERT_TRUE(rules);
  EXPECT_NE(rules->output.find("10.0.0.4"), std::string::npos) << rules->output;
  EXPECT_EQ(rules->output.find("10.0.0.7"), std::string::npos) << rules->output;
}

// 169.254.169.254 answers only on the machine's own lo: a neighbour that routes the address to
// it reaches nothing (guard.h).
TEST_F(FabricTest, InstanceMetadataAddressIsReachableFromTheMachineOnly) {
  Topology t = Seed();
  t.vms.push_back(MakeVm("vm3", "myVNet", "myVNet/mySubnet", "10.0.0.7"));
  ApplyOk(t);
  const std::string imds(kInstanceMetadataAddress);
  auto [listener, port] = Listen(VmNs("vm1"), imds);
  ASSERT_TRUE(listener.valid());
  EXPECT_EQ(RoundTrip(VmNs("vm1"), listener.get(), imds, port), imds);
  auto routed = fabric_->Exec("vm3", {"sh", "-c", "ip addr del 169.254.169.254/32 dev lo && "
                                                  "ip route add 169.254.169.254/32 via 10.0.0.4"});
  ASSERT_TRUE(routed && routed->exit_code == 0) << (routed ? routed->output : "");
  EXPECT_TRUE(Unreachable(VmNs("vm3"), imds, port));
  auto counted = fabric_->Exec("vm1", {"nft", "list", "table", "inet", "cove_guard"});
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->output.find("counter packets 0 "), std::string::npos) << counted->output;
}

TEST_F(FabricTest, ApplyRecoversFromAStaleNamespaceFile) {
  // A crash between creating /run/netns/NAME and mounting the namespace on it leaves a plain
  // file; the next Apply replaces it.
  const std::string stale = namespaces_.PathOf(Net("myVNet"));
  ASSERT_TRUE(std::ofstream(stale).good());
  ApplyOk(Seed());
  auto [pe, port] = Listen(Net("myVNet"), "10.0.0.5");
  EXPECT_EQ(RoundTrip(VmNs("vm1"), pe.get(), "10.0.0.5", port), "10.0.0.4");
}

// Answers every request with "<remote ip> <link id> <sni>".
class PeerHandler final : public http::Handler {
 public:
  http::ExchangePtr Start(http::Request request) override {
    const http::Peer& p = request.peer;
    return http::Respond(http::Response::Text(
        200, "text/plain",
        p.remote_ip + " " + (p.link_id ? std::to_string(*p.link_id) : "-") + " " + p.server_name));
  }
};

// The registry's path in miniature: an HTTPS listener made inside the VNet at the private
// endpoint address and adopted by the HTTP server; curl in the VM resolves the name through the
// VM's hosts file and trusts the cove CA through the VM's bundle.
TEST_F(FabricTest, CurlInVmReachesTlsListenerAdoptedFromTheVnet) {
  cove::testing::TempDir dir;
  SystemClock clock;
  auto ca = http::CertificateAuthority::LoadOrCreate(dir.Join("tls"), clock);
  ASSERT_TRUE(ca) << ca.error().ToString();
  http::SniContextProvider provider(
      **ca, dir.Join("tls/hosts"), clock,
      [](std::string_view name) { return name == "myregistry.azurecr.io"; },
      "myregistry.azurecr.io");
  Topology t = Seed();
  t.vms[0].hosts = {"10.0.0.5 myregistry.azurecr.io"};
  t.vms[0].ca_pem = (*ca)->CertificatePem();
  t.vms[0].registry_hosts = {"myregistry.azurecr.io"};
  ApplyOk(t);

  PeerHandler handler;
  http::Server server(handler, &provider);
  auto fd = ListenTcp(namespaces_, Net("myVNet"), "10.0.0.5", 443);
  ASSERT_TRUE(fd) << fd.error().ToString();
  http::ListenerOptions listener;
  listener.tls = true;
  listener.link_id = 7;
  ASSERT_TRUE(server.Adopt(std::move(*fd), listener));
  server.Start();
  auto r = fabric_->Exec("vm1", {"curl", "-sS", "--max-time", "20",
                                 "https://myregistry.azurecr.io/v2/"});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_EQ(r->output, "10.0.0.4 7 myregistry.azurecr.io");
  // vm2 was not given the CA: the same request fails verification.
  auto untrusted = fabric_->Exec("vm2", {"curl", "-sS", "--max-time", "20", "--resolve",
                                         "myregistry.azurecr.io:443:10.0.0.5",
                                         "https://myregistry.azurecr.io/v2/"});
  ASSERT_TRUE(untrusted);
  EXPECT_NE(untrusted->exit_code, 0) << untrusted->output;
  server.Stop();
}

}  // namespace
}  // namespace cove::fabric

namespace cove::fabric {
namespace {

// The seed's on-premises picture without the tunnel software: myVNet with a GatewaySubnet
// holding a forwarding gateway machine with a public leg (192.0.2.10), a route for the site's
// prefix through it, and a site (its router's public address 192.0.2.130, its DNS server on
// the LAN) with one host.
Topology OnPremises() {
  Topology t;
  t.networks.push_back(Vnet("myVNet", "10.0.0.0/16",
                            {MakeSubnet("myVNet/mySubnet", "10.0.0.0/24"),
                             MakeSubnet("myVNet/GatewaySubnet", "10.0.255.0/27")}));
  t.networks.back().routes = {{"192.168.0.0/16", "10.0.255.4"}};
  Network site = Vnet("site", "192.168.0.0/16",
                      {MakeSubnet("site/lan", "192.168.0.0/24", {"192.168.0.53"})});
  site.dns_address = "192.168.0.53";
  site.outbound_address = "192.0.2.130";
  site.accepts_ipsec = true;
  t.networks.push_back(site);
  Network pub = Vnet("internet", "192.0.2.0/24",
                     {MakeSubnet("internet/default", "192.0.2.0/24")});
  pub.is_public = true;
  pub.dns_address.clear();
  t.networks.push_back(pub);
  t.vms.push_back(MakeVm("vm1", "myVNet", "myVNet/mySubnet", "10.0.0.4"));
  Vm gateway = MakeVm("gw", "myVNet", "myVNet/GatewaySubnet", "10.0.255.4");
  gateway.ip_forwarding = true;
  gateway.public_address = "192.0.2.10";
  t.vms.push_back(gateway);
  t.vms.push_back(MakeVm("host1", "site", "site/lan", "192.168.0.10"));
  return t;
}

// Receives one datagram on `fd` (bounded wait); returns its source address ("" for none).
std::string ReceiveFrom(int fd, sockaddr_in* peer) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10'000) != 1) return "";
  char buf[64];
  socklen_t len = sizeof *peer;
  if (::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(peer), &len) < 0) return "";
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer->sin_addr, text, sizeof text);
  return text;
}

TEST_F(FabricTest, GatewayMachineForwardsForTheSiteAndItsPublicLegTakesOnlyIke) {
  ApplyOk(OnPremises());
  // The VNet's router sends the site's prefix to the gateway machine.
  EXPECT_NE(Snapshot(Net("myVNet")).find("route 192.168.0.0/16"), std::string::npos);
  // The site's host reaches the site's DNS server address on the LAN.
  auto [dns, dns_port] = Listen(Net("site"), "192.168.0.53");
  EXPECT_EQ(RoundTrip(VmNs("host1"), dns.get(), "192.168.0.53", dns_port), "192.168.0.10");

  // IKE/NAT-T crosses the internet between the gateway's public leg and the site's router;
  // nothing else gets in through either.
  auto site_ike = BindUdp(namespaces_, Net("site"), "192.0.2.130", 4500);
  auto gw_ike = BindUdp(namespaces_, VmNs("gw"), "192.0.2.10", 500);
  ASSERT_TRUE(site_ike && gw_ike);
  auto sent = fabric_->ExecIn(VmNs("gw"), {"python3", "-c",
      "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
      "s.bind(('192.0.2.10', 0)); s.sendto(b'ike', ('192.0.2.130', 4500))"});
  ASSERT_TRUE(sent && sent->exit_code == 0) << (sent ? sent->output : sent.error().ToString());
  sockaddr_in peer{};
  EXPECT_EQ(ReceiveFrom(site_ike->get(), &peer), "192.0.2.10");
  sent = fabric_->ExecIn(Net("site"), {"python3", "-c",
      "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
      "s.bind(('192.0.2.130', 0)); s.sendto(b'ike', ('192.0.2.10', 500))"});
  ASSERT_TRUE(sent && sent->exit_code == 0);
  EXPECT_EQ(ReceiveFrom(gw_ike->get(), &peer), "192.0.2.130");
  auto [gw_tcp, gw_port] = Listen(VmNs("gw"), "0.0.0.0");
  EXPECT_TRUE(Unreachable(Net("site"), "192.0.2.10", gw_port));
  auto [site_tcp, site_port] = Listen(Net("site"), "0.0.0.0");
  EXPECT_TRUE(Unreachable(VmNs("gw"), "192.0.2.130", site_port));

  // What the gateway forwards from the tunnel carries the site's addresses as its source: its
  // bridge port lets that through, and the VNet routes the answer back to it.
  ASSERT_EQ(::system(("ip -n " + VmNs("gw") + " addr add 192.168.99.1/32 dev lo").c_str()), 0);
  auto echo = BindUdp(namespaces_, VmNs("vm1"), "10.0.0.4", 7007);
  ASSERT_TRUE(echo);
  std::optional<Result<ExecResult>> asked;
  std::thread asker([&] {
    asked = fabric_->ExecIn(VmNs("gw"), {"python3", "-c",
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10); "
        "s.bind(('192.168.99.1', 0)); s.sendto(b'ping', ('10.0.0.4', 7007)); "
        "print(s.recv(16).decode())"});
  });
  EXPECT_EQ(ReceiveFrom(echo->get(), &peer), "192.168.99.1");
  EXPECT_EQ(::sendto(echo->get(), "pong", 4, 0, reinterpret_cast<sockaddr*>(&peer), sizeof peer), 4);
  asker.join();
  ASSERT_TRUE(asked && *asked);
  EXPECT_EQ((**asked).output, "pong\n");
  // An ordinary machine's port still drops a foreign source.
  Topology plain = OnPremises();
  plain.vms[1].ip_forwarding = false;
  ApplyOk(plain);
  std::optional<Result<ExecResult>> again;
  std::thread asker2([&] {
    again = fabric_->ExecIn(VmNs("gw"), {"python3", "-c",
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
        "s.bind(('192.168.99.1', 0)); s.sendto(b'ping', ('10.0.0.4', 7007))"});
  });
  asker2.join();
  pollfd p{echo->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 1000), 0) << "a spoofed datagram passed the bridge port";

  // TUN devices that VPN software made inside the site's router and the gateway stay.
  ASSERT_EQ(::system(("ip -n " + Net("site") + " tuntap add mode tun name ipsec0").c_str()), 0);
  ASSERT_EQ(::system(("ip -n " + VmNs("gw") + " tuntap add mode tun name ipsec0").c_str()), 0);
  ApplyOk(OnPremises());
  EXPECT_NE(Snapshot(Net("site")).find("ipsec0"), std::string::npos);
  EXPECT_NE(Snapshot(VmNs("gw")).find("ipsec0"), std::string::npos);
  // The route goes when the network no longer has it.
  Topology no_route = OnPremises();
  no_route.networks[0].routes.clear();
  ApplyOk(no_route);
  EXPECT_EQ(Snapshot(Net("myVNet")).find("route 192.168.0.0/16"), std::string::npos);
}

}  // namespace
}  // namespace cove::fabric

namespace cove::fabric {
namespace {

// A wire between a router-only network and a machine carries TCP both ways, converging again
// leaves it as it is, and it goes when removed.
TEST_F(FabricTest, WireCarriesTcpAndGoesWhenRemoved) {
  Topology t;
  t.networks.push_back(Vnet("wvnet", "10.1.0.0/16", {MakeSubnet("wvnet/s", "10.1.0.0/24")}));
  Network edge;
  edge.id = "wedge";
  edge.dns_address.clear();
  t.networks.push_back(edge);
  t.vms.push_back(MakeVm("wgw", "wvnet", "wvnet/s", "10.1.0.4"));
  t.wires.push_back(Wire{.id = "wire1",
                         .a = {.network_id = "wedge", .vm_id = "", .address = "169.254.21.1", .length = 30},
                         .b = {.network_id = "", .vm_id = "wgw", .address = "169.254.21.2", .length = 30}});
  ApplyOk(t);
  auto [at_edge, edge_port] = Listen(Net("wedge"), "169.254.21.1");
  auto [at_gw, gw_port] = Listen(VmNs("wgw"), "169.254.21.2");
  EXPECT_EQ(RoundTrip(VmNs("wgw"), at_edge.get(), "169.254.21.1", edge_port), "169.254.21.2");
  EXPECT_EQ(RoundTrip(Net("wedge"), at_gw.get(), "169.254.21.2", gw_port), "169.254.21.1");
  const std::string before = Snapshot(Net("wedge")) + Snapshot(VmNs("wgw"));
  ApplyOk(t);
  EXPECT_EQ(Snapshot(Net("wedge")) + Snapshot(VmNs("wgw")), before);

  t.wires.clear();
  ApplyOk(t);
  EXPECT_TRUE(Unreachable(VmNs("wgw"), "169.254.21.1", edge_port));
  EXPECT_EQ(Snapshot(VmNs("wgw")).find("x" + ShortId("wire1")), std::string::npos);
  EXPECT_EQ(Snapshot(Net("wedge")).find("w" + ShortId("wire1")), std::string::npos);
}

}  // namespace
}  // namespace cove::fabric
