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
case "$1" in console) cat >/dev/null; echo 1 ;; esac
STUB
chmod +x "$STUBS/packer"

run_make() { # run_make TARGET [VAR=value...]: make in the repository, stub packer first
  : >"$CALLS"
  env -i HOME="$SANDBOX" PATH="$STUBS:/usr/bin:/bin" CALLS="$CALLS" ${KEY:+PKR_VAR_build_ssh_key="$KEY"} \
    ${TOKEN:+PKR_VAR_proxmox_token="$TOKEN"} ${TOKEN:+PKR_VAR_proxmox_username=packer@pve!t} \
    make --no-print-directory -C "$repo" GUARD=off GENERATED="$generated" IMAGE="$image" "$@" >"$SANDBOX/out" 2>&1
}

KEY=$SANDBOX/key TOKEN='' run_make packer IMAGE_VERSION=2 || fail "make packer failed:$(printf '\n'; cat "$SANDBOX/out")"
assert_eq "$(grep -v '^packer console' "$CALLS")" "packer init . (in $image) token=
packer build -only=qemu.alma -var image_release=2 . (in $image) token=unused-by-qemu" "packer calls"
assert_file_has "$SANDBOX/out" "the spec says 1, so OpenTofu still clones v1"
pass "make packer IMAGE_VERSION=2: init, then build -only=qemu.alma -var image_release=2; warns the spec says 1"

KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso || fail "make packer SOURCE=proxmox-iso failed"
assert_file_has "$CALLS" "packer build -only=proxmox-iso.alma . (in $image) token=secret"
assert_file_lacks "$CALLS" "image_release" "no IMAGE_VERSION"
pass "make packer SOURCE=proxmox-iso: the token from the environment, the spec's release"

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
pass "make packer-validate: fmt -check, init, validate with example.pkrvars.hcl and a throwaway key"

printf 'proxmox_username = "CHANGEME@pve!packer"\n' >"$SANDBOX/local.pkrvars.hcl"
if KEY=$SANDBOX/key TOKEN='' run_make packer VAR_FILE="$SANDBOX/local.pkrvars.hcl"; then fail "built with a CHANGEME var file"; fi
assert_file_has "$SANDBOX/out" "still holds the CHANGEME values"
assert_file_lacks "$CALLS" "packer build"
pass "make packer VAR_FILE=... with a CHANGEME value: refuses, builds nothing"

if KEY=$SANDBOX/key TOKEN='' run_make packer GENERATED="$SANDBOX/empty"; then fail "make packer ran without a tree"; fi
assert_file_has "$SANDBOX/out" "run 'make render'"
assert_eq "$(cat "$CALLS")" "" "packer calls without a tree"
pass "make packer without a rendered tree says to run make render"

echo "make-targets: $TESTS cases passed"
