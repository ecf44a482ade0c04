#!/usr/bin/env bash
# NSGs on a private endpoint's subnet, end to end as root (issue 4): coved in full mode with its
# own fabric prefix applies a network security group to a subnet whose
# privateEndpointNetworkPolicies is NetworkSecurityGroupEnabled (nftables in the VNet's
# namespace). Two client VMs in that subnet, with static addresses: a Deny rule for vmdeny's
# address and an Allow rule for vmallow's, both on TCP 443.
#
# Shows: vmallow pushes and pulls through the private endpoint (10.0.0.5, layers over 10.0.0.6);
# vmdeny resolves the registry to 10.0.0.5 (DNS is not behind the NSG) but cannot open a TCP
# connection to 10.0.0.5:443 (nor to 10.0.0.6:443); deleting the Deny rule lets vmdeny pull;
# adding it back keeps it out again; turning the subnet's policy to Disabled stops applying the
# NSG (as Azure does: NSGs apply to private endpoints only with the policy on). Everything it
# makes is removed at the end, also on failure: coved stopped, every namespace and /etc/netns
# dir with the prefix deleted (COVE_E2E_PREFIX, default a random one).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo unshare nft
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only (private endpoints are cove's)"
T=$E2E_TMP
e2e_fabric_init g
PREFIX=$E2E_FABRIC_PREFIX

e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
e2e_log "coved pid $COVED_PID, arm $ARM, fabric prefix $PREFIX"

SUB=/subscriptions/c0ffee00-0000-4000-8000-000000000001
RG=$SUB/resourceGroups/rg
NET=$RG/providers/Microsoft.Network
ACR=$RG/providers/Microsoft.ContainerRegistry
ZONE=$NET/privateDnsZones/privatelink.azurecr.io
NSG=$NET/networkSecurityGroups/mynsg
arm() { e2e_arm "$@"; }
subnet_body() {  # POLICY
  echo "{\"properties\":{\"addressPrefix\":\"10.0.0.0/24\",\"privateEndpointNetworkPolicies\":\"$1\",
    \"networkSecurityGroup\":{\"id\":\"$NSG\"}}}"
}
rule_props() {  # ACCESS PRIORITY SOURCE
  echo "{\"priority\":$2,\"direction\":\"Inbound\",\"access\":\"$1\",\"protocol\":\"Tcp\",
    \"sourceAddressPrefix\":\"$3\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\",
    \"destinationPortRange\":\"443\"}"
}
vm_put() {  # NAME ADDRESS
  arm PUT "$NET/networkInterfaces/${1}VMNic" "{\"location\":\"westus\",\"properties\":{\"ipConfigurations\":[{\"name\":\"ipconfig$1\",
    \"properties\":{\"subnet\":{\"id\":\"$NET/virtualNetworks/myvnet/subnets/mysubnet\"},
    \"privateIPAllocationMethod\":\"Static\",\"privateIPAddress\":\"$2\"}}]}}" >/dev/null &&
  arm PUT "$RG/providers/Microsoft.Compute/virtualMachines/$1" "{\"location\":\"westus\",\"properties\":{\"networkProfile\":
    {\"networkInterfaces\":[{\"id\":\"$NET/networkInterfaces/${1}VMNic\"}]}}}" >/dev/null
}
DENY_IP=10.0.0.10
ALLOW_IP=10.0.0.11

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
e2e_check "NSG: Deny $DENY_IP, Allow $ALLOW_IP (TCP 443)" arm PUT "$NSG" \
  "{\"location\":\"westus\",\"properties\":{\"securityRules\":[
    {\"name\":\"deny-vmdeny\",\"properties\":$(rule_props Deny 100 "$DENY_IP/32")},
    {\"name\":\"allow-vmallow\",\"properties\":$(rule_props Allow 110 "$ALLOW_IP")}]}}"
e2e_check "VNet 10.0.0.0/16" arm PUT "$NET/virtualNetworks/myvnet" \
  '{"location":"westus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}}'
e2e_check "subnet: NetworkSecurityGroupEnabled, mynsg" arm PUT "$NET/virtualNetworks/myvnet/subnets/mysubnet" \
  "$(subnet_body NetworkSecurityGroupEnabled)"
e2e_check "private DNS zone" arm PUT "$ZONE" '{"location":"global"}'
e2e_check "zone linked to myvnet" arm PUT "$ZONE/virtualNetworkLinks/mylink" \
  "{\"location\":\"global\",\"properties\":{\"virtualNetwork\":{\"id\":\"$NET/virtualNetworks/myvnet\"},\"registrationEnabled\":false}}"
e2e_check "private endpoint (10.0.0.5, 10.0.0.6)" arm PUT "$NET/privateEndpoints/mype" \
  "{\"location\":\"westus\",\"properties\":{\"subnet\":{\"id\":\"$NET/virtualNetworks/myvnet/subnets/mysubnet\"},
    \"ipConfigurations\":[
      {\"name\":\"r\",\"properties\":{\"groupId\":\"registry\",\"memberName\":\"registry\",\"privateIPAddress\":\"10.0.0.5\"}},
      {\"name\":\"d\",\"properties\":{\"groupId\":\"registry\",\"memberName\":\"registry_data_westus\",\"privateIPAddress\":\"10.0.0.6\"}}],
    \"privateLinkServiceConnections\":[{\"name\":\"conn\",\"properties\":{\"privateLinkServiceId\":\"$ACR/registries/myregistry\",
      \"groupIds\":[\"registry\"]}}]}}"
e2e_check "zone group" arm PUT "$NET/privateEndpoints/mype/privateDnsZoneGroups/default" \
  "{\"properties\":{\"privateDnsZoneConfigs\":[{\"name\":\"z\",\"properties\":{\"privateDnsZoneId\":\"$ZONE\"}}]}}"
e2e_check "VM vmdeny at $DENY_IP" vm_put vmdeny "$DENY_IP"
e2e_check "VM vmallow at $ALLOW_IP" vm_put vmallow "$ALLOW_IP"

vm_ns() { sed -n "s|.*vm: .*/virtualMachines/$1 at .* in namespace \([^ ]*\).*|\1|p" "$T/coved.log" | tail -1; }
VNET_NS=$(sed -n "s/.*dns: .* in \([^ ]*\) answers view '.*\/virtualnetworks\/myvnet'.*/\1/Ip" "$T/coved.log" | tail -1)
DENY_NS=$(vm_ns vmdeny)
ALLOW_NS=$(vm_ns vmallow)
e2e_log "namespaces: vnet=$VNET_NS vmdeny=$DENY_NS vmallow=$ALLOW_NS"
e2e_check "the VM namespaces exist" sh -c "ip netns exec '$DENY_NS' true && ip netns exec '$ALLOW_NS' true"
e2e_check "the NSG is an nftables table in the VNet's namespace" sh -c \
  "ip netns exec '$VNET_NS' nft list table inet cove_nsg | grep -q '$DENY_IP'"

in_vm() { local ns=$1; shift; timeout -k 5 120 ip netns exec "$ns" "$@"; }
H=myregistry.azurecr.io
# connect_443 NS IP: exit 0 if a TCP connection to IP:443 opens within 3 s (no TLS, no HTTP).
connect_443() { in_vm "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/443"; }
no_connect_443() { ! connect_443 "$@"; }

# 1. The allowed VM pushes and pulls through the private endpoint.
SRC="$T/src"
e2e_make_image "$SRC" v1 --layers 2 >/dev/null
e2e_check_eq "vmallow resolves the registry to 10.0.0.5" 10.0.0.5 \
  "$(in_vm "$ALLOW_NS" getent hosts $H | awk '{print $1}')"
e2e_check "vmallow: skopeo push through 10.0.0.5" in_vm "$ALLOW_NS" \
  skopeo --command-timeout 60s copy "oci:$SRC:v1" "docker://$H/app:v1"
before=$(e2e_counters | jq "$(e2e_member_jq 10.0.0.6 bytesOut)")
e2e_check "vmallow: skopeo pull" in_vm "$ALLOW_NS" \
  skopeo --command-timeout 60s copy "docker://$H/app:v1" "oci:$T/allow-pulled:v1"
after=$(e2e_counters | jq "$(e2e_member_jq 10.0.0.6 bytesOut)")
e2e_check "vmallow: layer bytes over 10.0.0.6 ($((after - before)))" test $((after - before)) -gt 0

# 2. The denied VM: DNS works, TCP to the private endpoint does not.
e2e_check_eq "vmdeny resolves the registry to 10.0.0.5 (DNS is not behind the NSG)" 10.0.0.5 \
  "$(in_vm "$DENY_NS" getent hosts $H | awk '{print $1}')"
e2e_check "vmdeny: no TCP connection to 10.0.0.5:443" no_connect_443 "$DENY_NS" 10.0.0.5
e2e_check "vmdeny: no TCP connection to 10.0.0.6:443" no_connect_443 "$DENY_NS" 10.0.0.6
in_vm "$DENY_NS" skopeo --command-timeout 10s inspect "docker://$H/app:v1" >"$T/deny.out" 2>&1
deny_rc=$?
e2e_log "vmdeny skopeo ($deny_rc): $(tail -1 "$T/deny.out")"
e2e_check "vmdeny: skopeo pull fails" test "$deny_rc" -ne 0
e2e_check "vmallow still connects" connect_443 "$ALLOW_NS" 10.0.0.5

# 3. Deleting the Deny rule lets vmdeny in.
e2e_check "delete the Deny rule" arm DELETE "$NSG/securityRules/deny-vmdeny"
ok=1
for _ in $(seq 1 50); do connect_443 "$DENY_NS" 10.0.0.5 && { ok=0; break; }; sleep 0.1; done
e2e_check "vmdeny: TCP to 10.0.0.5:443 opens after the rule is gone" test "$ok" -eq 0
e2e_check "vmdeny: skopeo pull works now" in_vm "$DENY_NS" \
  skopeo --command-timeout 60s copy "docker://$H/app:v1" "oci:$T/deny-pulled:v1"
e2e_check "vmdeny got the same image" diff <(jq -S . "$SRC/index.json" | grep digest) \
  <(jq -S . "$T/deny-pulled/index.json" | grep digest)

# 4. The rule back (as a child resource): vmdeny is out again, vmallow is not.
e2e_check "put the Deny rule back" arm PUT "$NSG/securityRules/deny-vmdeny" "{\"properties\":$(rule_props Deny 100 "$DENY_IP")}"
ok=1
for _ in $(seq 1 50); do connect_443 "$DENY_NS" 10.0.0.5 || { ok=0; break; }; sleep 0.1; done
e2e_check "vmdeny: refused again" test "$ok" -eq 0
e2e_check "vmallow: still pulls" in_vm "$ALLOW_NS" skopeo --command-timeout 60s inspect "docker://$H/app:v1"

# 5. The subnet's policy off: Azure does not apply NSGs to private endpoints then.
e2e_check "subnet policy Disabled" arm PUT "$NET/virtualNetworks/myvnet/subnets/mysubnet" "$(subnet_body Disabled)"
ok=1
for _ in $(seq 1 50); do connect_443 "$DENY_NS" 10.0.0.5 && { ok=0; break; }; sleep 0.1; done
e2e_check "policy Disabled: vmdeny connects" test "$ok" -eq 0
e2e_check "policy Disabled: no cove_nsg table left" sh -c "! ip netns exec '$VNET_NS' nft list table inet cove_nsg >/dev/null 2>&1"

kill -0 "$COVED_PID" 2>/dev/null || e2e_fail "coved died: $(tail -5 "$T/coved.log")"
e2e_finish
