#include "http/client.h"

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
#include <cstdlib>

#include "cli/args.h"

namespace cove::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

// Writes `req` and reads the answer on an open (and, for TLS, handshaken) stream.
template <typename Stream>
Result<HttpResponse> Exchange(Stream& stream, const bhttp::request<bhttp::string_body>& req,
                              const std::string& method, const std::string& endpoint) {
  beast::error_code ec;
  bhttp::write(stream, req, ec);
  if (ec) return Fail(Code::kIOError, "sending to " + endpoint + ": " + ec.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  bhttp::read(stream, buffer, parser, ec);
  if (ec) return Fail(Code::kIOError, "reading from " + endpoint + ": " + ec.message());
  auto& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.headers[AsciiLower(std::string(field.name_string()))] = std::string(field.value());
  }
  out.body = std::move(res.body());
  return out;
}

// OpenSSL's reason for a failed handshake: the verification result when the chain or name was
// refused, else the error queue's first entry, else Asio's text.
std::string HandshakeReason(SSL* ssl, const beast::error_code& ec) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) return X509_verify_cert_error_string(verify);
  unsigned long e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    return buf;
  }
  return ec.message();
}

}  // namespace

std::string DefaultCaFile() {
  const char* env = std::getenv("SSL_CERT_FILE");
  if (env && *env) return env;
  return "/etc/ssl/certs/ca-certificates.crt";
}

Result<std::pair<std::string, std::string>> ConnectAddress(const std::string& host,
                                                           const std::string& port,
                                                           const std::string& connect_to) {
  if (connect_to.empty()) return std::pair(host, port);
  size_t colon = connect_to.rfind(':');
  if (colon == std::string::npos) {
    return Fail(Code::kInvalidArgument, "connect_to must be ADDR:PORT, got " + connect_to);
  }
  return std::pair(connect_to.substr(0, colon), connect_to.substr(colon + 1));
}

Result<HttpClient> HttpClient::Create(const std::string& endpoint,
                                      std::chrono::milliseconds timeout, HttpsOptions tls) {
  auto bad = [&] {
    return Fail(
        Code::kInvalidArgument,
        "an endpoint must be http://HOST:PORT or https://HOST[:PORT], got '" + endpoint + "'");
  };
  std::string rest;
  bool https = false;
  if (endpoint.rfind("http://", 0) == 0) {
    rest = endpoint.substr(7);
  } else if (endpoint.rfind("https://", 0) == 0) {
    rest = endpoint.substr(8);
    https = true;
  } else {
    return bad();
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) return bad();
  std::string host, port;
  size_t close = rest.rfind(']');
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && (close == std::string::npos || colon > close)) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty() || port.empty()) return bad();
  } else if (https) {
    host = rest;
    port = "443";
  } else {
    return bad();
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return HttpClient((https ? "https://" : "http://") + rest, host, port, https, timeout,
                    std::move(tls));
}

Result<HttpResponse> HttpClient::Send(const std::string& method, const std::string& target,
                                      const std::string& body, const std::string& content_type,
                                      const std::map<std::string, std::string>& headers) const {
  boost::asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  COVE_ASSIGN_OR_RETURN(auto connect, ConnectAddress(host_, port_, https_ ? tls_.connect_to : ""));
  auto addresses = resolver.resolve(connect.first, connect.second, ec);
  if (ec) return Fail(Code::kUnavailable, "cannot resolve " + endpoint_ + ": " + ec.message());

  bhttp::request<bhttp::string_body> req;
  req.method(bhttp::string_to_verb(method));
  req.target(target);
  req.version(11);
  bool default_port = https_ ? port_ == "443" : port_ == "80";
  std::string host_field = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  req.set(bhttp::field::host, default_port ? host_field : host_field + ":" + port_);
  req.set(bhttp::field::user_agent, "cove-cli");
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() || method == "PUT" || method == "POST" || method == "PATCH") {
    req.set(bhttp::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();

  if (!https_) {
    beast::tcp_stream stream(io);
    stream.expires_after(timeout_);
    stream.connect(addresses, ec);
    if (ec) {
      return Fail(Code::kUnavailable,
                  "cannot reach coved at " + endpoint_ + " (" + ec.message() +
                      "); is coved running? (set COVE_ENDPOINT to its address)");
    }
    auto out = Exchange(stream, req, method, endpoint_);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return out;
  }

  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  std::string ca = tls_.ca_file.empty() ? DefaultCaFile() : tls_.ca_file;
  ctx.load_verify_file(ca, ec);
  if (ec) {
    return Fail(Code::kUnavailable, "cannot load the CA bundle " + ca + ": " + ec.message());
  }
  ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  ctx.set_verify_callback(ssl::host_name_verification(host_));
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  if (!IsIpLiteral(host_) && !SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str())) {
    return Fail(Code::kUnavailable, "cannot set the TLS server name " + host_);
  }
  // Also checked by OpenSSL itself after the chain (X509_check_host / X509_check_ip_asc).
  if (IsIpLiteral(host_)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()), host_.c_str());
  } else {
    SSL_set1_host(stream.native_handle(), host_.c_str());
  }
  beast::get_lowest_layer(stream).expires_after(timeout_);
  beast::get_lowest_layer(stream).connect(addresses, ec);
  if (ec) {
    return Fail(Code::kUnavailable, "cannot reach " + endpoint_ + " (" + ec.message() + ")");
  }
  ERR_clear_error();
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) {
    return Fail(Code::kUnavailable, "TLS handshake with " + endpoint_ +
                                        " failed: " + HandshakeReason(stream.native_handle(), ec));
  }
  auto out = Exchange(stream, req, method, endpoint_);
  beast::error_code ignored;
  stream.shutdown(ignored);
  return out;
}

}  // namespace cove::http
