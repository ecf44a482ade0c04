#!/usr/bin/env bash
# Authentication as a user of az sets it up: identities, roles, tokens and the admin user made
# with the `cove` CLI against coved's control plane, then real clients (skopeo, podman) push and
# pull with each, over TLS with the registry's real host name inside a network namespace.
#   - `cove ad user create` + `role assignment create --role AcrPush` + `cove login` +
#     `cove acr login` (the docker config it writes is what skopeo reads);
#   - `cove acr login --expose-token` → `podman login` with the null GUID and the refresh token;
#   - `cove ad sp create-for-rbac --role AcrPull` → `skopeo login` with appId/password: pull
#     yes, push no; `role assignment delete` → the next login fails;
#   - `cove acr scope-map create` / `cove acr token create` → pull of its repository only;
#     disabled token refused; `cove acr token credential generate` replaces a password;
#   - admin user: `cove acr update --admin-enabled true`, `cove acr credential show|renew`;
#   - anonymous pull: `cove acr update --anonymous-pull-enabled true|false`.
# coved runs in full mode without the fabric (--no-fabric), TLS on 127.0.0.1:443 and the ARM
# API on 127.0.0.1:7780, both inside the test's namespace. coved only.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

[[ ${COVE_E2E_TARGET:-distribution} == coved ]] || e2e_skip "identities through the control plane are coved's"
e2e_init skopeo podman jq
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED=/path/to/coved)"
CLI=${COVE:-$(dirname "$BIN")/../cli/cove}
[[ -x $CLI ]] || e2e_die "cove not built (set COVE=/path/to/cove)"
e2e_netns_create
H=$E2E_HOST
T=$E2E_TMP
REG=$E2E_REGISTRY_NAME
NULL_GUID=00000000-0000-0000-0000-000000000000

mkdir -p "$T/data" "$T/home" "$T/alice"
cat >"$T/config.yaml" <<EOF
data_dir: $T/data
dns_suffix: $E2E_DNS_SUFFIX
listen: [{address: 127.0.0.1, port: 443, tls: true}]
arm_listen: 127.0.0.1:7780
EOF
e2e_spawn "$T/coved.log" ip netns exec "$E2E_NS" "$BIN" --config "$T/config.yaml" --no-fabric
COVED_PID=$E2E_LAST_PID
for _ in $(seq 1 300); do
  grep -q "arm api listening" "$T/coved.log" && [[ -s $T/data/tls/ca.crt ]] && break
  kill -0 "$COVED_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q "arm api listening" "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
E2E_CA_DIR="$T/ca"
mkdir -p "$E2E_CA_DIR" && cp "$T/data/tls/ca.crt" "$E2E_CA_DIR/ca.crt"
e2e_ns_trust_ca "$E2E_CA_DIR"

# The CLI as the administrator runs it (root, nobody signed in: coved's bootstrap credential
# from the data dir), and as a user (ucove: alice, signed in with cove login); each with its own
# config dir and docker config, in the namespace, over HTTPS to coved's ARM API.
cove() {
  e2e_ns env HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" DOCKER_CONFIG="$T/home/.docker" \
    COVE_ENDPOINT=https://127.0.0.1:7780 COVE_DATA_DIR="$T/data" "$CLI" --only-show-errors "$@"
}
ucove() {
  e2e_ns env HOME="$T/alice" XDG_CONFIG_HOME="$T/alice/.config" DOCKER_CONFIG="$T/alice/.docker" \
    COVE_ENDPOINT=https://127.0.0.1:7780 COVE_DATA_DIR="$T/data" "$CLI" --only-show-errors "$@"
}
fails() { ! "$@"; }
SRC="$T/src"
want=$(e2e_make_image "$SRC" v1 --layers 2)
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

e2e_check "group create" cove group create -n rg -l "$E2E_REGION" -o none
e2e_check "acr create (Premium, data endpoint)" \
  cove acr create -g rg -n "$REG" --sku Premium -l "$E2E_REGION" --data-endpoint-enabled true -o none
REG_ID=$(cove acr show -n "$REG" --query id -o tsv)
e2e_check "registry id" test -n "$REG_ID"

# --- a registry the control plane owns requires authentication --------------------------------
echo '{}' >"$T/none.json"
code=$(e2e_ns curl -s -o "$T/body" -w '%{http_code}' --cacert "$E2E_CA_DIR/ca.crt" "https://$H/v2/")
e2e_check_eq "GET /v2/ without credentials answers 401" 401 "$code"
e2e_check "anonymous pull refused" fails pull "$T/none.json" e2e/app "$T/p-none"

# --- a user with AcrPush: cove login, cove acr login, skopeo with the docker config ------------
e2e_check "ad user create" cove ad user create --display-name Alice \
  --user-principal-name alice@contoso.com --password 'Alice-pass-1' -o none
e2e_check "role assignment create (AcrPush, registry scope)" \
  cove role assignment create --assignee alice@contoso.com --role AcrPush --scope "$REG_ID" -o none
e2e_check "login with a wrong password fails" fails ucove login -u alice@contoso.com -p nope -o none
e2e_check "cove login" ucove login -u alice@contoso.com -p 'Alice-pass-1' -o none
e2e_check_eq "account show names the user" alice@contoso.com "$(ucove account show --query user.name -o tsv)"
e2e_check "alice (AcrPush) may not change the registry" \
  fails ucove acr update -n "$REG" -g rg --admin-enabled true -o none
e2e_check "cove acr login" ucove acr login -n "$REG"
DOCKER_CFG="$T/alice/.docker/config.json"
e2e_check_eq "docker config holds the null GUID for the login server" "$NULL_GUID" \
  "$(jq -r --arg h "$H" '.auths[$h].auth' "$DOCKER_CFG" | base64 -d | cut -d: -f1)"
e2e_check "skopeo pushes e2e/app with acr login's credentials" push "$DOCKER_CFG" e2e/app
e2e_check "skopeo pushes e2e/other" push "$DOCKER_CFG" e2e/other
e2e_check "skopeo pulls e2e/app" pull "$DOCKER_CFG" e2e/app "$T/p-user"
e2e_check_eq "pulled digest equals pushed" "$want" "$(e2e_layout_digest "$T/p-user" v1)"

# --- the null GUID with an exposed refresh token (podman login) --------------------------------
refresh=$(ucove acr login -n "$REG" --expose-token --query accessToken -o tsv)
e2e_check "acr login --expose-token gives a token" test -n "$refresh"
e2e_check "podman login with the null GUID and the refresh token" \
  e2e_podman login --authfile "$T/rt.json" -u "$NULL_GUID" --password-stdin "$H" <<<"$refresh"
e2e_check "podman pulls e2e/app" e2e_podman pull --authfile "$T/rt.json" "$H/e2e/app:v1"

# --- a service principal with AcrPull ----------------------------------------------------------
sp=$(cove ad sp create-for-rbac -n puller --role AcrPull --scopes "$REG_ID" -o json)
APP=$(jq -r .appId <<<"$sp")
SECRET=$(jq -r .password <<<"$sp")
e2e_check "create-for-rbac prints appId and password" test "$APP" != null -a "$SECRET" != null
e2e_check "skopeo login with appId/password" login "$T/sp.json" "$APP" "$SECRET"
e2e_check "AcrPull principal pulls e2e/app" pull "$T/sp.json" e2e/app "$T/p-sp"
e2e_check "AcrPull principal cannot push" fails push "$T/sp.json" e2e/denied
e2e_check "role assignment delete" cove role assignment delete --assignee "$APP" --role AcrPull --scope "$REG_ID"
e2e_check "without its role the principal cannot pull" fails pull "$T/sp.json" e2e/app "$T/p-sp2"

# --- repository-scoped token -------------------------------------------------------------------
e2e_check "scope-map create (e2e/app read)" cove acr scope-map create -n app-read -r "$REG" \
  --repository e2e/app content/read metadata/read -o none
tok=$(cove acr token create -n app-reader -r "$REG" --scope-map app-read -o json)
TOKEN_PW=$(jq -r '.credentials.passwords[0].value' <<<"$tok")
e2e_check "token create prints a password" test -n "$TOKEN_PW" -a "$TOKEN_PW" != null
e2e_check "podman login with the token" \
  e2e_podman login --authfile "$T/token.json" -u app-reader --password-stdin "$H" <<<"$TOKEN_PW"
e2e_check "token pulls e2e/app" pull "$T/token.json" e2e/app "$T/p-token"
e2e_check "token cannot pull e2e/other" fails pull "$T/token.json" e2e/other "$T/p-token-other"
e2e_check "token cannot push e2e/app" fails push "$T/token.json" e2e/app
e2e_check "token update --status disabled" cove acr token update -n app-reader -r "$REG" --status disabled -o none
e2e_check "a disabled token cannot log in" fails login "$T/token2.json" app-reader "$TOKEN_PW"
e2e_check "token update --status enabled" cove acr token update -n app-reader -r "$REG" --status enabled -o none
NEW_PW=$(cove acr token credential generate -n app-reader -r "$REG" --password1 \
  --query 'passwords[0].value' -o tsv)
e2e_check "the regenerated password logs in" login "$T/token3.json" app-reader "$NEW_PW"
e2e_check "the replaced password no longer does" fails login "$T/token4.json" app-reader "$TOKEN_PW"

# --- admin user --------------------------------------------------------------------------------
e2e_check "credential show refuses while admin is disabled" fails cove acr credential show -n "$REG"
e2e_check "acr update --admin-enabled true" cove acr update -n "$REG" --admin-enabled true -o none
ADMIN_PW=$(cove acr credential show -n "$REG" --query 'passwords[0].value' -o tsv)
e2e_check "skopeo login with the admin user" login "$T/admin.json" "$REG" "$ADMIN_PW"
e2e_check "admin pushes e2e/admin" push "$T/admin.json" e2e/admin
e2e_check "skopeo inspect with the admin user (tags: metadata_read)" \
  e2e_skopeo inspect --authfile "$T/admin.json" --cert-dir "$E2E_CA_DIR" "docker://$H/e2e/admin:v1"
e2e_check "credential renew --password-name password" \
  cove acr credential renew -n "$REG" --password-name password -o none
e2e_check "the renewed admin password replaces the old one" fails login "$T/admin2.json" "$REG" "$ADMIN_PW"

# --- anonymous pull ----------------------------------------------------------------------------
e2e_check "acr update --anonymous-pull-enabled true" cove acr update -n "$REG" --anonymous-pull-enabled true -o none
e2e_check "anonymous pull works when enabled" pull "$T/none.json" e2e/app "$T/p-anon"
e2e_check "anonymous push is still refused" fails push "$T/none.json" e2e/anon
e2e_check "acr update --anonymous-pull-enabled false" cove acr update -n "$REG" --anonymous-pull-enabled false -o none
e2e_check "anonymous pull refused again" fails pull "$T/none.json" e2e/app "$T/p-anon2"

e2e_finish
