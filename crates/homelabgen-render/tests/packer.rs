//! The packer tree rendered from the test specs in `tests/packer/specs/` and the
//! default spec. Each test spec names the template names it must produce in
//! `# expect-template-name: <image> <name>` lines; `tests/packer/names.sh` checks the
//! same expectations against the real `packer console`, so the name the spec derives
//! and the name Packer computes from the rendered HCL are proven equal.

use homelabgen_spec::Model;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(path: &Path) -> (String, Model) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    match homelabgen_spec::from_str(&name, &text) {
        Ok(model) => (text, model),
        Err(diagnostics) => panic!("{} does not resolve:\n{diagnostics}", path.display()),
    }
}

fn test_specs() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/packer/specs");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 2, "expected test specs in {}", dir.display());
    specs
}

fn expectations(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# expect-template-name: "))
        .map(|rest| {
            let (image, name) = rest
                .split_once(' ')
                .expect("expect-template-name: <image> <name>");
            (image.to_owned(), name.trim().to_owned())
        })
        .collect()
}

#[test]
fn test_specs_derive_the_expected_template_names() {
    for path in test_specs() {
        let (text, model) = load(&path);
        let expected = expectations(&text);
        assert_eq!(
            expected.len(),
            model.images.len(),
            "{}: one expectation per image",
            path.display()
        );
        for (image, name) in expected {
            let found = model
                .image(&image)
                .unwrap_or_else(|| panic!("{}: no image {image}", path.display()));
            assert_eq!(
                found.template_name,
                name,
                "{}: image {image}",
                path.display()
            );
        }
    }
}

#[test]
fn every_image_gets_its_own_complete_directory() {
    for path in test_specs()
        .into_iter()
        .chain([repo_root().join("tests/specs/k3s-single.yaml")])
    {
        let (_, model) = load(&path);
        let tree = homelabgen_render::render(&model);
        for image in &model.images {
            let dir = format!("packer/{}", image.name);
            for file in [
                "versions.pkr.hcl",
                "variables.pkr.hcl",
                "locals.pkr.hcl",
                "sources.pkr.hcl",
                "build.pkr.hcl",
                "http/ks.cfg",
                "scripts/seal.sh",
            ] {
                assert!(
                    tree.get(format!("{dir}/{file}").as_str()).is_some(),
                    "{}: {dir}/{file}",
                    path.display()
                );
            }
            let variables = &tree
                .get(format!("{dir}/variables.pkr.hcl").as_str())
                .unwrap()
                .contents;
            for default in [
                format!("default     = \"{}\"", image.k3s_version),
                format!("default     = \"{}\"", image.os_version),
                format!("default     = {}", image.release),
            ] {
                assert!(
                    variables.contains(&default),
                    "{}: {dir}/variables.pkr.hcl lacks `{default}`",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_default_spec_builds_the_template_opentofu_clones() {
    let (_, model) = load(&repo_root().join("tests/specs/k3s-single.yaml"));
    let image = model
        .image("alma9-k3s-optimized")
        .expect("the default image");
    assert_eq!(image.template_name, "alma9.8-k3-node-amd64-v1.36.3-k3s1-v1");
    for vm in model.environments.iter().flat_map(|env| &env.vms) {
        assert_eq!(
            vm.template_name,
            model.image(&vm.image).unwrap().template_name
        );
    }
}
