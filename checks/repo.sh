# shellcheck shell=bash
# Checks of the project's own scripts, Makefile and spec (not the generated tree).
# Sourced by preflight.sh. To extend: add a `step` line.

# Every shell script of the project, once: tracked *.sh and tracked files with a sh/bash
# shebang, except the generated tree (checks/packer.sh lints the tree under test).
repo_shell_scripts() {
  local file
  {
    # ROOT must be a repository's top, not a copy inside another one (tests/personal).
    if [ "$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null)" = "$ROOT" ]; then
      git -C "$ROOT" ls-files
    else
      (cd "$ROOT" && find . -type f -not -path './target/*' -not -path './.git/*' | sed 's|^\./||')
    fi
  } | grep -v '^generated/' | while IFS= read -r file; do
    [ -f "$ROOT/$file" ] || continue
    case ${file##*/} in
      *.sh) echo "$file" ;;
      *.*) ;;
      *) head -n1 "$ROOT/$file" 2>/dev/null | grep -Eq '^#!.*\b(ba)?sh\b' && echo "$file" ;;
    esac
  done | sort -u
}

repo_shellcheck() {
  local scripts=()
  mapfile -t scripts < <(repo_shell_scripts)
  [ "${#scripts[@]}" -gt 0 ] || { echo "no shell scripts found"; return 1; }
  echo "${#scripts[@]} scripts: ${scripts[*]}"
  (cd "$ROOT" && shellcheck -x "${scripts[@]}")
}

checks_repo() {
  if need shellcheck; then
    step "shellcheck every project script (once)" repo_shellcheck
  fi
  if need yamllint; then
    step "yamllint $(basename "${SPEC:-spec/homelab.yaml}")" yamllint -s -d "{extends: default, rules: {line-length: {max: 120}, document-start: disable, comments: {min-spaces-from-content: 1}}}" "${SPEC:-spec/homelab.yaml}"
  fi
  if need make git; then
    step "make: diff exit codes, CHANGEME/drift/unpushed guards, up/down (stand-ins)" bash "$ROOT/tests/make/targets.sh"
  fi
}
