// Planes: the full daemon's wiring of the control plane into the fabric, DNS and registry
// listeners — what makes private endpoints real.
//
// On Start and after every committed control-plane change, Apply(projection) (the commit's
// daemon/projection.h, which holds what the Build* functions below made of its snapshot):
//   1. takes the fabric::Topology (BuildTopology): every VNet with its subnets (private endpoint
//      member IPs as subnet local addresses; NSG rules on subnets whose
//      privateEndpointNetworkPolicies is NetworkSecurityGroupEnabled or Enabled), Connected
//      peerings, machines (VMs and container groups: arm/compute.cc, arm/containers.cc;
//      container groups are always on the public network), and the public
//      network "public": 203.0.113.0/24 holds each registry's public endpoint (203.0.113.10..52,
//      stable per registry: FNV hash of the name, probing upwards; past 43 registries the others
//      take .54..254 the same way, and past 244 a registry has no public endpoint) and the
//      public DNS server 203.0.113.53; 198.51.100.0/24 holds public VMs (.2..99) and every VNet's outbound
//      address (.100..254, stable per VNet id), so VNet VMs reach public endpoints as Azure's
//      default outbound access does. Applies it (fabric.h);
//   2. takes the dns::CatalogSpec (BuildCatalog): public zone <suffix> with `<reg>` and
//      `<reg>.<region>.data` CNAMEs to their privatelink names; public `privatelink.<suffix>`
//      with the public addresses; every Private DNS zone with its records, plus `A <vm>` for the
//      VMs of VNets linked with registrationEnabled; one view per VNet id with its links.
//      Sets it on the CatalogStore;
//   3. keeps one DNS UDP+TCP socket pair per VNet at 168.63.129.16:53 inside the VNet's
//      namespace (view = VNet id) and one in the public namespace (the public view); the
//      sockets of a deleted VNet are closed (dns::Server::RemoveSockets), and so are those of a
//      namespace that was replaced (new inode) before new ones are made;
//   4. keeps registry listeners (src/privatelink/listeners.h, which reconciles them through the
//      opener it is given — coved's forwards to the region nodes, daemon/regions.h): :443 on
//      each private endpoint member IP inside its VNet namespace, tagged with the endpoint's
//      link id, leading to "login/<registry>/<the VNet's region>" for the `registry` member and
//      "data/<registry>/<region>" for `registry_data_<region>`; and :443 on each registry's
//      public address in the public namespace (no link id), leading to "sni". Listeners of
//      removed endpoints, registries or VNets are shut down. Sockets are keyed by namespace
//      inode, so a VNet deleted and created again gets fresh sockets;
//   5. keeps one instance metadata listener per machine: plain HTTP on 169.254.169.254:80
//      inside the machine's namespace, bound to its lo, tagged with the machine's id, on the
//      IMDS server (src/imds), whose machine set (MachinesOf) is replaced with every snapshot.
//      The server answers only connections from the machine's own addresses; the fabric lets
//      169.254.169.254 be reached from the machine's lo only and guards every bridge port
//      against spoofed addresses (fabric/guard.h).
//   6. runs the on-premises plan (daemon/onprem_plane.h): strongSwan on VPN gateways and sites,
//      each site's DNS server;
//   7. runs the container groups' containers (daemon/containers_plane.h, from
//      daemon/container_groups.h's plans: pulled inside each group's namespace, run with runc);
//      they stop when the Planes go (coved exiting stops its containers) and on Down;
//   8. runs the AKS clusters' nodes (daemon/aks_plane.h, from daemon/aks_plans.h: containerd and
//      cove's kubelet in each node's namespace, the deployments' pods spread over them); they
//      stop when the Planes go and on Down;
// The access::Policy (network rules, connection states by link id) of the same projection is
// the registry node's (RegistryNode::Apply), not the planes'.
//
// Lifetime: coved exiting leaves the fabric in place; a restart adopts it (Fabric::Apply
// converges). `cove down` (or Planes::Down) removes every namespace and /etc/netns dir with the
// prefix. Only coved in full mode, as root, runs Planes (coved --fabric-prefix P selects the
// prefix, so parallel tests never collide).
//
// Thread-safety: Apply calls are serialized by a mutex; call from the control plane's
// subscriber (the writing thread) and once at start.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "arm/snapshot.h"
#include "common/error.h"
#include "daemon/aks_plane.h"
#include "daemon/aks_plans.h"
#include "daemon/container_groups.h"
#include "daemon/containers_plane.h"
#include "daemon/onprem.h"
#include "daemon/onprem_plane.h"
#include "daemon/projection.h"
#include "dns/catalog.h"
#include "dns/server.h"
#include "fabric/fabric.h"
#include "fabric/namespaces.h"
#include "http/server.h"
#include "imds/imds.h"
#include "privatelink/listeners.h"

namespace cove::daemon {

inline constexpr const char* kPublicNetworkId = "public";
inline constexpr const char* kPublicDnsAddress = "203.0.113.53";

struct PlanesOptions {
  std::string prefix = "cove";
  std::string etc_netns = "/etc/netns";
  dns::ServerOptions dns;  // the VNet DNS server's (connection limits: config `limits:`)
  // Where the on-premises plane keeps its strongSwan and DNS server files ("": a temp dir).
  std::string state_dir;
  // The registries' CA (coved's <data>/tls/ca.crt), which pulls trust.
  std::string ca_file;
  // Container groups' secure values and registry passwords (ControlPlane::ContainerGroupSecrets);
  // unset: groups run without them.
  SecretsOf container_secrets;
};

// Pure translations (tested without root).
// With the on-premises parts (daemon/onprem.h: gateways, sites, routes); what the on-premises
// plane must run goes to `onprem` when given.
fabric::Topology BuildTopology(const arm::Snapshot& snapshot, const std::string& ca_pem,
                               OnPremPlan* onprem = nullptr);
dns::CatalogSpec BuildCatalog(const arm::Snapshot& snapshot);
// The public endpoint address of every registry (by lowercased name).
std::map<std::string, std::string> PublicAddresses(const arm::Snapshot& snapshot);

// What each machine's instance metadata service knows of it, by listener tag.
imds::Machines MachinesOf(const arm::Snapshot& snapshot);

class Planes {
 public:
  // `registry_opener` (what makes the registry listeners: coved's forwards them to the region
  // nodes) and `imds` must outlive the Planes; `imds` may be null (no instance metadata
  // service: machines then get no IMDS listener).
  Planes(PlanesOptions options, privatelink::ListenerOpener& registry_opener,
         imds::Service* imds = nullptr);
  ~Planes();

  Status Apply(const ProjectionPtr& projection);
  Status Down();
  // A Microsoft.Network/connections resource's live status (OnPremPlane::Status).
  std::optional<arm::ConnectionStatus> ConnectionStatus(const std::string& connection_id) const;
  fabric::Fabric& fabric() { return *fabric_; }
  // Container groups' runtime (step 7), for the control plane's instance views and actions.
  ContainersPlane& containers() { return *containers_; }
  // AKS clusters' nodes and workloads (step 8), for the deployments' status.
  AksPlane& aks() { return *aks_; }
  dns::Server& dns() { return *dns_; }

 private:
  Result<std::string> Inode(const std::string& ns);

  PlanesOptions options_;
  imds::Service* imds_;
  std::unique_ptr<http::Server> imds_server_;
  fabric::LinuxNamespaces namespaces_;
  std::unique_ptr<fabric::Fabric> fabric_;
  dns::CatalogStore catalog_;
  std::unique_ptr<dns::Server> dns_;
  std::mutex mu_;
  // (view, address) → "<ns>@<inode>" it listens in
  std::map<std::pair<std::string, std::string>, std::string> dns_sockets_;
  // Makes the sockets forwarded DNS queries leave from, inside the view's VNet.
  std::unique_ptr<dns::UpstreamSocketOpener> dns_upstream_;
  std::set<std::string> vms_logged_;         // "<ns>@<inode>"
  // Step 4 (registry listeners on private endpoint and public addresses) and step 5 (instance
  // metadata listeners), each a privatelink::ListenerSet over its server.
  privatelink::ListenerSet registry_listeners_;
  std::unique_ptr<privatelink::ServerListenerOpener> imds_opener_;
  std::unique_ptr<privatelink::ListenerSet> imds_listeners_;
  // Step 6: tunnels and site DNS servers.
  std::unique_ptr<OnPremPlane> onprem_;
  // Step 7: container groups.
  std::unique_ptr<ContainersPlane> containers_;
  // Step 8: AKS nodes.
  std::unique_ptr<AksPlane> aks_;
};

}  // namespace cove::daemon
