// node::Containerd, node::Kubelet and daemon::AksPlane for real (needs root, containerd, ctr,
// runc, docker-registry, skopeo, /bin/busybox and Python's bcrypt; skips otherwise).
//
// The world, made once for the suite and removed at its end, pass or fail: a "registry"
// network namespace running Debian's docker-registry with TLS (a CA of the test's own) and
// htpasswd auth, three "node" namespaces each joined to it by a veth pair (10.98.<i>.0/24; the
// host's network is never touched), each node's /etc/netns/<ns>/hosts mapping registry.test to
// its end of the pair, and a busybox image (tests/e2e/lib.sh's e2e_make_image) pushed there by
// skopeo from the first node. Each test starts the containerds it needs and stops them; after
// it, no process of theirs is left and none of their directories is mounted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "daemon/aks_plane.h"
#include "fabric/namespaces.h"
#include "node/containerd.h"
#include "node/kubelet.h"
#include "support/busybox.h"
#include "support/temp_dir.h"

#ifndef COVE_SOURCE_DIR
#error "COVE_SOURCE_DIR must be defined"
#endif

namespace cove::node {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Eventually;

constexpr const char* kUser = "puller";
constexpr const char* kPassword = "s3cret-pass";
constexpr const char* kRegistry = "registry.test";
constexpr int kNodes = 3;

bool Sh(const std::string& command) { return std::system(command.c_str()) == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Why the world cannot be made here ("" when it can).
std::string MissingForNodes() {
  if (std::string missing = testing::MissingForContainers(); !missing.empty()) return missing;
  for (const char* tool : {"containerd", "ctr", "docker-registry", "skopeo", "openssl"}) {
    if (!Sh(std::string("command -v ") + tool + " >/dev/null 2>&1")) {
      return std::string("needs ") + tool;
    }
  }
  if (!Sh("/usr/bin/python3 -c 'import bcrypt' >/dev/null 2>&1")) return "needs python3-bcrypt";
  return "";
}

// Pids of processes whose command line mentions `text` (containerd, its shims, ctr).
std::vector<pid_t> ProcessesMentioning(const std::string& text) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

bool MountedUnder(const std::string& dir) {
  return ReadFile("/proc/self/mountinfo").find(dir) != std::string::npos;
}

class NodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_ = MissingForNodes();
    if (!skip_.empty()) return;
    world_ = std::make_unique<testing::TempDir>();
    tag_ = testing::RandomTag();
    error_ = MakeWorld();
  }
  static void TearDownTestSuite() {
    if (registry_pid_ > 0) {
      ::kill(registry_pid_, SIGTERM);
      int status = 0;
      ::waitpid(registry_pid_, &status, 0);
      registry_pid_ = -1;
    }
    for (const std::string& ns : namespaces_made_) {
      Sh("ip netns delete " + ns + " >/dev/null 2>&1");
      std::error_code ec;
      fs::remove_all("/etc/netns/" + ns, ec);
    }
    namespaces_made_.clear();
    world_.reset();
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_EQ(error_, "");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(RunRoot(), ec);
    EXPECT_TRUE(ProcessesMentioning(RunRoot()).empty()) << "a containerd or shim outlived it";
    EXPECT_FALSE(MountedUnder(temp_.path()));
  }

  static std::string NodeNs(int i) { return tag_ + "-n" + std::to_string(i); }
  static std::string RegistryNs() { return tag_ + "-reg"; }
  // In long-running pods' command lines, to find their processes.
  static std::string Marker() { return "cove-node-test-" + tag_; }
  static std::string Image() { return std::string(kRegistry) + "/busybox:v1"; }
  static std::string CaFile() { return world_->Join("tls/ca.crt"); }
  // Containerds' sockets and state: short, under /run.
  static std::string RunRoot() { return "/run/cove-nt-" + tag_; }

  // The namespaces, the registry and the image; "" or what failed.
  static std::string MakeWorld() {
    const std::string reg = RegistryNs();
    if (!Sh("ip netns add " + reg)) return "ip netns add " + reg;
    namespaces_made_.push_back(reg);
    if (!Sh("ip -n " + reg + " link set lo up")) return "lo up in " + reg;
    for (int i = 1; i <= kNodes; ++i) {
      const std::string ns = NodeNs(i);
      if (!Sh("ip netns add " + ns)) return "ip netns add " + ns;
      namespaces_made_.push_back(ns);
      const std::string net = "10.98." + std::to_string(i);
      const std::string veth = "rv" + std::to_string(i);
      if (!Sh("ip -n " + ns + " link set lo up && ip -n " + reg + " link add " + veth +
              " type veth peer name eth0 netns " + ns + " && ip -n " + reg + " addr add " + net +
              ".1/24 dev " + veth + " && ip -n " + reg + " link set " + veth + " up && ip -n " +
              ns + " addr add " + net + ".2/24 dev eth0 && ip -n " + ns + " link set eth0 up")) {
        return "veth to " + ns;
      }
      fs::create_directories("/etc/netns/" + ns);
      std::ofstream("/etc/netns/" + ns + "/hosts") << "127.0.0.1 localhost\n"
                                                   << net << ".1 " << kRegistry << "\n";
      std::ofstream("/etc/netns/" + ns + "/resolv.conf") << "nameserver 192.0.2.53\n";
    }
    const std::string lib = std::string(COVE_SOURCE_DIR) + "/tests/e2e/lib.sh";
    const std::string dir = world_->path();
    if (!Sh("bash -c 'source " + lib + " && e2e_make_tls " + dir + "/tls " + kRegistry +
            "' >/dev/null 2>&1")) {
      return "e2e_make_tls";
    }
    if (!Sh("/usr/bin/python3 -c 'import bcrypt,sys; sys.stdout.write(\"" + std::string(kUser) +
            ":\" + bcrypt.hashpw(b\"" + kPassword +
            "\", bcrypt.gensalt(4)).decode() + \"\\n\")' >" + dir + "/htpasswd")) {
      return "htpasswd";
    }
    std::ofstream(dir + "/registry.yml")
        << "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
        << "storage:\n  filesystem:\n    rootdirectory: " << dir << "/storage\n"
        << "auth:\n  htpasswd:\n    realm: cove-test\n    path: " << dir << "/htpasswd\n"
        << "http:\n  addr: 0.0.0.0:443\n  tls:\n    certificate: " << dir
        << "/tls/server.crt\n    key: " << dir << "/tls/server.key\n";
    UniqueFd log(
        ::open((dir + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    fabric::SpawnOptions spawn;
    spawn.stdout_fd = log.get();
    spawn.stderr_fd = log.get();
    auto pid = namespaces_.Spawn(reg, {"docker-registry", "serve", dir + "/registry.yml"}, spawn);
    if (!pid) return "docker-registry: " + pid.error().message;
    registry_pid_ = *pid;
    const std::string in_node = "ip netns exec " + NodeNs(1) + " ";
    if (!Eventually(
            [&] {
              return Sh(in_node + "curl -s -o /dev/null --max-time 2 --cacert " + CaFile() +
                        " https://" + kRegistry + "/v2/");
            },
            std::chrono::seconds(20))) {
      return "the registry did not answer: " + ReadFile(dir + "/registry.log");
    }
    if (!Sh("bash -c 'source " + lib + " && e2e_make_image " + dir +
            "/layout v1 --layers 1 --config \"{\\\"Cmd\\\":[\\\"/bin/sh\\\",\\\"-c\\\","
            "\\\"echo hello\\\"]}\"' >/dev/null 2>&1")) {
      return "e2e_make_image";
    }
    fs::create_directories(dir + "/certs");
    fs::copy_file(CaFile(), dir + "/certs/ca.crt");
    if (!Sh(in_node + "skopeo --command-timeout 60s copy -q --dest-creds " + kUser + ":" +
            kPassword + " --dest-cert-dir " + dir + "/certs oci:" + dir + "/layout:v1 docker://" +
            Image() + " >" + dir + "/skopeo.log 2>&1")) {
      return "skopeo copy: " + ReadFile(dir + "/skopeo.log");
    }
    return "";
  }

  Result<std::unique_ptr<Containerd>> StartContainerd(int node) {
    const std::string ns = NodeNs(node);
    return Containerd::Start(namespaces_, {.ns = ns,
                                           .etc_overlay = "/etc/netns/" + ns,
                                           .root_dir = temp_.Join("c" + std::to_string(node)),
                                           .run_dir = RunRoot() + "/c" + std::to_string(node)});
  }

  static CredentialSource Login(const std::string& password) {
    return [password](const std::string&) -> Result<RegistryLogin> {
      return RegistryLogin{kUser, password};
    };
  }

  KubeletOptions Options(int node) {
    return {.node_name = "node" + std::to_string(node),
            .ca_file = CaFile(),
            .log_dir = temp_.Join("pods" + std::to_string(node)),
            .backoff_initial = std::chrono::milliseconds(100),
            .backoff_max = std::chrono::milliseconds(400)};
  }

  static std::optional<PodStatus> PodOf(const Kubelet& kubelet, const std::string& name) {
    for (const PodStatus& pod : kubelet.Pods()) {
      if (pod.name == name) return pod;
    }
    return std::nullopt;
  }

  static inline std::string skip_, error_, tag_;
  static inline std::unique_ptr<testing::TempDir> world_;
  static inline std::vector<std::string> namespaces_made_;
  static inline pid_t registry_pid_ = -1;
  static inline fabric::LinuxNamespaces namespaces_{"/run/netns"};
  testing::TempDir temp_;
};

TEST_F(NodeTest, ContainerdStartsInTheNodeAndStopsClean) {
  auto containerd = StartContainerd(1);
  ASSERT_TRUE(containerd) << containerd.error().message;
  const std::string run_dir = (*containerd)->options().run_dir;
  EXPECT_TRUE(fs::exists((*containerd)->socket()));
  EXPECT_FALSE(ProcessesMentioning(run_dir + "/config.toml").empty());
  auto version = (*containerd)->Ctr({"version"}, std::chrono::seconds(10));
  ASSERT_TRUE(version);
  EXPECT_EQ(version->exit_code, 0) << version->err;
  // Its pulls go over the node's path to the registry (the node's hosts file, its veth).
  auto pulled = (*containerd)
                    ->CtrInNode({"image", "pull", "--tlscacert", CaFile(), "--user",
                           std::string(kUser) + ":" + kPassword, Image()},
                          std::chrono::seconds(60));
  ASSERT_TRUE(pulled);
  EXPECT_EQ(pulled->exit_code, 0) << pulled->err;
  (*containerd)->Stop();
  EXPECT_TRUE(ProcessesMentioning(run_dir).empty());
  EXPECT_FALSE(fs::exists(run_dir));
  EXPECT_FALSE(fs::exists(temp_.Join("c1")));
}

TEST_F(NodeTest, ContainerdOfAMissingNamespaceFails) {
  auto containerd = Containerd::Start(namespaces_, {.ns = tag_ + "-absent",
                                                    .root_dir = temp_.Join("absent"),
                                                    .run_dir = RunRoot() + "/absent",
                                                    .start_timeout = std::chrono::seconds(3)});
  EXPECT_FALSE(containerd);
}

TEST_F(NodeTest, KubeletPullsRunsAndCountsRestarts) {
  auto containerd = StartContainerd(1);
  ASSERT_TRUE(containerd) << containerd.error().message;
  std::vector<std::string> asked;
  std::mutex mu;
  Kubelet kubelet(Options(1), **containerd, [&](const std::string& image) -> Result<RegistryLogin> {
    std::lock_guard<std::mutex> lock(mu);
    asked.push_back(image);
    return RegistryLogin{kUser, kPassword};
  });
  // The image's own command (echo hello) exits 0: the pod runs again and again.
  kubelet.SetPods({{.name = "hello", .image = Image()}});
  const std::string log = temp_.Join("pods1/hello.log");
  ASSERT_TRUE(Eventually(
      [&] {
        auto pod = PodOf(kubelet, "hello");
        return pod && pod->restart_count >= 2;
      },
      std::chrono::seconds(90)))
      << (PodOf(kubelet, "hello") ? PodOf(kubelet, "hello")->message : "no pod");
  auto pod = PodOf(kubelet, "hello");
  EXPECT_EQ(pod->image, Image());
  ASSERT_TRUE(pod->exit_code);
  EXPECT_EQ(*pod->exit_code, 0);
  EXPECT_NE(ReadFile(log).find("hello\nhello\n"), std::string::npos) << ReadFile(log);
  {
    // Pulled once: the image is in the node's containerd afterwards (IfNotPresent).
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0], Image());
  }

  // A command that fails is counted with its exit code; a long one is Running until removed.
  kubelet.SetPods({{.name = "fails", .image = Image(), .command = {"/bin/sh", "-c", "exit 3"}},
                   {.name = "sleeps",
                    .image = Image(),
                    .command = {"/bin/sh", "-c", "echo \"$GREETING\"; sleep 3600; : " + Marker()},
                    .env = {{"GREETING", "hi from env"}}}});
  EXPECT_FALSE(PodOf(kubelet, "hello"));
  ASSERT_TRUE(Eventually(
      [&] {
        auto failed = PodOf(kubelet, "fails");
        return failed && failed->restart_count >= 1 && failed->exit_code == 3;
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(PodOf(kubelet, "fails")->message, "Error");
  ASSERT_TRUE(Eventually(
      [&] {
        return ReadFile(temp_.Join("pods1/sleeps.log")).find("hi from env") != std::string::npos;
      },
      std::chrono::seconds(60)));
  // Running once containerd lists the task (which may follow its first output).
  EXPECT_TRUE(Eventually([&] { return PodOf(kubelet, "sleeps")->state == "Running"; }));
  EXPECT_EQ(PodOf(kubelet, "sleeps")->restart_count, 0);
  // A command the image does not have: the task is never created; ctr's own error is the
  // message.
  kubelet.SetPods({{.name = "missing", .image = Image(), .command = {"/bin/no-such-program"}}});
  ASSERT_TRUE(Eventually(
      [&] {
        auto missing = PodOf(kubelet, "missing");
        return missing && missing->restart_count >= 1;
      },
      std::chrono::seconds(60)));
  const std::string why = PodOf(kubelet, "missing")->message;
  EXPECT_EQ(why.rfind("ctr: ", 0), 0u) << why;
  EXPECT_NE(why.find("no-such-program"), std::string::npos) << why;
  EXPECT_EQ(PodOf(kubelet, "missing")->state, "Failed");
  kubelet.SetPods({});
  EXPECT_TRUE(kubelet.Pods().empty());
  auto tasks = (*containerd)->Ctr({"task", "ls", "-q"}, std::chrono::seconds(10));
  ASSERT_TRUE(tasks);
  EXPECT_EQ(tasks->out, "");
  EXPECT_TRUE(ProcessesMentioning(Marker()).empty());
}

TEST_F(NodeTest, AWrongPasswordIsThePullsFailure) {
  auto containerd = StartContainerd(2);
  ASSERT_TRUE(containerd) << containerd.error().message;
  Kubelet kubelet(Options(2), **containerd, Login("wrong"));
  kubelet.SetPods({{.name = "denied", .image = Image()}});
  const std::string prefix = "Failed to pull image \"" + Image() + "\": ";
  ASSERT_TRUE(Eventually(
      [&] {
        auto pod = PodOf(kubelet, "denied");
        return pod && pod->state == "Failed" && pod->message.rfind(prefix, 0) == 0;
      },
      std::chrono::seconds(60)));
  const std::string message = PodOf(kubelet, "denied")->message;
  // ctr's own last line: the registry's 401.
  EXPECT_NE(message.find("401 Unauthorized"), std::string::npos) << message;
  EXPECT_EQ(PodOf(kubelet, "denied")->restart_count, 0);

  // The credential provider's error is the message as it is.
  Kubelet refused(Options(3), **containerd, [](const std::string&) -> Result<RegistryLogin> {
    return Fail(Code::kPermissionDenied, "exchange: UNAUTHORIZED: no identity");
  });
  refused.SetPods({{.name = "noidentity", .image = Image()}});
  ASSERT_TRUE(Eventually([&] {
    auto pod = PodOf(refused, "noidentity");
    return pod && pod->state == "Failed";
  }));
  EXPECT_EQ(PodOf(refused, "noidentity")->message, prefix + "exchange: UNAUTHORIZED: no identity");
}

TEST_F(NodeTest, AksPlaneSpreadsReplicasAndMovesThemWhenANodeLeaves) {
  daemon::AksPlaneOptions options;
  options.prefix = "nt-" + tag_;
  options.state_dir = temp_.path();
  options.ca_file = CaFile();
  options.backoff_initial = std::chrono::milliseconds(100);
  std::set<std::string> identities;
  std::mutex mu;
  options.credentials = [&](const daemon::AksNodePlan& plan) {
    std::lock_guard<std::mutex> lock(mu);
    identities.insert(plan.kubelet_client_id);
    return Login(kPassword);
  };
  auto plane = std::make_unique<daemon::AksPlane>(options, namespaces_);
  daemon::AksClusterPlan cluster;
  cluster.id =
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/"
      "managedClusters/aks";
  for (int i = 1; i <= kNodes; ++i) {
    cluster.nodes.push_back({.machine_id = "/machines/node" + std::to_string(i),
                             .name = "aks-pool-1-vmss00000" + std::to_string(i),
                             .ns = NodeNs(i),
                             .etc_overlay = "/etc/netns/" + NodeNs(i),
                             .kubelet_client_id = "kubelet-client"});
  }
  const std::string workload_id =
      "/subscriptions/s/resourceGroups/rg/providers/Cove.Kubernetes/deployments/web";
  cluster.workloads.push_back(
      {.id = workload_id,
       .name = "web",
       .replicas = 3,
       .containers = {{.name = "web",
                       .image = Image(),
                       .command = {"/bin/sh", "-c", "echo up; sleep 3600; : " + Marker()}}}});
  plane->Apply({cluster});
  auto ready = [&](int want) {
    auto status = plane->WorkloadStatus(workload_id);
    return status && (*status)["replicas"] == 3 && (*status)["readyReplicas"] == want;
  };
  ASSERT_TRUE(Eventually([&] { return ready(3); }, std::chrono::seconds(120)))
      << plane->WorkloadStatus(workload_id).value_or(json()).dump();
  json status = *plane->WorkloadStatus(workload_id);
  std::set<std::string> nodes, names;
  for (const json& pod : status["pods"]) {
    nodes.insert(pod["node"].get<std::string>());
    names.insert(pod["name"].get<std::string>());
    EXPECT_EQ(pod["state"], "Running");
    EXPECT_EQ(pod["image"], Image());
    EXPECT_EQ(pod["name"].get<std::string>().rfind("web-", 0), 0u) << pod.dump();
  }
  EXPECT_EQ(nodes.size(), 3u) << status.dump();
  // Each replica really runs: its node's kubelet log for it says so.
  auto logs_saying_up = [&] {
    int n = 0;
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(temp_.Join("aks"), ec)) {
      if (entry.path().extension() == ".log" && ReadFile(entry.path()) == "up\n") ++n;
    }
    return n;
  };
  EXPECT_TRUE(Eventually([&] { return logs_saying_up() == 3; })) << logs_saying_up();
  EXPECT_EQ(names.size(), 3u);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(identities, std::set<std::string>{"kubelet-client"});
  }
  EXPECT_EQ(plane->WorkloadStatus(workload_id + "-other"), std::nullopt);

  std::map<std::string, std::string> node_before;  // pod → node
  for (const json& pod : status["pods"]) node_before[pod["name"]] = pod["node"];

  // The second node leaves: its replica runs on the other two, and only it moves.
  const std::string leaving = cluster.nodes[1].name;
  cluster.nodes.erase(cluster.nodes.begin() + 1);
  plane->Apply({cluster});
  ASSERT_TRUE(Eventually(
      [&] {
        auto now = plane->WorkloadStatus(workload_id);
        if (!now || (*now)["readyReplicas"] != 3) return false;
        for (const json& pod : (*now)["pods"]) {
          if (pod["node"] == leaving) return false;
        }
        return true;
      },
      std::chrono::seconds(120)))
      << plane->WorkloadStatus(workload_id).value_or(json()).dump();
  status = *plane->WorkloadStatus(workload_id);
  nodes.clear();
  for (const json& pod : status["pods"]) nodes.insert(pod["node"].get<std::string>());
  EXPECT_EQ(nodes.size(), 2u);
  for (const json& pod : status["pods"]) {
    if (node_before[pod["name"]] != leaving) {
      EXPECT_EQ(pod["node"], node_before[pod["name"]]) << pod.dump();
    }
  }
  // The moved replica started on its new node (the leaving node's directory is gone).
  EXPECT_TRUE(Eventually([&] { return logs_saying_up() == 3; })) << logs_saying_up();
  plane->Down();
  plane.reset();
  EXPECT_TRUE(ProcessesMentioning("/run/cove-aks-" + options.prefix).empty());
  EXPECT_TRUE(ProcessesMentioning(Marker()).empty());
  std::error_code ec;
  fs::remove_all("/run/cove-aks-" + options.prefix, ec);
}

}  // namespace
}  // namespace cove::node
