#!/usr/bin/env bash
# Several stateless registry nodes (README "Running several nodes"): three `coved registry`
# nodes over one PostgreSQL cluster and one Azure Blob Storage account (Azurite), behind HAProxy
# terminating TLS and balancing every request round-robin onto a new connection with PROXY v2,
# so that one push's requests land on different nodes, and a blob GET's signed data-endpoint URL
# is verified by another node than the one that signed it. skopeo pushes several multi-layer images
# while node 2 is killed -9 with an upload open; every push skopeo acknowledged pulls back
# byte-identical through each surviving node alone; the killed node's restart serves them too.
# Also: /cove/health through the balancer, and a node refusing to start against a PostgreSQL it
# cannot reach, naming it without its password.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../support/engines.sh"

[[ ${COVE_E2E_TARGET:-distribution} == coved ]] || e2e_skip "several nodes are coved's"
e2e_init skopeo haproxy psql setpriv
BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED=/path/to/coved)"
HASHER=${COVE_HASH_PASSWORD:-$(dirname "$BIN")/../auth/cove-hash-password}
[[ -x $HASHER ]] || e2e_die "cove-hash-password not built (set COVE_HASH_PASSWORD)"
e2e_netns_create
H=$E2E_HOST
T=$E2E_TMP

# ---- engines -------------------------------------------------------------------------------
engines_pg_start "$T/pg" || e2e_die "PostgreSQL did not start"
E2E_PIDS+=("$ENGINES_PG_PID")
engines_azurite_start "$T/azurite" 10000 ip netns exec "$E2E_NS" || e2e_die "Azurite did not start"
E2E_PIDS+=("$ENGINES_AZ_PID")
export COVE_METADATA=$ENGINES_PG_CONN COVE_BLOBS=$ENGINES_AZ_CONN

# ---- three nodes ---------------------------------------------------------------------------
ADMIN_PW=$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)
ADMIN_HASH=$(printf '%s\n' "$ADMIN_PW" | "$HASHER")
mkdir -p "$T/secrets"
declare -A NODE_PID
start_node() {  # N
  local n=$1
  mkdir -p "$T/node$n"
  cat >"$T/node$n/config.yaml" <<EOF
data_dir: $T/node$n/data
secrets_dir: $T/secrets
dns_suffix: $E2E_DNS_SUFFIX
listen:
  - {address: 127.0.0.1, port: 500$n, tls: false, proxy_protocol: true, proxy_sources: [127.0.0.1/32]}
registries: [{name: $E2E_REGISTRY_NAME, region: $E2E_REGION, data_endpoint_enabled: true}]
auth:
  registries:
    - name: $E2E_REGISTRY_NAME
      admin_user: {enabled: true, password_hashes: ["$ADMIN_HASH"]}
EOF
  e2e_spawn "$T/node$n/coved.log" ip netns exec "$E2E_NS" "$BIN" registry --config "$T/node$n/config.yaml"
  NODE_PID[$n]=$E2E_LAST_PID
  local i
  for ((i = 0; i < 200; i++)); do
    grep -q "listening on" "$T/node$n/coved.log" 2>/dev/null && return 0
    kill -0 "${NODE_PID[$n]}" 2>/dev/null || break
    sleep 0.05
  done
  e2e_die "node $n did not start: $(tail -5 "$T/node$n/coved.log")"
}
# The first node makes the shared CA; the others find it.
for n in 1 2 3; do start_node "$n"; done
e2e_ok "three nodes started over one PostgreSQL and one Azurite account"

# ---- the balancer --------------------------------------------------------------------------
# A certificate for the login server from the nodes' CA; HAProxy terminates TLS.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$H" \
  -keyout "$T/lb.key" -out "$T/lb.csr" 2>/dev/null &&
  openssl x509 -req -in "$T/lb.csr" -CA "$T/secrets/tls/ca.crt" -CAkey "$T/secrets/tls/ca.key" \
    -CAcreateserial -days 1 -extfile <(printf 'subjectAltName=DNS:%s,DNS:%s' "$H" "$E2E_DATA_HOST") -out "$T/lb.crt" 2>/dev/null ||
  e2e_die "cannot issue the balancer's certificate"
cat "$T/lb.crt" "$T/lb.key" >"$T/lb.pem"
mkdir -p "$T/ca" && cp "$T/secrets/tls/ca.crt" "$T/ca/ca.crt"
cat >"$T/haproxy.cfg" <<EOF
global
  maxconn 2000
  log stdout format raw local0 info
defaults
  mode http
  log global
  option httplog
  option http-server-close
  option redispatch
  retries 3
  timeout connect 2s
  timeout client 120s
  timeout server 120s
backend nodes
  balance roundrobin
  option httpchk
  http-check send meth GET uri /cove/health ver HTTP/1.1 hdr Host localhost
  default-server send-proxy-v2 check check-send-proxy inter 300 fall 1 rise 1
  server n1 127.0.0.1:5001
  server n2 127.0.0.1:5002
  server n3 127.0.0.1:5003
frontend registry
  bind 127.0.0.1:443 ssl crt $T/lb.pem
  default_backend nodes
EOF
for n in 1 2 3; do  # one front door per node, to read back from each alone
  cat >>"$T/haproxy.cfg" <<EOF
backend only$n
  server n$n 127.0.0.1:500$n send-proxy-v2
frontend front$n
  bind 127.0.0.1:444$n ssl crt $T/lb.pem
  default_backend only$n
EOF
done
e2e_spawn "$T/haproxy.log" ip netns exec "$E2E_NS" haproxy -db -f "$T/haproxy.cfg"
e2e_wait_http "https://$H/cove/health" "$T/ca/ca.crt" "$E2E_LAST_PID" ||
  e2e_die "haproxy did not answer: $(tail -5 "$T/haproxy.log")"
health=$(e2e_curl "https://$H/cove/health")
e2e_check_eq "health through the balancer" '{"blobs":"ok","metadata":"ok","status":"ok"}' \
  "$(jq -cS . <<<"$health")"

# ---- pushes while a node dies ----------------------------------------------------------------
# The admin user is the registry's name (ACR's rule).
CREDS="$E2E_REGISTRY_NAME:$ADMIN_PW"
SRC="$T/src"
TAGS=(v1 v2 v3 v4 v5 v6)
for t in "${TAGS[@]}"; do e2e_make_image "$SRC" "$t" --layers 4 >/dev/null; done
push() {  # TAG
  e2e_skopeo copy --retry-times 3 --dest-creds "$CREDS" --dest-cert-dir "$T/ca" \
    "oci:$SRC:$1" "docker://$H/scale/app:$1" >"$T/push-$1.log" 2>&1
}
uploads_open() {
  psql "$ENGINES_PG_CONN" -qAtc "SELECT count(*) FROM cove.uploads" 2>/dev/null || echo 0
}
(
  for t in "${TAGS[@]}"; do
    if push "$t"; then echo "$t" >>"$T/acknowledged"; fi
  done
) &
PUSHER=$!
E2E_PIDS+=("$PUSHER")
# Kill node 2 once the second image is acknowledged and an upload is open somewhere.
killed=0
for ((i = 0; i < 2000; i++)); do
  if [[ $(wc -l <"$T/acknowledged" 2>/dev/null || echo 0) -ge 2 ]] && (($(uploads_open) > 0)); then
    kill -KILL "${NODE_PID[2]}" && killed=1
    break
  fi
  kill -0 "$PUSHER" 2>/dev/null || break
  sleep 0.01
done
wait "$PUSHER"
e2e_check "node 2 was killed -9 with an upload open" test "$killed" = 1
mapfile -t ACKED <"$T/acknowledged"
e2e_check_eq "every push was acknowledged (skopeo retried what the dead node dropped)" \
  "${TAGS[*]}" "${ACKED[*]}"
# Requests of one push went to different nodes (HAProxy's log names the server of each).
servers=$(grep -E '"(PATCH|PUT) /v2/scale/app/blobs/uploads/' "$T/haproxy.log" |
  grep -oE 'nodes/n[123]' | sort -u | wc -l)
e2e_check "upload requests landed on several nodes ($servers)" test "$servers" -ge 2

verify_from() {  # PORT LABEL
  local port=$1 label=$2 t bad=0
  for t in "${ACKED[@]}"; do
    rm -rf "$T/pull"
    if ! e2e_skopeo copy --src-creds "$CREDS" --src-cert-dir "$T/ca" \
      "docker://$H:$port/scale/app:$t" "oci:$T/pull:$t" >"$T/pull-$label-$t.log" 2>&1; then
      echo "# pull of $t from $label failed: $(tail -2 "$T/pull-$label-$t.log")"
      bad=1
      continue
    fi
    local want got
    want=$(e2e_layout_digest "$SRC" "$t")
    got=$(e2e_layout_digest "$T/pull" "$t")
    if [[ $want != "$got" ]] || ! e2e_layout_verify "$T/pull" >/dev/null; then
      echo "# $t from $label: manifest $got, want $want"
      bad=1
      continue
    fi
    local l
    for l in $(e2e_layout_layers "$SRC" "$want"); do
      cmp -s "$(e2e_layout_blob "$SRC" "$l")" "$(e2e_layout_blob "$T/pull" "$l")" || bad=1
    done
  done
  return $bad
}
e2e_check "every acknowledged image pulls back byte-identical from node 1 alone" verify_from 4441 n1
e2e_check "every acknowledged image pulls back byte-identical from node 3 alone" verify_from 4443 n3
start_node 2
e2e_check "node 2, restarted, serves them too" verify_from 4442 n2

# ---- refusing an engine it cannot reach -------------------------------------------------------
out=$(COVE_METADATA="postgresql://cove:s3cret@127.0.0.1:1/cove?connect_timeout=2" \
  timeout 30 ip netns exec "$E2E_NS" "$BIN" registry --config "$T/node1/config.yaml" 2>&1)
rc=$?
e2e_check "a node refuses to start against a PostgreSQL it cannot reach" test "$rc" -ne 0
e2e_check "the refusal names the engine" grep -q "metadata (PostgreSQL" <<<"$out"
e2e_check "the refusal does not print the password" bash -c '! grep -q s3cret <<<"$1"' _ "$out"

e2e_finish
