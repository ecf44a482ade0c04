// CovedProcess: starts the real coved with its ARM API (and registry) on loopback port 0 and a
// temp data dir, learns the port from its stderr ("arm api listening on 127.0.0.1:<port>"), and
// kills it by PID when destroyed. Test-only helper.
//
// Thread-safety: one thread owns the object; a reader thread drains coved's stderr.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cove::testing {

class CovedProcess {
 public:
  // `extra` arguments are added to coved's command line (e.g. {"--listen", "127.0.0.1:0"} for a
  // TLS registry listener; see TlsPort()).
  CovedProcess(const std::string& binary, const std::string& data_dir,
               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        binary,        "--arm-listen", "127.0.0.1:0", "--insecure-listen",
        "127.0.0.1:0", "--no-fabric",  "--data-dir",  data_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      // The registry's own listener on a free port too, so parallel tests never collide; no
      // fabric (as root coved would build namespaces and leave them for its next start).
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      while (true) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        std::lock_guard<std::mutex> lock(mu_);
        if (n <= 0) {
          closed_ = true;
          cv_.notify_all();
          break;
        }
        log_.append(buf, static_cast<size_t>(n));
        cv_.notify_all();
      }
      ::close(fd);
    });
  }

  ~CovedProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  // Waits for the listening line. Returns "https://127.0.0.1:<port>" (coved's ARM API is HTTPS
  // with the CA in <data_dir>/tls/ca.crt), or "" when coved exited
  // or the deadline passed (then log() says why).
  std::string WaitForEndpoint(std::chrono::seconds deadline = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    auto find = [&]() -> std::string {
      const std::string marker = "arm api listening on 127.0.0.1:";
      size_t at = log_.find(marker);
      if (at == std::string::npos) return "";
      size_t begin = at + marker.size(), end = begin;
      while (end < log_.size() && log_[end] >= '0' && log_[end] <= '9') ++end;
      if (end == begin || end == log_.size()) return "";  // the port may not be complete yet
      return "https://127.0.0.1:" + log_.substr(begin, end - begin);
    };
    cv_.wait_for(lock, deadline, [&] { return closed_ || !find().empty(); });
    return find();
  }

  // The port of the registry's TLS listener ("listening on 127.0.0.1:<port> (TLS)"), once coved
  // logged it; 0 when it did not within the deadline.
  int TlsPort(std::chrono::seconds deadline = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    auto find = [&]() -> int {
      const std::string marker = "listening on 127.0.0.1:";
      for (size_t at = log_.find(marker); at != std::string::npos; at = log_.find(marker, at + 1)) {
        size_t begin = at + marker.size(), end = begin;
        while (end < log_.size() && log_[end] >= '0' && log_[end] <= '9') ++end;
        if (end > begin && log_.compare(end, 6, " (TLS)") == 0) {
          return std::stoi(log_.substr(begin, end - begin));
        }
      }
      return 0;
    };
    cv_.wait_for(lock, deadline, [&] { return closed_ || find() != 0; });
    return find();
  }

  std::string log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool closed_ = false;
};

}  // namespace cove::testing
