// Netlink: the few link, address and route operations the fabric needs, inside one network
// namespace. Namespaces::OpenNetlink hands them out: LinuxNamespaces a LibnlNetlink (one
// rtnetlink connection, libnl-route-3, whose socket is created while the thread is inside the
// namespace, so every request on it acts there), MemoryNamespaces one over its records.
//
// Each query reads the current state (no caches are kept between calls), so a reconciler can
// compare what is there with what should be.
//
// Thread-safety: one thread at a time per Netlink object. Owned by whoever opened it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "fabric/namespaces.h"
#include "fabric/topology.h"

struct nl_sock;

namespace cove::fabric {

struct LinkInfo {
  std::string name;
  int index = 0;
  std::string kind;  // "bridge", "veth", "" (loopback and others)
  int master = 0;    // ifindex of the bridge it is enslaved to, 0 for none
  bool up = false;
};

// An interface address: address/prefix length (host bits allowed) and scope (RT_SCOPE_*;
// host-scoped addresses are never picked as a source address, e.g. for ARP on other links).
struct IfAddress {
  Ipv4 ip;
  int length = 32;
  int scope = 0;  // RT_SCOPE_UNIVERSE
  auto operator<=>(const IfAddress&) const = default;
};

struct RouteInfo {
  Cidr dst;
  int oif = 0;
  std::optional<Ipv4> gateway;
  int type = 0;   // RTN_UNICAST, RTN_LOCAL, ...
  int table = 0;
  int protocol = 0;
};

// The link, address and route operations the fabric needs, inside one network namespace (a
// Namespaces::OpenNetlink hands one out). Errors: kNotFound when the named link (or the
// address or route to delete) does not exist, kAlreadyExists when a link or address to add
// does, kIOError when the kernel refuses otherwise.
class Netlink {
 public:
  virtual ~Netlink() = default;

  virtual Result<std::vector<LinkInfo>> Links() = 0;
  // The named link, or nullopt.
  virtual Result<std::optional<LinkInfo>> Link(const std::string& name) = 0;
  virtual Status AddBridge(const std::string& name) = 0;
  // A veth pair: `name` here, `peer_name` in the namespace called `peer_ns`.
  virtual Status AddVeth(const std::string& name, const std::string& peer_name,
                         const std::string& peer_ns) = 0;
  // Removes the link (a veth's far end goes with it).
  virtual Status DeleteLink(const std::string& name) = 0;
  // Brings the link up, and (when given) enslaves it to the bridge with index `master`.
  virtual Status SetUp(const std::string& name, std::optional<int> master = std::nullopt) = 0;
  // Sets the link's Ethernet address (unless it is already that).
  virtual Status SetMac(const std::string& name, const std::array<uint8_t, 6>& mac) = 0;
  // Per-interface IPv4 settings (IPV4_DEVCONF_*), e.g. proxy ARP.
  virtual Status SetInetConf(const std::string& name, int devconf, uint32_t value) = 0;

  virtual Result<std::vector<IfAddress>> Addresses(int ifindex) = 0;
  virtual Status AddAddress(int ifindex, const IfAddress& address) = 0;
  virtual Status DeleteAddress(int ifindex, const IfAddress& address) = 0;

  // Routes of the main table (IPv4).
  virtual Result<std::vector<RouteInfo>> Routes() = 0;
  // Adds or replaces the main-table route to `dst` through `oif` (and `gateway` when given).
  virtual Status ReplaceRoute(const Cidr& dst, int oif, std::optional<Ipv4> gateway) = 0;
  virtual Status DeleteRoute(const RouteInfo& route) = 0;
};

// The kernel's: one rtnetlink socket (libnl-route-3) made inside the namespace.
class LibnlNetlink final : public Netlink {
 public:
  // Opens a connection inside namespace `ns`. kNotFound/kIOError. `namespaces` must outlive it
  // (AddVeth opens the peer's namespace through it).
  static Result<std::unique_ptr<Netlink>> Open(Namespaces& namespaces, const std::string& ns);
  ~LibnlNetlink() override;
  LibnlNetlink(const LibnlNetlink&) = delete;
  LibnlNetlink& operator=(const LibnlNetlink&) = delete;

  Result<std::vector<LinkInfo>> Links() override;
  Result<std::optional<LinkInfo>> Link(const std::string& name) override;
  Status AddBridge(const std::string& name) override;
  Status AddVeth(const std::string& name, const std::string& peer_name,
                 const std::string& peer_ns) override;
  Status DeleteLink(const std::string& name) override;
  Status SetUp(const std::string& name, std::optional<int> master = std::nullopt) override;
  Status SetMac(const std::string& name, const std::array<uint8_t, 6>& mac) override;
  Status SetInetConf(const std::string& name, int devconf, uint32_t value) override;
  Result<std::vector<IfAddress>> Addresses(int ifindex) override;
  Status AddAddress(int ifindex, const IfAddress& address) override;
  Status DeleteAddress(int ifindex, const IfAddress& address) override;
  Result<std::vector<RouteInfo>> Routes() override;
  Status ReplaceRoute(const Cidr& dst, int oif, std::optional<Ipv4> gateway) override;
  Status DeleteRoute(const RouteInfo& route) override;

 private:
  LibnlNetlink(Namespaces& namespaces, nl_sock* sock) : namespaces_(namespaces), sock_(sock) {}
  Namespaces& namespaces_;
  nl_sock* sock_;
};

}  // namespace cove::fabric
