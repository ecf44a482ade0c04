// Identities in the control plane (issue 5's REST contract), through the REST API on loopback:
// the Graph-shaped directory, managed identities, role assignments and definitions, scope maps,
// tokens and the admin user's credentials; secrets never leave except when made; the snapshot
// views the daemon reads.
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>

#include "arm/identity_support.h"
#include "arm/resource_path.h"
#include "arm/state_store.h"
#include "arm_fixture.h"
#include "auth/password.h"

namespace cove::arm {
namespace {

using nlohmann::json;

const std::string kAuthz = "/providers/Microsoft.Authorization";
const std::string kAcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const std::string kAcrPush = "8311e382-0749-4cb8-b61a-304f252e45ec";
const std::string kOwner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const std::string kReg = kAcr + "/registries/myregistry";

bool IsSecretShaped(const json& v) {
  if (!v.is_string() || v.get<std::string>().size() != 32) return false;
  for (char c : v.get<std::string>()) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

class IdentityTest : public ArmFixture {
 protected:
  Reply Graph(const std::string& method, const std::string& path, const json& body = json()) {
    return Call(method, path, body.is_null() ? "" : body.dump(), "");
  }
  // A user; returns its object id.
  std::string User(const std::string& upn, const std::string& password = "Passw0rd!") {
    auto r = Graph("POST", "/v1.0/users",
                   {{"accountEnabled", true},
                    {"displayName", upn},
                    {"userPrincipalName", upn},
                    {"passwordProfile", {{"password", password}}}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }
  // An application with a service principal; returns {app object id, appId, sp object id}.
  std::array<std::string, 3> ServicePrincipal(const std::string& name) {
    auto app = Graph("POST", "/v1.0/applications", {{"displayName", name}});
    EXPECT_EQ(app.status, 201) << app.body.dump();
    auto sp = Graph("POST", "/v1.0/servicePrincipals", {{"appId", app.body["appId"]}});
    EXPECT_EQ(sp.status, 201) << sp.body.dump();
    return {app.body.value("id", ""), app.body.value("appId", ""), sp.body.value("id", "")};
  }
  std::string Identity(const std::string& name) {
    auto r = Put(kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name,
                 {{"location", "westus"}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body["properties"].value("principalId", "");
  }
  Reply Assign(const std::string& scope, const std::string& name, const std::string& role,
               const std::string& principal) {
    return Put(scope + kAuthz + "/roleAssignments/" + name,
               {{"properties",
                 {{"roleDefinitionId", kSub + kAuthz + "/roleDefinitions/" + role},
                  {"principalId", principal}}}});
  }
  std::set<std::string> AssignmentNames(const std::string& scope, const std::string& filter = "") {
    std::string path = scope + kAuthz + "/roleAssignments";
    if (!filter.empty()) path += "?$filter=" + filter;
    auto r = Get(path);
    EXPECT_EQ(r.status, 200) << r.body.dump();
    std::set<std::string> out;
    for (const auto& a : r.body["value"]) out.insert(a["name"].get<std::string>());
    return out;
  }
  const RegistryView* View(const std::string& name = "myregistry") {
    snap_ = cp_->snapshot();
    return snap_->FindRegistry(name);
  }
  SnapshotPtr snap_;
};

std::string G(int n) {  // a fixed GUID per n
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08d-0000-4000-8000-000000000000", n);
  return buf;
}

// ------------------------------------------------------------------ directory (Graph)

TEST_F(IdentityTest, GraphUsersCreateGetListDelete) {
  auto r = Graph(
      "POST", "/v1.0/users",
      {{"accountEnabled", true},
       {"displayName", "Alice"},
       {"userPrincipalName", "alice@contoso.com"},
       {"mailNickname", "alice"},
       {"passwordProfile", {{"password", "Passw0rd!"}, {"forceChangePasswordNextSignIn", false}}}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  std::string id = r.body["id"];
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(r.body["displayName"], "Alice");
  EXPECT_EQ(r.body["userPrincipalName"], "alice@contoso.com");
  EXPECT_EQ(r.body["accountEnabled"], true);
  EXPECT_TRUE(r.body["mail"].is_null());
  EXPECT_FALSE(r.body.contains("passwordProfile"));
  EXPECT_FALSE(r.body.contains("_cove"));
  EXPECT_EQ(Graph("GET", "/v1.0/users/" + id).body["userPrincipalName"], "alice@contoso.com");
  EXPECT_EQ(Graph("GET", "/v1.0/users/ALICE@contoso.com").body["id"], id);
  EXPECT_EQ(Graph("GET", "/v1.0/users").body["value"].size(), 1u);
  EXPECT_EQ(Graph("DELETE", "/v1.0/users/" + id).status, 204);
  auto gone = Graph("GET", "/v1.0/users/" + id);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.Code(), "Request_ResourceNotFound");
  EXPECT_EQ(gone.Message(), "Resource '" + id +
                                "' does not exist or one of its queried reference-property "
                                "objects are not present.");
  EXPECT_TRUE(gone.body["error"].contains("innerError"));
  EXPECT_EQ(Graph("DELETE", "/v1.0/users/" + id).Code(), "Request_ResourceNotFound");
}

TEST_F(IdentityTest, GraphUserRules) {
  User("bob@contoso.com");
  auto dup = Graph("POST", "/v1.0/users",
                   {{"displayName", "B"},
                    {"userPrincipalName", "BOB@contoso.com"},
                    {"passwordProfile", {{"password", "Passw0rd!"}}}});
  EXPECT_EQ(dup.status, 400);
  EXPECT_EQ(dup.Code(), "Request_BadRequest");
  EXPECT_EQ(dup.Message(),
            "Another object with the same value for property userPrincipalName already exists.");
  for (const char* weak : {"Sh0rt!", "alllowercase", "lowerand123", "ALLUPPER1"}) {
    auto r = Graph("POST", "/v1.0/users",
                   {{"displayName", "C"},
                    {"userPrincipalName", "carol@contoso.com"},
                    {"passwordProfile", {{"password", weak}}}});
    EXPECT_EQ(r.status, 400) << weak;
    EXPECT_EQ(r.Message(),
              "The specified password does not comply with password complexity requirements. "
              "Please provide a different password.")
        << weak;
  }
  for (const char* upn :
       {"carol", "@contoso.com", "carol@", "carol@@contoso.com", "ca rol@contoso.com"}) {
    auto r = Graph("POST", "/v1.0/users",
                   {{"displayName", "C"},
                    {"userPrincipalName", upn},
                    {"passwordProfile", {{"password", "Passw0rd!"}}}});
    EXPECT_EQ(r.status, 400) << upn;
    EXPECT_EQ(r.Code(), "Request_BadRequest") << upn;
  }
  EXPECT_EQ(
      Graph("POST", "/v1.0/users", {{"displayName", "C"}, {"userPrincipalName", "c@d.com"}}).status,
      400);  // no password
  EXPECT_EQ(Call("POST", "/v1.0/users", "{not json", "").status, 400);
  EXPECT_EQ(Graph("GET", "/v1.0/groups").Code(), "BadRequest");
  EXPECT_EQ(Graph("PUT", "/v1.0/users").status, 405);
  EXPECT_EQ(Graph("GET", "/v1.0/users").body["value"].size(), 1u);
}

TEST_F(IdentityTest, GraphNeedsNoApiVersionButArmDoes) {
  EXPECT_EQ(Graph("GET", "/v1.0/users").status, 200);
  EXPECT_EQ(Call("GET", "/v1.0/users", "", "2023-01-01").status, 200);
  auto arm = Call("GET", kSub + kAuthz + "/roleDefinitions", "", "");
  EXPECT_EQ(arm.Code(), "MissingApiVersionParameter");
  EXPECT_FALSE(arm.body["error"].contains("innerError"));
}

TEST_F(IdentityTest, ApplicationsPasswordsAndServicePrincipals) {
  auto app = Graph("POST", "/v1.0/applications", {{"displayName", "ci-pusher"}});
  ASSERT_EQ(app.status, 201) << app.body.dump();
  EXPECT_EQ(app.body["passwordCredentials"], json::array());
  std::string app_oid = app.body["id"], app_id = app.body["appId"];
  EXPECT_NE(app_oid, app_id);
  auto pw = Graph("POST", "/v1.0/applications/" + app_oid + "/addPassword",
                  {{"passwordCredential", {{"displayName", "ci"}}}});
  ASSERT_EQ(pw.status, 200) << pw.body.dump();
  EXPECT_TRUE(IsSecretShaped(pw.body["secretText"]));
  EXPECT_EQ(pw.body["hint"], pw.body["secretText"].get<std::string>().substr(0, 3));
  EXPECT_EQ(pw.body["displayName"], "ci");
  auto start = ParseIsoTime(pw.body["startDateTime"].get<std::string>());
  auto end = ParseIsoTime(pw.body["endDateTime"].get<std::string>());
  ASSERT_TRUE(start && end);
  EXPECT_EQ(UnixSeconds(*end) - UnixSeconds(*start), 365 * 86400);
  auto later = Graph("POST", "/v1.0/applications/" + app_oid + "/addPassword",
                     {{"passwordCredential", {{"endDateTime", "2099-01-01T00:00:00Z"}}}});
  EXPECT_EQ(later.body["endDateTime"], "2099-01-01T00:00:00Z");
  auto past = Graph("POST", "/v1.0/applications/" + app_oid + "/addPassword",
                    {{"passwordCredential", {{"endDateTime", "2001-01-01T00:00:00Z"}}}});
  EXPECT_EQ(past.status, 400);
  EXPECT_EQ(past.Code(), "Request_BadRequest");
  auto got = Graph("GET", "/v1.0/applications/" + app_oid);
  ASSERT_EQ(got.body["passwordCredentials"].size(), 2u);
  for (const auto& c : got.body["passwordCredentials"]) EXPECT_TRUE(c["secretText"].is_null());
  EXPECT_EQ(Graph("GET", "/v1.0/applications/" + app_id).body["id"], app_oid);

  auto sp = Graph("POST", "/v1.0/servicePrincipals", {{"appId", app_id}});
  ASSERT_EQ(sp.status, 201) << sp.body.dump();
  EXPECT_EQ(sp.body["appId"], app_id);
  EXPECT_EQ(sp.body["displayName"], "ci-pusher");
  EXPECT_EQ(sp.body["servicePrincipalType"], "Application");
  EXPECT_EQ(sp.body["accountEnabled"], true);
  EXPECT_EQ(Graph("POST", "/v1.0/servicePrincipals", {{"appId", app_id}}).status, 409);
  EXPECT_EQ(Graph("POST", "/v1.0/servicePrincipals", {{"appId", G(9)}}).Code(),
            "Request_BadRequest");
  EXPECT_EQ(Graph("GET", "/v1.0/servicePrincipals").body["value"].size(), 1u);
  EXPECT_EQ(Graph("GET", "/v1.0/servicePrincipals/" + sp.body["id"].get<std::string>()).status,
            200);

  // Deleting the application takes its service principal and that one's assignments.
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  ASSERT_EQ(Assign(kRg, G(1), kAcrPull, sp.body["id"]).status, 201);
  EXPECT_EQ(Graph("DELETE", "/v1.0/applications/" + app_oid).status, 204);
  EXPECT_EQ(Graph("GET", "/v1.0/servicePrincipals").body["value"].size(), 0u);
  EXPECT_TRUE(AssignmentNames(kRg).empty());
}

// The listings take the $filter forms az ad sends; another form is refused, never ignored.
TEST_F(IdentityTest, GraphListingsFilterAsAzAsks) {
  auto [app1, id1, sp1] = ServicePrincipal("ci-pusher");
  auto [app2, id2, sp2] = ServicePrincipal("ci-puller");
  auto names = [&](const std::string& target) {
    auto r = Graph("GET", target);
    EXPECT_EQ(r.status, 200) << r.body.dump();
    std::set<std::string> out;
    for (const auto& o : r.body["value"]) out.insert(o.value("displayName", ""));
    return out;
  };
  using Set = std::set<std::string>;
  // create-for-rbac's lookup; Graph compares without case.
  EXPECT_EQ(names("/v1.0/servicePrincipals?$filter=displayName%20eq%20%27CI-Pusher%27"),
            Set{"ci-pusher"});
  EXPECT_EQ(names("/v1.0/applications?$filter=startswith(displayName,%27ci-p%27)"),
            (Set{"ci-pusher", "ci-puller"}));
  EXPECT_EQ(names("/v1.0/applications?$filter=appId%20eq%20%27" + id2 + "%27"), Set{"ci-puller"});
  EXPECT_EQ(names("/v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c%20eq%20%27" +
                  id1 + "%27)%20and%20startswith(displayName,%27ci%27)"),
            Set{"ci-pusher"});
  EXPECT_EQ(names("/v1.0/servicePrincipals?$filter=displayName%20eq%20%27it%27%27s%27"), Set{});
  // az ad sp create-for-rbac -n of an existing name patches the application.
  EXPECT_EQ(Graph("PATCH", "/v1.0/applications/" + app2, {{"displayName", "ci-reader"}}).status,
            204);
  EXPECT_EQ(Graph("GET", "/v1.0/applications/" + app2).body["displayName"], "ci-reader");
  EXPECT_EQ(Graph("PATCH", "/v1.0/applications/" + app2, {{"appId", G(3)}}).Code(),
            "Request_BadRequest");
  EXPECT_EQ(Graph("PATCH", "/v1.0/applications/" + G(4), {{"displayName", "x"}}).status, 404);
  auto odd = Graph("GET", "/v1.0/servicePrincipals?$filter=displayName%20ne%20%27x%27");
  EXPECT_EQ(odd.status, 400);
  EXPECT_EQ(odd.Code(), "Request_UnsupportedQuery");
  EXPECT_EQ(Graph("GET", "/v1.0/users?$filter=startswith(displayName,%27x").status, 400);
}

// GET /tenants: cove's one tenant, as ARM lists a caller's (az login -u reads it).
TEST_F(IdentityTest, TenantsListsCovesTenant) {
  auto r = Get("/tenants");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_EQ(r.body["value"].size(), 1u);
  EXPECT_EQ(r.body["value"][0]["tenantId"], kTenantId);
  EXPECT_EQ(r.body["value"][0]["id"], std::string("/tenants/") + kTenantId);
  EXPECT_EQ(Call("PUT", "/tenants", "{}").status, 405);
}

// ------------------------------------------------------------------ managed identities

TEST_F(IdentityTest, ManagedIdentityLifecycle) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  std::string path = kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aci-id";
  auto r = Put(path, {{"location", "westus"}, {"tags", {{"a", "b"}}}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["type"], "Microsoft.ManagedIdentity/userAssignedIdentities");
  const json props = r.body["properties"];
  EXPECT_EQ(props["tenantId"], "c0ffee00-0000-4000-8000-0000000000ff");
  EXPECT_EQ(props["principalId"].get<std::string>().size(), 36u);
  EXPECT_EQ(props["clientId"].get<std::string>().size(), 36u);
  auto again = Put(path, {{"location", "westus"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["properties"]["principalId"], props["principalId"]);
  EXPECT_EQ(again.body["properties"]["clientId"], props["clientId"]);
  EXPECT_EQ(Put(kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a!",
                {{"location", "westus"}})
                .Code(),
            "InvalidResourceName");
  EXPECT_EQ(
      Get(kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities").body["value"].size(),
      1u);
  EXPECT_EQ(Get(kSub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities")
                .body["value"]
                .size(),
            1u);
  ASSERT_EQ(Assign(kRg, G(1), kAcrPull, props["principalId"]).status, 201);
  EXPECT_EQ(Delete(path).status, 200);
  EXPECT_TRUE(AssignmentNames(kRg).empty());
  EXPECT_EQ(Get(path).Code(), "ResourceNotFound");
}

// ------------------------------------------------------------------ role assignments

TEST_F(IdentityTest, RoleAssignmentShape) {
  SeedNetwork();
  Registry();
  std::string user = User("alice@contoso.com");
  auto sp = ServicePrincipal("ci");
  std::string mi = Identity("aci-id");
  auto r = Assign(kReg, G(1), kAcrPush, user);
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["id"], kReg + kAuthz + "/roleAssignments/" + G(1));
  EXPECT_EQ(r.body["name"], G(1));
  EXPECT_EQ(r.body["type"], "Microsoft.Authorization/roleAssignments");
  EXPECT_EQ(r.body["properties"]["roleDefinitionId"],
            kSub + kAuthz + "/roleDefinitions/" + kAcrPush);
  EXPECT_EQ(r.body["properties"]["principalId"], user);
  EXPECT_EQ(r.body["properties"]["principalType"], "User");
  EXPECT_EQ(r.body["properties"]["scope"], kReg);
  EXPECT_TRUE(r.body["properties"].contains("createdOn"));
  EXPECT_TRUE(r.body["properties"].contains("updatedOn"));
  EXPECT_EQ(Assign(kReg, G(2), kAcrPush, sp[2]).body["properties"]["principalType"],
            "ServicePrincipal");
  EXPECT_EQ(Assign(kReg, G(3), kAcrPush, mi).body["properties"]["principalType"],
            "ServicePrincipal");
  EXPECT_EQ(Get(kReg + kAuthz + "/roleAssignments/" + G(1)).body["name"], G(1));
  EXPECT_EQ(Assign(kReg, G(1), kAcrPush, user).status, 200);  // the same again
  EXPECT_EQ(Delete(kReg + kAuthz + "/roleAssignments/" + G(1)).status, 200);
  EXPECT_EQ(Delete(kReg + kAuthz + "/roleAssignments/" + G(1)).status, 204);
  EXPECT_EQ(Get(kReg + kAuthz + "/roleAssignments/" + G(1)).Code(), "RoleAssignmentNotFound");
  // Any subscription's definitions path names the built-in.
  EXPECT_EQ(Put(kSub + kAuthz + "/roleAssignments/" + G(4),
                {{"properties",
                  {{"roleDefinitionId",
                    "/subscriptions/" + G(77) + kAuthz + "/roleDefinitions/" + kOwner},
                   {"principalId", user}}}})
                .status,
            201);
}

TEST_F(IdentityTest, RoleAssignmentErrors) {
  SeedNetwork();
  Registry();
  std::string user = User("alice@contoso.com");
  auto bad_name = Assign(kReg, "not-a-guid", kAcrPull, user);
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_EQ(bad_name.Code(), "InvalidRoleAssignmentId");
  auto bad_role = Assign(kReg, G(1), G(99), user);
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(bad_role.Code(), "RoleDefinitionDoesNotExist");
  auto nobody = Assign(kReg, G(1), kAcrPull, G(42));
  EXPECT_EQ(nobody.status, 400);
  EXPECT_EQ(nobody.Code(), "PrincipalNotFound");
  EXPECT_EQ(nobody.Message(), "Principal " + G(42) +
                                  " does not exist in the directory "
                                  "c0ffee00-0000-4000-8000-0000000000ff.");
  auto no_rg = Assign(kSub + "/resourceGroups/nope", G(1), kAcrPull, user);
  EXPECT_EQ(no_rg.status, 404);
  EXPECT_EQ(no_rg.Code(), "ResourceGroupNotFound");
  auto no_registry = Assign(kAcr + "/registries/nothere", G(1), kAcrPull, user);
  EXPECT_EQ(no_registry.status, 404);
  EXPECT_EQ(no_registry.Code(), "ResourceNotFound");
  EXPECT_EQ(Assign("/subscriptions/" + G(5), G(1), kAcrPull, user).Code(), "SubscriptionNotFound");
  ASSERT_EQ(Assign(kReg, G(1), kAcrPull, user).status, 201);
  auto dup = Assign(kReg, G(2), kAcrPull, user);
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.Code(), "RoleAssignmentExists");
  EXPECT_EQ(dup.Message(), "The role assignment already exists.");
  EXPECT_EQ(Assign(kReg, G(1), kAcrPush, user).status, 400);  // a new role under the same name
  auto typed = Put(kReg + kAuthz + "/roleAssignments/" + G(3),
                   {{"properties",
                     {{"roleDefinitionId", kSub + kAuthz + "/roleDefinitions/" + kAcrPush},
                      {"principalId", user},
                      {"principalType", "ServicePrincipal"}}}});
  EXPECT_EQ(typed.status, 400);
  EXPECT_EQ(typed.Code(), "UnmatchedPrincipalType");
  EXPECT_EQ(AssignmentNames(kReg), std::set<std::string>{G(1)});
}

TEST_F(IdentityTest, RoleAssignmentListsAboveAtAndBelow) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Put(kSub + "/resourceGroups/rg2", {{"location", "westus"}}).status, 201);
  ASSERT_EQ(
      Put(kSub + "/resourceGroups/rg2/providers/Microsoft.ContainerRegistry/registries/otherreg",
          {{"location", "westus"}, {"sku", {{"name", "Premium"}}}})
          .status,
      201);
  std::string alice = User("alice@contoso.com"), bob = User("bob@contoso.com");
  ASSERT_EQ(Assign(kSub, G(1), kAcrPull, alice).status, 201);
  ASSERT_EQ(Assign(kRg, G(2), kAcrPush, bob).status, 201);
  ASSERT_EQ(Assign(kReg, G(3), kOwner, alice).status, 201);
  ASSERT_EQ(Assign(kSub + "/resourceGroups/rg2", G(4), kAcrPull, bob).status, 201);
  EXPECT_EQ(AssignmentNames(kReg), (std::set<std::string>{G(1), G(2), G(3)}));
  EXPECT_EQ(AssignmentNames(kRg), (std::set<std::string>{G(1), G(2), G(3)}));
  EXPECT_EQ(AssignmentNames(kSub), (std::set<std::string>{G(1), G(2), G(3), G(4)}));
  EXPECT_EQ(AssignmentNames(kSub, "principalId%20eq%20'" + alice + "'"),
            (std::set<std::string>{G(1), G(3)}));
  EXPECT_EQ(AssignmentNames(kRg, "atScope()"), (std::set<std::string>{G(1), G(2)}));
  EXPECT_EQ(AssignmentNames(kRg, "atScope()%20and%20assignedTo('" + bob + "')"),
            (std::set<std::string>{G(2)}));
  EXPECT_EQ(Get(kSub + kAuthz + "/roleAssignments?$filter=roleName%20eq%20'x'").status, 400);
  // A resource group whose name extends another's is not below it.
  ASSERT_EQ(Put(kSub + "/resourceGroups/rg22", {{"location", "westus"}}).status, 201);
  EXPECT_EQ(AssignmentNames(kSub + "/resourceGroups/rg22"), std::set<std::string>{G(1)});
}

TEST_F(IdentityTest, RoleAssignmentCascades) {
  SeedNetwork();
  Registry();
  std::string alice = User("alice@contoso.com");
  auto sp = ServicePrincipal("ci");
  ASSERT_EQ(Assign(kRg, G(1), kAcrPull, alice).status, 201);
  ASSERT_EQ(Assign(kReg, G(2), kAcrPush, alice).status, 201);
  ASSERT_EQ(Assign(kReg, G(3), kAcrPush, sp[2]).status, 201);
  ASSERT_EQ(Assign(kSub, G(4), kAcrPull, sp[2]).status, 201);
  EXPECT_EQ(Delete(kReg).status, 200);
  EXPECT_EQ(AssignmentNames(kSub), (std::set<std::string>{G(1), G(4)}));
  Registry();
  EXPECT_EQ(AssignmentNames(kReg), (std::set<std::string>{G(1), G(4)}));  // not resurrected
  EXPECT_EQ(Graph("DELETE", "/v1.0/servicePrincipals/" + sp[2]).status, 204);
  EXPECT_EQ(AssignmentNames(kSub), std::set<std::string>{G(1)});
  ASSERT_EQ(Assign(kSub, G(5), kAcrPull, alice).status, 201);
  EXPECT_EQ(Delete(kRg).status, 200);
  EXPECT_EQ(AssignmentNames(kSub), std::set<std::string>{G(5)});
  EXPECT_EQ(Graph("DELETE", "/v1.0/users/alice@contoso.com").status, 204);
  EXPECT_TRUE(AssignmentNames(kSub).empty());
  EXPECT_TRUE(cp_->snapshot()->role_assignments.empty());
}

TEST_F(IdentityTest, RoleDefinitions) {
  ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  auto all = Get(kSub + kAuthz + "/roleDefinitions");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body["value"].size(), 8u);  // + Network Contributor, User Access Administrator
  auto push = Get(kRg + kAuthz + "/roleDefinitions?$filter=roleName%20eq%20'AcrPush'");
  ASSERT_EQ(push.body["value"].size(), 1u);
  const json& d = push.body["value"][0];
  EXPECT_EQ(d["id"], kSub + kAuthz + "/roleDefinitions/" + kAcrPush);
  EXPECT_EQ(d["name"], kAcrPush);
  EXPECT_EQ(d["type"], "Microsoft.Authorization/roleDefinitions");
  EXPECT_EQ(d["properties"]["roleName"], "AcrPush");
  EXPECT_EQ(d["properties"]["type"], "BuiltInRole");
  EXPECT_EQ(d["properties"]["assignableScopes"], json::array({"/"}));
  EXPECT_TRUE(d["properties"]["permissions"][0].contains("actions"));
  std::map<std::string, std::string> expected = {
      {"AcrPull", kAcrPull},
      {"AcrPush", kAcrPush},
      {"AcrDelete", "c2f4ef07-c644-48eb-af81-4b1b4947fb11"},
      {"Owner", kOwner},
      {"Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"},
      {"Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"}};
  for (const auto& [name, guid] : expected) {
    auto one = Get(kSub + kAuthz + "/roleDefinitions/" + guid);
    EXPECT_EQ(one.body["properties"]["roleName"], name);
  }
  EXPECT_EQ(Get(kSub + kAuthz + "/roleDefinitions/" + G(1)).status, 404);
  EXPECT_EQ(Put(kSub + kAuthz + "/roleDefinitions/" + G(1), json::object()).status, 405);
}

// ------------------------------------------------------------------ scope maps and tokens

TEST_F(IdentityTest, SystemScopeMaps) {
  SeedNetwork();
  Registry();
  auto list = Get(kReg + "/scopeMaps");
  ASSERT_EQ(list.status, 200);
  std::set<std::string> names;
  for (const auto& m : list.body["value"]) {
    names.insert(m["name"]);
    EXPECT_EQ(m["properties"]["type"], "SystemDefined");
  }
  EXPECT_EQ(names, (std::set<std::string>{"_repositories_admin", "_repositories_pull",
                                          "_repositories_push"}));
  auto pull = Get(kReg + "/scopeMaps/_repositories_pull");
  EXPECT_EQ(pull.body["properties"]["actions"], json::array({"repositories/*/content/read"}));
  EXPECT_EQ(pull.body["id"], kReg + "/scopeMaps/_repositories_pull");
  EXPECT_EQ(Put(kReg + "/scopeMaps/_repositories_pull",
                {{"properties", {{"actions", {"repositories/*/content/write"}}}}})
                .status,
            400);
  EXPECT_EQ(Delete(kReg + "/scopeMaps/_repositories_admin").status, 400);
  EXPECT_EQ(Get(kReg + "/scopeMaps/_repositories_push").status, 200);
}

TEST_F(IdentityTest, ScopeMapRules) {
  SeedNetwork();
  Registry();
  json actions = {"repositories/samples/*/content/read", "repositories/hello-world/content/write",
                  "repositories/*/metadata/read", "repositories/a/content/delete",
                  "repositories/a/metadata/write"};
  auto r = Put(kReg + "/scopeMaps/my-map_1",
               {{"properties", {{"description", "d"}, {"actions", actions}}}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["type"], "Microsoft.ContainerRegistry/registries/scopeMaps");
  EXPECT_EQ(r.body["properties"]["type"], "UserDefined");
  EXPECT_EQ(r.body["properties"]["actions"], actions);
  EXPECT_EQ(r.body["properties"]["description"], "d");
  EXPECT_EQ(r.body["properties"]["provisioningState"], "Succeeded");
  EXPECT_TRUE(r.body["properties"].contains("creationDate"));
  for (const char* bad :
       {"repositories/a/metadata/delete", "repositories/a/content/execute", "repos/a/content/read",
        "repositories/Upper/content/read", "repositories/a*/content/read",
        "repositories/*/b/content/read", "repositories//content/read"}) {
    auto b = Put(kReg + "/scopeMaps/badmap", {{"properties", {{"actions", {bad}}}}});
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_EQ(b.Code(), "InvalidScopeMapAction") << bad;
    EXPECT_NE(b.Message().find(bad), std::string::npos) << b.Message();
  }
  for (const char* bad_name :
       {"abcd", "has.dot", "x234567890123456789012345678901234567890123456789012"}) {
    EXPECT_EQ(Put(kReg + "/scopeMaps/" + bad_name,
                  {{"properties", {{"actions", {"repositories/a/content/read"}}}}})
                  .Code(),
              "InvalidResourceName")
        << bad_name;
  }
  EXPECT_EQ(Put(kReg + "/scopeMaps/empty", {{"properties", {{"actions", json::array()}}}}).status,
            400);
  EXPECT_EQ(Get(kReg + "/scopeMaps").body["value"].size(), 4u);
}

TEST_F(IdentityTest, TokensAndScopeMapInUse) {
  SeedNetwork();
  Registry();
  Registry("otherregistry");
  ASSERT_EQ(Put(kReg + "/scopeMaps/pullers",
                {{"properties", {{"actions", {"repositories/a/content/read"}}}}})
                .status,
            201);
  ASSERT_EQ(Put(kAcr + "/registries/otherregistry/scopeMaps/theirs",
                {{"properties", {{"actions", {"repositories/a/content/read"}}}}})
                .status,
            201);
  auto t = Put(kReg + "/tokens/ci-token",
               {{"properties", {{"scopeMapId", kReg + "/scopeMaps/pullers"}}}});
  ASSERT_EQ(t.status, 201) << t.body.dump();
  EXPECT_EQ(t.body["type"], "Microsoft.ContainerRegistry/registries/tokens");
  EXPECT_EQ(t.body["properties"]["status"], "enabled");
  EXPECT_EQ(t.body["properties"]["scopeMapId"], kReg + "/scopeMaps/pullers");
  EXPECT_EQ(t.body["properties"]["credentials"]["certificates"], json::array());
  EXPECT_EQ(t.body["properties"]["credentials"]["passwords"], json::array());
  EXPECT_TRUE(t.body["properties"].contains("creationDate"));
  EXPECT_EQ(t.body["properties"]["provisioningState"], "Succeeded");
  EXPECT_EQ(
      Put(kReg + "/tokens/bad-token",
          {{"properties", {{"scopeMapId", kAcr + "/registries/otherregistry/scopeMaps/theirs"}}}})
          .status,
      400);
  EXPECT_EQ(Put(kReg + "/tokens/bad-token",
                {{"properties", {{"scopeMapId", kReg + "/scopeMaps/nothere"}}}})
                .status,
            400);
  EXPECT_EQ(Put(kReg + "/tokens/bad-token", {{"properties", json::object()}}).status, 400);
  EXPECT_EQ(Put(kReg + "/tokens/myregistry",
                {{"properties", {{"scopeMapId", kReg + "/scopeMaps/pullers"}}}})
                .status,
            400);
  EXPECT_EQ(
      Put(kReg + "/tokens/sys-token",
          {{"properties",
            {{"scopeMapId", kReg + "/scopeMaps/_repositories_push"}, {"status", "disabled"}}}})
          .status,
      201);
  auto patched = Patch(kReg + "/tokens/ci-token", {{"properties", {{"status", "disabled"}}}});
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(patched.body["properties"]["status"], "disabled");
  EXPECT_EQ(patched.body["properties"]["scopeMapId"], kReg + "/scopeMaps/pullers");
  EXPECT_EQ(Get(kReg + "/tokens").body["value"].size(), 2u);
  auto in_use = Delete(kReg + "/scopeMaps/pullers");
  EXPECT_EQ(in_use.status, 409);
  EXPECT_EQ(in_use.Code(), "ScopeMapInUse");
  EXPECT_NE(in_use.Message().find("ci-token"), std::string::npos);
  EXPECT_EQ(Delete(kReg + "/tokens/ci-token").status, 200);
  EXPECT_EQ(Delete(kReg + "/scopeMaps/pullers").status, 200);
  EXPECT_EQ(Get(kReg + "/tokens/ci-token").Code(), "ResourceNotFound");
}

TEST_F(IdentityTest, GenerateCredentialsAreVerifiedAgainstStoredHashes) {
  SeedNetwork();
  Registry();
  std::string token_id = kReg + "/tokens/ci-token";
  ASSERT_EQ(
      Put(token_id, {{"properties", {{"scopeMapId", kReg + "/scopeMaps/_repositories_pull"}}}})
          .status,
      201);
  auto both = Post(kReg + "/generateCredentials", {{"tokenId", token_id}});
  ASSERT_EQ(both.status, 200) << both.body.dump();
  EXPECT_EQ(both.body["username"], "ci-token");
  ASSERT_EQ(both.body["passwords"].size(), 2u);
  std::map<std::string, std::string> values;
  for (const auto& p : both.body["passwords"]) {
    EXPECT_TRUE(IsSecretShaped(p["value"]));
    EXPECT_TRUE(p.contains("creationTime"));
    values[p["name"]] = p["value"];
  }
  auto hashes = [&] {
    std::map<std::string, std::string> out;
    for (const auto& t : View()->tokens) {
      for (const auto& p : t.passwords) out[p.name] = p.hash;
    }
    return out;
  };
  auto before = hashes();
  ASSERT_EQ(before.size(), 2u);
  EXPECT_TRUE(auth::VerifyPassword(values["password1"], before["password1"]));
  EXPECT_TRUE(auth::VerifyPassword(values["password2"], before["password2"]));
  EXPECT_FALSE(auth::VerifyPassword(values["password1"], before["password2"]));
  auto shown = Get(token_id).body["properties"]["credentials"]["passwords"];
  ASSERT_EQ(shown.size(), 2u);
  for (const auto& p : shown) EXPECT_FALSE(p.contains("value"));

  auto one =
      Post(kReg + "/generateCredentials",
           {{"tokenId", token_id}, {"name", "password1"}, {"expiry", "2099-01-01T00:00:00Z"}});
  ASSERT_EQ(one.status, 200) << one.body.dump();
  ASSERT_EQ(one.body["passwords"].size(), 1u);
  EXPECT_EQ(one.body["passwords"][0]["name"], "password1");
  EXPECT_TRUE(one.body["passwords"][0].contains("expiry"));
  auto after = hashes();
  EXPECT_EQ(after["password2"], before["password2"]);
  EXPECT_TRUE(auth::VerifyPassword(one.body["passwords"][0]["value"].get<std::string>(),
                                   after["password1"]));
  EXPECT_FALSE(auth::VerifyPassword(values["password1"], after["password1"]));
  const auto* view = View();
  ASSERT_TRUE(view->tokens[0].passwords[0].expiry.has_value());
  EXPECT_EQ(UnixSeconds(*view->tokens[0].passwords[0].expiry), 4070908800);
  EXPECT_FALSE(view->tokens[0].passwords[1].expiry.has_value());

  EXPECT_EQ(
      Post(kReg + "/generateCredentials", {{"tokenId", token_id}, {"expiry", "2001-01-01"}}).status,
      400);
  EXPECT_EQ(
      Post(kReg + "/generateCredentials", {{"tokenId", token_id}, {"name", "password3"}}).status,
      400);
  EXPECT_EQ(Post(kReg + "/generateCredentials", {{"tokenId", kReg + "/tokens/nothere"}}).status,
            404);
  EXPECT_EQ(
      Post(kReg + "/generateCredentials", {{"tokenId", kAcr + "/registries/x/tokens/ci-token"}})
          .status,
      400);
  EXPECT_EQ(hashes(), after);
}

// ------------------------------------------------------------------ admin user

TEST_F(IdentityTest, AdminCredentialsNeedTheAdminUser) {
  SeedNetwork();
  Registry();
  for (const char* action : {"/listCredentials", "/regenerateCredential"}) {
    auto r = Post(kReg + action, {{"name", "password"}});
    EXPECT_EQ(r.status, 400) << action;
    EXPECT_EQ(r.Code(), "UnAuthorizedForCredentialOperations");
    EXPECT_EQ(r.Message(), "Cannot perform credential operations for " + kReg +
                               " as admin user is disabled. Kindly enable admin user as per docs: "
                               "https://docs.microsoft.com/en-us/azure/container-registry/"
                               "container-registry-authentication#admin-account");
  }
  // The passwords exist from the registry's creation.
  EXPECT_FALSE(View()->admin_password_hashes[0].empty());
  EXPECT_FALSE(View()->admin_password_hashes[1].empty());
}

TEST_F(IdentityTest, AdminCredentialsSurviveRestartAndRegenerateOne) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Patch(kReg, {{"properties", {{"adminUserEnabled", true}}}}).status, 200);
  auto listed = Post(kReg + "/listCredentials");
  ASSERT_EQ(listed.status, 200) << listed.body.dump();
  EXPECT_EQ(listed.body["username"], "myregistry");
  ASSERT_EQ(listed.body["passwords"].size(), 2u);
  EXPECT_EQ(listed.body["passwords"][0]["name"], "password");
  EXPECT_EQ(listed.body["passwords"][1]["name"], "password2");
  EXPECT_TRUE(IsSecretShaped(listed.body["passwords"][0]["value"]));
  EXPECT_NE(listed.body["passwords"][0]["value"], listed.body["passwords"][1]["value"]);
  auto hashes = View()->admin_password_hashes;
  EXPECT_TRUE(
      auth::VerifyPassword(listed.body["passwords"][0]["value"].get<std::string>(), hashes[0]));
  EXPECT_TRUE(
      auth::VerifyPassword(listed.body["passwords"][1]["value"].get<std::string>(), hashes[1]));

  Restart();
  EXPECT_EQ(Post(kReg + "/listCredentials").body, listed.body);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.Join("keys/credentials.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);

  auto regenerated = Post(kReg + "/regenerateCredential", {{"name", "password2"}});
  ASSERT_EQ(regenerated.status, 200) << regenerated.body.dump();
  EXPECT_EQ(regenerated.body["passwords"][0], listed.body["passwords"][0]);
  EXPECT_NE(regenerated.body["passwords"][1]["value"], listed.body["passwords"][1]["value"]);
  auto now = View()->admin_password_hashes;
  EXPECT_EQ(now[0], hashes[0]);
  EXPECT_TRUE(
      auth::VerifyPassword(regenerated.body["passwords"][1]["value"].get<std::string>(), now[1]));
  EXPECT_EQ(Post(kReg + "/regenerateCredential", {{"name", "password3"}}).status, 400);
  Restart();
  EXPECT_EQ(Post(kReg + "/listCredentials").body, regenerated.body);
}

TEST_F(IdentityTest, SecretsNeverLeak) {
  SeedNetwork();
  Registry();
  ASSERT_EQ(Patch(kReg, {{"properties", {{"adminUserEnabled", true}}}}).status, 200);
  User("alice@contoso.com", "Alice-Secret-Pw1");
  auto sp = ServicePrincipal("ci");
  auto secret = Graph("POST", "/v1.0/applications/" + sp[0] + "/addPassword", json::object());
  ASSERT_EQ(Put(kReg + "/tokens/ci-token",
                {{"properties", {{"scopeMapId", kReg + "/scopeMaps/_repositories_pull"}}}})
                .status,
            201);
  auto token = Post(kReg + "/generateCredentials", {{"tokenId", kReg + "/tokens/ci-token"}});
  auto admin = Post(kReg + "/listCredentials");
  std::vector<std::string> secrets = {"Alice-Secret-Pw1",
                                      secret.body["secretText"],
                                      token.body["passwords"][0]["value"],
                                      token.body["passwords"][1]["value"],
                                      admin.body["passwords"][0]["value"],
                                      admin.body["passwords"][1]["value"]};
  std::string seen;
  for (const auto& path : {kReg, kAcr + "/registries", kReg + "/tokens", kReg + "/tokens/ci-token",
                           kSub + "/providers/Microsoft.ContainerRegistry/registries"}) {
    seen += Get(path).body.dump();
  }
  for (const std::string& path :
       {std::string("/v1.0/users"), std::string("/v1.0/applications"),
        std::string("/v1.0/servicePrincipals"), "/v1.0/applications/" + sp[0]}) {
    seen += Graph("GET", path).body.dump();
  }
  auto snap = cp_->snapshot();
  for (const auto& [key, doc] : snap->documents) {
    EXPECT_EQ(key.find("#secrets"), std::string::npos) << key;
    seen += key + doc->dump();
  }
  std::ifstream db(dir_.Join("control.db"), std::ios::binary),
      wal(dir_.Join("control.db-wal"), std::ios::binary);
  std::stringstream stored;
  stored << db.rdbuf() << wal.rdbuf();
  for (const auto& s : secrets) {
    ASSERT_EQ(s.size() >= 16, true);
    EXPECT_EQ(seen.find(s), std::string::npos) << s;
    EXPECT_EQ(stored.str().find(s), std::string::npos) << s;
  }
  EXPECT_EQ(seen.find("sb1:"), std::string::npos);
  // Rendered answers carry no hashes either.
  std::string rendered;
  for (const auto& path : {kReg, kReg + "/tokens/ci-token"}) rendered += Get(path).body.dump();
  for (const auto& path : {"/v1.0/users", "/v1.0/applications"})
    rendered += Graph("GET", path).body.dump();
  EXPECT_EQ(rendered.find("$argon2id$"), std::string::npos);
}

// ------------------------------------------------------------------ snapshot views

TEST_F(IdentityTest, SnapshotViews) {
  SeedNetwork();
  Registry();
  std::string alice = User("alice@contoso.com");
  auto sp = ServicePrincipal("ci");
  Graph("POST", "/v1.0/applications/" + sp[0] + "/addPassword",
        {{"passwordCredential", {{"endDateTime", "2099-01-01T00:00:00Z"}}}});
  ASSERT_EQ(Put(kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aci-id",
                {{"location", "westus"}})
                .status,
            201);
  ASSERT_EQ(Assign(kReg, G(1), kAcrPush, sp[2]).status, 201);
  ASSERT_EQ(Put(kReg + "/scopeMaps/pullers",
                {{"properties", {{"actions", {"repositories/a/content/read"}}}}})
                .status,
            201);
  ASSERT_EQ(
      Put(kReg + "/tokens/ci-token",
          {{"properties", {{"scopeMapId", kReg + "/scopeMaps/pullers"}, {"status", "disabled"}}}})
          .status,
      201);
  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->principals.size(), 3u);
  std::map<PrincipalKind, PrincipalView> by_kind;
  for (const auto& p : snap->principals) by_kind[p.kind] = p;
  EXPECT_EQ(by_kind[PrincipalKind::kUser].id, alice);
  EXPECT_EQ(by_kind[PrincipalKind::kUser].name, "alice@contoso.com");
  ASSERT_EQ(by_kind[PrincipalKind::kUser].secrets.size(), 1u);
  EXPECT_TRUE(auth::VerifyPassword("Passw0rd!", by_kind[PrincipalKind::kUser].secrets[0].hash));
  EXPECT_EQ(by_kind[PrincipalKind::kServicePrincipal].id, sp[2]);
  EXPECT_EQ(by_kind[PrincipalKind::kServicePrincipal].app_id, sp[1]);
  ASSERT_EQ(by_kind[PrincipalKind::kServicePrincipal].secrets.size(), 1u);
  EXPECT_EQ(UnixSeconds(*by_kind[PrincipalKind::kServicePrincipal].secrets[0].expiry), 4070908800);
  EXPECT_EQ(by_kind[PrincipalKind::kManagedIdentity].name, "aci-id");
  EXPECT_TRUE(by_kind[PrincipalKind::kManagedIdentity].secrets.empty());
  ASSERT_EQ(snap->role_assignments.size(), 1u);
  EXPECT_EQ(snap->role_assignments[0].role_name, "AcrPush");
  EXPECT_EQ(snap->role_assignments[0].scope, kReg);
  EXPECT_EQ(snap->role_assignments[0].principal_id, sp[2]);
  const RegistryView* r = snap->FindRegistry("myregistry");
  ASSERT_EQ(r->scope_maps.size(), 4u);
  EXPECT_EQ(r->scope_maps[3].name, "pullers");
  EXPECT_FALSE(r->scope_maps[3].system_defined);
  ASSERT_EQ(r->tokens.size(), 1u);
  EXPECT_EQ(r->tokens[0].scope_map, "pullers");
  EXPECT_FALSE(r->tokens[0].enabled);
}

}  // namespace
}  // namespace cove::arm

namespace cove::arm {
namespace {

// A control.db written before identities existed: Microsoft.ManagedIdentity was not registered
// and registries had no admin passwords. Opening it registers the provider and makes them.
TEST(IdentityUpgradeTest, OlderStoreGetsProvidersAndAdminPasswords) {
  cove::testing::TempDir dir;
  std::string db = dir.Join("control.db");
  {
    auto store = StateStore::Open(db);
    ASSERT_TRUE(store) << store.error().ToString();
    std::string sub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
    std::vector<std::pair<std::string, std::optional<std::string>>> rows = {
        {sub, json{{"id", sub},
                   {"subscriptionId", "c0ffee00-0000-4000-8000-000000000001"},
                   {"displayName", "cove"},
                   {"state", "Enabled"}}
                  .dump()},
        {sub + "/resourcegroups/rg", json{{"id", kRg},
                                          {"name", "rg"},
                                          {"location", "westus"},
                                          {"type", "Microsoft.Resources/resourceGroups"}}
                                         .dump()},
        {Lower(kReg), json{{"id", kReg},
                           {"name", "myregistry"},
                           {"type", "Microsoft.ContainerRegistry/registries"},
                           {"location", "westus"},
                           {"sku", {{"name", "Premium"}}},
                           {"properties", {{"adminUserEnabled", true}}}}
                          .dump()}};
    for (const char* ns : {"microsoft.network", "microsoft.containerregistry",
                           "microsoft.authorization", "microsoft.compute"}) {
      rows.push_back({sub + "/providers/" + ns,
                      json{{"namespace", ns}, {"registrationState", "Registered"}}.dump()});
    }
    ASSERT_TRUE((*store)->Apply(rows));
  }
  ControlPlaneOptions options;
  options.fast_password_hashing = true;
  auto cp = ControlPlane::Open(db, options);
  ASSERT_TRUE(cp) << cp.error().ToString();
  auto provider =
      (*cp)->Handle({"GET", kSub + "/providers/Microsoft.ManagedIdentity", "1", "", "", ""});
  EXPECT_EQ(provider.body.value()["registrationState"], "Registered");
  auto listed = (*cp)->Handle({"POST", kReg + "/listCredentials", "1", "", "", ""});
  ASSERT_EQ(listed.status, 200) << listed.body->dump();
  const auto* view = (*cp)->snapshot()->FindRegistry("myregistry");
  ASSERT_NE(view, nullptr);
  EXPECT_TRUE(auth::VerifyPassword((*listed.body)["passwords"][0]["value"].get<std::string>(),
                                   view->admin_password_hashes[0]));
}

}  // namespace
}  // namespace cove::arm
