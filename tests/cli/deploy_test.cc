// Deployment files without a server: parsing (YAML and JSON), parameters, ordering, cycles,
// idempotency comparison, and the built-in `cove up` file.
#include "cli/deploy.h"

#include <gtest/gtest.h>

namespace cove::cli {
namespace {

using nlohmann::json;

constexpr char kSub[] = "c0ffee00-0000-4000-8000-000000000001";

std::vector<std::string> Ids(const std::vector<PlannedResource>& plan) {
  std::vector<std::string> ids;
  for (const auto& r : plan) ids.push_back(r.id);
  return ids;
}

TEST(DeployTest, YamlScalarsAreTypedUnlessQuoted) {
  auto doc = ParseDeploymentText("a: true\nb: 'true'\nc: 10\nd: 10.0.0.0/24\ne: ~\nf: [x, 2]\n");
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(*doc, json::parse(R"({"a":true,"b":"true","c":10,"d":"10.0.0.0/24","e":null,
                                   "f":["x",2]})"));
  auto j = ParseDeploymentText(R"([{"type":"t"}])");
  ASSERT_TRUE(j);
  EXPECT_TRUE(j->is_array());
  EXPECT_FALSE(ParseDeploymentText("a: [1, 2\n"));
}

TEST(DeployTest, ParametersAreSubstitutedAndUnknownOnesRefused) {
  json doc = {{"name", "${registry}-x"}, {"list", {"${a}${a}"}}};
  auto out = Substitute(doc, {{"registry", "r"}, {"a", "1"}});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (json{{"name", "r-x"}, {"list", {"11"}}}));
  auto bad = Substitute(doc, {{"registry", "r"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown parameter ${a}"), std::string::npos);
}

TEST(DeployTest, ParentsAndReferencesComeFirst) {
  std::string g = "/subscriptions/" + std::string(kSub) + "/resourceGroups/rg";
  json doc = {
      {"resources",
       {
           {{"type", "Microsoft.Network/privateEndpoints"},
            {"name", "pe"},
            {"body",
             {{"properties",
               {{"subnet",
                 {{"id", g + "/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}}}}}}}},
           {{"type", "Microsoft.Network/virtualNetworks/subnets"}, {"name", "v/s"}},
           {{"type", "Microsoft.Network/virtualNetworks"}, {"name", "v"}},
           {{"type", "Microsoft.Resources/resourceGroups"}, {"name", "rg"}},
       }}};
  std::vector<std::vector<std::string>> outside;
  auto plan = Plan(doc, "rg", kSub, &outside);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(Ids(*plan), (std::vector<std::string>{
                            g, g + "/providers/Microsoft.Network/virtualNetworks/v",
                            g + "/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
                            g + "/providers/Microsoft.Network/privateEndpoints/pe"}));
  for (const auto& refs : outside) EXPECT_TRUE(refs.empty());
  EXPECT_EQ((*plan)[0].api_version, "2022-09-01");
  EXPECT_EQ((*plan)[3].api_version, "2024-05-01");
}

TEST(DeployTest, ReferencesOutsideTheFileAreReportedForTheServerToCheck) {
  json doc = json::array({{{"type", "Microsoft.Network/privateEndpoints"},
                           {"name", "pe"},
                           {"resourceGroup", "rg"},
                           {"body",
                            {{"properties",
                              {{"subnet",
                                {{"id",
                                  "/subscriptions/s/resourceGroups/other/providers/"
                                  "Microsoft.Network/virtualNetworks/v/subnets/s"}}}}}}}}});
  std::vector<std::vector<std::string>> outside;
  auto plan = Plan(doc, "", kSub, &outside);
  ASSERT_TRUE(plan);
  ASSERT_EQ(outside.size(), 1u);
  ASSERT_EQ(outside[0].size(), 1u);
  EXPECT_NE(outside[0][0].find("/subnets/s"), std::string::npos);
}

TEST(DeployTest, CyclesAreRefusedNamingTheResources) {
  std::string g = "/subscriptions/" + std::string(kSub) + "/resourceGroups/rg/providers/";
  json doc = json::array({{{"type", "Microsoft.Network/virtualNetworks"},
                           {"name", "a"},
                           {"body", {{"peer", g + "Microsoft.Network/virtualNetworks/b"}}}},
                          {{"type", "Microsoft.Network/virtualNetworks"},
                           {"name", "b"},
                           {"body", {{"peer", g + "Microsoft.Network/virtualNetworks/a"}}}}});
  auto plan = Plan(doc, "rg", kSub, nullptr);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().message.find("dependency cycle among: "), std::string::npos);
  EXPECT_NE(plan.error().message.find("virtualNetworks/a"), std::string::npos);
}

TEST(DeployTest, MalformedEntriesAreRefused) {
  EXPECT_FALSE(Plan(json::object(), "rg", kSub, nullptr));
  EXPECT_FALSE(Plan(json::array({1}), "rg", kSub, nullptr));
  EXPECT_FALSE(
      Plan(json::array({{{"type", "Microsoft.Network/virtualNetworks"}}}), "rg", kSub, nullptr));
  auto segments = Plan(
      json::array({{{"type", "Microsoft.Network/virtualNetworks/subnets"}, {"name", "onlyone"}}}),
      "rg", kSub, nullptr);
  ASSERT_FALSE(segments);
  EXPECT_NE(segments.error().message.find("2 segment(s)"), std::string::npos);
  auto unknown = Plan(json::array({{{"type", "Contoso.Widgets/widgets"}, {"name", "w"}}}), "rg",
                      kSub, nullptr);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown resource type"), std::string::npos);
  auto twice = Plan(json::array({{{"type", "Microsoft.Network/virtualNetworks"}, {"name", "v"}},
                                 {{"type", "Microsoft.Network/virtualNetworks"}, {"name", "V"}}}),
                    "rg", kSub, nullptr);
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("appears twice"), std::string::npos);
  auto no_group =
      Plan(json::array({{{"type", "Microsoft.Network/virtualNetworks"}, {"name", "v"}}}), "", kSub,
           nullptr);
  ASSERT_FALSE(no_group);
}

TEST(DeployTest, ContainsComparesOnlyWhatTheFileSays) {
  json actual = json::parse(R"({"id":"x","location":"westus","properties":{
      "provisioningState":"Succeeded","addressSpace":{"addressPrefixes":["10.0.0.0/16"]},
      "subnets":[{"name":"s","id":"y","properties":{"addressPrefix":"10.0.0.0/24"}}]}})");
  EXPECT_TRUE(Contains(actual, json::parse(R"({"location":"WestUS","properties":{
      "addressSpace":{"addressPrefixes":["10.0.0.0/16"]},
      "subnets":[{"name":"s","properties":{"addressPrefix":"10.0.0.0/24"}}]}})")));
  EXPECT_FALSE(Contains(actual, json::parse(R"({"properties":{"subnets":[]}})")));
  EXPECT_FALSE(Contains(actual, json::parse(R"({"properties":{"addressSpace":{
      "addressPrefixes":["10.1.0.0/16"]}}})")));
  EXPECT_FALSE(Contains(actual, json::parse(R"({"tags":{"a":"b"}})")));
}

TEST(DeployTest, TheUpFileIsTheSeedsFirstDiagram) {
  auto doc = ParseDeploymentText(UpDeployment());
  ASSERT_TRUE(doc) << doc.error().message;
  auto substituted = Substitute(*doc, {{"subscription", kSub},
                                       {"resourceGroup", "myResourceGroup"},
                                       {"location", "westus"},
                                       {"registry", "myregistry"}});
  ASSERT_TRUE(substituted) << substituted.error().message;
  std::vector<std::vector<std::string>> outside;
  auto plan = Plan(*substituted, "myResourceGroup", kSub, &outside);
  ASSERT_TRUE(plan) << plan.error().message;
  for (const auto& refs : outside) EXPECT_TRUE(refs.empty());
  std::vector<std::string> types;
  for (const auto& r : *plan) types.push_back(r.type);
  EXPECT_EQ(types,
            (std::vector<std::string>{
                "Microsoft.Resources/resourceGroups", "Microsoft.Network/virtualNetworks",
                "Microsoft.ContainerRegistry/registries", "Microsoft.Network/privateDnsZones",
                "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                "Microsoft.Network/privateEndpoints",
                "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                "Microsoft.Network/networkInterfaces", "Microsoft.Compute/virtualMachines"}));
  const json& pe = (*plan)[5].body["properties"];
  EXPECT_EQ(pe["ipConfigurations"][0]["properties"]["privateIPAddress"], "10.0.0.5");
  EXPECT_EQ(pe["ipConfigurations"][1]["properties"]["memberName"], "registry_data_westus");
  EXPECT_EQ(pe["ipConfigurations"][1]["properties"]["privateIPAddress"], "10.0.0.6");
  const json& reg = (*plan)[2].body;
  EXPECT_EQ(reg["sku"]["name"], "Premium");
  EXPECT_EQ(reg["properties"]["publicNetworkAccess"], "Disabled");
  EXPECT_EQ(reg["properties"]["dataEndpointEnabled"], true);
}

}  // namespace
}  // namespace cove::cli
