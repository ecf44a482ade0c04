// The REST transport edge: raw bytes in, Azure-shaped JSON out.
#include "arm_fixture.h"

namespace cove::arm {
namespace {

using ApiTest = ArmFixture;

TEST_F(ApiTest, AnswersJsonWithRequestId) {
  testing::RawHttp c(port_);
  auto r = c.Request("GET", "/subscriptions?api-version=2022-12-01");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/json; charset=utf-8");
  EXPECT_FALSE(r.Header("x-ms-request-id").empty());
  auto again = c.Request("GET", "/subscriptions/c0ffee00-0000-4000-8000-000000000001?api-version=1");
  EXPECT_EQ(again.status, 200);  // keep-alive
}

TEST_F(ApiTest, OversizedBodyIsRefused) {
  testing::RawHttp c(port_);
  std::string big(5 << 20, ' ');
  auto r = c.Request("PUT", kRg + "?api-version=1", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("RequestEntityTooLarge"), std::string::npos);
  EXPECT_EQ(Get(kRg).Code(), "ResourceGroupNotFound");
}

TEST_F(ApiTest, ErrorBodiesHaveCodeAndMessage) {
  for (const auto& path : {std::string("/"), std::string("/nothing"), kRg + "/providers",
                           kRg + "/providers/Microsoft.Network"}) {
    auto r = Get(path);
    EXPECT_GE(r.status, 400) << path;
    ASSERT_TRUE(r.body.is_object()) << path;
    EXPECT_FALSE(r.Code().empty()) << path;
    EXPECT_FALSE(r.Message().empty()) << path;
  }
  auto bad_method = Call("POST", kSub + "/resourceGroups/rg", "{}");
  EXPECT_EQ(bad_method.status, 405);
}

TEST_F(ApiTest, GarbageBodiesNeverCrash) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  const char* bodies[] = {"", "null", "\"str\"", "{\"properties\":[]}", "{\"location\":{}}",
                          "{\"tags\":[1]}", "{\"tags\":{\"a\":1}}", "\xff\xfe", "{\"location\":\"westus\",\"properties\":{\"subnets\":[1]}}",
                          "{\"location\":\"westus\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[1]}}}"};
  for (const char* b : bodies) {
    for (const char* type : {"virtualNetworks/v", "privateEndpoints/p", "privateDnsZones/z.example",
                             "virtualNetworks/v/subnets/s", "privateDnsZones/z.example/A/www",
                             "networkSecurityGroups/n"}) {
      auto r = Call("PUT", kNet + "/" + type, b);
      EXPECT_LT(r.status, 500) << type << " " << b;
      if (r.status >= 400) {
        EXPECT_FALSE(r.Code().empty()) << type << " " << b;
      }
      Call("DELETE", kNet + "/" + type);
    }
    auto r = Call("PUT", kAcr + "/registries/myregistry", b);
    EXPECT_EQ(r.status, 400) << b;
    EXPECT_FALSE(r.Code().empty()) << b;
  }
  EXPECT_EQ(Get(kNet + "/virtualNetworks").body["value"].size(), 0u);
}

}  // namespace
}  // namespace cove::arm
