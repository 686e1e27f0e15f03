//! What an embed output says about itself besides its rows and ids: the model that
//! made the vectors, by the identity a library records ([`ModelInfo`]), and which part
//! of the input it holds (`--shard`). Written into a `.safetensors` header's
//! `__metadata__` and into the `OUT.meta.json` sidecar of an `.npy`; read back by
//! `ingest --vectors` ([`super::vectors`]).
//!
//! # Keys (every value a string: safetensors metadata is a string → string map)
//! - `model`: the model's name as the library records it (e.g. `all-MiniLM-L6-v2`);
//! - `model_sha256`: lowercase hex sha256 of the model's `model.safetensors`;
//! - `dim`: the vector dimension, e.g. `"384"`;
//! - `shard`: `"K/N"` when the file is one part of a `--shard` run;
//! - `shard_first`: 0-based index, in the whole input, of the file's first row;
//! - `records`: records in the whole input (all parts together);
//! - `precision`: `"int8"` when the model's `Linear` layers ran in int8
//!   (`PAPERSCOUT_PRECISION=int8`); absent for f32.
//!
//! `.safetensors` also has `ids` (a JSON array of strings, row order); an `.npy` keeps
//! its ids in `OUT.ids.json`, as before. Files written before model identity existed
//! have `model` (the path the model was loaded from) and nothing else.

use std::collections::BTreeMap;
use std::path::Path;

use super::shard::Shard;
use crate::error::{Error, Result};
use crate::library::ModelInfo;

pub const KEY_MODEL: &str = "model";
pub const KEY_MODEL_SHA256: &str = "model_sha256";
pub const KEY_DIM: &str = "dim";
pub const KEY_SHARD: &str = "shard";
pub const KEY_SHARD_FIRST: &str = "shard_first";
pub const KEY_RECORDS: &str = "records";
pub const KEY_PRECISION: &str = "precision";
/// safetensors only: the ids, a JSON array of strings.
pub const KEY_IDS: &str = "ids";

/// Which part of the input a sharded output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardMeta {
    pub shard: Shard,
    /// 0-based index of the part's first record in the whole input.
    pub first: u64,
    /// Records in the whole input.
    pub records: u64,
}

/// Metadata of an embed output (see the module docs for the keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputMeta {
    /// The model by identity; `None`: only the embedder's name is written (`model`).
    pub model: Option<ModelInfo>,
    pub shard: Option<ShardMeta>,
    /// `Some("int8")` for int8 `Linear` layers; `None` for f32.
    pub precision: Option<String>,
}

impl OutputMeta {
    /// The key → value map to write; `fallback_model` names the model when no
    /// identity is known.
    pub fn to_map(&self, fallback_model: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        match &self.model {
            Some(info) => {
                m.insert(KEY_MODEL.into(), info.name.clone());
                m.insert(KEY_MODEL_SHA256.into(), info.sha256.clone());
                m.insert(KEY_DIM.into(), info.dimension.to_string());
            }
            None => {
                m.insert(KEY_MODEL.into(), fallback_model.to_string());
            }
        }
        if let Some(s) = &self.shard {
            m.insert(KEY_SHARD.into(), s.shard.to_string());
            m.insert(KEY_SHARD_FIRST.into(), s.first.to_string());
            m.insert(KEY_RECORDS.into(), s.records.to_string());
        }
        if let Some(p) = &self.precision {
            m.insert(KEY_PRECISION.into(), p.clone());
        }
        m
    }

    /// Read the metadata of file `path` back from its map. The model identity needs
    /// `model`, `model_sha256` and `dim` (else `model` is `None`); shard keys that are
    /// present must parse. Unknown keys are ignored.
    pub fn from_map(path: &Path, map: &BTreeMap<String, String>) -> Result<Self> {
        let bad = |key: &str, why: String| Error::Input {
            path: path.to_path_buf(),
            line: 1,
            message: format!("metadata {key:?}: {why}"),
        };
        let number = |key: &str| -> Result<Option<u64>> {
            map.get(key)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| bad(key, format!("{v:?} is not a whole number")))
                })
                .transpose()
        };
        let model = match (
            map.get(KEY_MODEL),
            map.get(KEY_MODEL_SHA256),
            number(KEY_DIM)?,
        ) {
            (Some(name), Some(sha), Some(dim)) => {
                let sha = sha.trim().to_ascii_lowercase();
                if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad(
                        KEY_MODEL_SHA256,
                        format!("{sha:?} is not a sha256 (64 hex digits)"),
                    ));
                }
                Some(ModelInfo::new(name.clone(), sha, dim as usize))
            }
            _ => None,
        };
        let shard = match map.get(KEY_SHARD) {
            None => None,
            Some(s) => Some(ShardMeta {
                shard: s
                    .parse()
                    .map_err(|e: Error| bad(KEY_SHARD, e.to_string()))?,
                first: number(KEY_SHARD_FIRST)?.unwrap_or(0),
                records: number(KEY_RECORDS)?.unwrap_or(0),
            }),
        };
        Ok(OutputMeta {
            model,
            shard,
            precision: map.get(KEY_PRECISION).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let meta = OutputMeta {
            model: Some(ModelInfo::new("all-MiniLM-L6-v2", "ab".repeat(32), 384)),
            shard: Some(ShardMeta {
                shard: Shard::new(2, 3).unwrap_or_else(|_| unreachable!()),
                first: 100,
                records: 300,
            }),
            precision: Some("int8".into()),
        };
        let map = meta.to_map("ignored");
        assert_eq!(map[KEY_DIM], "384");
        assert_eq!(map[KEY_PRECISION], "int8");
        assert_eq!(map[KEY_SHARD], "2/3");
        let back = OutputMeta::from_map(Path::new("x"), &map).ok();
        assert_eq!(back, Some(meta));
        // An old file: a path as the model, nothing else.
        let old = BTreeMap::from([(KEY_MODEL.to_string(), "/models/x".to_string())]);
        let back = OutputMeta::from_map(Path::new("x"), &old).ok();
        assert_eq!(back, Some(OutputMeta::default()));
        let mut broken = map.clone();
        broken.insert(KEY_MODEL_SHA256.into(), "xyz".into());
        assert!(OutputMeta::from_map(Path::new("x"), &broken).is_err());
    }
}
