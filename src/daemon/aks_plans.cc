#include "daemon/aks_plans.h"

#include "common/ascii.h"

namespace cove::daemon {

std::vector<AksClusterPlan> PlanAksClusters(
    const arm::Snapshot& snapshot, const std::function<std::string(const std::string&)>& namespace_of,
    const std::string& etc_netns) {
  std::vector<AksClusterPlan> plans;
  for (const auto& c : snapshot.clusters) {
    AksClusterPlan plan;
    plan.id = c.id;
    for (const auto& pool : c.pools) {
      for (const auto& n : pool.nodes) {
        AksNodePlan node;
        node.machine_id = n.machine_id;
        node.name = n.name;
        node.ns = namespace_of(n.machine_id);
        node.etc_overlay = etc_netns + "/" + node.ns;
        node.kubelet_client_id = c.kubelet_client_id;
        plan.nodes.push_back(std::move(node));
      }
    }
    for (const auto& w : snapshot.workloads) {
      if (!EqualsIgnoreCase(w.cluster_id, c.id)) continue;
      AksWorkloadPlan workload{.id = w.id, .name = w.name, .replicas = w.replicas, .containers = {}};
      for (const auto& k : w.containers) {
        workload.containers.push_back(
            {.name = k.name, .image = k.image, .command = k.command, .args = k.args, .env = k.env});
      }
      plan.workloads.push_back(std::move(workload));
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace cove::daemon
