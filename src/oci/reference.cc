#include "oci/reference.h"

#include <cstddef>

namespace cove::oci {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxNameComponents = 64;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsTagStart(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '_'; }

bool IsTagChar(char c) { return IsTagStart(c) || c == '.' || c == '-'; }

// Scans one path component, [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, starting at `i`. Returns the
// index just past it, or npos when the text at `i` is not a component. Stops at '/' or the end.
// A single left-to-right pass; no backtracking is needed because every separator must be
// followed by an alphanumeric run.
size_t ScanComponent(std::string_view s, size_t i) {
  const size_t n = s.size();
  if (i >= n || !IsLowerAlnum(s[i])) return std::string_view::npos;
  while (i < n && IsLowerAlnum(s[i])) ++i;
  while (i < n && s[i] != '/') {
    // Separator: ".", "_", "__" or one or more "-".
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < n && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') ++i;
    } else {
      return std::string_view::npos;
    }
    if (i >= n || !IsLowerAlnum(s[i])) return std::string_view::npos;
    while (i < n && IsLowerAlnum(s[i])) ++i;
  }
  return i;
}

}  // namespace

bool IsValidRepositoryName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  size_t i = 0;
  size_t components = 0;
  while (true) {
    i = ScanComponent(name, i);
    if (i == std::string_view::npos) return false;
    if (++components > kMaxNameComponents) return false;
    if (i == name.size()) return true;
    ++i;  // the '/'; ScanComponent fails on an empty component after it
  }
}

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  if (!IsTagStart(tag[0])) return false;
  for (size_t i = 1; i < tag.size(); ++i) {
    if (!IsTagChar(tag[i])) return false;
  }
  return true;
}

std::string Reference::str() const { return is_digest() ? digest().str() : tag(); }

Result<Reference> ParseReference(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    auto digest = Digest::Parse(text);
    if (!digest) {
      return Fail(Code::kInvalidArgument, "invalid digest reference: " + digest.error().message);
    }
    return Reference{std::move(*digest)};
  }
  if (!IsValidTag(text)) {
    return Fail(Code::kInvalidArgument,
                "invalid tag: a tag is 1 to 128 characters of [A-Za-z0-9_.-] and does not start "
                "with '.' or '-'");
  }
  return Reference{std::string(text)};
}

}  // namespace cove::oci
