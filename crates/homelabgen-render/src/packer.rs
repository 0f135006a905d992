//! `packer/<image>/`: the golden image build for each image in the spec.
//!
//! One directory per image, a complete Packer template that builds the image two
//! ways with one shared provisioning sequence. Every file comes from the template of
//! the same name under `templates/packer/` (the image's directory left out), all
//! filled from one flat [`Context`]:
//!
//! | file                   | what it holds                                        |
//! |------------------------|------------------------------------------------------|
//! | `versions.pkr.hcl`     | `required_plugins`, pinned from `model.versions`      |
//! | `variables.pkr.hcl`    | every input, defaults from the Model; secrets without |
//! | `example.pkrvars.hcl`  | CHANGEME values and where each secret comes from      |
//! | `locals.pkr.hcl`       | the template name and values both sources share       |
//! | `sources.pkr.hcl`      | `source "qemu"` and `source "proxmox-iso"`            |
//! | `build.pkr.hcl`        | provisioners, manifest, upload of the qemu artifact   |
//! | `image-versions.txt`   | every pin of the image and where it comes from         |
//! | `http/ks.cfg`, `scripts/*.sh`, `README.md`, `.gitignore` | kickstart, provisioning, docs |
//!
//! Values reach the scripts only through Packer variables (as environment variables
//! of the provisioner), so a `-var` override changes the name and the content together.

use crate::{template, Tree};
use homelabgen_spec::model::{Image, Model, Site, Versions};
use serde::Serialize;

/// Packer core versions the templates work with: 1.9.x (the last MPL-2.0 line) and later.
pub const PACKER_REQUIRED_VERSION: &str = ">= 1.9.0";

/// Name of both sources: `qemu.alma` and `proxmox-iso.alma` in `-only=`.
pub const SOURCE_NAME: &str = "alma";

/// The user Packer connects as during the build. Root's password stays locked; its
/// only way in is the build key the kickstart installs, which `seal.sh` removes.
pub const BUILD_USER: &str = "root";

/// Pod and service networks of k3s (its defaults): trusted by firewalld.
pub const K3S_CLUSTER_CIDR: &str = "10.42.0.0/16";
pub const K3S_SERVICE_CIDR: &str = "10.43.0.0/16";

/// Provisioning scripts, in the order the build runs them (file names under `scripts/`).
pub const PROVISION_SCRIPTS: &[&str] = &[
    "updates.sh",
    "guest-agent.sh",
    "k3s-install.sh",
    "airgap-images.sh",
    "firewalld.sh",
    "openscap.sh",
    "seal.sh",
    "verify.sh",
];

/// Slot of the template's cloud-init drive on both paths. proxmox-iso puts it on the
/// first free IDE slot while the ISO sits on ide2, which is ide0; the qemu upload
/// script adds it there too, so clones of either template look the same.
pub const CLOUD_INIT_SLOT: &str = "ide0";

/// The oneshot unit `seal.sh` installs: on a clone's first boot it removes the random
/// seed the build VM saved at poweroff and relabels the k3s-selinux directories.
pub const FIRST_BOOT_UNIT: &str = "homelab-first-boot.service";

/// The unit `k3s-install.sh` installs and enables: on a clone's first boot, after
/// cloud-init wrote the VM's files, it enables and starts the k3s unit of the VM's role.
pub const ROLE_UNIT: &str = "homelab-k3s-role.service";

/// Where `k3s-install.sh` installs `scripts/k3s-role.sh` in the image (the role unit runs it).
pub const ROLE_SCRIPT: &str = "/usr/local/libexec/homelabgen/k3s-role";

/// Where the build's file provisioner uploads `scripts/k3s-role.sh` for `k3s-install.sh`.
pub const ROLE_SCRIPT_UPLOAD: &str = "/tmp/homelab-k3s-role.sh";

/// keepalived's health check of the local API server, written by the role script on a
/// server with an API address (SELinux labels this directory for keepalived's scripts).
pub const KEEPALIVED_CHECK: &str = "/usr/libexec/keepalived/homelab-k3s-api-check";

/// Ports only a k3s server serves (Kubernetes API, embedded etcd): opened on a server's
/// first boot, never in the template (an agent serves neither).
pub const SERVER_PORTS: &[&str] = &["6443/tcp", "2379-2380/tcp"];

/// containerd's snapshotter directory under `agent/containerd/`; k3s-selinux pre-creates
/// and labels its `snapshots/`.
pub const CONTAINERD_SNAPSHOTTER: &str = "io.containerd.snapshotter.v1.overlayfs";

/// How long proxmox-iso waits for a Proxmox task (ISO upload, shutdown, template).
pub const PROXMOX_TASK_TIMEOUT: &str = "10m";

/// The script the qemu source's post-processor runs on the workstation.
pub const UPLOAD_SCRIPT: &str = "upload-to-proxmox.sh";

/// The files of an image directory, in the order a reader meets them; `.sh` files are
/// written executable.
const FILES: &[&str] = &[
    "versions.pkr.hcl",
    "variables.pkr.hcl",
    "example.pkrvars.hcl",
    "locals.pkr.hcl",
    "sources.pkr.hcl",
    "build.pkr.hcl",
    "README.md",
    "image-versions.txt",
    ".gitignore",
    "http/ks.cfg",
    "scripts/updates.sh",
    "scripts/guest-agent.sh",
    "scripts/k3s-install.sh",
    "scripts/k3s-role.sh",
    "scripts/airgap-images.sh",
    "scripts/firewalld.sh",
    "scripts/openscap.sh",
    "scripts/seal.sh",
    "scripts/verify.sh",
    "scripts/upload-to-proxmox.sh",
];

/// Context of every template under `templates/packer/`.
#[derive(Serialize)]
struct Context<'a> {
    /// The header line every file starts with.
    header: String,
    /// The spec's path as given on the command line.
    spec_name: &'a str,
    /// The image this directory builds.
    image: &'a Image,
    /// Proxmox site: API, node, storages, bridge, SSH host for uploads.
    site: &'a Site,
    /// Pinned plugin versions.
    versions: &'a Versions,
    packer_required_version: &'static str,
    /// The AppStream repository next to the image's BaseOS one.
    appstream_url: String,
    source_name: &'static str,
    build_user: &'static str,
    provision_scripts: &'static [&'static str],
    upload_script: &'static str,
    cluster_cidr: &'static str,
    service_cidr: &'static str,
    /// MetalLB is enabled: k3s' servicelb is off and its port is opened.
    metallb: bool,
    /// The proxmox plugin has `boot_iso` and disk `ssd`/`discard` (see [`proxmox_plugin_1_2`]).
    proxmox_plugin_1_2: bool,
    /// Slot of the cloud-init drive ([`CLOUD_INIT_SLOT`]).
    cloud_init_slot: &'static str,
    /// proxmox-iso's `task_timeout` ([`PROXMOX_TASK_TIMEOUT`]).
    task_timeout: &'static str,
    /// The unit `seal.sh` installs for a clone's first boot ([`FIRST_BOOT_UNIT`]).
    first_boot_unit: &'static str,
    /// containerd's snapshotter directory ([`CONTAINERD_SNAPSHOTTER`]).
    snapshotter: &'static str,
    /// The first-boot role unit ([`ROLE_UNIT`]), its script in the image ([`ROLE_SCRIPT`])
    /// and where the build uploads it ([`ROLE_SCRIPT_UPLOAD`]).
    role_unit: &'static str,
    role_script: &'static str,
    role_script_upload: &'static str,
    /// keepalived's health check ([`KEEPALIVED_CHECK`]).
    keepalived_check: &'static str,
    /// Ports a server opens on its first boot ([`SERVER_PORTS`]).
    server_ports: &'static [&'static str],
    /// Every pinned input, for `image-versions.txt` and the README.
    pins: Vec<Pin>,
    /// VMs cloned from this image, `env/vm`, for the README.
    clones: Vec<String>,
}

/// One pinned input of the image: the Packer variable that carries it (empty when
/// none does), its value for this spec, and where that value comes from.
#[derive(Serialize)]
struct Pin {
    name: &'static str,
    variable: &'static str,
    value: String,
    origin: String,
}

fn origin(value: &str, default: &str, spec_path: &str) -> String {
    if value == default {
        format!("homelabgen default ({spec_path} not set, or set to the same)")
    } else {
        format!("spec {spec_path} (homelabgen default: {default})")
    }
}

/// Every pin the image uses, for `make image-versions` and the README.
fn pins(model: &Model, image: &Image) -> Vec<Pin> {
    use homelabgen_spec::defaults;
    let derived = |_: &str| {
        format!(
            "derived by homelabgen from os_version {} (the AlmaLinux mirror layout)",
            image.os_version
        )
    };
    vec![
        Pin {
            name: "AlmaLinux",
            variable: "os_version",
            value: image.os_version.clone(),
            origin: origin(&image.os_version, defaults::ALMALINUX, "images[].os_version"),
        },
        Pin {
            name: "boot ISO",
            variable: "iso_url",
            value: image.iso_url.clone(),
            origin: derived("iso_url"),
        },
        Pin {
            name: "ISO checksum",
            variable: "iso_checksum",
            value: image.iso_checksum.clone(),
            origin: derived("iso_checksum"),
        },
        Pin {
            name: "BaseOS repository",
            variable: "baseos_url",
            value: image.baseos_url.clone(),
            origin: derived("baseos_url"),
        },
        Pin {
            name: "AppStream repository",
            variable: "appstream_url",
            value: appstream_url(image),
            origin: derived("appstream_url"),
        },
        Pin {
            name: "OS packages",
            variable: "",
            value: "newest in those repositories at build time".to_owned(),
            origin: "not pinned: scripts/updates.sh runs dnf upgrade, so a rebuild picks up every update".to_owned(),
        },
        Pin {
            name: "k3s",
            variable: "k3s_version",
            value: image.k3s_version.clone(),
            origin: if image.k3s_version == defaults::K3S {
                "spec images[].k3s_version (required; the release homelabgen's default spec pins)".to_owned()
            } else {
                format!("spec images[].k3s_version (required; homelabgen's default spec pins {})", defaults::K3S)
            },
        },
        Pin {
            name: "k3s installer and airgap images",
            variable: "k3s_version",
            value: image.k3s_version.clone(),
            origin: "the k3s release of k3s_version (install.sh at its tag, images sha256-checked)".to_owned(),
        },
        Pin {
            name: "image release",
            variable: "image_release",
            value: image.release.to_string(),
            origin: "spec images[].release (make packer IMAGE_VERSION=N builds another)".to_owned(),
        },
        Pin {
            name: "packer-plugin-proxmox",
            variable: "",
            value: model.versions.packer_proxmox_plugin.clone(),
            origin: origin(&model.versions.packer_proxmox_plugin, defaults::PACKER_PROXMOX_PLUGIN, "versions.packer_proxmox_plugin"),
        },
        Pin {
            name: "packer-plugin-qemu",
            variable: "",
            value: model.versions.packer_qemu_plugin.clone(),
            origin: origin(&model.versions.packer_qemu_plugin, defaults::PACKER_QEMU_PLUGIN, "versions.packer_qemu_plugin"),
        },
        Pin {
            name: "Packer",
            variable: "",
            value: PACKER_REQUIRED_VERSION.to_owned(),
            origin: "homelabgen (required_version: 1.9.x is the last MPL-2.0 line)".to_owned(),
        },
    ]
}

pub fn render(model: &Model, tree: &mut Tree) {
    for image in &model.images {
        let clones = model
            .environments
            .iter()
            .flat_map(|env| {
                env.vms
                    .iter()
                    .filter(|vm| vm.image == image.name)
                    .map(move |vm| format!("{}/{}", env.name, vm.name))
            })
            .collect();
        let context = Context {
            header: model.header(),
            spec_name: &model.spec_name,
            image,
            site: &model.site,
            versions: &model.versions,
            packer_required_version: PACKER_REQUIRED_VERSION,
            appstream_url: appstream_url(image),
            source_name: SOURCE_NAME,
            build_user: BUILD_USER,
            provision_scripts: PROVISION_SCRIPTS,
            upload_script: UPLOAD_SCRIPT,
            cluster_cidr: K3S_CLUSTER_CIDR,
            service_cidr: K3S_SERVICE_CIDR,
            metallb: model
                .kubernetes
                .as_ref()
                .is_some_and(|k| k.metallb.is_some()),
            proxmox_plugin_1_2: proxmox_plugin_1_2(&model.versions.packer_proxmox_plugin),
            cloud_init_slot: CLOUD_INIT_SLOT,
            task_timeout: PROXMOX_TASK_TIMEOUT,
            first_boot_unit: FIRST_BOOT_UNIT,
            snapshotter: CONTAINERD_SNAPSHOTTER,
            role_unit: ROLE_UNIT,
            role_script: ROLE_SCRIPT,
            role_script_upload: ROLE_SCRIPT_UPLOAD,
            keepalived_check: KEEPALIVED_CHECK,
            server_ports: SERVER_PORTS,
            pins: pins(model, image),
            clones,
        };
        let context = template::context(&context);
        for file in FILES {
            let out = format!("packer/{}/{file}", image.name);
            template::add(tree, out, &format!("packer/{file}"), &context);
        }
    }
}

/// Whether the pinned proxmox plugin is 1.2.0 or later: it has the `boot_iso` block
/// (the top-level `iso_*` options it replaces are deprecated from then on) and the
/// `ssd` and `discard` options of a disk. Older plugins (1.1.1 is what the test
/// toolchain can build offline) get the top-level ISO options and a disk without them.
pub fn proxmox_plugin_1_2(version: &str) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (1, 2)
}

/// The AppStream repository next to the BaseOS one (cloud-init and the guest agent
/// live in AppStream).
pub fn appstream_url(image: &Image) -> String {
    image.baseos_url.replacen("/BaseOS/", "/AppStream/", 1)
}

#[cfg(test)]
mod tests;
