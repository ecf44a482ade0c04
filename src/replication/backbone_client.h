// BackboneClient: the replication's HTTP/1.1 client to one peer region over the backbone,
// TLS or plain, with a kept-alive connection and streamed response bodies.
//
// TLS: the peer's certificate must chain to the CA given (ClientOptions::ca_pem; coved's own CA
// on one machine) and name the peer: its `server_name` when set (also sent as SNI), else its
// address (an IP SAN for an IP address, as X509_check_ip; a DNS SAN for a name). An empty
// ca_pem means plain HTTP (loopback tests and the insecure lab mode only).
//
// Every request carries "Authorization: Bearer <backbone key>". Each read and write has the
// request's deadline; Abort() (from any thread) ends a request in flight at once (the pull loop
// stops without waiting out a long poll).
//
// Errors: kUnavailable when the peer cannot be reached or verified or the exchange fails (the
// caller retries later); the HTTP status of an answer is the caller's business.
//
// Thread-safety: one thread drives a client at a time; Abort() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cove::replication {

struct PeerEndpoint {
  std::string address;  // IP address or host name on the backbone
  uint16_t port = 0;
  std::string server_name;  // the name the peer's certificate carries; "" = verify the address
};

struct ClientOptions {
  std::string ca_pem;  // trust anchors for peers; "" = plain HTTP
  std::string backbone_key;
};

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // unless streamed to a sink (a 200 answer to Stream)
};

class BackboneClient {
 public:
  // Called with each piece of a streamed body, in order; an error ends the request (the
  // connection is dropped) and is returned by Stream.
  using Sink = std::function<Status(std::string_view)>;

  BackboneClient(PeerEndpoint peer, ClientOptions options);
  ~BackboneClient();
  BackboneClient(const BackboneClient&) = delete;
  BackboneClient& operator=(const BackboneClient&) = delete;

  // `method` GET or HEAD; the body is buffered, up to `max_body` bytes (else kUnavailable).
  Result<ClientResponse> Send(const std::string& method, const std::string& target,
                              std::chrono::milliseconds timeout, uint64_t max_body = 8 << 20);
  // GET whose 200 body goes to `sink` piece by piece (other answers are buffered as by Send).
  Result<ClientResponse> Stream(const std::string& target, std::chrono::milliseconds timeout,
                                const Sink& sink);
  // Ends the request in flight (and every later one) with kUnavailable.
  void Abort();

  const PeerEndpoint& peer() const { return peer_; }

 private:
  struct Impl;
  Status Connect(std::chrono::milliseconds timeout);
  Result<ClientResponse> Exchange(const std::string& method, const std::string& target,
                                  std::chrono::milliseconds timeout, uint64_t max_body,
                                  const Sink* sink);

  PeerEndpoint peer_;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cove::replication
