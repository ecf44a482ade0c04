#include "arm/operations.h"

#include <array>

#include "arm/identity_support.h"
#include "arm/resource_path.h"

namespace cove::arm {
namespace {

// The types of the long-running namespaces whose writes are synchronous in Azure's specs.
constexpr std::array<std::string_view, 10> kSynchronous = {
    "microsoft.network/privatednszones/a",     "microsoft.network/privatednszones/aaaa",
    "microsoft.network/privatednszones/cname", "microsoft.network/privatednszones/mx",
    "microsoft.network/privatednszones/ptr",   "microsoft.network/privatednszones/soa",
    "microsoft.network/privatednszones/srv",   "microsoft.network/privatednszones/txt",
    "microsoft.network/dnsforwardingrulesets/forwardingrules",
    "microsoft.containerregistry/registries/privatelinkresources"};

constexpr std::string_view kRetryAfterSeconds = "10";

}  // namespace

std::optional<OperationPath> ParseOperationPath(std::string_view path) {
  // subscriptions/{s}/providers/{ns}/locations/{l}/operations|operationResults/{id}
  if (path.empty() || path[0] != '/') return std::nullopt;
  std::vector<std::string> seg = RawPathSegments(path);
  if (seg.size() != 8) return std::nullopt;
  for (const auto& s : seg) {
    if (s.empty()) return std::nullopt;
  }
  if (!EqualsIgnoreCase(seg[0], "subscriptions") || !EqualsIgnoreCase(seg[2], "providers") ||
      !EqualsIgnoreCase(seg[4], "locations")) {
    return std::nullopt;
  }
  bool result = EqualsIgnoreCase(seg[6], "operationResults");
  if (!result && !EqualsIgnoreCase(seg[6], "operations")) return std::nullopt;
  return OperationPath{seg[1], seg[3], seg[5], seg[7], result};
}

bool IsLongRunningType(std::string_view type) {
  std::string t = Lower(type);
  for (auto sync : kSynchronous) {
    if (t == sync) return false;
  }
  return t.starts_with("microsoft.network/") || t.starts_with("microsoft.containerregistry/") ||
         t == "microsoft.compute/virtualmachines" ||
         t == "microsoft.containerinstance/containergroups";
}

void OperationLog::Complete(const ArmRequest& request, const std::string& provider,
                            const std::string& location, const std::string& id,
                            Clock::TimePoint start, Clock::TimePoint end, ArmResponse& response) {
  std::string sub = request.path.substr(0, request.path.find('/', 15));  // /subscriptions/{s}
  std::string base = sub + "/providers/" + provider + "/locations/" + location;
  std::string query = "?api-version=" + request.api_version.value_or("");
  std::string status_id = base + "/operations/" + id;
  response.headers.emplace_back("Azure-AsyncOperation", status_id + query);
  if (request.method == "DELETE") {
    response.headers.emplace_back("Location", base + "/operationResults/" + id + query);
  }
  response.headers.emplace_back("Retry-After", std::string(kRetryAfterSeconds));
  std::lock_guard lock(mu_);
  operations_[Lower(id)] = Operation{status_id, start, end};
  order_.push_back(Lower(id));
  while (order_.size() > kMaxOperations) {
    operations_.erase(order_.front());
    order_.pop_front();
  }
}

ArmResponse OperationLog::Answer(const ArmRequest& request, const OperationPath& path) const {
  if (request.method != "GET") {
    return ArmResponse{405, ErrorBody("MethodNotAllowed", "Operation status supports GET only.")};
  }
  std::optional<Operation> op;
  {
    std::lock_guard lock(mu_);
    auto it = operations_.find(Lower(path.id));
    if (it != operations_.end()) op = it->second;
  }
  if (!op) {
    return ArmResponse{404, ErrorBody("OperationNotFound",
                                      "The operation '" + path.id + "' could not be found.")};
  }
  if (path.result) return ArmResponse{204, std::nullopt};
  return ArmResponse{200, Json{{"id", op->status_id},
                               {"name", path.id},
                               {"status", "Succeeded"},
                               {"startTime", FormatArmTime(op->start)},
                               {"endTime", FormatArmTime(op->end)}}};
}

}  // namespace cove::arm
