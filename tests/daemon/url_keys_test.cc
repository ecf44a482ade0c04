// UrlKeys: the data-endpoint URL keys are made, imported from a pre-rotation data directory,
// rotated, retired, and seen by another node sharing the storage.
#include "daemon/url_keys.h"

#include <gtest/gtest.h>

#include "storage/test_util.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

class UrlKeysTest : public ::testing::Test {
 protected:
  std::unique_ptr<UrlKeys> Open(const std::string& legacy = "") {
    auto storage = auth::OpenKeyDirectory(dir_.Join("keys/blob-url"), ".key");
    EXPECT_TRUE(storage);
    auto keys = UrlKeys::Open(std::move(*storage), clock_, legacy, options_);
    EXPECT_TRUE(keys) << keys.error().ToString();
    return keys ? std::move(*keys) : nullptr;
  }
  cove::testing::TempDir dir_;
  ManualClock clock_;
  UrlKeyOptions options_{std::chrono::hours(24 * 30), std::chrono::hours(1)};
};

TEST_F(UrlKeysTest, MakesOneKeyAndKeepsIt) {
  auto keys = Open();
  ASSERT_EQ(keys->Keys().size(), 1u);
  EXPECT_EQ(keys->Keys()[0].size(), 32u);
  EXPECT_EQ(Open()->Keys(), keys->Keys()) << "reopened: the same key";
}

TEST_F(UrlKeysTest, ImportsThePreRotationKey) {
  std::string legacy(32, 'L');
  auto keys = Open(legacy);
  EXPECT_EQ(keys->Keys(), std::vector<std::string>{legacy});
  EXPECT_EQ(Open(std::string(32, 'X'))->Keys(), std::vector<std::string>{legacy})
      << "imported once, not again";
}

TEST_F(UrlKeysTest, RotatesRetiresAndIsSeenByAnotherNode) {
  auto owner = Open();
  auto other = Open();
  std::string first = owner->Keys()[0];

  COVE_ASSERT_OK(owner->Maintain(true));
  EXPECT_EQ(owner->Keys().size(), 1u) << "not due yet";

  clock_.Advance(std::chrono::hours(24 * 30));
  COVE_ASSERT_OK(owner->Maintain(true));
  auto rotated = owner->Keys();
  ASSERT_EQ(rotated.size(), 2u);
  EXPECT_EQ(rotated[0], first);  // still verifies
  EXPECT_NE(rotated[1], first);  // signs

  EXPECT_EQ(other->Keys().size(), 1u);
  EXPECT_FALSE(other->ReloadSoon()) << "opened within the second: no reload yet";
  COVE_ASSERT_OK(other->Maintain(false));
  EXPECT_EQ(other->Keys(), rotated);

  clock_.Advance(std::chrono::hours(2));
  COVE_ASSERT_OK(other->Maintain(false));
  EXPECT_EQ(other->Keys().size(), 2u) << "a node that does not rotate retires nothing";
  COVE_ASSERT_OK(owner->Maintain(true));
  EXPECT_EQ(owner->Keys(), std::vector<std::string>{rotated[1]});
  COVE_ASSERT_OK(other->Maintain(false));
  EXPECT_EQ(other->Keys(), std::vector<std::string>{rotated[1]});
}

}  // namespace
}  // namespace cove::daemon
