// Directory: cove's Microsoft Graph-shaped directory of the tenant
// (c0ffee00-0000-4000-8000-0000000000ff) — users, applications and service principals — served
// by the control plane beside ARM (ControlPlane::Handle routes /v1.0/... here). Internal to
// cove_arm.
//
//   POST   /v1.0/users        {accountEnabled?, displayName, userPrincipalName, mailNickname?,
//                              passwordProfile:{password, forceChangePasswordNextSignIn?}} → 201
//   GET    /v1.0/users        {"value":[...]};  GET|DELETE /v1.0/users/{id or UPN}
//   PATCH  /v1.0/users/{id or UPN}, /v1.0/servicePrincipals/{id or appId} {accountEnabled}
//          → 204 (nothing else may change; a disabled principal authenticates in no way)
//   POST   /v1.0/applications {displayName} → 201 {id, appId, displayName, passwordCredentials}
//   POST   /v1.0/applications/{id}/addPassword {passwordCredential:{displayName?, endDateTime?}}
//          → 200 {keyId, displayName, secretText (only here), hint, startDateTime, endDateTime}
//          (endDateTime defaults to a year from now; past ones are refused)
//   POST   /v1.0/applications/{id}/removePassword {keyId} → 204
//   PATCH  /v1.0/applications/{id or appId} {displayName} → 204 (az ad sp create-for-rbac -n
//          of an existing name; nothing else may change)
//   GET    /v1.0/applications; GET|DELETE /v1.0/applications/{id or appId} (deleting an
//          application deletes its service principal and that one's role assignments)
//   POST   /v1.0/servicePrincipals {appId} → 201 (one per application)
//   GET    /v1.0/servicePrincipals; GET|DELETE /v1.0/servicePrincipals/{id or appId}
// The three listings take Graph's $filter in the forms az sends, joined by "and":
// `p eq 'v'`, `startswith(p,'v')` and `p/any(x:x eq 'v')` (a string property, or each string of
// an array one), compared without case as Graph does; another form is 400
// Request_UnsupportedQuery (a filter is never silently ignored: `az ad sp create-for-rbac -n`
// takes the first match as the principal to reuse).
// No api-version. Errors are Graph's: {"error":{"code":"Request_BadRequest" |
// "Request_ResourceNotFound" | "Request_MultipleObjectsWithSameKeyValue" | "BadRequest",
// "message", "innerError":{...}}}. Deleting a user or service principal deletes its role
// assignments (Azure leaves "Unknown" orphans; cove does better).
//
// Stored documents: "#directory/users/<id>", "#directory/applications/<id>",
// "#directory/serviceprincipals/<id>" (ids lowercased). Passwords and client secrets are kept
// only as Argon2id hashes, under "_cove" (users: passwordHash; applications: secrets{keyId:
// {hash, expiry (Unix seconds)}}), and never rendered.
//
// Thread-safety: like Engine, one request on one thread over one Txn.
#pragma once

#include <string_view>

#include "arm/engine.h"

namespace cove::arm {

// True for /v1.0 and paths below it (any casing).
bool IsGraphPath(std::string_view path);

class Directory {
 public:
  Directory(Txn& txn, const ControlPlaneOptions& options) : txn_(txn), options_(options) {}
  Result<ArmResponse> Dispatch(const ArmRequest& r);

 private:
  Result<ArmResponse> Users(const ArmRequest& r, const std::vector<std::string>& seg);
  Result<ArmResponse> Applications(const ArmRequest& r, const std::vector<std::string>& seg);
  Result<ArmResponse> ServicePrincipals(const ArmRequest& r, const std::vector<std::string>& seg);
  // GET of a collection ("users", "applications", "serviceprincipals"), each object rendered
  // with `render` and kept when it matches r.filter; @odata.context `context`.
  Result<ArmResponse> List(const ArmRequest& r, const std::string& collection,
                           Json (*render)(const Json&), const char* context);
  // Key of the object named by id (or by its UPN / appId, `alternate`); "" when absent.
  // GET or DELETE of the principal stored at `key` ("" when absent; `what` names it in the 404);
  // GET renders with `render` under the @odata.context `context`; DELETE also deletes the
  // principal's role assignments.
  Result<ArmResponse> PrincipalObject(const ArmRequest& r, const std::string& key,
                                      const std::string& what, Json (*render)(const Json&),
                                      const char* context);
  std::string Lookup(const std::string& collection, const std::string& id,
                     const char* alternate) const;

  Txn& txn_;
  const ControlPlaneOptions& options_;
};

}  // namespace cove::arm
