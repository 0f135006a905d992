//! The spec exactly as the user writes it in `spec/homelab.yaml`.
//!
//! These types only describe shape: every field is typed, unknown fields are rejected,
//! and optional fields carry their defaults here so the JSON Schema shows them. Meaning
//! (cross-references, ranges, derived names) is checked in `resolve`, which turns a
//! `RawSpec` into a `Model`. Values that `resolve` may reject are `Spanned`, so its
//! errors can point at the exact line and column.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// A value with the place in the spec file it came from.
pub type At<T> = Spanned<T>;

/// A whole number written as a YAML integer. A quoted `'4'` or `!!str 4` is a
/// string and is refused, not converted: the spec means what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Int(pub i64);

impl serde::Serialize for Int {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Int;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number (without quotes)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom(format!("{v} is far too large")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Int, E> {
                Err(E::custom(format!(
                    "expected a whole number, found the string `{v}`"
                )))
            }
        }
        de.deserialize_any(Visitor)
    }
}

/// The whole homelab: one Proxmox site, its golden images, its environments (VMs)
/// and the Kubernetes workloads Argo CD keeps in sync.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "homelabgen spec")]
pub struct RawSpec {
    /// The Proxmox VE host everything runs on.
    pub site: RawSite,
    /// Tool and provider versions the generated tree pins. Every field has a default.
    #[serde(default)]
    pub versions: RawVersions,
    /// Golden images built by Packer, one entry per template.
    #[schemars(with = "Vec<RawImage>")]
    pub images: At<Vec<RawImage>>,
    /// Environments deployed by OpenTofu, one directory each under `tofu/envs/`.
    pub environments: Vec<RawEnvironment>,
    /// Workloads managed by Argo CD. Leave out to render no `k8s/` tree.
    #[serde(default)]
    pub kubernetes: Option<RawKubernetes>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// Proxmox VE API endpoint, without `/api2/json`, e.g. `https://pve.home.arpa:8006`.
    #[schemars(with = "crate::schema::ProxmoxEndpoint")]
    pub endpoint: At<String>,
    /// The Proxmox node templates are built on, and VMs are created on unless `nodes`
    /// lists more.
    #[schemars(with = "crate::schema::DnsLabel")]
    pub node: At<String>,
    /// Every Proxmox node VMs may run on (a Proxmox cluster), `node` among them. Leave
    /// out for a single node. VMs without a `node` of their own are spread over these:
    /// no two k3s servers of a cluster share a node while there are enough nodes.
    #[serde(default)]
    #[schemars(with = "Option<Vec<crate::schema::DnsLabel>>")]
    pub nodes: Option<At<Vec<At<String>>>>,
    /// Host name or address Packer uploads images to over SSH, and OpenTofu uses for snippets.
    #[schemars(with = "String")]
    pub ssh_host: At<String>,
    /// SSH user on the Proxmox host (needs `qm` and write access to the storages).
    #[serde(default = "default_ssh_user")]
    #[schemars(with = "String")]
    pub ssh_user: At<String>,
    /// Skip TLS verification of the API (self-signed certificates, the Proxmox default).
    #[serde(default = "default_true")]
    pub insecure_tls: bool,
    /// Storage pools by purpose.
    #[serde(default)]
    pub storage: RawStorage,
    /// Linux bridge VM network interfaces attach to.
    #[serde(default = "default_bridge")]
    #[schemars(with = "String")]
    pub bridge: At<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// Datastore for VM disks, EFI disks and cloud-init drives.
    #[serde(default = "default_vm_storage")]
    #[schemars(with = "String")]
    pub vm: At<String>,
    /// Datastore holding ISO images.
    #[serde(default = "default_local")]
    #[schemars(with = "String")]
    pub iso: At<String>,
    /// Datastore for cloud-init snippets (must have the `snippets` content type enabled).
    #[serde(default = "default_local")]
    #[schemars(with = "String")]
    pub snippets: At<String>,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self {
            vm: default_vm_storage(),
            iso: default_local(),
            snippets: default_local(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVersions {
    /// bpg/proxmox OpenTofu provider version.
    #[serde(default = "default_proxmox_provider")]
    #[schemars(with = "crate::schema::Semver")]
    pub proxmox_provider: At<String>,
    /// Minimum OpenTofu version the generated configuration requires.
    #[serde(default = "default_opentofu")]
    #[schemars(with = "crate::schema::Semver")]
    pub opentofu: At<String>,
    /// hashicorp/proxmox Packer plugin version.
    #[serde(default = "default_packer_proxmox")]
    #[schemars(with = "crate::schema::Semver")]
    pub packer_proxmox_plugin: At<String>,
    /// hashicorp/qemu Packer plugin version.
    #[serde(default = "default_packer_qemu")]
    #[schemars(with = "crate::schema::Semver")]
    pub packer_qemu_plugin: At<String>,
}

impl Default for RawVersions {
    fn default() -> Self {
        Self {
            proxmox_provider: default_proxmox_provider(),
            opentofu: default_opentofu(),
            packer_proxmox_plugin: default_packer_proxmox(),
            packer_qemu_plugin: default_packer_qemu(),
        }
    }
}

/// A golden image: AlmaLinux with k3s server baked in, made into a Proxmox template.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// Image name; also the directory under `packer/` (a DNS label).
    #[schemars(with = "crate::schema::DnsLabel")]
    pub name: At<String>,
    /// AlmaLinux release, `MAJOR.MINOR` (only major version 9 is supported).
    #[serde(default = "default_os_version")]
    #[schemars(with = "String")]
    pub os_version: At<String>,
    /// CPU architecture of the image.
    #[serde(default)]
    pub arch: Arch,
    /// k3s release baked into the image, `vX.Y.Z+k3sN`.
    #[schemars(with = "crate::schema::K3sVersion")]
    pub k3s_version: At<String>,
    /// Release number of this image build; the `v{release}` suffix of the template name.
    #[schemars(with = "u32")]
    pub release: At<Int>,
    /// Proxmox VM id the template gets. Leave out to let Proxmox choose.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub template_vm_id: Option<At<Int>>,
    /// Size of the VM the image is built in.
    #[serde(default)]
    pub build: RawBuild,
    /// k3s packaged components to disable. `traefik` is always disabled; `servicelb` is
    /// added when MetalLB is enabled.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub k3s_disable: Vec<At<String>>,
    /// Preload the k3s airgap images so a clone's first boot pulls nothing.
    #[serde(default = "default_true")]
    pub airgap_images: bool,
    /// Run the OpenSCAP hardening step (a stub until a profile is chosen).
    #[serde(default)]
    pub openscap: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Arch {
    /// x86-64 (`x86_64` in RPM and AlmaLinux mirror paths).
    #[default]
    #[serde(rename = "amd64")]
    Amd64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    /// CPU cores of the build VM.
    #[serde(default = "default_build_cores")]
    #[schemars(with = "u32")]
    pub cores: At<Int>,
    /// Memory of the build VM, e.g. `4GiB` or `4096MiB`.
    #[serde(default = "default_build_memory")]
    #[schemars(with = "crate::schema::Size")]
    pub memory: At<String>,
    /// Disk of the image, e.g. `20GiB`.
    #[serde(default = "default_build_disk")]
    #[schemars(with = "crate::schema::Size")]
    pub disk: At<String>,
}

impl Default for RawBuild {
    fn default() -> Self {
        Self {
            cores: default_build_cores(),
            memory: default_build_memory(),
            disk: default_build_disk(),
        }
    }
}

/// An environment: a set of VMs on one network, one OpenTofu root module.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    /// Environment name; also the directory under `tofu/envs/` (a DNS label).
    #[schemars(with = "crate::schema::DnsLabel")]
    pub name: At<String>,
    pub network: RawNetwork,
    /// OpenSSH public keys allowed to log in as the cloud-init user.
    #[schemars(with = "Vec<String>")]
    pub ssh_keys: At<Vec<At<String>>>,
    /// The cloud-init user created on every VM.
    #[serde(default = "default_vm_user")]
    #[schemars(with = "String")]
    pub user: At<String>,
    /// Declares that the VMs form one k3s cluster: the first `server` initialises
    /// embedded etcd (`cluster-init`), the other servers and every `agent` join it. Leave
    /// out and every VM is a single-node k3s server of its own.
    #[serde(default)]
    pub cluster: Option<RawCluster>,
    /// The VMs of this environment.
    pub vms: Vec<RawVm>,
}

/// A k3s cluster made of the environment's VMs (`cluster: {}` for no options).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// The Kubernetes API address: a virtual IP the servers hold with keepalived (VRRP),
    /// in the environment's network, used by no VM, gateway or MetalLB pool. Leave out to
    /// use the first server's address (the API then goes down with that server).
    #[serde(default)]
    #[schemars(with = "Option<crate::schema::Ipv4>")]
    pub api_address: Option<At<String>>,
    /// Set once the cluster runs: the first server then joins through the API address
    /// like the others instead of initialising etcd (`cluster-init`), so replacing it
    /// (e.g. `make upgrade`) adds a member rather than starting a second, empty cluster.
    /// Changing it replaces the first server on the next apply.
    #[serde(default)]
    pub initialized: bool,
    /// VRRP virtual router id (1-255) of the keepalived group that holds `api_address`.
    /// Leave out to derive one from the environment name, different for every cluster
    /// of the spec. Set it when another VRRP or CARP group on the same network (a
    /// router, a firewall pair, another lab) already uses that id.
    #[serde(default)]
    #[schemars(with = "Option<u8>")]
    pub vrrp_router_id: Option<At<Int>>,
}

/// What a VM of a cluster runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A k3s server (control plane and embedded etcd; it runs workloads too).
    #[default]
    Server,
    /// A k3s agent: runs workloads, joins the cluster through the API address.
    Agent,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// IPv4 network of the VMs, e.g. `192.168.1.0/24`.
    #[schemars(with = "crate::schema::Ipv4Cidr")]
    pub cidr: At<String>,
    /// IPv4 default gateway, inside `cidr`.
    #[schemars(with = "crate::schema::Ipv4")]
    pub gateway: At<String>,
    /// DNS servers (IPv4).
    #[schemars(with = "Vec<crate::schema::Ipv4>")]
    pub nameservers: At<Vec<At<String>>>,
    /// DNS search domain.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub search_domain: Option<At<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVm {
    /// VM name and host name (a DNS label, at most 63 characters).
    #[schemars(with = "crate::schema::DnsLabel")]
    pub name: At<String>,
    /// Name of the image (from `images`) the VM is cloned from.
    #[schemars(with = "crate::schema::DnsLabel")]
    pub image: At<String>,
    /// CPU cores (a k3s server needs at least 2).
    #[schemars(with = "u32")]
    pub cores: At<Int>,
    /// Memory, e.g. `24GiB` or `24576MiB` (at least 2GiB).
    #[schemars(with = "crate::schema::Size")]
    pub memory: At<String>,
    /// Boot disk size in whole GiB, e.g. `64GiB`.
    #[schemars(with = "crate::schema::Size")]
    pub disk: At<String>,
    /// Static IPv4 address inside the environment's network.
    #[schemars(with = "crate::schema::Ipv4")]
    pub ip: At<String>,
    /// Proxmox VM id. Leave out to let Proxmox choose.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub vm_id: Option<At<Int>>,
    /// `server` or `agent` (only in an environment with `cluster:`). Default `server`.
    #[serde(default)]
    #[schemars(with = "Option<Role>")]
    pub role: Option<At<Role>>,
    /// The Proxmox node (one of `site.nodes`) the VM runs on. Leave out to have it
    /// placed automatically (deterministic: the spec order decides).
    #[serde(default)]
    #[schemars(with = "Option<crate::schema::DnsLabel>")]
    pub node: Option<At<String>>,
    /// A complete cloud-init user-data document (`#cloud-config`) used instead of the
    /// generated user account. It must carry its own SSH keys. In a cluster it may not
    /// set `write_files` or `vendor_data` (they would replace or switch off the
    /// vendor data that makes the VM join the cluster).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub user_data: Option<At<String>>,
}

/// Argo CD and the workloads it syncs from git.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetes {
    /// The environment whose VMs run the cluster: one with `cluster:`, or one VM.
    #[schemars(with = "crate::schema::DnsLabel")]
    pub cluster: At<String>,
    /// The git repository Argo CD watches: this repository, with `generated/` committed.
    pub git: RawGit,
    #[serde(default)]
    pub argocd: RawArgoCd,
    /// MetalLB load balancer. Enabling it also disables k3s `servicelb` in the images.
    #[serde(default)]
    pub metallb: Option<RawMetalLb>,
    /// Cluster services, one Argo CD Application each, under `k8s/infra/`.
    #[serde(default)]
    pub infra: Vec<RawHelmApp>,
    /// Applications, one Argo CD Application each, under `k8s/apps/`.
    #[serde(default)]
    pub apps: Vec<RawHelmApp>,
    /// An ingress controller (Traefik from its Helm chart, `infra/traefik/`). k3s' own
    /// Traefik stays disabled in the images. Needed by every entry with an `ingress:`.
    #[serde(default)]
    pub ingress: Option<RawIngressController>,
    /// cert-manager (`infra/cert-manager/`) with a self-signed CA as ClusterIssuer: every
    /// entry's `ingress:` then gets a TLS certificate from it.
    #[serde(default)]
    pub cert_manager: Option<RawCertManager>,
    /// Bitnami sealed-secrets: the controller as an infra app, and the encrypted
    /// Secrets committed under `path` synced by an Application (docs/k8s.md).
    #[serde(default)]
    pub sealed_secrets: Option<RawSealedSecrets>,
    /// k3s' system-upgrade-controller with Plans that upgrade k3s in place, one node at
    /// a time (docs/upgrades.md).
    #[serde(default)]
    pub system_upgrade: Option<RawSystemUpgrade>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIngressController {
    /// Traefik Helm chart version (https://traefik.github.io/charts, chart `traefik`).
    #[serde(default = "default_traefik_version")]
    #[schemars(with = "crate::schema::ChartVersion")]
    pub version: At<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSealedSecrets {
    /// sealed-secrets Helm chart version (https://bitnami-labs.github.io/sealed-secrets).
    #[serde(default = "default_sealed_secrets_version")]
    #[schemars(with = "crate::schema::Semver")]
    pub version: At<String>,
    /// Directory in the repository (outside the generated tree) holding the SealedSecret
    /// files; `make phpipam-secret` writes there.
    #[serde(default = "default_sealed_secrets_path")]
    #[schemars(with = "String")]
    pub path: At<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCertManager {
    /// cert-manager Helm chart version (https://charts.jetstack.io), written as
    /// cert-manager tags it, e.g. `v1.21.2`.
    #[serde(default = "default_cert_manager_version")]
    #[schemars(with = "crate::schema::ChartVersion")]
    pub version: At<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSystemUpgrade {
    /// system-upgrade-controller release tag (`vX.Y.Z`), installed from its repository.
    #[serde(default = "default_system_upgrade_version")]
    #[schemars(with = "String")]
    pub version: At<String>,
    /// The k3s release the Plans upgrade every node to, in place (`vX.Y.Z+k3sN`).
    /// Defaults to the cluster's image; set it ahead of the image to upgrade without
    /// replacing VMs. A downgrade is refused.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub k3s_version: Option<At<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGit {
    /// Clone URL Argo CD reads, `https://` or `ssh://`.
    #[schemars(with = "String")]
    pub repo_url: At<String>,
    /// Branch, tag or commit Argo CD follows.
    #[serde(default = "default_revision")]
    #[schemars(with = "String")]
    pub revision: At<String>,
    /// Path of the generated tree inside that repository.
    #[serde(default = "default_git_path")]
    #[schemars(with = "String")]
    pub path: At<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArgoCd {
    /// Argo CD release whose upstream install manifest is applied.
    #[serde(default = "default_argocd_version")]
    #[schemars(with = "String")]
    pub version: At<String>,
    /// Namespace Argo CD runs in.
    #[serde(default = "default_argocd_namespace")]
    #[schemars(with = "crate::schema::DnsLabel")]
    pub namespace: At<String>,
}

impl Default for RawArgoCd {
    fn default() -> Self {
        Self {
            version: default_argocd_version(),
            namespace: default_argocd_namespace(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMetalLb {
    /// MetalLB Helm chart version.
    #[serde(default = "default_metallb_version")]
    #[schemars(with = "crate::schema::Semver")]
    pub version: At<String>,
    /// Address ranges MetalLB hands out, `A.B.C.D-E.F.G.H` or a CIDR, in the cluster's network.
    #[schemars(with = "Vec<String>")]
    pub addresses: Vec<At<String>>,
}

/// An Argo CD Application: a Helm chart (`chart:`) or manifests / a kustomization the
/// user keeps in this repository (`path:`). Exactly one of the two.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHelmApp {
    /// Application name (a DNS label); also its directory.
    #[schemars(with = "crate::schema::DnsLabel")]
    pub name: At<String>,
    /// Namespace the chart is installed into (a DNS label). Defaults to the name.
    #[serde(default)]
    #[schemars(with = "Option<crate::schema::DnsLabel>")]
    pub namespace: Option<At<String>>,
    /// The Helm chart: from an http(s) chart repository or an OCI registry (`oci://`).
    #[serde(default)]
    pub chart: Option<RawChart>,
    /// Instead of a chart: a directory of this repository, relative to its root and outside
    /// the generated tree (e.g. `manifests/whoami`), holding plain manifests or a
    /// `kustomization.yaml`. Argo CD syncs it as it is; `make test` builds and validates it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub path: Option<At<String>>,
    /// Helm values, written to `values.yaml` next to the Application.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// A Helm values file you own in this repository (relative to its root, outside the
    /// generated tree, e.g. `values/grafana.yaml`), read by Argo CD from git through
    /// `$values`, after `values.yaml`: its keys win over `values:`, and its comments stay yours.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub values_file: Option<At<String>>,
    /// Serve the application under a host name: an Ingress of the ingress controller
    /// (`kubernetes.ingress`), with a certificate when `kubernetes.cert_manager` is set.
    #[serde(default)]
    pub ingress: Option<RawAppIngress>,
    /// Pod Security Standard the namespace enforces (labels
    /// `pod-security.kubernetes.io/{enforce,audit,warn}`). Leave out for none.
    #[serde(default)]
    pub pod_security: Option<PodSecurity>,
    /// Sync policy; automated sync with prune and self-heal unless turned off here.
    #[serde(default)]
    pub sync: RawSync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    /// No restrictions (host networking, privileged containers).
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Current pod hardening best practice.
    Restricted,
}

impl PodSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurity::Privileged => "privileged",
            PodSecurity::Baseline => "baseline",
            PodSecurity::Restricted => "restricted",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAppIngress {
    /// The host name, e.g. `grafana.home.arpa` (lower case, no wildcard).
    #[schemars(with = "crate::schema::HostName")]
    pub host: At<String>,
    /// The Service the Ingress sends traffic to. Known for phpIPAM; required otherwise.
    #[serde(default)]
    #[schemars(with = "Option<crate::schema::DnsLabel>")]
    pub service: Option<At<String>>,
    /// That Service's port. Known for phpIPAM; default 80.
    #[serde(default)]
    #[schemars(with = "Option<u16>")]
    pub port: Option<At<Int>>,
}

/// Resources whose differences Argo CD ignores (an Application's `ignoreDifferences`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIgnoreDifference {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    /// Kind, e.g. `Deployment`.
    #[schemars(with = "String")]
    pub kind: At<String>,
    /// Only the object of this name.
    #[serde(default)]
    pub name: Option<String>,
    /// Only objects in this namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// JSON pointers (RFC 6901) of the fields to ignore, e.g. `/spec/replicas`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub json_pointers: Vec<At<String>>,
    /// jq path expressions of the fields to ignore.
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChart {
    /// Helm repository URL (http or https), or an OCI registry path
    /// `oci://registry/path` (the chart is then `oci://registry/path/<name>`).
    #[schemars(with = "crate::schema::ChartRepoUrl")]
    pub repo_url: At<String>,
    /// Chart name in that repository.
    #[schemars(with = "String")]
    pub name: At<String>,
    /// Exact chart version, as the chart publishes it (`1.2.3` or `v1.2.3`).
    #[schemars(with = "crate::schema::ChartVersion")]
    pub version: At<String>,
}

impl RawChart {
    pub fn chart_name(&self) -> &str {
        &self.name.value
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    #[serde(default = "default_true")]
    pub automated: bool,
    #[serde(default = "default_true")]
    pub prune: bool,
    #[serde(default = "default_true")]
    pub self_heal: bool,
    /// Sync wave of the Application inside the root (default: 0 for infra, 1 for apps).
    #[serde(default)]
    #[schemars(with = "Option<i32>")]
    pub wave: Option<At<Int>>,
    /// Apply with server-side apply (needed for large CRDs).
    #[serde(default = "default_true")]
    pub server_side_apply: bool,
    /// Fields Argo CD must not compare (a controller or webhook writes them); also sets
    /// `RespectIgnoreDifferences=true`, so a sync leaves them alone too.
    #[serde(default)]
    pub ignore_differences: Vec<RawIgnoreDifference>,
}

impl Default for RawSync {
    fn default() -> Self {
        Self {
            automated: true,
            prune: true,
            self_heal: true,
            wave: None,
            server_side_apply: true,
            ignore_differences: Vec::new(),
        }
    }
}

// Defaults. A default has no place in the file, so its location is "unknown".
fn unspanned<T>(value: T) -> At<T> {
    Spanned::new(
        value,
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}
fn s(value: &str) -> At<String> {
    unspanned(value.to_owned())
}
fn default_true() -> bool {
    true
}
fn default_ssh_user() -> At<String> {
    s("root")
}
fn default_bridge() -> At<String> {
    s("vmbr0")
}
fn default_vm_storage() -> At<String> {
    s("local-lvm")
}
fn default_local() -> At<String> {
    s("local")
}
fn default_proxmox_provider() -> At<String> {
    s(crate::defaults::PROXMOX_PROVIDER)
}
fn default_opentofu() -> At<String> {
    s(crate::defaults::OPENTOFU)
}
fn default_packer_proxmox() -> At<String> {
    s(crate::defaults::PACKER_PROXMOX_PLUGIN)
}
fn default_packer_qemu() -> At<String> {
    s(crate::defaults::PACKER_QEMU_PLUGIN)
}
fn default_os_version() -> At<String> {
    s(crate::defaults::ALMALINUX)
}
fn default_build_cores() -> At<Int> {
    unspanned(Int(2))
}
fn default_build_memory() -> At<String> {
    s("4GiB")
}
fn default_build_disk() -> At<String> {
    s("20GiB")
}
fn default_vm_user() -> At<String> {
    s("admin")
}
fn default_revision() -> At<String> {
    s("main")
}
fn default_git_path() -> At<String> {
    s("generated/k8s")
}
fn default_argocd_version() -> At<String> {
    s(crate::defaults::ARGOCD)
}
fn default_argocd_namespace() -> At<String> {
    s("argocd")
}
fn default_metallb_version() -> At<String> {
    s(crate::defaults::METALLB)
}
fn default_traefik_version() -> At<String> {
    s(crate::defaults::TRAEFIK_CHART)
}
fn default_cert_manager_version() -> At<String> {
    s(crate::defaults::CERT_MANAGER)
}
fn default_sealed_secrets_version() -> At<String> {
    s(crate::defaults::SEALED_SECRETS)
}
fn default_sealed_secrets_path() -> At<String> {
    s("secrets")
}
fn default_system_upgrade_version() -> At<String> {
    s(crate::defaults::SYSTEM_UPGRADE_CONTROLLER)
}
