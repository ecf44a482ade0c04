#!/usr/bin/env bash
# The seed's on-premises picture over ExpressRoute private peering (issue 14), end to end as
# root: coved in full mode builds, through the ARM REST API, the VNet with the registry's private
# endpoint, a DNS Private Resolver inbound endpoint, an ExpressRoute gateway in GatewaySubnet
# (no public IP), a circuit with its AzurePrivatePeering (peerASN 65010, primary 172.16.0.0/30),
# an on-premises site with bgp.asn 65010 (BIND forwarding azurecr.io to the inbound endpoint) and
# one host, and an ExpressRoute connection between gateway and circuit.
#
# Shows: real BGP (FRR) between the site's router, the circuit's edge (MSEE, AS 12076) and the
# gateway (AS 65515) comes up (connectionStatus Connected); the site's router learns 10.0.0.0/16
# and the gateway 192.168.0.0/16 (proto bgp); the host resolves through BIND to 10.0.0.5 and
# pushes and pulls with skopeo over the private path, while a capture on the internet segment
# sees none of it; the peering set to Disabled withdraws the routes and the pull fails quickly;
# Enabled again, it all comes back; a site whose ASN is not the peering's never connects.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/onprem_lib.sh"

e2e_init skopeo dig tcpdump named unshare python3 vtysh
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only (on-premises sites are cove's)"
[[ -x /usr/lib/frr/bgpd ]] || e2e_skip "FRR (bgpd) not installed"
T=$E2E_TMP
e2e_fabric_init x
e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
CA_DIR="$T/ca"
mkdir -p "$CA_DIR" && cp "$T/data/tls/ca.crt" "$CA_DIR/ca.crt"

SITE=$RG/providers/Cove.OnPremises/sites/branch
CIRCUIT=$NET/expressRouteCircuits/circuit

onprem_azure_side

e2e_check "ExpressRoute gateway in GatewaySubnet (no public IP)" arm PUT "$NET/virtualNetworkGateways/ergw" \
  "{\"location\":\"westus\",\"properties\":{\"gatewayType\":\"ExpressRoute\",\"sku\":{\"name\":\"Standard\",\"tier\":\"Standard\"},
    \"ipConfigurations\":[{\"name\":\"ipconfig\",\"properties\":{\"subnet\":{\"id\":\"$NET/virtualNetworks/myvnet/subnets/GatewaySubnet\"}}}]}}"
e2e_check "circuit" arm PUT "$CIRCUIT" \
  '{"location":"westus","sku":{"name":"Standard_MeteredData","tier":"Standard","family":"MeteredData"},
    "properties":{"serviceProviderProperties":{"serviceProviderName":"Equinix","peeringLocation":"Silicon Valley","bandwidthInMbps":50}}}'
peering_body() {  # STATE
  echo "{\"properties\":{\"peeringType\":\"AzurePrivatePeering\",\"peerASN\":65010,\"vlanId\":100,
    \"primaryPeerAddressPrefix\":\"172.16.0.0/30\",\"secondaryPeerAddressPrefix\":\"172.16.0.4/30\",\"state\":\"$1\"}}"
}
e2e_check "AzurePrivatePeering (peerASN 65010, vlan 100, 172.16.0.0/30)" \
  arm PUT "$CIRCUIT/peerings/AzurePrivatePeering" "$(peering_body Enabled)"
site_body() {  # ASN
  echo "{\"location\":\"westus\",\"properties\":{\"addressPrefixes\":[\"192.168.0.0/16\"],\"bgp\":{\"asn\":$1},
    \"dnsServer\":{\"software\":\"bind\",\"forwarders\":[{\"domainName\":\"azurecr.io\",\"targetDnsServers\":[\"10.0.2.4\"]}]}}}"
}
e2e_check "on-premises site (AS 65010, BIND forwarding azurecr.io)" arm PUT "$SITE" "$(site_body 65010)"
SITEIP=$(arm GET "$SITE" | jq -r .properties.publicIpAddress)
e2e_check "site host" arm PUT "$SITE/machines/host1" '{"properties":{}}'
HOSTIP=$(arm GET "$SITE/machines/host1" | jq -r .properties.address)
e2e_log "site $SITEIP, host $HOSTIP"

# A capture on the internet segment (the public network's namespace), from before the peering.
CONNECTION=toCircuit
onprem_capture "net 192.168.0.0/16 or host $SITEIP or net 10.0.0.0/16"

e2e_check "ExpressRoute connection" arm PUT "$NET/connections/toCircuit" \
  "{\"location\":\"westus\",\"properties\":{\"connectionType\":\"ExpressRoute\",
    \"virtualNetworkGateway1\":{\"id\":\"$NET/virtualNetworkGateways/ergw\"},\"peer\":{\"id\":\"$CIRCUIT\"}}}"
e2e_check "connectionStatus Connected" wait_status Connected 90

HOST_NS=$(sed -n "s|.*vm: .*/machines/host1 at .* in namespace \([^ ]*\).*|\1|p" "$T/coved.log" | tail -1)
GW_NS=$(sed -n "s|.*vm: .*/virtualNetworkGateways/ergw at .* in namespace \([^ ]*\).*|\1|p" "$T/coved.log" | tail -1)
SITE_NS=$(sed -n "s|.*site dns: bind at .* in \([^ ]*\).*|\1|p" "$T/coved.log" | tail -1)
e2e_log "host $HOST_NS, gateway $GW_NS, site router $SITE_NS"
e2e_check "the host's namespace exists" ip netns exec "$HOST_NS" true
e2e_check "the gateway's namespace exists" ip netns exec "$GW_NS" true
e2e_check "the site router's namespace exists" ip netns exec "$SITE_NS" true
has_route() {  # NS PREFIX: the route is there, learned by BGP (waits a little)
  local i
  for i in $(seq 1 50); do
    ip -n "$1" route show "$2" | grep -q "proto bgp" && return 0
    sleep 0.2
  done
  ip -n "$1" route >&2
  return 1
}
no_route() {  # NS PREFIX
  local i
  for i in $(seq 1 100); do
    ip -n "$1" route show "$2" | grep -q . || return 0
    sleep 0.2
  done
  ip -n "$1" route >&2
  return 1
}
e2e_check "site router: 10.0.0.0/16 proto bgp" has_route "$SITE_NS" 10.0.0.0/16
e2e_check "gateway: 192.168.0.0/16 proto bgp" has_route "$GW_NS" 192.168.0.0/16
ip -n "$SITE_NS" route >"$T/site.routes"
e2e_check "gateway: the site's prefixes never bounce back into the VNet (net-unreachable)" sh -c \
  "ip netns exec $GW_NS nft list table inet cove_guard | grep -q 'oifname \"eth0\" ip daddr { .*192.168.0.0/16.* } .*reject with icmp net-unreachable'"
e2e_log "site routes: $(tr '\n' '|' <"$T/site.routes")"

in_host() { timeout -k 5 120 ip netns exec "$HOST_NS" "$@"; }
H=myregistry.azurecr.io
e2e_check_eq "BIND: $H → 10.0.0.5" 10.0.0.5 "$(in_host dig +short $H | tail -1)"

SRC="$T/src"
e2e_make_image "$SRC" v1 --layers 2 >/dev/null
e2e_check "on-premises: skopeo push over ExpressRoute" in_host \
  skopeo --command-timeout 60s copy --dest-cert-dir "$CA_DIR" "oci:$SRC:v1" "docker://$H/app:v1"
e2e_check "on-premises: skopeo pull over ExpressRoute" in_host \
  skopeo --command-timeout 60s copy --src-cert-dir "$CA_DIR" "docker://$H/app:v1" "oci:$T/pulled:v1"

# Nothing of it crossed the internet segment.
onprem_capture_stop
e2e_log "internet capture: $(wc -l <"$T/internet.txt") packets"
e2e_check "no packet of the site or the VNet on the internet" sh -c "! grep -v ARP '$T/internet.txt' | grep -q ."

# The peering Disabled: the routers stop, the routes go, the pull fails fast.
e2e_check "peering Disabled" arm PUT "$CIRCUIT/peerings/AzurePrivatePeering" "$(peering_body Disabled)"
e2e_check "site router: 10.0.0.0/16 withdrawn" no_route "$SITE_NS" 10.0.0.0/16
e2e_check_eq "connectionStatus NotConnected" NotConnected "$(status)"
start=$(date +%s)
e2e_check "pull fails without the peering" sh -c "! timeout 60 ip netns exec $HOST_NS skopeo --command-timeout 20s inspect --cert-dir $CA_DIR docker://$H/app:v1 >/dev/null 2>&1"
took=$(($(date +%s) - start))
e2e_check "and fails within 30 s (took ${took}s)" test "$took" -le 30
e2e_check "the private endpoint is unreachable at once (no route)" sh -c \
  "! timeout 5 ip netns exec $HOST_NS curl -sS --max-time 4 --resolve $H:443:10.0.0.5 https://$H/v2/ >/dev/null 2>&1"


# Enabled again.
e2e_check "peering Enabled" arm PUT "$CIRCUIT/peerings/AzurePrivatePeering" "$(peering_body Enabled)"
e2e_check "connectionStatus Connected again" wait_status Connected 90
e2e_check "site router: 10.0.0.0/16 proto bgp again" has_route "$SITE_NS" 10.0.0.0/16
e2e_check "pull works again" in_host \
  skopeo --command-timeout 60s copy --src-cert-dir "$CA_DIR" "docker://$H/app:v1" "oci:$T/pulled2:v1"

# A site whose ASN is not the peering's: nothing matches, the connection never connects.
e2e_check "site ASN 65020 (peering's peerASN stays 65010)" arm PUT "$SITE" "$(site_body 65020)"
e2e_check "connectionStatus leaves Connected" wait_status Connecting 60
never_connected() {  # SECONDS: watched throughout, not only at the end
  local i
  for ((i = 0; i < $1 * 5; i++)); do
    [[ $(status) == Connected ]] && return 1
    sleep 0.2
  done
}
e2e_check "and stays not Connected for 10 s" never_connected 10
e2e_check "site router has no route to the VNet" no_route "$SITE_NS" 10.0.0.0/16
e2e_finish
