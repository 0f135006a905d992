//! `tofu/modules/proxmox-vm/tests/*.tftest.hcl`: what `tofu test` proves about the
//! module, against a mock of the real provider (its schema comes from the provider
//! binary; nothing talks to Proxmox).
//!
//! Each requirement of the module has an assertion that fails when it breaks: the
//! template lookup, one SCSI disk with SSD emulation and discard, one virtio NIC on
//! the bridge, the cloud-init address, gateway, nameservers and keys, the user_data
//! switch both ways, the outputs, and every variable validation.

use super::strings;
use super::tftest::{body, mock_provider, template_vm, variables_block, Run};
use ::hcl::expr::Expression;
use ::hcl::Body;

const TEMPLATE: &str = "alma9.8-k3-node-amd64-v1.36.3-k3s1-v1";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA test@homelabgen";
const USER_DATA: &str = "#cloud-config\nhostname: test-vm\nusers:\n  - name: ops\n    ssh_authorized_keys:\n      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ops@homelabgen\n";

pub(crate) fn all() -> Vec<(&'static str, Body)> {
    vec![
        ("vm", vm()),
        ("user_data", user_data()),
        ("validation", validation()),
    ]
}

/// Inputs every run starts from; a run overrides what it tests.
fn inputs() -> ::hcl::Block {
    variables_block(vec![
        ("name".into(), "test-vm".into()),
        ("template_name".into(), TEMPLATE.into()),
        ("node".into(), "pve".into()),
        ("vm_id".into(), 9101.into()),
        ("storage".into(), "local-lvm".into()),
        ("snippets_storage".into(), "snippets".into()),
        ("bridge".into(), "vmbr1".into()),
        ("cores".into(), 4.into()),
        ("memory".into(), 24576.into()),
        ("disk_size".into(), 64.into()),
        ("ipv4_address".into(), "192.168.1.50/24".into()),
        ("ipv4_gateway".into(), "192.168.1.1".into()),
        ("nameservers".into(), strings(["192.168.1.1", "9.9.9.9"])),
        ("search_domain".into(), "home.arpa".into()),
        ("user".into(), "admin".into()),
        ("ssh_keys".into(), strings([KEY])),
        ("tags".into(), strings(["k3s", "homelabgen", "k3s"])),
    ])
}

/// Two templates of the wanted name: one on another node (listed first), one on
/// `pve`. The module must pick the one on its own node.
fn templates() -> Vec<Expression> {
    vec![
        template_vm(TEMPLATE, "pve-other", 9001),
        template_vm(TEMPLATE, "pve", 9000),
    ]
}

fn agent_addresses() -> Expression {
    Expression::Array(vec![
        strings(["127.0.0.1"]),
        strings(["192.168.1.50"]),
        strings(["169.254.10.1"]),
    ])
}

fn vm() -> Body {
    body([
        mock_provider(None, templates(), Some(agent_addresses())),
        inputs(),
        Run::apply("clones_the_template_found_by_name")
            .check("length(data.proxmox_virtual_environment_vms.template) == 1", "the template must be looked up when template_vm_id is null")
            .check(
                r#"anytrue([for f in data.proxmox_virtual_environment_vms.template[0].filter : f.name == "name" && f.values == tolist([var.template_name])])"#,
                "the lookup must filter on the template's name",
            )
            .check(
                r#"anytrue([for f in data.proxmox_virtual_environment_vms.template[0].filter : f.name == "template" && f.values == tolist(["true"])])"#,
                "the lookup must filter on template = true",
            )
            .check("proxmox_virtual_environment_vm.this.clone[0].vm_id == 9000", "the template on the VM's own node (9000) must be cloned")
            .check(r#"proxmox_virtual_environment_vm.this.clone[0].node_name == "pve""#, "the clone must come from the template's node")
            .check("proxmox_virtual_environment_vm.this.clone[0].full == true", "the clone must be a full clone")
            .block(),
        Run::apply("explicit_template_vm_id_overrides_the_lookup")
            .var("template_vm_id", 4242)
            .check("length(data.proxmox_virtual_environment_vms.template) == 0", "no lookup when template_vm_id is given")
            .check("proxmox_virtual_environment_vm.this.clone[0].vm_id == 4242", "the given template_vm_id must be cloned")
            .block(),
        Run::apply("machine")
            .check("proxmox_virtual_environment_vm.this.agent[0].enabled == true", "the QEMU guest agent must be on")
            .check(r#"proxmox_virtual_environment_vm.this.bios == "ovmf""#, "the VM must boot UEFI (OVMF)")
            .check("length(proxmox_virtual_environment_vm.this.efi_disk) == 1", "an OVMF VM needs an EFI disk")
            .check(r#"proxmox_virtual_environment_vm.this.efi_disk[0].datastore_id == "local-lvm""#, "the EFI disk must be on var.storage")
            .check(r#"proxmox_virtual_environment_vm.this.machine == "q35""#, "the machine type must be q35")
            .check(r#"proxmox_virtual_environment_vm.this.scsi_hardware == "virtio-scsi-single""#, "the SCSI controller must be virtio-scsi-single")
            .check("proxmox_virtual_environment_vm.this.cpu[0].cores == 4", "cores must come from var.cores")
            .check("proxmox_virtual_environment_vm.this.memory[0].dedicated == 24576", "memory must come from var.memory, in MiB")
            .check("proxmox_virtual_environment_vm.this.vm_id == 9101", "vm_id must come from var.vm_id")
            .check(r#"proxmox_virtual_environment_vm.this.tags == tolist(["homelabgen", "k3s"])"#, "tags must be sorted and unique, as Proxmox stores them")
            .block(),
        Run::apply("one_scsi_disk_with_ssd_and_discard")
            .check("length(proxmox_virtual_environment_vm.this.disk) == 1", "the VM must have exactly one disk")
            .check(r#"proxmox_virtual_environment_vm.this.disk[0].interface == "scsi0""#, "the disk must be scsi0")
            .check("proxmox_virtual_environment_vm.this.disk[0].ssd == true", "the disk must have SSD emulation on")
            .check(r#"proxmox_virtual_environment_vm.this.disk[0].discard == "on""#, "the disk must pass discard (TRIM) through")
            .check("proxmox_virtual_environment_vm.this.disk[0].iothread == true", "the disk must have its own I/O thread")
            .check("proxmox_virtual_environment_vm.this.disk[0].size == 64", "the disk size must come from var.disk_size, in GiB")
            .check(r#"proxmox_virtual_environment_vm.this.disk[0].datastore_id == "local-lvm""#, "the disk must be on var.storage")
            .block(),
        Run::apply("one_virtio_nic_on_the_bridge")
            .check("length(proxmox_virtual_environment_vm.this.network_device) == 1", "the VM must have exactly one network interface")
            .check(r#"proxmox_virtual_environment_vm.this.network_device[0].model == "virtio""#, "the network interface must be virtio")
            .check(r#"proxmox_virtual_environment_vm.this.network_device[0].bridge == "vmbr1""#, "the network interface must be on var.bridge")
            .block(),
        Run::apply("cloud_init_address_gateway_nameservers_keys")
            .check("length(proxmox_virtual_environment_vm.this.initialization) == 1", "cloud-init must be configured")
            .check(r#"proxmox_virtual_environment_vm.this.initialization[0].datastore_id == "local-lvm""#, "the cloud-init drive must be on var.storage")
            .check(
                r#"proxmox_virtual_environment_vm.this.initialization[0].ip_config[0].ipv4[0].address == "192.168.1.50/24""#,
                "cloud-init must set the static address with its prefix",
            )
            .check(r#"proxmox_virtual_environment_vm.this.initialization[0].ip_config[0].ipv4[0].gateway == "192.168.1.1""#, "cloud-init must set the gateway")
            .check(
                r#"proxmox_virtual_environment_vm.this.initialization[0].dns[0].servers == tolist(["192.168.1.1", "9.9.9.9"])"#,
                "cloud-init must set the nameservers in order",
            )
            .check(r#"proxmox_virtual_environment_vm.this.initialization[0].dns[0].domain == "home.arpa""#, "cloud-init must set the search domain")
            .check("length(proxmox_virtual_environment_vm.this.initialization[0].user_account) == 1", "without user_data cloud-init must create the user account")
            .check(r#"proxmox_virtual_environment_vm.this.initialization[0].user_account[0].username == "admin""#, "the account must be var.user")
            .check("proxmox_virtual_environment_vm.this.initialization[0].user_account[0].keys == tolist(var.ssh_keys)", "the account must get var.ssh_keys")
            .check("length(proxmox_virtual_environment_file.user_data) == 0", "without user_data no snippet is uploaded")
            .block(),
        Run::apply("outputs")
            .check("output.vm_id == 9101", "output vm_id must be the VM's id")
            .check(r#"output.name == "test-vm""#, "output name must be the VM's name")
            .check(r#"output.node == "pve""#, "output node must be the VM's node")
            .check(r#"output.ipv4_address == "192.168.1.50""#, "output ipv4_address must be the static address without prefix")
            .check(
                r#"output.guest_agent_ipv4_addresses == ["192.168.1.50"]"#,
                "output guest_agent_ipv4_addresses must be what the agent reports, without loopback and link-local",
            )
            .check("output.template_vm_id == 9000", "output template_vm_id must be the cloned template")
            .check("output.cores == 4 && output.memory == 24576 && output.disk_size == 64", "outputs cores, memory and disk_size must be the VM's")
            .check("output.user_data_file_id == null", "output user_data_file_id must be null without user_data")
            .block(),
    ])
}

fn user_data() -> Body {
    body([
        mock_provider(None, templates(), None),
        inputs(),
        Run::apply("custom_user_data_replaces_the_account")
            .var("user_data", USER_DATA)
            .check("length(proxmox_virtual_environment_file.user_data) == 1", "user_data must be uploaded as one snippet")
            .check(r#"proxmox_virtual_environment_file.user_data[0].content_type == "snippets""#, "the upload must be a snippet")
            .check(r#"proxmox_virtual_environment_file.user_data[0].datastore_id == "snippets""#, "the snippet must go to var.snippets_storage")
            .check(r#"proxmox_virtual_environment_file.user_data[0].node_name == "pve""#, "the snippet must be on the VM's node")
            .check("proxmox_virtual_environment_file.user_data[0].source_raw[0].data == var.user_data", "the snippet must hold user_data unchanged")
            .check(
                r#"proxmox_virtual_environment_file.user_data[0].source_raw[0].file_name == "test-vm-user-data-${substr(sha256(var.user_data), 0, 12)}.yaml""#,
                "the snippet's file name must be the VM's name and a hash of the content",
            )
            .check(
                "proxmox_virtual_environment_vm.this.initialization[0].user_data_file_id == proxmox_virtual_environment_file.user_data[0].id",
                "cloud-init must use the uploaded snippet",
            )
            .check(
                "length(proxmox_virtual_environment_vm.this.initialization[0].user_account) == 0",
                "with user_data there must be no user_account (the provider forbids both)",
            )
            .check(
                r#"proxmox_virtual_environment_vm.this.initialization[0].ip_config[0].ipv4[0].address == "192.168.1.50/24""#,
                "with user_data cloud-init must still set the static address",
            )
            .check("output.user_data_file_id == proxmox_virtual_environment_file.user_data[0].id", "output user_data_file_id must be the snippet")
            .block(),
        Run::apply("new_user_data_gets_a_new_file_name")
            .var("user_data", format!("{USER_DATA}packages: [htop]\n"))
            .check(
                r#"proxmox_virtual_environment_file.user_data[0].source_raw[0].file_name == "test-vm-user-data-${substr(sha256(var.user_data), 0, 12)}.yaml""#,
                "changed user_data must get a new file name, so create_before_destroy cannot overwrite the old snippet",
            )
            .check("length(proxmox_virtual_environment_vm.this.initialization[0].user_account) == 0", "still no user_account")
            .block(),
        Run::apply("back_to_the_generated_account")
            .check("length(proxmox_virtual_environment_file.user_data) == 0", "without user_data the snippet must be gone")
            .check("length(proxmox_virtual_environment_vm.this.initialization[0].user_account) == 1", "without user_data the account must be back")
            .check("proxmox_virtual_environment_vm.this.initialization[0].user_account[0].keys == tolist(var.ssh_keys)", "the account must get var.ssh_keys")
            .check("output.user_data_file_id == null", "output user_data_file_id must be null without user_data")
            .block(),
        Run::plan("user_data_without_ssh_keys_is_fine")
            .var("user_data", USER_DATA)
            .var("ssh_keys", Expression::Array(Vec::new()))
            .check("length(proxmox_virtual_environment_file.user_data) == 1", "user_data alone must be enough to log in")
            .block(),
    ])
}

/// A plan with one bad input must fail that input's validation, and only it.
fn rejects(
    name: &'static str,
    variable: &'static str,
    value: impl Into<Expression>,
    address: &'static str,
) -> ::hcl::Block {
    Run::plan(name)
        .var(variable, value)
        .expect_failure(address)
        .block()
}

fn validation() -> Body {
    let mut blocks = vec![
        mock_provider(None, templates(), None),
        mock_provider(Some("no_template"), Vec::new(), None),
        inputs(),
        Run::plan("accepts_valid_inputs")
            .check(
                "length(proxmox_virtual_environment_vm.this.disk) == 1",
                "valid inputs must plan",
            )
            .block(),
        rejects("rejects_an_upper_case_name", "name", "Test_VM", "var.name"),
        rejects(
            "rejects_a_name_longer_than_a_dns_label",
            "name",
            "a".repeat(64),
            "var.name",
        ),
        rejects(
            "rejects_a_template_name_with_plus",
            "template_name",
            "alma9.8-k3-node-amd64-v1.36.3+k3s1-v1",
            "var.template_name",
        ),
        rejects(
            "rejects_a_fractional_template_vm_id",
            "template_vm_id",
            hcl_num("100.5"),
            "var.template_vm_id",
        ),
        rejects("rejects_a_small_vm_id", "vm_id", 99, "var.vm_id"),
        rejects("rejects_a_node_with_spaces", "node", "pve 1", "var.node"),
        rejects("rejects_an_empty_storage", "storage", "", "var.storage"),
        rejects(
            "rejects_a_bad_snippets_storage",
            "snippets_storage",
            "local/snippets",
            "var.snippets_storage",
        ),
        rejects(
            "rejects_a_bridge_name_too_long",
            "bridge",
            "vmbr-much-too-long",
            "var.bridge",
        ),
        rejects("rejects_zero_cores", "cores", 0, "var.cores"),
        rejects(
            "rejects_fractional_cores",
            "cores",
            hcl_num("1.5"),
            "var.cores",
        ),
        rejects("rejects_an_empty_cpu_type", "cpu_type", " ", "var.cpu_type"),
        rejects("rejects_memory_in_gib", "memory", 24, "var.memory"),
        rejects("rejects_a_zero_disk", "disk_size", 0, "var.disk_size"),
        rejects(
            "rejects_an_address_without_prefix",
            "ipv4_address",
            "192.168.1.50",
            "var.ipv4_address",
        ),
        rejects("rejects_dhcp", "ipv4_address", "dhcp", "var.ipv4_address"),
        rejects(
            "rejects_a_bad_octet",
            "ipv4_address",
            "192.168.1.500/24",
            "var.ipv4_address",
        ),
        rejects(
            "rejects_the_network_address",
            "ipv4_address",
            "192.168.1.0/24",
            "var.ipv4_address",
        ),
        rejects(
            "rejects_the_broadcast_address",
            "ipv4_address",
            "192.168.1.255/24",
            "var.ipv4_address",
        ),
        rejects(
            "rejects_a_gateway_with_prefix",
            "ipv4_gateway",
            "192.168.1.1/24",
            "var.ipv4_gateway",
        ),
        rejects(
            "rejects_no_nameservers",
            "nameservers",
            Expression::Array(Vec::new()),
            "var.nameservers",
        ),
        rejects(
            "rejects_a_nameserver_host_name",
            "nameservers",
            strings(["dns.home.arpa"]),
            "var.nameservers",
        ),
        rejects(
            "rejects_an_upper_case_search_domain",
            "search_domain",
            "Home.Arpa",
            "var.search_domain",
        ),
        rejects(
            "rejects_a_user_name_with_capitals",
            "user",
            "Admin",
            "var.user",
        ),
        rejects(
            "rejects_a_key_without_its_type",
            "ssh_keys",
            strings([
                "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA me@host",
            ]),
            "var.ssh_keys",
        ),
        rejects(
            "rejects_user_data_without_cloud_config_line",
            "user_data",
            "users: []\n",
            "var.user_data",
        ),
        rejects(
            "rejects_an_upper_case_tag",
            "tags",
            strings(["K3s"]),
            "var.tags",
        ),
        rejects(
            "rejects_a_gateway_outside_the_subnet",
            "ipv4_gateway",
            "192.168.2.1",
            "proxmox_virtual_environment_vm.this",
        ),
        rejects(
            "rejects_a_vm_nobody_can_log_in_to",
            "ssh_keys",
            Expression::Array(Vec::new()),
            "proxmox_virtual_environment_vm.this",
        ),
    ];
    blocks.push(
        Run::plan("fails_when_no_template_has_the_name")
            .provider("{ proxmox = proxmox.no_template }")
            .expect_failure("data.proxmox_virtual_environment_vms.template")
            .block(),
    );
    body(blocks)
}

fn hcl_num(source: &'static str) -> Expression {
    crate::hcl::expr(source)
}
