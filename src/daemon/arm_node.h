// ArmNode: coved's control plane — the ControlPlane (arm/control_plane.h) over
// <data_dir>/control.db and its ARM REST API on plain HTTP on loopback (config arm_listen,
// default 127.0.0.1:7780; port 0 picks a free port).
//
// In the full daemon the registries the registry node serves come from here: the node's
// Directory is rebuilt from every committed snapshot (control-plane registries first, then
// configuration-file registries whose names the control plane does not use). See
// RegistriesFromSnapshot.
//
// Thread-safety: Start/Stop from one thread; the control plane and server are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "arm/api.h"
#include "arm/control_plane.h"
#include "daemon/config.h"
#include "http/server.h"
#include "registry/directory.h"

namespace cove::daemon {

class ArmNode {
 public:
  // Opens the control plane under config.data_dir. Errors name the path.
  static Result<std::unique_ptr<ArmNode>> Open(const Config& config, const Clock& clock);
  ~ArmNode();

  // Binds config.arm_listen and starts serving; returns the bound port.
  Result<uint16_t> Start();
  void Stop();

  arm::ControlPlane& control_plane() { return *control_plane_; }
  // cove-only diagnostics on the same listener: GET /cove/counters answers what `counters`
  // returns (the registry's per-endpoint counters, access::Gate::CountersJson). Call before
  // Start.
  void SetCounters(std::function<nlohmann::json()> counters) { counters_ = std::move(counters); }

 private:
  ArmNode() = default;
  Config config_;
  std::unique_ptr<arm::ControlPlane> control_plane_;
  std::unique_ptr<arm::ArmApi> api_;
  class Routes;
  std::unique_ptr<Routes> routes_;
  std::function<nlohmann::json()> counters_;
  std::unique_ptr<http::Server> server_;
};

// The registries a snapshot declares, as the registry's Directory wants them.
std::vector<registry::RegistryInfo> RegistriesFromSnapshot(const arm::Snapshot& snapshot);

// Control-plane registries plus the configured ones whose names are not taken.
std::vector<registry::RegistryInfo> MergeRegistries(std::vector<registry::RegistryInfo> from_arm,
                                                    const std::vector<registry::RegistryInfo>& configured);

}  // namespace cove::daemon
