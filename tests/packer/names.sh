#!/usr/bin/env bash
# The template name Packer computes (locals.pkr.hcl, evaluated by the real
# `packer console`) equals the name homelabgen derives from the spec:
#   - the generated image directory: its README states the spec's name, and the
#     OpenTofu environments next to it clone that name;
#   - the same directory with -var overrides, including a k3s version with "+";
#   - every test spec in tests/packer/specs/, rendered by homelabgen, against its
#     "# expect-template-name:" lines (the Rust test tests/packer.rs checks the same
#     lines against the Model).
#
#   tests/packer/names.sh GENERATED/packer/IMAGE
# homelabgen is $HOMELABGEN, or `cargo run -p homelabgen`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
sandbox_init

console() { # console DIR EXPRESSION [-var ...]
  local dir=$1 expression=$2
  shift 2
  echo "$expression" | packer console "$@" "$dir"
}

# 1. The generated directory, with the spec's values.
spec_name=$(awk '/^    alma[^ ]*$/ { sub(/^ +/, ""); print; exit }' "$image_dir/README.md")
[ -n "$spec_name" ] || fail "$image_dir/README.md states no template name"
assert_eq "$(console "$image_dir" local.template_name)" "$spec_name" "$image_dir"
pass "$(basename "$image_dir"): packer computes $spec_name, the spec's name"

# 1b. OpenTofu clones that name: the environments whose VMs use this image name it.
tofu_envs="$(dirname "$(dirname "$image_dir")")/tofu/envs"
if grep -q "the name the OpenTofu environments clone (" "$image_dir/README.md"; then
  [ -d "$tofu_envs" ] || fail "the README lists clones of this image, but $tofu_envs does not exist"
  find "$tofu_envs" -maxdepth 2 -name '*.tf' -exec cat {} + | sed 's/  */ /g' |
    grep -F "template_name = \"$spec_name\"" >/dev/null ||
    fail "no OpenTofu environment in $tofu_envs clones $spec_name"
  pass "an OpenTofu environment clones $spec_name"
fi

# 2. Overrides, as `make packer IMAGE_VERSION=N` and a k3s bump would pass them.
os=$(console "$image_dir" var.os_version)
arch=$(console "$image_dir" var.arch)
while read -r k3s release expected_k3s; do
  expected="alma$os-k3-node-$arch-$expected_k3s-v$release"
  assert_eq "$(console "$image_dir" local.template_name -var "k3s_version=$k3s" -var "image_release=$release")" "$expected" \
    "-var k3s_version=$k3s -var image_release=$release"
  pass "-var k3s_version=$k3s -var image_release=$release: $expected"
done <<'CASES'
v1.37.1+k3s1 9 v1.37.1-k3s1
v1.35.10+k3s12 120 v1.35.10-k3s12
CASES

# 3. Test specs rendered by homelabgen.
for spec in "$here"/specs/*.yaml; do
  out="$SANDBOX/$(basename "$spec" .yaml)"
  homelabgen render --spec "$spec" --out "$out" >/dev/null || fail "homelabgen render --spec $spec failed"
  count=0
  while read -r image expected; do
    assert_eq "$(console "$out/packer/$image" local.template_name)" "$expected" "$(basename "$spec"): $image"
    count=$((count + 1))
  done < <(sed -n 's/^# expect-template-name: //p' "$spec")
  [ "$count" -gt 0 ] || fail "$spec has no expect-template-name line"
  pass "$(basename "$spec"): packer computes the expected name of $count image(s)"
done

echo "names: $TESTS cases passed"
