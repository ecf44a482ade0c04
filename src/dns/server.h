// Server: the DNS transport (Asio), UDP and TCP, answering each query with query.h's Process
// in the view its socket is tagged with. Transport only: no zone logic lives here.
//
// Sockets come in two ways: handed over as file descriptors, already bound (the fabric creates
// them inside each VNet's network namespace at 168.63.129.16:53, where this process could not
// bind itself), or bound here by address (tests, the bench, a single-host setup). Each socket
// carries a view id, the VNet it belongs to: the view is chosen by the socket a query arrived on,
// never by its source address, because VNets may overlap.
//
// UDP: each socket is read in batches with recvmmsg and answered with sendmmsg when Asio says it
// is readable; responses fit the client's EDNS size (TC set otherwise). TCP: RFC 1035 §4.2.2
// framing (2-octet length), any number of queries per connection, answered in order; at most
// max_tcp_connections at once in the process, max_tcp_connections_per_view per view (all its
// sockets: one VNet cannot starve the others) and max_tcp_connections_per_source per client
// address within a view (one VM cannot starve its VNet); more are closed at accept. Each is
// closed after tcp_idle_timeout without a complete query (a query dripped byte by byte
// included: the timer runs from the first length byte to the last query byte) or when a write
// stalls that long; a query that would be dropped over UDP closes the connection.
//
// A view may answer at several addresses: a VNet's DNS address (168.63.129.16) and the inbound
// endpoints of a DNS Private Resolver in it (an address of a delegated subnet, e.g. 10.0.2.4,
// which servers outside Azure forward to); each is one more socket pair added with the VNet's
// view. Sockets are removed by view (RemoveSockets), e.g. when the VNet they serve is deleted,
// or by view and address (RemoveSocketsAt), e.g. when one inbound endpoint is deleted.
//
// Forwarding (Azure's DNS forwarding rulesets): a query that a rule of its view takes
// (catalog.h, query.h) is sent to the rule's targets in order, each given forward_timeout: over
// UDP from a socket that the UpstreamSocketOpener makes for the view (inside the VNet, in the
// daemon), then over TCP to the same target if the UDP answer is truncated. The first answer
// that forward.h accepts is relayed with the client's ID; a target that times out, refuses the
// connection or answers malformed is skipped; when none is left the client gets SERVFAIL. A
// target equal to the address and port the query arrived on is skipped (a forwarding loop back
// into this socket). Forwarding never blocks an I/O thread: it runs on Asio's reactor, and the
// client's socket keeps answering other queries meanwhile; TCP clients get their answers in
// order (the connection waits for the forwarded one). At most max_forwards run at once; more
// get SERVFAIL at once.
//
// The catalog is read from a CatalogStore once per UDP batch and once per TCP query, so a new
// snapshot takes effect for the next packet without stopping anything.
//
// Counters per view: queries, responses by RCODE, drops, truncations, TCP connections accepted
// and refused. They are relaxed atomics, read with Counters().
//
// Thread-safety: every public method may be called from any thread, also while running.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"
#include "dns/catalog.h"

namespace cove::dns {

struct ServerOptions {
  int threads = 1;
  std::chrono::milliseconds forward_timeout{2'000};  // per target and transport (UDP, TCP)
  size_t max_forwards = 1024;                        // forwarded queries in flight
  uint16_t max_udp_payload = 1232;                   // largest UDP response, advertised in OPT
  size_t max_tcp_connections = 1024;
  size_t max_tcp_connections_per_view = 256;
  size_t max_tcp_connections_per_source = 32;  // per address within a view; 0: no limit
  std::chrono::milliseconds tcp_idle_timeout{10'000};
};

struct ViewCounterSnapshot {
  uint64_t queries = 0;    // every packet or TCP message received
  uint64_t responses = 0;  // responses sent
  uint64_t dropped = 0;    // queries not answered (not DNS, responses, unsendable)
  uint64_t truncated = 0;  // UDP responses with TC set
  uint64_t tcp_accepted = 0;
  uint64_t tcp_refused = 0;     // connections closed at accept because of a connection limit
  uint64_t forwarded = 0;       // queries a forwarding rule took (answered when forwarding ends)
  uint64_t forward_failed = 0;  // of those, answered SERVFAIL: no target answered, or too many
  // Responses by RCODE: 0..15 as such, index 16 for BADVERS.
  std::array<uint64_t, 17> rcodes{};
};

// Makes the sockets forwarded queries leave from. Called from I/O threads, concurrently.
class UpstreamSocketOpener {
 public:
  virtual ~UpstreamSocketOpener() = default;
  // Returns a socket of `type` (SOCK_DGRAM or SOCK_STREAM) and `family` (AF_INET or AF_INET6),
  // unbound or bound to the address the view's queries should come from, in the network the
  // view's targets are reached through; close-on-exec. kNotFound when the view has no such
  // network (the target is then skipped), kIOError when the kernel refuses.
  virtual Result<UniqueFd> Open(std::string_view view, int family, int type) = 0;
};

// Sockets in this process's own network namespace, whatever the view (tests, single host).
class LocalSocketOpener final : public UpstreamSocketOpener {
 public:
  Result<UniqueFd> Open(std::string_view view, int family, int type) override;
};

class Server {
 public:
  // `catalog` and `opener` must outlive the server; a null opener is a LocalSocketOpener.
  Server(const CatalogStore& catalog, ServerOptions options = {},
         UpstreamSocketOpener* opener = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Takes a bound UDP socket (IPv4 or IPv6) answering in `view`. Returns its local port, or
  // kInvalidArgument if `fd` is not a bound datagram socket.
  Result<uint16_t> AddUdpSocket(UniqueFd fd, std::string view);
  // Takes a bound TCP socket (listening or not; it is made to listen). Returns its local port,
  // or kInvalidArgument / kIOError.
  Result<uint16_t> AddTcpSocket(UniqueFd fd, std::string view);
  // Binds UDP and TCP on `address`:`port` (0: one free port for both) for `view`; returns the
  // port, or kIOError.
  Result<uint16_t> Listen(const std::string& address, uint16_t port, std::string view);

  // Closes every socket (UDP, TCP listener) that answers in `view`, and every TCP connection
  // accepted on them, and forgets them; returns how many sockets it closed (0 if none). When
  // it returns, no query is read from them any more and their descriptors are closed (so a
  // network namespace they kept alive can go). The view's counters stay. A query being
  // answered when it is called is answered first. Used when a VNet is deleted.
  // REQUIRES: not called from inside a handler of this server (there are none for callers).
  size_t RemoveSockets(std::string_view view);
  // The same for the sockets of `view` bound to `address` (as written by inet_ntop, e.g.
  // "10.0.2.4"): one inbound endpoint of the VNet, leaving its other addresses answering.
  size_t RemoveSocketsAt(std::string_view view, std::string_view address);

  // Runs the I/O threads; returns at once. Sockets may be added before or after.
  void Start();
  // Closes every socket and connection and joins the threads. Idempotent.
  void Stop();

  // The counters of `view` (all zero for a view no socket has).
  ViewCounterSnapshot Counters(std::string_view view) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cove::dns
