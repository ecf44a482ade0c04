// AKS in the control plane (issue 16), through the REST API on loopback: managed clusters and
// their agent pools, the kubelet identity and the MC_ group, nodes as kClusterNode machines in
// their subnet, AKS's errors with nothing half-made, the delete cascade, and
// Cove.Kubernetes/deployments with the WorkloadStatusProvider.
#include "arm/cidr.h"
#include "arm/resource_path.h"
#include "arm_fixture.h"

namespace cove::arm {
namespace {

using nlohmann::json;

const std::string kClusters = kRg + "/providers/Microsoft.ContainerService/managedClusters/";
const std::string kDeployments = kRg + "/providers/Cove.Kubernetes/deployments/";
const std::string kSubnet = kNet + "/virtualNetworks/myvnet/subnets/mysubnet";
const std::string kMc = kSub + "/resourceGroups/MC_rg_aks1_westus";

json Profile(const std::string& name, int count, const std::string& mode = "System",
             const std::string& subnet = kSubnet) {
  return {{"name", name},          {"count", count}, {"vmSize", "Standard_DS2_v2"},
          {"osType", "Linux"},     {"mode", mode},   {"type", "VirtualMachineScaleSets"},
          {"vnetSubnetID", subnet}};
}

json Cluster(json profiles) {
  return {{"location", "westus"},
          {"identity", {{"type", "SystemAssigned"}}},
          {"properties",
           {{"dnsPrefix", "aks1-dns"},
            {"kubernetesVersion", "1.30.6"},
            {"agentPoolProfiles", profiles},
            {"networkProfile", {{"networkPlugin", "azure"}}}}}};
}

class ClustersTest : public ArmFixture {
 protected:
  void SetUp() override {
    ArmFixture::SetUp();
    SeedNetwork();
  }
  Reply Create(int count = 2) {
    return Put(kClusters + "aks1", Cluster(json::array({Profile("nodepool1", count)})));
  }
  const ClusterView* FindCluster(const Snapshot& s) {
    for (const auto& c : s.clusters) {
      if (c.name == "aks1") return &c;
    }
    return nullptr;
  }
  std::vector<const MachineView*> Nodes(const Snapshot& s) {
    std::vector<const MachineView*> out;
    for (const auto& m : s.machines) {
      if (m.kind == MachineView::Kind::kClusterNode) out.push_back(&m);
    }
    return out;
  }
  uint64_t version() { return cp_->snapshot()->version; }
};

TEST_F(ClustersTest, CreateAnswersAzureShapeWithKubeletIdentityAndNodeGroup) {
  auto r = Create();
  ASSERT_EQ(r.status, 201) << r.body.dump();
  const json& p = r.body["properties"];
  EXPECT_EQ(p["provisioningState"], "Succeeded");
  EXPECT_EQ(p["powerState"]["code"], "Running");
  EXPECT_EQ(p["nodeResourceGroup"], "MC_rg_aks1_westus");
  std::string fqdn = p["fqdn"];
  EXPECT_TRUE(fqdn.starts_with("aks1-dns-")) << fqdn;
  EXPECT_TRUE(fqdn.ends_with(".hcp.westus.azmk8s.io")) << fqdn;
  EXPECT_EQ(r.body["identity"]["type"], "SystemAssigned");
  ASSERT_EQ(p["agentPoolProfiles"].size(), 1u);
  EXPECT_EQ(p["agentPoolProfiles"][0]["name"], "nodepool1");
  EXPECT_EQ(p["agentPoolProfiles"][0]["count"], 2);
  EXPECT_EQ(p["agentPoolProfiles"][0]["mode"], "System");
  EXPECT_FALSE(p["agentPoolProfiles"][0].contains("cove"));

  const json& kubelet = p["identityProfile"]["kubeletidentity"];
  std::string kid = kubelet["resourceId"];
  EXPECT_EQ(kid,
            kMc + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks1-agentpool");
  auto identity = Get(kid);
  ASSERT_EQ(identity.status, 200) << identity.body.dump();
  EXPECT_EQ(identity.body["properties"]["clientId"], kubelet["clientId"]);
  EXPECT_EQ(identity.body["properties"]["principalId"], kubelet["objectId"]);
  auto group = Get(kMc);
  ASSERT_EQ(group.status, 200) << group.body.dump();
  EXPECT_EQ(group.body["managedBy"], r.body["id"]);

  // The snapshot: the cluster, its pool, its nodes as machines in the subnet.
  auto s = cp_->snapshot();
  const ClusterView* c = FindCluster(*s);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->node_resource_group, "MC_rg_aks1_westus");
  EXPECT_EQ(c->kubelet_client_id, kubelet["clientId"]);
  EXPECT_EQ(c->kubelet_object_id, kubelet["objectId"]);
  ASSERT_EQ(c->pools.size(), 1u);
  EXPECT_EQ(c->pools[0].count, 2);
  EXPECT_EQ(Lower(c->pools[0].subnet_id), Lower(kSubnet));
  ASSERT_EQ(c->pools[0].nodes.size(), 2u);
  auto nodes = Nodes(*s);
  ASSERT_EQ(nodes.size(), 2u);
  auto prefix = ParseCidr("10.0.0.0/24").cidr;
  std::set<std::string> addresses;
  for (const auto* m : nodes) {
    EXPECT_FALSE(m->is_public);
    EXPECT_EQ(Lower(m->subnet_id), Lower(kSubnet));
    auto ip = ParseIpv4(m->address);
    ASSERT_TRUE(ip) << m->address;
    EXPECT_TRUE(prefix->Contains(*ip)) << m->address;
    addresses.insert(m->address);
    ASSERT_EQ(m->user_assigned.size(), 1u);
    EXPECT_EQ(Lower(m->user_assigned[0].resource_id), Lower(kid));
    EXPECT_EQ(m->user_assigned[0].client_id, kubelet["clientId"]);
    EXPECT_EQ(m->resource_group, "MC_rg_aks1_westus");
  }
  EXPECT_EQ(addresses, (std::set<std::string>{"10.0.0.4", "10.0.0.5"}));
  EXPECT_TRUE(c->pools[0].nodes[0].name.starts_with("aks-nodepool1-"));
  EXPECT_TRUE(c->pools[0].nodes[0].name.ends_with("-vmss000000"));
  EXPECT_TRUE(c->pools[0].nodes[1].name.ends_with("-vmss000001"));
  EXPECT_EQ(c->pools[0].nodes[0].name.size(),
            std::string("aks-nodepool1-12345678-vmss000000").size());

  // The agent pool renders its nodes.
  auto pool = Get(kClusters + "aks1/agentPools/nodepool1");
  ASSERT_EQ(pool.status, 200) << pool.body.dump();
  const json& rendered = pool.body["properties"]["cove"]["nodes"];
  ASSERT_EQ(rendered.size(), 2u);
  EXPECT_EQ(rendered[0]["name"], c->pools[0].nodes[0].name);
  EXPECT_EQ(rendered[0]["privateIpAddress"], "10.0.0.4");
  EXPECT_FALSE(pool.body.contains("_cove"));

  // The subnet lists the nodes' NICs; a NIC made afterwards takes the next address.
  auto nic =
      Put(kNet + "/networkInterfaces/nic1",
          {{"location", "westus"},
           {"properties",
            {{"ipConfigurations",
              {{{"name", "ipconfig1"}, {"properties", {{"subnet", {{"id", kSubnet}}}}}}}}}}});
  ASSERT_EQ(nic.status, 201) << nic.body.dump();
  EXPECT_EQ(nic.body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
            "10.0.0.6");
  auto subnet = Get(kSubnet);
  EXPECT_EQ(subnet.body["properties"]["ipConfigurations"].size(), 3u) << subnet.body.dump();
}

TEST_F(ClustersTest, NodeNamesAreStablePerClusterAndScaleKeepsExistingNodes) {
  ASSERT_EQ(Create(2).status, 201);
  auto before = FindCluster(*cp_->snapshot())->pools[0].nodes;
  auto up = Put(kClusters + "aks1/agentPools/nodepool1", {{"properties", {{"count", 4}}}});
  ASSERT_EQ(up.status, 200) << up.body.dump();
  auto s = cp_->snapshot();
  auto after = FindCluster(*s)->pools[0].nodes;
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0].name, before[0].name);
  EXPECT_EQ(after[0].machine_id, before[0].machine_id);
  EXPECT_EQ(after[1].name, before[1].name);
  EXPECT_TRUE(after[3].name.ends_with("vmss000003"));
  EXPECT_EQ(Nodes(*s).size(), 4u);

  auto down = Put(kClusters + "aks1/agentPools/nodepool1", {{"properties", {{"count", 1}}}});
  ASSERT_EQ(down.status, 200) << down.body.dump();
  s = cp_->snapshot();
  ASSERT_EQ(FindCluster(*s)->pools[0].nodes.size(), 1u);
  EXPECT_EQ(FindCluster(*s)->pools[0].nodes[0].name, before[0].name);
  EXPECT_EQ(Nodes(*s).size(), 1u);
  EXPECT_EQ(Get(kClusters + "aks1").body["properties"]["agentPoolProfiles"][0]["count"], 1);
  // The freed addresses are free again.
  auto again = Put(kClusters + "aks1/agentPools/nodepool1", {{"properties", {{"count", 2}}}});
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["properties"]["cove"]["nodes"][1]["privateIpAddress"], "10.0.0.5");
}

TEST_F(ClustersTest, PutAgainKeepsNodesIdentityAndAddresses) {
  auto first = Create(2);
  ASSERT_EQ(first.status, 201);
  auto nodes = FindCluster(*cp_->snapshot())->pools[0].nodes;
  auto again = Create(2);
  ASSERT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["properties"]["identityProfile"],
            first.body["properties"]["identityProfile"]);
  EXPECT_EQ(again.body["identity"]["principalId"], first.body["identity"]["principalId"]);
  EXPECT_EQ(again.body["properties"]["fqdn"], first.body["properties"]["fqdn"]);
  auto s = cp_->snapshot();
  const auto& now = FindCluster(*s)->pools[0].nodes;
  ASSERT_EQ(now.size(), nodes.size());
  for (size_t i = 0; i < now.size(); ++i) {
    EXPECT_EQ(now[i].name, nodes[i].name);
    EXPECT_EQ(now[i].machine_id, nodes[i].machine_id);
  }
  std::set<std::string> addresses;
  for (const auto* m : Nodes(*s)) addresses.insert(m->address);
  EXPECT_EQ(addresses, (std::set<std::string>{"10.0.0.4", "10.0.0.5"}));
}

TEST_F(ClustersTest, NodepoolAddListDelete) {
  ASSERT_EQ(Create(1).status, 201);
  auto add = Put(
      kClusters + "aks1/agentPools/userpool",
      {{"properties", {{"count", 2}, {"vmSize", "Standard_DS2_v2"}, {"vnetSubnetID", kSubnet}}}});
  ASSERT_EQ(add.status, 201) << add.body.dump();
  EXPECT_EQ(add.body["properties"]["mode"], "User");
  auto list = Get(kClusters + "aks1/agentPools");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["value"].size(), 2u);
  EXPECT_EQ(Nodes(*cp_->snapshot()).size(), 3u);
  // A User pool may be scaled to 0.
  auto zero = Put(kClusters + "aks1/agentPools/userpool", {{"properties", {{"count", 0}}}});
  ASSERT_EQ(zero.status, 200) << zero.body.dump();
  EXPECT_EQ(Nodes(*cp_->snapshot()).size(), 1u);
  ASSERT_EQ(Delete(kClusters + "aks1/agentPools/userpool").status, 200);
  EXPECT_EQ(Get(kClusters + "aks1").body["properties"]["agentPoolProfiles"].size(), 1u);
  // The last System pool stays.
  auto last = Delete(kClusters + "aks1/agentPools/nodepool1");
  EXPECT_EQ(last.status, 400);
  EXPECT_EQ(last.Code(), "OperationNotAllowed");
  auto to_zero = Put(kClusters + "aks1/agentPools/nodepool1", {{"properties", {{"count", 0}}}});
  EXPECT_EQ(to_zero.status, 400);
  EXPECT_EQ(to_zero.Code(), "InvalidParameter");
  EXPECT_NE(to_zero.Message().find("agentPoolProfile.count"), std::string::npos);
  auto subnet_change = Put(kClusters + "aks1/agentPools/nodepool1",
                           {{"properties", {{"vnetSubnetID", kSubnet + "x"}}}});
  EXPECT_EQ(subnet_change.Code(), "PropertyChangeNotAllowed");
}

TEST_F(ClustersTest, RefusedRequestsChangeNothing) {
  auto v0 = version();
  auto check = [&](const Reply& r, int status, const std::string& code, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.body.dump();
    EXPECT_EQ(r.Code(), code) << r.body.dump();
    EXPECT_NE(r.Message().find(needle), std::string::npos) << r.Message();
    EXPECT_EQ(version(), v0);
    EXPECT_EQ(Get(kMc).status, 404);
    EXPECT_EQ(Get(kClusters + "aks1").status, 404);
  };
  check(Create(0), 400, "InvalidParameter", "agentPoolProfile.count");
  json no_subnet = Profile("nodepool1", 1);
  no_subnet.erase("vnetSubnetID");
  check(Put(kClusters + "aks1", Cluster(json::array({no_subnet}))), 400, "InvalidParameter",
        "agentPoolProfile.vnetSubnetID");
  check(Put(kClusters + "aks1",
            Cluster(json::array({Profile("nodepool1", 1, "System", kSubnet + "nothere")}))),
        400, "InvalidParameter", "was not found");
  check(Put(kClusters + "aks1", Cluster(json::array({Profile("Bad_Name", 1)}))), 400,
        "InvalidParameter", "agentPoolProfile.name");
  check(Put(kClusters + "aks1", Cluster(json::array({Profile("userpool", 1, "User")}))), 400,
        "OperationNotAllowed", "system agent pool");
  // 251 addresses in a /24: .4-.254.
  check(Create(252), 400, "InsufficientSubnetSize",
        "Pre-allocated IPs 252 exceeds IPs available 251");
  // Two pools whose second does not fit: the first is not left behind either.
  check(Put(kClusters + "aks1",
            Cluster(json::array({Profile("nodepool1", 200), Profile("second", 60, "User")}))),
        400, "InsufficientSubnetSize", "exceeds IPs available 51");
  EXPECT_TRUE(Nodes(*cp_->snapshot()).empty());
  check(Put(kClusters + "bad..name", Cluster(json::array({Profile("nodepool1", 1)}))), 400,
        "InvalidResourceName", "");
  // A delegated subnet.
  auto delegated = Put(
      kNet + "/virtualNetworks/myvnet/subnets/delegated",
      {{"properties",
        {{"addressPrefix", "10.0.1.0/24"},
         {"delegations",
          {{{"name", "d"},
            {"properties", {{"serviceName", "Microsoft.ContainerInstance/containerGroups"}}}}}}}}});
  ASSERT_EQ(delegated.status, 201) << delegated.body.dump();
  v0 = version();
  check(Put(kClusters + "aks1",
            Cluster(json::array({Profile("nodepool1", 1, "System",
                                         kNet + "/virtualNetworks/myvnet/subnets/delegated")}))),
        400, "SubnetIsDelegated", "delegated subnet");
}

TEST_F(ClustersTest, DeleteCascadesToNodeGroupIdentityAssignmentsAndDeployments) {
  ASSERT_EQ(Create(2).status, 201);
  Registry();
  auto cluster = Get(kClusters + "aks1").body;
  std::string object_id = cluster["properties"]["identityProfile"]["kubeletidentity"]["objectId"];
  auto assign =
      Put(kAcr +
              "/registries/myregistry/providers/Microsoft.Authorization/"
              "roleAssignments/11111111-1111-4111-8111-111111111111",
          {{"properties",
            {{"roleDefinitionId", kSub + "/providers/Microsoft.Authorization/roleDefinitions/"
                                         "7f951dda-4ed3-4680-a7ca-43fe172d538d"},
             {"principalId", object_id},
             {"principalType", "ServicePrincipal"}}}});
  ASSERT_EQ(assign.status, 201) << assign.body.dump();
  auto d =
      Put(kDeployments + "web",
          {{"properties",
            {{"clusterId", cluster["id"]},
             {"containers", {{{"name", "web"}, {"image", "myregistry.azurecr.io/app:v1"}}}}}}});
  ASSERT_EQ(d.status, 201) << d.body.dump();
  EXPECT_EQ(cp_->snapshot()->role_assignments.size(), 1u);

  ASSERT_EQ(Delete(kClusters + "aks1").status, 200);
  EXPECT_EQ(Get(kClusters + "aks1").status, 404);
  EXPECT_EQ(Get(kMc).status, 404);
  EXPECT_EQ(Get(kDeployments + "web").status, 404);
  auto s = cp_->snapshot();
  EXPECT_TRUE(s->clusters.empty());
  EXPECT_TRUE(s->workloads.empty());
  EXPECT_TRUE(Nodes(*s).empty());
  EXPECT_TRUE(s->role_assignments.empty());
  for (const auto& [k, doc] : s->documents) {
    EXPECT_EQ(k.find("mc_rg_aks1_westus"), std::string::npos) << k;
  }
  // The subnet is free again: it can be deleted.
  EXPECT_EQ(Delete(kSubnet).status, 200);
}

TEST_F(ClustersTest, NodeNicsCannotBeDeletedByHand) {
  ASSERT_EQ(Create(1).status, 201);
  auto pool = Get(kClusters + "aks1/agentPools/nodepool1").body;
  std::string node = pool["properties"]["cove"]["nodes"][0]["name"];
  auto del = Delete(kMc + "/providers/Microsoft.Network/networkInterfaces/" + node + "-nic");
  EXPECT_EQ(del.status, 400);
  EXPECT_EQ(del.Code(), "NicInUse");
}

TEST_F(ClustersTest, DeploymentValidatesAndRendersStatus) {
  ASSERT_EQ(Create(1).status, 201);
  std::string cluster_id = Get(kClusters + "aks1").body["id"];
  json body = {{"properties",
                {{"clusterId", cluster_id},
                 {"replicas", 3},
                 {"containers",
                  {{{"name", "web"},
                    {"image", "myregistry.azurecr.io/app:v1"},
                    {"command", {"sh", "-c"}},
                    {"args", {"echo hello"}},
                    {"env", {{{"name", "GREETING"}, {"value", "hi"}}}}}}}}}};
  auto r = Put(kDeployments + "web", body);
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["location"], "westus");
  EXPECT_EQ(r.body["properties"]["status"],
            json({{"replicas", 3}, {"readyReplicas", 0}, {"pods", json::array()}}));
  auto s = cp_->snapshot();
  ASSERT_EQ(s->workloads.size(), 1u);
  const WorkloadView& w = s->workloads[0];
  EXPECT_EQ(w.replicas, 3);
  EXPECT_EQ(w.cluster_id, cluster_id);
  ASSERT_EQ(w.containers.size(), 1u);
  EXPECT_EQ(w.containers[0].image, "myregistry.azurecr.io/app:v1");
  EXPECT_EQ(w.containers[0].command, (std::vector<std::string>{"sh", "-c"}));
  EXPECT_EQ(w.containers[0].args, (std::vector<std::string>{"echo hello"}));
  EXPECT_EQ(w.containers[0].env,
            (std::vector<std::pair<std::string, std::string>>{{"GREETING", "hi"}}));

  std::string asked;
  cp_->SetWorkloadStatusProvider([&](const std::string& id) -> std::optional<json> {
    asked = id;
    return json{{"replicas", 3},
                {"readyReplicas", 1},
                {"pods",
                 {{{"name", "web-abc"},
                   {"node", "n"},
                   {"state", "Running"},
                   {"restartCount", 0},
                   {"message", ""},
                   {"image", "myregistry.azurecr.io/app:v1"}}}}};
  });
  auto got = Get(kDeployments + "web");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["properties"]["status"]["readyReplicas"], 1);
  EXPECT_EQ(Lower(asked), Lower(got.body["id"].get<std::string>()));
  cp_->SetWorkloadStatusProvider(nullptr);

  auto v0 = version();
  auto bad = [&](json b, const std::string& needle) {
    auto e = Put(kDeployments + "web", b);
    EXPECT_EQ(e.status, 400) << e.body.dump();
    EXPECT_NE(e.Message().find(needle), std::string::npos) << e.body.dump();
    EXPECT_EQ(version(), v0);
  };
  json b = body;
  b["properties"]["replicas"] = 101;
  bad(b, "replicas");
  b = body;
  b["properties"]["containers"] = json::array();
  bad(b, "containers");
  b = body;
  b["properties"]["containers"][0]["image"] = "Bad Image";
  bad(b, "image");
  b = body;
  b["properties"]["containers"][0]["name"] = "Web";
  bad(b, "name");
  b = body;
  b["properties"]["clusterId"] = kClusters + "nothere";
  bad(b, "nothere");
  b = body;
  b["properties"]["clusterId"] =
      "/subscriptions/c0ffee00-0000-4000-8000-000000000002/resourceGroups/rg/providers/"
      "Microsoft.ContainerService/managedClusters/aks1";
  bad(b, "");

  ASSERT_EQ(Delete(kDeployments + "web").status, 200);
  EXPECT_TRUE(cp_->snapshot()->workloads.empty());
}

TEST_F(ClustersTest, ApiVersionsAndProviderRegistration) {
  for (const char* v : {"2022-11-01", "2023-01-01", "2024-05-01", "2025-01-01"}) {
    auto r = Call("GET", kClusters, "", v);
    EXPECT_EQ(r.status, 200) << v << r.body.dump();
  }
  auto bad = Call("GET", kClusters, "", "2019-01-01");
  EXPECT_EQ(bad.Code(), "InvalidApiVersionParameter");
  EXPECT_EQ(Call("GET", kDeployments, "", "2026-12-01").status, 200);
  auto providers = Get(kSub + "/providers");
  std::set<std::string> names;
  for (const auto& p : providers.body["value"]) names.insert(p.value("namespace", ""));
  EXPECT_TRUE(names.count("Microsoft.ContainerService"));
  EXPECT_TRUE(names.count("Cove.Kubernetes"));
}

TEST_F(ClustersTest, UserAssignedClusterIdentity) {
  auto uai = Put(kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ctl",
                 {{"location", "westus"}});
  ASSERT_EQ(uai.status, 201);
  json c = Cluster(json::array({Profile("nodepool1", 1)}));
  c["identity"] = {
      {"type", "UserAssigned"},
      {"userAssignedIdentities", {{uai.body["id"].get<std::string>(), json::object()}}}};
  auto r = Put(kClusters + "aks1", c);
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["identity"]["type"], "UserAssigned");
  EXPECT_EQ(
      r.body["identity"]["userAssignedIdentities"][uai.body["id"].get<std::string>()]["clientId"],
      uai.body["properties"]["clientId"]);
}

}  // namespace
}  // namespace cove::arm
