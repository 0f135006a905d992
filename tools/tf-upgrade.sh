#!/bin/sh
# tools/tf-upgrade.sh ENV_DIR VM [TOFU_ARGS...] — the explicit upgrade of one VM
# (make upgrade ENV=... VM=...): replace it with a fresh clone of the template the
# spec names now. The module pins the clone in state (ignore_changes = [clone]), so
# nothing else replaces a running VM for a new image.
#
# A VM without a fixed vm_id is replaced create-before-destroy (tofu apply -replace):
# the new clone exists before the old VM goes. A VM with a fixed vm_id cannot be: the
# new clone cannot take the id while the old VM holds it (Proxmox: "unable to create
# VM N: config file already exists"). It is destroyed first, then created again with
# the same id (downtime; what lives only on its disk is lost: docs/upgrades.md).
# Each tofu step asks before it changes anything unless TOFU_ARGS says -auto-approve.
set -eu

TOFU=${TOFU:-tofu}
[ $# -ge 2 ] || { echo "usage: $0 ENV_DIR VM [TOFU_ARGS...]" >&2; exit 2; }
dir=$1 vm=$2
shift 2
case "$vm" in '' | *[!a-z0-9-]*) echo "tf-upgrade: '$vm' is not a VM name (a-z, 0-9, -)" >&2; exit 2 ;; esac
[ -f "$dir/main.tf" ] || { echo "tf-upgrade: no environment in $dir" >&2; exit 2; }

# The VM's entry in the environment's locals: `"NAME" = {` ... `vm_id = N|null` ... `}`.
vm_id=$(awk -v name="\"$vm\"" '
  $1 == name && $2 == "=" && $3 == "{" { inside = 1; next }
  inside && $1 == "}" { exit }
  inside && $1 == "vm_id" { print $3; exit }' "$dir/main.tf")
[ -n "$vm_id" ] || { echo "tf-upgrade: no VM '$vm' in $dir/main.tf" >&2; exit 2; }

addr="module.vm[\"$vm\"].proxmox_virtual_environment_vm.this"
"$TOFU" -chdir="$dir" state list 2>/dev/null | grep -qxF "$addr" || {
  echo "tf-upgrade: $vm is not in the state of $dir: nothing to upgrade (make tf-apply creates it)" >&2; exit 2; }

if [ "$vm_id" = null ]; then
  echo "tf-upgrade: replacing $vm (new clone first, then the old VM is destroyed)" >&2
  exec "$TOFU" -chdir="$dir" apply -input=false -replace="$addr" "$@"
fi
echo "tf-upgrade: $vm has the fixed vm_id $vm_id: destroying it first, then cloning it again under the same id." >&2
echo "tf-upgrade: what lives only on its disk is lost (docs/upgrades.md says how to back it up first)." >&2
"$TOFU" -chdir="$dir" destroy -input=false -target="module.vm[\"$vm\"]" "$@"
"$TOFU" -chdir="$dir" apply -input=false -target="module.vm[\"$vm\"]" "$@"
