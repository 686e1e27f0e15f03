//! Reading back what `embed` wrote, for `ingest --vectors`: an `.npy` with its ids
//! sidecar (and metadata sidecar), or a `.safetensors` with ids and metadata in its
//! header. Only the headers, ids and metadata are read at open; rows are read one at
//! a time on demand (sequential reads when asked in order), so several files of
//! millions of rows cost their ids in memory, not their vectors.
//!
//! Accepted: `.npy` 2-D `<f4` (ids in `FILE.ids.json` as `embed` writes them, or
//! `STEM.ids.json` beside `STEM.npy`; metadata likewise in `FILE.meta.json` or
//! `STEM.meta.json`), and `.safetensors` with the tensor `embeddings` (or a single
//! tensor) of shape `[rows, dim]` in `F32`, `F64`, `F16` or `BF16` and the metadata
//! keys of [`super::meta`] (`ids` required). The kind is told by the file's first
//! bytes, not its name.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::meta::{OutputMeta, KEY_IDS};
use crate::error::{Error, Result};
use crate::library::npy;

/// safetensors readers refuse headers over 100 MB; so do we.
const MAX_HEADER: u64 = 100_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F64,
    F16,
    Bf16,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }
}

/// One vectors file, open for reading rows.
#[derive(Debug)]
pub struct VectorFile {
    pub path: PathBuf,
    /// Row ids, in row order.
    pub ids: Vec<String>,
    /// Values per row.
    pub dim: usize,
    /// What the file says about itself (model identity, shard).
    pub meta: OutputMeta,
    file: File,
    data_start: u64,
    dtype: Dtype,
    /// Where the file's cursor is, to skip the seek when rows are read in order.
    pos: u64,
    scratch: Vec<u8>,
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        line: 1,
        message: message.into(),
    }
}

impl VectorFile {
    /// Open `path` (`.npy` or `.safetensors`, told by content) and read its header,
    /// ids and metadata; the rows stay on disk. The shape must match the number of
    /// ids and the file's length.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut magic = [0u8; 6];
        let got = read_up_to(&mut file, &mut magic).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
        let mut v = if got == 6 && &magic == b"\x93NUMPY" {
            open_npy(path, file)?
        } else {
            open_safetensors(path, file, len)?
        };
        let want = v.data_start + (v.ids.len() * v.dim * v.dtype.size()) as u64;
        if len < want {
            return Err(bad(
                path,
                format!(
                    "truncated: {} rows of {} values need {want} bytes, the file has {len}",
                    v.ids.len(),
                    v.dim
                ),
            ));
        }
        if v.dim == 0 {
            return Err(bad(path, "vectors of dimension 0"));
        }
        v.scratch = vec![0; v.dim * v.dtype.size()];
        v.pos = u64::MAX;
        Ok(v)
    }

    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    /// Row `row` as `f32` values into `out` (resized to [`Self::dim`]). Values are as
    /// stored: not checked, not normalised.
    pub fn read_row(&mut self, row: usize, out: &mut Vec<f32>) -> Result<()> {
        if row >= self.ids.len() {
            return Err(bad(
                &self.path,
                format!("row {row} asked of a file of {} rows", self.ids.len()),
            ));
        }
        let at = self.data_start + (row * self.scratch.len()) as u64;
        if self.pos != at {
            self.file
                .seek(SeekFrom::Start(at))
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.file
            .read_exact(&mut self.scratch)
            .map_err(|e| Error::io(&self.path, e))?;
        self.pos = at + self.scratch.len() as u64;
        out.clear();
        let b = &self.scratch;
        match self.dtype {
            Dtype::F32 => out.extend(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            Dtype::F64 => out.extend(b.chunks_exact(8).map(|c| {
                f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
            })),
            Dtype::F16 => out.extend(
                b.chunks_exact(2)
                    .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))),
            ),
            Dtype::Bf16 => out.extend(
                b.chunks_exact(2)
                    .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16)),
            ),
        }
        Ok(())
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// `FILE` + `suffix`, else `STEM` + `suffix` beside it (`x.npy` → `x.npy.ids.json`,
/// then `x.ids.json`); the first that exists.
fn sidecar(path: &Path, suffix: &str) -> Option<PathBuf> {
    let full = super::output::with_suffix(path, suffix);
    if full.is_file() {
        return Some(full);
    }
    let stem = super::output::with_suffix(&path.with_extension(""), suffix);
    stem.is_file().then_some(stem)
}

fn open_npy(path: &Path, mut file: File) -> Result<VectorFile> {
    let mut prefix = [0u8; 12];
    let got = read_up_to(&mut file, &mut prefix).map_err(|e| Error::io(path, e))?;
    let header_end = match prefix[6] {
        1 if got >= 10 => 10 + u16::from_le_bytes([prefix[8], prefix[9]]) as usize,
        2 | 3 if got >= 12 => {
            12 + u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize
        }
        _ => 12,
    };
    if header_end as u64 > MAX_HEADER {
        return Err(bad(path, format!("a .npy header of {header_end} bytes")));
    }
    let mut header = vec![0u8; header_end];
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let got = read_up_to(&mut file, &mut header).map_err(|e| Error::io(path, e))?;
    header.truncate(got);
    let h = npy::parse_header(path, &header)?;

    let ids_path = sidecar(path, ".ids.json").ok_or_else(|| {
        bad(
            path,
            format!(
                "no ids beside it: expected {} (a JSON array of strings, one per row, as `paperscout embed` writes it)",
                super::output::with_suffix(path, ".ids.json").display()
            ),
        )
    })?;
    let text = std::fs::read_to_string(&ids_path).map_err(|e| Error::io(&ids_path, e))?;
    let ids: Vec<String> = serde_json::from_str(&text)
        .map_err(|e| bad(&ids_path, format!("expected a JSON array of strings: {e}")))?;
    if ids.len() != h.rows {
        return Err(bad(
            &ids_path,
            format!(
                "{} ids for the {} rows of {}",
                ids.len(),
                h.rows,
                path.display()
            ),
        ));
    }
    let meta = match sidecar(path, ".meta.json") {
        None => OutputMeta::default(),
        Some(meta_path) => {
            let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
            let map: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
                bad(
                    &meta_path,
                    format!("expected a JSON object of strings: {e}"),
                )
            })?;
            OutputMeta::from_map(&meta_path, &map)?
        }
    };
    Ok(VectorFile {
        path: path.to_path_buf(),
        ids,
        dim: h.cols,
        meta,
        file,
        data_start: h.data_start as u64,
        dtype: Dtype::F32,
        pos: 0,
        scratch: Vec::new(),
    })
}

fn open_safetensors(path: &Path, mut file: File, len: u64) -> Result<VectorFile> {
    let not = |why: String| bad(path, format!("not a .npy or .safetensors file: {why}"));
    let mut n = [0u8; 8];
    file.read_exact(&mut n)
        .map_err(|_| not("shorter than 8 bytes".into()))?;
    let n = u64::from_le_bytes(n);
    if n > MAX_HEADER || n + 8 > len {
        return Err(not(format!(
            "its first 8 bytes give a header of {n} bytes, for a file of {len}"
        )));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .map_err(|e| Error::io(path, e))?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|e| not(format!("its header is not a JSON object: {e}")))?;
    let mut map = BTreeMap::new();
    if let Some(m) = header.get("__metadata__") {
        let m = m
            .as_object()
            .ok_or_else(|| bad(path, "__metadata__ is not an object"))?;
        for (k, v) in m {
            let v = v
                .as_str()
                .ok_or_else(|| bad(path, format!("__metadata__ {k:?} is not a string")))?;
            map.insert(k.clone(), v.to_string());
        }
    }
    let tensors: Vec<(&String, &serde_json::Value)> = header
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .collect();
    let (name, tensor) = match tensors.iter().find(|(k, _)| *k == "embeddings") {
        Some(t) => *t,
        None if tensors.len() == 1 => tensors[0],
        None => {
            return Err(bad(
                path,
                format!(
                    "expected a tensor named \"embeddings\" (or a single tensor), found {}",
                    tensors.len()
                ),
            ))
        }
    };
    let dtype = match tensor.get("dtype").and_then(|d| d.as_str()) {
        Some("F32") => Dtype::F32,
        Some("F64") => Dtype::F64,
        Some("F16") => Dtype::F16,
        Some("BF16") => Dtype::Bf16,
        other => {
            return Err(bad(
                path,
                format!("tensor {name:?} has dtype {other:?}: expected F32, F64, F16 or BF16"),
            ))
        }
    };
    let numbers = |key: &str| -> Option<Vec<u64>> {
        tensor
            .get(key)?
            .as_array()?
            .iter()
            .map(|x| x.as_u64())
            .collect()
    };
    let (rows, dim) = match numbers("shape").as_deref() {
        Some(&[r, d]) => (r as usize, d as usize),
        _ => return Err(bad(path, format!("tensor {name:?} is not 2-D [rows, dim]"))),
    };
    let (start, end) = match numbers("data_offsets").as_deref() {
        Some(&[s, e]) if s <= e => (s, e),
        _ => return Err(bad(path, format!("tensor {name:?} has bad data_offsets"))),
    };
    let need = (rows as u64)
        .checked_mul(dim as u64)
        .and_then(|x| x.checked_mul(dtype.size() as u64));
    if need != Some(end - start) {
        return Err(bad(
            path,
            format!(
                "tensor {name:?} of shape [{rows}, {dim}] does not fit its {} data bytes",
                end - start
            ),
        ));
    }
    let ids_json = map.get(KEY_IDS).ok_or_else(|| {
        bad(
            path,
            "no \"ids\" in __metadata__ (a JSON array of strings, one per row, as `paperscout embed` writes it)",
        )
    })?;
    let ids: Vec<String> = serde_json::from_str(ids_json).map_err(|e| {
        bad(
            path,
            format!("__metadata__ \"ids\" is not a JSON array of strings: {e}"),
        )
    })?;
    if ids.len() != rows {
        return Err(bad(
            path,
            format!("{} ids in __metadata__ for {rows} rows", ids.len()),
        ));
    }
    let meta = OutputMeta::from_map(path, &map)?;
    Ok(VectorFile {
        path: path.to_path_buf(),
        ids,
        dim,
        meta,
        file,
        data_start: 8 + n + start,
        dtype,
        pos: 0,
        scratch: Vec::new(),
    })
}

/// IEEE half to single precision (exact: every f16 is an f32).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        // Subnormal: frac · 2⁻²⁴.
        (0, f) => return (if sign != 0 { -1.0 } else { 1.0 }) * f as f32 * (2f32).powi(-24),
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, f) => sign | 0x7fc0_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
