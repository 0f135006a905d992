# shellcheck shell=bash
# Real-tool checks of generated/k8s. Sourced by preflight.sh; uses step/need from lib.sh.

checks_k8s() {
  step "k8s tree rendered" test -d "$GENERATED/k8s"
}
