// The forwarder's transport (Asio stays in this file): accept, connect onward, PROXY v2 header,
// splice. One strand per connection: its two pumps, its connect and its watchdog never run at
// once, so the connection's state needs no lock.
#include "privatelink/forwarder.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/accept.h"
#include "http/proxy_protocol.h"
#include "privatelink/client_hello.h"

namespace cove::privatelink {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string IpString(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

void LogException(const char* what, std::exception_ptr e) {
  http::LogException("privatelink forwarder", what, e);
}

}  // namespace

struct Forwarder::State {
  struct Listener {
    explicit Listener(const asio::any_io_executor& ex) : acceptor(ex) {}
    tcp::acceptor acceptor;
    Route route;
    std::optional<asio::ip::address> source;  // bind before connecting
  };

  // One forwarded connection: the accepted client socket and the onward server socket.
  struct Link {
    Link(State& state, tcp::socket accepted)
        : state(state),
          client(std::move(accepted)),
          server(client.get_executor()),
          timer(client.get_executor()) {}
    ~Link() { state.Unregister(this); }

    void Close() {
      closed = true;
      error_code ignored;
      client.close(ignored);
      server.close(ignored);
      timer.cancel();
    }
    // Moves the deadline; wakes the watchdog when it sleeps past the new one.
    void SetDeadline(SteadyTime at) {
      deadline = at;
      if (deadline < armed) timer.cancel();
    }
    void Touch() { SetDeadline(std::chrono::steady_clock::now() + state.options.idle_timeout); }

    State& state;
    tcp::socket client;
    tcp::socket server;
    asio::steady_timer timer;
    SteadyTime deadline = SteadyTime::max();
    SteadyTime armed = SteadyTime::max();  // when the watchdog's timer fires
    int pumps = 0;                         // directions still moving bytes
    bool closed = false;
    // Guarded by State::mu.
    bool registered = false;
    std::string source;
  };

  explicit State(ForwarderOptions o) : options(std::move(o)), work(ioc.get_executor()) {}

  Result<uint16_t> AddListener(std::shared_ptr<Listener> listener, const Route& route);
  void StartLink(tcp::socket socket, const std::shared_ptr<Listener>& listener);
  asio::awaitable<void> Run(std::shared_ptr<Link> link, std::shared_ptr<Listener> listener,
                            tcp::endpoint remote, tcp::endpoint local);
  // Reads the client's ClientHello into `peeked`; its server name, or nullopt (link closed).
  asio::awaitable<std::optional<std::string>> PeekServerName(std::shared_ptr<Link> link,
                                                             std::string& peeked);
  // Connects link->server to the first of `targets` that accepts; false when none does.
  asio::awaitable<bool> Connect(std::shared_ptr<Link> link, const Listener& listener,
                                const std::vector<Target>& targets);
  asio::awaitable<void> Pump(std::shared_ptr<Link> link, tcp::socket& from, tcp::socket& to);
  asio::awaitable<void> Watchdog(std::shared_ptr<Link> link);
  bool Register(const std::shared_ptr<Link>& link, std::string source);
  void Unregister(Link* link);

  // Declared before ioc: links that end while the io_context is destroyed still unregister.
  const ForwarderOptions options;
  std::mutex mu;
  bool started = false;                                  // guarded by mu
  bool stopping = false;                                 // guarded by mu
  std::unordered_map<Link*, std::weak_ptr<Link>> links;  // guarded by mu
  std::unordered_map<std::string, size_t> per_source;    // guarded by mu
  std::vector<std::thread> threads;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::shared_ptr<Listener>> listeners;  // guarded by mu; cleared by Stop
};

bool Forwarder::State::Register(const std::shared_ptr<Link>& link, std::string source) {
  std::lock_guard lock(mu);
  if (stopping) return false;
  if (options.max_connections && links.size() >= options.max_connections) return false;
  size_t& n = per_source[source];
  if (options.max_connections_per_source && n >= options.max_connections_per_source) {
    if (n == 0) per_source.erase(source);
    return false;
  }
  ++n;
  links.emplace(link.get(), link);
  link->registered = true;
  link->source = std::move(source);
  return true;
}

void Forwarder::State::Unregister(Link* link) {
  std::lock_guard lock(mu);
  if (!link->registered) return;
  links.erase(link);
  auto it = per_source.find(link->source);
  if (it != per_source.end() && --it->second == 0) per_source.erase(it);
}

asio::awaitable<void> Forwarder::State::Watchdog(std::shared_ptr<Link> link) {
  while (!link->closed) {
    if (link->deadline <= std::chrono::steady_clock::now()) {
      link->Close();
      co_return;
    }
    link->armed = link->deadline;
    link->timer.expires_at(link->armed);
    co_await link->timer.async_wait(kNoThrow);
  }
}

asio::awaitable<void> Forwarder::State::Pump(std::shared_ptr<Link> link, tcp::socket& from,
                                             tcp::socket& to) {
  std::vector<char> buf(std::max<size_t>(options.buffer_bytes, 512));
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kNoThrow);
    if (ec == asio::error::eof) {
      // Half-close: the other side hears the end of this direction; the other goes on.
      error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      break;
    }
    if (ec || link->closed) {
      link->Close();
      co_return;
    }
    link->Touch();
    auto [wec, written] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kNoThrow);
    if (wec || link->closed) {
      link->Close();
      co_return;
    }
    link->Touch();
  }
  if (--link->pumps == 0) link->Close();
}

asio::awaitable<std::optional<std::string>> Forwarder::State::PeekServerName(
    std::shared_ptr<Link> link, std::string& peeked) {
  std::vector<char> buf(4096);
  for (;;) {
    auto name = ClientHelloServerName(peeked);
    if (name) co_return std::move(*name);
    if (name.error().code != Code::kUnavailable) {
      spdlog::debug("privatelink forwarder: {}", name.error().message);
      co_return std::nullopt;
    }
    auto [ec, n] = co_await link->client.async_read_some(asio::buffer(buf), kNoThrow);
    if (ec || link->closed) co_return std::nullopt;
    peeked.append(buf.data(), n);
  }
}

asio::awaitable<bool> Forwarder::State::Connect(std::shared_ptr<Link> link,
                                                const Listener& listener,
                                                const std::vector<Target>& targets) {
  for (const auto& target : targets) {
    error_code ec;
    auto address = asio::ip::make_address(target.address, ec);
    if (ec) {
      spdlog::warn("privatelink forwarder: bad target address '{}'", target.address);
      continue;
    }
    tcp::endpoint endpoint(address, target.port);
    error_code ignored;
    if (link->server.is_open()) link->server.close(ignored);
    link->server.open(endpoint.protocol(), ec);
    if (!ec && listener.source) link->server.bind(tcp::endpoint(*listener.source, 0), ec);
    if (ec) {
      spdlog::warn("privatelink forwarder: socket to {}: {}", target.address, ec.message());
      continue;
    }
    auto [connect_ec] = co_await link->server.async_connect(endpoint, kNoThrow);
    if (link->closed) co_return false;
    if (!connect_ec) co_return true;
    spdlog::debug("privatelink forwarder: connect to {}:{}: {}", target.address, target.port,
                  connect_ec.message());
  }
  co_return false;
}

asio::awaitable<void> Forwarder::State::Run(std::shared_ptr<Link> link,
                                            std::shared_ptr<Listener> listener,
                                            tcp::endpoint remote, tcp::endpoint local) {
  const Route& route = listener->route;
  std::string peeked, server_name;
  if (route.peek_sni) {
    auto name = co_await PeekServerName(link, peeked);
    if (!name) {
      link->Close();
      co_return;
    }
    server_name = std::move(*name);
  }
  std::vector<Target> targets =
      route.targets ? route.targets(Arrival{IpString(remote.address()), std::move(server_name)})
                    : std::vector<Target>{{route.target_address, route.target_port}};
  if (!co_await Connect(link, *listener, targets)) {
    link->Close();
    co_return;
  }
  error_code ec;
  link->server.set_option(tcp::no_delay(true), ec);
  link->client.set_option(tcp::no_delay(true), ec);

  http::ProxyHeader header;
  header.command = http::ProxyHeader::Command::kProxy;
  header.transport = http::ProxyHeader::Transport::kStream;
  header.source_address = IpString(remote.address());
  header.destination_address = IpString(local.address());
  const bool v6 = header.source_address.find(':') != std::string::npos ||
                  header.destination_address.find(':') != std::string::npos;
  header.family = v6 ? http::ProxyHeader::Family::kInet6 : http::ProxyHeader::Family::kInet;
  header.source_port = remote.port();
  header.destination_port = local.port();
  if (route.link_id) header.tlvs.push_back(http::AzureLinkIdTlv(*route.link_id));
  auto bytes = http::SerializeProxyV2(header);
  if (!bytes) {
    spdlog::warn("privatelink forwarder: PROXY header: {}", bytes.error().message);
    link->Close();
    co_return;
  }
  link->Touch();
  // The header, then what was read of the client already (its ClientHello).
  std::array<asio::const_buffer, 2> out{asio::buffer(*bytes), asio::buffer(peeked)};
  auto [write_ec, written] = co_await asio::async_write(link->server, out, kNoThrow);
  if (write_ec || link->closed) {
    link->Close();
    co_return;
  }
  link->Touch();
  link->pumps = 2;
  auto ex = link->client.get_executor();
  asio::co_spawn(ex, Pump(link, link->client, link->server),
                 [](std::exception_ptr e) { LogException("pump", e); });
  asio::co_spawn(ex, Pump(link, link->server, link->client),
                 [](std::exception_ptr e) { LogException("pump", e); });
}

void Forwarder::State::StartLink(tcp::socket socket, const std::shared_ptr<Listener>& listener) {
  error_code remote_ec, local_ec;
  tcp::endpoint remote = socket.remote_endpoint(remote_ec);
  tcp::endpoint local = socket.local_endpoint(local_ec);
  if (remote_ec || local_ec) return;  // already gone; the socket closes here
  std::string source = (listener->route.link_id ? std::to_string(*listener->route.link_id) : "") +
                       "/" + IpString(remote.address());
  auto link = std::make_shared<Link>(*this, std::move(socket));
  // Before Register: from then on Stop may close the link on its strand.
  link->SetDeadline(std::chrono::steady_clock::now() + options.connect_timeout);
  if (!Register(link, source)) {
    spdlog::debug("privatelink forwarder: too many connections; refusing one from {}",
                  IpString(remote.address()));
    link->Close();
    return;
  }
  auto ex = link->client.get_executor();
  asio::co_spawn(ex, Run(link, listener, remote, local),
                 [](std::exception_ptr e) { LogException("connection", e); });
  asio::co_spawn(ex, Watchdog(link), [](std::exception_ptr e) { LogException("watchdog", e); });
}

Result<uint16_t> Forwarder::State::AddListener(std::shared_ptr<Listener> listener,
                                               const Route& route) {
  error_code ec;
  std::optional<asio::ip::address> target;
  if (!route.targets) {
    target = asio::ip::make_address(route.target_address, ec);
    if (ec) {
      return Fail(Code::kInvalidArgument, "bad target address '" + route.target_address + "'");
    }
  }
  listener->route = route;
  if (!route.source_address.empty()) {
    auto source = asio::ip::make_address(route.source_address, ec);
    if (ec || (target && source.is_v4() != target->is_v4())) {
      return Fail(Code::kInvalidArgument, "bad source address '" + route.source_address + "'");
    }
    listener->source = source;
  }
  auto local = listener->acceptor.local_endpoint(ec);
  if (ec) return Fail(Code::kIOError, "getsockname: " + ec.message());
  {
    std::lock_guard lock(mu);
    if (stopping) return Fail(Code::kFailedPrecondition, "forwarder is stopped");
    listeners.push_back(listener);
  }
  asio::co_spawn(listener->acceptor.get_executor(),
                 http::AcceptLoop(listener, listener->acceptor, ioc, "privatelink forwarder",
                                  [this, listener](tcp::socket socket) {
                                    StartLink(std::move(socket), listener);
                                  }),
                 [](std::exception_ptr e) { LogException("accept loop", e); });
  return local.port();
}

// ---------------------------------------------------------------------------------------------

Forwarder::Forwarder(ForwarderOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

Forwarder::~Forwarder() { Stop(); }

Result<uint16_t> Forwarder::Adopt(UniqueFd listening_socket, const Route& route) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(listening_socket.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Fail(Code::kIOError, std::string("getsockname: ") + std::strerror(errno));
  }
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) {
    return Fail(Code::kInvalidArgument, "adopted socket is not TCP/IP");
  }
  auto listener =
      std::make_shared<State::Listener>(asio::any_io_executor(asio::make_strand(state_->ioc)));
  error_code ec;
  listener->acceptor.assign(addr.ss_family == AF_INET ? tcp::v4() : tcp::v6(),
                            listening_socket.get(), ec);
  if (ec) return Fail(Code::kIOError, "adopt listening socket: " + ec.message());
  listening_socket.Release();
  return state_->AddListener(std::move(listener), route);
}

Result<uint16_t> Forwarder::Listen(const std::string& address, uint16_t port, const Route& route) {
  error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) return Fail(Code::kInvalidArgument, "bad listen address '" + address + "'");
  auto listener =
      std::make_shared<State::Listener>(asio::any_io_executor(asio::make_strand(state_->ioc)));
  tcp::endpoint endpoint(ip, port);
  tcp::acceptor& acceptor = listener->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail(Code::kIOError,
                "listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  }
  return state_->AddListener(std::move(listener), route);
}

void Forwarder::Start() {
  std::lock_guard lock(state_->mu);
  if (state_->started || state_->stopping) return;
  state_->started = true;
  for (int i = 0; i < std::max(1, state_->options.threads); ++i) {
    state_->threads.emplace_back(
        [state = state_.get()] { http::RunIoContext(state->ioc, "privatelink forwarder"); });
  }
}

void Forwarder::Stop() {
  std::vector<std::shared_ptr<State::Listener>> listeners;
  std::vector<std::shared_ptr<State::Link>> links;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) return;
    state_->stopping = true;
    listeners = state_->listeners;
    for (auto& [raw, weak] : state_->links) {
      if (auto link = weak.lock()) links.push_back(std::move(link));
    }
  }
  for (auto& listener : listeners) {
    asio::post(listener->acceptor.get_executor(), [listener] {
      error_code ignored;
      listener->acceptor.close(ignored);
    });
  }
  for (auto& link : links) {
    auto ex = link->client.get_executor();
    asio::post(ex, [link = std::move(link)] { link->Close(); });
  }
  links.clear();
  state_->work.reset();
  if (state_->threads.empty()) {
    // Never started: finish the posted work here so every coroutine ends.
    state_->ioc.restart();
    state_->ioc.run();
  }
  for (auto& t : state_->threads) t.join();
  state_->threads.clear();
  std::lock_guard lock(state_->mu);
  state_->listeners.clear();
}

size_t Forwarder::connections() const {
  std::lock_guard lock(state_->mu);
  return state_->links.size();
}

}  // namespace cove::privatelink
