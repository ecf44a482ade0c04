// The planes' pure translations: a control-plane snapshot of the seed's deployment → fabric
// topology (validates), DNS catalog (builds, answers per view) and access policy; and, as root,
// Planes itself keeping DNS sockets per VNet namespace (closed when the VNet goes).
#include "daemon/planes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "arm/control_plane.h"
#include "arm/resource_path.h"
#include "auth/keys.h"
#include "auth/network.h"
#include "daemon/identities.h"
#include "dns/wire.h"
#include "daemon/control_plane_fixture.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {


class PlanesTest : public ControlPlaneTest {
 protected:
  void Seed(bool manual = false) {
    Put(kRg, {{"location", "westus"}});
    Put(kAcr + "/registries/myregistry",
        {{"location", "westus"},
         {"sku", {{"name", "Premium"}}},
         {"properties", {{"dataEndpointEnabled", true}, {"publicNetworkAccess", "Disabled"}}}});
    for (const char* v : {"myvnet", "other"}) {
      Put(kNet + "/virtualNetworks/" + v, nlohmann::json::parse(R"({"location": "westus",
          "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
          "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})"));
    }
    std::string zone = kNet + "/privateDnsZones/privatelink.azurecr.io";
    Put(zone, {{"location", "global"}});
    Put(zone + "/virtualNetworkLinks/l",
        {{"location", "global"},
         {"properties", {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/myvnet"}}}}}});
    Put(kNet + "/privateEndpoints/pe",
        {{"location", "westus"},
         {"properties",
          {{"subnet", {{"id", kNet + "/virtualNetworks/myvnet/subnets/s"}}},
           {manual ? "manualPrivateLinkServiceConnections" : "privateLinkServiceConnections",
            {{{"name", "c"},
              {"properties",
               {{"privateLinkServiceId", kAcr + "/registries/myregistry"},
                {"groupIds", {"registry"}}}}}}}}}});
    Put(kNet + "/privateEndpoints/pe/privateDnsZoneGroups/default",
        {{"properties",
          {{"privateDnsZoneConfigs", {{{"name", "z"}, {"properties", {{"privateDnsZoneId", zone}}}}}}}}});
  }
};

// AKS nodes (issue 16) are private machines in their pool's subnet: the fabric places them
// there and IMDS serves them the kubelet identity.
TEST_F(PlanesTest, ClusterNodesArePrivateMachinesWithTheKubeletIdentity) {
  Seed();
  auto made = cp_->Handle(
      {"PUT", kRg + "/providers/Microsoft.ContainerService/managedClusters/aks1", "2024-05-01",
       nlohmann::json{{"location", "westus"},
                      {"properties",
                       {{"agentPoolProfiles",
                         {{{"name", "nodepool1"},
                           {"count", 2},
                           {"mode", "System"},
                           {"vnetSubnetID", kNet + "/virtualNetworks/myvnet/subnets/s"}}}}}}}
           .dump(),
       "", ""});
  ASSERT_EQ(made.status, 201) << made.body->dump();
  const auto& kubelet = (*made.body)["properties"]["identityProfile"]["kubeletidentity"];
  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->clusters.size(), 1u);
  auto machines = MachinesOf(*snap);
  ASSERT_EQ(machines.size(), 2u);
  for (const auto& node : snap->clusters[0].pools[0].nodes) {
    const imds::Machine& m = machines.at(imds::TagOf(node.machine_id));
    EXPECT_EQ(m.name, node.name);
    EXPECT_EQ(m.type, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines");
    EXPECT_EQ(m.resource_group, "MC_rg_aks1_westus");
    EXPECT_TRUE(m.private_ip.rfind("10.0.0.", 0) == 0) << m.private_ip;
    ASSERT_EQ(m.user_assigned.size(), 1u);
    EXPECT_EQ(m.user_assigned[0].client_id, kubelet["clientId"]);
    EXPECT_EQ(m.user_assigned[0].principal_id, kubelet["objectId"]);
  }
  fabric::Topology t = BuildTopology(*snap, "");
  ASSERT_TRUE(fabric::Validate(t)) << fabric::Validate(t).error().message;
  ASSERT_EQ(t.vms.size(), 2u);
  for (const auto& vm : t.vms) {
    EXPECT_EQ(arm::Lower(vm.subnet_id), arm::Lower(kNet + "/virtualNetworks/myvnet/subnets/s"));
  }
}

TEST_F(PlanesTest, TopologyHoldsEndpointAddressesAndPublicNetwork) {
  Seed();
  auto snap = cp_->snapshot();
  fabric::Topology t = BuildTopology(*snap, "");
  ASSERT_TRUE(fabric::Validate(t)) << fabric::Validate(t).error().message;
  ASSERT_EQ(t.networks.size(), 3u);
  const fabric::Network* pub = t.FindNetwork(kPublicNetworkId);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(pub->dns_address, kPublicDnsAddress);
  auto addresses = PublicAddresses(*snap);
  ASSERT_EQ(addresses.size(), 1u);
  EXPECT_EQ(pub->subnets[0].local_addresses, std::vector<std::string>{addresses["myregistry"]});
  const auto& pe = snap->private_endpoints.at(0);
  const fabric::Network* vnet = t.FindNetwork(pe.vnet_id);
  ASSERT_NE(vnet, nullptr);
  EXPECT_EQ(vnet->subnets[0].local_addresses.size(), 2u);  // registry + data member
  EXPECT_FALSE(vnet->outbound_address.empty());
  // Stable: the same snapshot gives the same addresses.
  EXPECT_EQ(BuildTopology(*snap, "").networks[0].outbound_address, t.networks[0].outbound_address);
}

TEST_F(PlanesTest, CatalogGivesLinkedVnetPrivateAndOthersPublic) {
  Seed();
  auto snap = cp_->snapshot();
  auto spec = BuildCatalog(*snap);
  auto catalog = dns::Catalog::Build(spec);
  ASSERT_TRUE(catalog) << catalog.error().message;
  ASSERT_EQ(spec.views.size(), 2u);
  size_t linked = 0;
  for (const auto& v : spec.views) linked += v.links.size();
  EXPECT_EQ(linked, 1u);
  ASSERT_EQ(spec.public_zones.size(), 2u);
  EXPECT_EQ(spec.public_zones[0].records.size(), 2u);  // login server + westus data host CNAMEs
  EXPECT_EQ(spec.public_zones[1].records[0].value, PublicAddresses(*snap)["myregistry"]);
  ASSERT_EQ(spec.private_zones.size(), 1u);
  EXPECT_EQ(spec.private_zones[0].records.size(), 2u);
}

// Past the 43 addresses of 203.0.113.10..52 the registries take .54..254 (never .53, the
// public DNS server), each its own, and the catalog still builds.
TEST_F(PlanesTest, PublicAddressesForMoreThan43Registries) {
  Put(kRg, {{"location", "westus"}});
  for (int i = 0; i < 60; ++i) {
    Put(kAcr + "/registries/manyreg" + std::to_string(i),
        {{"location", "westus"}, {"sku", {{"name", "Basic"}}}});
  }
  auto snap = cp_->snapshot();
  auto addresses = PublicAddresses(*snap);
  ASSERT_EQ(addresses.size(), 60u);
  std::set<std::string> distinct;
  for (const auto& [name, ip] : addresses) {
    EXPECT_TRUE(ip.rfind("203.0.113.", 0) == 0) << ip;
    EXPECT_NE(ip, kPublicDnsAddress);
    distinct.insert(ip);
  }
  EXPECT_EQ(distinct.size(), 60u);
  auto catalog = dns::Catalog::Build(BuildCatalog(*snap));
  EXPECT_TRUE(catalog) << catalog.error().message;
  fabric::Topology t = BuildTopology(*snap, "");
  EXPECT_TRUE(fabric::Validate(t)) << fabric::Validate(t).error().message;
}

TEST_F(PlanesTest, PolicyCarriesRulesAndConnectionStates) {
  Seed(/*manual=*/true);
  auto snap = cp_->snapshot();
  access::Policy p = BuildPolicy(*snap);
  ASSERT_EQ(p.registries.count("myregistry"), 1u);
  EXPECT_FALSE(p.registries["myregistry"].public_network_access);
  const auto& pe = snap->private_endpoints.at(0);
  ASSERT_EQ(p.links.count(pe.link_id), 1u);
  EXPECT_EQ(p.links[pe.link_id].status, "Pending");
  EXPECT_FALSE(access::Decide(p, "myregistry", {pe.link_id, "10.0.0.4"}).allowed());
  EXPECT_FALSE(access::Decide(p, "myregistry", {std::nullopt, "198.51.100.7"}).allowed());
}

}  // namespace
}  // namespace cove::daemon

namespace cove::daemon {
namespace {

// The VM contract: user NIC (Dynamic takes the lowest free address), VM referencing it, public
// VM with a TEST-NET address; both land in the topology, registration links add A records.
TEST_F(PlanesTest, VmsFromNicsAndPublicVms) {
  Seed();
  Put(kNet + "/privateDnsZones/corp.internal", {{"location", "global"}});
  Put(kNet + "/privateDnsZones/corp.internal/virtualNetworkLinks/reg",
      {{"location", "global"},
       {"properties",
        {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/myvnet"}}},
         {"registrationEnabled", true}}}});
  Put(kNet + "/networkInterfaces/vm1VMNic", nlohmann::json::parse(R"({"location": "westus",
      "properties": {"ipConfigurations": [{"name": "ipconfigvm1", "properties": {
      "subnet": {"id": ")" + kNet + R"(/virtualNetworks/myvnet/subnets/s"},
      "privateIPAllocationMethod": "Dynamic"}}]}})"));
  const std::string vms = kRg + "/providers/Microsoft.Compute/virtualMachines/";
  Put(vms + "vm1", {{"location", "westus"},
                    {"properties",
                     {{"networkProfile",
                       {{"networkInterfaces", {{{"id", kNet + "/networkInterfaces/vm1VMNic"}}}}}}}}});
  Put(vms + "pub", {{"location", "westus"},
                    {"identity", {{"type", "SystemAssigned"}}},
                    {"properties", {{"cove", {{"network", "public"}}}}}});
  auto vm1 = cp_->Handle({"GET", vms + "vm1", "2023-09-01", "", "", ""});
  ASSERT_EQ(vm1.status, 200);
  // 10.0.0.4 and .5 are the endpoint's; the NIC takes the next free one.
  std::string ip = (*vm1.body)["properties"]["cove"]["privateIpAddress"];
  EXPECT_TRUE(ip.rfind("10.0.0.", 0) == 0) << ip;
  EXPECT_FALSE(vm1.body->contains("_cove"));
  auto pub = cp_->Handle({"GET", vms + "pub", "2023-09-01", "", "", ""});
  EXPECT_EQ((*pub.body)["properties"]["cove"]["publicIpAddress"], "198.51.100.2");

  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->machines.size(), 2u);
  // Each machine's instance metadata: where it is, and the public VM's system-assigned identity.
  auto machines = MachinesOf(*snap);
  ASSERT_EQ(machines.size(), 2u);
  const imds::Machine& m1 = machines.at(imds::TagOf(vms + "vm1"));
  EXPECT_EQ(m1.name, "vm1");
  EXPECT_EQ(m1.type, "Microsoft.Compute/virtualMachines");
  EXPECT_EQ(m1.private_ip, ip);
  EXPECT_EQ(m1.resource_group, "rg");
  EXPECT_EQ(m1.subscription_id, "c0ffee00-0000-4000-8000-000000000001");
  EXPECT_FALSE(m1.system_assigned);
  const imds::Machine& mp = machines.at(imds::TagOf(vms + "pub"));
  EXPECT_EQ(mp.public_ip, "198.51.100.2");
  ASSERT_TRUE(mp.system_assigned);
  EXPECT_EQ(mp.system_assigned->principal_id, (*pub.body)["identity"]["principalId"]);
  EXPECT_EQ(mp.system_assigned->resource_id, (*pub.body)["id"]);
  fabric::Topology t = BuildTopology(*snap, "");
  ASSERT_TRUE(fabric::Validate(t)) << fabric::Validate(t).error().message;
  ASSERT_EQ(t.vms.size(), 2u);
  auto spec = BuildCatalog(*snap);
  bool registered = false;
  for (const auto& z : spec.private_zones) {
    for (const auto& r : z.records) registered = registered || (z.name == "corp.internal" && r.name == "vm1" && r.value == ip);
  }
  EXPECT_TRUE(registered);
  ASSERT_TRUE(dns::Catalog::Build(spec));
  // The NIC is in use while the VM exists.
  EXPECT_EQ(cp_->Handle({"DELETE", kNet + "/networkInterfaces/vm1VMNic", "2023-09-01", "", "", ""}).status, 400);
  EXPECT_EQ(cp_->Handle({"DELETE", vms + "vm1", "2023-09-01", "", "", ""}).status, 200);
  EXPECT_EQ(cp_->Handle({"DELETE", kNet + "/networkInterfaces/vm1VMNic", "2023-09-01", "", "", ""}).status, 200);
}

}  // namespace
}  // namespace cove::daemon

// ---- Planes itself, as root: the DNS sockets follow the VNets.

namespace cove::daemon {
namespace {

// An inner handler for the gate: no registry behind it (these tests make none).
class NotFound final : public http::Handler {
 public:
  http::ExchangePtr Start(http::Request) override {
    http::Response r;
    r.status = 404;
    return http::Respond(std::move(r));
  }
};

// 1..5 of [a-z0-9], unique per run; COVE_TEST_FABRIC_PREFIX picks one.
std::string TestPrefix() {
  if (const char* p = std::getenv("COVE_TEST_FABRIC_PREFIX"); p && *p) return p;
  std::random_device rd;
  char buf[8];
  std::snprintf(buf, sizeof buf, "d%04x", rd() & 0xffff);
  return buf;
}

enum class Dns { kAnswered, kRefused, kSilent, kError };

// Asks 168.63.129.16:53 for myregistry.azurecr.io over UDP from inside the namespace `ns_fd`
// (which may have lost its name): kAnswered on a DNS response, kRefused on ICMP port
// unreachable (no socket there), kSilent after 2 s without either.
Dns AskAzureDns(int ns_fd) {
  Dns result = Dns::kError;
  std::thread t([&] {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) return;  // this thread only; it ends here
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    ::inet_pton(AF_INET, "168.63.129.16", &a.sin_addr);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    dns::Message m;
    m.header.id = 9;
    m.header.rd = true;
    m.questions.push_back({*dns::Name::FromString("myregistry.azurecr.io"), dns::kTypeA,
                           dns::kClassIN});
    std::vector<uint8_t> q = dns::Serialize(m, 512);
    if (::send(fd.get(), q.data(), q.size(), 0) != static_cast<ssize_t>(q.size())) {
      result = errno == ECONNREFUSED ? Dns::kRefused : Dns::kError;
      return;
    }
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) {
      result = Dns::kSilent;
      return;
    }
    uint8_t buf[1500];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      result = dns::Parse({buf, static_cast<size_t>(n)}) ? Dns::kAnswered : Dns::kError;
    } else {
      result = errno == ECONNREFUSED ? Dns::kRefused : Dns::kError;
    }
  });
  t.join();
  return result;
}

class PlanesRootTest : public PlanesTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    PlanesTest::SetUp();
    prefix_ = TestPrefix();
    gate_ = std::make_unique<access::Gate>(inner_, [](const std::string&) { return ""; });
    server_ = std::make_unique<http::Server>(*gate_, nullptr);
    opener_ = std::make_unique<privatelink::ServerListenerOpener>(namespaces_, *server_);
    planes_ = std::make_unique<Planes>(PlanesOptions{.prefix = prefix_}, *opener_);
  }
  void TearDown() override {
    if (!planes_) return;
    EXPECT_TRUE(planes_->Down());
    planes_.reset();
    // Whatever still carries the prefix goes, even if Down is broken.
    fabric::LinuxNamespaces namespaces;
    for (const std::string& n : namespaces.List().value_or(std::vector<std::string>{})) {
      if (n.starts_with(prefix_ + "-")) {
        ADD_FAILURE() << "left behind: namespace " << n;
        (void)namespaces.Delete(n);
      }
    }
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/etc/netns", ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->path().filename().string().starts_with(prefix_ + "-")) {
        std::filesystem::remove_all(it->path(), ec);
      }
    }
  }
  std::string VnetId(const std::string& name) {
    for (const auto& v : cp_->snapshot()->vnets) {
      if (v.name == name) return v.id;
    }
    ADD_FAILURE() << "no vnet " << name;
    return "";
  }
  // Holds the namespace of `vnet_id` open, so it outlives its name.
  UniqueFd OpenNamespace(const std::string& vnet_id) {
    std::string path = "/run/netns/" + planes_->fabric().NetworkNamespace(vnet_id);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << path;
    return fd;
  }

  std::string prefix_;
  NotFound inner_;
  std::unique_ptr<access::Gate> gate_;
  std::unique_ptr<http::Server> server_;
  fabric::LinuxNamespaces namespaces_;
  // The planes' registry listeners served by server_ directly (coved forwards them instead).
  std::unique_ptr<privatelink::ServerListenerOpener> opener_;
  std::unique_ptr<Planes> planes_;
};

// A deleted VNet's DNS sockets are closed: its namespace (kept alive here by an open fd, as
// the sockets used to keep it) no longer has anything at 168.63.129.16:53, while another VNet
// keeps answering with its view.
TEST_F(PlanesRootTest, DeletedVnetLosesItsDnsSockets) {
  Put(kRg, {{"location", "westus"}});
  for (const char* v : {"myvnet", "other"}) {
    Put(kNet + "/virtualNetworks/" + v, nlohmann::json::parse(R"({"location": "westus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})"));
  }
  ASSERT_TRUE(planes_->Apply(Project(cp_->snapshot())));
  const std::string myvnet = VnetId("myvnet"), other = VnetId("other");
  UniqueFd mine = OpenNamespace(myvnet);
  UniqueFd others = OpenNamespace(other);
  ASSERT_TRUE(mine.valid() && others.valid());
  EXPECT_EQ(AskAzureDns(mine.get()), Dns::kAnswered);
  EXPECT_EQ(AskAzureDns(others.get()), Dns::kAnswered);
  EXPECT_EQ(planes_->dns().Counters(myvnet).queries, 1u);

  ASSERT_EQ(cp_->Handle({"DELETE", kNet + "/virtualNetworks/myvnet", "2023-09-01", "", "", ""})
                .status,
            200);
  ASSERT_TRUE(planes_->Apply(Project(cp_->snapshot())));
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + planes_->fabric().NetworkNamespace(myvnet)));
  EXPECT_EQ(AskAzureDns(mine.get()), Dns::kRefused);  // nothing listens in the orphan any more
  EXPECT_EQ(AskAzureDns(others.get()), Dns::kAnswered);
  EXPECT_EQ(planes_->dns().Counters(myvnet).queries, 1u);

  // The VNet again, under the same id: a new namespace with new sockets.
  Put(kNet + "/virtualNetworks/myvnet", nlohmann::json::parse(R"({"location": "westus",
      "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
      "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})"));
  ASSERT_TRUE(planes_->Apply(Project(cp_->snapshot())));
  UniqueFd again = OpenNamespace(myvnet);
  ASSERT_TRUE(again.valid());
  EXPECT_EQ(AskAzureDns(again.get()), Dns::kAnswered);
  EXPECT_EQ(AskAzureDns(mine.get()), Dns::kRefused);
  EXPECT_EQ(planes_->dns().Counters(myvnet).queries, 2u);
}

// A VNet namespace replaced behind coved's back (deleted by hand; the fabric makes it anew)
// gets fresh sockets, and the old ones are closed.
TEST_F(PlanesRootTest, ReplacedNamespaceGetsFreshDnsSockets) {
  Put(kRg, {{"location", "westus"}});
  Put(kNet + "/virtualNetworks/myvnet", nlohmann::json::parse(R"({"location": "westus",
      "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
      "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})"));
  ASSERT_TRUE(planes_->Apply(Project(cp_->snapshot())));
  const std::string myvnet = VnetId("myvnet");
  UniqueFd old = OpenNamespace(myvnet);
  ASSERT_TRUE(old.valid());
  fabric::LinuxNamespaces namespaces;
  ASSERT_TRUE(namespaces.Delete(planes_->fabric().NetworkNamespace(myvnet)));
  ASSERT_TRUE(planes_->Apply(Project(cp_->snapshot())));
  UniqueFd fresh = OpenNamespace(myvnet);
  ASSERT_TRUE(fresh.valid());
  EXPECT_EQ(AskAzureDns(fresh.get()), Dns::kAnswered);
  EXPECT_EQ(AskAzureDns(old.get()), Dns::kRefused);
}

// Planes with the instance metadata service, as coved runs them (identities from the same
// snapshot, as daemon/main.cc feeds them).
class PlanesImdsTest : public PlanesRootTest {
 protected:
  void SetUp() override {
    PlanesRootTest::SetUp();
    if (IsSkipped()) return;
    registry_keys_ = std::move(*auth::KeyRing::Open(dir_.Join("keys/registry"), clock_));
    identity_keys_ = std::move(*auth::KeyRing::Open(dir_.Join("keys/identity"), clock_));
    tokens_ = std::make_unique<auth::TokenService>(*registry_keys_, *identity_keys_, clock_);
    imds_ = std::make_unique<imds::Service>(store_, *tokens_, "tenant");
    planes_.reset();  // the root fixture's, without instance metadata
    opener_ = std::make_unique<privatelink::ServerListenerOpener>(namespaces_, *server_);
    planes_ = std::make_unique<Planes>(PlanesOptions{.prefix = prefix_}, *opener_, imds_.get());
  }
  void Apply() {
    auto snap = cp_->snapshot();
    auto data = BuildIdentityData(*snap);
    ASSERT_TRUE(data);
    store_.Set(*auth::IdentitySnapshot::Build(std::move(*data)));
    ASSERT_TRUE(planes_->Apply(Project(snap)));
  }
  // GET of IMDS's token endpoint from inside `machine` (+ `query`); the JSON answer.
  nlohmann::json Token(const std::string& machine, const std::string& query = "") {
    auto r = planes_->fabric().Exec(
        machine, {"curl", "-sS", "--max-time", "20", "-H", "Metadata: true",
                  "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                  "&resource=https://management.azure.com/" + query});
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->exit_code, 0) << r->output;
    return nlohmann::json::parse(r->output, nullptr, false);
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<auth::KeyRing> registry_keys_, identity_keys_;
  std::unique_ptr<auth::TokenService> tokens_;
  auth::IdentityStore store_;
  std::unique_ptr<imds::Service> imds_;  // outlives planes_ (reset in TearDown)
};

// Each machine reaches its own instance metadata service at 169.254.169.254 and gets tokens for
// its own identities, naming itself: a VM's system- and user-assigned identities, and a
// container group's (a trusted service's) user-assigned one.
TEST_F(PlanesImdsTest, MachinesGetTokensFromTheirOwnInstanceMetadataService) {
  Put(kRg, {{"location", "westus"}});
  Put(kNet + "/virtualNetworks/myvnet", nlohmann::json::parse(R"({"location": "westus",
      "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
      "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})"));
  Put(kNet + "/networkInterfaces/vm1VMNic", nlohmann::json::parse(R"({"location": "westus",
      "properties": {"ipConfigurations": [{"name": "ipconfigvm1", "properties": {
      "subnet": {"id": ")" + kNet + R"(/virtualNetworks/myvnet/subnets/s"}}}]}})"));
  const std::string uai = kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app";
  Put(uai, {{"location", "westus"}});
  const std::string vm1 = kRg + "/providers/Microsoft.Compute/virtualMachines/vm1";
  const std::string job = kRg + "/providers/Microsoft.ContainerInstance/containerGroups/job";
  Put(vm1, {{"location", "westus"},
            {"identity", {{"type", "SystemAssigned, UserAssigned"},
                          {"userAssignedIdentities", {{uai, nlohmann::json::object()}}}}},
            {"properties",
             {{"networkProfile",
               {{"networkInterfaces", {{{"id", kNet + "/networkInterfaces/vm1VMNic"}}}}}}}}});
  Put(job, nlohmann::json::parse(R"({"location": "westus",
      "identity": {"type": "UserAssigned", "userAssignedIdentities": {")" + uai + R"(": {}}},
      "properties": {"osType": "Linux", "containers": [{"name": "app", "properties": {
      "image": "myregistry.azurecr.io/app:v1",
      "resources": {"requests": {"cpu": 1, "memoryInGB": 1.5}}}}]}})"));
  Apply();
  auto snap = cp_->snapshot();
  std::string system_principal, app_principal, app_client;
  for (const auto& m : snap->machines) {
    if (m.name == "vm1" && m.system_assigned) system_principal = m.system_assigned->principal_id;
    if (m.name == "job" && !m.user_assigned.empty()) {
      app_principal = m.user_assigned[0].principal_id;
      app_client = m.user_assigned[0].client_id;
    }
  }
  ASSERT_FALSE(system_principal.empty());
  ASSERT_FALSE(app_principal.empty());

  auto verify = [&](const nlohmann::json& answer) {
    EXPECT_EQ(answer.value("token_type", ""), "Bearer") << answer.dump();
    auto claims = tokens_->VerifyIdentityToken(answer.value("access_token", ""));
    EXPECT_TRUE(claims) << answer.dump();
    return claims.value_or(auth::IdentityClaims{});
  };
  // vm1: its system-assigned identity by default, the user-assigned one by client_id.
  auto system = verify(Token(vm1));
  EXPECT_EQ(system.principal_id, system_principal);
  EXPECT_TRUE(arm::EqualsIgnoreCase(system.caller_resource, vm1)) << system.caller_resource;
  auto app_on_vm = verify(Token(vm1, "&client_id=" + app_client));
  EXPECT_EQ(app_on_vm.principal_id, app_principal);
  EXPECT_EQ(auth::TrustedServiceOf(app_on_vm.caller_resource), "");  // a VM is not trusted
  // The container group: the same identity, and the token names the group (ACI: trusted).
  auto app_on_job = verify(Token(job));
  EXPECT_EQ(app_on_job.principal_id, app_principal);
  EXPECT_EQ(auth::TrustedServiceOf(app_on_job.caller_resource), "Microsoft.ContainerInstance");
  // A machine only gets its own identities.
  EXPECT_EQ(Token(job, "&object_id=" + system_principal).value("error_description", ""),
            "Identity not found");

  // The user-assigned identity deleted: neither machine gets a token for it any more.
  ASSERT_LT(cp_->Handle({"DELETE", uai, "2023-01-31", "", "", ""}).status, 300);
  Apply();
  EXPECT_EQ(Token(job).value("error_description", ""), "Identity not found");
  EXPECT_EQ(Token(vm1, "&client_id=" + app_client).value("error_description", ""),
            "Identity not found");
  EXPECT_EQ(verify(Token(vm1)).principal_id, system_principal);
}

}  // namespace
}  // namespace cove::daemon
