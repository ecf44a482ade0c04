// http::HttpClient over TLS against cove's own HTTP server (http::Server with a certificate from a
// test CA): the chain, SNI and the host name are checked, and a request goes through.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include "http/client.h"
#include "common/clock.h"
#include "http/message.h"
#include "http/server.h"
#include "http/tls.h"
#include "support/temp_dir.h"

namespace cove::cli {
namespace {

using cove::testing::TempDir;

// Answers with what it saw: method, target, SNI, Content-Type and body.
class Reflect final : public http::Handler {
 public:
  http::ExchangePtr Start(http::Request request) override {
    return http::Buffer(
        1 << 20, http::Response::Text(413, "text/plain", "too large"), [request](std::string body) {
          std::string type(request.headers.Get("Content-Type").value_or(""));
          std::string host(request.headers.Get("Host").value_or(""));
          return http::Response::Text(200, "text/plain",
                                      request.method + " " + request.target +
                                          " sni=" + request.peer.server_name + " host=" + host +
                                          " type=" + type + " body=" + body);
        });
  }
};

// One TLS listener on 127.0.0.1 whose certificate names only `cert_name`.
class TlsServer {
 public:
  TlsServer(const std::string& dir, const std::string& cert_name) {
    ca_ = std::move(*http::CertificateAuthority::LoadOrCreate(dir + "/ca", clock_));
    provider_ = std::make_unique<http::SniContextProvider>(
        *ca_, dir + "/hosts", clock_, [](std::string_view) { return false; }, cert_name);
    server_ = std::make_unique<http::Server>(handler_, provider_.get());
    auto port = server_->Listen({.address = "127.0.0.1", .port = 0, .tls = true});
    port_ = port ? *port : 0;
    server_->Start();
    ca_file_ = dir + "/ca.crt";
    std::ofstream(ca_file_) << ca_->CertificatePem();
  }
  ~TlsServer() { server_->Stop(); }
  uint16_t port() const { return port_; }
  const std::string& ca_file() const { return ca_file_; }

 private:
  SystemClock clock_;
  Reflect handler_;
  std::unique_ptr<http::CertificateAuthority> ca_;
  std::unique_ptr<http::SniContextProvider> provider_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
  std::string ca_file_;
};

TEST(HttpsClientTest, ParsesHttpsEndpointsWithADefaultPort) {
  auto c = http::HttpClient::Create("https://myregistry.azurecr.io");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->https());
  EXPECT_EQ(c->endpoint(), "https://myregistry.azurecr.io");
  EXPECT_TRUE(http::HttpClient::Create("https://[::1]:8443/"));
  EXPECT_FALSE(http::HttpClient::Create("http://no-port"));
  EXPECT_FALSE(http::HttpClient::Create("ftp://x:1"));
  EXPECT_FALSE(http::HttpClient::Create("https://host/path"));
}

TEST(HttpsClientTest, TalksToAServerWhoseCertificateNamesTheHost) {
  TempDir dir;
  TlsServer server(dir.path(), "localhost");
  ASSERT_NE(server.port(), 0);
  auto c = http::HttpClient::Create("https://localhost:" + std::to_string(server.port()),
                              std::chrono::seconds(10), {.ca_file = server.ca_file()});
  ASSERT_TRUE(c);
  auto r = c->Send("POST", "/oauth2/exchange", "grant_type=access_token&service=x",
                   "application/x-www-form-urlencoded", {{"X-Test", "1"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "POST /oauth2/exchange sni=localhost host=localhost:" + std::to_string(server.port()) +
                " type=application/x-www-form-urlencoded body=grant_type=access_token&service=x");
}

TEST(HttpsClientTest, AnIpAddressIsCheckedAgainstTheIpSan) {
  TempDir dir;
  TlsServer server(dir.path(), "127.0.0.1");
  ASSERT_NE(server.port(), 0);
  auto ok = http::HttpClient::Create("https://127.0.0.1:" + std::to_string(server.port()),
                               std::chrono::seconds(10), {.ca_file = server.ca_file()});
  auto r = ok->Send("GET", "/v2/", "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  // No SNI for an address (RFC 6066 forbids it).
  EXPECT_NE(r->body.find("sni= "), std::string::npos) << r->body;
}

TEST(HttpsClientTest, RefusesACertificateForAnotherName) {
  TempDir dir;
  TlsServer server(dir.path(), "other.example");
  ASSERT_NE(server.port(), 0);
  auto c = http::HttpClient::Create("https://localhost:" + std::to_string(server.port()),
                              std::chrono::seconds(10), {.ca_file = server.ca_file()});
  auto r = c->Send("GET", "/v2/", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_NE(r.error().message.find("TLS handshake with https://localhost:"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("mismatch"), std::string::npos) << r.error().message;
}

TEST(HttpsClientTest, RefusesAChainItDoesNotTrust) {
  TempDir dir, other;
  TlsServer server(dir.path(), "localhost");
  TlsServer stranger(other.path(), "localhost");  // another CA
  ASSERT_NE(server.port(), 0);
  auto c = http::HttpClient::Create("https://localhost:" + std::to_string(server.port()),
                              std::chrono::seconds(10), {.ca_file = stranger.ca_file()});
  auto r = c->Send("GET", "/v2/", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_NE(r.error().message.find("certificate"), std::string::npos) << r.error().message;
  // The system bundle does not know cove's test CA either.
  auto sys = http::HttpClient::Create("https://localhost:" + std::to_string(server.port()),
                                std::chrono::seconds(10), {.ca_file = "/nonexistent/ca.pem"});
  auto r2 = sys->Send("GET", "/v2/", "");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(HttpsClientTest, DefaultCaFileFollowsSslCertFile) {
  const char* saved = std::getenv("SSL_CERT_FILE");
  std::string keep = saved ? saved : "";
  ::setenv("SSL_CERT_FILE", "/tmp/bundle.pem", 1);
  EXPECT_EQ(http::DefaultCaFile(), "/tmp/bundle.pem");
  ::unsetenv("SSL_CERT_FILE");
  EXPECT_EQ(http::DefaultCaFile(), "/etc/ssl/certs/ca-certificates.crt");
  if (saved) ::setenv("SSL_CERT_FILE", keep.c_str(), 1);
}

}  // namespace
}  // namespace cove::cli
