//! The command line's conventions: completions, man page, colour only on a terminal
//! (never with NO_COLOR or into a pipe), render's file list and --quiet, placeholder
//! warnings, the Markdown reference committed as docs/spec.md, --version's pins.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_homelabgen");

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir).env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temp dir with the example fixture (never the user's spec) at spec/homelab.yaml.
fn workspace(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("spec")).unwrap();
    fs::write(dir.path().join("spec/homelab.yaml"), spec).unwrap();
    dir
}

fn example() -> String {
    fs::read_to_string(repo("tests/specs/k3s-single.yaml")).unwrap()
}

/// The example with its placeholders replaced by real-looking values.
fn example_without_placeholders() -> String {
    example()
        .replace(
            "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA CHANGEME@homelab",
            "AAAAC3NzaC1lZDI1NTE5AAAAIBn0rFh1hB8YVxkWkVq7N4cR0tG5mY6oKp2sZ3xA9dEf me@laptop",
        )
        .replace(
            "https://github.com/CHANGEME/homelab.git",
            "https://git.example.org/me/homelab.git",
        )
}

#[test]
fn completions_generate_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _homelabgen"),
        ("zsh", "#compdef homelabgen"),
        ("fish", "complete -c homelabgen"),
    ] {
        let out = run(dir.path(), &["completions", shell], &[]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains(marker),
            "{shell}: no '{marker}' in:\n{script}"
        );
        for sub in ["render", "diff", "check", "schema", "completions", "man"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let bad = run(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_page_is_roff_naming_every_subcommand() {
    let out = run(Path::new("."), &["man"], &[]);
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(page.contains(".TH homelabgen 1"), "{page}");
    for sub in ["render", "diff", "check", "schema", "completions"] {
        assert!(page.contains(sub), "man page lacks {sub}");
    }
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_without_no_color() {
    let ws = workspace(&example());
    let escape = |o: &Output| o.stdout.contains(&0x1b) || o.stderr.contains(&0x1b);
    // Into a pipe (as here): no colour, whatever NO_COLOR says.
    let piped = run(ws.path(), &["check"], &[]);
    assert!(piped.status.success());
    assert!(
        !escape(&piped),
        "colour into a pipe: {}",
        text(&piped.stderr)
    );
    // --color always colours; --color never and NO_COLOR with auto do not.
    assert!(escape(&run(
        ws.path(),
        &["check", "--color", "always"],
        &[]
    )));
    assert!(!escape(&run(
        ws.path(),
        &["--color", "never", "check"],
        &[]
    )));
    // On a terminal (util-linux `script` gives one): colour, unless NO_COLOR is set.
    if Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let on_tty = |env: &[(&str, &str)]| {
            let mut cmd = Command::new("script");
            cmd.args(["-qec", &format!("{BIN} check"), "/dev/null"])
                .current_dir(ws.path())
                .env_remove("NO_COLOR");
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.output().unwrap()
        };
        let tty = on_tty(&[]);
        assert!(
            escape(&tty),
            "no colour on a terminal: {}",
            text(&tty.stdout)
        );
        let no_color = on_tty(&[("NO_COLOR", "1")]);
        assert!(
            text(&no_color.stdout).contains("ok"),
            "{}",
            text(&no_color.stdout)
        );
        assert!(
            !escape(&no_color),
            "colour despite NO_COLOR: {}",
            text(&no_color.stdout)
        );
    }
}

#[test]
fn check_lists_every_placeholder_with_its_location_and_strict_refuses() {
    let ws = workspace(&example());
    let out = run(ws.path(), &["check"], &[]);
    assert!(
        out.status.success(),
        "placeholders are warnings: {}",
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    let spec = example();
    let expected: Vec<String> = spec
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let value = line.split(" # ").next().unwrap();
            (!line.trim_start().starts_with('#') && value.contains("CHANGEME")).then(|| {
                format!(
                    "warning: spec/homelab.yaml:{}:{}:",
                    i + 1,
                    value.find("CHANGEME").unwrap() + 1
                )
            })
        })
        .collect();
    assert_eq!(
        expected.len(),
        2,
        "the example has the SSH key and repo_url placeholders"
    );
    for want in &expected {
        assert!(err.contains(want), "missing '{want}' in:\n{err}");
    }
    assert!(
        err.contains("repo_url: https://github.com/CHANGEME/homelab.git"),
        "{err}"
    );
    assert!(
        text(&out.stdout).contains("2 placeholders to replace"),
        "{}",
        text(&out.stdout)
    );

    let strict = run(ws.path(), &["check", "--strict"], &[]);
    assert_eq!(strict.status.code(), Some(2), "{}", text(&strict.stderr));
    assert!(text(&strict.stderr).contains("error: spec/homelab.yaml:"));

    // Negative control: with the placeholders replaced, nothing is reported.
    let clean = workspace(&example_without_placeholders());
    let out = run(clean.path(), &["check", "--strict"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("CHANGEME"),
        "{}",
        text(&out.stderr)
    );
    // The all-zero key is a placeholder even without the word.
    let zero = workspace(&example_without_placeholders().replace(
        "AAAAC3NzaC1lZDI1NTE5AAAAIBn0rFh1hB8YVxkWkVq7N4cR0tG5mY6oKp2sZ3xA9dEf me@laptop",
        "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA me@laptop",
    ));
    let out = run(zero.path(), &["check", "--strict"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("all-zero SSH key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn render_lists_created_updated_removed_files_and_quiet_silences_it() {
    let ws = workspace(&example_without_placeholders());
    let out = run(ws.path(), &["render"], &[]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    let manifest = fs::read_to_string(ws.path().join("generated/.homelabgen-manifest")).unwrap();
    // Manifest lines: `path<TAB>sha256` after `#` comment lines.
    let owned: Vec<&str> = manifest
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split('\t').next().unwrap())
        .collect();
    for file in &owned {
        assert!(
            listing.contains(&format!("  created generated/{file}\n")),
            "{file} not listed:\n{listing}"
        );
    }
    // Edit one, delete one: updated and created again; drop kubernetes: removed.
    fs::write(ws.path().join("generated").join(owned[0]), "x\n").unwrap();
    let out = run(ws.path(), &["render"], &[]);
    assert!(
        text(&out.stdout).contains(&format!("  updated generated/{}\n", owned[0])),
        "{}",
        text(&out.stdout)
    );
    let spec = example_without_placeholders();
    let cut = spec.find("\nkubernetes:").unwrap();
    fs::write(ws.path().join("spec/homelab.yaml"), &spec[..cut + 1]).unwrap();
    let out = run(ws.path(), &["render"], &[]);
    assert!(
        text(&out.stdout).contains("  removed generated/k8s/"),
        "{}",
        text(&out.stdout)
    );

    let quiet = run(ws.path(), &["render", "--quiet"], &[]);
    assert!(quiet.status.success());
    assert_eq!(text(&quiet.stdout), "");
    fs::write(ws.path().join("spec/homelab.yaml"), "site: [\n").unwrap();
    let failed = run(ws.path(), &["render", "--quiet"], &[]);
    assert_eq!(failed.status.code(), Some(2));
    assert!(!text(&failed.stderr).is_empty(), "--quiet keeps errors");
}

#[test]
fn docs_spec_md_is_the_fresh_markdown_schema() {
    let out = run(Path::new("."), &["schema", "--markdown"], &[]);
    assert!(out.status.success());
    let md = text(&out.stdout);
    for field in [
        "`site.endpoint`",
        "`environments[].vms[].memory`",
        "`kubernetes.git.repo_url`",
        "`images[].k3s_version`",
    ] {
        assert!(md.contains(field), "no {field} in the reference");
    }
    let committed = fs::read_to_string(repo("docs/spec.md")).unwrap_or_default();
    assert!(committed == md, "docs/spec.md is stale: run `make docs`");
}

#[test]
fn version_names_the_pinned_components() {
    let out = run(Path::new("."), &["--version"], &[]);
    let v = text(&out.stdout);
    assert!(
        v.starts_with(&format!("homelabgen {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    for (name, pin) in [
        ("k3s", homelabgen_spec::defaults::K3S),
        (
            "bpg/proxmox provider",
            homelabgen_spec::defaults::PROXMOX_PROVIDER,
        ),
        ("Argo CD", homelabgen_spec::defaults::ARGOCD),
        (
            "packer-plugin-proxmox",
            homelabgen_spec::defaults::PACKER_PROXMOX_PLUGIN,
        ),
    ] {
        assert!(
            v.contains(&format!("{name} {pin}")),
            "--version lacks {name} {pin}:\n{v}"
        );
    }
}
