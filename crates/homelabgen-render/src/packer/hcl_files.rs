//! `versions.pkr.hcl` and `locals.pkr.hcl`.

use super::PACKER_REQUIRED_VERSION;
use crate::hcl;
use ::hcl::{Block, Body, Expression, Identifier, Object, ObjectKey};
use homelabgen_spec::model::Model;

/// `packer { required_version, required_plugins { ... } }`, both plugins pinned exactly.
pub fn versions(model: &Model, header: &str) -> String {
    let plugin = |name: &str, version: &str| -> Expression {
        let spec: Object<ObjectKey, Expression> = [
            (
                ident("source"),
                Expression::from(format!("github.com/hashicorp/{name}")),
            ),
            (ident("version"), Expression::from(format!("= {version}"))),
        ]
        .into_iter()
        .collect();
        Expression::Object(spec)
    };
    let required_plugins = Block::builder("required_plugins")
        .add_attribute((
            "proxmox",
            plugin("proxmox", &model.versions.packer_proxmox_plugin),
        ))
        .add_attribute(("qemu", plugin("qemu", &model.versions.packer_qemu_plugin)))
        .build();
    let body = Body::builder()
        .add_block(
            Block::builder("packer")
                .add_attribute(("required_version", PACKER_REQUIRED_VERSION))
                .add_block(required_plugins)
                .build(),
        )
        .build();
    hcl::file(header, &body)
}

/// Values both sources and the build share. The template name is computed here from
/// the variables, so `-var image_release=N` renames the template; for the defaults it
/// equals the Model's `template_name` (checked with the real `packer console`).
pub fn locals(header: &str) -> String {
    let body = Body::builder()
        .add_block(
            Block::builder("locals")
                .add_attribute((
                    "template_name",
                    hcl::expr(r#""alma${var.os_version}-k3-node-${var.arch}-${replace(var.k3s_version, "+", "-")}-v${var.image_release}""#),
                ))
                .add_attribute(("output_directory", hcl::expr(r#""${path.root}/output/${local.template_name}""#)))
                .add_attribute(("disk_file", hcl::expr(r#""${local.template_name}.qcow2""#)))
                .add_attribute(("build_ssh_public_key", hcl::expr(r#"trimspace(file(pathexpand("${var.build_ssh_key}.pub")))"#)))
                .add_attribute((
                    "http_content",
                    hcl::expr(
                        r#"{
  "/ks.cfg" = templatefile("${path.root}/http/ks.cfg", {
    baseos_url           = var.baseos_url
    appstream_url        = var.appstream_url
    build_ssh_public_key = local.build_ssh_public_key
  })
}"#,
                    ),
                ))
                .add_attribute((
                    "boot_command",
                    // The boot ISO's GRUB highlights "Test this media & install"
                    // (rd.live.check): <up> selects the plain install entry first.
                    Expression::from(vec![
                        "<up>e",
                        "<down><down>",
                        "<leftCtrlOn>e<leftCtrlOff>",
                        " inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg",
                        "<leftCtrlOn>x<leftCtrlOff>",
                    ]),
                ))
                .add_attribute((
                    "provision_env",
                    hcl::expr(
                        r#"[
  "HOMELAB_K3S_VERSION=${var.k3s_version}",
  "HOMELAB_K3S_DISABLE=${join(",", var.k3s_disable)}",
  "HOMELAB_ARCH=${var.arch}",
  "HOMELAB_AIRGAP_IMAGES=${var.airgap_images}",
  "HOMELAB_OPENSCAP=${var.openscap}",
]"#,
                    ),
                ))
                .build(),
        )
        .build();
    hcl::file(header, &body)
}

fn ident(name: &str) -> ObjectKey {
    ObjectKey::Identifier(Identifier::sanitized(name))
}
