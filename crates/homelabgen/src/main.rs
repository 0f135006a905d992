//! `homelabgen`: one typed spec in, a complete Proxmox homelab repository out.
//!
//! Exit codes: 0 ok, 1 drift (`diff` found changes), 2 user or I/O error.

mod sync;

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "homelabgen",
    version,
    about = "Render a Proxmox homelab (Packer, OpenTofu, Argo CD) from one typed spec"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct SpecArg {
    /// The homelab spec.
    #[arg(long, default_value = "spec/homelab.yaml")]
    spec: Utf8PathBuf,
}

#[derive(clap::Args)]
struct OutArg {
    /// The generated tree's directory.
    #[arg(long, default_value = "generated")]
    out: Utf8PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Render the spec into the output directory (only changed files are written).
    Render {
        #[command(flatten)]
        spec: SpecArg,
        #[command(flatten)]
        out: OutArg,
    },
    /// Show what `render` would change, as a unified diff; exit 1 if anything would.
    Diff {
        #[command(flatten)]
        spec: SpecArg,
        #[command(flatten)]
        out: OutArg,
    },
    /// Validate the spec only.
    Check {
        #[command(flatten)]
        spec: SpecArg,
    },
    /// Print the JSON Schema of the spec.
    Schema,
}

/// An error already printed as spec diagnostics.
#[derive(Debug)]
struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the spec has errors")
    }
}

impl std::error::Error for Reported {}

/// How messages name the spec: as the user spelled it, control characters escaped.
fn spec_display_name(path: &Utf8Path) -> String {
    let text = path.as_str();
    homelabgen_spec::diag::terminal_safe(text.strip_prefix("./").unwrap_or(text))
}

/// An absolute, lexically normalised form of `path` (no `.`, `..` or `//`).
fn normalise(path: &std::path::Path) -> std::path::PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = std::path::PathBuf::new();
    for component in absolute.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// How generated headers name the spec, independent of how its path is spelled: its
/// path relative to the directory that holds the output directory (the repository),
/// if it lies there; otherwise its file name; for a pipe or device, `homelab.yaml`.
/// `homelabgen_spec::header_name` then keeps only characters safe in every language.
fn spec_header_name(spec: &Utf8Path, out: &Utf8Path) -> String {
    let Ok(spec_real) = std::fs::canonicalize(spec) else {
        return "homelab.yaml".to_owned();
    };
    if !std::fs::metadata(&spec_real).is_ok_and(|m| m.is_file()) {
        return "homelab.yaml".to_owned();
    }
    let out_abs = normalise(out.as_std_path());
    let base = out_abs.parent().unwrap_or(std::path::Path::new("/"));
    let base_real = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let name = match spec_real.strip_prefix(&base_real) {
        Ok(rel) if base_real.parent().is_some() => rel.to_string_lossy().into_owned(),
        _ => spec_real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    homelabgen_spec::header_name(&name)
}

/// Read the spec: a regular file's size is checked before reading, and at most the
/// limit + 1 bytes are read from anything (a pipe, `/dev/zero`).
fn read_spec(spec: &Utf8Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let limit = homelabgen_spec::load::MAX_SPEC_BYTES as u64;
    let file = std::fs::File::open(spec)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(std::io::Error::other(format!(
            "it is {} bytes; the limit is {limit}",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "it is more than {limit} bytes, the limit"
        )));
    }
    Ok(bytes)
}

fn load(spec: &Utf8Path, header_name: &str) -> Result<homelabgen_spec::Model> {
    let name = spec_display_name(spec);
    if spec.as_str().is_empty() {
        eprintln!("error: the spec path is empty (`--spec ''`)\n  help: pass the spec with --spec PATH (default spec/homelab.yaml)");
        return Err(Reported.into());
    }
    let text = match read_spec(spec) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            eprintln!("error: {name}: the file is not UTF-8 text\n  help: save the spec as UTF-8");
            Reported
        })?,
        Err(err) => {
            eprintln!("error: {name}: cannot read the spec: {err}\n  help: pass the spec with --spec PATH (default spec/homelab.yaml)");
            return Err(Reported.into());
        }
    };
    homelabgen_spec::from_str_named(
        spec.as_str().strip_prefix("./").unwrap_or(spec.as_str()),
        header_name,
        &text,
    )
    .map_err(|diagnostics| {
        eprintln!("{diagnostics}");
        let n = diagnostics.0.len();
        eprintln!("{n} error{} in {name}", if n == 1 { "" } else { "s" });
        Reported.into()
    })
}

/// Render the spec and plan the sync of `out` (opened and locked: exclusively for a
/// render, shared for a diff).
fn prepare(
    spec: &Utf8Path,
    out: &Utf8Path,
    render: bool,
) -> Result<(homelabgen_render::Tree, sync::OutDir, sync::Plan)> {
    if out.as_str().is_empty() {
        bail!("the output directory is empty (`--out ''`)\n  help: name a directory, e.g. `--out generated`");
    }
    let model = load(spec, &spec_header_name(spec, out))?;
    let tree = homelabgen_render::render(&model);
    let mut dir = sync::open(out, render)?;
    let plan = sync::plan(&tree, &mut dir)?;
    Ok((tree, dir, plan))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { spec } => {
            let model = load(&spec.spec, "homelab.yaml")?;
            let vms: usize = model.environments.iter().map(|e| e.vms.len()).sum();
            println!(
                "{}: ok ({} image{}, {} environment{}, {} VM{})",
                spec_display_name(&spec.spec),
                model.images.len(),
                plural(model.images.len()),
                model.environments.len(),
                plural(model.environments.len()),
                vms,
                plural(vms)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            print!("{}", homelabgen_spec::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { spec, out } => {
            let (tree, mut dir, plan) = prepare(&spec.spec, &out.out, true)?;
            sync::apply(&tree, &mut dir, &plan)?;
            let created = plan.count(|c| matches!(c, sync::Change::Create));
            let removed = plan.count(|c| matches!(c, sync::Change::Remove { .. }));
            let updated = plan.changes.len() - created - removed;
            for (rel, why) in &plan.kept {
                eprintln!(
                    "warning: kept {}: no longer rendered, but {why}; it is no longer tracked",
                    out.out.join(rel)
                );
            }
            if !plan.stale_temps.is_empty() {
                eprintln!(
                    "note: removed {} temp file{} left by an interrupted render",
                    plan.stale_temps.len(),
                    plural(plan.stale_temps.len())
                );
            }
            println!(
                "rendered {} files into {}: {created} created, {updated} updated, {removed} removed, {} unchanged",
                tree.len(),
                out.out,
                plan.unchanged
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { spec, out } => {
            let (tree, _dir, plan) = prepare(&spec.spec, &out.out, false)?;
            if plan.is_clean() {
                eprintln!(
                    "{} is up to date with {}",
                    out.out,
                    spec_display_name(&spec.spec)
                );
                return Ok(ExitCode::SUCCESS);
            }
            print!("{}", sync::unified_diff(&plan, &tree, &out.out));
            let n =
                plan.changes.len() + plan.unowned.len() + plan.kept.len() + plan.stale_temps.len();
            eprintln!(
                "{} differs from {}: {} file{} would change; run `homelabgen render`",
                out.out,
                spec_display_name(&spec.spec),
                n.max(1),
                plural(n.max(1))
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if err.downcast_ref::<Reported>().is_none() {
                eprintln!(
                    "error: {}",
                    homelabgen_spec::diag::terminal_safe(&format!("{err:#}"))
                );
            }
            ExitCode::from(2)
        }
    }
}
