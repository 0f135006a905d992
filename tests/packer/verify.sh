#!/usr/bin/env bash
# Behaviour of scripts/verify.sh against a fake root. The good root is made the way a
# build makes it: k3s-install.sh (stubbed installer) writes k3s's files, the other
# steps' results are laid down, build-time state is added, seal.sh removes it. verify
# must pass on that root, and fail, naming the check, on each broken invariant.
#
#   tests/packer/verify.sh GENERATED/packer/IMAGE
# Stub bodies and breakages are shell code run later: single quotes are meant.
# shellcheck disable=SC2016
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
sandbox_init
good="$SANDBOX/good"
root="$SANDBOX/root"

mapfile -t build_env < <(provision_env "$image_dir")
airgap=$(printf '%s\n' "${build_env[@]}" | sed -n 's/^HOMELAB_AIRGAP_IMAGES=//p')
arch=$(printf '%s\n' "${build_env[@]}" | sed -n 's/^HOMELAB_ARCH=//p')
# Verify the airgap images whatever the spec says: the case that breaks them needs them.
build_env=("${build_env[@]/#HOMELAB_AIRGAP_IMAGES=*/HOMELAB_AIRGAP_IMAGES=true}")

stub_k3s_installer
for command in cloud-init dnf fstrim getenforce; do
  stub "$command" 'exit 1'
done
# matchpathcon -V PATH: "verified" unless PATH is listed in $SANDBOX/mislabelled (or
# missing), as the real one reports a context other than the policy's.
stub matchpathcon '
path=${!#}
[ -e "$path" ] || { echo "$path: No such file or directory" >&2; exit 1; }
if grep -qxF "$path" "$SANDBOX/mislabelled" 2>/dev/null; then
  echo "$path has context system_u:object_r:var_lib_t:s0, should be system_u:object_r:container_file_t:s0"
  exit 1
fi
echo "$path verified."'
unit=homelab-first-boot.service
snapshots=var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots

put() { # put ROOT PATH [CONTENT]
  mkdir -p "$(dirname "$1/$2")"
  printf '%s\n' "${3:-x}" >"$1/$2"
}
link() { # link ROOT TARGET NAME
  mkdir -p "$(dirname "$1/$3")"
  ln -sfn "$2" "$1/$3"
}

# k3s as the k3s step leaves it.
mkdir -p "$good"
run_script "$SANDBOX/out" "$image_dir/scripts/k3s-install.sh" HOMELAB_ROOT="$good" INSTALLER_MODE=ok \
  HOMELAB_K3S_ROLE_SCRIPT="$image_dir/scripts/k3s-role.sh" "${build_env[@]}" ||
  fail "k3s-install.sh failed:$(printf '\n'; cat "$SANDBOX/out")"
cp -p "$STUBS/k3s" "$SANDBOX/k3s.installed"
# The other steps' results.
put "$good" "var/lib/rancher/k3s/agent/images/k3s-airgap-images-$arch.tar.zst" images
put "$good" etc/selinux/config "SELINUX=enforcing"
put "$good" etc/shadow 'root:!!:19000:0:99999:7:::'
put "$good" usr/bin/qemu-ga
chmod +x "$good/usr/bin/qemu-ga"
# keepalived as updates.sh leaves it: installed, disabled; the package's sample config.
put "$good" usr/sbin/keepalived
chmod +x "$good/usr/sbin/keepalived"
put "$good" etc/keepalived/keepalived.conf "vrrp_instance VI_1 { virtual_ipaddress { 192.168.200.16 } }"
put "$good" usr/lib/udev/rules.d/99-qemu-guest-agent.rules 'SUBSYSTEM=="virtio-ports", ENV{SYSTEMD_WANTS}="qemu-guest-agent.service"'
# What `systemctl enable qemu-guest-agent` makes (the unit is WantedBy its virtio port).
link "$good" /usr/lib/systemd/system/qemu-guest-agent.service 'etc/systemd/system/dev-virtio\x2dports-org.qemu.guest_agent.0.device.wants/qemu-guest-agent.service'
# What the k3s-selinux package creates and labels.
mkdir -p "$good/var/lib/cni" "$good/var/lib/kubelet/pods" "$good/$snapshots" "$good/run/k3s" "$good/run/flannel"
put "$good" etc/hosts "$(printf '127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n::1         localhost localhost.localdomain localhost6 localhost6.localdomain6')"
link "$good" /usr/lib/systemd/system/firewalld.service etc/systemd/system/multi-user.target.wants/firewalld.service
ports=$(sed -n 's/^ports=(\(.*\))$/\1/p' "$image_dir/scripts/firewalld.sh")
sources=$(sed -n 's/^trusted=(\(.*\))$/\1/p' "$image_dir/scripts/firewalld.sh")
[ -n "$ports" ] && [ -n "$sources" ] || fail "cannot read the ports and trusted networks of scripts/firewalld.sh"
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<zone>'
  echo '  <short>Public</short>'
  echo '  <service name="ssh"/>'
  for spec in $ports; do
    echo "  <port port=\"${spec%/*}\" protocol=\"${spec#*/}\"/>"
  done
  echo '</zone>'
} >"$SANDBOX/public.xml"
put "$good" etc/firewalld/zones/public.xml "$(cat "$SANDBOX/public.xml")"
put "$good" etc/firewalld/zones/trusted.xml "$(printf '<zone target="ACCEPT">\n'; for cidr in $sources; do echo "  <source address=\"$cidr\"/>"; done; echo '</zone>')"
mkdir -p "$good/var/cache/dnf" "$good/var/lib/cloud" "$good/root/.ssh" "$good/home/admin"
# Build-time state seal.sh must remove.
put "$good" etc/machine-id 0123456789abcdef0123456789abcdef
put "$good" etc/ssh/ssh_host_ed25519_key
put "$good" root/.ssh/authorized_keys "ssh-ed25519 AAAA build"
put "$good" var/lib/cloud/instances/iid/obj.pkl
put "$good" var/cache/dnf/packages.db
put "$good" var/lib/systemd/random-seed
put "$good" etc/hostname build-vm.localdomain
put "$good" tmp/ks-script-1234
put "$good" var/tmp/dnf-root/x
put "$good" var/log/dnf.log "dnf ran"
put "$good" var/log/wtmp "root pts/0"
put "$good" var/lib/kubelet/cpu_manager_state "{}"
put "$good" "$snapshots/1/fs/etc/os-release"
# A VM's role and cluster settings, as if the build VM had had vendor data.
put "$good" etc/homelabgen/k3s-role server
put "$good" etc/homelabgen/k3s-vip.env HOMELAB_VIP_ADDRESS=10.0.0.50
put "$good" etc/rancher/k3s/config.yaml.d/50-homelabgen-cluster.yaml 'token: "build-token"'
put "$good" var/lib/homelab/k3s-role.done
run_script "$SANDBOX/out" "$image_dir/scripts/seal.sh" HOMELAB_ROOT="$good" || fail "seal.sh failed:$(printf '\n'; cat "$SANDBOX/out")"

verify() { # verify [ENV=VALUE...]: run verify.sh on $root
  run_script "$SANDBOX/out" "$image_dir/scripts/verify.sh" HOMELAB_ROOT="$root" "${build_env[@]}" "$@"
}
fresh() {
  rm -rf "$root"
  cp -a "$good" "$root"
  cp -p "$SANDBOX/k3s.installed" "$STUBS/k3s"
  rm -f "$SANDBOX/mislabelled"
}

fresh
verify || fail "verify.sh fails on a sealed root:$(printf '\n'; cat "$SANDBOX/out")"
assert_file_has "$SANDBOX/out" "verify: all checks passed"
pass "passes on a root k3s-install.sh wrote and seal.sh sealed"

# breaks "check name printed on FAIL" SHELL-CODE-THAT-BREAKS-IT [ENV=VALUE...]
broken=()
breaks() {
  local check=$1 breakage=$2
  shift 2
  broken+=("$check")
  fresh
  (cd "$root" && eval "$breakage")
  if verify "$@"; then
    fail "verify.sh passed although: $breakage"
  fi
  assert_file_has "$SANDBOX/out" "verify: FAIL  $check" "after: $breakage"
  local failed
  failed=$(grep -c '^verify: FAIL' "$SANDBOX/out")
  assert_eq "$failed" 1 "failed checks after: $breakage"
  pass "fails on: $breakage"
}

breaks "machine-id is empty" 'echo 0123 >etc/machine-id'
breaks "machine-id is empty" 'rm etc/machine-id'
breaks "no SSH host keys" 'touch etc/ssh/ssh_host_rsa_key'
breaks "hostname is empty" 'echo build-vm >etc/hostname'
breaks "hosts names only localhost" 'echo "10.0.0.9 build-vm.home.arpa build-vm" >>etc/hosts'
breaks "hosts names only localhost" 'rm etc/hosts'
breaks "no random seed" 'touch var/lib/systemd/random-seed'
breaks "first boot removes the random seed" "rm etc/systemd/system/sysinit.target.wants/$unit"
breaks "first boot removes the random seed" "rm etc/systemd/system/$unit"
breaks "first boot removes the random seed" "sed -i '/^Before=/d' etc/systemd/system/$unit"
breaks "first boot removes the random seed" "sed -i '\\|^ExecStart=/usr/bin/rm|d' etc/systemd/system/$unit"
breaks "first boot removes the random seed" 'mkdir -p var/lib/homelab && touch var/lib/homelab/first-boot.done'
breaks "no cloud-init state" 'ln -s instances/iid var/lib/cloud/instance'
breaks "no cloud-init logs" 'mkdir -p var/log && touch var/log/cloud-init.log'
breaks "no network profile or lease of the build VM" 'mkdir -p etc/NetworkManager/system-connections && touch etc/NetworkManager/system-connections/ens18.nmconnection'
breaks "root password locked" 'echo "root:\$6\$salt\$hash:19000:0:99999:7:::" >etc/shadow'
breaks "no authorized_keys (build key removed)" 'echo key >root/.ssh/authorized_keys'
breaks "no authorized_keys (build key removed)" 'mkdir -p home/admin/.ssh && echo key >home/admin/.ssh/authorized_keys'
breaks "no kickstart copies in /root" 'touch root/anaconda-ks.cfg'
breaks "k3s binary present, executable, version" 'rm "$STUBS/k3s"'
breaks "k3s binary present, executable, version" 'chmod -x "$STUBS/k3s"'
breaks "k3s binary present, executable, version" 'sed -i "s/k3s version v[^ ]*/k3s version v1.30.0+k3s1/" "$STUBS/k3s"'
breaks "k3s-server.yaml disables" 'sed -i "/^  - traefik\$/d" etc/homelabgen/k3s-server.yaml'
breaks "k3s-server.yaml disables" 'rm etc/homelabgen/k3s-server.yaml'
breaks "config.yaml turns SELinux on" 'sed -i "/^selinux:/d" etc/rancher/k3s/config.yaml'
breaks "config.yaml holds only keys k3s agent accepts" 'printf "disable:\n  - traefik\n" >>etc/rancher/k3s/config.yaml'
breaks "config.yaml holds only keys k3s agent accepts" 'echo "write-kubeconfig-mode: \"0600\"" >>etc/rancher/k3s/config.yaml'
breaks "k3s.service and k3s-agent.service installed, neither enabled" 'ln -s /etc/systemd/system/k3s.service etc/systemd/system/multi-user.target.wants/k3s.service'
breaks "k3s.service and k3s-agent.service installed, neither enabled" 'ln -s /etc/systemd/system/k3s-agent.service etc/systemd/system/multi-user.target.wants/k3s-agent.service'
breaks "k3s.service and k3s-agent.service installed, neither enabled" 'rm etc/systemd/system/k3s-agent.service'
breaks "k3s units ordered after cloud-config.target" 'rm etc/systemd/system/k3s.service.d/10-after-cloud-init.conf'
breaks "k3s units ordered after cloud-config.target" 'rm etc/systemd/system/k3s-agent.service.d/10-after-cloud-init.conf'
breaks "k3s units ordered after cloud-config.target" 'sed -i "s/cloud-config\.target/cloud-init.service/" etc/systemd/system/k3s.service.d/10-after-cloud-init.conf'
breaks "role unit enabled" 'rm etc/systemd/system/multi-user.target.wants/homelab-k3s-role.service'
breaks "role unit enabled" 'sed -i "s/^Before=.*/Before=k3s.service/" etc/systemd/system/homelab-k3s-role.service'
breaks "role unit enabled" 'sed -i "/^After=/d" etc/systemd/system/homelab-k3s-role.service'
breaks "role unit enabled" 'chmod -x usr/local/libexec/homelabgen/k3s-role'
breaks "role unit enabled" 'sed -i "/^ConditionPathExists=/d" etc/systemd/system/homelab-k3s-role.service'
breaks "k3s.service.env and k3s-agent.service.env hold nothing" 'echo K3S_VERSION=v1.36.3+k3s1 >etc/systemd/system/k3s.service.env'
breaks "k3s.service.env and k3s-agent.service.env hold nothing" 'echo K3S_TOKEN=secret >etc/systemd/system/k3s-agent.service.env'
breaks "no role, API address or cluster settings of a VM" 'echo agent >etc/homelabgen/k3s-role'
breaks "no role, API address or cluster settings of a VM" 'echo HOMELAB_VIP_ADDRESS=10.0.0.50 >etc/homelabgen/k3s-vip.env'
breaks "no role, API address or cluster settings of a VM" 'mkdir -p etc/rancher/k3s/config.yaml.d && echo "token: x" >etc/rancher/k3s/config.yaml.d/50-homelabgen-cluster.yaml'
breaks "no role, API address or cluster settings of a VM" 'mkdir -p var/lib/homelab && touch var/lib/homelab/k3s-role.done'
breaks "keepalived installed, not enabled, no keepalived.conf" 'rm usr/sbin/keepalived'
breaks "keepalived installed, not enabled, no keepalived.conf" 'ln -s /usr/lib/systemd/system/keepalived.service etc/systemd/system/multi-user.target.wants/keepalived.service'
breaks "keepalived installed, not enabled, no keepalived.conf" 'mkdir -p etc/keepalived && echo "vrrp_instance VI_1 {}" >etc/keepalived/keepalived.conf'
breaks "no k3s server state" 'mkdir -p var/lib/rancher/k3s/server/tls'
breaks "no k3s agent state but images" 'mkdir -p var/lib/rancher/k3s/agent/etc'
breaks "no k3s agent state but images" 'mkdir -p var/lib/rancher/k3s/agent/containerd/io.containerd.content.v1.content'
breaks "no k3s agent state but images" "mkdir -p $snapshots/1/fs"
breaks "no node password" 'mkdir -p etc/rancher/node && echo pw >etc/rancher/node/password'
breaks "no kubeconfig" 'touch etc/rancher/k3s/k3s.yaml'
breaks "no kubelet, CNI or runtime state" 'touch var/lib/kubelet/cpu_manager_state'
breaks "no kubelet, CNI or runtime state" 'mkdir -p var/lib/kubelet/pods/0123-uid/volumes'
breaks "no kubelet, CNI or runtime state" 'mkdir -p var/lib/cni/networks/cbr0'
breaks "no kubelet, CNI or runtime state" 'touch run/k3s/containerd.sock'
breaks "k3s-selinux directories present and labelled" 'rmdir var/lib/cni'
breaks "k3s-selinux directories present and labelled" "rmdir $snapshots"
breaks "k3s-selinux directories present and labelled" 'echo "$PWD/var/lib/kubelet/pods" >"$SANDBOX/mislabelled"'
breaks "airgap images preloaded" 'rm var/lib/rancher/k3s/agent/images/*'
breaks "SELinux enforcing at boot" 'echo SELINUX=permissive >etc/selinux/config'
# The udev rule stays (the package always ships it): only the enable link is gone.
breaks "qemu-guest-agent installed and enabled" 'rm etc/systemd/system/*.wants/qemu-guest-agent.service'
breaks "qemu-guest-agent installed and enabled" 'ln -sfn /dev/null etc/systemd/system/*.wants/qemu-guest-agent.service'
breaks "qemu-guest-agent installed and enabled" 'rm usr/bin/qemu-ga'
breaks "firewalld enabled with the k3s ports and trusted networks" 'rm etc/systemd/system/multi-user.target.wants/firewalld.service'
breaks "firewalld enabled with the k3s ports and trusted networks" 'sed -i "/port=\"10250\"/d" etc/firewalld/zones/public.xml'
breaks "firewalld enabled with the k3s ports and trusted networks" 'sed -i "s|</zone>|  <port port=\"6443\" protocol=\"tcp\"/>\n</zone>|" etc/firewalld/zones/public.xml'
breaks "firewalld enabled with the k3s ports and trusted networks" 'sed -i "s|</zone>|  <port port=\"2379-2380\" protocol=\"tcp\"/>\n</zone>|" etc/firewalld/zones/public.xml'
breaks "firewalld enabled with the k3s ports and trusted networks" 'sed -i "/protocol=\"udp\"/d" etc/firewalld/zones/public.xml'
breaks "firewalld enabled with the k3s ports and trusted networks" 'sed -i "/10.43.0.0/d" etc/firewalld/zones/trusted.xml'
breaks "no package caches" 'touch var/cache/dnf/packages.db'
breaks "no temporary files in /tmp, /var/tmp" 'touch tmp/ks-script-5678'
breaks "no temporary files in /tmp, /var/tmp" 'mkdir -p var/tmp/leftover'
breaks "logs emptied" 'echo "dnf ran" >var/log/dnf.log'
breaks "logs emptied" 'echo "root pts/0" >var/log/wtmp'
breaks "logs emptied" 'echo "x" >var/log/lastlog'

# Packer runs the script from /tmp, and services keep private directories there.
fresh
cp "$image_dir/scripts/verify.sh" "$root/tmp/script_4242.sh"
mkdir -p "$root/tmp/systemd-private-0123-chronyd.service-abcd"
run_script "$SANDBOX/out" "$root/tmp/script_4242.sh" HOMELAB_ROOT="$root" "${build_env[@]}" ||
  fail "verify.sh run from /tmp fails:$(printf '\n'; cat "$SANDBOX/out")"
pass "passes when run from /tmp as Packer runs it, next to a service's private /tmp"

# Without airgap images in the spec, their absence is fine.
fresh
rm "$root"/var/lib/rancher/k3s/agent/images/*
verify HOMELAB_AIRGAP_IMAGES=false || fail "verify.sh wants airgap images although HOMELAB_AIRGAP_IMAGES=false"
pass "does not ask for airgap images when HOMELAB_AIRGAP_IMAGES=false (the spec says $airgap)"

# Every check of verify.sh has a case above that makes it fail, except the three that
# look at the running system (skipped with HOMELAB_ROOT; see verify.sh).
while IFS= read -r name; do
  name=${name%%\$*}
  case "$name" in "k3s is not running" | "k3s-agent is not running" | "SELinux is enforcing now") continue ;; esac
  covered=false
  for check in "${broken[@]}"; do
    case "$check" in "$name"* | "${name% }") covered=true ;; esac
    case "$name" in "$check"*) covered=true ;; esac
  done
  [ "$covered" = true ] || fail "verify.sh check '$name' has no case that breaks it"
done < <(sed -n 's/^ *check "\([^"]*\)".*/\1/p' "$image_dir/scripts/verify.sh")
pass "every check of verify.sh (but the three of the running system) has a failing case here"

echo "verify: $TESTS cases passed"
