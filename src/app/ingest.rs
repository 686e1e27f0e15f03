//! Adding papers to a library: read files (or take fetched papers), embed what is new,
//! commit in batches. Owns the orchestration and its report; the readers are
//! `ingest`'s, the storage `library`'s.

use std::path::{Path, PathBuf};

use super::Models;
use crate::error::{Error, Result};
use crate::ingest::{self, Format};
use crate::job::progress::Progress;
use crate::library::{Writer, WriterOptions};
use crate::paper::Paper;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Every file's format; `None`: detected from each file's content.
    pub format: Option<Format>,
    /// Stop at the first malformed record, before anything is committed.
    pub strict: bool,
    /// Papers per commit: a kill loses at most this many.
    pub commit_every: usize,
    /// A progress bar (papers/s, ETA) on a terminal, progress lines in the log
    /// otherwise.
    pub progress: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            strict: false,
            commit_every: 1024,
            progress: false,
        }
    }
}

/// What an ingest did, totals over every file read.
#[derive(Debug, Default, Clone)]
pub struct IngestTotals {
    /// Files read to the end.
    pub files: usize,
    pub records: usize,
    pub new: usize,
    pub metadata_only: usize,
    pub reembedded: usize,
    pub unchanged: usize,
    pub duplicates: usize,
}

/// The outcome of [`ingest_files`]: what was committed, what was skipped, and which
/// files could not be read at all (their papers are not in the library).
#[derive(Debug)]
pub struct IngestReport {
    pub library: PathBuf,
    pub totals: IngestTotals,
    /// Papers in the library after the last commit.
    pub papers: usize,
    /// Malformed records skipped (each names its file and line).
    pub skipped: Vec<Error>,
    /// Files that failed as a whole, with why; nothing of theirs was committed past
    /// the last commit before the failure.
    pub failed: Vec<(PathBuf, Error)>,
}

/// Ingest `files` into the library in `dir` (created when missing). A file that
/// cannot be read is reported in [`IngestReport::failed`] and the others are still
/// ingested; with `strict`, any problem fails the whole call before anything is
/// committed.
pub fn ingest_files(
    dir: &Path,
    models: &Models,
    files: &[PathBuf],
    opts: &IngestOptions,
) -> Result<IngestReport> {
    if opts.commit_every == 0 {
        return Err(Error::Invalid("--commit-every must be at least 1".into()));
    }
    for file in files {
        if !file.is_file() {
            return Err(Error::io(
                file,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
    }
    // One reading pass before any embedding: with --strict it refuses a bad file
    // before anything is committed; it also sizes the progress bar (reading is
    // milliseconds per thousand papers, embedding is seconds).
    let mut total = 0u64;
    for file in files {
        match ingest::read(file, opts.format) {
            Ok(records) => {
                for record in records {
                    match record {
                        Ok(_) => total += 1,
                        Err(e) if opts.strict => return Err(e),
                        Err(_) => {}
                    }
                }
            }
            Err(e) if opts.strict => return Err(e),
            Err(_) => {}
        }
    }
    let model = models.get()?;
    let mut writer = Writer::open(dir, &model.info, &WriterOptions::default())?;
    let mut progress = Progress::papers(opts.progress, Some(total));
    let mut totals = IngestTotals::default();
    let mut skipped = Vec::new();
    let mut failed = Vec::new();
    for file in files {
        let records = match ingest::read(file, opts.format) {
            Ok(r) => r,
            Err(e) => {
                failed.push((file.clone(), e));
                continue;
            }
        };
        let mut batch = Vec::with_capacity(opts.commit_every.min(4096));
        let mut result = Ok(());
        for record in records {
            match record {
                Ok(paper) => batch.push(listing_claim(paper)),
                Err(e) => skipped.push(e),
            }
            if batch.len() == opts.commit_every {
                result = commit_batch(&mut writer, &model.embedder, &mut batch, &mut totals);
                progress.add(opts.commit_every as u64, 0);
                if result.is_err() {
                    break;
                }
            }
        }
        if result.is_ok() {
            let n = batch.len() as u64;
            result = commit_batch(&mut writer, &model.embedder, &mut batch, &mut totals);
            progress.add(n, 0);
        }
        match result {
            Ok(()) => totals.files += 1,
            // A failure to embed or store is not the file's fault: stop, keeping what
            // is committed.
            Err(e) => {
                progress.finish();
                return Err(e);
            }
        }
    }
    progress.finish();
    let info = writer.finish()?;
    Ok(IngestReport {
        library: dir.to_path_buf(),
        totals,
        papers: info.papers,
        skipped,
        failed,
    })
}

/// Store papers that are already parsed (fetched over HTTP), embedding the new ones;
/// commits every `commit_every`.
pub fn ingest_papers(
    dir: &Path,
    models: &Models,
    papers: Vec<Paper>,
    commit_every: usize,
) -> Result<(IngestTotals, usize)> {
    let model = models.get()?;
    let mut writer = Writer::open(dir, &model.info, &WriterOptions::default())?;
    let mut totals = IngestTotals::default();
    let mut batch = Vec::new();
    for paper in papers {
        batch.push(listing_claim(paper));
        if batch.len() >= commit_every.max(1) {
            commit_batch(&mut writer, &model.embedder, &mut batch, &mut totals)?;
        }
    }
    commit_batch(&mut writer, &model.embedder, &mut batch, &mut totals)?;
    totals.files += 1;
    let info = writer.finish()?;
    Ok((totals, info.papers))
}

/// A listing feed's replacement is an update of an older paper, not a paper of that
/// day: it keeps its metadata but claims no listing day.
fn listing_claim(mut paper: Paper) -> Paper {
    if paper
        .announce_type
        .as_deref()
        .is_some_and(|t| t.starts_with("replace"))
    {
        paper.listed = None;
    }
    paper
}

/// Embed what a batch needs, upsert it and commit; empties `batch`.
fn commit_batch(
    writer: &mut Writer,
    embedder: &crate::embed::Embedder,
    batch: &mut Vec<Paper>,
    totals: &mut IngestTotals,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let plan = writer.plan(batch);
    let vectors = embedder.embed(&plan.texts)?;
    let counts = writer.upsert(batch, &vectors)?;
    writer.commit()?;
    totals.records += batch.len();
    totals.new += counts.new;
    totals.metadata_only += counts.metadata_only;
    totals.reembedded += counts.reembedded;
    totals.unchanged += counts.unchanged;
    totals.duplicates += counts.duplicates;
    tracing::debug!(records = totals.records, new = totals.new, "committed");
    batch.clear();
    Ok(())
}
