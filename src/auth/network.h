// Trusted services: the one network decision that depends on who the caller is.
//
// ACR: when a registry's public network access is disabled, requests that do not come through
// a private endpoint are refused — except, with networkRuleBypassOptions = AzureServices, those
// authenticated as a managed identity calling from a trusted Azure service (Azure Container
// Instances, Machine Learning, ACR Tasks, Defender for Cloud, Purview...). With bypass None
// they are DENIED like everyone else.
//
// What makes a call "from a trusted service" is two facts that must agree: the connection comes
// from a trusted service's machine (its source address is a container group's: the network
// recognizes Azure's services), and the caller authenticated as a managed identity whose token
// was issued in that machine (xms_az_rid, auth/token_service.h) — ACI's resource type. The
// identity itself is not trusted: the same user-assigned identity attached to a VM is DENIED,
// and so is the group's token replayed from anywhere else. From a trusted service's address a
// caller without credentials is challenged (401), not DENIED: the service's Docker client pings
// /v2/ before it presents its token.
//
// This is the decision function; the network facts come from RegistryAuth today and from the
// access module (issue 4, src/access: IP rules, public/private listeners) later — that module
// decides everything that does not depend on identity and passes `via_private_endpoint` /
// `public_network_access` here. Enforcement: Authenticator::Check and the token endpoints
// (auth/authenticator.h) call DecideNetworkAccess after authenticating the caller.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "auth/identity.h"

namespace cove::auth {

// The trusted service a resource belongs to ("Microsoft.ContainerInstance" for an id
// .../providers/Microsoft.ContainerInstance/containerGroups/<name>), or "" when the id's
// resource type is not one of a trusted service's (ids compare without case, as ARM's).
std::string_view TrustedServiceOf(std::string_view resource_id);

struct NetworkFacts {
  bool public_network_access = true;
  NetworkBypass bypass = NetworkBypass::kAzureServices;
  bool via_private_endpoint = false;  // the connection came through a private endpoint
  // The trusted service machine the connection comes from (by its source address), or "".
  std::string source_service_machine;
};

enum class NetworkDecision {
  kAllowed,                // public access on, or through a private endpoint
  kAllowedTrustedService,  // public access off, but a trusted service's identity with bypass
  kDenied,
};

// `caller` is the authenticated principal, or null (anonymous, admin user, token: none of
// these can be a trusted service); `caller_resource` the machine its token was issued in
// (xms_az_rid), or "".
NetworkDecision DecideNetworkAccess(const NetworkFacts& facts, const Principal* caller,
                                    std::string_view caller_resource = {});

// Whether a caller who has not (successfully) authenticated may be asked to: the network path
// is allowed, or it comes from a trusted service's machine that bypass lets in. Otherwise the
// answer is 403 DENIED before anything about credentials.
bool MayChallenge(const NetworkFacts& facts);

}  // namespace cove::auth
