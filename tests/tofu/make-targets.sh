#!/usr/bin/env bash
# Tests of mk/tofu.mk with stand-ins for tofu and ssh (nothing reaches Proxmox or a VM):
#   - tf-* and kubeconfig refuse a missing, malformed or unknown ENV and list the
#     environments there are;
#   - tf-plan refuses to run without Proxmox credentials;
#   - tf-plan runs init once, then plan with -out=tfplan, in the environment's dir;
#   - kubeconfig rewrites the k3s kubeconfig (server address, context/cluster/user
#     names), writes it mode 600, and merges it into an existing file with kubectl
#     without losing the contexts already there.
#
#   tests/tofu/make-targets.sh            (from the repository root; needs make, kubectl
#                                          for the merge case)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# A generated tree with two environments (only main.tf matters to the targets).
mkdir -p "$work/generated/tofu/envs/alpha" "$work/generated/tofu/envs/beta" "$work/bin" "$work/home"
touch "$work/generated/tofu/envs/alpha/main.tf" "$work/generated/tofu/envs/beta/main.tf"

# tofu stand-in: logs its arguments; `output -raw NAME` answers from fixed values.
cat >"$work/bin/tofu" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$STUB_LOG"
dir=
for arg in "$@"; do
  case "$arg" in -chdir=*) dir=${arg#-chdir=} ;; esac
done
if [ -n "${STUB_NO_STATE:-}" ] && [[ "$*" == *"output "* ]]; then
  # What OpenTofu prints for an output of an environment never applied (a warning box).
  printf '\xe2\x95\xb7\n\xe2\x94\x82 Warning: No outputs found\n\xe2\x95\xb5\n'
  printf '\xe2\x95\xb7\n\xe2\x94\x82 Error: Output "x" not found\n\xe2\x95\xb5\n' >&2
  exit 1
fi
case "$*" in
  *"init "*) mkdir -p "$dir/.terraform" ;;
  *"output -raw server_ip") printf '192.0.2.10' ;;
  *"output -raw api_address") printf '%s' "${STUB_API:-}" ;;
  *"output -raw kubectl_context") printf 'homelab-alpha' ;;
  *"output -raw ssh_user") printf 'admin' ;;
esac
EOF
# ssh stand-in: prints what k3s writes to /etc/rancher/k3s/k3s.yaml.
cat >"$work/bin/ssh" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$STUB_LOG"
if [ -n "${STUB_SSH_FAIL:-}" ]; then echo "apiVersion: v1"; echo "ssh: connect to host: Connection refused" >&2; exit 255; fi
cat <<'YAML'
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EK
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVAo=
    client-key-data: S0VZCg==
YAML
EOF
chmod +x "$work/bin/tofu" "$work/bin/ssh"
export STUB_LOG="$work/stub.log"

run_make() {
  env -u PROXMOX_VE_API_TOKEN -u PROXMOX_VE_PASSWORD HOME="$work/home" \
    make --no-print-directory -C "$root" GUARD=off GENERATED="$work/generated" TOFU="$work/bin/tofu" SSH="$work/bin/ssh" \
    KUBECONFIG_FILE="$work/home/.kube/config" "$@"
}

# expect_refusal TARGET [VAR=value...]: exit 2 and a message naming the environments.
expect_refusal() {
  local out rc=0
  out=$(run_make "$@" 2>&1) || rc=$?
  if [ "$rc" -ne 2 ]; then
    fail "make $* exited $rc, want 2: $out"
  elif ! grep -q "alpha beta" <<<"$out"; then
    fail "make $* did not list the environments: $out"
  fi
}

for target in tf-init tf-plan tf-apply tf-destroy kubeconfig; do
  expect_refusal "$target"
  expect_refusal "$target" ENV=gamma
done
out=$(run_make tf-plan ENV=../alpha 2>&1) && fail "ENV=../alpha was accepted" || grep -q "not an environment name" <<<"$out" || fail "ENV=../alpha: $out"
[ ! -s "$STUB_LOG" ] || fail "tofu or ssh ran although ENV was refused: $(cat "$STUB_LOG")"

out=$(run_make tf-plan ENV=alpha 2>&1) && fail "tf-plan ran without credentials" || grep -q "PROXMOX_VE_API_TOKEN" <<<"$out" || fail "tf-plan without credentials: $out"

: >"$STUB_LOG"
out=$(env HOME="$work/home" PROXMOX_VE_API_TOKEN='test@pve!stub=not-a-secret' make --no-print-directory -C "$root" \
  GUARD=off GENERATED="$work/generated" TOFU="$work/bin/tofu" tf-plan ENV=alpha 2>&1) || fail "tf-plan ENV=alpha failed: $out"
grep -qx -- "-chdir=$work/generated/tofu/envs/alpha init -input=false" "$STUB_LOG" || fail "tf-plan did not init first: $(cat "$STUB_LOG")"
grep -qx -- "-chdir=$work/generated/tofu/envs/alpha plan -input=false -out=tfplan" "$STUB_LOG" || fail "tf-plan did not plan: $(cat "$STUB_LOG")"

# kubeconfig into an empty home: the file is the rewritten k3s.yaml, mode 600.
: >"$STUB_LOG"
out=$(run_make kubeconfig ENV=alpha 2>&1) || fail "kubeconfig failed: $out"
config="$work/home/.kube/config"
if [ -f "$config" ]; then
  grep -q "server: https://192.0.2.10:6443" "$config" || fail "server not rewritten: $(cat "$config")"
  grep -q "127.0.0.1" "$config" && fail "127.0.0.1 left in the kubeconfig"
  grep -q ": default$" "$config" && fail "'default' names left in the kubeconfig"
  [ "$(grep -c ': homelab-alpha$' "$config")" -eq 6 ] || fail "cluster, user and context names, their references and current-context must be homelab-alpha: $(cat "$config")"
  [ "$(stat -c %a "$config")" = 600 ] || fail "kubeconfig mode is $(stat -c %a "$config"), want 600"
  grep -q "admin@192.0.2.10 sudo cat /etc/rancher/k3s/k3s.yaml" "$STUB_LOG" || fail "ssh was not asked for the k3s kubeconfig: $(cat "$STUB_LOG")"
else
  fail "kubeconfig wrote no $config"
fi

# A cluster with a VIP: fetched from the server, pointed at the API address.
: >"$STUB_LOG"
out=$(env -u PROXMOX_VE_API_TOKEN STUB_API=192.0.2.50 HOME="$work/home-vip" make --no-print-directory -C "$root" GUARD=off \
  GENERATED="$work/generated" TOFU="$work/bin/tofu" SSH="$work/bin/ssh" KUBECONFIG_FILE="$work/home-vip/.kube/config" \
  kubeconfig ENV=alpha 2>&1) || fail "kubeconfig (VIP) failed: $out"
grep -q "server: https://192.0.2.50:6443" "$work/home-vip/.kube/config" 2>/dev/null || fail "kubeconfig not pointed at the API address: $out"
grep -q "admin@192.0.2.10 sudo cat" "$STUB_LOG" || fail "kubeconfig (VIP) not fetched from the server: $(cat "$STUB_LOG")"

# Merge into an existing config: other contexts stay, the new one is added.
if command -v kubectl >/dev/null 2>&1; then
  cat >"$config" <<'YAML'
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://198.51.100.1:6443
  name: other
contexts:
- context:
    cluster: other
    user: other
  name: other
current-context: other
users:
- name: other
  user:
    token: abc
YAML
  out=$(run_make kubeconfig ENV=alpha 2>&1) || fail "kubeconfig merge failed: $out"
  contexts=$(KUBECONFIG="$config" kubectl config get-contexts -o name | sort | tr '\n' ' ')
  [ "$contexts" = "homelab-alpha other " ] || fail "contexts after the merge: '$contexts'"
  [ -f "$config.bak" ] || fail "no backup of the previous kubeconfig"
  server=$(KUBECONFIG="$config" kubectl config view -o jsonpath='{.clusters[?(@.name=="homelab-alpha")].cluster.server}')
  [ "$server" = "https://192.0.2.10:6443" ] || fail "merged server is '$server'"
  # The current context is not switched silently (issue #15) ...
  current=$(KUBECONFIG="$config" kubectl config current-context)
  [ "$current" = other ] || fail "make kubeconfig switched the current context to '$current'"
  grep -q "not switched" <<<"$out" || fail "make kubeconfig did not say how to switch: $out"
  # ... only when asked.
  out=$(run_make kubeconfig ENV=alpha USE_CONTEXT=1 2>&1) || fail "kubeconfig USE_CONTEXT=1 failed: $out"
  current=$(KUBECONFIG="$config" kubectl config current-context)
  [ "$current" = homelab-alpha ] || fail "USE_CONTEXT=1: current context is '$current'"
  # A failed ssh never clobbers a good file (and fails).
  cp -p "$config" "$work/good"
  if out=$(STUB_SSH_FAIL=1 run_make kubeconfig ENV=alpha 2>&1); then fail "kubeconfig succeeded although ssh failed: $out"; fi
  cmp -s "$config" "$work/good" || fail "a failed ssh changed $config"
  grep -q "left as it was" <<<"$out" || fail "failed ssh: $out"
else
  echo "skip: kubectl missing, merge case not tested"
fi

# Before any apply: our message, exit 2, no OpenTofu warning box inside it.
rc=0
out=$(STUB_NO_STATE=1 run_make kubeconfig ENV=alpha 2>&1) || rc=$?
[ "$rc" -eq 2 ] || fail "kubeconfig with no state exited $rc, want 2: $out"
grep -q "run make tf-apply ENV=alpha first" <<<"$out" || fail "kubeconfig with no state: $out"
if grep -q $'\xe2\x94\x82' <<<"$out"; then fail "kubeconfig with no state printed OpenTofu's box: $out"; fi

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "mk/tofu.mk: all cases pass"
