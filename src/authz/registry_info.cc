#include "authz/registry_info.h"

namespace cove::registry {

std::string RegistryInfo::LoginServer(std::string_view suffix) const {
  return name + "." + std::string(suffix);
}

std::string RegistryInfo::DataHost(std::string_view region, std::string_view suffix) const {
  return name + "." + std::string(region) + ".data." + std::string(suffix);
}

}  // namespace cove::registry
