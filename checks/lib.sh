# shellcheck shell=bash
# The step runner preflight.sh and every checks/*.sh use. Sourced, not run.
#
# step NAME COMMAND [ARGS...]   run one named check; its output is shown only when it
#                               fails (or with VERBOSE=1); the result is counted.
# need TOOL...                  true when every tool is on PATH. Under CI=true a missing
#                               tool is a failure, never a silent skip.

PASSED=0
FAILED=0
FAILED_STEPS=()

step() {
  local name=$1
  shift
  local log start end
  log=$(mktemp)
  start=$(date +%s)
  if "$@" >"$log" 2>&1; then
    end=$(date +%s)
    PASSED=$((PASSED + 1))
    printf '  ok    %-58s %3ss\n' "$name" "$((end - start))"
    [ "${VERBOSE:-0}" = 1 ] && sed 's/^/        /' "$log"
  else
    end=$(date +%s)
    FAILED=$((FAILED + 1))
    FAILED_STEPS+=("$name")
    printf '  FAIL  %-58s %3ss\n' "$name" "$((end - start))"
    sed 's/^/        /' "$log" | tail -n 60
  fi
  rm -f "$log"
}

need() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${CI:-}" = true ] || [ "${PREFLIGHT_STRICT:-}" = 1 ]; then
    step "tools present: ${missing[*]}" false
  else
    printf '  skip  %-58s (run make tools)\n' "needs ${missing[*]}"
  fi
  return 1
}

section() {
  printf '\n== %s\n' "$1"
}

# homelabgen_path: the homelabgen binary every check and test runs: $HOMELABGEN when
# exported (the Makefile exports its build; set it to an installed one to use that),
# else this checkout's, built by cargo when stale.
homelabgen_path() {
  if [ -n "${HOMELABGEN:-}" ]; then
    printf '%s\n' "$HOMELABGEN"
    return
  fi
  local root
  root=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
  (cd "$root" && cargo build --quiet --locked -p homelabgen) >&2 || return 1
  printf '%s\n' "${CARGO_TARGET_DIR:-$root/target}/debug/homelabgen"
}

# homelabgen ARGS...: run it (see homelabgen_path).
homelabgen() {
  local bin
  bin=$(homelabgen_path) || return 1
  "$bin" "$@"
}
