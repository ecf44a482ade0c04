#!/usr/bin/env bash
# Issue 17 item 6: machines cannot borrow each other's identity, end to end as root. coved in
# full mode with its fabric, set up with the `cove` CLI; every attack runs as root inside the
# attacking machine (`cove vm exec`), as a VM's own administrator would.
#
# Shows:
#   - IMDS answers only its own machine: vm1 deletes 169.254.169.254 from its lo and routes the
#     address to its neighbour vm2 — it gets no token (neither vm2's nor its own), while vm2 and
#     (with the route undone) vm1 still get their own;
#   - anti-spoofing on the bridge ports: vm1 takes vm2's address as its source and cannot reach
#     the registry's private endpoint from it (from its own address it can); a public VM that
#     takes a container group's address (a trusted service's, by source address) cannot reach
#     the registry's public endpoint from it (from its own address it is DENIED, as before);
#   - a VM that changes its MAC address is cut off until the fabric sets it back.
# Each attack succeeds without the fix (tokens of vm2; connections from the borrowed address).
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"

e2e_init jq
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED)"
CLI=${COVE:-$(dirname "$BIN")/../cli/cove}
[[ -x $CLI ]] || e2e_die "cove not built (set COVE=/path/to/cove)"
command -v nft >/dev/null || e2e_skip "nft (Debian package nftables) is not installed"
T=$E2E_TMP
e2e_fabric_init s
e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"

RG=myResourceGroup
H=myregistry.azurecr.io
mkdir -p "$T/home"
cove() {
  env HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" DOCKER_CONFIG="$T/home/.docker" \
    COVE_ENDPOINT="https://$ARM" COVE_DATA_DIR="$E2E_TMP/data" COVE_FABRIC_PREFIX="$E2E_FABRIC_PREFIX" \
    timeout -k 5 120 "$CLI" --only-show-errors "$@"
}
vm() { local name=$1; shift; cove vm exec -g "$RG" "$name" -- "$@"; }
group() {
  local name=$1
  shift
  cove container exec -g "$RG" -n "$name" --host-command --exec-command "$(printf '%q ' "$@")"
}
# guard_of ADDRESS: the `bridge cove_guard` table of the network namespace whose ports include
# the machine with ADDRESS.
guard_of() {
  local ns table
  for ns in $(ip netns list | awk '{print $1}' | grep "^$E2E_FABRIC_PREFIX-n"); do
    table=$(ip netns exec "$ns" nft list table bridge cove_guard 2>/dev/null)
    if grep -q "saddr $1 " <<<"$table"; then
      echo "$table"
      return 0
    fi
  done
  return 1
}
fails() { ! "$@"; }
IMDS='http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/'
# token MACHINE-RUNNER NAME: the access token IMDS gives inside the machine ("" for none). A
# dropped connection gives up after 3 s: what is being shown is that nothing answers.
token() { "$1" "$2" curl -sS --max-time 3 -H Metadata:true "$IMDS" 2>/dev/null | jq -r '.access_token // empty' 2>/dev/null; }
oid() {
  local s
  s=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
  while ((${#s} % 4)); do s+="="; done
  base64 -d <<<"$s" 2>/dev/null | jq -r .oid
}
# status MACHINE-RUNNER NAME [curl args]: the HTTP status of GET https://$H/v2/ ("000": none).
status() {
  local run=$1 name=$2
  shift 2
  "$run" "$name" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "https://$H/v2/"
}

# --- the seed's registry behind a private endpoint, two VMs with identities in one subnet -------
e2e_check "cove up --no-vm (registry, private endpoint, public access disabled)" cove up --no-vm -o none
vm1=$(cove vm create -g "$RG" -n vm1 --vnet-name myVNet --subnet mySubnet --assign-identity -o json)
vm2=$(cove vm create -g "$RG" -n vm2 --vnet-name myVNet --subnet mySubnet --assign-identity -o json)
VM1_IP=$(jq -r .privateIpAddress <<<"$vm1")
VM2_IP=$(jq -r .privateIpAddress <<<"$vm2")
VM1_OID=$(jq -r '.identity.systemAssignedIdentity // .identity.principalId // empty' <<<"$vm1")
VM2_OID=$(jq -r '.identity.systemAssignedIdentity // .identity.principalId // empty' <<<"$vm2")
e2e_check "vm1 ($VM1_IP) and vm2 ($VM2_IP) have identities" test -n "$VM1_OID" -a -n "$VM2_OID"
e2e_check_eq "vm1: IMDS gives vm1's token" "$VM1_OID" "$(oid "$(token vm vm1)")"
e2e_check_eq "vm2: IMDS gives vm2's token" "$VM2_OID" "$(oid "$(token vm vm2)")"

# --- IMDS: vm1 routes 169.254.169.254 to vm2 ----------------------------------------------------
e2e_check "vm1 takes 169.254.169.254 off its lo and routes it via vm2" \
  vm vm1 sh -c "ip addr del 169.254.169.254/32 dev lo && ip route add 169.254.169.254/32 via $VM2_IP dev eth0"
e2e_check "vm1's route to 169.254.169.254 goes to vm2" \
  grep -q "via $VM2_IP" <<<"$(vm vm1 ip route get 169.254.169.254)"
stolen=$(token vm vm1)
e2e_check_eq "vm1 gets no token through vm2's IMDS" "" "$stolen"
[[ -n $stolen ]] && e2e_log "vm1 got a token of $(oid "$stolen") (vm2 is $VM2_OID)"
e2e_check "vm2's guard dropped what vm1 sent to its 169.254.169.254" \
  grep -q "daddr 169.254.169.254 counter packets [1-9]" \
  <<<"$(vm vm2 nft list table inet cove_guard)"
e2e_check_eq "vm2 still gets its own token" "$VM2_OID" "$(oid "$(token vm vm2)")"
e2e_check "vm1 undoes its route" \
  vm vm1 sh -c "ip route del 169.254.169.254/32 && ip addr add 169.254.169.254/32 dev lo scope host"
e2e_check_eq "vm1 gets its own token again" "$VM1_OID" "$(oid "$(token vm vm1)")"

# --- anti-spoofing: vm1 poses as vm2 ------------------------------------------------------------
e2e_check_eq "vm1 reaches the registry's private endpoint from its own address (401)" 401 \
  "$(status vm vm1)"
# Forgetting its neighbours makes vm1 ARP for the endpoint as vm2 (a switch without port
# security then sends vm2's replies to vm1).
e2e_check "vm1 adds vm2's address to its eth0, forgets its neighbours" \
  vm vm1 sh -c "ip addr add $VM2_IP/32 dev eth0 && ip neigh flush dev eth0"
e2e_check_eq "vm1 cannot reach the registry from vm2's address" 000 \
  "$(status vm vm1 --interface "$VM2_IP")"
e2e_check_eq "vm2 still reaches it" 401 "$(status vm vm2)"
vm vm1 ip addr del "$VM2_IP/32" dev eth0 >/dev/null

# --- anti-spoofing: a public VM poses as a container group (a trusted service) -----------------
e2e_check "container create job (public: a trusted service)" \
  cove container create -g "$RG" -n job --image "$H/app:v1" -o none
JOB_IP=$(group job ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
out=$(cove vm create -g "$RG" -n outsider --public -o json)
OUT_IP=$(jq -r .publicIpAddress <<<"$out")
e2e_check "job ($JOB_IP) and outsider ($OUT_IP) share the public clients' segment" \
  test -n "$JOB_IP" -a -n "$OUT_IP"
e2e_check_eq "outsider from its own address: DENIED (403; public access is disabled)" 403 \
  "$(status vm outsider)"
e2e_check "job from its address is not DENIED (trusted service: 401)" \
  test "$(status group job)" = 401
# The registry's public address is looked up first: the first packet after the flush is then
# the one from job's address, and the gateway learns job's address at outsider's MAC.
PUB_IP=$(vm outsider getent hosts "$H" | awk '{print $1}')
e2e_check "outsider adds job's address to its eth0, forgets its neighbours" \
  vm outsider sh -c "ip addr add $JOB_IP/32 dev eth0 && ip neigh flush dev eth0"
e2e_check_eq "outsider cannot reach the registry ($PUB_IP) from job's address" 000 \
  "$(status vm outsider --interface "$JOB_IP" --resolve "$H:443:$PUB_IP")"
e2e_check "the public network's guard dropped outsider's frames" \
  grep -q "counter packets [1-9]" <<<"$(guard_of "$OUT_IP")"
vm outsider ip addr del "$JOB_IP/32" dev eth0 >/dev/null
e2e_check "job still reaches the registry (401)" test "$(status group job)" = 401

# --- a machine that changes its MAC is cut off ----------------------------------------------------
e2e_check "vm2 changes its MAC address" vm vm2 ip link set dev eth0 address 02:00:00:00:00:99
vm vm2 ip neigh flush dev eth0 >/dev/null
e2e_check_eq "vm2 with a MAC of its own choosing reaches nothing" 000 "$(status vm vm2)"

e2e_finish
