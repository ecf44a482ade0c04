#include "support/azurite.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#ifndef COVE_SOURCE_DIR
#error "COVE_SOURCE_DIR must name the source tree (tools/npm lives there)"
#endif

namespace cove::testing {
namespace {

// Waits for `pid` to exit within `timeout`; true if it did.
bool WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  while (true) {
    int status;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      if (pidfd >= 0) ::close(pidfd);
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || pidfd < 0) break;
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  if (pidfd >= 0) ::close(pidfd);
  return false;
}

}  // namespace

Azurite::Azurite() {
  std::string binary = std::string(COVE_SOURCE_DIR) + "/tools/npm/node_modules/.bin/azurite-blob";
  if (::access(binary.c_str(), X_OK) != 0) {
    error_ = binary + " is missing: run scripts/install-deps (it installs azurite with npm ci)";
    return;
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) {
    error_ = std::string("pipe: ") + std::strerror(errno);
    return;
  }
  std::string location = dir_.path();
  std::vector<std::string> args = {binary,          "--blobHost",  "127.0.0.1",
                                   "--blobPort",    "0",           "--location",
                                   location,        "--skipApiVersionCheck",
                                   "--disableTelemetry"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  if (pid_ < 0) {
    ::close(out[0]);
    error_ = std::string("fork: ") + std::strerror(errno);
    return;
  }
  // Its output until the "listens on http://127.0.0.1:PORT" line (or exit, or the deadline).
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string marker = "listens on http://127.0.0.1:";
  while (true) {
    size_t at = output.find(marker);
    if (at != std::string::npos && output.find('\n', at) != std::string::npos) {
      port_ = std::atoi(output.c_str() + at + marker.size());
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error_ = "azurite-blob did not start within 60 s: " + output;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    char buf[4096];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n == 0) {
      error_ = "azurite-blob exited: " + output;
      break;
    }
    if (n > 0) output.append(buf, static_cast<size_t>(n));
  }
  int fd = out[0];
  drain_ = std::thread([fd] {
    char buf[4096];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      break;
    }
    ::close(fd);
  });
}

Azurite::~Azurite() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (!WaitExit(pid_, std::chrono::seconds(10))) {
      ::kill(pid_, SIGKILL);
      WaitExit(pid_, std::chrono::seconds(10));
    }
  }
  if (drain_.joinable()) drain_.join();
}

std::string Azurite::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + kAccount;
}

}  // namespace cove::testing
