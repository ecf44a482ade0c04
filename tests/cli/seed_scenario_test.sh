#!/usr/bin/env bash
# The seed's architecture typed as a user types it (az's commands with `cove` in place of `az`),
# against a real coved, ending in `cove network private-endpoint show` with the expected member
# names and addresses. Then `cove up` on a fresh data dir reproduces the seed's first diagram
# (static 10.0.0.5 / 10.0.0.6) and a second `cove up` changes nothing.
set -uo pipefail
COVED=${COVED:?set COVED to the coved binary}
COVE=${COVE:?set COVE to the cove binary}
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/cove-cli-seed.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_coved DIR: starts coved on a fresh data dir, sets COVE_ENDPOINT from its stderr.
start_coved() {
  local dir=$1
  # The control plane only: no namespaces (cli_up_test covers the fabric, with its own prefix).
  local extra=()
  "$COVED" --help 2>&1 | grep -q -- --no-fabric && extra=(--no-fabric)
  cli_start_coved "$dir" "${extra[@]}"
  pids+=("$CLI_COVED_PID")
  # HTTPS with coved's CA, as the bootstrap principal: both from its data dir.
  export COVE_ENDPOINT=https://127.0.0.1:$CLI_ARM_PORT COVE_DATA_DIR=$dir/data
  export XDG_CONFIG_HOME=$dir/config
}

# ---- the seed, one command after another ----
start_coved "$work/seed"
cove() { "$COVE" "$@"; }
set -e
cove group create --name myResourceGroup --location westus -o none
cove network vnet create --name myVNet --resource-group myResourceGroup \
  --address-prefixes 10.0.0.0/16 --subnet-name mySubnet --subnet-prefixes 10.0.0.0/24 -o none
cove network vnet subnet update --name mySubnet --vnet-name myVNet \
  --resource-group myResourceGroup --disable-private-endpoint-network-policies -o none \
  2>"$work/warn"
cove acr create --name myregistry --resource-group myResourceGroup --sku Premium \
  --location westus -o none
cove network private-endpoint create --name myPrivateEndpoint --resource-group myResourceGroup \
  --vnet-name myVNet --subnet mySubnet \
  --private-connection-resource-id "$(cove acr show -n myregistry --query id -o tsv)" \
  --group-id registry --connection-name myConnection -o none
cove network private-dns zone create --resource-group myResourceGroup \
  --name privatelink.azurecr.io -o none
cove network private-dns link vnet create --resource-group myResourceGroup \
  --zone-name privatelink.azurecr.io --name MyDNSLink --virtual-network myVNet \
  --registration-enabled false -o none
cove network private-endpoint dns-zone-group create --resource-group myResourceGroup \
  --endpoint-name myPrivateEndpoint --name myZoneGroup \
  --private-dns-zone privatelink.azurecr.io --zone-name privatelink.azurecr.io -o none
cove acr update --name myregistry --public-network-enabled false -o none
cove acr replication create --registry myregistry --location eastus -o none
set +e

check "subnet update printed az's deprecation warning" \
  grep -q "WARNING: Argument '--disable-private-endpoint-network-policies' has been deprecated" "$work/warn"
check "subnet policies are Disabled" eq "$(cove network vnet subnet show -g myResourceGroup \
  --vnet-name myVNet -n mySubnet --query privateEndpointNetworkPolicies -o tsv)" Disabled

pe=$(cove network private-endpoint show --name myPrivateEndpoint --resource-group myResourceGroup \
  --query "customDnsConfigs[].[fqdn, ipAddresses[0]]" -o tsv)
echo "$pe" | sed 's/^/  /'
check "private endpoint: registry, westus and eastus data endpoints, in allocation order" \
  eq "$pe" "$(printf 'myregistry.azurecr.io\t10.0.0.4\nmyregistry.westus.data.azurecr.io\t10.0.0.5\nmyregistry.eastus.data.azurecr.io\t10.0.0.6')"

nic=$(cove network private-endpoint show -n myPrivateEndpoint -g myResourceGroup \
  --query "networkInterfaces[0].id" -o tsv)
members=$(cove network nic show --ids "$nic" \
  --query "ipConfigurations[].[privateLinkConnectionProperties.requiredMemberName, privateIPAddress]" -o tsv | sort)
check "its NIC has the members registry, registry_data_westus, registry_data_eastus" \
  eq "$members" "$(printf 'registry\t10.0.0.4\nregistry_data_eastus\t10.0.0.6\nregistry_data_westus\t10.0.0.5')"
check "the connection on the registry is Approved" eq "$(cove acr private-endpoint-connection list \
  -r myregistry --query "[0].privateLinkServiceConnectionState.status" -o tsv)" Approved
check "the zone group wrote the A records" eq "$(cove network private-dns record-set a list \
  -g myResourceGroup -z privatelink.azurecr.io --query "[].[name, aRecords[0].ipv4Address]" -o tsv | sort)" \
  "$(printf 'myregistry\t10.0.0.4\nmyregistry.eastus.data\t10.0.0.6\nmyregistry.westus.data\t10.0.0.5')"
check "public network access is Disabled" \
  eq "$(cove acr show -n myregistry --query publicNetworkAccess -o tsv)" Disabled
out=$(cove network private-endpoint show -n nope -g myResourceGroup 2>&1); rc=$?
check "show of a missing endpoint exits 3 with ARM's error" \
  eq "$rc:$(echo "$out" | head -1 | cut -d' ' -f1-2)" "3:ERROR: (ResourceNotFound)"

# ---- cove up on a fresh data dir ----
start_coved "$work/up"
up=$(cove up --no-vm -o tsv --query "[].[action, type]")
echo "$up" | sed 's/^/  /'
check "cove up created the seed's first diagram" eq "$(echo "$up" | cut -f1 | sort -u)" created
pe=$(cove network private-endpoint show -n myPrivateEndpoint -g myResourceGroup \
  --query "customDnsConfigs[].[fqdn, ipAddresses[0]]" -o tsv)
check "up: registry at 10.0.0.5, data endpoint at 10.0.0.6" \
  eq "$pe" "$(printf 'myregistry.azurecr.io\t10.0.0.5\nmyregistry.westus.data.azurecr.io\t10.0.0.6')"
check "up: the registry is Premium, data endpoint on, public access off" \
  eq "$(cove acr show -n myregistry --query "[sku.name, dataEndpointEnabled, publicNetworkAccess]" -o tsv)" \
  "$(printf 'Premium\ntrue\nDisabled')"
check "up: the zone is linked to myVNet" eq "$(cove network private-dns link vnet list \
  -g myResourceGroup -z privatelink.azurecr.io --query "[0].virtualNetwork.id" -o tsv | sed 's|.*/||')" myVNet
again=$(cove up --no-vm -o tsv --query "[].action" | sort -u)
check "a second cove up changes nothing" eq "$again" unchanged
out=$(cove acr replication create -r myregistry -l eastus 2>&1); rc=$?
check "replicating a registry whose endpoint has static IPs fails (missing memberNames)" \
  eq "$rc:$(echo "$out" | grep -ci membername | tr -d ' ' | sed 's/^[1-9][0-9]*$/y/')" "1:y"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
