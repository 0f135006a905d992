# shellcheck shell=bash
# Checks of the repository's update and CI files (docs/k8s.md, "Updates as pull requests").
# Sourced by preflight.sh; uses step/need from lib.sh.
#
#   renovate-config-validator   renovate.json (npm package renovate), and a broken copy
#                               must be refused
#   renovate extraction         Renovate itself (--platform=local --dry-run=extract,
#                               offline) must find every pin of tests/gitops/renovate-spec.yaml
#                               and tools/versions.env with its value; with the chart
#                               manager removed it must miss the charts (negative control);
#                               your spec's pins are listed when one is not found (a note:
#                               flow-style YAML, say, is valid but not matched)
#   actionlint                  .github/workflows/*.yml, and a broken copy must be refused

# gitops_validator DIR: renovate-config-validator in DIR (it reads DIR/renovate.json).
# Its "RE2 not usable" warning (no native re2 in the tools install) is left out.
gitops_validator() {
  (cd "$1" && renovate-config-validator --strict) 2>&1 \
    | grep -vE '^ +(at |"|\]|\}|- )|RE2 not usable|Require stack|Cannot find module|^ +Error: ' || true
  (cd "$1" && renovate-config-validator --strict >/dev/null 2>&1)
}

gitops_validator_negative() {
  local tmp rc=0
  tmp=$(mktemp -d)
  # An unknown option and a regex manager without matchStrings.
  printf '{"extends": ["config:recommended"], "customManagers": [{"customType": "regex", "managerFilePatterns": ["/x/"]}], "automergeEverything": true}\n' >"$tmp/renovate.json"
  if gitops_validator "$tmp" >"$tmp/log" 2>&1; then
    echo "renovate-config-validator accepted a broken config:"; cat "$tmp/log"; rc=1
  else
    echo "rejected as expected: $(grep -m1 -E 'ERROR|WARN' "$tmp/log")"
  fi
  rm -rf "$tmp"
  return "$rc"
}

gitops_renovate_js() {
  local npm="${HOMELABGEN_TOOLS_DIR:?run make tools}/npm/node_modules" node
  node=$(find "$npm" -maxdepth 3 -path '*/node-linux-*/bin/node' -type f | sed -n 1p)
  [ -x "$node" ] && [ -f "$npm/renovate/dist/renovate.js" ] || { echo "no Renovate in $npm: run make tools" >&2; return 1; }
  printf '%s %s\n' "$node" "$npm/renovate/dist/renovate.js"
}

# gitops_extract SPEC [--drop-manager TEXT]
gitops_extract() {
  local spec=$1 node js python=python3
  shift
  read -r node js < <(gitops_renovate_js) || return 1
  [ -x "${HOMELABGEN_TOOLS_DIR:-}/venv/bin/python" ] && python="$HOMELABGEN_TOOLS_DIR/venv/bin/python"
  "$python" "$ROOT/tests/gitops/renovate-extract.py" "$node" "$js" "$ROOT/renovate.json" "$spec" \
    "$ROOT/tools/versions.env" "$@"
}

gitops_extract_fixture() {
  homelabgen check --spec "$ROOT/tests/gitops/renovate-spec.yaml" || return 1
  gitops_extract "$ROOT/tests/gitops/renovate-spec.yaml"
}

gitops_extract_negative() {
  if gitops_extract "$ROOT/tests/gitops/renovate-spec.yaml" --drop-manager "Helm charts" >"${TMPDIR:-/tmp}/gitops-neg.$$" 2>&1; then
    echo "all pins found without the chart manager:"; cat "${TMPDIR:-/tmp}/gitops-neg.$$"; rm -f "${TMPDIR:-/tmp}/gitops-neg.$$"; return 1
  fi
  grep -F 'MISSING' "${TMPDIR:-/tmp}/gitops-neg.$$" | grep -qF '.chart' || { cat "${TMPDIR:-/tmp}/gitops-neg.$$"; rm -f "${TMPDIR:-/tmp}/gitops-neg.$$"; return 1; }
  echo "without the chart manager: $(grep -c MISSING "${TMPDIR:-/tmp}/gitops-neg.$$") chart pins reported missing, as expected"
  rm -f "${TMPDIR:-/tmp}/gitops-neg.$$"
}

# Your spec: a note, never a failure (any valid spec passes make preflight).
gitops_extract_user_spec() {
  local spec=${SPEC:-$ROOT/spec/homelab.yaml}
  gitops_extract "$spec" || echo "NOTE: Renovate will not propose updates for the pins listed above; write them as in spec/homelab.yaml (block style) to have them found"
  return 0
}

gitops_actionlint() {
  local files=()
  mapfile -t files < <(find "$ROOT/.github/workflows" -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
  [ "${#files[@]}" -gt 0 ] || { echo "no workflow in .github/workflows"; return 1; }
  echo "${#files[@]} workflow(s): ${files[*]#"$ROOT"/}"
  actionlint "${files[@]}"
}

gitops_actionlint_negative() {
  local tmp rc=0
  tmp=$(mktemp -d)
  sed 's/runs-on: ubuntu-latest/runs-on: ubuntu-latest\n    timeout-minutes: soon/' "$ROOT/.github/workflows/homelab.yml" >"$tmp/broken.yml"
  if actionlint "$tmp/broken.yml" >"$tmp/log" 2>&1; then
    echo "actionlint accepted a broken workflow"; rc=1
  else
    echo "rejected as expected: $(sed -n 1p "$tmp/log")"
  fi
  rm -rf "$tmp"
  return "$rc"
}

checks_gitops() {
  if [ -f "$ROOT/renovate.json" ] && need renovate-config-validator; then
    step "gitops: renovate-config-validator --strict renovate.json" gitops_validator "$ROOT"
    step "gitops: renovate-config-validator refuses a broken config" gitops_validator_negative
    step "gitops: Renovate extracts every pin of tests/gitops/renovate-spec.yaml + tools/versions.env" gitops_extract_fixture
    step "gitops: without the chart manager the chart pins are missed" gitops_extract_negative
    step "gitops: pins of your spec Renovate finds (a note when one is missed)" gitops_extract_user_spec
  fi
  if [ -d "$ROOT/.github/workflows" ] && need actionlint; then
    step "gitops: actionlint .github/workflows" gitops_actionlint
    step "gitops: actionlint refuses a broken workflow" gitops_actionlint_negative
  fi
}
