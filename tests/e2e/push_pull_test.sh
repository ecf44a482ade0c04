#!/usr/bin/env bash
# Push and pull with real clients (skopeo, podman, containerd's ctr) against the registry under
# test (COVE_E2E_TARGET=distribution|coved), over TLS with real host names inside a network
# namespace. Prints one line per check and "N passed, M failed"; exits non-zero on failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo podman containerd ctr
e2e_netns_create
e2e_start_registry
e2e_ns_trust_ca "$E2E_CA_DIR"

H=$E2E_HOST
T=$E2E_TMP
OCI_ACCEPT='application/vnd.oci.image.manifest.v1+json'
DOCKER_ACCEPT='application/vnd.docker.distribution.manifest.v2+json'
INDEX_ACCEPT='application/vnd.oci.image.index.v1+json'
ANY_ACCEPT="$OCI_ACCEPT,$DOCKER_ACCEPT,$INDEX_ACCEPT,application/vnd.docker.distribution.manifest.list.v2+json"

# The digest the registry reports for a manifest (Docker-Content-Digest on HEAD), and the
# sha256 of the bytes it serves on GET: both must equal what was pushed.
registry_digest() {  # REPO REF
  e2e_curl -I -H "Accept: $ANY_ACCEPT" "https://$H/v2/$1/manifests/$2" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}'
}
registry_body_digest() {  # REPO REF
  echo "sha256:$(e2e_curl -H "Accept: $ANY_ACCEPT" "https://$H/v2/$1/manifests/$2" | sha256sum | cut -d' ' -f1)"
}
registry_media_type() {  # REPO REF
  e2e_curl -I -H "Accept: $ANY_ACCEPT" "https://$H/v2/$1/manifests/$2" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "content-type" {print $2}'
}

start=$(date +%s)

# --- 1. A 3-layer OCI image ------------------------------------------------------------------
SRC="$T/src-oci"
want=$(e2e_make_image "$SRC" v1 --layers 3)
want_layers=$(e2e_layout_layers "$SRC" "$want")

e2e_check "skopeo push OCI image (3 layers)" \
  e2e_skopeo copy --dest-cert-dir "$E2E_CA_DIR" --digestfile "$T/oci.pushed" \
  "oci:$SRC:v1" "docker://$H/e2e/oci:v1"
e2e_check_eq "push reports the layout's manifest digest" "$want" "$(cat "$T/oci.pushed" 2>/dev/null)"
e2e_check_eq "registry Docker-Content-Digest for e2e/oci:v1" "$want" "$(registry_digest e2e/oci v1)"
e2e_check_eq "registry serves the manifest bytes unchanged" "$want" "$(registry_body_digest e2e/oci v1)"
e2e_check_eq "manifest Content-Type is OCI" "$OCI_ACCEPT" "$(registry_media_type e2e/oci v1)"

OUT="$T/pull-oci"
e2e_check "skopeo pull OCI image into a new layout" \
  e2e_skopeo copy --src-cert-dir "$E2E_CA_DIR" "docker://$H/e2e/oci:v1" "oci:$OUT:v1"
e2e_check_eq "pulled manifest digest equals pushed" "$want" "$(e2e_layout_digest "$OUT" v1)"
e2e_check_eq "pulled layer digests equal pushed" "$want_layers" "$(e2e_layout_layers "$OUT" "$want" 2>&1)"
e2e_check "every pulled blob hashes to its digest" e2e_layout_verify "$OUT"

# Pull by digest too.
e2e_check "skopeo pull by digest" \
  e2e_skopeo copy --src-cert-dir "$E2E_CA_DIR" "docker://$H/e2e/oci@$want" "oci:$T/pull-oci-digest:byd"

# A blob GET (following any redirect to a data endpoint) returns the right bytes.
first_layer=$(head -1 <<<"$want_layers")
got=$(e2e_curl -L "https://$H/v2/e2e/oci/blobs/$first_layer" | sha256sum | cut -d' ' -f1)
e2e_check_eq "blob GET returns the layer's bytes" "$first_layer" "sha256:$got"

# The data endpoint (coved declares its registry with data_endpoint_enabled): a blob GET on
# the login server answers 307 to a signed URL on <registry>.<region>.data.<suffix>; the data
# host refuses unsigned or tampered URLs; and real clients follow the redirect — with the data
# host's name unresolvable a pull fails, with it resolvable the same pull works.
if [ "$COVE_E2E_TARGET" = coved ]; then
  hdrs=$(e2e_ns curl -sS -o /dev/null -D - --cacert "$E2E_CA" "https://$H/v2/e2e/oci/blobs/$first_layer" | tr -d '\r')
  e2e_check_eq "blob GET on the login server answers 307" "307" "$(awk 'NR==1{print $2}' <<<"$hdrs")"
  loc=$(awk -F': ' 'tolower($1)=="location"{print $2}' <<<"$hdrs")
  e2e_check_eq "redirect goes to the data endpoint" "https://$E2E_DATA_HOST/v2/e2e/oci/blobs/$first_layer" "${loc%%\?*}"
  e2e_check "redirect URL is signed (se, sig)" grep -Eq '\?se=[0-9]+&sig=[A-Za-z0-9_-]+$' <<<"$loc"
  got=$(e2e_ns curl -sS --cacert "$E2E_CA" "$loc" | sha256sum | cut -d' ' -f1)
  e2e_check_eq "data endpoint serves the signed URL" "$first_layer" "sha256:$got"
  e2e_check_eq "data endpoint refuses an unsigned URL (403)" "403" \
    "$(e2e_ns curl -s -o /dev/null -w '%{http_code}' --cacert "$E2E_CA" "${loc%%\?*}")"
  e2e_check_eq "data endpoint refuses a tampered URL (403)" "403" \
    "$(e2e_ns curl -s -o /dev/null -w '%{http_code}' --cacert "$E2E_CA" "${loc%sig=*}sig=AAAA")"
  hosts=/etc/netns/$E2E_NS/hosts
  cp "$hosts" "$T/hosts.saved"
  sed -i "s/ $E2E_DATA_HOST//" "$hosts"
  if e2e_skopeo copy --src-cert-dir "$E2E_CA_DIR" "docker://$H/e2e/oci:v1" "oci:$T/pull-nodata:v1" >"$T/nodata.log" 2>&1; then
    e2e_fail "skopeo pull fails when the data endpoint does not resolve" "pull succeeded"
  else
    e2e_ok "skopeo pull fails when the data endpoint does not resolve (layers come from it)"
  fi
  cp "$T/hosts.saved" "$hosts"
  e2e_check "skopeo pull through the data endpoint works again" \
    e2e_skopeo copy --src-cert-dir "$E2E_CA_DIR" "docker://$H/e2e/oci:v1" "oci:$T/pull-data:v1"
  e2e_check "layers pulled through the data endpoint hash to their digests" e2e_layout_verify "$T/pull-data"
fi

# TLS is really verified: without the registry's CA, clients refuse the server.
mkdir -p "$T/empty-certs"
e2e_check_eq "curl without the CA fails verification (exit 60)" "60" \
  "$(e2e_ns curl -s -o /dev/null "https://$H/v2/"; echo $?)"
if e2e_skopeo inspect --cert-dir "$T/empty-certs" "docker://$H/e2e/oci:v1" >"$T/noca.log" 2>&1; then
  e2e_fail "skopeo without the CA is refused" "skopeo inspect succeeded"
elif grep -q 'x509: certificate signed by unknown authority' "$T/noca.log"; then
  e2e_ok "skopeo without the CA is refused (x509: unknown authority)"
else
  e2e_fail "skopeo without the CA is refused" "$(tail -3 "$T/noca.log")"
fi

# --- 2. The same image as a Docker v2s2 image ------------------------------------------------
e2e_check "skopeo push as Docker v2s2 (--format v2s2)" \
  e2e_skopeo copy --format v2s2 --dest-cert-dir "$E2E_CA_DIR" --digestfile "$T/docker.pushed" \
  "oci:$SRC:v1" "docker://$H/e2e/docker:v1"
dwant=$(cat "$T/docker.pushed" 2>/dev/null)
e2e_check_eq "v2s2 manifest Content-Type" "$DOCKER_ACCEPT" "$(registry_media_type e2e/docker v1)"
e2e_check_eq "registry digest for e2e/docker:v1 equals push" "$dwant" "$(registry_digest e2e/docker v1)"
e2e_check "skopeo pull v2s2 byte-for-byte (dir: transport)" \
  e2e_skopeo copy --src-cert-dir "$E2E_CA_DIR" "docker://$H/e2e/docker:v1" "dir:$T/pull-docker-dir"
e2e_check_eq "pulled v2s2 manifest digest equals pushed" "$dwant" \
  "sha256:$(sha256sum "$T/pull-docker-dir/manifest.json" 2>/dev/null | cut -d' ' -f1)"
e2e_check "skopeo pull v2s2 into a new OCI layout" \
  e2e_skopeo copy --src-cert-dir "$E2E_CA_DIR" "docker://$H/e2e/docker:v1" "oci:$T/pull-docker:v1"
dd=$(e2e_layout_digest "$T/pull-docker" v1)
e2e_check_eq "v2s2 round trip keeps the layer digests" "$want_layers" "$(e2e_layout_layers "$T/pull-docker" "$dd" 2>&1)"

# --- 3. An image index with two platforms ----------------------------------------------------
MSRC="$T/src-multi"
iwant=$(e2e_make_image "$MSRC" multi --layers 2 --platforms)
children=$(jq -r '.manifests[].digest' "$(e2e_layout_blob "$MSRC" "$iwant")")
e2e_check "skopeo push index with --all (linux/amd64 + linux/arm64)" \
  e2e_skopeo copy --all --dest-cert-dir "$E2E_CA_DIR" "oci:$MSRC:multi" "docker://$H/e2e/multi:v1"
e2e_check_eq "registry digest for the index" "$iwant" "$(registry_digest e2e/multi v1)"
e2e_check_eq "index Content-Type" "$INDEX_ACCEPT" "$(registry_media_type e2e/multi v1)"
for c in $children; do
  e2e_check_eq "child manifest $c is served by digest" "$c" "$(registry_body_digest e2e/multi "$c")"
done
MOUT="$T/pull-multi"
e2e_check "skopeo pull index with --all into a new layout" \
  e2e_skopeo copy --all --src-cert-dir "$E2E_CA_DIR" "docker://$H/e2e/multi:v1" "oci:$MOUT:v1"
e2e_check_eq "pulled index digest equals pushed" "$iwant" "$(e2e_layout_digest "$MOUT" v1)"
e2e_check_eq "pulled index lists the same children" "$children" \
  "$(jq -r '.manifests[].digest' "$(e2e_layout_blob "$MOUT" "$iwant")" 2>&1)"
for c in $children; do
  e2e_check_eq "child $c layers equal pushed" "$(e2e_layout_layers "$MSRC" "$c")" \
    "$(e2e_layout_layers "$MOUT" "$c" 2>&1)"
done
e2e_check "every blob of the pulled index hashes to its digest" e2e_layout_verify "$MOUT"
arm=$(e2e_skopeo inspect --override-arch arm64 --cert-dir "$E2E_CA_DIR" "docker://$H/e2e/multi:v1" 2>&1 | jq -r .Architecture 2>&1)
e2e_check_eq "skopeo inspect picks the arm64 child" "arm64" "$arm"

# --- 4. podman pull (trusts the CA through certs.d inside the namespace) ---------------------
e2e_check "podman pull $H/e2e/oci:v1" e2e_podman pull -q "$H/e2e/oci:v1"
pd=$(e2e_podman image inspect --format '{{.Digest}}' "$H/e2e/oci:v1" 2>&1)
e2e_check_eq "podman image digest equals pushed" "$want" "$pd"
e2e_check "podman pull $H/e2e/docker:v1" e2e_podman pull -q "$H/e2e/docker:v1"
e2e_check "podman pull the index (picks linux/amd64)" \
  e2e_podman pull -q --arch amd64 "$H/e2e/multi:v1"

# --- 5. containerd (ctr) pull: fetch, verify, unpack (checks rootfs.diff_ids) ---------------
e2e_start_containerd
e2e_check "ctr image pull $H/e2e/oci:v1 (unpacks)" \
  e2e_ctr image pull --tlscacert "$E2E_CA" --snapshotter native "$H/e2e/oci:v1"
cd_=$(e2e_ctr image ls 2>&1 | awk -v r="$H/e2e/oci:v1" '$1 == r {print $3}')
e2e_check_eq "ctr image digest equals pushed" "$want" "$cd_"
e2e_check "ctr image pull --all-platforms $H/e2e/multi:v1" \
  e2e_ctr image pull --tlscacert "$E2E_CA" --all-platforms "$H/e2e/multi:v1"
missing_layers() {
  local c l have missing=""
  have=$(e2e_ctr content ls -q 2>/dev/null)
  for c in $children; do
    for l in $(e2e_layout_layers "$MSRC" "$c"); do
      grep -qx "$l" <<<"$have" || missing+=" $l"
    done
  done
  echo "$missing"
}
missing=$(missing_layers)
if [ -n "$missing" ]; then
  # Seen about once in four runs: the pull succeeded (so every layer was fetched and verified)
  # yet a layer of the platform that was not unpacked is gone from the content store afterwards,
  # which points at containerd's garbage collection after the pull's lease ends. Fetch again
  # from the registry; a layer the registry cannot serve still fails the check.
  echo "# content store lacks$missing after the pull; fetching again"
  e2e_ctr content fetch --tlscacert "$E2E_CA" --all-platforms "$H/e2e/multi:v1" >/dev/null 2>&1
  missing=$(missing_layers)
fi
e2e_check_eq "containerd content store has every layer of both platforms" "" "$missing"

# --- 6. Tags and catalog ---------------------------------------------------------------------
e2e_check "skopeo copy registry to registry (tag v2)" \
  e2e_skopeo copy --src-cert-dir "$E2E_CA_DIR" --dest-cert-dir "$E2E_CA_DIR" \
  "docker://$H/e2e/oci:v1" "docker://$H/e2e/oci:v2"
e2e_check_eq "tags/list" '{"name":"e2e/oci","tags":["v1","v2"]}' \
  "$(e2e_curl "https://$H/v2/e2e/oci/tags/list" | jq -c '{name, tags: (.tags | sort)}')"
e2e_check_eq "skopeo list-tags" '["v1","v2"]' \
  "$(e2e_skopeo list-tags --cert-dir "$E2E_CA_DIR" "docker://$H/e2e/oci" | jq -c '.Tags | sort')"
e2e_check_eq "_catalog lists every pushed repository" '["e2e/docker","e2e/multi","e2e/oci"]' \
  "$(e2e_curl "https://$H/v2/_catalog" | jq -c '[.repositories[] | select(startswith("e2e/"))] | sort')"
e2e_check_eq "unknown manifest answers 404 MANIFEST_UNKNOWN" "404 MANIFEST_UNKNOWN" \
  "$(e2e_ns curl -s --cacert "$E2E_CA" -o "$T/err.json" -w '%{http_code}' \
    -H "Accept: $ANY_ACCEPT" "https://$H/v2/e2e/oci/manifests/nope") $(jq -r '.errors[0].code' "$T/err.json" 2>&1)"

e2e_log "target $E2E_TARGET, $(($(date +%s) - start)) s"
e2e_finish
