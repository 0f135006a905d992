# shellcheck shell=bash
# Real-tool checks of generated/packer. Sourced by preflight.sh; uses step/need from lib.sh.
# The tests themselves live in tests/packer/ (each takes an image directory); every one
# is also runnable on its own, e.g. `bash tests/packer/verify.sh generated/packer/IMAGE`.

checks_packer() {
  local dir image images=()
  for dir in "$GENERATED"/packer/*/; do
    [ -f "$dir/build.pkr.hcl" ] && images+=("${dir%/}")
  done
  step "packer tree rendered (one directory per image)" test "${#images[@]}" -gt 0
  for dir in "${images[@]}"; do
    image=$(basename "$dir")
    if need packer; then
      step "$image: packer fmt -check" packer fmt -check -recursive "$dir"
    fi
    # These render test specs with homelabgen (checks/lib.sh: $HOMELABGEN, or cargo).
    if need packer && { [ -n "${HOMELABGEN:-}" ] || need cargo; }; then
      step "$image: init + validate both sources, offline" bash tests/packer/validate.sh "$dir"
      step "$image: template name = spec's (packer console)" bash tests/packer/names.sh "$dir"
    fi
    if need packer ksvalidator; then
      step "$image: ksvalidator -v RHEL9 (file + served)" bash tests/packer/kickstart.sh "$dir"
    fi
    if need shellcheck; then
      step "$image: shellcheck scripts/" shellcheck "$dir"/scripts/*.sh
    fi
    step "$image: seal.sh removes exactly the identity" bash tests/packer/seal.sh "$dir"
    step "$image: k3s-role.sh (first boot: role, server settings, keepalived)" bash tests/packer/k3s-role.sh "$dir"
    if need packer; then
      step "$image: k3s-install.sh (stubbed)" bash tests/packer/k3s-install.sh "$dir"
      step "$image: verify.sh fails on each broken rule" bash tests/packer/verify.sh "$dir"
      step "$image: airgap-images.sh, firewalld.sh" bash tests/packer/airgap-firewall.sh "$dir"
    fi
    if need make; then
      step "$image: mk/packer.mk targets (stub packer)" bash tests/packer/make-targets.sh "$dir"
    fi
    if need ssh scp ssh-keygen && need_sshd; then
      step "$image: upload-to-proxmox.sh vs sshd" bash tests/packer/upload.sh "$dir"
    fi
  done
}

# sshd lives in /usr/sbin, which need's PATH lookup may not see.
need_sshd() {
  [ -x /usr/sbin/sshd ] && return 0
  need sshd
}
