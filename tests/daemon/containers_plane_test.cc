// ContainersPlane with real runc over a fake ImagePuller (needs root, runc and /bin/busybox;
// skips otherwise): the fake unpacks a busybox root and answers the image's config, or fails
// the way `coved pull` does (DENIED). Checks contract 4's instance view, the pull failure's
// event text and its retries, credentials chosen by registry, Act, logs, a changed plan and a
// deleted group. Namespaces, /etc/netns dirs, runc roots and bundles are removed at the end.
#include "daemon/containers_plane.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "runtime/naming.h"
#include "support/busybox.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

using nlohmann::json;
using testing::Eventually;

constexpr const char* kDeniedText =
    "client with IP '198.51.100.7' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access.";

// Images by reference: a busybox root and a config, or a registry error.
class FakePuller final : public ImagePuller {
 public:
  Result<PulledImage> Pull(const PullRequest& request) override {
    std::unique_lock<std::mutex> lock(mu_);
    requests_.push_back(request);
    cv_.wait(lock, [&] { return !hold_; });
    const int attempt = ++attempts_[request.image];
    if (request.image.find("denied") != std::string::npos ||
        (request.image.find("flaky-registry") != std::string::npos && attempt < 3)) {
      Error error{Code::kPermissionDenied, kDeniedText};
      error.reason = "DENIED";
      error.http_status = 403;
      return Fail(std::move(error));
    }
    if (!cove::testing::MakeBusyboxRootfs(request.rootfs)) {
      return Fail(Code::kIOError, "cannot make a rootfs");
    }
    PulledImage image;
    image.digest = "sha256:" + std::string(64, 'a');
    if (request.image.find("fail") != std::string::npos) {
      image.config = {{"Cmd", {"/bin/sh", "-c", "echo attempt; exit 3"}}};
    } else if (request.image.find("done") != std::string::npos) {
      image.config = {{"Cmd", {"/bin/true"}}};
    } else {
      image.config = {
          {"Env", {"PATH=/bin", "GREETING=hello from image"}},
          {"Cmd",
           {"/bin/sh", "-c", "echo \"$GREETING\" \"$SECRET\" $(hostname); exec sleep 3600"}}};
    }
    return image;
  }

  void CancelAll() override { Hold(false); }

  void Hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }
  std::vector<PullRequest> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int Attempts(const std::string& image) {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_[image];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<PullRequest> requests_;
  std::map<std::string, int> attempts_;
};

class ContainersPlaneTest : public cove::testing::ContainerFixture {
 protected:
  void SetUp() override {
    ContainerFixture::SetUp();
    if (NotReady()) return;
    auto puller = std::make_unique<FakePuller>();
    puller_ = puller.get();
    ContainersPlaneOptions options;
    options.prefix = prefix_;
    options.state_dir = temp_.path();
    options.backoff_initial = std::chrono::milliseconds(50);
    options.backoff_max = std::chrono::milliseconds(200);
    options.stop_grace = std::chrono::milliseconds(300);
    plane_ = std::make_unique<ContainersPlane>(options, namespaces_, std::move(puller));
  }
  void TearDown() override {
    if (plane_) puller_->Hold(false);
    plane_.reset();
    ContainerFixture::TearDown();
  }

  ContainerGroupPlan Group(const std::string& name, const std::string& image,
                           const std::string& policy = "Always") {
    ContainerGroupPlan plan;
    plan.id =
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/"
        "containerGroups/" +
        name;
    plan.name = name;
    plan.ns = netns_->name();
    plan.etc_overlay = netns_->etc_overlay();
    plan.restart_policy = policy;
    ContainerPlan container;
    container.name = name;
    container.image = image;
    container.env = {{"SECRET", "s3cret"}};
    plan.containers.push_back(container);
    plan.credentials.push_back({"other.test", "u", "p", ""});
    plan.credentials.push_back({"REG.test", "reguser", "regpass", ""});
    return plan;
  }

  json View(const std::string& id) { return plane_->InstanceView(id).value_or(json()); }
  // The first container's view.
  json First(const std::string& id) {
    json view = View(id);
    if (!view.is_object() || view["containers"].empty()) return json::object();
    return view["containers"].begin().value();
  }
  bool ContainerState(const std::string& id, const std::string& state) {
    return First(id).value("currentState", json::object()).value("state", "") == state;
  }
  bool HasEvent(const json& events, const std::string& name, const std::string& message) {
    for (const json& event : events) {
      if (event["name"] == name && event["message"].get<std::string>().find(message) == 0) {
        return true;
      }
    }
    return false;
  }
  std::string LogsOf(const ContainerGroupPlan& plan) {
    return plane_->Logs(plan.id, plan.containers[0].name, std::nullopt).value_or("");
  }

  fabric::LinuxNamespaces namespaces_;
  FakePuller* puller_ = nullptr;
  std::unique_ptr<ContainersPlane> plane_;
};

TEST_F(ContainersPlaneTest, PullsRunsAndAnswersContract4) {
  puller_->Hold(true);
  const ContainerGroupPlan plan = Group("app", "reg.test/app:v1");
  const auto before = std::chrono::steady_clock::now();
  plane_->Apply({plan});
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1));  // asynchronous
  ASSERT_TRUE(Eventually([&] { return !puller_->Requests().empty(); }));
  json pending = View(plan.id);
  EXPECT_EQ(pending["provisioningState"], "Creating");
  EXPECT_EQ(pending["state"], "Pending");
  EXPECT_TRUE(HasEvent(First(plan.id)["events"], "Pulling", "pulling image \"reg.test/app:v1\""));
  EXPECT_EQ(First(plan.id)["currentState"]["state"], "Waiting");
  puller_->Hold(false);

  ASSERT_TRUE(
      Eventually([&] { return LogsOf(plan).find("hello from image") != std::string::npos; }));
  EXPECT_EQ(LogsOf(plan), "hello from image s3cret app\n");
  // Running once runc has written its pid file, which may come after the first output.
  ASSERT_TRUE(Eventually([&] { return ContainerState(plan.id, "Running"); }));
  const json view = View(plan.id);
  EXPECT_EQ(view["provisioningState"], "Succeeded");
  EXPECT_EQ(view["state"], "Running");
  EXPECT_TRUE(view["events"].is_array());
  const json app = view["containers"]["app"];
  EXPECT_EQ(app["restartCount"], 0);
  EXPECT_EQ(app["currentState"]["state"], "Running");
  EXPECT_TRUE(app["currentState"]["startTime"].is_string());
  EXPECT_EQ(app["currentState"]["detailStatus"], "");
  EXPECT_FALSE(app.contains("previousState"));
  for (const char* name : {"Pulling", "Pulled", "Created", "Started"}) {
    EXPECT_TRUE(HasEvent(app["events"], name, "")) << name;
  }
  EXPECT_TRUE(HasEvent(app["events"], "Pulled", "Successfully pulled image \"reg.test/app:v1\""));
  for (const json& event : app["events"]) {
    for (const char* key :
         {"count", "firstTimestamp", "lastTimestamp", "name", "message", "type"}) {
      EXPECT_TRUE(event.contains(key)) << event.dump();
    }
  }
  // The pull ran in the group's namespace with its overlay and the registry's credential.
  const PullRequest request = puller_->Requests().at(0);
  EXPECT_EQ(request.ns, netns_->name());
  EXPECT_EQ(request.etc_overlay, netns_->etc_overlay());
  EXPECT_EQ(request.credential, json({{"username", "reguser"}, {"password", "regpass"}}));
  EXPECT_EQ(plane_->Logs(plan.id, "app", 1).value_or(""), "hello from image s3cret app\n");
  EXPECT_EQ(plane_->Logs(plan.id, "nope", 1).error().code, Code::kNotFound);
  // Ids compare case-insensitively.
  std::string upper = plan.id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(plane_->InstanceView(upper).has_value());
  EXPECT_FALSE(plane_->InstanceView(plan.id + "x").has_value());
}

TEST_F(ContainersPlaneTest, PullFailureIsRetriedUnlessNever) {
  const ContainerGroupPlan denied = Group("denied", "reg.test/denied:v1");
  const ContainerGroupPlan never = Group("never", "reg.test/denied:v2", "Never");
  plane_->Apply({denied, never});
  const std::string text =
      std::string("Failed to pull image \"reg.test/denied:v1\": DENIED: ") + kDeniedText;
  ASSERT_TRUE(Eventually([&] { return puller_->Attempts("reg.test/denied:v1") >= 3; }));
  json view = View(denied.id);
  EXPECT_TRUE(HasEvent(First(denied.id)["events"], "Failed", text)) << view.dump();
  EXPECT_TRUE(HasEvent(First(denied.id)["events"], "BackOff", "Back-off pulling image"));
  EXPECT_EQ(First(denied.id)["currentState"]["state"], "Waiting");
  EXPECT_EQ(First(denied.id)["currentState"]["detailStatus"], "ErrImagePull");
  EXPECT_EQ(view["provisioningState"], "Creating");
  EXPECT_EQ(view["state"], "Pending");

  ASSERT_TRUE(Eventually([&] { return View(never.id)["provisioningState"] == "Failed"; }));
  EXPECT_EQ(View(never.id)["state"], "Failed");
  EXPECT_TRUE(HasEvent(First(never.id)["events"], "Failed",
                       "Failed to pull image \"reg.test/denied:v2\": DENIED: client with IP"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several backoffs
  EXPECT_EQ(puller_->Attempts("reg.test/denied:v2"), 1);
  // restart tries again.
  ASSERT_TRUE(plane_->Act(never.id, "restart"));
  ASSERT_TRUE(Eventually([&] { return puller_->Attempts("reg.test/denied:v2") == 2; }));
}

TEST_F(ContainersPlaneTest, APullThatSucceedsLaterRuns) {
  const ContainerGroupPlan plan = Group("later", "reg.test/flaky-registry:v1");
  plane_->Apply({plan});
  ASSERT_TRUE(Eventually([&] { return ContainerState(plan.id, "Running"); }));
  EXPECT_EQ(puller_->Attempts("reg.test/flaky-registry:v1"), 3);
  json failed;
  const json container = First(plan.id);
  for (const json& event : container["events"]) {
    if (event["name"] == "Failed") failed = event;
  }
  EXPECT_EQ(failed["count"], 2) << container.dump();
  EXPECT_EQ(View(plan.id)["provisioningState"], "Succeeded");
}

TEST_F(ContainersPlaneTest, IdentityCredentialAndAnonymous) {
  ContainerGroupPlan plan = Group("ident", "Reg.Test/app:v1");
  plan.credentials = {{"reg.test", "", "", "client-id-1"}};
  ContainerGroupPlan anonymous = Group("anon", "elsewhere.test/app:v1");
  plane_->Apply({plan, anonymous});
  ASSERT_TRUE(Eventually([&] { return puller_->Requests().size() >= 2; }));
  for (const PullRequest& request : puller_->Requests()) {
    if (request.image == "Reg.Test/app:v1") {
      EXPECT_EQ(request.credential, json({{"identity", "client-id-1"}}));
    } else {
      EXPECT_EQ(request.credential, json::object());
    }
  }
}

TEST_F(ContainersPlaneTest, RestartPoliciesAndGroupState) {
  const ContainerGroupPlan flaky = Group("flaky", "reg.test/fail:v1", "OnFailure");
  const ContainerGroupPlan once = Group("once", "reg.test/fail:v2", "Never");
  const ContainerGroupPlan done = Group("done", "reg.test/done:v1", "OnFailure");
  plane_->Apply({flaky, once, done});
  ASSERT_TRUE(Eventually([&] { return First(flaky.id).value("restartCount", 0) >= 2; }));
  EXPECT_EQ(First(flaky.id)["previousState"]["exitCode"], 3);
  EXPECT_EQ(View(flaky.id)["state"], "Running");
  ASSERT_TRUE(Eventually([&] { return View(once.id)["state"] == "Failed"; }));
  EXPECT_EQ(First(once.id)["currentState"]["exitCode"], 3);
  EXPECT_EQ(First(once.id)["restartCount"], 0);
  EXPECT_EQ(View(once.id)["provisioningState"], "Succeeded");
  ASSERT_TRUE(Eventually([&] { return View(done.id)["state"] == "Succeeded"; }));
}

TEST_F(ContainersPlaneTest, ActStopStartRestart) {
  const ContainerGroupPlan plan = Group("app", "reg.test/app:v1");
  plane_->Apply({plan});
  ASSERT_TRUE(Eventually([&] { return LogsOf(plan).find("hello") != std::string::npos; }));
  ASSERT_TRUE(plane_->Act(plan.id, "stop"));
  EXPECT_EQ(View(plan.id)["state"], "Stopped");
  ASSERT_TRUE(Eventually([&] { return ContainerState(plan.id, "Terminated"); }));
  EXPECT_TRUE(HasEvent(First(plan.id)["events"], "Killing", ""));
  ASSERT_TRUE(plane_->Act(plan.id, "start"));
  ASSERT_TRUE(Eventually([&] { return ContainerState(plan.id, "Running"); }));
  EXPECT_EQ(View(plan.id)["state"], "Running");
  ASSERT_TRUE(plane_->Act(plan.id, "restart"));
  ASSERT_TRUE(Eventually([&] {
    const std::string logs = LogsOf(plan);
    size_t n = 0;
    for (size_t pos = 0; (pos = logs.find("hello", pos)) != std::string::npos; ++pos) ++n;
    return n >= 3 && ContainerState(plan.id, "Running");
  }));
  EXPECT_EQ(plane_->Act(plan.id, "explode").error().code, Code::kInvalidArgument);
  EXPECT_EQ(plane_->Act(plan.id + "-other", "stop").error().code, Code::kNotFound);
}

TEST_F(ContainersPlaneTest, ChangedPlanRestartsDeletedGroupIsRemoved) {
  ContainerGroupPlan plan = Group("app", "reg.test/app:v1");
  plane_->Apply({plan});
  ASSERT_TRUE(Eventually([&] { return LogsOf(plan).find("s3cret") != std::string::npos; }));
  const std::string id = runtime::ContainerId(prefix_, plan.id, "app");
  const std::string dir = temp_.Join("containers/" + id);
  EXPECT_TRUE(std::filesystem::exists(dir + "/config.json"));

  plane_->Apply({plan});  // the same plan: nothing happens
  EXPECT_EQ(puller_->Requests().size(), 1u);

  plan.containers[0].env = {{"SECRET", "rotated"}};
  plane_->Apply({plan});
  ASSERT_TRUE(Eventually([&] { return LogsOf(plan).find("rotated") != std::string::npos; }));
  EXPECT_EQ(puller_->Requests().size(), 2u);

  // Deleted and at once planned again: the new one waits for the old one to go.
  plane_->Apply({});
  plane_->Apply({plan});
  ASSERT_TRUE(Eventually([&] { return ContainerState(plan.id, "Running"); }));
  EXPECT_EQ(puller_->Requests().size(), 3u);

  plane_->Apply({});
  EXPECT_FALSE(plane_->InstanceView(plan.id).has_value());
  const std::string state =
      "runc --root " + runtime::RuncRoot(prefix_) + " state " + id + " >/dev/null 2>&1";
  ASSERT_TRUE(
      Eventually([&] { return std::system(state.c_str()) != 0 && !std::filesystem::exists(dir); }));
}

TEST_F(ContainersPlaneTest, DownCancelsAPullInFlight) {
  puller_->Hold(true);
  const ContainerGroupPlan plan = Group("app", "reg.test/app:v1");
  plane_->Apply({plan});
  ASSERT_TRUE(Eventually([&] { return !puller_->Requests().empty(); }));
  plane_->Down();  // returns although the puller holds
  EXPECT_FALSE(plane_->InstanceView(plan.id).has_value());
}

TEST_F(ContainersPlaneTest, DownRemovesEverything) {
  const ContainerGroupPlan plan = Group("app", "reg.test/app:v1");
  plane_->Apply({plan, Group("denied", "reg.test/denied:v1")});
  ASSERT_TRUE(Eventually([&] { return ContainerState(plan.id, "Running"); }));
  plane_->Down();
  EXPECT_FALSE(plane_->InstanceView(plan.id).has_value());
  const std::string list =
      "test -z \"$(runc --root " + runtime::RuncRoot(prefix_) + " list -q 2>/dev/null)\"";
  EXPECT_EQ(std::system(list.c_str()), 0);
  EXPECT_TRUE(std::filesystem::is_empty(temp_.Join("containers")));
}

// The production puller's plumbing, with a stand-in for `coved pull`: a script that records its
// arguments, its stdin and what it sees of the network and /etc, and answers as contract 2 says.
TEST_F(ContainersPlaneTest, CovedImagePullerSpawnsInTheNamespace) {
  const std::string script = temp_.Join("fake-coved");
  const std::string record = temp_.Join("record");
  {
    std::ofstream out(script);
    out << "#!/bin/sh\n"
        << "{ echo \"args: $*\"; echo \"stdin: $(cat)\"; cat /etc/resolv.conf; ip -4 addr; } > "
        << record << "\n"
        << "case \"$*\" in\n"
        << "  *denied*) echo '{\"ok\":false,\"stage\":\"manifest\",\"status\":403,"
           "\"code\":\"DENIED\",\"message\":\"not allowed\"}'; exit 1;;\n"
        << "  *usage*) echo 'coved pull: --store is required' >&2; exit 2;;\n"
        << "esac\n"
        << "echo '{\"ok\":true,\"image\":\"reg.test/app:v1\",\"digest\":\"sha256:abc\","
           "\"config\":{\"Cmd\":[\"sh\"]},\"layers\":1,\"bytes\":10}'\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  CovedImagePuller puller(namespaces_, script, temp_.Join("images"), "/ca.pem");
  PullRequest request;
  request.ns = netns_->name();
  request.etc_overlay = netns_->etc_overlay();
  request.image = "reg.test/app:v1";
  request.rootfs = temp_.Join("rootfs");
  request.credential = {{"username", "u"}, {"password", "pw-secret"}};
  auto pulled = puller.Pull(request);
  ASSERT_TRUE(pulled) << pulled.error().ToString();
  EXPECT_EQ(pulled->digest, "sha256:abc");
  EXPECT_EQ(pulled->config, json({{"Cmd", {"sh"}}}));
  std::ifstream in(record);
  const std::string seen((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(seen.find("args: pull --image reg.test/app:v1 --store " + temp_.Join("images") +
                      " --rootfs " + temp_.Join("rootfs") + " --ca /ca.pem"),
            std::string::npos)
      << seen;
  EXPECT_NE(seen.find("stdin: {\"password\":\"pw-secret\",\"username\":\"u\"}"), std::string::npos)
      << seen;
  EXPECT_NE(seen.find("nameserver 192.0.2.53"), std::string::npos) << seen;
  EXPECT_NE(seen.find("10.99.0.2"), std::string::npos) << seen;

  request.image = "reg.test/denied:v1";
  pulled = puller.Pull(request);
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().reason, "DENIED");
  EXPECT_EQ(pulled.error().message, "not allowed");
  EXPECT_EQ(pulled.error().http_status, 403);
  EXPECT_EQ(pulled.error().code, Code::kPermissionDenied);

  request.image = "usage";
  pulled = puller.Pull(request);
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().message, "coved pull exited 2: coved pull: --store is required");
}

}  // namespace
}  // namespace cove::daemon
