// OpenID Connect discovery for cove's stand-in for Entra ID, so that MSAL (az's msal 1.21 in
// Python, @azure/identity's msal-node in JavaScript) accepts coved's listener as an authority,
// and what its token endpoint reads from the request.
//
// MSAL fetches the OpenID configuration of an authority before it asks for a token:
//   - an ADFS authority "https://<host>/adfs" (the login endpoint of the cloud metadata document,
//     arm/discovery.h): <authority>/.well-known/openid-configuration, with no instance
//     discovery against login.microsoftonline.com (MSAL trusts ADFS authorities as the
//     developer's own);
//   - a tenant authority "https://<host>/<tenant>" (@azure/identity with authorityHost and
//     disableInstanceDiscovery): <authority>/v2.0/.well-known/openid-configuration.
// Both documents name the same endpoints, Entra's v2 paths under the tenant id:
//   token_endpoint          <base>/<tenant>/oauth2/v2.0/token      (served, daemon/arm_node.h)
//   jwks_uri                <base>/<tenant>/discovery/v2.0/keys    (served: Jwks below)
//   authorization_endpoint  <base>/<tenant>/oauth2/v2.0/authorize  (named because MSAL requires
//                           it; not served: cove has no interactive sign-in)
// and the issuer of the authority asked for ("<base>/adfs", or "<base>/<tenant>/v2.0" as Entra
// writes it). cove's identity tokens keep their own `iss` (auth/token_service.h); only cove
// verifies them. MSAL reads token_endpoint only, and takes the tenant from its first segment.
//
// The signing keys are the identity key ring's ES256 keys, as JWKs (RFC 7517/7518: kty EC, crv
// P-256, x, y, kid, use sig, alg ES256), older keys included while they still verify tokens.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "auth/keys.h"
#include "common/error.h"

namespace cove::auth {

// The OpenID configuration: `base` is "https://<host>[:port]" (no trailing slash), `tenant` the
// tenant id, `issuer` the authority the document was asked for.
nlohmann::json OpenIdConfiguration(std::string_view base, std::string_view tenant,
                                   std::string_view issuer);

// {"keys": [...]}, one JWK per key of `keys`.
nlohmann::json Jwks(const KeySet& keys);

// The resource (token audience) an Entra token request asks for: from the v2 `scope` — space-
// separated; one "<resource>/.default" among OpenID's own scopes (openid, profile, email,
// offline_access), which are ignored — or the v1 `resource`; IdentityTokenOptions' default
// (Azure Resource Manager) when neither names one. kNotFound when the resource is not one cove
// issues tokens for (IdentityAudiences; Entra's invalid_resource, AADSTS500011);
// kInvalidArgument, saying why, for a scope that is not "<resource>/.default" or more than one
// resource (Entra's invalid_scope, AADSTS70011).
// `self` is the listener as the request named it ("https://<host>[:port]", no trailing slash):
// the cloud metadata document names it as microsoftGraphResourceId (arm/discovery.h), which az
// uses both as Graph's URL and as the resource it asks a Graph token for, so a resource equal
// to `self` (with or without the trailing slash) is Microsoft Graph: kGraphAudience.
Result<std::string> RequestedAudience(const std::optional<std::string>& scope,
                                      const std::optional<std::string>& resource,
                                      std::string_view self = {});

}  // namespace cove::auth
