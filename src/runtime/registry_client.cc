#include "runtime/registry_client.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace cove::runtime {
namespace {

using json = nlohmann::json;

constexpr char kManifestAccept[] =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";
constexpr uint64_t kSmallAnswer = 1024 * 1024;
constexpr int kMaxRedirects = 5;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Error Mismatch(const std::string& what, const std::string& want, const std::string& got) {
  Error e{Code::kCorruption, what + ": expected " + want + ", got " + got};
  e.reason = "DIGEST_INVALID";
  return e;
}

}  // namespace

RegistryClient::RegistryClient(Transport& transport, ImageReference ref, Credential credential)
    : transport_(transport), ref_(std::move(ref)), credential_(std::move(credential)) {}

Result<FetchResponse> RegistryClient::Get(const std::string& path,
                                          std::map<std::string, std::string> headers,
                                          const BodySink* sink, uint64_t limit) {
  COVE_ASSIGN_OR_RETURN(Url url, ParseUrl("https://" + ref_.endpoint_host() + path));
  const std::string registry_origin = url.origin();
  for (int hops = 0;; ++hops) {
    FetchRequest req;
    req.url = url.str();
    req.headers = headers;
    // A redirect to another origin is a signed URL: our token is not for it.
    if (!authorization_.empty() && url.origin() == registry_origin) {
      req.headers["Authorization"] = authorization_;
    }
    COVE_ASSIGN_OR_RETURN(FetchResponse res, transport_.Fetch(req, sink, limit));
    if (!IsRedirect(res.status)) return res;
    auto location = res.headers.find("location");
    if (location == res.headers.end()) return res;
    if (hops >= kMaxRedirects) {
      return Fail(Code::kUnavailable,
                  "more than " + std::to_string(kMaxRedirects) + " redirects fetching " + path);
    }
    COVE_ASSIGN_OR_RETURN(url, ResolveLocation(url, location->second));
  }
}

Result<std::optional<Challenge>> RegistryClient::Ping() {
  COVE_ASSIGN_OR_RETURN(FetchResponse res, Get("/v2/", {}, nullptr, kSmallAnswer));
  if (res.status == 200) return std::optional<Challenge>();
  if (res.status != 401) return Fail(ResponseError(res));
  auto header = res.headers.find("www-authenticate");
  if (header == res.headers.end()) {
    Error e = ResponseError(res);
    e.message += " (no WWW-Authenticate challenge)";
    return Fail(std::move(e));
  }
  COVE_ASSIGN_OR_RETURN(auto challenges, ParseWwwAuthenticate(header->second));
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && c.params.count("realm")) return std::optional<Challenge>(c);
  }
  for (const auto& c : challenges) {
    if (c.scheme == "basic") return std::optional<Challenge>(c);
  }
  return Fail(
      Code::kUnimplemented,
      "the registry asks for an authentication scheme cove does not speak: " + header->second);
}

Status RegistryClient::Authenticate(const Challenge& challenge) {
  if (challenge.scheme == "basic") {
    if (credential_.kind == Credential::Kind::kBasic) {
      authorization_ = BasicAuthorization(credential_.username, credential_.password);
    } else if (credential_.kind == Credential::Kind::kRefreshToken) {
      authorization_ = BasicAuthorization(kNullGuid, credential_.refresh_token);
    } else {
      Error e{Code::kUnauthenticated, "the registry wants Basic credentials and none were given"};
      e.reason = "UNAUTHORIZED";
      e.http_status = 401;
      return Fail(std::move(e));
    }
    return Ok();
  }
  COVE_ASSIGN_OR_RETURN(std::string token, FetchToken(challenge));
  authorization_ = "Bearer " + token;
  return Ok();
}

Result<std::string> RegistryClient::FetchToken(const Challenge& challenge) {
  const std::string& realm = challenge.params.at("realm");
  auto service_it = challenge.params.find("service");
  std::string service = service_it == challenge.params.end() ? "" : service_it->second;
  std::string scope = "repository:" + ref_.repository + ":pull";
  COVE_ASSIGN_OR_RETURN(Url realm_url, ParseUrl(realm));
  if (!realm_url.https && realm_url.host != "127.0.0.1" && realm_url.host != "localhost") {
    return Fail(Code::kPermissionDenied,
                "refusing to send credentials to a plain-HTTP realm " + realm);
  }
  std::string sep = realm.find('?') == std::string::npos ? "?" : "&";
  FetchRequest req;
  req.headers["Accept"] = "application/json";
  FetchResponse res;
  auto post = [&](std::vector<std::pair<std::string, std::string>> form) -> Status {
    req.method = "POST";
    req.url = realm;
    req.headers["Content-Type"] = "application/x-www-form-urlencoded";
    req.headers.erase("Authorization");
    if (!service.empty()) form.emplace_back("service", service);
    form.emplace_back("scope", scope);
    req.body = FormEncode(form);
    COVE_ASSIGN_OR_RETURN(res, transport_.Fetch(req, nullptr, kSmallAnswer));
    return Ok();
  };
  if (credential_.kind == Credential::Kind::kRefreshToken) {
    COVE_RETURN_IF_ERROR(
        post({{"grant_type", "refresh_token"}, {"refresh_token", credential_.refresh_token}}));
  } else {
    req.url = realm + sep + (service.empty() ? "" : "service=" + PercentEncode(service) + "&") +
              "scope=" + PercentEncode(scope);
    if (credential_.kind == Credential::Kind::kBasic) {
      req.headers["Authorization"] = BasicAuthorization(credential_.username, credential_.password);
    }
    COVE_ASSIGN_OR_RETURN(res, transport_.Fetch(req, nullptr, kSmallAnswer));
    if ((res.status == 404 || res.status == 405) && credential_.kind == Credential::Kind::kBasic) {
      COVE_RETURN_IF_ERROR(post({{"grant_type", "password"},
                                 {"username", credential_.username},
                                 {"password", credential_.password}}));
    }
  }
  if (res.status != 200) return Fail(ResponseError(res));
  json j = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  for (const char* field : {"token", "access_token"}) {
    if (j.is_object() && j.contains(field) && j[field].is_string() &&
        !j[field].get<std::string>().empty()) {
      return j[field].get<std::string>();
    }
  }
  return Fail(Code::kInvalidArgument, "the token endpoint " + realm + " answered without a token");
}

Result<FetchedManifest> RegistryClient::GetManifest(const std::string& reference) {
  COVE_ASSIGN_OR_RETURN(FetchResponse res,
                        Get("/v2/" + ref_.repository + "/manifests/" + reference,
                            {{"Accept", kManifestAccept}}, nullptr, oci::kMaxManifestSize));
  if (res.status != 200) return Fail(ResponseError(res));
  FetchedManifest out;
  out.bytes = std::move(res.body);
  auto type = res.headers.find("content-type");
  if (type != res.headers.end()) out.media_type = type->second.substr(0, type->second.find(';'));
  Digest want;
  if (auto parsed = Digest::Parse(reference); parsed) want = *parsed;
  auto header = res.headers.find("docker-content-digest");
  if (want.empty() && header != res.headers.end()) {
    auto parsed = Digest::Parse(header->second);
    if (!parsed) {
      return Fail(
          Mismatch("manifest " + reference + " Docker-Content-Digest", "a digest", header->second));
    }
    want = *parsed;
  }
  out.digest = Digest::Of(out.bytes, want.empty() ? DigestAlgorithm::kSha256 : want.algorithm());
  if (!want.empty() && out.digest != want) {
    return Fail(Mismatch("manifest " + reference + " digest", want.str(), out.digest.str()));
  }
  if (out.digest.algorithm() != DigestAlgorithm::kSha256) {
    out.digest = Digest::Of(out.bytes);
  }
  return out;
}

Result<std::string> RegistryClient::GetBlob(const oci::Descriptor& blob, uint64_t limit) {
  if (blob.size > limit) {
    return Fail(Code::kResourceExhausted, "blob " + blob.digest.str() + " is " +
                                              std::to_string(blob.size) + " bytes, more than " +
                                              std::to_string(limit));
  }
  COVE_ASSIGN_OR_RETURN(
      FetchResponse res,
      Get("/v2/" + ref_.repository + "/blobs/" + blob.digest.str(), {}, nullptr, limit));
  if (res.status != 200) return Fail(ResponseError(res));
  Digest got = Digest::Of(res.body, blob.digest.algorithm());
  if (got != blob.digest) return Fail(Mismatch("blob digest", blob.digest.str(), got.str()));
  return std::move(res.body);
}

Status RegistryClient::DownloadBlob(const oci::Descriptor& blob, const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string tmp = dir + "/.ingest-" + blob.digest.hex() + "-XXXXXX";
  UniqueFd fd(::mkstemp(tmp.data()));
  if (!fd.valid()) {
    return Fail(Code::kIOError, "cannot create a file in " + dir + ": " + std::strerror(errno));
  }
  struct Cleanup {
    std::string path;
    bool keep = false;
    ~Cleanup() {
      if (!keep) ::unlink(path.c_str());
    }
  } cleanup{tmp};
  Hasher hasher(blob.digest.algorithm());
  uint64_t written = 0;
  BodySink sink = [&](std::string_view chunk) -> Status {
    written += chunk.size();
    if (written > blob.size) {
      return Fail(Code::kCorruption, "blob " + blob.digest.str() + " is longer than the " +
                                         std::to_string(blob.size) + " bytes its descriptor says");
    }
    hasher.Update(chunk);
    while (!chunk.empty()) {
      ssize_t n = ::write(fd.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(Code::kIOError, "writing " + tmp + ": " + std::strerror(errno));
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    return Ok();
  };
  COVE_ASSIGN_OR_RETURN(
      FetchResponse res,
      Get("/v2/" + ref_.repository + "/blobs/" + blob.digest.str(), {}, &sink, kSmallAnswer));
  if (res.status != 200) return Fail(ResponseError(res));
  if (written != blob.size) {
    Error e{Code::kCorruption, "blob " + blob.digest.str() + " is " + std::to_string(written) +
                                   " bytes, its descriptor says " + std::to_string(blob.size)};
    e.reason = "SIZE_INVALID";
    return Fail(std::move(e));
  }
  Digest got = hasher.Finish();
  if (got != blob.digest) return Fail(Mismatch("blob digest", blob.digest.str(), got.str()));
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Fail(Code::kIOError, "storing " + path + ": " + std::strerror(errno));
  }
  cleanup.keep = true;
  return Ok();
}

}  // namespace cove::runtime
