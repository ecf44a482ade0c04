// Scopes, actions, roles and scope maps (auth/access.h): pure functions.
#include "auth/access.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace cove::auth {
namespace {

TEST(ScopeTest, ParsesDockerScopes) {
  auto s = ParseScopes("repository:samples/hello:pull,push");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].type, "repository");
  EXPECT_EQ((*s)[0].name, "samples/hello");
  EXPECT_EQ((*s)[0].actions, kPull | kPush);
  EXPECT_EQ(FormatScope((*s)[0]), "repository:samples/hello:pull,push");

  auto all = ParseScopes("repository:a:* registry:catalog:*");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].actions, kAllActions);
  EXPECT_TRUE((*all)[1].catalog());
  EXPECT_EQ(FormatScope((*all)[1]), "registry:catalog:*");

  // A host:port inside the name; a resource class; ACR's metadata actions.
  auto port = ParseScopes("repository(plugin):localhost:5000/x:metadata_read,metadata_write");
  ASSERT_TRUE(port);
  EXPECT_EQ((*port)[0].name, "localhost:5000/x");
  EXPECT_EQ((*port)[0].actions, kMetadataRead | kMetadataWrite);

  // Unknown types and actions grant nothing and are dropped, not errors.
  auto unknown = ParseScopes("artifact-repository:repo:pull repository:a:fly");
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->empty());
  EXPECT_FALSE(ParseScopes("repository"));
  EXPECT_FALSE(ParseScopes("repository::pull"));
}

TEST(RoleTest, AcrRolesMapToActions) {
  EXPECT_EQ(ParseRole("acrpull"), Role::kAcrPull);
  EXPECT_EQ(ParseRole("Owner"), Role::kOwner);
  EXPECT_FALSE(ParseRole("AcrImageSigner"));
  EXPECT_EQ(RoleGrant(Role::kAcrPull).actions, kPull | kMetadataRead);
  EXPECT_TRUE(RoleGrant(Role::kAcrPull).catalog);
  EXPECT_EQ(RoleGrant(Role::kAcrPush).actions, kPull | kPush | kMetadataRead);
  EXPECT_EQ(RoleGrant(Role::kAcrDelete).actions, kDelete | kMetadataRead);
  EXPECT_FALSE(RoleGrant(Role::kAcrDelete).catalog);
  EXPECT_EQ(RoleGrant(Role::kContributor).actions, kAllActions);
  EXPECT_EQ(RoleGrant(Role::kReader).actions, kPull | kMetadataRead);
}

TEST(ScopeMapTest, ParsesActionsAndRefusesBadOnes) {
  auto e = ParseScopeMapAction("repositories/samples/hello/content/read");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->repository, "samples/hello");
  EXPECT_EQ(e->actions, kPull);
  EXPECT_EQ(ParseScopeMapAction("repositories/a/content/write")->actions, kPush);
  EXPECT_EQ(ParseScopeMapAction("repositories/a/content/delete")->actions, kDelete);
  EXPECT_EQ(ParseScopeMapAction("repositories/a/metadata/read")->actions, kMetadataRead);
  EXPECT_EQ(ParseScopeMapAction("repositories/a/metadata/write")->actions, kMetadataWrite);
  for (const char* bad :
       {"repository/a/content/read", "repositories/a/content/execute", "repositories//content/read",
        "repositories/content/read", "repositories/a*/content/read",
        "repositories/*/b/content/read", "repositories/a/*b/content/read"}) {
    EXPECT_FALSE(ParseScopeMapAction(bad)) << bad;
  }
}

TEST(ScopeMapTest, WildcardsMatchBelowTheirPrefixAndAreAdditive) {
  auto p = Permissions::FromScopeMap({*ParseScopeMapAction("repositories/samples/*/content/read"),
                                      *ParseScopeMapAction("repositories/samples/a/content/write"),
                                      *ParseScopeMapAction("repositories/app/metadata/read")});
  EXPECT_EQ(p.On("samples/a"), kPull | kPush);
  EXPECT_EQ(p.On("samples/b/c"), kPull);
  EXPECT_EQ(p.On("samples"), 0u);  // the prefix itself is not below it
  EXPECT_EQ(p.On("samplesx/a"), 0u);
  EXPECT_EQ(p.On("app"), kMetadataRead);
  EXPECT_FALSE(p.catalog());

  auto everything =
      Permissions::FromScopeMap({*ParseScopeMapAction("repositories/*/metadata/read")});
  EXPECT_EQ(everything.On("any/thing"), kMetadataRead);
  EXPECT_TRUE(everything.catalog());
}

TEST(PermissionsTest, GrantedIsRequestedIntersectAllowed) {
  auto p = Permissions::Uniform(RoleGrant(Role::kAcrPull));
  auto requested = *ParseScopes("repository:a:pull,push,delete");
  auto catalog = *ParseScopes("registry:catalog:*");
  requested.insert(requested.end(), catalog.begin(), catalog.end());
  auto granted = p.Intersect(requested);
  ASSERT_EQ(granted.size(), 2u);
  EXPECT_EQ(granted[0].actions, kPull);
  EXPECT_TRUE(granted[1].catalog());
  EXPECT_TRUE(Covers(granted, {"repository", "a", kPull}));
  EXPECT_FALSE(Covers(granted, {"repository", "a", kPull | kPush}));
  EXPECT_FALSE(Covers(granted, {"repository", "b", kPull}));
  EXPECT_TRUE(Permissions().Intersect(requested).empty());
}

TEST(PermissionsTest, AccessClaimRoundTripsInDockerShape) {
  std::vector<Scope> granted = {{"repository", "a/b", kPull | kPush},
                                {"registry", "catalog", kAllActions}};
  auto text = AccessClaimJson(granted);
  EXPECT_EQ(nlohmann::json::parse(text),
            nlohmann::json::parse(R"([{"type":"repository","name":"a/b","actions":["pull","push"]},
                                      {"type":"registry","name":"catalog","actions":["*"]}])"));
  auto back = ParseAccessClaim(text);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0].actions, kPull | kPush);
  EXPECT_TRUE(Covers(*back, {"registry", "catalog", kAllActions}));
  EXPECT_FALSE(ParseAccessClaim("{}"));
  EXPECT_FALSE(ParseAccessClaim(R"([{"type":1}])"));
}

}  // namespace
}  // namespace cove::auth
