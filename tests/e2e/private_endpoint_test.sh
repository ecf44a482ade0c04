#!/usr/bin/env bash
# Private endpoints for real (issue 4), end to end as root: coved in full mode with its own
# fabric prefix; the seed's deployment made through the ARM REST API with curl; clients run
# inside the VNet namespaces and the public namespace (resolv.conf pointing at the namespace's
# DNS address is bound over /etc in a private mount namespace).
#
# Shows: the linked VNet resolves myregistry.azurecr.io through the CNAME to A 10.0.0.5 (TTL 10)
# and the data host to 10.0.0.6; skopeo pushes and pulls through 10.0.0.5 with the layer bytes
# arriving over 10.0.0.6 (GET /cove/counters); an unlinked VNet with the same 10.0.0.0/16 and the
# public network resolve to the public address and are DENIED (public access disabled); a second
# VNet with its own Pending (manual) endpoint at the same 10.0.0.5 is refused until approved;
# deleting the private endpoint removes its records and its addresses.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo dig unshare
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only (private endpoints are cove's)"
T=$E2E_TMP
e2e_fabric_init e
PREFIX=$E2E_FABRIC_PREFIX

e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
CA_DIR="$T/ca"  # only ca.crt: skopeo takes a *.key in a cert dir for a client key
mkdir -p "$CA_DIR" && cp "$T/data/tls/ca.crt" "$CA_DIR/ca.crt"

SUB=/subscriptions/c0ffee00-0000-4000-8000-000000000001
RG=$SUB/resourceGroups/rg
NET=$RG/providers/Microsoft.Network
ACR=$RG/providers/Microsoft.ContainerRegistry
arm() { e2e_arm "$@"; }
vnet_body() {  # PREFIX
  echo '{"location":"westus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},
    "subnets":[{"name":"mysubnet","properties":{"addressPrefix":"10.0.0.0/24",
    "privateEndpointNetworkPolicies":"Disabled"}}]}}'
}
pe_body() {  # VNET CONNECTIONS-KEY
  echo "{\"location\":\"westus\",\"properties\":{\"subnet\":{\"id\":\"$NET/virtualNetworks/$1/subnets/mysubnet\"},
    \"ipConfigurations\":[
      {\"name\":\"r\",\"properties\":{\"groupId\":\"registry\",\"memberName\":\"registry\",\"privateIPAddress\":\"10.0.0.5\"}},
      {\"name\":\"d\",\"properties\":{\"groupId\":\"registry\",\"memberName\":\"registry_data_westus\",\"privateIPAddress\":\"10.0.0.6\"}}],
    \"$2\":[{\"name\":\"$1-conn\",\"properties\":{\"privateLinkServiceId\":\"$ACR/registries/myregistry\",
      \"groupIds\":[\"registry\"],\"requestMessage\":\"please\"}}]}}"
}
ZONE=$NET/privateDnsZones/privatelink.azurecr.io

e2e_check "resource group" arm PUT "$RG" '{"location":"westus"}'
e2e_check "registry (Premium, data endpoint, public access disabled, admin user)" arm PUT "$ACR/registries/myregistry" \
  '{"location":"westus","sku":{"name":"Premium"},"properties":{"dataEndpointEnabled":true,"publicNetworkAccess":"Disabled","adminUserEnabled":true}}'
# The control plane's registries require authentication (as ACR's): every skopeo below signs in
# as the admin user through the containers auth file (REGISTRY_AUTH_FILE, inherited inside the
# namespaces). DENIED answers come from the network rules before authentication.
ADMIN_PW=$(arm POST "$ACR/registries/myregistry/listCredentials" | jq -r '.passwords[0].value')
e2e_check "admin credentials from listCredentials" test "${ADMIN_PW:-null}" != null
export REGISTRY_AUTH_FILE="$T/auth.json"
e2e_auth_file "$REGISTRY_AUTH_FILE" myregistry.azurecr.io myregistry "$ADMIN_PW"
for v in myvnet othervnet pendvnet; do
  e2e_check "VNet $v 10.0.0.0/16" arm PUT "$NET/virtualNetworks/$v" "$(vnet_body)"
done
e2e_check "private DNS zone" arm PUT "$ZONE" '{"location":"global"}'
e2e_check "zone linked to myvnet" arm PUT "$ZONE/virtualNetworkLinks/mylink" \
  "{\"location\":\"global\",\"properties\":{\"virtualNetwork\":{\"id\":\"$NET/virtualNetworks/myvnet\"},\"registrationEnabled\":false}}"
e2e_check "private endpoint in myvnet (10.0.0.5, 10.0.0.6)" arm PUT "$NET/privateEndpoints/mype" \
  "$(pe_body myvnet privateLinkServiceConnections)"
e2e_check "zone group" arm PUT "$NET/privateEndpoints/mype/privateDnsZoneGroups/default" \
  "{\"properties\":{\"privateDnsZoneConfigs\":[{\"name\":\"z\",\"properties\":{\"privateDnsZoneId\":\"$ZONE\"}}]}}"

# coved logs "dns: ADDR:53 in NS answers view 'VNET-ID'" for every network namespace.
ns_for() {  # VIEW-ID-SUFFIX ("" for the public view)
  sed -n "s/.*dns: .* in \([^ ]*\) answers view '\(.*\)'.*/\1 \2/p" "$T/coved.log" |
    awk -v want="$1" '(want == "" && NF == 1) || (want != "" && tolower($2) ~ tolower(want) "$") {print $1}' | tail -1
}
PUB_NS=$(ns_for "")
declare -A VNS
for v in myvnet othervnet pendvnet; do VNS[$v]=$(ns_for "/virtualnetworks/$v"); done
e2e_log "namespaces: public=$PUB_NS myvnet=${VNS[myvnet]} othervnet=${VNS[othervnet]} pendvnet=${VNS[pendvnet]}"
e2e_check "public namespace exists" test -n "$PUB_NS"
e2e_check "myvnet namespace exists" ip netns exec "${VNS[myvnet]}" true
e2e_check "10.0.0.5 and 10.0.0.6 are local in myvnet" \
  sh -c "ip -n ${VNS[myvnet]} -4 addr | grep -q 10.0.0.5/32 && ip -n ${VNS[myvnet]} -4 addr | grep -q 10.0.0.6/32"

# in NS DNS CMD...: runs CMD in namespace NS with resolv.conf → DNS.
in_ns() {
  local ns=$1 dns=$2
  shift 2
  echo "nameserver $dns" >"$T/resolv.$ns"
  timeout -k 5 120 ip netns exec "$ns" unshare -m sh -c \
    'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.$ns" "$@"
}
AZ=168.63.129.16
H=myregistry.azurecr.io
D=myregistry.westus.data.azurecr.io

# 1. the linked VNet: the seed's chain.
in_ns "${VNS[myvnet]}" $AZ dig +noall +answer $H >"$T/dig.linked" 2>&1
e2e_log "linked dig: $(tr '\n' '|' <"$T/dig.linked")"
e2e_check "linked: CNAME to privatelink" grep -Eq "^$H\.\s+[0-9]+\s+IN\s+CNAME\s+myregistry\.privatelink\.azurecr\.io\." "$T/dig.linked"
e2e_check "linked: A 10.0.0.5 TTL 10" grep -Eq "^myregistry\.privatelink\.azurecr\.io\.\s+10\s+IN\s+A\s+10\.0\.0\.5$" "$T/dig.linked"
e2e_check_eq "linked: data host → 10.0.0.6" 10.0.0.6 "$(in_ns "${VNS[myvnet]}" $AZ dig +short $D | tail -1)"
e2e_check_eq "linked over TCP too" 10.0.0.5 "$(in_ns "${VNS[myvnet]}" $AZ dig +tcp +short $H | tail -1)"

SRC="$T/src"
e2e_make_image "$SRC" v1 --layers 2 >/dev/null
e2e_check "linked: skopeo push through 10.0.0.5" in_ns "${VNS[myvnet]}" $AZ \
  skopeo --command-timeout 60s copy --dest-cert-dir "$CA_DIR" "oci:$SRC:v1" "docker://$H/app:v1"
e2e_check "linked: skopeo pull through the private endpoint" in_ns "${VNS[myvnet]}" $AZ \
  skopeo --command-timeout 60s copy --src-cert-dir "$CA_DIR" "docker://$H/app:v1" "oci:$T/pulled:v1"
e2e_counters >"$T/counters.json"
e2e_log "counters: $(cat "$T/counters.json")"
data_bytes=$(jq "$(e2e_member_jq 10.0.0.6 bytesOut)" "$T/counters.json")
layer_bytes=$(find "$SRC/blobs" -type f -size +1k -printf '%s\n' | sort -n | tail -1)
e2e_check "layer bytes left over 10.0.0.6 ($data_bytes >= $layer_bytes)" test "$data_bytes" -ge "$layer_bytes"
e2e_check "requests arrived over 10.0.0.5" test "$(jq "$(e2e_member_jq 10.0.0.5 requests)" "$T/counters.json")" -gt 0

# 2. an unlinked VNet with the same address space and the public network: public answers, DENIED.
PUBIP=$(in_ns "${VNS[othervnet]}" $AZ dig +short $H | tail -1)
e2e_check "unlinked: resolves to a public TEST-NET address ($PUBIP)" grep -q '^203\.0\.113\.' <<<"$PUBIP"
e2e_check_eq "public: same public address" "$PUBIP" "$(in_ns "$PUB_NS" 203.0.113.53 dig +short $H | tail -1)"
in_ns "${VNS[othervnet]}" $AZ skopeo --command-timeout 30s inspect --cert-dir "$CA_DIR" "docker://$H/app:v1" >"$T/unlinked.out" 2>&1
e2e_check "unlinked: pull refused with 403" grep -q "403 (Forbidden)" "$T/unlinked.out"
in_ns "${VNS[othervnet]}" $AZ curl -sS --cacert "$CA_DIR/ca.crt" "https://$H/v2/app/manifests/v1" >"$T/unlinked.curl" 2>&1
e2e_check "unlinked: the 403 says DENIED (Azure's firewall body)" grep -q '"code":"DENIED","message":"client with IP .198\.51\.100\.' "$T/unlinked.curl"
in_ns "$PUB_NS" 203.0.113.53 curl -sS --cacert "$CA_DIR/ca.crt" "https://$H/v2/" >"$T/public.out" 2>&1
e2e_check "public: Azure's firewall body" grep -q "is not allowed access. Refer https://aka.ms/acr/firewall to grant access." "$T/public.out"

# 2b. client VMs (NIC + VM through the ARM API, as `az vm create` does), public VM (cove extension).
vm_put() {  # NAME VNET
  arm PUT "$NET/networkInterfaces/${1}VMNic" "{\"location\":\"westus\",\"properties\":{\"ipConfigurations\":[{\"name\":\"ipconfig$1\",
    \"properties\":{\"subnet\":{\"id\":\"$NET/virtualNetworks/$2/subnets/mysubnet\"},\"privateIPAllocationMethod\":\"Dynamic\"}}]}}" >/dev/null &&
  arm PUT "$RG/providers/Microsoft.Compute/virtualMachines/$1" "{\"location\":\"westus\",\"properties\":{\"networkProfile\":
    {\"networkInterfaces\":[{\"id\":\"$NET/networkInterfaces/${1}VMNic\"}]}}}"
}
e2e_check "VM vm1 in myvnet" vm_put vm1 myvnet
e2e_check "VM vm2 in othervnet" vm_put vm2 othervnet
e2e_check "public VM vmpub" arm PUT "$RG/providers/Microsoft.Compute/virtualMachines/vmpub" \
  '{"location":"westus","properties":{"cove":{"network":"public"}}}'
e2e_check_eq "vm1 has 10.0.0.4" 10.0.0.4 \
  "$(arm GET "$RG/providers/Microsoft.Compute/virtualMachines/vm1" | jq -r .properties.cove.privateIpAddress)"
vm_ns() { sed -n "s|.*vm: .*/virtualMachines/$1 at .* in namespace \([^ ]*\).*|\1|p" "$T/coved.log" | tail -1; }
VM1=$(vm_ns vm1); VM2=$(vm_ns vm2); VMP=$(vm_ns vmpub)
e2e_log "vm namespaces: vm1=$VM1 vm2=$VM2 vmpub=$VMP"
in_vm() { local ns=$1; shift; timeout -k 5 120 ip netns exec "$ns" "$@"; }
in_vm "$VM1" dig +noall +answer $H >"$T/dig.vm1" 2>&1
e2e_log "vm1 dig: $(tr '\n' '|' <"$T/dig.vm1")"
e2e_check "vm1: CNAME then A 10.0.0.5 TTL 10" grep -Eq "^myregistry\.privatelink\.azurecr\.io\.\s+10\s+IN\s+A\s+10\.0\.0\.5$" "$T/dig.vm1"
before=$(e2e_counters | jq "$(e2e_member_jq 10.0.0.6 bytesOut)")
e2e_check "vm1: skopeo pull (trusts the cove CA through certs.d)" in_vm "$VM1" \
  skopeo --command-timeout 60s copy "docker://$H/app:v1" "oci:$T/vm1-pulled:v1"
after=$(e2e_counters | jq "$(e2e_member_jq 10.0.0.6 bytesOut)")
e2e_check "vm1: layer bytes over 10.0.0.6 ($((after - before)) >= $layer_bytes)" test $((after - before)) -ge "$layer_bytes"
e2e_check "vm1: curl with the system trust store (TLS verified; 401 asks for a token)" \
  test "$(in_vm "$VM1" curl -sS -o /dev/null -w '%{http_code}' "https://$H/v2/")" = 401
e2e_check_eq "vm2 (unlinked): public address" "$PUBIP" "$(in_vm "$VM2" dig +short $H | tail -1)"
in_vm "$VM2" skopeo --command-timeout 30s inspect "docker://$H/app:v1" >"$T/vm2.out" 2>&1
e2e_log "vm2: $(cat "$T/vm2.out")"
e2e_check "vm2: pull refused with 403" grep -q "403 (Forbidden)" "$T/vm2.out"
in_vm "$VM2" curl -sS "https://$H/v2/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000" >"$T/vm2.curl" 2>&1
e2e_check "vm2: DENIED body" grep -q '"code":"DENIED"' "$T/vm2.curl"
in_vm "$VMP" curl -sS "https://$H/v2/" >"$T/vmpub.out" 2>&1
e2e_log "vmpub: $(cat "$T/vmpub.out")"
e2e_check "vmpub: DENIED with its own IP" grep -q "client with IP '198.51.100." "$T/vmpub.out"

# 3. another VNet, same 10.0.0.5, manual connection: Pending fails, Approved works.
e2e_check "zone linked to pendvnet" arm PUT "$ZONE/virtualNetworkLinks/pendlink" \
  "{\"location\":\"global\",\"properties\":{\"virtualNetwork\":{\"id\":\"$NET/virtualNetworks/pendvnet\"},\"registrationEnabled\":false}}"
e2e_check "manual private endpoint in pendvnet" arm PUT "$NET/privateEndpoints/pendpe" \
  "$(pe_body pendvnet manualPrivateLinkServiceConnections)"
in_ns "${VNS[pendvnet]}" $AZ curl -sS --cacert "$CA_DIR/ca.crt" "https://$H/v2/" >"$T/pending.out" 2>&1
e2e_log "pending: $(cat "$T/pending.out")"
e2e_check "pending: DENIED names the connection state" grep -q "is Pending" "$T/pending.out"
CONN=$(arm GET "$ACR/registries/myregistry/privateEndpointConnections" | jq -r '.value[] | select(.properties.privateEndpoint.id | test("pendpe$")) | .name')
e2e_check "approve the connection" arm PUT "$ACR/registries/myregistry/privateEndpointConnections/$CONN" \
  '{"properties":{"privateLinkServiceConnectionState":{"status":"Approved","description":"ok"}}}'
e2e_check "approved: the pull works" in_ns "${VNS[pendvnet]}" $AZ \
  skopeo --command-timeout 60s inspect --cert-dir "$CA_DIR" "docker://$H/app:v1"
e2e_check_eq "myvnet still 10.0.0.5" 10.0.0.5 "$(in_ns "${VNS[myvnet]}" $AZ dig +short $H | tail -1)"

# 3b. coved restarts: the fabric stayed; the new process adopts it and serves again.
kill -TERM "$COVED_PID"
for _ in $(seq 1 100); do kill -0 "$COVED_PID" 2>/dev/null || break; sleep 0.1; done
e2e_check "coved stopped; the fabric stayed" ip netns exec "${VNS[pendvnet]}" true
restarted=0
e2e_start_coved_fabric "$T/coved2.log" || restarted=$?  # sets ARM and COVED_PID: not in a subshell
e2e_check_eq "coved restarted" 0 "$restarted"
e2e_check "after restart: approved endpoint in pendvnet serves" in_ns "${VNS[pendvnet]}" $AZ \
  skopeo --command-timeout 60s inspect --cert-dir "$CA_DIR" "docker://$H/app:v1"
e2e_check "after restart: vm1 pulls again" in_vm "$VM1" \
  skopeo --command-timeout 60s inspect "docker://$H/app:v1"

# 4. deleting the private endpoint removes its records and its addresses.
e2e_check "delete mype" arm DELETE "$NET/privateEndpoints/mype"
e2e_check_eq "myvnet: NXDOMAIN after delete" NXDOMAIN \
  "$(in_ns "${VNS[myvnet]}" $AZ dig $H | sed -n 's/.*status: \([A-Z]*\).*/\1/p')"
e2e_check_eq "pendvnet (same zone): NXDOMAIN too" NXDOMAIN \
  "$(in_ns "${VNS[pendvnet]}" $AZ dig $H | sed -n 's/.*status: \([A-Z]*\).*/\1/p')"
e2e_check "10.0.0.5 no longer local in myvnet" sh -c "! ip -n ${VNS[myvnet]} -4 addr | grep -q 10.0.0.5/32"

kill -0 "$COVED_PID" 2>/dev/null || e2e_fail "coved died: $(tail -5 "$T/coved2.log")"
e2e_finish
