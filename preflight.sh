#!/usr/bin/env bash
# preflight.sh — format, validate and lint the generated tree with the real tools.
#
#   ./preflight.sh [GENERATED_DIR]      (default: generated)
#
# Every check is a named step (see checks/lib.sh); the run ends with
# "N passed, M failed" and exits non-zero when anything failed. The tools come from
# `make tools` (tools/install.sh); this script loads their environment itself.
#
# To extend it: add a `step "name" command...` line to the checks file of the tree it
# concerns (checks/packer.sh, checks/tofu.sh, checks/k8s.sh), or a new checks/NAME.sh
# defining `checks_NAME` and add NAME to CHECKS below.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GENERATED=$(cd "${1:-$root/generated}" && pwd) || { echo "preflight: no generated tree at ${1:-generated}; run 'make render'" >&2; exit 2; }
export GENERATED ROOT="$root"
cd "$root" || exit 2

# Every temporary file of every check lives under one directory, removed on exit, on a
# failure and on Ctrl-C alike (the checks' own rm -rf only tidy up early).
PREFLIGHT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/homelabgen-preflight.XXXXXX") || exit 2
trap 'rm -rf "$PREFLIGHT_TMP"' EXIT
trap 'exit 130' INT TERM
export TMPDIR="$PREFLIGHT_TMP"

tools_env="${HOMELABGEN_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/tools}/env.sh"
# shellcheck source=/dev/null
[ -f "$tools_env" ] && . "$tools_env"

# shellcheck source=checks/lib.sh
. "$root/checks/lib.sh"

CHECKS=(repo packer tofu k8s clusters)
for name in "${CHECKS[@]}"; do
  # shellcheck source=/dev/null
  . "$root/checks/$name.sh"
done
for name in "${CHECKS[@]}"; do
  section "$name"
  "checks_$name"
done

printf '\n%d passed, %d failed\n' "$PASSED" "$FAILED"
if [ "$FAILED" -gt 0 ]; then
  printf 'failed: %s\n' "${FAILED_STEPS[@]}" >&2
  exit 1
fi
