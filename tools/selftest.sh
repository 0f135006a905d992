#!/usr/bin/env bash
# Prove the tools installed by tools/install.sh work, offline.
# Usage: bash tools/selftest.sh        (after bash tools/install.sh)
# Where `unshare -n` works (root, Linux) the packer/tofu checks run in a network
# namespace with no network at all, so "offline" is proven, not assumed.
set -Eeuo pipefail

DIR="${HOMELABGEN_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/tools}"
[ -f "$DIR/env.sh" ] || { echo "selftest: $DIR/env.sh missing: run bash tools/install.sh" >&2; exit 1; }
# shellcheck disable=SC1091
. "$DIR/env.sh"

PASS=0 FAIL=0
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ok()   { PASS=$((PASS + 1)); printf 'ok    %s\n' "$1"; }
bad()  { FAIL=$((FAIL + 1)); printf 'FAIL  %s\n' "$1"; [ -z "${2:-}" ] || sed 's/^/      /' "$2"; }
# check NAME CMD...: CMD must succeed
check() { local n="$1"; shift; if "$@" >"$WORK/out" 2>&1; then ok "$n"; else bad "$n" "$WORK/out"; fi; }
# refuse NAME CMD...: CMD must fail
refuse() {
    local n="$1"; shift
    if "$@" >"$WORK/out" 2>&1; then bad "$n (was accepted)" "$WORK/out"; else
        ok "$n"; [ -z "${SELFTEST_VERBOSE:-}" ] || sed 's/^/      /' "$WORK/out"; fi
}

OFFLINE=()
if unshare -n true 2>/dev/null; then OFFLINE=(unshare -n); fi
offline_note="${OFFLINE[*]:-(no unshare -n here: network not cut)}"
echo "selftest: tools dir $DIR; offline runner: $offline_note"

# --- versions -------------------------------------------------------------------
check "tofu version is a release (no -dev)" sh -c 'tofu version | head -1 | grep -Eq "^OpenTofu v[0-9]+\.[0-9]+\.[0-9]+$"'
# shellcheck disable=SC2016  # expanded by the inner sh, from the environment
check "packer version" sh -c 'packer version | head -1 | grep -q "^Packer v${HOMELABGEN_PACKER_VERSION#v}$"'
check "kustomize version" kustomize version
check "kubeconform -v" kubeconform -v
check "yamllint --version" yamllint --version
check "ksvalidator --help" ksvalidator --help
check "shellcheck --version" shellcheck --version
check "sshd -V (openssh-server)" sh -c '/usr/sbin/sshd -V 2>&1 | grep -q OpenSSH'
check "qemu-img --version" qemu-img --version

# --- packer: plugins, offline init + validate ---------------------------------
# shellcheck disable=SC2016
check "packer plugins installed lists proxmox + qemu" sh -c \
    'packer plugins installed | grep -q "proxmox_${HOMELABGEN_PACKER_PLUGIN_PROXMOX_VERSION}_" &&
     packer plugins installed | grep -q "qemu_${HOMELABGEN_PACKER_PLUGIN_QEMU_VERSION}_"'

mkdir -p "$WORK/packer"
cat > "$WORK/packer/t.pkr.hcl" <<EOF
packer {
  required_plugins {
    proxmox = {
      source  = "github.com/hashicorp/proxmox"
      version = "= ${HOMELABGEN_PACKER_PLUGIN_PROXMOX_VERSION#v}"
    }
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = "= ${HOMELABGEN_PACKER_PLUGIN_QEMU_VERSION#v}"
    }
  }
}

source "qemu" "t" {
  iso_url          = "https://example.invalid/t.iso"
  iso_checksum     = "none"
  ssh_username     = "root"
  ssh_password     = "x"
  shutdown_command = "poweroff"
  format           = "qcow2"
  machine_type     = "q35"
}

source "proxmox-iso" "t" {
  proxmox_url              = "https://127.0.0.1:8006/api2/json"
  username                 = "root@pam!packer"
  token                    = "00000000-0000-0000-0000-000000000000"
  node                     = "pve"
  insecure_skip_tls_verify = true
  iso_file                 = "local:iso/t.iso"
  ssh_username             = "root"
  ssh_password             = "x"
}

build {
  sources = ["source.qemu.t", "source.proxmox-iso.t"]
}
EOF
check "packer init (offline, both plugins pinned)" "${OFFLINE[@]}" packer init "$WORK/packer"
check "packer validate (offline)" "${OFFLINE[@]}" packer validate "$WORK/packer"
sed 's/machine_type     = "q35"/machine_typo     = "q35"/' "$WORK/packer/t.pkr.hcl" > "$WORK/packer/bad.hcl"
mkdir -p "$WORK/packer-bad" && mv "$WORK/packer/bad.hcl" "$WORK/packer-bad/t.pkr.hcl"
refuse "packer validate rejects an unknown argument" "${OFFLINE[@]}" packer validate "$WORK/packer-bad"

# --- tofu: offline init + validate with the mirrored bpg provider --------------
mkdir -p "$WORK/tofu"
cat > "$WORK/tofu/main.tf" <<EOF
terraform {
  required_providers {
    proxmox = {
      source  = "bpg/proxmox"
      version = "${HOMELABGEN_BPG_PROXMOX_VERSION#v}"
    }
  }
}

provider "proxmox" {
  endpoint  = "https://127.0.0.1:8006/"
  api_token = "root@pam!tofu=00000000-0000-0000-0000-000000000000"
  insecure  = true
}

resource "proxmox_virtual_environment_vm" "t" {
  node_name = "pve"
  name      = "t"
  memory {
    dedicated = 2048
  }
}
EOF
check "tofu init -backend=false (offline, filesystem mirror)" "${OFFLINE[@]}" tofu -chdir="$WORK/tofu" init -backend=false -input=false
check "tofu validate" "${OFFLINE[@]}" tofu -chdir="$WORK/tofu" validate
sed 's/dedicated = 2048/dedicatd = 2048/' "$WORK/tofu/main.tf" > "$WORK/tofu/main.tf.new" && mv "$WORK/tofu/main.tf.new" "$WORK/tofu/main.tf"
refuse "tofu validate rejects an unknown argument" "${OFFLINE[@]}" tofu -chdir="$WORK/tofu" validate

# --- kubeconform with the generated schemas --------------------------------------
KC=(kubeconform -strict -summary
    -kubernetes-version "$HOMELABGEN_KUBERNETES_VERSION"
    -schema-location "$HOMELABGEN_K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    -schema-location "$HOMELABGEN_CRD_SCHEMAS/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")

cat > "$WORK/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
  creationTimestamp: null
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 80
          resources:
            limits: {cpu: 500m, memory: 128Mi}
            requests: {cpu: 0.1, memory: 64Mi}
          livenessProbe:
            httpGet: {path: /, port: http}
EOF
cat > "$WORK/app.yaml" <<'EOF'
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root
  namespace: argocd
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: https://git.example.invalid/homelab.git
    targetRevision: main
    path: apps
  destination:
    server: https://kubernetes.default.svc
    namespace: argocd
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true, ServerSideApply=true]
EOF
cat > "$WORK/metallb.yaml" <<'EOF'
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: pool
  namespace: metallb-system
spec:
  addresses: [10.0.0.240-10.0.0.250]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: l2
  namespace: metallb-system
spec:
  ipAddressPools: [pool]
EOF
check "kubeconform accepts a valid Deployment" "${KC[@]}" "$WORK/deploy.yaml"
check "kubeconform accepts an Argo CD Application" "${KC[@]}" "$WORK/app.yaml"
check "kubeconform accepts MetalLB IPAddressPool + L2Advertisement" "${KC[@]}" "$WORK/metallb.yaml"
check "kubeconform accepts upstream Argo CD install.yaml" "${KC[@]}" "$HOMELABGEN_ARGOCD_INSTALL"
sed 's/^  replicas: 2/  replicas: 2\n  replicaz: 3/' "$WORK/deploy.yaml" > "$WORK/bad-deploy.yaml"
refuse "kubeconform rejects Deployment.spec.replicaz" "${KC[@]}" "$WORK/bad-deploy.yaml"
sed 's/^          image: nginx:1.27/          image: nginx:1.27\n          imagePullPolicyy: Always/' "$WORK/deploy.yaml" > "$WORK/bad-deploy2.yaml"
refuse "kubeconform rejects a container's unknown field" "${KC[@]}" "$WORK/bad-deploy2.yaml"
sed 's/^  project: default/  project: default\n  projekt: x/' "$WORK/app.yaml" > "$WORK/bad-app.yaml"
refuse "kubeconform rejects Application.spec.projekt" "${KC[@]}" "$WORK/bad-app.yaml"
sed 's/^  namespace: argocd/  namespace: argocd\n  lables: {a: b}/' "$WORK/app.yaml" > "$WORK/bad-app2.yaml"
refuse "kubeconform rejects Application.metadata.lables" "${KC[@]}" "$WORK/bad-app2.yaml"
sed 's/^  replicas: 2/  replicas: "two"/' "$WORK/deploy.yaml" > "$WORK/bad-deploy3.yaml"
refuse "kubeconform rejects replicas: \"two\"" "${KC[@]}" "$WORK/bad-deploy3.yaml"

# --- kustomize, yamllint, ksvalidator, shellcheck on tiny inputs ------------------
mkdir -p "$WORK/kust"
cp "$WORK/deploy.yaml" "$WORK/kust/deploy.yaml"
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy.yaml]\n' > "$WORK/kust/kustomization.yaml"
kustomize_kubeconform() { kustomize build "$WORK/kust" > "$WORK/kust.out.yaml" && "${KC[@]}" "$WORK/kust.out.yaml"; }
check "kustomize build | kubeconform" kustomize_kubeconform
check "yamllint a clean file" yamllint -d relaxed "$WORK/app.yaml"
printf 'lang en_US.UTF-8\nkeyboard us\ntimezone UTC\nrootpw --lock\nreboot\n' > "$WORK/ks.cfg"
check "ksvalidator -v RHEL9 accepts a kickstart" ksvalidator -v RHEL9 "$WORK/ks.cfg"
printf 'bogus_command --x\n' >> "$WORK/ks.cfg"
refuse "ksvalidator -v RHEL9 rejects an unknown command" ksvalidator -v RHEL9 "$WORK/ks.cfg"
# shellcheck disable=SC2016  # the unquoted $1 is the point
printf '#!/bin/sh\necho $1\n' > "$WORK/t.sh"
refuse "shellcheck flags an unquoted variable" shellcheck "$WORK/t.sh"

echo "selftest: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
