//! Golden outputs: every test spec renders into a committed tree under `tests/golden/<spec>/`
//! and must match it byte for byte, so a reviewer sees every output change in the diff.
//! `BLESS=1 cargo test -p homelabgen-render --test golden` rewrites the trees: review the
//! diff before committing it.
//!
//! Every rendered HCL file is also parsed with hcl-rs (the real formatters, `tofu fmt
//! -check` and `packer fmt -check`, run over the same trees in `make test`).

use homelabgen_render::Tree;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every test spec: (golden directory name, spec name as the header shows it, text).
fn specs() -> Vec<(String, String, String)> {
    let root = repo();
    let mut out = Vec::new();
    for dir in [
        "tests/specs",
        "tests/packer/specs",
        "crates/homelabgen-spec/tests/fixtures/valid",
    ] {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let file = path.file_name().unwrap().to_str().unwrap();
                let stem = file.trim_end_matches(".yaml").to_owned();
                let text = fs::read_to_string(&path).unwrap();
                out.push((stem, format!("{dir}/{file}"), text));
            }
        }
    }
    // tests/k8s/variant-section.yaml is a `kubernetes:` section only (checks/k8s.sh puts
    // it under the user's spec with tests/k8s/variant.py); here it goes under the minimal
    // valid fixture, moved onto that fixture's environment and network.
    let minimal = root.join("crates/homelabgen-spec/tests/fixtures/valid/minimal.yaml");
    let variant = root.join("tests/k8s/variant-section.yaml");
    let base = fs::read_to_string(&minimal).expect("the minimal fixture");
    let section = fs::read_to_string(&variant).expect("the k8s variant section");
    let section = section
        .replace("cluster: k3s-single", "cluster: lab")
        .replace("192.168.1.224/28", "10.0.0.224/28");
    out.push((
        "variant-kubernetes".to_owned(),
        "tests/k8s/variant-section.yaml".to_owned(),
        format!("{base}{section}"),
    ));
    out.sort();
    let mut names: Vec<_> = out.iter().map(|(n, _, _)| n.clone()).collect();
    names.dedup();
    assert_eq!(
        names.len(),
        out.len(),
        "two test specs share a name: {names:?}"
    );
    assert!(out.len() >= 6, "test specs missing: {names:?}");
    out
}

fn render(name: &str, spec: &str, text: &str) -> Tree {
    match homelabgen_spec::from_str(spec, text) {
        Ok(model) => homelabgen_render::render(&model),
        Err(diagnostics) => panic!("test spec {name} ({spec}) is invalid:\n{diagnostics}"),
    }
}

/// Every file below `dir`, relative path → contents.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                out.insert(rel, fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn is_hcl(path: &str) -> bool {
    path.ends_with(".tf")
        || path.ends_with(".hcl")
        || path.ends_with(".tfvars")
        || path.ends_with(".tfvars.example")
}

#[test]
fn every_test_spec_renders_its_golden_tree() {
    let golden = repo().join("tests/golden");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for (name, spec, text) in specs() {
        let tree = render(&name, &spec, &text);
        let dir = golden.join(&name);
        if bless {
            let _ = fs::remove_dir_all(&dir);
            for (path, file) in tree.iter() {
                let target = dir.join(path.as_str());
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::write(&target, &file.contents).unwrap();
            }
            continue;
        }
        let expected = read_tree(&dir);
        let actual: BTreeMap<String, String> = tree
            .iter()
            .map(|(p, f)| (p.to_string(), f.contents.clone()))
            .collect();
        for (path, contents) in &actual {
            match expected.get(path) {
                None => failures.push(format!(
                    "{name}: {path} is new (not in tests/golden/{name})"
                )),
                Some(old) if old != contents => {
                    let first = old
                        .lines()
                        .zip(contents.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(old.lines().count().min(contents.lines().count()));
                    failures.push(format!(
                        "{name}: {path} differs from line {}:\n  golden:   {:?}\n  rendered: {:?}",
                        first + 1,
                        old.lines().nth(first).unwrap_or("<end>"),
                        contents.lines().nth(first).unwrap_or("<end>")
                    ))
                }
                Some(_) => {}
            }
        }
        for path in expected.keys().filter(|p| !actual.contains_key(*p)) {
            failures.push(format!("{name}: {path} is no longer rendered"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden file(s) differ; review, then `BLESS=1 cargo test -p homelabgen-render --test golden`:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rendered_hcl_file_parses() {
    let mut checked = 0;
    for (name, spec, text) in specs() {
        for (path, file) in render(&name, &spec, &text).iter() {
            if is_hcl(path.as_str()) {
                if let Err(err) = hcl::parse(&file.contents) {
                    panic!("{name}: {path} is not valid HCL: {err}\n{}", file.contents);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} HCL files checked");
}

#[test]
fn the_parse_check_can_fail() {
    // Negative control: an unbalanced brace or a bare template marker is refused.
    assert!(hcl::parse("variable \"x\" {\n  default = \"a\"\n").is_err());
    assert!(hcl::parse("x = \"${\"\n").is_err());
}

/// The template of a generated file, by the rule README.md states: its path plus `.j2`
/// under `templates/`, an environment's name written `{env}`, an image's directory left
/// out. `None` for files that have no template (Kubernetes YAML, the spec's user-data,
/// a cluster VM's vendor data: built in `tofu::vendor_data`).
fn template_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let mapped = match parts.as_slice() {
        ["k8s", .., last] if last.ends_with(".yaml") => return None,
        ["tofu", "envs", _, "user-data" | "vendor-data", ..] => return None,
        ["tofu", "envs", env, rest @ ..] => {
            let rest = rest
                .join("/")
                .replace(&format!("{env}.tftest.hcl"), "{env}.tftest.hcl");
            format!("tofu/envs/{{env}}/{rest}")
        }
        ["packer", _, rest @ ..] => format!("packer/{}", rest.join("/")),
        _ => path.to_owned(),
    };
    Some(format!("{mapped}.j2"))
}

#[test]
fn every_generated_file_finds_its_template_by_path_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let templates: std::collections::BTreeSet<String> = read_tree(&root).into_keys().collect();
    let mut used = std::collections::BTreeSet::new();
    for (name, spec, text) in specs() {
        for (path, _) in render(&name, &spec, &text).iter() {
            if let Some(template) = template_of(path.as_str()) {
                assert!(
                    templates.contains(&template),
                    "{name}: {path} has no template {template}"
                );
                used.insert(template);
            }
        }
    }
    let unused: Vec<_> = templates.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "templates no test spec renders: {unused:?}"
    );
    // Negative control: a path outside the rule has no template.
    assert!(!templates.contains(&template_of("tofu/envs/lab/nope.tf").unwrap()));
}
