// Authentication and authorization over loopback: a real http::Server in front of the access
// Gate (which decides the network, access/access.h) and the Registry with the Authenticator as
// its authorizer, on the real stores, talked to as Docker clients
// talk to ACR (challenge → token endpoint → bearer), and with Basic credentials directly.
// The matrix test runs every identity × operation × repository and checks each outcome.
#include "auth/authenticator.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <map>
#include <nlohmann/json.hpp>

#include "access/access.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "common/digest.h"
#include "http/server.h"
#include "registry/registry.h"
#include "storage/filesystem_blob_store.h"
#include "storage/sqlite_meta_store.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::auth {
namespace {

using json = nlohmann::json;

constexpr char kLogin[] = "myregistry.azurecr.io";
constexpr char kOther[] = "otherreg.azurecr.io";
constexpr char kOpen[] = "plainreg.azurecr.io";

std::string B64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n);
  return out;
}
std::string Basic(const std::string& user, const std::string& password) {
  return "Basic " + B64(user + ":" + password);
}
std::string Escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
  std::string Header(std::string_view name) const {
    cove::testing::RawReply r;
    r.head = head;
    return r.Header(name);
  }
  std::string ErrorCode() const {
    auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("errors")) return "";
    return j["errors"][0]["code"].get<std::string>();
  }
  json Json() const { return json::parse(body, nullptr, false); }
};

// Who calls, and how they obtain credentials.
struct Identity {
  std::string label;
  std::string user;      // Basic user name ("" for anonymous)
  std::string password;  // or a refresh token for the null GUID
};

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto blobs = storage::FilesystemBlobStore::Open(dir_.Join("blobs"), clock_);
    ASSERT_TRUE(blobs);
    blobs_ = std::move(*blobs);
    auto meta = storage::SqliteMetaStore::Open(dir_.Join("meta.db"));
    ASSERT_TRUE(meta);
    meta_ = std::move(*meta);
    registry_keys_ = std::move(*KeyRing::Open(dir_.Join("keys/token-signing"), clock_));
    identity_keys_ = std::move(*KeyRing::Open(dir_.Join("keys/identity-signing"), clock_));
    tokens_ = std::make_unique<TokenService>(*registry_keys_, *identity_keys_, clock_);
    ASSERT_TRUE(Publish(Data()));
    // The matrix fails on purpose many times from one address: failure limits (covered by
    // tests/security/limits_test.cc) would answer 429 part way through.
    AuthenticatorOptions auth_options;
    auth_options.passwords.source_burst = 1'000'000;
    auth_options.passwords.principal_burst = 1'000'000;
    authenticator_ = std::make_shared<Authenticator>(store_, *tokens_, clock_, auth_options);

    registry::RegistryInfo mine{"myregistry", "westus", {"westus"}, false};
    registry::RegistryInfo other{"otherreg", "westus", {"westus"}, false};
    registry::RegistryInfo open{"plainreg", "westus", {"westus"}, false};
    auto directory = registry::Directory::Create("azurecr.io", {mine, other, open}, "plainreg");
    ASSERT_TRUE(directory);
    registry::RegistryOptions options;
    options.authorizer = authenticator_;
    registry_ =
        std::make_unique<registry::Registry>(*directory, *blobs_, *meta_, signer_, clock_, options);
    gate_ = std::make_unique<access::Gate>(*registry_, [this](const std::string& host) {
      auto match = registry_->directory()->Match(host);
      return match ? match->registry->name : std::string();
    });
    gate_->SetPolicy(policy_);
    server_ = std::make_unique<http::Server>(*gate_, nullptr);
    port_ = *server_->Listen({.address = "127.0.0.1", .port = 0});
    private_port_ = *server_->Listen({.address = "127.0.0.1", .port = 0, .link_id = 7});
    server_->Start();
  }
  void TearDown() override {
    server_->Stop();
    server_.reset();
    gate_.reset();
    registry_.reset();
  }

  static std::string Hash(const std::string& password) {
    return *HashPassword(password, HashCost::kMinimal);
  }

  IdentityData Data() {
    IdentityData d;
    auto sp = [&](std::string id, std::string name, std::string pw) {
      d.principals.push_back({id, PrincipalKind::kServicePrincipal, name, Hash(pw)});
    };
    sp("sp-pull", "puller", "pull-secret");
    sp("sp-push", "pusher", "push-secret");
    sp("sp-delete", "deleter", "delete-secret");
    sp("sp-owner", "owner", "owner-secret");
    sp("sp-reader", "reader", "reader-secret");
    sp("sp-none", "norole", "none-secret");
    d.principals.push_back(
        {"user-alice", PrincipalKind::kUser, "alice@contoso.com", Hash("alice-pw")});
    d.principals.push_back({"mi-aci", PrincipalKind::kManagedIdentity, "aci", ""});
    d.principals.push_back({"mi-vm", PrincipalKind::kManagedIdentity, "vm-identity", ""});
    d.assignments = {
        {"sp-pull", Role::kAcrPull, "myregistry"},     {"sp-push", Role::kAcrPush, "myregistry"},
        {"sp-delete", Role::kAcrDelete, "myregistry"}, {"sp-owner", Role::kOwner, "myregistry"},
        {"sp-reader", Role::kReader, "myregistry"},    {"user-alice", Role::kAcrPush, "myregistry"},
        {"mi-aci", Role::kAcrPull, "myregistry"},      {"mi-vm", Role::kAcrPull, "myregistry"},
        {"sp-owner", Role::kOwner, "otherreg"}};
    RegistryAuth r;
    r.registry = "myregistry";
    r.admin.enabled = true;
    r.admin.password_hashes = {Hash("admin-pw-1"), Hash("admin-pw-2")};
    r.scope_maps = {
        {"app-read", {"repositories/app/content/read", "repositories/app/metadata/read"}},
        {"samples-rw",
         {"repositories/samples/*/content/read", "repositories/samples/*/content/write"}}};
    auto token = [&](std::string name, std::string map, std::string pw, bool enabled = true) {
      RepositoryToken t;
      t.name = name;
      t.enabled = enabled;
      t.scope_map = map;
      t.passwords[0] = TokenPassword{Hash(pw), std::nullopt};
      r.tokens.push_back(t);
    };
    token("reader-token", "app-read", "tok-read");
    token("samples-token", "samples-rw", "tok-samples");
    token("disabled-token", "app-read", "tok-disabled", false);
    RepositoryToken expiring;
    expiring.name = "expiring-token";
    expiring.scope_map = "app-read";
    expiring.passwords[0] = TokenPassword{Hash("old-pw"), clock_.Now() - std::chrono::hours(1)};
    expiring.passwords[1] = TokenPassword{Hash("new-pw"), clock_.Now() + std::chrono::hours(1)};
    r.tokens.push_back(expiring);
    d.registries.push_back(r);
    RegistryAuth other;
    other.registry = "otherreg";
    d.registries.push_back(other);
    return d;
  }

  // The identities, and the Gate's network rules from the registries' network settings (as
  // coved registry makes them), the private endpoint (link id 7) and trusted_.
  Status Publish(IdentityData data) {
    auto policy = std::make_shared<access::Policy>();
    for (const auto& r : data.registries) {
      policy->registries[r.registry] = {r.registry, r.public_network_access,
                                        r.bypass == NetworkBypass::kAzureServices, "Allow", {}};
    }
    policy->links[7] = {"myregistry", "pe", "pe.conn", "Approved"};
    policy->trusted_service_sources = trusted_;
    auto snapshot = IdentitySnapshot::Build(std::move(data));
    if (!snapshot) return Fail(snapshot.error());
    store_.Set(*snapshot);
    policy_ = std::move(policy);
    if (gate_) gate_->SetPolicy(policy_);
    return Ok();
  }
  // Changes the current data and publishes it.
  template <typename F>
  void Change(F f) {
    IdentityData d = store_.Get()->data();
    f(d);
    ASSERT_TRUE(Publish(std::move(d)));
  }

  Reply Do(const std::string& method, const std::string& target, const std::string& body = "",
           std::map<std::string, std::string> headers = {}, const std::string& host = kLogin,
           bool private_endpoint = false) {
    cove::testing::RawHttp conn(private_endpoint ? private_port_ : port_);
    auto raw = conn.Request(method, target, body, headers, host);
    return {raw.status, raw.head, raw.body};
  }

  // GET /oauth2/token with Basic credentials (none for an empty user).
  Reply TokenRequest(const std::string& user, const std::string& password,
                     const std::vector<std::string>& scopes, const std::string& host = kLogin,
                     bool private_endpoint = false) {
    std::string target = "/oauth2/token?service=" + std::string(host);
    for (const auto& s : scopes) target += "&scope=" + Escape(s);
    std::map<std::string, std::string> headers;
    if (!user.empty()) headers["Authorization"] = Basic(user, password);
    return Do("GET", target, "", headers, host, private_endpoint);
  }
  Reply PostForm(const std::string& path, const std::map<std::string, std::string>& fields,
                 const std::vector<std::string>& scopes = {}, const std::string& host = kLogin) {
    std::string body;
    for (const auto& [k, v] : fields) body += (body.empty() ? "" : "&") + k + "=" + Escape(v);
    for (const auto& s : scopes) body += "&scope=" + Escape(s);
    return Do("POST", path, body, {{"Content-Type", "application/x-www-form-urlencoded"}}, host);
  }
  // An ACR refresh token for a principal through /oauth2/exchange; a managed identity's token
  // names the machine it was issued in (`caller`, xms_az_rid), as IMDS does.
  std::string Exchange(const std::string& principal_id, const std::string& caller = "") {
    auto p = store_.Get()->PrincipalById(principal_id);
    auto identity = tokens_->IssueIdentityToken(*p, {.caller_resource_id = caller});
    auto r = PostForm("/oauth2/exchange", {{"grant_type", "access_token"},
                                           {"service", kLogin},
                                           {"tenant", "cove"},
                                           {"access_token", *identity}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().value("refresh_token", "");
  }

  // The bytes of a small image's config; pushed as admin with Basic credentials.
  std::string Seed(const std::string& repo, const std::string& tag) {
    std::string config = "{\"repo\":\"" + repo + "\",\"tag\":\"" + tag + "\"}";
    auto admin = Basic("myregistry", "admin-pw-1");
    auto b = Do("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + Digest::Of(config).str(),
                config, {{"Authorization", admin}});
    EXPECT_EQ(b.status, 201) << b.body;
    json m = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
              {"config",
               {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                {"digest", Digest::Of(config).str()},
                {"size", config.size()}}},
              {"layers", json::array()}};
    auto r = Do(
        "PUT", "/v2/" + repo + "/manifests/" + tag, m.dump(),
        {{"Authorization", admin}, {"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return Digest::Of(m.dump()).str();
  }

  enum class Op { kPull, kPush, kDelete, kTags, kCatalog };
  static std::string OpName(Op op) {
    switch (op) {
      case Op::kPull:
        return "pull";
      case Op::kPush:
        return "push";
      case Op::kDelete:
        return "delete";
      case Op::kTags:
        return "tags";
      case Op::kCatalog:
        return "catalog";
    }
    return "?";
  }

  // The request an operation makes, and the status that means it succeeded.
  struct Request {
    std::string method, target, body;
    int ok_status;
  };
  Request MakeRequest(Op op, const std::string& repo) {
    switch (op) {
      case Op::kPull:
        return {"GET", "/v2/" + repo + "/manifests/v1", "", 200};
      case Op::kPush: {
        std::string blob = "blob for " + repo + " " + std::to_string(++pushes_);
        return {"POST", "/v2/" + repo + "/blobs/uploads/?digest=" + Digest::Of(blob).str(), blob,
                201};
      }
      case Op::kDelete:
        return {"DELETE", "/v2/" + repo + "/manifests/" + Seed(repo, "doomed"), "", 202};
      case Op::kTags:
        return {"GET", "/v2/" + repo + "/tags/list", "", 200};
      case Op::kCatalog:
        return {"GET", "/v2/_catalog", "", 200};
    }
    return {};
  }

  // What a Docker client does: try, read the challenge, get a token for its scope with Basic
  // credentials, retry with the bearer token. Returns the final reply.
  Reply DockerFlow(const Identity& who, Op op, const std::string& repo) {
    Request req = MakeRequest(op, repo);
    auto first = Do(req.method, req.target, req.body);
    EXPECT_EQ(first.status, 401) << OpName(op) << " " << repo << ": " << first.body;
    std::string challenge = first.Header("WWW-Authenticate");
    auto at = challenge.find("scope=\"");
    EXPECT_NE(at, std::string::npos) << challenge;
    std::string scope = challenge.substr(at + 7, challenge.find('"', at + 7) - at - 7);
    auto token = TokenRequest(who.user, who.password, {scope});
    if (token.status != 200) return token;
    return Do(req.method, req.target, req.body,
              {{"Authorization", "Bearer " + token.Json().value("access_token", "")}});
  }

  cove::testing::TempDir dir_;
  ManualClock clock_;
  registry::UrlSigner signer_{std::string(32, 'k'), clock_};
  storage::BlobStorePtr blobs_;
  storage::MetaStorePtr meta_;
  std::unique_ptr<KeyRing> registry_keys_, identity_keys_;
  std::unique_ptr<TokenService> tokens_;
  IdentityStore store_;
  std::shared_ptr<Authenticator> authenticator_;
  std::unique_ptr<registry::Registry> registry_;
  // Trusted service machines by source address (the Gate's policy; Publish).
  std::map<std::string, std::string> trusted_;
  access::PolicyPtr policy_;
  std::unique_ptr<access::Gate> gate_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0, private_port_ = 0;
  int pushes_ = 0;
};

TEST_F(AuthTest, MatrixOfIdentitiesActionsAndRepositories) {
  const std::vector<std::string> repos = {"app", "samples/one", "other"};
  for (const auto& repo : repos) Seed(repo, "v1");
  const std::vector<Op> ops = {Op::kPull, Op::kPush, Op::kDelete, Op::kTags, Op::kCatalog};

  // Expected: which (op, repo) each identity may do.
  using Allowed = std::function<bool(Op, const std::string&)>;
  auto only = [](std::set<Op> set) -> Allowed {
    return [set](Op op, const std::string&) { return set.count(op) > 0; };
  };
  auto everything = only({Op::kPull, Op::kPush, Op::kDelete, Op::kTags, Op::kCatalog});
  auto nothing = only({});
  struct Row {
    Identity who;
    Allowed allowed;
    bool credentials_valid = true;
  };
  std::vector<Row> rows = {
      {{"admin", "myregistry", "admin-pw-1"}, everything},
      {{"admin password2", "MyRegistry", "admin-pw-2"}, everything},
      {{"AcrPull", "puller", "pull-secret"}, only({Op::kPull, Op::kTags, Op::kCatalog})},
      {{"AcrPull by id", "sp-pull", "pull-secret"}, only({Op::kPull, Op::kTags, Op::kCatalog})},
      {{"Reader", "reader", "reader-secret"}, only({Op::kPull, Op::kTags, Op::kCatalog})},
      {{"AcrPush", "pusher", "push-secret"}, only({Op::kPull, Op::kPush, Op::kTags, Op::kCatalog})},
      {{"AcrDelete", "deleter", "delete-secret"}, only({Op::kDelete, Op::kTags})},
      {{"Owner", "owner", "owner-secret"}, everything},
      {{"no role", "norole", "none-secret"}, nothing},
      {{"user alice (exchange, null GUID)", kNullGuid, Exchange("user-alice")},
       only({Op::kPull, Op::kPush, Op::kTags, Op::kCatalog})},
      {{"managed identity (exchange)", kNullGuid, Exchange("mi-aci")},
       only({Op::kPull, Op::kTags, Op::kCatalog})},
      {{"token app-read", "reader-token", "tok-read"},
       [](Op op, const std::string& repo) {
         return repo == "app" && (op == Op::kPull || op == Op::kTags);
       }},
      {{"token samples/*", "samples-token", "tok-samples"},
       [](Op op, const std::string& repo) {
         return repo == "samples/one" && (op == Op::kPull || op == Op::kPush);
       }},
      {{"token password2 unexpired", "expiring-token", "new-pw"},
       [](Op op, const std::string& repo) {
         return repo == "app" && (op == Op::kPull || op == Op::kTags);
       }},
      {{"disabled token", "disabled-token", "tok-disabled"}, nothing, false},
      {{"expired token password", "expiring-token", "old-pw"}, nothing, false},
      {{"wrong password", "puller", "wrong"}, nothing, false},
      {{"user with password (not allowed)", "alice@contoso.com", "alice-pw"}, nothing, false},
      {{"unknown user", "mallory", "x"}, nothing, false},
      {{"anonymous (pull disabled)", "", ""}, nothing, false},
  };

  int checked = 0;
  for (const auto& row : rows) {
    for (Op op : ops) {
      for (const auto& repo : repos) {
        if (op == Op::kCatalog && repo != repos.front()) continue;  // not per repository
        SCOPED_TRACE(row.who.label + " " + OpName(op) + " " + repo);
        bool allowed = row.allowed(op, repo);
        int ok_status = MakeRequest(op, repo).ok_status;
        --pushes_;  // MakeRequest above was only to read the status
        // Through the token flow.
        auto r = DockerFlow(row.who, op, repo);
        if (allowed) {
          EXPECT_EQ(r.status, ok_status) << r.body;
        } else {
          EXPECT_EQ(r.status, 401) << r.body;
          EXPECT_EQ(r.ErrorCode(), "UNAUTHORIZED") << r.body;
          EXPECT_EQ(r.Json()["errors"][0]["message"], kAuthRequiredMessage);
        }
        // Basic credentials directly on the request (ACR accepts them for admin, service
        // principals and tokens); the null GUID takes a refresh token.
        if (!row.who.user.empty()) {
          Request req = MakeRequest(op, repo);
          auto b = Do(req.method, req.target, req.body,
                      {{"Authorization", Basic(row.who.user, row.who.password)}});
          if (allowed) {
            EXPECT_EQ(b.status, req.ok_status) << b.body;
          } else if (row.credentials_valid) {
            EXPECT_EQ(b.status, 403) << b.body;
            EXPECT_EQ(b.ErrorCode(), "DENIED");
          } else {
            EXPECT_EQ(b.status, 401) << b.body;
            EXPECT_NE(b.Header("WWW-Authenticate"), "");
          }
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(rows.size()) * 13);
}

TEST_F(AuthTest, ChallengeAndBodyAreAcrs) {
  auto base = Do("GET", "/v2/");
  EXPECT_EQ(base.status, 401);
  EXPECT_EQ(base.Header("WWW-Authenticate"),
            "Bearer realm=\"http://myregistry.azurecr.io/oauth2/token\","
            "service=\"myregistry.azurecr.io\"");
  EXPECT_EQ(base.Header("Docker-Distribution-API-Version"), "registry/2.0");

  auto pull = Do("GET", "/v2/hello-world/manifests/latest");
  EXPECT_EQ(pull.status, 401);
  EXPECT_EQ(pull.Header("WWW-Authenticate"),
            "Bearer realm=\"http://myregistry.azurecr.io/oauth2/token\","
            "service=\"myregistry.azurecr.io\",scope=\"repository:hello-world:pull\"");
  EXPECT_EQ(pull.Json(), json::parse(R"({"errors":[{"code":"UNAUTHORIZED","message":
      "authentication required, visit https://aka.ms/acr/authorization for more information.",
      "detail":[{"Type":"repository","Name":"hello-world","Action":"pull"}]}]})"));

  auto catalog = Do("GET", "/v2/_catalog");
  EXPECT_NE(catalog.Header("WWW-Authenticate").find("scope=\"registry:catalog:*\""),
            std::string::npos);
  EXPECT_EQ(catalog.Json()["errors"][0]["detail"],
            json::parse(R"([{"Type":"registry","Name":"catalog","Action":"*"}])"));
  auto push = Do("PUT", "/v2/app/manifests/v1", "{}");
  EXPECT_NE(push.Header("WWW-Authenticate").find("scope=\"repository:app:pull,push\""),
            std::string::npos);
  auto tags = Do("GET", "/v2/app/tags/list");
  EXPECT_NE(tags.Header("WWW-Authenticate").find("scope=\"repository:app:metadata_read\""),
            std::string::npos);
  auto del = Do("DELETE", "/v2/app/manifests/sha256:" + std::string(64, 'a'));
  EXPECT_NE(del.Header("WWW-Authenticate").find("scope=\"repository:app:delete\""),
            std::string::npos);

  // Through TLS with the registry's own name, the realm is exactly ACR's.
  http::Request request;
  request.method = "GET";
  request.target = "/v2/";
  request.headers.Set("Host", kLogin);
  request.peer.tls = true;
  auto response = registry_->Start(std::move(request))->Finish();
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.headers.Get("WWW-Authenticate"),
            "Bearer realm=\"https://myregistry.azurecr.io/oauth2/token\","
            "service=\"myregistry.azurecr.io\"");
}

TEST_F(AuthTest, LoginCheckOnBaseAcceptsAnyValidCredential) {
  EXPECT_EQ(Do("GET", "/v2/", "", {{"Authorization", Basic("myregistry", "admin-pw-2")}}).status,
            200);
  EXPECT_EQ(Do("GET", "/v2/", "", {{"Authorization", Basic("reader-token", "tok-read")}}).status,
            200);
  EXPECT_EQ(Do("GET", "/v2/", "", {{"Authorization", Basic("norole", "none-secret")}}).status, 200);
  EXPECT_EQ(Do("GET", "/v2/", "", {{"Authorization", Basic("myregistry", "nope")}}).status, 401);
  auto token = TokenRequest("puller", "pull-secret", {});
  ASSERT_EQ(token.status, 200);
  EXPECT_EQ(token.Json()["access_token"].is_string(), true);
  auto claims = DecodeJwtUnverified(token.Json()["access_token"].get<std::string>())->second;
  EXPECT_EQ(claims["access"], json::array());
  EXPECT_EQ(Do("GET", "/v2/", "",
               {{"Authorization", "Bearer " + token.Json()["access_token"].get<std::string>()}})
                .status,
            200);
  EXPECT_EQ(Do("GET", "/v2/", "", {{"Authorization", "Digest x"}}).status, 401);
  EXPECT_EQ(Do("GET", "/v2/", "", {{"Authorization", "Basic !!!"}}).status, 401);
}

// containers/image (skopeo inspect) lists tags with the pull token it got for the image and
// never asks for the challenge's metadata_read: a pull grant lists tags, as at ACR.
TEST_F(AuthTest, APullTokenListsTags) {
  auto bearer = [&](const std::vector<std::string>& scopes) {
    auto t = TokenRequest("puller", "pull-secret", scopes);
    EXPECT_EQ(t.status, 200) << t.body;
    return std::map<std::string, std::string>{
        {"Authorization", "Bearer " + t.Json().value("access_token", "")}};
  };
  EXPECT_NE(Do("GET", "/v2/app/tags/list", "", bearer({"repository:app:pull"})).status, 401);
  EXPECT_NE(Do("GET", "/v2/app/tags/list", "", bearer({"repository:app:metadata_read"})).status,
            401);
  EXPECT_EQ(Do("GET", "/v2/app/tags/list", "", bearer({"repository:other:pull"})).status, 401);
  EXPECT_EQ(Do("GET", "/v2/app/tags/list", "", bearer({})).status, 401);
  // A token whose scope map has content/read but not metadata/read still cannot.
  auto t = TokenRequest("samples-token", "tok-samples", {"repository:samples/one:pull"});
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(Do("GET", "/v2/samples/one/tags/list", "",
               {{"Authorization", "Bearer " + t.Json().value("access_token", "")}})
                .status,
            401);
  EXPECT_NE(Do("GET", "/v2/app/tags/list", "", {{"Authorization", Basic("puller", "pull-secret")}})
                .status,
            401);
}

TEST_F(AuthTest, AccessTokensCarryWhatWasGrantedInAcrsShape) {
  auto r = TokenRequest(
      "puller", "pull-secret",
      {"repository:app:pull,push,delete", "registry:catalog:*", "repository:samples/one:pull"});
  ASSERT_EQ(r.status, 200) << r.body;
  auto [header, claims] = *DecodeJwtUnverified(r.Json()["access_token"].get<std::string>());
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["kid"], registry_keys_->Keys()->active().kid);
  EXPECT_EQ(claims["aud"], kLogin);
  EXPECT_EQ(claims["iss"], "Azure Container Registry");
  EXPECT_EQ(claims["grant_type"], "access_token");
  EXPECT_EQ(claims["sub"], "principal:sp-pull");
  int64_t now = UnixSeconds(clock_.Now());
  EXPECT_EQ(claims["iat"], now);
  EXPECT_EQ(claims["nbf"], now);
  EXPECT_EQ(claims["exp"], now + 75 * 60);
  EXPECT_EQ(claims["access"], json::parse(R"([
      {"type":"repository","name":"app","actions":["pull"]},
      {"type":"registry","name":"catalog","actions":["*"]},
      {"type":"repository","name":"samples/one","actions":["pull"]}])"));
}

TEST_F(AuthTest, RefreshTokenFlowsByPasswordGrantExchangeAndNullGuid) {
  Seed("app", "v1");
  // POST grant_type=password with offline access gives a refresh token too.
  auto pw = PostForm("/oauth2/token",
                     {{"grant_type", "password"},
                      {"service", kLogin},
                      {"username", "pusher"},
                      {"password", "push-secret"},
                      {"access_type", "offline"}},
                     {"repository:app:pull"});
  ASSERT_EQ(pw.status, 200) << pw.body;
  std::string refresh = pw.Json()["refresh_token"];
  auto refresh_claims = DecodeJwtUnverified(refresh)->second;
  EXPECT_EQ(refresh_claims["grant_type"], "refresh_token");
  EXPECT_EQ(refresh_claims["exp"], UnixSeconds(clock_.Now()) + 3 * 3600);
  EXPECT_FALSE(refresh_claims.contains("access"));

  // grant_type=refresh_token with repeated scopes.
  auto at =
      PostForm("/oauth2/token",
               {{"grant_type", "refresh_token"}, {"service", kLogin}, {"refresh_token", refresh}},
               {"repository:app:pull,push", "repository:other:pull"});
  ASSERT_EQ(at.status, 200) << at.body;
  EXPECT_FALSE(at.Json().contains("refresh_token"));  // ACR answers only the access token
  auto granted = DecodeJwtUnverified(at.Json()["access_token"].get<std::string>())->second;
  EXPECT_EQ(granted["access"], json::parse(R"([
      {"type":"repository","name":"app","actions":["pull","push"]},
      {"type":"repository","name":"other","actions":["pull"]}])"));
  auto pull = Do("GET", "/v2/app/manifests/v1", "",
                 {{"Authorization", "Bearer " + at.Json()["access_token"].get<std::string>()}});
  EXPECT_EQ(pull.status, 200);

  // A refresh token is not an access token, and an access token is not a refresh token.
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", "Bearer " + refresh}}).status,
            401);
  auto wrong_kind = PostForm("/oauth2/token", {{"grant_type", "refresh_token"},
                                               {"service", kLogin},
                                               {"refresh_token", at.Json()["access_token"]}});
  EXPECT_EQ(wrong_kind.status, 401);
  EXPECT_EQ(wrong_kind.ErrorCode(), "UNAUTHORIZED");

  // The null GUID with the refresh token as password (what `docker login` stores).
  auto basic = TokenRequest(kNullGuid, refresh, {"repository:app:pull"});
  ASSERT_EQ(basic.status, 200) << basic.body;
  // An access token is not a password (issue 17 item 3: it minted fresh access tokens).
  auto as_password = TokenRequest(kNullGuid, at.Json()["access_token"], {"repository:app:pull"});
  EXPECT_EQ(as_password.status, 401);
  EXPECT_EQ(as_password.Header("X-Cove-Auth-Error"), kInvalidCredentials);

  // Permissions are looked up again at each refresh: a narrowed role takes effect, and with no
  // role assignment left the refresh token is refused (issue 17 item 3: it used to go on
  // minting access tokens, empty ones).
  Change([](IdentityData& d) {
    for (auto& a : d.assignments) {
      if (a.principal_id == "sp-push") a.role = Role::kAcrPull;
    }
  });
  auto narrowed =
      PostForm("/oauth2/token",
               {{"grant_type", "refresh_token"}, {"service", kLogin}, {"refresh_token", refresh}},
               {"repository:app:pull,push"});
  ASSERT_EQ(narrowed.status, 200);
  EXPECT_EQ(
      DecodeJwtUnverified(narrowed.Json()["access_token"].get<std::string>())->second["access"],
      json::parse(R"([{"type":"repository","name":"app","actions":["pull"]}])"));
  Change([](IdentityData& d) {
    std::erase_if(d.assignments,
                  [](const RoleAssignment& a) { return a.principal_id == "sp-push"; });
  });
  auto after =
      PostForm("/oauth2/token",
               {{"grant_type", "refresh_token"}, {"service", kLogin}, {"refresh_token", refresh}},
               {"repository:app:pull"});
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.Header("X-Cove-Auth-Error"), kInvalidCredentials);
  Change([](IdentityData& d) {
    d.assignments.push_back({"sp-push", Role::kAcrPush, "myregistry"});  // for what follows
  });

  // Refresh tokens expire after three hours.
  clock_.Advance(std::chrono::hours(3));
  EXPECT_EQ(TokenRequest(kNullGuid, refresh, {"repository:app:pull"}).status, 401);
}

TEST_F(AuthTest, ExchangeTurnsAnIdentityTokenIntoARefreshToken) {
  auto alice = store_.Get()->PrincipalById("user-alice");
  auto identity = *tokens_->IssueIdentityToken(*alice);
  auto claims = DecodeJwtUnverified(identity)->second;
  EXPECT_EQ(claims["aud"], kIdentityAudience);
  EXPECT_EQ(claims["oid"], "user-alice");
  auto r = PostForm("/oauth2/exchange", {{"grant_type", "access_token"},
                                         {"service", kLogin},
                                         {"tenant", "cove"},
                                         {"access_token", identity}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.Json()["refresh_token"].is_string());
  auto refresh = DecodeJwtUnverified(r.Json()["refresh_token"].get<std::string>())->second;
  EXPECT_EQ(refresh["sub"], "principal:user-alice");
  EXPECT_EQ(refresh["aud"], kLogin);
  EXPECT_FALSE(refresh.contains("xms_az_rid"));  // not a managed identity's machine

  // ACR's own AAD resource is accepted too (IMDS clients ask for it); others are not issued.
  auto acr = tokens_->IssueIdentityToken(*alice, {.audience = "https://containerregistry.azure.net"});
  ASSERT_TRUE(acr) << acr.error().message;
  EXPECT_EQ(PostForm("/oauth2/exchange", {{"grant_type", "access_token"},
                                          {"service", kLogin},
                                          {"access_token", *acr}})
                .status,
            200);
  EXPECT_FALSE(tokens_->IssueIdentityToken(*alice, {.audience = "https://vault.azure.net"}));

  // Login() is how `cove login` gets the identity token.
  auto login = authenticator_->Login("alice@contoso.com", "alice-pw");
  ASSERT_TRUE(login);
  EXPECT_TRUE(tokens_->VerifyIdentityToken(*login));
  EXPECT_FALSE(authenticator_->Login("alice@contoso.com", "wrong"));
  EXPECT_FALSE(authenticator_->Login("aci", ""));

  // Refused: no role on the registry, an identity token used as a registry token and the
  // reverse, another grant type, a forged or expired identity token.
  auto norole = *tokens_->IssueIdentityToken(*store_.Get()->PrincipalById("sp-none"));
  auto no_role =
      PostForm("/oauth2/exchange",
               {{"grant_type", "access_token"}, {"service", kLogin}, {"access_token", norole}});
  EXPECT_EQ(no_role.status, 401);
  EXPECT_NE(no_role.Header("X-Cove-Auth-Error").find("no role assignment"), std::string::npos);
  EXPECT_EQ(Do("GET", "/v2/", "", {{"Authorization", "Bearer " + identity}}).status, 401);
  EXPECT_EQ(PostForm("/oauth2/exchange", {{"grant_type", "access_token"},
                                          {"service", kLogin},
                                          {"access_token", r.Json()["refresh_token"]}})
                .status,
            401);
  EXPECT_EQ(
      PostForm("/oauth2/exchange",
               {{"grant_type", "refresh_token"}, {"service", kLogin}, {"refresh_token", identity}})
          .status,
      400);
  EXPECT_EQ(Do("GET", "/oauth2/exchange").status, 405);
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(
      PostForm("/oauth2/exchange",
               {{"grant_type", "access_token"}, {"service", kLogin}, {"access_token", identity}})
          .status,
      401);
}

TEST_F(AuthTest, ExpiredForgedAndMisaddressedTokensAreRefused) {
  Seed("app", "v1");
  auto ok = TokenRequest("owner", "owner-secret", {"repository:app:pull"});
  std::string token = ok.Json()["access_token"];
  auto with = [&](const std::string& t, const std::string& host = kLogin) {
    return Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", "Bearer " + t}}, host);
  };
  EXPECT_EQ(with(token).status, 200);

  // Another registry's token (the owner is Owner there too): wrong audience.
  auto other = TokenRequest("owner", "owner-secret", {"repository:app:pull"}, kOther);
  ASSERT_EQ(other.status, 200) << other.body;
  auto r = with(other.Json()["access_token"]);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("X-Cove-Auth-Error"), kInvalidCredentials);  // the cause is in the log
  EXPECT_EQ(with(token, kOther).status, 401);
  // A token endpoint asked for another registry's service.
  auto misaddressed = Do("GET", "/oauth2/token?service=otherreg.azurecr.io&scope=x", "",
                         {{"Authorization", Basic("owner", "owner-secret")}});
  EXPECT_EQ(misaddressed.status, 401);

  // Forged: payload changed, alg none, unknown kid, signed by a stranger's key.
  auto [header, claims] = *DecodeJwtUnverified(token);
  std::string sig = token.substr(token.rfind('.') + 1);
  auto more = claims;
  more["access"] = json::parse(R"([{"type":"repository","name":"app","actions":["*"]}])");
  auto forged = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(more.dump()) + "." + sig;
  EXPECT_EQ(with(forged).status, 401);
  auto none = header;
  none["alg"] = "none";
  EXPECT_EQ(with(Base64UrlEncode(none.dump()) + "." + Base64UrlEncode(claims.dump()) + ".").status,
            401);
  auto stranger = *GenerateSigningKey("1-00000000", clock_.Now());
  EXPECT_EQ(with(*SignJwt(stranger, claims)).status, 401);
  auto same_kid = *GenerateSigningKey(header["kid"], clock_.Now());
  EXPECT_EQ(with(*SignJwt(same_kid, claims)).status, 401);
  EXPECT_EQ(with("not.a.jwt").status, 401);

  // Expired: access tokens live 75 minutes.
  clock_.Advance(std::chrono::minutes(75));
  r = with(token);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("X-Cove-Auth-Error"), kInvalidCredentials);
}

TEST_F(AuthTest, RotatedKeysKeepVerifyingWhatTheySigned) {
  Seed("app", "v1");
  std::string before =
      TokenRequest("owner", "owner-secret", {"repository:app:pull"}).Json()["access_token"];
  ASSERT_TRUE(registry_keys_->Rotate());
  std::string after =
      TokenRequest("owner", "owner-secret", {"repository:app:pull"}).Json()["access_token"];
  EXPECT_NE(DecodeJwtUnverified(before)->first["kid"], DecodeJwtUnverified(after)->first["kid"]);
  for (const auto& t : {before, after}) {
    EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", "Bearer " + t}}).status,
              200);
  }
}

TEST_F(AuthTest, DisabledTokensAndAdminUserStopAtOnce) {
  Seed("app", "v1");
  auto t = TokenRequest("reader-token", "tok-read", {"repository:app:pull"});
  std::string bearer = t.Json()["access_token"];
  auto a = TokenRequest("myregistry", "admin-pw-1", {"repository:app:pull"});
  std::string admin_bearer = a.Json()["access_token"];
  Change([](IdentityData& d) {
    d.registries[0].tokens[0].enabled = false;
    d.registries[0].admin.enabled = false;
  });
  auto r = Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", "Bearer " + bearer}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("X-Cove-Auth-Error"), kInvalidCredentials);
  EXPECT_EQ(TokenRequest("reader-token", "tok-read", {}).status, 401);
  EXPECT_EQ(
      Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", "Bearer " + admin_bearer}}).status,
      401);
  EXPECT_EQ(TokenRequest("myregistry", "admin-pw-1", {}).status, 401);
}

TEST_F(AuthTest, TokenPasswordsExpire) {
  auto old_pw = TokenRequest("expiring-token", "old-pw", {});
  EXPECT_EQ(old_pw.status, 401);
  EXPECT_EQ(old_pw.Header("X-Cove-Auth-Error"), kInvalidCredentials);  // as a wrong password
  EXPECT_EQ(TokenRequest("expiring-token", "new-pw", {}).status, 200);
  // A cached verification does not outlive the password.
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(TokenRequest("expiring-token", "new-pw", {}).status, 401);
}

TEST_F(AuthTest, AnonymousPullOnAndOff) {
  Seed("app", "v1");
  EXPECT_EQ(TokenRequest("", "", {"repository:app:pull"}).status, 401);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1").status, 401);
  Change([](IdentityData& d) { d.registries[0].anonymous_pull = true; });
  auto t = TokenRequest(
      "", "", {"repository:app:pull,push", "repository:app:metadata_read", "registry:catalog:*"});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(DecodeJwtUnverified(t.Json()["access_token"].get<std::string>())->second["access"],
            json::parse(R"([{"type":"repository","name":"app","actions":["pull"]}])"));
  Identity anonymous{"anonymous", "", ""};
  EXPECT_EQ(DockerFlow(anonymous, Op::kPull, "app").status, 200);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1").status, 401);  // with an (anonymous) token only
  EXPECT_EQ(DockerFlow(anonymous, Op::kPush, "app").status, 401);
  EXPECT_EQ(DockerFlow(anonymous, Op::kTags, "app").status, 401);  // listing is not pulling
  EXPECT_EQ(Do("GET", "/v2/_catalog").status, 401);
  Change([](IdentityData& d) { d.registries[0].anonymous_pull = false; });
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "",
               {{"Authorization", "Bearer " + t.Json()["access_token"].get<std::string>()}})
                .status,
            401);
}

TEST_F(AuthTest, TrustedServicesBypassOnlyWithAzureServices) {
  Seed("app", "v1");
  // One user-assigned identity, attached to a container group (ACI: a trusted service) and to
  // a VM (not one): where the token was issued decides, not the identity. The test's client
  // (127.0.0.1) is the container group's address.
  const std::string rg = "/subscriptions/s/resourceGroups/rg/providers/";
  const std::string group = rg + "Microsoft.ContainerInstance/containerGroups/job";
  std::string aci = Exchange("mi-aci", group);
  std::string vm = Exchange("mi-aci", rg + "Microsoft.Compute/virtualMachines/vm1");
  std::string plain = Exchange("mi-vm");
  Change([&](IdentityData& d) {
    d.registries[0].public_network_access = false;
    trusted_["127.0.0.1"] = group;
  });
  std::string firewall =
      "client with IP '127.0.0.1' is not allowed access. Refer "
      "https://aka.ms/acr/firewall to grant access.";
  auto bearer = [](const Reply& r) {
    return std::map<std::string, std::string>{
        {"Authorization", "Bearer " + r.Json()["access_token"].get<std::string>()}};
  };

  // The trusted service's identity gets through the public path; without credentials it is
  // asked for them (the /v2/ ping before its token), not DENIED.
  EXPECT_EQ(Do("GET", "/v2/").status, 401);
  auto aci_token = TokenRequest(kNullGuid, aci, {"repository:app:pull"});
  ASSERT_EQ(aci_token.status, 200) << aci_token.body;
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "", bearer(aci_token)).status, 200);
  // The refresh token keeps the caller: the access token from it gets through too.
  auto again = PostForm("/oauth2/token", {{"grant_type", "refresh_token"},
                                          {"service", kLogin},
                                          {"refresh_token", aci}},
                        {"repository:app:pull"});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "", bearer(again)).status, 200);
  // Everyone else is DENIED from there: the same identity's token from a VM, a token with no
  // machine, the admin user, anonymous pull.
  Change([](IdentityData& d) { d.registries[0].anonymous_pull = true; });
  for (const auto& [user, pw] : std::vector<std::pair<std::string, std::string>>{
           {kNullGuid, vm}, {kNullGuid, plain}, {"myregistry", "admin-pw-1"}, {"", ""}}) {
    auto r = TokenRequest(user, pw, {"repository:app:pull"});
    EXPECT_EQ(r.status, 403) << user;
    EXPECT_EQ(r.Json(),
              json::parse(R"({"errors":[{"code":"DENIED","message":")" + firewall + R"("}]})"));
  }
  auto direct =
      Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", Basic("myregistry", "admin-pw-1")}});
  EXPECT_EQ(direct.status, 403);
  // Through a private endpoint, nothing changes.
  EXPECT_EQ(TokenRequest("myregistry", "admin-pw-1", {"repository:app:pull"}, kLogin, true).status,
            200);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "",
               {{"Authorization", Basic("myregistry", "admin-pw-1")}}, kLogin, true)
                .status,
            200);

  // The group's tokens replayed from an address that is not the group's: DENIED, and the
  // ping too.
  Change([&](IdentityData&) { trusted_ = {{"192.0.2.9", group}}; });
  EXPECT_EQ(Do("GET", "/v2/").status, 403);
  EXPECT_EQ(TokenRequest(kNullGuid, aci, {"repository:app:pull"}).status, 403);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "", bearer(aci_token)).status, 403);

  // With bypass None the trusted service is refused too, token already issued or not.
  Change([&](IdentityData& d) {
    trusted_ = {{"127.0.0.1", group}};
    d.registries[0].bypass = NetworkBypass::kNone;
  });
  EXPECT_EQ(Do("GET", "/v2/").status, 403);
  EXPECT_EQ(TokenRequest(kNullGuid, aci, {"repository:app:pull"}).status, 403);
  EXPECT_EQ(Do("GET", "/v2/app/manifests/v1", "", bearer(aci_token)).status, 403);
}

// Error bodies that echo the request stay JSON when the request is not UTF-8 (found by
// auth_token_fuzz: a scope with 0xFF bytes made json::dump throw, which ended the process).
TEST_F(AuthTest, ErrorsEchoingBytesThatAreNotUtf8StayJson) {
  auto r = PostForm("/oauth2/token", {{"grant_type", "password"},
                                      {"service", kLogin},
                                      {"username", "puller"},
                                      {"password", "pull-secret"}},
                    {"repository\na\xff\xff/x:pull"});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(json::accept(r.body)) << r.body;
  // A scope the caller would be granted, but with bytes that are not ASCII: refused, not put
  // into a token (the access claim is JSON).
  auto granted = PostForm("/oauth2/token", {{"grant_type", "password"},
                                            {"service", kLogin},
                                            {"username", "puller"},
                                            {"password", "pull-secret"}},
                          {"repository:a/b:pull,pu\x8d\x97"});
  EXPECT_EQ(granted.status, 400);
  EXPECT_TRUE(json::accept(granted.body)) << granted.body;
  auto grant = PostForm("/oauth2/token", {{"grant_type", "\xfe"}, {"service", kLogin}});
  EXPECT_EQ(grant.status, 400);
  EXPECT_TRUE(json::accept(grant.body)) << grant.body;
}

TEST(NetworkDecisionTest, TrustedServicesTable) {
  Principal mi{"a", PrincipalKind::kManagedIdentity, "aci", ""};
  Principal sp{"s", PrincipalKind::kServicePrincipal, "sp", "h"};
  const std::string group =
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g";
  const std::string vm =
      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
  using D = NetworkDecision;
  // The Gate's verdict (access/access.h) on a call from 192.0.2.1 to registry r: public access,
  // bypass AzureServices, through a private endpoint, the trusted machine at that address.
  auto facts = [](bool public_access, bool bypass, bool private_endpoint,
                  const std::string& machine_at_source = "") {
    access::Policy p;
    p.registries["r"] = {"r", public_access, bypass, "Allow", {}};
    p.links[7] = {"r", "pe", "pe.conn", "Approved"};
    if (!machine_at_source.empty()) p.trusted_service_sources["192.0.2.1"] = machine_at_source;
    return access::Decide(p, "r", {private_endpoint ? std::optional<uint32_t>(7) : std::nullopt,
                                   "192.0.2.1"});
  };
  auto open = facts(true, false, false);
  EXPECT_EQ(DecideNetworkAccess(&open, nullptr), D::kAllowed);
  EXPECT_TRUE(MayChallenge(&open));
  // From the container group's address.
  auto closed = facts(false, true, false, group);
  EXPECT_EQ(DecideNetworkAccess(&closed, &mi, group), D::kAllowedTrustedService);
  EXPECT_EQ(DecideNetworkAccess(&closed, &mi, vm), D::kDenied);
  EXPECT_EQ(DecideNetworkAccess(&closed, &mi), D::kDenied);
  EXPECT_EQ(DecideNetworkAccess(&closed, &sp, group), D::kDenied);  // only managed identities
  EXPECT_EQ(DecideNetworkAccess(&closed, nullptr, group), D::kDenied);
  EXPECT_TRUE(MayChallenge(&closed));
  // From anywhere else, the group's token does not help.
  auto elsewhere = facts(false, true, false);
  EXPECT_EQ(DecideNetworkAccess(&elsewhere, &mi, group), D::kDenied);
  EXPECT_FALSE(MayChallenge(&elsewhere));
  auto other_group = facts(false, true, false, group + "2");
  EXPECT_EQ(DecideNetworkAccess(&other_group, &mi, group), D::kDenied);
  auto none = facts(false, false, false, group);
  EXPECT_EQ(DecideNetworkAccess(&none, &mi, group), D::kDenied);
  EXPECT_FALSE(MayChallenge(&none));
  auto private_endpoint = facts(false, false, true);
  EXPECT_EQ(DecideNetworkAccess(&private_endpoint, nullptr), D::kAllowed);
  EXPECT_TRUE(MayChallenge(&private_endpoint));

  EXPECT_EQ(TrustedServiceOf(group), "Microsoft.ContainerInstance");
  EXPECT_EQ(TrustedServiceOf("/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/"
                             "MICROSOFT.CONTAINERINSTANCE/CONTAINERGROUPS/G"),
            "Microsoft.ContainerInstance");
  EXPECT_EQ(TrustedServiceOf("/subscriptions/s/resourceGroups/rg/providers/"
                             "Microsoft.MachineLearningServices/workspaces/w"),
            "Microsoft.MachineLearningServices");
  EXPECT_EQ(TrustedServiceOf(vm), "");
  EXPECT_EQ(TrustedServiceOf(group + "/containers/c"), "");  // a child is not the group
  EXPECT_EQ(TrustedServiceOf("/subscriptions/s/resourceGroups/rg/providers/"
                             "Microsoft.ContainerInstance/containerGroups/"),
            "");
  EXPECT_EQ(TrustedServiceOf("Microsoft.ContainerInstance/containerGroups/g"), "");
  EXPECT_EQ(TrustedServiceOf(""), "");
}

TEST_F(AuthTest, OpenRegistriesStayOpen) {
  auto r = Do("GET", "/v2/", "", {}, kOpen);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      Do("POST", "/v2/x/blobs/uploads/?digest=" + Digest::Of("b").str(), "b", {}, kOpen).status,
      201);
  EXPECT_EQ(Do("GET", "/oauth2/token?service=plainreg.azurecr.io", "", {}, kOpen).status, 404);
  // A registry that has auth but no identities at all is closed, not open.
  EXPECT_EQ(Do("GET", "/v2/", "", {}, kOther).status, 401);
}

TEST_F(AuthTest, CrossMountNeedsPullOnTheSource) {
  std::string blob = "shared";
  auto admin = Basic("myregistry", "admin-pw-1");
  ASSERT_EQ(Do("POST", "/v2/app/blobs/uploads/?digest=" + Digest::Of(blob).str(), blob,
               {{"Authorization", admin}})
                .status,
            201);
  std::string mount =
      "/v2/samples/one/blobs/uploads/?mount=" + Digest::Of(blob).str() + "&from=app";
  // samples-token may push samples/one but not read app: the mount becomes an upload.
  auto t = Do("POST", mount, "", {{"Authorization", Basic("samples-token", "tok-samples")}});
  EXPECT_EQ(t.status, 202) << t.body;
  auto o = Do("POST", mount, "", {{"Authorization", Basic("owner", "owner-secret")}});
  EXPECT_EQ(o.status, 201) << o.body;
}

TEST_F(AuthTest, TokenEndpointAnswersBadInputInItsOwnFormat) {
  auto bad_grant = PostForm("/oauth2/token", {{"grant_type", "client_credentials"}});
  EXPECT_EQ(bad_grant.status, 400);
  EXPECT_EQ(bad_grant.ErrorCode(), "UNSUPPORTED");
  auto bad_form = Do("POST", "/oauth2/token", "grant_type=password&username=%zz");
  EXPECT_EQ(bad_form.status, 400);
  auto bad_scope = TokenRequest("owner", "owner-secret", {"repository"});
  EXPECT_EQ(bad_scope.status, 400);
  EXPECT_EQ(Do("PUT", "/oauth2/token").status, 405);
  EXPECT_EQ(Do("GET", "/oauth2/nothing").status, 404);
  EXPECT_EQ(Do("GET", "/oauth2/token?service=myregistry.azurecr.io", "",
               {{"Authorization", "Bearer abc"}})
                .status,
            401);
  auto huge = Do("POST", "/oauth2/token", std::string(100 * 1024, 'a'));
  EXPECT_EQ(huge.status, 413);
}

}  // namespace
}  // namespace cove::auth
