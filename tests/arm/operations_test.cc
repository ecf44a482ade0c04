// Long-running operations as ARM answers them (arm/operations.h): the headers of the writes the
// Azure SDKs poll, the operation status and result resources they poll, and the paths the
// SDKs send ("//subscriptions/..." from a scope joined to "/{scope}").
#include "arm/operations.h"

#include "arm/api.h"
#include "arm/rbac.h"
#include "arm_fixture.h"

namespace cove::arm {
namespace {

using OperationsTest = ArmFixture;

// RawHttp against the fixture's server, for the headers.
testing::RawReply Raw(uint16_t port, const std::string& method, const std::string& target,
                      const std::string& body = "") {
  testing::RawHttp c(port);
  return c.Request(method, target, body, {}, "arm.test:7780");
}

// The path of a URL the API answered (http://arm.test:7780/...).
std::string PathOf(const std::string& url) {
  const std::string origin = "http://arm.test:7780";
  EXPECT_TRUE(url.starts_with(origin)) << url;
  return url.substr(origin.size());
}

TEST(OperationPathTest, ParsesStatusAndResultPaths) {
  auto status = ParseOperationPath(kSub + "/providers/Microsoft.Network/locations/westus/operations/abc");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->subscription, "c0ffee00-0000-4000-8000-000000000001");
  EXPECT_EQ(status->provider, "Microsoft.Network");
  EXPECT_EQ(status->location, "westus");
  EXPECT_EQ(status->id, "abc");
  EXPECT_FALSE(status->result);
  auto result = ParseOperationPath(kSub + "/providers/microsoft.network/Locations/eastus/OperationResults/x");
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->result);
  for (const std::string& other :
       {kSub + "/providers/Microsoft.Network/locations/westus/operations",
        kSub + "/providers/Microsoft.Network/locations/westus/other/x",
        kRg + "/providers/Microsoft.Network/virtualNetworks/v",
        kSub + "/providers/Microsoft.Network/locations//operations/x", std::string("/")}) {
    EXPECT_FALSE(ParseOperationPath(other)) << other;
  }
}

TEST(OperationPathTest, LongRunningTypesFollowAzureSpecs) {
  for (const char* t : {"Microsoft.Network/virtualNetworks", "microsoft.network/virtualnetworks/subnets",
                        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                        "Microsoft.Network/privateDnsZones",
                        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                        "Microsoft.ContainerRegistry/registries",
                        "Microsoft.ContainerRegistry/registries/replications",
                        "Microsoft.Compute/virtualMachines",
                        "Microsoft.ContainerInstance/containerGroups"}) {
    EXPECT_TRUE(IsLongRunningType(t)) << t;
  }
  for (const char* t : {"Microsoft.Network/privateDnsZones/A", "Microsoft.Network/privateDnsZones/CNAME",
                        "Microsoft.Network/dnsForwardingRulesets/forwardingRules",
                        "Microsoft.ManagedIdentity/userAssignedIdentities",
                        "Microsoft.Authorization/roleAssignments", "Cove.OnPremises/sites"}) {
    EXPECT_FALSE(IsLongRunningType(t)) << t;
  }
}

TEST(OperationPathTest, RbacNeedsOnlySignInForAnOperationStatus) {
  ArmOperation op = OperationFor(
      "GET", kSub + "/providers/Microsoft.Network/locations/westus/operations/abc");
  EXPECT_EQ(op.action, "Microsoft.Network/locations/operations/read");
  EXPECT_EQ(op.scope, kSub);
  EXPECT_TRUE(op.any_principal);
}

TEST(CollapseSlashesTest, MakesRunsOfSlashesOneInThePathOnly) {
  EXPECT_EQ(CollapseSlashes("//subscriptions/s//resourceGroups/rg?api-version=1&x=a//b"),
            "/subscriptions/s/resourceGroups/rg?api-version=1&x=a//b");
  EXPECT_EQ(CollapseSlashes("/subscriptions"), "/subscriptions");
  EXPECT_EQ(CollapseSlashes(""), "");
}

TEST_F(OperationsTest, CreateAnswersAzureAsyncOperationThatSaysSucceeded) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  auto put = Raw(port_, "PUT", kNet + "/virtualNetworks/v?api-version=2025-05-01",
                 R"({"location":"westus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}})");
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_NE(put.body.find("\"provisioningState\":\"Succeeded\""), std::string::npos);
  std::string async = put.Header("Azure-AsyncOperation");
  EXPECT_TRUE(async.starts_with("http://arm.test:7780" + kSub +
                                "/providers/Microsoft.Network/locations/westus/operations/"))
      << async;
  EXPECT_TRUE(async.ends_with("?api-version=2025-05-01")) << async;
  EXPECT_EQ(put.Header("Retry-After"), "10");
  EXPECT_EQ(put.Header("Location"), "");  // a PUT is polled at its own URL
  auto status = Raw(port_, "GET", PathOf(async));
  ASSERT_EQ(status.status, 200) << status.body;
  auto body = nlohmann::json::parse(status.body);
  EXPECT_EQ(body["status"], "Succeeded");
  EXPECT_FALSE(body["name"].get<std::string>().empty());
  EXPECT_EQ(body["id"], PathOf(async).substr(0, PathOf(async).find('?')));
  EXPECT_TRUE(body.contains("startTime"));
  EXPECT_TRUE(body.contains("endTime"));
  // An update is polled the same way; a child takes its parent's region.
  auto subnet = Raw(port_, "PUT", kNet + "/virtualNetworks/v/subnets/s?api-version=2025-05-01",
                    R"({"properties":{"addressPrefix":"10.0.0.0/24"}})");
  ASSERT_EQ(subnet.status, 201) << subnet.body;
  EXPECT_NE(subnet.Header("Azure-AsyncOperation").find("/locations/westus/operations/"),
            std::string::npos);
}

TEST_F(OperationsTest, DeleteAnswersLocationWhoseResultIsNoContent) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  ASSERT_EQ(Put(kNet + "/privateDnsZones/privatelink.azurecr.io", {{"location", "global"}}).status,
            201);
  auto del = Raw(port_, "DELETE", kNet + "/privateDnsZones/privatelink.azurecr.io?api-version=2020-06-01");
  ASSERT_EQ(del.status, 200) << del.body;
  std::string location = del.Header("Location");
  EXPECT_NE(location.find("/providers/Microsoft.Network/locations/global/operationResults/"),
            std::string::npos)
      << location;
  EXPECT_NE(del.Header("Azure-AsyncOperation").find("/locations/global/operations/"),
            std::string::npos);
  EXPECT_EQ(Raw(port_, "GET", PathOf(location)).status, 204);
  auto status = Raw(port_, "GET", PathOf(del.Header("Azure-AsyncOperation")));
  EXPECT_EQ(nlohmann::json::parse(status.body)["status"], "Succeeded");
  // Deleting what is not there is 204 without an operation.
  auto again = Raw(port_, "DELETE", kNet + "/privateDnsZones/privatelink.azurecr.io?api-version=2020-06-01");
  EXPECT_EQ(again.status, 204);
  EXPECT_EQ(again.Header("Azure-AsyncOperation"), "");
}

TEST_F(OperationsTest, SynchronousTypesAndRefusalsHaveNoOperation) {
  auto group = Raw(port_, "PUT", kRg + "?api-version=2025-04-01", R"({"location":"westus"})");
  EXPECT_EQ(group.status, 201);
  EXPECT_EQ(group.Header("Azure-AsyncOperation"), "");
  ASSERT_EQ(Put(kNet + "/privateDnsZones/z.example", {{"location", "global"}}).status, 201);
  auto record = Raw(port_, "PUT", kNet + "/privateDnsZones/z.example/A/www?api-version=2020-06-01",
                    R"({"properties":{"ttl":3600,"aRecords":[{"ipv4Address":"10.0.0.4"}]}})");
  EXPECT_EQ(record.status, 201) << record.body;
  EXPECT_EQ(record.Header("Azure-AsyncOperation"), "");
  auto refused = Raw(port_, "PUT", kNet + "/virtualNetworks/bad?api-version=2025-05-01", "{}");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.Header("Azure-AsyncOperation"), "");
}

TEST_F(OperationsTest, UnknownOperationIsNotFound) {
  auto r = Get(kSub + "/providers/Microsoft.Network/locations/westus/operations/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Code(), "OperationNotFound");
  EXPECT_EQ(Call("DELETE", kSub + "/providers/Microsoft.Network/locations/westus/operations/x").status,
            405);
}

TEST_F(OperationsTest, DoubleSlashScopeReachesTheRoleAssignment) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  auto r = Raw(port_, "GET", "/" + kRg +
                                 "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01");
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace cove::arm
