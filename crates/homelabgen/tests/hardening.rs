//! Hostile and unlucky conditions for render/diff (issue #9): path spellings, symlinks,
//! FIFOs, huge inputs, user files, stale temp files, concurrent renders, crashes.
//! The spec is a test fixture, never the user's spec/homelab.yaml.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const FIXTURE: &str = "../homelabgen-spec/tests/fixtures/valid/metallb.yaml";

fn fixture() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).unwrap()
}

/// The fixture without Kubernetes and with another image release: files go away,
/// files change.
fn variant_b() -> String {
    let text = fixture();
    let cut = text.find("\nkubernetes:").unwrap();
    text[..cut + 1].replace("release: 3", "release: 4")
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_homelabgen"))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin().args(args).current_dir(dir).output().unwrap()
}

/// Run with a time limit: a hang is a failure, not a stuck test.
/// A hang guard, not a speed check (that is `make bench`): generous, so a busy machine
/// never fails it, yet an endless input or a loop is caught. What is refused early is
/// proven by the message naming the reason (size, manifest length), not by a stopwatch.
const HANG_LIMIT: Duration = Duration::from_secs(60);

fn run_limited(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("homelabgen {args:?} hung for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn workspace(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("spec")).unwrap();
    fs::write(dir.path().join("spec/homelab.yaml"), spec).unwrap();
    dir
}

/// Every entry below `root` (no symlink followed): path → contents (files), or a
/// marker for anything else.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.is_dir() {
                walk(root, &path, out);
            } else if meta.is_file() {
                out.insert(rel, fs::read(&path).unwrap());
            } else {
                out.insert(rel, b"<not a regular file>".to_vec());
            }
        }
    }
    walk(root, root, &mut out);
    out
}

fn manifest_paths(gen: &Path) -> Vec<PathBuf> {
    fs::read_to_string(gen.join(".homelabgen-manifest"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| PathBuf::from(l.split('\t').next().unwrap()))
        .collect()
}

/// A reference render of `spec` into a fresh directory: the files (without manifest).
fn reference(spec: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    let ws = workspace(spec);
    let out = run(ws.path(), &["render"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut files = snapshot(&ws.path().join("generated"));
    files.remove(Path::new(".homelabgen-manifest"));
    files
}

#[test]
fn the_tree_does_not_depend_on_how_the_spec_path_is_spelled() {
    let ws = workspace(&fixture());
    let abs = ws.path().join("spec/homelab.yaml");
    let spellings = [
        "spec/homelab.yaml".to_owned(),
        "./spec//homelab.yaml".to_owned(),
        "spec/../spec/homelab.yaml".to_owned(),
        abs.to_str().unwrap().to_owned(),
    ];
    let mut trees = Vec::new();
    for (i, spelling) in spellings.iter().enumerate() {
        let out = format!("out{i}");
        let o = run(ws.path(), &["render", "--spec", spelling, "--out", &out]);
        assert!(o.status.success(), "{spelling}: {}", stderr(&o));
        trees.push(snapshot(&ws.path().join(&out)));
    }
    for (spelling, tree) in spellings.iter().zip(&trees).skip(1) {
        assert!(tree == &trees[0], "`{spelling}` changed the tree");
    }
    let header = String::from_utf8(trees[0][Path::new("k8s/README.md")].clone()).unwrap();
    assert!(header.contains("from spec/homelab.yaml."), "{header}");
}

#[test]
fn a_hostile_spec_file_name_reaches_no_file_unescaped() {
    let ws = workspace("");
    let name = "x\n$(touch pwned)`id`\"*\\ #.yaml";
    fs::write(ws.path().join("spec").join(name), fixture()).unwrap();
    let spec = format!("spec/{name}");
    let o = run(ws.path(), &["render", "--spec", &spec]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (path, bytes) in snapshot(&ws.path().join("generated")) {
        let text = String::from_utf8(bytes).unwrap();
        for line in text
            .lines()
            .filter(|l| l.contains("Generated by homelabgen from"))
        {
            assert!(
                line.contains("from spec/x___touch_pwned__id______.yaml."),
                "{}: {line}",
                path.display()
            );
        }
        if path.extension().is_some_and(|e| e == "sh") {
            let check = Command::new("bash")
                .arg("-n")
                .arg(ws.path().join("generated").join(&path))
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}: {}",
                path.display(),
                stderr(&check)
            );
        }
    }
    assert!(!ws.path().join("pwned").exists());
}

#[test]
fn a_spec_from_a_pipe_renders_with_a_fixed_name() {
    let ws = workspace(&fixture());
    let mut child = bin()
        .args(["render", "--spec", "/dev/stdin"])
        .current_dir(ws.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(fixture().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let readme = fs::read_to_string(ws.path().join("generated/k8s/README.md")).unwrap();
    assert!(readme.contains("from homelab.yaml."), "{readme}");
}

#[test]
fn an_endless_or_huge_spec_is_refused_without_reading_it_whole() {
    let ws = workspace("");
    let o = run_limited(ws.path(), &["check", "--spec", "/dev/zero"], HANG_LIMIT);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("more than 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    // A sparse 1 GiB file: refused by its size, before reading.
    let big = fs::File::create(ws.path().join("big.yaml")).unwrap();
    big.set_len(1 << 30).unwrap();
    let o = run_limited(ws.path(), &["check", "--spec", "big.yaml"], HANG_LIMIT);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is 1073741824 bytes; the limit is 1048576"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn empty_out_and_spec_paths_are_refused() {
    let ws = workspace(&fixture());
    for args in [
        ["render", "--out", ""],
        ["diff", "--out", ""],
        ["render", "--spec", ""],
    ] {
        let o = run(ws.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains("is empty"), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(
        fs::read_dir(ws.path()).unwrap().count(),
        1,
        "something was written"
    );
}

#[test]
fn a_symlinked_or_dangling_output_directory_is_refused() {
    let ws = workspace(&fixture());
    let target = tempfile::tempdir().unwrap();
    symlink(target.path(), ws.path().join("generated")).unwrap();
    for cmd in ["render", "diff"] {
        let o = run(ws.path(), &[cmd]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains("is a symlink; homelabgen does not follow it"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(fs::read_dir(target.path()).unwrap().count(), 0);
    fs::remove_file(ws.path().join("generated")).unwrap();
    symlink("/nonexistent/dir", ws.path().join("generated")).unwrap();
    let o = run(ws.path(), &["render"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("File exists"), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a symlink"), "{}", stderr(&o));
}

#[test]
fn a_fifo_or_device_in_the_output_directory_never_hangs_render_or_diff() {
    let ws = workspace(&fixture());
    assert!(run(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    // A FIFO where a rendered file is, and one as the manifest.
    for victim in ["k8s/README.md", ".homelabgen-manifest"] {
        let path = gen.join(victim);
        let saved = fs::read(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert!(Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success());
        for cmd in ["render", "diff"] {
            let o = run_limited(ws.path(), &[cmd], HANG_LIMIT);
            assert_eq!(o.status.code(), Some(2), "{victim} {cmd}");
            assert!(
                stderr(&o).contains("a FIFO"),
                "{victim} {cmd}: {}",
                stderr(&o)
            );
        }
        fs::remove_file(&path).unwrap();
        fs::write(&path, saved).unwrap();
    }
    // Restored: clean again.
    let o = run_limited(ws.path(), &["diff"], HANG_LIMIT);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_huge_manifest_is_refused_quickly() {
    let ws = workspace(&fixture());
    assert!(run(ws.path(), &["render"]).status.success());
    let manifest = ws.path().join("generated/.homelabgen-manifest");
    let line = "a/b/c/d/e\n".repeat(1_000_000);
    fs::write(&manifest, line).unwrap();
    let o = run_limited(ws.path(), &["diff"], HANG_LIMIT);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("larger than anything homelabgen writes"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_the_user_changed_is_kept_and_reported_not_removed() {
    let ws = workspace(&fixture());
    assert!(run(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    fs::write(gen.join("k8s/README.md"), "my notes\n").unwrap();
    fs::write(ws.path().join("spec/homelab.yaml"), variant_b()).unwrap();
    let diff = run(ws.path(), &["diff"]);
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert!(text.contains("kept file generated/k8s/README.md: no longer rendered, but it was changed after homelabgen wrote it"), "{text}");
    let o = run(ws.path(), &["render"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: kept generated/k8s/README.md"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read_to_string(gen.join("k8s/README.md")).unwrap(),
        "my notes\n"
    );
    assert!(!manifest_paths(&gen).contains(&PathBuf::from("k8s/README.md")));
    // The rest of the k8s tree, unchanged by the user, is gone.
    assert!(!gen.join("k8s/apps").exists());
    assert_eq!(run(ws.path(), &["diff"]).status.code(), Some(0));
}

#[test]
fn a_stale_manifest_entry_never_deletes_a_users_file() {
    let ws = workspace(&fixture());
    assert!(run(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    // As left by an interrupted render: an entry for a file that is gone...
    let manifest = gen.join(".homelabgen-manifest");
    let mut text = fs::read_to_string(&manifest).unwrap();
    let sha_of_ours = "0".repeat(64);
    text.push_str(&format!("notes/todo.md\t{sha_of_ours}\n"));
    fs::write(&manifest, text).unwrap();
    // ...and the user later puts a file there.
    fs::create_dir(gen.join("notes")).unwrap();
    fs::write(gen.join("notes/todo.md"), "mine\n").unwrap();
    let o = run(ws.path(), &["render"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(gen.join("notes/todo.md")).unwrap(),
        "mine\n"
    );
    assert!(!manifest_paths(&gen).contains(&PathBuf::from("notes/todo.md")));
    // An entry whose file is gone is dropped, and a render with no changes says so.
    let mut text = fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!("gone.txt\t{sha_of_ours}\n"));
    fs::write(&manifest, text).unwrap();
    assert_eq!(run(ws.path(), &["diff"]).status.code(), Some(1));
    assert!(run(ws.path(), &["render"]).status.success());
    assert!(!manifest_paths(&gen).contains(&PathBuf::from("gone.txt")));
    assert_eq!(run(ws.path(), &["diff"]).status.code(), Some(0));
}

#[test]
fn stale_temp_files_are_reported_by_diff_and_removed_by_render() {
    let ws = workspace(&fixture());
    assert!(run(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    fs::create_dir_all(gen.join("old")).unwrap();
    fs::write(gen.join("old/.gone.tf.homelabgen-tmp"), "half").unwrap();
    let diff = run(ws.path(), &["diff"]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&diff.stdout)
        .contains("stale temp file generated/old/.gone.tf.homelabgen-tmp"));
    let o = run(ws.path(), &["render"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("removed 1 temp file"), "{}", stderr(&o));
    assert!(!gen.join("old/.gone.tf.homelabgen-tmp").exists());
    assert_eq!(run(ws.path(), &["diff"]).status.code(), Some(0));
}

#[test]
fn a_non_utf8_owned_file_is_shown_as_such() {
    let ws = workspace(&fixture());
    assert!(run(ws.path(), &["render"]).status.success());
    fs::write(
        ws.path().join("generated/k8s/README.md"),
        b"\xff\xfe binary\n",
    )
    .unwrap();
    let diff = run(ws.path(), &["diff"]);
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert!(
        text.contains("not UTF-8 text on disk") && text.contains("binary"),
        "{text}"
    );
}

#[test]
fn control_bytes_are_escaped_and_long_values_cut_in_messages() {
    let long = "a".repeat(1_000_000);
    let spec = fixture()
        .replace("node: pve", "node: \"pve\\e[31m\\a\"")
        .replace("name: node-1", &format!("name: {long}"));
    let ws = workspace(&spec);
    let o = run(ws.path(), &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("\\u{1b}"), "{err}");
    assert!(err.len() < 4000, "{} bytes of messages", err.len());
    assert!(err.contains("more characters)"), "{err}");
}

/// Several renders of different specs into one output directory at once: the lock
/// serialises them, so the end state is one complete render, and the manifest lists
/// exactly its files.
#[test]
fn concurrent_renders_leave_one_complete_tree() {
    let specs: Vec<String> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                fixture().replace("release: 3", &format!("release: {}", 10 + i))
            } else {
                variant_b().replace("release: 4", &format!("release: {}", 10 + i))
            }
        })
        .collect();
    let refs: Vec<_> = specs.iter().map(|s| reference(s)).collect();
    let ws = workspace("");
    for (i, spec) in specs.iter().enumerate() {
        fs::write(ws.path().join(format!("spec/{i}.yaml")), spec).unwrap();
    }
    for _round in 0..3 {
        let children: Vec<_> = (0..specs.len())
            .map(|i| {
                bin()
                    .args(["render", "--spec", &format!("spec/{i}.yaml")])
                    .current_dir(ws.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
        }
        let gen = ws.path().join("generated");
        let mut tree = snapshot(&gen);
        tree.remove(Path::new(".homelabgen-manifest"));
        // Headers name spec/N.yaml; the references name spec/homelab.yaml.
        let normalised: BTreeMap<_, _> = tree
            .iter()
            .map(|(p, c)| {
                let text = String::from_utf8_lossy(c);
                let mut t = text.to_string();
                for i in 0..specs.len() {
                    t = t.replace(&format!("spec/{i}.yaml"), "spec/homelab.yaml");
                }
                (p.clone(), t.into_bytes())
            })
            .collect();
        let matching = refs.iter().filter(|r| **r == normalised).count();
        assert_eq!(
            matching,
            if refs[0] == refs[2] { 2 } else { 1 },
            "the tree matches no single render"
        );
        let listed: Vec<PathBuf> = manifest_paths(&gen);
        let files: Vec<PathBuf> = tree.keys().cloned().collect();
        assert_eq!(
            listed, files,
            "the manifest does not list exactly the owned files"
        );
    }
}

/// Kill render at every file-system step of an apply (a test hook aborts the process
/// like `kill -9`): no torn file, a user's file never deleted, and the next render
/// completes with a manifest of exactly the rendered files.
#[test]
fn a_render_killed_at_any_step_loses_nothing() {
    let (a, b) = (fixture(), variant_b());
    let (ref_a, ref_b) = (reference(&a), reference(&b));
    let mut steps = 0;
    for at in 1.. {
        let ws = workspace(&a);
        assert!(run(ws.path(), &["render"]).status.success());
        let gen = ws.path().join("generated");
        fs::write(gen.join("NOTES.md"), "user file\n").unwrap();
        fs::write(gen.join("k8s/apps/kustomization.yaml"), "user edit\n").unwrap();
        fs::write(ws.path().join("spec/homelab.yaml"), &b).unwrap();
        let o = bin()
            .args(["render"])
            .env("HOMELABGEN_TEST_CRASH_AT", at.to_string())
            .current_dir(ws.path())
            .output()
            .unwrap();
        let finished = o.status.success();
        for (path, bytes) in snapshot(&gen) {
            let name = path.file_name().unwrap().to_str().unwrap();
            if name.ends_with(".homelabgen-tmp") || name == ".homelabgen-manifest" {
                continue;
            }
            let known = ref_a.get(&path) == Some(&bytes)
                || ref_b.get(&path) == Some(&bytes)
                || (name == "NOTES.md" && bytes == b"user file\n")
                || (name == "kustomization.yaml" && bytes == b"user edit\n");
            assert!(known, "step {at}: torn or foreign {}", path.display());
        }
        assert_eq!(
            fs::read_to_string(gen.join("NOTES.md")).unwrap(),
            "user file\n",
            "step {at}"
        );
        assert_eq!(
            fs::read_to_string(gen.join("k8s/apps/kustomization.yaml")).unwrap(),
            "user edit\n",
            "step {at}"
        );
        let again = run(ws.path(), &["render"]);
        assert!(again.status.success(), "step {at}: {}", stderr(&again));
        let mut tree = snapshot(&gen);
        tree.remove(Path::new(".homelabgen-manifest"));
        tree.remove(Path::new("NOTES.md"));
        tree.remove(Path::new("k8s/apps/kustomization.yaml"));
        assert!(
            tree == ref_b,
            "step {at}: the recovered tree is not the render"
        );
        let mut owned = manifest_paths(&gen);
        owned.sort();
        let expected: Vec<PathBuf> = ref_b.keys().cloned().collect();
        assert_eq!(owned, expected, "step {at}: stale manifest entries");
        assert_eq!(
            run(ws.path(), &["diff"]).status.code(),
            Some(0),
            "step {at}"
        );
        if finished {
            steps = at;
            break;
        }
    }
    eprintln!("crash test: killed at each of {} steps", steps - 1);
    assert!(steps > 20, "only {steps} steps: the hook is not reached");
}

/// Writability is checked before the first write: with one directory that cannot be
/// written (immutable, which binds root too), render changes nothing at all.
#[test]
fn an_unwritable_directory_stops_render_before_the_first_write() {
    let ws = workspace(&fixture());
    assert!(run(ws.path(), &["render"]).status.success());
    let gen = ws.path().join("generated");
    // Variant B changes files in packer/ and removes k8s/: lock one k8s directory.
    let locked = gen.join("k8s/apps");
    let chattr = |flag: &str| Command::new("chattr").arg(flag).arg(&locked).status();
    match chattr("+i") {
        Ok(status) if status.success() => {}
        _ => {
            eprintln!("skipped: chattr +i is not available here");
            return;
        }
    }
    fs::write(ws.path().join("spec/homelab.yaml"), variant_b()).unwrap();
    let before = snapshot(&gen);
    let o = run(ws.path(), &["render"]);
    let _ = chattr("-i");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot write into") && stderr(&o).contains("nothing was changed"),
        "{}",
        stderr(&o)
    );
    assert!(
        snapshot(&gen) == before,
        "a refused render changed the tree"
    );
    assert!(run(ws.path(), &["render"]).status.success());
}
