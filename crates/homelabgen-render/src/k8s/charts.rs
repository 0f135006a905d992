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

/// The file of homelabgen's defaults for a known chart, next to `values.yaml`; Helm reads
/// it first, so the spec's values and the user's values file win over it.
pub const DEFAULTS_FILE: &str = "chart-defaults.yaml";

/// Image tags the phpIPAM chart 1.0.1 defaults replace. The chart pins
/// `phpipam/phpipam-www:1.5x`, `phpipam/phpipam-cron:1.5x` (phpIPAM marks the 1.5 branch
/// obsolete) and `mariadb:10.7.3` (end of life since February 2023).
/// Evidence these tags exist (November 2026): `phpipam/phpipam-www:v1.7.4` and
/// `phpipam/phpipam-cron:v1.7.4` run in public deployments read with the search tool
/// (a Terraform phpIPAM deployment, a docker-compose inventory listing both containers);
/// `mariadb:11.4` is the official image's tag of the 11.4 long-term release (maintained
/// to 2029), used in many public compose files. phpIPAM 1.7 supports MariaDB 10.x/11.x.
pub const PHPIPAM_WEB_TAG: &str = "v1.7.4";
pub const PHPIPAM_CRON_TAG: &str = "v1.7.4";
pub const PHPIPAM_MARIADB_TAG: &str = "11.4";

/// Where the phpIPAM chart reads annotations of its MariaDB PVC (a template-read key).
const PVC_ANNOTATIONS: &[&str] = &["phpipamMariadb", "persistentVolume", "annotations"];

/// Whether `app` keeps its data when removed: a phpIPAM entry with persistence whose
/// values do not set the PVC's Argo CD sync options themselves (the defaults then do).
pub fn keeps_data(app: &HelmApp) -> bool {
    if !PHPIPAM.is(app) {
        return false;
    }
    let persistence = lookup(
        &app.values,
        &["phpipamMariadb", "persistentVolume", "enabled"],
    )
    .and_then(Value::as_bool)
    .unwrap_or(true);
    let own = lookup(&app.values, PVC_ANNOTATIONS)
        .and_then(|a| a.get(super::manifests::SYNC_OPTIONS))
        .is_some();
    persistence && !own
}

/// homelabgen's defaults for a known chart (before the spec's values), if any.
pub fn defaults(k8s: &Kubernetes, app: &HelmApp) -> Option<Value> {
    if !PHPIPAM.is(app) {
        return None;
    }
    let mut web = serde_json::json!({"image": {"tag": PHPIPAM_WEB_TAG}});
    // Reachable without port-forward: a LAN address from MetalLB, unless an Ingress
    // serves it (then the Service stays ClusterIP behind Traefik).
    if k8s.metallb.is_some() && app.ingress.is_none() {
        web["service"] = serde_json::json!({"type": "LoadBalancer"});
    }
    let mut db = serde_json::json!({"image": {"tag": PHPIPAM_MARIADB_TAG}});
    if keeps_data(app) {
        db["persistentVolume"] = serde_json::json!({
            "annotations": {super::manifests::SYNC_OPTIONS: super::KEEP_OPTIONS}
        });
    }
    Some(serde_json::json!({
        "phpipamWeb": web,
        "phpipamCron": {"image": {"tag": PHPIPAM_CRON_TAG}},
        "phpipamMariadb": db,
    }))
}

/// `chart-defaults.yaml` of a known chart, commented.
pub fn defaults_yaml(header: &str, k8s: &Kubernetes, app: &HelmApp) -> Option<String> {
    let value = defaults(k8s, app)?;
    let intro = vec![
        format!(
            "homelabgen's defaults for chart {} {}: Helm reads this file first, then values.yaml",
            app.chart, app.chart_version
        ),
        "(the spec's values), then your values_file: setting a key there overrides it here."
            .to_owned(),
    ];
    let notes = vec![
        Note::new(
            &["phpipamWeb.image.tag"],
            vec![
                format!("The chart's 1.5x tags are obsolete upstream; {PHPIPAM_WEB_TAG} is a maintained"),
                "phpIPAM release (evidence: crates/homelabgen-render/src/k8s/charts.rs).".to_owned(),
                "TZ: the cron container's time zone is the TZ entry of phpipamCron.env (a list:".to_owned(),
                "  setting it replaces the whole list, keep its IPAM_DATABASE_* entries).".to_owned(),
            ],
            false,
        ),
        Note::new(
            &["phpipamWeb.service.type"],
            vec![
                "MetalLB is on and no ingress serves phpIPAM: a LAN address from the pool;".to_owned(),
                format!("`kubectl -n {} get svc` shows it under EXTERNAL-IP.", app.namespace),
            ],
            false,
        ),
        Note::new(
            &["phpipamMariadb.image.tag"],
            vec![
                format!("mariadb:10.7.3 is end of life; {PHPIPAM_MARIADB_TAG} is the long-term release. A volume"),
                "first written by 10.7 needs `mariadb-upgrade` (or MARIADB_AUTO_UPGRADE=1 in".to_owned(),
                "phpipamMariadb.env, keeping the list's other entries) after the switch.".to_owned(),
            ],
            false,
        ),
        Note::new(
            &["phpipamMariadb.persistentVolume.annotations"],
            vec![
                "Keep the database when the app is removed: Argo CD neither prunes nor deletes".to_owned(),
                "this PVC (the namespace is kept too). Delete it by hand when you mean to.".to_owned(),
            ],
            false,
        ),
    ];
    Some(super::values::commented(
        header,
        &intro,
        &crate::yaml::to_string(&value),
        &notes,
    ))
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
    let mut top = top;
    if keeps_data(app) {
        top.extend([
            format!(
                "data: the MariaDB PVC carries Argo CD's {}",
                super::KEEP_OPTIONS
            ),
            format!("  ({DEFAULTS_FILE}): removing the app keeps it and its namespace."),
            String::new(),
        ]);
    } else {
        top.extend([
            "TODO: data: this PVC is not protected from Argo CD's prune and delete (your values set".to_owned(),
            "  its sync-options annotation, or persistence is off): removing the app loses the data.".to_owned(),
            String::new(),
        ]);
    }

    let class_note = [
        "  The chart's own Ingress has no ingressClassName: it gets the cluster's default class",
        "  (Traefik's is the default when kubernetes.ingress is on); for another class, set",
        "  phpipamWeb.ingress.annotations {kubernetes.io/ingress.class: <class>}.",
    ]
    .map(str::to_owned);
    let domain_note = match (&app.ingress, lookup(&app.values, &["phpipamWeb", "ingress", "host"])) {
        (Some(i), _) => vec![
            format!("domain: served as https://{} by homelabgen's Ingress (ingress/, class traefik),", i.host),
            "  from the spec's ingress.host; keep the chart's own phpipamWeb.ingress disabled.".to_owned(),
        ],
        (None, Some(_)) => vec![
            "TODO: domain: the chart's own Ingress; it needs ingress.enabled: true and an ingress".to_owned(),
            "  controller (kubernetes.ingress; k3s' Traefik is disabled in the image). Simpler: the".to_owned(),
            "  entry's `ingress: {host: ...}` in the spec, which also gets a certificate.".to_owned(),
        ]
        .into_iter()
        .chain(class_note.clone())
        .collect(),
        (None, None) => vec![
            "TODO: domain: to serve phpIPAM under a name, enable kubernetes.ingress (Traefik) and".to_owned(),
            format!("  give this entry `ingress: {{host: phpipam.{domain}}}` in the spec (CHANGEME: your name);"),
            "  with kubernetes.cert_manager it gets a certificate from the homelab CA.".to_owned(),
        ]
        .into_iter()
        .chain(class_note)
        .collect(),
    };

    let mut service = Vec::new();
    let lb_default = k8s.metallb.is_some() && app.ingress.is_none();
    if service_type != Some("LoadBalancer") && !(lb_default && service_type.is_none()) {
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
