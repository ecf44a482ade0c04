# shellcheck shell=bash
# What the crash tests share: a temp dir removed on exit (with every PID in `pids` and coved
# killed first), TAP-like checks with a closing "N passed, M failed" line, and `coved registry`
# on a free loopback port with plain HTTP over one data dir that survives restarts.
#
#   source lib.sh; crash_init PREFIX REGISTRY   → work, data, port, base, pids, passed, failed
#   start_coved                                  → coved_pid, once /v2/ answers
#   check NAME CONDITION...
COVED=${COVED:?set COVED to the coved binary}

crash_init() {  # crash_init PREFIX REGISTRY
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  data=$work/data
  coved_pid=
  pids=()
  passed=0
  failed=0
  trap crash_cleanup EXIT
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base=http://127.0.0.1:$port
  cat >"$work/config.yaml" <<YAML
data_dir: $data
registries: [{name: $2, region: westus}]
default_registry: $2
listen: [{address: 127.0.0.1, port: $port, tls: false}]
YAML
}

crash_cleanup() {
  local p
  for p in "${pids[@]}" $coved_pid; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}

check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}

start_coved() {  # at most ~10 s for /v2/ to answer
  "$COVED" registry --config "$work/config.yaml" --log-level warn 2>>"$work/coved.log" &
  coved_pid=$!
  for _ in $(seq 1 1000); do
    curl -fsS -o /dev/null "$base/v2/" 2>/dev/null && return 0
    kill -0 "$coved_pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "coved did not come up:"; tail -20 "$work/coved.log"; return 1
}
