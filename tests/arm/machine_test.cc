// Machines in the control plane (issue 5's managed identities), through the REST API on
// loopback: the identity block on VMs and container groups, the system-assigned principal's
// lifecycle and its role assignments, container groups' validation and answers (secrets never
// answered), the public address pool that VMs and groups share, and snapshot.machines.
#include <functional>

#include "arm/identity_support.h"
#include "arm/resource_path.h"
#include "arm_fixture.h"

namespace cove::arm {
namespace {

using nlohmann::json;

const std::string kVms = kRg + "/providers/Microsoft.Compute/virtualMachines/";
const std::string kGroups = kRg + "/providers/Microsoft.ContainerInstance/containerGroups/";
const std::string kUais = kRg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/";
const std::string kAcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const std::string kReg = kAcr + "/registries/myregistry";

json PublicVm(const json& identity = json()) {
  json vm = {{"location", "westus"}, {"properties", {{"cove", {{"network", "public"}}}}}};
  if (!identity.is_null()) vm["identity"] = identity;
  return vm;
}

json Container(const std::string& name, const std::string& image = "myregistry.azurecr.io/app:v1") {
  return {{"name", name},
          {"properties",
           {{"image", image}, {"resources", {{"requests", {{"cpu", 1}, {"memoryInGB", 1.5}}}}}}}};
}

json Group(json containers = json(), const json& extra_props = json::object(),
           const json& identity = json()) {
  if (containers.is_null()) containers = json::array({Container("app")});
  json props = {{"containers", containers}, {"osType", "Linux"}};
  props.update(extra_props);
  json g = {{"location", "westus"}, {"properties", props}};
  if (!identity.is_null()) g["identity"] = identity;
  return g;
}

class MachineTest : public ArmFixture {
 protected:
  void SetUp() override {
    ArmFixture::SetUp();
    ASSERT_EQ(Put(kRg, {{"location", "westus"}}).status, 201);
  }
  // A user-assigned identity; returns its answer.
  json Identity(const std::string& name) {
    auto r = Put(kUais + name, {{"location", "westus"}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body;
  }
  Reply Assign(const std::string& scope, const std::string& name, const std::string& principal,
               const std::string& type = "") {
    json props = {{"roleDefinitionId",
                   kSub + "/providers/Microsoft.Authorization/roleDefinitions/" + kAcrPull},
                  {"principalId", principal}};
    if (!type.empty()) props["principalType"] = type;
    return Put(scope + "/providers/Microsoft.Authorization/roleAssignments/" + name,
               {{"properties", props}});
  }
  size_t AssignmentsOf(const std::string& principal) {
    auto r = Call(
        "GET",
        kSub + "/providers/Microsoft.Authorization/roleAssignments?$filter=principalId%20eq%20'" +
            principal + "'");
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return r.body["value"].size();
  }
};

// ------------------------------------------------------------------ identity on VMs

TEST_F(MachineTest, VmSystemAssignedIdentityIsMadeOnceAndKept) {
  auto vm = Put(kVms + "vm1", PublicVm({{"type", "SystemAssigned"}}));
  ASSERT_EQ(vm.status, 201) << vm.body.dump();
  const json& id = vm.body["identity"];
  EXPECT_EQ(id["type"], "SystemAssigned");
  std::string principal = id.value("principalId", "");
  EXPECT_TRUE(IsGuid(principal)) << id.dump();
  EXPECT_EQ(id["tenantId"], kTenantId);
  EXPECT_FALSE(id.contains("userAssignedIdentities"));
  EXPECT_FALSE(id.contains("clientId"));  // kept internally, as Azure does
  EXPECT_FALSE(vm.body.contains("_cove"));
  EXPECT_EQ(Get(kVms + "vm1").body["identity"], id);

  // An update that keeps SystemAssigned keeps the principal (in any casing of the type).
  auto again = Put(kVms + "vm1", PublicVm({{"type", "systemassigned"}}));
  ASSERT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["identity"]["principalId"], principal);
  EXPECT_EQ(again.body["identity"]["type"], "SystemAssigned");
  // PATCH (az vm update) keeps it too.
  auto patched = Patch(kVms + "vm1", {{"tags", {{"env", "test"}}}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["identity"]["principalId"], principal);
  // Removing SystemAssigned drops it; adding it back makes a new one.
  auto none = Put(kVms + "vm1", PublicVm({{"type", "None"}}));
  ASSERT_EQ(none.status, 200) << none.body.dump();
  EXPECT_FALSE(none.body.contains("identity"));
  auto back = Put(kVms + "vm1", PublicVm({{"type", "SystemAssigned"}}));
  ASSERT_EQ(back.status, 200);
  EXPECT_NE(back.body["identity"]["principalId"], principal);
  // It survives a restart.
  Restart();
  EXPECT_EQ(Get(kVms + "vm1").body["identity"], back.body["identity"]);
  // A PUT without an identity block is a VM without identity (PUT replaces).
  EXPECT_FALSE(Put(kVms + "vm1", PublicVm()).body.contains("identity"));
}

TEST_F(MachineTest, VmUserAssignedIdentitiesAnswerTheirPrincipals) {
  json a = Identity("id-a"), b = Identity("id-b");
  std::string a_id = a["id"], b_id = b["id"];
  // Ids are matched in any casing and answered as the identity stores them.
  auto vm =
      Put(kVms + "vm1", PublicVm({{"type", "SystemAssigned, UserAssigned"},
                                  {"userAssignedIdentities",
                                   {{Lower(a_id), json::object()}, {b_id, json::object()}}}}));
  ASSERT_EQ(vm.status, 201) << vm.body.dump();
  const json& id = vm.body["identity"];
  EXPECT_EQ(id["type"], "SystemAssigned, UserAssigned");
  EXPECT_TRUE(IsGuid(id.value("principalId", "")));
  ASSERT_EQ(id["userAssignedIdentities"].size(), 2u);
  EXPECT_EQ(id["userAssignedIdentities"][a_id]["principalId"], a["properties"]["principalId"]);
  EXPECT_EQ(id["userAssignedIdentities"][a_id]["clientId"], a["properties"]["clientId"]);
  EXPECT_EQ(id["userAssignedIdentities"][b_id]["clientId"], b["properties"]["clientId"]);
  std::string system = id["principalId"];

  // PATCH with null removes one identity (ARM's form); the system-assigned one stays.
  auto patched =
      Patch(kVms + "vm1", {{"identity", {{"userAssignedIdentities", {{b_id, nullptr}}}}}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["identity"]["userAssignedIdentities"].size(), 1u);
  EXPECT_EQ(patched.body["identity"]["principalId"], system);

  // PATCH to SystemAssigned drops the user-assigned identities the VM had.
  auto system_only = Patch(kVms + "vm1", {{"identity", {{"type", "SystemAssigned"}}}});
  ASSERT_EQ(system_only.status, 200) << system_only.body.dump();
  EXPECT_FALSE(system_only.body["identity"].contains("userAssignedIdentities"));
  EXPECT_EQ(system_only.body["identity"]["principalId"], system);

  // UserAssigned only: no principalId/tenantId at the top.
  auto user = Put(kVms + "vm1", PublicVm({{"type", "UserAssigned"},
                                          {"userAssignedIdentities", {{a_id, json::object()}}}}));
  ASSERT_EQ(user.status, 200) << user.body.dump();
  EXPECT_EQ(user.body["identity"]["type"], "UserAssigned");
  EXPECT_FALSE(user.body["identity"].contains("principalId"));
  EXPECT_FALSE(user.body["identity"].contains("tenantId"));
}

TEST_F(MachineTest, VmIdentityErrorsAreAzuresAndChangeNothing) {
  std::string a_id = Identity("id-a")["id"];
  auto bad_type = Put(kVms + "vm1", PublicVm({{"type", "Both"}}));
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_EQ(bad_type.Code(), "InvalidRequestContent");
  EXPECT_NE(bad_type.Message().find("identity.type"), std::string::npos) << bad_type.Message();

  auto no_ids = Put(kVms + "vm1", PublicVm({{"type", "UserAssigned"}}));
  EXPECT_EQ(no_ids.status, 400);
  EXPECT_EQ(no_ids.Code(), "MissingIdentityIds");
  EXPECT_EQ(no_ids.Message(),
            "The identity ids must not be null or empty for 'UserAssigned' identity type.");

  auto ids_without_type = Put(
      kVms + "vm1",
      PublicVm({{"type", "SystemAssigned"}, {"userAssignedIdentities", {{a_id, json::object()}}}}));
  EXPECT_EQ(ids_without_type.status, 400);
  EXPECT_EQ(ids_without_type.Code(), "BadRequest");
  EXPECT_NE(ids_without_type.Message().find("non-UserAssigned identity type should not contain"),
            std::string::npos);

  std::string unknown = kUais + "nobody";
  auto missing =
      Put(kVms + "vm1", PublicVm({{"type", "UserAssigned"},
                                  {"userAssignedIdentities", {{unknown, json::object()}}}}));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.Code(), "FailedIdentityOperation");
  EXPECT_NE(missing.Message().find(unknown), std::string::npos) << missing.Message();
  EXPECT_NE(missing.Message().find("NotFound"), std::string::npos);

  // A VM id is not an identity.
  ASSERT_EQ(Put(kVms + "other", PublicVm()).status, 201);
  auto not_identity =
      Put(kVms + "vm1", PublicVm({{"type", "UserAssigned"},
                                  {"userAssignedIdentities", {{kVms + "other", json::object()}}}}));
  EXPECT_EQ(not_identity.Code(), "FailedIdentityOperation");

  auto bad_value =
      Put(kVms + "vm1",
          PublicVm({{"type", "UserAssigned"}, {"userAssignedIdentities", {{a_id, "yes"}}}}));
  EXPECT_EQ(bad_value.status, 400);
  EXPECT_EQ(bad_value.Code(), "InvalidIdentityValues");

  auto not_object = Put(kVms + "vm1", PublicVm("SystemAssigned"));
  EXPECT_EQ(not_object.Code(), "InvalidRequestContent");
  auto no_type =
      Put(kVms + "vm1", PublicVm({{"userAssignedIdentities", {{a_id, json::object()}}}}));
  EXPECT_EQ(no_type.Code(), "InvalidRequestContent");

  EXPECT_EQ(Get(kVms + "vm1").status, 404);
}

// ------------------------------------------------------------------ role assignments

TEST_F(MachineTest, SystemAssignedPrincipalTakesRolesAndTheyGoWithIt) {
  ASSERT_EQ(
      Put(kAcr + "/registries/myregistry", {{"location", "westus"}, {"sku", {{"name", "Premium"}}}})
          .status,
      201);
  auto vm = Put(kVms + "vm1", PublicVm({{"type", "SystemAssigned"}}));
  std::string principal = vm.body["identity"]["principalId"];
  auto wrong_type = Assign(kReg, "11111111-1111-4111-8111-111111111111", principal, "User");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.Code(), "UnmatchedPrincipalType");
  auto a = Assign(kReg, "11111111-1111-4111-8111-111111111111", principal, "ServicePrincipal");
  ASSERT_EQ(a.status, 201) << a.body.dump();
  EXPECT_EQ(a.body["properties"]["principalType"], "ServicePrincipal");
  EXPECT_EQ(a.body["properties"]["principalId"], principal);
  // Without a principalType the directory says which.
  auto g = Put(kGroups + "g1", Group(json(), json::object(), {{"type", "SystemAssigned"}}));
  ASSERT_EQ(g.status, 201) << g.body.dump();
  std::string group_principal = g.body["identity"]["principalId"];
  auto b = Assign(kRg, "22222222-2222-4222-8222-222222222222", group_principal);
  ASSERT_EQ(b.status, 201) << b.body.dump();
  EXPECT_EQ(b.body["properties"]["principalType"], "ServicePrincipal");
  EXPECT_EQ(AssignmentsOf(principal), 1u);
  EXPECT_EQ(AssignmentsOf(group_principal), 1u);

  // Dropping SystemAssigned (the VM) and deleting the machine (the group) take the
  // principal and its assignments; the principal can no longer be assigned.
  ASSERT_EQ(Put(kVms + "vm1", PublicVm({{"type", "None"}})).status, 200);
  EXPECT_EQ(AssignmentsOf(principal), 0u);
  EXPECT_EQ(Assign(kReg, "33333333-3333-4333-8333-333333333333", principal).Code(),
            "PrincipalNotFound");
  ASSERT_EQ(Delete(kGroups + "g1").status, 200);
  EXPECT_EQ(AssignmentsOf(group_principal), 0u);
  EXPECT_EQ(Assign(kRg, "44444444-4444-4444-8444-444444444444", group_principal).Code(),
            "PrincipalNotFound");
}

// ------------------------------------------------------------------ container groups

TEST_F(MachineTest, ContainerGroupAnswerShapeAndSecretsNeverAnswered) {
  json uai = Identity("pull-id");
  std::string uai_id = uai["id"];
  json c = Container("app");
  c["properties"]["command"] = {"/bin/sh", "-c", "sleep infinity"};
  c["properties"]["ports"] = {{{"port", 80}}};
  c["properties"]["environmentVariables"] = {{{"name", "MODE"}, {"value", "prod"}},
                                             {{"name", "TOKEN"}, {"secureValue", "s3cr3t-env"}}};
  c["properties"]["resources"]["limits"] = {{"cpu", 2}};
  json sidecar = Container("sidecar", "docker.io/library/busybox@sha256:" + std::string(64, 'a'));
  json props = {
      {"restartPolicy", "OnFailure"},
      {"ipAddress", {{"type", "Public"}, {"ports", {{{"port", 80}, {"protocol", "TCP"}}}}}},
      {"imageRegistryCredentials",
       {{{"server", "myregistry.azurecr.io"}, {"identity", uai_id}},
        {{"server", "other.example.com:5000"}, {"username", "bob"}, {"password", "s3cr3t-pass"}}}}};
  auto g = Put(kGroups + "web", Group({c, sidecar}, props,
                                      {{"type", "SystemAssigned, UserAssigned"},
                                       {"userAssignedIdentities", {{uai_id, json::object()}}}}));
  ASSERT_EQ(g.status, 201) << g.body.dump();
  const json& p = g.body["properties"];
  EXPECT_EQ(g.body["type"], "Microsoft.ContainerInstance/containerGroups");
  EXPECT_EQ(g.body["id"], kGroups + "web");
  EXPECT_EQ(p["provisioningState"], "Succeeded");
  // No runtime here (coved's planes run containers): Pending, never a made-up Running.
  EXPECT_EQ(p["instanceView"]["state"], "Pending");
  EXPECT_EQ(p["osType"], "Linux");
  EXPECT_EQ(p["restartPolicy"], "OnFailure");
  EXPECT_EQ(p["ipAddress"]["type"], "Public");
  EXPECT_EQ(p["ipAddress"]["ip"], "198.51.100.2");
  EXPECT_EQ(p["ipAddress"]["ports"][0]["port"], 80);
  EXPECT_EQ(p["cove"], json({{"network", "public"}, {"publicIpAddress", "198.51.100.2"}}));
  ASSERT_EQ(p["containers"].size(), 2u);
  const json& app = p["containers"][0]["properties"];
  EXPECT_EQ(app["image"], "myregistry.azurecr.io/app:v1");
  EXPECT_EQ(app["command"][2], "sleep infinity");
  EXPECT_EQ(app["resources"]["requests"]["cpu"], 1);
  EXPECT_EQ(app["resources"]["requests"]["memoryInGB"], 1.5);
  EXPECT_EQ(app["resources"]["limits"]["cpu"], 2);
  EXPECT_EQ(app["instanceView"]["currentState"]["state"], "Waiting");
  EXPECT_EQ(app["instanceView"]["currentState"]["detailStatus"],
            "cove runs containers only in coved's full mode as root");
  EXPECT_EQ(app["environmentVariables"][0], json({{"name", "MODE"}, {"value", "prod"}}));
  EXPECT_EQ(app["environmentVariables"][1], json({{"name", "TOKEN"}}));
  EXPECT_EQ(p["imageRegistryCredentials"][0],
            json({{"server", "myregistry.azurecr.io"}, {"identity", uai_id}}));
  EXPECT_EQ(p["imageRegistryCredentials"][1],
            json({{"server", "other.example.com:5000"}, {"username", "bob"}}));
  EXPECT_EQ(g.body["identity"]["userAssignedIdentities"][uai_id]["clientId"],
            uai["properties"]["clientId"]);
  EXPECT_TRUE(IsGuid(g.body["identity"].value("principalId", "")));

  // No secret in any answer, nor in the snapshot the data planes read.
  auto sub_list = Get(kSub + "/providers/Microsoft.ContainerInstance/containerGroups");
  auto rg_list = Get(kRg + "/providers/Microsoft.ContainerInstance/containerGroups");
  ASSERT_EQ(sub_list.status, 200);
  ASSERT_EQ(rg_list.status, 200);
  ASSERT_EQ(sub_list.body["value"].size(), 1u);
  ASSERT_EQ(rg_list.body["value"].size(), 1u);
  EXPECT_EQ(rg_list.body["value"][0], Get(kGroups + "web").body);
  for (const json* answer : {&g.body, &sub_list.body, &rg_list.body}) {
    std::string text = answer->dump();
    for (const char* secret : {"s3cr3t-env", "s3cr3t-pass", "secureValue", "password", "_cove"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
    }
  }
  auto snap = cp_->snapshot();
  for (const auto& [k, d] : snap->documents) {
    std::string text = d->dump();
    EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << k;
  }

  // PATCH changes tags only and keeps everything else (the sealed secrets too).
  auto patched = Patch(kGroups + "web",
                       {{"tags", {{"env", "test"}}}, {"properties", {{"osType", "Windows"}}}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["tags"]["env"], "test");
  EXPECT_EQ(patched.body["properties"], g.body["properties"]);
  EXPECT_EQ(patched.body["identity"], g.body["identity"]);
  EXPECT_EQ(Patch(kGroups + "nope", {{"tags", json::object()}}).Code(), "ResourceNotFound");

  // Updating keeps the address and the machine id; DELETE answers 200 then 204.
  std::string machine_id;
  for (const auto& m : snap->machines) machine_id = m.machine_id;
  EXPECT_TRUE(IsGuid(machine_id));
  auto again = Put(kGroups + "web", Group());
  ASSERT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["properties"]["cove"]["publicIpAddress"], "198.51.100.2");
  EXPECT_FALSE(again.body["properties"].contains("ipAddress"));  // none asked for
  EXPECT_FALSE(again.body.contains("identity"));
  EXPECT_EQ(cp_->snapshot()->machines.at(0).machine_id, machine_id);
  EXPECT_EQ(Delete(kGroups + "web").status, 200);
  EXPECT_EQ(Delete(kGroups + "web").status, 204);
  EXPECT_EQ(Get(kGroups + "web").Code(), "ResourceNotFound");
}

TEST_F(MachineTest, ContainerGroupValidation) {
  std::string uai_id = Identity("pull-id")["id"];
  auto expect = [&](const json& body, const std::string& code, const std::string& words,
                    const std::string& name = "g1") {
    auto r = Put(kGroups + name, body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_EQ(r.Code(), code) << r.body.dump();
    EXPECT_NE(r.Message().find(words), std::string::npos) << r.Message();
  };
  expect(Group(json::array()), "InvalidRequestContent", "at least one container");
  expect({{"location", "westus"}, {"properties", {{"osType", "Linux"}}}}, "InvalidRequestContent",
         "at least one container");
  expect(Group(json::array({Container("app", "UPPER/Case::x")})), "InvalidImageName",
         "UPPER/Case::x");
  expect(Group(json::array({Container("app", "")})), "InvalidRequestContent", "image");
  expect(Group(json::array({Container("App_1")})), "InvalidContainerName", "App_1");
  expect(Group(json::array({Container("app"), Container("app")})), "DuplicateContainerName", "app");
  json no_resources = Container("app");
  no_resources["properties"].erase("resources");
  expect(Group(json::array({no_resources})), "ResourceRequestsNotSpecified",
         "Both memory and CPU requests are required");
  json negative = Container("app");
  negative["properties"]["resources"]["requests"]["cpu"] = -1;
  expect(Group(json::array({negative})), "InvalidRequestContent", "cpu");
  json text_memory = Container("app");
  text_memory["properties"]["resources"]["requests"]["memoryInGB"] = "lots";
  expect(Group(json::array({text_memory})), "InvalidRequestContent", "memoryInGB");
  json low_limit = Container("app");
  low_limit["properties"]["resources"]["limits"] = {{"memoryInGB", 1}};
  expect(Group(json::array({low_limit})), "ResourceLimitsLessThanRequests", "MemoryInGB");
  json big = Container("app");
  big["properties"]["resources"]["requests"] = {{"cpu", 3}, {"memoryInGB", 8}};
  json big2 = big;
  big2["name"] = "app2";
  expect(Group(json::array({big, big2})), "ResourceRequestsExceedLimits", "'6' CPU '16' GB");
  json both_env = Container("app");
  both_env["properties"]["environmentVariables"] = {
      {{"name", "A"}, {"value", "x"}, {"secureValue", "y"}}};
  expect(Group(json::array({both_env})), "InvalidRequestContent", "secureValue");

  json no_os = Group();
  no_os["properties"].erase("osType");
  expect(no_os, "InvalidOsType", "The value must be one of 'Windows,Linux'");
  expect(Group(json(), {{"osType", "Windows"}}), "InvalidOsType", "Linux container groups only");
  expect(Group(json(), {{"restartPolicy", "Sometimes"}}), "InvalidRequestContent",
         "Always, OnFailure, Never");
  expect(Group(json(), {{"ipAddress", {{"type", "Private"}, {"ports", {{{"port", 80}}}}}}}),
         "PrivateNetworkNotSupported", "public (internet) network only");
  expect(Group(json(), {{"subnetIds", {{{"id", kNet + "/virtualNetworks/v/subnets/s"}}}}}),
         "PrivateNetworkNotSupported", "subnetIds");
  expect(Group(json(), {{"volumes", {{{"name", "v"}, {"emptyDir", json::object()}}}}}),
         "FeatureNotSupported", "volumes");
  expect(Group(json(), {{"ipAddress", {{"type", "Public"}, {"ports", {{{"port", 70000}}}}}}}),
         "InvalidRequestContent", "port");

  // Registry credentials: the identity must be one of the group's user-assigned identities.
  json by_identity = {
      {"imageRegistryCredentials", {{{"server", "myregistry.azurecr.io"}, {"identity", uai_id}}}}};
  expect(Group(json(), by_identity), "InvalidImageRegistryIdentity",
         "not found in container group");
  expect(Group(json(), by_identity, {{"type", "SystemAssigned"}}), "InvalidImageRegistryIdentity",
         "identity list");
  expect(Group(json(), {{"imageRegistryCredentials",
                         {{{"server", "https://myregistry.azurecr.io"}, {"username", "u"}}}}}),
         "InvalidImageRegistryServer", "without protocol");
  expect(Group(json(), {{"imageRegistryCredentials",
                         {{{"server", "a.example.com"}, {"username", "u"}},
                          {{"server", "b.example.com"}, {"username", "u"}}}}}),
         "MoreImageRegistryCredentialsThanContainers", "g1");
  expect(Group(json(), {{"imageRegistryCredentials", {{{"server", "a.example.com"}}}}}),
         "InvalidRequestContent", "identity or a username");
  expect(Group(json(), json::object(), {{"type", "UserAssigned"}}), "MissingIdentityIds",
         "identity ids");
  expect(Group(), "InvalidResourceName", "Bad_Name", "Bad_Name");
  EXPECT_EQ(Get(kGroups + "g1").status, 404);
  EXPECT_TRUE(cp_->snapshot()->machines.empty());

  // The same with the identity assigned works.
  auto ok = Put(kGroups + "g1", Group(json(), by_identity,
                                      {{"type", "UserAssigned"},
                                       {"userAssignedIdentities", {{uai_id, json::object()}}}}));
  EXPECT_EQ(ok.status, 201) << ok.body.dump();
}

TEST_F(MachineTest, VmsAndGroupsShareThePublicPoolWithoutSharingAnAddress) {
  auto address = [](const Reply& r) {
    return r.body["properties"]["cove"].value("publicIpAddress", "");
  };
  auto vm1 = Put(kVms + "vm1", PublicVm());
  auto g1 = Put(kGroups + "g1", Group());
  auto vm2 = Put(kVms + "vm2", PublicVm());
  ASSERT_EQ(vm1.status, 201);
  ASSERT_EQ(g1.status, 201) << g1.body.dump();
  ASSERT_EQ(vm2.status, 201);
  EXPECT_EQ(address(vm1), "198.51.100.2");
  EXPECT_EQ(address(g1), "198.51.100.3");
  EXPECT_EQ(address(vm2), "198.51.100.4");
  // Updates keep their address; a freed one is reused by the other kind.
  EXPECT_EQ(address(Put(kGroups + "g1", Group())), "198.51.100.3");
  EXPECT_EQ(address(Put(kVms + "vm1", PublicVm())), "198.51.100.2");
  ASSERT_EQ(Delete(kGroups + "g1").status, 200);
  EXPECT_EQ(address(Put(kVms + "vm3", PublicVm())), "198.51.100.3");
  EXPECT_EQ(address(Put(kGroups + "g2", Group())), "198.51.100.5");
  // The pool ends at .99.
  for (int i = 6; i <= 99; ++i) {
    ASSERT_EQ(Put(kGroups + "f" + std::to_string(i), Group()).status, 201) << i;
  }
  auto full = Put(kVms + "vm-full", PublicVm());
  EXPECT_EQ(full.status, 400);
  EXPECT_EQ(full.Code(), "PublicIPCountLimitReached");
  // Deleting the resource group takes the groups (and frees their addresses).
  ASSERT_EQ(Delete(kRg).status, 200);
  EXPECT_TRUE(cp_->snapshot()->machines.empty());
}

// ------------------------------------------------------------------ snapshot

TEST_F(MachineTest, SnapshotMachinesAndSystemAssignedPrincipals) {
  auto vnet =
      Put(kNet + "/virtualNetworks/myvnet",
          {{"location", "westus"},
           {"properties",
            {{"addressSpace", {{"addressPrefixes", {"10.0.0.0/16"}}}},
             {"subnets",
              {{{"name", "mysubnet"}, {"properties", {{"addressPrefix", "10.0.0.0/24"}}}}}}}}});
  ASSERT_EQ(vnet.status, 201) << vnet.body.dump();
  json uai = Identity("shared-id");
  std::string uai_id = uai["id"];
  auto nic =
      Put(kNet + "/networkInterfaces/vm1VMNic",
          {{"location", "westus"},
           {"properties",
            {{"ipConfigurations",
              {{{"name", "ipconfig1"},
                {"properties",
                 {{"subnet", {{"id", kNet + "/virtualNetworks/myvnet/subnets/mysubnet"}}}}}}}}}}});
  ASSERT_EQ(nic.status, 201) << nic.body.dump();
  auto vm = Put(
      kVms + "vm1",
      {{"location", "westus"},
       {"identity",
        {{"type", "SystemAssigned, UserAssigned"},
         {"userAssignedIdentities", {{uai_id, json::object()}}}}},
       {"properties", {{"networkProfile", {{"networkInterfaces", {{{"id", nic.body["id"]}}}}}}}}});
  ASSERT_EQ(vm.status, 201) << vm.body.dump();
  auto g = Put(kGroups + "aci", Group(json(), json::object(),
                                      {{"type", "UserAssigned"},
                                       {"userAssignedIdentities", {{uai_id, json::object()}}}}));
  ASSERT_EQ(g.status, 201) << g.body.dump();

  auto snap = cp_->snapshot();
  ASSERT_EQ(snap->machines.size(), 2u);
  const MachineView* v = nullptr;
  const MachineView* c = nullptr;
  for (const auto& m : snap->machines) {
    (m.kind == MachineView::Kind::kVirtualMachine ? v : c) = &m;
  }
  ASSERT_NE(v, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(v->id, kVms + "vm1");
  EXPECT_EQ(v->name, "vm1");
  EXPECT_EQ(v->subscription, "c0ffee00-0000-4000-8000-000000000001");
  EXPECT_EQ(v->resource_group, "rg");
  EXPECT_EQ(v->location, "westus");
  EXPECT_EQ(v->machine_id, vm.body["properties"]["vmId"]);
  EXPECT_FALSE(v->is_public);
  EXPECT_EQ(v->address, "10.0.0.4");
  EXPECT_EQ(v->subnet_id, kNet + "/virtualNetworks/myvnet/subnets/mysubnet");
  EXPECT_EQ(v->vnet_id, kNet + "/virtualNetworks/myvnet");
  ASSERT_TRUE(v->system_assigned.has_value());
  EXPECT_EQ(v->system_assigned->resource_id, v->id);
  EXPECT_EQ(v->system_assigned->principal_id, vm.body["identity"]["principalId"]);
  EXPECT_TRUE(IsGuid(v->system_assigned->client_id));
  EXPECT_NE(v->system_assigned->client_id, v->system_assigned->principal_id);
  ASSERT_EQ(v->user_assigned.size(), 1u);
  EXPECT_EQ(v->user_assigned[0].resource_id, uai_id);
  EXPECT_EQ(v->user_assigned[0].principal_id, uai["properties"]["principalId"]);
  EXPECT_EQ(v->user_assigned[0].client_id, uai["properties"]["clientId"]);

  EXPECT_EQ(c->id, kGroups + "aci");
  EXPECT_EQ(c->name, "aci");
  EXPECT_TRUE(c->is_public);
  EXPECT_EQ(c->address, "198.51.100.2");
  EXPECT_TRUE(IsGuid(c->machine_id));
  EXPECT_TRUE(c->subnet_id.empty());
  EXPECT_FALSE(c->system_assigned.has_value());
  ASSERT_EQ(c->user_assigned.size(), 1u);
  EXPECT_EQ(c->user_assigned[0].client_id, uai["properties"]["clientId"]);

  // The VM's system-assigned identity is a principal, next to the user-assigned one.
  std::vector<const PrincipalView*> identities;
  for (const auto& p : snap->principals) {
    if (p.kind == PrincipalKind::kManagedIdentity) identities.push_back(&p);
  }
  ASSERT_EQ(identities.size(), 2u);
  const PrincipalView* system = nullptr;
  for (const auto* p : identities) {
    if (p->resource_id == v->id) system = p;
  }
  ASSERT_NE(system, nullptr);
  EXPECT_EQ(system->id, v->system_assigned->principal_id);
  EXPECT_EQ(system->name, "vm1");
  EXPECT_EQ(system->app_id, v->system_assigned->client_id);
  EXPECT_TRUE(system->secrets.empty());

  // A deleted user-assigned identity leaves the machines' views; deleting the VM takes its
  // system-assigned principal out of `principals`.
  ASSERT_EQ(Delete(kUais + "shared-id").status, 200);
  ASSERT_EQ(Delete(kVms + "vm1").status, 200);
  snap = cp_->snapshot();
  ASSERT_EQ(snap->machines.size(), 1u);
  EXPECT_TRUE(snap->machines[0].user_assigned.empty());
  for (const auto& p : snap->principals) EXPECT_NE(p.kind, PrincipalKind::kManagedIdentity);
}

// Every wrong-typed piece of a machine body is a 4xx ARM error, never a crash or a 5xx.
TEST_F(MachineTest, GarbageMachineBodiesAreAnsweredNotCrashedOn) {
  std::vector<json> garbage = {
      json(1),    json("x"),      json::array(),    json(nullptr),
      json(true), json::object(), json({{"a", 1}}), json::array({1, "2", nullptr})};
  std::vector<std::function<json(const json&)>> places = {
      [](const json& g) { return PublicVm(g); },
      [](const json& g) {
        return PublicVm({{"type", "UserAssigned"}, {"userAssignedIdentities", g}});
      },
      [](const json& g) { return Group(g); },
      [](const json& g) { return Group(json::array({g})); },
      [](const json& g) {
        return Group(json(), {{"ipAddress", g}});
      },
      [](const json& g) {
        return Group(json(), {{"imageRegistryCredentials", g}});
      },
      [](const json& g) {
        return Group(json(), {{"imageRegistryCredentials", json::array({g})}});
      },
      [](const json& g) {
        return Group(json(), {{"osType", g}});
      },
      [](const json& g) {
        json c = Container("app");
        c["properties"]["resources"] = g;
        return Group(json::array({c}));
      },
      [](const json& g) {
        json c = Container("app");
        c["properties"]["environmentVariables"] = json::array({g});
        return Group(json::array({c}));
      },
      [](const json& g) {
        json c = Container("app");
        c["properties"]["ports"] = g;
        return Group(json::array({c}));
      },
      [](const json& g) { return Group(json(), json::object(), g); },
  };
  int answered = 0;
  for (const auto& place : places) {
    for (const auto& g : garbage) {
      json body = place(g);
      bool vm = body["properties"].contains("cove");
      auto r = Put(vm ? kVms + "vm-g" : kGroups + "g-g", body);
      ASSERT_GE(r.status, 200) << body.dump();
      ASSERT_LT(r.status, 500) << body.dump() << " → " << r.body.dump();
      if (r.status >= 400) {
        EXPECT_FALSE(r.Code().empty()) << r.body.dump();
      } else {
        ++answered;
        EXPECT_EQ(Delete(vm ? kVms + "vm-g" : kGroups + "g-g").status, 200);
      }
    }
  }
  EXPECT_GT(answered, 0);  // some of them (null, {}) are valid bodies
}


// ------------------------------------------------------------------ the runtime's live state
// (issue 16): a fake ContainerGroupRuntime stands for coved's containers plane.
TEST_F(MachineTest, ContainerGroupRendersTheRuntimesInstanceView) {
  json view = {{"provisioningState", "Failed"},
               {"state", "Failed"},
               {"events", json::array()},
               {"containers",
                {{"app",
                  {{"restartCount", 2},
                   {"currentState", {{"state", "Terminated"}, {"exitCode", 3}, {"detailStatus", "Error"}}},
                   {"previousState", {{"state", "Terminated"}, {"exitCode", 3}, {"detailStatus", "Error"}}},
                   {"events",
                    {{{"count", 1}, {"name", "Failed"}, {"type", "Warning"},
                      {"message", "Failed to pull image \"x\": DENIED: client with IP '198.51.100.2' is not allowed access."}}}}}}}}};
  std::string asked;
  cp_->SetContainerGroupRuntime(
      {.instance_view = [&](const std::string& id) -> std::optional<json> {
         asked = id;
         return view;
       }});
  ASSERT_EQ(Put(kGroups + "web", Group()).status, 201);
  auto g = Get(kGroups + "web");
  ASSERT_EQ(g.status, 200) << g.body.dump();
  EXPECT_EQ(asked, kGroups + "web");
  const json& p = g.body["properties"];
  EXPECT_EQ(p["provisioningState"], "Failed");
  EXPECT_EQ(p["instanceView"]["state"], "Failed");
  EXPECT_EQ(p["containers"][0]["properties"]["instanceView"], view["containers"]["app"]);
  // Listing renders the same way.
  auto list = Get(kRg + "/providers/Microsoft.ContainerInstance/containerGroups");
  EXPECT_EQ(list.body["value"][0]["properties"]["instanceView"]["state"], "Failed");
  // A runtime that does not know the group (yet): Pending, containers Waiting without a reason.
  cp_->SetContainerGroupRuntime({.instance_view = [](const std::string&) -> std::optional<json> {
    return std::nullopt;
  }});
  g = Get(kGroups + "web");
  EXPECT_EQ(g.body["properties"]["instanceView"]["state"], "Pending");
  EXPECT_EQ(g.body["properties"]["containers"][0]["properties"]["instanceView"]["currentState"],
            json({{"state", "Waiting"}, {"detailStatus", ""}}));
}

TEST_F(MachineTest, ContainerGroupActionsAndLogsGoToTheRuntime) {
  std::vector<std::string> acted;
  cp_->SetContainerGroupRuntime(
      {.act = [&](const std::string& id, const std::string& action) -> Status {
         if (id.find("/ghost") != std::string::npos) return Fail(Code::kNotFound, "no group");
         acted.push_back(action);
         return Ok();
       },
       .logs = [&](const std::string&, const std::string& container,
                   std::optional<int> tail) -> Result<std::string> {
         return container + " says hi (tail " + (tail ? std::to_string(*tail) : "none") + ")\n";
       }});
  ASSERT_EQ(Put(kGroups + "web", Group()).status, 201);
  EXPECT_EQ(Post(kGroups + "web/restart").status, 204);
  EXPECT_EQ(Post(kGroups + "web/stop").status, 204);
  EXPECT_EQ(Post(kGroups + "web/start").status, 202);
  EXPECT_EQ(acted, (std::vector<std::string>{"restart", "stop", "start"}));
  auto unknown = Post(kGroups + "web/reboot");
  EXPECT_EQ(unknown.status, 404) << unknown.body.dump();
  auto missing = Post(kGroups + "nope/restart");
  EXPECT_EQ(missing.status, 404) << missing.body.dump();
  // Known to ARM, not (yet) to the runtime.
  ASSERT_EQ(Put(kGroups + "ghost", Group()).status, 201);
  auto ghost = Post(kGroups + "ghost/restart");
  EXPECT_EQ(ghost.status, 409);
  EXPECT_EQ(ghost.body["error"]["code"], "ContainerGroupTransitioning");

  auto logs = Call("GET", kGroups + "web/containers/app/logs?tail=5", "", "2023-05-01");
  ASSERT_EQ(logs.status, 200) << logs.body.dump();
  EXPECT_EQ(logs.body["content"], "app says hi (tail 5)\n");
  logs = Call("GET", kGroups + "web/containers/app/logs", "", "2023-05-01");
  EXPECT_EQ(logs.body["content"], "app says hi (tail none)\n");
  auto bad_tail = Call("GET", kGroups + "web/containers/app/logs?tail=x", "", "2023-05-01");
  EXPECT_EQ(bad_tail.status, 400) << bad_tail.body.dump();
  auto no_container = Call("GET", kGroups + "web/containers/other/logs", "", "2023-05-01");
  EXPECT_EQ(no_container.status, 404);
  EXPECT_EQ(no_container.body["error"]["code"], "ContainerNotFound");
  auto no_group = Call("GET", kGroups + "nope/containers/app/logs", "", "2023-05-01");
  EXPECT_EQ(no_group.status, 404) << no_group.body.dump();
}

TEST_F(MachineTest, ContainerGroupWithoutARuntimeSaysSo) {
  ASSERT_EQ(Put(kGroups + "web", Group()).status, 201);
  auto r = Post(kGroups + "web/restart");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"]["code"], "ContainerGroupRuntimeUnavailable");
  auto logs = Call("GET", kGroups + "web/containers/app/logs", "", "2023-05-01");
  EXPECT_EQ(logs.status, 409);
}

TEST_F(MachineTest, ContainerGroupSecretsAreUnsealedForTheRuntimeOnly) {
  json c = Container("app");
  c["properties"]["environmentVariables"] = {{{"name", "TOKEN"}, {"secureValue", "t0p-secret"}},
                                             {{"name", "MODE"}, {"value", "prod"}}};
  json props = {{"imageRegistryCredentials",
                 {{{"server", "Other.Example.com:5000"}, {"username", "bob"}, {"password", "s3cr3t-pass"}}}}};
  ASSERT_EQ(Put(kGroups + "web", Group({c}, props)).status, 201);
  auto secrets = cp_->ContainerGroupSecrets(kGroups + "web");
  ASSERT_TRUE(secrets) << secrets.error().message;
  EXPECT_EQ((*secrets)["env"], json({{"app/TOKEN", "t0p-secret"}}));
  EXPECT_EQ((*secrets)["registries"], json({{"other.example.com:5000", "s3cr3t-pass"}}));
  // Other casing of the id; a group without secrets; no group.
  std::string upper = kGroups + "WEB";
  EXPECT_TRUE(cp_->ContainerGroupSecrets(upper));
  ASSERT_EQ(Put(kGroups + "plain", Group()).status, 201);
  auto none = cp_->ContainerGroupSecrets(kGroups + "plain");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, json({{"env", json::object()}, {"registries", json::object()}}));
  EXPECT_EQ(cp_->ContainerGroupSecrets(kGroups + "nope").error().code, Code::kNotFound);
  EXPECT_EQ(cp_->ContainerGroupSecrets(kVms + "vm1").error().code, Code::kInvalidArgument);
  // Still never answered.
  EXPECT_EQ(Get(kGroups + "web").body.dump().find("t0p-secret"), std::string::npos);
  // Survives a restart (sealed at rest, reloaded).
  Restart();
  auto again = cp_->ContainerGroupSecrets(kGroups + "web");
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["env"]["app/TOKEN"], "t0p-secret");
}

}  // namespace
}  // namespace cove::arm
