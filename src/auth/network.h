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
// Who decides what: the network half is the access Gate's (access/access.h), which decides once
// per request and attaches its Verdict to it: public access on, an allowed IP rule or an
// Approved private endpoint → kAllow; public access off with bypass AzureServices from a trusted
// service machine's address → kAllowOwnIdentityOnly naming that machine; everything else is
// DENIED by the Gate before the registry sees it. This file is the identity half: for a request
// whose verdict says kAllowOwnIdentityOnly, whether the authenticated caller is that machine's
// own managed identity. Enforcement: Authenticator::Check and the token endpoints
// (auth/authenticator.h) call DecideNetworkAccess after authenticating the caller, and
// MayChallenge before answering 401 to a caller who has not.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "access/access.h"
#include "auth/identity.h"

namespace cove::auth {

// The trusted service a resource belongs to ("Microsoft.ContainerInstance" for an id
// .../providers/Microsoft.ContainerInstance/containerGroups/<name>), or "" when the id's
// resource type is not one of a trusted service's (ids compare without case, as ARM's).
std::string_view TrustedServiceOf(std::string_view resource_id);

enum class NetworkDecision {
  kAllowed,                // the verdict allows the request (or there is none)
  kAllowedTrustedService,  // kAllowOwnIdentityOnly, and the caller is the machine's identity
  kDenied,
};

// `verdict` is the one the Gate attached to the request (http::Request::verdict), or null when
// no Gate stands in front (coved's control-plane listener: not a network path to the registry);
// `caller` the authenticated principal, or null (anonymous, admin user, token: none of these
// can be a trusted service); `caller_resource` the machine its token was issued in
// (xms_az_rid), or "".
NetworkDecision DecideNetworkAccess(const access::Verdict* verdict, const Principal* caller,
                                    std::string_view caller_resource = {});

// Whether a caller who has not (successfully) authenticated may be asked to (401): every
// verdict but a denial (from a trusted service's machine the service's client pings /v2/
// before it presents its token). Otherwise the answer is 403 DENIED before anything about
// credentials.
bool MayChallenge(const access::Verdict* verdict);

}  // namespace cove::auth
