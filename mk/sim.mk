# mk/sim.mk — the real OpenTofu + bpg/proxmox provider against pvesim, a Proxmox VE API
# test double (tests/pvesim): apply, plan, change and destroy rendered test specs offline.
#
#   make sim-test                 every scenario (part of `make test`)
#   make sim-test SIM_ONLY=single only the k3s-single scenario (or unit, multi, ha)
#   PVESIM_KEEP=1 make sim-test   keep the temp dirs (simulator state, request log)

SIM_ONLY ?=

.PHONY: sim-test
sim-test: tools build ## OpenTofu + the real provider against the Proxmox API test double
	@. "$(TOOLS_ENV)" && python3 tests/pvesim/test_sim.py $(SIM_ONLY)

# `homelabgen doctor`: the live Proxmox site against the spec, read-only (GET only), with
# the token from PROXMOX_VE_API_TOKEN. Exit 0 all good, 1 warnings only, 2 a blocker.
#   make doctor                        every environment and image of $(SPEC)
#   make doctor ENV=k3s-single         only that environment and the images it clones
#   make doctor DOCTOR_FLAGS=--json    machine-readable (CI)
# make packer (qemu or proxmox-iso), tf-apply, upgrade and up run it first with --for
# packer|tofu|up (only what that step needs); DOCTOR=off skips that (the Makefile).
# doctor-test runs it against pvesim: a healthy site, then each fault alone
# (DOCTOR_ONLY=word: only the scenarios whose name has `word`).
DOCTOR_FLAGS ?=
DOCTOR_ONLY ?=

.PHONY: doctor doctor-test
doctor: build ## Check the live Proxmox site against the spec (read-only): ENV=<env> optional, DOCTOR_FLAGS=--json
	@$(HOMELABGEN) doctor --spec "$(SPEC)" $(if $(ENV),--env "$(ENV)") $(DOCTOR_FLAGS)

doctor-test: build ## homelabgen doctor against the Proxmox API test double: a healthy site, then each fault alone
	@python3 tests/pvesim/test_doctor.py $(DOCTOR_ONLY)
