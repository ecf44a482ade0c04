// RunInNamespace: one program run inside a cove machine's network namespace the way `ip netns
// exec` runs it (fabric::Namespaces::Spawn with the machine's /etc overlay, so it resolves names
// through the machine's DNS), given `input` on its stdin, its stdout and stderr collected under
// a deadline (runtime::CollectChild). The daemon's `coved pull` and `coved
// acr-credential-provider` children and a node's `ctr` commands all run this way.
//
// Thread-safety: a free function; concurrent calls are independent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "fabric/namespaces.h"
#include "runtime/supervisor.h"

namespace cove::runtime {

struct NamespaceRun {
  std::string ns;           // the namespace's name
  std::string etc_overlay;  // "/etc/netns/<ns>" ("" for none)
  std::vector<std::string> argv;
  std::string input;  // written to stdin, which is then closed (keep it below a pipe's 64 KiB)
  std::chrono::milliseconds timeout{std::chrono::minutes(1)};
  // Called with the child's pid once it runs (e.g. to keep a pidfd for cancelling it).
  std::function<void(pid_t)> on_start;
};

// kNotFound when the namespace does not exist, kIOError when a pipe or fork fails; otherwise
// the child's output and exit (ChildOutput::timed_out when it was killed at the deadline).
Result<ChildOutput> RunInNamespace(fabric::Namespaces& namespaces, const NamespaceRun& run);

// The same on this host, in coved's own namespaces (argv[0] is searched in PATH), for programs
// that reach nothing over the network (`ctr task kill` talks to containerd over its socket).
Result<ChildOutput> RunHere(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace cove::runtime
