// Query processing and catalog tests: every rule of query.h, without sockets.
#include "dns/query.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dns/catalog.h"
#include "dns/catalog_json.h"
#include "dns/seed_catalog.h"
#include "dns/wire.h"

namespace cove::dns {
namespace {

using testing::kLinkedVnet;
using testing::kRedirectVnet;
using testing::kUnlinkedVnet;
using testing::SeedSpec;

Name N(std::string_view text) {
  auto n = Name::FromString(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.value_or(Name());
}

std::vector<uint8_t> QueryBytes(std::string_view name, uint16_t type,
                                std::optional<Edns> edns = std::nullopt, uint16_t id = 0x4242) {
  Message m;
  m.header.id = id;
  m.header.rd = true;
  m.questions.push_back({N(name), type, kClassIN});
  m.edns = std::move(edns);
  return Serialize(m, 65535);
}

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built = Catalog::Build(SeedSpec());
    ASSERT_TRUE(built) << built.error().message;
    catalog_ = *built;
  }

  // Processes raw bytes; returns the parsed response (fails the test if there is none).
  Message Raw(const std::vector<uint8_t>& query, std::string_view view, bool tcp = false,
              ProcessResult* result = nullptr) {
    std::vector<uint8_t> out;
    ProcessResult r = Process(query, *catalog_, catalog_->view(view), {.tcp = tcp}, out);
    if (result) *result = r;
    last_bytes_ = out;
    EXPECT_TRUE(r.respond);
    auto parsed = Parse(out);
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
    if (!parsed) return {};
    EXPECT_EQ(parsed->header.rcode, r.rcode & 0xF);
    return *parsed;
  }

  Message Ask(std::string_view view, std::string_view name, uint16_t type = kTypeA,
              std::optional<Edns> edns = std::nullopt, bool tcp = false) {
    return Raw(QueryBytes(name, type, std::move(edns)), view, tcp);
  }

  bool Dropped(const std::vector<uint8_t>& query) {
    std::vector<uint8_t> out;
    ProcessResult r = Process(query, *catalog_, catalog_->view(kLinkedVnet), {}, out);
    return !r.respond && out.empty();
  }

  CatalogPtr catalog_;
  std::vector<uint8_t> last_bytes_;
};

std::string A(const ResourceRecord& rr) {
  auto a = rr.AsA();
  if (!a) return "not A";
  return std::to_string((*a)[0]) + "." + std::to_string((*a)[1]) + "." + std::to_string((*a)[2]) +
         "." + std::to_string((*a)[3]);
}

TEST_F(QueryTest, PublicViewGivesTheChainToThePublicAddress) {
  for (std::string_view view : {"", kUnlinkedVnet, "vnet-nobody-knows"}) {
    Message m = Ask(view, "myregistry.azurecr.io");
    EXPECT_EQ(m.header.rcode, kRcodeNoError);
    ASSERT_EQ(m.answers.size(), 2u) << view;
    EXPECT_EQ(m.answers[0].type, kTypeCNAME);
    EXPECT_EQ(*m.answers[0].AsCname(), N("myregistry.privatelink.azurecr.io"));
    EXPECT_EQ(m.answers[0].ttl, 60u);
    EXPECT_EQ(m.answers[1].name, N("myregistry.privatelink.azurecr.io"));
    EXPECT_EQ(A(m.answers[1]), "203.0.113.10");
    EXPECT_TRUE(m.authority.empty());
  }
}

TEST_F(QueryTest, LinkedViewGivesThePrivateAddresses) {
  Message m = Ask(kLinkedVnet, "myregistry.azurecr.io");
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].name, N("myregistry.azurecr.io"));
  EXPECT_EQ(*m.answers[0].AsCname(), N("myregistry.privatelink.azurecr.io"));
  EXPECT_EQ(m.answers[1].name, N("myregistry.privatelink.azurecr.io"));
  EXPECT_EQ(A(m.answers[1]), "10.0.0.5");
  EXPECT_EQ(m.answers[1].ttl, 10u);

  m = Ask(kLinkedVnet, "myregistry.westus.data.azurecr.io");
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(*m.answers[0].AsCname(), N("myregistry.westus.data.privatelink.azurecr.io"));
  EXPECT_EQ(A(m.answers[1]), "10.0.0.6");
  EXPECT_EQ(m.answers[1].ttl, 10u);

  // The privatelink name asked directly.
  m = Ask(kLinkedVnet, "myregistry.privatelink.azurecr.io");
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(A(m.answers[0]), "10.0.0.5");

  // Another zone with the same name, linked to another VNet, answers there.
  m = Ask(kRedirectVnet, "myregistry.azurecr.io");
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(A(m.answers[1]), "10.1.0.5");
}

TEST(ViewTest, ALinkedPrivateZoneHidesMoreSpecificPublicZones) {
  // A VNet linked to a private zone for the whole suffix sees nothing public below it, not even
  // the public privatelink zone; other VNets still do.
  CatalogSpec spec = SeedSpec();
  ZoneSpec whole{.id = "whole", .name = "azurecr.io", .soa = {}, .records = {}};
  whole.records = {{"myregistry", kTypeA, 10, "10.9.9.9"}};
  spec.private_zones.push_back(whole);
  spec.views.push_back({"vnet-whole", {{"whole", ResolutionPolicy::kDefault}}});
  auto catalog = Catalog::Build(spec);
  ASSERT_TRUE(catalog) << catalog.error().message;
  std::vector<uint8_t> out;
  Process(QueryBytes("myregistry.privatelink.azurecr.io", kTypeA), **catalog,
          (*catalog)->view("vnet-whole"), {}, out);
  auto m = Parse(out);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header.rcode, kRcodeNxDomain);
  ASSERT_EQ(m->authority.size(), 1u);
  EXPECT_EQ(m->authority[0].name, N("azurecr.io"));
  Process(QueryBytes("myregistry.azurecr.io", kTypeA), **catalog, (*catalog)->view("vnet-whole"),
          {}, out);
  m = Parse(out);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(A(m->answers[0]), "10.9.9.9");
  Process(QueryBytes("myregistry.azurecr.io", kTypeA), **catalog, (*catalog)->view(kLinkedVnet), {},
          out);
  m = Parse(out);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(A(m->answers[1]), "10.0.0.5");
}

TEST_F(QueryTest, RecursiveResolverFlags) {
  std::vector<uint8_t> q = QueryBytes("myregistry.azurecr.io", kTypeA, std::nullopt, 0xBEEF);
  Message m = Raw(q, kLinkedVnet);
  EXPECT_EQ(m.header.id, 0xBEEF);
  EXPECT_TRUE(m.header.qr);
  EXPECT_TRUE(m.header.ra);
  EXPECT_FALSE(m.header.aa);
  EXPECT_TRUE(m.header.rd);
  EXPECT_FALSE(m.header.tc);
  q[2] &= static_cast<uint8_t>(~0x01);  // RD off
  q[3] |= 0x10;                         // CD on
  m = Raw(q, kLinkedVnet);
  EXPECT_FALSE(m.header.rd);
  EXPECT_TRUE(m.header.cd);
  EXPECT_FALSE(m.header.ad);
}

TEST_F(QueryTest, MissingNameInLinkedZoneIsNxDomainWithTheZonesSoa) {
  Message m = Ask(kLinkedVnet, "ghost.privatelink.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeNxDomain);
  EXPECT_TRUE(m.answers.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].name, N("privatelink.azurecr.io"));
  auto soa = m.authority[0].AsSoa();
  ASSERT_TRUE(soa);
  EXPECT_EQ(soa->mname, N("azureprivatedns.net"));
  EXPECT_EQ(m.authority[0].ttl, 10u);  // min(SOA TTL 3600, MINIMUM 10)

  // A registry the public DNS knows but the linked zone lacks: the chain, then NXDOMAIN (what
  // Azure does, and why NxDomainRedirect exists).
  m = Ask(kLinkedVnet, "newreg.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeNxDomain);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(*m.answers[0].AsCname(), N("newreg.privatelink.azurecr.io"));
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, kTypeSOA);

  // Publicly, a missing name is NXDOMAIN with the public zone's SOA and its negative TTL.
  m = Ask("", "ghost.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeNxDomain);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].name, N("azurecr.io"));
  EXPECT_EQ(m.authority[0].ttl, 300u);
}

TEST_F(QueryTest, NxDomainRedirectFallsBackToThePublicAnswer) {
  Message m = Ask(kRedirectVnet, "newreg.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeNoError);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(A(m.answers[1]), "203.0.113.12");
  // A name nobody has is still NXDOMAIN, from the public zone.
  m = Ask(kRedirectVnet, "ghost.privatelink.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeNxDomain);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].ttl, 300u);
}

TEST_F(QueryTest, NamesOutsideEveryZoneAreRefused) {
  for (std::string_view name : {"example.com", "io", "azurecr.io.evil.com", "."}) {
    Message m = Ask(kLinkedVnet, name);
    EXPECT_EQ(m.header.rcode, kRcodeRefused) << name;
    EXPECT_TRUE(m.answers.empty());
    EXPECT_TRUE(m.authority.empty());
  }
  // A CNAME to a name outside: the chain as far as cove knows it.
  Message m = Ask("", "away.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeNoError);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(*m.answers[0].AsCname(), N("somewhere.example.net"));
}

TEST_F(QueryTest, NamesAreCaseInsensitiveAndAnswersKeepTheQuestionsCase) {
  Message m = Ask(kLinkedVnet, "MyRegistry.AzureCR.IO");
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(A(m.answers[1]), "10.0.0.5");
  EXPECT_EQ(m.questions[0].name.ToString(), "MyRegistry.AzureCR.IO.");
  EXPECT_EQ(m.answers[0].name.ToString(), "MyRegistry.AzureCR.IO.");
  // The first owner is a pointer to the question.
  size_t answer_at = kHeaderSize + N("MyRegistry.AzureCR.IO").WireSize() + 4;
  EXPECT_EQ(last_bytes_[answer_at], 0xC0);
  EXPECT_EQ(last_bytes_[answer_at + 1], kHeaderSize);

  m = Ask(kLinkedVnet, "MYREGISTRY.PRIVATELINK.AZURECR.IO");
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name.ToString(), "MYREGISTRY.PRIVATELINK.AZURECR.IO.");
}

TEST_F(QueryTest, NoDataIsNotNxDomain) {
  Message m = Ask(kLinkedVnet, "myregistry.privatelink.azurecr.io", kTypeAAAA);
  EXPECT_EQ(m.header.rcode, kRcodeNoError);
  EXPECT_TRUE(m.answers.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, kTypeSOA);
  EXPECT_EQ(m.authority[0].ttl, 10u);

  // Through the chain: CNAME, then NODATA at its target.
  m = Ask(kLinkedVnet, "myregistry.azurecr.io", kTypeAAAA);
  EXPECT_EQ(m.header.rcode, kRcodeNoError);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, kTypeCNAME);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].name, N("privatelink.azurecr.io"));

  // Empty non-terminals exist.
  for (std::string_view ent : {"westus.data.privatelink.azurecr.io", "data.privatelink.azurecr.io",
                               "westus.data.azurecr.io"}) {
    m = Ask(kLinkedVnet, ent);
    EXPECT_EQ(m.header.rcode, kRcodeNoError) << ent;
    EXPECT_TRUE(m.answers.empty());
    EXPECT_EQ(m.authority.size(), 1u);
  }
  m = Ask(kLinkedVnet, "eastus.data.privatelink.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeNxDomain);

  m = Ask(kLinkedVnet, "v6.privatelink.azurecr.io", kTypeAAAA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_TRUE(m.answers[0].AsAAAA());
}

TEST_F(QueryTest, OtherTypes) {
  Message m = Ask("", "txt.azurecr.io", kTypeTXT);
  ASSERT_EQ(m.answers.size(), 1u);
  std::vector<uint8_t> txt = {12, 'v', '=', 'c', 'o', 'v', 'e', ' ', 'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(m.answers[0].rdata, txt);

  m = Ask("", "mx.azurecr.io", kTypeMX);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, kTypeMX);

  m = Ask(kLinkedVnet, "privatelink.azurecr.io", kTypeSOA);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].ttl, 3600u);  // a positive SOA answer keeps the record's TTL
  EXPECT_TRUE(m.authority.empty());

  m = Ask(kLinkedVnet, "azurecr.io", kTypeNS);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(*m.answers[0].AsNs(), N("ns1-01.azure-dns.com"));

  // Asking for the CNAME itself does not follow it.
  m = Ask(kLinkedVnet, "myregistry.azurecr.io", kTypeCNAME);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, kTypeCNAME);
}

TEST_F(QueryTest, AnyGetsOneRRset) {
  Message m = Ask(kLinkedVnet, "myregistry.azurecr.io", 255);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, kTypeCNAME);
  m = Ask(kLinkedVnet, "azurecr.io", 255);
  EXPECT_EQ(m.header.rcode, kRcodeNoError);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].type, kTypeNS);  // one RRset (RFC 8482), not NS + SOA
  m = Ask(kLinkedVnet, "ghost.azurecr.io", 255);
  EXPECT_EQ(m.header.rcode, kRcodeNxDomain);
}

TEST_F(QueryTest, CnameLoopsAreServFail) {
  Message m = Ask("", "loop1.azurecr.io");
  EXPECT_EQ(m.header.rcode, kRcodeServFail);
  EXPECT_TRUE(m.answers.empty());
}

TEST_F(QueryTest, EdnsIsEchoedWithOurPayloadSizeAndDo) {
  Message m =
      Ask(kLinkedVnet, "myregistry.azurecr.io", kTypeA, Edns{.udp_size = 4096, .do_bit = true});
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->version, 0);
  EXPECT_EQ(m.edns->udp_size, 1232);
  EXPECT_TRUE(m.edns->do_bit);
  EXPECT_EQ(m.answers.size(), 2u);

  m = Ask(kLinkedVnet, "myregistry.azurecr.io");
  EXPECT_FALSE(m.edns);

  ProcessResult r;
  m = Raw(QueryBytes("myregistry.azurecr.io", kTypeA, Edns{.udp_size = 1232, .version = 1}),
          kLinkedVnet, false, &r);
  EXPECT_EQ(r.rcode, kRcodeBadVers);
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->extended_rcode, 1);
  EXPECT_EQ(m.edns->version, 0);
  EXPECT_EQ(m.header.rcode, 0);
  EXPECT_TRUE(m.answers.empty());

  // EDNS options (here a cookie) are accepted and not echoed.
  m = Ask(kLinkedVnet, "myregistry.azurecr.io", kTypeA,
          Edns{.udp_size = 1232, .options = {{10, {1, 2, 3, 4, 5, 6, 7, 8}}}});
  ASSERT_TRUE(m.edns);
  EXPECT_TRUE(m.edns->options.empty());
  EXPECT_EQ(m.answers.size(), 2u);
}

TEST_F(QueryTest, TruncatesOverUdpToWhatTheClientAccepts) {
  ProcessResult r;
  // 60 A records: about 1000 octets.
  Message m = Raw(QueryBytes("many.azurecr.io", kTypeA), "", false, &r);
  EXPECT_TRUE(m.header.tc);
  EXPECT_TRUE(r.truncated);
  EXPECT_TRUE(m.answers.empty());  // the RRset is dropped whole
  EXPECT_LE(last_bytes_.size(), 512u);

  m = Raw(QueryBytes("many.azurecr.io", kTypeA, Edns{.udp_size = 700}), "", false, &r);
  EXPECT_TRUE(m.header.tc);
  ASSERT_TRUE(m.edns);
  EXPECT_LE(last_bytes_.size(), 700u);

  m = Raw(QueryBytes("many.azurecr.io", kTypeA, Edns{.udp_size = 4096}), "", false, &r);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answers.size(), 60u);
  EXPECT_LE(last_bytes_.size(), 1232u);

  m = Raw(QueryBytes("many.azurecr.io", kTypeA), "", /*tcp=*/true, &r);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answers.size(), 60u);

  // A client asking for less than 512 still gets 512.
  m = Raw(QueryBytes("myregistry.azurecr.io", kTypeA, Edns{.udp_size = 100}), "", false, &r);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answers.size(), 2u);
}

TEST_F(QueryTest, ClassesAndMetaTypes) {
  std::vector<uint8_t> q = QueryBytes("myregistry.azurecr.io", kTypeA);
  q[q.size() - 1] = 3;  // CHAOS
  EXPECT_EQ(Raw(q, kLinkedVnet).header.rcode, kRcodeRefused);
  EXPECT_EQ(Ask(kLinkedVnet, "azurecr.io", 252).header.rcode, kRcodeRefused);  // AXFR
  EXPECT_EQ(Ask(kLinkedVnet, "azurecr.io", 251).header.rcode, kRcodeRefused);  // IXFR
  EXPECT_EQ(Ask(kLinkedVnet, "azurecr.io", 254).header.rcode, kRcodeNotImp);   // MAILA
  EXPECT_EQ(Ask(kLinkedVnet, "azurecr.io", kTypeOPT).header.rcode, kRcodeFormErr);
  EXPECT_EQ(Ask(kLinkedVnet, "azurecr.io", 0).header.rcode, kRcodeFormErr);
}

TEST_F(QueryTest, OpcodesOtherThanQueryAreNotImp) {
  for (uint8_t opcode : {1, 2, 4, 5, 15}) {
    std::vector<uint8_t> q = QueryBytes("myregistry.azurecr.io", kTypeA);
    q[2] = static_cast<uint8_t>((q[2] & 0x87) | (opcode << 3));
    Message m = Raw(q, kLinkedVnet);
    EXPECT_EQ(m.header.rcode, kRcodeNotImp) << int{opcode};
    EXPECT_EQ(m.header.opcode, opcode);
    EXPECT_TRUE(m.answers.empty());
  }
}

TEST_F(QueryTest, MalformedButIdentifiableQueriesGetFormErr) {
  std::vector<uint8_t> good = QueryBytes("myregistry.azurecr.io", kTypeA);
  auto expect_formerr = [&](std::vector<uint8_t> q, const char* what) {
    ProcessResult r;
    std::vector<uint8_t> out;
    r = Process(q, *catalog_, catalog_->view(kLinkedVnet), {}, out);
    ASSERT_TRUE(r.respond) << what;
    EXPECT_EQ(r.rcode, kRcodeFormErr) << what;
    ASSERT_GE(out.size(), kHeaderSize);
    EXPECT_EQ(out[0], q[0]);
    EXPECT_EQ(out[1], q[1]);
    EXPECT_EQ(out[3] & 0xF, kRcodeFormErr);
    EXPECT_TRUE(out[2] & 0x80);
  };
  std::vector<uint8_t> q = good;
  q[5] = 0;  // QDCOUNT 0
  expect_formerr(q, "no question");
  q = good;
  q[5] = 2;  // QDCOUNT 2, one present
  expect_formerr(q, "missing second question");
  q = good;
  q[7] = 1;  // ANCOUNT 1
  expect_formerr(q, "answer in a query");
  q = good;
  q.push_back(0);
  expect_formerr(q, "trailing octet");
  q = good;
  q.erase(q.end() - 2, q.end());  // (resize(size() - 2) trips GCC 12's -Wstringop-overflow at -O1)
  expect_formerr(q, "truncated question");
  q = good;
  q[12] = 0x80;  // label type 10
  expect_formerr(q, "bad label type");
  q = good;
  q[11] = 1;  // ARCOUNT 1 and nothing there
  expect_formerr(q, "missing additional record");
  q = QueryBytes("myregistry.azurecr.io", kTypeA, Edns{});
  q[q.size() - 1] = 4;  // OPT RDLENGTH says 4, nothing follows
  expect_formerr(q, "OPT RDLENGTH too long");
  q = QueryBytes("myregistry.azurecr.io", kTypeA, Edns{.options = {{10, {1, 2}}}});
  q[q.size() - 3] = 9;  // option length past the end
  expect_formerr(q, "option overruns OPT");
}

TEST_F(QueryTest, WhatCannotBeAnsweredIsDropped) {
  EXPECT_TRUE(Dropped({}));
  EXPECT_TRUE(Dropped({0x12, 0x34, 0x01}));
  EXPECT_TRUE(Dropped(std::vector<uint8_t>(11, 0)));
  std::vector<uint8_t> response = QueryBytes("myregistry.azurecr.io", kTypeA);
  response[2] |= 0x80;  // QR: a response, never answered (no loops between servers)
  EXPECT_TRUE(Dropped(response));
}

TEST_F(QueryTest, OtherAdditionalRecordsTakeTheFullParser) {
  // An additional record besides OPT (here a TXT; TSIG would look the same) is parsed by the
  // full parser, and the query is answered.
  Message m;
  m.header.id = 9;
  m.questions.push_back({N("myregistry.azurecr.io"), kTypeA, kClassIN});
  m.additional.push_back({N("myregistry.azurecr.io"), kTypeTXT, kClassIN, 0, {1, 'x'}});
  m.edns = Edns{};
  Message r = Raw(Serialize(m, 65535), kLinkedVnet);
  EXPECT_EQ(r.header.rcode, kRcodeNoError);
  EXPECT_EQ(r.answers.size(), 2u);
  EXPECT_TRUE(r.edns);
}

TEST(CatalogTest, RejectsBadSpecs) {
  auto expect_bad = [](CatalogSpec spec, std::string_view needle) {
    auto built = Catalog::Build(spec);
    ASSERT_FALSE(built) << needle;
    EXPECT_NE(built.error().message.find(needle), std::string::npos) << built.error().message;
  };
  CatalogSpec spec = SeedSpec();
  spec.public_zones[0].records.push_back({"myregistry", kTypeA, 60, "192.0.2.1"});
  expect_bad(spec, "CNAME must be alone");
  spec = SeedSpec();
  spec.public_zones[0].records.push_back({"x", kTypeA, 60, "300.1.1.1"});
  expect_bad(spec, "not an IPv4 address");
  spec = SeedSpec();
  spec.public_zones[0].records.push_back({"x.example.com.", kTypeA, 60, "192.0.2.1"});
  expect_bad(spec, "outside the zone");
  spec = SeedSpec();
  spec.views[0].links.push_back({"/no/such/zone", ResolutionPolicy::kDefault});
  expect_bad(spec, "unknown private zone");
  spec = SeedSpec();
  spec.views[0].links.push_back({testing::kZoneId2, ResolutionPolicy::kDefault});
  expect_bad(spec, "two private zones");
  spec = SeedSpec();
  spec.private_zones[1].id = testing::kZoneId1;
  expect_bad(spec, "unique id");
  spec = SeedSpec();
  spec.views.push_back({kLinkedVnet, {}});
  expect_bad(spec, "given twice");
  spec = SeedSpec();
  spec.public_zones[0].records.push_back({"@", kTypeCNAME, 60, "elsewhere.example."});
  expect_bad(spec, "CNAME must be alone");
}

TEST(CatalogTest, StoreSwapsSnapshotsWhileOldOnesStayReadable) {
  CatalogStore store;
  CatalogPtr empty = store.Get();
  std::vector<uint8_t> out;
  std::vector<uint8_t> q = QueryBytes("myregistry.azurecr.io", kTypeA);
  ProcessResult r = Process(q, *empty, empty->view(kLinkedVnet), {}, out);
  EXPECT_EQ(r.rcode, kRcodeRefused);

  store.Set(*Catalog::Build(SeedSpec()));
  CatalogPtr seed = store.Get();
  r = Process(q, *seed, seed->view(kLinkedVnet), {}, out);
  EXPECT_EQ(r.rcode, kRcodeNoError);

  CatalogSpec unlinked = SeedSpec();
  unlinked.views[0].links.clear();
  store.Set(*Catalog::Build(unlinked));
  CatalogPtr now = store.Get();
  r = Process(q, *now, now->view(kLinkedVnet), {}, out);
  auto m = Parse(out);
  ASSERT_TRUE(m);
  EXPECT_EQ(A(m->answers[1]), "203.0.113.10");
  // The snapshot taken before still answers as it did.
  r = Process(q, *seed, seed->view(kLinkedVnet), {}, out);
  m = Parse(out);
  ASSERT_TRUE(m);
  EXPECT_EQ(A(m->answers[1]), "10.0.0.5");
}

}  // namespace
}  // namespace cove::dns

namespace cove::dns {
namespace {

TEST(CatalogJsonTest, ReadsASpecThatAnswers) {
  auto spec = CatalogSpecFromJson(R"({
    "public_zones": [{"name": "cr.example.com", "soa": {"minimum": 30},
                      "records": [{"name": "reg", "type": "CNAME", "ttl": 60,
                                   "value": "reg.privatelink.cr.example.com."}]}],
    "private_zones": [{"id": "z1", "name": "privatelink.cr.example.com",
                       "records": [{"name": "reg", "type": "A", "ttl": 10,
                                    "value": "10.0.0.5"}]}],
    "views": [{"id": "vnet1", "links": [{"zone": "z1", "policy": "NxDomainRedirect"}]}]})");
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_EQ(spec->views.size(), 1u);
  EXPECT_EQ(spec->views[0].links[0].policy, ResolutionPolicy::kNxDomainRedirect);
  EXPECT_EQ(spec->public_zones[0].soa.minimum, 30u);
  auto catalog = Catalog::Build(*spec);
  ASSERT_TRUE(catalog) << catalog.error().message;
  std::vector<uint8_t> out;
  ProcessResult r = Process(QueryBytes("reg.cr.example.com", kTypeA), **catalog,
                            (*catalog)->view("vnet1"), {}, out);
  EXPECT_EQ(r.rcode, kRcodeNoError);
  auto m = Parse(out);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(A(m->answers[1]), "10.0.0.5");

  EXPECT_FALSE(CatalogSpecFromJson("{"));
  EXPECT_FALSE(CatalogSpecFromJson(R"({"public_zones": [{"records": []}]})"));
  EXPECT_FALSE(CatalogSpecFromJson(
      R"({"public_zones": [{"name": "a.b", "records": [{"name": "x", "type": "SRV",
          "value": "1"}]}]})"));
  EXPECT_FALSE(CatalogSpecFromJson(R"({"views": [{"id": "v", "links": [{"zone": "z",
          "policy": "Sometimes"}]}]})"));
}

}  // namespace
}  // namespace cove::dns
