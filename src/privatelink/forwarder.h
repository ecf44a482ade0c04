// Forwarder: a private endpoint address as a door to the service's node, the way Azure's Private
// Link carries a private endpoint's traffic to the service behind it.
//
// Each connection accepted on a forwarded listener (typically a socket made inside a VNet's
// namespace: fabric::ListenTcp, as for ListenerSet) is connected onward to the route's target
// (the registry node's address on the backbone) from the forwarder's own network namespace,
// opens with a PROXY protocol v2 header (http/proxy_protocol.h) and is then spliced byte for
// byte in both directions. The header carries:
//   - command PROXY, family INET/INET6, transport STREAM;
//   - source = the client's address and port as the listener saw them, destination = the
//     private endpoint address and port the client connected to;
//   - with a route link id, Azure's LinkID TLV: type PP2_TYPE_AZURE (0xEE), length 5, value
//     subtype 0x01 (PP2_SUBTYPE_AZURE_PRIVATEENDPOINT_LINKID) then the 32-bit link id
//     little-endian (http::AzureLinkIdTlv; http::Server's reader parses exactly this).
// The receiving listener must enable proxy_protocol and name the forwarder's source address in
// proxy_sources (config `listen: [{address, port, proxy_protocol: true, proxy_sources: [...]}]`
// for a registry node); Route::source_address pins that address.
//
// Bounds: connections are capped in total and per source (client address + link id); past a cap
// a new connection is closed at once. The onward connect must succeed within connect_timeout;
// afterwards a connection with no byte moving in either direction for idle_timeout is closed.
// Half-close is passed on: when one side ends its sending (FIN), the other side's sending is shut
// down and the other direction goes on until it ends too. Any error closes both sockets; every
// socket, timer and buffer belongs to the connection and goes with it (connections() counts
// what is alive).
//
// In the deployment, every private endpoint member, every registry's public address and coved's
// loopback listeners are forwarded (daemon/regions.h): each to the region node(s) that serve it,
// in order of preference, so a region that is down is skipped (docs/regions.md).
//
// Thread-safety: every method may be called from any thread. Connections run on the
// forwarder's own I/O threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace cove::privatelink {

struct ForwarderOptions {
  int threads = 1;
  size_t max_connections = 4096;            // in total; 0: no limit
  size_t max_connections_per_source = 256;  // per client address and link id; 0: no limit
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds idle_timeout{300'000};
  size_t buffer_bytes = 16 * 1024;  // per direction per connection
};

// A node a connection may be forwarded to.
struct Target {
  std::string address;  // IP (v4 or v6)
  uint16_t port = 443;
};

// What the forwarder knows of a connection when it picks its target.
struct Arrival {
  std::string client_address;  // as the listener saw it
  std::string server_name;     // TLS SNI when the route peeks (lowercased; "" when none)
};

// Where one listener's connections go.
struct Route {
  // The one target, when `targets` is not set.
  std::string target_address;  // the service node's IP (v4 or v6)
  uint16_t target_port = 443;
  std::optional<uint32_t> link_id;  // sent as Azure's LinkID TLV; none: no TLV
  std::string source_address;       // the address to connect from; "": the kernel's choice
  // Asked once per connection: the targets in order of preference. The forwarder connects to
  // each in turn and the first that accepts gets the connection — a region's node that is down
  // refuses at once on the backbone, so the next region is tried (failover). Empty result: the
  // client's connection is closed. Arrival::server_name is the TLS server name (SNI) of the
  // client's ClientHello when peek_sni is set (privatelink/client_hello.h), else "".
  std::function<std::vector<Target>(const Arrival& arrival)> targets;
  // Read the client's ClientHello before choosing a target (it is passed on unchanged, after the
  // PROXY header). A client that does not start with a ClientHello within connect_timeout, or
  // starts with something else, is closed.
  bool peek_sni = false;
};

class Forwarder {
 public:
  explicit Forwarder(ForwarderOptions options = {});
  // Stops (closes every listener and connection).
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Forwards the connections of an already listening socket along `route`. Returns the port it
  // listens on; kInvalidArgument for a route whose addresses do not parse or a socket that is
  // not TCP/IP, kFailedPrecondition after Stop.
  Result<uint16_t> Adopt(UniqueFd listening_socket, const Route& route);
  // Binds and listens on address:port (0: any free port) and forwards as Adopt does. kIOError
  // when the address cannot be bound.
  Result<uint16_t> Listen(const std::string& address, uint16_t port, const Route& route);
  // Runs the I/O threads; returns at once.
  void Start();
  // Closes every listener and connection and joins the threads. Idempotent.
  void Stop();

  // Connections alive now (accepted and not yet fully closed).
  size_t connections() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cove::privatelink
