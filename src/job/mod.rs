//! The batch embedding job behind `paperscout embed`: records in, one vector per record
//! out, in input order, with bounded memory, progress, and resumption after any kill.
//!
//! Owns the pipeline (read a window → tokenize it in parallel → sort by length → batch
//! under a token budget → embed → restore input order → write), the output files and
//! the checkpoint. Does not own parsing the input (the caller turns JSONL or any ingest
//! format into `(id, text)` records) nor the model (anything implementing
//! [`TextEmbedder`]).
//!
//! # Pipeline and memory
//! A reader thread pulls [`JobOptions::window`] records, tokenizes them with rayon and
//! hands the window over a rendezvous channel, so window k+1 is read and tokenized while
//! window k runs through the model. At most two windows are in memory (the one being
//! embedded and the one waiting), whatever the size of the input.
//!
//! # Outputs
//! See [`OutputFormat`]. A file output appears, complete, only at the end: rows are
//! appended to data files in the checkpoint directory, and the final file is built from
//! them and renamed into place. `None` writes JSON Lines to standard output as it goes
//! (no checkpoint).
//!
//! # Checkpoint and resumption
//! `<output>.partial/` ([`checkpoint_dir`]) holds `state.json` and the data written so
//! far; the state is committed atomically every [`JobOptions::checkpoint_every`] windows,
//! when the job fails or is interrupted, and before the final file is built. Run again
//! with the same input, model and format, the job re-reads the caller's iterator from
//! the start, skips (without tokenizing) the records the checkpoint holds, checks that
//! they hash to what the checkpoint recorded, and goes on. Windows start at the same
//! records as in an uninterrupted run, so the output is byte for byte the same. A
//! checkpoint of another input, model, dimension or format is refused with a message
//! naming `--restart` ([`JobOptions::restart`]); it is removed after success.
//!
//! # Files
//! For an output `OUT` (format from [`JobOptions::format`] or `OUT`'s extension):
//! - `OUT`: the final output, present only once complete; `OUT.ids.json` and
//!   `OUT.meta.json` beside an `.npy` (see [`OutputFormat`] for each layout, and
//!   [`meta`] for what the metadata says: the model by identity, the shard).
//! - `OUT.partial/state.json`: the commit point (pretty JSON): `version`
//!   ([`CHECKPOINT_VERSION`]), `input` (the [`InputKey`]), `model`, `dim`, `format`,
//!   `records_done`, `tokens_done`, `input_sha256` (SHA-256 over the first
//!   `records_done` records, each as u64-LE length + id bytes + u64-LE length + text
//!   bytes), `data_bytes`, `ids_bytes`, `meta_bytes`, `data_crc32` and `ids_crc32`
//!   (CRC-32 of those bytes of the data files, checked on resume: a damaged checkpoint
//!   is refused with a message naming `--restart`), `finished`, and the batching of
//!   the run that wrote it (`window`, `batch_tokens`, `max_batch_size`).
//! - `OUT.partial/lock`: the OS file lock a run holds from start to end; a second run
//!   with the same output is refused at once ([`crate::Error::Busy`]).
//! - `OUT.partial/rows.jsonl` (JSON Lines: exactly the final file's lines so far), or
//!   `OUT.partial/rows.f32` (raw little-endian `f32` rows) and `OUT.partial/ids.jsonl`
//!   (one JSON string per line) for `.npy` and `.safetensors`. Bytes past the lengths in
//!   the state were written after the last commit and are cut off on resume.
//! - `OUT.partial/final.tmp`, `ids.json.tmp`, `meta.json.tmp`, `state.json.tmp`: being written; renamed
//!   into place when complete.
//!
//! An input error (an `Err` record) stops the job after saving a checkpoint of the
//! windows before it; no output file appears. Fixing the record and running the same
//! command again resumes: the input is identified by its name and by the hash of the
//! records already done, not by its size or mtime, so an edit after the checkpoint is
//! fine and an edit before it is detected.

mod batch;
mod checkpoint;
mod interrupt;
pub mod meta;
mod output;
pub(crate) mod progress;
mod shard;
pub mod vectors;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

pub use batch::plan_batches;
pub use checkpoint::{checkpoint_dir, CHECKPOINT_VERSION};
pub use meta::{OutputMeta, ShardMeta};
pub use output::{ids_sidecar_path, meta_sidecar_path, OutputFormat};
pub use shard::Shard;

use checkpoint::{Checkpoint, Identity, Mark};
use output::Sink;
use progress::Progress;

use crate::error::{Error, Result};

/// The model side of the job.
pub trait TextEmbedder: Sync {
    /// Length of every vector.
    fn dim(&self) -> usize;
    /// Token ids after truncation (special tokens included); used to sort and batch.
    /// Called from several threads at once.
    fn tokenize(&self, text: &str) -> Result<Vec<u32>>;
    /// Vectors for already tokenized texts, one forward pass, in the given order: one
    /// vector of [`Self::dim`] floats per text.
    fn embed_tokens(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>>;
    /// A name recorded in checkpoints and outputs; a checkpoint of another model is refused.
    fn model_name(&self) -> &str;
    /// How many characters of a text can matter to [`Self::tokenize`], when bounded: a
    /// window keeps only that much of each text (cut by
    /// [`crate::embed::cut_for_tokenizer`]) between reading and tokenizing, so a window
    /// of huge records does not hold them whole. `None` (the default) keeps texts whole.
    fn max_text_chars(&self) -> Option<usize> {
        None
    }
}

/// What identifies the input across runs, for the checkpoint: usually its canonical
/// path. Together with the hash of the records already done it decides whether a
/// checkpoint may be continued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputKey(String);

impl InputKey {
    /// The input file `path`, by its canonical path (so the same file reached from
    /// another directory is the same input).
    pub fn file(path: &Path) -> Result<Self> {
        let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
        Ok(InputKey(canonical.display().to_string()))
    }

    /// An input with no file of its own (standard input, a generator): `name` must be
    /// the same on every run that should resume the others.
    pub fn named(name: impl Into<String>) -> Self {
        InputKey(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Settings of [`run_job`].
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Most padded tokens in one forward pass (batch size × longest text in it). Larger
    /// batches amortise per-call overhead; smaller ones bound memory (attention grows
    /// with batch × length²). A single text longer than this still runs, alone.
    pub batch_tokens: usize,
    /// Most texts in one forward pass.
    pub max_batch_size: usize,
    /// Records read, tokenized, sorted and batched together. Larger windows batch more
    /// evenly (texts of similar length meet more often); memory holds two windows.
    pub window: usize,
    /// `None`: from the output's extension (`.npy`, `.safetensors`, else JSON Lines).
    pub format: Option<OutputFormat>,
    /// Commit the checkpoint every this many windows. More often loses less work to a
    /// kill, at the cost of an fsync per commit.
    pub checkpoint_every: usize,
    /// Show progress on stderr (a bar on a terminal, log lines otherwise).
    pub progress: bool,
    /// Discard an existing checkpoint and start over.
    pub restart: bool,
    /// Number of records in the whole input, when known cheaply (a line count): gives
    /// the progress bar a length and an ETA.
    pub total_hint: Option<u64>,
    /// Catch Ctrl-C/SIGTERM: save a checkpoint and stop with an error saying that the
    /// same command resumes. Off for library callers that handle signals themselves.
    pub catch_signals: bool,
    /// What a `.safetensors` or `.npy` output says about itself: the model by identity
    /// and the shard (see [`meta`]). Default: only the embedder's name.
    pub meta: OutputMeta,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            batch_tokens: 8192,
            max_batch_size: 64,
            window: 4096,
            format: None,
            checkpoint_every: 8,
            progress: true,
            restart: false,
            total_hint: None,
            catch_signals: false,
            meta: OutputMeta::default(),
        }
    }
}

impl JobOptions {
    /// Refuse settings that cannot work, before any work starts.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("--batch-tokens", self.batch_tokens),
            ("--max-batch-size", self.max_batch_size),
            ("--window", self.window),
            ("--checkpoint-every", self.checkpoint_every),
        ] {
            if value == 0 {
                return Err(Error::Invalid(format!("{name} must be at least 1")));
            }
        }
        Ok(())
    }
}

/// What a finished job did.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSummary {
    /// Rows in the output (`resumed_from` + `texts`).
    pub rows: u64,
    /// Texts embedded by this run.
    pub texts: u64,
    /// Tokens embedded by this run (real tokens, padding excluded).
    pub tokens: u64,
    /// Wall-clock seconds of this run.
    pub seconds: f64,
    /// Records taken from a checkpoint instead of being embedded again.
    pub resumed_from: u64,
    pub format: OutputFormat,
}

/// Embed every record of `records` with `embedder` and write one row per record, in
/// input order, to `output` (`None`: JSON Lines on standard output, not resumable).
///
/// With a file output the job is resumable (see the module docs): after a failure, a
/// kill or Ctrl-C, calling it again with the same `input`, records, model and format
/// continues from the checkpoint. An `Err` record stops the job with that error
/// (an [`Error::Input`] keeps its path and line).
pub fn run_job<E, I>(
    embedder: &E,
    input: &InputKey,
    records: I,
    output: Option<&Path>,
    opts: &JobOptions,
) -> Result<JobSummary>
where
    E: TextEmbedder,
    I: IntoIterator<Item = Result<(String, String)>>,
    I::IntoIter: Send,
{
    opts.validate()?;
    let format = OutputFormat::resolve(opts.format, output)?;
    let dim = embedder.dim();
    if dim == 0 {
        return Err(Error::Invalid(format!(
            "model {} reports vectors of dimension 0",
            embedder.model_name()
        )));
    }
    let _span = tracing::info_span!("embed_job", model = embedder.model_name(), %format).entered();
    let started = Instant::now();
    let mut records = records.into_iter().fuse();
    let mut hasher = Sha256::new();

    let (mut sink, mut checkpoint) = match output {
        None => (Sink::stdout(), None),
        Some(path) => {
            let id = Identity {
                input: input.as_str().to_string(),
                model: embedder.model_name().to_string(),
                dim,
                format,
            };
            let (checkpoint, sink) = Checkpoint::open(path, &id, opts)?;
            (sink, Some(checkpoint))
        }
    };
    let mut mark = match &checkpoint {
        Some(c) => Mark {
            records_done: c.state.records_done,
            tokens_done: c.state.tokens_done,
            input_sha256: c.state.input_sha256.clone(),
            lengths: c.state.lengths(),
        },
        None => Mark {
            records_done: 0,
            tokens_done: 0,
            input_sha256: hex(&empty_digest()),
            lengths: sink.lengths(),
        },
    };
    let resumed_from = mark.records_done;
    let resumed_tokens = mark.tokens_done;
    if let Some(c) = &checkpoint {
        if resumed_from > 0 {
            skip_done(&mut records, &mut hasher, input, c)?;
        }
    }

    let interrupt = if opts.catch_signals {
        interrupt::install()
    } else {
        None
    };
    let mut progress = Progress::new(opts.progress, opts.total_hint, resumed_from);
    let stop_reader = AtomicBool::new(false);
    let outcome = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(0);
        let stop = &stop_reader;
        scope.spawn(move || read_windows(embedder, records, hasher, opts.window, tx, stop));
        let outcome = consume(
            rx,
            embedder,
            opts,
            &mut sink,
            checkpoint.as_mut(),
            &mut mark,
            &mut progress,
            interrupt,
        );
        // The receiver is gone: a reader blocked on `send` returns at once, one busy
        // with a window returns after it.
        stop_reader.store(true, Ordering::Relaxed);
        outcome
    });
    progress.finish();

    let stop_error = match (outcome, &mut checkpoint) {
        (Ok(Flow::Done), Some(c)) => {
            c.commit(&mut sink, &mark, true)?;
            None
        }
        (Ok(Flow::Done), None) => {
            sink.sync()?;
            None
        }
        (Ok(Flow::Interrupted), Some(c)) => {
            c.commit(&mut sink, &mark, false)?;
            Some(Error::io(
                &c.dir,
                std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    format!(
                        "interrupted after {} records; they are saved here: run the same command again to resume",
                        mark.records_done
                    ),
                ),
            ))
        }
        (Ok(Flow::Interrupted), None) => Some(Error::io(
            "<stdout>",
            std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "interrupted (output to standard output cannot be resumed)",
            ),
        )),
        (Err(e), Some(c)) => Some(match c.commit(&mut sink, &mark, false) {
            Ok(()) => with_resume_hint(e, &c.dir, mark.records_done),
            Err(commit_error) => {
                tracing::warn!("could not save a checkpoint after the error: {commit_error}");
                e
            }
        }),
        (Err(e), None) => Some(e),
    };
    if let Some(e) = stop_error {
        return Err(e);
    }

    if let (Some(path), Some(c)) = (output, checkpoint) {
        sink.finalize(
            &c.dir,
            path,
            format,
            mark.records_done,
            dim,
            &opts.meta.to_map(embedder.model_name()),
        )?;
        c.remove()?;
    }
    let summary = JobSummary {
        rows: mark.records_done,
        texts: mark.records_done - resumed_from,
        tokens: mark.tokens_done - resumed_tokens,
        seconds: started.elapsed().as_secs_f64(),
        resumed_from,
        format,
    };
    tracing::info!(
        rows = summary.rows,
        texts = summary.texts,
        tokens = summary.tokens,
        seconds = summary.seconds,
        resumed_from,
        "embedding job done"
    );
    Ok(summary)
}

/// How the main loop ended without an error.
enum Flow {
    Done,
    Interrupted,
}

/// One window of records, tokenized, in input order.
struct Window {
    ids: Vec<String>,
    tokens: Vec<Vec<u32>>,
    /// SHA-256 of all records from the start of the input to the end of this window.
    input_sha256: String,
}

/// The reader thread: windows of `window` records, tokenized in parallel, sent in order.
/// An `Err` record or a tokenizer error is sent in place of its window and ends the
/// thread; so does a closed channel or `stop`.
fn read_windows<E, I>(
    embedder: &E,
    mut records: I,
    mut hasher: Sha256,
    window: usize,
    tx: SyncSender<Result<Window>>,
    stop: &AtomicBool,
) where
    E: TextEmbedder,
    I: Iterator<Item = Result<(String, String)>>,
{
    loop {
        let mut ids = Vec::with_capacity(window);
        let mut texts = Vec::with_capacity(window);
        while ids.len() < window {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match records.next() {
                None => break,
                Some(Err(e)) => {
                    let _ = tx.send(Err(e));
                    return;
                }
                Some(Ok((id, mut text))) => {
                    hash_record(&mut hasher, &id, &text);
                    if let Some(max) = embedder.max_text_chars() {
                        let cut = crate::embed::cut_for_tokenizer(&text, max).len();
                        if cut < text.len() {
                            text.truncate(cut);
                            text.shrink_to_fit();
                        }
                    }
                    ids.push(id);
                    texts.push(text);
                }
            }
        }
        if ids.is_empty() {
            return;
        }
        let tokens = {
            let _span = tracing::debug_span!("tokenize", n = texts.len()).entered();
            texts
                .par_iter()
                .map(|t| embedder.tokenize(t))
                .collect::<Result<Vec<_>>>()
        };
        drop(texts);
        let message = tokens.map(|tokens| Window {
            ids,
            tokens,
            input_sha256: hex(&hasher.clone().finalize()),
        });
        let failed = message.is_err();
        if tx.send(message).is_err() || failed {
            return;
        }
    }
}

/// The main loop: embed each window, write its rows in input order, commit the
/// checkpoint every `checkpoint_every` windows. `mark` always describes the last
/// window written completely.
#[allow(clippy::too_many_arguments)]
fn consume<E: TextEmbedder>(
    rx: Receiver<Result<Window>>,
    embedder: &E,
    opts: &JobOptions,
    sink: &mut Sink,
    mut checkpoint: Option<&mut Checkpoint>,
    mark: &mut Mark,
    progress: &mut Progress,
    interrupt: Option<&AtomicBool>,
) -> Result<Flow> {
    let interrupted = || interrupt.is_some_and(|f| f.load(Ordering::SeqCst));
    let mut since_commit = 0;
    for message in rx {
        let window = message?;
        let Some(vectors) = embed_window(embedder, &window.tokens, opts, progress, &interrupted)?
        else {
            return Ok(Flow::Interrupted);
        };
        for (id, vector) in window.ids.iter().zip(&vectors) {
            sink.write_row(id, vector)?;
        }
        mark.records_done += window.ids.len() as u64;
        mark.tokens_done += window.tokens.iter().map(|t| t.len() as u64).sum::<u64>();
        mark.input_sha256 = window.input_sha256;
        mark.lengths = sink.lengths();
        since_commit += 1;
        if let Some(c) = checkpoint.as_deref_mut() {
            if since_commit >= opts.checkpoint_every {
                c.commit(sink, mark, false)?;
                since_commit = 0;
            }
        }
        if interrupted() {
            return Ok(Flow::Interrupted);
        }
    }
    Ok(Flow::Done)
}

/// Embed one window: batches planned by [`plan_batches`], results put back in input
/// order. `None` when `interrupted` turned true between two batches.
fn embed_window<E: TextEmbedder>(
    embedder: &E,
    tokens: &[Vec<u32>],
    opts: &JobOptions,
    progress: &mut Progress,
    interrupted: &dyn Fn() -> bool,
) -> Result<Option<Vec<Vec<f32>>>> {
    let lengths: Vec<usize> = tokens.iter().map(Vec::len).collect();
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); tokens.len()];
    for batch in plan_batches(&lengths, opts.batch_tokens, opts.max_batch_size) {
        if interrupted() {
            return Ok(None);
        }
        let inputs: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].as_slice()).collect();
        let vectors = {
            let longest = inputs.first().map_or(0, |t| t.len());
            let _span = tracing::debug_span!("embed_batch", n = inputs.len(), longest).entered();
            embedder.embed_tokens(&inputs)?
        };
        if vectors.len() != inputs.len() {
            return Err(Error::Invalid(format!(
                "model {} returned {} vectors for a batch of {} texts",
                embedder.model_name(),
                vectors.len(),
                inputs.len()
            )));
        }
        for (&i, vector) in batch.iter().zip(vectors) {
            if vector.len() != embedder.dim() {
                return Err(Error::Invalid(format!(
                    "model {} returned a vector of {} floats, not its dimension {}",
                    embedder.model_name(),
                    vector.len(),
                    embedder.dim()
                )));
            }
            out[i] = vector;
        }
        let batch_tokens = inputs.iter().map(|t| t.len() as u64).sum();
        progress.add(inputs.len() as u64, batch_tokens);
    }
    Ok(Some(out))
}

/// Consume the `checkpoint.state.records_done` records a checkpoint already holds and
/// check that they hash to what it recorded.
fn skip_done<I>(
    records: &mut I,
    hasher: &mut Sha256,
    input: &InputKey,
    checkpoint: &Checkpoint,
) -> Result<()>
where
    I: Iterator<Item = Result<(String, String)>>,
{
    let done = checkpoint.state.records_done;
    let _span = tracing::info_span!("skip_done", records = done).entered();
    tracing::info!("skipping the {done} records already embedded");
    let start_over = format!(
        "to start over, rerun with --restart (or delete {})",
        checkpoint.dir.display()
    );
    for n in 0..done {
        match records.next() {
            Some(Ok((id, text))) => hash_record(hasher, &id, &text),
            Some(Err(e)) => return Err(e),
            None => {
                return Err(Error::Invalid(format!(
                    "input {} has only {n} records, but checkpoint {} holds {done}: it is not the input the checkpoint was made from; {start_over}",
                    input.as_str(),
                    checkpoint.dir.display()
                )))
            }
        }
    }
    if hex(&hasher.clone().finalize()) != checkpoint.state.input_sha256 {
        return Err(Error::Invalid(format!(
            "input {} changed: its first {done} records are not the ones embedded in checkpoint {}; {start_over}",
            input.as_str(),
            checkpoint.dir.display()
        )));
    }
    Ok(())
}

/// Add an input error the hint that the work before it is kept.
fn with_resume_hint(e: Error, dir: &Path, done: u64) -> Error {
    match e {
        Error::Input { path, line, message } => Error::Input {
            path,
            line,
            message: format!(
                "{message} (the {done} records embedded before it are saved in {}: fix the input and run the same command again to resume)",
                dir.display()
            ),
        },
        other => {
            tracing::warn!(
                checkpoint = %dir.display(),
                "{done} records are saved; run the same command again to resume"
            );
            other
        }
    }
}

/// Feed one record to the input hash. Lengths first, so ("ab", "c") and ("a", "bc")
/// differ.
fn hash_record(hasher: &mut Sha256, id: &str, text: &str) {
    hasher.update((id.len() as u64).to_le_bytes());
    hasher.update(id.as_bytes());
    hasher.update((text.len() as u64).to_le_bytes());
    hasher.update(text.as_bytes());
}

fn empty_digest() -> [u8; 32] {
    Sha256::new().finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
