#!/usr/bin/env bash
# Debian's azure-cli (2.45), unmodified, against a real coved (issue 15): the cloud registered
# from coved's metadata document, a service-principal sign-in through MSAL against coved's
# ADFS-style authority, then the registry commands of the seed that this az can run. Every
# answer is checked with jq. Exit 77 (skipped) when az or jq is not installed.
#
# What the client needs besides coved: its CA (REQUESTS_CA_BUNDLE for az's requests and MSAL;
# SSL_CERT_FILE for urllib, which az uses to read ARM_CLOUD_METADATA_URL) and a config dir of
# its own (AZURE_CONFIG_DIR).
set -uo pipefail
COVED=${COVED:?set COVED to the coved binary}
command -v az >/dev/null && command -v jq >/dev/null || { echo "az or jq missing: skipped"; exit 77; }
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/cove-az-cli.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# ---- coved: the control plane only, HTTPS with its own CA on a free loopback port ----
cli_start_coved "$work" --no-fabric
pid=$CLI_COVED_PID
arm=https://127.0.0.1:$CLI_ARM_PORT
ca=$work/data/tls/ca.crt
boot=$work/data/bootstrap.json

export REQUESTS_CA_BUNDLE=$ca
az_setup "$work"

# ---- discovery: served without credentials ----
meta=$(curl -sS --cacert "$ca" "$arm/metadata/endpoints?api-version=2015-01-01")
check "the metadata document names the ADFS authority and ARM's audience" \
  eq "$(echo "$meta" | jq -r '[.authentication.loginEndpoint, .authentication.audiences[0]] | @tsv')" \
  "$(printf '%s\t%s' "$arm/adfs" https://management.core.windows.net/)"
oidc=$(curl -sS --cacert "$ca" "$arm/adfs/.well-known/openid-configuration")
check "the ADFS authority's OpenID configuration names the token endpoint" \
  eq "$(echo "$oidc" | jq -r .token_endpoint)" "$arm/$(jq -r .tenantId "$boot")/oauth2/v2.0/token"

# ---- az cloud register from the metadata document ----
run register cloud register -n cove --endpoint-resource-manager "$arm/" \
  --suffix-acr-login-server-endpoint .azurecr.io
run cloud cloud show -n cove
check "az cloud register read the login endpoint and audience from coved" \
  eq "$(out cloud | jq -r '[.endpoints.activeDirectory, .endpoints.activeDirectoryResourceId,
                              .endpoints.resourceManager, .suffixes.acrLoginServerEndpoint] | @tsv')" \
  "$(printf '%s\t%s\t%s\t%s' "$arm/adfs" https://management.core.windows.net/ "$arm/" .azurecr.io)"
# az's other way in: the whole cloud (suffixes included) from ARM_CLOUD_METADATA_URL.
mkdir -p "$work/az-metadata"
check "ARM_CLOUD_METADATA_URL gives az the cloud with its registry suffix" \
  eq "$(AZURE_CONFIG_DIR=$work/az-metadata SSL_CERT_FILE=$ca \
        ARM_CLOUD_METADATA_URL="$arm/metadata/endpoints?api-version=2019-05-01" \
        az cloud show -n cove 2>"$work/metadata.err" |
        jq -r '[.endpoints.activeDirectory, .suffixes.acrLoginServerEndpoint] | @tsv')" \
  "$(printf '%s\t%s' "$arm/adfs" .azurecr.io)"

# ---- sign in as the bootstrap service principal ----
run set cloud set -n cove
run login login --service-principal -u "$(jq -r .clientId "$boot")" \
  -p "$(jq -r .clientSecret "$boot")" --tenant "$(jq -r .tenantId "$boot")"
check "az login --service-principal found cove's subscription" \
  eq "$(out login | jq -r '.[0] | [.cloudName, .tenantId, .user.type] | @tsv')" \
  "$(printf 'cove\t%s\tservicePrincipal' "$(jq -r .tenantId "$boot")")"
sub=$(out login | jq -r '.[0].id')

# ---- the seed's registry commands ----
run group group create -n myResourceGroup -l westus
check "az group create" eq "$(out group | jq -r .properties.provisioningState)" Succeeded
run acr acr create -n myregistry -g myResourceGroup --sku Premium -l westus
check "az acr create --sku Premium" \
  eq "$(out acr | jq -r '[.sku.name, .loginServer] | @tsv')" "$(printf 'Premium\tmyregistry.azurecr.io')"
run show acr show -n myregistry
check "az acr show (finds the group through the resource listing)" \
  eq "$(out show | jq -r '[.name, .resourceGroup] | @tsv')" "$(printf 'myregistry\tmyResourceGroup')"
run replication acr replication create -r myregistry -l eastus
check "az acr replication create -l eastus" \
  eq "$(out replication | jq -r '[.name, .location, .provisioningState] | @tsv')" \
  "$(printf 'eastus\teastus\tSucceeded')"
run update acr update -n myregistry --data-endpoint-enabled true
check "az acr update --data-endpoint-enabled" eq "$(out update | jq -r .dataEndpointEnabled)" true
run endpoints acr show-endpoints -n myregistry
check "az acr show-endpoints lists a data endpoint per region" \
  eq "$(out endpoints | jq -r '[.loginServer] + [.dataEndpoints[] | .region + "=" + .endpoint] | sort | join(" ")')" \
  "eastus=myregistry.eastus.data.azurecr.io myregistry.azurecr.io westus=myregistry.westus.data.azurecr.io"
run list acr list
check "az acr list" eq "$(out list | jq -r '[.[].name] | join(" ")')" myregistry
run resources resource list --resource-type Microsoft.ContainerRegistry/registries
check "az resource list --resource-type Microsoft.ContainerRegistry/registries" \
  eq "$(out resources | jq -r '[.[] | .name + ":" + .sku.name + ":" + .resourceGroup] | join(" ")')" \
  "myregistry:Premium:myResourceGroup"
run group_resources resource list -g myResourceGroup
check "az resource list -g lists the replication as ARM names a child" \
  eq "$(out group_resources | jq -r '[.[] | .name + "=" + .type] | sort | join(" ")')" \
  "myregistry/eastus=Microsoft.ContainerRegistry/registries/replications myregistry=Microsoft.ContainerRegistry/registries"
# A filter coved cannot answer exactly is ARM's error, which az prints as it would for Azure.
az rest --method get \
  --url "$arm/subscriptions/$sub/resources?api-version=2021-04-01&\$filter=substringof('my',name)" \
  >"$work/rest.json" 2>"$work/rest.err"
check "an unsupported \$filter is ARM's InvalidFilterInQueryString" \
  grep -q "InvalidFilterInQueryString" "$work/rest.err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
