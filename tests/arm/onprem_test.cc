// On-premises connectivity in the control plane (issue 14), through the REST API on loopback:
// public IP addresses, VPN and ExpressRoute gateways, local network gateways, connections,
// ExpressRoute circuits and their private peering, the DNS Private Resolver, and cove's
// on-premises sites. Every rule answers Azure's status and code, and a refused request changes
// nothing (the snapshot version stays where it was); the views the data plane reads are filled.
#include <functional>

#include "arm_fixture.h"

namespace cove::arm {
namespace {

using nlohmann::json;

const std::string kHub = kNet + "/virtualNetworks/hub";
const std::string kGwSubnet = kHub + "/subnets/GatewaySubnet";
const std::string kPips = kNet + "/publicIPAddresses/";
const std::string kGateways = kNet + "/virtualNetworkGateways/";
const std::string kLocals = kNet + "/localNetworkGateways/";
const std::string kConnections = kNet + "/connections/";
const std::string kCircuits = kNet + "/expressRouteCircuits/";
const std::string kResolvers = kNet + "/dnsResolvers/";
const std::string kRulesets = kNet + "/dnsForwardingRulesets/";
const std::string kSites = kRg + "/providers/Cove.OnPremises/sites/";

json Subnet(const std::string& name, const std::string& prefix, bool delegated = false) {
  json props = {{"addressPrefix", prefix}};
  if (delegated) {
    props["delegations"] = {{{"name", "resolver"},
                             {"properties", {{"serviceName", "Microsoft.Network/dnsResolvers"}}}}};
  }
  return {{"name", name}, {"properties", props}};
}

json Gateway(const std::string& type = "Vpn", const std::string& pip = "gwip",
             const std::string& subnet = kGwSubnet, const json& extra = json::object()) {
  json ipc_props = {{"subnet", {{"id", subnet}}}, {"privateIPAllocationMethod", "Dynamic"}};
  if (!pip.empty()) ipc_props["publicIPAddress"] = {{"id", kPips + pip}};
  json props = {{"gatewayType", type},
                {"vpnType", "RouteBased"},
                {"sku", {{"name", type == "Vpn" ? "VpnGw1" : "Standard"}}},
                {"ipConfigurations", {{{"name", "default"}, {"properties", ipc_props}}}}};
  props.update(extra);
  return {{"location", "westus"}, {"properties", props}};
}

json LocalGateway(const std::vector<std::string>& prefixes, const std::string& ip = "192.0.2.130",
                  const json& bgp = json()) {
  json props = {{"gatewayIpAddress", ip},
                {"localNetworkAddressSpace", {{"addressPrefixes", prefixes}}}};
  if (!bgp.is_null()) props["bgpSettings"] = bgp;
  return {{"location", "westus"}, {"properties", props}};
}

json IpsecConnection(const std::string& gateway, const std::string& local,
                     const json& extra = json::object()) {
  json props = {{"connectionType", "IPsec"},
                {"virtualNetworkGateway1", {{"id", kGateways + gateway}}},
                {"localNetworkGateway2", {{"id", kLocals + local}}},
                {"sharedKey", "s3cret-psk"}};
  props.update(extra);
  return {{"location", "westus"}, {"properties", props}};
}

json Circuit(int bandwidth = 50) {
  return {
      {"location", "westus"},
      {"sku", {{"name", "Standard_MeteredData"}, {"tier", "Standard"}, {"family", "MeteredData"}}},
      {"properties",
       {{"serviceProviderProperties",
         {{"serviceProviderName", "Equinix"},
          {"peeringLocation", "Silicon Valley"},
          {"bandwidthInMbps", bandwidth}}}}}};
}

json Peering(int64_t asn = 65010, int vlan = 100, const std::string& primary = "172.16.0.0/30",
             const std::string& secondary = "172.16.0.4/30") {
  return {{"properties",
           {{"peeringType", "AzurePrivatePeering"},
            {"peerASN", asn},
            {"vlanId", vlan},
            {"primaryPeerAddressPrefix", primary},
            {"secondaryPeerAddressPrefix", secondary}}}};
}

class OnPremTest : public ArmFixture {
 protected:
  void SetUp() override {
    ArmFixture::SetUp();
    ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
    auto hub =
        Put(kHub,
            {{"location", "westus"},
             {"properties",
              {{"addressSpace", {{"addressPrefixes", {"10.0.0.0/16"}}}},
               {"subnets",
                {Subnet("mysubnet", "10.0.0.0/24"), Subnet("GatewaySubnet", "10.0.255.0/27")}}}}});
    ASSERT_EQ(hub.status, 201) << hub.body.dump();
  }

  uint64_t Version() const { return cp_->snapshot()->version; }

  // A refused write: the status and code, and nothing committed.
  void ExpectRefused(const std::function<Reply()>& call, int status, const std::string& code) {
    uint64_t before = Version();
    Reply r = call();
    EXPECT_EQ(r.status, status) << r.body.dump();
    EXPECT_EQ(r.Code(), code) << r.body.dump();
    EXPECT_EQ(Version(), before) << code << ": a refused request changed the state";
  }

  Reply PublicIp(const std::string& name, const json& extra = json::object()) {
    json body = {{"location", "westus"},
                 {"sku", {{"name", "Standard"}}},
                 {"properties", {{"publicIPAllocationMethod", "Static"}}}};
    body.update(extra);
    return Put(kPips + name, body);
  }

  // hub's VPN gateway vpngw (public IP gwip) and site1's local gateway 192.168.0.0/16.
  void VpnGateway() {
    ASSERT_EQ(PublicIp("gwip").status, 201);
    auto g = Put(kGateways + "vpngw", Gateway());
    ASSERT_EQ(g.status, 201) << g.body.dump();
    ASSERT_EQ(Put(kLocals + "site1", LocalGateway({"192.168.0.0/16"})).status, 201);
  }

  void DelegatedSubnet(const std::string& name, const std::string& prefix) {
    auto s = Put(kHub + "/subnets/" + name, Subnet(name, prefix, true));
    ASSERT_EQ(s.status, 201) << s.body.dump();
  }

  // Everything of this file at once: hub's VPN gateway with its IPsec connection c1 to site1,
  // an ExpressRoute gateway with connection er over circuit er1's private peering, a DNS
  // resolver with inbound and outbound endpoints and ruleset rs, on-premises site site1.
  void Everything() {
    VpnGateway();
    ASSERT_EQ(Put(kConnections + "c1", IpsecConnection("vpngw", "site1")).status, 201);
    ASSERT_EQ(Put(kGateways + "ergw", Gateway("ExpressRoute", "")).status, 201);
    ASSERT_EQ(Put(kCircuits + "er1", Circuit()).status, 201);
    ASSERT_EQ(Put(kCircuits + "er1/peerings/AzurePrivatePeering", Peering()).status, 201);
    ASSERT_EQ(Put(kConnections + "er", {{"location", "westus"},
                                        {"properties",
                                         {{"connectionType", "ExpressRoute"},
                                          {"virtualNetworkGateway1", {{"id", kGateways + "ergw"}}},
                                          {"peer", {{"id", kCircuits + "er1"}}}}}})
                  .status,
              201);
    DelegatedSubnet("inbound", "10.0.10.0/28");
    DelegatedSubnet("outbound", "10.0.11.0/28");
    ASSERT_EQ(Put(kResolvers + "resolver",
                  {{"location", "westus"}, {"properties", {{"virtualNetwork", {{"id", kHub}}}}}})
                  .status,
              201);
    ASSERT_EQ(Put(kResolvers + "resolver/inboundEndpoints/in",
                  {{"location", "westus"},
                   {"properties",
                    {{"ipConfigurations", {{{"subnet", {{"id", kHub + "/subnets/inbound"}}}}}}}}})
                  .status,
              201);
    ASSERT_EQ(Put(kResolvers + "resolver/outboundEndpoints/out",
                  {{"location", "westus"},
                   {"properties", {{"subnet", {{"id", kHub + "/subnets/outbound"}}}}}})
                  .status,
              201);
    ASSERT_EQ(
        Put(kRulesets + "rs", {{"location", "westus"},
                               {"properties",
                                {{"dnsResolverOutboundEndpoints",
                                  {{{"id", kResolvers + "resolver/outboundEndpoints/out"}}}}}}})
            .status,
        201);
    ASSERT_EQ(Put(kSites + "site1", {{"location", "westus"},
                                     {"properties", {{"addressPrefixes", {"192.168.0.0/16"}}}}})
                  .status,
              201);
  }
};

// ------------------------------------------------------------------ public IP addresses

TEST_F(OnPremTest, PublicIpsComeFromTheirTestNetPoolAndStayStatic) {
  auto a = PublicIp("a");
  ASSERT_EQ(a.status, 201) << a.body.dump();
  EXPECT_EQ(a.body["type"], "Microsoft.Network/publicIPAddresses");
  EXPECT_EQ(a.body["sku"]["name"], "Standard");
  EXPECT_EQ(a.body["sku"]["tier"], "Regional");
  EXPECT_EQ(a.body["properties"]["ipAddress"], "192.0.2.10");
  EXPECT_EQ(a.body["properties"]["publicIPAllocationMethod"], "Static");
  EXPECT_EQ(a.body["properties"]["publicIPAddressVersion"], "IPv4");
  EXPECT_EQ(a.body["properties"]["provisioningState"], "Succeeded");
  EXPECT_EQ(PublicIp("b").body["properties"]["ipAddress"], "192.0.2.11");
  // An update keeps the address; a deleted one's is free again.
  auto again = PublicIp("a", {{"tags", {{"env", "test"}}}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["properties"]["ipAddress"], "192.0.2.10");
  EXPECT_EQ(Delete(kPips + "a").status, 200);
  EXPECT_EQ(PublicIp("c").body["properties"]["ipAddress"], "192.0.2.10");

  ExpectRefused(
      [&] {
        return PublicIp("d", {{"properties", {{"publicIPAllocationMethod", "Dynamic"}}}});
      },
      400, "StandardSkuPublicIPAddressesMustBeStatic");
  ExpectRefused(
      [&] {
        return PublicIp("d", {{"sku", {{"name", "Basic"}}}});
      },
      400, "BasicSkuPublicIpAddressNotSupported");
  ExpectRefused(
      [&] {
        return PublicIp("d", {{"properties", {{"publicIPAddressVersion", "IPv6"}}}});
      },
      400, "InvalidRequestContent");
  ExpectRefused(
      [&] {
        return PublicIp("d", {{"properties", {{"idleTimeoutInMinutes", 31}}}});
      },
      400, "PublicIPIdleTimeoutIsOutOfRange");
  EXPECT_EQ(Get(kPips + "d").status, 404);
}

// ------------------------------------------------------------------ virtual network gateways

TEST_F(OnPremTest, VpnGatewayLivesInGatewaySubnetWithDerivedBgpSettings) {
  ASSERT_EQ(PublicIp("gwip").status, 201);
  auto g = Put(kGateways + "vpngw", Gateway());
  ASSERT_EQ(g.status, 201) << g.body.dump();
  const json& p = g.body["properties"];
  EXPECT_EQ(p["provisioningState"], "Succeeded");
  EXPECT_EQ(p["gatewayType"], "Vpn");
  EXPECT_EQ(p["vpnType"], "RouteBased");
  EXPECT_EQ(p["sku"]["name"], "VpnGw1");
  EXPECT_EQ(p["bgpSettings"]["asn"], 65515);
  EXPECT_EQ(p["bgpSettings"]["bgpPeeringAddress"], "10.0.255.30");  // last usable of the /27
  EXPECT_EQ(p["bgpSettings"]["bgpPeeringAddresses"][0]["tunnelIpAddresses"][0], "192.0.2.10");
  EXPECT_EQ(p["ipConfigurations"][0]["id"], kGateways + "vpngw/ipConfigurations/default");
  EXPECT_EQ(p["ipConfigurations"][0]["properties"]["subnet"]["id"], kGwSubnet);

  // The subnet and the public IP show who uses them and refuse to go.
  auto subnet = Get(kGwSubnet);
  ASSERT_EQ(subnet.body["properties"]["ipConfigurations"].size(), 1u) << subnet.body.dump();
  EXPECT_EQ(subnet.body["properties"]["ipConfigurations"][0]["id"], p["ipConfigurations"][0]["id"]);
  EXPECT_EQ(Get(kPips + "gwip").body["properties"]["ipConfiguration"]["id"],
            p["ipConfigurations"][0]["id"]);
  ExpectRefused([&] { return Delete(kGwSubnet); }, 400, "InUseSubnetCannotBeDeleted");
  ExpectRefused([&] { return Delete(kPips + "gwip"); }, 400, "PublicIPAddressCannotBeDeleted");
  ExpectRefused([&] { return Delete(kHub); }, 400, "InUseSubnetCannotBeDeleted");

  // An ExpressRoute gateway may share the subnet (one of each type), with its own address.
  auto er = Put(kGateways + "ergw", Gateway("ExpressRoute", ""));
  ASSERT_EQ(er.status, 201) << er.body.dump();
  EXPECT_EQ(er.body["properties"]["bgpSettings"]["bgpPeeringAddress"], "10.0.255.29");
  ASSERT_EQ(PublicIp("gwip2").status, 201);
  ExpectRefused([&] { return Put(kGateways + "vpngw2", Gateway("Vpn", "gwip2")); }, 400,
                "VnetGatewayAlreadyExists");

  // Deleting the gateway frees the subnet and the address.
  EXPECT_EQ(Delete(kGateways + "vpngw").status, 200);
  EXPECT_EQ(Delete(kPips + "gwip").status, 200);
}

TEST_F(OnPremTest, GatewayRulesAnswerAzuresErrorsAndWriteNothing) {
  ASSERT_EQ(PublicIp("gwip").status, 201);
  ExpectRefused(
      [&] { return Put(kGateways + "gw", Gateway("Vpn", "gwip", kHub + "/subnets/mysubnet")); },
      400, "InvalidGatewaySubnet");
  ExpectRefused(
      [&] { return Put(kGateways + "gw", Gateway("Vpn", "gwip", kHub + "/subnets/nope")); }, 400,
      "InvalidResourceReference");
  ExpectRefused([&] { return Put(kGateways + "gw", Gateway("Vpn", "")); }, 400,
                "VpnGatewayRequiresPublicIpAddress");
  ExpectRefused([&] { return Put(kGateways + "gw", Gateway("Vpn", "nope")); }, 400,
                "InvalidResourceReference");
  ExpectRefused(
      [&] {
        return Put(kGateways + "gw",
                   Gateway("Vpn", "gwip", kGwSubnet, {{"vpnType", "PolicyBased"}}));
      },
      400, "PolicyBasedGatewayNotSupported");
  ExpectRefused(
      [&] {
        return Put(kGateways + "gw",
                   Gateway("Vpn", "gwip", kGwSubnet, {{"sku", {{"name", "ErGw1AZ"}}}}));
      },
      400, "InvalidGatewaySku");
  ExpectRefused([&] { return Put(kGateways + "gw", Gateway("LocalGateway")); }, 400,
                "InvalidRequestContent");
  for (int64_t asn : {65517, 12076, 23456, 64500, 0}) {
    ExpectRefused(
        [&] {
          return Put(kGateways + "gw",
                     Gateway("Vpn", "gwip", kGwSubnet, {{"bgpSettings", {{"asn", asn}}}}));
        },
        400, "InvalidAsn");
  }
  ExpectRefused(
      [&] {
        return Put(kGateways + "gw",
                   Gateway("ExpressRoute", "", kGwSubnet, {{"bgpSettings", {{"asn", 65010}}}}));
      },
      400, "InvalidAsn");
  ExpectRefused(
      [&] {
        return Put(kGateways + "gw", Gateway("Vpn", "gwip", kGwSubnet, {{"activeActive", true}}));
      },
      400, "ActiveActiveGatewayNotSupported");
  EXPECT_EQ(Get(kGateways + "gw").status, 404);
  EXPECT_FALSE(Get(kGwSubnet).body["properties"].contains("ipConfigurations"));

  // A gateway of another region, and a public IP another gateway holds.
  ASSERT_EQ(Put(kGateways + "gw", Gateway("Vpn", "gwip", kGwSubnet,
                                          {{"enableBgp", true}, {"bgpSettings", {{"asn", 65010}}}}))
                .status,
            201);
  auto eastus = Gateway("ExpressRoute", "");
  eastus["location"] = "eastus";
  ExpectRefused([&] { return Put(kGateways + "er", eastus); }, 400, "InvalidResourceReference");
  ExpectRefused([&] { return Put(kGateways + "er", Gateway("ExpressRoute", "gwip")); }, 400,
                "PublicIPAddressInUse");
  // The VNet and type are fixed; the SKU and BGP may change.
  ExpectRefused([&] { return Put(kGateways + "gw", Gateway("ExpressRoute", "")); }, 400,
                "VirtualNetworkGatewayPropertyCannotBeUpdated");
  auto bigger = Patch(kGateways + "gw", {{"properties", {{"sku", {{"name", "VpnGw2"}}}}}});
  ASSERT_EQ(bigger.status, 200) << bigger.body.dump();
  EXPECT_EQ(bigger.body["properties"]["sku"]["name"], "VpnGw2");
  EXPECT_EQ(bigger.body["properties"]["bgpSettings"]["asn"], 65010);
  EXPECT_TRUE(bigger.body["properties"]["enableBgp"]);
}

// ------------------------------------------------------------------ local gateways, connections

TEST_F(OnPremTest, IpsecConnectionAnswersStatusFromTheDataPlaneAndHidesItsKey) {
  VpnGateway();
  auto c = Put(kConnections + "c1", IpsecConnection("vpngw", "site1"));
  ASSERT_EQ(c.status, 201) << c.body.dump();
  const json& p = c.body["properties"];
  EXPECT_EQ(p["connectionType"], "IPsec");
  EXPECT_EQ(p["connectionProtocol"], "IKEv2");
  EXPECT_EQ(p["connectionStatus"], "Unknown");
  EXPECT_EQ(p["ingressBytesTransferred"], 0);
  EXPECT_EQ(p["egressBytesTransferred"], 0);
  EXPECT_EQ(p["virtualNetworkGateway1"]["id"], kGateways + "vpngw");
  EXPECT_EQ(p["localNetworkGateway2"]["id"], kLocals + "site1");
  EXPECT_FALSE(p.contains("sharedKey"));
  auto key = Get(kConnections + "c1/sharedkey");
  ASSERT_EQ(key.status, 200) << key.body.dump();
  EXPECT_EQ(key.body["value"], "s3cret-psk");

  cp_->SetConnectionStatusProvider([](const std::string& id) -> std::optional<ConnectionStatus> {
    if (id != kConnections + "c1") return std::nullopt;
    return ConnectionStatus{"Connected", 1200, 3400};
  });
  auto live = Get(kConnections + "c1");
  EXPECT_EQ(live.body["properties"]["connectionStatus"], "Connected");
  EXPECT_EQ(live.body["properties"]["ingressBytesTransferred"], 1200);
  EXPECT_EQ(live.body["properties"]["egressBytesTransferred"], 3400);
  cp_->SetConnectionStatusProvider(nullptr);
  EXPECT_EQ(Get(kConnections + "c1").body["properties"]["connectionStatus"], "Unknown");

  // A PATCH keeps the key; a new key is one PUT away (`vpn-connection shared-key update`).
  ASSERT_EQ(Patch(kConnections + "c1", {{"tags", {{"a", "b"}}}}).status, 200);
  EXPECT_EQ(Get(kConnections + "c1/sharedkey").body["value"], "s3cret-psk");
  ASSERT_EQ(
      Put(kConnections + "c1", IpsecConnection("vpngw", "site1", {{"sharedKey", "other"}})).status,
      200);
  EXPECT_EQ(Get(kConnections + "c1/sharedkey").body["value"], "other");
  // Without one, a key is made.
  ASSERT_EQ(Put(kLocals + "site2", LocalGateway({"172.20.0.0/16"}, "192.0.2.131")).status, 201);
  json no_key = IpsecConnection("vpngw", "site2");
  no_key["properties"].erase("sharedKey");
  ASSERT_EQ(Put(kConnections + "c2", no_key).status, 201);
  EXPECT_EQ(Get(kConnections + "c2/sharedkey").body["value"].get<std::string>().size(), 32u);

  // In use: the gateway and the local gateway stay until the connection goes.
  ExpectRefused([&] { return Delete(kGateways + "vpngw"); }, 400,
                "VirtualNetworkGatewayCannotBeDeleted");
  ExpectRefused([&] { return Delete(kLocals + "site1"); }, 400,
                "LocalNetworkGatewayCannotBeDeleted");
  EXPECT_EQ(Delete(kConnections + "c1").status, 200);
  EXPECT_EQ(Delete(kLocals + "site1").status, 200);
}

TEST_F(OnPremTest, ConnectionRulesAnswerAzuresErrorsAndWriteNothing) {
  VpnGateway();
  ExpectRefused(
      [&] {
        return Put(kConnections + "c",
                   IpsecConnection("vpngw", "site1", {{"connectionProtocol", "IKEv1"}}));
      },
      400, "ConnectionProtocolNotSupported");
  ExpectRefused([&] { return Put(kConnections + "c", IpsecConnection("vpngw", "nope")); }, 400,
                "InvalidResourceReference");
  json one_end = IpsecConnection("vpngw", "site1");
  one_end["properties"].erase("localNetworkGateway2");
  ExpectRefused([&] { return Put(kConnections + "c", one_end); }, 400,
                "GatewayConnectionMustHaveExactlyTwoEndpoints");
  ExpectRefused(
      [&] {
        return Put(kConnections + "c",
                   IpsecConnection("vpngw", "site1", {{"connectionType", "Vnet2Vnet"}}));
      },
      400, "ConnectionTypeNotSupported");
  ExpectRefused(
      [&] {
        return Put(kConnections + "c",
                   IpsecConnection("vpngw", "site1", {{"sharedKey", "has space"}}));
      },
      400, "InvalidRequestContent");
  ExpectRefused(
      [&] {
        return Put(kConnections + "c", IpsecConnection("vpngw", "site1", {{"enableBgp", true}}));
      },
      400, "BgpNotEnabledOnGateways");
  // An ExpressRoute gateway takes no IPsec connection.
  ASSERT_EQ(Put(kGateways + "ergw", Gateway("ExpressRoute", "")).status, 201);
  ExpectRefused([&] { return Put(kConnections + "c", IpsecConnection("ergw", "site1")); }, 400,
                "InvalidGatewayTypeForConnection");
  // On-premises prefixes that overlap the VNet.
  ASSERT_EQ(Put(kLocals + "overlap", LocalGateway({"10.0.5.0/24"}, "192.0.2.140")).status, 201);
  ExpectRefused([&] { return Put(kConnections + "c", IpsecConnection("vpngw", "overlap")); }, 400,
                "LocalNetworkGatewayAddressSpaceOverlapsVirtualNetwork");
  EXPECT_EQ(Get(kConnections + "c").status, 404);
  // ... or another site connected to the same gateway.
  ASSERT_EQ(Put(kConnections + "c1", IpsecConnection("vpngw", "site1")).status, 201);
  ASSERT_EQ(Put(kLocals + "site2", LocalGateway({"192.168.128.0/17"}, "192.0.2.141")).status, 201);
  ExpectRefused([&] { return Put(kConnections + "c2", IpsecConnection("vpngw", "site2")); }, 400,
                "LocalNetworkGatewayAddressSpacesOverlap");
  ExpectRefused([&] { return Put(kConnections + "c3", IpsecConnection("vpngw", "site1")); }, 400,
                "ConnectionAlreadyExists");
  // A connected site cannot move into the VNet's space; its prefixes stay as they were.
  ExpectRefused([&] { return Put(kLocals + "site1", LocalGateway({"10.0.0.0/8"})); }, 400,
                "LocalNetworkGatewayAddressSpaceOverlapsVirtualNetwork");
  EXPECT_EQ(
      Get(kLocals + "site1").body["properties"]["localNetworkAddressSpace"]["addressPrefixes"],
      json({"192.168.0.0/16"}));
  ExpectRefused([&] { return Put(kConnections + "c1", IpsecConnection("vpngw", "site2")); }, 400,
                "ConnectionPropertyCannotBeUpdated");
  // Local gateways' own rules.
  ExpectRefused(
      [&] { return Put(kLocals + "bad", LocalGateway({"192.168.0.0/16"}, "site.example")); }, 400,
      "InvalidRequestContent");
  ExpectRefused([&] { return Put(kLocals + "bad", LocalGateway({"192.168.0.1/16"})); }, 400,
                "InvalidCIDRNotation");
  ExpectRefused(
      [&] {
        return Put(kLocals + "bad",
                   LocalGateway({"192.168.0.0/16"}, "192.0.2.130",
                                {{"asn", 65515}, {"bgpPeeringAddress", "192.168.0.1"}}));
      },
      400, "InvalidAsn");
}

TEST_F(OnPremTest, BgpConnectionsNeedBgpOnBothEndsWithDifferentAsns) {
  ASSERT_EQ(PublicIp("gwip").status, 201);
  ASSERT_EQ(
      Put(kGateways + "vpngw", Gateway("Vpn", "gwip", kGwSubnet, {{"enableBgp", true}})).status,
      201);
  ASSERT_EQ(
      Put(kLocals + "same",
          LocalGateway({}, "192.0.2.130", {{"asn", 65515}, {"bgpPeeringAddress", "192.168.0.1"}}))
          .status,
      400);  // 65515 is Azure's
  ASSERT_EQ(
      Put(kLocals + "site",
          LocalGateway({}, "192.0.2.130", {{"asn", 65010}, {"bgpPeeringAddress", "192.168.0.1"}}))
          .status,
      201);
  auto c = Put(kConnections + "c", IpsecConnection("vpngw", "site", {{"enableBgp", true}}));
  ASSERT_EQ(c.status, 201) << c.body.dump();
  EXPECT_TRUE(c.body["properties"]["enableBgp"]);
  // The gateway's ASN changed to the site's: a mismatch the next connection write refuses.
  ASSERT_EQ(
      Patch(kGateways + "vpngw", {{"properties", {{"bgpSettings", {{"asn", 65010}}}}}}).status,
      200);
  ExpectRefused(
      [&] {
        return Put(kConnections + "c", IpsecConnection("vpngw", "site", {{"enableBgp", true}}));
      },
      400, "BgpAsnMustDiffer");
}

TEST_F(OnPremTest, SpokesUsingTheHubGatewayCountInTheOverlapCheck) {
  VpnGateway();
  auto spoke = Put(kNet + "/virtualNetworks/spoke",
                   {{"location", "westus"},
                    {"properties", {{"addressSpace", {{"addressPrefixes", {"10.1.0.0/16"}}}}}}});
  ASSERT_EQ(spoke.status, 201);
  json transit = {{"properties",
                   {{"remoteVirtualNetwork", {{"id", kNet + "/virtualNetworks/spoke"}}},
                    {"allowGatewayTransit", false}}}};
  ASSERT_EQ(Put(kHub + "/virtualNetworkPeerings/to-spoke", transit).status, 201);
  json use = {
      {"properties", {{"remoteVirtualNetwork", {{"id", kHub}}}, {"useRemoteGateways", true}}}};
  ExpectRefused(
      [&] { return Put(kNet + "/virtualNetworks/spoke/virtualNetworkPeerings/to-hub", use); }, 400,
      "RemotePeeringDoesNotAllowGatewayTransit");
  transit["properties"]["allowGatewayTransit"] = true;
  ASSERT_EQ(Put(kHub + "/virtualNetworkPeerings/to-spoke", transit).status, 200);
  auto peering = Put(kNet + "/virtualNetworks/spoke/virtualNetworkPeerings/to-hub", use);
  ASSERT_EQ(peering.status, 201) << peering.body.dump();
  // The spoke has no gateway to lend.
  ExpectRefused(
      [&] {
        return Put(kHub + "/virtualNetworkPeerings/to-spoke",
                   {{"properties",
                     {{"remoteVirtualNetwork", {{"id", kNet + "/virtualNetworks/spoke"}}},
                      {"useRemoteGateways", true}}}});
      },
      400, "RemotePeeringDoesNotHaveGateway");
  ASSERT_EQ(Put(kLocals + "spoky", LocalGateway({"10.1.128.0/17"}, "192.0.2.150")).status, 201);
  ExpectRefused([&] { return Put(kConnections + "c", IpsecConnection("vpngw", "spoky")); }, 400,
                "LocalNetworkGatewayAddressSpaceOverlapsVirtualNetwork");
  ExpectRefused([&] { return Delete(kGateways + "vpngw"); }, 400,
                "VirtualNetworkGatewayCannotBeDeleted");
  auto view = cp_->snapshot();
  bool found = false;
  for (const auto& v : view->vnets) {
    for (const auto& pr : v.peerings) {
      if (pr.name == "to-hub") {
        found = true;
        EXPECT_TRUE(pr.use_remote_gateways);
      }
      if (pr.name == "to-spoke") {
        EXPECT_TRUE(pr.allow_gateway_transit);
      }
    }
  }
  EXPECT_TRUE(found);
}

// ------------------------------------------------------------------ ExpressRoute

TEST_F(OnPremTest, CircuitWithPrivatePeeringAndItsConnection) {
  auto c = Put(kCircuits + "er1", Circuit());
  ASSERT_EQ(c.status, 201) << c.body.dump();
  EXPECT_EQ(c.body["sku"]["name"], "Standard_MeteredData");
  EXPECT_EQ(c.body["properties"]["circuitProvisioningState"], "Enabled");
  EXPECT_EQ(c.body["properties"]["serviceProviderProvisioningState"], "Provisioned");
  EXPECT_EQ(c.body["properties"]["serviceKey"].get<std::string>().size(), 36u);
  EXPECT_EQ(c.body["properties"]["peerings"], json::array());
  ExpectRefused([&] { return Put(kCircuits + "er2", Circuit(75)); }, 400,
                "InvalidCircuitBandwidth");
  json premium = Circuit();
  premium["sku"] = {{"name", "Premium_UnlimitedData"}};
  auto p2 = Put(kCircuits + "er2", premium);
  ASSERT_EQ(p2.status, 201) << p2.body.dump();
  EXPECT_EQ(p2.body["sku"]["tier"], "Premium");
  EXPECT_EQ(p2.body["sku"]["family"], "UnlimitedData");
  ExpectRefused([&] { return Put(kCircuits + "er2", Circuit()); }, 400,
                "CircuitSkuFamilyCannotBeChanged");
  EXPECT_EQ(Put(kCircuits + "er1", Circuit(100)).status, 200);  // more bandwidth: fine

  const std::string peering = kCircuits + "er1/peerings/AzurePrivatePeering";
  ExpectRefused([&] { return Put(kCircuits + "er1", Circuit(50)); }, 400,
                "CircuitBandwidthCannotBeDecreased");
  ExpectRefused([&] { return Put(peering, Peering(65515)); }, 400, "InvalidAsn");
  ExpectRefused([&] { return Put(peering, Peering(12076)); }, 400, "InvalidAsn");
  ExpectRefused([&] { return Put(peering, Peering(65010, 0)); }, 400, "InvalidVlanId");
  ExpectRefused([&] { return Put(peering, Peering(65010, 4095)); }, 400, "InvalidVlanId");
  ExpectRefused([&] { return Put(peering, Peering(65010, 100, "172.16.0.0/29")); }, 400,
                "InvalidPeeringAddressPrefix");
  ExpectRefused([&] { return Put(peering, Peering(65010, 100, "172.16.0.0/30", "172.16.0.0/30")); },
                400, "InvalidPeeringAddressPrefix");
  ExpectRefused(
      [&] {
        return Put(kCircuits + "er1/peerings/MicrosoftPeering",
                   {{"properties", {{"peeringType", "MicrosoftPeering"}}}});
      },
      400, "PeeringTypeNotSupported");

  // The ExpressRoute gateway, and a connection that needs the peering first.
  ASSERT_EQ(Put(kGateways + "ergw", Gateway("ExpressRoute", "")).status, 201);
  json er_conn = {{"location", "westus"},
                  {"properties",
                   {{"connectionType", "ExpressRoute"},
                    {"virtualNetworkGateway1", {{"id", kGateways + "ergw"}}},
                    {"peer", {{"id", kCircuits + "er1"}}}}}};
  ExpectRefused([&] { return Put(kConnections + "er", er_conn); }, 400,
                "ExpressRouteCircuitPrivatePeeringNotConfigured");
  auto pr = Put(peering, Peering());
  ASSERT_EQ(pr.status, 201) << pr.body.dump();
  EXPECT_EQ(pr.body["properties"]["azureASN"], 12076);
  EXPECT_EQ(pr.body["properties"]["state"], "Enabled");
  auto conn = Put(kConnections + "er", er_conn);
  ASSERT_EQ(conn.status, 201) << conn.body.dump();
  EXPECT_EQ(conn.body["properties"]["connectionStatus"], "Unknown");
  auto circuit = Get(kCircuits + "er1");
  ASSERT_EQ(circuit.body["properties"]["peerings"].size(), 1u);
  EXPECT_EQ(circuit.body["properties"]["peerings"][0]["properties"]["connections"][0]["id"],
            kConnections + "er");
  EXPECT_EQ(Get(kConnections + "er/sharedkey").Code(), "SharedKeyNotApplicable");

  ExpectRefused([&] { return Delete(kCircuits + "er1"); }, 400,
                "ExpressRouteCircuitCannotBeDeleted");
  ExpectRefused([&] { return Delete(peering); }, 400, "ExpressRouteCircuitPeeringCannotBeDeleted");
  // Withdrawing the peering: state Disabled (the data plane drops the BGP session).
  auto off = Patch(peering, {{"properties", {{"state", "Disabled"}}}});
  ASSERT_EQ(off.status, 200) << off.body.dump();
  EXPECT_EQ(off.body["properties"]["state"], "Disabled");
  EXPECT_FALSE(cp_->snapshot()->circuits.front().peerings.front().enabled);
}

// ------------------------------------------------------------------ DNS Private Resolver

TEST_F(OnPremTest, ResolverEndpointsNeedDelegatedDedicatedSubnets) {
  auto plain = Put(kHub + "/subnets/inbound", Subnet("inbound", "10.0.10.0/28"));
  ASSERT_EQ(plain.status, 201);
  auto r = Put(kResolvers + "resolver",
               {{"location", "westus"}, {"properties", {{"virtualNetwork", {{"id", kHub}}}}}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["properties"]["dnsResolverState"], "Connected");
  ExpectRefused(
      [&] {
        return Put(kResolvers + "second",
                   {{"location", "westus"}, {"properties", {{"virtualNetwork", {{"id", kHub}}}}}});
      },
      400, "DnsResolverAlreadyExistsForVirtualNetwork");

  auto inbound = [&](const std::string& name, const std::string& subnet, const json& extra = {}) {
    json ipc = {{"subnet", {{"id", kHub + "/subnets/" + subnet}}},
                {"privateIpAllocationMethod", "Dynamic"}};
    if (!extra.is_null()) ipc.update(extra);
    return Put(kResolvers + "resolver/inboundEndpoints/" + name,
               {{"location", "westus"}, {"properties", {{"ipConfigurations", {ipc}}}}});
  };
  ExpectRefused([&] { return inbound("in", "inbound"); }, 400, "SubnetMissingRequiredDelegation");
  auto delegated = Put(kHub + "/subnets/inbound", Subnet("inbound", "10.0.10.0/28", true));
  ASSERT_EQ(delegated.status, 200) << delegated.body.dump();
  EXPECT_EQ(delegated.body["properties"]["delegations"][0]["properties"]["serviceName"],
            "Microsoft.Network/dnsResolvers");
  auto in = inbound("in", "inbound");
  ASSERT_EQ(in.status, 201) << in.body.dump();
  EXPECT_EQ(in.body["type"], "Microsoft.Network/dnsResolvers/inboundEndpoints");
  EXPECT_EQ(in.body["properties"]["ipConfigurations"][0]["privateIpAddress"], "10.0.10.4");
  // The subnet is the endpoint's alone.
  ExpectRefused(
      [&] {
        return inbound(
            "in2", "inbound",
            {{"privateIpAllocationMethod", "Static"}, {"privateIpAddress", "10.0.10.5"}});
      },
      400, "BadRequest");
  ExpectRefused([&] { return Delete(kHub + "/subnets/inbound"); }, 400,
                "InUseSubnetCannotBeDeleted");
  json undelegated = Subnet("inbound", "10.0.10.0/28");
  undelegated["properties"]["delegations"] = json::array();
  ExpectRefused([&] { return Put(kHub + "/subnets/inbound", undelegated); }, 400,
                "InUseSubnetCannotBeUpdated");
  // Sizes /28 to /24 only.
  DelegatedSubnet("tiny", "10.0.11.0/29");
  ExpectRefused([&] { return inbound("in3", "tiny"); }, 400, "BadRequest");
  // A static address in its own subnet, inside and not reserved.
  DelegatedSubnet("inbound2", "10.0.12.0/28");
  ExpectRefused(
      [&] {
        return inbound(
            "in3", "inbound2",
            {{"privateIpAllocationMethod", "Static"}, {"privateIpAddress", "10.0.12.2"}});
      },
      400, "PrivateIPAddressNotInSubnet");
  auto in3 = inbound("in3", "inbound2",
                     {{"privateIpAllocationMethod", "Static"}, {"privateIpAddress", "10.0.12.9"}});
  ASSERT_EQ(in3.status, 201) << in3.body.dump();
  EXPECT_EQ(in3.body["properties"]["ipConfigurations"][0]["privateIpAddress"], "10.0.12.9");

  // Outbound endpoints: their own delegated subnet too.
  auto outbound = [&](const std::string& name, const std::string& subnet) {
    return Put(kResolvers + "resolver/outboundEndpoints/" + name,
               {{"location", "westus"},
                {"properties", {{"subnet", {{"id", kHub + "/subnets/" + subnet}}}}}});
  };
  ExpectRefused([&] { return outbound("out", "inbound"); }, 400, "BadRequest");
  ExpectRefused([&] { return outbound("out", "mysubnet"); }, 400,
                "SubnetMissingRequiredDelegation");
  DelegatedSubnet("outbound", "10.0.13.0/28");
  ASSERT_EQ(outbound("out", "outbound").status, 201);

  // A subnet of another VNet.
  auto other = Put(kNet + "/virtualNetworks/other",
                   {{"location", "westus"},
                    {"properties",
                     {{"addressSpace", {{"addressPrefixes", {"10.9.0.0/16"}}}},
                      {"subnets", {Subnet("d", "10.9.0.0/28", true)}}}}});
  ASSERT_EQ(other.status, 201);
  ExpectRefused(
      [&] {
        return Put(
            kResolvers + "resolver/outboundEndpoints/o2",
            {{"location", "westus"},
             {"properties", {{"subnet", {{"id", kNet + "/virtualNetworks/other/subnets/d"}}}}}});
      },
      400, "SubnetNotInDnsResolverVirtualNetwork");
}

TEST_F(OnPremTest, ForwardingRulesetsRulesAndLinks) {
  DelegatedSubnet("outbound", "10.0.13.0/28");
  ASSERT_EQ(Put(kResolvers + "resolver",
                {{"location", "westus"}, {"properties", {{"virtualNetwork", {{"id", kHub}}}}}})
                .status,
            201);
  const std::string out = kResolvers + "resolver/outboundEndpoints/out";
  ASSERT_EQ(Put(out, {{"location", "westus"},
                      {"properties", {{"subnet", {{"id", kHub + "/subnets/outbound"}}}}}})
                .status,
            201);
  ExpectRefused(
      [&] {
        return Put(kRulesets + "rs",
                   {{"location", "westus"},
                    {"properties", {{"dnsResolverOutboundEndpoints", json::array()}}}});
      },
      400, "InvalidRequestContent");
  auto rs =
      Put(kRulesets + "rs", {{"location", "westus"},
                             {"properties", {{"dnsResolverOutboundEndpoints", {{{"id", out}}}}}}});
  ASSERT_EQ(rs.status, 201) << rs.body.dump();
  auto rule = [&](const std::string& name, const std::string& domain, const json& targets) {
    return Put(kRulesets + "rs/forwardingRules/" + name, {{"properties",
                                                           {{"domainName", domain},
                                                            {"targetDnsServers", targets},
                                                            {"forwardingRuleState", "Enabled"}}}});
  };
  json targets = {{{"ipAddress", "192.168.0.53"}, {"port", 53}}};
  ExpectRefused([&] { return rule("corp", "corp.example", targets); }, 400, "InvalidDomainName");
  ExpectRefused([&] { return rule("corp", "corp.example.", json::array()); }, 400,
                "InvalidRequestContent");
  ExpectRefused(
      [&] {
        return rule("corp", "corp.example.", {{{"ipAddress", "nope"}}});
      },
      400, "InvalidRequestContent");
  auto r = rule("corp", "corp.example.", {{{"ipAddress", "192.168.0.53"}}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["type"], "Microsoft.Network/dnsForwardingRulesets/forwardingRules");
  EXPECT_EQ(r.body["properties"]["targetDnsServers"][0]["port"], 53);
  ExpectRefused([&] { return rule("again", "CORP.example.", targets); }, 400,
                "ForwardingRuleDomainNameAlreadyExists");
  auto link = Put(kRulesets + "rs/virtualNetworkLinks/hub",
                  {{"properties", {{"virtualNetwork", {{"id", kHub}}}}}});
  ASSERT_EQ(link.status, 201) << link.body.dump();
  ExpectRefused(
      [&] {
        return Put(kRulesets + "rs/virtualNetworkLinks/again",
                   {{"properties", {{"virtualNetwork", {{"id", kHub}}}}}});
      },
      400, "VirtualNetworkLinkAlreadyExists");
  ExpectRefused([&] { return Delete(out); }, 400, "InUseOutboundEndpointCannotBeDeleted");
  ExpectRefused([&] { return Delete(kResolvers + "resolver"); }, 400,
                "InUseOutboundEndpointCannotBeDeleted");

  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->forwarding_rulesets.size(), 1u);
  const auto& view = snap->forwarding_rulesets[0];
  EXPECT_EQ(view.outbound_endpoint_ids, std::vector<std::string>{out});
  ASSERT_EQ(view.rules.size(), 1u);
  EXPECT_EQ(view.rules[0].domain, "corp.example.");
  EXPECT_EQ(view.rules[0].targets[0].ip, "192.168.0.53");
  EXPECT_EQ(view.rules[0].targets[0].port, 53);
  EXPECT_TRUE(view.rules[0].enabled);
  EXPECT_EQ(view.vnet_ids, std::vector<std::string>{kHub});
  // The ruleset goes first; then the resolver with its endpoints.
  EXPECT_EQ(Delete(kRulesets + "rs").status, 200);
  EXPECT_EQ(Delete(kResolvers + "resolver").status, 200);
  EXPECT_EQ(Get(out).status, 404);
}

// ------------------------------------------------------------------ on-premises sites

TEST_F(OnPremTest, SitesAndTheirMachines) {
  json site = {
      {"location", "westus"},
      {"properties",
       {{"addressPrefixes", {"192.168.0.0/16"}},
        {"dnsServer",
         {{"software", "bind"},
          {"forwarders", {{{"domainName", "azurecr.io"}, {"targetDnsServers", {"10.0.10.4"}}}}}}},
        {"bgp", {{"asn", 65010}}}}}};
  auto s = Put(kSites + "site1", site);
  ASSERT_EQ(s.status, 201) << s.body.dump();
  EXPECT_EQ(s.body["type"], "Cove.OnPremises/sites");
  const json& p = s.body["properties"];
  EXPECT_EQ(p["publicIpAddress"], "192.0.2.130");
  EXPECT_EQ(p["routerAddress"], "192.168.0.1");
  EXPECT_EQ(p["dnsServer"]["address"], "192.168.0.53");
  EXPECT_EQ(p["dnsServer"]["forwarders"][0]["domainName"], "azurecr.io");
  EXPECT_EQ(p["bgp"]["asn"], 65010);
  EXPECT_EQ(Get(kSub + "/providers/Cove.OnPremises").body["registrationState"], "Registered");

  auto m1 = Put(kSites + "site1/machines/m1", json::object());
  ASSERT_EQ(m1.status, 201) << m1.body.dump();
  EXPECT_EQ(m1.body["properties"]["address"], "192.168.0.10");
  EXPECT_EQ(Put(kSites + "site1/machines/m2", json::object()).body["properties"]["address"],
            "192.168.0.11");
  ExpectRefused(
      [&] {
        return Put(kSites + "site1/machines/m3", {{"properties", {{"address", "192.168.0.53"}}}});
      },
      400, "InvalidMachineAddress");
  ExpectRefused(
      [&] {
        return Put(kSites + "site1/machines/m3", {{"properties", {{"address", "192.168.0.1"}}}});
      },
      400, "InvalidMachineAddress");
  ExpectRefused(
      [&] {
        return Put(kSites + "site1/machines/m3", {{"properties", {{"address", "10.0.0.9"}}}});
      },
      400, "InvalidMachineAddress");
  ExpectRefused(
      [&] {
        return Put(kSites + "site1/machines/m3", {{"properties", {{"address", "192.168.0.10"}}}});
      },
      400, "MachineAddressInUse");
  EXPECT_EQ(
      Put(kSites + "site1/machines/m3", {{"properties", {{"address", "192.168.7.7"}}}}).status,
      201);

  // Site rules.
  json moved = site;
  moved["properties"]["addressPrefixes"] = {"172.30.0.0/16"};
  moved["properties"]["dnsServer"].erase("address");
  ExpectRefused([&] { return Put(kSites + "site1", moved); }, 400,
                "InUseSiteAddressPrefixCannotBeChanged");
  json bad = site;
  bad["properties"]["publicIpAddress"] = "192.0.2.10";
  ExpectRefused([&] { return Put(kSites + "site2", bad); }, 400, "InvalidPublicIpAddress");
  bad["properties"]["publicIpAddress"] = "192.0.2.130";
  ExpectRefused([&] { return Put(kSites + "site2", bad); }, 400, "PublicIPAddressInUse");
  bad = site;
  bad["properties"]["bgp"]["asn"] = 65515;
  ExpectRefused([&] { return Put(kSites + "site2", bad); }, 400, "InvalidAsn");
  bad = site;
  bad["properties"]["dnsServer"]["software"] = "none";
  ExpectRefused([&] { return Put(kSites + "site2", bad); }, 400, "InvalidRequestContent");
  bad = site;
  bad["properties"]["dnsServer"]["software"] = "dnsmasq";
  ExpectRefused([&] { return Put(kSites + "site2", bad); }, 400, "InvalidRequestContent");
  bad = site;
  bad["properties"]["addressPrefixes"] = {"192.168.0.0/16", "192.168.5.0/24"};
  ExpectRefused([&] { return Put(kSites + "site2", bad); }, 400, "SiteAddressPrefixesOverlap");
  bad = site;
  bad["properties"]["dnsServer"]["address"] = "192.168.0.1";
  ExpectRefused([&] { return Put(kSites + "site2", bad); }, 400, "InvalidDnsServerAddress");
  EXPECT_EQ(Get(kSites + "site2").status, 404);

  // A second site takes the next address; none has no DNS server.
  auto s2 = Put(kSites + "site2",
                {{"location", "westus"}, {"properties", {{"addressPrefixes", {"172.31.0.0/24"}}}}});
  ASSERT_EQ(s2.status, 201) << s2.body.dump();
  EXPECT_EQ(s2.body["properties"]["publicIpAddress"], "192.0.2.131");
  EXPECT_EQ(s2.body["properties"]["dnsServer"]["software"], "none");
  EXPECT_EQ(s2.body["properties"]["dnsServer"]["address"], "");

  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->sites.size(), 2u);
  const SiteView& v = snap->sites[0];
  EXPECT_EQ(v.id, kSites + "site1");
  EXPECT_EQ(v.address_prefixes, std::vector<std::string>{"192.168.0.0/16"});
  EXPECT_EQ(v.public_ip, "192.0.2.130");
  EXPECT_EQ(v.dns_software, "bind");
  EXPECT_EQ(v.dns_address, "192.168.0.53");
  ASSERT_EQ(v.forwarders.size(), 1u);
  EXPECT_EQ(v.forwarders[0].domain, "azurecr.io");
  EXPECT_EQ(v.forwarders[0].targets, std::vector<std::string>{"10.0.10.4"});
  EXPECT_EQ(v.bgp_asn, 65010u);
  ASSERT_EQ(v.machines.size(), 3u);
  EXPECT_EQ(v.machines[0].name, "m1");
  EXPECT_EQ(v.machines[0].address, "192.168.0.10");
  EXPECT_EQ(Delete(kSites + "site1").status, 200);
  EXPECT_EQ(Get(kSites + "site1/machines/m1").status, 404);
}

// ------------------------------------------------------------------ views and group deletes

TEST_F(OnPremTest, ViewsCarryWhatTheDataPlaneNeeds) {
  Everything();

  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->public_ips.size(), 1u);
  EXPECT_EQ(snap->public_ips[0].address, "192.0.2.10");
  EXPECT_EQ(snap->public_ips[0].name, "gwip");
  ASSERT_EQ(snap->vnet_gateways.size(), 2u);
  const VnetGatewayView& er = snap->vnet_gateways[0];
  const VnetGatewayView& vpn = snap->vnet_gateways[1];
  EXPECT_EQ(vpn.id, kGateways + "vpngw");
  EXPECT_EQ(vpn.vnet_id, kHub);
  EXPECT_EQ(vpn.gateway_subnet_id, kGwSubnet);
  EXPECT_EQ(vpn.gateway_subnet_prefix, "10.0.255.0/27");
  EXPECT_EQ(vpn.gateway_type, "Vpn");
  EXPECT_EQ(vpn.public_ip, "192.0.2.10");
  EXPECT_EQ(vpn.bgp_asn, 65515u);
  EXPECT_EQ(vpn.bgp_peering_address, "10.0.255.30");
  EXPECT_EQ(er.gateway_type, "ExpressRoute");
  EXPECT_EQ(er.public_ip, "");
  EXPECT_EQ(er.bgp_peering_address, "10.0.255.29");
  ASSERT_EQ(snap->local_gateways.size(), 1u);
  EXPECT_EQ(snap->local_gateways[0].gateway_ip, "192.0.2.130");
  EXPECT_EQ(snap->local_gateways[0].address_prefixes, std::vector<std::string>{"192.168.0.0/16"});
  EXPECT_EQ(snap->local_gateways[0].bgp_asn, 0u);
  ASSERT_EQ(snap->connections.size(), 2u);
  const ConnectionView& ipsec = snap->connections[0];
  EXPECT_EQ(ipsec.type, "IPsec");
  EXPECT_EQ(ipsec.gateway_id, kGateways + "vpngw");
  EXPECT_EQ(ipsec.local_gateway_id, kLocals + "site1");
  EXPECT_EQ(ipsec.shared_key, "s3cret-psk");
  EXPECT_EQ(ipsec.protocol, "IKEv2");
  const ConnectionView& expressroute = snap->connections[1];
  EXPECT_EQ(expressroute.type, "ExpressRoute");
  EXPECT_EQ(expressroute.circuit_id, kCircuits + "er1");
  ASSERT_EQ(snap->circuits.size(), 1u);
  const CircuitView& circuit = snap->circuits[0];
  EXPECT_EQ(circuit.bandwidth_mbps, 50);
  EXPECT_EQ(circuit.provider, "Equinix");
  EXPECT_EQ(circuit.peering_location, "Silicon Valley");
  ASSERT_EQ(circuit.peerings.size(), 1u);
  EXPECT_EQ(circuit.peerings[0].name, "AzurePrivatePeering");
  EXPECT_EQ(circuit.peerings[0].peer_asn, 65010u);
  EXPECT_EQ(circuit.peerings[0].azure_asn, 12076u);
  EXPECT_EQ(circuit.peerings[0].vlan_id, 100);
  EXPECT_EQ(circuit.peerings[0].primary_prefix, "172.16.0.0/30");
  EXPECT_EQ(circuit.peerings[0].secondary_prefix, "172.16.0.4/30");
  EXPECT_TRUE(circuit.peerings[0].enabled);
  ASSERT_EQ(snap->dns_resolvers.size(), 1u);
  const DnsResolverView& resolver = snap->dns_resolvers[0];
  EXPECT_EQ(resolver.vnet_id, kHub);
  ASSERT_EQ(resolver.inbound.size(), 1u);
  EXPECT_EQ(resolver.inbound[0].address, "10.0.10.4");
  EXPECT_EQ(resolver.inbound[0].subnet_id, kHub + "/subnets/inbound");
  ASSERT_EQ(resolver.outbound.size(), 1u);
  EXPECT_EQ(resolver.outbound[0].subnet_id, kHub + "/subnets/outbound");
}

TEST_F(OnPremTest, ResourceGroupDeleteTakesEverythingInOrder) {
  Everything();
  auto deleted = Delete(kRg);
  EXPECT_EQ(deleted.status, 200) << deleted.body.dump();
  auto snap = cp_->snapshot();
  EXPECT_TRUE(snap->vnets.empty());
  EXPECT_TRUE(snap->vnet_gateways.empty());
  EXPECT_TRUE(snap->connections.empty());
  EXPECT_TRUE(snap->public_ips.empty());
  EXPECT_TRUE(snap->circuits.empty());
  EXPECT_TRUE(snap->dns_resolvers.empty());
  EXPECT_TRUE(snap->forwarding_rulesets.empty());
  EXPECT_TRUE(snap->sites.empty());
  for (const auto& [key, doc] : snap->documents) {
    EXPECT_EQ(key.find("/resourcegroups/rg"), std::string::npos) << key;
  }
}

// ------------------------------------------------------------------ robustness

// Every value of every valid body above, replaced by values of every other JSON type: each
// request, new or an update, is answered (4xx with ARM's error code, or success), never a 5xx.
TEST_F(OnPremTest, GarbageBodiesAreAnsweredNotCrashedOn) {
  Everything();
  const std::string out = kResolvers + "resolver/outboundEndpoints/out";
  json public_ip = {
      {"location", "westus"},
      {"sku", {{"name", "Standard"}}},
      {"properties", {{"publicIPAllocationMethod", "Static"}, {"idleTimeoutInMinutes", 4}}}};
  json site = {
      {"location", "westus"},
      {"properties",
       {{"addressPrefixes", {"192.168.0.0/16"}},
        {"publicIpAddress", "192.0.2.130"},
        {"dnsServer",
         {{"software", "bind"},
          {"address", "192.168.0.53"},
          {"forwarders", {{{"domainName", "azurecr.io"}, {"targetDnsServers", {"10.0.10.4"}}}}}}},
        {"bgp", {{"asn", 65010}}}}}};
  std::vector<std::pair<std::string, json>> bodies = {
      {kPips + "gwip", public_ip},
      {kGateways + "vpngw",
       Gateway("Vpn", "gwip", kGwSubnet,
               {{"enableBgp", true}, {"bgpSettings", {{"asn", 65010}, {"peerWeight", 1}}}})},
      {kLocals + "site1", LocalGateway({"192.168.0.0/16"}, "192.0.2.130",
                                       {{"asn", 65020}, {"bgpPeeringAddress", "192.168.0.1"}})},
      {kConnections + "c1",
       IpsecConnection("vpngw", "site1", {{"routingWeight", 1}, {"connectionProtocol", "IKEv2"}})},
      {kCircuits + "er1", Circuit()},
      {kCircuits + "er1/peerings/AzurePrivatePeering", Peering()},
      {kResolvers + "resolver",
       {{"location", "westus"}, {"properties", {{"virtualNetwork", {{"id", kHub}}}}}}},
      {kResolvers + "resolver/inboundEndpoints/in",
       {{"location", "westus"},
        {"properties",
         {{"ipConfigurations",
           {{{"subnet", {{"id", kHub + "/subnets/inbound"}}},
             {"privateIpAllocationMethod", "Static"},
             {"privateIpAddress", "10.0.10.4"}}}}}}}},
      {out,
       {{"location", "westus"},
        {"properties", {{"subnet", {{"id", kHub + "/subnets/outbound"}}}}}}},
      {kRulesets + "rs",
       {{"location", "westus"},
        {"properties", {{"dnsResolverOutboundEndpoints", {{{"id", out}}}}}}}},
      {kRulesets + "rs/forwardingRules/r",
       {{"properties",
         {{"domainName", "corp.example."},
          {"targetDnsServers", {{{"ipAddress", "192.168.0.53"}, {"port", 53}}}},
          {"forwardingRuleState", "Enabled"},
          {"metadata", {{"k", "v"}}}}}}},
      {kRulesets + "rs/virtualNetworkLinks/l",
       {{"properties", {{"virtualNetwork", {{"id", kHub}}}, {"metadata", {{"k", "v"}}}}}}},
      {kSites + "site1", site},
      {kSites + "site1/machines/m", {{"properties", {{"address", "192.168.0.10"}}}}},
  };
  std::vector<json> garbage = {
      json(1),    json("x"),      json::array(),    json(nullptr),
      json(true), json::object(), json({{"a", 1}}), json::array({1, "2", nullptr}),
      json(-1),   json(1e300)};
  // Every path (as JSON pointers) of a body's values.
  std::function<void(const json&, const json::json_pointer&, std::vector<json::json_pointer>&)>
      paths =
          [&](const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
            if (!at.empty()) out.push_back(at);
            if (j.is_object()) {
              for (const auto& [k, v] : j.items()) paths(v, at / k, out);
            } else if (j.is_array()) {
              for (size_t i = 0; i < j.size(); ++i) paths(j[i], at / i, out);
            }
          };
  int answered = 0;
  for (const auto& [path, body] : bodies) {
    auto valid = Put(path, body);
    ASSERT_LT(valid.status, 300) << path << " " << valid.body.dump();
    std::vector<json::json_pointer> where;
    paths(body, json::json_pointer(), where);
    for (const auto& at : where) {
      for (const auto& g : garbage) {
        json bad = body;
        bad[at] = g;
        for (const std::string& target : {path, path + "x"}) {
          auto r = Put(target, bad);
          ASSERT_GE(r.status, 200) << target << " " << bad.dump();
          ASSERT_LT(r.status, 500) << target << " " << bad.dump() << " → " << r.body.dump();
          if (r.status >= 400) {
            EXPECT_FALSE(r.Code().empty()) << r.body.dump();
          } else if (target != path) {
            Delete(target);
          }
          ++answered;
        }
      }
      ASSERT_LT(Put(path, body).status, 300) << path << " after " << at.to_string();
    }
  }
  EXPECT_GT(answered, 1000);
}

}  // namespace
}  // namespace cove::arm
