#!/usr/bin/env bash
# `packer init` + `packer validate` of both sources, offline, with the example variable
# values, against the plugins installed by tools/install.sh.
#
# The generated directory pins the plugins of the spec (versions.pkr.hcl). Where the
# installed plugins are other versions, a copy pinned to them is validated; the
# proxmox-iso source is validated as homelabgen renders it for the installed proxmox
# plugin (before 1.2 that is the top-level iso_* form, which the pinned 1.2 plugin's
# boot_iso block replaces). A misspelled argument must make validate fail.
#
#   tests/packer/validate.sh GENERATED/packer/IMAGE
# Needs HOMELABGEN_PACKER_PLUGIN_{PROXMOX,QEMU}_VERSION (tools env.sh); homelabgen is
# $HOMELABGEN or `cargo run -p homelabgen`; the spec is $SPEC or spec/homelab.yaml.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
sandbox_init
: "${HOMELABGEN_PACKER_PLUGIN_PROXMOX_VERSION:?source the tools env.sh (make tools)}"
: "${HOMELABGEN_PACKER_PLUGIN_QEMU_VERSION:?source the tools env.sh (make tools)}"
proxmox=${HOMELABGEN_PACKER_PLUGIN_PROXMOX_VERSION#v}
qemu=${HOMELABGEN_PACKER_PLUGIN_QEMU_VERSION#v}
image=$(basename "$image_dir")


# Example values; a throwaway build key (the key file must exist); iso_checksum=none,
# as `make packer-validate` passes it: the spec's file: checksum is downloaded while
# Packer prepares a source, which fails offline.
ssh-keygen -q -t ed25519 -N '' -C build -f "$SANDBOX/build_key"
validate_args=(
  -var-file=example.pkrvars.hcl
  -var "build_ssh_key=$SANDBOX/build_key"
  -var "iso_checksum=none"
)
# Every packer call runs with the network cut: a new network namespace (unshare -n as
# root, else with a user namespace).
if unshare -n true 2>/dev/null; then
  offline=(unshare -n)
elif unshare -rn true 2>/dev/null; then
  offline=(unshare -rn)
else
  fail "cannot cut the network (unshare -n / unshare -rn refused): validation offline is not provable here"
fi
validate() { # validate DIR [-only=...]
  local dir=$1
  shift
  (cd "$dir" && "${offline[@]}" packer init . >/dev/null && "${offline[@]}" packer validate "${validate_args[@]}" "$@" .)
}
pin_installed() { # pin_installed DIR: pin the installed plugin versions in a copy
  sed -i -E \
    -e "/github.com\/hashicorp\/proxmox/{n;s/version( *)= \"[^\"]*\"/version\1= \"= $proxmox\"/}" \
    -e "/github.com\/hashicorp\/qemu/{n;s/version( *)= \"[^\"]*\"/version\1= \"= $qemu\"/}" \
    "$1/versions.pkr.hcl"
  assert_file_has "$1/versions.pkr.hcl" "\"= $proxmox\""
  assert_file_has "$1/versions.pkr.hcl" "\"= $qemu\""
}
at_least_1_2() { # at_least_1_2 VERSION
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 2 ]; }
}

# 1. The generated directory, plugins pinned to the installed versions.
cp -r "$image_dir" "$SANDBOX/generated"
pin_installed "$SANDBOX/generated"
if at_least_1_2 "$proxmox"; then
  validate "$SANDBOX/generated" || fail "packer validate failed"
  pass "$image: both sources validate (plugins proxmox $proxmox, qemu $qemu)"
else
  validate "$SANDBOX/generated" -only="qemu.alma" || fail "packer validate -only=qemu.alma failed"
  pass "$image: qemu.alma validates (plugin qemu $qemu)"

  # 2. proxmox-iso as rendered for the installed proxmox plugin.
  spec=${SPEC:-$repo/spec/homelab.yaml}
  awk '/^versions:/ { skip = 1; next } skip && /^[^ #]/ { skip = 0 } !skip' "$spec" >"$SANDBOX/spec.yaml"
  printf '\nversions:\n  packer_proxmox_plugin: "%s"\n  packer_qemu_plugin: "%s"\n' "$proxmox" "$qemu" >>"$SANDBOX/spec.yaml"
  homelabgen render --spec "$SANDBOX/spec.yaml" --out "$SANDBOX/rerendered" >/dev/null || fail "homelabgen render failed"
  rerendered="$SANDBOX/rerendered/packer/$image"
  [ -d "$rerendered" ] || fail "$spec does not render $image (is GENERATED from another spec? set SPEC)"
  validate "$rerendered" || fail "packer validate of the tree rendered for proxmox $proxmox failed"
  pass "$image: both sources validate as rendered for plugins proxmox $proxmox, qemu $qemu"
fi

# 3. The network is really cut: the spec's file: checksum cannot be fetched.
if (cd "$SANDBOX/generated" && "${offline[@]}" packer validate -var-file=example.pkrvars.hcl \
  -var "build_ssh_key=$SANDBOX/build_key" -only=qemu.alma . >"$SANDBOX/online.out" 2>&1); then
  if grep -q 'iso_checksum *= *var.iso_checksum' "$SANDBOX/generated/sources.pkr.hcl" &&
    grep -A3 'variable "iso_checksum"' "$SANDBOX/generated/variables.pkr.hcl" | grep -q 'default *= *"file:'; then
    fail "packer validate fetched the file: checksum inside ${offline[*]}: the network is not cut"
  fi
else
  assert_file_has "$SANDBOX/online.out" "checksum" "validate without iso_checksum=none, offline"
fi
pass "validation runs offline (${offline[*]}): iso_checksum=none is what makes it pass"

# 4. The check can fail: a misspelled argument is rejected.
sed -i 's/^  machine_type /  machine_typo /' "$SANDBOX/generated/sources.pkr.hcl"
if validate "$SANDBOX/generated" -only="qemu.alma" >"$SANDBOX/bad.out" 2>&1; then
  fail "packer validate accepted machine_typo"
fi
assert_file_has "$SANDBOX/bad.out" "machine_typo"
pass "packer validate rejects a misspelled argument"

echo "validate: $TESTS cases passed"
