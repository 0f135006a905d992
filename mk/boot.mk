# Boot tests: clones of a golden image made from the rendered packer scripts boot on a
# small Debian guest under QEMU (TCG) with the NoCloud seed Proxmox would hand them.
# Included by the top-level Makefile and run by `make test`; see README.md, "Boot tests".
#
#   make boot-test                      all cases (needs root: debootstrap, chroot)
#   make boot-test BOOT_KEEP=1          keep the work directory (consoles, reports)
# The guest base is built once and cached in ~/.cache/homelabgen/boot (keyed by its inputs).

.PHONY: boot-test

boot-test: ## Boot clones of the golden image under QEMU and check cloud-init, k3s, seal
	@echo "== boot tests (tests/boot)"; bash tests/boot/run.sh
