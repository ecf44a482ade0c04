// Supervisor: runs containers with runc and keeps ACI's instance view of each — the part of a
// container group's lifecycle after its images are pulled (daemon/containers_plane.h does the
// pulling and the desired state).
//
// Each container is a bundle (runtime/bundle.h) and a runc container id (runtime/naming.h). The
// Supervisor owns one runner thread per container, which starts
//   runc --root <runc_root> --log <bundle>/runc.log --log-format json run --bundle <bundle> <id>
// as its child (runc on the host's namespaces; the bundle's config.json puts the container into
// the group's network namespace), waits for that pid only (a pidfd; never waitpid(-1): coved has
// other children) and applies the restart policy: Always restarts whatever the exit code,
// OnFailure when it is not 0, Never not at all; a restart waits a backoff of `backoff_initial`,
// doubled each time up to `backoff_max`, reset after a run of `backoff_reset` or longer.
//
// Output: runc's stdout and stderr go into one pipe the runner copies into <log>, appended
// across runs. runc (not detached, no terminal) copies the container's stdout and stderr to its
// own through a pipe each, so lines of the two streams keep their order within a stream only.
// When <log> reaches half of `log_cap_bytes` it is renamed to <log>.1 (replacing the earlier
// one), so a container's output on disk never exceeds the cap; Logs() reads <log>.1 then <log>.
//
// A start: a Created event and the container Waiting ("ContainerCreating") while runc creates
// it; once runc writes its --pid-file (the process is about to exec the command) it is Running
// (startTime = when runc was started) with a Started event.
//
// runc's own failures (a command that is not in the image, a bad config) are told apart from
// the container's exit by runc's json log: an "error" entry there becomes a Failed event whose
// message is runc's text verbatim, e.g. `runc run failed: unable to start container process:
// exec: "nope": executable file not found in $PATH`, and the container Terminated with exit
// code 127 (not found), 126 (permission denied) or 128 (anything else) and detailStatus
// "ContainerCannotRun" — then the restart policy applies as to any exit.
//
// Instance view (ACI's, contract 4 of issue 16): currentState/previousState {state
// Waiting|Running|Terminated, startTime, finishTime, exitCode, detailStatus}, restartCount, and
// events (Created, Started, Killing, BackOff, Failed) counted ACI's way: the same name and
// message again raises count and lastTimestamp. detailStatus: "" while running,
// "ContainerCreating" (runc creating it), "Completed" (exit 0), "Error" (other exits),
// "ContainerCannotRun" (runc failed), "CrashLoopBackOff" (waiting to restart).
//
// Stop: a Killing event, `runc kill <id> TERM`, and after `stop_grace` `runc kill <id> KILL`
// (an init process that ignores SIGTERM — busybox sh as pid 1 does — is killed then); the
// container is not restarted. On construction every runc container under the root whose id
// starts with "<prefix>-" is deleted (`runc delete --force`): a restarted coved finds no
// leftovers.
//
// Thread-safety: all public methods may be called from any thread concurrently; one mutex
// guards the table and each container's view, and no runc command runs while it is held.
// Methods naming an unknown id return kNotFound. The destructor stops and removes every
// container (as Remove does); REQUIRES: no other call in flight then. Restart counting: the
// policy's restarts raise restartCount; Start and Restart (asked for) do not.
//
// Also here, for the daemon's pulls: CollectChild (a child's output under a deadline, reaped by
// pid), and ACI's event and state shapes with their JSON, which the daemon extends with its
// pull events.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace cove::runtime {

// What a child process wrote and how it ended.
struct ChildOutput {
  int exit_code = -1;  // 128 + signal when killed by one; -1 when it could not be waited for
  std::string out;
  std::string err;
  bool timed_out = false;  // killed (SIGKILL) after `timeout`
};
// Reads the child's stdout and stderr (the read ends of its pipes; closed here) until both end
// or `timeout` passes (then it is SIGKILLed), and reaps `pid` — that pid only.
ChildOutput CollectChild(pid_t pid, UniqueFd out, UniqueFd err, std::chrono::milliseconds timeout);

enum class RestartPolicy { kAlways, kOnFailure, kNever };
// "Always" | "OnFailure" | "Never" (case-insensitive); nullopt otherwise.
std::optional<RestartPolicy> ParseRestartPolicy(std::string_view text);

// An ACI event.
struct Event {
  int count = 1;
  Clock::TimePoint first;
  Clock::TimePoint last;
  std::string name;  // Pulling, Pulled, Failed, Created, Started, Killing, BackOff
  std::string message;
  std::string type;  // Normal | Warning
};

// Appends an event, or counts it again when the last one with the same name has the same
// message. Keeps at most 100 (the oldest go).
void RecordEvent(std::vector<Event>& events, Clock::TimePoint now, std::string name,
                 std::string type, std::string message);
// {"count","firstTimestamp","lastTimestamp","name","message","type"}.
nlohmann::json EventJson(const Event& event);
// "2026-12-04T23:11:17Z".
std::string IsoTime(Clock::TimePoint t);

struct ContainerState {
  std::string state = "Waiting";  // Waiting | Running | Terminated
  std::optional<Clock::TimePoint> start_time;
  std::optional<Clock::TimePoint> finish_time;
  std::optional<int> exit_code;
  std::string detail_status;
};
// {"state", "startTime"?, "finishTime"?, "exitCode"?, "detailStatus"}.
nlohmann::json ContainerStateJson(const ContainerState& state);

// A container's instance view.
struct ContainerView {
  int restart_count = 0;
  ContainerState current;
  std::optional<ContainerState> previous;
  std::vector<Event> events;
  // True when the container will not run again unless started (Never after an exit, OnFailure
  // after exit 0, or stopped).
  bool done = false;
  bool stopped = false;  // stopped by Stop() (and not started since)
};
// {"restartCount", "currentState", "previousState"?, "events"}.
nlohmann::json ContainerViewJson(const ContainerView& view);

struct SupervisorOptions {
  std::string prefix;     // ids this supervisor owns start with "<prefix>-"
  std::string runc_root;  // "" = RuncRoot(prefix)
  std::string runc = "runc";
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::milliseconds backoff_reset{600000};
  std::chrono::milliseconds stop_grace{10000};
  uint64_t log_cap_bytes = 8 << 20;
  const Clock* clock = nullptr;  // timestamps; nullptr = the system clock
};

// One container to run.
struct ContainerRun {
  std::string id;          // runc container id (runtime::ContainerId)
  std::string bundle_dir;  // holds config.json and rootfs/
  std::string log_path;    // its output
  RestartPolicy restart_policy = RestartPolicy::kAlways;
};

// Descriptors an exec'd process gets as 0, 1 and 2 (-1: /dev/null).
struct ExecIo {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

class Supervisor {
 public:
  // Deletes stale containers of this prefix under the runc root (see above).
  explicit Supervisor(SupervisorOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts running `run` (a Created and a Started event; the runner thread owns it from now).
  // kAlreadyExists when the id is taken; kInvalidArgument for an id without the prefix.
  Status Add(const ContainerRun& run);
  // Stops the container (see above) and returns at once; the view says Terminated once it has
  // exited. Ok also when it is not running (it will not be restarted).
  Status Stop(const std::string& id);
  // Runs a stopped or finished container again (backoff reset). Ok when it is running.
  Status Start(const std::string& id);
  // Stops the container if it runs and runs it again at once. Returns at once.
  Status Restart(const std::string& id);
  // Stops the container (waiting for it, at most the grace and a moment), deletes its runc
  // state and forgets it. Its bundle and log stay (the caller owns them).
  Status Remove(const std::string& id);

  // Starts `runc exec <id> argv...` with the caller's descriptors; returns its pid, a child of
  // this process the caller waits for. kFailedPrecondition when the container is not running,
  // kIOError when fork fails.
  Result<pid_t> StartExec(const std::string& id, const std::vector<std::string>& argv,
                          const ExecIo& io);
  // StartExec and wait: the exec'd process' exit code (runc's own 255 when it could not run).
  Result<int> Exec(const std::string& id, const std::vector<std::string>& argv, const ExecIo& io);

  // The container's output (both streams, as written); its last `tail` lines when given.
  Result<std::string> Logs(const std::string& id, std::optional<int> tail) const;
  // The container's instance view; nullopt for an unknown id.
  std::optional<ContainerView> View(const std::string& id) const;
  // The ids of every container it runs.
  std::vector<std::string> Ids() const;

 private:
  struct Container;
  // The container `id`; kNotFound. REQUIRES: mu_ held.
  Result<Container*> FindLocked(const std::string& id) const;
  // Start (restart false) or Restart.
  Status RunAgain(const std::string& id, bool restart);
  void RunLoop(Container* container);
  // The container's log, opened for appending (runner only), and output appended to it.
  void OpenLog(Container* c);
  void AppendLog(Container* c, const char* data, size_t size);
  bool WaitForStart(Container* c, std::unique_lock<std::mutex>& lock);
  void RunOnce(Container* c, std::unique_lock<std::mutex>& lock);
  void AfterExit(Container* c, int status, const std::string& runc_error,
                 std::chrono::steady_clock::time_point started);
  void Wake(Container* c);
  Clock::TimePoint Now() const;
  // `runc --root R args...`, its exit code and stderr.
  struct ToolResult {
    int exit_code = -1;
    std::string err;
  };
  ToolResult Runc(const std::vector<std::string>& args) const;

  SupervisorOptions options_;
  SystemClock system_clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Container>> containers_;
};

}  // namespace cove::runtime
