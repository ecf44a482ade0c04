// Transport: the HTTP(S) requests a pull makes — to the registry, its token endpoint, its data
// endpoint (another host, a signed URL) and the machine's instance metadata service — with the
// response body either buffered (bounded) or streamed to a sink, so a layer is never held whole
// in memory.
//
// HttpsTransport verifies servers as curl does (and as http::HttpClient, which the CLI uses):
// the chain against a CA bundle (TransportOptions::ca_file, default http::DefaultCaFile()), SNI
// and the certificate's DNS or IP names checked against the URL's host. Plain http:// is only
// for IMDS (169.254.169.254). One connection per request; every read has a deadline.
//
// A Transport is the seam tests replace (a fake answering from a table).
//
// Thread-safety: a Transport is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cove::runtime {

struct Url {
  bool https = true;
  std::string host;    // without brackets
  std::string port;    // "443" / "80" unless given
  std::string target;  // path and query, "/" at least
  // "https://host[:port]" (the port only when not the default).
  std::string origin() const;
  std::string str() const { return origin() + target; }
};

// Parses an absolute http:// or https:// URL. kInvalidArgument otherwise.
Result<Url> ParseUrl(std::string_view text);
// Resolves a Location header against `base` (absolute, or a path on the same origin).
Result<Url> ResolveLocation(const Url& base, std::string_view location);

struct FetchRequest {
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;  // sent when non-empty or when method is POST/PUT
};

struct FetchResponse {
  int status = 0;
  std::string reason;                          // the status line's text ("Unauthorized")
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // empty when streamed to the sink
};

// Receives a 2xx response's body in order; an error stops the transfer and is returned as is.
using BodySink = std::function<Status(std::string_view chunk)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `req` and returns the response, whatever its status. A 2xx body goes to `sink` when
  // one is given; other bodies are buffered. kResourceExhausted when a buffered body exceeds
  // `buffer_limit`; kUnavailable (reason "CONNECT") when the host cannot be resolved, reached or
  // verified; kIOError (reason "CONNECT" too) when the exchange fails midway; the sink's error when
  // it refuses.
  virtual Result<FetchResponse> Fetch(const FetchRequest& req, const BodySink* sink,
                                      uint64_t buffer_limit) = 0;
};

struct TransportOptions {
  std::string ca_file;     // "" = http::DefaultCaFile()
  std::string connect_to;  // "ADDR:PORT" to connect to for every https:// host (tests)
  std::chrono::milliseconds timeout = std::chrono::seconds(60);  // per read/write
};

std::unique_ptr<Transport> NewHttpsTransport(TransportOptions options);

// The Error for a response that is not what was wanted (any non-2xx status):
// the registry's OCI error body {"errors":[{"code","message"}]} gives reason = its code and
// message = its message, verbatim; an OAuth error body {"error","error_description"} likewise;
// otherwise reason is UNAUTHORIZED (401), DENIED (403), NOT_FOUND (404), TOOMANYREQUESTS (429),
// UNAVAILABLE (5xx) or UNKNOWN, with the status line as message. http_status is the status.
Error ResponseError(const FetchResponse& res);

}  // namespace cove::runtime
