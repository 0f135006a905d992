//! `build.pkr.hcl`: one provisioning sequence for both sources, then the
//! post-processors (upload for the qemu artifact, manifest, the name printed last).
//! Each keeps its input artifact: Packer destroys a builder artifact no post-processor
//! keeps, and for proxmox-iso that artifact is the template.

use super::{PROVISION_SCRIPTS, SOURCE_NAME, UPLOAD_SCRIPT};
use crate::hcl;
use ::hcl::{Block, Body, Expression};

fn script_path(name: &str) -> Expression {
    // A constant file name from this module, joined to Packer's template directory.
    let source = format!("\"${{path.root}}/scripts/{name}\"");
    match source.parse() {
        Ok(expression) => expression,
        Err(err) => panic!("invalid script path expression {source}: {err}"),
    }
}

pub fn build(header: &str) -> String {
    let qemu = format!("qemu.{SOURCE_NAME}");
    let sources: Vec<String> = vec![
        format!("source.{qemu}"),
        format!("source.proxmox-iso.{SOURCE_NAME}"),
    ];
    let provision = Block::builder("provisioner")
        .add_label("shell")
        .add_attribute(("environment_vars", hcl::expr("local.provision_env")))
        .add_attribute((
            "scripts",
            Expression::from_iter(PROVISION_SCRIPTS.iter().map(|s| script_path(s))),
        ))
        .build();
    let upload = Block::builder("post-processor")
        .add_label("shell-local")
        .add_attribute(("only", Expression::from(vec![qemu.clone()])))
        .add_attribute((
            "environment_vars",
            hcl::expr(
                r#"[
  "DISK=${local.output_directory}/${local.disk_file}",
  "TEMPLATE_NAME=${local.template_name}",
  "TEMPLATE_DESCRIPTION=AlmaLinux ${var.os_version} with k3s ${var.k3s_version} (homelabgen, qemu)",
  "VM_ID=${var.template_vm_id == 0 ? "" : var.template_vm_id}",
  "VM_STORAGE=${var.vm_storage}",
  "BRIDGE=${var.bridge}",
  "CORES=${var.cores}",
  "MEMORY=${var.memory}",
  "PROXMOX_SSH_HOST=${var.proxmox_ssh_host}",
  "PROXMOX_SSH_USER=${var.proxmox_ssh_user}",
]"#,
            ),
        ))
        .add_attribute(("script", script_path(UPLOAD_SCRIPT)))
        .add_attribute(("keep_input_artifact", true))
        .build();
    let manifest = Block::builder("post-processor")
        .add_label("manifest")
        .add_attribute(("output", hcl::expr(r#""${path.root}/manifest.json""#)))
        .add_attribute(("strip_path", true))
        .add_attribute(("keep_input_artifact", true))
        .add_attribute((
            "custom_data",
            hcl::expr(
                r#"{
  template_name = local.template_name
  k3s_version   = var.k3s_version
  os_version    = var.os_version
  image_release = "${var.image_release}"
  source        = source.type
}"#,
            ),
        ))
        .build();
    let announce = Block::builder("post-processor")
        .add_label("shell-local")
        .add_attribute((
            "inline",
            hcl::expr(r#"["echo 'Template ready: ${local.template_name} (k3s ${var.k3s_version}, built by ${source.type})'"]"#),
        ))
        .add_attribute(("keep_input_artifact", true))
        .build();
    let body = Body::builder()
        .add_block(
            Block::builder("build")
                .add_attribute(("sources", Expression::from(sources)))
                .add_block(provision)
                .add_block(upload)
                .add_block(manifest)
                .add_block(announce)
                .build(),
        )
        .build();
    hcl::file(header, &body)
}
