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

source "$(dirname "$0")/lib.sh"
kills=${1:-10}
workers=${2:-8}
per_worker=4  # images a worker may push in one round (a round usually ends before the last)
crash_init cove-campaign campaign

# make_images ROUND: per worker, $per_worker OCI layouts with 2 fresh layers each (a gzip'd tar
# of 16 to 768 KiB of random bytes; gzip because skopeo would compress a plain tar on the way,
# and the layout's digests must be what the registry receives) and a config whose diff_ids are
# the tars' digests.
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
                body = os.urandom(random.randint(16 << 10, 768 << 10))
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
# each push it starts is listed in started.W, each acknowledged one appended to acks.W as
# "repo tag digest layout".
worker() {
  local w=$1 round=$2 k
  for k in $(seq 1 "$per_worker"); do
    local lay=$work/img/r$round/w$w/i$k tag=r$round-i$k
    echo "w$w $lay" >>"$work/started.$w"
    skopeo --command-timeout 30s copy -q --dest-tls-verify=false --digestfile "$lay.digest" \
      "oci:$lay:t" "docker://127.0.0.1:$port/w$w:$tag" >>"$work/skopeo.log" 2>&1 || return 0
    echo "w$w $tag $(cat "$lay.digest") $lay" >>"$work/acks.$w"
  done
}

# verify acked|interrupted LINES-FILE: one python3 process for every request of a check.
#   acked: lines "repo tag digest layout"; each manifest by tag and by digest, and every blob
#     it names, must come back with exactly the bytes whose sha256 is the digest.
#   interrupted: lines "repo layout" of pushes that were not acknowledged; every blob of the
#     layout that HEAD admits to (200) must serve exactly its bytes (nothing partial visible).
# Prints what is wrong and how many blobs of interrupted pushes were visible; exit 1 on a fault.
verify() {
  python3 - "$base" "$1" "$2" <<'PY'
import hashlib, http.client, json, os, sys, urllib.parse
base, mode, lines = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().split("\n")
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
def get(path, method="GET"):
    conn.request(method, path)
    r = conn.getresponse()
    return r.status, r.read()
bad = visible = 0
for line in filter(None, lines):
    f = line.split()
    if mode == "acked":
        repo, tag, digest, lay = f
        for ref in (tag, digest):
            st, body = get(f"/v2/{repo}/manifests/{ref}")
            if st != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != digest:
                print(f"  {repo}:{ref} does not pull back as {digest} ({st})"); bad += 1
        man = json.load(open(os.path.join(lay, "blobs", "sha256", digest[7:])))
        for d in [man["config"]["digest"]] + [l["digest"] for l in man["layers"]]:
            st, body = get(f"/v2/{repo}/blobs/{d}")
            if st != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != d:
                print(f"  {repo} blob {d} does not pull back byte-identical ({st})"); bad += 1
    else:
        repo, lay = f
        for name in os.listdir(os.path.join(lay, "blobs", "sha256")):
            d = "sha256:" + name
            st, _ = get(f"/v2/{repo}/blobs/{d}", "HEAD")
            if st != 200:
                continue
            visible += 1
            st, body = get(f"/v2/{repo}/blobs/{d}")
            if st != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != d:
                print(f"  partial blob visible: {repo} {d} ({st}, {len(body)} bytes)"); bad += 1
if mode == "interrupted":
    print(f"# {visible} blobs of interrupted pushes visible, all checked whole" if not bad else "")
sys.exit(1 if bad else 0)
PY
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
  sleep "$(printf '%d.%03d' 0 $((RANDOM % 1450 + 50)))"  # 0.05–1.5 s into the round
  kill -9 "$coved_pid"; wait "$coved_pid" 2>/dev/null; coved_pid=
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
  now=$(total_acked)
  echo "# round $round: kill -9 with $workers pushes in flight; $((now - before)) acknowledged this round, $now in all"
  start_coved || { failed=$((failed + 1)); break; }
  cat "$work"/acks.* 2>/dev/null | awk -v r="r$round-" 'index($2, r) == 1' >"$work/round.acked"
  cat "$work"/started.* 2>/dev/null | grep "/img/r$round/" |
    while read -r repo lay; do [[ -f $lay.digest ]] || echo "$repo $lay"; done >"$work/round.interrupted"
  verify acked "$work/round.acked" ||
    check "round $round: acknowledged manifests pull back byte-identical" false
  verify interrupted "$work/round.interrupted" ||
    check "round $round: no partial blob of an interrupted push is visible" false
  rm -f "$work"/started.*
  kill "$coved_pid"; wait "$coved_pid" 2>/dev/null; coved_pid=
done

# The end: every acknowledged manifest of every round, and the disk.
start_coved || { failed=$((failed + 1)); echo "$passed passed, $failed failed"; exit 1; }
cat "$work"/acks.* 2>/dev/null >"$work/all.acked"
acked=$(total_acked)
check "$kills kills: all $acked acknowledged manifests pull back byte-identical (by tag and digest, every blob)" \
  verify acked "$work/all.acked"
check "every blob file on disk matches its digest" verify_disk
check "pushes were acknowledged at all" [ "$acked" -gt 0 ]
echo "# campaign: $kills kills, $workers concurrent skopeo pushes, $acked acknowledged manifests, $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
