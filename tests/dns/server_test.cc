// Server tests over loopback: real clients (dig from dnsutils, kdig from knot-dnsutils) over UDP
// and TCP, sockets handed over by descriptor, views chosen by socket, truncation and TCP
// fallback, malformed input, TCP limits and timeouts, counters, catalog swaps.
#include "dns/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "dns/catalog.h"
#include "dns/dns_clients.h"
#include "dns/seed_catalog.h"
#include "dns/wire.h"

namespace cove::dns {
namespace {

using namespace testing;  // NOLINT: the DNS test helpers (dns_clients.h, seed_catalog.h)

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built = Catalog::Build(SeedSpec());
    ASSERT_TRUE(built) << built.error().message;
    store_.Set(*built);
  }

  void StartServer(ServerOptions options = {}) {
    server_ = std::make_unique<Server>(store_, options);
    auto linked = server_->Listen("127.0.0.1", 0, kLinkedVnet);
    ASSERT_TRUE(linked) << linked.error().message;
    linked_port_ = *linked;
    server_->Start();
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  CatalogStore store_;
  std::unique_ptr<Server> server_;
  uint16_t linked_port_ = 0;
};

TEST_F(ServerTest, DigGetsThePrivateChainOverUdpAndTcp) {
  StartServer();
  for (std::string transport : {"+notcp", "+tcp"}) {
    CommandResult r = RunCommand(Dig(linked_port_, {transport, "myregistry.azurecr.io", "A"}));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(Contains(r.output, "status: NOERROR")) << r.output;
    EXPECT_TRUE(Contains(r.output, "flags: qr rd ra;")) << r.output;  // recursive, not AA
    EXPECT_TRUE(Contains(r.output,
                         "myregistry.azurecr.io.\t60\tIN\tCNAME\t"
                         "myregistry.privatelink.azurecr.io."))
        << r.output;
    EXPECT_TRUE(Contains(r.output, "myregistry.privatelink.azurecr.io. 10 IN A\t10.0.0.5"))
        << r.output;
    EXPECT_TRUE(Contains(r.output, "EDNS: version: 0, flags:; udp: 1232")) << r.output;
  }
  CommandResult r = RunCommand(Dig(linked_port_, {"ghost.privatelink.azurecr.io"}));
  EXPECT_TRUE(Contains(r.output, "status: NXDOMAIN")) << r.output;
  EXPECT_TRUE(Contains(r.output, "privatelink.azurecr.io.\t10\tIN\tSOA\tazureprivatedns.net."))
      << r.output;
  r = RunCommand(Dig(linked_port_, {"www.example.com"}));
  EXPECT_TRUE(Contains(r.output, "status: REFUSED")) << r.output;
  r = RunCommand(Dig(linked_port_, {"MyRegistry.AzureCR.io"}));
  EXPECT_TRUE(Contains(r.output, "MyRegistry.AzureCR.io.\t60\tIN\tCNAME")) << r.output;
}

TEST_F(ServerTest, KdigGetsTheDataEndpointOverUdpAndTcp) {
  StartServer();
  for (std::string transport : {"+notcp", "+tcp"}) {
    CommandResult r =
        RunCommand(Kdig(linked_port_, {transport, "myregistry.westus.data.azurecr.io", "A"}));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(Contains(r.output, "status: NOERROR")) << r.output;
    EXPECT_TRUE(Contains(r.output, "myregistry.westus.data.privatelink.azurecr.io.")) << r.output;
    EXPECT_TRUE(Contains(r.output, "10.0.0.6")) << r.output;
    EXPECT_TRUE(Contains(r.output, transport == "+tcp" ? "(TCP)" : "(UDP)")) << r.output;
  }
  // kdig's own checks (+nocrypto etc. aside) on a NODATA and an EDNS version it does not speak.
  CommandResult r = RunCommand(Kdig(linked_port_, {"myregistry.privatelink.azurecr.io", "AAAA"}));
  EXPECT_TRUE(Contains(r.output, "status: NOERROR")) << r.output;
  EXPECT_TRUE(Contains(r.output, "ANSWER: 0")) << r.output;
  r = RunCommand(Kdig(linked_port_, {"+edns=1", "myregistry.azurecr.io"}));
  EXPECT_TRUE(Contains(r.output, "BADVERS")) << r.output;
}

TEST_F(ServerTest, TwoSocketsWithTwoViewsAnswerDifferentlyForTheSameName) {
  StartServer();
  // The public view's sockets are handed over as descriptors, as the fabric will: a UDP and a
  // TCP socket on one port. The kernel picks a free UDP port; the same TCP port may be taken
  // by another process's connection, so try a few.
  UniqueFd udp, tcp;
  uint16_t port = 0;
  for (int attempt = 0; attempt < 20 && !tcp.valid(); ++attempt) {
    udp = BoundSocket(SOCK_DGRAM);
    sockaddr_in bound{};
    socklen_t len = sizeof(bound);
    ASSERT_EQ(::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&bound), &len), 0);
    port = ntohs(bound.sin_port);
    sockaddr_in a = Loopback(port);
    UniqueFd candidate(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(candidate.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(candidate.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      tcp = std::move(candidate);
    }
  }
  ASSERT_TRUE(tcp.valid()) << "no port free for both UDP and TCP";
  auto public_port = server_->AddUdpSocket(std::move(udp), "");
  ASSERT_TRUE(public_port) << public_port.error().message;
  ASSERT_EQ(*public_port, port);
  ASSERT_TRUE(server_->AddTcpSocket(std::move(tcp), ""));

  for (std::string transport : {"+notcp", "+tcp"}) {
    CommandResult pub =
        RunCommand(Dig(*public_port, {transport, "+short", "myregistry.azurecr.io"}));
    CommandResult priv =
        RunCommand(Dig(linked_port_, {transport, "+short", "myregistry.azurecr.io"}));
    EXPECT_EQ(pub.output, "myregistry.privatelink.azurecr.io.\n203.0.113.10\n");
    EXPECT_EQ(priv.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");
  }
  EXPECT_EQ(server_->Counters("").queries, 2u);
  EXPECT_EQ(server_->Counters(kLinkedVnet).queries, 2u);
  EXPECT_EQ(server_->Counters(kLinkedVnet).tcp_accepted, 1u);

  // Not sockets of the right kind.
  EXPECT_FALSE(server_->AddUdpSocket(BoundSocket(SOCK_STREAM), ""));
  EXPECT_FALSE(server_->AddTcpSocket(BoundSocket(SOCK_DGRAM), ""));
  EXPECT_FALSE(server_->AddUdpSocket(UniqueFd(::socket(AF_INET, SOCK_DGRAM, 0)), ""));
}

TEST_F(ServerTest, TruncatedUdpAnswersFallBackToTcp) {
  StartServer();
  // dig +ignore shows the truncated UDP answer itself.
  CommandResult r = RunCommand(Dig(linked_port_, {"+noedns", "+ignore", "many.azurecr.io"}));
  EXPECT_TRUE(Contains(r.output, "flags: qr tc rd ra;")) << r.output;
  EXPECT_TRUE(Contains(r.output, "ANSWER: 0,")) << r.output;
  // Without it, dig retries over TCP and gets all 60 records; so does kdig.
  r = RunCommand(Dig(linked_port_, {"+noedns", "many.azurecr.io"}));
  EXPECT_TRUE(Contains(r.output, "Truncated, retrying in TCP mode")) << r.output;
  EXPECT_EQ(CountLines(r.output, "\tIN\tA\t198.51.100."), 60u) << r.output;
  r = RunCommand(Kdig(linked_port_, {"+noedns", "many.azurecr.io"}));
  EXPECT_EQ(CountLines(r.output, "\tA\t198.51.100."), 60u) << r.output;
  // An EDNS client with room for it gets everything over UDP.
  r = RunCommand(Dig(linked_port_, {"+bufsize=4096", "+ignore", "many.azurecr.io"}));
  EXPECT_FALSE(Contains(r.output, " tc ")) << r.output;
  EXPECT_EQ(CountLines(r.output, "\tIN\tA\t198.51.100."), 60u) << r.output;
  EXPECT_GE(server_->Counters(kLinkedVnet).truncated, 2u);
}

TEST_F(ServerTest, MalformedPacketsGetFormErrOrAreDroppedAndTheServerKeepsAnswering) {
  StartServer();
  UdpClient client(linked_port_);
  using namespace std::chrono_literals;
  // Too short to answer: dropped.
  client.Send({0x12, 0x34, 0x01});
  EXPECT_FALSE(client.Receive(300ms));
  // A response: dropped.
  std::vector<uint8_t> q = QueryBytes("myregistry.azurecr.io", kTypeA, 0x0101);
  q[2] |= 0x80;
  client.Send(q);
  EXPECT_FALSE(client.Receive(300ms));
  // A header with a broken question: FORMERR with the same id.
  q = QueryBytes("myregistry.azurecr.io", kTypeA, 0x0202);
  q.resize(20);
  client.Send(q);
  auto reply = client.Receive(3000ms);
  ASSERT_TRUE(reply);
  auto m = Parse(*reply);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, 0x0202);
  EXPECT_EQ(m->header.rcode, kRcodeFormErr);
  // Random garbage of every length never stops the server.
  uint32_t x = 12345;
  for (size_t len = 0; len < 300; ++len) {
    std::vector<uint8_t> junk(len);
    for (uint8_t& b : junk) {
      x = x * 1103515245 + 12345;
      b = static_cast<uint8_t>(x >> 16);
    }
    if (len >= 3) junk[2] &= 0x7F;  // queries, so some get answers
    client.Send(junk);
    while (client.Receive(0ms)) {
    }  // keep the client's receive buffer from overflowing
  }
  // Read the junk replies until the server has seen every packet, so that none is lost to a
  // full receive buffer; then a real query is answered.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server_->Counters(kLinkedVnet).queries < 303 &&
         std::chrono::steady_clock::now() < deadline) {
    client.Receive(5ms);
  }
  while (client.Receive(50ms)) {
  }
  client.Send(QueryBytes("myregistry.azurecr.io", kTypeA, 0x0303));
  bool answered = false;
  while (auto r = client.Receive(3000ms)) {
    auto parsed = Parse(*r);
    if (parsed && parsed->header.id == 0x0303) {
      EXPECT_EQ(parsed->answers.size(), 2u);
      answered = true;
      break;
    }
  }
  EXPECT_TRUE(answered);
  ViewCounterSnapshot c = server_->Counters(kLinkedVnet);

  EXPECT_EQ(c.queries, 304u);
  EXPECT_GE(c.dropped, 2u);
  EXPECT_GE(c.rcodes[kRcodeFormErr], 1u);
  EXPECT_GE(c.rcodes[kRcodeNoError], 1u);
  EXPECT_EQ(c.queries, c.responses + c.dropped);

  // Over TCP: FORMERR for a broken message; a message that cannot be answered closes.
  TcpClient tcp(linked_port_);
  q = QueryBytes("myregistry.azurecr.io", kTypeA, 0x0404);
  q.resize(20);
  tcp.SendRaw(TcpClient::Frame(q));
  reply = tcp.Receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(Parse(*reply)->header.rcode, kRcodeFormErr);
  tcp.SendRaw(TcpClient::Frame({1, 2, 3}));
  EXPECT_TRUE(tcp.Closed());
  CommandResult r = RunCommand(Dig(linked_port_, {"+tcp", "+short", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");
}

TEST_F(ServerTest, SeveralQueriesPerTcpConnectionAnsweredInOrder) {
  StartServer();
  TcpClient tcp(linked_port_);
  std::vector<uint8_t> burst;
  for (uint16_t id = 1; id <= 5; ++id) {
    auto f = TcpClient::Frame(
        QueryBytes(id % 2 ? "myregistry.azurecr.io" : "ghost.azurecr.io", kTypeA, id));
    burst.insert(burst.end(), f.begin(), f.end());
  }
  tcp.SendRaw(burst);  // pipelined: all five before reading any answer
  for (uint16_t id = 1; id <= 5; ++id) {
    auto reply = tcp.Receive();
    ASSERT_TRUE(reply) << id;
    auto m = Parse(*reply);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->header.id, id);
    EXPECT_EQ(m->header.rcode, id % 2 ? kRcodeNoError : kRcodeNxDomain);
  }
  // And one more after a pause, on the same connection.
  tcp.SendRaw(TcpClient::Frame(QueryBytes("many.azurecr.io", kTypeA, 6)));
  auto reply = tcp.Receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(Parse(*reply)->answers.size(), 60u);
}

TEST_F(ServerTest, TcpConnectionsAreBoundedAndIdleOnesClosed) {
  StartServer(
      {.threads = 2, .max_tcp_connections = 2, .tcp_idle_timeout = std::chrono::milliseconds(300)});
  auto start = std::chrono::steady_clock::now();
  TcpClient a(linked_port_);
  a.SendRaw(TcpClient::Frame(QueryBytes("myregistry.azurecr.io", kTypeA, 1)));
  ASSERT_TRUE(a.Receive());  // a is accepted and counted
  TcpClient b(linked_port_);
  b.SendRaw(TcpClient::Frame(QueryBytes("myregistry.azurecr.io", kTypeA, 2)));
  ASSERT_TRUE(b.Receive());
  TcpClient c(linked_port_);  // the third: closed at accept
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(server_->Counters(kLinkedVnet).tcp_refused, 1u);
  // a and b fall idle and are closed by the server.
  EXPECT_TRUE(a.Closed());
  EXPECT_TRUE(b.Closed());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  // Their slots are free again.
  TcpClient d(linked_port_);
  d.SendRaw(TcpClient::Frame(QueryBytes("myregistry.azurecr.io", kTypeA, 4)));
  EXPECT_TRUE(d.Receive());
}

TEST_F(ServerTest, ANewCatalogTakesEffectForTheNextQuery) {
  StartServer();
  CommandResult r = RunCommand(Dig(linked_port_, {"+short", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");
  // The private endpoint's zone group changes its record.
  CatalogSpec spec = SeedSpec();
  spec.private_zones[0].records[0].value = "10.0.0.99";
  store_.Set(*Catalog::Build(spec));
  r = RunCommand(Dig(linked_port_, {"+short", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n10.0.0.99\n");
  // The VNet link is deleted: the public answer.
  spec.views[0].links.clear();
  store_.Set(*Catalog::Build(spec));
  r = RunCommand(Dig(linked_port_, {"+short", "+tcp", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n203.0.113.10\n");
}

TEST_F(ServerTest, AnswersOverIpv6) {
  StartServer();
  auto port = server_->Listen("::1", 0, kLinkedVnet);
  ASSERT_TRUE(port) << port.error().message;
  for (std::string transport : {"+notcp", "+tcp"}) {
    CommandResult r = RunCommand({"dig", "@::1", "-p", std::to_string(*port), "+time=3", "+tries=1",
                                  "+short", transport, "myregistry.azurecr.io"});
    EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");
  }
  EXPECT_FALSE(server_->Listen("not-an-address", 0, kLinkedVnet));
}

// A deleted VNet's sockets go: RemoveSockets closes the view's UDP socket, its TCP listener and
// the connections accepted on it, while another view keeps answering; the port is free again.
TEST_F(ServerTest, RemoveSocketsClosesTheViewsSocketsAndConnectionsOnly) {
  StartServer({.threads = 2});
  auto gone = server_->Listen("127.0.0.1", 0, "gone");
  ASSERT_TRUE(gone) << gone.error().message;
  UdpClient udp(*gone);
  udp.Send(QueryBytes("myregistry.azurecr.io", kTypeA, 1));
  ASSERT_TRUE(udp.Receive(std::chrono::seconds(5)));
  TcpClient idle(*gone);  // accepted, then idle: must be closed by the removal
  TcpClient busy(*gone);
  busy.SendRaw(TcpClient::Frame(QueryBytes("myregistry.azurecr.io", kTypeA, 2)));
  ASSERT_TRUE(busy.Receive());
  TcpClient other(linked_port_);
  other.SendRaw(TcpClient::Frame(QueryBytes("myregistry.azurecr.io", kTypeA, 3)));
  ASSERT_TRUE(other.Receive());
  ASSERT_EQ(server_->Counters("gone").tcp_accepted, 2u);  // both sessions exist

  EXPECT_EQ(server_->RemoveSockets("gone"), 2u);  // its UDP socket and TCP listener
  EXPECT_TRUE(idle.Closed());
  EXPECT_TRUE(busy.Closed());
  udp.Send(QueryBytes("myregistry.azurecr.io", kTypeA, 4));
  EXPECT_FALSE(udp.Receive(std::chrono::milliseconds(300)));
  UniqueFd refused(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = Loopback(*gone);
  EXPECT_NE(::connect(refused.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(server_->RemoveSockets("gone"), 0u);
  EXPECT_EQ(server_->Counters("gone").queries, 2u);  // counters stay

  // The other view is untouched, its open connection too.
  other.SendRaw(TcpClient::Frame(QueryBytes("myregistry.azurecr.io", kTypeA, 5)));
  EXPECT_TRUE(other.Receive());
  CommandResult r = RunCommand(Dig(linked_port_, {"+short", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");

  // The descriptors are closed: the same port binds again (UDP and TCP) and answers.
  auto again = server_->Listen("127.0.0.1", *gone, "again");
  ASSERT_TRUE(again) << again.error().message;
  r = RunCommand(Dig(*gone, {"+short", "+tcp", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n203.0.113.10\n");  // public view
}

TEST_F(ServerTest, RemoveSocketsBeforeStartAndAfterStop) {
  Server server(store_);
  auto port = server.Listen("127.0.0.1", 0, "early");
  ASSERT_TRUE(port);
  EXPECT_EQ(server.RemoveSockets("early"), 2u);
  auto again = server.Listen("127.0.0.1", *port, "early");  // freed at once
  ASSERT_TRUE(again) << again.error().message;
  server.Start();
  CommandResult r = RunCommand(Dig(*port, {"+short", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n203.0.113.10\n");
  server.Stop();
  EXPECT_EQ(server.RemoveSockets("early"), 2u);
  EXPECT_EQ(server.RemoveSockets("early"), 0u);
}

// Removal while queries stream in over UDP and TCP from other threads: every socket of the
// view closes, nothing crashes (ASan watches the sockets' lifetimes), the rest keeps serving.
TEST_F(ServerTest, RemoveSocketsWhileQueriesArrive) {
  StartServer({.threads = 2});
  for (int round = 0; round < 20; ++round) {
    auto port = server_->Listen("127.0.0.1", 0, "busy");
    ASSERT_TRUE(port) << port.error().message;
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 2; ++c) {
      clients.emplace_back([&, c] {
        // Raw sockets: sends fail once the server side is gone, which is expected here.
        UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a = Loopback(*port);
        ::connect(udp.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a));
        bool tcp_open = ::connect(tcp.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
        auto q = QueryBytes("myregistry.azurecr.io", kTypeA, static_cast<uint16_t>(c));
        auto framed = TcpClient::Frame(q);
        std::vector<uint8_t> buf(4096);
        while (!stop.load()) {
          ::send(udp.get(), q.data(), q.size(), MSG_NOSIGNAL);
          pollfd p{udp.get(), POLLIN, 0};
          if (::poll(&p, 1, 50) == 1 && ::recv(udp.get(), buf.data(), buf.size(), 0) > 0) {
            answered.fetch_add(1);
          }
          if (!tcp_open) continue;
          pollfd t{tcp.get(), POLLIN, 0};
          if (::send(tcp.get(), framed.data(), framed.size(), MSG_NOSIGNAL) < 0 ||
              ::poll(&t, 1, 1000) != 1 || ::recv(tcp.get(), buf.data(), buf.size(), 0) <= 0) {
            tcp_open = false;  // closed by the removal
            continue;
          }
          answered.fetch_add(1);
        }
      });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (answered.load() < 10 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    EXPECT_GE(answered.load(), 10);
    EXPECT_EQ(server_->RemoveSockets("busy"), 2u);
    stop = true;
    for (auto& t : clients) t.join();
  }
  CommandResult r = RunCommand(Dig(linked_port_, {"+short", "+tcp", "myregistry.azurecr.io"}));
  EXPECT_EQ(r.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");
}

TEST_F(ServerTest, StopsCleanlyWithOpenConnections) {
  StartServer({.threads = 2});
  TcpClient idle(linked_port_);
  TcpClient busy(linked_port_);
  busy.SendRaw(TcpClient::Frame(QueryBytes("myregistry.azurecr.io", kTypeA, 1)));
  ASSERT_TRUE(busy.Receive());
  server_->Stop();
  EXPECT_TRUE(idle.Closed());
  EXPECT_TRUE(busy.Closed());
  server_->Stop();  // idempotent
  EXPECT_FALSE(server_->Listen("127.0.0.1", 0, "late"));
}

}  // namespace
}  // namespace cove::dns
