#include "arm/resource_path.h"

#include <cctype>

#include "common/ascii.h"
#include "common/percent.h"

namespace cove::arm {
namespace {

Result<std::string> Decode(std::string_view s) {
  auto out = PercentDecode(s, false);
  if (!out) return Fail(Code::kInvalidArgument, "bad percent-encoding in the path");
  return out;
}

}  // namespace

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return cove::EqualsIgnoreCase(a, b);
}

std::string ArmPath::TypeKey() const {
  std::string out = Lower(provider);
  for (const auto& t : types) out += "/" + Lower(t);
  return out;
}

std::string ArmPath::SubscriptionKey() const { return "/subscriptions/" + Lower(subscription); }

std::string ArmPath::ResourceGroupKey() const {
  return SubscriptionKey() + "/resourcegroups/" + Lower(resource_group);
}

std::string ArmPath::Key() const {
  if (kind == PathKind::kSubscription) return SubscriptionKey();
  if (kind == PathKind::kResourceGroup) return ResourceGroupKey();
  std::string out = ResourceGroupKey() + "/providers/" + Lower(provider);
  for (size_t i = 0; i < types.size(); ++i) {
    out += "/" + Lower(types[i]);
    if (i < names.size()) out += "/" + Lower(names[i]);
  }
  return out;
}

std::string ArmPath::ParentKey() const {
  if (kind != PathKind::kResource && kind != PathKind::kCollection) return SubscriptionKey();
  size_t pairs = names.size() - (kind == PathKind::kResource ? 1 : 0);
  if (pairs == 0) return ResourceGroupKey();
  std::string out = ResourceGroupKey() + "/providers/" + Lower(provider);
  for (size_t i = 0; i < pairs; ++i) out += "/" + Lower(types[i]) + "/" + Lower(names[i]);
  return out;
}

Result<ArmPath> ParseArmPath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return Fail(Code::kInvalidArgument, "the path must start with /subscriptions");
  }
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::vector<std::string> seg;
  while (!path.empty() || seg.empty()) {
    auto slash = path.find('/');
    std::string_view raw = path.substr(0, slash);
    if (raw.empty()) return Fail(Code::kInvalidArgument, "the path has an empty segment");
    auto decoded = Decode(raw);
    if (!decoded) return Fail(decoded.error());
    if (decoded->empty() || decoded->find('/') != std::string::npos) {
      return Fail(Code::kInvalidArgument, "the path has an invalid segment");
    }
    seg.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) break;
  }
  ArmPath p;
  if (!EqualsIgnoreCase(seg[0], "subscriptions")) {
    return Fail(Code::kInvalidArgument, "the path must start with /subscriptions");
  }
  if (seg.size() == 1) return p;
  p.subscription = seg[1];
  if (seg.size() == 2) {
    p.kind = PathKind::kSubscription;
    return p;
  }
  if (seg.size() == 3 && EqualsIgnoreCase(seg[2], "resources")) {
    p.kind = PathKind::kGenericResources;
    return p;
  }
  if (EqualsIgnoreCase(seg[2], "providers")) {
    if (seg.size() == 3) {
      p.kind = PathKind::kProviders;
      return p;
    }
    p.provider = seg[3];
    if (seg.size() == 4) {
      p.kind = PathKind::kProvider;
      return p;
    }
    if (seg.size() == 5) {
      p.kind = PathKind::kProviderChild;
      p.word = seg[4];
      return p;
    }
    return Fail(Code::kInvalidArgument, "unsupported subscription-level provider path");
  }
  if (!EqualsIgnoreCase(seg[2], "resourcegroups")) {
    return Fail(Code::kInvalidArgument, "expected resourceGroups or providers after the subscription");
  }
  if (seg.size() == 3) {
    p.kind = PathKind::kResourceGroups;
    return p;
  }
  p.resource_group = seg[3];
  if (seg.size() == 4) {
    p.kind = PathKind::kResourceGroup;
    return p;
  }
  if (seg.size() == 5 && EqualsIgnoreCase(seg[4], "resources")) {
    p.kind = PathKind::kGenericResources;
    return p;
  }
  if (!EqualsIgnoreCase(seg[4], "providers") || seg.size() < 7) {
    return Fail(Code::kInvalidArgument,
                "expected /providers/{namespace}/{type}/{name} after the resource group");
  }
  p.provider = seg[5];
  for (size_t i = 6; i < seg.size(); i += 2) {
    p.types.push_back(seg[i]);
    if (i + 1 < seg.size()) p.names.push_back(seg[i + 1]);
  }
  p.kind = p.names.size() == p.types.size() ? PathKind::kResource : PathKind::kCollection;
  return p;
}

Result<ArmPath> ParseResourceId(std::string_view id) {
  auto p = ParseArmPath(id);
  if (!p) return p;
  if (p->kind != PathKind::kResource && p->kind != PathKind::kResourceGroup) {
    return Fail(Code::kInvalidArgument, "not a resource id");
  }
  return p;
}

std::vector<std::string> RawPathSegments(std::string_view path) {
  std::vector<std::string> raw;
  for (size_t start = 1; start <= path.size();) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    raw.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return raw;
}

}  // namespace cove::arm
