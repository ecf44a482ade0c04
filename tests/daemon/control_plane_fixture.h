// ControlPlaneTest: a fixture for daemon tests that build a snapshot through the real control
// plane (an in-memory arm::ControlPlane, no sockets): the seed's resource paths and Put.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "arm/control_plane.h"

namespace cove::daemon {

inline const std::string kSub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
inline const std::string kRg = kSub + "/resourceGroups/rg";
inline const std::string kNet = kRg + "/providers/Microsoft.Network";
inline const std::string kAcr = kRg + "/providers/Microsoft.ContainerRegistry";

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cp = arm::ControlPlane::Open(":memory:");
    ASSERT_TRUE(cp);
    cp_ = std::move(*cp);
  }
  // PUT `body` at `path`; a status of 300 or more fails the test. Returns the status.
  int Put(const std::string& path, const nlohmann::json& body) {
    auto r = cp_->Handle({"PUT", path, "2023-09-01", body.dump(), "", ""});
    EXPECT_LT(r.status, 300) << path << ": " << (r.body ? r.body->dump() : "");
    return r.status;
  }

  std::unique_ptr<arm::ControlPlane> cp_;
};

}  // namespace cove::daemon
