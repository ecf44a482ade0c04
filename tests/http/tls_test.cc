// CertificateAuthority, SniContextProvider, and the server over TLS.
#include "http/tls.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "http/http_test_util.h"
#include "http/server.h"
#include "support/temp_dir.h"

namespace cove::http {
namespace {

using namespace cove::http::testing;

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr ParsePem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(cert);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Verifies `leaf` against `ca` as a TLS server certificate at time `at`.
bool Verifies(X509* leaf, X509* ca, time_t at) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

std::string Serial(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

TEST(CertificateAuthorityTest, CreatesPersistsAndReloads) {
  cove::testing::TempDir dir;
  ManualClock clock;
  std::string ca_dir = dir.Join("tls");
  auto ca = CertificateAuthority::LoadOrCreate(ca_dir, clock);
  ASSERT_TRUE(ca) << ca.error().ToString();
  struct stat st;
  ASSERT_EQ(::stat((ca_dir + "/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(ca_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(ReadAll(ca_dir + "/ca.crt"), (*ca)->CertificatePem());

  X509Ptr cert = ParsePem((*ca)->CertificatePem());
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  int bc = X509_get_ext_by_NID(cert.get(), NID_basic_constraints, -1);
  ASSERT_GE(bc, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert.get(), bc)), 1);
  EXPECT_TRUE(X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);

  auto again = CertificateAuthority::LoadOrCreate(ca_dir, clock);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ((*again)->CertificatePem(), (*ca)->CertificatePem());

  cove::testing::TempDir other;
  auto different = CertificateAuthority::LoadOrCreate(other.Join("tls"), clock);
  ASSERT_TRUE(different);
  EXPECT_NE((*different)->CertificatePem(), (*ca)->CertificatePem());
}

TEST(CertificateAuthorityTest, RejectsMismatchedKey) {
  cove::testing::TempDir a, b;
  ManualClock clock;
  ASSERT_TRUE(CertificateAuthority::LoadOrCreate(a.path(), clock));
  ASSERT_TRUE(CertificateAuthority::LoadOrCreate(b.path(), clock));
  std::ofstream(a.Join("ca.key")) << ReadAll(b.Join("ca.key"));
  auto ca = CertificateAuthority::LoadOrCreate(a.path(), clock);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error().code, Code::kCorruption);
}

TEST(CertificateAuthorityTest, IssuesServerCertificates) {
  cove::testing::TempDir dir;
  ManualClock clock;
  auto ca = CertificateAuthority::LoadOrCreate(dir.path(), clock);
  ASSERT_TRUE(ca);
  auto issued = (*ca)->Issue({"reg.example.test", "127.0.0.1", "::1"});
  ASSERT_TRUE(issued) << issued.error().ToString();
  X509Ptr leaf = ParsePem(issued->certificate_pem);
  X509Ptr root = ParsePem((*ca)->CertificatePem());
  ASSERT_TRUE(leaf);
  EXPECT_EQ(X509_check_host(leaf.get(), "reg.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "other.example.test", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER);
  EXPECT_NE(X509_get0_authority_key_id(leaf.get()), nullptr);

  time_t now = UnixSeconds(clock.Now());
  EXPECT_TRUE(Verifies(leaf.get(), root.get(), now));
  EXPECT_FALSE(Verifies(leaf.get(), root.get(), now + 400 * 86400));  // one year validity

  // Random serials.
  auto second = (*ca)->Issue({"reg.example.test"});
  ASSERT_TRUE(second);
  EXPECT_NE(Serial(ParsePem(second->certificate_pem).get()), Serial(leaf.get()));

  EXPECT_EQ((*ca)->Issue({"bad name/with slash"}).error().code, Code::kInvalidArgument);
  EXPECT_EQ((*ca)->Issue({}).error().code, Code::kInvalidArgument);
}

class SniTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(dir_.Join("tls"), clock_);
    ASSERT_TRUE(ca) << ca.error().ToString();
    ca_ = std::move(*ca);
    provider_ = MakeProvider(*ca_);
  }
  std::unique_ptr<SniContextProvider> MakeProvider(const CertificateAuthority& ca) {
    return std::make_unique<SniContextProvider>(
        ca, dir_.Join("tls/hosts"), clock_,
        [](std::string_view name) { return name.ends_with(".example.test"); },
        "default.example.test");
  }
  static X509* Leaf(SSL_CTX* ctx) { return SSL_CTX_get0_certificate(ctx); }

  cove::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<SniContextProvider> provider_;
};

TEST_F(SniTest, ContextPerAcceptedNameCachedOnDisk) {
  SSL_CTX* reg = provider_->ContextFor("reg.example.test");
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(provider_->ContextFor("reg.example.test"), reg);
  EXPECT_EQ(X509_check_host(Leaf(reg), "reg.example.test", 0, 0, nullptr), 1);
  struct stat st;
  ASSERT_EQ(::stat(dir_.Join("tls/hosts/reg.example.test.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(::stat(dir_.Join("tls/hosts/reg.example.test.crt").c_str(), &st), 0);

  // Not accepted, unsafe as a file name, or absent: the default name's certificate.
  SSL_CTX* def = provider_->DefaultContext();
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(X509_check_host(Leaf(def), "default.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(provider_->ContextFor("evil.other.test"), def);
  EXPECT_EQ(provider_->ContextFor("../../etc/x.example.test"), def);
  EXPECT_EQ(provider_->ContextFor(""), def);
  EXPECT_NE(::stat(dir_.Join("tls/hosts/evil.other.test.crt").c_str(), &st), 0);

  // Another provider (a restart) loads the same certificate from disk.
  auto restarted = MakeProvider(*ca_);
  SSL_CTX* reloaded = restarted->ContextFor("reg.example.test");
  ASSERT_NE(reloaded, nullptr);
  EXPECT_EQ(Serial(Leaf(reloaded)), Serial(Leaf(reg)));
}

TEST_F(SniTest, ReissuesNearExpiryAndForAnotherCa) {
  SSL_CTX* first = provider_->ContextFor("reg.example.test");
  ASSERT_NE(first, nullptr);
  std::string serial = Serial(Leaf(first));

  clock_.Advance(std::chrono::hours(24 * 300));  // 65 days left: still fine
  EXPECT_EQ(provider_->ContextFor("reg.example.test"), first);

  clock_.Advance(std::chrono::hours(24 * 40));  // 25 days left: reissue
  SSL_CTX* renewed = provider_->ContextFor("reg.example.test");
  ASSERT_NE(renewed, nullptr);
  EXPECT_NE(Serial(Leaf(renewed)), serial);
  X509Ptr root = ParsePem(ca_->CertificatePem());
  EXPECT_TRUE(Verifies(Leaf(renewed), root.get(), UnixSeconds(clock_.Now()) + 300 * 86400));

  // A provider on a different CA does not use the cached certificate.
  cove::testing::TempDir other;
  auto other_ca = CertificateAuthority::LoadOrCreate(other.path(), clock_);
  ASSERT_TRUE(other_ca);
  auto other_provider = MakeProvider(**other_ca);
  SSL_CTX* ctx = other_provider->ContextFor("reg.example.test");
  ASSERT_NE(ctx, nullptr);
  X509Ptr other_root = ParsePem((*other_ca)->CertificatePem());
  EXPECT_TRUE(Verifies(Leaf(ctx), other_root.get(), UnixSeconds(clock_.Now())));
  EXPECT_FALSE(Verifies(Leaf(ctx), root.get(), UnixSeconds(clock_.Now())));
}

// The server over TLS. Certificates are checked by the client against the real time, so these
// use the system clock.
class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::LoadOrCreate(dir_.Join("tls"), clock_);
    ASSERT_TRUE(ca) << ca.error().ToString();
    ca_ = std::move(*ca);
    provider_ = std::make_unique<SniContextProvider>(
        *ca_, dir_.Join("tls/hosts"), clock_,
        [](std::string_view name) { return name.ends_with(".example.test"); },
        "default.example.test");
    server_ = std::make_unique<Server>(handler_, provider_.get());
    ListenerOptions listener;
    listener.tls = true;
    port_ = ListenAndStart(*server_, listener);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  cove::testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<SniContextProvider> provider_;
  TestHandler handler_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(TlsServerTest, SniPicksVerifiableCertificate) {
  TlsClient client(port_, ca_->CertificatePem(), "Reg.Example.Test", "reg.example.test");
  ASSERT_NO_THROW(client.Handshake());
  X509* peer = SSL_get0_peer_certificate(client.stream().native_handle());
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(X509_check_host(peer, "reg.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(SSL_get_verify_result(client.stream().native_handle()), X509_V_OK);
  auto response = client.Do(Get("/peer"));
  std::string body = response.body();
  EXPECT_EQ(body.substr(0, body.rfind(' ')),
            "127.0.0.1 " + std::to_string(port_) + " tls reg.example.test -");
  // TLS 1.2 or newer.
  EXPECT_GE(SSL_version(client.stream().native_handle()), TLS1_2_VERSION);
}

TEST_F(TlsServerTest, WithoutSniGetsDefaultCertificate) {
  TlsClient client(port_, ca_->CertificatePem(), "", "default.example.test");
  ASSERT_NO_THROW(client.Handshake());
  EXPECT_EQ(client.Do(Get("/text")).body(), "hello world");
}

TEST_F(TlsServerTest, UntrustedCaFailsVerification) {
  cove::testing::TempDir other;
  auto other_ca = CertificateAuthority::LoadOrCreate(other.path(), clock_);
  ASSERT_TRUE(other_ca);
  TlsClient client(port_, (*other_ca)->CertificatePem(), "reg.example.test", "reg.example.test");
  EXPECT_THROW(client.Handshake(), boost::system::system_error);
}

TEST_F(TlsServerTest, FileBodyOverTls) {
  std::string data = PseudoRandom(64 << 20, 9);
  handler_.file_path = dir_.Join("blob");
  std::ofstream(handler_.file_path, std::ios::binary) << data;
  TlsClient client(port_, ca_->CertificatePem(), "reg.example.test", "reg.example.test");
  client.Handshake();
  auto response = client.Do(Get("/file"));
  ASSERT_EQ(response.result_int(), 200);
  ASSERT_EQ(response.body().size(), data.size());
  EXPECT_EQ(Digest::Of(response.body()), Digest::Of(data));

  auto range = client.Do(Get("/file?offset=12345&length=1000000"));
  EXPECT_EQ(range.body(), data.substr(12345, 1000000));

  auto upload = Get("/count", bhttp::verb::put);
  upload.body() = data.substr(0, 5 << 20);
  auto counted = client.Do(upload);
  EXPECT_NE(counted.body().find("bytes=" + std::to_string(5 << 20) + " "), std::string::npos);
}

TEST_F(TlsServerTest, StreamBodyOverTls) {
  std::string data = PseudoRandom(16 << 20, 10);
  handler_.file_path = dir_.Join("blob");
  std::ofstream(handler_.file_path, std::ios::binary) << data;
  TlsClient client(port_, ca_->CertificatePem(), "reg.example.test", "reg.example.test");
  client.Handshake();
  auto response = client.Do(Get("/stream"));
  ASSERT_EQ(response.result_int(), 200);
  ASSERT_EQ(response.body().size(), data.size());
  EXPECT_EQ(Digest::Of(response.body()), Digest::Of(data));
  auto range = client.Do(Get("/stream?offset=12345&length=1000000"));
  EXPECT_EQ(range.body(), data.substr(12345, 1000000));
}

}  // namespace
}  // namespace cove::http
