// The table of resource providers (arm/provider.h): every type the engine serves is in it once,
// with the api-versions cove's CLI sends; an unlisted api-version is refused as ARM refuses it;
// every provider's projection reaches the Snapshot.
#include <map>
#include <set>
#include <string>

#include "arm/provider.h"
#include "arm_fixture.h"

namespace cove::arm {
namespace {

using json = nlohmann::json;

// Every type served, canonical name → the api-version cove's CLI sends for it
// (src/cli/arm_client.h: kApiNetwork, kApiPrivateDns, kApiAcr, kApiCompute,
// kApiManagedIdentity, kApiContainerInstance, kApiAuthorization).
const std::map<std::string, std::string>& ServedTypes() {
  static const auto* types = new std::map<std::string, std::string>{
      {"Microsoft.Network/virtualNetworks", "2024-05-01"},
      {"Microsoft.Network/virtualNetworks/subnets", "2024-05-01"},
      {"Microsoft.Network/virtualNetworks/virtualNetworkPeerings", "2024-05-01"},
      {"Microsoft.Network/networkSecurityGroups", "2024-05-01"},
      {"Microsoft.Network/networkSecurityGroups/securityRules", "2024-05-01"},
      {"Microsoft.Network/networkInterfaces", "2024-05-01"},
      {"Microsoft.Network/privateEndpoints", "2024-05-01"},
      {"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "2024-05-01"},
      {"Microsoft.Network/privateDnsZones", "2020-06-01"},
      {"Microsoft.Network/privateDnsZones/A", "2020-06-01"},
      {"Microsoft.Network/privateDnsZones/CNAME", "2020-06-01"},
      {"Microsoft.Network/privateDnsZones/virtualNetworkLinks", "2020-06-01"},
      {"Microsoft.Compute/virtualMachines", "2024-07-01"},
      {"Microsoft.ContainerInstance/containerGroups", "2023-05-01"},
      {"Microsoft.ContainerInstance/containerGroups/containers/logs", "2023-05-01"},
      {"Microsoft.ContainerRegistry/registries", "2023-11-01-preview"},
      {"Microsoft.ContainerRegistry/registries/replications", "2023-11-01-preview"},
      {"Microsoft.ContainerRegistry/registries/privateEndpointConnections", "2023-11-01-preview"},
      {"Microsoft.ContainerRegistry/registries/privateLinkResources", "2023-11-01-preview"},
      {"Microsoft.ContainerRegistry/registries/listUsages", "2023-11-01-preview"},
      {"Microsoft.ContainerRegistry/registries/scopeMaps", "2023-11-01-preview"},
      {"Microsoft.ContainerRegistry/registries/tokens", "2023-11-01-preview"},
      {"Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31"},
      {"Microsoft.Authorization/roleAssignments", "2022-04-01"},
      // On-premises connectivity (issue 14; cli/commands_gateway.cc, commands_dns_resolver.cc,
      // commands_onprem.cc).
      {"Microsoft.Network/publicIPAddresses", "2024-05-01"},
      {"Microsoft.Network/virtualNetworkGateways", "2024-05-01"},
      {"Microsoft.Network/localNetworkGateways", "2024-05-01"},
      {"Microsoft.Network/connections", "2024-05-01"},
      {"Microsoft.Network/connections/sharedkey", "2024-05-01"},
      {"Microsoft.Network/expressRouteCircuits", "2024-05-01"},
      {"Microsoft.Network/expressRouteCircuits/peerings", "2024-05-01"},
      {"Microsoft.Network/dnsResolvers", "2022-07-01"},
      {"Microsoft.Network/dnsResolvers/inboundEndpoints", "2022-07-01"},
      {"Microsoft.Network/dnsResolvers/outboundEndpoints", "2022-07-01"},
      {"Microsoft.Network/dnsForwardingRulesets", "2022-07-01"},
      {"Microsoft.Network/dnsForwardingRulesets/forwardingRules", "2022-07-01"},
      {"Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks", "2022-07-01"},
      {"Cove.OnPremises/sites", "2026-12-01"},
      {"Cove.OnPremises/sites/machines", "2026-12-01"},
      // AKS (issue 16; cli/commands_aks.cc).
      {"Microsoft.ContainerService/managedClusters", "2024-05-01"},
      {"Microsoft.ContainerService/managedClusters/agentPools", "2024-05-01"},
      {"Cove.Kubernetes/deployments", "2026-12-01"},
  };
  return *types;
}

TEST(ProviderTableTest, EveryServedTypeIsRegisteredExactlyOnce) {
  const ProviderRegistry& registry = ResourceProviders();
  EXPECT_TRUE(registry.duplicates().empty());
  for (const auto& [type, cli_version] : ServedTypes()) {
    const ResourceProvider* p = registry.Find(type);
    ASSERT_NE(p, nullptr) << type;
    EXPECT_EQ(p->type, type);
    EXPECT_EQ(registry.Find(Lower(type)), p) << "lookup is by lowercase key";
  }
  EXPECT_EQ(registry.all().size(), ServedTypes().size());
  for (const auto& [key, p] : registry.all()) {
    EXPECT_EQ(key, Lower(p.type));
    EXPECT_TRUE(ServedTypes().count(p.type)) << p.type << " is registered but not expected";
  }
}

TEST(ProviderTableTest, EveryProviderListsTheApiVersionsTheCliSends) {
  for (const auto& [key, p] : ResourceProviders().all()) {
    ASSERT_FALSE(p.api_versions.empty()) << p.type;
    std::set<std::string> unique(p.api_versions.begin(), p.api_versions.end());
    EXPECT_EQ(unique.size(), p.api_versions.size()) << p.type << " lists a version twice";
    auto cli = ServedTypes().find(p.type);
    ASSERT_NE(cli, ServedTypes().end()) << p.type;
    EXPECT_TRUE(unique.count(cli->second)) << p.type << " lacks " << cli->second;
    // The version the test fixtures send for every type.
    EXPECT_TRUE(unique.count("2023-09-01")) << p.type;
  }
}

TEST(ProviderTableTest, ResourceGroupDeletesFollowTheRanks) {
  std::map<int, std::string> ranks;
  for (const auto& [key, p] : ResourceProviders().all()) {
    if (p.delete_rank == 0) continue;
    EXPECT_TRUE(ranks.emplace(p.delete_rank, key).second)
        << "two types share rank " << p.delete_rank;
  }
  // Machines go before the endpoints, registries and networks they use.
  EXPECT_EQ(ranks.begin()->second, "microsoft.compute/virtualmachines");
  EXPECT_EQ(ranks.rbegin()->second, "microsoft.managedidentity/userassignedidentities");
}

TEST(ProviderTableTest, CheckApiVersionNamesTheSupportedVersions) {
  const ResourceProvider& p = *ResourceProviders().Find("microsoft.network/privatednszones");
  EXPECT_TRUE(CheckApiVersion(p, "2020-06-01"));
  auto bad = CheckApiVersion(p, "2017-01-01");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().http_status, 400);
  EXPECT_EQ(bad.error().reason, "InvalidApiVersionParameter");
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
  std::string list;
  for (const auto& v : p.api_versions) list += (list.empty() ? "" : ",") + v;
  EXPECT_EQ(bad.error().message,
            "The api-version '2017-01-01' is invalid. The supported versions are '" + list + "'.");
}

class ProviderTableApiTest : public ArmFixture {};

TEST_F(ProviderTableApiTest, UnlistedApiVersionIsInvalidApiVersionParameter) {
  SeedNetwork();
  const std::string vnet = kNet + "/virtualNetworks/myvnet";
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    auto r = Call(method, vnet, R"({"location":"westus"})", "2015-01-01");
    EXPECT_EQ(r.status, 400) << method;
    EXPECT_EQ(r.Code(), "InvalidApiVersionParameter") << method;
    EXPECT_NE(r.Message().find("The api-version '2015-01-01' is invalid. The supported versions "
                               "are '2025-05-01,2025-03-01,"),
              std::string::npos)
        << r.Message();
  }
  // Collections, subscription-wide lists and child types check theirs too.
  EXPECT_EQ(Call("GET", kNet + "/virtualNetworks", "", "2015-01-01").Code(),
            "InvalidApiVersionParameter");
  EXPECT_EQ(
      Call("GET", kSub + "/providers/Microsoft.Network/virtualNetworks", "", "2015-01-01").Code(),
      "InvalidApiVersionParameter");
  EXPECT_EQ(Call("GET", vnet + "/subnets/mysubnet", "", "2015-01-01").Code(),
            "InvalidApiVersionParameter");
  // Nothing was deleted, and the listed versions work.
  EXPECT_EQ(Call("GET", vnet, "", "2024-05-01").status, 200);
  EXPECT_EQ(Call("GET", vnet + "/subnets/mysubnet", "", "2021-02-01").status, 200);
  // Resource groups and subscriptions accept what they accepted before.
  EXPECT_EQ(Call("GET", kRg, "", "1").status, 200);
  EXPECT_EQ(Call("GET", kSub, "", "1").status, 200);
}

TEST_F(ProviderTableApiTest, EveryProjectionReachesTheSnapshot) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Endpoint("pe1").status, 201);
  ASSERT_EQ(Put(kNet + "/networkSecurityGroups/nsg1", {{"location", "westus"}}).status, 201);
  ASSERT_EQ(Put(kNet + "/privateDnsZones/privatelink.azurecr.io", {{"location", "global"}}).status,
            201);
  ASSERT_EQ(Put(kRg + "/providers/Microsoft.Compute/virtualMachines/vm1",
                {{"location", "westus"}, {"properties", {{"cove", {{"network", "public"}}}}}})
                .status,
            201);
  auto group =
      Put(kRg + "/providers/Microsoft.ContainerInstance/containerGroups/g1",
          {{"location", "westus"},
           {"properties",
            {{"osType", "Linux"},
             {"containers",
              {{{"name", "app"},
                {"properties",
                 {{"image", "myregistry.azurecr.io/app:v1"},
                  {"resources", {{"requests", {{"cpu", 1}, {"memoryInGB", 1.5}}}}}}}}}}}}});
  ASSERT_EQ(group.status, 201) << group.body.dump();
  auto uai = Put(kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
                 {{"location", "westus"}});
  ASSERT_EQ(uai.status, 201);
  auto assigned =
      Put(kRg +
              "/providers/Microsoft.Authorization/roleAssignments/"
              "0b6e1a6e-0000-4000-8000-000000000001",
          {{"properties",
            {{"roleDefinitionId", kSub + "/providers/Microsoft.Authorization/roleDefinitions/"
                                         "7f951dda-4ed3-4680-a7ca-43fe172d538d"},
             {"principalId", uai.body["properties"]["principalId"]}}}});
  ASSERT_EQ(assigned.status, 201) << assigned.body.dump();
  // On-premises connectivity: a VPN gateway with its public IP, a local gateway and their
  // connection, a circuit, a DNS resolver with a ruleset, a site.
  const std::string vnet = kNet + "/virtualNetworks/myvnet";
  ASSERT_EQ(Put(vnet + "/subnets/GatewaySubnet", {{"properties", {{"addressPrefix", "10.0.255.0/27"}}}})
                .status,
            201);
  ASSERT_EQ(Put(vnet + "/subnets/outbound",
                {{"properties",
                  {{"addressPrefix", "10.0.254.0/28"},
                   {"delegations",
                    {{{"name", "r"}, {"properties", {{"serviceName", "Microsoft.Network/dnsResolvers"}}}}}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kNet + "/publicIPAddresses/gwip",
                {{"location", "westus"}, {"sku", {{"name", "Standard"}}}})
                .status,
            201);
  auto gateway = Put(
      kNet + "/virtualNetworkGateways/gw",
      {{"location", "westus"},
       {"properties",
        {{"gatewayType", "Vpn"},
         {"sku", {{"name", "VpnGw1"}}},
         {"ipConfigurations",
          {{{"name", "default"},
            {"properties",
             {{"subnet", {{"id", vnet + "/subnets/GatewaySubnet"}}},
              {"publicIPAddress", {{"id", kNet + "/publicIPAddresses/gwip"}}}}}}}}}}});
  ASSERT_EQ(gateway.status, 201) << gateway.body.dump();
  ASSERT_EQ(Put(kNet + "/localNetworkGateways/site",
                {{"location", "westus"},
                 {"properties",
                  {{"gatewayIpAddress", "192.0.2.130"},
                   {"localNetworkAddressSpace", {{"addressPrefixes", {"192.168.0.0/16"}}}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kNet + "/connections/c",
                {{"location", "westus"},
                 {"properties",
                  {{"connectionType", "IPsec"},
                   {"virtualNetworkGateway1", {{"id", kNet + "/virtualNetworkGateways/gw"}}},
                   {"localNetworkGateway2", {{"id", kNet + "/localNetworkGateways/site"}}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kNet + "/expressRouteCircuits/er",
                {{"location", "westus"},
                 {"sku", {{"name", "Standard_MeteredData"}}},
                 {"properties",
                  {{"serviceProviderProperties",
                    {{"serviceProviderName", "Equinix"},
                     {"peeringLocation", "Silicon Valley"},
                     {"bandwidthInMbps", 50}}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kNet + "/dnsResolvers/r",
                {{"location", "westus"}, {"properties", {{"virtualNetwork", {{"id", vnet}}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kNet + "/dnsResolvers/r/outboundEndpoints/out",
                {{"location", "westus"},
                 {"properties", {{"subnet", {{"id", vnet + "/subnets/outbound"}}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kNet + "/dnsForwardingRulesets/rs",
                {{"location", "westus"},
                 {"properties",
                  {{"dnsResolverOutboundEndpoints",
                    {{{"id", kNet + "/dnsResolvers/r/outboundEndpoints/out"}}}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kRg + "/providers/Cove.OnPremises/sites/site",
                {{"location", "westus"}, {"properties", {{"addressPrefixes", {"192.168.0.0/16"}}}}})
                .status,
            201);

  // AKS: a cluster with one node, and a deployment on it.
  auto cluster = Put(kRg + "/providers/Microsoft.ContainerService/managedClusters/aks1",
                     {{"location", "westus"},
                      {"properties",
                       {{"agentPoolProfiles",
                         {{{"name", "nodepool1"},
                           {"count", 1},
                           {"mode", "System"},
                           {"vnetSubnetID", vnet + "/subnets/mysubnet"}}}}}}});
  ASSERT_EQ(cluster.status, 201) << cluster.body.dump();
  ASSERT_EQ(Put(kRg + "/providers/Cove.Kubernetes/deployments/web",
                {{"properties",
                  {{"clusterId", cluster.body["id"]},
                   {"containers", {{{"name", "web"}, {"image", "myregistry.azurecr.io/app:v1"}}}}}}})
                .status,
            201);

  SnapshotPtr full = cp_->snapshot();
  auto views = [](const Snapshot& s) {
    return s.registries.size() + s.principals.size() + s.machines.size() +
           s.role_assignments.size() + s.private_endpoints.size() + s.vnets.size() +
           s.network_security_groups.size() + s.zones.size() + s.public_ips.size() +
           s.vnet_gateways.size() + s.local_gateways.size() + s.connections.size() +
           s.circuits.size() + s.dns_resolvers.size() + s.forwarding_rulesets.size() +
           s.sites.size() + s.clusters.size() + s.workloads.size();
  };
  size_t projecting = 0;
  for (const auto& [key, p] : ResourceProviders().all()) {
    // A snapshot of this type's documents alone: its views are the provider's projection.
    Documents only;
    for (const auto& [k, doc] : full->documents) {
      if (Lower(doc->value("type", "")) == key) only.emplace(k, doc);
    }
    SnapshotPtr s = BuildSnapshot(1, full->dns_suffix, only);
    if (p.project == nullptr) {
      EXPECT_EQ(views(*s), 0u) << p.type;
      continue;
    }
    ++projecting;
    ASSERT_FALSE(only.empty()) << "no " << p.type << " to project";
    EXPECT_EQ(views(*s), only.size()) << p.type;
  }
  EXPECT_EQ(projecting, 19u);
  EXPECT_EQ(full->registries.size(), 1u);
  EXPECT_EQ(full->vnets.size(), 1u);
  EXPECT_EQ(full->network_security_groups.size(), 1u);
  EXPECT_EQ(full->private_endpoints.size(), 1u);
  EXPECT_EQ(full->zones.size(), 1u);
  size_t vms_and_groups = 0;  // the cluster's node aside
  for (const auto& m : full->machines) vms_and_groups += m.kind != MachineView::Kind::kClusterNode;
  EXPECT_EQ(vms_and_groups, 2u);
  EXPECT_EQ(full->role_assignments.size(), 1u);
}

}  // namespace
}  // namespace cove::arm
