//! `values.yaml` of a Helm Application: the spec's values serialized as they are, then
//! commented. Comments are added after serialization, line by line, above the key they
//! explain (found by its dotted path); notes about keys the values do not set go to the
//! top. Nothing is templated, so the file always parses back to exactly the spec's values.
//!
//! Known charts get notes naming what the user must still do (`TODO:`), from
//! [`super::charts`], where everything known about a specific chart lives.

use super::Section;
use homelabgen_spec::model::{HelmApp, Kubernetes, Model};
use serde_json::Value;

/// A comment above one key of the values, found by its dotted path
/// (`phpipamWeb.service.type`): the first of `paths` the values set; else at the top of
/// the file when `top_if_missing`, else nowhere.
#[derive(Debug, Clone)]
pub struct Note {
    pub paths: Vec<String>,
    pub lines: Vec<String>,
    pub top_if_missing: bool,
}

impl Note {
    pub(crate) fn new(paths: &[&str], lines: Vec<String>, top_if_missing: bool) -> Self {
        Self {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            lines,
            top_if_missing,
        }
    }
}

pub fn values_yaml(
    header: &str,
    model: &Model,
    k8s: &Kubernetes,
    section: Section,
    app: &HelmApp,
) -> String {
    let mut intro = vec![
        format!(
            "Helm values of chart {} {} ({}),",
            app.chart, app.chart_version, app.chart_repo_url
        ),
        "read by Argo CD from git (`$values/...` in application.yaml).".to_owned(),
        format!(
            "They are the spec's kubernetes.{}[name={}].values: change them there, not here.",
            section.dir(),
            app.name
        ),
    ];
    let (top, notes) = super::charts::notes(model, k8s, app);
    if !top.is_empty() {
        intro.push(String::new());
        intro.extend(top);
    }
    let body = if app.values.is_empty() {
        "{}\n".to_owned()
    } else {
        crate::yaml::to_string(&app.values)
    };
    commented(header, &intro, &body, &notes)
}

/// Put `notes` above the keys they name in `body` (YAML as `crate::yaml` writes it:
/// block style, two-space indent, compact lists); the rest after `intro` at the top.
pub fn commented(header: &str, intro: &[String], body: &str, notes: &[Note]) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let keys = key_paths(&lines);
    // Line index each note goes above, if any.
    let targets: Vec<Option<usize>> = notes
        .iter()
        .map(|note| {
            note.paths.iter().find_map(|path| {
                keys.iter()
                    .position(|k| k.as_deref() == Some(path.as_str()))
            })
        })
        .collect();

    let mut out = format!("# {header}\n");
    for line in intro {
        out.push_str(&comment_line("", line));
    }
    for (note, target) in notes.iter().zip(&targets) {
        if target.is_none() && note.top_if_missing {
            for line in &note.lines {
                out.push_str(&comment_line("", line));
            }
        }
    }
    for (index, line) in lines.iter().enumerate() {
        let pad = " ".repeat(line.len() - line.trim_start().len());
        for (note, target) in notes.iter().zip(&targets) {
            if *target == Some(index) {
                for text in &note.lines {
                    out.push_str(&comment_line(&pad, text));
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The dotted key path each line starts, `None` for lines that start none (list items
/// and keys inside them, block scalar text).
fn key_paths(lines: &[&str]) -> Vec<Option<String>> {
    // (indent, key) of the enclosing keys; "[]" marks a list item.
    let mut stack: Vec<(usize, String)> = Vec::new();
    // Indent of a block scalar's key while inside its text.
    let mut block_scalar: Option<usize> = None;
    let mut paths = Vec::with_capacity(lines.len());
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        let content = line.trim_start();
        if let Some(key_indent) = block_scalar {
            if content.is_empty() || indent > key_indent {
                paths.push(None);
                continue;
            }
            block_scalar = None;
        }
        let mut key_indent = indent;
        let mut rest = content;
        if let Some(item) = content
            .strip_prefix("- ")
            .or((content == "-").then_some(""))
        {
            while stack
                .last()
                .is_some_and(|(i, k)| *i > indent || (*i == indent && k == "[]"))
            {
                stack.pop();
            }
            stack.push((indent, "[]".to_owned()));
            key_indent = indent + 2;
            rest = item;
        }
        let Some((key, value)) = split_key(rest) else {
            paths.push(None);
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= key_indent) {
            stack.pop();
        }
        stack.push((key_indent, key.to_owned()));
        if is_block_scalar_indicator(value) {
            block_scalar = Some(key_indent);
        }
        let in_list = stack.iter().any(|(_, k)| k == "[]");
        paths.push((!in_list).then(|| {
            stack
                .iter()
                .map(|(_, k)| k.as_str())
                .collect::<Vec<_>>()
                .join(".")
        }));
    }
    paths
}

/// One comment line, with its newline.
fn comment_line(pad: &str, text: &str) -> String {
    if text.is_empty() {
        format!("{pad}#\n")
    } else {
        format!("{pad}# {text}\n")
    }
}

/// `key: value` or `key:` → (key, value). Quoted keys and flow content are not keys
/// a note can name; they are returned as such and never match a plain path.
fn split_key(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('#') || s.is_empty() {
        return None;
    }
    if let Some(quote) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = s[1..].find(quote)? + 1;
        let after = &s[end + 1..];
        let value = after.strip_prefix(':')?;
        return Some((&s[..=end], value.trim_start()));
    }
    if s.starts_with(['{', '[']) {
        return None;
    }
    let mut search = 0;
    while let Some(pos) = s[search..].find(':') {
        let at = search + pos;
        let after = &s[at + 1..];
        if after.is_empty() || after.starts_with(' ') {
            return Some((&s[..at], after.trim_start()));
        }
        search = at + 1;
    }
    None
}

fn is_block_scalar_indicator(value: &str) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some('|' | '>')) && chars.all(|c| matches!(c, '-' | '+' | '1'..='9'))
}

pub(crate) fn lookup<'a>(
    values: &'a std::collections::BTreeMap<String, Value>,
    path: &[&str],
) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(values.get(*first)?, |value, key| value.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(paths: &[&str], text: &str, top: bool) -> Note {
        Note::new(paths, vec![text.to_owned()], top)
    }

    #[test]
    fn key_paths_follow_maps_and_skip_lists_and_block_text() {
        let body = "a:\n  b: 1\n  list:\n  - x: 1\n    y: 2\n  - plain\n  text: |-\n    c: not a key\n    d:\n  after: 2\n'q.k': 3\ne: {}\n";
        let lines: Vec<&str> = body.lines().collect();
        let paths = key_paths(&lines);
        let expected = [
            Some("a"),
            Some("a.b"),
            Some("a.list"),
            None,
            None,
            None,
            Some("a.text"),
            None,
            None,
            Some("a.after"),
            Some("'q.k'"),
            Some("e"),
        ];
        assert_eq!(paths, expected.map(|p| p.map(str::to_owned)));
    }

    #[test]
    fn notes_go_above_their_key_or_to_the_top() {
        let body = "a:\n  b: 1\nc: 2\n";
        let notes = [
            note(&["a.b"], "on b", false),
            note(&["x.y", "c"], "falls back to c", false),
            note(&["missing"], "at the top", true),
            note(&["gone"], "dropped", false),
        ];
        let out = commented("HEADER", &["intro".to_owned(), String::new()], body, &notes);
        assert_eq!(
            out,
            "# HEADER\n# intro\n#\n# at the top\na:\n  # on b\n  b: 1\n# falls back to c\nc: 2\n"
        );
    }
}
