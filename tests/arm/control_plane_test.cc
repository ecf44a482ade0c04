// The control plane through its REST API on loopback: every validation rule and cascade,
// IP allocation, persistence across a restart, and the typed snapshot for the data planes.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>

#include "arm_fixture.h"

namespace cove::arm {
namespace {

using nlohmann::json;

// A VNet body; without `subnets` the VNet's existing subnets are kept.
json Vnet(const std::string& prefix, json subnets = json()) {
  json v = {{"location", "westus"}, {"properties", {{"addressSpace", {{"addressPrefixes", {prefix}}}}}}};
  if (!subnets.is_null()) v["properties"]["subnets"] = subnets;
  return v;
}

json Subnet(const std::string& prefix, const std::string& policies = "Disabled") {
  return {{"properties", {{"addressPrefix", prefix}, {"privateEndpointNetworkPolicies", policies}}}};
}

json Statics(std::initializer_list<std::pair<const char*, const char*>> members) {
  json out = json::array();
  for (const auto& [m, ip] : members) {
    out.push_back({{"name", std::string("cfg-") + m},
                   {"properties", {{"groupId", "registry"}, {"memberName", m}, {"privateIPAddress", ip}}}});
  }
  return {{"ipConfigurations", out}};
}

using ControlPlaneTest = ArmFixture;

// ------------------------------------------------------------------ protocol basics

TEST_F(ControlPlaneTest, MissingApiVersionIsRefused) {
  auto r = Call("PUT", kRg, R"({"location":"westus"})", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Code(), "MissingApiVersionParameter");
  EXPECT_EQ(Get(kRg).Code(), "ResourceGroupNotFound");  // nothing was created
}

TEST_F(ControlPlaneTest, DefaultSubscriptionAndProviders) {
  auto subs = Get("/subscriptions");
  ASSERT_EQ(subs.status, 200);
  ASSERT_EQ(subs.body["value"].size(), 1u);
  EXPECT_EQ(subs.body["value"][0]["displayName"], "cove");
  EXPECT_EQ(subs.body["value"][0]["subscriptionId"], "c0ffee00-0000-4000-8000-000000000001");
  auto p = Get(kSub + "/providers/Microsoft.Network");
  EXPECT_EQ(p.body["registrationState"], "Registered");
  // + Microsoft.Compute (VMs), Microsoft.ManagedIdentity, Microsoft.ContainerInstance,
  // Cove.OnPremises (issue 14's on-premises sites), Microsoft.ContainerService and
  // Cove.Kubernetes (issue 16's AKS)
  EXPECT_EQ(Get(kSub + "/providers").body["value"].size(), 9u);
  EXPECT_EQ(Get("/subscriptions/c0ffee00-0000-4000-8000-00000000dead").Code(), "SubscriptionNotFound");
}

TEST_F(ControlPlaneTest, ResourceGroupCreateUpdateIdempotent) {
  EXPECT_EQ(Put(kRg, {{"location", "West US"}}).status, 201);
  auto again = Put(kRg, {{"location", "westus"}, {"tags", {{"env", "dev"}}}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["location"], "westus");
  EXPECT_EQ(again.body["tags"]["env"], "dev");
  EXPECT_EQ(again.body["properties"]["provisioningState"], "Succeeded");
  auto moved = Put(kRg, {{"location", "eastus"}});
  EXPECT_EQ(moved.status, 409);
  EXPECT_EQ(moved.Code(), "InvalidResourceGroupLocation");
  EXPECT_EQ(Call("HEAD", kRg).status, 204);
  EXPECT_EQ(Get(kSub + "/resourcegroups").body["value"].size(), 1u);
  EXPECT_EQ(Put(kSub + "/resourceGroups/bad%2Fname", {{"location", "westus"}}).status, 400);
  EXPECT_EQ(Put(kSub + "/resourceGroups/endsindot.", {{"location", "westus"}}).Code(),
            "InvalidResourceGroup");
}

TEST_F(ControlPlaneTest, IdsAreCaseInsensitiveAndKeepTheirCasing) {
  ASSERT_EQ(Put(kSub + "/resourceGroups/MyGroup", {{"location", "westus"}}).status, 201);
  auto v = Put(kSub + "/resourcegroups/mygroup/providers/microsoft.network/virtualnetworks/MyVNet",
               Vnet("10.0.0.0/16"));
  ASSERT_EQ(v.status, 201) << v.body.dump();
  EXPECT_EQ(v.body["id"],
            kSub + "/resourceGroups/MyGroup/providers/Microsoft.Network/virtualNetworks/MyVNet");
  EXPECT_EQ(v.body["type"], "Microsoft.Network/virtualNetworks");
  auto g = Get(kSub + "/RESOURCEGROUPS/MYGROUP/providers/Microsoft.Network/virtualNetworks/myvnet");
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body["name"], "MyVNet");
}

TEST_F(ControlPlaneTest, BadInputGetsAzureErrorsAndChangesNothing) {
  SeedNetwork();
  std::string vnet = kNet + "/virtualNetworks/other";
  auto invalid_json = Call("PUT", vnet, "{not json");
  EXPECT_EQ(invalid_json.status, 400);
  EXPECT_EQ(invalid_json.Code(), "InvalidRequestContent");
  auto not_object = Call("PUT", vnet, "[1,2]");
  EXPECT_EQ(not_object.Code(), "InvalidRequestContent");
  auto wrong_type = Put(vnet, {{"location", 5}});
  EXPECT_EQ(wrong_type.Code(), "InvalidRequestContent");
  EXPECT_NE(wrong_type.Message().find("location"), std::string::npos);
  auto wrong_nested = Put(vnet, {{"location", "westus"},
                                 {"properties", {{"addressSpace", {{"addressPrefixes", "10.1.0.0/16"}}}}}});
  EXPECT_EQ(wrong_nested.Code(), "InvalidRequestContent");
  EXPECT_NE(wrong_nested.Message().find("properties.addressSpace.addressPrefixes"), std::string::npos);
  auto bad_enum = Put(vnet + "/subnets/x", Subnet("10.0.9.0/24", "Sometimes"));
  EXPECT_EQ(bad_enum.status, 404);  // the parent VNet "other" does not exist
  EXPECT_EQ(bad_enum.Code(), "ParentResourceNotFound");
  auto bad_enum2 = Put(kNet + "/virtualNetworks/myvnet/subnets/x", Subnet("10.0.9.0/24", "Sometimes"));
  EXPECT_EQ(bad_enum2.Code(), "InvalidRequestContent");
  auto bad_ref = Endpoint("pe", {{"subnet", {{"id", "not-an-id"}}}});
  EXPECT_EQ(bad_ref.Code(), "LinkedInvalidPropertyId");
  EXPECT_EQ(Get(kRg + "/providers/Microsoft.Network/widgets/w").Code(), "InvalidResourceType");
  EXPECT_EQ(Get(kRg + "/providers/Microsoft.Nope/widgets/w").Code(), "InvalidResourceNamespace");
  EXPECT_EQ(Get("/subscriptions//resourceGroups/rg").Code(), "InvalidRequestUri");
  EXPECT_EQ(Get("/subscriptions/x/resourceGroups/rg/bogus/y").Code(), "InvalidRequestUri");
  EXPECT_EQ(Get("/providers/Microsoft.Network").Code(), "InvalidRequestUri");
  EXPECT_EQ(Get(kRg + "/providers/Microsoft.Network/virtualNetworks/a%zz").Code(), "InvalidRequestUri");
  EXPECT_EQ(Get(vnet).Code(), "ResourceNotFound");
  EXPECT_EQ(Get(kNet + "/virtualNetworks/myvnet/subnets/x").status, 404);
  EXPECT_EQ(Get(kSub + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks").body["value"].size(), 1u);
}

TEST_F(ControlPlaneTest, ProvisioningStateListAndSubscriptionList) {
  SeedNetwork();
  Registry();
  auto list = Get(kNet + "/virtualNetworks");
  ASSERT_EQ(list.body["value"].size(), 1u);
  EXPECT_EQ(list.body["value"][0]["properties"]["subnets"][0]["name"], "mysubnet");
  auto across = Get(kSub + "/providers/Microsoft.ContainerRegistry/registries");
  ASSERT_EQ(across.body["value"].size(), 1u);
  EXPECT_EQ(across.body["value"][0]["properties"]["provisioningState"], "Succeeded");
  EXPECT_EQ(Get(kSub + "/providers/Microsoft.Network/virtualNetworks").body["value"].size(), 1u);
  EXPECT_EQ(Get(kNet + "/virtualNetworks/myvnet/subnets").body["value"].size(), 1u);
}

TEST_F(ControlPlaneTest, DeleteAnswers200ThenNoContent) {
  SeedNetwork();
  EXPECT_EQ(Delete(kNet + "/virtualNetworks/myvnet").status, 200);
  EXPECT_EQ(Delete(kNet + "/virtualNetworks/myvnet").status, 204);
  EXPECT_EQ(Get(kNet + "/virtualNetworks/myvnet").status, 404);
}

TEST_F(ControlPlaneTest, PatchMergesAndKeepsTheRest) {
  SeedNetwork();
  auto p = Patch(kNet + "/virtualNetworks/myvnet", {{"tags", {{"team", "net"}}}});
  ASSERT_EQ(p.status, 200) << p.body.dump();
  EXPECT_EQ(p.body["tags"]["team"], "net");
  EXPECT_EQ(p.body["properties"]["subnets"].size(), 1u);
  Registry();
  auto r = Patch(kAcr + "/registries/myregistry", {{"properties", {{"adminUserEnabled", true}}}});
  EXPECT_EQ(r.body["properties"]["adminUserEnabled"], true);
  EXPECT_EQ(r.body["sku"]["name"], "Premium");
  EXPECT_EQ(Patch(kNet + "/virtualNetworks/nope", {{"tags", json::object()}}).status, 404);
}

// ------------------------------------------------------------------ networks

TEST_F(ControlPlaneTest, PrefixesAreChecked) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  std::string v = kNet + "/virtualNetworks/v";
  EXPECT_EQ(Put(v, Vnet("10.0.0.1/16")).Code(), "InvalidCIDRNotation");
  EXPECT_NE(Put(v, Vnet("10.0.0.1/16")).Message().find("10.0.0.0/16"), std::string::npos);
  EXPECT_EQ(Put(v, Vnet("10.0.0.0/33")).Code(), "InvalidAddressPrefixFormat");
  EXPECT_EQ(Put(v, Vnet("10.0.0/16")).Code(), "InvalidAddressPrefixFormat");
  ASSERT_EQ(Put(v, Vnet("10.0.0.0/16")).status, 201);
  EXPECT_EQ(Put(v + "/subnets/a", Subnet("10.1.0.0/24")).Code(), "NetcfgSubnetRangeOutsideVnet");
  EXPECT_EQ(Put(v + "/subnets/a", Subnet("10.0.0.0/30")).Code(), "NetcfgInvalidSubnet");
  ASSERT_EQ(Put(v + "/subnets/a", Subnet("10.0.0.0/24")).status, 201);
  auto overlap = Put(v + "/subnets/b", Subnet("10.0.0.128/25"));
  EXPECT_EQ(overlap.Code(), "NetcfgSubnetRangesOverlap");
  EXPECT_NE(overlap.Message().find("'a'"), std::string::npos);
  EXPECT_EQ(Put(v + "/subnets/bad$name", Subnet("10.0.1.0/24")).Code(), "InvalidResourceName");
  // Shrinking the VNet below its subnets is refused.
  EXPECT_EQ(Put(v, Vnet("10.1.0.0/16")).Code(), "NetcfgSubnetRangeOutsideVnet");
  EXPECT_EQ(Get(v).body["properties"]["addressSpace"]["addressPrefixes"][0], "10.0.0.0/16");
}

TEST_F(ControlPlaneTest, VnetBodySubnetsAreReconciled) {
  SeedNetwork();
  std::string v = kNet + "/virtualNetworks/myvnet";
  auto r = Put(v, Vnet("10.0.0.0/16", {{{"name", "mysubnet"}, {"properties", {{"addressPrefix", "10.0.0.0/24"}}}},
                                       {{"name", "second"}, {"properties", {{"addressPrefix", "10.0.1.0/24"}}}}}));
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["properties"]["subnets"].size(), 2u);
  r = Put(v, Vnet("10.0.0.0/16", {{{"name", "second"}, {"properties", {{"addressPrefix", "10.0.1.0/24"}}}}}));
  EXPECT_EQ(r.body["properties"]["subnets"].size(), 1u);
  EXPECT_EQ(Get(v + "/subnets/mysubnet").status, 404);
}

TEST_F(ControlPlaneTest, PeeringsMustNotOverlapAndReportState) {
  SeedNetwork();
  std::string a = kNet + "/virtualNetworks/myvnet", b = kNet + "/virtualNetworks/hub",
              c = kNet + "/virtualNetworks/clash";
  ASSERT_EQ(Put(b, Vnet("10.1.0.0/16")).status, 201);
  ASSERT_EQ(Put(c, Vnet("10.0.128.0/17")).status, 201);
  auto clash = Put(a + "/virtualNetworkPeerings/to-clash", {{"properties", {{"remoteVirtualNetwork", {{"id", c}}}}}});
  EXPECT_EQ(clash.status, 400);
  EXPECT_EQ(clash.Code(), "VnetAddressSpacesOverlap");
  auto ab = Put(a + "/virtualNetworkPeerings/to-hub", {{"properties", {{"remoteVirtualNetwork", {{"id", b}}}}}});
  ASSERT_EQ(ab.status, 201) << ab.body.dump();
  EXPECT_EQ(ab.body["properties"]["peeringState"], "Initiated");
  ASSERT_EQ(Put(b + "/virtualNetworkPeerings/to-spoke", {{"properties", {{"remoteVirtualNetwork", {{"id", a}}}}}}).status, 201);
  EXPECT_EQ(Get(a + "/virtualNetworkPeerings/to-hub").body["properties"]["peeringState"], "Connected");
  EXPECT_EQ(Get(a).body["properties"]["virtualNetworkPeerings"].size(), 1u);
  // Growing the hub into the spoke's space is refused while they are peered.
  EXPECT_EQ(Put(b, Vnet("10.0.0.0/8")).Code(), "VnetAddressSpacesOverlap");
  EXPECT_EQ(Put(a + "/virtualNetworkPeerings/self", {{"properties", {{"remoteVirtualNetwork", {{"id", a}}}}}}).Code(),
            "CannotPeerVirtualNetworkWithItself");
  ASSERT_EQ(Delete(b).status, 200);
  EXPECT_EQ(Get(a + "/virtualNetworkPeerings/to-hub").body["properties"]["peeringState"], "Disconnected");
}

TEST_F(ControlPlaneTest, NetworkSecurityGroups) {
  SeedNetwork();
  std::string nsg = kNet + "/networkSecurityGroups/mynsg";
  auto n = Put(nsg, {{"location", "westus"}});
  ASSERT_EQ(n.status, 201);
  EXPECT_EQ(n.body["properties"]["defaultSecurityRules"].size(), 6u);
  json rule = {{"properties", {{"priority", 100}, {"direction", "Inbound"}, {"access", "Deny"},
                               {"protocol", "Tcp"}, {"destinationPortRange", "443"}}}};
  ASSERT_EQ(Put(nsg + "/securityRules/deny443", rule).status, 201);
  EXPECT_EQ(Put(nsg + "/securityRules/same", rule).Code(), "SecurityRuleConflict");
  rule["properties"]["priority"] = 99;
  EXPECT_EQ(Put(nsg + "/securityRules/low", rule).Code(), "SecurityRuleInvalidPriority");
  rule["properties"]["priority"] = 200;
  rule["properties"]["destinationPortRange"] = "70000";
  EXPECT_EQ(Put(nsg + "/securityRules/port", rule).Code(), "SecurityRuleInvalidPortRange");
  auto s = Subnet("10.0.0.0/24");
  s["properties"]["networkSecurityGroup"] = {{"id", nsg}};
  ASSERT_EQ(Put(kNet + "/virtualNetworks/myvnet/subnets/mysubnet", s).status, 200);
  EXPECT_EQ(Delete(nsg).Code(), "InUseNetworkSecurityGroupCannotBeDeleted");
  s["properties"]["networkSecurityGroup"] = {{"id", kNet + "/networkSecurityGroups/ghost"}};
  EXPECT_EQ(Put(kNet + "/virtualNetworks/myvnet/subnets/mysubnet", s).Code(), "InvalidResourceReference");
  EXPECT_EQ(cp_->snapshot()->network_security_groups.at(0).rules.at(0).name, "deny443");
}

// ------------------------------------------------------------------ registries

TEST_F(ControlPlaneTest, RegistryDefaultsAndEndpoints) {
  SeedNetwork();
  auto r = Put(kAcr + "/registries/MyRegistry",
               {{"location", "westus"}, {"sku", {{"name", "Premium"}}}, {"properties", {{"dataEndpointEnabled", true}}}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["properties"]["loginServer"], "myregistry.azurecr.io");
  EXPECT_EQ(r.body["properties"]["adminUserEnabled"], false);
  EXPECT_EQ(r.body["properties"]["publicNetworkAccess"], "Enabled");
  EXPECT_EQ(r.body["properties"]["networkRuleSet"]["defaultAction"], "Allow");
  EXPECT_EQ(r.body["properties"]["networkRuleBypassOptions"], "AzureServices");
  EXPECT_EQ(r.body["properties"]["dataEndpointHostNames"], json({"myregistry.westus.data.azurecr.io"}));
  ASSERT_EQ(Put(kAcr + "/registries/myregistry/replications/eastus", {{"location", "eastus"}}).status, 201);
  EXPECT_EQ(Get(kAcr + "/registries/myregistry").body["properties"]["dataEndpointHostNames"],
            json({"myregistry.westus.data.azurecr.io", "myregistry.eastus.data.azurecr.io"}));
  EXPECT_EQ(Put(kAcr + "/registries/myregistry/replications/westus", {{"location", "westus"}}).Code(),
            "ReplicationAlreadyExists");
  auto plr = Get(kAcr + "/registries/myregistry/privateLinkResources");
  EXPECT_EQ(plr.body["value"][0]["properties"]["requiredMembers"],
            json({"registry", "registry_data_westus", "registry_data_eastus"}));
  EXPECT_EQ(plr.body["value"][0]["properties"]["requiredZoneNames"], json({"privatelink.azurecr.io"}));
  const RegistryView* view = cp_->snapshot()->FindRegistry("myregistry");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->regions, (std::vector<std::string>{"westus", "eastus"}));
  EXPECT_EQ(view->login_server, "myregistry.azurecr.io");
}

TEST_F(ControlPlaneTest, RegistryNamesAreGloballyUniqueAndChecked) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Put(kSub + "/resourceGroups/other", {{"location", "westus"}}).status, 201);
  auto dup = Put(kSub + "/resourceGroups/other/providers/Microsoft.ContainerRegistry/registries/MYREGISTRY",
                 {{"location", "westus"}, {"sku", {{"name", "Basic"}}}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.Code(), "AlreadyInUse");
  EXPECT_EQ(Put(kAcr + "/registries/ab", {{"location", "westus"}, {"sku", {{"name", "Basic"}}}}).Code(),
            "InvalidResourceName");
  EXPECT_EQ(Put(kAcr + "/registries/has-dash", {{"location", "westus"}, {"sku", {{"name", "Basic"}}}}).Code(),
            "InvalidResourceName");
  EXPECT_EQ(Put(kAcr + "/registries/nosku1", {{"location", "westus"}}).Code(), "InvalidRequestContent");
  EXPECT_EQ(Put(kAcr + "/registries/badsku1", {{"location", "westus"}, {"sku", {{"name", "Gold"}}}}).Code(),
            "InvalidRequestContent");
  std::string check = kSub + "/providers/Microsoft.ContainerRegistry/checkNameAvailability";
  auto taken = Post(check, {{"name", "myregistry"}, {"type", "Microsoft.ContainerRegistry/registries"}});
  EXPECT_EQ(taken.body["nameAvailable"], false);
  EXPECT_EQ(taken.body["reason"], "AlreadyExists");
  EXPECT_EQ(Post(check, {{"name", "x"}}).body["reason"], "Invalid");
  EXPECT_EQ(Post(check, {{"name", "freename1"}}).body["nameAvailable"], true);
}

TEST_F(ControlPlaneTest, SkuRules) {
  SeedNetwork();
  Registry("basicreg", "Basic");
  std::string r = kAcr + "/registries/basicreg";
  EXPECT_EQ(Patch(r, {{"properties", {{"publicNetworkAccess", "Disabled"}}}}).Code(),
            "DisablingPublicNetworkAccessNotSupported");
  EXPECT_EQ(Patch(r, {{"properties", {{"networkRuleSet", {{"defaultAction", "Deny"}}}}}}).Code(),
            "NetworkRuleSetNotSupported");
  EXPECT_EQ(Put(r + "/replications/eastus", {{"location", "eastus"}}).Code(), "GeoReplicationNotSupported");
  EXPECT_EQ(Patch(r, {{"properties", {{"anonymousPullEnabled", true}}}}).Code(), "AnonymousPullNotSupported");
  auto pe = Endpoint("pe", json::object(), "mysubnet", "basicreg");
  EXPECT_EQ(pe.Code(), "PrivateEndpointNotSupportedForSku");
  EXPECT_NE(pe.Message().find("Premium"), std::string::npos);
  // Network rules on Premium.
  Registry();
  auto rules = Patch(kAcr + "/registries/myregistry",
                     {{"properties", {{"publicNetworkAccess", "Disabled"},
                                      {"networkRuleSet", {{"defaultAction", "Deny"},
                                                          {"ipRules", {{{"value", "203.0.113.0/24"}}}}}}}}});
  ASSERT_EQ(rules.status, 200) << rules.body.dump();
  EXPECT_EQ(rules.body["properties"]["networkRuleSet"]["ipRules"][0]["action"], "Allow");
  EXPECT_EQ(Patch(kAcr + "/registries/myregistry",
                  {{"properties", {{"networkRuleSet", {{"ipRules", {{{"value", "203.0.113.1/24"}}}}}}}}}).Code(),
            "InvalidIpRule");
  const RegistryView* v = cp_->snapshot()->FindRegistry("myregistry");
  EXPECT_FALSE(v->public_network_access);
  EXPECT_EQ(v->default_action, "Deny");
  ASSERT_EQ(v->ip_rules.size(), 1u);
}

// ------------------------------------------------------------------ private endpoints

TEST_F(ControlPlaneTest, PrivateEndpointAllocatesOneAddressPerMember) {
  SeedNetwork();
  Registry();
  auto pe = Endpoint("myendpoint");
  ASSERT_EQ(pe.status, 201) << pe.body.dump();
  EXPECT_EQ(pe.body["properties"]["privateLinkServiceConnections"][0]["properties"]
                   ["privateLinkServiceConnectionState"]["status"], "Approved");
  auto members = Members("myendpoint");
  EXPECT_EQ(members["registry"], "10.0.0.4");  // .0-.3 are reserved
  EXPECT_EQ(members["registry_data_westus"], "10.0.0.5");
  std::string nic_id = pe.body["properties"]["networkInterfaces"][0]["id"];
  EXPECT_NE(nic_id.find("/networkInterfaces/myendpoint.nic."), std::string::npos);
  auto nic = Get(nic_id);
  const auto& ipc = nic.body["properties"]["ipConfigurations"][0]["properties"];
  EXPECT_EQ(ipc["privateLinkConnectionProperties"]["groupId"], "registry");
  EXPECT_EQ(ipc["privateLinkConnectionProperties"]["fqdns"][0], "myregistry.azurecr.io");
  EXPECT_EQ(pe.body["properties"]["customDnsConfigs"],
            json::parse(R"([{"fqdn":"myregistry.azurecr.io","ipAddresses":["10.0.0.4"]},
                            {"fqdn":"myregistry.westus.data.azurecr.io","ipAddresses":["10.0.0.5"]}])"));
  // The connection on the registry, with its link id.
  auto reg = Get(kAcr + "/registries/myregistry");
  const auto& conn = reg.body["properties"]["privateEndpointConnections"][0];
  EXPECT_EQ(conn["properties"]["privateEndpoint"]["id"], kNet + "/privateEndpoints/myendpoint");
  EXPECT_EQ(conn["properties"]["privateLinkServiceConnectionState"]["status"], "Approved");
  EXPECT_FALSE(conn["properties"]["linkIdentifier"].get<std::string>().empty());
  // The subnet knows its users; a second endpoint gets the next addresses and another link id.
  EXPECT_EQ(Get(kNet + "/virtualNetworks/myvnet/subnets/mysubnet").body["properties"]["privateEndpoints"].size(), 1u);
  ASSERT_EQ(Endpoint("second").status, 201);
  EXPECT_EQ(Members("second")["registry"], "10.0.0.6");
  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->private_endpoints.size(), 2u);
  EXPECT_NE(snap->private_endpoints[0].link_id, snap->private_endpoints[1].link_id);
  EXPECT_EQ(snap->private_endpoints[0].registry_name, "myregistry");
  EXPECT_EQ(snap->private_endpoints[0].connection_status, "Approved");
  EXPECT_EQ(snap->private_endpoints[0].vnet_id, kNet + "/virtualNetworks/myvnet");
  EXPECT_EQ(snap->private_endpoints[0].members.size(), 2u);
  // Idempotent PUT of the same endpoint changes nothing.
  auto again = Endpoint("myendpoint");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Members("myendpoint")["registry"], "10.0.0.4");
}

TEST_F(ControlPlaneTest, StaticAddressesAreHonouredAndChecked) {
  SeedNetwork();
  Registry();
  auto pe = Endpoint("pe", Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.0.0.6"}}));
  ASSERT_EQ(pe.status, 201) << pe.body.dump();
  auto m = Members("pe");
  EXPECT_EQ(m["registry"], "10.0.0.5");
  EXPECT_EQ(m["registry_data_westus"], "10.0.0.6");
  EXPECT_EQ(Endpoint("p2", Statics({{"registry", "10.1.0.5"}, {"registry_data_westus", "10.0.0.7"}})).Code(),
            "PrivateIPAddressNotInSubnet");
  EXPECT_EQ(Endpoint("p2", Statics({{"registry", "10.0.0.3"}, {"registry_data_westus", "10.0.0.7"}})).Code(),
            "PrivateIPAddressIsReserved");
  EXPECT_EQ(Endpoint("p2", Statics({{"registry", "10.0.0.255"}, {"registry_data_westus", "10.0.0.7"}})).Code(),
            "PrivateIPAddressIsReserved");
  auto used = Endpoint("p2", Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.0.0.7"}}));
  EXPECT_EQ(used.Code(), "PrivateIPAddressInUse");
  auto missing = Endpoint("p2", Statics({{"registry", "10.0.0.8"}}));
  EXPECT_EQ(missing.Code(), "PrivateEndpointIpConfigurationMissingMemberNamesRequiredByFps");
  EXPECT_NE(missing.Message().find("registry_data_westus"), std::string::npos);
  // None of the refused endpoints left anything behind.
  EXPECT_EQ(Get(kNet + "/privateEndpoints").body["value"].size(), 1u);
  EXPECT_EQ(Get(kNet + "/networkInterfaces").body["value"].size(), 1u);
  EXPECT_EQ(Get(kAcr + "/registries/myregistry").body["properties"]["privateEndpointConnections"].size(), 1u);
  // A dynamic endpoint skips the static addresses.
  ASSERT_EQ(Endpoint("dyn").status, 201);
  EXPECT_EQ(Members("dyn")["registry"], "10.0.0.4");
  EXPECT_EQ(Members("dyn")["registry_data_westus"], "10.0.0.7");
}

TEST_F(ControlPlaneTest, SubnetRulesForEndpoints) {
  SeedNetwork("Enabled");
  Registry();
  auto refused = Endpoint("pe");
  EXPECT_EQ(refused.Code(), "PrivateEndpointCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled");
  std::string v = kNet + "/virtualNetworks/myvnet";
  ASSERT_EQ(Put(v + "/subnets/nsgpol", Subnet("10.0.1.0/24", "NetworkSecurityGroupEnabled")).status, 201);
  EXPECT_EQ(Endpoint("pe", json::object(), "nsgpol").status, 201);
  ASSERT_EQ(Put(v + "/subnets/GatewaySubnet", Subnet("10.0.2.0/24")).status, 201);
  ASSERT_EQ(Put(v + "/subnets/AzureBastionSubnet", Subnet("10.0.3.0/26")).status, 201);
  EXPECT_EQ(Endpoint("gw", json::object(), "GatewaySubnet").Code(), "PrivateEndpointCreationNotAllowedInSubnet");
  EXPECT_EQ(Endpoint("bastion", json::object(), "AzureBastionSubnet").Code(),
            "PrivateEndpointCreationNotAllowedInSubnet");
  EXPECT_EQ(Endpoint("ghost", json::object(), "nosuchsubnet").Code(), "InvalidResourceReference");
  EXPECT_EQ(Endpoint("ghost", json::object(), "nsgpol", "nosuchregistry").Code(), "InvalidResourceReference");
  auto wrong_group = Endpoint("grp", {{"privateLinkServiceConnections",
                                       {{{"name", "c"}, {"properties", {{"privateLinkServiceId", kAcr + "/registries/myregistry"},
                                                                         {"groupIds", {"blob"}}}}}}}},
                              "nsgpol");
  EXPECT_EQ(wrong_group.Code(), "InvalidPrivateLinkGroupId");
  // A subnet holding endpoints: policies cannot become Enabled, the prefix cannot move, and it
  // cannot be deleted (nor its VNet).
  EXPECT_EQ(Put(v + "/subnets/nsgpol", Subnet("10.0.1.0/24", "Enabled")).Code(),
            "PrivateEndpointNetworkPoliciesCannotBeEnabledOnPrivateEndpointSubnet");
  EXPECT_EQ(Put(v + "/subnets/nsgpol", Subnet("10.0.4.0/24", "Disabled")).Code(), "InUseSubnetCannotBeUpdated");
  auto del = Delete(v + "/subnets/nsgpol");
  EXPECT_EQ(del.Code(), "InUseSubnetCannotBeDeleted");
  EXPECT_NE(del.Message().find("nsgpol"), std::string::npos);
  EXPECT_EQ(Delete(v).Code(), "InUseSubnetCannotBeDeleted");
  EXPECT_EQ(Get(v + "/subnets/GatewaySubnet").status, 200);  // the failed VNet delete kept everything
}

TEST_F(ControlPlaneTest, ServiceEndpointRulesAndPrivateEndpointsConflict) {
  SeedNetwork();
  Registry();
  std::string subnet = kNet + "/virtualNetworks/myvnet/subnets/mysubnet";
  json vnet_rule = {{"properties", {{"networkRuleSet", {{"defaultAction", "Deny"},
                                                        {"virtualNetworkRules", {{{"id", subnet}}}}}}}}};
  ASSERT_EQ(Patch(kAcr + "/registries/myregistry", vnet_rule).status, 200);
  EXPECT_EQ(Endpoint("pe").Code(), "PrivateEndpointAndVirtualNetworkRulesNotSupported");
  ASSERT_EQ(Patch(kAcr + "/registries/myregistry",
                  {{"properties", {{"networkRuleSet", {{"defaultAction", "Deny"}, {"virtualNetworkRules", json::array()}}}}}}).status, 200);
  ASSERT_EQ(Endpoint("pe").status, 201);
  EXPECT_EQ(Patch(kAcr + "/registries/myregistry", vnet_rule).Code(),
            "PrivateEndpointAndVirtualNetworkRulesNotSupported");
}

TEST_F(ControlPlaneTest, SubnetExhaustionNamesTheSubnet) {
  SeedNetwork();
  Registry();
  std::string v = kNet + "/virtualNetworks/myvnet";
  ASSERT_EQ(Put(v + "/subnets/tiny", Subnet("10.0.5.0/29")).status, 201);  // 3 usable
  ASSERT_EQ(Endpoint("one", json::object(), "tiny").status, 201);         // .4 and .5
  auto full = Endpoint("two", json::object(), "tiny");                     // .6 then nothing
  EXPECT_EQ(full.status, 400);
  EXPECT_EQ(full.Code(), "SubnetIsFull");
  EXPECT_NE(full.Message().find("Subnet tiny with address prefix 10.0.5.0/29"), std::string::npos);
  EXPECT_EQ(Get(kNet + "/privateEndpoints/two").status, 404);
  // A replica needs one more address per endpoint: refused for the same reason, nothing added.
  ASSERT_EQ(Delete(kNet + "/privateEndpoints/one").status, 200);
  ASSERT_EQ(Endpoint("one", json::object(), "tiny").status, 201);
  ASSERT_EQ(Put(kAcr + "/registries/myregistry/replications/eastus", {{"location", "eastus"}}).status, 201);
  EXPECT_EQ(Put(kAcr + "/registries/myregistry/replications/northeurope", {{"location", "northeurope"}}).Code(),
            "SubnetIsFull");
  EXPECT_EQ(Get(kAcr + "/registries/myregistry/replications/northeurope").status, 404);
}

TEST_F(ControlPlaneTest, ReplicationAddsDataMembersAndRecords) {
  SeedNetwork();
  Registry();
  std::string zone = kNet + "/privateDnsZones/privatelink.azurecr.io";
  ASSERT_EQ(Put(zone, {{"location", "global"}}).status, 201);
  ASSERT_EQ(Endpoint("pe").status, 201);
  auto group = Put(kNet + "/privateEndpoints/pe/privateDnsZoneGroups/default",
                   {{"properties", {{"privateDnsZoneConfigs", {{{"name", "privatelink-azurecr-io"},
                                                                {"properties", {{"privateDnsZoneId", zone}}}}}}}}});
  ASSERT_EQ(group.status, 201) << group.body.dump();
  EXPECT_EQ(group.body["properties"]["privateDnsZoneConfigs"][0]["properties"]["recordSets"].size(), 2u);
  EXPECT_EQ(Get(zone + "/A/myregistry").body["properties"]["aRecords"][0]["ipv4Address"], "10.0.0.4");
  EXPECT_EQ(Get(zone + "/A/myregistry.westus.data").body["properties"]["aRecords"][0]["ipv4Address"], "10.0.0.5");
  EXPECT_EQ(Get(zone + "/A/myregistry").body["properties"]["ttl"], 10);

  ASSERT_EQ(Put(kAcr + "/registries/myregistry/replications/eastus", {{"location", "eastus"}}).status, 201);
  EXPECT_EQ(Members("pe")["registry_data_eastus"], "10.0.0.6");
  EXPECT_EQ(Get(zone + "/A/myregistry.eastus.data").body["properties"]["aRecords"][0]["ipv4Address"], "10.0.0.6");
  EXPECT_EQ(Get(kNet + "/privateEndpoints/pe").body["properties"]["customDnsConfigs"].size(), 3u);
  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->zones.size(), 1u);
  EXPECT_EQ(snap->zones[0].records.size(), 3u);

  // Removing the replica takes its member and record away again.
  ASSERT_EQ(Delete(kAcr + "/registries/myregistry/replications/eastus").status, 200);
  EXPECT_EQ(Members("pe").count("registry_data_eastus"), 0u);
  EXPECT_EQ(Get(zone + "/A/myregistry.eastus.data").status, 404);
}

TEST_F(ControlPlaneTest, ReplicationFailsForStaticEndpointsWithAzuresError) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Endpoint("pe", Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.0.0.6"}})).status, 201);
  auto r = Put(kAcr + "/registries/myregistry/replications/eastus", {{"location", "eastus"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Code(), "PrivateEndpointIpConfigurationMissingMemberNamesRequiredByFps");
  EXPECT_NE(r.Message().find("MemberName: registry_data_eastus"), std::string::npos);
  EXPECT_NE(r.Message().find("Private Endpoint needs to be reconfigured with missing memberNames"),
            std::string::npos);
  EXPECT_EQ(Get(kAcr + "/registries/myregistry/replications/eastus").status, 404);
  EXPECT_EQ(Members("pe").size(), 2u);
}

TEST_F(ControlPlaneTest, DeletingAnEndpointTakesNicConnectionAndRecords) {
  SeedNetwork();
  Registry();
  std::string zone = kNet + "/privateDnsZones/privatelink.azurecr.io";
  ASSERT_EQ(Put(zone, {{"location", "global"}}).status, 201);
  ASSERT_EQ(Put(zone + "/A/other", {{"properties", {{"ttl", 300}, {"aRecords", {{{"ipv4Address", "10.0.0.99"}}}}}}}).status, 201);
  ASSERT_EQ(Endpoint("pe").status, 201);
  ASSERT_EQ(Put(kNet + "/privateEndpoints/pe/privateDnsZoneGroups/default",
                {{"properties", {{"privateDnsZoneConfigs", {{{"name", "z"}, {"properties", {{"privateDnsZoneId", zone}}}}}}}}}).status, 201);
  std::string nic = Get(kNet + "/privateEndpoints/pe").body["properties"]["networkInterfaces"][0]["id"];
  EXPECT_EQ(Delete(nic).Code(), "CannotDeleteNicAttachedToPrivateEndpoint");
  ASSERT_EQ(Delete(kNet + "/privateEndpoints/pe").status, 200);
  EXPECT_EQ(Get(nic).status, 404);
  EXPECT_EQ(Get(kAcr + "/registries/myregistry").body["properties"]["privateEndpointConnections"].size(), 0u);
  EXPECT_EQ(Get(zone + "/A/myregistry").status, 404);
  EXPECT_EQ(Get(zone + "/A/myregistry.westus.data").status, 404);
  EXPECT_EQ(Get(zone + "/A/other").status, 200);  // user records stay
  EXPECT_EQ(Delete(kNet + "/virtualNetworks/myvnet/subnets/mysubnet").status, 200);  // no longer in use
}

TEST_F(ControlPlaneTest, ManualConnectionsWaitForApproval) {
  SeedNetwork();
  Registry();
  auto pe = Endpoint("pe", json::object(), "mysubnet", "myregistry", /*manual=*/true);
  ASSERT_EQ(pe.status, 201) << pe.body.dump();
  const auto& state = pe.body["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]
                             ["privateLinkServiceConnectionState"];
  EXPECT_EQ(state["status"], "Pending");
  EXPECT_EQ(state["description"], "please");
  std::string name = Get(kAcr + "/registries/myregistry/privateEndpointConnections").body["value"][0]["name"];
  std::string conn = kAcr + "/registries/myregistry/privateEndpointConnections/" + name;
  EXPECT_EQ(cp_->snapshot()->private_endpoints[0].connection_status, "Pending");
  auto approve = Put(conn, {{"properties", {{"privateLinkServiceConnectionState",
                                             {{"status", "Approved"}, {"description", "ok"}}}}}});
  ASSERT_EQ(approve.status, 200) << approve.body.dump();
  EXPECT_EQ(Get(kNet + "/privateEndpoints/pe").body["properties"]["manualPrivateLinkServiceConnections"][0]
                ["properties"]["privateLinkServiceConnectionState"]["status"], "Approved");
  ASSERT_EQ(Put(conn, {{"properties", {{"privateLinkServiceConnectionState", {{"status", "Rejected"}}}}}}).status, 200);
  EXPECT_EQ(Put(conn, {{"properties", {{"privateLinkServiceConnectionState", {{"status", "Approved"}}}}}}).Code(),
            "PrivateEndpointConnectionStatusChangeNotAllowed");
  EXPECT_EQ(Put(kAcr + "/registries/myregistry/privateEndpointConnections/nope",
                {{"properties", {{"privateLinkServiceConnectionState", {{"status", "Approved"}}}}}}).status, 404);
  // Removing the connection on the registry disconnects the endpoint.
  ASSERT_EQ(Delete(conn).status, 200);
  EXPECT_EQ(Get(kNet + "/privateEndpoints/pe").body["properties"]["manualPrivateLinkServiceConnections"][0]
                ["properties"]["privateLinkServiceConnectionState"]["status"], "Disconnected");
  EXPECT_EQ(cp_->snapshot()->private_endpoints[0].connection_status, "Disconnected");
}

TEST_F(ControlPlaneTest, CrossSubscriptionNeedsProvidersRegistered) {
  SeedNetwork();
  Registry();
  std::string sub2 = "/subscriptions/c0ffee00-0000-4000-8000-000000000002";
  auto s = Put(sub2, {{"displayName", "team"}});
  ASSERT_EQ(s.status, 201);
  EXPECT_EQ(Get(sub2 + "/providers/Microsoft.Network").body["registrationState"], "NotRegistered");
  ASSERT_EQ(Put(sub2 + "/resourceGroups/rg2", {{"location", "westus"}}).status, 201);
  std::string net2 = sub2 + "/resourceGroups/rg2/providers/Microsoft.Network";
  auto refused = Put(net2 + "/virtualNetworks/v2", Vnet("10.5.0.0/16", {{{"name", "s"}, Subnet("10.5.0.0/24")}}));
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.Code(), "MissingSubscriptionRegistration");
  ASSERT_EQ(Post(sub2 + "/providers/Microsoft.Network/register").body["registrationState"], "Registered");
  auto vnet_body = Vnet("10.5.0.0/16");
  vnet_body["properties"]["subnets"] = json::array({json{{"name", "s"}, {"properties", {{"addressPrefix", "10.5.0.0/24"}}}}});
  ASSERT_EQ(Put(net2 + "/virtualNetworks/v2", vnet_body).status, 201);
  json pe = {{"location", "westus"},
             {"properties", {{"subnet", {{"id", net2 + "/virtualNetworks/v2/subnets/s"}}},
                             {"privateLinkServiceConnections",
                              {{{"name", "c"}, {"properties", {{"privateLinkServiceId", kAcr + "/registries/myregistry"},
                                                               {"groupIds", {"registry"}}}}}}}}}};
  auto cross = Put(net2 + "/privateEndpoints/pe", pe);
  EXPECT_EQ(cross.Code(), "MissingSubscriptionRegistration");
  EXPECT_NE(cross.Message().find("Microsoft.ContainerRegistry"), std::string::npos);
  ASSERT_EQ(Post(sub2 + "/providers/Microsoft.ContainerRegistry/register").status, 200);
  EXPECT_EQ(Put(net2 + "/privateEndpoints/pe", pe).status, 201);
  // Peering into an unregistered subscription is refused too.
  std::string sub3 = "/subscriptions/c0ffee00-0000-4000-8000-000000000003";
  ASSERT_EQ(Put(sub3, {{"displayName", "x"}}).status, 201);
  ASSERT_EQ(Post(sub2 + "/providers/Microsoft.Network/unregister").body["registrationState"], "NotRegistered");
  EXPECT_EQ(Put(kNet + "/virtualNetworks/myvnet/virtualNetworkPeerings/p",
                {{"properties", {{"remoteVirtualNetwork", {{"id", net2 + "/virtualNetworks/v2"}}}}}}).Code(),
            "MissingSubscriptionRegistration");
  EXPECT_EQ(Get("/subscriptions").body["value"].size(), 3u);
}

TEST_F(ControlPlaneTest, DeletingAResourceGroupRemovesEverythingInIt) {
  SeedNetwork();
  ASSERT_EQ(Put(kSub + "/resourceGroups/acr", {{"location", "westus"}}).status, 201);
  std::string reg = kSub + "/resourceGroups/acr/providers/Microsoft.ContainerRegistry/registries/myregistry";
  ASSERT_EQ(Put(reg, {{"location", "westus"}, {"sku", {{"name", "Premium"}}}}).status, 201);
  std::string zone = kNet + "/privateDnsZones/privatelink.azurecr.io";
  ASSERT_EQ(Put(zone, {{"location", "global"}}).status, 201);
  ASSERT_EQ(Put(zone + "/virtualNetworkLinks/l", {{"location", "global"},
                                                 {"properties", {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/myvnet"}}},
                                                                 {"registrationEnabled", false}}}}).status, 201);
  json pe = {{"location", "westus"},
             {"properties", {{"subnet", {{"id", kNet + "/virtualNetworks/myvnet/subnets/mysubnet"}}},
                             {"privateLinkServiceConnections",
                              {{{"name", "c"}, {"properties", {{"privateLinkServiceId", reg}, {"groupIds", {"registry"}}}}}}}}}};
  ASSERT_EQ(Put(kNet + "/privateEndpoints/pe", pe).status, 201);
  ASSERT_EQ(Get(reg).body["properties"]["privateEndpointConnections"].size(), 1u);
  ASSERT_EQ(Delete(kRg).status, 200);
  EXPECT_EQ(Get(kRg).Code(), "ResourceGroupNotFound");
  EXPECT_EQ(Get(reg).body["properties"]["privateEndpointConnections"].size(), 0u);  // other group
  auto snap = cp_->snapshot();
  EXPECT_TRUE(snap->vnets.empty());
  EXPECT_TRUE(snap->zones.empty());
  EXPECT_TRUE(snap->private_endpoints.empty());
  for (const auto& [k, d] : snap->documents) EXPECT_EQ(k.find("/resourcegroups/rg/"), std::string::npos) << k;
  EXPECT_EQ(Delete(kRg).status, 204);
}

TEST_F(ControlPlaneTest, ResourceGroupDeleteIsRefusedWhenAnotherGroupUsesItsSubnet) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Put(kSub + "/resourceGroups/apps", {{"location", "westus"}}).status, 201);
  json pe = {{"location", "westus"},
             {"properties", {{"subnet", {{"id", kNet + "/virtualNetworks/myvnet/subnets/mysubnet"}}},
                             {"privateLinkServiceConnections",
                              {{{"name", "c"}, {"properties", {{"privateLinkServiceId", kAcr + "/registries/myregistry"}}}}}}}}};
  ASSERT_EQ(Put(kSub + "/resourceGroups/apps/providers/Microsoft.Network/privateEndpoints/pe", pe).status, 201);
  EXPECT_EQ(Delete(kRg).Code(), "InUseSubnetCannotBeDeleted");
  EXPECT_EQ(Get(kAcr + "/registries/myregistry").status, 200);  // nothing was deleted
}

// ------------------------------------------------------------------ private DNS

TEST_F(ControlPlaneTest, PrivateDnsZonesRecordsAndLinks) {
  SeedNetwork();
  std::string zone = kNet + "/privateDnsZones/privatelink.azurecr.io";
  EXPECT_EQ(Put(zone, {{"location", "westus"}}).Code(), "LocationNotAvailableForResourceType");
  EXPECT_EQ(Put(kNet + "/privateDnsZones/nodots", {{"location", "global"}}).Code(), "InvalidResourceName");
  auto z = Put(zone, {{"location", "global"}});
  ASSERT_EQ(z.status, 201);
  EXPECT_EQ(z.body["location"], "global");
  auto a = Call("PUT", zone + "/A/myregistry", json{{"properties", {{"ttl", 10}, {"aRecords", {{{"ipv4Address", "10.0.0.5"}}}}}}}.dump(),
                "2020-06-01", {{"If-None-Match", "*"}});
  ASSERT_EQ(a.status, 201);
  EXPECT_EQ(a.body["properties"]["fqdn"], "myregistry.privatelink.azurecr.io.");
  EXPECT_EQ(Call("PUT", zone + "/A/myregistry", "{}", "2020-06-01", {{"If-None-Match", "*"}}).status, 412);
  EXPECT_EQ(Put(zone + "/A/bad", {{"properties", {{"aRecords", {{{"ipv4Address", "10.0.0"}}}}}}}).Code(),
            "InvalidRequestContent");
  EXPECT_EQ(Put(zone + "/CNAME/myregistry", {{"properties", {{"cnameRecord", {{"cname", "x.example.com"}}}}}}).Code(),
            "Conflict");
  ASSERT_EQ(Put(zone + "/CNAME/alias", {{"properties", {{"cnameRecord", {{"cname", "myregistry.privatelink.azurecr.io"}}}}}}).status, 201);
  EXPECT_EQ(Get(zone + "/ALL").body["value"].size(), 2u);
  EXPECT_EQ(Get(zone + "/A").body["value"].size(), 1u);
  std::string vnet = kNet + "/virtualNetworks/myvnet";
  json link = {{"location", "global"}, {"properties", {{"virtualNetwork", {{"id", vnet}}}, {"registrationEnabled", false},
                                                        {"resolutionPolicy", "NxDomainRedirect"}}}};
  auto l = Put(zone + "/virtualNetworkLinks/mylink", link);
  ASSERT_EQ(l.status, 201) << l.body.dump();
  EXPECT_EQ(l.body["properties"]["virtualNetworkLinkState"], "Completed");
  EXPECT_EQ(Put(zone + "/virtualNetworkLinks/again", link).Code(), "Conflict");
  link["properties"]["resolutionPolicy"] = "Sometimes";
  EXPECT_EQ(Put(zone + "/virtualNetworkLinks/bad", link).Code(), "InvalidRequestContent");
  EXPECT_EQ(Put(zone + "/virtualNetworkLinks/ghost",
                {{"location", "global"}, {"properties", {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/nope"}}}}}}).Code(),
            "InvalidResourceReference");
  // Auto-registration: one zone per VNet.
  std::string zone2 = kNet + "/privateDnsZones/corp.example";
  std::string zone3 = kNet + "/privateDnsZones/other.example";
  ASSERT_EQ(Put(zone2, {{"location", "global"}}).status, 201);
  ASSERT_EQ(Put(zone3, {{"location", "global"}}).status, 201);
  json reg = {{"location", "global"}, {"properties", {{"virtualNetwork", {{"id", vnet}}}, {"registrationEnabled", true}}}};
  ASSERT_EQ(Put(zone2 + "/virtualNetworkLinks/r", reg).status, 201);
  EXPECT_EQ(Put(zone3 + "/virtualNetworkLinks/r", reg).Code(), "BadRequest");
  auto zv = Get(zone);
  EXPECT_EQ(zv.body["properties"]["numberOfVirtualNetworkLinks"], 1);
  auto snap = cp_->snapshot();
  const ZoneView* view = nullptr;
  for (const auto& zz : snap->zones) if (zz.name == "privatelink.azurecr.io") view = &zz;
  ASSERT_NE(view, nullptr);
  ASSERT_EQ(view->links.size(), 1u);
  EXPECT_EQ(view->links[0].resolution_policy, "NxDomainRedirect");
  EXPECT_EQ(view->records.size(), 2u);
}

// ------------------------------------------------------------------ the seed, as az sends it

// The seed's architecture built with the requests az makes (read-modify-write updates send
// back everything GET returned, read-only fields included), ending with the endpoint's members.
TEST_F(ControlPlaneTest, SeedArchitectureAsAzSendsIt) {
  std::string rg = kSub + "/resourceGroups/myResourceGroup";
  std::string net = rg + "/providers/Microsoft.Network";
  ASSERT_EQ(Put(rg, {{"location", "westus"}}).status, 201);
  // az network vnet create --name myVNet --address-prefixes 10.0.0.0/16 --subnet-name mySubnet ...
  ASSERT_EQ(Put(net + "/virtualNetworks/myVNet",
                Vnet("10.0.0.0/16", {{{"name", "mySubnet"}, {"properties", {{"addressPrefix", "10.0.0.0/24"}}}}})).status, 201);
  // az network vnet subnet update --disable-private-endpoint-network-policies: GET, then PUT it all.
  auto subnet = Get(net + "/virtualNetworks/myVNet/subnets/mySubnet");
  ASSERT_EQ(subnet.status, 200);
  subnet.body["properties"]["privateEndpointNetworkPolicies"] = "Disabled";
  ASSERT_EQ(Put(net + "/virtualNetworks/myVNet/subnets/mySubnet", subnet.body).status, 200);
  // az acr create --name myregistry --sku Premium
  auto check = Post(kSub + "/providers/Microsoft.ContainerRegistry/checkNameAvailability",
                    {{"name", "myregistry"}, {"type", "Microsoft.ContainerRegistry/registries"}});
  ASSERT_EQ(check.body["nameAvailable"], true);
  std::string reg = rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry";
  ASSERT_EQ(Put(reg, {{"location", "westus"}, {"sku", {{"name", "Premium"}}},
                      {"properties", {{"adminUserEnabled", false}}}}).status, 201);
  // az network private-dns zone create / link vnet create
  std::string zone = net + "/privateDnsZones/privatelink.azurecr.io";
  ASSERT_EQ(Call("PUT", zone, R"({"location":"global"})", "2018-09-01", {{"If-None-Match", "*"}}).status, 201);
  ASSERT_EQ(Put(zone + "/virtualNetworkLinks/myDNSLink",
                {{"location", "global"}, {"properties", {{"virtualNetwork", {{"id", net + "/virtualNetworks/myVNet"}}},
                                                         {"registrationEnabled", false}}}}).status, 201);
  // az network private-endpoint create --private-connection-resource-id $(az acr show --query id)
  //   --group-ids registry --connection-name myConnection --ip-config ... (the seed's addresses)
  std::string id = Get(kSub + "/providers/Microsoft.ContainerRegistry/registries").body["value"][0]["id"];
  json pe = {{"location", "westus"},
             {"properties", {{"subnet", {{"id", net + "/virtualNetworks/myVNet/subnets/mySubnet"}}},
                             {"privateLinkServiceConnections",
                              {{{"name", "myConnection"}, {"properties", {{"privateLinkServiceId", id}, {"groupIds", {"registry"}}}}}}}}}};
  pe["properties"].update(Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.0.0.6"}}));
  ASSERT_EQ(Put(net + "/privateEndpoints/myPrivateEndpoint", pe).status, 201);
  // az network private-endpoint dns-zone-group create --zone-name registry
  ASSERT_EQ(Put(net + "/privateEndpoints/myPrivateEndpoint/privateDnsZoneGroups/myZoneGroup",
                {{"properties", {{"privateDnsZoneConfigs", {{{"name", "registry"}, {"properties", {{"privateDnsZoneId", zone}}}}}}}}}).status, 201);
  // az acr update --public-network-enabled false
  ASSERT_EQ(Patch(reg, {{"properties", {{"publicNetworkAccess", "Disabled"}}}}).status, 200);
  // az network private-endpoint show
  auto shown = Get(net + "/privateEndpoints/myPrivateEndpoint");
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body["properties"]["customDnsConfigs"],
            json::parse(R"([{"fqdn":"myregistry.azurecr.io","ipAddresses":["10.0.0.5"]},
                            {"fqdn":"myregistry.westus.data.azurecr.io","ipAddresses":["10.0.0.6"]}])"));
  EXPECT_EQ(shown.body["properties"]["privateLinkServiceConnections"][0]["properties"]
                      ["privateLinkServiceConnectionState"]["status"], "Approved");
  EXPECT_EQ(Get(zone + "/A/myregistry").body["properties"]["aRecords"][0]["ipv4Address"], "10.0.0.5");
  EXPECT_EQ(Get(zone + "/A/myregistry.westus.data").body["properties"]["aRecords"][0]["ipv4Address"], "10.0.0.6");
  // Round-tripping the shown endpoint (az network private-endpoint update --tags) is accepted.
  shown.body["tags"] = {{"owner", "platform"}};
  EXPECT_EQ(Put(net + "/privateEndpoints/myPrivateEndpoint", shown.body).status, 200);
  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->private_endpoints.size(), 1u);
  const auto& view = snap->private_endpoints[0];
  ASSERT_EQ(view.members.size(), 2u);
  EXPECT_EQ(view.members[0].member_name, "registry");
  EXPECT_EQ(view.members[0].ip, "10.0.0.5");
  EXPECT_TRUE(view.members[0].static_ip);
  EXPECT_EQ(view.members[1].fqdns, std::vector<std::string>{"myregistry.westus.data.azurecr.io"});
  EXPECT_FALSE(snap->FindRegistry("MyRegistry")->public_network_access);
}

// ------------------------------------------------------------------ persistence and snapshots

TEST_F(ControlPlaneTest, StateSurvivesARestart) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Endpoint("pe").status, 201);
  uint32_t link = cp_->snapshot()->private_endpoints.at(0).link_id;
  ASSERT_EQ(Put("/subscriptions/c0ffee00-0000-4000-8000-000000000009", {{"displayName", "later"}}).status, 201);
  Restart();
  EXPECT_EQ(Get(kNet + "/privateEndpoints/pe").status, 200);
  EXPECT_EQ(Members("pe")["registry"], "10.0.0.4");
  EXPECT_EQ(Get("/subscriptions").body["value"].size(), 2u);
  ASSERT_EQ(Endpoint("pe2").status, 201);
  EXPECT_EQ(Members("pe2")["registry"], "10.0.0.6");
  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->private_endpoints.size(), 2u);
  EXPECT_NE(snap->private_endpoints[0].link_id, snap->private_endpoints[1].link_id);
  EXPECT_TRUE(snap->private_endpoints[0].link_id == link || snap->private_endpoints[1].link_id == link);
}

TEST_F(ControlPlaneTest, RefusedRequestsAreNotPersisted) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Endpoint("pe", Statics({{"registry", "10.0.0.5"}})).status, 400);
  Restart();
  EXPECT_EQ(Get(kNet + "/networkInterfaces").body["value"].size(), 0u);
  EXPECT_EQ(Get(kNet + "/privateEndpoints").body["value"].size(), 0u);
}

TEST_F(ControlPlaneTest, SubscribersSeeEveryCommitInOrder) {
  std::vector<uint64_t> versions;
  std::mutex mu;
  int id = cp_->Subscribe([&](const SnapshotPtr& s) {
    std::lock_guard lock(mu);
    versions.push_back(s->version);
  });
  uint64_t start = cp_->snapshot()->version;
  SeedNetwork();
  EXPECT_EQ(Put(kNet + "/virtualNetworks/bad", Vnet("10.0.0.1/8")).status, 400);  // no commit
  cp_->Unsubscribe(id);
  ASSERT_EQ(Put(kNet + "/virtualNetworks/later", Vnet("10.9.0.0/16")).status, 201);
  std::lock_guard lock(mu);
  EXPECT_EQ(versions, (std::vector<uint64_t>{start + 1, start + 2}));
  EXPECT_EQ(cp_->snapshot()->version, start + 3);
}

TEST_F(ControlPlaneTest, ConcurrentWritersAndReaders) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::string name = "v" + std::to_string(t) + "x" + std::to_string(i);
        if (Put(kNet + "/virtualNetworks/" + name, Vnet("10." + std::to_string(t * 10 + i) + ".0.0/16")).status == 201) {
          ++created;
        }
        Get(kNet + "/virtualNetworks");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 20);
  EXPECT_EQ(cp_->snapshot()->vnets.size(), 20u);
}

}  // namespace
}  // namespace cove::arm

namespace cove::arm {
namespace {

// Issue 12: ACR turns dedicated data endpoints on when a private endpoint connects.
TEST_F(ControlPlaneTest, ConnectingAnEndpointEnablesDataEndpoints) {
  SeedNetwork();
  Registry();
  EXPECT_EQ(Get(kAcr + "/registries/myregistry").body["properties"]["dataEndpointEnabled"], false);
  ASSERT_EQ(Endpoint("pe").status, 201);
  auto r = Get(kAcr + "/registries/myregistry");
  EXPECT_EQ(r.body["properties"]["dataEndpointEnabled"], true);
  EXPECT_EQ(r.body["properties"]["dataEndpointHostNames"], json({"myregistry.westus.data.azurecr.io"}));
  const RegistryView* view = cp_->snapshot()->FindRegistry("myregistry");
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(view->data_endpoint_enabled);
  EXPECT_EQ(view->data_endpoint_host_names,
            (std::vector<std::string>{"myregistry.westus.data.azurecr.io"}));
}

// Issue 12, bad input on replications: Azure's errors, and nothing changes.
TEST_F(ControlPlaneTest, ReplicationBadInputChangesNothing) {
  SeedNetwork();
  Registry();
  std::string reps = kAcr + "/registries/myregistry/replications";
  auto unknown = Put(reps + "/atlantis", {{"location", "atlantis"}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.Code(), "LocationNotAvailableForResourceType");
  EXPECT_NE(unknown.Message().find("'atlantis' is not available"), std::string::npos);
  EXPECT_EQ(Get(reps + "/atlantis").status, 404);
  EXPECT_EQ(Put(reps + "/westus", {{"location", "westus"}}).Code(), "ReplicationAlreadyExists");
  EXPECT_EQ(Put(reps + "/home2", {{"location", "West US"}}).Code(), "ReplicationAlreadyExists");
  // "East US" normalizes to eastus.
  auto east = Put(reps + "/eastus", {{"location", "East US"}});
  ASSERT_EQ(east.status, 201) << east.body.dump();
  EXPECT_EQ(east.body["location"], "eastus");
  auto again = Put(reps + "/eastus2nd", {{"location", "EastUS"}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.Code(), "ReplicationAlreadyExists");
  EXPECT_EQ(Get(reps + "/eastus2nd").status, 404);
  EXPECT_EQ(Get(reps).body["value"].size(), 2u);  // the home region's and eastus
  // The home region's replication cannot be removed; a replica can.
  auto home = Delete(reps + "/westus");
  EXPECT_EQ(home.status, 400);
  EXPECT_EQ(home.Code(), "HomeReplicationCannotBeDeleted");
  EXPECT_EQ(Get(kAcr + "/registries/myregistry").status, 200);
  EXPECT_EQ(cp_->snapshot()->FindRegistry("myregistry")->regions,
            (std::vector<std::string>{"westus", "eastus"}));
  EXPECT_EQ(Delete(reps + "/eastus").status, 200);
  EXPECT_EQ(Delete(reps + "/eastus").status, 204);
}

// Issue 12: a replication as ACR has it — regionEndpointEnabled (true) and zoneRedundancy
// (Disabled) by default, provisioningState, a status that is not "Ready" before anyone said so —
// and the snapshot's replicas.
TEST_F(ControlPlaneTest, ReplicationDefaultsAndSnapshotReplicas) {
  SeedNetwork();
  Registry();
  std::string reps = kAcr + "/registries/myregistry/replications";
  auto east = Put(reps + "/eastus", {{"location", "eastus"}});
  ASSERT_EQ(east.status, 201) << east.body.dump();
  const json& p = east.body["properties"];
  EXPECT_EQ(p["regionEndpointEnabled"], true);
  EXPECT_EQ(p["zoneRedundancy"], "Disabled");
  EXPECT_EQ(p["provisioningState"], "Succeeded");
  EXPECT_EQ(p["status"]["displayStatus"], "Syncing");
  EXPECT_EQ(p["status"]["message"], "waiting for the region's first report");
  EXPECT_TRUE(p["status"]["timestamp"].is_string());
  EXPECT_FALSE(p["status"].contains("cove"));
  EXPECT_FALSE(east.body.contains("_cove"));
  auto north =
      Put(reps + "/northeurope",
          {{"location", "northeurope"},
           {"properties", {{"zoneRedundancy", "enabled"}, {"regionEndpointEnabled", false}}}});
  ASSERT_EQ(north.status, 201) << north.body.dump();
  EXPECT_EQ(north.body["properties"]["zoneRedundancy"], "Enabled");  // Azure's casing
  EXPECT_EQ(north.body["properties"]["regionEndpointEnabled"], false);

  const RegistryView* view = cp_->snapshot()->FindRegistry("myregistry");
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->regions, (std::vector<std::string>{"westus", "eastus", "northeurope"}));
  ASSERT_EQ(view->replicas.size(), 3u);
  EXPECT_EQ(view->replicas[0].region, "westus");
  EXPECT_TRUE(view->replicas[0].region_endpoint_enabled);
  EXPECT_FALSE(view->replicas[0].zone_redundant);
  EXPECT_EQ(view->replicas[1].region, "eastus");
  EXPECT_TRUE(view->replicas[1].region_endpoint_enabled);
  EXPECT_FALSE(view->replicas[1].zone_redundant);
  EXPECT_EQ(view->replicas[2].region, "northeurope");
  EXPECT_FALSE(view->replicas[2].region_endpoint_enabled);
  EXPECT_TRUE(view->replicas[2].zone_redundant);

  // A registry made zone redundant has a zone-redundant home replica.
  auto zr =
      Put(kAcr + "/registries/zoneregistry", {{"location", "westus"},
                                              {"sku", {{"name", "Premium"}}},
                                              {"properties", {{"zoneRedundancy", "Enabled"}}}});
  ASSERT_EQ(zr.status, 201) << zr.body.dump();
  EXPECT_TRUE(cp_->snapshot()->FindRegistry("zoneregistry")->replicas.at(0).zone_redundant);
}

// Issue 13: ACR's retention policy for untagged manifests (Premium only, 0-365 days, default 7),
// kept through other updates and projected for the registry nodes; listUsages.
TEST_F(ControlPlaneTest, RetentionPolicyAndUsages) {
  SeedNetwork();
  Registry();
  std::string reg = kAcr + "/registries/myregistry";
  EXPECT_FALSE(Get(reg).body["properties"].contains("policies"));  // as before, until set
  EXPECT_FALSE(cp_->snapshot()->FindRegistry("myregistry")->retention_enabled);
  auto bad = Patch(reg, {{"properties", {{"policies", {{"retentionPolicy", {{"days", 366}}}}}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["code"], "InvalidRetentionDays") << bad.body.dump();
  auto set = Patch(reg, {{"properties",
                          {{"policies", {{"retentionPolicy", {{"status", "Enabled"}}}}}}}});
  ASSERT_EQ(set.status, 200) << set.body.dump();
  const json& policy = set.body["properties"]["policies"]["retentionPolicy"];
  EXPECT_EQ(policy["days"], 7);
  EXPECT_EQ(policy["status"], "enabled");
  EXPECT_TRUE(policy["lastUpdatedTime"].is_string());
  auto updated = Patch(reg, {{"properties", {{"adminUserEnabled", true}}}});
  ASSERT_EQ(updated.status, 200);
  EXPECT_EQ(updated.body["properties"]["policies"]["retentionPolicy"], policy);  // untouched
  const RegistryView* view = cp_->snapshot()->FindRegistry("myregistry");
  EXPECT_TRUE(view->retention_enabled);
  EXPECT_EQ(view->retention_days, 7);
  // Not below Premium, neither set nor kept.
  auto downgrade = Patch(reg, {{"sku", {{"name", "Standard"}}}});
  EXPECT_EQ(downgrade.status, 400);
  EXPECT_EQ(downgrade.body["error"]["code"], "PoliciesNotSupportedForSku");
  Registry("basicregistry", "Basic");
  auto basic = Patch(kAcr + "/registries/basicregistry",
                     {{"properties", {{"policies", {{"retentionPolicy", {{"days", 1}}}}}}}});
  EXPECT_EQ(basic.status, 400);
  EXPECT_EQ(basic.body["error"]["message"],
            "Policies are only supported for managed registries in Premium SKU.");

  // listUsages: Size from the data plane (0 without a report), counts with the SKU's limits.
  auto usages = Get(reg + "/listUsages");
  ASSERT_EQ(usages.status, 200) << usages.body.dump();
  EXPECT_EQ(usages.body["value"][0],
            json({{"name", "Size"}, {"limit", 500ull << 30}, {"currentValue", 0}, {"unit", "Bytes"}}));
  cp_->SetRegistryUsageProvider([](const std::string& name) -> std::optional<uint64_t> {
    if (name == "myregistry") return 12345;
    return std::nullopt;
  });
  EXPECT_EQ(Get(reg + "/listUsages").body["value"][0]["currentValue"], 12345);
  auto basic_usages = Get(kAcr + "/registries/basicregistry/listUsages").body["value"];
  ASSERT_EQ(basic_usages.size(), 4u);
  EXPECT_EQ(basic_usages[0]["limit"], 10ull << 30);
  EXPECT_EQ(basic_usages[1], json({{"name", "Webhooks"}, {"limit", 2}, {"currentValue", 0},
                                   {"unit", "Count"}}));
  EXPECT_EQ(Get(kAcr + "/registries/nosuchregistry/listUsages").status, 404);
}

// Issue 12: zoneRedundancy is fixed at creation (registry and replication); bad values get the
// validation error; a refused request changes nothing. regionEndpointEnabled and tags update.
TEST_F(ControlPlaneTest, ReplicationZoneRedundancyIsImmutableAndUpdatesWork) {
  SeedNetwork();
  Registry();
  std::string reps = kAcr + "/registries/myregistry/replications";
  ASSERT_EQ(Put(reps + "/eastus", {{"location", "eastus"}}).status, 201);
  auto version = cp_->snapshot()->version;

  auto maybe = Put(reps + "/northeurope",
                   {{"location", "northeurope"}, {"properties", {{"zoneRedundancy", "Maybe"}}}});
  EXPECT_EQ(maybe.status, 400);
  EXPECT_EQ(maybe.Code(), "InvalidRequestContent");
  EXPECT_NE(maybe.Message().find("properties.zoneRedundancy"), std::string::npos)
      << maybe.Message();
  EXPECT_EQ(Get(reps + "/northeurope").status, 404);

  auto changed = Patch(reps + "/eastus", {{"properties", {{"zoneRedundancy", "Enabled"}}}});
  EXPECT_EQ(changed.status, 400);
  EXPECT_EQ(changed.Code(), "PropertyChangeNotAllowed");
  EXPECT_NE(changed.Message().find("Changing property 'zoneRedundancy' is not allowed"),
            std::string::npos)
      << changed.Message();
  auto put_changed = Put(reps + "/eastus",
                         {{"location", "eastus"}, {"properties", {{"zoneRedundancy", "Enabled"}}}});
  EXPECT_EQ(put_changed.Code(), "PropertyChangeNotAllowed");
  auto registry_changed =
      Patch(kAcr + "/registries/myregistry", {{"properties", {{"zoneRedundancy", "Enabled"}}}});
  EXPECT_EQ(registry_changed.status, 400);
  EXPECT_EQ(registry_changed.Code(), "PropertyChangeNotAllowed");
  auto home_changed = Patch(reps + "/westus", {{"properties", {{"zoneRedundancy", "Enabled"}}}});
  EXPECT_EQ(home_changed.Code(), "PropertyChangeNotAllowed");
  EXPECT_EQ(cp_->snapshot()->version, version);  // nothing changed
  EXPECT_EQ(Get(reps + "/eastus").body["properties"]["zoneRedundancy"], "Disabled");
  EXPECT_EQ(Get(kAcr + "/registries/myregistry").body["properties"]["zoneRedundancy"], "Disabled");

  // The same value is not a change.
  EXPECT_EQ(Patch(reps + "/eastus", {{"properties", {{"zoneRedundancy", "Disabled"}}}}).status,
            200);

  // Routing off, tags on: the update (ACR's ReplicationUpdateParameters) keeps the rest.
  auto off = Patch(reps + "/eastus",
                   {{"properties", {{"regionEndpointEnabled", false}}}, {"tags", {{"team", "a"}}}});
  ASSERT_EQ(off.status, 200) << off.body.dump();
  EXPECT_EQ(off.body["properties"]["regionEndpointEnabled"], false);
  EXPECT_EQ(off.body["tags"], json({{"team", "a"}}));
  EXPECT_EQ(off.body["location"], "eastus");
  EXPECT_EQ(off.body["properties"]["status"]["displayStatus"], "Syncing");
  EXPECT_FALSE(cp_->snapshot()->FindRegistry("myregistry")->replicas.at(1).region_endpoint_enabled);
  auto bad = Patch(reps + "/eastus", {{"properties", {{"regionEndpointEnabled", "sometimes"}}}});
  EXPECT_EQ(bad.Code(), "InvalidRequestContent");
  EXPECT_EQ(Get(reps + "/eastus").body["properties"]["regionEndpointEnabled"], false);
  EXPECT_EQ(Patch(reps + "/nowhere", {{"tags", {{"a", "b"}}}}).status, 404);
}

// Issue 12: the home region's replication is listed first, shown, and updated like any other;
// it cannot be deleted or made twice; a registry without replicas lists it alone.
TEST_F(ControlPlaneTest, HomeReplicationIsListedShownAndUpdated) {
  SeedNetwork();
  Registry();
  std::string reps = kAcr + "/registries/myregistry/replications";
  auto only = Get(reps);
  ASSERT_EQ(only.status, 200);
  ASSERT_EQ(only.body["value"].size(), 1u);
  ASSERT_EQ(Put(reps + "/eastus", {{"location", "eastus"}}).status, 201);
  auto list = Get(reps);
  ASSERT_EQ(list.body["value"].size(), 2u);
  const json& home = list.body["value"][0];
  EXPECT_EQ(home["name"], "westus");
  EXPECT_EQ(home["location"], "westus");
  EXPECT_EQ(home["type"], "Microsoft.ContainerRegistry/registries/replications");
  EXPECT_EQ(home["id"], kAcr + "/registries/myregistry/replications/westus");
  EXPECT_EQ(home["properties"]["regionEndpointEnabled"], true);
  EXPECT_EQ(home["properties"]["zoneRedundancy"], "Disabled");
  EXPECT_EQ(home["properties"]["provisioningState"], "Succeeded");
  EXPECT_EQ(home["properties"]["status"]["displayStatus"], "Syncing");
  EXPECT_EQ(home["tags"], json::object());
  EXPECT_EQ(list.body["value"][1]["name"], "eastus");
  auto shown = Get(reps + "/WestUS");
  ASSERT_EQ(shown.status, 200) << shown.body.dump();
  EXPECT_EQ(shown.body, home);
  EXPECT_EQ(Call("HEAD", reps + "/westus").status, 200);

  auto updated = Patch(reps + "/westus", {{"tags", {{"role", "home"}}},
                                          {"properties", {{"regionEndpointEnabled", false}}}});
  ASSERT_EQ(updated.status, 200) << updated.body.dump();
  EXPECT_EQ(updated.body["tags"], json({{"role", "home"}}));
  EXPECT_EQ(updated.body["properties"]["regionEndpointEnabled"], false);
  EXPECT_EQ(Get(reps + "/westus").body["tags"], json({{"role", "home"}}));
  EXPECT_FALSE(Get(kAcr + "/registries/myregistry").body.contains("_cove"));
  const RegistryView* view = cp_->snapshot()->FindRegistry("myregistry");
  EXPECT_FALSE(view->replicas.at(0).region_endpoint_enabled);
  EXPECT_TRUE(view->replicas.at(1).region_endpoint_enabled);
  // A registry update keeps what the home replication's update set.
  ASSERT_EQ(
      Patch(kAcr + "/registries/myregistry", {{"properties", {{"adminUserEnabled", true}}}}).status,
      200);
  EXPECT_EQ(Get(reps + "/westus").body["properties"]["regionEndpointEnabled"], false);
  EXPECT_EQ(Patch(reps + "/westus", {{"tags", "notanobject"}}).Code(), "InvalidRequestContent");

  EXPECT_EQ(Put(reps + "/westus", {{"location", "westus"}}).Code(), "ReplicationAlreadyExists");
  EXPECT_EQ(Put(reps + "/westus", {{"location", "uksouth"}}).Code(), "InvalidResourceLocation");
  EXPECT_EQ(Delete(reps + "/westus").Code(), "HomeReplicationCannotBeDeleted");
  EXPECT_EQ(Get(reps).body["value"].size(), 2u);
}

// Issue 12: replication status comes from the data plane's report (status provider); without
// one, or without a report for the region, it is "Syncing", never "Ready".
TEST_F(ControlPlaneTest, ReplicationStatusComesFromTheProvider) {
  SeedNetwork();
  Registry();
  std::string reps = kAcr + "/registries/myregistry/replications";
  ASSERT_EQ(Put(reps + "/eastus", {{"location", "eastus"}}).status, 201);
  std::vector<std::pair<std::string, std::string>> asked;
  std::mutex mu;
  cp_->SetReplicationStatusProvider(
      [&](const std::string& registry,
          const std::string& region) -> std::optional<ReplicationStatus> {
        std::lock_guard lock(mu);
        asked.emplace_back(registry, region);
        if (region == "westus") {
          return ReplicationStatus{"Ready", "",
                                   Clock::TimePoint(std::chrono::seconds(1'800'000'000)), 0, 0};
        }
        if (region == "eastus") {
          return ReplicationStatus{"Syncing", "copying 12 changes",
                                   Clock::TimePoint(std::chrono::seconds(1'800'000'060)), 12, 3500};
        }
        return std::nullopt;
      });
  auto east = Get(reps + "/eastus");
  const json& status = east.body["properties"]["status"];
  EXPECT_EQ(status["displayStatus"], "Syncing");
  EXPECT_EQ(status["message"], "copying 12 changes");
  EXPECT_EQ(status["timestamp"], "2027-01-15T08:01:00.0000000+00:00");
  EXPECT_EQ(status["cove"], json({{"lagEntries", 12}, {"lagMs", 3500}}));
  auto home = Get(reps + "/westus").body["properties"]["status"];
  EXPECT_EQ(home["displayStatus"], "Ready");
  EXPECT_EQ(home["cove"]["lagMs"], 0);
  {
    std::lock_guard lock(mu);
    EXPECT_NE(std::find(asked.begin(), asked.end(),
                        std::make_pair(std::string("myregistry"), std::string("eastus"))),
              asked.end());
  }
  // A region without a report: the default. The list renders each through the provider too.
  ASSERT_EQ(Put(reps + "/northeurope", {{"location", "northeurope"}}).status, 201);
  auto list = Get(reps).body["value"];
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]["properties"]["status"]["displayStatus"], "Ready");
  EXPECT_EQ(list[1]["properties"]["status"]["displayStatus"], "Syncing");
  EXPECT_EQ(list[2]["name"], "northeurope");
  EXPECT_EQ(list[2]["properties"]["status"]["displayStatus"], "Syncing");
  EXPECT_EQ(list[2]["properties"]["status"]["message"], "waiting for the region's first report");
  EXPECT_FALSE(list[2]["properties"]["status"].contains("cove"));
  // A failed region, then no provider: back to the default.
  cp_->SetReplicationStatusProvider([](const std::string&, const std::string&) {
    return std::optional<ReplicationStatus>(
        ReplicationStatus{"Failed", "peer unreachable", Clock::TimePoint(), 40, 90000});
  });
  EXPECT_EQ(Get(reps + "/eastus").body["properties"]["status"]["displayStatus"], "Failed");
  cp_->SetReplicationStatusProvider(nullptr);
  auto reset = Get(reps + "/eastus").body["properties"]["status"];
  EXPECT_EQ(reset["displayStatus"], "Syncing");
  EXPECT_EQ(reset["message"], "waiting for the region's first report");
  // The stored document never says Ready, and a restart keeps the creation timestamp.
  std::string since = reset["timestamp"];
  Restart();
  EXPECT_EQ(Get(reps + "/eastus").body["properties"]["status"]["timestamp"], since);
}

// Issue 12: Azure refuses linking one VNet to two zones of the same name.
TEST_F(ControlPlaneTest, VnetCannotLinkTwoZonesOfTheSameName) {
  SeedNetwork();
  ASSERT_EQ(Put(kSub + "/resourceGroups/dnsrg", {{"location", "westus"}}).status, 201);
  std::string zone1 = kNet + "/privateDnsZones/privatelink.azurecr.io";
  std::string zone2 = kSub + "/resourceGroups/dnsrg/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io";
  ASSERT_EQ(Put(zone1, {{"location", "global"}}).status, 201);
  ASSERT_EQ(Put(zone2, {{"location", "global"}}).status, 201);
  json link = {{"location", "global"},
               {"properties", {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/myvnet"}}},
                               {"registrationEnabled", false}}}};
  ASSERT_EQ(Put(zone1 + "/virtualNetworkLinks/link1", link).status, 201);
  auto second = Put(zone2 + "/virtualNetworkLinks/link2", link);
  EXPECT_EQ(second.status, 400);
  EXPECT_EQ(second.Code(), "BadRequest");
  EXPECT_NE(second.Message().find("cannot be linked to multiple zones with overlapping namespaces"),
            std::string::npos);
  EXPECT_EQ(Get(zone2 + "/virtualNetworkLinks/link2").status, 404);
  // Updating the first link is not a second link.
  EXPECT_EQ(Put(zone1 + "/virtualNetworkLinks/link1", link).status, 200);
}

// Issue 12: the remedy ACR's replication error names — reconfigure the endpoint's static
// ipConfigurations with the missing member — is a PUT of the existing endpoint.
TEST_F(ControlPlaneTest, StaticIpConfigurationsCanBeReconfigured) {
  SeedNetwork();
  Registry();
  auto statics = Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.0.0.6"}});
  ASSERT_EQ(Endpoint("pe", statics).status, 201);
  std::string reps = kAcr + "/registries/myregistry/replications";
  ASSERT_EQ(Put(reps + "/eastus", {{"location", "eastus"}}).Code(),
            "PrivateEndpointIpConfigurationMissingMemberNamesRequiredByFps");
  // A member outside the subnet is refused as at creation, and nothing changes.
  auto outside = Endpoint("pe", Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.9.0.6"}}));
  EXPECT_EQ(outside.Code(), "PrivateIPAddressNotInSubnet");
  EXPECT_EQ(Members("pe").size(), 2u);
  EXPECT_EQ(Endpoint("pe", Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.0.0.6"},
                                     {"registry_data_nowhere", "10.0.0.7"}})).Code(),
            "PrivateEndpointIpConfigurationHasInvalidMemberName");
  // Adding the member the replica will need, then the replica: the remedy ACR names.
  auto with_east = Statics({{"registry", "10.0.0.5"},
                            {"registry_data_westus", "10.0.0.6"},
                            {"registry_data_eastus", "10.0.0.7"}});
  auto added = Endpoint("pe", with_east);
  ASSERT_EQ(added.status, 200) << added.body.dump();
  EXPECT_EQ(Members("pe").size(), 2u);
  ASSERT_EQ(Put(reps + "/eastus", {{"location", "eastus"}}).status, 201);
  EXPECT_EQ(Members("pe")["registry_data_eastus"], "10.0.0.7");
  EXPECT_EQ(Members("pe").size(), 3u);
  ASSERT_EQ(Delete(reps + "/eastus").status, 200);
  // Moving a member to another static address.
  auto moved = Endpoint("pe", Statics({{"registry", "10.0.0.5"}, {"registry_data_westus", "10.0.0.9"}}));
  ASSERT_EQ(moved.status, 200) << moved.body.dump();
  EXPECT_EQ(Members("pe")["registry_data_westus"], "10.0.0.9");
  EXPECT_EQ(Members("pe")["registry"], "10.0.0.5");
  // Removing every static configuration makes the members dynamic; the replica then succeeds.
  auto dynamic = Endpoint("pe");
  ASSERT_EQ(dynamic.status, 200) << dynamic.body.dump();
  EXPECT_EQ(dynamic.body["properties"]["ipConfigurations"].size(), 0u);
  EXPECT_EQ(Members("pe").size(), 2u);
  ASSERT_EQ(Put(reps + "/eastus", {{"location", "eastus"}}).status, 201);
  EXPECT_EQ(Members("pe").size(), 3u);
  // And with the replica in place, the full static list is accepted.
  auto full = Endpoint("pe", with_east);
  ASSERT_EQ(full.status, 200) << full.body.dump();
  EXPECT_EQ(Members("pe")["registry_data_eastus"], "10.0.0.7");
  EXPECT_EQ(Members("pe")["registry_data_westus"], "10.0.0.6");
}

}  // namespace
}  // namespace cove::arm
