//! A tiny seeded random number generator (SplitMix64) so training and the offline
//! evaluation repeat exactly from a seed, without a `rand` dependency. Not for
//! cryptography; statistical quality is ample for shuffling and sampling.

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014; constants from Vigna's public-domain `splitmix64.c`).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator for one item of a stream (a user, a day), independent of the order
    /// in which items are processed: runs in parallel repeat exactly.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut g = SplitMix64::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        g.next_u64();
        g
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (the tiny
    /// bias for huge `n` does not matter here).
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range_inclusive(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// `k` distinct items of `pool` drawn uniformly (all of them, shuffled, when
    /// `k >= pool.len()`). Partial Fisher-Yates on a copy: O(len) memory, O(k) swaps.
    pub fn sample<T: Copy>(&mut self, pool: &[T], k: usize) -> Vec<T> {
        let mut v = pool.to_vec();
        let k = k.min(v.len());
        for i in 0..k {
            let j = i + self.below(v.len() - i);
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_streams_differ() {
        let draw = |seed| {
            let mut g = SplitMix64::new(seed);
            [g.next_u64(), g.next_u64(), g.next_u64()]
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert_ne!(
            SplitMix64::derive(7, 1).next_u64(),
            SplitMix64::derive(7, 2).next_u64()
        );
    }

    #[test]
    fn splitmix_reference_value() {
        // First output of Vigna's splitmix64.c seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn below_is_roughly_uniform_and_sample_is_distinct() {
        let mut g = SplitMix64::new(1);
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[g.below(4)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        let pool: Vec<usize> = (0..100).collect();
        let mut s = g.sample(&pool, 30);
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 30);
        assert_eq!(g.sample(&pool, 500).len(), 100);
    }
}
