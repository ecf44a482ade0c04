#include "node/containerd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"
#include "runtime/spawn.h"

namespace cove::node {

namespace fs = std::filesystem;

namespace {

// The last `n` lines of a file, for error messages.
std::string Tail(const std::string& path, int n) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > n) lines.erase(lines.begin());
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Waits for `pid` to exit for at most `timeout`; true when it did (and was reaped).
bool WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

Result<std::unique_ptr<Containerd>> Containerd::Start(fabric::Namespaces& namespaces,
                                                      ContainerdOptions options) {
  std::error_code ec;
  fs::create_directories(options.root_dir, ec);
  fs::create_directories(options.run_dir + "/state", ec);
  if (ec) return Fail(Code::kIOError, "cannot make " + options.run_dir + ": " + ec.message());
  std::unique_ptr<Containerd> c(new Containerd(namespaces, options));
  c->socket_ = options.run_dir + "/containerd.sock";
  const std::string config = options.run_dir + "/config.toml";
  {
    std::ofstream out(config, std::ios::trunc);
    out << "version = 2\n"
        << "root = \"" << options.root_dir << "\"\n"
        << "state = \"" << options.run_dir << "/state\"\n"
        << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
        << "[grpc]\n  address = \"" << c->socket_ << "\"\n"
        << "[ttrpc]\n  address = \"" << options.run_dir << "/containerd-ttrpc.sock\"\n"
        << "[debug]\n  address = \"\"\n"
        << "[metrics]\n  address = \"\"\n";
    if (!out) return Fail(Code::kIOError, "cannot write " + config);
  }
  const std::string log = options.run_dir + "/containerd.log";
  UniqueFd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log_fd.valid()) return Fail(Code::kIOError, "cannot open " + log);
  fabric::SpawnOptions spawn;
  spawn.etc_overlay = options.etc_overlay;
  spawn.keep_sys = true;  // runc, under containerd's shims, needs the cgroup mounts
  spawn.stdout_fd = log_fd.get();
  spawn.stderr_fd = log_fd.get();
  COVE_ASSIGN_OR_RETURN(c->pid_, namespaces.Spawn(options.ns,
                                                  {options.containerd, "--config", config}, spawn));
  const auto deadline = std::chrono::steady_clock::now() + options.start_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto version = c->Ctr({"version"}, std::chrono::seconds(5));
    if (version && version->exit_code == 0) return c;
    int status = 0;
    if (::waitpid(c->pid_, &status, WNOHANG) == c->pid_) {
      c->pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string why = Tail(log, 5);
  c->Stop();
  return Fail(Code::kUnavailable,
              "containerd did not start in namespace " + options.ns + ": " + why);
}

Containerd::~Containerd() { Stop(); }

std::vector<std::string> Containerd::CtrArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {options_.ctr, "-a", socket_, "-n", kK8sNamespace};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Result<runtime::ChildOutput> Containerd::Ctr(const std::vector<std::string>& args,
                                             std::chrono::milliseconds timeout) const {
  return runtime::RunHere(CtrArgv(args), timeout);
}

Result<runtime::ChildOutput> Containerd::CtrInNode(const std::vector<std::string>& args,
                                                   std::chrono::milliseconds timeout,
                                                   const std::string& input) const {
  return runtime::RunInNamespace(namespaces_, {.ns = options_.ns,
                                               .etc_overlay = options_.etc_overlay,
                                               .argv = CtrArgv(args),
                                               .input = input,
                                               .timeout = timeout});
}

void Containerd::Stop() {
  if (pid_ > 0) {
    // Tasks first: their shims would outlive containerd.
    if (auto tasks = Ctr({"task", "ls", "-q"}, std::chrono::seconds(10));
        tasks && tasks->exit_code == 0) {
      std::istringstream ids(tasks->out);
      std::string id;
      while (std::getline(ids, id)) {
        if (id.empty()) continue;
        (void)Ctr({"task", "kill", "-s", "SIGKILL", id}, std::chrono::seconds(10));
        (void)Ctr({"task", "delete", "-f", id}, std::chrono::seconds(10));
      }
    }
    if (auto containers = Ctr({"container", "ls", "-q"}, std::chrono::seconds(10));
        containers && containers->exit_code == 0) {
      std::istringstream ids(containers->out);
      std::string id;
      while (std::getline(ids, id)) {
        if (!id.empty()) (void)Ctr({"container", "rm", id}, std::chrono::seconds(10));
      }
    }
    ::kill(pid_, SIGTERM);
    if (!WaitExit(pid_, std::chrono::seconds(10))) {
      ::kill(pid_, SIGKILL);
      WaitExit(pid_, std::chrono::seconds(5));
    }
    pid_ = -1;
  }
  std::error_code ec;
  if (!options_.run_dir.empty()) fs::remove_all(options_.run_dir, ec);
  if (!options_.root_dir.empty()) fs::remove_all(options_.root_dir, ec);
}

}  // namespace cove::node
