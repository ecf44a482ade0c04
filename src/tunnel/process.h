// Process helpers shared by the tunnel daemons (strongSwan's charon, FRR's zebra and bgpd) and
// their control tools (swanctl, vtysh): run a command inside a network namespace and collect
// its output under a deadline, stop a daemon by PID, wait for a condition or a unix socket
// under a deadline, write the private configuration files, and check the addresses and
// prefixes the specs carry.
//
// Every process goes through fabric::Namespaces::Spawn (so it runs in the namespace, with a
// private mount namespace); nothing here calls setns itself.
//
// Thread-safety: free functions without shared state; safe from any thread. A pid handed to
// StopProcess must be a child of this process that nobody else waits for.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "fabric/namespaces.h"

namespace cove::tunnel {

struct ExecOutput {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `argv` inside namespace `ns` and waits for it, at most `timeout`. Returns its exit code
// and output whatever the code (a non-zero exit is not an error here); kUnavailable when it
// ran past the deadline (it is killed), kNotFound when the namespace is missing, kIOError when
// it cannot be started.
Result<ExecOutput> Exec(fabric::Namespaces& namespaces, const std::string& ns,
                        const std::vector<std::string>& argv,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Like Exec, but a non-zero exit is kIOError with the command and its stderr.
Result<std::string> ExecOk(fabric::Namespaces& namespaces, const std::string& ns,
                           const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

// True when `pid` (a child of this process) has exited; reaps it then.
bool Exited(pid_t pid);

// Sends SIGTERM to `pid` and waits for it up to `grace`, then SIGKILLs and reaps it. Ok when
// the process is gone (also when it was already, or is not our child); kInvalidArgument for a
// pid <= 0.
Status StopProcess(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(5));

// Calls `done` until it returns true or `timeout` passes, every few milliseconds. True when
// `done` returned true.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// A daemon to start in a namespace and the unix sockets that say it is up.
struct DaemonLaunch {
  std::string what;  // for messages: "charon for s2s"
  std::string ns;
  std::vector<std::string> argv;
  std::string output_path;           // its stdout and stderr go here (appended)
  std::vector<std::string> sockets;  // up once each of these accepts a connection
  std::vector<std::string> logs;     // files whose tails go into an error message
  std::chrono::milliseconds timeout = std::chrono::seconds(10);
};

// Starts the daemon and waits until its sockets accept. Returns its pid (a child of this
// process; stop it with StopProcess). kUnavailable when it exits first or is not up in time
// (it is stopped; the message carries the tails of its output and logs), kIOError when the
// output file cannot be opened, or Spawn's error.
Result<pid_t> LaunchDaemon(fabric::Namespaces& namespaces, const DaemonLaunch& launch);

// True when `path` fits a unix socket address (sun_path, 107 bytes and the NUL).
bool FitsSocketPath(const std::string& path);
// True when a unix stream socket at `path` accepts a connection.
bool UnixSocketAccepts(const std::string& path);

// Writes `content` to `path` (created or truncated) with permission `mode`. kIOError.
Status WriteFile(const std::string& path, const std::string& content, mode_t mode = 0644);

// The last `max_bytes` of the file at `path` ("" when unreadable), for error messages.
std::string FileTail(const std::string& path, size_t max_bytes = 2000);

// True for a non-empty name of letters, digits, '-' and '_', at most `max` long.
bool IsName(const std::string& text, size_t max = 32);
// True for an IPv4 or IPv6 address in text form.
bool IsAddress(const std::string& text);
// True for "address/length" with a length that fits the address family.
bool IsPrefix(const std::string& text);

}  // namespace cove::tunnel
