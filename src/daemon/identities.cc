#include "daemon/identities.h"

#include <set>

#include "arm/resource_path.h"

namespace cove::daemon {
namespace {

// True when `inner` (an id) is `outer` or below it, without case, on a segment boundary.
bool AtOrBelow(const std::string& inner, const std::string& outer) {
  if (outer.empty() || inner.size() < outer.size()) return false;
  if (!arm::EqualsIgnoreCase(std::string_view(inner).substr(0, outer.size()), outer)) return false;
  return inner.size() == outer.size() || inner[outer.size()] == '/' || outer.back() == '/';
}

auth::TokenPassword Password(const arm::SecretView& s) { return {s.hash, s.expiry}; }

}  // namespace

Result<auth::IdentityData> BuildIdentityData(const arm::Snapshot& snapshot) {
  auth::IdentityData data;
  std::set<std::string> principal_ids;
  for (const auto& p : snapshot.principals) {
    if (p.id.empty() || !principal_ids.insert(p.id).second) {
      return Fail(Code::kInvalidArgument,
                  "principal '" + p.name + "' has no id or a duplicate one");
    }
    auth::Principal out;
    out.id = p.id;
    out.enabled = p.enabled;
    switch (p.kind) {
      case arm::PrincipalKind::kUser:
        out.kind = auth::PrincipalKind::kUser;
        out.name = p.name;
        if (p.enabled && !p.secrets.empty()) out.password_hash = p.secrets.front().hash;
        break;
      case arm::PrincipalKind::kServicePrincipal:
        out.kind = auth::PrincipalKind::kServicePrincipal;
        out.name = p.app_id;
        if (p.enabled) {
          for (const auto& s : p.secrets) out.secrets.push_back(Password(s));
        }
        break;
      case arm::PrincipalKind::kManagedIdentity:
        out.kind = auth::PrincipalKind::kManagedIdentity;
        out.name = p.name;
        break;
    }
    data.principals.push_back(std::move(out));
  }

  for (const auto& r : snapshot.registries) {
    auth::RegistryAuth ra;
    ra.registry = r.name;
    ra.uid = r.uid;
    ra.admin.enabled = r.admin_user_enabled;
    ra.admin.password_hashes = r.admin_password_hashes;
    ra.anonymous_pull = r.anonymous_pull_enabled;
    for (const auto& m : r.scope_maps) ra.scope_maps.push_back({m.name, m.actions});
    for (const auto& t : r.tokens) {
      auth::RepositoryToken token;
      token.name = t.name;
      token.uid = t.uid;
      token.enabled = t.enabled;
      token.scope_map = t.scope_map;
      for (const auto& p : t.passwords) {
        if (p.name == "password1") token.passwords[0] = Password(p);
        if (p.name == "password2") token.passwords[1] = Password(p);
      }
      ra.tokens.push_back(std::move(token));
    }
    data.registries.push_back(std::move(ra));
  }

  for (const auto& a : snapshot.role_assignments) {
    auto role = auth::ParseRole(a.role_name);
    if (!role || !principal_ids.count(a.principal_id)) continue;
    for (const auto& r : snapshot.registries) {
      if (AtOrBelow(r.id, a.scope)) data.assignments.push_back({a.principal_id, *role, r.name});
    }
  }
  return data;
}

}  // namespace cove::daemon
