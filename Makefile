# homelabgen — operator and developer entry points. `make` (or `make help`) lists them.
#
# The generated tree is driven by the targets in mk/*.mk (packer, tofu, k8s); this file
# holds the generator itself, the toolchain and the tests.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

SPEC      ?= spec/homelab.yaml
GENERATED ?= generated
# The pinned toolchain (tools/install.sh) lives outside the clone, shared by clones.
export HOMELABGEN_TOOLS_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/homelabgen/tools
TOOLS_ENV := $(HOMELABGEN_TOOLS_DIR)/env.sh
HOMELABGEN := target/debug/homelabgen

.PHONY: help build render diff check schema tools test preflight fmt clean

help: ## List targets and variables
	@printf 'Usage: make TARGET [VAR=value]\n\nTargets:\n'
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'
	@printf '\nVariables:\n'
	@printf '  %-22s %s\n' \
	  'SPEC' "the spec (default $(SPEC))" \
	  'GENERATED' "the generated tree (default $(GENERATED))" \
	  'IMAGE_VERSION' 'image release number for `make packer` (default: the spec'"'"'s)' \
	  'SOURCE' '`qemu` (local build, uploaded over SSH) or `proxmox-iso` (built on Proxmox)' \
	  'ENV' 'OpenTofu environment for tf-* and kubeconfig targets' \
	  'HOMELABGEN_TOOLS_DIR' "pinned toolchain cache (default $(HOMELABGEN_TOOLS_DIR))"

build: ## Build the homelabgen binary
	@command -v cargo >/dev/null || { echo "make: cargo is missing: install Rust (https://rustup.rs)" >&2; exit 2; }
	@cargo build --quiet --locked

render: build ## Render the spec into the generated tree
	@$(HOMELABGEN) render --spec $(SPEC) --out $(GENERATED)

diff: build ## Show what a render would change (exit 1 on drift)
	@$(HOMELABGEN) diff --spec $(SPEC) --out $(GENERATED)

check: build ## Validate the spec only
	@$(HOMELABGEN) check --spec $(SPEC)

schema: build ## Refresh spec/homelab.schema.json (editor completion for the spec)
	@$(HOMELABGEN) schema > spec/homelab.schema.json

tools: ## Install the pinned toolchain (OpenTofu, Packer, kustomize, kubeconform, linters)
	@bash tools/install.sh

fmt: ## Format the Rust code
	@cargo fmt --all

test: tools ## The test suite: Rust checks, stale-tree check, real-tool preflight, boot tests
	@echo "== cargo fmt --check"; cargo fmt --all --check
	@echo "== cargo clippy"; cargo clippy --quiet --locked --all-targets -- -D warnings
	@echo "== cargo test"; cargo test --quiet --locked
	@echo "== homelabgen diff (the committed tree must match the spec)"; $(HOMELABGEN) diff --spec $(SPEC) --out $(GENERATED)
	@echo "== preflight"; ./preflight.sh $(GENERATED)
	@$(MAKE) boot-test

preflight: ## Format, validate and lint the generated tree with the real tools
	@./preflight.sh $(GENERATED)

clean: ## Remove build output (not the toolchain cache)
	@cargo clean


.PHONY: bench
bench: ## Speed and memory benchmark of homelabgen (release build; not part of test)
	@bash bench/run.sh

-include mk/*.mk
