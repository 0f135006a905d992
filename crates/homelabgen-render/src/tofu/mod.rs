//! `tofu/`: the reusable `proxmox-vm` module and one root module per environment.
//!
//! Every file comes from the template of the same path under `templates/tofu/`
//! (see [`crate::template`]); this module only fills one flat context per directory.
//!
//! | path                          | context                                              |
//! |-------------------------------|------------------------------------------------------|
//! | `tofu/modules/proxmox-vm/*`   | [`ModuleContext`]: the same for every spec but its version pins |
//! | `tofu/envs/<environment>/*`   | [`EnvContext`]: one directory per environment of the spec |
//!
//! The module's `tests/*.tftest.hcl` run under `tofu test` with a mock of the real
//! provider; each environment's `tests/<env>.tftest.hcl` proves its VMs are the spec's.

use crate::template;
use crate::Tree;
use ::hcl::{Body, Expression};
use homelabgen_spec::model::{Cluster, Environment, Model, Role, Site, Vm};
use serde::Serialize;

/// Where the module lives, relative to `tofu/`.
const MODULE_DIR: &str = "tofu/modules/proxmox-vm";
/// The module's test files under `tests/`, static but for the header.
const MODULE_TEST_FILES: &[&str] = &["vm", "user_data", "validation"];
/// Where the kubeconfig of a k3s server is.
const K3S_KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";
/// The mock template id the environment tests clone from.
const MOCK_TEMPLATE_ID: u32 = 9000;

pub fn render(model: &Model, tree: &mut Tree) {
    render_module(model, tree);
    for environment in &model.environments {
        render_env(model, environment, tree);
    }
}

/// Context of every template under `templates/tofu/modules/proxmox-vm/`.
#[derive(Serialize)]
struct ModuleContext<'a> {
    /// The header line every file starts with.
    header: String,
    /// The least OpenTofu version (`required_version = ">= ..."`).
    opentofu_version: &'a str,
    /// The pinned bpg/proxmox version; the module allows it up to 1.0.
    provider_version: &'a str,
    /// The module's inputs, read back from the rendered `variables.tf` (README table).
    inputs: Vec<VariableDoc>,
}

/// One `variable` block as documentation: the type and default as HCL source.
#[derive(Serialize)]
struct VariableDoc {
    name: String,
    ty: String,
    /// `None`: required.
    default: Option<String>,
    description: String,
}

fn render_module(model: &Model, tree: &mut Tree) {
    let mut context = ModuleContext {
        header: model.header(),
        opentofu_version: &model.versions.opentofu,
        provider_version: &model.versions.proxmox_provider,
        inputs: Vec::new(),
    };
    let variables = template::render(&format!("{MODULE_DIR}/variables.tf"), &context);
    context.inputs = variable_docs(&variables);
    tree.add(format!("{MODULE_DIR}/variables.tf"), variables);
    for file in ["versions.tf", "main.tf", "outputs.tf", "README.md"] {
        let path = format!("{MODULE_DIR}/{file}");
        template::add(tree, path.clone(), &path, &context);
    }
    for name in MODULE_TEST_FILES {
        let path = format!("{MODULE_DIR}/tests/{name}.tftest.hcl");
        template::add(tree, path.clone(), &path, &context);
    }
}

/// The `variable` blocks of a rendered `variables.tf`, in file order.
fn variable_docs(variables_tf: &str) -> Vec<VariableDoc> {
    let body: Body = match ::hcl::parse(variables_tf) {
        Ok(body) => body,
        // A template bug: the golden tests parse every HCL file and show it.
        Err(err) => panic!("rendered variables.tf does not parse: {err}"),
    };
    let source = |e: &Expression| ::hcl::format::to_string(e).unwrap_or_default();
    body.blocks()
        .filter(|block| block.identifier() == "variable")
        .map(|block| {
            let attr = |key: &str| {
                block
                    .body()
                    .attributes()
                    .find(|a| a.key() == key)
                    .map(|a| a.expr())
            };
            VariableDoc {
                name: block.labels().first().map_or("", |l| l.as_str()).to_owned(),
                ty: attr("type").map(source).unwrap_or_default(),
                default: attr("default").map(source),
                description: match attr("description") {
                    Some(Expression::String(text)) => text.clone(),
                    _ => String::new(),
                },
            }
        })
        .collect()
}

/// Context of every template under `templates/tofu/envs/{env}/`.
#[derive(Serialize)]
struct EnvContext<'a> {
    /// The header line every file starts with.
    header: String,
    /// The least OpenTofu version.
    opentofu_version: &'a str,
    /// The bpg/proxmox version, pinned exactly.
    provider_version: &'a str,
    /// Proxmox site: the defaults of `variables.tf`.
    site: &'a Site,
    /// The environment: network, user, SSH keys.
    env: &'a Environment,
    /// Its VMs, in spec order.
    vms: Vec<VmContext<'a>>,
    /// The site lists several Proxmox nodes: each VM names its own (else
    /// `var.proxmox_node` places them all).
    multi_node: bool,
    /// Width of the longest quoted VM name (aligns `"name" = ...` in objects).
    key_width: usize,
    /// The k3s server and kubectl context; `None` for an environment without VMs.
    cluster: Option<ClusterContext>,
    /// The template name the tests' mock returns: the first VM's.
    mock_template: &'a str,
    mock_template_id: u32,
    k3s_kubeconfig: &'static str,
    /// Where the vendor data writes the k3s settings and the role (tests read them).
    k3s_cluster_config: &'static str,
    k3s_role_file: &'static str,
    /// The spec's endpoint rule, so the generated validation and `homelabgen check` agree.
    endpoint_pattern: &'static str,
    /// The variables of the rendered `variables.tf` (for `terraform.tfvars.example`).
    variables: Vec<VariableDoc>,
}

#[derive(Serialize)]
struct VmContext<'a> {
    #[serde(flatten)]
    vm: &'a Vm,
    /// `user-data/<vm>.yaml` when the VM has its own cloud-init document.
    user_data_path: Option<String>,
    /// `vendor-data/<vm>.yaml.tftpl` when the VM is part of a cluster: its vendor data
    /// with `${token}` where the cluster token goes at apply time.
    vendor_data_path: Option<String>,
    /// The vendor data template itself (the `tofu test` assertions read its facts).
    #[serde(skip)]
    vendor_data: Option<String>,
}

#[derive(Serialize)]
struct ClusterContext {
    /// kubectl context name.
    context: String,
    /// Name and address of the VM running the k3s server.
    server: String,
    server_ip: String,
    /// The Kubernetes API address: the VIP, else `server_ip`.
    api_address: String,
    /// `api_address` is a VIP (a literal), not the server's address.
    api_is_vip: bool,
    /// `output.kubeconfig_command` as it reads once the server's address is known.
    kubeconfig_command: String,
}

fn render_env(model: &Model, env: &Environment, tree: &mut Tree) {
    let dir = format!("tofu/envs/{}", env.name);
    let vms: Vec<VmContext<'_>> = env
        .vms
        .iter()
        .map(|vm| VmContext {
            vm,
            user_data_path: vm
                .user_data
                .as_ref()
                .map(|_| format!("user-data/{}.yaml", vm.name)),
            vendor_data_path: env
                .cluster
                .as_ref()
                .map(|_| format!("vendor-data/{}.yaml.tftpl", vm.name)),
            vendor_data: env
                .cluster
                .as_ref()
                .map(|cluster| vendor_data(env, cluster, vm)),
        })
        .collect();
    let mut context = EnvContext {
        header: model.header(),
        opentofu_version: &model.versions.opentofu,
        provider_version: &model.versions.proxmox_provider,
        site: &model.site,
        env,
        key_width: env
            .vms
            .iter()
            .map(|vm| vm.name.len() + 2)
            .max()
            .unwrap_or(0),
        cluster: cluster(model, env),
        multi_node: model.site.nodes.len() > 1,
        mock_template: env.vms.first().map_or("", |vm| vm.template_name.as_str()),
        mock_template_id: MOCK_TEMPLATE_ID,
        endpoint_pattern: homelabgen_spec::values::PROXMOX_ENDPOINT_PATTERN,
        k3s_kubeconfig: K3S_KUBECONFIG,
        k3s_cluster_config: K3S_CLUSTER_CONFIG,
        k3s_role_file: K3S_ROLE_FILE,
        variables: Vec::new(),
        vms,
    };
    let variables = template::render("tofu/envs/{env}/variables.tf", &context);
    context.variables = variable_docs(&variables);
    tree.add(format!("{dir}/variables.tf"), variables);
    for file in [
        "versions.tf",
        "backend.tf",
        "providers.tf",
        "main.tf",
        "outputs.tf",
        "terraform.tfvars.example",
    ] {
        let out = format!("{dir}/{file}");
        template::add(tree, out, &format!("tofu/envs/{{env}}/{file}"), &context);
    }
    template::add(
        tree,
        format!("{dir}/tests/{}.tftest.hcl", env.name),
        "tofu/envs/{env}/tests/{env}.tftest.hcl",
        &context,
    );
    for vm in &context.vms {
        if let (Some(path), Some(user_data)) = (&vm.user_data_path, &vm.vm.user_data) {
            // Cloud-init needs `#cloud-config` on the first line: no header here. The
            // file is the spec's text byte for byte (its hash names the snippet).
            tree.add(format!("{dir}/{path}"), user_data.clone());
        }
        if let (Some(path), Some(vendor_data)) = (&vm.vendor_data_path, &vm.vendor_data) {
            tree.add(format!("{dir}/{path}"), vendor_data.clone());
        }
    }
}

/// Where the vendor data puts the k3s settings of the VM's role (k3s merges
/// `config.yaml.d/*.yaml` after `config.yaml`).
pub const K3S_CLUSTER_CONFIG: &str = "/etc/rancher/k3s/config.yaml.d/50-homelabgen-cluster.yaml";
/// `server` or `agent`: which k3s unit the image starts on first boot.
pub const K3S_ROLE_FILE: &str = "/etc/homelabgen/k3s-role";
/// Servers of a cluster with a VIP: the keepalived settings the image renders.
pub const K3S_VIP_FILE: &str = "/etc/homelabgen/k3s-vip.env";
/// The placeholder `templatefile()` replaces with the cluster token.
pub const TOKEN_PLACEHOLDER: &str = "${token}";

/// The cloud-init vendor data of one VM of a cluster (CLUSTER-CONTRACT.md): only
/// `write_files`, so first boot pulls nothing and the user-data Proxmox generates (the
/// login and keys) still applies. An OpenTofu template: `${token}` is the one cluster
/// token, filled in at apply time; nothing else in it is a template sequence (names are
/// DNS labels, addresses dotted quads).
pub fn vendor_data(env: &Environment, cluster: &Cluster, vm: &Vm) -> String {
    let api = cluster.api_address;
    let mut k3s = String::new();
    match vm.role {
        Role::Server if vm.name == cluster.first_server && !cluster.initialized => {
            k3s.push_str("cluster-init: true\n")
        }
        // An initialized cluster's first server joins too: through the VIP, or without
        // one through the next server (the API address is its own).
        Role::Server if vm.name == cluster.first_server && cluster.vip.is_none() => {
            let other = env
                .vms
                .iter()
                .find(|v| v.role == Role::Server && v.name != vm.name)
                .map_or(api, |v| v.ip);
            k3s.push_str(&format!("server: https://{other}:6443\n"))
        }
        _ => k3s.push_str(&format!("server: https://{api}:6443\n")),
    }
    k3s.push_str(&format!("token: \"{TOKEN_PLACEHOLDER}\"\n"));
    if vm.role == Role::Server {
        k3s.push_str("tls-san:\n");
        let mut sans = vec![api.to_string()];
        if vm.ip != api {
            sans.push(vm.ip.to_string());
        }
        for san in sans {
            k3s.push_str(&format!("  - {san}\n"));
        }
    }
    k3s.push_str(&format!("node-ip: {}\n", vm.ip));
    let role = match vm.role {
        Role::Server => "server",
        Role::Agent => "agent",
    };
    let mut files = vec![
        (K3S_CLUSTER_CONFIG, "0600", k3s),
        (K3S_ROLE_FILE, "0644", format!("{role}\n")),
    ];
    if let (Some(vip), Role::Server) = (cluster.vip, vm.role) {
        let rank = env
            .vms
            .iter()
            .filter(|v| v.role == Role::Server)
            .position(|v| v.name == vm.name)
            .unwrap_or(0);
        files.push((
            K3S_VIP_FILE,
            "0644",
            format!(
                "HOMELAB_VIP_ADDRESS={vip}\nHOMELAB_VIP_PREFIX={}\nHOMELAB_VRRP_ROUTER_ID={}\nHOMELAB_VRRP_PRIORITY={}\n",
                env.network.prefix_len,
                cluster.vrrp_router_id,
                150usize.saturating_sub(rank).max(1)
            ),
        ));
    }
    let mut out = format!(
        "#cloud-config\n# k3s {role} {name} of cluster {env}: vendor data from homelabgen (tofu/envs/{env}/vendor-data).\n# The token is filled in at apply time; it lives in the OpenTofu state and on the snippets storage.\nwrite_files:\n",
        name = vm.name,
        env = env.name
    );
    for (path, mode, content) in files {
        out.push_str(&format!(
            "  - path: {path}\n    owner: root:root\n    permissions: \"{mode}\"\n    content: |\n"
        ));
        for line in content.lines() {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out
}

/// What kubectl calls the cluster of this environment, which VM is its (first) server,
/// and the API address kubectl talks to (the cluster's VIP, else that server's address).
fn cluster(model: &Model, env: &Environment) -> Option<ClusterContext> {
    let (context, server_name) = match (&model.kubernetes, &env.cluster) {
        (Some(k), _) if k.cluster == env.name => (k.context.clone(), k.server_vm.as_str()),
        (_, Some(c)) => (format!("homelab-{}", env.name), c.first_server.as_str()),
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
    let ip = server.ip;
    let api = env.cluster.as_ref().map_or(ip, |c| c.api_address);
    Some(ClusterContext {
        kubeconfig_command: format!(
            "set -o pipefail; mkdir -p ~/.kube && f=$(mktemp ~/.kube/.{context}.yaml.XXXXXX) && chmod 600 \"$f\" && {{ ssh {user}@{ip} sudo cat {K3S_KUBECONFIG} | sed -e 's/127.0.0.1/{api}/' -e 's/: default$/: {context}/' > \"$f\" && grep -q 'server: https://{api}:6443' \"$f\" && mv \"$f\" ~/.kube/{context}.yaml; }} || {{ rm -f \"$f\"; false; }}",
            user = env.user
        ),
        context,
        server: server.name.clone(),
        server_ip: ip.to_string(),
        api_address: api.to_string(),
        api_is_vip: env.cluster.as_ref().is_some_and(|c| c.vip.is_some()),
    })
}

#[cfg(test)]
mod tests;
