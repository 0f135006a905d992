# shellcheck shell=bash
# k3s clusters (issue #14): the vendor data every cluster VM boots with, and the rule
# that no cluster token ever lands in a generated tree. Sourced by preflight.sh; uses
# step/need from lib.sh.
#
# - Every rendered vendor-data template (tofu/envs/*/vendor-data/*.yaml.tftpl), with a
#   token in place of `${token}` as `templatefile()` fills it at apply time, passes
#   `cloud-init schema --config-file` of the real cloud-init (make tools).
# - No generated tree (yours and every test spec's) holds a token or anything shaped
#   like one.
# - The test specs with a cluster (tests/specs/*.yaml with `cluster:`, e.g. ha.yaml) go
#   through what the default tree goes through for Packer and Kubernetes: packer
#   validate of each image, kustomize build + kubeconform of the k8s tree. (Their
#   OpenTofu trees are checked in checks/tofu.sh.)

# A token-shaped stand-in: 64 hex digits, like the generated one.
CLUSTERS_SAMPLE_TOKEN=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

# clusters_vendor_schema TREE [MIN]: cloud-init schema of every vendor-data template in
# TREE, the token filled in; at least MIN of them (a cluster spec renders some).
clusters_vendor_schema() {
  local tree=$1 min=${2:-0} tpl doc rc=0 n=0
  doc=$(mktemp)
  while IFS= read -r tpl; do
    n=$((n + 1))
    sed "s/\${token}/$CLUSTERS_SAMPLE_TOKEN/g" "$tpl" >"$doc"
    # shellcheck disable=SC2016 # a literal ${
    if grep -q '\${' "$doc"; then
      echo "$tpl: a template sequence is left after filling in the token:"
      # shellcheck disable=SC2016
      grep -n '\${' "$doc"
      rc=1
    fi
    if ! cloud-init schema --config-file "$doc" >"$doc.log" 2>&1; then
      echo "$tpl: cloud-init schema refuses it:"
      cat "$doc.log"
      rc=1
    fi
  done < <(find "$tree" -path '*/vendor-data/*.yaml.tftpl' | sort)
  rm -f "$doc" "$doc.log"
  echo "$n vendor-data document(s) checked"
  [ "$n" -ge "$min" ] || { echo "expected at least $min"; rc=1; }
  return "$rc"
}

# The schema check must refuse a broken document: a misspelt key, a wrong type.
clusters_vendor_schema_can_fail() {
  local tmp rc=0
  tmp=$(mktemp -d)
  mkdir -p "$tmp/tofu/envs/x/vendor-data"
  printf '#cloud-config\nwrite_files:\n  - path: /etc/homelabgen/k3s-role\n    permisions: "0644"\n    content: |\n      server\n' \
    >"$tmp/tofu/envs/x/vendor-data/a.yaml.tftpl"
  if clusters_vendor_schema "$tmp" >/dev/null 2>&1; then
    echo "cloud-init schema accepted write_files with a misspelt key"
    rc=1
  fi
  printf '#cloud-config\nwrite_files: /etc/homelabgen/k3s-role\n' >"$tmp/tofu/envs/x/vendor-data/a.yaml.tftpl"
  if clusters_vendor_schema "$tmp" >/dev/null 2>&1; then
    echo "cloud-init schema accepted write_files that is not a list"
    rc=1
  fi
  rm -rf "$tmp"
  return "$rc"
}

# clusters_no_token TREE: nothing in TREE is or looks like a cluster token:
#   - a YAML `token:` whose value is not the template's "${token}";
#   - K3S_TOKEN / K3S_AGENT_TOKEN with a value, `--token VALUE`, `--agent-token`;
#   - a k3s secure token (K10<hex>::...), a UUID, or a word of 32+ lower-case hex
#     digits mixing digits and letters, as the generated token is (not inside base64,
#     such as an SSH public key; the manifest .homelabgen-manifest, which lists the
#     files' SHA-256 sums, aside).
clusters_no_token() {
  local tree=$1 hits rc=0
  hits=$(grep -rnE '^[[:space:]-]*"?token"?[[:space:]]*:' "$tree" | grep -vE ':[[:space:]-]*"?token"?[[:space:]]*:[[:space:]]*"\$\{token\}"[[:space:]]*$' || true)
  [ -z "$hits" ] || { echo "a token value:"; echo "$hits"; rc=1; }
  hits=$(grep -rnE '(K3S_(AGENT_)?TOKEN[[:space:]]*=[[:space:]]*"?[^"[:space:]$]|--(agent-)?token[= ][^-[:space:]])' "$tree" || true)
  [ -z "$hits" ] || { echo "a token in a variable or flag:"; echo "$hits"; rc=1; }
  hits=$(grep -rnoE 'K10[0-9a-f]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}' \
    --exclude=.homelabgen-manifest "$tree" || true)
  hits+=$(grep -rnoE '(^|[^A-Za-z0-9+/])[0-9a-f]{32,}([^A-Za-z0-9+/=]|$)' --exclude=.homelabgen-manifest "$tree" \
    | awk -F: '{ v = $NF } v ~ /[0-9]/ && v ~ /[a-f]/' || true)
  [ -z "$hits" ] || { echo "a token-shaped value:"; echo "$hits"; rc=1; }
  return "$rc"
}

# Each kind of leak, planted into a copy of TREE, must be found.
clusters_no_token_can_fail() {
  local tree=$1 tmp rc=0 leak
  tmp=$(mktemp -d)
  for leak in \
    "token: \"$CLUSTERS_SAMPLE_TOKEN\"" \
    '  token: hunter2' \
    'K3S_TOKEN=hunter2' \
    'ExecStart=/usr/local/bin/k3s agent --token hunter2' \
    'K1050d9ac4b1e6f2c88ad3d1c0b3fa5e2b9d03c6a71::server:8f1d' \
    'id = "6f1c3a52-1e0b-4c8e-9a3f-5b2d7e8c9a01"' \
    "# $CLUSTERS_SAMPLE_TOKEN"; do
    rm -rf "$tmp/tree" && cp -R "$tree" "$tmp/tree"
    printf '%s\n' "$leak" >>"$tmp/tree/planted.txt"
    if clusters_no_token "$tmp/tree" >/dev/null; then
      echo "clusters_no_token missed: $leak"
      rc=1
    fi
  done
  rm -rf "$tmp"
  return "$rc"
}

checks_clusters() {
  local work spec name dir
  step "no token or token-shaped value in $(basename "$GENERATED")/" clusters_no_token "$GENERATED"
  step "the token check finds each planted kind of token" clusters_no_token_can_fail "$GENERATED"
  step "no token or token-shaped value in tests/golden/" clusters_no_token "$ROOT/tests/golden"
  if need cloud-init; then
    step "your tree: vendor data passes cloud-init schema" clusters_vendor_schema "$GENERATED"
    step "cloud-init schema refuses broken vendor data" clusters_vendor_schema_can_fail
  fi
  [ -n "${HOMELABGEN:-}" ] || need cargo || return 0
  work=$(mktemp -d "${TMPDIR:-/tmp}/homelabgen-clusters.XXXXXX")
  for spec in "$ROOT"/tests/specs/*.yaml; do
    name=$(basename "$spec" .yaml)
    step "$name: renders" homelabgen render --quiet --spec "$spec" --out "$work/$name"
    [ -d "$work/$name" ] || continue
    step "$name: no token or token-shaped value in the tree" clusters_no_token "$work/$name"
    grep -qE '^    cluster:' "$spec" || continue
    if need cloud-init; then
      step "$name: every vendor data passes cloud-init schema (token filled in)" clusters_vendor_schema "$work/$name" 1
    fi
    for dir in "$work/$name"/packer/*/; do
      if need packer; then
        step "$name: $(basename "$dir"): packer init + validate, offline" \
          env SPEC="$spec" bash "$ROOT/tests/packer/validate.sh" "${dir%/}"
      fi
    done
    if [ -d "$work/$name/k8s" ]; then
      k8s_validate_tree "$work/$name/k8s" "$name: k8s"
    fi
  done
  rm -rf "$work"
}
