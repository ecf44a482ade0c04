// Access: what a caller may do, in the Docker token protocol's words and in ACR's.
//
// A Docker scope is "repository:<name>:<actions>" or "registry:catalog:*" (docs.docker.com,
// "Token Scope Documentation"); actions are pull, push, delete, metadata_read, metadata_write
// (ACR's additions) or "*". An access token's `access` claim lists what was granted in the same
// shape: [{"type":"repository","name":"x","actions":["pull"]}].
//
// What an identity is allowed comes from two sources:
//   - Azure roles on the registry (AcrPull, AcrPush, AcrDelete, Owner, Contributor, Reader), as
//     ACR maps them to data actions (RoleActions);
//   - a repository-scoped token's scope map: actions "repositories/<repo>/content/read" (pull),
//     ".../content/write" (push), ".../content/delete" (delete), ".../metadata/read"
//     (metadata_read), ".../metadata/write" (metadata_write), where <repo> is a repository
//     name, a prefix wildcard "samples/*" (every repository below samples/) or "*" (every
//     repository); entries are additive.
// The catalog (registry:catalog:*) is granted with registry-wide reading: roles that can pull,
// the admin user, and tokens with metadata/read on "*".
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cove::auth {

// Repository actions as bits.
enum Action : uint32_t {
  kPull = 1u << 0,           // content/read
  kPush = 1u << 1,           // content/write
  kDelete = 1u << 2,         // content/delete
  kMetadataRead = 1u << 3,   // metadata/read
  kMetadataWrite = 1u << 4,  // metadata/write
};
using ActionSet = uint32_t;
inline constexpr ActionSet kAllActions = kPull | kPush | kDelete | kMetadataRead | kMetadataWrite;

// "pull" → kPull, ..., "*" → kAllActions; nullopt for an unknown action.
std::optional<ActionSet> ParseAction(std::string_view action);
// Docker action names for the bits set, in a fixed order ("pull", "push", "delete",
// "metadata_read", "metadata_write").
std::vector<std::string> ActionNames(ActionSet actions);

// One resource and the actions asked for or granted on it.
struct Scope {
  std::string type;  // "repository" or "registry"
  std::string name;  // repository name, or "catalog"
  ActionSet actions = 0;
  bool catalog() const { return type == "registry" && name == "catalog"; }
};

// Parses one scope parameter. A parameter may hold several space-separated scopes (the token
// spec allows it), so this returns a list. Unknown resource types and actions are dropped, as
// Docker's token servers do (they grant nothing for them); kInvalidArgument only for text that
// is not a scope at all (missing fields). "registry:catalog:*" gives a Scope with catalog().
Result<std::vector<Scope>> ParseScopes(std::string_view text);
// "repository:x:pull,push" (the form used in WWW-Authenticate challenges).
std::string FormatScope(const Scope& scope);

// ACR's built-in roles that carry registry data actions.
enum class Role { kAcrPull, kAcrPush, kAcrDelete, kOwner, kContributor, kReader };
std::optional<Role> ParseRole(std::string_view name);  // "AcrPull", ... (case-insensitive)
std::string_view RoleName(Role role);

// What a role allows on every repository of the registry it is assigned on, and whether it
// may list the catalog:
//   AcrPull, Reader   pull, metadata_read; catalog
//   AcrPush           pull, push, metadata_read; catalog
//   AcrDelete         delete, metadata_read
//   Owner, Contributor  everything; catalog
struct Grant {
  ActionSet actions = 0;
  bool catalog = false;
};
Grant RoleGrant(Role role);

// One parsed scope-map entry: "repositories/samples/*/content/read".
struct ScopeMapEntry {
  std::string repository;  // "samples/*", "*" or an exact name
  ActionSet actions = 0;
  bool Matches(std::string_view repo) const;
};
// Parses a scope-map action. kInvalidArgument naming what is wrong.
Result<ScopeMapEntry> ParseScopeMapAction(std::string_view action);

// What a caller may do on one repository (and on the catalog) — the answer an identity gives.
class Permissions {
 public:
  // Everything on every repository (admin user, Owner).
  static Permissions All();
  // The same actions on every repository.
  static Permissions Uniform(Grant grant);
  // From a scope map (additive entries).
  static Permissions FromScopeMap(std::vector<ScopeMapEntry> entries);
  // Union.
  void Add(const Permissions& other);

  ActionSet On(std::string_view repository) const;
  bool catalog() const { return catalog_; }
  // requested ∩ allowed, dropping scopes with nothing left.
  std::vector<Scope> Intersect(const std::vector<Scope>& requested) const;

 private:
  ActionSet everywhere_ = 0;
  bool catalog_ = false;
  std::vector<ScopeMapEntry> entries_;
};

// The `access` claim: [{"type":..,"name":..,"actions":[..]}] as JSON text, and back.
std::string AccessClaimJson(const std::vector<Scope>& granted);
// Parses a JSON value (already decoded) into scopes; entries with unknown actions keep the
// known ones. kInvalidArgument when the shape is wrong.
Result<std::vector<Scope>> ParseAccessClaim(std::string_view json_text);

// True if `granted` covers `needed` (same resource, every needed action present).
bool Covers(const std::vector<Scope>& granted, const Scope& needed);

}  // namespace cove::auth
