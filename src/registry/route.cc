#include "registry/route.h"

namespace cove::registry {
namespace {

bool HasPrefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Splits "<name>/<op>/<last>" where <op> may be two components ("blobs/uploads").
// Returns true and fills name/last when `rest` ends in "/<op>/<last>" with a non-empty name.
bool SplitRight(std::string_view rest, std::string_view op, std::string* name, std::string* last) {
  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos) return false;
  std::string_view head = rest.substr(0, slash);
  std::string_view tail = rest.substr(slash + 1);
  std::string needle = "/" + std::string(op);
  if (head.size() <= needle.size() || head.substr(head.size() - needle.size()) != needle) {
    return false;
  }
  *name = std::string(head.substr(0, head.size() - needle.size()));
  *last = std::string(tail);
  return true;
}

}  // namespace

Route ParseRoute(std::string_view path) {
  Route r;
  if (path == "/v2/" || path == "/v2") {
    r.kind = Route::kBase;
    return r;
  }
  if (!HasPrefix(path, "/v2/")) return r;
  std::string_view rest = path.substr(4);
  if (rest == "_catalog") {
    r.kind = Route::kCatalog;
    return r;
  }
  if (rest.size() > 10 && rest.substr(rest.size() - 10) == "/tags/list") {
    r.kind = Route::kTags;
    r.name = std::string(rest.substr(0, rest.size() - 10));
    return r;
  }
  // Most specific first: "blobs/uploads/<id>" before "blobs/<digest>".
  if (SplitRight(rest, "blobs/uploads", &r.name, &r.reference)) {
    r.kind = r.reference.empty() ? Route::kUploadStart : Route::kUpload;
  } else if (SplitRight(rest, "manifests", &r.name, &r.reference)) {
    r.kind = Route::kManifest;
  } else if (SplitRight(rest, "blobs", &r.name, &r.reference)) {
    r.kind = Route::kBlob;
  } else if (SplitRight(rest, "referrers", &r.name, &r.reference)) {
    r.kind = Route::kReferrers;
  } else {
    return Route{};
  }
  // An empty last component is only meaningful for the upload start.
  if (r.kind != Route::kUploadStart && r.reference.empty()) return Route{};
  if (r.name.empty()) return Route{};
  return r;
}

}  // namespace cove::registry
