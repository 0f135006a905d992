//! The rendered tree: relative path → file, sorted, so output order never varies.

use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub contents: String,
    /// Scripts are written with mode 0755, everything else 0644.
    pub executable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    files: BTreeMap<Utf8PathBuf, File>,
}

impl Tree {
    /// Add a regular file. Paths are relative, `/`-separated, without `..`.
    pub fn add(&mut self, path: impl Into<Utf8PathBuf>, contents: impl Into<String>) {
        self.insert(path.into(), contents.into(), false);
    }

    /// Add an executable script.
    pub fn add_script(&mut self, path: impl Into<Utf8PathBuf>, contents: impl Into<String>) {
        self.insert(path.into(), contents.into(), true);
    }

    fn insert(&mut self, path: Utf8PathBuf, mut contents: String, executable: bool) {
        debug_assert!(
            path.is_relative() && !path.as_str().contains(".."),
            "bad path {path}"
        );
        // One trailing newline, LF only: the same bytes on every machine.
        if contents.contains('\r') {
            contents = contents.replace("\r\n", "\n");
        }
        while contents.ends_with("\n\n") {
            contents.pop();
        }
        if !contents.ends_with('\n') {
            contents.push('\n');
        }
        let previous = self.files.insert(
            path.clone(),
            File {
                contents,
                executable,
            },
        );
        debug_assert!(previous.is_none(), "{path} rendered twice");
    }

    pub fn get(&self, path: impl AsRef<Utf8Path>) -> Option<&File> {
        self.files.get(path.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Utf8PathBuf, &File)> {
        self.files.iter()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
