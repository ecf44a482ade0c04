#include "arm/directory.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>

#include "arm/identity_support.h"
#include "arm/projection.h"
#include "common/percent.h"

namespace cove::arm {
namespace {

constexpr const char* kGraph = "https://graph.microsoft.com/v1.0/$metadata#";

Error GraphError(int status, const std::string& code, const std::string& message) {
  return ArmErrorOf(status, code, message);
}

tl::unexpected<Error> BadProperty(const std::string& property, const std::string& resource) {
  return tl::unexpected(GraphError(
      400, "Request_BadRequest",
      "Invalid value specified for property '" + property + "' of resource '" + resource + "'."));
}

tl::unexpected<Error> NotFound(const std::string& what) {
  return tl::unexpected(GraphError(404, "Request_ResourceNotFound",
                                   "Resource '" + what +
                                       "' does not exist or one of its queried reference-property "
                                       "objects are not present."));
}

tl::unexpected<Error> MethodNotAllowed() {
  return tl::unexpected(GraphError(405, "Request_BadRequest",
                                   "Specified HTTP method is not allowed for the request target."));
}

tl::unexpected<Error> NoSegment(const std::string& segment) {
  return tl::unexpected(
      GraphError(400, "BadRequest", "Resource not found for the segment '" + segment + "'."));
}

Result<Json> ParseBody(const std::string& text) {
  Json body = Json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!body.is_object()) {
    return tl::unexpected(GraphError(400, "BadRequest",
                                     "Unable to read JSON request payload. Please ensure "
                                     "Content-Type header is set and payload is of valid JSON "
                                     "format."));
  }
  return body;
}

// An optional string member; a wrong type is Graph's bad-property error.
Result<std::optional<std::string>> Str(const Json& obj, const char* key, const char* resource) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null())
    return std::optional<std::string>();
  if (!obj[key].is_string()) return BadProperty(key, resource);
  return std::optional<std::string>(obj[key].get<std::string>());
}

Result<std::optional<bool>> Bool(const Json& obj, const char* key, const char* resource) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return std::optional<bool>();
  if (!obj[key].is_boolean()) return BadProperty(key, resource);
  return std::optional<bool>(obj[key].get<bool>());
}

bool IsValidUpn(const std::string& upn) {
  size_t at = upn.find('@');
  if (at == std::string::npos || at == 0 || upn.find('@', at + 1) != std::string::npos)
    return false;
  for (size_t i = 0; i < at; ++i) {
    unsigned char c = static_cast<unsigned char>(upn[i]);
    if (!std::isalnum(c) && std::string_view("._-+'!#$%&*/=?^`{|}~").find(static_cast<char>(c)) ==
                                std::string_view::npos) {
      return false;
    }
  }
  if (upn.front() == '.' || upn[at - 1] == '.') return false;
  return IsValidDnsName(upn.substr(at + 1), 1);
}

bool IsComplexEnough(const std::string& password) {
  if (password.size() < 8 || password.size() > 256) return false;
  bool lower = false, upper = false, digit = false, symbol = false;
  for (char ch : password) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::islower(c)) {
      lower = true;
    } else if (std::isupper(c)) {
      upper = true;
    } else if (std::isdigit(c)) {
      digit = true;
    } else {
      symbol = true;
    }
  }
  return lower + upper + digit + symbol >= 3;
}

// One condition of a Graph $filter: the object's `property` (a string, or for /any() each
// string of an array) equals `value`, or starts with it; Graph compares without case.
struct GraphCondition {
  std::string property;
  std::string value;  // lowercased
  bool prefix = false;
  bool Matches(const Json& object) const {
    auto it = object.find(property);
    if (it == object.end()) return false;
    auto test = [&](const Json& v) {
      if (!v.is_string()) return false;
      std::string text = Lower(v.get<std::string>());
      return prefix ? text.starts_with(value) : text == value;
    };
    if (it->is_array()) return std::any_of(it->begin(), it->end(), test);
    return test(*it);
  }
};

tl::unexpected<Error> UnsupportedQuery(std::string_view filter) {
  return tl::unexpected(GraphError(400, "Request_UnsupportedQuery",
                                   "Unsupported or invalid query filter clause specified: '" +
                                       std::string(filter) + "'."));
}

// The $filter forms az sends, joined by "and": `p eq 'v'`, `startswith(p,'v')`,
// `p/any(x:x eq 'v')` ('' inside a literal is one quote). Anything else is Graph's
// Request_UnsupportedQuery, never a filter silently ignored.
Result<std::vector<GraphCondition>> ParseGraphFilter(std::string_view filter) {
  std::vector<GraphCondition> out;
  size_t i = 0;
  auto spaces = [&] {
    while (i < filter.size() && filter[i] == ' ') ++i;
  };
  auto word = [&] {
    size_t start = i;
    while (i < filter.size() && (std::isalnum(static_cast<unsigned char>(filter[i])) ||
                                 filter[i] == '_' || filter[i] == '.')) {
      ++i;
    }
    return std::string(filter.substr(start, i - start));
  };
  auto literal = [&](char c) {
    spaces();
    if (i >= filter.size() || filter[i] != c) return false;
    ++i;
    return true;
  };
  auto keyword = [&](std::string_view k) {
    spaces();
    if (Lower(filter.substr(i, k.size())) != k) return false;
    i += k.size();
    return true;
  };
  auto quoted = [&]() -> std::optional<std::string> {
    if (!literal('\'')) return std::nullopt;
    std::string v;
    while (i < filter.size()) {
      if (filter[i] == '\'') {
        if (i + 1 < filter.size() && filter[i + 1] == '\'') {
          v += '\'';
          i += 2;
          continue;
        }
        ++i;
        return Lower(v);
      }
      v += filter[i++];
    }
    return std::nullopt;
  };
  do {
    spaces();
    GraphCondition c;
    if (keyword("startswith(")) {
      spaces();
      c.property = word();
      c.prefix = true;
      if (!literal(',')) return UnsupportedQuery(filter);
      auto v = quoted();
      if (!v || !literal(')')) return UnsupportedQuery(filter);
      c.value = *v;
    } else {
      c.property = word();
      bool any = literal('/');
      if (any) {  // p/any(x:x eq 'v')
        if (!keyword("any(")) return UnsupportedQuery(filter);
        spaces();
        std::string var = word();
        if (var.empty() || !literal(':')) return UnsupportedQuery(filter);
        spaces();
        if (word() != var) return UnsupportedQuery(filter);
      }
      if (!keyword("eq ")) return UnsupportedQuery(filter);
      auto v = quoted();
      if (!v || (any && !literal(')'))) return UnsupportedQuery(filter);
      c.value = *v;
    }
    if (c.property.empty()) return UnsupportedQuery(filter);
    out.push_back(std::move(c));
    spaces();
  } while (i < filter.size() && keyword("and "));
  if (i != filter.size()) return UnsupportedQuery(filter);
  return out;
}

Json Strip(const Json& doc) {
  Json out = doc;
  out.erase("_cove");
  return out;
}

Json RenderUser(const Json& doc) {
  Json out = Strip(doc);
  for (const char* f :
       {"givenName", "jobTitle", "mobilePhone", "officeLocation", "preferredLanguage", "surname"}) {
    if (!out.contains(f)) out[f] = nullptr;
  }
  if (!out.contains("businessPhones")) out["businessPhones"] = Json::array();
  return out;
}

Json WithContext(Json doc, const std::string& context) {
  Json out = {{"@odata.context", kGraph + context}};
  out.update(doc);
  return out;
}

}  // namespace

bool IsGraphPath(std::string_view path) {
  return path.size() >= 5 && EqualsIgnoreCase(path.substr(0, 5), "/v1.0") &&
         (path.size() == 5 || path[5] == '/');
}

std::string Directory::Lookup(const std::string& collection, const std::string& id,
                              const char* alternate) const {
  std::string prefix = "#directory/" + collection + "/";
  std::string lower = Lower(id);
  if (txn_.Get(prefix + lower) != nullptr) return prefix + lower;
  for (const auto& k : txn_.KeysWithPrefix(prefix)) {
    if (Lower(txn_.Get(k)->value(alternate, "")) == lower) return k;
  }
  return "";
}

Result<ArmResponse> Directory::Dispatch(const ArmRequest& r) {
  std::vector<std::string> seg;
  std::string_view rest = std::string_view(r.path).substr(5);
  while (!rest.empty()) {
    if (rest.front() == '/') {
      rest.remove_prefix(1);
      continue;
    }
    size_t slash = rest.find('/');
    auto decoded = PercentDecode(rest.substr(0, slash), false);
    if (!decoded) return NoSegment(std::string(rest.substr(0, slash)));
    seg.push_back(*decoded);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  if (seg.empty()) return NoSegment("v1.0");
  std::string collection = Lower(seg[0]);
  if (collection == "users") return Users(r, seg);
  if (collection == "applications") return Applications(r, seg);
  if (collection == "serviceprincipals") return ServicePrincipals(r, seg);
  return NoSegment(seg[0]);
}

// ---------------------------------------------------------------- users

Result<ArmResponse> Directory::Users(const ArmRequest& r, const std::vector<std::string>& seg) {
  auto now = NowFrom(options_);
  if (seg.size() == 1) {
    if (r.method == "GET") return List(r, "users", RenderUser, "users");
    if (r.method != "POST") return MethodNotAllowed();
    COVE_ASSIGN_OR_RETURN(Json body, ParseBody(r.body));
    COVE_ASSIGN_OR_RETURN(auto display, Str(body, "displayName", "User"));
    COVE_ASSIGN_OR_RETURN(auto upn, Str(body, "userPrincipalName", "User"));
    COVE_ASSIGN_OR_RETURN(auto nickname, Str(body, "mailNickname", "User"));
    COVE_ASSIGN_OR_RETURN(auto enabled, Bool(body, "accountEnabled", "User"));
    if (!display || display->empty()) return BadProperty("displayName", "User");
    if (!upn || !IsValidUpn(*upn)) return BadProperty("userPrincipalName", "User");
    if (body.contains("passwordProfile") && !body["passwordProfile"].is_object()) {
      return BadProperty("passwordProfile", "User");
    }
    const Json profile = body.value("passwordProfile", Json::object());
    COVE_ASSIGN_OR_RETURN(auto password, Str(profile, "password", "User"));
    COVE_ASSIGN_OR_RETURN(auto force_change,
                          Bool(profile, "forceChangePasswordNextSignIn", "User"));
    if (!password) return BadProperty("passwordProfile", "User");
    if (!Lookup("users", *upn, "userPrincipalName").empty()) {
      return tl::unexpected(GraphError(400, "Request_BadRequest",
                                       "Another object with the same value for property "
                                       "userPrincipalName already exists."));
    }
    if (!IsComplexEnough(*password)) {
      return tl::unexpected(GraphError(400, "Request_BadRequest",
                                       "The specified password does not comply with password "
                                       "complexity requirements. Please provide a different "
                                       "password."));
    }
    auto hash = HashSecret(*password, options_.fast_password_hashing);
    if (!hash) return tl::unexpected(GraphError(500, "InternalServerError", hash.error().message));
    std::string id = RandomGuid(options_);
    Json doc = {{"id", id},
                {"displayName", *display},
                {"userPrincipalName", *upn},
                {"mailNickname", nickname ? *nickname : upn->substr(0, upn->find('@'))},
                {"accountEnabled", enabled.value_or(true)},
                {"mail", nullptr},
                {"createdDateTime", FormatGraphTime(now)},
                {"_cove",
                 {{"passwordHash", *hash},
                  {"forceChangePasswordNextSignIn", force_change.value_or(false)}}}};
    txn_.Put("#directory/users/" + id, doc);
    return ArmResponse{201, WithContext(RenderUser(doc), "users/$entity")};
  }
  if (seg.size() != 2) return NoSegment(seg[2]);
  return PrincipalObject(r, Lookup("users", seg[1], "userPrincipalName"), seg[1], RenderUser,
                         "users/$entity");
}

Result<ArmResponse> Directory::List(const ArmRequest& r, const std::string& collection,
                                    Json (*render)(const Json&), const char* context) {
  std::vector<GraphCondition> conditions;
  if (!r.filter.empty()) {
    COVE_ASSIGN_OR_RETURN(conditions, ParseGraphFilter(r.filter));
  }
  Json value = Json::array();
  for (const auto& k : txn_.KeysWithPrefix("#directory/" + collection + "/")) {
    Json object = render(*txn_.Get(k));
    if (std::all_of(conditions.begin(), conditions.end(),
                    [&](const GraphCondition& c) { return c.Matches(object); })) {
      value.push_back(std::move(object));
    }
  }
  return ArmResponse{200, Json{{"@odata.context", std::string(kGraph) + context},
                               {"value", std::move(value)}}};
}

Result<ArmResponse> Directory::PrincipalObject(const ArmRequest& r, const std::string& key,
                                               const std::string& what, Json (*render)(const Json&),
                                               const char* context) {
  if (r.method != "GET" && r.method != "DELETE" && r.method != "PATCH") return MethodNotAllowed();
  if (key.empty()) return NotFound(what);
  if (r.method == "GET") return ArmResponse{200, WithContext(render(*txn_.Get(key)), context)};
  if (r.method == "PATCH") {  // only accountEnabled may change (disabling ends its tokens)
    COVE_ASSIGN_OR_RETURN(Json body, ParseBody(r.body));
    const char* type = key.starts_with("#directory/users/") ? "User" : "ServicePrincipal";
    COVE_ASSIGN_OR_RETURN(auto enabled, Bool(body, "accountEnabled", type));
    for (const auto& [k, v] : body.items()) {
      if (k != "accountEnabled") return BadProperty(k.c_str(), type);
    }
    Json doc = *txn_.Get(key);
    if (enabled) doc["accountEnabled"] = *enabled;
    txn_.Put(key, doc);
    return ArmResponse{204, std::nullopt};
  }
  DeleteRoleAssignmentsOf(txn_, txn_.Get(key)->value("id", ""));
  txn_.Erase(key);
  return ArmResponse{204, std::nullopt};
}

// ---------------------------------------------------------------- applications

Result<ArmResponse> Directory::Applications(const ArmRequest& r,
                                            const std::vector<std::string>& seg) {
  auto now = NowFrom(options_);
  if (seg.size() == 1) {
    if (r.method == "GET") return List(r, "applications", Strip, "applications");
    if (r.method != "POST") return MethodNotAllowed();
    COVE_ASSIGN_OR_RETURN(Json body, ParseBody(r.body));
    COVE_ASSIGN_OR_RETURN(auto display, Str(body, "displayName", "Application"));
    if (!display || display->empty()) return BadProperty("displayName", "Application");
    std::string id = RandomGuid(options_);
    Json doc = {{"id", id},
                {"appId", RandomGuid(options_)},
                {"displayName", *display},
                {"createdDateTime", FormatGraphTime(now)},
                {"signInAudience", "AzureADMyOrg"},
                {"passwordCredentials", Json::array()},
                {"_cove", {{"secrets", Json::object()}}}};
    txn_.Put("#directory/applications/" + id, doc);
    return ArmResponse{201, WithContext(Strip(doc), "applications/$entity")};
  }
  std::string key = Lookup("applications", seg[1], "appId");
  if (seg.size() == 3) {
    std::string action = Lower(seg[2]);
    if (action != "addpassword" && action != "removepassword") return NoSegment(seg[2]);
    if (r.method != "POST") return MethodNotAllowed();
    if (key.empty()) return NotFound(seg[1]);
    COVE_ASSIGN_OR_RETURN(Json body, ParseBody(r.body));
    Json doc = *txn_.Get(key);
    if (action == "removepassword") {
      COVE_ASSIGN_OR_RETURN(auto key_id, Str(body, "keyId", "PasswordCredential"));
      if (!key_id) return BadProperty("keyId", "PasswordCredential");
      Json kept = Json::array();
      for (const auto& c : doc["passwordCredentials"]) {
        if (Lower(c.value("keyId", "")) != Lower(*key_id)) kept.push_back(c);
      }
      if (kept.size() == doc["passwordCredentials"].size()) {
        return tl::unexpected(
            GraphError(400, "Request_BadRequest",
                       "No password credential found with keyId '" + *key_id + "'."));
      }
      doc["passwordCredentials"] = kept;
      doc["_cove"]["secrets"].erase(Lower(*key_id));
      txn_.Put(key, doc);
      return ArmResponse{204, std::nullopt};
    }
    if (body.contains("passwordCredential") && !body["passwordCredential"].is_null() &&
        !body["passwordCredential"].is_object()) {
      return BadProperty("passwordCredential", "PasswordCredential");
    }
    const Json credential = body.value("passwordCredential", Json::object());
    COVE_ASSIGN_OR_RETURN(auto display, Str(credential, "displayName", "PasswordCredential"));
    COVE_ASSIGN_OR_RETURN(auto end_text, Str(credential, "endDateTime", "PasswordCredential"));
    auto end = now + std::chrono::hours(24 * 365);
    if (end_text) {
      auto parsed = ParseIsoTime(*end_text);
      if (!parsed || *parsed <= now) return BadProperty("endDateTime", "PasswordCredential");
      end = *parsed;
    }
    std::string secret = GenerateSecret();
    auto hash = HashSecret(secret, options_.fast_password_hashing);
    if (!hash) return tl::unexpected(GraphError(500, "InternalServerError", hash.error().message));
    std::string key_id = RandomGuid(options_);
    Json shown = {{"customKeyIdentifier", nullptr},
                  {"displayName", display ? Json(*display) : Json(nullptr)},
                  {"endDateTime", FormatGraphTime(end)},
                  {"hint", secret.substr(0, 3)},
                  {"keyId", key_id},
                  {"secretText", nullptr},
                  {"startDateTime", FormatGraphTime(now)}};
    doc["passwordCredentials"].push_back(shown);
    doc["_cove"]["secrets"][key_id] = {{"hash", *hash}, {"expiry", UnixSeconds(end)}};
    txn_.Put(key, doc);
    shown["secretText"] = secret;
    return ArmResponse{200, WithContext(shown, "microsoft.graph.passwordCredential")};
  }
  if (seg.size() != 2) return NoSegment(seg[3]);
  if (r.method == "GET") {
    if (key.empty()) return NotFound(seg[1]);
    return ArmResponse{200, WithContext(Strip(*txn_.Get(key)), "applications/$entity")};
  }
  if (r.method == "PATCH") {  // displayName only (what az ad app create sends to an existing one)
    if (key.empty()) return NotFound(seg[1]);
    COVE_ASSIGN_OR_RETURN(Json body, ParseBody(r.body));
    COVE_ASSIGN_OR_RETURN(auto display, Str(body, "displayName", "Application"));
    for (const auto& [k, v] : body.items()) {
      if (k != "displayName") return BadProperty(k, "Application");
    }
    if (display && display->empty()) return BadProperty("displayName", "Application");
    Json doc = *txn_.Get(key);
    if (display) doc["displayName"] = *display;
    txn_.Put(key, doc);
    return ArmResponse{204, std::nullopt};
  }
  if (r.method == "DELETE") {
    if (key.empty()) return NotFound(seg[1]);
    std::string app_id = Lower(txn_.Get(key)->value("appId", ""));
    for (const auto& k : txn_.KeysWithPrefix("#directory/serviceprincipals/")) {
      const Json* sp = txn_.Get(k);
      if (Lower(sp->value("appId", "")) != app_id) continue;
      DeleteRoleAssignmentsOf(txn_, sp->value("id", ""));
      txn_.Erase(k);
    }
    txn_.Erase(key);
    return ArmResponse{204, std::nullopt};
  }
  return MethodNotAllowed();
}

// ---------------------------------------------------------------- service principals

Result<ArmResponse> Directory::ServicePrincipals(const ArmRequest& r,
                                                 const std::vector<std::string>& seg) {
  if (seg.size() == 1) {
    if (r.method == "GET") return List(r, "serviceprincipals", Strip, "servicePrincipals");
    if (r.method != "POST") return MethodNotAllowed();
    COVE_ASSIGN_OR_RETURN(Json body, ParseBody(r.body));
    COVE_ASSIGN_OR_RETURN(auto app_id, Str(body, "appId", "ServicePrincipal"));
    if (!app_id || app_id->empty()) return BadProperty("appId", "ServicePrincipal");
    std::string app_key;
    for (const auto& k : txn_.KeysWithPrefix("#directory/applications/")) {
      if (Lower(txn_.Get(k)->value("appId", "")) == Lower(*app_id)) app_key = k;
    }
    if (app_key.empty()) {
      return tl::unexpected(GraphError(400, "Request_BadRequest",
                                       "The appId '" + *app_id +
                                           "' of the service principal does not reference a valid "
                                           "application object."));
    }
    if (!Lookup("serviceprincipals", *app_id, "appId").empty()) {
      return tl::unexpected(GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                                       "The service principal cannot be created, updated, or "
                                       "restored because the service principal name " +
                                           *app_id + " is already in use."));
    }
    const Json& app = *txn_.Get(app_key);
    std::string id = RandomGuid(options_);
    Json doc = {{"id", id},
                {"appId", app.value("appId", "")},
                {"displayName", app.value("displayName", "")},
                {"appDisplayName", app.value("displayName", "")},
                {"appOwnerOrganizationId", kTenantId},
                {"servicePrincipalType", "Application"},
                {"servicePrincipalNames", Json::array({app.value("appId", "")})},
                {"accountEnabled", true},
                {"createdDateTime", FormatGraphTime(NowFrom(options_))}};
    txn_.Put("#directory/serviceprincipals/" + id, doc);
    return ArmResponse{201, WithContext(doc, "servicePrincipals/$entity")};
  }
  if (seg.size() != 2) return NoSegment(seg[2]);
  return PrincipalObject(r, Lookup("serviceprincipals", seg[1], "appId"), seg[1], Strip,
                         "servicePrincipals/$entity");
}

void ProjectDirectoryObject(const std::string& key, const Json& doc, Snapshot& snapshot) {
  if (key.starts_with("#directory/users/")) {
    PrincipalView p;
    p.kind = PrincipalKind::kUser;
    p.id = Str(doc, "id");
    p.name = Str(doc, "userPrincipalName");
    p.enabled = doc.value("accountEnabled", true);
    p.secrets.push_back(
        {"password", doc.contains("_cove") ? Str(doc["_cove"], "passwordHash") : "", std::nullopt});
    snapshot.principals.push_back(std::move(p));
  } else if (key.starts_with("#directory/serviceprincipals/")) {
    PrincipalView p;
    p.kind = PrincipalKind::kServicePrincipal;
    p.id = Str(doc, "id");
    p.name = Str(doc, "displayName");
    p.app_id = Str(doc, "appId");
    p.enabled = doc.value("accountEnabled", true);
    for (auto it = snapshot.documents.lower_bound("#directory/applications/");
         it != snapshot.documents.end() && it->first.starts_with("#directory/applications/");
         ++it) {
      if (EqualsIgnoreCase(Str(*it->second, "appId"), p.app_id)) {
        p.secrets = Secrets(Cove(*it->second, "secrets"));
      }
    }
    snapshot.principals.push_back(std::move(p));
  }
}

}  // namespace cove::arm
