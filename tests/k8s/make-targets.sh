#!/usr/bin/env bash
# Sandbox test of mk/k8s.mk against a fake cluster (tests/k8s/fake-kubectl): the
# targets check their tools, inputs and context first, k8s-bootstrap uses server-side
# apply, argo applies the root Application, and phpipam-secret makes a random password
# once, never prints it, keeps it on a second run and replaces it only with FORCE=1.
# Client-side rendering (`create --dry-run=client -o yaml`) uses the real kubectl when
# one is installed.
#
#   [PHPIPAM_APP=name] tests/k8s/make-targets.sh GENERATED_DIR   (a rendered tree with k8s/)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
generated=$(cd "${1:?usage: make-targets.sh GENERATED_DIR}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bin"
ln -s "$root/tests/k8s/fake-kubectl" "$work/bin/kubectl"
REAL_KUBECTL=$(command -v kubectl || true)
export REAL_KUBECTL
export FAKE_KUBE_STATE="$work/state"

# Twice: through the top Makefile (bash, pipefail: as an operator runs it), and mk/k8s.mk
# alone under make's default /bin/sh.
modes=(standalone)
[ -f "$root/Makefile" ] && modes=(top standalone)

failures=0
fail() {
  echo "FAIL (make: ${mode:-setup}): $*" >&2
  failures=$((failures + 1))
}

# run NAME EXPECTED_STATUS [make args...]: output in $work/out
run() {
  local name=$1 want=$2 status=0
  shift 2
  PATH="$work/bin:$PATH" make "${make_args[@]}" GENERATED="$generated" "$@" >"$work/out" 2>&1 || status=$?
  if { [ "$want" = 0 ] && [ "$status" != 0 ]; } || { [ "$want" != 0 ] && [ "$status" = 0 ]; }; then
    fail "$name: exit $status, wanted $want"
    sed 's/^/    /' "$work/out" >&2
  fi
}

expect_out() { grep -qF -- "$2" "$work/out" || { fail "$1: output lacks '$2'"; sed 's/^/    /' "$work/out" >&2; }; }
expect_log() { grep -qF -- "$2" "$FAKE_KUBE_STATE/log" || { fail "$1: kubectl was not called with '$2'"; sed 's/^/    /' "$FAKE_KUBE_STATE/log" >&2; }; }

export PHPIPAM_APP=${PHPIPAM_APP:-phpipam}
ns=$(awk '/^  destination:/{d=1;next} d && /^    namespace: /{print $2; exit}' "$generated/k8s/apps/$PHPIPAM_APP/application.yaml")
[ -n "$ns" ] || fail "no phpIPAM namespace in the rendered tree"
argocd=$(awk '/^metadata:/{m=1;next} m && /^  name: /{print $2; exit}' "$generated/k8s/bootstrap/namespace.yaml")
secret="$FAKE_KUBE_STATE/secrets/$ns.mysql-password"
# With kubernetes.sealed_secrets the Secret is sealed into a file for git instead: here
# into a sandbox directory, with a throwaway certificate (kubeseal opens it again with
# the throwaway key: --recovery-unseal).
sealed_mode=0
if [ -f "$generated/k8s/infra/sealed-secrets/secrets-application.yaml" ]; then
  sealed_mode=1
  command -v kubeseal >/dev/null || { echo "make-targets: kubeseal is missing (make tools builds it)" >&2; exit 1; }
  openssl req -x509 -nodes -newkey rsa:2048 -keyout "$work/sealing.key" -out "$work/sealing.crt" \
    -subj "/CN=sealed-secret/O=homelabgen-test" -days 1 2>/dev/null
  export SECRETS_DIR="$work/secrets"
  sealed="$SECRETS_DIR/$ns/mysql-password.yaml"
fi
# unseal FILE: the password a sealed file holds, opened with the throwaway key.
unseal() {
  kubeseal --recovery-unseal --recovery-private-key "$work/sealing.key" -o json <"$1" \
    | python3 -c 'import base64,json,sys; print(base64.b64decode(json.load(sys.stdin)["data"]["password"]).decode())'
}

for mode in "${modes[@]}"; do
  case $mode in
    top) make_args=(--no-print-directory -C "$root" GUARD=off DOCTOR=off) ;;
    standalone) make_args=(--no-print-directory -f "$root/mk/k8s.mk") ;;
  esac
  # --- inputs and context are checked first
  rm -rf "$FAKE_KUBE_STATE" "${SECRETS_DIR:-$work/no-secrets}"
  run "no tree" 2 k8s-bootstrap GENERATED=/nonexistent
  expect_out "no tree" "bootstrap/kustomization.yaml is missing"
  PATH="/usr/bin:/bin" make "${make_args[@]}" GENERATED="$generated" KUBECTL=kubectl-not-here argo >"$work/out" 2>&1 \
    && fail "missing kubectl: make succeeded"
  expect_out "missing kubectl" "'kubectl-not-here' not found on PATH"
  run "unknown context" 2 argo KUBE_CONTEXT=elsewhere
  expect_out "unknown context" "kube context 'elsewhere' is not in your kubeconfig"
  mkdir -p "$FAKE_KUBE_STATE" && touch "$FAKE_KUBE_STATE/down"
  run "cluster down" 2 k8s-bootstrap
  expect_out "cluster down" "does not answer"
  rm -f "$FAKE_KUBE_STATE/down"
  touch "$FAKE_KUBE_STATE/no-context"
  run "no current context" 2 phpipam-secret
  expect_out "no current context" "set KUBE_CONTEXT="
  rm -f "$FAKE_KUBE_STATE/no-context"

  # --- argo before bootstrap says what to do
  run "argo before bootstrap" 2 argo
  expect_out "argo before bootstrap" "run 'make k8s-bootstrap' first"

  # --- bootstrap: server-side apply of the kustomization, then waits, all on the context
  run "bootstrap" 0 k8s-bootstrap KUBE_CONTEXT=homelab-test
  expect_log "bootstrap" "--context homelab-test apply --server-side --force-conflicts -k $generated/k8s/bootstrap"
  expect_log "bootstrap" "wait --for=condition=Established --timeout=60s crd/applications.argoproj.io"
  expect_log "bootstrap" "-n $argocd rollout status statefulset/argocd-application-controller"
  expect_log "bootstrap" "-n $argocd wait --for=condition=Available deployment --all"

  # --- argo warns about the missing Secret, then applies the root
  run "argo" 0 argo
  if [ "$sealed_mode" = 1 ]; then
    expect_out "argo" "no sealed $sealed yet"
  else
    expect_out "argo" "no Secret mysql-password in namespace $ns"
  fi
  cmp -s "$FAKE_KUBE_STATE/applied-root.yaml" "$generated/k8s/root-app.yaml" || fail "argo: root-app.yaml not applied"

  if [ "$sealed_mode" = 1 ]; then
    rm -rf "$SECRETS_DIR"
    run "sealed without kubeseal" 2 phpipam-secret KUBESEAL=kubeseal-not-here SEALED_SECRETS_CERT="$work/sealing.crt"
    expect_out "sealed without kubeseal" "'kubeseal-not-here' not found on PATH"
    touch "$FAKE_KUBE_STATE/down"
    run "sealed, cluster down, no certificate" 2 phpipam-secret
    expect_out "sealed, cluster down, no certificate" "does not answer"
    rm -f "$FAKE_KUBE_STATE/down"
    [ -e "$sealed" ] && fail "sealed: a file was written although sealing failed"

    run "sealed create" 0 phpipam-secret SEALED_SECRETS_CERT="$work/sealing.crt"
    [ -f "$sealed" ] || fail "sealed create: no $sealed"
    grep -q '^kind: SealedSecret$' "$sealed" || fail "sealed create: not a SealedSecret"
    grep -qE '^kind: Secret$|^ *(data|stringData):' "$sealed" && fail "sealed create: plaintext Secret data in the file"
    first=$(unseal "$sealed" || true)
    [[ $first =~ ^[0-9a-f]{48}$ ]] || fail "sealed create: the unsealed password is not 48 hex characters"
    if [ -n "$first" ]; then
      b64=$(printf '%s' "$first" | base64 | tr -d '\n')
      grep -rqF -e "$first" -e "$b64" "$sealed" "$work/out" "$FAKE_KUBE_STATE/log" \
        && fail "sealed create: the password (or its base64) shows in the file, the output or kubectl's arguments"
    fi
    # The file is a SealedSecret as the CRD defines it (the schema make tools converts).
    if [ -f "${HOMELABGEN_CRD_SCHEMAS:-}/bitnami.com/sealedsecret_v1alpha1.json" ] && command -v kubeconform >/dev/null; then
      kubeconform -strict -schema-location "$HOMELABGEN_CRD_SCHEMAS/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
        "$sealed" >"$work/kc" 2>&1 || { fail "sealed create: kubeconform refuses the file"; cat "$work/kc" >&2; }
    fi
    run "sealed kept" 0 phpipam-secret SEALED_SECRETS_CERT="$work/sealing.crt"
    expect_out "sealed kept" "exists: kept"
    [ "$(unseal "$sealed")" = "$first" ] || fail "sealed kept: the password changed without FORCE=1"
    run "sealed forced" 0 phpipam-secret SEALED_SECRETS_CERT="$work/sealing.crt" FORCE=1
    second=$(unseal "$sealed" || true)
    [[ $second =~ ^[0-9a-f]{48}$ ]] && [ "$second" != "$first" ] || fail "sealed forced: not replaced with a new password"
    # Negative control: a file sealed for another key does not open with the test key.
    openssl req -x509 -nodes -newkey rsa:2048 -keyout "$work/other.key" -out "$work/other.crt" \
      -subj "/CN=other" -days 1 2>/dev/null
    run "sealed other key" 0 phpipam-secret SEALED_SECRETS_CERT="$work/other.crt" FORCE=1
    unseal "$sealed" >/dev/null 2>&1 && fail "sealed other key: the test key opened a file sealed for another key"
    run "argo with sealed file" 0 argo
    grep -qF "no sealed" "$work/out" && fail "argo with sealed file: still warns"
    run "unknown app" 2 phpipam-secret PHPIPAM_APP=nope
    expect_out "unknown app" "set PHPIPAM_APP="
    continue
  fi

  # --- phpipam-secret: created once, random, never shown; kept; FORCE=1 replaces
  run "secret create" 0 phpipam-secret
  [ -f "$secret" ] || fail "secret create: no Secret in namespace $ns"
  [ -f "$FAKE_KUBE_STATE/namespaces/$ns" ] || fail "secret create: namespace $ns not created"
  first=$(cat "$secret" 2>/dev/null || true)
  [[ $first =~ ^[0-9a-f]{48}$ ]] || fail "secret create: password is not 48 hex characters"
  if [ -n "$first" ] && grep -qF -- "$first" "$work/out" "$FAKE_KUBE_STATE/log"; then
    fail "secret create: the password shows in the output or in kubectl's arguments"
  fi
  expect_log "secret create" "apply --server-side --field-manager=homelabgen -f -"

  run "secret kept" 0 phpipam-secret
  expect_out "secret kept" "already exists in namespace $ns: kept"
  [ "$(cat "$secret")" = "$first" ] || fail "secret kept: the password changed without FORCE=1"

  run "secret forced" 0 phpipam-secret FORCE=1
  second=$(cat "$secret")
  [[ $second =~ ^[0-9a-f]{48}$ ]] && [ "$second" != "$first" ] || fail "secret forced: not replaced with a new password"
  expect_log "secret forced" "--force-conflicts -f -"

  run "argo with secret" 0 argo
  grep -qF "no Secret mysql-password" "$work/out" && fail "argo with secret: still warns"

  run "unknown app" 2 phpipam-secret PHPIPAM_APP=nope
  expect_out "unknown app" "set PHPIPAM_APP="

done

if [ "$failures" -gt 0 ]; then
  echo "make-targets: $failures failure(s) (modes: ${modes[*]})" >&2
  exit 1
fi
echo "make-targets: k8s-bootstrap, argo and phpipam-secret behave (make: ${modes[*]}; kubectl: ${REAL_KUBECTL:-fake only}; phpipam-secret: $([ "$sealed_mode" = 1 ] && echo sealed with kubeseal || echo Secret in the cluster))"
