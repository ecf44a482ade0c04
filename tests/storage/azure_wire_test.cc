// storage/azure_wire.h: what the Azure store reads back from the account is checked before use.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "storage/azure_wire.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <cstring>

#include "storage/test_util.h"

namespace cove::storage::azure {
namespace {

std::string Ctx(const SHA256_CTX& ctx) {
  return std::string(reinterpret_cast<const char*>(&ctx), sizeof ctx);
}

TEST(AzureWireTest, AHashStateRoundTripsAndResumesTheHash) {
  std::string data(1000, 'z');
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), 700);
  auto saved = EncodeHashState(Ctx(ctx), 700);
  auto loaded = DecodeHashState(saved, 700, "state");
  COVE_ASSERT_OK(loaded);
  SHA256_CTX resumed;
  std::memcpy(&resumed, loaded->data(), sizeof resumed);
  SHA256_Update(&resumed, data.data() + 700, 300);
  unsigned char a[32], b[32];
  SHA256_Final(a, &resumed);
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), b);
  EXPECT_EQ(std::memcmp(a, b, 32), 0);
}

TEST(AzureWireTest, AStateWhoseCountersLieIsRefused) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, "abc", 3);
  COVE_EXPECT_CODE(DecodeHashState(EncodeHashState(Ctx(ctx), 3), 4, "s"), Code::kCorruption);
  SHA256_CTX bad = ctx;
  bad.num = 1000;  // would index past the partial block
  COVE_EXPECT_CODE(DecodeHashState(EncodeHashState(Ctx(bad), 3), 3, "s"), Code::kCorruption);
  bad = ctx;
  bad.md_len = 200;
  COVE_EXPECT_CODE(DecodeHashState(EncodeHashState(Ctx(bad), 3), 3, "s"), Code::kCorruption);
  bad = ctx;
  bad.Nl = 0;
  COVE_EXPECT_CODE(DecodeHashState(EncodeHashState(Ctx(bad), 3), 3, "s"), Code::kCorruption);
  COVE_EXPECT_CODE(DecodeHashState("cove-sha256-state-v1", 0, "s"), Code::kCorruption);
}

TEST(AzureWireTest, ListAnswers) {
  std::string xml =
      "<Blobs><Blob><Name>a</Name><Properties><Content-Length>12</Content-Length></Properties>"
      "</Blob><Blob><Name>b</Name></Blob><Blob><Name>unclosed</Name>";
  auto blobs = XmlElements(xml, "Blob");
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(XmlElement(blobs[0], "Name"), "a");
  EXPECT_EQ(ParseUint(XmlElement(blobs[0], "Content-Length")), 12u);
  EXPECT_EQ(XmlElement(blobs[1], "Content-Length"), "");
  EXPECT_EQ(ParseUint("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseUint("18446744073709551616"), std::nullopt);
  EXPECT_EQ(ParseUint("-1"), std::nullopt);
  EXPECT_EQ(Offset20(42), "00000000000000000042");
}

}  // namespace
}  // namespace cove::storage::azure
