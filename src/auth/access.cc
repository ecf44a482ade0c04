#include "auth/access.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/ascii.h"

namespace cove::auth {
namespace {

constexpr std::pair<Action, std::string_view> kActionNames[] = {
    {kPull, "pull"},
    {kPush, "push"},
    {kDelete, "delete"},
    {kMetadataRead, "metadata_read"},
    {kMetadataWrite, "metadata_write"},
};

}  // namespace

std::optional<ActionSet> ParseAction(std::string_view action) {
  if (action == "*") return kAllActions;
  for (const auto& [bit, name] : kActionNames) {
    if (action == name) return bit;
  }
  return std::nullopt;
}

std::vector<std::string> ActionNames(ActionSet actions) {
  std::vector<std::string> out;
  for (const auto& [bit, name] : kActionNames) {
    if (actions & bit) out.emplace_back(name);
  }
  return out;
}

Result<std::vector<Scope>> ParseScopes(std::string_view text) {
  std::vector<Scope> out;
  while (!text.empty()) {
    auto space = text.find(' ');
    std::string_view one = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (one.empty()) continue;
    // The scope grammar (Docker's token spec) is printable ASCII: anything else is refused
    // here, never carried into a token's access claim (found by auth_token_fuzz).
    if (std::any_of(one.begin(), one.end(), [](char c) {
          auto u = static_cast<unsigned char>(c);
          return u < 0x21 || u > 0x7e;
        })) {
      return Fail(Code::kInvalidArgument, "a scope holds bytes outside printable ASCII");
    }
    // type[(class)]:name:actions, where the name may itself contain ':' (a port in a
    // hostname-qualified name): type is before the first ':', actions after the last.
    auto first = one.find(':');
    auto last = one.rfind(':');
    if (first == std::string_view::npos || first == last) {
      return Fail(Code::kInvalidArgument,
                  "scope '" + std::string(one) + "' is not of the form type:name:actions");
    }
    Scope s;
    s.type = std::string(one.substr(0, first));
    if (auto paren = s.type.find('('); paren != std::string::npos) s.type.resize(paren);
    s.name = std::string(one.substr(first + 1, last - first - 1));
    if (s.name.empty()) {
      return Fail(Code::kInvalidArgument, "scope '" + std::string(one) + "' names no resource");
    }
    std::string_view actions = one.substr(last + 1);
    if (s.type == "registry") {
      // Only the catalog exists; "registry:catalog:*" is its only action.
      if (s.name != "catalog") continue;
      for (std::string_view rest = actions; !rest.empty();) {
        auto comma = rest.find(',');
        if (rest.substr(0, comma) == "*") s.actions = kAllActions;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      if (s.actions) out.push_back(std::move(s));
      continue;
    }
    if (s.type != "repository") continue;
    while (!actions.empty()) {
      auto comma = actions.find(',');
      if (auto a = ParseAction(actions.substr(0, comma))) s.actions |= *a;
      actions = comma == std::string_view::npos ? std::string_view() : actions.substr(comma + 1);
    }
    if (s.actions) out.push_back(std::move(s));
  }
  return out;
}

std::string FormatScope(const Scope& scope) {
  std::string out = scope.type + ":" + scope.name + ":";
  if (scope.catalog()) return out + "*";
  auto names = ActionNames(scope.actions);
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i];
  return out;
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kAcrPull, Role::kAcrPush, Role::kAcrDelete, Role::kOwner, Role::kContributor,
                 Role::kReader}) {
    if (EqualsIgnoreCase(name, RoleName(r))) return r;
  }
  return std::nullopt;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAcrPull:
      return "AcrPull";
    case Role::kAcrPush:
      return "AcrPush";
    case Role::kAcrDelete:
      return "AcrDelete";
    case Role::kOwner:
      return "Owner";
    case Role::kContributor:
      return "Contributor";
    case Role::kReader:
      return "Reader";
  }
  return "?";
}

Grant RoleGrant(Role role) {
  switch (role) {
    case Role::kAcrPull:
    case Role::kReader:
      return {kPull | kMetadataRead, true};
    case Role::kAcrPush:
      return {kPull | kPush | kMetadataRead, true};
    case Role::kAcrDelete:
      return {kDelete | kMetadataRead, false};
    case Role::kOwner:
    case Role::kContributor:
      return {kAllActions, true};
  }
  return {};
}

bool ScopeMapEntry::Matches(std::string_view repo) const {
  if (repository == "*") return true;
  if (repository.size() >= 2 && repository.ends_with("/*")) {
    std::string_view prefix = std::string_view(repository).substr(0, repository.size() - 1);
    return repo.size() > prefix.size() && repo.starts_with(prefix);
  }
  return repo == repository;
}

Result<ScopeMapEntry> ParseScopeMapAction(std::string_view action) {
  constexpr std::string_view kPrefix = "repositories/";
  constexpr std::pair<std::string_view, Action> kSuffixes[] = {
      {"/content/read", kPull},
      {"/content/write", kPush},
      {"/content/delete", kDelete},
      {"/metadata/read", kMetadataRead},
      {"/metadata/write", kMetadataWrite},
  };
  if (!action.starts_with(kPrefix)) {
    return Fail(Code::kInvalidArgument,
                "scope map action '" + std::string(action) + "' must start with repositories/");
  }
  for (const auto& [suffix, bit] : kSuffixes) {
    if (action.size() > kPrefix.size() + suffix.size() && action.ends_with(suffix)) {
      ScopeMapEntry e;
      e.repository = std::string(
          action.substr(kPrefix.size(), action.size() - kPrefix.size() - suffix.size()));
      e.actions = bit;
      // A wildcard is allowed only as the whole name or as the last component.
      auto star = e.repository.find('*');
      if (star != std::string::npos && star != e.repository.size() - 1) {
        return Fail(Code::kInvalidArgument, "scope map action '" + std::string(action) +
                                                "': a wildcard may only end the repository");
      }
      if (star != std::string::npos && e.repository != "*" && !e.repository.ends_with("/*")) {
        return Fail(Code::kInvalidArgument,
                    "scope map action '" + std::string(action) + "': a wildcard must follow a '/'");
      }
      return e;
    }
  }
  return Fail(Code::kInvalidArgument,
              "scope map action '" + std::string(action) +
                  "' must end with content/read, content/write, content/delete, "
                  "metadata/read or metadata/write");
}

Permissions Permissions::All() { return Uniform({kAllActions, true}); }

Permissions Permissions::Uniform(Grant grant) {
  Permissions p;
  p.everywhere_ = grant.actions;
  p.catalog_ = grant.catalog;
  return p;
}

Permissions Permissions::FromScopeMap(std::vector<ScopeMapEntry> entries) {
  Permissions p;
  for (const auto& e : entries) {
    if (e.repository == "*") {
      p.everywhere_ |= e.actions;
      if (e.actions & kMetadataRead) p.catalog_ = true;
    }
  }
  p.entries_ = std::move(entries);
  return p;
}

void Permissions::Add(const Permissions& other) {
  everywhere_ |= other.everywhere_;
  catalog_ = catalog_ || other.catalog_;
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

ActionSet Permissions::On(std::string_view repository) const {
  ActionSet a = everywhere_;
  for (const auto& e : entries_) {
    if (e.Matches(repository)) a |= e.actions;
  }
  return a;
}

std::vector<Scope> Permissions::Intersect(const std::vector<Scope>& requested) const {
  std::vector<Scope> out;
  for (const auto& s : requested) {
    if (s.catalog()) {
      if (catalog_) out.push_back(s);
      continue;
    }
    Scope g = s;
    g.actions &= On(s.name);
    if (g.actions) out.push_back(std::move(g));
  }
  return out;
}

std::string AccessClaimJson(const std::vector<Scope>& granted) {
  nlohmann::json access = nlohmann::json::array();
  for (const auto& s : granted) {
    nlohmann::json actions =
        s.catalog() ? nlohmann::json::array({"*"}) : nlohmann::json(ActionNames(s.actions));
    access.push_back({{"type", s.type}, {"name", s.name}, {"actions", actions}});
  }
  return access.dump();
}

Result<std::vector<Scope>> ParseAccessClaim(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (!j.is_array()) return Fail(Code::kInvalidArgument, "access claim is not an array");
  std::vector<Scope> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("type") || !e["type"].is_string() || !e.contains("name") ||
        !e["name"].is_string() || !e.contains("actions") || !e["actions"].is_array()) {
      return Fail(Code::kInvalidArgument, "access claim entry has the wrong shape");
    }
    Scope s{e["type"].get<std::string>(), e["name"].get<std::string>(), 0};
    for (const auto& a : e["actions"]) {
      if (!a.is_string()) continue;
      if (auto bits = ParseAction(a.get<std::string>())) s.actions |= *bits;
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool Covers(const std::vector<Scope>& granted, const Scope& needed) {
  ActionSet have = 0;
  for (const auto& g : granted) {
    if (g.type == needed.type && g.name == needed.name) have |= g.actions;
  }
  return (have & needed.actions) == needed.actions;
}

}  // namespace cove::auth
