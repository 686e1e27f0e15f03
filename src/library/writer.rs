//! [`Writer`]: the one process allowed to change a library. It holds the write lock,
//! applies upserts in memory (searchable at once through `Deref<Target = Library>`) and
//! makes them durable at [`Writer::commit`]: append to the data files, fsync, then
//! replace the manifest. Also compaction and index rebuilds.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::ops::Deref;
use std::path::Path;

use super::index::{Index, IndexParams, DUMP_TMP_SUFFIX};
use super::lock::{WriteLock, LOCK_FILE};
use super::manifest::{
    lib_err, open_for_append, sync_dir, BlockSums, Counts, Manifest, PapersFile, PapersIndexFile,
    VectorsFile, FORMAT_NAME, FORMAT_VERSION, MANIFEST, MANIFEST_TMP, PAPERS_BLOCK_BYTES,
    VECTOR_BLOCK_ROWS,
};
use super::meta::Papers;
use super::rows::Vectors;
use super::store::{plan_of, Library, LogReader, DEAD};
use super::vector::check_unit;
use super::ModelInfo;
use crate::paper::Paper;
use crate::{Error, Result};

/// Knobs of a [`Writer`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriterOptions {
    /// Graph parameters of a library created by this writer; an existing library keeps
    /// the ones it was created with.
    pub index: IndexParams,
    /// A commit rewrites the HNSW dump (a full rewrite, O(library)) once this many rows
    /// are not in it; until then commits only append, and an open inserts those rows
    /// into the reloaded graph. Smaller: slower periodic commits, faster opens after a
    /// crash. [`Writer::finish`] always dumps.
    pub dump_after_rows: usize,
    /// A commit compacts (rewrites the files without dead rows and rebuilds the graph)
    /// when dead rows exceed this fraction of all rows, and number at least
    /// `compact_min_dead_rows`.
    pub compact_dead_fraction: f64,
    /// See `compact_dead_fraction`.
    pub compact_min_dead_rows: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            index: IndexParams::default(),
            dump_after_rows: 5_000,
            compact_dead_fraction: 0.25,
            compact_min_dead_rows: 1_000,
        }
    }
}

/// What an upsert did, counted over the distinct ids of the batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Papers added.
    pub new: usize,
    /// Papers whose text changed: their vector was replaced.
    pub reembedded: usize,
    /// Papers whose metadata changed but not their text: no new vector.
    pub metadata_only: usize,
    /// Papers already stored exactly so.
    pub unchanged: usize,
    /// Records folded into an earlier record of the same id in the batch.
    pub duplicates: usize,
}

/// Where an upserted paper's vector is.
enum Slot<'v> {
    Existing(usize),
    New(&'v [f32]),
}

/// When a commit rewrites the HNSW dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dump {
    /// When `dump_after_rows` rows are not in it.
    IfDue,
    /// When any row is not in it.
    Complete,
    /// Always (the graph was rebuilt).
    Always,
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// The manifest's commit number now (unchanged when there was nothing to commit).
    pub commit: u64,
    /// Whether anything was written.
    pub written: bool,
    /// Whether the HNSW dump was rewritten.
    pub dumped_index: bool,
    /// Whether the library was compacted (new generation of files, graph rebuilt).
    pub compacted: bool,
    /// Distinct papers committed.
    pub papers: usize,
}

/// The writer of one library directory. At most one exists per directory at a time
/// (across processes): a second [`Writer::open`] fails with [`Error::Locked`].
///
/// Ingest: `plan` which papers need vectors, embed their texts, `upsert`, and `commit`
/// every few thousand papers; `finish` at the end. A process killed at any point leaves
/// the last commit readable; re-running the same ingest completes it (already stored
/// papers plan as unchanged and are not embedded again). Dropping a writer without a
/// commit discards its uncommitted upserts.
#[derive(Debug)]
pub struct Writer {
    lib: Library,
    _lock: WriteLock,
    papers_out: File,
    vectors_out: File,
    /// Keys whose record changed since the last commit.
    pending: BTreeSet<usize>,
    options: WriterOptions,
}

impl Deref for Writer {
    type Target = Library;
    fn deref(&self) -> &Library {
        &self.lib
    }
}

impl Writer {
    /// Open the library in `dir` for writing, creating it (and `dir`) if missing.
    ///
    /// Fails with [`Error::Locked`] if another writer holds it, with
    /// [`Error::ModelMismatch`] if it was built with another model, and with
    /// [`Error::Library`] if `dir` is a non-empty directory that is not a library.
    pub fn open(
        dir: impl AsRef<Path>,
        model: &ModelInfo,
        options: &WriterOptions,
    ) -> Result<Writer> {
        Writer::open_inner(dir.as_ref(), model, options, true)
    }

    /// Open for writing without loading the HNSW dump, rebuild the graph from the stored
    /// vectors and commit it: the repair for a damaged or lost index dump.
    pub fn reindex(
        dir: impl AsRef<Path>,
        model: &ModelInfo,
        options: &WriterOptions,
    ) -> Result<CommitInfo> {
        let mut w = Writer::open_inner(dir.as_ref(), model, options, false)?;
        w.commit_inner(Dump::Always)
    }

    fn open_inner(
        dir: &Path,
        model: &ModelInfo,
        options: &WriterOptions,
        use_dump: bool,
    ) -> Result<Writer> {
        model
            .check()
            .map_err(|why| Error::Invalid(format!("model {model}: {why}")))?;
        options.index.check().map_err(|why| lib_err(dir, why))?;
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let lock = WriteLock::acquire(dir)?;
        let lib = if dir.join(MANIFEST).exists() {
            let manifest = Manifest::read(dir)?;
            if !manifest.model.same_model(model) {
                return Err(Error::ModelMismatch {
                    path: dir.to_path_buf(),
                    expected: manifest.model.to_string(),
                    found: model.to_string(),
                });
            }
            Library::load(dir, manifest, use_dump, true)?
        } else {
            create(dir, model, options)?
        };
        remove_unreferenced(dir, &lib.manifest);
        let m = &lib.manifest;
        let papers_out = open_for_append(&dir.join(&m.papers.file), m.papers.bytes)?;
        let vectors_out = open_for_append(
            &dir.join(&m.vectors.file),
            vector_bytes(m.vectors.rows, m.model.dimension),
        )?;
        let upgrade = lib.manifest.format_version < FORMAT_VERSION || lib.papers_index_stale;
        let mut w = Writer {
            lib,
            _lock: lock,
            papers_out,
            vectors_out,
            pending: BTreeSet::new(),
            options: options.clone(),
        };
        if upgrade {
            w.upgrade()?;
        }
        Ok(w)
    }

    /// Bring an older library to [`FORMAT_VERSION`], as one commit: `load` checked its
    /// files as far as the old format allows and computed what version 1 lacks (the
    /// checksums); version 2 lacks the index's links file, so the graph is dumped anew
    /// (under new names) with it; version 3 lacks the papers index, which every commit
    /// writes (the graph is kept). The new manifest replaces the old one atomically, so
    /// a process killed during the upgrade leaves the old library as it was (its
    /// leftovers are removed by the next writer), and the next writer upgrades it.
    /// Also how a papers index found damaged by this writer is written anew.
    fn upgrade(&mut self) -> Result<()> {
        let from = self.lib.manifest.format_version;
        tracing::info!(from, to = FORMAT_VERSION, "upgrading the library format");
        self.lib.manifest.format_version = FORMAT_VERSION;
        self.lib.papers_index_stale = true;
        let policy = if from < 3 && self.lib.rows() > 0 {
            Dump::Always
        } else {
            Dump::IfDue
        };
        self.commit_inner(policy)?;
        Ok(())
    }

    /// The library as this writer sees it (including uncommitted upserts).
    pub fn library(&self) -> &Library {
        &self.lib
    }

    /// Mutable access for search settings ([`Library::set_ef_search`]).
    pub fn library_mut(&mut self) -> &mut Library {
        &mut self.lib
    }

    /// Add or update a batch of papers. `vectors[j]` is the unit vector of
    /// `plan.texts[j]` where `plan = self.plan(papers)` (one per `plan.indices` entry,
    /// in that order). Merging rules are those of [`Library::plan`]: a re-ingested paper
    /// never gets a second vector; a changed text replaces its vector.
    ///
    /// The batch is checked whole before anything changes: an empty id, a vector count
    /// other than the plan's, or a vector of the wrong dimension, non-finite or not
    /// L2-normalised is refused and the library is left as it was. Visible to searches
    /// through this writer at once; durable at the next [`Writer::commit`].
    pub fn upsert<V: AsRef<[f32]>>(
        &mut self,
        papers: &[Paper],
        vectors: &[V],
    ) -> Result<BatchCounts> {
        if let Some(i) = papers.iter().position(|p| p.id.is_empty()) {
            return Err(Error::Invalid(format!(
                "paper {i} of the batch has an empty id"
            )));
        }
        let _span = tracing::info_span!("library_upsert", papers = papers.len()).entered();
        let changes = self.lib.changes(papers);
        let plan = plan_of(&changes, papers.len());
        if vectors.len() != plan.indices.len() {
            return Err(Error::Invalid(format!(
                "upsert got {} vectors for {} papers that need one (see Library::plan)",
                vectors.len(),
                plan.indices.len()
            )));
        }
        let dim = self.lib.dimension();
        let mut vector_of: HashMap<usize, &[f32]> = HashMap::with_capacity(vectors.len());
        for (&source, v) in plan.indices.iter().zip(vectors) {
            let v = v.as_ref();
            check_unit(v, dim).map_err(|why| {
                Error::Invalid(format!("the vector of paper {} {why}", papers[source].id))
            })?;
            vector_of.insert(source, v);
        }
        // Resolve every change to its row before changing anything.
        let mut slots = Vec::with_capacity(changes.len());
        for c in changes {
            if !c.changed {
                continue;
            }
            let slot = match (c.needs_vector, c.key, vector_of.get(&c.source)) {
                (false, Some(key), _) => Slot::Existing(self.lib.row_of[key]),
                (true, _, Some(v)) => Slot::New(v),
                _ => {
                    return Err(Error::Invalid(format!(
                        "paper {} needs a vector but none was planned for it",
                        c.paper.id
                    )))
                }
            };
            slots.push((c, slot));
        }
        for (c, slot) in slots {
            let row = match slot {
                Slot::Existing(row) => row,
                Slot::New(v) => {
                    self.lib.vectors.push(v);
                    self.lib.owner.push(DEAD);
                    self.lib.owner.len() - 1
                }
            };
            let key = self.lib.put(c.paper, c.text_sha256, row);
            self.pending.insert(key);
        }
        let counts = BatchCounts {
            new: plan.new,
            reembedded: plan.reembed,
            metadata_only: plan.metadata_only,
            unchanged: plan.unchanged,
            duplicates: plan.duplicates,
        };
        // The new rows are searched exactly until a commit inserts them into the graph
        // (when it writes the dump): an upsert stays O(batch).
        Ok(counts)
    }

    /// [`Writer::upsert`] with the embedding in between: `embed` gets the texts that
    /// need vectors (none if nothing does, in which case it is not called) and returns
    /// one unit vector per text, in order.
    pub fn upsert_with<F>(&mut self, papers: &[Paper], embed: F) -> Result<BatchCounts>
    where
        F: FnOnce(&[String]) -> Result<Vec<Vec<f32>>>,
    {
        let plan = self.lib.plan(papers);
        let vectors = if plan.texts.is_empty() {
            Vec::new()
        } else {
            embed(&plan.texts)?
        };
        self.upsert(papers, &vectors)
    }

    /// Make every upsert so far durable. Cheap: appends the new records and vector rows
    /// to the current files, fsyncs them, and replaces the manifest. Also rewrites the
    /// HNSW dump when [`WriterOptions::dump_after_rows`] rows are not in it, and
    /// compacts when too many rows are dead (both O(library)). A no-op when nothing
    /// changed. If it fails, the previous commit stays in force and it may be retried.
    pub fn commit(&mut self) -> Result<CommitInfo> {
        self.commit_inner(Dump::IfDue)
    }

    /// Commit and write the HNSW dump if it does not cover every row, so that the next
    /// open reloads the graph without inserting anything. Releases the lock.
    pub fn finish(mut self) -> Result<CommitInfo> {
        self.commit_inner(Dump::Complete)
    }

    fn commit_inner(&mut self, policy: Dump) -> Result<CommitInfo> {
        self.lib.papers.settle();
        let (rows, papers) = (self.lib.rows(), self.lib.len());
        let dead = rows - papers;
        if dead >= self.options.compact_min_dead_rows.max(1)
            && dead as f64 > self.options.compact_dead_fraction * rows as f64
        {
            return self.compact();
        }
        let dumped = self
            .lib
            .manifest
            .index_dump
            .as_ref()
            .map_or(0, |d| d.points);
        // Rows not in the dump are searched exactly by every reader: few enough that
        // this costs little next to the graph walk (2% of the rows at most, beyond
        // `dump_after_rows`), so that a large library is not rewritten every day.
        let due = rows >= dumped.saturating_add(self.options.dump_after_rows.max(1).max(rows / 50));
        let dump = rows > 0
            && match policy {
                Dump::Always => true,
                Dump::Complete => rows > dumped && (rows <= FINISH_DUMP_MAX_ROWS || due),
                Dump::IfDue => due,
            };
        if dump {
            // The graph must hold every row before it is written.
            self.lib.catch_up_index()?;
        }
        let lib = &self.lib;
        let m = &lib.manifest;
        let dir = lib.dir.clone();
        let dim = lib.dimension();
        if self.pending.is_empty() && rows == m.vectors.rows && !dump && !lib.papers_index_stale {
            return Ok(CommitInfo {
                commit: m.commit,
                written: false,
                dumped_index: false,
                compacted: false,
                papers,
            });
        }
        let _span = tracing::info_span!("library_commit", rows, papers, dump).entered();

        // 1. Data: append after the committed prefix (a failed earlier attempt may have
        //    left bytes there: rewind over them), then fsync. When superseded records
        //    make up most of the papers log, write it afresh under a new name instead.
        let commit = m.commit + 1;
        let records = m.papers.records + self.pending.len();
        let rewrite_log = records > 2 * papers + LOG_SLACK;
        let log_keys: Vec<usize> = if rewrite_log {
            (0..papers).collect()
        } else {
            self.pending.iter().copied().collect()
        };
        let (log, locs) = lib.records(&log_keys, &|key| lib.row_of[key])?;
        let base = if rewrite_log { 0 } else { m.papers.bytes };
        let new_locs: Vec<(usize, (u64, u32))> = log_keys
            .iter()
            .zip(&locs)
            .map(|(&k, &(at, len))| (k, (base + at, len)))
            .collect();
        drop(locs);
        let mut new_papers_out = None;
        let papers_file = if rewrite_log {
            let name = format!("papers-{commit}.jsonl");
            let path = dir.join(&name);
            write_new(&path, &log)?;
            new_papers_out = Some(open_for_append(&path, log.len() as u64)?);
            PapersFile {
                file: name,
                bytes: log.len() as u64,
                records: papers,
                checksums: Some(BlockSums::of(&log, PAPERS_BLOCK_BYTES)),
            }
        } else {
            let path = dir.join(&m.papers.file);
            append_at(&mut self.papers_out, &path, m.papers.bytes, &log)?;
            let mut sums = loaded_sums(&m.papers.checksums, &dir)?;
            sums.append(m.papers.bytes, &log);
            PapersFile {
                file: m.papers.file.clone(),
                bytes: m.papers.bytes + log.len() as u64,
                records,
                checksums: Some(sums),
            }
        };
        let vectors_path = dir.join(&m.vectors.file);
        let new_rows = lib.vectors.values_from(m.vectors.rows);
        let bytes: Vec<u8> = new_rows.iter().flat_map(|x| x.to_le_bytes()).collect();
        let at = vector_bytes(m.vectors.rows, dim);
        append_at(&mut self.vectors_out, &vectors_path, at, &bytes)?;
        let mut vector_sums = loaded_sums(&m.vectors.checksums, &dir)?;
        vector_sums.append(at, &bytes);

        // 2. The papers index and the index dump, under names no committed manifest
        //    uses.
        let mut all_locs: Vec<(u64, u32)> = (0..papers).map(|k| lib.papers.loc(k)).collect();
        for &(k, loc) in &new_locs {
            all_locs[k] = loc;
        }
        let papers_index = write_papers_index(
            &dir,
            commit,
            &lib.papers,
            &|k| lib.row_of[k],
            &|k| all_locs[k],
            &papers_file,
        )?;
        drop(all_locs);
        let index_dump = if dump {
            Some(
                lib.index
                    .dump(&dir, &format!("index-{commit}"))
                    .map_err(|e| lib_err(&dir, e))?,
            )
        } else {
            m.index_dump.clone()
        };

        // 3. The commit point.
        let mut next = m.clone();
        next.commit = commit;
        next.committed_unix = now_unix();
        next.counts = Counts {
            papers,
            rows,
            dead_rows: dead,
        };
        next.papers = papers_file;
        next.vectors = VectorsFile {
            file: m.vectors.file.clone(),
            rows,
            checksums: Some(vector_sums),
        };
        next.index_dump = index_dump;
        next.papers_index = Some(papers_index);
        next.write(&dir)?;
        let old = std::mem::replace(&mut self.lib.manifest, next);
        for &(k, loc) in &new_locs {
            self.lib.papers.set_loc(k, loc);
        }
        if let Some(out) = new_papers_out {
            self.papers_out = out;
        }
        self.lib.papers_index_stale = false;
        self.pending.clear();
        // The committed records are read back from the log when asked for: a writer
        // keeps the records it upserts only until they are committed.
        if self.remap_log().is_ok() {
            for (k, _) in new_locs {
                self.lib.papers.cache[k] = std::sync::OnceLock::new();
            }
        } else if rewrite_log {
            return Err(lib_err(&dir, "could not map the papers log written afresh"));
        }

        // 4. Files only the old manifest named (the previous dump) go.
        remove_replaced(&dir, &old, &self.lib.manifest);
        Ok(CommitInfo {
            commit,
            written: true,
            dumped_index: dump,
            compacted: false,
            papers,
        })
    }

    /// Rewrite the library without dead rows as a new generation of files (every paper
    /// once, row = key), rebuild the graph from scratch, dump it and commit. O(library);
    /// [`Writer::commit`] calls it when dead rows pile up.
    pub fn compact(&mut self) -> Result<CommitInfo> {
        self.lib.papers.settle();
        let lib = &self.lib;
        let dir = lib.dir.clone();
        let m = &lib.manifest;
        let dim = lib.dimension();
        let n = lib.len();
        let _span = tracing::info_span!("library_compact", papers = n).entered();
        let generation = m.generation + 1;
        let commit = m.commit + 1;

        // Build the whole new state before touching the writer, so that a failure
        // leaves it as it was.
        let mut vectors = Vec::with_capacity(n * dim);
        for &row in &lib.row_of {
            vectors.extend_from_slice(lib.row(row));
        }
        let keys: Vec<usize> = (0..n).collect();
        // Row = key after a compaction.
        let (log, locs) = lib.records(&keys, &|key| key)?;
        let papers_file = format!("papers-{commit}.jsonl");
        let vectors_file = format!("vectors-{commit}.f32");
        write_new(&dir.join(&papers_file), &log)?;
        let bytes: Vec<u8> = vectors.iter().flat_map(|x| x.to_le_bytes()).collect();
        write_new(&dir.join(&vectors_file), &bytes)?;
        let vector_sums = BlockSums::of(&bytes, vector_block_bytes(dim));
        drop(bytes);
        let mut index = Index::new_shared(m.index, n).map_err(|e| lib_err(&dir, e))?;
        index.append(&vectors, dim);
        let index_dump = if n > 0 {
            Some(
                index
                    .dump(&dir, &format!("index-{commit}"))
                    .map_err(|e| lib_err(&dir, e))?,
            )
        } else {
            None
        };

        let papers_index = write_papers_index(
            &dir,
            commit,
            &lib.papers,
            &|k| k,
            &|k| locs[k],
            &PapersFile {
                file: papers_file.clone(),
                bytes: log.len() as u64,
                records: n,
                checksums: None,
            },
        )?;
        let mut next = m.clone();
        next.papers_index = Some(papers_index);
        next.generation = generation;
        next.commit = commit;
        next.committed_unix = now_unix();
        next.counts = Counts {
            papers: n,
            rows: n,
            dead_rows: 0,
        };
        next.papers = PapersFile {
            file: papers_file,
            bytes: log.len() as u64,
            records: n,
            checksums: Some(BlockSums::of(&log, PAPERS_BLOCK_BYTES)),
        };
        next.vectors = VectorsFile {
            file: vectors_file,
            rows: n,
            checksums: Some(vector_sums),
        };
        next.format_version = FORMAT_VERSION;
        next.index_dump = index_dump;
        let papers_out = open_for_append(&dir.join(&next.papers.file), next.papers.bytes)?;
        let vectors_out = open_for_append(&dir.join(&next.vectors.file), vector_bytes(n, dim))?;
        next.write(&dir)?;

        let old = std::mem::replace(&mut self.lib.manifest, next);
        self.lib.vectors = Vectors::in_memory(dim, vectors);
        self.lib.row_of = (0..n).collect();
        self.lib.owner = (0..n).collect();
        self.lib.index = index;
        for (k, loc) in locs.into_iter().enumerate() {
            self.lib.papers.set_loc(k, loc);
        }
        self.papers_out = papers_out;
        self.vectors_out = vectors_out;
        self.remap_log()?;
        self.lib.papers_index_stale = false;
        self.pending.clear();
        remove_replaced(&dir, &old, &self.lib.manifest);
        Ok(CommitInfo {
            commit,
            written: true,
            dumped_index: n > 0,
            compacted: true,
            papers: n,
        })
    }
}

impl Writer {
    /// After a commit: open the papers log again at its new committed length, for the
    /// records not parsed yet.
    fn remap_log(&mut self) -> Result<()> {
        let m = &self.lib.manifest;
        let path = self.lib.dir.join(&m.papers.file);
        self.lib.log = LogReader::open(&path, m.papers.bytes)?;
        self.lib.log_path = path;
        Ok(())
    }
}

/// Write the papers index of commit `commit` (`papers-C.idx`) for the log `log`, each
/// paper's row and record location given by `row` and `loc`; fsynced. What the
/// manifest records of it.
fn write_papers_index(
    dir: &Path,
    commit: u64,
    papers: &Papers,
    row: &dyn Fn(usize) -> usize,
    loc: &dyn Fn(usize) -> (u64, u32),
    log: &PapersFile,
) -> Result<PapersIndexFile> {
    let bytes = papers.encode(row, loc, log.records, log.bytes);
    let file = format!("papers-{commit}.idx");
    write_new(&dir.join(&file), &bytes)?;
    Ok(PapersIndexFile {
        file,
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(&bytes),
    })
}

/// Create an empty library in `dir` (which holds at most leftovers of an earlier
/// attempt at this) and commit it.
fn create(dir: &Path, model: &ModelInfo, options: &WriterOptions) -> Result<Library> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name != LOCK_FILE && !is_ours(&name) {
            return Err(lib_err(
                dir,
                format!("has no {MANIFEST} but is not empty (it holds {name}): not a paperscout library; choose a new or empty directory"),
            ));
        }
        // Creating a library leaves only empty data files behind if it is killed. Data
        // without a manifest means the manifest was lost: never start over on top.
        let len = entry
            .metadata()
            .map_err(|e| Error::io(entry.path(), e))?
            .len();
        if name != LOCK_FILE && name != MANIFEST_TMP && len > 0 {
            return Err(lib_err(
                dir,
                format!("has data ({name}) but no {MANIFEST}: its manifest was lost; refusing to start a new library over it (restore {MANIFEST}, or move the directory away)"),
            ));
        }
    }
    let manifest = Manifest {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        model: model.clone(),
        commit: 0,
        generation: 0,
        committed_unix: now_unix(),
        counts: Counts {
            papers: 0,
            rows: 0,
            dead_rows: 0,
        },
        papers: PapersFile {
            file: "papers-0.jsonl".to_string(),
            bytes: 0,
            records: 0,
            checksums: Some(BlockSums::new(PAPERS_BLOCK_BYTES)),
        },
        vectors: VectorsFile {
            file: "vectors-0.f32".to_string(),
            rows: 0,
            checksums: Some(BlockSums::new(vector_block_bytes(model.dimension))),
        },
        index: options.index,
        index_dump: None,
        papers_index: None,
        extra: serde_json::Map::new(),
    };
    let mut manifest = manifest;
    write_new(&dir.join(&manifest.papers.file), &[])?;
    write_new(&dir.join(&manifest.vectors.file), &[])?;
    manifest.papers_index = Some(write_papers_index(
        dir,
        0,
        &Papers::default(),
        &|k| k,
        &|_| (0, 0),
        &manifest.papers,
    )?);
    manifest.write(dir)?;
    Library::load(dir, manifest, true, true)
}

/// [`Writer::finish`] writes a dump covering every row of a library up to this size;
/// beyond it only when one is due (a dump is a full rewrite: ~1.5 GB at 1M papers).
const FINISH_DUMP_MAX_ROWS: usize = 100_000;

/// A commit writes the papers log afresh once it holds more than `2 × papers +
/// LOG_SLACK` records (the rest superseded by later records of the same papers).
const LOG_SLACK: usize = 64;

/// The checksums `load` put into the manifest it keeps in memory (read from a version 2
/// manifest, computed for a version 1 one).
fn loaded_sums(sums: &Option<BlockSums>, dir: &Path) -> Result<BlockSums> {
    sums.clone()
        .ok_or_else(|| lib_err(dir, "the library was loaded without checksums (a bug)"))
}

/// Bytes per checksummed block of a vectors file of dimension `dim`.
pub(crate) fn vector_block_bytes(dim: usize) -> u64 {
    VECTOR_BLOCK_ROWS * dim as u64 * 4
}

/// Bytes of `rows` vector rows.
fn vector_bytes(rows: usize, dim: usize) -> u64 {
    (rows as u64) * (dim as u64) * 4
}

/// Write `bytes` at offset `at` of `file` (cutting off anything after `at` first) and
/// fsync.
fn append_at(file: &mut File, path: &Path, at: u64, bytes: &[u8]) -> Result<()> {
    let io = |e| Error::io(path, e);
    file.set_len(at).map_err(io)?;
    file.seek(SeekFrom::Start(at)).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_data().map_err(io)
}

/// Create `path` afresh with `bytes`, fsynced: whatever had the name (a leftover of a
/// killed writer, a planted link) is removed first, never written through, and a
/// failed write removes the file.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = BufWriter::new(crate::fsio::TempFile::create(path)?);
    out.write_all(bytes).map_err(|e| Error::io(path, e))?;
    let t = out
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    t.keep()?;
    Ok(())
}

/// Whether `name` is one of the data files a library writes (as opposed to a file
/// someone else put in the directory).
fn is_ours(name: &str) -> bool {
    name == MANIFEST_TMP
        || (name.starts_with("papers-") && (name.ends_with(".jsonl") || name.ends_with(".idx")))
        || (name.starts_with("vectors-") && name.ends_with(".f32"))
        || (name.starts_with("index-")
            && (name.ends_with(".hnsw.graph")
                || name.ends_with(".hnsw.data")
                || name.ends_with(".links")
                || name.ends_with(".links.tmp")
                || name.ends_with(DUMP_TMP_SUFFIX)))
}

/// Remove data files the committed manifest does not name: what a killed writer left.
/// Best effort: a file that cannot be removed now is tried again at the next open.
fn remove_unreferenced(dir: &Path, manifest: &Manifest) {
    let keep: HashSet<&str> = manifest.files().into_iter().collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if is_ours(&name) && !keep.contains(name.as_ref()) {
            let path = entry.path();
            let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
            let removed = if is_dir {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(e) = removed {
                tracing::warn!("could not remove stale {}: {e}", entry.path().display());
            }
        }
    }
}

/// After a commit: remove the files `old` named that `new` does not.
fn remove_replaced(dir: &Path, old: &Manifest, new: &Manifest) {
    let keep: HashSet<&str> = new.files().into_iter().collect();
    for name in old.files() {
        if !keep.contains(name) {
            let path = dir.join(name);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!("could not remove replaced {}: {e}", path.display());
            }
        }
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
