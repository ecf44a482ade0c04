// Issue 17 item 3, "revocation does not revoke": each test makes tokens the way clients do,
// revokes through the control plane the way `cove` does (role assignment delete, secret
// removal, password regeneration, accountEnabled=false, delete and re-create), and checks
// over the socket that every earlier token — access token, refresh token, refresh token as
// the null GUID's password, identity token — is refused from then on.
#include <gtest/gtest.h>

#include "auth/jwt.h"
#include "security/auth_fixture.h"

namespace cove::security {
namespace {

class RevocationTest : public AuthPlanesTest {};

TEST_F(RevocationTest, RevokedRoleEndsRefreshTokensAndAccessTokensAreNotPasswords) {
  SeedImage();
  auto sp = MakeServicePrincipal("puller");
  std::string assignment =
      AssignAcrPull(sp.id, kRegistryId, "00000000-0000-4000-8000-00000000a001");
  auto minted = PasswordGrant(sp.app_id, sp.secret);
  ASSERT_EQ(minted.status, 200) << minted.body;
  std::string access = minted.Get("access_token"), refresh = minted.Get("refresh_token");
  std::string exchanged = LoginAndExchange(sp.app_id, sp.secret);
  ExpectRefreshTokenWorks(refresh, true);
  ExpectRefreshTokenWorks(exchanged, true);

  // An access token is not a password: it used to mint fresh access tokens with its own grant.
  auto as_password = TokenRequest(auth::kNullGuid, access);
  EXPECT_EQ(as_password.status, 401) << as_password.body;
  EXPECT_EQ(PasswordGrant(auth::kNullGuid, access).status, 401);

  // `cove role assignment delete`: the earlier tokens no longer get anything.
  Arm("DELETE", assignment);
  ExpectRefreshTokenWorks(refresh, false);
  ExpectRefreshTokenWorks(exchanged, false);
  EXPECT_EQ(TokenRequest(auth::kNullGuid, access).status, 401);
  // And the access token it held stops pulling at once.
  EXPECT_EQ(PullWith(access), 401);
  // Its own password still authenticates, but carries no permission now.
  auto fresh = TokenRequest(sp.app_id, sp.secret);
  ASSERT_EQ(fresh.status, 200);
  EXPECT_EQ(auth::DecodeJwtUnverified(fresh.Get("access_token"))->second["access"], json::array());
}

TEST_F(RevocationTest, RefreshTokenAsPasswordDoesNotRenewItself) {
  SeedImage();
  auto sp = MakeServicePrincipal("renewer");
  AssignAcrPull(sp.id, kRegistryId, "00000000-0000-4000-8000-00000000a002");
  std::string first = LoginAndExchange(sp.app_id, sp.secret);
  ASSERT_FALSE(first.empty());
  // What docker does with a stored refresh token: the password grant with offline access.
  // Answered with the same refresh token, never a fresh one, however often it is asked.
  std::string latest = first;
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(std::chrono::minutes(80));
    auto r = PasswordGrant(auth::kNullGuid, latest);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(PullWith(r.Get("access_token")), 200);
    EXPECT_EQ(r.Get("refresh_token"), first);
    latest = r.Get("refresh_token");
  }
  // Three hours after the exchange the chain ends, by every route.
  clock_.Advance(std::chrono::minutes(21));
  ExpectRefreshTokenWorks(latest, false);
}

TEST_F(RevocationTest, DisabledServicePrincipalAndUserAreRefusedThroughEarlierTokens) {
  SeedImage();
  auto sp = MakeServicePrincipal("soon-disabled");
  AssignAcrPull(sp.id, kRegistryId, "00000000-0000-4000-8000-00000000a003");
  auto user = Graph("POST", "/v1.0/users",
                    {{"accountEnabled", true},
                     {"displayName", "Alice"},
                     {"userPrincipalName", "alice@contoso.com"},
                     {"passwordProfile", {{"password", "Alice-pw-1234!"}}}});
  std::string user_id = user.value("id", "");
  AssignAcrPull(user_id, kRegistryId, "00000000-0000-4000-8000-00000000a004", "User");

  auto minted = PasswordGrant(sp.app_id, sp.secret);
  ASSERT_EQ(minted.status, 200) << minted.body;
  std::string sp_access = minted.Get("access_token"), sp_refresh = minted.Get("refresh_token");
  auto sp_identity = authenticator_->Login(sp.app_id, sp.secret);
  auto user_identity = authenticator_->Login("alice@contoso.com", "Alice-pw-1234!");
  ASSERT_TRUE(sp_identity && user_identity);
  std::string user_refresh = ExchangeRequest(*user_identity).Get("refresh_token");
  ASSERT_FALSE(user_refresh.empty());
  ExpectRefreshTokenWorks(user_refresh, true);

  Graph("PATCH", "/v1.0/servicePrincipals/" + sp.id, {{"accountEnabled", false}});
  Graph("PATCH", "/v1.0/users/" + user_id, {{"accountEnabled", false}});

  ExpectRefreshTokenWorks(sp_refresh, false);
  ExpectRefreshTokenWorks(user_refresh, false);
  EXPECT_EQ(PullWith(sp_access), 401);
  EXPECT_EQ(ExchangeRequest(*sp_identity).status, 401);
  EXPECT_EQ(ExchangeRequest(*user_identity).status, 401);
  EXPECT_EQ(TokenRequest(sp.app_id, sp.secret).status, 401);
  EXPECT_FALSE(authenticator_->Login("alice@contoso.com", "Alice-pw-1234!"));

  // Enabled again, it authenticates again (disabling is not deleting).
  Graph("PATCH", "/v1.0/servicePrincipals/" + sp.id, {{"accountEnabled", true}});
  EXPECT_EQ(TokenRequest(sp.app_id, sp.secret).status, 200);
}

TEST_F(RevocationTest, DeletedOrExpiredSecretEndsItsTokens) {
  SeedImage();
  auto sp = MakeServicePrincipal("rotating");
  AssignAcrPull(sp.id, kRegistryId, "00000000-0000-4000-8000-00000000a005");
  auto [short_secret, short_key] = AddSecret(sp, std::chrono::hours(1));
  (void)short_key;

  auto by_a = PasswordGrant(sp.app_id, sp.secret);
  ASSERT_EQ(by_a.status, 200) << by_a.body;
  auto identity_a = authenticator_->Login(sp.app_id, sp.secret);
  ASSERT_TRUE(identity_a);
  std::string exchanged_a = ExchangeRequest(*identity_a).Get("refresh_token");
  auto by_short = PasswordGrant(sp.app_id, short_secret);
  ASSERT_EQ(by_short.status, 200) << by_short.body;
  ExpectRefreshTokenWorks(by_a.Get("refresh_token"), true);
  ExpectRefreshTokenWorks(exchanged_a, true);
  ExpectRefreshTokenWorks(by_short.Get("refresh_token"), true);

  // removePassword: everything that began with that secret ends; the other secret's stay.
  Graph("POST", "/v1.0/applications/" + sp.app_object_id + "/removePassword",
        {{"keyId", sp.key_id}});
  ExpectRefreshTokenWorks(by_a.Get("refresh_token"), false);
  ExpectRefreshTokenWorks(exchanged_a, false);
  EXPECT_EQ(PullWith(by_a.Get("access_token")), 401);
  EXPECT_EQ(ExchangeRequest(*identity_a).status, 401);
  ExpectRefreshTokenWorks(by_short.Get("refresh_token"), true);

  // The short secret expires after an hour; its three-hour refresh token ends with it.
  clock_.Advance(std::chrono::minutes(61));
  ExpectRefreshTokenWorks(by_short.Get("refresh_token"), false);
}

TEST_F(RevocationTest, RegeneratedTokenAndAdminPasswordsEndTheirTokens) {
  SeedImage();
  std::string token_pw = MakeToken("ci-token", std::chrono::hours(2));
  auto by_token = PasswordGrant("ci-token", token_pw);
  ASSERT_EQ(by_token.status, 200) << by_token.body;
  auto by_admin = PasswordGrant("myregistry", admin_password_);
  ASSERT_EQ(by_admin.status, 200) << by_admin.body;
  ExpectRefreshTokenWorks(by_token.Get("refresh_token"), true);
  ExpectRefreshTokenWorks(by_admin.Get("refresh_token"), true);

  // `cove acr token credential generate --password1` and `cove acr credential renew`.
  std::string new_token_pw = TokenPassword("ci-token", std::chrono::hours(2));
  Arm("POST", kRegistryId + "/regenerateCredential", {{"name", "password"}});
  ExpectRefreshTokenWorks(by_token.Get("refresh_token"), false);
  ExpectRefreshTokenWorks(by_admin.Get("refresh_token"), false);
  EXPECT_EQ(PullWith(by_token.Get("access_token")), 401);
  EXPECT_EQ(PullWith(by_admin.Get("access_token")), 401);

  // The new token password works until its expiry, and so do its tokens — no longer.
  auto renewed = PasswordGrant("ci-token", new_token_pw);
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  ExpectRefreshTokenWorks(renewed.Get("refresh_token"), true);
  clock_.Advance(std::chrono::hours(2));
  ExpectRefreshTokenWorks(renewed.Get("refresh_token"), false);
}

TEST_F(RevocationTest, RecreatedScopeMapTokenOfTheSameNameTakesNoOldTokens) {
  SeedImage();
  std::string pw = MakeToken("ci-token");
  auto old_tokens = PasswordGrant("ci-token", pw);
  ASSERT_EQ(old_tokens.status, 200) << old_tokens.body;
  ExpectRefreshTokenWorks(old_tokens.Get("refresh_token"), true);

  Arm("DELETE", kRegistryId + "/tokens/ci-token");
  MakeToken("ci-token");  // same name, same scope map: another token
  ExpectRefreshTokenWorks(old_tokens.Get("refresh_token"), false);
  EXPECT_EQ(PullWith(old_tokens.Get("access_token")), 401);
}

TEST_F(RevocationTest, RecreatedRegistryOfTheSameNameTakesNoOldTokens) {
  SeedImage();
  // A principal with AcrPull on the resource group: it may pull from the new registry too,
  // with its own credentials — but not with the old registry's tokens.
  auto sp = MakeServicePrincipal("group-puller");
  AssignAcrPull(sp.id, kRg, "00000000-0000-4000-8000-00000000a006");
  auto minted = PasswordGrant(sp.app_id, sp.secret);
  ASSERT_EQ(minted.status, 200) << minted.body;
  std::string exchanged = LoginAndExchange(sp.app_id, sp.secret);
  ExpectRefreshTokenWorks(minted.Get("refresh_token"), true);

  Arm("DELETE", kRegistryId);
  MakeRegistry();
  SeedImage();  // the data plane's store still holds app:v1; push it again as the new admin
  ExpectRefreshTokenWorks(minted.Get("refresh_token"), false);
  ExpectRefreshTokenWorks(exchanged, false);
  EXPECT_EQ(PullWith(minted.Get("access_token")), 401);
  // Its credentials still work on the new registry (the role is on the resource group).
  auto fresh = PasswordGrant(sp.app_id, sp.secret);
  ASSERT_EQ(fresh.status, 200);
  EXPECT_EQ(PullWith(fresh.Get("access_token")), 200);
}

}  // namespace
}  // namespace cove::security
