//! URL rules: the Proxmox endpoint check and the generated OpenTofu validation are one
//! rule (`PROXMOX_ENDPOINT_PATTERN`); credentials and option-like hosts are refused.

use homelabgen_spec::values::{git_url, http_url, proxmox_endpoint, PROXMOX_ENDPOINT_PATTERN};

const ENDPOINTS: &[&str] = &[
    "https://pve.example.org:8006",
    "https://pve.example.org:8006/",
    "http://10.0.0.2:8006",
    "https://pve",
    "https://pve.example.org:65535",
    "https://pve.example.org:65536",
    "https://pve.example.org:99999999",
    "https://pve.example.org:0",
    "https://pve.example.org:08006",
    "https://pve.example.org:8006/x",
    "https://pve.example.org:8006/api2/json",
    "https://:8006",
    "https://",
    "https:///path",
    "https://user:pass@pve.example.org:8006",
    "https://-pve.example.org",
    "https://pve..example.org",
    "https://PVE.example.org",
    "https://pve.example.org:",
    "https://pve.example.org?x=1",
    "ftp://pve.example.org",
    "https://pve example.org",
    "https://pve.example.org:8006#frag",
];

#[test]
fn the_endpoint_check_and_the_generated_validation_agree() {
    let re = regex_lite::Regex::new(PROXMOX_ENDPOINT_PATTERN).unwrap();
    let mut accepted = 0;
    for endpoint in ENDPOINTS {
        let spec = proxmox_endpoint(endpoint).is_ok();
        assert_eq!(
            spec,
            re.is_match(endpoint),
            "{endpoint}: spec check {spec}, pattern {}",
            !spec
        );
        accepted += usize::from(spec);
    }
    // Both outcomes occur: the comparison can fail either way.
    assert!(
        accepted >= 4 && accepted < ENDPOINTS.len() - 10,
        "{accepted}"
    );
}

#[test]
fn credentials_in_urls_are_refused_with_a_hint() {
    for url in [
        "https://user:pass@git.example.org/lab.git",
        "https://token@git.example.org/lab.git",
        "http://a:b@charts.example.org",
    ] {
        let err = http_url(url).unwrap_err();
        assert!(err.message.contains("credentials"), "{url}: {err:?}");
        assert!(
            err.help.contains("secrets never belong in the spec"),
            "{url}"
        );
        assert!(git_url(url).is_err(), "{url}");
    }
    let err = git_url("ssh://git:secret@git.example.org/lab.git").unwrap_err();
    assert!(err.message.contains("credentials"), "{err:?}");
    assert!(git_url("ssh://git@git.example.org/lab.git").is_ok());
    assert!(git_url("git@git.example.org:owner/lab.git").is_ok());
}

#[test]
fn option_like_hosts_are_refused() {
    for url in [
        "ssh://-oProxyCommand=touch%20x/lab.git",
        "ssh://git@-oProxyCommand=x/lab.git",
        "git@-oProxyCommand=x:lab.git",
        "https://-x.example.org/lab.git",
    ] {
        let err = git_url(url).unwrap_err();
        assert!(err.message.contains("starts with `-`"), "{url}: {err:?}");
    }
}
