// The full daemon's wiring: the control plane's REST API on loopback, and registries created
// through it appearing in the registry node's Directory (and answering on their host names).
#include "daemon/arm_node.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "auth/jwt.h"
#include "auth/password.h"
#include "daemon/projection.h"
#include "daemon/registry_node.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

using cove::testing::RawHttp;

const std::string kRg = "/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg";

class ArmNodeTest : public ::testing::Test {
 protected:
  // More configuration (an `auth:` section).
  virtual std::string ExtraConfig() { return ""; }
  void SetUp() override {
    auto config = ParseConfig("data_dir: " + dir_.path() + R"(
arm_listen: 127.0.0.1:0
arm_insecure_http: true
listen:
  - {address: 127.0.0.1, port: 0, tls: false}
registries: [{name: fromconfig, region: westus}]
default_registry: fromconfig
)" + ExtraConfig());
    ASSERT_TRUE(config) << config.error().ToString();
    auto node = RegistryNode::Open(*config, clock_);
    ASSERT_TRUE(node) << node.error().ToString();
    node_ = std::move(*node);
    auto arm = ArmNode::Open(*config, clock_);
    ASSERT_TRUE(arm) << arm.error().ToString();
    arm_ = std::move(*arm);
    arm_->SetAuth(node_->authenticator(), node_->tokens(), [this](const std::string& host) {
      return node_->RegistryOfLoginServer(host);
    });
    // As coved's main does: each commit projected once (identities, the bootstrap principal
    // among them, network policy and registries) and applied in one step.
    auto feed = [this](const arm::SnapshotPtr& s) {
      auto applied = node_->Apply(*Project(s));
      ASSERT_TRUE(applied) << applied.error().ToString();
    };
    feed(arm_->control_plane().snapshot());
    subscription_ = arm_->control_plane().Subscribe(feed);
    auto arm_port = arm_->Start();
    ASSERT_TRUE(arm_port) << arm_port.error().ToString();
    arm_port_ = *arm_port;
    auto ports = node_->Start();
    ASSERT_TRUE(ports) << ports.error().ToString();
    registry_port_ = (*ports)[0];
  }
  void TearDown() override {
    if (arm_) {
      arm_->Stop();
      arm_->control_plane().Unsubscribe(subscription_);
    }
    if (node_) node_->Stop();
  }
  // A bearer token for the bootstrap principal (<data>/bootstrap.json, Owner at "/").
  std::map<std::string, std::string> Bearer() {
    if (token_.empty()) {
      std::ifstream in(dir_.path() + "/bootstrap.json");
      auto file = nlohmann::json::parse(in, nullptr, false);
      EXPECT_TRUE(file.is_object());
      auto r = RawHttp(arm_port_).Request(
          "POST", "/" + file.value("tenantId", "") + "/oauth2/v2.0/token",
          "grant_type=client_credentials&client_id=" + file.value("clientId", "") +
              "&client_secret=" + file.value("clientSecret", ""),
          {{"Content-Type", "application/x-www-form-urlencoded"}});
      EXPECT_EQ(r.status, 200) << r.body;
      token_ = nlohmann::json::parse(r.body, nullptr, false).value("access_token", "");
    }
    return {{"Authorization", "Bearer " + token_}};
  }
  int Put(const std::string& path, const nlohmann::json& body) {
    return RawHttp(arm_port_)
        .Request("PUT", path + "?api-version=2023-01-01", body.dump(), Bearer())
        .status;
  }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<RegistryNode> node_;
  std::unique_ptr<ArmNode> arm_;
  int subscription_ = 0;
  uint16_t arm_port_ = 0, registry_port_ = 0;
  std::string token_;
};

TEST_F(ArmNodeTest, RegistriesCreatedThroughArmAreServed) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}), 201);
  ASSERT_EQ(Put(kRg + "/providers/Microsoft.ContainerRegistry/registries/armreg01",
                {{"location", "westus"}, {"sku", {{"name", "Premium"}}},
                 {"properties", {{"dataEndpointEnabled", true}}}}),
            201);
  ASSERT_EQ(Put(kRg + "/providers/Microsoft.ContainerRegistry/registries/armreg01/replications/eastus",
                {{"location", "eastus"}}),
            201);
  // Once the control plane's registries are set, only they exist: neither the configured one
  // nor a default registry for other hosts.
  for (const char* host : {"fromconfig.azurecr.io", "127.0.0.1", "localhost", "", "x.example"}) {
    auto reply = RawHttp(registry_port_).Request("GET", "/v2/", "", {}, host);
    EXPECT_EQ(reply.status, 404) << host;
    EXPECT_NE(reply.body.find("NAME_UNKNOWN"), std::string::npos) << reply.body;
  }
  // Served, and closed: the control plane's registries always require authentication.
  EXPECT_EQ(RawHttp(registry_port_).Request("GET", "/v2/", "", {}, "armreg01.azurecr.io").status,
            401);
  auto directory = node_->registry().directory();
  const registry::RegistryInfo* r = directory->Find("armreg01");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->regions, (std::vector<std::string>{"westus", "eastus"}));
  EXPECT_TRUE(r->data_endpoint_enabled);
  EXPECT_EQ(directory->Find("fromconfig"), nullptr);  // the configuration file's is gone
  EXPECT_TRUE(directory->Serves("armreg01.eastus.data.azurecr.io"));
  // Deleting the group takes the registry out of the Directory again.
  EXPECT_EQ(RawHttp(arm_port_).Request("DELETE", kRg + "?api-version=1", "", Bearer()).status,
            200);
  EXPECT_EQ(node_->registry().directory()->Find("armreg01"), nullptr);
}

// `cove login` and `cove acr login` reach these on the ARM listener (arm_node.h).
class ArmNodeAuthTest : public ArmNodeTest {
 protected:
  std::string ExtraConfig() override {
    auto hash = auth::HashPassword("S3cret-pass", auth::HashCost::kMinimal);
    return R"(auth:
  principals:
    - {id: 9d1c0000-0000-4000-8000-000000000001, kind: user, name: alice@contoso.com,
       password_hash: ")" + *hash + R"("}
  role_assignments: [{principal: alice@contoso.com, role: AcrPull, registry: fromconfig}]
  registries: [{name: fromconfig, public_network_access: false}]
)";
  }
  testing::RawReply Login(const std::string& tenant, const std::string& form) {
    return RawHttp(arm_port_).Request("POST", "/" + tenant + "/oauth2/v2.0/token", form,
                                      {{"Content-Type", "application/x-www-form-urlencoded"}});
  }
  static nlohmann::json Json(const testing::RawReply& r) {
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  // A directory user with password S3cret-pass; its object id ("" when refused).
  std::string AddUser(const std::string& display_name, const std::string& upn) {
    auto user = RawHttp(arm_port_).Request(
        "POST", "/v1.0/users",
        nlohmann::json{{"displayName", display_name},
                       {"userPrincipalName", upn},
                       {"passwordProfile", {{"password", "S3cret-pass"}}}}
            .dump(),
        Bearer());
    EXPECT_EQ(user.status, 201) << user.body;
    return Json(user).value("id", "");
  }
  // PUT of role assignment `guid` at `scope` giving `principal` the built-in role `role`.
  int Assign(const std::string& scope, const std::string& guid, const std::string& role,
             const std::string& principal) {
    return Put(scope + "/providers/Microsoft.Authorization/roleAssignments/" + guid,
               {{"properties",
                 {{"roleDefinitionId", "/subscriptions/c0ffee00-0000-4000-8000-000000000001/"
                                       "providers/Microsoft.Authorization/roleDefinitions/" +
                                           role},
                  {"principalId", principal}}}});
  }
};

TEST_F(ArmNodeAuthTest, LoginIssuesAnIdentityTokenAsEntraDoes) {
  const std::string tenant = "c0ffee00-0000-4000-8000-0000000000ff";
  auto ok = Login(tenant, "grant_type=password&username=alice%40contoso.com&password=S3cret-pass");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Json(ok)["token_type"], "Bearer");
  EXPECT_EQ(Json(ok)["expires_in"], 3599);
  auto claims = auth::DecodeJwtUnverified(Json(ok)["access_token"].get<std::string>());
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->second["oid"], "9d1c0000-0000-4000-8000-000000000001");
  EXPECT_EQ(Login("organizations", "grant_type=password&username=alice%40contoso.com"
                                   "&password=S3cret-pass").status, 200);

  auto wrong = Login(tenant, "grant_type=password&username=alice%40contoso.com&password=nope");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Json(wrong)["error"], "invalid_grant");
  EXPECT_EQ(Json(wrong)["error_description"].get<std::string>().rfind("AADSTS50126:", 0), 0u);
  auto client = Login(tenant, "grant_type=client_credentials&client_id=nobody&client_secret=x");
  EXPECT_EQ(client.status, 401);
  EXPECT_EQ(Json(client)["error"], "invalid_client");
  auto other_tenant = Login("72f988bf-86f1-41af-91ab-2d7cd011db47", "grant_type=password");
  EXPECT_EQ(other_tenant.status, 400);
  EXPECT_EQ(Json(other_tenant)["error_description"].get<std::string>().rfind("AADSTS90002:", 0),
            0u);
  auto no_grant = Login(tenant, "username=alice");
  EXPECT_EQ(no_grant.status, 400);
  EXPECT_NE(Json(no_grant)["error_description"].get<std::string>().find("'grant_type'"),
            std::string::npos);
  EXPECT_EQ(Json(Login(tenant, "grant_type=device_code"))["error"], "unsupported_grant_type");
  EXPECT_EQ(Json(Login(tenant, "grant_type=password&username=alice%40contoso.com"))
                ["error_description"].get<std::string>().find("'password'") != std::string::npos,
            true);
  EXPECT_EQ(RawHttp(arm_port_).Request("GET", "/" + tenant + "/oauth2/v2.0/token").status, 405);
}

// Entra's endpoint checks passwords on the password workers, with the same failure limits as
// the registry (auth/password_guard.h): here 3 failures per minute from one address.
class ArmNodeThrottleTest : public ArmNodeAuthTest {
 protected:
  std::string ExtraConfig() override {
    return ArmNodeAuthTest::ExtraConfig() +
           "limits: {password_failures_per_source: 3, password_refusal_delay_ms: 0}\n";
  }
};

TEST_F(ArmNodeThrottleTest, RepeatedWrongPasswordsGet429WithRetryAfter) {
  const std::string wrong = "grant_type=password&username=alice%40contoso.com&password=nope";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Login("common", wrong).status, 400) << i;
  // Throttled now: even the right password is refused, with Entra's lockout code.
  auto throttled =
      Login("common", "grant_type=password&username=alice%40contoso.com&password=S3cret-pass");
  EXPECT_EQ(throttled.status, 429) << throttled.body;
  EXPECT_EQ(Json(throttled)["error_description"].get<std::string>().rfind("AADSTS50053:", 0), 0u);
  EXPECT_GE(std::stoi(throttled.Header("Retry-After")), 1);
}

TEST_F(ArmNodeAuthTest, AcrLoginExchangeGivesARefreshTokenTheRegistryAccepts) {
  // In full mode only the control plane's registries exist: make `fromconfig` there (public
  // access disabled, as the configuration's auth entry says).
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}), 201);
  ASSERT_EQ(Put(kRg + "/providers/Microsoft.ContainerRegistry/registries/fromconfig",
                {{"location", "westus"}, {"sku", {{"name", "Premium"}}},
                 {"properties", {{"publicNetworkAccess", "Disabled"}}}}),
            201);
  // A directory user with AcrPull on it (the configuration's alice names the configuration's
  // registry, which full mode does not serve).
  std::string bob = AddUser("Bob", "bob@contoso.com");
  ASSERT_FALSE(bob.empty());
  ASSERT_EQ(Assign(kRg + "/providers/Microsoft.ContainerRegistry/registries/fromconfig",
                   "0a1c0000-0000-4000-8000-000000000001",
                   "7f951dda-4ed3-4680-a7ca-43fe172d538d", bob),
            201);
  auto login = Login("common", "grant_type=password&username=bob%40contoso.com"
                               "&password=S3cret-pass");
  ASSERT_EQ(login.status, 200);
  std::string identity = Json(login)["access_token"];
  auto exchange = [&](const std::string& login_server, const std::string& token) {
    return RawHttp(arm_port_).Request(
        "POST", "/cove/acr/" + login_server + "/oauth2/exchange",
        "grant_type=access_token&service=" + login_server + "&access_token=" + token,
        {{"Content-Type", "application/x-www-form-urlencoded"}});
  };
  auto r = exchange("FromConfig.azurecr.io", identity);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string refresh = Json(r)["refresh_token"];
  ASSERT_FALSE(refresh.empty());
  auto claims = auth::DecodeJwtUnverified(refresh);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->second["aud"], "fromconfig.azurecr.io");
  EXPECT_EQ(claims->second["grant_type"], "refresh_token");
  // The control-plane listener is not a network path to the registry, so the registry's
  // disabled public access did not stop the exchange; at the registry's own endpoint (here a
  // public one) it does, for the exchange and for the refresh token alike.
  const std::map<std::string, std::string> form = {
      {"Content-Type", "application/x-www-form-urlencoded"}};
  auto direct = RawHttp(registry_port_).Request(
      "POST", "/oauth2/exchange",
      "grant_type=access_token&service=fromconfig.azurecr.io&access_token=" + identity,
      form, "fromconfig.azurecr.io");
  EXPECT_EQ(direct.status, 403) << direct.body;
  auto token = RawHttp(registry_port_).Request(
      "POST", "/oauth2/token",
      "grant_type=refresh_token&service=fromconfig.azurecr.io&scope=repository:app:pull"
      "&refresh_token=" + refresh,
      form, "fromconfig.azurecr.io");
  EXPECT_EQ(token.status, 403) << token.body;
  EXPECT_NE(token.body.find("\"code\":\"DENIED\""), std::string::npos) << token.body;
  // Not a registry; a forged identity token.
  EXPECT_EQ(exchange("nosuch.azurecr.io", identity).status, 404);
  auto forged = exchange("fromconfig.azurecr.io", identity + "x");
  EXPECT_EQ(forged.status, 401) << forged.body;
}

// What Azure's own clients read before they sign in (daemon/arm_discovery.h), without
// credentials; the URLs in them are the listener as the request named it.
TEST_F(ArmNodeAuthTest, DiscoveryDocumentsNeedNoCredentials) {
  const std::string host = "127.0.0.1:" + std::to_string(arm_port_);
  const std::string base = "http://" + host;  // arm_insecure_http in this fixture
  const std::string tenant = "c0ffee00-0000-4000-8000-0000000000ff";
  auto get = [&](const std::string& target) {
    return RawHttp(arm_port_).Request("GET", target, "", {}, host);
  };
  // msrestazure appends "/metadata/endpoints" to az's "https://host:port/".
  auto metadata = get("//metadata/endpoints?api-version=2015-01-01");
  ASSERT_EQ(metadata.status, 200) << metadata.body;
  EXPECT_EQ(Json(metadata)["authentication"]["loginEndpoint"], base + "/adfs");
  EXPECT_EQ(Json(metadata)["authentication"]["audiences"][0],
            "https://management.core.windows.net/");
  auto cloud = get("/metadata/endpoints?api-version=2022-09-01");
  EXPECT_EQ(Json(cloud)["resourceManager"], base + "/");
  EXPECT_EQ(Json(cloud)["suffixes"]["acrLoginServer"], "azurecr.io");
  auto bad = get("/metadata/endpoints?api-version=2001-01-01");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Json(bad)["error"]["code"], "InvalidApiVersionParameter");
  EXPECT_EQ(RawHttp(arm_port_).Request("POST", "/metadata/endpoints?api-version=1.0", "", {}, host)
                .status,
            405);

  // MSAL's tenant discovery: the ADFS authority and the tenant authority name the same token
  // endpoint, each under its own issuer.
  auto adfs = get("/adfs/.well-known/openid-configuration");
  ASSERT_EQ(adfs.status, 200) << adfs.body;
  EXPECT_EQ(Json(adfs)["issuer"], base + "/adfs");
  EXPECT_EQ(Json(adfs)["token_endpoint"], base + "/" + tenant + "/oauth2/v2.0/token");
  EXPECT_TRUE(Json(adfs).contains("authorization_endpoint"));
  auto v2 = get("/" + tenant + "/v2.0/.well-known/openid-configuration");
  EXPECT_EQ(Json(v2)["issuer"], base + "/" + tenant + "/v2.0");
  EXPECT_EQ(Json(v2)["token_endpoint"], Json(adfs)["token_endpoint"]);
  EXPECT_EQ(get("/organizations/v2.0/.well-known/openid-configuration").status, 200);
  auto stranger = get("/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/"
                      "openid-configuration");
  EXPECT_EQ(stranger.status, 400);
  EXPECT_EQ(Json(stranger)["error_description"].get<std::string>().rfind("AADSTS90002:", 0), 0u);

  // The keys hold the one that signs identity tokens.
  auto keys = get(Json(adfs)["jwks_uri"].get<std::string>().substr(base.size()));
  ASSERT_EQ(keys.status, 200) << keys.body;
  auto header = auth::DecodeJwtUnverified(Bearer()["Authorization"].substr(7));
  ASSERT_TRUE(header);
  bool found = false;
  const nlohmann::json jwks = Json(keys);
  for (const auto& k : jwks["keys"]) {
    found |= k["kid"] == header->first["kid"] && k["kty"] == "EC" && k["crv"] == "P-256";
  }
  EXPECT_TRUE(found) << keys.body;
}

// MSAL asks for "<resource>/.default"; the token is for that resource, and ARM takes either of
// its names.
TEST_F(ArmNodeAuthTest, TokenRequestsNameTheirResourceAsMsalSendsIt) {
  std::ifstream in(dir_.path() + "/bootstrap.json");
  auto file = nlohmann::json::parse(in, nullptr, false);
  const std::string tenant = file.value("tenantId", "");
  const std::string client = "grant_type=client_credentials&client_id=" +
                             file.value("clientId", "") +
                             "&client_secret=" + file.value("clientSecret", "");
  auto audience_of = [](const testing::RawReply& r) {
    auto claims = auth::DecodeJwtUnverified(Json(r).value("access_token", ""));
    return claims ? claims->second.value("aud", "") : "";
  };
  auto core = Login(tenant, client + "&scope=https%3A%2F%2Fmanagement.core.windows.net%2F%2F."
                                     "default+openid+offline_access+profile");
  ASSERT_EQ(core.status, 200) << core.body;
  EXPECT_EQ(audience_of(core), "https://management.core.windows.net/");
  auto v1 = Login(tenant, client + "&resource=https%3A%2F%2Fmanagement.azure.com%2F");
  EXPECT_EQ(audience_of(v1), "https://management.azure.com/");
  EXPECT_EQ(audience_of(Login(tenant, client)), "https://management.azure.com/");
  auto listed = RawHttp(arm_port_).Request(
      "GET", "/subscriptions?api-version=2022-12-01", "",
      {{"Authorization", "Bearer " + Json(core)["access_token"].get<std::string>()}});
  EXPECT_EQ(listed.status, 200) << listed.body;

  auto unknown = Login(tenant, client + "&scope=https%3A%2F%2Fvault.azure.net%2F.default");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(Json(unknown)["error"], "invalid_resource");
  EXPECT_EQ(Json(unknown)["error_description"].get<std::string>().rfind("AADSTS500011:", 0), 0u);
  auto malformed = Login(tenant, client + "&scope=User.Read");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Json(malformed)["error"], "invalid_scope");
}

// A user's sign-in (MSAL's password grant, az login -u/-p) also gets an OpenID id_token, which
// MSAL checks (iss: the ADFS authority's issuer; aud: the client) and makes the account from.
TEST_F(ArmNodeAuthTest, PasswordGrantAnswersAnIdToken) {
  auto ok = Login("organizations",
                  "grant_type=password&username=alice%40contoso.com&password=S3cret-pass"
                  "&client_id=04b07795-8ddb-461a-bbee-02f9e1bf7b46&scope=openid+profile");
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto id = auth::DecodeJwtUnverified(Json(ok).value("id_token", ""));
  ASSERT_TRUE(id) << ok.body;
  EXPECT_EQ(id->second["iss"], "http://localhost/adfs");
  EXPECT_EQ(id->second["aud"], "04b07795-8ddb-461a-bbee-02f9e1bf7b46");
  EXPECT_EQ(id->second["upn"], "alice@contoso.com");
  EXPECT_EQ(id->second["oid"], "9d1c0000-0000-4000-8000-000000000001");
  EXPECT_EQ(id->second["tid"], "c0ffee00-0000-4000-8000-0000000000ff");
  EXPECT_GT(id->second.value("exp", 0), id->second.value("iat", 0));
  // A service principal's client credentials get none, as Entra answers them.
  std::ifstream in(dir_.path() + "/bootstrap.json");
  auto file = nlohmann::json::parse(in, nullptr, false);
  auto sp = Login("organizations", "grant_type=client_credentials&client_id=" +
                                       file.value("clientId", "") +
                                       "&client_secret=" + file.value("clientSecret", ""));
  ASSERT_EQ(sp.status, 200) << sp.body;
  EXPECT_FALSE(Json(sp).contains("id_token"));
}

// az ad asks a token for the metadata document's microsoftGraphResourceId, the listener itself:
// it is Microsoft Graph's audience, which the directory takes and ARM refuses, as Azure does.
TEST_F(ArmNodeAuthTest, TheListenerAsResourceGivesAGraphToken) {
  std::ifstream in(dir_.path() + "/bootstrap.json");
  auto file = nlohmann::json::parse(in, nullptr, false);
  auto graph = Login(file.value("tenantId", ""),
                     "grant_type=client_credentials&client_id=" + file.value("clientId", "") +
                         "&client_secret=" + file.value("clientSecret", "") +
                         "&scope=http%3A%2F%2Flocalhost%2F%2F.default+offline_access");
  ASSERT_EQ(graph.status, 200) << graph.body;
  std::string token = Json(graph).value("access_token", "");
  auto claims = auth::DecodeJwtUnverified(token);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->second.value("aud", ""), auth::kGraphAudience);
  const std::map<std::string, std::string> bearer = {{"Authorization", "Bearer " + token}};
  auto apps = RawHttp(arm_port_).Request("GET", "/v1.0/applications", "", bearer);
  EXPECT_EQ(apps.status, 200) << apps.body;
  auto arm = RawHttp(arm_port_).Request("GET", "/subscriptions?api-version=2022-12-01", "", bearer);
  EXPECT_EQ(arm.status, 401) << arm.body;
  EXPECT_EQ(Json(arm)["error"]["code"], "InvalidAuthenticationToken");
}

// GET .../resources holds what the caller may read: Reader on one group sees that group's.
TEST_F(ArmNodeAuthTest, ResourceListingHoldsWhatTheCallerMayRead) {
  const std::string sub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
  for (const char* group : {"rg", "rg2"}) {
    ASSERT_EQ(Put(sub + "/resourceGroups/" + group, {{"location", "westus"}}), 201);
    ASSERT_EQ(Put(sub + "/resourceGroups/" + group +
                      "/providers/Microsoft.ContainerRegistry/registries/reg" + group,
                  {{"location", "westus"}, {"sku", {{"name", "Basic"}}}}),
              201);
  }
  std::string carol = AddUser("Carol", "carol@contoso.com");
  ASSERT_FALSE(carol.empty());
  ASSERT_EQ(Assign(sub + "/resourceGroups/rg2", "0a1c0000-0000-4000-8000-000000000002",
                   "acdd72a7-3385-48ef-bd42-f606fba81ae7" /* Reader */, carol),
            201);
  auto login = Login("common", "grant_type=password&username=carol%40contoso.com"
                               "&password=S3cret-pass");
  ASSERT_EQ(login.status, 200) << login.body;
  const std::map<std::string, std::string> as_carol = {
      {"Authorization", "Bearer " + Json(login)["access_token"].get<std::string>()}};
  auto names = [](const testing::RawReply& r) {
    std::vector<std::string> out;
    for (const auto& item : Json(r).value("value", nlohmann::json::array())) {
      out.push_back(item.value("name", ""));
    }
    return out;
  };
  auto mine = RawHttp(arm_port_).Request("GET", sub + "/resources?api-version=2021-04-01", "",
                                         as_carol);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(names(mine), std::vector<std::string>{"regrg2"});
  auto all = RawHttp(arm_port_).Request("GET", sub + "/resources?api-version=2021-04-01", "",
                                        Bearer());
  EXPECT_EQ(names(all), (std::vector<std::string>{"regrg", "regrg2"}));
  auto other_group = RawHttp(arm_port_).Request(
      "GET", sub + "/resourceGroups/rg/resources?api-version=2021-04-01", "", as_carol);
  EXPECT_EQ(other_group.status, 200);
  EXPECT_TRUE(names(other_group).empty());
}

TEST(ArmConfigTest, ArmListenMustBeLoopback) {
  auto c = ParseConfig("arm_listen: 0.0.0.0:7780");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("loopback"), std::string::npos);
  auto d = ParseConfig("");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->arm_listen.port, 7780);
  EXPECT_EQ(d->arm_listen.address, "127.0.0.1");
  EXPECT_FALSE(ParseConfig("arm_listen: 127.0.0.1:99999"));
  EXPECT_FALSE(ParseConfig("arm_listen: nope"));
}

}  // namespace
}  // namespace cove::daemon
