// Fuzzes the control plane end to end without sockets: bytes become an ARM request (method,
// path, body) for ControlPlane::Handle over an in-memory store, after a fixed setup that gives
// the fuzzer a VNet, a Premium registry and a zone to hit. Any crash, sanitizer report, 5xx, or
// error answer without an Azure error code is a finding; so is a resource-id parse that does
// not round-trip through its key.
//
// Input layout: "METHOD\nPATH\nBODY" (a missing line means empty). For a generic listing
// (".../resources") BODY is the $filter and the $skiptoken, its first 4 bytes the $top.
#include <cstdlib>
#include <string>

#include "arm/control_plane.h"
#include "arm/resource_path.h"

namespace {

cove::arm::ControlPlane& Plane() {
  static cove::arm::ControlPlane* plane = [] {
    auto cp = cove::arm::ControlPlane::Open(":memory:");
    if (!cp) std::abort();
    auto* p = cp->release();
    const std::string rg = "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg";
    const std::pair<std::string, std::string> setup[] = {
        {rg, R"({"location":"westus"})"},
        {rg + "/providers/Microsoft.Network/virtualNetworks/v",
         R"({"location":"westus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},
             "subnets":[{"name":"s","properties":{"addressPrefix":"10.0.0.0/24"}}]}})"},
        {rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry",
         R"({"location":"westus","sku":{"name":"Premium"}})"},
        {rg + "/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io",
         R"({"location":"global"})"},
    };
    for (const auto& [path, body] : setup) {
      if (p->Handle({"PUT", path, "2023-09-01", body, "", ""}).status >= 300) std::abort();
    }
    return p;
  }();
  return *plane;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto nl1 = input.find('\n');
  std::string method = input.substr(0, nl1);
  std::string rest = nl1 == std::string::npos ? "" : input.substr(nl1 + 1);
  auto nl2 = rest.find('\n');
  std::string path = rest.substr(0, nl2);
  std::string body = nl2 == std::string::npos ? "" : rest.substr(nl2 + 1);

  auto parsed = cove::arm::ParseArmPath(path);
  if (parsed && (parsed->kind == cove::arm::PathKind::kResource)) {
    auto again = cove::arm::ParseArmPath(parsed->Key());
    if (!again || again->Key() != parsed->Key()) std::abort();
  }
  for (const char* m : {"GET", "PUT", "PATCH", "DELETE", "POST"}) {
    if (method == m) {
      cove::arm::ArmRequest request{method, path, "2023-01-01", body, "", ""};
      if (parsed && parsed->kind == cove::arm::PathKind::kGenericResources) {
        // A generic listing reads its $filter, $top and $skiptoken from the body's bytes.
        request = {method, path, "2021-04-01", "", "", "", body, body.substr(0, 4), body};
      }
      auto r = Plane().Handle(request);
      if (r.status >= 500 || r.status < 200) std::abort();
      if (r.status >= 400 && (!r.body || !r.body->contains("error") ||
                              !(*r.body)["error"].contains("code"))) {
        std::abort();
      }
    }
  }
  return 0;
}
