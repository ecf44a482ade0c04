// RawHttp: a minimal HTTP/1.1 client over a plain TCP socket to 127.0.0.1, for tests that must
// go through the real transport (and for hand-written, malformed bytes). One connection per
// object; requests on it are kept alive. Test-only helper.
//
// Thread-safety: one thread per object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace cove::testing {

struct RawReply {
  int status = 0;
  std::string head;  // status line and header fields, as received
  std::string body;
  uint64_t content_length = 0;
  bool closed = false;  // the server said Connection: close

  // Value of header `name` (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const {
    std::string lower_head = Lower(head), key = "\r\n" + Lower(std::string(name)) + ":";
    auto p = lower_head.find(key);
    if (p == std::string::npos) return "";
    p += key.size();
    auto end = head.find("\r\n", p);
    std::string v = head.substr(p, end - p);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    return v;
  }
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
};

class RawHttp {
 public:
  explicit RawHttp(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};  // a failure guard, never reached by a passing test
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ~RawHttp() { ::close(fd_); }
  RawHttp(const RawHttp&) = delete;
  RawHttp& operator=(const RawHttp&) = delete;

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early; the reply says why
      bytes.remove_prefix(n);
    }
  }

  // Reads one response: head, then a Content-Length body unless `head_only` (HEAD requests).
  RawReply Read(bool head_only = false) {
    RawReply r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    r.head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::atoi(r.head.c_str() + 9);
    r.content_length = std::strtoull(r.Header("Content-Length").c_str(), nullptr, 10);
    if (!head_only) {
      while (buf_.size() < r.content_length && Fill()) {
      }
      r.body = buf_.substr(0, r.content_length);
      buf_.erase(0, std::min<size_t>(r.content_length, buf_.size()));
    }
    r.closed = RawReply::Lower(r.Header("Connection")) == "close";
    return r;
  }

  // Sends a request with a Content-Length body and reads its response.
  RawReply Request(const std::string& method, const std::string& target,
                   const std::string& body = "",
                   const std::map<std::string, std::string>& headers = {},
                   const std::string& host = "localhost") {
    std::string head = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
    for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    Send(head + body);
    return Read(method == "HEAD");
  }

  // True once the server has closed the connection (EOF).
  bool ClosedByServer() {
    char c;
    for (;;) {
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n == 0) return true;
      if (n < 0) return false;
    }
  }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, n);
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

}  // namespace cove::testing
