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
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
  bool closed = false;  // the server closed the connection after this reply
  std::string ErrorCode() const {
    auto j = nlohmann::json::parse(body, nullptr, false);
    return j.is_object() && j.contains("errors") ? j["errors"][0]["code"].get<std::string>() : "";
  }
};

class Conn {
 public:
  explicit Conn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};  // a failure guard, never reached by a passing test
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ~Conn() { ::close(fd_); }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early; the reply says why
      bytes.remove_prefix(n);
    }
  }

  // Reads one response (head + Content-Length body), then notes whether the server closed.
  Reply Read() {
    Reply r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    r.head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::atoi(r.head.c_str() + 9);
    size_t length = 0;
    if (auto p = Lower(r.head).find("content-length: "); p != std::string::npos) {
      length = std::strtoull(r.head.c_str() + p + 16, nullptr, 10);
    }
    bool head_only = method_was_head_;
    while (!head_only && buf_.size() < length) {
      if (!Fill()) break;
    }
    if (!head_only) {
      r.body = buf_.substr(0, length);
      buf_.erase(0, std::min(length, buf_.size()));
    }
    r.closed = Lower(r.head).find("connection: close") != std::string::npos;
    return r;
  }

  Reply Request(const std::string& method, const std::string& target,
                const std::string& body = "", const std::string& extra = "") {
    method_was_head_ = method == "HEAD";
    Send(method + " " + target + " HTTP/1.1\r\nHost: myregistry.azurecr.io\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    return Read();
  }

  // True when the server has closed the connection (EOF), waiting at most the guard time.
  bool ClosedByServer() {
    char c;
    for (;;) {
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n == 0) return true;
      if (n < 0) return false;
    }
  }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, n);
    return true;
  }
  int fd_ = -1;
  std::string buf_;
  bool method_was_head_ = false;
};

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
  void ExpectStillServing() { EXPECT_EQ(Conn(port_).Request("GET", "/v2/").status, 200); }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<RegistryNode> node_;
  uint16_t port_ = 0;
};

TEST_F(RegistryNodeTest, CreatesItsCaAndKeys) {
  EXPECT_NE(node_->ca_certificate_pem().find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("tls/ca.crt")));
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("keys/blob-url.key")));
  EXPECT_TRUE(std::filesystem::exists(dir_.Join("meta.db")));
}

TEST_F(RegistryNodeTest, PushAndPullOverTheWire) {
  Conn c(port_);
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

TEST_F(RegistryNodeTest, BadContentLength) {
  Conn c(port_);
  c.Send("PUT /v2/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  EXPECT_EQ(c.Read().status, 400);
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, OversizedManifest) {
  Conn c(port_);
  c.Send("PUT /v2/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: "
         "application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 5000000\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.ErrorCode(), "MANIFEST_INVALID");
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, OversizedChunkedManifest) {
  // No Content-Length: the limit is enforced while the body streams in.
  Conn c(port_);
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
  Conn c(port_);
  auto bad_json = c.Request("PUT", "/v2/app/manifests/v1", "{\"schemaVersion\":",
                            "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.ErrorCode(), "MANIFEST_INVALID");
  EXPECT_EQ(c.Request("GET", "/v2/Bad_Name/tags/list").ErrorCode(), "NAME_INVALID");
  EXPECT_EQ(c.Request("GET", "/v2/app/blobs/sha256:123").ErrorCode(), "DIGEST_INVALID");
  EXPECT_EQ(c.Request("PATCH", "/v2/app/blobs/uploads/nosuch", "x").ErrorCode(),
            "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(c.Request("GET", "/v2/app/tags/list?n=x").ErrorCode(), "PAGINATION_NUMBER_INVALID");
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, GarbageRequestLine) {
  Conn c(port_);
  c.Send("\x16\x03\x01 this is not http\r\n\r\n");
  EXPECT_EQ(c.Read().status, 400);
  ExpectStillServing();
}

TEST_F(RegistryNodeTest, SlowClientsAreCutOff) {
  Conn head_only(port_);
  head_only.Send("GET /v2/ HTTP/1.1\r\nHost: x\r\n");  // never finishes its head
  Conn slow_body(port_);
  auto post = slow_body.Request("POST", "/v2/app/blobs/uploads/");
  ASSERT_EQ(post.status, 202);
  std::string location = post.head.substr(post.head.find("Location: ") + 10);
  location = location.substr(0, location.find("\r\n"));
  slow_body.Send("PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123");
  EXPECT_TRUE(head_only.ClosedByServer());
  EXPECT_TRUE(slow_body.ClosedByServer());
  // The interrupted chunk was not acknowledged.
  Conn c(port_);
  auto status = c.Request("GET", location);
  EXPECT_EQ(status.status, 204);
  EXPECT_NE(status.head.find("Range: 0-0"), std::string::npos) << status.head;
  ExpectStillServing();
}

}  // namespace
}  // namespace cove::daemon
