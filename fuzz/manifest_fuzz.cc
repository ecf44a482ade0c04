// Fuzzes what a client controls on a manifest PUT: the body, the Content-Type, and the
// <reference> and <name> path parts. Checks that parsing never crashes and that what it returns
// is consistent.
//
// Input layout: the first byte picks the Content-Type; the rest is the manifest body. The body
// is also fed to the name/tag/reference scanners and to the error-body builder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oci/errors.h"
#include "oci/manifest.h"
#include "oci/reference.h"

namespace {

constexpr std::string_view kContentTypes[] = {
    "",
    "application/json",
    cove::oci::kOciManifest,
    cove::oci::kOciIndex,
    cove::oci::kDockerManifest,
    cove::oci::kDockerManifestList,
    "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
};

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view ct = kContentTypes[data[0] % std::size(kContentTypes)];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  auto parsed = cove::oci::ParseManifest(body, ct);
  if (parsed) {
    Check(cove::oci::IsManifestMediaType(parsed->media_type));
    Check(parsed->is_index == !parsed->config.has_value());
    if (parsed->is_index) Check(parsed->layers.empty());
    if (!parsed->is_index) Check(parsed->manifests.empty());
    if (parsed->config && parsed->artifact_type.empty()) Check(false);
  } else {
    Check(!parsed.error().message.empty());
    // The registry puts this message into a MANIFEST_INVALID body; it must serialize.
    std::string error =
        cove::oci::ErrorBody(cove::oci::ErrorCode::kManifestInvalid, parsed.error().message);
    Check(!error.empty());
  }

  std::string_view text = body.substr(0, 512);
  if (cove::oci::IsValidRepositoryName(text)) Check(!text.empty() && text.size() <= 255);
  auto reference = cove::oci::ParseReference(text);
  if (reference) Check(reference->str() == text);
  std::string detail_body = cove::oci::ErrorBody(cove::oci::ErrorCode::kDenied, text, text);
  Check(!detail_body.empty());
  return 0;
}
