#include "daemon/containers_plane.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/ascii.h"
#include "common/digest.h"
#include "common/unique_fd.h"
#include "runtime/bundle.h"
#include "runtime/naming.h"
#include "runtime/spawn.h"

namespace cove::daemon {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// The registry host of an image reference, as docker reads it: the first path component when
// it looks like a host (a dot, a port or "localhost"), docker.io otherwise.
std::string RegistryOf(const std::string& image) {
  const size_t slash = image.find('/');
  if (slash == std::string::npos) return "docker.io";
  const std::string first = image.substr(0, slash);
  if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
      first == "localhost") {
    return first;
  }
  return "docker.io";
}

// Contract 2's credential object for pulling `image` with the group's credentials.
json CredentialFor(const ContainerGroupPlan& plan, const std::string& image) {
  const std::string registry = RegistryOf(image);
  for (const RegistryCredentialPlan& credential : plan.credentials) {
    if (!EqualsIgnoreCase(credential.server, registry)) continue;
    if (!credential.identity_client_id.empty()) {
      return json{{"identity", credential.identity_client_id}};
    }
    return json{{"username", credential.username}, {"password", credential.password}};
  }
  return json::object();
}

std::string Fingerprint(const ContainerGroupPlan& plan) {
  json containers = json::array();
  for (const ContainerPlan& c : plan.containers) {
    containers.push_back({c.name, c.image, c.command, c.has_command, c.env, c.cpu, c.memory_gb,
                          c.memory_limit_gb ? json(*c.memory_limit_gb) : json()});
  }
  json credentials = json::array();
  for (const RegistryCredentialPlan& c : plan.credentials) {
    credentials.push_back({c.server, c.username, c.password, c.identity_client_id});
  }
  const json all = {plan.id,    plan.name,  plan.ns, plan.etc_overlay, plan.restart_policy,
                    containers, credentials};
  return Digest::Of(all.dump()).hex();
}

std::string Quoted(const std::string& image) { return "\"" + image + "\""; }

Code CodeOfRegistryError(const std::string& code) {
  if (code == "DENIED") return Code::kPermissionDenied;
  if (code == "UNAUTHORIZED") return Code::kUnauthenticated;
  if (code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN" || code == "BLOB_UNKNOWN") {
    return Code::kNotFound;
  }
  return Code::kUnavailable;
}

}  // namespace

CovedImagePuller::CovedImagePuller(fabric::Namespaces& namespaces, std::string coved_path,
                                   std::string store, std::string ca_file,
                                   std::chrono::milliseconds timeout)
    : namespaces_(namespaces),
      coved_path_(std::move(coved_path)),
      store_(std::move(store)),
      ca_file_(std::move(ca_file)),
      timeout_(timeout) {}

Result<PulledImage> CovedImagePuller::Pull(const PullRequest& request) {
  std::vector<std::string> argv = {coved_path_, "pull", "--image",  request.image,
                                   "--store",   store_, "--rootfs", request.rootfs};
  if (!ca_file_.empty()) {
    argv.push_back("--ca");
    argv.push_back(ca_file_);
  }
  UniqueFd pidfd;
  runtime::NamespaceRun run{.ns = request.ns,
                            .etc_overlay = request.etc_overlay,
                            .argv = argv,
                            // The credential goes on stdin, never argv.
                            .input = request.credential.dump(),
                            .timeout = timeout_,
                            .on_start = [&](pid_t pid) {
                              pidfd.Reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
                              if (!pidfd.valid()) return;
                              std::lock_guard<std::mutex> lock(mu_);
                              in_flight_.insert(pidfd.get());
                            }};
  auto ran = runtime::RunInNamespace(namespaces_, run);
  if (pidfd.valid()) {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.erase(pidfd.get());
  }
  if (!ran) return tl::unexpected(ran.error());
  runtime::ChildOutput& child = *ran;
  if (child.timed_out) {
    return Fail(Code::kUnavailable,
                "coved pull did not finish in " + std::to_string(timeout_.count()) + " ms");
  }
  const json answer = json::parse(child.out, nullptr, /*allow_exceptions=*/false);
  if (child.exit_code == 0 && answer.is_object() && answer.value("ok", false)) {
    PulledImage image;
    image.digest = answer.value("digest", "");
    if (answer.contains("config") && answer["config"].is_object()) image.config = answer["config"];
    return image;
  }
  if (child.exit_code == 1 && answer.is_object()) {
    Error error;
    error.reason = answer.value("code", "");
    error.code = CodeOfRegistryError(error.reason);
    error.message = answer.value("message", "");
    error.http_status = answer.value("status", 0);
    return Fail(std::move(error));
  }
  std::string err = child.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  return Fail(Code::kInternal, "coved pull exited " + std::to_string(child.exit_code) +
                                   (err.empty() ? "" : ": " + err));
}

void CovedImagePuller::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int pidfd : in_flight_) ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
}

struct ContainersPlane::Box {
  ContainerPlan plan;
  std::string runc_id;
  std::vector<runtime::Event> events;  // the plane's own (pulling); the supervisor has the rest
  runtime::ContainerState waiting;     // until it runs
  json image_config = json::object();
  bool added = false;            // handed to the supervisor
  bool failed_for_good = false;  // its pull failed under Never, or it could not be made
};

struct ContainersPlane::Group {
  std::string key;
  ContainerGroupPlan plan;
  std::string fingerprint;
  runtime::RestartPolicy policy = runtime::RestartPolicy::kAlways;
  std::vector<Box> boxes;
  std::string provisioning = "Creating";
  bool stopped = false;
  bool started = false;
  bool pull_failed = false;
  bool cancel = false;
  bool retry_now = false;
  bool torn_down = false;
  std::shared_ptr<Group> predecessor;  // the earlier plan of the same group, going away
  std::condition_variable cv;
  std::thread worker;
};

ContainersPlane::ContainersPlane(ContainersPlaneOptions options, fabric::Namespaces& namespaces,
                                 std::unique_ptr<ImagePuller> puller)
    : options_(std::move(options)),
      namespaces_(namespaces),
      puller_(std::move(puller)),
      supervisor_(runtime::SupervisorOptions{
          .prefix = options_.prefix,
          .runc_root = options_.runc_root,
          .runc = options_.runc,
          .backoff_initial = options_.backoff_initial,
          .backoff_max = options_.backoff_max,
          .stop_grace = options_.stop_grace,
          .clock = options_.clock,
      }) {
  if (!puller_) {
    puller_ = std::make_unique<CovedImagePuller>(namespaces_, options_.coved_path,
                                                 options_.state_dir + "/images", options_.ca_file);
  }
  if (!options_.state_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(options_.state_dir + "/containers", ec);
  }
}

ContainersPlane::~ContainersPlane() { Down(); }

Clock::TimePoint ContainersPlane::Now() const {
  return options_.clock != nullptr ? options_.clock->Now() : system_clock_.Now();
}

std::string ContainersPlane::ContainerDir(const Group& group, const std::string& container) const {
  return options_.state_dir + "/containers/" +
         runtime::ContainerId(options_.prefix, group.plan.id, container);
}

void ContainersPlane::Apply(std::vector<ContainerGroupPlan> groups) {
  JoinRetired(false);
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> wanted;
  for (ContainerGroupPlan& plan : groups) {
    const std::string key = AsciiLower(plan.id);
    if (!wanted.insert(key).second) continue;
    const std::string fingerprint = Fingerprint(plan);
    auto it = groups_.find(key);
    if (it != groups_.end() && it->second->fingerprint == fingerprint) continue;
    auto group = std::make_shared<Group>();
    group->key = key;
    group->fingerprint = fingerprint;
    group->policy =
        runtime::ParseRestartPolicy(plan.restart_policy).value_or(runtime::RestartPolicy::kAlways);
    for (const ContainerPlan& container : plan.containers) {
      Box box;
      box.plan = container;
      box.runc_id = runtime::ContainerId(options_.prefix, plan.id, container.name);
      group->boxes.push_back(std::move(box));
    }
    group->plan = std::move(plan);
    if (it != groups_.end()) {
      group->predecessor = it->second;
      Retire(it->second);
    } else {
      // Deleted and planned again: the earlier one may still be tearing down.
      auto before = std::find_if(retired_.rbegin(), retired_.rend(),
                                 [&](const auto& old) { return old->key == key; });
      if (before != retired_.rend() && !(*before)->torn_down) group->predecessor = *before;
    }
    groups_[key] = group;
    Group* raw = group.get();
    group->worker = std::thread([this, raw] { Work(raw); });
  }
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (wanted.count(it->first) != 0) {
      ++it;
      continue;
    }
    Retire(it->second);
    it = groups_.erase(it);
  }
}

void ContainersPlane::Retire(std::shared_ptr<Group> group) {
  group->cancel = true;
  group->cv.notify_all();
  retired_.push_back(std::move(group));
}

void ContainersPlane::JoinRetired(bool all) {
  std::vector<std::shared_ptr<Group>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (all || (*it)->torn_down) {
        done.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& group : done) {
    if (group->worker.joinable()) group->worker.join();
  }
}

void ContainersPlane::Down() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, group] : groups_) Retire(group);
    groups_.clear();
  }
  puller_->CancelAll();
  JoinRetired(true);
}

void ContainersPlane::Work(Group* group) {
  std::unique_lock<std::mutex> lock(mu_);
  if (group->predecessor) {
    // Both incarnations use the same runc ids and directories: the old one goes first.
    Group* before = group->predecessor.get();
    torn_down_.wait(lock, [&] { return before->torn_down; });
    group->predecessor.reset();
  }
  if (Provision(group, lock)) group->cv.wait(lock, [&] { return group->cancel; });
  TearDown(group, lock);
  group->torn_down = true;
  torn_down_.notify_all();
}

bool ContainersPlane::Pause(Group* group, std::unique_lock<std::mutex>& lock,
                            SteadyClock::time_point deadline) {
  group->cv.wait_until(lock, deadline, [&] { return group->cancel || group->retry_now; });
  return !group->cancel;
}

bool ContainersPlane::Provision(Group* group, std::unique_lock<std::mutex>& lock) {
  for (Box& box : group->boxes) {
    if (!PullOne(group, box, lock)) return false;
  }
  group->cv.wait(lock, [&] { return group->cancel || !group->stopped; });
  if (group->cancel) return false;
  StartContainers(group, lock);
  return true;
}

bool ContainersPlane::PullOne(Group* group, Box& box, std::unique_lock<std::mutex>& lock) {
  const std::string image = box.plan.image;
  auto backoff = options_.backoff_initial;
  for (;;) {
    if (group->cancel) return false;
    group->retry_now = false;
    RecordEvent(box.events, Now(), "Pulling", "Normal", "pulling image " + Quoted(image));
    box.waiting = runtime::ContainerState{"Waiting", {}, {}, {}, "ContainerCreating"};
    PullRequest request;
    request.ns = group->plan.ns;
    request.etc_overlay = group->plan.etc_overlay;
    request.image = image;
    const std::string dir = ContainerDir(*group, box.plan.name);
    request.rootfs = dir + "/rootfs";
    request.credential = CredentialFor(group->plan, image);
    lock.unlock();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir, ec);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    Result<PulledImage> pulled = puller_->Pull(request);
    lock.lock();
    if (group->cancel) return false;
    if (pulled) {
      RecordEvent(box.events, Now(), "Pulled", "Normal",
                  "Successfully pulled image " + Quoted(image));
      box.image_config = std::move(pulled->config);
      return true;
    }
    const Error& error = pulled.error();
    RecordEvent(box.events, Now(), "Failed", "Warning",
                "Failed to pull image " + Quoted(image) + ": " +
                    (error.reason.empty() ? "" : error.reason + ": ") + error.message);
    box.waiting = runtime::ContainerState{"Waiting", {}, {}, {}, "ErrImagePull"};
    if (group->policy == runtime::RestartPolicy::kNever) {
      // ACI gives up; a restart of the group tries again.
      group->pull_failed = true;
      group->provisioning = "Failed";
      box.failed_for_good = true;
      group->cv.wait(lock, [&] { return group->cancel || group->retry_now; });
      if (group->cancel) return false;
      group->pull_failed = false;
      group->provisioning = "Creating";
      box.failed_for_good = false;
      continue;
    }
    RecordEvent(box.events, Now(), "BackOff", "Normal", "Back-off pulling image " + Quoted(image));
    if (!Pause(group, lock, SteadyClock::now() + backoff)) return false;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

void ContainersPlane::StartContainers(Group* group, std::unique_lock<std::mutex>& lock) {
  // Only this worker changes the boxes' plans and image configs: they are read unlocked.
  struct Outcome {
    bool added = false;
    std::string error;
  };
  std::vector<Outcome> outcomes(group->boxes.size());
  lock.unlock();
  for (size_t i = 0; i < group->boxes.size(); ++i) {
    const Box& box = group->boxes[i];
    const std::string dir = ContainerDir(*group, box.plan.name);
    runtime::Bundle bundle(dir);
    runtime::BundleSpec spec;
    spec.hostname = group->plan.name;
    spec.network_namespace_path = namespaces_.PathOf(group->plan.ns);
    spec.etc_overlay = group->plan.etc_overlay;
    spec.command = box.plan.command;
    spec.has_command = box.plan.has_command;
    spec.env = box.plan.env;
    spec.memory_limit_bytes =
        runtime::GigabytesToBytes(box.plan.memory_limit_gb.value_or(box.plan.memory_gb));
    auto config = bundle.RuntimeSpec(box.image_config, spec);
    Status made = config ? bundle.WriteConfig(*config) : Status(Fail(config.error()));
    if (made) {
      made = supervisor_.Add(runtime::ContainerRun{box.runc_id, dir, dir + "/log", group->policy});
    }
    outcomes[i] = made ? Outcome{true, ""} : Outcome{false, made.error().message};
  }
  lock.lock();
  for (size_t i = 0; i < group->boxes.size(); ++i) {
    Box& box = group->boxes[i];
    box.added = outcomes[i].added;
    if (!box.added) {
      RecordEvent(box.events, Now(), "Failed", "Warning", "Error: " + outcomes[i].error);
      box.failed_for_good = true;
      box.waiting = runtime::ContainerState{"Waiting", {}, {}, {}, "CreateContainerConfigError"};
    } else if (group->stopped) {
      (void)supervisor_.Stop(box.runc_id);
    }
  }
  group->provisioning = "Succeeded";
  group->started = true;
}

void ContainersPlane::TearDown(Group* group, std::unique_lock<std::mutex>& lock) {
  std::vector<std::string> ids;
  std::vector<std::string> dirs;
  for (Box& box : group->boxes) {
    if (box.added) ids.push_back(box.runc_id);
    box.added = false;
    dirs.push_back(ContainerDir(*group, box.plan.name));
  }
  lock.unlock();
  for (const std::string& id : ids) (void)supervisor_.Stop(id);  // all at once
  for (const std::string& id : ids) (void)supervisor_.Remove(id);
  for (const std::string& dir : dirs) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  lock.lock();
}

std::optional<nlohmann::json> ContainersPlane::InstanceView(const std::string& group_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(AsciiLower(group_id));
  if (it == groups_.end()) return std::nullopt;
  const Group& group = *it->second;
  json containers = json::object();
  bool all_done = true;
  bool any_failed = false;
  for (const Box& box : group.boxes) {
    runtime::ContainerView view;
    std::optional<runtime::ContainerView> running;
    if (box.added) running = supervisor_.View(box.runc_id);
    if (running) {
      view = std::move(*running);
      view.events.insert(view.events.begin(), box.events.begin(), box.events.end());
      all_done = all_done && view.done;
      any_failed = any_failed || (view.done && view.current.exit_code.value_or(0) != 0);
    } else {
      view.current = box.waiting;
      view.events = box.events;
      all_done = all_done && box.failed_for_good;
      any_failed = any_failed || box.failed_for_good;
    }
    containers[box.plan.name] = runtime::ContainerViewJson(view);
  }
  std::string state;
  if (group.stopped) {
    state = "Stopped";
  } else if (!group.started) {
    state = group.pull_failed ? "Failed" : "Pending";
  } else if (!all_done) {
    state = "Running";
  } else {
    state = any_failed ? "Failed" : "Succeeded";
  }
  return json{{"provisioningState", group.provisioning},
              {"state", state},
              {"events", json::array()},
              {"containers", std::move(containers)}};
}

Status ContainersPlane::Act(const std::string& group_id, const std::string& action) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(AsciiLower(group_id));
  if (it == groups_.end()) return Fail(Code::kNotFound, "no container group " + group_id);
  Group& group = *it->second;
  if (action != "stop" && action != "start" && action != "restart") {
    return Fail(Code::kInvalidArgument, "unknown action '" + action + "'");
  }
  group.stopped = action == "stop";
  if (action == "restart") group.retry_now = true;
  for (const Box& box : group.boxes) {
    if (!box.added) continue;
    if (action == "stop") {
      (void)supervisor_.Stop(box.runc_id);
    } else if (action == "start") {
      (void)supervisor_.Start(box.runc_id);
    } else {
      (void)supervisor_.Restart(box.runc_id);
    }
  }
  group.cv.notify_all();
  return Ok();
}

Result<std::string> ContainersPlane::Logs(const std::string& group_id, const std::string& container,
                                          std::optional<int> tail) const {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(AsciiLower(group_id));
    if (it == groups_.end()) return Fail(Code::kNotFound, "no container group " + group_id);
    const auto& boxes = it->second->boxes;
    auto box = std::find_if(boxes.begin(), boxes.end(),
                            [&](const Box& b) { return b.plan.name == container; });
    if (box == boxes.end()) {
      return Fail(Code::kNotFound, "no container " + container + " in " + group_id);
    }
    if (!box->added) return std::string();
    id = box->runc_id;
  }
  auto logs = supervisor_.Logs(id, tail);
  if (!logs && logs.error().code == Code::kNotFound) return std::string();  // just removed
  return logs;
}

}  // namespace cove::daemon
