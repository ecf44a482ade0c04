// Test helpers for cove_http: a small Handler with a few routes, and synchronous clients (raw
// sockets for hand-written bytes, Beast for ordinary requests, plain or TLS).
//
// Routes of TestHandler:
//   GET  /text                 200 "hello world"
//   GET  /peer                 200 "<remote_ip> <local_port> <tls> <server_name> <link_id>"
//   GET  /file?offset=&length= 200 FileBody of file_path (whole file by default)
//   GET  /stream?offset=&length=&cut= 200 a stream FileBody: a pipe that a thread fills with
//                              those bytes of file_path (only `cut` of them if given)
//   HEAD /length               200 LengthOnly{1234}
//   PUT  /count                200 "bytes=<n> pieces=<k> sha256=<hex>" after the whole body
//   PUT  /early                413 as soon as the first body piece arrives
// Every exchange that gets Abort() increments aborts() and wakes WaitForAborts.
//
// Thread-safety: TestHandler may be used from the server's threads; clients are single-thread.
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <fstream>
#include <iterator>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "common/digest.h"
#include "http/message.h"
#include "http/server.h"

namespace cove::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class TestHandler final : public Handler {
 public:
  std::string file_path;

  ExchangePtr Start(Request request) override;

  int aborts() const { return aborts_.load(); }
  int finishes() const { return finishes_.load(); }
  // Waits (bounded, as a failure guard) until at least `n` exchanges were aborted.
  bool WaitForAborts(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return aborts_.load() >= n; });
  }
  void NoteAbort() {
    std::lock_guard lock(mu_);
    ++aborts_;
    cv_.notify_all();
  }
  void NoteFinish() { ++finishes_; }

 private:
  std::atomic<int> aborts_{0};
  std::atomic<int> finishes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

class CountingExchange final : public Exchange {
 public:
  CountingExchange(TestHandler& handler, bool early) : handler_(handler), early_(early) {}
  std::optional<Response> OnBody(std::string_view piece) override {
    EXPECT_FALSE(piece.empty());
    ++pieces_;
    bytes_ += piece.size();
    hasher_.Update(piece);
    if (early_) return Response::Text(413, "text/plain", "too large\n");
    return std::nullopt;
  }
  Response Finish() override {
    handler_.NoteFinish();
    return Response::Text(200, "text/plain",
                          "bytes=" + std::to_string(bytes_) + " pieces=" +
                              std::to_string(pieces_) + " sha256=" + hasher_.Finish().hex());
  }
  void Abort() override { handler_.NoteAbort(); }

 private:
  TestHandler& handler_;
  bool early_;
  uint64_t bytes_ = 0;
  uint64_t pieces_ = 0;
  Hasher hasher_;
};

inline ExchangePtr TestHandler::Start(Request request) {
  std::string_view path = request.path();
  if (path == "/text") return Respond(Response::Text(200, "text/plain", "hello world"));
  if (path == "/peer") {
    const Peer& p = request.peer;
    std::string body = p.remote_ip + " " + std::to_string(p.local_port) + " " +
                       (p.tls ? "tls" : "plain") + " " +
                       (p.server_name.empty() ? "-" : p.server_name) + " " +
                       (p.link_id ? std::to_string(*p.link_id) : "-") + " " +
                       std::to_string(p.remote_port);
    return Respond(Response::Text(200, "text/plain", body));
  }
  if (path == "/file") {
    UniqueFd fd(::open(file_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Respond(Response::Text(404, "text/plain", "no file\n"));
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    FileBody body;
    body.fd = std::move(fd);
    body.offset = std::stoull(request.QueryParam("offset").value_or("0"));
    body.length = request.QueryParam("length")
                      ? std::stoull(*request.QueryParam("length"))
                      : static_cast<uint64_t>(size) - body.offset;
    Response response;
    response.headers.Set("Content-Type", "application/octet-stream");
    response.body = std::move(body);
    return Respond(std::move(response));
  }
  if (path == "/stream") {
    std::ifstream in(file_path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t offset = std::stoull(request.QueryParam("offset").value_or("0"));
    uint64_t length = request.QueryParam("length") ? std::stoull(*request.QueryParam("length"))
                                                   : data.size() - offset;
    uint64_t cut = request.QueryParam("cut") ? std::stoull(*request.QueryParam("cut")) : length;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return Respond(Response::Text(500, "text/plain", "pipe\n"));
    std::thread([bytes = data.substr(offset, cut), fd = UniqueFd(fds[1])] {
      sigset_t block;
      sigemptyset(&block);
      sigaddset(&block, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &block, nullptr);
      std::string_view rest = bytes;
      while (!rest.empty()) {
        ssize_t n = ::write(fd.get(), rest.data(), std::min<size_t>(rest.size(), 100'000));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        rest.remove_prefix(static_cast<size_t>(n));
      }
    }).detach();
    Response response;
    response.headers.Set("Content-Type", "application/octet-stream");
    response.body = FileBody{UniqueFd(fds[0]), 0, length, true};
    return Respond(std::move(response));
  }
  if (path == "/length") {
    Response response;
    response.body = LengthOnly{1234};
    return Respond(std::move(response));
  }
  if (path == "/count") return std::make_unique<CountingExchange>(*this, false);
  if (path == "/early") return std::make_unique<CountingExchange>(*this, true);
  return Respond(Response::Text(404, "text/plain", "not found\n"));
}

// Deterministic pseudo-random bytes (xorshift), fast enough for 64 MiB.
inline std::string PseudoRandom(size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed | 1;
  for (size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min<size_t>(8, size - i));
  }
  return out;
}

// A raw TCP connection to 127.0.0.1:port, reads bounded by a 20 s guard against hangs.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{20, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void Send(std::string_view data) { asio::write(socket_, asio::buffer(data)); }
  // Reads until the peer closes; `error` gets how the read ended (eof when cleanly closed).
  std::string ReadToEnd(boost::system::error_code* error = nullptr) {
    std::string out;
    char buf[65536];
    for (;;) {
      boost::system::error_code ec;
      size_t n = socket_.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) {
        if (error) *error = ec;
        return out;
      }
    }
  }
  // Reads until `delimiter` has arrived; returns everything read so far.
  std::string ReadUntil(std::string_view delimiter) {
    std::string out;
    char c;
    while (out.find(delimiter) == std::string::npos) {
      boost::system::error_code ec;
      size_t n = socket_.read_some(asio::buffer(&c, 1), ec);
      if (ec) break;
      out.append(&c, n);
    }
    return out;
  }
  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
};

// Writes `request` on `stream` and reads the response (no body limit).
template <typename Stream>
bhttp::response<bhttp::string_body> RoundTrip(Stream& stream, beast::flat_buffer& buffer,
                                              bhttp::request<bhttp::string_body> request) {
  request.prepare_payload();
  bhttp::write(stream, request);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(boost::none);
  parser.skip(request.method() == bhttp::verb::head);
  bhttp::read(stream, buffer, parser);
  return parser.release();
}

inline bhttp::request<bhttp::string_body> Get(std::string target,
                                              bhttp::verb verb = bhttp::verb::get) {
  bhttp::request<bhttp::string_body> request(verb, target, 11);
  request.set(bhttp::field::host, "localhost");
  return request;
}

// A Beast client over plain TCP.
class PlainClient {
 public:
  explicit PlainClient(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  bhttp::response<bhttp::string_body> Do(bhttp::request<bhttp::string_body> request) {
    return RoundTrip(socket_, buffer_, std::move(request));
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// A Beast client over TLS that trusts only `ca_pem`, sends `sni` (unless empty) and checks the
// server's certificate for `verify_name` (unless empty).
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& ca_pem, const std::string& sni,
            const std::string& verify_name)
      : ctx_(asio::ssl::context::tls_client), stream_(ioc_, ctx_) {
    ctx_.add_certificate_authority(asio::buffer(ca_pem));
    stream_.set_verify_mode(asio::ssl::verify_peer);
    if (!verify_name.empty()) {
      stream_.set_verify_callback(asio::ssl::host_name_verification(verify_name));
    }
    if (!sni.empty()) SSL_set_tlsext_host_name(stream_.native_handle(), sni.c_str());
    stream_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // Throws boost::system::system_error when the handshake or verification fails.
  void Handshake() { stream_.handshake(asio::ssl::stream_base::client); }
  bhttp::response<bhttp::string_body> Do(bhttp::request<bhttp::string_body> request) {
    return RoundTrip(stream_, buffer_, std::move(request));
  }
  asio::ssl::stream<tcp::socket>& stream() { return stream_; }

 private:
  asio::io_context ioc_;
  asio::ssl::context ctx_;
  asio::ssl::stream<tcp::socket> stream_;
  beast::flat_buffer buffer_;
};

// Binds `listener` on `server` and starts it; returns the port, or 0 (with a test failure).
inline uint16_t ListenAndStart(Server& server, const ListenerOptions& listener) {
  auto port = server.Listen(listener);
  EXPECT_TRUE(port) << port.error().ToString();
  if (!port) return 0;
  server.Start();
  return *port;
}

}  // namespace cove::http::testing
