#include "runtime/naming.h"

#include "common/ascii.h"
#include "common/digest.h"

namespace cove::runtime {

std::string RuncRoot(std::string_view prefix) {
  return "/run/cove-runc-" + std::string(prefix);
}

std::string ContainerId(std::string_view prefix, std::string_view group_id,
                        std::string_view container_name) {
  std::string hex = Digest::Of(AsciiLower(group_id)).hex().substr(0, 12);
  return std::string(prefix) + "-" + hex + "-" + std::string(container_name);
}

}  // namespace cove::runtime
