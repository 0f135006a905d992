//! The docs match the code: every `make TARGET`, every `homelabgen SUBCOMMAND` and every
//! spec field path the README and docs/ name in code (backticks or code blocks) exists.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The documents: README.md, tools/README.md and every docs/*.md.
fn documents() -> Vec<(String, String)> {
    let mut docs = vec!["README.md".to_owned(), "tools/README.md".to_owned()];
    let mut more: Vec<String> = fs::read_dir(repo("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    more.sort();
    docs.extend(more);
    docs.into_iter()
        .map(|d| {
            let text = fs::read_to_string(repo(&d)).unwrap();
            (d, text)
        })
        .collect()
}

/// The code in a Markdown text: backtick spans and fenced blocks, line by line.
fn code(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.starts_with("    ") {
            // Without a shell comment: `make render   # builds homelabgen and ...`.
            let command = match line.find(" #") {
                Some(at) => &line[..at],
                None => line,
            };
            out.push(command.to_owned());
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let Some(span) = parts.next() {
            out.push(span.to_owned());
            parts.next();
        }
    }
    out
}

/// Targets defined by the Makefile and mk/*.mk.
fn make_targets() -> BTreeSet<String> {
    let mut files = vec![repo("Makefile")];
    for entry in fs::read_dir(repo("mk")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut targets = BTreeSet::new();
    for file in files {
        for line in fs::read_to_string(file).unwrap().lines() {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            if rest.starts_with('=')
                || name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                continue;
            }
            targets.insert(name.to_owned());
        }
    }
    targets
}

/// Field paths of the spec, `[]` removed: `environments.vms.memory`.
fn spec_fields() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_homelabgen"))
        .args(["schema", "--markdown"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(|p| p.replace("[]", ""))
        .collect()
}

/// `a.{b,c}` → `a.b`, `a.c` (one brace group).
fn expand(token: &str) -> Vec<String> {
    match (token.find('{'), token.find('}')) {
        (Some(open), Some(close)) if open < close => token[open + 1..close]
            .split(',')
            .map(|alt| format!("{}{}{}", &token[..open], alt.trim(), &token[close + 1..]))
            .collect(),
        _ => vec![token.to_owned()],
    }
}

fn matches(pattern: &str, field: &str) -> bool {
    match pattern.split_once('*') {
        Some((head, tail)) => {
            field.starts_with(head)
                && field.ends_with(tail)
                && field.len() >= head.len() + tail.len()
        }
        None => pattern == field,
    }
}

#[test]
fn every_make_target_named_in_the_docs_exists() {
    let targets = make_targets();
    assert!(
        targets.contains("test") && targets.contains("tf-plan") && targets.contains("up"),
        "{targets:?}"
    );
    let mut missing = Vec::new();
    for (doc, text) in documents() {
        for line in code(&text) {
            let words: Vec<&str> = line.split_whitespace().collect();
            for (i, w) in words.iter().enumerate() {
                if *w != "make" {
                    continue;
                }
                let target = words[i + 1..]
                    .iter()
                    .find(|w| !w.starts_with('-') && !w.contains('='));
                if let Some(t) = target {
                    let t = t.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-');
                    if !t.is_empty()
                        && t.chars().next().unwrap().is_ascii_lowercase()
                        && !targets.contains(t)
                    {
                        missing.push(format!("{doc}: make {t}"));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the docs name make targets that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_homelabgen_subcommand_named_in_the_docs_exists() {
    let subcommands = [
        "render",
        "diff",
        "check",
        "schema",
        "doctor",
        "completions",
        "man",
        "help",
    ];
    let mut missing = Vec::new();
    for (doc, text) in documents() {
        for line in code(&text) {
            let words: Vec<&str> = line.split_whitespace().collect();
            for (i, w) in words.iter().enumerate() {
                if w.trim_start_matches(['(', '$']) != "homelabgen" {
                    continue;
                }
                if let Some(sub) = words
                    .get(i + 1)
                    .filter(|s| s.chars().all(|c| c.is_ascii_lowercase()))
                {
                    if !subcommands.contains(sub) {
                        missing.push(format!("{doc}: homelabgen {sub}"));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "unknown subcommands in the docs:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_spec_field_named_in_the_docs_exists() {
    let fields = spec_fields();
    assert!(
        fields.contains(&"environments.vms.memory".to_owned()),
        "{fields:?}"
    );
    let sections = [
        "site.",
        "images[].",
        "environments[].",
        "kubernetes.",
        "versions.",
    ];
    let files = [".tf", ".hcl", ".env", ".yaml", ".json", ".md", ".sh"];
    let mut unknown = Vec::new();
    for (doc, text) in documents() {
        for span in code(&text) {
            let token = span.trim();
            if token.contains(' ') || files.iter().any(|f| token.ends_with(f)) {
                continue;
            }
            for path in expand(token) {
                let path = path.replace("[]", "").trim_start_matches('.').to_owned();
                let full = sections.iter().any(|s| path.starts_with(s));
                let relative = token.contains(".{") && !full;
                if !full && !relative {
                    continue;
                }
                let found = fields.iter().any(|f| {
                    if full {
                        matches(&path, f)
                    } else {
                        f.ends_with(&format!(".{path}"))
                    }
                });
                if !found
                    && path
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || "._*".contains(c))
                {
                    unknown.push(format!("{doc}: `{path}`"));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "the docs name spec fields that do not exist:\n{}",
        unknown.join("\n")
    );
}
