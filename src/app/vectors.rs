//! The vectors given to `ingest --vectors`: several files (the parts of a `--shard`
//! run, or any `.npy`/`.safetensors` `embed` wrote) seen as one id → vector map, all of
//! one model. Owns checking the files' model identity against each other and against a
//! library, and checking each vector before it is stored; reading the files is
//! [`crate::job::vectors`]'s.

use std::collections::hash_map::{Entry, HashMap};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::job::vectors::VectorFile;
use crate::library::ModelInfo;
use crate::paper::canonical_id;

/// A vector whose squared norm is this far from 1 is divided by its norm before it is
/// stored (the library keeps unit vectors; sentence-transformers without
/// `normalize_embeddings` writes un-normalised ones). Closer ones are stored as given,
/// bit for bit.
const RENORMALISE_ABOVE: f32 = 1e-5;

/// Several vectors files of one model, indexed by canonical paper id.
pub struct VectorSet {
    files: Vec<VectorFile>,
    /// Canonical id → (file, row); the first file and row of an id win.
    index: HashMap<String, (usize, usize)>,
    /// The model of every file.
    pub model: ModelInfo,
    /// Ids given more than once (across files or in one); the first is used.
    pub duplicates: usize,
    /// Vectors divided by their norm so far.
    pub normalised: usize,
    used: Vec<Vec<bool>>,
}

impl VectorSet {
    /// Open every file, read ids and metadata, and check that each names a model by
    /// identity (`model`, `model_sha256`, `dim`), that they all name the same one, and
    /// that each file's vectors have that dimension. Reads no vectors.
    pub fn open(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::with_capacity(paths.len());
        let mut model: Option<(ModelInfo, PathBuf)> = None;
        for path in paths {
            let file = VectorFile::open(path)?;
            let Some(info) = file.meta.model.clone() else {
                return Err(Error::Input {
                    path: path.clone(),
                    line: 1,
                    message: "names no model by identity (metadata \"model\", \"model_sha256\" and \"dim\", as `paperscout embed` writes them into a .safetensors header or an .npy's .meta.json): its vectors cannot be checked against the library's model; embed it again with this version".into(),
                });
            };
            if info.dimension != file.dim {
                return Err(Error::Input {
                    path: path.clone(),
                    line: 1,
                    message: format!(
                        "its metadata says dimension {} but its vectors have {} values",
                        info.dimension, file.dim
                    ),
                });
            }
            match &model {
                None => model = Some((info, path.clone())),
                Some((first, first_path)) if !first.same_named_model(&info) => {
                    return Err(Error::VectorsModel {
                        path: path.clone(),
                        found: full(&info),
                        expected_from: format!("vectors file {}", first_path.display()),
                        expected: full(first),
                    })
                }
                Some(_) => {}
            }
            files.push(file);
        }
        let Some((model, _)) = model else {
            return Err(Error::Invalid("--vectors needs at least one file".into()));
        };
        let mut index = HashMap::new();
        let mut duplicates = 0;
        for (f, file) in files.iter().enumerate() {
            for (row, id) in file.ids.iter().enumerate() {
                match index.entry(canonical_id(id)) {
                    Entry::Occupied(_) => duplicates += 1,
                    Entry::Vacant(e) => {
                        e.insert((f, row));
                    }
                }
            }
        }
        let used = files.iter().map(|f| vec![false; f.rows()]).collect();
        Ok(VectorSet {
            files,
            index,
            model,
            duplicates,
            normalised: 0,
            used,
        })
    }

    /// The files, in the order given.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    /// Whether some file has a vector for paper `id` (any form of it).
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(&canonical_id(id))
    }

    /// Mark the vector of `id` as matched by a record (for [`Self::unused`]).
    pub fn mark_used(&mut self, id: &str) {
        if let Some(&(f, row)) = self.index.get(&canonical_id(id)) {
            self.used[f][row] = true;
        }
    }

    /// The unit vector of paper `id`, if a file has one: checked for dimension and
    /// finite values, divided by its norm when it is not unit already. A zero,
    /// non-finite or wrongly sized vector is an error naming the file, row and id.
    pub fn vector(&mut self, id: &str) -> Result<Option<Vec<f32>>> {
        let Some(&(f, row)) = self.index.get(&canonical_id(id)) else {
            return Ok(None);
        };
        self.used[f][row] = true;
        let file = &mut self.files[f];
        let mut v = Vec::with_capacity(file.dim);
        file.read_row(row, &mut v)?;
        let bad = |why: String| Error::Input {
            path: file.path.clone(),
            line: 1,
            message: format!("the vector of {id:?} (row {row}) {why}"),
        };
        if v.len() != self.model.dimension {
            return Err(bad(format!(
                "has {} values, the model gives {}",
                v.len(),
                self.model.dimension
            )));
        }
        if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!("has a non-finite value at position {pos}")));
        }
        let norm2: f32 = v.iter().map(|x| x * x).sum();
        if norm2 == 0.0 || !norm2.is_finite() {
            return Err(bad("is zero: it has no direction".into()));
        }
        if (norm2 - 1.0).abs() > RENORMALISE_ABOVE {
            let norm = f64::from(norm2).sqrt();
            v.iter_mut()
                .for_each(|x| *x = (f64::from(*x) / norm) as f32);
            self.normalised += 1;
        }
        Ok(Some(v))
    }

    /// Vectors in the files that no record asked for: how many, and the first few ids.
    pub fn unused(&self, first: usize) -> (usize, Vec<String>) {
        let mut rows: Vec<(usize, usize)> = self
            .index
            .values()
            .filter(|&&(f, r)| !self.used[f][r])
            .copied()
            .collect();
        rows.sort_unstable();
        let ids = rows
            .iter()
            .take(first)
            .map(|&(f, r)| self.files[f].ids[r].clone())
            .collect();
        (rows.len(), ids)
    }

    /// Vectors in all files.
    pub fn len(&self) -> usize {
        self.files.iter().map(VectorFile::rows).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When every file is a part of the same `--shard` run (same N, same record
    /// count, each file as many rows as its part has records), the parts that were
    /// not given ("2/3"); else nothing (metadata copied from a part onto other
    /// vectors says nothing about parts).
    pub fn missing_parts(&self) -> Vec<String> {
        let shards: Vec<_> = self
            .files
            .iter()
            .map(|f| {
                f.meta.shard.filter(|s| {
                    let r = s.shard.range(s.records);
                    r.start == s.first && r.end - r.start == f.rows() as u64
                })
            })
            .collect();
        let Some(Some(first)) = shards.first() else {
            return Vec::new();
        };
        let same_run = shards.iter().all(|s| {
            s.is_some_and(|s| s.shard.count() == first.shard.count() && s.records == first.records)
        });
        if !same_run {
            return Vec::new();
        }
        let n = first.shard.count();
        (1..=n)
            .filter(|k| !shards.iter().flatten().any(|s| s.shard.index() == *k))
            .map(|k| format!("{k}/{n}"))
            .collect()
    }
}

/// A model's identity in full, for error messages: `name (sha256 HEX, 384-d)`.
pub fn full(m: &ModelInfo) -> String {
    format!("{} (sha256 {}, {}-d)", m.name, m.sha256, m.dimension)
}
