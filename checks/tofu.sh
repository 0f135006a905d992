# shellcheck shell=bash
# Real-tool checks of generated/tofu. Sourced by preflight.sh; uses step/need from lib.sh.

checks_tofu() {
  step "tofu tree rendered" test -d "$GENERATED/tofu"
}
