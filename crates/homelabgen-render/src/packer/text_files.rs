//! Files that are not HCL: the kickstart, the scripts, the README and `.gitignore`,
//! from `templates/packer/`, each template named after the file it renders.

use super::{
    appstream_url, proxmox_plugin_1_2, BUILD_USER, CLOUD_INIT_SLOT, CONTAINERD_SNAPSHOTTER,
    FIRST_BOOT_UNIT, K3S_CLUSTER_CIDR, K3S_SERVICE_CIDR, PROVISION_SCRIPTS, PROXMOX_TASK_TIMEOUT,
    SOURCE_NAME, UPLOAD_SCRIPT,
};
use crate::{text, Tree};
use homelabgen_spec::model::{Image, Model};
use serde::Serialize;

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
            value: super::PACKER_REQUIRED_VERSION.to_owned(),
            origin: "homelabgen (required_version: 1.9.x is the last MPL-2.0 line)".to_owned(),
        },
    ]
}

#[derive(Serialize)]
struct Context<'a> {
    header: String,
    spec_name: &'a str,
    image: &'a Image,
    site: &'a homelabgen_spec::model::Site,
    versions: &'a homelabgen_spec::model::Versions,
    appstream_url: String,
    source_name: &'static str,
    build_user: &'static str,
    provision_scripts: &'static [&'static str],
    upload_script: &'static str,
    cluster_cidr: &'static str,
    service_cidr: &'static str,
    metallb: bool,
    proxmox_plugin_1_2: bool,
    cloud_init_slot: &'static str,
    task_timeout: &'static str,
    first_boot_unit: &'static str,
    snapshotter: &'static str,
    pins: Vec<Pin>,
    /// VMs cloned from this image, `env/vm`, for the README.
    clones: Vec<String>,
}

/// Templates of the image directory: (path in the directory, template source, executable).
const FILES: &[(&str, &str, bool)] = &[
    (
        "README.md",
        include_str!("../../templates/packer/README.md.j2"),
        false,
    ),
    (
        "image-versions.txt",
        include_str!("../../templates/packer/image-versions.txt.j2"),
        false,
    ),
    (
        ".gitignore",
        include_str!("../../templates/packer/gitignore.j2"),
        false,
    ),
    (
        "http/ks.cfg",
        include_str!("../../templates/packer/http/ks.cfg.j2"),
        false,
    ),
    (
        "scripts/updates.sh",
        include_str!("../../templates/packer/scripts/updates.sh.j2"),
        true,
    ),
    (
        "scripts/guest-agent.sh",
        include_str!("../../templates/packer/scripts/guest-agent.sh.j2"),
        true,
    ),
    (
        "scripts/k3s-install.sh",
        include_str!("../../templates/packer/scripts/k3s-install.sh.j2"),
        true,
    ),
    (
        "scripts/airgap-images.sh",
        include_str!("../../templates/packer/scripts/airgap-images.sh.j2"),
        true,
    ),
    (
        "scripts/firewalld.sh",
        include_str!("../../templates/packer/scripts/firewalld.sh.j2"),
        true,
    ),
    (
        "scripts/openscap.sh",
        include_str!("../../templates/packer/scripts/openscap.sh.j2"),
        true,
    ),
    (
        "scripts/seal.sh",
        include_str!("../../templates/packer/scripts/seal.sh.j2"),
        true,
    ),
    (
        "scripts/verify.sh",
        include_str!("../../templates/packer/scripts/verify.sh.j2"),
        true,
    ),
    (
        "scripts/check-template-name.sh",
        include_str!("../../templates/packer/scripts/check-template-name.sh.j2"),
        true,
    ),
    (
        "scripts/upload-to-proxmox.sh",
        include_str!("../../templates/packer/scripts/upload-to-proxmox.sh.j2"),
        true,
    ),
];

pub fn render(model: &Model, image: &Image, dir: &str, tree: &mut Tree) {
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
        pins: pins(model, image),
        clones,
    };
    for (path, source, executable) in FILES {
        let name = format!("packer/{path}");
        let contents = text::render(&name, source, &context);
        if *executable {
            tree.add_script(format!("{dir}/{path}"), contents);
        } else {
            tree.add(format!("{dir}/{path}"), contents);
        }
    }
}
