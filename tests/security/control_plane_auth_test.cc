// Issue 17 item 2: the control plane had no authentication. Anyone who reached coved's ARM
// listener — any local user, any process, a browser page through DNS rebinding — could enable
// the admin user and read its password, approve a private endpoint connection, open public
// network access or make itself Owner. These tests drive a real ArmNode + RegistryNode over real
// sockets (HTTPS with cove's CA, as the CLI does) and check: no token / a bad token → 401; a
// foreign Host → 421; plain HTTP on the TLS port gets no HTTP answer; a disabled or deleted
// principal → 401; and the authorization matrix — principals × operations × scopes — against
// the outcome Azure's built-in role definitions give (written out by hand below, not computed
// by the code under test).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "arm/identity_support.h"
#include "auth/keys.h"
#include "auth/token_service.h"
#include "http/client.h"
#include "daemon/arm_node.h"
#include "daemon/projection.h"
#include "daemon/registry_node.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

using nlohmann::json;

const std::string kTenant = "c0ffee00-0000-4000-8000-0000000000ff";
const std::string kSub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
const std::string kRg = kSub + "/resourceGroups/rg1";
const std::string kSibling = kSub + "/resourceGroups/rg2";
const std::string kRegistry = kRg + "/providers/Microsoft.ContainerRegistry/registries/secreg1";
const std::string kAuthz = "/providers/Microsoft.Authorization";
const std::string kPassword = "S3cret-pass-for-tests!";

const std::string kOwner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const std::string kContributor = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const std::string kReader = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const std::string kAcrPush = "8311e382-0749-4cb8-b61a-304f252e45ec";
const std::string kAcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const std::string kNetworkContributor = "4d97b98b-1d4f-4787-a291-c67834d212e7";

std::string Guid() {
  static std::mt19937_64 rng{std::random_device{}()};
  char out[37];
  uint64_t a = rng(), b = rng();
  std::snprintf(out, sizeof(out), "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>((a >> 16) & 0xfff),
                static_cast<unsigned>(b & 0xfff),
                static_cast<unsigned long long>((b >> 12) & 0xffffffffffffULL));
  return out;
}

struct Reply {
  int status = 0;
  json body;
  std::map<std::string, std::string> headers;
  std::string Code() const {
    return body.is_object() && body.contains("error") && body["error"].is_object()
               ? body["error"].value("code", "")
               : "";
  }
  std::string Message() const {
    return body.is_object() && body.contains("error") && body["error"].is_object()
               ? body["error"].value("message", "")
               : "";
  }
};

// coved's control plane and registry node as main.cc wires them, on a temporary data dir.
class Coved {
 public:
  explicit Coved(const Clock& clock, bool tls = true) : clock_(clock) {
    auto config = ParseConfig("data_dir: " + dir_.path() +
                              "\narm_listen: 127.0.0.1:0\narm_insecure_http: " +
                              (tls ? "false" : "true") +
                              "\nlisten:\n  - {address: 127.0.0.1, port: 0, tls: false}\n");
    EXPECT_TRUE(config) << config.error().ToString();
    auto node = RegistryNode::Open(*config, clock_);
    EXPECT_TRUE(node) << node.error().ToString();
    node_ = std::move(*node);
    auto arm = ArmNode::Open(*config, clock_);
    EXPECT_TRUE(arm) << arm.error().ToString();
    arm_ = std::move(*arm);
    arm_->SetAuth(node_->authenticator(), node_->tokens(),
                  [this](const std::string& h) { return node_->RegistryOfLoginServer(h); });
    auto feed = [this](const arm::SnapshotPtr& s) {
      auto applied = node_->Apply(*Project(s));
      ASSERT_TRUE(applied) << applied.error().ToString();
    };
    feed(arm_->control_plane().snapshot());
    subscription_ = arm_->control_plane().Subscribe(feed);
    auto port = arm_->Start();
    EXPECT_TRUE(port) << port.error().ToString();
    port_ = *port;
    auto ports = node_->Start();
    EXPECT_TRUE(ports);
    tls_ = tls;
  }
  ~Coved() {
    arm_->Stop();
    arm_->control_plane().Unsubscribe(subscription_);
    node_->Stop();
  }

  // One request over HTTPS (the CA from the data dir) or plain HTTP; `host` overrides Host.
  Reply Send(const std::string& method, const std::string& target, const std::string& token,
             const std::optional<json>& body = std::nullopt, const std::string& host = "",
             const std::string& content_type = "application/json") {
    http::HttpsOptions options;
    options.ca_file = dir_.path() + "/tls/ca.crt";
    auto client = http::HttpClient::Create(
        std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_),
        std::chrono::seconds(20), options);
    EXPECT_TRUE(client);
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    if (!host.empty()) headers["Host"] = host;
    std::string text = body ? (body->is_string() ? body->get<std::string>() : body->dump()) : "";
    auto r = client->Send(method, target, text, content_type, headers);
    EXPECT_TRUE(r) << r.error().ToString();
    Reply out;
    if (!r) return out;
    out.status = r->status;
    out.headers = r->headers;
    out.body = json::parse(r->body, nullptr, false);
    return out;
  }
  Reply Arm(const std::string& method, const std::string& path, const std::string& token,
            const std::optional<json>& body = std::nullopt) {
    return Send(method, path + (path.find('?') == std::string::npos ? "?" : "&") +
                            "api-version=2022-09-01",
                token, body);
  }
  // Entra's token endpoint: a password or client-credentials grant.
  Reply Token(const std::string& form) {
    return Send("POST", "/" + kTenant + "/oauth2/v2.0/token", "", json(form), "",
                "application/x-www-form-urlencoded");
  }
  std::string BootstrapToken() {
    std::ifstream in(arm_->BootstrapPath());
    json file = json::parse(in, nullptr, false);
    EXPECT_TRUE(file.is_object());
    auto r = Token("grant_type=client_credentials&client_id=" + file.value("clientId", "") +
                   "&client_secret=" + file.value("clientSecret", ""));
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return r.body.value("access_token", "");
  }
  // A directory user (made by the bootstrap principal); returns its object id.
  std::string CreateUser(const std::string& admin, const std::string& upn, bool enabled = true) {
    auto r = Send("POST", "/v1.0/users", admin,
                  json{{"accountEnabled", enabled},
                       {"displayName", upn},
                       {"mailNickname", upn.substr(0, upn.find('@'))},
                       {"userPrincipalName", upn},
                       {"passwordProfile", {{"password", kPassword}}}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }
  std::string UserToken(const std::string& upn) {
    auto r = Token("grant_type=password&username=" + upn + "&password=" + kPassword);
    EXPECT_EQ(r.status, 200) << upn << ": " << r.body.dump();
    return r.body.value("access_token", "");
  }
  void Assign(const std::string& admin, const std::string& scope, const std::string& role,
              const std::string& principal) {
    auto r = Arm("PUT", scope + kAuthz + "/roleAssignments/" + Guid(), admin,
                 json{{"properties",
                       {{"roleDefinitionId", kSub + kAuthz + "/roleDefinitions/" + role},
                        {"principalId", principal}}}});
    ASSERT_EQ(r.status, 201) << r.body.dump();
  }

  testing::TempDir dir_;
  const Clock& clock_;
  std::unique_ptr<RegistryNode> node_;
  std::unique_ptr<ArmNode> arm_;
  int subscription_ = 0;
  uint16_t port_ = 0;
  bool tls_ = true;
};

class ControlPlaneAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    clock_ = new SystemClock();
    coved_ = new Coved(*clock_);
    admin_ = new std::string(coved_->BootstrapToken());
  }
  static void TearDownTestSuite() {
    delete coved_;
    delete admin_;
    delete clock_;
  }
  static Coved& coved() { return *coved_; }
  static const std::string& admin() { return *admin_; }

  static SystemClock* clock_;
  static Coved* coved_;
  static std::string* admin_;
};
SystemClock* ControlPlaneAuthTest::clock_ = nullptr;
Coved* ControlPlaneAuthTest::coved_ = nullptr;
std::string* ControlPlaneAuthTest::admin_ = nullptr;

TEST_F(ControlPlaneAuthTest, BootstrapCredentialIsPrivateAndOwnerAtTheRoot) {
  struct stat st {};
  ASSERT_EQ(::stat(coved().arm_->BootstrapPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto subs = coved().Arm("GET", "/subscriptions", admin());
  ASSERT_EQ(subs.status, 200) << subs.body.dump();
  auto root = coved().Arm("GET", kAuthz + "/roleAssignments", admin());
  ASSERT_EQ(root.status, 200) << root.body.dump();
  bool owner_at_root = false;
  for (const auto& a : root.body["value"]) {
    owner_at_root |= a["properties"]["scope"] == "/" &&
                     a["properties"]["roleDefinitionId"].get<std::string>().ends_with(kOwner);
  }
  EXPECT_TRUE(owner_at_root) << root.body.dump();
}

TEST_F(ControlPlaneAuthTest, NoTokenIsRefusedWithArmsChallenge) {
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{
           {"GET", "/subscriptions"},
           {"POST", kRegistry + "/listCredentials"},
           {"PUT", kSub + kAuthz + "/roleAssignments/" + Guid()},
           {"GET", "/v1.0/users"},
           // A container group's operations and its containers' output (issue 16).
           {"POST", kSub + "/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g/restart"},
           {"GET", kSub + "/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g/containers/c/logs"},
           {"GET", "/cove/counters"}}) {
    auto r = coved().Arm(method, path, "");
    EXPECT_EQ(r.status, 401) << method << " " << path;
    if (path != "/v1.0/users") {
      EXPECT_EQ(r.Code(), "AuthenticationFailed") << path;
    }
    EXPECT_TRUE(r.headers["www-authenticate"].starts_with(
        "Bearer authorization_uri=\"https://127.0.0.1:" + std::to_string(coved().port_) + "/" +
        kTenant + "\""))
        << r.headers["www-authenticate"];
  }
}

TEST_F(ControlPlaneAuthTest, ForgedExpiredAndForeignTokensAreRefused) {
  std::string good = admin();
  // A flipped signature byte.
  std::string forged = good;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  // Claims edited to another principal, signature kept.
  std::string edited = good;
  size_t dot = edited.find('.');
  edited[dot + 3] = edited[dot + 3] == 'x' ? 'y' : 'x';
  // A token from another key ring (another coved, or an attacker's own key).
  testing::TempDir other;
  SystemClock clock;
  auto ring = auth::KeyRing::Open(other.path() + "/identity", clock);
  auto ring2 = auth::KeyRing::Open(other.path() + "/registry", clock);
  ASSERT_TRUE(ring && ring2);
  auth::TokenService foreign(**ring2, **ring, clock);
  auth::Principal p;
  p.id = coved().arm_->control_plane().snapshot()->principals.front().id;
  auto foreign_token = foreign.IssueIdentityToken(p);
  ASSERT_TRUE(foreign_token);
  // A genuine token of the same principal for another resource (ACR's, as IMDS issues it).
  auth::IdentityTokenOptions acr;
  acr.audience = "https://containerregistry.azure.net";
  auth::Principal bootstrap;
  auto admin_claims = coved().node_->tokens()->VerifyIdentityToken(good);
  ASSERT_TRUE(admin_claims);
  bootstrap.id = admin_claims->principal_id;
  auto acr_token = coved().node_->tokens()->IssueIdentityToken(bootstrap, acr);
  ASSERT_TRUE(acr_token);
  for (const auto& token :
       {forged, edited, *foreign_token, std::string("not-a-jwt"), *acr_token}) {
    auto r = coved().Arm("GET", "/subscriptions", token);
    EXPECT_EQ(r.status, 401) << token;
    EXPECT_EQ(r.Code(), "InvalidAuthenticationToken");
    EXPECT_NE(r.headers["www-authenticate"].find("error=\"invalid_token\""), std::string::npos);
  }
  EXPECT_EQ(coved().Arm("GET", "/subscriptions", good).status, 200);
}

TEST(ControlPlaneAuthClockTest, ExpiredTokenIsRefused) {
  ManualClock clock(SystemClock().Now());
  Coved coved(clock);
  std::string token = coved.BootstrapToken();
  EXPECT_EQ(coved.Arm("GET", "/subscriptions", token).status, 200);
  clock.Advance(std::chrono::hours(2));  // identity tokens live one hour
  auto r = coved.Arm("GET", "/subscriptions", token);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Code(), "InvalidAuthenticationToken");
}

TEST_F(ControlPlaneAuthTest, ForeignHostIsRefused) {
  std::string port = std::to_string(coved().port_);
  for (const std::string& host : std::vector<std::string>{"evil.example:" + port, "attacker.test", "127.0.0.2:" + port,
                                 "127.0.0.1:" + std::to_string(coved().port_ + 1), "localhost.:1"}) {
    auto r = coved().Send("GET", "/subscriptions?api-version=1", admin(), std::nullopt, host);
    EXPECT_EQ(r.status, 421) << host;
    EXPECT_EQ(r.Code(), "InvalidHostName") << host;
    // Also before authentication: the token endpoint is not reachable under a foreign name.
    auto t = coved().Send("POST", "/" + kTenant + "/oauth2/v2.0/token", "",
                          json("grant_type=client_credentials"), host,
                          "application/x-www-form-urlencoded");
    EXPECT_EQ(t.status, 421) << host;
  }
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port,
                                 "127.0.0.1"}) {
    EXPECT_EQ(
        coved().Send("GET", "/subscriptions?api-version=1", admin(), std::nullopt, host).status,
        200)
        << host;
  }
}

TEST_F(ControlPlaneAuthTest, PlainHttpGetsNoAnswerOnTheTlsListener) {
  ::cove::testing::RawHttp raw(coved().port_);
  auto r = raw.Request("GET", "/subscriptions?api-version=1", "",
                       {{"Authorization", "Bearer " + admin()}});
  EXPECT_EQ(r.status, 0) << r.head;
  EXPECT_EQ(r.body.find("subscriptionId"), std::string::npos);
}

TEST_F(ControlPlaneAuthTest, DisabledAndDeletedPrincipalsGetNothing) {
  std::string id = coved().CreateUser(admin(), "sleeper@cove.local", /*enabled=*/false);
  coved().Assign(admin(), kSub, kOwner, id);
  // Entra refuses it a token...
  auto login = coved().Token("grant_type=password&username=sleeper@cove.local&password=" +
                             kPassword);
  EXPECT_NE(login.status, 200);
  // ...and one issued before it was disabled no longer works.
  auth::Principal p;
  p.id = id;
  auto token = coved().node_->tokens()->IssueIdentityToken(p);
  ASSERT_TRUE(token);
  auto r = coved().Arm("GET", kSub, *token);
  EXPECT_EQ(r.status, 401) << r.body.dump();
  EXPECT_EQ(r.Code(), "InvalidAuthenticationToken");
  EXPECT_EQ(coved().Send("GET", "/v1.0/users", *token).status, 401);

  std::string gone = coved().CreateUser(admin(), "leaver@cove.local");
  coved().Assign(admin(), kSub, kOwner, gone);
  std::string leaver = coved().UserToken("leaver@cove.local");
  EXPECT_EQ(coved().Arm("GET", kSub, leaver).status, 200);
  ASSERT_EQ(coved().Send("DELETE", "/v1.0/users/" + gone, admin()).status, 204);
  EXPECT_EQ(coved().Arm("GET", kSub, leaver).status, 401);
}

TEST_F(ControlPlaneAuthTest, DirectoryReadsNeedATokenWritesNeedOwnerAtTheRoot) {
  std::string id = coved().CreateUser(admin(), "subowner@cove.local");
  coved().Assign(admin(), kSub, kOwner, id);
  std::string token = coved().UserToken("subowner@cove.local");
  EXPECT_EQ(coved().Send("GET", "/v1.0/users", token).status, 200);
  auto create = coved().Send("POST", "/v1.0/applications", token, json{{"displayName", "x"}});
  EXPECT_EQ(create.status, 403);
  EXPECT_EQ(create.Code(), "Authorization_RequestDenied");
  EXPECT_EQ(create.Message(), "Insufficient privileges to complete the operation.");
  EXPECT_EQ(coved().Send("POST", "/v1.0/applications", admin(), json{{"displayName", "x"}}).status,
            201);
}

TEST_F(ControlPlaneAuthTest, ListsHoldWhatTheCallerMayRead) {
  Coved& c = coved();
  ASSERT_LT(c.Arm("PUT", kSub + "/resourceGroups/listed", admin(), json{{"location", "westus"}})
                .status,
            300);
  ASSERT_LT(c.Arm("PUT", kSub + "/resourceGroups/hidden", admin(), json{{"location", "westus"}})
                .status,
            300);
  std::string lister = c.CreateUser(admin(), "lister@cove.local");
  c.Assign(admin(), kSub + "/resourceGroups/listed", kReader, lister);
  std::string token = c.UserToken("lister@cove.local");
  // Not a 403: the groups it may read (one), as ARM lists them.
  auto groups = c.Arm("GET", kSub + "/resourcegroups", token);
  ASSERT_EQ(groups.status, 200) << groups.body.dump();
  ASSERT_EQ(groups.body["value"].size(), 1u) << groups.body.dump();
  EXPECT_EQ(groups.body["value"][0]["name"], "listed");
  auto registries = c.Arm("GET", kSub + "/providers/Microsoft.ContainerRegistry/registries", token);
  ASSERT_EQ(registries.status, 200);
  EXPECT_TRUE(registries.body["value"].empty()) << registries.body.dump();
  EXPECT_GE(c.Arm("GET", kSub + "/resourcegroups", admin()).body["value"].size(), 2u);
}

// ------------------------------------------------------------------ the authorization matrix

enum Scope { kS, kG, kR, kX };  // subscription, resource group rg1, the registry, sibling rg2
enum Op { kRead, kWrite, kDelete, kListCredentials, kApprove, kAssign };

struct Principal {
  std::string name;
  // Expected outcome per operation, one character per scope S G R X ('1' allowed, '0' denied
  // with 403, '-' no such cell, 'U' 401); listCredentials and approve exist only on the registry.
  std::map<Op, std::string> expected;
};

// Roles are assigned at rg1 (which holds the registry), except Reader, assigned at the
// subscription, and the bootstrap principal, Owner at the tenant root. Outcomes as Azure's
// built-in role definitions give them:
//   Owner "*"; Contributor "*" but not Microsoft.Authorization/*/Write|Delete; Reader "*/read"
//   (no POST actions: listCredentials/action is not a read); AcrPush only
//   registries/pull/read and push/write (data-plane actions; no ARM read or write); Network
//   Contributor Microsoft.Network/* and resourceGroups/read (not registries); no role: nothing;
//   disabled: 401 whatever its role.
const std::vector<Principal>& Matrix() {
  static const auto* m = new std::vector<Principal>{
      //            read    write   delete  listCred approve assign
      {"bootstrap", {{kRead, "1111"}, {kWrite, "1111"}, {kDelete, "1111"},
                     {kListCredentials, "--1-"}, {kApprove, "--1-"}, {kAssign, "1111"}}},
      {"owner", {{kRead, "0110"}, {kWrite, "0110"}, {kDelete, "0110"},
                 {kListCredentials, "--1-"}, {kApprove, "--1-"}, {kAssign, "0110"}}},
      {"contributor", {{kRead, "0110"}, {kWrite, "0110"}, {kDelete, "0110"},
                       {kListCredentials, "--1-"}, {kApprove, "--1-"}, {kAssign, "0000"}}},
      {"reader", {{kRead, "1111"}, {kWrite, "0000"}, {kDelete, "0000"},
                  {kListCredentials, "--0-"}, {kApprove, "--0-"}, {kAssign, "0000"}}},
      {"acrpush", {{kRead, "0000"}, {kWrite, "0000"}, {kDelete, "0000"},
                   {kListCredentials, "--0-"}, {kApprove, "--0-"}, {kAssign, "0000"}}},
      {"netcontrib", {{kRead, "0100"}, {kWrite, "0100"}, {kDelete, "0100"},
                      {kListCredentials, "--0-"}, {kApprove, "--0-"}, {kAssign, "0000"}}},
      {"norole", {{kRead, "0000"}, {kWrite, "0000"}, {kDelete, "0000"},
                  {kListCredentials, "--0-"}, {kApprove, "--0-"}, {kAssign, "0000"}}},
      {"disabled", {{kRead, "UUUU"}, {kWrite, "UUUU"}, {kDelete, "UUUU"},
                    {kListCredentials, "--U-"}, {kApprove, "--U-"}, {kAssign, "UUUU"}}},
  };
  return *m;
}

struct Request {
  std::string method, path;
  std::optional<json> body;
  std::string action, scope;  // what a 403 must name
};

// The request for one cell. Writes make new things (unique names) so cells do not depend on
// each other; deletes name things that do not exist (204 when allowed).
Request RequestFor(Op op, Scope scope, const std::string& bystander, const std::string& role,
                   int n) {
  const std::string nsg = "/providers/Microsoft.Network/networkSecurityGroups/";
  const std::string suffix = std::to_string(n);
  const std::string scope_id = scope == kS ? kSub : scope == kG ? kRg : scope == kR ? kRegistry
                                                                                    : kSibling;
  switch (op) {
    case kRead:
      return {"GET", scope_id, std::nullopt,
              scope == kS   ? "Microsoft.Resources/subscriptions/read"
              : scope == kR ? "Microsoft.ContainerRegistry/registries/read"
                            : "Microsoft.Resources/subscriptions/resourceGroups/read",
              scope_id};
    case kWrite:
      if (scope == kS) {
        return {"PUT", kSub + "/resourcegroups/made-" + suffix, json{{"location", "westus"}},
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                kSub + "/resourceGroups/made-" + suffix};
      }
      if (scope == kR) {
        return {"PATCH", kRegistry, json{{"tags", {{"cell", suffix}}}},
                "Microsoft.ContainerRegistry/registries/write", kRegistry};
      }
      return {"PUT", scope_id + nsg + "nsg" + suffix, json{{"location", "westus"}},
              "Microsoft.Network/networkSecurityGroups/write", scope_id + nsg + "nsg" + suffix};
    case kDelete:
      if (scope == kS) {
        return {"DELETE", kSub + "/resourcegroups/ghost", std::nullopt,
                "Microsoft.Resources/subscriptions/resourceGroups/delete",
                kSub + "/resourceGroups/ghost"};
      }
      if (scope == kR) {
        return {"DELETE", kRegistry + "/scopeMaps/ghost", std::nullopt,
                "Microsoft.ContainerRegistry/registries/scopeMaps/delete",
                kRegistry + "/scopeMaps/ghost"};
      }
      return {"DELETE", scope_id + nsg + "ghost", std::nullopt,
              "Microsoft.Network/networkSecurityGroups/delete", scope_id + nsg + "ghost"};
    case kListCredentials:
      return {"POST", kRegistry + "/listCredentials", std::nullopt,
              "Microsoft.ContainerRegistry/registries/listCredentials/action", kRegistry};
    case kApprove:
      return {"PUT", kRegistry + "/privateEndpointConnections/pe1.conn",
              json{{"properties",
                    {{"privateLinkServiceConnectionState",
                      {{"status", "Approved"}, {"description", "approved"}}}}}},
              "Microsoft.ContainerRegistry/registries/privateEndpointConnections/write",
              kRegistry + "/privateEndpointConnections/pe1.conn"};
    case kAssign: {
      std::string guid = Guid();
      return {"PUT", scope_id + kAuthz + "/roleAssignments/" + guid,
              json{{"properties",
                    {{"roleDefinitionId", kSub + kAuthz + "/roleDefinitions/" + role},
                     {"principalId", bystander}}}},
              "Microsoft.Authorization/roleAssignments/write",
              scope_id + kAuthz + "/roleAssignments/" + guid};
    }
  }
  return {};
}

TEST_F(ControlPlaneAuthTest, AuthorizationMatrix) {
  Coved& c = coved();
  ASSERT_EQ(c.Arm("PUT", kRg, admin(), json{{"location", "westus"}}).status, 201);
  ASSERT_EQ(c.Arm("PUT", kSibling, admin(), json{{"location", "westus"}}).status, 201);
  auto reg = c.Arm("PUT", kRegistry, admin(),
                   json{{"location", "westus"},
                        {"sku", {{"name", "Premium"}}},
                        {"properties", {{"adminUserEnabled", true}}}});
  ASSERT_EQ(reg.status, 201) << reg.body.dump();
  std::string bystander = c.CreateUser(admin(), "bystander@cove.local");

  std::map<std::string, std::string> tokens, ids;
  tokens["bootstrap"] = admin();
  const std::map<std::string, std::pair<std::string, std::string>> roles = {
      {"owner", {kOwner, kRg}},           {"contributor", {kContributor, kRg}},
      {"reader", {kReader, kSub}},        {"acrpush", {kAcrPush, kRg}},
      {"netcontrib", {kNetworkContributor, kRg}}, {"norole", {"", ""}},
      {"disabled", {kOwner, kRg}}};
  for (const auto& [name, role] : roles) {
    std::string upn = name + "@cove.local";
    ids[name] = c.CreateUser(admin(), upn, name != "disabled");
    if (!role.first.empty()) c.Assign(admin(), role.second, role.first, ids[name]);
    if (name == "disabled") {
      auth::Principal p;
      p.id = ids[name];
      tokens[name] = *c.node_->tokens()->IssueIdentityToken(p);  // issued before it was disabled
    } else {
      tokens[name] = c.UserToken(upn);
    }
  }

  int n = 0, cells = 0;
  for (const auto& principal : Matrix()) {
    for (const auto& [op, outcomes] : principal.expected) {
      for (Scope scope : {kS, kG, kR, kX}) {
        char want = outcomes[scope];
        if (want == '-') continue;
        ++cells;
        // The bystander gets a different role from each allowed assigner (else 409 Exists).
        Request q = RequestFor(op, scope, bystander,
                               principal.name == "bootstrap" ? kReader : kAcrPull, ++n);
        auto r = c.Arm(q.method, q.path, tokens[principal.name], q.body);
        std::string cell = principal.name + " " + q.method + " " + q.path + " → " +
                           std::to_string(r.status) + " " + r.body.dump();
        if (want == 'U') {
          EXPECT_EQ(r.status, 401) << cell;
        } else if (want == '0') {
          ASSERT_EQ(r.status, 403) << cell;
          EXPECT_EQ(r.Code(), "AuthorizationFailed") << cell;
          std::string client = principal.name + "@cove.local";
          EXPECT_EQ(r.Message(),
                    "The client '" + client + "' with object id '" + ids[principal.name] +
                        "' does not have authorization to perform action '" + q.action +
                        "' over scope '" + q.scope +
                        "' or the scope is invalid. If access was recently granted, please "
                        "refresh your credentials.")
              << cell;
        } else if (op == kApprove) {
          // Authorized; the connection does not exist, which the engine then says.
          EXPECT_NE(r.status, 401) << cell;
          EXPECT_NE(r.status, 403) << cell;
        } else {
          EXPECT_GE(r.status, 200) << cell;
          EXPECT_LT(r.status, 300) << cell;
        }
        if (op == kListCredentials && want == '1') {
          EXPECT_TRUE(r.body.contains("passwords")) << cell;
        }
      }
    }
  }
  EXPECT_EQ(cells, 8 * 18);
  // Nobody but the principals that may gave the bystander a role (Owner at rg1, the bootstrap).
  auto assigned = c.Arm("GET", kSub + kAuthz + "/roleAssignments?$filter=" +
                                    "principalId%20eq%20'" + bystander + "'",
                        admin());
  ASSERT_EQ(assigned.status, 200);
  EXPECT_EQ(assigned.body["value"].size(), 4u + 2u) << assigned.body.dump();
}

}  // namespace
}  // namespace cove::daemon
