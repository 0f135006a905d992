//! The render cache: which tree a spec renders to, remembered per homelabgen build, so
//! that `diff` on an unchanged spec checks the files on disk instead of rendering again.
//!
//! A render is a pure function of three inputs: the running binary, the spec's bytes
//! and the name generated headers give the spec (`input::spec_header_name`). Nothing
//! else is read: no other file, no environment variable, no clock. So once a render (or
//! a diff that found nothing to change) has seen that those inputs give a tree whose
//! files digest to D (`sync::Plan::digest`), any later run with the same inputs would
//! render a tree that digests to D again. `diff` then only has to show that the output
//! directory holds exactly that tree (`sync::matches_digest`: every file read and
//! hashed, its mode, the manifest, no temp files) to know a render would change
//! nothing. Any other outcome, or any doubt, falls back to the full render and
//! comparison, which also prints the diff.
//!
//! The key is the SHA-256 of those inputs. The binary is named by its GNU build ID (the
//! linker's hash of the whole executable), read from `/proc/self/exe`; without one (not
//! Linux, or a linker that wrote none) nothing is cached and every diff renders.
//!
//! Entries live in `$HOMELABGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/homelabgen/renders`,
//! else `~/.cache/homelabgen/renders`: one small file per key, named by the key, holding
//! the digest. `HOMELABGEN_CACHE=off` (or `diff --no-cache`) turns the cache off. A
//! missing, unreadable or malformed entry is a miss; a cache that cannot be written is
//! silently not written. At most `MAX_ENTRIES` are kept (the oldest go first).

use crate::sync::hex;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// How many entries the cache keeps; each is ~100 bytes.
const MAX_ENTRIES: usize = 256;
/// The first line of an entry; a later format changes it (and so misses).
const ENTRY_HEADER: &str = "homelabgen render cache v1";

/// The inputs of one render, as a cache key.
pub struct Key(String);

impl Key {
    /// The key of rendering `spec` (its bytes) with headers naming it `header_name`, by
    /// this binary. `None` when the binary has no build ID.
    pub fn new(spec: &[u8], header_name: &str) -> Option<Key> {
        Self::with_build_id(&build_id()?, spec, header_name)
    }

    fn with_build_id(build_id: &[u8], spec: &[u8], header_name: &str) -> Option<Key> {
        let mut h = Sha256::new();
        // Each part is length-prefixed, so no two different inputs give the same bytes.
        for part in [
            ENTRY_HEADER.as_bytes(),
            env!("CARGO_PKG_VERSION").as_bytes(),
            build_id,
            header_name.as_bytes(),
            spec,
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        Some(Key(hex(&h.finalize())))
    }
}

/// Where entries are kept, or `None` when the cache is off or there is no place for it.
fn dir() -> Option<PathBuf> {
    if std::env::var_os("HOMELABGEN_CACHE").is_some_and(|v| v == "off") {
        return None;
    }
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("HOMELABGEN_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("homelabgen").join("renders"))
}

/// The digest recorded for `key`, if there is a well-formed entry.
pub fn lookup(key: &Key) -> Option<String> {
    let path = dir()?.join(&key.0);
    // An entry is two short lines; anything else is not one.
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 512 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let mut lines = text.lines();
    if lines.next() != Some(ENTRY_HEADER) {
        return None;
    }
    let digest = lines.next()?;
    (is_hex_digest(digest) && lines.next().is_none()).then(|| digest.to_owned())
}

/// Record that `key`'s inputs render to a tree with `digest`. Best effort: a cache that
/// cannot be written only makes later diffs slower.
pub fn store(key: &Key, digest: &str) {
    let Some(dir) = dir() else { return };
    if lookup(key).as_deref() == Some(digest) {
        return;
    }
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    // Written whole under a unique name, then renamed: a reader sees all of it or none.
    let tmp = dir.join(format!(".{}.{}.tmp", key.0, std::process::id()));
    let text = format!("{ENTRY_HEADER}\n{digest}\n");
    if std::fs::write(&tmp, text).is_err() || std::fs::rename(&tmp, dir.join(&key.0)).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    prune(&dir);
}

/// Keep the newest `MAX_ENTRIES` entries.
fn prune(dir: &std::path::Path) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = read
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_hex_digest))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if entries.len() <= MAX_ENTRIES {
        return;
    }
    entries.sort();
    for (_, path) in &entries[..entries.len() - MAX_ENTRIES] {
        let _ = std::fs::remove_file(path);
    }
}

fn is_hex_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The GNU build ID of the running executable: the `NT_GNU_BUILD_ID` note of its ELF
/// program headers, read from `/proc/self/exe` (the file that is running, even if it
/// has since been replaced on disk).
#[cfg(target_os = "linux")]
pub fn build_id() -> Option<Vec<u8>> {
    let exe = std::fs::File::open("/proc/self/exe").ok()?;
    build_id_of(&exe)
}

#[cfg(not(target_os = "linux"))]
pub fn build_id() -> Option<Vec<u8>> {
    None
}

/// The build ID in the notes of a 64-bit little-endian ELF file.
#[cfg(unix)]
fn build_id_of(file: &std::fs::File) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    const PT_NOTE: u32 = 4;
    const NT_GNU_BUILD_ID: u32 = 3;
    let u16_at =
        |b: &[u8], at: usize| Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
    let u32_at =
        |b: &[u8], at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let u64_at =
        |b: &[u8], at: usize| Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?));

    let mut header = [0u8; 64];
    file.read_exact_at(&mut header, 0).ok()?;
    // ELF magic, ELFCLASS64, ELFDATA2LSB.
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let (phoff, phentsize, phnum) = (
        u64_at(&header, 32)?,
        usize::from(u16_at(&header, 54)?),
        usize::from(u16_at(&header, 56)?),
    );
    if phentsize < 56 || phnum > 128 {
        return None;
    }
    let mut table = vec![0u8; phentsize * phnum];
    file.read_exact_at(&mut table, phoff).ok()?;
    for ph in table.chunks_exact(phentsize) {
        if u32_at(ph, 0)? != PT_NOTE {
            continue;
        }
        let (offset, size) = (u64_at(ph, 8)?, u64_at(ph, 32)?);
        if size > 64 * 1024 {
            continue;
        }
        let mut notes = vec![0u8; usize::try_from(size).ok()?];
        file.read_exact_at(&mut notes, offset).ok()?;
        // Each note: namesz, descsz, type, then name and desc, each padded to 4 bytes.
        let mut at = 0;
        while at + 12 <= notes.len() {
            let namesz = usize::try_from(u32_at(&notes, at)?).ok()?;
            let descsz = usize::try_from(u32_at(&notes, at + 4)?).ok()?;
            let kind = u32_at(&notes, at + 8)?;
            let name_at = at + 12;
            let desc_at = name_at.checked_add(namesz.checked_add(3)? & !3)?;
            let end = desc_at.checked_add(descsz.checked_add(3)? & !3)?;
            let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
            if kind == NT_GNU_BUILD_ID
                && notes.get(name_at..name_at + namesz)? == b"GNU\0"
                && desc.len() >= 8
            {
                return Some(desc.to_vec());
            }
            at = end;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    fn the_test_binary_has_a_build_id() {
        // The Rust toolchain's linkers write one by default on these targets; without
        // it the cache would silently be off.
        let id = build_id().expect("no GNU build ID in the running executable");
        assert!(id.len() >= 8 && id.iter().any(|&b| b != 0), "{id:?}");
    }

    #[test]
    fn a_file_that_is_not_elf_has_no_build_id() {
        let dir = tempfile::tempdir().unwrap();
        for bytes in [
            &b""[..],
            b"#!/bin/sh\n",
            &[0x7f, b'E', b'L', b'F', 1, 1][..],
        ] {
            let path = dir.path().join("f");
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(build_id_of(&std::fs::File::open(&path).unwrap()), None);
        }
    }

    #[test]
    fn every_input_changes_the_key() {
        let key =
            |id: &[u8], spec: &[u8], name: &str| Key::with_build_id(id, spec, name).unwrap().0;
        let base = key(b"build-id", b"site: {}\n", "spec/homelab.yaml");
        assert!(is_hex_digest(&base));
        assert_eq!(base, key(b"build-id", b"site: {}\n", "spec/homelab.yaml"));
        assert_ne!(base, key(b"build-iD", b"site: {}\n", "spec/homelab.yaml"));
        assert_ne!(base, key(b"build-id", b"site: {} \n", "spec/homelab.yaml"));
        assert_ne!(base, key(b"build-id", b"site: {}\n", "homelab.yaml"));
        // Moving bytes between parts is a different key (length prefixes).
        assert_ne!(key(b"ab", b"c", "x"), key(b"a", b"bc", "x"));
    }
}
