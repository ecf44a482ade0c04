#include "registry/authorizer.h"

namespace cove::registry {

AccessRequirement RequiredAccess(const Route& route, std::string_view method) {
  AccessRequirement a;
  bool read = method == "GET" || method == "HEAD";
  switch (route.kind) {
    case Route::kNotFound:
    case Route::kBase:
      return a;
    case Route::kCatalog:
      a.kind = AccessRequirement::kCatalog;
      return a;
    case Route::kTags:
      a.kind = AccessRequirement::kRepository;
      a.repository = route.name;
      a.actions = {"metadata_read"};
      a.or_actions = {"pull"};
      return a;
    case Route::kManifest:
    case Route::kBlob:
    case Route::kReferrers:
      a.kind = AccessRequirement::kRepository;
      a.repository = route.name;
      if (read) {
        a.actions = {"pull"};
      } else if (method == "DELETE") {
        a.actions = {"delete"};
      } else {
        a.actions = {"pull", "push"};
      }
      return a;
    case Route::kUploadStart:
    case Route::kUpload:
      a.kind = AccessRequirement::kRepository;
      a.repository = route.name;
      a.actions = {"pull", "push"};
      return a;
  }
  return a;
}

}  // namespace cove::registry
