// RBAC for the control plane: which Azure action an ARM (or Graph) request is, at which scope,
// and whether a principal's role assignments grant it — Azure RBAC's evaluation over the
// built-in role definitions (arm/identity_support.h). Pure functions over a Snapshot; the
// transport (daemon/arm_node.h) authenticates the caller and answers 401/403.
//
// Request → operation (method GET/HEAD: read, PUT/PATCH: write, DELETE: delete, POST: action),
// read the same way the Engine routes the path (arm/resource_path.h), so that the scope checked
// is the resource the engine then touches:
//   /subscriptions                         GET: any enabled principal, every subscription
//                                          (Azure lists only those the caller has a role in;
//                                          cove's are not secret, and `cove login` keeps working
//                                          for an account not yet given a role)
//   /tenants                               GET: any enabled principal (az login -u lists its
//                                          tenants before its subscriptions)
//   /subscriptions/{s}                     Microsoft.Resources/subscriptions/{verb}
//   /subscriptions/{s}/providers[/{ns}]    Microsoft.Resources/subscriptions/providers/read
//   .../providers/{ns}/register|unregister {ns}/register/action, {ns}/unregister/action
//   .../providers/{ns}/checkNameAvailability  {ns}/checkNameAvailability/read
//   .../providers/{ns}/{type} (GET)        {ns}/{type}/read at the subscription
//   /subscriptions/{s}/resourcegroups[/{rg}]  Microsoft.Resources/subscriptions/resourceGroups/{verb}
//   {rg}/providers/{ns}/{t1}/{n1}[/{t2}/{n2}]  {ns}/{t1}[/{t2}]/{verb} at the resource's id
//   {resource}/{action} (POST)             {ns}/{types}/{action}/action at the resource, e.g.
//                                          Microsoft.ContainerRegistry/registries/listCredentials/action
//   a collection (GET)                     {ns}/{types}/read at the parent; without it, the
//                                          items the caller may read (ArmOperation::list)
//   {scope}/providers/Microsoft.Authorization/roleAssignments[/{guid}]
//                                          Microsoft.Authorization/roleAssignments/{verb} at the
//                                          assignment's id (or {scope} for a list); "/" (the
//                                          tenant root) when {scope} is empty
//   /v1.0/... (Graph)                      GET: any enabled principal (Entra's default user
//                                          permissions let members read the directory); writes
//                                          are Entra's microsoft.directory/<type>/create|update|
//                                          delete (applications' passwords:
//                                          microsoft.directory/applications/credentials/update)
//                                          at the root scope "/": only a role granting them at
//                                          "/" (Owner there, e.g. the bootstrap principal) can
//                                          write the directory — cove has no Entra directory roles
//   anything else                          "cove/unknownRequest/action" at "/" (only Owner at
//                                          the root matches it; others get 403, never a path the
//                                          engine might read differently)
//
// Evaluation: the principal must exist in the snapshot and be enabled (accountEnabled); some
// assignment of it whose scope is the operation's scope or a parent of it (compared without
// case on segment boundaries; "/" is every scope's parent) must name a role whose actions match
// the action and whose notActions do not ('*' matches any run of characters, case-insensitive).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "arm/identity_support.h"
#include "arm/snapshot.h"

namespace cove::arm {

struct ArmOperation {
  std::string action;  // "Microsoft.ContainerRegistry/registries/write"
  std::string scope;   // "/subscriptions/.../registries/r" (decoded), "/" for the tenant root
  bool any_principal = false;  // only authentication needed (GET /subscriptions, Graph reads)
  bool graph = false;          // a /v1.0 request (its errors are Graph's)
  // A GET of a collection below a subscription (resource groups, a type across the
  // subscription or a group, child resources). As ARM does, a caller without the read at the
  // collection's scope is not refused: it gets the items it may read (FilterList).
  bool list = false;
};

// The operation `method` on `path` (no query) is.
ArmOperation OperationFor(std::string_view method, std::string_view path);

// Azure's action wildcard: '*' matches any run of characters; case-insensitive.
bool ActionMatches(std::string_view pattern, std::string_view action);
// True when an action of `role` matches `action` and none of its notActions does.
bool RoleGrants(const BuiltInRole& role, std::string_view action);
// True when `outer` is `inner` or one of its parents ("/" is everyone's).
bool ScopeCovers(std::string_view outer, std::string_view inner);

enum class Verdict {
  kAllowed,
  kUnknownPrincipal,  // no such principal (deleted since its token was issued)
  kDisabled,          // accountEnabled false
  kDenied,            // no assignment grants the action at the scope
};

struct AccessDecision {
  Verdict verdict = Verdict::kDenied;
  const PrincipalView* principal = nullptr;  // set unless kUnknownPrincipal; points into the
                                             // snapshot
};

AccessDecision Authorize(const Snapshot& snapshot, std::string_view principal_id,
                         const ArmOperation& operation);

// Keeps in `body`'s "value" array the items (resources with an "id") that `principal_id` may
// read (OperationFor("GET", id)).
void FilterList(const Snapshot& snapshot, std::string_view principal_id, Json& body);

// ARM's 403 message: "The client '<client>' with object id '<oid>' does not have authorization
// to perform action '<action>' over scope '<scope>' or the scope is invalid. If access was
// recently granted, please refresh your credentials." `client` is a user's UPN, a service
// principal's appId, a managed identity's clientId.
std::string AuthorizationFailedMessage(const PrincipalView& principal,
                                       const ArmOperation& operation);

}  // namespace cove::arm
