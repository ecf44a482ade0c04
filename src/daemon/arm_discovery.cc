#include "daemon/arm_discovery.h"

#include <string_view>
#include <vector>

#include "arm/control_plane.h"
#include "arm/discovery.h"
#include "arm/errors.h"
#include "auth/oidc.h"

namespace cove::daemon {
namespace {

http::Response Json(int status, const nlohmann::json& body) {
  return http::Response::Text(status, "application/json; charset=utf-8",
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// The segments of `path` ("/a//b/" → a, b): empty ones (repeated slashes) are dropped.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool KnownTenant(std::string_view tenant, const DiscoveryContext& context) {
  return tenant == context.tenant || tenant == "organizations" || tenant == "common";
}

}  // namespace

http::Response EntraError(int status, std::string code, std::string description) {
  return Json(status, {{"error", std::move(code)}, {"error_description", std::move(description)}});
}

std::optional<http::Response> AnswerDiscovery(const http::Request& request,
                                              const DiscoveryContext& context) {
  auto seg = Segments(request.path());
  // What the path names: 'm' metadata, 'o' an OpenID configuration, 'k' the keys; the
  // authority's first segment ("adfs" or a tenant) and the issuer's suffix.
  char what = 0;
  std::string_view authority;
  std::string issuer_suffix;
  if (seg.size() == 2 && seg[0] == "metadata" && seg[1] == "endpoints") {
    what = 'm';
  } else if (seg.size() >= 3 && seg[seg.size() - 2] == ".well-known" &&
             seg.back() == "openid-configuration") {
    authority = seg[0];
    if (seg.size() == 3) {
      what = 'o';
    } else if (seg.size() == 4 && seg[1] == "v2.0" && authority != "adfs") {
      what = 'o';
      issuer_suffix = "/v2.0";
    }
  } else if ((seg.size() == 3 && seg[1] == "discovery" && seg[2] == "keys") ||
             (seg.size() == 4 && seg[1] == "discovery" && seg[2] == "v2.0" &&
              seg[3] == "keys" && seg[0] != "adfs")) {
    if (context.tokens != nullptr) what = 'k';
    authority = seg[0];
  }
  if (what == 0) return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") {
    auto r = what == 'm' ? Json(405, arm::ErrorBody("MethodNotAllowed",
                                                     "The metadata document supports GET only."))
                         : EntraError(405, "invalid_request",
                                      "AADSTS900561: The endpoint only accepts GET requests.");
    r.headers.Set("Allow", "GET, HEAD");
    return r;
  }
  std::string base = context.scheme + "://" + std::string(request.headers.Get("Host").value_or(""));
  if (what == 'm') {
    arm::CloudEndpoints endpoints;
    endpoints.resource_manager = base + "/";
    endpoints.login_endpoint = base + "/adfs";
    endpoints.acr_suffix = context.acr_suffix;
    auto document = arm::CloudMetadata(request.QueryParam("api-version"), endpoints);
    if (!document) {
      return Json(arm::ArmStatusOf(document.error()),
                  arm::ErrorBody(arm::ArmCodeOf(document.error()), document.error().message));
    }
    return Json(200, *document);
  }
  if (authority != "adfs" && !KnownTenant(authority, context)) {
    return EntraError(400, "invalid_tenant",
                      "AADSTS90002: Tenant '" + std::string(authority) +
                          "' not found. Check to make sure you have the correct tenant ID and "
                          "are signing into the correct cloud.");
  }
  if (what == 'k') return Json(200, auth::Jwks(*context.tokens->IdentityKeys()));
  std::string issuer = base + "/" + std::string(authority) + issuer_suffix;
  return Json(200, auth::OpenIdConfiguration(base, context.tenant, issuer));
}

}  // namespace cove::daemon
