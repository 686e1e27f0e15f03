//! The checkpoint of a file-output job: `<output>.partial/`, holding the rows written
//! so far and `state.json`, which says how many records they cover and which run they
//! belong to.
//!
//! `state.json` is the commit point: the data files are flushed and synced first, then
//! the state is written to a temporary file, synced and renamed over the old one. After
//! a kill at any moment, the state names only bytes that are on disk; bytes after them
//! are cut off when the job resumes. Owns no row format (see [`super::output`]).
//!
//! `lock` is an OS file lock held for the whole run: a second run with the same output
//! is refused at once ([`Error::Busy`]). The state also records a CRC-32 of the
//! committed bytes of each data file, checked when a run resumes, so a damaged
//! checkpoint is refused instead of being carried into the output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::output::{self, Lengths, OutputFormat, Sink};
use super::JobOptions;
use crate::error::{Error, Result};
use crate::fsio;
use crate::library::lock::{Holder, WriteLock};

/// Version of the checkpoint layout this code writes. Version 1 (no checksums) is
/// still resumed; any other is refused.
pub const CHECKPOINT_VERSION: u32 = 2;

const STATE: &str = "state.json";
const STATE_TMP: &str = "state.json.tmp";
/// The lock a run holds on its checkpoint directory.
const LOCK: &str = "lock";

/// Every file name paperscout writes in a checkpoint directory: cleaning up removes
/// these and nothing else, so a directory that happens to hold other files is left
/// alone.
const KNOWN_FILES: [&str; 9] = [
    LOCK,
    STATE,
    STATE_TMP,
    output::ROWS_JSONL,
    output::ROWS_F32,
    output::IDS_JSONL,
    output::FINAL_TMP,
    output::SIDECAR_TMP,
    output::META_TMP,
];

/// `<output>.partial`: the checkpoint directory of a job writing `output`.
pub fn checkpoint_dir(output: &Path) -> PathBuf {
    output::with_suffix(output, ".partial")
}

/// What a run must share with a checkpoint to continue it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub input: String,
    pub model: String,
    pub dim: usize,
    pub format: OutputFormat,
}

/// Contents of `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub version: u32,
    pub input: String,
    pub model: String,
    pub dim: usize,
    pub format: OutputFormat,
    /// Records whose rows are in the data files, counted from the start of the input.
    pub records_done: u64,
    /// Tokens of those records (for the summary only).
    pub tokens_done: u64,
    /// SHA-256 of the first `records_done` records (see `super::hash_record`); a resumed
    /// run re-reads them and must find the same.
    pub input_sha256: String,
    /// Bytes of `rows.jsonl` / `rows.f32` that belong to those records.
    pub data_bytes: u64,
    /// Bytes of `ids.jsonl` that belong to those records.
    pub ids_bytes: u64,
    /// Bytes the ids will take in a safetensors header.
    pub meta_bytes: u64,
    /// CRC-32 of the first `data_bytes` bytes of `rows.jsonl` / `rows.f32` (absent in
    /// version 1 checkpoints, whose data is then not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_crc32: Option<u32>,
    /// CRC-32 of the first `ids_bytes` bytes of `ids.jsonl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids_crc32: Option<u32>,
    /// The whole input is done; only building the final file may be left.
    pub finished: bool,
    /// The batching of the run that wrote this (informational: a real model's vectors
    /// can differ in the last bits between batchings).
    pub window: usize,
    pub batch_tokens: usize,
    pub max_batch_size: usize,
}

impl State {
    pub fn lengths(&self) -> Lengths {
        Lengths {
            data: self.data_bytes,
            ids: self.ids_bytes,
            meta: self.meta_bytes,
            data_crc32: self.data_crc32,
            ids_crc32: self.ids_crc32,
        }
    }
}

/// How far the job has got, at the last window boundary.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub records_done: u64,
    pub tokens_done: u64,
    pub input_sha256: String,
    pub lengths: Lengths,
}

/// An open checkpoint directory.
pub(crate) struct Checkpoint {
    pub dir: PathBuf,
    pub state: State,
    /// Held until the checkpoint is dropped or removed.
    _lock: WriteLock,
}

impl Checkpoint {
    /// Open the checkpoint of `output`, or start a new one. An existing checkpoint of
    /// another run is refused; `opts.restart` discards it first.
    pub fn open(output: &Path, id: &Identity, opts: &JobOptions) -> Result<(Self, Sink)> {
        let dir = checkpoint_dir(output);
        // The directory is ours alone: not a link, no files of anyone else's (they
        // would be lost when it is removed), and locked for this run.
        fsio::ensure_dir(&dir)?;
        refuse_foreign_files(&dir)?;
        let lock = lock(&dir, output)?;
        if opts.restart {
            clear(&dir)?;
        }
        let state_path = dir.join(STATE);
        if state_path.is_file() {
            let state = read_state(&dir, &state_path)?;
            check_identity(&dir, &state, id)?;
            if state.finished
                && state.format == OutputFormat::Jsonl
                && !dir.join(output::ROWS_JSONL).exists()
            {
                // The previous run moved its output into place and was stopped before
                // removing this directory: it finished, so this run starts afresh,
                // exactly as after a clean finish.
                tracing::info!(checkpoint = %dir.display(), "previous run had finished; starting over");
                clear(&dir)?;
            } else {
                if (state.window, state.batch_tokens, state.max_batch_size)
                    != (opts.window, opts.batch_tokens, opts.max_batch_size)
                {
                    tracing::warn!(
                        "resuming with other batching than the checkpoint's (window {}, batch tokens {}, batch size {}); rows may differ from an uninterrupted run in the last bits",
                        state.window,
                        state.batch_tokens,
                        state.max_batch_size
                    );
                }
                let sink = Sink::open(&dir, state.format, state.lengths())?;
                tracing::info!(
                    checkpoint = %dir.display(),
                    records_done = state.records_done,
                    "resuming from checkpoint"
                );
                return Ok((
                    Checkpoint {
                        dir,
                        state,
                        _lock: lock,
                    },
                    sink,
                ));
            }
        } else {
            // A run stopped before writing its first state: nothing in it is usable.
            clear(&dir)?;
        }

        let state = State {
            version: CHECKPOINT_VERSION,
            input: id.input.clone(),
            model: id.model.clone(),
            dim: id.dim,
            format: id.format,
            records_done: 0,
            tokens_done: 0,
            input_sha256: super::hex(&super::empty_digest()),
            data_bytes: 0,
            ids_bytes: 0,
            meta_bytes: 0,
            data_crc32: Some(0),
            ids_crc32: Some(0),
            finished: false,
            window: opts.window,
            batch_tokens: opts.batch_tokens,
            max_batch_size: opts.max_batch_size,
        };
        let sink = Sink::open(&dir, id.format, Lengths::default())?;
        let mut checkpoint = Checkpoint {
            dir,
            state,
            _lock: lock,
        };
        checkpoint.write_state()?;
        output::sync_parent(&checkpoint.dir)?;
        Ok((checkpoint, sink))
    }

    /// Make `mark` the state to resume from: sync the data, then replace the state.
    pub fn commit(&mut self, sink: &mut Sink, mark: &Mark, finished: bool) -> Result<()> {
        let _span = tracing::debug_span!("checkpoint", records = mark.records_done).entered();
        sink.sync()?;
        self.state.records_done = mark.records_done;
        self.state.tokens_done = mark.tokens_done;
        self.state.input_sha256.clone_from(&mark.input_sha256);
        self.state.data_bytes = mark.lengths.data;
        self.state.ids_bytes = mark.lengths.ids;
        self.state.meta_bytes = mark.lengths.meta;
        self.state.data_crc32 = mark.lengths.data_crc32;
        self.state.ids_crc32 = mark.lengths.ids_crc32;
        self.state.version = CHECKPOINT_VERSION;
        self.state.finished = finished;
        self.write_state()
    }

    fn write_state(&mut self) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| Error::Invalid(format!("checkpoint state: {e}")))?;
        text.push(b'\n');
        fsio::write_atomic(&self.dir, STATE_TMP, STATE, &text)
    }

    /// Remove the checkpoint after the output is in place (the lock goes last).
    pub fn remove(self) -> Result<()> {
        remove_dir(&self.dir)
    }
}

/// Take the lock of checkpoint directory `dir` for a run writing `output`, or refuse at
/// once: two runs writing one output would corrupt each other's checkpoint.
fn lock(dir: &Path, output: &Path) -> Result<WriteLock> {
    match WriteLock::acquire_file(&dir.join(LOCK), Duration::ZERO)? {
        Ok(lock) => Ok(lock),
        Err(Holder(holder)) => Err(Error::Busy {
            path: output.to_path_buf(),
            message: format!(
                "another embed run is writing this output and holds its checkpoint {} ({holder}); wait for it to finish, or choose another --output",
                dir.display()
            ),
        }),
    }
}

/// Refuse a checkpoint directory holding files paperscout did not write.
fn refuse_foreign_files(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if !KNOWN_FILES.iter().any(|k| name == *k) {
            return Err(foreign(dir));
        }
    }
    Ok(())
}

fn foreign(dir: &Path) -> Error {
    Error::Invalid(format!(
        "{} holds files paperscout did not write, so it is not removed; move it away and rerun",
        dir.display()
    ))
}

/// Remove the files of a checkpoint but its lock, which the caller holds.
fn clear(dir: &Path) -> Result<()> {
    for name in KNOWN_FILES.iter().filter(|n| **n != LOCK) {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(())
}

fn read_state(dir: &Path, path: &Path) -> Result<State> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let damaged = |why: String| {
        Error::Invalid(format!(
            "checkpoint {}: {why}; start over with --restart (or delete {})",
            path.display(),
            dir.display()
        ))
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| damaged(format!("not valid JSON ({e})")))?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if !version.is_some_and(|v| (1..=u64::from(CHECKPOINT_VERSION)).contains(&v)) {
        return Err(damaged(format!(
            "written by another paperscout version (checkpoint format {}, this one reads {CHECKPOINT_VERSION})",
            version.map_or_else(|| "unknown".to_string(), |v| v.to_string())
        )));
    }
    serde_json::from_value(value).map_err(|e| damaged(format!("unreadable state ({e})")))
}

fn check_identity(dir: &Path, state: &State, id: &Identity) -> Result<()> {
    let mismatch = |what: &str, theirs: String, ours: String| {
        Err(Error::Invalid(format!(
            "checkpoint {} belongs to another run: its {what} is {theirs}, this run's is {ours}; to start over, rerun with --restart (or delete {})",
            dir.display(),
            dir.display()
        )))
    };
    if state.input != id.input {
        return mismatch(
            "input",
            format!("{:?}", state.input),
            format!("{:?}", id.input),
        );
    }
    if state.model != id.model {
        return mismatch(
            "model",
            format!("{:?}", state.model),
            format!("{:?}", id.model),
        );
    }
    if state.dim != id.dim {
        return mismatch("dimension", state.dim.to_string(), id.dim.to_string());
    }
    if state.format != id.format {
        return mismatch("format", state.format.to_string(), id.format.to_string());
    }
    let row_bytes = match state.format {
        OutputFormat::Jsonl => None,
        OutputFormat::Npy | OutputFormat::Safetensors => {
            Some(state.records_done * state.dim as u64 * 4)
        }
    };
    if row_bytes.is_some_and(|b| b != state.data_bytes) {
        return Err(Error::Invalid(format!(
            "checkpoint {} is damaged: {} records of dimension {} but {} data bytes; start over with --restart",
            dir.display(),
            state.records_done,
            state.dim,
            state.data_bytes
        )));
    }
    Ok(())
}

/// Remove a checkpoint directory: the files paperscout writes, then the directory.
/// A directory holding anything else is refused, not emptied.
fn remove_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for name in KNOWN_FILES {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    std::fs::remove_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::DirectoryNotEmpty => foreign(dir),
        _ => Error::io(dir, e),
    })
}
