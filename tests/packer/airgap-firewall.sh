#!/usr/bin/env bash
# Behaviour of scripts/airgap-images.sh and scripts/firewalld.sh in a sandbox.
# airgap-images: fetches the archive of the pinned version and arch, checks it against
# the release's sha256sum file, installs it where k3s imports images; refuses a bad
# checksum; does nothing when airgap images are off. firewalld: opens what verify.sh
# checks, permanently.
#
#   tests/packer/airgap-firewall.sh GENERATED/packer/IMAGE
# Stub bodies and breakages are shell code run later: single quotes are meant.
# shellcheck disable=SC2016
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
sandbox_init
mapfile -t build_env < <(provision_env "$image_dir")
version=$(printf '%s\n' "${build_env[@]}" | sed -n 's/^HOMELAB_K3S_VERSION=//p')
arch=$(printf '%s\n' "${build_env[@]}" | sed -n 's/^HOMELAB_ARCH=//p')

# curl -sfL --retry 5 -o FILE URL: copies $RELEASE/<last part of URL>, fails if absent.
stub curl '
out=""; url=""
while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
cp "$RELEASE/${url##*/}" "$out"'
release="$SANDBOX/release"
mkdir -p "$release"
archive="k3s-airgap-images-$arch.tar.zst"
head -c 100000 /dev/urandom >"$release/$archive"
(cd "$release" && sha256sum "$archive" >"sha256sum-$arch.txt" && echo "0000  k3s" >>"sha256sum-$arch.txt")

airgap() { # airgap [ENV=VALUE...]
  rm -rf "$SANDBOX/root" && mkdir -p "$SANDBOX/root" && : >"$CALLS"
  run_script "$SANDBOX/out" "$image_dir/scripts/airgap-images.sh" HOMELAB_ROOT="$SANDBOX/root" RELEASE="$release" \
    "${build_env[@]}" "$@"
}

airgap HOMELAB_AIRGAP_IMAGES=true || fail "airgap-images.sh failed:$(printf '\n'; cat "$SANDBOX/out")"
assert_file_has "$CALLS" "https://github.com/k3s-io/k3s/releases/download/${version/+/%2B}/$archive" "archive of the pinned release"
assert_file_has "$CALLS" "https://github.com/k3s-io/k3s/releases/download/${version/+/%2B}/sha256sum-$arch.txt"
cmp -s "$release/$archive" "$SANDBOX/root/var/lib/rancher/k3s/agent/images/$archive" || fail "archive not installed intact"
pass "installs $archive of $version, checked against sha256sum-$arch.txt"

printf 'tampered' >>"$release/$archive"
if airgap HOMELAB_AIRGAP_IMAGES=true; then fail "accepted an archive with the wrong checksum"; fi
assert_file_has "$SANDBOX/out" "the release says"
[ ! -e "$SANDBOX/root/var/lib/rancher/k3s/agent/images/$archive" ] || fail "installed an archive with the wrong checksum"
pass "refuses an archive whose sha256 the release does not list"

airgap HOMELAB_AIRGAP_IMAGES=false || fail "airgap-images.sh failed when off"
[ ! -s "$CALLS" ] || fail "fetched something with airgap images off: $(cat "$CALLS")"
pass "does nothing when airgap images are off"

# firewalld: running, so firewall-cmd --permanent, then a reload.
stub firewall-cmd
stub systemctl
run_script "$SANDBOX/out" "$image_dir/scripts/firewalld.sh" || fail "firewalld.sh failed:$(printf '\n'; cat "$SANDBOX/out")"
for port in 10250/tcp 8472/udp; do
  assert_file_has "$CALLS" "firewall-cmd --permanent --add-port=$port"
done
# The API and etcd ports only on a server, by its first boot (scripts/k3s-role.sh).
for port in 6443/tcp 2379-2380/tcp; do
  assert_file_lacks "$CALLS" "--add-port=$port" "the template's firewall (a server-only port)"
done
assert_file_has "$CALLS" "firewall-cmd --permanent --zone=trusted --add-source=10.42.0.0/16"
assert_file_has "$CALLS" "firewall-cmd --permanent --zone=trusted --add-source=10.43.0.0/16"
assert_file_has "$CALLS" "systemctl enable firewalld"
assert_eq "$(tail -n 1 "$CALLS")" "firewall-cmd --reload" "last call"
pass "firewalld.sh opens the ports of every k3s node (not the server-only 6443, 2379-2380) and trusts the pod and service networks, permanently"

echo "airgap-firewall: $TESTS cases passed"
