//! The render guard for OpenTofu state: `render` refuses to drop an environment whose
//! state still holds resources (the VMs would be orphaned: no configuration left to
//! `tofu destroy` them with, and a new environment could reuse their addresses).
//!
//! State lives outside the generated tree: each environment's local backend writes
//! `state/<env>/terraform.tfstate` next to it (`generated/../state`). Older trees kept
//! it in `generated/tofu/envs/<env>/terraform.tfstate`; both places are checked.

use anyhow::{bail, Result};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeSet;

/// The directory holding `<env>/terraform.tfstate`, next to the generated tree.
pub fn state_root(out: &Utf8Path) -> Utf8PathBuf {
    match out.parent() {
        Some(p) if !p.as_str().is_empty() => p.join("state"),
        _ => Utf8PathBuf::from("state"),
    }
}

/// Environments rendered into the tree (`tofu/envs/<env>/…`).
fn rendered_envs(tree: &homelabgen_render::Tree) -> BTreeSet<String> {
    tree.iter()
        .filter_map(|(path, _)| {
            let rest = path.as_str().strip_prefix("tofu/envs/")?;
            Some(rest.split('/').next()?.to_string())
        })
        .collect()
}

/// Sub-directory names of `dir` (none when it does not exist).
fn subdirs(dir: &Utf8Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Resource instances a state file holds (0 for a missing file). A file that is not
/// a state OpenTofu could have written counts as holding resources: better a refusal
/// the user can override than orphaned VMs.
/// Only a missing file is "no state": one that cannot be read (not a regular file, a
/// FIFO that a read would wait on forever, a permission error) counts as holding some.
fn instances(path: &Utf8Path) -> Option<usize> {
    let unreadable = Some(usize::MAX);
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Ok(meta) if meta.is_file() => {}
        _ => return unreadable,
    }
    let Ok(bytes) = std::fs::read(path) else {
        return unreadable;
    };
    let Ok(state) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Some(usize::MAX);
    };
    let n = state
        .get("resources")
        .and_then(|r| r.as_array())
        .map(|rs| {
            rs.iter()
                .filter(|r| r.get("mode").and_then(|m| m.as_str()) == Some("managed"))
                .map(|r| {
                    r.get("instances")
                        .and_then(|i| i.as_array())
                        .map_or(0, |i| i.len())
                })
                .sum()
        })
        .unwrap_or(0);
    Some(n)
}

/// Refuse (an error, exit 2, before anything is written) when an environment that is
/// no longer in the spec still has resources in its state, unless `force`.
pub fn check(
    tree: &homelabgen_render::Tree,
    out: &Utf8Path,
    spec_name: &str,
    force: bool,
) -> Result<()> {
    let keep = rendered_envs(tree);
    let root = state_root(out);
    let mut candidates: BTreeSet<String> = subdirs(&out.join("tofu/envs")).into_iter().collect();
    candidates.extend(subdirs(&root));
    let mut held = Vec::new();
    for env in candidates.iter().filter(|e| !keep.contains(*e)) {
        for file in [
            root.join(env).join("terraform.tfstate"),
            out.join("tofu/envs").join(env).join("terraform.tfstate"),
        ] {
            if let Some(n) = instances(&file).filter(|n| *n > 0) {
                held.push((env.clone(), file, n));
            }
        }
    }
    if held.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = held
        .iter()
        .map(|(env, file, n)| {
            let what = if *n == usize::MAX {
                "is not a readable OpenTofu state".to_string()
            } else {
                format!("holds {n} resource instance{}", if *n == 1 { "" } else { "s" })
            };
            format!(
                "  {file}: environment `{env}` is no longer in {spec_name}, but its state {what}\n  help: destroy its VMs first with the configuration still there: put `{env}` back in the spec (or `git stash`), `make render`, `make tf-destroy ENV={env}`; then remove it and render again"
            )
        })
        .collect();
    if force {
        for line in &list {
            eprintln!("warning (--force-drop-env):\n{line}");
        }
        return Ok(());
    }
    bail!(
        "refusing to drop {} environment{} whose VMs still exist (nothing was written):\n{}\n  help: `homelabgen render --force-drop-env` drops {} anyway (the VMs stay running, unmanaged; the state file is kept)",
        held.len(),
        if held.len() == 1 { "" } else { "s" },
        list.join("\n"),
        if held.len() == 1 { "it" } else { "them" }
    )
}
