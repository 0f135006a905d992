#!/usr/bin/env bash
# Boot one clone of the golden image with a NoCloud seed, bounded by a timeout, and
# extract the probe's report from the serial console.
#
#   tests/boot/boot.sh GOLDEN_RAW BASE_DIR SEED_DIR OUT_DIR MAC
# Writes OUT_DIR/console.log, OUT_DIR/report.json, OUT_DIR/seconds (wall time of the boot).
# Exit 0 when the probe reported, 1 otherwise (timeout, no report).
set -euo pipefail

golden=${1:?usage: boot.sh GOLDEN_RAW BASE_DIR SEED_DIR OUT_DIR MAC}
base=${2:?}
seed=${3:?}
out=${4:?}
mac=${5:?}
timeout=${BOOT_TIMEOUT:-900}
name=$(basename "$out")
mkdir -p "$out"

# A linked clone (qcow2 over the raw template), as Proxmox makes one.
qemu-img create -q -f qcow2 -b "$golden" -F raw "$out/disk.qcow2"
# The cloud-init volume exactly as qemu-server's commit_cloudinit_disk() builds it.
genisoimage -quiet -iso-level 3 -J -R -V cidata -o "$out/seed.iso" \
  "$seed/user-data" "$seed/network-config" "$seed/meta-data" "$seed/vendor-data"

start=$SECONDS
: >"$out/console.log"
timeout --kill-after=10 "$timeout" qemu-system-x86_64 -accel tcg -smp 1 -m 1024 \
  -display none -no-reboot -serial "file:$out/console.log" -monitor none \
  -kernel "$base/vmlinuz" -initrd "$base/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 quiet" \
  -drive "file=$out/disk.qcow2,if=virtio,format=qcow2" \
  -drive "file=$out/seed.iso,if=virtio,format=raw,readonly=on" \
  -nic "user,model=virtio-net-pci,mac=$mac,restrict=on" &
qemu=$!
# Progress every 15 s; polled each second so the measured boot time is to the second.
tick=0
while kill -0 "$qemu" 2>/dev/null; do
  sleep 1
  tick=$((tick + 1))
  [ $((tick % 15)) = 0 ] || continue
  kill -0 "$qemu" 2>/dev/null || break
  last=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$out/console.log" | tr -cd '[:print:]\n' | grep -a -v '^\s*$' | tail -n1 | cut -c1-90 || true)
  echo "boot-test: [$name] $((SECONDS - start)) s: ${last:-...}"
done
rc=0
wait "$qemu" || rc=$?
echo $((SECONDS - start)) >"$out/seconds"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "boot-test: [$name] timed out after $timeout s (console: $out/console.log)"
fi
if ! grep -a -o 'BOOT-PROBE-BEGIN [A-Za-z0-9+/=]* BOOT-PROBE-END' "$out/console.log" |
  head -n1 | awk '{print $2}' | base64 -d >"$out/report.json" 2>/dev/null || [ ! -s "$out/report.json" ]; then
  echo "boot-test: [$name] no probe report on the console (qemu exit $rc)"
  tail -n 20 "$out/console.log" | tr -d '\r' | sed "s/^/boot-test: [$name] console: /"
  exit 1
fi
echo "boot-test: [$name] booted, probed and powered off in $(cat "$out/seconds") s"
