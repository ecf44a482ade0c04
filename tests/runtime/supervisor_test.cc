// The Supervisor with real runc (needs root, runc and /bin/busybox; skips otherwise): busybox
// containers in a test network namespace, their output, exit codes, restart policies, stop and
// start, exec inside the container, runc's own failures, and stale containers of an earlier
// run. Everything a test makes (namespace, /etc/netns dir, runc root, bundles) is removed at the
// end, pass or fail. Also the Bundle's runtime spec, which needs nothing.
#include "runtime/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/bundle.h"
#include "runtime/naming.h"
#include "support/busybox.h"
#include "support/temp_dir.h"

namespace cove::runtime {
namespace {

using nlohmann::json;
using testing::Eventually;

TEST(BundleTest, CommandReplacesEntrypointAndCmdAndEnvOverrides) {
  cove::testing::TempDir dir;
  ASSERT_TRUE(cove::testing::MakeBusyboxRootfs(dir.Join("rootfs")));
  Bundle bundle(dir.path());
  const json image = {{"Entrypoint", {"/bin/sh", "-c"}},
                      {"Cmd", {"echo hi"}},
                      {"Env", {"PATH=/bin", "A=image", "B=image"}},
                      {"WorkingDir", "/srv"},
                      {"User", "app"}};
  BundleSpec spec;
  spec.hostname = "grp";
  spec.network_namespace_path = "/run/netns/x";
  spec.etc_overlay = dir.path();  // no resolv.conf/hosts there: no bind mounts
  spec.env = {{"B", "group"}, {"C", "group"}};
  spec.memory_limit_bytes = GigabytesToBytes(0.5);
  auto config = bundle.RuntimeSpec(image, spec);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ((*config)["process"]["args"], json({"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ((*config)["process"]["env"], json({"PATH=/bin", "A=image", "B=group", "C=group"}));
  EXPECT_EQ((*config)["process"]["cwd"], "/srv");
  EXPECT_EQ((*config)["process"]["user"], json({{"uid", 1000}, {"gid", 1000}}));
  EXPECT_EQ((*config)["process"]["noNewPrivileges"], true);
  EXPECT_EQ((*config)["process"]["capabilities"]["bounding"],
            json({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}));
  EXPECT_EQ((*config)["hostname"], "grp");
  EXPECT_EQ((*config)["root"]["readonly"], false);
  EXPECT_EQ((*config)["linux"]["namespaces"][1],
            json({{"type", "network"}, {"path", "/run/netns/x"}}));
  EXPECT_EQ((*config)["linux"]["resources"]["memory"]["limit"], 512u << 20);

  spec.has_command = true;
  spec.command = {"/bin/echo", "replaced"};
  config = bundle.RuntimeSpec(image, spec);
  ASSERT_TRUE(config);
  EXPECT_EQ((*config)["process"]["args"], json({"/bin/echo", "replaced"}));

  // An empty command list still replaces both: nothing to run.
  spec.command.clear();
  EXPECT_EQ(bundle.RuntimeSpec(image, spec).error().code, Code::kInvalidArgument);
  spec.has_command = false;
  EXPECT_EQ(bundle.RuntimeSpec(json::object(), spec).error().code, Code::kInvalidArgument);
  EXPECT_EQ(bundle.RuntimeSpec({{"Cmd", {"x"}}, {"User", "nobody"}}, spec).error().code,
            Code::kInvalidArgument);
  auto no_env = bundle.RuntimeSpec({{"Cmd", {"x"}}, {"User", "7:8"}}, BundleSpec{});
  ASSERT_TRUE(no_env);
  EXPECT_EQ((*no_env)["process"]["env"][0].get<std::string>().rfind("PATH=", 0), 0u);
  EXPECT_EQ((*no_env)["process"]["user"], json({{"uid", 7}, {"gid", 8}}));
  EXPECT_FALSE((*no_env)["linux"]["resources"].contains("memory"));
}

TEST(EventTest, SameNameAndMessageCountsAgain) {
  std::vector<Event> events;
  const Clock::TimePoint t0(std::chrono::seconds(1'700'000'000));
  RecordEvent(events, t0, "BackOff", "Warning", "Back-off");
  RecordEvent(events, t0 + std::chrono::seconds(5), "BackOff", "Warning", "Back-off");
  RecordEvent(events, t0, "Started", "Normal", "Started container");
  ASSERT_EQ(events.size(), 2u);
  const json first = EventJson(events[0]);
  EXPECT_EQ(first["count"], 2);
  EXPECT_EQ(first["firstTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(first["lastTimestamp"], "2023-11-14T22:13:25Z");
  EXPECT_EQ(first["type"], "Warning");
}

class SupervisorTest : public cove::testing::ContainerFixture {
 protected:
  void SetUp() override {
    ContainerFixture::SetUp();
    if (NotReady()) return;
    supervisor_ = std::make_unique<Supervisor>(Options());
  }
  void TearDown() override {
    supervisor_.reset();
    ContainerFixture::TearDown();
  }

  SupervisorOptions Options() const {
    SupervisorOptions options;
    options.prefix = prefix_;
    options.backoff_initial = std::chrono::milliseconds(50);
    options.backoff_max = std::chrono::milliseconds(200);
    options.stop_grace = std::chrono::milliseconds(300);
    return options;
  }

  // A bundle with a busybox root running `command` in the test namespace; its id.
  std::string Make(const std::string& name, std::vector<std::string> command, RestartPolicy policy,
                   std::vector<std::pair<std::string, std::string>> env = {}, bool add = true) {
    const std::string dir = temp_.Join(name);
    EXPECT_TRUE(cove::testing::MakeBusyboxRootfs(dir + "/rootfs"));
    Bundle bundle(dir);
    BundleSpec spec;
    spec.hostname = "mygroup";
    spec.network_namespace_path = netns_->path();
    spec.etc_overlay = netns_->etc_overlay();
    spec.has_command = true;
    spec.command = std::move(command);
    spec.env = std::move(env);
    spec.memory_limit_bytes = GigabytesToBytes(0.25);
    auto config = bundle.RuntimeSpec({{"Env", {"PATH=/bin", "FROM_IMAGE=yes"}}}, spec);
    EXPECT_TRUE(config) << config.error().ToString();
    EXPECT_TRUE(bundle.WriteConfig(*config));
    const std::string id = ContainerId(prefix_, "/subscriptions/s/containerGroups/mygroup", name);
    if (add) {
      auto added = supervisor_->Add(ContainerRun{id, dir, dir + "/log", policy});
      EXPECT_TRUE(added) << added.error().ToString();
    }
    return id;
  }

  ContainerView ViewOf(const std::string& id) {
    auto view = supervisor_->View(id);
    EXPECT_TRUE(view.has_value());
    return view.value_or(ContainerView{});
  }
  bool StateIs(const std::string& id, const std::string& state) {
    return ViewOf(id).current.state == state;
  }
  std::string LogsOf(const std::string& id) {
    return supervisor_->Logs(id, std::nullopt).value_or("");
  }
  bool HasEvent(const std::string& id, const std::string& name, const std::string& text = "") {
    for (const Event& event : ViewOf(id).events) {
      if (event.name == name && event.message.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // Runs `argv` in the container; its stdout.
  std::string ExecOut(const std::string& id, const std::vector<std::string>& argv) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    auto code = supervisor_->Exec(id, argv, ExecIo{-1, fds[1], fds[1]});
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    EXPECT_TRUE(code) << code.error().ToString();
    return out;
  }

  std::unique_ptr<Supervisor> supervisor_;
};

TEST_F(SupervisorTest, OutputExitCodeAndEnvironment) {
  const std::string id =
      Make("once", {"/bin/sh", "-c", "echo out $GREETING $FROM_IMAGE; echo err >&2; exit 3"},
           RestartPolicy::kNever, {{"GREETING", "hello"}});
  ASSERT_TRUE(Eventually([&] { return StateIs(id, "Terminated"); }));
  const ContainerView view = ViewOf(id);
  EXPECT_EQ(view.current.exit_code, 3);
  EXPECT_EQ(view.current.detail_status, "Error");
  EXPECT_TRUE(view.current.start_time && view.current.finish_time);
  EXPECT_EQ(view.restart_count, 0);
  EXPECT_TRUE(view.done);
  EXPECT_TRUE(HasEvent(id, "Created"));
  EXPECT_TRUE(HasEvent(id, "Started"));
  // runc copies the two streams through a pipe each: their lines may interleave either way.
  const std::string logs = LogsOf(id);
  EXPECT_TRUE(logs == "out hello yes\nerr\n" || logs == "err\nout hello yes\n") << logs;
  const std::string last = supervisor_->Logs(id, 1).value_or("");
  EXPECT_TRUE(last == "err\n" || last == "out hello yes\n") << last;
  const json rendered = ContainerViewJson(view);
  EXPECT_EQ(rendered["currentState"]["exitCode"], 3);
  EXPECT_EQ(rendered["currentState"]["state"], "Terminated");
  EXPECT_TRUE(rendered["events"].is_array());
}

TEST_F(SupervisorTest, OnFailureRestartsAndCounts) {
  const std::string id =
      Make("flaky", {"/bin/sh", "-c", "echo attempt; exit 2"}, RestartPolicy::kOnFailure);
  ASSERT_TRUE(Eventually([&] { return ViewOf(id).restart_count >= 2; }));
  EXPECT_TRUE(HasEvent(id, "BackOff"));
  ASSERT_TRUE(Eventually([&] {
    const ContainerView view = ViewOf(id);
    return view.previous && view.previous->exit_code == 2;
  }));
  const std::string logs = LogsOf(id);
  size_t attempts = 0;
  for (size_t pos = 0; (pos = logs.find("attempt", pos)) != std::string::npos; ++pos) ++attempts;
  EXPECT_GE(attempts, 2u);
  // Stop ends the restarts.
  ASSERT_TRUE(supervisor_->Stop(id));
  ASSERT_TRUE(Eventually([&] { return ViewOf(id).done; }));
  const int count = ViewOf(id).restart_count;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // longer than the backoff
  EXPECT_EQ(ViewOf(id).restart_count, count);
}

TEST_F(SupervisorTest, OnFailureDoesNotRestartSuccessAlwaysDoes) {
  const std::string ok = Make("ok", {"/bin/true"}, RestartPolicy::kOnFailure);
  const std::string always = Make("always", {"/bin/true"}, RestartPolicy::kAlways);
  ASSERT_TRUE(Eventually([&] { return ViewOf(always).restart_count >= 2; }));
  ASSERT_TRUE(Eventually([&] { return ViewOf(ok).done; }));
  EXPECT_EQ(ViewOf(ok).current.state, "Terminated");
  EXPECT_EQ(ViewOf(ok).current.exit_code, 0);
  EXPECT_EQ(ViewOf(ok).current.detail_status, "Completed");
  EXPECT_EQ(ViewOf(ok).restart_count, 0);
}

TEST_F(SupervisorTest, ExecStopStartAndTheNamespace) {
  const std::string id = Make("app", {"/bin/sh", "-c", "echo up; exec sleep 3600"},
                              RestartPolicy::kAlways, {{"SECRET", "s3cret"}});
  ASSERT_TRUE(Eventually([&] { return LogsOf(id).find("up") != std::string::npos; }));
  ASSERT_TRUE(Eventually([&] { return StateIs(id, "Running"); }));
  EXPECT_EQ(ExecOut(id, {"hostname"}), "mygroup\n");
  EXPECT_EQ(ExecOut(id, {"cat", "/proc/1/cmdline"}), std::string("sleep\0"
                                                                 "3600\0",
                                                                 11));
  EXPECT_NE(ExecOut(id, {"env"}).find("SECRET=s3cret"), std::string::npos);
  EXPECT_NE(ExecOut(id, {"ip", "-4", "addr"}).find("10.99.0.2"), std::string::npos);
  EXPECT_EQ(ExecOut(id, {"cat", "/etc/resolv.conf"}), "nameserver 192.0.2.53\n");
  EXPECT_NE(ExecOut(id, {"cat", "/etc/hosts"}).find("peer.test"), std::string::npos);
  EXPECT_EQ(supervisor_->Exec(id, {"sh", "-c", "exit 5"}, ExecIo{}).value_or(-1), 5);

  ASSERT_TRUE(supervisor_->Stop(id));  // sleep as pid 1 ignores TERM: killed after the grace
  ASSERT_TRUE(Eventually([&] { return StateIs(id, "Terminated"); }));
  EXPECT_TRUE(HasEvent(id, "Killing"));
  EXPECT_TRUE(ViewOf(id).stopped);
  EXPECT_EQ(supervisor_->Exec(id, {"true"}, ExecIo{}).error().code, Code::kFailedPrecondition);

  ASSERT_TRUE(supervisor_->Start(id));
  ASSERT_TRUE(Eventually([&] { return StateIs(id, "Running"); }));
  EXPECT_EQ(ViewOf(id).previous->state, "Terminated");
  EXPECT_EQ(ViewOf(id).restart_count, 0);
  ASSERT_TRUE(
      Eventually([&] { return supervisor_->Exec(id, {"true"}, ExecIo{}).value_or(-1) == 0; }));

  ASSERT_TRUE(supervisor_->Remove(id));
  EXPECT_FALSE(supervisor_->View(id).has_value());
  EXPECT_NE(std::system(
                ("runc --root " + RuncRoot(prefix_) + " state " + id + " >/dev/null 2>&1").c_str()),
            0);
}

TEST_F(SupervisorTest, RestartRunsAgainAtOnce) {
  const std::string id =
      Make("app", {"/bin/sh", "-c", "echo run; exec sleep 3600"}, RestartPolicy::kNever);
  ASSERT_TRUE(Eventually([&] { return LogsOf(id).find("run") != std::string::npos; }));
  ASSERT_TRUE(supervisor_->Restart(id));
  ASSERT_TRUE(Eventually([&] {
    const ContainerView view = ViewOf(id);
    return view.current.state == "Running" && view.previous && view.previous->state == "Terminated";
  }));
  ASSERT_TRUE(Eventually([&] { return LogsOf(id) == "run\nrun\n"; }));
}

TEST_F(SupervisorTest, CommandNotInTheImageIsRuncsFailure) {
  const std::string id = Make("nocmd", {"nope"}, RestartPolicy::kNever);
  ASSERT_TRUE(Eventually([&] { return ViewOf(id).done; }));
  EXPECT_TRUE(HasEvent(id, "Failed", "exec: \"nope\": executable file not found in $PATH"));
  EXPECT_TRUE(HasEvent(id, "Created"));
  EXPECT_FALSE(HasEvent(id, "Started"));
  const ContainerView view = ViewOf(id);
  EXPECT_EQ(view.current.state, "Terminated");
  EXPECT_EQ(view.current.exit_code, 127);
  EXPECT_EQ(view.current.detail_status, "ContainerCannotRun");
}

TEST_F(SupervisorTest, LogsAreCapped) {
  supervisor_.reset();
  SupervisorOptions options = Options();
  options.log_cap_bytes = 64 << 10;
  supervisor_ = std::make_unique<Supervisor>(options);
  // ~400 KiB of output.
  const std::string id = Make("chatty",
                              {"/bin/sh", "-c",
                               "i=0; while [ $i -lt 4000 ]; do echo line-$i-"
                               "0123456789012345678901234567890123456789012345678901234567890123456"
                               "789012345678901234567890123; i=$((i+1)); done"},
                              RestartPolicy::kNever);
  ASSERT_TRUE(Eventually([&] { return ViewOf(id).done; }));
  const std::string logs = LogsOf(id);
  EXPECT_LE(logs.size(), 64u << 10);
  EXPECT_GT(logs.size(), 16u << 10);
  EXPECT_NE(logs.find("line-3999-"), std::string::npos);
  EXPECT_EQ(supervisor_->Logs(id, 2).value_or("").find("line-3998-"), 0u);
}

TEST_F(SupervisorTest, AContainerWritingWithoutPauseStops) {
  const std::string id =
      Make("spam", {"/bin/sh", "-c", "while true; do echo spam; done"}, RestartPolicy::kAlways);
  ASSERT_TRUE(Eventually([&] { return StateIs(id, "Running"); }));
  ASSERT_TRUE(supervisor_->Stop(id));
  ASSERT_TRUE(Eventually([&] { return StateIs(id, "Terminated"); }));
  EXPECT_EQ(ViewOf(id).current.exit_code, 128 + SIGKILL);  // sh as pid 1 ignores TERM
  ASSERT_TRUE(supervisor_->Remove(id));
}

TEST_F(SupervisorTest, StaleContainersOfThePrefixAreDeleted) {
  const std::string id = Make("stale", {"/bin/sleep", "3600"}, RestartPolicy::kNever, {}, false);
  const std::string root = RuncRoot(prefix_);
  ASSERT_EQ(std::system(("runc --root " + root + " run -d --bundle " + temp_.Join("stale") + " " +
                         id + " </dev/null >/dev/null 2>&1")
                            .c_str()),
            0);
  ASSERT_EQ(std::system(("runc --root " + root + " state " + id + " >/dev/null 2>&1").c_str()), 0);
  supervisor_ = std::make_unique<Supervisor>(Options());  // a restarted coved
  EXPECT_NE(std::system(("runc --root " + root + " state " + id + " >/dev/null 2>&1").c_str()), 0);
  EXPECT_TRUE(supervisor_->Ids().empty());
}

TEST_F(SupervisorTest, UnknownIdsAndForeignPrefix) {
  EXPECT_EQ(supervisor_->Stop("nope").error().code, Code::kNotFound);
  EXPECT_EQ(supervisor_->Logs("nope", std::nullopt).error().code, Code::kNotFound);
  EXPECT_EQ(supervisor_->Add(ContainerRun{"other-x", temp_.path(), temp_.Join("log")}).error().code,
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace cove::runtime
