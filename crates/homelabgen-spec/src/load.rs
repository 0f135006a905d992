//! YAML text → `RawSpec`, with every failure turned into a located `Diagnostic`.

use crate::diag::{Diagnostic, Diagnostics};
use crate::raw::RawSpec;
use serde_saphyr::{Location, Options};
use std::cell::RefCell;

/// A homelab spec is a few hundred lines. Anything far larger is a mistake or an attack,
/// and is refused before parsing.
pub const MAX_SPEC_BYTES: usize = 1024 * 1024;

/// Parse limits: generous for any real spec, small enough that alias bombs and
/// pathological nesting are refused quickly and in bounded memory.
fn options() -> Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 32;
    budget.max_events = 200_000;
    budget.max_nodes = 100_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_SPEC_BYTES;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = MAX_SPEC_BYTES;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.alias_limits.max_total_replayed_events = 100_000;
    options.strict_booleans = true;
    options
}

/// Parse the spec text. `file` is only used to name the file in diagnostics.
pub fn parse(file: &str, text: &str) -> Result<RawSpec, Diagnostics> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(Diagnostic::new(
            file,
            Location::UNKNOWN,
            "",
            format!(
                "the spec is {} bytes; the limit is {MAX_SPEC_BYTES}",
                text.len()
            ),
        )
        .help("a homelab spec is a few hundred lines: check that this is the right file")
        .into());
    }
    // A valid spec is parsed once, plainly. Only a failing one is parsed again under
    // serde_path_to_error, which records the field path of the failure (at the cost of
    // an owned path segment for every key it passes); the located error itself is
    // passed through unchanged, so line and column survive.
    let first = match serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        <RawSpec as serde::Deserialize>::deserialize(de)
    }) {
        Ok(raw) => return Ok(raw),
        Err(err) => err,
    };
    let path = RefCell::new(String::new());
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize::<_, RawSpec>(de).map_err(|err| {
            *path.borrow_mut() = err.path().to_string();
            err.into_inner()
        })
    });
    // The same parser over the same text fails the same way; should the tracked pass
    // ever succeed, the first error is still reported (without a field path).
    let err = result.err().unwrap_or(first);
    Err(yaml_diagnostic(file, &path.into_inner(), &err).into())
}

/// The spec text with the key an "unknown field" diagnostic points at commented out,
/// with its nested lines, so parsing can go on to later errors. `None` for any other
/// error, or when the key does not start its line (a flow mapping, a list item's first
/// key), where commenting out would change what the rest means.
pub fn set_aside(text: &str, diagnostic: &Diagnostic) -> Option<String> {
    let field = diagnostic
        .message
        .strip_prefix("unknown field `")?
        .strip_suffix('`')?;
    let (line, column) = diagnostic.line_col?;
    let (line, column) = (
        usize::try_from(line).ok()?.checked_sub(1)?,
        usize::try_from(column).ok()?.checked_sub(1)?,
    );
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let key_line = lines.get(line)?.clone();
    let (indent, rest) = key_line.split_at_checked(column)?;
    if !indent.bytes().all(|b| b == b' ') || !rest.starts_with(field) {
        return None;
    }
    lines[line] = format!("#{key_line}");
    for next in lines.iter_mut().skip(line + 1) {
        let depth = next.len() - next.trim_start_matches(' ').len();
        if !next.trim().is_empty() && depth <= column {
            break;
        }
        *next = format!("#{next}");
    }
    Some(lines.join("\n"))
}

/// serde_path_to_error writes `?` for a step it could not follow and `.` for the root;
/// `Spanned` values add a `.value` step the user never wrote.
fn clean_path(path: &str) -> String {
    let path = path.replace(".value[", "[");
    let mut segments: Vec<&str> = path
        .split('.')
        .filter(|segment| *segment != "value")
        .collect();
    if segments.last() == Some(&"?") {
        segments.pop();
    }
    let path = segments.join(".");
    match path.as_str() {
        "" | "?" | "." => String::new(),
        _ => path,
    }
}

const NESTING_HELP: &str =
    "the spec is nested too deeply or expands too many aliases; write it out plainly";

fn yaml_diagnostic(file: &str, path: &str, err: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error as E;
    let at = err.location().unwrap_or(Location::UNKNOWN);
    let err = err.without_snippet();
    let mut path = path.to_owned();
    let (message, help) = match err {
        E::SerdeUnknownField {
            field, expected, ..
        } => (
            format!("unknown field `{field}`"),
            Some(match closest(field, expected) {
                _ if expected.is_empty() => "this mapping takes no fields; remove it".to_owned(),
                Some(near) => format!(
                    "did you mean `{near}`? (this mapping takes: {})",
                    expected.join(", ")
                ),
                None => format!("remove it, or use one of: {}", expected.join(", ")),
            }),
        ),
        E::SerdeMissingField { field, .. } => (
            format!("missing field `{field}`"),
            Some(format!(
                "add `{field}:` here; if it is there, check its indentation: it must line up with the other keys of this mapping"
            )),
        ),
        E::DuplicateMappingKey { key, .. } => {
            let key = key.clone().unwrap_or_default();
            if let Some(parent) = path.strip_suffix('?') {
                path = format!("{parent}{key}");
            }
            (
                format!("duplicate key `{key}`"),
                Some("a key may appear once per mapping: remove or merge the duplicate".to_owned()),
            )
        }
        E::Budget { breach, .. } => (
            format!("the YAML exceeds a safety limit: {}", breach_words(&format!("{breach:?}"))),
            Some(NESTING_HELP.to_owned()),
        ),
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => (
            strip_location(&err.to_string()),
            Some(NESTING_HELP.to_owned()),
        ),
        E::InvalidScalar { ty, .. } => (
            format!("expected {}", type_name(ty)),
            Some(
                "check the value's type against the spec reference (`homelabgen schema`)"
                    .to_owned(),
            ),
        ),
        E::SerdeInvalidType { .. } | E::SerdeInvalidValue { .. } => (
            strip_location(&err.to_string()),
            Some(
                "check the value's type against the spec reference (`homelabgen schema`)"
                    .to_owned(),
            ),
        ),
        E::SerdeUnknownVariant { expected, .. } => (
            strip_location(&err.to_string()),
            Some(format!("use one of: {}", expected.join(", "))),
        ),
        other => {
            let message = strip_location(&other.to_string());
            let limit = message.contains("recursion limit") || message.contains("budget breached");
            let (message, help) = explain_syntax(message);
            let help = if limit {
                Some(NESTING_HELP.to_owned())
            } else if help.is_some() {
                help
            } else if message.starts_with("expected a whole number, found the string") {
                Some("write the number without quotes or a `!!str` tag, e.g. `cores: 4`".to_owned())
            } else {
                None
            };
            (message, help)
        }
    };
    let mut diagnostic = Diagnostic::new(file, at, clean_path(&path), message);
    diagnostic.help = help;
    diagnostic
}

/// A budget breach (`Nodes { nodes: 100001 }`) in words: `too many nodes (100001)`.
fn breach_words(debug: &str) -> String {
    let kind = debug.split([' ', '{', '(']).next().unwrap_or_default();
    let mut words = String::new();
    for c in kind.chars() {
        if c.is_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    let number: String = debug
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    if number.is_empty() {
        format!("too many {words}")
    } else {
        format!("too many {words} ({number})")
    }
}

/// The closest of `expected` to a misspelt `field`, if it is close enough to be a typo.
fn closest<'a>(field: &str, expected: &[&'a str]) -> Option<&'a str> {
    // Words people use for a field under another name.
    const SYNONYMS: &[(&str, &str)] = &[
        ("ram", "memory"),
        ("mem", "memory"),
        ("cpu", "cores"),
        ("cpus", "cores"),
        ("vcpus", "cores"),
        ("size", "disk"),
        ("address", "ip"),
        ("ip_address", "ip"),
    ];
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == field) {
        if let Some(e) = expected.iter().find(|e| *e == to) {
            return Some(e);
        }
    }
    expected
        .iter()
        .map(|e| (strsim::damerau_levenshtein(field, e), *e))
        .filter(|(d, e)| {
            let allowed = match e.len() {
                0..=4 => 1,
                5..=8 => 2,
                n => n / 4,
            };
            *d <= allowed
        })
        .min()
        .map(|(_, e)| e)
}

/// Parser messages in the user's words, with a hint; others pass through.
fn explain_syntax(message: String) -> (String, Option<String>) {
    if message.contains("expected string scalar") || message.contains("expected a scalar") {
        return (
            "expected a single value here, found a list, a mapping or an unclosed `[`/`{`".to_owned(),
            Some("write one value; quote it if it starts with `[`, `{`, `*`, `&`, `!` or contains `: ` or ` #`".to_owned()),
        );
    }
    if message.contains("comment intercepting the multiline text") {
        return (
            "a comment (`#`) inside a value that spans several lines".to_owned(),
            Some("move the comment above the key, or quote the whole value".to_owned()),
        );
    }
    if message.contains("did not find expected key") {
        return (
            "this line is not a `key: value` entry of the mapping above".to_owned(),
            Some("check its indentation against the keys above it; a value continued on the next line must be indented further, with no comment in between".to_owned()),
        );
    }
    if message.contains("did not find expected") || message.contains("unclosed") {
        return (
            message,
            Some("a bracket or quote is not closed: close it, or quote the value".to_owned()),
        );
    }
    (message, None)
}

/// serde-saphyr appends "at line L, column C" (and sometimes more lines); the
/// diagnostic shows the location itself, so keep only the message.
fn strip_location(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or_default();
    let cut = first_line.find(" at line ").unwrap_or(first_line.len());
    first_line[..cut].to_owned()
}

fn type_name(ty: &str) -> &str {
    match ty {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" => "true or false",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_breaches_read_as_words() {
        assert_eq!(
            breach_words("Nodes { nodes: 100001 }"),
            "too many nodes (100001)"
        );
        assert_eq!(breach_words("MaxDepth"), "too many max depth");
    }

    #[test]
    fn typos_and_synonyms_suggest_a_field() {
        let fields = ["endpoint", "node", "storage", "bridge"];
        assert_eq!(closest("storag", &fields), Some("storage"));
        assert_eq!(closest("brige", &fields), Some("bridge"));
        assert_eq!(closest("zzz", &fields), None);
        assert_eq!(closest("ram", &["cores", "memory"]), Some("memory"));
    }
}
