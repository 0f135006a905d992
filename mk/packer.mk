# Packer: build and validate the golden image(s) in $(GENERATED)/packer/<image>/.
# Included by the top-level Makefile; `make help` lists the targets.
#
#   make packer IMAGE_VERSION=2                      qemu build, upload, qm template
#   make packer IMAGE_VERSION=2 SOURCE=proxmox-iso   build on Proxmox through the API
#   make packer-validate                             fmt -check, init, validate (offline)
#   make image-versions                              every pin of the image and its origin
# IMAGE picks the image directory when the spec has several (default: the only one).
# VAR_FILE adds a -var-file (e.g. a git-ignored local.pkrvars.hcl next to the example).
# Packer itself also loads the image directory's *.auto.pkrvars.hcl (git-ignored too),
# in lexical order and before any -var-file; the checks and doctor below read the same
# files in the same order (PACKER_VAR_FILES).

GENERATED ?= generated
SOURCE ?= qemu
IMAGE_VERSION ?=
VAR_FILE ?=
PACKER_IMAGES := $(notdir $(patsubst %/,%,$(dir $(wildcard $(GENERATED)/packer/*/build.pkr.hcl))))
IMAGE ?= $(if $(filter 1,$(words $(PACKER_IMAGES))),$(PACKER_IMAGES))
PACKER_DIR = $(GENERATED)/packer/$(IMAGE)
PACKER_VAR_FILES = $(sort $(wildcard $(PACKER_DIR)/*.auto.pkrvars.hcl)) $(if $(VAR_FILE),$(abspath $(VAR_FILE)))

.PHONY: packer packer-validate packer-check-inputs image-versions
PACKER_VAR_FILE_ARG = $(if $(VAR_FILE),-var-file="$(abspath $(VAR_FILE))")

packer-check-inputs:
	@command -v packer >/dev/null || { echo "make: packer is missing: install Packer 1.9+ (or run make tools: make targets then find it themselves)" >&2; exit 2; }
	@[ -n "$(PACKER_IMAGES)" ] || { echo "make: no image under $(GENERATED)/packer: run 'make render'" >&2; exit 2; }
	@[ -n "$(IMAGE)" ] || { echo "make: several images ($(PACKER_IMAGES)): pick one with IMAGE=<name>" >&2; exit 2; }
	@[ -f "$(PACKER_DIR)/build.pkr.hcl" ] || { echo "make: $(PACKER_DIR) is not an image directory (images: $(PACKER_IMAGES))" >&2; exit 2; }
	@[ -z "$(VAR_FILE)" ] || [ -f "$(VAR_FILE)" ] || { echo "make: VAR_FILE=$(VAR_FILE) does not exist" >&2; exit 2; }

packer: $(OPERATOR_GUARD) $(DOCTOR_BUILD) packer-check-inputs ## Build the golden image: IMAGE_VERSION=N (release), SOURCE=qemu|proxmox-iso
	@case "$(SOURCE)" in qemu|proxmox-iso) ;; *) echo "make: SOURCE must be qemu or proxmox-iso, not '$(SOURCE)'" >&2; exit 2 ;; esac
	@case "$(IMAGE_VERSION)" in '') ;; *[!0-9]*|0*) echo "make: IMAGE_VERSION must be a release number (1, 2, ...), not '$(IMAGE_VERSION)'" >&2; exit 2 ;; esac
	@for f in $(PACKER_VAR_FILES); do if grep -n CHANGEME "$$f" >&2; then echo "make: $$f still holds the CHANGEME values above: replace them" >&2; exit 2; fi; done
	@missing=""; \
	 [ -n "$(strip $(PACKER_VAR_FILES))" ] || [ -n "$${PKR_VAR_build_ssh_key:-}" ] || missing="$$missing PKR_VAR_build_ssh_key (the build key, see $(PACKER_DIR)/README.md)"; \
	 if [ "$(SOURCE)" = proxmox-iso ] && [ -z "$(strip $(PACKER_VAR_FILES))" ]; then \
	   [ -n "$${PKR_VAR_proxmox_username:-}" ] || missing="$$missing PKR_VAR_proxmox_username (token id user@realm!name)"; \
	   [ -n "$${PKR_VAR_proxmox_token:-}" ] || missing="$$missing PKR_VAR_proxmox_token (TODO: from your secret store)"; \
	 fi; \
	 [ -z "$$missing" ] || { echo "make: set$$missing" | sed 's/ PKR_/\n  PKR_/g' >&2; exit 2; }
	@spec_release=$$(echo var.image_release | packer console "$(PACKER_DIR)"); \
	 if [ -n "$(IMAGE_VERSION)" ] && [ "$(IMAGE_VERSION)" != "$$spec_release" ]; then \
	   echo "note: building release $(IMAGE_VERSION); the spec says $$spec_release, so OpenTofu still clones v$$spec_release." >&2; \
	   echo "      Set images[].release: $(IMAGE_VERSION) in the spec and run 'make render' to deploy this build." >&2; \
	 fi
	@# doctor first. proxmox-iso: the site, the Packer token (the var files, else PKR_VAR_*) and
	@# its privileges, the ISO storage, and no VM holds the template name yet. qemu: the
	@# upload's SSH login, REMOTE_TMPDIR and qm, with the environment the upload script
	@# gets (PROXMOX_SSH_PORT/_IDENTITY/_KNOWN_HOSTS, REMOTE_TMPDIR, proxmox_ssh_user/_host).
	@$(call doctor_gate,--for packer --source $(SOURCE) --image "$(IMAGE)" $(if $(IMAGE_VERSION),--release $(IMAGE_VERSION)) $(foreach f,$(PACKER_VAR_FILES),--var-file "$(f)"))
	cd "$(PACKER_DIR)" && packer init .
	@# The qemu source does not use the API token, but Packer asks for every variable.
	cd "$(PACKER_DIR)" && \
	  $(if $(filter qemu,$(SOURCE)),PKR_VAR_proxmox_username="$${PKR_VAR_proxmox_username:-unused-by-qemu}" PKR_VAR_proxmox_token="$${PKR_VAR_proxmox_token:-unused-by-qemu}") \
	  packer build -only='$(SOURCE).alma' \
	  $(if $(VAR_FILE),-var-file="$(abspath $(VAR_FILE))") \
	  $(if $(IMAGE_VERSION),-var image_release=$(IMAGE_VERSION)) .

packer-validate: packer-check-inputs ## packer fmt -check, init and validate the image with example.pkrvars.hcl, offline
	@# The example's build key is a placeholder: use PKR_VAR_build_ssh_key, else a throwaway key.
	@# iso_checksum=none: the spec's file: checksum would be downloaded while validating.
	@key="$${PKR_VAR_build_ssh_key:-}"; tmp=""; \
	 if [ -z "$$key" ]; then tmp=$$(mktemp -d) && key="$$tmp/build_key" && ssh-keygen -q -t ed25519 -N '' -f "$$key" || exit 2; fi; \
	 cd "$(PACKER_DIR)" && packer fmt -check -recursive . && packer init . && \
	   packer validate -var-file=example.pkrvars.hcl $(PACKER_VAR_FILE_ARG) -var "build_ssh_key=$$key" -var iso_checksum=none .; \
	 status=$$?; [ -z "$$tmp" ] || rm -rf "$$tmp"; exit $$status

image-versions: packer-check-inputs ## Every pin of the image (OS, ISO, repositories, k3s, plugins) and where it comes from
	@list="$(PACKER_DIR)/image-versions.txt"; \
	 [ -f "$$list" ] || { echo "make: $$list is missing: run 'make render'" >&2; exit 2; }; \
	 vars=$$(awk -F'\t' '!/^#/ && $$2 != "-" { print $$2 }' "$$list" | sort -u); \
	 expr="join(\"\\n\", [$$(for v in $$vars; do printf '"%s=$${var.%s}",' "$$v" "$$v"; done)])"; \
	 now=$$(echo "$$expr" | PKR_VAR_proxmox_username=$${PKR_VAR_proxmox_username:-unused} PKR_VAR_proxmox_token=$${PKR_VAR_proxmox_token:-unused} \
	   PKR_VAR_build_ssh_key=$${PKR_VAR_build_ssh_key:-unused} packer console $(PACKER_VAR_FILE_ARG) "$(PACKER_DIR)") || \
	   { echo "make: packer console cannot evaluate the variables of $(PACKER_DIR)" >&2; exit 2; }; \
	 echo "Image $(IMAGE) ($$list):"; \
	 awk -F'\t' -v now="$$now" 'BEGIN { n = split(now, lines, "\n"); for (i = 1; i <= n; i++) { eq = index(lines[i], "="); value[substr(lines[i], 1, eq - 1)] = substr(lines[i], eq + 1) } } \
	   /^#/ { next } { origin = $$4; \
	     if ($$2 != "-" && ($$2 in value) && value[$$2] != $$3) { origin = "overridden for this build (a var file or PKR_VAR_" $$2 "); the spec says " $$3; $$3 = value[$$2] } \
	     printf "  %-32s %s\n  %-32s   from: %s\n", $$1, $$3, "", origin }' OFS='\t' "$$list"
