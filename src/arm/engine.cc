#include "arm/engine.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "arm/identity_support.h"
#include "arm/provider.h"
#include "arm/resource_listing.h"
#include "common/percent.h"

namespace cove::arm {
namespace {

const char* kNamespaces[] = {"Microsoft.Network", "Microsoft.ContainerRegistry",
                             "Microsoft.Authorization", "Microsoft.Compute",
                             "Microsoft.ManagedIdentity", "Microsoft.ContainerInstance",
                             // AKS (clusters.cc)
                             "Microsoft.ContainerService",
                             // cove's own: on-premises sites (sites.cc), Kubernetes
                             // deployments (clusters.cc)
                             "Cove.OnPremises", "Cove.Kubernetes"};

std::string CanonicalNamespace(std::string_view ns) {
  for (const char* n : kNamespaces) {
    if (EqualsIgnoreCase(n, ns)) return n;
  }
  return "";
}

// The segment of a canonical type after its last '/'.
std::string TypeSegment(const std::string& canonical) {
  return canonical.substr(canonical.rfind('/') + 1);
}

bool IsValidResourceGroupName(std::string_view n) {
  if (n.empty() || n.size() > 90 || n.back() == '.') return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' &&
        c != '(' && c != ')') {
      return false;
    }
  }
  return true;
}

ArmResponse Ok200(Json body) { return ArmResponse{200, std::move(body)}; }

}  // namespace

// ---------------------------------------------------------------- helpers

std::string NormalizeLocation(std::string_view location) {
  std::string out;
  for (char c : location) {
    if (c != ' ') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool IsValidNetworkName(std::string_view n) {
  if (n.empty() || n.size() > 80) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!std::isalnum(static_cast<unsigned char>(n.front())) && n.front() != '_') return false;
  if (!word(n.back())) return false;
  for (char c : n) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsValidDnsName(std::string_view name, int min_labels) {
  if (name.empty() || name.size() > 253) return false;
  int labels = 0;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? name.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels >= min_labels;
}

std::string LastSegment(const std::string& id) { return id.substr(id.rfind('/') + 1); }

std::string ParentOfKey(const std::string& key, int levels) {
  std::string out = key;
  for (int i = 0; i < levels * 2; ++i) out = out.substr(0, out.rfind('/'));
  return out;
}

Error BadContent(const std::string& where, const std::string& what) {
  return ArmErrorOf(400, "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized: '" + where +
                        "' " + what + ".");
}

Error InvalidReference(const std::string& id, const std::string& referenced_by) {
  return ArmErrorOf(400, "InvalidResourceReference",
                    "Resource " + id + " referenced by resource " + referenced_by +
                        " was not found. Please make sure that the referenced resource exists, "
                        "and that both resources are in the same region.");
}

Error NameInvalid(const std::string& name, const std::string& type, const std::string& rule) {
  return ArmErrorOf(400, "InvalidResourceName",
                    "Resource name " + name + " is invalid for type " + type + ". " + rule);
}

// ---------------------------------------------------------------- Txn

const Json* Txn::Get(const std::string& key) const {
  auto it = docs_.find(key);
  return it == docs_.end() ? nullptr : it->second.get();
}

void Txn::Put(const std::string& key, Json doc) {
  docs_[key] = std::make_shared<const Json>(std::move(doc));
  touched_.insert(key);
}

void Txn::Erase(const std::string& key) {
  if (docs_.erase(key) > 0) touched_.insert(key);
}

void Txn::EraseTree(const std::string& key) {
  for (const auto& k : KeysWithPrefix(key + "/")) Erase(k);
  Erase(key);
}

std::vector<std::string> Txn::KeysWithPrefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (auto it = docs_.lower_bound(prefix); it != docs_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->first);
  }
  return out;
}

std::vector<std::string> Txn::Children(const std::string& parent, const std::string& type) const {
  std::string prefix = parent + "/" + type + "/";
  std::vector<std::string> out;
  for (auto& k : KeysWithPrefix(prefix)) {
    if (k.find('/', prefix.size()) == std::string::npos) out.push_back(std::move(k));
  }
  return out;
}

std::vector<std::pair<std::string, std::optional<std::string>>> Txn::Changes() const {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  for (const auto& key : touched_) {
    auto it = docs_.find(key);
    if (it == docs_.end()) {
      out.emplace_back(key, std::nullopt);
    } else {
      out.emplace_back(key, it->second->dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }
  return out;
}

// ---------------------------------------------------------------- Body

namespace {
const Json* Member(const Json* obj, const char* key) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  auto it = obj->find(key);
  if (it == obj->end() || it->is_null()) return nullptr;
  return &*it;
}
}  // namespace

Result<std::optional<std::string>> Body::String(const char* key) const {
  const Json* v = Member(json_, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return tl::unexpected(BadContent(where_ + "." + key, "must be a string"));
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::optional<bool>> Body::Bool(const char* key) const {
  const Json* v = Member(json_, key);
  if (v == nullptr) return std::optional<bool>();
  if (v->is_boolean()) return std::optional<bool>(v->get<bool>());
  if (v->is_string()) {  // ARM accepts "true"/"false" strings
    if (EqualsIgnoreCase(v->get<std::string>(), "true")) return std::optional<bool>(true);
    if (EqualsIgnoreCase(v->get<std::string>(), "false")) return std::optional<bool>(false);
  }
  return tl::unexpected(BadContent(where_ + "." + key, "must be a boolean"));
}

Result<std::optional<int64_t>> Body::Int(const char* key) const {
  const Json* v = Member(json_, key);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_number_integer()) return std::optional<int64_t>(v->get<int64_t>());
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return tl::unexpected(BadContent(where_ + "." + key, "must be an integer"));
}

Result<Body> Body::Object(const char* key) const {
  const Json* v = Member(json_, key);
  if (v != nullptr && !v->is_object()) {
    return tl::unexpected(BadContent(where_ + "." + key, "must be an object"));
  }
  return Body(v, where_ + "." + key);
}

Result<std::vector<Body>> Body::Array(const char* key, bool* present) const {
  const Json* v = Member(json_, key);
  if (present != nullptr) *present = v != nullptr;
  std::vector<Body> out;
  if (v == nullptr) return out;
  if (!v->is_array()) return tl::unexpected(BadContent(where_ + "." + key, "must be an array"));
  for (size_t i = 0; i < v->size(); ++i) {
    std::string w = where_ + "." + key + "[" + std::to_string(i) + "]";
    if (!(*v)[i].is_object()) return tl::unexpected(BadContent(w, "must be an object"));
    out.emplace_back(&(*v)[i], w);
  }
  return out;
}

Result<std::vector<std::string>> Body::StringArray(const char* key, bool* present) const {
  const Json* v = Member(json_, key);
  if (present != nullptr) *present = v != nullptr;
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (!v->is_array()) return tl::unexpected(BadContent(where_ + "." + key, "must be an array"));
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      return tl::unexpected(
          BadContent(where_ + "." + key + "[" + std::to_string(i) + "]", "must be a string"));
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

Result<std::optional<std::string>> Body::Enum(const char* key,
                                              std::initializer_list<const char*> allowed) const {
  COVE_ASSIGN_OR_RETURN(auto value, String(key));
  if (!value) return value;
  std::string list;
  for (const char* a : allowed) {
    if (EqualsIgnoreCase(a, *value)) return std::optional<std::string>(a);
    list += list.empty() ? std::string(a) : std::string(", ") + a;
  }
  return tl::unexpected(BadContent(where_ + "." + key,
                                   "has the value '" + *value + "'; allowed values: " + list));
}

Result<std::string> Body::RefId(const char* key) const {
  COVE_ASSIGN_OR_RETURN(Body ref, Object(key));
  if (!ref.present()) return std::string();
  COVE_ASSIGN_OR_RETURN(auto id, ref.String("id"));
  if (!id || id->empty()) return tl::unexpected(BadContent(ref.where() + ".id", "is required"));
  if (!ParseResourceId(*id)) {
    return ArmFail(400, "LinkedInvalidPropertyId",
                   "Property id '" + *id + "' at path '" + ref.where() +
                       ".id' is invalid. Expect fully qualified resource Id that start with "
                       "'/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.");
  }
  return *id;
}

// ---------------------------------------------------------------- engine: setup

Status Engine::Bootstrap() {
  std::string sub = kDefaultSubscription;
  std::string key = "/subscriptions/" + sub;
  if (txn_.Get(key) != nullptr) {
    // A store made by an older coved: providers added since then start registered, and
    // registries get the admin passwords they have had from creation since.
    for (const char* ns : kNamespaces) {
      std::string pk = key + "/providers/" + Lower(ns);
      if (txn_.Get(pk) != nullptr) continue;
      txn_.Put(pk, Json{{"id", key + "/providers/" + ns},
                        {"namespace", ns},
                        {"registrationState", "Registered"}});
    }
    std::vector<std::string> registries;
    for (const auto& [k, d] : txn_.documents()) {
      if (Lower(d->value("type", "")) == "microsoft.containerregistry/registries") {
        registries.push_back(k);
      }
    }
    for (const auto& k : registries) COVE_RETURN_IF_ERROR(EnsureAdminCredentials(k));
    return {};
  }
  txn_.Put(key, Json{{"id", key},
                     {"subscriptionId", sub},
                     {"displayName", "cove"},
                     {"state", "Enabled"},
                     {"tenantId", "c0ffee00-0000-4000-8000-0000000000ff"}});
  for (const char* ns : kNamespaces) {
    txn_.Put(key + "/providers/" + Lower(ns),
             Json{{"id", key + "/providers/" + ns},
                  {"namespace", ns},
                  {"registrationState", "Registered"}});
  }
  return {};
}

std::string Engine::Guid() { return RandomGuid(options_); }

Clock::TimePoint NowFrom(const ControlPlaneOptions& options) {
  if (options.clock != nullptr) return options.clock->Now();
  return SystemClock().Now();
}

Error ResourceNotFound(const ArmPath& p) {
  std::string what = CanonicalNamespace(p.provider);
  if (what.empty()) what = p.provider;
  for (size_t i = 0; i < p.types.size() && i < p.names.size(); ++i) {
    what += "/" + p.types[i] + "/" + p.names[i];
  }
  return ArmErrorOf(404, "ResourceNotFound",
                    "The Resource '" + what + "' under resource group '" + p.resource_group +
                        "' was not found. For more details please go to "
                        "https://aka.ms/ARMResourceNotFoundFix");
}

std::string RandomGuid(const ControlPlaneOptions& options) {
  uint64_t a = options.random(), b = options.random();
  a = (a & 0xffffffffffff0fffULL) | 0x4000ULL;          // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

uint32_t Engine::NextLinkId() {
  const Json* meta = txn_.Get("#meta");
  Json m = meta ? *meta : Json::object();
  uint32_t next = m.value("next_link_id", 0x10000001u);
  m["next_link_id"] = next + 1;
  txn_.Put("#meta", m);
  return next;
}

std::string Engine::IdFor(const ArmPath& p, const Json* existing) const {
  if (existing != nullptr) return existing->value("id", "");
  const ResourceProvider& provider = *ResourceProviders().Find(p.TypeKey());
  const Json* parent = txn_.Get(p.ParentKey());
  std::string parent_id = parent != nullptr ? parent->value("id", "") : p.ParentKey();
  if (p.types.size() == 1) {
    parent_id += "/providers/" + CanonicalNamespace(p.provider);
  }
  return parent_id + "/" + TypeSegment(provider.type) + "/" + p.names.back();
}

Result<Json> Engine::Envelope(const ArmPath& p, const Json& body, const Json* existing,
                              bool has_location, bool global_location) {
  const ResourceProvider& provider = *ResourceProviders().Find(p.TypeKey());
  Json doc = existing != nullptr ? *existing : Json::object();
  Body b(&body, "");
  doc["id"] = IdFor(p, existing);
  doc["name"] = existing != nullptr ? existing->value("name", p.names.back()) : p.names.back();
  doc["type"] = provider.type;
  if (has_location) {
    COVE_ASSIGN_OR_RETURN(auto location, b.String("location"));
    std::string loc;
    if (location) loc = NormalizeLocation(*location);
    if (global_location) {
      if (loc.empty()) loc = "global";
      if (loc != "global") {
        return ArmFail(400, "LocationNotAvailableForResourceType",
                       "The provided location '" + *location +
                           "' is not available for resource type '" + provider.type +
                           "'. List of available regions for the resource type is 'global'.");
      }
    }
    if (loc.empty() && existing != nullptr) loc = existing->value("location", "");
    if (loc.empty()) {
      return ArmFail(400, "LocationRequired",
                     "The location property is required for this definition.");
    }
    if (existing != nullptr && existing->value("location", loc) != loc) {
      return ArmFail(400, "InvalidResourceLocation",
                     "The resource '" + doc["name"].get<std::string>() +
                         "' already exists in location '" + existing->value("location", "") +
                         "' in resource group '" + p.resource_group +
                         "'. A resource with the same name cannot be created in location '" +
                         loc + "'. Please select a new resource name.");
    }
    doc["location"] = loc;
  }
  if (body.contains("tags") && !body["tags"].is_null()) {
    if (!body["tags"].is_object()) return tl::unexpected(BadContent("tags", "must be an object"));
    for (const auto& [k, v] : body["tags"].items()) {
      if (!v.is_string()) return tl::unexpected(BadContent("tags." + k, "must be a string"));
    }
    doc["tags"] = body["tags"];
  } else if (!doc.contains("tags") && has_location) {
    doc["tags"] = Json::object();
  }
  if (!doc.contains("properties") || !doc["properties"].is_object()) {
    doc["properties"] = Json::object();
  }
  if (body.contains("properties") && !body["properties"].is_null() &&
      !body["properties"].is_object()) {
    return tl::unexpected(BadContent("properties", "must be an object"));
  }
  doc["properties"]["provisioningState"] = "Succeeded";
  doc["etag"] = "W/\"" + Guid() + "\"";
  return doc;
}

// ---------------------------------------------------------------- dispatch

Result<ArmResponse> Engine::Dispatch(const ArmRequest& r) {
  request_ = &r;
  if (!r.api_version || r.api_version->empty()) {
    return ArmFail(400, "MissingApiVersionParameter",
                   "The api-version query parameter (?api-version=) is required for all "
                   "requests.");
  }
  // Extension resources at any scope: {scope}/providers/Microsoft.Authorization/...
  {
    std::vector<std::string> raw;
    for (size_t start = 1; start <= r.path.size();) {
      size_t slash = r.path.find('/', start);
      if (slash == std::string::npos) slash = r.path.size();
      raw.push_back(r.path.substr(start, slash - start));
      start = slash + 1;
    }
    for (size_t i = 0; i + 1 < raw.size(); ++i) {
      if (!EqualsIgnoreCase(raw[i], "providers")) continue;
      auto ns = PercentDecode(raw[i + 1], false);
      if (!ns || !EqualsIgnoreCase(*ns, "Microsoft.Authorization")) continue;
      std::string scope;
      for (size_t j = 0; j < i; ++j) scope += "/" + raw[j];
      std::vector<std::string> rest;
      for (size_t j = i + 2; j < raw.size(); ++j) {
        auto seg = PercentDecode(raw[j], false);
        if (!seg || seg->empty()) {
          return ArmFail(400, "InvalidRequestUri",
                         "The request URI '" + r.path + "' is not valid: bad segment.");
        }
        rest.push_back(*seg);
      }
      if (rest.empty()) break;  // the provider itself: the usual routes
      return Authorization(r, scope, rest);
    }
  }
  // GET /tenants: the caller's tenant, cove's one (az login -u lists it before subscriptions).
  if (EqualsIgnoreCase(r.path, "/tenants")) {
    if (r.method != "GET") return ArmFail(405, "MethodNotAllowed", "Use GET on /tenants.");
    return Ok200(Json{{"value", Json::array({Json{{"id", std::string("/tenants/") + kTenantId},
                                                  {"tenantId", kTenantId},
                                                  {"tenantCategory", "Home"},
                                                  {"displayName", "cove"},
                                                  {"defaultDomain", "cove.local"},
                                                  {"domains", Json::array({"cove.local"})},
                                                  {"tenantType", "AAD"}}})}});
  }
  auto parsed = ParseArmPath(r.path);
  if (!parsed) {
    return ArmFail(400, "InvalidRequestUri",
                   "The request URI '" + r.path + "' is not valid: " + parsed.error().message +
                       ".");
  }
  const ArmPath& p = *parsed;
  if (p.kind == PathKind::kSubscriptions || p.kind == PathKind::kSubscription) {
    return Subscriptions(r, p);
  }
  const Json* sub = txn_.Get(p.SubscriptionKey());
  if (sub == nullptr) {
    return ArmFail(404, "SubscriptionNotFound",
                   "The subscription '" + p.subscription + "' could not be found.");
  }
  switch (p.kind) {
    case PathKind::kProviders:
    case PathKind::kProvider:
    case PathKind::kProviderChild:
      return Providers(r, p);
    case PathKind::kResourceGroups:
    case PathKind::kResourceGroup:
      return ResourceGroups(r, p);
    case PathKind::kGenericResources:
      return ListResources(txn_, r, p);
    default:
      break;
  }
  if (txn_.Get(p.ResourceGroupKey()) == nullptr) {
    return ArmFail(404, "ResourceGroupNotFound",
                   "Resource group '" + p.resource_group + "' could not be found.");
  }
  std::string ns = CanonicalNamespace(p.provider);
  if (ns.empty() || ns == "Microsoft.Authorization") {
    return ArmFail(400, "InvalidResourceNamespace",
                   "The resource namespace '" + p.provider + "' is invalid.");
  }
  bool record_listing = p.kind == PathKind::kCollection && p.types.size() == 2 &&
                        (p.TypeKey() == "microsoft.network/privatednszones/all" ||
                         p.TypeKey() == "microsoft.network/privatednszones/recordsets");
  // Actions (POST {resource}/{action}) keep accepting any api-version, as they always have.
  if (p.kind == PathKind::kCollection && r.method == "POST") return Collection(r, p);
  const ResourceProvider* provider = ResourceProviders().FindRouted(
      record_listing ? "microsoft.network/privatednszones" : p.TypeKey());
  if (provider == nullptr) {
    std::string type;
    for (const auto& t : p.types) type += (type.empty() ? "" : "/") + t;
    return ArmFail(404, "InvalidResourceType",
                   "The resource type '" + type + "' could not be found in the namespace '" + ns +
                       "' for api version '" + *r.api_version + "'.");
  }
  COVE_RETURN_IF_ERROR(CheckApiVersion(*provider, *r.api_version));
  if (p.names.size() > (p.kind == PathKind::kResource ? 1u : 0u)) {
    ArmPath owner = p;
    if (provider->parent_not_stored && owner.names.size() > 1) {
      owner.types.resize(owner.names.size() - 1);
      owner.names.pop_back();
      owner.kind = PathKind::kCollection;
    }
    const Json* parent = txn_.Get(owner.ParentKey());
    if (parent == nullptr) {
      size_t i = p.names.size() - (p.kind == PathKind::kResource ? 2 : 1);
      return ArmFail(404, "ParentResourceNotFound",
                     "Can not perform requested operation on nested resource. Parent resource '" +
                         p.names[i] + "' not found.");
    }
  }
  if (p.kind == PathKind::kCollection) return Collection(r, p);
  return Resource(r, p);
}

Result<ArmResponse> Engine::Subscriptions(const ArmRequest& r, const ArmPath& p) {
  if (p.kind == PathKind::kSubscriptions) {
    if (r.method != "GET") return ArmFail(405, "MethodNotAllowed", "Use GET on /subscriptions.");
    Json value = Json::array();
    for (const auto& k : txn_.KeysWithPrefix("/subscriptions/")) {
      if (k.find('/', 15) == std::string::npos) value.push_back(*txn_.Get(k));
    }
    return Ok200(Json{{"value", value}});
  }
  std::string key = p.SubscriptionKey();
  const Json* sub = txn_.Get(key);
  if (r.method == "GET") {
    if (sub == nullptr) {
      return ArmFail(404, "SubscriptionNotFound",
                     "The subscription '" + p.subscription + "' could not be found.");
    }
    return Ok200(*sub);
  }
  if (r.method != "PUT") {
    return ArmFail(405, "MethodNotAllowed", "Subscriptions support GET and PUT (a cove extension).");
  }
  if (!IsGuid(p.subscription)) {
    return ArmFail(400, "InvalidSubscriptionId",
                   "The provided subscription identifier '" + p.subscription +
                       "' is malformed or invalid; it must be a GUID.");
  }
  Json body = Json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  if (!body.is_object()) return tl::unexpected(BadContent("$", "must be a JSON object"));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(auto name, b.String("displayName"));
  Json doc = sub != nullptr ? *sub
                            : Json{{"id", "/subscriptions/" + Lower(p.subscription)},
                                   {"subscriptionId", Lower(p.subscription)},
                                   {"state", "Enabled"},
                                   {"tenantId", "c0ffee00-0000-4000-8000-0000000000ff"}};
  doc["displayName"] = name ? *name : doc.value("displayName", p.subscription);
  txn_.Put(key, doc);
  return ArmResponse{sub == nullptr ? 201 : 200, doc};
}

Result<ArmResponse> Engine::Providers(const ArmRequest& r, const ArmPath& p) {
  std::string sub_key = p.SubscriptionKey();
  auto provider_doc = [&](const std::string& ns) {
    const Json* d = txn_.Get(sub_key + "/providers/" + Lower(ns));
    if (d != nullptr) return *d;
    return Json{{"id", "/subscriptions/" + Lower(p.subscription) + "/providers/" + ns},
                {"namespace", ns},
                {"registrationState", "NotRegistered"}};
  };
  if (p.kind == PathKind::kProviders) {
    if (r.method != "GET") return ArmFail(405, "MethodNotAllowed", "Use GET to list providers.");
    Json value = Json::array();
    for (const char* ns : kNamespaces) value.push_back(provider_doc(ns));
    return Ok200(Json{{"value", value}});
  }
  std::string ns = CanonicalNamespace(p.provider);
  if (ns.empty()) {
    return ArmFail(404, "InvalidResourceNamespace",
                   "The resource namespace '" + p.provider + "' is invalid.");
  }
  if (p.kind == PathKind::kProvider) {
    if (r.method != "GET") return ArmFail(405, "MethodNotAllowed", "Use GET on a provider.");
    return Ok200(provider_doc(ns));
  }
  std::string word = Lower(p.word);
  if (r.method == "POST" && (word == "register" || word == "unregister")) {
    Json doc = provider_doc(ns);
    doc["registrationState"] = word == "register" ? "Registered" : "NotRegistered";
    txn_.Put(sub_key + "/providers/" + Lower(ns), doc);
    return Ok200(doc);
  }
  if (r.method == "POST" && word == "checknameavailability" &&
      ns == "Microsoft.ContainerRegistry") {
    return CheckNameAvailability(r.body);
  }
  const ResourceProvider* listed = ResourceProviders().FindRouted(Lower(ns) + "/" + word);
  if (r.method == "GET" && listed != nullptr) {
    // A top-level type listed across the subscription.
    COVE_RETURN_IF_ERROR(CheckApiVersion(*listed, *r.api_version));
    std::string suffix_prefix = "/providers/" + Lower(ns) + "/" + word + "/";
    Json value = Json::array();
    for (const auto& k : txn_.KeysWithPrefix(sub_key + "/resourcegroups/")) {
      size_t at = k.find("/providers/");
      if (at == std::string::npos || k.compare(at, suffix_prefix.size(), suffix_prefix) != 0) {
        continue;
      }
      if (k.find('/', at + suffix_prefix.size()) != std::string::npos) continue;
      value.push_back(Render(k));
    }
    return Ok200(Json{{"value", value}});
  }
  return ArmFail(404, "InvalidResourceType",
                 "The resource type or action '" + p.word + "' could not be found in the "
                 "namespace '" + ns + "' at subscription scope.");
}

Status Engine::CheckRegistered(const std::string& subscription_key, const std::string& ns) {
  const Json* d = txn_.Get(subscription_key + "/providers/" + Lower(ns));
  if (d == nullptr || d->value("registrationState", "") != "Registered") {
    return ArmFail(409, "MissingSubscriptionRegistration",
                   "The subscription '" + subscription_key.substr(15) +
                       "' is not registered to use namespace '" + ns +
                       "'. See https://aka.ms/rps-not-found for how to register subscriptions.");
  }
  return {};
}

Result<ArmResponse> Engine::ResourceGroups(const ArmRequest& r, const ArmPath& p) {
  std::string sub_key = p.SubscriptionKey();
  if (p.kind == PathKind::kResourceGroups) {
    if (r.method != "GET") return ArmFail(405, "MethodNotAllowed", "Use GET to list groups.");
    Json value = Json::array();
    for (const auto& k : txn_.Children(sub_key, "resourcegroups")) value.push_back(Render(k));
    return Ok200(Json{{"value", value}});
  }
  std::string key = p.ResourceGroupKey();
  const Json* existing = txn_.Get(key);
  auto not_found = [&] {
    return ArmFail(404, "ResourceGroupNotFound",
                   "Resource group '" + p.resource_group + "' could not be found.");
  };
  if (r.method == "GET") {
    if (existing == nullptr) return not_found();
    return Ok200(Render(key));
  }
  if (r.method == "HEAD") return ArmResponse{existing != nullptr ? 204 : 404, std::nullopt};
  if (r.method == "DELETE") {
    if (existing == nullptr) return ArmResponse{204, std::nullopt};
    COVE_RETURN_IF_ERROR(DeleteResourceGroup(key));
    return ArmResponse{200, std::nullopt};
  }
  if (r.method != "PUT" && r.method != "PATCH") {
    return ArmFail(405, "MethodNotAllowed", "Resource groups support GET, HEAD, PUT, PATCH, DELETE.");
  }
  Json body = Json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  if (!body.is_object()) {
    return tl::unexpected(BadContent("$", "must be a JSON object"));
  }
  if (r.method == "PATCH") {
    if (existing == nullptr) return not_found();
    Json merged = Render(key);
    merged.merge_patch(body);
    body = merged;
  }
  if (!IsValidResourceGroupName(p.resource_group)) {
    return ArmFail(400, "InvalidResourceGroup",
                   "The provided resource group name '" + p.resource_group +
                       "' has these invalid characters or length: resource group names are 1-90 "
                       "characters of letters, digits, '_', '-', '.', '(' and ')', and cannot end "
                       "in '.'.");
  }
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(auto location, b.String("location"));
  std::string loc = location ? NormalizeLocation(*location) : "";
  if (loc.empty()) {
    return ArmFail(400, "LocationRequired", "The location property is required for this definition.");
  }
  if (existing != nullptr && existing->value("location", "") != loc) {
    return ArmFail(409, "InvalidResourceGroupLocation",
                   "Invalid resource group location '" + loc +
                       "'. The Resource group already exists in location '" +
                       existing->value("location", "") + "'.");
  }
  Json doc = existing != nullptr
                 ? *existing
                 : Json{{"id", "/subscriptions/" + Lower(p.subscription) + "/resourceGroups/" +
                                   p.resource_group},
                        {"name", p.resource_group},
                        {"type", "Microsoft.Resources/resourceGroups"},
                        {"properties", {{"provisioningState", "Succeeded"}}}};
  doc["location"] = loc;
  if (body.contains("tags") && body["tags"].is_object()) {
    doc["tags"] = body["tags"];
  } else if (body.contains("tags") && !body["tags"].is_null()) {
    return tl::unexpected(BadContent("tags", "must be an object"));
  } else if (!doc.contains("tags")) {
    doc["tags"] = Json::object();
  }
  txn_.Put(key, doc);
  return ArmResponse{existing == nullptr ? 201 : 200, Render(key)};
}

Result<ArmResponse> Engine::Resource(const ArmRequest& r, const ArmPath& p) {
  std::string key = p.Key();
  const ResourceProvider& provider = *ResourceProviders().FindRouted(p.TypeKey());
  if (provider.computed != nullptr) {
    if (r.method != "GET") {
      return ArmFail(405, "MethodNotAllowed", TypeSegment(provider.type) + " are read-only.");
    }
    return provider.computed(*this, p, true);
  }
  if (provider.intercept != nullptr) {
    if (auto answered = provider.intercept(*this, r, p)) return std::move(*answered);
  }
  const Json* existing = txn_.Get(key);
  auto not_found = [&] { return tl::unexpected(ResourceNotFound(p)); };
  if (r.method == "GET" || r.method == "HEAD") {
    if (existing == nullptr) return not_found();
    if (r.method == "HEAD") return ArmResponse{200, std::nullopt};
    return Ok200(Render(key));
  }
  if (r.method == "DELETE") {
    if (existing == nullptr) return ArmResponse{204, std::nullopt};
    COVE_RETURN_IF_ERROR(DeleteResource(key));
    return ArmResponse{200, std::nullopt};
  }
  if (r.method != "PUT" && r.method != "PATCH") {
    return ArmFail(405, "MethodNotAllowed",
                   "The HTTP method '" + r.method + "' is not supported for this resource.");
  }
  if (r.if_none_match == "*" && existing != nullptr) {
    return ArmFail(412, "PreconditionFailed",
                   "The resource '" + p.names.back() + "' already exists (If-None-Match: *).");
  }
  if (r.if_match == "*" && existing == nullptr) {
    return ArmFail(412, "PreconditionFailed",
                   "The resource '" + p.names.back() + "' does not exist (If-Match: *).");
  }
  Json body = Json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  if (body.is_discarded()) {
    return ArmFail(400, "InvalidRequestContent",
                   "The request content was invalid and could not be deserialized: the body is "
                   "not valid JSON.");
  }
  if (!body.is_object()) return tl::unexpected(BadContent("$", "must be a JSON object"));
  if (r.method == "PATCH" && existing != nullptr && provider.patch_updates_tags_only) {
    // The update changes tags only (merging the answer back would also turn values answers
    // leave out, such as ACI's secureValues, into empty ones).
    Json tags_only = Json::object();
    if (body.contains("tags")) tags_only["tags"] = body["tags"];
    COVE_ASSIGN_OR_RETURN(
        Json doc, Envelope(p, tags_only, existing, provider.location != LocationRule::kNone));
    txn_.Put(key, doc);
    return Ok200(Render(key));
  }
  if (r.method == "PATCH") {
    if (existing == nullptr) return not_found();
    Json merged = Render(key);
    merged.merge_patch(body);
    body = std::move(merged);
  }
  COVE_RETURN_IF_ERROR(CheckRegistered(p.SubscriptionKey(), CanonicalNamespace(p.provider)));
  bool created = existing == nullptr;
  COVE_RETURN_IF_ERROR(PutResource(p, body, existing));
  return ArmResponse{created ? 201 : 200, Render(key)};
}

Status Engine::PutResource(const ArmPath& p, const Json& body, const Json* existing) {
  const ResourceProvider* provider = ResourceProviders().FindRouted(p.TypeKey());
  if (provider == nullptr || provider->put == nullptr) {
    return ArmFail(405, "MethodNotAllowed", "This resource type cannot be written.");
  }
  return provider->put(*this, p, body, existing);
}

Status Engine::DeleteResource(const std::string& key) {
  const Json* doc = txn_.Get(key);
  if (doc == nullptr) return {};
  const ResourceProvider* provider = ResourceProviders().Find(doc->value("type", ""));
  if (provider != nullptr && provider->remove != nullptr) return provider->remove(*this, key);
  txn_.EraseTree(key);
  return {};
}

Status Engine::DeleteResourceGroup(const std::string& rg_key) {
  // Dependents first, so every cascade runs as it would for a single delete.
  std::vector<std::pair<int, std::string>> order;
  for (const auto& [type_key, provider] : ResourceProviders().all()) {
    if (provider.delete_rank > 0) order.emplace_back(provider.delete_rank, type_key);
  }
  std::sort(order.begin(), order.end());
  for (const auto& [rank, type] : order) {
    const ResourceProvider& provider = *ResourceProviders().Find(type);
    std::string prefix = rg_key + "/providers/" + type + "/";
    for (const auto& k : txn_.KeysWithPrefix(prefix)) {
      if (k.find('/', prefix.size()) != std::string::npos || txn_.Get(k) == nullptr) continue;
      if (provider.owned_by_other != nullptr && provider.owned_by_other(*txn_.Get(k))) {
        continue;  // goes with its owner (or is swept below)
      }
      COVE_RETURN_IF_ERROR(DeleteResource(k));
    }
  }
  txn_.EraseTree(rg_key);
  return {};
}

Result<ArmResponse> Engine::Collection(const ArmRequest& r, const ArmPath& p) {
  std::string type = p.TypeKey();
  if (r.method == "POST") {
    // An action on the resource named by all but the last segment.
    ArmPath target = p;
    std::string action = Lower(target.types.back());
    target.types.pop_back();
    target.kind = PathKind::kResource;
    if (target.types.empty() || txn_.Get(target.Key()) == nullptr) {
      return ArmFail(404, "ResourceNotFound",
                     "The resource for action '" + p.types.back() + "' was not found.");
    }
    const ResourceProvider* provider = ResourceProviders().FindRouted(target.TypeKey());
    if (provider != nullptr && provider->action != nullptr) {
      if (auto answered = provider->action(*this, target, action, r.body)) {
        return std::move(*answered);
      }
    }
    return ArmFail(404, "InvalidResourceType",
                   "The action '" + p.types.back() + "' is not supported by cove on this "
                   "resource type" + (action == "listcredentials"
                                          ? " yet (registry credentials belong to the auth plane)"
                                          : "") + ".");
  }
  if (r.method != "GET") {
    return ArmFail(405, "MethodNotAllowed", "Collections support GET only.");
  }
  const ResourceProvider* provider = ResourceProviders().FindRouted(type);
  if (provider != nullptr && provider->computed != nullptr)
    return provider->computed(*this, p, false);
  std::string parent = p.ParentKey();
  Json value = Json::array();
  // A private DNS zone's record sets of every type: the one collection that is not a type.
  bool all_records = Lower(p.provider) == "microsoft.network" && p.types.size() == 2 &&
                     Lower(p.types[0]) == "privatednszones" &&
                     (Lower(p.types[1]) == "all" || Lower(p.types[1]) == "recordsets");
  if (all_records) {
    for (const char* t : {"a", "cname"}) {
      for (const auto& k : txn_.Children(parent, t)) value.push_back(Render(k));
    }
    return Ok200(Json{{"value", value}});
  }
  if (provider == nullptr) {
    return ArmFail(404, "InvalidResourceType",
                   "The resource type '" + p.types.back() + "' could not be found in the namespace '" +
                       CanonicalNamespace(p.provider) + "'.");
  }
  std::string segment = Lower(p.types.back());
  if (p.types.size() == 1) parent += "/providers/" + Lower(p.provider);
  if (provider->list_prefix != nullptr) value = provider->list_prefix(*this, parent);
  for (const auto& k : txn_.Children(parent, segment)) value.push_back(Render(k));
  return Ok200(Json{{"value", value}});
}

ConnectionStatus Engine::ConnectionStatusOf(const std::string& connection_id) const {
  if (connection_status_ == nullptr || !*connection_status_) return {};
  return (*connection_status_)(connection_id).value_or(ConnectionStatus{});
}

Json Engine::Render(const std::string& key) const {
  const Json* doc = txn_.Get(key);
  if (doc == nullptr) return Json();
  return RenderDoc(*doc);
}

Json Engine::RenderDoc(const Json& doc) const {
  const ResourceProvider* provider = ResourceProviders().Find(doc.value("type", ""));
  Json out =
      provider != nullptr && provider->render != nullptr ? provider->render(*this, doc) : doc;
  out.erase("_cove");
  return out;
}

}  // namespace cove::arm
