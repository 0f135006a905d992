//! Rules across a cluster's VMs and across clusters that the fixtures (one error each)
//! do not show: which specs pass, and what they resolve to.
//!
//! VRRP router ids: derived from the environment name, set in the spec, and never shared
//! by two clusters of one spec (their keepalived groups would fight over each other's
//! advertisements on a shared network).

/// A spec with one single-server cluster per `(name, third octet, vrrp_router_id)`,
/// each with a virtual IP.
fn spec(clusters: &[(&str, u8, Option<u8>)]) -> String {
    let mut text = String::from(
        "site:\n  endpoint: https://pve.example.org:8006\n  node: pve1\n  ssh_host: pve.example.org\n\
         images:\n  - name: alma9-k3s\n    k3s_version: v1.36.3+k3s1\n    release: 1\nenvironments:\n",
    );
    for (name, net, id) in clusters {
        text.push_str(&format!(
            "  - name: {name}\n    network:\n      cidr: 10.0.{net}.0/24\n      gateway: 10.0.{net}.1\n      \
             nameservers: [10.0.{net}.1]\n    ssh_keys:\n      - ssh-ed25519 \
             AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA test@lab\n    \
             cluster:\n      api_address: 10.0.{net}.50\n"
        ));
        if let Some(id) = id {
            text.push_str(&format!("      vrrp_router_id: {id}\n"));
        }
        text.push_str(&format!(
            "    vms:\n      - name: cp-{net}\n        image: alma9-k3s\n        cores: 2\n        \
             memory: 4GiB\n        disk: 32GiB\n        ip: 10.0.{net}.11\n"
        ));
    }
    text
}

fn ids(clusters: &[(&str, u8, Option<u8>)]) -> Vec<u8> {
    let model =
        homelabgen_spec::from_str("vrrp.yaml", &spec(clusters)).unwrap_or_else(|d| panic!("{d}"));
    model
        .environments
        .iter()
        .map(|e| e.cluster.as_ref().unwrap().vrrp_router_id)
        .collect()
}

#[test]
fn derived_ids_that_collide_are_made_distinct_in_spec_order() {
    // `lab-38` and `lab-40` derive the same id (251) from their names.
    assert_eq!(ids(&[("lab-38", 1, None)]), [251]);
    assert_eq!(ids(&[("lab-40", 1, None)]), [251]);
    assert_eq!(ids(&[("lab-38", 1, None), ("lab-40", 2, None)]), [251, 252]);
    assert_eq!(ids(&[("lab-40", 1, None), ("lab-38", 2, None)]), [251, 252]);
}

#[test]
fn an_id_set_in_the_spec_is_kept_and_derived_ones_avoid_it() {
    assert_eq!(ids(&[("lab-38", 1, Some(9))]), [9]);
    // The pinned 251 wins even though it comes later; the derived one moves on.
    assert_eq!(
        ids(&[("lab-38", 1, None), ("other", 2, Some(251))]),
        [252, 251]
    );
    // Wrapping past 255 starts again at 1.
    assert_eq!(
        ids(&[
            ("lab-38", 1, None),
            ("a", 2, Some(252)),
            ("b", 3, Some(253)),
            ("c", 4, Some(254)),
            ("d", 5, Some(255)),
            ("e", 6, Some(251))
        ]),
        [1, 252, 253, 254, 255, 251]
    );
}

/// The version skew the Kubernetes policy allows is accepted: servers one minor version
/// apart (a rolling upgrade), agents up to three minor versions older than the oldest
/// server. One step further is refused (the fixtures show the messages).
#[test]
fn allowed_version_skew_passes_and_one_step_more_does_not() {
    let spec = |cp2: &str, agent: &str| {
        let mut text = String::from(
            "site:\n  endpoint: https://pve.example.org:8006\n  node: pve1\n  ssh_host: pve.example.org\nimages:\n",
        );
        for (name, k3s) in [
            ("v31", "v1.31.5+k3s1"),
            ("v32", "v1.32.9+k3s1"),
            ("v34", "v1.34.2+k3s1"),
            ("v35", "v1.35.4+k3s1"),
            ("v36", "v1.36.3+k3s1"),
        ] {
            text.push_str(&format!(
                "  - name: {name}\n    k3s_version: {k3s}\n    release: 1\n"
            ));
        }
        text.push_str(
            "environments:\n  - name: lab\n    network:\n      cidr: 10.0.0.0/24\n      gateway: 10.0.0.1\n      \
             nameservers: [10.0.0.1]\n    ssh_keys:\n      - ssh-ed25519 \
             AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA test@lab\n    cluster: {}\n    vms:\n",
        );
        for (n, (image, role)) in [
            ("v35", "server"),
            (cp2, "server"),
            ("v35", "server"),
            (agent, "agent"),
        ]
        .iter()
        .enumerate()
        {
            text.push_str(&format!(
                "      - name: vm-{n}\n        image: {image}\n        cores: 2\n        memory: 4GiB\n        \
                 disk: 32GiB\n        ip: 10.0.0.{}\n        role: {role}\n",
                11 + n
            ));
        }
        homelabgen_spec::from_str("skew.yaml", &text)
            .map(|_| ())
            .map_err(|d| d.to_string())
    };
    // Servers v1.35, v1.36, v1.35; agent v1.32 is three minor versions older.
    assert_eq!(spec("v36", "v32"), Ok(()));
    assert_eq!(spec("v35", "v35"), Ok(()));
    // Servers v1.35 and v1.32: three minor versions apart.
    let err = spec("v32", "v32").unwrap_err();
    assert!(
        err.contains("mixes servers on k3s v1.32.9+k3s1 and v1.35.4+k3s1"),
        "{err}"
    );
    // Oldest server v1.34 (vm-1): a v1.35 agent is newer.
    let err = spec("v34", "v35").unwrap_err();
    assert!(err.contains("newer than server `vm-1`"), "{err}");
    // Oldest server v1.35: a v1.31 agent is four minor versions older.
    let err = spec("v35", "v31").unwrap_err();
    assert!(
        err.contains("more than three minor versions older than server `vm-0`"),
        "{err}"
    );
}
