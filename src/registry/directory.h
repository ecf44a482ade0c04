// Directory: which registries this node serves and under which host names.
//
// Every registry has a login server, `<name>.<suffix>` (the seed's "Registry REST API"), and,
// when its data endpoint is enabled, one data host per region it is replicated to,
// `<name>.<region>.data.<suffix>` (the seed's "Data Storage"). A request's host (SNI or Host
// header) picks the registry and tells whether it came to the login server or to a data host.
// A node may also name a default registry for requests to any other host (an IP literal,
// localhost), for people who run cove as a plain registry.
//
// The directory is an immutable snapshot; the owner replaces it atomically when the control
// plane changes registries (readers keep the snapshot they loaded).
//
// Thread-safety: immutable after construction.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/registry_info.h"
#include "common/error.h"

namespace cove::registry {

struct HostMatch {
  const RegistryInfo* registry = nullptr;
  bool data_host = false;
  std::string region;  // for data hosts
};

class Directory {
 public:
  // kInvalidArgument for a bad registry name, region, duplicate, or a default that is not
  // among `registries`.
  static Result<std::shared_ptr<const Directory>> Create(std::string dns_suffix,
                                                         std::vector<RegistryInfo> registries,
                                                         std::string default_registry = "");

  const std::string& dns_suffix() const { return suffix_; }
  const std::vector<RegistryInfo>& registries() const { return registries_; }
  const RegistryInfo* Find(std::string_view name) const;
  // Matches a lowercased host name (no port). Falls back to the default registry's login
  // server for hosts that are not ours; nullopt when there is no default either.
  std::optional<HostMatch> Match(std::string_view host) const;
  // True if `host` is a login server or data host of a registry here (for issuing TLS
  // certificates only for our own names).
  bool Serves(std::string_view host) const;
  // Every host name served (login servers and data hosts).
  std::vector<std::string> HostNames() const;

 private:
  Directory() = default;
  std::string suffix_;
  std::vector<RegistryInfo> registries_;
  const RegistryInfo* default_ = nullptr;
};

// ACR's rule for registry names: 5 to 50 alphanumeric characters.
bool IsValidRegistryName(std::string_view name);
// Azure region names as used in host names: lowercase letters and digits, 2 to 40.
bool IsValidRegionName(std::string_view region);

}  // namespace cove::registry
