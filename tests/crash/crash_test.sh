#!/usr/bin/env bash
# Crash test: kill -9 coved at random moments during concurrent pushes, restart it, and check
# that every acknowledged blob and manifest is intact (digests re-verified) and that nothing
# partial is visible, in the API or on disk.
#
#   COVED=build/src/daemon/coved bash tests/crash/crash_test.sh [rounds]
#
# Pushes use plain HTTP on loopback (TLS adds nothing to what is tested here). The "random
# moment" is after a random number of further acknowledged operations, so the test does not
# depend on timing. Everything it starts is stopped by PID; its temp dir is removed on exit.
set -uo pipefail

source "$(dirname "$0")/lib.sh"
rounds=${1:-5}
workers=4
crash_init cove-crash crashtest
acks=$work/acks

sha() { sha256sum "$1" | cut -d' ' -f1; }

# One worker: pushes blobs (monolithic or chunked) and manifests forever, logging each
# acknowledged (201) operation to its own file.
worker() {
  local id=$1 round=$2 n=0 dir
  dir=$work/w$id
  mkdir -p "$dir"
  while true; do
    n=$((n + 1))
    local repo=repo$id blob=$dir/blob
    head -c $(( (RANDOM % 64 + 1) * 16384 + RANDOM )) /dev/urandom > "$blob"
    local digest=sha256:$(sha "$blob") size
    size=$(stat -c %s "$blob")
    if (( n % 2 )); then
      code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$blob" \
        -H 'Content-Type: application/octet-stream' "$base/v2/$repo/blobs/uploads/?digest=$digest") || continue
    else
      loc=$(curl -s -D - -o /dev/null -X POST "$base/v2/$repo/blobs/uploads/" | tr -d '\r' \
        | awk -F': ' 'tolower($1)=="location"{print $2}') || continue
      [ -n "$loc" ] || continue
      local half=$((size / 2))
      head -c "$half" "$blob" > "$dir/c1"; tail -c +$((half + 1)) "$blob" > "$dir/c2"
      code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH --data-binary @"$dir/c1" \
        -H "Content-Range: 0-$((half - 1))" -H 'Content-Type: application/octet-stream' "$base$loc") || continue
      [ "$code" = 202 ] || continue
      code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$dir/c2" \
        -H 'Content-Type: application/octet-stream' "$base$loc?digest=$digest") || continue
    fi
    [ "$code" = 201 ] || continue
    echo "blob $repo $digest" >> "$acks.$id"
    # A manifest using that blob as its only layer and an empty config.
    local cfg='{}'
    printf '%s' "$cfg" > "$dir/cfg"
    local cfgd=sha256:$(sha "$dir/cfg")
    curl -s -o /dev/null -X POST --data-binary @"$dir/cfg" "$base/v2/$repo/blobs/uploads/?digest=$cfgd" || continue
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
      "$cfgd" "$digest" "$size" > "$dir/m"
    local md=sha256:$(sha "$dir/m") tag=r$round-t$n
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$dir/m" \
      -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$base/v2/$repo/manifests/$tag") || continue
    [ "$code" = 201 ] && echo "manifest $repo $tag $md" >> "$acks.$id"
  done
}

acked() { cat "$acks".* 2>/dev/null | wc -l; }

verify() {  # verify ROUND
  local round=$1 bad=0 total=0
  while read -r kind repo a b; do
    total=$((total + 1))
    if [ "$kind" = blob ]; then
      got=sha256:$(curl -fsS "$base/v2/$repo/blobs/$a" | sha256sum | cut -d' ' -f1)
      [ "$got" = "$a" ] || { echo "  blob $repo $a came back as $got"; bad=$((bad + 1)); }
    else
      for ref in "$a" "$b"; do
        got=sha256:$(curl -fsS "$base/v2/$repo/manifests/$ref" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$b" ] || { echo "  manifest $repo $ref came back as $got"; bad=$((bad + 1)); }
      done
    fi
  done < <(cat "$acks".* 2>/dev/null)
  check "round $round: all $total acknowledged operations intact after kill -9" [ "$bad" = 0 ]
  # On disk: every stored blob's bytes hash to its name; staging areas hold no finished blob.
  local corrupt=0
  while IFS= read -r f; do
    [ "sha256:$(sha "$f")" = "sha256:$(basename "$f")" ] || { echo "  corrupt $f"; corrupt=$((corrupt + 1)); }
  done < <(find "$data/blobs/blobs/sha256" -type f 2>/dev/null)
  check "round $round: every blob file on disk matches its digest" [ "$corrupt" = 0 ]
}

for round in $(seq 1 "$rounds"); do
  start_coved || { failed=$((failed + 1)); break; }
  pids=()
  for w in $(seq 1 $workers); do worker "$w" "$round" & pids+=($!); done
  target=$(( $(acked) + RANDOM % 20 + 3 ))
  for _ in $(seq 1 3000); do
    (( $(acked) >= target )) && break
    sleep 0.01
  done
  kill -9 "$coved_pid"; wait "$coved_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  pids=()
  echo "# round $round: killed coved after $(acked) acknowledged operations"
  start_coved || { failed=$((failed + 1)); break; }
  verify "$round"
  kill "$coved_pid"; wait "$coved_pid" 2>/dev/null; coved_pid=
done

check "operations were acknowledged at all" [ "$(acked)" -gt 0 ]
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
