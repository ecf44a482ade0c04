// The deployment behind `cove up`: the seed's first diagram. Parameters: resourceGroup (-g),
// location (-l), registry (--registry), subscription.
//
// Issue 4 extends `cove up` with a client VM and a push/pull through the private endpoint: the
// VM is one more resource in this file (a type coved's fabric understands) and the push/pull a
// step that RunUp (commands_deploy.cc) runs after the deployment is applied.
#include "cli/deploy.h"

namespace cove::cli {

const char* UpDeployment() {
  return R"yaml(# cove up: the seed's architecture (acr-private-endpoints-architecture.md, first diagram)
resources:
- type: Microsoft.Resources/resourceGroups
  name: ${resourceGroup}
  body:
    location: ${location}

- type: Microsoft.Network/virtualNetworks
  name: myVNet
  body:
    location: ${location}
    properties:
      addressSpace:
        addressPrefixes: [10.0.0.0/16]
      subnets:
      - name: mySubnet
        properties:
          addressPrefix: 10.0.0.0/24
          privateEndpointNetworkPolicies: Disabled

- type: Microsoft.ContainerRegistry/registries
  name: ${registry}
  body:
    location: ${location}
    sku:
      name: Premium
    properties:
      adminUserEnabled: false
      dataEndpointEnabled: true
      publicNetworkAccess: Disabled

- type: Microsoft.Network/privateDnsZones
  name: privatelink.azurecr.io
  body:
    location: global

- type: Microsoft.Network/privateDnsZones/virtualNetworkLinks
  name: privatelink.azurecr.io/myDNSLink
  body:
    location: global
    properties:
      virtualNetwork:
        id: /subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/virtualNetworks/myVNet
      registrationEnabled: false

- type: Microsoft.Network/privateEndpoints
  name: myPrivateEndpoint
  body:
    location: ${location}
    properties:
      subnet:
        id: /subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/virtualNetworks/myVNet/subnets/mySubnet
      privateLinkServiceConnections:
      - name: myConnection
        properties:
          privateLinkServiceId: /subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${registry}
          groupIds: [registry]
      ipConfigurations:
      - name: ipconfig-registry
        properties:
          groupId: registry
          memberName: registry
          privateIPAddress: 10.0.0.5
      - name: ipconfig-registry-data-${location}
        properties:
          groupId: registry
          memberName: registry_data_${location}
          privateIPAddress: 10.0.0.6

- type: Microsoft.Network/privateEndpoints/privateDnsZoneGroups
  name: myPrivateEndpoint/default
  body:
    properties:
      privateDnsZoneConfigs:
      - name: privatelink.azurecr.io
        properties:
          privateDnsZoneId: /subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io

- type: Microsoft.Network/networkInterfaces
  name: vm1VMNic
  body:
    location: ${location}
    properties:
      ipConfigurations:
      - name: ipconfigvm1
        properties:
          subnet:
            id: /subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/virtualNetworks/myVNet/subnets/mySubnet
          privateIPAllocationMethod: Static
          privateIPAddress: 10.0.0.4

- type: Microsoft.Compute/virtualMachines
  name: vm1
  body:
    location: ${location}
    properties:
      networkProfile:
        networkInterfaces:
        - id: /subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/networkInterfaces/vm1VMNic
)yaml";
}

}  // namespace cove::cli
