// RegistryInfo: what a registry is, as the hosts that serve it see it — its name, regions and
// whether its data endpoint is on — and the host names derived from them.
//
// It lives in cove_authz (see authz/authorizer.h for why that target exists) because an
// authorizer is handed the registry a request is for; the Directory that maps hosts to
// registries stays in cove_registry (registry/directory.h). The namespace is the registry's:
// these are the registry's types, only linked separately.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cove::registry {

struct RegistryInfo {
  std::string name;                  // "myregistry": 5-50 alphanumerics, lowercased
  std::string home_region = "westus";
  std::vector<std::string> regions;  // home first, then replicas
  bool data_endpoint_enabled = false;
  // ACR's retention policy for untagged manifests (properties.policies.retentionPolicy): when
  // enabled, untagged manifests older than `days` (0-365) are deleted
  // (registry/garbage_collector.h).
  bool untagged_retention_enabled = false;
  int untagged_retention_days = 7;

  std::string LoginServer(std::string_view suffix) const;
  std::string DataHost(std::string_view region, std::string_view suffix) const;
};

}  // namespace cove::registry
