// A registry's credentials: the admin user, scope maps and repository-scoped tokens.
//
// Admin user: two passwords ("password", "password2") made with the registry; their Argon2id
//   hashes are in the registry's "_cove.admin", the values sealed (arm/identity_support.h) in
//   the document "<registry key>/#secrets". POST listCredentials answers them, POST
//   regenerateCredential {name} replaces one; both need adminUserEnabled.
// scopeMaps/{name}: PUT {properties:{description?, actions:[...]}}. Names 5-50 of
//   [A-Za-z0-9-_]. Actions: repositories/<repo>/content/{read,write,delete} and
//   repositories/<repo>/metadata/{read,write}; <repo> a repository name, a prefix ending in
//   "/*", or "*" (auth::ParseScopeMapAction decides, so the registry accepts what is stored).
//   Every registry also has the SystemDefined _repositories_admin, _repositories_pull and
//   _repositories_push (not stored; they cannot be written or deleted: 400 OperationNotAllowed).
//   Deleting a map a token uses: 409 ScopeMapInUse.
// tokens/{name}: PUT {properties:{scopeMapId, status: enabled|disabled}}. Names 5-50 of
//   [A-Za-z0-9-], never the registry's own name (that user name is the admin user's). Stored
//   with properties.credentials.passwords [{name, creationTime, expiry?}] and the hashes in
//   "_cove.passwords", and an object id made at creation in "_cove.uid" (registry tokens are
//   bound to it, so a token made again under the same name does not take the old one's
//   tokens). POST {registry}/generateCredentials {tokenId, name?, expiry?} makes
//   new passwords (both when name is absent) and shows them once.
#include <algorithm>

#include "arm/engine.h"
#include "arm/identity_support.h"
#include "arm/projection.h"
#include "arm/provider.h"
#include "auth/access.h"
#include "oci/reference.h"

namespace cove::arm {
namespace {

using SystemMap = SystemScopeMapDef;

const std::vector<SystemMap>& SystemMaps() { return SystemScopeMapDefs(); }
const SystemMap* FindSystemMap(std::string_view name) { return FindSystemScopeMap(name); }

bool NameOf(std::string_view n, bool underscore) {
  if (n.size() < 5 || n.size() > 50) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || (underscore && c == '_');
  });
}

// Why `action` is not a valid scope-map action; "" when it is.
std::string ScopeMapActionProblem(const std::string& action) {
  auto entry = auth::ParseScopeMapAction(action);
  if (!entry) return entry.error().message;
  std::string repo = entry->repository;
  if (repo == "*") return "";
  if (repo.ends_with("/*")) repo.resize(repo.size() - 2);
  if (!oci::IsValidRepositoryName(repo)) {
    return "'" + entry->repository +
           "' is not a repository name (lowercase letters, digits and separators), a prefix "
           "ending in '/*', or '*'";
  }
  return "";
}

Error CredentialsDisabled(const std::string& registry_id) {
  return ArmErrorOf(400, "UnAuthorizedForCredentialOperations",
                    "Cannot perform credential operations for " + registry_id +
                        " as admin user is disabled. Kindly enable admin user as per docs: "
                        "https://docs.microsoft.com/en-us/azure/container-registry/"
                        "container-registry-authentication#admin-account");
}

Error Internal(const std::string& what) { return ArmErrorOf(500, "InternalServerError", what); }

}  // namespace

bool IsSystemScopeMapName(std::string_view name) { return FindSystemMap(name) != nullptr; }

// ---------------------------------------------------------------- admin user

Status Engine::EnsureAdminCredentials(const std::string& registry_key) {
  const Json* doc = txn_.Get(registry_key);
  if (doc == nullptr) return {};
  std::string secrets_key = registry_key + "/#secrets";
  if (doc->contains("_cove") && (*doc)["_cove"].contains("admin") &&
      txn_.Get(secrets_key) != nullptr) {
    return {};
  }
  if (secrets_ == nullptr) return tl::unexpected(Internal("no credentials key in this request"));
  Json d = *doc;
  Json sealed = Json::object();
  for (const char* name : {"password", "password2"}) {
    std::string secret = GenerateSecret();
    auto hash = HashSecret(secret, options_.fast_password_hashing);
    if (!hash) return tl::unexpected(Internal(hash.error().message));
    auto box = secrets_->Seal(secret);
    if (!box) return tl::unexpected(Internal(box.error().message));
    d["_cove"]["admin"][name] = *hash;
    sealed[name] = *box;
  }
  txn_.Put(registry_key, d);
  txn_.Put(secrets_key, Json{{"admin", sealed}});
  return {};
}

Result<ArmResponse> Engine::RegistryAction(const ArmPath& registry, const std::string& action,
                                           const std::string& text) {
  std::string key = registry.Key();
  const Json& doc = *txn_.Get(key);
  std::string registry_id = doc.value("id", "");
  Json body = Json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!body.is_object()) return tl::unexpected(BadContent("$", "must be a JSON object"));
  Body b(&body, "");
  if (secrets_ == nullptr) return tl::unexpected(Internal("no credentials key in this request"));

  if (action == "listcredentials" || action == "regeneratecredential") {
    std::optional<std::string> which;
    if (action == "regeneratecredential") {
      COVE_ASSIGN_OR_RETURN(which, b.Enum("name", {"password", "password2"}));
      if (!which) return tl::unexpected(BadContent("name", "is required"));
    }
    if (!doc["properties"].value("adminUserEnabled", false)) {
      return tl::unexpected(CredentialsDisabled(registry_id));
    }
    COVE_RETURN_IF_ERROR(EnsureAdminCredentials(key));
    Json sealed = (*txn_.Get(key + "/#secrets"))["admin"];
    if (which) {
      std::string secret = GenerateSecret();
      auto hash = HashSecret(secret, options_.fast_password_hashing);
      if (!hash) return tl::unexpected(Internal(hash.error().message));
      auto box = secrets_->Seal(secret);
      if (!box) return tl::unexpected(Internal(box.error().message));
      Json d = *txn_.Get(key);
      d["_cove"]["admin"][*which] = *hash;
      sealed[*which] = *box;
      txn_.Put(key, d);
      txn_.Put(key + "/#secrets", Json{{"admin", sealed}});
    }
    Json passwords = Json::array();
    for (const char* name : {"password", "password2"}) {
      auto value = secrets_->Open(sealed.value(name, ""));
      if (!value) return tl::unexpected(Internal(value.error().message));
      passwords.push_back({{"name", name}, {"value", *value}});
    }
    return ArmResponse{200, Json{{"username", doc.value("name", "")}, {"passwords", passwords}}};
  }

  // generateCredentials
  COVE_ASSIGN_OR_RETURN(auto token_id, b.String("tokenId"));
  COVE_ASSIGN_OR_RETURN(auto which, b.Enum("name", {"password1", "password2"}));
  COVE_ASSIGN_OR_RETURN(auto expiry_text, b.String("expiry"));
  if (!token_id || token_id->empty()) return tl::unexpected(BadContent("tokenId", "is required"));
  auto token_path = ParseResourceId(*token_id);
  if (!token_path || token_path->kind != PathKind::kResource ||
      token_path->TypeKey() != "microsoft.containerregistry/registries/tokens" ||
      token_path->ParentKey() != key) {
    return tl::unexpected(
        BadContent("tokenId", "must be the id of a token of registry " + doc.value("name", "")));
  }
  const Json* token = txn_.Get(token_path->Key());
  if (token == nullptr) return tl::unexpected(ResourceNotFound(*token_path));
  auto now = NowFrom(options_);
  std::optional<Clock::TimePoint> expiry;
  if (expiry_text && !expiry_text->empty()) {
    expiry = ParseIsoTime(*expiry_text);
    if (!expiry) {
      return tl::unexpected(BadContent("expiry", "is not an ISO 8601 date and time"));
    }
    if (*expiry <= now) return tl::unexpected(BadContent("expiry", "must be in the future"));
  }
  Json t = *token;
  Json listed = Json::array();
  std::vector<std::string> names;
  if (which) {
    names.push_back(*which);
  } else {
    names = {"password1", "password2"};
  }
  Json out = Json::array();
  for (const auto& name : names) {
    std::string secret = GenerateSecret();
    auto hash = HashSecret(secret, options_.fast_password_hashing);
    if (!hash) return tl::unexpected(Internal(hash.error().message));
    Json stored = {{"hash", *hash}};
    Json shown = {{"creationTime", FormatArmTime(now)}, {"name", name}};
    if (expiry) {
      stored["expiry"] = UnixSeconds(*expiry);
      shown["expiry"] = FormatArmTime(*expiry);
    }
    t["_cove"]["passwords"][name] = stored;
    Json& list = t["properties"]["credentials"]["passwords"];
    Json kept = Json::array();
    for (const auto& p : list) {
      if (p.value("name", "") != name) kept.push_back(p);
    }
    kept.push_back(shown);
    std::sort(kept.begin(), kept.end(), [](const Json& a, const Json& b) {
      return a.value("name", "") < b.value("name", "");
    });
    list = kept;
    shown["value"] = secret;
    out.push_back(shown);
  }
  txn_.Put(token_path->Key(), t);
  return ArmResponse{200, Json{{"username", t.value("name", "")}, {"passwords", out}}};
}

// ---------------------------------------------------------------- scope maps

Json Engine::SystemScopeMaps(const std::string& registry_key) const {
  Json out = Json::array();
  const Json* registry = txn_.Get(registry_key);
  if (registry == nullptr) return out;
  for (const auto& m : SystemMaps()) {
    Json actions = Json::array();
    for (const char* a : m.actions) actions.push_back(a);
    out.push_back({{"id", registry->value("id", "") + "/scopeMaps/" + m.name},
                   {"name", m.name},
                   {"type", "Microsoft.ContainerRegistry/registries/scopeMaps"},
                   {"properties",
                    {{"description", m.description},
                     {"type", "SystemDefined"},
                     {"creationDate", (*registry)["properties"].value("creationDate", "")},
                     {"provisioningState", "Succeeded"},
                     {"actions", actions}}}});
  }
  return out;
}

Result<ArmResponse> Engine::SystemScopeMap(const ArmRequest& r, const ArmPath& p) {
  const SystemMap* map = FindSystemMap(p.names.back());
  if (r.method == "GET" || r.method == "HEAD") {
    for (auto& m : SystemScopeMaps(p.ParentKey())) {
      if (m["name"] == map->name) {
        if (r.method == "HEAD") return ArmResponse{200, std::nullopt};
        return ArmResponse{200, m};
      }
    }
  }
  if (r.method == "PUT" || r.method == "PATCH" || r.method == "DELETE") {
    return ArmFail(400, "OperationNotAllowed",
                   "The scope map '" + std::string(map->name) +
                       "' is system defined and cannot be updated or deleted.");
  }
  return ArmFail(405, "MethodNotAllowed",
                 "The HTTP method '" + r.method + "' is not supported for this resource.");
}

Status Engine::PutScopeMap(const ArmPath& p, const Json& body, const Json* existing) {
  const std::string& name = p.names.back();
  if (existing == nullptr && !NameOf(name, true)) {
    return tl::unexpected(NameInvalid(name, "Microsoft.ContainerRegistry/registries/scopeMaps",
                                      "Scope map names are 5-50 letters, digits, '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, false));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto description, props.String("description"));
  bool have_actions = false;
  COVE_ASSIGN_OR_RETURN(auto actions, props.StringArray("actions", &have_actions));
  Json& dp = doc["properties"];
  if (!have_actions && existing == nullptr) {
    return tl::unexpected(BadContent("properties.actions", "is required"));
  }
  if (have_actions) {
    if (actions.empty()) {
      return tl::unexpected(BadContent("properties.actions", "must hold at least one action"));
    }
    for (const auto& a : actions) {
      std::string problem = ScopeMapActionProblem(a);
      if (!problem.empty()) {
        return ArmFail(400, "InvalidScopeMapAction",
                       "The scope map action '" + a + "' is not valid: " + problem + ".");
      }
    }
    dp["actions"] = actions;
  }
  if (description) {
    dp["description"] = *description;
  } else if (!dp.contains("description")) {
    dp["description"] = "";
  }
  dp["type"] = "UserDefined";
  if (!dp.contains("creationDate")) dp["creationDate"] = FormatArmTime(NowFrom(options_));
  txn_.Put(p.Key(), doc);
  return {};
}

Status Engine::DeleteScopeMap(const std::string& key) {
  const Json* map = txn_.Get(key);
  std::string id = map != nullptr ? Lower(map->value("id", "")) : key;
  for (const auto& t : txn_.Children(ParentOfKey(key), "tokens")) {
    const Json* token = txn_.Get(t);
    if (Lower((*token)["properties"].value("scopeMapId", "")) == id) {
      return ArmFail(409, "ScopeMapInUse",
                     "The scope map '" + map->value("name", "") +
                         "' cannot be deleted: it is used by token '" + token->value("name", "") +
                         "'. Delete the token or give it another scope map first.");
    }
  }
  txn_.EraseTree(key);
  return {};
}

// ---------------------------------------------------------------- tokens

Status Engine::PutToken(const ArmPath& p, const Json& body, const Json* existing) {
  const std::string& name = p.names.back();
  std::string registry_key = p.ParentKey();
  const Json& registry = *txn_.Get(registry_key);
  if (existing == nullptr) {
    if (!NameOf(name, false)) {
      return tl::unexpected(NameInvalid(name, "Microsoft.ContainerRegistry/registries/tokens",
                                        "Token names are 5-50 letters, digits or '-'."));
    }
    if (EqualsIgnoreCase(name, registry.value("name", ""))) {
      return tl::unexpected(NameInvalid(name, "Microsoft.ContainerRegistry/registries/tokens",
                                        "A token cannot have its registry's name: that user "
                                        "name is the admin user's."));
    }
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, false));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto map_id, props.String("scopeMapId"));
  COVE_ASSIGN_OR_RETURN(auto status, props.Enum("status", {"enabled", "disabled"}));
  Json& dp = doc["properties"];
  if (!map_id && existing == nullptr) {
    return tl::unexpected(BadContent("properties.scopeMapId", "is required"));
  }
  if (map_id) {
    auto map_path = ParseResourceId(*map_id);
    std::string canonical;
    if (map_path && map_path->kind == PathKind::kResource &&
        map_path->TypeKey() == "microsoft.containerregistry/registries/scopemaps" &&
        map_path->ParentKey() == registry_key) {
      if (const SystemMap* m = FindSystemMap(map_path->names.back())) {
        canonical = registry.value("id", "") + "/scopeMaps/" + m->name;
      } else if (const Json* map = txn_.Get(map_path->Key())) {
        canonical = map->value("id", "");
      }
    }
    if (canonical.empty()) {
      return ArmFail(400, "InvalidScopeMapId",
                     "Scope map '" + *map_id + "' is not a scope map of registry " +
                         registry.value("name", "") + ".");
    }
    dp["scopeMapId"] = canonical;
  }
  dp["status"] = status ? *status : dp.value("status", "enabled");
  if (!dp.contains("creationDate")) dp["creationDate"] = FormatArmTime(NowFrom(options_));
  Json credentials = existing != nullptr && (*existing)["properties"].contains("credentials")
                         ? (*existing)["properties"]["credentials"]
                         : Json{{"certificates", Json::array()}, {"passwords", Json::array()}};
  dp["credentials"] = credentials;
  // The object id its registry tokens are bound to (auth/identity.h).
  if (existing == nullptr) doc["_cove"]["uid"] = Guid();
  txn_.Put(p.Key(), doc);
  return {};
}

std::optional<Result<ArmResponse>> Engine::RegistryActions(const ArmPath& registry,
                                                           const std::string& action,
                                                           const std::string& body) {
  if (action == "listcredentials" || action == "regeneratecredential" ||
      action == "generatecredentials") {
    return RegistryAction(registry, action, body);
  }
  return std::nullopt;
}

std::optional<Result<ArmResponse>> Engine::InterceptSystemScopeMap(const ArmRequest& r,
                                                                   const ArmPath& p) {
  if (!IsSystemScopeMapName(p.names.back())) return std::nullopt;
  return SystemScopeMap(r, p);
}

void RegisterRegistryAuthProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.ContainerRegistry/registries/scopeMaps",
                .api_versions = ContainerRegistryApiVersions(),
                .put = EngineFn<&Engine::PutScopeMap>,
                .remove = EngineFn<&Engine::DeleteScopeMap>,
                .intercept = EngineFn<&Engine::InterceptSystemScopeMap>,
                .list_prefix = EngineFn<&Engine::SystemScopeMaps>});
  registry.Add({.type = "Microsoft.ContainerRegistry/registries/tokens",
                .api_versions = ContainerRegistryApiVersions(),
                .put = EngineFn<&Engine::PutToken>});
}

}  // namespace cove::arm
