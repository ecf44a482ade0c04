// Server: the HTTP/1.1 transport (Boost.Beast over Asio), plain or TLS, for any http::Handler.
//
// The server owns listening sockets and connections and nothing else: it reads a request head
// (with a size limit and a timeout), builds an http::Request, lets the Handler Start() an
// Exchange, streams the body into it (Content-Length or chunked, each read with an idle
// timeout), and writes the Response. File bodies go out with sendfile(2) on plain connections
// and in large reads/writes under TLS. Keep-alive is honoured; a slow or silent client is cut
// off by the timeouts (a body must also keep a minimum rate), never allowed to hold a thread.
// Connections are capped in total and per source (ServerOptions); an exchange may wait for
// work done elsewhere without holding an I/O thread (Exchange::Await).
//
// Listeners may be added while running, including sockets created elsewhere (for example
// inside another network namespace) and handed over as file descriptors; each listener can
// carry a link id that ends up in Peer::link_id. A listener may require a PROXY protocol v2
// header on each connection (connections forwarded by a proxy or another host's private
// endpoint); the header's client address and Azure LinkID then describe the Peer. Such a
// listener believes headers only from its configured forwarders (proxy_sources) and closes
// connections from anyone else unread.
//
// TLS: every TLS listener uses one TlsContextProvider, which picks a certificate by SNI.
//
// Thread-safety: Start/Stop/AddListener may be called from any thread. Handler::Start and the
// Exchange calls run on the server's I/O threads; handlers must be thread-safe. An Exchange's
// `ready` callback (Exchange::Await) may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "http/message.h"

namespace cove::http {

class TlsContextProvider;

struct ServerOptions {
  int threads = 2;
  std::chrono::milliseconds header_timeout{30'000};  // whole head must arrive in this time
  std::chrono::milliseconds idle_timeout{60'000};    // max silence while reading a body or
                                                     // between keep-alive requests
  std::chrono::milliseconds write_timeout{300'000};  // max silence while the client reads
  uint32_t max_header_bytes = 64 * 1024;
  std::string server_header = "cove";
  // Connection limits. Past either one a new connection is refused: plain HTTP gets a short
  // 503 (Retry-After: 1) and the connection is closed; TLS is closed at once. A connection's
  // source is its client address — the PROXY v2 source on listeners that read one (counted
  // once the header is read) — together with the link id it came through, so one address in
  // two overlapping VNets is two sources. 0 disables a limit.
  size_t max_connections = 10'000;
  size_t max_connections_per_source = 256;
  // A request body must arrive at min_body_rate bytes per second on average after a grace of
  // body_grace (counted from the end of the head), besides no read waiting longer than
  // idle_timeout: a client dripping a byte now and then is cut off. 0 disables the rate.
  uint64_t min_body_rate = 500;
  std::chrono::milliseconds body_grace{20'000};
  // An exchange that answers without needing the body (a 401, 403, 404 or 413) has a body of
  // at most this many bytes read and dropped, to keep the connection; a larger or chunked one
  // is not read: the answer goes out at once and the connection closes.
  uint64_t max_discard_bytes = 64 * 1024;
};

struct ListenerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port (see Server::LocalPort)
  bool tls = false;
  std::optional<uint32_t> link_id;
  // Copied to Peer::listener_tag of every connection (any text; "" by default).
  std::string tag;
  // Every connection must open with a PROXY protocol v2 header (http/proxy_protocol.h), read
  // before TLS and HTTP within the header timeout. A PROXY command sets Peer::remote_ip/port
  // from the header's source (INET/INET6) and Peer::link_id from Azure's LinkID TLV (else the
  // listener's link_id stays); LOCAL keeps the real endpoints. A missing or malformed header
  // closes the connection without a word (the peer is not speaking our protocol).
  bool proxy_protocol = false;
  // With proxy_protocol: the forwarders a header is believed from — addresses or CIDR ranges
  // (http::ForwarderRange). A connection from any other source is closed at once, before
  // anything of it is read: whoever else could reach the listener could otherwise claim any
  // client address and private endpoint. Empty: no one (Listen/Adopt refuse it, as they refuse
  // an entry that does not parse, with kInvalidArgument).
  std::vector<std::string> proxy_sources;
};

class Server {
 public:
  // `tls` may be null when no listener uses TLS. Both must outlive the server.
  Server(Handler& handler, TlsContextProvider* tls, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the port actually bound. kIOError (with errno text) on failure;
  // kInvalidArgument for a bad address or bad proxy_sources.
  Result<uint16_t> Listen(const ListenerOptions& options);
  // Adopts an already listening socket (e.g. made in another network namespace).
  Result<uint16_t> Adopt(UniqueFd listening_socket, const ListenerOptions& options);
  // Runs the I/O threads; returns at once.
  void Start();
  // Stops accepting, closes connections, joins threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cove::http
