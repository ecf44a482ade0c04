// OnPremPlane: runs what an on-premises plan (daemon/onprem.h) names — the strongSwan
// endpoints of each IPsec connection (tunnel/ipsec.h: one on the VPN gateway machine, one on
// the site's router) and each site's DNS server (onprem/site_dns.h: BIND or unbound) — inside
// the namespaces the fabric made for them, and answers connectionStatus for the control plane.
//
// Apply(plan) reconciles: what is new or changed is (re)started, what is gone is stopped (by
// PID), what is unchanged keeps running. A tunnel without a site (the local network gateway's
// address belongs to no cove site) runs its gateway end only: it waits for a peer that never
// comes, and its status says NotConnected. A start that fails is logged and retried on the next
// Apply; it never fails the others.
//
// BGP routers (an ExpressRoute connection's MSEE, gateway and site ends: tunnel/bgp.h) are
// reconciled the same way, one FRR speaker per namespace, restarted when their spec changes and
// stopped (zebra takes its routes with it) when the plan drops them. Their files are NOT under
// state_dir: FRR runs as the `frr` user, which must be able to search every parent of its
// directory, and coved's data dir may be 0700. They go under /run/cove-frr-<hash8(state_dir)>/
// <hash8(namespace)>/ (0755 chain; removed on Stop).
//
// Files: <state_dir>/ipsec/<hash8(connection id)>-{gateway,site}/ and
// <state_dir>/dns/<hash8(site id)>/ (configuration, logs; the PSK is in a 0600 file).
//
// Status(connection id): "Connected" when both ends report an installed CHILD_SA (the gateway's
// view, as Azure reports it), "Connecting" while IKE is under way, "NotConnected" otherwise,
// nothing for a connection the plane does not run (the control plane says "Unknown").
// An ExpressRoute connection: "Connected" when its MSEE's sessions with the gateway and with the
// site are both Established, "Connecting" while the MSEE runs but one is not, "NotConnected"
// without an MSEE (the peering is Disabled).
//
// Thread-safety: all methods may be called from any thread (one mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "arm/control_plane.h"
#include "daemon/onprem.h"
#include "fabric/fabric.h"
#include "onprem/site_dns.h"
#include "tunnel/bgp.h"
#include "tunnel/ipsec.h"

namespace cove::daemon {

class OnPremPlane {
 public:
  // `namespaces` and `fabric` must outlive the plane.
  OnPremPlane(fabric::Namespaces& namespaces, const fabric::Fabric& fabric, std::string state_dir);
  ~OnPremPlane();  // stops everything it started

  void Apply(const OnPremPlan& plan);
  // The connection's status and bytes (as the ARM connection renders them); nullopt for one
  // the plane does not run.
  std::optional<arm::ConnectionStatus> Status(const std::string& connection_id) const;
  // Stops everything (coved's shutdown; `cove down`).
  void Stop();

 private:
  struct Tunnel {
    IpsecTunnel spec;
    std::unique_ptr<tunnel::IpsecEndpoint> gateway, site;
  };

  struct DnsServer {
    SiteDns spec;
    std::unique_ptr<onprem::SiteDnsServer> server;
  };
  struct Router {
    BgpRouter spec;
    std::unique_ptr<tunnel::BgpSpeaker> speaker;
  };
  void ApplyTunnels(const OnPremPlan& plan);
  void ApplyDns(const OnPremPlan& plan);
  void ApplyRouters(const OnPremPlan& plan);
  std::optional<arm::ConnectionStatus> ExpressRouteStatus(const ExpressRouteLink& link) const;

  fabric::Namespaces& namespaces_;
  const fabric::Fabric& fabric_;
  const std::string state_dir_;
  mutable std::mutex mu_;
  std::map<std::string, Tunnel> tunnels_;  // by lowercased connection id
  std::map<std::string, DnsServer> dns_;   // by lowercased site id
  const std::string frr_dir_;               // /run/cove-frr-<hash8(state_dir)>
  std::map<std::string, Router> routers_;   // by lowercased "network id|vm id"
  std::map<std::string, ExpressRouteLink> express_route_;  // by lowercased connection id
};

}  // namespace cove::daemon
