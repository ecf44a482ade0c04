// RegionSupervisor: the full daemon's regions — one `coved region` process per Azure region that
// any registry is replicated to (daemon/region_node.h), started, fed and watched from here, and
// the routing table the Private Link forwarders read (docs/regions.md).
//
// After every control-plane commit, Apply(snapshot):
//   1. starts a region process for every region some registry has (home or replica) that is not
//      running: `coved region --region R --data-dir <data>/regions/R --secrets-dir <data>
//      --ready-fd 3 [--zone-redundant]`, which answers on the pipe with its ports once it
//      listens; its pid is written to <data>/regions/R/pid. A region is zone-redundant when a
//      replica there (or the registry's home) has zoneRedundancy Enabled, and stays so; a
//      running region that becomes zone-redundant is restarted as such;
//   2. pushes the snapshot's documents (RegionConfig) with the peers (every other running
//      region's backbone endpoint) to each running region and waits for each to apply it (up to
//      push_timeout each; a region that fails is logged and gets the next push, or the one made
//      when it restarts);
//   3. stops the processes of regions no registry has any more (SIGTERM, then SIGKILL after 10 s)
//      and deletes their directories: a removed replica's data is gone.
// A region process that exits is seen at once (pidfd), marked down — the forwarders skip it
// from their next connection — and started again after restart_delay with the latest snapshot
// (or, with restart = false, only on RestartDead: a test's "the region is back"). Region
// processes die with coved (PR_SET_PDEATHSIG) and are started afresh by the next coved, which
// finds their data where it was.
//
// Routing (Targets): the client endpoints of the named regions that are up, in the order asked.
//
// Thread-safety: every method may be called from any thread; Apply calls are serialized.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/control_plane.h"
#include "arm/snapshot.h"
#include "common/error.h"
#include "common/unique_fd.h"
#include "daemon/projection.h"
#include "privatelink/forwarder.h"

namespace cove::daemon {

// Which regions run and where their nodes listen: what the router needs of the supervisor (the
// seam its tests fill in).
class RunningRegions {
 public:
  virtual ~RunningRegions() = default;
  // The client endpoints (TLS; `plain`: plain HTTP) of `regions` that are up, in that order.
  virtual std::vector<privatelink::Target> Targets(const std::vector<std::string>& regions,
                                                   bool plain = false) const = 0;
  // The regions with a process, up or not.
  virtual std::vector<std::string> Regions() const = 0;
};

struct RegionSupervisorOptions {
  std::string coved = "/proc/self/exe";  // the binary run as `coved region`
  std::string data_dir;                  // coved's; regions live in <data_dir>/regions/<region>
  std::string config_path;               // coved's --config, passed on ("" = none)
  std::string log_level = "info";
  std::chrono::milliseconds restart_delay{1000};
  bool restart = true;
  std::chrono::milliseconds start_timeout{60'000};
  std::chrono::milliseconds push_timeout{30'000};
  std::vector<std::string> region_args;  // further arguments of every region (--gc-interval ...)
};

class RegionSupervisor final : public RunningRegions {
 public:
  // Reads the backbone key (creating it) and the CA certificate path.
  static Result<std::unique_ptr<RegionSupervisor>> Create(RegionSupervisorOptions options);
  // Stops every region process.
  ~RegionSupervisor() override;
  RegionSupervisor(const RegionSupervisor&) = delete;
  RegionSupervisor& operator=(const RegionSupervisor&) = delete;

  void Apply(const arm::SnapshotPtr& snapshot);
  // Starts the regions that are down now (restart = false; also skips a pending delay).
  void RestartDead();

  std::vector<privatelink::Target> Targets(const std::vector<std::string>& regions,
                                           bool plain = false) const override;
  // Whether region `region` has a running process.
  bool IsUp(const std::string& region) const;
  // The access Gates' counters of every running region, summed per key.
  nlohmann::json Counters() const;
  // What `acr replication show` says of `region` of registry `registry` (whose regions are
  // `registry_regions`): Failed while the region's process is down; otherwise what the region's
  // replication reports of its peers among the registry's regions (GET
  // /cove/replication/v1/status, asked at most twice a second): Syncing with the largest lag
  // while it is behind one of them that answers, else Ready. nullopt when the region is not
  // running and was never started (the control plane then says it waits for a first report).
  std::optional<arm::ReplicationStatus> ReplicationStatus(
      const std::string& region, const std::vector<std::string>& registry_regions) const;
  std::vector<std::string> Regions() const override;
  // The storage registry `registry` uses (`acr show-usage`'s Size): what the first running
  // region of `registry_regions` (home first) answers to GET /cove/region/v1/usage; nullopt when
  // none answers.
  std::optional<uint64_t> RegistryUsage(const std::string& registry,
                                        const std::vector<std::string>& registry_regions) const;

 private:
  struct Child {
    pid_t pid = -1;
    UniqueFd pidfd;
    uint16_t client_port = 0, client_plain_port = 0, backbone_port = 0;
    bool up = false;
    bool zone_redundant = false;
    std::chrono::steady_clock::time_point restart_at{};
  };
  explicit RegionSupervisor(RegionSupervisorOptions options) : options_(std::move(options)) {}
  Result<Child> Spawn(const std::string& region, bool zone_redundant);
  // Whether `region` keeps its blobs in three zones: some replica there asks for it, or it
  // already did (zones are never given up: their copies would be left behind).
  bool ZoneRedundant(const std::string& region, const arm::Snapshot& snapshot) const;
  Status Push(const std::string& region, uint16_t backbone_port, const std::string& body);
  std::string ConfigFor(const std::string& region, const arm::Snapshot& snapshot) const;
  void StartAndPush(const std::vector<std::string>& regions);
  void Monitor();
  void Wake();
  void Stop(const std::string& region, Child child);

  const RegionSupervisorOptions options_;
  std::string backbone_key_;
  std::string ca_file_;
  std::mutex apply_mu_;  // serializes Apply, RestartDead and the monitor's restarts
  mutable std::mutex mu_;
  std::map<std::string, Child> children_;  // guarded by mu_
  arm::SnapshotPtr snapshot_;              // guarded by mu_: the latest applied
  bool stopping_ = false;                  // guarded by mu_
  UniqueFd wake_;                          // eventfd: the monitor re-reads children_
  std::thread monitor_;
  struct StatusReport {
    std::chrono::steady_clock::time_point at;
    nlohmann::json body;  // the region's /cove/replication/v1/status; null when it failed
  };
  mutable std::mutex status_mu_;
  mutable std::map<std::string, StatusReport> status_cache_;  // by region; guarded by status_mu_
};

// Where the Private Link forwarders send a connection: from the latest projection (which
// registry has which regions, which region a client is in) and the supervisor's view of which
// regions are up. A listener names what it leads to (privatelink::ListenerSpec::service):
//   "login/<registry>/<region>"  a private endpoint's `registry` member, the endpoint's VNet in
//                                <region>: that region when the registry is replicated there,
//                                then the home region, then its other regions (Preference);
//   "data/<registry>/<region>"   a `registry_data_<region>` member: that region only (its data
//                                host is that region's; the other regions redirect to their
//                                own);
//   "sni"                        a shared TLS address (a registry's public endpoint, coved's
//                                loopback listeners): by the ClientHello's server name — a login
//                                server as above with the client's region (a public VM's
//                                location, or the location of the VNet whose outbound address
//                                the client comes from), a data host to its region; no name
//                                (an IP URL) to the running regions, then the fallback; any
//                                other name to the fallback (below);
//   "any"                        a plain-HTTP loopback listener (tests, local development): every
//                                running region in name order — right for one region; use TLS,
//                                which routes by name, with several — then the fallback.
// The fallback is coved's own registry node, which serves no registry: a name no region serves
// gets 404 NAME_UNKNOWN from it rather than a closed connection.
// Routing happens at the address a client connects to, not in DNS answers as Traffic Manager's
// does: a region that goes down is skipped from the next connection on, not after a TTL.
class RegionRouter {
 public:
  explicit RegionRouter(const RunningRegions& regions) : regions_(regions) {}
  void SetProjection(ProjectionPtr projection);
  // coved's own node's forwarded listeners (TLS and plain HTTP).
  void SetFallback(uint16_t tls_port, uint16_t plain_port);
  // The registry whose login server is `host` (lowercase, no port); "" for none.
  std::string RegistryOfLoginServer(const std::string& host) const;
  std::vector<privatelink::Target> Targets(std::string_view service,
                                           const privatelink::Arrival& arrival) const;
  // The regions of `r` (RegistryInfo::regions: those with their endpoint enabled) in the order a
  // client in region `near` ("" = unknown) prefers them: near, home, the others.
  static std::vector<std::string> Preference(const registry::RegistryInfo& r,
                                             const std::string& near);

 private:
  struct Table {
    std::map<std::string, registry::RegistryInfo> registries;          // by name
    std::map<std::string, std::string> login_servers;                 // host → registry
    std::map<std::string, std::pair<std::string, std::string>> data;  // host → registry, region
    std::map<std::string, std::string> client_regions;                // address → region
  };
  const RunningRegions& regions_;
  mutable std::mutex mu_;
  std::shared_ptr<const Table> table_ = std::make_shared<Table>();  // guarded by mu_
  uint16_t fallback_tls_ = 0, fallback_plain_ = 0;                  // guarded by mu_
};

}  // namespace cove::daemon
