#include "arm/rbac.h"

#include <vector>

#include "arm/directory.h"
#include "arm/operations.h"
#include "arm/resource_path.h"
#include "common/percent.h"

namespace cove::arm {
namespace {

constexpr std::string_view kUnknown = "cove/unknownRequest/action";

std::string Verb(std::string_view method) {
  if (method == "GET" || method == "HEAD") return "read";
  if (method == "DELETE") return "delete";
  if (method == "POST") return "action";
  return "write";  // PUT, PATCH; anything else the engine refuses with 405
}

ArmOperation Unknown() { return ArmOperation{std::string(kUnknown), "/"}; }

ArmOperation GraphOperation(std::string_view method, std::string_view path) {
  ArmOperation op;
  op.graph = true;
  op.scope = "/";
  if (method == "GET" || method == "HEAD") {
    op.any_principal = true;
    op.action = "microsoft.directory/read";
    return op;
  }
  std::vector<std::string> seg;
  for (const auto& raw : RawPathSegments(path)) {
    auto s = PercentDecode(raw, false);
    seg.push_back(s ? Lower(*s) : raw);
  }
  // seg[0] == "v1.0"
  std::string type = seg.size() > 1 ? seg[1] : "";
  if (type == "serviceprincipals") type = "servicePrincipals";
  if (seg.size() > 3 && (seg[3] == "addpassword" || seg[3] == "removepassword")) {
    op.action = "microsoft.directory/" + type + "/credentials/update";
  } else if (method == "POST") {
    op.action = "microsoft.directory/" + type + "/create";
  } else if (method == "DELETE") {
    op.action = "microsoft.directory/" + type + "/delete";
  } else {
    op.action = "microsoft.directory/" + type + "/update";
  }
  return op;
}

// {scope}/providers/Microsoft.Authorization/{type}[/{name}], found as the engine finds it (the
// first such providers segment); nullopt for other paths.
std::optional<ArmOperation> AuthorizationOperation(std::string_view method,
                                                   const std::vector<std::string>& raw) {
  for (size_t i = 0; i + 1 < raw.size(); ++i) {
    if (!EqualsIgnoreCase(raw[i], "providers")) continue;
    auto ns = PercentDecode(raw[i + 1], false);
    if (!ns || !EqualsIgnoreCase(*ns, "Microsoft.Authorization")) continue;
    if (i + 2 >= raw.size()) return std::nullopt;  // the provider itself
    std::string scope;
    for (size_t j = 0; j < i; ++j) {
      auto s = PercentDecode(raw[j], false);
      if (!s) return Unknown();
      scope += "/" + *s;
    }
    std::vector<std::string> rest;
    for (size_t j = i + 2; j < raw.size(); ++j) {
      auto s = PercentDecode(raw[j], false);
      if (!s || s->empty()) return Unknown();
      rest.push_back(*s);
    }
    std::string type = Lower(rest[0]);
    if (type == "roleassignments") type = "roleAssignments";
    if (type == "roledefinitions") type = "roleDefinitions";
    ArmOperation op;
    op.action = "Microsoft.Authorization/" + type + "/" + Verb(method);
    op.scope = scope;
    if (rest.size() == 2) op.scope += "/providers/Microsoft.Authorization/" + rest[0] + "/" + rest[1];
    if (op.scope.empty()) op.scope = "/";
    return op;
  }
  return std::nullopt;
}

std::string SubscriptionId(const ArmPath& p) { return "/subscriptions/" + p.subscription; }
std::string GroupId(const ArmPath& p) {
  return SubscriptionId(p) + "/resourceGroups/" + p.resource_group;
}

}  // namespace

ArmOperation OperationFor(std::string_view method, std::string_view path) {
  if (IsGraphPath(path)) return GraphOperation(method, path);
  if (auto op = AuthorizationOperation(method, RawPathSegments(path))) return *op;
  if ((method == "GET" || method == "HEAD") && EqualsIgnoreCase(path, "/tenants")) {
    return ArmOperation{.action = "Microsoft.Resources/tenants/read", .scope = "/",
                        .any_principal = true};
  }
  if (auto status = ParseOperationPath(path)) {
    // A long-running operation's status (arm/operations.h): its id is an unguessable GUID
    // handed to the writer, so being signed in is enough, as for ARM's.
    return ArmOperation{status->provider + "/locations/operations/read",
                        "/subscriptions/" + status->subscription, true};
  }
  auto parsed = ParseArmPath(path);
  if (!parsed) return Unknown();
  const ArmPath& p = *parsed;
  const std::string verb = Verb(method);
  ArmOperation op;
  switch (p.kind) {
    case PathKind::kSubscriptions:
      if (method != "GET" && method != "HEAD") return Unknown();
      op.action = "Microsoft.Resources/subscriptions/read";
      op.scope = "/";
      op.any_principal = true;
      return op;
    case PathKind::kSubscription:
      op.action = "Microsoft.Resources/subscriptions/" + verb;
      op.scope = SubscriptionId(p);
      return op;
    case PathKind::kProviders:
    case PathKind::kProvider:
      op.action = "Microsoft.Resources/subscriptions/providers/" + verb;
      op.scope = SubscriptionId(p);
      return op;
    case PathKind::kProviderChild: {
      std::string word = Lower(p.word);
      op.scope = SubscriptionId(p);
      if (method == "POST" && (word == "register" || word == "unregister")) {
        op.action = p.provider + "/" + word + "/action";
      } else if (word == "checknameavailability") {
        op.action = p.provider + "/checkNameAvailability/read";
      } else {
        op.action = p.provider + "/" + p.word + "/" + verb;
        op.list = method == "GET";
      }
      return op;
    }
    case PathKind::kResourceGroups:
      op.action = "Microsoft.Resources/subscriptions/resourceGroups/" + verb;
      op.scope = SubscriptionId(p);
      op.list = method == "GET";
      return op;
    case PathKind::kResourceGroup:
      op.action = "Microsoft.Resources/subscriptions/resourceGroups/" + verb;
      op.scope = GroupId(p);
      return op;
    case PathKind::kGenericResources:
      // A listing: who may not read the whole scope gets the resources it may read.
      op.action = p.resource_group.empty()
                      ? "Microsoft.Resources/subscriptions/resources/" + verb
                      : "Microsoft.Resources/subscriptions/resourceGroups/resources/" + verb;
      op.scope = p.resource_group.empty() ? SubscriptionId(p) : GroupId(p);
      op.list = method == "GET";
      return op;
    case PathKind::kResource:
    case PathKind::kCollection: {
      std::string type = p.provider;
      for (const auto& t : p.types) type += "/" + t;
      // The id of the resource itself, or (a collection) of the parent it belongs to.
      std::string id = GroupId(p);
      if (!p.names.empty()) id += "/providers/" + p.provider;
      for (size_t i = 0; i < p.names.size(); ++i) id += "/" + p.types[i] + "/" + p.names[i];
      op.scope = id;
      if (p.kind == PathKind::kCollection && method == "POST") {
        op.action = type + "/action";  // .../registries/listCredentials/action
      } else {
        op.action = type + "/" + verb;
        op.list = p.kind == PathKind::kCollection && method == "GET";
      }
      return op;
    }
  }
  return Unknown();
}

bool ActionMatches(std::string_view pattern, std::string_view action) {
  // Iterative glob with '*' only (backtracking to the last star).
  size_t p = 0, a = 0, star = std::string_view::npos, mark = 0;
  auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  while (a < action.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = a;
    } else if (p < pattern.size() && lower(pattern[p]) == lower(action[a])) {
      ++p;
      ++a;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      a = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool RoleGrants(const BuiltInRole& role, std::string_view action) {
  bool granted = false;
  for (const char* a : role.actions) granted = granted || ActionMatches(a, action);
  if (!granted) return false;
  for (const char* n : role.not_actions) {
    if (ActionMatches(n, action)) return false;
  }
  return true;
}

bool ScopeCovers(std::string_view outer, std::string_view inner) {
  while (outer.size() > 1 && outer.back() == '/') outer.remove_suffix(1);
  while (inner.size() > 1 && inner.back() == '/') inner.remove_suffix(1);
  if (outer.empty() || outer == "/") return true;
  if (inner.size() < outer.size()) return false;
  if (!EqualsIgnoreCase(inner.substr(0, outer.size()), outer)) return false;
  return inner.size() == outer.size() || inner[outer.size()] == '/';
}

AccessDecision Authorize(const Snapshot& snapshot, std::string_view principal_id,
                         const ArmOperation& operation) {
  AccessDecision d;
  for (const auto& p : snapshot.principals) {
    if (EqualsIgnoreCase(p.id, principal_id)) {
      d.principal = &p;
      break;
    }
  }
  if (d.principal == nullptr) {
    d.verdict = Verdict::kUnknownPrincipal;
    return d;
  }
  if (!d.principal->enabled) {
    d.verdict = Verdict::kDisabled;
    return d;
  }
  if (operation.any_principal) {
    d.verdict = Verdict::kAllowed;
    return d;
  }
  for (const auto& a : snapshot.role_assignments) {
    if (!EqualsIgnoreCase(a.principal_id, d.principal->id)) continue;
    if (!ScopeCovers(a.scope, operation.scope)) continue;
    const BuiltInRole* role = nullptr;
    if (auto guid = RoleDefinitionGuid(a.role_definition_id)) role = FindRoleByGuid(*guid);
    if (role == nullptr) role = FindRoleByName(a.role_name);
    if (role != nullptr && RoleGrants(*role, operation.action)) {
      d.verdict = Verdict::kAllowed;
      return d;
    }
  }
  d.verdict = Verdict::kDenied;
  return d;
}

void FilterList(const Snapshot& snapshot, std::string_view principal_id, Json& body) {
  if (!body.is_object() || !body.contains("value") || !body["value"].is_array()) return;
  Json kept = Json::array();
  for (auto& item : body["value"]) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_string()) continue;
    ArmOperation read = OperationFor("GET", item["id"].get<std::string>());
    if (Authorize(snapshot, principal_id, read).verdict == Verdict::kAllowed) {
      kept.push_back(std::move(item));
    }
  }
  body["value"] = std::move(kept);
}

std::string AuthorizationFailedMessage(const PrincipalView& principal,
                                       const ArmOperation& operation) {
  std::string client = principal.kind == PrincipalKind::kUser ? principal.name : principal.app_id;
  if (client.empty()) client = principal.id;
  return "The client '" + client + "' with object id '" + principal.id +
         "' does not have authorization to perform action '" + operation.action +
         "' over scope '" + operation.scope +
         "' or the scope is invalid. If access was recently granted, please refresh your "
         "credentials.";
}

}  // namespace cove::arm
