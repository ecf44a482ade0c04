// ContainersPlane: makes the control plane's container groups (ACI) real — each container's
// image pulled from inside the group's network namespace the way ACI's agent pulls it, then run
// with runc (runtime/supervisor.h) — and answers ACI's instance view, actions and logs for them
// (contract 4 of issue 16: arm::ContainerGroupRuntime).
//
// Apply(groups) is asynchronous (it is called on the control plane's commit path and returns at
// once). Each group has a worker thread that owns its lifecycle, in order:
//   1. Pull, container by container: events "Pulling" (`pulling image "<image>"`), then
//      "Pulled" (`Successfully pulled image "<image>"`) or "Failed" (`Failed to pull image
//      "<image>": <CODE>: <registry's message>`) with the container Waiting, detailStatus
//      "ErrImagePull". A failed pull is tried again after a backoff (`backoff_initial` doubling
//      to `backoff_max`; a "BackOff" event `Back-off pulling image "<image>"`) unless the
//      restartPolicy is Never: then the group's provisioningState and state are Failed.
//      The credential sent (to the puller's stdin, never argv) is the group's
//      imageRegistryCredential whose server equals the image's registry (case-insensitive):
//      {"username","password"}, or {"identity": client id}; none → {} (anonymous).
//   2. Run: a bundle per container (runtime/bundle.h; the group's name as hostname, its
//      namespace as network, its /etc overlay's resolv.conf and hosts, memory limit = the
//      container's memory limit, else its request; cpu is not limited), handed to the
//      Supervisor with the group's restartPolicy. provisioningState Succeeded. A container whose
//      bundle cannot be made (nothing to run, an unknown user) gets a Failed event "Error:
//      <why>", stays Waiting ("CreateContainerConfigError") and counts as failed for good.
//   3. When the group leaves the plan or its plan changes (a fingerprint of the whole plan,
//      secrets included, differs), its containers are stopped and removed and its bundles
//      deleted; a changed group then starts again at 1 (after the old one is gone: both use the
//      same runc ids).
// A group's state: "Pending" before its containers run (pulling), "Running" while any container
// runs or will be restarted, "Succeeded" when all have terminated for good with exit code 0,
// "Failed" when all have and one did not (or its pull failed under Never), "Stopped" after
// Act("stop"). Events are the containers' (the group's own "events" is an empty list).
//
// Act: "stop" stops every container (Killing; not restarted) and the group is Stopped; "start"
// runs them again; "restart" runs them again at once (restartCount counts only the policy's
// restarts) and tries a pull that is waiting out its backoff, or gave up under Never, at once.
// While the group is still pulling, stop holds its containers back until "start".
//
// Production pulls go through CovedImagePuller: `<coved_path> pull --image I --store
// <state_dir>/images --rootfs <bundle>/rootfs [--ca <ca_file>]` (contract 2) spawned with
// fabric::Namespaces::Spawn INSIDE the group's namespace with its /etc overlay, the credential
// JSON on stdin, one JSON object read from stdout.
//
// Files: <state_dir>/containers/<runc id>/ (config.json mode 0600 — it holds the secure values
// —, rootfs/, log, log.1, runc.log) and <state_dir>/images (the pull's content store, shared by
// every group, kept across groups and restarts). <state_dir>/containers is emptied on
// construction (a restarted coved starts from the plan again); the Supervisor deletes stale runc
// containers of the prefix.
//
// Thread-safety: every public method may be called from any thread. One mutex guards the
// groups; no pull, runc command or thread join runs while it is held (Down() and the destructor
// release it before joining the workers). Group ids are compared case-insensitively.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "fabric/namespaces.h"
#include "runtime/supervisor.h"

namespace cove::daemon {

struct ContainerPlan {
  std::string name, image;
  std::vector<std::string> command;
  bool has_command = false;
  std::vector<std::pair<std::string, std::string>> env;  // secure values included, unsealed
  double cpu = 1, memory_gb = 1.5;
  std::optional<double> memory_limit_gb;
};

struct RegistryCredentialPlan {
  std::string server;
  std::string username, password;
  std::string identity_client_id;
};

struct ContainerGroupPlan {
  std::string id;  // ARM id
  std::string name;
  std::string ns;              // fabric namespace
  std::string etc_overlay;     // "/etc/netns/<ns>"
  std::string restart_policy;  // Always | OnFailure | Never (anything else: Always)
  std::vector<ContainerPlan> containers;
  std::vector<RegistryCredentialPlan> credentials;
};

// One pull, as the plane asks for it.
struct PullRequest {
  std::string ns;           // the group's namespace: the pull's network path
  std::string etc_overlay;  // its /etc overlay (resolv.conf)
  std::string image;        // the reference as the container names it
  std::string rootfs;       // unpack into this (absent) directory
  nlohmann::json credential = nlohmann::json::object();  // contract 2's stdin object
};

struct PulledImage {
  std::string digest;                                // the manifest's
  nlohmann::json config = nlohmann::json::object();  // the image config's "config" object
};

// The seam between the plane and the network: pulls one image into a rootfs.
class ImagePuller {
 public:
  virtual ~ImagePuller() = default;
  // The pulled image on success. On failure an Error whose `reason` is the registry's code
  // ("DENIED", "UNAUTHORIZED", "MANIFEST_UNKNOWN", "CONNECT", … ; "" when there is none) and
  // whose message is the registry's own message (or what went wrong); http_status when known.
  virtual Result<PulledImage> Pull(const PullRequest& request) = 0;
  // Ends every pull in flight at once (they fail); for shutdown. Pulls started later run.
  virtual void CancelAll() {}
};

// Pulls with `coved pull` inside the request's namespace (see above).
class CovedImagePuller final : public ImagePuller {
 public:
  // `namespaces` must outlive the puller.
  CovedImagePuller(fabric::Namespaces& namespaces, std::string coved_path, std::string store,
                   std::string ca_file,
                   std::chrono::milliseconds timeout = std::chrono::minutes(15));
  Result<PulledImage> Pull(const PullRequest& request) override;
  // SIGKILLs every `coved pull` in flight (through pidfds: never another process).
  void CancelAll() override;

 private:
  fabric::Namespaces& namespaces_;
  std::string coved_path_, store_, ca_file_;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::set<int> in_flight_;  // pidfds of running pulls
};

struct ContainersPlaneOptions {
  std::string prefix;     // the fabric prefix: runc root and container ids (runtime/naming.h)
  std::string state_dir;  // coved's data dir
  std::string ca_file;    // CA bundle for pulls ("" = the system's)
  std::string coved_path = "/proc/self/exe";
  std::string runc = "runc";
  std::string runc_root;  // "" = runtime::RuncRoot(prefix)
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::milliseconds stop_grace{10000};
  const Clock* clock = nullptr;  // event times; nullptr = the system clock
};

class ContainersPlane {
 public:
  // `namespaces` must outlive the plane. `puller` nullptr = CovedImagePuller.
  ContainersPlane(ContainersPlaneOptions options, fabric::Namespaces& namespaces,
                  std::unique_ptr<ImagePuller> puller = nullptr);
  ~ContainersPlane();  // Down()
  ContainersPlane(const ContainersPlane&) = delete;
  ContainersPlane& operator=(const ContainersPlane&) = delete;

  // Makes `groups` the desired set (see above). Returns at once.
  void Apply(std::vector<ContainerGroupPlan> groups);
  // Contract 4's instance view of the group; nullopt for a group not in the plan.
  std::optional<nlohmann::json> InstanceView(const std::string& group_id) const;
  // "restart" | "stop" | "start". kNotFound for a group not in the plan, kInvalidArgument for
  // another action. restart of a group still pulling tries its pull again at once.
  Status Act(const std::string& group_id, const std::string& action);
  // The container's output (last `tail` lines when given; "" before it first ran). kNotFound
  // for an unknown group or container.
  Result<std::string> Logs(const std::string& group_id, const std::string& container,
                           std::optional<int> tail) const;
  // Stops and removes every container and deletes every bundle; the plan is empty afterwards.
  // Pulls in flight are cancelled. Blocks until done.
  void Down();

 private:
  struct Box;
  struct Group;
  void Work(Group* group);
  bool Provision(Group* group, std::unique_lock<std::mutex>& lock);
  bool PullOne(Group* group, Box& box, std::unique_lock<std::mutex>& lock);
  void StartContainers(Group* group, std::unique_lock<std::mutex>& lock);
  void TearDown(Group* group, std::unique_lock<std::mutex>& lock);
  void Retire(std::shared_ptr<Group> group);
  void JoinRetired(bool all);
  // Waits on the group's condition until `deadline` or a change; false when it is cancelled.
  bool Pause(Group* group, std::unique_lock<std::mutex>& lock,
             std::chrono::steady_clock::time_point deadline);
  std::string ContainerDir(const Group& group, const std::string& container) const;
  Clock::TimePoint Now() const;

  ContainersPlaneOptions options_;
  fabric::Namespaces& namespaces_;
  std::unique_ptr<ImagePuller> puller_;
  SystemClock system_clock_;
  runtime::Supervisor supervisor_;
  mutable std::mutex mu_;
  std::condition_variable torn_down_;                     // a retired group finished tearing down
  std::map<std::string, std::shared_ptr<Group>> groups_;  // by lowercased id
  std::vector<std::shared_ptr<Group>> retired_;           // tearing down
};

}  // namespace cove::daemon
