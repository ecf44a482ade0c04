// Blob reads and deletes: on the login server (direct, or 307 to the data endpoint) and on the
// data hosts (signed URLs only); a blob this region does not hold is read through the
// ContentSource (registry.h says how).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/digest.h"
#include "registry/call.h"

namespace cove::registry {
namespace {

using oci::ErrorCode;

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

// Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" against `size` (RFC 9110 14.1.2).
// nullopt: no usable Range (absent, several ranges, or another unit): serve the whole blob.
// Error: syntactically a byte range but unsatisfiable: 416.
Result<std::optional<ByteRange>> ParseRange(std::optional<std::string_view> header,
                                            uint64_t size) {
  if (!header) return std::optional<ByteRange>();
  std::string_view h = *header;
  if (!h.starts_with("bytes=") || h.find(',') != std::string_view::npos) {
    return std::optional<ByteRange>();
  }
  h.remove_prefix(6);
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return Fail(Code::kOutOfRange, "malformed Range");
  auto number = [](std::string_view s, uint64_t* out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  ByteRange r;
  if (a.empty()) {  // suffix: last n bytes
    uint64_t n = 0;
    if (!number(b, &n) || n == 0 || size == 0) return Fail(Code::kOutOfRange, "unsatisfiable");
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    return std::optional<ByteRange>(r);
  }
  if (!number(a, &r.first)) return Fail(Code::kOutOfRange, "malformed Range");
  if (b.empty()) {
    r.last = size == 0 ? 0 : size - 1;
  } else if (!number(b, &r.last) || r.last < r.first) {
    return Fail(Code::kOutOfRange, "malformed Range");
  }
  if (r.first >= size) return Fail(Code::kOutOfRange, "range starts past the end of the blob");
  if (r.last >= size) r.last = size - 1;
  return std::optional<ByteRange>(r);
}

bool IsRegionOf(const RegistryInfo& registry, std::string_view region) {
  return std::find(registry.regions.begin(), registry.regions.end(), region) !=
         registry.regions.end();
}

}  // namespace

http::ExchangePtr Registry::Blob(Call& call) {
  auto digest = Digest::Parse(call.route.reference);
  if (!digest) return Error(ErrorCode::kDigestInvalid, digest.error().message);
  if (call.is("DELETE")) {
    auto unlinked = repositories_.UnlinkBlob(call.repo, *digest);
    if (!unlinked) return StorageError(unlinked.error(), ErrorCode::kBlobUnknown);
    http::Response r;
    r.status = 202;
    return http::Respond(std::move(r));
  }
  if (!call.is("GET") && !call.is("HEAD")) return MethodNotAllowed("GET, HEAD, DELETE");
  const RegistryInfo& reg = *call.match.registry;
  // ACR sends blob downloads to the data endpoint of the serving region ("" is no region).
  const std::string& region = IsRegionOf(reg, options_.region) ? options_.region : reg.home_region;
  const bool redirect = call.is("GET") && reg.data_endpoint_enabled;
  auto size = repositories_.StatBlob(call.repo, *digest);
  if (!size && size.error().code == Code::kNotFound) {
    if (auto source = content_source()) {
      if (redirect) {
        auto holder = source->RegionHolding(call.repo, *digest);
        if (!holder) return Error(ErrorCode::kBlobUnknown);
        if (*holder != region && IsRegionOf(reg, *holder)) {
          return RedirectToDataHost(call, *digest, *holder);
        }
        // Held here after all (it just arrived), or by a region the directory does not know
        // yet: copied here and sent to this region's data host.
      }
      size = FetchBlob(*source, call.repo, *digest);
    }
  }
  if (!size) return StorageError(size.error(), ErrorCode::kBlobUnknown);
  if (redirect) return RedirectToDataHost(call, *digest, region);
  return ServeBlob(call, *digest, *size, /*data_host=*/false);
}

http::ExchangePtr Registry::RedirectToDataHost(Call& call, const Digest& digest,
                                               const std::string& region) {
  const RegistryInfo& reg = *call.match.registry;
  BlobUrlClaims claims{reg.name, call.repo.repository, digest.str(), region};
  std::string authority = reg.DataHost(region, call.directory->dns_suffix());
  std::string_view host_header = call.request.headers.Get("Host").value_or("");
  if (auto colon = host_header.rfind(':');
      colon != std::string_view::npos && host_header.find(']', colon) == std::string_view::npos) {
    authority += host_header.substr(colon);  // keep a non-default port
  }
  http::Response r;
  r.status = 307;
  r.headers.Set("Location", std::string(call.request.peer.tls ? "https://" : "http://") +
                                authority + "/v2/" + call.repo.repository + "/blobs/" +
                                digest.str() + "?" + signer_.Sign(claims));
  r.headers.Set("Docker-Content-Digest", digest.str());
  counters_.redirects.fetch_add(1, std::memory_order_relaxed);
  return http::Respond(std::move(r));
}

Result<uint64_t> Registry::FetchBlob(ContentSource& source, const storage::RepoKey& repo,
                                     const Digest& digest) {
  if (auto fetched = source.FetchBlob(repo, digest);
      !fetched && fetched.error().code != Code::kNotFound) {
    spdlog::warn("read-through of blob {} in {}/{}: {}", digest.str(), repo.registry,
                 repo.repository, fetched.error().ToString());
  }
  return repositories_.StatBlob(repo, digest);
}

http::ExchangePtr Registry::DataHostBlob(Call& call) {
  if (!call.is("GET") && !call.is("HEAD")) return MethodNotAllowed("GET, HEAD");
  auto digest = Digest::Parse(call.route.reference);
  if (!digest) return Error(ErrorCode::kDigestInvalid, digest.error().message);
  BlobUrlClaims claims{call.match.registry->name, call.repo.repository, digest->str(),
                       call.match.region};
  auto verified = signer_.Verify(claims, call.request.QueryParam("se").value_or(""),
                                 call.request.QueryParam("sig").value_or(""));
  if (!verified) return Error(ErrorCode::kDenied, verified.error().message);
  auto size = repositories_.StatBlob(call.repo, *digest);
  if (!size && size.error().code == Code::kNotFound) {
    // Not held here yet: a region's login server redirected here on a peer's word, and this
    // node's copy lags behind it. Read through as the login server does.
    if (auto source = content_source()) size = FetchBlob(*source, call.repo, *digest);
  }
  if (!size) return StorageError(size.error(), ErrorCode::kBlobUnknown);
  return ServeBlob(call, *digest, *size, /*data_host=*/true);
}

http::ExchangePtr Registry::ServeBlob(Call& call, const Digest& digest, uint64_t size,
                                      bool data_host) {
  http::Response r;
  r.headers.Set("Content-Type", "application/octet-stream");
  r.headers.Set("Docker-Content-Digest", digest.str());
  r.headers.Set("Accept-Ranges", "bytes");
  r.headers.Set("Cache-Control", "max-age=31536000");
  r.headers.Set("ETag", "\"" + digest.str() + "\"");
  if (call.is("HEAD")) {
    r.body = http::LengthOnly{size};
    return http::Respond(std::move(r));
  }
  auto range = ParseRange(call.request.headers.Get("Range"), size);
  if (!range) {
    auto e = oci::ErrorResponse(ErrorCode::kRangeInvalid, range.error().message);
    e.headers.Set("Content-Range", "bytes */" + std::to_string(size));
    return http::Respond(std::move(e));
  }
  uint64_t offset = *range ? (*range)->first : 0;
  std::optional<uint64_t> length;
  if (*range) length = (*range)->last - (*range)->first + 1;
  auto file = repositories_.OpenBlob(digest, offset, length);
  if (!file) return StorageError(file.error(), ErrorCode::kBlobUnknown);
  // A stream delivers just the range; a file is read from `offset`.
  http::FileBody body{std::move(file->fd), file->stream ? 0 : offset,
                      length.value_or(file->size), file->stream};
  if (*range) {
    r.status = 206;
    r.headers.Set("Content-Range", "bytes " + std::to_string((*range)->first) + "-" +
                                       std::to_string((*range)->last) + "/" +
                                       std::to_string(file->size));
  }
  (data_host ? counters_.data_host_bytes_served : counters_.blob_bytes_served)
      .fetch_add(body.length, std::memory_order_relaxed);
  r.body = std::move(body);
  return http::Respond(std::move(r));
}

}  // namespace cove::registry
