// Identities: who may authenticate to which registry, and what each is allowed — as plain data
// that the control plane produces (today: coved's bootstrap configuration and tests).
//
//   - principals: users, service principals and managed identities (id, name, Argon2id password
//     hash; a managed identity has no password: it gets identity tokens from the instance
//     metadata service of the machine it is attached to, src/imds);
//   - role assignments: principal × role × registry (the ARM scope of the registry);
//   - per registry (RegistryAuth): the admin user (disabled by default; user name = registry
//     name; two passwords), repository-scoped tokens with their scope maps (two passwords, each
//     with an optional expiry; enabled/disabled), anonymous pull, and (for `coved registry`
//     only) the configured network settings, which the access Gate applies (access/access.h).
//
// IdentityData is what a writer fills in; IdentitySnapshot::Build validates it (unknown
// principals in assignments, bad scope-map actions, duplicate names) and indexes it. A snapshot
// is immutable; IdentityStore holds the current one and swaps it atomically, so a request keeps
// the snapshot it started with and readers never wait for writers.
//
// A registry with no RegistryAuth in the snapshot is open (no authentication), as cove was
// before auth existed: see auth/authenticator.h.
//
// Object ids and credential ids (what registry tokens are bound to, auth/token_service.h):
// principals are keyed by their object id; a registry and a repository-scoped token carry an
// object id of their own (`uid`, made when the resource was created, so a registry or token
// deleted and made again under the same name is another object); every password, client
// secret and token password is named by CredentialId(its hash), which changes whenever the
// credential is regenerated.
//
// Thread-safety: IdentitySnapshot is immutable; IdentityStore may be used from any thread.
#pragma once

#include <array>
#include <map>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/access.h"
#include "common/clock.h"
#include "common/error.h"

namespace cove::auth {

enum class PrincipalKind { kUser, kServicePrincipal, kManagedIdentity };
std::string_view PrincipalKindName(PrincipalKind kind);

struct TokenPassword {
  std::string hash;  // Argon2id
  std::optional<Clock::TimePoint> expiry;
  std::string id;  // CredentialId(hash); IdentitySnapshot::Build fills it in
};

struct Principal {
  std::string id;  // object id (a GUID); a service principal's appId is its id too
  PrincipalKind kind = PrincipalKind::kUser;
  std::string name;             // "alice@contoso.com", "ci-pusher", "aci-identity"
  std::string password_hash;    // Argon2id; empty for managed identities
  std::string password_id;      // CredentialId(password_hash); Build fills it in
  // Further passwords, each with an optional expiry: a service principal's client secrets (its
  // application may have several; the control plane fills these, daemon/identities.h).
  std::vector<TokenPassword> secrets;
  bool enabled = true;  // accountEnabled: a disabled principal authenticates in no way at all
};

// A short, stable name for one credential: a digest of its (salted) Argon2id hash, so it
// changes when the credential is regenerated and reveals nothing about the password.
std::string CredentialId(std::string_view hash);

// True when `password` matches the principal's password_hash or one of its secrets that has not
// expired at `now`. Managed identities and disabled principals never match.
bool PrincipalPasswordMatches(const Principal& principal, std::string_view password,
                              Clock::TimePoint now);
// The same check, answering which credential matched (its CredentialId), or nullopt.
std::optional<std::string> MatchPrincipalPassword(const Principal& principal,
                                                  std::string_view password, Clock::TimePoint now);
// True when `credential` (a CredentialId) names the principal's password or one of its
// secrets that has not expired at `now`.
bool PrincipalHasCredential(const Principal& principal, std::string_view credential,
                            Clock::TimePoint now);

struct RoleAssignment {
  std::string principal_id;
  Role role = Role::kAcrPull;
  std::string registry;  // scope: the registry's name
};

// A named set of scope-map actions ("repositories/<repo>/content/read", ...).
struct ScopeMap {
  std::string name;
  std::vector<std::string> actions;
};

// A repository-scoped token (`az acr token`): user name = token name.
struct RepositoryToken {
  std::string name;
  std::string uid;  // object id; "" in hand-made data: IdentitySnapshot::Build derives one
  bool enabled = true;
  std::array<std::optional<TokenPassword>, 2> passwords;  // password1, password2
  std::string scope_map;                                  // name of a ScopeMap of the same registry
};

// True when `credential` (a CredentialId) names one of the token's passwords that has not
// expired at `now`.
bool TokenHasCredential(const RepositoryToken& token, std::string_view credential,
                        Clock::TimePoint now);

struct AdminUser {
  bool enabled = false;
  std::array<std::string, 2> password_hashes;  // empty string: not set
  std::array<std::string, 2> password_ids;     // CredentialId of each; Build fills them in
};

// True when `credential` (a CredentialId) names one of the admin user's passwords.
bool AdminHasCredential(const AdminUser& admin, std::string_view credential);

// networkRuleBypassOptions.
enum class NetworkBypass { kAzureServices, kNone };

struct RegistryAuth {
  std::string registry;
  std::string uid;  // object id; "" in hand-made data: IdentitySnapshot::Build derives one
  AdminUser admin;
  bool anonymous_pull = false;
  std::vector<ScopeMap> scope_maps;
  std::vector<RepositoryToken> tokens;
  // The registry's network settings as the `auth:` section of coved's configuration gives
  // them. Authentication never reads them: the access Gate decides the network (access/access.h)
  // and `coved registry` builds its policy from these (daemon/registry_node.h); the control
  // plane's registries get theirs from the projection (daemon/projection.h), not from here.
  bool public_network_access = true;
  NetworkBypass bypass = NetworkBypass::kAzureServices;
};

struct IdentityData {
  std::vector<Principal> principals;
  std::vector<RoleAssignment> assignments;
  std::vector<RegistryAuth> registries;
};

class IdentitySnapshot {
 public:
  // kInvalidArgument naming the first problem found.
  static Result<std::shared_ptr<const IdentitySnapshot>> Build(IdentityData data);

  // nullptr when the registry has no authentication configured (it is open).
  const RegistryAuth* Registry(std::string_view name) const;
  const Principal* PrincipalById(std::string_view id) const;
  // By id or by name (service principals log in with their appId; tests use names).
  const Principal* FindPrincipal(std::string_view id_or_name) const;
  const RepositoryToken* Token(std::string_view registry, std::string_view name) const;

  // What `principal` may do on `registry` through its role assignments; nullopt when it has
  // no role assignment there at all.
  std::optional<Permissions> RolePermissions(std::string_view principal_id,
                                             std::string_view registry) const;
  // What a token may do (its scope map). REQUIRES: `token` belongs to this snapshot.
  Permissions TokenPermissions(std::string_view registry, const RepositoryToken& token) const;

  const IdentityData& data() const { return data_; }
  // Increases with every snapshot built in this process (caches key on it).
  uint64_t generation() const { return generation_; }

 private:
  IdentitySnapshot() = default;
  IdentityData data_;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, size_t> principal_by_id_, principal_by_name_, registry_index_;
  // registry → token name → index in that registry's tokens.
  std::unordered_map<std::string, std::unordered_map<std::string, size_t>> token_index_;
  // registry → scope map name → parsed entries.
  std::unordered_map<std::string, std::unordered_map<std::string, std::vector<ScopeMapEntry>>>
      scope_maps_;
};
using IdentitySnapshotPtr = std::shared_ptr<const IdentitySnapshot>;

// Holds the current snapshot. Starts with none (every registry open).
class IdentityStore {
 public:
  IdentitySnapshotPtr Get() const { return current_.load(); }
  void Set(IdentitySnapshotPtr snapshot) { current_.store(std::move(snapshot)); }

 private:
  std::atomic<IdentitySnapshotPtr> current_;
};

}  // namespace cove::auth
