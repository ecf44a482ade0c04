// RegistryClient: the pull side of the Distribution API v2 for one repository, as docker and
// containerd speak it.
//
//   Ping():          GET /v2/ → 200 (no auth) or 401 with WWW-Authenticate (Bearer or Basic).
//   Authenticate():  Bearer: a token for scope repository:<repo>:pull from the realm —
//                      username/password: GET realm?service=&scope= with Basic auth (docker's
//                        way), and the POST form (grant_type=password) when GET is refused 404/405;
//                      refresh token: POST realm grant_type=refresh_token&service=&scope=;
//                      anonymous: GET realm?service=&scope= without credentials.
//                    Basic: every request carries the Basic credentials.
//   GetManifest():   GET /v2/<repo>/manifests/<ref>, Accept: OCI index + manifest, Docker list +
//                    v2; the body's digest checked against a digest reference and against
//                    Docker-Content-Digest.
//   GetBlob() / DownloadBlob(): GET /v2/<repo>/blobs/<digest>, following 301/302/303/307/308
//                    (at most 5); a redirect to another host (ACR's data endpoint: a signed URL)
//                    goes without the Authorization header. DownloadBlob streams to
//                    <dir>/ingest/, checks size and digest, then renames into place.
//
// Errors carry the registry's OCI code in Error::reason and its message verbatim
// (ResponseError); connection failures reason CONNECT.
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/digest.h"
#include "common/error.h"
#include "oci/manifest.h"
#include "runtime/credentials.h"
#include "runtime/image_ref.h"
#include "runtime/transport.h"

namespace cove::runtime {

struct FetchedManifest {
  std::string media_type;  // Content-Type, else the body's mediaType
  std::string bytes;
  Digest digest;  // of bytes
};

class RegistryClient {
 public:
  // REQUIRES: `transport` outlives the client.
  RegistryClient(Transport& transport, ImageReference ref, Credential credential);

  // GET /v2/. Returns the challenge to answer, or nullopt when the registry wants none.
  Result<std::optional<Challenge>> Ping();
  // Answers `challenge` (from Ping) with the credential; later requests carry the result.
  Status Authenticate(const Challenge& challenge);

  // `reference` is a tag or a digest ("sha256:..."). kCorruption on a digest mismatch.
  Result<FetchedManifest> GetManifest(const std::string& reference);
  // A small blob held in memory (the config), at most `limit` bytes; digest verified.
  Result<std::string> GetBlob(const oci::Descriptor& blob, uint64_t limit);
  // Streams the blob into `path` (via a temporary file beside it); size and digest verified
  // before the rename, so `path` only ever holds verified bytes. kCorruption on a mismatch.
  Status DownloadBlob(const oci::Descriptor& blob, const std::string& path);

 private:
  Result<FetchResponse> Get(const std::string& path, std::map<std::string, std::string> headers,
                            const BodySink* sink, uint64_t limit);
  Result<std::string> FetchToken(const Challenge& challenge);

  Transport& transport_;
  ImageReference ref_;
  Credential credential_;
  std::string authorization_;  // "Bearer ..." / "Basic ..." or ""
};

}  // namespace cove::runtime
