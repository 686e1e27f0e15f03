//! The library's one error type. Every variant carries what a person needs to act on
//! it: the file, the line, the paper id, the expected and found values. The binary
//! prints the whole chain (`{:#}`); nothing here is meant to be matched on by text.

use std::path::PathBuf;

/// `Result` with paperscout's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- files and input -------------------------------------------------------
    /// An I/O error on `path`. The OS error's text is part of this message and is not
    /// also offered as `source()`, so a chain printed with `{:#}` says it once
    /// (`/x.jsonl: no such file`, not `/x.jsonl: no such file: no such file`); the
    /// error itself is [`Error::io_error`].
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    /// A record of an input file that could not be read. `line` is 1-based; for
    /// formats without lines (one JSON document, XML) it is the entry number.
    #[error("{path}:{line}: {message}")]
    Input {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// A bad argument or setting, caught before any work starts.
    #[error("{0}")]
    Invalid(String),

    // ---- models ----------------------------------------------------------------
    /// A model file is missing, unreadable or not what a BERT sentence-transformers
    /// directory should hold.
    #[error("model file {path}: {message}")]
    ModelFile { path: PathBuf, message: String },

    /// No model could be found anywhere; `tried` lists every place looked at.
    #[error("no embedding model found. Tried:\n{tried}\nFix: run `scripts/fetch-model.sh` (puts all-MiniLM-L6-v2 into models/), or pass --model DIR")]
    ModelNotFound { tried: String },

    #[error("device: {0}")]
    Device(String),

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("model computation: {0}")]
    Candle(#[from] candle_core::Error),

    // ---- library (store, index, profiles) --------------------------------------
    #[error("library {path}: {message}")]
    Library { path: PathBuf, message: String },

    /// The library was built with another model: its vectors must not be mixed.
    #[error("library {path} was built with model {expected}, not {found}; use --model {expected} or another --library")]
    ModelMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },

    /// Another process holds the library's write lock.
    #[error("library {path} is locked by another writer ({holder}); wait for it to finish (the lock goes with its process, even when killed)")]
    Locked { path: PathBuf, holder: String },

    /// Ids that are not in the library.
    #[error("unknown paper id(s): {}", .0.join(", "))]
    UnknownIds(Vec<String>),

    // ---- fetching (arXiv, Hugging Face) ---------------------------------------
    /// A request to a remote source failed for good (after the retries, or with an
    /// answer not worth retrying), or its answer could not be used. `url` is the
    /// request; `message` says what happened, how many attempts were made and where
    /// the raw answer was kept, when it was.
    #[error("fetching {url}: {message}")]
    Fetch { url: String, message: String },
    /// Another process holds a lock this operation needs (an embed output being
    /// written, a profile being changed); `message` says who and what to do.
    #[error("{path}: {message}")]
    Busy { path: PathBuf, message: String },
    /// A vectors file (`ingest --vectors`) made by another model than the library's,
    /// or than the other files': its vectors must not be mixed. Both identities are
    /// given in full (name, sha256, dimension).
    #[error("vectors file {path} was made by model {found}, but {expected_from} has model {expected}; nothing was ingested")]
    VectorsModel {
        path: PathBuf,
        found: String,
        expected_from: String,
        expected: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }

    /// The I/O error under an [`Error::Io`] (to look at its kind: a broken pipe, a
    /// missing file), `None` for every other variant.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            Error::Io { error, .. } => Some(error),
            _ => None,
        }
    }

    /// An [`Error::ModelFile`] for `path`.
    pub fn model_file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::ModelFile {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
