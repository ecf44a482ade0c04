// BuildIdentityData: a control-plane snapshot → the registry's identities (daemon/identities.h).
#include "daemon/identities.h"

#include <gtest/gtest.h>

#include "arm/control_plane.h"
#include "auth/password.h"
#include "daemon/projection.h"

namespace cove::daemon {
namespace {

using nlohmann::json;

const std::string kSub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
const std::string kAuthz = "/providers/Microsoft.Authorization";

std::string Rg(const std::string& rg) { return kSub + "/resourceGroups/" + rg; }
std::string Reg(const std::string& rg, const std::string& name) {
  return Rg(rg) + "/providers/Microsoft.ContainerRegistry/registries/" + name;
}

class IdentitiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    arm::ControlPlaneOptions options;
    options.fast_password_hashing = true;
    options.clock = &clock_;
    auto cp = arm::ControlPlane::Open(":memory:", options);
    ASSERT_TRUE(cp) << cp.error().ToString();
    cp_ = std::move(*cp);
  }
  json Call(const std::string& method, const std::string& path, const json& body = json::object(),
            const std::string& api_version = "2023-09-01") {
    auto r =
        cp_->Handle({method, path, api_version.empty() ? std::nullopt : std::optional(api_version),
                     body.dump(), "", ""});
    EXPECT_LT(r.status, 300) << method << " " << path << ": " << (r.body ? r.body->dump() : "");
    return r.body.value_or(json());
  }
  void Assign(const std::string& scope, int n, const std::string& role_guid,
              const std::string& who) {
    char name[40];
    std::snprintf(name, sizeof(name), "%08d-0000-4000-8000-000000000000", n);
    Call("PUT", scope + kAuthz + "/roleAssignments/" + name,
         {{"properties",
           {{"roleDefinitionId", kSub + kAuthz + "/roleDefinitions/" + role_guid},
            {"principalId", who}}}});
  }
  auth::IdentitySnapshotPtr Build() {
    auto data = BuildIdentityData(*cp_->snapshot());
    EXPECT_TRUE(data) << data.error().ToString();
    auto snap = auth::IdentitySnapshot::Build(std::move(*data));
    EXPECT_TRUE(snap) << snap.error().ToString();
    return *snap;
  }

  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'780'000'000))};
  std::unique_ptr<arm::ControlPlane> cp_;
};

TEST_F(IdentitiesTest, EveryRegistryRequiresAuthenticationWithItsNetworkFacts) {
  Call("PUT", Rg("rg"), {{"location", "westus"}});
  Call("PUT", Reg("rg", "openreg"),
       {{"location", "westus"},
        {"sku", {{"name", "Standard"}}},
        {"properties", {{"anonymousPullEnabled", true}}}});
  Call("PUT", Reg("rg", "closedreg"),
       {{"location", "westus"},
        {"sku", {{"name", "Premium"}}},
        {"properties",
         {{"publicNetworkAccess", "Disabled"}, {"networkRuleBypassOptions", "None"}}}});
  auto snap = Build();
  const auth::RegistryAuth* open = snap->Registry("openreg");
  const auth::RegistryAuth* closed = snap->Registry("closedreg");
  ASSERT_NE(open, nullptr);
  ASSERT_NE(closed, nullptr);
  // The network facts are the Gate's policy, from the same projection (daemon/projection.h).
  access::Policy policy = BuildPolicy(*cp_->snapshot());
  EXPECT_TRUE(open->anonymous_pull);
  EXPECT_TRUE(policy.registries["openreg"].public_network_access);
  EXPECT_TRUE(policy.registries["openreg"].bypass_azure_services);
  EXPECT_FALSE(closed->anonymous_pull);
  EXPECT_FALSE(policy.registries["closedreg"].public_network_access);
  EXPECT_FALSE(policy.registries["closedreg"].bypass_azure_services);
  EXPECT_FALSE(open->admin.enabled);
  EXPECT_EQ(open->scope_maps.size(), 3u);  // the SystemDefined ones
}

TEST_F(IdentitiesTest, AdminUserAndTokens) {
  Call("PUT", Rg("rg"), {{"location", "westus"}});
  Call("PUT", Reg("rg", "myregistry"),
       {{"location", "westus"},
        {"sku", {{"name", "Premium"}}},
        {"properties", {{"adminUserEnabled", true}}}});
  Call("PUT", Reg("rg", "myregistry") + "/scopeMaps/samples",
       {{"properties",
         {{"actions",
           {"repositories/samples/*/content/read", "repositories/samples/*/content/write"}}}}});
  Call("PUT", Reg("rg", "myregistry") + "/tokens/ci-token",
       {{"properties", {{"scopeMapId", Reg("rg", "myregistry") + "/scopeMaps/samples"}}}});
  Call("PUT", Reg("rg", "myregistry") + "/tokens/off-token",
       {{"properties",
         {{"scopeMapId", Reg("rg", "myregistry") + "/scopeMaps/_repositories_pull"},
          {"status", "disabled"}}}});
  auto creds = Call("POST", Reg("rg", "myregistry") + "/listCredentials");
  auto token_pw = Call("POST", Reg("rg", "myregistry") + "/generateCredentials",
                       {{"tokenId", Reg("rg", "myregistry") + "/tokens/ci-token"},
                        {"name", "password2"},
                        {"expiry", "2030-01-01T00:00:00Z"}});
  auto snap = Build();
  const auth::RegistryAuth* r = snap->Registry("myregistry");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->admin.enabled);
  EXPECT_TRUE(auth::VerifyPassword(creds["passwords"][0]["value"].get<std::string>(),
                                   r->admin.password_hashes[0]));
  EXPECT_TRUE(auth::VerifyPassword(creds["passwords"][1]["value"].get<std::string>(),
                                   r->admin.password_hashes[1]));
  const auth::RepositoryToken* t = snap->Token("myregistry", "ci-token");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->enabled);
  EXPECT_EQ(t->scope_map, "samples");
  EXPECT_FALSE(t->passwords[0].has_value());
  ASSERT_TRUE(t->passwords[1].has_value());
  EXPECT_TRUE(auth::VerifyPassword(token_pw["passwords"][0]["value"].get<std::string>(),
                                   t->passwords[1]->hash));
  EXPECT_EQ(UnixSeconds(*t->passwords[1]->expiry), 1893456000);
  auto perms = snap->TokenPermissions("myregistry", *t);
  EXPECT_EQ(perms.On("samples/app"), auth::kPull | auth::kPush);
  EXPECT_EQ(perms.On("other"), 0u);
  const auth::RepositoryToken* off = snap->Token("myregistry", "off-token");
  ASSERT_NE(off, nullptr);
  EXPECT_FALSE(off->enabled);
  EXPECT_EQ(snap->TokenPermissions("myregistry", *off).On("anything"), auth::kPull);

  // Object ids made at creation: what registry tokens are bound to; a registry or token made
  // again under the same name gets another.
  std::string registry_uid = r->uid, token_uid = t->uid;
  EXPECT_EQ(registry_uid.size(), 36u);
  EXPECT_EQ(token_uid.size(), 36u);
  EXPECT_NE(registry_uid, token_uid);
  Call("DELETE", Reg("rg", "myregistry") + "/tokens/ci-token");
  Call("PUT", Reg("rg", "myregistry") + "/tokens/ci-token",
       {{"properties", {{"scopeMapId", Reg("rg", "myregistry") + "/scopeMaps/samples"}}}});
  Call("PUT", Reg("rg", "myregistry"), {{"location", "westus"}, {"sku", {{"name", "Premium"}}}});
  auto again = Build();
  EXPECT_EQ(again->Registry("myregistry")->uid, registry_uid);  // an update keeps it
  EXPECT_NE(again->Token("myregistry", "ci-token")->uid, token_uid);
}

TEST_F(IdentitiesTest, PrincipalsAndRoleAssignmentsExpandToRegistriesBelowTheirScope) {
  for (const char* rg : {"rg", "rg2", "other"}) Call("PUT", Rg(rg), {{"location", "westus"}});
  for (auto [rg, name] :
       {std::pair{"rg", "rega1"}, {"rg", "rega2"}, {"rg2", "regb1"}, {"other", "regc1"}}) {
    Call("PUT", Reg(rg, name), {{"location", "westus"}, {"sku", {{"name", "Premium"}}}});
  }
  auto user = Call("POST", "/v1.0/users",
                   {{"displayName", "Alice"},
                    {"userPrincipalName", "alice@contoso.com"},
                    {"passwordProfile", {{"password", "Passw0rd!"}}}},
                   "");
  auto off = Call("POST", "/v1.0/users",
                  {{"displayName", "Off"},
                   {"userPrincipalName", "off@contoso.com"},
                   {"accountEnabled", false},
                   {"passwordProfile", {{"password", "Passw0rd!"}}}},
                  "");
  auto app = Call("POST", "/v1.0/applications", {{"displayName", "ci"}}, "");
  auto sp = Call("POST", "/v1.0/servicePrincipals", {{"appId", app["appId"]}}, "");
  auto old_secret =
      Call("POST", "/v1.0/applications/" + app["id"].get<std::string>() + "/addPassword",
           {{"passwordCredential", {{"endDateTime", "2027-01-01T00:00:00Z"}}}}, "");
  auto new_secret =
      Call("POST", "/v1.0/applications/" + app["id"].get<std::string>() + "/addPassword",
           json::object(), "");
  auto mi =
      Call("PUT", Rg("rg") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aci",
           {{"location", "westus"}});
  std::string alice = user["id"], sp_id = sp["id"], mi_id = mi["properties"]["principalId"];
  Assign(kSub, 1, "7f951dda-4ed3-4680-a7ca-43fe172d538d", alice);      // AcrPull everywhere
  Assign(Rg("rg"), 2, "8311e382-0749-4cb8-b61a-304f252e45ec", sp_id);  // AcrPush in rg, not rg2
  Assign(Reg("other", "regc1"), 3, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", mi_id);  // Owner there
  Assign(Rg("rg2"), 4, "c2f4ef07-c644-48eb-af81-4b1b4947fb11", alice);  // AcrDelete in rg2
  auto snap = Build();

  const auth::Principal* u = snap->FindPrincipal("alice@contoso.com");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->id, alice);
  EXPECT_EQ(u->kind, auth::PrincipalKind::kUser);
  EXPECT_TRUE(auth::VerifyPassword("Passw0rd!", u->password_hash));
  const auth::Principal* disabled = snap->FindPrincipal("off@contoso.com");
  ASSERT_NE(disabled, nullptr);
  EXPECT_FALSE(auth::PrincipalPasswordMatches(*disabled, "Passw0rd!", clock_.Now()));
  EXPECT_FALSE(disabled->enabled);  // its earlier tokens are refused too (auth/authenticator.h)

  const auth::Principal* s = snap->FindPrincipal(app["appId"].get<std::string>());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->id, sp_id);
  EXPECT_EQ(s->name, app["appId"]);
  EXPECT_EQ(s->kind, auth::PrincipalKind::kServicePrincipal);
  ASSERT_EQ(s->secrets.size(), 2u);
  EXPECT_TRUE(auth::PrincipalPasswordMatches(*s, old_secret["secretText"].get<std::string>(),
                                             clock_.Now()));
  EXPECT_TRUE(auth::PrincipalPasswordMatches(*s, new_secret["secretText"].get<std::string>(),
                                             clock_.Now()));
  EXPECT_FALSE(auth::PrincipalPasswordMatches(*s, "wrong", clock_.Now()));
  auto after_expiry = std::chrono::system_clock::time_point(std::chrono::seconds(1'830'000'000));
  EXPECT_FALSE(auth::PrincipalPasswordMatches(*s, old_secret["secretText"].get<std::string>(),
                                              after_expiry));

  const auth::Principal* m = snap->PrincipalById(mi_id);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->kind, auth::PrincipalKind::kManagedIdentity);
  EXPECT_TRUE(m->password_hash.empty());

  auto actions = [&](const std::string& who, const char* registry) -> int {
    auto p = snap->RolePermissions(who, registry);
    return p ? static_cast<int>(p->On("repo")) : -1;
  };
  for (const char* r : {"rega1", "rega2", "regc1"})
    EXPECT_EQ(actions(alice, r), auth::kPull | auth::kMetadataRead) << r;
  EXPECT_EQ(actions(alice, "regb1"), auth::kPull | auth::kMetadataRead | auth::kDelete);
  EXPECT_EQ(actions(sp_id, "rega1"), auth::kPull | auth::kPush | auth::kMetadataRead);
  EXPECT_EQ(actions(sp_id, "rega2"), auth::kPull | auth::kPush | auth::kMetadataRead);
  EXPECT_EQ(actions(sp_id, "regb1"), -1);  // rg2 is not below rg
  EXPECT_EQ(actions(mi_id, "regc1"), static_cast<int>(auth::kAllActions));
  EXPECT_EQ(actions(mi_id, "rega1"), -1);
}

TEST_F(IdentitiesTest, RolesWithoutRegistryDataActionsAreIgnored) {
  Call("PUT", Rg("rg"), {{"location", "westus"}});
  Call("PUT", Reg("rg", "myregistry"), {{"location", "westus"}, {"sku", {{"name", "Premium"}}}});
  arm::Snapshot snap = *cp_->snapshot();
  snap.principals.push_back({arm::PrincipalKind::kUser, "u1", "u@x.com", "", "", true, {}});
  snap.role_assignments.push_back({"a", "a", "u1", "User", "", "Storage Blob Data Reader", kSub});
  snap.role_assignments.push_back({"b", "b", "u1", "User", "", "Reader", kSub + "/"});
  snap.role_assignments.push_back({"c", "c", "u1", "User", "", "Owner", Rg("RG")});  // casing
  auto data = BuildIdentityData(snap);
  ASSERT_TRUE(data);
  ASSERT_EQ(data->assignments.size(), 2u);
  EXPECT_EQ(data->assignments[0].role, auth::Role::kReader);
  EXPECT_EQ(data->assignments[1].role, auth::Role::kOwner);
  EXPECT_EQ(data->assignments[1].registry, "myregistry");
}

}  // namespace
}  // namespace cove::daemon
