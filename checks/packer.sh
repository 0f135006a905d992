# shellcheck shell=bash
# Real-tool checks of generated/packer. Sourced by preflight.sh; uses step/need from lib.sh.

checks_packer() {
  step "packer tree rendered" test -d "$GENERATED/packer"
}
