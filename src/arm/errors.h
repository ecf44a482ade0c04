// ARM errors on cove's one error type. A control-plane rule that refuses a request returns a
// cove::Error whose `reason` is ARM's error code ("InvalidResourceName") and whose `http_status`
// is the status ARM answers with (400); `code` is the matching cove Code, so code outside arm
// can branch on it like on any other Error. The ARM error body ({"error": {"code", "message"}})
// is made once, at the API edge (ControlPlane::Handle), from ArmStatusOf and ArmCodeOf; an
// Error that never got ARM detail (a cove::Error from a library) answers by its Code.
//
// Functions here return Result<T> / Status and propagate with COVE_RETURN_IF_ERROR and
// COVE_ASSIGN_OR_RETURN (common/error.h), as every cove module does.
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "common/error.h"

namespace cove::arm {

// The cove Code that best names an HTTP status (400 → kInvalidArgument, 404 → kNotFound, ...).
Code CodeForHttpStatus(int status);

// An Error carrying ARM's status and code.
inline Error ArmErrorOf(int status, std::string arm_code, std::string message) {
  return Error{CodeForHttpStatus(status), std::move(message), std::move(arm_code), status};
}

inline tl::unexpected<Error> ArmFail(int status, std::string arm_code, std::string message) {
  return tl::unexpected<Error>(ArmErrorOf(status, std::move(arm_code), std::move(message)));
}

// Ok when `api_version` is one of `supported`; else ARM's 400 InvalidApiVersionParameter
// ("The api-version '<v>' is invalid. The supported versions are '<a>,<b>,...'.").
Status CheckApiVersionIn(const std::vector<std::string>& supported, std::string_view api_version);

// The HTTP status ARM answers for `error`: its http_status, else one derived from its Code.
int ArmStatusOf(const Error& error);
// ARM's error code for `error`: its reason, else one derived from its Code.
std::string ArmCodeOf(const Error& error);

}  // namespace cove::arm
