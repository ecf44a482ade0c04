#!/usr/bin/env bash
# The Azure SDK for JavaScript from npm (tools/npm's lockfile), unmodified, against a real coved
# (issue 15): tests/sdk/seed_scenario.mjs signs in as coved's bootstrap service principal with
# @azure/identity's ClientSecretCredential and runs the seed scenario through @azure/arm-*
# clients pointed at coved's ARM. Exit 77 (skipped) when node, jq or the packages are missing
# (scripts/install-deps installs them).
set -uo pipefail
COVED=${COVED:?set COVED to the coved binary}
here=$(cd "$(dirname "$0")" && pwd)
npm_dir=$(cd "$here/../../tools/npm" && pwd)
command -v node >/dev/null && command -v jq >/dev/null &&
  [ -d "$npm_dir/node_modules/@azure/identity" ] &&
  [ -d "$npm_dir/node_modules/@azure/arm-network" ] ||
  { echo "node, jq or the @azure packages (scripts/install-deps) missing: skipped"; exit 77; }
source "$here/../cli/lib.sh"
cli_work_dir cove-sdk

# coved: the control plane only, HTTPS with its own CA on a free loopback port.
cli_start_coved "$work" --no-fabric
boot=$work/data/bootstrap.json

cd "$work" || exit 1
COVE_ARM=https://127.0.0.1:$CLI_ARM_PORT \
COVE_TENANT=$(jq -r .tenantId "$boot") \
COVE_CLIENT_ID=$(jq -r .clientId "$boot") \
COVE_CLIENT_SECRET=$(jq -r .clientSecret "$boot") \
COVE_PRINCIPAL_ID=$(jq -r .principalId "$boot") \
COVE_SUBSCRIPTION=c0ffee00-0000-4000-8000-000000000001 \
COVE_NPM_DIR=$npm_dir \
NODE_EXTRA_CA_CERTS=$work/data/tls/ca.crt \
AZURE_IDENTITY_DISABLE_MULTITENANTAUTH=true \
  node "$here/seed_scenario.mjs"
rc=$?
[ $rc -eq 0 ] || { echo "coved's log (last lines):"; tail -20 "$work/coved.log"; }
exit $rc
