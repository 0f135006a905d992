#!/usr/bin/env bash
# Behaviour of scripts/seal.sh against a fake root: it must remove exactly the
# per-machine state a clone must not share, and nothing else.
#
#   tests/packer/seal.sh GENERATED/packer/IMAGE
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
script="$image_dir/scripts/seal.sh"
sandbox_init
root="$SANDBOX/root"

# Every command seal may call on a real system fails here: with HOMELAB_ROOT set it
# must touch nothing outside the fake root.
for command in cloud-init dnf fstrim systemctl; do
  stub "$command" 'exit 1'
done

put() { # put PATH [CONTENT]: a file in the fake root
  mkdir -p "$(dirname "$root/$1")"
  printf '%s\n' "${2:-x}" >"$root/$1"
}

# State that must go.
must_go=(
  etc/ssh/ssh_host_rsa_key etc/ssh/ssh_host_rsa_key.pub
  etc/ssh/ssh_host_ecdsa_key etc/ssh/ssh_host_ecdsa_key.pub
  etc/ssh/ssh_host_ed25519_key etc/ssh/ssh_host_ed25519_key.pub
  var/lib/dbus/machine-id
  var/lib/systemd/random-seed
  var/lib/cloud/instances/iid-build/obj.pkl var/lib/cloud/seed/nocloud/user-data
  var/lib/cloud/data/instance-id var/lib/cloud/.hidden-state
  var/log/cloud-init.log var/log/cloud-init-output.log
  var/lib/rancher/k3s/server/tls/server-ca.crt var/lib/rancher/k3s/server/token
  var/lib/rancher/k3s/server/db/state.db
  var/lib/rancher/k3s/agent/client-kubelet.crt var/lib/rancher/k3s/agent/etc/containerd/config.toml
  var/lib/rancher/k3s/agent/containerd/io.containerd.metadata.v1.bolt/meta.db
  etc/rancher/node/password
  etc/rancher/k3s/k3s.yaml
  var/lib/kubelet/pods/uid/volumes var/lib/cni/networks/cbr0/last_reserved_ip.0
  run/k3s/containerd/containerd.sock run/flannel/subnet.env
  root/.ssh/authorized_keys root/.bash_history root/anaconda-ks.cfg root/original-ks.cfg
  var/cache/dnf/metadata_lock.pid var/cache/dnf/baseos-0123/packages/bash.rpm
  etc/NetworkManager/system-connections/ens18.nmconnection
  var/lib/NetworkManager/internal-0123-ens18.lease
)
# Everything else stays, including what k3s needs on a clone.
must_stay=(
  etc/machine-id
  etc/ssh/sshd_config etc/ssh/ssh_config etc/ssh/moduli
  etc/hostname etc/passwd etc/shadow etc/selinux/config
  etc/rancher/k3s/config.yaml etc/rancher/k3s/registries.yaml
  usr/local/bin/k3s usr/local/bin/k3s-uninstall.sh
  etc/systemd/system/k3s.service etc/systemd/system/k3s.service.env
  etc/systemd/system/k3s.service.d/10-after-cloud-init.conf
  var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst
  var/lib/rancher/k3s/data/.lock
  root/.bashrc root/.ssh/known_hosts
  home/admin/.profile
  etc/cloud/cloud.cfg etc/cloud/cloud.cfg.d/99-custom.cfg
  var/log/messages var/log/dnf.log
  etc/NetworkManager/NetworkManager.conf var/lib/NetworkManager/NetworkManager.state
  var/lib/dbus/.keep
)

build_root() {
  rm -rf "$root"
  local path
  for path in "${must_go[@]}" "${must_stay[@]}"; do
    put "$path"
  done
  put etc/machine-id 0123456789abcdef0123456789abcdef
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -s /etc/systemd/system/k3s.service "$root/etc/systemd/system/multi-user.target.wants/k3s.service"
  ln -s ../../var/lib/cloud/instances/iid-build "$root/var/lib/cloud/instance"
}

listing() { (cd "$root" && find . -mindepth 1 \( -type f -o -type l \) | sed 's|^\./||' | sort); }

# 1. Exactly the listed state goes; machine-id stays, empty.
build_root
before=$(listing)
run_script "$SANDBOX/out" "$script" HOMELAB_ROOT="$root" || fail "seal.sh failed:$(printf '\n'; cat "$SANDBOX/out")"
after=$(listing)
expected_removed=$(printf '%s\n' "${must_go[@]}" var/lib/cloud/instance | sort)
removed=$(comm -23 <(echo "$before") <(echo "$after"))
assert_eq "$removed" "$expected_removed" "removed files"
added=$(comm -13 <(echo "$before") <(echo "$after"))
assert_eq "$added" "" "files created by seal"
[ -f "$root/etc/machine-id" ] && [ ! -s "$root/etc/machine-id" ] || fail "/etc/machine-id is not an empty file"
for dir in var/lib/cloud var/cache/dnf var/lib/rancher/k3s/agent/images root/.ssh; do
  [ -d "$root/$dir" ] || fail "seal removed the directory /$dir itself"
done
[ "$(ls -A "$root/var/lib/rancher/k3s/agent")" = images ] || fail "agent/ holds more than images/: $(ls -A "$root/var/lib/rancher/k3s/agent")"
[ -L "$root/etc/systemd/system/multi-user.target.wants/k3s.service" ] || fail "the k3s enable link was removed"
[ ! -s "$CALLS" ] || fail "with HOMELAB_ROOT set, seal called commands on this system: $(cat "$CALLS")"
pass "removes exactly the ${#must_go[@]} per-machine files (+ the cloud-init instance link), keeps ${#must_stay[@]} others, empties machine-id"

# 2. Sealing twice changes nothing more.
run_script "$SANDBOX/out" "$script" HOMELAB_ROOT="$root" || fail "second seal failed"
assert_eq "$(listing)" "$after" "files after a second seal"
pass "is idempotent"

# 3. A D-Bus machine-id that is a link to /etc/machine-id is kept.
build_root
rm "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
run_script "$SANDBOX/out" "$script" HOMELAB_ROOT="$root" || fail "seal.sh failed"
[ -L "$root/var/lib/dbus/machine-id" ] || fail "removed the /var/lib/dbus/machine-id link"
pass "keeps /var/lib/dbus/machine-id when it links to /etc/machine-id"

# 4. On an empty root it fails nowhere (nothing to remove is not an error).
rm -rf "$root" && mkdir -p "$root"
run_script "$SANDBOX/out" "$script" HOMELAB_ROOT="$root" || fail "seal.sh failed on an empty root:$(printf '\n'; cat "$SANDBOX/out")"
pass "succeeds when there is nothing to remove"

echo "seal: $TESTS cases passed"
