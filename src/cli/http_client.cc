#include "cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "cli/args.h"

namespace cove::cli {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

Result<HttpClient> HttpClient::Create(const std::string& endpoint,
                                      std::chrono::milliseconds timeout) {
  std::string rest = endpoint;
  if (rest.rfind("http://", 0) != 0) {
    return Fail(Code::kInvalidArgument,
                "COVE_ENDPOINT must be http://HOST:PORT, got '" + endpoint + "'");
  }
  rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find('/') != std::string::npos) {
    return Fail(Code::kInvalidArgument,
                "COVE_ENDPOINT must be http://HOST:PORT, got '" + endpoint + "'");
  }
  std::string host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return HttpClient("http://" + rest, host, rest.substr(colon + 1), timeout);
}

Result<HttpResponse> HttpClient::Send(const std::string& method, const std::string& target,
                                      const std::string& body,
                                      const std::string& content_type) const {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto addresses = resolver.resolve(host_, port_, ec);
  if (ec) return Fail(Code::kUnavailable, "cannot resolve " + endpoint_ + ": " + ec.message());
  stream.expires_after(timeout_);
  stream.connect(addresses, ec);
  if (ec) {
    return Fail(Code::kUnavailable, "cannot reach coved at " + endpoint_ + " (" + ec.message() +
                                        "); is coved running? (set COVE_ENDPOINT to its address)");
  }
  bhttp::request<bhttp::string_body> req;
  req.method(bhttp::string_to_verb(method));
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, host_ + ":" + port_);
  req.set(bhttp::field::user_agent, "cove-cli");
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::connection, "close");
  if (!body.empty() || method == "PUT" || method == "POST" || method == "PATCH") {
    req.set(bhttp::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();
  bhttp::write(stream, req, ec);
  if (ec) return Fail(Code::kIOError, "sending to " + endpoint_ + ": " + ec.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  bhttp::read(stream, buffer, parser, ec);
  if (ec) return Fail(Code::kIOError, "reading from " + endpoint_ + ": " + ec.message());
  auto& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.headers[Lower(std::string(field.name_string()))] = std::string(field.value());
  }
  out.body = std::move(res.body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

}  // namespace cove::cli
