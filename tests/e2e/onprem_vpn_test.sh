#!/usr/bin/env bash
# The seed's on-premises picture over a site-to-site VPN (issue 14), end to end as root: coved
# in full mode builds, through the ARM REST API, the seed's first diagram plus a GatewaySubnet
# with a VPN gateway (public IP 192.0.2.x), a DNS Private Resolver inbound endpoint (10.0.2.4 in
# a delegated subnet), an on-premises site (192.168.0.0/16, its router's public address
# 192.0.2.130, BIND as its DNS server forwarding azurecr.io to the inbound endpoint) with one
# host, a local network gateway for the site and an IPsec connection between them.
#
# Shows: the connection comes up (connectionStatus Connected, strongSwan with userspace ESP on
# both ends); the on-premises host resolves myregistry.azurecr.io through the site's BIND to the
# CNAME chain and 10.0.0.5, and asking the inbound endpoint directly gives the same; skopeo
# pushes and pulls from the host through the tunnel with the layers over the data endpoint's
# private address (10.0.0.6), and the registry sees the host's own address 192.168.0.10; a
# capture on the internet segment holds only IKE and ESP-in-UDP between the two public
# addresses, never the registry's TLS records; the classic DNS mistakes (forwarding only
# privatelink.azurecr.io, no forwarder, a forwarder at 168.63.129.16) give what they give on a
# real site; a device with another key leaves the connection NotConnected (cove says so) and
# the pull fails; deleting the connection takes the tunnel down and the pull fails.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/onprem_lib.sh"

e2e_init skopeo dig tcpdump swanctl named unshare python3
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only (on-premises sites are cove's)"
T=$E2E_TMP
e2e_fabric_init v
e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
CA_DIR="$T/ca"
mkdir -p "$CA_DIR" && cp "$T/data/tls/ca.crt" "$CA_DIR/ca.crt"

SITE=$RG/providers/Cove.OnPremises/sites/branch

onprem_azure_side

e2e_check "public IP for the gateway" arm PUT "$NET/publicIPAddresses/gwip" \
  '{"location":"westus","sku":{"name":"Standard"},"properties":{"publicIPAllocationMethod":"Static"}}'
GWIP=$(arm GET "$NET/publicIPAddresses/gwip" | jq -r .properties.ipAddress)
e2e_check "VPN gateway in GatewaySubnet" arm PUT "$NET/virtualNetworkGateways/vpngw" \
  "{\"location\":\"westus\",\"properties\":{\"gatewayType\":\"Vpn\",\"vpnType\":\"RouteBased\",\"sku\":{\"name\":\"VpnGw1\",\"tier\":\"VpnGw1\"},
    \"ipConfigurations\":[{\"name\":\"ipconfig\",\"properties\":{\"subnet\":{\"id\":\"$NET/virtualNetworks/myvnet/subnets/GatewaySubnet\"},
    \"publicIPAddress\":{\"id\":\"$NET/publicIPAddresses/gwip\"}}}]}}"
# The on-premises site, its DNS server forwarding azurecr.io to the inbound endpoint, a host.
site_body() {  # FORWARDED-ZONE [VPN-DEVICE-KEY]
  local device=""
  [[ -n ${2:-} ]] && device=",\"vpnDevice\":{\"sharedKey\":\"$2\"}"
  echo "{\"location\":\"westus\",\"properties\":{\"addressPrefixes\":[\"192.168.0.0/16\"],
    \"dnsServer\":{\"software\":\"bind\",\"forwarders\":[{\"domainName\":\"$1\",\"targetDnsServers\":[\"10.0.2.4\"]}]}$device}}"
}
e2e_check "on-premises site (BIND forwarding azurecr.io)" arm PUT "$SITE" "$(site_body azurecr.io)"
SITEIP=$(arm GET "$SITE" | jq -r .properties.publicIpAddress)
DNSIP=$(arm GET "$SITE" | jq -r .properties.dnsServer.address)
e2e_check "site host" arm PUT "$SITE/machines/host1" '{"properties":{}}'
HOSTIP=$(arm GET "$SITE/machines/host1" | jq -r .properties.address)
e2e_log "gateway $GWIP, site $SITEIP, site DNS $DNSIP, host $HOSTIP"
e2e_check "local network gateway for the site" arm PUT "$NET/localNetworkGateways/branch" \
  "{\"location\":\"westus\",\"properties\":{\"gatewayIpAddress\":\"$SITEIP\",\"localNetworkAddressSpace\":{\"addressPrefixes\":[\"192.168.0.0/16\"]}}}"
conn_body() {  # KEY
  echo "{\"location\":\"westus\",\"properties\":{\"connectionType\":\"IPsec\",\"connectionProtocol\":\"IKEv2\",\"sharedKey\":\"$1\",
    \"virtualNetworkGateway1\":{\"id\":\"$NET/virtualNetworkGateways/vpngw\"},\"localNetworkGateway2\":{\"id\":\"$NET/localNetworkGateways/branch\"}}}"
}

# A capture on the internet segment (the public network's namespace), from before the tunnel.
CONNECTION=toBranch
onprem_capture "host $GWIP or host $SITEIP"

e2e_check "IPsec connection with a shared key" arm PUT "$NET/connections/toBranch" "$(conn_body s3cr3t-key)"
e2e_check "connectionStatus Connected" wait_status Connected 60

HOST_NS=$(sed -n "s|.*vm: .*/machines/host1 at .* in namespace \([^ ]*\).*|\1|p" "$T/coved.log" | tail -1)
e2e_check "the host's namespace exists ($HOST_NS)" ip netns exec "$HOST_NS" true
in_host() { timeout -k 5 120 ip netns exec "$HOST_NS" "$@"; }  # /etc/netns/<ns>: resolv.conf → site DNS
H=myregistry.azurecr.io
D=myregistry.westus.data.azurecr.io

# 1. Names, through the site's BIND and asking the inbound endpoint directly.
in_host dig +noall +answer $H >"$T/dig.bind" 2>&1
e2e_log "through BIND: $(tr '\n' '|' <"$T/dig.bind")"
e2e_check "BIND: CNAME to privatelink" grep -Eq "^$H\.\s+[0-9]+\s+IN\s+CNAME\s+myregistry\.privatelink\.azurecr\.io\." "$T/dig.bind"
e2e_check "BIND: A 10.0.0.5" grep -Eq "^myregistry\.privatelink\.azurecr\.io\.\s+[0-9]+\s+IN\s+A\s+10\.0\.0\.5$" "$T/dig.bind"
e2e_check_eq "BIND: data host → 10.0.0.6" 10.0.0.6 "$(in_host dig +short $D | tail -1)"
e2e_check_eq "inbound endpoint asked directly" 10.0.0.5 "$(in_host dig +short @10.0.2.4 $H | tail -1)"

# 2. Push and pull from the host through the tunnel.
SRC="$T/src"
e2e_make_image "$SRC" v1 --layers 2 >/dev/null
e2e_check "on-premises: skopeo push through the VPN" in_host \
  skopeo --command-timeout 60s copy --dest-cert-dir "$CA_DIR" "oci:$SRC:v1" "docker://$H/app:v1"
e2e_check "on-premises: skopeo pull through the VPN" in_host \
  skopeo --command-timeout 60s copy --src-cert-dir "$CA_DIR" "docker://$H/app:v1" "oci:$T/pulled:v1"
e2e_counters >"$T/counters.json"
data_bytes=$(jq "$(e2e_member_jq 10.0.0.6 bytesOut)" "$T/counters.json")
layer_bytes=$(find "$SRC/blobs" -type f -size +1k -printf '%s\n' | sort -n | tail -1)
e2e_check "layer bytes left over 10.0.0.6 ($data_bytes >= $layer_bytes)" test "$data_bytes" -ge "$layer_bytes"
e2e_check "connection counts bytes" test "$(arm GET "$NET/connections/toBranch" | jq -r .properties.egressBytesTransferred)" -gt 0

# 3. What crossed the internet: IKE (UDP 500) and ESP-in-UDP (4500) only, no TLS record.
onprem_capture_stop
e2e_log "internet capture: $(wc -l <"$T/internet.txt") packets"
e2e_check "the capture holds ESP-in-UDP" grep -q "UDP-encap.*ESP\|\.4500 > .*\.4500" "$T/internet.txt"
e2e_check "only IKE and NAT-T between the public addresses" \
  sh -c "! grep -v -E '\.(500|4500)( >|:)|ARP' '$T/internet.txt' | grep -q ."
e2e_check "no port 443 on the internet" sh -c "! grep -q '\.443[ :]' '$T/internet.txt'"
e2e_check "no registry name in clear" sh -c "! grep -aq 'azurecr' '$T/internet.pcap'"

# 4. The classic mistakes. (a) Forwarding only privatelink.azurecr.io: BIND asks the site's
# upstream (the internet's resolver) for myregistry.azurecr.io, gets the public CNAME and
# resolves its target, myregistry.privatelink.azurecr.io, through the privatelink forward zone:
# the private address after all (seen with BIND 9.18; README, "On-premises sites").
site_dig() {  # WANT: retries until dig's last line matches WANT (the site's server restarts)
  local i out
  for i in $(seq 1 50); do
    out=$(in_host dig +short +time=2 +tries=1 $H 2>&1 | tail -1)
    [[ $out =~ $1 ]] && return 0
    sleep 0.2
  done
  echo "last answer: $out" >&2
  return 1
}
e2e_check "site forwards only privatelink.azurecr.io" arm PUT "$SITE" "$(site_body privatelink.azurecr.io)"
e2e_check "privatelink only: BIND chases the public CNAME into the forward zone (10.0.0.5)" site_dig '^10\.0\.0\.5$'
# (b) No forwarder for Azure's names at all: the public answer, and ACR's firewall body, seen
# from the site's public address (the registry's public access is disabled).
e2e_check "site forwards nothing to Azure" arm PUT "$SITE" "$(site_body corp.example)"
e2e_check "no forwarder: the public address" site_dig '^203\.0\.113\.'
in_host curl -sS --max-time 30 --cacert "$CA_DIR/ca.crt" "https://$H/v2/" >"$T/public.curl" 2>&1
e2e_log "public path: $(head -c 300 "$T/public.curl")"
e2e_check "no forwarder: DENIED, client IP is the site's public address" \
  grep -q "\"code\":\"DENIED\",\"message\":\"client with IP '$SITEIP' is not allowed access" "$T/public.curl"
# (c) A forwarder pointing at 168.63.129.16 from outside Azure: unreachable, SERVFAIL.
e2e_check "site forwards azurecr.io to 168.63.129.16" arm PUT "$SITE" \
  "$(site_body azurecr.io | sed 's/10\.0\.2\.4/168.63.129.16/')"
e2e_check "168.63.129.16 from on-premises: SERVFAIL" sh -c \
  "for i in \$(seq 1 20); do timeout 30 ip netns exec $HOST_NS dig +time=3 +tries=1 $H | grep -q 'status: SERVFAIL' && exit 0; done; exit 1"
e2e_check "site forwards azurecr.io to the inbound endpoint again" arm PUT "$SITE" "$(site_body azurecr.io)"
e2e_check "and gets 10.0.0.5" site_dig '^10\.0\.0\.5$'

# 5. The site's VPN device configured with another key: the tunnel never comes up, cove says
# so, and the pull fails (resolving still works: the names come from the inbound endpoint... over
# the tunnel, so they fail too; ask by address).
e2e_check "the site's device gets a wrong key" arm PUT "$SITE" "$(site_body azurecr.io wrong-key)"
e2e_check "connectionStatus NotConnected" wait_status NotConnected 60
cove_cli() { COVE_ENDPOINT="https://$ARM" COVE_DATA_DIR="$T/data" "${COVE:-$E2E_REPO/build/src/cli/cove}" "$@"; }
e2e_check_eq "cove network vpn-connection show says NotConnected" NotConnected \
  "$(cove_cli network vpn-connection show -g rg -n toBranch --query connectionStatus -o tsv)"
e2e_check "pull fails without the tunnel" sh -c "! timeout 60 ip netns exec $HOST_NS skopeo --command-timeout 20s inspect --cert-dir $CA_DIR docker://$H/app:v1 >/dev/null 2>&1"
e2e_check "the right key again: Connected" arm PUT "$SITE" "$(site_body azurecr.io s3cr3t-key)"
e2e_check "connectionStatus Connected again" wait_status Connected 60

# 6. Deleting the connection takes the tunnel down on both ends.
GW_NS=$(sed -n "s|.*vm: .*/virtualNetworkGateways/vpngw at .* in namespace \([^ ]*\).*|\1|p" "$T/coved.log" | tail -1)
e2e_check "the gateway's tunnel device exists" ip -n "$GW_NS" link show ipsec0
e2e_check "connection deleted" arm DELETE "$NET/connections/toBranch"
gone() { local i; for i in $(seq 1 100); do ip -n "$GW_NS" link show ipsec0 >/dev/null 2>&1 || return 0; sleep 0.1; done; return 1; }
e2e_check "the gateway's tunnel device is gone" gone
e2e_check "pull fails after the delete" sh -c "! timeout 60 ip netns exec $HOST_NS skopeo --command-timeout 20s inspect --cert-dir $CA_DIR docker://$H/app:v1 >/dev/null 2>&1"
e2e_finish
