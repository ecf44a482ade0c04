#!/usr/bin/env bash
# The seed's high-availability layout, end to end as root (issue 12): `cove deploy -f
# examples/geo.yaml` builds VNet A (westus) and VNet B (eastus), each with its own private
# endpoint to one Premium registry replicated in both regions and its own privatelink zone in
# its own resource group, and a VM in each. Real clients run inside the VMs.
#
# Shows: each VM's DNS answers its own endpoint's addresses; skopeo pushes from vmwest; once
# eastus says Ready, skopeo, podman and ctr pull from vmeast with the layer bytes leaving over
# vnet B's registry_data_eastus member (myregistry.eastus.data); with westus's region node killed
# (-9, coved --region-restart manual keeps it down) both VMs still pull (westus's VNet through
# its endpoint's eastus members) and vmeast pushes; after SIGHUP westus catches up, and with
# eastus killed in turn vmwest pulls the outage's push from westus alone, its layers over
# vnet A's registry_data_westus member.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo podman containerd ctr dig
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only"
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED)"
CLI=${COVE:-$(dirname "$BIN")/../cli/cove}
[[ -x $CLI ]] || e2e_die "cove not built (set COVE=/path/to/cove)"
T=$E2E_TMP
e2e_fabric_init g
e2e_start_coved_fabric "$T/coved.log" --region-restart manual ||
  e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
mkdir -p "$T/home/.docker" && echo '{"auths":{}}' >"$T/home/.docker/config.json"
cove() {
  env HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" DOCKER_CONFIG="$T/home/.docker" \
    COVE_ENDPOINT="https://$ARM" COVE_DATA_DIR="$E2E_TMP/data" COVE_FABRIC_PREFIX="$E2E_FABRIC_PREFIX" \
    timeout -k 5 120 "$CLI" --only-show-errors "$@"
}
RG=myResourceGroup
H=myregistry.azurecr.io
vm() { local name=$1; shift; cove vm exec -g "$RG" "$name" -- "$@"; }
status_of() { cove acr replication show -r myregistry -n "$1" --query status.displayStatus -o tsv; }
# until_status REGION STATUS: polls for up to 60 s.
until_status() {
  local i
  for ((i = 0; i < 600; i++)); do
    [[ $(status_of "$1") == "$2" ]] && return 0
    sleep 0.1
  done
  return 1
}
member_bytes() { e2e_counters | jq "$(e2e_member_jq "$1" bytesOut)"; }
region_pid() { cat "$T/data/regions/$1/pid"; }
# same_image SRC DST TAG: DST's blobs verify and its TAG is SRC's manifest.
same_image() {
  e2e_layout_verify "$2" && [[ $(e2e_layout_digest "$1" "$3") == "$(e2e_layout_digest "$2" "$3")" ]]
}

e2e_check "cove deploy -f examples/geo.yaml" cove deploy -f "$E2E_REPO/examples/geo.yaml" -g "$RG" --parameters registry=myregistry -o none
e2e_check_eq "vmwest resolves the registry to its endpoint" 10.1.0.5 "$(vm vmwest dig +short $H | tail -1)"
e2e_check_eq "vmeast resolves the registry to its endpoint" 10.2.0.5 "$(vm vmeast dig +short $H | tail -1)"
e2e_check_eq "vmeast: myregistry.eastus.data → 10.2.0.7" 10.2.0.7 \
  "$(vm vmeast dig +short myregistry.eastus.data.azurecr.io | tail -1)"
e2e_check_eq "vmwest: myregistry.westus.data → 10.1.0.6" 10.1.0.6 \
  "$(vm vmwest dig +short myregistry.westus.data.azurecr.io | tail -1)"
e2e_check "a region process each" test -f "$T/data/regions/westus/pid" -a -f "$T/data/regions/eastus/pid"

e2e_check "admin user on" cove acr update -n myregistry --admin-enabled true -o none
PW=$(cove acr credential show -n myregistry --query 'passwords[0].value' -o tsv)
CREDS="myregistry:$PW"

SRC="$T/src"
e2e_make_image "$SRC" v1 --layers 2 >/dev/null
LAYER=$(find "$SRC/blobs" -type f -size +1k -printf '%s\n' | sort -n | tail -1)
e2e_check "vmwest: skopeo push v1" vm vmwest skopeo --command-timeout 60s copy --dest-creds "$CREDS" \
  "oci:$SRC:v1" "docker://$H/app:v1"
e2e_check "eastus catches up (acr replication show: Ready)" until_status eastus Ready

east_before=$(member_bytes 10.2.0.7)
west_data_before=$(member_bytes 10.2.0.6)
e2e_check "vmeast: skopeo pull v1" vm vmeast skopeo --command-timeout 60s copy --src-creds "$CREDS" \
  "docker://$H/app:v1" "oci:$T/east-pulled:v1"
e2e_check "vmeast got the same image" same_image "$SRC" "$T/east-pulled" v1
east_after=$(member_bytes 10.2.0.7)
e2e_check "vmeast's layers came from myregistry.eastus.data ($((east_after - east_before)) bytes over 10.2.0.7)" \
  test $((east_after - east_before)) -ge "$LAYER"
e2e_check_eq "and none over vnet B's westus data member" "$west_data_before" "$(member_bytes 10.2.0.6)"

PODMAN=(podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend file --tmpdir "$T/podman/tmp")
mkdir -p "$T/podman/tmp"
e2e_check "vmeast: podman pull v1" vm vmeast "${PODMAN[@]}" pull -q --creds "$CREDS" "$H/app:v1"

e2e_netns_create
e2e_start_containerd
e2e_check "vmeast: ctr image pull v1 (unpacks)" vm vmeast ctr -a "$E2E_CTR_SOCK" image pull \
  --user "$CREDS" --tlscacert "$T/data/tls/ca.crt" --snapshotter native "$H/app:v1"

# westus goes down hard.
WEST=$(region_pid westus)
kill -9 "$WEST"
e2e_check "westus's replication says Failed" until_status westus Failed
e2e_check "vmeast still pulls" vm vmeast skopeo --command-timeout 60s copy --src-creds "$CREDS" \
  "docker://$H/app:v1" "oci:$T/east-outage:v1"
e2e_check "vmwest still pulls (its endpoint's members lead to eastus)" vm vmwest skopeo \
  --command-timeout 60s copy --src-creds "$CREDS" "docker://$H/app:v1" "oci:$T/west-outage:v1"
SRC2="$T/src2"
e2e_make_image "$SRC2" v2 --layers 1 >/dev/null
e2e_check "vmeast pushes v2 during the outage" vm vmeast skopeo --command-timeout 60s copy \
  --dest-creds "$CREDS" "oci:$SRC2:v2" "docker://$H/app:v2"

# westus returns and catches up; then eastus goes down and westus serves v2 alone.
kill -HUP "$COVED_PID"
e2e_check "westus is back and catches up (Ready)" until_status westus Ready
kill -9 "$(region_pid eastus)"
e2e_check "eastus's replication says Failed" until_status eastus Failed
west_before=$(member_bytes 10.1.0.6)
e2e_check "vmwest pulls v2, pushed in eastus during westus's outage, from westus alone" \
  vm vmwest skopeo --command-timeout 60s copy --src-creds "$CREDS" "docker://$H/app:v2" "oci:$T/west-v2:v2"
e2e_check "the same image" same_image "$SRC2" "$T/west-v2" v2
e2e_check "its layers came from myregistry.westus.data (over 10.1.0.6)" \
  test "$(member_bytes 10.1.0.6)" -gt "$west_before"
kill -HUP "$COVED_PID"
e2e_check "eastus is back (Ready)" until_status eastus Ready

e2e_finish
