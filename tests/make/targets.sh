#!/usr/bin/env bash
# The top Makefile's own contract, with stand-ins for every tool that would reach a real
# system (packer, tofu, ssh, kubectl, homelabgen doctor: nothing leaves this machine):
#   - `make diff` exits 0 when clean, 1 on drift (with the diff on stdout), 2 on error;
#   - the operator targets (packer, tf-apply, k8s-bootstrap, argo, up) refuse while the
#     spec holds a CHANGEME placeholder, and while the tree is not what the spec renders,
#     before any tool runs;
#   - `make argo` refuses while generated/ is uncommitted or its commit is not pushed;
#   - `make up ENV=...` chains image (only when the template is missing), tf-plan,
#     tf-apply, kubeconfig, k8s-bootstrap, phpipam-secret and argo, and stops at the first
#     failure saying how to go on; `make down` destroys.
#
#   tests/make/targets.sh      (from anywhere; uses $HOMELABGEN or this checkout's build)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=checks/lib.sh
. "$root/checks/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$(homelabgen_path)
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# --- stand-ins: each logs "NAME ARGS" to $CALLS
mkdir -p "$work/bin" "$work/notools" "$work/home"
export CALLS="$work/calls.log" FAKE_KUBE_STATE="$work/kube"
for tool in packer tofu ssh; do
  cat >"$work/bin/$tool" <<STUB
#!/usr/bin/env bash
printf '%s %s\n' "$tool" "\$*" >>"\$CALLS"
[ ! -f "$work/fail-$tool" ] || { echo "$tool: failing as told" >&2; exit 1; }
STUB
  chmod +x "$work/bin/$tool"
done
cat >>"$work/bin/tofu" <<'STUB'
dir=; for a in "$@"; do case $a in -chdir=*) dir=${a#-chdir=} ;; esac; done
case "$*" in
  *" init "*) mkdir -p "$dir/.terraform" ;;
  *"output -raw server_ip") printf 192.0.2.10 ;;
  *"output -raw kubectl_context") printf homelab-test ;;
  *"output -raw ssh_user") printf admin ;;
esac
STUB
# homelabgen: `doctor --templates` (make up's image step; test_doctor.py proves the real
# one against the Proxmox API test double) answers $work/templates.txt, exit
# $work/templates.exit; the doctor gate (DOCTOR=on) answers $work/doctor.exit; anything
# else goes to the real homelabgen.
cat >"$work/bin/homelabgen" <<STUB
#!/usr/bin/env bash
if [ "\$1" = doctor ]; then
  case " \$* " in
    *" --templates "*) printf 'homelabgen-templates %s\n' "\$*" >>"\$CALLS"; cat "$work/templates.txt"; exit "\$(cat "$work/templates.exit")" ;;
  esac
  printf 'homelabgen %s\n' "\$*" >>"\$CALLS"; echo "doctor says \$(cat "$work/doctor.exit")"; exit "\$(cat "$work/doctor.exit")"
fi
exec "$bin" "\$@"
STUB
chmod +x "$work/bin/homelabgen"
echo 0 >"$work/templates.exit"
echo 0 >"$work/doctor.exit"
cat >>"$work/bin/ssh" <<'STUB'
printf 'apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n    user: default\n  name: default\ncurrent-context: default\nkind: Config\nusers:\n- name: default\n  user:\n    token: x\n'
STUB
cat >>"$work/bin/packer" <<'STUB'
case "$1" in console) cat >/dev/null; echo 1 ;; esac
STUB
ln -s "$root/tests/k8s/fake-kubectl" "$work/bin/kubectl"

# --- a lab repository with a bare origin, the example spec without placeholders
lab="$work/lab"
mkdir -p "$lab/spec"
cp "$root/.gitignore" "$lab/"
sed -e 's|AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA CHANGEME@homelab|AAAAC3NzaC1lZDI1NTE5AAAAIBn0rFh1hB8YVxkWkVq7N4cR0tG5mY6oKp2sZ3xA9dEf me@laptop|' \
  -e 's|https://github.com/CHANGEME/homelab.git|https://git.example.org/me/homelab.git|' \
  "$root/tests/specs/k3s-single.yaml" >"$lab/spec/homelab.yaml"
grep -q 'CHANGEME@\|/CHANGEME/' "$lab/spec/homelab.yaml" && fail "the fixture's placeholders were not replaced"
"$bin" render --quiet --spec "$lab/spec/homelab.yaml" --out "$lab/generated"
env=$(basename "$(find "$lab/generated/tofu/envs" -mindepth 1 -maxdepth 1 -type d | sort | head -1)")
git_lab() { git -C "$lab" -c user.name=test -c user.email=test@example.org -c init.defaultBranch=main "$@"; }
git_lab init -q
git_lab add -A
git_lab commit -qm lab
git init -q --bare "$work/origin.git"
git_lab remote add origin "$work/origin.git"
git_lab push -q origin HEAD:main
git_lab fetch -q origin

# run_make WANT_EXIT NAME ARGS...: output in $work/out; calls in $CALLS
run_make() {
  local want=$1 name=$2 rc=0
  shift 2
  : >"$CALLS"
  env HOMELABGEN="$work/bin/homelabgen" HOMELABGEN_TOOLS_DIR="$work/notools" PATH="$work/bin:$PATH" \
    PROXMOX_VE_API_TOKEN='test@pve!t=not-a-secret' PKR_VAR_build_ssh_key="$work/key" \
    make --no-print-directory -C "$root" DOCTOR=off SPEC="${LAB_SPEC:-$lab/spec/homelab.yaml}" GENERATED="${LAB_GENERATED:-$lab/generated}" \
    TOFU="$work/bin/tofu" SSH="$work/bin/ssh" KUBECONFIG_FILE="$work/home/.kube/config" \
    "$@" >"$work/out" 2>&1 || rc=$?
  if [ "$rc" != "$want" ]; then
    fail "$name: exit $rc, want $want"
    sed 's/^/    /' "$work/out" >&2
  fi
}
expect_out() { grep -qF -- "$2" "$work/out" || { fail "$1: output lacks '$2'"; sed 's/^/    /' "$work/out" >&2; }; }
expect_no_calls() { [ ! -s "$CALLS" ] || { fail "$1: tools ran although refused: $(cat "$CALLS")"; }; }

# --- every target finds the pinned tools itself (no `source env.sh`): a tofu only in
# $HOMELABGEN_TOOLS_DIR/bin, a PATH without it
mkdir -p "$work/tools/bin"
cp "$work/bin/tofu" "$work/tools/bin/tofu"
: >"$CALLS"
env HOMELABGEN="$bin" HOMELABGEN_TOOLS_DIR="$work/tools" PATH=/usr/bin:/bin PROXMOX_VE_API_TOKEN='test@pve!t=x' \
  make --no-print-directory -C "$root" GUARD=off SPEC="$lab/spec/homelab.yaml" GENERATED="$lab/generated" \
  tf-plan ENV="$env" >"$work/out" 2>&1 || { fail "tf-plan did not find the toolchain's tofu"; sed 's/^/    /' "$work/out" >&2; }
grep -q "^tofu -chdir=$lab/generated/tofu/envs/$env plan " "$CALLS" || fail "tf-plan: the toolchain's tofu did not plan: $(cat "$CALLS")"
rm -rf "$lab/generated/tofu/envs/$env/.terraform"

# --- make diff: 0, 1, 2
run_make 0 "diff clean" diff
printf 'drift\n' >>"$lab/generated/k8s/README.md"
run_make 1 "diff on drift" diff
expect_out "diff on drift" "-drift"
run_make 2 "diff of a broken spec" diff SPEC="$work/nope.yaml"
git_lab checkout -q -- generated

# --- placeholders: every operator target refuses before any tool runs
mkdir -p "$work/placeholder"
cp "$root/tests/specs/k3s-single.yaml" "$work/placeholder/homelab.yaml"
"$bin" render --quiet --spec "$work/placeholder/homelab.yaml" --out "$work/placeholder/generated"
for target in packer "tf-apply ENV=$env" k8s-bootstrap argo "up ENV=$env"; do
  # shellcheck disable=SC2086 # target and its variable are two words
  LAB_SPEC="$work/placeholder/homelab.yaml" LAB_GENERATED="$work/placeholder/generated" run_make 2 "$target with placeholders" $target
  expect_out "$target with placeholders" "holds placeholders"
  expect_out "$target with placeholders" "CHANGEME"
  expect_no_calls "$target with placeholders"
done

# --- drift: every operator target refuses
printf 'drift\n' >>"$lab/generated/k8s/README.md"
for target in packer "tf-apply ENV=$env" k8s-bootstrap argo "up ENV=$env"; do
  # shellcheck disable=SC2086
  run_make 2 "$target on drift" $target
  expect_out "$target on drift" "is not what"
  expect_no_calls "$target on drift"
done
git_lab checkout -q -- generated

# --- argo: uncommitted, unpushed, pushed
mkdir -p "$FAKE_KUBE_STATE" && touch "$FAKE_KUBE_STATE/crds"
printf '# note\n' >>"$lab/spec/homelab.yaml"
run_make 2 "argo with an uncommitted spec" argo
expect_out "argo with an uncommitted spec" "uncommitted changes"
git_lab commit -qam "a local commit"
run_make 2 "argo with an unpushed commit" argo
expect_out "argo with an unpushed commit" "is not pushed"
expect_no_calls "argo with an unpushed commit"
git_lab push -q origin HEAD:main
run_make 0 "argo after push" argo
cmp -s "$FAKE_KUBE_STATE/applied-root.yaml" "$lab/generated/k8s/root-app.yaml" || fail "argo after push: root-app.yaml not applied"

# --- make up: the whole chain, with the template missing (doctor --templates says so)
template=$(sed -n 's/^ *template_name *= *"\(.*\)"$/\1/p' "$lab/generated/tofu/envs/$env/main.tf" | head -1)
image=$(basename "$(find "$lab/generated/packer" -mindepth 1 -maxdepth 1 -type d | head -1)")
printf 'missing %s %s\n' "$image" "$template" >"$work/templates.txt"
rm -f "$work/home/.kube/config"
rm -rf "$FAKE_KUBE_STATE"
run_make 0 "up" up ENV="$env"
order=$(sed -n -e 's/^homelabgen-templates .*--env [a-z0-9-]* --templates$/templates/p' -e 's/^packer build .*/packer-build/p' \
  -e 's/^tofu .* plan .*/tofu-plan/p' -e 's/^tofu .* apply .*/tofu-apply/p' -e 's/^ssh .*k3s.yaml/ssh-kubeconfig/p' "$CALLS" | tr '\n' ' ')
[ "$order" = "templates packer-build tofu-plan tofu-apply ssh-kubeconfig " ] || fail "up: call order '$order'"
expect_out "up" "template $template is missing: building image $image"
grep -qF -- "--context homelab-test apply --server-side --force-conflicts -k $lab/generated/k8s/bootstrap" "$FAKE_KUBE_STATE/log" || fail "up: no bootstrap"
ls "$FAKE_KUBE_STATE"/secrets/*.mysql-password >/dev/null 2>&1 || fail "up: no phpIPAM Secret"
[ -f "$FAKE_KUBE_STATE/applied-root.yaml" ] || fail "up: root Application not applied"
expect_out "up" "is up"

# The template exists: no image build.
printf 'exists %s %s\n' "$image" "$template" >"$work/templates.txt"
rm -rf "$work/home/.kube" "$FAKE_KUBE_STATE"
run_make 0 "up with the template there" up ENV="$env"
grep -q '^packer build' "$CALLS" && fail "up built an image that exists"
expect_out "up with the template there" "template $template exists"

# The API cannot be asked: up stops at its image step, before tofu.
echo 2 >"$work/templates.exit"
rm -rf "$work/home/.kube" "$FAKE_KUBE_STATE"
run_make 2 "up when doctor --templates fails" up ENV="$env"
expect_out "up when doctor --templates fails" "cannot ask the Proxmox API which templates exist"
expect_out "up when doctor --templates fails" "step 1 (up-image) failed"
grep -q '^tofu .* plan' "$CALLS" && fail "up planned although the image step failed"
echo 0 >"$work/templates.exit"

# doctor runs first (DOCTOR=on): `--for up` before anything, `--for tofu` before the
# apply; a blocker (exit 2) stops `up` before any tool runs, warnings (exit 1) go on. The
# homelabgen stand-in answers the gate from $work/doctor.exit.
echo 2 >"$work/doctor.exit"
rm -rf "$work/home/.kube" "$FAKE_KUBE_STATE"
run_make 2 "up with a doctor blocker" up ENV="$env" DOCTOR=on
expect_out "up with a doctor blocker" "refusing: homelabgen doctor found a blocker"
[ "$(cut -d' ' -f1 "$CALLS" | sort -u)" = homelabgen ] || fail "up ran tools after a doctor blocker: $(cat "$CALLS")"
grep -qF -- "homelabgen doctor --spec $lab/spec/homelab.yaml --for up --env $env" "$CALLS" || fail "up: no doctor --for up: $(cat "$CALLS")"
echo 1 >"$work/doctor.exit"
rm -rf "$work/home/.kube" "$FAKE_KUBE_STATE"
run_make 0 "up with doctor warnings" up ENV="$env" DOCTOR=on
order=$(sed -n -e 's/^homelabgen doctor .*--for \([a-z]*\) .*/doctor-\1/p' -e 's/^tofu .* plan .*/tofu-plan/p' \
  -e 's/^tofu .* apply .*/tofu-apply/p' "$CALLS" | tr '\n' ' ')
[ "$order" = "doctor-up tofu-plan doctor-tofu tofu-apply " ] || fail "up with doctor: call order '$order'"
echo 0 >"$work/doctor.exit"
rm -rf "$work/home/.kube" "$FAKE_KUBE_STATE"

# A failing step stops the chain and says how to go on.
touch "$work/fail-tofu"
rm -rf "$FAKE_KUBE_STATE"
run_make 2 "up with tofu failing" up ENV="$env"
expect_out "up with tofu failing" "step 2 (tf-plan) failed"
expect_out "up with tofu failing" "make tf-plan ENV=$env"
[ ! -e "$FAKE_KUBE_STATE/log" ] || fail "up went on after a failed step: $(cat "$FAKE_KUBE_STATE/log")"
rm -f "$work/fail-tofu"

run_make 2 "up without ENV" up
expect_out "up without ENV" "ENV is not set"

run_make 0 "down" down ENV="$env"
grep -q "^tofu -chdir=$lab/generated/tofu/envs/$env destroy" "$CALLS" || fail "down did not destroy: $(cat "$CALLS")"

if [ "$failures" -gt 0 ]; then
  echo "make targets: $failures failure(s)" >&2
  exit 1
fi
echo "make targets: tools on PATH, diff exit codes, guards (placeholders, drift, unpushed), doctor gate, up/down chain"
