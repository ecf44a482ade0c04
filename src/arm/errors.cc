#include "arm/errors.h"

#include <algorithm>

namespace cove::arm {

Code CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kUnimplemented;
    case 409:
      return Code::kFailedPrecondition;
    case 412:
      return Code::kFailedPrecondition;
    case 413:
      return Code::kResourceExhausted;
    case 429:
      return Code::kResourceExhausted;
    case 503:
      return Code::kUnavailable;
    default:
      return status >= 400 && status < 500 ? Code::kInvalidArgument : Code::kInternal;
  }
}

int ArmStatusOf(const Error& error) {
  if (error.http_status != 0) return error.http_status;
  switch (error.code) {
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
      return 409;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnimplemented:
      return 405;
    case Code::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string ArmCodeOf(const Error& error) {
  if (!error.reason.empty()) return error.reason;
  switch (ArmStatusOf(error)) {
    case 400:
      return "BadRequest";
    case 401:
      return "AuthenticationFailed";
    case 403:
      return "AuthorizationFailed";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    default:
      return "InternalServerError";
  }
}

Status CheckApiVersionIn(const std::vector<std::string>& supported, std::string_view api_version) {
  if (std::find(supported.begin(), supported.end(), api_version) != supported.end()) return {};
  std::string list;
  for (const auto& v : supported) list += (list.empty() ? "" : ",") + v;
  return ArmFail(400, "InvalidApiVersionParameter",
                 "The api-version '" + std::string(api_version) +
                     "' is invalid. The supported versions are '" + list + "'.");
}

}  // namespace cove::arm
