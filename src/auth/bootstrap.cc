#include "auth/bootstrap.h"

#include <set>

namespace cove::auth {
namespace {

Status CheckKeys(const YAML::Node& node, const std::string& where,
                 const std::set<std::string>& allowed) {
  if (!node.IsMap()) return Fail(Code::kInvalidArgument, "auth: " + where + " must be a mapping");
  for (const auto& kv : node) {
    auto key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      return Fail(Code::kInvalidArgument, "auth: unknown key '" + key + "' in " + where);
    }
  }
  return Ok();
}

Status CheckHash(const std::string& hash, const std::string& where) {
  if (!hash.starts_with("$argon2id$")) {
    return Fail(Code::kInvalidArgument,
                "auth: " + where + " must be an Argon2id hash (see cove-hash-password)");
  }
  return Ok();
}

std::string Str(const YAML::Node& n, const char* key) {
  return n[key] ? n[key].as<std::string>() : std::string();
}

}  // namespace

Result<IdentityData> ParseBootstrap(const YAML::Node& node) {
  IdentityData d;
  try {
    COVE_RETURN_IF_ERROR(
        CheckKeys(node, "the auth section", {"principals", "role_assignments", "registries"}));
    for (const auto& p : node["principals"]) {
      COVE_RETURN_IF_ERROR(
          CheckKeys(p, "a principal", {"id", "kind", "name", "password_hash"}));
      Principal principal;
      principal.id = Str(p, "id");
      principal.name = Str(p, "name");
      std::string kind = Str(p, "kind");
      if (kind == "user") {
        principal.kind = PrincipalKind::kUser;
      } else if (kind == "servicePrincipal") {
        principal.kind = PrincipalKind::kServicePrincipal;
      } else if (kind == "managedIdentity") {
        principal.kind = PrincipalKind::kManagedIdentity;
      } else {
        return Fail(Code::kInvalidArgument,
                    "auth: principal kind must be user, servicePrincipal or managedIdentity");
      }
      principal.password_hash = Str(p, "password_hash");
      if (!principal.password_hash.empty()) {
        COVE_RETURN_IF_ERROR(CheckHash(principal.password_hash, "password_hash"));
      }
      d.principals.push_back(std::move(principal));
    }
    for (const auto& a : node["role_assignments"]) {
      COVE_RETURN_IF_ERROR(CheckKeys(a, "a role assignment", {"principal", "role", "registry"}));
      RoleAssignment ra;
      std::string who = Str(a, "principal");
      for (const auto& p : d.principals) {
        if (p.id == who || p.name == who) ra.principal_id = p.id;
      }
      if (ra.principal_id.empty()) {
        return Fail(Code::kInvalidArgument, "auth: role assignment for unknown principal " + who);
      }
      auto role = ParseRole(Str(a, "role"));
      if (!role) {
        return Fail(Code::kInvalidArgument,
                    "auth: role must be AcrPull, AcrPush, AcrDelete, Owner, Contributor or "
                    "Reader");
      }
      ra.role = *role;
      ra.registry = Str(a, "registry");
      d.assignments.push_back(std::move(ra));
    }
    for (const auto& r : node["registries"]) {
      COVE_RETURN_IF_ERROR(
          CheckKeys(r, "an auth registry",
                    {"name", "admin_user", "anonymous_pull", "public_network_access",
                     "network_rule_bypass", "scope_maps", "tokens"}));
      RegistryAuth ra;
      ra.registry = Str(r, "name");
      if (ra.registry.empty()) return Fail(Code::kInvalidArgument, "auth: a registry needs a name");
      if (const auto& admin = r["admin_user"]) {
        COVE_RETURN_IF_ERROR(CheckKeys(admin, "admin_user", {"enabled", "password_hashes"}));
        ra.admin.enabled = admin["enabled"] && admin["enabled"].as<bool>();
        size_t i = 0;
        for (const auto& h : admin["password_hashes"]) {
          if (i >= 2) return Fail(Code::kInvalidArgument, "auth: the admin user has 2 passwords");
          ra.admin.password_hashes[i] = h.as<std::string>();
          COVE_RETURN_IF_ERROR(CheckHash(ra.admin.password_hashes[i++], "an admin password"));
        }
      }
      ra.anonymous_pull = r["anonymous_pull"] && r["anonymous_pull"].as<bool>();
      ra.public_network_access =
          !r["public_network_access"] || r["public_network_access"].as<bool>();
      std::string bypass =
          r["network_rule_bypass"] ? Str(r, "network_rule_bypass") : std::string("AzureServices");
      if (bypass == "AzureServices") {
        ra.bypass = NetworkBypass::kAzureServices;
      } else if (bypass == "None") {
        ra.bypass = NetworkBypass::kNone;
      } else {
        return Fail(Code::kInvalidArgument, "auth: network_rule_bypass is AzureServices or None");
      }
      for (const auto& m : r["scope_maps"]) {
        COVE_RETURN_IF_ERROR(CheckKeys(m, "a scope map", {"name", "actions"}));
        ScopeMap map{Str(m, "name"), {}};
        for (const auto& a : m["actions"]) map.actions.push_back(a.as<std::string>());
        ra.scope_maps.push_back(std::move(map));
      }
      for (const auto& t : r["tokens"]) {
        COVE_RETURN_IF_ERROR(
            CheckKeys(t, "a token", {"name", "scope_map", "enabled", "passwords"}));
        RepositoryToken token;
        token.name = Str(t, "name");
        token.scope_map = Str(t, "scope_map");
        token.enabled = !t["enabled"] || t["enabled"].as<bool>();
        size_t i = 0;
        for (const auto& p : t["passwords"]) {
          COVE_RETURN_IF_ERROR(CheckKeys(p, "a token password", {"hash", "expiry"}));
          if (i >= 2) return Fail(Code::kInvalidArgument, "auth: a token has 2 passwords");
          TokenPassword pw{Str(p, "hash"), std::nullopt};
          COVE_RETURN_IF_ERROR(CheckHash(pw.hash, "a token password hash"));
          if (p["expiry"])
            pw.expiry = Clock::TimePoint(std::chrono::seconds(p["expiry"].as<int64_t>()));
          token.passwords[i++] = std::move(pw);
        }
        ra.tokens.push_back(std::move(token));
      }
      d.registries.push_back(std::move(ra));
    }
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalidArgument, std::string("auth: ") + e.what());
  }
  COVE_RETURN_IF_ERROR(IdentitySnapshot::Build(d));
  return d;
}

}  // namespace cove::auth
