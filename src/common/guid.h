// IsGuid: whether a string is a GUID in its 36-character form (8-4-4-4-12 hex digits, any case),
// as ARM and Entra write subscription ids, object ids and role-definition names.
//
// Thread-safety: a pure function.
#pragma once

#include <cctype>
#include <string_view>

namespace cove {

inline bool IsGuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace cove
