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
#   user sources                every directory (`path:` apps) and values file (`values_file:`)
#                               of the user's repository an Application reads: the directory
#                               built (kustomize) and validated (kubeconform), the file present
#                               and yamllint-clean (tests/k8s/user-sources.py lists them)
#   negative controls           an unknown field and an unknown kind must be rejected; a
#                               broken Ingress and a broken user manifest too
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
  if [ ! -f "$HOMELABGEN_CRD_SCHEMAS/cert-manager.io/clusterissuer_v1.json" ]; then
    [ "${CI:-}" = true ] && { echo "no cert-manager CRD schemas in $HOMELABGEN_CRD_SCHEMAS: run make tools"; return 1; }
    echo "NOTE: no cert-manager CRD schemas in $HOMELABGEN_CRD_SCHEMAS: ClusterIssuer and Certificate are NOT validated"
    skip=(-skip "ClusterIssuer,Certificate")
  fi
  if [ ! -f "$HOMELABGEN_CRD_SCHEMAS/metallb.io/ipaddresspool_v1beta1.json" ]; then
    # Under CI nothing is skipped silently: a toolchain without them is a failure.
    [ "${CI:-}" = true ] && { echo "no MetalLB CRD schemas in $HOMELABGEN_CRD_SCHEMAS: run make tools"; return 1; }
    echo "NOTE: no MetalLB CRD schemas in $HOMELABGEN_CRD_SCHEMAS: IPAddressPool and L2Advertisement are NOT validated"
    skip=(-skip "IPAddressPool,L2Advertisement${skip[1]:+,${skip[1]}}")
  fi
  kubeconform -strict -summary "${skip[@]}" \
    -kubernetes-version "${HOMELABGEN_KUBERNETES_VERSION:?run make tools}" \
    -schema-location "$HOMELABGEN_K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$HOMELABGEN_CRD_SCHEMAS/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    -schema-location "$ROOT/tests/k8s/schemas/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    "$@"
}

# k8s_python: the venv's python (it has PyYAML), else python3.
k8s_python() {
  if [ -x "${HOMELABGEN_TOOLS_DIR:-}/venv/bin/python" ]; then
    "$HOMELABGEN_TOOLS_DIR/venv/bin/python" "$@"
  else
    python3 "$@"
  fi
}

# k8s_user_sources TREE [REPO]: the user's own directories and values files the tree's
# Applications read (paths from the repository root REPO, default $ROOT): each directory
# built with kustomize (or taken as plain manifests without a kustomization) and checked
# by kubeconform -strict (a kind without a schema, e.g. a CRD of the user's, is counted as
# skipped, not failed: its schema is not ours to have); each values file present and
# valid YAML (yamllint's relaxed rules: the file's style is the user's).
k8s_user_sources() {
  local tree=$1 repo=${2:-$ROOT} list kind rel out n=0
  list=$(k8s_python "$ROOT/tests/k8s/user-sources.py" "$tree") || return 1
  [ -n "$list" ] || { echo "no user directories or values files"; return 0; }
  out=$(mktemp -d)
  while read -r kind rel; do
    case $kind in
      path)
        if [ ! -d "$repo/$rel" ]; then
          echo "$rel: an Application reads this directory, but it does not exist"; rm -rf "$out"; return 1
        fi
        if [ -f "$repo/$rel/kustomization.yaml" ] || [ -f "$repo/$rel/kustomization.yml" ] || [ -f "$repo/$rel/Kustomization" ]; then
          kustomize build "$repo/$rel" >"$out/$n.yaml" || { echo "kustomize build $rel failed"; rm -rf "$out"; return 1; }
          echo "$rel: kustomize build: $(grep -c '^kind: ' "$out/$n.yaml") objects"
          k8s_kubeconform -ignore-missing-schemas "$out/$n.yaml" || { rm -rf "$out"; return 1; }
        else
          echo "$rel: plain manifests"
          k8s_kubeconform -ignore-missing-schemas "$repo/$rel" || { rm -rf "$out"; return 1; }
        fi
        ;;
      values)
        if [ ! -f "$repo/$rel" ]; then
          echo "$rel: a values_file the Application reads, but it does not exist"; rm -rf "$out"; return 1
        fi
        if command -v yamllint >/dev/null 2>&1; then
          yamllint -d relaxed "$repo/$rel" || { rm -rf "$out"; return 1; }
        fi
        echo "$rel: values file present"
        ;;
    esac
    n=$((n + 1))
  done <<<"$list"
  rm -rf "$out"
}

# k8s_negative_user TREE: a user directory with a broken manifest, and one that is
# missing, must fail k8s_user_sources; an Ingress with an unknown field must fail kubeconform.
k8s_negative_user() {
  local tree=$1 tmp rel ok=0 ingress cert
  tmp=$(mktemp -d)
  rel=$(k8s_python "$ROOT/tests/k8s/user-sources.py" "$tree" | awk '$1 == "path" {print $2; exit}')
  if [ -n "$rel" ]; then
    mkdir -p "$tmp/repo/$rel"
    cp -r "$ROOT/$rel/." "$tmp/repo/$rel/"
    printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\nspec:\n  portz: []\n' >"$tmp/repo/$rel/broken.yaml"
    if [ -f "$tmp/repo/$rel/kustomization.yaml" ]; then
      sed -i 's/^resources:$/resources:\n- broken.yaml/' "$tmp/repo/$rel/kustomization.yaml"
    fi
    if k8s_user_sources "$tree" "$tmp/repo" >"$tmp/log" 2>&1; then
      echo "a broken manifest in $rel was accepted:"; cat "$tmp/log"; ok=1
    else
      echo "rejected as expected: broken manifest in $rel: $(grep -m1 -iE 'invalid|error|additional' "$tmp/log")"
    fi
    rm -rf "$tmp/repo/$rel"
    if k8s_user_sources "$tree" "$tmp/repo" >"$tmp/log" 2>&1; then
      echo "a missing $rel was accepted"; ok=1
    else
      echo "rejected as expected: $(grep -m1 'does not exist' "$tmp/log")"
    fi
  fi
  ingress=$(find "$tree" -path '*/ingress/ingress.yaml' | sort | head -n1)
  if [ -n "$ingress" ]; then
    sed 's/^  ingressClassName:/  ingressClassNam:/' "$ingress" >"$tmp/ingress.yaml"
    if k8s_kubeconform "$tmp/ingress.yaml" >"$tmp/log" 2>&1; then
      echo "kubeconform accepted an Ingress with an unknown field"; ok=1
    else
      echo "rejected as expected: Ingress with ingressClassNam"
    fi
  fi
  cert=$(find "$tree" -path '*/issuer/ca-certificate.yaml' | sort | head -n1)
  if [ -n "$cert" ] && [ "${CI:-}" != true ] && [ ! -f "$HOMELABGEN_CRD_SCHEMAS/cert-manager.io/certificate_v1.json" ]; then
    echo "NOTE: no cert-manager CRD schemas: the Certificate control is skipped (run make tools)"
  elif [ -n "$cert" ]; then
    sed 's/^  isCA:/  isCa:/' "$cert" >"$tmp/certificate.yaml"
    if k8s_kubeconform "$tmp/certificate.yaml" >"$tmp/log" 2>&1; then
      echo "kubeconform accepted a cert-manager Certificate with an unknown field"; ok=1
    else
      echo "rejected as expected: Certificate with isCa (cert-manager CRD schema)"
    fi
  fi
  rm -rf "$tmp"
  return "$ok"
}

# k8s_negative_kept TREE BUILT: tests/k8s/kept-data.py must fail once the annotation is
# gone from a copy of the tree's chart-defaults.yaml files (nothing to do without them).
k8s_negative_kept() {
  local tree=$1 built=$2 tmp files
  files=$(find "$tree" -name chart-defaults.yaml | sort)
  [ -n "$files" ] || { echo "no chart-defaults.yaml: nothing to break"; return 0; }
  tmp=$(mktemp -d)
  cp -r "$tree" "$tmp/tree"
  find "$tmp/tree" -name chart-defaults.yaml -exec sed -i 's/Delete=false,Prune=false/Prune=true/' {} +
  if k8s_python "$ROOT/tests/k8s/kept-data.py" "$built" "$tmp/tree" "$ROOT" >"$tmp/log" 2>&1; then
    echo "kept-data.py accepted a PVC without Delete=false/Prune=false:"; cat "$tmp/log"; rm -rf "$tmp"; return 1
  fi
  echo "rejected as expected: $(grep -m1 'not Delete=false' "$tmp/log")"
  rm -rf "$tmp"
}

# k8s_helm_template TREE [BREAK]: the charts of infra/metallb, infra/traefik and
# infra/cert-manager, from
# their sources (make tools: $HOMELABGEN_TOOLS_DIR/charts/<chart>/<version>), rendered by
# `helm template` with the Application's valuesObject (the charts' values.schema.json
# rejects an unknown or mistyped key) and the output checked by kubeconform -strict. With
# BREAK set, a key the chart does not have is added to the values first (negative control).
# A chart version the toolchain does not hold (the spec picked another) is skipped with a
# note; a missing helm is a failure under CI.
k8s_helm_template() {
  local tree=$1 brk=${2:-} app info chart version ns release dir tmp n=0
  if ! command -v helm >/dev/null 2>&1; then
    [ "${CI:-}" = true ] && { echo "no helm: run make tools"; return 1; }
    echo "NOTE: no helm on PATH (make tools): the charts are NOT rendered"; return 0
  fi
  tmp=$(mktemp -d)
  for app in "$tree/infra/metallb/application.yaml" "$tree/infra/traefik/application.yaml" "$tree/infra/cert-manager/application.yaml"; do
    [ -f "$app" ] || continue
    info=$(k8s_python "$ROOT/tests/k8s/chart-values.py" "$app" "$tmp/values.json") || { rm -rf "$tmp"; return 1; }
    read -r chart version ns release <<<"$info"
    # MetalLB's values.schema.json allows unknown keys: no key control for it (its
    # frrk8s control is in k8s_negative_helm).
    [ -n "$brk" ] && [ "$chart" = metallb ] && continue
    dir="${HOMELABGEN_TOOLS_DIR:-}/charts/$chart/$version"
    if [ ! -f "$dir/Chart.yaml" ]; then
      echo "NOTE: chart $chart $version is not in the toolchain ($dir): not rendered"; continue
    fi
    if [ -n "$brk" ]; then
      k8s_python -c 'import json,sys; p=sys.argv[1]; v=json.load(open(p)); v["notAChartKey"]={"x": 1}; json.dump(v, open(p, "w"))' "$tmp/values.json"
    fi
    helm template "$release" "$dir" --namespace "$ns" --values "$tmp/values.json" \
      --kube-version "${HOMELABGEN_KUBERNETES_VERSION:-1.36.3}" >"$tmp/$chart.yaml" \
      || { echo "helm template $chart $version failed"; rm -rf "$tmp"; return 1; }
    echo "$chart $version: helm template: $(grep -c '^kind: ' "$tmp/$chart.yaml") objects"
    k8s_kubeconform "$tmp/$chart.yaml" || { rm -rf "$tmp"; return 1; }
    if [ "$chart" = traefik ]; then
      # The Ingresses name class `traefik`; the chart must create it, as the default class
      # (the phpIPAM chart's own Ingress has no ingressClassName).
      if ! grep -A15 '^kind: IngressClass' "$tmp/$chart.yaml" | grep -q '^  name: traefik$' \
          || ! grep -q 'ingressclass.kubernetes.io/is-default-class: "true"' "$tmp/$chart.yaml"; then
        echo "traefik: no default IngressClass named traefik in the chart's output"; rm -rf "$tmp"; return 1
      fi
      echo "traefik: IngressClass traefik, the default class"
    fi
    if [ "$chart" = metallb ]; then
      # L2 only: 0.16 would add the FRR-K8s stack (its subchart) unless frrk8s.enabled is off.
      if grep -qE '^  name: .*frr-k8s' "$tmp/$chart.yaml"; then
        echo "metallb: the FRR-K8s stack is rendered:"; grep -E '^  name: .*frr-k8s' "$tmp/$chart.yaml" | sort -u
        rm -rf "$tmp"; return 1
      fi
      echo "metallb: no FRR-K8s objects ($(grep -c '^kind: DaemonSet' "$tmp/$chart.yaml") DaemonSet: the speaker)"
    fi
    if [ "$chart" = cert-manager ]; then
      for kind in certificates.cert-manager.io clusterissuers.cert-manager.io; do
        grep -qE "^  name: \"?$kind\"?$" "$tmp/$chart.yaml" || { echo "cert-manager: CRD $kind not rendered"; rm -rf "$tmp"; return 1; }
      done
      echo "cert-manager: its CRDs are rendered (crds.enabled)"
    fi
    n=$((n + 1))
  done
  rm -rf "$tmp"
  [ "$n" -gt 0 ] || echo "no chart rendered"
}

# k8s_negative_helm TREE: a values key the chart does not have must fail helm template.
k8s_negative_helm() {
  local tree=$1 log
  command -v helm >/dev/null 2>&1 || { echo "no helm: nothing to check"; return 0; }
  if [ -f "$tree/infra/traefik/application.yaml" ] || [ -f "$tree/infra/cert-manager/application.yaml" ]; then
    log=$(k8s_helm_template "$tree" break 2>&1)
    if printf '%s\n' "$log" | grep -q "objects$" && ! printf '%s\n' "$log" | grep -q "failed"; then
      echo "helm template accepted a values key the chart does not have:"; printf '%s\n' "$log"; return 1
    fi
    if printf '%s\n' "$log" | grep -q "NOTE"; then
      printf '%s\n' "$log"
    else
      echo "rejected as expected: $(printf '%s\n' "$log" | grep -m1 -iE 'additional|schema|failed')"
    fi
  fi
  # MetalLB with the FRR-K8s stack left on must be caught too.
  if [ -f "$tree/infra/metallb/application.yaml" ] && [ -d "${HOMELABGEN_TOOLS_DIR:-}/charts/metallb" ]; then
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp/infra/metallb"
    sed 's/^          enabled: false$/          enabled: true/' "$tree/infra/metallb/application.yaml" >"$tmp/infra/metallb/application.yaml"
    if k8s_helm_template "$tmp" >"$tmp/log" 2>&1; then
      echo "MetalLB with frrk8s.enabled: true was accepted:"; cat "$tmp/log"; rm -rf "$tmp"; return 1
    fi
    echo "rejected as expected: $(grep -m1 'FRR-K8s' "$tmp/log")"
    rm -rf "$tmp"
  fi
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
    step "$label: phpIPAM's PVC and namespace kept on removal (built Applications + values)" \
      k8s_python "$ROOT/tests/k8s/kept-data.py" "$out" "$tree" "$ROOT"
    step "$label: a phpIPAM PVC without Delete=false/Prune=false is caught" k8s_negative_kept "$tree" "$out"
    step "$label: MetalLB, Traefik, cert-manager charts: helm template with the tree's values, kubeconform" k8s_helm_template "$tree"
    step "$label: charts: an unknown values key, MetalLB with FRR-K8s on, are caught" k8s_negative_helm "$tree"
    step "$label: your path: apps and values files (kustomize, kubeconform, yamllint)" k8s_user_sources "$tree"
    step "$label: broken user manifests and Ingresses are rejected" k8s_negative_user "$tree"
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
