#!/usr/bin/env bash
# The kickstart passes `ksvalidator -v RHEL9`: the file in http/ and the text Packer
# serves (templatefile() with the example values, evaluated by `packer console`), which
# must have every placeholder filled.
#
#   tests/packer/kickstart.sh GENERATED/packer/IMAGE
# '${' below is the literal text of an unfilled placeholder.
# shellcheck disable=SC2016
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packer/lib.sh
. "$here/lib.sh"
image_dir=$1
require_image_dir "$image_dir"
sandbox_init

ksvalidator -v RHEL9 "$image_dir/http/ks.cfg" || fail "ksvalidator rejects http/ks.cfg"
pass "http/ks.cfg passes ksvalidator -v RHEL9"

# ksvalidator does not look into %addon sections: the kdump one is checked by text.
awk '/^%addon com_redhat_kdump --disable$/ { addon = 1; next } addon && /^%end$/ { ok = 1 } addon { addon = 0 } END { exit !ok }' \
  "$image_dir/http/ks.cfg" || fail "http/ks.cfg does not disable kdump (%addon com_redhat_kdump --disable ... %end)"
sed 's/^%addon com_redhat_kdump --disable$/%addon com_redhat_kdump --enable/' "$image_dir/http/ks.cfg" >"$SANDBOX/kdump-on.cfg"
if awk '/^%addon com_redhat_kdump --disable$/ { found = 1 } END { exit !found }' "$SANDBOX/kdump-on.cfg"; then
  fail "the kdump check accepts a kickstart that enables kdump"
fi
pass "kdump disabled in the kickstart (%addon com_redhat_kdump --disable)"

ssh-keygen -q -t ed25519 -N '' -C build-key-marker -f "$SANDBOX/build_key"
echo 'local.http_content["/ks.cfg"]' |
  packer console -var-file="$image_dir/example.pkrvars.hcl" -var "build_ssh_key=$SANDBOX/build_key" "$image_dir" >"$SANDBOX/ks.cfg"
assert_file_has "$SANDBOX/ks.cfg" "sshkey --username=root \"$(cat "$SANDBOX/build_key.pub")\"" "served kickstart"
assert_file_has "$SANDBOX/ks.cfg" "url --url=\"$(echo var.baseos_url | packer console "$image_dir")\"" "served kickstart"
assert_file_lacks "$SANDBOX/ks.cfg" '${' "served kickstart"
ksvalidator -v RHEL9 "$SANDBOX/ks.cfg" || fail "ksvalidator rejects the kickstart Packer serves"
pass "the kickstart Packer serves (build key and repositories filled in) passes ksvalidator -v RHEL9"

# The check can fail.
printf 'bogus_command --x\n' >>"$SANDBOX/ks.cfg"
if ksvalidator -v RHEL9 "$SANDBOX/ks.cfg" >/dev/null 2>&1; then
  fail "ksvalidator accepted an unknown command"
fi
pass "ksvalidator rejects an unknown command"

echo "kickstart: $TESTS cases passed"
