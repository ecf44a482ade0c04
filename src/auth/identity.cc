#include "auth/identity.h"

#include "auth/password.h"
#include "common/digest.h"

namespace cove::auth {
namespace {

std::atomic<uint64_t> next_generation{1};

// True when `credential` names the credential stored as `hash` (its precomputed CredentialId
// `id`, or computed when the data did not come through IdentitySnapshot::Build).
bool Names(const std::string& hash, const std::string& id, std::string_view credential) {
  if (hash.empty()) return false;
  return id.empty() ? CredentialId(hash) == credential : id == credential;
}

std::string IdOf(const std::string& hash, const std::string& id) {
  return id.empty() ? CredentialId(hash) : id;
}

}  // namespace

std::string_view PrincipalKindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kUser:
      return "user";
    case PrincipalKind::kServicePrincipal:
      return "servicePrincipal";
    case PrincipalKind::kManagedIdentity:
      return "managedIdentity";
  }
  return "?";
}

std::string CredentialId(std::string_view hash) {
  return Digest::Of(std::string("cove credential\0", 16) + std::string(hash)).hex().substr(0, 32);
}

bool PrincipalPasswordMatches(const Principal& principal, std::string_view password,
                              Clock::TimePoint now) {
  return MatchPrincipalPassword(principal, password, now).has_value();
}

std::optional<std::string> MatchPrincipalPassword(const Principal& principal,
                                                  std::string_view password, Clock::TimePoint now) {
  if (principal.kind == PrincipalKind::kManagedIdentity || !principal.enabled) return std::nullopt;
  if (!principal.password_hash.empty() && VerifyPassword(password, principal.password_hash)) {
    return IdOf(principal.password_hash, principal.password_id);
  }
  for (const auto& s : principal.secrets) {
    if (s.expiry && now >= *s.expiry) continue;
    if (VerifyPassword(password, s.hash)) return IdOf(s.hash, s.id);
  }
  return std::nullopt;
}

bool PrincipalHasCredential(const Principal& principal, std::string_view credential,
                            Clock::TimePoint now) {
  if (principal.kind == PrincipalKind::kManagedIdentity || !principal.enabled) return false;
  if (Names(principal.password_hash, principal.password_id, credential)) return true;
  for (const auto& s : principal.secrets) {
    if (s.expiry && now >= *s.expiry) continue;
    if (Names(s.hash, s.id, credential)) return true;
  }
  return false;
}

bool TokenHasCredential(const RepositoryToken& token, std::string_view credential,
                        Clock::TimePoint now) {
  for (const auto& p : token.passwords) {
    if (!p || (p->expiry && now >= *p->expiry)) continue;
    if (Names(p->hash, p->id, credential)) return true;
  }
  return false;
}

bool AdminHasCredential(const AdminUser& admin, std::string_view credential) {
  for (size_t i = 0; i < admin.password_hashes.size(); ++i) {
    if (Names(admin.password_hashes[i], admin.password_ids[i], credential)) return true;
  }
  return false;
}

Result<std::shared_ptr<const IdentitySnapshot>> IdentitySnapshot::Build(IdentityData data) {
  std::shared_ptr<IdentitySnapshot> s(new IdentitySnapshot());
  for (size_t i = 0; i < data.principals.size(); ++i) {
    const auto& p = data.principals[i];
    if (p.id.empty()) return Fail(Code::kInvalidArgument, "a principal needs an id");
    if (!s->principal_by_id_.emplace(p.id, i).second) {
      return Fail(Code::kInvalidArgument, "principal id '" + p.id + "' is used twice");
    }
    if (!p.name.empty()) s->principal_by_name_.emplace(p.name, i);
    if (p.kind == PrincipalKind::kManagedIdentity &&
        (!p.password_hash.empty() || !p.secrets.empty())) {
      return Fail(Code::kInvalidArgument, "managed identity '" + p.id + "' cannot have a password");
    }
  }
  for (const auto& a : data.assignments) {
    if (!s->principal_by_id_.count(a.principal_id)) {
      return Fail(Code::kInvalidArgument,
                  "role assignment names unknown principal '" + a.principal_id + "'");
    }
  }
  // Credential ids, computed once here rather than at every request that checks a binding.
  auto fill = [](const std::string& hash, std::string& id) {
    id = hash.empty() ? "" : CredentialId(hash);
  };
  for (auto& p : data.principals) {
    fill(p.password_hash, p.password_id);
    for (auto& secret : p.secrets) fill(secret.hash, secret.id);
  }
  for (auto& r : data.registries) {  // hand-made data (bootstrap, tests): object ids from names
    if (r.uid.empty()) r.uid = "registry:" + r.registry;
    for (size_t i = 0; i < r.admin.password_hashes.size(); ++i) {
      fill(r.admin.password_hashes[i], r.admin.password_ids[i]);
    }
    for (auto& t : r.tokens) {
      if (t.uid.empty()) t.uid = "token:" + r.registry + "/" + t.name;
      for (auto& p : t.passwords) {
        if (p) fill(p->hash, p->id);
      }
    }
  }
  for (size_t i = 0; i < data.registries.size(); ++i) {
    const auto& r = data.registries[i];
    if (!s->registry_index_.emplace(r.registry, i).second) {
      return Fail(Code::kInvalidArgument, "registry '" + r.registry + "' is configured twice");
    }
    auto& maps = s->scope_maps_[r.registry];
    for (const auto& m : r.scope_maps) {
      std::vector<ScopeMapEntry> entries;
      for (const auto& action : m.actions) {
        auto e = ParseScopeMapAction(action);
        if (!e) {
          return Fail(Code::kInvalidArgument,
                      "scope map '" + m.name + "' of " + r.registry + ": " + e.error().message);
        }
        entries.push_back(std::move(*e));
      }
      if (!maps.emplace(m.name, std::move(entries)).second) {
        return Fail(Code::kInvalidArgument, "scope map '" + m.name + "' is defined twice");
      }
    }
    auto& tokens = s->token_index_[r.registry];
    for (size_t t = 0; t < r.tokens.size(); ++t) {
      const auto& token = r.tokens[t];
      if (token.name.empty() || token.name == r.registry) {
        return Fail(Code::kInvalidArgument,
                    "a token of " + r.registry + " needs a name other than the registry's");
      }
      if (!maps.count(token.scope_map)) {
        return Fail(Code::kInvalidArgument,
                    "token '" + token.name + "' names unknown scope map '" + token.scope_map + "'");
      }
      if (!tokens.emplace(token.name, t).second) {
        return Fail(Code::kInvalidArgument, "token '" + token.name + "' is defined twice");
      }
    }
  }
  s->data_ = std::move(data);
  s->generation_ = next_generation.fetch_add(1);
  return std::shared_ptr<const IdentitySnapshot>(std::move(s));
}

const RegistryAuth* IdentitySnapshot::Registry(std::string_view name) const {
  auto it = registry_index_.find(std::string(name));
  return it == registry_index_.end() ? nullptr : &data_.registries[it->second];
}

const Principal* IdentitySnapshot::PrincipalById(std::string_view id) const {
  auto it = principal_by_id_.find(std::string(id));
  return it == principal_by_id_.end() ? nullptr : &data_.principals[it->second];
}

const Principal* IdentitySnapshot::FindPrincipal(std::string_view id_or_name) const {
  if (auto* p = PrincipalById(id_or_name)) return p;
  auto it = principal_by_name_.find(std::string(id_or_name));
  return it == principal_by_name_.end() ? nullptr : &data_.principals[it->second];
}

const RepositoryToken* IdentitySnapshot::Token(std::string_view registry,
                                               std::string_view name) const {
  auto r = token_index_.find(std::string(registry));
  if (r == token_index_.end()) return nullptr;
  auto t = r->second.find(std::string(name));
  if (t == r->second.end()) return nullptr;
  return &Registry(registry)->tokens[t->second];
}

std::optional<Permissions> IdentitySnapshot::RolePermissions(std::string_view principal_id,
                                                             std::string_view registry) const {
  std::optional<Permissions> out;
  for (const auto& a : data_.assignments) {
    if (a.principal_id != principal_id || a.registry != registry) continue;
    auto p = Permissions::Uniform(RoleGrant(a.role));
    if (out) {
      out->Add(p);
    } else {
      out = p;
    }
  }
  return out;
}

Permissions IdentitySnapshot::TokenPermissions(std::string_view registry,
                                               const RepositoryToken& token) const {
  auto r = scope_maps_.find(std::string(registry));
  if (r == scope_maps_.end()) return {};
  auto m = r->second.find(token.scope_map);
  if (m == r->second.end()) return {};
  return Permissions::FromScopeMap(m->second);
}

}  // namespace cove::auth
