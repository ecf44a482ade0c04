// AddOnPremises for ExpressRoute: the circuit's edge, the gateway machine, the wires and the BGP
// routers it plans, as pure data.
#include "daemon/onprem.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cove::daemon {
namespace {

const std::string kVnet = "/sub/rg/vnets/myvnet";
const std::string kGw = "/sub/rg/gateways/ergw";
const std::string kCircuit = "/sub/rg/circuits/circuit";
const std::string kSite = "/sub/rg/sites/branch";

fabric::Topology BaseTopology() {
  fabric::Topology t;
  fabric::Network vnet;
  vnet.id = kVnet;
  vnet.address_spaces = {"10.0.0.0/16"};
  vnet.subnets = {{.id = kVnet + "/mysubnet", .prefix = "10.0.0.0/24"},
                  {.id = kVnet + "/GatewaySubnet", .prefix = "10.0.255.0/27"}};
  t.networks.push_back(vnet);
  fabric::Network pub;
  pub.id = "internet";
  pub.is_public = true;
  pub.address_spaces = {"203.0.113.0/24"};
  pub.subnets = {{.id = "internet/default", .prefix = "203.0.113.0/24"}};
  pub.dns_address = "203.0.113.53";
  t.networks.push_back(pub);
  return t;
}

arm::Snapshot ErSnapshot(uint32_t site_asn, bool enabled) {
  arm::Snapshot s;
  arm::VnetGatewayView g;
  g.id = kGw;
  g.vnet_id = kVnet;
  g.gateway_subnet_id = kVnet + "/GatewaySubnet";
  g.gateway_subnet_prefix = "10.0.255.0/27";
  g.gateway_type = "ExpressRoute";
  s.vnet_gateways.push_back(g);
  arm::CircuitView c;
  c.id = kCircuit;
  arm::CircuitPeeringView p;
  p.name = "AzurePrivatePeering";
  p.peer_asn = 65010;
  p.primary_prefix = "172.16.0.0/30";
  p.secondary_prefix = "172.16.0.4/30";
  p.enabled = enabled;
  c.peerings.push_back(p);
  s.circuits.push_back(c);
  arm::SiteView site;
  site.id = kSite;
  site.address_prefixes = {"192.168.0.0/16"};
  site.public_ip = "192.0.2.130";
  site.dns_software = "none";
  site.bgp_asn = site_asn;
  s.sites.push_back(site);
  arm::ConnectionView conn;
  conn.id = "/sub/rg/connections/toCircuit";
  conn.type = "ExpressRoute";
  conn.gateway_id = kGw;
  conn.circuit_id = kCircuit;
  s.connections.push_back(conn);
  return s;
}

const BgpRouter* RouterOf(const OnPremPlan& plan, const std::string& network, const std::string& vm) {
  for (const BgpRouter& r : plan.bgp_routers) {
    if (r.network_id == network && r.vm_id == vm) return &r;
  }
  return nullptr;
}

TEST(ExpressRouteProjectionTest, SiteMseeAndGatewayPeerOverTwoWires) {
  fabric::Topology t = BaseTopology();
  OnPremPlan plan = AddOnPremises(ErSnapshot(65010, true), t, "", {}, "203.0.113.53");
  auto valid = fabric::Validate(t);
  ASSERT_TRUE(valid) << valid.error().ToString();
  const fabric::Vm* gw = t.FindVm(kGw);
  ASSERT_TRUE(gw);
  EXPECT_EQ(gw->address, "10.0.255.5");
  EXPECT_TRUE(gw->ip_forwarding);
  EXPECT_TRUE(gw->public_address.empty());
  ASSERT_TRUE(t.FindNetwork(kCircuit));
  EXPECT_TRUE(t.FindNetwork(kCircuit)->address_spaces.empty());
  ASSERT_EQ(t.wires.size(), 2u);
  const fabric::Network* vnet = t.FindNetwork(kVnet);
  EXPECT_NE(std::find(vnet->routes.begin(), vnet->routes.end(),
                      fabric::Route{"192.168.0.0/16", "10.0.255.5"}),
            vnet->routes.end());

  ASSERT_EQ(plan.bgp_routers.size(), 3u);
  const BgpRouter* msee = RouterOf(plan, kCircuit, "");
  const BgpRouter* ergw = RouterOf(plan, "", kGw);
  const BgpRouter* ce = RouterOf(plan, kSite, "");
  ASSERT_TRUE(msee && ergw && ce);
  EXPECT_EQ(msee->asn, 12076u);
  EXPECT_EQ(ergw->asn, 65515u);
  EXPECT_EQ(ce->asn, 65010u);
  EXPECT_EQ(ce->neighbors, (std::vector<BgpPeer>{{"172.16.0.2", 12076, "MSEE"}}));
  EXPECT_EQ(ce->networks, std::vector<std::string>{"192.168.0.0/16"});
  EXPECT_EQ(ergw->networks, std::vector<std::string>{"10.0.0.0/16"});
  ASSERT_EQ(msee->neighbors.size(), 2u);
  ASSERT_EQ(plan.express_route.size(), 1u);
  EXPECT_EQ(plan.express_route[0].msee_network, kCircuit);
  EXPECT_EQ(plan.express_route[0].site_neighbor, "172.16.0.1");
}

TEST(ExpressRouteProjectionTest, DisabledPeeringRunsNothing) {
  fabric::Topology t = BaseTopology();
  OnPremPlan plan = AddOnPremises(ErSnapshot(65010, false), t, "", {}, "");
  EXPECT_TRUE(plan.bgp_routers.empty());
  EXPECT_TRUE(t.wires.empty());
  EXPECT_FALSE(t.FindNetwork(kCircuit));
  ASSERT_EQ(plan.express_route.size(), 1u);
  EXPECT_TRUE(plan.express_route[0].msee_network.empty());
  EXPECT_TRUE(t.FindVm(kGw));  // the gateway itself stays
}

TEST(ExpressRouteProjectionTest, NoSiteWithThePeeringsAsnIsNoCustomerRouter) {
  fabric::Topology t = BaseTopology();
  OnPremPlan plan = AddOnPremises(ErSnapshot(65020, true), t, "", {}, "");
  EXPECT_TRUE(fabric::Validate(t));
  EXPECT_FALSE(RouterOf(plan, kSite, ""));
  ASSERT_TRUE(RouterOf(plan, kCircuit, ""));
  EXPECT_EQ(RouterOf(plan, kCircuit, "")->neighbors.size(), 2u);  // still waits for it
  EXPECT_EQ(t.wires.size(), 1u);
}

}  // namespace
}  // namespace cove::daemon
