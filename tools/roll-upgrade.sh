#!/bin/sh
# tools/roll-upgrade.sh ENV_DIR VM[,VM...] [TOFU_ARGS...] — `make upgrade ENV=... VM=...`:
# replace VMs with fresh clones of the image the spec names now, one at a time, and
# keep the Kubernetes cluster on them whole while doing it.
#
# For each VM, in the order given:
#   1. checks the cluster (kubectl, the environment's kubectl_context output): the VM is
#      a node; no other node is NotReady or cordoned (one node at a time); replacing an
#      etcd member leaves quorum (more than half of the members Ready without it);
#   2. kubectl cordon + drain (DaemonSets stay, emptyDir data goes; DRAIN_TIMEOUT);
#   3. the replacement itself: tools/tf-upgrade.sh (OpenTofu asks first unless
#      TOFU_ARGS says -auto-approve; declining stops here with the node cordoned);
#   4. kubectl delete node: frees the node name and its k3s node password for the new
#      VM (k3s refuses a second node of the same name) and, for a server, makes k3s
#      remove the old etcd member;
#   5. waits until the new node is Ready (READY_TIMEOUT), then uncordons it.
# A failure stops the roll: the VMs after it are not touched.
#
# Without a cluster to keep (the environment has no kubectl_context output, or KUBE=off)
# each VM is only replaced. The only server of a single-node cluster is replaced without
# a drain (there is nowhere to drain to) after a warning: its datastore, Secrets and
# local volumes are lost (docs/upgrades.md). The only server of a cluster with agents is
# refused unless ALLOW_DATA_LOSS=1.
#
# Environment: TOFU, KUBECTL (default tofu, kubectl), KUBE_CONTEXT (default: the
# environment's kubectl_context output), KUBE=off, DRAIN_TIMEOUT (s, default 600),
# READY_TIMEOUT (s, default 900), POLL (s, default 5), TF_UPGRADE (default: tf-upgrade.sh
# next to this script), ALLOW_DATA_LOSS=1.
set -eu

TOFU=${TOFU:-tofu}
KUBECTL=${KUBECTL:-kubectl}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
READY_TIMEOUT=${READY_TIMEOUT:-900}
POLL=${POLL:-5}
here=$(cd "$(dirname "$0")" && pwd)
TF_UPGRADE=${TF_UPGRADE:-$here/tf-upgrade.sh}

say() { echo "upgrade: $*" >&2; }
die() {
  echo "upgrade: $*" >&2
  exit 2
}

[ $# -ge 2 ] || die "usage: $0 ENV_DIR VM[,VM...] [TOFU_ARGS...]"
dir=$1
vms=$(printf '%s' "$2" | tr ',' ' ')
shift 2
[ -n "$vms" ] || die "no VM named"
for vm in $vms; do
  case "$vm" in *[!a-z0-9-]*) die "'$vm' is not a VM name (a-z, 0-9, -)" ;; esac
  grep -q "^    \"$vm\" = {" "$dir/main.tf" 2>/dev/null || die "no VM '$vm' in $dir/main.tf"
done
for n in "$DRAIN_TIMEOUT" "$READY_TIMEOUT" "$POLL"; do
  case "$n" in '' | *[!0-9]*) die "DRAIN_TIMEOUT, READY_TIMEOUT and POLL are seconds, not '$n'" ;; esac
done

replace() { # replace VM [TOFU_ARGS...]
  target=$1
  shift
  sh "$TF_UPGRADE" "$dir" "$target" "$@"
}

context=${KUBE_CONTEXT:-}
if [ -z "$context" ] && [ "${KUBE:-on}" != off ]; then
  context=$("$TOFU" -chdir="$dir" output -raw kubectl_context 2>/dev/null) || context=
fi
case "$context" in *[!A-Za-z0-9._@:-]*) die "kubectl context '$context' is not a context name" ;; esac
if [ "${KUBE:-on}" = off ] || [ -z "$context" ]; then
  if [ "${KUBE:-on}" = off ]; then
    say "KUBE=off: replacing without draining (no cluster checks)"
  else
    say "no kubectl_context output in $dir: no Kubernetes to drain, replacing only"
  fi
  for vm in $vms; do
    replace "$vm" "$@"
  done
  exit 0
fi

k() { "$KUBECTL" --context "$context" "$@"; }

# One line per node: name=N cp=true|"" etcd=true|"" ready=True|False|Unknown unsched=true|"".
nodes() {
  k get nodes -o jsonpath='{range .items[*]}{"name="}{.metadata.name}{" cp="}{.metadata.labels.node-role\.kubernetes\.io/control-plane}{" etcd="}{.metadata.labels.node-role\.kubernetes\.io/etcd}{" ready="}{.status.conditions[?(@.type=="Ready")].status}{" unsched="}{.spec.unschedulable}{"\n"}{end}'
}
field() { # field LINE KEY
  printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

table=$(nodes) || die "cannot list the nodes of context $context (is the cluster up? make kubeconfig ENV=...); KUBE=off replaces without draining"
for vm in $vms; do
  printf '%s\n' "$table" | grep -q "^name=$vm " ||
    die "$vm is not a node of context $context (nodes: $(printf '%s\n' "$table" | sed -n 's/^name=\([^ ]*\).*/\1/p' | tr '\n' ' ')); KUBE=off replaces it without draining"
done

for vm in $vms; do
  table=$(nodes) || die "cannot list the nodes of context $context"
  me=$(printf '%s\n' "$table" | grep "^name=$vm ")
  total=$(printf '%s\n' "$table" | grep -c '^name=')
  members=$(printf '%s\n' "$table" | grep -c ' etcd=true ') || true
  servers=$(printf '%s\n' "$table" | grep -c ' cp=true ') || true
  # One node at a time: another node down or cordoned (an upgrade half done?) stops here.
  others=$(printf '%s\n' "$table" | grep -v "^name=$vm " | grep -e ' unsched=true' -e ' ready=[^T]' -e ' ready= ' || true)
  [ -z "$others" ] || die "before $vm: other nodes are cordoned or not Ready; one node at a time: bring them back (kubectl uncordon) first:
$others"
  role=agent
  [ "$(field "$me" cp)" = true ] && role=server
  if [ "$(field "$me" etcd)" = true ]; then
    role=server
    left=$((members - 1)) need=$((members / 2 + 1))
    if [ "$members" -gt 1 ] && [ "$left" -lt "$need" ]; then
      die "replacing $vm would break etcd quorum: $members members, $left left while it is replaced, quorum needs $need; add a server first (3 servers tolerate one replaced)"
    fi
  fi
  if [ "$role" = server ] && { [ "$servers" -le 1 ] || [ "$members" = 1 ]; }; then
    # The only server: nowhere to drain to, and its datastore goes with the VM.
    if [ "$total" -gt 1 ] && [ "${ALLOW_DATA_LOSS:-}" != 1 ]; then
      die "$vm is the only server of a cluster with $((total - 1)) other node(s): replacing it loses the cluster's datastore and its agents' cluster; back up first (docs/upgrades.md), then ALLOW_DATA_LOSS=1"
    fi
    say "$vm is the only server: no drain; its datastore, Secrets and local volumes are lost (docs/upgrades.md: back up first)"
    replace "$vm" "$@"
    say "$vm replaced: fetch the new cluster's kubeconfig with make kubeconfig ENV=..., then make k8s-bootstrap and make argo"
    continue
  fi

  say "[$vm] cordon and drain ($role)"
  k cordon "$vm"
  k drain "$vm" --ignore-daemonsets --delete-emptydir-data --timeout="${DRAIN_TIMEOUT}s" ||
    die "draining $vm failed: it stays cordoned, nothing replaced (kubectl uncordon $vm to undo)"
  say "[$vm] replace"
  replace "$vm" "$@" || {
    say "replacing $vm failed or was declined: $vm stays cordoned (kubectl uncordon $vm if the old VM still runs); the VMs after it are not touched"
    exit 1
  }
  say "[$vm] delete the old node object (frees the name and the node password; a server's etcd member goes with it)"
  k delete node "$vm" --wait=true
  say "[$vm] wait until the new node is Ready (up to ${READY_TIMEOUT}s)"
  deadline=$(($(date +%s) + READY_TIMEOUT))
  while :; do
    ready=$(k get node "$vm" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) || ready=
    [ "$ready" = True ] && break
    [ "$(date +%s)" -lt "$deadline" ] || {
      say "$vm did not come back Ready within ${READY_TIMEOUT}s (last: ${ready:-not registered}): look at the VM's console and k3s log; the VMs after it are not touched"
      exit 1
    }
    sleep "$POLL"
  done
  k uncordon "$vm"
  say "[$vm] Ready and uncordoned"
done
