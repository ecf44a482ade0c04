// Namespaces: named Linux network namespaces and running code inside one (the seam through
// which every setns/unshare/mount of the fabric goes), plus the socket helpers other planes use
// to own listeners inside a VNet.
//
// Namespaces is the seam between the fabric's logic and the kernel: every namespace, link,
// address, route, sysctl and nftables change goes through it. LinuxNamespaces is the kernel;
// MemoryNamespaces (memory_namespaces.h) records the same in memory, for tests without root.
//
// Named namespaces follow iproute2's convention, so `ip netns` sees them and `ip netns exec`
// works: /run/netns is a shared mount point; a namespace NAME is the file /run/netns/NAME,
// bind-mounted from /proc/thread-self/ns/net of a short-lived thread that unshare()d a new
// network namespace. Deleting lazily unmounts and unlinks the file; the kernel frees the
// namespace (and every interface in it, including the far ends of veth pairs) once no socket or
// process holds it any longer.
//
// RunIn moves only the calling thread (setns(2) is per-thread for network namespaces) and moves
// it back before returning; sockets created inside stay in the namespace they were made in, so
// one process can own listeners at the same address in two overlapping VNets.
//
// Thread-safety: LinuxNamespaces is stateless apart from its paths; all methods may be called
// from any thread concurrently.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace cove::fabric {

class Netlink;  // netlink.h

// How Namespaces::Spawn starts a process.
struct SpawnOptions {
  // Each entry of this directory is bind-mounted over /etc/<entry> in the child's own mount
  // namespace (what `ip netns exec` does with /etc/netns/<ns>); "" for none.
  std::string etc_overlay;
  // Keeps the host's /sys instead of mounting the namespace's sysfs over it: a container
  // runtime (containerd's runc) needs the cgroup hierarchies mounted under /sys/fs/cgroup;
  // /sys/class/net then lists the host's interfaces, not the namespace's.
  bool keep_sys = false;
  // Descriptors that become the child's 0, 1 and 2 (-1: /dev/null).
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

class Namespaces {
 public:
  virtual ~Namespaces() = default;
  // Creates a new, empty network namespace called `name`. kAlreadyExists if it exists,
  // kIOError when the kernel refuses.
  virtual Status Create(const std::string& name) = 0;
  // Removes the name (the namespace goes once nothing holds it). kNotFound if absent.
  virtual Status Delete(const std::string& name) = 0;
  // Every named namespace (all of them, not only cove's).
  virtual Result<std::vector<std::string>> List() = 0;
  // A descriptor for the namespace (for setns, or to move an interface into it). kNotFound.
  virtual Result<UniqueFd> Open(const std::string& name) = 0;
  // Runs `fn` on the calling thread inside namespace `name`, then returns the thread to its
  // previous namespace. Returns fn's status, or kNotFound/kIOError when entering fails.
  // If the thread cannot be moved back the process aborts (it would run in the wrong network).
  virtual Status RunIn(const std::string& name, const std::function<Status()>& fn) = 0;
  // Starts `argv` (PATH is searched) inside namespace `name` as `ip netns exec` does: a private
  // mount namespace, /sys remounted to show the namespace's interfaces, the overlay bound over
  // /etc. Returns the child's pid; the caller waits for it. kNotFound when the namespace does
  // not exist, kIOError when fork fails. A child that cannot enter exits with status 126,
  // one whose program is missing with 127. The child gets descriptors 0-2 only, and starts with
  // no signal blocked (whatever the calling thread blocks).
  virtual Result<pid_t> Spawn(const std::string& name, const std::vector<std::string>& argv,
                              const SpawnOptions& options) = 0;
  // The path of the namespace's file (for `ip netns`-style tools and diagnostics).
  virtual std::string PathOf(const std::string& name) const = 0;

  // The network configuration inside a namespace, which is everything Fabric changes there
  // (besides files under /etc/netns):
  // Links, addresses and routes (netlink.h). kNotFound when the namespace does not exist,
  // kIOError when the connection cannot be made.
  virtual Result<std::unique_ptr<Netlink>> OpenNetlink(const std::string& name) = 0;
  // Sets the sysctl `key` ("net/ipv4/ip_forward", i.e. /proc/sys/<key>) inside the namespace
  // (unless it already holds `value`). kNotFound, or kIOError when the write fails.
  virtual Status WriteSysctl(const std::string& name, const std::string& key,
                             const std::string& value) = 0;
  // Runs an nftables script in one transaction inside the namespace. kNotFound, or kIOError
  // with nft's message and the script when it fails.
  virtual Status RunNft(const std::string& name, const std::string& script) = 0;
};

// The real thing, with names under `run_dir` (/run/netns, where iproute2 looks).
class LinuxNamespaces final : public Namespaces {
 public:
  explicit LinuxNamespaces(std::string run_dir = "/run/netns");
  Status Create(const std::string& name) override;
  Status Delete(const std::string& name) override;
  Result<std::vector<std::string>> List() override;
  Result<UniqueFd> Open(const std::string& name) override;
  Status RunIn(const std::string& name, const std::function<Status()>& fn) override;
  Result<pid_t> Spawn(const std::string& name, const std::vector<std::string>& argv,
                      const SpawnOptions& options) override;
  std::string PathOf(const std::string& name) const override { return run_dir_ + "/" + name; }
  Result<std::unique_ptr<Netlink>> OpenNetlink(const std::string& name) override;
  Status WriteSysctl(const std::string& name, const std::string& key,
                     const std::string& value) override;
  Status RunNft(const std::string& name, const std::string& script) override;

 private:
  std::string run_dir_;
};

// Runs `fn` in namespace `ns` and hands back its value.
template <typename T, typename Fn>
Result<T> InNamespace(Namespaces& namespaces, const std::string& ns, Fn&& fn) {
  Result<T> out = Fail(Code::kInternal, "not run");
  COVE_RETURN_IF_ERROR(namespaces.RunIn(ns, [&]() -> Status {
    out = fn();
    return Ok();
  }));
  return out;
}

// A listening TCP socket (SO_REUSEADDR, close-on-exec, non-blocking) bound to address:port
// inside namespace `ns`; port 0 picks one. With a `device`, it takes only connections that
// arrive on that interface (SO_BINDTODEVICE; "lo": only from inside the namespace). kIOError
// (with errno text) when the address is not local there (EADDRNOTAVAIL) or taken. Hand it to
// http::Server::Adopt.
Result<UniqueFd> ListenTcp(Namespaces& namespaces, const std::string& ns,
                           const std::string& address, uint16_t port, int backlog = 1024,
                           const std::string& device = "");
// A bound UDP socket (close-on-exec, non-blocking) inside `ns`, e.g. 168.63.129.16:53.
Result<UniqueFd> BindUdp(Namespaces& namespaces, const std::string& ns,
                         const std::string& address, uint16_t port);
// A TCP socket connected to address:port from inside `ns` (blocking; for tests and probes).
Result<UniqueFd> ConnectTcp(Namespaces& namespaces, const std::string& ns,
                            const std::string& address, uint16_t port, int timeout_ms = 5000);
// The port a socket is bound to.
Result<uint16_t> LocalPort(int fd);

}  // namespace cove::fabric
