// ArmClient: calls coved's ARM-shaped REST API the way az's SDK clients do.
//
// Every call carries `?api-version=` (the versions az uses, below). ARM's answers are turned into
// JSON values or an ArmError holding ARM's own error code and message
// (`{"error":{"code","message"}}`), the HTTP status, and — when coved could not be reached at
// all — an empty code. Long-running operations are followed as the SDK follows them: a 201/202
// with `Azure-AsyncOperation` is polled until it reaches a terminal status, a 202 with
// `Location` until it stops answering 202; then a PUT/PATCH returns the resource as GET shows it.
// List() follows `nextLink` and returns the concatenated `value` arrays.
//
// Every call but PostForm carries `Authorization: Bearer <token>` from the token source (asked
// once, at the first call that needs it), as az's clients carry their MSAL token; no source, or
// an empty token, sends none, and coved's 401 becomes the error "Please run 'cove login' to
// setup account ..." (status 401, no code).
//
// With a debug stream set, each request and its status are logged there (az --debug); the
// Authorization header is never logged.
//
// Thread-safety: one thread at a time.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "http/client.h"

namespace cove::cli {

// api-version values, as az sends them.
inline constexpr char kApiResources[] = "2022-09-01";
inline constexpr char kApiSubscriptions[] = "2022-12-01";
inline constexpr char kApiNetwork[] = "2024-05-01";
inline constexpr char kApiPrivateDns[] = "2020-06-01";
inline constexpr char kApiAcr[] = "2023-11-01-preview";
inline constexpr char kApiCompute[] = "2024-07-01";
inline constexpr char kApiAuthorization[] = "2022-04-01";
inline constexpr char kApiManagedIdentity[] = "2023-01-31";
inline constexpr char kApiContainerInstance[] = "2023-05-01";
// Microsoft Graph paths (/v1.0/...) take no api-version: Call() adds none for an empty one.
inline constexpr char kApiGraph[] = "";

struct ArmError {
  int status = 0;    // HTTP status; 0 when there was no HTTP answer
  std::string code;  // ARM's error code; empty for transport failures
  std::string message;
};

template <typename T>
using ArmResult = tl::expected<T, ArmError>;

inline tl::unexpected<ArmError> ArmFail(int status, std::string code, std::string message) {
  return tl::unexpected<ArmError>(ArmError{status, std::move(code), std::move(message)});
}

class ArmClient {
 public:
  ArmClient(http::HttpClient http, std::ostream* debug) : http_(std::move(http)), debug_(debug) {}

  // Where the bearer token comes from; an error from it fails the call that asked.
  using TokenSource = std::function<ArmResult<std::string>()>;
  void SetTokenSource(TokenSource source) { token_source_ = std::move(source); }
  // Uses `token` from now on (e.g. the one `cove login` just got), whatever the source says.
  void SetBearerToken(std::string token) { token_ = std::move(token); }

  // One call. `path` is an ARM path (/subscriptions/...); returns the response body as JSON
  // (null for an empty body) or the error.
  ArmResult<nlohmann::json> Call(const std::string& method, const std::string& path,
                                 const std::string& api_version,
                                 const std::optional<nlohmann::json>& body = std::nullopt);

  ArmResult<nlohmann::json> Get(const std::string& path, const std::string& api) {
    return Call("GET", path, api);
  }
  ArmResult<nlohmann::json> Put(const std::string& path, const std::string& api,
                                const nlohmann::json& body) {
    return Call("PUT", path, api, body);
  }
  ArmResult<nlohmann::json> Patch(const std::string& path, const std::string& api,
                                  const nlohmann::json& body) {
    return Call("PATCH", path, api, body);
  }
  ArmResult<nlohmann::json> Post(const std::string& path, const std::string& api,
                                 const std::optional<nlohmann::json>& body = std::nullopt) {
    return Call("POST", path, api, body);
  }
  ArmResult<nlohmann::json> Delete(const std::string& path, const std::string& api) {
    return Call("DELETE", path, api);
  }
  // GET a collection; the `value` arrays of every page.
  ArmResult<nlohmann::json> List(const std::string& path, const std::string& api);
  // true when GET answers 2xx, false on 404.
  ArmResult<bool> Exists(const std::string& path, const std::string& api);
  // POSTs an application/x-www-form-urlencoded body (OAuth token endpoints) and returns the
  // answer whatever its status; an error only when there was no HTTP answer. The body and the
  // answer hold credentials, so --debug logs neither.
  ArmResult<http::HttpResponse> PostForm(const std::string& path, const std::string& form);

 private:
  ArmResult<http::HttpResponse> Send(const std::string& method, const std::string& target,
                               const std::string& body);
  ArmResult<nlohmann::json> Poll(const http::HttpResponse& first, const std::string& method,
                                 const std::string& path, const std::string& api);
  std::string Target(const std::string& url_or_path) const;

  http::HttpClient http_;
  std::ostream* debug_;
  TokenSource token_source_;
  std::optional<std::string> token_;  // once known
};

// The error an ARM response carries, from its body (`{"error":{"code","message"}}`) or, for a
// body that is not ARM-shaped, from the status.
ArmError ErrorFromResponse(int status, const std::string& body);

}  // namespace cove::cli
