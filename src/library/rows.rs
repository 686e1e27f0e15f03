//! Where a library's vectors live in memory: the committed rows of the vectors file,
//! mapped (never read into a buffer), and the rows upserted since the last commit
//! (a writer's only), in a buffer after them. Both the exact scans and the graph search
//! read rows from here: it is the one copy of the vectors a reader holds.
//!
//! Mapping a file costs nothing at open; a row is read from disk (or the page cache)
//! the first time it is touched, and the kernel may drop clean pages again under memory
//! pressure. The committed prefix of a vectors file is never modified (commits append,
//! compaction writes a new file), which is what makes the mapping safe to read while a
//! writer appends; truncating the file under a reader (by hand) would make reading the
//! lost rows fault, which the length check at open guards against for the file as it was
//! then.

use std::fs::File;
use std::path::Path;

use crate::{Error, Result};

/// What a graph search needs of the vectors: row `r`'s values.
pub(crate) trait RowSource: Sync {
    /// Row `r` (`r < len()`).
    fn row(&self, r: usize) -> &[f32];
    /// Number of rows.
    fn len(&self) -> usize;
    /// Values per row.
    fn dim(&self) -> usize;
}

/// Approximate nearest-neighbour search over a library's vector rows: the seam where
/// another engine plugs in when one machine is not enough (README, "Beyond one
/// machine"). The library owns identity, the papers and exact re-scoring; an engine
/// only answers "which rows are near this unit vector". Today's engine is the HNSW
/// graph ([`super::index::Index`]) walked over the mapped vectors ([`GraphSearch`]);
/// an engine holding the vectors elsewhere (PostgreSQL + pgvector, Qdrant) would
/// implement this trait with the row number as its point id, and the store's searches
/// (`Library::nearest`, `nearest_approx`) would call it instead.
pub trait VectorSearch: Send + Sync {
    /// The rows the engine holds are `0..covered()`; rows after them (committed since
    /// the engine was last brought up to date) are scanned exactly by the library.
    fn covered(&self) -> usize;

    /// Up to `k` rows nearest to the unit vector `query`, nearest first, examining
    /// about `ef` candidates; with `keep`, only rows it accepts (fewer than `k` when the
    /// engine meets fewer: the library then scans exactly).
    fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(usize) -> bool>,
    ) -> Vec<usize>;
}

/// The engine of a library on one machine: its HNSW graph walked over its own rows.
pub(crate) struct GraphSearch<'a> {
    pub(crate) index: &'a super::index::Index,
    pub(crate) rows: &'a Vectors,
}

impl VectorSearch for GraphSearch<'_> {
    fn covered(&self) -> usize {
        self.index.len()
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(usize) -> bool>,
    ) -> Vec<usize> {
        self.index.search_in(self.rows, query, k, ef, keep)
    }
}

/// The rows of a library: `mapped` rows from the file, then `tail`.
pub(crate) struct Vectors {
    dim: usize,
    /// The committed rows as mapped from the vectors file (`None` when there are none,
    /// or after a compaction, whose rows are all in `tail`).
    map: Option<memmap2::Mmap>,
    mapped: usize,
    /// Rows `mapped..`, row-major.
    tail: Vec<f32>,
}

impl std::fmt::Debug for Vectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vectors")
            .field("dim", &self.dim)
            .field("mapped", &self.mapped)
            .field("in_memory", &(self.tail.len() / self.dim.max(1)))
            .finish()
    }
}

impl Vectors {
    /// Rows held in memory (`values` row-major, `dim` each).
    pub(crate) fn in_memory(dim: usize, values: Vec<f32>) -> Vectors {
        Vectors {
            dim,
            map: None,
            mapped: 0,
            tail: values,
        }
    }

    /// The first `rows` rows of the vectors file `path`, mapped. Fails if the file is
    /// shorter than that.
    pub(crate) fn map(path: &Path, rows: usize, dim: usize) -> Result<Vectors> {
        let bytes = rows
            .checked_mul(dim)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| Error::Library {
                path: path.to_path_buf(),
                message: "vector count overflows".into(),
            })?;
        if bytes == 0 || cfg!(target_endian = "big") {
            // Nothing to map; or a big-endian machine, which reads the little-endian
            // file into memory value by value.
            let values = if bytes == 0 {
                Vec::new()
            } else {
                read_values(path, bytes)?
            };
            return Ok(Vectors::in_memory(dim, values));
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let have = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if have < bytes as u64 {
            return Err(Error::Library {
                path: path.to_path_buf(),
                message: format!(
                    "has {have} bytes, the manifest committed {bytes}: the file was truncated"
                ),
            });
        }
        // SAFETY: the mapping is read-only and covers the committed prefix, which no
        // writer modifies (see the module doc); its length was checked just above.
        let map = unsafe { memmap2::MmapOptions::new().len(bytes).map(&file) }
            .map_err(|e| Error::io(path, e))?;
        // A page-aligned mapping is aligned for f32.
        if map.as_ptr().align_offset(std::mem::align_of::<f32>()) != 0 {
            return Ok(Vectors::in_memory(dim, read_values(path, bytes)?));
        }
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Vectors {
            dim,
            map: Some(map),
            mapped: rows,
            tail: Vec::new(),
        })
    }

    /// Values per row.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.mapped + self.tail.len() / self.dim.max(1)
    }

    /// Every mapped value, as f32 (empty when nothing is mapped).
    fn mapped_values(&self) -> &[f32] {
        match &self.map {
            // SAFETY: the mapping is aligned for f32 (checked when made), holds
            // `mapped * dim` f32 (its length was computed so), lives as long as `self`,
            // and little-endian f32 bytes are the in-memory f32 on this target (a
            // big-endian one never maps).
            Some(m) => unsafe {
                std::slice::from_raw_parts(m.as_ptr().cast::<f32>(), self.mapped * self.dim)
            },
            None => &[],
        }
    }

    /// Row `r`.
    #[inline]
    pub(crate) fn row(&self, r: usize) -> &[f32] {
        let d = self.dim;
        if r < self.mapped {
            &self.mapped_values()[r * d..(r + 1) * d]
        } else {
            let t = r - self.mapped;
            &self.tail[t * d..(t + 1) * d]
        }
    }

    /// Append one row.
    pub(crate) fn push(&mut self, v: &[f32]) {
        self.tail.extend_from_slice(v);
    }

    /// The values of rows `from..` (for a commit, which writes the rows upserted since
    /// the last one: those are always in memory).
    pub(crate) fn values_from(&self, from: usize) -> Vec<f32> {
        (from..self.len())
            .flat_map(|r| self.row(r).iter().copied())
            .collect()
    }

    /// Rows `from..to` as one row-major block (copied when they are not one already).
    pub(crate) fn block(&self, from: usize, to: usize) -> std::borrow::Cow<'_, [f32]> {
        let d = self.dim;
        if to <= self.mapped {
            std::borrow::Cow::Borrowed(&self.mapped_values()[from * d..to * d])
        } else if from >= self.mapped {
            let (a, b) = (from - self.mapped, to - self.mapped);
            std::borrow::Cow::Borrowed(&self.tail[a * d..b * d])
        } else {
            std::borrow::Cow::Owned(
                (from..to)
                    .flat_map(|r| self.row(r).iter().copied())
                    .collect(),
            )
        }
    }
}

impl RowSource for Vectors {
    #[inline]
    fn row(&self, r: usize) -> &[f32] {
        Vectors::row(self, r)
    }
    fn len(&self) -> usize {
        Vectors::len(self)
    }
    fn dim(&self) -> usize {
        self.dim
    }
}

/// The first `bytes` bytes of `path` as little-endian f32.
fn read_values(path: &Path, bytes: usize) -> Result<Vec<f32>> {
    use std::io::Read;
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let have = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if have < bytes as u64 {
        return Err(Error::Library {
            path: path.to_path_buf(),
            message: format!(
                "has {have} bytes, the manifest committed {bytes}: the file was truncated"
            ),
        });
    }
    let mut raw = vec![0u8; bytes];
    f.read_exact(&mut raw).map_err(|e| Error::io(path, e))?;
    Ok(raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_and_appended_rows_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.f32");
        let values: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        // Two more rows on disk than committed: they must not be seen.
        let mut more = bytes.clone();
        more.extend_from_slice(&[0u8; 24]);
        std::fs::write(&path, &more).unwrap();
        let mut v = Vectors::map(&path, 4, 3).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v.row(2), &[6.0, 7.0, 8.0]);
        v.push(&[9.5, 9.5, 9.5]);
        assert_eq!(v.len(), 5);
        assert_eq!(v.row(4), &[9.5, 9.5, 9.5]);
        assert_eq!(v.values_from(3), vec![9.0, 10.0, 11.0, 9.5, 9.5, 9.5]);
        assert_eq!(v.block(1, 2).as_ref(), &[3.0, 4.0, 5.0]);
        assert_eq!(v.block(3, 5).len(), 6);
        assert!(Vectors::map(&path, 7, 3).is_err(), "shorter than committed");
        assert_eq!(Vectors::map(&path, 0, 3).unwrap().len(), 0);
    }
}
