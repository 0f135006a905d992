#!/usr/bin/env bash
# make boot-test: boot clones of a golden image made from the rendered packer scripts on a
# small Debian guest under QEMU (TCG), each with the NoCloud seed Proxmox would give it,
# and assert what cloud-init, the k3s unit and the seal did. See README.md, "Boot tests".
#
# Environment:
#   BOOT_SPEC     test spec to render (default tests/specs/multi-vm.yaml)
#   BOOT_ENV      OpenTofu environment of that spec whose VMs boot (default lab)
#   BOOT_IMAGE    packer image those VMs are cloned from (default alma9-k3s-optimized)
#   BOOT_CACHE    cache of the guest base (default ~/.cache/homelabgen/boot)
#   BOOT_JOBS     guests booted at once (default 2); BOOT_TIMEOUT seconds per boot (900)
#   BOOT_KEEP=1   keep the work directory (printed) for inspection
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
spec=${BOOT_SPEC:-tests/specs/multi-vm.yaml}
env_name=${BOOT_ENV:-lab}
image_name=${BOOT_IMAGE:-alma9-k3s-optimized}
cache=${BOOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/boot}
jobs=${BOOT_JOBS:-2}

# Cases: NAME VM CHECKS [VENDOR_SNIPPET]. A new role is a new line (and a check group in
# checks.py); a pair in SEAL_PAIRS boots nothing extra.
CASES=(
  "node-a lab-server single"
  "node-b lab-worker-1 single"
  "bad-vendor lab-server bad-vendor $here/bad-vendor.yaml"
)
SEAL_PAIRS=("node-a node-b")

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

say "rendering $spec"
(cd "$repo" && cargo run -q --locked -- render --spec "$spec" --out "$work/render" >/dev/null) ||
  die "render of $spec failed"
env_dir="$work/render/tofu/envs/$env_name"
image_dir="$work/render/packer/$image_name"
[ -d "$env_dir" ] || die "no environment $env_name in $spec"
[ -d "$image_dir" ] || die "no image $image_name in $spec"

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
n=0
running=0
for line in "${CASES[@]}"; do
  read -r name vm checks vendor <<<"$line"
  n=$((n + 1))
  d="$work/cases/$name"
  mkdir -p "$d"
  mac=$(printf '52:54:00:b0:07:%02x' "$n")
  echo "$mac" >"$d/mac"
  echo "$checks" >"$d/checks"
  python3 "$here/pve_cloudinit.py" --env "$env_dir" --vm "$vm" --mac "$mac" --out "$d/seed" \
    ${vendor:+--vendor "$vendor"} || die "seed for $vm failed"
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  say "[$name] booting a clone as $vm"
  bash "$here/boot.sh" "$work/image/golden.raw" "$base" "$d/seed" "$d" "$mac" &
  running=$((running + 1))
done
wait || true

for d in "$work"/cases/*; do
  say "boot time $(basename "$d"): $(cat "$d/seconds" 2>/dev/null || echo '?') s"
done
say "total $((SECONDS - total)) s"
python3 "$here/checks.py" "$work"
