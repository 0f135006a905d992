#!/usr/bin/env bash
# Tests of tools/install.sh's resolution (PATH, verified release, source build), run
# offline: fake tools on PATH, a release server on 127.0.0.1 (server.py), a
# throwaway signing key made here with gpg, a fake go command for the source path.
# Each case that must fail is checked to fail, with the message it must print, and
# to leave nothing installed.  Also: .mise.toml agrees with tools/versions.env.
# Usage: bash tests/tools/run.sh        Closing line: "tools: N passed, M failed".
# The checks are single-quoted on purpose: each is eval'd after its install run.
# shellcheck disable=SC2016
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/tools"
INSTALL="$ROOT/tools/install.sh"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    for h in "$WORK/gnupg" "$WORK/gnupg-other"; do
        [ -d "$h" ] && gpgconf --homedir "$h" --kill all >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

PASS=0 FAIL=0
ok()  { PASS=$((PASS + 1)); printf 'ok    %s\n' "$1"; }
bad() { FAIL=$((FAIL + 1)); printf 'FAIL  %s\n' "$1"; [ ! -f "${2:-}" ] || sed 's/^/      /' "$2"; }

for c in gpg gpgv curl python3 tar; do
    command -v "$c" >/dev/null || { echo "tests/tools: $c is missing (tools/install.sh installs gnupg)" >&2; exit 1; }
done
PY_DIR=$(dirname "$(command -v python3)")

# --- a fake go and fake tools ---------------------------------------------------
mkdir -p "$WORK/fakego" "$WORK/right" "$WORK/wrong"
cp "$HERE/fake-go" "$WORK/fakego/go"
export FAKE_GO_ROOT="$WORK/go" FAKE_GO_LOG="$WORK/go.log"
: > "$FAKE_GO_LOG"
# shellcheck disable=SC1091
. "$ROOT/tools/versions.env"
TOFU_V=${OPENTOFU_VERSION#v}
fake_tool() {  # fake_tool DIR NAME LINE
    printf '#!/bin/sh\necho "%s"\n' "$3" > "$1/$2"; chmod +x "$1/$2"
}
fake_tool "$WORK/right" tofu "OpenTofu v$TOFU_V"
fake_tool "$WORK/right" packer "Packer $PACKER_VERSION"
fake_tool "$WORK/right" kustomize "$KUSTOMIZE_VERSION"
fake_tool "$WORK/right" kubeconform "$KUBECONFORM_VERSION"
fake_tool "$WORK/wrong" tofu "OpenTofu v0.0.1"
BASEPATH="$WORK/fakego:$PY_DIR:/usr/local/bin:/usr/bin:/bin"

# --- signing keys (throwaway, no passphrase) --------------------------------------
genkey() {  # genkey HOMEDIR UID -> fingerprint
    mkdir -m 700 "$1"
    gpg --homedir "$1" --batch --quiet --passphrase '' --quick-gen-key "$2" ed25519 sign never 2>/dev/null
    gpg --homedir "$1" --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}'
}
FPR=$(genkey "$WORK/gnupg" "homelabgen test <test@example.invalid>")
OTHER_FPR=$(genkey "$WORK/gnupg-other" "someone else <other@example.invalid>")
mkdir -p "$WORK/keys"
gpg --homedir "$WORK/gnupg" --armor --export "$FPR" > "$WORK/keys/test.asc"
sign() { gpg --homedir "$1" --batch --quiet --yes --detach-sign -o "$3" "$2"; }

# --- release archives -------------------------------------------------------------
# tofu (zip, signed SHA256SUMS), a Packer plugin (zip, signed), the provider (zip,
# signed), kustomize (tar.gz, pinned SHA-256).
SRV="$WORK/srv"
mkdir -p "$WORK/a" "$SRV/good"
fake_tool "$WORK/a" tofu "OpenTofu v$TOFU_V"
echo "license" > "$WORK/a/LICENSE"
(cd "$WORK/a" && python3 -m zipfile -c "$SRV/good/tofu_${TOFU_V}_linux_amd64.zip" tofu LICENSE)
QV=${PACKER_PLUGIN_QEMU_VERSION#v}
QBIN="packer-plugin-qemu_v${QV}_x5.0_linux_amd64"
printf '#!/bin/sh\n[ "$1" = describe ] && echo '"'"'{"version":"%s","sdk_version":"0.5.2","api_version":"x5.0","builders":["-packer-default-plugin-name-"]}'"'"'\n' "$QV" > "$WORK/a/$QBIN"
chmod +x "$WORK/a/$QBIN"
(cd "$WORK/a" && python3 -m zipfile -c "$SRV/good/$QBIN.zip" "$QBIN")
BV=${BPG_PROXMOX_VERSION#v}
BPG_PROXMOX_VERSION_N=$BV
fake_tool "$WORK/a" "terraform-provider-proxmox_v$BV" "plugin"
(cd "$WORK/a" && python3 -m zipfile -c "$SRV/good/terraform-provider-proxmox_${BV}_linux_amd64.zip" "terraform-provider-proxmox_v$BV")
KV=${KUSTOMIZE_VERSION#v}
fake_tool "$WORK/a" kustomize "v$KV"
tar -czf "$SRV/good/kustomize_v${KV}_linux_amd64.tar.gz" -C "$WORK/a" kustomize
KSUM=$(sha256sum "$SRV/good/kustomize_v${KV}_linux_amd64.tar.gz" | cut -d' ' -f1)
(cd "$SRV/good" && sha256sum -- *.zip > SHA256SUMS)
sign "$WORK/gnupg" "$SRV/good/SHA256SUMS" "$SRV/good/SHA256SUMS.sig"

# wrongsum: a validly signed SHA256SUMS whose entry does not match the archive.
mkdir -p "$SRV/wrongsum"
cp "$SRV/good/"*.zip "$SRV/good/"*.tar.gz "$SRV/wrongsum/"
sed "s/^[0-9a-f]\{64\}  tofu_/$(printf '0%.0s' $(seq 64))  tofu_/" "$SRV/good/SHA256SUMS" > "$SRV/wrongsum/SHA256SUMS"
sign "$WORK/gnupg" "$SRV/wrongsum/SHA256SUMS" "$SRV/wrongsum/SHA256SUMS.sig"
# badsig: signed by another key.
mkdir -p "$SRV/badsig"
cp "$SRV/good/"* "$SRV/badsig/"
sign "$WORK/gnupg-other" "$SRV/badsig/SHA256SUMS" "$SRV/badsig/SHA256SUMS.sig"
# tampered: the signed file changed after signing.
mkdir -p "$SRV/tampered"
cp "$SRV/good/"* "$SRV/tampered/"
printf '%s  extra.zip\n' "$(printf 'f%.0s' $(seq 64))" >> "$SRV/tampered/SHA256SUMS"
# trunc: every body cut in half (server.py); missing: nothing there (404).
mkdir -p "$SRV/trunc" "$SRV/missing"
cp "$SRV/good/"* "$SRV/trunc/"

python3 "$HERE/server.py" "$SRV" "$WORK/port" &
SERVER_PID=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
URL="http://127.0.0.1:$PORT"

# pins CASE [KUSTOMIZE_SHA] [FPR] -> a pin file: the real one, release URLs pointed at
# the test server's CASE directory and the test key.
pins() {
    local c="$1" ksum="${2-$KSUM}" fpr="${3:-$FPR}" f="$WORK/pins.$1.$RANDOM"
    cp "$ROOT/tools/versions.env" "$f"
    cat >> "$f" <<PINS
OPENTOFU_RELEASE_URL='$URL/$c/tofu_{version}_{os}_{arch}.zip'
OPENTOFU_SUMS_URL='$URL/$c/SHA256SUMS'
OPENTOFU_SIG_URL='$URL/$c/SHA256SUMS.sig'
OPENTOFU_KEY=test.asc
OPENTOFU_KEY_FPR=$fpr
PACKER_PLUGIN_QEMU_RELEASE_URL='$URL/$c/packer-plugin-qemu_v{version}_{api}_{os}_{arch}.zip'
PACKER_PLUGIN_QEMU_SUMS_URL='$URL/$c/SHA256SUMS'
PACKER_PLUGIN_QEMU_SIG_URL='$URL/$c/SHA256SUMS.sig'
PACKER_PLUGIN_QEMU_KEY=test.asc
PACKER_PLUGIN_QEMU_KEY_FPR=$fpr
BPG_PROXMOX_RELEASE_URL='$URL/$c/terraform-provider-proxmox_{version}_{os}_{arch}.zip'
BPG_PROXMOX_SUMS_URL='$URL/$c/SHA256SUMS'
BPG_PROXMOX_SIG_URL='$URL/$c/SHA256SUMS.sig'
BPG_PROXMOX_KEY=test.asc
BPG_PROXMOX_KEY_FPR=$fpr
KUSTOMIZE_RELEASE_URL='$URL/$c/kustomize_v{version}_{os}_{arch}.tar.gz'
KUSTOMIZE_SHA256_linux_amd64=$ksum
PINS
    printf '%s' "$f"
}

N=0
# inst OUTFILE MODE PINFILE EXTRA_PATH ONLY -> runs install.sh in a fresh tools dir
# ($T); returns its exit status.
inst() {
    local out="$1" mode="$2" pinfile="$3" xpath="$4" only="$5"
    N=$((N + 1)); T="$WORK/t$N"
    env PATH="${xpath:+$xpath:}$BASEPATH" HOME="$WORK/home" HOMELABGEN_TOOLS_DIR="$T" \
        HOMELABGEN_VERSIONS_FILE="$pinfile" HOMELABGEN_KEYS_DIR="$WORK/keys" \
        TOOLS_SOURCE="$mode" TOOLS_OS=linux TOOLS_ARCH="${T_ARCH:-amd64}" TOOLS_CONNECT_TIMEOUT=5 \
        FAKE_GO_FAIL="${FAKE_GO_FAIL:-}" \
        bash "$INSTALL" --only="$only" > "$out" 2>&1
}
# expect_ok NAME OUT-GREP... ; expect_fail NAME GREP... (after inst, with $? in RC)
has() { local f="$1"; shift; local p; for p in "$@"; do grep -qF -- "$p" "$f" || return 1; done; }
case_ok() {   # case_ok NAME MODE PINS XPATH ONLY CHECK-CMD [GREP...]
    local name="$1" mode="$2" p="$3" x="$4" only="$5" check="$6"; shift 6
    local o="$WORK/out.$((N + 1))"
    if inst "$o" "$mode" "$p" "$x" "$only" && has "$o" "$@" && eval "$check"; then ok "$name"; else bad "$name" "$o"; fi
}
case_fail() { # case_fail NAME MODE PINS XPATH ONLY CHECK-CMD [GREP...]
    local name="$1" mode="$2" p="$3" x="$4" only="$5" check="$6"; shift 6
    local o="$WORK/out.$((N + 1))"
    if inst "$o" "$mode" "$p" "$x" "$only"; then bad "$name (was accepted)" "$o"
    elif has "$o" "$@" && eval "$check"; then ok "$name"; else bad "$name" "$o"; fi
}
built() { grep -q "^go build\|^go install\|^go mod" "$FAKE_GO_LOG"; }
nothing() { [ ! -e "$T/bin/$1" ] && [ -z "$(ls -A "$T/build" 2>/dev/null)" ]; }
stamp_is() { grep -q "^$2" "$T/stamps/$1"; }
GOOD=$(pins good)

# --- 1. path ---------------------------------------------------------------------------
case_ok "path: tofu on PATH with the pinned version is used" path "$GOOD" "$WORK/right" tofu \
    '[ "$(readlink "$T/bin/tofu")" = "$WORK/right/tofu" ] && stamp_is tofu path' \
    "tofu: path: $WORK/right/tofu is $OPENTOFU_VERSION" "tofu                     path"
case_fail "path: tofu on PATH with another version is refused (TOOLS_SOURCE=path)" path "$GOOD" "$WORK/wrong" tofu \
    'nothing tofu' "TOOLS_SOURCE=path but on PATH: $WORK/wrong/tofu=0.0.1, pin is $OPENTOFU_VERSION"
case_fail "path: no tofu on PATH (TOOLS_SOURCE=path)" path "$GOOD" "" tofu 'nothing tofu' "no tofu on PATH"
case_ok "path: packer, kustomize, kubeconform fakes with the pinned versions" path "$GOOD" "$WORK/right" \
    packer,kustomize,kubeconform '[ -L "$T/bin/packer" ] && [ -L "$T/bin/kubeconform" ]' \
    "packer                   path     $PACKER_VERSION" "kubeconform              path     $KUBECONFORM_VERSION"
# Plugins and the provider from the user's own plugin dirs ($HOME of the runs).
PQ="$WORK/home/.config/packer/plugins/github.com/hashicorp/qemu"
PB="$WORK/home/.terraform.d/plugins/registry.opentofu.org/bpg/proxmox/$BPG_PROXMOX_VERSION_N/linux_amd64"
mkdir -p "$PQ" "$PB"
cp "$WORK/a/$QBIN" "$PQ/"
fake_tool "$PB" "terraform-provider-proxmox_v$BPG_PROXMOX_VERSION_N" plugin
case_ok "path: the pinned Packer plugin and provider from the user's plugin dirs" path "$GOOD" "" packer-plugin-qemu,bpg \
    '[ -x "$T/packer-plugins/github.com/hashicorp/qemu/$QBIN" ] && [ -x "$T/tofu-mirror/registry.opentofu.org/bpg/proxmox/$BPG_PROXMOX_VERSION_N/linux_amd64/terraform-provider-proxmox_v$BPG_PROXMOX_VERSION_N" ]' \
    "packer-plugin-qemu       path     $PACKER_PLUGIN_QEMU_VERSION" "bpg/proxmox              path     $BPG_PROXMOX_VERSION"
# The same plugin file reporting another version (describe) is refused.
sed -i "s/\"version\":\"$QV\"/\"version\":\"0.0.1\"/" "$PQ/$QBIN"
case_fail "path: a plugin file whose describe reports another version is refused" path "$GOOD" "" packer-plugin-qemu \
    '[ ! -e "$T/packer-plugins/github.com/hashicorp/qemu" ]' "=0.0.1, pin is $PACKER_PLUGIN_QEMU_VERSION"
rm -rf "${WORK:?}/home"
: > "$FAKE_GO_LOG"
case_ok "auto: a wrong-version tofu on PATH is passed over (then release)" auto "$GOOD" "$WORK/wrong" tofu \
    'stamp_is tofu release && ! built' "path: not used (on PATH: $WORK/wrong/tofu=0.0.1" \
    "tofu                     release"

# --- 2. release ---------------------------------------------------------------------------
case_ok "release: signed SHA256SUMS, right sum: tofu installed" release "$GOOD" "" tofu \
    '[ "$("$T/bin/tofu")" = "OpenTofu v$TOFU_V" ] && stamp_is tofu "release opentofu=$OPENTOFU_VERSION"' \
    "signed by $FPR (good signature)" "sha256 $(sha256sum "$SRV/good/tofu_${TOFU_V}_linux_amd64.zip" | cut -d' ' -f1) verified (sig)"
T_CACHED="$T"
case_ok "release: pinned SHA-256, right sum: kustomize installed" release "$GOOD" "" kustomize \
    '[ "$("$T/bin/kustomize")" = "v$KV" ] && stamp_is kustomize release' "sha256 $KSUM verified (sha256)"
case_ok "release: Packer plugin: installed with its _SHA256SUM, describe checked" release "$GOOD" "" packer-plugin-qemu \
    'f="$T/packer-plugins/github.com/hashicorp/qemu/packer-plugin-qemu_${PACKER_PLUGIN_QEMU_VERSION}_x5.0_linux_amd64"; [ -x "$f" ] && [ "$(cat "${f}_SHA256SUM")" = "$(sha256sum "$f" | cut -d" " -f1)" ]' \
    "packer-plugin-qemu       release  $PACKER_PLUGIN_QEMU_VERSION"
case_ok "release: bpg provider: unpacked into the filesystem mirror" release "$GOOD" "" bpg \
    '[ -x "$T/tofu-mirror/registry.opentofu.org/bpg/proxmox/$BV/linux_amd64/terraform-provider-proxmox_v$BV" ]' \
    "bpg/proxmox              release  $BPG_PROXMOX_VERSION"
# A second run reuses the verified release without the network (server URL now dead).
DEAD=$(pins good); sed -i "s|$URL|http://127.0.0.1:9|" "$DEAD"
o="$WORK/out.again"
if env PATH="$BASEPATH" HOME="$WORK/home" HOMELABGEN_TOOLS_DIR="$T_CACHED" HOMELABGEN_VERSIONS_FILE="$DEAD" \
        HOMELABGEN_KEYS_DIR="$WORK/keys" TOOLS_SOURCE=release TOOLS_OS=linux TOOLS_ARCH=amd64 \
        bash "$INSTALL" --only=tofu > "$o" 2>&1 && has "$o" "tofu: release: up to date ($OPENTOFU_VERSION"; then
    ok "release: a second run reuses the verified release (no download)"
else bad "release: a second run reuses the verified release (no download)" "$o"; fi

# --- integrity failures: hard errors, nothing installed, no fallback ---------------
W=$(pins wrongsum 0000000000000000000000000000000000000000000000000000000000000000)
case_fail "release: pinned SHA-256 mismatch is a hard error naming file, expected, actual" release "$W" "" kustomize \
    'nothing kustomize' "checksum mismatch for kustomize_v${KV}_linux_amd64.tar.gz" \
    "expected sha256 0000000000000000000000000000000000000000000000000000000000000000, got $KSUM" "nothing installed"
: > "$FAKE_GO_LOG"
case_fail "auto: a checksum mismatch does not fall back to source" auto "$W" "" kustomize \
    'nothing kustomize && ! built' "checksum mismatch for kustomize_v${KV}_linux_amd64.tar.gz"
case_fail "release: signed SHA256SUMS with a wrong entry: mismatch, nothing installed" release "$W" "" tofu \
    'nothing tofu' "checksum mismatch for tofu_${TOFU_V}_linux_amd64.zip" \
    "expected sha256 0000000000000000000000000000000000000000000000000000000000000000, got $(sha256sum "$SRV/good/tofu_${TOFU_V}_linux_amd64.zip" | cut -d' ' -f1)"
case_fail "release: SHA256SUMS signed by another key is refused" release "$(pins badsig)" "" tofu \
    'nothing tofu' "bad signature: SHA256SUMS is not signed by the pinned key $FPR"
case_fail "release: SHA256SUMS changed after signing is refused" release "$(pins tampered)" "" tofu \
    'nothing tofu' "bad signature: SHA256SUMS is not signed by the pinned key"
case_fail "auto: a bad signature does not fall back to source" auto "$(pins badsig)" "" tofu \
    'nothing tofu' "bad signature"
case_fail "release: a key file whose fingerprint is not the pinned one is refused" release "$(pins good "$KSUM" "$OTHER_FPR")" "" tofu \
    'nothing tofu' "has fingerprint $FPR; the pins say $OTHER_FPR"
case_fail "release: a plugin whose SHA256SUMS is signed by another key is refused" release "$(pins badsig)" "" packer-plugin-qemu \
    '[ ! -e "$T/packer-plugins/github.com/hashicorp/qemu" ]' "bad signature"

# --- download failures: forced release fails; auto falls back to source -------------
case_fail "release: a truncated body fails, nothing installed" release "$(pins trunc)" "" tofu \
    'nothing tofu' "download of $URL/trunc/tofu_${TOFU_V}_linux_amd64.zip failed"
case_fail "release: 404 fails, nothing installed" release "$(pins missing)" "" tofu \
    'nothing tofu' "download of $URL/missing/tofu_${TOFU_V}_linux_amd64.zip failed" "404"
case_fail "release: no pinned sum and no key: no release path" release "$(pins good "")" "" kustomize \
    'nothing kustomize' "neither KUSTOMIZE_SHA256_linux_amd64 nor a signing key (KUSTOMIZE_KEY) is pinned"
T_ARCH=riscv64 case_fail "release: an unsupported platform has no release" release "$GOOD" "" tofu 'nothing tofu' \
    "no release pinned for linux/riscv64 (supported: linux/amd64, linux/arm64)"
: > "$FAKE_GO_LOG"
case_ok "auto: 404 -> source build (Go module proxy path, fake go)" auto "$(pins missing)" "" tofu \
    '[ "$("$T/bin/tofu")" = "built from source $OPENTOFU_VERSION" ] && grep -q "go mod download -json github.com/opentofu/opentofu@$OPENTOFU_VERSION" "$FAKE_GO_LOG" && ! grep -q "^release" "$T/stamps/tofu"' \
    "tofu: release: not used (download of $URL/missing/" "tofu                     source   $OPENTOFU_VERSION"
case_ok "auto: truncated -> source build; the source version of a plugin the proxy serves" auto "$(pins trunc)" "" packer-plugin-qemu \
    '[ -x "$T/packer-plugins/github.com/hashicorp/qemu/packer-plugin-qemu_${PACKER_PLUGIN_QEMU_SOURCE_VERSION}_x5.0_linux_amd64" ]' \
    "packer-plugin-qemu: release: not used (download of" "packer-plugin-qemu       source   $PACKER_PLUGIN_QEMU_SOURCE_VERSION"
case_ok "source: TOOLS_SOURCE=source builds even when the release is there" source "$GOOD" "$WORK/right" tofu \
    '[ "$("$T/bin/tofu")" = "built from source $OPENTOFU_VERSION" ]' "tofu                     source"
FAKE_GO_FAIL=1 case_fail "source: a failing build fails the run, nothing installed" source "$GOOD" "" kustomize \
    'nothing kustomize' "go install sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION failed"

# --- an existing cache laid out as before is reused, not rebuilt -----------------------
: > "$FAKE_GO_LOG"
N=$((N + 1)); T="$WORK/t$N"; mkdir -p "$T/bin" "$T/stamps"
fake_tool "$T/bin" tofu "OpenTofu v$TOFU_V"
printf 'opentofu=%s go=go1.26.8-fake ldflags=version.dev=no' "$OPENTOFU_VERSION" > "$T/stamps/tofu"
o="$WORK/out.compat"
if env PATH="$WORK/fakego:$BASEPATH" HOME="$WORK/home" HOMELABGEN_TOOLS_DIR="$T" HOMELABGEN_VERSIONS_FILE="$GOOD" \
        HOMELABGEN_KEYS_DIR="$WORK/keys" TOOLS_OS=linux TOOLS_ARCH=amd64 bash "$INSTALL" --only=tofu > "$o" 2>&1 \
        && has "$o" "tofu: source: up to date ($OPENTOFU_VERSION" "tofu                     source   $OPENTOFU_VERSION   cached" \
        && ! built; then
    ok "auto: a source-built cache from before (same stamp) is kept: no download, no build"
else bad "auto: a source-built cache from before (same stamp) is kept" "$o"; fi

case_fail "--only with an unknown tool is refused" auto "$GOOD" "" tofu,terraform 'true' "--only: unknown tool terraform"
case_fail "TOOLS_SOURCE=bogus is refused" bogus "$GOOD" "" tofu 'true' "TOOLS_SOURCE=bogus is not one of path, release, source"

# --- .mise.toml is generated from the pin file ----------------------------------------------
if bash "$ROOT/tools/gen-mise.sh" --check > "$WORK/mise.out" 2>&1; then ok ".mise.toml agrees with tools/versions.env"
else bad ".mise.toml agrees with tools/versions.env" "$WORK/mise.out"; fi
sed "s/^OPENTOFU_VERSION=.*/OPENTOFU_VERSION=v9.9.9/" "$ROOT/tools/versions.env" > "$WORK/pins.bumped"
if HOMELABGEN_VERSIONS_FILE="$WORK/pins.bumped" bash "$ROOT/tools/gen-mise.sh" --check > "$WORK/mise.out" 2>&1; then
    bad ".mise.toml check notices a pin it does not carry (was accepted)" "$WORK/mise.out"
elif grep -q "9.9.9" "$WORK/mise.out"; then ok ".mise.toml check notices a pin it does not carry"
else bad ".mise.toml check notices a pin it does not carry" "$WORK/mise.out"; fi

# --- the test's own scripts pass shellcheck ---------------------------------------------
SC=$(command -v shellcheck || echo "${HOMELABGEN_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/homelabgen/tools}/bin/shellcheck")
if [ -x "$SC" ]; then
    if "$SC" -x "$HERE/run.sh" "$HERE/fake-go" > "$WORK/sc.out" 2>&1; then ok "shellcheck tests/tools"
    else bad "shellcheck tests/tools" "$WORK/sc.out"; fi
fi

echo "tools: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
