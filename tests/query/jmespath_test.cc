#include "query/query.h"

#include <gtest/gtest.h>

namespace cove::query {
namespace {

using nlohmann::json;

TEST(SearchTest, Smoke) {
  auto r = Search("a.b", json::parse(R"({"a":{"b":1}})"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, json(1));
}

}  // namespace
}  // namespace cove::query
