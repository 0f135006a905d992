//! The platform an app needs to be reachable: the ingress controller (`infra/traefik/`),
//! cert-manager with its CA (`infra/cert-manager/`), and each entry's Ingress
//! (`<section>/<name>/ingress/`).
//!
//! Why Traefik, from its own chart: k3s bundles Traefik, but the image disables it (its
//! version follows k3s, and it is configured through k3s' HelmChartConfig, outside Argo
//! CD); installing the upstream chart keeps the controller a pinned, GitOps-managed
//! Application like the rest. ingress-nginx is not the choice: Kubernetes SIG Network
//! retired it (best-effort maintenance ended March 2026, no further releases).

use super::manifests::*;
use super::{app_meta, git_source, repo_path, sync_policy, Namespaces, Out, ROOT_SYNC, WAVE_INFRA};
use homelabgen_spec::model::{AppIngress, HelmApp, Kubernetes};
use std::collections::BTreeMap;

pub const TRAEFIK_APP: &str = "traefik";
pub const TRAEFIK_NAMESPACE: &str = "traefik";
pub const TRAEFIK_CHART_REPO: &str = "https://traefik.github.io/charts";
/// The IngressClass the chart creates (marked the cluster's default class).
pub const INGRESS_CLASS: &str = "traefik";

pub const CERT_MANAGER_APP: &str = "cert-manager";
pub const CERT_MANAGER_NAMESPACE: &str = "cert-manager";
pub const CERT_MANAGER_CHART_REPO: &str = "https://charts.jetstack.io";
/// The ClusterIssuer that only signs the CA certificate.
pub const SELF_SIGNED_ISSUER: &str = "selfsigned";
/// The CA every Ingress gets its certificate from: a ClusterIssuer, its Certificate and
/// the Secret holding the CA key pair (in cert-manager's namespace).
pub const CA_ISSUER: &str = "homelab-ca";
/// The annotation cert-manager's ingress-shim reads to issue an Ingress' certificate.
pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";

/// The infra directories this module renders, in order.
pub(super) fn render(out: &mut Out, k8s: &Kubernetes, namespaces: &mut Namespaces) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some(ingress) = &k8s.ingress {
        let values = serde_json::json!({
            "ingressClass": {"enabled": true, "isDefaultClass": true, "name": INGRESS_CLASS},
        });
        infra_chart_dir(
            out,
            k8s,
            namespaces,
            InfraChart {
                app: TRAEFIK_APP,
                namespace: TRAEFIK_NAMESPACE,
                repo_url: TRAEFIK_CHART_REPO,
                chart: "traefik",
                version: &ingress.version,
                values,
                config: None,
            },
        );
        dirs.push(TRAEFIK_APP.to_owned());
    }
    if let Some(cm) = &k8s.cert_manager {
        let values = serde_json::json!({"crds": {"enabled": true, "keep": true}});
        infra_chart_dir(
            out,
            k8s,
            namespaces,
            InfraChart {
                app: CERT_MANAGER_APP,
                namespace: CERT_MANAGER_NAMESPACE,
                repo_url: CERT_MANAGER_CHART_REPO,
                chart: "cert-manager",
                version: &cm.version,
                values,
                config: Some("issuer"),
            },
        );
        issuers(out);
        dirs.push(CERT_MANAGER_APP.to_owned());
    }
    dirs
}

struct InfraChart<'a> {
    app: &'a str,
    namespace: &'a str,
    repo_url: &'a str,
    chart: &'a str,
    version: &'a str,
    values: serde_json::Value,
    /// A directory below the app's whose manifests the Application also syncs.
    config: Option<&'a str>,
}

fn infra_chart_dir(out: &mut Out, k8s: &Kubernetes, namespaces: &mut Namespaces, c: InfraChart) {
    let dir = format!("k8s/infra/{}", c.app);
    let mut resources = Vec::new();
    if namespaces.claim(c.namespace) {
        out.add(
            &format!("{dir}/namespace.yaml"),
            &namespaces.object(c.namespace),
        );
        resources.push("namespace.yaml".to_owned());
    }
    let mut sources = vec![Source {
        repo_url: c.repo_url.into(),
        target_revision: c.version.into(),
        chart: Some(c.chart.into()),
        helm: Some(HelmSource {
            release_name: c.app.into(),
            value_files: Vec::new(),
            values_object: Some(c.values),
        }),
        ..Source::default()
    }];
    if let Some(config) = c.config {
        sources.push(Source {
            path: Some(repo_path(k8s, &format!("infra/{}/{config}", c.app))),
            ..git_source(k8s)
        });
    }
    let app = Application::new(
        app_meta(k8s, c.app, Some(WAVE_INFRA)),
        ApplicationSpec {
            project: "default".into(),
            source: None,
            sources,
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: c.namespace.into(),
            },
            sync_policy: sync_policy(ROOT_SYNC, &[]),
            ignore_differences: Vec::new(),
        },
    );
    out.add(&format!("{dir}/application.yaml"), &app);
    resources.push("application.yaml".to_owned());
    out.add(
        &format!("{dir}/kustomization.yaml"),
        &Kustomization::new(None, resources),
    );
}

/// Metadata of an object synced after cert-manager's chart (its CRDs) in the same sync.
fn after_crds(name: &str, namespace: Option<&str>, wave: &str) -> ObjectMeta {
    ObjectMeta {
        name: name.to_owned(),
        namespace: namespace.map(str::to_owned),
        annotations: BTreeMap::from([
            (SYNC_WAVE.to_owned(), wave.to_owned()),
            (
                SYNC_OPTIONS.to_owned(),
                "SkipDryRunOnMissingResource=true".to_owned(),
            ),
        ]),
        ..ObjectMeta::default()
    }
}

/// A self-signed ClusterIssuer signs one CA certificate; the CA ClusterIssuer signs
/// every Ingress' certificate with it. Browsers warn until the CA is trusted
/// (docs/k8s.md: export it from the Secret).
fn issuers(out: &mut Out) {
    let dir = format!("k8s/infra/{CERT_MANAGER_APP}/issuer");
    out.add(
        &format!("{dir}/selfsigned-issuer.yaml"),
        &CertManagerObject {
            api_version: CERT_MANAGER_API,
            kind: "ClusterIssuer",
            metadata: after_crds(SELF_SIGNED_ISSUER, None, "1"),
            spec: serde_json::json!({"selfSigned": {}}),
        },
    );
    out.add(
        &format!("{dir}/ca-certificate.yaml"),
        &CertManagerObject {
            api_version: CERT_MANAGER_API,
            kind: "Certificate",
            metadata: after_crds(CA_ISSUER, Some(CERT_MANAGER_NAMESPACE), "2"),
            spec: serde_json::json!({
                "isCA": true,
                "commonName": "homelab CA",
                "secretName": CA_ISSUER,
                "duration": "87600h0m0s",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {"name": SELF_SIGNED_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"},
            }),
        },
    );
    let ca = crate::yaml::to_string(&CertManagerObject {
        api_version: CERT_MANAGER_API,
        kind: "ClusterIssuer",
        metadata: after_crds(CA_ISSUER, None, "3"),
        spec: serde_json::json!({"ca": {"secretName": CA_ISSUER}}),
    });
    let todo = [
        "TODO: ACME DNS-01: for certificates browsers trust without importing this CA, add a",
        "  ClusterIssuer with `acme: {server, email, privateKeySecretRef, solvers: [{dns01: ...}]}`",
        "  for your DNS provider (its API token in a Secret in namespace cert-manager, never in",
        "  git unencrypted) and point the Ingress annotation cert-manager.io/cluster-issuer at it.",
        "  DNS-01 works for names that are not reachable from the internet (docs/k8s.md).",
    ];
    let mut text = format!("# {}\n", out.header);
    for line in todo {
        text.push_str(&format!("# {line}\n"));
    }
    text.push_str(&ca);
    out.tree.add(format!("{dir}/ca-issuer.yaml"), text);
    out.add(
        &format!("{dir}/kustomization.yaml"),
        &Kustomization::new(
            None,
            vec![
                "selfsigned-issuer.yaml".into(),
                "ca-certificate.yaml".into(),
                "ca-issuer.yaml".into(),
            ],
        ),
    );
}

/// `<dir>/ingress/`: the entry's Ingress, on the Traefik class, with a certificate from
/// the CA issuer when cert-manager is enabled.
pub(super) fn app_ingress(
    out: &mut Out,
    k8s: &Kubernetes,
    dir: &str,
    app: &HelmApp,
    ingress: &AppIngress,
) {
    let mut annotations = BTreeMap::new();
    let mut tls = Vec::new();
    if k8s.cert_manager.is_some() {
        annotations.insert(CLUSTER_ISSUER_ANNOTATION.to_owned(), CA_ISSUER.to_owned());
        tls.push(IngressTls {
            hosts: vec![ingress.host.clone()],
            secret_name: format!("{}-tls", app.name),
        });
    }
    let object = Ingress {
        api_version: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: ObjectMeta {
            name: app.name.clone(),
            namespace: Some(app.namespace.clone()),
            annotations,
            ..ObjectMeta::default()
        },
        spec: IngressSpec {
            ingress_class_name: INGRESS_CLASS.into(),
            rules: vec![IngressRule {
                host: ingress.host.clone(),
                http: IngressHttp {
                    paths: vec![IngressPath {
                        path: "/".into(),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: IngressServiceBackend {
                                name: ingress.service.clone(),
                                port: ServicePort {
                                    number: ingress.port,
                                },
                            },
                        },
                    }],
                },
            }],
            tls,
        },
    };
    let sub = format!("{dir}/{}", super::INGRESS_DIR);
    out.add(&format!("{sub}/ingress.yaml"), &object);
    out.add(
        &format!("{sub}/kustomization.yaml"),
        &Kustomization::new(None, vec!["ingress.yaml".into()]),
    );
}
