#include "oci/errors.h"

#include <array>
#include <nlohmann/json.hpp>
#include <utility>

namespace cove::oci {
namespace {

// Where each row comes from:
//
// - Codes and messages: distribution-spec v1.1, "Error Codes" (code-1 .. code-14). The spec's
//   table gives no statuses; the statuses are the ones the spec's endpoint table and prose imply
//   (404 for unknown things, 400 for malformed input, 401/403/405/429 as their HTTP meaning) and
//   the ones distribution/distribution registers in registry/api/errcode/register.go.
// - MANIFEST_BLOB_UNKNOWN is 400, as in distribution: the PUT body names content the repository
//   lacks, which is a fault of the request, not a missing resource at the URL.
// - BLOB_UPLOAD_INVALID is 400 (zot, and the HTTP meaning); distribution answers 404 here, which
//   clients would misread as "upload session gone".
// - RANGE_INVALID (416), PAGINATION_NUMBER_INVALID (400) and UNAVAILABLE (503) are
//   distribution's extensions; the spec says clients treat unknown codes as UNKNOWN, so they are
//   safe to send.
// - A manifest over the size limit: the spec says a registry SHOULD answer 413 Payload Too
//   Large, but its error-code list has no code for it and says the code MUST be one of the list.
//   distribution (registry/handlers/manifests.go, PutManifest) reads the body through a 4 MiB
//   bounded reader and reports an overrun as MANIFEST_INVALID. cove sends the spec's status (413)
//   with that code, MANIFEST_INVALID, so clients that branch on either one understand it; the
//   caller's message says the limit.
//
// Order matches the ErrorCode enum; Info() checks this at compile time through kTable's size.
constexpr std::array<std::pair<ErrorCode, ErrorInfo>, 18> kTable = {{
    {ErrorCode::kBlobUnknown, {"BLOB_UNKNOWN", 404, "blob unknown to registry"}},
    {ErrorCode::kBlobUploadInvalid, {"BLOB_UPLOAD_INVALID", 400, "blob upload invalid"}},
    {ErrorCode::kBlobUploadUnknown,
     {"BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"}},
    {ErrorCode::kDigestInvalid,
     {"DIGEST_INVALID", 400, "provided digest did not match uploaded content"}},
    {ErrorCode::kManifestBlobUnknown,
     {"MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry"}},
    {ErrorCode::kManifestInvalid, {"MANIFEST_INVALID", 400, "manifest invalid"}},
    {ErrorCode::kManifestUnknown, {"MANIFEST_UNKNOWN", 404, "manifest unknown to registry"}},
    {ErrorCode::kNameInvalid, {"NAME_INVALID", 400, "invalid repository name"}},
    {ErrorCode::kNameUnknown, {"NAME_UNKNOWN", 404, "repository name not known to registry"}},
    {ErrorCode::kSizeInvalid,
     {"SIZE_INVALID", 400, "provided length did not match content length"}},
    {ErrorCode::kUnauthorized, {"UNAUTHORIZED", 401, "authentication required"}},
    {ErrorCode::kDenied, {"DENIED", 403, "requested access to the resource is denied"}},
    {ErrorCode::kUnsupported, {"UNSUPPORTED", 405, "the operation is unsupported"}},
    {ErrorCode::kTooManyRequests, {"TOOMANYREQUESTS", 429, "too many requests"}},
    {ErrorCode::kRangeInvalid, {"RANGE_INVALID", 416, "invalid content range"}},
    {ErrorCode::kPaginationNumberInvalid,
     {"PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"}},
    {ErrorCode::kManifestTooLarge, {"MANIFEST_INVALID", 413, "manifest invalid"}},
    {ErrorCode::kUnavailable, {"UNAVAILABLE", 503, "service unavailable"}},
}};

constexpr bool TableInEnumOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].first) != i) return false;
  }
  return true;
}
static_assert(TableInEnumOrder(), "kTable rows must follow the ErrorCode enum order");
static_assert(static_cast<size_t>(ErrorCode::kUnavailable) + 1 == kTable.size(),
              "every ErrorCode needs a row in kTable");

}  // namespace

const ErrorInfo& Info(ErrorCode code) {
  size_t i = static_cast<size_t>(code);
  if (i >= kTable.size()) i = static_cast<size_t>(ErrorCode::kUnavailable);
  return kTable[i].second;
}

std::string ErrorBody(ErrorCode code, std::string_view message, std::string_view detail_json) {
  // ordered_json keeps "code", "message", "detail" in the order clients and docs show them.
  using Json = nlohmann::ordered_json;
  const ErrorInfo& info = Info(code);
  Json error = Json::object();
  error["code"] = std::string(info.code);
  error["message"] = std::string(message.empty() ? info.message : message);
  if (!detail_json.empty()) {
    Json detail = Json::parse(detail_json, nullptr, /*allow_exceptions=*/false);
    // A detail that is not JSON is a caller's bug; keep the text rather than lose it.
    error["detail"] = detail.is_discarded() ? Json(std::string(detail_json)) : std::move(detail);
  }
  Json body = Json::object();
  body["errors"] = Json::array({std::move(error)});
  // Messages may quote client input (names, digests) that is not valid UTF-8; replace such bytes
  // instead of throwing.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

http::Response ErrorResponse(ErrorCode code, std::string_view message,
                             std::string_view detail_json) {
  return http::Response::Text(Info(code).status, "application/json",
                              ErrorBody(code, message, detail_json));
}

}  // namespace cove::oci
