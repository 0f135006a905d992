//! The command-line contract: exit codes, output, and the sync guarantees
//! (atomic, nothing half-written, pruning only what it owns, never outside `--out`).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn homelabgen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_homelabgen"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temp dir holding a copy of the example fixture (tests/specs/k3s-single.yaml, never
/// the user's spec) at spec/homelab.yaml.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("spec")).unwrap();
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/specs/k3s-single.yaml");
    fs::copy(spec, dir.path().join("spec/homelab.yaml")).unwrap();
    dir
}

/// The paths the manifest in `gen` lists (`path<TAB>sha256` lines after `#` comments).
fn owned_paths(gen: &Path) -> Vec<String> {
    fs::read_to_string(gen.join(".homelabgen-manifest"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect()
}

/// Every file below `root`, relative, sorted, with contents.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push((
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn render_then_diff_is_clean_and_rerender_touches_nothing() {
    let ws = workspace();
    let out = homelabgen(ws.path(), &["render"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("created, 0 updated, 0 removed, 0 unchanged"),
        "{}",
        stdout(&out)
    );
    let manifest = fs::read_to_string(ws.path().join("generated/.homelabgen-manifest")).unwrap();
    assert!(
        manifest.lines().any(|l| l.starts_with("packer/")),
        "{manifest}"
    );

    let file = ws
        .path()
        .join("generated")
        .join(&owned_paths(&ws.path().join("generated"))[0]);
    let mtime = fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let again = homelabgen(ws.path(), &["render"]);
    assert!(
        stdout(&again).contains(" 0 created, 0 updated, 0 removed,"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        fs::metadata(&file).unwrap().modified().unwrap(),
        mtime,
        "unchanged file rewritten"
    );

    let diff = homelabgen(ws.path(), &["diff"]);
    assert_eq!(diff.status.code(), Some(0), "{}", stderr(&diff));
    assert!(stdout(&diff).is_empty());
}

#[test]
fn diff_shows_updates_creations_and_removals_and_writes_nothing() {
    let ws = workspace();
    assert!(homelabgen(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    let owned = owned_paths(&gen);
    // Hand-edit one owned file, delete another, and make a third stale by the spec.
    fs::write(gen.join(&owned[0]), "edited by hand\n").unwrap();
    fs::remove_file(gen.join(&owned[1])).unwrap();
    let before = snapshot(ws.path());

    let diff = homelabgen(ws.path(), &["diff"]);
    assert_eq!(diff.status.code(), Some(1));
    let text = stdout(&diff);
    assert!(
        text.contains(&format!("--- a/{}", owned[0])) && text.contains("-edited by hand"),
        "{text}"
    );
    assert!(
        text.contains("--- /dev/null") && text.contains(&format!("+++ b/{}", owned[1])),
        "{text}"
    );
    assert_eq!(snapshot(ws.path()), before, "diff must not write");

    // A spec without Kubernetes: the k8s tree would be removed.
    let spec = fs::read_to_string(ws.path().join("spec/homelab.yaml")).unwrap();
    let cut = spec.find("\nkubernetes:").unwrap();
    fs::write(ws.path().join("spec/homelab.yaml"), &spec[..cut + 1]).unwrap();
    let text = stdout(&homelabgen(ws.path(), &["diff"]));
    assert!(
        text.contains("+++ /dev/null") && text.contains("--- a/k8s/"),
        "{text}"
    );
}

#[test]
fn render_prunes_what_it_owned_and_removes_empty_directories() {
    let ws = workspace();
    assert!(homelabgen(ws.path(), &["render"]).status.success());
    assert!(ws.path().join("generated/k8s").is_dir());
    let keep = ws.path().join("generated/NOTES.md");
    fs::write(&keep, "mine\n").unwrap();

    let spec = fs::read_to_string(ws.path().join("spec/homelab.yaml")).unwrap();
    let cut = spec.find("\nkubernetes:").unwrap();
    fs::write(ws.path().join("spec/homelab.yaml"), &spec[..cut + 1]).unwrap();
    let out = homelabgen(ws.path(), &["render"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !ws.path().join("generated/k8s").exists(),
        "k8s tree not pruned"
    );
    assert_eq!(
        fs::read_to_string(&keep).unwrap(),
        "mine\n",
        "a file it did not write was touched"
    );
    let manifest = fs::read_to_string(ws.path().join("generated/.homelabgen-manifest")).unwrap();
    assert!(!manifest.contains("k8s/"), "{manifest}");
}

#[test]
fn render_refuses_to_overwrite_a_file_it_did_not_write_and_writes_nothing() {
    let ws = workspace();
    assert!(homelabgen(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    let manifest = fs::read_to_string(gen.join(".homelabgen-manifest")).unwrap();
    // Disown one file by rewriting the manifest without it, then change the spec.
    let victim = owned_paths(&gen)[0].clone();
    let disowned: String = manifest
        .lines()
        .filter(|l| !l.starts_with(&format!("{victim}\t")))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(gen.join(".homelabgen-manifest"), disowned).unwrap();
    fs::write(gen.join(&victim), "precious\n").unwrap();
    let spec = fs::read_to_string(ws.path().join("spec/homelab.yaml")).unwrap();
    fs::write(
        ws.path().join("spec/homelab.yaml"),
        spec.replace("release: 1 ", "release: 2 "),
    )
    .unwrap();
    let before = snapshot(ws.path());

    let out = homelabgen(ws.path(), &["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not written by homelabgen") && stderr(&out).contains(&victim),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        snapshot(ws.path()),
        before,
        "a refused render wrote something"
    );
}

#[test]
fn invalid_spec_exits_2_with_location_and_leaves_no_output() {
    let ws = workspace();
    let spec = fs::read_to_string(ws.path().join("spec/homelab.yaml")).unwrap();
    fs::write(
        ws.path().join("spec/homelab.yaml"),
        spec.replace("cores: 4", "cores: 1"),
    )
    .unwrap();
    for cmd in ["render", "diff", "check"] {
        let out = homelabgen(ws.path(), &[cmd]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        assert!(
            err.contains("error: spec/homelab.yaml:")
                && err.contains("environments[0].vms[0].cores"),
            "{err}"
        );
        assert!(err.contains("help:"), "{err}");
    }
    assert!(
        !ws.path().join("generated").exists(),
        "output written for an invalid spec"
    );
}

#[test]
fn missing_spec_is_a_clear_error() {
    let ws = tempfile::tempdir().unwrap();
    let out = homelabgen(ws.path(), &["check", "--spec", "nope.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nope.yaml: cannot read the spec"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn never_writes_through_a_symlink() {
    let ws = workspace();
    let outside = tempfile::tempdir().unwrap();
    let gen = ws.path().join("generated");
    fs::create_dir(&gen).unwrap();
    symlink(outside.path(), gen.join("packer")).unwrap();
    let out = homelabgen(ws.path(), &["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    assert!(
        fs::read_dir(outside.path()).unwrap().next().is_none(),
        "wrote outside the output directory"
    );
}

#[test]
fn a_tampered_manifest_cannot_delete_outside_the_output_directory() {
    let ws = workspace();
    assert!(homelabgen(ws.path(), &["render"]).status.success());
    let bait = ws.path().join("spec/keep.txt");
    fs::write(&bait, "keep\n").unwrap();
    let manifest = ws.path().join("generated/.homelabgen-manifest");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, format!("{text}../spec/keep.txt\n")).unwrap();
    let out = homelabgen(ws.path(), &["render"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a plain relative path"),
        "{}",
        stderr(&out)
    );
    assert!(bait.exists());
}

#[test]
fn output_is_identical_across_locations_and_scripts_are_executable() {
    let a = workspace();
    let b = workspace();
    let spec_abs = b.path().join("spec/homelab.yaml");
    assert!(homelabgen(a.path(), &["render"]).status.success());
    // Same spec by an absolute path: no machine-specific path may reach the output.
    assert!(
        homelabgen(b.path(), &["render", "--spec", spec_abs.to_str().unwrap()])
            .status
            .success()
    );
    let sa = snapshot(&a.path().join("generated"));
    let sb = snapshot(&b.path().join("generated"));
    assert_eq!(sa.len(), sb.len());
    for ((pa, ca), (pb, cb)) in sa.iter().zip(&sb) {
        assert_eq!(pa, pb);
        let (ta, tb) = (String::from_utf8_lossy(ca), String::from_utf8_lossy(cb));
        // Only the header's spec name may differ (path as given vs file name).
        assert_eq!(
            ta.replace("spec/homelab.yaml", "homelab.yaml"),
            tb.replace("spec/homelab.yaml", "homelab.yaml"),
            "{}",
            pa.display()
        );
        assert!(
            !tb.contains(b.path().to_str().unwrap()),
            "absolute path leaked into {}",
            pb.display()
        );
        assert!(!ta.contains('\r'));
    }
    for (path, _) in &sa {
        if path.extension().is_some_and(|e| e == "sh") {
            let mode = fs::metadata(a.path().join("generated").join(path))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o111, 0o111, "{} not executable", path.display());
        }
    }
}

#[test]
fn help_version_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let help = homelabgen(dir.path(), &["--help"]);
    assert!(help.status.success() && stdout(&help).contains("render"));
    let version = homelabgen(dir.path(), &["--version"]);
    assert!(stdout(&version).starts_with("homelabgen "));
    let schema = homelabgen(dir.path(), &["schema"]);
    let value: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert_eq!(value["additionalProperties"], serde_json::json!(false));
}

#[test]
fn a_lost_executable_bit_is_drift_and_render_restores_it() {
    let ws = workspace();
    assert!(homelabgen(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    let script = owned_paths(&gen)
        .into_iter()
        .find(|l| l.ends_with(".sh"))
        .expect("the tree has scripts")
        .to_owned();
    fs::set_permissions(gen.join(&script), fs::Permissions::from_mode(0o644)).unwrap();
    let diff = homelabgen(ws.path(), &["diff"]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(
        stdout(&diff).contains(&format!("mode change {script}: new mode 100755")),
        "{}",
        stdout(&diff)
    );
    assert!(homelabgen(ws.path(), &["render"]).status.success());
    let mode = fs::metadata(gen.join(&script))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn a_temp_file_left_by_an_interrupted_render_is_replaced_not_followed() {
    let ws = workspace();
    assert!(homelabgen(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    let rel = PathBuf::from(&owned_paths(&gen)[0]);
    let target = gen.join(&rel);
    fs::write(&target, "stale\n").unwrap();
    // A leftover temp file that is a symlink to a file outside the output directory.
    let outside = tempfile::tempdir().unwrap();
    let bait = outside.path().join("bait");
    fs::write(&bait, "untouched\n").unwrap();
    let tmp = target.with_file_name(format!(
        ".{}.homelabgen-tmp",
        rel.file_name().unwrap().to_str().unwrap()
    ));
    symlink(&bait, &tmp).unwrap();
    let out = homelabgen(ws.path(), &["render"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&bait).unwrap(), "untouched\n");
    assert_ne!(fs::read_to_string(&target).unwrap(), "stale\n");
    assert!(!tmp.exists());
}

/// Every file gets exactly 0644, scripts 0755, whatever the umask: the modes are part
/// of the rendered tree (a umask that clears bits is undone, one that clears none
/// costs no extra call).
#[test]
fn modes_do_not_depend_on_the_umask() {
    for umask in ["077", "022", "000", "027"] {
        let dir = workspace();
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" render --spec spec/homelab.yaml --out generated"
            ))
            .arg(env!("CARGO_BIN_EXE_homelabgen"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "umask {umask}: {}", stderr(&o));
        let (mut files, mut scripts) = (0, 0);
        for (rel, _) in snapshot(&dir.path().join("generated")) {
            let mode = fs::metadata(dir.path().join("generated").join(&rel))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            let want = if rel.extension().is_some_and(|e| e == "sh") {
                scripts += 1;
                0o755
            } else {
                files += 1;
                0o644
            };
            assert_eq!(mode, want, "umask {umask}: {} has {mode:o}", rel.display());
        }
        assert!(
            files > 10 && scripts > 0,
            "umask {umask}: {files} files, {scripts} scripts"
        );
    }
}
