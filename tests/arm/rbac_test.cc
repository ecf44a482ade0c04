// arm/rbac.h as pure functions: which action and scope a request is, and Azure's actions /
// notActions matching. (The whole path, over sockets and with the control plane, is
// tests/security/control_plane_auth_test.cc.)
#include "arm/rbac.h"

#include <gtest/gtest.h>

namespace cove::arm {
namespace {

const std::string kSub = "/subscriptions/c0ffee00-0000-4000-8000-000000000001";
const std::string kRg = kSub + "/resourceGroups/rg";
const std::string kReg = kRg + "/providers/Microsoft.ContainerRegistry/registries/r1";

TEST(RbacTest, RequestsAreAzureActionsAtTheirScope) {
  struct Case {
    std::string method, path, action, scope;
  };
  for (const auto& c : std::vector<Case>{
           {"GET", kSub, "Microsoft.Resources/subscriptions/read", kSub},
           {"PUT", kSub + "/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/write",
            kRg},
           {"DELETE", kRg, "Microsoft.Resources/subscriptions/resourceGroups/delete", kRg},
           {"PUT", kReg, "Microsoft.ContainerRegistry/registries/write", kReg},
           {"PATCH", kReg, "Microsoft.ContainerRegistry/registries/write", kReg},
           {"HEAD", kReg, "Microsoft.ContainerRegistry/registries/read", kReg},
           {"POST", kReg + "/listCredentials",
            "Microsoft.ContainerRegistry/registries/listCredentials/action", kReg},
           {"PUT", kReg + "/privateEndpointConnections/c",
            "Microsoft.ContainerRegistry/registries/privateEndpointConnections/write",
            kReg + "/privateEndpointConnections/c"},
           {"GET", kRg + "/providers/Microsoft.Network/virtualNetworks",
            "Microsoft.Network/virtualNetworks/read", kRg},
           {"PUT", kReg + "/providers/Microsoft.Authorization/roleAssignments/g",
            "Microsoft.Authorization/roleAssignments/write",
            kReg + "/providers/Microsoft.Authorization/roleAssignments/g"},
           {"PUT", "/providers/Microsoft.Authorization/roleAssignments/g",
            "Microsoft.Authorization/roleAssignments/write",
            "/providers/Microsoft.Authorization/roleAssignments/g"},
           {"POST", kSub + "/providers/Microsoft.Network/register",
            "Microsoft.Network/register/action", kSub},
           {"POST", "/v1.0/applications/x/addPassword",
            "microsoft.directory/applications/credentials/update", "/"},
           // Percent-encoding cannot hide a segment from the check.
           {"PUT", kRg + "/%70roviders/Microsoft.ContainerRegistry/registries/r1",
            "Microsoft.ContainerRegistry/registries/write", kReg},
           // A container group's operations (issue 16) are ACI's actions.
           {"POST", kRg + "/providers/Microsoft.ContainerInstance/containerGroups/g/restart",
            "Microsoft.ContainerInstance/containerGroups/restart/action",
            kRg + "/providers/Microsoft.ContainerInstance/containerGroups/g"},
           {"GET", kRg + "/providers/Microsoft.ContainerInstance/containerGroups/g/containers/c/logs",
            "Microsoft.ContainerInstance/containerGroups/containers/logs/read",
            kRg + "/providers/Microsoft.ContainerInstance/containerGroups/g/containers/c"},
           {"DELETE", "/nonsense", "cove/unknownRequest/action", "/"},
       }) {
    ArmOperation op = OperationFor(c.method, c.path);
    EXPECT_EQ(op.action, c.action) << c.method << " " << c.path;
    EXPECT_EQ(op.scope, c.scope) << c.method << " " << c.path;
  }
  EXPECT_TRUE(OperationFor("GET", kSub + "/resourcegroups").list);
  EXPECT_FALSE(OperationFor("GET", kReg).list);
  EXPECT_TRUE(OperationFor("GET", "/v1.0/users").any_principal);
  EXPECT_FALSE(OperationFor("POST", "/v1.0/users").any_principal);
  // az login -u lists the user's tenants first: any signed-in principal may.
  EXPECT_TRUE(OperationFor("GET", "/tenants").any_principal);
  EXPECT_EQ(OperationFor("GET", "/tenants").action, "Microsoft.Resources/tenants/read");
  EXPECT_EQ(OperationFor("PUT", "/tenants").action, "cove/unknownRequest/action");
  // Generic resource listing: a list of what the caller may read, at either scope.
  ArmOperation all = OperationFor("GET", kSub + "/resources");
  EXPECT_EQ(all.action, "Microsoft.Resources/subscriptions/resources/read");
  EXPECT_EQ(all.scope, kSub);
  EXPECT_TRUE(all.list);
  ArmOperation group = OperationFor("GET", kRg + "/resources");
  EXPECT_EQ(group.action, "Microsoft.Resources/subscriptions/resourceGroups/resources/read");
  EXPECT_EQ(group.scope, kRg);
  EXPECT_TRUE(group.list);
}

TEST(RbacTest, ActionsAndNotActionsAsAzureMatchesThem) {
  EXPECT_TRUE(ActionMatches("*", "Microsoft.Network/virtualNetworks/write"));
  EXPECT_TRUE(ActionMatches("*/read", "Microsoft.ContainerRegistry/registries/read"));
  EXPECT_FALSE(ActionMatches("*/read", "Microsoft.ContainerRegistry/registries/listCredentials/action"));
  EXPECT_TRUE(ActionMatches("Microsoft.Authorization/*/Write",
                            "microsoft.authorization/roleAssignments/write"));
  EXPECT_FALSE(ActionMatches("Microsoft.Network/*", "Microsoft.NetworkX"));
  auto role = [](const char* name) { return *FindRoleByName(name); };
  EXPECT_FALSE(RoleGrants(role("Contributor"), "Microsoft.Authorization/roleAssignments/write"));
  EXPECT_TRUE(RoleGrants(role("Contributor"), "Microsoft.ContainerRegistry/registries/write"));
  EXPECT_TRUE(RoleGrants(role("Owner"), "Microsoft.Authorization/roleAssignments/write"));
  EXPECT_FALSE(RoleGrants(role("Reader"), "Microsoft.ContainerRegistry/registries/listCredentials/action"));
  EXPECT_TRUE(RoleGrants(role("Network Contributor"), "Microsoft.Network/privateEndpoints/write"));
  EXPECT_FALSE(RoleGrants(role("Network Contributor"), "Microsoft.ContainerRegistry/registries/write"));
  EXPECT_TRUE(RoleGrants(role("User Access Administrator"),
                         "Microsoft.Authorization/roleAssignments/write"));
  EXPECT_FALSE(RoleGrants(role("User Access Administrator"), "Microsoft.Network/virtualNetworks/write"));
  EXPECT_FALSE(RoleGrants(role("AcrPush"), "Microsoft.ContainerRegistry/registries/read"));
  // Who may touch a running container group: Contributor restarts it, Reader reads its logs
  // only, AcrPull neither.
  EXPECT_TRUE(RoleGrants(role("Contributor"), "Microsoft.ContainerInstance/containerGroups/restart/action"));
  EXPECT_FALSE(RoleGrants(role("Reader"), "Microsoft.ContainerInstance/containerGroups/stop/action"));
  EXPECT_TRUE(RoleGrants(role("Reader"), "Microsoft.ContainerInstance/containerGroups/containers/logs/read"));
  EXPECT_FALSE(RoleGrants(role("AcrPull"), "Microsoft.ContainerInstance/containerGroups/containers/logs/read"));
  EXPECT_TRUE(ScopeCovers("/", kReg));
  EXPECT_TRUE(ScopeCovers(kRg, kReg));
  EXPECT_FALSE(ScopeCovers(kRg, kSub + "/resourceGroups/rg2"));
  EXPECT_FALSE(ScopeCovers(kRg + "2", kRg));
  EXPECT_FALSE(ScopeCovers(kReg, kRg));
}

}  // namespace
}  // namespace cove::arm
