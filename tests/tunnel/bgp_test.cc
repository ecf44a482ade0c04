// BgpSpeaker: the summary parser and configuration anywhere; with root, an ExpressRoute-shaped
// chain CE (on-premises, AS 65010) — PE/MSEE (AS 12076) — VNet gateway (AS 65515) whose learned
// routes carry the traffic.
#include "tunnel/bgp.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/temp_dir.h"
#include "tunnel/test_net.h"

namespace cove::tunnel {
namespace {

using std::chrono::seconds;
using testing::EchoFrom;
using testing::EchoServer;
using testing::TestNet;

TEST(ParseBgpSummaryTest, ReadsEveryPeerOnce) {
  const std::string json = R"({
    "ipv4Unicast": {"routerId": "1.1.1.1", "as": 65010, "peers": {
      "172.16.0.2": {"remoteAs": 12076, "state": "Established", "pfxRcd": 3},
      "172.16.0.9": {"remoteAs": 64512, "state": "Active", "peerState": "OK"}}},
    "ipv6Unicast": {"peers": {"172.16.0.2": {"remoteAs": 12076, "state": "Established"}}}})";
  auto sessions = ParseBgpSummary(json);
  ASSERT_TRUE(sessions) << sessions.error().ToString();
  ASSERT_EQ(sessions->size(), 2u);
  const SessionState* up = nullptr;
  const SessionState* down = nullptr;
  for (const SessionState& s : *sessions) (s.neighbor == "172.16.0.2" ? up : down) = &s;
  ASSERT_TRUE(up && down);
  EXPECT_TRUE(up->established());
  EXPECT_EQ(up->remote_asn, 12076u);
  EXPECT_EQ(up->prefixes_received, 3u);
  EXPECT_FALSE(down->established());
  EXPECT_EQ(down->state, "Active");
  EXPECT_EQ(down->prefixes_received, 0u);
}

TEST(ParseBgpSummaryTest, EmptyAndGarbage) {
  auto none = ParseBgpSummary("{}");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(ParseBgpSummary("% No BGP neighbors found"));
  EXPECT_FALSE(ParseBgpSummary(""));
}

BgpSpec Spec() {
  BgpSpec spec;
  spec.name = "ce";
  spec.netns = "nowhere";
  spec.asn = 65010;
  spec.router_id = "192.168.0.1";
  spec.neighbors = {{"172.16.0.2", 12076, "MSEE primary"}};
  spec.networks = {"192.168.0.0/16"};
  spec.state_dir = "/tmp/cove-bgp-never";
  return spec;
}

TEST(BgpdConfTest, PeersNetworksTimersAndNoPolicyRequirement) {
  BgpSpec spec = Spec();
  spec.keepalive_seconds = 1;
  spec.hold_seconds = 3;
  const std::string conf = BgpdConf(spec);
  for (const char* line :
       {"router bgp 65010\n", " bgp router-id 192.168.0.1\n", " no bgp ebgp-requires-policy\n",
        " timers bgp 1 3\n", " neighbor 172.16.0.2 remote-as 12076\n",
        " neighbor 172.16.0.2 description MSEE primary\n", "  network 192.168.0.0/16\n"}) {
    EXPECT_NE(conf.find(line), std::string::npos) << line << " in\n" << conf;
  }
}

TEST(BgpSpeakerTest, BadSpecsAreRefusedBeforeAnythingRuns) {
  fabric::LinuxNamespaces namespaces;
  auto expect_invalid = [&](const BgpSpec& spec) {
    auto s = BgpSpeaker::Start(namespaces, spec);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::kInvalidArgument) << s.error().ToString();
  };
  BgpSpec spec = Spec();
  spec.asn = 0;
  expect_invalid(spec);
  spec = Spec();
  spec.router_id = "ce";
  expect_invalid(spec);
  spec = Spec();
  spec.neighbors.push_back(spec.neighbors[0]);
  expect_invalid(spec);
  spec = Spec();
  spec.networks = {"192.168.0.0/40"};
  expect_invalid(spec);
  spec = Spec();
  spec.neighbors[0].description = "x\nrouter bgp 1";
  expect_invalid(spec);
  spec = Spec();
  spec.hold_seconds = 2;
  expect_invalid(spec);
}

// CE 172.16.0.1/30 — 172.16.0.2/30 PE 172.16.0.5/30 — 172.16.0.6/30 GW; the site's LAN is
// 192.168.0.0/16 (192.168.0.1 on CE), the VNet 10.0.0.0/16 (10.0.0.1 on GW).
class BgpPeeringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    ::chmod(dir_.path().c_str(), 0755);  // FRR's daemons run as frr and must reach their dirs
    ce_ = net_.Add("ce");
    pe_ = net_.Add("pe");
    gw_ = net_.Add("gw");
    ASSERT_FALSE(ce_.empty() || pe_.empty() || gw_.empty());
    net_.Link(ce_, "to-pe", "172.16.0.1/30", pe_, "to-ce", "172.16.0.2/30");
    net_.Link(pe_, "to-gw", "172.16.0.5/30", gw_, "to-pe", "172.16.0.6/30");
    net_.Forwarding(pe_);
    net_.LoopbackAddress(ce_, "192.168.0.1");
    net_.LoopbackAddress(gw_, "10.0.0.1");
  }

  BgpSpec Speaker(const std::string& name, const std::string& ns, uint32_t asn,
                  const std::string& router_id, std::vector<BgpNeighbor> neighbors,
                  std::vector<std::string> networks) {
    BgpSpec spec;
    spec.name = name;
    spec.netns = ns;
    spec.asn = asn;
    spec.router_id = router_id;
    spec.neighbors = std::move(neighbors);
    spec.networks = std::move(networks);
    spec.state_dir = dir_.Join(name);
    spec.keepalive_seconds = 1;
    spec.hold_seconds = 3;
    spec.connect_retry_seconds = 1;
    return spec;
  }
  std::unique_ptr<BgpSpeaker> StartOk(const BgpSpec& spec) {
    auto s = BgpSpeaker::Start(namespaces_, spec);
    EXPECT_TRUE(s) << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  }
  // Starts GW (expecting `gw_sees_pe_as` for PE), PE and CE.
  void StartAll(uint32_t gw_sees_pe_as = 12076) {
    gw_speaker_ = StartOk(Speaker("gw", gw_, 65515, "10.0.0.1", {{"172.16.0.5", gw_sees_pe_as, ""}},
                                  {"10.0.0.0/16"}));
    pe_speaker_ =
        StartOk(Speaker("pe", pe_, 12076, "172.16.0.2",
                        {{"172.16.0.1", 65010, "site"}, {"172.16.0.6", 65515, "vnet"}}, {}));
    ce_speaker_ = StartOk(Speaker("ce", ce_, 65010, "192.168.0.1", {{"172.16.0.2", 12076, "MSEE"}},
                                  {"192.168.0.0/16"}));
    ASSERT_TRUE(gw_speaker_ && pe_speaker_ && ce_speaker_);
  }
  // The namespace's kernel routes that zebra installed from BGP.
  std::string BgpRoutes(const std::string& ns) {
    return net_.Run(ns, {"ip", "route", "show", "proto", "bgp"});
  }
  bool WaitRoute(const std::string& ns, const std::string& prefix, bool present) {
    return WaitUntil(
        [&] { return (BgpRoutes(ns).find(prefix + " ") != std::string::npos) == present; },
        seconds(15));
  }
  std::string Logs() {
    std::string out;
    for (const char* n : {"ce", "pe", "gw"}) {
      out += std::string("\n") + n + " bgpd.log:\n" +
             FileTail(dir_.Join(std::string(n) + "/bgpd.log"), 1500);
    }
    return out;
  }

  fabric::LinuxNamespaces namespaces_;
  cove::testing::TempDir dir_;
  TestNet net_{namespaces_};  // outlives the speakers below
  std::string ce_, pe_, gw_;
  std::unique_ptr<BgpSpeaker> gw_speaker_, pe_speaker_, ce_speaker_;
};

TEST_F(BgpPeeringTest, LearnedRoutesCarryTrafficAndGoWithTheSession) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  ASSERT_TRUE(ce_speaker_->WaitEstablished("172.16.0.2", seconds(20))) << Logs();
  ASSERT_TRUE(gw_speaker_->WaitEstablished("172.16.0.5", seconds(20))) << Logs();
  ASSERT_TRUE(WaitRoute(gw_, "192.168.0.0/16", true)) << BgpRoutes(gw_) << Logs();
  ASSERT_TRUE(WaitRoute(ce_, "10.0.0.0/16", true)) << BgpRoutes(ce_) << Logs();
  EXPECT_NE(BgpRoutes(gw_).find("192.168.0.0/16 nhid"), std::string::npos);
  EXPECT_NE(BgpRoutes(gw_).find("via 172.16.0.5"), std::string::npos) << BgpRoutes(gw_);

  auto sessions = ce_speaker_->Sessions();
  ASSERT_TRUE(sessions) << sessions.error().ToString();
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ((*sessions)[0].remote_asn, 12076u);
  EXPECT_EQ((*sessions)[0].prefixes_received, 1u);

  {
    EchoServer echo(namespaces_, gw_, "10.0.0.1");
    auto got = EchoFrom(namespaces_, ce_, "192.168.0.1", "10.0.0.1", echo.port(), "over bgp");
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_EQ(*got, "over bgp");
  }

  // The site's router goes away: its prefix leaves the VNet side within the hold time.
  ASSERT_TRUE(ce_speaker_->Stop());
  EXPECT_TRUE(WaitRoute(gw_, "192.168.0.0/16", false)) << BgpRoutes(gw_);
  EXPECT_TRUE(pe_speaker_->WaitEstablished("172.16.0.1", seconds(10), false));
  EXPECT_EQ(BgpRoutes(ce_), "") << "zebra leaves no routes behind when it stops";
  EXPECT_FALSE(ce_speaker_->Sessions());
}

TEST_F(BgpPeeringTest, RemovingThePeeringWithdrawsTheRoutes) {
  ASSERT_NO_FATAL_FAILURE(StartAll());
  ASSERT_TRUE(WaitRoute(gw_, "192.168.0.0/16", true)) << Logs();
  ASSERT_TRUE(WaitRoute(ce_, "10.0.0.0/16", true)) << Logs();
  ASSERT_TRUE(pe_speaker_->RemoveNeighbor("172.16.0.1"));
  EXPECT_TRUE(WaitRoute(gw_, "192.168.0.0/16", false)) << BgpRoutes(gw_);
  EXPECT_TRUE(WaitRoute(ce_, "10.0.0.0/16", false)) << BgpRoutes(ce_);
  EchoServer echo(namespaces_, gw_, "10.0.0.1");
  EXPECT_FALSE(EchoFrom(namespaces_, ce_, "192.168.0.1", "10.0.0.1", echo.port(), "x", 1000));
  echo.Close();
  EXPECT_EQ(pe_speaker_->RemoveNeighbor("172.16.0.1").error().code, Code::kNotFound);
}

TEST_F(BgpPeeringTest, MismatchedRemoteAsnNeverEstablishes) {
  ASSERT_NO_FATAL_FAILURE(StartAll(/*gw_sees_pe_as=*/12077));
  // The site side comes up, so the speakers work; the gateway's side never does.
  ASSERT_TRUE(ce_speaker_->WaitEstablished("172.16.0.2", seconds(20))) << Logs();
  EXPECT_FALSE(gw_speaker_->WaitEstablished("172.16.0.5", seconds(5))) << Logs();
  EXPECT_FALSE(pe_speaker_->WaitEstablished("172.16.0.6", seconds(1)));
  EXPECT_EQ(BgpRoutes(gw_), "");
}

}  // namespace
}  // namespace cove::tunnel
