//! The homelab spec: YAML in, a valid `Model` out.
//!
//! ```text
//! spec text ─ load::parse ─▶ RawSpec ─ resolve::resolve ─▶ Model
//! ```
//! `load` checks shape (types, unknown fields, duplicate keys, parse limits);
//! `resolve` checks meaning and derives every shared value. Both report
//! `Diagnostics` that name file, line, column and field path.

pub mod defaults;
pub mod diag;
pub mod load;
pub mod model;
pub mod raw;
pub mod resolve;
pub mod schema;
pub mod values;

pub use diag::{Diagnostic, Diagnostics};
pub use model::Model;

/// Load and resolve a spec from its text. `file` names it in diagnostics and in the
/// header of every generated file.
pub fn from_str(file: &str, text: &str) -> Result<Model, Diagnostics> {
    from_str_named(file, file, text)
}

/// Like `from_str`, with separate names: `file` names the spec in diagnostics (as the
/// user spelled it), `spec_name` in generated headers (see `header_name`).
pub fn from_str_named(file: &str, spec_name: &str, text: &str) -> Result<Model, Diagnostics> {
    // The parser stops at the first structural error. An unknown key can be set aside
    // (commented out, so every line keeps its number) to find the errors after it too.
    let mut found = Vec::new();
    let mut text = std::borrow::Cow::Borrowed(text);
    loop {
        match load::parse(file, &text) {
            Ok(raw) => {
                let result = resolve::resolve(file, spec_name, &raw);
                if found.is_empty() {
                    return result;
                }
                if let Err(more) = result {
                    found.extend(more.0);
                }
                break;
            }
            Err(errors) => {
                let next = errors.0.first().and_then(|d| load::set_aside(&text, d));
                found.extend(errors.0);
                match next {
                    Some(next) if found.len() < 50 => text = std::borrow::Cow::Owned(next),
                    _ => break,
                }
            }
        }
    }
    found.sort_by_key(|d| d.line_col.unwrap_or((u64::MAX, 0)));
    Err(Diagnostics(found))
}

/// The spec's name as generated headers show it: only `A-Z a-z 0-9 . _ - + /`, every
/// other character replaced by `_`, at most 100 characters. Safe unescaped in every
/// language the tree holds (shell, HCL, YAML, Markdown comments and strings).
pub fn header_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '/') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if safe.is_empty() {
        "homelab.yaml".to_owned()
    } else {
        safe
    }
}

/// The JSON Schema of the spec, pretty-printed with a trailing newline.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(raw::RawSpec);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
