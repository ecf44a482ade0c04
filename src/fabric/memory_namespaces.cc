#include "fabric/memory_namespaces.h"

#include <linux/rtnetlink.h>

#include <algorithm>

namespace cove::fabric {

struct MemoryNamespaces::Space {
  struct Link {
    LinkInfo info;
    std::optional<std::pair<std::string, std::string>> peer;  // veth: {ns, link}
    std::optional<std::array<uint8_t, 6>> mac;
    std::map<int, uint32_t> inet_conf;
    std::set<IfAddress> addresses;
  };
  std::map<std::string, Link> links;  // by name
  std::vector<RouteInfo> routes;
  std::map<std::string, std::string> sysctls;
  std::vector<std::string> nft;
  int next_index = 2;

  Link* ByIndex(int index) {
    for (auto& [name, l] : links) {
      if (l.info.index == index) return &l;
    }
    return nullptr;
  }
  void DropRoutesOf(int index) {
    std::erase_if(routes, [&](const RouteInfo& r) { return r.oif == index; });
  }
};

struct MemoryNamespaces::State {
  mutable std::mutex mu;
  std::map<std::string, Space> spaces;  // guarded by mu
  uint64_t mutations = 0;               // guarded by mu

  // REQUIRES: mu held.
  Result<Space*> Find(const std::string& name) {
    auto it = spaces.find(name);
    if (it == spaces.end()) return Fail(Code::kNotFound, "no namespace " + name);
    return &it->second;
  }
  const Space* FindConst(const std::string& name) const {
    auto it = spaces.find(name);
    return it == spaces.end() ? nullptr : &it->second;
  }
  // Removes link `name` of `space` with its addresses and routes; a veth's far end goes too.
  // REQUIRES: mu held.
  void RemoveLink(Space& space, const std::string& name) {
    auto it = space.links.find(name);
    if (it == space.links.end()) return;
    auto peer = it->second.peer;
    const int index = it->second.info.index;
    space.DropRoutesOf(index);
    for (auto& [n, l] : space.links) {
      if (l.info.master == index) l.info.master = 0;
    }
    space.links.erase(it);
    if (peer) {
      auto far = spaces.find(peer->first);
      if (far != spaces.end()) {
        auto end = far->second.links.find(peer->second);
        if (end != far->second.links.end()) end->second.peer.reset();
        RemoveLink(far->second, peer->second);
      }
    }
  }
};

// A Netlink over one recorded namespace.
class MemoryNamespaces::MemoryNetlink final : public Netlink {
 public:
  MemoryNetlink(std::shared_ptr<State> state, std::string ns)
      : state_(std::move(state)), ns_(std::move(ns)) {}

  Result<std::vector<LinkInfo>> Links() override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    std::vector<LinkInfo> out;
    for (const auto& [name, l] : space->links) out.push_back(l.info);
    std::sort(out.begin(), out.end(),
              [](const LinkInfo& a, const LinkInfo& b) { return a.index < b.index; });
    return out;
  }
  Result<std::optional<LinkInfo>> Link(const std::string& name) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    auto it = space->links.find(name);
    if (it == space->links.end()) return std::optional<LinkInfo>();
    return std::optional<LinkInfo>(it->second.info);
  }
  Status AddBridge(const std::string& name) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    if (space->links.count(name)) return Fail(Code::kAlreadyExists, "link " + name + " exists");
    Space::Link l;
    l.info = LinkInfo{name, space->next_index++, "bridge", 0, false};
    space->links.emplace(name, std::move(l));
    ++state_->mutations;
    return Ok();
  }
  Status AddVeth(const std::string& name, const std::string& peer_name,
                 const std::string& peer_ns) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * here, state_->Find(ns_));
    COVE_ASSIGN_OR_RETURN(Space * there, state_->Find(peer_ns));
    if (here->links.count(name)) return Fail(Code::kAlreadyExists, "link " + name + " exists");
    if (there->links.count(peer_name) || (here == there && name == peer_name)) {
      return Fail(Code::kAlreadyExists, "link " + peer_name + " exists in " + peer_ns);
    }
    Space::Link a, b;
    a.info = LinkInfo{name, here->next_index++, "veth", 0, false};
    a.peer = {peer_ns, peer_name};
    b.info = LinkInfo{peer_name, there->next_index++, "veth", 0, false};
    b.peer = {ns_, name};
    here->links.emplace(name, std::move(a));
    there->links.emplace(peer_name, std::move(b));
    ++state_->mutations;
    return Ok();
  }
  Status DeleteLink(const std::string& name) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    if (!space->links.count(name)) return Fail(Code::kNotFound, "no link " + name);
    if (name == "lo") return Fail(Code::kIOError, "delete link lo: operation not supported");
    state_->RemoveLink(*space, name);
    ++state_->mutations;
    return Ok();
  }
  Status SetUp(const std::string& name, std::optional<int> master) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space::Link * l, FindLink(name));
    if (l->info.up && (!master || l->info.master == *master)) return Ok();
    if (master) {
      COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
      Space::Link* bridge = space->ByIndex(*master);
      if (!bridge || bridge->info.kind != "bridge") {
        return Fail(Code::kNotFound, "no bridge with index " + std::to_string(*master));
      }
      l->info.master = *master;
    }
    l->info.up = true;
    ++state_->mutations;
    return Ok();
  }
  Status SetMac(const std::string& name, const std::array<uint8_t, 6>& mac) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space::Link * l, FindLink(name));
    if (l->mac == mac) return Ok();
    l->mac = mac;
    ++state_->mutations;
    return Ok();
  }
  Status SetInetConf(const std::string& name, int devconf, uint32_t value) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space::Link * l, FindLink(name));
    auto it = l->inet_conf.find(devconf);
    if (it != l->inet_conf.end() && it->second == value) return Ok();
    l->inet_conf[devconf] = value;
    ++state_->mutations;
    return Ok();
  }
  Result<std::vector<IfAddress>> Addresses(int ifindex) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    Space::Link* l = space->ByIndex(ifindex);
    if (!l) return std::vector<IfAddress>();
    return std::vector<IfAddress>(l->addresses.begin(), l->addresses.end());
  }
  Status AddAddress(int ifindex, const IfAddress& address) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    Space::Link* l = space->ByIndex(ifindex);
    if (!l) return Fail(Code::kNotFound, "no link with index " + std::to_string(ifindex));
    for (const IfAddress& a : l->addresses) {
      if (a.ip == address.ip && a.length == address.length) {
        return Fail(Code::kAlreadyExists, "address " + address.ip.ToString() + " exists");
      }
    }
    l->addresses.insert(address);
    if (address.length < 32) space->routes.push_back(ConnectedRoute(address, ifindex));
    ++state_->mutations;
    return Ok();
  }
  Status DeleteAddress(int ifindex, const IfAddress& address) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    Space::Link* l = space->ByIndex(ifindex);
    if (!l) return Fail(Code::kNotFound, "no link with index " + std::to_string(ifindex));
    auto it = std::find_if(l->addresses.begin(), l->addresses.end(), [&](const IfAddress& a) {
      return a.ip == address.ip && a.length == address.length;
    });
    if (it == l->addresses.end()) {
      return Fail(Code::kNotFound, "no address " + address.ip.ToString());
    }
    if (it->length < 32) {
      RouteInfo connected = ConnectedRoute(*it, ifindex);
      std::erase_if(space->routes, [&](const RouteInfo& r) {
        return r.dst == connected.dst && r.oif == ifindex && r.protocol == RTPROT_KERNEL;
      });
    }
    l->addresses.erase(it);
    ++state_->mutations;
    return Ok();
  }
  Result<std::vector<RouteInfo>> Routes() override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    return space->routes;
  }
  Status ReplaceRoute(const Cidr& dst, int oif, std::optional<Ipv4> gateway) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    if (!space->ByIndex(oif))
      return Fail(Code::kNotFound, "no link with index " + std::to_string(oif));
    RouteInfo route{dst, oif, gateway, RTN_UNICAST, RT_TABLE_MAIN, RTPROT_STATIC};
    for (RouteInfo& r : space->routes) {
      if (r.dst == dst && r.protocol != RTPROT_KERNEL) {
        r = route;
        ++state_->mutations;
        return Ok();
      }
    }
    space->routes.push_back(route);
    ++state_->mutations;
    return Ok();
  }
  Status DeleteRoute(const RouteInfo& route) override {
    std::lock_guard lock(state_->mu);
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    auto it = std::find_if(space->routes.begin(), space->routes.end(), [&](const RouteInfo& r) {
      return r.dst == route.dst && r.oif == route.oif && r.protocol == route.protocol;
    });
    if (it == space->routes.end()) return Fail(Code::kNotFound, "no route " + route.dst.ToString());
    space->routes.erase(it);
    ++state_->mutations;
    return Ok();
  }

 private:
  static RouteInfo ConnectedRoute(const IfAddress& address, int ifindex) {
    Cidr prefix{Ipv4{0}, address.length};
    prefix.network = Ipv4{address.ip.value & prefix.Mask()};
    return RouteInfo{prefix, ifindex, std::nullopt, RTN_UNICAST, RT_TABLE_MAIN, RTPROT_KERNEL};
  }
  // REQUIRES: state_->mu held.
  Result<Space::Link*> FindLink(const std::string& name) {
    COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(ns_));
    auto it = space->links.find(name);
    if (it == space->links.end()) return Fail(Code::kNotFound, "no link " + name);
    return &it->second;
  }

  std::shared_ptr<State> state_;
  const std::string ns_;
};

MemoryNamespaces::MemoryNamespaces() : state_(std::make_shared<State>()) {}
MemoryNamespaces::~MemoryNamespaces() = default;

Status MemoryNamespaces::Create(const std::string& name) {
  if (name.empty() || name.size() > 15 || name.find('/') != std::string::npos) {
    return Fail(Code::kInvalidArgument, "bad namespace name '" + name + "'");
  }
  std::lock_guard lock(state_->mu);
  if (state_->spaces.count(name))
    return Fail(Code::kAlreadyExists, "namespace " + name + " exists");
  Space space;
  Space::Link lo;
  lo.info = LinkInfo{"lo", 1, "", 0, false};
  lo.addresses.insert(IfAddress{Ipv4{0x7f000001}, 8, RT_SCOPE_HOST});
  space.links.emplace("lo", std::move(lo));
  state_->spaces.emplace(name, std::move(space));
  ++state_->mutations;
  return Ok();
}

Status MemoryNamespaces::Delete(const std::string& name) {
  std::lock_guard lock(state_->mu);
  auto it = state_->spaces.find(name);
  if (it == state_->spaces.end()) return Fail(Code::kNotFound, "no namespace " + name);
  // Its veths' far ends go with it.
  std::vector<std::string> veths;
  for (const auto& [link, l] : it->second.links) {
    if (l.peer) veths.push_back(link);
  }
  for (const std::string& link : veths) state_->RemoveLink(it->second, link);
  state_->spaces.erase(name);
  ++state_->mutations;
  return Ok();
}

Result<std::vector<std::string>> MemoryNamespaces::List() {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& [name, space] : state_->spaces) out.push_back(name);
  return out;
}

Result<UniqueFd> MemoryNamespaces::Open(const std::string& name) {
  return Fail(Code::kUnimplemented, "in-memory namespace " + name + " has no descriptor");
}

Status MemoryNamespaces::RunIn(const std::string& name, const std::function<Status()>& fn) {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->spaces.count(name)) return Fail(Code::kNotFound, "no namespace " + name);
  }
  return fn();
}

Result<pid_t> MemoryNamespaces::Spawn(const std::string& name, const std::vector<std::string>&,
                                      const SpawnOptions&) {
  return Fail(Code::kUnimplemented, "cannot run programs in in-memory namespace " + name);
}

std::string MemoryNamespaces::PathOf(const std::string& name) const {
  return "/nonexistent/cove-memory-netns/" + name;
}

Result<std::unique_ptr<Netlink>> MemoryNamespaces::OpenNetlink(const std::string& name) {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->spaces.count(name)) return Fail(Code::kNotFound, "no namespace " + name);
  }
  return std::unique_ptr<Netlink>(new MemoryNetlink(state_, name));
}

Status MemoryNamespaces::WriteSysctl(const std::string& name, const std::string& key,
                                     const std::string& value) {
  std::lock_guard lock(state_->mu);
  COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(name));
  auto it = space->sysctls.find(key);
  if (it != space->sysctls.end() && it->second == value) return Ok();
  space->sysctls[key] = value;
  ++state_->mutations;
  return Ok();
}

Status MemoryNamespaces::RunNft(const std::string& name, const std::string& script) {
  std::lock_guard lock(state_->mu);
  COVE_ASSIGN_OR_RETURN(Space * space, state_->Find(name));
  // The same script again replaces the tables with what they already are.
  if (space->nft.empty() || space->nft.back() != script) ++state_->mutations;
  space->nft.push_back(script);
  return Ok();
}

bool MemoryNamespaces::Exists(const std::string& name) const {
  std::lock_guard lock(state_->mu);
  return state_->spaces.count(name) > 0;
}

std::vector<LinkInfo> MemoryNamespaces::Links(const std::string& ns) const {
  std::lock_guard lock(state_->mu);
  std::vector<LinkInfo> out;
  if (const Space* space = state_->FindConst(ns)) {
    for (const auto& [name, l] : space->links) out.push_back(l.info);
  }
  return out;
}

std::optional<LinkInfo> MemoryNamespaces::Link(const std::string& ns,
                                               const std::string& link) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  if (!space || !space->links.count(link)) return std::nullopt;
  return space->links.at(link).info;
}

std::set<IfAddress> MemoryNamespaces::Addresses(const std::string& ns,
                                                const std::string& link) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  if (!space || !space->links.count(link)) return {};
  return space->links.at(link).addresses;
}

std::vector<RouteInfo> MemoryNamespaces::Routes(const std::string& ns) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  return space ? space->routes : std::vector<RouteInfo>();
}

std::optional<std::pair<std::string, std::string>> MemoryNamespaces::Peer(
    const std::string& ns, const std::string& link) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  if (!space || !space->links.count(link)) return std::nullopt;
  return space->links.at(link).peer;
}

std::optional<std::array<uint8_t, 6>> MemoryNamespaces::Mac(const std::string& ns,
                                                            const std::string& link) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  if (!space || !space->links.count(link)) return std::nullopt;
  return space->links.at(link).mac;
}

std::optional<uint32_t> MemoryNamespaces::InetConf(const std::string& ns, const std::string& link,
                                                   int devconf) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  if (!space || !space->links.count(link)) return std::nullopt;
  const auto& conf = space->links.at(link).inet_conf;
  auto it = conf.find(devconf);
  if (it == conf.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> MemoryNamespaces::Sysctl(const std::string& ns,
                                                    const std::string& key) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  if (!space || !space->sysctls.count(key)) return std::nullopt;
  return space->sysctls.at(key);
}

std::vector<std::string> MemoryNamespaces::NftScripts(const std::string& ns) const {
  std::lock_guard lock(state_->mu);
  const Space* space = state_->FindConst(ns);
  return space ? space->nft : std::vector<std::string>();
}

uint64_t MemoryNamespaces::mutations() const {
  std::lock_guard lock(state_->mu);
  return state_->mutations;
}

}  // namespace cove::fabric
