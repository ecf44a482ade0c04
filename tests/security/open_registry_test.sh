#!/usr/bin/env bash
# Issue 17 item 4: no open registry behind the closed ones, end to end as root (coved in full
# mode with its fabric, real sockets, curl as the anonymous client).
#
# Shows:
#   - in full mode only the control plane's registries exist: an anonymous push to the embedded
#     default name (myregistry), localhost, a bare IP, an unknown host or no host at all gets
#     404 NAME_UNKNOWN on coved's loopback listener and on a registry's public endpoint in the
#     public network — before and after a registry exists; the registry itself asks for
#     credentials (401);
#   - a registry deleted and created again under its name starts empty (no repositories, no
#     blobs, the old admin password refused);
#   - coved refuses to start with an open registry (no `auth:`) on a listener that is not
#     loopback, and in full mode with a configuration that declares registries; `coved registry`
#     with the defaults on loopback still starts.
# Each fails without the fix (the default registry answered 201 to all of these).
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"

e2e_init
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED)"
T=$E2E_TMP
e2e_fabric_init r
e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (TLS).*/\1/p' "$T/coved.log" | head -1)
  [[ -n $PORT ]] && break
  sleep 0.1
done
[[ -n $PORT ]] || e2e_die "coved logged no TLS listener: $(tail -5 "$T/coved.log")"

blob="pushed by nobody"
digest=sha256:$(printf '%s' "$blob" | sha256sum | cut -d' ' -f1)
# push URL [HOST]: an anonymous monolithic blob push; prints "<status> <error code>". HOST
# "-" sends no Host header; none keeps curl's (the URL's address). Runs curl inside namespace
# $IN when it is set.
IN=""
push() {
  local url=$1 host=${2:-} args=(-sk --max-time 10 -o "$T/body" -w '%{http_code}' -X POST --data-binary "$blob")
  [[ $host == - ]] && args+=(-H 'Host:')
  [[ -n $host && $host != - ]] && args+=(-H "Host: $host")
  local code run=()
  [[ -n $IN ]] && run=(ip netns exec "$IN")
  : >"$T/body"
  code=$("${run[@]}" curl "${args[@]}" "$url/v2/evil/blobs/uploads/?digest=$digest")
  echo "$code $(jq -r '.errors[0].code // empty' "$T/body" 2>/dev/null)"
}
refused_everywhere() {  # URL WHERE: every host that is not a registry gets 404 NAME_UNKNOWN
  local url=$1 where=$2 host
  for host in myregistry.azurecr.io localhost "" evil.example.com -; do
    local label="Host $host"
    [[ -z $host ]] && label="a bare IP (Host ${url#https://})"
    [[ $host == - ]] && label="no Host header"
    e2e_check_eq "$where: anonymous push with $label is NAME_UNKNOWN" \
      "404 NAME_UNKNOWN" "$(push "$url" "$host")"
  done
}

# --- before any registry exists ------------------------------------------------------------------
refused_everywhere "https://127.0.0.1:$PORT" "loopback listener, no registries"

# --- one registry through the control plane ------------------------------------------------------
SUB=/subscriptions/c0ffee00-0000-4000-8000-000000000001
RG=$SUB/resourceGroups/rg
REG=$RG/providers/Microsoft.ContainerRegistry/registries/closedreg
e2e_check "create a resource group" e2e_arm PUT "$RG" '{"location":"westus"}'
create() {
  e2e_arm PUT "$REG" '{"location":"westus","sku":{"name":"Premium"},"properties":{"adminUserEnabled":true}}' >/dev/null &&
    e2e_arm POST "$REG/listCredentials" | jq -r '.passwords[0].value'
}
PW=$(create)
e2e_check "create registry closedreg with its admin user" test -n "$PW" -a "$PW" != null
refused_everywhere "https://127.0.0.1:$PORT" "loopback listener"
e2e_check_eq "closedreg itself wants credentials" "401 UNAUTHORIZED" \
  "$(push "https://127.0.0.1:$PORT" closedreg.azurecr.io)"

# Its public endpoint, in the public network's namespace.
PUB=""
for _ in $(seq 1 100); do
  PUB=$(sed -n 's/.*registry listening on \(203\.0\.113\.[0-9]*\):443 in \([^ ]*\) (link id none.*/\1 \2/p' "$T/coved.log" | tail -1)
  [[ -n $PUB ]] && break
  sleep 0.1
done
if e2e_check "closedreg has a public endpoint ($PUB)" test -n "$PUB"; then
  PUB_IP=${PUB% *} PUB_NS=${PUB#* }
  IN=$PUB_NS
  refused_everywhere "https://$PUB_IP" "public endpoint in the public network"
  e2e_check_eq "public endpoint: closedreg wants credentials" "401 UNAUTHORIZED" \
    "$(push "https://$PUB_IP" closedreg.azurecr.io)"
  IN=""
fi

# --- delete and create again: empty ---------------------------------------------------------------
reg() { curl -sk --max-time 10 -u "closedreg:$1" -H 'Host: closedreg.azurecr.io' "${@:2}"; }
e2e_check_eq "the admin user pushes a blob" 201 "$(reg "$PW" -o /dev/null -w '%{http_code}' -X POST \
  --data-binary "$blob" "https://127.0.0.1:$PORT/v2/app/blobs/uploads/?digest=$digest")"
e2e_check_eq "the catalog lists app" '["app"]' \
  "$(reg "$PW" "https://127.0.0.1:$PORT/v2/_catalog" | jq -c .repositories)"
e2e_check "delete closedreg" e2e_arm DELETE "$REG"
e2e_check_eq "closedreg is gone (NAME_UNKNOWN)" "404 NAME_UNKNOWN" \
  "$(push "https://127.0.0.1:$PORT" closedreg.azurecr.io)"
PW2=$(create)
e2e_check "create closedreg again" test -n "$PW2" -a "$PW2" != null -a "$PW2" != "$PW"
e2e_check_eq "its catalog is empty" '[]' \
  "$(reg "$PW2" "https://127.0.0.1:$PORT/v2/_catalog" | jq -c .repositories)"
e2e_check_eq "the old blob is not there" 404 "$(reg "$PW2" -o /dev/null -w '%{http_code}' \
  "https://127.0.0.1:$PORT/v2/app/blobs/$digest")"
e2e_check_eq "the old admin password is refused" 401 "$(reg "$PW" -o /dev/null -w '%{http_code}' \
  "https://127.0.0.1:$PORT/v2/_catalog")"

# --- configurations that would serve an open registry ---------------------------------------------
# refuses NAME ARGS...: coved exits 2 at once, saying why (a coved that starts is stopped after
# 10 s and the check fails).
refuses() {
  local name=$1 says=$2
  shift 2
  local out rc
  out=$(timeout -k 2 10 "$BIN" "$@" 2>&1)
  rc=$?
  if [[ $rc == 2 ]] && grep -q -- "$says" <<<"$out"; then
    e2e_ok "$name"
  else
    e2e_fail "$name (exit $rc)" "$(tail -3 <<<"$out")"
  fi
}
mkdir -p "$T/d1" "$T/d2" "$T/d3"
refuses "coved registry with the default (open) registry on 0.0.0.0 refuses to start" \
  "myregistry is open" registry --data-dir "$T/d1" --listen 0.0.0.0:0
printf 'data_dir: %s\nlisten: [{address: 127.0.0.1, port: 0}, {address: 198.51.100.9, port: 0}]\nregistries: [{name: openreg}]\n' \
  "$T/d2" >"$T/open.yaml"
refuses "coved registry with an open registry from its file on a public address refuses" \
  "openreg is open" registry --config "$T/open.yaml"
printf 'data_dir: %s\nregistries: [{name: fromfile}]\n' "$T/d3" >"$T/full.yaml"
refuses "full mode with registries in its file refuses to start" "coved registry" \
  --config "$T/full.yaml" --no-fabric --arm-listen 127.0.0.1:0 --listen 127.0.0.1:0
e2e_spawn "$T/plain.log" "$BIN" registry --data-dir "$T/d3" --listen 127.0.0.1:0
for _ in $(seq 1 100); do
  grep -q "coved ready" "$T/plain.log" && break
  kill -0 "$E2E_LAST_PID" 2>/dev/null || break
  sleep 0.1
done
e2e_check "coved registry with the defaults on loopback starts" grep -q "coved ready" "$T/plain.log"

e2e_finish
