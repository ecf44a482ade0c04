// node::Containerd: one real containerd daemon inside a cluster node's network namespace — the
// node's container runtime, as on an AKS node — and `ctr`, its client, run inside the same
// namespace (ctr does the registry's HTTP itself, so it must resolve and connect the way the
// node does: through the node's /etc overlay and its VNet's DNS).
//
// Layout: the daemon's root (content and snapshots, which can be large) under `root_dir`, its
// state and its sockets under `run_dir` (keep that short: a unix socket path has 108 bytes).
// The configuration is containerd 1.6's with the CRI plugin disabled (cove runs no Kubernetes
// API server; containerd's CRI plugin is where a real kubelet would attach later), the
// overlayfs snapshotter, no debug or metrics listeners. containerd runs in a mount namespace of
// its own (fabric::Namespaces::Spawn), so the overlay mounts of its containers live and die
// with it; it keeps the host's /sys there (SpawnOptions::keep_sys), whose cgroup mounts runc
// needs to make its containers.
//
// Stop(): every task in the k8s.io namespace is killed and deleted first (containerd's shims
// outlive containerd otherwise), then containerd gets SIGTERM and, after 10 s, SIGKILL — by
// its pid only. `run_dir` is removed; `root_dir` is removed too (a node that goes away keeps
// nothing).
//
// Thread-safety: Ctr may be called from any thread; Stop and the destructor must not race
// with other calls.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "fabric/namespaces.h"
#include "runtime/supervisor.h"

namespace cove::node {

// The containerd namespace cove's kubelet uses, as a real kubelet's CRI plugin does.
inline constexpr const char* kK8sNamespace = "k8s.io";

struct ContainerdOptions {
  std::string ns;           // the node's network namespace
  std::string etc_overlay;  // "/etc/netns/<ns>"
  std::string root_dir;     // containerd's root (images, snapshots)
  std::string run_dir;      // its state and sockets
  std::string containerd = "containerd";
  std::string ctr = "ctr";
  std::chrono::milliseconds start_timeout{std::chrono::seconds(30)};
};

class Containerd {
 public:
  // Writes the configuration, starts containerd in the namespace and waits until `ctr version`
  // answers. kNotFound when the namespace does not exist, kUnavailable when containerd does not
  // come up in time (it is stopped then; its log's last lines are in the message).
  static Result<std::unique_ptr<Containerd>> Start(fabric::Namespaces& namespaces,
                                                   ContainerdOptions options);
  ~Containerd();
  Containerd(const Containerd&) = delete;
  Containerd& operator=(const Containerd&) = delete;

  // `ctr -a <socket> -n k8s.io <args>` on this host: for commands that only talk to containerd
  // over its socket (task kill, container rm, image ls, version), so they work even once the
  // node's namespace is gone.
  Result<runtime::ChildOutput> Ctr(const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout) const;
  // The same inside the node's namespace, with `input` on stdin: for what reaches the network
  // (image pull: ctr does the registry's HTTP itself).
  Result<runtime::ChildOutput> CtrInNode(const std::vector<std::string>& args,
                                         std::chrono::milliseconds timeout,
                                         const std::string& input = "") const;
  // The same argv, for callers that spawn it themselves (e.g. with a log file as stdout).
  std::vector<std::string> CtrArgv(const std::vector<std::string>& args) const;
  void Stop();

  const ContainerdOptions& options() const { return options_; }
  fabric::Namespaces& namespaces() const { return namespaces_; }
  const std::string& socket() const { return socket_; }

 private:
  Containerd(fabric::Namespaces& namespaces, ContainerdOptions options)
      : namespaces_(namespaces), options_(std::move(options)) {}

  fabric::Namespaces& namespaces_;
  ContainerdOptions options_;
  std::string socket_;
  pid_t pid_ = -1;
};

}  // namespace cove::node
