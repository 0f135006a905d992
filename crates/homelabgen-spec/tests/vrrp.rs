//! VRRP router ids of the spec's clusters: derived from the environment name, set in
//! the spec, and never shared by two clusters of one spec (their keepalived groups
//! would fight over each other's advertisements on a shared network).

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
