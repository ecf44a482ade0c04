// HTTP messages as the rest of cove sees them, free of Boost.Beast.
//
// The transport (http/server.h) parses a request's head, builds a Request, and asks a Handler to
// Start() an Exchange for it. It then feeds the request body to the Exchange piece by piece
// (OnBody) and finally asks it for the Response (Finish). This lets the registry stream a 1 GiB
// upload to disk while hashing it, and lets tests drive handlers without sockets: build a
// Request, call Start/OnBody/Finish, look at the Response.
//
// A Response body is a string, a file range (sent with sendfile on plain HTTP, read in large
// chunks under TLS), or only a length (HEAD). For HEAD requests the transport never sends a body
// but always sends Content-Length from the body's size, so a handler may answer HEAD with the
// same Response it gives to GET.
//
// An Exchange may also wait for work done elsewhere (a password hash on a worker pool) before it
// takes the body or answers, without holding an I/O thread: Exchange::Await, BufferLater.
//
// Thread-safety: plain values; an Exchange is driven by one thread at a time (the `ready`
// callback Await receives may be called from any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/unique_fd.h"

namespace cove::access {
struct Verdict;  // access/access.h
}  // namespace cove::access

namespace cove::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  // First value of `name`, if present.
  std::optional<std::string_view> Get(std::string_view name) const;
  std::vector<std::string_view> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Appends a field (repeatable fields such as Link or WWW-Authenticate).
  void Add(std::string name, std::string value);
  // Replaces every field called `name` by one.
  void Set(std::string name, std::string value);
  void Remove(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Where a request came from and through what.
struct Peer {
  std::string remote_ip;  // textual, no brackets, e.g. "10.0.0.4" or "::1"
  uint16_t remote_port = 0;
  std::string local_ip;   // the address the client connected to (PROXY destination if proxied)
  uint16_t local_port = 0;
  bool tls = false;
  std::string server_name;  // TLS SNI, lowercased; empty without TLS or SNI
  // Private endpoint link id this connection came through (listener tag or PROXY v2 TLV).
  std::optional<uint32_t> link_id;
  // The listener's tag (ListenerOptions::tag): which of a server's listeners, e.g. which
  // machine's instance metadata address, the connection arrived on.
  std::string listener_tag;
  // remote_ip/remote_port and local_ip/local_port come from a PROXY protocol v2 header (its
  // source and destination: the client and the private endpoint address it connected to), not
  // from the socket, which connects us to the forwarder.
  bool proxied = false;
};

struct Request {
  std::string method;  // "GET", "HEAD", "PUT", ...
  std::string target;  // origin-form as sent: path and query, still percent-encoded
  Headers headers;
  Peer peer;
  std::optional<uint64_t> content_length;  // from Content-Length
  bool chunked = false;                    // Transfer-Encoding: chunked
  // The network decision on this request and the registry it matched, attached by the access
  // Gate (access/access.h) before the handler behind it sees the request; null when no Gate
  // stands in front (coved's control-plane listener).
  std::shared_ptr<const access::Verdict> verdict;

  // Host header without port, lowercased ("" when absent).
  std::string host() const;
  // Path part of target, not decoded.
  std::string_view path() const;
  // Raw query string after '?', not decoded ("" when none).
  std::string_view query() const;
  // Decoded value of the first query parameter `name`.
  std::optional<std::string> QueryParam(std::string_view name) const;
  // Decoded values of every query parameter `name`, in order.
  std::vector<std::string> QueryParams(std::string_view name) const;
};

// A byte range of an open file; the Response owns the descriptor. A stream (a pipe) is read in
// order from where it is, `length` bytes, and `offset` is ignored; the server ends the
// connection if it delivers fewer.
struct FileBody {
  UniqueFd fd;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool stream = false;
};

// No bytes, but this Content-Length (for HEAD).
struct LengthOnly {
  uint64_t length = 0;
};

using Body = std::variant<std::string, FileBody, LengthOnly>;

struct Response {
  int status = 200;
  Headers headers;
  Body body;
  // When true the transport closes the connection after sending (the request body was not
  // fully read, or the handler wants it closed).
  bool close = false;

  uint64_t BodySize() const;
  // Convenience: status, Content-Type and a string body.
  static Response Text(int status, std::string content_type, std::string body);
};

// Handles one request after its head has been read.
class Exchange {
 public:
  virtual ~Exchange() = default;
  // Receives the next piece of the request body. Returning a Response ends the exchange early:
  // the transport sends it and closes the connection (the rest of the body is not read).
  virtual std::optional<Response> OnBody(std::string_view piece) = 0;
  // The whole body has arrived (also called for requests with no body). Called at most once.
  virtual Response Finish() = 0;
  // False when the exchange already has its answer and does not want the body at all: the
  // transport then calls Finish() at once, sends no 100 Continue, and closes the connection
  // after the response if a body was announced.
  virtual bool WantsBody() const { return true; }
  // An exchange whose answer is already fixed (a refusal) but that would read and drop a small
  // body to keep the connection says how much: at most this many bytes. The transport then
  // reads a body up to min(this, ServerOptions::max_discard_bytes) and refuses a larger or
  // chunked one as if WantsBody() were false (answer at once, close), never draining it.
  // nullopt (the default): the body matters to the answer.
  virtual std::optional<uint64_t> IgnoresBody() const { return std::nullopt; }
  // Waiting for work done off the I/O threads (a password hash on a worker pool) without
  // holding one. The transport calls Await at two stages: kStarted, after Start (before
  // WantsBody, IgnoresBody or any body), and kBodyDone, once the whole body has arrived or
  // the body is refused (before Finish). True means "not yet": the transport leaves the
  // exchange alone until `ready` is called — exactly once, from any thread, possibly before
  // Await returns — and then calls Await for the same stage again, until it returns false
  // (the default, at once). If the connection fails or times out meanwhile the transport calls
  // Abort() instead; `ready` may still be called later and then does nothing, so work in
  // flight must not refer to the exchange itself (share its state instead).
  enum class Stage { kStarted, kBodyDone };
  virtual bool Await(Stage stage, std::function<void()> ready) {
    (void)stage;
    (void)ready;
    return false;
  }
  // The connection failed or timed out before Finish; release what the exchange holds.
  virtual void Abort() {}
};
using ExchangePtr = std::unique_ptr<Exchange>;

class Handler {
 public:
  virtual ~Handler() = default;
  // Begins handling `request`. Never returns null.
  virtual ExchangePtr Start(Request request) = 0;
};

// An Exchange that already knows its answer and ignores any body (up to `max_ignored` bytes,
// read and dropped so the connection can be kept; the transport refuses larger bodies without
// reading them, see Exchange::IgnoresBody). With `max_ignored` 0 it answers before any body is
// read.
ExchangePtr Respond(Response response, uint64_t max_ignored = 1 << 20);

// An Exchange that collects the body into a string of at most `limit` bytes, then calls `done`.
// Past the limit it answers `too_large` early.
template <typename Done>
ExchangePtr Buffer(uint64_t limit, Response too_large, Done done);

// Like Buffer, but the answer may come later: once the body is complete, `start(body, answer)`
// runs on the I/O thread and arranges for `answer(Response)` to be called exactly once, from
// any thread (a worker pool), or calls it at once. The connection waits without holding a
// thread (Exchange::Await).
using Answer = std::function<void(Response)>;
ExchangePtr BufferLater(uint64_t limit, Response too_large,
                        std::function<void(std::string body, Answer answer)> start);

// ---- implementation of Buffer ----
namespace internal {
template <typename Done>
class BufferingExchange final : public Exchange {
 public:
  BufferingExchange(uint64_t limit, Response too_large, Done done)
      : limit_(limit), too_large_(std::move(too_large)), done_(std::move(done)) {}
  std::optional<Response> OnBody(std::string_view piece) override {
    if (body_.size() + piece.size() > limit_) {
      too_large_.close = true;
      return std::move(too_large_);
    }
    body_.append(piece);
    return std::nullopt;
  }
  Response Finish() override { return done_(std::move(body_)); }

 private:
  uint64_t limit_;
  Response too_large_;
  Done done_;
  std::string body_;
};
}  // namespace internal

template <typename Done>
ExchangePtr Buffer(uint64_t limit, Response too_large, Done done) {
  return std::make_unique<internal::BufferingExchange<Done>>(limit, std::move(too_large),
                                                             std::move(done));
}

}  // namespace cove::http
