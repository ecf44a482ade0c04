#!/usr/bin/env bash
# `coved registry` runs unprivileged: as root this test drops to nobody (setpriv), otherwise it
# runs as the current user. With only the embedded defaults plus a data dir, coved must create
# its CA, serve TLS on 127.0.0.1:5443 with a certificate for the registry's name that verifies
# against that CA, accept a push and serve it back.
set -uo pipefail
COVED=${COVED:?set COVED to the coved binary}
work=$(mktemp -d /tmp/cove-unpriv.XXXXXX)
chmod 755 "$work"
pid=
passed=0 failed=0
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}

mkdir -p "$work/home"
run=()
if [ "$(id -u)" = 0 ]; then
  chown 65534:65534 "$work/home"
  run=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
"${run[@]}" env HOME="$work/home" "$COVED" registry 2>"$work/log" &
pid=$!
ca=$work/home/.local/share/cove/tls/ca.crt
url=https://myregistry.azurecr.io:5443
c=(curl -sS --cacert "$ca" --resolve myregistry.azurecr.io:5443:127.0.0.1)
for _ in $(seq 1 300); do
  [ -s "$ca" ] && "${c[@]}" -o /dev/null "$url/v2/" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
check "coved runs as uid $("${run[@]}" id -u) and answers /v2/ over TLS" \
  [ "$("${c[@]}" -o /dev/null -w '%{http_code}' "$url/v2/")" = 200 ]
check "its data lives under \$HOME/.local/share/cove" [ -s "$ca" ]
blob="hello from an unprivileged registry"
digest=sha256:$(printf '%s' "$blob" | sha256sum | cut -d' ' -f1)
check "push" [ "$("${c[@]}" -o /dev/null -w '%{http_code}' -X POST --data-binary "$blob" \
  "$url/v2/app/blobs/uploads/?digest=$digest")" = 201 ]
check "pull (via the data endpoint's 307)" [ "$("${c[@]}" --resolve myregistry.westus.data.azurecr.io:5443:127.0.0.1 -L "$url/v2/app/blobs/$digest")" = "$blob" ]
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
