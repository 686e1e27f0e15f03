//! The library: one directory holding papers, their vectors and an HNSW index, safe
//! against crashes, with one writer and any number of readers. It owns the on-disk
//! format, identity and dedup of papers, and nearest-neighbour search (approximate and
//! exact). It does not embed (vectors come from the caller, made by `embed`), parse
//! sources (`ingest`) or rank (`recommend`).
//!
//! # Using it
//!
//! ```no_run
//! # use paperscout::library::{ModelInfo, Writer, WriterOptions, Library};
//! # fn embed(texts: &[String]) -> paperscout::Result<Vec<Vec<f32>>> { unimplemented!() }
//! # fn main() -> paperscout::Result<()> {
//! # let batches: Vec<Vec<paperscout::paper::Paper>> = vec![];
//! let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2", "53aa5117…", 384);
//! let mut w = Writer::open("lib", &model, &WriterOptions::default())?;
//! for batch in &batches {
//!     let plan = w.plan(batch);            // which papers need a vector, and their texts
//!     let vectors = embed(&plan.texts)?;    // unit vectors, one per plan.texts entry
//!     w.upsert(batch, &vectors)?;           // or: w.upsert_with(batch, embed)?
//!     w.commit()?;                          // durable; a kill loses at most this batch
//! }
//! w.finish()?;                              // commit + full index dump, unlock
//!
//! let lib = Library::open("lib", &model)?;  // never blocked by a writer
//! let q = lib.vector("2605.01234").map(<[f32]>::to_vec);
//! if let Some(q) = q {
//!     for hit in lib.nearest(&q, 10, None)? {
//!         println!("{} {:.3}", hit.paper.id, hit.similarity);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # On disk (format version 4)
//!
//! ```text
//! LIBRARY/
//!   manifest.json           the commit point (below)
//!   write.lock              the writer's OS file lock (flock); holds its pid, never deleted
//!   papers-C.jsonl          papers log: one {"row","text_sha256","paper"} a line; the last
//!                           line of an id wins; only the first `papers.bytes` bytes count
//!   papers-C.idx            papers index (version 4): per paper its id, row, listing day
//!                           and the offset and length of its current record in the log;
//!                           ids in sorted order; every category; written whole by every
//!                           commit, with length and CRC-32 in the manifest
//!   vectors-C.f32           rows × dimension little-endian f32, row-major, no header; only
//!                           the first `vectors.rows` rows count; every row L2-normalised
//!   index-C.hnsw.graph      hnsw_rs dump of the graph over rows 0..index_dump.points,
//!   index-C.hnsw.data       with length and sha256 of both files in the manifest
//!   index-C.links           the same graph's links, flat (what readers search), with
//!                           length and CRC-32 in the manifest (version 3)
//!   profiles/, cache/       profiles (see [`profiles`]) and the tf-idf cache
//! ```
//!
//! `C` is the number of the commit that created the file, so a new file never has the
//! name of one a committed manifest uses.
//!
//! `manifest.json` records the format name and version, the model (name, sha256 of its
//! weights, dimension), the commit and generation numbers, counts (papers, rows, dead
//! rows), the current papers and vectors files with their committed lengths and the
//! CRC-32 of each block of them (`checksums`: 256 KiB blocks of the log, 128-row blocks
//! of the vectors), the graph parameters and the current dump. Unknown entries (e.g. a
//! later `profiles`) are kept.
//!
//! **Papers in memory.** An open reads the papers index, not the log: ids (found by
//! binary search), rows and listing days are in memory (~30 bytes a paper); the log is
//! read with positioned reads (it stays in the page cache, not in the process) and a
//! paper's record is parsed the first time it is asked for
//! ([`Library::get`], [`Library::paper_at`], a search hit) and kept. Searches filter on
//! the index ([`Library::nearest_where`]) inside the graph walk; `recommend` takes a
//! day's papers from the index ([`Library::keys_listed`]) and parses only those. What
//! stays O(library): `library stats` (category counts), `library verify`,
//! [`Library::papers`] (parses every record) and a writer's compaction or log rewrite.
//!
//! **Verification.** Opening (reader or writer) checks what is cheap: the files are at
//! least as long as committed, the last block of the papers log and of the vectors file
//! against its checksum (and the last block's records against their text hash, its
//! rows for unit length), the papers index against its length, CRC-32 and the
//! manifest's counts (every row in range and owned by one paper, ids in order), and
//! the links file against its length and CRC-32. A record is checked against the index
//! (its id and row) when it is parsed. [`Library::verify`] (`paperscout library verify`)
//! checks every block, every record's `text_sha256` against its title and abstract,
//! every row for unit length and the hnsw_rs dump files against their sha256; any
//! difference is an error naming the file and the rows or lines; and the papers index
//! against the log (each paper's id, row, listing day and record place). Version 1
//! libraries have no block checksums, version 2 ones no links file and version 3 ones
//! no papers index: they are read as they are (every record parsed at open), and the
//! next writer upgrades them in one commit. A writer finding the papers index damaged
//! parses the log and writes the index anew (`paperscout library reindex`). Every file is written without
//! following links planted in the directory (see [`crate::fsio`]).
//!
//! **Memory.** A reader maps the vectors file and searches the flat links over the
//! mapping: one copy of the vectors, no hnsw_rs graph. Rows committed after the dump
//! are scanned exactly; a writer loads hnsw_rs's graph only when a commit inserts them
//! and writes the dump.
//!
//! **Commit protocol.** New paper records and vector rows are appended after the
//! committed prefix of the current files and fsynced; the HNSW dump, when due, is written
//! under a new name (`C` = the new commit number) and fsynced; then the manifest is
//! written to `manifest.json.tmp`, fsynced, renamed over `manifest.json`, and the
//! directory fsynced. Only then are files the old manifest named and the new one does
//! not removed. Readers only ever read the committed prefix of the files the manifest
//! names, so bytes past it (a commit killed half-way) are invisible and are cut off by
//! the next writer; a reader whose files were replaced under it re-reads the manifest.
//! Appending keeps a periodic commit O(batch) instead of rewriting 40 MB of vectors for
//! 100 new rows (measured: ~20 ms per append-only commit of 1,000 papers into 27k on
//! 2 cores); the committed prefix of a file is never modified.
//!
//! **The graph.** The dump is rewritten (it is a full rewrite in hnsw_rs) only when
//! `max(`[`WriterOptions::dump_after_rows`]`, 2% of the rows)` rows are not in it, and
//! by [`Writer::finish`] (for libraries up to 100k rows, or when one is due); until
//! then the rows after it are scanned exactly by every search.
//!
//! **Identity.** Papers are keyed by canonical id ([`crate::paper::canonical_id`]): an
//! ingest of the same paper again (another version, another source, the same file)
//! updates its record (merge rules in [`Library::plan`]), keeps the earliest `listed`
//! date, and adds no vector unless its [`crate::paper::Paper::text`] changed (its sha256
//! is stored). A changed text gets a new row; the old row becomes dead: hnsw_rs cannot
//! delete, so it stays in the graph as a tombstone and is filtered out of every result.
//! When dead rows exceed 25% of all rows a commit compacts: new papers and vectors files
//! with live rows only and a rebuilt graph. When superseded records fill most of the
//! papers log, a commit writes the log afresh (the rows, and so the graph, stay).
//!
//! **Writers and readers.** [`Writer::open`] takes `write.lock` with the OS advisory
//! lock; a second writer gets [`crate::Error::Locked`] at once. The kernel drops the lock
//! when its process dies (even by `kill -9`), so a lock is never stale and there is
//! nothing to take over. Readers ([`Library::open`]) take no lock.
//!
//! **Model.** A library stores the model that made its vectors; opening it with another
//! (other weights by sha256, or another dimension) fails with
//! [`crate::Error::ModelMismatch`]. The name is for display: the same weights under
//! another directory name are the same model, and the stored name is kept.

pub mod accounts;
mod graph;
pub mod index;
pub(crate) mod lock;
mod manifest;
mod meta;
pub mod npy;
pub mod profiles;
mod rows;
mod stats;
mod store;
pub mod vector;
mod writer;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use index::IndexParams;

/// The model recorded in the library in `dir`, read from its manifest alone (without
/// loading papers, vectors or the index, so it works when the index dump is damaged).
pub fn stored_model(dir: impl AsRef<std::path::Path>) -> crate::Result<ModelInfo> {
    Ok(manifest::Manifest::read(dir.as_ref())?.model)
}
pub use lock::LOCK_FILE;
pub use manifest::{FORMAT_VERSION, MANIFEST};
pub use rows::VectorSearch;
pub use stats::{Categories, CategoryCount, IndexStats, ListingDays, Stats, TOP_CATEGORIES};
pub use store::{Hit, Library, PaperMeta, Plan, Verified, DEFAULT_EF_SEARCH, EXACT_SEARCH_MAX};
pub use writer::{BatchCounts, CommitInfo, Writer, WriterOptions};

/// The embedding model a library's vectors come from. Two describe the same model when
/// [`ModelInfo::same_model`] says so: the weights and dimension, not the name, which
/// is for people (the same weights in another directory are the same model).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelInfo {
    /// A name people recognise, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub name: String,
    /// Lowercase hex sha256 of the weights file.
    pub sha256: String,
    /// Vector dimension.
    pub dimension: usize,
}

impl ModelInfo {
    /// A model description.
    pub fn new(name: impl Into<String>, sha256: impl Into<String>, dimension: usize) -> Self {
        ModelInfo {
            name: name.into(),
            sha256: sha256.into(),
            dimension,
        }
    }

    /// Whether `other` makes the same vectors as `self`: the same weights (sha256) and
    /// dimension. The names may differ (a model is often known by its directory's
    /// name); only when a sha256 is unknown (empty) do the names have to agree.
    pub fn same_model(&self, other: &ModelInfo) -> bool {
        if self.dimension != other.dimension {
            return false;
        }
        if self.sha256.is_empty() || other.sha256.is_empty() {
            return self.sha256 == other.sha256 && self.name == other.name;
        }
        self.sha256.eq_ignore_ascii_case(&other.sha256)
    }

    /// [`same_model`](Self::same_model), and the names agree too, up to the folder they
    /// were loaded from (`sentence-transformers/all-MiniLM-L6-v2` and `all-MiniLM-L6-v2`
    /// agree, case aside). For vectors made elsewhere (`ingest --vectors`), whose file
    /// names its model: a name of another model next to these weights' sha256 is a
    /// contradiction, and such vectors are refused rather than trusted.
    pub fn same_named_model(&self, other: &ModelInfo) -> bool {
        fn base(name: &str) -> String {
            let name = name.trim().trim_end_matches('/');
            name.rsplit('/').next().unwrap_or(name).to_lowercase()
        }
        self.same_model(other) && base(&self.name) == base(&other.name)
    }

    /// Why this cannot describe a library's model, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("empty model name".into());
        }
        if self.dimension == 0 {
            return Err("dimension 0".into());
        }
        Ok(())
    }
}

impl fmt::Display for ModelInfo {
    /// `name (sha256 0123456789ab…, 384-d)`: enough to tell two models apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short: String = self.sha256.chars().take(12).collect();
        let ellipsis = if self.sha256.chars().count() > 12 {
            "…"
        } else {
            ""
        };
        write!(
            f,
            "{} (sha256 {short}{ellipsis}, {}-d)",
            self.name, self.dimension
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_types_are_send_and_sync() {
        // A server shares one opened library between request threads.
        fn assert<T: Send + Sync>() {}
        assert::<Library>();
        assert::<Writer>();
    }

    #[test]
    fn model_display_tells_models_apart() {
        let a = ModelInfo::new("m", "0123456789abcdef", 384);
        assert_eq!(a.to_string(), "m (sha256 0123456789ab…, 384-d)");
        assert!(ModelInfo::new("", "x", 3).check().is_err());
        assert!(ModelInfo::new("m", "x", 0).check().is_err());
    }
}
