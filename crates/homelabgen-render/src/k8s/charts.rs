//! Everything homelabgen knows about specific Helm charts, in one place: the facts as
//! data ([`ChartFacts`]) and the notes their `values.yaml` gets. The resolver's check of
//! phpIPAM's namespace (homelabgen-spec) and `make phpipam-secret` (mk/k8s.mk) rely on
//! the same facts.

use super::values::{lookup, Note};
use homelabgen_spec::model::{HelmApp, Kubernetes, Model};
use serde::Serialize;
use serde_json::Value;

/// Facts about one chart, read from the chart itself (FACTS.md).
#[derive(Debug, Serialize)]
pub struct ChartFacts {
    /// The chart's name, as the spec's `chart.name` gives it.
    pub chart: &'static str,
    /// The chart version these facts were read from.
    pub version: &'static str,
    /// The Secret the chart reads its database password from, and the key in it.
    pub password_secret: &'static str,
    pub password_key: &'static str,
    /// The make target that creates that Secret, and the variable naming the entry
    /// when it is not `default_app_name`.
    pub secret_target: &'static str,
    pub app_variable: &'static str,
    pub default_app_name: &'static str,
    /// The web Service's name when the values do not set `phpipamWeb.name`.
    pub default_web_service: &'static str,
    /// Every value key the chart has (one dotted path a line; `#` comments).
    pub value_keys: &'static str,
}

/// The nullconfig phpIPAM chart (FACTS.md: "phpIPAM chart 1.0.1").
pub const PHPIPAM: ChartFacts = ChartFacts {
    chart: "phpipam",
    version: "1.0.1",
    password_secret: "mysql-password",
    password_key: "password",
    secret_target: "phpipam-secret",
    app_variable: "PHPIPAM_APP",
    default_app_name: "phpipam",
    default_web_service: "phpipam-web",
    value_keys: include_str!("../../../../tests/k8s/phpipam-1.0.1-value-keys.txt"),
};

impl ChartFacts {
    /// Whether `app` installs this chart.
    pub fn is(&self, app: &HelmApp) -> bool {
        app.chart == self.chart
    }

    /// The command creating the password Secret of the entry named `app`.
    pub fn make_secret(&self, app: &str) -> String {
        if app == self.default_app_name {
            format!("make {}", self.secret_target)
        } else {
            format!("make {} {}={app}", self.secret_target, self.app_variable)
        }
    }
}

/// The notes of a known chart's `values.yaml`: lines for the top, and notes above keys.
pub fn notes(model: &Model, k8s: &Kubernetes, app: &HelmApp) -> (Vec<String>, Vec<Note>) {
    if PHPIPAM.is(app) {
        phpipam_notes(model, k8s, app)
    } else {
        (Vec::new(), Vec::new())
    }
}

/// phpIPAM (nullconfig chart 1.0.1): what its values cannot say by themselves.
fn phpipam_notes(model: &Model, k8s: &Kubernetes, app: &HelmApp) -> (Vec<String>, Vec<Note>) {
    let ns = &app.namespace;
    let web = lookup(&app.values, &["phpipamWeb", "name"])
        .and_then(Value::as_str)
        .unwrap_or(PHPIPAM.default_web_service);
    let domain = model
        .environments
        .iter()
        .find(|e| e.name == k8s.cluster)
        .and_then(|e| e.network.search_domain.clone())
        .unwrap_or_else(|| "example.com".to_owned());
    let service_type =
        lookup(&app.values, &["phpipamWeb", "service", "type"]).and_then(Value::as_str);

    let make = PHPIPAM.make_secret(&app.name);
    let (secret, key) = (PHPIPAM.password_secret, PHPIPAM.password_key);
    let top = vec![
        "TODO: passwords: phpIPAM and its MariaDB read the database password from the Secret"
            .to_owned(),
        format!("  `{secret}` (key `{key}`) in namespace `{ns}`; it must exist before the first"),
        format!("  sync and is never in git: `{make}` creates it with a random password."),
        "  MariaDB keeps the password it first started with (FORCE=1 replaces the Secret only)."
            .to_owned(),
        String::new(),
    ];
    // The MariaDB volume is a PVC of the chart: Argo CD deletes it with the Application
    // (its resources finalizer) and prunes it when it leaves the chart's output, unless
    // the PVC carries Argo CD's Delete=false/Prune=false sync options.
    let pvc_kept = lookup(
        &app.values,
        &["phpipamMariadb", "persistentVolume", "annotations"],
    )
    .and_then(|a| a.get("argocd.argoproj.io/sync-options"))
    .and_then(Value::as_str)
    .is_some_and(|o| o.contains("Delete=false") && o.contains("Prune=false"));
    let mut top = top;
    if !pvc_kept {
        top.extend([
            "TODO: data: phpIPAM's database lives on the PVC this chart creates; Argo CD deletes it"
                .to_owned(),
            "  when the app is removed from the spec and prunes it when persistence goes. To keep it,"
                .to_owned(),
            "  set in the spec's values phpipamMariadb.persistentVolume.annotations:".to_owned(),
            "  {argocd.argoproj.io/sync-options: \"Delete=false,Prune=false\"} (docs/upgrades.md).".to_owned(),
            String::new(),
        ]);
    }

    let domain_note = match lookup(&app.values, &["phpipamWeb", "ingress", "host"]) {
        Some(_) => vec![
            "TODO: domain: the name phpIPAM is served under; it needs ingress.enabled: true and".to_owned(),
            "  an ingress controller (k3s' Traefik is disabled in the image).".to_owned(),
        ],
        None => vec![
            "TODO: domain: to serve phpIPAM under a name, set in the spec's values".to_owned(),
            format!("  phpipamWeb.ingress {{enabled: true, host: phpipam.{domain}}} (CHANGEME: your name);"),
            "  k3s' Traefik is disabled in the image, so install an ingress controller first.".to_owned(),
        ],
    };

    let mut service = Vec::new();
    if service_type != Some("LoadBalancer") {
        service.extend([
            "TODO: LoadBalancer: ClusterIP keeps phpIPAM inside the cluster; reach it with"
                .to_owned(),
            format!(
                "  `kubectl -n {ns} port-forward svc/{web} 8080:80`. To give it a LAN address, set"
            ),
            "  phpipamWeb.service.type: LoadBalancer in the spec's values and render again."
                .to_owned(),
        ]);
    }
    match &k8s.metallb {
        Some(metallb) => service.extend([
            format!("TODO: MetalLB IP: a LoadBalancer gets the next free address of {}", metallb.addresses.join(", ")),
            format!("  (kubernetes.metallb.addresses); `kubectl -n {ns} get svc {web}` shows it. The chart"),
            "  has no loadBalancerIP value: to pin one address, add a one-address IPAddressPool".to_owned(),
            format!("  limited to this namespace (spec.serviceAllocation.namespaces: [{ns}])."),
        ]),
        None => service.extend([
            "TODO: MetalLB IP: MetalLB is not enabled (kubernetes.metallb), so k3s' servicelb".to_owned(),
            "  answers a LoadBalancer with the node's own address; enable MetalLB to get".to_owned(),
            "  addresses from a pool of your own.".to_owned(),
        ]),
    }

    let notes = vec![
        Note::new(
            &["namespace"],
            vec!["The chart creates its PVC in this namespace: it must be the Application's (checked).".to_owned()],
            false,
        ),
        Note::new(
            &["phpipamMariadb.persistentVolume.storageClass"],
            vec!["k3s ships `local-path`; the chart's default class `default` does not exist there.".to_owned()],
            false,
        ),
        Note::new(&["phpipamWeb.ingress.host", "phpipamWeb.ingress", "phpipamWeb"], domain_note, true),
        Note::new(&["phpipamWeb.service.type", "phpipamWeb.service", "phpipamWeb"], service, true),
    ];
    (top, notes)
}
