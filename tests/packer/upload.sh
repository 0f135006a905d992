#!/usr/bin/env bash
# scripts/upload-to-proxmox.sh against a real sshd on 127.0.0.1: a throwaway host key
# and user key in a temp dir, an unprivileged port, and on the sshd side's PATH stubs
# for qm and pvesh that record their arguments. The qcow2 must arrive intact (sha256,
# checked where qm imports it), qm must see the right sequence, and the script must stop
# at the first error.
#
#   tests/packer/upload.sh GENERATED/packer/IMAGE
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
script="$image_dir/scripts/upload-to-proxmox.sh"
sshd=/usr/sbin/sshd
[ -x "$sshd" ] || fail "$sshd is missing: apt-get install openssh-server (make tools installs it)"
sandbox_init
user=$(id -un)

# The "Proxmox host": sshd with its own config, keys and PATH.
remote_bin="$SANDBOX/remote-bin"
remote_tmp="$SANDBOX/remote-tmp"
mkdir -p "$remote_bin" "$remote_tmp" "$SANDBOX/ssh"
ssh-keygen -q -t ed25519 -N '' -C host -f "$SANDBOX/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -C user -f "$SANDBOX/ssh/user_key"
cp "$SANDBOX/ssh/user_key.pub" "$SANDBOX/ssh/authorized_keys"
chmod 600 "$SANDBOX/ssh/authorized_keys"

# qm: logs its arguments; `list` shows one VM named $EXISTING_NAME; `status` knows no
# VM; `set ... import-from=FILE` records FILE's sha256; a file "fail-<subcommand>"
# next to the stub makes that subcommand fail.
cat >"$remote_bin/qm" <<'QM'
#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "qm $*" >>"$dir/qm.log"
[ ! -e "$dir/fail-$1" ] || { echo "qm $1: simulated failure" >&2; exit 25; }
case "$1" in
  list)
    echo "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID"
    echo "       100 $(cat "$dir/existing-name")            stopped    2048              32.00 0"
    ;;
  status)
    echo "Configuration file 'nodes/pve/qemu-server/$2.conf' does not exist" >&2
    exit 2
    ;;
  set)
    for arg in "$@"; do
      case "$arg" in
        *import-from=*)
          file=${arg#*import-from=}
          file=${file%%,*}
          sha256sum "$file" | cut -d' ' -f1 >"$dir/imported.sha256"
          ;;
      esac
    done
    ;;
esac
QM
cat >"$remote_bin/pvesh" <<'PVESH'
#!/bin/sh
printf '%s\n' "pvesh $*" >>"$(dirname "$0")/qm.log"
echo 777
PVESH
# id and sudo: with a file "as-user" next to them the login is not root (id -u prints
# 1000), and sudo logs its arguments and runs the command (only with -n: no prompt).
cat >"$remote_bin/id" <<'ID'
#!/bin/sh
if [ -e "$(dirname "$0")/as-user" ] && [ "$1" = -u ]; then echo 1000; else exec /usr/bin/id "$@"; fi
ID
cat >"$remote_bin/sudo" <<'SUDO'
#!/bin/sh
printf '%s\n' "sudo $*" >>"$(dirname "$0")/qm.log"
[ "$1" = -n ] || { echo "sudo: a password is required" >&2; exit 1; }
shift
exec "$@"
SUDO
chmod +x "$remote_bin/qm" "$remote_bin/pvesh" "$remote_bin/id" "$remote_bin/sudo"
echo some-other-vm >"$remote_bin/existing-name"

port=$((20000 + RANDOM % 20000))
cat >"$SANDBOX/ssh/sshd_config" <<CONFIG
Port $port
ListenAddress 127.0.0.1
HostKey $SANDBOX/ssh/host_key
PidFile $SANDBOX/ssh/sshd.pid
AuthorizedKeysFile $SANDBOX/ssh/authorized_keys
AllowUsers $user
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
SetEnv PATH=$remote_bin:/usr/bin:/bin
CONFIG
[ "$(id -u)" != 0 ] || mkdir -p /run/sshd
"$sshd" -t -f "$SANDBOX/ssh/sshd_config" || fail "sshd rejects the test configuration"
"$sshd" -D -e -f "$SANDBOX/ssh/sshd_config" 2>"$SANDBOX/ssh/sshd.log" &
sshd_pid=$!
trap 'kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; rm -rf "$SANDBOX"' EXIT
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$SANDBOX/ssh/host_key.pub")" >"$SANDBOX/ssh/known_hosts"
ssh_test=(ssh -o BatchMode=yes -o IdentitiesOnly=yes -i "$SANDBOX/ssh/user_key" -o UserKnownHostsFile="$SANDBOX/ssh/known_hosts" -p "$port" "$user@127.0.0.1")
for _ in $(seq 50); do
  if "${ssh_test[@]}" true 2>/dev/null; then break; fi
  kill -0 "$sshd_pid" 2>/dev/null || fail "sshd exited:$(printf '\n'; cat "$SANDBOX/ssh/sshd.log")"
  sleep 0.1
done
[ "$("${ssh_test[@]}" 'command -v qm')" = "$remote_bin/qm" ] || fail "qm stub is not first on the sshd side's PATH"

# A disk: a real qcow2 when qemu-img is here, with random data written into it.
disk="$SANDBOX/out/alma9.8-k3-node-amd64-v1.36.3-k3s1-v7.qcow2"
mkdir -p "$(dirname "$disk")"
if command -v qemu-img >/dev/null; then
  qemu-img create -q -f qcow2 "$disk" 64M
fi
head -c 3000000 /dev/urandom >>"$disk"
disk_sum=$(sha256sum "$disk" | cut -d' ' -f1)

upload() { # upload [ENV=VALUE...]: run the script as the qemu post-processor would
  : >"$remote_bin/qm.log"
  rm -f "$remote_bin/imported.sha256"
  env -i HOME="$SANDBOX" PATH=/usr/bin:/bin \
    DISK="$disk" TEMPLATE_NAME=alma9.8-k3-node-amd64-v1.36.3-k3s1-v7 \
    TEMPLATE_DESCRIPTION="AlmaLinux 9.8 with k3s v1.36.3+k3s1 (homelabgen, qemu)" \
    VM_ID=9007 VM_STORAGE=local-lvm BRIDGE=vmbr0 CORES=2 MEMORY=4096 \
    PROXMOX_SSH_HOST=127.0.0.1 PROXMOX_SSH_USER="$user" PROXMOX_SSH_PORT="$port" \
    PROXMOX_SSH_IDENTITY="$SANDBOX/ssh/user_key" PROXMOX_SSH_KNOWN_HOSTS="$SANDBOX/ssh/known_hosts" \
    REMOTE_TMPDIR="$remote_tmp" "$@" \
    bash "$script" >"$SANDBOX/upload.out" 2>&1
}
qm_calls() { cat "$remote_bin/qm.log"; }

# 1. The whole sequence; the disk arrives intact where qm imports it.
upload || fail "upload failed:$(printf '\n'; cat "$SANDBOX/upload.out")"
[ -s "$remote_bin/imported.sha256" ] || fail "qm never imported a disk"
assert_eq "$(cat "$remote_bin/imported.sha256")" "$disk_sum" "sha256 of the disk qm imported"
expected=$(
  cat <<QMLOG
qm list
qm status 9007
qm create 9007 --name alma9.8-k3-node-amd64-v1.36.3-k3s1-v7 --description AlmaLinux 9.8 with k3s v1.36.3+k3s1 (homelabgen, qemu) --ostype l26 --machine q35 --bios ovmf --efidisk0 local-lvm:1,efitype=4m,pre-enrolled-keys=0 --cpu x86-64-v2-AES --cores 2 --memory 4096 --agent enabled=1 --scsihw virtio-scsi-single --net0 virtio,bridge=vmbr0 --serial0 socket
qm set 9007 --scsi0 local-lvm:0,import-from=REMOTE/alma9.8-k3-node-amd64-v1.36.3-k3s1-v7.qcow2,ssd=1,discard=on,iothread=1
qm set 9007 --ide0 local-lvm:cloudinit --ciupgrade 0 --boot order=scsi0
qm template 9007
QMLOG
)
actual=$(qm_calls | sed "s|$remote_tmp/homelabgen-upload\.[A-Za-z0-9]*|REMOTE|")
assert_eq "$actual" "$expected" "qm calls"
[ -z "$(ls -A "$remote_tmp")" ] || fail "the staging directory was left on the host: $(ls -A "$remote_tmp")"
assert_file_has "$SANDBOX/upload.out" "template alma9.8-k3-node-amd64-v1.36.3-k3s1-v7 is VM 9007 on 127.0.0.1"
pass "copies the qcow2 intact (sha256 $disk_sum), qm list/status/create/set/set/template in order, staging removed"
# The slot and the upgrade switch proxmox-iso uses too (the Rust test
# proxmox_iso_has_upgrade_switch_timeout_serial_and_cloud_init_slot checks that side).
assert_eq "$(grep -c -- '--ide0 local-lvm:cloudinit --ciupgrade 0' "$remote_bin/qm.log")" 1 "qm calls with the cloud-init drive"
pass "qm sees --ciupgrade 0 with the cloud-init drive on ide0, the slot proxmox-iso takes with its ISO on ide2"

# 2. Without VM_ID the cluster's next free id is used.
upload VM_ID= || fail "upload without VM_ID failed:$(printf '\n'; cat "$SANDBOX/upload.out")"
assert_file_has "$remote_bin/qm.log" "pvesh get /cluster/nextid"
assert_file_has "$remote_bin/qm.log" "qm template 777"
pass "takes the next free VM id from pvesh when VM_ID is empty"

# 3. Stops at the first error: a failing import leaves no template, says what is left.
touch "$remote_bin/fail-set"
if upload; then fail "upload succeeded although qm set failed"; fi
rm "$remote_bin/fail-set"
assert_file_lacks "$remote_bin/qm.log" "qm template" "after a failed import"
assert_eq "$(grep -c '^qm set' "$remote_bin/qm.log")" 1 "qm set calls after the first failed"
assert_file_has "$SANDBOX/upload.out" "importing the disk failed"
assert_file_has "$SANDBOX/upload.out" "qm destroy 9007"
[ -z "$(ls -A "$remote_tmp")" ] || fail "the staging directory was left on the host after a failure"
pass "stops at the first failing qm call and names the half-made VM"

# 4. Refuses to overwrite: a VM of the same name exists already.
echo alma9.8-k3-node-amd64-v1.36.3-k3s1-v7 >"$remote_bin/existing-name"
if upload; then fail "upload succeeded although the template name is taken"; fi
echo some-other-vm >"$remote_bin/existing-name"
assert_eq "$(qm_calls)" "qm list" "qm calls when the name is taken"
assert_file_has "$SANDBOX/upload.out" "already exists"
pass "refuses a template name that exists, before copying anything"

# 5. A missing disk fails before connecting.
if upload DISK="$SANDBOX/no-such.qcow2"; then fail "upload succeeded without a disk"; fi
assert_eq "$(qm_calls)" "" "qm calls without a disk"
pass "fails before connecting when the disk is missing"

# 6. A host that is not reachable fails loudly.
if upload PROXMOX_SSH_PORT=1; then fail "upload succeeded against a closed port"; fi
assert_file_has "$SANDBOX/upload.out" "cannot log in to"
pass "fails loudly when the host is unreachable"

# 7. A login other than root runs qm and pvesh through sudo -n, and only those.
touch "$remote_bin/as-user"
upload VM_ID= || fail "upload as a user other than root failed:$(printf '\n'; cat "$SANDBOX/upload.out")"
rm "$remote_bin/as-user"
assert_eq "$(grep -c '^sudo -n qm ' "$remote_bin/qm.log")" 5 "qm calls through sudo -n (list, create, set, set, template)"
assert_eq "$(grep -c '^qm ' "$remote_bin/qm.log")" 5 "qm calls"
assert_file_has "$remote_bin/qm.log" "sudo -n pvesh get /cluster/nextid"
assert_eq "$(grep -vc '^sudo -n \(qm\|pvesh\) ' "$remote_bin/qm.log" | tr -d ' ')" 6 "lines other than sudo -n qm/pvesh (the calls themselves)"
pass "as a user other than root, qm and pvesh run through sudo -n"

echo "upload: $TESTS cases passed"
