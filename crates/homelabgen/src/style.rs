//! Colour on a terminal only: `--color auto` (the default) colours when the stream is a
//! terminal and `NO_COLOR` is unset or empty (<https://no-color.org>); `always` and
//! `never` decide alone.

use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    Auto,
    Always,
    Never,
}

/// Separate decisions for stdout and stderr: one may be a pipe, the other a terminal.
pub struct Style {
    out: bool,
    err: bool,
}

impl Style {
    pub fn new(when: When) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match when {
            When::Always => true,
            When::Never => false,
            When::Auto => tty && !no_color,
        };
        Style {
            out: decide(std::io::stdout().is_terminal()),
            err: decide(std::io::stderr().is_terminal()),
        }
    }

    fn paint(on: bool, code: &str, text: &str) -> String {
        if on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// stdout: a file created.
    pub fn added(&self, text: &str) -> String {
        Self::paint(self.out, "32", text)
    }
    /// stdout: a file removed.
    pub fn removed(&self, text: &str) -> String {
        Self::paint(self.out, "31", text)
    }
    /// stdout: a file updated.
    pub fn changed(&self, text: &str) -> String {
        Self::paint(self.out, "33", text)
    }
    /// stdout: success.
    pub fn ok(&self, text: &str) -> String {
        Self::paint(self.out, "1;32", text)
    }
    /// stderr: a warning or error label.
    pub fn warning(&self, text: &str) -> String {
        Self::paint(self.err, "1;33", text)
    }

    /// stdout: a unified diff with `+`, `-` and `@@` lines coloured.
    pub fn diff(&self, text: &str) -> String {
        if !self.out {
            return text.to_owned();
        }
        text.split_inclusive('\n')
            .map(|line| {
                let code = if line.starts_with("+++") || line.starts_with("---") {
                    "1"
                } else if line.starts_with('+') {
                    "32"
                } else if line.starts_with('-') {
                    "31"
                } else if line.starts_with("@@") {
                    "36"
                } else {
                    return line.to_owned();
                };
                let (body, nl) = match line.strip_suffix('\n') {
                    Some(body) => (body, "\n"),
                    None => (line, ""),
                };
                format!("\x1b[{code}m{body}\x1b[0m{nl}")
            })
            .collect()
    }
}
