#include "registry/directory.h"

#include <gtest/gtest.h>

namespace cove::registry {
namespace {

std::shared_ptr<const Directory> Make(std::string default_registry = "") {
  auto d = Directory::Create("azurecr.io",
                             {{"myregistry", "westus", {"eastus"}, true},
                              {"OtherReg01", "westeurope", {}, false}},
                             default_registry);
  EXPECT_TRUE(d) << d.error().ToString();
  return *d;
}

TEST(DirectoryTest, MatchesLoginServersAndDataHosts) {
  auto d = Make();
  auto login = d->Match("myregistry.azurecr.io");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->registry->name, "myregistry");
  EXPECT_FALSE(login->data_host);
  auto data = d->Match("myregistry.eastus.data.azurecr.io");
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->data_host);
  EXPECT_EQ(data->region, "eastus");
  EXPECT_TRUE(d->Match("myregistry.westus.data.azurecr.io"));
  // Names are lowercased; data endpoint off means no data hosts.
  EXPECT_TRUE(d->Match("otherreg01.azurecr.io"));
  EXPECT_FALSE(d->Match("otherreg01.westeurope.data.azurecr.io"));
  EXPECT_FALSE(d->Match("myregistry.northeurope.data.azurecr.io"));
  EXPECT_FALSE(d->Match("nosuch.azurecr.io"));
  EXPECT_FALSE(d->Match("myregistry.azurecr.io.evil.com"));
  EXPECT_FALSE(d->Match("127.0.0.1"));
  EXPECT_FALSE(d->Match(""));
}

TEST(DirectoryTest, DefaultRegistryServesOtherHosts) {
  auto d = Make("myregistry");
  auto m = d->Match("127.0.0.1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->registry->name, "myregistry");
  EXPECT_FALSE(m->data_host);
  // A data host of ours that does not exist is never the default.
  EXPECT_FALSE(d->Match("myregistry.mars.data.azurecr.io"));
}

TEST(DirectoryTest, HostNames) {
  auto d = Make();
  auto names = d->HostNames();
  EXPECT_EQ(names, (std::vector<std::string>{"myregistry.azurecr.io",
                                             "myregistry.westus.data.azurecr.io",
                                             "myregistry.eastus.data.azurecr.io",
                                             "otherreg01.azurecr.io"}));
  EXPECT_TRUE(d->Serves("myregistry.eastus.data.azurecr.io"));
  EXPECT_FALSE(d->Serves("evil.example"));
}

TEST(DirectoryTest, RejectsBadDeclarations) {
  EXPECT_FALSE(Directory::Create("azurecr.io", {{"abc", "westus", {}, false}}));  // too short
  EXPECT_FALSE(Directory::Create("azurecr.io", {{"my-registry", "westus", {}, false}}));
  EXPECT_FALSE(Directory::Create("azurecr.io", {{std::string(51, 'a'), "westus", {}, false}}));
  EXPECT_FALSE(Directory::Create("azurecr.io", {{"myregistry", "West US", {}, false}}));
  EXPECT_FALSE(Directory::Create("azurecr.io",
                                 {{"myregistry", "westus", {}, false},
                                  {"MyRegistry", "westus", {}, false}}));
  EXPECT_FALSE(Directory::Create("azurecr.io", {{"myregistry", "westus", {}, false}}, "nosuch"));
  EXPECT_FALSE(Directory::Create("", {}));
  EXPECT_FALSE(Directory::Create(".io", {}));
}

TEST(DirectoryTest, CustomSuffix) {
  auto d = Directory::Create("cr.example.com", {{"myregistry", "westus", {}, true}});
  ASSERT_TRUE(d);
  EXPECT_TRUE((*d)->Match("myregistry.cr.example.com"));
  EXPECT_TRUE((*d)->Match("myregistry.westus.data.cr.example.com"));
  EXPECT_FALSE((*d)->Match("myregistry.azurecr.io"));
}

}  // namespace
}  // namespace cove::registry
