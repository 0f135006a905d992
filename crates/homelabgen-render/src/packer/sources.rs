//! `sources.pkr.hcl`: the local `qemu` build and the `proxmox-iso` build. Both boot
//! the same ISO with the same kickstart and boot command; they differ only in where
//! the VM runs and how it becomes a template.

use super::{proxmox_plugin_1_2, BUILD_USER, PROXMOX_TASK_TIMEOUT, SOURCE_NAME};
use crate::hcl;
use ::hcl::{Block, BlockBuilder, Body};
use homelabgen_spec::model::Model;

/// Attributes every source sets the same way: boot, kickstart, SSH access.
fn common(block: BlockBuilder) -> BlockBuilder {
    block
        .add_attribute(("http_content", hcl::expr("local.http_content")))
        .add_attribute(("http_bind_address", hcl::expr("var.http_bind_address")))
        .add_attribute(("http_interface", hcl::expr("var.http_interface")))
        .add_attribute(("boot_wait", hcl::expr("var.boot_wait")))
        .add_attribute(("boot_command", hcl::expr("local.boot_command")))
        .add_attribute(("ssh_username", BUILD_USER))
        .add_attribute((
            "ssh_private_key_file",
            hcl::expr("pathexpand(var.build_ssh_key)"),
        ))
        .add_attribute(("ssh_timeout", "45m"))
}

fn qemu() -> Block {
    let block = Block::builder("source")
        .add_label("qemu")
        .add_label(SOURCE_NAME)
        .add_attribute(("iso_url", hcl::expr("var.iso_url")))
        .add_attribute(("iso_checksum", hcl::expr("var.iso_checksum")))
        .add_attribute(("output_directory", hcl::expr("local.output_directory")))
        .add_attribute(("vm_name", hcl::expr("local.disk_file")))
        .add_attribute(("format", "qcow2"))
        .add_attribute(("accelerator", hcl::expr("var.qemu_accelerator")))
        .add_attribute(("headless", hcl::expr("var.headless")))
        .add_attribute(("machine_type", "q35"))
        .add_attribute(("efi_boot", true))
        .add_attribute(("efi_firmware_code", hcl::expr("var.ovmf_code")))
        .add_attribute(("efi_firmware_vars", hcl::expr("var.ovmf_vars")))
        .add_attribute(("cpus", hcl::expr("var.cores")))
        .add_attribute(("memory", hcl::expr("var.memory")))
        // AlmaLinux 9 needs x86-64-v2, which qemu's default CPU model lacks; `max` is
        // the host CPU under KVM and everything TCG emulates otherwise.
        .add_attribute(("qemuargs", hcl::expr(r#"[["-cpu", "max"]]"#)))
        .add_attribute(("disk_size", hcl::expr("var.disk_size")))
        .add_attribute(("disk_interface", "virtio-scsi"))
        .add_attribute(("disk_discard", "unmap"))
        .add_attribute(("disk_detect_zeroes", "unmap"))
        .add_attribute(("disk_compression", true))
        .add_attribute(("net_device", "virtio-net"));
    common(block)
        // Root's build key is gone after seal.sh, but this session stays open.
        .add_attribute(("shutdown_command", "systemctl poweroff"))
        .add_attribute(("shutdown_timeout", "10m"))
        .build()
}

fn proxmox_iso(model: &Model) -> Block {
    let modern = proxmox_plugin_1_2(&model.versions.packer_proxmox_plugin);
    let mut block = Block::builder("source")
        .add_label("proxmox-iso")
        .add_label(SOURCE_NAME)
        .add_attribute(("proxmox_url", hcl::expr("var.proxmox_url")))
        .add_attribute(("username", hcl::expr("var.proxmox_username")))
        .add_attribute(("token", hcl::expr("var.proxmox_token")))
        .add_attribute(("node", hcl::expr("var.proxmox_node")))
        .add_attribute(("insecure_skip_tls_verify", hcl::expr("var.proxmox_insecure_tls")))
        .add_attribute(("vm_id", hcl::expr("var.template_vm_id")))
        .add_attribute(("vm_name", hcl::expr("local.template_name")))
        .add_attribute(("template_name", hcl::expr("local.template_name")))
        .add_attribute((
            "template_description",
            hcl::expr(r#""AlmaLinux ${var.os_version} with k3s ${var.k3s_version} (homelabgen, proxmox-iso)""#),
        ));
    if modern {
        block = block.add_block(
            Block::builder("boot_iso")
                // On ide2, so the cloud-init drive takes the first free IDE slot,
                // CLOUD_INIT_SLOT (ide0), as it does with the top-level ISO of 1.1.
                .add_attribute(("type", "ide"))
                .add_attribute(("index", "2"))
                .add_attribute(("iso_url", hcl::expr("var.iso_url")))
                .add_attribute(("iso_checksum", hcl::expr("var.iso_checksum")))
                .add_attribute(("iso_storage_pool", hcl::expr("var.iso_storage")))
                .add_attribute(("unmount", true))
                .build(),
        );
    } else {
        // Plugins before 1.2.0 have no boot_iso block.
        block = block
            .add_attribute(("iso_url", hcl::expr("var.iso_url")))
            .add_attribute(("iso_checksum", hcl::expr("var.iso_checksum")))
            .add_attribute(("iso_storage_pool", hcl::expr("var.iso_storage")))
            .add_attribute(("unmount_iso", true));
    }
    let block = block
        .add_attribute(("os", "l26"))
        .add_attribute(("bios", "ovmf"))
        .add_block(
            Block::builder("efi_config")
                .add_attribute(("efi_storage_pool", hcl::expr("var.vm_storage")))
                .add_attribute(("efi_type", "4m"))
                .add_attribute(("pre_enrolled_keys", false))
                .build(),
        )
        .add_attribute(("machine", "q35"))
        .add_attribute(("qemu_agent", true))
        .add_attribute(("cores", hcl::expr("var.cores")))
        .add_attribute(("memory", hcl::expr("var.memory")))
        .add_attribute(("cpu_type", "x86-64-v2-AES"))
        .add_attribute(("scsi_controller", "virtio-scsi-single"))
        .add_block(disk(modern))
        .add_block(
            Block::builder("network_adapters")
                .add_attribute(("bridge", hcl::expr("var.bridge")))
                .add_attribute(("model", "virtio"))
                .build(),
        )
        // The kickstart's last console is ttyS0: a serial port, as the qemu upload adds.
        .add_attribute(("serials", ::hcl::Expression::from(vec!["socket"])))
        .add_attribute(("cloud_init", true))
        .add_attribute(("cloud_init_storage_pool", hcl::expr("var.vm_storage")));
    let block = if modern {
        // The drive on IDE, where the plugin takes the first free slot (ide0: the ISO is
        // on ide2 until the end); Proxmox's ciupgrade (default on) would make every
        // clone's first boot upgrade its packages.
        block
            .add_attribute(("cloud_init_disk_type", "ide"))
            .add_attribute(("cloud_init_disable_upgrade_packages", true))
    } else {
        // Plugins before 1.2 have neither option: the drive goes to the first free IDE
        // slot, and ciupgrade stays at Proxmox's default (README.md says so).
        block
    };
    // ISO upload and shutdown take longer than the plugin's 60 s default on a busy node.
    common(block.add_attribute(("task_timeout", PROXMOX_TASK_TIMEOUT))).build()
}

/// The template's one disk: SCSI, an SSD to the guest, TRIM passed to the storage.
fn disk(modern: bool) -> Block {
    let disk = Block::builder("disks")
        .add_attribute(("type", "scsi"))
        .add_attribute(("disk_size", hcl::expr("var.disk_size")))
        .add_attribute(("storage_pool", hcl::expr("var.vm_storage")))
        .add_attribute(("format", "raw"));
    let disk = if modern {
        disk.add_attribute(("ssd", true))
            .add_attribute(("discard", true))
    } else {
        // Before 1.2 the plugin needs the storage type and has no ssd/discard.
        disk.add_attribute(("storage_pool_type", hcl::expr("var.vm_storage_type")))
    };
    disk.add_attribute(("io_thread", true)).build()
}

pub fn sources(model: &Model, header: &str) -> String {
    let body = Body::builder()
        .add_block(qemu())
        .add_block(proxmox_iso(model))
        .build();
    hcl::file(header, &body)
}
