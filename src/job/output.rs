//! The job's output formats: choosing one, appending rows while streaming, and
//! assembling the final file (JSON Lines, NumPy `.npy` v1.0, `.safetensors`).
//!
//! While a job runs, rows go to data files inside the checkpoint directory (or to
//! standard output); the final file is built from them only at the end and moved into
//! place with a rename, so a reader never sees a half-written output. Owns no
//! checkpoint bookkeeping: [`super::checkpoint`] decides when data is durable.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Layout of the job's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One `{"id": "...", "embedding": [f32, ...]}` object per line, in input order.
    Jsonl,
    /// NumPy `.npy` v1.0, `float32` `[n, dim]`, C order, little-endian; the ids go to
    /// the sidecar [`ids_sidecar_path`] as a JSON array of strings, in row order, and
    /// the metadata (model identity, shard; keys in [`super::meta`]) to
    /// [`meta_sidecar_path`] as a JSON object of strings.
    Npy,
    /// `.safetensors` with one `F32` tensor `embeddings` `[n, dim]`; the ids are a JSON
    /// array of strings in the header's `__metadata__["ids"]`, next to the model's
    /// identity and the shard (keys in [`super::meta`]).
    Safetensors,
}

impl OutputFormat {
    /// The format a file name asks for: `.npy`, `.safetensors`, else JSON Lines
    /// (`.jsonl`, `.ndjson`, `.json` or anything else).
    pub fn from_path(path: &Path) -> Self {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("npy") => OutputFormat::Npy,
            Some("safetensors") => OutputFormat::Safetensors,
            _ => OutputFormat::Jsonl,
        }
    }

    /// The format to write: `explicit` (from `--format`) when given, else the one
    /// `output`'s extension asks for. Standard output (`None`) takes JSON Lines only.
    pub fn resolve(explicit: Option<Self>, output: Option<&Path>) -> Result<Self> {
        match (explicit, output) {
            (Some(OutputFormat::Jsonl) | None, None) => Ok(OutputFormat::Jsonl),
            (Some(format), None) => Err(Error::Invalid(format!(
                "--format {format} needs an output file (--output FILE); standard output takes JSON Lines only"
            ))),
            (Some(format), Some(_)) => Ok(format),
            (None, Some(path)) => Ok(Self::from_path(path)),
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Npy => "npy",
            OutputFormat::Safetensors => "safetensors",
        })
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Ok(OutputFormat::Jsonl),
            "npy" | "numpy" => Ok(OutputFormat::Npy),
            "safetensors" => Ok(OutputFormat::Safetensors),
            other => Err(Error::Invalid(format!(
                "unknown output format {other:?}: expected jsonl, npy or safetensors"
            ))),
        }
    }
}

/// `<output>.ids.json`: the ids of an `.npy` output, a JSON array of strings in row order.
pub fn ids_sidecar_path(output: &Path) -> PathBuf {
    with_suffix(output, ".ids.json")
}

/// `<output>.meta.json`: the metadata of an `.npy` output (the keys of
/// [`super::meta`], a JSON object of strings).
pub fn meta_sidecar_path(output: &Path) -> PathBuf {
    with_suffix(output, ".meta.json")
}

/// `path` with `suffix` appended to its file name (`a/b.npy` → `a/b.npy.ids.json`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// safetensors readers (Rust and Python alike) refuse headers over 100 MB.
const SAFETENSORS_MAX_HEADER: u64 = 100_000_000;
/// Room kept in the header for everything but the ids.
const SAFETENSORS_HEADER_RESERVE: u64 = 64 * 1024;

/// Names of the data files inside the checkpoint directory.
pub(crate) const ROWS_JSONL: &str = "rows.jsonl";
pub(crate) const ROWS_F32: &str = "rows.f32";
pub(crate) const IDS_JSONL: &str = "ids.jsonl";
pub(crate) const FINAL_TMP: &str = "final.tmp";
pub(crate) const SIDECAR_TMP: &str = "ids.json.tmp";
pub(crate) const META_TMP: &str = "meta.json.tmp";

/// Byte lengths of the data written so far; the checkpoint records them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Lengths {
    /// `rows.jsonl` or `rows.f32`, or bytes sent to standard output.
    pub data: u64,
    /// `ids.jsonl` (binary formats only).
    pub ids: u64,
    /// Bytes the ids will take in a safetensors header (safetensors only).
    pub meta: u64,
    /// CRC-32 of the `data` bytes (`None`: unknown, from a version 1 checkpoint).
    pub data_crc32: Option<u32>,
    /// CRC-32 of the `ids` bytes.
    pub ids_crc32: Option<u32>,
}

/// An append-only data file, with the path for messages and the CRC-32 of everything
/// in it so far.
struct DataFile {
    w: BufWriter<File>,
    path: PathBuf,
    crc: crc32fast::Hasher,
}

impl DataFile {
    /// Open `path` for appending after its first `len` bytes; anything after them was
    /// written after the last checkpoint and is dropped. The `len` bytes must have the
    /// CRC-32 `crc` (when known): otherwise the checkpoint was damaged after it was
    /// written and is refused. Never opens the file through a link.
    fn open_at(path: PathBuf, len: u64, crc: Option<u32>) -> Result<Self> {
        let mut file = crate::fsio::open_append(&path, len == 0)?;
        let actual = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if actual < len {
            return Err(Error::Invalid(format!(
                "checkpoint file {} holds {actual} bytes but its state says {len}: the checkpoint is damaged; start over with --restart",
                path.display()
            )));
        }
        let mut hasher = crc32fast::Hasher::new();
        if len > 0 {
            let mut prefix = std::io::Read::take(&mut file, len);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n =
                    std::io::Read::read(&mut prefix, &mut buf).map_err(|e| Error::io(&path, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
        if let Some(want) = crc {
            let got = hasher.clone().finalize();
            if got != want {
                return Err(Error::Invalid(format!(
                    "checkpoint file {} is damaged: its first {len} bytes have CRC-32 {got:08x}, its state.json recorded {want:08x}; start over with --restart",
                    path.display()
                )));
            }
        }
        file.set_len(len).map_err(|e| Error::io(&path, e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&path, e))?;
        Ok(DataFile {
            w: BufWriter::with_capacity(1 << 20, file),
            path,
            crc: hasher,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc.update(bytes);
        self.w
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn crc32(&self) -> u32 {
        self.crc.clone().finalize()
    }

    fn sync(&mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::io(&self.path, e))?;
        self.w
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))
    }
}

enum Out {
    Stdout(BufWriter<std::io::Stdout>),
    Jsonl(DataFile),
    Binary {
        rows: DataFile,
        ids: DataFile,
        safetensors: bool,
    },
}

/// Where rows go while the job streams.
pub(crate) struct Sink {
    out: Out,
    len: Lengths,
    scratch: Vec<u8>,
}

#[derive(Serialize)]
struct JsonlRow<'a> {
    id: &'a str,
    embedding: &'a [f32],
}

impl Sink {
    /// JSON Lines to standard output; not resumable.
    pub fn stdout() -> Self {
        Sink {
            out: Out::Stdout(BufWriter::with_capacity(1 << 20, std::io::stdout())),
            len: Lengths::default(),
            scratch: Vec::new(),
        }
    }

    /// The data files of checkpoint directory `dir` for `format`, cut back to `len`
    /// (all zero for a new checkpoint).
    pub fn open(dir: &Path, format: OutputFormat, len: Lengths) -> Result<Self> {
        let out = match format {
            OutputFormat::Jsonl => Out::Jsonl(DataFile::open_at(
                dir.join(ROWS_JSONL),
                len.data,
                len.data_crc32,
            )?),
            OutputFormat::Npy | OutputFormat::Safetensors => Out::Binary {
                rows: DataFile::open_at(dir.join(ROWS_F32), len.data, len.data_crc32)?,
                ids: DataFile::open_at(dir.join(IDS_JSONL), len.ids, len.ids_crc32)?,
                safetensors: format == OutputFormat::Safetensors,
            },
        };
        Ok(Sink {
            out,
            len,
            scratch: Vec::with_capacity(1 << 16),
        })
    }

    /// Lengths (and checksums) of what was written so far.
    pub fn lengths(&self) -> Lengths {
        let (data_crc32, ids_crc32) = match &self.out {
            Out::Stdout(_) => (None, None),
            Out::Jsonl(f) => (Some(f.crc32()), None),
            Out::Binary { rows, ids, .. } => (Some(rows.crc32()), Some(ids.crc32())),
        };
        Lengths {
            data_crc32,
            ids_crc32,
            ..self.len
        }
    }

    /// Append one row.
    pub fn write_row(&mut self, id: &str, vector: &[f32]) -> Result<()> {
        self.scratch.clear();
        match &mut self.out {
            Out::Stdout(w) => {
                json_row(&mut self.scratch, id, vector)?;
                w.write_all(&self.scratch)
                    .map_err(|e| Error::io("<stdout>", e))?;
                self.len.data += self.scratch.len() as u64;
            }
            Out::Jsonl(file) => {
                json_row(&mut self.scratch, id, vector)?;
                file.write(&self.scratch)?;
                self.len.data += self.scratch.len() as u64;
            }
            Out::Binary {
                rows,
                ids,
                safetensors,
            } => {
                for x in vector {
                    self.scratch.extend_from_slice(&x.to_le_bytes());
                }
                rows.write(&self.scratch)?;
                self.len.data += self.scratch.len() as u64;

                let quoted = json_string(id)?;
                if *safetensors {
                    // In the header the ids array is itself a JSON string, so each id is
                    // escaped twice; count it now to fail early rather than at the end.
                    self.len.meta += json_string(&quoted)?.len() as u64 - 1;
                    if self.len.meta + SAFETENSORS_HEADER_RESERVE > SAFETENSORS_MAX_HEADER {
                        return Err(Error::Invalid(format!(
                            "too many ids for a .safetensors file: safetensors readers refuse headers over {SAFETENSORS_MAX_HEADER} bytes, and the ids alone pass that; write .npy instead (its ids go to a sidecar file): rerun with --format npy and an .npy output"
                        )));
                    }
                }
                ids.write(quoted.as_bytes())?;
                ids.write(b"\n")?;
                self.len.ids += quoted.len() as u64 + 1;
            }
        }
        Ok(())
    }

    /// Make everything written so far durable (flushed and, for files, on disk).
    pub fn sync(&mut self) -> Result<()> {
        match &mut self.out {
            Out::Stdout(w) => w.flush().map_err(|e| Error::io("<stdout>", e)),
            Out::Jsonl(file) => file.sync(),
            Out::Binary { rows, ids, .. } => {
                rows.sync()?;
                ids.sync()
            }
        }
    }

    /// Build the final output from the data files in `dir` and move it to `output`.
    /// `rows` rows of `dim` floats have been written; `meta` is what the output says
    /// about itself (written by the binary formats). The checkpoint directory stays:
    /// if this is interrupted, the next run builds the output again from it.
    pub fn finalize(
        mut self,
        dir: &Path,
        output: &Path,
        format: OutputFormat,
        rows: u64,
        dim: usize,
        meta: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.sync()?;
        drop(self);
        let _span = tracing::debug_span!("finalize", %format, rows).entered();
        match format {
            OutputFormat::Jsonl => {
                // The data file already is the output: one rename, no copy.
                let data = dir.join(ROWS_JSONL);
                std::fs::rename(&data, output).map_err(|e| Error::io(output, e))?;
            }
            OutputFormat::Npy => {
                let sidecar_tmp = dir.join(SIDECAR_TMP);
                let mut w = create(&sidecar_tmp)?;
                {
                    let mut write =
                        |b: &[u8]| w.write_all(b).map_err(|e| Error::io(&sidecar_tmp, e));
                    write(b"[")?;
                    let mut first = true;
                    for_each_id(dir, |quoted| {
                        if !first {
                            write(b",")?;
                        }
                        first = false;
                        write(quoted.as_bytes())
                    })?;
                    write(b"]\n")?;
                }
                let meta_tmp = dir.join(META_TMP);
                let mut m = create(&meta_tmp)?;
                let text = serde_json::to_vec_pretty(meta)
                    .map_err(|e| Error::Invalid(format!("metadata as JSON: {e}")))?;
                m.write_all(&text)
                    .and_then(|()| m.write_all(b"\n"))
                    .map_err(|e| Error::io(&meta_tmp, e))?;
                let header = npy_header(rows, dim);
                let fin = write_final(dir, &header)?;
                // The sidecars first: once the .npy is in place, its ids and metadata are too.
                persist(w, &sidecar_tmp, &ids_sidecar_path(output))?;
                persist(m, &meta_tmp, &meta_sidecar_path(output))?;
                persist(fin, &dir.join(FINAL_TMP), output)?;
            }
            OutputFormat::Safetensors => {
                let mut ids = String::from("[");
                for_each_id(dir, |quoted| {
                    if ids.len() > 1 {
                        ids.push(',');
                    }
                    ids.push_str(quoted);
                    Ok(())
                })?;
                ids.push(']');
                let header = safetensors_header(rows, dim, &ids, meta)?;
                let fin = write_final(dir, &header)?;
                persist(fin, &dir.join(FINAL_TMP), output)?;
            }
        }
        sync_parent(output)
    }
}

fn json_row(buf: &mut Vec<u8>, id: &str, embedding: &[f32]) -> Result<()> {
    serde_json::to_writer(&mut *buf, &JsonlRow { id, embedding })
        .map_err(|e| Error::Invalid(format!("cannot write row {id:?} as JSON: {e}")))?;
    buf.push(b'\n');
    Ok(())
}

fn json_string(s: &str) -> Result<String> {
    serde_json::to_string(s)
        .map_err(|e| Error::Invalid(format!("cannot write id {s:?} as JSON: {e}")))
}

/// A file being written under a temporary name: created afresh (never through a
/// link), removed if anything fails before it is renamed into place.
fn create(path: &Path) -> Result<BufWriter<crate::fsio::TempFile>> {
    let file = crate::fsio::TempFile::create(path)?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// Flush `w` and rename its file to `to`.
fn persist(w: BufWriter<crate::fsio::TempFile>, path: &Path, to: &Path) -> Result<()> {
    let t = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    t.persist(to)
}

/// Each id of `dir/ids.jsonl`, as the JSON string literal it was stored as.
fn for_each_id(dir: &Path, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let path = dir.join(IDS_JSONL);
    let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io(&path, e))?;
        f(&line)?;
    }
    Ok(())
}

/// `dir/final.tmp` = `header` followed by `dir/rows.f32`, to be persisted.
fn write_final(dir: &Path, header: &[u8]) -> Result<BufWriter<crate::fsio::TempFile>> {
    let tmp = dir.join(FINAL_TMP);
    let data = dir.join(ROWS_F32);
    let mut w = create(&tmp)?;
    w.write_all(header).map_err(|e| Error::io(&tmp, e))?;
    let mut rows = File::open(&data).map_err(|e| Error::io(&data, e))?;
    std::io::copy(&mut rows, &mut w).map_err(|e| Error::io(&tmp, e))?;
    Ok(w)
}

/// Make a rename in `path`'s directory durable.
pub(crate) fn sync_parent(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The header of a NumPy v1.0 file holding `float32` `[rows, dim]` in C order.
///
/// Format: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>:
/// magic `\x93NUMPY`, version 1.0, a little-endian u16 header length, then a Python
/// dict literal padded with spaces and ended by `\n` so that the data starts at a
/// multiple of 64 bytes (what NumPy itself writes).
pub(crate) fn npy_header(rows: u64, dim: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + pad + 1;
    let mut out = Vec::with_capacity(10 + header_len);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    // At most ~100 bytes for any u64 shape, far below the v1.0 limit of 65535.
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + pad, b' ');
    out.push(b'\n');
    out
}

/// The header of a safetensors file with one `F32` tensor `embeddings` `[rows, dim]`
/// and metadata `ids` (`ids_json`, a JSON array) and the entries of `meta`.
///
/// Format: <https://github.com/huggingface/safetensors#format>: a little-endian u64
/// header length, the JSON header, padded with spaces so the data starts 8-aligned.
pub(crate) fn safetensors_header(
    rows: u64,
    dim: usize,
    ids_json: &str,
    meta: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes = rows * dim as u64 * 4;
    let mut metadata = serde_json::Map::new();
    for (k, v) in meta {
        metadata.insert(k.clone(), serde_json::Value::from(v.as_str()));
    }
    metadata.insert(
        super::meta::KEY_IDS.into(),
        serde_json::Value::from(ids_json),
    );
    let header = serde_json::json!({
        "__metadata__": metadata,
        "embeddings": { "dtype": "F32", "shape": [rows, dim], "data_offsets": [0, bytes] },
    });
    let mut text = serde_json::to_vec(&header)
        .map_err(|e| Error::Invalid(format!("safetensors header: {e}")))?;
    while (8 + text.len()) % 8 != 0 {
        text.push(b' ');
    }
    if text.len() as u64 > SAFETENSORS_MAX_HEADER {
        return Err(Error::Invalid(format!(
            "the safetensors header would take {} bytes, over the {SAFETENSORS_MAX_HEADER} that readers accept; write .npy instead",
            text.len()
        )));
    }
    let mut out = Vec::with_capacity(8 + text.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_64_aligned_and_ends_in_newline() {
        for (rows, dim) in [
            (0, 1),
            (3, 384),
            (123_456_789, 1024),
            (u64::MAX, usize::MAX),
        ] {
            let h = npy_header(rows, dim);
            assert_eq!(h.len() % 64, 0, "{rows}x{dim}");
            assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
            let len = u16::from_le_bytes([h[8], h[9]]) as usize;
            assert_eq!(10 + len, h.len());
            assert_eq!(h.last(), Some(&b'\n'));
            let text = std::str::from_utf8(&h[10..]).unwrap_or("");
            assert!(
                text.contains(&format!("'shape': ({rows}, {dim})")),
                "{text}"
            );
        }
    }

    #[test]
    fn safetensors_header_is_8_aligned() {
        for ids in ["[]", "[\"a\"]", "[\"a\",\"b\\\"c\"]"] {
            let meta = BTreeMap::from([("model".to_string(), "m".to_string())]);
            let h = safetensors_header(2, 3, ids, &meta).unwrap_or_default();
            assert_eq!(h.len() % 8, 0);
            let n = u64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8])) as usize;
            assert_eq!(8 + n, h.len());
            let v: serde_json::Value = serde_json::from_slice(&h[8..]).unwrap_or_default();
            assert_eq!(v["__metadata__"]["ids"], ids);
            assert_eq!(v["__metadata__"]["model"], "m");
            assert_eq!(v["embeddings"]["data_offsets"][1], 24);
        }
    }

    #[test]
    fn format_from_flag_and_extension() {
        let p = |s: &str| Some(Path::new(s).to_path_buf());
        assert_eq!(
            OutputFormat::resolve(None, p("a/x.NPY").as_deref()).ok(),
            Some(OutputFormat::Npy)
        );
        assert_eq!(
            OutputFormat::resolve(None, p("x.safetensors").as_deref()).ok(),
            Some(OutputFormat::Safetensors)
        );
        assert_eq!(
            OutputFormat::resolve(None, p("x.jsonl").as_deref()).ok(),
            Some(OutputFormat::Jsonl)
        );
        assert_eq!(
            OutputFormat::resolve(None, p("x").as_deref()).ok(),
            Some(OutputFormat::Jsonl)
        );
        assert_eq!(
            OutputFormat::resolve(Some(OutputFormat::Npy), p("x.jsonl").as_deref()).ok(),
            Some(OutputFormat::Npy)
        );
        assert_eq!(
            OutputFormat::resolve(None, None).ok(),
            Some(OutputFormat::Jsonl)
        );
        assert!(OutputFormat::resolve(Some(OutputFormat::Npy), None).is_err());
        assert_eq!(
            "SafeTensors".parse::<OutputFormat>().ok(),
            Some(OutputFormat::Safetensors)
        );
        assert!("csv".parse::<OutputFormat>().is_err());
        assert_eq!(
            ids_sidecar_path(Path::new("d/v.npy")),
            Path::new("d/v.npy.ids.json")
        );
    }
}
