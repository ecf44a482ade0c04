// Clients for the DNS tests: real resolvers' tools run by argv (dig, kdig), and small UDP/TCP
// clients over loopback with deadlines. Test-only; shared by tests/dns and tests/onprem.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"
#include "dns/wire.h"

namespace cove::dns::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs argv (no shell) and returns its exit code and output. Waits for it by PID.
inline CommandResult RunCommand(const std::vector<std::string>& argv) {
  CommandResult result;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return result;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::vector<std::string> Dig(uint16_t port, std::vector<std::string> args) {
  std::vector<std::string> argv = {"dig",     "@127.0.0.1", "-p", std::to_string(port),
                                   "+time=3", "+tries=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

inline std::vector<std::string> Kdig(uint16_t port, std::vector<std::string> args) {
  std::vector<std::string> argv = {"kdig",    "@127.0.0.1", "-p", std::to_string(port),
                                   "+time=3", "+retry=0"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

inline bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

inline size_t CountLines(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(needle, pos)) != std::string::npos; pos += needle.size()) {
    ++n;
  }
  return n;
}

inline sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline UniqueFd BoundSocket(int type) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in a = Loopback(0);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

inline std::vector<uint8_t> QueryBytes(std::string_view name, uint16_t type, uint16_t id = 7) {
  Message m;
  m.header.id = id;
  m.header.rd = true;
  m.questions.push_back({*Name::FromString(name), type, kClassIN});
  return Serialize(m, 65535);
}

// A UDP client on 127.0.0.1 with a receive deadline.
class UdpClient {
 public:
  explicit UdpClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a = Loopback(port);
    EXPECT_EQ(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  void Send(const std::vector<uint8_t>& bytes) {
    EXPECT_EQ(::send(fd_.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }
  // The next datagram, or nothing if none comes within `wait`.
  std::optional<std::vector<uint8_t>> Receive(std::chrono::milliseconds wait) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return std::nullopt;
    std::vector<uint8_t> buf(65535);
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

 private:
  UniqueFd fd_;
};

// A TCP client with 2-octet framing.
class TcpClient {
 public:
  explicit TcpClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a = Loopback(port);
    EXPECT_EQ(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    timeval tv{5, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  void SendRaw(const std::vector<uint8_t>& bytes) {
    EXPECT_EQ(::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  static std::vector<uint8_t> Frame(const std::vector<uint8_t>& message) {
    // Sized once and copied into: g++ 12 at -O2 reports a false -Warray-bounds for
    // insert() into a vector built from a two-element initializer list.
    std::vector<uint8_t> out(2 + message.size());
    out[0] = static_cast<uint8_t>(message.size() >> 8);
    out[1] = static_cast<uint8_t>(message.size());
    std::copy(message.begin(), message.end(), out.begin() + 2);
    return out;
  }
  // The next framed message, or nothing on EOF/error/timeout (5 s).
  std::optional<std::vector<uint8_t>> Receive() {
    uint8_t len[2];
    if (!ReadExactly(len, 2)) return std::nullopt;
    std::vector<uint8_t> msg((size_t{len[0]} << 8) | len[1]);
    if (!ReadExactly(msg.data(), msg.size())) return std::nullopt;
    return msg;
  }
  // True if the server closed the connection (EOF) within the receive timeout.
  bool Closed() {
    uint8_t b;
    return ::recv(fd_.get(), &b, 1, 0) == 0;
  }

 private:
  bool ReadExactly(uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t k = ::recv(fd_.get(), p, n, 0);
      if (k <= 0) return false;
      p += k;
      n -= static_cast<size_t>(k);
    }
    return true;
  }
  UniqueFd fd_;
};

}  // namespace cove::dns::testing
