//! Every validation rule has an invalid fixture under tests/fixtures/invalid/ and the
//! exact diagnostics it must produce next to it (`NAME.err`). Valid fixtures and the
//! default spec must resolve. `BLESS=1 cargo test` rewrites the .err files: review
//! the diff before committing it.

use std::fs;
use std::path::Path;

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = format!("{kind}/{}", p.file_name().unwrap().to_str().unwrap());
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

#[test]
fn invalid_fixtures_give_their_exact_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for (name, text) in fixtures("invalid") {
        let expected_path = dir.join(name.replace(".yaml", ".err"));
        let actual = match homelabgen_spec::from_str(&name, &text) {
            Ok(_) => format!("<no error: {name} was accepted>\n"),
            Err(diagnostics) => format!("{diagnostics}\n"),
        };
        if bless {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| format!("<missing {}>", expected_path.display()));
        if actual != expected {
            failures.push(format!(
                "{name}\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_diagnostic_names_line_column_and_help() {
    for (name, text) in fixtures("invalid") {
        let diagnostics = homelabgen_spec::from_str(&name, &text).expect_err(&name);
        for d in &diagnostics.0 {
            assert!(d.line_col.is_some(), "{name}: no location in {d}");
            assert!(d.help.is_some(), "{name}: no help in {d}");
        }
    }
}

#[test]
fn valid_fixtures_resolve() {
    for (name, text) in fixtures("valid") {
        if let Err(d) = homelabgen_spec::from_str(&name, &text) {
            panic!("{name} should be valid:\n{d}");
        }
    }
}

#[test]
fn example_spec_resolves_with_the_derived_names() {
    // The example fixture (a copy of the example spec), never the user's spec/homelab.yaml.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/specs/k3s-single.yaml");
    let model = homelabgen_spec::from_str(
        "tests/specs/k3s-single.yaml",
        &fs::read_to_string(path).unwrap(),
    )
    .unwrap();
    let image = &model.images[0];
    assert_eq!(image.template_name, "alma9.8-k3-node-amd64-v1.36.3-k3s1-v1");
    assert_eq!(
        image.k3s_disable,
        ["servicelb", "traefik"],
        "MetalLB is on, so servicelb is disabled"
    );
    let vm = &model.environments[0].vms[0];
    assert_eq!(
        (vm.cores, vm.memory_mib, vm.ip_cidr.as_str()),
        (4, 24576, "192.168.1.50/24")
    );
    assert_eq!(
        vm.template_name, image.template_name,
        "OpenTofu clones what Packer builds"
    );
}
