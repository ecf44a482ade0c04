// Pulling for real: `coved registry` (a child process, TLS on a loopback port, ACR's `auth:`
// with an admin user and its data endpoint on) serves busybox images built here by hand and
// pushed with the Distribution API; runtime::Pull, and `coved pull` as a process, fetch and
// unpack them. The paths a registry here cannot show (a digest that lies, a redirect to another
// host, IMDS and the /oauth2/exchange) run against a fake Transport.
#include "runtime/pull.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "runtime/credentials.h"
#include "runtime/image_ref.h"
#include "runtime/layer_builder.h"
#include "support/temp_dir.h"

namespace cove::runtime {
namespace {

using json = nlohmann::json;
using cove::testing::BuildTar;
using cove::testing::TarEntry;
namespace fs = std::filesystem;

constexpr char kHost[] = "myregistry.azurecr.io";
constexpr char kAdmin[] = "myregistry";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RunShell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing

TEST(ImageReferenceTest, ReadsAsDockerDoes) {
  struct Case {
    std::string text, registry, repository, tag, digest;
  } cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", ""},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
      {"me/app", "docker.io", "me/app", "latest", ""},
      {"myregistry.azurecr.io/app:v1", "myregistry.azurecr.io", "app", "v1", ""},
      {"localhost:5000/a/b", "localhost:5000", "a/b", "latest", ""},
      {"localhost/app", "localhost", "app", "latest", ""},
      {"r.io:443/app@sha256:" + std::string(64, 'a'), "r.io:443", "app", "latest",
       "sha256:" + std::string(64, 'a')},
  };
  for (const auto& c : cases) {
    auto r = ParseImageReference(c.text);
    ASSERT_TRUE(r) << c.text << ": " << r.error().message;
    EXPECT_EQ(r->registry, c.registry) << c.text;
    EXPECT_EQ(r->repository, c.repository) << c.text;
    EXPECT_EQ(r->tag, c.tag) << c.text;
    EXPECT_EQ(r->digest ? r->digest->str() : "", c.digest) << c.text;
  }
  EXPECT_EQ(ParseImageReference("busybox")->endpoint_host(), "registry-1.docker.io");
  for (std::string bad : {"", "UPPER/app", "app:", "app:bad tag", "app@sha256:abc", "r.io/",
                          "r.io//app", "a b", "app:-x", "host:port:x/app"}) {
    auto r = ParseImageReference(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("invalid reference format"), std::string::npos);
    }
  }
}

TEST(CredentialsTest, ParsesChallengesAndCredentials) {
  auto c = ParseWwwAuthenticate(
      "Bearer realm=\"https://r.io/oauth2/token\",service=\"r.io\",scope=\"repository:a:pull\"");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].params.at("realm"), "https://r.io/oauth2/token");
  EXPECT_EQ((*c)[0].params.at("scope"), "repository:a:pull");
  c = ParseWwwAuthenticate("Basic realm=\"x, y\", Bearer realm=a,error=\"q\\\"t\"");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].params.at("realm"), "x, y");
  EXPECT_EQ((*c)[1].params.at("error"), "q\"t");
  EXPECT_FALSE(ParseWwwAuthenticate(""));
  EXPECT_FALSE(ParseWwwAuthenticate("Bearer realm=\"open"));

  EXPECT_EQ(ParseCredential("{}")->kind, Credential::Kind::kAnonymous);
  auto basic = ParseCredential(R"({"username":"u","password":"p"})");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->username, "u");
  EXPECT_EQ(ParseCredential(R"({"identity":"id"})")->identity, "id");
  for (const char* bad : {"", "[]", R"({"username":"u"})", R"({"identity":1})",
                          R"({"identity":"a","username":"u","password":"p"})", R"({"x":"y"})"}) {
    EXPECT_FALSE(ParseCredential(bad)) << bad;
  }
  EXPECT_EQ(*Base64Decode(Base64Encode("any carnal pleas")), "any carnal pleas");
  EXPECT_EQ(*Base64Decode("YQ"), "a");
  EXPECT_EQ(TenantOf("e30." + Base64Encode(R"({"tid":"t-1"})") + ".sig"), "t-1");
}

// ---------------------------------------------------------------------------------------------
// A fake transport: answers from a handler, feeds 2xx bodies to the sink, records requests.

// Lends a transport the test owns to a Main (which wants to own one).
TransportFactory Lend(Transport& t) {
  struct Borrowed final : Transport {
    Transport* t;
    explicit Borrowed(Transport* x) : t(x) {}
    Result<FetchResponse> Fetch(const FetchRequest& r, const BodySink* s, uint64_t l) override {
      return t->Fetch(r, s, l);
    }
  };
  return [&t](TransportOptions) { return std::make_unique<Borrowed>(&t); };
}

class FakeTransport final : public Transport {
 public:
  std::function<FetchResponse(const FetchRequest&)> handler;
  std::vector<FetchRequest> requests;

  Result<FetchResponse> Fetch(const FetchRequest& req, const BodySink* sink,
                              uint64_t limit) override {
    requests.push_back(req);
    FetchResponse res = handler(req);
    if (sink && res.status / 100 == 2) {
      COVE_RETURN_IF_ERROR((*sink)(res.body));
      res.body.clear();
    } else if (res.body.size() > limit) {
      return Fail(Code::kResourceExhausted, "too big");
    }
    return res;
  }
};

FetchResponse Answer(int status, std::string body,
                     std::map<std::string, std::string> headers = {}) {
  return FetchResponse{status, "", std::move(headers), std::move(body)};
}

// A one-layer image served by the fake: url → body.
struct FakeImage {
  std::string layer, config, manifest;
  Digest layer_digest, config_digest, manifest_digest;
  FakeImage() {
    std::string tar = BuildTar({{.path = "hello", .data = "world"}}, false);
    layer = BuildTar({{.path = "hello", .data = "world"}}, true);
    layer_digest = Digest::Of(layer);
    config = json{{"config", {{"Cmd", {"/hello"}}}},
                  {"rootfs", {{"type", "layers"}, {"diff_ids", {Digest::Of(tar).str()}}}}}
                 .dump();
    config_digest = Digest::Of(config);
    manifest = json{{"schemaVersion", 2},
                    {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                    {"config",
                     {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                      {"digest", config_digest.str()},
                      {"size", config.size()}}},
                    {"layers",
                     {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                       {"digest", layer_digest.str()},
                       {"size", layer.size()}}}}}
                   .dump();
    manifest_digest = Digest::Of(manifest);
  }
};

TEST(FakeRegistryTest, RedirectDropsAuthorizationAndALyingBlobIsRefused) {
  FakeImage image;
  cove::testing::TempDir dir;
  FakeTransport t;
  t.handler = [&](const FetchRequest& r) {
    const std::string base = "https://r.io/v2/";
    if (r.url == base) {
      return Answer(401, "", {{"www-authenticate", "Basic realm=\"r.io\""}});
    }
    if (r.url == base + "app/manifests/v1") {
      return Answer(200, image.manifest,
                    {{"content-type", "application/vnd.oci.image.manifest.v1+json"}});
    }
    if (r.url == base + "app/blobs/" + image.config_digest.str()) return Answer(200, image.config);
    if (r.url == base + "app/blobs/" + image.layer_digest.str()) {
      return Answer(307, "", {{"location", "https://data.r.io/blob?sig=1"}});
    }
    if (r.url == "https://data.r.io/blob?sig=1") {
      std::string lie = image.layer;
      lie[lie.size() / 2] ^= 1;
      return Answer(200, lie);
    }
    return Answer(404, R"({"errors":[{"code":"NOT_FOUND","message":"no"}]})");
  };
  PullOptions options{
      .image = "r.io/app:v1",
      .store = dir.Join("store"),
      .credential = {.kind = Credential::Kind::kBasic, .username = "u", .password = "p"}};
  auto out = Pull(options, t);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().stage, "blob");
  EXPECT_EQ(out.error().error.reason, "DIGEST_INVALID") << out.error().error.message;
  ASSERT_GE(t.requests.size(), 2u);
  EXPECT_EQ(t.requests.back().url, "https://data.r.io/blob?sig=1");
  EXPECT_EQ(t.requests.back().headers.count("Authorization"), 0u);
  EXPECT_EQ(t.requests[t.requests.size() - 2].headers.at("Authorization"),
            BasicAuthorization("u", "p"));
  // Nothing unverified is left in the store.
  EXPECT_TRUE(fs::is_empty(dir.Join("store") + "/blobs/sha256") ||
              !fs::exists(dir.Join("store") + "/blobs/sha256/" + image.layer_digest.hex()));
  for (const auto& e : fs::directory_iterator(dir.Join("store") + "/blobs/sha256")) {
    EXPECT_EQ(e.path().filename().string().find(".ingest"), std::string::npos);
  }

  // A manifest fetched by digest whose bytes hash to something else.
  options.image = "r.io/app@" + Digest::Of("other").str();
  t.handler = [&](const FetchRequest& r) {
    if (r.url == "https://r.io/v2/") return Answer(200, "{}");
    return Answer(200, image.manifest,
                  {{"content-type", "application/vnd.oci.image.manifest.v1+json"}});
  };
  out = Pull(options, t);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().stage, "manifest");
  EXPECT_EQ(out.error().error.reason, "DIGEST_INVALID");

  // A connection failure.
  t.handler = nullptr;
  struct Down final : Transport {
    Result<FetchResponse> Fetch(const FetchRequest&, const BodySink*, uint64_t) override {
      Error e{Code::kUnavailable, "cannot reach https://r.io (Connection refused)"};
      e.reason = "CONNECT";
      return Fail(e);
    }
  } down;
  out = Pull(options, down);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().stage, "resolve");
  json j = PullOutcomeJson(options.image, out);
  EXPECT_EQ(j["code"], "CONNECT");
  EXPECT_EQ(j["status"], 0);
  EXPECT_EQ(j["message"], "cannot reach https://r.io (Connection refused)");
}

TEST(FakeRegistryTest, ManagedIdentityExchangesThenUsesTheRefreshToken) {
  FakeImage image;
  cove::testing::TempDir dir;
  FakeTransport t;
  std::string identity_token = "e30." + Base64Encode(R"({"tid":"tenant-1"})") + ".sig";
  t.handler = [&](const FetchRequest& r) {
    if (r.url.rfind("http://169.254.169.254/metadata/identity/oauth2/token?", 0) == 0) {
      if (r.headers.count("Metadata") == 0) return Answer(400, "{}");
      return Answer(200, json{{"access_token", identity_token}}.dump());
    }
    if (r.url == "https://r.io/oauth2/exchange") return Answer(200, R"({"refresh_token":"RT"})");
    if (r.url == "https://r.io/v2/") {
      return Answer(
          401, "",
          {{"www-authenticate", "Bearer realm=\"https://r.io/oauth2/token\",service=\"r.io\""}});
    }
    if (r.url == "https://r.io/oauth2/token") return Answer(200, R"({"access_token":"AT"})");
    if (r.headers.count("Authorization") == 0 || r.headers.at("Authorization") != "Bearer AT") {
      return Answer(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"who?"}]})");
    }
    if (r.url == "https://r.io/v2/app/manifests/v1") {
      return Answer(200, image.manifest,
                    {{"content-type", "application/vnd.oci.image.manifest.v1+json"}});
    }
    if (r.url == "https://r.io/v2/app/blobs/" + image.config_digest.str()) {
      return Answer(200, image.config);
    }
    if (r.url == "https://r.io/v2/app/blobs/" + image.layer_digest.str()) {
      return Answer(200, image.layer);
    }
    return Answer(404, "");
  };
  PullOptions options{.image = "r.io/app:v1",
                      .store = dir.Join("store"),
                      .rootfs = dir.Join("rootfs"),
                      .credential = {.kind = Credential::Kind::kIdentity, .identity = "cid"}};
  auto out = Pull(options, t);
  ASSERT_TRUE(out) << out.error().stage << ": " << out.error().error.message;
  EXPECT_EQ(out->digest, image.manifest_digest);
  EXPECT_EQ(ReadFile(dir.Join("rootfs/hello")), "world");
  EXPECT_NE(t.requests[0].url.find("client_id=cid"), std::string::npos);
  EXPECT_NE(t.requests[0].url.find("resource=https%3A%2F%2Fmanagement.azure.com%2F"),
            std::string::npos);
  EXPECT_EQ(t.requests[1].body,
            "grant_type=access_token&service=r.io&tenant=tenant-1&"
            "access_token=" +
                identity_token);
  EXPECT_EQ(t.requests[3].method, "POST");
  EXPECT_EQ(t.requests[3].body,
            "grant_type=refresh_token&refresh_token=RT&service=r.io&scope=repository%3Aapp%3Apull");

  // The credential provider: same IMDS and exchange, kubelet's response.
  std::istringstream in(R"({"apiVersion":"credentialprovider.kubelet.k8s.io/v1",)"
                        R"("kind":"CredentialProviderRequest","image":"r.io/app:v1"})");
  std::ostringstream stdout_, stderr_;
  ASSERT_EQ(CredentialProviderMainWith({"--identity", "cid"}, in, stdout_, stderr_, Lend(t)), 0)
      << stderr_.str();
  json resp = json::parse(stdout_.str());
  EXPECT_EQ(resp["kind"], "CredentialProviderResponse");
  EXPECT_EQ(resp["apiVersion"], "credentialprovider.kubelet.k8s.io/v1");
  EXPECT_EQ(resp["cacheKeyType"], "Registry");
  EXPECT_EQ(resp["cacheDuration"], "0s");
  EXPECT_EQ(resp["auth"]["r.io"]["username"], kNullGuid);
  EXPECT_EQ(resp["auth"]["r.io"]["password"], "RT");

  // The registry refusing the exchange: one line, stage, ACR's code and message.
  t.handler = [&](const FetchRequest& r) {
    if (r.url.rfind("http://169.254.169.254/", 0) == 0) {
      return Answer(200, json{{"access_token", identity_token}}.dump());
    }
    return Answer(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"identity not allowed"}]})");
  };
  std::istringstream in2(R"({"image":"r.io/app:v1"})");
  std::ostringstream out2, err2;
  EXPECT_EQ(CredentialProviderMainWith({"--identity", "cid"}, in2, out2, err2, Lend(t)), 1);
  EXPECT_EQ(err2.str(), "exchange: UNAUTHORIZED: identity not allowed\n");
  EXPECT_EQ(out2.str(), "");
  std::istringstream in3("");
  std::ostringstream out3, err3;
  EXPECT_EQ(CredentialProviderMainWith({}, in3, out3, err3, Lend(t)), 2);
}

// ---------------------------------------------------------------------------------------------
// A real registry

class RegistryProcess {
 public:
  explicit RegistryProcess(const std::string& dir) {
    password_ = "Adm1n-" + std::to_string(::getpid());
    std::string hash = RunShell("printf '%s\\n' '" + password_ + "' | " HASH_PASSWORD_BIN);
    while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
    std::ofstream(dir + "/config.yaml")
        << "data_dir: " << dir << "/data\n"
        << "dns_suffix: azurecr.io\n"
        << "default_registry: myregistry\n"
        << "registries: [{name: myregistry, region: westus, data_endpoint_enabled: true}]\n"
        << "auth:\n  registries:\n    - name: myregistry\n"
        << "      admin_user: {enabled: true, password_hashes: [\"" << hash << "\"]}\n"
        << "      anonymous_pull: false\n";
    ca_ = dir + "/data/tls/ca.crt";
    std::string config = dir + "/config.yaml";
    std::vector<std::string> args = {COVED_BIN,  "registry",    "--config",      config,
                                     "--listen", "127.0.0.1:0", "--gc-interval", "0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      while (true) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        std::lock_guard<std::mutex> lock(mu_);
        if (n <= 0) break;
        log_.append(buf, static_cast<size_t>(n));
        cv_.notify_all();
      }
      ::close(fd);
    });
  }
  ~RegistryProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }
  // The TLS port from "listening on 127.0.0.1:<port> (TLS)"; 0 when it did not come.
  int Port() {
    std::unique_lock<std::mutex> lock(mu_);
    int port = 0;
    cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      const std::string marker = "listening on 127.0.0.1:";
      for (size_t at = log_.find(marker); at != std::string::npos; at = log_.find(marker, at + 1)) {
        size_t b = at + marker.size(), e = b;
        while (e < log_.size() && isdigit(static_cast<unsigned char>(log_[e]))) ++e;
        if (e > b && log_.compare(e, 6, " (TLS)") == 0) port = std::stoi(log_.substr(b, e - b));
      }
      return port != 0;
    });
    return port;
  }
  std::string log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  const std::string& ca() const { return ca_; }
  const std::string& password() const { return password_; }

 private:
  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_, ca_, password_;
};

struct BuiltImage {
  Digest digest;
  std::string busybox;  // bin/busybox's bytes
};

class PullTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new cove::testing::TempDir();
    registry_ = new RegistryProcess(dir_->path());
    port_ = registry_->Port();
    ASSERT_NE(port_, 0) << registry_->log();
    transport_ =
        NewHttpsTransport({.ca_file = registry_->ca(), .connect_to = ConnectTo()}).release();
  }
  static void TearDownTestSuite() {
    delete transport_;
    delete registry_;
    delete dir_;
  }
  static std::string ConnectTo() { return "127.0.0.1:" + std::to_string(port_); }

  // Distribution API push as the admin user.
  static Result<FetchResponse> Send(const std::string& method, const std::string& url,
                                    std::string body, std::string type = "") {
    FetchRequest r{.method = method, .url = url, .body = std::move(body)};
    r.headers["Authorization"] = BasicAuthorization(kAdmin, registry_->password());
    if (!type.empty()) r.headers["Content-Type"] = type;
    return transport_->Fetch(r, nullptr, 1 << 20);
  }
  static void PushBlob(const std::string& repo, const std::string& bytes) {
    std::string base = std::string("https://") + kHost;
    auto started = Send("POST", base + "/v2/" + repo + "/blobs/uploads/", "");
    ASSERT_TRUE(started) << started.error().message;
    ASSERT_EQ(started->status, 202) << started->body;
    std::string location = started->headers["location"];
    if (location.rfind("/", 0) == 0) location = base + location;
    location += (location.find('?') == std::string::npos ? "?" : "&");
    auto put = Send("PUT", location + "digest=" + Digest::Of(bytes).str(), bytes,
                    "application/octet-stream");
    ASSERT_TRUE(put) << put.error().message;
    ASSERT_EQ(put->status, 201) << put->body;
  }
  // Pushes an image of `layers` (each a list of entries) and returns its manifest's digest.
  static Digest PushImage(const std::string& repo, const std::string& tag,
                          const std::vector<std::vector<TarEntry>>& layers,
                          const json& config_section, bool lie_about_diff_id = false) {
    json diff_ids = json::array(), descriptors = json::array();
    for (const auto& entries : layers) {
      std::string gz = BuildTar(entries, true);
      diff_ids.push_back(lie_about_diff_id ? Digest::Of("lie").str()
                                           : Digest::Of(BuildTar(entries, false)).str());
      PushBlob(repo, gz);
      descriptors.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                             {"digest", Digest::Of(gz).str()},
                             {"size", gz.size()}});
    }
    std::string config = json{{"architecture", "amd64"},
                              {"os", "linux"},
                              {"config", config_section},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}}
                             .dump();
    PushBlob(repo, config);
    std::string manifest = json{
        {"schemaVersion", 2},
        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
        {"config",
         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
          {"digest", Digest::Of(config).str()},
          {"size", config.size()}}},
        {"layers",
         descriptors}}.dump();
    auto put = Send("PUT", std::string("https://") + kHost + "/v2/" + repo + "/manifests/" + tag,
                    manifest, "application/vnd.oci.image.manifest.v1+json");
    EXPECT_TRUE(put && put->status == 201) << (put ? put->body : put.error().message);
    return Digest::Of(manifest);
  }
  static std::vector<TarEntry> Busybox() {
    std::vector<TarEntry> e = {
        {.path = "bin", .type = 'd', .mode = 0755},
        {.path = "bin/busybox", .data = ReadFile("/bin/busybox"), .mode = 0755}};
    for (const char* applet : {"sh", "echo", "cat", "ls"}) {
      e.push_back({.path = std::string("bin/") + applet, .type = 'l', .link = "busybox"});
    }
    e.push_back({.path = "tmp", .type = 'd', .mode = 01777});
    return e;
  }
  PullOptions Options(const std::string& image, const std::string& password) {
    return PullOptions{
        .image = image,
        .store = local_.Join("store"),
        .rootfs = local_.Join("rootfs"),
        .credential = {.kind = Credential::Kind::kBasic, .username = kAdmin, .password = password}};
  }

  static cove::testing::TempDir* dir_;
  static RegistryProcess* registry_;
  static int port_;
  static Transport* transport_;
  cove::testing::TempDir local_;
};

cove::testing::TempDir* PullTest::dir_ = nullptr;
RegistryProcess* PullTest::registry_ = nullptr;
int PullTest::port_ = 0;
Transport* PullTest::transport_ = nullptr;

const json kBusyboxConfig = {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}, {"WorkingDir", "/"}};

TEST_F(PullTest, PullsAndUnpacksBusyboxWithBasicCredentials) {
  ASSERT_TRUE(fs::exists("/bin/busybox")) << "scripts/install-deps installs busybox-static";
  Digest pushed = PushImage("busybox", "v1", {Busybox()}, kBusyboxConfig);
  auto out = Pull(Options(std::string(kHost) + "/busybox:v1", registry_->password()), *transport_);
  ASSERT_TRUE(out) << out.error().stage << ": " << out.error().error.reason << ": "
                   << out.error().error.message;
  EXPECT_EQ(out->digest, pushed);
  EXPECT_EQ(out->config, kBusyboxConfig);
  EXPECT_EQ(out->layers, 1);
  EXPECT_GT(out->bytes, 0u);
  EXPECT_EQ(ReadFile(local_.Join("rootfs/bin/busybox")), ReadFile("/bin/busybox"));
  EXPECT_EQ(fs::read_symlink(local_.Join("rootfs/bin/sh")), "busybox");
  EXPECT_TRUE(fs::exists(local_.Join("store/blobs/sha256/" + pushed.hex())));

  // Again into another rootfs: the store's blobs are reused.
  PullOptions again = Options(std::string(kHost) + "/busybox:v1", registry_->password());
  again.rootfs = local_.Join("rootfs2");
  auto second = Pull(again, *transport_);
  ASSERT_TRUE(second) << second.error().error.message;
  EXPECT_EQ(ReadFile(local_.Join("rootfs2/bin/busybox")), ReadFile("/bin/busybox"));
}

TEST_F(PullTest, RefusalsCarryTheRegistrysCodeAndMessage) {
  PushImage("refusals", "v1", {{{.path = "f", .data = "x"}}}, json::object());
  auto wrong = Pull(Options(std::string(kHost) + "/refusals:v1", "wrong"), *transport_);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().stage, "credential");
  EXPECT_EQ(wrong.error().error.reason, "UNAUTHORIZED");
  EXPECT_EQ(wrong.error().error.http_status, 401);
  // ACR's message, verbatim (not a status line made up here).
  EXPECT_NE(wrong.error().error.message.find("authentication required"), std::string::npos)
      << wrong.error().error.message;

  auto unknown =
      Pull(Options(std::string(kHost) + "/refusals:nope", registry_->password()), *transport_);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().stage, "manifest");
  EXPECT_EQ(unknown.error().error.reason, "MANIFEST_UNKNOWN");
  EXPECT_EQ(unknown.error().error.http_status, 404);

  auto malformed =
      Pull(Options(std::string(kHost) + "/Refusals:v1", registry_->password()), *transport_);
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().stage, "resolve");
  EXPECT_EQ(malformed.error().error.reason, "NAME_INVALID");

  PushImage("liar", "v1", {{{.path = "f", .data = "x"}}}, json::object(),
            /*lie_about_diff_id=*/true);
  auto liar = Pull(Options(std::string(kHost) + "/liar:v1", registry_->password()), *transport_);
  ASSERT_FALSE(liar);
  EXPECT_EQ(liar.error().stage, "unpack");
  EXPECT_EQ(liar.error().error.reason, "DIGEST_INVALID");
  EXPECT_FALSE(fs::exists(local_.Join("rootfs/f")));
}

TEST_F(PullTest, LayersApplyInOrderWithWhiteouts) {
  PushImage("layered", "v1",
            {{{.path = "etc/keep", .data = "1"},
              {.path = "etc/gone", .data = "2"},
              {.path = "var/x", .data = "3"}},
             {{.path = "etc/.wh.gone", .data = ""},
              {.path = "var/.wh..wh..opq", .data = ""},
              {.path = "var/y", .data = "4"}}},
            json::object());
  auto out = Pull(Options(std::string(kHost) + "/layered:v1", registry_->password()), *transport_);
  ASSERT_TRUE(out) << out.error().error.message;
  EXPECT_EQ(out->layers, 2);
  EXPECT_EQ(out->config, json::object());
  EXPECT_TRUE(fs::exists(local_.Join("rootfs/etc/keep")));
  EXPECT_FALSE(fs::exists(local_.Join("rootfs/etc/gone")));
  EXPECT_FALSE(fs::exists(local_.Join("rootfs/var/x")));
  EXPECT_EQ(ReadFile(local_.Join("rootfs/var/y")), "4");
}

TEST_F(PullTest, CovedPullAsAProcess) {
  Digest pushed = PushImage("proc", "v1", {Busybox()}, kBusyboxConfig);
  std::string cred = local_.Join("cred.json");
  std::ofstream(cred) << json{{"username", kAdmin}, {"password", registry_->password()}}.dump();
  std::string cmd = std::string(COVED_BIN) + " pull --image " + kHost + "/proc:v1 --store " +
                    local_.Join("store") + " --rootfs " + local_.Join("rootfs") + " --ca " +
                    registry_->ca() + " --connect-to " + ConnectTo() + " < " + cred;
  std::string stdout_ = RunShell(cmd + "; echo \"exit=$?\"");
  size_t exit_at = stdout_.rfind("exit=");
  ASSERT_NE(exit_at, std::string::npos);
  EXPECT_EQ(stdout_.substr(exit_at), "exit=0\n") << stdout_;
  json j = json::parse(stdout_.substr(0, exit_at), nullptr, false);
  ASSERT_TRUE(j.is_object()) << stdout_;
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["image"], std::string(kHost) + "/proc:v1");
  EXPECT_EQ(j["digest"], pushed.str());
  EXPECT_EQ(j["config"], kBusyboxConfig);
  EXPECT_EQ(j["layers"], 1);
  EXPECT_EQ(ReadFile(local_.Join("rootfs/bin/busybox")), ReadFile("/bin/busybox"));

  // A wrong password: exit 1, one JSON object.
  std::ofstream(cred) << R"({"username":"myregistry","password":"nope"})";
  std::string bad =
      RunShell(std::string(COVED_BIN) + " pull --image " + kHost + "/proc:v1 --store " +
               local_.Join("store") + " --ca " + registry_->ca() + " --connect-to " + ConnectTo() +
               " < " + cred + "; echo \"exit=$?\"");
  exit_at = bad.rfind("exit=");
  EXPECT_EQ(bad.substr(exit_at), "exit=1\n") << bad;
  j = json::parse(bad.substr(0, exit_at), nullptr, false);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["stage"], "credential");
  EXPECT_EQ(j["code"], "UNAUTHORIZED");
  EXPECT_EQ(j["status"], 401);

  // Usage errors: exit 2, nothing on stdout.
  std::string usage = RunShell(std::string(COVED_BIN) +
                               " pull --store x </dev/null 2>/dev/null; "
                               "echo \"exit=$?\"");
  EXPECT_EQ(usage, "exit=2\n");
}

}  // namespace
}  // namespace cove::runtime
