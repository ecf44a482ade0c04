// Bundle: an OCI runtime bundle for one container of a container group — a directory holding
// rootfs/ (the image's layers, unpacked by `coved pull`) and config.json (the OCI runtime spec
// runc reads), built from the image's config and the container's spec the way ACI combines them.
//
// The runtime spec (config.json) is runc's `runc spec` default with these changes:
//   - process.args: the container's `command` when it has one — ACI's rule: it replaces the
//     image's Entrypoint AND Cmd — else Entrypoint followed by Cmd. Neither: kInvalidArgument.
//   - process.env: the image's Env, each variable overridden by the container's own (in the
//     container's order); PATH defaults to runc's when neither sets it. terminal is false.
//   - process.cwd: the image's WorkingDir ("/" when unset); process.user: the image's User,
//     "uid[:gid]" numerically or names looked up in the rootfs' /etc/passwd and /etc/group
//     (kInvalidArgument when not found, as docker's "unable to find user").
//   - capabilities, rlimits, maskedPaths, readonlyPaths and noNewPrivileges exactly as `runc spec`
//     gives them (bounding = effective = permitted = ambient = AUDIT_WRITE, KILL,
//     NET_BIND_SERVICE).
//   - root: "rootfs", read-write.
//   - namespaces: pid, ipc, uts and mount of its own; network = the group's named namespace
//     (network_namespace_path, "/run/netns/<ns>"), shared by every container of the group.
//   - hostname: the group's name.
//   - mounts: /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys (read-only) as `runc spec`
//     (without its /sys/fs/cgroup), and each of resolv.conf and hosts found in etc_overlay
//     ("/etc/netns/<ns>") bind-mounted read-only over /etc/<file>, so names resolve inside the
//     container as they do in the group's network.
//   - linux.resources.memory.limit: memory_limit_bytes when given. Checked on this host (cgroup
//     v1, hybrid): runc 1.1.5 applies it (memory.limit_in_bytes of the container's cgroup, which
//     runc creates below coved's own memory cgroup). CPU is not limited (ACI's cpu is a request
//     for scheduling; cove schedules nothing).
//
// Thread-safety: Bundle is a plain value naming a directory; its methods touch only that
// directory, so different bundles may be used from different threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace cove::runtime {

// What the container group says about one container (beside its image).
struct BundleSpec {
  std::string hostname;                // the group's name
  std::string network_namespace_path;  // "/run/netns/<ns>"; "" = a new, empty one (tests)
  std::string etc_overlay;             // "/etc/netns/<ns>"; "" = the image's own /etc files
  std::vector<std::string> command;    // ACI's command
  bool has_command = false;            // true when `command` replaces Entrypoint and Cmd
  std::vector<std::pair<std::string, std::string>> env;  // overrides the image's Env
  std::optional<uint64_t> memory_limit_bytes;
};

class Bundle {
 public:
  // The bundle at `dir` (<dir>/rootfs, <dir>/config.json). Nothing is touched yet.
  explicit Bundle(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string rootfs() const { return dir_ + "/rootfs"; }
  std::string config_path() const { return dir_ + "/config.json"; }

  // The runtime spec for this bundle: `image_config` is the "config" object of the image's
  // config (contract 2: Entrypoint, Cmd, Env, WorkingDir, User; null or {} when the image has
  // none). The rootfs is read only to resolve a user name. kInvalidArgument when there is no
  // command to run, the image config is malformed, or the user cannot be resolved.
  Result<nlohmann::json> RuntimeSpec(const nlohmann::json& image_config,
                                     const BundleSpec& spec) const;

  // Writes `runtime_spec` as config.json (mode 0600: it holds the secure environment values),
  // replacing any earlier one atomically. kIOError.
  Status WriteConfig(const nlohmann::json& runtime_spec) const;

  // Removes the whole directory (rootfs included). Ok when it is already gone; kIOError.
  Status Remove() const;

 private:
  std::string dir_;
};

// ACI's memoryInGB as bytes (GiB, as ACI means it).
uint64_t GigabytesToBytes(double gb);

}  // namespace cove::runtime
