// coved's `auth:` configuration section (auth/bootstrap.h) and its place in daemon::Config.
#include "auth/bootstrap.h"

#include <gtest/gtest.h>

#include "auth/password.h"
#include "daemon/config.h"

namespace cove::auth {
namespace {

std::string Config(const std::string& auth) {
  return "registries: [{name: myregistry}, {name: openreg}]\n"
         "auth:\n" +
         auth;
}

TEST(BootstrapTest, ParsesIdentitiesRolesTokensAndNetworkFacts) {
  std::string h = *HashPassword("pw", HashCost::kMinimal);
  auto config = daemon::ParseConfig(
      Config("  principals:\n"
             "    - {id: sp-1, kind: servicePrincipal, name: ci, password_hash: \"" +
             h +
             "\"}\n"
             "    - {id: mi-1, kind: managedIdentity, name: aci}\n"
             "  role_assignments:\n"
             "    - {principal: ci, role: acrpush, registry: myregistry}\n"
             "    - {principal: mi-1, role: AcrPull, registry: myregistry}\n"
             "  registries:\n"
             "    - name: myregistry\n"
             "      admin_user: {enabled: true, password_hashes: [\"" +
             h +
             "\"]}\n"
             "      anonymous_pull: true\n"
             "      public_network_access: false\n"
             "      network_rule_bypass: None\n"
             "      scope_maps: [{name: m, actions: [repositories/a/*/content/read]}]\n"
             "      tokens:\n"
             "        - {name: t, scope_map: m, enabled: false, passwords: [{hash: \"" +
             h + "\", expiry: 1767225600}]}\n"));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(config->auth);
  const IdentityData& d = *config->auth;
  ASSERT_EQ(d.principals.size(), 2u);
  EXPECT_EQ(d.principals[1].kind, PrincipalKind::kManagedIdentity);
  ASSERT_EQ(d.assignments.size(), 2u);
  EXPECT_EQ(d.assignments[0].principal_id, "sp-1");  // by name
  EXPECT_EQ(d.assignments[0].role, Role::kAcrPush);
  ASSERT_EQ(d.registries.size(), 1u);
  const RegistryAuth& r = d.registries[0];
  EXPECT_TRUE(r.admin.enabled);
  EXPECT_TRUE(r.anonymous_pull);
  EXPECT_FALSE(r.public_network_access);
  EXPECT_EQ(r.bypass, NetworkBypass::kNone);
  ASSERT_EQ(r.tokens.size(), 1u);
  EXPECT_FALSE(r.tokens[0].enabled);
  EXPECT_EQ(UnixSeconds(*r.tokens[0].passwords[0]->expiry), 1767225600);
  EXPECT_FALSE(r.tokens[0].passwords[1]);
}

TEST(BootstrapTest, WithoutAnAuthSectionEveryRegistryIsOpen) {
  auto config = daemon::ParseConfig("registries: [{name: myregistry}]\n");
  ASSERT_TRUE(config);
  EXPECT_FALSE(config->auth);
}

TEST(BootstrapTest, RefusesWhatWouldSilentlyWeakenIt) {
  std::string h = *HashPassword("pw", HashCost::kMinimal);
  for (const std::string& bad : {
           // a typo in a registry name would leave the real one open
           std::string("  registries: [{name: myregistyr}]\n"),
           std::string("  registries: [{name: myregistry, admin_user: {enabled: true, "
                       "password_hashes: [plaintext]}}]\n"),
           std::string("  registries: [{name: myregistry, anonymus_pull: true}]\n"),
           std::string("  registries: [{name: myregistry, network_rule_bypass: All}]\n"),
           std::string("  principals: [{id: x, kind: robot}]\n"),
           std::string("  principals: [{id: x, kind: user, password_hash: \"" + h +
                       "\"}]\n"
                       "  role_assignments: [{principal: x, role: AcrImageSigner, "
                       "registry: myregistry}]\n"),
           std::string("  role_assignments: [{principal: nobody, role: AcrPull, "
                       "registry: myregistry}]\n"),
           std::string(
               "  registries: [{name: myregistry, tokens: [{name: t, scope_map: none}]}]\n"),
           std::string("  registries: [{name: myregistry, scope_maps: [{name: m, actions: "
                       "[repositories/a/content/fly]}]}]\n"),
       }) {
    auto config = daemon::ParseConfig(Config(bad));
    EXPECT_FALSE(config) << bad;
    if (!config) {
      EXPECT_EQ(config.error().code, Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace cove::auth
