// ImageReference: an image name as docker and containerd read it.
//
//   [HOST[:PORT]/]REPOSITORY[:TAG][@DIGEST]
//
// The first path component is a host when it contains '.' or ':' or is "localhost"; otherwise
// the registry is docker.io and a one-component repository gets "library/" in front (busybox →
// docker.io/library/busybox). Without a tag or digest the tag is "latest"; with a digest the
// digest is what is pulled (a tag beside it is kept only for display). Names are checked with
// the OCI grammar (oci/reference.h): lowercase repository, tag [A-Za-z0-9_][A-Za-z0-9._-]{0,127},
// digest sha256:<64 hex> or sha512:<128 hex>.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"
#include "common/error.h"

namespace cove::runtime {

inline constexpr char kDockerHub[] = "docker.io";

struct ImageReference {
  std::string registry;          // "myregistry.azurecr.io", "localhost:5000", "docker.io"
  std::string repository;        // "app", "library/busybox"
  std::string tag;               // "latest" unless given; kept beside a digest when both are
  std::optional<Digest> digest;  // set for NAME@DIGEST

  // "registry/repository:tag" or "registry/repository@digest" (the fully qualified form).
  std::string str() const;
  // The tag, or the digest when there is one: what /v2/<name>/manifests/<reference> takes.
  std::string manifest_reference() const;
  // The host to speak HTTPS to: registry-1.docker.io for docker.io, else the registry.
  std::string endpoint_host() const;
};

// kInvalidArgument "invalid reference format: ..." saying what is wrong.
Result<ImageReference> ParseImageReference(std::string_view text);

}  // namespace cove::runtime
