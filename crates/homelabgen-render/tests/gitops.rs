//! The GitOps parts of `k8s/infra/`: Argo CD's own Application, sealed-secrets and the
//! system-upgrade-controller with its Plans (tests/specs/gitops.yaml). The real tools
//! (kustomize build, kubeconform against the Plan and SealedSecret schemas) run in
//! checks/k8s.sh; sealing and unsealing with a throwaway key in tests/k8s/make-targets.sh.

use homelabgen_render::{k8s, Tree};
use homelabgen_spec::Model;
use serde_json::{json, Value};

const GITOPS_SPEC: &str = include_str!("../../../tests/specs/gitops.yaml");
const DEFAULT_SPEC: &str = include_str!("../../../tests/specs/k3s-single.yaml");

fn model(name: &str, text: &str) -> Model {
    match homelabgen_spec::from_str(name, text) {
        Ok(model) => model,
        Err(diagnostics) => panic!("spec does not resolve:\n{diagnostics}"),
    }
}

fn render(model: &Model) -> Tree {
    let mut tree = Tree::default();
    k8s::render(model, &mut tree);
    tree
}

fn yaml(tree: &Tree, path: &str) -> Value {
    let file = tree
        .get(path)
        .unwrap_or_else(|| panic!("{path} not rendered"));
    serde_saphyr::from_str(&file.contents).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn gitops() -> (Model, Tree) {
    let model = model("tests/specs/gitops.yaml", GITOPS_SPEC);
    let tree = render(&model);
    (model, tree)
}

#[test]
fn argocd_manages_its_install_and_the_root_application() {
    let (model, tree) = gitops();
    let k8s = model.kubernetes.as_ref().unwrap();
    let app = yaml(&tree, "k8s/infra/argocd/application.yaml");
    assert_eq!(app["metadata"]["name"], "argocd");
    assert_eq!(app["metadata"]["namespace"], k8s.argocd.namespace.as_str());
    // Deleting this Application must not delete Argo CD; a sync never prunes it.
    assert!(app["metadata"].get("finalizers").is_none(), "{app}");
    assert_eq!(
        app["spec"]["syncPolicy"]["automated"],
        json!({"prune": false, "selfHeal": true})
    );
    let options = app["spec"]["syncPolicy"]["syncOptions"].as_array().unwrap();
    assert!(options.contains(&json!("ServerSideApply=true")));
    let sources = app["spec"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    for source in sources {
        assert_eq!(source["repoURL"], k8s.git.repo_url.as_str());
        assert_eq!(source["targetRevision"], k8s.git.revision.as_str());
    }
    // The same kustomization make k8s-bootstrap applies, and the file make argo applies.
    assert_eq!(sources[0]["path"], format!("{}/bootstrap", k8s.git.path));
    assert!(tree.get("k8s/bootstrap/kustomization.yaml").is_some());
    assert_eq!(sources[1]["path"], k8s.git.path.as_str());
    assert_eq!(
        sources[1]["directory"],
        json!({"recurse": false, "include": "root-app.yaml"})
    );
    assert!(tree.get("k8s/root-app.yaml").is_some());
    assert_eq!(
        app["spec"]["destination"]["namespace"],
        k8s.argocd.namespace.as_str()
    );
    // Synced by the root, like every infra entry.
    let infra = yaml(&tree, "k8s/infra/kustomization.yaml");
    assert!(infra["resources"]
        .as_array()
        .unwrap()
        .contains(&json!("argocd")));
}

#[test]
fn sealed_secrets_controller_and_the_committed_secrets() {
    let (model, tree) = gitops();
    let k8s = model.kubernetes.as_ref().unwrap();
    let sealed = k8s.sealed_secrets.as_ref().unwrap();
    assert_eq!(sealed.path, "cluster/sealed");
    assert_eq!(sealed.version, homelabgen_spec::defaults::SEALED_SECRETS);
    let controller = yaml(&tree, "k8s/infra/sealed-secrets/application.yaml");
    let source = &controller["spec"]["source"];
    assert_eq!(
        source["repoURL"],
        "https://bitnami-labs.github.io/sealed-secrets"
    );
    assert_eq!(source["chart"], "sealed-secrets");
    assert_eq!(source["targetRevision"], sealed.version.as_str());
    // kubeseal's defaults: no --controller-name / --controller-namespace needed.
    assert_eq!(source["helm"]["releaseName"], "sealed-secrets-controller");
    assert_eq!(
        controller["spec"]["destination"]["namespace"],
        "kube-system"
    );
    let secrets = yaml(&tree, "k8s/infra/sealed-secrets/secrets-application.yaml");
    assert_eq!(secrets["metadata"]["name"], "secrets");
    let source = &secrets["spec"]["source"];
    assert_eq!(source["path"], "cluster/sealed");
    assert_eq!(source["repoURL"], k8s.git.repo_url.as_str());
    assert_eq!(source["directory"]["recurse"], true);
    let options = secrets["spec"]["syncPolicy"]["syncOptions"]
        .as_array()
        .unwrap();
    assert!(options.contains(&json!("SkipDryRunOnMissingResource=true")));
    assert_eq!(
        yaml(&tree, "k8s/infra/sealed-secrets/kustomization.yaml")["resources"],
        json!(["application.yaml", "secrets-application.yaml"])
    );
}

#[test]
fn plans_upgrade_servers_then_agents_one_at_a_time_to_the_spec_version() {
    let (model, tree) = gitops();
    let upgrade = model
        .kubernetes
        .as_ref()
        .unwrap()
        .system_upgrade
        .as_ref()
        .unwrap();
    // The spec sets the in-place version ahead of the image.
    assert_eq!(upgrade.k3s_version, "v1.36.4+k3s1");
    assert_eq!(model.images[0].k3s_version, "v1.36.3+k3s1");
    let server = yaml(&tree, "k8s/infra/system-upgrade/plans/k3s-server.yaml");
    let agent = yaml(&tree, "k8s/infra/system-upgrade/plans/k3s-agent.yaml");
    for plan in [&server, &agent] {
        assert_eq!(plan["apiVersion"], "upgrade.cattle.io/v1");
        assert_eq!(plan["kind"], "Plan");
        assert_eq!(plan["metadata"]["namespace"], "system-upgrade");
        assert_eq!(plan["spec"]["concurrency"], 1);
        assert_eq!(plan["spec"]["version"], "v1.36.4+k3s1");
        assert_eq!(plan["spec"]["serviceAccountName"], "system-upgrade");
        assert_eq!(plan["spec"]["upgrade"]["image"], "rancher/k3s-upgrade");
        assert_eq!(plan["spec"]["cordon"], true);
        assert_eq!(
            plan["metadata"]["annotations"]["argocd.argoproj.io/sync-options"],
            "SkipDryRunOnMissingResource=true"
        );
    }
    let selector = |plan: &Value| plan["spec"]["nodeSelector"]["matchExpressions"][0].clone();
    assert_eq!(
        selector(&server),
        json!({"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": ["true"]})
    );
    assert_eq!(
        selector(&agent),
        json!({"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"})
    );
    assert!(server["spec"].get("drain").is_none());
    assert_eq!(agent["spec"]["drain"]["force"], true);
    assert_eq!(agent["spec"]["drain"]["ignoreDaemonSets"], true);
    assert_eq!(
        agent["spec"]["prepare"]["args"],
        json!(["prepare", "k3s-server"])
    );

    let app = yaml(&tree, "k8s/infra/system-upgrade/application.yaml");
    let sources = app["spec"]["sources"].as_array().unwrap();
    assert_eq!(
        sources[0]["repoURL"],
        "https://github.com/rancher/system-upgrade-controller.git"
    );
    assert_eq!(sources[0]["targetRevision"], upgrade.version.as_str());
    assert_eq!(
        sources[0]["kustomize"]["images"],
        json!([format!(
            "rancher/system-upgrade-controller:{}",
            upgrade.version
        )])
    );
    let k8s = model.kubernetes.as_ref().unwrap();
    assert_eq!(
        sources[1]["path"],
        format!("{}/infra/system-upgrade/plans", k8s.git.path)
    );
    assert_eq!(
        yaml(&tree, "k8s/infra/system-upgrade/plans/kustomization.yaml")["resources"],
        json!(["k3s-server.yaml", "k3s-agent.yaml"])
    );
}

#[test]
fn plans_follow_the_image_when_the_spec_names_no_k3s_version() {
    let spec = DEFAULT_SPEC.replace(
        "  apps:\n",
        "  system_upgrade: {}\n  apps:\n    - name: tool\n      namespace: system-upgrade\n      chart: {repo_url: https://charts.example.org, name: tool, version: 1.0.0}\n",
    );
    let model = model("tests/specs/k3s-single.yaml", &spec);
    let tree = render(&model);
    let plan = yaml(&tree, "k8s/infra/system-upgrade/plans/k3s-server.yaml");
    assert_eq!(
        plan["spec"]["version"],
        model.images[0].k3s_version.as_str()
    );
    // Upstream's kustomization owns the system-upgrade Namespace: no second one.
    assert!(tree.get("k8s/apps/tool/namespace.yaml").is_none());
    // No sealed secrets unless the spec asks.
    assert!(!tree
        .iter()
        .any(|(p, _)| p.as_str().contains("sealed-secrets")));
}
