// Identities from the control plane: the translation of an arm::Snapshot into the registry's
// auth::IdentityData (auth/identity.h), which coved builds an auth::IdentitySnapshot from and
// sets on the registry node's IdentityStore after every committed change.
//
//   - object ids: a registry's and a token's uid (made at creation), a principal's object id,
//     and whether a principal is enabled (accountEnabled): registry tokens are bound to them
//     (auth/identity.h);
//   - every registry of the snapshot gets a RegistryAuth, so it requires authentication (as ACR
//     does): the admin user (adminUserEnabled + the hashes of "password" and "password2"),
//     anonymous pull, its scope maps (the three SystemDefined ones included) and its tokens
//     (status, scope map, password hashes with expiries). Its network facts (public network
//     access, networkRuleBypassOptions, trusted service machines) are not identities: they are
//     the access Gate's policy (daemon/projection.h, BuildPolicy), read once per request;
//   - principals: directory users (name = UPN, their password hash; a disabled user keeps no
//     password), service principals (name = appId, id = object id; their application's client
//     secrets with expiries, in Principal::secrets) and managed identities, user- and
//     system-assigned (id = principalId, name = resource name, no password);
//   - role assignments: Owner, Contributor, Reader, AcrPull, AcrPush and AcrDelete (other roles
//     carry no registry data actions and are ignored), expanded to every registry at or below
//     the assignment's scope (subscription, resource group or registry id; compared without
//     case, on segment boundaries).
//
// Thread-safety: a pure function.
#pragma once

#include "arm/snapshot.h"
#include "auth/identity.h"
#include "common/error.h"

namespace cove::daemon {

// Never fails on a snapshot the control plane committed; kInvalidArgument only for hand-made
// snapshots that break its invariants (e.g. a token naming an unknown scope map).
Result<auth::IdentityData> BuildIdentityData(const arm::Snapshot& snapshot);

}  // namespace cove::daemon
