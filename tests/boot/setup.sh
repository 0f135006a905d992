#!/usr/bin/env bash
# The Debian packages the boot tests need; installs the missing ones with apt-get.
set -euo pipefail
need=(debootstrap:debootstrap qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils
  mkfs.ext4:e2fsprogs genisoimage:genisoimage python3:python3)
missing=()
for pair in "${need[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
command -v apt-get >/dev/null || { echo "boot-test: install ${missing[*]} by hand" >&2; exit 2; }
echo "boot-test: installing ${missing[*]} (apt-get)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
