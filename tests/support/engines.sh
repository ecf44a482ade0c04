# shellcheck shell=bash
# Throwaway storage engines for shell tests and benchmarks: a PostgreSQL 15 cluster and an
# Azurite blob service, each in a directory the caller owns, each stopped by its PID.
#
#   engines_pg_start DIR           initdb + postgres in DIR (unix socket in DIR, no TCP; as the
#                                  unprivileged user `nobody` when root, since PostgreSQL refuses
#                                  root; DIR's parent gets o+x so that `nobody` may enter);
#                                  sets ENGINES_PG_PID and ENGINES_PG_CONN (a key=value
#                                  connection string for user `cove`, database `cove`).
#   engines_azurite_start DIR PORT [WRAP...]
#                                  azurite-blob on 127.0.0.1:PORT with its data in DIR, started
#                                  through WRAP (e.g. `ip netns exec NS`); sets ENGINES_AZ_PID and
#                                  ENGINES_AZ_CONN (an Azure Storage connection string for the
#                                  well-known development account).
#   engines_stop PID               SIGTERM, then SIGKILL after 10 s; waits.
#
# The caller records the PIDs for its own cleanup trap (tests/e2e/lib.sh: E2E_PIDS). Both
# programs come from scripts/install-deps (Debian's postgresql; azurite from npm, locked).
# Readiness is polled with a deadline, never slept for.

ENGINES_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENGINES_PG_BIN=${ENGINES_PG_BIN:-/usr/lib/postgresql/15/bin}
ENGINES_AZURITE=${ENGINES_AZURITE:-$ENGINES_REPO/tools/npm/node_modules/.bin/azurite-blob}
ENGINES_DEV_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

engines_as_pg_user() {
  if ((EUID == 0)); then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

engines_pg_start() {
  local dir=$1 i
  [[ -x $ENGINES_PG_BIN/initdb ]] || { echo "engines: no $ENGINES_PG_BIN/initdb (run scripts/install-deps)" >&2; return 1; }
  mkdir -p "$dir"
  if ((EUID == 0)); then
    chown nobody:nogroup "$dir"
    chmod o+x "$(dirname "$dir")"  # a caller's 0700 temp dir: let `nobody` through, not list it
  fi
  engines_as_pg_user "$ENGINES_PG_BIN/initdb" -D "$dir/data" -U cove --auth=trust \
    --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
    echo "engines: initdb failed: $(tail -5 "$dir/initdb.log")" >&2
    return 1
  }
  engines_as_pg_user "$ENGINES_PG_BIN/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
    >"$dir/postgres.log" 2>&1 &
  ENGINES_PG_PID=$!
  ENGINES_PG_CONN="host=$dir user=cove dbname=cove"
  for ((i = 0; i < 300; i++)); do
    if psql -h "$dir" -U cove -d postgres -qAtc 'SELECT 1' >/dev/null 2>&1; then
      psql -h "$dir" -U cove -d postgres -qc 'CREATE DATABASE cove' >/dev/null 2>&1 || true
      psql -h "$dir" -U cove -d cove -qAtc 'SELECT 1' >/dev/null 2>&1 && return 0
    fi
    kill -0 "$ENGINES_PG_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "engines: postgres did not start: $(tail -5 "$dir/postgres.log")" >&2
  return 1
}

engines_azurite_start() {
  local dir=$1 port=$2 i
  shift 2
  [[ -x $ENGINES_AZURITE ]] || { echo "engines: no $ENGINES_AZURITE (run scripts/install-deps)" >&2; return 1; }
  mkdir -p "$dir"
  "$@" "$ENGINES_AZURITE" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir" \
    --skipApiVersionCheck --silent >"$dir/azurite.log" 2>&1 &
  ENGINES_AZ_PID=$!
  ENGINES_AZ_CONN="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$ENGINES_DEV_KEY;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1"
  for ((i = 0; i < 600; i++)); do
    # Any HTTP answer (400 without a signature) means it listens.
    if "$@" curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/devstoreaccount1?comp=list"; then
      return 0
    fi
    kill -0 "$ENGINES_AZ_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "engines: azurite did not start: $(tail -5 "$dir/azurite.log")" >&2
  return 1
}

engines_stop() {
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
