#include "oci/errors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <variant>

namespace cove::oci {
namespace {

struct Golden {
  ErrorCode code;
  int status;
  const char* body;
};

// Every code, with the exact bytes a client receives for the default message.
constexpr Golden kGolden[] = {
    {ErrorCode::kBlobUnknown, 404,
     R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]})"},
    {ErrorCode::kBlobUploadInvalid, 400,
     R"({"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]})"},
    {ErrorCode::kBlobUploadUnknown, 404,
     R"({"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]})"},
    {ErrorCode::kDigestInvalid, 400,
     R"({"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]})"},
    {ErrorCode::kManifestBlobUnknown, 400,
     R"({"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"manifest references a manifest or blob unknown to registry"}]})"},
    {ErrorCode::kManifestInvalid, 400,
     R"({"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]})"},
    {ErrorCode::kManifestUnknown, 404,
     R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown to registry"}]})"},
    {ErrorCode::kNameInvalid, 400,
     R"({"errors":[{"code":"NAME_INVALID","message":"invalid repository name"}]})"},
    {ErrorCode::kNameUnknown, 404,
     R"({"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]})"},
    {ErrorCode::kSizeInvalid, 400,
     R"({"errors":[{"code":"SIZE_INVALID","message":"provided length did not match content length"}]})"},
    {ErrorCode::kUnauthorized, 401,
     R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"},
    {ErrorCode::kDenied, 403,
     R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})"},
    {ErrorCode::kUnsupported, 405,
     R"({"errors":[{"code":"UNSUPPORTED","message":"the operation is unsupported"}]})"},
    {ErrorCode::kTooManyRequests, 429,
     R"({"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests"}]})"},
    {ErrorCode::kRangeInvalid, 416,
     R"({"errors":[{"code":"RANGE_INVALID","message":"invalid content range"}]})"},
    {ErrorCode::kPaginationNumberInvalid, 400,
     R"({"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]})"},
    {ErrorCode::kManifestTooLarge, 413,
     R"({"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]})"},
    {ErrorCode::kUnavailable, 503,
     R"({"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]})"},
};

TEST(ErrorsTest, EveryCodeHasItsStatusAndBody) {
  EXPECT_EQ(std::size(kGolden), static_cast<size_t>(ErrorCode::kUnavailable) + 1);
  for (const Golden& g : kGolden) {
    EXPECT_EQ(Info(g.code).status, g.status) << g.body;
    EXPECT_EQ(ErrorBody(g.code), g.body);
    http::Response r = ErrorResponse(g.code);
    EXPECT_EQ(r.status, g.status);
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), "application/json");
    ASSERT_TRUE(std::holds_alternative<std::string>(r.body));
    EXPECT_EQ(std::get<std::string>(r.body), g.body);
  }
}

TEST(ErrorsTest, CustomMessageAndDetail) {
  EXPECT_EQ(
      ErrorBody(ErrorCode::kBlobUnknown, "no such blob", R"({"digest":"sha256:abc","b":1,"a":2})"),
      R"({"errors":[{"code":"BLOB_UNKNOWN","message":"no such blob",)"
      R"("detail":{"digest":"sha256:abc","b":1,"a":2}}]})");
  EXPECT_EQ(ErrorBody(ErrorCode::kDenied, {}, R"("just a string")"),
            R"({"errors":[{"code":"DENIED","message":"requested access to the resource is )"
            R"(denied","detail":"just a string"}]})");
}

TEST(ErrorsTest, AcrFirewallDenialBody) {
  EXPECT_EQ(ErrorBody(ErrorCode::kDenied,
                      "client with IP '203.0.113.7' is not allowed access. Refer "
                      "https://aka.ms/acr/firewall to grant access."),
            R"({"errors":[{"code":"DENIED","message":"client with IP '203.0.113.7' is not )"
            R"(allowed access. Refer https://aka.ms/acr/firewall to grant access."}]})");
}

TEST(ErrorsTest, MessagesAreEscaped) {
  std::string body = ErrorBody(ErrorCode::kNameInvalid, "bad \"name\"\n\\ <x>");
  EXPECT_EQ(body, R"({"errors":[{"code":"NAME_INVALID","message":"bad \"name\"\n\\ <x>"}]})");
  auto parsed = nlohmann::json::parse(body);
  EXPECT_EQ(parsed["errors"][0]["message"], "bad \"name\"\n\\ <x>");
}

TEST(ErrorsTest, InvalidUtf8InMessageDoesNotThrow) {
  std::string body = ErrorBody(ErrorCode::kNameInvalid, "repo \xff\xfe");
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << body;
  EXPECT_EQ(parsed["errors"][0]["code"], "NAME_INVALID");
}

TEST(ErrorsTest, DetailThatIsNotJsonIsKeptAsString) {
  EXPECT_EQ(ErrorBody(ErrorCode::kManifestInvalid, "m", "not json{"),
            R"({"errors":[{"code":"MANIFEST_INVALID","message":"m","detail":"not json{"}]})");
}

}  // namespace
}  // namespace cove::oci
