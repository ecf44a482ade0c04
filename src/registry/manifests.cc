// Manifests: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>; GET/HEAD read through the
// ContentSource (registry.h says how).
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "oci/manifest.h"
#include "oci/reference.h"
#include "registry/call.h"

namespace cove::registry {
namespace {

using oci::ErrorCode;

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
    std::optional<std::string> tag;
    if (!reference.is_digest()) tag = reference.tag();
    Digest unknown;
    if (auto stored = registry.repositories_.PutManifest(repo, *parsed, digest, std::move(bytes),
                                                         tag, &unknown);
        !stored) {
      const cove::Error& e = stored.error();
      if (e.code == Code::kNotFound && !unknown.empty()) {
        return oci::ErrorResponse(ErrorCode::kManifestBlobUnknown, e.message,
                                  DetailDigest(unknown));
      }
      if (e.code == Code::kInvalidArgument) {
        return oci::ErrorResponse(ErrorCode::kManifestInvalid, e.message);
      }
      spdlog::error("put manifest {}: {}", digest.str(), e.ToString());
      return oci::ErrorResponse(ErrorCode::kUnavailable, "storage failure while storing manifest");
    }
    registry.counters_.manifests_stored.fetch_add(1, std::memory_order_relaxed);
    http::Response r;
    r.status = 201;
    r.headers.Set("Location", "/v2/" + repo.repository + "/manifests/" + digest.str());
    r.headers.Set("Docker-Content-Digest", digest.str());
    if (parsed->subject) r.headers.Set("OCI-Subject", parsed->subject->digest.str());
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
  auto source = content_source();
  Digest digest;
  if (reference->is_digest()) {
    digest = reference->digest();
  } else {
    if (source) {
      // Read-your-writes across regions: a newer version of the tag pushed elsewhere first.
      if (auto refreshed = source->RefreshTag(call.repo, reference->tag()); !refreshed) {
        spdlog::warn("refresh of tag {} in {}/{}: {}", reference->tag(), call.repo.registry,
                     call.repo.repository, refreshed.error().ToString());
      }
    }
    auto resolved = repositories_.ResolveTag(call.repo, reference->tag());
    if (!resolved) return StorageError(resolved.error(), ErrorCode::kManifestUnknown);
    digest = *resolved;
  }
  auto manifest = repositories_.GetManifest(call.repo, digest);
  if (!manifest && manifest.error().code == Code::kNotFound && source) {
    if (auto fetched = source->FetchManifest(call.repo, digest);
        !fetched && fetched.error().code != Code::kNotFound) {
      spdlog::warn("read-through of manifest {} in {}/{}: {}", digest.str(), call.repo.registry,
                   call.repo.repository, fetched.error().ToString());
    }
    manifest = repositories_.GetManifest(call.repo, digest);
  }
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
  auto deleted = reference->is_digest() ? repositories_.DeleteManifest(call.repo, reference->digest())
                                        : repositories_.DeleteTag(call.repo, reference->tag());
  if (!deleted) return StorageError(deleted.error(), ErrorCode::kManifestUnknown);
  http::Response r;
  r.status = 202;
  return http::Respond(std::move(r));
}

}  // namespace cove::registry
