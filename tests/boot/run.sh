#!/usr/bin/env bash
# make boot-test: boot clones of a golden image made from the rendered packer scripts on a
# small Debian guest under QEMU (TCG), each with the NoCloud seed Proxmox would give it,
# and assert what cloud-init, the k3s unit and the seal did. See README.md, "Boot tests".
#
# Environment:
#   BOOT_SPEC     test spec of the single-node clones (default tests/specs/multi-vm.yaml)
#   BOOT_ENV      its OpenTofu environment whose VMs boot (default lab)
#   BOOT_CLUSTER_SPEC  test spec of the cluster clones and of the golden image
#                 (default tests/specs/ha.yaml); BOOT_CLUSTER_ENV its environment (ha)
#   BOOT_IMAGE    packer image those VMs are cloned from (default alma9-k3s-optimized)
#   BOOT_CACHE    cache of the guest base (default ~/.cache/homelabgen/boot)
#   BOOT_JOBS     guests booted at once (default 2); BOOT_TIMEOUT seconds per boot (900)
#   BOOT_KEEP=1   keep the work directory (printed) for inspection
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
spec=${BOOT_SPEC:-tests/specs/multi-vm.yaml}
env_name=${BOOT_ENV:-lab}
cluster_spec=${BOOT_CLUSTER_SPEC:-tests/specs/ha.yaml}
cluster_env=${BOOT_CLUSTER_ENV:-ha}
image_name=${BOOT_IMAGE:-alma9-k3s-optimized}
cache=${BOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/boot}
jobs=${BOOT_JOBS:-2}

# Cases: NAME ENV VM CHECKS [VENDOR]. ENV is `single` (BOOT_SPEC's environment) or
# `cluster` (BOOT_CLUSTER_SPEC's); VENDOR is a vendor snippet file, or `rendered`: the
# VM's vendor data exactly as the environment renders it (vendor-data/VM.yaml.tftpl),
# filled in by OpenTofu's own templatefile() with this run's random token, as
# main.tf does at apply time. A new role is a new line (and a check group in checks.py);
# a pair in SEAL_PAIRS boots nothing extra.
CASES=(
  "node-a single lab-server single"
  "cp-1 cluster cp-1 cluster rendered"
  "cp-2 cluster cp-2 cluster rendered"
  "worker-1 cluster worker-1 cluster rendered"
  "bad-vendor single lab-server bad-vendor $here/bad-vendor.yaml"
)
SEAL_PAIRS=("node-a cp-1" "cp-2 worker-1")

say() { echo "boot-test: $*"; }
die() { echo "boot-test: $*" >&2; echo "boot-test: 0 passed, 1 failed"; exit 1; }

bash "$here/setup.sh" || die "setup failed"
work=$(mktemp -d "${TMPDIR:-/tmp}/homelabgen-boot.XXXXXX")
if [ "${BOOT_KEEP:-0}" = 1 ]; then
  say "work directory: $work (kept)"
else
  trap 'rm -rf "$work"' EXIT
fi
total=$SECONDS

command -v tofu >/dev/null || die "tofu is not on PATH (make boot-test puts the pinned toolchain there)"
say "rendering $spec and $cluster_spec"
(cd "$repo" && cargo run -q --locked -- render --spec "$spec" --out "$work/render" >/dev/null) ||
  die "render of $spec failed"
(cd "$repo" && cargo run -q --locked -- render --spec "$cluster_spec" --out "$work/render-cluster" >/dev/null) ||
  die "render of $cluster_spec failed"
env_dir="$work/render/tofu/envs/$env_name"
cluster_dir="$work/render-cluster/tofu/envs/$cluster_env"
image_dir="$work/render-cluster/packer/$image_name"
[ -d "$env_dir" ] || die "no environment $env_name in $spec"
[ -d "$cluster_dir/vendor-data" ] || die "no cluster environment $cluster_env (with vendor-data/) in $cluster_spec"
[ -d "$image_dir" ] || die "no image $image_name in $cluster_spec"

# This run's cluster token: random, shaped like main.tf's (two UUIDs without dashes),
# never written anywhere but the work directory.
python3 -c 'import uuid; print(uuid.uuid4().hex + uuid.uuid4().hex)' >"$work/token"
chmod 0600 "$work/token"

t=$SECONDS
base=$(bash "$here/base.sh" "$cache") || die "guest base failed"
say "guest base ready: $base ($((SECONDS - t)) s)"

t=$SECONDS
mkdir -p "$work/image"
python3 "$here/packer_env.py" "$image_dir" >"$work/image/provision.env" || die "provision_env unreadable"
bash "$here/image.sh" "$base" "$image_dir" "$work/image" >"$work/image/build.log" 2>&1 ||
  { tail -n 20 "$work/image/build.log"; die "golden image build failed"; }
say "golden image built and sealed ($((SECONDS - t)) s)"

printf '%s\n' "${SEAL_PAIRS[@]}" >"$work/seal-pairs"
# OpenTofu's CLI configuration of this run: none (a TF_CLI_CONFIG_FILE of the caller, e.g.
# the offline provider mirror, only adds warnings to the console's output).
: >"$work/tofu.rc"
# Every seed first, so that a failing one stops the run before any guest boots.
n=0
for line in "${CASES[@]}"; do
  read -r name which vm checks vendor <<<"$line"
  n=$((n + 1))
  d="$work/cases/$name"
  mkdir -p "$d"
  mac=$(printf '52:54:00:b0:07:%02x' "$n")
  echo "$mac" >"$d/mac"
  echo "$checks" >"$d/checks"
  dir=$env_dir
  [ "$which" = single ] || dir=$cluster_dir
  if [ "${vendor:-}" = rendered ]; then
    template="$cluster_dir/vendor-data/$vm.yaml.tftpl"
    [ -f "$template" ] || die "$cluster_spec renders no vendor data for $vm ($template)"
    grep -q "templatefile(\"\${path.module}/\${vm.vendor_data}\", { token = terraform_data.cluster_token.output })" \
      "$cluster_dir/main.tf" || die "$cluster_dir/main.tf no longer fills the vendor data as this test does: update it"
    # base64 through the console: its own display of a string is for reading, not parsing.
    printf 'base64encode(templatefile("%s", { token = "%s" }))\n' "$template" "$(cat "$work/token")" |
      (cd "$d" && TF_CLI_CONFIG_FILE="$work/tofu.rc" tofu console >"$d/tofu-console.out" 2>"$d/tofu-console.err") || {
      cat "$d/tofu-console.out" "$d/tofu-console.err" >&2
      die "tofu console could not fill $template"
    }
    grep -Ex '"[A-Za-z0-9+/=]+"' "$d/tofu-console.out" | tr -d '"' | base64 -d >"$d/vendor-data.yaml" &&
      [ -s "$d/vendor-data.yaml" ] || {
      cat "$d/tofu-console.out" "$d/tofu-console.err" >&2
      die "tofu console printed no filled-in $template"
    }
    vendor="$d/vendor-data.yaml"
  fi
  python3 "$here/pve_cloudinit.py" --env "$dir" --vm "$vm" --mac "$mac" --out "$d/seed" \
    ${vendor:+--vendor "$vendor"} || die "seed for $vm failed"
  echo "$vm" >"$d/vm"
done

running=0
for line in "${CASES[@]}"; do
  read -r name _ <<<"$line"
  d="$work/cases/$name"
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  say "[$name] booting a clone as $(cat "$d/vm")"
  bash "$here/boot.sh" "$work/image/golden.raw" "$base" "$d/seed" "$d" "$(cat "$d/mac")" &
  running=$((running + 1))
done
wait || true

for d in "$work"/cases/*; do
  say "boot time $(basename "$d"): $(cat "$d/seconds" 2>/dev/null || echo '?') s"
done
say "total $((SECONDS - total)) s"
python3 "$here/checks.py" "$work"
