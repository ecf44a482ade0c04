// Resource-id parsing and CIDR arithmetic.
#include <gtest/gtest.h>

#include "arm/cidr.h"
#include "arm/resource_path.h"

namespace cove::arm {
namespace {

TEST(ResourcePathTest, Kinds) {
  EXPECT_EQ(ParseArmPath("/subscriptions")->kind, PathKind::kSubscriptions);
  EXPECT_EQ(ParseArmPath("/subscriptions/s/")->kind, PathKind::kSubscription);
  EXPECT_EQ(ParseArmPath("/subscriptions/s/providers")->kind, PathKind::kProviders);
  EXPECT_EQ(ParseArmPath("/subscriptions/s/providers/Microsoft.Network")->kind, PathKind::kProvider);
  auto child = ParseArmPath("/subscriptions/s/providers/Microsoft.Network/register");
  EXPECT_EQ(child->kind, PathKind::kProviderChild);
  EXPECT_EQ(child->word, "register");
  EXPECT_EQ(ParseArmPath("/subscriptions/s/resourceGroups")->kind, PathKind::kResourceGroups);
  auto p = ParseArmPath("/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/"
                        "virtualNetworks/V/subnets/Sn");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, PathKind::kResource);
  EXPECT_EQ(p->TypeKey(), "microsoft.network/virtualnetworks/subnets");
  EXPECT_EQ(p->Key(), "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/"
                      "virtualnetworks/v/subnets/sn");
  EXPECT_EQ(p->ParentKey(), "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/"
                            "virtualnetworks/v");
  auto c = ParseArmPath("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets");
  EXPECT_EQ(c->kind, PathKind::kCollection);
  EXPECT_EQ(c->ParentKey(), p->ParentKey());
  EXPECT_EQ(ParseArmPath("/subscriptions/s/resourceGroups/rg/providers/a%20b/t/n")->provider, "a b");
}

TEST(ResourcePathTest, Malformed) {
  for (const char* bad : {"", "subscriptions", "/subs", "/subscriptions//x", "/subscriptions/s/x",
                          "/subscriptions/s/resourceGroups/rg/nope/ns/t/n",
                          "/subscriptions/s/resourceGroups/rg/providers/ns",
                          "/subscriptions/s/providers/ns/a/b", "/subscriptions/%zz",
                          "/subscriptions/%2", "/subscriptions/a%2Fb"}) {
    EXPECT_FALSE(ParseArmPath(bad)) << bad;
  }
  EXPECT_FALSE(ParseResourceId("/subscriptions/s"));
  EXPECT_TRUE(ParseResourceId("/subscriptions/s/resourceGroups/rg"));
}

TEST(CidrTest, ParseAlignContainOverlap) {
  auto c = ParseCidr("10.0.0.0/16");
  ASSERT_TRUE(c.cidr);
  EXPECT_TRUE(c.aligned);
  EXPECT_EQ(c.cidr->Size(), 65536u);
  auto misaligned = ParseCidr("10.0.0.1/16");
  ASSERT_TRUE(misaligned.cidr);
  EXPECT_FALSE(misaligned.aligned);
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0/8", "010.0.0.0/8",
                          "10.0.0.256/24", "10.0.0.0/08", "a.b.c.d/8", "10.0.0.0/-1"}) {
    EXPECT_FALSE(ParseCidr(bad).cidr) << bad;
  }
  Cidr vnet = *ParseCidr("10.0.0.0/16").cidr, sub = *ParseCidr("10.0.1.0/24").cidr,
       other = *ParseCidr("10.1.0.0/16").cidr, all = *ParseCidr("0.0.0.0/0").cidr;
  EXPECT_TRUE(vnet.Contains(sub));
  EXPECT_FALSE(sub.Contains(vnet));
  EXPECT_TRUE(vnet.Overlaps(sub));
  EXPECT_FALSE(vnet.Overlaps(other));
  EXPECT_TRUE(all.Contains(other));
  EXPECT_EQ(FormatIpv4(sub.Last()), "10.0.1.255");
  EXPECT_EQ(ParseIpv4("255.255.255.255"), 0xffffffffu);
  EXPECT_FALSE(ParseIpv4("1.2.3"));
  EXPECT_FALSE(ParseIpv4("1.2.3.4.5"));
}

}  // namespace
}  // namespace cove::arm
