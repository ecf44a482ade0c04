// Projection: one committed control-plane state (arm::Snapshot) translated, once, into
// everything the data plane needs — one immutable value that coved swaps in as a whole after
// every commit, instead of several feeds in an order its main must reason about.
//
//   registries   the registry node's Directory entries (RegistriesFromSnapshot, arm_node.h);
//   identities   who may use those registries (BuildIdentityData, identities.h), or the error
//                that keeps the previous ones (fail closed: see RegistryNode::Apply);
//   policy       the access Gate's network rules: every registry's public network access,
//                bypass, default action and IP rules, private endpoint connections by link id,
//                and trusted service machines by source address (BuildPolicy; the only copy
//                of these facts: authentication reads the Gate's verdict, access/access.h);
//   public_addresses, catalog, topology, machines
//                the planes' specs (planes.h: PublicAddresses, BuildCatalog, BuildTopology,
//                MachinesOf).
// `snapshot` is the commit it was projected from (the planes' listeners still read it).
//
// Who reads it: RegistryNode::Apply hands the identities, the policy and the registries on in
// one step (in the order that fails closed); Planes::Apply the rest. Both take the same
// ProjectionPtr.
//
// Thread-safety: Project is a pure function; a Projection is immutable once made.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "access/access.h"
#include "arm/snapshot.h"
#include "auth/identity.h"
#include "common/error.h"
#include "daemon/onprem.h"
#include "dns/catalog.h"
#include "fabric/topology.h"
#include "imds/imds.h"
#include "registry/directory.h"

namespace cove::daemon {

struct ProjectionOptions {
  std::string ca_pem;  // the registry CA that VMs trust (BuildTopology)
};

struct Projection {
  arm::SnapshotPtr snapshot;
  uint64_t version = 0;  // snapshot->version
  std::vector<registry::RegistryInfo> registries;
  Result<auth::IdentityData> identities;
  access::PolicyPtr policy;
  std::map<std::string, std::string> public_addresses;  // registry name → public endpoint
  dns::CatalogSpec catalog;
  fabric::Topology topology;
  std::shared_ptr<const imds::Machines> machines;
  OnPremPlan onprem;  // tunnels and site DNS servers (daemon/onprem.h), made with `topology`
};
using ProjectionPtr = std::shared_ptr<const Projection>;

// REQUIRES: snapshot is not null.
ProjectionPtr Project(arm::SnapshotPtr snapshot, const ProjectionOptions& options = {});

// The access Gate's policy of a snapshot.
access::Policy BuildPolicy(const arm::Snapshot& snapshot);

}  // namespace cove::daemon
