//! Text files that are not HCL or Kubernetes YAML (kickstart, shell, cloud-init,
//! Markdown) come from minijinja templates under `templates/`, each named after the
//! file it renders. Undefined variables are errors, never empty strings.
//!
//! Mind Jinja's comment opener in shell templates: bash's `${#var}` must be written
//! `{{ '${#' }}var}` (or avoided).

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Render `source` (a template embedded with `include_str!`) with `context`.
///
/// A template error is a bug in the renderer, not in user input: every template is
/// rendered from the default and test specs by the unit tests, so it cannot ship.
pub fn render(name: &str, source: &str, context: impl Serialize) -> String {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags take their own line; a file keeps the newline it ends with.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    let result = env
        .template_from_named_str(name, source)
        .and_then(|template| template.render(minijinja::value::Serde(&context)));
    match result {
        Ok(text) => text,
        Err(err) => panic!("template {name} failed to render: {err:#}"),
    }
}
