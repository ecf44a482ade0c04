#include "auth/network.h"

#include <cctype>

namespace cove::auth {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

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
    if (EqualsNoCase(resource_id.substr(i, kProviders.size()), kProviders)) at = i;
  }
  if (at == std::string_view::npos) return {};
  std::string_view rest = resource_id.substr(at + kProviders.size());
  size_t a = rest.find('/');
  size_t b = a == std::string_view::npos ? a : rest.find('/', a + 1);
  if (b == std::string_view::npos || b + 1 >= rest.size()) return {};
  if (rest.find('/', b + 1) != std::string_view::npos) return {};
  std::string_view ns = rest.substr(0, a), type = rest.substr(a + 1, b - a - 1);
  for (const auto& t : kTrusted) {
    if (EqualsNoCase(ns, t[0]) && EqualsNoCase(type, t[1])) return t[0];
  }
  return {};
}

NetworkDecision DecideNetworkAccess(const NetworkFacts& facts, const Principal* caller,
                                    std::string_view caller_resource) {
  if (facts.public_network_access || facts.via_private_endpoint) return NetworkDecision::kAllowed;
  if (facts.bypass == NetworkBypass::kAzureServices && caller &&
      caller->kind == PrincipalKind::kManagedIdentity && !TrustedServiceOf(caller_resource).empty()) {
    return NetworkDecision::kAllowedTrustedService;
  }
  return NetworkDecision::kDenied;
}

}  // namespace cove::auth
