#include "arm/container_names.h"

#include <cctype>

#include "arm/engine.h"
#include "oci/reference.h"

namespace cove::arm {

bool IsValidAciName(std::string_view n) {
  if (n.empty() || n.size() > 63 || n.front() == '-' || n.back() == '-') return false;
  if (n.find("--") != std::string_view::npos) return false;
  for (char c : n) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsValidEnvName(std::string_view n) {
  if (n.empty() || n.size() > 63 || std::isdigit(static_cast<unsigned char>(n.front()))) {
    return false;
  }
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool IsValidImage(std::string_view image) {
  if (image.empty() || image.size() > 512) return false;
  std::string_view rest = image;
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    auto ref = oci::ParseReference(rest.substr(at + 1));
    if (!ref || !ref->is_digest()) return false;
    rest = rest.substr(0, at);
  } else {
    size_t colon = rest.rfind(':');
    size_t slash = rest.rfind('/');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
      if (!oci::IsValidTag(rest.substr(colon + 1))) return false;
      rest = rest.substr(0, colon);
    }
  }
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      std::string_view host = first.substr(0, first.find(':'));
      if (!IsValidDnsName(host, 1)) return false;
      rest = rest.substr(slash + 1);
    }
  }
  return oci::IsValidRepositoryName(rest);
}

}  // namespace cove::arm
