#include "daemon/aks_plane.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "common/ascii.h"
#include "common/digest.h"
#include "runtime/spawn.h"

namespace cove::daemon {

using nlohmann::json;

struct AksPlane::Node {
  AksNodePlan plan;
  std::unique_ptr<node::Containerd> containerd;
  std::unique_ptr<node::Kubelet> kubelet;
};

namespace {

std::string Hex(std::string_view text, size_t n) { return Digest::Of(text).hex().substr(0, n); }

// The last non-empty line of `text`.
std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// A replica's pod name: "<deployment>-<10 hex of the workload>-<5 hex of the replica>".
std::string ReplicaName(const AksWorkloadPlan& w, const std::string& rs, int i) {
  return w.name + "-" + rs + "-" + Hex(AsciiLower(w.id) + "/" + std::to_string(i), 5);
}

// A replica is as far as its least advanced container.
int Rank(const std::string& state) {
  if (state == "Failed") return 0;
  if (state == "Pending") return 1;
  if (state == "Pulling") return 2;
  if (state == "Succeeded") return 3;
  return 4;  // Running
}

}  // namespace

AksPlane::AksPlane(AksPlaneOptions options, fabric::Namespaces& namespaces)
    : options_(std::move(options)), namespaces_(namespaces) {
  thread_ = std::thread([this] { Loop(); });
}

AksPlane::~AksPlane() { Down(); }

void AksPlane::Apply(std::vector<AksClusterPlan> clusters) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = std::move(clusters);
  cv_.notify_all();
}

void AksPlane::Down() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::map<std::string, std::unique_ptr<Node>> nodes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    nodes.swap(nodes_);
    placements_.clear();
  }
  for (auto& [key, n] : nodes) {
    n->kubelet.reset();
    n->containerd.reset();
    std::error_code ec;
    std::filesystem::remove_all(NodeDir(n->plan), ec);
  }
  // The nodes' run directories are gone with their containerds; their parent goes when empty.
  ::rmdir(("/run/cove-aks-" + options_.prefix).c_str());
}

void AksPlane::Loop() {
  for (;;) {
    std::vector<AksClusterPlan> clusters;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || pending_.has_value(); });
      if (stopping_) return;
      clusters = std::move(*pending_);
      pending_.reset();
    }
    Reconcile(clusters);
  }
}

std::string AksPlane::NodeDir(const AksNodePlan& plan) const {
  return options_.state_dir + "/aks/" + Hex(AsciiLower(plan.machine_id), 12);
}

node::CredentialSource AksPlane::CredentialsFor(const AksNodePlan& plan) const {
  if (options_.credentials) return options_.credentials(plan);
  return [this, plan](const std::string& image) -> Result<node::RegistryLogin> {
    std::vector<std::string> argv = {options_.coved_path, "acr-credential-provider", "--identity",
                                     plan.kubelet_client_id};
    if (!options_.ca_file.empty()) {
      argv.push_back("--ca");
      argv.push_back(options_.ca_file);
    }
    json request = {{"apiVersion", "credentialprovider.kubelet.k8s.io/v1"},
                    {"kind", "CredentialProviderRequest"},
                    {"image", image}};
    COVE_ASSIGN_OR_RETURN(
        auto out, runtime::RunInNamespace(namespaces_, {.ns = plan.ns,
                                                        .etc_overlay = plan.etc_overlay,
                                                        .argv = argv,
                                                        .input = request.dump(),
                                                        .timeout = std::chrono::minutes(2)}));
    json answer = json::parse(out.out, nullptr, /*allow_exceptions=*/false);
    if (out.exit_code != 0 || !answer.is_object() || !answer.contains("auth") ||
        !answer["auth"].is_object() || answer["auth"].empty()) {
      std::string why = LastLine(out.err);
      return Fail(
          Code::kPermissionDenied,
          "credential provider: " + (why.empty() ? "exit " + std::to_string(out.exit_code) : why));
    }
    const json& entry = answer["auth"].begin().value();
    return node::RegistryLogin{entry.value("username", ""), entry.value("password", "")};
  };
}

void AksPlane::Reconcile(const std::vector<AksClusterPlan>& clusters) {
  // Nodes: which must exist.
  std::map<std::string, const AksNodePlan*> wanted;
  for (const auto& c : clusters) {
    for (const auto& n : c.nodes) wanted[AsciiLower(n.machine_id)] = &n;
  }
  std::vector<std::unique_ptr<Node>> leaving;
  std::vector<const AksNodePlan*> joining;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      auto w = wanted.find(it->first);
      if (w == wanted.end() || w->second->ns != it->second->plan.ns ||
          w->second->kubelet_client_id != it->second->plan.kubelet_client_id) {
        leaving.push_back(std::move(it->second));
        it = nodes_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [key, plan] : wanted) {
      if (!nodes_.count(key)) joining.push_back(plan);
    }
  }
  for (auto& n : leaving) {
    spdlog::info("aks: node {} leaves", n->plan.name);
    n->kubelet.reset();
    n->containerd.reset();
    std::error_code ec;
    std::filesystem::remove_all(NodeDir(n->plan), ec);
  }
  const std::string run_root = "/run/cove-aks-" + options_.prefix;
  for (const AksNodePlan* plan : joining) {
    const std::string key = AsciiLower(plan->machine_id);
    const std::string short_id = Hex(key, 12);
    auto containerd =
        node::Containerd::Start(namespaces_, {.ns = plan->ns,
                                              .etc_overlay = plan->etc_overlay,
                                              .root_dir = NodeDir(*plan) + "/containerd",
                                              .run_dir = run_root + "/" + short_id});
    if (!containerd) {
      // The next Apply tries again (the fabric may not have made the namespace yet).
      spdlog::warn("aks: node {}: {}", plan->name, containerd.error().message);
      continue;
    }
    auto n = std::make_unique<Node>();
    n->plan = *plan;
    n->containerd = std::move(*containerd);
    n->kubelet = std::make_unique<node::Kubelet>(
        node::KubeletOptions{.node_name = plan->name,
                             .ca_file = options_.ca_file,
                             .log_dir = NodeDir(*plan) + "/pods",
                             .backoff_initial = options_.backoff_initial},
        *n->containerd, CredentialsFor(*plan));
    spdlog::info("aks: node {} runs containerd in {}", plan->name, plan->ns);
    std::lock_guard<std::mutex> lock(mu_);
    nodes_[key] = std::move(n);
  }
  // Pods: each workload's replicas over its cluster's running nodes.
  std::map<std::string, std::vector<node::PodSpec>> pods_of;  // node key → pods
  std::vector<Placement> placements;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : clusters) {
      std::vector<std::pair<std::string, std::string>> nodes;  // (name, key)
      for (const auto& n : c.nodes) {
        std::string key = AsciiLower(n.machine_id);
        if (nodes_.count(key)) nodes.emplace_back(n.name, key);
      }
      std::sort(nodes.begin(), nodes.end());
      if (nodes.empty()) continue;
      for (const auto& w : c.workloads) {
        const std::string rs = Hex(AsciiLower(w.id), 10);
        const size_t start = std::stoul(Hex(AsciiLower(w.id), 6), nullptr, 16) % nodes.size();
        // A replica stays on its node while that node is there (a node that leaves moves only
        // its own pods); the others go where this workload has the fewest, round robin.
        std::vector<std::string> node_of(w.replicas);
        std::map<std::string, int> count;
        for (int i = 0; i < w.replicas; ++i) {
          const std::string pod = ReplicaName(w, rs, i);
          for (const auto& old : placements_) {
            if (old.workload_id == w.id && old.pod == pod &&
                std::any_of(nodes.begin(), nodes.end(),
                            [&](const auto& n) { return n.second == old.node_key; })) {
              node_of[i] = old.node_key;
              ++count[old.node_key];
            }
          }
        }
        for (int i = 0; i < w.replicas; ++i) {
          if (!node_of[i].empty()) continue;
          size_t best = (start + i) % nodes.size();
          for (size_t k = 1; k < nodes.size(); ++k) {
            const size_t at = (start + i + k) % nodes.size();
            if (count[nodes[at].second] < count[nodes[best].second]) best = at;
          }
          node_of[i] = nodes[best].second;
          ++count[node_of[i]];
        }
        for (int i = 0; i < w.replicas; ++i) {
          const std::string& key = node_of[i];
          Placement p{w.id, key, ReplicaName(w, rs, i), {}};
          for (const auto& container : w.containers) {
            node::PodSpec spec{
                .name = w.containers.size() == 1 ? p.pod : p.pod + "-" + container.name,
                .image = container.image,
                .command = container.command,
                .args = container.args,
                .env = container.env};
            p.containers.push_back(spec.name);
            pods_of[key].push_back(std::move(spec));
          }
          placements.push_back(std::move(p));
        }
      }
    }
    placements_ = std::move(placements);
  }
  // Kubelets outside the lock: SetPods stops removed pods and waits for them.
  std::vector<std::pair<node::Kubelet*, std::vector<node::PodSpec>>> assignments;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, n] : nodes_) assignments.emplace_back(n->kubelet.get(), pods_of[key]);
  }
  for (auto& [kubelet, pods] : assignments) kubelet->SetPods(std::move(pods));
}

std::optional<json> AksPlane::WorkloadStatus(const std::string& workload_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  json pods = json::array();
  int replicas = 0, ready = 0;
  bool known = false;
  for (const auto& p : placements_) {
    if (!EqualsIgnoreCase(p.workload_id, workload_id)) continue;
    known = true;
    ++replicas;
    auto n = nodes_.find(p.node_key);
    if (n == nodes_.end()) continue;
    std::vector<node::PodStatus> all = n->second->kubelet->Pods();
    json pod = {{"name", p.pod},      {"node", n->second->plan.name},
                {"state", "Pending"}, {"restartCount", 0},
                {"message", ""},      {"image", ""}};
    int rank = 99;
    int restarts = 0;
    for (const auto& s : all) {
      if (std::find(p.containers.begin(), p.containers.end(), s.name) == p.containers.end())
        continue;
      restarts += s.restart_count;
      if (Rank(s.state) < rank) {
        rank = Rank(s.state);
        pod["state"] = s.state;
        pod["message"] = s.message;
        pod["image"] = s.image;
        if (s.exit_code) pod["exitCode"] = *s.exit_code;
      }
    }
    pod["restartCount"] = restarts;
    if (pod["state"] == "Running") ++ready;
    pods.push_back(std::move(pod));
  }
  if (!known) return std::nullopt;
  return json{{"replicas", replicas}, {"readyReplicas", ready}, {"pods", pods}};
}

}  // namespace cove::daemon
