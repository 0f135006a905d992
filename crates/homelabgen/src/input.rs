//! The spec as input: read it within bounds, and name it in generated headers
//! independently of how its path is spelled.

use camino::Utf8Path;

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
pub fn spec_header_name(spec: &Utf8Path, out: &Utf8Path) -> String {
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
pub fn read_spec(spec: &Utf8Path) -> std::io::Result<Vec<u8>> {
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
