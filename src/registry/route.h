// Route: which Distribution API operation a request path names. A pure function of the path,
// so it is fuzzed (fuzz/route_fuzz.cc) and tested without any server.
//
// Paths (distribution-spec v1.1, "Endpoints"):
//   /v2/                                     kBase
//   /v2/_catalog                             kCatalog
//   /v2/<name>/tags/list                     kTags
//   /v2/<name>/manifests/<reference>         kManifest
//   /v2/<name>/blobs/<digest>                kBlob
//   /v2/<name>/blobs/uploads/                kUploadStart
//   /v2/<name>/blobs/uploads/<id>            kUpload
//   /v2/<name>/referrers/<digest>            kReferrers
// <name> may itself contain slashes; the operation is read from the right, so a repository
// called "a/blobs" is still routed correctly. The name and the last component are returned
// as written (not validated); the handlers validate them and answer NAME_INVALID,
// DIGEST_INVALID, etc.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

namespace cove::registry {

struct Route {
  enum Kind { kNotFound, kBase, kCatalog, kTags, kManifest, kBlob, kUploadStart, kUpload,
              kReferrers };
  Kind kind = kNotFound;
  std::string name;       // repository name, for every kind but kBase, kCatalog, kNotFound
  std::string reference;  // manifest reference, blob/subject digest, or upload id
};

Route ParseRoute(std::string_view path);

}  // namespace cove::registry
