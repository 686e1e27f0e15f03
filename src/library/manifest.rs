//! `manifest.json`, the commit point of a library: what it holds (model, counts) and
//! which data files are current. Also the durable-write helpers every commit uses.
//! What the data files contain is the store's business (`store.rs`, `writer.rs`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::index::{DumpInfo, IndexParams};
use super::ModelInfo;
use crate::{Error, Result};

/// The `format` string of every manifest.
pub const FORMAT_NAME: &str = "paperscout-library";

/// The on-disk format this code writes. Bump it on any change an older reader would
/// misread, and keep a fixture of the old version opening (tests/fixtures/library).
pub const FORMAT_VERSION: u32 = 1;

/// File name of the manifest inside a library directory.
pub const MANIFEST: &str = "manifest.json";
pub(crate) const MANIFEST_TMP: &str = "manifest.json.tmp";

/// The committed state of a library. Fields added later must carry `#[serde(default)]`
/// so that older manifests keep loading; entries this version does not know (written by
/// a later module, e.g. `profiles`) are kept in `extra` and written back unchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    pub format_version: u32,
    /// The model every stored vector was made with.
    pub model: ModelInfo,
    /// Number of commits so far; names new index dumps.
    pub commit: u64,
    /// Number of compactions so far (informational).
    pub generation: u64,
    /// Seconds since the Unix epoch at this commit (informational).
    #[serde(default)]
    pub committed_unix: u64,
    pub counts: Counts,
    pub papers: PapersFile,
    pub vectors: VectorsFile,
    pub index: IndexParams,
    /// The latest index dump, covering rows `0..points`; rows after it are inserted
    /// into the graph when the library is opened. `None` until the first dump.
    #[serde(default)]
    pub index_dump: Option<DumpInfo>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Counts at the commit, for `stats` without loading anything, and for checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Distinct papers.
    pub papers: usize,
    /// Vector rows, live or not (`papers + dead_rows`).
    pub rows: usize,
    /// Rows whose paper was re-embedded since: still in the graph, never returned.
    pub dead_rows: usize,
}

/// The papers log: JSON Lines, one [`super::store::Record`] a line; the last line for an
/// id wins. Only the first `bytes` bytes are committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PapersFile {
    pub file: String,
    /// Committed length in bytes; anything after it is an unfinished commit.
    pub bytes: u64,
    /// Committed number of lines.
    pub records: usize,
}

/// The vectors file: `rows × dimension` little-endian f32, row-major, no header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorsFile {
    pub file: String,
    /// Committed number of rows; bytes after `rows × dimension × 4` are an unfinished
    /// commit.
    pub rows: usize,
}

impl Manifest {
    /// Read and check `dir/manifest.json`: it must be a library manifest of a format
    /// version this code reads. Errors say which and what to do.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(lib_err(
                    dir,
                    format!("no {MANIFEST}: not a paperscout library (create one by ingesting papers into it)"),
                ))
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        // Check the format and version first, so that a manifest of a newer version is
        // reported as such rather than as "missing field".
        let probe: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
            lib_err(dir, format!("{MANIFEST} is corrupt ({e}); restore it from a backup, or re-ingest into a new library"))
        })?;
        if probe.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
            return Err(lib_err(
                dir,
                format!("{MANIFEST} is not a paperscout library manifest"),
            ));
        }
        let version = probe.get("format_version").and_then(|v| v.as_u64());
        if version != Some(FORMAT_VERSION as u64) {
            let v = version.map_or("missing".to_string(), |v| v.to_string());
            return Err(lib_err(
                dir,
                format!("format version {v}: this paperscout reads version {FORMAT_VERSION} (a newer library needs a newer paperscout)"),
            ));
        }
        let m: Manifest = serde_json::from_value(probe)
            .map_err(|e| lib_err(dir, format!("{MANIFEST} is corrupt ({e})")))?;
        m.check(dir)?;
        Ok(m)
    }

    /// Internal consistency, so that later code may index with these numbers.
    fn check(&self, dir: &Path) -> Result<()> {
        let c = &self.counts;
        let bad = |what: &str| Err(lib_err(dir, format!("{MANIFEST} is inconsistent: {what}")));
        if self.model.dimension == 0 {
            return bad("model dimension 0");
        }
        if c.papers + c.dead_rows != c.rows || self.vectors.rows != c.rows {
            return bad("papers + dead rows != vector rows");
        }
        if self.papers.records < c.papers {
            return bad("fewer paper records than papers");
        }
        if let Some(d) = &self.index_dump {
            if d.points > c.rows {
                return bad("the index dump has more points than there are rows");
            }
        }
        for name in self.files() {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return bad(&format!("bad file name {name:?}"));
            }
        }
        Ok(())
    }

    /// Every data file this manifest names.
    pub fn files(&self) -> Vec<&str> {
        let mut f = vec![self.papers.file.as_str(), self.vectors.file.as_str()];
        if let Some(d) = &self.index_dump {
            f.extend(d.files());
        }
        f
    }

    /// Commit: write the manifest to a temporary file in `dir`, flush it to disk, rename
    /// it over `manifest.json` and flush the directory. Readers see the old manifest or
    /// the new one, whole, whenever the process dies.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|e| lib_err(dir, format!("serialising the manifest: {e}")))?;
        json.push(b'\n');
        write_atomic(dir, MANIFEST_TMP, MANIFEST, &json)
    }
}

/// Replace `dir/name` with `bytes` whole or not at all, durably: write `dir/tmp`, flush
/// it to disk, rename it over `name`, flush the directory. Whenever the process dies,
/// readers see the old file or the new one. (The commit of a manifest, a profile.)
pub fn write_atomic(dir: &Path, tmp: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(tmp);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_data().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)
}

/// `Error::Library` for `dir`.
pub fn lib_err(dir: &Path, message: impl Into<String>) -> Error {
    Error::Library {
        path: dir.to_path_buf(),
        message: message.into(),
    }
}

/// Flush a directory's entries (new names, renames, removals) to disk. A no-op where
/// directories cannot be opened as files (Windows), where rename is already durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Open `path` for appending after its first `committed` bytes: anything beyond them is
/// what a killed writer left of an unfinished commit, and is cut off. Creates the file
/// when `committed` is 0 and it is missing.
pub fn open_for_append(path: &Path, committed: u64) -> Result<File> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(committed == 0)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < committed {
        return Err(Error::Library {
            path: path.to_path_buf(),
            message: format!(
                "has {len} bytes, the manifest committed {committed}: the file was truncated"
            ),
        });
    }
    if len > committed {
        f.set_len(committed).map_err(|e| Error::io(path, e))?;
        f.sync_data().map_err(|e| Error::io(path, e))?;
    }
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(committed))
        .map_err(|e| Error::io(path, e))?;
    Ok(f)
}
