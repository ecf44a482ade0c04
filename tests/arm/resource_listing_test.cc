// Generic resource listing (arm/resource_listing.h) over HTTP, as az and the SDKs call it, and
// the cloud metadata document (arm/discovery.h).
#include "arm/discovery.h"
#include "arm/resource_listing.h"
#include "arm_fixture.h"

namespace cove::arm {
namespace {

constexpr char kResourcesVersion[] = "2021-04-01";

// A query value as a client sends it.
std::string Encode(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

class ResourceListingTest : public ArmFixture {
 protected:
  void SetUp() override {
    ArmFixture::SetUp();
    SeedNetwork();
    Registry("myregistry");
    Registry("otherreg");
    ASSERT_EQ(Put(kAcr + "/registries/myregistry/replications/eastus", {{"location", "eastus"}})
                  .status,
              201);
    ASSERT_EQ(Put(kSub + "/resourceGroups/rg2", {{"location", "eastus"}}).status, 201);
    auto tagged = Put(kSub + "/resourceGroups/rg2/providers/Microsoft.ContainerRegistry/"
                             "registries/taggedreg",
                      {{"location", "eastus"},
                       {"sku", {{"name", "Basic"}}},
                       {"tags", {{"Team", "Blue"}}}});
    ASSERT_EQ(tagged.status, 201) << tagged.body.dump();
  }
  Reply List(const std::string& scope, const std::string& query = "",
             const std::string& version = kResourcesVersion) {
    return Call("GET", scope + "/resources" + (query.empty() ? "" : "?" + query), "", version);
  }
  static std::vector<std::string> Names(const Reply& r) {
    std::vector<std::string> out;
    for (const auto& item : r.body.value("value", nlohmann::json::array())) {
      out.push_back(item.value("name", ""));
    }
    return out;
  }
};

TEST_F(ResourceListingTest, ListsTrackedResourcesOfTheSubscriptionAndOfAGroup) {
  auto all = List(kSub);
  ASSERT_EQ(all.status, 200) << all.body.dump();
  // Ordered by id; groups, subnets and internal documents are not resources of the listing; a
  // replication is listed under its registry's name, as ARM lists children.
  EXPECT_EQ(Names(all), (std::vector<std::string>{"myregistry", "myregistry/eastus", "otherreg",
                                                  "myvnet", "taggedreg"}));
  EXPECT_FALSE(all.body.contains("nextLink"));
  const auto& registry = all.body["value"][0];
  EXPECT_EQ(registry["id"], kAcr + "/registries/myregistry");
  EXPECT_EQ(registry["type"], "Microsoft.ContainerRegistry/registries");
  EXPECT_EQ(registry["location"], "westus");
  EXPECT_EQ(registry["sku"]["name"], "Premium");
  EXPECT_TRUE(registry["tags"].is_object());
  EXPECT_FALSE(registry.contains("properties"));
  EXPECT_FALSE(registry.contains("provisioningState"));
  auto expanded = List(kSub, "$expand=" + Encode("createdTime,changedTime,provisioningState"));
  EXPECT_EQ(expanded.body["value"][0]["provisioningState"], "Succeeded");

  auto group = List(kSub + "/resourceGroups/RG2");
  ASSERT_EQ(group.status, 200) << group.body.dump();
  EXPECT_EQ(Names(group), (std::vector<std::string>{"taggedreg"}));
  auto missing = List(kSub + "/resourceGroups/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Code(), "ResourceGroupNotFound");
}

TEST_F(ResourceListingTest, FiltersAsAzSendsThem) {
  // az acr: the registries of the subscription; types compare case-insensitively.
  auto registries =
      List(kSub, "$filter=" + Encode("resourceType eq 'microsoft.containerregistry/REGISTRIES'"));
  ASSERT_EQ(registries.status, 200) << registries.body.dump();
  EXPECT_EQ(Names(registries), (std::vector<std::string>{"myregistry", "otherreg", "taggedreg"}));
  // az resource list -g rg2 -n taggedreg --resource-type ...
  auto one = List(kSub, "$filter=" + Encode("resourceGroup eq 'RG2' and name eq 'TaggedReg' AND "
                                            "resourceType eq 'Microsoft.ContainerRegistry/"
                                            "registries'"));
  EXPECT_EQ(Names(one), (std::vector<std::string>{"taggedreg"}));
  EXPECT_EQ(Names(List(kSub, "$filter=" + Encode("name eq 'myregistry/eastus'"))),
            (std::vector<std::string>{"myregistry/eastus"}));
  EXPECT_EQ(Names(List(kSub, "$filter=" + Encode("location eq 'East US'"))),
            (std::vector<std::string>{"myregistry/eastus", "taggedreg"}));
  EXPECT_EQ(Names(List(kSub, "$filter=" + Encode("tagName eq 'team' and tagValue eq 'Blue'"))),
            (std::vector<std::string>{"taggedreg"}));
  EXPECT_TRUE(Names(List(kSub, "$filter=" + Encode("tagName eq 'team' and tagValue eq 'blue'")))
                  .empty());
  // In the group's own listing.
  EXPECT_EQ(Names(List(kRg, "$filter=" + Encode("resourceType eq 'Microsoft.Network/"
                                                "virtualNetworks'"))),
            (std::vector<std::string>{"myvnet"}));
}

TEST_F(ResourceListingTest, RefusesWhatItCannotFilterWithArmsError) {
  for (const char* filter :
       {"resourceType eq 'a' or name eq 'b'", "substringof('my', name)", "plan eq 'x'",
        "name eq myregistry", "name eq 'unterminated", "name eq 'a' and", "name ne 'a'",
        "tagValue eq 'x'", "name eq 'a' and name eq 'b'"}) {
    auto r = List(kSub, "$filter=" + Encode(filter));
    EXPECT_EQ(r.status, 400) << filter;
    EXPECT_EQ(r.Code(), "InvalidFilterInQueryString") << filter;
    EXPECT_EQ(r.Message(), "Invalid $filter '" + std::string(filter) +
                               "' specified in the query string.");
  }
  auto quoted = ParseResourceFilter("name eq 'it''s'");
  ASSERT_TRUE(quoted) << quoted.error().ToString();
  EXPECT_EQ(quoted->name, "it's");
}

TEST_F(ResourceListingTest, ValidatesTheApiVersion) {
  auto r = List(kSub, "", "2099-01-01");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Code(), "InvalidApiVersionParameter");
  EXPECT_NE(r.Message().find("2021-04-01"), std::string::npos) << r.Message();
  EXPECT_EQ(List(kSub, "", "").Code(), "MissingApiVersionParameter");
  for (const char* v : {"2019-10-01", "2021-04-01", "2022-09-01"}) {
    EXPECT_EQ(List(kSub, "", v).status, 200) << v;
  }
}

TEST_F(ResourceListingTest, PagesWithTopAndNextLink) {
  std::vector<std::string> seen;
  std::string target = kSub + "/resources?$top=2&api-version=" + kResourcesVersion +
                       "&$filter=" + Encode("location eq 'westus'");
  int pages = 0;
  for (; !target.empty() && pages < 10; ++pages) {
    auto raw = testing::RawHttp(port_).Request("GET", target, "", {},
                                               "127.0.0.1:" + std::to_string(port_));
    ASSERT_EQ(raw.status, 200) << raw.body;
    auto body = nlohmann::json::parse(raw.body);
    EXPECT_LE(body["value"].size(), 2u);
    for (const auto& item : body["value"]) seen.push_back(item["name"]);
    target.clear();
    if (body.contains("nextLink")) {
      // A URL on the listener the request named, keeping the filter and page size.
      std::string link = body["nextLink"];
      std::string origin = "http://127.0.0.1:" + std::to_string(port_);
      ASSERT_TRUE(link.starts_with(origin + "/subscriptions/")) << link;
      EXPECT_NE(link.find("$top=2"), std::string::npos) << link;
      EXPECT_NE(link.find("$filter="), std::string::npos) << link;
      target = link.substr(origin.size());
    }
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"myregistry", "otherreg", "myvnet"}));

  for (const char* top : {"0", "-1", "x", "1001", "99999"}) {
    auto r = List(kSub, std::string("$top=") + top);
    EXPECT_EQ(r.status, 400) << top;
    EXPECT_EQ(r.Code(), "InvalidTopInQueryString") << top;
  }
  auto forged = List(kSub, "$skiptoken=bm90LWEta2V5");
  EXPECT_EQ(forged.status, 400);
  EXPECT_EQ(forged.Code(), "InvalidSkipTokenInQueryString");
}

TEST(CloudMetadataTest, AnswersEachShapeByApiVersion) {
  CloudEndpoints e;
  e.resource_manager = "https://127.0.0.1:7780/";
  e.login_endpoint = "https://127.0.0.1:7780/adfs";
  e.acr_suffix = "azurecr.io";
  // What msrestazure (az cloud register) reads.
  auto stack = CloudMetadata(std::string("2015-01-01"), e);
  ASSERT_TRUE(stack) << stack.error().ToString();
  EXPECT_EQ((*stack)["authentication"]["loginEndpoint"], "https://127.0.0.1:7780/adfs");
  EXPECT_EQ((*stack)["authentication"]["audiences"][0], "https://management.core.windows.net/");
  EXPECT_EQ((*stack)["galleryEndpoint"], e.resource_manager);
  EXPECT_EQ((*stack)["graphEndpoint"], e.resource_manager);
  EXPECT_EQ((*stack)["portalEndpoint"], e.resource_manager);
  // What az's ARM_CLOUD_METADATA_URL reads: an array of clouds.
  auto clouds = CloudMetadata(std::string("2019-05-01"), e);
  ASSERT_TRUE(clouds && clouds->is_array() && clouds->size() == 1u);
  const Json& cloud = (*clouds)[0];
  EXPECT_EQ(cloud["name"], "cove");
  EXPECT_EQ(cloud["resourceManager"], e.resource_manager);
  EXPECT_EQ(cloud["suffixes"]["acrLoginServer"], "azurecr.io");
  EXPECT_EQ(cloud["authentication"]["identityProvider"], "ADFS");
  EXPECT_EQ(cloud["authentication"]["tenant"], "adfs");
  // go-azure-sdk's 2022-09-01: the one cloud.
  auto single = CloudMetadata(std::string("2022-09-01"), e);
  ASSERT_TRUE(single && single->is_object());
  EXPECT_EQ(*single, cloud);

  auto unknown = CloudMetadata(std::string("2014-01-01"), e);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().reason, "InvalidApiVersionParameter");
  EXPECT_EQ(unknown.error().http_status, 400);
  EXPECT_EQ(CloudMetadata(std::nullopt, e).error().reason, "MissingApiVersionParameter");
}

}  // namespace
}  // namespace cove::arm
