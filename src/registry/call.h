// Internal to cove_registry: the per-request context the handlers share, and small helpers
// for building Distribution API responses. Not a public header.
#pragma once

#include <optional>
#include <string>

#include "http/message.h"
#include "oci/errors.h"
#include "registry/directory.h"
#include "registry/registry.h"
#include "registry/route.h"
#include "storage/meta_store.h"

namespace cove::registry {

struct Registry::Call {
  http::Request request;
  std::shared_ptr<const Directory> directory;  // keeps `match.registry` alive
  HostMatch match;
  Route route;
  storage::RepoKey repo;  // registry and repository (when the route names one)
  bool mount_allowed = true;  // false when the authorizer denies pull on a mount's `from`

  const std::string& method() const { return request.method; }
  bool is(std::string_view m) const { return request.method == m; }
};

inline http::ExchangePtr Error(oci::ErrorCode code, std::string_view message = {},
                               std::string_view detail_json = {}) {
  return http::Respond(oci::ErrorResponse(code, message, detail_json));
}

// 405 UNSUPPORTED naming the allowed methods.
http::ExchangePtr MethodNotAllowed(std::string_view allowed);

// Maps a storage error to the OCI code a client should see; NotFound maps to `not_found`.
http::ExchangePtr StorageError(const cove::Error& error, oci::ErrorCode not_found);

// JSON response with Content-Type `content_type`.
http::Response JsonResponse(int status, std::string body,
                            std::string_view content_type = "application/json");

// Parses the `n` query parameter; nullopt when absent; error response when not a number.
Result<std::optional<uint64_t>> ParsePageSize(const http::Request& request);

}  // namespace cove::registry
