#include "auth/network.h"

namespace cove::auth {

bool IsTrustedService(std::string_view service) {
  static constexpr std::string_view kTrusted[] = {
      "Microsoft.ContainerInstance",        // Azure Container Instances
      "Microsoft.MachineLearningServices",  // Azure Machine Learning
      "Microsoft.ContainerRegistry",        // ACR Tasks
      "Microsoft.Security",                 // Microsoft Defender for Cloud
      "Microsoft.Purview",                  // Microsoft Purview
  };
  for (auto t : kTrusted) {
    if (service == t) return true;
  }
  return false;
}

NetworkDecision DecideNetworkAccess(const NetworkFacts& facts, const Principal* caller) {
  if (facts.public_network_access || facts.via_private_endpoint) return NetworkDecision::kAllowed;
  if (facts.bypass == NetworkBypass::kAzureServices && caller &&
      caller->kind == PrincipalKind::kManagedIdentity &&
      IsTrustedService(caller->trusted_service)) {
    return NetworkDecision::kAllowedTrustedService;
  }
  return NetworkDecision::kDenied;
}

}  // namespace cove::auth
