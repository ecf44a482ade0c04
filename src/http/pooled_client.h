// PooledClient: a blocking HTTP/1.1 client that keeps connections to one endpoint alive and
// reuses them, for callers that make many small requests to one server (the Azure blob store:
// every flushed block is a request). Plain or TLS, verified as HttpClient does (client.h).
//
// Each Send takes an idle connection from the pool (or opens one), writes the request, reads the
// response and puts the connection back when the exchange ended cleanly and the server did not
// say `Connection: close`. A request that fails on a REUSED connection before any response byte
// arrived (the server closed an idle keep-alive connection) is sent once more on a new
// connection: the server did not process it. Every read and write has the pool's timeout.
//
// A response body is either collected (HttpResponse::body) or handed piece by piece to a
// BodySink as it arrives (a streamed GET): a sink that returns an error aborts the exchange and
// the connection is closed.
//
// Thread-safety: Send may be called from any number of threads at once; each exchange uses its
// own connection. The pool keeps at most `max_idle` idle connections.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "http/client.h"

namespace cove::http {

struct PooledRequest {
  std::string method;
  std::string target;  // path and query, already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // sent with Content-Length (also 0 for PUT/POST)
};

// Receives the body of a response in order; an error aborts the exchange.
using BodySink = std::function<Status(std::string_view)>;

class PooledClient {
 public:
  // `endpoint` as HttpClient::Create's ("http://HOST:PORT" or "https://HOST[:PORT]").
  static Result<std::unique_ptr<PooledClient>> Create(const std::string& endpoint,
                                                      std::chrono::milliseconds timeout,
                                                      HttpsOptions tls = {},
                                                      size_t max_idle = 16);
  ~PooledClient();

  // Sends `request`. With a `sink`, the body of a 2xx response goes to it (HttpResponse::body
  // stays empty); other bodies (error descriptions) are always collected, up to 1 MiB.
  // kUnavailable when the server cannot be reached, kIOError when the exchange broke midway
  // (the server may or may not have acted on it), the sink's error if it refused a piece.
  Result<HttpResponse> Send(const PooledRequest& request, const BodySink* sink = nullptr);

  const std::string& endpoint() const { return endpoint_; }
  // Host header value ("host" or "host:port").
  const std::string& host_header() const { return host_header_; }

  class Connection;  // one TCP (or TLS) connection; defined in pooled_client.cc

 private:
  PooledClient() = default;
  Result<std::unique_ptr<Connection>> Connect();
  void Return(std::unique_ptr<Connection> connection);

  std::string endpoint_, host_, port_, host_header_;
  bool https_ = false;
  std::chrono::milliseconds timeout_{};
  HttpsOptions tls_;
  size_t max_idle_ = 16;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_context_;

  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace cove::http
