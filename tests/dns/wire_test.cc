#include "dns/wire.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cove::dns {
namespace {

Name N(std::string_view text) {
  auto n = Name::FromString(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(Name());
}

std::vector<uint8_t> QueryHeader(uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  return {0x12, 0x34, 0x01, 0x00, 0, static_cast<uint8_t>(qd), 0, static_cast<uint8_t>(an),
          0,    static_cast<uint8_t>(ns), 0, static_cast<uint8_t>(ar)};
}

void Append(std::vector<uint8_t>& v, std::initializer_list<uint8_t> bytes) {
  v.insert(v.end(), bytes.begin(), bytes.end());
}

// "www.example.com" A IN, as a wire query with id 0x1234 and RD.
const std::vector<uint8_t> kGoldenQuery = {
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // header
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01};

Message GoldenQueryMessage() {
  Message m;
  m.header.id = 0x1234;
  m.header.rd = true;
  m.questions.push_back({N("www.example.com"), kTypeA, kClassIN});
  return m;
}

TEST(NameTest, ComparesCaseInsensitivelyAndPreservesCase) {
  EXPECT_EQ(N("WWW.Example.COM"), N("www.example.com."));
  EXPECT_FALSE(N("www.example.com") == N("ww.example.com"));
  EXPECT_FALSE(N("example.com") == N("com"));
  EXPECT_EQ(N("WWW.Example.COM").ToString(), "WWW.Example.COM.");
  EXPECT_EQ(N("www.example.com").Lowercase().ToString(), "www.example.com.");
  EXPECT_EQ(Name().ToString(), ".");
  EXPECT_TRUE(N(".").IsRoot());
}

TEST(NameTest, EscapesDotsAndNonPrintables) {
  auto n = Name::FromLabels({std::string("a.b"), std::string("c\x01 d", 4), "e"});
  ASSERT_TRUE(n);
  EXPECT_EQ(n->ToString(), "a\\.b.c\\001\\032d.e.");
  auto back = Name::FromString(n->ToString());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->labels(), n->labels());
}

TEST(NameTest, EnforcesLimits) {
  EXPECT_FALSE(Name::FromLabels({std::string(64, 'a')}));
  EXPECT_TRUE(Name::FromLabels({std::string(63, 'a')}));
  // 4 labels of 63 = 4 * 64 + 1 = 257 octets; 3 of 63 + one of 61 = 255.
  EXPECT_FALSE(Name::FromLabels(std::vector<std::string>(4, std::string(63, 'a'))));
  std::vector<std::string> ok(3, std::string(63, 'a'));
  ok.push_back(std::string(61, 'b'));
  auto n = Name::FromLabels(ok);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->WireSize(), 255u);
  EXPECT_FALSE(Name::FromString("a..b"));
  EXPECT_FALSE(Name::FromString("a\\25"));
  EXPECT_FALSE(Name::FromString("a\\256"));
}

TEST(WireTest, GoldenQueryBytes) {
  EXPECT_EQ(Serialize(GoldenQueryMessage(), 512), kGoldenQuery);
  auto m = Parse(kGoldenQuery);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m, GoldenQueryMessage());
}

TEST(WireTest, GoldenAnswerBytes) {
  Message m = GoldenQueryMessage();
  m.header.qr = true;
  m.header.aa = true;
  m.answers.push_back(ResourceRecord::A(N("www.example.com"), 300, {192, 0, 2, 1}));
  std::vector<uint8_t> expected = {
      0x12, 0x34, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
      3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
      0x00, 0x01, 0x00, 0x01,
      0xC0, 0x0C,                          // pointer to the question name at offset 12
      0x00, 0x01, 0x00, 0x01,              // A IN
      0x00, 0x00, 0x01, 0x2C,              // TTL 300
      0x00, 0x04, 192, 0, 2, 1};
  EXPECT_EQ(Serialize(m, 512), expected);
  auto parsed = Parse(expected);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, m);
  auto a = parsed->answers[0].AsA();
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)[0], 192);
}

Message RichMessage() {
  Message m;
  m.header = {.id = 7, .qr = true, .opcode = 0, .aa = true, .tc = false, .rd = true,
              .ra = true, .z = false, .ad = true, .cd = true, .rcode = kRcodeNxDomain};
  m.questions.push_back({N("Registry.Example.com"), kTypeAAAA, kClassIN});
  m.answers.push_back(ResourceRecord::Cname(N("registry.example.com"), 60, N("eu.example.com")));
  m.answers.push_back(ResourceRecord::AAAA(N("eu.example.com"), 60,
                                           {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 1}));
  m.authority.push_back(ResourceRecord::Soa(
      N("example.com"), 3600,
      {N("ns1.example.com"), N("hostmaster.example.com"), 2024010101, 7200, 900, 1209600, 60}));
  m.authority.push_back(ResourceRecord::Ns(N("example.com"), 3600, N("ns1.example.com")));
  m.additional.push_back(ResourceRecord::A(N("ns1.example.com"), 3600, {192, 0, 2, 53}));
  m.additional.push_back({N("example.com"), 16, kClassIN, 5, {3, 'a', 'b', 'c'}});  // TXT
  m.edns = Edns{.udp_size = 1232, .extended_rcode = 1, .version = 0, .do_bit = true,
                .options = {{10, {1, 2, 3, 4, 5, 6, 7, 8}}, {12, {}}}};
  return m;
}

TEST(WireTest, RoundTripsEverySectionAndEdns) {
  Message m = RichMessage();
  std::vector<uint8_t> bytes = Serialize(m, 65535);
  auto parsed = Parse(bytes);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, m);
  EXPECT_EQ(parsed->questions[0].name.ToString(), "Registry.Example.com.");
  EXPECT_EQ(Serialize(*parsed, 65535), bytes);
  auto soa = parsed->authority[0].AsSoa();
  ASSERT_TRUE(soa);
  EXPECT_EQ(soa->rname, N("hostmaster.example.com"));
  EXPECT_EQ(soa->expire, 1209600u);
  EXPECT_EQ(*parsed->authority[1].AsNs(), N("ns1.example.com"));
  EXPECT_EQ(*parsed->answers[0].AsCname(), N("eu.example.com"));
  EXPECT_TRUE(parsed->answers[1].AsAAAA());
  EXPECT_FALSE(parsed->answers[1].AsA());
}

TEST(WireTest, CompressionShrinksRepeatedNames) {
  Message m = GoldenQueryMessage();
  for (uint8_t i = 0; i < 10; ++i) {
    m.answers.push_back(ResourceRecord::A(N("www.example.com"), 60, {10, 0, 0, i}));
  }
  size_t uncompressed = 12 + (17 + 4) + 10 * (17 + 10 + 4);
  std::vector<uint8_t> bytes = Serialize(m, 65535);
  EXPECT_EQ(bytes.size(), uncompressed - 10 * 15);
  auto parsed = Parse(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, m);
}

TEST(WireTest, DecompressesNamesInsideRdata) {
  std::vector<uint8_t> p = QueryHeader(1, 1, 0, 0);
  Append(p, {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 5, 0, 1});  // example. CNAME IN @12
  Append(p, {0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, 'w', 'w', 'w', 0xC0, 12});
  auto m = Parse(p);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(*m->answers[0].AsCname(), N("www.example"));
  EXPECT_EQ(m->answers[0].rdata.size(), 13u);
}

void ExpectFormErr(const std::vector<uint8_t>& packet, std::string_view what) {
  auto m = Parse(packet);
  ASSERT_FALSE(m) << what;
  EXPECT_TRUE(m.error().formerr_possible) << what;
  EXPECT_EQ(m.error().id, 0x1234) << what;
  EXPECT_FALSE(m.error().message.empty());
}

TEST(WireTest, ShortPacketIsDropped) {
  for (size_t n = 0; n < 12; ++n) {
    auto m = Parse(std::span(kGoldenQuery).first(n));
    ASSERT_FALSE(m);
    EXPECT_FALSE(m.error().formerr_possible);
  }
}

TEST(WireTest, EveryTruncationIsFormErr) {
  for (size_t n = 12; n < kGoldenQuery.size(); ++n) {
    ExpectFormErr(std::vector<uint8_t>(kGoldenQuery.begin(), kGoldenQuery.begin() + n),
                  "truncated at " + std::to_string(n));
  }
  Message m = RichMessage();
  m.header.id = 0x1234;
  std::vector<uint8_t> bytes = Serialize(m, 65535);
  for (size_t n = 12; n < bytes.size(); ++n) {
    ExpectFormErr(std::vector<uint8_t>(bytes.begin(), bytes.begin() + n), "rich truncated");
  }
}

TEST(WireTest, MalformedPacketsAreFormErr) {
  {
    std::vector<uint8_t> p = kGoldenQuery;
    p.push_back(0);
    ExpectFormErr(p, "trailing garbage");
  }
  ExpectFormErr(QueryHeader(0xFF, 0, 0, 0), "counts exceed buffer");
  {
    std::vector<uint8_t> p = QueryHeader(1, 0, 0, 0);
    Append(p, {0x40, 1, 0, 0, 1, 0, 1});
    ExpectFormErr(p, "label type 01");
  }
  {
    std::vector<uint8_t> p = QueryHeader(1, 0, 0, 0);
    Append(p, {0x80, 1, 0, 0, 1, 0, 1});
    ExpectFormErr(p, "label type 10");
  }
  {
    std::vector<uint8_t> p = QueryHeader(1, 0, 0, 0);
    Append(p, {0xC0, 12, 0, 1, 0, 1});
    ExpectFormErr(p, "pointer to itself");
  }
  {
    std::vector<uint8_t> p = QueryHeader(1, 0, 0, 0);
    Append(p, {0xC0, 14, 0, 0, 1, 0, 1});
    ExpectFormErr(p, "pointer forward");
  }
  {
    // Question 1 is "a." at 12; question 2 is "b" + pointer to 17 (its own pointer) — the
    // pointer lands behind itself but inside the run it ends, which would loop.
    std::vector<uint8_t> p = QueryHeader(2, 0, 0, 0);
    Append(p, {1, 'a', 0, 0, 1, 0, 1});
    Append(p, {1, 'b', 0xC0, 19, 0, 1, 0, 1});
    ExpectFormErr(p, "pointer loop");
  }
  {
    // Two pointers pointing at each other: 12 -> 14 is forward, 14 -> 12 backward.
    std::vector<uint8_t> p = QueryHeader(2, 0, 0, 0);
    Append(p, {0xC0, 14, 0xC0, 12, 0, 1, 0, 1, 0, 1, 0, 1});
    ExpectFormErr(p, "pointer cycle");
  }
  {
    // Three labels of 63 and one of 62: 3 * 64 + 63 + 1 = 256 octets on the wire.
    std::vector<uint8_t> p = QueryHeader(1, 0, 0, 0);
    for (int l = 0; l < 3; ++l) {
      p.push_back(63);
      p.insert(p.end(), 63, 'a');
    }
    p.push_back(62);
    p.insert(p.end(), 62, 'b');
    Append(p, {0, 0, 1, 0, 1});
    ExpectFormErr(p, "256-octet name");
    p[12 + 3 * 64] = 61;  // 255 octets is fine once the label really is 61 long
    p.erase(p.begin() + 12 + 3 * 64 + 1);
    auto ok = Parse(p);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->questions[0].name.WireSize(), 255u);
  }
  {
    std::vector<uint8_t> p = QueryHeader(1, 1, 0, 0);
    Append(p, {0, 0, 1, 0, 1});
    Append(p, {0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3});
    ExpectFormErr(p, "A RDATA of 3 octets");
  }
  const std::vector<uint8_t> opt = {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0};
  {
    std::vector<uint8_t> p = QueryHeader(0, 0, 0, 2);
    p.insert(p.end(), opt.begin(), opt.end());
    p.insert(p.end(), opt.begin(), opt.end());
    ExpectFormErr(p, "two OPT records");
  }
  {
    std::vector<uint8_t> p = QueryHeader(0, 1, 0, 0);
    p.insert(p.end(), opt.begin(), opt.end());
    ExpectFormErr(p, "OPT in answer");
  }
  {
    std::vector<uint8_t> p = QueryHeader(0, 0, 0, 1);
    Append(p, {1, 'x', 0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0});
    ExpectFormErr(p, "OPT not at root");
  }
  {
    std::vector<uint8_t> p = QueryHeader(0, 0, 0, 1);
    Append(p, {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 3, 0, 10, 0});
    ExpectFormErr(p, "truncated EDNS option");
  }
  {
    std::vector<uint8_t> p = QueryHeader(0, 0, 0, 1);
    p.insert(p.end(), opt.begin(), opt.end());
    auto m = Parse(p);
    ASSERT_TRUE(m);
    ASSERT_TRUE(m->edns);
    EXPECT_EQ(m->edns->udp_size, 1232);
    EXPECT_EQ(MaxResponseSize(*m), 1232u);
  }
}

TEST(WireTest, FormErrCarriesIdAndQuestion) {
  std::vector<uint8_t> p = kGoldenQuery;
  p.push_back(0xFF);
  auto m = Parse(p);
  ASSERT_FALSE(m);
  ASSERT_TRUE(m.error().question);
  Message reply = FormErr(m.error().id, m.error().question);
  auto back = Parse(Serialize(reply, 512));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->header.id, 0x1234);
  EXPECT_TRUE(back->header.qr);
  EXPECT_EQ(back->header.rcode, kRcodeFormErr);
  ASSERT_EQ(back->questions.size(), 1u);
  EXPECT_EQ(back->questions[0], GoldenQueryMessage().questions[0]);
}

Message BigAnswer(std::optional<Edns> edns) {
  Message m = GoldenQueryMessage();
  m.header.qr = true;
  m.edns = edns;
  // 100 RRsets of 2 A records each, distinct owners: far more than 512 octets.
  for (int i = 0; i < 100; ++i) {
    Name owner = N("host" + std::to_string(i) + ".example.com");
    for (uint8_t k = 0; k < 2; ++k) {
      m.answers.push_back(ResourceRecord::A(owner, 60, {10, 0, static_cast<uint8_t>(i), k}));
    }
  }
  m.additional.push_back(ResourceRecord::A(N("ns.example.com"), 60, {10, 9, 9, 9}));
  return m;
}

void ExpectTruncatedAtRrsetBoundary(const Message& m, size_t max_size) {
  std::vector<uint8_t> bytes = Serialize(m, max_size);
  EXPECT_LE(bytes.size(), max_size);
  auto parsed = Parse(bytes);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(parsed->header.tc);
  EXPECT_EQ(parsed->questions, m.questions);
  EXPECT_EQ(parsed->edns, m.edns);
  EXPECT_TRUE(parsed->additional.empty());
  ASSERT_FALSE(parsed->answers.empty());
  EXPECT_LT(parsed->answers.size(), m.answers.size());
  EXPECT_EQ(parsed->answers.size() % 2, 0u);  // whole RRsets only
  for (size_t i = 0; i < parsed->answers.size(); ++i) EXPECT_EQ(parsed->answers[i], m.answers[i]);
  // One more RRset would not have fitted.
  size_t rrset = 2 * (1 + 5 + 2 + 10 + 4);  // "hostNN" label + pointer, fixed part, A RDATA
  EXPECT_GT(bytes.size() + rrset, max_size - 2);
}

TEST(WireTest, TruncatesAt512WithoutEdns) {
  Message m = BigAnswer(std::nullopt);
  Message query = GoldenQueryMessage();
  ASSERT_EQ(MaxResponseSize(query), 512u);
  ExpectTruncatedAtRrsetBoundary(m, MaxResponseSize(query));
}

TEST(WireTest, TruncatesAtEdnsSize) {
  Message query = GoldenQueryMessage();
  query.edns = Edns{.udp_size = 1232};
  ASSERT_EQ(MaxResponseSize(query), 1232u);
  Message m = BigAnswer(Edns{.udp_size = 1232, .do_bit = true});
  ExpectTruncatedAtRrsetBoundary(m, MaxResponseSize(query));
  EXPECT_GT(Serialize(m, 1232).size(), 1000u);
}

TEST(WireTest, DroppingOnlyAdditionalDoesNotSetTc) {
  Message m = GoldenQueryMessage();
  m.answers.push_back(ResourceRecord::A(N("www.example.com"), 60, {1, 2, 3, 4}));
  m.additional.push_back({N("example.com"), 16, kClassIN, 5, std::vector<uint8_t>(600, 'x')});
  auto parsed = Parse(Serialize(m, 512));
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->header.tc);
  EXPECT_EQ(parsed->answers.size(), 1u);
  EXPECT_TRUE(parsed->additional.empty());
}

}  // namespace
}  // namespace cove::dns
