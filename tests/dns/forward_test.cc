// Forwarding tests (Azure DNS Private Resolver rulesets and inbound endpoints): which rule takes
// a name (pure, through Process), what is relayed (forward.h), and the server forwarding to a
// fake upstream on loopback — target order, timeouts, ICMP refusals, truncation and TCP,
// malformed and foreign answers, the loop guard, a server thread that keeps answering while a
// forward waits — and a view answering at a second address (an inbound endpoint).
#include "dns/forward.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "dns/catalog.h"
#include "dns/catalog_json.h"
#include "dns/dns_clients.h"
#include "dns/query.h"
#include "dns/seed_catalog.h"
#include "dns/server.h"
#include "dns/wire.h"

namespace cove::dns {
namespace {

using namespace testing;  // NOLINT: the DNS test helpers (dns_clients.h, seed_catalog.h)
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kRuleVnet[] = "vnet-rules";

// The seed catalog plus a view linked to the private zone with these rules.
CatalogPtr BuildWithRules(std::vector<ForwardRuleSpec> rules) {
  CatalogSpec spec = SeedSpec();
  ViewSpec view{.id = kRuleVnet, .links = {{testing::kZoneId1, ResolutionPolicy::kDefault}}};
  view.forwards = std::move(rules);
  spec.views.push_back(std::move(view));
  auto built = Catalog::Build(spec);
  EXPECT_TRUE(built) << built.error().message;
  return built ? *built : nullptr;
}

// The domain of the rule that takes `name` in the rule view ("" when the zones answer).
std::string RuleFor(const Catalog& catalog, std::string_view name) {
  std::vector<uint8_t> out;
  ProcessResult r =
      Process(QueryBytes(name, kTypeA), catalog, catalog.view(kRuleVnet), {.tcp = false}, out);
  if (!r.forward) {
    EXPECT_TRUE(r.respond);
    return "";
  }
  EXPECT_FALSE(r.respond);
  EXPECT_TRUE(out.empty());
  std::string text;
  // The rule's domain in presentation form, from its wire name.
  std::string_view wire = r.forward->domain.lower;
  while (!wire.empty() && wire[0] != 0) {
    size_t len = static_cast<uint8_t>(wire[0]);
    text += std::string(wire.substr(1, len)) + ".";
    wire.remove_prefix(1 + len);
  }
  return text.empty() ? "." : text;
}

ForwardRuleSpec Rule(std::string domain, std::string ip = "192.0.2.1", bool enabled = true) {
  return {std::move(domain), {{std::move(ip), 53}}, enabled};
}

// ---- which rule takes a name

TEST(ForwardRules, LongestDomainWinsAtOrBelowItAndIgnoringCase) {
  // Azure's example (private-resolver-endpoints-rulesets): azure.contoso.com beats contoso.com.
  CatalogPtr c = BuildWithRules({Rule("contoso.com."), Rule("azure.contoso.com."), Rule("."),
                                 Rule("off.example.", "192.0.2.9", false)});
  ASSERT_TRUE(c);
  EXPECT_EQ(RuleFor(*c, "secure.store.azure.contoso.com"), "azure.contoso.com.");
  EXPECT_EQ(RuleFor(*c, "SECURE.Azure.Contoso.COM"), "azure.contoso.com.");
  EXPECT_EQ(RuleFor(*c, "azure.contoso.com"), "azure.contoso.com.");
  EXPECT_EQ(RuleFor(*c, "www.contoso.com"), "contoso.com.");
  EXPECT_EQ(RuleFor(*c, "contoso.com"), "contoso.com.");
  // Whole labels only: notcontoso.com is not under contoso.com.
  EXPECT_EQ(RuleFor(*c, "notcontoso.com"), ".");
  // A disabled rule is ignored: the wildcard takes it.
  EXPECT_EQ(RuleFor(*c, "host.off.example"), ".");
}

TEST(ForwardRules, TheWildcardLeavesAzuresOwnZonesButANamedRuleDoesNot) {
  CatalogPtr wildcard = BuildWithRules({Rule(".")});
  ASSERT_TRUE(wildcard);
  EXPECT_EQ(RuleFor(*wildcard, "myregistry.azurecr.io"), "");
  EXPECT_EQ(RuleFor(*wildcard, "myregistry.privatelink.azurecr.io"), "");
  EXPECT_EQ(RuleFor(*wildcard, "host.corp.example"), ".");
  // A rule naming the private zone comes before the zone linked to the VNet (which is why Azure
  // warns against linking such a ruleset to the inbound endpoint's own VNet: it loops).
  CatalogPtr named = BuildWithRules({Rule("privatelink.azurecr.io.", "10.0.2.4")});
  ASSERT_TRUE(named);
  EXPECT_EQ(RuleFor(*named, "myregistry.privatelink.azurecr.io"), "privatelink.azurecr.io.");
  EXPECT_EQ(RuleFor(*named, "myregistry.azurecr.io"), "");  // the CNAME, from the public zone
}

TEST(ForwardRules, OnlyTheViewsOwnRulesApply) {
  CatalogPtr c = BuildWithRules({Rule(".")});
  ASSERT_TRUE(c);
  std::vector<uint8_t> out;
  for (std::string_view view : {"", kLinkedVnet, "unknown-vnet"}) {
    ProcessResult r =
        Process(QueryBytes("host.corp.example", kTypeA), *c, c->view(view), {.tcp = false}, out);
    EXPECT_EQ(r.forward, nullptr) << view;
    EXPECT_EQ(r.rcode, kRcodeRefused) << view;  // outside every zone, as before
  }
}

TEST(ForwardRules, MalformedQueriesAreAnsweredNotForwarded) {
  CatalogPtr c = BuildWithRules({Rule(".")});
  ASSERT_TRUE(c);
  std::vector<uint8_t> query = QueryBytes("host.corp.example", kTypeA);
  query.push_back(0);  // a trailing octet: FORMERR
  std::vector<uint8_t> out;
  ProcessResult r = Process(query, *c, c->view(kRuleVnet), {.tcp = false}, out);
  EXPECT_EQ(r.forward, nullptr);
  EXPECT_EQ(r.rcode, kRcodeFormErr);
  // AXFR is refused whatever the rules say.
  r = Process(QueryBytes("corp.example", 252), *c, c->view(kRuleVnet), {.tcp = true}, out);
  EXPECT_EQ(r.forward, nullptr);
  EXPECT_EQ(r.rcode, kRcodeRefused);
}

TEST(ForwardRules, BuildRefusesBadRules) {
  auto build = [](ForwardRuleSpec rule) {
    CatalogSpec spec = SeedSpec();
    spec.views.push_back({.id = kRuleVnet, .links = {}, .forwards = {std::move(rule)}});
    return Catalog::Build(spec);
  };
  EXPECT_FALSE(build({"corp.example.", {}, true}));
  EXPECT_FALSE(build({"corp.example.", {{"not-an-ip", 53}}, true}));
  EXPECT_FALSE(build({"corp.example.", {{"192.0.2.1", 0}}, true}));
  EXPECT_FALSE(build({"bad..name", {{"192.0.2.1", 53}}, true}));
  EXPECT_TRUE(build({"corp.example.", {{"fd00::53", 5353}}, false}));
  CatalogSpec twice = SeedSpec();
  twice.views.push_back(
      {.id = kRuleVnet, .links = {}, .forwards = {Rule("a.example."), Rule("A.example")}});
  EXPECT_FALSE(Catalog::Build(twice));
}

TEST(ForwardRules, ReadFromJson) {
  auto spec = CatalogSpecFromJson(R"({"views": [{"id": "v", "forwards": [
      {"domain": "contoso.local.", "targets": [{"ip": "192.168.1.10"}, {"ip": "192.168.1.11", "port": 5353}]},
      {"domain": "off.example.", "enabled": false, "targets": [{"ip": "192.168.1.12"}]}]}]})");
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_EQ(spec->views.size(), 1u);
  const auto& f = spec->views[0].forwards;
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].domain, "contoso.local.");
  EXPECT_EQ(f[0].targets,
            (std::vector<ForwardTarget>{{"192.168.1.10", 53}, {"192.168.1.11", 5353}}));
  EXPECT_FALSE(f[1].enabled);
  EXPECT_FALSE(CatalogSpecFromJson(R"({"views": [{"id": "v", "forwards": [{"domain": "x."}]}]})"));
}

// ---- what is relayed (forward.h)

Message Response(const Message& query, std::vector<ResourceRecord> answers) {
  Message m;
  m.header = query.header;
  m.header.qr = true;
  m.header.ra = true;
  m.questions = query.questions;
  m.answers = std::move(answers);
  return m;
}

std::vector<ResourceRecord> ARecords(std::string_view name, int n) {
  std::vector<ResourceRecord> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(ResourceRecord::A(
        *Name::FromString(name), 60,
        {10, 1, static_cast<uint8_t>(i / 250), static_cast<uint8_t>(i % 250 + 1)}));
  }
  return out;
}

TEST(RelayAnswer, RelaysAWellFormedAnswerWithTheClientsId) {
  std::vector<uint8_t> query = QueryBytes("host.corp.example", kTypeA, 0x1234);
  std::vector<uint8_t> upstream = UpstreamQuery(query, 0xBEEF);
  Message sent = *Parse(upstream);
  EXPECT_EQ(sent.header.id, 0xBEEF);
  std::vector<uint8_t> answer = Serialize(Response(sent, ARecords("host.corp.example", 1)), 65535);
  std::vector<uint8_t> out;
  ASSERT_EQ(RelayAnswer(query, answer, 0xBEEF, false, {.tcp = false}, out),
            UpstreamVerdict::kRelay);
  auto relayed = Parse(out);
  ASSERT_TRUE(relayed);
  EXPECT_EQ(relayed->header.id, 0x1234);
  EXPECT_EQ(relayed->answers.size(), 1u);
  // The name's case may differ (RFC 4343).
  std::vector<uint8_t> upper = QueryBytes("HOST.corp.EXAMPLE", kTypeA, 0xBEEF);
  answer = Serialize(Response(*Parse(upper), {}), 65535);
  EXPECT_EQ(RelayAnswer(query, answer, 0xBEEF, false, {.tcp = false}, out),
            UpstreamVerdict::kRelay);
}

TEST(RelayAnswer, ForeignTruncatedAndMalformedAnswers) {
  std::vector<uint8_t> query = QueryBytes("host.corp.example", kTypeA, 0x1234);
  Message sent = *Parse(UpstreamQuery(query, 0xBEEF));
  std::vector<uint8_t> out;
  auto judge = [&](const std::vector<uint8_t>& answer, bool tcp = false) {
    return RelayAnswer(query, answer, 0xBEEF, tcp, {.tcp = false}, out);
  };
  Message good = Response(sent, ARecords("host.corp.example", 1));
  Message other_id = good;
  other_id.header.id = 0xBEEE;
  EXPECT_EQ(judge(Serialize(other_id, 65535)), UpstreamVerdict::kIgnore);
  EXPECT_EQ(judge({0xBE}), UpstreamVerdict::kIgnore);
  Message truncated = good;
  truncated.header.tc = true;
  EXPECT_EQ(judge(Serialize(truncated, 65535)), UpstreamVerdict::kTruncated);
  EXPECT_EQ(judge(Serialize(truncated, 65535), true), UpstreamVerdict::kRelay);
  Message other_question = good;
  other_question.questions[0].name = *Name::FromString("other.corp.example");
  EXPECT_EQ(judge(Serialize(other_question, 65535)), UpstreamVerdict::kBad);
  Message not_a_response = good;
  not_a_response.header.qr = false;
  EXPECT_EQ(judge(Serialize(not_a_response, 65535)), UpstreamVerdict::kBad);
  std::vector<uint8_t> cut = Serialize(good, 65535);
  cut.resize(cut.size() - 3);
  EXPECT_EQ(judge(cut), UpstreamVerdict::kBad);
  EXPECT_EQ(judge({0xBE, 0xEF, 0x81, 0x80}), UpstreamVerdict::kBad);
  EXPECT_TRUE(out.empty());
}

TEST(RelayAnswer, AnAnswerTooLargeForTheClientIsCutWithTc) {
  std::vector<uint8_t> query = QueryBytes("many.corp.example", kTypeA, 0x1234);  // no EDNS: 512
  Message sent = *Parse(UpstreamQuery(query, 0xBEEF));
  std::vector<uint8_t> answer = Serialize(Response(sent, ARecords("many.corp.example", 60)), 65535);
  ASSERT_GT(answer.size(), 512u);
  std::vector<uint8_t> out;
  ASSERT_EQ(RelayAnswer(query, answer, 0xBEEF, true, {.tcp = false}, out), UpstreamVerdict::kRelay);
  EXPECT_LE(out.size(), 512u);
  auto cut = Parse(out);
  ASSERT_TRUE(cut);
  EXPECT_TRUE(cut->header.tc);
  EXPECT_EQ(cut->header.id, 0x1234);
  ASSERT_EQ(RelayAnswer(query, answer, 0xBEEF, true, {.tcp = true}, out), UpstreamVerdict::kRelay);
  EXPECT_EQ(Parse(out)->answers.size(), 60u);
}

TEST(ErrorResponse, ServFailKeepsTheQuestionAndEdns) {
  Message q;
  q.header.id = 0x7777;
  q.header.rd = true;
  q.header.cd = true;
  q.questions.push_back({*Name::FromString("host.corp.example"), kTypeAAAA, kClassIN});
  q.edns = Edns{.udp_size = 4096};
  std::vector<uint8_t> out;
  ProcessResult r = ErrorResponse(Serialize(q, 65535), kRcodeServFail, {.tcp = false}, out);
  EXPECT_TRUE(r.respond);
  EXPECT_EQ(r.rcode, kRcodeServFail);
  auto m = Parse(out);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, 0x7777);
  EXPECT_TRUE(m->header.qr && m->header.ra && m->header.rd && m->header.cd);
  EXPECT_EQ(m->header.rcode, kRcodeServFail);
  EXPECT_EQ(m->questions, q.questions);
  EXPECT_TRUE(m->edns.has_value());
  EXPECT_FALSE(ErrorResponse(std::vector<uint8_t>{1, 2, 3}, kRcodeServFail, {}, out).respond);
}

// ---- the server forwarding to a fake upstream

// A DNS server on 127.0.0.1 (UDP and TCP on one port) that answers with `handler`: for each
// query, the datagrams (or the TCP message, the first one) to send back; none is silence.
class FakeUpstream {
 public:
  using Handler = std::function<std::vector<std::vector<uint8_t>>(const Message& q, bool tcp)>;

  explicit FakeUpstream(Handler handler) : handler_(std::move(handler)) {
    for (int attempt = 0; attempt < 16 && !tcp_.valid(); ++attempt) {
      udp_ = BoundSocket(SOCK_DGRAM);
      port_ = LocalPortOf(udp_.get());
      tcp_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in a = Loopback(port_);
      if (::bind(tcp_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
          ::listen(tcp_.get(), 16) != 0) {
        tcp_.Reset();
      }
    }
    EXPECT_TRUE(tcp_.valid());
    EXPECT_EQ(::pipe(stop_), 0);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeUpstream() {
    char b = 0;
    EXPECT_EQ(::write(stop_[1], &b, 1), 1);
    thread_.join();
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  uint16_t port() const { return port_; }
  int udp_queries() const { return udp_queries_.load(); }
  int tcp_queries() const { return tcp_queries_.load(); }

  static uint16_t LocalPortOf(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

 private:
  void Run() {
    for (;;) {
      std::array<pollfd, 3> p = {pollfd{udp_.get(), POLLIN, 0}, pollfd{tcp_.get(), POLLIN, 0},
                                 pollfd{stop_[0], POLLIN, 0}};
      if (::poll(p.data(), p.size(), -1) <= 0 || p[2].revents) return;
      if (p[0].revents & POLLIN) ServeUdp();
      if (p[1].revents & POLLIN) ServeTcp();
    }
  }
  void ServeUdp() {
    std::vector<uint8_t> buf(65535);
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    ssize_t n =
        ::recvfrom(udp_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&peer), &len);
    if (n <= 0) return;
    buf.resize(static_cast<size_t>(n));
    ++udp_queries_;
    auto q = Parse(buf);
    if (!q) return;
    for (const auto& out : handler_(*q, false)) {
      ::sendto(udp_.get(), out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
    }
  }
  void ServeTcp() {
    UniqueFd c(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c.valid()) return;
    timeval tv{2, 0};
    ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint8_t len[2];
    if (::recv(c.get(), len, 2, MSG_WAITALL) != 2) return;
    std::vector<uint8_t> buf((size_t{len[0]} << 8) | len[1]);
    if (::recv(c.get(), buf.data(), buf.size(), MSG_WAITALL) != static_cast<ssize_t>(buf.size())) {
      return;
    }
    ++tcp_queries_;
    auto q = Parse(buf);
    if (!q) return;
    auto answers = handler_(*q, true);
    if (answers.empty()) return;
    std::vector<uint8_t> framed = TcpClient::Frame(answers.front());
    ::send(c.get(), framed.data(), framed.size(), MSG_NOSIGNAL);
  }

  Handler handler_;
  UniqueFd udp_;
  UniqueFd tcp_;
  uint16_t port_ = 0;
  int stop_[2] = {-1, -1};
  std::atomic<int> udp_queries_{0};
  std::atomic<int> tcp_queries_{0};
  std::thread thread_;
};

std::vector<std::vector<uint8_t>> One(const Message& m) { return {Serialize(m, 65535)}; }

// Answers every A query with one address.
FakeUpstream::Handler AnswerWith(std::array<uint8_t, 4> address) {
  return [address](const Message& q, bool) {
    return One(Response(q, {ResourceRecord::A(q.questions[0].name, 60, address)}));
  };
}

FakeUpstream::Handler Silent() {
  return [](const Message&, bool) { return std::vector<std::vector<uint8_t>>{}; };
}

// A UDP port on 127.0.0.1 where nothing listens (the kernel answers ICMP port unreachable).
uint16_t ClosedPort() {
  UniqueFd fd = BoundSocket(SOCK_DGRAM);
  return FakeUpstream::LocalPortOf(fd.get());
}

ForwardTarget Local(uint16_t port) { return {"127.0.0.1", port}; }

class ForwardServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Serves the seed catalog plus the rule view with `rules`, on 127.0.0.1.
  void Start(std::vector<ForwardRuleSpec> rules, ServerOptions options = {}) {
    CatalogPtr c = BuildWithRules(std::move(rules));
    ASSERT_TRUE(c);
    store_.Set(c);
    server_ = std::make_unique<Server>(store_, options);
    auto port = server_->Listen("127.0.0.1", 0, kRuleVnet);
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
    server_->Start();
  }

  // Asks over UDP; the parsed response (an empty Message with id 0 if none came).
  Message AskUdp(std::string_view name, uint16_t id = 0x1234,
                 milliseconds wait = milliseconds(5000)) {
    UdpClient client(port_);
    client.Send(QueryBytes(name, kTypeA, id));
    auto bytes = client.Receive(wait);
    EXPECT_TRUE(bytes) << "no answer for " << name;
    if (!bytes) return {};
    auto m = Parse(*bytes);
    EXPECT_TRUE(m);
    return m ? *m : Message{};
  }

  CatalogStore store_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ForwardServerTest, RelaysTheTargetsAnswerToDigAndToARawClient) {
  FakeUpstream upstream(AnswerWith({192, 168, 1, 20}));
  Start({{"corp.example.", {Local(upstream.port())}, true}});
  Message m = AskUdp("db.corp.example", 0x4321);
  EXPECT_EQ(m.header.id, 0x4321);
  EXPECT_EQ(m.header.rcode, kRcodeNoError);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(*m.answers[0].AsA(), (std::array<uint8_t, 4>{192, 168, 1, 20}));

  CommandResult dig = RunCommand(Dig(port_, {"+short", "db.corp.example", "A"}));
  EXPECT_EQ(dig.exit_code, 0) << dig.output;
  EXPECT_EQ(dig.output, "192.168.1.20\n");
  CommandResult tcp = RunCommand(Dig(port_, {"+short", "+tcp", "db.corp.example", "A"}));
  EXPECT_EQ(tcp.output, "192.168.1.20\n");
  // The zones still answer what no rule takes.
  CommandResult local = RunCommand(Dig(port_, {"+short", "myregistry.azurecr.io", "A"}));
  EXPECT_EQ(local.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");

  ViewCounterSnapshot c = server_->Counters(kRuleVnet);
  EXPECT_EQ(c.forwarded, 3u);
  EXPECT_EQ(c.forward_failed, 0u);
  EXPECT_EQ(c.rcodes[kRcodeNoError], 4u);
}

TEST_F(ForwardServerTest, ASilentTargetTimesOutAndTheNextOneAnswers) {
  FakeUpstream silent(Silent());
  FakeUpstream good(AnswerWith({192, 168, 1, 21}));
  Start({{"corp.example.", {Local(silent.port()), Local(good.port())}, true}},
        {.forward_timeout = milliseconds(150)});
  auto start = Clock::now();
  Message m = AskUdp("db.corp.example");
  EXPECT_GE(Clock::now() - start, milliseconds(150));
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(*m.answers[0].AsA(), (std::array<uint8_t, 4>{192, 168, 1, 21}));
  EXPECT_EQ(silent.udp_queries(), 1);
  EXPECT_EQ(good.udp_queries(), 1);
}

TEST_F(ForwardServerTest, ServFailWhenEveryTargetFails) {
  FakeUpstream silent(Silent());
  Start({{"corp.example.", {Local(silent.port()), Local(ClosedPort())}, true}},
        {.forward_timeout = milliseconds(100)});
  Message m = AskUdp("db.corp.example");
  EXPECT_EQ(m.header.id, 0x1234);
  EXPECT_EQ(m.header.rcode, kRcodeServFail);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name.ToString(), "db.corp.example.");
  EXPECT_EQ(server_->Counters(kRuleVnet).forward_failed, 1u);
}

TEST_F(ForwardServerTest, AnUnreachableTargetFailsAtOnceNotAfterTheTimeout) {
  // A target that refuses (ICMP port unreachable, as a forwarder pointed at 168.63.129.16 from
  // outside Azure gets no answer at all; here the refusal is immediate).
  Start({{"corp.example.", {Local(ClosedPort())}, true}},
        {.forward_timeout = milliseconds(10'000)});
  auto start = Clock::now();
  Message m = AskUdp("db.corp.example");
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  EXPECT_EQ(m.header.rcode, kRcodeServFail);
}

TEST_F(ForwardServerTest, ATruncatedUdpAnswerIsAskedAgainOverTcp) {
  FakeUpstream upstream([](const Message& q, bool tcp) {
    Message m =
        Response(q, tcp ? ARecords("many.corp.example", 60) : std::vector<ResourceRecord>{});
    m.header.tc = !tcp;
    return One(m);
  });
  Start({{"corp.example.", {Local(upstream.port())}, true}});
  // A UDP client without EDNS (512 octets): the full answer does not fit, so TC comes back.
  Message udp = AskUdp("many.corp.example");
  EXPECT_TRUE(udp.header.tc);
  EXPECT_EQ(udp.header.rcode, kRcodeNoError);
  EXPECT_EQ(upstream.udp_queries(), 1);
  EXPECT_EQ(upstream.tcp_queries(), 1);
  // A TCP client gets every record.
  TcpClient client(port_);
  client.SendRaw(TcpClient::Frame(QueryBytes("many.corp.example", kTypeA, 0x5555)));
  auto bytes = client.Receive();
  ASSERT_TRUE(bytes);
  auto m = Parse(*bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.id, 0x5555);
  EXPECT_FALSE(m->header.tc);
  EXPECT_EQ(m->answers.size(), 60u);
  // And dig, which retries over TCP itself, gets them all.
  CommandResult dig = RunCommand(Dig(port_, {"+short", "many.corp.example", "A"}));
  EXPECT_EQ(CountLines(dig.output, "\n"), 60u) << dig.output;
}

TEST_F(ForwardServerTest, MalformedAnswersFailTheTargetWithoutHarm) {
  std::vector<std::function<std::vector<uint8_t>(const Message&)>> bad = {
      [](const Message& q) {  // garbage after a matching ID
        return std::vector<uint8_t>{static_cast<uint8_t>(q.header.id >> 8),
                                    static_cast<uint8_t>(q.header.id),
                                    0x81,
                                    0x80,
                                    0xFF,
                                    0xFF};
      },
      [](const Message& q) {  // an answer cut short
        std::vector<uint8_t> b = Serialize(Response(q, ARecords("db.corp.example", 3)), 65535);
        b.resize(b.size() - 5);
        return b;
      },
      [](const Message& q) {  // an answer to another question
        Message m = Response(q, {});
        m.questions[0].name = *Name::FromString("evil.example");
        return Serialize(m, 65535);
      },
      [](const Message& q) {  // an owner name whose compression pointer points at itself
        std::vector<uint8_t> b = Serialize(Response(q, {}), 65535);
        b[7] = 1;  // ANCOUNT 1
        size_t self = b.size();
        b.push_back(static_cast<uint8_t>(0xC0 | (self >> 8)));
        b.push_back(static_cast<uint8_t>(self));
        for (uint8_t x : {0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4}) b.push_back(x);
        return b;
      }};
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(i);
    FakeUpstream upstream(
        [&bad, i](const Message& q, bool) { return std::vector<std::vector<uint8_t>>{bad[i](q)}; });
    Start({{"corp.example.", {Local(upstream.port())}, true}},
          {.forward_timeout = milliseconds(2000)});
    auto start = Clock::now();
    Message m = AskUdp("db.corp.example");
    EXPECT_EQ(m.header.rcode, kRcodeServFail);
    EXPECT_LT(Clock::now() - start, milliseconds(1500));  // judged, not waited out
    // The server goes on answering.
    EXPECT_EQ(AskUdp("myregistry.azurecr.io").answers.size(), 2u);
    server_->Stop();
  }
}

TEST_F(ForwardServerTest, AnAnswerWithAnotherIdIsIgnoredAndTheRealOneRelayed) {
  FakeUpstream upstream([](const Message& q, bool) {
    Message spoofed = Response(q, ARecords("db.corp.example", 1));
    spoofed.header.id = static_cast<uint16_t>(q.header.id + 1);
    spoofed.answers[0] = ResourceRecord::A(q.questions[0].name, 60, {6, 6, 6, 6});
    return std::vector<std::vector<uint8_t>>{
        Serialize(spoofed, 65535),
        Serialize(Response(q, {ResourceRecord::A(q.questions[0].name, 60, {192, 168, 1, 22})}),
                  65535)};
  });
  Start({{"corp.example.", {Local(upstream.port())}, true}});
  Message m = AskUdp("db.corp.example");
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(*m.answers[0].AsA(), (std::array<uint8_t, 4>{192, 168, 1, 22}));
}

TEST_F(ForwardServerTest, TheLoopGuardSkipsTheAddressTheQueryCameIn) {
  // A ruleset whose rule points back at the address the query arrived on (Azure's warning: a
  // ruleset linked to the inbound endpoint's own VNet with a rule targeting that endpoint).
  ServerOptions options{.forward_timeout = milliseconds(10'000)};
  CatalogPtr placeholder = BuildWithRules({});
  store_.Set(placeholder);
  server_ = std::make_unique<Server>(store_, options);
  auto port = server_->Listen("127.0.0.1", 0, kRuleVnet);
  ASSERT_TRUE(port);
  port_ = *port;
  server_->Start();
  store_.Set(BuildWithRules({{"corp.example.", {Local(port_)}, true}}));
  auto start = Clock::now();
  Message m = AskUdp("db.corp.example");
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
  EXPECT_EQ(m.header.rcode, kRcodeServFail);
  EXPECT_EQ(server_->Counters(kRuleVnet).queries, 1u);  // nothing came back in
}

TEST_F(ForwardServerTest, OneServerThreadKeepsAnsweringWhileAForwardWaits) {
  FakeUpstream silent(Silent());
  Start({{"corp.example.", {Local(silent.port())}, true}},
        {.threads = 1, .forward_timeout = milliseconds(1500)});
  UdpClient client(port_);
  auto start = Clock::now();
  client.Send(QueryBytes("db.corp.example", kTypeA, 1));
  client.Send(QueryBytes("myregistry.azurecr.io", kTypeA, 2));
  auto first = client.Receive(milliseconds(5000));
  ASSERT_TRUE(first);
  EXPECT_EQ(Parse(*first)->header.id, 2);  // the local answer, without waiting
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
  auto second = client.Receive(milliseconds(5000));
  ASSERT_TRUE(second);
  EXPECT_EQ(Parse(*second)->header.id, 1);
  EXPECT_EQ(Parse(*second)->header.rcode, kRcodeServFail);
}

TEST_F(ForwardServerTest, TooManyForwardsInFlightGetServFailAtOnce) {
  FakeUpstream upstream(AnswerWith({192, 168, 1, 23}));
  Start({{"corp.example.", {Local(upstream.port())}, true}}, {.max_forwards = 0});
  EXPECT_EQ(AskUdp("db.corp.example").header.rcode, kRcodeServFail);
  EXPECT_EQ(upstream.udp_queries(), 0);
}

// ---- inbound endpoints: a view answering at a second address

TEST(InboundEndpoint, AViewAnswersAtEachAddressAndOneAddressCanGo) {
  auto built = Catalog::Build(SeedSpec());
  ASSERT_TRUE(built);
  CatalogStore store;
  store.Set(*built);
  Server server(store);
  // 127.0.0.1 stands for the VNet's 168.63.129.16, 127.0.0.2 for an inbound endpoint (10.0.2.4).
  auto dns = server.Listen("127.0.0.1", 0, kLinkedVnet);
  auto inbound = server.Listen("127.0.0.2", 0, kLinkedVnet);
  ASSERT_TRUE(dns && inbound);
  server.Start();
  auto ask = [](const std::string& address, uint16_t port) {
    return RunCommand({"dig", "@" + address, "-p", std::to_string(port), "+time=2", "+tries=1",
                       "+short", "myregistry.azurecr.io", "A"});
  };
  const std::string chain = "myregistry.privatelink.azurecr.io.\n10.0.0.5\n";
  EXPECT_EQ(ask("127.0.0.1", *dns).output, chain);
  EXPECT_EQ(ask("127.0.0.2", *inbound).output, chain);
  EXPECT_EQ(server.RemoveSocketsAt(kLinkedVnet, "127.0.0.2"), 2u);  // its UDP and TCP
  EXPECT_EQ(server.RemoveSocketsAt(kLinkedVnet, "127.0.0.2"), 0u);
  EXPECT_NE(ask("127.0.0.2", *inbound).exit_code, 0);
  EXPECT_EQ(ask("127.0.0.1", *dns).output, chain);
  server.Stop();
}

}  // namespace
}  // namespace cove::dns
