//! The deterministic random source: SplitMix64, seeded by mixing the seed, the town, an index
//! and a stream number, so that every resident's draws depend on those alone.

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same on every platform.
pub(crate) struct Rng(u64);

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The generator for (seed, town, index, stream).
    pub(crate) fn for_draw(seed: u64, town: u32, index: u64, stream: u64) -> Rng {
        let mut h = mix(seed ^ GAMMA);
        h = mix(h ^ u64::from(town).wrapping_mul(GAMMA));
        h = mix(h ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        h = mix(h ^ stream.wrapping_mul(0x8CB9_2BA7_2F3D_8DD7));
        Rng(h)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`), by the multiply-shift reduction.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index drawn by the cumulative weights `cumulative` (strictly increasing, last is the
    /// total).
    pub(crate) fn weighted(&mut self, cumulative: &[u64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(1).max(1);
        let r = self.below(total);
        cumulative.partition_point(|&c| c <= r).min(cumulative.len().saturating_sub(1))
    }
}
