// runtime naming: the names a container gets on the host, shared by the daemon that runs it
// (daemon/containers_plane.h) and the CLI that reaches into it (`cove container exec`).
//
// A container of a container group is one runc container. Its id is
//   "<prefix>-<12 hex of sha256(lowercased group id)>-<container name>"
// (ACI's container names are 1-63 of [a-z0-9-], so the id stays within runc's limits), and its
// runc state lives under RuncRoot(prefix) ("/run/cove-runc-<prefix>"), so two daemons with
// different fabric prefixes never see each other's containers.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace cove::runtime {

std::string RuncRoot(std::string_view prefix);
std::string ContainerId(std::string_view prefix, std::string_view group_id,
                        std::string_view container_name);

}  // namespace cove::runtime
