//! `k8s/`: Argo CD bootstrap, the app-of-apps root, `infra/` and `apps/`.
//!
//! Every manifest is a typed value from [`manifests`] serialized by `crate::yaml`;
//! only `values.yaml` gains comments after serialization ([`values`]) and the README
//! comes from `templates/k8s/README.md.j2`. The tree, relative to `generated/`:
//!
//! ```text
//! k8s/README.md                   how to apply it, in order
//! k8s/bootstrap/                  `make k8s-bootstrap`: kubectl apply --server-side -k
//!   kustomization.yaml            the pinned upstream Argo CD install.yaml, in its namespace
//!   namespace.yaml
//! k8s/root-app.yaml               `make argo`: the app of apps, synced from root/
//! k8s/root/kustomization.yaml     ../infra + ../apps
//! k8s/infra/kustomization.yaml    one directory per cluster service
//! k8s/infra/metallb/              when MetalLB is enabled
//!   kustomization.yaml namespace.yaml application.yaml
//!   config/kustomization.yaml ipaddresspool.yaml l2advertisement.yaml  (read by the Application)
//! k8s/infra/<name>/, k8s/apps/<name>/   one per spec entry
//!   kustomization.yaml namespace.yaml application.yaml
//!   values.yaml                   Helm values, read by the Application from git ($values/...)
//! k8s/apps/kustomization.yaml
//! ```
//!
//! The root Application syncs `root/`, which holds the Namespaces and the child
//! Applications; each child installs its chart. `root-app.yaml` itself is applied once by
//! hand (`make argo`), so the root never prunes itself.

pub mod charts;
pub mod gitops;
pub mod manifests;
pub mod platform;
pub mod values;

use crate::{template, yaml, Tree};
use homelabgen_spec::model::{
    AppKind, HelmApp, Kubernetes, MetalLb, Model, SyncPolicy as SpecSync,
};
use manifests::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The root Application's name (the spec's Application names may not take it).
pub const ROOT_APP: &str = "root";
/// The MetalLB Application's name and directory under `infra/`.
pub const METALLB_APP: &str = "metallb";
pub const METALLB_NAMESPACE: &str = "metallb-system";
pub const METALLB_CHART_REPO: &str = "https://metallb.github.io/metallb";
/// The address pool MetalLB hands out from, and the L2 advertisement of it.
pub const METALLB_POOL: &str = "default";
/// The ref name of the git source whose files a Helm source reads: `$values/<path>`.
pub const VALUES_REF: &str = "values";

/// Sync waves in `root/`: Namespaces first, then cluster services, then applications.
/// (Argo CD does not wait for a child Application to be healthy before the next wave
/// unless its Application health check is enabled; the waves order creation.)
const WAVE_NAMESPACES: &str = "-1";
const WAVE_INFRA: &str = "0";
const WAVE_APPS: &str = "1";
/// Inside the MetalLB Application: its pool after the chart (CRDs, controller, webhook).
const WAVE_METALLB_CONFIG: &str = "1";

/// Namespaces Kubernetes owns: an Application may install into them, but the root must
/// never manage (and on removal prune) the Namespace object itself.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The two top-level sections of spec entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Infra,
    Apps,
}

impl Section {
    pub fn dir(self) -> &'static str {
        match self {
            Section::Infra => "infra",
            Section::Apps => "apps",
        }
    }
    fn wave(self) -> &'static str {
        match self {
            Section::Infra => WAVE_INFRA,
            Section::Apps => WAVE_APPS,
        }
    }
}

pub fn render(model: &Model, tree: &mut Tree) {
    let Some(k8s) = &model.kubernetes else { return };
    let header = model.header();
    let mut out = Out {
        header: &header,
        tree,
    };

    bootstrap(&mut out, k8s);
    out.add("k8s/root-app.yaml", &root_application(k8s));
    out.add(
        "k8s/root/kustomization.yaml",
        &Kustomization::new(None, vec!["../infra".into(), "../apps".into()]),
    );

    // A Namespace object is rendered once, by the first entry that installs into it;
    // Argo CD's own namespace belongs to bootstrap/.
    let mut namespaces = Namespaces::new(k8s);
    let mut infra = Vec::new();
    if let Some(metallb) = &k8s.metallb {
        metallb_dir(&mut out, k8s, metallb, &mut namespaces);
        infra.push(METALLB_APP.to_owned());
    }
    infra.extend(platform::render(&mut out, k8s, &mut namespaces));
    infra.extend(gitops::render(&mut out, k8s, &mut namespaces));
    for app in &k8s.infra {
        helm_app_dir(&mut out, model, k8s, Section::Infra, app, &mut namespaces);
        infra.push(app.name.clone());
    }
    let apps: Vec<String> = k8s
        .apps
        .iter()
        .map(|app| {
            helm_app_dir(&mut out, model, k8s, Section::Apps, app, &mut namespaces);
            app.name.clone()
        })
        .collect();
    out.add(
        "k8s/infra/kustomization.yaml",
        &Kustomization::new(None, infra),
    );
    out.add(
        "k8s/apps/kustomization.yaml",
        &Kustomization::new(None, apps),
    );

    readme(&mut out, k8s);
}

struct Out<'a> {
    header: &'a str,
    tree: &'a mut Tree,
}

impl Out<'_> {
    fn add(&mut self, path: &str, value: &impl Serialize) {
        self.tree.add(path, yaml::document(self.header, value));
    }
}

struct Namespaces {
    taken: BTreeSet<String>,
    /// Pod Security Standard per namespace: the first entry of it that names one.
    pod_security: BTreeMap<String, String>,
    /// Namespaces holding data an entry keeps when it is removed (its PVC carries
    /// Prune=false/Delete=false): the Namespace object must not be pruned either, or its
    /// deletion would take the PVC with it.
    keep: BTreeSet<String>,
}

impl Namespaces {
    fn new(k8s: &Kubernetes) -> Self {
        let mut taken: BTreeSet<String> =
            SYSTEM_NAMESPACES.iter().map(|s| (*s).to_owned()).collect();
        taken.insert(k8s.argocd.namespace.clone());
        let mut pod_security = BTreeMap::new();
        let mut keep = BTreeSet::new();
        for app in k8s.infra.iter().chain(&k8s.apps) {
            if let Some(level) = &app.pod_security {
                pod_security
                    .entry(app.namespace.clone())
                    .or_insert_with(|| level.clone());
            }
            if charts::keeps_data(app) {
                keep.insert(app.namespace.clone());
            }
        }
        Self {
            taken,
            pod_security,
            keep,
        }
    }

    /// The Namespace object of `name`: its pod-security labels and, where data is kept,
    /// the sync options that keep it.
    fn object(&self, name: &str) -> Namespace {
        let labels = self
            .pod_security
            .get(name)
            .map(|level| pod_security_labels(level))
            .unwrap_or_default();
        let mut ns = namespace_object(name, labels);
        if self.keep.contains(name) {
            ns.metadata
                .annotations
                .insert(SYNC_OPTIONS.to_owned(), KEEP_OPTIONS.to_owned());
        }
        ns
    }
    /// True when `name` still needs its Namespace object; marks it taken.
    fn claim(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_owned())
    }
}

/// `<git.path>/<rel>`: a path inside the repository Argo CD reads.
pub fn repo_path(k8s: &Kubernetes, rel: &str) -> String {
    format!("{}/{rel}", k8s.git.path)
}

/// The namespace upstream's install.yaml is written for.
pub const ARGOCD_UPSTREAM_NAMESPACE: &str = "argocd";

fn bootstrap(out: &mut Out, k8s: &Kubernetes) {
    let namespace = &k8s.argocd.namespace;
    let mut kustomization = Kustomization::new(
        Some(namespace.clone()),
        vec!["namespace.yaml".into(), k8s.argocd.install_url.clone()],
    );
    if namespace != ARGOCD_UPSTREAM_NAMESPACE {
        // kustomize moves every namespaced object, but leaves the ServiceAccount subjects
        // of upstream's ClusterRoleBindings (one each) in `argocd`: Argo CD would run
        // without its cluster permissions.
        let op = serde_json::json!([{"op": "replace", "path": "/subjects/0/namespace", "value": namespace}]);
        kustomization.patches.push(Patch {
            target: PatchTarget {
                group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRoleBinding".into(),
            },
            patch: op.to_string(),
        });
    }
    out.add("k8s/bootstrap/kustomization.yaml", &kustomization);
    out.add(
        "k8s/bootstrap/namespace.yaml",
        &Namespace::new(ObjectMeta {
            name: namespace.clone(),
            ..ObjectMeta::default()
        }),
    );
}

/// The sync policy every Application shares: automated with prune and self-heal
/// unless the spec turns them off, namespaces created on demand, server-side apply
/// (large CRDs), and retries for resources whose CRDs arrive in the same sync.
pub fn sync_policy(sync: SpecSync, extra_options: &[&str]) -> SyncPolicy {
    let mut sync_options = vec![
        "CreateNamespace=true".to_owned(),
        "ServerSideApply=true".to_owned(),
    ];
    sync_options.extend(extra_options.iter().map(|s| (*s).to_owned()));
    SyncPolicy {
        automated: sync.automated.then_some(Automated {
            prune: sync.prune,
            self_heal: sync.self_heal,
        }),
        sync_options,
        retry: Retry {
            limit: 5,
            backoff: Backoff {
                duration: "10s".into(),
                factor: 2,
                max_duration: "3m".into(),
            },
        },
    }
}

/// The policy of the root: always automated, prune and self-heal.
pub const ROOT_SYNC: SpecSync = SpecSync {
    automated: true,
    prune: true,
    self_heal: true,
};

fn app_meta(k8s: &Kubernetes, name: &str, wave: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: name.to_owned(),
        namespace: Some(k8s.argocd.namespace.clone()),
        annotations: wave
            .map(|w| BTreeMap::from([(SYNC_WAVE.to_owned(), w.to_owned())]))
            .unwrap_or_default(),
        finalizers: vec![RESOURCES_FINALIZER.to_owned()],
        ..ObjectMeta::default()
    }
}

fn git_source(k8s: &Kubernetes) -> Source {
    Source {
        repo_url: k8s.git.repo_url.clone(),
        target_revision: k8s.git.revision.clone(),
        ..Source::default()
    }
}

fn root_application(k8s: &Kubernetes) -> Application {
    Application::new(
        app_meta(k8s, ROOT_APP, None),
        ApplicationSpec {
            project: "default".into(),
            source: Some(Source {
                path: Some(repo_path(k8s, "root")),
                ..git_source(k8s)
            }),
            sources: Vec::new(),
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: k8s.argocd.namespace.clone(),
            },
            sync_policy: sync_policy(ROOT_SYNC, &[]),
            ignore_differences: Vec::new(),
        },
    )
}

/// Argo CD's resource sync options that keep an object when its Application prunes it
/// or is deleted.
pub const KEEP_OPTIONS: &str = "Delete=false,Prune=false";

/// `pod-security.kubernetes.io/{enforce,audit,warn}: <level>`.
fn pod_security_labels(level: &str) -> BTreeMap<String, String> {
    ["enforce", "audit", "warn"]
        .iter()
        .map(|mode| {
            (
                format!("pod-security.kubernetes.io/{mode}"),
                level.to_owned(),
            )
        })
        .collect()
}

fn namespace_object(name: &str, labels: BTreeMap<String, String>) -> Namespace {
    Namespace::new(ObjectMeta {
        name: name.to_owned(),
        labels,
        annotations: BTreeMap::from([(SYNC_WAVE.to_owned(), WAVE_NAMESPACES.to_owned())]),
        ..ObjectMeta::default()
    })
}

fn metallb_dir(out: &mut Out, k8s: &Kubernetes, metallb: &MetalLb, namespaces: &mut Namespaces) {
    let dir = format!("k8s/infra/{METALLB_APP}");
    let mut resources = Vec::new();
    if namespaces.claim(METALLB_NAMESPACE) {
        // The speaker needs host networking and NET_RAW: the restricted pod security
        // levels would refuse it.
        let labels = pod_security_labels("privileged");
        out.add(
            &format!("{dir}/namespace.yaml"),
            &namespace_object(METALLB_NAMESPACE, labels),
        );
        resources.push("namespace.yaml".to_owned());
    }
    let app = Application::new(
        app_meta(k8s, METALLB_APP, Some(WAVE_INFRA)),
        ApplicationSpec {
            project: "default".into(),
            source: None,
            sources: vec![
                Source {
                    repo_url: METALLB_CHART_REPO.into(),
                    target_revision: metallb.version.clone(),
                    chart: Some("metallb".into()),
                    helm: Some(HelmSource {
                        release_name: METALLB_APP.into(),
                        value_files: Vec::new(),
                        // 0.16 enables the FRR-K8s BGP stack by default (a privileged
                        // DaemonSet, CRDs, a webhook); this tree only advertises over L2.
                        values_object: Some(serde_json::json!({"frrk8s": {"enabled": false}})),
                    }),
                    ..Source::default()
                },
                Source {
                    path: Some(repo_path(k8s, &format!("infra/{METALLB_APP}/config"))),
                    ..git_source(k8s)
                },
            ],
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: METALLB_NAMESPACE.into(),
            },
            // MetalLB's controller writes its CA into the CRD conversion webhook and the
            // validating webhooks; without this Argo CD would revert it on every sync.
            sync_policy: sync_policy(ROOT_SYNC, &["RespectIgnoreDifferences=true"]),
            ignore_differences: vec![
                IgnoreDifference {
                    group: "apiextensions.k8s.io".into(),
                    kind: "CustomResourceDefinition".into(),
                    json_pointers: vec!["/spec/conversion/webhook/clientConfig/caBundle".into()],
                    jq_path_expressions: Vec::new(),
                    name: None,
                    namespace: None,
                },
                IgnoreDifference {
                    group: "admissionregistration.k8s.io".into(),
                    kind: "ValidatingWebhookConfiguration".into(),
                    json_pointers: Vec::new(),
                    jq_path_expressions: vec![".webhooks[]?.clientConfig.caBundle".into()],
                    name: None,
                    namespace: None,
                },
            ],
        },
    );
    out.add(&format!("{dir}/application.yaml"), &app);
    resources.push("application.yaml".to_owned());
    out.add(
        &format!("{dir}/kustomization.yaml"),
        &Kustomization::new(None, resources),
    );

    // The pool, read by the Application's git source. Its CRDs come with the chart in the
    // same sync: a later wave, and no dry run while the kind is still unknown.
    let config_meta = |name: &str| ObjectMeta {
        name: name.to_owned(),
        namespace: Some(METALLB_NAMESPACE.into()),
        annotations: BTreeMap::from([
            (SYNC_WAVE.to_owned(), WAVE_METALLB_CONFIG.to_owned()),
            (
                SYNC_OPTIONS.to_owned(),
                "SkipDryRunOnMissingResource=true".to_owned(),
            ),
        ]),
        ..ObjectMeta::default()
    };
    out.add(
        &format!("{dir}/config/ipaddresspool.yaml"),
        &IpAddressPool {
            api_version: METALLB_API,
            kind: "IPAddressPool",
            metadata: config_meta(METALLB_POOL),
            spec: IpAddressPoolSpec {
                addresses: metallb.addresses.clone(),
            },
        },
    );
    out.add(
        &format!("{dir}/config/l2advertisement.yaml"),
        &L2Advertisement {
            api_version: METALLB_API,
            kind: "L2Advertisement",
            metadata: config_meta(METALLB_POOL),
            spec: L2AdvertisementSpec {
                ip_address_pools: vec![METALLB_POOL.into()],
            },
        },
    );
    out.add(
        &format!("{dir}/config/kustomization.yaml"),
        &Kustomization::new(
            None,
            vec!["ipaddresspool.yaml".into(), "l2advertisement.yaml".into()],
        ),
    );
}

/// `<section>/<name>/values.yaml` relative to the k8s tree.
pub fn values_rel_path(section: Section, app: &HelmApp) -> String {
    format!("{}/{}/values.yaml", section.dir(), app.name)
}

/// `<section>/<name>/<file>` relative to the k8s tree.
pub fn app_rel_path(section: Section, app: &HelmApp, file: &str) -> String {
    format!("{}/{}/{file}", section.dir(), app.name)
}

/// Directory (relative to the k8s tree) of an entry's Ingress, read by its Application.
pub const INGRESS_DIR: &str = "ingress";

/// The chart source of a Helm entry: a chart of an http(s) repository, or of an OCI
/// registry (Argo CD 3.1+ reads `oci://registry/path/chart` natively; `path: .` selects
/// the chart at the artifact's root).
fn chart_source(app: &HelmApp, helm: HelmSource) -> Source {
    match app.kind {
        AppKind::Oci => Source {
            repo_url: format!("{}/{}", app.chart_repo_url, app.chart),
            target_revision: app.chart_version.clone(),
            path: Some(".".into()),
            helm: Some(helm),
            ..Source::default()
        },
        _ => Source {
            repo_url: app.chart_repo_url.clone(),
            target_revision: app.chart_version.clone(),
            chart: Some(app.chart.clone()),
            helm: Some(helm),
            ..Source::default()
        },
    }
}

/// The value files of a Helm entry, in the order Helm merges them (later wins):
/// homelabgen's chart defaults, the spec's `values:`, the user's own `values_file`.
pub fn value_files(k8s: &Kubernetes, section: Section, app: &HelmApp) -> Vec<String> {
    let mut files = Vec::new();
    if charts::defaults(k8s, app).is_some() {
        files.push(repo_path(
            k8s,
            &app_rel_path(section, app, charts::DEFAULTS_FILE),
        ));
    }
    files.push(repo_path(k8s, &values_rel_path(section, app)));
    files.extend(app.values_file.clone());
    files
        .into_iter()
        .map(|f| format!("${VALUES_REF}/{f}"))
        .collect()
}

pub fn helm_application(k8s: &Kubernetes, section: Section, app: &HelmApp) -> Application {
    let wave = app
        .options
        .wave
        .map_or_else(|| section.wave().to_owned(), |w| w.to_string());
    let mut sources = match &app.kind {
        AppKind::Path(path) => vec![Source {
            path: Some(path.clone()),
            ..git_source(k8s)
        }],
        AppKind::Helm | AppKind::Oci => vec![
            chart_source(
                app,
                HelmSource {
                    release_name: app.name.clone(),
                    value_files: value_files(k8s, section, app),
                    values_object: None,
                },
            ),
            Source {
                ref_name: Some(VALUES_REF.into()),
                ..git_source(k8s)
            },
        ],
    };
    if app.ingress.is_some() {
        sources.push(Source {
            path: Some(repo_path(k8s, &app_rel_path(section, app, INGRESS_DIR))),
            ..git_source(k8s)
        });
    }
    let source = (sources.len() == 1).then(|| sources.remove(0));
    let mut extra = Vec::new();
    if !app.options.ignore_differences.is_empty() {
        extra.push("RespectIgnoreDifferences=true");
    }
    let mut policy = sync_policy(app.sync, &extra);
    if !app.options.server_side_apply {
        policy.sync_options.retain(|o| o != "ServerSideApply=true");
    }
    Application::new(
        app_meta(k8s, &app.name, Some(&wave)),
        ApplicationSpec {
            project: "default".into(),
            source,
            sources,
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: app.namespace.clone(),
            },
            sync_policy: policy,
            ignore_differences: app
                .options
                .ignore_differences
                .iter()
                .map(|d| IgnoreDifference {
                    group: d.group.clone(),
                    kind: d.kind.clone(),
                    name: d.name.clone(),
                    namespace: d.namespace.clone(),
                    json_pointers: d.json_pointers.clone(),
                    jq_path_expressions: d.jq_path_expressions.clone(),
                })
                .collect(),
        },
    )
}

fn helm_app_dir(
    out: &mut Out,
    model: &Model,
    k8s: &Kubernetes,
    section: Section,
    app: &HelmApp,
    namespaces: &mut Namespaces,
) {
    let dir = format!("k8s/{}/{}", section.dir(), app.name);
    let mut resources = Vec::new();
    if namespaces.claim(&app.namespace) {
        let ns = namespaces.object(&app.namespace);
        out.add(&format!("{dir}/namespace.yaml"), &ns);
        resources.push("namespace.yaml".to_owned());
    }
    out.add(
        &format!("{dir}/application.yaml"),
        &helm_application(k8s, section, app),
    );
    resources.push("application.yaml".to_owned());
    out.add(
        &format!("{dir}/kustomization.yaml"),
        &Kustomization::new(None, resources),
    );
    if let Some(ingress) = &app.ingress {
        platform::app_ingress(out, k8s, &dir, app, ingress);
    }
    if matches!(app.kind, AppKind::Path(_)) {
        return;
    }
    let values = values::values_yaml(out.header, model, k8s, section, app);
    out.tree.add(format!("{dir}/values.yaml"), values);
    if let Some(defaults) = charts::defaults_yaml(out.header, k8s, app) {
        out.tree
            .add(format!("{dir}/{}", charts::DEFAULTS_FILE), defaults);
    }
}

#[derive(Serialize)]
struct ReadmeEntry<'a> {
    dir: String,
    name: &'a str,
    namespace: &'a str,
    /// What Argo CD deploys: the chart and its repository, or the repository path.
    source: String,
    automated: bool,
    prune: bool,
    self_heal: bool,
    host: Option<&'a str>,
    values_file: Option<&'a str>,
}

fn readme_entries(section: Section, list: &[HelmApp]) -> Vec<ReadmeEntry<'_>> {
    list.iter()
        .map(|app| ReadmeEntry {
            dir: format!("{}/{}", section.dir(), app.name),
            name: &app.name,
            namespace: &app.namespace,
            source: match &app.kind {
                AppKind::Path(path) => format!("manifests at `{path}` (this repository)"),
                _ => format!(
                    "`{}` {} ({})",
                    app.chart, app.chart_version, app.chart_repo_url
                ),
            },
            automated: app.sync.automated,
            prune: app.sync.prune,
            self_heal: app.sync.self_heal,
            host: app.ingress.as_ref().map(|i| i.host.as_str()),
            values_file: app.values_file.as_deref(),
        })
        .collect()
}

#[derive(Serialize)]
struct ReadmeApp<'a> {
    name: &'a str,
    namespace: &'a str,
    /// `make phpipam-secret [PHPIPAM_APP=name]`.
    make_secret: String,
    facts: &'static charts::ChartFacts,
}

#[derive(Serialize)]
struct ReadmeContext<'a> {
    header: &'a str,
    k8s: &'a Kubernetes,
    root_app: &'a str,
    metallb_app: &'a str,
    metallb_namespace: &'a str,
    metallb_chart_repo: &'a str,
    infra: Vec<ReadmeEntry<'a>>,
    apps: Vec<ReadmeEntry<'a>>,
    phpipam: Option<ReadmeApp<'a>>,
    /// phpIPAM's web Service is a LoadBalancer by homelabgen's default.
    phpipam_lb: bool,
    /// Some entry has a host name or a values file of the user's (a list follows).
    has_links: bool,
    traefik_chart_repo: &'a str,
    cert_manager_chart_repo: &'a str,
    ca_issuer: &'a str,
}

fn readme(out: &mut Out, k8s: &Kubernetes) {
    let phpipam = k8s
        .apps
        .iter()
        .chain(&k8s.infra)
        .find(|a| charts::PHPIPAM.is(a));
    let context = ReadmeContext {
        header: out.header,
        k8s,
        root_app: ROOT_APP,
        metallb_app: METALLB_APP,
        metallb_namespace: METALLB_NAMESPACE,
        metallb_chart_repo: METALLB_CHART_REPO,
        infra: readme_entries(Section::Infra, &k8s.infra),
        apps: readme_entries(Section::Apps, &k8s.apps),
        phpipam_lb: phpipam.is_some_and(|a| {
            charts::defaults(k8s, a).is_some_and(|d| d["phpipamWeb"].get("service").is_some())
                && values::lookup(&a.values, &["phpipamWeb", "service", "type"]).is_none()
        }),
        has_links: k8s
            .infra
            .iter()
            .chain(&k8s.apps)
            .any(|a| a.ingress.is_some() || a.values_file.is_some()),
        traefik_chart_repo: platform::TRAEFIK_CHART_REPO,
        cert_manager_chart_repo: platform::CERT_MANAGER_CHART_REPO,
        ca_issuer: platform::CA_ISSUER,
        phpipam: phpipam.map(|a| ReadmeApp {
            name: &a.name,
            namespace: &a.namespace,
            make_secret: charts::PHPIPAM.make_secret(&a.name),
            facts: &charts::PHPIPAM,
        }),
    };
    template::add(
        out.tree,
        "k8s/README.md".to_owned(),
        "k8s/README.md",
        context,
    );
}
