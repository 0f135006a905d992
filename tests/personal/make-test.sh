#!/usr/bin/env bash
# The whole `make test` on a personalised lab: copies this checkout (tracked and new
# files, as they are on disk) to a temporary directory, puts tests/specs/personal.yaml
# (another network, names, node, storage, sizes, two environments) in place of
# spec/homelab.yaml, renders it, and runs `make test` there. Proof that no test and no
# check depends on the example's values.
#
#   bash tests/personal/make-test.sh       (make test runs it; HOMELABGEN_NESTED=1 skips it)
#
# The nested run sets HOMELABGEN_NESTED=1 so it does not start itself again; it shares
# the toolchain cache and builds into target/personal/target/ of this checkout (kept, so
# only the first run compiles the dependencies).
set -euo pipefail

if [ -n "${HOMELABGEN_NESTED:-}" ]; then
  echo "personalised make test: skipped inside a nested make test"
  exit 0
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A fixed place (under the git-ignored target/): cargo keys its incremental state on
# paths relative to the workspace, so a copy at a new path each run would reuse test
# binaries whose CARGO_MANIFEST_DIR points at a deleted copy.
work="$root/target/personal/lab"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# The checkout as it is on disk, without build output or ignored files.
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf -) | tar -C "$work" -xf -
cp "$root/tests/specs/personal.yaml" "$work/spec/homelab.yaml"
# The personalised spec must differ from the example where it matters.
for example_value in 192.168.1. k3s-single alma9-k3s-optimized local-lvm; do
  if grep -qF -- "$example_value" "$work/spec/homelab.yaml"; then
    echo "tests/specs/personal.yaml still has the example's '$example_value'" >&2
    exit 1
  fi
done

export HOMELABGEN_NESTED=1 CARGO_TARGET_DIR="$root/target/personal/target"
unset HOMELABGEN
# A user renders their spec, then runs the tests (spec/homelab.schema.json is the
# project's, the same for every spec).
make -C "$work" --no-print-directory render
make -C "$work" --no-print-directory test
echo "personalised make test: passed (network 10.0.20.0/24, two environments)"
