//! `variables.pkr.hcl` (every input, defaults from the Model) and
//! `example.pkrvars.hcl` (what a user must set, with CHANGEME values).

use crate::hcl;
use ::hcl::{Block, Body, Expression};
use homelabgen_spec::model::{Image, Model};

/// One `variable` block.
struct Var {
    name: &'static str,
    ty: &'static str,
    description: String,
    default: Option<Expression>,
    sensitive: bool,
    validation: Option<(&'static str, &'static str)>,
}

impl Var {
    fn new(
        name: &'static str,
        ty: &'static str,
        description: impl Into<String>,
        default: impl Into<Expression>,
    ) -> Var {
        Var {
            name,
            ty,
            description: description.into(),
            default: Some(default.into()),
            sensitive: false,
            validation: None,
        }
    }

    /// A variable the user must set (no default).
    fn required(name: &'static str, ty: &'static str, description: impl Into<String>) -> Var {
        Var {
            name,
            ty,
            description: description.into(),
            default: None,
            sensitive: false,
            validation: None,
        }
    }

    fn sensitive(mut self) -> Var {
        self.sensitive = true;
        self
    }

    fn validate(mut self, condition: &'static str, error_message: &'static str) -> Var {
        self.validation = Some((condition, error_message));
        self
    }

    fn block(self) -> Block {
        let mut block = Block::builder("variable")
            .add_label(self.name)
            .add_attribute(("type", hcl::expr(self.ty)))
            .add_attribute(("description", self.description));
        if let Some(default) = self.default {
            block = block.add_attribute(("default", default));
        }
        if self.sensitive {
            block = block.add_attribute(("sensitive", true));
        }
        if let Some((condition, message)) = self.validation {
            block = block.add_block(
                Block::builder("validation")
                    .add_attribute(("condition", hcl::expr(condition)))
                    .add_attribute(("error_message", message))
                    .build(),
            );
        }
        block.build()
    }
}

fn all(model: &Model, image: &Image) -> Vec<Var> {
    let site = &model.site;
    let legacy_proxmox = !super::proxmox_plugin_1_2(&model.versions.packer_proxmox_plugin);
    let mut vars = vec![
        // What the image is; the template name is made of the first four.
        Var::new("os_version", "string", "AlmaLinux release installed (part of the template name). Change it in the spec: the ISO and repositories below follow it there.", image.os_version.as_str())
            .validate(r#"can(regex("^9\\.[0-9]+$", var.os_version))"#, "The os_version must be an AlmaLinux 9 release such as 9.8."),
        Var::new("arch", "string", "Architecture as Kubernetes spells it (part of the template name).", image.arch.as_str())
            .validate(r#"contains(["amd64"], var.arch)"#, "Only amd64 images are supported."),
        Var::new("k3s_version", "string", "k3s release baked into the image, as the k3s installer wants it (vX.Y.Z+k3sN). The template name spells the + as -.", image.k3s_version.as_str())
            .validate(r#"can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+$", var.k3s_version))"#, "The k3s_version must look like v1.36.3+k3s1."),
        Var::new("image_release", "number", "Release number of this build, the -vN suffix of the template name. `make packer IMAGE_VERSION=N` sets it; OpenTofu clones the release the spec names.", image.release)
            .validate("var.image_release >= 1 && floor(var.image_release) == var.image_release", "The image_release must be a whole number, 1 or more."),
        Var::new("k3s_disable", "list(string)", "Packaged k3s components disabled in /etc/rancher/k3s/config.yaml.", image.k3s_disable.clone()),
        Var::new("airgap_images", "bool", "Preload the k3s airgap images for k3s_version so a clone's first boot pulls nothing.", image.airgap_images),
        Var::new("openscap", "bool", "Run the OpenSCAP step (a stub: see scripts/openscap.sh).", image.openscap),
        // Where it is installed from.
        Var::new("iso_url", "string", "AlmaLinux boot ISO.", image.iso_url.as_str()),
        Var::new("iso_checksum", "string", "Checksum of the ISO, in Packer's form (file:URL of the CHECKSUM file).", image.iso_checksum.as_str()),
        Var::new("baseos_url", "string", "BaseOS repository the kickstart installs from.", image.baseos_url.as_str()),
        Var::new("appstream_url", "string", "AppStream repository (cloud-init, qemu-guest-agent).", super::appstream_url(image)),
        // The build VM.
        Var::new("cores", "number", "CPU cores of the build VM (and of the template the qemu build uploads).", image.build.cores),
        Var::new("memory", "number", "Memory of the build VM in MiB.", image.build.memory_mib),
        Var::new("disk_size", "string", "Disk of the image; clones may grow it, cloud-init grows the root file system.", format!("{}G", image.build.disk_gib)),
        // Proxmox.
        Var::new("proxmox_url", "string", "Proxmox VE API for the proxmox-iso source.", site.api_url.as_str()),
        Var::new("proxmox_node", "string", "Proxmox node the template is built on.", site.node.as_str()),
        Var::new("proxmox_insecure_tls", "bool", "Skip TLS verification of the API (Proxmox ships a self-signed certificate).", site.insecure_tls),
        Var::required("proxmox_username", "string", "API token id for the proxmox-iso source, user@realm!tokenname (see README.md for the permissions it needs). Set PKR_VAR_proxmox_username."),
        Var::required("proxmox_token", "string", "Secret of that API token (a UUID). Never commit it: set PKR_VAR_proxmox_token in the environment.").sensitive(),
        Var::new("vm_storage", "string", "Datastore for the template's disk, EFI disk and cloud-init drive.", site.storage.vm.as_str()),
        Var::new("iso_storage", "string", "Datastore the proxmox-iso source uploads the ISO to.", site.storage.iso.as_str()),
        Var::new("bridge", "string", "Bridge of the template's network interface (needs DHCP during a proxmox-iso build).", site.bridge.as_str()),
        Var::new("template_vm_id", "number", "VM id of the template; 0 lets Proxmox pick the next free id.", image.template_vm_id.unwrap_or(0))
            .validate("var.template_vm_id == 0 || (var.template_vm_id >= 100 && var.template_vm_id <= 999999999)", "The template_vm_id must be 0 (next free id) or 100 to 999999999."),
        Var::new("proxmox_ssh_host", "string", "Host the qemu build uploads its disk to over SSH (scripts/upload-to-proxmox.sh).", site.ssh_host.as_str()),
        Var::new("proxmox_ssh_user", "string", "SSH user on that host; it runs qm, so root or a user allowed to.", site.ssh_user.as_str()),
        // Build access and the local qemu build.
        Var::required("build_ssh_key", "string", "Private key Packer logs in with during the build; its public half (the same path + .pub) is put into the kickstart and removed by scripts/seal.sh. Set PKR_VAR_build_ssh_key."),
        Var::new("http_bind_address", "string", "Address Packer's HTTP server (the kickstart) listens on and gives the build VM in the boot command; empty: every address, the VM gets the one Packer picks (see README.md). Set this or http_interface, not both.", ""),
        Var::new("http_interface", "string", "Network interface whose address the build VM gets for Packer's HTTP server (e.g. the LAN interface, not docker0 or a VPN); empty: Packer picks. Set this or http_bind_address, not both.", ""),
        Var::new("boot_wait", "string", "How long to wait for the ISO's boot menu before typing the boot command; raise it on slow hosts.", "15s"),
        Var::new("qemu_accelerator", "string", "Accelerator of the local qemu build: kvm, or tcg where /dev/kvm is missing (slow).", "kvm"),
        Var::new("ovmf_code", "string", "OVMF firmware code for the qemu build (Debian/Ubuntu path; Fedora: /usr/share/edk2/ovmf/OVMF_CODE.fd).", "/usr/share/OVMF/OVMF_CODE_4M.fd"),
        Var::new("ovmf_vars", "string", "OVMF variables template for the qemu build (copied per build).", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
        Var::new("headless", "bool", "Run the local qemu build without a window (watch it over VNC).", true),
    ];
    if legacy_proxmox {
        vars.push(Var::new(
            "vm_storage_type",
            "string",
            "Type of vm_storage (lvm-thin, zfspool, dir, ...): proxmox plugins before 1.2 need it as storage_pool_type.",
            "lvm-thin",
        ));
    }
    vars
}

pub fn variables(model: &Model, image: &Image, header: &str) -> String {
    let body = Body::builder()
        .add_blocks(all(model, image).into_iter().map(Var::block))
        .build();
    hcl::file(header, &body)
}

/// `example.pkrvars.hcl`: the variables without a default, and the ones a user
/// usually changes per workstation, each with a comment. Secrets are never put in a
/// file: the example says which environment variable carries them.
pub fn example(model: &Model, image: &Image, header: &str) -> String {
    let entry = |comments: &[&str], name: &str, value: Expression| {
        let mut text: String = comments
            .iter()
            .map(|c| {
                if c.is_empty() {
                    "#\n".to_owned()
                } else {
                    format!("# {c}\n")
                }
            })
            .collect();
        text.push_str(&hcl::format(
            &Body::builder().add_attribute((name, value)).build(),
        ));
        text
    };
    let entries = [
        entry(
            &[
                "Copy to a file that stays out of git (e.g. local.pkrvars.hcl, ignored by .gitignore here)",
                "and pass it with -var-file, or export PKR_VAR_<name> for each value.",
                "",
                "Proxmox API token for the proxmox-iso source: Datacenter > Permissions > API Tokens.",
                "The permissions it needs are in README.md.",
            ],
            "proxmox_username",
            "CHANGEME@pve!packer".into(),
        ),
        entry(
            &[
                "TODO: never write the token secret into a file. Export it instead:",
                "  export PKR_VAR_proxmox_token=\"$(pass show homelab/proxmox-packer-token)\"",
                "The qemu source does not use it; Packer still asks for every variable, so a qemu-only",
                "build may set PKR_VAR_proxmox_token=unused.",
            ],
            "proxmox_token",
            "CHANGEME-use-PKR_VAR_proxmox_token".into(),
        ),
        entry(
            &[
                "Build key: ssh-keygen -t ed25519 -N '' -f ~/.ssh/homelab-packer-build",
                "Its public half (same path + .pub) goes into the kickstart; the image keeps neither.",
            ],
            "build_ssh_key",
            "~/.ssh/CHANGEME-homelab-packer-build".into(),
        ),
        entry(
            &[
                "Where the qemu build uploads its disk (scripts/upload-to-proxmox.sh, over SSH).",
                "The spec's value is the default; change it there unless this workstation differs.",
            ],
            "proxmox_ssh_host",
            model.site.ssh_host.as_str().into(),
        ),
        entry(
            &["Release of this build; `make packer IMAGE_VERSION=N` sets it from the command line."],
            "image_release",
            image.release.into(),
        ),
    ];
    format!("# {header}\n\n{}", entries.join("\n"))
}
