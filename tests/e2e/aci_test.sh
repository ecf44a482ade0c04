#!/usr/bin/env bash
# Azure Container Instances that run their image, end to end as root (issue 16): coved in full
# mode with its fabric; everything set up with the `cove` CLI as an `az` user types it.
#
# A container group pulls the way ACI does — from inside its own network namespace on the public
# network, with its imageRegistryCredentials — then runs each container with runc
# (daemon/containers_plane.h over src/runtime).
#
# Shows:
#   - a group with a user-assigned identity (AcrPull) pulls myregistry.azurecr.io/app:v1 from a
#     registry whose public network access is disabled, because networkRuleBypassOptions is
#     AzureServices; it runs, its logs show the program's output and that its secure value
#     arrived, while no answer holds the value; `container exec` runs inside the container;
#     stop, start and restart;
#   - with the bypass off, a new group's instanceView shows "Failed to pull image …" with ACR's
#     DENIED text;
#   - restartPolicy OnFailure restarts a failing container and counts it (exit code kept);
#     Never does not;
#   - with public access on: a wrong password shows UNAUTHORIZED, an image that does not exist
#     MANIFEST_UNKNOWN, a command that is not in the image runc's error; a malformed image
#     reference is refused at create (ACI's InvalidImageName) and nothing is made;
#   - deleting a group removes its runc containers.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo jq runc
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only (container groups are the control plane's)"
e2e_coved_cli_init a

RG=myResourceGroup
H=myregistry.azurecr.io
cove() { e2e_cove "$@"; }
fails() { ! "$@"; }
group() { cove container show -g "$RG" -n "$1" -o json; }
# view NAME JQ: a jq filter over the group as `container show` answers it.
view() { group "$1" | jq -r "$2"; }
# has NAME JQ: true when the filter yields true.
has() { [[ $(view "$1" "$2") == true ]]; }
events() { view "$1" '[.instanceView.events[]?, .containers[].instanceView.events[]?] | map(.name + ": " + .message) | .[]'; }
running() { has "$1" '.containers[0].instanceView.currentState.state == "Running"'; }
pull_failed() { events "$1" | grep -q "Failed to pull image \"$2\": $3"; }
events_have() { events "$1" | grep -q -- "$2"; }
logs_have() { cove container logs -g "$RG" -n "$1" | grep -q -- "$2"; }

# --- the seed's first diagram with public access off; images pushed from a VM in the VNet -------
e2e_check "cove up --no-vm (public network access disabled, private endpoint, DNS)" \
  cove up --no-vm -o none
REG_ID=$(cove acr show -n myregistry --query id -o tsv)
e2e_check "vm create pusher (in myVNet)" \
  cove vm create -g "$RG" -n pusher --vnet-name myVNet --subnet mySubnet -o none
e2e_check "acr update --admin-enabled true" cove acr update -n myregistry --admin-enabled true -o none
ADMIN_PW=$(cove acr credential show -n myregistry --query 'passwords[0].value' -o tsv)
e2e_auth_file "$T/admin.json" "$H" myregistry "$ADMIN_PW"
SRC="$T/src"
e2e_make_image "$SRC" v1 --layers 2 --config \
  '{"Env":["GREETING=hello from app"],"Cmd":["/bin/sh","-c","echo \"$GREETING\"; test \"$SECRET\" = s3cret-value && echo secure value delivered; exec sleep 3600"]}' >/dev/null
e2e_make_image "$SRC" fail --layers 1 --config '{"Cmd":["/bin/sh","-c","echo attempt; exit 3"]}' >/dev/null
for tag in v1 fail; do
  repo=app
  [[ $tag == fail ]] && repo=flaky
  e2e_check "pusher pushes $repo (busybox image) through the private endpoint" \
    cove vm exec -g "$RG" pusher -- skopeo --command-timeout 60s copy --authfile "$T/admin.json" \
    "oci:$SRC:$tag" "docker://$H/$repo:v1"
done

# --- a user-assigned identity with AcrPull; ACI is a trusted service ------------------------------
uai=$(cove identity create -g "$RG" -n aci-identity -o json)
UAI_ID=$(jq -r .id <<<"$uai")
e2e_check "role assignment create (AcrPull for aci-identity)" \
  cove role assignment create --assignee-object-id "$(jq -r .principalId <<<"$uai")" \
  --assignee-principal-type ServicePrincipal --role AcrPull --scope "$REG_ID" -o none

e2e_check "container create app (identity, secure value, public access disabled)" \
  cove container create -g "$RG" -n app --image "$H/app:v1" --assign-identity "$UAI_ID" \
  --acr-identity "$UAI_ID" --secure-environment-variables SECRET=s3cret-value -o none
e2e_check "app: pulled through the trusted-services bypass and Running" e2e_wait 120 running app
e2e_log "app events: $(events app | tr '\n' '|')"
e2e_check "app: events say Pulling" events_have app "^Pulling: "
e2e_check "app: events say Pulled" events_have app "^Pulled: "
e2e_check "app: logs show the program's output" e2e_wait 30 logs_have app "hello from app"
logs=$(cove container logs -g "$RG" -n app)
e2e_log "app logs: $logs"
e2e_check "app: the secure value reached the container" grep -q "secure value delivered" <<<"$logs"
e2e_check "app: no answer holds the secure value" fails grep -q s3cret-value <<<"$(group app)"
e2e_check_eq "app: exec runs inside the container (its hostname)" app \
  "$(cove container exec -g "$RG" -n app --exec-command "hostname" | tr -d '\r')"
e2e_check "app: exec sees the image's root (/bin/busybox), not the host's" \
  cove container exec -g "$RG" -n app --exec-command "test -x /bin/busybox -a ! -e /usr/bin/apt-get"
addr=$(view app '.ipAddress.ip // .cove.publicIpAddress')
e2e_check "app: the container's network is the group's (its public address $addr)" \
  grep -q "$addr" <<<"$(cove container exec -g "$RG" -n app --exec-command "ip -4 addr")"

e2e_check "container stop app" cove container stop -g "$RG" -n app
e2e_check "app: Stopped" e2e_wait 30 has app '.instanceView.state == "Stopped"'
e2e_check "container start app" cove container start -g "$RG" -n app
e2e_check "app: Running again" e2e_wait 60 running app
e2e_check "container restart app" cove container restart -g "$RG" -n app
e2e_check "app: Running after restart" e2e_wait 60 running app

# --- restartPolicy OnFailure counts restarts; Never does not --------------------------------------
e2e_check "container create flaky (exit 3, --restart-policy OnFailure)" \
  cove container create -g "$RG" -n flaky --image "$H/flaky:v1" --assign-identity "$UAI_ID" \
  --acr-identity "$UAI_ID" --restart-policy OnFailure -o none
e2e_check "flaky: restarted at least twice" \
  e2e_wait 90 has flaky '.containers[0].instanceView.restartCount >= 2'
e2e_check_eq "flaky: the exit code is kept" 3 \
  "$(view flaky '[.containers[0].instanceView.currentState, .containers[0].instanceView.previousState] | map(select(.exitCode != null)) | .[0].exitCode')"
e2e_check "flaky: its logs hold each attempt" \
  test "$(cove container logs -g "$RG" -n flaky | grep -c attempt)" -ge 2
e2e_check "container create once (exit 3, --restart-policy Never)" \
  cove container create -g "$RG" -n once --image "$H/flaky:v1" --assign-identity "$UAI_ID" \
  --acr-identity "$UAI_ID" --restart-policy Never -o none
e2e_check "once: Terminated with exit code 3" \
  e2e_wait 60 has once '.containers[0].instanceView.currentState.state == "Terminated" and .containers[0].instanceView.currentState.exitCode == 3'
e2e_check_eq "once: never restarted" 0 "$(view once '.containers[0].instanceView.restartCount')"
e2e_check_eq "once: the group Failed" Failed "$(view once .instanceView.state)"
out=$(timeout 30 env HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" COVE_ENDPOINT="https://$ARM" \
  COVE_DATA_DIR="$E2E_TMP/data" "$CLI" container attach -g "$RG" -n once)
e2e_check "once: attach shows its output and returns (it will not run again)" grep -q attempt <<<"$out"

# --- the bypass off: DENIED -----------------------------------------------------------------------
e2e_check "acr update --allow-trusted-services false" \
  cove acr update -n myregistry --allow-trusted-services false -o none
e2e_check "container create denied (same identity, bypass off)" \
  cove container create -g "$RG" -n denied --image "$H/app:v1" --assign-identity "$UAI_ID" \
  --acr-identity "$UAI_ID" -o none
e2e_check "denied: instanceView shows the pull failure with ACR's DENIED text" \
  e2e_wait 60 pull_failed denied "$H/app:v1" "DENIED: client with IP '198.51.100."
e2e_log "denied events: $(events denied | tr '\n' '|')"
e2e_check_eq "denied: the container is Waiting" Waiting \
  "$(view denied '.containers[0].instanceView.currentState.state')"
e2e_check "acr update --allow-trusted-services true" \
  cove acr update -n myregistry --allow-trusted-services true -o none

# --- public access on: credentials and bad input --------------------------------------------------
e2e_check "acr update --public-network-enabled true" \
  cove acr update -n myregistry --public-network-enabled true -o none
e2e_check "container create wrongpw (admin user, wrong password)" \
  cove container create -g "$RG" -n wrongpw --image "$H/app:v1" --registry-login-server "$H" \
  --registry-username myregistry --registry-password not-the-password -o none
e2e_check "wrongpw: the pull failure says UNAUTHORIZED" \
  e2e_wait 60 pull_failed wrongpw "$H/app:v1" "UNAUTHORIZED"
e2e_log "wrongpw events: $(events wrongpw | tr '\n' '|')"
e2e_check "container create rightpw (admin user)" \
  cove container create -g "$RG" -n rightpw --image "$H/app:v1" --registry-login-server "$H" \
  --registry-username myregistry --registry-password "$ADMIN_PW" \
  --secure-environment-variables SECRET=s3cret-value -o none
e2e_check "rightpw: Running" e2e_wait 120 running rightpw
e2e_check "container create missing (an image that does not exist)" \
  cove container create -g "$RG" -n missing --image "$H/app:nope" --registry-login-server "$H" \
  --registry-username myregistry --registry-password "$ADMIN_PW" -o none
e2e_check "missing: MANIFEST_UNKNOWN" e2e_wait 60 pull_failed missing "$H/app:nope" "MANIFEST_UNKNOWN"
e2e_check "container create nocmd (a command that is not in the image)" \
  cove container create -g "$RG" -n nocmd --image "$H/app:v1" --registry-login-server "$H" \
  --registry-username myregistry --registry-password "$ADMIN_PW" --command-line "/no/such/program" \
  --restart-policy Never -o none
e2e_check "nocmd: the failure names the missing program" \
  e2e_wait 60 events_have nocmd /no/such/program
e2e_log "nocmd events: $(events nocmd | tr '\n' '|')"
out=$(cove container create -g "$RG" -n badref --image "$H/App:UPPER::v1" -o none 2>&1)
e2e_check "a malformed image reference is refused (InvalidImageName)" grep -q InvalidImageName <<<"$out"
e2e_check "badref was not made" fails cove container show -g "$RG" -n badref -o none

# --- delete removes the containers ----------------------------------------------------------------
RUNC_ROOT=/run/cove-runc-$E2E_FABRIC_PREFIX
e2e_check "runc lists the groups' containers" test "$(runc --root "$RUNC_ROOT" list -q | wc -l)" -ge 2
for g in app flaky once denied wrongpw rightpw missing nocmd; do
  cove container delete -g "$RG" -n "$g" --yes -o none || e2e_fail "container delete $g"
done
e2e_check "after delete no runc container is left" \
  e2e_wait 30 bash -c "test -z \"\$(runc --root $RUNC_ROOT list -q 2>/dev/null)\""
e2e_finish
