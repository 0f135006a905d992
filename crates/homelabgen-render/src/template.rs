//! Every generated file that is not Kubernetes YAML comes from a minijinja template under
//! `templates/`, found by the file's path alone: `generated/X` is rendered from
//! `templates/X.j2`, with an environment's name written `{env}` and an image's directory
//! left out (`packer/<image>/build.pkr.hcl` ← `templates/packer/build.pkr.hcl.j2`).
//! The whole tree is taken into the binary with `include_dir!`.
//!
//! HCL templates (`.tf`, `.hcl`, `.tfvars.example`) are written as `tofu fmt` / `packer
//! fmt` print them and use delimiters that collide with neither HCL's `${}`/`%{}` nor
//! Packer's `{{ }}`: `[= value =]`, `[% tag %]`, `[# comment #]`. Every spec value enters
//! HCL through a filter backed by hcl-rs, so it can never become HCL syntax:
//!
//! | filter            | gives                                                        |
//! |-------------------|--------------------------------------------------------------|
//! | `v \| hcl`         | an HCL literal: `"quoted"` (`${`→`$${`, `%{`→`%%{`, quotes, backslashes, control characters escaped), `42`, `true`, `null`, `["a", "b"]` |
//! | `v \| hcl_text`    | the inside of a quoted string, escaped the same way, for text around `${...}` |
//! | `s \| ljust(n)`    | `s` padded with spaces to `n` characters (aligning `=` after spec-named keys) |
//!
//! Other templates (shell, kickstart, Markdown) keep minijinja's `{{ }}` syntax.
//! Undefined variables are errors in both, never empty strings. Mind Jinja's comment
//! opener in shell templates: bash's `${#var}` must be written `{{ '${#' }}var}`.

use crate::Tree;
use ::hcl::expr::Expression;
use include_dir::{include_dir, Dir};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde::Serialize;
use std::cell::RefCell;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Render `templates/<template>.j2` into the tree at `out`. `.sh` files are executable.
pub fn add(tree: &mut Tree, out: String, template: &str, context: impl Serialize) {
    let text = render(template, context);
    if out.ends_with(".sh") {
        tree.add_script(out, text);
    } else {
        tree.add(out, text);
    }
}

/// A template context converted once, for a directory whose templates share it: handing
/// the returned `Value` to `add`/`render` costs nothing, where a struct is converted anew
/// for every file.
pub fn context(context: impl Serialize) -> Value {
    Value::from(minijinja::value::Serde(context))
}

thread_local! {
    /// The two environments (HCL delimiters, Jinja delimiters), each template compiled
    /// on first use and kept for the rest of the process.
    static ENVIRONMENTS: RefCell<[Environment<'static>; 2]> =
        RefCell::new([environment(true), environment(false)]);
}

fn environment(hcl_syntax: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let mut syntax = SyntaxConfig::builder();
    if hcl_syntax {
        syntax
            .variable_delimiters("[=", "=]")
            .block_delimiters("[%", "%]")
            .comment_delimiters("[#", "#]");
    }
    // Block tags take their own line; a file keeps the newline it ends with.
    syntax
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true);
    match syntax.build() {
        Ok(syntax) => env.set_syntax(syntax),
        Err(err) => panic!("template syntax: {err}"),
    }
    env.add_filter("hcl", hcl);
    env.add_filter("hcl_text", hcl_text);
    env.add_filter("ljust", |s: String, width: usize| format!("{s:width$}"));
    env
}

/// Render `templates/<template>.j2` with `context`.
///
/// A template error is a bug in the renderer, not in user input: every template is
/// rendered from the test specs by the golden tests, so it cannot ship.
pub fn render(template: &str, context: impl Serialize) -> String {
    let name = format!("{template}.j2");
    let Some(file) = TEMPLATES.get_file(&name) else {
        panic!("no template templates/{name}");
    };
    let Some(source) = file.contents_utf8() else {
        panic!("template templates/{name} is not UTF-8");
    };
    // The file's own path inside `templates/` is 'static, so the environment can keep it.
    let key: &'static str = file.path().to_str().unwrap_or_default();
    let which = usize::from(!is_hcl(template));
    ENVIRONMENTS.with(|environments| {
        if environments.borrow()[which].get_template(key).is_err() {
            if let Err(err) = environments.borrow_mut()[which].add_template(key, source) {
                panic!("template {name} does not compile: {err:#}");
            }
        }
        let environments = environments.borrow();
        let result = environments[which]
            .get_template(key)
            .and_then(|t| t.render(minijinja::value::Serde(&context)));
        match result {
            Ok(text) => text,
            Err(err) => panic!("template {name} failed to render: {err:#}"),
        }
    })
}

fn is_hcl(template: &str) -> bool {
    template.ends_with(".tf") || template.ends_with(".hcl") || template.ends_with(".tfvars.example")
}

/// `| hcl`: the value as an HCL literal (string, number, bool, null, or a list of them on
/// one line, as `tofu fmt` keeps it). Objects are laid out by the templates themselves.
fn hcl(value: Value) -> Result<String, Error> {
    let invalid = |what: String| Error::new(ErrorKind::InvalidOperation, format!("hcl: {what}"));
    match value.kind() {
        ValueKind::String => Ok(format!(
            "\"{}\"",
            escape(value.as_str().unwrap_or_default())
        )),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Result<Vec<String>, Error> = value.try_iter()?.map(hcl).collect();
            Ok(format!("[{}]", items?.join(", ")))
        }
        ValueKind::None => Ok("null".to_owned()),
        ValueKind::Bool => Ok(value.is_true().to_string()),
        ValueKind::Number => {
            let number = match (value.as_i64(), u64::try_from(value.clone())) {
                (Some(n), _) => ::hcl::Number::from(n),
                (None, Ok(n)) => ::hcl::Number::from(n),
                (None, Err(_)) => f64::try_from(value.clone())
                    .ok()
                    .and_then(::hcl::Number::from_f64)
                    .ok_or_else(|| invalid(format!("{value} is not a finite number")))?,
            };
            ::hcl::format::to_string(&Expression::Number(number))
                .map_err(|e| invalid(e.to_string()))
        }
        kind => Err(invalid(format!("cannot write a {kind} value"))),
    }
}

/// `| hcl_text`: a string escaped for the inside of a quoted HCL string.
fn hcl_text(value: String) -> String {
    escape(&value)
}

/// The inside of a quoted HCL string that reads back as exactly `text`. hcl-rs escapes
/// quotes, backslashes and control characters; the template markers are doubled here
/// (`${` → `$${`, `%{` → `%%{`) because hcl-rs's own marker escaping skips the character
/// after every `$`/`%` and so turns the text `$${` into `${`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    // Most values (names, addresses, sizes) are printable ASCII with nothing to escape:
    // hcl-rs would return them unchanged.
    if !needs_escape(text) {
        out.push_str(text);
        return out;
    }
    let mut rest = text;
    loop {
        let marker = [rest.find("${"), rest.find("%{")]
            .into_iter()
            .flatten()
            .min();
        let (piece, tail) = match marker {
            Some(at) => (&rest[..at], Some(&rest[at..])),
            None => (rest, None),
        };
        // A piece without markers: hcl-rs escapes it without touching `$` or `%`.
        let mut quoted = Vec::new();
        let mut formatter = ::hcl::format::Formatter::new(&mut quoted);
        if ::hcl::format::Format::format(&Expression::String(piece.to_owned()), &mut formatter)
            .is_ok()
        {
            let quoted = String::from_utf8_lossy(&quoted);
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
        match tail {
            Some(tail) => {
                out.push_str(&tail[..1]);
                out.push_str(&tail[..2]);
                rest = &tail[2..];
            }
            None => return out,
        }
    }
}

/// Whether `text` has anything `escape` changes: a quote, a backslash, a byte outside
/// printable ASCII, or a template marker.
fn needs_escape(text: &str) -> bool {
    text.bytes()
        .any(|b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\')
        || text.contains("${")
        || text.contains("%{")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(value: Value) -> String {
        hcl(value).unwrap()
    }

    #[test]
    fn hcl_filter_escapes_every_marker_and_control_character() {
        let hostile = "a\"b\\c${var.x}%{ if true }\n\t\u{1b}$${ok}";
        let out = filter(Value::from(hostile));
        assert_eq!(out, r#""a\"b\\c$${var.x}%%{ if true }\n\t\u001b$$${ok}""#);
        assert_eq!(hcl_text(hostile.to_owned()), out[1..out.len() - 1]);
        // hcl-rs reads each back as the same text: nothing became an interpolation.
        for text in [
            hostile,
            "$${x}",
            "$$${x}",
            "%%{x}",
            "$",
            "%",
            "${",
            "a$",
            "}${}%{}",
            "\\${x}",
            "${${x}}",
            "\u{7f}\u{0}é€",
        ] {
            let out = filter(Value::from(text));
            let body: ::hcl::Body = format!("x = {out}\n").parse().unwrap();
            let back: ::hcl::Value = ::hcl::from_body(body).unwrap();
            assert_eq!(
                back.as_object().unwrap()["x"],
                ::hcl::Value::from(text),
                "{text:?} written as {out}"
            );
        }
    }

    #[test]
    fn text_without_anything_to_escape_is_what_hcl_rs_writes() {
        let printable: String = (0x20u8..0x7f).map(char::from).collect();
        let mut texts: Vec<String> = (0x20u8..0x7f).map(|b| char::from(b).to_string()).collect();
        texts.extend([
            printable,
            "$".into(),
            "%".into(),
            "a$b%c{d}".into(),
            String::new(),
        ]);
        for text in texts {
            let mut quoted = Vec::new();
            let mut formatter = ::hcl::format::Formatter::new(&mut quoted);
            ::hcl::format::Format::format(&Expression::String(text.clone()), &mut formatter)
                .unwrap();
            let quoted = String::from_utf8(quoted).unwrap();
            let by_hcl_rs = &quoted[1..quoted.len() - 1];
            if !needs_escape(&text) {
                assert_eq!(escape(&text), by_hcl_rs, "{text:?}");
            }
            assert_eq!(needs_escape(&text), by_hcl_rs != text, "{text:?}");
        }
    }

    #[test]
    fn hcl_filter_writes_literals() {
        assert_eq!(filter(Value::from(42u64)), "42");
        assert_eq!(filter(Value::from(true)), "true");
        assert_eq!(filter(Value::from(())), "null");
        assert_eq!(filter(Value::from(vec!["a", "${b}"])), r#"["a", "$${b}"]"#);
        assert_eq!(filter(Value::from(Vec::<String>::new())), "[]");
        assert_eq!(filter(Value::from(1.5)), "1.5");
        assert_eq!(filter(Value::from(u64::MAX)), u64::MAX.to_string());
        let map: std::collections::BTreeMap<&str, &str> = [("a", "b")].into();
        assert!(
            hcl(Value::from(map)).is_err(),
            "objects are the templates' to lay out"
        );
    }

    #[test]
    fn undefined_values_are_errors() {
        assert!(hcl(Value::UNDEFINED).is_err());
        let result = std::panic::catch_unwind(|| render("tofu/modules/proxmox-vm/main.tf", ()));
        assert!(
            result.is_err(),
            "a template with a missing variable rendered"
        );
    }
}
