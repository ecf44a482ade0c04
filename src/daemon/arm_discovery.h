// The discovery documents on coved's ARM listener (daemon/arm_node.h), which Azure's own clients
// read before they sign in, so they are served without credentials (they describe public
// endpoints only):
//   GET /metadata/endpoints?api-version=...            the cloud metadata document
//                                                      (arm/discovery.h)
//   GET /adfs/.well-known/openid-configuration         OpenID configuration of the ADFS-style
//                                                      authority <base>/adfs (auth/oidc.h)
//   GET /{tenant}/v2.0/.well-known/openid-configuration   the same for the tenant authority
//   GET /{tenant}/.well-known/openid-configuration        (Entra's v2 and v1 paths)
//   GET /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys, /adfs/discovery/keys
//                                                      the identity token keys (JWKS)
// {tenant} is the tenant id, "organizations" or "common"; another is 400 with Entra's AADSTS90002
// body. <base> is the listener as the request named it: <scheme>://<Host header> (coved checks
// the Host before this). The path may start with several slashes: msrestazure appends
// "/metadata/endpoints" to the resource manager URL, which az writes with a trailing slash.
// Methods other than GET and HEAD are 405 with Allow: GET, HEAD.
//
// Thread-safety: a pure function of its arguments (the key ring is read through a snapshot).
#pragma once

#include <optional>
#include <string>

#include "auth/token_service.h"
#include "http/message.h"

namespace cove::daemon {

struct DiscoveryContext {
  std::string scheme;      // "https" (or "http" under arm_insecure_http)
  std::string tenant;      // the tenant id
  std::string acr_suffix;  // the registries' login-server suffix, "azurecr.io"
  const auth::TokenService* tokens = nullptr;  // for JWKS; null: the key paths are not served
};

// Entra's error form: {"error": code, "error_description": "AADSTS...: ..."} (JSON, any bytes of
// the description that are not UTF-8 replaced).
http::Response EntraError(int status, std::string code, std::string description);

// The answer for a discovery path; nullopt for any other path.
std::optional<http::Response> AnswerDiscovery(const http::Request& request,
                                              const DiscoveryContext& context);

}  // namespace cove::daemon
