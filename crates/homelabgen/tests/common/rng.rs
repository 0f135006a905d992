//! A tiny seeded xorshift generator shared by the mutation tests: the same seed gives the
//! same mutations on every machine, with no dependency.

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The seed and number of rounds of a mutation campaign: the test's own defaults (what CI
/// runs), or `HOMELABGEN_FUZZ_SEED` (decimal or 0x-hex) and `HOMELABGEN_FUZZ_ROUNDS` for a
/// longer or different run by hand. The seed is printed, so any failure can be replayed.
#[allow(dead_code)] // each test binary uses part of this module
pub fn campaign(name: &str, seed: u64, rounds: usize) -> (Rng, usize) {
    let parse = |v: String| match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    };
    let seed = std::env::var("HOMELABGEN_FUZZ_SEED")
        .ok()
        .map(|v| parse(v).expect("HOMELABGEN_FUZZ_SEED: a number"))
        .unwrap_or(seed);
    let rounds = std::env::var("HOMELABGEN_FUZZ_ROUNDS")
        .ok()
        .map(|v| v.parse().expect("HOMELABGEN_FUZZ_ROUNDS: a number"))
        .unwrap_or(rounds);
    eprintln!("{name}: seed {seed:#x}, {rounds} rounds");
    // xorshift never leaves 0.
    (Rng(seed.max(1)), rounds)
}
