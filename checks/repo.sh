# shellcheck shell=bash
# Checks of the project's own scripts and spec (not the generated tree).
# Sourced by preflight.sh. To extend: add a `step` line.

checks_repo() {
  if need shellcheck; then
    step "shellcheck project scripts" shellcheck -x preflight.sh checks/*.sh tools/*.sh .ci/run
  fi
  if need yamllint; then
    step "yamllint spec/homelab.yaml" yamllint -s -d "{extends: default, rules: {line-length: {max: 120}, document-start: disable, comments: {min-spaces-from-content: 1}}}" spec/homelab.yaml
  fi
}
