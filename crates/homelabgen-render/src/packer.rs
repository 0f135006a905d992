//! `packer/<image>/`: the golden image build for each image in the spec.
//!
//! One directory per image, a complete Packer template that builds the image two
//! ways with one shared provisioning sequence:
//!
//! | file                   | rendered by     | what it holds                                        |
//! |------------------------|-----------------|------------------------------------------------------|
//! | `versions.pkr.hcl`     | [`hcl_files`]   | `required_plugins`, pinned from `model.versions`      |
//! | `variables.pkr.hcl`    | [`variables`]   | every input, defaults from the Model; secrets without |
//! | `example.pkrvars.hcl`  | [`variables`]   | CHANGEME values and where each secret comes from      |
//! | `locals.pkr.hcl`       | [`hcl_files`]   | the template name and values both sources share       |
//! | `sources.pkr.hcl`      | [`sources`]     | `source "qemu"` and `source "proxmox-iso"`            |
//! | `build.pkr.hcl`        | [`build`]       | provisioners, manifest, upload of the qemu artifact   |
//! | `http/ks.cfg`, `scripts/*.sh`, `README.md`, `.gitignore`, `image-versions.txt` | [`text_files`] | minijinja templates |
//!
//! Values reach the scripts only through Packer variables (as environment variables
//! of the provisioner), so a `-var` override changes the name and the content together.

mod build;
mod hcl_files;
mod sources;
mod text_files;
mod variables;

use crate::Tree;
use homelabgen_spec::model::{Image, Model};

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

/// containerd's snapshotter directory under `agent/containerd/`; k3s-selinux pre-creates
/// and labels its `snapshots/`.
pub const CONTAINERD_SNAPSHOTTER: &str = "io.containerd.snapshotter.v1.overlayfs";

/// How long proxmox-iso waits for a Proxmox task (ISO upload, shutdown, template).
pub const PROXMOX_TASK_TIMEOUT: &str = "10m";

/// The script the qemu source's post-processor runs on the workstation.
pub const UPLOAD_SCRIPT: &str = "upload-to-proxmox.sh";

pub fn render(model: &Model, tree: &mut Tree) {
    for image in &model.images {
        let dir = format!("packer/{}", image.name);
        let header = model.header();
        tree.add(
            format!("{dir}/versions.pkr.hcl"),
            hcl_files::versions(model, &header),
        );
        tree.add(
            format!("{dir}/variables.pkr.hcl"),
            variables::variables(model, image, &header),
        );
        tree.add(
            format!("{dir}/example.pkrvars.hcl"),
            variables::example(model, image, &header),
        );
        tree.add(format!("{dir}/locals.pkr.hcl"), hcl_files::locals(&header));
        tree.add(
            format!("{dir}/sources.pkr.hcl"),
            sources::sources(model, &header),
        );
        tree.add(format!("{dir}/build.pkr.hcl"), build::build(&header));
        text_files::render(model, image, &dir, tree);
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
