#!/usr/bin/env bash
# Make the sealed "golden image" of the boot tests from the Debian base and a rendered
# packer image directory, the way the Packer build does where that is not AlmaLinux-specific:
#
#   1. the build key in /root/.ssh/authorized_keys (what the kickstart leaves for Packer)
#   2. scripts/k3s-install.sh, unchanged, run in the guest's root (chroot) with the
#      provisioner environment of locals.pkr.hcl (provision_env, variables at their
#      defaults) and scripts/k3s-role.sh where the build's file provisioner puts it;
#      only the upstream installer is replaced by guest/k3s-installer-stub.sh (through
#      the script's own installer-URL test hook), which installs the stub k3s and both
#      units; systemctl is guest/systemctl-chroot (no systemd runs in a chroot).
#      keepalived is Debian's package (in the base), disabled as scripts/updates.sh does.
#   3. scripts/seal.sh, unchanged, on that root (HOMELAB_ROOT: its generic part; the
#      build-VM-only steps cloud-init clean / dnf clean / fstrim are not run)
#   4. mkfs.ext4 -d: a raw disk image, no loop mount
#
#   tests/boot/image.sh BASE_DIR PACKER_IMAGE_DIR OUT_DIR
# Writes OUT_DIR/golden.raw and OUT_DIR/unsealed.json (the identity the build had
# before sealing: machine-id, SSH host keys, build key), OUT_DIR/k3s-config.yaml,
# OUT_DIR/k3s-server.yaml, OUT_DIR/boot-units (units the rendered scripts added, besides
# the k3s units).
set -euo pipefail

base=${1:?usage: image.sh BASE_DIR PACKER_IMAGE_DIR OUT_DIR}
image=${2:?}
out=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "boot-image: $*" >&2; exit 1; }

root="$out/rootfs"
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xpf "$base/rootfs.tar"

# The provisioner environment, as Packer would pass it (variables at their defaults).
mapfile -t provision_env < <(python3 "$here/packer_env.py" "$image")
[ "${#provision_env[@]}" -gt 0 ] || die "no provision_env in $image/locals.pkr.hcl"
printf 'boot-image: provisioner env: %s\n' "${provision_env[*]}" >&2

# The locale cloud-init sets by default (en_US.UTF-8), as AlmaLinux's langpack provides it.
sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$root/etc/locale.gen"
chroot "$root" locale-gen >/dev/null || die "locale-gen failed in the guest root"

# Test harness pieces (not part of the image contract).
install -D -m 0644 "$here/guest/k3s-stub" "$root/usr/local/share/boot-test/k3s-stub"
install -D -m 0644 "$here/guest/probe.py" "$root/usr/local/share/boot-test/probe.py"
install -D -m 0644 "$here/guest/k3s-installer-stub.sh" "$root/tmp/k3s-installer.sh"
install -D -m 0755 "$here/guest/systemctl-chroot" "$root/tmp/chroot-bin/systemctl"
install -D -m 0644 "$here/guest/boot-probe.service" "$root/etc/systemd/system/boot-probe.service"
chroot "$root" systemctl enable boot-probe.service >/dev/null 2>&1

units_before=$(cd "$root/etc/systemd/system" && ls -- *.service)

# 1. The build key.
install -d -m 0700 "$root/root/.ssh"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuildKeyOfThePackerBuildXXXXXXXXXXXXXXXXXXXX packer-build" \
  >"$root/root/.ssh/authorized_keys"

# keepalived as scripts/updates.sh leaves it: installed, disabled.
chroot "$root" systemctl disable keepalived.service >/dev/null 2>&1

# 2. The rendered k3s install, in the guest's root.
install -m 0755 "$image/scripts/k3s-install.sh" "$root/tmp/k3s-install.sh"
upload=$(sed -n 's/^ *destination *= *"\(.*\)"$/\1/p' "$image/build.pkr.hcl")
[ -n "$upload" ] || die "no file provisioner destination (the role script) in $image/build.pkr.hcl"
install -m 0644 "$image/scripts/k3s-role.sh" "$root$upload"
chroot "$root" env -i PATH=/tmp/chroot-bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  "${provision_env[@]}" \
  K3S_INSTALL_SCRIPT_URL=file:///tmp/k3s-installer.sh \
  HOMELAB_K3S_INSTALL_SCRIPT_URL=file:///tmp/k3s-installer.sh \
  bash /tmp/k3s-install.sh >&2 || die "scripts/k3s-install.sh failed in the guest root"
rm -rf "$root/tmp/k3s-install.sh" "$root/tmp/k3s-installer.sh" "$root/tmp/chroot-bin" "$root$upload"
cp "$root/etc/rancher/k3s/config.yaml" "$out/k3s-config.yaml"
cp "$root/etc/homelabgen/k3s-server.yaml" "$out/k3s-server.yaml"

# The identity the build VM had, to show the clones do not share it.
python3 - "$root" >"$out/unsealed.json" <<'PY'
import glob, json, os, sys
r = sys.argv[1]
def read(p):
    try:
        return open(r + p).read()
    except OSError:
        return None
print(json.dumps({
    "machine_id": (read("/etc/machine-id") or "").strip(),
    "ssh_host_keys": {os.path.basename(p): open(p).read() for p in sorted(glob.glob(r + "/etc/ssh/ssh_host_*_key.pub"))},
    "build_key": read("/root/.ssh/authorized_keys"),
}))
PY

# 3. The rendered seal, generic part.
HOMELAB_ROOT="$root" bash "$image/scripts/seal.sh" >&2 || die "scripts/seal.sh failed"

# The units the rendered scripts added (besides the two k3s units, of which a clone runs
# one): they run on a clone's boot.
(cd "$root/etc/systemd/system" && ls -- *.service) |
  grep -vxF -e k3s.service -e k3s-agent.service -e "$units_before" >"$out/boot-units" || true

# 4. The disk.
rm -f "$out/golden.raw"
mkfs.ext4 -q -L root -d "$root" "$out/golden.raw" 3G || die "mkfs.ext4 -d failed"
rm -rf "$root"
