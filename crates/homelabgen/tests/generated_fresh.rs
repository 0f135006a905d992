//! `generated/` is a fresh render of whatever `spec/homelab.yaml` currently says (never a
//! comparison with the example's content). `homelabgen diff` decides, with the same code
//! a render runs; under `BLESS=1` the test renders the tree and still fails, so a stale
//! tree never passes silently (as rust-analyzer's `ensure_file_contents` does).

use std::path::Path;
use std::process::Command;

#[test]
fn generated_is_a_fresh_render_of_the_spec() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if !repo.join("spec/homelab.yaml").is_file() {
        // A checkout without a spec has nothing to compare.
        return;
    }
    let run = |command: &str| {
        Command::new(env!("CARGO_BIN_EXE_homelabgen"))
            .args([command, "--spec", "spec/homelab.yaml", "--out", "generated"])
            .current_dir(&repo)
            .output()
            .unwrap()
    };
    let diff = run("diff");
    let code = diff.status.code();
    let stdout = String::from_utf8_lossy(&diff.stdout);
    let stderr = String::from_utf8_lossy(&diff.stderr);
    match code {
        Some(0) => {}
        Some(1) if std::env::var_os("BLESS").is_some() => {
            let render = run("render");
            panic!(
                "generated/ was stale and has been rendered again ({}); review and commit it:\n{}",
                render.status,
                String::from_utf8_lossy(&render.stdout)
            );
        }
        Some(1) => panic!(
            "generated/ is stale for spec/homelab.yaml: run `make render` (or BLESS=1 cargo test) \
             and commit it.\n{stdout}"
        ),
        _ => panic!("homelabgen diff failed ({:?}):\n{stderr}", diff.status),
    }
}
