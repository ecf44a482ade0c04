#include "auth/network.h"

#include "common/ascii.h"

namespace cove::auth {

std::string_view TrustedServiceOf(std::string_view resource_id) {
  // "<provider namespace>/<resource type>" of the services ACR trusts.
  static constexpr std::string_view kTrusted[][2] = {
      {"Microsoft.ContainerInstance", "containerGroups"},        // Azure Container Instances
      {"Microsoft.MachineLearningServices", "workspaces"},       // Azure Machine Learning
      {"Microsoft.ContainerRegistry", "registries"},             // ACR Tasks
      {"Microsoft.Security", "pricings"},                        // Defender for Cloud
      {"Microsoft.Purview", "accounts"},                         // Microsoft Purview
  };
  // The last ".../providers/<namespace>/<type>/<name>" of the id, with nothing after the name.
  constexpr std::string_view kProviders = "/providers/";
  size_t at = std::string_view::npos;
  for (size_t i = 0; i + kProviders.size() <= resource_id.size(); ++i) {
    if (EqualsIgnoreCase(resource_id.substr(i, kProviders.size()), kProviders)) at = i;
  }
  if (at == std::string_view::npos) return {};
  std::string_view rest = resource_id.substr(at + kProviders.size());
  size_t a = rest.find('/');
  size_t b = a == std::string_view::npos ? a : rest.find('/', a + 1);
  if (b == std::string_view::npos || b + 1 >= rest.size()) return {};
  if (rest.find('/', b + 1) != std::string_view::npos) return {};
  std::string_view ns = rest.substr(0, a), type = rest.substr(a + 1, b - a - 1);
  for (const auto& t : kTrusted) {
    if (EqualsIgnoreCase(ns, t[0]) && EqualsIgnoreCase(type, t[1])) return t[0];
  }
  return {};
}

NetworkDecision DecideNetworkAccess(const access::Verdict* verdict, const Principal* caller,
                                    std::string_view caller_resource) {
  using Kind = access::Verdict::Kind;
  if (!verdict || verdict->kind == Kind::kAllow) return NetworkDecision::kAllowed;
  if (verdict->kind == Kind::kAllowOwnIdentityOnly && caller &&
      caller->kind == PrincipalKind::kManagedIdentity &&
      !TrustedServiceOf(caller_resource).empty() &&
      EqualsIgnoreCase(caller_resource, verdict->machine)) {
    return NetworkDecision::kAllowedTrustedService;
  }
  return NetworkDecision::kDenied;
}

bool MayChallenge(const access::Verdict* verdict) { return !verdict || verdict->allowed(); }

}  // namespace cove::auth
