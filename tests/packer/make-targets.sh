#!/usr/bin/env bash
# mk/packer.mk against a stub packer that records its arguments: `make packer` runs
# `packer init` then `packer build -only=<source>.alma [-var image_release=N]` in the
# image directory, checks its inputs first and says what is missing;
# `make packer-validate` runs fmt -check, init, validate with the example values.
#
#   tests/packer/make-targets.sh GENERATED/packer/IMAGE
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$(cd "$1" && pwd)
require_image_dir "$image_dir"
sandbox_init
generated=$(dirname "$(dirname "$image_dir")")
image=$(basename "$image_dir")

# packer: logs "packer ARGS (in DIR) token=..."; console answers the spec's release.
cat >"$STUBS/packer" <<'STUB'
#!/usr/bin/env bash
printf 'packer %s (in %s) token=%s\n' "$*" "$(basename "$PWD")" "${PKR_VAR_proxmox_token:-}" >>"$CALLS"
case "$1" in
  console) cat >/dev/null; echo 1 ;;
esac
STUB
chmod +x "$STUBS/packer"
# homelabgen (doctor, which asks the Proxmox API; tests/pvesim/test_doctor.py proves its
# checks against the API test double): logs its arguments and whether it saw the Packer
# token, prints $SANDBOX/doctor.out, exits with $SANDBOX/doctor.exit.
cat >"$STUBS/homelabgen" <<'STUB'
#!/usr/bin/env bash
printf 'homelabgen %s token=%s\n' "$*" "${PKR_VAR_proxmox_token:-}" >>"$CALLS"
cat "$SANDBOX/doctor.out"
exit "$(cat "$SANDBOX/doctor.exit")"
STUB
chmod +x "$STUBS/homelabgen"
doctor_says() { # doctor_says EXIT LINE
  echo "$1" >"$SANDBOX/doctor.exit"
  printf '%s\n' "$2" >"$SANDBOX/doctor.out"
}
doctor_says 0 "✓ no VM is named alma9.8-k3-node-amd64-v1.36.3-k3s1-v1 yet"

run_make() { # run_make TARGET [VAR=value...]: make in the repository, stub packer first
  : >"$CALLS"
  env -i HOME="$SANDBOX" PATH="$STUBS:/usr/bin:/bin" CALLS="$CALLS" ${KEY:+PKR_VAR_build_ssh_key="$KEY"} \
    ${TOKEN:+PKR_VAR_proxmox_token="$TOKEN"} ${TOKEN:+PKR_VAR_proxmox_username=packer@pve!t} \
    SANDBOX="$SANDBOX" make --no-print-directory -C "$repo" GUARD=off HOMELABGEN="$STUBS/homelabgen" \
    GENERATED="$generated" IMAGE="$image" "$@" >"$SANDBOX/out" 2>&1
}

KEY=$SANDBOX/key TOKEN='' run_make packer IMAGE_VERSION=2 || fail "make packer failed:$(printf '\n'; cat "$SANDBOX/out")"
assert_eq "$(grep '^packer ' "$CALLS" | grep -v '^packer console')" "packer init . (in $image) token=
packer build -only=qemu.alma -var image_release=2 . (in $image) token=unused-by-qemu" "packer calls"
assert_file_has "$SANDBOX/out" "the spec says 1, so OpenTofu still clones v1"
pass "make packer IMAGE_VERSION=2: init, then build -only=qemu.alma -var image_release=2; warns the spec says 1"

KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso || fail "make packer SOURCE=proxmox-iso failed"
assert_file_has "$CALLS" "packer build -only=proxmox-iso.alma . (in $image) token=secret"
assert_file_lacks "$CALLS" "image_release" "no IMAGE_VERSION"
pass "make packer SOURCE=proxmox-iso: the token from the environment, the spec's release"

# doctor --for packer runs before anything is built, with the Packer token in its environment.
assert_file_has "$CALLS" "homelabgen doctor --spec spec/homelab.yaml --for packer --source proxmox-iso --image $image token=secret"
[ "$(grep -n '^homelabgen doctor' "$CALLS" | cut -d: -f1)" -lt "$(grep -n '^packer init' "$CALLS" | cut -d: -f1)" ] || fail "doctor ran after packer init"
KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso IMAGE_VERSION=7 || fail "make packer IMAGE_VERSION=7 failed"
assert_file_has "$CALLS" "homelabgen doctor --spec spec/homelab.yaml --for packer --source proxmox-iso --image $image --release 7 token=secret"
pass "make packer SOURCE=proxmox-iso runs homelabgen doctor --for packer --image IMAGE [--release N] first"

doctor_says 2 "✗ alma9.8-k3-node-amd64-v1.36.3-k3s1-v1 exists already (9001 on pve2)"
if KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso; then fail "built although doctor found a blocker"; fi
assert_file_has "$SANDBOX/out" "exists already (9001 on pve2)"
assert_file_has "$SANDBOX/out" "refusing: homelabgen doctor found a blocker"
assert_file_has "$SANDBOX/out" "DOCTOR=off"
assert_file_lacks "$CALLS" "packer init" "after a doctor blocker"
assert_file_lacks "$CALLS" "packer build" "after a doctor blocker"
pass "make packer SOURCE=proxmox-iso stops on a doctor blocker (exit 2), shows it and the escape"

doctor_says 1 "! storage ssd-thin has 100 GiB free"
KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso || fail "doctor warnings (exit 1) stopped the build"
assert_file_has "$SANDBOX/out" "! storage ssd-thin has 100 GiB free"
assert_file_has "$CALLS" "packer build -only=proxmox-iso.alma"
doctor_says 2 "✗ anything"
KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso DOCTOR=off || fail "DOCTOR=off did not skip doctor"
assert_file_lacks "$CALLS" "homelabgen" "with DOCTOR=off"
assert_file_has "$CALLS" "packer build -only=proxmox-iso.alma"
doctor_says 0 "✓ fine"
pass "make packer: doctor warnings (exit 1) go on; DOCTOR=off skips doctor"

# The qemu source: doctor checks the upload's SSH side (--source qemu) before the build,
# and a blocker there stops it too.
KEY=$SANDBOX/key TOKEN='' run_make packer || fail "make packer (qemu) failed"
assert_file_has "$CALLS" "homelabgen doctor --spec spec/homelab.yaml --for packer --source qemu --image $image token="
[ "$(grep -n '^homelabgen doctor' "$CALLS" | cut -d: -f1)" -lt "$(grep -n '^packer init' "$CALLS" | cut -d: -f1)" ] || fail "doctor ran after packer init (qemu)"
doctor_says 2 "✗ root@pve cannot write /var/tmp on pve"
if KEY=$SANDBOX/key TOKEN='' run_make packer; then fail "a qemu build went on after a doctor blocker"; fi
assert_file_has "$SANDBOX/out" "cannot write /var/tmp"
assert_file_has "$SANDBOX/out" "refusing: homelabgen doctor found a blocker"
assert_file_lacks "$CALLS" "packer build" "after a doctor blocker (qemu)"
doctor_says 0 "✓ fine"
pass "make packer SOURCE=qemu runs homelabgen doctor --for packer --source qemu first; a blocker stops it"

# VAR_FILE goes to doctor too (the token and SSH user Packer will get), as an absolute path.
printf 'proxmox_username = "packer@pve!t"\n' >"$SANDBOX/ok.pkrvars.hcl"
KEY='' TOKEN='' run_make packer SOURCE=proxmox-iso VAR_FILE="$SANDBOX/ok.pkrvars.hcl" || fail "make packer VAR_FILE=... failed:$(printf '\n'; cat "$SANDBOX/out")"
assert_file_has "$CALLS" "homelabgen doctor --spec spec/homelab.yaml --for packer --source proxmox-iso --image $image --var-file $SANDBOX/ok.pkrvars.hcl token="
pass "make packer VAR_FILE=F passes --var-file F to doctor"

# Packer loads the image directory's *.auto.pkrvars.hcl by itself (sorted by name, before
# any -var-file): make passes them to doctor in that order, before VAR_FILE, checks them
# for CHANGEME, and lets them stand in for PKR_VAR_* as VAR_FILE does.
auto_gen=$SANDBOX/gen-auto
cp -r "$generated" "$auto_gen"
auto_dir=$auto_gen/packer/$image
printf 'proxmox_username = "packer@pve!t"\nproxmox_token = "from-b"\n' >"$auto_dir/b.auto.pkrvars.hcl"
printf 'build_ssh_key = "/k"\n' >"$auto_dir/a.auto.pkrvars.hcl"
KEY='' TOKEN='' run_make packer SOURCE=proxmox-iso GENERATED="$auto_gen" || fail "make packer with *.auto.pkrvars.hcl failed:$(printf '\n'; cat "$SANDBOX/out")"
assert_file_has "$CALLS" "--image $image --var-file $auto_dir/a.auto.pkrvars.hcl --var-file $auto_dir/b.auto.pkrvars.hcl token="
assert_file_has "$CALLS" "packer build -only=proxmox-iso.alma . (in $image)"
KEY='' TOKEN='' run_make packer SOURCE=proxmox-iso GENERATED="$auto_gen" VAR_FILE="$SANDBOX/ok.pkrvars.hcl" || fail "make packer with auto files and VAR_FILE failed"
assert_file_has "$CALLS" "--var-file $auto_dir/a.auto.pkrvars.hcl --var-file $auto_dir/b.auto.pkrvars.hcl --var-file $SANDBOX/ok.pkrvars.hcl token="
printf 'proxmox_token = "CHANGEME"\n' >"$auto_dir/c.auto.pkrvars.hcl"
if KEY='' TOKEN='' run_make packer SOURCE=proxmox-iso GENERATED="$auto_gen"; then fail "built with a CHANGEME auto var file"; fi
assert_file_has "$SANDBOX/out" "c.auto.pkrvars.hcl still holds the CHANGEME values"
assert_file_lacks "$CALLS" "packer build" "with a CHANGEME auto var file"
rm -rf "$auto_gen"
pass "make packer: the image's *.auto.pkrvars.hcl go to doctor sorted, before VAR_FILE; count as the token's source; CHANGEME in one refuses"

if KEY=$SANDBOX/key TOKEN='' run_make packer SOURCE=proxmox-iso; then fail "built without a token"; fi
assert_file_has "$SANDBOX/out" "PKR_VAR_proxmox_token"
assert_file_lacks "$CALLS" "packer build"
pass "make packer SOURCE=proxmox-iso without PKR_VAR_proxmox_token: says so, builds nothing"

if KEY='' TOKEN='' run_make packer; then fail "built without a build key"; fi
assert_file_has "$SANDBOX/out" "PKR_VAR_build_ssh_key"
pass "make packer without PKR_VAR_build_ssh_key: says so"

for bad in "IMAGE_VERSION=v2" "IMAGE_VERSION=0" "SOURCE=vsphere"; do
  if KEY=$SANDBOX/key TOKEN='' run_make packer "$bad"; then fail "accepted $bad"; fi
  assert_file_lacks "$CALLS" "packer build"
done
pass "make packer rejects IMAGE_VERSION=v2, IMAGE_VERSION=0, SOURCE=vsphere before building"

KEY='' TOKEN='' run_make packer-validate || fail "make packer-validate failed:$(printf '\n'; cat "$SANDBOX/out")"
assert_file_has "$CALLS" "packer fmt -check -recursive . (in $image)"
assert_file_has "$CALLS" "packer init . (in $image)"
assert_file_has "$CALLS" "packer validate -var-file=example.pkrvars.hcl -var build_ssh_key="
assert_file_has "$CALLS" " -var iso_checksum=none ." "validate runs offline"
pass "make packer-validate: fmt -check, init, validate with example.pkrvars.hcl, a throwaway key and iso_checksum=none (offline)"

printf 'proxmox_username = "CHANGEME@pve!packer"\n' >"$SANDBOX/local.pkrvars.hcl"
if KEY=$SANDBOX/key TOKEN='' run_make packer VAR_FILE="$SANDBOX/local.pkrvars.hcl"; then fail "built with a CHANGEME var file"; fi
assert_file_has "$SANDBOX/out" "still holds the CHANGEME values"
assert_file_lacks "$CALLS" "packer build"
pass "make packer VAR_FILE=... with a CHANGEME value: refuses, builds nothing"

if KEY=$SANDBOX/key TOKEN='' run_make packer GENERATED="$SANDBOX/empty"; then fail "make packer ran without a tree"; fi
assert_file_has "$SANDBOX/out" "run 'make render'"
assert_eq "$(cat "$CALLS")" "" "packer calls without a tree"
pass "make packer without a rendered tree says to run make render"

# make image-versions, with the real packer console (a -var override shows as such).
real_packer=$(PATH=${HOMELABGEN_TOOLS_DIR:-/nonexistent}/bin:$PATH command -v packer || true)
if [ -n "$real_packer" ]; then
  versions() { # versions [ENV=VALUE...]
    env -i HOME="$SANDBOX" PATH="$(dirname "$real_packer"):/usr/bin:/bin" "$@" \
      make --no-print-directory -C "$repo" GENERATED="$generated" IMAGE="$image" image-versions >"$SANDBOX/out" 2>&1
  }
  versions || fail "make image-versions failed:$(printf '\n'; cat "$SANDBOX/out")"
  k3s=$(echo var.k3s_version | "$real_packer" console "$image_dir")
  for pin in "AlmaLinux" "boot ISO" "ISO checksum" "BaseOS repository" "AppStream repository" "OS packages" \
    "k3s  " "packer-plugin-proxmox" "packer-plugin-qemu" "Packer"; do
    assert_file_has "$SANDBOX/out" "  $pin" "make image-versions"
  done
  assert_file_has "$SANDBOX/out" "$k3s" "make image-versions"
  [ "$(grep -c '  from: ' "$SANDBOX/out")" -eq "$(grep -vc '^#' "$image_dir/image-versions.txt")" ] || fail "a pin without its origin"
  versions PKR_VAR_k3s_version=v1.99.0+k3s9 || fail "make image-versions with an override failed"
  assert_file_has "$SANDBOX/out" "v1.99.0+k3s9" "make image-versions with PKR_VAR_k3s_version"
  assert_file_has "$SANDBOX/out" "overridden for this build (a var file or PKR_VAR_k3s_version); the spec says $k3s"
  pass "make image-versions prints every pin with its origin, and a -var override as such"
fi

echo "make-targets: $TESTS cases passed"
