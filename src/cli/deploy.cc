#include "cli/deploy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace cove::cli {

using nlohmann::json;

namespace {

json ScalarToJson(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted
  std::string lower = AsciiLower(text);
  if (lower == "true") return true;
  if (lower == "false") return false;
  if (lower == "null" || text == "~" || text.empty()) return nullptr;
  if (!text.empty() && text.find_first_not_of("-0123456789") == std::string::npos &&
      text.size() < 18 && text.find('-', 1) == std::string::npos && text != "-") {
    return std::stoll(text);
  }
  return text;
}

json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(YamlToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return out;
    }
  }
  return nullptr;
}

std::string LowerId(std::string id) {
  while (id.size() > 1 && id.back() == '/') id.pop_back();
  return AsciiLower(id);
}

// True when `prefix` is `id` or an ancestor of it (segment boundary).
bool IsPrefixId(const std::string& prefix, const std::string& id) {
  return id.size() >= prefix.size() && id.compare(0, prefix.size(), prefix) == 0 &&
         (id.size() == prefix.size() || id[prefix.size()] == '/');
}

void CollectIds(const json& value, std::vector<std::string>& out) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (IsResourceId(s)) out.push_back(s);
  } else if (value.is_structured()) {
    for (const auto& v : value) CollectIds(v, out);
  }
}

}  // namespace

Result<json> ParseDeploymentText(const std::string& text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) return parsed;
  }
  try {
    return YamlToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalidArgument, std::string("not valid YAML or JSON: ") + e.what());
  }
}

Result<json> Substitute(const json& doc, const std::map<std::string, std::string>& parameters) {
  if (doc.is_string()) {
    std::string s = doc.get<std::string>();
    std::string out;
    size_t pos = 0;
    while (true) {
      size_t start = s.find("${", pos);
      if (start == std::string::npos) break;
      size_t end = s.find('}', start);
      if (end == std::string::npos) break;
      std::string name = s.substr(start + 2, end - start - 2);
      auto it = parameters.find(name);
      if (it == parameters.end()) {
        return Fail(Code::kInvalidArgument, "unknown parameter ${" + name +
                                                "} (pass it with --parameters " + name + "=VALUE)");
      }
      out += s.substr(pos, start - pos) + it->second;
      pos = end + 1;
    }
    return json(out + s.substr(pos));
  }
  if (doc.is_array()) {
    json out = json::array();
    for (const auto& v : doc) {
      COVE_ASSIGN_OR_RETURN(json item, Substitute(v, parameters));
      out.push_back(std::move(item));
    }
    return out;
  }
  if (doc.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : doc.items()) {
      COVE_ASSIGN_OR_RETURN(json item, Substitute(v, parameters));
      out[k] = std::move(item);
    }
    return out;
  }
  return doc;
}

std::string ApiVersionFor(const std::string& type) {
  std::string t = AsciiLower(type);
  if (t.rfind("microsoft.resources/", 0) == 0) return kApiResources;
  if (t.rfind("microsoft.network/privatednszones", 0) == 0) return kApiPrivateDns;
  // DNS Private Resolver has api-versions of its own; cove's on-premises sites one.
  if (t.rfind("microsoft.network/dnsresolvers", 0) == 0 ||
      t.rfind("microsoft.network/dnsforwardingrulesets", 0) == 0) {
    return "2022-07-01";
  }
  if (t.rfind("cove.onpremises/", 0) == 0) return "2026-12-01";
  if (t.rfind("microsoft.network/", 0) == 0) return kApiNetwork;
  if (t.rfind("microsoft.containerregistry/", 0) == 0) return kApiAcr;
  if (t.rfind("microsoft.compute/", 0) == 0) return kApiCompute;
  return "";
}

Result<std::vector<PlannedResource>> Plan(const json& doc, const std::string& default_group,
                                          const std::string& subscription,
                                          std::vector<std::vector<std::string>>* outside_refs) {
  const json* list = &doc;
  if (doc.is_object() && doc.contains("resources")) list = &doc["resources"];
  if (!list->is_array()) {
    return Fail(Code::kInvalidArgument,
                "a deployment is a list of resources (or an object with 'resources': [...])");
  }
  std::vector<PlannedResource> items;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    std::string where = "resource #" + std::to_string(i + 1);
    if (!entry.is_object()) return Fail(Code::kInvalidArgument, where + " is not an object");
    PlannedResource r;
    r.body = entry.value("body", json::object());
    if (!r.body.is_object())
      return Fail(Code::kInvalidArgument, where + ": body must be an object");
    if (entry.contains("id")) {
      if (!entry["id"].is_string())
        return Fail(Code::kInvalidArgument, where + ": id must be a string");
      r.id = entry["id"].get<std::string>();
      auto parsed = ParseResourceId(r.id);
      if (!parsed) return Fail(Code::kInvalidArgument, where + ": " + parsed.error().message);
      r.type = parsed->types.empty() ? "Microsoft.Resources/resourceGroups" : parsed->Type();
      if (parsed->resource_group.empty()) {
        return Fail(Code::kInvalidArgument, where + ": '" + r.id + "' names no resource group");
      }
    } else {
      if (!entry.contains("type") || !entry["type"].is_string() || !entry.contains("name") ||
          !entry["name"].is_string()) {
        return Fail(Code::kInvalidArgument, where + ": needs 'id', or 'type' and 'name'");
      }
      r.type = entry["type"].get<std::string>();
      std::string name = entry["name"].get<std::string>();
      if (EqualsIgnoreCase(r.type, "Microsoft.Resources/resourceGroups")) {
        r.id = GroupPath(subscription, name);
      } else {
        std::string group = entry.value("resourceGroup", default_group);
        if (group.empty()) {
          return Fail(Code::kInvalidArgument,
                      where + " (" + name + "): no resourceGroup (give one or pass -g)");
        }
        std::vector<std::string> types, names;
        std::string part;
        std::stringstream ts(r.type), ns(name);
        while (std::getline(ts, part, '/')) types.push_back(part);
        while (std::getline(ns, part, '/')) names.push_back(part);
        if (types.size() < 2 || types.size() - 1 != names.size()) {
          return Fail(Code::kInvalidArgument,
                      where + ": type '" + r.type + "' needs a name with " +
                          std::to_string(types.size() < 2 ? 1 : types.size() - 1) +
                          " segment(s), got '" + name + "'");
        }
        r.id = GroupPath(subscription, group) + "/providers/" + types[0];
        for (size_t k = 1; k < types.size(); ++k) r.id += "/" + types[k] + "/" + names[k - 1];
      }
    }
    r.api_version = entry.value("apiVersion", ApiVersionFor(r.type));
    if (r.api_version.empty()) {
      return Fail(Code::kInvalidArgument,
                  where + ": unknown resource type '" + r.type + "' (give apiVersion)");
    }
    for (const auto& other : items) {
      if (LowerId(other.id) == LowerId(r.id)) {
        return Fail(Code::kInvalidArgument, "resource " + r.id + " appears twice");
      }
    }
    items.push_back(std::move(r));
  }

  // Edges: deps[i] = indexes i must come after.
  size_t n = items.size();
  std::vector<std::set<size_t>> deps(n);
  std::vector<std::vector<std::string>> outside(n);
  std::vector<std::string> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = LowerId(items[i].id);
  // The closest resource of the file at or above `id`, other than `self`.
  auto closest = [&](const std::string& id, size_t self) -> std::optional<size_t> {
    std::optional<size_t> best;
    for (size_t j = 0; j < n; ++j) {
      if (j == self || !IsPrefixId(ids[j], id)) continue;
      if (!best || ids[j].size() > ids[*best].size()) best = j;
    }
    return best;
  };
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (j != i && IsPrefixId(ids[j], ids[i])) deps[i].insert(j);
    }
    std::vector<std::string> refs;
    CollectIds(items[i].body, refs);
    for (const auto& ref : refs) {
      std::string lref = LowerId(ref);
      if (IsPrefixId(ids[i], lref)) continue;  // itself or its own children
      auto parsed = ParseResourceId(ref);
      auto at = closest(lref, i);
      // Covered when the closest resource of the file is the referenced top-level resource or
      // below it (not merely its resource group).
      bool covered = false;
      if (at && parsed && !parsed->types.empty()) {
        std::string top = LowerId(GroupPath(parsed->subscription, parsed->resource_group) +
                                  "/providers/" + parsed->provider + "/" + parsed->types[0].first +
                                  "/" + parsed->types[0].second);
        covered = IsPrefixId(top, ids[*at]);
      } else if (at && parsed && parsed->types.empty()) {
        covered = ids[*at] == lref;
      }
      if (covered) {
        deps[i].insert(*at);
      } else {
        outside[i].push_back(ref);
      }
    }
  }
  // Kahn's algorithm, keeping file order among ready resources.
  std::vector<PlannedResource> ordered;
  std::vector<std::vector<std::string>> ordered_outside;
  std::vector<bool> done(n, false);
  for (size_t round = 0; round < n; ++round) {
    bool progressed = false;
    for (size_t i = 0; i < n && !progressed; ++i) {
      if (done[i]) continue;
      bool ready = std::all_of(deps[i].begin(), deps[i].end(), [&](size_t d) { return done[d]; });
      if (!ready) continue;
      done[i] = true;
      ordered.push_back(items[i]);
      ordered_outside.push_back(outside[i]);
      progressed = true;
    }
    if (!progressed) break;
  }
  if (ordered.size() != n) {
    std::string cycle;
    for (size_t i = 0; i < n; ++i) {
      if (!done[i]) cycle += (cycle.empty() ? "" : ", ") + items[i].id;
    }
    return Fail(Code::kInvalidArgument, "dependency cycle among: " + cycle);
  }
  if (outside_refs) *outside_refs = std::move(ordered_outside);
  return ordered;
}

bool Contains(const json& actual, const json& desired) {
  if (desired.is_object()) {
    if (!actual.is_object()) return false;
    for (const auto& [k, v] : desired.items()) {
      if (!actual.contains(k)) {
        if (v.is_null()) continue;
        return false;
      }
      if (!Contains(actual[k], v)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!actual.is_array() || actual.size() != desired.size()) return false;
    for (const auto& d : desired) {
      bool found =
          std::any_of(actual.begin(), actual.end(), [&](const json& a) { return Contains(a, d); });
      if (!found) return false;
    }
    return true;
  }
  if (desired.is_string() && actual.is_string()) {
    return EqualsIgnoreCase(desired.get<std::string>(), actual.get<std::string>());
  }
  return actual == desired;
}

Outcome ApplyDeployment(Context& ctx, const json& doc, const std::string& default_group,
                        std::map<std::string, std::string> parameters) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  parameters["subscription"] = *sub;
  if (!default_group.empty() && !parameters.count("resourceGroup")) {
    parameters["resourceGroup"] = default_group;
  }
  auto substituted = Substitute(doc, parameters);
  if (!substituted) return Outcome::Failure("invalid deployment: " + substituted.error().message);
  std::vector<std::vector<std::string>> outside;
  auto plan = Plan(*substituted, default_group, *sub, &outside);
  if (!plan) return Outcome::Failure("invalid deployment: " + plan.error().message);
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());

  // Every reference outside the file must already exist: check all before changing anything.
  for (size_t i = 0; i < plan->size(); ++i) {
    for (const auto& ref : outside[i]) {
      auto parsed = ParseResourceId(ref);
      std::string api =
          parsed && !parsed->types.empty() ? ApiVersionFor(parsed->Type()) : kApiResources;
      if (api.empty()) api = kApiResources;
      auto exists = (*arm)->Exists(ref, api);
      if (!exists) return Outcome::FromArm(exists.error());
      if (!*exists) {
        return Outcome::Failure("invalid deployment: unknown reference " + ref + " in " +
                                (*plan)[i].id + " (it is neither in the file nor on the server)");
      }
    }
  }

  json report = json::array();
  for (const auto& r : *plan) {
    auto current = (*arm)->Get(r.id, r.api_version);
    std::string action;
    if (current) {
      action = Contains(*current, r.body) ? "unchanged" : "updated";
    } else if (current.error().status == 404) {
      action = "created";
    } else {
      return Outcome::FromArm(current.error());
    }
    if (action != "unchanged") {
      auto res = (*arm)->Put(r.id, r.api_version, r.body);
      if (!res) {
        Outcome failed = Outcome::FromArm(res.error());
        if (!report.empty()) {
          ctx.err() << "cove deploy: applied before the failure:\n";
          for (const auto& done : report) {
            ctx.err() << "  " << done["action"].get<std::string>() << " "
                      << done["id"].get<std::string>() << "\n";
          }
        }
        failed.error = "deploying " + r.id + ": " + failed.error;
        return failed;
      }
    }
    report.push_back({{"action", action}, {"id", r.id}, {"type", r.type}});
  }
  return Outcome::Value(report);
}

}  // namespace cove::cli
