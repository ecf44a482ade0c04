// Manifests: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "oci/manifest.h"
#include "oci/reference.h"
#include "registry/call.h"

namespace cove::registry {
namespace {

using oci::ErrorCode;

// Layers that registries do not hold (the spec's "non-distributable" layers, Docker's foreign
// layers): their blobs are fetched from their URLs, so they need not exist here.
bool IsForeignLayer(std::string_view media_type) {
  return media_type.starts_with("application/vnd.oci.image.layer.nondistributable.") ||
         media_type == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

std::string DetailDigest(const Digest& d) { return nlohmann::json{{"digest", d.str()}}.dump(); }

// The error for a reference that does not parse: a malformed digest is DIGEST_INVALID, a
// malformed tag is `bad_tag`.
http::ExchangePtr BadReference(const std::string& text, const cove::Error& error,
                               ErrorCode bad_tag) {
  return Error(text.find(':') != std::string::npos ? ErrorCode::kDigestInvalid : bad_tag,
               error.message);
}

}  // namespace

class Registry::ManifestPut {
 public:
  static http::Response Store(Registry& registry, const storage::RepoKey& repo,
                              const oci::Reference& reference, std::string_view content_type,
                              std::string bytes) {
    auto parsed = oci::ParseManifest(bytes, content_type);
    if (!parsed) return oci::ErrorResponse(ErrorCode::kManifestInvalid, parsed.error().message);
    Digest digest = reference.is_digest()
                        ? Digest::Of(bytes, reference.digest().algorithm())
                        : Digest::Of(bytes);
    if (reference.is_digest() && digest != reference.digest()) {
      return oci::ErrorResponse(ErrorCode::kDigestInvalid,
                                "manifest digest " + digest.str() + " does not match reference " +
                                    reference.digest().str());
    }
    storage::ManifestRecord record;
    record.digest = digest;
    record.media_type = parsed->media_type;
    record.artifact_type = parsed->artifact_type;
    record.annotations_json = parsed->annotations_json;
    record.created = registry.clock_.Now();
    if (parsed->subject) record.subject = parsed->subject->digest;

    // Every blob and child manifest must already be in this repository.
    std::vector<const oci::Descriptor*> blobs;
    if (parsed->config) blobs.push_back(&*parsed->config);
    for (const auto& layer : parsed->layers) {
      if (!IsForeignLayer(layer.media_type)) blobs.push_back(&layer);
    }
    for (const oci::Descriptor* d : blobs) {
      auto size = registry.meta_.LinkedBlob(repo, d->digest);
      if (!size) {
        if (size.error().code != Code::kNotFound) {
          return oci::ErrorResponse(ErrorCode::kUnavailable, "storage failure");
        }
        return oci::ErrorResponse(ErrorCode::kManifestBlobUnknown,
                                  "blob " + d->digest.str() + " is not in repository " +
                                      repo.repository,
                                  DetailDigest(d->digest));
      }
      if (*size != d->size) {
        return oci::ErrorResponse(ErrorCode::kManifestInvalid,
                                  "descriptor of " + d->digest.str() + " says " +
                                      std::to_string(d->size) + " bytes; the blob has " +
                                      std::to_string(*size));
      }
      record.blobs.push_back(d->digest);
    }
    for (const auto& child : parsed->manifests) {
      auto found = registry.meta_.GetManifestContent(repo, child.digest);
      if (!found) {
        if (found.error().code != Code::kNotFound) {
          return oci::ErrorResponse(ErrorCode::kUnavailable, "storage failure");
        }
        return oci::ErrorResponse(ErrorCode::kManifestBlobUnknown,
                                  "manifest " + child.digest.str() + " is not in repository " +
                                      repo.repository,
                                  DetailDigest(child.digest));
      }
      record.manifests.push_back(child.digest);
    }
    record.bytes = std::move(bytes);

    std::optional<std::string> tag;
    if (!reference.is_digest()) tag = reference.tag();
    if (auto stored = registry.meta_.PutManifest(repo, record, tag); !stored) {
      spdlog::error("put manifest {}: {}", digest.str(), stored.error().ToString());
      return oci::ErrorResponse(ErrorCode::kUnavailable, "storage failure while storing manifest");
    }
    registry.counters_.manifests_stored.fetch_add(1, std::memory_order_relaxed);
    http::Response r;
    r.status = 201;
    r.headers.Set("Location", "/v2/" + repo.repository + "/manifests/" + digest.str());
    r.headers.Set("Docker-Content-Digest", digest.str());
    if (record.subject) r.headers.Set("OCI-Subject", record.subject->str());
    return r;
  }
};

http::ExchangePtr Registry::Manifest(Call& call) {
  if (call.is("GET") || call.is("HEAD")) return ManifestGet(call);
  if (call.is("DELETE")) return ManifestDelete(call);
  if (!call.is("PUT")) return MethodNotAllowed("GET, HEAD, PUT, DELETE");

  auto reference = oci::ParseReference(call.route.reference);
  if (!reference) {
    return BadReference(call.route.reference, reference.error(), ErrorCode::kManifestInvalid);
  }
  auto too_large = oci::ErrorResponse(
      ErrorCode::kManifestTooLarge,
      "manifest is larger than " + std::to_string(options_.max_manifest_bytes) + " bytes");
  if (call.request.content_length && *call.request.content_length > options_.max_manifest_bytes) {
    too_large.close = true;
    return http::Respond(std::move(too_large), 0);
  }
  std::string content_type(call.request.headers.Get("Content-Type").value_or(""));
  return http::Buffer(options_.max_manifest_bytes, std::move(too_large),
                      [this, repo = call.repo, reference = *reference,
                       content_type = std::move(content_type)](std::string body) {
                        return ManifestPut::Store(*this, repo, reference, content_type,
                                                  std::move(body));
                      });
}

http::ExchangePtr Registry::ManifestGet(Call& call) {
  auto reference = oci::ParseReference(call.route.reference);
  if (!reference) {
    return BadReference(call.route.reference, reference.error(), ErrorCode::kManifestUnknown);
  }
  Digest digest;
  if (reference->is_digest()) {
    digest = reference->digest();
  } else {
    auto resolved = meta_.ResolveTag(call.repo, reference->tag());
    if (!resolved) return StorageError(resolved.error(), ErrorCode::kManifestUnknown);
    digest = *resolved;
  }
  auto manifest = meta_.GetManifestContent(call.repo, digest);
  if (!manifest) return StorageError(manifest.error(), ErrorCode::kManifestUnknown);
  http::Response r;
  r.headers.Set("Content-Type", manifest->media_type);
  r.headers.Set("Docker-Content-Digest", digest.str());
  r.headers.Set("ETag", "\"" + digest.str() + "\"");
  if (call.is("HEAD")) {
    r.body = http::LengthOnly{manifest->bytes.size()};
  } else {
    r.body = std::move(manifest->bytes);
  }
  return http::Respond(std::move(r));
}

http::ExchangePtr Registry::ManifestDelete(Call& call) {
  auto reference = oci::ParseReference(call.route.reference);
  if (!reference) {
    return BadReference(call.route.reference, reference.error(), ErrorCode::kManifestUnknown);
  }
  auto deleted = reference->is_digest() ? meta_.DeleteManifest(call.repo, reference->digest())
                                        : meta_.DeleteTag(call.repo, reference->tag());
  if (!deleted) return StorageError(deleted.error(), ErrorCode::kManifestUnknown);
  http::Response r;
  r.status = 202;
  return http::Respond(std::move(r));
}

}  // namespace cove::registry
