//! HCL output: bodies are built as hcl-rs values (valid by construction), then laid out
//! exactly as `tofu fmt` / `packer fmt` print them.
//!
//! hcl-rs does not align `=` and puts no blank lines between blocks. `format` adds
//! both, following hclwrite's rule: consecutive lines that each hold a complete
//! `key = value` are one alignment group; a blank line, a block line, a closing
//! bracket or an attribute that opens a multi-line value ends the group.

use hcl::{Body, Expression};

/// The header comment, a blank line, then the formatted body.
pub fn file(header: &str, body: &Body) -> String {
    format!("# {header}\n\n{}", format(body))
}

/// Format a body like `tofu fmt` / `packer fmt`.
pub fn format(body: &Body) -> String {
    let mut formatter = hcl::format::Formatter::builder()
        .compact_arrays(true)
        .build_vec();
    // Formatting into memory only fails on a value hcl-rs cannot print, which the
    // builders never produce; the render tests would show an empty file.
    let text = hcl::format::Format::format_string(body, &mut formatter).unwrap_or_default();
    let spaced = space_blocks(&space_for_braces(&indent_object_separators(&text)));
    let mut out = align(&spaced);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// An expression written as HCL source: a reference such as `var.name` or a
/// function call. Only for constant source text in the renderers; user values are
/// always passed as literal strings, never spliced into source.
pub fn expr(source: &'static str) -> Expression {
    match source.parse() {
        Ok(expression) => expression,
        // A typo in a renderer's constant: caught by the render tests of every tree.
        Err(err) => panic!("invalid HCL expression in renderer: {source}: {err}"),
    }
}

/// Whether a line opens a block (`name "label" {` / `name {`), not an attribute.
fn is_block_open(line: &str) -> bool {
    let trimmed = line.trim();
    let mut in_string = false;
    let has_assign = trimmed.chars().any(|c| {
        if c == '"' {
            in_string = !in_string;
        }
        !in_string && c == '='
    });
    // `}, {` (between objects of a list) is not a block either.
    trimmed.ends_with('{')
        && !has_assign
        && trimmed.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// A blank line between top-level blocks, and before a nested block that follows
/// attributes or another block, as people write HCL by hand.
fn space_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut previous: Option<&str> = None;
    for line in text.lines() {
        if let Some(prev) = previous {
            let prev_opens = prev.trim_end().ends_with('{')
                || prev.trim_end().ends_with('[')
                || prev.trim_end().ends_with('(');
            if is_block_open(line) && !prev_opens && !prev.trim().is_empty() {
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
        previous = Some(line);
    }
    out
}

/// hcl-rs prints a list of objects compactly as `[{ ... }, { ... }]`, with the
/// `}, {` separator one level shallower than hclwrite indents it. hclwrite indents a
/// line by the brackets open before it and dedents only a line whose brackets close
/// on balance: `}, {` keeps the contents' level.
fn indent_object_separators(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('}') && net_brackets(trimmed) >= 0 {
            out.push(format!("  {line}"));
        } else {
            out.push(line.to_owned());
        }
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

/// hclwrite puts a space inside the braces of an object `for` expression,
/// `{ for k, v in m : k => v }`; hcl-rs prints `{for k, v in m : k => v}`.
fn space_for_braces(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    // Brace nesting outside strings; the depths whose closing brace ends a `{for`.
    let mut depth = 0usize;
    let mut for_depths: Vec<usize> = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(next) = chars.get(i + 1) {
                        out.push(*next);
                        i += 1;
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' => {
                depth += 1;
                out.push(c);
                let rest: String = chars[i + 1..chars.len().min(i + 5)].iter().collect();
                if rest == "for " {
                    out.push(' ');
                    for_depths.push(depth);
                }
            }
            '}' => {
                if for_depths.last() == Some(&depth) {
                    for_depths.pop();
                    if !out.ends_with(' ') && !out.ends_with('\n') {
                        out.push(' ');
                    }
                }
                depth = depth.saturating_sub(1);
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Net count of opening minus closing brackets outside string literals, with
/// `${`/`%{` counted as openers, as hclwrite counts them. Inside an interpolation the
/// text is an expression again (it may hold strings and brackets of its own); a `{`
/// or `}` inside a string literal (a regex `{0,61}`) is text, not a bracket.
fn net_brackets(rhs: &str) -> i32 {
    #[derive(PartialEq)]
    enum Ctx {
        Str,
        Interp,
        Brace,
    }
    let mut net = 0;
    let mut stack: Vec<Ctx> = Vec::new();
    let mut chars = rhs.chars().peekable();
    while let Some(c) = chars.next() {
        if stack.last() == Some(&Ctx::Str) {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    stack.pop();
                }
                // `$${` and `%%{` are escaped markers: literal text.
                '$' | '%' if chars.peek() == Some(&c) => {
                    chars.next();
                }
                '$' | '%' if chars.peek() == Some(&'{') => {
                    chars.next();
                    net += 1;
                    stack.push(Ctx::Interp);
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => stack.push(Ctx::Str),
            '{' => {
                net += 1;
                stack.push(Ctx::Brace);
            }
            '}' => {
                net -= 1;
                stack.pop();
            }
            '[' | '(' => net += 1,
            ']' | ')' => net -= 1,
            _ => {}
        }
    }
    net
}

/// For a `key = value` line whose value is complete on the line, the length of the
/// lead (indentation and key); `None` for any other line.
fn assign_key_len(line: &str) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    let key_len = if let Some(quoted) = rest.strip_prefix('"') {
        let mut escaped = false;
        let end = quoted.char_indices().find(|&(_, c)| {
            let done = !escaped && c == '"';
            escaped = !escaped && c == '\\';
            done
        })?;
        end.0 + 2
    } else {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))?
    };
    if key_len == 0 {
        return None;
    }
    let after = rest[key_len..].trim_start_matches(' ');
    let rhs = after.strip_prefix('=')?;
    if rhs.starts_with('=') || net_brackets(rhs) != 0 {
        return None;
    }
    Some(indent + rest[..key_len].chars().count())
}

/// Align the `=` of each group of consecutive complete assignments.
fn align(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len() + 64);
    let mut i = 0;
    while i < lines.len() {
        let Some(_) = assign_key_len(lines[i]) else {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        };
        let start = i;
        while i < lines.len() && assign_key_len(lines[i]).is_some() {
            i += 1;
        }
        let width = lines[start..i]
            .iter()
            .filter_map(|l| assign_key_len(l))
            .max()
            .unwrap_or(0);
        for line in &lines[start..i] {
            let lead = assign_key_len(line).unwrap_or(0);
            let byte_lead = line.char_indices().nth(lead).map_or(line.len(), |(b, _)| b);
            let (key, rest) = line.split_at(byte_lead);
            let value = rest
                .trim_start_matches(' ')
                .trim_start_matches('=')
                .trim_start_matches(' ');
            out.push_str(key);
            out.push_str(&" ".repeat(width - lead + 1));
            out.push_str("= ");
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_groups_and_spaces_blocks() {
        let body: Body = r#"
variable "name" {
  type = string
  description = "The name"
}
resource "x" "y" {
  count = 1
  long_name_here = true
  clone {
    vm_id = 5
  }

  tags = {
    a = "b"
    "long-key" = 2
  }
  name = "${var.name}-x"
}
"#
        .parse()
        .unwrap();
        let expected = r#"variable "name" {
  type        = string
  description = "The name"
}

resource "x" "y" {
  count          = 1
  long_name_here = true

  clone {
    vm_id = 5
  }

  tags = {
    a          = "b"
    "long-key" = 2
  }
  name = "${var.name}-x"
}
"#;
        assert_eq!(format(&body), expected);
    }

    #[test]
    fn multi_line_value_breaks_the_group() {
        assert_eq!(assign_key_len("  tags = {"), None);
        assert_eq!(assign_key_len("  name = \"${var.a}\""), Some(6));
        assert_eq!(assign_key_len("  \"a=b\" = 1"), Some(7));
        assert_eq!(assign_key_len("  x == 1"), None);
        assert_eq!(assign_key_len("}"), None);
        // Packer's boot command: Go template braces inside strings are text.
        assert_eq!(
            assign_key_len(r#"  boot = ["{{ .HTTPIP }}:{{ .HTTPPort }}", "x"]"#),
            Some(6)
        );
        assert_eq!(
            assign_key_len(r#"  name = "a-${replace(var.v, "+", "-")}-b""#),
            Some(6)
        );
        assert_eq!(assign_key_len(r#"  lit = "$${not} }""#), Some(5));
    }

    #[test]
    fn braces_inside_strings_are_text() {
        // A regex quantifier in a string must not end the alignment group.
        assert_eq!(
            assign_key_len(r#"    condition = can(regex("^[a-z]{0,61}$", var.name))"#),
            Some(13)
        );
        assert_eq!(net_brackets(r#" "${var.a}-${jsonencode({ a = "}" })}""#), 0);
        assert_eq!(net_brackets(r#" "$${not} %%{this}""#), 0);
    }

    #[test]
    fn object_for_expressions_and_object_lists_like_tofu_fmt() {
        let body: Body = r#"
x = { for k, v in var.m : k => v.id }
y = [{ a = 1, b = "x" }, { a = 2, b = "}" }]
"#
        .parse()
        .unwrap();
        let expected = r#"x = { for k, v in var.m : k => v.id }
y = [{
  a = 1
  b = "x"
  }, {
  a = 2
  b = "}"
}]
"#;
        assert_eq!(format(&body), expected);
    }
}
