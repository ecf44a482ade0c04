// HttpsTransport (transport.h) on Beast, verifying servers as http::HttpClient does.
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
#include "http/client.h"
#include "runtime/transport.h"

namespace cove::runtime {

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

Error Connect(std::string message) {
  Error e{Code::kUnavailable, std::move(message)};
  e.reason = "CONNECT";
  return e;
}

Error Midway(std::string message) {
  Error e{Code::kIOError, std::move(message)};
  e.reason = "CONNECT";
  return e;
}

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

class HttpsTransport final : public Transport {
 public:
  explicit HttpsTransport(TransportOptions options) : options_(std::move(options)) {}

  Result<FetchResponse> Fetch(const FetchRequest& r, const BodySink* sink,
                              uint64_t buffer_limit) override {
    COVE_ASSIGN_OR_RETURN(Url url, ParseUrl(r.url));
    bhttp::request<bhttp::string_body> req;
    req.method_string(r.method);
    req.target(url.target);
    req.version(11);
    bool default_port = url.https ? url.port == "443" : url.port == "80";
    std::string host_field =
        url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    req.set(bhttp::field::host, default_port ? host_field : host_field + ":" + url.port);
    req.set(bhttp::field::user_agent, "cove-pull");
    req.set(bhttp::field::connection, "close");
    for (const auto& [name, value] : r.headers) req.set(name, value);
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT") req.body() = r.body;
    req.prepare_payload();

    boost::asio::io_context io;
    beast::error_code ec;
    tcp::resolver resolver(io);
    COVE_ASSIGN_OR_RETURN(auto connect, http::ConnectAddress(url.host, url.port,
                                                             url.https ? options_.connect_to : ""));
    auto addresses = resolver.resolve(connect.first, connect.second, ec);
    if (ec) return Fail(Connect("cannot resolve " + url.host + ": " + ec.message()));
    if (!url.https) {
      beast::tcp_stream stream(io);
      stream.expires_after(options_.timeout);
      stream.connect(addresses, ec);
      if (ec) return Fail(Connect("cannot reach " + url.origin() + " (" + ec.message() + ")"));
      return Exchange(stream, req, url, sink, buffer_limit);
    }
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    std::string ca = options_.ca_file.empty() ? http::DefaultCaFile() : options_.ca_file;
    ctx.load_verify_file(ca, ec);
    if (ec) return Fail(Connect("cannot load the CA bundle " + ca + ": " + ec.message()));
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    ctx.set_verify_callback(ssl::host_name_verification(url.host));
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    if (IsIpLiteral(url.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()), url.host.c_str());
    } else {
      if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
        return Fail(Connect("cannot set the TLS server name " + url.host));
      }
      SSL_set1_host(stream.native_handle(), url.host.c_str());
    }
    beast::get_lowest_layer(stream).expires_after(options_.timeout);
    beast::get_lowest_layer(stream).connect(addresses, ec);
    if (ec) return Fail(Connect("cannot reach " + url.origin() + " (" + ec.message() + ")"));
    ERR_clear_error();
    stream.handshake(ssl::stream_base::client, ec);
    if (ec) {
      return Fail(Connect("TLS handshake with " + url.origin() +
                          " failed: " + HandshakeReason(stream.native_handle(), ec)));
    }
    return Exchange(stream, req, url, sink, buffer_limit);
  }

 private:
  template <typename Stream>
  Result<FetchResponse> Exchange(Stream& stream, bhttp::request<bhttp::string_body>& req,
                                 const Url& url, const BodySink* sink, uint64_t buffer_limit) {
    auto& lowest = beast::get_lowest_layer(stream);
    beast::error_code ec;
    lowest.expires_after(options_.timeout);
    bhttp::write(stream, req, ec);
    if (ec) return Fail(Midway("sending to " + url.origin() + ": " + ec.message()));
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);
    if (req.method() == bhttp::verb::head) parser.skip(true);
    lowest.expires_after(options_.timeout);
    bhttp::read_header(stream, buffer, parser, ec);
    if (ec) return Fail(Midway("reading from " + url.origin() + ": " + ec.message()));
    FetchResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    out.reason = std::string(parser.get().reason());
    for (const auto& field : parser.get()) {
      out.headers[AsciiLower(std::string(field.name_string()))] = std::string(field.value());
    }
    bool streaming = sink != nullptr && out.status / 100 == 2;
    std::vector<char> chunk(64 * 1024);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      lowest.expires_after(options_.timeout);
      bhttp::read(stream, buffer, parser, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return Fail(Midway("reading from " + url.origin() + ": " + ec.message()));
      size_t n = chunk.size() - parser.get().body().size;
      if (n == 0) continue;
      if (streaming) {
        COVE_RETURN_IF_ERROR((*sink)(std::string_view(chunk.data(), n)));
      } else {
        if (out.body.size() + n > buffer_limit) {
          return Fail(Code::kResourceExhausted, "the answer of " + url.origin() +
                                                    " is larger than " +
                                                    std::to_string(buffer_limit) + " bytes");
        }
        out.body.append(chunk.data(), n);
      }
    }
    return out;
  }

  TransportOptions options_;
};

}  // namespace

std::unique_ptr<Transport> NewHttpsTransport(TransportOptions options) {
  return std::make_unique<HttpsTransport>(std::move(options));
}

}  // namespace cove::runtime
