//! The papers of a library in memory without their records: per paper (numbered by
//! its `key`, the order it entered the library) what opening, id lookup and filtering
//! need — id, listing day, and where its record is in the papers log — read from the
//! papers index file `papers-C.idx` (format version 4) rather than by parsing the log;
//! and the records themselves, parsed on first access and kept ([`Papers::cache`]).
//!
//! # The papers index file (`papers-C.idx`)
//!
//! Written whole by every commit under a new name (`C` = that commit), fsynced before
//! the manifest names it with its length and CRC-32; little-endian throughout:
//!
//! ```text
//! magic "PSPAPIX1"
//! u64 papers n, u64 records (lines of the log), u64 log bytes (committed length),
//! u64 id bytes, u64 category bytes
//! n × u32   vector row of each paper (by key)
//! n × i32   listing day (days from 0001-01-01, CE; i32::MIN: none)
//! n × u64   byte offset of the paper's current record in the log
//! n × u32   its length (without the newline)
//! n × u32   end of each id in the id bytes
//! n × u32   the keys in id order (binary search by id)
//! id bytes  the canonical ids, concatenated (UTF-8)
//! category bytes  every category any paper has had, '\n'-separated
//! ```

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};

use crate::paper::Paper;

/// First bytes of a papers index file.
pub(crate) const INDEX_MAGIC: &[u8; 8] = b"PSPAPIX1";
const HEADER: usize = 8 + 5 * 8;
const NO_DAY: i32 = i32::MIN;

/// A paper's stored record: the paper and the sha256 of the text its vector was
/// made from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub paper: Paper,
    pub text_sha256: String,
}

/// The papers' metadata by key, and their records once parsed.
#[derive(Debug, Default)]
pub(crate) struct Papers {
    ids: String,
    id_ends: Vec<u32>,
    listed: Vec<i32>,
    offsets: Vec<u64>,
    lens: Vec<u32>,
    /// Keys `0..sorted.len()` in id order; keys after them are in `added`.
    sorted: Vec<u32>,
    added: HashMap<String, u32>,
    categories: BTreeSet<String>,
    /// Each paper's record once parsed (or upserted by a writer).
    pub(crate) cache: Vec<OnceLock<Box<Entry>>>,
}

pub(crate) fn day_code(d: Option<NaiveDate>) -> i32 {
    d.map_or(NO_DAY, |d| d.num_days_from_ce())
}

pub(crate) fn day_from_code(code: i32) -> Option<NaiveDate> {
    day_of(code)
}

fn day_of(code: i32) -> Option<NaiveDate> {
    (code != NO_DAY)
        .then(|| NaiveDate::from_num_days_from_ce_opt(code))
        .flatten()
}

impl Papers {
    pub(crate) fn len(&self) -> usize {
        self.id_ends.len()
    }

    pub(crate) fn id(&self, key: usize) -> &str {
        let start = if key == 0 {
            0
        } else {
            self.id_ends[key - 1] as usize
        };
        self.ids
            .get(start..self.id_ends[key] as usize)
            .unwrap_or("")
    }

    pub(crate) fn listed(&self, key: usize) -> Option<NaiveDate> {
        day_of(self.listed[key])
    }

    /// Listing days by key, as day numbers ([`day_code`]).
    pub(crate) fn listed_codes(&self) -> &[i32] {
        &self.listed
    }

    pub(crate) fn loc(&self, key: usize) -> (u64, u32) {
        (self.offsets[key], self.lens[key])
    }

    pub(crate) fn set_loc(&mut self, key: usize, loc: (u64, u32)) {
        self.offsets[key] = loc.0;
        self.lens[key] = loc.1;
    }

    pub(crate) fn categories(&self) -> &BTreeSet<String> {
        &self.categories
    }

    /// The key of canonical id `id`.
    pub(crate) fn key(&self, id: &str) -> Option<usize> {
        if let Ok(i) = self
            .sorted
            .binary_search_by(|&k| self.id(k as usize).cmp(id))
        {
            return Some(self.sorted[i] as usize);
        }
        self.added.get(id).map(|&k| k as usize)
    }

    /// Add a paper (its id must be new); returns its key.
    pub(crate) fn push(&mut self, id: &str, listed: Option<NaiveDate>, loc: (u64, u32)) -> usize {
        let key = self.len();
        self.ids.push_str(id);
        self.id_ends.push(self.ids.len() as u32);
        self.listed.push(day_code(listed));
        self.offsets.push(loc.0);
        self.lens.push(loc.1);
        self.cache.push(OnceLock::new());
        self.added.insert(id.to_string(), key as u32);
        key
    }

    /// Record what an upsert or a parsed record says of paper `key`.
    pub(crate) fn set_entry(&mut self, key: usize, entry: Entry) {
        self.listed[key] = day_code(entry.paper.listed);
        self.note_categories(&entry.paper);
        self.cache[key] = OnceLock::from(Box::new(entry));
    }

    pub(crate) fn note_categories(&mut self, p: &Paper) {
        for c in &p.categories {
            if !self.categories.contains(c) && !c.contains('\n') {
                self.categories.insert(c.clone());
            }
        }
    }

    /// Fold the keys added since the last index into the id order.
    pub(crate) fn settle(&mut self) {
        if self.added.is_empty() {
            return;
        }
        let mut new: Vec<u32> = self.added.drain().map(|(_, k)| k).collect();
        new.sort_unstable_by(|&a, &b| self.id(a as usize).cmp(self.id(b as usize)));
        let old = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(old.len() + new.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() && j < new.len() {
            if self.id(old[i] as usize) <= self.id(new[j] as usize) {
                merged.push(old[i]);
                i += 1;
            } else {
                merged.push(new[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&old[i..]);
        merged.extend_from_slice(&new[j..]);
        self.sorted = merged;
    }

    /// The index file's bytes (call [`Papers::settle`] first), with each paper's row
    /// and record location given by `row` and `loc`.
    pub(crate) fn encode(
        &self,
        row: &dyn Fn(usize) -> usize,
        loc: &dyn Fn(usize) -> (u64, u32),
        records: usize,
        log_bytes: u64,
    ) -> Vec<u8> {
        let n = self.len();
        let cats: String = self
            .categories
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n");
        let mut out = Vec::with_capacity(HEADER + n * 28 + self.ids.len() + cats.len());
        out.extend_from_slice(INDEX_MAGIC);
        for v in [
            n as u64,
            records as u64,
            log_bytes,
            self.ids.len() as u64,
            cats.len() as u64,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for k in 0..n {
            out.extend_from_slice(&(row(k) as u32).to_le_bytes());
        }
        for &d in &self.listed {
            out.extend_from_slice(&d.to_le_bytes());
        }
        for k in 0..n {
            out.extend_from_slice(&loc(k).0.to_le_bytes());
        }
        for k in 0..n {
            out.extend_from_slice(&loc(k).1.to_le_bytes());
        }
        for &e in &self.id_ends {
            out.extend_from_slice(&e.to_le_bytes());
        }
        for &k in &self.sorted {
            out.extend_from_slice(&k.to_le_bytes());
        }
        out.extend_from_slice(self.ids.as_bytes());
        out.extend_from_slice(cats.as_bytes());
        out
    }

    /// Read an index file's bytes: the papers (records not parsed) and each one's
    /// row, with the header's (records, log bytes). Checks that every part is in
    /// range; `Err` says what is wrong.
    pub(crate) fn decode(bytes: &[u8]) -> Result<(Papers, Vec<usize>, usize, u64), String> {
        if bytes.len() < HEADER || &bytes[..8] != INDEX_MAGIC {
            return Err("not a papers index file (bad magic or too short)".into());
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let n = u64_at(8) as usize;
        let records = u64_at(16) as usize;
        let log_bytes = u64_at(24);
        let id_bytes = u64_at(32) as usize;
        let cat_bytes = u64_at(40) as usize;
        let want = n
            .checked_mul(28)
            .and_then(|x| x.checked_add(HEADER))
            .and_then(|x| x.checked_add(id_bytes))
            .and_then(|x| x.checked_add(cat_bytes));
        if want != Some(bytes.len()) {
            return Err(format!(
                "{} bytes for {n} papers, {id_bytes} id bytes and {cat_bytes} category bytes: the file is truncated or corrupt",
                bytes.len()
            ));
        }
        let mut at = HEADER;
        let mut col = |width: usize| {
            let s = &bytes[at..at + n * width];
            at += n * width;
            s
        };
        let u32s = |s: &[u8]| -> Vec<u32> {
            s.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let rows: Vec<usize> = u32s(col(4)).into_iter().map(|r| r as usize).collect();
        let listed: Vec<i32> = col(4)
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let offsets: Vec<u64> = col(8)
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_le_bytes(b)
            })
            .collect();
        let lens = u32s(col(4));
        let id_ends = u32s(col(4));
        let sorted = u32s(col(4));
        let ids = std::str::from_utf8(&bytes[at..at + id_bytes])
            .map_err(|_| "the ids are not UTF-8".to_string())?
            .to_string();
        let cats = std::str::from_utf8(&bytes[at + id_bytes..])
            .map_err(|_| "the categories are not UTF-8".to_string())?;
        let mut prev = 0usize;
        for (k, &e) in id_ends.iter().enumerate() {
            let e = e as usize;
            if e < prev || e > ids.len() || !ids.is_char_boundary(e) || e == prev {
                return Err(format!("the id of paper {k} is out of range or empty"));
            }
            prev = e;
        }
        if prev != ids.len() {
            return Err("the ids do not fill the id bytes".into());
        }
        for k in 0..n {
            if offsets[k].saturating_add(u64::from(lens[k])) >= log_bytes.max(1) || lens[k] == 0 {
                return Err(format!(
                    "the record of paper {k} (bytes {}+{}) is outside the {log_bytes} committed bytes of the log",
                    offsets[k], lens[k]
                ));
            }
        }
        let categories: BTreeSet<String> = cats
            .split('\n')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let papers = Papers {
            ids,
            id_ends,
            listed,
            offsets,
            lens,
            sorted,
            added: HashMap::new(),
            categories,
            cache: (0..n).map(|_| OnceLock::new()).collect(),
        };
        // The id order: a permutation of the keys, strictly ascending by id.
        let mut seen = vec![false; n];
        for (i, &k) in papers.sorted.iter().enumerate() {
            let k = k as usize;
            if k >= n || std::mem::replace(&mut seen[k], true) {
                return Err("the id order is not a permutation of the papers".into());
            }
            if i > 0 && papers.id(papers.sorted[i - 1] as usize) >= papers.id(k) {
                return Err(format!(
                    "the id order is not ascending at paper {}",
                    papers.id(k)
                ));
            }
        }
        Ok((papers, rows, records, log_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_finds_ids() {
        let mut p = Papers::default();
        let day = NaiveDate::from_ymd_opt(2026, 5, 4);
        for (i, id) in ["2605.3", "2605.1", "2605.2"].iter().enumerate() {
            let k = p.push(id, if i == 1 { None } else { day }, (i as u64 * 10, 9));
            assert_eq!(k, i);
        }
        p.settle();
        p.push("2605.0", day, (30, 9));
        assert_eq!(p.key("2605.0"), Some(3));
        p.settle();
        let bytes = p.encode(&|k| 10 + k, &|k| p.loc(k), 4, 40);
        let (q, rows, records, log) = Papers::decode(&bytes).unwrap();
        assert_eq!((records, log), (4, 40));
        assert_eq!(rows, vec![10, 11, 12, 13]);
        for id in ["2605.0", "2605.1", "2605.2", "2605.3"] {
            assert_eq!(q.id(q.key(id).unwrap()), id);
        }
        assert_eq!(q.key("2605.9"), None);
        assert_eq!(q.listed(1), None);
        assert_eq!(q.listed(0), day);
        let mut bad = bytes.clone();
        bad.truncate(bytes.len() - 1);
        assert!(Papers::decode(&bad).is_err());
    }
}
