// Test-only helpers for tunnel_test: TestNet creates network namespaces (named
// cvt-<pid>-<tag>) and veth pairs between them with iproute2, and deletes every namespace it
// made when it goes away, whatever the test did; a one-shot TCP echo server and client that
// bind the addresses they are given; a tcpdump capture stopped by PID.
//
// Thread-safety: TestNet and Capture belong to the test's thread; EchoServer runs one thread of
// its own that it joins on destruction.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "fabric/namespaces.h"
#include "tunnel/process.h"

namespace cove::tunnel::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

class TestNet {
 public:
  explicit TestNet(fabric::Namespaces& namespaces)
      : namespaces_(namespaces), prefix_("cvt-" + std::to_string(::getpid()) + "-") {}
  ~TestNet() {
    for (const std::string& ns : made_) (void)namespaces_.Delete(ns);
  }
  TestNet(const TestNet&) = delete;
  TestNet& operator=(const TestNet&) = delete;

  // A new namespace with lo up and IPv6 off (so captures hold only what the test sends).
  // Returns "" (after a test failure) when it cannot be made.
  std::string Add(const std::string& tag) {
    const std::string ns = prefix_ + tag;
    (void)namespaces_.Delete(ns);  // a leftover of a crashed run with the same pid
    auto made = namespaces_.Create(ns);
    EXPECT_TRUE(made) << made.error().ToString();
    if (!made) return "";
    made_.push_back(ns);
    for (const char* key :
         {"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"}) {
      (void)namespaces_.WriteSysctl(ns, key, "1");
    }
    Run(ns, {"ip", "link", "set", "lo", "up"});
    return ns;
  }

  // Runs a command in `ns`; a failure fails the test. Returns its stdout.
  std::string Run(const std::string& ns, const std::vector<std::string>& argv) {
    auto out = ExecOk(namespaces_, ns, argv);
    EXPECT_TRUE(out) << out.error().ToString();
    return out.value_or("");
  }

  // A veth pair a_dev (in a, with a_cidr) — b_dev (in b, with b_cidr), both up.
  void Link(const std::string& a, const std::string& a_dev, const std::string& a_cidr,
            const std::string& b, const std::string& b_dev, const std::string& b_cidr) {
    Run(a, {"ip", "link", "add", a_dev, "type", "veth", "peer", "name", b_dev, "netns",
            namespaces_.PathOf(b)});
    Run(a, {"ip", "addr", "add", a_cidr, "dev", a_dev});
    Run(a, {"ip", "link", "set", a_dev, "up"});
    Run(b, {"ip", "addr", "add", b_cidr, "dev", b_dev});
    Run(b, {"ip", "link", "set", b_dev, "up"});
  }

  // An address of the namespace's own on lo (there are no dummy links here).
  void LoopbackAddress(const std::string& ns, const std::string& address) {
    Run(ns, {"ip", "addr", "add", address + "/32", "dev", "lo"});
  }

  void Forwarding(const std::string& ns) {
    auto s = namespaces_.WriteSysctl(ns, "net/ipv4/ip_forward", "1");
    EXPECT_TRUE(s) << s.error().ToString();
  }

 private:
  fabric::Namespaces& namespaces_;
  std::string prefix_;
  std::vector<std::string> made_;
};

// Listens at address:0 in `ns`, accepts one connection and echoes it until EOF (or 10 s pass).
class EchoServer {
 public:
  EchoServer(fabric::Namespaces& namespaces, const std::string& ns, const std::string& address) {
    auto fd = fabric::ListenTcp(namespaces, ns, address, 0);
    EXPECT_TRUE(fd) << fd.error().ToString();
    if (!fd) return;
    listener_ = std::move(*fd);
    port_ = fabric::LocalPort(listener_.get()).value_or(0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return port_; }
  // Wakes the thread if no connection ever comes.
  void Close() { ::shutdown(listener_.get(), SHUT_RDWR); }

 private:
  void Serve() {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1) return;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    char buf[4096];
    for (;;) {
      pollfd c{conn.get(), POLLIN, 0};
      if (::poll(&c, 1, 10'000) != 1) return;
      const ssize_t n = ::read(conn.get(), buf, sizeof buf);
      if (n <= 0 || ::write(conn.get(), buf, static_cast<size_t>(n)) != n) return;
    }
  }

  UniqueFd listener_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// Connects from source (an address of `ns`) to dest:port, sends `payload` and reads it back.
// The echoed bytes, or an error when any step fails or takes longer than `timeout_ms`.
inline Result<std::string> EchoFrom(fabric::Namespaces& namespaces, const std::string& ns,
                                    const std::string& source, const std::string& dest,
                                    uint16_t port, const std::string& payload,
                                    int timeout_ms = 3000) {
  auto io_error = [](const std::string& what) {
    return Fail(Code::kIOError, what + ": " + std::strerror(errno));
  };
  return fabric::InNamespace<std::string>(namespaces, ns, [&]() -> Result<std::string> {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in from{}, to{};
    from.sin_family = to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    ::inet_pton(AF_INET, dest.c_str(), &to.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      return io_error("bind " + source);
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 &&
        errno != EINPROGRESS) {
      return io_error("connect " + dest);
    }
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return Fail(Code::kUnavailable, "connect timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      return io_error("connect " + dest);
    }
    if (::send(fd.get(), payload.data(), payload.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(payload.size())) {
      return io_error("send");
    }
    std::string got;
    char buf[4096];
    while (got.size() < payload.size()) {
      pollfd r{fd.get(), POLLIN, 0};
      if (::poll(&r, 1, timeout_ms) != 1) return Fail(Code::kUnavailable, "read timed out");
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n <= 0) return io_error("read");
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  });
}

// tcpdump writing everything on `device` of `ns` to `pcap`; Stop() (or the destructor) ends it.
class Capture {
 public:
  Capture(fabric::Namespaces& namespaces, const std::string& ns, const std::string& device,
          std::string pcap)
      : namespaces_(namespaces), ns_(ns), pcap_(std::move(pcap)) {
    const std::string log = pcap_ + ".log";
    UniqueFd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    fabric::SpawnOptions options;
    options.stderr_fd = out.get();
    auto pid = namespaces.Spawn(
        ns, {"tcpdump", "-Z", "root", "-U", "--immediate-mode", "-n", "-i", device, "-w", pcap_},
        options);
    EXPECT_TRUE(pid) << pid.error().ToString();
    if (!pid) return;
    pid_ = *pid;
    EXPECT_TRUE(WaitUntil(
        [&] { return ReadAll(log).find("listening on") != std::string::npos || Exited(pid_); },
        std::chrono::seconds(10)))
        << "tcpdump did not start: " << ReadAll(log);
  }
  ~Capture() { Stop(); }
  void Stop() {
    if (pid_ > 0) (void)StopProcess(pid_);
    pid_ = -1;
  }
  // `tcpdump -r -nn` of the file, one line per packet.
  std::vector<std::string> Packets() {
    std::vector<std::string> lines;
    auto text = ExecOk(namespaces_, ns_, {"tcpdump", "-r", pcap_, "-nn"});
    EXPECT_TRUE(text) << text.error().ToString();
    std::stringstream in(text.value_or(""));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
    return lines;
  }
  std::string Raw() const { return ReadAll(pcap_); }

 private:
  fabric::Namespaces& namespaces_;
  std::string ns_;
  std::string pcap_;
  pid_t pid_ = -1;
};

}  // namespace cove::tunnel::testing
