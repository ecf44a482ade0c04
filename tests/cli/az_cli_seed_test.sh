#!/usr/bin/env bash
# Debian's azure-cli (2.45), unmodified, against a real coved (issue 15), past what
# az_cli_test.sh covers: the cloud registered from `cove cloud show`'s commands (Microsoft Graph
# included), then the rest of the seed's commands this az can run — acr credential / scope-map /
# token, acr login --expose-token with skopeo, network private-dns zone / link / record-set,
# identity, ad sp create-for-rbac, ad user create and az login -u/-p — each
# answer checked with jq. Commands Debian's az cannot run (its packaged SDKs do not match its own
# code: `az network private-dns link vnet create`, `az role ...`) are run too and their crash
# checked, so a fixed package shows up here; what they would do is then driven with `az rest`.
# `az acr login --expose-token` talks to the registry's login server (https://<name>.azurecr.io,
# port 443), so the test runs in a mount and network namespace of its own (unshare: root needed)
# whose /etc/hosts names the registry 127.0.0.1, with coved's registry listener on 127.0.0.1:443;
# skopeo then logs in and pushes with that token.
# Exit 77 (skipped) when az, jq or skopeo is not installed, or without root for the namespace.
set -uo pipefail
COVED=$(realpath "${COVED:?set COVED to the coved binary}")
COVE=$(realpath "${COVE:?set COVE to the cove binary}")
for tool in az jq skopeo unshare; do
  command -v $tool >/dev/null || { echo "$tool missing: skipped"; exit 77; }
done
if [ -z "${COVE_AZ_SEED_NS:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "not root (the test needs a network namespace): skipped"; exit 77; }
  exec unshare --mount --net env COVE_AZ_SEED_NS=1 bash "$0" "$@"
fi
ip link set lo up || exit 1
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/cove-az-seed.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "127.0.0.1 localhost myregistry.azurecr.io" >"$work/hosts"
mount --bind "$work/hosts" /etc/hosts || exit 1
cli_start_coved "$work" --no-fabric --listen 127.0.0.1:443
pid=$CLI_COVED_PID
arm=https://127.0.0.1:$CLI_ARM_PORT
boot=$work/data/bootstrap.json

az_setup "$work"
# crashes NAME CMD...: az CMD fails in Debian's package with a Python error naming WHY (stderr).
crashes() {
  local name=$1 why=$2; shift 2
  az "$@" >"$work/$name.json" 2>"$work/$name.err" && { echo "  az $* now works"; return 1; }
  grep -q "$why" "$work/$name.err" || { sed 's/^/    /' "$work/$name.err" | tail -5; return 1; }
}

# ---- the cloud, as `cove cloud show` says to register it ----
COVE_ENDPOINT=$arm COVE_DATA_DIR=$work/data "$COVE" cloud show >"$work/cloud.json" 2>"$work/cloud.err"
check "cove cloud show names the CA and the metadata URL" \
  eq "$(jq -r '[.caFile, .environment.REQUESTS_CA_BUNDLE, .environment.ARM_CLOUD_METADATA_URL] | @tsv' "$work/cloud.json")" \
  "$(printf '%s\t%s\t%s' "$work/data/tls/ca.crt" "$work/data/tls/ca.crt" "$arm/metadata/endpoints?api-version=2019-05-01")"
export REQUESTS_CA_BUNDLE
REQUESTS_CA_BUNDLE=$(jq -r .environment.REQUESTS_CA_BUNDLE "$work/cloud.json")
eval "$(jq -r .register "$work/cloud.json") -o none" 2>"$work/register.err"
check "cove cloud show's register command registers the cloud" eq "$?" 0
eval "$(jq -r .graph "$work/cloud.json") -o none" 2>"$work/graph.err"
run cloud cloud show -n cove
check "its graph command gives az Microsoft Graph on coved" \
  eq "$(out cloud | jq -r '[.endpoints.resourceManager, .endpoints.microsoftGraphResourceId, .suffixes.acrLoginServerEndpoint] | @tsv')" \
  "$(printf '%s\t%s\t%s' "$arm/" "$arm/" .azurecr.io)"
run set cloud set -n cove
run login login --service-principal -u "$(jq -r .clientId "$boot")" \
  -p "$(jq -r .clientSecret "$boot")" --tenant "$(jq -r .tenantId "$boot")"
sub=$(out login | jq -r '.[0].id')
check "az login --service-principal" eq "$(out login | jq -r '.[0].user.type')" servicePrincipal

run group group create -n myResourceGroup -l westus
run acr acr create -n myregistry -g myResourceGroup --sku Premium -l westus
check "the registry of the seed" eq "$(out acr | jq -r .sku.name)" Premium
acr=$(out acr | jq -r .id)

# ---- acr credential (the admin user) ----
run admin acr update -n myregistry --admin-enabled true
check "az acr update --admin-enabled true" eq "$(out admin | jq -r .adminUserEnabled)" true
run cred acr credential show -n myregistry
check "az acr credential show: the admin user and two passwords" \
  eq "$(out cred | jq -r '[.username, (.passwords | map(.name) | join(","))] | @tsv')" \
  "$(printf 'myregistry\tpassword,password2')"
run renew acr credential renew -n myregistry --password-name password2
check "az acr credential renew changes password2 only" \
  eq "$(jq -n --slurpfile a "$work/cred.json" --slurpfile b "$work/renew.json" \
        '[$a[0].passwords[0].value == $b[0].passwords[0].value, $a[0].passwords[1].value != $b[0].passwords[1].value] | @tsv' -r)" \
  "$(printf 'true\ttrue')"

# ---- scope maps and tokens ----
run smap acr scope-map create -n pull-hello -r myregistry --repository hello content/read metadata/read
check "az acr scope-map create" \
  eq "$(out smap | jq -r '[.name, .provisioningState, (.actions | join(","))] | @tsv')" \
  "$(printf 'pull-hello\tSucceeded\trepositories/hello/content/read,repositories/hello/metadata/read')"
run smap_show acr scope-map show -n pull-hello -r myregistry
check "az acr scope-map show" eq "$(out smap_show | jq -r .id)" "$acr/scopeMaps/pull-hello"
run smap_list acr scope-map list -r myregistry
check "az acr scope-map list: the system maps and ours" \
  eq "$(out smap_list | jq -r '[.[].name] | sort | join(" ")')" \
  "_repositories_admin _repositories_pull _repositories_push pull-hello"
run token acr token create -n hello-reader -r myregistry --scope-map pull-hello
check "az acr token create: two passwords shown once" \
  eq "$(out token | jq -r '[.credentials.username, (.credentials.passwords | map(.value | length > 0) | join(","))] | @tsv')" \
  "$(printf 'hello-reader\ttrue,true')"
run tokens acr token list -r myregistry
check "az acr token list: no password values" \
  eq "$(out tokens | jq -r '[.[] | .name + ":" + .status + ":" + ([.credentials.passwords[].value] | map(tostring) | join(","))] | join(" ")')" \
  "hello-reader:enabled:null,null"
run gen acr token credential generate -n hello-reader -r myregistry --password1
check "az acr token credential generate --password1" \
  eq "$(out gen | jq -r '[.username, (.passwords | map(.name) | join(",")), (.passwords[0].value | length)] | @tsv')" \
  "$(printf 'hello-reader\tpassword1\t32')"

# ---- az acr login --expose-token, then skopeo with that token ----
run acrtoken acr login -n myregistry --expose-token
check "az acr login --expose-token: a token for the login server" \
  eq "$(out acrtoken | jq -r '[.loginServer, (.accessToken | split(".") | length)] | @tsv')" \
  "$(printf 'myregistry.azurecr.io\t3')"
# A one-layer OCI image layout, made here.
img=$work/image
mkdir -p "$img/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' >"$img/oci-layout"
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$img/blobs/sha256/$d"; echo "$d"; }
size() { stat -c %s "$img/blobs/sha256/$1"; }
echo "hello from az" >"$work/hello.txt"
tar -C "$work" -cf "$work/layer.tar" hello.txt
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n "$work/layer.tar"
layer=$(blob "$work/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$diff_id" >"$work/config.json"
config=$(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$(size "$config")" "$layer" "$(size "$layer")" >"$work/manifest.json"
manifest=$(blob "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
  "$manifest" "$(size "$manifest")" >"$img/index.json"
mkdir -p "$work/certs"
cp "$work/data/tls/ca.crt" "$work/certs/ca.crt"
skopeo login --authfile "$work/auth.json" --cert-dir "$work/certs" \
  -u 00000000-0000-0000-0000-000000000000 -p "$(out acrtoken | jq -r .accessToken)" \
  myregistry.azurecr.io >"$work/skopeo-login.out" 2>&1
# says FILE TEXT: FILE holds TEXT, else its end is printed.
says() { grep -q "$2" "$1" || { sed 's/^/    /' "$1" | tail -5; return 1; }; }
check "skopeo login with az's token" says "$work/skopeo-login.out" "Login Succeeded"
skopeo copy --authfile "$work/auth.json" --dest-cert-dir "$work/certs" \
  "oci:$img:v1" docker://myregistry.azurecr.io/hello:v1 >"$work/skopeo-copy.out" 2>&1
check "skopeo copy pushes with it" says "$work/skopeo-copy.out" "Writing manifest"
run repos acr repository list -n myregistry
check "az acr repository list shows the pushed repository" \
  eq "$(out repos | jq -r 'join(" ")')" hello

# ---- private DNS ----
zone=privatelink.azurecr.io
run zone network private-dns zone create -g myResourceGroup -n $zone
check "az network private-dns zone create" \
  eq "$(out zone | jq -r '[.name, .location, .provisioningState] | @tsv')" "$(printf '%s\tglobal\tSucceeded' $zone)"
run zone_show network private-dns zone show -g myResourceGroup -n $zone
check "az network private-dns zone show" eq "$(out zone_show | jq -r .numberOfRecordSets)" 1
run zones network private-dns zone list -g myResourceGroup
check "az network private-dns zone list" eq "$(out zones | jq -r '[.[].name] | join(" ")')" $zone
# The VNet through az rest: Debian's `az network vnet` cannot load its arguments.
run vnet rest --method put \
  --url "$arm/subscriptions/$sub/resourceGroups/myResourceGroup/providers/Microsoft.Network/virtualNetworks/myVNet?api-version=2022-07-01" \
  --body '{"location":"westus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"mySubnet","properties":{"addressPrefix":"10.0.0.0/24"}}]}}'
check "the VNet (az rest --method put)" eq "$(out vnet | jq -r .properties.provisioningState)" Succeeded
check "az network private-dns link vnet create crashes in Debian's package (no azure.mgmt.network.v2022_01_01)" \
  crashes link_cli "'NoneType' object is not callable" \
  network private-dns link vnet create -g myResourceGroup -z $zone -n myDNSLink -v myVNet -e false
run link rest --method put \
  --url "$arm/subscriptions/$sub/resourceGroups/myResourceGroup/providers/Microsoft.Network/privateDnsZones/$zone/virtualNetworkLinks/myDNSLink?api-version=2020-06-01" \
  --body "{\"location\":\"global\",\"properties\":{\"virtualNetwork\":{\"id\":\"$(out vnet | jq -r .id)\"},\"registrationEnabled\":false}}"
run links network private-dns link vnet list -g myResourceGroup -z $zone
check "az network private-dns link vnet list" \
  eq "$(out links | jq -r '[.[] | .name + ":" + (.registrationEnabled | tostring) + ":" + .virtualNetworkLinkState] | join(" ")')" \
  "myDNSLink:false:Completed"
run rec network private-dns record-set a add-record -g myResourceGroup -z $zone -n myregistry -a 10.0.0.5
check "az network private-dns record-set a add-record" \
  eq "$(out rec | jq -r '[.fqdn, (.aRecords | map(.ipv4Address) | join(","))] | @tsv')" \
  "$(printf 'myregistry.%s.\t10.0.0.5' $zone)"
run rec2 network private-dns record-set a add-record -g myResourceGroup -z $zone -n myregistry -a 10.0.0.6
run recs network private-dns record-set a list -g myResourceGroup -z $zone
check "az network private-dns record-set a list" \
  eq "$(out recs | jq -r '[.[] | .name + "=" + (.aRecords | map(.ipv4Address) | join(","))] | join(" ")')" \
  "myregistry=10.0.0.5,10.0.0.6"

# ---- managed identity ----
run id identity create -g myResourceGroup -n myIdentity
check "az identity create" eq "$(out id | jq -r '[.name, .type, (.principalId | length)] | @tsv')" \
  "$(printf 'myIdentity\tMicrosoft.ManagedIdentity/userAssignedIdentities\t36')"
run id_show identity show -g myResourceGroup -n myIdentity
check "az identity show" eq "$(out id_show | jq -r .clientId)" "$(out id | jq -r '.clientId // "none"')"
run ids identity list -g myResourceGroup
check "az identity list" eq "$(out ids | jq -r '[.[].name] | join(" ")')" myIdentity
principal=$(out id | jq -r .principalId)

# ---- role assignments: Debian's az reads a client attribute its packaged SDK no longer has ----
check "az role assignment create crashes in Debian's package (azure-mgmt-authorization: no .config)" \
  crashes role_cli "object has no attribute 'config'" \
  role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
  --role AcrPull --scope "$acr"
check "az role assignment list crashes in Debian's package too" \
  crashes role_list_cli "object has no attribute 'config'" role assignment list --scope "$acr"
ra=$acr/providers/Microsoft.Authorization/roleAssignments/0f5f3b5c-6a49-4c3e-9a8f-2d1c5e7a9b01
run ra rest --method put --url "$arm$ra?api-version=2022-04-01" --body \
  "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/$sub/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d\",\"principalId\":\"$principal\",\"principalType\":\"ServicePrincipal\"}}"
check "the role assignment (az rest --method put)" \
  eq "$(out ra | jq -r '.properties | .principalId + ":" + .principalType')" "$principal:ServicePrincipal"
run ra_list rest --method get --url "$arm$acr/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&\$filter=atScope()"
ours() { out "$1" | jq -r --arg p "$principal" '[.value[] | select(.properties.principalId == $p) | .name] | join(" ")'; }
check "role assignments at the registry (az rest)" eq "$(ours ra_list)" "$(out ra | jq -r '.name // "none"')"
run ra_del rest --method delete --url "$arm$ra?api-version=2022-04-01"
run ra_list2 rest --method get --url "$arm$acr/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&\$filter=atScope()"
check "the role assignment deleted (az rest --method delete)" eq "$(ours ra_list2)" ""

# ---- Microsoft Graph: az ad sp create-for-rbac ----
run sp ad sp create-for-rbac -n ci-pusher
check "az ad sp create-for-rbac -n" \
  eq "$(out sp | jq -r '[.displayName, .tenant, (.password | length > 0)] | @tsv')" \
  "$(printf 'ci-pusher\t%s\ttrue' "$(jq -r .tenantId "$boot")")"
run sp_again ad sp create-for-rbac -n ci-pusher
app_id=$(out sp | jq -r '.appId // "none"')
check "create-for-rbac again reuses the application (the \$filter on displayName)" \
  eq "$(out sp_again | jq -r .appId)" "$app_id"
run sps ad sp list --display-name ci-pusher
check "az ad sp list --display-name" eq "$(out sps | jq -r '[.[].appId] | join(" ")')" "$app_id"
run sp_show ad sp show --id "$app_id"
check "az ad sp show" eq "$(out sp_show | jq -r .displayName)" ci-pusher
# The new principal signs in (in a config dir of its own).
mkdir -p "$work/az-sp"
AZURE_CONFIG_DIR=$work/az-sp az cloud register -n cove --endpoint-resource-manager "$arm/" -o none 2>/dev/null
AZURE_CONFIG_DIR=$work/az-sp az cloud set -n cove 2>/dev/null
check "the new service principal signs in with its password" \
  eq "$(AZURE_CONFIG_DIR=$work/az-sp az login --service-principal -u "$(out sp | jq -r .appId)" \
        -p "$(out sp_again | jq -r .password)" --tenant "$(out sp | jq -r .tenant)" --allow-no-subscriptions 2>"$work/sp_login.err" |
        jq -r '.[0].user.type')" servicePrincipal

# ---- a user: az ad user create, then az login -u/-p (MSAL's password grant) ----
run user ad user create --display-name Alice --user-principal-name alice@contoso.com \
  --password 'Str0ng!pass1'
check "az ad user create" eq "$(out user | jq -r .userPrincipalName)" alice@contoso.com
run reader rest --method put \
  --url "$arm/subscriptions/$sub/resourceGroups/myResourceGroup/providers/Microsoft.Authorization/roleAssignments/0f5f3b5c-6a49-4c3e-9a8f-2d1c5e7a9b03?api-version=2022-04-01" \
  --body "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/$sub/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7\",\"principalId\":\"$(out user | jq -r .id)\"}}"
mkdir -p "$work/az-user"
AZURE_CONFIG_DIR=$work/az-user az cloud register -n cove --endpoint-resource-manager "$arm/" -o none 2>/dev/null
AZURE_CONFIG_DIR=$work/az-user az cloud set -n cove 2>/dev/null
check "az login -u/-p: the user and cove's subscription" \
  eq "$(AZURE_CONFIG_DIR=$work/az-user az login -u alice@contoso.com -p 'Str0ng!pass1' 2>"$work/user_login.err" |
        jq -r '.[0] | [.id, .user.name, .user.type] | @tsv')" \
  "$(printf '%s\talice@contoso.com\tuser' "$sub")"
check "the user reads with Reader on the group" \
  eq "$(AZURE_CONFIG_DIR=$work/az-user az acr list -g myResourceGroup 2>"$work/user_list.err" | jq -r '[.[].name] | join(" ")')" \
  myregistry
AZURE_CONFIG_DIR=$work/az-user az group create -n notMine -l westus >/dev/null 2>"$work/user_write.err"
check "and is refused a write, with ARM's AuthorizationFailed" grep -q AuthorizationFailed "$work/user_write.err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
