//! [`Library`]: a library opened for reading. Loading the committed state (papers log,
//! vectors, index dump) from the files the manifest names, checking it, and answering
//! queries: lookups by id, approximate and exact nearest-neighbour search, planning an
//! upsert. Writing and committing are the writer's (`writer.rs`).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use chrono::NaiveDate;

use super::index::{hex, Index};
use super::manifest::{lib_err, BlockSums, Manifest, PAPERS_BLOCK_BYTES};
use super::meta::{day_code, Entry, Papers};
use super::rows::{GraphSearch, VectorSearch, Vectors};
use super::vector::{by_similarity, check_unit, dot, normalized, top_k_exact};
use super::writer::vector_block_bytes;
use super::ModelInfo;
use crate::paper::Paper;
use crate::{Error, Result};

/// Below this many candidate papers a search is exact: scanning a few thousand unit
/// vectors (~30 ns each with AVX2) costs no more than walking the graph, and is exact.
pub const EXACT_SEARCH_MAX: usize = 4096;

/// `ef` used by [`Library::nearest`] unless changed with [`Library::set_ef_search`].
pub const DEFAULT_EF_SEARCH: usize = 64;

/// Papers sampled to estimate how many a search filter passes.
const FILTER_SAMPLE: usize = 1024;

/// How many times a reader re-reads the manifest when a writer replaced files under it.
const OPEN_ATTEMPTS: usize = 5;

/// `row → paper` for a row that no paper uses any more (its paper was re-embedded).
pub(crate) const DEAD: usize = usize::MAX;

/// One line of the papers log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The vector row of this paper's current text.
    pub row: usize,
    /// Lowercase hex sha256 of `paper.text()` when that vector was made: the paper
    /// needs a new vector exactly when its text hashes to something else.
    pub text_sha256: String,
    pub paper: Paper,
}

/// Where a record lies in a papers log: byte offset and length (without the newline).
pub(crate) type RecordPlace = (u64, u32);

/// [`Record`] borrowed, for writing without cloning every paper.
#[derive(Serialize)]
struct RecordRef<'a> {
    row: usize,
    text_sha256: &'a str,
    paper: &'a Paper,
}

/// What a search filter sees of a paper without parsing its record: read from the
/// papers index ([`Library::nearest_where`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperMeta<'a> {
    /// The paper's key: its place in the order papers entered the library
    /// ([`Library::paper_at`]).
    pub key: usize,
    /// Canonical id.
    pub id: &'a str,
    /// Listing day.
    pub listed: Option<NaiveDate>,
}

/// A search result: a paper and its cosine similarity to the query (in [-1, 1]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<'a> {
    pub paper: &'a Paper,
    /// The paper's key in the library (the order it entered), for per-paper caches.
    pub key: usize,
    pub similarity: f32,
}

/// What an upsert of a batch will do, computed before anything is embedded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Batch indices, ascending, of the papers that need a vector: new papers and papers
    /// whose text changed. For an id repeated in the batch, its last occurrence.
    pub indices: Vec<usize>,
    /// The text to embed for each of them: `texts[j]` for `indices[j]`. It is the text of
    /// the record as it will be stored (see [`Library::plan`]), which is not always
    /// `papers[indices[j]].text()`.
    pub texts: Vec<String>,
    /// Papers not yet in the library.
    pub new: usize,
    /// Papers already in the library whose text changed.
    pub reembed: usize,
    /// Papers already in the library whose text is unchanged but some metadata is not.
    pub metadata_only: usize,
    /// Papers already in the library exactly as stored.
    pub unchanged: usize,
    /// Records of the batch folded into an earlier record of the same id.
    pub duplicates: usize,
}

/// One distinct paper of a batch after folding duplicates and merging with the library.
#[derive(Debug)]
pub(crate) struct Change {
    /// The paper's key if it is already in the library.
    pub key: Option<usize>,
    /// The record as it will be stored.
    pub paper: Paper,
    pub text_sha256: String,
    /// Batch index of the id's last occurrence.
    pub source: usize,
    pub needs_vector: bool,
    /// Anything differs from what is stored (always true for a new paper).
    pub changed: bool,
}

/// A library opened for reading: every committed paper's id, row and listing day (from
/// the papers index; records parsed on first access and kept), the vectors (mapped) and
/// the HNSW graph's links. Never blocked by a writer and never blocks one; it sees the
/// state of the last commit before it was opened.
///
/// Invariants: papers are numbered by a dense `key` (the order they entered the
/// library); each has exactly one live vector row; rows of re-embedded papers stay in
/// the vectors and the graph as dead rows and are never returned; the graph holds every
/// row (`index.len() == rows`).
#[derive(Debug)]
pub struct Library {
    pub(crate) dir: PathBuf,
    pub(crate) manifest: Manifest,
    /// Each paper's id, listing day and record location (from the papers index), and
    /// its record once parsed.
    pub(crate) papers: Papers,
    /// The committed prefix of the papers log as opened: records are read from it
    /// (positioned reads) and parsed on first access. `None` when empty.
    pub(crate) log: Option<LogReader>,
    pub(crate) log_path: PathBuf,
    /// The papers index is missing or was damaged (a writer parsed the log instead):
    /// the next commit writes it.
    pub(crate) papers_index_stale: bool,
    /// `key → row`.
    pub(crate) row_of: Vec<usize>,
    /// `row → key`, or [`DEAD`].
    pub(crate) owner: Vec<usize>,
    /// `rows × dimension` f32, every row L2-normalised: the committed rows mapped from
    /// the vectors file, a writer's upserted ones in memory after them.
    pub(crate) vectors: Vectors,
    pub(crate) index: Index,
    pub(crate) ef_search: usize,
}

impl Library {
    /// Open the library in `dir` for reading, refusing it with [`Error::ModelMismatch`]
    /// if it was built with another model than `model` (other weights or dimension; see
    /// [`ModelInfo::same_model`]: the name may differ).
    pub fn open(dir: impl AsRef<Path>, model: &ModelInfo) -> Result<Library> {
        let lib = Library::open_any_model(dir)?;
        lib.check_model(model)?;
        Ok(lib)
    }

    /// Open the library in `dir` for reading whatever model built it: for `stats`,
    /// listing and exporting, which compare no vectors with new ones.
    pub fn open_any_model(dir: impl AsRef<Path>) -> Result<Library> {
        let dir = dir.as_ref();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let manifest = Manifest::read(dir)?;
            let commit = manifest.commit;
            match Library::load(dir, manifest, true, false) {
                Ok(lib) => return Ok(lib),
                Err(e) => {
                    // A writer may have committed and removed the files this manifest
                    // named while we read them: start again from the new manifest.
                    let moved_on = Manifest::read(dir).is_ok_and(|m| m.commit != commit);
                    if !moved_on || attempt >= OPEN_ATTEMPTS {
                        return Err(e);
                    }
                }
            }
        }
    }

    pub(crate) fn check_model(&self, model: &ModelInfo) -> Result<()> {
        if !self.manifest.model.same_model(model) {
            return Err(Error::ModelMismatch {
                path: self.dir.clone(),
                expected: self.manifest.model.to_string(),
                found: model.to_string(),
            });
        }
        Ok(())
    }

    /// Load the state `manifest` commits, with the checks cheap enough for every open
    /// (see [`Library::verify`] for the full ones): the files are at least as long as
    /// committed; the last block of the papers log and of the vectors file matches its
    /// CRC-32 and the vector rows of that block are unit vectors; every record parses
    /// and names a row that exists, no two papers share a row, the counts match the
    /// manifest; the index's links file matches its length and CRC-32. The vectors are
    /// mapped, not read. `writer`: a version 1 library (no checksums) gets the
    /// checksums of its files computed, for the upgrade. Without `use_dump` the graph is
    /// rebuilt from the vectors instead of reloaded.
    pub(crate) fn load(
        dir: &Path,
        manifest: Manifest,
        use_dump: bool,
        writer: bool,
    ) -> Result<Library> {
        let dim = manifest.model.dimension;
        let rows = manifest.vectors.rows;
        let _span = tracing::info_span!("library_load", rows, dim).entered();

        // Vectors: the committed prefix of the file, mapped.
        let vec_path = dir.join(&manifest.vectors.file);
        let vectors = Vectors::map(&vec_path, rows, dim)?;
        let row_bytes = dim as u64 * 4;
        let vector_sums = match &manifest.vectors.checksums {
            Some(sums) => {
                if let Some(range) = last_block_damaged(&vec_path, sums, rows as u64 * row_bytes)? {
                    return Err(vectors_damaged(&vec_path, range, row_bytes));
                }
                // The rows of the last block: the ones a killed or faulty append touched.
                let block_rows = (sums.block_bytes / row_bytes.max(1)).max(1) as usize;
                let first = rows.saturating_sub(1) / block_rows * block_rows;
                for r in first..rows {
                    check_row(&vectors, r, &vec_path)?;
                }
                Some(sums.clone())
            }
            None if writer => {
                // Version 1: every row is checked and checksummed, once, for the upgrade.
                let mut sums = BlockSums::new(vector_block_bytes(dim));
                for r in 0..rows {
                    check_row(&vectors, r, &vec_path)?;
                    let bytes: Vec<u8> = vectors
                        .row(r)
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect();
                    sums.append(r as u64 * row_bytes, &bytes);
                }
                Some(sums)
            }
            None => None,
        };

        // Papers: from the papers index (version 4), or (older versions, or a writer
        // finding the index damaged) by parsing every record of the committed log.
        // Records are read from the log with positioned reads when asked for: the log
        // stays in the page cache, not in the process.
        let log_path = dir.join(&manifest.papers.file);
        let reader = LogReader::open(&log_path, manifest.papers.bytes)?;
        let mut manifest = manifest;
        manifest.vectors.checksums = vector_sums;
        let mut lib = Library {
            dir: dir.to_path_buf(),
            papers: Papers::default(),
            log: None,
            log_path: log_path.clone(),
            papers_index_stale: manifest.papers_index.is_none(),
            row_of: Vec::new(),
            owner: vec![DEAD; rows],
            vectors,
            index: Index::new_shared(manifest.index, 0).map_err(|e| lib_err(dir, e))?,
            ef_search: DEFAULT_EF_SEARCH,
            manifest,
        };
        let len = lib.manifest.papers.bytes;
        let log_err = |line: usize, message: String| Error::Input {
            path: log_path.clone(),
            line: line as u64,
            message,
        };
        // The whole committed log, read only when something needs it all.
        let mut whole: Option<Vec<u8>> = None;
        let indexed = match lib.manifest.papers_index.clone() {
            Some(file) => match lib.read_papers_index(&file) {
                Ok(()) => true,
                Err(e) if writer => {
                    tracing::warn!(
                        "{e}; parsing the papers log instead, and writing the index anew"
                    );
                    lib.papers_index_stale = true;
                    lib.papers = Papers::default();
                    lib.row_of.clear();
                    lib.owner = vec![DEAD; rows];
                    false
                }
                Err(e) => return Err(e),
            },
            None => false,
        };
        // The last block of the log (or all of it, to parse it).
        let b = lib
            .manifest
            .papers
            .checksums
            .as_ref()
            .map_or(PAPERS_BLOCK_BYTES, |s| s.block_bytes.max(1));
        let start = len.saturating_sub(1) / b * b;
        let tail = match (&reader, indexed) {
            (Some(r), true) => r
                .read(start, (len - start) as usize)
                .map_err(|e| Error::io(&log_path, e))?,
            (_, false) => {
                let all = read_prefix(&log_path, len)?;
                let tail = all[start as usize..].to_vec();
                whole = Some(all);
                tail
            }
            (None, true) => Vec::new(),
        };
        if !tail.is_empty() && tail.last() != Some(&b'\n') {
            return Err(log_err(
                1,
                "the committed part does not end with a newline: the papers log is corrupt".into(),
            ));
        }
        if !indexed {
            lib.parse_log(whole.as_deref().unwrap_or(&[]), &log_err)?;
        }
        let m = &lib.manifest;
        if lib.papers.len() != m.counts.papers {
            return Err(lib_err(
                dir,
                format!(
                    "the papers log has {} papers, the manifest says {}",
                    lib.papers.len(),
                    m.counts.papers
                ),
            ));
        }
        // The last block of the log: its records' text hashes, then its checksum (so
        // that an edited record is reported by its line rather than as a block).
        if let Some(sums) = &lib.manifest.papers.checksums {
            if len > 0 && Some(crc32fast::hash(&tail)) != sums.crc32.last().copied() {
                let log = match whole {
                    Some(all) => all,
                    None => read_prefix(&log_path, len)?,
                };
                // Lines before the block's first whole line.
                let from = log[..start as usize]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let first_line = 1 + log[..from].iter().filter(|b| **b == b'\n').count();
                if let Some((line, message)) = first_bad_record(&log[from..], first_line) {
                    return Err(log_err(line, message));
                }
                return Err(papers_damaged(&log_path, &log, start..len));
            }
        } else if writer {
            let all = match whole {
                Some(all) => all,
                None => read_prefix(&log_path, len)?,
            };
            lib.manifest.papers.checksums = Some(BlockSums::of(&all, PAPERS_BLOCK_BYTES));
        }
        lib.log = reader;

        // Index: the flat links of the dump (a reader never loads hnsw_rs's graph);
        // a version 2 dump has none, and its hnsw_rs graph is loaded instead. Rows
        // committed after the dump are searched exactly until a writer inserts them.
        let reindex =
            || "the vectors are intact: rebuild the index with `paperscout library reindex`";
        if let Some(dump) = lib.manifest.index_dump.as_ref().filter(|_| use_dump) {
            let m = &lib.manifest;
            let index = match Index::load_links(dir, dump, m.index)
                .map_err(|e| lib_err(dir, format!("{e}; {}", reindex())))?
            {
                Some(index) => index,
                None => Index::load_shared(dir, dump, m.index, dim)
                    .map_err(|e| lib_err(dir, format!("{e}; {}", reindex())))?,
            };
            lib.index = index;
        } else if !use_dump {
            lib.catch_up_index()?;
        }
        Ok(lib)
    }

    /// Make the graph hold every row: load hnsw_rs's graph if only the links are
    /// loaded (a writer about to dump), then insert the rows it does not hold yet.
    pub(crate) fn catch_up_index(&mut self) -> Result<()> {
        let dim = self.dimension();
        if !self.index.can_append() {
            let m = &self.manifest;
            self.index = match &m.index_dump {
                Some(dump) => Index::load_shared(&self.dir, dump, m.index, dim)
                    .map_err(|e| lib_err(&self.dir, format!("{e}; the vectors are intact: rebuild the index with `paperscout library reindex`")))?,
                None => Index::new_shared(m.index, self.rows()).map_err(|e| lib_err(&self.dir, e))?,
            };
        }
        let from = self.index.len();
        if from < self.rows() {
            let _span = tracing::info_span!("index_insert", rows = self.rows() - from).entered();
            let block = self.vectors.block(from, self.rows());
            self.index.append(&block, dim);
        }
        Ok(())
    }

    /// Check everything an open does not: the CRC-32 of every block of the papers log
    /// and the vectors file, every record's text hash against its title and abstract,
    /// every vector row for unit length, and the hnsw_rs dump files against their
    /// sha256. O(library): `paperscout library verify`. The first difference found is
    /// the error, naming the file and the lines or rows.
    pub fn verify(&self) -> Result<Verified> {
        let m = &self.manifest;
        let dim = self.dimension();
        let row_bytes = dim as u64 * 4;
        let vec_path = self.dir.join(&m.vectors.file);
        let raw = read_prefix(&vec_path, m.vectors.rows as u64 * row_bytes)?;
        if let Some(sums) = &m.vectors.checksums {
            if let Some(range) = sums.first_damaged(&raw) {
                return Err(vectors_damaged(&vec_path, range, row_bytes));
            }
        }
        drop(raw);
        for r in 0..m.vectors.rows {
            check_row(&self.vectors, r, &vec_path)?;
        }
        let log_path = self.dir.join(&m.papers.file);
        let log = read_prefix(&log_path, m.papers.bytes)?;
        // Records first, so that an edited one is reported by its line.
        if let Some((line, message)) = first_bad_record(&log, 1) {
            return Err(Error::Input {
                path: log_path,
                line: line as u64,
                message,
            });
        }
        if let Some(sums) = &m.papers.checksums {
            if let Some(range) = sums.first_damaged(&log) {
                return Err(papers_damaged(&log_path, &log, range));
            }
        }
        let mut index_files = 0;
        if let Some(file) = m.papers_index.as_ref().filter(|_| !self.papers_index_stale) {
            self.check_papers_index(&log, &self.dir.join(&file.file))?;
            index_files += 1;
        }
        if let Some(dump) = &m.index_dump {
            for want in [&dump.graph, &dump.data] {
                let got = super::index::file_sum(&self.dir, &want.file)
                    .map_err(|e| lib_err(&self.dir, e))?;
                if got != *want {
                    return Err(lib_err(
                        &self.dir,
                        format!("index file {} is corrupt (sha256 {}, {} bytes; the manifest recorded {}, {} bytes): rebuild the index with `paperscout library reindex`", want.file, got.sha256, got.bytes, want.sha256, want.bytes),
                    ));
                }
                index_files += 1;
            }
            if dump.links.is_some() {
                index_files += 1; // checked at open
            }
        }
        Ok(Verified {
            papers_bytes: m.papers.bytes,
            records: m.papers.records,
            vector_rows: m.vectors.rows,
            index_files,
        })
    }

    /// Read the papers index `file` (format version 4) into `self.papers` and
    /// `row_of`/`owner`, checking it against the manifest: its length and CRC-32, its
    /// counts, every row in range and owned by one paper.
    fn read_papers_index(&mut self, file: &super::manifest::PapersIndexFile) -> Result<()> {
        let path = self.dir.join(&file.file);
        let damaged = |why: String| {
            Error::Library {
            path: path.clone(),
            message: format!("{why}: the papers index is damaged (the papers log is not); rebuild the index with `paperscout library reindex`"),
        }
        };
        let bytes = read_prefix(&path, file.bytes)?;
        if crc32fast::hash(&bytes) != file.crc32 {
            return Err(damaged(format!(
                "its {} bytes do not match the CRC-32 the manifest recorded",
                file.bytes
            )));
        }
        let (papers, rows, records, log_bytes) = Papers::decode(&bytes).map_err(&damaged)?;
        drop(bytes);
        let m = &self.manifest;
        if records != m.papers.records || log_bytes != m.papers.bytes {
            return Err(damaged(format!(
                "it describes {records} records in {log_bytes} bytes of the log, the manifest {} in {}",
                m.papers.records, m.papers.bytes
            )));
        }
        let n = self.owner.len();
        for (key, &row) in rows.iter().enumerate() {
            if row >= n {
                return Err(damaged(format!(
                    "paper {} has row {row} but the library has {n} vector rows",
                    papers.id(key)
                )));
            }
            if self.owner[row] != DEAD {
                return Err(damaged(format!(
                    "paper {} shares vector row {row} with another paper",
                    papers.id(key)
                )));
            }
            self.owner[row] = key;
        }
        self.row_of = rows;
        self.papers = papers;
        Ok(())
    }

    /// Parse every record of the committed log `log` (the last record of an id wins):
    /// how a library without a papers index is opened.
    fn parse_log(
        &mut self,
        log: &[u8],
        log_err: &(dyn Fn(usize, String) -> Error + Sync),
    ) -> Result<()> {
        let rows = self.owner.len();
        // Parsing the records is most of the cost: in parallel, then applied in order.
        let mut numbered: Vec<(usize, u64, &[u8])> = Vec::new();
        let mut at = 0u64;
        for (i, line) in log.split(|b| *b == b'\n').enumerate() {
            if !line.is_empty() {
                numbered.push((i + 1, at, line));
            }
            at += line.len() as u64 + 1;
        }
        let lines = numbered.len();
        let parsed: Vec<Result<Record>> = {
            use rayon::prelude::*;
            numbered
                .par_iter()
                .map(|&(n, _, line)| {
                    serde_json::from_slice(line)
                        .map_err(|e| log_err(n, format!("corrupt paper record: {e}")))
                })
                .collect()
        };
        for (&(n, at, line), rec) in numbered.iter().zip(parsed) {
            let rec = rec?;
            if rec.row >= rows {
                return Err(log_err(
                    n,
                    format!("row {} but the library has {rows} vector rows", rec.row),
                ));
            }
            self.put_at(
                rec.paper,
                rec.text_sha256,
                rec.row,
                Some((at, line.len() as u32)),
            );
        }
        drop(numbered);
        self.papers.settle();
        // Each row belongs to at most one paper; a paper's old row is freed by `put`.
        let mut owned = 0;
        for (key, &row) in self.row_of.iter().enumerate() {
            if self.owner[row] != key {
                return Err(Error::Library {
                    path: self.log_path.clone(),
                    message: format!(
                        "paper {} shares vector row {row} with another paper: the log is corrupt",
                        self.papers.id(key)
                    ),
                });
            }
            owned += 1;
        }
        let m = &self.manifest;
        if lines != m.papers.records || owned != m.counts.papers {
            return Err(lib_err(
                &self.dir,
                format!(
                    "the papers log has {lines} records for {owned} papers, the manifest says {} for {}",
                    m.papers.records, m.counts.papers
                ),
            ));
        }
        Ok(())
    }

    /// The papers index against the log it describes: every paper's id, row, listing
    /// day and record location as the log's last record of each id says.
    fn check_papers_index(&self, log: &[u8], path: &Path) -> Result<()> {
        use rayon::prelude::*;
        let mut lines: Vec<(u64, &[u8])> = Vec::new();
        let mut at = 0u64;
        for line in log.split(|b| *b == b'\n') {
            if !line.is_empty() {
                lines.push((at, line));
            }
            at += line.len() as u64 + 1;
        }
        let parsed: Vec<Option<Record>> = lines
            .par_iter()
            .map(|(_, l)| serde_json::from_slice(l).ok())
            .collect();
        let mut key_of: HashMap<String, usize> = HashMap::new();
        let mut want: Vec<(usize, i32, (u64, u32))> = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        for ((at, line), rec) in lines.iter().zip(parsed) {
            let rec = rec.ok_or_else(|| lib_err(&self.dir, "a record does not parse"))?;
            let v = (
                rec.row,
                day_code(rec.paper.listed),
                (*at, line.len() as u32),
            );
            match key_of.get(&rec.paper.id) {
                Some(&k) => want[k] = v,
                None => {
                    key_of.insert(rec.paper.id.clone(), want.len());
                    want.push(v);
                    ids.push(rec.paper.id);
                }
            }
        }
        let damaged = |what: String| {
            Error::Library {
            path: path.to_path_buf(),
            message: format!("{what}: the papers index does not match the papers log; rebuild it with `paperscout library reindex`"),
        }
        };
        if want.len() != self.len() {
            return Err(damaged(format!(
                "the log holds {} papers, the index {}",
                want.len(),
                self.len()
            )));
        }
        for (k, (row, listed, loc)) in want.into_iter().enumerate() {
            let got = (
                self.row_of[k],
                day_code(self.papers.listed(k)),
                self.papers.loc(k),
            );
            if self.papers.id(k) != ids[k] || got != (row, listed, loc) {
                return Err(damaged(format!(
                    "paper {} (number {k}): the index says {} at row {}, listed {:?}, bytes {}+{}; the log says {} at row {row}, listed {:?}, bytes {}+{}",
                    ids[k],
                    self.papers.id(k),
                    got.0,
                    self.papers.listed(k),
                    got.2 .0,
                    got.2 .1,
                    ids[k],
                    super::meta::day_from_code(listed),
                    loc.0,
                    loc.1
                )));
            }
        }
        Ok(())
    }

    /// Record `paper` at `row`, replacing any earlier record of its id.
    pub(crate) fn put(&mut self, paper: Paper, text_sha256: String, row: usize) -> usize {
        self.put_at(paper, text_sha256, row, None)
    }

    /// [`Library::put`], its record at `loc` of the log (`None`: not written yet).
    fn put_at(
        &mut self,
        paper: Paper,
        text_sha256: String,
        row: usize,
        loc: Option<(u64, u32)>,
    ) -> usize {
        let key = match self.papers.key(&paper.id) {
            Some(key) => {
                let old = self.row_of[key];
                if old != row && self.owner[old] == key {
                    self.owner[old] = DEAD;
                }
                self.row_of[key] = row;
                key
            }
            None => {
                self.row_of.push(row);
                self.papers
                    .push(&paper.id, paper.listed, loc.unwrap_or((0, 0)))
            }
        };
        if let Some(loc) = loc {
            self.papers.set_loc(key, loc);
        }
        self.papers.set_entry(key, Entry { paper, text_sha256 });
        self.owner[row] = key;
        key
    }

    /// Paper `key`'s record: parsed from the log on first access and kept. `None` (with
    /// the error logged) when it cannot be read: damage an open does not check for
    /// (`paperscout library verify` does).
    pub(crate) fn entry(&self, key: usize) -> Option<&Entry> {
        let slot = self.papers.cache.get(key)?;
        if let Some(e) = slot.get() {
            return Some(e);
        }
        match self.parse_entry(key) {
            Ok(e) => {
                let _ = slot.set(Box::new(e));
                slot.get().map(|b| &**b)
            }
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        }
    }

    /// Paper `key`'s record, parsed from the log now (not kept) unless already parsed.
    fn entry_cow(&self, key: usize) -> Result<std::borrow::Cow<'_, Entry>> {
        match self.papers.cache[key].get() {
            Some(e) => Ok(std::borrow::Cow::Borrowed(e)),
            None => self.parse_entry(key).map(std::borrow::Cow::Owned),
        }
    }

    /// Parse paper `key`'s record from the mapped log, checking that it is the one the
    /// index says (its id and row).
    pub(crate) fn parse_entry(&self, key: usize) -> Result<Entry> {
        let (at, len) = self.papers.loc(key);
        let id = self.papers.id(key);
        let bad = |why: String| {
            Error::Library {
            path: self.log_path.clone(),
            message: format!("the record of paper {id} (bytes {at}..{}) {why}: the papers log or its index is damaged (`paperscout library verify` tells which)", at + u64::from(len)),
        }
        };
        let log = self
            .log
            .as_ref()
            .filter(|l| at.saturating_add(u64::from(len)) <= l.len)
            .ok_or_else(|| bad("is outside the committed log".into()))?;
        let bytes = log
            .read(at, len as usize)
            .map_err(|e| Error::io(&self.log_path, e))?;
        let rec: Record =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("does not parse ({e})")))?;
        if rec.paper.id != id || rec.row != self.row_of[key] {
            return Err(bad(format!(
                "is of paper {} at row {}, the index says {id} at row {}",
                rec.paper.id, rec.row, self.row_of[key]
            )));
        }
        Ok(Entry {
            paper: rec.paper,
            text_sha256: rec.text_sha256,
        })
    }

    /// The papers log lines (JSON, `\n`-terminated) of the papers `keys`, each with the
    /// row `row(key)` (its current row, or its row after a compaction), and where each
    /// record lies in them (offset, length without the newline).
    pub(crate) fn records(
        &self,
        keys: &[usize],
        row: &dyn Fn(usize) -> usize,
    ) -> Result<(Vec<u8>, Vec<RecordPlace>)> {
        let mut log = Vec::new();
        let mut locs = Vec::with_capacity(keys.len());
        for &key in keys {
            let entry = self.entry_cow(key)?;
            let rec = RecordRef {
                row: row(key),
                text_sha256: &entry.text_sha256,
                paper: &entry.paper,
            };
            let at = log.len();
            serde_json::to_writer(&mut log, &rec).map_err(|e| {
                lib_err(
                    &self.dir,
                    format!("serialising paper {}: {e}", entry.paper.id),
                )
            })?;
            locs.push((at as u64, (log.len() - at) as u32));
            log.push(b'\n');
        }
        Ok((log, locs))
    }

    /// The library directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model that made the stored vectors.
    pub fn model(&self) -> &ModelInfo {
        &self.manifest.model
    }

    /// The number of the commit this library was opened at: it changes with every
    /// commit, so it keys data derived from the papers (the tf-idf vocabulary).
    pub fn commit(&self) -> u64 {
        self.manifest.commit
    }

    /// Vector dimension (the model's).
    pub fn dimension(&self) -> usize {
        self.manifest.model.dimension
    }

    /// Number of distinct papers.
    pub fn len(&self) -> usize {
        self.papers.len()
    }

    /// Whether the library has no papers.
    pub fn is_empty(&self) -> bool {
        self.papers.len() == 0
    }

    /// Number of vector rows, live and dead (= graph points).
    pub(crate) fn rows(&self) -> usize {
        self.owner.len()
    }

    /// The paper with canonical id `id`: its record is parsed on first access (an id
    /// lookup is a binary search of the papers index). `None` also when its record
    /// cannot be read (logged; see [`Library::verify`]).
    pub fn get(&self, id: &str) -> Option<&Paper> {
        self.papers.key(id).and_then(|k| self.paper_at(k))
    }

    /// Whether paper `id` is in the library (without parsing its record).
    pub fn contains(&self, id: &str) -> bool {
        self.papers.key(id).is_some()
    }

    /// The key of paper `id` (its place in the order papers entered the library).
    pub fn key_of(&self, id: &str) -> Option<usize> {
        self.papers.key(id)
    }

    /// Whether paper `key` is the same record here as in `older`, an earlier open of
    /// the same library: both read a papers index (format 4), the same log file, and
    /// the key's record at the same place in it (a changed paper is written anew at the
    /// end of the log, a compaction writes a new log). What a cache made for `older`
    /// holds about that paper's record is then still true here.
    pub fn same_record(&self, older: &Library, key: usize) -> bool {
        self.manifest.papers_index.is_some()
            && older.manifest.papers_index.is_some()
            && self.dir == older.dir
            && self.manifest.papers.file == older.manifest.papers.file
            && key < self.papers.len()
            && key < older.papers.len()
            && self.papers.loc(key) == older.papers.loc(key)
    }

    /// The paper of key `key` (`< len()`), its record parsed on first access.
    pub fn paper_at(&self, key: usize) -> Option<&Paper> {
        self.entry(key).map(|e| &e.paper)
    }

    /// `f` of paper `key` (`< len()`): its record as parsed before, or parsed now and
    /// not kept (for passes over many papers: a sample, a rewrite). `None` when the
    /// record cannot be read (logged).
    pub fn with_paper<R>(&self, key: usize, f: impl FnOnce(&Paper) -> R) -> Option<R> {
        match self.entry_cow(key) {
            Ok(e) => Some(f(&e.paper)),
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        }
    }

    /// The canonical id of paper `key` (`< len()`), from the index.
    pub fn id_at(&self, key: usize) -> &str {
        self.papers.id(key)
    }

    /// The listing day of paper `key` (`< len()`), from the index.
    pub fn listed_at(&self, key: usize) -> Option<NaiveDate> {
        self.papers.listed(key)
    }

    /// The unit vector of paper `key` (`< len()`).
    pub fn vector_at(&self, key: usize) -> &[f32] {
        self.row(self.row_of[key])
    }

    /// The listing day of every paper, by key, from the index (no record parsed).
    pub fn listing_days(&self) -> impl ExactSizeIterator<Item = Option<NaiveDate>> + '_ {
        (0..self.len()).map(|k| self.papers.listed(k))
    }

    /// The keys of the papers listed from `from` to `to` (inclusive), ascending: a scan
    /// of the index's listing days, no record parsed.
    pub fn keys_listed(&self, from: NaiveDate, to: NaiveDate) -> Vec<usize> {
        let (a, b) = (day_code(Some(from)), day_code(Some(to)));
        self.papers
            .listed_codes()
            .iter()
            .enumerate()
            .filter(|(_, &d)| d >= a && d <= b)
            .map(|(k, _)| k)
            .collect()
    }

    /// Every category any paper of the library has (had), from the index.
    pub fn categories(&self) -> impl Iterator<Item = &str> + '_ {
        self.papers.categories().iter().map(String::as_str)
    }

    /// The unit vector of paper `id`.
    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        self.papers.key(id).map(|k| self.row(self.row_of[k]))
    }

    /// Every paper, in the order they entered the library. O(library): parses (and
    /// keeps) every record; searches and listings use the index instead.
    pub fn papers(&self) -> impl Iterator<Item = &Paper> + '_ {
        (0..self.len()).filter_map(|k| self.paper_at(k))
    }

    /// Every paper with its unit vector, in the order they entered the library.
    /// O(library), as [`Library::papers`].
    pub fn papers_with_vectors(&self) -> impl Iterator<Item = (&Paper, &[f32])> + '_ {
        (0..self.len()).filter_map(|k| self.paper_at(k).map(|p| (p, self.vector_at(k))))
    }

    pub(crate) fn row(&self, row: usize) -> &[f32] {
        self.vectors.row(row)
    }

    /// The `ef` (candidates examined, ≥ k) of approximate searches: more is slower and
    /// closer to exact.
    pub fn set_ef_search(&mut self, ef: usize) {
        self.ef_search = ef.max(1);
    }

    /// The `k` papers most similar to `query`, best first, among those `filter` accepts
    /// (all if `None`). Similarity is the cosine (`query` is normalised here; it need not
    /// be a unit vector, but must have the library's dimension and a non-zero norm).
    ///
    /// Exact when exact is cheap (at most [`EXACT_SEARCH_MAX`] candidates, which includes
    /// any selective filter), otherwise the HNSW graph with `ef` = [`Library::set_ef_search`]
    /// (default 64; recall@10 ≈ 0.99 on MiniLM vectors of arXiv papers). Fewer than `k`
    /// results only when fewer than `k` papers pass the filter.
    pub fn nearest(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(&Paper) -> bool>,
    ) -> Result<Vec<Hit<'_>>> {
        let q = self.query(query)?;
        let k = k.min(self.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        let Some(filter) = filter else {
            if self.len() <= EXACT_SEARCH_MAX {
                return Ok(self.exact(&q, k, self.live_rows()));
            }
            return Ok(self.approx(&q, k, self.ef_search));
        };
        // The filter reads each paper it is asked about (parsing its record): prefer
        // `nearest_where` on hot paths.
        let keep = |key: usize| self.paper_at(key).is_some_and(filter);
        Ok(self.filtered(&q, k, &keep))
    }

    /// [`Library::nearest`] with a filter on what the papers index holds of each paper
    /// (id, listing day): no record is parsed but the hits'. The filter is evaluated
    /// inside the graph walk, on the papers it visits, unless a sample of the papers
    /// says it passes few of them (then the papers it passes are scanned exactly, one
    /// pass over the index).
    pub fn nearest_where(
        &self,
        query: &[f32],
        k: usize,
        filter: &dyn Fn(&PaperMeta<'_>) -> bool,
    ) -> Result<Vec<Hit<'_>>> {
        let q = self.query(query)?;
        let k = k.min(self.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        let keep = |key: usize| {
            filter(&PaperMeta {
                key,
                id: self.papers.id(key),
                listed: self.papers.listed(key),
            })
        };
        Ok(self.filtered(&q, k, &keep))
    }

    /// The `k` (≥ 1, ≤ len) nearest papers whose key `keep` accepts.
    fn filtered(&self, q: &[f32], k: usize, keep: &dyn Fn(usize) -> bool) -> Vec<Hit<'_>> {
        let n = self.len();
        let all = || (0..n).filter(|&key| keep(key)).map(|key| self.row_of[key]);
        if n <= EXACT_SEARCH_MAX {
            return self.exact(q, k, all());
        }
        // How many papers pass, from a sample: a filter passing few papers makes the
        // graph walk discard most of what it visits; scanning them is cheaper and exact.
        let sample = FILTER_SAMPLE.min(n);
        let step = n / sample;
        let passed = (0..sample).filter(|i| keep(i * step)).count();
        let estimate = passed * n / sample;
        if estimate <= EXACT_SEARCH_MAX || estimate * 8 < n {
            return self.exact(q, k, all());
        }
        let keep_row = |row: usize| self.owner[row] != DEAD && keep(self.owner[row]);
        let engine = self.engine();
        let found = engine.search(q, k, self.ef_search, Some(&keep_row));
        // Rows after the engine's are scanned; the engine may return rows that fail
        // the filter: re-check each.
        let tail = engine.covered()..self.rows();
        let hits = self.hits(q, found.into_iter().chain(tail).filter(|&r| keep_row(r)), k);
        if hits.len() < k {
            return self.exact(q, k, all());
        }
        hits
    }

    /// The exact `k` nearest papers to `query` among those `filter` accepts, best first:
    /// a scan of every candidate. For ranking a day's papers, and as the reference the
    /// approximate search is tested against.
    pub fn nearest_exact(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&dyn Fn(&Paper) -> bool>,
    ) -> Result<Vec<Hit<'_>>> {
        let q = self.query(query)?;
        Ok(match filter {
            None => self.exact(&q, k, self.live_rows()),
            Some(f) => {
                let rows = (0..self.len())
                    .filter(|&key| self.paper_at(key).is_some_and(f))
                    .map(|key| self.row_of[key]);
                self.exact(&q, k, rows)
            }
        })
    }

    /// The `k` nearest papers by the HNSW graph alone, examining `ef` candidates, best
    /// first: what [`Library::nearest`] uses for large unfiltered searches, exposed to
    /// measure and test the graph.
    pub fn nearest_approx(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Hit<'_>>> {
        let q = self.query(query)?;
        Ok(self.approx(&q, k.min(self.len()), ef))
    }

    /// The approximate search engine over the rows: the seam another engine would plug
    /// in at ([`VectorSearch`]).
    fn engine(&self) -> GraphSearch<'_> {
        GraphSearch {
            index: &self.index,
            rows: &self.vectors,
        }
    }

    fn approx(&self, q: &[f32], k: usize, ef: usize) -> Vec<Hit<'_>> {
        if k == 0 {
            return Vec::new();
        }
        let dead = self.rows() - self.len();
        // Dead rows are still in the graph: ask for more so that k live ones remain.
        let want = if dead == 0 {
            k
        } else {
            (2 * k).min(self.rows())
        };
        let engine = self.engine();
        let found = engine.search(q, want, ef.max(want), None);
        // Rows committed after the graph was last written are not in it: scanned.
        let tail = engine.covered()..self.rows();
        let hits = self.hits(
            q,
            found
                .into_iter()
                .chain(tail)
                .filter(|&r| self.owner[r] != DEAD),
            k,
        );
        if hits.len() < k {
            // Rare: the graph walk ended early or met many dead rows.
            return self.exact(q, k, self.live_rows());
        }
        hits
    }

    /// Hits for graph results (rows, best first), scored exactly, at most `k`.
    fn hits(&self, q: &[f32], rows: impl Iterator<Item = usize>, k: usize) -> Vec<Hit<'_>> {
        let mut scored: Vec<(f32, usize)> = rows.map(|r| (dot(q, self.row(r)), r)).collect();
        scored.sort_by(by_similarity);
        scored.dedup_by_key(|s| s.1);
        scored.truncate(k);
        self.to_hits(scored)
    }

    fn exact(&self, q: &[f32], k: usize, rows: impl Iterator<Item = usize>) -> Vec<Hit<'_>> {
        let top = top_k_exact(q, k, rows, |r| self.row(r));
        self.to_hits(top)
    }

    fn to_hits(&self, scored: Vec<(f32, usize)>) -> Vec<Hit<'_>> {
        scored
            .into_iter()
            .filter_map(|(similarity, row)| {
                let key = self.owner[row];
                Some(Hit {
                    paper: self.paper_at(key)?,
                    key,
                    similarity,
                })
            })
            .collect()
    }

    fn live_rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.row_of.iter().copied()
    }

    fn query(&self, query: &[f32]) -> Result<Vec<f32>> {
        normalized(query, self.dimension())
            .map_err(|why| Error::Invalid(format!("query vector {why}")))
    }

    /// What upserting `papers` would do, and which of them need a vector first. A
    /// writer's [`super::Writer::upsert`] takes one vector per `plan.indices` entry.
    ///
    /// Merging rules: records are matched by (canonical) id, so another version or
    /// another source of a paper updates it. Within the batch and against the library,
    /// a later record's fields win, except that a field it leaves empty keeps the
    /// earlier value, `listed` and `published` keep the earliest date seen and `updated`
    /// the latest. A paper needs a vector when it is new or the merged record's
    /// [`Paper::text`] differs (by sha256) from the one its stored vector was made from.
    /// Papers with an empty id are skipped here and refused by `upsert`.
    pub fn plan(&self, papers: &[Paper]) -> Plan {
        let changes = self.changes(papers);
        plan_of(&changes, papers.iter().filter(|p| !p.id.is_empty()).count())
    }

    pub(crate) fn changes(&self, papers: &[Paper]) -> Vec<Change> {
        let mut order: Vec<&str> = Vec::new();
        let mut folded: HashMap<&str, (Paper, usize)> = HashMap::new();
        for (i, p) in papers.iter().enumerate() {
            if p.id.is_empty() {
                continue;
            }
            match folded.get_mut(p.id.as_str()) {
                Some((merged, last)) => {
                    *merged = merge(merged, p);
                    *last = i;
                }
                None => {
                    let merged = match self.get(&p.id) {
                        Some(stored) => merge(stored, p),
                        None => p.clone(),
                    };
                    order.push(&p.id);
                    folded.insert(&p.id, (merged, i));
                }
            }
        }
        order
            .into_iter()
            .filter_map(|id| folded.remove(id))
            .map(|(paper, source)| {
                let key = self.papers.key(&paper.id);
                let stored = key.and_then(|k| self.entry(k));
                let text_sha256 = text_sha256(&paper);
                let needs_vector = stored.is_none_or(|e| e.text_sha256 != text_sha256);
                let changed = stored.is_none_or(|e| needs_vector || e.paper != paper);
                Change {
                    key,
                    paper,
                    text_sha256,
                    source,
                    needs_vector,
                    changed,
                }
            })
            .collect()
    }
}

pub(crate) fn plan_of(changes: &[Change], with_id: usize) -> Plan {
    let mut needs: Vec<(usize, &Change)> = changes
        .iter()
        .filter(|c| c.needs_vector)
        .map(|c| (c.source, c))
        .collect();
    needs.sort_by_key(|n| n.0);
    let mut plan = Plan {
        indices: needs.iter().map(|n| n.0).collect(),
        texts: needs.iter().map(|n| n.1.paper.text()).collect(),
        duplicates: with_id - changes.len(),
        ..Plan::default()
    };
    for c in changes {
        match (c.key, c.needs_vector, c.changed) {
            (None, _, _) => plan.new += 1,
            (Some(_), true, _) => plan.reembed += 1,
            (Some(_), false, true) => plan.metadata_only += 1,
            (Some(_), false, false) => plan.unchanged += 1,
        }
    }
    plan
}

/// Lowercase hex sha256 of the text a paper's vector is made from.
pub(crate) fn text_sha256(paper: &Paper) -> String {
    hex(&Sha256::digest(paper.text().as_bytes()))
}

/// `new` over `old` for the same paper, field by field (rules in [`Library::plan`]).
pub(crate) fn merge(old: &Paper, new: &Paper) -> Paper {
    fn text(new: &str, old: &str) -> String {
        if new.trim().is_empty() { old } else { new }.to_string()
    }
    fn list(new: &[String], old: &[String]) -> Vec<String> {
        if new.is_empty() { old } else { new }.to_vec()
    }
    fn earliest<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    Paper {
        id: new.id.clone(),
        title: text(&new.title, &old.title),
        abstract_text: text(&new.abstract_text, &old.abstract_text),
        authors: list(&new.authors, &old.authors),
        categories: list(&new.categories, &old.categories),
        listed: earliest(old.listed, new.listed),
        published: earliest(old.published, new.published),
        updated: old.updated.max(new.updated),
        url: new.url.clone().or_else(|| old.url.clone()),
        doi: new.doi.clone().or_else(|| old.doi.clone()),
        source: text(&new.source, &old.source),
        announce_type: new
            .announce_type
            .clone()
            .or_else(|| old.announce_type.clone()),
    }
}

/// What [`Library::verify`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub papers_bytes: u64,
    pub records: usize,
    pub vector_rows: usize,
    /// Index files checked (hnsw_rs's two by sha256, the links by CRC-32 at open).
    pub index_files: usize,
}

/// The first record of `log` (whose first line is line `first_line`) that does not
/// parse or whose text hash does not match its title and abstract: its line and why.
fn first_bad_record(log: &[u8], first_line: usize) -> Option<(usize, String)> {
    use rayon::prelude::*;
    log.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .collect::<Vec<_>>()
        .into_par_iter()
        .find_map_first(|(i, line)| {
            let n = first_line + i;
            let rec: Record = match serde_json::from_slice(line) {
                Ok(r) => r,
                Err(e) => return Some((n, format!("corrupt paper record: {e}"))),
            };
            // The text hash was computed from this title and abstract when the vector
            // was made: a record that no longer matches was edited or damaged.
            (text_sha256(&rec.paper) != rec.text_sha256).then(|| {
                (n, format!(
                    "paper {}: its title and abstract do not match the text hash stored with its vector (sha256 {}): the papers log was edited or damaged (restore it from a backup, or re-ingest into a new library)",
                    rec.paper.id,
                    rec.text_sha256.chars().take(12).collect::<String>()
                ))
            })
        })
}

/// Row `r` of `vectors` must be finite and of unit length.
fn check_row(vectors: &Vectors, r: usize, path: &Path) -> Result<()> {
    check_unit(vectors.row(r), vectors.dim()).map_err(|why| Error::Library {
        path: path.to_path_buf(),
        message: format!("row {r} {why}: the vectors file is corrupt"),
    })
}

/// The byte range of the last block of the first `len` bytes of `path` if it does not
/// match its CRC-32 in `sums`.
fn last_block_damaged(
    path: &Path,
    sums: &BlockSums,
    len: u64,
) -> Result<Option<std::ops::Range<u64>>> {
    if len == 0 {
        return Ok(None);
    }
    use std::io::{Seek, SeekFrom};
    let b = sums.block_bytes.max(1);
    let start = (len - 1) / b * b;
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; (len - start) as usize];
    f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
    let want = sums.crc32.last().copied();
    Ok((Some(crc32fast::hash(&buf)) != want).then_some(start..len))
}

fn vectors_damaged(path: &Path, range: std::ops::Range<u64>, row_bytes: u64) -> Error {
    let (first, last) = (
        range.start / row_bytes.max(1),
        range.end.div_ceil(row_bytes.max(1)),
    );
    Error::Library {
        path: path.to_path_buf(),
        message: format!(
            "rows {first}..{last} (bytes {}..{}) do not match the checksum the manifest recorded when they were committed: the vectors file is corrupt (restore it from a backup, or re-ingest into a new library)",
            range.start, range.end
        ),
    }
}

fn papers_damaged(path: &Path, log: &[u8], range: std::ops::Range<u64>) -> Error {
    let line_at = |at: u64| 1 + log[..at as usize].iter().filter(|b| **b == b'\n').count();
    let (first, last) = (line_at(range.start), line_at(range.end.saturating_sub(1)));
    Error::Input {
        path: path.to_path_buf(),
        line: first as u64,
        message: format!(
            "lines {first}-{last} (bytes {}..{}) do not match the checksum the manifest recorded when they were committed: the papers log is corrupt (restore it from a backup, or re-ingest into a new library)",
            range.start, range.end
        ),
    }
}

/// The committed prefix of a papers log, open for positioned reads (the committed
/// prefix is never modified: commits append, a rewrite makes a new file).
#[derive(Debug)]
pub(crate) struct LogReader {
    file: File,
    /// Committed length.
    pub(crate) len: u64,
}

impl LogReader {
    /// The first `len` bytes of `path` (`None` when `len` is 0); an error if the file
    /// is shorter.
    pub(crate) fn open(path: &Path, len: u64) -> Result<Option<LogReader>> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let have = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if have < len {
            return Err(Error::Library {
                path: path.to_path_buf(),
                message: format!(
                    "has {have} bytes, the manifest committed {len}: the file was truncated"
                ),
            });
        }
        Ok((len > 0).then_some(LogReader { file, len }))
    }

    /// `n` bytes at offset `at` (within the committed prefix).
    pub(crate) fn read(&self, at: u64, n: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.read_exact_at(&mut buf, at)?;
        }
        #[cfg(not(unix))]
        {
            use std::io::{Seek, SeekFrom};
            let mut f = self.file.try_clone()?;
            f.seek(SeekFrom::Start(at))?;
            f.read_exact(&mut buf)?;
        }
        Ok(buf)
    }
}

/// The first `len` bytes of `path`; an error if the file is shorter.
fn read_prefix(path: &Path, len: u64) -> Result<Vec<u8>> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let have = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if have < len {
        return Err(Error::Library {
            path: path.to_path_buf(),
            message: format!(
                "has {have} bytes, the manifest committed {len}: the file was truncated"
            ),
        });
    }
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 5, d)
    }

    #[test]
    fn merge_keeps_earliest_listing_and_fills_gaps() {
        let mut old = Paper::new("2605.00001", "Old title");
        old.abstract_text = "Old abstract".into();
        old.categories = vec!["cs.CL".into()];
        old.listed = day(3);
        old.updated = day(3);
        let mut new = Paper::new("2605.00001v2", "New title");
        new.listed = day(5);
        new.updated = day(9);
        let m = merge(&old, &new);
        assert_eq!(m.title, "New title");
        assert_eq!(
            m.abstract_text, "Old abstract",
            "an empty field keeps the stored value"
        );
        assert_eq!(m.categories, vec!["cs.CL".to_string()]);
        assert_eq!(m.listed, day(3));
        assert_eq!(m.updated, day(9));
        let mut earlier = new.clone();
        earlier.listed = day(1);
        assert_eq!(merge(&old, &earlier).listed, day(1));
        let mut none = new.clone();
        none.listed = None;
        assert_eq!(merge(&old, &none).listed, day(3));
    }
}
