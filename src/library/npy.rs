//! Reading and writing 2-D little-endian float32 `.npy` files (NumPy's format, versions
//! 1.0–3.0), the exchange format of the reference vectors and of vector exports. Only
//! `<f4`, C order, shape `(rows, cols)`: anything else is refused with a clear error,
//! never guessed. Spec: numpy/lib/format.py ("NPY format").

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use crate::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// A row-major f32 matrix as read from or written to a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns (the vector dimension).
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Row `i` (panics if `i >= rows`, like slice indexing).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    // A .npy file is one record: its header is entry 1.
    Error::Input {
        path: path.to_path_buf(),
        line: 1,
        message: format!(
            "not a 2-D little-endian float32 .npy file: {}",
            message.into()
        ),
    }
}

/// Read a 2-D `<f4` `.npy` file.
pub fn read(path: &Path) -> Result<Matrix> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}

/// Parse the bytes of a `.npy` file; `path` only names it in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    let Header {
        rows,
        cols,
        data_start,
    } = parse_header(path, bytes)?;
    let want = rows * cols * 4;
    let body = &bytes[data_start.min(bytes.len())..];
    if body.len() != want {
        return Err(bad(
            path,
            format!(
                "shape ({rows}, {cols}) needs {want} data bytes, the file has {}",
                body.len()
            ),
        ));
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Matrix { rows, cols, data })
}

/// The shape of a 2-D `<f4` `.npy` file and where its data starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub rows: usize,
    pub cols: usize,
    /// Byte offset of the first value.
    pub data_start: usize,
}

/// Parse the header at the start of `bytes` (the data need not follow: reading a
/// file's first bytes is enough); `rows × cols × 4` is checked not to overflow.
pub fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(path, "missing the \\x93NUMPY magic"));
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad(path, "truncated header"));
            }
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (n as usize, 12)
        }
        v => return Err(bad(path, format!("unknown format version {v}"))),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .ok_or_else(|| bad(path, "truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad(path, "header is not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad(path, "no 'descr'"))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if descr != "<f4" {
        return Err(bad(path, format!("dtype is {descr}, expected <f4")));
    }
    match dict_value(header, "fortran_order") {
        Some("False") => {}
        Some(v) => return Err(bad(path, format!("fortran_order is {v}, expected False"))),
        None => return Err(bad(path, "no 'fortran_order'")),
    }
    let shape = dict_value(header, "shape").ok_or_else(|| bad(path, "no 'shape'"))?;
    let dims: Vec<usize> = shape
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad(path, format!("bad shape {shape}")))?;
    let [rows, cols] = dims[..] else {
        return Err(bad(path, format!("shape {shape} is not 2-D")));
    };
    rows.checked_mul(cols)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| bad(path, format!("shape {shape} overflows")))?;
    Ok(Header {
        rows,
        cols,
        data_start,
    })
}

/// The text of `key`'s value in a NumPy header dict (`{'descr': '<f4', ...}`): a quoted
/// string, a word, or a parenthesised tuple.
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let quoted = [format!("'{key}'"), format!("\"{key}\"")];
    let at = quoted
        .iter()
        .find_map(|q| header.find(q.as_str()).map(|i| i + q.len()))?;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
        rest[1..].find(q)? + 2
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

/// Write `rows` (each of length `cols`) as a version 1.0 `<f4` `.npy` file. The file is
/// written in place; callers that need atomicity write to a temporary name and rename.
pub fn write<R: AsRef<[f32]>>(path: &Path, cols: usize, rows: &[R]) -> Result<()> {
    for (i, r) in rows.iter().enumerate() {
        if r.as_ref().len() != cols {
            return Err(Error::Invalid(format!(
                "{}: row {i} has {} values, expected {cols}",
                path.display(),
                r.as_ref().len()
            )));
        }
    }
    let io = |e| Error::io(path, e);
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    out.write_all(&header(rows.len(), cols)).map_err(io)?;
    for r in rows {
        for x in r.as_ref() {
            out.write_all(&x.to_le_bytes()).map_err(io)?;
        }
    }
    out.into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?
        .sync_all()
        .map_err(io)
}

/// A version 1.0 header for a `<f4` C-order `(rows, cols)` array, padded with spaces to
/// a multiple of 64 bytes and ending in `\n`, as NumPy writes it.
fn header(rows: usize, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let header_len = total - MAGIC.len() - 4;
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&[1, 0]);
    h.extend_from_slice(&(header_len as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.resize(total - 1, b' ');
    h.push(b'\n');
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        let rows = vec![vec![1.0f32, -2.5, 3.25], vec![0.0, f32::MIN_POSITIVE, 7.0]];
        write(&path, 3, &rows).unwrap();
        let m = read(&path).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.row(1), &rows[1][..]);
        let bytes = std::fs::read(&path).unwrap();
        // NumPy aligns the data to 64 bytes.
        assert_eq!((bytes.len() - 6 * 4) % 64, 0);
    }

    #[test]
    fn empty_matrix_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.npy");
        write::<Vec<f32>>(&path, 384, &[]).unwrap();
        let m = read(&path).unwrap();
        assert_eq!((m.rows, m.cols, m.data.len()), (0, 384, 0));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let p = Path::new("x.npy");
        let mut ok = header(1, 2);
        ok.extend_from_slice(&[0u8; 8]);
        assert!(parse(p, &ok).is_ok());
        // Truncated data, other dtype, fortran order, 3-D, garbage.
        let err = parse(p, &ok[..ok.len() - 1]).unwrap_err().to_string();
        assert!(err.contains("needs 8 data bytes"), "{err}");
        let swap = |from: &str, to: &str| {
            let at = ok
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .unwrap();
            let mut b = ok[..at].to_vec();
            b.extend_from_slice(to.as_bytes());
            b.extend_from_slice(&ok[at + from.len()..]);
            parse(p, &b).unwrap_err().to_string()
        };
        assert!(swap("<f4", "<f8").contains("dtype is <f8"));
        assert!(swap("False", "True ").contains("fortran_order"));
        assert!(swap("(1, 2)", "(1,2,1)").contains("not 2-D"));
        assert!(parse(p, b"hello").is_err());
        assert!(parse(p, &ok[..12]).is_err());
    }

    #[test]
    fn rejects_ragged_rows() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(
            &dir.path().join("r.npy"),
            2,
            &[vec![1.0f32], vec![1.0, 2.0]],
        );
        assert!(err.unwrap_err().to_string().contains("row 0 has 1 values"));
    }
}
