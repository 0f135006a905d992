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
    let text = fs::read_to_string(repo("tests/specs/example.yaml")).unwrap();
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
