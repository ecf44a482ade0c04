#include "runtime/image_ref.h"

#include "oci/reference.h"

namespace cove::runtime {
namespace {

tl::unexpected<Error> Invalid(std::string_view text, const std::string& why) {
  return Fail(Code::kInvalidArgument,
              "invalid reference format: '" + std::string(text) + "': " + why);
}

bool IsHostComponent(std::string_view c) {
  return c == "localhost" || c.find('.') != std::string_view::npos ||
         c.find(':') != std::string_view::npos;
}

bool IsValidHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char ch : host) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']';
    if (!ok) return false;
  }
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']') == std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char ch : port) {
      if (ch < '0' || ch > '9') return false;
    }
  }
  return host.front() != '.' && host.front() != '-';
}

}  // namespace

std::string ImageReference::str() const {
  std::string out = registry + "/" + repository;
  if (digest) return out + "@" + digest->str();
  return out + ":" + tag;
}

std::string ImageReference::manifest_reference() const { return digest ? digest->str() : tag; }

std::string ImageReference::endpoint_host() const {
  return registry == kDockerHub ? "registry-1.docker.io" : registry;
}

Result<ImageReference> ParseImageReference(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (text.size() > 4096) return Invalid(text, "too long");
  ImageReference ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::Parse(rest.substr(at + 1));
    if (!digest) return Invalid(text, digest.error().message);
    ref.digest = *digest;
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    if (!oci::IsValidTag(ref.tag)) return Invalid(text, "bad tag '" + ref.tag + "'");
    rest = rest.substr(0, colon);
  } else {
    ref.tag = "latest";
  }
  size_t first = rest.find('/');
  if (first != std::string_view::npos && IsHostComponent(rest.substr(0, first))) {
    ref.registry = std::string(rest.substr(0, first));
    if (!IsValidHost(ref.registry))
      return Invalid(text, "bad registry host '" + ref.registry + "'");
    ref.repository = std::string(rest.substr(first + 1));
  } else {
    ref.registry = kDockerHub;
    ref.repository = std::string(rest);
  }
  if (ref.registry == "index.docker.io") ref.registry = kDockerHub;
  if (ref.registry == kDockerHub && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }
  if (!oci::IsValidRepositoryName(ref.repository)) {
    return Invalid(text, "bad repository name '" + ref.repository +
                             "' (lowercase letters, digits and separators)");
  }
  return ref;
}

}  // namespace cove::runtime
