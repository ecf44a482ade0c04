// PlanContainerGroups: what the control plane's container groups ask of the containers plane
// (daemon/containers_plane.h) — one ContainerGroupPlan per Microsoft.ContainerInstance/
// containerGroups resource of a snapshot, read from its stored document (containers, commands,
// environment, resources, restartPolicy, imageRegistryCredentials) with what no snapshot holds
// given by `secrets` (ControlPlane::ContainerGroupSecrets: secure values and registry passwords,
// unsealed). A registry credential naming a user-assigned identity carries that identity's
// client id (the one IMDS takes); one naming an identity that no longer exists carries none,
// and the pull goes anonymous. A group whose secrets cannot be read is left out (logged): it
// must not run without them.
//
// Thread-safety: a pure function of its arguments (plus `secrets`).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arm/snapshot.h"
#include "common/error.h"
#include "daemon/containers_plane.h"

namespace cove::daemon {

using SecretsOf = std::function<Result<nlohmann::json>(const std::string& group_id)>;

// `namespace_of(machine id)` names the group's network namespace (fabric::Fabric::VmNamespace);
// `etc_netns` is where the fabric keeps each namespace's /etc overlay ("/etc/netns").
std::vector<ContainerGroupPlan> PlanContainerGroups(
    const arm::Snapshot& snapshot, const std::function<std::string(const std::string&)>& namespace_of,
    const std::string& etc_netns, const SecretsOf& secrets);

}  // namespace cove::daemon
