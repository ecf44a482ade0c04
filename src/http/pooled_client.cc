#include "http/pooled_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/ascii.h"

namespace cove::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr size_t kErrorBodyLimit = 1 << 20;
constexpr size_t kReadPiece = 256 << 10;

// How an exchange failed: before the server could have seen the request (a stale pooled
// connection), or after.
struct ExchangeError {
  Error error;
  bool before_response = false;
};

}  // namespace

struct PooledClient::TlsContext {
  ssl::context ctx{ssl::context::tls_client};
};

class PooledClient::Connection {
 public:
  virtual ~Connection() = default;
  // Writes `request` and reads the response; `keep_alive` says whether the connection may be
  // used again afterwards.
  virtual tl::expected<HttpResponse, ExchangeError> Exchange(
      const bhttp::request<bhttp::string_body>& request, bool head, const BodySink* sink,
      bool* keep_alive) = 0;
  bool reused = false;
};

namespace {

template <typename Stream>
class StreamConnection final : public PooledClient::Connection {
 public:
  template <typename... Args>
  StreamConnection(std::unique_ptr<boost::asio::io_context> io, std::chrono::milliseconds timeout,
                   std::string endpoint, Args&&... args)
      : io_(std::move(io)),
        stream_(*io_, std::forward<Args>(args)...),
        timeout_(timeout),
        endpoint_(std::move(endpoint)) {}

  Stream& stream() { return stream_; }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  tl::expected<HttpResponse, ExchangeError> Exchange(
      const bhttp::request<bhttp::string_body>& request, bool head, const BodySink* sink,
      bool* keep_alive) override {
    *keep_alive = false;
    beast::error_code ec;
    lowest().expires_after(timeout_);
    bhttp::write(stream_, request, ec);
    if (ec) return Broken("sending to", ec, true);
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);
    if (head) parser.skip(true);
    lowest().expires_after(timeout_);
    bhttp::read_header(stream_, buffer_, parser, ec);
    if (ec) return Broken("reading from", ec, buffer_.size() == 0);
    HttpResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      out.headers[AsciiLower(std::string(field.name_string()))] = std::string(field.value());
    }
    bool to_sink = sink != nullptr && out.status >= 200 && out.status < 300;
    std::string piece(kReadPiece, '\0');
    while (!parser.is_done()) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      lowest().expires_after(timeout_);
      bhttp::read(stream_, buffer_, parser, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return Broken("reading from", ec, false);
      std::string_view got(piece.data(), piece.size() - parser.get().body().size);
      if (got.empty()) continue;
      if (to_sink) {
        if (auto taken = (*sink)(got); !taken) {
          return tl::unexpected(ExchangeError{std::move(taken).error(), false});
        }
      } else if (out.body.size() + got.size() <= kErrorBodyLimit || out.status < 300) {
        out.body.append(got);
      }
    }
    *keep_alive = parser.keep_alive();
    return out;
  }

 private:
  tl::unexpected<ExchangeError> Broken(const char* what, const beast::error_code& ec,
                                       bool before_response) {
    return tl::unexpected(ExchangeError{
        Error{Code::kIOError, std::string(what) + " " + endpoint_ + ": " + ec.message()},
        before_response});
  }

  std::unique_ptr<boost::asio::io_context> io_;
  Stream stream_;
  std::chrono::milliseconds timeout_;
  std::string endpoint_;
  beast::flat_buffer buffer_;
};

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

PooledClient::~PooledClient() = default;

Result<std::unique_ptr<PooledClient>> PooledClient::Create(const std::string& endpoint,
                                                           std::chrono::milliseconds timeout,
                                                           HttpsOptions tls, size_t max_idle) {
  // HttpClient validates the endpoint and normalises it to scheme://host[:port].
  COVE_ASSIGN_OR_RETURN(HttpClient parsed, HttpClient::Create(endpoint, timeout, tls));
  std::unique_ptr<PooledClient> client(new PooledClient());
  client->endpoint_ = parsed.endpoint();
  client->https_ = parsed.https();
  std::string rest = client->endpoint_.substr(client->https_ ? 8 : 7);
  size_t close = rest.rfind(']');
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && (close == std::string::npos || colon > close)) {
    client->host_ = rest.substr(0, colon);
    client->port_ = rest.substr(colon + 1);
  } else {
    client->host_ = rest;
    client->port_ = "443";
  }
  client->host_header_ = rest;
  if (client->host_.size() > 2 && client->host_.front() == '[') {
    client->host_ = client->host_.substr(1, client->host_.size() - 2);
  }
  client->timeout_ = timeout;
  client->tls_ = std::move(tls);
  client->max_idle_ = max_idle;
  if (client->https_) {
    client->tls_context_ = std::make_unique<TlsContext>();
    auto& ctx = client->tls_context_->ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    std::string ca = client->tls_.ca_file.empty() ? DefaultCaFile() : client->tls_.ca_file;
    beast::error_code ec;
    ctx.load_verify_file(ca, ec);
    if (ec) {
      return Fail(Code::kUnavailable, "cannot load the CA bundle " + ca + ": " + ec.message());
    }
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    ctx.set_verify_callback(ssl::host_name_verification(client->host_));
  }
  return client;
}

Result<std::unique_ptr<PooledClient::Connection>> PooledClient::Connect() {
  auto io = std::make_unique<boost::asio::io_context>();
  beast::error_code ec;
  tcp::resolver resolver(*io);
  COVE_ASSIGN_OR_RETURN(auto connect, ConnectAddress(host_, port_, tls_.connect_to));
  auto addresses = resolver.resolve(connect.first, connect.second, ec);
  if (ec) return Fail(Code::kUnavailable, "cannot resolve " + endpoint_ + ": " + ec.message());
  if (!https_) {
    auto conn = std::make_unique<StreamConnection<beast::tcp_stream>>(std::move(io), timeout_,
                                                                      endpoint_);
    conn->lowest().expires_after(timeout_);
    conn->lowest().connect(addresses, ec);
    if (ec) return Fail(Code::kUnavailable, "cannot reach " + endpoint_ + ": " + ec.message());
    conn->lowest().socket().set_option(tcp::no_delay(true), ec);
    return std::unique_ptr<Connection>(std::move(conn));
  }
  auto conn = std::make_unique<StreamConnection<beast::ssl_stream<beast::tcp_stream>>>(
      std::move(io), timeout_, endpoint_, tls_context_->ctx);
  SSL* native = conn->stream().native_handle();
  if (IsIpLiteral(host_)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), host_.c_str());
  } else {
    if (!SSL_set_tlsext_host_name(native, host_.c_str())) {
      return Fail(Code::kUnavailable, "cannot set the TLS server name " + host_);
    }
    SSL_set1_host(native, host_.c_str());
  }
  conn->lowest().expires_after(timeout_);
  conn->lowest().connect(addresses, ec);
  if (ec) return Fail(Code::kUnavailable, "cannot reach " + endpoint_ + ": " + ec.message());
  conn->lowest().socket().set_option(tcp::no_delay(true), ec);
  ERR_clear_error();
  conn->stream().handshake(ssl::stream_base::client, ec);
  if (ec) {
    long verify = SSL_get_verify_result(native);
    std::string reason = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : ec.message();
    return Fail(Code::kUnavailable, "TLS handshake with " + endpoint_ + " failed: " + reason);
  }
  return std::unique_ptr<Connection>(std::move(conn));
}

void PooledClient::Return(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) {
    connection->reused = true;
    idle_.push_back(std::move(connection));
  }
}

Result<HttpResponse> PooledClient::Send(const PooledRequest& request, const BodySink* sink) {
  bhttp::request<bhttp::string_body> req;
  req.method(bhttp::string_to_verb(request.method));
  req.target(request.target);
  req.version(11);
  req.set(bhttp::field::host, host_header_);
  req.set(bhttp::field::user_agent, "coved");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = std::string(request.body);
  req.keep_alive(true);
  req.prepare_payload();
  if (request.body.empty() && (request.method == "PUT" || request.method == "POST")) {
    req.set(bhttp::field::content_length, "0");
  }
  bool head = request.method == "HEAD";
  while (true) {
    std::unique_ptr<Connection> connection;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        connection = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!connection) {
      COVE_ASSIGN_OR_RETURN(connection, Connect());
    }
    bool keep_alive = false;
    auto response = connection->Exchange(req, head, sink, &keep_alive);
    if (response) {
      if (keep_alive) Return(std::move(connection));
      return *std::move(response);
    }
    // A stale idle connection: the server never saw the request; try a fresh one once.
    if (connection->reused && response.error().before_response) continue;
    return Fail(std::move(response).error().error);
  }
}

}  // namespace cove::http
