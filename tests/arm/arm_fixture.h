// ArmFixture: a ControlPlane in a temp dir served by the real HTTP server on loopback, and a
// tiny client that speaks ARM to it (adds api-version, parses JSON). Test-only helper.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "arm/api.h"
#include "arm/control_plane.h"
#include "http/server.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::arm {

struct Reply {
  int status = 0;
  nlohmann::json body;
  std::string Code() const {
    return body.is_object() && body.contains("error") ? body["error"].value("code", "") : "";
  }
  std::string Message() const {
    return body.is_object() && body.contains("error") ? body["error"].value("message", "") : "";
  }
};

inline const std::string kSub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
inline const std::string kRg = kSub + "/resourceGroups/rg";
inline const std::string kNet = kRg + "/providers/Microsoft.Network";
inline const std::string kAcr = kRg + "/providers/Microsoft.ContainerRegistry";

class ArmFixture : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }
  void TearDown() override { Stop(); }

  void Start() {
    ControlPlaneOptions options;
    uint64_t seed = 42;
    options.random = [seed]() mutable { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; };
    options.fast_password_hashing = true;
    auto cp = ControlPlane::Open(dir_.Join("control.db"), options);
    ASSERT_TRUE(cp) << cp.error().ToString();
    cp_ = std::move(*cp);
    api_ = std::make_unique<ArmApi>(*cp_);
    server_ = std::make_unique<http::Server>(*api_, nullptr);
    auto port = server_->Listen({.address = "127.0.0.1", .port = 0});
    ASSERT_TRUE(port) << port.error().ToString();
    port_ = *port;
    server_->Start();
  }
  void Stop() {
    if (server_) server_->Stop();
    server_.reset();
    api_.reset();
    cp_.reset();
  }
  void Restart() {
    Stop();
    Start();
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& api_version = "2023-09-01",
             const std::map<std::string, std::string>& headers = {}) {
    std::string target = path;
    if (!api_version.empty()) {
      target += (path.find('?') == std::string::npos ? "?" : "&") + std::string("api-version=") + api_version;
    }
    testing::RawHttp c(port_);
    auto raw = c.Request(method, target, body, headers);
    Reply r;
    r.status = raw.status;
    r.body = nlohmann::json::parse(raw.body.empty() ? "null" : raw.body, nullptr, false);
    return r;
  }
  Reply Put(const std::string& path, const nlohmann::json& body) { return Call("PUT", path, body.dump()); }
  Reply Get(const std::string& path) { return Call("GET", path); }
  Reply Delete(const std::string& path) { return Call("DELETE", path); }
  Reply Patch(const std::string& path, const nlohmann::json& body) { return Call("PATCH", path, body.dump()); }
  Reply Post(const std::string& path, const nlohmann::json& body = nlohmann::json::object()) {
    return Call("POST", path, body.dump());
  }

  // Builds the seed's network: group rg, VNet myvnet 10.0.0.0/16 with subnet mysubnet
  // 10.0.0.0/24, Premium registry myregistry in westus.
  void SeedNetwork(const std::string& policies = "Disabled") {
    ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
    auto v = Put(kNet + "/virtualNetworks/myvnet",
                 {{"location", "westus"},
                  {"properties",
                   {{"addressSpace", {{"addressPrefixes", {"10.0.0.0/16"}}}},
                    {"subnets",
                     {{{"name", "mysubnet"},
                       {"properties",
                        {{"addressPrefix", "10.0.0.0/24"},
                         {"privateEndpointNetworkPolicies", policies}}}}}}}}});
    ASSERT_EQ(v.status, 201) << v.body.dump();
  }
  void Registry(const std::string& name = "myregistry", const std::string& sku = "Premium") {
    auto r = Put(kAcr + "/registries/" + name, {{"location", "westus"}, {"sku", {{"name", sku}}}});
    ASSERT_EQ(r.status, 201) << r.body.dump();
  }
  Reply Endpoint(const std::string& name, const nlohmann::json& extra = nlohmann::json::object(),
                 const std::string& subnet = "mysubnet", const std::string& registry = "myregistry",
                 bool manual = false) {
    nlohmann::json props = {
        {"subnet", {{"id", kNet + "/virtualNetworks/myvnet/subnets/" + subnet}}},
        {manual ? "manualPrivateLinkServiceConnections" : "privateLinkServiceConnections",
         {{{"name", name + "-conn"},
           {"properties",
            {{"privateLinkServiceId", kAcr + "/registries/" + registry},
             {"groupIds", {"registry"}},
             {"requestMessage", "please"}}}}}}};
    props.update(extra);
    return Put(kNet + "/privateEndpoints/" + name, {{"location", "westus"}, {"properties", props}});
  }
  // Member name → IP from a private endpoint's customDnsConfigs and its NIC.
  std::map<std::string, std::string> Members(const std::string& pe) {
    std::map<std::string, std::string> out;
    auto e = Get(kNet + "/privateEndpoints/" + pe);
    if (e.status != 200) return out;
    std::string nic = e.body["properties"]["networkInterfaces"][0]["id"];
    auto n = Get(nic);
    for (const auto& ipc : n.body["properties"]["ipConfigurations"]) {
      out[ipc["properties"]["privateLinkConnectionProperties"]["requiredMemberName"]] =
          ipc["properties"]["privateIPAddress"];
    }
    return out;
  }

  cove::testing::TempDir dir_;
  std::unique_ptr<ControlPlane> cp_;
  std::unique_ptr<ArmApi> api_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
};

}  // namespace cove::arm
