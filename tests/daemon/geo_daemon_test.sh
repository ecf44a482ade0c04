#!/usr/bin/env bash
# Regions as failure domains, without the fabric (no root needed): coved runs one `coved region`
# process per region of a geo-replicated registry behind its loopback TLS listener (routed by
# SNI). Shows: a push through the home region replicates to eastus (acr replication status goes
# Ready); with westus killed (kill -9; --region-restart manual keeps it down) its replication says
# Failed, the login server is served by eastus, a blob GET redirects to eastus's data host, and a
# push goes on there; after SIGHUP westus comes back, catches up, and serves the outage's push
# with eastus killed in turn (no peer to read through: it was replicated). Deleting the
# replication stops eastus and deletes its data. The backbone refuses requests without the key
# and the region's client listener refuses connections that are not from a forwarder.
set -uo pipefail
COVED=${COVED:?set COVED to the coved binary}
work=$(mktemp -d /tmp/cove-geo.XXXXXX)
pid=
passed=0 failed=0
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  # Region processes die with coved (PR_SET_PDEATHSIG); a straggler is stopped by its pid file.
  for f in "$work"/data/regions/*/pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}
check_eq() {
  local name=$1 want=$2 got=$3
  if [ "$want" = "$got" ]; then passed=$((passed + 1)); echo "ok - $name"
  else failed=$((failed + 1)); echo "not ok - $name"; echo "#   expected: $want"; echo "#   actual:   $got"; fi
}
# until_true SECONDS CMD...: polls CMD (every 50 ms) until it succeeds or SECONDS pass.
until_true() {
  local deadline=$((SECONDS + $1)); shift
  while ! "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.05; done
}

"$COVED" --data-dir "$work/data" --listen 127.0.0.1:0 --arm-listen 127.0.0.1:0 --no-fabric \
  --region-restart manual 2>"$work/log" &
pid=$!
arm= reg=
for _ in $(seq 1 500); do
  arm=$(sed -n 's/.*arm api listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
  reg=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (TLS), forwarded.*/\1/p' "$work/log" | head -1)
  [ -n "$arm" ] && [ -n "$reg" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
check "coved is up" [ -n "$arm" -a -n "$reg" ]
CA=$work/data/tls/ca.crt
tenant=c0ffee00-0000-4000-8000-0000000000ff
bearer=$(curl -sS --cacert "$CA" -X POST --data-urlencode grant_type=client_credentials \
  --data-urlencode "client_id=$(jq -r .clientId "$work/data/bootstrap.json")" \
  --data-urlencode "client_secret=$(jq -r .clientSecret "$work/data/bootstrap.json")" \
  "https://127.0.0.1:$arm/$tenant/oauth2/v2.0/token" | jq -r .access_token)
api() { curl -sS --cacert "$CA" -o "$work/out" -w '%{http_code}' -X "$1" \
          -H 'Content-Type: application/json' -H "Authorization: Bearer $bearer" \
          ${3:+--data "$3"} "https://127.0.0.1:$arm$2?api-version=2023-09-01"; }
RG=/subscriptions/c0ffee00-0000-4000-8000-000000000001/resourceGroups/rg
ACR=$RG/providers/Microsoft.ContainerRegistry/registries/geo01
check_eq "resource group" 201 "$(api PUT "$RG" '{"location":"westus"}')"
check_eq "Premium registry in westus, data endpoint on" 201 "$(api PUT "$ACR" \
  '{"location":"westus","sku":{"name":"Premium"},"properties":{"adminUserEnabled":true,"dataEndpointEnabled":true}}')"
check_eq "replication to eastus" 201 "$(api PUT "$ACR/replications/eastus" '{"location":"eastus"}')"
api POST "$ACR/listCredentials" >/dev/null
admin="geo01:$(jq -r '.passwords[0].value' "$work/out")"
check "a process per region, each with its own data" \
  [ -f "$work/data/regions/westus/pid" -a -f "$work/data/regions/eastus/pid" -a -f "$work/data/regions/eastus/meta.db" ]

H=geo01.azurecr.io
resolve=(--resolve "$H:$reg:127.0.0.1" --resolve "geo01.westus.data.azurecr.io:$reg:127.0.0.1"
         --resolve "geo01.eastus.data.azurecr.io:$reg:127.0.0.1")
reg_curl() { curl -sS --cacert "$CA" -u "$admin" "${resolve[@]}" "$@"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# push TAG LAYER: a config blob, one layer blob and an OCI manifest tagged TAG; prints the
# manifest's HTTP status.
push() {
  local tag=$1 layer=$2 config='{"architecture":"amd64","os":"linux"}' manifest
  for b in "$config" "$layer"; do
    reg_curl -o /dev/null -X POST --data-binary "$b" \
      "https://$H:$reg/v2/app/blobs/uploads/?digest=sha256:$(sha "$b")"
  done
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
    "$(sha "$config")" "${#config}" "$(sha "$layer")" "${#layer}")
  reg_curl -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "$manifest" "https://$H:$reg/v2/app/manifests/$tag"
}
manifest_status() { reg_curl -o /dev/null -w '%{http_code}' "https://$H:$reg/v2/app/manifests/$1"; }
replication_status() { api GET "$ACR/replications/$1" >/dev/null; jq -r .properties.status.displayStatus "$work/out"; }
is_status() { [ "$(replication_status "$1")" = "$2" ]; }

check_eq "push v1 through the login server (home region)" 201 "$(push v1 "layer one")"
check "eastus catches up: its replication says Ready" until_true 30 is_status eastus Ready
check "westus says Ready too" is_status westus Ready
usage_size() { api GET "$ACR/listUsages" >/dev/null; jq -r '.value[] | select(.name=="Size") | .currentValue' "$work/out"; }
# config (37 bytes) + layer (9) + the manifest's bytes, as the home region counts them.
check "acr show-usage's Size comes from the region: blobs and manifest" [ "$(usage_size)" -gt 46 ]

# westus goes down hard.
west_pid=$(cat "$work/data/regions/westus/pid")
kill -9 "$west_pid"
check "westus's replication says Failed" until_true 10 is_status westus Failed
check_eq "the login server is served by eastus: v1" 200 "$(manifest_status v1)"
loc=$(reg_curl -o /dev/null -w '%{redirect_url}' "https://$H:$reg/v2/app/blobs/sha256:$(sha "layer one")")
echo "# redirect: $loc"
check "a blob GET redirects to eastus's data host" grep -q "^https://geo01.eastus.data.azurecr.io[:/]" <<<"$loc"
check_eq "and eastus's data host serves it" "layer one" \
  "$(reg_curl -L "https://$H:$reg/v2/app/blobs/sha256:$(sha "layer one")")"
check_eq "push v2 while westus is down (eastus takes it)" 201 "$(push v2 "layer two, pushed in the outage")"

# westus comes back (SIGHUP restarts dead regions) and catches up from eastus.
kill -HUP "$pid"
check "westus is back" until_true 30 sh -c "[ -f '$work/data/regions/westus/pid' ] && [ \"\$(cat '$work/data/regions/westus/pid')\" != $west_pid ]"
check "westus catches up: Ready" until_true 30 is_status westus Ready
kill -9 "$(cat "$work/data/regions/eastus/pid")"
check "eastus's replication says Failed" until_true 10 is_status eastus Failed
check_eq "westus alone serves v2, pushed in eastus during its outage" 200 "$(manifest_status v2)"
check_eq "and its layer" "layer two, pushed in the outage" \
  "$(reg_curl -L "https://$H:$reg/v2/app/blobs/sha256:$(sha "layer two, pushed in the outage")")"
kill -HUP "$pid"
check "eastus is back" until_true 30 is_status eastus Ready

# The backbone wants the key; a region's client listener wants a forwarder.
backbone=$(sed -n 's/.*region westus: pid [0-9]*, backbone 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log" | tail -1)
check_eq "the backbone without the key: 401" 401 \
  "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$backbone/cove/region/v1/status")"
check_eq "the backbone with a wrong key: 401" 401 \
  "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(printf '0%.0s' {1..64})" \
     "https://127.0.0.1:$backbone/cove/replication/v1/changes?after=0&region=eastus")"
client=$(sed -n 's/.*region westus: pid [0-9]*, backbone .* (clients \([0-9]*\),.*/\1/p' "$work/log" | tail -1)
check "a region's client listener closes a connection that is not a forwarder's" \
  sh -c "! curl -sS --cacert '$CA' --max-time 5 --resolve '$H:$client:127.0.0.1' -o /dev/null 'https://$H:$client/v2/' 2>/dev/null"

# Removing the replica stops its region and deletes its data.
check_eq "delete the eastus replication" 200 "$(api DELETE "$ACR/replications/eastus")"
check "eastus's data is gone" until_true 10 sh -c "[ ! -e '$work/data/regions/eastus' ]"
check_eq "westus still serves v1" 200 "$(manifest_status v1)"

echo "1..$((passed + failed))"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
