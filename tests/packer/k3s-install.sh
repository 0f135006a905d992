#!/usr/bin/env bash
# Behaviour of scripts/k3s-install.sh in a sandbox: curl, sh's installer, systemctl and
# k3s are stubs. The script must ask for the pinned version, skip the start, write the
# config with every disabled component, and fail when the binary is missing, reports
# another version, or k3s runs.
#
#   tests/packer/k3s-install.sh GENERATED/packer/IMAGE
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
script="$image_dir/scripts/k3s-install.sh"
sandbox_init
[ ! -e /usr/local/bin/k3s ] || fail "this machine has /usr/local/bin/k3s: the missing-binary case cannot be tested here"

# What the build passes (local.provision_env with the spec's defaults).
mapfile -t build_env < <(provision_env "$image_dir")
version=$(printf '%s\n' "${build_env[@]}" | sed -n 's/^HOMELAB_K3S_VERSION=//p')
disable=$(printf '%s\n' "${build_env[@]}" | sed -n 's/^HOMELAB_K3S_DISABLE=//p')
[ -n "$version" ] && [ -n "$disable" ] || fail "provision_env has no HOMELAB_K3S_VERSION/HOMELAB_K3S_DISABLE: ${build_env[*]}"

stub_k3s_installer

run() { # run MODE [ENV=VALUE...]
  local mode=$1
  shift
  rm -f "$STUBS/k3s" && : >"$CALLS"
  rm -rf "$SANDBOX/root" && mkdir -p "$SANDBOX/root"
  run_script "$SANDBOX/out" "$script" HOMELAB_ROOT="$SANDBOX/root" INSTALLER_MODE="$mode" "$@"
}

# 1. The pinned version, start skipped, config and drop-in written.
run ok "${build_env[@]}" || fail "k3s-install.sh failed:$(printf '\n'; cat "$SANDBOX/out")"
encoded=${version/+/%2B}
assert_file_has "$CALLS" "curl -sfL --retry 5 -o" "installer download"
assert_file_has "$CALLS" "https://raw.githubusercontent.com/k3s-io/k3s/$encoded/install.sh" "installer of the pinned release"
assert_file_has "$CALLS" "INSTALL_K3S_VERSION=$version " "installer asked for the pinned version"
assert_file_has "$CALLS" "INSTALL_K3S_SKIP_START=true " "installer told not to start k3s"
assert_file_has "$CALLS" "INSTALL_K3S_EXEC=server " "installer installs a server"
assert_file_lacks "$CALLS" "INSTALL_K3S_SKIP_ENABLE" "the service must be enabled"
assert_file_has "$CALLS" "systemctl daemon-reload" "drop-in loaded"
config="$SANDBOX/root/etc/rancher/k3s/config.yaml"
assert_file_has "$config" "selinux: true"
assert_file_has "$config" "disable:"
IFS=',' read -r -a components <<<"$disable"
for component in "${components[@]}"; do
  assert_file_has "$config" "  - $component" "config disables $component"
done
dropin="$SANDBOX/root/etc/systemd/system/k3s.service.d/10-after-cloud-init.conf"
assert_file_has "$dropin" "After=cloud-config.target network-online.target"
assert_file_has "$dropin" "Wants=cloud-config.target network-online.target"
assert_file_lacks "$dropin" "cloud-init.service" "drop-in (a unit name upstream cloud-init renamed)"
env_file="$SANDBOX/root/etc/systemd/system/k3s.service.env"
[ -f "$env_file" ] && [ ! -s "$env_file" ] || fail "k3s.service.env is not empty: $(cat "$env_file")"
pass "installs $version with INSTALL_K3S_SKIP_START=true; config disables $disable; drop-in after cloud-config.target; empty k3s.service.env"

# 2. Another version and disabled set reach the installer and the config unchanged.
run ok HOMELAB_K3S_VERSION=v1.37.1+k3s2 HOMELAB_K3S_DISABLE=traefik,servicelb,metrics-server || fail "k3s-install.sh failed with other inputs"
assert_file_has "$CALLS" "https://raw.githubusercontent.com/k3s-io/k3s/v1.37.1%2Bk3s2/install.sh"
assert_file_has "$CALLS" "INSTALL_K3S_VERSION=v1.37.1+k3s2 "
assert_file_has "$SANDBOX/root/etc/rancher/k3s/config.yaml" "  - metrics-server"
pass "passes HOMELAB_K3S_VERSION and HOMELAB_K3S_DISABLE through (v1.37.1+k3s2; three components)"

# 3. Failures, one case each.
if run missing "${build_env[@]}"; then fail "succeeded although the installer left no k3s binary"; fi
assert_file_has "$SANDBOX/out" "the k3s binary is missing"
pass "fails when the k3s binary is missing"

if run other-version "${build_env[@]}"; then fail "succeeded although k3s reports another version"; fi
assert_file_has "$SANDBOX/out" "reports version 'v1.30.0+k3s1', expected $version"
pass "fails when k3s reports another version"

if run ok "${build_env[@]}" STUB_K3S_ACTIVE=1; then fail "succeeded although k3s is running"; fi
assert_file_has "$SANDBOX/out" "k3s is running"
pass "fails when k3s was started"

# A K3S_* variable in the build's environment would be baked into k3s.service.env.
if run ok "${build_env[@]}" K3S_TOKEN=build-secret; then fail "succeeded although k3s.service.env holds K3S_TOKEN"; fi
assert_file_has "$SANDBOX/out" "holds build variables (names: K3S_TOKEN"
assert_file_lacks "$SANDBOX/out" "build-secret" "error message (must name, not print, the value)"
pass "fails when the installer copied a build variable into k3s.service.env"

if run ok HOMELAB_K3S_DISABLE=traefik; then fail "succeeded without HOMELAB_K3S_VERSION"; fi
assert_file_has "$SANDBOX/out" "HOMELAB_K3S_VERSION must be set"
[ ! -s "$CALLS" ] || fail "called commands before checking its inputs: $(cat "$CALLS")"
pass "fails without HOMELAB_K3S_VERSION, before doing anything"

echo "k3s-install: $TESTS cases passed"
