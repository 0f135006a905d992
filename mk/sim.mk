# mk/sim.mk — the real OpenTofu + bpg/proxmox provider against pvesim, a Proxmox VE API
# test double (tests/pvesim): apply, plan, change and destroy rendered test specs offline.
#
#   make sim-test                 every scenario (part of `make test`)
#   make sim-test SIM_ONLY=single only the k3s-single scenario (or multi)
#   PVESIM_KEEP=1 make sim-test   keep the temp dirs (simulator state, request log)

SIM_ONLY ?=

.PHONY: sim-test
sim-test: tools build ## OpenTofu + the real provider against the Proxmox API test double
	@. "$(TOOLS_ENV)" && python3 tests/pvesim/test_sim.py $(SIM_ONLY)
