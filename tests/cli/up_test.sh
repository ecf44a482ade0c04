#!/usr/bin/env bash
# `cove up` end to end, as root, against a full coved (fabric, DNS, registry listeners): the
# README's main command. Starts coved with a fabric prefix unique to this run, runs `cove up`
# (deployment + vm1 + DNS + push/pull from vm1), checks its narrative and exit status, that a
# second `cove up` changes nothing and still pushes and pulls, that `cove vm exec vm1 -- getent
# hosts` resolves the registry to 10.0.0.5 and passes the command's exit status on, the vm
# commands, and that `cove down` leaves no namespace with the prefix. Skips (77) when not root.
set -uo pipefail
COVED=${COVED:?set COVED to the coved binary}
COVE=${COVE:?set COVE to the cove binary}
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces)"; exit 77; fi
for t in skopeo dig ip sha256sum tar gzip; do
  command -v "$t" >/dev/null || { echo "SKIP: needs $t"; exit 77; }
done
work=$(mktemp -d /tmp/cove-cli-up.XXXXXX)
# 1..5 characters of [a-z0-9], unique per run.
export COVE_FABRIC_PREFIX=u$(printf '%04x' $(( ($$ ^ RANDOM) & 0xffff )))
source "$(dirname "$0")/lib.sh"
coved_pid=
cleanup() {
  if [ -n "$coved_pid" ]; then kill "$coved_pid" 2>/dev/null && wait "$coved_pid" 2>/dev/null; fi
  for ns in $(ip netns list | awk '{print $1}' | grep "^$COVE_FABRIC_PREFIX-"); do
    ip netns delete "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$work"
}
trap cleanup EXIT
has() { grep -qF -- "$2" <<<"$1" || { echo "  no '$2' in:"; sed 's/^/    /' <<<"$1"; return 1; }; }
hasre() { grep -qE -- "$2" <<<"$1" || { echo "  no /$2/ in:"; sed 's/^/    /' <<<"$1"; return 1; }; }
namespaces() { ip netns list | awk '{print $1}' | grep "^$COVE_FABRIC_PREFIX-" || true; }

cli_start_coved "$work" --fabric-prefix "$COVE_FABRIC_PREFIX"
coved_pid=$CLI_COVED_PID
port=$CLI_ARM_PORT
export COVE_ENDPOINT=https://127.0.0.1:$port XDG_CONFIG_HOME=$work/config COVE_DATA_DIR=$work/data
cove() { "$COVE" "$@"; }

out=$(cove up 2>"$work/up.err"); code=$?
echo "$out" | sed 's/^/# /'
check "cove up exits 0" eq "$code" 0
check "cove up printed nothing on stderr" eq "$(cat "$work/up.err")" ""
check "the deployment created vm1" has "$out" "created	Microsoft.Compute/virtualMachines	vm1"
check "vm1 is 10.0.0.4" has "$out" "VM vm1: 10.0.0.4"
check "vm1's DNS: the CNAME to privatelink" has "$out" "myregistry.privatelink.azurecr.io."
check "vm1's DNS: the registry at 10.0.0.5" hasre "$out" "privatelink\.azurecr\.io\.[[:space:]]+10[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.0\.0\.5$"
check "vm1's DNS: the data endpoint at 10.0.0.6" hasre "$out" "data\.privatelink\.azurecr\.io\.[[:space:]]+10[[:space:]]+IN[[:space:]]+A[[:space:]]+10\.0\.0\.6$"
check "pushed from vm1" has "$out" "push from vm1: skopeo copy"
check "pulled from vm1" has "$out" "pull from vm1: skopeo copy"
check "connections to the registry endpoint 10.0.0.5" has "$out" "10.0.0.5 (registry endpoint):"
check "layer bytes over the data endpoint 10.0.0.6" has "$out" "10.0.0.6 (data endpoint):"
check "cove up ends with done" has "$out" "done: vm1 pushed and pulled myregistry.azurecr.io/hello:v1"

out2=$(cove up 2>&1); code=$?
check "second cove up exits 0" eq "$code" 0
check "second cove up creates nothing" eq "$(grep -c '^  created' <<<"$out2")" 0
check "second cove up pushes and pulls again" has "$out2" "done: vm1 pushed"

check "vm exec: vm1 resolves the registry to 10.0.0.5" eq \
  "$(cove vm exec vm1 -- getent hosts myregistry.azurecr.io | awk '{print $1}')" 10.0.0.5
cove vm exec vm1 -- sh -c 'exit 7'; code=$?
check "vm exec passes the command's exit status on" eq "$code" 7
check "vm exec reads stdin" eq "$(echo hi | cove vm exec -g myResourceGroup vm1 -- cat)" hi
err=$(cove vm exec vm1 --fabric-prefix zz9 -- true 2>&1); code=$?
check "vm exec with the wrong prefix says the namespace is missing" has "$err" "does not exist"
check "... and exits 1" eq "$code" 1

check "vm show" eq "$(cove vm show -g myResourceGroup -n vm1 --query properties.cove.privateIpAddress -o tsv)" 10.0.0.4
check "vm list-ip-addresses" eq "$(cove vm list-ip-addresses -g myResourceGroup -n vm1 \
  --query '[0].virtualMachine.network.privateIpAddresses[0]' -o tsv)" 10.0.0.4
check "vm create --public" eq "$(cove vm create -g myResourceGroup -n outsider --public \
  --query publicIpAddress -o tsv | cut -d. -f1-3)" 198.51.100
vm2_ip=$(cove vm create -g myResourceGroup -n vm2 --vnet-name myVNet --subnet mySubnet \
  --query privateIpAddress -o tsv)
check "vm create in the subnet: a free dynamic address ($vm2_ip)" bash -c \
  "[[ '$vm2_ip' == 10.0.0.* && '$vm2_ip' != 10.0.0.[0-6] ]]"
check "vm delete removes vm2 and its NIC" bash -c "'$COVE' vm delete -g myResourceGroup -n vm2 --yes &&
  ! '$COVE' network nic show -g myResourceGroup -n vm2VMNic >/dev/null 2>&1"

down=$(cove down 2>&1); code=$?
echo "$down" | sed 's/^/# /'
check "cove down exits 0" eq "$code" 0
check "cove down says what it deleted" has "$down" "deleted resource group myResourceGroup"
left=$(namespaces | wc -l)
check "only coved's public network namespace is left ($left)" test "$left" -le 1
# coved keeps its public network while it runs; stopped, `cove down` removes the rest itself.
kill "$coved_pid"; wait "$coved_pid" 2>/dev/null; coved_pid=
down=$(cove down 2>&1); code=$?
echo "$down" | sed 's/^/# /'
check "cove down without coved exits 0" eq "$code" 0
check "cove down without coved removes the namespaces itself" has "$down" "coved is not reachable"
check "no namespace with the prefix is left" eq "$(namespaces)" ""

echo "passed $passed, failed $failed"
[ "$failed" = 0 ]
