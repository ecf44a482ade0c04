#!/usr/bin/env bash
# Issue 17, item 1: a fresh Debian 12 machine has only what scripts/install-deps installs. CI runs
# on a machine where earlier sessions installed things by hand, so a green run can hide a missing
# install step (it hid `nft`). This test keeps the one list honest:
#   1. every program in scripts/required-commands is installed and belongs to the Debian package
#      the list names (dpkg -S), so install-deps installs the right thing;
#   2. every tool a test asks e2e_init for, every program a C++ test runs through RunCommand,
#      and every well-known packaged program named as a command in tests/, bench/ or scripts/ is
#      in the list;
#   3. scripts/dev test checks the list before it builds, and up builds only what it runs.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
list=$repo/scripts/required-commands
passed=0
failed=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}

listed() { awk '!/^#/ && NF {print $1}' "$list" 2>/dev/null | grep -qxF -- "$1"; }

check "scripts/required-commands exists" test -f "$list"

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
while read -r program package; do
  [[ -z $program || $program == \#* ]] && continue
  # The Debian file, whatever PATH finds first here (this machine has a pyenv python3 too).
  path=
  for d in /usr/bin /usr/sbin /bin /sbin; do [[ -x $d/$program ]] && { path=$d/$program; break; }; done
  if [[ -z $path ]]; then
    check "$program is installed by a Debian package" false
    continue
  fi
  check "$program comes from package $package ($(owner_of "$path"))" reaches "$package" "$(owner_of "$path")"
done <"$list"

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
# 2c. Packaged programs named as commands anywhere in tests/, bench/, scripts/.
for t in nft skopeo podman ctr containerd kdig dig dnsperf knotd nsd unbound named pg_ctl initdb \
         azurite swanctl charon-cmd vtysh bgpd crun runc tcpdump iperf3 wrk h2load \
         docker-registry nginx sqlite3 jq taskset setpriv unshare valgrind; do
  if grep -rlE "(^|[[:space:](\`\"'|;&])$t([[:space:]]|\$)" "$repo/tests" "$repo/bench" "$repo/scripts" \
       --include='*.sh' --include='run' --include='dev' --include='fuzz' 2>/dev/null |
       grep -v "^$repo/tests/security/fresh_machine_test.sh" | grep -q .; then
    check "$t (named in a script) is listed" listed "$t"
  fi
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
