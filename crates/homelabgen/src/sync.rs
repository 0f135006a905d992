//! Tree ↔ disk: compare a rendered tree with the output directory, and bring the
//! directory in line with it — safely.
//!
//! Rules (README, "Reliability"):
//! - One render or diff at a time per output directory: render holds an exclusive
//!   `flock` on the directory for plan and apply, diff a shared one.
//! - The output directory may not be a symlink; symlinks in its parents are resolved
//!   once, when it is opened. Below it, every operation goes through directory handles
//!   with no-follow semantics (`fsx`), so a symlink swapped in later is never followed.
//! - Nothing is written until every check has passed: paths, unowned files, file types
//!   (only regular files are read, never a FIFO or device), sizes, and that every
//!   directory to be written is writable.
//! - Files are written as temp files, the file system is synced once, then the temp
//!   files are renamed into place, then synced once more: a file is old or new, never
//!   torn. A file whose bytes and mode are already right is not touched.
//! - The manifest records every file homelabgen wrote with the SHA-256 of what it
//!   wrote. A file the tree no longer has is removed only if it still has that content;
//!   a file the user changed is kept, reported and no longer tracked. A file not in the
//!   manifest is never overwritten or removed. Entries whose file is gone are dropped.
//! - Temp files left by an interrupted render are removed by the next render and
//!   reported by diff.

mod fsx;

use anyhow::{anyhow, bail, Context, Result};
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use homelabgen_render::{path_cmp, PathKey, Tree};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The manifest of owned files (`path<TAB>sha256[,sha256]` lines) inside the output dir.
pub const MANIFEST: &str = ".homelabgen-manifest";
const MANIFEST_HEADER: &str = "# Files written by homelabgen render, with the SHA-256 of what it wrote.\n# It updates only these, and removes one only while it still has that content.\n";
/// A manifest is one short line per rendered file; anything larger is not ours.
pub const MAX_MANIFEST_BYTES: u64 = 8 * 1024 * 1024;
const TEMP_SUFFIX: &str = ".homelabgen-tmp";
/// How long a render or diff waits for another one holding the output directory.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create,
    Update {
        old: Vec<u8>,
    },
    /// Same bytes, other mode (executable bit).
    Mode,
    Remove {
        old: Vec<u8>,
    },
}

/// What a render would change, path by path, in path order.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<(Utf8PathBuf, Change)>,
    pub unchanged: usize,
    /// Existing files the tree would write but homelabgen does not own.
    pub unowned: Vec<Utf8PathBuf>,
    /// Owned files no longer rendered that the user changed (or replaced): kept, and
    /// dropped from the manifest. The reason is given for each.
    pub kept: Vec<(Utf8PathBuf, String)>,
    /// Temp files of an interrupted render; render removes them.
    pub stale_temps: Vec<Utf8PathBuf>,
    /// The manifest on disk differs from what this render records.
    pub manifest_stale: bool,
    /// The manifest as it is on disk: path → the hashes homelabgen wrote there.
    owned: BTreeMap<PathKey, Vec<String>>,
    /// The manifest this render writes.
    manifest: String,
    /// The SHA-256 of each file of the tree, in the tree's order.
    hashes: Vec<String>,
}

impl Plan {
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty()
            && self.unowned.is_empty()
            && self.kept.is_empty()
            && self.stale_temps.is_empty()
            && !self.manifest_stale
    }

    pub fn count(&self, pred: fn(&Change) -> bool) -> usize {
        self.changes.iter().filter(|(_, c)| pred(c)).count()
    }

    /// The digest of the tree this plan was made for, as files on disk: see
    /// `tree_digest`. `render_cache` records it.
    pub fn digest(&self, tree: &Tree) -> String {
        tree_digest(
            tree.iter()
                .zip(&self.hashes)
                .map(|((rel, file), hash)| (rel.as_str(), file.executable, hash.as_str())),
        )
    }
}

/// A digest of a tree as files: every path (in path order) with its executable bit
/// and the SHA-256 of its content. Paths hold no control characters (`check_relative`),
/// so the separators below cannot occur inside one.
fn tree_digest<'a>(files: impl Iterator<Item = (&'a str, bool, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (rel, executable, hash) in files {
        h.update(rel.as_bytes());
        h.update(if executable { b"\0x\0" } else { b"\0-\0" });
        h.update(hash.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// Whether the output directory holds exactly a tree with `digest`, as a complete
/// render leaves it: the manifest is the one render writes (one hash per file, nothing
/// else), every file it lists is a regular file below real directories with that
/// content and the recorded executable bit, and no temp file is left. Then a render of
/// a tree with this digest would change nothing (`plan` would be clean). Reads only;
/// any error or doubt is `false`, and the caller makes the full plan.
pub fn matches_digest(out: &mut OutDir, digest: &str) -> bool {
    let path = out.path.clone();
    let Some(dirs) = out.dirs.as_mut() else {
        return false;
    };
    let mut check = || -> Result<bool> {
        let Survey {
            existing,
            old_manifest,
            owned,
        } = survey(dirs, &path)?;
        let Some(old_manifest) = old_manifest else {
            return Ok(false);
        };
        let stale_temp = existing.iter().any(|(rel, kind)| {
            *kind != fsx::Kind::Dir && Utf8Path::new(rel).file_name().is_some_and(is_temp_name)
        });
        if stale_temp
            || owned.values().any(|hashes| hashes.len() != 1)
            || manifest_text(owned.iter().map(|(rel, h)| (rel.as_str(), &h[..]))) != old_manifest
        {
            return Ok(false);
        }
        let mut files = Vec::with_capacity(owned.len());
        for (rel, hashes) in &owned {
            let rel = rel.as_path();
            if !parents_are_dirs(rel, &existing)
                || existing.get(rel.as_str()) != Some(&fsx::Kind::File)
            {
                return Ok(false);
            }
            let contents = read(dirs, &path, rel, fsx::MAX_FILE_BYTES)?;
            if hash(&contents.bytes) != hashes[0] {
                return Ok(false);
            }
            files.push((rel.as_str(), contents.executable, hashes[0].as_str()));
        }
        Ok(tree_digest(files.into_iter()) == digest)
    };
    check().unwrap_or(false)
}

/// The output directory, opened once and locked.
pub struct OutDir {
    path: Utf8PathBuf,
    /// `None`: the directory does not exist.
    dirs: Option<Dirs>,
    survey: Option<Survey>,
}

impl OutDir {
    /// Whether the directory exists (render creates it with `open(out, true, true)`).
    pub fn exists(&self) -> bool {
        self.dirs.is_some()
    }
}

/// Handles of the directories below the output directory, opened on demand, each from
/// its parent's handle with no-follow semantics.
struct Dirs {
    root: OwnedFd,
    open: HashMap<String, OwnedFd>,
    /// Prefetched contents of owned files, taken by `plan`.
    cache: HashMap<String, fsx::Contents>,
}

impl Dirs {
    fn fd(&mut self, rel: &Utf8Path, create: bool) -> std::io::Result<BorrowedFd<'_>> {
        if rel.as_str().is_empty() {
            return Ok(self.root.as_fd());
        }
        if !self.open.contains_key(rel.as_str()) {
            let parent = rel.parent().unwrap_or(Utf8Path::new(""));
            let name = rel.file_name().unwrap_or(".");
            let fd = {
                let parent = self.fd(parent, create)?;
                if create {
                    fsx::make_dir(parent, name)?
                } else {
                    fsx::open_dir(parent, name)?
                }
            };
            self.open.insert(rel.as_str().to_owned(), fd);
        }
        Ok(self.open[rel.as_str()].as_fd())
    }
}

/// Open the output directory (with `create`, create it first) and take its lock:
/// exclusive for a render, shared for a diff.
pub fn open(out: &Utf8Path, render: bool, create: bool) -> Result<OutDir> {
    if out.as_str().is_empty() {
        bail!("the output directory is empty (`--out ''`)\n  help: name a directory, e.g. `--out generated`");
    }
    match std::fs::symlink_metadata(out) {
        Ok(meta) if meta.file_type().is_symlink() => bail!(
            "the output directory `{out}` is a symlink; homelabgen does not follow it\n  help: pass the directory it points to with --out"
        ),
        Ok(meta) if !meta.is_dir() => {
            bail!("the output path `{out}` exists and is not a directory")
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if !create {
                return Ok(OutDir {
                    path: out.to_owned(),
                    dirs: None,
                    survey: None,
                });
            }
            std::fs::create_dir_all(out).with_context(|| format!("cannot create `{out}`"))?;
        }
        Err(err) => return Err(err).with_context(|| format!("cannot inspect `{out}`")),
    }
    let root = fsx::open_root(out.as_str()).with_context(|| {
        format!("cannot open the output directory `{out}` (it may have been replaced by a symlink)")
    })?;
    let locked = fsx::lock(root.as_fd(), render, LOCK_WAIT)
        .with_context(|| format!("cannot lock `{out}`"))?;
    if !locked {
        bail!(
            "another homelabgen render is writing to `{out}` (it holds the directory's lock); waited {}s\n  help: wait for it to finish, then run this again",
            LOCK_WAIT.as_secs()
        );
    }
    Ok(OutDir {
        path: out.to_owned(),
        dirs: Some(Dirs {
            root,
            open: HashMap::new(),
            cache: HashMap::new(),
        }),
        survey: None,
    })
}

/// A path from the tree or the manifest must be relative and plain: no `..`, no root,
/// no `.` tricks, no control characters. Anything else could escape the directory.
fn check_relative(path: &Utf8Path) -> Result<()> {
    let plain = !path.as_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Utf8Component::Normal(_)))
        && !path.as_str().contains(['\\', '\t', '\n'])
        && !path.as_str().chars().any(char::is_control);
    if !plain {
        bail!(
            "refusing path `{}`: not a plain relative path inside the output directory",
            path.as_str().escape_debug()
        );
    }
    Ok(())
}

fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.len() > 1 + TEMP_SUFFIX.len() && name.ends_with(TEMP_SUFFIX)
}

fn temp_name(name: &str) -> String {
    format!(".{name}{TEMP_SUFFIX}")
}

fn hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 15), 16).unwrap_or('0'));
    }
    hex
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every entry below the output directory (no symlink followed), path → kind.
fn scan(dirs: &Dirs) -> Result<HashMap<String, fsx::Kind>> {
    fn walk(
        dir: BorrowedFd<'_>,
        prefix: &Utf8Path,
        out: &Utf8Path,
        found: &mut HashMap<String, fsx::Kind>,
    ) -> Result<()> {
        let entries =
            fsx::list(dir).with_context(|| format!("cannot list `{}`", out.join(prefix)))?;
        for (name, kind) in entries {
            let rel = prefix.join(&name);
            if kind == fsx::Kind::Dir {
                let sub = fsx::open_dir(dir, &name)
                    .with_context(|| format!("cannot open `{}`", out.join(&rel)))?;
                walk(sub.as_fd(), &rel, out, found)?;
            }
            found.insert(rel.into_string(), kind);
        }
        Ok(())
    }
    let mut found = HashMap::new();
    walk(
        dirs.root.as_fd(),
        Utf8Path::new(""),
        Utf8Path::new(""),
        &mut found,
    )?;
    Ok(found)
}

fn read(dirs: &mut Dirs, out: &Utf8Path, rel: &Utf8Path, limit: u64) -> Result<fsx::Contents> {
    let parent = rel.parent().unwrap_or(Utf8Path::new(""));
    let name = rel.file_name().unwrap_or(".");
    let dir = dirs
        .fd(parent, false)
        .with_context(|| format!("cannot open `{}`", out.join(parent)))?;
    fsx::read_file(dir, name, limit).with_context(|| format!("cannot read `{}`", out.join(rel)))
}

/// Parse the manifest: path → hashes (empty for a line of the old hash-less format).
fn parse_manifest(text: &str, path: &Utf8Path) -> Result<BTreeMap<PathKey, Vec<String>>> {
    let mut owned = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (rel, hashes) = line.split_once('\t').unwrap_or((line, ""));
        let hashes: Vec<String> = hashes
            .split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        check_relative(Utf8Path::new(rel)).with_context(|| format!("{path}:{}", n + 1))?;
        if let Some(bad) = hashes.iter().find(|h| !is_hash(h)) {
            bail!(
                "{path}:{}: `{}` is not a SHA-256\n  help: the manifest is written by homelabgen; restore it from git",
                n + 1,
                bad.escape_debug()
            );
        }
        owned.insert(PathKey::new(rel), hashes);
    }
    Ok(owned)
}

/// The manifest's text: one line per entry, given in path order.
fn manifest_text<'a>(entries: impl Iterator<Item = (&'a str, &'a [String])>) -> String {
    let mut text = String::from(MANIFEST_HEADER);
    for (rel, hashes) in entries {
        text.push_str(rel);
        text.push('\t');
        for (i, hash) in hashes.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(hash);
        }
        text.push('\n');
    }
    text
}

/// What is on disk before the tree is known: every entry, the manifest, and the
/// contents of every owned file (read while the spec is rendered, see `prefetch`).
pub struct Survey {
    existing: HashMap<String, fsx::Kind>,
    old_manifest: Option<String>,
    owned: BTreeMap<PathKey, Vec<String>>,
}

fn survey(dirs: &mut Dirs, path: &Utf8Path) -> Result<Survey> {
    let existing = scan(dirs)?;
    let manifest_path = Utf8Path::new(MANIFEST);
    let old_manifest = match existing.get(MANIFEST) {
        None => None,
        Some(fsx::Kind::File) => {
            let contents = read(dirs, path, manifest_path, MAX_MANIFEST_BYTES)?;
            Some(String::from_utf8(contents.bytes).map_err(|_| {
                anyhow!("`{}` is not UTF-8 text\n  help: the manifest is written by homelabgen; restore it from git", path.join(MANIFEST))
            })?)
        }
        Some(kind) => bail!(
            "`{}` is {}, not the manifest file homelabgen writes\n  help: remove it and render again",
            path.join(MANIFEST),
            kind.describe()
        ),
    };
    let owned = match &old_manifest {
        Some(text) => parse_manifest(text, &path.join(MANIFEST))?,
        None => BTreeMap::new(),
    };
    Ok(Survey {
        existing,
        old_manifest,
        owned,
    })
}

/// Survey the output directory and read every owned regular file ahead, so that this
/// I/O can run while the spec is rendered. `plan` then compares from memory.
pub fn prefetch(out: &mut OutDir) -> Result<()> {
    let path = out.path.clone();
    let Some(dirs) = out.dirs.as_mut() else {
        return Ok(());
    };
    let survey = survey(dirs, &path)?;
    for rel in survey.owned.keys() {
        if parents_are_dirs(rel.as_path(), &survey.existing)
            && survey.existing.get(rel.as_str()) == Some(&fsx::Kind::File)
        {
            // Errors surface again (with context) when plan reads the file itself.
            if let Ok(contents) = read(dirs, &path, rel.as_path(), fsx::MAX_FILE_BYTES) {
                dirs.cache.insert(rel.as_str().to_owned(), contents);
            }
        }
    }
    out.survey = Some(survey);
    Ok(())
}

/// Whether every directory above `rel` exists as a real directory.
fn parents_are_dirs(rel: &Utf8Path, existing: &HashMap<String, fsx::Kind>) -> bool {
    rel.ancestors()
        .skip(1)
        .filter(|a| !a.as_str().is_empty())
        .all(|a| existing.get(a.as_str()) == Some(&fsx::Kind::Dir))
}

/// `read`, from the prefetched contents when there are some.
fn read_cached(
    dirs: &mut Dirs,
    out: &Utf8Path,
    rel: &Utf8Path,
    limit: u64,
) -> Result<fsx::Contents> {
    match dirs.cache.remove(rel.as_str()) {
        Some(contents) => Ok(contents),
        None => read(dirs, out, rel, limit),
    }
}

/// Compare the tree with the output directory. Reads only.
pub fn plan(tree: &Tree, out: &mut OutDir) -> Result<Plan> {
    let path = out.path.clone();
    let mut new_hashes: Vec<String> = Vec::with_capacity(tree.len());
    for (rel, file) in tree.iter() {
        check_relative(rel)?;
        let name = rel.file_name().unwrap_or("");
        if rel.as_str() == MANIFEST || is_temp_name(name) {
            bail!("internal: the tree may not contain `{rel}`");
        }
        new_hashes.push(hash(file.contents.as_bytes()));
    }
    let mut plan = Plan {
        manifest: manifest_text(
            tree.iter()
                .zip(&new_hashes)
                .map(|((rel, _), hash)| (rel.as_str(), std::slice::from_ref(hash))),
        ),
        ..Plan::default()
    };
    plan.hashes = new_hashes;
    let Some(dirs) = out.dirs.as_mut() else {
        plan.changes = tree
            .iter()
            .map(|(p, _)| (p.to_owned(), Change::Create))
            .collect();
        plan.manifest_stale = true;
        return Ok(plan);
    };
    let survey = match out.survey.take() {
        Some(survey) => survey,
        None => survey(dirs, &path)?,
    };
    let Survey {
        existing,
        old_manifest,
        owned,
    } = survey;
    plan.owned = owned;
    plan.manifest_stale = old_manifest.as_deref() != Some(plan.manifest.as_str());

    for (rel, kind) in &existing {
        if *kind != fsx::Kind::Dir && Utf8Path::new(rel).file_name().is_some_and(is_temp_name) {
            plan.stale_temps.push(Utf8PathBuf::from(rel));
        }
    }
    plan.stale_temps
        .sort_by(|a, b| path_cmp(a.as_str(), b.as_str()));

    for (rel, file) in tree.iter() {
        // Every parent must be a real directory (or missing).
        let mut missing = false;
        for ancestor in rel.ancestors().skip(1) {
            if ancestor.as_str().is_empty() {
                break;
            }
            match existing.get(ancestor.as_str()) {
                None => missing = true,
                Some(fsx::Kind::Dir) => {}
                Some(fsx::Kind::Symlink) => bail!(
                    "refusing to follow the symlink `{}` inside the output directory\n  help: remove it and render again",
                    path.join(ancestor)
                ),
                Some(kind) => bail!(
                    "`{}` is {}, but a directory is rendered there\n  help: move it away and render again",
                    path.join(ancestor),
                    kind.describe()
                ),
            }
        }
        let kind = if missing {
            None
        } else {
            existing.get(rel.as_str())
        };
        match kind {
            None => plan.changes.push((rel.to_owned(), Change::Create)),
            Some(fsx::Kind::File) if !plan.owned.contains_key(&PathKey::new(rel.as_str())) => {
                plan.unowned.push(rel.to_owned())
            }
            Some(fsx::Kind::File) => {
                let old = read_cached(dirs, &path, rel, fsx::MAX_FILE_BYTES)?;
                if old.bytes != file.contents.as_bytes() {
                    // Writing new contents also sets the mode, so this covers both.
                    plan.changes.push((rel.to_owned(), Change::Update { old: old.bytes }));
                } else if old.executable != file.executable {
                    plan.changes.push((rel.to_owned(), Change::Mode));
                } else {
                    plan.unchanged += 1;
                }
            }
            Some(fsx::Kind::Symlink) => bail!(
                "refusing to follow the symlink `{}` inside the output directory\n  help: remove it and render again",
                path.join(rel)
            ),
            Some(kind) => bail!(
                "`{}` is {}, but a file is rendered there\n  help: move it away and render again",
                path.join(rel),
                kind.describe()
            ),
        }
    }
    let gone: Vec<(Utf8PathBuf, Vec<String>)> = plan
        .owned
        .iter()
        .filter(|(rel, _)| tree.get(rel.as_path()).is_none())
        .map(|(rel, hashes)| (rel.as_path().to_owned(), hashes.clone()))
        .collect();
    for (rel, hashes) in gone {
        let parents_ok = parents_are_dirs(&rel, &existing);
        match existing.get(rel.as_str()) {
            // Already gone: the manifest entry is dropped.
            None => {}
            Some(_) if !parents_ok => plan
                .kept
                .push((rel.clone(), "a directory above it was replaced".to_owned())),
            Some(fsx::Kind::File) => {
                let old = read_cached(dirs, &path, &rel, fsx::MAX_FILE_BYTES)?;
                if hashes.contains(&hash(&old.bytes)) {
                    plan.changes.push((rel, Change::Remove { old: old.bytes }));
                } else if hashes.is_empty() {
                    plan.kept
                        .push((rel, "the manifest has no record of its content".to_owned()));
                } else {
                    plan.kept
                        .push((rel, "it was changed after homelabgen wrote it".to_owned()));
                }
            }
            Some(kind) => plan
                .kept
                .push((rel, format!("it is now {}", kind.describe()))),
        }
    }
    plan.changes
        .sort_by(|a, b| path_cmp(a.0.as_str(), b.0.as_str()));
    Ok(plan)
}

/// Test hook for the crash test: with `HOMELABGEN_TEST_CRASH_AT=N`, the process aborts
/// (like a `kill -9`) just before the N-th file-system step of an apply (1-based).
fn step() {
    static AT: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let at = AT.get_or_init(|| {
        std::env::var("HOMELABGEN_TEST_CRASH_AT")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
    if *at == Some(n) {
        std::process::abort();
    }
}

fn split(rel: &Utf8Path) -> (&Utf8Path, &str) {
    (
        rel.parent().unwrap_or(Utf8Path::new("")),
        rel.file_name().unwrap_or("."),
    )
}

/// Write `bytes` as the temp file of `rel` (replacing a stale one).
fn write_temp(
    dirs: &mut Dirs,
    out: &Utf8Path,
    rel: &Utf8Path,
    bytes: &[u8],
    executable: bool,
) -> Result<()> {
    let (parent, name) = split(rel);
    let tmp = temp_name(name);
    let dir = dirs
        .fd(parent, true)
        .with_context(|| format!("cannot create `{}`", out.join(parent)))?;
    step();
    let mode = if executable { 0o755 } else { 0o644 };
    // A stale temp file of an interrupted render is replaced; usually there is none.
    match fsx::create_file(dir, &tmp, bytes, mode) {
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            fsx::remove_file(dir, &tmp).and_then(|()| fsx::create_file(dir, &tmp, bytes, mode))
        }
        other => other,
    }
    .with_context(|| format!("cannot write `{}`", out.join(parent).join(&tmp)))
}

fn rename_temp(dirs: &mut Dirs, out: &Utf8Path, rel: &Utf8Path) -> Result<()> {
    let (parent, name) = split(rel);
    let dir = dirs.fd(parent, false)?;
    step();
    fsx::rename(dir, &temp_name(name), name)
        .with_context(|| format!("cannot write `{}`", out.join(rel)))
}

/// The nearest existing directory at or above `rel` (relative to the output dir);
/// `missing` remembers the directories found missing, so each is tried once.
fn nearest_existing<'a>(
    rel: &'a Utf8Path,
    dirs: &mut Dirs,
    missing: &mut HashSet<&'a Utf8Path>,
) -> &'a Utf8Path {
    let mut current = rel;
    loop {
        if current.as_str().is_empty()
            || (!missing.contains(current) && dirs.fd(current, false).is_ok())
        {
            return current;
        }
        missing.insert(current);
        current = current.parent().unwrap_or(Utf8Path::new(""));
    }
}

/// Apply a plan made for `out`. Refuses (writing nothing) when the plan found files
/// homelabgen does not own, or a directory that cannot be written.
pub fn apply(tree: &Tree, out: &mut OutDir, plan: &Plan) -> Result<()> {
    let path = out.path.clone();
    if !plan.unowned.is_empty() {
        let list: Vec<_> = plan
            .unowned
            .iter()
            .map(|p| format!("  {}", path.join(p)))
            .collect();
        bail!(
            "these files exist but were not written by homelabgen, so render will not overwrite them:\n{}\n  help: move them away (or delete them) and render again",
            list.join("\n")
        );
    }
    if plan.is_clean() {
        return Ok(());
    }
    let dirs = out
        .dirs
        .as_mut()
        .context("internal: render opens the output directory")?;

    // The file system is part of "validated before the first write".
    let mut targets: BTreeSet<&Utf8Path> = BTreeSet::new();
    targets.insert(Utf8Path::new(""));
    for (rel, _) in &plan.changes {
        targets.insert(split(rel).0);
    }
    for rel in &plan.stale_temps {
        targets.insert(split(rel).0);
    }
    let (mut missing, mut checked) = (HashSet::new(), HashSet::new());
    for target in targets {
        let existing = nearest_existing(target, dirs, &mut missing);
        if !checked.insert(existing) {
            continue;
        }
        let fd = dirs.fd(existing, false)?;
        fsx::writable(fd).map_err(|err| {
            anyhow!(
                "cannot write into `{}`: {err}; nothing was changed\n  help: fix the directory's permissions (or pass another --out)",
                path.join(existing)
            )
        })?;
    }

    for rel in &plan.stale_temps {
        let (parent, name) = split(rel);
        let dir = dirs.fd(parent, false)?;
        step();
        fsx::remove_file(dir, name)
            .with_context(|| format!("cannot remove `{}`", path.join(rel)))?;
    }

    // Claim: the old manifest plus every file about to be written, so that an
    // interrupted render still owns what it wrote and can still remove what it owned.
    let kept: HashSet<&str> = plan.kept.iter().map(|(k, _)| k.as_str()).collect();
    let mut claim: BTreeMap<PathKey, Vec<String>> = BTreeMap::new();
    for (rel, hashes) in &plan.owned {
        if !kept.contains(rel.as_str()) {
            claim.insert(rel.clone(), hashes.clone());
        }
    }
    if plan.hashes.len() != tree.len() {
        bail!("internal: the plan was made for another tree");
    }
    for ((rel, _), new) in tree.iter().zip(&plan.hashes) {
        let key = PathKey::new(rel.as_str());
        let mut hashes = vec![new.clone()];
        if let Some(old) = plan.owned.get(&key) {
            hashes.extend(old.iter().filter(|h| *h != new).cloned());
        }
        claim.insert(key, hashes);
    }
    let claim = manifest_text(
        claim
            .iter()
            .map(|(rel, hashes)| (rel.as_str(), &hashes[..])),
    );
    let manifest = Utf8Path::new(MANIFEST);
    write_temp(dirs, &path, manifest, claim.as_bytes(), false)?;
    for (rel, change) in &plan.changes {
        if let Change::Create | Change::Update { .. } | Change::Mode = change {
            let file = tree
                .get(rel)
                .context("internal: planned file missing from tree")?;
            write_temp(dirs, &path, rel, file.contents.as_bytes(), file.executable)?;
        }
    }
    step();
    fsx::sync_fs(dirs.root.as_fd()).with_context(|| format!("cannot sync `{path}`"))?;
    rename_temp(dirs, &path, manifest)?;
    for (rel, change) in &plan.changes {
        if !matches!(change, Change::Remove { .. }) {
            rename_temp(dirs, &path, rel)?;
        }
    }
    for (rel, change) in &plan.changes {
        let Change::Remove { .. } = change else {
            continue;
        };
        // Re-check right before removing: only the content homelabgen wrote goes.
        let hashes = plan
            .owned
            .get(&PathKey::new(rel.as_str()))
            .cloned()
            .unwrap_or_default();
        // Gone or changed since the plan (by another program): leave it alone.
        let Ok(current) = read(dirs, &path, rel, fsx::MAX_FILE_BYTES) else {
            continue;
        };
        if !hashes.contains(&hash(&current.bytes)) {
            continue;
        }
        let (parent, name) = split(rel);
        let dir = dirs.fd(parent, false)?;
        step();
        fsx::remove_file(dir, name)
            .with_context(|| format!("cannot remove `{}`", path.join(rel)))?;
        // Remove directories left empty, bottom-up, never the output directory.
        let mut dir_rel = parent;
        while !dir_rel.as_str().is_empty() {
            let (up, name) = split(dir_rel);
            dirs.open.remove(dir_rel.as_str());
            let up_fd = dirs.fd(up, false)?;
            if !fsx::remove_empty_dir(up_fd, name) {
                break;
            }
            dir_rel = up;
        }
    }
    // The claim is already the final manifest when nothing old was owned (a first render).
    if claim != plan.manifest {
        write_temp(dirs, &path, manifest, plan.manifest.as_bytes(), false)?;
        rename_temp(dirs, &path, manifest)?;
    }
    step();
    fsx::sync_fs(dirs.root.as_fd()).with_context(|| format!("cannot sync `{path}`"))?;
    Ok(())
}

fn lossy(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.into(), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    }
}

/// A unified diff of the plan, `a/` being the disk and `b/` the render.
pub fn unified_diff(plan: &Plan, tree: &Tree, out: &Utf8Path) -> String {
    let mut text = String::new();
    for rel in &plan.unowned {
        text.push_str(&format!("unowned file {}: exists but was not written by homelabgen; render will refuse to overwrite it\n", out.join(rel)));
    }
    for (rel, why) in &plan.kept {
        text.push_str(&format!(
            "kept file {}: no longer rendered, but {why}; render keeps it and stops tracking it\n",
            out.join(rel)
        ));
    }
    for rel in &plan.stale_temps {
        text.push_str(&format!(
            "stale temp file {}: left by an interrupted render; render removes it\n",
            out.join(rel)
        ));
    }
    for (rel, change) in &plan.changes {
        let new = tree.get(rel).map(|f| f.contents.as_str()).unwrap_or("");
        let (old, a, b) = match change {
            Change::Create => (&[][..], "/dev/null".to_owned(), format!("b/{rel}")),
            Change::Update { old } => (old.as_slice(), format!("a/{rel}"), format!("b/{rel}")),
            Change::Remove { old } => (old.as_slice(), format!("a/{rel}"), "/dev/null".to_owned()),
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
        let (old, binary) = lossy(old);
        if binary {
            text.push_str(&format!(
                "file {}: not UTF-8 text on disk (shown with replacement characters)\n",
                out.join(rel)
            ));
        }
        let diff = similar::TextDiff::from_lines(old.as_ref(), new);
        text.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string(),
        );
    }
    if plan.manifest_stale
        && plan.changes.is_empty()
        && plan.kept.is_empty()
        && plan.stale_temps.is_empty()
    {
        text.push_str(&format!(
            "manifest {}: out of date with the files on disk; render rewrites it\n",
            out.join(MANIFEST)
        ));
    }
    text
}
