# shellcheck shell=bash
# Real-tool checks of generated/k8s. Sourced by preflight.sh; uses step/need from lib.sh.
#
#   yamllint --strict           every YAML file (config: tests/k8s/yamllint.yaml)
#   kustomize build             every kustomization, offline; bootstrap/ with the pinned
#                               upstream Argo CD install.yaml ($HOMELABGEN_ARGOCD_INSTALL)
#                               in place of its URL, so the real Argo CD manifests are built
#   kubeconform -strict         every built object and root-app.yaml, against the Kubernetes
#                               schemas of the cluster version and the Argo CD and MetalLB
#                               CRD schemas ($HOMELABGEN_K8S_SCHEMAS, $HOMELABGEN_CRD_SCHEMAS)
#   negative controls           an unknown field and an unknown kind must be rejected
#   tests/k8s/make-targets.sh   mk/k8s.mk against a fake cluster
# All of it for generated/k8s and again for a second spec (the user's spec with
# tests/k8s/variant-section.yaml, see tests/k8s/variant.py) that takes other paths.

# The install manifest URL bootstrap/kustomization.yaml names (one line, `- URL`).
K8S_ARGOCD_URL_RE='^- https://raw\.githubusercontent\.com/argoproj/argo-cd/[^/]*/manifests/install\.yaml$'

# k8s_build_bootstrap TREE OUT: build bootstrap/ with the local install.yaml.
k8s_build_bootstrap() {
  local tree=$1 out=$2 tmp ns url found
  if [ ! -f "${HOMELABGEN_ARGOCD_INSTALL:-}" ]; then
    echo "HOMELABGEN_ARGOCD_INSTALL='${HOMELABGEN_ARGOCD_INSTALL:-}' is not a file: run make tools"
    return 1
  fi
  tmp=$(mktemp -d)
  cp "$tree"/bootstrap/*.yaml "$tmp/"
  cp "$HOMELABGEN_ARGOCD_INSTALL" "$tmp/install.yaml"
  url=$(grep -E "$K8S_ARGOCD_URL_RE" "$tmp/kustomization.yaml" || true)
  if [ "$(printf '%s\n' "$url" | grep -c .)" != 1 ]; then
    echo "bootstrap/kustomization.yaml must name the upstream install.yaml exactly once; found: ${url:-nothing}"
    rm -rf "$tmp"
    return 1
  fi
  sed -i -E "s#${K8S_ARGOCD_URL_RE}#- install.yaml#" "$tmp/kustomization.yaml"
  if grep -q '://' "$tmp/kustomization.yaml"; then
    echo "bootstrap/kustomization.yaml has another remote resource:"
    grep '://' "$tmp/kustomization.yaml"
    rm -rf "$tmp"
    return 1
  fi
  echo "spec: ${url#- }"
  echo "built with: $HOMELABGEN_ARGOCD_INSTALL (Argo CD ${HOMELABGEN_ARGOCD_VERSION:-?})"
  kustomize build "$tmp" >"$out/bootstrap.yaml" || { rm -rf "$tmp"; return 1; }
  ns=$(awk '/^metadata:/{m=1;next} m && /^  name: /{print $2; exit}' "$tmp/namespace.yaml")
  rm -rf "$tmp"
  # The real Argo CD is in it, and everything namespaced landed in Argo CD's namespace
  # (ClusterRoleBinding subjects included).
  for want in "name: applications.argoproj.io" "name: argocd-server" "name: argocd-application-controller"; do
    grep -qF "$want" "$out/bootstrap.yaml" || { echo "built bootstrap lacks '$want'"; return 1; }
  done
  found=$(grep -E '^ +namespace: ' "$out/bootstrap.yaml" | sed -E 's/^ +namespace: //' | sort -u)
  if [ "$found" != "$ns" ]; then
    echo "objects outside namespace $ns:"
    printf '%s\n' "$found"
    return 1
  fi
  echo "$(grep -c '^kind: ' "$out/bootstrap.yaml") objects, all namespaced ones in $ns"
}

# k8s_build_all TREE OUT: every other kustomization, one output file each.
k8s_build_all() {
  local tree=$1 out=$2 dir rel count=0
  while IFS= read -r dir; do
    rel=${dir#"$tree"/}
    [ "$rel" = bootstrap ] && continue
    kustomize build "$dir" >"$out/${rel//\//_}.yaml" || { echo "kustomize build $rel failed"; return 1; }
    echo "$rel: $(grep -c '^kind: ' "$out/${rel//\//_}.yaml") objects"
    count=$((count + 1))
  done < <(find "$tree" -name kustomization.yaml -printf '%h\n' | sort)
  [ "$count" -gt 0 ] || { echo "no kustomization under $tree"; return 1; }
}

# k8s_kubeconform FILE_OR_DIR...: the flags of tools/README.md, offline.
k8s_kubeconform() {
  local skip=()
  if [ ! -d "${HOMELABGEN_K8S_SCHEMAS:-}" ] || [ ! -d "${HOMELABGEN_CRD_SCHEMAS:-}" ]; then
    echo "HOMELABGEN_K8S_SCHEMAS / HOMELABGEN_CRD_SCHEMAS not set: run make tools"
    return 1
  fi
  if [ ! -f "$HOMELABGEN_CRD_SCHEMAS/metallb.io/ipaddresspool_v1beta1.json" ]; then
    # Under CI nothing is skipped silently: a toolchain without them is a failure.
    [ "${CI:-}" = true ] && { echo "no MetalLB CRD schemas in $HOMELABGEN_CRD_SCHEMAS: run make tools"; return 1; }
    echo "NOTE: no MetalLB CRD schemas in $HOMELABGEN_CRD_SCHEMAS: IPAddressPool and L2Advertisement are NOT validated"
    skip=(-skip "IPAddressPool,L2Advertisement")
  fi
  kubeconform -strict -summary "${skip[@]}" \
    -kubernetes-version "${HOMELABGEN_KUBERNETES_VERSION:?run make tools}" \
    -schema-location "$HOMELABGEN_K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$HOMELABGEN_CRD_SCHEMAS/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    -schema-location "$ROOT/tests/k8s/schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    "$@"
}

# k8s_negative TREE: the checks above can fail. An unknown field in an Application and a
# misspelt kind must be rejected by kubeconform.
k8s_negative() {
  local tree=$1 tmp ok=0
  tmp=$(mktemp -d)
  sed 's/^spec:$/spec:\n  syncPolicyy: {}/' "$tree/root-app.yaml" >"$tmp/unknown-field.yaml"
  sed 's/^kind: Application$/kind: Aplication/' "$tree/root-app.yaml" >"$tmp/unknown-kind.yaml"
  # The system-upgrade Plans are checked against the Plan CRD's schema (tests/k8s/schemas).
  if [ -f "$tree/infra/system-upgrade/plans/k3s-agent.yaml" ]; then
    sed 's/^  concurrency:/  concurrencyy:/' "$tree/infra/system-upgrade/plans/k3s-agent.yaml" >"$tmp/plan-unknown-field.yaml"
    sed 's/^    skipWaitForDeleteTimeout: .*/    skipWaitForDeleteTimeout: soon/' "$tree/infra/system-upgrade/plans/k3s-agent.yaml" >"$tmp/plan-wrong-type.yaml"
  fi
  for file in "$tmp"/*.yaml; do
    if k8s_kubeconform "$file" >"$tmp/log" 2>&1; then
      echo "kubeconform accepted $(basename "$file"):"
      cat "$tmp/log"
      ok=1
    else
      echo "rejected as expected: $(basename "$file"): $(grep -m1 -iE 'invalid|error|could not find' "$tmp/log")"
    fi
  done
  rm -rf "$tmp"
  return "$ok"
}

# k8s_render_variant OUT: the user's spec ($SPEC, default spec/homelab.yaml) with
# tests/k8s/variant-section.yaml as its kubernetes: section, fitted to the user's network
# by tests/k8s/variant.py, rendered by homelabgen into OUT/generated.
k8s_render_variant() {
  local out=$1 python=python3
  [ -x "${HOMELABGEN_TOOLS_DIR:-}/venv/bin/python" ] && python="$HOMELABGEN_TOOLS_DIR/venv/bin/python"
  "$python" "$ROOT/tests/k8s/variant.py" "${SPEC:-$ROOT/spec/homelab.yaml}" "$ROOT/tests/k8s/variant-section.yaml" "$out/variant.yaml" || return 1
  (cd "$out" && homelabgen render --quiet --spec variant.yaml --out generated) || return 1
  find "$out/generated/k8s" -type f | sed "s|^$out/||" | sort
}

# k8s_validate_tree TREE LABEL [PHPIPAM_APP]: every real-tool check of one k8s tree.
k8s_validate_tree() {
  local tree=$1 label=$2 app=${3:-phpipam} out
  step "$label: bootstrap/, root-app.yaml, root/, infra/, apps/ present" \
    test -f "$tree/bootstrap/kustomization.yaml" -a -f "$tree/root-app.yaml" -a -f "$tree/root/kustomization.yaml" \
    -a -f "$tree/infra/kustomization.yaml" -a -f "$tree/apps/kustomization.yaml"
  if need yamllint; then
    step "$label: yamllint --strict (tests/k8s/yamllint.yaml)" yamllint --strict -c "$ROOT/tests/k8s/yamllint.yaml" "$tree"
  fi
  if need kustomize kubeconform; then
    out=$(mktemp -d)
    step "$label: kustomize build bootstrap/ + pinned Argo CD install" k8s_build_bootstrap "$tree" "$out"
    step "$label: kustomize build every other kustomization" k8s_build_all "$tree" "$out"
    step "$label: kubeconform -strict built objects + root-app.yaml" k8s_kubeconform "$out" "$tree/root-app.yaml"
    rm -rf "$out"
  fi
  if [ -f "$tree/apps/$app/application.yaml" ] && need make; then
    step "$label: mk/k8s.mk targets against a fake cluster" \
      env PHPIPAM_APP="$app" bash "$ROOT/tests/k8s/make-targets.sh" "$(dirname "$tree")"
  fi
}

# k8s_sealed_files DIR: the committed sealed secrets. Every YAML file under DIR holds
# only SealedSecrets (a plain Secret, or data/stringData outside encryptedData, is
# refused: it would put a password into git), each valid against the SealedSecret CRD.
k8s_sealed_files() {
  local dir=$1 file bad=0 count=0
  [ -f "$HOMELABGEN_CRD_SCHEMAS/bitnami.com/sealedsecret_v1alpha1.json" ] || {
    echo "no SealedSecret schema in $HOMELABGEN_CRD_SCHEMAS: run make tools"; return 1; }
  while IFS= read -r file; do
    count=$((count + 1))
    if grep -nE '^kind: *[^S ]|^kind: *Secret *$|^ {0,4}(data|stringData):' "$file"; then
      echo "$file: not only SealedSecrets (a plain Secret or its data would be in git): seal it with kubeseal"
      bad=1
    fi
  done < <(find "$dir" -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
  [ "$bad" = 0 ] || return 1
  if [ "$count" = 0 ]; then echo "no sealed files in $dir yet"; return 0; fi
  echo "$count file(s), SealedSecrets only"
  k8s_kubeconform "$dir"
}

# k8s_sealed_negative: the check above refuses a plain Secret and a SealedSecret with
# an unknown field.
k8s_sealed_negative() {
  local tmp ok=0 case
  for case in plain unknown; do
    tmp=$(mktemp -d)
    mkdir -p "$tmp/ns"
    if [ "$case" = plain ]; then
      printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\nstringData:\n  password: CHANGEME\n' >"$tmp/ns/s.yaml"
    else
      printf 'apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: s\n  namespace: ns\nspec:\n  encryptedDatta:\n    password: AgBy\n' >"$tmp/ns/s.yaml"
    fi
    if k8s_sealed_files "$tmp" >"$tmp/log" 2>&1; then
      echo "accepted a $case file:"; cat "$tmp/log"; ok=1
    else
      echo "rejected as expected: $case"
    fi
    rm -rf "$tmp"
  done
  return "$ok"
}

checks_k8s() {
  local variant sealed_app sealed_dir
  if [ -d "$GENERATED/k8s" ]; then
    k8s_validate_tree "$GENERATED/k8s" "k8s"
    sealed_app="$GENERATED/k8s/infra/sealed-secrets/secrets-application.yaml"
    if [ -f "$sealed_app" ] && need kubeconform; then
      sealed_dir="$ROOT/$(awk '/^  source:/{s=1;next} s && /^    path: /{print $2; exit}' "$sealed_app")"
      if [ -d "$sealed_dir" ]; then
        step "k8s: sealed secrets in ${sealed_dir#"$ROOT"/}/ (SealedSecrets only, kubeconform)" k8s_sealed_files "$sealed_dir"
      else
        printf '  skip  %-58s\n' "no ${sealed_dir#"$ROOT"/}/ yet (make phpipam-secret writes it)"
      fi
      step "k8s: the sealed-secrets check refuses a plain Secret and an unknown field" k8s_sealed_negative
    fi
    if need kubeconform; then
      step "k8s: kubeconform -strict rejects broken Applications" k8s_negative "$GENERATED/k8s"
    fi
  else
    # A spec without a kubernetes: section renders no k8s tree.
    printf '  skip  %-58s\n' "no generated k8s tree (spec without kubernetes:)"
  fi
  if [ -n "${HOMELABGEN:-}" ] || need cargo; then
    variant=$(mktemp -d)
    step "k8s variant: your spec + tests/k8s/variant-section.yaml renders" k8s_render_variant "$variant"
    if [ -d "$variant/generated/k8s" ]; then
      k8s_validate_tree "$variant/generated/k8s" "k8s variant" ipam
    fi
    rm -rf "$variant"
  fi
}
