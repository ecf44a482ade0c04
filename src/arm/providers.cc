#include "arm/provider.h"

#include <algorithm>

namespace cove::arm {
namespace {

// Versions cove's own clients send for every type, whether or not Azure has them for it:
// tests/arm/arm_fixture.h and tests/e2e/lib.sh (2023-09-01), tests/daemon (2023-01-01),
// tests/security/control_plane_auth_test.cc and the deploy planner's check of references to
// types it has no version for (src/cli/deploy.cc, Microsoft.Resources' 2022-09-01).
constexpr const char* kFixtureApiVersions[] = {"2023-09-01", "2023-01-01", "2022-09-01"};

std::vector<std::string> WithFixtureVersions(std::vector<std::string> versions) {
  for (const char* v : kFixtureApiVersions) {
    if (std::find(versions.begin(), versions.end(), v) == versions.end()) versions.push_back(v);
  }
  return versions;
}

}  // namespace

const std::vector<std::string>& NetworkApiVersions() {
  static const auto* v = new std::vector<std::string>(
      WithFixtureVersions({"2025-05-01", "2025-03-01", "2025-01-01", "2024-10-01",
                           "2024-07-01", "2024-05-01", "2024-03-01", "2024-01-01", "2023-11-01",
                           "2023-09-01", "2023-06-01", "2023-05-01", "2023-04-01", "2023-02-01",
                           "2022-11-01", "2022-09-01", "2022-07-01", "2022-05-01", "2022-01-01",
                           "2021-08-01", "2021-05-01", "2021-03-01", "2021-02-01", "2020-11-01"}));
  return *v;
}

const std::vector<std::string>& PrivateDnsApiVersions() {
  static const auto* v = new std::vector<std::string>(
      WithFixtureVersions({"2024-06-01", "2020-06-01", "2020-01-01", "2018-09-01"}));
  return *v;
}

const std::vector<std::string>& ContainerRegistryApiVersions() {
  static const auto* v = new std::vector<std::string>(WithFixtureVersions(
      {"2025-11-01", "2025-04-01", "2024-11-01-preview", "2023-11-01-preview", "2023-08-01-preview",
       "2023-07-01", "2023-06-01-preview", "2023-01-01-preview", "2022-12-01", "2022-02-01-preview", "2021-09-01",
       "2021-08-01-preview", "2021-06-01-preview", "2020-11-01-preview", "2019-12-01-preview",
       "2019-05-01", "2017-10-01"}));
  return *v;
}

const std::vector<std::string>& ComputeApiVersions() {
  static const auto* v = new std::vector<std::string>(
      WithFixtureVersions({"2026-03-01", "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01",
                           "2023-09-01", "2023-07-01",
                           "2023-03-01", "2022-11-01", "2022-08-01", "2022-03-01", "2021-11-01",
                           "2021-07-01", "2021-04-01", "2021-03-01", "2020-12-01"}));
  return *v;
}

const std::vector<std::string>& ContainerInstanceApiVersions() {
  static const auto* v = new std::vector<std::string>(
      WithFixtureVersions({"2023-05-01", "2022-09-01", "2021-10-01", "2021-09-01", "2021-07-01",
                           "2021-03-01", "2020-11-01", "2019-12-01", "2018-10-01"}));
  return *v;
}

const std::vector<std::string>& ManagedIdentityApiVersions() {
  static const auto* v = new std::vector<std::string>(
      WithFixtureVersions({"2024-11-30", "2023-07-31-preview", "2023-01-31", "2022-01-31-preview",
                           "2021-09-30-preview", "2018-11-30"}));
  return *v;
}

const std::vector<std::string>& AuthorizationApiVersions() {
  static const auto* v = new std::vector<std::string>(WithFixtureVersions(
      {"2022-04-01", "2020-10-01", "2020-04-01-preview", "2018-09-01-preview", "2015-07-01"}));
  return *v;
}

const std::vector<std::string>& DnsResolverApiVersions() {
  static const auto* v = new std::vector<std::string>(WithFixtureVersions(
      {"2025-05-01", "2023-07-01-preview", "2022-07-01", "2020-04-01-preview"}));
  return *v;
}

// cove's own namespace (on-premises sites): one version so far.
const std::vector<std::string>& OnPremisesApiVersions() {
  static const auto* v = new std::vector<std::string>(WithFixtureVersions({"2026-12-01"}));
  return *v;
}

// AKS: the GA versions az (2.45 sends 2022-11-01; later releases newer ones) and
// @azure/arm-containerservice send.
const std::vector<std::string>& ContainerServiceApiVersions() {
  static const auto* v = new std::vector<std::string>(WithFixtureVersions(
      {"2025-05-01", "2025-04-01", "2025-03-01", "2025-02-01", "2025-01-01", "2024-10-01",
       "2024-09-01", "2024-08-01", "2024-07-01", "2024-06-01", "2024-05-01", "2024-02-01",
       "2024-01-01", "2023-11-01", "2023-10-01", "2023-09-01", "2023-08-01", "2023-07-01",
       "2023-06-01", "2023-05-01", "2023-04-01", "2023-03-01", "2023-02-01", "2023-01-01",
       "2022-11-01", "2022-09-01", "2022-08-01", "2022-07-01", "2022-06-01", "2022-04-01",
       "2022-03-01", "2022-02-01", "2022-01-01", "2021-10-01"}));
  return *v;
}

// cove's own namespace (Kubernetes deployments on AKS clusters): one version so far.
const std::vector<std::string>& KubernetesApiVersions() {
  static const auto* v = new std::vector<std::string>(WithFixtureVersions({"2026-12-01"}));
  return *v;
}

void ProviderRegistry::Add(ResourceProvider provider) {
  std::string key = Lower(provider.type);
  if (providers_.count(key)) {
    duplicates_.push_back(provider.type);
    return;
  }
  providers_.emplace(std::move(key), std::move(provider));
}

const ResourceProvider* ProviderRegistry::Find(std::string_view type) const {
  auto it = providers_.find(Lower(type));
  return it == providers_.end() ? nullptr : &it->second;
}

const ResourceProvider* ProviderRegistry::FindRouted(std::string_view type) const {
  const ResourceProvider* p = Find(type);
  return p != nullptr && !p->extension ? p : nullptr;
}

const ProviderRegistry& ResourceProviders() {
  static const ProviderRegistry* registry = [] {
    auto* r = new ProviderRegistry();
    RegisterNetworkProviders(*r);
    RegisterEndpointProviders(*r);
    RegisterComputeProviders(*r);
    RegisterContainerProviders(*r);
    RegisterRegistryProviders(*r);
    RegisterRegistryAuthProviders(*r);
    RegisterDnsZoneProviders(*r);
    RegisterIdentityProviders(*r);
    RegisterGatewayProviders(*r);
    RegisterDnsResolverProviders(*r);
    RegisterSiteProviders(*r);
    RegisterClusterProviders(*r);
    return r;
  }();
  return *registry;
}

Status CheckApiVersion(const ResourceProvider& provider, const std::string& api_version) {
  const auto& versions = provider.api_versions;
  if (std::find(versions.begin(), versions.end(), api_version) != versions.end()) return {};
  std::string list;
  for (const auto& v : versions) list += (list.empty() ? "" : ",") + v;
  return ArmFail(400, "InvalidApiVersionParameter",
                 "The api-version '" + api_version + "' is invalid. The supported versions are '" +
                     list + "'.");
}

}  // namespace cove::arm
