# shellcheck shell=bash
# The Azure side the on-premises end-to-end tests share (onprem_vpn_test.sh,
# onprem_expressroute_test.sh), made through the ARM REST API after tests/e2e/lib.sh's
# e2e_start_coved_fabric: resource group rg, registry myregistry (Premium, data endpoint, public
# access disabled, admin user; REGISTRY_AUTH_FILE signs skopeo in as the admin), VNet myvnet
# 10.0.0.0/16 with mysubnet, GatewaySubnet 10.0.255.0/27 and a subnet delegated to the DNS
# resolver, the private endpoint (10.0.0.5, 10.0.0.6) with privatelink.azurecr.io linked and
# grouped, and a DNS Private Resolver whose inbound endpoint is 10.0.2.4.
#
# Sets SUB, RG, NET, ACR, ZONE and arm(); each step is one e2e_check. Also:
#   onprem_capture FILTER     starts tcpdump in the public network's namespace (the "internet")
#                             writing $T/internet.pcap; onprem_capture_stop stops it and writes
#                             the packets as text to $T/internet.txt;
#   wait_status WANT SECONDS  polls connection $CONNECTION's connectionStatus until it is WANT.
SUB=/subscriptions/c0ffee00-0000-4000-8000-000000000001
RG=$SUB/resourceGroups/rg
NET=$RG/providers/Microsoft.Network
ACR=$RG/providers/Microsoft.ContainerRegistry
ZONE=$NET/privateDnsZones/privatelink.azurecr.io
arm() { e2e_arm "$@"; }

onprem_azure_side() {
  e2e_check "resource group" arm PUT "$RG" '{"location":"westus"}'
  e2e_check "registry (Premium, data endpoint, public access disabled, admin user)" arm PUT "$ACR/registries/myregistry" \
    '{"location":"westus","sku":{"name":"Premium"},"properties":{"dataEndpointEnabled":true,"publicNetworkAccess":"Disabled","adminUserEnabled":true}}'
  ADMIN_PW=$(arm POST "$ACR/registries/myregistry/listCredentials" | jq -r '.passwords[0].value')
  export REGISTRY_AUTH_FILE="$T/auth.json"
  e2e_auth_file "$REGISTRY_AUTH_FILE" myregistry.azurecr.io myregistry "$ADMIN_PW"
  e2e_check "VNet with mysubnet, GatewaySubnet and a subnet delegated to the DNS resolver" \
    arm PUT "$NET/virtualNetworks/myvnet" '{"location":"westus","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},
    "subnets":[{"name":"mysubnet","properties":{"addressPrefix":"10.0.0.0/24","privateEndpointNetworkPolicies":"Disabled"}},
     {"name":"GatewaySubnet","properties":{"addressPrefix":"10.0.255.0/27"}},
     {"name":"inbound","properties":{"addressPrefix":"10.0.2.0/28",
      "delegations":[{"name":"resolver","properties":{"serviceName":"Microsoft.Network/dnsResolvers"}}]}}]}}'
  e2e_check "private DNS zone" arm PUT "$ZONE" '{"location":"global"}'
  e2e_check "zone linked to myvnet" arm PUT "$ZONE/virtualNetworkLinks/mylink" \
    "{\"location\":\"global\",\"properties\":{\"virtualNetwork\":{\"id\":\"$NET/virtualNetworks/myvnet\"},\"registrationEnabled\":false}}"
  e2e_check "private endpoint (10.0.0.5, 10.0.0.6)" arm PUT "$NET/privateEndpoints/mype" \
    "{\"location\":\"westus\",\"properties\":{\"subnet\":{\"id\":\"$NET/virtualNetworks/myvnet/subnets/mysubnet\"},
      \"ipConfigurations\":[
        {\"name\":\"r\",\"properties\":{\"groupId\":\"registry\",\"memberName\":\"registry\",\"privateIPAddress\":\"10.0.0.5\"}},
        {\"name\":\"d\",\"properties\":{\"groupId\":\"registry\",\"memberName\":\"registry_data_westus\",\"privateIPAddress\":\"10.0.0.6\"}}],
      \"privateLinkServiceConnections\":[{\"name\":\"c\",\"properties\":{\"privateLinkServiceId\":\"$ACR/registries/myregistry\",\"groupIds\":[\"registry\"]}}]}}"
  e2e_check "zone group" arm PUT "$NET/privateEndpoints/mype/privateDnsZoneGroups/default" \
    "{\"properties\":{\"privateDnsZoneConfigs\":[{\"name\":\"z\",\"properties\":{\"privateDnsZoneId\":\"$ZONE\"}}]}}"
  e2e_check "DNS resolver" arm PUT "$NET/dnsResolvers/resolver" \
    "{\"location\":\"westus\",\"properties\":{\"virtualNetwork\":{\"id\":\"$NET/virtualNetworks/myvnet\"}}}"
  e2e_check "inbound endpoint 10.0.2.4" arm PUT "$NET/dnsResolvers/resolver/inboundEndpoints/in" \
    "{\"location\":\"westus\",\"properties\":{\"ipConfigurations\":[{\"subnet\":{\"id\":\"$NET/virtualNetworks/myvnet/subnets/inbound\"},
      \"privateIpAllocationMethod\":\"Static\",\"privateIpAddress\":\"10.0.2.4\"}]}}"
}

onprem_capture() {
  local pub_ns
  pub_ns=$(sed -n "s/.*dns: .* in \([^ ]*\) answers view ''.*/\1/p" "$T/coved.log" | tail -1)
  e2e_check "public namespace exists" test -n "$pub_ns"
  ip netns exec "$pub_ns" tcpdump -i any -nn -U --immediate-mode -w "$T/internet.pcap" "$1" \
    >"$T/tcpdump.log" 2>&1 &
  E2E_PIDS+=($!)
  ONPREM_TCPDUMP_PID=$!
}
onprem_capture_stop() {
  e2e_stop_pid "$ONPREM_TCPDUMP_PID"
  tcpdump -nn -r "$T/internet.pcap" >"$T/internet.txt" 2>/dev/null
}

status() { arm GET "$NET/connections/$CONNECTION" | jq -r .properties.connectionStatus; }
wait_status() {  # WANT SECONDS
  local i s
  for ((i = 0; i < $2 * 5; i++)); do
    s=$(status)
    [[ $s == "$1" ]] && return 0
    sleep 0.2
  done
  echo "connectionStatus is $s" >&2
  return 1
}
