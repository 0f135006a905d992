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
# depends on $INSTALLER_MODE (ok | missing | other-version) unless
# INSTALL_K3S_SKIP_DOWNLOAD=true, and, with HOMELAB_ROOT set, does what the real
# installer does with the unit: named after the command (k3s.service for server,
# k3s-agent.service for agent), its .env file, and an enable link unless
# INSTALL_K3S_SKIP_ENABLE=true (INSTALLER_ENABLES=1 makes it ignore that, as a broken
# installer would). systemctl: is-enabled answers from the enable links under
# HOMELAB_ROOT; is-active says inactive unless STUB_K3S_ACTIVE=1.
stub_k3s_installer() {
  stub curl '
out=""; while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift 2 ;; *) shift ;; esac; done
cat >"$out" <<"INSTALLER"
printf "installer %s\n" "$(env | grep ^INSTALL_K3S_ | sort | tr "\n" " ")" >>"$CALLS"
command=${INSTALL_K3S_EXEC%% *}
case "$command" in server) name=k3s ;; *) name=k3s-$command ;; esac
if [ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" != true ]; then
  case "$INSTALLER_MODE" in
    missing) exit 0 ;;
    other-version) reported=v1.30.0+k3s1 ;;
    *) reported=$INSTALL_K3S_VERSION ;;
  esac
  printf "#!/bin/sh\necho \"k3s version %s (0000000)\"\necho \"go version go1.24\"\n" "$reported" >"$STUBS/k3s"
  chmod +x "$STUBS/k3s"
fi
units="$HOMELAB_ROOT/etc/systemd/system"
mkdir -p "$units/multi-user.target.wants"
printf "[Unit]\nDescription=Lightweight Kubernetes\n[Service]\nExecStart=/usr/local/bin/k3s %s\n" "$command" >"$units/$name.service"
if [ "${INSTALL_K3S_SKIP_ENABLE:-}" != true ] || [ "${INSTALLER_ENABLES:-0}" = 1 ]; then
  ln -sf "/etc/systemd/system/$name.service" "$units/multi-user.target.wants/$name.service"
fi
# As the real installer: its K3S_*/CONTAINERD_* and proxy variables go into the env file.
{ env | grep -Ei "^(NO|HTTP|HTTPS)_PROXY" || true; env | grep -E "^(K3S|CONTAINERD)_" || true; } >"$units/$name.service.env"
INSTALLER'
  stub systemctl '
case "$1" in
  is-enabled) shift; [ "$1" != --quiet ] || shift; [ -L "$HOMELAB_ROOT/etc/systemd/system/multi-user.target.wants/${1%.service}.service" ] ;;
  is-active) [ "${STUB_K3S_ACTIVE:-0}" = 1 ] ;;
esac'
}

require_image_dir() {
  [ -n "${1:-}" ] && [ -f "$1/build.pkr.hcl" ] || {
    echo "usage: $0 GENERATED/packer/IMAGE" >&2
    exit 2
  }
}
