// The planes' pure translations: a control-plane snapshot of the seed's deployment → fabric
// topology (validates), DNS catalog (builds, answers per view) and access policy.
#include "daemon/planes.h"

#include <gtest/gtest.h>

#include "arm/control_plane.h"

namespace cove::daemon {
namespace {

const std::string kSub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
const std::string kRg = kSub + "/resourceGroups/rg";
const std::string kNet = kRg + "/providers/Microsoft.Network";
const std::string kAcr = kRg + "/providers/Microsoft.ContainerRegistry";

class PlanesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cp = arm::ControlPlane::Open(":memory:");
    ASSERT_TRUE(cp);
    cp_ = std::move(*cp);
  }
  int Put(const std::string& path, const nlohmann::json& body) {
    auto r = cp_->Handle({"PUT", path, "2023-09-01", body.dump(), "", ""});
    EXPECT_LT(r.status, 300) << path << ": " << (r.body ? r.body->dump() : "");
    return r.status;
  }
  void Seed(bool manual = false) {
    Put(kRg, {{"location", "westus"}});
    Put(kAcr + "/registries/myregistry",
        {{"location", "westus"},
         {"sku", {{"name", "Premium"}}},
         {"properties", {{"dataEndpointEnabled", true}, {"publicNetworkAccess", "Disabled"}}}});
    for (const char* v : {"myvnet", "other"}) {
      Put(kNet + "/virtualNetworks/" + v, nlohmann::json::parse(R"({"location": "westus",
          "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
          "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})"));
    }
    std::string zone = kNet + "/privateDnsZones/privatelink.azurecr.io";
    Put(zone, {{"location", "global"}});
    Put(zone + "/virtualNetworkLinks/l",
        {{"location", "global"},
         {"properties", {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/myvnet"}}}}}});
    Put(kNet + "/privateEndpoints/pe",
        {{"location", "westus"},
         {"properties",
          {{"subnet", {{"id", kNet + "/virtualNetworks/myvnet/subnets/s"}}},
           {manual ? "manualPrivateLinkServiceConnections" : "privateLinkServiceConnections",
            {{{"name", "c"},
              {"properties",
               {{"privateLinkServiceId", kAcr + "/registries/myregistry"},
                {"groupIds", {"registry"}}}}}}}}}});
    Put(kNet + "/privateEndpoints/pe/privateDnsZoneGroups/default",
        {{"properties",
          {{"privateDnsZoneConfigs", {{{"name", "z"}, {"properties", {{"privateDnsZoneId", zone}}}}}}}}});
  }
  std::unique_ptr<arm::ControlPlane> cp_;
};

TEST_F(PlanesTest, TopologyHoldsEndpointAddressesAndPublicNetwork) {
  Seed();
  auto snap = cp_->snapshot();
  fabric::Topology t = BuildTopology(*snap, "");
  ASSERT_TRUE(fabric::Validate(t)) << fabric::Validate(t).error().message;
  ASSERT_EQ(t.networks.size(), 3u);
  const fabric::Network* pub = t.FindNetwork(kPublicNetworkId);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->dns_address, kPublicDnsAddress);
  auto addresses = PublicAddresses(*snap);
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(pub->subnets[0].local_addresses, std::vector<std::string>{addresses["myregistry"]});
  const auto& pe = snap->private_endpoints.at(0);
  const fabric::Network* vnet = t.FindNetwork(pe.vnet_id);
  ASSERT_NE(vnet, nullptr);
  EXPECT_EQ(vnet->subnets[0].local_addresses.size(), 2u);  // registry + data member
  EXPECT_FALSE(vnet->outbound_address.empty());
  // Stable: the same snapshot gives the same addresses.
  EXPECT_EQ(BuildTopology(*snap, "").networks[0].outbound_address, t.networks[0].outbound_address);
}

TEST_F(PlanesTest, CatalogGivesLinkedVnetPrivateAndOthersPublic) {
  Seed();
  auto snap = cp_->snapshot();
  auto spec = BuildCatalog(*snap);
  auto catalog = dns::Catalog::Build(spec);
  ASSERT_TRUE(catalog) << catalog.error().message;
  ASSERT_EQ(spec.views.size(), 2u);
  size_t linked = 0;
  for (const auto& v : spec.views) linked += v.links.size();
  EXPECT_EQ(linked, 1u);
  ASSERT_EQ(spec.public_zones.size(), 2u);
  EXPECT_EQ(spec.public_zones[0].records.size(), 2u);  // login server + westus data host CNAMEs
  EXPECT_EQ(spec.public_zones[1].records[0].value, PublicAddresses(*snap)["myregistry"]);
  ASSERT_EQ(spec.private_zones.size(), 1u);
  EXPECT_EQ(spec.private_zones[0].records.size(), 2u);
}

TEST_F(PlanesTest, PolicyCarriesRulesAndConnectionStates) {
  Seed(/*manual=*/true);
  auto snap = cp_->snapshot();
  access::Policy p = BuildPolicy(*snap);
  ASSERT_EQ(p.registries.count("myregistry"), 1u);
  EXPECT_FALSE(p.registries["myregistry"].public_network_access);
  const auto& pe = snap->private_endpoints.at(0);
  ASSERT_EQ(p.links.count(pe.link_id), 1u);
  EXPECT_EQ(p.links[pe.link_id].status, "Pending");
  EXPECT_FALSE(access::Decide(p, "myregistry", {pe.link_id, "10.0.0.4"}).allowed);
  EXPECT_FALSE(access::Decide(p, "myregistry", {std::nullopt, "198.51.100.7"}).allowed);
}

}  // namespace
}  // namespace cove::daemon

namespace cove::daemon {
namespace {

// The VM contract: user NIC (Dynamic takes the lowest free address), VM referencing it, public
// VM with a TEST-NET address; both land in the topology, registration links add A records.
TEST_F(PlanesTest, VmsFromNicsAndPublicVms) {
  Seed();
  Put(kNet + "/privateDnsZones/corp.internal", {{"location", "global"}});
  Put(kNet + "/privateDnsZones/corp.internal/virtualNetworkLinks/reg",
      {{"location", "global"},
       {"properties",
        {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/myvnet"}}},
         {"registrationEnabled", true}}}});
  Put(kNet + "/networkInterfaces/vm1VMNic", nlohmann::json::parse(R"({"location": "westus",
      "properties": {"ipConfigurations": [{"name": "ipconfigvm1", "properties": {
      "subnet": {"id": ")" + kNet + R"(/virtualNetworks/myvnet/subnets/s"},
      "privateIPAllocationMethod": "Dynamic"}}]}})"));
  const std::string vms = kRg + "/providers/Microsoft.Compute/virtualMachines/";
  Put(vms + "vm1", {{"location", "westus"},
                    {"properties",
                     {{"networkProfile",
                       {{"networkInterfaces", {{{"id", kNet + "/networkInterfaces/vm1VMNic"}}}}}}}}});
  Put(vms + "pub", {{"location", "westus"}, {"properties", {{"cove", {{"network", "public"}}}}}});
  auto vm1 = cp_->Handle({"GET", vms + "vm1", "2023-09-01", "", "", ""});
  ASSERT_EQ(vm1.status, 200);
  // 10.0.0.4 and .5 are the endpoint's; the NIC takes the next free one.
  std::string ip = (*vm1.body)["properties"]["cove"]["privateIpAddress"];
  EXPECT_TRUE(ip.rfind("10.0.0.", 0) == 0) << ip;
  EXPECT_FALSE(vm1.body->contains("_cove"));
  auto pub = cp_->Handle({"GET", vms + "pub", "2023-09-01", "", "", ""});
  EXPECT_EQ((*pub.body)["properties"]["cove"]["publicIpAddress"], "198.51.100.2");

  auto snap = cp_->snapshot();
  ASSERT_EQ(VmsOf(*snap).size(), 2u);
  fabric::Topology t = BuildTopology(*snap, "");
  ASSERT_TRUE(fabric::Validate(t)) << fabric::Validate(t).error().message;
  ASSERT_EQ(t.vms.size(), 2u);
  auto spec = BuildCatalog(*snap);
  bool registered = false;
  for (const auto& z : spec.private_zones) {
    for (const auto& r : z.records) registered = registered || (z.name == "corp.internal" && r.name == "vm1" && r.value == ip);
  }
  EXPECT_TRUE(registered);
  ASSERT_TRUE(dns::Catalog::Build(spec));
  // The NIC is in use while the VM exists.
  EXPECT_EQ(cp_->Handle({"DELETE", kNet + "/networkInterfaces/vm1VMNic", "2023-09-01", "", "", ""}).status, 400);
  EXPECT_EQ(cp_->Handle({"DELETE", vms + "vm1", "2023-09-01", "", "", ""}).status, 200);
  EXPECT_EQ(cp_->Handle({"DELETE", kNet + "/networkInterfaces/vm1VMNic", "2023-09-01", "", "", ""}).status, 200);
}

}  // namespace
}  // namespace cove::daemon
