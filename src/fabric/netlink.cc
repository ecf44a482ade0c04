#include "fabric/netlink.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include <cstring>

namespace cove::fabric {
namespace {

tl::unexpected<Error> NlFail(const std::string& what, int err) {
  Code code = Code::kIOError;
  if (err < 0) err = -err;
  if (err == NLE_EXIST) code = Code::kAlreadyExists;
  if (err == NLE_OBJ_NOTFOUND || err == NLE_NODEV) code = Code::kNotFound;
  return Fail(code, what + ": " + nl_geterror(err));
}

// Owning wrappers for libnl objects.
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using CachePtr = std::unique_ptr<nl_cache, CacheDeleter>;
struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
struct AddrDeleter {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
using AddrPtr = std::unique_ptr<rtnl_addr, AddrDeleter>;
struct RouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
using RoutePtr = std::unique_ptr<rtnl_route, RouteDeleter>;
struct NlAddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;

NlAddrPtr MakeAddr(Ipv4 ip, int length) {
  uint32_t be = htonl(ip.value);
  NlAddrPtr a(nl_addr_build(AF_INET, &be, sizeof be));
  if (a) nl_addr_set_prefixlen(a.get(), length);
  return a;
}

std::optional<Ipv4> ToIpv4(nl_addr* a) {
  if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != 4) return std::nullopt;
  uint32_t be;
  std::memcpy(&be, nl_addr_get_binary_addr(a), 4);
  return Ipv4{ntohl(be)};
}

}  // namespace

Result<std::unique_ptr<Netlink>> LibnlNetlink::Open(Namespaces& namespaces, const std::string& ns) {
  nl_sock* sock = nullptr;
  COVE_RETURN_IF_ERROR(namespaces.RunIn(ns, [&]() -> Status {
    sock = nl_socket_alloc();
    if (!sock) return Fail(Code::kResourceExhausted, "nl_socket_alloc");
    int err = nl_connect(sock, NETLINK_ROUTE);
    if (err < 0) {
      nl_socket_free(sock);
      sock = nullptr;
      return NlFail("netlink connect in " + ns, err);
    }
    return Ok();
  }));
  return std::unique_ptr<Netlink>(new LibnlNetlink(namespaces, sock));
}

LibnlNetlink::~LibnlNetlink() {
  if (sock_) {
    nl_close(sock_);
    nl_socket_free(sock_);
  }
}

Result<std::vector<LinkInfo>> LibnlNetlink::Links() {
  nl_cache* raw = nullptr;
  int err = rtnl_link_alloc_cache(sock_, AF_UNSPEC, &raw);
  if (err < 0) return NlFail("list links", err);
  CachePtr cache(raw);
  std::vector<LinkInfo> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    LinkInfo info;
    info.name = rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "";
    info.index = rtnl_link_get_ifindex(l);
    info.kind = rtnl_link_get_type(l) ? rtnl_link_get_type(l) : "";
    info.master = rtnl_link_get_master(l);
    info.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::optional<LinkInfo>> LibnlNetlink::Link(const std::string& name) {
  COVE_ASSIGN_OR_RETURN(auto links, Links());
  for (LinkInfo& l : links) {
    if (l.name == name) return std::optional<LinkInfo>(std::move(l));
  }
  return std::optional<LinkInfo>();
}

Status LibnlNetlink::AddBridge(const std::string& name) {
  int err = rtnl_link_bridge_add(sock_, name.c_str());
  if (err < 0) return NlFail("add bridge " + name, err);
  return Ok();
}

Status LibnlNetlink::AddVeth(const std::string& name, const std::string& peer_name,
                             const std::string& peer_ns) {
  COVE_ASSIGN_OR_RETURN(UniqueFd peer_fd, namespaces_.Open(peer_ns));
  const int peer_ns_fd = peer_fd.get();
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) return Fail(Code::kResourceExhausted, "rtnl_link_veth_alloc");
  rtnl_link_set_name(link.get(), name.c_str());
  {
    LinkPtr peer(rtnl_link_veth_get_peer(link.get()));
    rtnl_link_set_name(peer.get(), peer_name.c_str());
    rtnl_link_set_ns_fd(peer.get(), peer_ns_fd);
  }
  int err = rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0) return NlFail("add veth " + name + "/" + peer_name, err);
  return Ok();
}

Status LibnlNetlink::DeleteLink(const std::string& name) {
  LinkPtr link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sock_, link.get());
  if (err < 0) return NlFail("delete link " + name, err);
  return Ok();
}

Status LibnlNetlink::SetUp(const std::string& name, std::optional<int> master) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &raw);
  if (err < 0) return NlFail("get link " + name, err);
  LinkPtr orig(raw);
  const bool up = (rtnl_link_get_flags(raw) & IFF_UP) != 0;
  const bool master_ok = !master || rtnl_link_get_master(raw) == *master;
  if (up && master_ok) return Ok();
  LinkPtr change(rtnl_link_alloc());
  if (!master_ok) rtnl_link_set_master(change.get(), *master);
  rtnl_link_set_flags(change.get(), IFF_UP);
  err = rtnl_link_change(sock_, orig.get(), change.get(), 0);
  if (err < 0) return NlFail("set " + name + " up", err);
  return Ok();
}

Status LibnlNetlink::SetMac(const std::string& name, const std::array<uint8_t, 6>& mac) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &raw);
  if (err < 0) return NlFail("get link " + name, err);
  LinkPtr orig(raw);
  nl_addr* current = rtnl_link_get_addr(raw);
  if (current && nl_addr_get_len(current) == mac.size() &&
      std::memcmp(nl_addr_get_binary_addr(current), mac.data(), mac.size()) == 0) {
    return Ok();
  }
  std::unique_ptr<nl_addr, decltype(&nl_addr_put)> address(
      nl_addr_build(AF_LLC, mac.data(), mac.size()), &nl_addr_put);
  if (!address) return Fail(Code::kResourceExhausted, "nl_addr_build");
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_addr(change.get(), address.get());
  err = rtnl_link_change(sock_, orig.get(), change.get(), 0);
  if (err < 0) return NlFail("set the MAC address of " + name, err);
  return Ok();
}

Status LibnlNetlink::SetInetConf(const std::string& name, int devconf, uint32_t value) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &raw);
  if (err < 0) return NlFail("get link " + name, err);
  LinkPtr orig(raw);
  uint32_t current = 0;
  if (rtnl_link_inet_get_conf(raw, devconf, &current) == 0 && current == value) return Ok();
  LinkPtr change(rtnl_link_alloc());
  err = rtnl_link_inet_set_conf(change.get(), devconf, value);
  if (err < 0) return NlFail("set IPv4 conf of " + name, err);
  err = rtnl_link_change(sock_, orig.get(), change.get(), 0);
  if (err < 0) return NlFail("set IPv4 conf of " + name, err);
  return Ok();
}

Result<std::vector<IfAddress>> LibnlNetlink::Addresses(int ifindex) {
  nl_cache* raw = nullptr;
  int err = rtnl_addr_alloc_cache(sock_, &raw);
  if (err < 0) return NlFail("list addresses", err);
  CachePtr cache(raw);
  std::vector<IfAddress> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_family(a) != AF_INET || rtnl_addr_get_ifindex(a) != ifindex) continue;
    if (auto ip = ToIpv4(rtnl_addr_get_local(a))) {
      out.push_back(IfAddress{*ip, rtnl_addr_get_prefixlen(a), rtnl_addr_get_scope(a)});
    }
  }
  return out;
}

Status LibnlNetlink::AddAddress(int ifindex, const IfAddress& address) {
  AddrPtr addr(rtnl_addr_alloc());
  NlAddrPtr local = MakeAddr(address.ip, address.length);
  if (!addr || !local) return Fail(Code::kResourceExhausted, "rtnl_addr_alloc");
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_local(addr.get(), local.get());
  rtnl_addr_set_prefixlen(addr.get(), address.length);
  rtnl_addr_set_scope(addr.get(), address.scope);
  int err = rtnl_addr_add(sock_, addr.get(), 0);
  if (err < 0) {
    return NlFail("add address " + address.ip.ToString() + "/" + std::to_string(address.length),
                  err);
  }
  return Ok();
}

Status LibnlNetlink::DeleteAddress(int ifindex, const IfAddress& address) {
  AddrPtr addr(rtnl_addr_alloc());
  NlAddrPtr local = MakeAddr(address.ip, address.length);
  if (!addr || !local) return Fail(Code::kResourceExhausted, "rtnl_addr_alloc");
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_local(addr.get(), local.get());
  rtnl_addr_set_prefixlen(addr.get(), address.length);
  int err = rtnl_addr_delete(sock_, addr.get(), 0);
  if (err < 0) return NlFail("delete address " + address.ip.ToString(), err);
  return Ok();
}

Result<std::vector<RouteInfo>> LibnlNetlink::Routes() {
  nl_cache* raw = nullptr;
  int err = rtnl_route_alloc_cache(sock_, AF_INET, 0, &raw);
  if (err < 0) return NlFail("list routes", err);
  CachePtr cache(raw);
  std::vector<RouteInfo> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
    RouteInfo info;
    info.table = static_cast<int>(rtnl_route_get_table(r));
    info.type = rtnl_route_get_type(r);
    info.protocol = rtnl_route_get_protocol(r);
    nl_addr* dst = rtnl_route_get_dst(r);
    if (auto ip = ToIpv4(dst)) {
      info.dst = Cidr{*ip, static_cast<int>(nl_addr_get_prefixlen(dst))};
    } else {
      info.dst = Cidr{Ipv4{0}, 0};  // default route
    }
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      info.oif = rtnl_route_nh_get_ifindex(nh);
      info.gateway = ToIpv4(rtnl_route_nh_get_gateway(nh));
    }
    out.push_back(info);
  }
  return out;
}

namespace {

RoutePtr BuildRoute(const Cidr& dst, int oif, std::optional<Ipv4> gateway) {
  RoutePtr route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), AF_INET);
  NlAddrPtr d = MakeAddr(dst.network, dst.length);
  rtnl_route_set_dst(route.get(), d.get());
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, oif);
  if (gateway) {
    NlAddrPtr g = MakeAddr(*gateway, 32);
    rtnl_route_nh_set_gateway(nh, g.get());
  }
  rtnl_route_add_nexthop(route.get(), nh);
  return route;
}

}  // namespace

Status LibnlNetlink::ReplaceRoute(const Cidr& dst, int oif, std::optional<Ipv4> gateway) {
  RoutePtr route = BuildRoute(dst, oif, gateway);
  int err = rtnl_route_add(sock_, route.get(), NLM_F_REPLACE);
  if (err < 0) return NlFail("route " + dst.ToString(), err);
  return Ok();
}

Status LibnlNetlink::DeleteRoute(const RouteInfo& info) {
  RoutePtr route = BuildRoute(info.dst, info.oif, info.gateway);
  rtnl_route_set_protocol(route.get(), static_cast<uint8_t>(info.protocol));
  int err = rtnl_route_delete(sock_, route.get(), 0);
  if (err < 0) return NlFail("delete route " + info.dst.ToString(), err);
  return Ok();
}

}  // namespace cove::fabric
