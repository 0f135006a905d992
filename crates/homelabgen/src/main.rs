//! `homelabgen`: one typed spec in, a complete Proxmox homelab repository out.
//!
//! Exit codes: 0 ok, 1 drift (`diff` found changes), 2 user or I/O error.

mod doctor;
mod input;
mod lan_probe;
mod placeholders;
mod render_cache;
mod schema_md;
mod state_guard;
mod style;
mod sync;

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use clap::{CommandFactory, Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use style::Style;

#[derive(Parser)]
#[command(
    name = "homelabgen",
    version,
    long_version = long_version(),
    about = "Render a Proxmox homelab (Packer, OpenTofu, Argo CD) from one typed spec"
)]
struct Cli {
    /// Colour: `auto` (on a terminal, unless NO_COLOR is set), `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = style::When::Auto)]
    color: style::When,
    #[command(subcommand)]
    command: Command,
}

/// `--version`: the program's version and the upstream versions it pins by default.
fn long_version() -> &'static str {
    use homelabgen_spec::defaults as d;
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{}\npinned defaults (a spec's `versions:` section overrides them):\n  \
             AlmaLinux {}\n  k3s {}\n  bpg/proxmox provider {}\n  OpenTofu >= {}\n  \
             packer-plugin-proxmox {}\n  packer-plugin-qemu {}\n  Argo CD {}\n  MetalLB chart {}",
            env!("CARGO_PKG_VERSION"),
            d::ALMALINUX,
            d::K3S,
            d::PROXMOX_PROVIDER,
            d::OPENTOFU,
            d::PACKER_PROXMOX_PLUGIN,
            d::PACKER_QEMU_PLUGIN,
            d::ARGOCD,
            d::METALLB
        )
    })
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

/// The step `homelabgen doctor --for` prepares.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DoctorFor {
    /// `make packer SOURCE=proxmox-iso`.
    Packer,
    /// `make tf-apply`.
    Tofu,
    /// `make up`: as `tofu`, but a missing template is a warning (`make up` builds it).
    Up,
}

/// `homelabgen doctor --for packer --source`: where the build runs (`make packer SOURCE=`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DoctorSource {
    /// Built on Proxmox through the API.
    ProxmoxIso,
    /// Built locally, its disk uploaded over SSH (scripts/upload-to-proxmox.sh).
    Qemu,
}

#[derive(Subcommand)]
enum Command {
    /// Render the spec into the output directory (only changed files are written).
    Render {
        #[command(flatten)]
        spec: SpecArg,
        #[command(flatten)]
        out: OutArg,
        /// Print nothing but errors (no list of created, updated and removed files).
        #[arg(long, short)]
        quiet: bool,
        /// Drop an environment removed from the spec even though its OpenTofu state
        /// still holds resources (its VMs stay running, unmanaged). Without it, render
        /// refuses (exit 2): run `make tf-destroy ENV=...` first.
        #[arg(long)]
        force_drop_env: bool,
    },
    /// Show what `render` would change, as a unified diff; exit 1 if anything would.
    Diff {
        #[command(flatten)]
        spec: SpecArg,
        #[command(flatten)]
        out: OutArg,
        /// Render the spec even when the render cache knows its tree (README,
        /// "Reliability"); HOMELABGEN_CACHE=off does the same for every run.
        #[arg(long)]
        no_cache: bool,
    },
    /// Validate the spec only; warn about every CHANGEME placeholder still in it.
    Check {
        #[command(flatten)]
        spec: SpecArg,
        /// Placeholders are errors (exit 2): the operator targets of the Makefile use this.
        #[arg(long)]
        strict: bool,
    },
    /// Check the live Proxmox site against the spec, read-only (token from
    /// PROXMOX_VE_API_TOKEN); exit 0 all good, 1 warnings only, 2 a blocker.
    Doctor {
        #[command(flatten)]
        spec: SpecArg,
        /// Only this environment (its VMs, their images); default: every environment.
        #[arg(long)]
        env: Option<String>,
        /// Machine-readable output (for CI).
        #[arg(long)]
        json: bool,
        /// Only what this step needs: `packer` (a proxmox-iso build: the template name
        /// must be free), `tofu` (an apply: the templates must exist), `up` (as `tofu`, a
        /// missing template only a warning); default: everything.
        #[arg(long = "for", value_name = "STEP")]
        for_step: Option<DoctorFor>,
        /// With --for packer: only this image.
        #[arg(long, requires = "for_step")]
        image: Option<String>,
        /// With --for packer: the release being built (IMAGE_VERSION), when not the spec's.
        #[arg(long, requires = "for_step")]
        release: Option<u32>,
        /// With --for packer: the build's source (SOURCE); `qemu` checks the SSH upload
        /// (user, REMOTE_TMPDIR, qm) instead of the API token's Packer privileges.
        #[arg(long, value_enum, default_value = "proxmox-iso", requires = "for_step")]
        source: DoctorSource,
        /// With --for packer: a Packer var file the build gets; repeat it in Packer's
        /// order (`make packer` passes the image directory's *.auto.pkrvars.hcl, sorted,
        /// then VAR_FILE). Their proxmox_username / proxmox_token and proxmox_ssh_user /
        /// proxmox_ssh_host win over PKR_VAR_*, a later file over an earlier one, as in
        /// Packer. Nothing else of the files is read or printed.
        #[arg(long, value_name = "PATH", requires = "for_step")]
        var_file: Vec<Utf8PathBuf>,
        /// No checks: one line per template the environment(s) clone, `exists IMAGE NAME`
        /// or `missing IMAGE NAME` (what `make up` builds); exit 2 when the API cannot
        /// be asked.
        #[arg(long, conflicts_with_all = ["json", "for_step"])]
        templates: bool,
        /// Also try each static address a VM that does not exist yet will take (and a
        /// cluster's VIP) on the LAN: a TCP connection to ports 22, 443 and 80, 1 s
        /// each; a host that answers holds it. Only addresses on a network this machine
        /// is directly on are tried.
        #[arg(long, conflicts_with = "templates")]
        probe_lan: bool,
    },
    /// Print the JSON Schema of the spec (for editors), or with --markdown a readable reference.
    Schema {
        /// A Markdown table of every field instead of the JSON Schema (docs/spec.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Print a shell completion script: `homelabgen completions bash > /etc/bash_completion.d/homelabgen`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `homelabgen man | man -l -`.
    Man,
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

/// Read the spec's bytes (within the size limit), or report why not.
fn read_spec(spec: &Utf8Path) -> Result<Vec<u8>> {
    if spec.as_str().is_empty() {
        eprintln!("error: the spec path is empty (`--spec ''`)\n  help: pass the spec with --spec PATH (default spec/homelab.yaml)");
        return Err(Reported.into());
    }
    input::read_spec(spec).map_err(|err| {
        eprintln!(
            "error: {}: cannot read the spec: {err}\n  help: pass the spec with --spec PATH (default spec/homelab.yaml)",
            spec_display_name(spec)
        );
        Reported.into()
    })
}

fn load(spec: &Utf8Path, header_name: &str) -> Result<homelabgen_spec::Model> {
    load_bytes(spec, read_spec(spec)?, header_name)
}

/// Parse and resolve the spec read from `spec`.
fn load_bytes(
    spec: &Utf8Path,
    bytes: Vec<u8>,
    header_name: &str,
) -> Result<homelabgen_spec::Model> {
    let name = spec_display_name(spec);
    let text = String::from_utf8(bytes).map_err(|_| {
        eprintln!("error: {name}: the file is not UTF-8 text\n  help: save the spec as UTF-8");
        Reported
    })?;
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

/// What one render reads: the spec's bytes and the name headers give it; with the
/// render cache on, their cache key.
struct Inputs {
    bytes: Vec<u8>,
    header_name: String,
    key: Option<render_cache::Key>,
}

impl Inputs {
    fn read(spec: &Utf8Path, out: &Utf8Path) -> Result<Inputs> {
        let bytes = read_spec(spec)?;
        let header_name = input::spec_header_name(spec, out);
        let key = render_cache::Key::new(&bytes, &header_name);
        Ok(Inputs {
            bytes,
            header_name,
            key,
        })
    }
}

/// Render the spec and plan the sync of `out` (opened and locked: exclusively for a
/// render, shared for a diff).
fn prepare(
    spec: &Utf8Path,
    inputs: Inputs,
    out: &Utf8Path,
    render: bool,
) -> Result<(homelabgen_render::Tree, sync::OutDir, sync::Plan)> {
    if out.as_str().is_empty() {
        bail!("the output directory is empty (`--out ''`)\n  help: name a directory, e.g. `--out generated`");
    }
    // One thread: on a busy machine a second one costs more (its start, its malloc
    // arena, waiting to be scheduled) than the overlap of disk and render saves.
    let tree = load_bytes(spec, inputs.bytes, &inputs.header_name)
        .map(|model| homelabgen_render::render(&model));
    let dir = sync::open(out, render, false).and_then(|mut dir| {
        sync::prefetch(&mut dir)?;
        Ok(dir)
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

/// Warn about every placeholder left in the spec; the number found.
fn warn_placeholders(spec: &Utf8Path, style: &Style, strict: bool) -> usize {
    let Ok(Ok(text)) = input::read_spec(spec).map(String::from_utf8) else {
        return 0;
    };
    let found = placeholders::find(&text);
    let name = spec_display_name(spec);
    let label = if strict { "error" } else { "warning" };
    for p in &found {
        eprintln!(
            "{}: {name}:{}:{}: {} is still in the spec: `{}`",
            style.warning(label),
            p.line,
            p.column,
            p.what,
            p.text
        );
        if p.text.contains("repo_url") {
            if let Some(origin) = git_origin(spec) {
                eprintln!("  help: this repository's origin is {origin}: set `repo_url: {origin}`");
            }
        }
    }
    if !found.is_empty() {
        eprintln!(
            "  help: replace {} with your own value{} (the comments next to them say what goes there); \
             the operator targets (packer, tf-apply, k8s-bootstrap, argo, up) refuse to run until then",
            if found.len() == 1 { "it" } else { "them" },
            plural(found.len())
        );
    }
    found.len()
}

/// `git remote get-url origin` of the repository holding the spec, if there is one.
fn git_origin(spec: &Utf8Path) -> Option<String> {
    let dir = spec
        .parent()
        .filter(|d| !d.as_str().is_empty())
        .unwrap_or(Utf8Path::new("."));
    let out = std::process::Command::new("git")
        .args(["-C", dir.as_str(), "remote", "get-url", "origin"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let url = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !url.is_empty()).then_some(url)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let style = Style::new(cli.color);
    match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "homelabgen",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { spec, strict } => {
            let model = load(&spec.spec, "homelab.yaml")?;
            let left = warn_placeholders(&spec.spec, &style, strict);
            if strict && left > 0 {
                eprintln!(
                    "{left} placeholder{} in {}",
                    plural(left),
                    spec_display_name(&spec.spec)
                );
                return Ok(ExitCode::from(2));
            }
            let vms: usize = model.environments.iter().map(|e| e.vms.len()).sum();
            println!(
                "{}: {} ({} image{}, {} environment{}, {} VM{}{})",
                spec_display_name(&spec.spec),
                style.ok("ok"),
                model.images.len(),
                plural(model.images.len()),
                model.environments.len(),
                plural(model.environments.len()),
                vms,
                plural(vms),
                if left > 0 {
                    format!(", {left} placeholder{} to replace", plural(left))
                } else {
                    String::new()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor {
            spec,
            env,
            json,
            for_step,
            image,
            release,
            source,
            var_file,
            templates,
            probe_lan,
        } => {
            let model = load(&spec.spec, "homelab.yaml")?;
            let scope = match for_step {
                None => doctor::Scope::All,
                Some(DoctorFor::Tofu) => doctor::Scope::Tofu,
                Some(DoctorFor::Up) => doctor::Scope::Up,
                Some(DoctorFor::Packer) => doctor::Scope::Packer {
                    image: image.clone(),
                    release,
                    source: match source {
                        DoctorSource::ProxmoxIso => doctor::PackerSource::ProxmoxIso,
                        DoctorSource::Qemu => doctor::PackerSource::Qemu,
                    },
                },
            };
            if for_step != Some(DoctorFor::Packer)
                && (image.is_some()
                    || release.is_some()
                    || !var_file.is_empty()
                    || source != DoctorSource::ProxmoxIso)
            {
                bail!("--image, --release, --source and --var-file go with --for packer only");
            }
            let vars = doctor::PackerVars::read_all(&var_file).map_err(anyhow::Error::msg)?;
            if for_step == Some(DoctorFor::Packer) && env.is_some() {
                bail!("--env goes with --for tofu (a Packer build has no environment)");
            }
            if let Some(name) = &image {
                if !model.images.iter().any(|i| &i.name == name) {
                    let names: Vec<&str> = model.images.iter().map(|i| i.name.as_str()).collect();
                    bail!(
                        "--image {name}: no such image in {}; it has: {}",
                        spec_display_name(&spec.spec),
                        names.join(", ")
                    );
                }
            }
            if let Some(env) = &env {
                if !model.environments.iter().any(|e| &e.name == env) {
                    let names: Vec<&str> =
                        model.environments.iter().map(|e| e.name.as_str()).collect();
                    bail!(
                        "--env {env}: no such environment in {}; it has: {}",
                        spec_display_name(&spec.spec),
                        names.join(", ")
                    );
                }
            }
            if templates {
                for (image, name, exists) in doctor::templates(&model, env.as_deref())
                    .map_err(|e| anyhow::anyhow!("doctor --templates: {e}"))?
                {
                    println!(
                        "{} {image} {name}",
                        if exists { "exists" } else { "missing" }
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let text = String::from_utf8(input::read_spec(&spec.spec)?)?;
            let file = spec_display_name(&spec.spec);
            let checks = doctor::run(
                &model,
                &file,
                &text,
                env.as_deref(),
                &scope,
                &vars,
                probe_lan,
            );
            Ok(ExitCode::from(doctor::report(&checks, json, &style)))
        }
        Command::Schema { markdown } => {
            if markdown {
                print!("{}", schema_md::markdown(&homelabgen_spec::json_schema()));
            } else {
                print!("{}", homelabgen_spec::json_schema());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            spec,
            out,
            quiet,
            force_drop_env,
        } => {
            let existed = out.out.exists();
            let mut inputs = Inputs::read(&spec.spec, &out.out)?;
            let key = inputs.key.take();
            let (tree, mut dir, plan) = prepare(&spec.spec, inputs, &out.out, true)?;
            let spec_name = spec_display_name(&spec.spec);
            if let Err(e) = state_guard::check(&tree, &out.out, &spec_name, force_drop_env) {
                drop(dir);
                if !existed {
                    let _ = std::fs::remove_dir(&out.out);
                }
                return Err(e);
            }
            sync::apply(&tree, &mut dir, &plan)?;
            if let Some(key) = &key {
                render_cache::store(key, &plan.digest(&tree));
            }
            let created = plan.count(|c| matches!(c, sync::Change::Create));
            let removed = plan.count(|c| matches!(c, sync::Change::Remove { .. }));
            let updated = plan.changes.len() - created - removed;
            for (path, change) in plan.changes.iter().filter(|_| !quiet) {
                let what = match change {
                    sync::Change::Create => style.added("created"),
                    sync::Change::Remove { .. } => style.removed("removed"),
                    sync::Change::Update { .. } | sync::Change::Mode => style.changed("updated"),
                };
                println!("  {what} {}", out.out.join(path));
            }
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
            if quiet {
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "rendered {} files into {}: {created} created, {updated} updated, {removed} removed, {} unchanged",
                tree.len(),
                out.out,
                plan.unchanged
            );
            let left = input::read_spec(&spec.spec)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .map_or(0, |text| placeholders::find(&text).len());
            if left > 0 {
                eprintln!(
                    "note: {left} CHANGEME placeholder{} still in {}: `homelabgen check` lists them",
                    plural(left),
                    spec_display_name(&spec.spec)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff {
            spec,
            out,
            no_cache,
        } => {
            let up_to_date = || {
                eprintln!(
                    "{} is up to date with {}",
                    out.out,
                    spec_display_name(&spec.spec)
                );
                Ok(ExitCode::SUCCESS)
            };
            let mut inputs = Inputs::read(&spec.spec, &out.out)?;
            if no_cache {
                inputs.key = None;
            }
            let key = inputs.key.take();
            // The same spec and build rendered this tree before: check the disk against
            // it instead of rendering again (render_cache explains why that is exact).
            if let Some(digest) = key.as_ref().and_then(render_cache::lookup) {
                if !out.out.as_str().is_empty() {
                    if let Ok(mut dir) = sync::open(&out.out, false, false) {
                        if sync::matches_digest(&mut dir, &digest) {
                            return up_to_date();
                        }
                    }
                }
            }
            let (tree, _dir, plan) = prepare(&spec.spec, inputs, &out.out, false)?;
            if plan.is_clean() {
                if let Some(key) = &key {
                    render_cache::store(key, &plan.digest(&tree));
                }
                return up_to_date();
            }
            print!(
                "{}",
                style.diff(&sync::unified_diff(&plan, &tree, &out.out))
            );
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
