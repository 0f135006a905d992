#!/usr/bin/env bash
# Build (once, cached outside the clone) the Debian guest the boot tests start from:
# a root file system with systemd, cloud-init, openssh-server and the Debian cloud
# kernel, plus that kernel and an initramfs made for it.
#
#   tests/boot/base.sh CACHE_DIR    prints the directory holding rootfs.tar, vmlinuz, initrd.img
#
# The directory is keyed by a hash of this script, the suite and the mirror, so a change
# to any of them builds a new one (and removes the older ones); a flock makes a second
# caller wait instead of racing. BOOT_SUITE picks the Debian release (default trixie).
# The mirror is the one apt on this machine uses (read from its sources at run time).
# Needs root (debootstrap) and: debootstrap, tar.
set -euo pipefail

cache=${1:?usage: base.sh CACHE_DIR}
suite=${BOOT_SUITE:-trixie}
packages=python3-cffi-backend,keepalived,locales,e2fsprogs,systemd-sysv,udev,dbus,cloud-init,openssh-server,linux-image-cloud-amd64,initramfs-tools,systemd-resolved,iproute2,curl,ca-certificates,procps,netbase

die() { echo "boot-base: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is missing: run tests/boot/setup.sh"

# The Debian mirror apt is configured with (deb822 .sources or one-line sources.list).
mirror=$(
  {
    { cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } | awk '/^URIs:/ {print $2}'
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}'
  } | { grep -v -- -security || true; } | head -n1
)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*"

key=$( { cat "$0"; echo "$suite $mirror $packages"; } | sha256sum | cut -c1-16)
dir="$cache/base-$key"
mkdir -p "$cache"
exec 9>"$cache/base.lock"
flock 9
if [ -f "$dir/done" ]; then
  echo "$dir"
  exit 0
fi

rm -rf "$dir"
mkdir -p "$dir"
root="$dir/rootfs"
echo "boot-base: debootstrap $suite into $root (once; takes minutes)" >&2
start=$SECONDS
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
  { tail -n 30 "$dir/debootstrap.log" >&2; die "debootstrap failed (log: $dir/debootstrap.log)"; }
echo "boot-base: debootstrap took $((SECONDS - start)) s" >&2

# The kernel and the initramfs the guest boots with (qemu -kernel/-initrd).
vmlinuz=$(find "$root/boot" -name "vmlinuz-*" | sort -V | tail -n1)
initrd=$(find "$root/boot" -name "initrd.img-*" | sort -V | tail -n1)
[ -f "$vmlinuz" ] && [ -f "$initrd" ] || die "no kernel or initramfs in $root/boot"
cp "$vmlinuz" "$dir/vmlinuz"
cp "$initrd" "$dir/initrd.img"

# Guest-wide settings that stand in for what the golden image's build sets up.
echo 'LABEL=root / ext4 defaults 0 1' >"$root/etc/fstab"
chroot "$root" systemctl enable systemd-networkd systemd-resolved >/dev/null 2>&1
# cloud-init only from the NoCloud seed disk: no network metadata probing.
printf 'datasource_list: [ NoCloud, None ]\n' >"$root/etc/cloud/cloud.cfg.d/90-boot-test.cfg"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar -C "$root" --numeric-owner -cpf "$dir/rootfs.tar" .
rm -rf "$root"
touch "$dir/done"
# Bases built from older inputs are dead weight (about 0.5 GB each).
for stale in "$cache"/base-*; do
  [ "$stale" = "$dir" ] || rm -rf "$stale"
done
echo "$dir"
