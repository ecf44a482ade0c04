// PlanAksClusters: what the control plane's AKS clusters ask of the AKS plane
// (daemon/aks_plane.h) — per Microsoft.ContainerService/managedClusters resource of a snapshot,
// its nodes (every agent pool's, each a machine the fabric made in the pool's subnet, with the
// cluster's kubelet identity) and the Cove.Kubernetes/deployments that name it.
//
// Thread-safety: a pure function of its arguments.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "arm/snapshot.h"
#include "daemon/aks_plane.h"

namespace cove::daemon {

// `namespace_of(machine id)` names a node's network namespace (fabric::Fabric::VmNamespace);
// `etc_netns` is where the fabric keeps each namespace's /etc overlay.
std::vector<AksClusterPlan> PlanAksClusters(
    const arm::Snapshot& snapshot, const std::function<std::string(const std::string&)>& namespace_of,
    const std::string& etc_netns);

}  // namespace cove::daemon
