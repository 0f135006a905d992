//! Tree ↔ disk: compare a rendered tree with the output directory, and bring the
//! directory in line with it — safely.
//!
//! Rules:
//! - Nothing is written until every check has passed (unowned files, symlinks, paths).
//! - Files are written atomically: a temporary file in the same directory, then rename.
//!   A file whose bytes and mode are already right is not touched (its mtime stays).
//! - The directory holds a manifest of the files homelabgen wrote. Files in the old
//!   manifest that the tree no longer has are removed; a file that is not in the
//!   manifest is never overwritten or removed (render stops and lists them).
//! - Nothing is read or written outside the output directory: paths are relative and
//!   plain, and no path may pass through a symlink.

use anyhow::{bail, Context, Result};
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use homelabgen_render::Tree;
use std::collections::BTreeSet;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;

/// The manifest of owned files, one relative path per line, inside the output dir.
pub const MANIFEST: &str = ".homelabgen-manifest";
const MANIFEST_HEADER: &str =
    "# Files written by homelabgen render; it updates and removes only these.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create,
    Update {
        old: String,
    },
    /// Same bytes, other mode (executable bit).
    Mode,
    Remove {
        old: String,
    },
}

/// What a render would change, path by path, in path order.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<(Utf8PathBuf, Change)>,
    pub unchanged: usize,
    /// Existing files the tree would write but homelabgen does not own.
    pub unowned: Vec<Utf8PathBuf>,
    /// The manifest as it is on disk.
    owned: BTreeSet<Utf8PathBuf>,
}

impl Plan {
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty() && self.unowned.is_empty()
    }

    pub fn count(&self, pred: fn(&Change) -> bool) -> usize {
        self.changes.iter().filter(|(_, c)| pred(c)).count()
    }
}

/// A path from the tree or the manifest must be relative and plain: no `..`, no root,
/// no `.` tricks. Anything else would escape the output directory.
fn check_relative(path: &Utf8Path) -> Result<()> {
    let plain = !path.as_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Utf8Component::Normal(_)))
        && !path.as_str().contains('\\');
    if !plain {
        bail!("refusing path `{path}`: not a plain relative path inside the output directory");
    }
    Ok(())
}

/// Fail if any existing component of `out/rel` (the last one included) is a symlink.
fn check_no_symlink(out: &Utf8Path, rel: &Utf8Path) -> Result<()> {
    let mut current = out.to_path_buf();
    for component in rel.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                bail!("refusing to follow the symlink `{current}` inside the output directory; remove it and render again")
            }
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err).with_context(|| format!("cannot inspect `{current}`")),
        }
    }
    Ok(())
}

fn read_manifest(out: &Utf8Path) -> Result<BTreeSet<Utf8PathBuf>> {
    let path = out.join(MANIFEST);
    check_no_symlink(out, Utf8Path::new(MANIFEST))?;
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot read `{path}`")),
    };
    let mut owned = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let rel = Utf8PathBuf::from(line);
        check_relative(&rel).with_context(|| format!("in `{path}`"))?;
        owned.insert(rel);
    }
    Ok(owned)
}

/// Read a file if it exists. A directory where a file should be is an error.
fn read_existing(path: &Utf8Path) -> Result<Option<(String, bool)>> {
    match fs::read(path) {
        Ok(bytes) => {
            let executable = fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false);
            // A file that is not UTF-8 cannot be ours; show it as replaced wholesale.
            Ok(Some((
                String::from_utf8(bytes).unwrap_or_default(),
                executable,
            )))
        }
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) if err.kind() == ErrorKind::IsADirectory => {
            bail!("`{path}` is a directory, but a file is rendered there")
        }
        Err(err) => Err(err).with_context(|| format!("cannot read `{path}`")),
    }
}

/// Compare the tree with the output directory. Reads only.
pub fn plan(tree: &Tree, out: &Utf8Path) -> Result<Plan> {
    if out.exists() && !out.is_dir() {
        bail!("the output path `{out}` exists and is not a directory");
    }
    let owned = read_manifest(out)?;
    let mut plan = Plan {
        owned: owned.clone(),
        ..Plan::default()
    };
    for (rel, file) in tree.iter() {
        check_relative(rel)?;
        if rel.as_str() == MANIFEST {
            bail!("the tree may not contain `{MANIFEST}`");
        }
        check_no_symlink(out, rel)?;
        match read_existing(&out.join(rel))? {
            None => plan.changes.push((rel.clone(), Change::Create)),
            Some(_) if !owned.contains(rel) => plan.unowned.push(rel.clone()),
            // Writing new contents also sets the mode, so a content change covers both.
            Some((old, _)) if old != file.contents => {
                plan.changes.push((rel.clone(), Change::Update { old }))
            }
            Some((_, executable)) if executable != file.executable => {
                plan.changes.push((rel.clone(), Change::Mode))
            }
            Some(_) => plan.unchanged += 1,
        }
    }
    for rel in &owned {
        if tree.get(rel).is_none() {
            check_no_symlink(out, rel)?;
            if let Some((old, _)) = read_existing(&out.join(rel))? {
                plan.changes.push((rel.clone(), Change::Remove { old }));
            }
        }
    }
    plan.changes.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(plan)
}

/// Write `contents` to `path` atomically with the given mode.
fn write_atomic(path: &Utf8Path, contents: &[u8], executable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Utf8Path::new("."));
    let name = path.file_name().unwrap_or("file");
    let tmp = dir.join(format!(".{name}.homelabgen-tmp"));
    let result = (|| -> std::io::Result<()> {
        // A temp file left by an interrupted render is ours: remove it (a symlink is
        // removed, never followed), then create exclusively.
        match fs::remove_file(&tmp) {
            Err(err) if err.kind() != ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.set_permissions(fs::Permissions::from_mode(if executable {
            0o755
        } else {
            0o644
        }))?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write `{path}`"))
}

fn write_manifest(out: &Utf8Path, files: &BTreeSet<Utf8PathBuf>) -> Result<()> {
    let mut text = format!("{MANIFEST_HEADER}\n");
    for rel in files {
        text.push_str(rel.as_str());
        text.push('\n');
    }
    let path = out.join(MANIFEST);
    if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    write_atomic(&path, text.as_bytes(), false)
}

/// Remove now-empty directories from `rel`'s parent up to (not including) `out`.
fn remove_empty_parents(out: &Utf8Path, rel: &Utf8Path) {
    let mut dir = rel.parent();
    while let Some(d) = dir.filter(|d| !d.as_str().is_empty()) {
        if fs::remove_dir(out.join(d)).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Apply a plan made from `tree` for `out`. Refuses (writing nothing) when the plan
/// found files homelabgen does not own.
pub fn apply(tree: &Tree, out: &Utf8Path, plan: &Plan) -> Result<()> {
    if !plan.unowned.is_empty() {
        let list: Vec<_> = plan
            .unowned
            .iter()
            .map(|p| format!("  {}", out.join(p)))
            .collect();
        bail!(
            "these files exist but were not written by homelabgen, so render will not overwrite them:\n{}\n  help: move them away (or delete them) and render again",
            list.join("\n")
        );
    }
    if plan.changes.is_empty() {
        return Ok(());
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create `{out}`"))?;
    let new: BTreeSet<Utf8PathBuf> = tree.iter().map(|(p, _)| p.clone()).collect();
    // Claim new files before writing them, so an interrupted render still owns
    // what it wrote; the final manifest below drops what was removed.
    let claimed: BTreeSet<_> = plan.owned.union(&new).cloned().collect();
    write_manifest(out, &claimed)?;
    for (rel, change) in &plan.changes {
        let path = out.join(rel);
        match change {
            Change::Create | Change::Update { .. } | Change::Mode => {
                let file = tree
                    .get(rel)
                    .context("internal: planned file missing from tree")?;
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create `{parent}`"))?;
                }
                // Re-check after creating directories: nothing may have become a symlink.
                check_no_symlink(out, rel)?;
                write_atomic(&path, file.contents.as_bytes(), file.executable)?;
            }
            Change::Remove { .. } => {
                fs::remove_file(&path).with_context(|| format!("cannot remove `{path}`"))?;
                remove_empty_parents(out, rel);
            }
        }
    }
    write_manifest(out, &new)
}

/// A unified diff of the plan, `a/` being the disk and `b/` the render.
pub fn unified_diff(plan: &Plan, tree: &Tree, out: &Utf8Path) -> String {
    let mut text = String::new();
    for rel in &plan.unowned {
        text.push_str(&format!("unowned file {}: exists but was not written by homelabgen; render will refuse to overwrite it\n", out.join(rel)));
    }
    for (rel, change) in &plan.changes {
        let new = tree.get(rel).map(|f| f.contents.as_str()).unwrap_or("");
        let (old, a, b) = match change {
            Change::Create => ("", "/dev/null".to_owned(), format!("b/{rel}")),
            Change::Update { old } => (old.as_str(), format!("a/{rel}"), format!("b/{rel}")),
            Change::Remove { old } => (old.as_str(), format!("a/{rel}"), "/dev/null".to_owned()),
            Change::Mode => {
                let mode = if tree.get(rel).is_some_and(|f| f.executable) {
                    "100755"
                } else {
                    "100644"
                };
                text.push_str(&format!("mode change {rel}: new mode {mode}\n"));
                continue;
            }
        };
        let diff = similar::TextDiff::from_lines(old, new);
        text.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string(),
        );
    }
    text
}
