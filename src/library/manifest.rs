//! `manifest.json`, the commit point of a library: what it holds (model, counts) and
//! which data files are current. Also the durable-write helpers every commit uses.
//! What the data files contain is the store's business (`store.rs`, `writer.rs`).

use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::index::{DumpInfo, IndexParams};
use super::ModelInfo;
use crate::fsio;
pub use crate::fsio::{sync_dir, write_atomic};
use crate::{Error, Result};

/// The `format` string of every manifest.
pub const FORMAT_NAME: &str = "paperscout-library";

/// The on-disk format this code writes. Bump it on any change an older reader would
/// misread, and keep a fixture of the old version opening (tests/fixtures/library).
///
/// Version 2 added the CRC-32 block checksums of the papers log and the vectors file
/// ([`BlockSums`]). A version 1 library is read as it is (its files are not checked
/// against checksums it does not have) and upgraded by the next writer to open it:
/// the checksums of its committed files are computed and a version 2 manifest
/// committed, atomically like every commit.
///
/// Version 3 added the index dump's `links` file (the flat graph readers search,
/// without loading hnsw_rs's graph), and changed what an open checks (see
/// `Library::load` and `Library::verify`). A version 2 library is read as it is (its
/// hnsw_rs graph is loaded) and upgraded by the next writer: the graph is dumped anew
/// with its links and a version 3 manifest committed.
///
/// Version 4 added the papers index (`papers-C.idx`, [`PapersIndexFile`]): per paper
/// its id, row, listing day and the place of its record in the log, so that an open
/// reads the index instead of parsing every record. A version 3 (or older) library is
/// read as it is (every record parsed) and upgraded by the next writer, which writes
/// the index and commits a version 4 manifest (the graph is kept as it is).
pub const FORMAT_VERSION: u32 = 4;

/// The oldest format version this code reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// Bytes per checksummed block of a papers log.
pub(crate) const PAPERS_BLOCK_BYTES: u64 = 256 * 1024;
/// Vector rows per checksummed block of a vectors file.
pub(crate) const VECTOR_BLOCK_ROWS: u64 = 128;

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
    /// The papers index of the committed log (format version 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub papers_index: Option<PapersIndexFile>,
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
    /// Checksums of the committed bytes (format version 2; `None` in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksums: Option<BlockSums>,
}

/// The papers index file (`papers-C.idx`, layout in `meta.rs`): written whole by each
/// commit under a new name, checked against its length and CRC-32 at every open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PapersIndexFile {
    pub file: String,
    pub bytes: u64,
    /// CRC-32 of the whole file, 8 hex digits.
    #[serde(with = "hex_u32")]
    pub crc32: u32,
}

mod hex_u32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:08x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = String::deserialize(d)?;
        u32::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

/// The vectors file: `rows × dimension` little-endian f32, row-major, no header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorsFile {
    pub file: String,
    /// Committed number of rows; bytes after `rows × dimension × 4` are an unfinished
    /// commit.
    pub rows: usize,
    /// Checksums of the committed bytes (format version 2; `None` in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksums: Option<BlockSums>,
}

/// CRC-32 (IEEE, as zlib's) of each `block_bytes`-long block of a file's committed
/// prefix, the last block possibly shorter. Appending extends the last block's CRC
/// (CRC-32 continues from a previous value) and adds new ones, so a commit checksums
/// only what it appends. In JSON: `{"block_bytes": N, "crc32": "hex, 8 digits a block"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSums {
    pub block_bytes: u64,
    #[serde(with = "hex_u32s")]
    pub crc32: Vec<u32>,
}

impl BlockSums {
    /// No bytes yet.
    pub fn new(block_bytes: u64) -> BlockSums {
        BlockSums {
            block_bytes: block_bytes.max(1),
            crc32: Vec::new(),
        }
    }

    /// The checksums of `bytes`.
    pub fn of(bytes: &[u8], block_bytes: u64) -> BlockSums {
        let mut sums = BlockSums::new(block_bytes);
        sums.append(0, bytes);
        sums
    }

    /// Extend the checksums of the first `len` bytes over `more`, appended after them.
    pub fn append(&mut self, len: u64, more: &[u8]) {
        let b = self.block_bytes.max(1);
        let mut pos = len;
        let mut rest = more;
        while !rest.is_empty() {
            let in_block = pos % b;
            let take = ((b - in_block) as usize).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            match self.crc32.last_mut().filter(|_| in_block != 0) {
                Some(last) => {
                    let mut h = crc32fast::Hasher::new_with_initial(*last);
                    h.update(chunk);
                    *last = h.finalize();
                }
                None => self.crc32.push(crc32fast::hash(chunk)),
            }
            pos += take as u64;
            rest = tail;
        }
    }

    /// How many blocks `len` bytes make.
    pub fn blocks(&self, len: u64) -> usize {
        len.div_ceil(self.block_bytes.max(1)) as usize
    }

    /// The byte range of the first block of `bytes` whose checksum differs, if any.
    pub fn first_damaged(&self, bytes: &[u8]) -> Option<std::ops::Range<u64>> {
        use rayon::prelude::*;
        let b = self.block_bytes.max(1) as usize;
        if self.blocks(bytes.len() as u64) != self.crc32.len() {
            return Some(0..bytes.len() as u64);
        }
        let bad = bytes
            .par_chunks(b)
            .zip(self.crc32.par_iter())
            .position_first(|(chunk, want)| crc32fast::hash(chunk) != *want)?;
        let start = (bad * b) as u64;
        Some(start..(start + b as u64).min(bytes.len() as u64))
    }
}

/// `Vec<u32>` as one string of 8 hex digits each.
mod hex_u32s {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u32], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(v.len() * 8);
        for x in v {
            out.push_str(&format!("{x:08x}"));
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 8 != 0 || !text.is_ascii() {
            return Err(serde::de::Error::custom(
                "crc32 must be 8 hex digits per block",
            ));
        }
        (0..text.len())
            .step_by(8)
            .map(|i| u32::from_str_radix(&text[i..i + 8], 16).map_err(serde::de::Error::custom))
            .collect()
    }
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
        let readable = u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION);
        if !version.is_some_and(|v| readable.contains(&v)) {
            let v = version.map_or("missing".to_string(), |v| v.to_string());
            return Err(lib_err(
                dir,
                format!("format version {v}: this paperscout reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION} (a newer library needs a newer paperscout)"),
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
        if self.format_version >= 2 {
            let row_bytes = self.model.dimension as u64 * 4;
            let checks = [
                ("papers", self.papers.checksums.as_ref(), self.papers.bytes),
                (
                    "vectors",
                    self.vectors.checksums.as_ref(),
                    (self.vectors.rows as u64).saturating_mul(row_bytes),
                ),
            ];
            for (what, sums, len) in checks {
                match sums {
                    None => return bad(&format!("no checksums for the {what} file")),
                    Some(s) if s.block_bytes == 0 || s.blocks(len) != s.crc32.len() => {
                        return bad(&format!(
                            "the {what} checksums cover another length than the file's"
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        if self.format_version >= 4 && self.papers_index.is_none() {
            return bad("no papers index");
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
        if let Some(i) = &self.papers_index {
            f.push(i.file.as_str());
        }
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

/// `Error::Library` for `dir`.
pub fn lib_err(dir: &Path, message: impl Into<String>) -> Error {
    Error::Library {
        path: dir.to_path_buf(),
        message: message.into(),
    }
}

/// Open `path` for appending after its first `committed` bytes: anything beyond them is
/// what a killed writer left of an unfinished commit, and is cut off. Creates the file
/// when `committed` is 0 and it is missing; never opens it through a link.
pub fn open_for_append(path: &Path, committed: u64) -> Result<File> {
    let mut f = fsio::open_append(path, committed == 0)?;
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
