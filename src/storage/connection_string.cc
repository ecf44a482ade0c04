#include "storage/connection_string.h"

#include "common/ascii.h"

namespace cove::storage {

std::string RedactConnection(std::string_view text) {
  std::string s(text);
  // URI form: scheme://user:password@host...
  if (auto scheme = s.find("://"); scheme != std::string::npos) {
    size_t authority = scheme + 3;
    size_t at = s.find('@', authority);
    size_t slash = s.find('/', authority);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = s.find(':', authority);
      if (colon != std::string::npos && colon < at) s.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // key=value forms: PostgreSQL's `password=…` (space-separated), Azure's `AccountKey=…;` and
  // `SharedAccessSignature=…;`, and a URI's `?password=…&` parameter.
  for (std::string_view key : {"password=", "accountkey=", "sharedaccesssignature="}) {
    std::string lower = AsciiLower(s);
    size_t pos = 0;
    while ((pos = lower.find(key, pos)) != std::string::npos) {
      size_t value = pos + key.size();
      size_t end = s.find_first_of(" ;&", value);
      if (end == std::string::npos) end = s.size();
      s.replace(value, end - value, "***");
      lower = AsciiLower(s);
      pos = value + 3;
    }
  }
  return s;
}

}  // namespace cove::storage
