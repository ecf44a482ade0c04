// Regions without processes: the router's choices over a real control plane's projection (which
// region each listener's connection goes to, a region that is down, regionEndpointEnabled, the
// client's region from its VNet's outbound address), and one region node in this process
// (config pushes over its backbone listener, the backbone key, persistence across a restart,
// only its own registries served).
#include "daemon/regions.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "common/clock.h"
#include "daemon/control_plane_fixture.h"
#include "daemon/region_node.h"
#include "http/client.h"
#include "privatelink/forwarder.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

using privatelink::Arrival;
using privatelink::Target;
using testing::TempDir;

// Regions "up" at fixed ports: westus 1001, eastus 1002, centralus 1003 (plain: +100).
class FakeRegions final : public RunningRegions {
 public:
  std::vector<Target> Targets(const std::vector<std::string>& regions, bool plain) const override {
    std::vector<Target> out;
    for (const auto& r : regions) {
      auto it = ports_.find(r);
      if (it != ports_.end() && up.count(r)) {
        out.push_back({"127.0.0.1", static_cast<uint16_t>(it->second + (plain ? 100 : 0))});
      }
    }
    return out;
  }
  std::vector<std::string> Regions() const override { return {up.begin(), up.end()}; }
  std::set<std::string> up = {"westus", "eastus"};

 private:
  std::map<std::string, uint16_t> ports_ = {{"westus", 1001}, {"eastus", 1002}, {"centralus", 1003}};
};

std::vector<uint16_t> Ports(const std::vector<Target>& targets) {
  std::vector<uint16_t> out;
  for (const auto& t : targets) out.push_back(t.port);
  return out;
}

// A control plane with, on demand, a registry replicated from westus to eastus.
class GeoControlPlaneTest : public ControlPlaneTest {
 protected:
  // The resource group and a Premium registry `name` in westus (with `properties`) replicated
  // to eastus.
  void PutGeoRegistry(const std::string& name, nlohmann::json properties = {}) {
    Put(kRg, {{"location", "westus"}});
    nlohmann::json body = {{"location", "westus"}, {"sku", {{"name", "Premium"}}}};
    if (!properties.is_null()) body["properties"] = std::move(properties);
    Put(kAcr + "/registries/" + name, body);
    Put(kAcr + "/registries/" + name + "/replications/eastus", {{"location", "eastus"}});
  }
};

class RegionRouterTest : public GeoControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    PutGeoRegistry("myregistry");
    Put(kNet + "/virtualNetworks/vneteast",
        {{"location", "eastus"},
         {"properties", {{"addressSpace", {{"addressPrefixes", {"10.1.0.0/16"}}}}}}});
    router_.SetFallback(2001, 2002);
    Reproject();
  }
  void Reproject() {
    projection_ = Project(cp_->snapshot());
    router_.SetProjection(projection_);
  }
  std::string OutboundOf(const std::string& vnet) {
    for (const auto& n : projection_->topology.networks) {
      if (n.id.ends_with("/" + vnet)) return n.outbound_address;
    }
    ADD_FAILURE() << "no network " << vnet;
    return "";
  }
  std::vector<uint16_t> Route(const std::string& service, Arrival arrival = {}) {
    return Ports(router_.Targets(service, arrival));
  }

  FakeRegions regions_;
  RegionRouter router_{regions_};
  ProjectionPtr projection_;
};

TEST_F(RegionRouterTest, ThePrivateEndpointsRegistryMemberPrefersItsVnetsRegionThenHome) {
  EXPECT_EQ(Route("login/myregistry/eastus"), (std::vector<uint16_t>{1002, 1001}));
  EXPECT_EQ(Route("login/myregistry/westus"), (std::vector<uint16_t>{1001, 1002}));
  // A VNet in a region without a replica: the home region first.
  EXPECT_EQ(Route("login/myregistry/centralus"), (std::vector<uint16_t>{1001, 1002}));
  // A region that is down is skipped: the next connection goes to the other.
  regions_.up.erase("eastus");
  EXPECT_EQ(Route("login/myregistry/eastus"), (std::vector<uint16_t>{1001}));
  EXPECT_EQ(Route("login/nosuchregistry/eastus"), (std::vector<uint16_t>{}));
}

TEST_F(RegionRouterTest, ADataMemberGoesToItsRegionOnly) {
  EXPECT_EQ(Route("data/myregistry/eastus"), (std::vector<uint16_t>{1002}));
  EXPECT_EQ(Route("data/myregistry/westus"), (std::vector<uint16_t>{1001}));
  regions_.up.erase("eastus");
  EXPECT_EQ(Route("data/myregistry/eastus"), (std::vector<uint16_t>{}));
}

TEST_F(RegionRouterTest, SharedAddressesRouteByServerNameAndTheClientsRegion) {
  const std::string east_client = OutboundOf("vneteast");
  ASSERT_FALSE(east_client.empty());
  EXPECT_EQ(Route("sni", {east_client, "myregistry.azurecr.io"}),
            (std::vector<uint16_t>{1002, 1001}));
  EXPECT_EQ(Route("sni", {"198.51.100.250", "myregistry.azurecr.io"}),
            (std::vector<uint16_t>{1001, 1002}));
  EXPECT_EQ(Route("sni", {"127.0.0.1", "myregistry.eastus.data.azurecr.io"}),
            (std::vector<uint16_t>{1002}));
  // A name no region serves: the fallback, which answers NAME_UNKNOWN.
  EXPECT_EQ(Route("sni", {"127.0.0.1", "other.azurecr.io"}), (std::vector<uint16_t>{2001}));
  // No name (an IP URL): every running region, then the fallback.
  EXPECT_EQ(Route("sni", {"127.0.0.1", ""}), (std::vector<uint16_t>{1002, 1001, 2001}));
  EXPECT_EQ(Route("any"), (std::vector<uint16_t>{1102, 1101, 2002}));
  EXPECT_EQ(Route("nonsense"), (std::vector<uint16_t>{}));
  EXPECT_EQ(router_.RegistryOfLoginServer("myregistry.azurecr.io"), "myregistry");
  EXPECT_EQ(router_.RegistryOfLoginServer("other.azurecr.io"), "");
}

TEST_F(RegionRouterTest, ARegionWithItsEndpointDisabledGetsNoRoutedRequestsButKeepsItsDataHost) {
  auto r = cp_->Handle({"PATCH", kAcr + "/registries/myregistry/replications/eastus",
                        "2023-09-01", R"({"properties":{"regionEndpointEnabled":false}})", "", ""});
  ASSERT_LT(r.status, 300) << (r.body ? r.body->dump() : "");
  Reproject();
  EXPECT_EQ(Route("login/myregistry/eastus"), (std::vector<uint16_t>{1001}));
  EXPECT_EQ(Route("sni", {OutboundOf("vneteast"), "myregistry.azurecr.io"}),
            (std::vector<uint16_t>{1001}));
  EXPECT_EQ(Route("data/myregistry/eastus"), (std::vector<uint16_t>{1002}));
}

// ---------------------------------------------------------------------------------------------

class RegionNodeTest : public GeoControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    PutGeoRegistry("myregistry");
    Put(kAcr + "/registries/westonly", {{"location", "westus"}, {"sku", {{"name", "Premium"}}}});
    OpenNode();
  }
  void OpenNode() {
    Config config = DefaultConfig();
    config.data_dir = region_dir_.path();
    config.secrets_dir = secrets_.path();
    auto node = RegionNode::Open({.region = "eastus", .config = config}, clock_);
    ASSERT_TRUE(node) << node.error().message;
    node_ = std::move(*node);
    auto ports = node_->Start();
    ASSERT_TRUE(ports) << ports.error().message;
    ports_ = *ports;
    auto key = LoadOrCreateBackboneKey(secrets_.path());
    ASSERT_TRUE(key);
    key_ = *key;
  }
  void TearDown() override {
    if (node_) node_->Stop();
  }
  // One backbone request; the status (0 when it could not be made).
  int Backbone(const std::string& method, const std::string& path, const std::string& body,
               const std::string& key, std::string* reply = nullptr) {
    auto client = http::HttpClient::Create("https://127.0.0.1:" + std::to_string(ports_.backbone),
                                           std::chrono::seconds(10),
                                           {.ca_file = secrets_.Join("tls/ca.crt")});
    EXPECT_TRUE(client);
    std::map<std::string, std::string> headers;
    if (!key.empty()) headers["Authorization"] = "Bearer " + key;
    auto response = client->Send(method, path, body, "application/json", headers);
    if (!response) return 0;
    if (reply) *reply = response->body;
    return response->status;
  }
  std::string ConfigJson(uint64_t version_delta = 0) {
    auto snapshot = cp_->snapshot();
    return RegionConfig{.version = snapshot->version + version_delta,
                        .dns_suffix = snapshot->dns_suffix,
                        .documents = snapshot->documents,
                        .peers = {{"westus", "127.0.0.1", 4242}}}
        .ToJson();
  }

  TempDir secrets_, region_dir_;
  SystemClock clock_;
  std::unique_ptr<RegionNode> node_;
  RegionPorts ports_;
  std::string key_;
};

TEST_F(RegionNodeTest, AppliesAPushedConfigAndServesOnlyTheRegistriesReplicatedHere) {
  std::string reply;
  ASSERT_EQ(Backbone("PUT", "/cove/region/v1/config", ConfigJson(), key_, &reply), 200) << reply;
  EXPECT_EQ(node_->version(), cp_->snapshot()->version);
  EXPECT_EQ(node_->registry_node().RegistryOfLoginServer("myregistry.azurecr.io"), "myregistry");
  EXPECT_EQ(node_->registry_node().RegistryOfLoginServer("westonly.azurecr.io"), "");
  ASSERT_EQ(Backbone("GET", "/cove/region/v1/status", "", key_, &reply), 200);
  EXPECT_EQ(nlohmann::json::parse(reply)["region"], "eastus");
  ASSERT_EQ(Backbone("GET", "/cove/region/v1/counters", "", key_, &reply), 200);
  EXPECT_TRUE(nlohmann::json::parse(reply).is_object());

  // Kept, mode 0600, and served again after a restart before any push.
  struct stat st {};
  ASSERT_EQ(::stat(region_dir_.Join("config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  node_->Stop();
  node_.reset();
  OpenNode();
  EXPECT_EQ(node_->version(), cp_->snapshot()->version);
  EXPECT_EQ(node_->registry_node().RegistryOfLoginServer("myregistry.azurecr.io"), "myregistry");
}

TEST_F(RegionNodeTest, AnOlderPushIsIgnoredAndBadInputChangesNothing) {
  ASSERT_EQ(Backbone("PUT", "/cove/region/v1/config", ConfigJson(5), key_), 200);
  uint64_t applied = node_->version();
  EXPECT_EQ(Backbone("PUT", "/cove/region/v1/config", ConfigJson(0), key_), 200);
  EXPECT_EQ(node_->version(), applied);
  std::string reply;
  EXPECT_EQ(Backbone("PUT", "/cove/region/v1/config", "{not json", key_, &reply), 400);
  EXPECT_NE(reply.find("InvalidConfig"), std::string::npos) << reply;
  EXPECT_EQ(Backbone("PUT", "/cove/region/v1/config", R"({"version":-1})", key_), 400);
  EXPECT_EQ(Backbone("GET", "/cove/region/v1/nothing", "", key_), 404);
  EXPECT_EQ(node_->version(), applied);
}

TEST_F(RegionNodeTest, RetentionPolicyReachesTheNodeAndUsageIsAnsweredOnTheBackbone) {
  Put(kAcr + "/registries/myregistry",
      {{"location", "westus"},
       {"sku", {{"name", "Premium"}}},
       {"properties", {{"policies", {{"retentionPolicy", {{"days", 3}, {"status", "enabled"}}}}}}}});
  ASSERT_EQ(Backbone("PUT", "/cove/region/v1/config", ConfigJson(), key_), 200);
  const registry::RegistryInfo* info =
      node_->registry_node().registry().directory()->Find("myregistry");
  ASSERT_NE(info, nullptr);
  EXPECT_TRUE(info->untagged_retention_enabled);
  EXPECT_EQ(info->untagged_retention_days, 3);

  storage::MetaStore& meta = node_->registry_node().meta();
  ASSERT_TRUE(meta.LinkBlob({"myregistry", "a"}, Digest::Of("layer"), 1000));
  ASSERT_TRUE(meta.LinkBlob({"myregistry", "b"}, Digest::Of("layer"), 1000));
  ASSERT_TRUE(meta.LinkBlob({"myregistry", "b"}, Digest::Of("config"), 24));
  std::string reply;
  ASSERT_EQ(Backbone("GET", "/cove/region/v1/usage?registry=myregistry", "", key_, &reply), 200)
      << reply;
  auto usage = nlohmann::json::parse(reply);
  EXPECT_EQ(usage["sizeBytes"], 1024);
  EXPECT_EQ(usage["region"], "eastus");
  EXPECT_EQ(Backbone("GET", "/cove/region/v1/usage", "", key_), 400);
  EXPECT_EQ(Backbone("GET", "/cove/region/v1/usage?registry=myregistry", "", ""), 401);
}

TEST_F(RegionNodeTest, TheBackboneWantsItsKey) {
  std::string reply;
  EXPECT_EQ(Backbone("PUT", "/cove/region/v1/config", ConfigJson(), "", &reply), 401);
  EXPECT_NE(reply.find("backbone key"), std::string::npos) << reply;
  std::string wrong = key_;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(Backbone("PUT", "/cove/region/v1/config", ConfigJson(), wrong), 401);
  EXPECT_EQ(Backbone("GET", "/cove/region/v1/counters", "", key_.substr(1)), 401);
  // Another cove's key (another data directory) is not this one's.
  TempDir other;
  auto other_key = LoadOrCreateBackboneKey(other.path());
  ASSERT_TRUE(other_key);
  EXPECT_EQ(Backbone("GET", "/cove/region/v1/status", "", *other_key), 401);
  EXPECT_EQ(node_->version(), 0u);
}


// ---------------------------------------------------------------------------------------------
// Read-your-writes across regions (issue 12's proof): two region nodes in this process, each
// behind its own Private Link forwarder, replication between them slowed to a minute a batch so
// that nothing arrives by replication while the test runs. 500 rounds of a push through westus
// (a new layer, a manifest under a new tag, and the moving tag `latest`) and an immediate pull
// through eastus: every manifest by tag, `latest` at the round's digest, and the layer's bytes.
// The pulls can only succeed by eastus reading through to westus (registry/content_source.h).
class ReadYourWritesTest : public GeoControlPlaneTest {
 protected:
  struct Region {
    TempDir dir;
    std::unique_ptr<RegionNode> node;
    RegionPorts ports;
    std::unique_ptr<privatelink::Forwarder> forwarder;
    uint16_t port = 0;  // the forwarder's: where clients connect
  };

  void SetUp() override {
    ControlPlaneTest::SetUp();
    PutGeoRegistry("ryw01", {{"adminUserEnabled", true}});
    auto creds = cp_->Handle({"POST", kAcr + "/registries/ryw01/listCredentials", "2023-09-01",
                              "", "", ""});
    ASSERT_EQ(creds.status, 200);
    password_ = (*creds.body)["passwords"][0]["value"].get<std::string>();
    for (const char* name : {"westus", "eastus"}) {
      Region& r = regions_[name];
      Config config = DefaultConfig();
      config.data_dir = r.dir.path();
      config.secrets_dir = secrets_.path();
      auto node = RegionNode::Open({.region = name,
                                    .config = config,
                                    .replication_delay = std::chrono::minutes(1)},
                                   clock_);
      ASSERT_TRUE(node) << node.error().message;
      r.node = std::move(*node);
      auto ports = r.node->Start();
      ASSERT_TRUE(ports) << ports.error().message;
      r.ports = *ports;
      r.forwarder = std::make_unique<privatelink::Forwarder>();
      auto port = r.forwarder->Listen(
          "127.0.0.1", 0,
          privatelink::Route{.target_address = "127.0.0.1", .target_port = r.ports.client_plain,
                             .source_address = "127.0.0.1"});
      ASSERT_TRUE(port) << port.error().message;
      r.port = *port;
      r.forwarder->Start();
    }
    auto snapshot = cp_->snapshot();
    for (auto& [name, r] : regions_) {
      RegionConfig config{.version = snapshot->version,
                          .dns_suffix = snapshot->dns_suffix,
                          .documents = snapshot->documents,
                          .peers = {}};
      for (auto& [peer, p] : regions_) {
        if (peer != name) config.peers.push_back({peer, "127.0.0.1", p.ports.backbone});
      }
      ASSERT_TRUE(r.node->Apply(config));
    }
  }
  void TearDown() override {
    for (auto& [name, r] : regions_) {
      if (r.forwarder) r.forwarder->Stop();
      if (r.node) r.node->Stop();
    }
  }
  // One request to the login server through `region`'s forwarder, as the admin user.
  Result<http::HttpResponse> Call(const std::string& region, const std::string& method,
                                  const std::string& target, const std::string& body = "",
                                  const std::string& content_type = "application/octet-stream") {
    COVE_ASSIGN_OR_RETURN(auto client, http::HttpClient::Create(
                                           "http://127.0.0.1:" + std::to_string(regions_[region].port),
                                           std::chrono::seconds(10)));
    return client.Send(method, target, body, content_type,
                       {{"Host", "ryw01.azurecr.io"},
                        {"Authorization", "Basic " + Base64("ryw01:" + password_)},
                        {"Accept", "application/vnd.oci.image.manifest.v1+json"}});
  }
  static std::string Base64(const std::string& s) {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < s.size(); i += 3) {
      uint32_t n = static_cast<uint8_t>(s[i]) << 16;
      if (i + 1 < s.size()) n |= static_cast<uint8_t>(s[i + 1]) << 8;
      if (i + 2 < s.size()) n |= static_cast<uint8_t>(s[i + 2]);
      out += k[(n >> 18) & 63];
      out += k[(n >> 12) & 63];
      out += i + 1 < s.size() ? k[(n >> 6) & 63] : '=';
      out += i + 2 < s.size() ? k[n & 63] : '=';
    }
    return out;
  }
  // Pushes a blob through `region`; false when it was not created.
  bool PushBlob(const std::string& region, const std::string& bytes) {
    auto r = Call(region, "POST",
                  "/v2/app/blobs/uploads/?digest=" + Digest::Of(bytes).str(), bytes);
    return r && r->status == 201;
  }

  TempDir secrets_;
  SystemClock clock_;
  std::map<std::string, Region> regions_;
  std::string password_;
};

TEST_F(ReadYourWritesTest, FiveHundredPushesThroughWestusPulledAtOnceThroughEastus) {
  const std::string config = R"({"architecture":"amd64","os":"linux"})";
  ASSERT_TRUE(PushBlob("westus", config));
  int manifest_unknown = 0, stale_latest = 0, blob_missing = 0;
  for (int round = 0; round < 500; ++round) {
    std::string layer = "layer of round " + std::to_string(round);
    ASSERT_TRUE(PushBlob("westus", layer)) << round;
    nlohmann::json manifest = {
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                    {"digest", Digest::Of(config).str()},
                    {"size", config.size()}}},
        {"layers", {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                     {"digest", Digest::Of(layer).str()},
                     {"size", layer.size()}}}}};
    std::string bytes = manifest.dump();
    for (std::string tag : {"r" + std::to_string(round), std::string("latest")}) {
      auto put = Call("westus", "PUT", "/v2/app/manifests/" + tag, bytes,
                      "application/vnd.oci.image.manifest.v1+json");
      ASSERT_TRUE(put && put->status == 201) << round << " " << (put ? put->body : "");
    }
    auto by_tag = Call("eastus", "GET", "/v2/app/manifests/r" + std::to_string(round));
    if (!by_tag || by_tag->status != 200 || by_tag->body != bytes) ++manifest_unknown;
    auto latest = Call("eastus", "GET", "/v2/app/manifests/latest");
    if (!latest || latest->status != 200 || latest->body != bytes) ++stale_latest;
    auto blob = Call("eastus", "GET", "/v2/app/blobs/" + Digest::Of(layer).str());
    if (!blob || blob->status != 200 || blob->body != layer) ++blob_missing;
  }
  EXPECT_EQ(manifest_unknown, 0);
  EXPECT_EQ(stale_latest, 0);
  EXPECT_EQ(blob_missing, 0);
  // And none of it came by replication: eastus's pull from westus is still waiting.
  for (const auto& s : regions_["eastus"].node->replicator().Statuses()) {
    if (s.region == "westus") {
      EXPECT_NE(s.state, replication::PeerStatus::State::kReady);
    }
  }
}

}  // namespace
}  // namespace cove::daemon
