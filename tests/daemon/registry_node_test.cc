// A whole registry node (stores, TLS material, Distribution API, HTTP server) on loopback,
// fed bad input over real sockets: each bad request gets its error in OCI or HTTP form and the
// node keeps serving.
#include "daemon/registry_node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "privatelink/forwarder.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

using cove::testing::RawHttp;
using cove::testing::RawReply;

std::string ErrorCode(const RawReply& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("errors") ? j["errors"][0]["code"].get<std::string>() : "";
}

class RegistryNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = ParseConfig("data_dir: " + dir_.path() + R"(
header_timeout_ms: 300
idle_timeout_ms: 300
listen:
  - {address: 127.0.0.1, port: 0, tls: false}
  - {address: 127.0.0.1, port: 0}
registries: [{name: myregistry, region: westus}]
default_registry: myregistry
)");
    ASSERT_TRUE(config) << config.error().ToString();
    auto node = RegistryNode::Open(*config, clock_);
    ASSERT_TRUE(node) << node.error().ToString();
    node_ = std::move(*node);
    auto ports = node_->Start();
    ASSERT_TRUE(ports) << ports.error().ToString();
    port_ = (*ports)[0];
  }
  void TearDown() override {
    if (node_) node_->Stop();
  }
  void ExpectStillServing() { EXPECT_EQ(RawHttp(port_).Request("GET", "/v2/").status, 200); }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<RegistryNode> node_;
  uint16_t port_ = 0;
};

TEST_F(RegistryNodeTest, CreatesItsCaAndKeys) {
  EXPECT_NE(node_->ca_certificate_pem().find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("tls/ca.crt")));
  EXPECT_TRUE(std::filesystem::is_directory(dir_.Join("keys/blob-url")));
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("meta.db")));
}

TEST_F(RegistryNodeTest, PushAndPullOverTheWire) {
  RawHttp c(port_);
  std::string blob(1 << 20, 'b');
  std::string digest = Digest::Of(blob).str();
  auto push = c.Request("POST", "/v2/app/blobs/uploads/?digest=" + digest, blob);
  EXPECT_EQ(push.status, 201) << push.body;
  auto pull = c.Request("GET", "/v2/app/blobs/" + digest);  // same connection: keep-alive
  EXPECT_EQ(pull.status, 200);
  EXPECT_EQ(pull.body, blob);
  auto head = c.Request("HEAD", "/v2/app/blobs/" + digest);
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.head.find("Content-Length: 1048576"), std::string::npos) << head.head;
}

// GET /cove/health: without credentials, says only which engine is ok; other methods 405.
TEST_F(RegistryNodeTest, HealthSaysWhichEngineIsOkAndNothingElse) {
  auto health = RawHttp(port_).Request("GET", "/cove/health");
  EXPECT_EQ(health.status, 200);
  auto j = nlohmann::json::parse(health.body, nullptr, false);
  EXPECT_EQ(j, nlohmann::json({{"status", "ok"}, {"metadata", "ok"}, {"blobs", "ok"}}));
  EXPECT_EQ(health.body.find(dir_.path()), std::string::npos);
  EXPECT_EQ(RawHttp(port_).Request("POST", "/cove/health", "x").status, 405);
  EXPECT_EQ(RawHttp(port_).Request("GET", "/cove/health/x").status, 404);
}

// A node listener that takes PROXY v2 from its forwarder only (config `listen:` with
// proxy_protocol and proxy_sources), reached through a privatelink::Forwarder that connects from
// 127.0.0.2: requests through the forwarder are served; a direct connection is closed unread.
TEST(RegistryNodeBehindForwarderTest, ServesTheForwarderAndRefusesOthers) {
  testing::TempDir dir;
  SystemClock clock;
  auto config = ParseConfig("data_dir: " + dir.path() + R"(
listen:
  - {address: 127.0.0.1, port: 0, tls: false, proxy_protocol: true, proxy_sources: [127.0.0.2]}
registries: [{name: myregistry, region: westus}]
default_registry: myregistry
)");
  ASSERT_TRUE(config) << config.error().ToString();
  auto node = RegistryNode::Open(*config, clock);
  ASSERT_TRUE(node) << node.error().ToString();
  auto ports = (*node)->Start();
  ASSERT_TRUE(ports) << ports.error().ToString();

  privatelink::Forwarder forwarder;
  auto port = forwarder.Listen("127.0.0.1", 0,
                               privatelink::Route{.target_address = "127.0.0.1",
                                                  .target_port = (*ports)[0],
                                                  .source_address = "127.0.0.2"});
  ASSERT_TRUE(port) << port.error().ToString();
  forwarder.Start();
  EXPECT_EQ(RawHttp(*port).Request("GET", "/v2/").status, 200);

  RawHttp direct((*ports)[0]);  // from 127.0.0.1: not a forwarder
  EXPECT_EQ(direct.Request("GET", "/v2/").status, 0);
  EXPECT_TRUE(direct.ClosedByServer());
  forwarder.Stop();
  (*node)->Stop();
}

// The control plane's registries replace the configured ones; a registry's content goes with
// it, and one created again under its name starts empty — but the first set (what existed
// before this process started: a restart) keeps its content.
TEST_F(RegistryNodeTest, ControlPlaneRegistriesDeletedAndCreatedAgainStartEmpty) {
  const std::string host = "myregistry.azurecr.io";
  std::string blob = "kept across a restart";
  std::string digest = Digest::Of(blob).str();
  auto push = [&] {
    return RawHttp(port_).Request("POST", "/v2/app/blobs/uploads/?digest=" + digest, blob, {},
                                  host).status;
  };
  auto pull = [&] {
    return RawHttp(port_).Request("GET", "/v2/app/blobs/" + digest, "", {}, host).status;
  };
  ASSERT_EQ(push(), 201);
  registry::RegistryInfo mine{"myregistry", "westus", {"westus"}, false};
  ASSERT_TRUE(node_->SetControlPlaneRegistries({mine}));  // first set: nothing is deleted
  EXPECT_EQ(pull(), 200);
  EXPECT_EQ(RawHttp(port_).Request("GET", "/v2/", "", {}, "127.0.0.1").status, 404)
      << "no default registry any more";
  ASSERT_TRUE(node_->SetControlPlaneRegistries({}));  // deleted
  EXPECT_EQ(pull(), 404);
  EXPECT_EQ(ErrorCode(RawHttp(port_).Request("GET", "/v2/", "", {}, host)), "NAME_UNKNOWN");
  ASSERT_TRUE(node_->SetControlPlaneRegistries({mine}));  // created again
  auto again = RawHttp(port_).Request("GET", "/v2/app/blobs/" + digest, "", {}, host);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(ErrorCode(again), "BLOB_UNKNOWN");
  auto catalog = RawHttp(port_).Request("GET", "/v2/_catalog", "", {}, host);
  EXPECT_EQ(catalog.body, R"({"repositories":[]})");
  // Pushed into the new one, it stays while the registry does.
  ASSERT_EQ(push(), 201);
  ASSERT_TRUE(node_->SetControlPlaneRegistries({mine}));
  EXPECT_EQ(pull(), 200);
}

TEST_F(RegistryNodeTest, BadContentLength) {
  RawHttp c(port_);
  c.Send("PUT /v2/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  EXPECT_EQ(c.Read().status, 400);
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, OversizedManifest) {
  RawHttp c(port_);
  c.Send("PUT /v2/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: "
         "application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 5000000\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCode(r), "MANIFEST_INVALID");
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, OversizedChunkedManifest) {
  // No Content-Length: the limit is enforced while the body streams in.
  RawHttp c(port_);
  c.Send("PUT /v2/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk(1 << 20, ' ');
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
  for (int i = 0; i < 5; ++i) c.Send(std::string(size) + chunk + "\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(r.closed);
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, InvalidJsonAndNames) {
  RawHttp c(port_);
  auto bad_json = c.Request("PUT", "/v2/app/manifests/v1", "{\"schemaVersion\":",
                            {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(ErrorCode(bad_json), "MANIFEST_INVALID");
  EXPECT_EQ(ErrorCode(c.Request("GET", "/v2/Bad_Name/tags/list")), "NAME_INVALID");
  EXPECT_EQ(ErrorCode(c.Request("GET", "/v2/app/blobs/sha256:123")), "DIGEST_INVALID");
  EXPECT_EQ(ErrorCode(c.Request("PATCH", "/v2/app/blobs/uploads/nosuch", "x")),
            "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(ErrorCode(c.Request("GET", "/v2/app/tags/list?n=x")), "PAGINATION_NUMBER_INVALID");
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, GarbageRequestLine) {
  RawHttp c(port_);
  c.Send("\x16\x03\x01 this is not http\r\n\r\n");
  EXPECT_EQ(c.Read().status, 400);
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, SlowClientsAreCutOff) {
  RawHttp head_only(port_);
  head_only.Send("GET /v2/ HTTP/1.1\r\nHost: x\r\n");  // never finishes its head
  RawHttp slow_body(port_);
  auto post = slow_body.Request("POST", "/v2/app/blobs/uploads/");
  ASSERT_EQ(post.status, 202);
  std::string location = post.head.substr(post.head.find("Location: ") + 10);
  location = location.substr(0, location.find("\r\n"));
  slow_body.Send("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123");
  EXPECT_TRUE(head_only.ClosedByServer());
  EXPECT_TRUE(slow_body.ClosedByServer());
  // The interrupted chunk was not acknowledged.
  RawHttp c(port_);
  auto status = c.Request("GET", location);
  EXPECT_EQ(status.status, 204);
  EXPECT_NE(status.head.find("Range: 0-0"), std::string::npos) << status.head;
  ExpectStillServing();
}

// coved registry: the `auth:` section's network settings are the access Gate's, which denies
// before the registry sees the request (no sockets: the Gate is called directly).
TEST(RegistryNodeGateTest, ConfiguredPublicAccessDisabledIsDeniedAtTheGate) {
  testing::TempDir dir;
  SystemClock clock;
  auto config = ParseConfig("data_dir: " + dir.path() + R"(
listen:
  - {address: 127.0.0.1, port: 0, tls: false}
registries: [{name: closedreg, region: westus}, {name: openreg, region: westus}]
default_registry: openreg
auth:
  registries: [{name: closedreg, public_network_access: false}, {name: openreg}]
)");
  ASSERT_TRUE(config) << config.error().ToString();
  auto node = RegistryNode::Open(*config, clock);
  ASSERT_TRUE(node) << node.error().ToString();
  auto get = [&](const std::string& host) {
    http::Request request;
    request.method = "GET";
    request.target = "/v2/";
    request.headers.Set("Host", host);
    request.peer.remote_ip = "192.0.2.1";
    return (*node)->gate().Start(std::move(request))->Finish();
  };
  auto denied = get("closedreg.azurecr.io");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(std::get<std::string>(denied.body),
            access::DeniedBody(access::PublicDeniedMessage("192.0.2.1")));
  EXPECT_EQ(get("openreg.azurecr.io").status, 401);  // on to authentication
  EXPECT_EQ((*node)->gate().Counters()["listener:"].denied, 1u);
}

}  // namespace
}  // namespace cove::daemon
