#!/usr/bin/env bash
# Managed identities getting their own tokens, end to end as root — the seed's trusted-services
# path. coved in full mode with its fabric; everything set up with the `cove` CLI as an `az`
# user types it; inside each machine the same `cove` binary signs in with `login --identity`
# (the machine's instance metadata service at 169.254.169.254) and `acr login` exchanges that
# token at the registry itself, over the machine's own network path.
#
# Shows:
#   - vm1 (myVNet, system-assigned identity): IMDS answers with a token (and IMDS's errors);
#     without a role the exchange is refused, with AcrPull it pulls through the private endpoint
#     and cannot push;
#   - a container group (ACI: a trusted service) with a user-assigned identity reaches the
#     registry whose public network access is disabled, over the public endpoint, because
#     networkRuleBypassOptions is AzureServices; with None it is DENIED, then allowed again;
#   - a public VM with the same user-assigned identity is DENIED: the identity is not what is
#     trusted, the service it calls from is;
#   - `cove login --identity` on the host refuses without sending anything (no IMDS here).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo jq
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only (managed identities are the control plane's)"
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED)"
CLI=${COVE:-$(dirname "$BIN")/../cli/cove}
[[ -x $CLI ]] || e2e_die "cove not built (set COVE=/path/to/cove)"
T=$E2E_TMP
e2e_fabric_init i
e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"

RG=myResourceGroup
H=myregistry.azurecr.io
NULL_GUID=00000000-0000-0000-0000-000000000000
mkdir -p "$T/home"
# The CLI on the host, as the operator runs it.
cove() {
  env HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" DOCKER_CONFIG="$T/home/.docker" \
    COVE_ENDPOINT="https://$ARM" COVE_DATA_DIR="$E2E_TMP/data" COVE_FABRIC_PREFIX="$E2E_FABRIC_PREFIX" \
    timeout -k 5 120 "$CLI" --only-show-errors "$@"
}
# on MACHINE-KIND NAME CMD...: CMD inside a VM or container group, with a home of its own (its
# CLI config and Docker config) and no way to the control plane (COVE_ENDPOINT points nowhere).
on() {
  local kind=$1 name=$2
  shift 2
  local env=(env HOME="$T/m-$name" XDG_CONFIG_HOME="$T/m-$name/.config"
    DOCKER_CONFIG="$T/m-$name/.docker" COVE_ENDPOINT=http://127.0.0.1:9)
  mkdir -p "$T/m-$name"
  if [[ $kind == vm ]]; then
    cove vm exec -g "$RG" "$name" -- "${env[@]}" "$@"
  else
    cove container exec -g "$RG" -n "$name" --host-command --exec-command "$(printf '%q ' "${env[@]}" "$@")"
  fi
}
mcove() { local kind=$1 name=$2; shift 2; on "$kind" "$name" "$CLI" --only-show-errors "$@"; }
fails() { ! "$@"; }
AUTH() { echo "$T/m-$1/.docker/config.json"; }
pull() {  # KIND NAME REPO
  on "$1" "$2" skopeo --command-timeout 60s inspect --authfile "$(AUTH "$2")" "docker://$H/$3:v1"
}

# --- the seed's first diagram, a registry with public access off, an image in it -----------------
e2e_check "cove up --no-vm (registry with public access disabled, private endpoint, DNS)" \
  cove up --no-vm -o none
REG_ID=$(cove acr show -n myregistry --query id -o tsv)
e2e_check_eq "public network access is Disabled" Disabled \
  "$(cove acr show -n myregistry --query publicNetworkAccess -o tsv)"
e2e_check_eq "trusted services are allowed by default (AzureServices)" AzureServices \
  "$(cove acr show -n myregistry --query networkRuleBypassOptions -o tsv)"

vm1=$(cove vm create -g "$RG" -n vm1 --vnet-name myVNet --subnet mySubnet --assign-identity -o json)
VM1_PRINCIPAL=$(jq -r '.identity.systemAssignedIdentity // .identity.principalId // empty' <<<"$vm1")
e2e_check "vm create --assign-identity gives vm1 a system-assigned identity ($VM1_PRINCIPAL)" \
  test -n "$VM1_PRINCIPAL"

# An image pushed from vm1 as the admin user, through the private endpoint.
e2e_check "acr update --admin-enabled true" cove acr update -n myregistry --admin-enabled true -o none
ADMIN_PW=$(cove acr credential show -n myregistry --query 'passwords[0].value' -o tsv)
e2e_auth_file "$T/admin.json" "$H" myregistry "$ADMIN_PW"
SRC="$T/src"
e2e_make_image "$SRC" v1 --layers 2 >/dev/null
e2e_check "vm1 pushes e2e/app as the admin user" on vm vm1 \
  skopeo --command-timeout 60s copy --authfile "$T/admin.json" "oci:$SRC:v1" "docker://$H/e2e/app:v1"

# --- IMDS inside vm1 -------------------------------------------------------------------------------
IMDS='http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/'
tok=$(on vm vm1 curl -sS -H Metadata:true "$IMDS")
e2e_check_eq "vm1: IMDS hands out a Bearer token" Bearer "$(jq -r .token_type <<<"$tok")"
jwt_claims() {  # a JWT's payload (base64url, unpadded) as JSON
  local s
  s=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
  while ((${#s} % 4)); do s+="="; done
  base64 -d <<<"$s"
}
claims=$(jwt_claims "$(jq -r .access_token <<<"$tok")")
e2e_check_eq "vm1: the token is the VM's identity (oid)" "$VM1_PRINCIPAL" "$(jq -r .oid <<<"$claims")"
e2e_check "vm1: the token names the VM (xms_az_rid)" \
  grep -qi "/virtualMachines/vm1\$" <<<"$(jq -r .xms_az_rid <<<"$claims")"
e2e_check_eq "vm1: without Metadata: true, IMDS's 400" "Required metadata header not specified" \
  "$(on vm vm1 curl -sS "$IMDS" | jq -r .error_description)"

# --- vm1 signs in as its identity; a role decides what it may do ----------------------------------
e2e_check "vm1: cove login --identity" mcove vm vm1 login --identity -o none
e2e_check_eq "vm1: the account is the system-assigned identity" systemAssignedIdentity \
  "$(mcove vm vm1 account show --query user.name -o tsv)"
e2e_check "vm1: acr login is refused without a role" fails mcove vm vm1 acr login -n myregistry
e2e_check "role assignment create (AcrPull for vm1's identity, by its object id)" \
  cove role assignment create --assignee "$VM1_PRINCIPAL" --role AcrPull --scope "$REG_ID" -o none
e2e_check "vm1: acr login (exchange at the registry, through the private endpoint)" \
  mcove vm vm1 acr login -n myregistry
e2e_check_eq "vm1: the Docker config holds the null GUID" "$NULL_GUID" \
  "$(jq -r --arg h "$H" '.auths[$h].auth' "$(AUTH vm1)" | base64 -d | cut -d: -f1)"
e2e_check "vm1: pulls e2e/app with its identity" pull vm vm1 e2e/app
e2e_check "vm1: AcrPull cannot push" fails on vm vm1 skopeo --command-timeout 60s copy \
  --authfile "$(AUTH vm1)" "oci:$SRC:v1" "docker://$H/e2e/vm1:v1"

# --- a user-assigned identity: a container group (trusted) and a public VM (not) ------------------
uai=$(cove identity create -g "$RG" -n app-identity -o json)
UAI_ID=$(jq -r .id <<<"$uai")
UAI_PRINCIPAL=$(jq -r .principalId <<<"$uai")
e2e_check "identity create" test -n "$UAI_PRINCIPAL" -a "$UAI_PRINCIPAL" != null
e2e_check "role assignment create (AcrPull for app-identity)" \
  cove role assignment create --assignee-object-id "$UAI_PRINCIPAL" \
  --assignee-principal-type ServicePrincipal --role AcrPull --scope "$REG_ID" -o none
e2e_check "container create (image from the registry, --acr-identity)" \
  cove container create -g "$RG" -n job --image "$H/e2e/app:v1" --assign-identity "$UAI_ID" \
  --acr-identity "$UAI_ID" -o none
e2e_check "vm create --public with the same identity" \
  cove vm create -g "$RG" -n outsider --public --assign-identity "$UAI_ID" -o none

e2e_check "job: cove login --identity" mcove group job login --identity -o none
e2e_check "job: acr login although public access is disabled (trusted service)" \
  mcove group job acr login -n myregistry
e2e_check "job: pulls e2e/app over the public endpoint" pull group job e2e/app
e2e_check "outsider: cove login --identity (same identity)" mcove vm outsider login --identity -o none
out=$(on vm outsider "$CLI" acr login -n myregistry 2>&1)  # the WARNING names the error
e2e_log "outsider: $out"
e2e_check "outsider: acr login is DENIED (a VM is not a trusted service)" grep -q "DENIED: client with IP '198.51.100." <<<"$out"
e2e_check "outsider: /v2/ is DENIED with its own address" \
  grep -q "client with IP '198.51.100." <<<"$(on vm outsider curl -sS "https://$H/v2/")"

# --- networkRuleBypassOptions None: the trusted service is DENIED too -----------------------------
e2e_check "acr update --allow-trusted-services false" \
  cove acr update -n myregistry --allow-trusted-services false -o none
out=$(on group job "$CLI" acr login -n myregistry 2>&1)
e2e_check "job: acr login is DENIED with bypass None" grep -q "DENIED: client with IP" <<<"$out"
out=$(pull group job e2e/app 2>&1)
e2e_check "job: its earlier credentials are DENIED too" grep -q "403\|denied" <<<"$out"
e2e_check "acr update --allow-trusted-services true" \
  cove acr update -n myregistry --allow-trusted-services true -o none
e2e_check "job: pulls again" pull group job e2e/app

# --- no IMDS on the host -----------------------------------------------------------------------------
out=$(cove login --identity 2>&1)
rc=$?
e2e_check "cove login --identity on the host fails (exit $rc)" test "$rc" -ne 0
e2e_log "host: $out"

kill -0 "$COVED_PID" 2>/dev/null || e2e_fail "coved died: $(tail -5 "$T/coved.log")"
e2e_finish
