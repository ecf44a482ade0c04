// Engines: the connection strings a node is given, their redaction in messages, and the health
// probe over the embedded engines.
#include "daemon/engines.h"
#include "storage/connection_string.h"

#include <gtest/gtest.h>

#include "storage/test_util.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

TEST(BlobsConnectionTest, ParsesAzureConnectionStrings) {
  auto c = ParseBlobsConnection(
      "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net");
  COVE_ASSERT_OK(c);
  EXPECT_EQ(c->endpoint, "https://acct.blob.core.windows.net");
  EXPECT_EQ(c->account, "acct");
  EXPECT_EQ(c->key, "a2V5");

  c = ParseBlobsConnection(
      " accountname=devstoreaccount1 ; AccountKey=a2V5==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;");
  COVE_ASSERT_OK(c);
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(c->key, "a2V5==");  // '=' inside a value stays

  c = ParseBlobsConnection("UseDevelopmentStorage=true");
  COVE_ASSERT_OK(c);
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(c->account, "devstoreaccount1");
}

TEST(BlobsConnectionTest, RefusesWhatItCannotUseWithoutEchoingTheKey) {
  COVE_EXPECT_CODE(ParseBlobsConnection("https://acct.blob.core.windows.net"),
                   Code::kInvalidArgument);
  COVE_EXPECT_CODE(ParseBlobsConnection("AccountName=acct"), Code::kInvalidArgument);
  auto sas = ParseBlobsConnection("AccountName=acct;SharedAccessSignature=sv=x&sig=SECRET");
  ASSERT_FALSE(sas);
  auto typo = ParseBlobsConnection("AccountName=acct;AccountKey=SECRET;BlobEndpiont=http://x");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("blobendpiont"), std::string::npos);
  EXPECT_EQ(typo.error().message.find("SECRET"), std::string::npos);
  COVE_EXPECT_CODE(ParseBlobsConnection("AccountName=a;AccountKey=k;BlobEndpoint=ftp://x"),
                   Code::kInvalidArgument);
}

TEST(RedactConnectionTest, HidesPasswordsAndKeys) {
  EXPECT_EQ(storage::RedactConnection("postgresql://cove:s3cret@db.example:5432/cove"),
            "postgresql://cove:***@db.example:5432/cove");
  EXPECT_EQ(storage::RedactConnection("postgresql://cove@db/cove?password=s3cret&sslmode=require"),
            "postgresql://cove@db/cove?password=***&sslmode=require");
  EXPECT_EQ(storage::RedactConnection("host=/tmp/pg dbname=cove password=s3cret user=cove"),
            "host=/tmp/pg dbname=cove password=*** user=cove");
  EXPECT_EQ(storage::RedactConnection("AccountName=a;AccountKey=s3cret==;BlobEndpoint=http://h/a"),
            "AccountName=a;AccountKey=***;BlobEndpoint=http://h/a");
  EXPECT_EQ(storage::RedactConnection("postgresql://db.example/cove"), "postgresql://db.example/cove");
}

TEST(EnginesTest, NamesPerRegion) {
  EXPECT_EQ(SchemaFor(""), "cove");
  EXPECT_EQ(SchemaFor("westus"), "cove_westus");
  EXPECT_EQ(ContainerFor("eastus2"), "cove-eastus2");
}

TEST(EnginesTest, EmbeddedEnginesAreHealthy) {
  cove::testing::TempDir dir;
  Config config;
  config.data_dir = dir.Join("data");
  SystemClock clock;
  auto engines = OpenEngines(config, clock);
  COVE_ASSERT_OK(engines);
  EXPECT_FALSE(engines->shared_metadata);
  EXPECT_NE(engines->token_keys, nullptr);
  EXPECT_NE(engines->url_keys, nullptr);
  EXPECT_TRUE(engines->legacy_url_key.empty());
  auto health = ProbeEngines(*engines->meta, *engines->blobs);
  EXPECT_TRUE(health.ok());
}

}  // namespace
}  // namespace cove::daemon
