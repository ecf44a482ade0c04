// PROXY protocol v2: the parser and writer (hand-built bytes, strictness), and the server's
// proxy_protocol listeners over loopback, plain and TLS.
#include "http/proxy_protocol.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "http/http_test_util.h"
#include "http/server.h"
#include "http/tls.h"
#include "support/temp_dir.h"

namespace cove::http {
namespace {

using namespace cove::http::testing;

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

// An INET PROXY header written out by hand (the spec's layout), followed by `tlvs` raw bytes.
std::string HandInet(std::string tlvs = "") {
  std::string h = kSig;
  h += '\x21';  // v2, PROXY
  h += '\x11';  // INET, STREAM
  const size_t len = 12 + tlvs.size();
  h += static_cast<char>(len >> 8);
  h += static_cast<char>(len & 0xff);
  h += std::string("\x0a\x00\x00\x04", 4);  // 10.0.0.4
  h += std::string("\x0a\x00\x00\x05", 4);  // 10.0.0.5
  h += std::string("\xc3\x50", 2);          // 50000
  h += std::string("\x01\xbb", 2);          // 443
  return h + tlvs;
}

// Azure's LinkID TLV as the docs give it: 0xEE, length 5, subtype 1, uint32 little-endian.
std::string AzureTlvBytes(uint32_t id) {
  std::string t("\xee\x00\x05\x01", 4);
  for (int i = 0; i < 4; ++i) t += static_cast<char>((id >> (8 * i)) & 0xff);
  return t;
}

TEST(ProxyV2ParseTest, InetWithAzureLinkId) {
  std::string bytes = HandInet(AzureTlvBytes(0x12345678));
  auto size = ProxyV2HeaderSize(bytes.substr(0, kProxyV2PrefixSize));
  ASSERT_TRUE(size) << size.error().ToString();
  EXPECT_EQ(*size, bytes.size());
  auto h = ParseProxyV2(bytes);
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_EQ(h->command, ProxyHeader::Command::kProxy);
  EXPECT_EQ(h->family, ProxyHeader::Family::kInet);
  EXPECT_EQ(h->transport, ProxyHeader::Transport::kStream);
  EXPECT_EQ(h->source_address, "10.0.0.4");
  EXPECT_EQ(h->destination_address, "10.0.0.5");
  EXPECT_EQ(h->source_port, 50000);
  EXPECT_EQ(h->destination_port, 443);
  ASSERT_TRUE(h->link_id);
  EXPECT_EQ(*h->link_id, 0x12345678u);
  ASSERT_EQ(h->tlvs.size(), 1u);
  EXPECT_EQ(h->tlvs[0].type, 0xEE);
}

TEST(ProxyV2ParseTest, Inet6AndUnknownTlvsKept) {
  ProxyHeader in;
  in.family = ProxyHeader::Family::kInet6;
  in.source_address = "fd00::4";
  in.destination_address = "fd00::5";
  in.source_port = 1;
  in.destination_port = 65535;
  in.tlvs = {{0x04, std::string(3, '\0')}, {0xE0, "x"}, AzureLinkIdTlv(7), {0xEE, "\x02zz"}};
  auto bytes = SerializeProxyV2(in);
  ASSERT_TRUE(bytes) << bytes.error().ToString();
  EXPECT_EQ(bytes->size(), 16u + 36 + 6 + 4 + 8 + 6);
  auto out = ParseProxyV2(*bytes);
  ASSERT_TRUE(out) << out.error().ToString();
  in.link_id = 7;
  EXPECT_EQ(*out, in);
}

TEST(ProxyV2ParseTest, SerializeMatchesHandBuiltBytes) {
  ProxyHeader in;
  in.source_address = "10.0.0.4";
  in.destination_address = "10.0.0.5";
  in.source_port = 50000;
  in.destination_port = 443;
  in.tlvs = {AzureLinkIdTlv(0x12345678)};
  auto bytes = SerializeProxyV2(in);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, HandInet(AzureTlvBytes(0x12345678)));
}

TEST(ProxyV2ParseTest, LocalAndUnspec) {
  std::string h = kSig + std::string("\x20\x00\x00\x00", 4);
  auto parsed = ParseProxyV2(h);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->command, ProxyHeader::Command::kLocal);
  EXPECT_EQ(parsed->family, ProxyHeader::Family::kUnspec);
  EXPECT_TRUE(parsed->source_address.empty());
  // LOCAL with addresses: still well-formed.
  std::string with = HandInet();
  with[12] = '\x20';
  ASSERT_TRUE(ParseProxyV2(with));
}

TEST(ProxyV2ParseTest, UnixPaths) {
  ProxyHeader in;
  in.family = ProxyHeader::Family::kUnix;
  in.source_address = "/run/a.sock";
  in.destination_address = "/run/b.sock";
  auto bytes = SerializeProxyV2(in);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), 16u + 216);
  auto out = ParseProxyV2(*bytes);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, in);
}

TEST(ProxyV2ParseTest, Crc32cCheckedBothWays) {
  ProxyHeader in;
  in.source_address = "192.0.2.1";
  in.destination_address = "10.0.0.5";
  in.tlvs = {AzureLinkIdTlv(1)};
  auto bytes = SerializeProxyV2(in, /*add_crc32c=*/true);
  ASSERT_TRUE(bytes);
  ASSERT_TRUE(ParseProxyV2(*bytes)) << ParseProxyV2(*bytes).error().ToString();
  std::string flipped = *bytes;
  flipped[17] ^= 1;  // one bit of the source address
  auto bad = ParseProxyV2(flipped);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("CRC32C"), std::string::npos);
}

// A CRC computed outside this code (Python, polynomial 0x82F63B78, which gives the standard
// check value 0xE3069283 for "123456789"): LOCAL, UNSPEC, one CRC32C TLV.
TEST(ProxyV2ParseTest, Crc32cKnownValue) {
  std::string h = kSig + std::string("\x20\x00\x00\x07\x03\x00\x04", 7);
  auto parsed = ParseProxyV2(h + std::string("\xa9\xb8\x7e\x8f", 4));
  EXPECT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_FALSE(ParseProxyV2(h + std::string("\xa9\xb8\x7e\x8e", 4)));
}

TEST(ProxyV2ParseTest, StrictErrors) {
  const std::string good = HandInet(AzureTlvBytes(9));
  ASSERT_TRUE(ParseProxyV2(good));
  auto fails = [](std::string bytes, std::string_view why) {
    auto r = ParseProxyV2(bytes);
    EXPECT_FALSE(r) << why;
    if (!r) {
      EXPECT_EQ(r.error().code, Code::kInvalidArgument) << why;
    }
  };
  std::string s = good;
  s[0] = 'G';
  fails(s, "bad signature");
  fails("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP instead of PROXY");
  fails("PROXY TCP4 10.0.0.4 10.0.0.5 50000 443\r\n", "version 1 text header");
  s = good;
  s[12] = '\x11';
  fails(s, "version 1 in a binary header");
  s[12] = '\x31';
  fails(s, "version 3");
  s[12] = '\x22';
  fails(s, "command 2");
  s = good;
  s[13] = '\x41';
  fails(s, "family 4");
  s[13] = '\x13';
  fails(s, "transport 3");
  fails(good.substr(0, 10), "truncated signature");
  fails(good.substr(0, good.size() - 1), "truncated TLV");
  fails(good + "x", "trailing bytes");
  s = good;
  s[15] = 4;  // length 4 < 12 bytes of INET addresses
  fails(s.substr(0, 20), "length shorter than the addresses");
  fails(HandInet(std::string("\xee\x00\x04\x01\x00\x00\x00", 7)), "short LinkID TLV");
  fails(HandInet(std::string("\xee\x00\x00", 3)), "empty Azure TLV");
  fails(HandInet(AzureTlvBytes(1) + AzureTlvBytes(2)), "two LinkIDs");
  fails(HandInet(std::string("\x04\x00\x09\x00", 4)), "TLV past the end");
  fails(HandInet(std::string("\x04\x00", 2)), "TLV head cut");
  fails(HandInet(std::string("\x03\x00\x02\x00\x00", 5)), "CRC32C of length 2");
  // Oversized: the length field says 2000 bytes follow.
  s = HandInet();
  s[14] = static_cast<char>(2000 >> 8);
  s[15] = static_cast<char>(2000 & 0xff);
  auto size = ProxyV2HeaderSize(s);
  ASSERT_FALSE(size);
  EXPECT_NE(size.error().message.find("oversized"), std::string::npos);
}

TEST(ProxyV2ParseTest, SerializeRefusesBadInput) {
  ProxyHeader h;
  h.source_address = "not-an-ip";
  h.destination_address = "10.0.0.5";
  EXPECT_FALSE(SerializeProxyV2(h));
  h.source_address = "fd00::1";  // IPv6 in an INET header
  EXPECT_FALSE(SerializeProxyV2(h));
  h.source_address = "10.0.0.4";
  h.tlvs = {{0xE0, std::string(2000, 'x')}};
  EXPECT_FALSE(SerializeProxyV2(h));
}

// ---- the server ----

// A listener with proxy_protocol: what /peer reports for each header.
class ProxyServerTest : public ::testing::Test {
 protected:
  void Start(std::optional<uint32_t> listener_link_id) {
    server_ = std::make_unique<Server>(handler_, nullptr);
    ListenerOptions listener;
    listener.proxy_protocol = true;
    listener.proxy_sources = {"127.0.0.0/8"};  // the test's client is the forwarder
    listener.link_id = listener_link_id;
    port_ = ListenAndStart(*server_, listener);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  // Sends `prefix` then a GET /peer; returns everything the server sent before closing.
  std::string Exchange(const std::string& prefix) {
    RawClient client(port_);
    client.Send(prefix + "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return client.ReadToEnd();
  }
  static std::string Body(const std::string& reply) {
    auto p = reply.find("\r\n\r\n");
    return p == std::string::npos ? "" : reply.substr(p + 4);
  }

  TestHandler handler_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ProxyServerTest, ProxyHeaderSetsPeerAndLinkId) {
  Start(std::nullopt);
  std::string reply = Exchange(HandInet(AzureTlvBytes(4242)));
  // The local address is the header's destination (the address the client connected to).
  EXPECT_EQ(Body(reply), "10.0.0.4 443 plain - 4242 50000") << reply;
}

TEST_F(ProxyServerTest, TlvOverridesListenerLinkIdWhichStaysWithout) {
  Start(77);
  EXPECT_EQ(Body(Exchange(HandInet(AzureTlvBytes(5)))), "10.0.0.4 443 plain - 5 50000");
  EXPECT_EQ(Body(Exchange(HandInet())), "10.0.0.4 443 plain - 77 50000");
}

TEST_F(ProxyServerTest, LocalKeepsRealEndpoints) {
  Start(std::nullopt);
  std::string local = kSig + std::string("\x20\x00\x00\x00", 4);
  std::string body = Body(Exchange(local));
  EXPECT_EQ(body.substr(0, body.rfind(' ')), "127.0.0.1 " + std::to_string(port_) + " plain - -");
}

TEST_F(ProxyServerTest, BadOrMissingHeaderClosesWithoutAnswer) {
  Start(std::nullopt);
  std::string bad_sig = HandInet();
  bad_sig[3] = 'x';
  std::string oversized = HandInet();
  oversized[14] = '\x10';
  for (const std::string& prefix :
       {std::string(), bad_sig, oversized, HandInet(std::string("\xee\x00\x01\x01", 4))}) {
    EXPECT_EQ(Exchange(prefix), "");
  }
  EXPECT_EQ(handler_.finishes(), 0);
  // The server still serves good connections afterwards.
  EXPECT_EQ(Body(Exchange(HandInet(AzureTlvBytes(1)))).substr(0, 8), "10.0.0.4");
}

TEST_F(ProxyServerTest, HeaderArrivingInPiecesAndKeepAlive) {
  Start(std::nullopt);
  RawClient client(port_);
  std::string header = HandInet(AzureTlvBytes(3));
  client.Send(header.substr(0, 5));
  client.Send(header.substr(5, 14));
  client.Send(header.substr(19));
  client.Send("GET /peer HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first = client.ReadUntil("50000");
  EXPECT_NE(first.find("10.0.0.4 443 plain - 3 50000"),
            std::string::npos)
      << first;
  client.Send("GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string second = client.ReadToEnd();
  EXPECT_NE(second.find("10.0.0.4 443 plain - 3 50000"),
            std::string::npos)
      << second;
}

TEST_F(ProxyServerTest, HeaderTimeoutClosesSilentConnection) {
  server_ = std::make_unique<Server>(handler_, nullptr,
                                     ServerOptions{.header_timeout = std::chrono::milliseconds(200)});
  ListenerOptions listener;
  listener.proxy_protocol = true;
  listener.proxy_sources = {"127.0.0.1"};  // the test's client is the forwarder
  port_ = ListenAndStart(*server_, listener);
  RawClient client(port_);
  client.Send(HandInet().substr(0, 20));  // stalls inside the header
  EXPECT_EQ(client.ReadToEnd(), "");
}

TEST(ForwarderRangeTest, AddressesAndRanges) {
  auto one = ForwarderRange::Parse("10.1.0.4");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->Contains("10.1.0.4"));
  EXPECT_TRUE(one->Contains("::ffff:10.1.0.4"));
  EXPECT_FALSE(one->Contains("10.1.0.5"));
  auto net = ForwarderRange::Parse("10.1.0.0/28");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->Contains("10.1.0.15"));
  EXPECT_FALSE(net->Contains("10.1.0.16"));
  EXPECT_FALSE(net->Contains("fd00::1"));
  EXPECT_FALSE(net->Contains("not an address"));
  auto v6 = ForwarderRange::Parse("fd00:1::/33");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->Contains("fd00:1:7fff::9"));
  EXPECT_FALSE(v6->Contains("fd00:1:8000::9"));
  EXPECT_FALSE(v6->Contains("10.1.0.4"));
  EXPECT_TRUE(ForwarderRange::Parse("0.0.0.0/0")->Contains("203.0.113.9"));
  for (const char* bad : {"", "10.1.0", "10.1.0.0/33", "10.1.0.0/", "fd00::/129", "10.1.0.0/-1",
                          "10.1.0.0/8x", "host.example"}) {
    EXPECT_FALSE(ForwarderRange::Parse(bad)) << bad;
  }
}

TEST(ProxyForwarderTest, ListenerNeedsForwardersThatParse) {
  TestHandler handler;
  Server server(handler, nullptr);
  ListenerOptions listener;
  listener.proxy_protocol = true;
  EXPECT_EQ(server.Listen(listener).error().code, Code::kInvalidArgument);
  listener.proxy_sources = {"10.1.0.0/99"};
  EXPECT_EQ(server.Listen(listener).error().code, Code::kInvalidArgument);
  server.Stop();
}

TEST_F(ProxyServerTest, HeaderFromANonForwarderIsRefusedUnread) {
  server_ = std::make_unique<Server>(handler_, nullptr);
  ListenerOptions listener;
  listener.proxy_protocol = true;
  listener.proxy_sources = {"192.0.2.0/24", "fd00::7"};  // the test's client is neither
  port_ = ListenAndStart(*server_, listener);
  EXPECT_EQ(Exchange(HandInet(AzureTlvBytes(4242))), "");
  EXPECT_EQ(handler_.finishes(), 0);
}

TEST(ProxyTlsServerTest, HeaderBeforeTlsHandshake) {
  cove::testing::TempDir dir;
  SystemClock clock;
  auto ca = CertificateAuthority::LoadOrCreate(dir.Join("tls"), clock);
  ASSERT_TRUE(ca) << ca.error().ToString();
  SniContextProvider provider(
      **ca, dir.Join("tls/hosts"), clock,
      [](std::string_view name) { return name.ends_with(".example.test"); },
      "default.example.test");
  TestHandler handler;
  Server server(handler, &provider);
  ListenerOptions listener;
  listener.tls = true;
  listener.proxy_protocol = true;
  listener.proxy_sources = {"127.0.0.1"};  // the test's client is the forwarder
  uint16_t port = ListenAndStart(server, listener);

  TlsClient client(port, (*ca)->CertificatePem(), "reg.example.test", "reg.example.test");
  ProxyHeader header;
  header.family = ProxyHeader::Family::kInet6;
  header.source_address = "2001:db8::7";
  header.destination_address = "2001:db8::5";
  header.source_port = 4000;
  header.destination_port = 443;
  header.tlvs = {AzureLinkIdTlv(0xFFFFFFFF)};
  auto bytes = SerializeProxyV2(header, /*add_crc32c=*/true);
  ASSERT_TRUE(bytes);
  asio::write(client.stream().next_layer(), asio::buffer(*bytes));
  client.Handshake();
  auto response = client.Do(Get("/peer"));
  EXPECT_EQ(response.body(), "2001:db8::7 443 tls reg.example.test 4294967295 4000");
  server.Stop();
}

}  // namespace
}  // namespace cove::http
