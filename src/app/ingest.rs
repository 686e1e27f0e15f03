//! Adding papers to a library: read files (or take fetched papers), embed what is new,
//! commit in batches. Owns the orchestration and its report; the readers are
//! `ingest`'s, the storage `library`'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::vectors::{full, VectorSet};
use super::{LoadedModel, Models};
use crate::error::{Error, Result};
use crate::ingest::{self, Format};
use crate::job::progress::Progress;
use crate::library::{ModelInfo, Plan, Writer, WriterOptions, MANIFEST};
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
    /// Vectors files (`--vectors`: what `paperscout embed` writes, `.npy` with its
    /// sidecars or `.safetensors`, several parts at once): a record with a vector there
    /// is stored with it instead of being embedded. See [`ingest_files`].
    pub vectors: Vec<PathBuf>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            strict: false,
            commit_every: 1024,
            progress: false,
            vectors: Vec::new(),
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
    /// Vectors taken from `--vectors` files.
    pub from_vectors: usize,
    /// Texts embedded by the model.
    pub embedded: usize,
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
    /// What came of `--vectors`, when given.
    pub vectors: Option<VectorsReport>,
}

/// What `ingest --vectors` did with the vectors files.
#[derive(Debug, Clone)]
pub struct VectorsReport {
    /// The model every file names (and the library now records).
    pub model: ModelInfo,
    pub files: usize,
    /// Vectors in all files.
    pub vectors: usize,
    /// Vectors that match no record: how many, and the first few ids.
    pub unused: usize,
    pub unused_first: Vec<String>,
    /// Ids given more than once; the first file and row won.
    pub duplicates: usize,
    /// Vectors that were not unit length and were divided by their norm.
    pub normalised: usize,
    /// When the files are parts of one `--shard` run: the parts not given (`"2/3"`).
    pub missing_parts: Vec<String>,
    /// Records that had no vector in the files (embedded with the model).
    pub missing: usize,
    pub missing_first: Vec<String>,
}

/// Ingest `files` into the library in `dir` (created when missing). A file that
/// cannot be read is reported in [`IngestReport::failed`] and the others are still
/// ingested; with `strict`, any problem fails the whole call before anything is
/// committed.
///
/// With [`IngestOptions::vectors`], a record whose id (canonical form) has a vector in
/// those files is stored with that vector; the model is loaded only if some record has
/// none (it is then embedded), and with `strict` such a record fails the call before
/// anything is committed. Before anything is written, every file must name the same
/// model by identity, and an existing library must record that model (same weights
/// sha256 and dimension): otherwise [`Error::VectorsModel`] names the file and both
/// identities and the library is left untouched. A new library records the files'
/// model. Vectors are checked (dimension, finite, not zero) and stored as unit vectors
/// (divided by their norm when they are not unit already); vectors that match no
/// record are counted in the report.
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
    let set = if opts.vectors.is_empty() {
        None
    } else {
        let set = VectorSet::open(&opts.vectors)?;
        if dir.join(MANIFEST).exists() {
            let stored = crate::library::stored_model(dir)?;
            if !stored.same_named_model(&set.model) {
                return Err(Error::VectorsModel {
                    path: opts.vectors[0].clone(),
                    found: full(&set.model),
                    expected_from: format!("library {}", dir.display()),
                    expected: full(&stored),
                });
            }
        }
        Some(set)
    };
    // One reading pass before any embedding: with --strict it refuses a bad file
    // before anything is committed; it also sizes the progress bar (reading is
    // milliseconds per thousand papers, embedding is seconds) and finds the records
    // without a vector.
    let mut total = 0u64;
    let mut missing = 0usize;
    let mut missing_first = Vec::new();
    for file in files {
        match ingest::read(file, opts.format) {
            Ok(records) => {
                for record in records {
                    match record {
                        Ok(paper) => {
                            total += 1;
                            if set.as_ref().is_some_and(|s| !s.contains(&paper.id)) {
                                missing += 1;
                                if missing_first.len() < 5 {
                                    missing_first.push(paper.id);
                                }
                            }
                        }
                        Err(e) if opts.strict => return Err(e),
                        Err(_) => {}
                    }
                }
            }
            Err(e) if opts.strict => return Err(e),
            Err(_) => {}
        }
    }
    if opts.strict && missing > 0 {
        return Err(Error::Invalid(format!(
            "--strict: {missing} record(s) have no vector in the --vectors files (first: {}); nothing was ingested. Without --strict they are embedded with the model",
            missing_first.join(", ")
        )));
    }
    let writer_model = match &set {
        Some(s) => s.model.clone(),
        None => models.get()?.info.clone(),
    };
    let mut source = Source {
        models,
        loaded: None,
        set,
        strict: opts.strict,
    };
    let mut writer = Writer::open(dir, &writer_model, &WriterOptions::default())?;
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
                result = commit_batch(&mut writer, &mut source, &mut batch, &mut totals);
                progress.add(opts.commit_every as u64, 0);
                if result.is_err() {
                    break;
                }
            }
        }
        if result.is_ok() {
            let n = batch.len() as u64;
            result = commit_batch(&mut writer, &mut source, &mut batch, &mut totals);
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
    let vectors = source.set.map(|set| {
        let (unused, unused_first) = set.unused(5);
        VectorsReport {
            files: opts.vectors.len(),
            vectors: set.len(),
            unused,
            unused_first,
            duplicates: set.duplicates,
            normalised: set.normalised,
            missing_parts: set.missing_parts(),
            missing,
            missing_first,
            model: set.model,
        }
    });
    Ok(IngestReport {
        library: dir.to_path_buf(),
        totals,
        papers: info.papers,
        skipped,
        failed,
        vectors,
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
    let mut source = Source {
        models,
        loaded: Some(model),
        set: None,
        strict: false,
    };
    let mut totals = IngestTotals::default();
    let mut batch = Vec::new();
    for paper in papers {
        batch.push(listing_claim(paper));
        if batch.len() >= commit_every.max(1) {
            commit_batch(&mut writer, &mut source, &mut batch, &mut totals)?;
        }
    }
    commit_batch(&mut writer, &mut source, &mut batch, &mut totals)?;
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

/// Where the vectors of a batch come from: the `--vectors` files when they have one,
/// else the model, loaded on first need.
struct Source<'a> {
    models: &'a Models,
    loaded: Option<Arc<LoadedModel>>,
    set: Option<VectorSet>,
    strict: bool,
}

impl Source<'_> {
    /// The vectors `plan` asks for, in its order.
    fn vectors(
        &mut self,
        batch: &[Paper],
        plan: &Plan,
        totals: &mut IngestTotals,
    ) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; plan.indices.len()];
        let mut to_embed = Vec::new();
        if let Some(set) = self.set.as_mut() {
            // Records that need no vector (unchanged, folded) still match theirs.
            for paper in batch {
                set.mark_used(&paper.id);
            }
            for (j, &i) in plan.indices.iter().enumerate() {
                let paper = &batch[i];
                // The file's vector is of the record's own text; when a merge with the
                // stored record changes the text to store, it does not fit.
                if plan.texts[j] == paper.text() {
                    if let Some(v) = set.vector(&paper.id)? {
                        out[j] = Some(v);
                        continue;
                    }
                } else if set.contains(&paper.id) {
                    tracing::debug!(id = %paper.id, "the text to store differs from the record's: embedding it instead of using its vector");
                }
                to_embed.push(j);
            }
        } else {
            to_embed.extend(0..plan.indices.len());
        }
        totals.from_vectors += plan.indices.len() - to_embed.len();
        if !to_embed.is_empty() {
            if self.strict && self.set.is_some() {
                let ids: Vec<&str> = to_embed
                    .iter()
                    .take(5)
                    .map(|&j| batch[plan.indices[j]].id.as_str())
                    .collect();
                return Err(Error::Invalid(format!(
                    "--strict: {} paper(s) need a vector the --vectors files do not give for their text (first: {})",
                    to_embed.len(),
                    ids.join(", ")
                )));
            }
            let model = self.model()?;
            let texts: Vec<&str> = to_embed.iter().map(|&j| plan.texts[j].as_str()).collect();
            let vectors = model.embedder.embed(&texts)?;
            for (&j, v) in to_embed.iter().zip(vectors) {
                out[j] = Some(v);
            }
            totals.embedded += to_embed.len();
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| Error::Invalid("a planned vector went missing".into())))
            .collect()
    }

    /// The model, loaded now if not yet; with `--vectors`, it must be the files' model.
    fn model(&mut self) -> Result<Arc<LoadedModel>> {
        if let Some(m) = &self.loaded {
            return Ok(Arc::clone(m));
        }
        let m = self.models.get()?;
        if let Some(set) = &self.set {
            if !m.info.same_model(&set.model) {
                return Err(Error::Invalid(format!(
                    "some records have no vector in the --vectors files and must be embedded, but the model loaded, {}, is not the vectors' model, {}: pass --model with the vectors' model, or give a vector for every record",
                    full(&m.info),
                    full(&set.model)
                )));
            }
        }
        self.loaded = Some(Arc::clone(&m));
        Ok(m)
    }
}

/// Embed (or take from the vectors files) what a batch needs, upsert it and commit;
/// empties `batch`.
fn commit_batch(
    writer: &mut Writer,
    source: &mut Source<'_>,
    batch: &mut Vec<Paper>,
    totals: &mut IngestTotals,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let plan = writer.plan(batch);
    let vectors = source.vectors(batch, &plan, totals)?;
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
