// AuthPlanesTest: coved's control plane and registry endpoint in one process, wired as coved
// wires them — an arm::ControlPlane (in memory) whose every committed snapshot is projected
// (daemon/projection.h) into the authenticator's identity snapshot and the access Gate's
// policy, and a real http::Server on loopback with the Gate, the Registry and its
// Authenticator. Changes are the ARM and Graph requests that `cove` sends; attacks are plain
// HTTP requests over a socket, as a client would make them.
// One ManualClock drives both planes, so expiries are reached without sleeping.
// Test-only helper for tests/security.
//
// Thread-safety: one test thread; the server's threads only read the identity store.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "access/access.h"
#include "arm/control_plane.h"
#include "arm/identity_support.h"
#include "auth/authenticator.h"
#include "auth/keys.h"
#include "daemon/projection.h"
#include "http/server.h"
#include "registry/registry.h"
#include "storage/filesystem_blob_store.h"
#include "storage/sqlite_meta_store.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::security {

using json = nlohmann::json;

inline const std::string kSub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
inline const std::string kRg = kSub + "/resourceGroups/rg";
inline const std::string kRegistryId =
    kRg + "/providers/Microsoft.ContainerRegistry/registries/myregistry";
inline constexpr char kLogin[] = "myregistry.azurecr.io";
inline constexpr char kAcrPull[] = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

inline std::string B64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n);
  return out;
}
inline std::string Basic(const std::string& user, const std::string& password) {
  return "Basic " + B64(user + ":" + password);
}
inline std::string Escape(std::string_view s) {
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
  json Json() const { return json::parse(body, nullptr, false); }
  std::string Get(const char* field) const {
    auto j = Json();
    return j.is_object() && j.contains(field) && j[field].is_string() ? j[field].get<std::string>()
                                                                      : "";
  }
};

// A service principal as Graph made it: its application, and one client secret.
struct ServicePrincipal {
  std::string app_object_id;  // the application's object id (addPassword/removePassword)
  std::string app_id;         // its login name
  std::string id;             // the service principal's object id (role assignments)
  std::string secret;         // secretText
  std::string key_id;
};

class AuthPlanesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arm::ControlPlaneOptions options;
    options.clock = &clock_;
    options.fast_password_hashing = true;
    auto cp = arm::ControlPlane::Open(":memory:", options);
    ASSERT_TRUE(cp);
    cp_ = std::move(*cp);
    cp_->Subscribe([this](const arm::SnapshotPtr& s) { Publish(s); });

    auto blobs = storage::FilesystemBlobStore::Open(dir_.Join("blobs"), clock_);
    ASSERT_TRUE(blobs);
    blobs_ = std::move(*blobs);
    auto meta = storage::SqliteMetaStore::Open(dir_.Join("meta.db"));
    ASSERT_TRUE(meta);
    meta_ = std::move(*meta);
    registry_keys_ = std::move(*auth::KeyRing::Open(dir_.Join("keys/token-signing"), clock_));
    identity_keys_ = std::move(*auth::KeyRing::Open(dir_.Join("keys/identity-signing"), clock_));
    tokens_ = std::make_unique<auth::TokenService>(*registry_keys_, *identity_keys_, clock_);
    // These tests fail on purpose many times from one address: failure limits (covered by
    // limits_test.cc) would answer 429 part way through.
    auth::AuthenticatorOptions auth_options;
    auth_options.passwords.source_burst = 1'000'000;
    auth_options.passwords.principal_burst = 1'000'000;
    authenticator_ = std::make_shared<auth::Authenticator>(store_, *tokens_, clock_, auth_options);
    registry::RegistryInfo mine{"myregistry", "westus", {"westus"}, false};
    auto directory = registry::Directory::Create("azurecr.io", {mine}, "myregistry");
    ASSERT_TRUE(directory);
    registry::RegistryOptions ro;
    ro.authorizer = authenticator_;
    registry_ =
        std::make_unique<registry::Registry>(*directory, *blobs_, *meta_, signer_, clock_, ro);
    gate_ = std::make_unique<access::Gate>(*registry_, [this](const std::string& host) {
      auto match = registry_->directory()->Match(host);
      return match ? match->registry->name : std::string();
    });
    gate_->SetPolicy(
        std::make_shared<const access::Policy>(daemon::BuildPolicy(*cp_->snapshot())));
    server_ = std::make_unique<http::Server>(*gate_, nullptr);
    auto port = server_->Listen({.address = "127.0.0.1", .port = 0});
    ASSERT_TRUE(port);
    port_ = *port;
    server_->Start();

    Arm("PUT", kRg, {{"location", "westus"}});
    MakeRegistry();
  }
  void TearDown() override {
    server_->Stop();
    server_.reset();
    gate_.reset();
    registry_.reset();
  }

  // As coved's RegistryNode::Apply: identities, then the Gate's network policy.
  void Publish(const arm::SnapshotPtr& snapshot) {
    auto projection = daemon::Project(snapshot);
    ASSERT_TRUE(projection->identities) << projection->identities.error().message;
    auto built = auth::IdentitySnapshot::Build(*projection->identities);
    ASSERT_TRUE(built) << built.error().message;
    store_.Set(*built);
    if (gate_) gate_->SetPolicy(projection->policy);
  }

  // ---- the control plane, as `cove` calls it

  json Arm(const std::string& method, const std::string& path, const json& body = nullptr,
           int* status = nullptr) {
    auto r = cp_->Handle({method, path, "2023-09-01", body.is_null() ? "" : body.dump(), "", ""});
    if (status) {
      *status = r.status;
    } else {
      EXPECT_LT(r.status, 300) << method << " " << path << ": " << (r.body ? r.body->dump() : "");
    }
    return r.body ? *r.body : json();
  }
  json Graph(const std::string& method, const std::string& path, const json& body = nullptr) {
    auto r = cp_->Handle({method, path, std::nullopt, body.is_null() ? "" : body.dump(), "", ""});
    EXPECT_LT(r.status, 300) << method << " " << path << ": " << (r.body ? r.body->dump() : "");
    return r.body ? *r.body : json();
  }

  // Premium, admin user enabled; `admin_password_` is its first password afterwards.
  void MakeRegistry() {
    Arm("PUT", kRegistryId,
        {{"location", "westus"},
         {"sku", {{"name", "Premium"}}},
         {"properties", {{"adminUserEnabled", true}}}});
    admin_password_ = AdminPassword(0);
  }
  std::string AdminPassword(int which) {
    auto creds = Arm("POST", kRegistryId + "/listCredentials");
    return creds["passwords"][which]["value"].get<std::string>();
  }

  ServicePrincipal MakeServicePrincipal(const std::string& name) {
    ServicePrincipal sp;
    auto app = Graph("POST", "/v1.0/applications", {{"displayName", name}});
    sp.app_object_id = app.value("id", "");
    sp.app_id = app.value("appId", "");
    sp.id = Graph("POST", "/v1.0/servicePrincipals", {{"appId", sp.app_id}}).value("id", "");
    auto secret = AddSecret(sp);
    sp.secret = secret.first;
    sp.key_id = secret.second;
    return sp;
  }
  // A further client secret ({secretText, keyId}), expiring after `lifetime` when given.
  std::pair<std::string, std::string> AddSecret(
      const ServicePrincipal& sp, std::optional<std::chrono::seconds> lifetime = std::nullopt) {
    json credential = {{"displayName", "s"}};
    if (lifetime) credential["endDateTime"] = arm::FormatArmTime(clock_.Now() + *lifetime);
    auto r = Graph("POST", "/v1.0/applications/" + sp.app_object_id + "/addPassword",
                   {{"passwordCredential", credential}});
    return {r.value("secretText", ""), r.value("keyId", "")};
  }
  // Assigns AcrPull on `scope`; returns the assignment's id (for DELETE).
  std::string AssignAcrPull(const std::string& principal_id, const std::string& scope,
                            const std::string& guid, const char* type = "ServicePrincipal") {
    std::string id = scope + "/providers/Microsoft.Authorization/roleAssignments/" + guid;
    Arm("PUT", id,
        {{"properties",
          {{"roleDefinitionId",
            kSub + "/providers/Microsoft.Authorization/roleDefinitions/" + kAcrPull},
           {"principalId", principal_id},
           {"principalType", type}}}});
    return id;
  }
  // A repository-scoped token on _repositories_pull; returns its password1.
  std::string MakeToken(const std::string& name,
                        std::optional<std::chrono::seconds> lifetime = std::nullopt) {
    Arm("PUT", kRegistryId + "/tokens/" + name,
        {{"properties", {{"scopeMapId", kRegistryId + "/scopeMaps/_repositories_pull"}}}});
    return TokenPassword(name, lifetime);
  }
  // (Re)generates the token's password1.
  std::string TokenPassword(const std::string& name,
                            std::optional<std::chrono::seconds> lifetime = std::nullopt) {
    json body = {{"tokenId", kRegistryId + "/tokens/" + name}, {"name", "password1"}};
    if (lifetime) body["expiry"] = arm::FormatArmTime(clock_.Now() + *lifetime);
    auto r = Arm("POST", kRegistryId + "/generateCredentials", body);
    return r["passwords"][0]["value"].get<std::string>();
  }

  // ---- the registry endpoint, as clients call it

  Reply Do(const std::string& method, const std::string& target, const std::string& body = "",
           std::map<std::string, std::string> headers = {}) {
    cove::testing::RawHttp conn(port_);
    auto raw = conn.Request(method, target, body, headers, kLogin);
    return {raw.status, raw.head, raw.body};
  }
  // GET /oauth2/token with Basic credentials.
  Reply TokenRequest(const std::string& user, const std::string& password,
                     const std::string& scope = "repository:app:pull") {
    return Do("GET", "/oauth2/token?service=" + std::string(kLogin) + "&scope=" + Escape(scope), "",
              {{"Authorization", Basic(user, password)}});
  }
  Reply PostForm(const std::string& path, const std::map<std::string, std::string>& fields) {
    std::string body;
    for (const auto& [k, v] : fields) body += (body.empty() ? "" : "&") + k + "=" + Escape(v);
    return Do("POST", path, body, {{"Content-Type", "application/x-www-form-urlencoded"}});
  }
  // grant_type=password with access_type=offline: an access and a refresh token.
  Reply PasswordGrant(const std::string& user, const std::string& password) {
    return PostForm("/oauth2/token", {{"grant_type", "password"},
                                      {"service", kLogin},
                                      {"scope", "repository:app:pull"},
                                      {"username", user},
                                      {"password", password},
                                      {"access_type", "offline"}});
  }
  Reply RefreshGrant(const std::string& refresh) {
    return PostForm("/oauth2/token", {{"grant_type", "refresh_token"},
                                      {"service", kLogin},
                                      {"scope", "repository:app:pull"},
                                      {"refresh_token", refresh}});
  }
  Reply ExchangeRequest(const std::string& identity_token) {
    return PostForm("/oauth2/exchange", {{"grant_type", "access_token"},
                                         {"service", kLogin},
                                         {"tenant", "cove"},
                                         {"access_token", identity_token}});
  }
  // `cove login` then `cove acr login`: an identity token exchanged for a refresh token.
  std::string LoginAndExchange(const std::string& name, const std::string& password) {
    auto identity = authenticator_->Login(name, password);
    EXPECT_TRUE(identity);
    if (!identity) return "";
    auto r = ExchangeRequest(*identity);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Get("refresh_token");
  }
  // Pulls app:v1 with a bearer token; the status.
  int PullWith(const std::string& bearer) {
    return Do("GET", "/v2/app/manifests/v1", "", {{"Authorization", "Bearer " + bearer}}).status;
  }
  // Whether `refresh` still gets an access token that pulls, by every route a refresh token
  // is taken: grant_type=refresh_token and the null GUID's password (GET and password grant).
  void ExpectRefreshTokenWorks(const std::string& refresh, bool works) {
    auto grant = RefreshGrant(refresh);
    auto basic = TokenRequest(auth::kNullGuid, refresh);
    auto password = PasswordGrant(auth::kNullGuid, refresh);
    if (works) {
      EXPECT_EQ(grant.status, 200) << grant.body;
      EXPECT_EQ(PullWith(grant.Get("access_token")), 200);
      EXPECT_EQ(basic.status, 200) << basic.body;
      EXPECT_EQ(password.status, 200) << password.body;
    } else {
      EXPECT_EQ(grant.status, 401) << grant.body;
      EXPECT_EQ(basic.status, 401) << basic.body;
      EXPECT_EQ(password.status, 401) << password.body;
      EXPECT_EQ(grant.Header("X-Cove-Auth-Error"), auth::kInvalidCredentials);
    }
  }

  // Pushes app:v1 (an empty image) as the admin user.
  void SeedImage() {
    std::string config = R"({"architecture":"amd64","os":"linux"})";
    auto admin = Basic("myregistry", admin_password_);
    std::string digest = Digest::Of(config).str();
    auto b =
        Do("POST", "/v2/app/blobs/uploads/?digest=" + digest, config, {{"Authorization", admin}});
    ASSERT_EQ(b.status, 201) << b.body;
    json m = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
              {"config",
               {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                {"digest", digest},
                {"size", config.size()}}},
              {"layers", json::array()}};
    auto r = Do(
        "PUT", "/v2/app/manifests/v1", m.dump(),
        {{"Authorization", admin}, {"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
    ASSERT_EQ(r.status, 201) << r.body;
  }

  cove::testing::TempDir dir_;
  ManualClock clock_{std::chrono::system_clock::now()};
  registry::UrlSigner signer_{std::string(32, 'k'), clock_};
  std::unique_ptr<arm::ControlPlane> cp_;
  storage::BlobStorePtr blobs_;
  storage::MetaStorePtr meta_;
  std::unique_ptr<auth::KeyRing> registry_keys_, identity_keys_;
  std::unique_ptr<auth::TokenService> tokens_;
  auth::IdentityStore store_;
  std::shared_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<access::Gate> gate_;
  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
  std::string admin_password_;
};

}  // namespace cove::security
