// The full daemon's wiring: the control plane's REST API on loopback, and registries created
// through it appearing in the registry node's Directory (and answering on their host names).
#include "daemon/arm_node.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon/registry_node.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

using cove::testing::RawHttp;

const std::string kRg = "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg";

class ArmNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = ParseConfig("data_dir: " + dir_.path() + R"(
arm_listen: 127.0.0.1:0
listen:
  - {address: 127.0.0.1, port: 0, tls: false}
registries: [{name: fromconfig, region: westus}]
default_registry: fromconfig
)");
    ASSERT_TRUE(config) << config.error().ToString();
    auto node = RegistryNode::Open(*config, clock_);
    ASSERT_TRUE(node) << node.error().ToString();
    node_ = std::move(*node);
    auto arm = ArmNode::Open(*config, clock_);
    ASSERT_TRUE(arm) << arm.error().ToString();
    arm_ = std::move(*arm);
    subscription_ = arm_->control_plane().Subscribe([this](const arm::SnapshotPtr& s) {
      ASSERT_TRUE(node_->SetControlPlaneRegistries(RegistriesFromSnapshot(*s)));
    });
    auto arm_port = arm_->Start();
    ASSERT_TRUE(arm_port) << arm_port.error().ToString();
    arm_port_ = *arm_port;
    auto ports = node_->Start();
    ASSERT_TRUE(ports) << ports.error().ToString();
    registry_port_ = (*ports)[0];
  }
  void TearDown() override {
    if (arm_) {
      arm_->Stop();
      arm_->control_plane().Unsubscribe(subscription_);
    }
    if (node_) node_->Stop();
  }
  int Put(const std::string& path, const nlohmann::json& body) {
    return RawHttp(arm_port_).Request("PUT", path + "?api-version=2023-01-01", body.dump()).status;
  }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<RegistryNode> node_;
  std::unique_ptr<ArmNode> arm_;
  int subscription_ = 0;
  uint16_t arm_port_ = 0, registry_port_ = 0;
};

TEST_F(ArmNodeTest, RegistriesCreatedThroughArmAreServed) {
  EXPECT_EQ(RawHttp(registry_port_).Request("GET", "/v2/", "", {}, "armreg01.azurecr.io").status, 200)
      << "unknown hosts fall back to the default registry";
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}), 201);
  ASSERT_EQ(Put(kRg + "/providers/Microsoft.ContainerRegistry/registries/armreg01",
                {{"location", "westus"}, {"sku", {{"name", "Premium"}}},
                 {"properties", {{"dataEndpointEnabled", true}}}}),
            201);
  ASSERT_EQ(Put(kRg + "/providers/Microsoft.ContainerRegistry/registries/armreg01/replications/eastus",
                {{"location", "eastus"}}),
            201);
  auto directory = node_->registry().directory();
  const registry::RegistryInfo* r = directory->Find("armreg01");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->regions, (std::vector<std::string>{"westus", "eastus"}));
  EXPECT_TRUE(r->data_endpoint_enabled);
  EXPECT_NE(directory->Find("fromconfig"), nullptr);  // the configuration file's stays
  EXPECT_TRUE(directory->Serves("armreg01.eastus.data.azurecr.io"));
  // Deleting the group takes the registry out of the Directory again.
  EXPECT_EQ(RawHttp(arm_port_).Request("DELETE", kRg + "?api-version=1").status, 200);
  EXPECT_EQ(node_->registry().directory()->Find("armreg01"), nullptr);
}

TEST_F(ArmNodeTest, ControlPlaneWinsOverConfigurationForTheSameName) {
  auto merged = MergeRegistries({{.name = "fromconfig", .home_region = "eastus", .regions = {"eastus"}}},
                                {{.name = "fromconfig", .home_region = "westus", .regions = {"westus"}},
                                 {.name = "another1", .home_region = "westus", .regions = {"westus"}}});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].home_region, "eastus");
  EXPECT_EQ(merged[1].name, "another1");
}

TEST(ArmConfigTest, ArmListenMustBeLoopback) {
  auto c = ParseConfig("arm_listen: 0.0.0.0:7780");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("loopback"), std::string::npos);
  auto d = ParseConfig("");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->arm_listen.port, 7780);
  EXPECT_EQ(d->arm_listen.address, "127.0.0.1");
  EXPECT_FALSE(ParseConfig("arm_listen: 127.0.0.1:99999"));
  EXPECT_FALSE(ParseConfig("arm_listen: nope"));
}

}  // namespace
}  // namespace cove::daemon
