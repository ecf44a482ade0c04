#include "storage/connection_string.h"

#include <cctype>

namespace cove::storage {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

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
    std::string lower = Lower(s);
    size_t pos = 0;
    while ((pos = lower.find(key, pos)) != std::string::npos) {
      size_t value = pos + key.size();
      size_t end = s.find_first_of(" ;&", value);
      if (end == std::string::npos) end = s.size();
      s.replace(value, end - value, "***");
      lower = Lower(s);
      pos = value + 3;
    }
  }
  return s;
}

}  // namespace cove::storage
