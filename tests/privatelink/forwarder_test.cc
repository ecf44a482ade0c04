// Forwarder over loopback: a client (bound to 127.0.0.5, the "VM") connects to the forwarder,
// which connects from 127.0.0.2 (the forwarder's backbone address) to a real http::Server that
// takes PROXY v2 from 127.0.0.2 only, or to a raw backend that records the header and bytes.
#include "privatelink/forwarder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "http/http_test_util.h"
#include "http/proxy_protocol.h"
#include "http/server.h"
#include "privatelink/client_hello_util.h"

namespace cove::privatelink {
namespace {

constexpr char kClientIp[] = "127.0.0.5";
constexpr char kForwarderIp[] = "127.0.0.2";

sockaddr_in Addr(const char* ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &sa.sin_addr);
  return sa;
}

void SetTimeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

// A blocking TCP connection from `source` to 127.0.0.1:port (reads time out after 10 s).
UniqueFd ConnectFrom(const char* source, uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from = Addr(source, 0);
  sockaddr_in to = Addr("127.0.0.1", port);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  SetTimeout(fd.get(), 10);
  return fd;
}

uint16_t PortOf(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until EOF, an error or the read timeout; `clean` says whether it ended with EOF.
std::string ReadToEnd(int fd, bool* clean = nullptr) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (clean) *clean = n == 0;
    return out;
  }
}

bool ReadExactly(int fd, char* buf, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::recv(fd, buf + got, size - got, 0);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// Polls `done` for up to 10 s.
bool Eventually(const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A raw TCP backend on 127.0.0.1: accepts connections one after another, reads each one's
// PROXY v2 header and hands the socket to `serve`.
class RawBackend {
 public:
  explicit RawBackend(std::function<void(int)> serve, int backlog = 16) : serve_(std::move(serve)) {
    listen_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = Addr("127.0.0.1", 0);
    EXPECT_EQ(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(listen_.get(), backlog), 0);
    port_ = PortOf(listen_.get());
  }
  // Starts accepting (a backend that is never started leaves connections in its queue).
  void Start() {
    thread_ = std::thread([this] {
      for (;;) {
        UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn.valid()) return;
        SetTimeout(conn.get(), 10);
        char buf[http::kProxyV2MaxSize];
        if (!ReadExactly(conn.get(), buf, http::kProxyV2PrefixSize)) continue;
        auto size = http::ProxyV2HeaderSize(std::string_view(buf, http::kProxyV2PrefixSize));
        if (!size || !ReadExactly(conn.get(), buf + http::kProxyV2PrefixSize,
                                  *size - http::kProxyV2PrefixSize)) {
          continue;
        }
        {
          std::lock_guard lock(mu_);
          raw_headers_.emplace_back(buf, *size);
        }
        serve_(conn.get());
      }
    });
  }
  ~RawBackend() {
    ::shutdown(listen_.get(), SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> raw_headers() {
    std::lock_guard lock(mu_);
    return raw_headers_;
  }

 private:
  std::function<void(int)> serve_;
  UniqueFd listen_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> raw_headers_;
};

class ForwarderTest : public ::testing::Test {
 protected:
  // The forwarder on 127.0.0.1, to 127.0.0.1:target_port from 127.0.0.2.
  uint16_t StartForwarder(uint16_t target_port, std::optional<uint32_t> link_id,
                          ForwarderOptions options = {}) {
    options.threads = 2;  // connections on two I/O threads: each keeps to its strand
    forwarder_ = std::make_unique<Forwarder>(options);
    auto port = forwarder_->Listen("127.0.0.1", 0,
                                   Route{.target_address = "127.0.0.1",
                                         .target_port = target_port,
                                         .link_id = link_id,
                                         .source_address = kForwarderIp});
    EXPECT_TRUE(port) << port.error().message;
    forwarder_->Start();
    return port ? *port : 0;
  }
  void TearDown() override {
    if (forwarder_) forwarder_->Stop();
    if (server_) server_->Stop();
  }
  // An http::Server whose listener takes PROXY v2 from `proxy_sources` only.
  uint16_t StartServer(std::vector<std::string> proxy_sources) {
    server_ = std::make_unique<http::Server>(handler_, nullptr);
    http::ListenerOptions listener;
    listener.proxy_protocol = true;
    listener.proxy_sources = std::move(proxy_sources);
    return http::testing::ListenAndStart(*server_, listener);
  }

  http::testing::TestHandler handler_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<Forwarder> forwarder_;
};

constexpr char kPeerRequest[] = "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

TEST_F(ForwarderTest, TheServerSeesTheOriginalClientAndTheLinkId) {
  uint16_t server_port = StartServer({std::string(kForwarderIp) + "/32"});
  uint16_t port = StartForwarder(server_port, 4242);
  UniqueFd client = ConnectFrom(kClientIp, port);
  SendAll(client.get(), kPeerRequest);
  std::string reply = ReadToEnd(client.get());
  ASSERT_NE(reply.find("\r\n\r\n"), std::string::npos) << reply;
  // The local port is the one the client connected to (the PROXY header's destination), not
  // the server's own.
  EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4),
            std::string(kClientIp) + " " + std::to_string(port) + " plain - 4242 " +
                std::to_string(PortOf(client.get())));
  // The server closed its side; the forwarder waits for the client's end too (half-close).
  client.Reset();
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, AHeaderFromASourceNotInProxySourcesIsRefused) {
  // The server believes 127.0.0.3 only; the forwarder connects from 127.0.0.2.
  uint16_t server_port = StartServer({"127.0.0.3"});
  uint16_t port = StartForwarder(server_port, 4242);
  UniqueFd client = ConnectFrom(kClientIp, port);
  SendAll(client.get(), kPeerRequest);
  bool clean = false;
  EXPECT_EQ(ReadToEnd(client.get(), &clean), "");
  EXPECT_TRUE(clean);  // closed, not timed out
  EXPECT_EQ(handler_.finishes(), 0);
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, HeaderCarriesEndpointsAndAzureLinkIdAndHalfCloseIsPassedOn) {
  RawBackend backend([](int fd) {
    std::string got = ReadToEnd(fd);  // until the client's FIN comes through
    SendAll(fd, "got " + got);
  });
  backend.Start();
  uint16_t port = StartForwarder(backend.port(), 0x01020304);
  UniqueFd client = ConnectFrom(kClientIp, port);
  SendAll(client.get(), "hello");
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  EXPECT_EQ(ReadToEnd(client.get()), "got hello");

  auto headers = backend.raw_headers();
  ASSERT_EQ(headers.size(), 1u);
  auto header = http::ParseProxyV2(headers[0]);
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->command, http::ProxyHeader::Command::kProxy);
  EXPECT_EQ(header->family, http::ProxyHeader::Family::kInet);
  EXPECT_EQ(header->source_address, kClientIp);
  EXPECT_EQ(header->source_port, PortOf(client.get()));
  EXPECT_EQ(header->destination_address, "127.0.0.1");
  EXPECT_EQ(header->destination_port, port);
  EXPECT_EQ(header->link_id, 0x01020304u);
  // Azure's layout: type 0xEE, subtype 0x01, the link id little-endian.
  ASSERT_EQ(header->tlvs.size(), 1u);
  EXPECT_EQ(header->tlvs[0].type, 0xEE);
  EXPECT_EQ(header->tlvs[0].value, std::string("\x01\x04\x03\x02\x01", 5));
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, LargeTransfersArriveIntactBothWays) {
  // The backend echoes everything after the client's FIN: both directions carry 8 MiB through
  // the forwarder's small buffers, with the kernel's buffers full in between.
  RawBackend backend([](int fd) { SendAll(fd, ReadToEnd(fd)); });
  backend.Start();
  uint16_t port = StartForwarder(backend.port(), 1);
  UniqueFd client = ConnectFrom(kClientIp, port);
  std::string payload(8 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 131) >> 7);
  std::thread writer([&] {
    SendAll(client.get(), payload);
    ::shutdown(client.get(), SHUT_WR);
  });
  std::string echoed = ReadToEnd(client.get());
  writer.join();
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_TRUE(echoed == payload);
  client.Reset();
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, WithoutALinkIdNoTlv) {
  RawBackend backend([](int fd) { SendAll(fd, "hi"); });
  backend.Start();
  uint16_t port = StartForwarder(backend.port(), std::nullopt);
  UniqueFd client = ConnectFrom(kClientIp, port);
  EXPECT_EQ(ReadToEnd(client.get()), "hi");
  auto headers = backend.raw_headers();
  ASSERT_EQ(headers.size(), 1u);
  auto header = http::ParseProxyV2(headers[0]);
  ASSERT_TRUE(header);
  EXPECT_TRUE(header->tlvs.empty());
  EXPECT_FALSE(header->link_id);
}

TEST_F(ForwarderTest, ATargetThatRefusesClosesTheClient) {
  // A port nobody listens on: bind one and close it.
  uint16_t dead_port;
  {
    RawBackend gone([](int) {});
    dead_port = gone.port();
  }
  uint16_t port = StartForwarder(dead_port, 1);
  UniqueFd client = ConnectFrom(kClientIp, port);
  bool clean = false;
  EXPECT_EQ(ReadToEnd(client.get(), &clean), "");
  EXPECT_TRUE(clean);
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, ConnectTimeout) {
  // A backend that never accepts, its queue full: further SYNs go unanswered.
  RawBackend stuck([](int) {}, /*backlog=*/0);
  std::vector<UniqueFd> fillers;
  for (int i = 0; i < 3; ++i) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in to = Addr("127.0.0.1", stuck.port());
    ::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to);
    fillers.push_back(std::move(fd));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // handshakes settle
  uint16_t port =
      StartForwarder(stuck.port(), 1, {.connect_timeout = std::chrono::milliseconds(300)});
  auto start = std::chrono::steady_clock::now();
  UniqueFd client = ConnectFrom(kClientIp, port);
  bool clean = false;
  EXPECT_EQ(ReadToEnd(client.get(), &clean), "");
  EXPECT_TRUE(clean);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, IdleTimeoutClosesASilentConnection) {
  RawBackend backend([](int fd) { ReadToEnd(fd); });  // silent until the forwarder closes
  backend.Start();
  uint16_t port =
      StartForwarder(backend.port(), 1, {.idle_timeout = std::chrono::milliseconds(300)});
  UniqueFd client = ConnectFrom(kClientIp, port);
  auto start = std::chrono::steady_clock::now();
  bool clean = false;
  EXPECT_EQ(ReadToEnd(client.get(), &clean), "");
  EXPECT_TRUE(clean);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, ConnectionsPastACapAreClosedAtOnce) {
  std::atomic<int> served{0};
  RawBackend backend([&](int fd) {
    ++served;
    SendAll(fd, "x");
    ReadToEnd(fd);  // held until the client goes
  });
  backend.Start();
  uint16_t port = StartForwarder(backend.port(), 1, {.max_connections_per_source = 1});
  UniqueFd first = ConnectFrom(kClientIp, port);
  char c = 0;
  ASSERT_EQ(::recv(first.get(), &c, 1, 0), 1);  // forwarded and served
  EXPECT_EQ(forwarder_->connections(), 1u);
  UniqueFd second = ConnectFrom(kClientIp, port);
  bool clean = false;
  EXPECT_EQ(ReadToEnd(second.get(), &clean), "");
  EXPECT_TRUE(clean);
  // Another source still gets through.
  UniqueFd other = ConnectFrom("127.0.0.6", port);
  first.Reset();
  ASSERT_EQ(::recv(other.get(), &c, 1, 0), 1);
  other.Reset();
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
  EXPECT_EQ(served.load(), 2);
}

TEST_F(ForwarderTest, StopClosesLiveConnections) {
  RawBackend backend([](int fd) {
    SendAll(fd, "x");
    ReadToEnd(fd);
  });
  backend.Start();
  uint16_t port = StartForwarder(backend.port(), 1);
  UniqueFd client = ConnectFrom(kClientIp, port);
  char c = 0;
  ASSERT_EQ(::recv(client.get(), &c, 1, 0), 1);
  forwarder_->Stop();
  EXPECT_EQ(forwarder_->connections(), 0u);
  bool clean = false;
  EXPECT_EQ(ReadToEnd(client.get(), &clean), "");
  EXPECT_TRUE(clean);
}

// A port nobody listens on: bound once and closed.
uint16_t DeadPort() {
  RawBackend gone([](int) {});
  return gone.port();
}

TEST_F(ForwarderTest, TargetsAreTriedInOrderAndADeadOneIsSkipped) {
  RawBackend live([](int fd) { SendAll(fd, "live"); });
  live.Start();
  forwarder_ = std::make_unique<Forwarder>();
  std::atomic<int> asked{0};
  auto port = forwarder_->Listen(
      "127.0.0.1", 0,
      Route{.link_id = 7,
            .source_address = kForwarderIp,
            .targets = [&, dead = DeadPort()](const Arrival& arrival) {
              ++asked;
              EXPECT_EQ(arrival.server_name, "");  // no peek_sni: no name
              EXPECT_EQ(arrival.client_address, kClientIp);
              return std::vector<Target>{{"127.0.0.1", dead}, {"127.0.0.1", live.port()}};
            }});
  ASSERT_TRUE(port) << port.error().message;
  forwarder_->Start();
  UniqueFd client = ConnectFrom(kClientIp, *port);
  EXPECT_EQ(ReadToEnd(client.get()), "live");
  EXPECT_EQ(asked.load(), 1);
  auto headers = live.raw_headers();
  ASSERT_EQ(headers.size(), 1u);
  auto header = http::ParseProxyV2(headers[0]);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->link_id, 7u);
}

TEST_F(ForwarderTest, NoTargetThatAcceptsClosesTheClient) {
  forwarder_ = std::make_unique<Forwarder>();
  auto port = forwarder_->Listen("127.0.0.1", 0, Route{.targets = [dead = DeadPort()](auto) {
                                   return std::vector<Target>{{"127.0.0.1", dead}};
                                 }});
  ASSERT_TRUE(port);
  forwarder_->Start();
  UniqueFd client = ConnectFrom(kClientIp, *port);
  bool clean = false;
  EXPECT_EQ(ReadToEnd(client.get(), &clean), "");
  EXPECT_TRUE(clean);
  EXPECT_TRUE(Eventually([&] { return forwarder_->connections() == 0; }));
}

TEST_F(ForwarderTest, PeekSniRoutesByServerNameAndPassesTheClientHelloOnIntact) {
  std::mutex mu;
  std::map<std::string, std::string> got;  // backend → bytes after the header
  auto backend = [&](std::string who) {
    return std::make_unique<RawBackend>([&, who](int fd) {
      std::string bytes = ReadToEnd(fd);
      std::lock_guard lock(mu);
      got[who] = bytes;
    });
  };
  auto west = backend("west"), east = backend("east");
  west->Start();
  east->Start();
  forwarder_ = std::make_unique<Forwarder>();
  auto port = forwarder_->Listen(
      "127.0.0.1", 0,
      Route{.targets =
                [&](const Arrival& arrival) {
                  uint16_t p = arrival.server_name == "myregistry.eastus.data.azurecr.io"
                                   ? east->port()
                                                                           : west->port();
                  return std::vector<Target>{{"127.0.0.1", p}};
                },
            .peek_sni = true});
  ASSERT_TRUE(port);
  forwarder_->Start();
  for (std::string name : {"MyRegistry.EastUS.data.azurecr.io", "myregistry.azurecr.io"}) {
    std::string hello = testing::MakeClientHello(name);
    UniqueFd client = ConnectFrom(kClientIp, *port);
    // In two pieces: the forwarder waits for the whole ClientHello.
    SendAll(client.get(), hello.substr(0, 40));
    std::this_thread::yield();
    SendAll(client.get(), hello.substr(40) + "after");
    ::shutdown(client.get(), SHUT_WR);
    ReadToEnd(client.get());
    std::string who = name == "myregistry.azurecr.io" ? "west" : "east";
    ASSERT_TRUE(Eventually([&] {
      std::lock_guard lock(mu);
      return got.count(who) > 0;
    })) << name;
    std::lock_guard lock(mu);
    EXPECT_TRUE(got[who] == hello + "after") << name;
  }
}

TEST_F(ForwarderTest, PeekSniClosesAClientThatDoesNotSpeakTls) {
  RawBackend backend([](int) {});
  backend.Start();
  forwarder_ = std::make_unique<Forwarder>();
  auto port = forwarder_->Listen("127.0.0.1", 0,
                                 Route{.targets =
                                           [&](auto) {
                                             return std::vector<Target>{
                                                 {"127.0.0.1", backend.port()}};
                                           },
                                       .peek_sni = true});
  ASSERT_TRUE(port);
  forwarder_->Start();
  UniqueFd client = ConnectFrom(kClientIp, *port);
  SendAll(client.get(), kPeerRequest);
  bool clean = false;
  EXPECT_EQ(ReadToEnd(client.get(), &clean), "");
  EXPECT_TRUE(clean);
  EXPECT_TRUE(backend.raw_headers().empty());
}

TEST(ForwarderRouteTest, BadRoutesAreRefused) {
  Forwarder forwarder;
  EXPECT_EQ(forwarder.Listen("127.0.0.1", 0, Route{.target_address = "registry"}).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(
      forwarder
          .Listen("127.0.0.1", 0, Route{.target_address = "127.0.0.1", .source_address = "fd00::1"})
          .error()
          .code,
      Code::kInvalidArgument);
  forwarder.Stop();
  EXPECT_EQ(forwarder.Listen("127.0.0.1", 0, Route{.target_address = "127.0.0.1"}).error().code,
            Code::kFailedPrecondition);
}

}  // namespace
}  // namespace cove::privatelink
