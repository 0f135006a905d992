//! No input makes homelabgen panic: thousands of mutations of the default spec
//! (byte flips, truncations, spliced lines) either load or give diagnostics, and
//! every spec that loads renders. Deterministic: a fixed-seed generator.

use std::path::Path;

/// xorshift64*: small, fixed-seed, good enough to scatter mutations.
#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const INTERESTING: &[&str] = &[
    "", "0", "-1", "99999999999999999999", "1.5", "~", "null", "[]", "{}", "&a x", "*a", "!!binary AA==",
    "\"\\u0000\"", "'", "\"", ":", "- -", "? x", "|", ">", "\t", "é", "../..", "/etc/passwd",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(lines.len());
        match rng.below(5) {
            0 => {
                // Replace the value after the first `: ` with something interesting.
                if let Some(pos) = lines[i].find(": ") {
                    let value = INTERESTING[rng.below(INTERESTING.len())];
                    lines[i] = format!("{}: {value}", &lines[i][..pos]);
                }
            }
            1 => {
                let j = rng.below(lines.len());
                let copy = lines[j].clone();
                lines.insert(i, copy);
            }
            2 => {
                lines.remove(i);
            }
            3 => {
                let mut bytes = lines[i].clone().into_bytes();
                if !bytes.is_empty() {
                    let k = rng.below(bytes.len());
                    const NASTY: &[u8] = b" :-[]{}&*!|>'\"#,?0aZ\t";
                    bytes[k] = NASTY[rng.below(NASTY.len())];
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {
                lines.truncate(i);
            }
        }
        if lines.is_empty() {
            break;
        }
    }
    lines.join("\n")
}

#[test]
fn mutated_specs_never_panic_and_valid_ones_render() {
    let spec = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/specs/k3s-single.yaml"),
    )
    .unwrap();
    let (mut rng, rounds) = rng::campaign("robustness", 0x5EED_1234_ABCD_0001, 1000);
    let (mut rendered, mut rejected) = (0, 0);
    for _ in 0..rounds {
        let text = mutate(&mut rng, &spec);
        match homelabgen_spec::from_str("spec/homelab.yaml", &text) {
            Ok(model) => {
                let tree = homelabgen_render::render(&model);
                assert!(!tree.is_empty());
                rendered += 1;
            }
            Err(diagnostics) => {
                assert!(!diagnostics.0.is_empty());
                for d in &diagnostics.0 {
                    assert!(!d.message.is_empty(), "empty message for:\n{text}");
                }
                rejected += 1;
            }
        }
    }
    // Both paths must be exercised, or the test proves nothing.
    eprintln!("robustness: {rendered} rendered, {rejected} refused");
    assert!(
        rendered > rounds / 20 && rejected > rounds / 20,
        "rendered {rendered}, rejected {rejected}"
    );
}
