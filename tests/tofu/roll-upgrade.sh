#!/usr/bin/env bash
# tools/roll-upgrade.sh (make upgrade ENV=... VM=...) against a stand-in kubectl
# (tests/tofu/fake-kubectl-nodes) and a stand-in tools/tf-upgrade.sh that records the
# replacements: the drain -> replace -> delete node -> wait Ready -> uncordon order, one
# node at a time, the etcd-quorum and other-node refusals, the only-server cases, and
# what a failure at each step leaves. The OpenTofu part of the replacement itself runs
# against the Proxmox API test double in `make sim-test`.
#
#   tests/tofu/roll-upgrade.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
cases=0
seen=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
ok() { # a case passes when nothing failed since the last one
  if [ "$failures" = "$seen" ]; then
    cases=$((cases + 1))
    echo "ok    $*"
  else
    echo "FAIL  $*" >&2
  fi
  seen=$failures
}

# An environment directory with five VMs, as the rendered main.tf lists them.
env_dir="$work/env"
mkdir -p "$env_dir" "$work/bin"
{
  echo 'locals {'
  echo '  vms = {'
  for vm in s1 s2 s3 a1 a2; do printf '    "%s" = {\n      vm_id = null\n    }\n' "$vm"; done
  echo '  }'
  echo '}'
} >"$env_dir/main.tf"
cat >"$work/bin/tofu" <<'STUB'
#!/usr/bin/env bash
case "$*" in
  *"output -raw kubectl_context") [ ! -f "$FAKE_NODES/no-context" ] || exit 1; printf homelab-test ;;
  *) echo "tofu stub: unexpected $*" >&2; exit 1 ;;
esac
STUB
cat >"$work/bin/tf-upgrade" <<'STUB'
#!/bin/sh
echo "tf-upgrade $*" >>"$FAKE_NODES/log"
[ ! -f "$FAKE_NODES/upgrade-fails" ] || { echo "Apply cancelled." >&2; exit 1; }
STUB
chmod +x "$work/bin/tofu" "$work/bin/tf-upgrade"
export FAKE_NODES="$work/state"

# cluster LINE...: the nodes ("NAME ROLE READY [cordoned]", ROLE etcd|server|agent)
cluster() {
  rm -rf "$FAKE_NODES"
  mkdir -p "$FAKE_NODES"
  : >"$FAKE_NODES/nodes"
  : >"$FAKE_NODES/log"
  local n role ready cordon cp etcd
  for spec in "$@"; do
    read -r n role ready cordon <<<"$spec"
    cp="" etcd=""
    case $role in etcd) cp=true etcd=true ;; server) cp=true ;; esac
    printf 'name=%s cp=%s etcd=%s ready=%s unsched=%s\n' "$n" "$cp" "$etcd" "$ready" "${cordon:+true}" >>"$FAKE_NODES/nodes"
  done
}
# roll WANT_EXIT VMS [ENV=VALUE...]: run the roll; output in $work/out
roll() {
  local want=$1 vms=$2 rc=0
  shift 2
  : >"$FAKE_NODES/log"
  env TOFU="$work/bin/tofu" KUBECTL="$root/tests/tofu/fake-kubectl-nodes" TF_UPGRADE="$work/bin/tf-upgrade" \
    POLL=0 READY_TIMEOUT=5 "$@" sh "$root/tools/roll-upgrade.sh" "$env_dir" "$vms" -auto-approve >"$work/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { fail "roll $vms: exit $rc, want $want"; sed 's/^/    /' "$work/out" >&2; }
}
# The calls that change something, in order, without the context and the request counts.
steps() {
  sed -n -e 's/^kubectl --context [^ ]* \(cordon\|uncordon\) \([^ ]*\).*/\1 \2/p' \
    -e 's/^kubectl --context [^ ]* drain \([^ ]*\).*/drain \1/p' \
    -e 's/^kubectl --context [^ ]* delete node \([^ ]*\).*/delete \1/p' \
    -e 's/^tf-upgrade [^ ]* \([^ ]*\).*/replace \1/p' "$FAKE_NODES/log" | tr '\n' ';'
}
expect_steps() { [ "$(steps)" = "$2" ] || fail "$1: steps '$(steps)', want '$2'"; }
expect_out() { grep -qF -- "$2" "$work/out" || { fail "$1: output lacks '$2'"; sed 's/^/    /' "$work/out" >&2; }; }
node_line() { grep "^name=$1 " "$FAKE_NODES/nodes" || true; }

healthy=("s1 etcd True" "s2 etcd True" "s3 etcd True" "a1 agent True" "a2 agent True")

# --- an agent then a server, one at a time, each drained, replaced, back Ready
cluster "${healthy[@]}"
roll 0 a1,s2
expect_steps "roll a1,s2" "cordon a1;drain a1;replace a1;delete a1;uncordon a1;cordon s2;drain s2;replace s2;delete s2;uncordon s2;"
grep -q -- "drain a1 --ignore-daemonsets --delete-emptydir-data --timeout=600s" "$FAKE_NODES/log" || fail "drain flags: $(grep drain "$FAKE_NODES/log")"
grep -q -- "^tf-upgrade $env_dir a1 -auto-approve$" "$FAKE_NODES/log" || fail "tf-upgrade arguments: $(grep tf-upgrade "$FAKE_NODES/log")"
grep -q "get node s2 -o jsonpath=" "$FAKE_NODES/log" || fail "no wait for Ready"
[ "$(node_line s2)" = "name=s2 cp=true etcd=true ready=True unsched=" ] || fail "s2 after the roll: $(node_line s2)"
ok "a1 then s2: cordon, drain, replace, delete node, wait Ready, uncordon; the next only after"

# --- quorum: 2 etcd members cannot lose one; 3 can (above)
cluster "s1 etcd True" "s2 etcd True" "a1 agent True"
roll 2 s1
expect_out "2 members" "replacing s1 would break etcd quorum: 2 members, 1 left while it is replaced, quorum needs 2"
expect_steps "2 members" ""
roll 0 a1
expect_steps "2 members, an agent" "cordon a1;drain a1;replace a1;delete a1;uncordon a1;"
ok "etcd quorum: replacing one of 2 members is refused before anything; an agent of that cluster is not"

# --- one node at a time: another node down or cordoned refuses
cluster "s1 etcd True" "s2 etcd False" "s3 etcd True" "a1 agent True"
roll 2 s1
expect_out "other down" "other nodes are cordoned or not Ready"
expect_out "other down" "name=s2"
expect_steps "other down" ""
cluster "${healthy[@]}"
sed -i '/^name=a2 /s/unsched=/unsched=true/' "$FAKE_NODES/nodes"
roll 2 a1
expect_out "other cordoned" "name=a2"
expect_steps "other cordoned" ""
ok "another node NotReady or cordoned: refused (one node at a time), nothing touched"

# --- not a node; KUBE=off; no kubectl_context output
cluster "s1 etcd True" "s2 etcd True" "s3 etcd True"
roll 2 a1
expect_out "not a node" "a1 is not a node of context homelab-test"
expect_steps "not a node" ""
roll 2 s1,a1
expect_steps "a list with a non-node" ""
roll 0 a1 KUBE=off
expect_steps "KUBE=off" "replace a1;"
grep -q '^kubectl' "$FAKE_NODES/log" && fail "KUBE=off ran kubectl"
touch "$FAKE_NODES/no-context"
roll 0 s1
expect_steps "no context" "replace s1;"
expect_out "no context" "no kubectl_context output"
rm "$FAKE_NODES/no-context"
touch "$FAKE_NODES/down"
roll 2 s1
expect_out "API down" "cannot list the nodes of context homelab-test"
expect_steps "API down" ""
ok "a VM that is no node, or an API that does not answer, is refused; KUBE=off or no cluster only replaces"

# --- the only server
cluster "s1 server True"
roll 0 s1
expect_steps "single node" "replace s1;"
expect_out "single node" "s1 is the only server: no drain"
expect_out "single node" "make kubeconfig"
cluster "s1 etcd True"
roll 0 s1
expect_steps "single etcd node" "replace s1;"
cluster "s1 server True" "a1 agent True"
roll 2 s1
expect_out "only server with agents" "s1 is the only server of a cluster with 1 other node(s)"
expect_steps "only server with agents" ""
roll 0 s1 ALLOW_DATA_LOSS=1
expect_steps "only server, ALLOW_DATA_LOSS=1" "replace s1;"
ok "the only server: a single node is replaced with the data warning, with agents only after ALLOW_DATA_LOSS=1"

# --- failures stop the roll where they happen
cluster "${healthy[@]}"
touch "$FAKE_NODES/drain-fails"
roll 2 a1,a2
expect_steps "drain fails" "cordon a1;drain a1;"
expect_out "drain fails" "draining a1 failed: it stays cordoned"
[ "$(node_line a1)" = "name=a1 cp= etcd= ready=True unsched=true" ] || fail "a1 after a failed drain: $(node_line a1)"
cluster "${healthy[@]}"
touch "$FAKE_NODES/upgrade-fails"
roll 1 a1,a2
expect_steps "replacement declined" "cordon a1;drain a1;replace a1;"
expect_out "replacement declined" "a1 stays cordoned"
cluster "${healthy[@]}"
touch "$FAKE_NODES/never-ready"
roll 1 a1,a2 READY_TIMEOUT=0
expect_steps "never Ready" "cordon a1;drain a1;replace a1;delete a1;"
expect_out "never Ready" "a1 did not come back Ready within 0s"
ok "a failed drain, a declined replacement, a node that never comes back: the roll stops there, later VMs untouched"

# --- bad input
cluster "${healthy[@]}"
roll 2 nope
expect_out "unknown VM" "no VM 'nope' in $env_dir/main.tf"
roll 2 'a1;x'
roll 2 a1 READY_TIMEOUT=soon
expect_steps "bad input" ""
ok "unknown VM, a bad name, a timeout that is not seconds: refused before anything"

if [ "$failures" -gt 0 ]; then
  echo "roll-upgrade: $failures failure(s)" >&2
  exit 1
fi
echo "roll-upgrade: $cases cases passed"
