//! Typed Kubernetes, Kustomize, Argo CD and MetalLB objects: only the fields the
//! generated tree uses, named and ordered as the upstream schemas spell them.
//! Optional fields are left out when empty, so every object is exactly what is set.

use serde::Serialize;
use std::collections::BTreeMap;

pub const ARGOCD_API: &str = "argoproj.io/v1alpha1";
pub const METALLB_API: &str = "metallb.io/v1beta1";
pub const KUSTOMIZE_API: &str = "kustomize.config.k8s.io/v1beta1";
/// The cluster Argo CD runs in.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";
/// Deleting an Application with this finalizer deletes what it deployed.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,
}

impl Kustomization {
    pub fn new(namespace: Option<String>, resources: Vec<String>) -> Self {
        Self {
            api_version: KUSTOMIZE_API,
            kind: "Kustomization",
            namespace,
            resources,
            patches: Vec::new(),
        }
    }
}

/// A kustomize patch: `patch` is a JSON 6902 patch (JSON text) applied to every object
/// `target` selects.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    pub target: PatchTarget,
    pub patch: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchTarget {
    pub group: String,
    pub kind: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
}

impl Namespace {
    pub fn new(metadata: ObjectMeta) -> Self {
        Self {
            api_version: "v1",
            kind: "Namespace",
            metadata,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
}

impl Application {
    pub fn new(metadata: ObjectMeta, spec: ApplicationSpec) -> Self {
        Self {
            api_version: ARGOCD_API,
            kind: "Application",
            metadata,
            spec,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    /// A single source (the root and plain directory apps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Several sources: a Helm chart plus the git repository holding its values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    pub destination: Destination,
    pub sync_policy: SyncPolicy,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<IgnoreDifference>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Names this source so another one can read files from it as `$<ref>/...`.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmSource>,
    /// A plain directory of manifests: which files, and whether subdirectories count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectorySource>,
    /// A kustomization: image overrides on top of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizeSource>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySource {
    pub recurse: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeSource {
    pub images: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmSource {
    pub release_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value_files: Vec<String>,
    /// Values written into the Application itself (they win over `valueFiles`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values_object: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub server: String,
    pub namespace: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Absent: Argo CD only syncs when asked (UI, CLI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automated: Option<Automated>,
    pub sync_options: Vec<String>,
    pub retry: Retry,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    pub prune: bool,
    pub self_heal: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    pub limit: u32,
    pub backoff: Backoff,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    pub duration: String,
    pub factor: u32,
    pub max_duration: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreDifference {
    pub group: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddressPool {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: IpAddressPoolSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpAddressPoolSpec {
    pub addresses: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L2Advertisement {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: L2AdvertisementSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L2AdvertisementSpec {
    pub ip_address_pools: Vec<String>,
}

pub const CERT_MANAGER_API: &str = "cert-manager.io/v1";

/// A `networking.k8s.io/v1` Ingress with one host, one path and optional TLS.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: IngressSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    pub ingress_class_name: String,
    pub rules: Vec<IngressRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<IngressTls>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressRule {
    pub host: String,
    pub http: IngressHttp,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressHttp {
    pub paths: Vec<IngressPath>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressPath {
    pub path: String,
    pub path_type: String,
    pub backend: IngressBackend,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressBackend {
    pub service: IngressServiceBackend,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressServiceBackend {
    pub name: String,
    pub port: ServicePort,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub number: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    pub hosts: Vec<String>,
    pub secret_name: String,
}

/// A cert-manager object whose `spec` is written as JSON (ClusterIssuer, Certificate).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertManagerObject {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: serde_json::Value,
}
