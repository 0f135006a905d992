//! The GitOps infra the tree adds by itself (issues 15, 16): Argo CD managing its own
//! install and the root Application, sealed-secrets (controller + the committed
//! SealedSecrets), and k3s' system-upgrade-controller with its Plans.
//!
//! ```text
//! k8s/infra/argocd/               always: Application `argocd` (bootstrap/ + root-app.yaml)
//! k8s/infra/sealed-secrets/       kubernetes.sealed_secrets: the controller's chart, and
//!   application.yaml                Application `secrets`, the SealedSecrets under its path
//!   secrets-application.yaml
//! k8s/infra/system-upgrade/       kubernetes.system_upgrade: the controller's manifests
//!   application.yaml                at its tag, plus plans/
//!   plans/k3s-server.yaml k3s-agent.yaml kustomization.yaml
//! ```

use super::manifests::*;
use super::{app_meta, git_source, repo_path, sync_policy, Namespaces, Out, WAVE_INFRA};
use homelabgen_spec::model::{Kubernetes, SealedSecrets, SyncPolicy as SpecSync, SystemUpgrade};
use serde::Serialize;
use std::collections::BTreeMap;

pub const ARGOCD_APP: &str = "argocd";
pub const SEALED_SECRETS_APP: &str = "sealed-secrets";
pub const SECRETS_APP: &str = "secrets";
pub const SYSTEM_UPGRADE_APP: &str = "system-upgrade";

pub const SEALED_SECRETS_CHART_REPO: &str = "https://bitnami-labs.github.io/sealed-secrets";
/// The chart's release name and namespace: `kubeseal`'s defaults
/// (`--controller-name sealed-secrets-controller --controller-namespace kube-system`),
/// so it needs no flags. The chart names its objects after a release name that
/// contains the chart's name.
pub const SEALED_SECRETS_RELEASE: &str = "sealed-secrets-controller";
pub const SEALED_SECRETS_NAMESPACE: &str = "kube-system";

pub const SYSTEM_UPGRADE_REPO: &str = "https://github.com/rancher/system-upgrade-controller.git";
/// The namespace, ServiceAccount and controller image of upstream's kustomization.
pub const SYSTEM_UPGRADE_NAMESPACE: &str = "system-upgrade";
pub const SYSTEM_UPGRADE_SERVICE_ACCOUNT: &str = "system-upgrade";
pub const SYSTEM_UPGRADE_IMAGE: &str = "rancher/system-upgrade-controller";
/// The image a Plan runs: it replaces the k3s binary and restarts the service.
pub const K3S_UPGRADE_IMAGE: &str = "rancher/k3s-upgrade";
pub const PLAN_API: &str = "upgrade.cattle.io/v1";
pub const SERVER_PLAN: &str = "k3s-server";
pub const AGENT_PLAN: &str = "k3s-agent";
const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// Inside the system-upgrade Application: Plans after the controller, which creates
/// the Plan CRD itself when it starts.
const WAVE_PLANS: &str = "1";

/// Renders the directories above into `infra/`; returns their names for
/// `infra/kustomization.yaml`.
pub(super) fn render(out: &mut Out, k8s: &Kubernetes, namespaces: &mut Namespaces) -> Vec<String> {
    let mut dirs = vec![ARGOCD_APP.to_owned()];
    argocd_dir(out, k8s);
    if let Some(sealed) = &k8s.sealed_secrets {
        sealed_secrets_dir(out, k8s, sealed);
        dirs.push(SEALED_SECRETS_APP.to_owned());
    }
    if let Some(upgrade) = &k8s.system_upgrade {
        // Upstream's kustomization ships the Namespace (privileged: the upgrade jobs
        // run as root on the host); no spec entry may own it too.
        namespaces.claim(SYSTEM_UPGRADE_NAMESPACE);
        system_upgrade_dir(out, k8s, upgrade);
        dirs.push(SYSTEM_UPGRADE_APP.to_owned());
    }
    dirs
}

/// Argo CD's own Application: `bootstrap/` (the pinned upstream install) and
/// `root-app.yaml`, so a new `argocd.version` or `git.*` reaches the cluster by git
/// alone. Never pruned, and without the resources finalizer: deleting this Application
/// must not delete Argo CD.
fn argocd_dir(out: &mut Out, k8s: &Kubernetes) {
    let dir = format!("k8s/infra/{ARGOCD_APP}");
    let mut meta = app_meta(k8s, ARGOCD_APP, Some(WAVE_INFRA));
    meta.finalizers.clear();
    let app = Application::new(
        meta,
        ApplicationSpec {
            project: "default".into(),
            source: None,
            sources: vec![
                Source {
                    path: Some(repo_path(k8s, "bootstrap")),
                    ..git_source(k8s)
                },
                Source {
                    path: Some(k8s.git.path.clone()),
                    directory: Some(DirectorySource {
                        recurse: false,
                        include: Some("root-app.yaml".into()),
                    }),
                    ..git_source(k8s)
                },
            ],
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: k8s.argocd.namespace.clone(),
            },
            sync_policy: sync_policy(
                SpecSync {
                    automated: true,
                    prune: false,
                    self_heal: true,
                },
                &[],
            ),
            ignore_differences: Vec::new(),
        },
    );
    out.add(&format!("{dir}/application.yaml"), &app);
    out.add(
        &format!("{dir}/kustomization.yaml"),
        &Kustomization::new(None, vec!["application.yaml".into()]),
    );
}

fn sealed_secrets_dir(out: &mut Out, k8s: &Kubernetes, sealed: &SealedSecrets) {
    let dir = format!("k8s/infra/{SEALED_SECRETS_APP}");
    let controller = Application::new(
        app_meta(k8s, SEALED_SECRETS_APP, Some(WAVE_INFRA)),
        ApplicationSpec {
            project: "default".into(),
            source: Some(Source {
                repo_url: SEALED_SECRETS_CHART_REPO.into(),
                target_revision: sealed.version.clone(),
                chart: Some("sealed-secrets".into()),
                helm: Some(HelmSource {
                    release_name: SEALED_SECRETS_RELEASE.into(),
                    value_files: Vec::new(),
                    values_object: None,
                }),
                ..Source::default()
            }),
            sources: Vec::new(),
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: SEALED_SECRETS_NAMESPACE.into(),
            },
            sync_policy: sync_policy(super::ROOT_SYNC, &[]),
            ignore_differences: Vec::new(),
        },
    );
    // The committed SealedSecrets: each file names its own namespace. Their CRD comes
    // with the controller's chart, possibly in the same sync: no dry run while it is
    // unknown, and the retries wait for it.
    let secrets = Application::new(
        app_meta(k8s, SECRETS_APP, Some(WAVE_INFRA)),
        ApplicationSpec {
            project: "default".into(),
            source: Some(Source {
                path: Some(sealed.path.clone()),
                directory: Some(DirectorySource {
                    recurse: true,
                    include: Some("*.yaml".into()),
                }),
                ..git_source(k8s)
            }),
            sources: Vec::new(),
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: k8s.argocd.namespace.clone(),
            },
            sync_policy: sync_policy(super::ROOT_SYNC, &["SkipDryRunOnMissingResource=true"]),
            ignore_differences: Vec::new(),
        },
    );
    out.add(&format!("{dir}/application.yaml"), &controller);
    out.add(&format!("{dir}/secrets-application.yaml"), &secrets);
    out.add(
        &format!("{dir}/kustomization.yaml"),
        &Kustomization::new(
            None,
            vec!["application.yaml".into(), "secrets-application.yaml".into()],
        ),
    );
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: PlanSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSpec {
    pub concurrency: u32,
    pub version: String,
    pub node_selector: LabelSelector,
    pub service_account_name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cordon: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<Drain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepare: Option<Container>,
    pub upgrade: Container,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_expressions: Vec<Requirement>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drain {
    pub force: bool,
    pub ignore_daemon_sets: bool,
    pub delete_emptydir_data: bool,
    /// Seconds: honour PodDisruptionBudgets that long per pod, then move on.
    pub skip_wait_for_delete_timeout: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// The two Plans k3s documents for in-place upgrades: servers first, one at a time and
/// cordoned; then agents, one at a time, drained, each waiting (`prepare`) until the
/// server Plan is done. Both upgrade to the same k3s release.
pub fn plans(upgrade: &SystemUpgrade) -> [Plan; 2] {
    let meta = |name: &str| ObjectMeta {
        name: name.to_owned(),
        namespace: Some(SYSTEM_UPGRADE_NAMESPACE.into()),
        annotations: BTreeMap::from([
            (SYNC_WAVE.to_owned(), WAVE_PLANS.to_owned()),
            (
                SYNC_OPTIONS.to_owned(),
                "SkipDryRunOnMissingResource=true".to_owned(),
            ),
        ]),
        ..ObjectMeta::default()
    };
    let control_plane = |operator: &str, values: Vec<String>| LabelSelector {
        match_expressions: vec![Requirement {
            key: CONTROL_PLANE_LABEL.into(),
            operator: operator.into(),
            values,
        }],
    };
    let image = || Container {
        image: K3S_UPGRADE_IMAGE.into(),
        args: Vec::new(),
    };
    [
        Plan {
            api_version: PLAN_API,
            kind: "Plan",
            metadata: meta(SERVER_PLAN),
            spec: PlanSpec {
                concurrency: 1,
                version: upgrade.k3s_version.clone(),
                node_selector: control_plane("In", vec!["true".into()]),
                service_account_name: SYSTEM_UPGRADE_SERVICE_ACCOUNT.into(),
                cordon: true,
                drain: None,
                prepare: None,
                upgrade: image(),
            },
        },
        Plan {
            api_version: PLAN_API,
            kind: "Plan",
            metadata: meta(AGENT_PLAN),
            spec: PlanSpec {
                concurrency: 1,
                version: upgrade.k3s_version.clone(),
                node_selector: control_plane("DoesNotExist", Vec::new()),
                service_account_name: SYSTEM_UPGRADE_SERVICE_ACCOUNT.into(),
                cordon: true,
                drain: Some(Drain {
                    force: true,
                    ignore_daemon_sets: true,
                    delete_emptydir_data: true,
                    skip_wait_for_delete_timeout: 60,
                }),
                prepare: Some(Container {
                    image: K3S_UPGRADE_IMAGE.into(),
                    args: vec!["prepare".into(), SERVER_PLAN.into()],
                }),
                upgrade: image(),
            },
        },
    ]
}

fn system_upgrade_dir(out: &mut Out, k8s: &Kubernetes, upgrade: &SystemUpgrade) {
    let dir = format!("k8s/infra/{SYSTEM_UPGRADE_APP}");
    let app = Application::new(
        app_meta(k8s, SYSTEM_UPGRADE_APP, Some(WAVE_INFRA)),
        ApplicationSpec {
            project: "default".into(),
            source: None,
            sources: vec![
                // Upstream's kustomization at the release tag (Namespace, RBAC,
                // Deployment); it names an older controller image, so the tag's own
                // image is set here.
                Source {
                    repo_url: SYSTEM_UPGRADE_REPO.into(),
                    target_revision: upgrade.version.clone(),
                    path: Some(".".into()),
                    kustomize: Some(KustomizeSource {
                        images: vec![format!("{SYSTEM_UPGRADE_IMAGE}:{}", upgrade.version)],
                    }),
                    ..Source::default()
                },
                Source {
                    path: Some(repo_path(k8s, &format!("infra/{SYSTEM_UPGRADE_APP}/plans"))),
                    ..git_source(k8s)
                },
            ],
            destination: Destination {
                server: IN_CLUSTER.into(),
                namespace: SYSTEM_UPGRADE_NAMESPACE.into(),
            },
            sync_policy: sync_policy(super::ROOT_SYNC, &[]),
            ignore_differences: Vec::new(),
        },
    );
    out.add(&format!("{dir}/application.yaml"), &app);
    out.add(
        &format!("{dir}/kustomization.yaml"),
        &Kustomization::new(None, vec!["application.yaml".into()]),
    );
    let [server, agent] = plans(upgrade);
    out.add(&format!("{dir}/plans/{SERVER_PLAN}.yaml"), &server);
    out.add(&format!("{dir}/plans/{AGENT_PLAN}.yaml"), &agent);
    out.add(
        &format!("{dir}/plans/kustomization.yaml"),
        &Kustomization::new(
            None,
            vec![format!("{SERVER_PLAN}.yaml"), format!("{AGENT_PLAN}.yaml")],
        ),
    );
}
