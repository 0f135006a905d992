//! The render guard for OpenTofu state (issue #15): an environment renamed or removed
//! from the spec while its state (state/<env>/terraform.tfstate next to the generated
//! tree, or the older generated/tofu/envs/<env>/terraform.tfstate) still holds
//! resources is not dropped: render exits 2, names `make tf-destroy ENV=...`, and
//! writes nothing. `--force-drop-env` overrides.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn render(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_homelabgen"))
        .args([
            "render",
            "--spec",
            "spec/homelab.yaml",
            "--out",
            "generated",
        ])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Every file under `dir` with its bytes (the tree before/after a refused render).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.display().to_string(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

const STATE_WITH_VM: &str = r#"{"version": 4, "terraform_version": "1.12.6", "serial": 3, "lineage": "x",
 "outputs": {}, "resources": [
  {"mode": "data", "type": "proxmox_virtual_environment_vms", "name": "template", "instances": [{}]},
  {"module": "module.vm[\"edge-1\"]", "mode": "managed", "type": "proxmox_virtual_environment_vm",
   "name": "this", "instances": [{"attributes": {"vm_id": 123}}]}]}"#;
const STATE_EMPTY: &str = r#"{"version": 4, "serial": 9, "lineage": "x", "outputs": {},
 "resources": [{"mode": "data", "type": "proxmox_virtual_environment_vms", "name": "template", "instances": [{}]}]}"#;

/// Rendered multi-environment fixture (lab + edge), then `edge` renamed in the spec.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("spec")).unwrap();
    let spec = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/specs/multi-vm.yaml"),
    )
    .unwrap();
    fs::write(dir.path().join("spec/homelab.yaml"), &spec).unwrap();
    let o = render(dir.path(), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir
        .path()
        .join("generated/tofu/envs/edge/main.tf")
        .is_file());
    // `kubernetes.cluster` names `edge`: it follows the rename.
    let renamed = spec
        .replace("  - name: edge\n", "  - name: edge-new\n")
        .replace("  cluster: edge\n", "  cluster: edge-new\n");
    assert_ne!(renamed, spec, "the fixture changed: update this test");
    (dir, renamed)
}

fn refused(dir: &Path, state_file: &Path) {
    let before = snapshot(&dir.join("generated"));
    let o = render(dir, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "render must refuse: {err}");
    assert!(err.contains("make tf-destroy ENV=edge"), "{err}");
    assert!(
        err.contains(&state_file.display().to_string()) || err.contains("terraform.tfstate"),
        "{err}"
    );
    assert!(err.contains("--force-drop-env"), "{err}");
    assert_eq!(
        snapshot(&dir.join("generated")),
        before,
        "a refused render wrote files"
    );
    assert!(!dir.join("generated/tofu/envs/edge-new").exists());
}

#[test]
fn renamed_env_with_resources_in_state_is_refused_then_forced() {
    let (dir, renamed) = setup();
    let state = dir.path().join("state/edge/terraform.tfstate");
    fs::create_dir_all(state.parent().unwrap()).unwrap();
    fs::write(&state, STATE_WITH_VM).unwrap();
    fs::write(dir.path().join("spec/homelab.yaml"), &renamed).unwrap();
    refused(dir.path(), &state);

    let o = render(dir.path(), &["--force-drop-env"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "--force-drop-env must render: {err}");
    assert!(
        err.contains("make tf-destroy ENV=edge"),
        "the override still warns: {err}"
    );
    assert!(!dir.path().join("generated/tofu/envs/edge/main.tf").exists());
    assert!(dir
        .path()
        .join("generated/tofu/envs/edge-new/main.tf")
        .is_file());
    assert!(state.is_file(), "the state file must be kept");
}

#[test]
fn legacy_state_inside_the_tree_is_guarded_too() {
    let (dir, renamed) = setup();
    let state = dir
        .path()
        .join("generated/tofu/envs/edge/terraform.tfstate");
    fs::write(&state, STATE_WITH_VM).unwrap();
    fs::write(dir.path().join("spec/homelab.yaml"), &renamed).unwrap();
    refused(dir.path(), &state);
}

/// Negative control: a state without managed resources (destroyed) does not block,
/// so the refusals above come from the resources, not from the file's presence.
#[test]
fn destroyed_env_is_dropped() {
    let (dir, renamed) = setup();
    let state = dir.path().join("state/edge/terraform.tfstate");
    fs::create_dir_all(state.parent().unwrap()).unwrap();
    fs::write(&state, STATE_EMPTY).unwrap();
    fs::write(dir.path().join("spec/homelab.yaml"), &renamed).unwrap();
    let o = render(dir.path(), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!dir.path().join("generated/tofu/envs/edge/main.tf").exists());
}

/// The rendered backend keeps state out of the generated tree.
#[test]
fn backend_path_is_outside_the_tree() {
    let (dir, _) = setup();
    let backend =
        fs::read_to_string(dir.path().join("generated/tofu/envs/edge/backend.tf")).unwrap();
    assert!(
        backend.contains(r#"path = "../../../../state/edge/terraform.tfstate""#),
        "{backend}"
    );
}

/// A state path that cannot be read as a file (a FIFO, which a plain read would wait on
/// forever; a directory) is not taken for "no state": the drop is refused, promptly.
#[test]
fn an_unreadable_state_refuses_the_drop_and_never_hangs() {
    for kind in ["fifo", "dir"] {
        let (dir, renamed) = setup();
        let state = dir.path().join("state/edge/terraform.tfstate");
        fs::create_dir_all(state.parent().unwrap()).unwrap();
        if kind == "fifo" {
            assert!(Command::new("mkfifo")
                .arg(&state)
                .status()
                .unwrap()
                .success());
        } else {
            fs::create_dir(&state).unwrap();
        }
        fs::write(dir.path().join("spec/homelab.yaml"), &renamed).unwrap();
        // `timeout`: a hang fails the test instead of stalling the suite.
        let o = Command::new("timeout")
            .args(["60", env!("CARGO_BIN_EXE_homelabgen"), "render"])
            .args(["--spec", "spec/homelab.yaml", "--out", "generated"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{kind}: {err}");
        assert!(
            err.contains("is not a readable OpenTofu state"),
            "{kind}: {err}"
        );
        assert!(!dir.path().join("generated/tofu/envs/edge-new").exists());
    }
}
