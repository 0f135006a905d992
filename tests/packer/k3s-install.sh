#!/usr/bin/env bash
# Behaviour of scripts/k3s-install.sh in a sandbox: curl, sh's installer, systemctl and
# k3s are stubs. The script must install the pinned version twice (server unit, then
# agent unit without a second download), enable neither and start neither, write a
# config.yaml both roles accept and the server-only settings apart, install the role
# script and its unit, and fail when the binary is missing, reports another version,
# a unit is enabled or running, or an env file holds a build variable.
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
cp "$image_dir/scripts/k3s-role.sh" "$SANDBOX/uploaded-role.sh"

run() { # run MODE [ENV=VALUE...]
  local mode=$1
  shift
  rm -f "$STUBS/k3s" && : >"$CALLS"
  rm -rf "$SANDBOX/root" && mkdir -p "$SANDBOX/root"
  run_script "$SANDBOX/out" "$script" HOMELAB_ROOT="$SANDBOX/root" INSTALLER_MODE="$mode" \
    HOMELAB_K3S_ROLE_SCRIPT="$SANDBOX/uploaded-role.sh" "$@"
}

# 1. The pinned version, twice; nothing enabled or started; config, drop-ins, role unit.
run ok "${build_env[@]}" || fail "k3s-install.sh failed:$(printf '\n'; cat "$SANDBOX/out")"
encoded=${version/+/%2B}
assert_file_has "$CALLS" "curl -sfL --retry 5 -o" "installer download"
assert_file_has "$CALLS" "https://raw.githubusercontent.com/k3s-io/k3s/$encoded/install.sh" "installer of the pinned release"
assert_eq "$(grep -c '^installer ' "$CALLS")" 2 "installer runs"
assert_eq "$(grep '^installer ' "$CALLS" | sed -n 1p)" \
  "installer INSTALL_K3S_EXEC=server INSTALL_K3S_SKIP_ENABLE=true INSTALL_K3S_SKIP_START=true INSTALL_K3S_VERSION=$version " "first installer run"
assert_eq "$(grep '^installer ' "$CALLS" | sed -n 2p)" \
  "installer INSTALL_K3S_EXEC=agent INSTALL_K3S_SKIP_DOWNLOAD=true INSTALL_K3S_SKIP_ENABLE=true INSTALL_K3S_SKIP_START=true INSTALL_K3S_VERSION=$version " "second installer run"
assert_file_has "$CALLS" "systemctl daemon-reload" "drop-ins loaded"
units="$SANDBOX/root/etc/systemd/system"
for unit in k3s k3s-agent; do
  [ -f "$units/$unit.service" ] || fail "no $unit.service"
  [ ! -e "$units/multi-user.target.wants/$unit.service" ] || fail "$unit.service is enabled"
  dropin="$units/$unit.service.d/10-after-cloud-init.conf"
  assert_file_has "$dropin" "After=cloud-config.target network-online.target homelab-k3s-role.service"
  assert_file_has "$dropin" "Wants=cloud-config.target network-online.target"
  assert_file_lacks "$dropin" "cloud-init.service" "drop-in (a unit name upstream cloud-init renamed)"
  env_file="$units/$unit.service.env"
  [ -f "$env_file" ] && [ ! -s "$env_file" ] || fail "$unit.service.env is not empty: $(cat "$env_file")"
done
config="$SANDBOX/root/etc/rancher/k3s/config.yaml"
assert_eq "$(grep -v '^#' "$config")" "selinux: true" "config.yaml (both roles read it: only keys k3s agent accepts)"
server_config="$SANDBOX/root/etc/homelabgen/k3s-server.yaml"
assert_file_has "$server_config" 'write-kubeconfig-mode: "0600"'
assert_file_has "$server_config" "disable:"
IFS=',' read -r -a components <<<"$disable"
for component in "${components[@]}"; do
  assert_file_has "$server_config" "  - $component" "server config disables $component"
done
role_unit="$units/homelab-k3s-role.service"
assert_eq "$(readlink "$units/multi-user.target.wants/homelab-k3s-role.service")" /etc/systemd/system/homelab-k3s-role.service "role unit enable link"
assert_file_has "$role_unit" "After=cloud-config.target network-online.target"
assert_file_has "$role_unit" "Before=k3s.service k3s-agent.service keepalived.service"
assert_file_has "$role_unit" "ExecStart=/usr/local/libexec/homelabgen/k3s-role"
cmp -s "$SANDBOX/root/usr/local/libexec/homelabgen/k3s-role" "$image_dir/scripts/k3s-role.sh" || fail "the role script installed is not scripts/k3s-role.sh"
[ -x "$SANDBOX/root/usr/local/libexec/homelabgen/k3s-role" ] || fail "the role script is not executable"
pass "installs $version twice (server, agent without download), enables and starts neither; config.yaml agent-safe; server config disables $disable; drop-ins after cloud-config.target; role unit enabled; empty env files"

# The units pass systemd's own check (where systemd-analyze exists).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$SANDBOX/analyze"
  cp "$role_unit" "$SANDBOX/analyze/"
  printf '#!/bin/sh\n' >"$SANDBOX/analyze/k3s-role" && chmod +x "$SANDBOX/analyze/k3s-role"
  sed -i "s|^ExecStart=.*|ExecStart=$SANDBOX/analyze/k3s-role|" "$SANDBOX/analyze/homelab-k3s-role.service"
  out=$(cd "$SANDBOX/analyze" && systemd-analyze verify --man=no ./homelab-k3s-role.service 2>&1 | grep -v -e 'k3s.service' -e 'k3s-agent.service' -e 'keepalived.service' || true)
  [ -z "$out" ] || fail "systemd-analyze verify warns about homelab-k3s-role.service: $out"
  pass "systemd-analyze verify accepts homelab-k3s-role.service"
fi

# 2. Another version and disabled set reach the installer and the config unchanged.
run ok HOMELAB_K3S_VERSION=v1.37.1+k3s2 HOMELAB_K3S_DISABLE=traefik,servicelb,metrics-server || fail "k3s-install.sh failed with other inputs"
assert_file_has "$CALLS" "https://raw.githubusercontent.com/k3s-io/k3s/v1.37.1%2Bk3s2/install.sh"
assert_file_has "$CALLS" "INSTALL_K3S_VERSION=v1.37.1+k3s2 "
assert_file_has "$SANDBOX/root/etc/homelabgen/k3s-server.yaml" "  - metrics-server"
pass "passes HOMELAB_K3S_VERSION and HOMELAB_K3S_DISABLE through (v1.37.1+k3s2; three components)"

# 3. Failures, one case each.
if run missing "${build_env[@]}"; then fail "succeeded although the installer left no k3s binary"; fi
assert_file_has "$SANDBOX/out" "the k3s binary is missing"
pass "fails when the k3s binary is missing"

if run other-version "${build_env[@]}"; then fail "succeeded although k3s reports another version"; fi
assert_file_has "$SANDBOX/out" "reports version 'v1.30.0+k3s1', expected $version"
pass "fails when k3s reports another version"

if run ok "${build_env[@]}" INSTALLER_ENABLES=1; then fail "succeeded although the installer enabled k3s"; fi
assert_file_has "$SANDBOX/out" "k3s is enabled: the role decides"
pass "fails when a k3s unit is enabled in the template"

if run ok "${build_env[@]}" HOMELAB_K3S_ROLE_SCRIPT="$SANDBOX/nowhere.sh"; then fail "succeeded without the role script"; fi
assert_file_has "$SANDBOX/out" "nowhere.sh is missing"
pass "fails when the build did not upload the role script"

if run ok "${build_env[@]}" STUB_K3S_ACTIVE=1; then fail "succeeded although k3s is running"; fi
assert_file_has "$SANDBOX/out" "k3s is running"
pass "fails when k3s was started"

# A K3S_* variable in the build's environment would be baked into both env files.
if run ok "${build_env[@]}" K3S_TOKEN=build-secret; then fail "succeeded although k3s.service.env holds K3S_TOKEN"; fi
assert_file_has "$SANDBOX/out" "k3s.service.env holds build variables (names: K3S_TOKEN"
assert_file_lacks "$SANDBOX/out" "build-secret" "error message (must name, not print, the value)"
pass "fails when the installer copied a build variable into k3s.service.env"

# Only the agent's env file holding one (a variable set for the second run alone).
# shellcheck disable=SC2016 # the stub's body expands when it runs
stub sh 'if [ "$INSTALL_K3S_EXEC" = agent ]; then export K3S_URL=https://10.0.0.1:6443; fi; exec /bin/sh "$@"'
if run ok "${build_env[@]}"; then fail "succeeded although k3s-agent.service.env holds K3S_URL"; fi
assert_file_has "$SANDBOX/out" "k3s-agent.service.env holds build variables (names: K3S_URL"
rm "$STUBS/sh"
pass "fails when the installer copied a build variable into k3s-agent.service.env"

if run ok HOMELAB_K3S_DISABLE=traefik; then fail "succeeded without HOMELAB_K3S_VERSION"; fi
assert_file_has "$SANDBOX/out" "HOMELAB_K3S_VERSION must be set"
[ ! -s "$CALLS" ] || fail "called commands before checking its inputs: $(cat "$CALLS")"
pass "fails without HOMELAB_K3S_VERSION, before doing anything"

echo "k3s-install: $TESTS cases passed"
