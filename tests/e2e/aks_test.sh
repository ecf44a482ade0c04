#!/usr/bin/env bash
# An AKS cluster whose nodes pull through the private endpoint, end to end as root (issue 16):
# coved in full mode with its fabric; everything set up with the `cove` CLI as an `az` user
# types it.
#
# `cove aks create --attach-acr` makes the cluster, its node resource group with the kubelet
# identity, three nodes (namespaces in the subnet, each running its own containerd) and the
# AcrPull role assignment az makes. A deployment (cove's Cove.Kubernetes/deployments) runs on the
# nodes: each node's kubelet asks the node's instance metadata service for the kubelet identity's
# token, exchanges it at the registry (coved acr-credential-provider) and pulls with containerd
# through the private endpoint (daemon/aks_plane.h over src/node).
#
# Shows:
#   - a 3-layer image deployed with 3 replicas runs on every node;
#   - all its layer bytes came over the private endpoint's data address (coved's counters);
#   - detaching the registry (the role assignment removed) makes a new pull fail with the
#     registry's error;
#   - scale adds a node; bad input (0 nodes, more nodes than the subnet has addresses, a
#     malformed image) gets AKS's errors and makes nothing; delete removes the nodes.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

e2e_init skopeo jq containerd ctr
[[ $E2E_TARGET == coved ]] || e2e_skip "coved only (clusters are the control plane's)"
E2E_COVE_TIMEOUT=180
e2e_coved_cli_init k

RG=myResourceGroup
H=myregistry.azurecr.io
cove() { e2e_cove "$@"; }
fails() { ! "$@"; }
deployment() { cove aks deployment show -g "$RG" -n "$1" -o json; }
status() { deployment "$1" | jq -r "$2"; }
ready() { [[ $(status "$1" '.status.readyReplicas // .properties.status.readyReplicas') == "$2" ]]; }
pod_message_has() {
  deployment "$1" | jq -r '(.status // .properties.status).pods[].message' | grep -q -- "$2"
}
data_bytes() { e2e_counters | jq "$(e2e_member_jq 10.0.0.6 bytesOut)"; }

# containerds: how many containerd processes this coved's nodes run (their configuration is
# under /run/cove-aks-<prefix>/; a node's namespace may already be gone, its process not).
containerds() {
  local f n=0
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' <"$f" 2>/dev/null | grep -q "^containerd --config /run/cove-aks-$E2E_FABRIC_PREFIX/" && n=$((n + 1))
  done
  echo "$n"
}
containerds_are() { [[ $(containerds) == "$1" ]]; }
no_shims() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' <"$f" 2>/dev/null | grep -q "containerd-shim.*-address /run/cove-aks-$E2E_FABRIC_PREFIX/" && return 1
  done
  return 0
}

# --- the seed's first diagram; a 3-layer image pushed from a VM in the VNet -----------------------
e2e_check "cove up --no-vm (public network access disabled, private endpoint, DNS)" \
  cove up --no-vm -o none
SUBNET_ID=$(cove network vnet subnet show -g "$RG" --vnet-name myVNet -n mySubnet --query id -o tsv)
e2e_check "vm create pusher" cove vm create -g "$RG" -n pusher --vnet-name myVNet --subnet mySubnet -o none
e2e_check "acr update --admin-enabled true" cove acr update -n myregistry --admin-enabled true -o none
e2e_auth_file "$T/admin.json" "$H" myregistry \
  "$(cove acr credential show -n myregistry --query 'passwords[0].value' -o tsv)"
SRC="$T/src"
DIGEST=$(e2e_make_image "$SRC" v1 --layers 3 --layer-mib 4 --config \
  '{"Cmd":["/bin/sh","-c","echo serving on $(hostname); exec sleep 3600"]}')
e2e_make_image "$SRC" v2 --layers 3 --layer-mib 1 --config '{"Cmd":["/bin/sleep","3600"]}' >/dev/null
LAYER_BYTES=0
for l in $(e2e_layout_layers "$SRC" "$DIGEST"); do
  LAYER_BYTES=$((LAYER_BYTES + $(stat -c %s "$(e2e_layout_blob "$SRC" "$l")")))
done
for tag in v1 v2; do
  e2e_check "pusher pushes app:$tag through the private endpoint" \
    cove vm exec -g "$RG" pusher -- skopeo --command-timeout 60s copy --authfile "$T/admin.json" \
    "oci:$SRC:$tag" "docker://$H/app:$tag"
done

# --- bad input first: nothing is made -------------------------------------------------------------
out=$(cove aks create -g "$RG" -n zero --node-count 0 --vnet-subnet-id "$SUBNET_ID" 2>&1)
e2e_log "node count 0: $out"
e2e_check "aks create --node-count 0 is refused" test -n "$out"
e2e_check "zero was not made" fails cove aks show -g "$RG" -n zero -o none
out=$(cove aks create -g "$RG" -n huge --node-count 300 --vnet-subnet-id "$SUBNET_ID" 2>&1)
e2e_log "node count 300: $out"
e2e_check "aks create with more nodes than the subnet has addresses: InsufficientSubnetSize" \
  grep -q InsufficientSubnetSize <<<"$out"
e2e_check "huge was not made" fails cove aks show -g "$RG" -n huge -o none
e2e_check "no node resource group was left behind" \
  fails cove group show -n "MC_${RG}_huge_westus" -o none

# --- the cluster ----------------------------------------------------------------------------------
e2e_check "aks create --attach-acr myregistry --node-count 3 (in mySubnet)" \
  cove aks create -g "$RG" -n myAKS --node-count 3 --vnet-subnet-id "$SUBNET_ID" \
  --attach-acr myregistry --generate-ssh-keys -o none
aks=$(cove aks show -g "$RG" -n myAKS -o json)
KUBELET_OID=$(jq -r '.identityProfile.kubeletidentity.objectId' <<<"$aks")
NODE_RG=$(jq -r '.nodeResourceGroup' <<<"$aks")
e2e_check "the kubelet identity is in the node resource group $NODE_RG" \
  grep -qi "/resourceGroups/$NODE_RG/" <<<"$(jq -r '.identityProfile.kubeletidentity.resourceId' <<<"$aks")"
e2e_check "--attach-acr gave the kubelet identity AcrPull on the registry" \
  grep -q AcrPull <<<"$(cove role assignment list --assignee "$KUBELET_OID" --scope "$(cove acr show -n myregistry --query id -o tsv)" -o json)"
nodes=$(cove aks nodepool show -g "$RG" --cluster-name myAKS -n nodepool1 -o json)
e2e_log "nodes: $(jq -c '.cove.nodes // .properties.cove.nodes' <<<"$nodes")"
e2e_check "one containerd per node" e2e_wait 60 containerds_are 3
e2e_check_eq "three nodes, each with an address in mySubnet" 3 \
  "$(jq '[(.cove.nodes // .properties.cove.nodes)[] | select(.privateIpAddress | startswith("10.0.0."))] | length' <<<"$nodes")"

# --- a deployment on every node, its bytes over the private endpoint ------------------------------
before=$(data_bytes)
e2e_check "aks deploy web (app:v1, 3 replicas)" \
  cove aks deploy -g "$RG" -n myAKS --name web --image "$H/app:v1" --replicas 3 -o none
e2e_check "web: 3 replicas ready" e2e_wait 180 ready web 3
d=$(deployment web)
e2e_log "web: $(jq -c '(.status // .properties.status)' <<<"$d")"
e2e_check_eq "web: one pod on each of the three nodes" 3 \
  "$(jq '[(.status // .properties.status).pods[] | select(.state == "Running") | .node] | unique | length' <<<"$d")"
after=$(data_bytes)
e2e_log "data endpoint bytes: $before -> $after (layers: $LAYER_BYTES bytes per node)"
e2e_check "every node's layer bytes came over the data endpoint's private address 10.0.0.6" \
  test $((after - before)) -ge $((3 * LAYER_BYTES))

# --- detach: a new pull fails with the registry's error -------------------------------------------
e2e_check "aks update --detach-acr myregistry" cove aks update -g "$RG" -n myAKS --detach-acr myregistry -o none
e2e_check "the role assignment is gone" \
  fails grep -q AcrPull <<<"$(cove role assignment list --assignee "$KUBELET_OID" --all -o json)"
e2e_check "aks deploy web2 (app:v2, a new pull)" \
  cove aks deploy -g "$RG" -n myAKS --name web2 --image "$H/app:v2" --replicas 1 -o none
e2e_check "web2: the pull fails with the registry's error" \
  e2e_wait 120 pod_message_has web2 "UNAUTHORIZED\|DENIED\|unauthorized"
e2e_log "web2: $(status web2 '(.status // .properties.status) | tostring')"
e2e_check "web keeps running (its image is on the nodes)" ready web 3
out=$(cove aks deploy -g "$RG" -n myAKS --name bad --image "$H/App::x" 2>&1)
e2e_log "bad image: $out"
e2e_check "a malformed image is refused (400, not a valid image name)" grep -q "not a valid image name" <<<"$out"

# --- scale and delete -----------------------------------------------------------------------------
e2e_check "aks scale --node-count 4" cove aks scale -g "$RG" -n myAKS --node-count 4 -o none
e2e_check_eq "four nodes" 4 \
  "$(cove aks nodepool show -g "$RG" --cluster-name myAKS -n nodepool1 -o json | jq '(.cove.nodes // .properties.cove.nodes) | length')"
e2e_check "aks delete" cove aks delete -g "$RG" -n myAKS --yes
e2e_check "the node resource group went with it" fails cove group show -n "$NODE_RG" -o none
e2e_check "no containerd of the cluster is left" e2e_wait 60 containerds_are 0
e2e_check "nor a shim or a pod's process" e2e_wait 30 no_shims
e2e_finish
