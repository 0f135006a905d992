//! The render cache (src/render_cache.rs): `diff` on an unchanged spec checks the disk
//! against the tree the last render recorded instead of rendering again. These tests
//! show that it is used, that every kind of drift still surfaces exactly as without it,
//! and that a damaged or foreign entry is only a miss.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    /// A temp dir with the example fixture at spec/homelab.yaml (never the user's spec)
    /// and a cache of its own.
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("spec")).unwrap();
        fs::copy(
            fixture("k3s-single.yaml"),
            dir.path().join("spec/homelab.yaml"),
        )
        .unwrap();
        Lab { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cache(&self) -> PathBuf {
        self.path("cache")
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_homelabgen"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOMELABGEN_CACHE_DIR", self.cache())
            .env_remove("HOMELABGEN_CACHE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn render(&self, spec: &str, out: &str) {
        let o = self.run(&["render", "--spec", spec, "--out", out], &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// `diff` with and without the cache: (exit code, stdout) of each.
    fn diff_both(&self, spec: &str, out: &str) -> ((Option<i32>, String), (Option<i32>, String)) {
        let with = self.run(&["diff", "--spec", spec, "--out", out], &[]);
        let without = self.run(&["diff", "--no-cache", "--spec", spec, "--out", out], &[]);
        let pick = |o: &Output| {
            (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
            )
        };
        (pick(&with), pick(&without))
    }

    /// The cache's entries: (file name, contents).
    fn entries(&self) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = fs::read_dir(self.cache())
            .map(|read| {
                read.map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().into_string().unwrap(),
                        fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/specs")
        .join(name)
}

#[test]
fn render_records_one_entry_and_diff_uses_it() {
    let lab = Lab::new();
    lab.render("spec/homelab.yaml", "generated");
    let entries = lab.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (name, text) = &entries[0];
    assert_eq!(name.len(), 64);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "homelabgen render cache v1");
    assert_eq!(lines[1].len(), 64);

    let (with, without) = lab.diff_both("spec/homelab.yaml", "generated");
    assert_eq!(with, (Some(0), String::new()));
    assert_eq!(without, (Some(0), String::new()));
}

/// The entry is what diff trusts: an entry of spec A that records the tree of spec B
/// makes diff call B's tree up to date with A, where --no-cache renders A and finds
/// every difference. (Only a tampered cache can do this; it shows the cache is used.)
#[test]
fn diff_trusts_the_recorded_digest_and_no_cache_bypasses_it() {
    let lab = Lab::new();
    fs::copy(fixture("ha.yaml"), lab.path("spec/ha.yaml")).unwrap();
    lab.render("spec/ha.yaml", "gen-ha");
    let ha_digest = lab.entries()[0].1.clone();
    fs::remove_dir_all(lab.cache()).unwrap();
    lab.render("spec/homelab.yaml", "gen-ha-copy-target");
    let (single_key, _) = lab.entries()[0].clone();
    // The single-node spec's header name depends on where its output is: diff it
    // against an output dir in the same place, holding the HA tree.
    fs::remove_dir_all(lab.path("gen-ha-copy-target")).unwrap();
    fs::rename(lab.path("gen-ha"), lab.path("gen-ha-copy-target")).unwrap();
    fs::write(lab.cache().join(&single_key), ha_digest).unwrap();

    let (with, without) = lab.diff_both("spec/homelab.yaml", "gen-ha-copy-target");
    assert_eq!(
        with,
        (Some(0), String::new()),
        "the poisoned entry was not used"
    );
    assert_eq!(without.0, Some(1));
    assert!(without.1.contains("k3s-single"), "{}", without.1);
    // HOMELABGEN_CACHE=off is --no-cache for every run.
    let off = lab.run(
        &[
            "diff",
            "--spec",
            "spec/homelab.yaml",
            "--out",
            "gen-ha-copy-target",
        ],
        &[("HOMELABGEN_CACHE", "off")],
    );
    assert_eq!(off.status.code(), Some(1));
}

/// Every kind of drift diff reports without the cache, it reports with it, the same.
#[test]
fn every_drift_surfaces_with_the_cache_as_without() {
    type Drift = fn(&Path);
    let drifts: [(&str, Drift); 9] = [
        ("edited file", |g| {
            let p = owned(g, false);
            let mut text = fs::read_to_string(&p).unwrap();
            text.push_str("# mine\n");
            fs::write(p, text).unwrap();
        }),
        ("executable bit set", |g| {
            let p = owned(g, false);
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }),
        ("executable bit cleared", |g| {
            let script = owned(g, true);
            fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
        }),
        ("file removed", |g| {
            fs::remove_file(owned(g, false)).unwrap()
        }),
        ("stale temp file", |g| {
            fs::write(g.join("k8s/.README.md.homelabgen-tmp"), "half").unwrap()
        }),
        ("manifest line dropped", |g| {
            let p = g.join(".homelabgen-manifest");
            let text = fs::read_to_string(&p).unwrap();
            let first = first_line(&text);
            let kept: Vec<&str> = text.lines().filter(|l| *l != first).collect();
            fs::write(p, kept.join("\n") + "\n").unwrap();
        }),
        ("manifest with an old hash too (interrupted render)", |g| {
            let p = g.join(".homelabgen-manifest");
            let text = fs::read_to_string(&p).unwrap();
            let first = first_line(&text);
            let edited = text.replacen(first, &format!("{first},{}", "0".repeat(64)), 1);
            fs::write(p, edited).unwrap();
        }),
        ("directory replaced by a file", |g| {
            let dir = g.join("k8s");
            fs::remove_dir_all(&dir).unwrap();
            fs::write(&dir, "not a dir").unwrap();
        }),
        ("file replaced by a symlink", |g| {
            let p = owned(g, false);
            fs::remove_file(&p).unwrap();
            std::os::unix::fs::symlink("/etc/hostname", &p).unwrap();
        }),
    ];
    for (what, drift) in drifts {
        let lab = Lab::new();
        lab.render("spec/homelab.yaml", "generated");
        drift(&lab.path("generated"));
        let (with, without) = lab.diff_both("spec/homelab.yaml", "generated");
        assert_ne!(without.0, Some(0), "{what}: the drift is not one");
        assert_eq!(with, without, "{what}: the cache changed diff's answer");
    }
}

#[test]
fn a_changed_spec_or_another_header_name_misses() {
    let lab = Lab::new();
    lab.render("spec/homelab.yaml", "generated");
    // Another spec: a changed value.
    let spec = lab.path("spec/homelab.yaml");
    let text = fs::read_to_string(&spec).unwrap();
    let edited = text.replacen("cores: 4", "cores: 6", 1);
    assert_ne!(text, edited, "the fixture changed: pick another edit");
    fs::write(&spec, edited).unwrap();
    let (with, without) = lab.diff_both("spec/homelab.yaml", "generated");
    assert_eq!(without.0, Some(1));
    assert_eq!(with, without);
    fs::write(&spec, text).unwrap();
    // The same bytes elsewhere: the headers name it differently.
    fs::create_dir_all(lab.path("other")).unwrap();
    fs::copy(&spec, lab.path("other/lab.yaml")).unwrap();
    let (with, without) = lab.diff_both("other/lab.yaml", "generated");
    assert_eq!(without.0, Some(1));
    assert_eq!(with, without);
}

#[test]
fn a_damaged_entry_is_a_miss_and_is_rewritten() {
    for damage in [
        "",
        "homelabgen render cache v1\n",
        "homelabgen render cache v1\nzz\n",
        "garbage",
    ] {
        let lab = Lab::new();
        lab.render("spec/homelab.yaml", "generated");
        let (name, good) = lab.entries()[0].clone();
        fs::write(lab.cache().join(&name), damage).unwrap();
        let (with, without) = lab.diff_both("spec/homelab.yaml", "generated");
        assert_eq!(with, (Some(0), String::new()), "{damage:?}");
        assert_eq!(with, without);
        assert_eq!(
            lab.entries(),
            vec![(name, good)],
            "a clean diff records the entry again"
        );
    }
}

#[test]
fn no_entry_when_the_cache_is_off_or_cannot_be_written() {
    let lab = Lab::new();
    let o = lab.run(
        &[
            "render",
            "--spec",
            "spec/homelab.yaml",
            "--out",
            "generated",
        ],
        &[("HOMELABGEN_CACHE", "off")],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(lab.entries().is_empty());
    // A cache path that is a file: render and diff work, nothing is recorded.
    fs::write(lab.cache(), "in the way").unwrap();
    lab.render("spec/homelab.yaml", "generated");
    let (with, _) = lab.diff_both("spec/homelab.yaml", "generated");
    assert_eq!(with, (Some(0), String::new()));
    assert_eq!(fs::read_to_string(lab.cache()).unwrap(), "in the way");
}

#[test]
fn the_cache_keeps_the_newest_256_entries() {
    let lab = Lab::new();
    fs::create_dir_all(lab.cache()).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for i in 0..300 {
        let p = lab.cache().join(format!("{i:064x}"));
        fs::write(
            &p,
            format!("homelabgen render cache v1\n{}\n", "a".repeat(64)),
        )
        .unwrap();
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old + std::time::Duration::from_secs(i))
            .unwrap();
    }
    fs::write(lab.cache().join("README"), "not an entry").unwrap();
    lab.render("spec/homelab.yaml", "generated");
    let entries = lab.entries();
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 257, "256 entries and the README");
    assert!(names.contains(&"README"));
    // The oldest 45 fake entries went; the new one stayed.
    assert!(!names.contains(&format!("{:064x}", 44).as_str()));
    assert!(names.contains(&format!("{:064x}", 45).as_str()));
    let (with, _) = lab.diff_both("spec/homelab.yaml", "generated");
    assert_eq!(with, (Some(0), String::new()));
}

/// The first entry of a manifest's text.
fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.starts_with('#'))
        .expect("an empty manifest")
}

/// The first file the manifest of `gen` lists whose executable bit is `executable`.
fn owned(gen: &Path, executable: bool) -> PathBuf {
    fs::read_to_string(gen.join(".homelabgen-manifest"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| gen.join(l.split('\t').next().unwrap()))
        .find(|p| (fs::metadata(p).unwrap().permissions().mode() & 0o111 != 0) == executable)
        .unwrap_or_else(|| panic!("no file with executable={executable} in {}", gen.display()))
}
