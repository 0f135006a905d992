//! The resolved homelab: defaults applied, references checked, shared values derived.
//!
//! A `Model` that exists is valid. Renderers read it and never fail on user input.
//! Every value two generated trees must agree on (the template name Packer builds and
//! OpenTofu clones, the k3s components disabled because an app replaces them) is a
//! field here, computed once in `resolve`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// How generated files name their source in their header line, e.g. `spec/homelab.yaml`.
    pub spec_name: String,
    pub site: Site,
    pub versions: Versions,
    pub images: Vec<Image>,
    pub environments: Vec<Environment>,
    pub kubernetes: Option<Kubernetes>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Site {
    /// `https://host:8006`, no trailing slash: the form bpg/proxmox wants.
    pub endpoint: String,
    /// `https://host:8006/api2/json`: the form the Packer plugin wants.
    pub api_url: String,
    pub node: String,
    /// Every node VMs may run on, `node` first; `[node]` when the spec lists none.
    pub nodes: Vec<String>,
    pub ssh_host: String,
    pub ssh_user: String,
    pub insecure_tls: bool,
    pub storage: Storage,
    pub bridge: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Storage {
    pub vm: String,
    pub iso: String,
    pub snippets: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    pub proxmox_provider: String,
    pub opentofu: String,
    pub packer_proxmox_plugin: String,
    pub packer_qemu_plugin: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// Directory under `packer/`, e.g. `alma9-k3s-optimized`.
    pub name: String,
    /// `9.8`
    pub os_version: String,
    /// `9`
    pub os_major: u32,
    /// Architecture as Kubernetes and the template name spell it: `amd64`.
    pub arch: String,
    /// Architecture as RPM and AlmaLinux mirrors spell it: `x86_64`.
    pub rpm_arch: String,
    /// `v1.36.3+k3s1`, as the k3s installer wants it.
    pub k3s_version: String,
    /// `v1.36.3-k3s1`: `+` is not allowed in a Proxmox VM name.
    pub k3s_version_dashed: String,
    /// The Kubernetes version k3s ships, `1.36.3` (for schemas and docs).
    pub kubernetes_version: String,
    pub release: u32,
    /// `alma{os_version}-k3-node-{arch}-{k3s_version_dashed}-v{release}`.
    pub template_name: String,
    pub template_vm_id: Option<u32>,
    /// The AlmaLinux boot ISO for `os_version` and `rpm_arch`.
    pub iso_url: String,
    /// The CHECKSUM file next to it, as Packer's `file:` checksum form.
    pub iso_checksum: String,
    /// The BaseOS repository a boot ISO installs from.
    pub baseos_url: String,
    pub build: BuildVm,
    /// k3s components to disable, sorted, without duplicates (`traefik` always,
    /// `servicelb` when MetalLB is enabled, plus what the spec lists).
    pub k3s_disable: Vec<String>,
    pub airgap_images: bool,
    pub openscap: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildVm {
    pub cores: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// Directory under `tofu/envs/`, e.g. `k3s-single`.
    pub name: String,
    pub network: Network,
    pub ssh_keys: Vec<String>,
    pub user: String,
    pub vms: Vec<Vm>,
    /// Set when the VMs form one k3s cluster (`cluster:` in the spec).
    pub cluster: Option<Cluster>,
}

/// A multi-VM k3s cluster: what every VM's vendor data needs.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// The Kubernetes API address: the VIP, else the first server's address.
    pub api_address: Ipv4Addr,
    /// The virtual IP the servers hold (keepalived), when the spec sets one.
    pub vip: Option<Ipv4Addr>,
    /// The first server: it initialises embedded etcd (`cluster-init`) unless the
    /// cluster is `initialized`, and the kubeconfig is fetched from it.
    pub first_server: String,
    /// The cluster exists: every VM, the first server too, joins through the API address.
    pub initialized: bool,
    /// VRRP virtual router id (1..=255): the spec's `vrrp_router_id`, else derived from
    /// the environment name, unique among the spec's clusters.
    pub vrrp_router_id: u8,
}

/// What a VM runs in k3s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Server,
    Agent,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    /// `192.168.1.0/24`, normalised to the network address.
    pub cidr: String,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub nameservers: Vec<Ipv4Addr>,
    pub search_domain: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Vm {
    pub name: String,
    /// Name of the image in `Model::images`.
    pub image: String,
    /// The template it is cloned from (the image's `template_name`).
    pub template_name: String,
    pub cores: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub ip: Ipv4Addr,
    /// `ip/prefix_len`, the form cloud-init and bpg/proxmox want.
    pub ip_cidr: String,
    pub vm_id: Option<u32>,
    pub user_data: Option<String>,
    /// The Proxmox node it runs on (from the spec, or placed).
    pub node: String,
    /// `server` unless the spec says `agent` (in a cluster).
    pub role: Role,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kubernetes {
    /// The environment running the cluster.
    pub cluster: String,
    /// Its first server: the k3s server the kubeconfig is fetched from.
    pub server_vm: String,
    pub server_ip: Ipv4Addr,
    /// The address kubectl talks to: the cluster's VIP, else `server_ip`.
    pub api_address: Ipv4Addr,
    /// kubectl context name, `homelab-{cluster}`.
    pub context: String,
    /// The Kubernetes version the cluster runs (from the server VM's image).
    pub kubernetes_version: String,
    pub git: Git,
    pub argocd: ArgoCd,
    pub metallb: Option<MetalLb>,
    pub infra: Vec<HelmApp>,
    pub apps: Vec<HelmApp>,
    /// The ingress controller (Traefik from its chart), when enabled.
    pub ingress: Option<IngressController>,
    /// cert-manager and its CA ClusterIssuer, when enabled.
    pub cert_manager: Option<CertManager>,
    pub sealed_secrets: Option<SealedSecrets>,
    pub system_upgrade: Option<SystemUpgrade>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngressController {
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertManager {
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SealedSecrets {
    /// The sealed-secrets Helm chart version.
    pub version: String,
    /// Repository path of the SealedSecret files (outside the generated tree).
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemUpgrade {
    /// The controller's release tag, `vX.Y.Z`.
    pub version: String,
    /// The k3s release the Plans upgrade every node to, `vX.Y.Z+k3sN`.
    pub k3s_version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Git {
    pub repo_url: String,
    pub revision: String,
    /// Path of the generated k8s tree in the repository, no leading or trailing `/`.
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArgoCd {
    pub version: String,
    pub namespace: String,
    /// `https://raw.githubusercontent.com/argoproj/argo-cd/{version}/manifests/install.yaml`
    pub install_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetalLb {
    pub version: String,
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HelmApp {
    pub name: String,
    pub namespace: String,
    pub chart_repo_url: String,
    pub chart: String,
    pub chart_version: String,
    pub values: BTreeMap<String, serde_json::Value>,
    pub sync: SyncPolicy,
    /// How Argo CD gets the manifests: a chart (http or OCI) or a directory of the repo.
    /// For `Path`, the `chart*` fields are empty.
    pub kind: AppKind,
    /// A values file of the user's, relative to the repository root (`$values/<it>`).
    pub values_file: Option<String>,
    pub ingress: Option<AppIngress>,
    /// Pod Security Standard of the namespace: `privileged`, `baseline` or `restricted`.
    pub pod_security: Option<String>,
    pub options: SyncOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AppKind {
    /// A chart from an http(s) Helm repository.
    Helm,
    /// A chart from an OCI registry: `chart_repo_url` is `oci://host/path`.
    Oci,
    /// Manifests or a kustomization at this path of the repository (from its root).
    Path(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct AppIngress {
    pub host: String,
    /// The backend Service and port (resolved: known charts fill them in).
    pub service: String,
    pub port: u16,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncOptions {
    /// The Application's sync wave in the root; `None`: its section's.
    pub wave: Option<i32>,
    pub server_side_apply: bool,
    pub ignore_differences: Vec<IgnoreDifference>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IgnoreDifference {
    pub group: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub json_pointers: Vec<String>,
    pub jq_path_expressions: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct SyncPolicy {
    pub automated: bool,
    pub prune: bool,
    pub self_heal: bool,
}

/// The template name Packer gives a build of `release`:
/// `alma{os_version}-k3-node-{arch}-{k3s_version_dashed}-v{release}` (mirrors the Packer
/// tree's `local.template_name`).
pub fn template_name(
    os_version: &str,
    arch: &str,
    k3s_version_dashed: &str,
    release: u32,
) -> String {
    format!("alma{os_version}-k3-node-{arch}-{k3s_version_dashed}-v{release}")
}

impl Image {
    /// The template name of another release of this image (`make packer IMAGE_VERSION=N`).
    pub fn template_name_for(&self, release: u32) -> String {
        template_name(
            &self.os_version,
            &self.arch,
            &self.k3s_version_dashed,
            release,
        )
    }
}

impl Model {
    /// The image a VM is cloned from. Resolve guarantees it exists.
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|image| image.name == name)
    }

    /// The header line every generated file that allows comments starts with
    /// (without the comment marker).
    pub fn header(&self) -> String {
        format!(
            "Generated by homelabgen from {}. Do not edit: change the spec and run `homelabgen render`.",
            self.spec_name
        )
    }
}
