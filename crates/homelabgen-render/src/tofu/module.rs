//! `tofu/modules/proxmox-vm/`: one VM cloned from a golden-image template.
//!
//! The module does not depend on the spec except for the version pins: every value
//! comes in through a variable, checked by a `validation` where it can be wrong.
//! Its tests (`tests/*.tftest.hcl`) run under `tofu test` with a mock of the real
//! provider and fail when any requirement of the module breaks.

use super::{annotate, file_with_notes, output, variables_body, versions, Variable, MODULE_DIR};
use crate::hcl;
use crate::text;
use crate::Tree;
use ::hcl::expr::Expression;
use ::hcl::{Block, Body};
use homelabgen_spec::model::Model;
use serde::Serialize;

/// CPU type of every VM: x86-64-v2 with AES, what AlmaLinux 9 needs at least.
const CPU_TYPE: &str = "x86-64-v2-AES";

pub(crate) fn render(model: &Model, tree: &mut Tree) {
    let dir = format!("tofu/{MODULE_DIR}");
    let header = model.header();
    let variables = variables();
    tree.add(
        format!("{dir}/versions.tf"),
        hcl::file(
            &header,
            // `>= pinned` up to the next major version: bpg/proxmox 1.0 drops the
            // `proxmox_virtual_environment_*` resource names this module uses.
            &versions(
                model,
                format!(">= {}, < 1.0.0", model.versions.proxmox_provider),
            ),
        ),
    );
    tree.add(
        format!("{dir}/variables.tf"),
        hcl::file(&header, &variables_body(&variables)),
    );
    tree.add(format!("{dir}/main.tf"), main_tf(&header));
    tree.add(format!("{dir}/outputs.tf"), hcl::file(&header, &outputs()));
    tree.add(format!("{dir}/README.md"), readme(model, &variables));
    for (name, body) in super::module_tests::all() {
        tree.add(
            format!("{dir}/tests/{name}.tftest.hcl"),
            hcl::file(&header, &body),
        );
    }
}

/// Every input of the module, in the order a reader needs them.
pub(crate) fn variables() -> Vec<Variable> {
    // Regular expressions live in HCL strings: `\` would need doubling, so classes
    // such as `[.]` and `[0-9]` are used instead.
    vec![
        Variable::new("name", "string", "VM name and host name (cloud-init sets the host name from it): a lower-case DNS label.")
            .validation(
                r#"can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))"#,
                r#""name must be a lower-case DNS label (a-z, 0-9, '-', at most 63 characters, no leading or trailing '-'), got '${var.name}'.""#,
            ),
        Variable::new("template_name", "string", "Name of the Proxmox VM template to clone (the golden image Packer built). It is looked up by name among templates; see template_vm_id.")
            .validation(
                r#"can(regex("^[A-Za-z0-9][A-Za-z0-9.-]*$", var.template_name))"#,
                r#""template_name must be a Proxmox VM name (letters, digits, '.', '-'; no '+', which k3s versions contain: use '-'), got '${var.template_name}'.""#,
            ),
        Variable::new("template_vm_id", "number", "VM id of the template to clone. Overrides the lookup by template_name when set; null looks the template up by name.")
            .default(Expression::Null)
            .validation(
                "var.template_vm_id == null ? true : (floor(var.template_vm_id) == var.template_vm_id && var.template_vm_id >= 100 && var.template_vm_id <= 999999999)",
                r#""template_vm_id must be null or a whole number from 100 to 999999999.""#,
            ),
        Variable::new("node", "string", "Proxmox node the VM runs on.")
            .validation(
                r#"can(regex("^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$", var.node))"#,
                r#""node must be a Proxmox node name (letters, digits and '-'), got '${var.node}'.""#,
            ),
        Variable::new("vm_id", "number", "Proxmox VM id of the new VM; null lets Proxmox choose the next free id.")
            .default(Expression::Null)
            .validation(
                "var.vm_id == null ? true : (floor(var.vm_id) == var.vm_id && var.vm_id >= 100 && var.vm_id <= 999999999)",
                r#""vm_id must be null or a whole number from 100 to 999999999.""#,
            ),
        Variable::new("storage", "string", "Datastore for the VM disk, the EFI disk and the cloud-init drive (e.g. local-lvm).")
            .validation(
                r#"can(regex("^[A-Za-z][A-Za-z0-9._-]*$", var.storage))"#,
                r#""storage must be a Proxmox storage id (a letter, then letters, digits, '.', '_', '-'), got '${var.storage}'.""#,
            ),
        Variable::new("snippets_storage", "string", "Datastore the custom user-data snippet is uploaded to; it must have the 'snippets' content type enabled. Used only when user_data is set.")
            .default("local")
            .validation(
                r#"can(regex("^[A-Za-z][A-Za-z0-9._-]*$", var.snippets_storage))"#,
                r#""snippets_storage must be a Proxmox storage id (a letter, then letters, digits, '.', '_', '-'), got '${var.snippets_storage}'.""#,
            ),
        Variable::new("bridge", "string", "Linux bridge (or SDN vnet) the VM's one network interface is attached to, e.g. vmbr0.")
            .validation(
                r#"can(regex("^[A-Za-z0-9_.-]{1,15}$", var.bridge))"#,
                r#""bridge must be a Linux interface name (1 to 15 letters, digits, '.', '_', '-'), got '${var.bridge}'.""#,
            ),
        Variable::new("cores", "number", "CPU cores.")
            .validation(
                "floor(var.cores) == var.cores && var.cores >= 1 && var.cores <= 512",
                r#""cores must be a whole number from 1 to 512.""#,
            ),
        Variable::new("cpu_type", "string", "Emulated CPU type; x86-64-v2-AES is the least AlmaLinux 9 runs on. Use host for the host's CPU.")
            .default(CPU_TYPE)
            .validation(
                r#"length(trimspace(var.cpu_type)) > 0"#,
                r#""cpu_type must not be empty.""#,
            ),
        Variable::new("memory", "number", "Memory in MiB (24 GiB = 24576).")
            .validation(
                "floor(var.memory) == var.memory && var.memory >= 512",
                r#""memory is in MiB and must be a whole number of at least 512 (did you give GiB? 24 GiB = 24576).""#,
            ),
        Variable::new("disk_size", "number", "Size of the boot disk (scsi0) in GiB. It cannot be smaller than the template's disk: a clone can grow a disk, never shrink it.")
            .validation(
                "floor(var.disk_size) == var.disk_size && var.disk_size >= 1",
                r#""disk_size is in GiB and must be a whole number of at least 1.""#,
            ),
        Variable::new("ipv4_address", "string", "Static IPv4 address with prefix length, e.g. 192.168.1.50/24.")
            .validation(
                r#"can(regex("^([0-9]{1,3}[.]){3}[0-9]{1,3}/([1-9]|[12][0-9]|3[0-2])$", var.ipv4_address)) && can(cidrhost(var.ipv4_address, 0))"#,
                r#""ipv4_address must be an IPv4 address with a prefix length, e.g. 192.168.1.50/24 (DHCP is not supported), got '${var.ipv4_address}'.""#,
            )
            .validation(
                r#"try(tonumber(split("/", var.ipv4_address)[1]) >= 31 || (split("/", var.ipv4_address)[0] != cidrhost(var.ipv4_address, 0) && split("/", var.ipv4_address)[0] != cidrhost(var.ipv4_address, -1)), false)"#,
                r#""ipv4_address must be a host address, not the network or broadcast address of its subnet, got '${var.ipv4_address}'.""#,
            ),
        Variable::new("ipv4_gateway", "string", "IPv4 default gateway, inside the subnet of ipv4_address.")
            .validation(
                r#"can(regex("^([0-9]{1,3}[.]){3}[0-9]{1,3}$", var.ipv4_gateway)) && can(cidrhost("${var.ipv4_gateway}/32", 0))"#,
                r#""ipv4_gateway must be an IPv4 address without prefix, e.g. 192.168.1.1, got '${var.ipv4_gateway}'.""#,
            ),
        Variable::new("nameservers", "list(string)", "DNS servers (IPv4), in order of preference.")
            .validation(
                r#"length(var.nameservers) > 0 && alltrue([for ns in var.nameservers : can(regex("^([0-9]{1,3}[.]){3}[0-9]{1,3}$", ns)) && can(cidrhost("${ns}/32", 0))])"#,
                r#""nameservers must be a non-empty list of IPv4 addresses.""#,
            ),
        Variable::new("search_domain", "string", "DNS search domain; null for none.")
            .default(Expression::Null)
            .validation(
                r#"var.search_domain == null ? true : can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?[.])*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.search_domain))"#,
                r#""search_domain must be a lower-case DNS name such as home.arpa.""#,
            ),
        Variable::new("user", "string", "User cloud-init creates as the image's default user (passwordless sudo on AlmaLinux), with ssh_keys. Ignored when user_data is set.")
            .default("admin")
            .validation(
                r#"can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.user))"#,
                r#""user must be a Linux user name (lower-case letters, digits, '_', '-', at most 32 characters), got '${var.user}'.""#,
            ),
        Variable::new("ssh_keys", "list(string)", "OpenSSH public keys (one line of a .pub file each) allowed to log in as user. Ignored when user_data is set: a custom user-data must carry its own keys.")
            .default(Expression::Array(Vec::new()))
            .validation(
                r#"alltrue([for key in var.ssh_keys : can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh[.]com|sk-ecdsa-sha2-nistp256@openssh[.]com) [A-Za-z0-9+/]+={0,3}( .*)?$", key))])"#,
                r#""ssh_keys must hold OpenSSH public keys (e.g. 'ssh-ed25519 AAAA... you@host'), never private keys.""#,
            ),
        Variable::new("user_data", "string", "A complete cloud-init user-data document (starting with #cloud-config) to use instead of the generated user account. It is uploaded as a snippet to snippets_storage and must create its own users, SSH keys and host name. null uses user and ssh_keys.")
            .default(Expression::Null)
            .validation(
                r##"var.user_data == null ? true : startswith(var.user_data, "#cloud-config\n")"##,
                r#""user_data must be a cloud-config document: its first line must be #cloud-config.""#,
            ),
        Variable::new("tags", "list(string)", "Proxmox tags of the VM (sorted and de-duplicated, as Proxmox stores them).")
            .default(Expression::Array(Vec::new()))
            .validation(
                r#"alltrue([for tag in var.tags : can(regex("^[a-z0-9_][a-z0-9_.+-]*$", tag))])"#,
                r#""tags must be lower-case letters, digits, '_', '.', '+', '-' and not start with a punctuation mark.""#,
            ),
    ]
}

fn block(name: &str) -> ::hcl::structure::BlockBuilder {
    Block::builder(name)
}

fn lifecycle_with(condition: &'static str, message: &'static str, kind: &str) -> Block {
    block(kind)
        .add_attribute(("condition", hcl::expr(condition)))
        .add_attribute(("error_message", hcl::expr(message)))
        .build()
}

/// The template lookup: by name among templates, unless `template_vm_id` is given.
fn template_lookup() -> Block {
    block("data")
        .add_label("proxmox_virtual_environment_vms")
        .add_label("template")
        .add_attribute(("count", hcl::expr("var.template_vm_id == null ? 1 : 0")))
        .add_block(
            block("filter")
                .add_attribute(("name", "name"))
                .add_attribute(("values", hcl::expr("[var.template_name]")))
                .build(),
        )
        .add_block(
            block("filter")
                .add_attribute(("name", "template"))
                .add_attribute(("values", super::strings(["true"])))
                .build(),
        )
        .add_block(
            block("lifecycle")
                .add_block(lifecycle_with(
                    "length(self.vms) > 0",
                    r#""No VM template named '${var.template_name}' exists in the cluster. Build the image first (make packer), check the name, or set template_vm_id.""#,
                    "postcondition",
                ))
                .build(),
        )
        .build()
}

fn locals() -> Block {
    block("locals")
        .add_attribute(("found_templates", hcl::expr("try(data.proxmox_virtual_environment_vms.template[0].vms, [])")))
        .add_attribute((
            "template",
            hcl::expr("try(concat([for t in local.found_templates : t if t.node_name == var.node], local.found_templates)[0], null)"),
        ))
        .add_attribute((
            "template_vm_id",
            hcl::expr("var.template_vm_id != null ? var.template_vm_id : try(local.template.vm_id, null)"),
        ))
        .add_attribute((
            "template_node",
            hcl::expr("var.template_vm_id != null ? var.node : try(local.template.node_name, var.node)"),
        ))
        .build()
}

fn snippet() -> Block {
    block("resource")
        .add_label("proxmox_virtual_environment_file")
        .add_label("user_data")
        .add_attribute(("count", hcl::expr("var.user_data == null ? 0 : 1")))
        .add_attribute(("content_type", "snippets"))
        .add_attribute(("datastore_id", hcl::expr("var.snippets_storage")))
        .add_attribute(("node_name", hcl::expr("var.node")))
        .add_block(
            block("source_raw")
                .add_attribute(("data", hcl::expr("var.user_data")))
                .add_attribute((
                    "file_name",
                    hcl::expr(
                        r#""${var.name}-user-data-${substr(sha256(var.user_data), 0, 12)}.yaml""#,
                    ),
                ))
                .build(),
        )
        .build()
}

fn vm() -> Block {
    let description =
        hcl::expr(r#""Cloned from ${var.template_name}. Managed by OpenTofu (homelabgen).""#);
    block("resource")
        .add_label("proxmox_virtual_environment_vm")
        .add_label("this")
        .add_attribute(("name", hcl::expr("var.name")))
        .add_attribute(("description", description))
        .add_attribute(("node_name", hcl::expr("var.node")))
        .add_attribute(("vm_id", hcl::expr("var.vm_id")))
        .add_attribute(("tags", hcl::expr("sort(distinct(var.tags))")))
        .add_attribute(("bios", "ovmf"))
        .add_attribute(("machine", "q35"))
        .add_attribute(("scsi_hardware", "virtio-scsi-single"))
        .add_block(
            block("clone")
                .add_attribute(("vm_id", hcl::expr("local.template_vm_id")))
                .add_attribute(("node_name", hcl::expr("local.template_node")))
                .add_attribute(("full", true))
                .build(),
        )
        .add_block(
            block("agent")
                .add_attribute(("enabled", true))
                .add_attribute(("trim", true))
                .add_block(block("wait_for_ip").add_attribute(("ipv4", true)).build())
                .build(),
        )
        .add_block(block("operating_system").add_attribute(("type", "l26")).build())
        .add_block(
            block("cpu")
                .add_attribute(("cores", hcl::expr("var.cores")))
                .add_attribute(("type", hcl::expr("var.cpu_type")))
                .build(),
        )
        .add_block(block("memory").add_attribute(("dedicated", hcl::expr("var.memory"))).build())
        .add_block(
            block("efi_disk")
                .add_attribute(("datastore_id", hcl::expr("var.storage")))
                .add_attribute(("type", "4m"))
                .build(),
        )
        .add_block(
            block("disk")
                .add_attribute(("interface", "scsi0"))
                .add_attribute(("datastore_id", hcl::expr("var.storage")))
                .add_attribute(("size", hcl::expr("var.disk_size")))
                .add_attribute(("ssd", true))
                .add_attribute(("discard", "on"))
                .add_attribute(("iothread", true))
                .build(),
        )
        .add_block(
            block("network_device")
                .add_attribute(("bridge", hcl::expr("var.bridge")))
                .add_attribute(("model", "virtio"))
                .build(),
        )
        .add_block(
            block("initialization")
                .add_attribute(("datastore_id", hcl::expr("var.storage")))
                .add_attribute(("user_data_file_id", hcl::expr("one(proxmox_virtual_environment_file.user_data[*].id)")))
                .add_block(
                    block("ip_config")
                        .add_block(
                            block("ipv4")
                                .add_attribute(("address", hcl::expr("var.ipv4_address")))
                                .add_attribute(("gateway", hcl::expr("var.ipv4_gateway")))
                                .build(),
                        )
                        .build(),
                )
                .add_block(
                    block("dns")
                        .add_attribute(("domain", hcl::expr("var.search_domain")))
                        .add_attribute(("servers", hcl::expr("var.nameservers")))
                        .build(),
                )
                .add_block(
                    block("dynamic")
                        .add_label("user_account")
                        .add_attribute(("for_each", hcl::expr("var.user_data == null ? [var.user] : []")))
                        .add_block(
                            block("content")
                                .add_attribute(("username", hcl::expr("user_account.value")))
                                .add_attribute(("keys", hcl::expr("var.ssh_keys")))
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .add_block(
            block("lifecycle")
                .add_attribute(("create_before_destroy", true))
                .add_block(lifecycle_with(
                    r#"cidrhost(var.ipv4_address, 0) == cidrhost("${var.ipv4_gateway}/${split("/", var.ipv4_address)[1]}", 0)"#,
                    r#""ipv4_gateway ${var.ipv4_gateway} is not in the subnet of ipv4_address ${var.ipv4_address}.""#,
                    "precondition",
                ))
                .add_block(lifecycle_with(
                    "var.user_data != null || length(var.ssh_keys) > 0",
                    r#""Nobody could log in to ${var.name}: give ssh_keys, or a user_data that creates a user with keys.""#,
                    "precondition",
                ))
                .build(),
        )
        .build()
}

fn main_tf(header: &str) -> String {
    let body = Body::builder()
        .add_block(template_lookup())
        .add_block(locals())
        .add_block(snippet())
        .add_block(vm())
        .build();
    let text = file_with_notes(
        header,
        &[
            "One VM, full-cloned from a golden-image template: UEFI (OVMF) with an EFI disk, q35,",
            "the QEMU guest agent, one SCSI disk, one virtio NIC, cloud-init for host name,",
            "address and login. See README.md.",
        ],
        &body,
    );
    annotate(
        &text,
        &[
            (
                r#"data "proxmox_virtual_environment_vms" "template" {"#,
                &[
                    "The template to clone, found by name among templates (not among VMs that merely",
                    "share the name). Skipped when template_vm_id is given.",
                ],
            ),
            ("locals {", &["A template on var.node is preferred; one on another node is cloned across."]),
            (
                r#"resource "proxmox_virtual_environment_file" "user_data" {"#,
                &[
                    "The custom user-data, uploaded over SSH as a snippet. The file name carries a hash",
                    "of the content: under create_before_destroy the new snippet is uploaded before the",
                    "old one is deleted, and must not overwrite it.",
                ],
            ),
            (
                r#"dynamic "user_account" {"#,
                &[
                    "The provider forbids user_account together with user_data_file_id: with a custom",
                    "user-data there is no generated account, and the document brings its own keys.",
                ],
            ),
            (
                "lifecycle {",
                &[
                    "A replacement (new template, new user-data) creates the new VM before destroying",
                    "the old one. With a fixed vm_id or address see README.md, \"Replacing a VM\".",
                ],
            ),
        ],
    )
}

fn outputs() -> Body {
    Body::builder()
        .add_block(output("vm_id", "Proxmox VM id of the VM.", hcl::expr("proxmox_virtual_environment_vm.this.vm_id")))
        .add_block(output("name", "VM name (and host name).", hcl::expr("proxmox_virtual_environment_vm.this.name")))
        .add_block(output("node", "Proxmox node the VM runs on.", hcl::expr("proxmox_virtual_environment_vm.this.node_name")))
        .add_block(output(
            "ipv4_address",
            "The static IPv4 address cloud-init configures, without prefix length.",
            hcl::expr(r#"split("/", proxmox_virtual_environment_vm.this.initialization[0].ip_config[0].ipv4[0].address)[0]"#),
        ))
        .add_block(output(
            "guest_agent_ipv4_addresses",
            "IPv4 addresses the QEMU guest agent reports, loopback and link-local left out. Empty until the agent runs.",
            hcl::expr(
                r#"[for ip in flatten(proxmox_virtual_environment_vm.this.ipv4_addresses) : ip if !startswith(ip, "127.") && !startswith(ip, "169.254.")]"#,
            ),
        ))
        .add_block(output("template_vm_id", "VM id of the template the VM was cloned from.", hcl::expr("proxmox_virtual_environment_vm.this.clone[0].vm_id")))
        .add_block(output("cores", "CPU cores.", hcl::expr("proxmox_virtual_environment_vm.this.cpu[0].cores")))
        .add_block(output("memory", "Memory in MiB.", hcl::expr("proxmox_virtual_environment_vm.this.memory[0].dedicated")))
        .add_block(output("disk_size", "Boot disk size in GiB.", hcl::expr("proxmox_virtual_environment_vm.this.disk[0].size")))
        .add_block(output(
            "user_data_file_id",
            "Id of the uploaded user-data snippet; null when cloud-init uses the generated user account.",
            hcl::expr("one(proxmox_virtual_environment_file.user_data[*].id)"),
        ))
        .build()
}

#[derive(Serialize)]
struct ReadmeInput {
    name: &'static str,
    ty: &'static str,
    default: Option<String>,
    description: String,
}

fn readme(model: &Model, variables: &[Variable]) -> String {
    let inputs: Vec<ReadmeInput> = variables
        .iter()
        .map(|v| ReadmeInput {
            name: v.name(),
            ty: v.ty(),
            default: v.default_source(),
            description: v.description().to_owned(),
        })
        .collect();
    text::render(
        "tofu/modules/proxmox-vm/README.md",
        include_str!("../../templates/tofu/modules/proxmox-vm/README.md.j2"),
        serde_json::json!({
            "header": model.header(),
            "inputs": inputs,
            "provider_version": model.versions.proxmox_provider,
            "opentofu_version": model.versions.opentofu,
        }),
    )
}
