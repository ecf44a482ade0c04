#include "registry/registry.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

#include "access/access.h"
#include "common/digest.h"
#include "oci/manifest.h"
#include "oci/reference.h"
#include "registry/call.h"

namespace cove::registry {
namespace {

using oci::ErrorCode;

// The registry a request is for. With the Gate's verdict (access/access.h) it is the verdict's
// registry — the one the network rules were decided for — never a second match of the host
// that could disagree with it (the directory may have changed in between): the host only says
// whether this is one of that registry's data hosts. A verdict for no registry ("") matches
// nothing, and one for a registry the directory no longer holds matches nothing either. If the
// host is no longer the verdict's registry's (its data endpoint was just disabled), the request
// is served as the verdict's registry's login server, which authenticates it. Without a verdict
// (no Gate in front) the host is matched here.
std::optional<HostMatch> MatchRequest(const Directory& directory, const std::string& host,
                                      const access::Verdict* verdict) {
  if (!verdict) return directory.Match(host);
  if (verdict->registry.empty()) return std::nullopt;
  const RegistryInfo* registry = directory.Find(verdict->registry);
  if (!registry) return std::nullopt;
  auto match = directory.Match(host);
  if (match && match->registry == registry) return match;
  return HostMatch{registry, false, {}};
}

// Adds the headers every Distribution API response carries.
class Decorated final : public http::Exchange {
 public:
  explicit Decorated(http::ExchangePtr inner) : inner_(std::move(inner)) {}
  std::optional<http::Response> OnBody(std::string_view piece) override {
    auto r = inner_->OnBody(piece);
    if (r) Decorate(*r);
    return r;
  }
  http::Response Finish() override {
    auto r = inner_->Finish();
    Decorate(r);
    return r;
  }
  void Abort() override { inner_->Abort(); }
  bool WantsBody() const override { return inner_->WantsBody(); }
  std::optional<uint64_t> IgnoresBody() const override { return inner_->IgnoresBody(); }
  bool Await(Stage stage, std::function<void()> ready) override {
    return inner_->Await(stage, std::move(ready));
  }

 private:
  static void Decorate(http::Response& r) {
    r.headers.Set("Docker-Distribution-API-Version", "registry/2.0");
  }
  http::ExchangePtr inner_;
};

// Paging as the spec has it: `n` entries at most, after `last`; one more than `n` is fetched
// to know whether a Link to the next page is due.
struct Paging {
  storage::Page page;
  std::optional<uint64_t> n;
};

Result<Paging> ParsePaging(const http::Request& request) {
  COVE_ASSIGN_OR_RETURN(auto n, ParsePageSize(request));
  Paging p{{request.QueryParam("last").value_or(""), std::nullopt}, n};
  if (n) p.page.limit = *n + 1;
  return p;
}

// Cuts `items` to the page and returns the Link header when more entries follow.
std::optional<std::string> TrimPage(std::vector<std::string>& items, const Paging& paging,
                                    std::string_view path) {
  if (!paging.n || items.size() <= *paging.n) return std::nullopt;
  items.resize(*paging.n);
  if (items.empty()) return std::nullopt;
  // `last` is a repository name or tag: characters that need no escaping in a query.
  return "<" + std::string(path) + "?last=" + items.back() + "&n=" + std::to_string(*paging.n) +
         ">; rel=\"next\"";
}

}  // namespace

http::ExchangePtr MethodNotAllowed(std::string_view allowed) {
  auto r = oci::ErrorResponse(ErrorCode::kUnsupported,
                              "method not allowed here; allowed: " + std::string(allowed));
  r.headers.Set("Allow", std::string(allowed));
  return http::Respond(std::move(r));
}

http::ExchangePtr StorageError(const cove::Error& error, oci::ErrorCode not_found) {
  switch (error.code) {
    case Code::kNotFound:
      return Error(not_found);
    case Code::kInvalidArgument:
      return Error(ErrorCode::kBlobUploadInvalid, error.message);
    default:
      spdlog::error("storage: {}", error.ToString());
      return Error(ErrorCode::kUnavailable, "storage failure; try again");
  }
}

http::Response JsonResponse(int status, std::string body, std::string_view content_type) {
  return http::Response::Text(status, std::string(content_type), std::move(body));
}

Result<std::optional<uint64_t>> ParsePageSize(const http::Request& request) {
  auto n = request.QueryParam("n");
  if (!n) return std::optional<uint64_t>();
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), value);
  if (n->empty() || ec != std::errc() || end != n->data() + n->size()) {
    return Fail(Code::kInvalidArgument, "n must be a non-negative integer");
  }
  return std::optional<uint64_t>(value);
}

Registry::Registry(std::shared_ptr<const Directory> directory, storage::BlobStore& blobs,
                   storage::MetaStore& meta, const UrlSigner& signer, const Clock& clock,
                   RegistryOptions options)
    : directory_(std::move(directory)),
      content_source_(std::move(options.content_source)),
      signer_(signer),
      options_(std::move(options)),
      repositories_(blobs, meta, clock,
                    {options_.upload_ttl, options_.max_idle_uploads, options_.new_upload_id}) {}

Registry::~Registry() = default;

void Registry::SetDirectory(std::shared_ptr<const Directory> directory) {
  std::lock_guard lock(directory_mu_);
  directory_ = std::move(directory);
}

std::shared_ptr<const Directory> Registry::directory() const {
  std::lock_guard lock(directory_mu_);
  return directory_;
}

void Registry::SetContentSource(std::shared_ptr<ContentSource> source) {
  std::lock_guard lock(content_source_mu_);
  content_source_ = std::move(source);
}

std::shared_ptr<ContentSource> Registry::content_source() const {
  std::lock_guard lock(content_source_mu_);
  return content_source_;
}

http::ExchangePtr Registry::Start(http::Request request) {
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  Call call;
  call.request = std::move(request);
  call.directory = directory();
  std::string host = call.request.host();
  if (host.empty()) host = call.request.peer.server_name;
  auto match = MatchRequest(*call.directory, host, call.request.verdict.get());
  if (!match) {
    return std::make_unique<Decorated>(
        Error(ErrorCode::kNameUnknown, "no registry is served at host '" + host + "'"));
  }
  call.match = *match;
  call.route = ParseRoute(call.request.path());
  call.repo = {match->registry->name, call.route.name};
  if (auto answer = Authorize(call)) return std::make_unique<Decorated>(std::move(answer));
  return std::make_unique<Decorated>(Dispatch(call));
}

// A request whose authorization runs elsewhere (Authorizer::CheckLater): waits for the verdict
// after Start (Exchange::Await), then becomes the refusal or the dispatched handler, built on
// the I/O thread. A caller that drives it without Await (a test) waits for the verdict in the
// first call instead.
class Registry::AfterCheck final : public http::Exchange {
 public:
  // Shared with the authorizer's callback, which may outlive the exchange.
  struct Verdict {
    void Set(std::optional<http::Response> denied_response) {
      std::function<void()> wake;
      {
        std::lock_guard lock(mu);
        denied = std::move(denied_response);
        done = true;
        wake = std::move(ready);
      }
      cv.notify_all();
      if (wake) wake();
    }
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;                     // guarded by mu
    std::optional<http::Response> denied;  // guarded by mu
    std::function<void()> ready;           // guarded by mu
  };

  AfterCheck(Registry& registry, Call call, std::shared_ptr<Verdict> verdict)
      : registry_(registry), call_(std::move(call)), verdict_(std::move(verdict)) {}

  bool Await(Stage stage, std::function<void()> ready) override {
    if (!inner_) {
      {
        std::lock_guard lock(verdict_->mu);
        if (!verdict_->done) {
          verdict_->ready = std::move(ready);
          return true;
        }
      }
      Inner();
    }
    return inner_->Await(stage, std::move(ready));
  }
  bool WantsBody() const override { return Inner().WantsBody(); }
  std::optional<uint64_t> IgnoresBody() const override { return Inner().IgnoresBody(); }
  std::optional<http::Response> OnBody(std::string_view piece) override {
    return Inner().OnBody(piece);
  }
  http::Response Finish() override { return Inner().Finish(); }
  void Abort() override {
    if (inner_) inner_->Abort();
  }

 private:
  http::Exchange& Inner() const {
    if (!inner_) {
      std::optional<http::Response> denied;
      {
        std::unique_lock lock(verdict_->mu);
        verdict_->cv.wait(lock, [&] { return verdict_->done; });
        denied = std::move(verdict_->denied);
      }
      if (denied) {
        inner_ = http::Respond(std::move(*denied));
      } else {
        registry_.CheckMount(call_);
        inner_ = registry_.Dispatch(call_);
      }
    }
    return *inner_;
  }

  Registry& registry_;
  mutable Call call_;
  std::shared_ptr<Verdict> verdict_;
  mutable http::ExchangePtr inner_;
};

http::ExchangePtr Registry::Authorize(Call& call) {
  if (!options_.authorizer || call.match.data_host) return nullptr;
  const RegistryInfo& registry = *call.match.registry;
  std::string login_server = registry.LoginServer(call.directory->dns_suffix());
  if (call.request.path().starts_with("/oauth2/")) {
    return options_.authorizer->Serve(call.request, registry, login_server);
  }
  auto needed = RequiredAccess(call.route, call.request.method);
  auto verdict = std::make_shared<AfterCheck::Verdict>();
  if (options_.authorizer->CheckLater(
          call.request, registry, login_server, needed,
          [verdict](std::optional<http::Response> denied) { verdict->Set(std::move(denied)); })) {
    return std::make_unique<AfterCheck>(*this, std::move(call), std::move(verdict));
  }
  auto denied = options_.authorizer->Check(call.request, registry, login_server, needed);
  if (denied) return http::Respond(std::move(*denied));
  CheckMount(call);
  return nullptr;
}

void Registry::CheckMount(Call& call) {
  if (call.route.kind == Route::kUploadStart && call.request.QueryParam("mount")) {
    if (auto from = call.request.QueryParam("from")) {
      const RegistryInfo& registry = *call.match.registry;
      std::string login_server = registry.LoginServer(call.directory->dns_suffix());
      AccessRequirement source{AccessRequirement::kRepository, *from, {"pull"}};
      call.mount_allowed =
          !options_.authorizer->Check(call.request, registry, login_server, source);
    }
  }
}

http::ExchangePtr Registry::Dispatch(Call& call) {
  if (call.route.kind == Route::kNotFound) {
    return Error(ErrorCode::kNameUnknown, "no such endpoint: " + std::string(call.request.path()));
  }
  if (call.route.kind != Route::kBase && call.route.kind != Route::kCatalog &&
      !oci::IsValidRepositoryName(call.route.name)) {
    return Error(ErrorCode::kNameInvalid, "invalid repository name '" + call.route.name + "'");
  }
  if (call.match.data_host) {
    if (call.route.kind == Route::kBlob) return DataHostBlob(call);
    return Error(ErrorCode::kDenied,
                 "this is a data endpoint; it serves only signed blob URLs issued by the "
                 "registry's login server");
  }
  switch (call.route.kind) {
    case Route::kBase: return Base(call);
    case Route::kCatalog: return Catalog(call);
    case Route::kTags: return Tags(call);
    case Route::kReferrers: return Referrers(call);
    case Route::kBlob: return Blob(call);
    case Route::kUploadStart: return UploadStart(call);
    case Route::kUpload: return Upload(call);
    case Route::kManifest: return Manifest(call);
    case Route::kNotFound: break;
  }
  return Error(ErrorCode::kNameUnknown);
}

http::ExchangePtr Registry::Base(Call& call) {
  if (!call.is("GET") && !call.is("HEAD")) return MethodNotAllowed("GET, HEAD");
  return http::Respond(JsonResponse(200, "{}"));
}

http::ExchangePtr Registry::Catalog(Call& call) {
  if (!call.is("GET") && !call.is("HEAD")) return MethodNotAllowed("GET, HEAD");
  auto paging = ParsePaging(call.request);
  if (!paging) return Error(ErrorCode::kPaginationNumberInvalid, paging.error().message);
  auto repos = repositories_.ListRepositories(call.repo.registry, paging->page);
  if (!repos) return StorageError(repos.error(), ErrorCode::kNameUnknown);
  auto link = TrimPage(*repos, *paging, "/v2/_catalog");
  auto response = JsonResponse(200, nlohmann::json{{"repositories", *repos}}.dump());
  if (link) response.headers.Set("Link", *link);
  return http::Respond(std::move(response));
}

// Tags, the catalog and referrers answer from this region's stores only, never through the
// ContentSource: across regions they are eventually consistent, as in ACR (registry.h).
http::ExchangePtr Registry::Tags(Call& call) {
  if (!call.is("GET") && !call.is("HEAD")) return MethodNotAllowed("GET, HEAD");
  auto paging = ParsePaging(call.request);
  if (!paging) return Error(ErrorCode::kPaginationNumberInvalid, paging.error().message);
  auto tags = repositories_.ListTags(call.repo, paging->page);
  if (!tags) return StorageError(tags.error(), ErrorCode::kNameUnknown);
  auto link = TrimPage(*tags, *paging, "/v2/" + call.repo.repository + "/tags/list");
  auto response =
      JsonResponse(200, nlohmann::json{{"name", call.repo.repository}, {"tags", *tags}}.dump());
  if (link) response.headers.Set("Link", *link);
  return http::Respond(std::move(response));
}

http::ExchangePtr Registry::Referrers(Call& call) {
  if (!call.is("GET") && !call.is("HEAD")) return MethodNotAllowed("GET, HEAD");
  auto subject = Digest::Parse(call.route.reference);
  if (!subject) return Error(ErrorCode::kDigestInvalid, subject.error().message);
  auto artifact_type = call.request.QueryParam("artifactType");
  auto referrers = repositories_.ListReferrers(call.repo, *subject, artifact_type);
  if (!referrers) return StorageError(referrers.error(), ErrorCode::kNameUnknown);
  nlohmann::json manifests = nlohmann::json::array();
  for (const auto& r : *referrers) {
    nlohmann::json d = {{"mediaType", r.media_type}, {"digest", r.digest.str()}, {"size", r.size}};
    if (!r.artifact_type.empty()) d["artifactType"] = r.artifact_type;
    if (!r.annotations_json.empty()) {
      d["annotations"] = nlohmann::json::parse(r.annotations_json, nullptr, false);
    }
    manifests.push_back(std::move(d));
  }
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", std::string(oci::kOciIndex)},
                          {"manifests", std::move(manifests)}};
  auto response = JsonResponse(200, index.dump(), oci::kOciIndex);
  if (artifact_type) response.headers.Set("OCI-Filters-Applied", "artifactType");
  return http::Respond(std::move(response));
}

Result<size_t> Registry::PurgeAbandonedUploads() { return repositories_.PurgeAbandonedUploads(); }

Status Registry::DeleteRegistryContent(const std::string& name) {
  return repositories_.DeleteRegistry(name);
}

}  // namespace cove::registry
