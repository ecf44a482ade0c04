#include "daemon/onprem_plane.h"

#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <filesystem>

#include "arm/engine.h"

namespace cove::daemon {
namespace {

Result<std::unique_ptr<tunnel::IpsecEndpoint>> StartEnd(fabric::Namespaces& namespaces,
                                                        tunnel::IpsecSpec spec) {
  auto started = tunnel::IpsecEndpoint::Start(namespaces, spec);
  if (!started) {
    spdlog::warn("vpn {}: strongSwan in {} did not start: {}", spec.name, spec.netns,
                 started.error().message);
  }
  return started;
}

}  // namespace

OnPremPlane::OnPremPlane(fabric::Namespaces& namespaces, const fabric::Fabric& fabric,
                         std::string state_dir)
    : namespaces_(namespaces),
      fabric_(fabric),
      state_dir_(std::move(state_dir)),
      frr_dir_("/run/cove-frr-" + fabric::ShortId(state_dir_)) {}

OnPremPlane::~OnPremPlane() { Stop(); }

void OnPremPlane::Stop() {
  std::lock_guard lock(mu_);
  tunnels_.clear();  // each endpoint stops its charon
  dns_.clear();      // and each server its process
  routers_.clear();  // and each speaker its bgpd and zebra
  express_route_.clear();
  std::error_code ec;
  std::filesystem::remove_all(frr_dir_, ec);
}

void OnPremPlane::Apply(const OnPremPlan& plan) {
  std::lock_guard lock(mu_);
  ApplyTunnels(plan);
  ApplyDns(plan);
  ApplyRouters(plan);
}

void OnPremPlane::ApplyRouters(const OnPremPlan& plan) {
  express_route_.clear();
  for (const ExpressRouteLink& l : plan.express_route) express_route_[arm::Lower(l.connection_id)] = l;
  std::map<std::string, const BgpRouter*> wanted;
  for (const BgpRouter& r : plan.bgp_routers) {
    wanted[arm::Lower(r.network_id) + "|" + arm::Lower(r.vm_id)] = &r;
  }
  for (auto it = routers_.begin(); it != routers_.end();) {
    auto w = wanted.find(it->first);
    bool keep = w != wanted.end() && *w->second == it->second.spec && it->second.speaker;
    it = keep ? std::next(it) : routers_.erase(it);  // a speaker stops with its routes
  }
  if (wanted.empty()) return;
  // Every directory above the speakers' must be searchable by FRR's user.
  std::error_code ec;
  std::filesystem::create_directories(frr_dir_, ec);
  ::chmod(frr_dir_.c_str(), 0755);
  for (const auto& [key, r] : wanted) {
    if (routers_.count(key)) continue;
    tunnel::BgpSpec spec;
    spec.name = "r" + fabric::ShortId(key);
    spec.netns = r->vm_id.empty() ? fabric_.NetworkNamespace(r->network_id)
                                  : fabric_.VmNamespace(r->vm_id);
    spec.asn = r->asn;
    spec.router_id = r->router_id;
    for (const BgpPeer& p : r->neighbors) spec.neighbors.push_back({p.address, p.asn, p.description});
    spec.networks = r->networks;
    spec.state_dir = frr_dir_ + "/" + fabric::ShortId(key);
    auto started = tunnel::BgpSpeaker::Start(namespaces_, spec);
    if (!started) {
      spdlog::warn("bgp {}: FRR in {} did not start: {}", key, spec.netns, started.error().message);
    } else {
      spdlog::info("bgp: AS {} in {} with {} neighbors", spec.asn, spec.netns, spec.neighbors.size());
    }
    routers_[key] = Router{.spec = *r, .speaker = started ? std::move(*started) : nullptr};
  }
}

std::optional<arm::ConnectionStatus> OnPremPlane::ExpressRouteStatus(
    const ExpressRouteLink& link) const {
  auto it = routers_.find(arm::Lower(link.msee_network) + "|");
  if (link.msee_network.empty() || it == routers_.end() || !it->second.speaker) {
    return arm::ConnectionStatus{.status = "NotConnected"};
  }
  auto sessions = it->second.speaker->Sessions();
  bool gateway = false, site = false;
  for (const tunnel::SessionState& s : sessions.value_or(std::vector<tunnel::SessionState>{})) {
    if (s.neighbor == link.gateway_neighbor) gateway = s.established();
    if (s.neighbor == link.site_neighbor) site = s.established();
  }
  return arm::ConnectionStatus{.status = gateway && site ? "Connected" : "Connecting"};
}

void OnPremPlane::ApplyDns(const OnPremPlan& plan) {
  std::map<std::string, const SiteDns*> wanted;
  for (const SiteDns& d : plan.dns_servers) wanted[arm::Lower(d.site_network)] = &d;
  for (auto it = dns_.begin(); it != dns_.end();) {
    auto w = wanted.find(it->first);
    bool keep = w != wanted.end() && *w->second == it->second.spec && it->second.server;
    it = keep ? std::next(it) : dns_.erase(it);
  }
  for (const auto& [key, d] : wanted) {
    if (dns_.count(key)) continue;
    onprem::SiteDnsSpec spec;
    spec.software = d->software == "unbound" ? onprem::SiteDnsSpec::kUnbound
                                             : onprem::SiteDnsSpec::kBind;
    spec.netns = fabric_.NetworkNamespace(d->site_network);
    spec.listen_address = d->address;
    spec.allow_from = d->clients;
    for (const DnsForward& f : d->forwards) spec.forwards.push_back({f.domain, f.targets});
    spec.upstream = d->default_forwarders;
    spec.state_dir = state_dir_ + "/dns/" + fabric::ShortId(key);
    auto started = onprem::SiteDnsServer::Start(spec, namespaces_);
    if (!started) {
      spdlog::warn("site dns {}: {} did not start: {}", d->site_network, d->software,
                   started.error().message);
    } else {
      spdlog::info("site dns: {} at {} in {}", d->software, d->address, spec.netns);
    }
    dns_[key] = DnsServer{.spec = *d, .server = started ? std::move(*started) : nullptr};
  }
}

void OnPremPlane::ApplyTunnels(const OnPremPlan& plan) {
  std::map<std::string, const IpsecTunnel*> wanted;
  for (const IpsecTunnel& t : plan.tunnels) wanted[arm::Lower(t.connection_id)] = &t;
  for (auto it = tunnels_.begin(); it != tunnels_.end();) {
    auto w = wanted.find(it->first);
    // A changed tunnel starts again from nothing; an end that died is started again.
    bool keep = w != wanted.end() && *w->second == it->second.spec && it->second.gateway &&
                (it->second.site || it->second.spec.site_network.empty());
    it = keep ? std::next(it) : tunnels_.erase(it);
  }
  for (const auto& [key, t] : wanted) {
    if (tunnels_.count(key)) continue;
    const std::string dir = state_dir_ + "/ipsec/" + fabric::ShortId(key);
    tunnel::IpsecSpec gateway{.name = "c" + fabric::ShortId(key),
                              .netns = fabric_.VmNamespace(t->gateway_machine),
                              .local_address = t->gateway_address,
                              .remote_address = t->site_address,
                              .local_prefixes = t->azure_prefixes,
                              .remote_prefixes = t->site_prefixes,
                              .psk = t->shared_key,
                              .state_dir = dir + "-gateway",
                              .initiator = false};
    Tunnel running{.spec = *t, .gateway = nullptr, .site = nullptr};
    if (auto g = StartEnd(namespaces_, gateway)) running.gateway = std::move(*g);
    if (!t->site_network.empty()) {
      // The on-premises device: configured from the connection, as Azure's "download device
      // configuration" would, and the one that starts IKE.
      tunnel::IpsecSpec site = gateway;
      site.netns = fabric_.NetworkNamespace(t->site_network);
      std::swap(site.local_address, site.remote_address);
      std::swap(site.local_prefixes, site.remote_prefixes);
      site.state_dir = dir + "-site";
      site.psk = t->site_shared_key;
      site.initiator = true;
      if (auto s = StartEnd(namespaces_, site)) running.site = std::move(*s);
    }
    tunnels_.emplace(key, std::move(running));
  }
}

std::optional<arm::ConnectionStatus> OnPremPlane::Status(const std::string& connection_id) const {
  std::lock_guard lock(mu_);
  auto it = tunnels_.find(arm::Lower(connection_id));
  if (it == tunnels_.end()) {
    auto er = express_route_.find(arm::Lower(connection_id));
    if (er == express_route_.end()) return std::nullopt;
    return ExpressRouteStatus(er->second);
  }
  if (!it->second.gateway) return arm::ConnectionStatus{.status = "NotConnected"};
  tunnel::SaSummary sa = it->second.gateway->Summary();
  return arm::ConnectionStatus{.status = std::string(tunnel::ConnectionStatusName(sa.status)),
                               .ingress_bytes = sa.ingress_bytes,
                               .egress_bytes = sa.egress_bytes};
}

}  // namespace cove::daemon
