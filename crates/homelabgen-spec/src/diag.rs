//! Diagnostics: what is wrong with the spec, where, and how to fix it.

use serde_saphyr::Location;
use std::fmt;

/// One problem in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The spec file as the user named it.
    pub file: String,
    /// 1-based line and column; `None` when the value came from a default.
    pub line_col: Option<(u64, u64)>,
    /// Field path, e.g. `environments[0].vms[1].ip`; empty for the document itself.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        file: &str,
        at: Location,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let line_col = (at != Location::UNKNOWN && at.line() > 0).then(|| (at.line(), at.column()));
        Self {
            file: file.to_owned(),
            line_col,
            path: path.into(),
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A value quoted in a message is cut to this many characters.
const MAX_QUOTED_CHARS: usize = 128;
/// A whole message is cut to this many characters.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Text from the spec or a path, made safe to print on a terminal: every control
/// character except a newline is escaped (`\u{1b}`), a `` `value` `` quoted in the text
/// is cut after 128 characters and the whole text after 1000.
pub fn terminal_safe(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_CHARS + 64));
    let mut quoted: Option<usize> = None;
    let mut total = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if total >= MAX_MESSAGE_CHARS {
            let rest = chars.count() + 1;
            out.push_str(&format!("… ({rest} more characters)"));
            break;
        }
        if c == '`' {
            quoted = match quoted {
                Some(_) => None,
                None => Some(0),
            };
        } else if let Some(n) = quoted.as_mut() {
            *n += 1;
            if *n > MAX_QUOTED_CHARS {
                // Skip to the closing backtick, counting what was left out.
                let mut skipped = 1;
                while chars.peek().is_some_and(|c| *c != '`') {
                    chars.next();
                    skipped += 1;
                }
                out.push_str(&format!("… ({skipped} more characters)"));
                continue;
            }
        }
        if c.is_control() && !(keep_newlines && c == '\n') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        total += 1;
    }
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", escape(&self.file, false))?;
        if let Some((line, column)) = self.line_col {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", escape(&self.path, false))?;
        }
        f.write_str(&escape(&self.message, false))?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {}", escape(help, true))?;
        }
        Ok(())
    }
}

/// Every problem found in one spec, in the order they appear in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}
