// Server: HTTP/1.1 over Asio with C++20 coroutines.
//
// Each accepted connection gets a strand and two coroutines on it:
//   - the session, which serves requests one after another (ServeOne), and
//   - a watchdog, which closes the socket once the session's current deadline has passed.
// The session sets the deadline before every read or write (header, idle or write timeout), so
// one timer per connection covers every operation, including waits for writability during
// sendfile. Server::Stop closes acceptors and sockets on their strands; the coroutines then
// finish on their own and the I/O threads run out of work and are joined.
//
// Limits: Register counts every connection against ServerOptions::max_connections and, once its
// source is known (at accept, or after the PROXY v2 header), against max_connections_per_source.
// A body's deadline is the earlier of the idle timeout and the minimum-rate schedule
// (SetBodyDeadline). An exchange that awaits work elsewhere (Exchange::Await) parks the session
// on a second timer that its `ready` callback cancels through the strand.
//
// Responses are framed here, never by the handler: the head is formatted into a per-connection
// string with Content-Length from Response::BodySize() (no chunked responses), the handler's
// Content-Length/Transfer-Encoding/Connection fields are dropped.
#include "http/server.h"

#include <openssl/ssl.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "common/ascii.h"
#include "http/accept.h"
#include "http/proxy_protocol.h"
#include "http/tls.h"

namespace cove::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;
using error_code = boost::system::error_code;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// How many times one stage of an exchange may ask to wait again (Exchange::Await).
constexpr int kMaxAwaitRounds = 16;
// Body pieces and TLS file chunks go through one buffer of this size per connection.
constexpr size_t kBufferSize = 256 * 1024;
// After this many bytes of sendfile without the socket blocking, let other connections run.
constexpr uint64_t kSendfileSlice = 8 * 1024 * 1024;
// Lingering close: how long and how much unread request data we discard before closing, so the
// client sees our response instead of a reset.
// Kept small: a refused upload must not be drained under another name.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 2 * 1024 * 1024;
// What a connection over a limit gets on plain HTTP before it is closed.
constexpr std::string_view kTooManyConnections =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
    "Connection: close\r\nContent-Length: 21\r\n\r\ntoo many connections\n";


bool IsHttpError(const error_code& ec) {
  static const auto& category = bhttp::make_error_code(bhttp::error::end_of_stream).category();
  return ec.category() == category;
}

// Whether `ec` is the client's malformed input (as opposed to the connection going away).
bool IsBadInput(const error_code& ec) {
  return IsHttpError(ec) && ec != bhttp::error::end_of_stream &&
         ec != bhttp::error::partial_message && ec != bhttp::error::need_buffer;
}

std::string IpString(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

// The key connection limits count by: the link id the connection came through (VNets may
// overlap) and the client address.
std::string SourceKey(const std::optional<uint32_t>& link_id, const std::string& ip) {
  return (link_id ? std::to_string(*link_id) : std::string()) + "/" + ip;
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

// SNI: switch the connection to the provider's context for the name the client asked for.
int ServerNameCallback(SSL* ssl, int* alert, void* arg) {
  auto* provider = static_cast<TlsContextProvider*>(arg);
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  char name[256];
  size_t len = 0;
  if (sni) {
    for (; sni[len] && len < sizeof name - 1; ++len) {
      name[len] = static_cast<char>(std::tolower(static_cast<unsigned char>(sni[len])));
    }
    if (sni[len]) len = 0;  // longer than any host name: treat as absent
  }
  SSL_CTX* ctx = provider->ContextFor(std::string_view(name, len));
  if (!ctx) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
  return SSL_TLSEXT_ERR_OK;
}

// State shared by a session, its watchdog and Server::Stop. Touched only on the strand.
struct Connection {
  explicit Connection(const asio::any_io_executor& ex) : timer(ex), wake(ex) {}
  virtual ~Connection() = default;
  virtual tcp::socket& Socket() = 0;

  void Close() {
    error_code ec;
    Socket().close(ec);
    wake.cancel();
  }

  // Sets the deadline for the next operation; wakes the watchdog if it sleeps past it.
  void SetDeadline(std::chrono::milliseconds timeout) {
    SetDeadlineAt(std::chrono::steady_clock::now() + timeout);
  }
  void SetDeadlineAt(SteadyTime at) {
    deadline = at;
    if (deadline < armed) timer.cancel();
  }

  asio::steady_timer timer;
  asio::steady_timer wake;  // an Exchange::Await in progress sleeps on it
  uint64_t wait_seq = 0;    // which Await the next `ready` belongs to
  bool woken = false;       // that Await's `ready` was called
  std::string source;       // SourceKey once counted per source (guarded by ServerState::mu)
  SteadyTime deadline = SteadyTime::max();
  SteadyTime armed = SteadyTime::max();  // when the watchdog's timer fires
  bool done = false;      // the session has finished
  bool stopping = false;  // Server::Stop closed us
};

asio::awaitable<void> Watchdog(std::shared_ptr<Connection> conn) {
  while (!conn->done) {
    SteadyTime now = std::chrono::steady_clock::now();
    if (conn->deadline <= now) {
      conn->Close();
      co_return;
    }
    conn->armed = conn->deadline;
    conn->timer.expires_at(conn->armed);
    co_await conn->timer.async_wait(kNoThrow);
  }
}

void LogException(const char* what, std::exception_ptr e) { http::LogException("http", what, e); }

// Wakes sessions parked in Exchange::Await, for as long as the server exists: an exchange's
// `ready` may be called from a worker after the connection, or the server and its io_context,
// are gone. `ready` holds the connection weakly (never keeping a Session, whose sockets belong
// to the io_context, alive past it); a strong reference is taken only under `mu`, which ~Server
// takes (Shut) before the io_context goes.
struct Poster {
  void Wake(const std::weak_ptr<Connection>& weak, uint64_t seq) {
    std::lock_guard lock(mu);
    if (!open) return;
    auto conn = weak.lock();
    if (!conn) return;
    asio::post(conn->timer.get_executor(), [weak, seq] {
      auto c = weak.lock();
      if (!c || c->wait_seq != seq) return;
      c->woken = true;
      c->wake.cancel();
    });
  }
  void Shut() {
    std::lock_guard lock(mu);
    open = false;
  }
  std::mutex mu;
  bool open = true;  // guarded by mu
};

// Everything the server owns; Server::Impl is this.
struct ServerState {
  ServerState(Handler& handler, TlsContextProvider* tls, ServerOptions options)
      : handler(handler), tls(tls), options(std::move(options)), work(ioc.get_executor()) {}

  struct Listener {
    explicit Listener(const asio::any_io_executor& ex) : acceptor(ex) {}
    tcp::acceptor acceptor;
    ListenerOptions options;
    std::vector<ForwarderRange> forwarders;  // options.proxy_sources, parsed
  };

  Result<uint16_t> AddListener(std::shared_ptr<Listener> listener);
  void StartSession(tcp::socket socket, const Listener& listener);
  SSL_CTX* DefaultTlsContext();
  // Counts `conn` (and its source, when `source` is not empty). kAccepted, or why not.
  enum class Admission { kAccepted, kStopping, kTooMany };
  Admission Register(const std::shared_ptr<Connection>& conn, std::string source);
  // Counts an already registered connection against its source (known after a PROXY header).
  bool ClaimSource(Connection& conn, std::string source);
  void Unregister(const std::shared_ptr<Connection>& conn);

  Handler& handler;
  TlsContextProvider* tls;
  const ServerOptions options;
  std::shared_ptr<Poster> poster = std::make_shared<Poster>();
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::thread> threads;

  std::mutex mu;
  bool started = false;                                  // guarded by mu
  bool stopping = false;                                 // guarded by mu
  std::vector<std::shared_ptr<Listener>> listeners;      // guarded by mu
  std::unordered_set<std::shared_ptr<Connection>> conns;  // guarded by mu
  std::unordered_map<std::string, size_t> per_source;     // guarded by mu

  std::mutex tls_mu;
  SSL_CTX* callback_ctx = nullptr;  // guarded by tls_mu: the context with our SNI callback
};

// One connection: plain (tcp::socket) or TLS (ssl::stream<tcp::socket>).
template <typename Stream>
class Session final : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  Session(ServerState& server, Stream stream, const ListenerOptions& listener)
      : Connection(stream.get_executor()), server_(server), stream_(std::move(stream)) {
    peer_.tls = kTls;
    peer_.link_id = listener.link_id;
    peer_.listener_tag = listener.tag;
    proxy_protocol_ = listener.proxy_protocol;
  }

  tcp::socket& Socket() override { return beast::get_lowest_layer(stream_); }

  asio::awaitable<void> Run() {
    auto self = this->shared_from_this();
    const ServerOptions& options = server_.options;
    error_code ec;
    auto remote = Socket().remote_endpoint(ec);
    if (!ec) {
      peer_.remote_ip = IpString(remote.address());
      peer_.remote_port = remote.port();
    }
    auto local = Socket().local_endpoint(ec);
    if (!ec) {
      peer_.local_ip = IpString(local.address());
      peer_.local_port = local.port();
    }
    Socket().set_option(tcp::no_delay(true), ec);

    bool linger = false;
    // A PROXY v2 header, when the listener wants one, comes before TLS and HTTP.
    bool handshake_ok = true;
    if (proxy_protocol_) {
      handshake_ok = co_await ReadProxyHeader();
      if (handshake_ok && !server_.ClaimSource(*this, SourceKey(peer_.link_id, peer_.remote_ip))) {
        spdlog::debug("http: too many connections from {}", peer_.remote_ip);
        if constexpr (!kTls) {
          SetDeadline(options.write_timeout);
          co_await asio::async_write(stream_, asio::buffer(kTooManyConnections), kNoThrow);
        }
        handshake_ok = false;
      }
    }
    if constexpr (kTls) {
      if (handshake_ok) {
        SetDeadline(options.header_timeout);
        auto [hs] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kNoThrow);
        if (hs) {
          spdlog::debug("http: TLS handshake with {} failed: {}", peer_.remote_ip, hs.message());
          handshake_ok = false;
        } else if (const char* sni =
                       SSL_get_servername(stream_.native_handle(), TLSEXT_NAMETYPE_host_name)) {
          peer_.server_name = AsciiLower(sni);
        }
      }
    }
    if (handshake_ok) {
      bool first = true;
      for (;;) {
        Outcome outcome = co_await ServeOne(first);
        first = false;
        if (outcome == Outcome::kKeepAlive) continue;
        linger = outcome == Outcome::kCloseLinger;
        break;
      }
    }
    if (linger && !stopping) co_await LingeringClose();
    Close();
    done = true;
    timer.cancel();
    server_.Unregister(self);
  }

 private:
  enum class Outcome { kKeepAlive, kClose, kCloseLinger };

  // Reads exactly one PROXY v2 header off the raw socket (nothing past it) and applies it to
  // peer_. False when it is missing, malformed or the connection fails.
  asio::awaitable<bool> ReadProxyHeader() {
    SetDeadline(server_.options.header_timeout);
    char buf[kProxyV2MaxSize];
    auto [ec, n] = co_await asio::async_read(
        Socket(), asio::buffer(buf, kProxyV2PrefixSize), kNoThrow);
    if (ec) co_return false;
    auto size = ProxyV2HeaderSize(std::string_view(buf, kProxyV2PrefixSize));
    if (size && *size > kProxyV2PrefixSize) {
      auto [rec, m] = co_await asio::async_read(
          Socket(), asio::buffer(buf + kProxyV2PrefixSize, *size - kProxyV2PrefixSize),
          kNoThrow);
      if (rec) co_return false;
    }
    auto header = size ? ParseProxyV2(std::string_view(buf, *size))
                       : Result<ProxyHeader>(tl::unexpected(size.error()));
    if (!header) {
      spdlog::debug("http: dropping connection from {}: {}", peer_.remote_ip,
                    header.error().message);
      co_return false;
    }
    if (header->command == ProxyHeader::Command::kProxy &&
        (header->family == ProxyHeader::Family::kInet ||
         header->family == ProxyHeader::Family::kInet6)) {
      peer_.remote_ip = header->source_address;
      peer_.remote_port = header->source_port;
      peer_.local_ip = header->destination_address;
      peer_.local_port = header->destination_port;
      peer_.proxied = true;
      if (header->link_id) peer_.link_id = header->link_id;
    }
    co_return true;
  }

  // Hands buffer_[0, n) to the exchange; false if the handler threw.
  bool Feed(Exchange& exchange, size_t n, std::optional<Response>& early) {
    try {
      early = exchange.OnBody(std::string_view(buffer_.get(), n));
      return true;
    } catch (const std::exception& e) {
      spdlog::error("http: handler threw in OnBody: {}", e.what());
      return false;
    }
  }

  void EnsureBuffer() {
    if (!buffer_) buffer_ = std::make_unique<char[]>(kBufferSize);
  }

  // Reads, handles and answers one request.
  asio::awaitable<Outcome> ServeOne(bool first) {
    const ServerOptions& options = server_.options;
    if (!first && read_buffer_.size() == 0) {
      // Between keep-alive requests the client may stay silent for the idle timeout.
      SetDeadline(options.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(read_buffer_.prepare(4096), kNoThrow);
      if (ec) co_return Outcome::kClose;
      read_buffer_.commit(n);
    }
    parser_.emplace();
    parser_->header_limit(options.max_header_bytes);
    parser_->body_limit(boost::none);
    SetDeadline(options.header_timeout);
    {
      auto [ec, n] = co_await bhttp::async_read_header(stream_, read_buffer_, *parser_, kNoThrow);
      if (ec == bhttp::error::header_limit) {
        co_await SendError(431, "request header fields too large\n");
        co_return Outcome::kCloseLinger;
      }
      if (IsBadInput(ec)) {
        spdlog::debug("http: bad request from {}: {}", peer_.remote_ip, ec.message());
        co_await SendError(400, "bad request: " + ec.message() + "\n");
        co_return Outcome::kCloseLinger;
      }
      if (ec) co_return Outcome::kClose;
    }

    auto& msg = parser_->get();
    const bool head_request = msg.method() == bhttp::verb::head;
    const unsigned version = msg.version();
    const bool keep_alive = parser_->keep_alive();
    bool expect_continue = false;
    Request request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    for (const auto& field : msg) {
      if (field.name() == bhttp::field::expect && EqualsIgnoreCase(field.value(), "100-continue")) {
        expect_continue = version >= 11;
      }
      request.headers.Add(std::string(field.name_string()), std::string(field.value()));
    }
    request.peer = peer_;
    if (auto length = parser_->content_length()) request.content_length = *length;
    request.chunked = parser_->chunked();

    ExchangePtr exchange;
    try {
      exchange = server_.handler.Start(std::move(request));
    } catch (const std::exception& e) {
      spdlog::error("http: handler threw in Start: {}", e.what());
    }
    if (!exchange) {
      co_await SendError(500, "internal server error\n");
      co_return Outcome::kCloseLinger;
    }

    if (!co_await AwaitExchange(*exchange, Exchange::Stage::kStarted)) {
      AbortExchange(*exchange);
      co_return Outcome::kClose;
    }

    // The body, piece by piece.
    std::optional<Response> early;
    bool failed = false;       // the handler threw
    bool body_unread = false;  // some of the request body was never read
    if (!parser_->is_done() && RefusesBody(*exchange)) {
      // Answered without reading the body: respond, then close (the body is never read).
      body_unread = true;
    } else if (!parser_->is_done()) {
      if (expect_continue) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        SetDeadline(options.write_timeout);
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kNoThrow);
        if (ec) {
          AbortExchange(*exchange);
          co_return Outcome::kClose;
        }
      }
      EnsureBuffer();
      body_start_ = std::chrono::steady_clock::now();
      uint64_t received = 0;
      if (!parser_->chunked() && parser_->content_length_remaining()) {
        // Content-Length bodies bypass the parser: what was read past the head is handed over
        // first, then the socket is read straight into the body buffer in large pieces (one
        // copy, not two; the parser would read 64 KiB at most into its own buffer first).
        uint64_t left = *parser_->content_length_remaining();
        while (left > 0) {
          size_t got = 0;
          if (read_buffer_.size() > 0) {
            got = static_cast<size_t>(std::min<uint64_t>(left, read_buffer_.size()));
            asio::buffer_copy(asio::buffer(buffer_.get(), got), read_buffer_.data());
            read_buffer_.consume(got);
          } else {
            SetBodyDeadline(received);
            auto [ec, n] = co_await stream_.async_read_some(
                asio::buffer(buffer_.get(), static_cast<size_t>(std::min<uint64_t>(left, kBufferSize))),
                kNoThrow);
            if (ec) {
              AbortExchange(*exchange);
              co_return Outcome::kClose;
            }
            got = n;
          }
          left -= got;
          received += got;
          failed = !Feed(*exchange, got, early);
          if (early || failed) break;
        }
        body_unread = left > 0;
      }
      while (!body_unread && !parser_->is_done() && !parser_->content_length_remaining()) {
        auto& body = parser_->get().body();
        body.data = buffer_.get();
        body.size = kBufferSize;
        SetBodyDeadline(received);
        auto [ec, n] = co_await bhttp::async_read_some(stream_, read_buffer_, *parser_, kNoThrow);
        if (ec == bhttp::error::need_buffer) ec = {};
        size_t got = kBufferSize - parser_->get().body().size;
        received += n;
        if (got > 0) {
          failed = !Feed(*exchange, got, early);
          if (early || failed) break;
        }
        if (IsBadInput(ec)) {
          AbortExchange(*exchange);
          co_await SendError(400, "bad request body: " + ec.message() + "\n");
          co_return Outcome::kCloseLinger;
        }
        if (ec) {
          AbortExchange(*exchange);
          co_return Outcome::kClose;
        }
      }
      if (parser_->chunked()) body_unread = !parser_->is_done();
    }
    if (failed) {
      AbortExchange(*exchange);
      co_await SendError(500, "internal server error\n");
      co_return Outcome::kCloseLinger;
    }

    Response response;
    bool close = !keep_alive;
    bool linger = false;
    if (early) {
      response = std::move(*early);
      close = true;
      linger = body_unread;
    } else {
      if (!co_await AwaitExchange(*exchange, Exchange::Stage::kBodyDone)) {
        AbortExchange(*exchange);
        co_return Outcome::kClose;
      }
      if (body_unread) {
        close = true;
        linger = true;
      }
      try {
        response = exchange->Finish();
      } catch (const std::exception& e) {
        spdlog::error("http: handler threw in Finish: {}", e.what());
        response = Response::Text(500, "text/plain", "internal server error\n");
        close = true;
      }
    }
    exchange.reset();
    close = close || response.close;
    bool ok = co_await WriteResponse(response, head_request, close, version);
    if (!ok || force_close_) co_return Outcome::kClose;
    if (close) co_return linger ? Outcome::kCloseLinger : Outcome::kClose;
    co_return Outcome::kKeepAlive;
  }

  // Whether the body must not be read: the exchange does not want it, or only means to drop
  // it and it is larger than it and the server are willing to read for nothing.
  bool RefusesBody(const Exchange& exchange) {
    if (!exchange.WantsBody()) return true;
    auto ignored = exchange.IgnoresBody();
    if (!ignored) return false;
    uint64_t limit = std::min(*ignored, server_.options.max_discard_bytes);
    auto length = parser_->content_length();
    return parser_->chunked() || !length || *length > limit;
  }

  // The deadline of the next body read, `received` bytes into the body: no longer than the
  // idle timeout, and no later than the minimum rate allows.
  void SetBodyDeadline(uint64_t received) {
    const ServerOptions& o = server_.options;
    SteadyTime at = std::chrono::steady_clock::now() + o.idle_timeout;
    if (o.min_body_rate > 0) {
      auto allowed = std::chrono::milliseconds(received / o.min_body_rate * 1000 +
                                               received % o.min_body_rate * 1000 / o.min_body_rate);
      at = std::min(at, body_start_ + o.body_grace + allowed);
    }
    SetDeadlineAt(at);
  }

  // Exchange::Await for `stage`: parks the session (no thread held) until the exchange's
  // `ready` runs, as often as the exchange asks (bounded). False when the connection was closed
  // meanwhile (timeout, Stop) or the exchange never settles.
  asio::awaitable<bool> AwaitExchange(Exchange& exchange, Exchange::Stage stage) {
    auto self = this->shared_from_this();
    for (int round = 0; round < kMaxAwaitRounds; ++round) {
      const uint64_t seq = ++wait_seq;
      woken = false;
      bool later = false;
      try {
        std::weak_ptr<Connection> weak = self;
        later = exchange.Await(stage, [weak, seq, poster = server_.poster] {
          poster->Wake(weak, seq);
        });
      } catch (const std::exception& e) {
        spdlog::error("http: handler threw in Await: {}", e.what());
        co_return false;
      }
      if (!later) co_return true;
      SetDeadline(server_.options.idle_timeout);
      while (!woken && Socket().is_open()) {
        wake.expires_at(SteadyTime::max());
        co_await wake.async_wait(kNoThrow);
      }
      if (!woken) co_return false;
    }
    spdlog::error("http: an exchange kept waiting; closing the connection");
    co_return false;
  }

  void AbortExchange(Exchange& exchange) {
    try {
      exchange.Abort();
    } catch (const std::exception& e) {
      spdlog::error("http: handler threw in Abort: {}", e.what());
    }
  }

  asio::awaitable<void> SendError(int status, std::string text) {
    Response response = Response::Text(status, "text/plain", std::move(text));
    co_await WriteResponse(response, false, true, 11);
  }

  // Formats the head of `response` into head_. Returns whether a body follows.
  bool FormatHead(const Response& response, bool head_request, bool close, unsigned version) {
    const int status = response.status;
    head_.clear();
    head_ += "HTTP/1.1 ";
    AppendNumber(head_, static_cast<uint64_t>(status));
    head_ += ' ';
    std::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    head_ += reason == "<unknown-status>" ? std::string_view("Unknown") : reason;
    head_ += "\r\n";
    bool has_server = false;
    for (const auto& [name, value] : response.headers.fields()) {
      if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
          EqualsIgnoreCase(name, "Connection")) {
        continue;
      }
      if (name.empty() || name.find_first_of("\r\n: ") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        spdlog::warn("http: dropping malformed response header '{}'", name);
        continue;
      }
      has_server = has_server || EqualsIgnoreCase(name, "Server");
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
    const bool bodiless_status = status < 200 || status == 204 || status == 304;
    if (!bodiless_status) {
      head_ += "Content-Length: ";
      AppendNumber(head_, response.BodySize());
      head_ += "\r\n";
    }
    if (!has_server && !server_.options.server_header.empty()) {
      head_ += "Server: ";
      head_ += server_.options.server_header;
      head_ += "\r\n";
    }
    if (close) {
      head_ += "Connection: close\r\n";
    } else if (version < 11) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
    return !head_request && !bodiless_status && response.BodySize() > 0;
  }

  // Writes `response`. Returns false when the connection failed (it must then be closed).
  asio::awaitable<bool> WriteResponse(Response& response, bool head_request, bool close,
                                      unsigned version) {
    if (std::holds_alternative<LengthOnly>(response.body) && !head_request &&
        response.BodySize() > 0) {
      // The client expects bytes we do not have; the session ends after the head.
      spdlog::warn("http: LengthOnly body in answer to a non-HEAD request");
      close = true;
      force_close_ = true;
    }
    const bool send_body = FormatHead(response, head_request, close, version);
    SetDeadline(server_.options.write_timeout);
    if (!send_body || std::holds_alternative<LengthOnly>(response.body)) {
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head_), kNoThrow);
      co_return !ec;
    }
    if (auto* text = std::get_if<std::string>(&response.body)) {
      if (text->size() <= 16 * 1024) {
        head_ += *text;
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head_), kNoThrow);
        co_return !ec;
      }
      std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(*text)};
      auto [ec, n] = co_await asio::async_write(stream_, buffers, kNoThrow);
      co_return !ec;
    }
    const FileBody& file = std::get<FileBody>(response.body);
    if (file.stream) co_return co_await WriteStream(file);
    if constexpr (kTls) {
      co_return co_await WriteFileTls(file);
    } else {
      co_return co_await SendFile(file);
    }
  }

  // A stream body (a pipe from a remote store): the head, then the pipe's bytes as they arrive,
  // read asynchronously in kBufferSize pieces (plain and TLS alike). A pipe that ends before
  // `length` bytes (the store failed, or found the blob corrupt) ends the connection.
  asio::awaitable<bool> WriteStream(const FileBody& file) {
    const auto timeout = server_.options.write_timeout;
    {
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head_), kNoThrow);
      if (ec) co_return false;
    }
    int fd = ::fcntl(file.fd.get(), F_DUPFD_CLOEXEC, 0);  // the descriptor object owns a copy
    if (fd < 0) {
      spdlog::error("http: stream body: dup: {}", std::strerror(errno));
      co_return false;
    }
    asio::posix::stream_descriptor pipe(co_await asio::this_coro::executor, fd);
    EnsureBuffer();
    uint64_t left = file.length;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, kBufferSize));
      auto [rec, got] =
          co_await pipe.async_read_some(asio::buffer(buffer_.get(), want), kNoThrow);
      if (rec) {
        spdlog::error("http: stream body ended {} bytes short: {}", left,
                      rec == asio::error::eof ? "end of stream" : rec.message());
        co_return false;
      }
      SetDeadline(timeout);
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(buffer_.get(), got), kNoThrow);
      if (ec) co_return false;
      left -= got;
    }
    co_return true;
  }

  // Under TLS: the head, then the file in kBufferSize chunks.
  asio::awaitable<bool> WriteFileTls(const FileBody& file) {
    const auto timeout = server_.options.write_timeout;
    {
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(head_), kNoThrow);
      if (ec) co_return false;
    }
    EnsureBuffer();
    uint64_t offset = file.offset;
    uint64_t left = file.length;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, kBufferSize));
      ssize_t got = ::pread(file.fd.get(), buffer_.get(), want, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        spdlog::error("http: reading response file: {}",
                      got == 0 ? "file shorter than its length" : std::strerror(errno));
        co_return false;
      }
      SetDeadline(timeout);
      auto [ec, n] = co_await asio::async_write(
          stream_, asio::buffer(buffer_.get(), static_cast<size_t>(got)), kNoThrow);
      if (ec) co_return false;
      offset += static_cast<uint64_t>(got);
      left -= static_cast<uint64_t>(got);
    }
    co_return true;
  }

  // Waits until the socket is writable (or the write timeout closes it).
  asio::awaitable<bool> WaitWritable() {
    SetDeadline(server_.options.write_timeout);
    auto [ec] = co_await Socket().async_wait(tcp::socket::wait_write, kNoThrow);
    co_return !ec;
  }

  // Plain TCP: the head (with MSG_MORE so it shares a packet with the file), then sendfile(2).
  asio::awaitable<bool> SendFile(const FileBody& file) {
    tcp::socket& socket = Socket();
    error_code ec;
    socket.native_non_blocking(true, ec);
    if (ec) co_return false;
    const int fd = socket.native_handle();
    size_t sent = 0;
    while (sent < head_.size()) {
      ssize_t n = ::send(fd, head_.data() + sent, head_.size() - sent, MSG_MORE | MSG_NOSIGNAL);
      if (n >= 0) {
        sent += static_cast<size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!co_await WaitWritable()) co_return false;
      } else if (errno != EINTR) {
        co_return false;
      }
    }
    off_t offset = static_cast<off_t>(file.offset);
    uint64_t left = file.length;
    uint64_t since_yield = 0;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, 1u << 30));
      ssize_t n = ::sendfile(fd, file.fd.get(), &offset, want);
      if (n > 0) {
        left -= static_cast<uint64_t>(n);
        since_yield += static_cast<uint64_t>(n);
        if (since_yield >= kSendfileSlice && left > 0) {
          since_yield = 0;
          co_await asio::post(Socket().get_executor(), asio::use_awaitable);
        }
      } else if (n == 0) {
        spdlog::error("http: sendfile: file shorter than its length");
        co_return false;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        since_yield = 0;
        if (!co_await WaitWritable()) co_return false;
      } else if (errno != EINTR) {
        spdlog::debug("http: sendfile to {}: {}", peer_.remote_ip, std::strerror(errno));
        co_return false;
      }
    }
    co_return true;
  }

  // Stops sending, then discards what the client still sends (for a while), so that unread
  // request bytes do not make the kernel reset the connection before the client reads our
  // answer.
  asio::awaitable<void> LingeringClose() {
    error_code ec;
    Socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    EnsureBuffer();
    SetDeadline(std::min<std::chrono::milliseconds>(server_.options.idle_timeout, kLingerTime));
    size_t discarded = 0;
    while (discarded < kLingerBytes) {
      auto [rec, n] =
          co_await Socket().async_read_some(asio::buffer(buffer_.get(), kBufferSize), kNoThrow);
      if (rec) break;
      discarded += n;
    }
  }

  ServerState& server_;
  Stream stream_;
  Peer peer_;
  beast::flat_buffer read_buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::string head_;                 // the response head being written
  std::unique_ptr<char[]> buffer_;   // body pieces and TLS file chunks (kBufferSize)
  bool force_close_ = false;         // a response was framed wrongly; do not reuse the stream
  bool proxy_protocol_ = false;      // a PROXY v2 header precedes everything else
  SteadyTime body_start_;            // when reading the current request's body began
};

}  // namespace

struct Server::Impl : ServerState {
  using ServerState::ServerState;
};

ServerState::Admission ServerState::Register(const std::shared_ptr<Connection>& conn,
                                             std::string source) {
  std::lock_guard lock(mu);
  if (stopping) return Admission::kStopping;
  if (options.max_connections > 0 && conns.size() >= options.max_connections) {
    return Admission::kTooMany;
  }
  if (!source.empty() && options.max_connections_per_source > 0) {
    auto it = per_source.find(source);
    if (it != per_source.end() && it->second >= options.max_connections_per_source) {
      return Admission::kTooMany;
    }
    ++per_source[source];
    conn->source = std::move(source);
  }
  conns.insert(conn);
  return Admission::kAccepted;
}

bool ServerState::ClaimSource(Connection& conn, std::string source) {
  std::lock_guard lock(mu);
  if (options.max_connections_per_source == 0 || !conn.source.empty()) return true;
  size_t& n = per_source[source];
  if (n >= options.max_connections_per_source) return false;
  ++n;
  conn.source = std::move(source);
  return true;
}

void ServerState::Unregister(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mu);
  conns.erase(conn);
  if (conn->source.empty()) return;
  auto it = per_source.find(conn->source);
  if (it != per_source.end() && --it->second == 0) per_source.erase(it);
}

SSL_CTX* ServerState::DefaultTlsContext() {
  if (!tls) return nullptr;
  SSL_CTX* ctx = tls->DefaultContext();
  if (!ctx) return nullptr;
  std::lock_guard lock(tls_mu);
  if (ctx != callback_ctx) {
    SSL_CTX_set_tlsext_servername_callback(ctx, ServerNameCallback);
    SSL_CTX_set_tlsext_servername_arg(ctx, tls);
    callback_ctx = ctx;
  }
  return ctx;
}

void ServerState::StartSession(tcp::socket socket, const Listener& listener) {
  const ListenerOptions& options = listener.options;
  // The source, unless a PROXY header will name it (Session::Run counts it then).
  std::string remote_ip, source;
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (!ec) remote_ip = IpString(remote.address());
  if (options.proxy_protocol) {
    // Only a configured forwarder may say who the client is: refuse anyone else unread.
    if (!FromForwarder(listener.forwarders, remote_ip)) {
      spdlog::info("http: refusing a connection from {} on a PROXY listener: not a forwarder",
                   remote_ip);
      return;  // the socket closes here
    }
  } else {
    source = SourceKey(options.link_id, remote_ip);
  }
  std::shared_ptr<Connection> conn;
  asio::awaitable<void> (*run)(std::shared_ptr<Connection>) = nullptr;
  if (options.tls) {
    using TlsStream = asio::ssl::stream<tcp::socket>;
    SSL_CTX* ctx = DefaultTlsContext();
    SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
    if (!ssl) {
      spdlog::error("http: no TLS context; dropping connection");
      return;
    }
    conn = std::make_shared<Session<TlsStream>>(*this, TlsStream(std::move(socket), ssl), options);
    run = [](std::shared_ptr<Connection> c) {
      return static_cast<Session<TlsStream>&>(*c).Run();
    };
  } else {
    conn = std::make_shared<Session<tcp::socket>>(*this, std::move(socket), options);
    run = [](std::shared_ptr<Connection> c) {
      return static_cast<Session<tcp::socket>&>(*c).Run();
    };
  }
  switch (Register(conn, std::move(source))) {
    case Admission::kAccepted:
      break;
    case Admission::kStopping:
      return;  // the socket closes with conn
    case Admission::kTooMany:
      spdlog::debug("http: too many connections; refusing one from {}", remote_ip);
      if (!options.tls) {
        // Best effort, never waiting: a fresh socket's send buffer has room for this.
        (void)::send(conn->Socket().native_handle(), kTooManyConnections.data(),
                     kTooManyConnections.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      }
      conn->Close();
      return;
  }
  auto ex = conn->timer.get_executor();
  asio::co_spawn(ex, run(conn), [](std::exception_ptr e) { LogException("session", e); });
  asio::co_spawn(ex, Watchdog(conn), [](std::exception_ptr e) { LogException("watchdog", e); });
}

Result<uint16_t> ServerState::AddListener(std::shared_ptr<Listener> listener) {
  if (listener->options.tls && !tls) {
    return Fail(Code::kInvalidArgument, "TLS listener without a TLS context provider");
  }
  if (listener->options.proxy_protocol) {
    if (listener->options.proxy_sources.empty()) {
      return Fail(Code::kInvalidArgument,
                  "a PROXY protocol listener needs its forwarders (proxy_sources)");
    }
    for (const auto& text : listener->options.proxy_sources) {
      COVE_ASSIGN_OR_RETURN(auto range, ForwarderRange::Parse(text));
      listener->forwarders.push_back(range);
    }
  }
  error_code ec;
  auto local = listener->acceptor.local_endpoint(ec);
  if (ec) return Fail(Code::kIOError, "getsockname: " + ec.message());
  {
    std::lock_guard lock(mu);
    if (stopping) return Fail(Code::kFailedPrecondition, "server is stopped");
    listeners.push_back(listener);
  }
  asio::co_spawn(listener->acceptor.get_executor(),
                 http::AcceptLoop(listener, listener->acceptor, ioc, "http",
                                  [this, listener](tcp::socket socket) {
                                    StartSession(std::move(socket), *listener);
                                  }),
                 [](std::exception_ptr e) { LogException("accept loop", e); });
  return local.port();
}

// ---------------------------------------------------------------------------------------------

Server::Server(Handler& handler, TlsContextProvider* tls, ServerOptions options)
    : impl_(std::make_unique<Impl>(handler, tls, std::move(options))) {}

Server::~Server() {
  Stop();
  impl_->poster->Shut();
}

Result<uint16_t> Server::Listen(const ListenerOptions& options) {
  error_code ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec) return Fail(Code::kInvalidArgument, "bad listen address '" + options.address + "'");
  auto listener =
      std::make_shared<Impl::Listener>(asio::any_io_executor(asio::make_strand(impl_->ioc)));
  listener->options = options;
  tcp::endpoint endpoint(address, options.port);
  tcp::acceptor& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail(Code::kIOError,
                "listen on " + options.address + ":" + std::to_string(options.port) + ": " +
                    ec.message());
  }
  return impl_->AddListener(std::move(listener));
}

Result<uint16_t> Server::Adopt(UniqueFd listening_socket, const ListenerOptions& options) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(listening_socket.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Fail(Code::kIOError, std::string("getsockname: ") + std::strerror(errno));
  }
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) {
    return Fail(Code::kInvalidArgument, "adopted socket is not TCP/IP");
  }
  auto listener =
      std::make_shared<Impl::Listener>(asio::any_io_executor(asio::make_strand(impl_->ioc)));
  listener->options = options;
  error_code ec;
  listener->acceptor.assign(addr.ss_family == AF_INET ? tcp::v4() : tcp::v6(),
                            listening_socket.get(), ec);
  if (ec) return Fail(Code::kIOError, "adopt listening socket: " + ec.message());
  listening_socket.Release();
  return impl_->AddListener(std::move(listener));
}

void Server::Start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started || impl_->stopping) return;
  impl_->started = true;
  int n = std::max(1, impl_->options.threads);
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { RunIoContext(impl->ioc, "http"); });
  }
}

void Server::Stop() {
  std::vector<std::shared_ptr<Impl::Listener>> listeners;
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    listeners = impl_->listeners;
    conns.assign(impl_->conns.begin(), impl_->conns.end());
  }
  for (auto& listener : listeners) {
    asio::post(listener->acceptor.get_executor(), [listener] {
      error_code ec;
      listener->acceptor.close(ec);
    });
  }
  for (auto& conn : conns) {
    asio::post(conn->timer.get_executor(), [conn] {
      conn->stopping = true;
      conn->Close();
    });
  }
  impl_->work.reset();
  if (impl_->threads.empty()) {
    // Never started: finish the posted work here so every coroutine ends.
    impl_->ioc.restart();
    impl_->ioc.run();
  }
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  std::lock_guard lock(impl_->mu);
  impl_->listeners.clear();
}

}  // namespace cove::http
