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

# packer: logs "packer ARGS (in DIR) token=..."; console answers the spec's release, or
# for the template-name query a name, the API address and insecure=true.
cat >"$STUBS/packer" <<'STUB'
#!/usr/bin/env bash
printf 'packer %s (in %s) token=%s\n' "$*" "$(basename "$PWD")" "${PKR_VAR_proxmox_token:-}" >>"$CALLS"
case "$1" in
  console)
    case "$(cat)" in
      *local.template_name*) printf '%s\n' alma9.8-k3-node-amd64-v1.36.3-k3s1-v1 https://pve.test:8006/api2/json true ;;
      *) echo 1 ;;
    esac
    ;;
esac
STUB
chmod +x "$STUBS/packer"
# curl (the Proxmox API): logs its arguments, keeps its stdin (the config with the
# token), writes $SANDBOX/api.json to --output, prints $SANDBOX/api.code, exits with
# $SANDBOX/api.exit.
cat >"$STUBS/curl" <<'STUB'
#!/usr/bin/env bash
printf 'curl %s\n' "$*" >>"$CALLS"
cat >"$SANDBOX/curl.stdin"
out=""; while [ $# -gt 0 ]; do case "$1" in --output) out=$2; shift 2 ;; *) shift ;; esac; done
status=$(cat "$SANDBOX/api.exit")
if [ "$status" != 0 ]; then echo "curl: (7) Failed to connect to pve.test port 8006" >&2; exit "$status"; fi
cp "$SANDBOX/api.json" "$out"
cat "$SANDBOX/api.code"
STUB
chmod +x "$STUBS/curl"
api() { # api HTTP-CODE CURL-EXIT JSON
  echo "$1" >"$SANDBOX/api.code"
  echo "$2" >"$SANDBOX/api.exit"
  printf '%s' "$3" >"$SANDBOX/api.json"
}
# Names that only start like the template's (v10, v1-old) do not count as taken.
other_vms='{"data":[{"id":"qemu/100","type":"qemu","name":"alma9.8-k3-node-amd64-v1.36.3-k3s1-v10","node":"pve","vmid":100,"template":1},{"id":"qemu/102","name": "alma9.8-k3-node-amd64-v1.36.3-k3s1-v1-old","node":"pve","vmid":102},{"id":"qemu/101","name":"k3s-1","node":"pve","vmid":101,"template":0}]}'
api 200 0 "$other_vms"

run_make() { # run_make TARGET [VAR=value...]: make in the repository, stub packer first
  : >"$CALLS"
  env -i HOME="$SANDBOX" PATH="$STUBS:/usr/bin:/bin" CALLS="$CALLS" ${KEY:+PKR_VAR_build_ssh_key="$KEY"} \
    ${TOKEN:+PKR_VAR_proxmox_token="$TOKEN"} ${TOKEN:+PKR_VAR_proxmox_username=packer@pve!t} \
    SANDBOX="$SANDBOX" make --no-print-directory -C "$repo" GUARD=off GENERATED="$generated" IMAGE="$image" "$@" >"$SANDBOX/out" 2>&1
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

# The template name is checked against the API before anything is built.
assert_file_has "$CALLS" "curl --silent --show-error --config - --insecure --max-time 30 --output"
assert_file_has "$CALLS" "https://pve.test:8006/api2/json/cluster/resources?type=vm"
grep '^curl' "$CALLS" | grep -q secret && fail "the token is on curl's command line"
assert_file_has "$SANDBOX/curl.stdin" 'header = "Authorization: PVEAPIToken=packer@pve!t=secret"'
[ "$(grep -n '^curl' "$CALLS" | cut -d: -f1)" -lt "$(grep -n '^packer build' "$CALLS" | cut -d: -f1)" ] || fail "the API was asked after the build started"
assert_file_has "$SANDBOX/out" "alma9.8-k3-node-amd64-v1.36.3-k3s1-v1 is free"
pass "make packer SOURCE=proxmox-iso asks the API whether the name is free first (token on curl's stdin, not its command line)"

api 200 0 "${other_vms%]\}},{\"id\":\"qemu/9001\",\"name\":\"alma9.8-k3-node-amd64-v1.36.3-k3s1-v1\",\"node\":\"pve2\",\"vmid\":9001,\"template\":1}]}"
if KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso; then fail "built although the template name exists"; fi
assert_file_has "$SANDBOX/out" "a VM named alma9.8-k3-node-amd64-v1.36.3-k3s1-v1 already exists (VM 9001 on node pve2)"
assert_file_has "$SANDBOX/out" "make packer IMAGE_VERSION=N"
assert_file_lacks "$CALLS" "packer init" "after a taken name"
assert_file_lacks "$CALLS" "packer build" "after a taken name"
pass "make packer SOURCE=proxmox-iso stops when a VM of that name exists, says which and what to do"

api 200 7 ""
if KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso; then fail "built although the API is unreachable"; fi
assert_file_has "$SANDBOX/out" "cannot reach the Proxmox API at https://pve.test:8006/api2/json/cluster/resources?type=vm"
assert_file_lacks "$CALLS" "packer build" "with the API unreachable"
api 401 0 ""
if KEY=$SANDBOX/key TOKEN=secret run_make packer SOURCE=proxmox-iso; then fail "built although the API refused the token"; fi
assert_file_has "$SANDBOX/out" "refused the token packer@pve!t (HTTP 401)"
assert_file_lacks "$CALLS" "packer build" "with the token refused"
api 200 0 "$other_vms"
pass "make packer SOURCE=proxmox-iso stops when the API is unreachable or refuses the token"

KEY=$SANDBOX/key TOKEN='' run_make packer || fail "make packer (qemu) failed"
assert_file_lacks "$CALLS" "curl" "a qemu build (its upload script checks the name over SSH)"
pass "make packer SOURCE=qemu does not ask the API"

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
  assert_file_has "$SANDBOX/out" "overridden for this build (VAR_FILE or PKR_VAR_k3s_version); the spec says $k3s"
  pass "make image-versions prints every pin with its origin, and a -var override as such"
fi

echo "make-targets: $TESTS cases passed"
