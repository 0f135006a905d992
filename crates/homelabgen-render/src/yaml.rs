//! Kubernetes manifests and other YAML: serialized from typed values, never templated.

use serde::Serialize;

/// One YAML document with the generated-file header as a comment.
pub fn document(header: &str, value: &impl Serialize) -> String {
    format!("# {header}\n{}", to_string(value))
}

/// Several documents in one file, separated by `---`.
pub fn documents<T: Serialize>(header: &str, values: &[T]) -> String {
    let mut out = format!("# {header}\n");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_string(value));
    }
    out
}

/// Serialize a value to YAML. Serializing plain data (structs, maps, strings,
/// numbers) cannot fail; a failure would be a renderer bug caught by its tests.
pub fn to_string(value: &impl Serialize) -> String {
    match serde_saphyr::to_string(value) {
        Ok(text) => text,
        Err(err) => panic!("YAML serialization failed: {err}"),
    }
}
