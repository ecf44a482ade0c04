#include "tunnel/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"

namespace cove::tunnel {
namespace {

using Clock = std::chrono::steady_clock;

tl::unexpected<Error> Errno(const std::string& what) {
  return Fail(Code::kIOError, what + ": " + std::strerror(errno));
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Reaps `pid`, blocking; its exit code (128 + signal when killed).
int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

Result<ExecOutput> Exec(fabric::Namespaces& namespaces, const std::string& ns,
                        const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Errno("pipe");
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Errno("pipe");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  fabric::SpawnOptions options;
  options.stdout_fd = out_write.get();
  options.stderr_fd = err_write.get();
  COVE_ASSIGN_OR_RETURN(const pid_t pid, namespaces.Spawn(ns, argv, options));
  out_write.Reset();
  err_write.Reset();
  ExecOutput result;
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  char buf[16384];
  while (out_read.valid() || err_read.valid()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
    const int n = ::poll(p, 2, static_cast<int>(left));
    if (n <= 0) continue;  // EINTR or the deadline: the loop head decides
    UniqueFd* fds[2] = {&out_read, &err_read};
    std::string* sinks[2] = {&result.out, &result.err};
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i]->get(), buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i]->Reset();
        continue;
      }
      sinks[i]->append(buf, static_cast<size_t>(got));
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  result.exit_code = Reap(pid);
  if (timed_out) {
    return Fail(Code::kUnavailable, "'" + Join(argv) + "' in " + ns + " timed out after " +
                                        std::to_string(timeout.count()) + " ms");
  }
  return result;
}

Result<std::string> ExecOk(fabric::Namespaces& namespaces, const std::string& ns,
                           const std::vector<std::string>& argv,
                           std::chrono::milliseconds timeout) {
  COVE_ASSIGN_OR_RETURN(ExecOutput run, Exec(namespaces, ns, argv, timeout));
  if (run.exit_code != 0) {
    return Fail(Code::kIOError, "'" + Join(argv) + "' in " + ns + " exited " +
                                    std::to_string(run.exit_code) + ": " + run.err + run.out);
  }
  return std::move(run.out);
}

bool Exited(pid_t pid) {
  int status = 0;
  pid_t got;
  while ((got = ::waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  return got == pid || (got < 0 && errno == ECHILD);
}

Status StopProcess(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return Fail(Code::kInvalidArgument, "no process to stop");
  if (Exited(pid)) return Ok();
  // A pidfd turns "wait for the exit, at most `grace`" into one poll.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ::kill(pid, SIGTERM);
  if (pidfd.valid()) {
    pollfd p{pidfd.get(), POLLIN, 0};
    const auto deadline = Clock::now() + grace;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      const int n = ::poll(&p, 1, static_cast<int>(left));
      if (n > 0 || (n < 0 && errno != EINTR)) break;
    }
  } else {
    WaitUntil([&] { return Exited(pid); }, grace);
  }
  if (Exited(pid)) return Ok();
  ::kill(pid, SIGKILL);
  Reap(pid);
  return Ok();
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<pid_t> LaunchDaemon(fabric::Namespaces& namespaces, const DaemonLaunch& launch) {
  UniqueFd output(
      ::open(launch.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!output.valid()) return Errno("open " + launch.output_path);
  fabric::SpawnOptions options;
  options.stdout_fd = output.get();
  options.stderr_fd = output.get();
  COVE_ASSIGN_OR_RETURN(const pid_t pid, namespaces.Spawn(launch.ns, launch.argv, options));
  bool exited = false;
  const bool up = WaitUntil(
      [&] {
        exited = Exited(pid);
        if (exited) return true;
        for (const std::string& socket : launch.sockets) {
          if (!UnixSocketAccepts(socket)) return false;
        }
        return true;
      },
      launch.timeout);
  if (up && !exited) return pid;
  if (!exited) (void)StopProcess(pid);
  std::string message = launch.what + " in " + launch.ns +
                        (exited ? " exited" : " did not open its sockets in time") +
                        "; output: " + FileTail(launch.output_path, 500);
  for (const std::string& log : launch.logs) message += "; " + log + ": " + FileTail(log);
  return Fail(Code::kUnavailable, message);
}

bool FitsSocketPath(const std::string& path) { return path.size() < sizeof(sockaddr_un::sun_path); }

bool UnixSocketAccepts(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (!FitsSocketPath(path)) return false;
  std::memcpy(address.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

Status WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return Errno("open " + path);
  if (::fchmod(fd.get(), mode) != 0) return Errno("chmod " + path);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write " + path);
    done += static_cast<size_t>(n);
  }
  return Ok();
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

bool IsName(const std::string& text, size_t max) {
  if (text.empty() || text.size() > max) return false;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsAddress(const std::string& text) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool IsPrefix(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos || slash + 1 == text.size() || text.size() - slash > 4) {
    return false;
  }
  const std::string address = text.substr(0, slash);
  int length = 0;
  for (char c : text.substr(slash + 1)) {
    if (c < '0' || c > '9') return false;
    length = length * 10 + (c - '0');
  }
  unsigned char buf[16];
  if (::inet_pton(AF_INET, address.c_str(), buf) == 1) return length <= 32;
  return ::inet_pton(AF_INET6, address.c_str(), buf) == 1 && length <= 128;
}

}  // namespace cove::tunnel
