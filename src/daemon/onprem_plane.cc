#include "daemon/onprem_plane.h"

#include <spdlog/spdlog.h>

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
    : namespaces_(namespaces), fabric_(fabric), state_dir_(std::move(state_dir)) {}

OnPremPlane::~OnPremPlane() { Stop(); }

void OnPremPlane::Stop() {
  std::lock_guard lock(mu_);
  tunnels_.clear();  // each endpoint stops its charon
  dns_.clear();      // and each server its process
}

void OnPremPlane::Apply(const OnPremPlan& plan) {
  std::lock_guard lock(mu_);
  ApplyTunnels(plan);
  ApplyDns(plan);
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
  if (it == tunnels_.end()) return std::nullopt;
  if (!it->second.gateway) return arm::ConnectionStatus{.status = "NotConnected"};
  tunnel::SaSummary sa = it->second.gateway->Summary();
  return arm::ConnectionStatus{.status = std::string(tunnel::ConnectionStatusName(sa.status)),
                               .ingress_bytes = sa.ingress_bytes,
                               .egress_bytes = sa.egress_bytes};
}

}  // namespace cove::daemon
