//! The application layer: the operations a user performs (ingest these files, like
//! that paper, recommend this day, import this bibliography, embed this file), each a
//! function taking plain settings. Both surfaces (the CLI and the HTTP server) call
//! these and only format what comes back; nothing here parses arguments, prints, or
//! knows about HTTP.

pub mod daily;
pub mod embed;
pub mod fetch;
pub mod history;
pub mod ingest;
pub mod profile;
pub mod query;
pub mod vectors;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::DType;

use crate::embed::{self as encoder, DeviceChoice, Embedder, Engine, ModelFiles};
use crate::error::{Error, Result};
use crate::library::{Library, ModelInfo, MANIFEST};

/// Which embedding model to load and how to run it.
#[derive(Debug, Clone, Default)]
pub struct ModelSpec {
    /// A sentence-transformers directory or hub id; `None`: the project's default.
    pub model: Option<String>,
    pub device: DeviceChoice,
    pub engine: Engine,
    pub dtype: Option<DType>,
}

impl ModelSpec {
    /// A spec from the words a person types (`auto`, `cpu`, `f16`, ...); a bad word
    /// fails here, before any work.
    pub fn parse(model: Option<String>, device: &str, engine: &str, dtype: &str) -> Result<Self> {
        Ok(ModelSpec {
            model,
            device: device.parse()?,
            engine: engine.parse()?,
            dtype: Some(encoder::parse_dtype(dtype)?),
        })
    }

    /// Load the model: the embedder and the identity its vectors are stored under.
    pub fn load(&self) -> Result<LoadedModel> {
        let device = encoder::device(self.device)?;
        let files = ModelFiles::resolve(self.model.as_deref())?;
        let embedder = Embedder::load_with(
            &files,
            &device,
            self.engine,
            self.dtype.unwrap_or(DType::F32),
        )?;
        let info = ModelInfo::new(
            files.display_name(),
            files.weights_sha256()?,
            embedder.dim(),
        );
        Ok(LoadedModel { embedder, info })
    }
}

/// A loaded model and the identity of its vectors.
pub struct LoadedModel {
    pub embedder: Embedder,
    pub info: ModelInfo,
}

/// The model, loaded on first use and then shared: commands that need no model (a like
/// of a stored paper, `similar`) never load one, and a server loads it once.
pub struct Models {
    spec: ModelSpec,
    loaded: Mutex<Option<Arc<LoadedModel>>>,
}

impl Models {
    pub fn new(spec: ModelSpec) -> Self {
        Models {
            spec,
            loaded: Mutex::new(None),
        }
    }

    /// The model, loading it the first time.
    pub fn get(&self) -> Result<Arc<LoadedModel>> {
        let mut slot = self
            .loaded
            .lock()
            .map_err(|_| Error::Invalid("the model loader failed earlier".into()))?;
        if let Some(m) = slot.as_ref() {
            return Ok(Arc::clone(m));
        }
        let m = Arc::new(self.spec.load()?);
        *slot = Some(Arc::clone(&m));
        Ok(m)
    }
}

/// The default library directory: `$XDG_DATA_HOME/paperscout/library`, else
/// `~/.local/share/paperscout/library`.
pub fn default_library_dir() -> Result<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| Error::Invalid("no --library given and no HOME to put one in".into()))?;
    Ok(data.join("paperscout/library"))
}

/// Refuse a library that does not exist yet with the way to make one, instead of a
/// bare "no manifest.json".
pub fn require_library(dir: &Path) -> Result<()> {
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(Error::io(dir, e)),
    };
    // A directory with other files but no manifest is a damaged library or not a
    // library at all: opening it says which.
    if dir.join(MANIFEST).exists() || !empty {
        return Ok(());
    }
    Err(Error::Library {
        path: dir.to_path_buf(),
        message: "no library here yet; create it by adding papers: `paperscout ingest FILE...` (or `paperscout fetch`), with --library DIR or PAPERSCOUT_LIBRARY to choose where".into(),
    })
}

/// Open the library in `dir` whatever model built it, with a clear message when
/// there is none.
pub fn open_library(dir: &Path) -> Result<Library> {
    require_library(dir)?;
    Library::open_any_model(dir)
}
