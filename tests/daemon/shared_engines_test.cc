// Registry nodes over shared engines (daemon/engines.h): two RegistryNodes over one PostgreSQL
// cluster and one Azurite account are interchangeable — an upload started on one is finished on
// the other, a signed data-endpoint URL from one is honoured by the other, a tag moved on one is
// seen by the other once PostgreSQL's notification arrives — and an engine that goes away gives
// clients OCI errors (503 UNAVAILABLE), /cove/health says which, and the node serves again once
// the engine is back.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/digest.h"
#include "daemon/config.h"
#include "daemon/registry_node.h"
#include "support/azurite.h"
#include "support/postgres_cluster.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

using cove::testing::RawHttp;
using cove::testing::RawReply;

constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";

std::string OciCode(const RawReply& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("errors") ? j["errors"][0]["code"].get<std::string>() : "";
}

class SharedEnginesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = testing::PostgresCluster::Start();
    ASSERT_TRUE(started) << started.error().ToString();
    postgres_ = started->release();
    azurite_ = new testing::Azurite();
    ASSERT_TRUE(azurite_->ok()) << azurite_->error();
  }
  static void TearDownTestSuite() {
    delete azurite_;
    delete postgres_;
  }

  // A node over the shared engines, its own data directory, one plain loopback listener.
  std::unique_ptr<RegistryNode> StartNode(const std::string& name, uint16_t* port) {
    auto config = ParseConfig("data_dir: " + dir_.Join(name) + R"(
secrets_dir: )" + dir_.Join("secrets") + R"(
listen: [{address: 127.0.0.1, port: 0, tls: false}]
registries: [{name: myregistry, region: westus, data_endpoint_enabled: true}]
default_registry: myregistry
)");
    EXPECT_TRUE(config) << config.error().ToString();
    if (!config) return nullptr;
    config->metadata = postgres_->conninfo();
    config->blobs = "AccountName=" + std::string(testing::Azurite::kAccount) +
                    ";AccountKey=" + testing::Azurite::kKey + ";BlobEndpoint=" +
                    azurite_->endpoint();
    auto node = RegistryNode::Open(*config, clock_);
    EXPECT_TRUE(node) << node.error().ToString();
    if (!node) return nullptr;
    auto ports = (*node)->Start();
    EXPECT_TRUE(ports) << ports.error().ToString();
    if (!ports) return nullptr;
    *port = (*ports)[0];
    return std::move(*node);
  }

  // Pushes a config blob and a manifest tagged `tag` through `port`; returns the manifest.
  std::string PushManifest(uint16_t port, const std::string& tag, const std::string& note) {
    std::string config = "{\"note\":\"" + note + "\"}";
    std::string cd = Digest::Of(config).str();
    EXPECT_EQ(RawHttp(port).Request("POST", "/v2/app/blobs/uploads/?digest=" + cd, config).status,
              201);
    std::string manifest =
        "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kManifestType) +
        "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
        cd + "\",\"size\":" + std::to_string(config.size()) + "},\"layers\":[]}";
    auto put = RawHttp(port).Request("PUT", "/v2/app/manifests/" + tag, manifest,
                                     {{"Content-Type", kManifestType}});
    EXPECT_EQ(put.status, 201) << put.body;
    return manifest;
  }

  inline static testing::PostgresCluster* postgres_ = nullptr;
  inline static testing::Azurite* azurite_ = nullptr;
  testing::TempDir dir_;
  ManualClock clock_;  // the health probe remembers its answer for a second of this clock
};

TEST_F(SharedEnginesTest, TwoNodesAreInterchangeable) {
  uint16_t a_port = 0, b_port = 0;
  auto a = StartNode("a", &a_port);
  auto b = StartNode("b", &b_port);
  ASSERT_TRUE(a && b);

  // An upload started on A continues on B (one chunk each) and commits on A.
  std::string part1(300 * 1024, 'x'), part2(200 * 1024, 'y');
  std::string blob = part1 + part2;
  std::string digest = Digest::Of(blob).str();
  auto post = RawHttp(a_port).Request("POST", "/v2/app/blobs/uploads/");
  ASSERT_EQ(post.status, 202) << post.body;
  std::string location = post.Header("Location");
  auto patch1 = RawHttp(a_port).Request(
      "PATCH", location, part1,
      {{"Content-Range", "0-" + std::to_string(part1.size() - 1)},
       {"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(patch1.status, 202) << patch1.body;
  auto patch2 = RawHttp(b_port).Request(
      "PATCH", patch1.Header("Location"), part2,
      {{"Content-Range", std::to_string(part1.size()) + "-" + std::to_string(blob.size() - 1)},
       {"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(patch2.status, 202) << patch2.body;
  std::string commit = patch2.Header("Location");
  commit += (commit.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + digest;
  auto put = RawHttp(a_port).Request("PUT", commit);
  ASSERT_EQ(put.status, 201) << put.body;

  // A signs the data-endpoint URL; B serves it.
  auto redirect = RawHttp(a_port).Request("GET", "/v2/app/blobs/" + digest, "", {},
                                          "myregistry.azurecr.io");
  ASSERT_EQ(redirect.status, 307);
  std::string url = redirect.Header("Location");
  std::string data_host = "myregistry.westus.data.azurecr.io";
  size_t path = url.find('/', url.find(data_host));
  ASSERT_NE(path, std::string::npos) << url;
  auto data = RawHttp(b_port).Request("GET", url.substr(path), "", {}, data_host);
  EXPECT_EQ(data.status, 200);
  EXPECT_EQ(data.body, blob);

  // A tag moved on B is seen on A (whose cache held the old digest) once notified.
  std::string m1 = PushManifest(a_port, "v1", "one");
  auto first = RawHttp(a_port).Request("GET", "/v2/app/manifests/v1", "",
                                       {{"Accept", kManifestType}});
  ASSERT_EQ(first.body, m1);
  std::string m2 = PushManifest(b_port, "v1", "two");
  std::string seen;
  for (int i = 0; i < 2000 && seen != m2; ++i) {
    seen = RawHttp(a_port).Request("GET", "/v2/app/manifests/v1", "", {{"Accept", kManifestType}})
               .body;
    if (seen != m2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(seen, m2) << "node A still answers the tag's old manifest after 20 s";
}

TEST_F(SharedEnginesTest, AnEngineThatGoesAwayIsAnOciErrorAndComesBack) {
  uint16_t port = 0;
  auto node = StartNode("a", &port);
  ASSERT_TRUE(node);
  PushManifest(port, "v1", "outage");
  ASSERT_EQ(RawHttp(port).Request("GET", "/cove/health").status, 200);

  ASSERT_TRUE(postgres_->Stop());
  // A tag the cache never held: the read reaches the database.
  auto down = RawHttp(port).Request("GET", "/v2/app/manifests/never-read", "",
                                    {{"Accept", kManifestType}});
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(OciCode(down), "UNAVAILABLE") << down.body;
  EXPECT_EQ(down.body.find("password"), std::string::npos);
  clock_.Advance(std::chrono::seconds(2));  // past the probe's one-second memory
  auto health = RawHttp(port).Request("GET", "/cove/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(nlohmann::json::parse(health.body, nullptr, false),
            nlohmann::json({{"status", "degraded"}, {"metadata", "unavailable"}, {"blobs", "ok"}}));

  ASSERT_TRUE(postgres_->Restart());
  RawReply back;
  for (int i = 0; i < 200 && back.status != 200; ++i) {
    back = RawHttp(port).Request("GET", "/v2/app/manifests/v1", "", {{"Accept", kManifestType}});
    if (back.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(back.status, 200) << back.body;
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(RawHttp(port).Request("GET", "/cove/health").status, 200);
}

TEST_F(SharedEnginesTest, AnUnreachableEngineStopsTheNodeFromStarting) {
  auto config = ParseConfig("data_dir: " + dir_.Join("c") + "\nlisten: []\n");
  ASSERT_TRUE(config);
  config->metadata = "postgresql://cove:s3cret@127.0.0.1:1/cove?connect_timeout=2";
  auto refused = RegistryNode::Open(*config, clock_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("metadata (PostgreSQL"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find("s3cret"), std::string::npos) << refused.error().message;

  config->metadata.clear();
  config->blobs = "AccountName=acct;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/acct";
  refused = RegistryNode::Open(*config, clock_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("blobs (Azure Blob Storage"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find("a2V5"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace cove::daemon
