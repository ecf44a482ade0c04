// The OCI Distribution error codes, their HTTP statuses and the JSON body, from one table.
//
// Every registry error response is built here: {"errors":[{"code":"...","message":"...",
// "detail":...}]}. Codes are the spec's (distribution-spec v1.1, "Error Codes") plus the ones
// that real registries and clients also use (distribution's RANGE_INVALID,
// PAGINATION_NUMBER_INVALID and UNAVAILABLE). errors.cc says where each status comes from.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "http/message.h"

namespace cove::oci {

enum class ErrorCode {
  kBlobUnknown,           // 404 blob unknown to registry
  kBlobUploadInvalid,     // 400 blob upload invalid
  kBlobUploadUnknown,     // 404 blob upload unknown to registry
  kDigestInvalid,         // 400 provided digest did not match uploaded content
  kManifestBlobUnknown,   // 400 manifest references a manifest or blob unknown to registry
  kManifestInvalid,       // 400 manifest invalid
  kManifestUnknown,       // 404 manifest unknown to registry
  kNameInvalid,           // 400 invalid repository name
  kNameUnknown,           // 404 repository name not known to registry
  kSizeInvalid,           // 400 provided length did not match content length
  kUnauthorized,          // 401 authentication required
  kDenied,                // 403 requested access to the resource is denied
  kUnsupported,           // 405 the operation is unsupported
  kTooManyRequests,       // 429 too many requests
  kRangeInvalid,          // 416 invalid content range
  kPaginationNumberInvalid,  // 400 invalid number of results requested
  kManifestTooLarge,      // 413 manifest larger than 4 MiB (code MANIFEST_INVALID; see errors.cc)
  kUnavailable,           // 503 service unavailable (storage failure)
};

struct ErrorInfo {
  std::string_view code;     // "BLOB_UNKNOWN"
  int status;                // HTTP status
  std::string_view message;  // the spec's default message
};

const ErrorInfo& Info(ErrorCode code);

// The JSON error body for `code`. `message` replaces the default message when not empty;
// `detail_json` (a JSON value as text) is added as "detail" when not empty.
std::string ErrorBody(ErrorCode code, std::string_view message = {},
                      std::string_view detail_json = {});

// A complete response: the table's status, Content-Type application/json, the body.
http::Response ErrorResponse(ErrorCode code, std::string_view message = {},
                             std::string_view detail_json = {});

}  // namespace cove::oci
