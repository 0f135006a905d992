//! The default pins and the test toolchain's pins (tools/versions.env) must agree
//! wherever the toolchain has the same release: a provider the tests validate against
//! must be the one the generated tree requires.

use std::collections::BTreeMap;
use std::path::Path;

fn tool_pins() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/versions.env");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

#[test]
fn provider_kubernetes_and_metallb_pins_agree_with_the_toolchain() {
    use homelabgen_spec::defaults::*;
    let pins = tool_pins();
    assert_eq!(pins["BPG_PROXMOX_VERSION"], format!("v{PROXMOX_PROVIDER}"));
    assert_eq!(pins["METALLB_VERSION"], format!("v{METALLB}"));
    // cert-manager's CRD schemas are those of the chart the tree installs by default.
    assert_eq!(pins["CERT_MANAGER_VERSION"], CERT_MANAGER);
    let kube = homelabgen_spec::values::k3s_version(K3S)
        .unwrap()
        .kubernetes;
    assert_eq!(
        pins["KUBERNETES_VERSION"], kube,
        "kubeconform schemas must match the k3s release"
    );
    // OpenTofu: the generated tree requires at least OPENTOFU; the toolchain's must satisfy it.
    let tofu = pins["OPENTOFU_VERSION"].trim_start_matches('v').to_owned();
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        parse(&tofu) >= parse(OPENTOFU),
        "toolchain OpenTofu {tofu} is older than required {OPENTOFU}"
    );
}

#[test]
fn example_spec_cluster_runs_the_kubernetes_version_the_schemas_are_for() {
    // The example fixture, never the user's spec/homelab.yaml.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/specs/k3s-single.yaml");
    let model = homelabgen_spec::from_str(
        "tests/specs/k3s-single.yaml",
        &std::fs::read_to_string(path).unwrap(),
    )
    .unwrap();
    let k8s = model.kubernetes.expect("the default spec has a cluster");
    assert_eq!(tool_pins()["KUBERNETES_VERSION"], k8s.kubernetes_version);
    assert_eq!(model.images[0].k3s_version, homelabgen_spec::defaults::K3S);
}
