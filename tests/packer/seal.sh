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
  var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db
  var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs/etc/os-release
  var/lib/kubelet/cpu_manager_state
  tmp/ks-script-abc tmp/.X11-unix/X0 var/tmp/dnf-cache/x
  var/lib/homelab/first-boot.done var/lib/homelab/k3s-role.done
  etc/homelabgen/k3s-role etc/homelabgen/k3s-vip.env
  etc/rancher/k3s/config.yaml.d/50-homelabgen-cluster.yaml etc/rancher/k3s/config.yaml.d/10-homelabgen-server.yaml
  etc/keepalived/keepalived.conf
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
  etc/hostname etc/hosts etc/passwd etc/shadow etc/selinux/config
  etc/rancher/k3s/config.yaml etc/rancher/k3s/registries.yaml
  usr/local/bin/k3s usr/local/bin/k3s-uninstall.sh
  etc/systemd/system/k3s.service etc/systemd/system/k3s.service.env
  etc/systemd/system/k3s.service.d/10-after-cloud-init.conf
  etc/systemd/system/k3s-agent.service etc/systemd/system/k3s-agent.service.env
  etc/systemd/system/k3s-agent.service.d/10-after-cloud-init.conf
  etc/systemd/system/homelab-k3s-role.service usr/local/libexec/homelabgen/k3s-role
  etc/homelabgen/k3s-server.yaml usr/sbin/keepalived etc/keepalived/notify.sh
  var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst
  var/lib/rancher/k3s/data/.lock
  root/.bashrc root/.ssh/known_hosts
  home/admin/.profile
  etc/cloud/cloud.cfg etc/cloud/cloud.cfg.d/99-custom.cfg
  var/log/messages var/log/secure var/log/dnf.log var/log/hawkey.log
  var/log/wtmp var/log/btmp var/log/lastlog
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
  for path in "${labelled[@]}"; do
    mkdir -p "$root/$path"
  done
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -s /etc/systemd/system/k3s.service "$root/etc/systemd/system/multi-user.target.wants/k3s.service"
  ln -s ../../var/lib/cloud/instances/iid-build "$root/var/lib/cloud/instance"
}

# Directories k3s-selinux creates and labels: seal empties them and keeps them.
unit=homelab-first-boot.service
snapshotter=io.containerd.snapshotter.v1.overlayfs
labelled=(var/lib/cni var/lib/kubelet/pods "var/lib/rancher/k3s/agent/containerd/$snapshotter/snapshots" run/k3s run/flannel)

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
assert_eq "$added" "etc/systemd/system/$unit
etc/systemd/system/sysinit.target.wants/$unit" "files created by seal"
[ -f "$root/etc/machine-id" ] && [ ! -s "$root/etc/machine-id" ] || fail "/etc/machine-id is not an empty file"
for dir in var/lib/cloud var/cache/dnf var/lib/rancher/k3s/agent/images root/.ssh tmp var/tmp "${labelled[@]}"; do
  [ -d "$root/$dir" ] || fail "seal removed the directory /$dir itself"
done
for dir in "${labelled[@]}" tmp var/tmp; do
  [ -z "$(ls -A "$root/$dir")" ] || fail "/$dir is not empty: $(ls -A "$root/$dir")"
done
assert_eq "$(cd "$root/var/lib/rancher/k3s/agent" && find . -mindepth 1 -maxdepth 1 | sort | tr '\n' ' ')" "./containerd ./images " "agent/ entries"
assert_eq "$(cd "$root/var/lib/rancher/k3s/agent/containerd" && find . -mindepth 1 | sort | tr '\n' ' ')" \
  "./$snapshotter ./$snapshotter/snapshots " "agent/containerd/ entries"
assert_eq "$(ls -A "$root/var/lib/kubelet")" pods "kubelet/ entries"
for file in etc/hostname var/log/dnf.log var/log/hawkey.log var/log/wtmp var/log/btmp var/log/lastlog; do
  [ -f "$root/$file" ] && [ ! -s "$root/$file" ] || fail "/$file is not an empty file"
done
assert_eq "$(cat "$root/var/log/messages")" x "/var/log/messages (not a *.log file)"
assert_file_has "$root/etc/hosts" "127.0.0.1   localhost localhost.localdomain"
assert_eq "$(grep -vc localhost "$root/etc/hosts")" 0 "lines of /etc/hosts without localhost"
assert_eq "$(readlink "$root/etc/systemd/system/sysinit.target.wants/$unit")" "/etc/systemd/system/$unit" "enable link of $unit"
unit_file="$root/etc/systemd/system/$unit"
assert_file_has "$unit_file" "ExecStart=/usr/bin/rm -f /var/lib/systemd/random-seed"
assert_file_has "$unit_file" "Before=systemd-random-seed.service"
assert_file_has "$unit_file" "DefaultDependencies=no"
assert_file_has "$unit_file" "ConditionPathExists=!/var/lib/homelab/first-boot.done"
assert_file_has "$unit_file" "ExecStart=/usr/bin/touch /var/lib/homelab/first-boot.done"
assert_file_has "$unit_file" "WantedBy=sysinit.target"
[ -L "$root/etc/systemd/system/multi-user.target.wants/k3s.service" ] || fail "the k3s enable link was removed"
[ ! -s "$CALLS" ] || fail "with HOMELAB_ROOT set, seal called commands on this system: $(cat "$CALLS")"
pass "removes exactly the ${#must_go[@]} per-machine files (+ the cloud-init instance link), keeps ${#must_stay[@]} others and the k3s-selinux directories; empties machine-id, hostname, logs; resets hosts; installs the first-boot unit"

# The unit as systemd reads it: no unknown key, no missing executable (systemd-analyze
# verify warns and still exits 0, so any output fails). Where systemd is not
# installed, this case is skipped.
if command -v systemd-analyze >/dev/null; then
  analyze() { # analyze UNIT-FILE: verified alone, in a directory of its own
    rm -rf "$SANDBOX/analyze" && mkdir "$SANDBOX/analyze" && cp "$1" "$SANDBOX/analyze/$unit"
    (cd "$SANDBOX/analyze" && systemd-analyze verify --man=no "./$unit" 2>&1)
  }
  out=$(analyze "$unit_file") || fail "systemd-analyze verify rejects $unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify warns about $unit: $out"
  sed 's/^Before=/Befor=/' "$unit_file" >"$SANDBOX/broken.service"
  [ -n "$(analyze "$SANDBOX/broken.service")" ] || fail "systemd-analyze verify did not notice a misspelled key"
  pass "systemd-analyze verify accepts $unit without a warning (and warns on a misspelled key)"
else
  echo "skip  systemd-analyze verify of $unit (no systemd-analyze here)"
fi

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
