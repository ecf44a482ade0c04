#include "runtime/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/ascii.h"
#include "common/unique_fd.h"
#include "runtime/naming.h"

namespace cove::runtime {
namespace {

using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;

constexpr size_t kMaxEvents = 100;
constexpr std::chrono::milliseconds kTick{100};
constexpr std::chrono::milliseconds kStartTick{20};
constexpr std::chrono::seconds kToolTimeout{30};

// Forks and execs `argv` with `fds` as 0, 1, 2 (-1: /dev/null). Only async-signal-safe calls
// run in the child: coved is multi-threaded.
Result<pid_t> SpawnProcess(const std::vector<std::string>& argv, const int (&fds)[3]) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return Fail(Code::kIOError, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    int moved[3];
    for (int i = 0; i < 3; ++i) {
      moved[i] = fds[i] >= 0 ? ::fcntl(fds[i], F_DUPFD, 10)
                             : ::open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
      if (moved[i] < 0) ::_exit(127);
    }
    for (int i = 0; i < 3; ++i) {
      if (::dup2(moved[i], i) < 0) ::_exit(127);
    }
    ::close_range(3, ~0U, 0);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for the child `pid` (that one only) and returns its exit code, 128 + signal when killed.
int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The exit code (as Reap) when the child `pid` has exited, nullopt while it runs.
std::optional<int> TryReap(pid_t pid) {
  int status = 0;
  pid_t got;
  while ((got = ::waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (got == 0) return std::nullopt;
  if (got < 0) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

UniqueFd PidFd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

struct Captured {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (host namespaces) and collects its output, at most kToolTimeout.
Captured RunCapture(const std::vector<std::string>& argv) {
  Captured result;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  const int fds[3] = {-1, out_write.get(), err_write.get()};
  auto pid = SpawnProcess(argv, fds);
  if (!pid) {
    result.err = pid.error().message;
    return result;
  }
  out_write.Reset();
  err_write.Reset();
  ChildOutput child = CollectChild(*pid, std::move(out_read), std::move(err_read), kToolTimeout);
  return Captured{child.exit_code, std::move(child.out), std::move(child.err)};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The last error runc wrote to its json log ("" when it wrote none).
std::string RuncError(const std::string& log_path) {
  std::ifstream in(log_path);
  std::string line;
  std::string error;
  while (std::getline(in, line)) {
    json entry = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!entry.is_object()) continue;
    const std::string level = entry.value("level", "");
    if ((level == "error" || level == "fatal") && entry.contains("msg") &&
        entry["msg"].is_string()) {
      error = entry["msg"].get<std::string>();
    }
  }
  return error;
}

int CannotRunExitCode(const std::string& runc_error) {
  if (runc_error.find("not found") != std::string::npos ||
      runc_error.find("no such file or directory") != std::string::npos) {
    return 127;
  }
  if (runc_error.find("permission denied") != std::string::npos) return 126;
  return 128;
}

// The last `tail` lines of `text` (a final newline ends the last line; it starts none).
std::string LastLines(const std::string& text, int tail) {
  if (tail <= 0) return "";
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < tail; ++n) {
    if (pos == 0) return text;
    const size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (n + 1 == tail) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

}  // namespace

ChildOutput CollectChild(pid_t pid, UniqueFd out, UniqueFd err, std::chrono::milliseconds timeout) {
  ChildOutput result;
  const auto deadline = SteadyClock::now() + timeout;
  UniqueFd* sources[2] = {&out, &err};
  std::string* sinks[2] = {&result.out, &result.err};
  while (out.valid() || err.valid()) {
    pollfd polls[2];
    int which[2];
    int n = 0;
    for (int i = 0; i < 2; ++i) {
      if (!sources[i]->valid()) continue;
      polls[n] = {sources[i]->get(), POLLIN, 0};
      which[n++] = i;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    if (::poll(polls, n, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int k = 0; k < n; ++k) {
      if (polls[k].revents == 0) continue;
      char buf[4096];
      const ssize_t got = ::read(polls[k].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        sources[which[k]]->Reset();
        continue;
      }
      sinks[which[k]]->append(buf, static_cast<size_t>(got));
    }
  }
  result.exit_code = Reap(pid);
  return result;
}

std::optional<RestartPolicy> ParseRestartPolicy(std::string_view text) {
  if (EqualsIgnoreCase(text, "Always")) return RestartPolicy::kAlways;
  if (EqualsIgnoreCase(text, "OnFailure")) return RestartPolicy::kOnFailure;
  if (EqualsIgnoreCase(text, "Never")) return RestartPolicy::kNever;
  return std::nullopt;
}

void RecordEvent(std::vector<Event>& events, Clock::TimePoint now, std::string name,
                 std::string type, std::string message) {
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (it->name != name) continue;
    if (it->message == message && it->type == type) {
      ++it->count;
      it->last = now;
      return;
    }
    break;
  }
  events.push_back(Event{1, now, now, std::move(name), std::move(message), std::move(type)});
  if (events.size() > kMaxEvents) events.erase(events.begin());
}

std::string IsoTime(Clock::TimePoint t) {
  const time_t seconds = static_cast<time_t>(UnixSeconds(t));
  tm parts{};
  ::gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

nlohmann::json EventJson(const Event& event) {
  return json{{"count", event.count},
              {"firstTimestamp", IsoTime(event.first)},
              {"lastTimestamp", IsoTime(event.last)},
              {"name", event.name},
              {"message", event.message},
              {"type", event.type}};
}

nlohmann::json ContainerStateJson(const ContainerState& state) {
  json out = {{"state", state.state}};
  if (state.start_time) out["startTime"] = IsoTime(*state.start_time);
  if (state.finish_time) out["finishTime"] = IsoTime(*state.finish_time);
  if (state.exit_code) out["exitCode"] = *state.exit_code;
  out["detailStatus"] = state.detail_status;
  return out;
}

nlohmann::json ContainerViewJson(const ContainerView& view) {
  json events = json::array();
  for (const Event& event : view.events) events.push_back(EventJson(event));
  json out = {{"restartCount", view.restart_count},
              {"currentState", ContainerStateJson(view.current)}};
  if (view.previous) out["previousState"] = ContainerStateJson(*view.previous);
  out["events"] = std::move(events);
  return out;
}

struct Supervisor::Container {
  ContainerRun run;
  ContainerView view;
  // What is wanted (guarded by mu_).
  bool want_run = true;
  bool restart_now = false;  // Restart(): run again at once after this exit
  bool removing = false;
  bool count_restart = false;  // the next start is the policy's restart
  std::optional<SteadyClock::time_point> backoff_until;
  std::chrono::milliseconds backoff{0};
  // While runc runs (guarded by mu_).
  pid_t pid = -1;
  // Runner-only.
  std::optional<SteadyClock::time_point> kill_deadline;
  bool term_sent = false;
  UniqueFd log;
  uint64_t log_size = 0;
  UniqueFd wake;  // eventfd: something was requested
  std::condition_variable cv;
  std::thread thread;
};

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  if (options_.runc_root.empty()) options_.runc_root = RuncRoot(options_.prefix);
  const Captured listed = RunCapture({options_.runc, "--root", options_.runc_root, "list", "-q"});
  std::istringstream ids(listed.out);
  std::string id;
  while (std::getline(ids, id)) {
    if (!id.starts_with(options_.prefix + "-")) continue;
    (void)Runc({"delete", "--force", id});
  }
}

Supervisor::~Supervisor() {
  std::vector<Container*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, c] : containers_) {
      if (c->removing) continue;
      c->removing = true;
      c->want_run = false;
      all.push_back(c.get());
      Wake(c.get());
    }
  }
  for (Container* c : all) {
    if (c->thread.joinable()) c->thread.join();
    (void)Runc({"delete", "--force", c->run.id});
  }
  // runc's root goes too when nothing else is in it (another process's containers keep it).
  if (!options_.runc_root.empty()) ::rmdir(options_.runc_root.c_str());
}

Clock::TimePoint Supervisor::Now() const {
  return options_.clock != nullptr ? options_.clock->Now() : system_clock_.Now();
}

Supervisor::ToolResult Supervisor::Runc(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {options_.runc, "--root", options_.runc_root};
  argv.insert(argv.end(), args.begin(), args.end());
  Captured run = RunCapture(argv);
  return ToolResult{run.exit_code, std::move(run.err)};
}

void Supervisor::Wake(Container* c) {
  c->cv.notify_all();
  const uint64_t one = 1;
  if (c->wake.valid()) (void)!::write(c->wake.get(), &one, sizeof one);
}

Status Supervisor::Add(const ContainerRun& run) {
  if (!run.id.starts_with(options_.prefix + "-")) {
    return Fail(Code::kInvalidArgument,
                "container id " + run.id + " does not start with " + options_.prefix + "-");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (containers_.count(run.id) != 0) {
      return Fail(Code::kAlreadyExists, "container " + run.id + " exists");
    }
  }
  // A leftover of the same id (a crash between runs) would make `runc run` refuse.
  (void)Runc({"delete", "--force", run.id});
  auto c = std::make_unique<Container>();
  c->run = run;
  c->backoff = options_.backoff_initial;
  c->wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!c->wake.valid())
    return Fail(Code::kIOError, std::string("eventfd: ") + std::strerror(errno));
  std::lock_guard<std::mutex> lock(mu_);
  if (containers_.count(run.id) != 0) {
    return Fail(Code::kAlreadyExists, "container " + run.id + " exists");
  }
  Container* raw = c.get();
  containers_[run.id] = std::move(c);
  raw->thread = std::thread([this, raw] { RunLoop(raw); });
  return Ok();
}

Result<Supervisor::Container*> Supervisor::FindLocked(const std::string& id) const {
  auto it = containers_.find(id);
  if (it == containers_.end()) return Fail(Code::kNotFound, "no container " + id);
  return it->second.get();
}

Status Supervisor::Stop(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  COVE_ASSIGN_OR_RETURN(Container * c, FindLocked(id));
  c->want_run = false;
  c->restart_now = false;
  c->backoff_until.reset();
  c->view.stopped = true;
  if (c->pid < 0 && c->view.current.state == "Waiting") {
    // Waiting for a restart: it ends here, as if it had exited for good.
    c->view.current.detail_status = "";
    if (c->view.previous) {
      c->view.current = *c->view.previous;
      c->view.previous.reset();
    }
    c->view.done = true;
  }
  Wake(c);
  return Ok();
}

Status Supervisor::Start(const std::string& id) { return RunAgain(id, /*restart=*/false); }

Status Supervisor::Restart(const std::string& id) { return RunAgain(id, /*restart=*/true); }

Status Supervisor::RunAgain(const std::string& id, bool restart) {
  std::lock_guard<std::mutex> lock(mu_);
  COVE_ASSIGN_OR_RETURN(Container * c, FindLocked(id));
  c->want_run = true;
  if (restart) c->restart_now = c->pid >= 0;
  c->backoff_until.reset();
  c->backoff = options_.backoff_initial;
  c->view.stopped = false;
  c->view.done = false;
  Wake(c);
  return Ok();
}

Status Supervisor::Remove(const std::string& id) {
  Container* c = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    COVE_ASSIGN_OR_RETURN(c, FindLocked(id));
    if (c->removing) return Ok();  // another caller is removing it
    c->removing = true;
    c->want_run = false;
    Wake(c);
  }
  if (c->thread.joinable()) c->thread.join();
  (void)Runc({"delete", "--force", id});
  std::lock_guard<std::mutex> lock(mu_);
  containers_.erase(id);
  return Ok();
}

Result<pid_t> Supervisor::StartExec(const std::string& id, const std::vector<std::string>& argv,
                                    const ExecIo& io) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    COVE_ASSIGN_OR_RETURN(const Container* c, FindLocked(id));
    if (c->pid < 0) {
      return Fail(Code::kFailedPrecondition, "container " + id + " is not running");
    }
  }
  if (argv.empty()) return Fail(Code::kInvalidArgument, "nothing to exec");
  std::vector<std::string> command = {options_.runc, "--root", options_.runc_root, "exec", id};
  command.insert(command.end(), argv.begin(), argv.end());
  const int fds[3] = {io.stdin_fd, io.stdout_fd, io.stderr_fd};
  return SpawnProcess(command, fds);
}

Result<int> Supervisor::Exec(const std::string& id, const std::vector<std::string>& argv,
                             const ExecIo& io) {
  COVE_ASSIGN_OR_RETURN(const pid_t pid, StartExec(id, argv, io));
  return Reap(pid);
}

Result<std::string> Supervisor::Logs(const std::string& id, std::optional<int> tail) const {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    COVE_ASSIGN_OR_RETURN(const Container* c, FindLocked(id));
    path = c->run.log_path;
  }
  std::string text = ReadFile(path + ".1") + ReadFile(path);
  return tail ? LastLines(text, *tail) : text;
}

std::optional<ContainerView> Supervisor::View(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return std::nullopt;
  return it->second->view;
}

std::vector<std::string> Supervisor::Ids() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, c] : containers_) ids.push_back(id);
  return ids;
}

void Supervisor::OpenLog(Container* c) {
  c->log.Reset(::open(c->run.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  struct stat st {};
  c->log_size = c->log.valid() && ::fstat(c->log.get(), &st) == 0 ? st.st_size : 0;
}

void Supervisor::AppendLog(Container* c, const char* data, size_t size) {
  const uint64_t half = std::max<uint64_t>(options_.log_cap_bytes / 2, 1);
  while (size > 0 && c->log.valid()) {
    if (c->log_size >= half) {
      // <log> is full: it becomes <log>.1 (the older <log>.1 goes) and a new <log> starts.
      ::rename(c->run.log_path.c_str(), (c->run.log_path + ".1").c_str());
      OpenLog(c);
      continue;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(size, half - c->log_size));
    const ssize_t n = ::write(c->log.get(), data, take);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk drops output rather than stalling the container
    c->log_size += static_cast<uint64_t>(n);
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void Supervisor::RunLoop(Container* c) {
  std::unique_lock<std::mutex> lock(mu_);
  while (WaitForStart(c, lock)) RunOnce(c, lock);
}

bool Supervisor::WaitForStart(Container* c, std::unique_lock<std::mutex>& lock) {
  for (;;) {
    if (c->removing) return false;
    if (c->want_run) {
      if (!c->backoff_until || SteadyClock::now() >= *c->backoff_until) {
        c->backoff_until.reset();
        return true;
      }
      c->cv.wait_until(lock, *c->backoff_until);
    } else {
      c->cv.wait(lock);
    }
  }
}

void Supervisor::RunOnce(Container* c, std::unique_lock<std::mutex>& lock) {
  const ContainerRun run = c->run;
  const std::string runc_log = run.bundle_dir + "/runc.log";
  const std::string pid_file = run.bundle_dir + "/pid";
  lock.unlock();

  // Output pipe: runc (and the container) write, the runner copies into the log.
  int pipe_fds[2] = {-1, -1};
  Result<pid_t> pid = Fail(Code::kIOError, "pipe failed");
  UniqueFd out_read;
  if (::pipe2(pipe_fds, O_CLOEXEC) == 0) {
    out_read.Reset(pipe_fds[0]);
    UniqueFd out_write(pipe_fds[1]);
    ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
    ::truncate(runc_log.c_str(), 0);
    ::unlink(pid_file.c_str());
    const int fds[3] = {-1, out_write.get(), out_write.get()};
    pid = SpawnProcess(
        {options_.runc, "--root", options_.runc_root, "--log", runc_log, "--log-format", "json",
         "run", "--bundle", run.bundle_dir, "--pid-file", pid_file, run.id},
        fds);
  }
  if (!c->log.valid()) OpenLog(c);
  const auto started = SteadyClock::now();

  lock.lock();
  ContainerView& view = c->view;
  if (!pid) {
    RecordEvent(view.events, Now(), "Failed", "Warning", pid.error().message);
    c->want_run = false;
    view.done = true;
    return;
  }
  c->pid = *pid;
  if (view.current.state == "Terminated") view.previous = view.current;
  if (c->count_restart) {
    ++view.restart_count;
    c->count_restart = false;
  }
  const auto spawned = Now();
  view.current =
      ContainerState{"Waiting", std::nullopt, std::nullopt, std::nullopt, "ContainerCreating"};
  RecordEvent(view.events, spawned, "Created", "Normal", "Created container");
  c->term_sent = false;
  c->kill_deadline.reset();
  lock.unlock();

  UniqueFd pidfd = PidFd(*pid);
  const auto copy_output = [&] {
    char buf[65536];
    for (;;) {
      const ssize_t got = ::read(out_read.get(), buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return got == 0;  // true at EOF
      AppendLog(c, buf, static_cast<size_t>(got));
    }
  };

  // runc writes the pid file once the container's process is about to exec the command (runc
  // checks the command first: a missing one fails before): from then on it is Running.
  bool confirmed = false;
  const auto confirm = [&] {
    if (confirmed || ::access(pid_file.c_str(), F_OK) != 0) return;
    confirmed = true;
    std::lock_guard<std::mutex> guard(mu_);
    c->view.current = ContainerState{"Running", spawned, std::nullopt, std::nullopt, ""};
    RecordEvent(c->view.events, Now(), "Started", "Normal", "Started container");
  };

  bool exited = false;
  int status = -1;
  SteadyClock::time_point next_kill{};
  while (!exited) {
    bool stopping;
    {
      std::lock_guard<std::mutex> guard(mu_);
      stopping = !c->want_run || c->restart_now || c->removing;
    }
    if (stopping && SteadyClock::now() >= next_kill) {
      // At most one runc kill a tick, however much output wakes the loop.
      const auto now_steady = SteadyClock::now();
      next_kill = now_steady + kTick;
      if (!c->kill_deadline) {
        c->kill_deadline = now_steady + options_.stop_grace;
        std::lock_guard<std::mutex> guard(mu_);
        RecordEvent(c->view.events, Now(), "Killing", "Normal", "Stopping container");
      }
      if (now_steady < *c->kill_deadline) {
        if (!c->term_sent) c->term_sent = Runc({"kill", run.id, "TERM"}).exit_code == 0;
      } else if (Runc({"kill", run.id, "KILL"}).exit_code != 0 &&
                 now_steady > *c->kill_deadline + options_.stop_grace) {
        ::kill(*pid, SIGKILL);  // runc itself is stuck; the delete below cleans up
      }
    }
    pollfd polls[3] = {{pidfd.get(), POLLIN, 0},
                       {out_read.valid() ? out_read.get() : -1, POLLIN, 0},
                       {c->wake.get(), POLLIN, 0}};
    int timeout = -1;
    if (!confirmed) timeout = static_cast<int>(kStartTick.count());
    if (stopping || !pidfd.valid()) timeout = static_cast<int>(kTick.count());
    if (::poll(polls, 3, timeout) < 0 && errno != EINTR) break;
    if (polls[2].revents != 0) {
      uint64_t count;
      (void)!::read(c->wake.get(), &count, sizeof count);
    }
    if (polls[1].revents != 0 && copy_output()) out_read.Reset();
    confirm();
    if (pidfd.valid()) {
      exited = polls[0].revents != 0;
    } else if (auto code = TryReap(*pid)) {
      exited = true;
      status = *code;
    }
  }
  if (pidfd.valid()) status = Reap(*pid);
  if (out_read.valid()) copy_output();  // what is left in the pipe
  confirm();
  if (c->kill_deadline) (void)Runc({"delete", "--force", run.id});
  const std::string runc_error = RuncError(runc_log);

  lock.lock();
  c->pid = -1;
  AfterExit(c, status, runc_error, started);
}

void Supervisor::AfterExit(Container* c, int exit_code, const std::string& runc_error,
                           SteadyClock::time_point started) {
  ContainerView& view = c->view;
  const auto now = Now();
  ContainerState terminated = view.current;
  terminated.state = "Terminated";
  terminated.finish_time = now;
  terminated.exit_code = exit_code;
  terminated.detail_status = exit_code == 0 ? "Completed" : "Error";
  if (!runc_error.empty()) {
    RecordEvent(view.events, now, "Failed", "Warning", runc_error);
    terminated.exit_code = CannotRunExitCode(runc_error);
    terminated.detail_status = "ContainerCannotRun";
  }
  if (c->removing || !c->want_run) {
    view.current = terminated;
    view.done = true;
    return;
  }
  if (c->restart_now) {
    c->restart_now = false;
    view.current = terminated;
    return;
  }
  const RestartPolicy policy = c->run.restart_policy;
  const bool again = policy == RestartPolicy::kAlways ||
                     (policy == RestartPolicy::kOnFailure && terminated.exit_code != 0);
  if (!again) {
    view.current = terminated;
    c->want_run = false;
    view.done = true;
    return;
  }
  if (SteadyClock::now() - started >= options_.backoff_reset) c->backoff = options_.backoff_initial;
  view.previous = terminated;
  view.current =
      ContainerState{"Waiting", std::nullopt, std::nullopt, std::nullopt, "CrashLoopBackOff"};
  RecordEvent(view.events, now, "BackOff", "Warning", "Back-off restarting failed container");
  c->backoff_until = SteadyClock::now() + c->backoff;
  c->backoff = std::min(c->backoff * 2, options_.backoff_max);
  c->count_restart = true;
}

}  // namespace cove::runtime
