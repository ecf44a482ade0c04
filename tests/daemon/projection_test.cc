// The projection of a control-plane commit (daemon/projection.h), without sockets: a snapshot
// made through arm's ControlPlane API in, every part the data plane reads out (the planes'
// specs, the Gate's policy, identities, registries); and the registry node taking one
// projection as one value, failing closed.
#include "daemon/projection.h"

#include <gtest/gtest.h>

#include "arm/control_plane.h"
#include "daemon/identities.h"
#include "daemon/planes.h"
#include "daemon/registry_node.h"
#include "daemon/control_plane_fixture.h"
#include "support/temp_dir.h"

namespace cove::daemon {
namespace {

const std::string kGroup = kRg + "/providers/Microsoft.ContainerInstance/containerGroups/job";

class ProjectionTest : public ControlPlaneTest {
 protected:
  // A registry with public access off, a VNet with a private endpoint to it (Pending: manual
  // approval), a linked private DNS zone, and a container group (a trusted service).
  void Seed() {
    Put(kRg, {{"location", "westus"}});
    Put(kAcr + "/registries/myregistry",
        {{"location", "westus"},
         {"sku", {{"name", "Premium"}}},
         {"properties", {{"dataEndpointEnabled", true}, {"publicNetworkAccess", "Disabled"}}}});
    Put(kNet + "/virtualNetworks/myvnet", nlohmann::json::parse(R"({"location": "westus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})"));
    std::string zone = kNet + "/privateDnsZones/privatelink.azurecr.io";
    Put(zone, {{"location", "global"}});
    Put(zone + "/virtualNetworkLinks/l",
        {{"location", "global"},
         {"properties", {{"virtualNetwork", {{"id", kNet + "/virtualNetworks/myvnet"}}}}}});
    Put(kNet + "/privateEndpoints/pe",
        {{"location", "westus"},
         {"properties",
          {{"subnet", {{"id", kNet + "/virtualNetworks/myvnet/subnets/s"}}},
           {"manualPrivateLinkServiceConnections",
            {{{"name", "c"},
              {"properties",
               {{"privateLinkServiceId", kAcr + "/registries/myregistry"},
                {"groupIds", {"registry"}}}}}}}}}});
    Put(kGroup, nlohmann::json::parse(R"({"location": "westus",
        "properties": {"osType": "Linux", "containers": [{"name": "app", "properties": {
        "image": "myregistry.azurecr.io/app:v1",
        "resources": {"requests": {"cpu": 1, "memoryInGB": 1.5}}}}]}})"));
  }
};

TEST_F(ProjectionTest, OneSnapshotInEveryPartOut) {
  Seed();
  auto snap = cp_->snapshot();
  ProjectionPtr p = Project(snap, {.ca_pem = "CA"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->snapshot, snap);
  EXPECT_EQ(p->version, snap->version);

  // The registry directory and the identities.
  ASSERT_EQ(p->registries.size(), 1u);
  EXPECT_EQ(p->registries[0].name, "myregistry");
  EXPECT_TRUE(p->registries[0].data_endpoint_enabled);
  ASSERT_TRUE(p->identities) << p->identities.error().message;
  ASSERT_EQ(p->identities->registries.size(), 1u);
  EXPECT_EQ(p->identities->registries[0].registry, "myregistry");

  // The planes' specs: what the Build* functions make of the same snapshot.
  auto addresses = PublicAddresses(*snap);
  EXPECT_EQ(p->public_addresses, addresses);
  ASSERT_TRUE(fabric::Validate(p->topology)) << fabric::Validate(p->topology).error().message;
  fabric::Topology t = BuildTopology(*snap, "CA");
  ASSERT_EQ(p->topology.networks.size(), t.networks.size());
  for (size_t i = 0; i < t.networks.size(); ++i) {
    EXPECT_EQ(p->topology.networks[i].id, t.networks[i].id);
    EXPECT_EQ(p->topology.networks[i].outbound_address, t.networks[i].outbound_address);
  }
  ASSERT_EQ(p->topology.vms.size(), 1u);  // the container group, on the public network
  EXPECT_EQ(p->topology.vms[0].network_id, kPublicNetworkId);
  EXPECT_EQ(p->topology.vms[0].ca_pem, "CA");
  EXPECT_TRUE(dns::Catalog::Build(p->catalog));
  EXPECT_EQ(p->catalog.public_zones.size(), 2u);
  EXPECT_EQ(p->catalog.views.size(), 1u);
  ASSERT_NE(p->machines, nullptr);
  EXPECT_EQ(p->machines->size(), MachinesOf(*snap).size());
  EXPECT_EQ(p->machines->size(), 1u);

  // The Gate's policy: rules, the connection's state, and the trusted machine by its address.
  ASSERT_NE(p->policy, nullptr);
  const access::Policy& policy = *p->policy;
  ASSERT_EQ(policy.registries.count("myregistry"), 1u);
  EXPECT_FALSE(policy.registries.at("myregistry").public_network_access);
  const auto& pe = snap->private_endpoints.at(0);
  ASSERT_EQ(policy.links.count(pe.link_id), 1u);
  EXPECT_EQ(policy.links.at(pe.link_id).status, "Pending");
  const arm::MachineView& group = snap->machines.at(0);
  ASSERT_FALSE(group.address.empty());
  ASSERT_EQ(policy.trusted_service_sources.count(group.address), 1u);
  EXPECT_EQ(policy.trusted_service_sources.at(group.address), group.id);
  auto verdict = access::Decide(policy, "myregistry", {std::nullopt, group.address});
  EXPECT_EQ(verdict.kind, access::Verdict::Kind::kAllowOwnIdentityOnly);
  EXPECT_EQ(verdict.machine, group.id);
}

// A projection is a value: a later commit makes a new one and leaves the old one as it was.
TEST_F(ProjectionTest, ACommitIsProjectedIntoANewValue) {
  Seed();
  ProjectionPtr before = Project(cp_->snapshot());
  Put(kAcr + "/registries/second", {{"location", "westus"}, {"sku", {{"name", "Basic"}}}});
  ProjectionPtr after = Project(cp_->snapshot());
  EXPECT_GT(after->version, before->version);
  EXPECT_EQ(before->registries.size(), 1u);
  EXPECT_EQ(before->policy->registries.size(), 1u);
  EXPECT_EQ(before->public_addresses.size(), 1u);
  EXPECT_EQ(after->registries.size(), 2u);
  EXPECT_EQ(after->policy->registries.size(), 2u);
  EXPECT_EQ(after->public_addresses.size(), 2u);
}

// The registry node takes the projection in one step: the registry, its identities and its
// network rules together (a public request is DENIED as soon as the registry is served); a
// projection whose identities cannot be built changes nothing (fail closed).
TEST_F(ProjectionTest, TheRegistryNodeAppliesOneProjectionFailingClosed) {
  testing::TempDir dir;
  SystemClock clock;
  auto config = ParseConfig("data_dir: " + dir.path() +
                            "\nlisten:\n  - {address: 127.0.0.1, port: 0, tls: false}\n");
  ASSERT_TRUE(config) << config.error().ToString();
  ASSERT_TRUE(UseControlPlaneRegistries(*config));
  auto node = RegistryNode::Open(*config, clock);
  ASSERT_TRUE(node) << node.error().ToString();

  Seed();
  ProjectionPtr p = Project(cp_->snapshot());
  auto applied = (*node)->Apply(*p);
  ASSERT_TRUE(applied) << applied.error().ToString();
  EXPECT_EQ((*node)->RegistryOfLoginServer("myregistry.azurecr.io"), "myregistry");
  ASSERT_NE((*node)->identities().Get(), nullptr);
  EXPECT_NE((*node)->identities().Get()->Registry("myregistry"), nullptr);
  http::Request request;
  request.method = "GET";
  request.target = "/v2/";
  request.headers.Set("Host", "myregistry.azurecr.io");
  request.peer.remote_ip = "192.0.2.1";
  EXPECT_EQ((*node)->gate().Start(request)->Finish().status, 403);

  // The next commit's identities fail: neither its registry nor its rules are taken.
  Put(kAcr + "/registries/second", {{"location", "westus"}, {"sku", {{"name", "Basic"}}}});
  auto broken = std::make_shared<Projection>(*Project(cp_->snapshot()));
  broken->identities = Fail(Code::kInvalidArgument, "broken");
  EXPECT_FALSE((*node)->Apply(*broken));
  EXPECT_EQ((*node)->RegistryOfLoginServer("second.azurecr.io"), "");
  EXPECT_EQ((*node)->identities().Get()->Registry("second"), nullptr);
  // The registry is served only once its identities exist.
  ASSERT_TRUE((*node)->Apply(*Project(cp_->snapshot())));
  EXPECT_EQ((*node)->RegistryOfLoginServer("second.azurecr.io"), "second");
  EXPECT_NE((*node)->identities().Get()->Registry("second"), nullptr);
}

}  // namespace
}  // namespace cove::daemon
