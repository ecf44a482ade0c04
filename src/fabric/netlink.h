// Netlink: one rtnetlink connection inside one network namespace (libnl-route-3), with the few
// link, address and route operations the fabric needs. The socket is created while the thread
// is inside the namespace (through the Namespaces seam), so every request on it acts there.
//
// Each query reads the kernel's current state (no caches are kept between calls), so a
// reconciler can compare what is there with what should be.
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

class Netlink {
 public:
  // Opens a connection inside namespace `ns`. kNotFound/kIOError.
  static Result<std::unique_ptr<Netlink>> Open(Namespaces& namespaces, const std::string& ns);
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  Result<std::vector<LinkInfo>> Links();
  // The named link, or nullopt.
  Result<std::optional<LinkInfo>> Link(const std::string& name);
  Status AddBridge(const std::string& name);
  // A veth pair: `name` here, `peer_name` in the namespace open as `peer_ns_fd`.
  Status AddVeth(const std::string& name, const std::string& peer_name, int peer_ns_fd);
  Status DeleteLink(const std::string& name);
  // Brings the link up, and (when given) enslaves it to the bridge with index `master`.
  Status SetUp(const std::string& name, std::optional<int> master = std::nullopt);
  // Sets the link's Ethernet address (unless it is already that).
  Status SetMac(const std::string& name, const std::array<uint8_t, 6>& mac);
  // Per-interface IPv4 settings (IPV4_DEVCONF_*), e.g. proxy ARP.
  Status SetInetConf(const std::string& name, int devconf, uint32_t value);

  Result<std::vector<IfAddress>> Addresses(int ifindex);
  Status AddAddress(int ifindex, const IfAddress& address);
  Status DeleteAddress(int ifindex, const IfAddress& address);

  // Routes of the main table (IPv4).
  Result<std::vector<RouteInfo>> Routes();
  // Adds or replaces the main-table route to `dst` through `oif` (and `gateway` when given).
  Status ReplaceRoute(const Cidr& dst, int oif, std::optional<Ipv4> gateway);
  Status DeleteRoute(const RouteInfo& route);

 private:
  explicit Netlink(nl_sock* sock) : sock_(sock) {}
  nl_sock* sock_;
};

}  // namespace cove::fabric
