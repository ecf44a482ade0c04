#!/usr/bin/env bash
# kill -9 campaign with a real client: KILLS times, coved (registry mode, plain HTTP on
# loopback) is killed with SIGKILL at a random moment while WORKERS skopeo processes push
# images of their own at once; after each kill coved restarts on the same data and
#   - every manifest skopeo acknowledged (exit 0, digest from --digestfile), in this round and
#     every earlier one, pulls back byte-identical by tag and by digest, with every blob it
#     references (sha256 of the bytes served = the digest);
#   - no partial blob is visible: every blob of an interrupted push that the API admits to
#     (HEAD 200) serves exactly its bytes, and every blob file on disk hashes to its name.
#
#   COVED=build/src/daemon/coved bash tests/crash/skopeo_campaign.sh [KILLS] [WORKERS]
#
# ctest runs a short campaign (tests/crash/CMakeLists.txt); the README's figure is from
# `bash tests/crash/skopeo_campaign.sh 200 8`. The moment of each kill is random (0.05–1.5 s
# into the round, uniform), so kills land in uploads, manifest PUTs and between them. Images
# are real OCI layouts (gzip'd tar layers of random bytes, made by python3 before the round).
# Everything it starts is stopped by PID; the temp dir is removed on exit.
set -uo pipefail

COVED=${COVED:?set COVED to the coved binary}
kills=${1:-10}
workers=${2:-8}
per_worker=3  # images a worker may push in one round (a round usually ends before the third)
work=$(mktemp -d /tmp/cove-campaign.XXXXXX)
data=$work/data
coved_pid=
pids=()
passed=0
failed=0

cleanup() {
  for p in "${pids[@]}" $coved_pid; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"; else failed=$((failed + 1)); echo "not ok - $name"; fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
cat >"$work/config.yaml" <<YAML
data_dir: $data
registries: [{name: campaign, region: westus}]
default_registry: campaign
listen: [{address: 127.0.0.1, port: $port, tls: false}]
YAML

start_coved() {
  "$COVED" registry --config "$work/config.yaml" --log-level warn 2>>"$work/coved.log" &
  coved_pid=$!
  for _ in $(seq 1 1000); do
    curl -fsS -o /dev/null "$base/v2/" 2>/dev/null && return 0
    kill -0 "$coved_pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "coved did not come up:"; tail -20 "$work/coved.log"; return 1
}

# make_images ROUND: per worker, $per_worker OCI layouts with 2 fresh layers each (16 KiB to
# 1.5 MiB of random bytes in a gzip'd tar) and a config whose diff_ids are the tars' digests.
make_images() {
  python3 - "$work/img/r$1" "$workers" "$per_worker" <<'PY'
import gzip, hashlib, io, json, os, random, sys, tarfile
root, workers, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def put(blobs, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f: f.write(data)
    return "sha256:" + d
for w in range(1, workers + 1):
    for k in range(1, per + 1):
        lay = os.path.join(root, f"w{w}", f"i{k}")
        blobs = os.path.join(lay, "blobs", "sha256"); os.makedirs(blobs)
        layers, diffs = [], []
        for n in range(2):
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w") as t:
                body = os.urandom(random.randint(16 << 10, 1536 << 10))
                info = tarfile.TarInfo(f"file{n}"); info.size = len(body)
                t.addfile(info, io.BytesIO(body))
            tar = raw.getvalue()
            gz = gzip.compress(tar, compresslevel=1)
            diffs.append("sha256:" + hashlib.sha256(tar).hexdigest())
            layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                           "digest": put(blobs, gz), "size": len(gz)})
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
        man = json.dumps({"schemaVersion": 2,
                          "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                     "digest": put(blobs, cfg), "size": len(cfg)},
                          "layers": layers}).encode()
        md = put(blobs, man)
        with open(os.path.join(lay, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "t"}}]}, f)
        with open(os.path.join(lay, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
PY
}

# worker W ROUND: pushes its images one after another until one fails (coved was killed);
# each acknowledged push appends "repo tag digest layout" to acks.
worker() {
  local w=$1 round=$2 k
  for k in $(seq 1 "$per_worker"); do
    local lay=$work/img/r$round/w$w/i$k tag=r$round-i$k
    skopeo --command-timeout 30s copy -q --dest-tls-verify=false --digestfile "$lay.digest" \
      "oci:$lay:t" "docker://127.0.0.1:$port/w$w:$tag" >>"$work/skopeo.log" 2>&1 || return 0
    echo "w$w $tag $(cat "$lay.digest") $lay" >>"$work/acks.$w"
  done
}

sha_url() { curl -fsS "$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# verify_ack REPO TAG DIGEST LAYOUT: the manifest by tag and by digest, and each blob it names.
verify_ack() {
  local repo=$1 tag=$2 digest=$3 lay=$4 ref d
  for ref in "$tag" "$digest"; do
    [[ sha256:$(sha_url "$base/v2/$repo/manifests/$ref") == "$digest" ]] ||
      { echo "  $repo:$ref does not pull back as $digest"; return 1; }
  done
  for d in $(jq -r '.config.digest, .layers[].digest' "$lay/blobs/sha256/${digest#sha256:}"); do
    [[ sha256:$(sha_url "$base/v2/$repo/blobs/$d") == "$d" ]] ||
      { echo "  $repo blob $d does not pull back byte-identical"; return 1; }
  done
}

# Blobs of pushes that were never acknowledged: visible only whole.
verify_interrupted() {
  local round=$1 lay d code bad=0 seen=0
  for lay in "$work"/img/r"$round"/w*/i*; do
    [[ -f $lay.digest ]] && continue  # acknowledged; checked above
    local w; w=$(basename "$(dirname "$lay")")
    for f in "$lay"/blobs/sha256/*; do
      d=sha256:$(basename "$f")
      code=$(curl -s -o /dev/null -w '%{http_code}' -I "$base/v2/$w/blobs/$d")
      [[ $code == 200 ]] || continue
      seen=$((seen + 1))
      [[ sha256:$(sha_url "$base/v2/$w/blobs/$d") == "$d" ]] ||
        { echo "  partial blob visible: $w $d"; bad=$((bad + 1)); }
    done
  done
  echo "# round $round: $seen blobs of interrupted pushes visible, all checked whole"
  return "$bad"
}

verify_disk() {
  local f bad=0
  while IFS= read -r f; do
    [[ $(sha256sum "$f" | cut -d' ' -f1) == "$(basename "$f")" ]] ||
      { echo "  corrupt $f"; bad=$((bad + 1)); }
  done < <(find "$data/blobs/blobs/sha256" -type f 2>/dev/null)
  return "$bad"
}

total_acked() { cat "$work"/acks.* 2>/dev/null | wc -l; }

start=$(date +%s)
for round in $(seq 1 "$kills"); do
  make_images "$round"
  start_coved || { failed=$((failed + 1)); break; }
  before=$(total_acked)
  pids=()
  for w in $(seq 1 "$workers"); do worker "$w" "$round" & pids+=($!); done
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.05, 1.5), 3))')"
  kill -9 "$coved_pid"; wait "$coved_pid" 2>/dev/null; coved_pid=
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
  now=$(total_acked)
  echo "# round $round: kill -9 with $workers pushes in flight; $((now - before)) acknowledged this round, $now in all"
  start_coved || { failed=$((failed + 1)); break; }
  bad=0
  while read -r repo tag digest lay; do
    verify_ack "$repo" "$tag" "$digest" "$lay" || bad=$((bad + 1))
  done < <(cat "$work"/acks.* 2>/dev/null | awk -v r="r$round-" 'index($2, r) == 1')
  ((bad == 0)) || check "round $round: acknowledged manifests pull back byte-identical" false
  verify_interrupted "$round" || check "round $round: no partial blob visible" false
  kill "$coved_pid"; wait "$coved_pid" 2>/dev/null; coved_pid=
done

# The end: every acknowledged manifest of every round, and the disk.
start_coved || { failed=$((failed + 1)); echo "$passed passed, $failed failed"; exit 1; }
bad=0
while read -r repo tag digest lay; do
  verify_ack "$repo" "$tag" "$digest" "$lay" || bad=$((bad + 1))
done < <(cat "$work"/acks.* 2>/dev/null)
acked=$(total_acked)
check "$kills kills: all $acked acknowledged manifests pull back byte-identical (by tag and digest, every blob)" [ "$bad" = 0 ]
check "every blob file on disk matches its digest" verify_disk
check "pushes were acknowledged at all" [ "$acked" -gt 0 ]
echo "# campaign: $kills kills, $workers concurrent skopeo pushes, $acked acknowledged manifests, $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
