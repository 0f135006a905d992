//! `k8s/`: Argo CD bootstrap, the app-of-apps root, `infra/` and `apps/`.

use crate::yaml;
use crate::Tree;
use homelabgen_spec::model::Model;
use serde::Serialize;

pub fn render(model: &Model, tree: &mut Tree) {
    let Some(k8s) = &model.kubernetes else { return };
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Kustomization<'a> {
        api_version: &'a str,
        kind: &'a str,
        namespace: &'a str,
        resources: Vec<String>,
    }
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        namespace: &k8s.argocd.namespace,
        resources: vec![k8s.argocd.install_url.clone()],
    };
    tree.add("k8s/bootstrap/kustomization.yaml", yaml::document(&model.header(), &kustomization));
}
