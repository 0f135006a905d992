//! The rendered tree: relative path → file, sorted, so output order never varies.

use camino::{Utf8Path, Utf8PathBuf};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A plain relative path (`a/b/c`, no `.`, `..`, `//` or trailing `/`) as a map key,
/// ordered exactly as `Utf8Path` orders it (component by component), but compared as
/// bytes: `/` ranks below every other byte, so `a/b` < `a-b` as with components.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathKey(String);

impl PathKey {
    pub fn new(path: impl Into<String>) -> Self {
        PathKey(path.into())
    }

    pub fn as_path(&self) -> &Utf8Path {
        Utf8Path::new(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The order of two plain relative paths, as `Utf8Path::cmp` gives it.
pub fn path_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let rank = |byte: u8| if byte == b'/' { 0 } else { u16::from(byte) + 1 };
    match (a.get(same), b.get(same)) {
        (Some(&x), Some(&y)) => rank(x).cmp(&rank(y)),
        _ => a.len().cmp(&b.len()),
    }
}

impl Ord for PathKey {
    fn cmp(&self, other: &Self) -> Ordering {
        path_cmp(&self.0, &other.0)
    }
}

impl PartialOrd for PathKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub contents: String,
    /// Scripts are written with mode 0755, everything else 0644.
    pub executable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    files: BTreeMap<PathKey, File>,
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
            PathKey(path.as_str().to_owned()),
            File {
                contents,
                executable,
            },
        );
        debug_assert!(previous.is_none(), "{path} rendered twice");
    }

    pub fn get(&self, path: impl AsRef<Utf8Path>) -> Option<&File> {
        // The key is built only for the lookup; `get` is rare next to `iter`.
        self.files.get(&PathKey(path.as_ref().as_str().to_owned()))
    }

    /// Every file, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&Utf8Path, &File)> {
        self.files.iter().map(|(path, file)| (path.as_path(), file))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_order_is_the_order_of_components() {
        let paths = [
            "a",
            "a-b",
            "a/b",
            "a/b/c",
            "a/b-c",
            "a.b",
            "a0",
            "ab",
            "b",
            "B",
            "a/B",
            "-",
            ".x",
            "a/b.c/d",
            "a/b/c.d",
            "tofu/envs/x/main.tf",
            "tofu/envs/x-y/main.tf",
            "tofu/envs/x/tests/x.tftest.hcl",
            "é",
            "z/é",
            "z/e",
        ];
        for a in paths {
            for b in paths {
                assert_eq!(
                    path_cmp(a, b),
                    Utf8Path::new(a).cmp(Utf8Path::new(b)),
                    "{a} vs {b}"
                );
            }
        }
    }
}
