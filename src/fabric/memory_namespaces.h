// MemoryNamespaces: network namespaces kept in memory — a real Namespaces implementation that
// changes nothing in the kernel, so the fabric's logic (Fabric::Apply's convergence) runs and
// is checked without root.
//
// It records what the kernel would hold: per namespace its links (loopback at index 1, bridges,
// veth pairs whose two ends live in two namespaces and vanish together, as do the far ends of a
// deleted namespace's veths), each link's state, master, MAC and IPv4 devconf values, addresses
// (an address with a prefix shorter than /32 brings its connected route, protocol kernel, as
// the kernel does), main-table routes, sysctls and the nftables scripts run there (the scripts
// are kept, not interpreted; Fabric's replace whole tables, so running the same script as last
// time in a namespace counts as no change). Errors follow the
// kernel's: kAlreadyExists for a link or address that is there, kNotFound for one that is not.
//
// What it does not do: move packets, run programs or enter anything. Open and Spawn answer
// kUnimplemented; RunIn runs `fn` on the calling thread without moving it (nothing to enter),
// only for namespaces that exist — fine for the fabric's liveness check, wrong for code that
// makes sockets (ListenTcp would bind in the caller's own namespace). PathOf names a path that
// does not exist.
//
// Every changing call counts in mutations(), so a test can check that converging again on the
// same topology changes nothing.
//
// Thread-safety: all methods, and the Netlink objects it hands out, may be used from any thread
// (one mutex).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fabric/namespaces.h"
#include "fabric/netlink.h"

namespace cove::fabric {

class MemoryNamespaces final : public Namespaces {
 public:
  MemoryNamespaces();
  ~MemoryNamespaces() override;

  Status Create(const std::string& name) override;
  Status Delete(const std::string& name) override;
  Result<std::vector<std::string>> List() override;
  Result<UniqueFd> Open(const std::string& name) override;
  Status RunIn(const std::string& name, const std::function<Status()>& fn) override;
  Result<pid_t> Spawn(const std::string& name, const std::vector<std::string>& argv,
                      const SpawnOptions& options) override;
  std::string PathOf(const std::string& name) const override;
  Result<std::unique_ptr<Netlink>> OpenNetlink(const std::string& name) override;
  Status WriteSysctl(const std::string& name, const std::string& key,
                     const std::string& value) override;
  Status RunNft(const std::string& name, const std::string& script) override;

  // ---- What is recorded (for tests). Unknown namespaces or links give empty answers.
  bool Exists(const std::string& name) const;
  std::vector<LinkInfo> Links(const std::string& ns) const;
  std::optional<LinkInfo> Link(const std::string& ns, const std::string& link) const;
  std::set<IfAddress> Addresses(const std::string& ns, const std::string& link) const;
  std::vector<RouteInfo> Routes(const std::string& ns) const;
  // The far end of a veth: {namespace, link}, or nullopt.
  std::optional<std::pair<std::string, std::string>> Peer(const std::string& ns,
                                                          const std::string& link) const;
  std::optional<std::array<uint8_t, 6>> Mac(const std::string& ns, const std::string& link) const;
  std::optional<uint32_t> InetConf(const std::string& ns, const std::string& link,
                                   int devconf) const;
  std::optional<std::string> Sysctl(const std::string& ns, const std::string& key) const;
  // Every nft script run in the namespace, in order.
  std::vector<std::string> NftScripts(const std::string& ns) const;
  // How many calls changed something, over all namespaces.
  uint64_t mutations() const;

 private:
  class MemoryNetlink;
  struct Space;
  struct State;
  std::shared_ptr<State> state_;  // shared with the Netlink objects handed out
};

}  // namespace cove::fabric
