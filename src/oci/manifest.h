// Manifests: parsing and validating what clients push to /v2/<name>/manifests/<reference>.
//
// Understood media types:
//   application/vnd.oci.image.manifest.v1+json              (OCI image manifest, artifacts)
//   application/vnd.oci.image.index.v1+json                 (OCI image index)
//   application/vnd.docker.distribution.manifest.v2+json    (Docker schema 2)
//   application/vnd.docker.distribution.manifest.list.v2+json (Docker manifest list)
// The media type comes from the Content-Type header; when the body has a "mediaType" field it
// must agree. A body without Content-Type is accepted when its "mediaType" field names one of
// the above. Docker schema 1 is refused (MANIFEST_INVALID): it is deprecated and unsigned here.
//
// Parsing checks the structure the spec requires (schemaVersion 2, descriptors with mediaType,
// digest and non-negative size, config for image manifests, manifests[] for indexes) and
// collects what the registry must check exists (blobs, child manifests), the subject, the
// artifact type and the annotations. It does not look anything up: that is the registry's job.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/error.h"

namespace cove::oci {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciEmptyConfig = "application/vnd.oci.empty.v1+json";

inline constexpr uint64_t kMaxManifestSize = 4 * 1024 * 1024;

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::string artifact_type;
};

struct ParsedManifest {
  std::string media_type;             // one of the four above
  bool is_index = false;              // index or manifest list
  std::optional<Descriptor> config;   // image manifests
  std::vector<Descriptor> layers;     // image manifests
  std::vector<Descriptor> manifests;  // indexes
  std::optional<Descriptor> subject;
  // artifactType if set; else, for an image manifest, config.mediaType; else "" (an index without
  // artifactType). This is distribution-spec v1.1's rule for referrers descriptors ("If the
  // artifactType is empty or missing in the image manifest, the value of artifactType MUST be set
  // to the config descriptor mediaType value"), so it applies to ordinary images too.
  std::string artifact_type;
  std::string annotations_json;  // "annotations" re-serialized, or "" when absent
};

// Parses `bytes` pushed with Content-Type `content_type` (may be empty).
// kInvalidArgument with a message saying what is wrong, for MANIFEST_INVALID.
// kUnimplemented for media types cove does not store (schema 1, unknown), for MANIFEST_INVALID
// too, but with a message that says so.
Result<ParsedManifest> ParseManifest(std::string_view bytes, std::string_view content_type);

// True for the four manifest media types above.
bool IsManifestMediaType(std::string_view media_type);

// A layer whose bytes live elsewhere (OCI non-distributable, Docker foreign): a manifest may
// name it without the repository holding it.
bool IsForeignLayer(std::string_view media_type);

}  // namespace cove::oci
