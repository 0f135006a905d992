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
# Every target finds the pinned tools itself: their bin directory comes first on PATH
# here (preflight.sh also loads the rest of env.sh). For your own shell:
#   source ~/.cache/homelabgen/tools/env.sh
export PATH := $(HOMELABGEN_TOOLS_DIR)/bin:$(PATH)
# The homelabgen every target and check runs: this checkout's build, or the one you
# export (e.g. HOMELABGEN=homelabgen after `make install`). checks/lib.sh honours it too.
CARGO_BUILT := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/debug/homelabgen
export HOMELABGEN ?= $(CARGO_BUILT)

.PHONY: help build install render diff check schema docs tools tools-clean test preflight fmt clean

help: ## List targets and variables
	@printf 'Usage: make TARGET [VAR=value]\n\nTargets:\n'
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'
	@printf '\nVariables:\n'
	@printf '  %-22s %s\n' \
	  'SPEC' "the spec (default $(SPEC))" \
	  'GENERATED' "the generated tree (default $(GENERATED))" \
	  'IMAGE_VERSION' 'image release number for `make packer` (default: the spec'"'"'s)' \
	  'SOURCE' '`qemu` (local build, uploaded over SSH) or `proxmox-iso` (built on Proxmox)' \
	  'ENV' 'OpenTofu environment for tf-*, kubeconfig, up and down' \
	  'HOMELABGEN_TOOLS_DIR' "pinned toolchain cache, first on PATH for every target (default $(HOMELABGEN_TOOLS_DIR))" \
	  'HOMELABGEN' 'the homelabgen binary (default: this checkout'"'"'s target/debug/homelabgen)' \
	  'GUARD' '`off` skips the CHANGEME / drift / pushed guards of the operator targets (tests only)' \
	  'DOCTOR' '`off` skips the homelabgen doctor run before packer, tf-apply, upgrade and up (tests only)'


build: ## Build the homelabgen binary (nothing to do when HOMELABGEN names another one)
ifeq ($(HOMELABGEN),$(CARGO_BUILT))
	@command -v cargo >/dev/null || { echo "make: cargo is missing: install Rust (https://rustup.rs)" >&2; exit 2; }
	@cargo build --quiet --locked
else
	@command -v "$(HOMELABGEN)" >/dev/null || { echo "make: HOMELABGEN=$(HOMELABGEN) is not a program" >&2; exit 2; }
endif

install: ## Install homelabgen into ~/.cargo/bin (cargo install --path crates/homelabgen --locked)
	@cargo install --quiet --path crates/homelabgen --locked
	@echo "installed: $$(command -v homelabgen || echo "$${CARGO_HOME:-$$HOME/.cargo}/bin/homelabgen (put that directory on PATH)")"

render: build ## Render the spec into the generated tree
	@$(HOMELABGEN) render --spec $(SPEC) --out $(GENERATED)

# `make diff` exits 1 on drift like `homelabgen diff`, not make's own 2 for a failed
# recipe: make can only exit 1 in question mode (-q), so when diff is the only goal the
# diff runs while this file is read, its output goes to make's own stdout, and drift
# turns on -q for a goal whose recipe then reports "not up to date" (1).
ifeq ($(MAKECMDGOALS),diff)
  DIFF_STATUS := $(shell rc=0; \
    { $(if $(filter $(CARGO_BUILT),$(HOMELABGEN)),cargo build --quiet --locked &&) "$(HOMELABGEN)" diff --spec "$(SPEC)" --out "$(GENERATED)"; } \
      >$$(if [ -w /proc/$$PPID/fd/1 ]; then echo /proc/$$PPID/fd/1; else echo /dev/stderr; fi) || rc=$$?; echo $$rc)
  ifeq ($(DIFF_STATUS),1)
    MAKEFLAGS += -q
  else ifneq ($(DIFF_STATUS),0)
    $(error homelabgen diff failed (exit $(DIFF_STATUS)))
  endif
endif
diff: ## Show what a render would change (exit 1 on drift, 2 on error)
ifneq ($(MAKECMDGOALS),diff)
	@$(MAKE) diff
else
	@:
endif

check: build ## Validate the spec; warn about each CHANGEME placeholder left
	@$(HOMELABGEN) check --spec $(SPEC)

schema: build ## Refresh spec/homelab.schema.json (editor completion for the spec)
	@$(HOMELABGEN) schema > spec/homelab.schema.json

docs: build ## Refresh docs/spec.md, the spec reference (homelabgen schema --markdown)
	@$(HOMELABGEN) schema --markdown > docs/spec.md

tools: ## Install the pinned toolchain: from PATH, verified releases, else source (TOOLS_SOURCE=path|release|source)
	@bash tools/install.sh

tools-clean: ## Free the Go module and build caches the toolchain's source builds left (not the tools)
	@command -v go >/dev/null || { echo "make: go is not on PATH: no Go caches to clean"; exit 0; }; \
	  echo "Go module cache $$(go env GOMODCACHE): $$(du -sh "$$(go env GOMODCACHE)" 2>/dev/null | cut -f1)"; \
	  echo "Go build cache  $$(go env GOCACHE): $$(du -sh "$$(go env GOCACHE)" 2>/dev/null | cut -f1)"; \
	  GOTOOLCHAIN=local go clean -cache -modcache && echo "freed; the installed tools in $(HOMELABGEN_TOOLS_DIR) stay"

fmt: ## Format the Rust code
	@cargo fmt --all

test: tools build ## The test suite: Rust checks, stale-tree check, real-tool preflight, the same on a personalised lab
	@echo "== toolchain resolution (tests/tools)"; bash tests/tools/run.sh
	@echo "== cargo fmt --check"; cargo fmt --all --check
	@echo "== cargo clippy"; cargo clippy --quiet --locked --all-targets -- -D warnings
	@echo "== cargo test"; cargo test --quiet --locked
	@echo "== homelabgen diff (the committed tree must match the spec)"; $(HOMELABGEN) diff --spec $(SPEC) --out $(GENERATED)
	@echo "== preflight"; SPEC="$(abspath $(SPEC))" ./preflight.sh $(GENERATED)
	@# The tests below use their own specs, not yours: the nested personalised run skips them.
	@if [ -z "$${HOMELABGEN_NESTED:-}" ]; then set -e; \
	  echo "== sim-test (OpenTofu against the Proxmox VE API test double)"; $(MAKE) sim-test; \
	  echo "== doctor-test (homelabgen doctor against the test double)"; $(MAKE) doctor-test; \
	  echo "== boot-test (first boot of rendered clones under QEMU)"; $(MAKE) boot-test; \
	  echo "== make test on a personalised lab (tests/personal/make-test.sh)"; bash tests/personal/make-test.sh; fi

preflight: build ## Format, validate and lint the generated tree with the real tools (passes for any valid spec)
	@SPEC="$(abspath $(SPEC))" ./preflight.sh $(GENERATED)

clean: ## Remove build output (not the toolchain cache)
	@cargo clean


# --- Guards of the operator targets that touch real systems (packer, tf-apply,
# k8s-bootstrap, argo, up): no CHANGEME placeholder left in the spec, and the generated
# tree is exactly what the spec renders. `argo` also needs the tree committed and pushed,
# because Argo CD reads git, not this disk. GUARD=off skips them (the stub tests of each
# target's own logic do; tests/make/targets.sh tests the guards).
GUARD ?= on
OPERATOR_GUARD := $(if $(filter off,$(GUARD)),,operator-guard)
ARGO_GUARD := $(if $(filter off,$(GUARD)),,argo-pushed)

# --- `homelabgen doctor` before the steps that build on Proxmox: `make packer`
# (--for packer --source qemu|proxmox-iso), `make tf-apply` and `make upgrade` (--for tofu),
# `make up` (--for up). A blocker (exit 2) stops the step; warnings (exit 1) are shown
# and the step goes on. DOCTOR=off skips it (the stand-in tests, which have no Proxmox).
DOCTOR ?= on
DOCTOR_BUILD := $(if $(filter off,$(DOCTOR)),,build)
doctor_gate = $(if $(filter off,$(DOCTOR)),:,rc=0; $(HOMELABGEN) doctor --spec "$(SPEC)" $(1) || rc=$$?; \
  case $$rc in (0|1) ;; (*) echo "make: refusing: homelabgen doctor found a blocker (✗ above): fix it, or DOCTOR=off to skip the check" >&2; exit 2 ;; esac)

.PHONY: operator-guard argo-pushed
operator-guard: build
	@$(HOMELABGEN) check --strict --spec "$(SPEC)" >/dev/null || { \
	  echo "make: refusing to touch real systems while $(SPEC) holds placeholders (listed above): replace them, then make render" >&2; exit 2; }
	@rc=0; $(HOMELABGEN) diff --spec "$(SPEC)" --out "$(GENERATED)" >/dev/null 2>&1 || rc=$$?; \
	case $$rc in \
	  0) ;; \
	  1) echo "make: refusing: $(GENERATED) is not what $(SPEC) renders: run make diff to see it, make render to update it, and commit" >&2; exit 2 ;; \
	  *) echo "make: refusing: homelabgen diff failed (exit $$rc): run make diff" >&2; exit 2 ;; \
	esac

# The commit Argo CD is pointed at must be on the remote: $(GENERATED) and $(SPEC)
# committed, HEAD on a remote-tracking branch (and on origin/<revision> when the spec's
# git.revision names a branch there). Remote-tracking refs are as fresh as your last
# push or fetch.
argo-pushed:
	@top=$$(git -C "$(GENERATED)" rev-parse --show-toplevel 2>/dev/null) || { \
	  echo "make: refusing: $(GENERATED) is not in a git repository; Argo CD reads the tree from git: commit and push it" >&2; exit 2; }; \
	dirty=$$(git -C "$$top" status --porcelain -- "$(abspath $(GENERATED))" "$(abspath $(SPEC))"); \
	[ -z "$$dirty" ] || { echo "make: refusing: uncommitted changes Argo CD would not see:" >&2; echo "$$dirty" >&2; echo "      commit and push them first" >&2; exit 2; }; \
	head=$$(git -C "$$top" rev-parse --short HEAD); \
	remotes=$$(git -C "$$top" for-each-ref --contains HEAD --format='%(refname:short)' refs/remotes); \
	[ -n "$$remotes" ] || { echo "make: refusing: commit $$head is not pushed (on no remote branch): git push, then make argo" >&2; exit 2; }; \
	rev=$$(awk '/^    targetRevision: /{print $$2; exit}' "$(GENERATED)/k8s/root-app.yaml" 2>/dev/null | tr -d '"'); \
	if [ -n "$$rev" ] && git -C "$$top" rev-parse -q --verify "refs/remotes/origin/$$rev" >/dev/null; then \
	  git -C "$$top" merge-base --is-ancestor HEAD "refs/remotes/origin/$$rev" || { \
	    echo "make: refusing: Argo CD follows $$rev, and origin/$$rev does not contain commit $$head: git push origin HEAD:$$rev" >&2; exit 2; }; \
	fi

# --- One command to bring a lab up, and down. Each step is also a target of its own;
# `up` stops at the first failure and says how to go on. Rerunning it is safe: every
# step converges (the image step skips a template that exists).
UP_STEPS_AFTER_IMAGE = tf-plan tf-apply kubeconfig k8s-bootstrap phpipam-secret argo

.PHONY: up down up-image
up: $(OPERATOR_GUARD) $(DOCTOR_BUILD) ## Bring ENV up: doctor, image (if missing), tf-plan, tf-apply, kubeconfig, k8s-bootstrap, phpipam-secret, argo
	@[ -n "$(ENV)" ] || { echo "make: ENV is not set, e.g. make up ENV=$(firstword $(TOFU_ENVS))" >&2; exit 2; }
	@$(call doctor_gate,--for up --env "$(ENV)")
	@set -u; n=0; \
	step() { n=$$((n + 1)); echo "== make up [$$n] $$*"; \
	  $(MAKE) --no-print-directory GUARD=off ENV="$(ENV)" "$$@" || { \
	    echo "make up: step $$n ($$1) failed; fix what it says, then rerun make up ENV=$(ENV) (done steps converge) or continue by hand from: make $$1 ENV=$(ENV)" >&2; exit 1; }; }; \
	step up-image; \
	step tf-plan; step tf-apply; step kubeconfig; \
	ctx=$$($(TOFU) -chdir="$(TOFU_ENV_DIR)" output -raw kubectl_context 2>/dev/null) || ctx=""; \
	if [ -f "$(GENERATED)/k8s/root-app.yaml" ]; then \
	  step k8s-bootstrap KUBE_CONTEXT="$$ctx"; \
	  phpipam=0; { [ -f "$(GENERATED)/k8s/apps/$(PHPIPAM_APP)/application.yaml" ] || [ -f "$(GENERATED)/k8s/infra/$(PHPIPAM_APP)/application.yaml" ]; } && phpipam=1; \
	  sealed=0; [ -f "$(GENERATED)/k8s/infra/sealed-secrets/secrets-application.yaml" ] && sealed=1; \
	  if [ "$$phpipam" = 1 ] && [ "$$sealed" = 0 ]; then step phpipam-secret KUBE_CONTEXT="$$ctx"; fi; \
	  step argo KUBE_CONTEXT="$$ctx" GUARD=on; \
	  if [ "$$phpipam" = 1 ] && [ "$$sealed" = 1 ]; then \
	    echo "make up: phpIPAM's password is a sealed file in git: once the sealed-secrets controller runs, make phpipam-secret KUBE_CONTEXT=$$ctx, then commit and push the file it writes (docs/k8s.md)"; fi; \
	else echo "make up: no kubernetes: section in the spec, nothing to bootstrap"; fi; \
	echo "make up: $(ENV) is up"

# A template ENV clones that the Proxmox API does not list yet is built with `make packer
# IMAGE=<its image>`. `homelabgen doctor --templates` asks the API (the spec's
# site.endpoint and insecure_tls, PROXMOX_VE_API_TOKEN), the same question and answer
# as the `--for up` check before it: one line `exists|missing IMAGE TEMPLATE` each.
up-image: build
	@$(tofu_env_check); \
	list=$$($(HOMELABGEN) doctor --spec "$(SPEC)" --env "$(ENV)" --templates) || { \
	  echo "make: cannot ask the Proxmox API which templates exist (above); make doctor ENV=$(ENV) says more" >&2; exit 2; }; \
	while read -r state image name; do \
	  case "$$state" in \
	    exists) echo "template $$name exists" ;; \
	    missing) echo "template $$name is missing: building image $$image"; \
	      $(MAKE) --no-print-directory packer IMAGE="$$image" GUARD=off </dev/null ;; \
	  esac; \
	done <<<"$$list"

down: ## Destroy ENV's VMs (tf-destroy; asks first); the image templates stay
	@$(MAKE) --no-print-directory tf-destroy ENV="$(ENV)"
	@echo "make down: $(ENV)'s VMs are gone; remove its kube context with: kubectl config delete-context homelab-$(ENV)"

.PHONY: bench
bench: ## Speed and memory benchmark of homelabgen (release build; not part of test)
	@bash bench/run.sh

-include mk/*.mk
