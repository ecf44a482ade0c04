// Long-running operations as ARM does them (issue 15): the Azure SDKs and az poll the writes
// their REST specs mark long-running (x-ms-long-running-operation) through the headers of the
// first answer, so cove answers those writes with them even though every write here completes
// before its answer is sent:
//   PUT / PATCH  200 or 201 (as before), the resource in the body (provisioningState Succeeded)
//   DELETE       200 as before (no body; 204 when absent, without headers)
// plus, on both,
//   Azure-AsyncOperation: /subscriptions/{s}/providers/{ns}/locations/{region}/operations/{id}
//                         ?api-version={the request's}
//   Location (DELETE):    .../locations/{region}/operationResults/{id}?api-version=...
//   Retry-After: 10
// ({region}: the resource's location, or its parent's; "global" when none.) The transport
// (arm/api.h) makes the path-absolute values URLs. The operation status resource answers
// {"id","name","status":"Succeeded","startTime","endTime"}; the operation result answers 204
// (the write is done). Which types are long-running is LongRunningTypes() below, from Azure's
// REST specs: every Microsoft.Network and Microsoft.ContainerRegistry type cove serves, private
// DNS zones and their virtual network links, virtual machines and container groups — not
// record sets, role assignments, managed identities, forwarding rules or resource groups.
//
// Operations live in memory (OperationLog): the newest kMaxOperations are kept; an id that is
// unknown (older, or from before a restart) answers 404 OperationNotFound.
//
// Thread-safety: OperationLog is thread-safe; the free functions are pure.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "arm/control_plane.h"
#include "common/clock.h"

namespace cove::arm {

// What an operation status path names.
struct OperationPath {
  std::string subscription;
  std::string provider;  // as written
  std::string location;
  std::string id;
  bool result = false;  // .../operationResults/{id} (the Location header) rather than /operations
};

// Parses /subscriptions/{s}/providers/{ns}/locations/{l}/operations|operationResults/{id}
// (any casing); nullopt for any other path.
std::optional<OperationPath> ParseOperationPath(std::string_view path);

// True when `type` ("Microsoft.Network/virtualNetworks/subnets", any casing) is written with
// ARM's long-running-operation headers.
bool IsLongRunningType(std::string_view type);

class OperationLog {
 public:
  static constexpr size_t kMaxOperations = 4096;

  // Records a finished write and gives `response` the headers above. `request` is the write,
  // `provider` its namespace as written, `location` its region and `id` a new GUID.
  void Complete(const ArmRequest& request, const std::string& provider,
                const std::string& location, const std::string& id, Clock::TimePoint start,
                Clock::TimePoint end, ArmResponse& response);
  // Answers a GET of an operation status or result path.
  ArmResponse Answer(const ArmRequest& request, const OperationPath& path) const;

 private:
  struct Operation {
    std::string status_id;  // the status resource's path
    Clock::TimePoint start, end;
  };
  mutable std::mutex mu_;
  std::map<std::string, Operation> operations_;  // by lowercase id; guarded by mu_
  std::deque<std::string> order_;                // oldest first; guarded by mu_
};

}  // namespace cove::arm
