#!/usr/bin/env bash
# Issue 17, item 1: a fresh Debian 12 machine has only what scripts/install-deps installs. CI runs
# on a machine where earlier sessions installed things by hand, so a green run can hide a missing
# install step (it hid `nft`). This test keeps the one list honest:
#   1. every program in install-deps' table (`scripts/install-deps --commands`) is installed and
#      belongs to the Debian package the table names (dpkg -S), so install-deps installs the
#      right thing;
#   2. every tool a test asks e2e_init for and every program a C++ test runs through RunCommand
#      is in the table (the before-stop hook looks further, for programs named anywhere);
#   3. scripts/dev test checks the list before it builds, and up builds only what it runs.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
table=$(bash "$repo/scripts/install-deps" --commands)
passed=0
failed=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}

listed() { awk 'NF {print $1}' <<<"$table" | grep -qxF -- "$1"; }

check "scripts/install-deps lists the programs it installs" test -n "$table"

# 1. Installed, and from the package named (or from a package it depends on, within three
#    steps: dnsutils → bind9-dnsutils, python3 → python3.11 → python3.11-minimal).
owner_of() {  # the package that owns PROGRAM's file (merged /usr: dpkg may know /bin/x)
  local path=$1 real f
  real=$(readlink -f "$path")
  for f in "$real" "$path" "/bin/${path##*/}" "/sbin/${path##*/}" "/usr/sbin/${path##*/}"; do
    dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1 | cut -d, -f1 && return
  done
}
depends_of() {  # the packages PACKAGE depends on (names only)
  dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$1" 2>/dev/null | tr ',|' '\n\n' |
    sed -E 's/\(.*\)//; s/:any//; s/^ *//; s/ *$//' | grep -v '^$'
}
reaches() {  # reaches PACKAGE OWNER: OWNER is PACKAGE or within three Depends steps of it
  local level=($1) next p d
  for _ in 0 1 2 3; do
    next=()
    for p in "${level[@]}"; do
      [[ $p == "$2" ]] && return 0
      for d in $(depends_of "$p"); do next+=("$d"); done
    done
    level=("${next[@]}")
  done
  return 1
}
provides() {  # provides OWNER PACKAGE: installed OWNER declares Provides: PACKAGE
  dpkg-query -W -f='${Provides}' "$1" 2>/dev/null | tr ',' '\n' | sed -E 's/\(.*\)//; s/^ *//; s/ *$//' |
    grep -qxF -- "$2"
}
reaches_or_provided() {  # Debian's npm, or NodeSource's nodejs that provides it
  reaches "$1" "$2" || provides "$2" "$1"
}
while read -r program package; do
  # The Debian file, whatever PATH finds first here (this machine has a pyenv python3 too).
  path=
  for d in /usr/bin /usr/sbin /bin /sbin; do [[ -x $d/$program ]] && { path=$d/$program; break; }; done
  if [[ -z $path ]]; then
    check "$program is installed by a Debian package" false
    continue
  fi
  owner=$(owner_of "$path")
  check "$program comes from package $package ($owner)" reaches_or_provided "$package" "$owner"
done <<<"$table"

# 2a. Tools the e2e tests ask for.
for t in $(grep -rhoE '^\s*e2e_init( [a-z0-9_.+-]+)*' "$repo/tests" | sed 's/e2e_init//'); do
  check "e2e tool $t is listed" listed "$t"
done
# Those e2e_init always checks.
for t in ip openssl curl jq tar gzip sha256sum; do check "e2e base tool $t is listed" listed "$t"; done
# 2b. Programs C++ tests execute.
for t in $(grep -rhoE 'RunCommand\(\{"[a-z0-9_.+-]+"' "$repo/tests" | sed -E 's/.*\{"//; s/"$//' | sort -u); do
  check "C++ test program $t is listed" listed "$t"
done
for t in dig kdig; do
  grep -rqE "\{\"$t\"" "$repo/tests" && check "C++ test program $t is listed" listed "$t"
done
# 3. The README's commands.
check "scripts/dev test checks the list before building" \
  bash -c "awk '/^  test\)/,/;;/' '$repo/scripts/dev' | grep -q check_commands"
check "scripts/dev test builds the tree up builds (build/) with every target" \
  bash -c "awk '/^  test\)/,/;;/' '$repo/scripts/dev' | grep -qE '^ *build build( |$)'"
check "scripts/dev up builds only coved and cove" \
  bash -c "awk '/^  up\)/,/;;/' '$repo/scripts/dev' | grep -qE 'build build -- coved cove'"
check ".ci/run runs scripts/dev test" grep -q 'scripts/dev test' "$repo/.ci/run"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
