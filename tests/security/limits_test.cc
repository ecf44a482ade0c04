// Issue 17 item 5: one client must not stall everyone. Over real sockets on loopback, with
// several source addresses (127.0.0.2, 127.0.0.3, ... are all loopback): connection caps per
// source and in total, a dripped body cut off, a refusal answered without draining the body,
// wrong-password floods throttled (429 + Retry-After) while other clients are served and the
// I/O threads stay free, and DNS over TCP capped per source and per view.
//
// No sleeps: waits are poll()s on sockets with bounded timeouts, deadlines come from options.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/password.h"
#include "common/digest.h"
#include "daemon/registry_node.h"
#include "dns/catalog.h"
#include "dns/seed_catalog.h"
#include "dns/server.h"
#include "dns/wire.h"
#include "http/message.h"
#include "http/server.h"
#include "support/temp_dir.h"

namespace cove {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// A TCP connection from `source` (a loopback address) to 127.0.0.1:`port`.
class Conn {
 public:
  Conn(const std::string& source, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  }
  ~Conn() { ::close(fd_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Whether something (bytes or EOF/reset) can be read within `timeout`.
  bool Readable(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }
  // True when the server closed the connection (EOF or reset) within `timeout`, after
  // whatever it sent first (kept in `received`).
  bool ClosedWithin(std::chrono::milliseconds timeout, std::string* received = nullptr) {
    auto until = Steady::now() + timeout;
    char buf[65536];
    while (Steady::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now());
      if (!Readable(std::max(left, 1ms))) return false;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      if (received) received->append(buf, static_cast<size_t>(n));
    }
    return false;
  }

  struct Reply {
    int status = 0;  // 0: no complete response (closed or timed out)
    std::string head, body;
    std::string Header(const std::string& name) const {
      std::string lower = head;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string key = "\r\n" + name + ":";
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto p = lower.find(key);
      if (p == std::string::npos) return "";
      p += key.size();
      while (p < head.size() && head[p] == ' ') ++p;
      return head.substr(p, head.find("\r\n", p) - p);
    }
    std::string ErrorCode() const {
      auto j = nlohmann::json::parse(body, nullptr, false);
      if (!j.is_object() || !j.contains("errors")) return "";
      return j["errors"][0].value("code", "");
    }
  };
  // Reads one response (Content-Length framed) within `timeout`.
  Reply Read(std::chrono::milliseconds timeout = 10s) {
    Reply r;
    auto until = Steady::now() + timeout;
    char buf[65536];
    for (;;) {
      auto end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        r.head = pending_.substr(0, end + 2);
        size_t length = 0;
        if (auto cl = r.Header("Content-Length"); !cl.empty()) length = std::stoul(cl);
        if (pending_.size() >= end + 4 + length) {
          r.body = pending_.substr(end + 4, length);
          pending_.erase(0, end + 4 + length);
          r.status = std::stoi(r.head.substr(9, 3));
          return r;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now());
      if (left <= 0ms || !Readable(left)) return r;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return r;
      pending_.append(buf, static_cast<size_t>(n));
    }
  }
  Reply Get(const std::string& target, const std::string& authorization = "",
            std::chrono::milliseconds timeout = 10s) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: myregistry.azurecr.io\r\n";
    if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
    req += "\r\n";
    if (!Send(req)) return {};
    return Read(timeout);
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

// ---- the HTTP transport

// GET /hello → 200; PUT /sink reads the whole body; PUT /denied → 403 without needing the body.
class SmallHandler final : public http::Handler {
 public:
  http::ExchangePtr Start(http::Request request) override {
    if (request.path() == "/denied") {
      return http::Respond(http::Response::Text(403, "application/json", R"({"errors":[]})"));
    }
    if (request.path() == "/sink") {
      return http::Buffer(
          1 << 30, http::Response::Text(413, "text/plain", "too large\n"), [](std::string body) {
            return http::Response::Text(200, "text/plain", std::to_string(body.size()));
          });
    }
    return http::Respond(http::Response::Text(200, "text/plain", "hello\n"));
  }
};

class TransportLimitsTest : public ::testing::Test {
 protected:
  void StartServer(http::ServerOptions options) {
    server_ = std::make_unique<http::Server>(handler_, nullptr, options);
    auto port = server_->Listen({.address = "127.0.0.1", .port = 0});
    ASSERT_TRUE(port);
    port_ = *port;
    server_->Start();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  SmallHandler handler_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
};

TEST_F(TransportLimitsTest, PerSourceConnectionCapRefusesTheNextOneFromThatSourceOnly) {
  StartServer({.max_connections_per_source = 3});
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Conn>("127.0.0.2", port_));
    EXPECT_EQ(held.back()->Get("/hello").status, 200);  // accepted and counted
  }
  Conn fourth("127.0.0.2", port_);
  std::string said;
  EXPECT_TRUE(fourth.ClosedWithin(5s, &said));
  EXPECT_TRUE(said.empty() || said.rfind("HTTP/1.1 503 ", 0) == 0) << said;
  // Another source still gets in.
  Conn other("127.0.0.3", port_);
  EXPECT_EQ(other.Get("/hello").status, 200);
  // A slot freed by a close is available again.
  held.pop_back();
  bool again = false;
  for (int i = 0; i < 50 && !again; ++i) {  // the server notices the close asynchronously
    Conn retry("127.0.0.2", port_);
    again = retry.Get("/hello", "", 2s).status == 200;
  }
  EXPECT_TRUE(again);
}

TEST_F(TransportLimitsTest, GlobalConnectionCap) {
  StartServer({.max_connections = 4});
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Conn>("127.0.0." + std::to_string(10 + i), port_));
    EXPECT_EQ(held.back()->Get("/hello").status, 200);
  }
  Conn fifth("127.0.0.20", port_);
  EXPECT_TRUE(fifth.ClosedWithin(5s));
}

TEST_F(TransportLimitsTest, ADrippedBodyIsCutOffByTheRateDeadline) {
  // Idle timeout long, so only the minimum rate can end the drip.
  StartServer({.idle_timeout = std::chrono::milliseconds(10'000),
               .min_body_rate = 1000,
               .body_grace = std::chrono::milliseconds(300)});
  Conn c("127.0.0.2", port_);
  ASSERT_TRUE(c.Send("PUT /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
  auto start = Steady::now();
  bool closed = false;
  // One byte every 50 ms (well inside the idle timeout), for at most 5 s.
  for (int i = 0; i < 100 && !closed; ++i) {
    if (!c.Send("x")) {
      closed = true;
      break;
    }
    closed = c.ClosedWithin(50ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(Steady::now() - start, 3s);
  // The server is fine.
  Conn other("127.0.0.3", port_);
  EXPECT_EQ(other.Get("/hello").status, 200);
}

TEST_F(TransportLimitsTest, ADrippedHeadIsCutOffByTheHeaderDeadline) {
  // The head's deadline is absolute (not reset by each byte), first request or keep-alive.
  StartServer({.header_timeout = std::chrono::milliseconds(300),
               .idle_timeout = std::chrono::milliseconds(10'000)});
  for (bool keep_alive : {false, true}) {
    Conn c("127.0.0.2", port_);
    if (keep_alive) {
      ASSERT_EQ(c.Get("/hello").status, 200);
    }
    auto start = Steady::now();
    std::string head = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Drip: ";
    bool closed = false;
    for (int i = 0; i < 100 && !closed; ++i) {  // a byte every 50 ms, for at most 5 s
      if (!c.Send(std::string_view(&head[i % head.size()], 1))) break;
      closed = c.ClosedWithin(50ms);
    }
    EXPECT_TRUE(closed) << keep_alive;
    EXPECT_LT(Steady::now() - start, 2s);
  }
}

TEST_F(TransportLimitsTest, ARefusalIsAnsweredWithoutReadingALargeBody) {
  StartServer({.idle_timeout = std::chrono::milliseconds(10'000)});
  Conn c("127.0.0.2", port_);
  // 100 MiB announced, not one byte sent: the answer must not wait for the body.
  ASSERT_TRUE(c.Send("PUT /denied HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n"));
  auto start = Steady::now();
  auto r = c.Read(5s);
  EXPECT_EQ(r.status, 403);
  EXPECT_LT(Steady::now() - start, 2s);
  EXPECT_EQ(r.Header("Connection"), "close");
  // Chunked (size unknown): the same.
  Conn d("127.0.0.2", port_);
  ASSERT_TRUE(d.Send("PUT /denied HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_EQ(d.Read(5s).status, 403);
  // A small body is still read and dropped, and the connection kept.
  Conn e("127.0.0.2", port_);
  ASSERT_TRUE(e.Send("PUT /denied HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
  auto small = e.Read(5s);
  EXPECT_EQ(small.status, 403);
  EXPECT_NE(small.Header("Connection"), "close");
  EXPECT_EQ(e.Get("/hello").status, 200);
}

// ---- passwords: a registry node with the admin user enabled

class PasswordLimitsTest : public ::testing::Test {
 protected:
  void Start(const std::string& limits) {
    auto hash = auth::HashPassword("right-password");  // production cost: Argon2id, 64 MiB
    ASSERT_TRUE(hash);
    auto config = daemon::ParseConfig("data_dir: " + dir_.path() + R"(
listen:
  - {address: 127.0.0.1, port: 0, tls: false}
registries: [{name: myregistry, region: westus}]
default_registry: myregistry
auth:
  registries: [{name: myregistry, admin_user: {enabled: true, password_hashes: [")" +
                                      *hash + R"("]}}]
limits: )" + limits + "\n");
    ASSERT_TRUE(config) << config.error().ToString();
    auto node = daemon::RegistryNode::Open(*config, clock_);
    ASSERT_TRUE(node) << node.error().ToString();
    node_ = std::move(*node);
    auto ports = node_->Start();
    ASSERT_TRUE(ports);
    port_ = (*ports)[0];
  }
  void TearDown() override {
    if (node_) node_->Stop();
  }
  static std::string Basic(const std::string& password) {
    std::string plain = "myregistry:" + password;
    std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(plain.data()),
                            static_cast<int>(plain.size()));
    out.resize(static_cast<size_t>(n));
    return "Basic " + out;
  }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<daemon::RegistryNode> node_;
  uint16_t port_ = 0;
};

TEST_F(PasswordLimitsTest, AWrongPasswordFloodIsThrottledWhileOthersAreServed) {
  Start("{password_workers: 2, password_failures_per_source: 5, password_refusal_delay_ms: 300}");
  // Another client pushes a blob first (and so has its credentials verified and cached).
  Conn owner("127.0.0.3", port_);
  std::string blob(64 * 1024, 'b');
  std::string digest = Digest::Of(blob).str();
  ASSERT_TRUE(owner.Send(
      "POST /v2/app/blobs/uploads/?digest=" + digest +
      " HTTP/1.1\r\nHost: myregistry.azurecr.io\r\nAuthorization: " + Basic("right-password") +
      "\r\nContent-Length: " + std::to_string(blob.size()) + "\r\n\r\n" + blob));
  ASSERT_EQ(owner.Read().status, 201);

  // The flood: 6 connections from 127.0.0.2, wrong passwords until each sees a 429.
  std::atomic<int> unauthorized{0}, throttled{0}, other{0};
  std::atomic<bool> retry_after_ok{true};
  std::vector<std::thread> flood;
  for (int t = 0; t < 6; ++t) {
    flood.emplace_back([&, t] {
      Conn c("127.0.0.2", port_);
      for (int i = 0; i < 200; ++i) {
        auto r = c.Get("/v2/", Basic("wrong-" + std::to_string(t) + "-" + std::to_string(i)));
        if (r.status == 401) {
          ++unauthorized;
        } else if (r.status == 429) {
          ++throttled;
          if (r.ErrorCode() != "TOOMANYREQUESTS" || r.Header("Retry-After").empty()) {
            retry_after_ok = false;
          }
          if (r.Header("Retry-After") != "1") return;  // throttled for failures, not busy
        } else {
          ++other;
          return;
        }
      }
    });
  }
  // Meanwhile the other source pulls, with its (cached) password and fresh connections, and
  // answers promptly.
  for (int i = 0; i < 5; ++i) {
    Conn c("127.0.0.3", port_);
    auto start = Steady::now();
    auto pull = c.Get("/v2/app/blobs/" + digest, Basic("right-password"));
    EXPECT_EQ(pull.status, 200);
    EXPECT_EQ(pull.body.size(), blob.size());
    EXPECT_LT(Steady::now() - start, 2s);
  }
  for (auto& t : flood) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(throttled.load(), 0);
  EXPECT_TRUE(retry_after_ok.load());
  // Hashes were bounded: the burst plus what was in flight when the limit was reached.
  EXPECT_LE(unauthorized.load(), 5 + 4);

  // The throttled source is refused even with the right password...
  Conn flooder("127.0.0.2", port_);
  auto held_from = Steady::now();
  auto blocked = flooder.Get("/v2/", Basic("right-password"));
  // Held back (the tarpit), so that a flood cannot keep the I/O threads busy refusing it.
  EXPECT_GE(Steady::now() - held_from, 250ms);
  EXPECT_EQ(blocked.status, 429);
  EXPECT_EQ(blocked.ErrorCode(), "TOOMANYREQUESTS");
  EXPECT_GT(std::stoi(blocked.Header("Retry-After")), 1);
  // ... also at the token endpoint; another source signs in there with a new password check.
  EXPECT_EQ(
      flooder.Get("/oauth2/token?service=myregistry.azurecr.io", Basic("right-password")).status,
      429);
  Conn fresh("127.0.0.4", port_);
  auto start = Steady::now();
  auto token = fresh.Get("/oauth2/token?service=myregistry.azurecr.io&scope=repository:app:pull",
                         Basic("right-password"));
  EXPECT_EQ(token.status, 200) << token.body;
  EXPECT_LT(Steady::now() - start, 2s);
}

TEST_F(PasswordLimitsTest, HashingOffTheIoThreadsAndAFullQueueRefusedAtOnce) {
  // One worker, a short queue: 16 attempts from 16 sources saturate it.
  Start("{password_workers: 1, password_queue: 4}");
  constexpr int kAttempts = 16;
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < kAttempts; ++i) {
    conns.push_back(std::make_unique<Conn>("127.0.1." + std::to_string(i + 1), port_));
  }
  auto start = Steady::now();
  for (int i = 0; i < kAttempts; ++i) {
    ASSERT_TRUE(
        conns[i]->Send("GET /v2/ HTTP/1.1\r\nHost: myregistry.azurecr.io\r\n"
                       "Authorization: " +
                       Basic("wrong-" + std::to_string(i)) + "\r\n\r\n"));
  }
  // While the worker hashes, an I/O thread answers another client at once.
  Conn probe("127.0.0.3", port_);
  auto probe_start = Steady::now();
  auto anonymous = probe.Get("/v2/");
  auto probe_time = Steady::now() - probe_start;
  EXPECT_EQ(anonymous.status, 401);
  int refused = 0, unauthorized = 0;
  Steady::duration last_answer{};
  for (auto& c : conns) {
    auto r = c->Read(30s);
    if (r.status == 503) {
      ++refused;
      EXPECT_EQ(r.ErrorCode(), "UNAVAILABLE");
      EXPECT_EQ(r.Header("Retry-After"), "1");
    } else {
      EXPECT_EQ(r.status, 401);
      ++unauthorized;
    }
    last_answer = std::max(last_answer, Steady::now() - start);
  }
  // The queue held 4 (plus the one being hashed, plus one a worker may have taken early).
  EXPECT_GE(refused, kAttempts - 6);
  EXPECT_LE(unauthorized, 6);
  EXPECT_GE(unauthorized, 4);
  // The probe did not wait for the hashes: it came back in a fraction of their time.
  EXPECT_LT(probe_time * 3, last_answer)
      << "probe " << std::chrono::duration_cast<std::chrono::milliseconds>(probe_time).count()
      << " ms, hashes "
      << std::chrono::duration_cast<std::chrono::milliseconds>(last_answer).count() << " ms";
}

TEST_F(PasswordLimitsTest, StoppingWhileAttemptsWaitForTheWorkers) {
  // Connections parked on queued hashes when the node stops and goes away: the workers finish
  // or cancel them afterwards without touching the server (run under ASan at merge).
  Start("{password_workers: 1, password_queue: 8}");
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 8; ++i) {
    conns.push_back(std::make_unique<Conn>("127.0.2." + std::to_string(i + 1), port_));
    ASSERT_TRUE(conns.back()->Send("GET /v2/ HTTP/1.1\r\nHost: myregistry.azurecr.io\r\n"
                                   "Authorization: " +
                                   Basic("wrong-" + std::to_string(i)) + "\r\n\r\n"));
  }
  ASSERT_TRUE(conns[0]->Readable(10s));  // the first answer: the rest are queued or hashing
  node_->Stop();
  node_.reset();
  for (auto& c : conns) EXPECT_TRUE(c->ClosedWithin(10s));
}

// ---- DNS over TCP

std::vector<uint8_t> DnsQuery(uint16_t id) {
  dns::Message m;
  m.header.id = id;
  m.header.rd = true;
  m.questions.push_back(
      {*dns::Name::FromString("myregistry.azurecr.io"), dns::kTypeA, dns::kClassIN});
  auto bytes = dns::Serialize(m, 65535);
  std::vector<uint8_t> framed(2 + bytes.size());
  framed[0] = static_cast<uint8_t>(bytes.size() >> 8);
  framed[1] = static_cast<uint8_t>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), framed.begin() + 2);
  return framed;
}

// Sends a query on `c` and says whether a framed answer came back.
bool Answered(Conn& c, uint16_t id) {
  auto q = DnsQuery(id);
  if (!c.Send(std::string_view(reinterpret_cast<const char*>(q.data()), q.size()))) return false;
  std::string got;
  auto until = Steady::now() + 5s;
  char buf[4096];
  while (Steady::now() < until) {
    if (got.size() >= 2 && got.size() >= 2 + ((size_t{uint8_t(got[0])} << 8) | uint8_t(got[1]))) {
      return true;
    }
    if (!c.Readable(100ms)) continue;
    ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
  }
  return false;
}

TEST(DnsTcpLimitsTest, OneSourceOrViewCannotTakeEveryConnection) {
  auto built = dns::Catalog::Build(dns::testing::SeedSpec());
  ASSERT_TRUE(built) << built.error().message;
  dns::CatalogStore store;
  store.Set(*built);
  dns::Server server(store, {.threads = 2,
                             .max_tcp_connections = 1000,
                             .max_tcp_connections_per_view = 3,
                             .max_tcp_connections_per_source = 2});
  auto a = server.Listen("127.0.0.1", 0, dns::testing::kLinkedVnet);
  auto b = server.Listen("127.0.0.1", 0, dns::testing::kUnlinkedVnet);
  ASSERT_TRUE(a && b);
  server.Start();

  // One VM takes its share of the linked VNet...
  Conn a1("127.0.0.2", *a), a2("127.0.0.2", *a);
  EXPECT_TRUE(Answered(a1, 1));
  EXPECT_TRUE(Answered(a2, 2));
  Conn a3("127.0.0.2", *a);
  EXPECT_TRUE(a3.ClosedWithin(5s));  // its third is refused
  // ... another VM of the same VNet still gets in, up to the view's share ...
  Conn a4("127.0.0.3", *a);
  EXPECT_TRUE(Answered(a4, 4));
  Conn a5("127.0.0.4", *a);
  EXPECT_TRUE(a5.ClosedWithin(5s));  // the linked VNet is full
  // ... and another VNet is untouched, even from the same address (VNets overlap).
  Conn b1("127.0.0.2", *b), b2("127.0.0.5", *b);
  EXPECT_TRUE(Answered(b1, 5));
  EXPECT_TRUE(Answered(b2, 6));
  EXPECT_GE(server.Counters(dns::testing::kLinkedVnet).tcp_refused, 2u);
  server.Stop();
}

}  // namespace
}  // namespace cove
