// Names a container workload is made of, checked as ACI and docker check them: container names,
// environment variable names and image references. Shared by the container groups
// (containers.cc) and cove's Kubernetes deployments (clusters.cc). Internal to cove_arm.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace cove::arm {

// ACI's rule for container group and container names: 1-63 lowercase letters, digits and
// '-', not starting or ending with '-', no "--".
bool IsValidAciName(std::string_view name);
// Environment variable names: letters, digits and '_', not starting with a digit, 1-63.
bool IsValidEnvName(std::string_view name);
// "[host[:port]/]repository[:tag|@digest]" as docker and ACI read an image name.
bool IsValidImage(std::string_view image);

}  // namespace cove::arm
