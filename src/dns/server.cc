#include "dns/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <latch>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "dns/forward.h"
#include "dns/forwarder.h"
#include "dns/query.h"

namespace cove::dns {
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr int kBatch = 32;               // datagrams per recvmmsg/sendmmsg
constexpr int kRoundsPerWakeup = 8;      // batches before letting other sockets run
constexpr size_t kUdpBufferSize = 4096;  // larger queries are not DNS queries we answer

struct ViewCounters {
  std::atomic<uint64_t> queries{0};
  std::atomic<uint64_t> responses{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> truncated{0};
  std::atomic<uint64_t> tcp_accepted{0};
  std::atomic<uint64_t> tcp_refused{0};
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> forward_failed{0};
  std::array<std::atomic<uint64_t>, 17> rcodes{};

  void Count(const ProcessResult& r) {
    if (!r.respond) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    responses.fetch_add(1, std::memory_order_relaxed);
    rcodes[std::min<size_t>(r.rcode, 16)].fetch_add(1, std::memory_order_relaxed);
    if (r.truncated) truncated.fetch_add(1, std::memory_order_relaxed);
  }
};

Error Errno(const std::string& what) {
  return Error{Code::kIOError, what + ": " + std::strerror(errno)};
}

// Per-thread buffers for one UDP batch.
struct UdpBatch {
  std::array<std::array<uint8_t, kUdpBufferSize>, kBatch> in;
  std::array<std::vector<uint8_t>, kBatch> out;
  std::array<sockaddr_storage, kBatch> peers;
  std::array<iovec, kBatch> in_iov;
  std::array<iovec, kBatch> out_iov;
  std::array<mmsghdr, kBatch> in_msgs;
  std::array<mmsghdr, kBatch> out_msgs;
};

UdpBatch& ThreadBatch() {
  thread_local std::unique_ptr<UdpBatch> batch = std::make_unique<UdpBatch>();
  return *batch;
}

Result<int> SocketFamily(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Fail(Errno("getsockname"));
  }
  if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
    return Fail(Code::kInvalidArgument, "not an IPv4 or IPv6 socket");
  }
  return static_cast<int>(ss.ss_family);
}

// The address a socket is bound to, as inet_ntop writes it, and its port.
using LocalAddress = std::pair<asio::ip::address, uint16_t>;
Result<LocalAddress> LocalAddressOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Fail(Errno("getsockname"));
  }
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    return LocalAddress{asio::ip::address_v4(ntohl(a.sin_addr.s_addr)), ntohs(a.sin_port)};
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), a.sin6_addr.s6_addr, bytes.size());
    return LocalAddress{asio::ip::address_v6(bytes), ntohs(a.sin6_port)};
  }
  return Fail(Code::kInvalidArgument, "not an IPv4 or IPv6 socket");
}

Result<int> SocketType(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return Fail(Errno("SO_TYPE"));
  return type;
}

}  // namespace

struct Server::Impl {
  Impl(const CatalogStore& c, ServerOptions o, UpstreamSocketOpener* u)
      : catalog(c), options(o), opener(u ? *u : local_opener) {}

  // Each socket lives on its own strand: its handlers never run concurrently with each other
  // nor with RemoveSockets closing it. Handlers hold a shared_ptr, so a removed socket lives
  // until its last pending handler has run (or been destroyed with the io_context).
  // What a listening socket answers for: its view, the view's counters, its own address.
  struct SocketTag {
    std::string view;
    ViewCounters* counters;
    LocalAddress local;
  };
  struct UdpSocket : SocketTag {
    UdpSocket(asio::io_context& io, udp protocol, int fd, SocketTag tag)
        : SocketTag(std::move(tag)), socket(asio::make_strand(io), protocol, fd) {}
    udp::socket socket;
  };
  using UdpSocketPtr = std::shared_ptr<UdpSocket>;

  struct TcpListener : SocketTag {
    TcpListener(asio::io_context& io, tcp protocol, int fd, SocketTag tag)
        : SocketTag(std::move(tag)), acceptor(asio::make_strand(io), protocol, fd) {}
    tcp::acceptor acceptor;
  };
  using TcpListenerPtr = std::shared_ptr<TcpListener>;

  class TcpSession : public std::enable_shared_from_this<TcpSession> {
   public:
    // REQUIRES: the connection was counted by Admit with `source`.
    TcpSession(Impl& impl, tcp::socket socket, TcpListenerPtr listener, std::string source)
        : impl_(impl),
          socket_(std::move(socket)),
          timer_(socket_.get_executor()),
          listener_(std::move(listener)),
          source_(std::move(source)) {
      std::lock_guard lock(impl_.sessions_mu);
      impl_.sessions.insert(this);
    }
    ~TcpSession() {
      impl_.tcp_connections.fetch_sub(1, std::memory_order_relaxed);
      std::lock_guard lock(impl_.sessions_mu);
      impl_.sessions.erase(this);
      impl_.ReleaseLocked(listener_->view, source_);
    }

    // Starts reading on the session's strand.
    void Start() {
      asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->ReadLength(); });
    }

    const TcpListenerPtr& listener() const { return listener_; }
    auto executor() { return socket_.get_executor(); }

    // Closes the connection. REQUIRES: on the session's strand, or no I/O thread running.
    void Close() {
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
      timer_.cancel();
    }

   private:
    void Arm() {
      timer_.expires_after(impl_.options.tcp_idle_timeout);
      timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->Close();
      });
    }
    void ReadLength() {
      Arm();
      asio::async_read(socket_, asio::buffer(length_),
                       [self = shared_from_this()](boost::system::error_code ec, size_t) {
                         if (ec) return self->Close();
                         size_t n = (size_t{self->length_[0]} << 8) | self->length_[1];
                         if (n == 0) return self->Close();
                         self->query_.resize(n);
                         self->ReadBody();
                       });
    }
    void ReadBody() {
      asio::async_read(socket_, asio::buffer(query_),
                       [self = shared_from_this()](boost::system::error_code ec, size_t) {
                         if (ec) return self->Close();
                         self->Answer();
                       });
    }
    void Answer() {
      CatalogPtr catalog = impl_.catalog.Get();
      listener_->counters->queries.fetch_add(1, std::memory_order_relaxed);
      TransportFacts facts{.tcp = true, .max_udp_payload = impl_.options.max_udp_payload};
      ProcessResult r = Process(query_, *catalog, catalog->view(listener_->view), facts, response_);
      if (r.forward) {
        // The connection waits for the forwarded answer: answers go out in query order.
        impl_.Forward(listener_->view, query_, *r.forward, facts, listener_->local,
                      listener_->counters,
                      [self = shared_from_this()](std::vector<uint8_t> response, ProcessResult r) {
                        asio::dispatch(self->socket_.get_executor(),
                                       [self, response = std::move(response), r]() mutable {
                                         self->response_ = std::move(response);
                                         self->Reply(r);
                                       });
                      });
        return;
      }
      Reply(r);
    }
    // Counts `r` and writes response_ (or closes the connection if there is none).
    void Reply(const ProcessResult& r) {
      listener_->counters->Count(r);
      if (!r.respond) return Close();
      frame_[0] = static_cast<uint8_t>(response_.size() >> 8);
      frame_[1] = static_cast<uint8_t>(response_.size());
      Arm();
      std::array<asio::const_buffer, 2> buffers = {asio::buffer(frame_), asio::buffer(response_)};
      asio::async_write(socket_, buffers,
                        [self = shared_from_this()](boost::system::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadLength();
                        });
    }

    Impl& impl_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    TcpListenerPtr listener_;  // shared: the session may outlive the listener's removal
    std::string source_;       // SourceKey, counted in tcp_per_source
    std::array<uint8_t, 2> length_{};
    std::array<uint8_t, 2> frame_{};
    std::vector<uint8_t> query_;
    std::vector<uint8_t> response_;
  };

  ViewCounters* CountersFor(const std::string& view) {
    std::lock_guard lock(mu);
    auto& c = counters[view];
    if (!c) c = std::make_unique<ViewCounters>();
    return c.get();
  }

  // Asio's epoll reactor is edge-triggered: a datagram that arrives while no wait is pending
  // raises no event later, so ServeUdp reads until EAGAIN before waiting again. A socket with
  // more than kRoundsPerWakeup batches waiting yields to the others and continues at once.
  // Handlers run on the socket's strand (the socket's executor).
  void WaitUdp(UdpSocketPtr s) {
    UdpSocket& socket = *s;
    socket.socket.async_wait(udp::socket::wait_read,
                             [this, s = std::move(s)](boost::system::error_code ec) mutable {
                               if (!ec && s->socket.is_open()) ContinueUdp(std::move(s));
                             });
  }

  void ContinueUdp(UdpSocketPtr s) {
    if (ServeUdp(s)) {
      WaitUdp(std::move(s));
    } else {
      auto executor = s->socket.get_executor();
      asio::post(executor, [this, s = std::move(s)]() mutable {
        if (s->socket.is_open()) ContinueUdp(std::move(s));
      });
    }
  }

  // Answers what is waiting on `s`; returns true once the socket is drained (or failing).
  bool ServeUdp(const UdpSocketPtr& socket) {
    UdpSocket& s = *socket;
    UdpBatch& b = ThreadBatch();
    int fd = s.socket.native_handle();
    CatalogPtr catalog = catalog_store().Get();
    const View& view = catalog->view(s.view);
    TransportFacts facts{.tcp = false, .max_udp_payload = options.max_udp_payload};
    for (int round = 0; round < kRoundsPerWakeup; ++round) {
      for (int i = 0; i < kBatch; ++i) {
        b.in_iov[i] = {b.in[i].data(), b.in[i].size()};
        b.in_msgs[i] = {};
        b.in_msgs[i].msg_hdr.msg_name = &b.peers[i];
        b.in_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        b.in_msgs[i].msg_hdr.msg_iov = &b.in_iov[i];
        b.in_msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = ::recvmmsg(fd, b.in_msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return true;
      s.counters->queries.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      int m = 0;
      for (int i = 0; i < n; ++i) {
        const msghdr& h = b.in_msgs[i].msg_hdr;
        if (h.msg_flags & MSG_TRUNC) {
          s.counters->dropped.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        std::vector<uint8_t>& out = b.out[m];
        std::span<const uint8_t> query(b.in[i].data(), b.in_msgs[i].msg_len);
        ProcessResult r = Process(query, *catalog, view, facts, out);
        if (r.forward) {
          ForwardUdp(socket, query, *r.forward, facts, b.peers[i], h.msg_namelen);
          continue;
        }
        s.counters->Count(r);
        if (!r.respond) continue;
        b.out_iov[m] = {out.data(), out.size()};
        b.out_msgs[m] = {};
        b.out_msgs[m].msg_hdr.msg_name = &b.peers[i];
        b.out_msgs[m].msg_hdr.msg_namelen = h.msg_namelen;
        b.out_msgs[m].msg_hdr.msg_iov = &b.out_iov[m];
        b.out_msgs[m].msg_hdr.msg_iovlen = 1;
        ++m;
      }
      for (int sent = 0; sent < m;) {
        int k =
            ::sendmmsg(fd, b.out_msgs.data() + sent, static_cast<unsigned>(m - sent), MSG_DONTWAIT);
        if (k <= 0) {
          // A full send buffer or an unreachable peer: drop this one, keep the rest.
          s.counters->dropped.fetch_add(1, std::memory_order_relaxed);
          s.counters->responses.fetch_sub(1, std::memory_order_relaxed);
          ++sent;
          continue;
        }
        sent += k;
      }
    }
    return false;
  }

  const CatalogStore& catalog_store() const { return catalog; }

  // Forwards `query` of `view` by `rule` (received on `local`) and hands the response to `done`;
  // too many in flight: SERVFAIL at once.
  void Forward(const std::string& view, std::span<const uint8_t> query, const ForwardRule& rule,
               const TransportFacts& facts, const LocalAddress& local, ViewCounters* counters,
               ForwardDone done) {
    counters->forwarded.fetch_add(1, std::memory_order_relaxed);
    auto counted = [counters, done = std::move(done)](std::vector<uint8_t> response,
                                                      ProcessResult r) {
      if (r.rcode == kRcodeServFail) {
        counters->forward_failed.fetch_add(1, std::memory_order_relaxed);
      }
      done(std::move(response), r);
    };
    if (forwards_in_flight.load(std::memory_order_relaxed) >= options.max_forwards) {
      std::vector<uint8_t> out;
      ProcessResult r = ErrorResponse(query, kRcodeServFail, facts, out);
      return counted(std::move(out), r);
    }
    ForwardRequest request{.view = view,
                           .query = {query.begin(), query.end()},
                           .targets = rule.targets,
                           .facts = facts,
                           .received_on = local};
    StartForward(io, opener, options.forward_timeout, forwards_in_flight, std::move(request),
                 std::move(counted));
  }

  // Forwards a UDP query; the response goes back from the socket it came in on, to `peer`.
  void ForwardUdp(const UdpSocketPtr& s, std::span<const uint8_t> query, const ForwardRule& rule,
                  const TransportFacts& facts, const sockaddr_storage& peer, socklen_t peer_len) {
    Forward(s->view, query, rule, facts, s->local, s->counters,
            [s, peer, peer_len](std::vector<uint8_t> response, ProcessResult r) {
              asio::dispatch(
                  s->socket.get_executor(), [s, peer, peer_len, response = std::move(response), r] {
                    if (!s->socket.is_open()) return;
                    ssize_t n =
                        ::sendto(s->socket.native_handle(), response.data(), response.size(),
                                 MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&peer), peer_len);
                    ProcessResult counted = r;
                    if (n < 0) counted.respond = false;
                    s->counters->Count(counted);
                  });
            });
  }

  // The handler runs on the listener's strand; each connection gets a strand of its own.
  void Accept(TcpListenerPtr l) {
    TcpListener& listener = *l;
    listener.acceptor.async_accept(
        asio::make_strand(io),
        [this, l = std::move(l)](boost::system::error_code ec, tcp::socket socket) mutable {
          if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) return;
          if (!ec) {
            boost::system::error_code ignored;
            auto remote = socket.remote_endpoint(ignored);
            std::string source = l->view + '/' + remote.address().to_string();
            if (tcp_connections.fetch_add(1, std::memory_order_relaxed) >=
                    options.max_tcp_connections ||
                !Admit(l->view, source)) {
              tcp_connections.fetch_sub(1, std::memory_order_relaxed);
              l->counters->tcp_refused.fetch_add(1, std::memory_order_relaxed);
              socket.close(ignored);
            } else {
              l->counters->tcp_accepted.fetch_add(1, std::memory_order_relaxed);
              auto session =
                  std::make_shared<TcpSession>(*this, std::move(socket), l, std::move(source));
              session->Start();
            }
          }
          Accept(std::move(l));
        });
  }

  // Counts a connection of `view` from `source` (view/address) unless either is at its limit.
  bool Admit(const std::string& view, const std::string& source) {
    std::lock_guard lock(sessions_mu);
    size_t& v = tcp_per_view[view];
    size_t& s = tcp_per_source[source];
    bool ok =
        (options.max_tcp_connections_per_view == 0 || v < options.max_tcp_connections_per_view) &&
        (options.max_tcp_connections_per_source == 0 || s < options.max_tcp_connections_per_source);
    if (ok) {
      ++v;
      ++s;
      return true;
    }
    if (v == 0) tcp_per_view.erase(view);
    if (s == 0) tcp_per_source.erase(source);
    return false;
  }
  // Undoes Admit. REQUIRES: sessions_mu held.
  void ReleaseLocked(const std::string& view, const std::string& source) {
    if (auto it = tcp_per_view.find(view); it != tcp_per_view.end() && --it->second == 0) {
      tcp_per_view.erase(it);
    }
    if (auto it = tcp_per_source.find(source); it != tcp_per_source.end() && --it->second == 0) {
      tcp_per_source.erase(it);
    }
  }

  // Runs each function on its executor and waits until all have run. REQUIRES: the I/O threads
  // run and are not stopped before these handlers run (the caller holds mu, which keeps Stop
  // out), and the caller is not an I/O thread.
  // Closes the sockets `match` picks (by view and local address) as RemoveSockets says.
  size_t RemoveIf(const std::function<bool(const std::string&, const LocalAddress&)>& match);

  static void RunOnAllAndWait(
      const std::vector<std::pair<asio::any_io_executor, std::function<void()>>>& work) {
    if (work.empty()) return;
    std::latch done(static_cast<std::ptrdiff_t>(work.size()));
    for (const auto& [executor, fn] : work) {
      asio::post(executor, [&done, &fn] {
        fn();
        done.count_down();
      });
    }
    done.wait();
  }

  // Sessions still pending in `io` are destroyed with it and touch tcp_connections then, so
  // these are declared (and outlive) the io_context; the sockets are declared after it.
  const CatalogStore& catalog;
  ServerOptions options;
  LocalSocketOpener local_opener;
  UpstreamSocketOpener& opener;
  std::atomic<size_t> forwards_in_flight{0};
  std::atomic<size_t> tcp_connections{0};
  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<ViewCounters>, std::less<>> counters;
  std::mutex sessions_mu;
  std::unordered_set<TcpSession*> sessions;
  std::unordered_map<std::string, size_t> tcp_per_view;    // guarded by sessions_mu
  std::unordered_map<std::string, size_t> tcp_per_source;  // guarded by sessions_mu
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::list<UdpSocketPtr> udp_sockets;
  std::list<TcpListenerPtr> tcp_listeners;
  std::vector<std::thread> threads;
  bool started = false;
  bool stopped = false;
};

namespace {

Result<UniqueFd> BindSocket(const std::string& address, uint16_t port, int type) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    return Fail(Code::kInvalidArgument, "not an IP address: " + address);
  }
  UniqueFd fd(::socket(ss.ss_family, type | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Fail(Errno("socket"));
  int one = 1;
  if (type == SOCK_STREAM) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Fail(Errno("bind " + address + ":" + std::to_string(port)));
  }
  return fd;
}

Result<uint16_t> LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Fail(Errno("getsockname"));
  }
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

Result<UniqueFd> LocalSocketOpener::Open(std::string_view, int family, int type) {
  UniqueFd fd(::socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Fail(Errno("socket"));
  return fd;
}

Server::Server(const CatalogStore& catalog, ServerOptions options, UpstreamSocketOpener* opener)
    : impl_(std::make_unique<Impl>(catalog, options, opener)) {
  impl_->work.emplace(impl_->io.get_executor());
}

Server::~Server() { Stop(); }

Result<uint16_t> Server::AddUdpSocket(UniqueFd fd, std::string view) {
  COVE_ASSIGN_OR_RETURN(int type, SocketType(fd.get()));
  if (type != SOCK_DGRAM) return Fail(Code::kInvalidArgument, "not a datagram socket");
  COVE_ASSIGN_OR_RETURN(int family, SocketFamily(fd.get()));
  COVE_ASSIGN_OR_RETURN(uint16_t port, LocalPort(fd.get()));
  if (port == 0) return Fail(Code::kInvalidArgument, "UDP socket is not bound");
  COVE_ASSIGN_OR_RETURN(LocalAddress local, LocalAddressOf(fd.get()));
  int size = 4 << 20;  // room for bursts; the kernel caps it at rmem_max
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  ViewCounters* counters = impl_->CountersFor(view);
  std::lock_guard lock(impl_->mu);
  if (impl_->stopped) return Fail(Code::kFailedPrecondition, "server stopped");
  udp protocol = family == AF_INET ? udp::v4() : udp::v6();
  boost::system::error_code ec;
  auto s = std::make_shared<Impl::UdpSocket>(impl_->io, protocol, fd.Release(),
                                             Impl::SocketTag{std::move(view), counters, local});
  s->socket.non_blocking(true, ec);
  impl_->udp_sockets.push_back(s);
  impl_->WaitUdp(std::move(s));
  return port;
}

Result<uint16_t> Server::AddTcpSocket(UniqueFd fd, std::string view) {
  COVE_ASSIGN_OR_RETURN(int type, SocketType(fd.get()));
  if (type != SOCK_STREAM) return Fail(Code::kInvalidArgument, "not a stream socket");
  COVE_ASSIGN_OR_RETURN(int family, SocketFamily(fd.get()));
  COVE_ASSIGN_OR_RETURN(uint16_t port, LocalPort(fd.get()));
  if (port == 0) return Fail(Code::kInvalidArgument, "TCP socket is not bound");
  COVE_ASSIGN_OR_RETURN(LocalAddress local, LocalAddressOf(fd.get()));
  if (::listen(fd.get(), 1024) != 0) return Fail(Errno("listen"));
  ViewCounters* counters = impl_->CountersFor(view);
  std::lock_guard lock(impl_->mu);
  if (impl_->stopped) return Fail(Code::kFailedPrecondition, "server stopped");
  tcp protocol = family == AF_INET ? tcp::v4() : tcp::v6();
  auto l = std::make_shared<Impl::TcpListener>(impl_->io, protocol, fd.Release(),
                                               Impl::SocketTag{std::move(view), counters, local});
  impl_->tcp_listeners.push_back(l);
  impl_->Accept(std::move(l));
  return port;
}

Result<uint16_t> Server::Listen(const std::string& address, uint16_t port, std::string view) {
  // With port 0, the UDP port the kernel picks may be taken for TCP: try a few.
  for (int attempt = 0;; ++attempt) {
    COVE_ASSIGN_OR_RETURN(UniqueFd u, BindSocket(address, port, SOCK_DGRAM));
    COVE_ASSIGN_OR_RETURN(uint16_t chosen, LocalPort(u.get()));
    auto t = BindSocket(address, chosen, SOCK_STREAM);
    if (!t) {
      if (port == 0 && attempt < 16) continue;
      return Fail(t.error());
    }
    COVE_RETURN_IF_ERROR(AddUdpSocket(std::move(u), view));
    COVE_RETURN_IF_ERROR(AddTcpSocket(std::move(*t), std::move(view)));
    return chosen;
  }
}

void Server::Start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
}

void Server::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    threads.swap(impl_->threads);
  }
  impl_->work.reset();
  impl_->io.stop();
  for (std::thread& t : threads) t.join();
  // No handler runs any more: close what is open; pending handlers (and the TCP sessions they
  // hold) go with the io_context.
  boost::system::error_code ignored;
  for (auto& s : impl_->udp_sockets) s->socket.close(ignored);
  for (auto& l : impl_->tcp_listeners) l->acceptor.close(ignored);
  std::lock_guard lock(impl_->sessions_mu);
  for (Impl::TcpSession* session : impl_->sessions) session->Close();
}

size_t Server::RemoveSockets(std::string_view view) {
  return impl_->RemoveIf([view](const std::string& v, const LocalAddress&) { return v == view; });
}

size_t Server::RemoveSocketsAt(std::string_view view, std::string_view address) {
  return impl_->RemoveIf([view, address](const std::string& v, const LocalAddress& local) {
    return v == view && local.first.to_string() == address;
  });
}

size_t Server::Impl::RemoveIf(
    const std::function<bool(const std::string&, const LocalAddress&)>& match) {
  std::lock_guard lock(mu);
  std::vector<UdpSocketPtr> udp;
  std::vector<TcpListenerPtr> tcp;
  for (auto it = udp_sockets.begin(); it != udp_sockets.end();) {
    if (!match((*it)->view, (*it)->local)) {
      ++it;
      continue;
    }
    udp.push_back(std::move(*it));
    it = udp_sockets.erase(it);
  }
  for (auto it = tcp_listeners.begin(); it != tcp_listeners.end();) {
    if (!match((*it)->view, (*it)->local)) {
      ++it;
      continue;
    }
    tcp.push_back(std::move(*it));
    it = tcp_listeners.erase(it);
  }
  size_t removed = udp.size() + tcp.size();
  if (removed == 0 || stopped) return removed;  // Stop closed everything already

  auto close_udp = [](UdpSocket& s) {
    boost::system::error_code ignored;
    s.socket.close(ignored);  // a pending wait completes with operation_aborted
  };
  auto close_tcp = [](TcpListener& l) {
    boost::system::error_code ignored;
    l.acceptor.close(ignored);
  };
  if (!started) {
    // No I/O thread runs (Start takes mu): no handler can touch these sockets now, and no
    // connection has been accepted on them.
    for (auto& s : udp) close_udp(*s);
    for (auto& l : tcp) close_tcp(*l);
    return removed;
  }
  // 1. The sockets, each on its own strand, so that no batch or accept is half done.
  std::vector<std::pair<asio::any_io_executor, std::function<void()>>> work;
  for (auto& s : udp) {
    work.emplace_back(s->socket.get_executor(), [&close_udp, s] { close_udp(*s); });
  }
  for (auto& l : tcp) {
    work.emplace_back(l->acceptor.get_executor(), [&close_tcp, l] { close_tcp(*l); });
  }
  RunOnAllAndWait(work);
  // 2. The connections accepted on the removed listeners (no new ones come now), each on its
  // strand. A session already being destroyed (weak pointer expired) closes itself.
  work.clear();
  {
    std::lock_guard sessions_lock(sessions_mu);
    for (TcpSession* session : sessions) {
      if (std::find(tcp.begin(), tcp.end(), session->listener()) == tcp.end()) continue;
      if (auto alive = session->weak_from_this().lock()) {
        work.emplace_back(alive->executor(), [alive] { alive->Close(); });
      }
    }
  }
  RunOnAllAndWait(work);
  return removed;
}

ViewCounterSnapshot Server::Counters(std::string_view view) const {
  ViewCounterSnapshot out;
  std::lock_guard lock(impl_->mu);
  auto it = impl_->counters.find(view);
  if (it == impl_->counters.end()) return out;
  const ViewCounters& c = *it->second;
  out.queries = c.queries.load(std::memory_order_relaxed);
  out.responses = c.responses.load(std::memory_order_relaxed);
  out.dropped = c.dropped.load(std::memory_order_relaxed);
  out.truncated = c.truncated.load(std::memory_order_relaxed);
  out.tcp_accepted = c.tcp_accepted.load(std::memory_order_relaxed);
  out.tcp_refused = c.tcp_refused.load(std::memory_order_relaxed);
  out.forwarded = c.forwarded.load(std::memory_order_relaxed);
  out.forward_failed = c.forward_failed.load(std::memory_order_relaxed);
  for (size_t i = 0; i < out.rcodes.size(); ++i) {
    out.rcodes[i] = c.rcodes[i].load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace cove::dns
