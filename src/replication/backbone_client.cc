#include "replication/backbone_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "common/ascii.h"

namespace cove::replication {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

bool IsIp(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

constexpr size_t kPiece = 256 * 1024;

}  // namespace

struct BackboneClient::Impl {
  asio::io_context io;
  std::optional<ssl::context> tls;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::atomic<bool> aborted{false};
  std::string tls_error;  // why the TLS context could not be made

  bool connected() const { return plain || secure; }
  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  void Drop() {
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Runs the io_context until the operation started by `start` completes (its handler sets
  // `ec`), the deadline passes (the stream's timer cancels it) or Abort() stops the context.
  template <typename Start>
  beast::error_code Run(Start start) {
    beast::error_code ec = asio::error::would_block;
    bool done = false;
    start([&](beast::error_code e) {
      ec = e;
      done = true;
    });
    io.restart();
    if (!aborted) io.run();
    if (!done || aborted) {
      // Close the socket so the pending operation completes (aborted), and let its handlers run
      // before the stream they refer to is destroyed.
      if (connected()) {
        beast::error_code ignored;
        lowest().socket().close(ignored);
      }
      while (!done) {
        io.restart();
        if (io.run_one() == 0) break;
      }
      io.restart();
      io.poll();
      Drop();
      return asio::error::operation_aborted;
    }
    return ec;
  }

  template <typename F>
  auto WithStream(F f) {
    return secure ? f(*secure) : f(*plain);
  }
};

BackboneClient::BackboneClient(PeerEndpoint peer, ClientOptions options)
    : peer_(std::move(peer)), impl_(std::make_unique<Impl>()) {
  options_ = std::move(options);
  if (options_.ca_pem.empty()) return;
  impl_->tls.emplace(ssl::context::tls_client);
  auto& ctx = *impl_->tls;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  ctx.add_certificate_authority(asio::buffer(options_.ca_pem), ec);
  if (ec) impl_->tls_error = "cannot load the backbone CA: " + ec.message();
  ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
}

BackboneClient::~BackboneClient() = default;

void BackboneClient::Abort() {
  impl_->aborted = true;
  impl_->io.stop();
}

Status BackboneClient::Connect(std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  if (im.aborted) return Fail(Code::kUnavailable, "aborted");
  if (!im.tls_error.empty()) return Fail(Code::kUnavailable, im.tls_error);
  std::string where = peer_.address + ":" + std::to_string(peer_.port);
  beast::error_code ec;
  auto address = asio::ip::make_address(peer_.address, ec);
  std::vector<tcp::endpoint> endpoints;
  if (!ec) {
    endpoints.emplace_back(address, peer_.port);
  } else {
    tcp::resolver resolver(im.io);
    auto results = resolver.resolve(peer_.address, std::to_string(peer_.port), ec);
    if (ec) return Fail(Code::kUnavailable, "cannot resolve " + where + ": " + ec.message());
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  if (im.tls) {
    im.secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(im.io, *im.tls);
    SSL* ssl = im.secure->native_handle();
    const std::string& name = peer_.server_name.empty() ? peer_.address : peer_.server_name;
    if (!IsIp(name)) {
      SSL_set_tlsext_host_name(ssl, name.c_str());
      SSL_set1_host(ssl, name.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    }
  } else {
    im.plain = std::make_unique<beast::tcp_stream>(im.io);
  }
  im.lowest().expires_after(timeout);
  ec = im.Run([&](auto done) {
    im.lowest().async_connect(endpoints,
                              [done](beast::error_code e, const tcp::endpoint&) { done(e); });
  });
  if (ec) {
    im.Drop();
    return Fail(Code::kUnavailable, "cannot reach " + where + ": " + ec.message());
  }
  if (im.secure) {
    im.lowest().expires_after(timeout);
    ec = im.Run([&](auto done) {
      im.secure->async_handshake(ssl::stream_base::client,
                                 [done](beast::error_code e) { done(e); });
    });
    if (ec) {
      std::string reason = ec.message();
      if (im.secure) {
        long verify = SSL_get_verify_result(im.secure->native_handle());
        if (verify != X509_V_OK) reason = X509_verify_cert_error_string(verify);
      }
      im.Drop();
      return Fail(Code::kUnavailable, "TLS with " + where + " failed: " + reason);
    }
  }
  return Ok();
}

Result<ClientResponse> BackboneClient::Exchange(const std::string& method,
                                                const std::string& target,
                                                std::chrono::milliseconds timeout,
                                                uint64_t max_body, const Sink* sink) {
  Impl& im = *impl_;
  std::string where = peer_.address + ":" + std::to_string(peer_.port);
  // A kept-alive connection may have been closed by the peer meanwhile: one more try on a
  // fresh one when nothing of the answer arrived.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = im.connected();
    if (!reused) COVE_RETURN_IF_ERROR(Connect(timeout));
    bhttp::request<bhttp::empty_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, peer_.server_name.empty() ? where : peer_.server_name);
    req.set(bhttp::field::user_agent, "cove-replication");
    req.set(bhttp::field::authorization, "Bearer " + options_.backbone_key);
    req.keep_alive(true);
    im.lowest().expires_after(timeout);
    beast::error_code ec = im.Run([&](auto done) {
      im.WithStream([&](auto& s) {
        bhttp::async_write(s, req, [done](beast::error_code e, size_t) { done(e); });
      });
    });
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);
    if (method == "HEAD") parser.skip(true);
    if (!ec) {
      ec = im.Run([&](auto done) {
        im.WithStream([&](auto& s) {
          bhttp::async_read_header(s, im.buffer, parser,
                                   [done](beast::error_code e, size_t) { done(e); });
        });
      });
    }
    if (ec) {
      im.Drop();
      if (reused && !im.aborted) continue;
      return Fail(Code::kUnavailable, method + " " + target + " at " + where + ": " +
                                          (im.aborted ? "aborted" : ec.message()));
    }
    ClientResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      out.headers[AsciiLower(std::string(field.name_string()))] = std::string(field.value());
    }
    bool to_sink = sink != nullptr && out.status == 200;
    std::string piece(kPiece, '\0');
    while (!parser.is_done()) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      ec = im.Run([&](auto done) {
        im.WithStream([&](auto& s) {
          bhttp::async_read(s, im.buffer, parser, [done](beast::error_code e, size_t) { done(e); });
        });
      });
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        im.Drop();
        return Fail(Code::kUnavailable,
                    method + " " + target + " at " + where + ": reading the body: " + ec.message());
      }
      std::string_view got(piece.data(), piece.size() - parser.get().body().size);
      if (to_sink) {
        Status taken = (*sink)(got);
        if (!taken) {
          im.Drop();
          return Fail(std::move(taken).error());
        }
      } else {
        if (out.body.size() + got.size() > max_body) {
          im.Drop();
          return Fail(Code::kUnavailable, method + " " + target + " at " + where +
                                              ": answer larger than " + std::to_string(max_body));
        }
        out.body.append(got);
      }
      im.lowest().expires_after(timeout);
    }
    if (!parser.keep_alive()) im.Drop();
    return out;
  }
  return Fail(Code::kUnavailable, method + " " + target + " at " + where + ": failed");
}

Result<ClientResponse> BackboneClient::Send(const std::string& method, const std::string& target,
                                            std::chrono::milliseconds timeout, uint64_t max_body) {
  return Exchange(method, target, timeout, max_body, nullptr);
}

Result<ClientResponse> BackboneClient::Stream(const std::string& target,
                                              std::chrono::milliseconds timeout, const Sink& sink) {
  return Exchange("GET", target, timeout, 1 << 20, &sink);
}

}  // namespace cove::replication
