#include "node/kubelet.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"

namespace cove::node {

namespace {

// The last non-empty line of a tool's output (ctr ends its errors with "ctr: <why>").
std::string LastLine(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) last = line;
  }
  return last;
}

bool SameSpec(const PodSpec& a, const PodSpec& b) {
  return a.image == b.image && a.command == b.command && a.args == b.args && a.env == b.env;
}

}  // namespace

struct Kubelet::Pod {
  PodSpec spec;
  PodStatus status;
  bool stopping = false;
  pid_t run_pid = -1;  // the `ctr run` child while the container runs
  std::condition_variable cv;
  std::thread thread;
};

Kubelet::Kubelet(KubeletOptions options, const Containerd& containerd, CredentialSource credentials)
    : options_(std::move(options)), containerd_(containerd), credentials_(std::move(credentials)) {
  std::error_code ec;
  std::filesystem::create_directories(options_.log_dir, ec);
}

Kubelet::~Kubelet() { SetPods({}); }

void Kubelet::SetPods(std::vector<PodSpec> pods) {
  std::vector<std::unique_ptr<Pod>> stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = pods_.begin(); it != pods_.end();) {
      auto want = std::find_if(pods.begin(), pods.end(),
                               [&](const PodSpec& p) { return p.name == it->first; });
      if (want != pods.end() && SameSpec(*want, it->second->spec)) {
        ++it;
        continue;
      }
      it->second->stopping = true;
      it->second->cv.notify_all();
      stopped.push_back(std::move(it->second));
      it = pods_.erase(it);
    }
  }
  for (auto& pod : stopped) {
    Kill(pod.get());
    if (pod->thread.joinable()) pod->thread.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& spec : pods) {
    if (pods_.count(spec.name)) continue;
    auto pod = std::make_unique<Pod>();
    pod->spec = std::move(spec);
    pod->status.name = pod->spec.name;
    pod->status.image = pod->spec.image;
    Pod* raw = pod.get();
    pods_[raw->spec.name] = std::move(pod);
    raw->thread = std::thread([this, raw] { Run(raw); });
  }
}

std::vector<PodStatus> Kubelet::Pods() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PodStatus> out;
  for (const auto& [name, pod] : pods_) out.push_back(pod->status);
  return out;
}

void Kubelet::SetState(Pod* pod, const std::string& state, const std::string& message,
                       std::optional<int> exit_code) {
  std::lock_guard<std::mutex> lock(mu_);
  pod->status.state = state;
  pod->status.message = message;
  if (exit_code) pod->status.exit_code = exit_code;
}

bool Kubelet::Wait(Pod* pod, std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  return !pod->cv.wait_for(lock, delay, [pod] { return pod->stopping; });
}

Status Kubelet::Pull(Pod* pod) {
  const std::string& image = pod->spec.image;
  auto present = containerd_.Ctr({"image", "ls", "-q"}, std::chrono::seconds(30));
  if (present && present->exit_code == 0) {
    std::istringstream refs(present->out);
    std::string ref;
    while (std::getline(refs, ref)) {
      if (ref == image) return {};
    }
  }
  SetState(pod, "Pulling", "pulling image \"" + image + "\"");
  auto login = credentials_(image);
  if (!login) return Fail(Code::kPermissionDenied, login.error().message);
  std::vector<std::string> args = {"image", "pull"};
  if (!options_.ca_file.empty()) {
    args.push_back("--tlscacert");
    args.push_back(options_.ca_file);
  }
  if (!login->username.empty()) {
    args.push_back("--user");
    args.push_back(login->username + ":" + login->password);
  }
  args.push_back(image);
  auto pulled = containerd_.CtrInNode(args, options_.pull_timeout);
  if (!pulled) return tl::unexpected(pulled.error());
  if (pulled->timed_out) return Fail(Code::kUnavailable, "the pull took too long");
  if (pulled->exit_code != 0) {
    std::string why = LastLine(pulled->err);
    if (why.empty()) why = LastLine(pulled->out);
    return Fail(Code::kUnavailable, why);
  }
  return {};
}

void Kubelet::Run(Pod* pod) {
  const PodSpec& spec = pod->spec;
  auto backoff = options_.backoff_initial;
  const std::string log_path = options_.log_dir + "/" + spec.name + ".log";
  while (true) {
    if (Status pulled = Pull(pod); !pulled) {
      SetState(pod, "Failed",
               "Failed to pull image \"" + spec.image + "\": " + pulled.error().message);
      if (!Wait(pod, backoff)) return;
      backoff = std::min(backoff * 2, options_.backoff_max);
      continue;
    }
    std::vector<std::string> args = {"run", "--rm", "--net-host"};
    for (const auto& [k, v] : spec.env) {
      args.push_back("--env");
      args.push_back(k + "=" + v);
    }
    args.push_back(spec.image);
    args.push_back(spec.name);
    args.insert(args.end(), spec.command.begin(), spec.command.end());
    args.insert(args.end(), spec.args.begin(), spec.args.end());
    UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    const off_t log_start = ::lseek(log.get(), 0, SEEK_END);
    fabric::SpawnOptions spawn;
    spawn.etc_overlay = containerd_.options().etc_overlay;
    spawn.stdout_fd = log.get();
    spawn.stderr_fd = log.get();
    pid_t pid = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pod->stopping) return;
      auto started = containerd_.namespaces().Spawn(containerd_.options().ns,
                                                    containerd_.CtrArgv(args), spawn);
      if (!started) {
        pod->status.state = "Failed";
        pod->status.message = started.error().message;
      } else {
        pid = *started;
        pod->run_pid = pid;
        pod->status.state = "Pending";
        pod->status.message = "ContainerCreating";
      }
    }
    log.Reset();
    const auto began = std::chrono::steady_clock::now();
    int exit_code = 128;
    if (pid > 0) {
      const bool ran = WaitRun(pod, pid, &exit_code);
      std::string why;
      if (!ran && exit_code != 0) {
        // ctr's own error (the task was never created): this run's last line, "ctr: …".
        std::ifstream in(log_path);
        if (log_start > 0) in.seekg(log_start);
        std::stringstream text;
        text << in.rdbuf();
        why = LastLine(text.str());
        if (why.rfind("ctr: ", 0) != 0) why.clear();
      }
      std::lock_guard<std::mutex> lock(mu_);
      pod->run_pid = -1;
      pod->cv.notify_all();
      if (pod->stopping) return;
      pod->status.state = exit_code == 0 ? "Succeeded" : "Failed";
      pod->status.exit_code = exit_code;
      pod->status.message = exit_code == 0 ? "Completed" : why.empty() ? "Error" : why;
      ++pod->status.restart_count;
    }
    // A run that lasted long resets the backoff, as the kubelet's does after 10 minutes.
    if (std::chrono::steady_clock::now() - began > std::chrono::minutes(10)) {
      backoff = options_.backoff_initial;
    }
    if (!Wait(pod, backoff)) return;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

bool Kubelet::WaitRun(Pod* pod, pid_t pid, int* exit_code) {
  bool running = false;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, running ? 0 : WNOHANG);
    if (r == pid) {
      *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return running;
    }
    if (r < 0 && errno != EINTR) return running;
    if (running || r < 0) continue;
    // Running once containerd says the task is: `ctr task ls` lines are "ID PID STATUS".
    if (auto tasks = containerd_.Ctr({"task", "ls"}, std::chrono::seconds(10));
        tasks && tasks->exit_code == 0) {
      std::istringstream lines(tasks->out);
      std::string line;
      while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string id, task_pid, state;
        if (fields >> id >> task_pid >> state && id == pod->spec.name && state == "RUNNING") {
          running = true;
        }
      }
    }
    if (running) {
      SetState(pod, "Running", "");
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void Kubelet::Kill(Pod* pod) {
  // The worker may be between Spawn and waitpid: kill the task until the run is over.
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pod->run_pid <= 0) break;
    }
    (void)containerd_.Ctr({"task", "kill", "-s", "SIGKILL", pod->spec.name},
                          std::chrono::seconds(10));
    std::unique_lock<std::mutex> lock(mu_);
    if (pod->cv.wait_for(lock, std::chrono::milliseconds(200),
                         [pod] { return pod->run_pid <= 0; })) {
      break;
    }
  }
  // Never wait forever on a run containerd could not end: the worker must be joinable.
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pod->run_pid > 0) ::kill(pod->run_pid, SIGKILL);
  }
  (void)containerd_.Ctr({"container", "rm", pod->spec.name}, std::chrono::seconds(10));
}

}  // namespace cove::node
