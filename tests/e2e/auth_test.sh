#!/usr/bin/env bash
# Authentication with real clients (skopeo, podman) against coved with an `auth:` section, over
# TLS with real host names inside a network namespace: ACR's challenge, `skopeo login` /
# `podman login` with the admin user, a service principal, a repository-scoped token and the
# null-GUID refresh token, push and pull as each is allowed, refusals where not; anonymous pull
# off and on (coved restarted with the other setting). coved only: distribution has no ACR auth.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

[[ ${COVE_E2E_TARGET:-distribution} == coved ]] || e2e_skip "ACR authentication is coved's"
e2e_init skopeo podman
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED=/path/to/coved)"
HASHER=${COVE_HASH_PASSWORD:-$(dirname "$BIN")/../auth/cove-hash-password}
[[ -x $HASHER ]] || e2e_die "cove-hash-password not built (set COVE_HASH_PASSWORD)"
e2e_netns_create
H=$E2E_HOST
T=$E2E_TMP
NULL_GUID=00000000-0000-0000-0000-000000000000

ADMIN_PW=$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)
SP_PW=$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)
PULLER_PW=$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)
TOKEN_PW=$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)
hash() { printf '%s\n' "$1" | "$HASHER"; }
ADMIN_HASH=$(hash "$ADMIN_PW")
SP_HASH=$(hash "$SP_PW")
PULLER_HASH=$(hash "$PULLER_PW")
TOKEN_HASH=$(hash "$TOKEN_PW")

DIR="$T/coved"
mkdir -p "$DIR/data"
start_coved() {  # ANONYMOUS_PULL
  cat >"$DIR/config.yaml" <<EOF
data_dir: $DIR/data
dns_suffix: $E2E_DNS_SUFFIX
listen: [{address: 127.0.0.1, port: 443, tls: true}]
default_registry: $E2E_REGISTRY_NAME
registries: [{name: $E2E_REGISTRY_NAME, region: $E2E_REGION, data_endpoint_enabled: true}]
auth:
  principals:
    - {id: 5b7e0d1c-0000-4000-8000-000000000001, kind: servicePrincipal, name: ci-pusher, password_hash: "$SP_HASH"}
    - {id: 5b7e0d1c-0000-4000-8000-000000000002, kind: servicePrincipal, name: puller, password_hash: "$PULLER_HASH"}
  role_assignments:
    - {principal: ci-pusher, role: AcrPush, registry: $E2E_REGISTRY_NAME}
    - {principal: puller, role: AcrPull, registry: $E2E_REGISTRY_NAME}
  registries:
    - name: $E2E_REGISTRY_NAME
      admin_user: {enabled: true, password_hashes: ["$ADMIN_HASH"]}
      anonymous_pull: $1
      scope_maps:
        - {name: app-read, actions: [repositories/e2e/app/content/read, repositories/e2e/app/metadata/read]}
      tokens:
        - {name: app-reader, scope_map: app-read, passwords: [{hash: "$TOKEN_HASH"}]}
EOF
  e2e_spawn "$DIR/coved.log" ip netns exec "$E2E_NS" "$BIN" registry --config "$DIR/config.yaml"
  E2E_REGISTRY_PID=$E2E_LAST_PID
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $DIR/data/tls/ca.crt ]] && break
    sleep 0.1
  done
  E2E_CA_DIR="$DIR/tls-client"
  mkdir -p "$E2E_CA_DIR"
  cp "$DIR/data/tls/ca.crt" "$E2E_CA_DIR/ca.crt" || e2e_die "no CA: $(tail "$DIR/coved.log")"
  E2E_CA="$E2E_CA_DIR/ca.crt"
  e2e_wait_http "https://$H/v2/" "$E2E_CA" "$E2E_REGISTRY_PID" ||
    e2e_die "coved did not answer: $(tail -20 "$DIR/coved.log")"
}
start_coved false
e2e_ns_trust_ca "$E2E_CA_DIR"

SRC="$T/src"
want=$(e2e_make_image "$SRC" v1 --layers 2)
AUTH="$T/auth.json"

push() {  # AUTHFILE REPO
  e2e_skopeo copy --authfile "$1" --dest-cert-dir "$E2E_CA_DIR" "oci:$SRC:v1" "docker://$H/$2:v1"
}
pull() {  # AUTHFILE REPO OUT
  e2e_skopeo copy --authfile "$1" --src-cert-dir "$E2E_CA_DIR" "docker://$H/$2:v1" "oci:$3:v1"
}
login() {  # AUTHFILE USER PASSWORD
  rm -f "$1"
  e2e_skopeo login --authfile "$1" --cert-dir "$E2E_CA_DIR" -u "$2" --password-stdin "$H" <<<"$3"
}
fails() { ! "$@"; }

# --- ACR's challenge ---------------------------------------------------------------------------
hdrs=$(e2e_ns curl -sS -o "$T/body" -D - --cacert "$E2E_CA" "https://$H/v2/e2e/app/manifests/v1" | tr -d '\r')
e2e_check_eq "manifest GET without credentials answers 401" 401 "$(awk 'NR==1{print $2}' <<<"$hdrs")"
e2e_check_eq "challenge is ACR's" \
  "Bearer realm=\"https://$H/oauth2/token\",service=\"$H\",scope=\"repository:e2e/app:pull\"" \
  "$(awk -F': ' 'tolower($1)=="www-authenticate"{print $2}' <<<"$hdrs")"
e2e_check_eq "body is ACR's UNAUTHORIZED" UNAUTHORIZED "$(jq -r '.errors[0].code' "$T/body")"

# --- admin user --------------------------------------------------------------------------------
e2e_check "skopeo login with the admin user" login "$AUTH" "$E2E_REGISTRY_NAME" "$ADMIN_PW"
e2e_check "skopeo login with a wrong password fails" fails login "$T/bad.json" "$E2E_REGISTRY_NAME" nope
e2e_check "admin pushes e2e/app" push "$AUTH" e2e/app
e2e_check "admin pushes e2e/other" push "$AUTH" e2e/other
e2e_check "admin pulls e2e/app" pull "$AUTH" e2e/app "$T/p-admin"
e2e_check_eq "pulled digest equals pushed" "$want" "$(e2e_layout_digest "$T/p-admin" v1)"

# --- service principals by role ----------------------------------------------------------------
e2e_check "AcrPush principal logs in" login "$T/sp.json" ci-pusher "$SP_PW"
e2e_check "AcrPush principal pushes e2e/pushed" push "$T/sp.json" e2e/pushed
e2e_check "AcrPull principal logs in (podman)" \
  e2e_podman login --authfile "$T/puller.json" -u puller --password-stdin "$H" <<<"$PULLER_PW"
e2e_check "AcrPull principal pulls e2e/pushed" pull "$T/puller.json" e2e/pushed "$T/p-puller"
e2e_check "AcrPull principal cannot push" fails push "$T/puller.json" e2e/denied

# --- repository-scoped token -------------------------------------------------------------------
e2e_check "podman login with the scoped token" \
  e2e_podman login --authfile "$T/token.json" -u app-reader --password-stdin "$H" <<<"$TOKEN_PW"
e2e_check "token pulls e2e/app" pull "$T/token.json" e2e/app "$T/p-token"
e2e_check "token cannot pull e2e/other" fails pull "$T/token.json" e2e/other "$T/p-token-other"
e2e_check "token cannot push e2e/app" fails push "$T/token.json" e2e/app
e2e_check "podman pulls e2e/app with the token" \
  e2e_podman pull --authfile "$T/token.json" "$H/e2e/app:v1"

# --- null GUID with an ACR refresh token -------------------------------------------------------
refresh=$(e2e_ns curl -sS --cacert "$E2E_CA" -X POST \
  -d "grant_type=password&service=$H&username=ci-pusher&password=$SP_PW&access_type=offline" \
  "https://$H/oauth2/token" | jq -r .refresh_token)
e2e_check "password grant with offline access returns a refresh token" test "${refresh:-null}" != null
e2e_check "skopeo login with the null GUID and the refresh token" login "$T/rt.json" "$NULL_GUID" "$refresh"
e2e_check "refresh-token login pushes e2e/rt" push "$T/rt.json" e2e/rt
e2e_check "refresh-token login pulls e2e/rt" pull "$T/rt.json" e2e/rt "$T/p-rt"

# --- anonymous pull ----------------------------------------------------------------------------
echo '{}' >"$T/none.json"
e2e_check "anonymous pull refused while disabled" fails pull "$T/none.json" e2e/app "$T/p-anon0"
e2e_stop_pid "$E2E_REGISTRY_PID"
start_coved true
e2e_check "anonymous pull works when enabled" pull "$T/none.json" e2e/app "$T/p-anon"
e2e_check "anonymous push is still refused" fails push "$T/none.json" e2e/anon

e2e_finish
