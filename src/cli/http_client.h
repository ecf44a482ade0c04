// HttpClient: a small blocking HTTP/1.1 client for talking to coved's control plane.
//
// One TCP connection per request (the CLI makes a handful of calls per command), plain HTTP on
// loopback, a deadline on every request. The endpoint is "http://HOST:PORT" (COVE_ENDPOINT);
// HTTPS is not supported (coved's ARM API listens on plain HTTP, loopback only).
//
// Thread-safety: an HttpClient may be used by one thread at a time.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/error.h"

namespace cove::cli {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

class HttpClient {
 public:
  // Parses `endpoint` ("http://127.0.0.1:7780", trailing slash allowed).
  // Returns kInvalidArgument when it is not an http:// URL with a host and port.
  static Result<HttpClient> Create(const std::string& endpoint,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(60));

  // Sends one request; `target` is the path and query. A body is sent with `content_type`
  // (application/json unless said otherwise; OAuth token requests send form bodies).
  // Returns the response (any status), or kUnavailable when coved cannot be reached,
  // kIOError when the exchange fails midway.
  Result<HttpResponse> Send(const std::string& method, const std::string& target,
                            const std::string& body,
                            const std::string& content_type = "application/json") const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  HttpClient(std::string endpoint, std::string host, std::string port,
             std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)),
        host_(std::move(host)),
        port_(std::move(port)),
        timeout_(timeout) {}

  std::string endpoint_, host_, port_;
  std::chrono::milliseconds timeout_;
};

}  // namespace cove::cli
