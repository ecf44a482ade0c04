# shellcheck shell=bash
# Helpers sourced by the CLI's shell tests (tests/cli/*_test.sh): checks that print one TAP-like
# line each and count into $passed / $failed, and a coved started on a fresh data dir.
#
# The caller owns what it starts: cli_start_coved leaves the PID in $CLI_COVED_PID for the
# caller's EXIT trap to stop (by PID).

passed=0 failed=0

# check NAME CMD...: runs CMD; "ok - NAME" or "not ok - NAME".
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}
# eq ACTUAL EXPECTED: equal, or both printed.
eq() { [ "$1" = "$2" ] || { echo "  expected: $2"; echo "  actual:   $1"; return 1; }; }

# cli_start_coved DIR [COVED ARGS...]: starts $COVED with its control plane on a free loopback
# port (HTTPS, cove's CA in DIR/data/tls/ca.crt) and data in DIR/data, stderr in DIR/coved.log;
# waits until it listens. Sets CLI_COVED_PID and CLI_ARM_PORT; exits 1 with the log when coved
# does not start.
cli_start_coved() {
  local dir=$1; shift
  mkdir -p "$dir/data"
  "$COVED" --arm-listen 127.0.0.1:0 --insecure-listen 127.0.0.1:0 --data-dir "$dir/data" \
    "$@" 2>"$dir/coved.log" &
  CLI_COVED_PID=$!
  CLI_ARM_PORT=
  for _ in $(seq 1 3000); do
    CLI_ARM_PORT=$(sed -n 's/.*arm api listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/coved.log" | head -1)
    [ -n "$CLI_ARM_PORT" ] && break
    kill -0 "$CLI_COVED_PID" 2>/dev/null || break
    sleep 0.01
  done
  if [ -z "$CLI_ARM_PORT" ]; then echo "coved did not start:"; cat "$dir/coved.log"; exit 1; fi
}

# cli_work_dir NAME: a fresh temp dir in $work (/tmp/NAME.XXXXXX) and an EXIT trap that stops
# the coved cli_start_coved starts there (by its PID) and deletes the dir.
cli_work_dir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  CLI_COVED_PID=
  trap cli_stop_and_clean EXIT
}
cli_stop_and_clean() {
  if [ -n "${CLI_COVED_PID:-}" ]; then kill "$CLI_COVED_PID" 2>/dev/null && wait "$CLI_COVED_PID" 2>/dev/null; fi
  rm -rf "$work"
}

# az_setup DIR: az's environment for the az tests (a config dir DIR/az of its own, no telemetry
# or colours) and the working directory DIR, so az picks up nothing from the caller's; defines
# run NAME CMD... (runs az, stdout in DIR/NAME.json, stderr in DIR/NAME.err, the error's end
# printed when it fails) and out NAME (that stdout).
az_setup() {
  AZ_DIR=$1
  export AZURE_CONFIG_DIR=$AZ_DIR/az AZURE_CORE_COLLECT_TELEMETRY=false AZURE_CORE_NO_COLOR=true \
    AZURE_CORE_ONLY_SHOW_ERRORS=false
  mkdir -p "$AZURE_CONFIG_DIR"
  cd "$AZ_DIR" || exit 1
}
run() {
  local name=$1; shift
  az "$@" >"$AZ_DIR/$name.json" 2>"$AZ_DIR/$name.err"; local rc=$?
  [ $rc -eq 0 ] || { echo "  az $* exited $rc:"; sed 's/^/    /' "$AZ_DIR/$name.err" | tail -5; }
  return $rc
}
out() { cat "$AZ_DIR/$1.json"; }
