// Identities in ARM: Microsoft.ManagedIdentity userAssignedIdentities and Microsoft.Authorization
// role assignments (at any scope) and built-in role definitions.
//
// userAssignedIdentities/{name}: PUT {location, tags?} → properties {tenantId, principalId,
//   clientId} (made once, kept on update). Whether a call with the identity counts as a trusted
//   Azure service's depends on the machine it is attached to and calls from (a container
//   group: auth/network.h), not on the identity. Deleting an identity deletes its role
//   assignments.
// {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}: scope is the tenant root
//   (empty {scope}; properties.scope "/", as Azure's root-scope assignments), a subscription,
//   resource group or resource that exists. Who may create one is RBAC's business
//   (arm/rbac.h: roleAssignments/write at the assignment's id). Stored under the scope's key, so deleting the
//   scope (a resource group, a registry) deletes the assignments at or below it.
//   List: every assignment whose scope is at, above or below {scope}; $filter principalId eq
//   '<id>', assignedTo('<id>') and atScope() (at or above only), joined with "and".
// {scope}/providers/Microsoft.Authorization/roleDefinitions[/{guid}]: the six built-ins
//   (arm/identity_support.h); $filter roleName eq '<name>'.
// Machines (virtualMachines, containerGroups) carry ARM's managed-identity block:
//   {"type": "SystemAssigned" | "UserAssigned" | "SystemAssigned, UserAssigned" | "None",
//    "userAssignedIdentities": {"<identity id>": {}}}
//   answered as {"type", "principalId", "tenantId" (system-assigned only),
//   "userAssignedIdentities": {"<id as the identity stores it>": {"principalId", "clientId"}}}.
//   The system-assigned principal (principalId; its clientId is kept under "_cove") is made
//   once and kept while SystemAssigned stays; it is a ServicePrincipal for role assignments.
//   Errors as ARM's managed-identity service answers them: MissingIdentityIds, BadRequest (ids
//   without UserAssigned), InvalidIdentityValues, FailedIdentityOperation (unknown identity).
#include <algorithm>
#include <cctype>
#include <set>

#include "arm/engine.h"
#include "arm/identity_support.h"
#include "arm/projection.h"
#include "arm/provider.h"
#include "auth/network.h"

namespace cove::arm {
namespace {

constexpr const char* kAssignmentType = "Microsoft.Authorization/roleAssignments";
constexpr const char* kAssignmentsSegment = "/providers/microsoft.authorization/roleassignments/";

bool IsMachine(const Json& doc) {
  std::string t = Lower(doc.value("type", ""));
  return t == "microsoft.compute/virtualmachines" ||
         t == "microsoft.containerinstance/containergroups";
}

bool IsAssignment(const Json& doc) {
  return EqualsIgnoreCase(doc.value("type", ""), kAssignmentType);
}

std::string Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// "'value'" → value.
std::optional<std::string> Quoted(std::string_view s) {
  std::string t = Trim(s);
  if (t.size() < 2 || t.front() != '\'' || t.back() != '\'') return std::nullopt;
  return t.substr(1, t.size() - 2);
}

// Clauses of an OData filter joined by " and ".
std::vector<std::string> Clauses(const std::string& filter) {
  std::vector<std::string> out;
  std::string lower = Lower(filter);
  size_t start = 0;
  while (true) {
    size_t at = lower.find(" and ", start);
    out.push_back(Trim(std::string_view(filter).substr(
        start, at == std::string::npos ? std::string::npos : at - start)));
    if (at == std::string::npos) break;
    start = at + 5;
  }
  return out;
}

// "<field> eq '<value>'" → value, when the clause is about `field`.
std::optional<std::string> EqClause(const std::string& clause, std::string_view field) {
  std::string lower = Lower(clause);
  if (!lower.starts_with(Lower(field))) return std::nullopt;
  std::string rest = Trim(std::string_view(clause).substr(field.size()));
  if (!Lower(rest).starts_with("eq ")) return std::nullopt;
  return Quoted(std::string_view(rest).substr(3));
}

Error UnsupportedFilter(const std::string& filter, const std::string& supported) {
  return ArmErrorOf(
      400, "UnsupportedFilter",
      "The $filter '" + filter + "' is not supported here; cove supports " + supported + ".");
}

// True when `inner` is `outer` or below it (keys are lowercased ids).
bool AtOrBelow(const std::string& inner, const std::string& outer) {
  if (outer == "/") return true;  // the tenant root
  return inner == outer ||
         (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
          inner[outer.size()] == '/');
}

bool IsValidIdentityName(std::string_view n) {
  if (n.size() < 3 || n.size() > 128 || !std::isalnum(static_cast<unsigned char>(n.front()))) {
    return false;
  }
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

Json RoleDefinition(const BuiltInRole& role, const std::string& subscription_id) {
  Json actions = Json::array(), not_actions = Json::array();
  for (const char* a : role.actions) actions.push_back(a);
  for (const char* a : role.not_actions) not_actions.push_back(a);
  return Json{
      {"id", subscription_id + "/providers/Microsoft.Authorization/roleDefinitions/" + role.guid},
      {"name", role.guid},
      {"type", "Microsoft.Authorization/roleDefinitions"},
      {"properties",
       {{"roleName", role.name},
        {"type", "BuiltInRole"},
        {"description", role.description},
        {"assignableScopes", Json::array({"/"})},
        {"permissions", Json::array({{{"actions", actions},
                                      {"notActions", not_actions},
                                      {"dataActions", Json::array()},
                                      {"notDataActions", Json::array()}}})},
        {"createdOn", "2018-08-08T00:00:00.0000000Z"},
        {"updatedOn", "2022-11-29T00:00:00.0000000Z"},
        {"createdBy", nullptr},
        {"updatedBy", nullptr}}}};
}

// "/subscriptions/<sub>" of a scope id ("" for the tenant root).
std::string SubscriptionOf(const std::string& scope_id) {
  if (scope_id.empty()) return "";
  size_t slash = scope_id.find('/', std::string("/subscriptions/").size());
  return Lower(scope_id.substr(0, slash));
}

}  // namespace

std::optional<PrincipalRef> FindPrincipal(const Txn& txn, std::string_view object_id) {
  std::string id = Lower(object_id);
  if (!IsGuid(id)) return std::nullopt;
  if (const Json* u = txn.Get("#directory/users/" + id))
    return PrincipalRef{u->value("id", id), "User"};
  if (const Json* sp = txn.Get("#directory/serviceprincipals/" + id)) {
    return PrincipalRef{sp->value("id", id), "ServicePrincipal"};
  }
  for (const auto& [k, d] : txn.documents()) {
    if (!EqualsIgnoreCase(d->value("type", ""),
                          "Microsoft.ManagedIdentity/userAssignedIdentities")) {
      continue;
    }
    if (d->contains("properties") && Lower((*d)["properties"].value("principalId", "")) == id) {
      return PrincipalRef{(*d)["properties"].value("principalId", id), "ServicePrincipal"};
    }
  }
  for (const auto& [k, d] : txn.documents()) {
    if (!IsMachine(*d)) continue;
    if (const Json* sa = SystemAssignedOf(*d); sa && Lower(sa->value("principalId", "")) == id) {
      return PrincipalRef{sa->value("principalId", id), "ServicePrincipal"};
    }
  }
  return std::nullopt;
}

const Json* SystemAssignedOf(const Json& machine) {
  if (!machine.contains("_cove") || !machine["_cove"].is_object()) return nullptr;
  auto it = machine["_cove"].find("systemAssigned");
  if (it == machine["_cove"].end() || !it->is_object()) return nullptr;
  return &*it;
}

void DeleteRoleAssignmentsOf(Txn& txn, std::string_view principal_id) {
  std::string id = Lower(principal_id);
  std::vector<std::string> doomed;
  for (const auto& [k, d] : txn.documents()) {
    if (IsAssignment(*d) && d->contains("properties") &&
        Lower((*d)["properties"].value("principalId", "")) == id) {
      doomed.push_back(k);
    }
  }
  for (const auto& k : doomed) txn.Erase(k);
}

// ---------------------------------------------------------------- managed identities

Status Engine::PutIdentity(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr && !IsValidIdentityName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(),
                                      "Microsoft.ManagedIdentity/userAssignedIdentities",
                                      "Names are 3-128 letters, digits, '-' or '_', starting with "
                                      "a letter or digit."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  Json& dp = doc["properties"];
  dp.erase("provisioningState");
  if (!dp.contains("principalId")) {
    dp["tenantId"] = kTenantId;
    dp["principalId"] = Guid();
    dp["clientId"] = Guid();
  }
  txn_.Put(p.Key(), doc);
  return {};
}

Status Engine::DeleteIdentity(const std::string& key) {
  const Json* doc = txn_.Get(key);
  if (doc != nullptr && doc->contains("properties")) {
    DeleteRoleAssignmentsOf(txn_, (*doc)["properties"].value("principalId", ""));
  }
  txn_.EraseTree(key);
  return {};
}

// ---------------------------------------------------------------- machine identities

Status Engine::ApplyMachineIdentity(const Json& body, const Json* existing, Json& doc) {
  const std::string machine_id = doc.value("id", "");
  const Json* old_system = existing != nullptr ? SystemAssignedOf(*existing) : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body identity, b.Object("identity"));
  COVE_ASSIGN_OR_RETURN(auto type_text, identity.String("type"));
  COVE_ASSIGN_OR_RETURN(Body assigned, identity.Object("userAssignedIdentities"));
  bool system = false, user = false;
  std::string type = "None";
  if (type_text) {
    std::string t;
    for (char c : *type_text) {
      if (c != ' ') t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (t == "systemassigned") {
      system = true;
    } else if (t == "userassigned") {
      user = true;
    } else if (t == "systemassigned,userassigned") {
      system = user = true;
    } else if (t != "none") {
      return tl::unexpected(BadContent(
          "identity.type", "has the value '" + *type_text +
                               "'; allowed values: SystemAssigned, UserAssigned, "
                               "'SystemAssigned, UserAssigned', None"));
    }
    type = system && user ? "SystemAssigned, UserAssigned"
           : system       ? "SystemAssigned"
           : user         ? "UserAssigned"
                          : "None";
  } else if (identity.present()) {
    return tl::unexpected(BadContent("identity.type", "is required"));
  }
  // Keys whose value is null are removals (ARM's PATCH form); others must be {} (or the
  // {principalId, clientId} an earlier answer carried).
  std::vector<std::string> ids;
  if (assigned.present()) {
    for (const auto& [id, v] : assigned.json()->items()) {
      if (v.is_null()) continue;
      if (!v.is_object()) {
        return ArmFail(400, "InvalidIdentityValues",
                       "Invalid value for the identities '" + id +
                           "'. The 'UserAssignedIdentities' property keys should only be empty "
                           "json objects, null or the resource existing property.");
      }
      ids.push_back(id);
    }
  }
  if (!user && !ids.empty()) {
    // A PATCH that turns UserAssigned off still carries the ids the machine had (the stored
    // answer is merged under it): those are dropped; only new ones are an error.
    std::set<std::string> had;
    if (existing != nullptr && existing->contains("identity") &&
        (*existing)["identity"].contains("userAssignedIdentities")) {
      for (const auto& [id, v] : (*existing)["identity"]["userAssignedIdentities"].items()) {
        had.insert(Lower(id));
      }
    }
    std::erase_if(ids, [&](const std::string& id) { return had.count(Lower(id)) > 0; });
  }
  if (!user && !ids.empty()) {
    return ArmFail(400, "BadRequest",
                   "The request format was unexpected, a non-UserAssigned identity type should "
                   "not contain: userAssignedIdentities");
  }
  if (user && ids.empty()) {
    return ArmFail(400, "MissingIdentityIds",
                   "The identity ids must not be null or empty for 'UserAssigned' identity type.");
  }
  Json users = Json::object();
  for (const auto& id : ids) {
    auto path = ParseResourceId(id);
    const Json* uai = nullptr;
    if (path && path->kind == PathKind::kResource &&
        path->TypeKey() == "microsoft.managedidentity/userassignedidentities") {
      uai = txn_.Get(path->Key());
    }
    if (uai == nullptr) {
      return ArmFail(400, "FailedIdentityOperation",
                     "Identity operation for resource '" + machine_id +
                         "' failed with error 'Failed to perform resource identity operation. "
                         "Status: 'NotFound'. Response: '{\"error\":{\"code\":\"NotFound\","
                         "\"message\":\"Resource '" + id + "' was not found.\"}}'.'.");
    }
    const Json& up = (*uai)["properties"];
    users[uai->value("id", id)] = {{"principalId", up.value("principalId", "")},
                                   {"clientId", up.value("clientId", "")}};
  }
  if (!doc.contains("_cove") || !doc["_cove"].is_object()) doc["_cove"] = Json::object();
  doc["_cove"].erase("systemAssigned");
  if (type == "None") {
    doc.erase("identity");
  } else {
    Json out = {{"type", type}};
    if (system) {
      Json sa = old_system != nullptr ? *old_system
                                      : Json{{"principalId", Guid()}, {"clientId", Guid()}};
      doc["_cove"]["systemAssigned"] = sa;
      out["principalId"] = sa["principalId"];
      out["tenantId"] = kTenantId;
    }
    if (user) out["userAssignedIdentities"] = users;
    doc["identity"] = out;
  }
  if (doc["_cove"].empty()) doc.erase("_cove");
  if (old_system != nullptr && !system) {
    DeleteRoleAssignmentsOf(txn_, old_system->value("principalId", ""));
  }
  return {};
}

void Engine::DropMachineIdentity(const std::string& key) {
  const Json* doc = txn_.Get(key);
  if (doc == nullptr) return;
  if (const Json* sa = SystemAssignedOf(*doc)) {
    DeleteRoleAssignmentsOf(txn_, sa->value("principalId", ""));
  }
}

// ---------------------------------------------------------------- Microsoft.Authorization

Result<std::string> Engine::ScopeId(const std::string& scope) {
  if (scope.empty()) return std::string();
  auto p = ParseArmPath(scope);
  if (!p) {
    return ArmFail(400, "InvalidRequestUri",
                   "The scope '" + scope + "' is not valid: " + p.error().message + ".");
  }
  if (p->kind != PathKind::kSubscription && p->kind != PathKind::kResourceGroup &&
      p->kind != PathKind::kResource) {
    return ArmFail(400, "InvalidScope",
                   "The scope '" + scope +
                       "' is not valid: a scope is a subscription, a resource "
                       "group or a resource.");
  }
  const Json* sub = txn_.Get(p->SubscriptionKey());
  if (sub == nullptr) {
    return ArmFail(404, "SubscriptionNotFound",
                   "The subscription '" + p->subscription + "' could not be found.");
  }
  if (p->kind == PathKind::kSubscription) return sub->value("id", p->SubscriptionKey());
  const Json* rg = txn_.Get(p->ResourceGroupKey());
  if (rg == nullptr) {
    return ArmFail(404, "ResourceGroupNotFound",
                   "Resource group '" + p->resource_group + "' could not be found.");
  }
  if (p->kind == PathKind::kResourceGroup) return rg->value("id", p->ResourceGroupKey());
  const Json* doc = txn_.Get(p->Key());
  if (doc == nullptr) return tl::unexpected(ResourceNotFound(*p));
  return doc->value("id", p->Key());
}

Result<ArmResponse> Engine::Authorization(const ArmRequest& r, const std::string& scope,
                                          const std::vector<std::string>& rest) {
  COVE_ASSIGN_OR_RETURN(std::string scope_id, ScopeId(scope));
  std::string type = Lower(rest[0]);
  if (rest.size() <= 2 && type == "roleassignments") return RoleAssignments(r, scope_id, rest);
  if (rest.size() <= 2 && type == "roledefinitions") return RoleDefinitions(r, scope_id, rest);
  return ArmFail(404, "InvalidResourceType",
                 "The resource type '" + rest[0] +
                     "' could not be found in the namespace 'Microsoft.Authorization' (cove "
                     "serves roleAssignments and roleDefinitions).");
}

Result<ArmResponse> Engine::RoleDefinitions(const ArmRequest& r, const std::string& scope_id,
                                            const std::vector<std::string>& rest) {
  if (r.method != "GET") {
    return ArmFail(405, "MethodNotAllowed",
                   "cove serves only the built-in role definitions (GET).");
  }
  std::string sub = SubscriptionOf(scope_id);
  if (rest.size() == 2) {
    const BuiltInRole* role = FindRoleByGuid(rest[1]);
    if (role == nullptr) {
      return ArmFail(404, "RoleDefinitionDoesNotExist",
                     "The specified role definition with ID '" + rest[1] + "' does not exist.");
    }
    return ArmResponse{200, RoleDefinition(*role, sub)};
  }
  std::optional<std::string> name;
  if (!r.filter.empty()) {
    for (const auto& clause : Clauses(r.filter)) {
      name = EqClause(clause, "roleName");
      if (!name) return tl::unexpected(UnsupportedFilter(r.filter, "roleName eq '<name>'"));
    }
  }
  Json value = Json::array();
  for (const auto& role : BuiltInRoles()) {
    if (name && !EqualsIgnoreCase(*name, role.name)) continue;
    value.push_back(RoleDefinition(role, sub));
  }
  return ArmResponse{200, Json{{"value", value}}};
}

Result<ArmResponse> Engine::RoleAssignments(const ArmRequest& r, const std::string& scope_id,
                                            const std::vector<std::string>& rest) {
  std::string scope_key = Lower(scope_id);
  if (rest.size() == 1) {
    if (r.method != "GET") {
      return ArmFail(405, "MethodNotAllowed", "Use GET to list role assignments.");
    }
    std::optional<std::string> principal;
    bool at_scope = false;
    if (!r.filter.empty()) {
      for (const auto& clause : Clauses(r.filter)) {
        std::string lower = Lower(clause);
        if (auto id = EqClause(clause, "principalId")) {
          principal = Lower(*id);
        } else if (lower == "atscope()") {
          at_scope = true;
        } else if (lower.starts_with("assignedto(") && lower.ends_with(")")) {
          auto id = Quoted(std::string_view(clause).substr(11, clause.size() - 12));
          if (!id) {
            return tl::unexpected(UnsupportedFilter(
                r.filter, "principalId eq '<id>', assignedTo('<id>') and atScope()"));
          }
          principal = Lower(*id);
        } else {
          return tl::unexpected(UnsupportedFilter(
              r.filter, "principalId eq '<id>', assignedTo('<id>') and atScope()"));
        }
      }
    }
    Json value = Json::array();
    for (const auto& [k, d] : txn_.documents()) {
      if (!IsAssignment(*d)) continue;
      const Json& props = (*d)["properties"];
      std::string s = Lower(props.value("scope", ""));
      bool above = AtOrBelow(scope_key, s);
      bool below = AtOrBelow(s, scope_key);
      if (!(above || (below && !at_scope))) continue;
      if (principal && Lower(props.value("principalId", "")) != *principal) continue;
      value.push_back(RenderDoc(*d));
    }
    return ArmResponse{200, Json{{"value", value}}};
  }
  const std::string& name = rest[1];
  std::string key = scope_key + kAssignmentsSegment + Lower(name);
  const Json* existing = txn_.Get(key);
  if (r.method == "GET") {
    if (existing == nullptr) {
      return ArmFail(404, "RoleAssignmentNotFound",
                     "The role assignment '" + name + "' is not found.");
    }
    return ArmResponse{200, RenderDoc(*existing)};
  }
  if (r.method == "DELETE") {
    if (existing == nullptr) return ArmResponse{204, std::nullopt};
    Json gone = RenderDoc(*existing);
    txn_.Erase(key);
    return ArmResponse{200, gone};
  }
  if (r.method != "PUT") {
    return ArmFail(405, "MethodNotAllowed", "Role assignments support GET, PUT and DELETE.");
  }
  if (!IsGuid(name)) {
    return ArmFail(400, "InvalidRoleAssignmentId",
                   "The role assignment ID '" + name +
                       "' is not valid. The role assignment ID must be a GUID.");
  }
  Json body = Json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  if (!body.is_object()) return tl::unexpected(BadContent("$", "must be a JSON object"));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto role_id, props.String("roleDefinitionId"));
  COVE_ASSIGN_OR_RETURN(auto principal_id, props.String("principalId"));
  COVE_ASSIGN_OR_RETURN(
      auto principal_type,
      props.Enum("principalType", {"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}));
  COVE_ASSIGN_OR_RETURN(auto description, props.String("description"));
  if (!role_id || role_id->empty()) {
    return tl::unexpected(BadContent("properties.roleDefinitionId", "is required"));
  }
  if (!principal_id || principal_id->empty()) {
    return tl::unexpected(BadContent("properties.principalId", "is required"));
  }
  auto guid = RoleDefinitionGuid(*role_id);
  const BuiltInRole* role = guid ? FindRoleByGuid(*guid) : nullptr;
  if (role == nullptr) {
    return ArmFail(400, "RoleDefinitionDoesNotExist",
                   "The specified role definition with ID '" + (guid ? *guid : *role_id) +
                       "' does not exist.");
  }
  auto principal = FindPrincipal(txn_, *principal_id);
  if (!principal) {
    return ArmFail(400, "PrincipalNotFound",
                   "Principal " + Lower(*principal_id) + " does not exist in the directory " +
                       kTenantId + ".");
  }
  if (principal_type && *principal_type != principal->type) {
    return ArmFail(400, "UnmatchedPrincipalType",
                   "The PrincipalId '" + principal->id + "' has type '" + principal->type +
                       "', which is different from specified PrincipalType '" + *principal_type +
                       "'.");
  }
  std::string role_definition_id =
      SubscriptionOf(scope_id) + "/providers/Microsoft.Authorization/roleDefinitions/" + role->guid;
  for (const auto& [k, d] : txn_.documents()) {
    if (!IsAssignment(*d) || k == key) continue;
    const Json& dp = (*d)["properties"];
    if (Lower(d->value("name", "")) == Lower(name)) {
      return ArmFail(400, "RoleAssignmentUpdateNotPermitted",
                     "Tenant ID, application ID, principal ID, and scope are not allowed to be "
                     "updated (role assignment " +
                         name + " exists at scope " + dp.value("scope", "") + ").");
    }
    if (Lower(dp.value("scope", "")) == (scope_key.empty() ? "/" : scope_key) &&
        Lower(dp.value("principalId", "")) == Lower(principal->id) &&
        RoleDefinitionGuid(dp.value("roleDefinitionId", "")) ==
            std::optional<std::string>(role->guid)) {
      return ArmFail(409, "RoleAssignmentExists", "The role assignment already exists.");
    }
  }
  if (existing != nullptr) {
    const Json& ep = (*existing)["properties"];
    if (Lower(ep.value("principalId", "")) != Lower(principal->id) ||
        RoleDefinitionGuid(ep.value("roleDefinitionId", "")) !=
            std::optional<std::string>(role->guid)) {
      return ArmFail(400, "RoleAssignmentUpdateNotPermitted",
                     "Tenant ID, application ID, principal ID, and scope are not allowed to be "
                     "updated.");
    }
    Json doc = *existing;
    if (description) doc["properties"]["description"] = *description;
    doc["properties"]["updatedOn"] = FormatArmTime(NowFrom(options_));
    txn_.Put(key, doc);
    return ArmResponse{200, RenderDoc(doc)};
  }
  std::string now = FormatArmTime(NowFrom(options_));
  Json doc = {
      {"id", scope_id + "/providers/Microsoft.Authorization/roleAssignments/" + Lower(name)},
      {"name", Lower(name)},
      {"type", kAssignmentType},
      {"properties",
       {{"roleDefinitionId", role_definition_id},
        {"principalId", principal->id},
        {"principalType", principal->type},
        {"scope", scope_id.empty() ? std::string("/") : scope_id},
        {"condition", nullptr},
        {"conditionVersion", nullptr},
        {"description", description ? Json(*description) : Json(nullptr)},
        {"createdOn", now},
        {"updatedOn", now},
        {"createdBy", nullptr},
        {"updatedBy", nullptr}}}};
  txn_.Put(key, doc);
  return ArmResponse{201, RenderDoc(doc)};
}

namespace {

void ProjectIdentity(const std::string&, const Json& doc, Snapshot& snapshot) {
  const Json& props = doc.contains("properties") ? doc["properties"] : Json::object();
  PrincipalView p;
  p.kind = PrincipalKind::kManagedIdentity;
  p.id = Str(props, "principalId");
  p.name = Str(doc, "name");
  p.app_id = Str(props, "clientId");
  p.resource_id = Str(doc, "id");
  snapshot.principals.push_back(std::move(p));
}

void ProjectRoleAssignment(const std::string&, const Json& doc, Snapshot& snapshot) {
  const Json& props = doc.contains("properties") ? doc["properties"] : Json::object();
  RoleAssignmentView a;
  a.id = Str(doc, "id");
  a.name = Str(doc, "name");
  a.principal_id = Str(props, "principalId");
  a.principal_type = Str(props, "principalType");
  a.role_definition_id = Str(props, "roleDefinitionId");
  auto guid = RoleDefinitionGuid(a.role_definition_id);
  const BuiltInRole* role = guid ? FindRoleByGuid(*guid) : nullptr;
  a.role_name = role ? role->name : "";
  a.scope = Str(props, "scope");
  snapshot.role_assignments.push_back(std::move(a));
}

}  // namespace

void RegisterIdentityProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.ManagedIdentity/userAssignedIdentities",
                .location = LocationRule::kRegional,
                .api_versions = ManagedIdentityApiVersions(),
                .delete_rank = 90,
                .put = EngineFn<&Engine::PutIdentity>,
                .remove = EngineFn<&Engine::DeleteIdentity>,
                .project = ProjectIdentity});
  // Role assignments are extension resources at any scope, served by Authorization().
  registry.Add({.type = "Microsoft.Authorization/roleAssignments",
                .api_versions = AuthorizationApiVersions(),
                .project = ProjectRoleAssignment,
                .extension = true});
}

}  // namespace cove::arm
