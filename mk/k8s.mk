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
# FORCE=1 replaces an existing phpIPAM Secret (or its sealed file).
FORCE ?= 0
# Sealed secrets (kubernetes.sealed_secrets in the spec): kubeseal, the certificate to
# seal with (default: fetched from the cluster's controller), and the directory the
# sealed files go to (default: the spec's sealed_secrets.path in this repository).
KUBESEAL ?= kubeseal
SEALED_SECRETS_CERT ?=
SECRETS_DIR ?=

K8S_TREE = $(GENERATED)/k8s
# The Application syncing the sealed files; present when the spec enables sealed secrets.
K8S_SEALED_APP = $(K8S_TREE)/infra/sealed-secrets/secrets-application.yaml

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
# The directory of the sealed files: SECRETS_DIR, else the repository path the Application
# `secrets` reads (spec.source.path), under the top of the git checkout holding the tree.
define k8s_sealed_dir
$$(if [ -n '$(SECRETS_DIR)' ]; then printf '%s' '$(SECRETS_DIR)'; else \
  rel=$$(awk '/^  source:/{s=1;next} s && /^    path: /{print $$2; exit}' "$(K8S_SEALED_APP)"); \
  top=$$(git -C "$(K8S_TREE)" rev-parse --show-toplevel 2>/dev/null || echo .); printf '%s/%s' "$$top" "$$rel"; fi)
endef

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
	if [ -f "$$app" ] && [ -f "$(K8S_SEALED_APP)" ]; then \
	  pns=$$($(call k8s_destination_of,"$$app")); sealed="$(k8s_sealed_dir)/$$pns/mysql-password.yaml"; \
	  test -f "$$sealed" || echo "$@: warning: no sealed $$sealed yet: phpIPAM will not start until 'make phpipam-secret' and a push of that file" >&2; \
	elif [ -f "$$app" ]; then \
	  pns=$$($(call k8s_destination_of,"$$app")); \
	  $$kc -n "$$pns" get secret mysql-password >/dev/null 2>&1 || echo "$@: warning: no Secret mysql-password in namespace $$pns yet: phpIPAM will not start until 'make phpipam-secret'" >&2; \
	fi; \
	$$kc apply --server-side -f "$(K8S_TREE)/root-app.yaml"; \
	echo "$@: root Application applied; Argo CD syncs the pushed commit from the repository, not this disk."; \
	echo "$@: watch: kubectl --context $$ctx -n $$ns get applications"

ifneq ($(wildcard $(K8S_SEALED_APP)),)
# Sealed secrets: a random password, sealed with the controller's certificate into a file
# Argo CD syncs from git (docs/k8s.md). The password exists only in a mode-600 temporary
# file while kubeseal encrypts it; it is never printed nor on a command line.
phpipam-secret: ## Seal a random phpIPAM database password into <sealed_secrets.path>/<namespace>/mysql-password.yaml (commit it); FORCE=1 replaces
	@app="$(K8S_TREE)/apps/$(PHPIPAM_APP)/application.yaml"; \
	test -f "$$app" || app="$(K8S_TREE)/infra/$(PHPIPAM_APP)/application.yaml"; \
	test -f "$$app" || { echo "$@: no $(K8S_TREE)/apps/$(PHPIPAM_APP)/application.yaml: render the tree, or set PHPIPAM_APP=<the phpIPAM entry's name>" >&2; exit 1; }; \
	command -v $(KUBESEAL) >/dev/null 2>&1 || { echo "$@: '$(KUBESEAL)' not found on PATH: make tools builds it (source ~/.cache/homelabgen/tools/env.sh), or set KUBESEAL=" >&2; exit 1; }; \
	command -v openssl >/dev/null 2>&1 || test -r /dev/urandom || { echo "$@: need openssl or /dev/urandom to make a password" >&2; exit 1; }; \
	ns=$$($(call k8s_destination_of,"$$app")); \
	test -n "$$ns" || { echo "$@: no destination namespace in $$app" >&2; exit 1; }; \
	dir="$(k8s_sealed_dir)"; out="$$dir/$$ns/mysql-password.yaml"; \
	if [ -f "$$out" ] && [ "$(FORCE)" != 1 ]; then echo "$@: $$out exists: kept (FORCE=1 replaces it)"; exit 0; fi; \
	umask 077; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cert='$(SEALED_SECRETS_CERT)'; \
	if [ -z "$$cert" ]; then \
	  $(call k8s_kubectl,$@); \
	  cert="$$tmp/cert.pem"; \
	  $(KUBESEAL) --context "$$ctx" --fetch-cert >"$$cert" 2>"$$tmp/err" || { echo "$@: cannot fetch the sealed-secrets certificate from context $$ctx: $$(cat "$$tmp/err")" >&2; echo "      is the sealed-secrets Application synced (make argo, then wait)? Or seal offline: SEALED_SECRETS_CERT=<cert.pem>" >&2; exit 1; }; \
	fi; \
	test -s "$$cert" || { echo "$@: certificate '$$cert' is missing or empty" >&2; exit 1; }; \
	if command -v openssl >/dev/null 2>&1; then openssl rand -hex 24 | tr -d '\n' >"$$tmp/pw"; \
	else head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$$tmp/pw"; fi; \
	test "$$(wc -c <"$$tmp/pw")" -eq 48 || { echo "$@: could not make a password" >&2; exit 1; }; \
	{ printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysql-password\n  namespace: %s\ntype: Opaque\ndata:\n  password: ' "$$ns"; \
	  base64 <"$$tmp/pw" | tr -d '\n'; printf '\n'; } >"$$tmp/secret.yaml"; \
	$(KUBESEAL) --cert "$$cert" --format yaml <"$$tmp/secret.yaml" >"$$tmp/sealed.yaml" || { echo "$@: kubeseal failed" >&2; exit 1; }; \
	grep -q '^kind: SealedSecret' "$$tmp/sealed.yaml" || { echo "$@: kubeseal wrote no SealedSecret" >&2; exit 1; }; \
	mkdir -p "$$dir/$$ns"; chmod 0644 "$$tmp/sealed.yaml"; mv -f "$$tmp/sealed.yaml" "$$out"; \
	echo "$@: sealed a random password (48 hex characters, not printed) into $$out"; \
	echo "$@: only the cluster's sealed-secrets controller can open it. Commit and push it; Argo CD's Application 'secrets' syncs it."; \
	if [ "$(FORCE)" = 1 ]; then echo "$@: FORCE=1: MariaDB keeps the password its volume was initialised with (docs/k8s.md)"; fi
else
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
endif
