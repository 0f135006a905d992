//! The committed JSON Schema (spec/homelab.schema.json, which the default spec's
//! yaml-language-server modeline points editors at) must be current, and the default
//! spec must conform to it.

use std::fs;
use std::path::Path;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn committed_schema_is_current() {
    let committed = fs::read_to_string(repo("spec/homelab.schema.json")).unwrap_or_default();
    assert!(
        committed == homelabgen_spec::json_schema(),
        "spec/homelab.schema.json is stale: run `homelabgen schema > spec/homelab.schema.json`"
    );
}

#[test]
fn example_spec_points_at_the_schema_and_conforms() {
    // The example fixture, never the user's spec/homelab.yaml.
    let text = fs::read_to_string(repo("tests/specs/k3s-single.yaml")).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema="));
    let schema: serde_json::Value = serde_json::from_str(&homelabgen_spec::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "default spec does not conform to its schema:\n{}",
        errors.join("\n")
    );
    // And the schema is strict: an unknown field is rejected by it too.
    let mut bad = instance.clone();
    bad["site"]["nodes"] = serde_json::json!("typo");
    assert!(
        !validator.is_valid(&bad),
        "the schema must reject unknown fields"
    );
}

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Invalid fixtures the CLI refuses for a value's format or type (not for a relation
/// between values, which a schema cannot express): the schema must refuse them too.
const FORMAT_FIXTURES: &[&str] = &[
    "cores-quoted",
    "disk-fraction",
    "endpoint-empty-host",
    "endpoint-path-and-port",
    "k3s-version",
    "memory-decimal-unit",
    "memory-no-unit",
    "name-dotdot",
    "name-slash",
    "name-space",
    "name-too-long",
    "name-uppercase",
    "release-not-integer",
    "release-str-tag",
    "unknown-field",
    "unknown-field-typo",
    "url-not-http",
    "wrong-type",
];

#[test]
fn the_schema_refuses_what_the_cli_refuses_for_format_and_accepts_valid_fixtures() {
    let schema: serde_json::Value = serde_json::from_str(&homelabgen_spec::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (name, text) in fixtures("valid") {
        let instance: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "valid/{name} fails the schema: {errors:?}"
        );
        assert!(
            homelabgen_spec::from_str(&name, &text).is_ok(),
            "valid/{name}"
        );
    }
    let mut checked = 0;
    for (name, text) in fixtures("invalid") {
        if !FORMAT_FIXTURES.contains(&name.as_str()) {
            continue;
        }
        assert!(
            homelabgen_spec::from_str(&name, &text).is_err(),
            "the CLI accepts invalid/{name}"
        );
        let instance: serde_json::Value = match serde_saphyr::from_str(&text) {
            Ok(value) => value,
            // Not even YAML for a generic loader: nothing for a schema to check.
            Err(_) => continue,
        };
        assert!(
            !validator.is_valid(&instance),
            "the schema accepts invalid/{name}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} format fixtures checked");
}
