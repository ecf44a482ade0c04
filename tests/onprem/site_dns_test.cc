// The site's DNS server as real software: the rendered configurations (checked by BIND's and
// unbound's own checkers), and — as root, in namespaces the test creates — BIND 9 and unbound
// forwarding to cove's DNS server answering as a DNS Private Resolver inbound endpoint
// (10.0.2.4, the VNet's view: the private zone privatelink.azurecr.io linked), asked with dig
// from the site. The classic mistakes are tests too: forwarding only privatelink.azurecr.io, and
// forwarding to 168.63.129.16 from outside Azure.
#include "onprem/site_dns.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "dns/catalog.h"
#include "dns/dns_clients.h"
#include "dns/server.h"
#include "fabric/namespaces.h"

namespace cove::onprem {
namespace {

using dns::testing::CommandResult;
using dns::testing::Contains;
using dns::testing::RunCommand;

constexpr char kSiteDns[] = "192.168.1.53";
constexpr char kInbound[] = "10.0.2.4";

// A fresh directory under /tmp, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/cove-onprem-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

SiteDnsSpec Spec(SiteDnsSpec::Software software, std::string state_dir,
                 std::vector<SiteDnsSpec::Forward> forwards) {
  SiteDnsSpec spec;
  spec.software = software;
  spec.netns = "site";
  spec.listen_address = kSiteDns;
  spec.allow_from = {"192.168.0.0/16"};
  spec.forwards = std::move(forwards);
  spec.state_dir = std::move(state_dir);
  return spec;
}

// ---- the configurations (no root needed)

TEST(SiteDnsConfig, BindForwardsTheZoneOnlyToTheInboundEndpoint) {
  std::string conf =
      RenderBindConfig(Spec(SiteDnsSpec::kBind, "/var/lib/site-dns", {{"azurecr.io", {kInbound}}}));
  for (const char* line :
       {"listen-on port 53 { 192.168.1.53; };", "recursion yes;",
        "allow-query { 127.0.0.0/8; ::1/128; 192.168.0.0/16; };",
        "allow-recursion { 127.0.0.0/8; ::1/128; 192.168.0.0/16; };", "dnssec-validation no;",
        "zone \"azurecr.io\" {", "type forward;", "forward only;", "forwarders { 10.0.2.4; };",
        "pid-file \"/var/lib/site-dns/named.pid\";"}) {
    EXPECT_TRUE(Contains(conf, line)) << line << "\n" << conf;
  }
  // No global forwarders: everything else is resolved from the root.
  EXPECT_EQ(conf.find("forwarders {"), conf.find("forwarders { 10.0.2.4; };"));
}

TEST(SiteDnsConfig, UnboundForwardsTheZoneOnlyToTheInboundEndpoint) {
  std::string conf = RenderUnboundConfig(
      Spec(SiteDnsSpec::kUnbound, "/var/lib/site-dns", {{"azurecr.io", {kInbound}}}));
  for (const char* line :
       {"interface: 192.168.1.53", "port: 53", "access-control: 192.168.0.0/16 allow",
        "access-control: 0.0.0.0/0 refuse", "domain-insecure: \"azurecr.io.\"",
        "forward-zone:", "name: \"azurecr.io.\"", "forward-addr: 10.0.2.4", "forward-first: no",
        "pidfile: \"/var/lib/site-dns/unbound.pid\""}) {
    EXPECT_TRUE(Contains(conf, line)) << line << "\n" << conf;
  }
  EXPECT_FALSE(Contains(conf, "do-not-query-localhost"));
  conf = RenderUnboundConfig(
      Spec(SiteDnsSpec::kUnbound, "/var/lib/site-dns", {{"azurecr.io", {"127.0.0.1"}}}));
  EXPECT_TRUE(Contains(conf, "do-not-query-localhost: no"));
}

TEST(SiteDnsConfig, BadSpecsAreRefusedBeforeAnythingIsWritten) {
  auto valid = [](SiteDnsSpec spec) { return ValidateSiteDnsSpec(spec).has_value(); };
  SiteDnsSpec good = Spec(SiteDnsSpec::kBind, "/tmp/x", {{"azurecr.io.", {kInbound}}});
  EXPECT_TRUE(valid(good));
  SiteDnsSpec s = good;
  s.forwards[0].zone = "azurecr.io\"; }; include \"/etc/shadow";
  EXPECT_FALSE(valid(s));
  s = good;
  s.forwards[0].zone = "a..b";
  EXPECT_FALSE(valid(s));
  s = good;
  s.forwards[0].targets = {"10.0.2.4; 8.8.8.8"};
  EXPECT_FALSE(valid(s));
  s = good;
  s.forwards[0].targets = {};
  EXPECT_FALSE(valid(s));
  s = good;
  s.listen_address = "site-dns";
  EXPECT_FALSE(valid(s));
  s = good;
  s.allow_from = {"192.168.0.0/33"};
  EXPECT_FALSE(valid(s));
  s = good;
  s.state_dir = "relative/dir";
  EXPECT_FALSE(valid(s));
  s = good;
  s.local_zones = {{"corp.example", {{"host", "A", "not-an-address", 300}}}};
  EXPECT_FALSE(valid(s));
  s.local_zones = {{"corp.example", {{"host", "MX", "10 mail", 300}}}};
  EXPECT_FALSE(valid(s));
  s.local_zones = {{"AzureCR.io.", {}}};  // the forwarded zone again
  EXPECT_FALSE(valid(s));
  s.local_zones = {{"corp.example", {}}, {"corp.example", {}}};
  EXPECT_FALSE(valid(s));
  s.local_zones = {
      {"corp.example", {{"host", "A", "192.168.1.10", 300}, {"www", "CNAME", "host", 300}}}};
  EXPECT_TRUE(valid(s));
}

// The rendered files pass the programs' own checkers (run on the files; nothing is started).
TEST(SiteDnsConfig, TheCheckersAcceptTheRenderedFiles) {
  TempDir dir;
  for (bool validation : {false, true}) {
    SiteDnsSpec spec =
        Spec(SiteDnsSpec::kBind, dir.path(),
             {{"azurecr.io", {kInbound, "10.0.2.5"}}, {"corp.example", {"fd00::53"}}});
    spec.local_zones = {{"site.example",
                         {{"@", "A", "192.168.1.1", 300},
                          {"host", "A", "192.168.1.10", 60},
                          {"www", "CNAME", "host", 60}}}};
    spec.dnssec_validation = validation;
    std::filesystem::copy_file("/usr/share/dns/root.key", dir.path() + "/root.key",
                               std::filesystem::copy_options::overwrite_existing);
    std::string named = dir.path() + "/named.conf";
    {
      std::ofstream(named) << RenderBindConfig(spec);
      std::ofstream(dir.path() + "/site.example.zone") << RenderZoneFile(spec.local_zones[0]);
    }
    CommandResult bind = RunCommand({"named-checkconf", "-z", named});
    EXPECT_EQ(bind.exit_code, 0) << bind.output << RenderBindConfig(spec);
    std::string unbound = dir.path() + "/unbound.conf";
    std::ofstream(unbound) << RenderUnboundConfig(spec);
    CommandResult u = RunCommand({"unbound-checkconf", unbound});
    EXPECT_EQ(u.exit_code, 0) << u.output << RenderUnboundConfig(spec);
  }
}

// ---- the real servers, in namespaces

// Two namespaces joined by a veth pair: the site (its DNS server at 192.168.1.53) and the VNet
// side (cove's DNS server at the inbound endpoint 10.0.2.4, answering with the VNet's view), with
// a route each way standing for the VPN or ExpressRoute. Nothing else: no internet, no root
// servers, no 168.63.129.16.
class SiteDnsTest : public ::testing::TestWithParam<SiteDnsSpec::Software> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    // Namespace names are at most 15 characters.
    std::string prefix = "cvd-" + std::to_string(::getpid()) + "-";
    site_ = prefix + "s";
    vnet_ = prefix + "v";
    ASSERT_TRUE(namespaces_.Create(site_));
    ASSERT_TRUE(namespaces_.Create(vnet_));
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {"ip", "-n", site_, "link", "add", "lan0", "type", "veth", "peer", "name", "wan0",
              "netns", vnet_},
             {"ip", "-n", site_, "addr", "add", "192.168.1.53/24", "dev", "lan0"},
             {"ip", "-n", site_, "link", "set", "lan0", "up"},
             {"ip", "-n", site_, "link", "set", "lo", "up"},
             {"ip", "-n", site_, "route", "add", "10.0.2.0/24", "dev", "lan0"},
             {"ip", "-n", vnet_, "addr", "add", "10.0.2.4/24", "dev", "wan0"},
             {"ip", "-n", vnet_, "link", "set", "wan0", "up"},
             {"ip", "-n", vnet_, "link", "set", "lo", "up"},
             {"ip", "-n", vnet_, "route", "add", "192.168.1.0/24", "dev", "wan0"}}) {
      CommandResult r = RunCommand(argv);
      ASSERT_EQ(r.exit_code, 0) << argv[3] << ": " << r.output;
    }
    StartInboundEndpoint();
  }

  void TearDown() override {
    site_dns_.reset();  // stops the process by its PID
    if (inbound_) inbound_->Stop();
    for (const std::string& ns : {site_, vnet_}) {
      if (!ns.empty()) (void)namespaces_.Delete(ns);  // its veth end goes with it
    }
  }

  // cove's DNS server (part of issue 14's DNS Private Resolver): the seed's public chain and the
  // private zone linked to the VNet, answering in the VNet's view at 10.0.2.4:53.
  void StartInboundEndpoint() {
    dns::CatalogSpec spec;
    dns::ZoneSpec pub{.id = "", .name = "azurecr.io", .soa = {}, .records = {}};
    pub.records = {{"myregistry", dns::kTypeCNAME, 60, "myregistry.privatelink.azurecr.io."}};
    dns::ZoneSpec pub_link{.id = "", .name = "privatelink.azurecr.io", .soa = {}, .records = {}};
    pub_link.records = {{"myregistry", dns::kTypeA, 60, "203.0.113.10"}};
    dns::ZoneSpec priv{.id = "zone", .name = "privatelink.azurecr.io", .soa = {}, .records = {}};
    priv.records = {{"myregistry", dns::kTypeA, 10, "10.0.0.5"}};
    spec.public_zones = {pub, pub_link};
    spec.private_zones = {priv};
    spec.views = {{.id = "vnet", .links = {{"zone", dns::ResolutionPolicy::kDefault}}}};
    auto catalog = dns::Catalog::Build(spec);
    ASSERT_TRUE(catalog) << catalog.error().message;
    catalog_.Set(*catalog);
    inbound_ = std::make_unique<dns::Server>(catalog_);
    auto udp = fabric::BindUdp(namespaces_, vnet_, kInbound, 53);
    auto tcp = fabric::ListenTcp(namespaces_, vnet_, kInbound, 53);
    ASSERT_TRUE(udp && tcp);
    ASSERT_TRUE(inbound_->AddUdpSocket(std::move(*udp), "vnet"));
    ASSERT_TRUE(inbound_->AddTcpSocket(std::move(*tcp), "vnet"));
    inbound_->Start();
  }

  void StartSiteDns(std::vector<SiteDnsSpec::Forward> forwards,
                    std::vector<SiteDnsSpec::LocalZone> local_zones = {}) {
    SiteDnsSpec spec = Spec(GetParam(), state_.path(), std::move(forwards));
    spec.netns = site_;
    spec.local_zones = std::move(local_zones);
    auto server = SiteDnsServer::Start(spec, namespaces_);
    ASSERT_TRUE(server) << server.error().message;
    site_dns_ = std::move(*server);
  }

  // dig on a host of the site, asking the site's DNS server.
  CommandResult Dig(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"ip", "netns", "exec",    site_,     "dig", "@192.168.1.53",
                                     name, "A",     "+time=4", "+tries=1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  fabric::LinuxNamespaces namespaces_;
  std::string site_, vnet_;
  dns::CatalogStore catalog_;
  std::unique_ptr<dns::Server> inbound_;
  TempDir state_;
  std::unique_ptr<SiteDnsServer> site_dns_;
};

TEST_P(SiteDnsTest, ForwardingAzurecrIoGivesTheCnameChainAndThePrivateAddress) {
  StartSiteDns({{"azurecr.io", {kInbound}}});
  CommandResult r = Dig("myregistry.azurecr.io");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(Contains(r.output, "status: NOERROR")) << r.output;
  EXPECT_TRUE(Contains(r.output, "CNAME\tmyregistry.privatelink.azurecr.io.")) << r.output;
  EXPECT_TRUE(Contains(r.output, "A\t10.0.0.5")) << r.output;
  CommandResult short_form = Dig("myregistry.azurecr.io", {"+short"});
  EXPECT_EQ(short_form.output, "myregistry.privatelink.azurecr.io.\n10.0.0.5\n");
  // The inbound endpoint saw the site's questions in the VNet's view.
  EXPECT_GE(inbound_->Counters("vnet").queries, 1u);
}

TEST_P(SiteDnsTest, MistakeForwardingOnlyPrivatelinkLeavesTheRegistryNameToThePublicDns) {
  // The classic mistake: only privatelink.azurecr.io is forwarded. myregistry.azurecr.io is
  // then resolved publicly, from the root servers. On a real site the public azurecr.io servers
  // answer the whole chain down to the registry's public address, and the client connects
  // there (with public access disabled: ACR's DENIED). This site has no internet, so the
  // public resolution fails (SERVFAIL); what matters is that 10.0.0.5 does not come back.
  StartSiteDns({{"privatelink.azurecr.io", {kInbound}}});
  CommandResult r = Dig("myregistry.azurecr.io");
  EXPECT_FALSE(Contains(r.output, "10.0.0.5")) << r.output;
  EXPECT_FALSE(Contains(r.output, "status: NOERROR")) << r.output;
  // The forwarded zone itself works, which is why the mistake goes unnoticed when testing with
  // the privatelink name.
  EXPECT_EQ(Dig("myregistry.privatelink.azurecr.io", {"+short"}).output, "10.0.0.5\n");
}

TEST_P(SiteDnsTest, MistakeForwardingTo168_63_129_16FromOutsideAzure) {
  // 168.63.129.16 answers only inside Azure (from a VNet's hosts); from the site it is not
  // reachable at all (here: no route; on a real site: no answer, then timeouts).
  StartSiteDns({{"azurecr.io", {"168.63.129.16"}}});
  CommandResult r = Dig("myregistry.azurecr.io");
  EXPECT_TRUE(Contains(r.output, "status: SERVFAIL")) << r.output;
  EXPECT_FALSE(Contains(r.output, "10.0.0.5")) << r.output;
  EXPECT_EQ(inbound_->Counters("vnet").queries, 0u);
}

TEST_P(SiteDnsTest, TheSitesOwnZoneIsAnsweredLocally) {
  StartSiteDns(
      {{"azurecr.io", {kInbound}}},
      {{"corp.example", {{"host", "A", "192.168.1.10", 60}, {"www", "CNAME", "host", 60}}}});
  EXPECT_EQ(Dig("www.corp.example", {"+short"}).output, "host.corp.example.\n192.168.1.10\n");
}

TEST_P(SiteDnsTest, StopEndsTheProcess) {
  StartSiteDns({{"azurecr.io", {kInbound}}});
  pid_t pid = site_dns_->pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_TRUE(site_dns_->Stop());
  EXPECT_NE(::kill(pid, 0), 0);  // gone and reaped
  EXPECT_TRUE(site_dns_->Stop());
  EXPECT_NE(Dig("myregistry.azurecr.io").exit_code, 0);
}

TEST_P(SiteDnsTest, ACheckerRefusalIsReportedWithItsOutput) {
  // A CNAME at the zone's apex, beside its SOA and NS: cove's validation does not look at how
  // records combine, BIND's checker refuses it ("CNAME and other data").
  if (GetParam() == SiteDnsSpec::kUnbound) {
    GTEST_SKIP() << "unbound-checkconf accepts a CNAME at the apex";
  }
  SiteDnsSpec spec = Spec(GetParam(), state_.path(), {{"azurecr.io", {kInbound}}});
  spec.local_zones = {{"corp.example", {{"@", "CNAME", "host", 60}}}};
  spec.netns = site_;
  auto server = SiteDnsServer::Start(spec, namespaces_);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, Code::kInvalidArgument);
  EXPECT_TRUE(Contains(server.error().message, "named-checkconf refused"))
      << server.error().message;
  EXPECT_TRUE(Contains(server.error().message, "CNAME and other data")) << server.error().message;
}

TEST_P(SiteDnsTest, AMissingNamespaceIsNotFound) {
  SiteDnsSpec spec = Spec(GetParam(), state_.path(), {{"azurecr.io", {kInbound}}});
  spec.netns = "cvd-" + std::to_string(::getpid()) + "-x";
  auto server = SiteDnsServer::Start(spec, namespaces_);
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code, Code::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(BindAndUnbound, SiteDnsTest,
                         ::testing::Values(SiteDnsSpec::kBind, SiteDnsSpec::kUnbound),
                         [](const auto& info) {
                           return info.param == SiteDnsSpec::kBind ? "Bind" : "Unbound";
                         });

}  // namespace
}  // namespace cove::onprem
