// The token endpoints' input formats, parsed without trusting a byte of it: form bodies
// (application/x-www-form-urlencoded, RFC 1866 / WHATWG), and the Authorization header
// (Basic, RFC 7617; Bearer, RFC 6750). Fuzzed by fuzz/auth_wire_fuzz.cc.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cove::auth {

// name → values in order (repeatable fields such as `scope`). '+' is a space; %XX is decoded.
// kInvalidArgument for a bad escape, or more than 64 KiB / 256 fields.
using Form = std::multimap<std::string, std::string>;
Result<Form> ParseForm(std::string_view body);
std::optional<std::string> FormValue(const Form& form, const std::string& name);
std::vector<std::string> FormValues(const Form& form, const std::string& name);

struct Credentials {
  enum Scheme { kNone, kBasic, kBearer, kOther };
  Scheme scheme = kNone;
  std::string user;      // Basic
  std::string password;  // Basic
  std::string token;     // Bearer
};
// Parses an Authorization header value; absent header → kNone. kInvalidArgument for a Basic
// value that is not base64 of "user:password" or an empty Bearer token.
Result<Credentials> ParseAuthorization(std::optional<std::string_view> header);

}  // namespace cove::auth
