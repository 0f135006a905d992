# mk/tofu.mk — OpenTofu operator targets for one environment of the generated tree.
#
#   make tf-init    ENV=k3s-single      install the provider, set up the state backend
#   make tf-plan    ENV=k3s-single      show what would change (writes tfplan)
#   make tf-apply   ENV=k3s-single      create or change the VMs
#   make tf-destroy ENV=k3s-single      destroy the VMs
#   make kubeconfig ENV=k3s-single      merge the cluster's kubeconfig into ~/.kube/config
#
# The API token comes from the environment only: export PROXMOX_VE_API_TOKEN (see
# docs/tofu.md). TF_ARGS passes extra arguments to tofu, e.g.
# TF_ARGS='-target=module.vm["k3s-1"]'.

GENERATED ?= generated
TOFU      ?= tofu
KUBECTL   ?= kubectl
SSH       ?= ssh
TF_ARGS   ?=
KUBECONFIG_FILE ?= $(HOME)/.kube/config

TOFU_ENVS    = $(sort $(notdir $(patsubst %/,%,$(wildcard $(GENERATED)/tofu/envs/*/))))
TOFU_ENV_DIR = $(GENERATED)/tofu/envs/$(ENV)

# Refuse a missing or unknown ENV (listing the environments there are), and a
# missing tofu. Shell text shared by every target below.
tofu_env_check = \
  envs='$(TOFU_ENVS)'; \
  if [ -z "$(ENV)" ]; then \
    echo "make: ENV is not set: say which environment, e.g. make $@ ENV=$(firstword $(TOFU_ENVS))" >&2; \
    echo "      environments under $(GENERATED)/tofu/envs: $${envs:-none (run make render)}" >&2; exit 2; \
  fi; \
  case "$(ENV)" in *[!a-z0-9-]*) echo "make: ENV='$(ENV)' is not an environment name (a-z, 0-9, -)" >&2; exit 2;; esac; \
  if [ ! -f "$(TOFU_ENV_DIR)/main.tf" ]; then \
    echo "make: no environment '$(ENV)' under $(GENERATED)/tofu/envs" >&2; \
    echo "      environments there: $${envs:-none (run make render)}" >&2; exit 2; \
  fi; \
  command -v $(TOFU) >/dev/null 2>&1 || { echo "make: $(TOFU) is missing: install OpenTofu (https://opentofu.org/docs/intro/install/), or run make tools (make targets then find it themselves)" >&2; exit 2; }

# The provider needs credentials for anything that talks to Proxmox.
tofu_credentials_check = \
  if [ -z "$${PROXMOX_VE_API_TOKEN:-}" ] && [ -z "$${PROXMOX_VE_PASSWORD:-}" ]; then \
    echo "make: no Proxmox credentials: export PROXMOX_VE_API_TOKEN='user@realm!tokenid=secret' (docs/tofu.md says how to create one)" >&2; exit 2; \
  fi

# init once per working directory (state and providers live next to the config).
tofu_init_if_needed = \
  if [ ! -d "$(TOFU_ENV_DIR)/.terraform" ]; then $(TOFU) -chdir="$(TOFU_ENV_DIR)" init -input=false; fi

.PHONY: tf-init tf-plan tf-apply tf-destroy kubeconfig

tf-init: ## Initialise OpenTofu for ENV (provider, local state)
	@$(tofu_env_check)
	@$(TOFU) -chdir="$(TOFU_ENV_DIR)" init -input=false $(TF_ARGS)

tf-plan: ## Plan the VMs of ENV (writes ENV's tfplan)
	@$(tofu_env_check); $(tofu_credentials_check)
	@$(tofu_init_if_needed)
	@$(TOFU) -chdir="$(TOFU_ENV_DIR)" plan -input=false -out=tfplan $(TF_ARGS)

tf-apply: $(OPERATOR_GUARD) ## Create or update the VMs of ENV (asks before changing anything)
	@$(tofu_env_check); $(tofu_credentials_check)
	@$(tofu_init_if_needed)
	@$(TOFU) -chdir="$(TOFU_ENV_DIR)" apply -input=false $(TF_ARGS)
	@rm -f "$(TOFU_ENV_DIR)/tfplan"

tf-destroy: ## Destroy the VMs of ENV (asks first)
	@$(tofu_env_check); $(tofu_credentials_check)
	@$(tofu_init_if_needed)
	@$(TOFU) -chdir="$(TOFU_ENV_DIR)" destroy -input=false $(TF_ARGS)

# Reads the server's address, the API address (a cluster's VIP; the server's own
# address when there is none, or in a state older than the api_address output), the
# login user and the context name from the state (tofu output -raw), fetches
# /etc/rancher/k3s/k3s.yaml over SSH from the server into a private temp file, points
# it at the API address instead of 127.0.0.1, renames cluster, user and context
# from `default` to the context name, checks it, and only then merges it into
# KUBECONFIG_FILE (entries of the new file win; the old file is kept as
# KUBECONFIG_FILE.bak). A failed ssh or merge leaves KUBECONFIG_FILE as it was.
# The current context is never switched silently: it stays what it was unless
# USE_CONTEXT=1 (a file without a current context gets the new one, and says so).
USE_CONTEXT ?= 0
kubeconfig: ## Fetch ENV's k3s kubeconfig from the server VM and merge it into ~/.kube/config (USE_CONTEXT=1 switches to it)
	@$(tofu_env_check)
	@command -v $(SSH) >/dev/null 2>&1 || { echo "make: $(SSH) is missing (the kubeconfig is fetched over SSH)" >&2; exit 2; }
	@ip=$$($(TOFU) -chdir="$(TOFU_ENV_DIR)" output -raw server_ip 2>/dev/null) || ip=; \
	api=$$($(TOFU) -chdir="$(TOFU_ENV_DIR)" output -raw api_address 2>/dev/null) || api=; \
	context=$$($(TOFU) -chdir="$(TOFU_ENV_DIR)" output -raw kubectl_context 2>/dev/null) || context=; \
	user=$$($(TOFU) -chdir="$(TOFU_ENV_DIR)" output -raw ssh_user 2>/dev/null) || user=; \
	case "$$ip" in ''|*[!0-9.]*) ip=;; esac; \
	case "$$api" in ''|*[!0-9.]*) api=$$ip;; esac; \
	case "$$context" in ''|*[!A-Za-z0-9._-]*) context=;; esac; \
	case "$$user" in ''|*[!a-z0-9_-]*) user=;; esac; \
	if [ -z "$$ip" ] || [ -z "$$context" ] || [ -z "$$user" ]; then \
	  echo "make: no k3s server in the state of $(ENV) (no server_ip/kubectl_context/ssh_user output): run make tf-apply ENV=$(ENV) first" >&2; exit 2; fi; \
	raw=$$(mktemp); new=$$(mktemp); merged=$$(mktemp); trap 'rm -f "$$raw" "$$new" "$$merged"' EXIT; \
	chmod 600 "$$raw" "$$new" "$$merged"; \
	echo "fetching /etc/rancher/k3s/k3s.yaml from $$user@$$ip"; \
	$(SSH) -o BatchMode=yes "$$user@$$ip" sudo cat /etc/rancher/k3s/k3s.yaml >"$$raw" || { \
	  echo "make: ssh $$user@$$ip failed: $(KUBECONFIG_FILE) left as it was" >&2; exit 1; }; \
	sed -e "s/127\.0\.0\.1/$$api/" -e "s/: default$$/: $$context/" "$$raw" >"$$new"; \
	grep -q "server: https://$$api:6443" "$$new" || { echo "make: $$user@$$ip did not return a k3s kubeconfig (is k3s running? sudo allowed?): $(KUBECONFIG_FILE) left as it was" >&2; exit 1; }; \
	mkdir -p "$$(dirname "$(KUBECONFIG_FILE)")"; \
	if [ -s "$(KUBECONFIG_FILE)" ]; then \
	  command -v $(KUBECTL) >/dev/null 2>&1 || { echo "make: $(KUBECTL) is missing: needed to merge into $(KUBECONFIG_FILE) (or use KUBECONFIG=$$new)" >&2; exit 2; }; \
	  current=$$($(KUBECTL) --kubeconfig "$(KUBECONFIG_FILE)" config current-context 2>/dev/null) || current=; \
	  KUBECONFIG="$$new:$(KUBECONFIG_FILE)" $(KUBECTL) config view --flatten >"$$merged" || { echo "make: merging into $(KUBECONFIG_FILE) failed: left as it was" >&2; exit 1; }; \
	  if [ "$(USE_CONTEXT)" = 1 ] || [ -z "$$current" ]; then \
	    $(KUBECTL) --kubeconfig "$$merged" config use-context "$$context" >/dev/null; now="$$context"; \
	  else \
	    $(KUBECTL) --kubeconfig "$$merged" config use-context "$$current" >/dev/null; now="$$current"; \
	  fi || { echo "make: setting the current context failed: $(KUBECONFIG_FILE) left as it was" >&2; exit 1; }; \
	  cp -p "$(KUBECONFIG_FILE)" "$(KUBECONFIG_FILE).bak"; \
	  install -m 600 "$$merged" "$(KUBECONFIG_FILE)"; \
	else \
	  install -m 600 "$$new" "$(KUBECONFIG_FILE)"; now="$$context"; \
	fi; \
	echo "context $$context -> https://$$api:6443 in $(KUBECONFIG_FILE); current context: $$now"; \
	if [ "$$now" != "$$context" ]; then echo "  not switched: kubectl config use-context $$context (or make kubeconfig ENV=$(ENV) USE_CONTEXT=1); meanwhile: $(KUBECTL) --context $$context get nodes"; fi

# VM=NAME of ENV, checked against the environment's main.tf.
tofu_vm_check = \
  if [ -z "$(VM)" ]; then echo "make: VM is not set: say which VM of $(ENV), e.g. make $@ ENV=$(ENV) VM=NAME" >&2; exit 2; fi; \
  case "$(VM)" in *[!a-z0-9-]*) echo "make: VM='$(VM)' is not a VM name (a-z, 0-9, -)" >&2; exit 2;; esac; \
  grep -q '^    "$(VM)" = {' "$(TOFU_ENV_DIR)/main.tf" || { echo "make: no VM '$(VM)' in environment $(ENV) ($(TOFU_ENV_DIR)/main.tf)" >&2; exit 2; }

.PHONY: upgrade reboot

# The clone is pinned in state (ignore_changes = [clone] in the module): a new image
# never replaces a running VM by itself. This is the explicit upgrade: one VM
# replaced from the template the spec names now (docs/upgrades.md). For a cluster run
# it VM by VM (drain, upgrade, wait Ready, next); a single server loses what lives only
# on its disk: back it up first.
upgrade: $(OPERATOR_GUARD) ## Replace VM of ENV with a clone of the current image (asks first; docs/upgrades.md)
	@$(tofu_env_check); $(tofu_vm_check); $(tofu_credentials_check)
	@$(tofu_init_if_needed)
	@TOFU='$(TOFU)' sh tools/tf-upgrade.sh "$(TOFU_ENV_DIR)" "$(VM)" $(TF_ARGS)

# Changes that need the VM off (cores, memory, CPU type) stay pending in Proxmox: the
# provider runs with reboot_after_update = false. This reboots VM through Proxmox
# (qm reboot on the node, over SSH), which applies them. A reboot from inside the guest
# does not.
reboot: ## Reboot VM of ENV through Proxmox to apply pending changes (qm reboot over SSH)
	@$(tofu_env_check); $(tofu_vm_check)
	@cmd=$$($(TOFU) -chdir="$(TOFU_ENV_DIR)" output -json reboot_commands 2>/dev/null | grep -o '"$(VM)": *"[^"]*"' | sed -e 's/^"$(VM)": *"//' -e 's/"$$//') || cmd=; \
	[ -n "$$cmd" ] || { echo "make: no reboot command for $(VM) in the state of $(ENV): run make tf-apply ENV=$(ENV) first" >&2; exit 2; }; \
	echo "$$cmd"; $$cmd
