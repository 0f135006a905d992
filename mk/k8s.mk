# Kubernetes operator targets: install Argo CD, hand it the app of apps, create the
# phpIPAM database Secret. They work on $(GENERATED)/k8s (run `homelabgen render` first)
# and on the kube context KUBE_CONTEXT (default: kubectl's current context); every
# kubectl call names that context, so a context switch mid-run cannot redirect it.
# docs/k8s.md explains each step.

GENERATED ?= generated
KUBECTL ?= kubectl
# The context `tofu output` prints for the cluster, e.g. homelab-k3s-single.
KUBE_CONTEXT ?=
# How long to wait for Argo CD to become available.
ARGOCD_TIMEOUT ?= 300s
# The name of the phpIPAM entry (its directory under $(GENERATED)/k8s/apps/ or infra/).
PHPIPAM_APP ?= phpipam
# FORCE=1 replaces an existing phpIPAM Secret.
FORCE ?= 0

K8S_TREE = $(GENERATED)/k8s

# Shell prologue of every target (one recipe line, so the variables carry on; no `grep -q`
# in pipes: under the top Makefile's pipefail its early exit fails the pipe): stop on
# errors, find kubectl, pick and check the context, prove the cluster answers. Leaves
# $$ctx and $$kc ("kubectl --context <ctx>") set. $(1): the target name.
define k8s_kubectl
set -eu; \
command -v $(KUBECTL) >/dev/null 2>&1 || { echo "$(1): '$(KUBECTL)' not found on PATH: install kubectl (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL=" >&2; exit 1; }; \
ctx='$(KUBE_CONTEXT)'; \
if [ -z "$$ctx" ]; then \
  ctx=$$($(KUBECTL) config current-context 2>/dev/null) || { echo "$(1): kubectl has no current context: set KUBE_CONTEXT=<context> (tofu output names it)" >&2; exit 1; }; \
fi; \
$(KUBECTL) config get-contexts -o name 2>/dev/null | grep -xF -- "$$ctx" >/dev/null || { echo "$(1): kube context '$$ctx' is not in your kubeconfig ($${KUBECONFIG:-~/.kube/config}): fetch the cluster's kubeconfig first (docs/k8s.md)" >&2; exit 1; }; \
kc="$(KUBECTL) --context $$ctx"; \
$$kc get --raw=/readyz --request-timeout=15s >/dev/null 2>&1 || { echo "$(1): the cluster of context '$$ctx' does not answer (kubectl --context $$ctx get --raw=/readyz)" >&2; exit 1; }; \
echo "$(1): kube context $$ctx"
endef

# The namespace a generated manifest installs into: metadata.name of a Namespace file,
# or spec.destination.namespace of an Application file (fixed layout, see crates/homelabgen-render/src/k8s.rs).
k8s_namespace_of = awk '/^metadata:/{m=1;next} m && /^  name: /{print $$2; exit} /^[a-z]/{m=0}' $(1)
k8s_destination_of = awk '/^  destination:/{d=1;next} d && /^    namespace: /{print $$2; exit} /^  [a-zA-Z]/{d=0}' $(1)

.PHONY: k8s-bootstrap argo phpipam-secret

k8s-bootstrap: $(OPERATOR_GUARD) ## Install Argo CD (kubectl apply --server-side -k $(GENERATED)/k8s/bootstrap) and wait for it
	@test -f "$(K8S_TREE)/bootstrap/kustomization.yaml" || { echo "$@: $(K8S_TREE)/bootstrap/kustomization.yaml is missing: run 'homelabgen render' (the spec needs a kubernetes: section)" >&2; exit 1; }; \
	$(call k8s_kubectl,$@); \
	ns=$$($(call k8s_namespace_of,"$(K8S_TREE)/bootstrap/namespace.yaml")); \
	echo "$@: server-side apply of $(K8S_TREE)/bootstrap (Argo CD's CRDs are too large for client-side apply)"; \
	$$kc apply --server-side --force-conflicts -k "$(K8S_TREE)/bootstrap"; \
	$$kc wait --for=condition=Established --timeout=60s crd/applications.argoproj.io crd/appprojects.argoproj.io; \
	echo "$@: waiting up to $(ARGOCD_TIMEOUT) for Argo CD in namespace $$ns"; \
	$$kc -n "$$ns" rollout status statefulset/argocd-application-controller --timeout=$(ARGOCD_TIMEOUT); \
	$$kc -n "$$ns" wait --for=condition=Available deployment --all --timeout=$(ARGOCD_TIMEOUT); \
	echo "$@: Argo CD is up. Next: make phpipam-secret (if you deploy phpIPAM), then make argo."; \
	echo "$@: UI: kubectl --context $$ctx -n $$ns port-forward svc/argocd-server 8080:443; user admin, password:"; \
	echo "      kubectl --context $$ctx -n $$ns get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d"

argo: $(OPERATOR_GUARD) $(ARGO_GUARD) ## Apply the app-of-apps root Application; Argo CD then syncs infra/ and apps/ from git
	@test -f "$(K8S_TREE)/root-app.yaml" || { echo "$@: $(K8S_TREE)/root-app.yaml is missing: run 'homelabgen render'" >&2; exit 1; }; \
	$(call k8s_kubectl,$@); \
	$$kc get crd applications.argoproj.io >/dev/null 2>&1 || { echo "$@: Argo CD is not installed in context $$ctx: run 'make k8s-bootstrap' first" >&2; exit 1; }; \
	ns=$$($(call k8s_namespace_of,"$(K8S_TREE)/bootstrap/namespace.yaml")); \
	app="$(K8S_TREE)/apps/$(PHPIPAM_APP)/application.yaml"; \
	if [ -f "$$app" ]; then \
	  pns=$$($(call k8s_destination_of,"$$app")); \
	  $$kc -n "$$pns" get secret mysql-password >/dev/null 2>&1 || echo "$@: warning: no Secret mysql-password in namespace $$pns yet: phpIPAM will not start until 'make phpipam-secret'" >&2; \
	fi; \
	$$kc apply --server-side -f "$(K8S_TREE)/root-app.yaml"; \
	echo "$@: root Application applied; Argo CD syncs the pushed commit from the repository, not this disk."; \
	echo "$@: watch: kubectl --context $$ctx -n $$ns get applications"

phpipam-secret: ## Create phpIPAM's database Secret (mysql-password) with a random password; keeps an existing one unless FORCE=1
	@app="$(K8S_TREE)/apps/$(PHPIPAM_APP)/application.yaml"; \
	test -f "$$app" || app="$(K8S_TREE)/infra/$(PHPIPAM_APP)/application.yaml"; \
	test -f "$$app" || { echo "$@: no $(K8S_TREE)/apps/$(PHPIPAM_APP)/application.yaml: render the tree, or set PHPIPAM_APP=<the phpIPAM entry's name>" >&2; exit 1; }; \
	command -v openssl >/dev/null 2>&1 || test -r /dev/urandom || { echo "$@: need openssl or /dev/urandom to make a password" >&2; exit 1; }; \
	$(call k8s_kubectl,$@); \
	ns=$$($(call k8s_destination_of,"$$app")); \
	test -n "$$ns" || { echo "$@: no destination namespace in $$app" >&2; exit 1; }; \
	force=""; \
	if $$kc -n "$$ns" get secret mysql-password >/dev/null 2>&1; then \
	  if [ "$(FORCE)" != 1 ]; then echo "$@: Secret mysql-password already exists in namespace $$ns: kept (FORCE=1 replaces it)"; exit 0; fi; \
	  echo "$@: FORCE=1: replacing Secret mysql-password in namespace $$ns (MariaDB keeps the password its volume was initialised with)"; \
	  force="--force-conflicts"; \
	fi; \
	$$kc create namespace "$$ns" --dry-run=client -o yaml | $$kc apply --server-side --field-manager=homelabgen -f - >/dev/null; \
	umask 077; tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	if command -v openssl >/dev/null 2>&1; then openssl rand -hex 24 | tr -d '\n' >"$$tmp"; \
	else head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$$tmp"; fi; \
	test "$$(wc -c <"$$tmp")" -eq 48 || { echo "$@: could not make a password" >&2; exit 1; }; \
	$$kc -n "$$ns" create secret generic mysql-password --from-file=password="$$tmp" --dry-run=client -o yaml \
	  | $$kc apply --server-side --field-manager=homelabgen $$force -f - >/dev/null; \
	echo "$@: Secret mysql-password (key password, 48 random hex characters) created in namespace $$ns; it is not printed and not in git"
