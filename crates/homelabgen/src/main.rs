//! `homelabgen`: one typed spec in, a complete Proxmox homelab repository out.
//!
//! Exit codes: 0 ok, 1 drift (`diff` found changes), 2 user or I/O error.

mod input;
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

fn load(spec: &Utf8Path, header_name: &str) -> Result<homelabgen_spec::Model> {
    let name = spec_display_name(spec);
    if spec.as_str().is_empty() {
        eprintln!("error: the spec path is empty (`--spec ''`)\n  help: pass the spec with --spec PATH (default spec/homelab.yaml)");
        return Err(Reported.into());
    }
    let text = match input::read_spec(spec) {
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
    // The disk is surveyed (and locked) on a second thread while the spec renders.
    let (tree, dir) = std::thread::scope(|s| {
        let disk = s.spawn(|| -> Result<sync::OutDir> {
            let mut dir = sync::open(out, render, false)?;
            sync::prefetch(&mut dir)?;
            Ok(dir)
        });
        let tree = load(spec, &input::spec_header_name(spec, out))
            .map(|model| homelabgen_render::render(&model));
        let dir = disk
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("internal: the disk survey failed")));
        (tree, dir)
    });
    let tree = tree?;
    let mut dir = dir?;
    if render && !dir.exists() {
        // Created only now that the spec is valid.
        dir = sync::open(out, true, true)?;
    }
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
