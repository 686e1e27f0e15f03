//! `--shard K/N`: which records of an input one of N machines embeds.
//!
//! The split is by record index into N contiguous ranges: part K (1-based) takes the
//! records `⌊(K−1)·T/N⌋ .. ⌊K·T/N⌋` of the T records of the whole input (0-based, end
//! excluded). Contiguous ranges keep input order, so the parts written one after the
//! other are the whole output row for row, and sizes differ by at most one record.
//! Pure arithmetic: no I/O.

use std::ops::Range;

use crate::error::{Error, Result};

/// Part `index` of `count` (both 1-based: `1/3`, `2/3`, `3/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Part `index` of `count`; `1 ≤ index ≤ count`.
    pub fn new(index: u64, count: u64) -> Result<Self> {
        if count == 0 || index == 0 || index > count {
            return Err(bad_shard(&format!("{index}/{count}")));
        }
        Ok(Shard { index, count })
    }

    /// K, 1-based.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// N.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The 0-based record indices of this part of an input of `total` records.
    pub fn range(&self, total: u64) -> Range<u64> {
        let at = |k: u64| (u128::from(total) * u128::from(k) / u128::from(self.count)) as u64;
        at(self.index - 1)..at(self.index)
    }
}

fn bad_shard(s: &str) -> Error {
    Error::Invalid(format!(
        "--shard {s:?}: expected K/N with 1 ≤ K ≤ N (part K of N, e.g. 2/3; K is 1-based: a Kubernetes JOB_COMPLETION_INDEX needs +1)"
    ))
}

impl std::str::FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (k, n) = s.trim().split_once('/').ok_or_else(|| bad_shard(s))?;
        let num = |x: &str| x.trim().parse::<u64>().map_err(|_| bad_shard(s));
        Shard::new(num(k)?, num(n)?).map_err(|_| bad_shard(s))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn parts_cover_the_whole_in_order() {
        for total in [0u64, 1, 2, 3, 10, 299, 300, 301, 1_000_003] {
            for n in 1..=7u64 {
                let mut next = 0;
                for k in 1..=n {
                    let r = Shard::new(k, n).map(|s| s.range(total)).unwrap_or(0..0);
                    assert_eq!(r.start, next, "{k}/{n} of {total}");
                    assert!(r.end - r.start <= total / n + 1);
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn parse_and_refuse() {
        assert_eq!("2/3".parse::<Shard>().ok(), Shard::new(2, 3).ok());
        assert_eq!(
            " 3 / 3 ".parse::<Shard>().map(|s| s.to_string()).ok(),
            Some("3/3".into())
        );
        for bad in [
            "0/3", "4/3", "1/0", "x", "", "1/", "/3", "1/3/3", "-1/3", "1.5/3", "a/b",
        ] {
            let e = bad
                .parse::<Shard>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("expected K/N"), "{bad:?}: {e}");
        }
        assert_eq!(Shard::new(1, 3).map(|s| s.range(300)).ok(), Some(0..100));
        assert_eq!(Shard::new(3, 3).map(|s| s.range(10)).ok(), Some(6..10));
    }
}
