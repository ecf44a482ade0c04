# shellcheck shell=bash
# Helpers sourced by every end-to-end test in tests/e2e/.
#
# What it gives a test:
#   - checks that print one TAP-like line each and a closing "N passed, M failed" line
#     (e2e_check, e2e_ok, e2e_fail, e2e_finish);
#   - OCI image layouts built by hand, with no network (e2e_make_image);
#   - a network-namespace sandbox (e2e_netns_create, e2e_ns) whose /etc/hosts maps the
#     registry's real host names to 127.0.0.1, so clients use real names and real TLS
#     verification without touching the host's /etc;
#   - the registry under test, chosen by COVE_E2E_TARGET=distribution|coved, started inside
#     the namespace on 127.0.0.1:443 with TLS (e2e_start_registry);
#   - a private containerd for ctr (e2e_start_containerd) and podman flags (e2e_podman).
#
# Ownership and cleanup: everything a test starts or creates is recorded here (PIDs in
# E2E_PIDS, namespaces in E2E_NETNS, directories in E2E_DIRS) and removed by an EXIT trap, also
# when the test fails or is interrupted. Processes are stopped by PID only.
#
# Needs root (network namespaces, containerd). A test calls e2e_init first; without root it
# prints "skipped: ..." and exits 0 (or $E2E_SKIP_CODE, which ctest sets to 77 so that it
# reports the test as skipped). A missing tool is a failure, never a skip: every program a test
# runs is in scripts/install-deps' table of programs and installed by it.
#
# Environment:
#   COVE_E2E_TARGET   distribution (default) or coved
#   COVED             path to the coved binary (default: <repo>/build/src/daemon/coved)
#   E2E_KEEP=1        keep the temp dir and namespace for debugging (processes are still stopped)
#   E2E_VERBOSE=1     print each command's output, not only on failure

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_LIB_DIR/../.." && pwd)
E2E_TARGET=${COVE_E2E_TARGET:-distribution}

# Names the registry answers to inside the namespace.
E2E_REGISTRY_NAME=${E2E_REGISTRY_NAME:-myregistry}
E2E_DNS_SUFFIX=${E2E_DNS_SUFFIX:-azurecr.io}
E2E_REGION=${E2E_REGION:-westus}
E2E_HOST="${E2E_REGISTRY_NAME}.${E2E_DNS_SUFFIX}"
E2E_DATA_HOST="${E2E_REGISTRY_NAME}.${E2E_REGION}.data.${E2E_DNS_SUFFIX}"

E2E_PIDS=()
E2E_NETNS=()
E2E_DIRS=()
E2E_PASS=0
E2E_FAILS=0
E2E_N=0
E2E_TMP=""
E2E_NS=""
E2E_CA_DIR=""  # holds ca.crt for the registry under test (skopeo --*-cert-dir, ctr --tlscacert)

# ---------------------------------------------------------------------------------------------
# Setup and cleanup

e2e_log() { echo "# $*"; }

e2e_die() {
  echo "Bail out! $*"
  e2e_finish_counts_only
  exit 1
}

e2e_skip() {
  echo "# skipped: $*"
  exit "${E2E_SKIP_CODE:-0}"
}

# e2e_init [TOOL...]: checks root and tools, makes the temp dir, installs the cleanup trap.
e2e_init() {
  [[ $(id -u) -eq 0 ]] || e2e_skip "needs root (network namespaces)"
  local t missing=()
  for t in ip openssl curl jq tar gzip sha256sum "$@"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  ((${#missing[@]} == 0)) ||
    e2e_die "missing tools: ${missing[*]} (scripts/install-deps must install them: add them to its table)"
  E2E_TMP=$(mktemp -d /tmp/cove-e2e.XXXXXX)
  E2E_DIRS+=("$E2E_TMP")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Stops one PID: TERM, up to ~5 s of polling, then KILL.
e2e_stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

e2e_cleanup() {
  local rc=$? i
  trap - EXIT
  for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
    e2e_stop_pid "${E2E_PIDS[i]}"
  done
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    echo "# E2E_KEEP=1: kept ${E2E_DIRS[*]} and namespaces ${E2E_NETNS[*]}"
    exit "$rc"
  fi
  local ns
  for ns in "${E2E_NETNS[@]}"; do
    # Unmount anything a client (containerd snapshots, podman) left mounted under our dirs.
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  local d m
  for d in "${E2E_DIRS[@]}"; do
    [[ -n $d && -d $d ]] || continue
    # Lazy-unmount leftovers (e.g. containerd's overlay snapshots) before removing.
    while read -r m; do umount -l "$m" 2>/dev/null; done < <(awk -v p="$d" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r)
    rm -rf "$d"
  done
  exit "$rc"
}

# e2e_spawn LOG CMD...: runs CMD in the background, records its PID in E2E_PIDS and
# E2E_LAST_PID. CMD is exec'd directly (no wrapper shell), so the PID is the process itself.
e2e_spawn() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 </dev/null &
  E2E_LAST_PID=$!
  E2E_PIDS+=("$E2E_LAST_PID")
}

# ---------------------------------------------------------------------------------------------
# Checks

e2e_ok() {
  E2E_N=$((E2E_N + 1))
  E2E_PASS=$((E2E_PASS + 1))
  echo "ok $E2E_N - $1"
}

e2e_fail() {
  E2E_N=$((E2E_N + 1))
  E2E_FAILS=$((E2E_FAILS + 1))
  echo "not ok $E2E_N - $1"
  [[ -n ${2:-} ]] && printf '%s\n' "$2" | sed 's/^/#   /'
  return 0
}

# e2e_check NAME CMD...: runs CMD, passes if it exits 0. Output is shown only on failure
# (or with E2E_VERBOSE=1). Returns CMD's status so callers can stop a dependent sequence.
e2e_check() {
  local name=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  [[ ${E2E_VERBOSE:-0} == 1 && -n $out ]] && printf '%s\n' "$out" | sed 's/^/#   /'
  if ((rc == 0)); then
    e2e_ok "$name"
  else
    e2e_fail "$name (exit $rc)" "$(printf '%s\n' "$out" | tail -n 20)"
  fi
  return "$rc"
}

# e2e_wait SECONDS CMD...: runs CMD every half second until it succeeds (0) or SECONDS pass (1).
# For states that arrive asynchronously (a container group's pull, a restart); never a fixed sleep.
e2e_wait() {
  local deadline=$((SECONDS + $1))
  shift
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# e2e_check_eq NAME EXPECTED ACTUAL
e2e_check_eq() {
  if [[ $2 == "$3" ]]; then
    e2e_ok "$1"
  else
    e2e_fail "$1" "expected: $2"$'\n'"actual:   $3"
    return 1
  fi
}

e2e_finish_counts_only() {
  echo "$E2E_PASS passed, $E2E_FAILS failed"
}

# Prints the closing line and exits non-zero if anything failed (or nothing ran).
e2e_finish() {
  echo "1..$E2E_N"
  e2e_finish_counts_only
  ((E2E_FAILS == 0 && E2E_PASS > 0)) && exit 0
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Network namespace sandbox

E2E_NS_COUNT=0

# e2e_netns_create: makes cove-e2e-$$-N with lo up, hosts and resolv.conf; sets E2E_NS.
# Extra host names (mapped to 127.0.0.1) may be given as arguments.
# shellcheck disable=SC2120  # host names are optional
e2e_netns_create() {
  E2E_NS_COUNT=$((E2E_NS_COUNT + 1))
  local ns="cove-e2e-$$-$E2E_NS_COUNT"
  ip netns add "$ns" || e2e_die "ip netns add $ns failed"
  E2E_NETNS+=("$ns")
  ip -n "$ns" link set lo up || e2e_die "cannot set lo up in $ns"
  mkdir -p "/etc/netns/$ns"
  {
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    echo "127.0.0.1 $E2E_HOST $E2E_DATA_HOST $*"
  } >"/etc/netns/$ns/hosts"
  echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
  E2E_NS=$ns
}

# e2e_ns CMD...: runs CMD inside the current namespace (with its /etc/hosts), killed after
# E2E_CMD_TIMEOUT seconds (default 120) so that a hung client cannot hang the test.
e2e_ns() { timeout -k 5 "${E2E_CMD_TIMEOUT:-120}" ip netns exec "$E2E_NS" "$@"; }

# e2e_ns_trust_ca CADIR: makes podman and other containers/image clients inside the namespace
# trust the registry's CA by default, as a configured VM would: copies the host's
# /etc/containers (ip netns exec bind-mounts /etc/netns/NS/containers over it) and adds
# certs.d/HOST/ca.crt for both host names.
e2e_ns_trust_ca() {
  local cadir=$1 d="/etc/netns/$E2E_NS/containers" h
  mkdir -p "$d"
  [[ -d /etc/containers ]] && cp -a /etc/containers/. "$d/"
  for h in "$E2E_HOST" "$E2E_DATA_HOST"; do
    mkdir -p "$d/certs.d/$h"
    cp "$cadir/ca.crt" "$d/certs.d/$h/ca.crt"
  done
}

# ---------------------------------------------------------------------------------------------
# TLS

# e2e_make_tls DIR HOST...: CA (ca.crt, ca.key) and a server certificate for the hosts
# (server.crt, server.key), all EC P-256.
e2e_make_tls() {
  local dir=$1
  shift
  mkdir -p "$dir"
  local san="" h
  for h in "$@"; do san+="${san:+,}DNS:$h"; done
  san+=",IP:127.0.0.1"
  (
    set -e
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=cove e2e CA" -keyout ca.key -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=$1" -keyout server.key -out server.csr
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' \
      "$san" >ext.cnf
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile ext.cnf -out server.crt
  ) >"$dir/openssl.log" 2>&1 || e2e_die "openssl failed: $(tail -5 "$dir/openssl.log")"
}

# ---------------------------------------------------------------------------------------------
# Registry under test

# e2e_wait_http URL CAFILE PID [TRIES]: polls URL from inside the namespace until it answers
# with any HTTP status below 500 (200 or 401 both mean "up"), every 0.1 s, at most TRIES times
# (default 100). Fails early if PID died.
e2e_wait_http() {
  local url=$1 ca=$2 pid=$3 tries=${4:-100} i code
  for ((i = 0; i < tries; i++)); do
    code=$(e2e_ns curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$ca" "$url")
    [[ $code =~ ^[1-4][0-9][0-9]$ ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

e2e_start_distribution() {
  local dir="$E2E_TMP/distribution"
  mkdir -p "$dir/storage"
  e2e_make_tls "$dir/tls" "$E2E_HOST" "$E2E_DATA_HOST"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:443
  tls:
    certificate: $dir/tls/server.crt
    key: $dir/tls/server.key
EOF
  e2e_spawn "$dir/registry.log" ip netns exec "$E2E_NS" /usr/bin/docker-registry serve "$dir/config.yml"
  E2E_REGISTRY_PID=$E2E_LAST_PID
  E2E_REGISTRY_LOG="$dir/registry.log"
  E2E_CA_DIR="$dir/tls-client"
  mkdir -p "$E2E_CA_DIR"
  cp "$dir/tls/ca.crt" "$E2E_CA_DIR/ca.crt"
}

e2e_coved_bin() {
  local b=${COVED:-$E2E_REPO/build/src/daemon/coved}
  [[ -x $b ]] || return 1
  echo "$b"
}

e2e_start_coved() {
  local bin
  bin=$(e2e_coved_bin) || e2e_die "coved not built (set COVED=/path/to/coved)"
  local dir="$E2E_TMP/coved"
  mkdir -p "$dir/data"
  cat >"$dir/config.yaml" <<EOF
data_dir: $dir/data
dns_suffix: $E2E_DNS_SUFFIX
listen: [{address: 127.0.0.1, port: 443, tls: true}]
default_registry: $E2E_REGISTRY_NAME
registries: [{name: $E2E_REGISTRY_NAME, region: $E2E_REGION, data_endpoint_enabled: true}]
EOF
  e2e_spawn "$dir/coved.log" ip netns exec "$E2E_NS" "$bin" registry --config "$dir/config.yaml"
  E2E_REGISTRY_PID=$E2E_LAST_PID
  E2E_REGISTRY_LOG="$dir/coved.log"
  # coved makes its CA on first start; wait for it (bounded).
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $dir/data/tls/ca.crt ]] && break
    kill -0 "$E2E_REGISTRY_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -s $dir/data/tls/ca.crt ]] || e2e_die "coved wrote no $dir/data/tls/ca.crt: $(tail -20 "$E2E_REGISTRY_LOG")"
  E2E_CA_DIR="$dir/tls-client"
  mkdir -p "$E2E_CA_DIR"
  cp "$dir/data/tls/ca.crt" "$E2E_CA_DIR/ca.crt"
}

# e2e_start_registry: starts the registry chosen by COVE_E2E_TARGET inside $E2E_NS on
# 127.0.0.1:443 and returns once GET https://$E2E_HOST/v2/ answers. Sets E2E_REGISTRY_PID,
# E2E_REGISTRY_LOG, E2E_CA_DIR (a directory holding ca.crt) and E2E_CA (the file).
e2e_start_registry() {
  [[ -n $E2E_NS ]] || e2e_netns_create
  case "$E2E_TARGET" in
    distribution) e2e_start_distribution ;;
    coved) e2e_start_coved ;;
    *) e2e_die "COVE_E2E_TARGET must be distribution or coved, not '$E2E_TARGET'" ;;
  esac
  E2E_CA="$E2E_CA_DIR/ca.crt"
  e2e_wait_http "https://$E2E_HOST/v2/" "$E2E_CA" "$E2E_REGISTRY_PID" ||
    e2e_die "$E2E_TARGET did not answer GET /v2/: $(tail -20 "$E2E_REGISTRY_LOG")"
  e2e_log "$E2E_TARGET up as https://$E2E_HOST (pid $E2E_REGISTRY_PID, netns $E2E_NS)"
}

# e2e_curl ARGS...: curl inside the namespace, trusting the registry CA, failing on HTTP >= 400.
e2e_curl() { e2e_ns curl -sS --fail --max-time 30 --cacert "$E2E_CA" "$@"; }

# e2e_skopeo ARGS...: skopeo inside the namespace (no auth, our policy-free defaults).
e2e_skopeo() { e2e_ns skopeo --command-timeout 60s "$@"; }

# ---------------------------------------------------------------------------------------------
# Clients: podman and containerd

# e2e_podman ARGS...: podman as root with private storage under the temp dir, in the namespace.
e2e_podman() {
  local d="$E2E_TMP/podman"
  mkdir -p "$d/root" "$d/runroot" "$d/tmp"
  e2e_ns podman --root "$d/root" --runroot "$d/runroot" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --tmpdir "$d/tmp" "$@"
}

# e2e_start_containerd: a private containerd (no CRI) inside the namespace; sets E2E_CTR_SOCK.
e2e_start_containerd() {
  local d="$E2E_TMP/containerd"
  mkdir -p "$d/root" "$d/state"
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd-ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  E2E_CTR_SOCK="$d/containerd.sock"
  e2e_spawn "$d/containerd.log" ip netns exec "$E2E_NS" containerd --config "$d/config.toml"
  E2E_CONTAINERD_PID=$E2E_LAST_PID
  local i
  for ((i = 0; i < 100; i++)); do
    ctr -a "$E2E_CTR_SOCK" version >/dev/null 2>&1 && return 0
    kill -0 "$E2E_CONTAINERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  e2e_die "containerd did not start: $(tail -20 "$d/containerd.log")"
}

# e2e_ctr ARGS...: ctr against the private containerd, inside the namespace.
e2e_ctr() { e2e_ns ctr -a "$E2E_CTR_SOCK" "$@"; }

# ---------------------------------------------------------------------------------------------
# OCI image layouts built by hand

# Writes BYTES of the blob file FILE into DIR/blobs/sha256/ and prints its digest.
_e2e_put_blob() {
  local dir=$1 file=$2 d
  d=$(sha256sum "$file" | cut -d' ' -f1)
  mkdir -p "$dir/blobs/sha256"
  mv -f "$file" "$dir/blobs/sha256/$d"
  echo "sha256:$d"
}

_e2e_blob_size() { stat -c %s "$1/blobs/sha256/${2#sha256:}"; }

# _e2e_make_manifest DIR ARCH NLAYERS [LAYER_MIB [CONFIG]]: builds layers, a config and a
# manifest for linux/ARCH; prints "DIGEST SIZE" of the manifest. CONFIG (JSON, the image
# config's "config" object; default {"Cmd":["/bin/true"]}) set means a runnable image: its first
# layer is a busybox root (Debian's static /bin/busybox and a link per applet) instead of random
# data.
_e2e_make_manifest() {
  local dir=$1 arch=$2 nlayers=$3 layer_mib=${4:-0} config=${5:-} i
  local work="$dir/.work.$arch"
  mkdir -p "$work"
  local diff_ids=() layers=()
  for ((i = 0; i < nlayers; i++)); do
    local src="$work/src$i"
    if ((i == 0)) && [[ -n $config ]]; then
      _e2e_busybox_root "$src" || return 1
      tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$src" -cf "$work/l$i.tar" .
      diff_ids+=("sha256:$(sha256sum "$work/l$i.tar" | cut -d' ' -f1)")
      gzip -n -1 "$work/l$i.tar"
      local bd
      bd=$(_e2e_put_blob "$dir" "$work/l$i.tar.gz")
      layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$bd\",\"size\":$(_e2e_blob_size "$dir" "$bd")}")
      rm -rf "$src"
      continue
    fi
    mkdir -p "$src/data"
    # Random, incompressible content: 4 KiB .. ~3 MiB per layer, in one or two files.
    local size=$(((RANDOM % 768 + 1) * 4096))
    ((layer_mib > 0)) && size=$((layer_mib * 1048576))
    head -c "$size" /dev/urandom >"$src/data/layer$i-$arch.bin"
    echo "layer $i of $arch, $(date +%s%N)" >"$src/data/layer$i.txt"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$src" -cf "$work/l$i.tar" data
    diff_ids+=("sha256:$(sha256sum "$work/l$i.tar" | cut -d' ' -f1)")
    gzip -n -1 "$work/l$i.tar"
    local ld
    ld=$(_e2e_put_blob "$dir" "$work/l$i.tar.gz")
    layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$ld\",\"size\":$(_e2e_blob_size "$dir" "$ld")}")
    rm -rf "$src"
  done
  local ids
  ids=$(printf '"%s",' "${diff_ids[@]}")
  printf '{"architecture":"%s","os":"linux","created":"2024-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]},"history":[]}' \
    "$arch" "${config:-{\"Cmd\":[\"/bin/true\"]\}}" "${ids%,}" >"$work/config.json"
  local cd
  cd=$(_e2e_put_blob "$dir" "$work/config.json")
  local ls
  ls=$(printf '%s,' "${layers[@]}")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$cd" "$(_e2e_blob_size "$dir" "$cd")" "${ls%,}" >"$work/manifest.json"
  local md
  md=$(_e2e_put_blob "$dir" "$work/manifest.json")
  rmdir "$work" 2>/dev/null
  echo "$md $(_e2e_blob_size "$dir" "$md")"
}

# _e2e_busybox_root DIR: a root file system of Debian's static busybox (bin/busybox and a
# symlink per applet in bin/), with /etc, /tmp, /proc, /sys and /dev to mount over.
_e2e_busybox_root() {
  local root=$1 applet
  [[ -x /bin/busybox ]] || { echo "no /bin/busybox (busybox-static; run scripts/install-deps)" >&2; return 1; }
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
  done
  echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
}

# e2e_make_image DIR TAG [--layers N] [--layer-mib M] [--format oci|docker] [--platforms]
#                [--config JSON]
# Builds (or adds TAG to) an OCI image layout at DIR: gzip'd random tar layers, a config whose
# rootfs.diff_ids are the digests of the uncompressed tars (random sizes up to 3 MiB, or M MiB
# each with --layer-mib), a manifest, index.json and
# oci-layout. With --platforms, TAG names an image index of linux/amd64 and linux/arm64.
# With --config (the image config's "config" object, e.g. '{"Cmd":["/bin/sh","-c","echo hi"]}')
# the image runs: its first layer is a busybox root, the others random data as above.
# --format docker is accepted for symmetry: the layout is OCI either way, and
# `skopeo copy --format v2s2` converts it when pushing. Prints the digest TAG points to.
e2e_make_image() {
  local dir=$1 tag=$2 nlayers=3 platforms=0 layer_mib=0 config=
  shift 2
  while (($#)); do
    case "$1" in
      --layers) nlayers=$2; shift 2 ;;
      --config) config=$2; shift 2 ;;
      --layer-mib) layer_mib=$2; shift 2 ;;
      --format) [[ $2 == oci || $2 == docker ]] || { echo "bad --format $2" >&2; return 2; }; shift 2 ;;
      --platforms) platforms=1; shift ;;
      *) echo "e2e_make_image: unknown option $1" >&2; return 2 ;;
    esac
  done
  mkdir -p "$dir/blobs/sha256"
  [[ -f $dir/oci-layout ]] || printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  local desc digest size
  if ((platforms)); then
    local a m entries=()
    for a in amd64 arm64; do
      m=$(_e2e_make_manifest "$dir" "$a" "$nlayers" "$layer_mib" "$config") || return 1
      entries+=("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"${m% *}\",\"size\":${m#* },\"platform\":{\"architecture\":\"$a\",\"os\":\"linux\"}}")
    done
    local es
    es=$(printf '%s,' "${entries[@]}")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
      "${es%,}" >"$dir/.index.tmp"
    digest=$(_e2e_put_blob "$dir" "$dir/.index.tmp")
    size=$(_e2e_blob_size "$dir" "$digest")
    desc="{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"$digest\",\"size\":$size,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}"
  else
    local m
    m=$(_e2e_make_manifest "$dir" amd64 "$nlayers" "$layer_mib" "$config") || return 1
    digest=${m% *}
    desc="{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$digest\",\"size\":${m#* },\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}"
  fi
  # index.json: keep other tags, replace this one.
  local old='{"schemaVersion":2,"manifests":[]}'
  [[ -f $dir/index.json ]] && old=$(cat "$dir/index.json")
  jq -c --arg tag "$tag" --argjson d "$desc" \
    '.manifests = ([.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] != $tag)] + [$d])' \
    <<<"$old" >"$dir/index.json.tmp" && mv "$dir/index.json.tmp" "$dir/index.json"
  echo "$digest"
}

# e2e_layout_digest DIR TAG: the digest index.json gives for TAG.
e2e_layout_digest() {
  jq -r --arg tag "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $tag) | .digest' "$1/index.json"
}

# e2e_layout_blob DIR DIGEST: path of a blob in a layout.
e2e_layout_blob() { echo "$1/blobs/sha256/${2#sha256:}"; }

# e2e_layout_layers DIR MANIFEST_DIGEST: the manifest's layer digests, one a line.
e2e_layout_layers() { jq -r '.layers[].digest' "$(e2e_layout_blob "$1" "$2")"; }

# e2e_layout_verify DIR: every blob's content hashes to its name.
e2e_layout_verify() {
  local f bad=0
  for f in "$1"/blobs/sha256/*; do
    [[ $(sha256sum "$f" | cut -d' ' -f1) == "$(basename "$f")" ]] || { echo "corrupt blob $f"; bad=1; }
  done
  return $bad
}

# ---------------------------------------------------------------------------------------------
# coved in full mode with its fabric (private endpoint and NSG tests)

# e2e_fabric_init LETTER: picks E2E_FABRIC_PREFIX (COVE_E2E_PREFIX, else LETTER and four random
# digits: the fabric takes 1-5 characters) and replaces the EXIT trap with one that stops the
# processes first (coved holds sockets in the namespaces), then removes every namespace and
# /etc/netns dir with the prefix, then runs e2e_cleanup.
e2e_fabric_init() {
  E2E_FABRIC_PREFIX=${COVE_E2E_PREFIX:-$1$(printf '%04d' $((RANDOM % 10000)))}
  trap e2e_fabric_cleanup EXIT
}
e2e_fabric_cleanup() {
  local rc=$? ns pid
  for pid in "${E2E_PIDS[@]}"; do e2e_stop_pid "$pid"; done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$E2E_FABRIC_PREFIX-"); do
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf /etc/netns/"$E2E_FABRIC_PREFIX"-*
  (exit "$rc")
  e2e_cleanup
}

# e2e_start_coved_fabric LOG [ARGS...]: coved (COVED) in full mode, data in $E2E_TMP/data,
# registry and ARM listeners on free loopback ports, the fabric under E2E_FABRIC_PREFIX, and
# ARGS. Sets COVED_PID and ARM (host:port of the ARM API); returns 1 when coved does not come up.
e2e_start_coved_fabric() {
  local log=$1 bin
  shift
  bin=$(e2e_coved_bin) || e2e_die "coved not built (set COVED)"
  mkdir -p "$E2E_TMP/data"
  e2e_spawn "$log" "$bin" --data-dir "$E2E_TMP/data" --listen 127.0.0.1:0 \
    --arm-listen 127.0.0.1:0 --fabric-prefix "$E2E_FABRIC_PREFIX" "$@"
  COVED_PID=$E2E_LAST_PID
  ARM=""
  for _ in $(seq 1 300); do
    ARM=$(sed -n 's/.*arm api listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" 2>/dev/null | head -1)
    [[ -n $ARM ]] && return 0
    kill -0 "$COVED_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# e2e_coved_cli_init LETTER: coved in full mode with its fabric (e2e_fabric_init LETTER,
# e2e_start_coved_fabric) and the `cove` CLI next to it (COVE, else the build tree's); sets BIN,
# CLI and T ($E2E_TMP). Then e2e_cove runs the CLI as the operator on the host.
e2e_coved_cli_init() {
  BIN=$(e2e_coved_bin) || e2e_die "coved not built (set COVED)"
  CLI=${COVE:-$(dirname "$BIN")/../cli/cove}
  [[ -x $CLI ]] || e2e_die "cove not built (set COVE=/path/to/cove)"
  T=$E2E_TMP
  e2e_fabric_init "$1"
  e2e_start_coved_fabric "$T/coved.log" || e2e_die "coved did not start: $(tail -5 "$T/coved.log")"
  mkdir -p "$T/home"
}
# e2e_cove ARGS...: `cove` with a home of its own, coved's ARM endpoint, data dir and fabric
# prefix, at most E2E_COVE_TIMEOUT seconds (default 120).
e2e_cove() {
  env HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" DOCKER_CONFIG="$T/home/.docker" \
    COVE_ENDPOINT="https://$ARM" COVE_DATA_DIR="$E2E_TMP/data" COVE_FABRIC_PREFIX="$E2E_FABRIC_PREFIX" \
    timeout -k 5 "${E2E_COVE_TIMEOUT:-120}" "$CLI" --only-show-errors "$@"
}

# e2e_arm_token: a bearer token for coved's ARM API ($ARM, HTTPS with the CA in
# $E2E_TMP/data/tls), signed in with coved's bootstrap credential ($E2E_TMP/data/bootstrap.json);
# cached in E2E_ARM_TOKEN.
e2e_arm_token() {
  if [[ -z ${E2E_ARM_TOKEN:-} ]]; then
    local f=$E2E_TMP/data/bootstrap.json
    E2E_ARM_TOKEN=$(curl -sS --max-time 60 --cacert "$E2E_TMP/data/tls/ca.crt" -X POST \
      --data-urlencode grant_type=client_credentials \
      --data-urlencode "client_id=$(jq -r .clientId "$f")" \
      --data-urlencode "client_secret=$(jq -r .clientSecret "$f")" \
      "https://$ARM/$(jq -r .tenantId "$f")/oauth2/v2.0/token" | jq -r .access_token)
  fi
  echo "$E2E_ARM_TOKEN"
}

# e2e_counters: coved's per-endpoint counters (GET /cove/counters on the ARM API), as JSON.
e2e_counters() {
  curl -sS --max-time 60 --cacert "$E2E_TMP/data/tls/ca.crt" \
    -H "Authorization: Bearer $(e2e_arm_token)" "https://$ARM/cove/counters"
}

# e2e_member_jq IP FIELD: a jq filter that reads FIELD (requests, bytesIn, bytesOut, denied) of
# the private endpoint member at IP from e2e_counters' JSON. Members are keyed under their
# endpoint ("link:<id>/member:<ip>", access/access.h); the filter adds up the endpoints with a
# member at IP, which is that one member's count while the test has one private endpoint there.
e2e_member_jq() {
  local ip=${1//./\\\\.}  # dots match only dots
  echo "[to_entries[] | select(.key | test(\"^link:[0-9]+/member:$ip\$\")) | .value.$2] | add // 0"
}

# e2e_arm METHOD PATH [BODY]: one ARM REST call to $ARM; the body on stdout; fails on HTTP >= 400.
e2e_arm() {
  local out code token
  token=$(e2e_arm_token)
  out=$(curl -sS --max-time 60 --cacert "$E2E_TMP/data/tls/ca.crt" -X "$1" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    -w '\n%{http_code}' "https://$ARM$2?api-version=2023-09-01" ${3:+--data "$3"}) || return 1
  code=${out##*$'\n'}
  echo "${out%$'\n'*}"
  ((code < 400)) || { echo "HTTP $code" >&2; return 1; }
}

# e2e_auth_file FILE HOST USER PASSWORD: a containers auth file (skopeo --authfile,
# REGISTRY_AUTH_FILE) holding USER:PASSWORD for HOST.
e2e_auth_file() {
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$2" "$(printf '%s:%s' "$3" "$4" | base64 -w0)" >"$1"
}
