# shellcheck shell=bash
# Stub bodies and breakages are shell code run later: single quotes are meant.
# shellcheck disable=SC2016
# Helpers of the packer sandbox tests (tests/packer/*.sh). Sourced, not run.
#
# Every test runs a generated script from the image directory given as $1, with the
# commands it calls (dnf, curl, systemctl, k3s, qm, ...) replaced by stubs in $STUBS
# that append their name and arguments to $CALLS.

set -euo pipefail

# The one homelabgen helper (honours an exported $HOMELABGEN).
# shellcheck source=checks/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/checks/lib.sh"

# A scratch directory removed on exit; stubs first on PATH, then only the system's
# basic tools (no /usr/local, no /sbin: nothing real may answer for a stub).
sandbox_init() {
  SANDBOX=$(mktemp -d)
  trap 'rm -rf "$SANDBOX"' EXIT
  STUBS="$SANDBOX/stubs"
  CALLS="$SANDBOX/calls.log"
  mkdir -p "$STUBS"
  : >"$CALLS"
  export SANDBOX STUBS CALLS
  SANDBOX_PATH="$STUBS:/usr/bin:/bin"
  TESTS=0
}

# stub NAME [BODY]: an executable NAME that logs "NAME ARGS..." to $CALLS, then runs
# BODY (shell code; "$@" are its arguments). Without BODY it succeeds silently.
stub() {
  local name=$1 body=${2:-}
  {
    echo '#!/usr/bin/env bash'
    echo 'set -euo pipefail'
    printf 'printf "%%s\\n" "%s $*" >>"$CALLS"\n' "$name"
    printf '%s\n' "$body"
  } >"$STUBS/$name"
  chmod +x "$STUBS/$name"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  TESTS=$((TESTS + 1))
  echo "ok    $*"
}

assert_eq() {
  [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"
}

# assert_file_has FILE TEXT [WHAT]
assert_file_has() {
  grep -Fq -- "$2" "$1" 2>/dev/null || fail "${3:-$1}: '$2' not found in $1:$(printf '\n'; cat "$1" 2>/dev/null)"
}

assert_file_lacks() {
  if grep -Fq -- "$2" "$1" 2>/dev/null; then
    fail "${3:-$1}: '$2' found in $1"
  fi
}

# run_script OUT SCRIPT [ENV=VALUE...]: run a generated script in the sandbox, output
# (stdout and stderr) to OUT; returns the script's exit status.
run_script() {
  local out=$1 script=$2
  shift 2
  env -i HOME="$SANDBOX" PATH="$SANDBOX_PATH" CALLS="$CALLS" STUBS="$STUBS" SANDBOX="$SANDBOX" "$@" \
    bash "$script" >"$out" 2>&1
}

# The environment the build gives every provisioning script (local.provision_env),
# evaluated by the real `packer console` from the image directory $1: one NAME=VALUE
# per line.
provision_env() {
  printf '%s\n' 'join("\n", local.provision_env)' | packer console "$1"
}

# Stubs for scripts/k3s-install.sh: curl "downloads" a fake installer that records the
# INSTALL_K3S_* variables it gets, installs a k3s stub into $STUBS whose --version
# depends on $INSTALLER_MODE (ok | missing | other-version), and, with HOMELAB_ROOT set,
# the unit, its enable link and k3s.service.env as the real installer does. systemctl: is-enabled says
# enabled; is-active says inactive unless STUB_K3S_ACTIVE=1.
stub_k3s_installer() {
  stub curl '
out=""; while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift 2 ;; *) shift ;; esac; done
cat >"$out" <<"INSTALLER"
printf "installer %s\n" "$(env | grep ^INSTALL_K3S_ | sort | tr "\n" " ")" >>"$CALLS"
case "$INSTALLER_MODE" in
  missing) exit 0 ;;
  other-version) reported=v1.30.0+k3s1 ;;
  *) reported=$INSTALL_K3S_VERSION ;;
esac
printf "#!/bin/sh\necho \"k3s version %s (0000000)\"\necho \"go version go1.24\"\n" "$reported" >"$STUBS/k3s"
chmod +x "$STUBS/k3s"
units="$HOMELAB_ROOT/etc/systemd/system"
mkdir -p "$units/multi-user.target.wants"
printf "[Unit]\nDescription=Lightweight Kubernetes\n" >"$units/k3s.service"
ln -sf /etc/systemd/system/k3s.service "$units/multi-user.target.wants/k3s.service"
# As the real installer: its K3S_*/CONTAINERD_* and proxy variables go into the env file.
{ env | grep -Ei "^(NO|HTTP|HTTPS)_PROXY" || true; env | grep -E "^(K3S|CONTAINERD)_" || true; } >"$units/k3s.service.env"
INSTALLER'
  stub systemctl '
case "$1" in
  is-enabled) exit 0 ;;
  is-active) [ "${STUB_K3S_ACTIVE:-0}" = 1 ] ;;
esac'
}

require_image_dir() {
  [ -n "${1:-}" ] && [ -f "$1/build.pkr.hcl" ] || {
    echo "usage: $0 GENERATED/packer/IMAGE" >&2
    exit 2
  }
}
