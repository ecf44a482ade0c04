// node::Kubelet: cove's minimal kubelet — what runs a cluster node's pods on its containerd
// (node/containerd.h), pulling the way a kubelet with ACR's credential provider does.
//
// For each pod it is given (SetPods), a worker thread:
//   1. Pulling: unless the image is already in the node's containerd (`ctr image ls`; the
//      kubelet's IfNotPresent, its default for tagged images), asks the CredentialSource for the
//      registry's login — in coved, `coved acr-credential-provider` run inside the node
//      (kubelet's credential provider plugin protocol: the kubelet identity's token from the
//      node's IMDS, exchanged at the registry for a refresh token) — then
//      `ctr image pull --user <username>:<password> --tlscacert <ca> <image>` inside the node,
//      so the bytes come over the node's own network path (the private endpoint);
//   2. Running: `ctr run --rm --net-host <image> <pod> [command args]` (the node's network, as
//      a hostNetwork pod), its output appended to <log_dir>/<pod>.log; the pod stays Pending
//      ("ContainerCreating") until containerd lists its task as RUNNING;
//   3. when it exits, Succeeded (0) or Failed (exit code kept; the message "Error", or ctr's
//      own "ctr: …" line when the task never ran, e.g. a command that does not exist), and it
//      runs again after a backoff (1 s doubling to 60 s, as the kubelet's crash loop backoff does
//      with 10 s) — a Deployment's pods always restart. A failed pull is retried with the same
//      backoff, the pod staying Failed with the message `Failed to pull image "<image>": <why>`
//      (the credential provider's error, or ctr's last line, verbatim).
// A pod removed from the set is killed (`ctr task kill -s SIGKILL`), its container deleted by
// `--rm`.
//
// Where cove stops short of Kubernetes: there is no API server, scheduler or CRI client; pods
// are given to the kubelet by the daemon (daemon/aks_plane.h) and have one container each; no
// pod sandbox (pause container), no probes, no volumes; the containers use the node's network
// (hostNetwork). The door to a real kubelet: enable containerd's CRI plugin and give the
// kubelet the same credential provider (`coved acr-credential-provider` speaks its protocol).
//
// Thread-safety: SetPods and Pods may be called from any thread. The destructor stops every
// pod; the Containerd must outlive the Kubelet.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"
#include "node/containerd.h"

namespace cove::node {

struct PodSpec {
  std::string name;  // unique on the node; also the containerd container id
  std::string image;
  std::vector<std::string> command, args;  // command replaces the image's entrypoint
  std::vector<std::pair<std::string, std::string>> env;
};

struct PodStatus {
  std::string name, image;
  std::string state = "Pending";  // Pending | Pulling | Running | Succeeded | Failed
  int restart_count = 0;
  std::optional<int> exit_code;
  std::string message;
};

struct RegistryLogin {
  std::string username, password;
};
// The login for the registry of `image`; an error's message is shown as the pull failure.
using CredentialSource = std::function<Result<RegistryLogin>(const std::string& image)>;

struct KubeletOptions {
  std::string node_name;
  std::string ca_file;  // trusted CA for pulls ("": ctr's default)
  std::string log_dir;  // <pod>.log
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::milliseconds pull_timeout{std::chrono::minutes(15)};
};

class Kubelet {
 public:
  Kubelet(KubeletOptions options, const Containerd& containerd, CredentialSource credentials);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // The pods this node must run: new ones start, missing ones stop, a changed spec restarts.
  void SetPods(std::vector<PodSpec> pods);
  std::vector<PodStatus> Pods() const;
  const std::string& node_name() const { return options_.node_name; }

 private:
  struct Pod;
  void Run(Pod* pod);
  // Waits `delay` unless the pod is stopped first; false when stopped.
  bool Wait(Pod* pod, std::chrono::milliseconds delay);
  // Waits for the `ctr run` child `pid` to exit, the pod Running once containerd lists its task
  // as RUNNING; sets `exit_code` and answers whether it was ever seen running.
  bool WaitRun(Pod* pod, pid_t pid, int* exit_code);
  Status Pull(Pod* pod);
  void Kill(Pod* pod);
  void SetState(Pod* pod, const std::string& state, const std::string& message,
                std::optional<int> exit_code = std::nullopt);

  KubeletOptions options_;
  const Containerd& containerd_;
  CredentialSource credentials_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Pod>> pods_;
};

}  // namespace cove::node
