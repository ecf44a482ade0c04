// AksPlane: the data plane of AKS clusters (issue 16) — each node a machine namespace in its
// pool's subnet (made by the fabric like a VM's) running its own containerd (node/containerd.h)
// and cove's minimal kubelet (node/kubelet.h), and each Cove.Kubernetes/deployments workload's
// replicas spread over its cluster's nodes.
//
// Apply(plans) stores the desired clusters and returns at once; one reconciler thread makes
// them so: containerd started on new nodes (root under <state_dir>/aks/<node>, state and
// sockets under /run/cove-aks-<prefix>/<node>), stopped and removed on nodes that left; then
// every workload's replicas placed, one per node first (nodes sorted by name, round robin from
// a start that depends on the workload, so two one-replica workloads do not pile on one node),
// and each node's kubelet given its pods; a replica stays on its node while that node is in the
// plan. Pods are named "<deployment>-<10 hex>-<5 hex>" (stable per workload and replica, as a
// ReplicaSet's pods look), with "-<container>" added per container when a workload has several
// (cove runs each container as its own pod: there is no shared pod sandbox). A node that
// leaves: its pods, and only they, are placed again on the others.
//
// Credentials: a node pulls as its kubelet identity — the kubelet runs `coved
// acr-credential-provider --identity <kubelet client id>` inside the node (IMDS, then the
// registry's /oauth2/exchange over the private endpoint) and gives ctr what it answers.
//
// WorkloadStatus answers Cove.Kubernetes/deployments' properties.status:
//   {"replicas", "readyReplicas", "pods": [{"name", "node", "state", "restartCount",
//    "exitCode"?, "message", "image"}]}  (a replica is ready when all its containers run).
//
// Lifetime: the destructor (or Down) stops every pod and containerd and removes their
// directories (a node that leaves loses its directory too); a coved restart starts the nodes' containerds again from the plan.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fabric/namespaces.h"
#include "node/containerd.h"
#include "node/kubelet.h"

namespace cove::daemon {

struct AksNodePlan {
  std::string machine_id;  // the node's MachineView id
  std::string name;        // aks-<pool>-<n>-vmss00000<i>
  std::string ns;          // its fabric namespace
  std::string etc_overlay;
  std::string kubelet_client_id;
};

struct AksContainerPlan {
  std::string name, image;
  std::vector<std::string> command, args;
  std::vector<std::pair<std::string, std::string>> env;
};

struct AksWorkloadPlan {
  std::string id, name;
  int replicas = 1;
  std::vector<AksContainerPlan> containers;
};

struct AksClusterPlan {
  std::string id;
  std::vector<AksNodePlan> nodes;
  std::vector<AksWorkloadPlan> workloads;
};

struct AksPlaneOptions {
  std::string prefix = "cove";
  std::string state_dir;  // coved's data dir
  std::string ca_file;    // the registry's CA for pulls
  std::string coved_path = "/proc/self/exe";
  std::chrono::milliseconds backoff_initial{1000};
  // Replaces the credential provider (tests); given the node's plan.
  std::function<node::CredentialSource(const AksNodePlan&)> credentials;
};

class AksPlane {
 public:
  AksPlane(AksPlaneOptions options, fabric::Namespaces& namespaces);
  ~AksPlane();

  void Apply(std::vector<AksClusterPlan> clusters);
  std::optional<nlohmann::json> WorkloadStatus(const std::string& workload_id) const;
  void Down();

 private:
  struct Node;
  struct Placement {
    std::string workload_id, node_key, pod;  // pod: the replica's name (without "-<container>")
    std::vector<std::string> containers;     // the kubelet's pod names for this replica
  };
  void Loop();
  void Reconcile(const std::vector<AksClusterPlan>& clusters);
  node::CredentialSource CredentialsFor(const AksNodePlan& plan) const;
  // <state_dir>/aks/<12 hex of the machine id>: the node's containerd root and pod logs.
  std::string NodeDir(const AksNodePlan& plan) const;

  AksPlaneOptions options_;
  fabric::Namespaces& namespaces_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::vector<AksClusterPlan>> pending_;
  bool stopping_ = false;
  std::map<std::string, std::unique_ptr<Node>> nodes_;  // by lowercased machine id
  std::vector<Placement> placements_;
  std::thread thread_;
};

}  // namespace cove::daemon
