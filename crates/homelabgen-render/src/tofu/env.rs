//! `tofu/envs/<environment>/`: the root module of one environment. It calls the
//! `proxmox-vm` module once per VM of the spec (`for_each` over `local.vms`), and
//! says how to reach the k3s server it creates.
//!
//! Site settings (API endpoint, node, storages, bridge) are variables whose defaults
//! come from the spec, so an operator can point the same tree elsewhere with a
//! `terraform.tfvars`. The VMs themselves (sizes, addresses, templates) come from
//! the spec only: change them there and render again.

use super::tftest::{self, object, string_keyed, template_vm, Run};
use super::{
    annotate, expression_source, file_with_notes, output, strings, template, variables_body,
    versions, Part, Variable, MODULE_DIR,
};
use crate::hcl;
use crate::Tree;
use ::hcl::expr::{
    BinaryOp, BinaryOperator, Expression, FuncCall, Operation, Traversal, Variable as Var,
};
use ::hcl::{Block, Body};
use homelabgen_spec::model::{Environment, Model, Vm};

/// Where the kubeconfig of a k3s server is.
const K3S_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";
/// The mock template id the environment tests clone from.
const MOCK_TEMPLATE_ID: u32 = 9000;

pub(crate) fn render(model: &Model, env: &Environment, tree: &mut Tree) {
    let dir = format!("tofu/envs/{}", env.name);
    let header = model.header();
    let variables = variables(model);
    tree.add(
        format!("{dir}/versions.tf"),
        hcl::file(
            &header,
            &versions(model, model.versions.proxmox_provider.clone()),
        ),
    );
    tree.add(format!("{dir}/backend.tf"), backend(&header));
    tree.add(format!("{dir}/providers.tf"), providers(&header));
    tree.add(
        format!("{dir}/variables.tf"),
        hcl::file(&header, &variables_body(&variables)),
    );
    tree.add(format!("{dir}/main.tf"), main_tf(&header, env));
    tree.add(
        format!("{dir}/outputs.tf"),
        hcl::file(&header, &outputs(model, env)),
    );
    tree.add(
        format!("{dir}/terraform.tfvars.example"),
        tfvars_example(&header, &variables),
    );
    tree.add(
        format!("{dir}/tests/{}.tftest.hcl", env.name),
        hcl::file(&header, &tests(model, env)),
    );
    for vm in &env.vms {
        if let Some(user_data) = &vm.user_data {
            // Cloud-init needs `#cloud-config` on the first line: no header here. The
            // file is the spec's text byte for byte (its hash names the snippet).
            tree.add(format!("{dir}/{}", user_data_path(vm)), user_data.clone());
        }
    }
}

fn user_data_path(vm: &Vm) -> String {
    format!("user-data/{}.yaml", vm.name)
}

/// What kubectl calls the cluster of this environment, and which VM is its server.
struct Cluster<'a> {
    context: String,
    server: &'a Vm,
}

fn cluster<'a>(model: &Model, env: &'a Environment) -> Option<Cluster<'a>> {
    let (context, server_name) = match &model.kubernetes {
        Some(k) if k.cluster == env.name => (k.context.clone(), k.server_vm.as_str()),
        _ => (
            format!("homelab-{}", env.name),
            env.vms.first()?.name.as_str(),
        ),
    };
    let server = env
        .vms
        .iter()
        .find(|vm| vm.name == server_name)
        .or(env.vms.first())?;
    Some(Cluster { context, server })
}

fn backend(header: &str) -> String {
    let body = Body::builder()
        .add_block(
            Block::builder("terraform")
                .add_block(
                    Block::builder("backend")
                        .add_label("local")
                        .add_attribute(("path", "terraform.tfstate"))
                        .build(),
                )
                .build(),
        )
        .build();
    file_with_notes(
        header,
        &[
            "State lives in terraform.tfstate next to this file (the local backend). It holds VM ids,",
            "names and addresses, never the API token. Keep it out of git (the repository's",
            ".gitignore does) and back it up: without it OpenTofu no longer knows the VMs it made.",
            "",
            "TODO: for state shared between machines, with locking, replace the block below by a",
            "remote backend (for example \"s3\" against MinIO, \"pg\" or \"http\"), then run",
            "`tofu init -migrate-state` once to move the existing state there. Backend",
            "credentials go in environment variables, never in this file.",
        ],
        &body,
    )
}

fn providers(header: &str) -> String {
    let body = Body::builder()
        .add_block(
            Block::builder("provider")
                .add_label("proxmox")
                .add_attribute(("endpoint", hcl::expr("var.proxmox_endpoint")))
                .add_attribute(("insecure", hcl::expr("var.proxmox_insecure")))
                .add_block(
                    Block::builder("ssh")
                        .add_attribute(("agent", true))
                        .add_attribute(("username", hcl::expr("var.proxmox_ssh_user")))
                        .add_block(
                            Block::builder("node")
                                .add_attribute(("name", hcl::expr("var.proxmox_node")))
                                .add_attribute(("address", hcl::expr("var.proxmox_ssh_host")))
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    let text = file_with_notes(
        header,
        &[
            "The API token is read from the environment, never from a file:",
            "TODO: export PROXMOX_VE_API_TOKEN='user@realm!tokenid=secret' before tofu plan/apply",
            "(create one with `pveum user token add USER@REALM TOKENID --privsep 0`; docs/tofu.md",
            "lists the privileges). Any PROXMOX_VE_* variable works the same way.",
        ],
        &body,
    );
    annotate(
        &text,
        &[(
            "ssh {",
            &[
                "Snippets (custom cloud-init user-data) are uploaded over SSH, which the API cannot do.",
                "The key comes from your ssh-agent (ssh-add); the user needs write access to the",
                "snippets storage (root, or sudo as docs/tofu.md describes).",
            ],
        )],
    )
}

/// The spec's own endpoint rule (one pattern, shared with `values::proxmox_endpoint`).
static ENDPOINT_CONDITION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "can(regex(\"{}\", var.proxmox_endpoint))",
        homelabgen_spec::values::PROXMOX_ENDPOINT_PATTERN
    )
});

fn variables(model: &Model) -> Vec<Variable> {
    let site = &model.site;
    vec![
        Variable::new("proxmox_endpoint", "string", "Proxmox VE API endpoint, without /api2/json, e.g. https://pve.home.arpa:8006.")
            .default(site.endpoint.as_str())
            .validation(
                ENDPOINT_CONDITION.as_str(),
                r#""proxmox_endpoint must be https://HOST:PORT without a path (bpg/proxmox adds /api2/json itself), got '${var.proxmox_endpoint}'.""#,
            ),
        Variable::new("proxmox_insecure", "bool", "Skip TLS verification of the API (Proxmox ships a self-signed certificate).")
            .default(site.insecure_tls),
        Variable::new("proxmox_node", "string", "Proxmox node the VMs are created on.")
            .default(site.node.as_str())
            .validation(
                r#"can(regex("^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$", var.proxmox_node))"#,
                r#""proxmox_node must be a Proxmox node name (letters, digits and '-'), got '${var.proxmox_node}'.""#,
            ),
        Variable::new("proxmox_ssh_host", "string", "Address of the Proxmox node for SSH (snippet uploads).")
            .default(site.ssh_host.as_str())
            .validation(
                r#"can(regex("^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$", var.proxmox_ssh_host))"#,
                r#""proxmox_ssh_host must be a host name or IP address (no scheme, user or port), got '${var.proxmox_ssh_host}'.""#,
            ),
        Variable::new("proxmox_ssh_user", "string", "SSH user on the Proxmox node (root, or a user with sudo for pvesm, qm and the snippets directory).")
            .default(site.ssh_user.as_str())
            .validation(
                r#"can(regex("^[a-z_][a-z0-9_.-]{0,31}$", var.proxmox_ssh_user))"#,
                r#""proxmox_ssh_user must be a Linux user name, got '${var.proxmox_ssh_user}'.""#,
            ),
        Variable::new("vm_storage", "string", "Datastore for VM disks, EFI disks and cloud-init drives.")
            .default(site.storage.vm.as_str())
            .validation(
                r#"can(regex("^[A-Za-z][A-Za-z0-9._-]*$", var.vm_storage))"#,
                r#""vm_storage must be a Proxmox storage id, got '${var.vm_storage}'.""#,
            ),
        Variable::new("snippets_storage", "string", "Datastore for cloud-init snippets (needs the 'snippets' content type).")
            .default(site.storage.snippets.as_str())
            .validation(
                r#"can(regex("^[A-Za-z][A-Za-z0-9._-]*$", var.snippets_storage))"#,
                r#""snippets_storage must be a Proxmox storage id, got '${var.snippets_storage}'.""#,
            ),
        Variable::new("bridge", "string", "Bridge the VMs' network interfaces are attached to.")
            .default(site.bridge.as_str())
            .validation(
                r#"can(regex("^[A-Za-z0-9_.-]{1,15}$", var.bridge))"#,
                r#""bridge must be a Linux interface name (1 to 15 letters, digits, '.', '_', '-'), got '${var.bridge}'.""#,
            ),
    ]
}

/// `module.vm["<name>"]`, then the attribute.
fn vm_ref(vm: &str, attribute: &str) -> Expression {
    Traversal::builder(Var::unchecked("module"))
        .attr("vm")
        .index(Expression::String(vm.to_owned()))
        .attr(attribute)
        .build()
        .into()
}

fn eq(lhs: Expression, rhs: impl Into<Expression>) -> Expression {
    Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(
        lhs,
        BinaryOperator::Eq,
        rhs.into(),
    ))))
}

fn vm_entry(vm: &Vm) -> Expression {
    let user_data = match vm.user_data {
        Some(_) => FuncCall::builder("file")
            .arg(template(vec![
                Part::Expr(hcl::expr("path.module")),
                Part::Lit("/"),
                Part::Lit(&user_data_path(vm)),
            ]))
            .build()
            .into(),
        None => Expression::Null,
    };
    object(vec![
        ("template_name", Expression::from(vm.template_name.as_str())),
        ("vm_id", vm.vm_id.map_or(Expression::Null, Expression::from)),
        ("cores", vm.cores.into()),
        ("memory", vm.memory_mib.into()),
        ("disk_size", vm.disk_gib.into()),
        ("ipv4_address", vm.ip_cidr.as_str().into()),
        ("user_data", user_data),
    ])
}

fn main_tf(header: &str, env: &Environment) -> String {
    let vms = string_keyed(env.vms.iter().map(|vm| (vm.name.clone(), vm_entry(vm))));
    let network = &env.network;
    let search_domain = network
        .search_domain
        .as_deref()
        .map_or(Expression::Null, Expression::from);
    let body = Body::builder()
        .add_block(Block::builder("locals").add_attribute(("vms", vms)).build())
        .add_block(
            Block::builder("module")
                .add_label("vm")
                .add_attribute(("source", format!("../../{MODULE_DIR}")))
                .add_attribute(("for_each", hcl::expr("local.vms")))
                .add_attribute(("name", hcl::expr("each.key")))
                .add_attribute(("template_name", hcl::expr("each.value.template_name")))
                .add_attribute(("vm_id", hcl::expr("each.value.vm_id")))
                .add_attribute(("node", hcl::expr("var.proxmox_node")))
                .add_attribute(("storage", hcl::expr("var.vm_storage")))
                .add_attribute(("snippets_storage", hcl::expr("var.snippets_storage")))
                .add_attribute(("bridge", hcl::expr("var.bridge")))
                .add_attribute(("cores", hcl::expr("each.value.cores")))
                .add_attribute(("memory", hcl::expr("each.value.memory")))
                .add_attribute(("disk_size", hcl::expr("each.value.disk_size")))
                .add_attribute(("ipv4_address", hcl::expr("each.value.ipv4_address")))
                .add_attribute(("ipv4_gateway", network.gateway.to_string()))
                .add_attribute((
                    "nameservers",
                    strings(network.nameservers.iter().map(ToString::to_string)),
                ))
                .add_attribute(("search_domain", search_domain))
                .add_attribute(("user", env.user.as_str()))
                .add_attribute(("ssh_keys", strings(&env.ssh_keys)))
                .add_attribute(("user_data", hcl::expr("each.value.user_data")))
                .add_attribute(("tags", strings(["homelabgen", env.name.as_str()])))
                .build(),
        )
        .build();
    let count = env.vms.len();
    let intro = format!(
        "Environment {}: {count} VM{} cloned from the golden image, one module call each.",
        env.name,
        if count == 1 { "" } else { "s" }
    );
    let text = file_with_notes(
        header,
        &[
            intro.as_str(),
            "Sizes, addresses and templates come from the spec; change them there, not here.",
        ],
        &body,
    );
    annotate(
        &text,
        &[
            ("locals {", &["One entry per VM: memory in MiB, disk_size in GiB, ipv4_address with prefix length."]),
            (
                r#"module "vm" {"#,
                &[
                    "Replacing a VM (a new template, new user-data) creates the new one first",
                    "(create_before_destroy); a fixed vm_id or address needs the steps in",
                    "../../modules/proxmox-vm/README.md, \"Replacing a VM\".",
                ],
            ),
        ],
    )
}

/// `ssh USER@IP sudo cat k3s.yaml | sed ... > ~/.kube/CONTEXT.yaml`, with the IP
/// taken from the module's output.
fn kubeconfig_command(env: &Environment, cluster: &Cluster<'_>) -> Expression {
    let context = &cluster.context;
    let ip = || Part::Expr(vm_ref(&cluster.server.name, "ipv4_address"));
    let user_at = format!("mkdir -p ~/.kube && ssh {}@", env.user);
    let fetch = format!(" sudo cat {K3S_KUBECONFIG} | sed -e 's/127.0.0.1/");
    let rename = format!("/' -e 's/: default$/: {context}/' > ~/.kube/{context}.yaml && chmod 600 ~/.kube/{context}.yaml");
    template(vec![
        Part::Lit(&user_at),
        ip(),
        Part::Lit(&fetch),
        ip(),
        Part::Lit(&rename),
    ])
}

/// The command as it reads once the server's address is known (for the tests).
fn kubeconfig_command_text(env: &Environment, cluster: &Cluster<'_>) -> String {
    let context = &cluster.context;
    let ip = cluster.server.ip;
    format!(
        "mkdir -p ~/.kube && ssh {user}@{ip} sudo cat {K3S_KUBECONFIG} | sed -e 's/127.0.0.1/{ip}/' -e 's/: default$/: {context}/' > ~/.kube/{context}.yaml && chmod 600 ~/.kube/{context}.yaml",
        user = env.user
    )
}

fn outputs(model: &Model, env: &Environment) -> Body {
    let mut body = Body::builder()
        .add_block(output(
            "vm_ips",
            "Static IPv4 address of each VM, by name.",
            hcl::expr("{ for name, vm in module.vm : name => vm.ipv4_address }"),
        ))
        .add_block(output(
            "vms",
            "Every output of the proxmox-vm module (vm_id, addresses, what the guest agent reports, size), by VM name.",
            hcl::expr("module.vm"),
        ));
    if let Some(cluster) = cluster(model, env) {
        let server = cluster.server.name.as_str();
        body = body
            .add_block(output("server_name", "The VM running the k3s server the kubeconfig comes from.", vm_ref(server, "name")))
            .add_block(output("server_ip", "Static IPv4 address of the k3s server (the Kubernetes API is https://IP:6443).", vm_ref(server, "ipv4_address")))
            .add_block(output("ssh_user", "User to log in to the VMs with (cloud-init creates it).", env.user.as_str()))
            .add_block(output("kubectl_context", "kubectl context name of this cluster.", cluster.context.as_str()))
            .add_block(output(
                "kubeconfig_command",
                "Fetches the k3s kubeconfig from the server, points it at the server's address and names its context; or run `make kubeconfig ENV=...` to merge it into ~/.kube/config.",
                kubeconfig_command(env, &cluster),
            ));
    }
    body.build()
}

/// `terraform.tfvars.example`: every variable with its description and default, as
/// an assignment the user can copy; site-specific ones marked CHANGEME.
fn tfvars_example(header: &str, variables: &[Variable]) -> String {
    let mut out = format!(
        "# {header}\n#\n\
         # Copy to terraform.tfvars (git-ignored) and edit. Each value below is the default the\n\
         # spec gave, so an unedited copy changes nothing. VM sizes and addresses are not here:\n\
         # they come from the spec.\n\
         #\n\
         # TODO: the API token never goes in this file. Export it instead:\n\
         #   export PROXMOX_VE_API_TOKEN='user@realm!tokenid=secret'\n"
    );
    for variable in variables {
        out.push('\n');
        out.push_str(&format!("# {}\n", variable.description()));
        if let Some(note) = changeme(variable.name()) {
            out.push_str(&format!("# CHANGEME: {note}\n"));
        }
        let default = variable
            .default_source()
            .unwrap_or_else(|| expression_source(&Expression::Null));
        out.push_str(&format!("# Default: {default}\n"));
        out.push_str(&format!("{} = {default}\n", variable.name()));
    }
    out
}

fn changeme(variable: &str) -> Option<&'static str> {
    match variable {
        "proxmox_endpoint" => Some("the URL of your Proxmox VE API."),
        "proxmox_node" => Some("your node's name, as the Proxmox UI shows it."),
        "proxmox_ssh_host" => Some("the host name or address you reach the node at over SSH."),
        _ => None,
    }
}

fn tests(model: &Model, env: &Environment) -> Body {
    let template = env.vms.first().map_or("", |vm| vm.template_name.as_str());
    let mut run = Run::apply("vms_as_in_the_spec").assert(
        eq(
            FuncCall::builder("length")
                .arg(hcl::expr("module.vm"))
                .build()
                .into(),
            env.vms.len() as u64,
        ),
        &format!("the environment must have exactly {} VM(s)", env.vms.len()),
    );
    for vm in &env.vms {
        let name = vm.name.as_str();
        run = run
            .assert(
                eq(vm_ref(name, "name"), name),
                &format!("{name}: the VM must be named {name}"),
            )
            .assert(
                eq(vm_ref(name, "cores"), vm.cores),
                &format!("{name}: must have {} cores", vm.cores),
            )
            .assert(
                eq(vm_ref(name, "memory"), vm.memory_mib),
                &format!("{name}: must have {} MiB of memory", vm.memory_mib),
            )
            .assert(
                eq(vm_ref(name, "disk_size"), vm.disk_gib),
                &format!("{name}: must have a {} GiB disk", vm.disk_gib),
            )
            .assert(
                eq(vm_ref(name, "ipv4_address"), vm.ip.to_string()),
                &format!("{name}: must have the static address {}", vm.ip),
            )
            .assert(
                eq(vm_ref(name, "node"), model.site.node.as_str()),
                &format!("{name}: must run on node {}", model.site.node),
            )
            .assert(
                eq(vm_ref(name, "template_vm_id"), MOCK_TEMPLATE_ID),
                &format!("{name}: must be cloned from the template found by name"),
            );
        if let Some(id) = vm.vm_id {
            run = run.assert(
                eq(vm_ref(name, "vm_id"), id),
                &format!("{name}: must have VM id {id}"),
            );
        }
        let user_data_id = vm_ref(name, "user_data_file_id");
        run = match vm.user_data {
            Some(_) => run.assert(
                Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(
                    user_data_id,
                    BinaryOperator::NotEq,
                    Expression::Null,
                )))),
                &format!("{name}: must boot with its custom user-data snippet"),
            ),
            None => run.assert(
                eq(user_data_id, Expression::Null),
                &format!("{name}: must use the generated cloud-init account"),
            ),
        };
    }
    let ips = string_keyed(
        env.vms
            .iter()
            .map(|vm| (vm.name.clone(), Expression::from(vm.ip.to_string()))),
    );
    let mut outputs = Run::apply("outputs").assert(
        eq(hcl::expr("output.vm_ips"), ips),
        "output vm_ips must map each VM to its static address",
    );
    if let Some(cluster) = cluster(model, env) {
        let server = cluster.server;
        outputs = outputs
            .assert(eq(hcl::expr("output.server_name"), server.name.as_str()), &format!("output server_name must be {}", server.name))
            .assert(eq(hcl::expr("output.server_ip"), server.ip.to_string()), &format!("output server_ip must be {}", server.ip))
            .assert(eq(hcl::expr("output.ssh_user"), env.user.as_str()), &format!("output ssh_user must be {}", env.user))
            .assert(eq(hcl::expr("output.kubectl_context"), cluster.context.as_str()), &format!("output kubectl_context must be {}", cluster.context))
            .assert(
                eq(hcl::expr("output.kubeconfig_command"), kubeconfig_command_text(env, &cluster)),
                "output kubeconfig_command must fetch the kubeconfig from the server and point it at the server's address",
            );
    }
    tftest::body([
        tftest::mock_provider(
            None,
            vec![template_vm(template, &model.site.node, MOCK_TEMPLATE_ID)],
            None,
        ),
        run.block(),
        outputs.block(),
        Run::plan("rejects_an_endpoint_with_the_api_path")
            .var(
                "proxmox_endpoint",
                format!("{}/api2/json", model.site.endpoint),
            )
            .expect_failure("var.proxmox_endpoint")
            .block(),
        Run::plan("rejects_an_ssh_host_with_a_user")
            .var("proxmox_ssh_host", format!("root@{}", model.site.ssh_host))
            .expect_failure("var.proxmox_ssh_host")
            .block(),
    ])
}
