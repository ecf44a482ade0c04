// The seed scenario through the Azure SDK for JavaScript from npm, unmodified, against a real
// coved (issue 15): ClientSecretCredential against coved's authority, then each management
// client pointed at coved's ARM with `endpoint` and its scopes. Every resource is created with
// the SDK's long-running-operation calls (begin...AndWait), read back, listed and deleted in
// reverse order; two refusals must surface as the SDK's RestError with Azure's codes.
//
// Environment (tests/sdk/sdk_test.sh sets it): COVE_ARM (https://127.0.0.1:<port>), COVE_TENANT,
// COVE_CLIENT_ID, COVE_CLIENT_SECRET, COVE_PRINCIPAL_ID (the bootstrap service principal),
// COVE_SUBSCRIPTION, COVE_NPM_DIR (tools/npm, where the packages are installed);
// NODE_EXTRA_CA_CERTS is coved's CA. Prints one "ok - ..." / "not ok - ..." line per check and
// exits 1 when any failed.
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const arm = env("COVE_ARM");
const tenant = env("COVE_TENANT");
const subscription = env("COVE_SUBSCRIPTION");
const principalId = env("COVE_PRINCIPAL_ID");
// The packages live in tools/npm, not beside this file: resolve them from there.
const require = createRequire(`${env("COVE_NPM_DIR")}/package.json`);
const { ClientSecretCredential } = require("@azure/identity");
const { ResourceManagementClient } = require("@azure/arm-resources");
const { NetworkManagementClient } = require("@azure/arm-network");
const { ContainerRegistryManagementClient } = require("@azure/arm-containerregistry");
const { PrivateDnsManagementClient } = require("@azure/arm-privatedns");
const { AuthorizationManagementClient } = require("@azure/arm-authorization");
const { ComputeManagementClient } = require("@azure/arm-compute");
const { RestError } = require("@azure/core-rest-pipeline");

let passed = 0;
let failed = 0;
const ok = (name) => {
  passed++;
  console.log(`ok - ${name}`);
};
const notOk = (name, why) => {
  failed++;
  console.log(`not ok - ${name}`);
  for (const line of String(why).split("\n").slice(0, 6)) console.log(`  ${line}`);
};
// check(name, fn): runs fn (async); a throw or a false return is a failure.
async function check(name, fn) {
  try {
    const result = await fn();
    if (result === false) notOk(name, "check returned false");
    else ok(name);
    return result;
  } catch (e) {
    notOk(name, e?.stack ?? e);
    return undefined;
  }
}
function expectEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${what}: expected ${b}, got ${a}`);
}
// refused(name, fn, status, code): fn must throw the SDK's RestError with ARM's status and code.
async function refused(name, fn, status, code) {
  await check(name, async () => {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof RestError) && e?.name !== "RestError") {
        throw new Error(`not a RestError: ${e?.stack ?? e}`);
      }
      expectEq([e.statusCode, e.code], [status, code], "statusCode, code");
      return true;
    }
    throw new Error("the call succeeded");
  });
}
async function collect(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

// ---- sign in: the tenant-form authority on coved, no instance discovery against Microsoft ----
const credential = new ClientSecretCredential(tenant, env("COVE_CLIENT_ID"),
  env("COVE_CLIENT_SECRET"), { authorityHost: `${arm}/`, disableInstanceDiscovery: true });
const scope = "https://management.core.windows.net//.default";
await check("ClientSecretCredential.getToken from coved's authority", async () => {
  const token = await credential.getToken(scope);
  return typeof token?.token === "string" && token.token.length > 0;
});

const core = { endpoint: arm, credentialScopes: [scope] };
const resources = new ResourceManagementClient(credential, subscription, core);
const network = new NetworkManagementClient(credential, subscription, core);
// The TypeSpec-generated client takes its scopes as credentials.scopes.
const acr = new ContainerRegistryManagementClient(credential, subscription,
  { endpoint: arm, credentials: { scopes: [scope] } });
const dns = new PrivateDnsManagementClient(credential, subscription, core);
const authz = new AuthorizationManagementClient(credential, subscription, core);
const compute = new ComputeManagementClient(credential, subscription,
  { endpoint: arm, credentials: { scopes: [scope] } });

const rg = "sdkResourceGroup";
const location = "westus";
const replicaRegion = "eastus";
const registryName = "sdkregistry";
const zoneName = "privatelink.azurecr.io";

// ---- create, in the seed's order ----
const group = await check("resourceGroups.createOrUpdate", async () => {
  const g = await resources.resourceGroups.createOrUpdate(rg, { location });
  expectEq([g.name, g.location, g.properties?.provisioningState], [rg, location, "Succeeded"],
    "group");
  return g;
});
// Every response the VNet's poller saw: the PUT's, then the operation status it polled.
const seen = [];
const vnet = await check("virtualNetworks.beginCreateOrUpdateAndWait (with subnets)", async () => {
  const v = await network.virtualNetworks.beginCreateOrUpdateAndWait(rg, "myVNet", {
    location,
    addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
    subnets: [
      { name: "mySubnet", addressPrefix: "10.0.0.0/24", privateEndpointNetworkPolicies: "Disabled" },
      { name: "policySubnet", addressPrefix: "10.0.1.0/24", privateEndpointNetworkPolicies: "Enabled" },
    ],
  }, {
    onResponse: (raw) => seen.push([raw.status, raw.request.method, new URL(raw.request.url).pathname,
      raw.headers.get("azure-asyncoperation") ?? ""]),
  });
  expectEq([v.name, v.provisioningState, v.subnets?.map((s) => s.name).sort()],
    ["myVNet", "Succeeded", ["mySubnet", "policySubnet"]], "vnet");
  return v;
});
await check("the VNet's poller followed Azure-AsyncOperation to a Succeeded operation", () => {
  const put = seen.find(([, method]) => method === "PUT");
  if (!put || !put[3].includes("/providers/Microsoft.Network/locations/westus/operations/")) {
    throw new Error(`no Azure-AsyncOperation on the PUT: ${JSON.stringify(seen)}`);
  }
  return seen.some(([status, method, path]) => method === "GET" && status === 200 &&
    path === new URL(put[3]).pathname);
});
const subnet = await check("subnets.beginCreateOrUpdateAndWait (network policies Disabled)",
  async () => {
    const s = await network.subnets.beginCreateOrUpdateAndWait(rg, "myVNet", "mySubnet", {
      addressPrefix: "10.0.0.0/24", privateEndpointNetworkPolicies: "Disabled",
    });
    expectEq([s.name, s.privateEndpointNetworkPolicies, s.provisioningState],
      ["mySubnet", "Disabled", "Succeeded"], "subnet");
    return s;
  });
const registry = await check("registries.beginCreateAndWait (Premium, dataEndpointEnabled)",
  async () => {
    const r = await acr.registries.beginCreateAndWait(rg, registryName, {
      location, sku: { name: "Premium" }, dataEndpointEnabled: true,
    });
    expectEq([r.name, r.sku?.name, r.loginServer, r.dataEndpointEnabled, r.provisioningState],
      [registryName, "Premium", `${registryName}.azurecr.io`, true, "Succeeded"], "registry");
    return r;
  });
const endpoint = await check("privateEndpoints.beginCreateOrUpdateAndWait (group registry)",
  async () => {
    const pe = await network.privateEndpoints.beginCreateOrUpdateAndWait(rg, "myPrivateEndpoint", {
      location,
      subnet: { id: subnet.id },
      privateLinkServiceConnections: [{
        name: "myConnection", privateLinkServiceId: registry.id, groupIds: ["registry"],
      }],
    });
    expectEq([pe.name, pe.provisioningState,
      pe.privateLinkServiceConnections?.[0]?.groupIds,
      pe.privateLinkServiceConnections?.[0]?.privateLinkServiceConnectionState?.status],
    ["myPrivateEndpoint", "Succeeded", ["registry"], "Approved"], "private endpoint");
    return pe;
  });
const zone = await check("privateZones.beginCreateOrUpdateAndWait privatelink.azurecr.io",
  async () => {
    const z = await dns.privateZones.beginCreateOrUpdateAndWait(rg, zoneName, { location: "global" });
    expectEq([z.name, z.location, z.provisioningState], [zoneName, "global", "Succeeded"], "zone");
    return z;
  });
await check("virtualNetworkLinks.beginCreateOrUpdateAndWait", async () => {
  const l = await dns.virtualNetworkLinks.beginCreateOrUpdateAndWait(rg, zoneName, "myDNSLink", {
    location: "global", virtualNetwork: { id: vnet.id }, registrationEnabled: false,
  });
  expectEq([l.name, l.registrationEnabled, l.provisioningState],
    ["myDNSLink", false, "Succeeded"], "link");
});
await check("privateDnsZoneGroups.beginCreateOrUpdateAndWait", async () => {
  const g = await network.privateDnsZoneGroups.beginCreateOrUpdateAndWait(rg, "myPrivateEndpoint",
    "myZoneGroup", { privateDnsZoneConfigs: [{ name: "config", privateDnsZoneId: zone.id }] });
  expectEq([g.name, g.provisioningState, g.privateDnsZoneConfigs?.[0]?.privateDnsZoneId],
    ["myZoneGroup", "Succeeded", zone.id], "zone group");
});
await check("replications.beginCreateAndWait (eastus)", async () => {
  const r = await acr.replications.beginCreateAndWait(rg, registryName, replicaRegion,
    { location: replicaRegion });
  expectEq([r.name, r.location, r.provisioningState], [replicaRegion, replicaRegion, "Succeeded"],
    "replication");
});
// A client machine in the subnet: its NIC, then the VM (coved realizes it only with the fabric on).
const nic = await check("networkInterfaces.beginCreateOrUpdateAndWait", async () => {
  const n = await network.networkInterfaces.beginCreateOrUpdateAndWait(rg, "vm1Nic", {
    location,
    ipConfigurations: [{ name: "ipconfig1", subnet: { id: subnet.id }, privateIPAllocationMethod: "Dynamic" }],
  });
  expectEq([n.provisioningState, n.ipConfigurations?.[0]?.privateIPAddress?.startsWith("10.0.0.")],
    ["Succeeded", true], "nic");
  return n;
});
await check("virtualMachines.beginCreateOrUpdateAndWait", async () => {
  const vm = await compute.virtualMachines.beginCreateOrUpdateAndWait(rg, "vm1", {
    location, networkProfile: { networkInterfaces: [{ id: nic.id }] },
  });
  expectEq([vm.name, vm.provisioningState], ["vm1", "Succeeded"], "vm");
});
const assignmentName = randomUUID();
const acrPull = `/subscriptions/${subscription}/providers/Microsoft.Authorization/roleDefinitions/` +
  "7f951dda-4ed3-4680-a7ca-43fe172d538d";
await check("roleAssignments.create (AcrPull on the registry)", async () => {
  const a = await authz.roleAssignments.create(registry.id, assignmentName, {
    roleDefinitionId: acrPull, principalId, principalType: "ServicePrincipal",
  });
  expectEq([a.name, a.principalId, a.scope?.toLowerCase()],
    [assignmentName, principalId, registry.id.toLowerCase()], "role assignment");
});

// ---- read back ----
await check("resourceGroups.get", async () =>
  expectEq((await resources.resourceGroups.get(rg)).id, group.id, "group id"));
await check("virtualNetworks.get", async () => {
  const v = await network.virtualNetworks.get(rg, "myVNet");
  expectEq(v.addressSpace?.addressPrefixes, ["10.0.0.0/16"], "address space");
});
await check("subnets.get shows the private endpoint's NIC", async () => {
  const s = await network.subnets.get(rg, "myVNet", "mySubnet");
  expectEq([s.privateEndpointNetworkPolicies, (s.ipConfigurations ?? []).length > 0 ||
    (s.privateEndpoints ?? []).length > 0], ["Disabled", true], "subnet");
});
await check("registries.get shows the approved connection and the data endpoints", async () => {
  const r = await acr.registries.get(rg, registryName);
  expectEq([r.dataEndpointEnabled, [...(r.dataEndpointHostNames ?? [])].sort(),
    r.privateEndpointConnections?.[0]?.privateLinkServiceConnectionState?.status],
  [true, [`${registryName}.${replicaRegion}.data.azurecr.io`, `${registryName}.${location}.data.azurecr.io`],
    "Approved"], "registry");
});
await check("privateEndpoints.get", async () => {
  const pe = await network.privateEndpoints.get(rg, "myPrivateEndpoint");
  expectEq([pe.subnet?.id?.toLowerCase(), (pe.networkInterfaces ?? []).length],
    [subnet.id.toLowerCase(), 1], "private endpoint");
  return endpoint !== undefined;
});
await check("privateDnsZoneGroups.get", async () => {
  const g = await network.privateDnsZoneGroups.get(rg, "myPrivateEndpoint", "myZoneGroup");
  expectEq(g.privateDnsZoneConfigs?.length, 1, "configs");
});
await check("privateZones.get", async () => {
  const z = await dns.privateZones.get(rg, zoneName);
  expectEq([z.name, z.numberOfVirtualNetworkLinks], [zoneName, 1], "zone");
});
await check("virtualNetworkLinks.get", async () => {
  const l = await dns.virtualNetworkLinks.get(rg, zoneName, "myDNSLink");
  expectEq(l.virtualNetwork?.id?.toLowerCase(), vnet.id.toLowerCase(), "link's vnet");
});
await check("recordSets.list shows the zone group's A records", async () => {
  const sets = await collect(dns.recordSets.list(rg, zoneName));
  const a = sets.filter((s) => s.type?.endsWith("/A")).map((s) => s.name).sort();
  expectEq(a, [registryName, `${registryName}.${replicaRegion}.data`, `${registryName}.${location}.data`],
    "A record sets");
});
await check("replications.get", async () => {
  const r = await acr.replications.get(rg, registryName, replicaRegion);
  expectEq(r.location, replicaRegion, "replication location");
});
await check("virtualMachines.get", async () => {
  const vm = await compute.virtualMachines.get(rg, "vm1");
  expectEq(vm.networkProfile?.networkInterfaces?.[0]?.id?.toLowerCase(), nic.id.toLowerCase(), "vm nic");
});
await check("networkInterfaces.get names its VM", async () => {
  const n = await network.networkInterfaces.get(rg, "vm1Nic");
  expectEq(n.virtualMachine?.id?.toLowerCase().endsWith("/virtualmachines/vm1"), true, "nic's vm");
});
await check("roleAssignments.get", async () => {
  const a = await authz.roleAssignments.get(registry.id, assignmentName);
  expectEq(a.roleDefinitionId?.toLowerCase(), acrPull.toLowerCase(), "role definition");
});

// ---- list ----
await check("resources.listByResourceGroup", async () => {
  const names = (await collect(resources.resources.listByResourceGroup(rg))).map((r) => r.name);
  for (const n of ["myVNet", registryName, "myPrivateEndpoint", zoneName]) {
    if (!names.includes(n)) throw new Error(`${n} missing from ${names}`);
  }
});
await check("resourceGroups.list", async () =>
  (await collect(resources.resourceGroups.list())).some((g) => g.name === rg));
await check("virtualNetworks.list", async () =>
  expectEq((await collect(network.virtualNetworks.list(rg))).map((v) => v.name), ["myVNet"], "vnets"));
await check("subnets.list", async () =>
  expectEq((await collect(network.subnets.list(rg, "myVNet"))).map((s) => s.name).sort(),
    ["mySubnet", "policySubnet"], "subnets"));
await check("privateEndpoints.list", async () =>
  expectEq((await collect(network.privateEndpoints.list(rg))).map((p) => p.name),
    ["myPrivateEndpoint"], "endpoints"));
await check("privateDnsZoneGroups.list", async () =>
  expectEq((await collect(network.privateDnsZoneGroups.list("myPrivateEndpoint", rg)))
    .map((g) => g.name), ["myZoneGroup"], "zone groups"));
await check("registries.listByResourceGroup", async () =>
  expectEq((await collect(acr.registries.listByResourceGroup(rg))).map((r) => r.name),
    [registryName], "registries"));
await check("registries.list (subscription)", async () =>
  (await collect(acr.registries.list())).some((r) => r.name === registryName));
await check("replications.list", async () =>
  expectEq((await collect(acr.replications.list(rg, registryName))).map((r) => r.name).sort(),
    [replicaRegion, location].sort(), "replications"));
await check("privateEndpointConnections.list", async () =>
  expectEq((await collect(acr.privateEndpointConnections.list(rg, registryName))).length, 1,
    "connections"));
await check("privateZones.listByResourceGroup", async () =>
  expectEq((await collect(dns.privateZones.listByResourceGroup(rg))).map((z) => z.name),
    [zoneName], "zones"));
await check("virtualNetworkLinks.list", async () =>
  expectEq((await collect(dns.virtualNetworkLinks.list(rg, zoneName))).map((l) => l.name),
    ["myDNSLink"], "links"));
await check("virtualMachines.list", async () =>
  expectEq((await collect(compute.virtualMachines.list(rg))).map((v) => v.name), ["vm1"], "vms"));
await check("roleAssignments.listForScope", async () =>
  (await collect(authz.roleAssignments.listForScope(registry.id)))
    .some((a) => a.name === assignmentName));

// ---- refusals: the SDK's RestError with Azure's status and code ----
await refused("a private endpoint into a subnet with network policies Enabled",
  () => network.privateEndpoints.beginCreateOrUpdateAndWait(rg, "policyEndpoint", {
    location,
    subnet: { id: `${vnet.id}/subnets/policySubnet` },
    privateLinkServiceConnections: [{
      name: "c", privateLinkServiceId: registry.id, groupIds: ["registry"],
    }],
  }), 400, "PrivateEndpointCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled");
await check("registries.beginCreateAndWait (Basic)", async () => {
  const r = await acr.registries.beginCreateAndWait(rg, "sdkbasic", { location, sku: { name: "Basic" } });
  expectEq(r.sku?.name, "Basic", "sku");
});
await refused("a replication of a Basic registry",
  () => acr.replications.beginCreateAndWait(rg, "sdkbasic", replicaRegion, { location: replicaRegion }),
  400, "GeoReplicationNotSupported");
await refused("virtualNetworks.get of a missing network",
  () => network.virtualNetworks.get(rg, "noSuchVNet"), 404, "ResourceNotFound");

// ---- delete, in reverse order ----
await check("roleAssignments.delete", async () => {
  await authz.roleAssignments.delete(registry.id, assignmentName);
});
await check("registries.beginDeleteAndWait (Basic)", () =>
  acr.registries.beginDeleteAndWait(rg, "sdkbasic"));
await check("replications.beginDeleteAndWait", () =>
  acr.replications.beginDeleteAndWait(rg, registryName, replicaRegion));
await check("virtualMachines.beginDeleteAndWait", () =>
  compute.virtualMachines.beginDeleteAndWait(rg, "vm1"));
await check("networkInterfaces.beginDeleteAndWait", () =>
  network.networkInterfaces.beginDeleteAndWait(rg, "vm1Nic"));
await check("privateDnsZoneGroups.beginDeleteAndWait", () =>
  network.privateDnsZoneGroups.beginDeleteAndWait(rg, "myPrivateEndpoint", "myZoneGroup"));
await check("virtualNetworkLinks.beginDeleteAndWait", () =>
  dns.virtualNetworkLinks.beginDeleteAndWait(rg, zoneName, "myDNSLink"));
await check("privateZones.beginDeleteAndWait", () =>
  dns.privateZones.beginDeleteAndWait(rg, zoneName));
await check("privateEndpoints.beginDeleteAndWait", () =>
  network.privateEndpoints.beginDeleteAndWait(rg, "myPrivateEndpoint"));
await check("registries.beginDeleteAndWait (Premium)", () =>
  acr.registries.beginDeleteAndWait(rg, registryName));
await check("subnets.beginDeleteAndWait", () =>
  network.subnets.beginDeleteAndWait(rg, "myVNet", "policySubnet"));
await check("virtualNetworks.beginDeleteAndWait", () =>
  network.virtualNetworks.beginDeleteAndWait(rg, "myVNet"));
await refused("privateEndpoints.get after the delete",
  () => network.privateEndpoints.get(rg, "myPrivateEndpoint"), 404, "ResourceNotFound");
await check("resources.listByResourceGroup is empty", async () =>
  expectEq((await collect(resources.resources.listByResourceGroup(rg))).map((r) => r.name), [],
    "left over"));
await check("resourceGroups.beginDeleteAndWait", () => resources.resourceGroups.beginDeleteAndWait(rg));
await check("resourceGroups.checkExistence after the delete", async () =>
  expectEq((await resources.resourceGroups.checkExistence(rg)).body, false, "exists"));

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
