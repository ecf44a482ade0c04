// Percent-decoding (RFC 3986 §2.1) for URL paths and, with plus_is_space, for
// application/x-www-form-urlencoded bodies. Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace cove {

// Returns `s` with every %XX replaced by its byte (and '+' by ' ' when plus_is_space).
// kInvalidArgument when a '%' is not followed by two hex digits.
inline Result<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] != '%') {
      out.push_back(s[i]);
    } else {
      int hi = i + 2 < s.size() ? hex(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return Fail(Code::kInvalidArgument, "bad percent-encoding");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

}  // namespace cove
