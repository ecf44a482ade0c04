// HttpClient: a small blocking HTTP/1.1 client, plain or over TLS.
//
// One TCP connection per request (the CLI makes a handful of calls per command; coved's region
// supervisor a few per control-plane commit), a deadline on every request. The endpoint is "https://HOST[:PORT]" (coved's ARM API, COVE_ENDPOINT, with
// coved's CA; port 443 by default: a registry's /oauth2/exchange, which `cove acr login` with a
// managed identity calls directly) or "http://HOST:PORT" (IMDS at http://169.254.169.254:80;
// coved --arm-insecure-http on loopback).
//
// HTTPS verifies the server as curl and az's requests do: the peer's chain against a CA bundle
// (HttpsOptions::ca_file; by default $SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt),
// SNI set to the host name, and the certificate's names checked against the host (DNS or IP
// SAN, through OpenSSL's X509_check_host/ip). Any failure refuses the connection (kUnavailable,
// naming the host and OpenSSL's reason); there is no "insecure" switch.
//
// Thread-safety: an HttpClient may be used by one thread at a time.
#pragma once

#include <chrono>
#include <map>
#include <utility>
#include <string>

#include "common/error.h"

namespace cove::http {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

struct HttpsOptions {
  // PEM bundle of trusted CAs; "" = $SSL_CERT_FILE, else the system bundle (DefaultCaFile()).
  std::string ca_file;
  // "ADDR:PORT" to connect to instead of resolving the host (curl's --connect-to); SNI, the
  // Host header and the certificate check still use the endpoint's host. "" = resolve.
  std::string connect_to;
};

// $SSL_CERT_FILE when set and non-empty, else /etc/ssl/certs/ca-certificates.crt.
std::string DefaultCaFile();

// The host and port to connect to: `connect_to` ("ADDR:PORT", HttpsOptions::connect_to) when
// set, else `host` and `port`. kInvalidArgument if `connect_to` has no port.
Result<std::pair<std::string, std::string>> ConnectAddress(const std::string& host,
                                                           const std::string& port,
                                                           const std::string& connect_to);

class HttpClient {
 public:
  // Parses `endpoint`: "http://HOST:PORT" or "https://HOST[:PORT]" (trailing slash allowed,
  // IPv6 hosts in brackets). Returns kInvalidArgument for anything else.
  static Result<HttpClient> Create(const std::string& endpoint,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                   HttpsOptions tls = {});

  // Sends one request; `target` is the path and query. A body is sent with `content_type`
  // (application/json unless said otherwise; OAuth token requests send form bodies).
  // `headers` are added to the request (e.g. IMDS's `Metadata: true`).
  // Returns the response (any status), or kUnavailable when the server cannot be reached or
  // (HTTPS) cannot be verified, kIOError when the exchange fails midway.
  Result<HttpResponse> Send(const std::string& method, const std::string& target,
                            const std::string& body,
                            const std::string& content_type = "application/json",
                            const std::map<std::string, std::string>& headers = {}) const;

  const std::string& endpoint() const { return endpoint_; }
  bool https() const { return https_; }

 private:
  HttpClient(std::string endpoint, std::string host, std::string port, bool https,
             std::chrono::milliseconds timeout, HttpsOptions tls)
      : endpoint_(std::move(endpoint)),
        host_(std::move(host)),
        port_(std::move(port)),
        https_(https),
        timeout_(timeout),
        tls_(std::move(tls)) {}

  std::string endpoint_, host_, port_;
  bool https_ = false;
  std::chrono::milliseconds timeout_;
  HttpsOptions tls_;
};

}  // namespace cove::http
