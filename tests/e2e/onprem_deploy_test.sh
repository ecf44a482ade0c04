#!/usr/bin/env bash
# The on-premises picture from the documented deploy file, end to end as root (issue 14):
# `cove deploy -f examples/onprem.yaml` adds a site behind a VPN gateway to the seed's first
# diagram; once `cove network vpn-connection show` says Connected, the site's host resolves the
# registry through the site's BIND (`cove vm exec --site`) and pushes and pulls with skopeo and
# podman through the tunnel; switching the site's DNS server to unbound keeps the answers.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo podman dig swanctl named unbound
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only"
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED)"
CLI=${COVE:-$(dirname "$BIN")/../cli/cove}
[[ -x $CLI ]] || e2e_die "cove not built (set COVE=/path/to/cove)"
T=$E2E_TMP
e2e_fabric_init d
e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
cove() {
  env HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" COVE_ENDPOINT="https://$ARM" \
    COVE_DATA_DIR="$E2E_TMP/data" COVE_FABRIC_PREFIX="$E2E_FABRIC_PREFIX" \
    timeout -k 5 300 "$CLI" --only-show-errors "$@"
}
RG=myResourceGroup
H=myregistry.azurecr.io
CA_DIR="$T/ca"
mkdir -p "$CA_DIR" "$T/home" && cp "$T/data/tls/ca.crt" "$CA_DIR/ca.crt"

e2e_check "cove deploy -f examples/onprem.yaml" \
  cove deploy -f "$E2E_REPO/examples/onprem.yaml" -g "$RG" --parameters registry=myregistry -o none
connected() {
  local i
  for ((i = 0; i < 300; i++)); do
    [[ $(cove network vpn-connection show -g "$RG" -n toBranch --query connectionStatus -o tsv) == Connected ]] && return 0
    sleep 0.2
  done
  return 1
}
e2e_check "cove network vpn-connection show: Connected" connected
host() { cove vm exec -g "$RG" --site branch host1 -- "$@"; }
e2e_check_eq "host1 resolves through BIND" 10.0.0.5 "$(host dig +short $H | tail -1)"
e2e_check "registry admin user on" cove acr update -n myregistry --admin-enabled true -o none
PW=$(cove acr credential show -n myregistry --query 'passwords[0].value' -o tsv)
export REGISTRY_AUTH_FILE="$T/auth.json"
e2e_auth_file "$REGISTRY_AUTH_FILE" "$H" myregistry "$PW"
e2e_make_image "$T/src" v1 --layers 2 >/dev/null
e2e_check "host1: skopeo push through the VPN" host \
  skopeo --command-timeout 60s copy --dest-cert-dir "$CA_DIR" "oci:$T/src:v1" "docker://$H/app:v1"
P="$T/podman"
mkdir -p "$P/root" "$P/runroot" "$P/tmp"
e2e_check "host1: podman pull through the VPN" host podman --root "$P/root" --runroot "$P/runroot" \
  --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir "$P/tmp" pull \
  --cert-dir "$CA_DIR" --authfile "$REGISTRY_AUTH_FILE" "$H/app:v1"
e2e_check "the site's DNS server becomes unbound" \
  cove onprem site update -g "$RG" -n branch --dns-server unbound -o none
unbound_answers() {
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(host dig +short +time=1 +tries=1 $H | tail -1) == 10.0.0.5 ]] &&
      grep -q "site dns: unbound" "$T/coved.log" && return 0
    sleep 0.2
  done
  return 1
}
e2e_check "host1 resolves through unbound" unbound_answers
e2e_check "host1: skopeo pull with unbound resolving" host \
  skopeo --command-timeout 60s copy --src-cert-dir "$CA_DIR" "docker://$H/app:v1" "oci:$T/pulled:v1"
e2e_finish
