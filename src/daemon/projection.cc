#include "daemon/projection.h"

#include <utility>

#include "daemon/arm_node.h"
#include "daemon/identities.h"
#include "daemon/planes.h"

namespace cove::daemon {

access::Policy BuildPolicy(const arm::Snapshot& snapshot) {
  access::Policy p;
  for (const auto& r : snapshot.registries) {
    access::RegistryRules rules{r.name, r.public_network_access, r.bypass_azure_services,
                                r.default_action, {}};
    for (const auto& ip : r.ip_rules) rules.ip_rules.push_back({ip.value, ip.action});
    p.registries[r.name] = std::move(rules);
  }
  for (const auto& pe : snapshot.private_endpoints) {
    if (pe.link_id == 0) continue;
    std::string conn = pe.connection_id.substr(pe.connection_id.rfind('/') + 1);
    p.links[pe.link_id] = {pe.registry_name, pe.name, conn, pe.connection_status};
  }
  // Container groups (ACI, a trusted service) call from their public address.
  for (const auto& m : snapshot.machines) {
    if (m.kind == arm::MachineView::Kind::kContainerGroup && m.is_public && !m.address.empty()) {
      p.trusted_service_sources[m.address] = m.id;
    }
  }
  return p;
}

ProjectionPtr Project(arm::SnapshotPtr snapshot, const ProjectionOptions& options) {
  const arm::Snapshot& s = *snapshot;
  auto p = std::make_shared<Projection>(Projection{
      .snapshot = snapshot,
      .version = s.version,
      .registries = RegistriesFromSnapshot(s),
      .identities = BuildIdentityData(s),
      .policy = std::make_shared<const access::Policy>(BuildPolicy(s)),
      .public_addresses = PublicAddresses(s),
      .catalog = BuildCatalog(s),
      .topology = {},
      .machines = std::make_shared<const imds::Machines>(MachinesOf(s)),
      .onprem = {},
  });
  p->topology = BuildTopology(s, options.ca_pem, &p->onprem);
  return p;
}

}  // namespace cove::daemon
