// Fuzzes what a registry answers a pull: the input is served as every response body (the /v2/
// ping, the manifest or index, its child, blobs, token endpoints), with a status, a
// Content-Type and a WWW-Authenticate chosen by the first bytes. runtime::Pull must turn any of
// it into a result or a PullFailure naming a stage, never crash, and never write a blob that
// does not match its digest.
//
// Input layout: byte 0 picks the ping's status and challenge, byte 1 the manifest's
// Content-Type and status, the rest is the body.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "runtime/pull.h"

namespace {

using cove::runtime::FetchRequest;
using cove::runtime::FetchResponse;

constexpr std::string_view kTypes[] = {
    "",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/json",
};
constexpr std::string_view kChallenges[] = {
    "Bearer realm=\"https://r.io/oauth2/token\",service=\"r.io\"",
    "Basic realm=\"r.io\"",
    "Bearer realm=\"http://evil/token\"",
    "Negotiate",
};

class ServeInput final : public cove::runtime::Transport {
 public:
  ServeInput(uint8_t ping, uint8_t manifest, std::string_view body)
      : ping_(ping), manifest_(manifest), body_(body) {}

  cove::Result<FetchResponse> Fetch(const FetchRequest& req, const cove::runtime::BodySink* sink,
                                    uint64_t limit) override {
    if (++calls_ > 32) return cove::Fail(cove::Code::kUnavailable, "enough");
    FetchResponse res;
    res.status = 200;
    res.body = std::string(body_);
    if (req.url == "https://r.io/v2/") {
      res.status = ping_ & 1 ? 401 : 200;
      res.headers["www-authenticate"] = kChallenges[(ping_ >> 1) % std::size(kChallenges)];
    } else if (req.url.find("/manifests/") != std::string::npos) {
      static constexpr int kStatuses[] = {200, 200, 200, 401, 403, 404, 307};
      res.status = kStatuses[(manifest_ >> 4) % std::size(kStatuses)];
      res.headers["content-type"] = kTypes[manifest_ % std::size(kTypes)];
      if (res.status == 307) res.headers["location"] = std::string(body_.substr(0, 64));
    }
    if (sink && res.status / 100 == 2) {
      auto st = (*sink)(res.body);
      if (!st) return cove::Fail(st.error());
      res.body.clear();
    } else if (res.body.size() > limit) {
      return cove::Fail(cove::Code::kResourceExhausted, "too big");
    }
    return res;
  }

 private:
  uint8_t ping_, manifest_;
  std::string_view body_;
  int calls_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static const std::string store = [] {
    std::string dir = "/tmp/cove-pull-fuzz-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) abort();
    return dir;
  }();
  std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  ServeInput transport(data[0], data[1], body);
  cove::runtime::PullOptions options{
      .image = "r.io/app:v1",
      .store = store,
      .credential = {
          .kind = cove::runtime::Credential::Kind::kBasic, .username = "u", .password = "p"}};
  auto out = cove::runtime::Pull(options, transport);
  if (!out && out.error().stage.empty()) abort();
  // As `coved pull` prints it: a registry's message may be any bytes.
  (void)cove::runtime::PullOutcomeJson(options.image, out)
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
