#!/usr/bin/env bash
# `coved` (no subcommand) runs the control plane next to the registry: its ARM API answers over
# HTTPS (cove's CA) on the loopback port it logs ("arm api listening on 127.0.0.1:PORT") to
# callers with a bearer token (here coved's bootstrap credential, <data>/bootstrap.json), a
# registry created through it is served by the registry node, and the resources survive a
# restart of coved.
set -uo pipefail
COVED=${COVED:?set COVED to the coved binary}
work=$(mktemp -d /tmp/cove-armd.XXXXXX)
pid=
passed=0 failed=0
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}
start() {
  : >"$work/log"
  "$COVED" --config "$work/coved.yaml" --insecure-listen 127.0.0.1:0 --arm-listen 127.0.0.1:0 --no-fabric 2>"$work/log" &
  pid=$!
  arm= reg=
  for _ in $(seq 1 500); do
    arm=$(sed -n 's/.*arm api listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
    reg=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (plain HTTP).*/\1/p' "$work/log" | head -1)
    [ -n "$arm" ] && [ -n "$reg" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }

# No configured registries: every registry served comes from the control plane.
printf 'data_dir: %s\nregistries: []\n' "$work/data" >"$work/coved.yaml"
sub=/subscriptions/c0ffee00-0000-4000-8000-000000000001
rg=$sub/resourceGroups/rg
start
check "coved logs the ARM API port" [ -n "$arm" ]
check "the bootstrap credential is mode 0600" [ "$(stat -c %a "$work/data/bootstrap.json")" = 600 ]
tenant=c0ffee00-0000-4000-8000-0000000000ff
token() {
  curl -sS --cacert "$work/data/tls/ca.crt" -X POST \
    --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$(sed -n 's/.*"clientId": "\([^"]*\)".*/\1/p' "$work/data/bootstrap.json")" \
    --data-urlencode "client_secret=$(sed -n 's/.*"clientSecret": "\([^"]*\)".*/\1/p' "$work/data/bootstrap.json")" \
    "https://127.0.0.1:$arm/$tenant/oauth2/v2.0/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
bearer=$(token)
check "the bootstrap credential signs in" [ -n "$bearer" ]
api() { curl -sS --cacert "$work/data/tls/ca.crt" -o "$work/out" -w '%{http_code}' -X "$1" \
          -H 'Content-Type: application/json' -H "Authorization: Bearer $bearer" \
          ${3:+--data "$3"} "https://127.0.0.1:$arm$2?api-version=2023-01-01"; }
check "GET /subscriptions" [ "$(api GET /subscriptions)" = 200 ]
check "without a token: 401" [ "$(curl -sS --cacert "$work/data/tls/ca.crt" -o /dev/null -w '%{http_code}' \
  "https://127.0.0.1:$arm/subscriptions?api-version=1")" = 401 ]
check "plain HTTP gets no answer" [ "$(curl -s -o /dev/null -w '%{http_code}' \
  "http://127.0.0.1:$arm/subscriptions?api-version=1")" = 000 ]
check "missing api-version is an ARM error" \
  [ "$(curl -sS --cacert "$work/data/tls/ca.crt" -H "Authorization: Bearer $bearer" \
       "https://127.0.0.1:$arm/subscriptions" | grep -c MissingApiVersionParameter)" = 1 ]
check "before it exists, armreg01 is not served" [ "$(curl -sS -o /dev/null -w '%{http_code}' \
  -H 'Host: armreg01.azurecr.io' "http://127.0.0.1:$reg/v2/")" != 200 ]
check "create a resource group" [ "$(api PUT "$rg" '{"location":"westus"}')" = 201 ]
check "create a Premium registry" [ "$(api PUT "$rg/providers/Microsoft.ContainerRegistry/registries/armreg01" \
  '{"location":"westus","sku":{"name":"Premium"},"properties":{"adminUserEnabled":true}}')" = 201 ]
check "its login server" grep -q '"loginServer":"armreg01.azurecr.io"' "$work/out"
check "listCredentials" [ "$(api POST "$rg/providers/Microsoft.ContainerRegistry/registries/armreg01/listCredentials")" = 200 ]
admin="armreg01:$(sed 's/.*"passwords":\[{"name":"password","value":"\([^"]*\)".*/\1/' "$work/out")"
check "it requires authentication" [ "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Host: armreg01.azurecr.io' \
  "http://127.0.0.1:$reg/v2/")" = 401 ]
blob="through the control plane"
digest=sha256:$(printf '%s' "$blob" | sha256sum | cut -d' ' -f1)
check "the registry node serves it" [ "$(curl -sS -u "$admin" -o /dev/null -w '%{http_code}' -H 'Host: armreg01.azurecr.io' \
  -X POST --data-binary "$blob" "http://127.0.0.1:$reg/v2/app/blobs/uploads/?digest=$digest")" = 201 ]
stop
bootstrap_before=$(cat "$work/data/bootstrap.json")
start
check "a restart keeps the bootstrap credential" [ "$(cat "$work/data/bootstrap.json")" = "$bootstrap_before" ]
check "after a restart the registry is still there" \
  [ "$(api GET "$rg/providers/Microsoft.ContainerRegistry/registries/armreg01")" = 200 ]
check "and still served, to the same admin password" \
  [ "$(curl -sS -u "$admin" -H 'Host: armreg01.azurecr.io' "http://127.0.0.1:$reg/v2/app/blobs/$digest")" = "$blob" ]
check "control.db is in the data directory" [ -s "$work/data/control.db" ]
stop
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
