//! The approximate nearest-neighbour index: an hnsw_rs graph over a library's vector
//! rows (graph point id = vector row), its distance, and its dump and reload with
//! checksums. Which rows are live, and exact search, belong to the store (`store.rs`).
//!
//! hnsw_rs builds, extends, dumps and reloads the graph; searches run on a flat copy of
//! its links (`graph.rs`) and on the index's own copy of the vectors, 4-5× faster than
//! hnsw_rs's search on the same graph. The links are copied at the first search after a
//! change (build, reload, append), so a writer appending batch after batch never pays
//! for copies it does not search: 27 ms for 19.7k points on 2 cores (`cargo bench
//! --bench index`), half a percent of building them.
//!
//! Facts about hnsw_rs 0.3.5 this file is built on (read in its source):
//! - `Hnsw::new` calls `process::exit` when `max_nb_connection > 256`: checked here first.
//! - Reloading (`HnswIo::load_hnsw_with_dist`) returns a `Hnsw<'a>` borrowing the
//!   `HnswIo`. Without mmap the points own their data, so the borrow is nominal; we give
//!   the loader a `'static` life by leaking it (a path, a name and a counter, ~150 bytes
//!   per load) rather than building a self-referential struct.
//! - The reload code `unwrap`s, asserts and even `process::exit`s on a malformed dump,
//!   and reads vectors with an unchecked cast. So a dump is only handed to it after its
//!   length and sha256 match what the manifest recorded when it was written.
//! - The dump stores `type_name::<UnitDot>()` and the reload compares it verbatim: the
//!   distance type must keep its path `paperscout::library::index::UnitDot`, or every
//!   stored index stops loading (the fixture test guards this).
//! - Dumps are native-endian with `usize` fields: a library moves between machines of
//!   the same endianness and word size only (all 64-bit little-endian targets agree).
//! - `file_dump` needs its directory to exist and panics when it cannot create a file;
//!   the panic is caught and turned into an error. It may pick another basename than the
//!   one asked for: the one it returns is used.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::api::AnnT;
use hnsw_rs::hnsw::Hnsw;
use hnsw_rs::hnswio::HnswIo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::graph::{Graph, Rows};
use super::rows::RowSource;
use super::vector::dot;

/// The distance the graph is built with: `max(0, 1 - a·b)` for unit vectors.
///
/// Vectors are normalised once when they enter the library, so the cosine is a plain
/// f32 dot product; hnsw_rs's `DistCosine` renormalises both vectors in f64 on every
/// call. The clamp matters: hnsw_rs asserts distances are non-negative, and `1 - a·a`
/// rounds to slightly below zero for unit vectors (why its `DistDot` panics).
///
/// Do not move or rename this type: its `type_name` is stored in every index dump.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitDot;

impl Distance<f32> for UnitDot {
    #[inline]
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (1.0 - dot(va, vb)).max(0.0)
    }
}

/// Build parameters of a library's HNSW graph, fixed when the library is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexParams {
    /// Links per point and layer (`M`; layer 0 keeps `2M`). 2..=256. More: better
    /// recall at a given `ef`, more memory, slower build.
    pub max_nb_connection: usize,
    /// Candidates examined while inserting a point. More: a better graph, slower build.
    pub ef_construction: usize,
}

impl Default for IndexParams {
    fn default() -> Self {
        IndexParams {
            max_nb_connection: 16,
            ef_construction: 200,
        }
    }
}

impl IndexParams {
    /// Why these parameters cannot build a graph, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if !(2..=256).contains(&self.max_nb_connection) {
            return Err(format!(
                "max_nb_connection must be in 2..=256, not {}",
                self.max_nb_connection
            ));
        }
        if self.ef_construction == 0 {
            return Err("ef_construction must be at least 1".to_string());
        }
        Ok(())
    }
}

/// hnsw_rs's maximum number of layers (`NB_LAYER_MAX`).
const MAX_LAYERS: usize = 16;

/// Below this many new points an insert runs on the calling thread; rayon's overhead is
/// not worth it for a few points.
const PARALLEL_INSERT_MIN: usize = 64;

/// One file of a dump, as recorded in the manifest when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// File name inside the library directory.
    pub file: String,
    /// Length in bytes.
    pub bytes: u64,
    /// Lowercase hex sha256 of the whole file.
    pub sha256: String,
}

/// Where a dump is and what it holds: graph points for the rows `0..points`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpInfo {
    /// The basename hnsw_rs used (`BASENAME.hnsw.graph`, `BASENAME.hnsw.data`).
    pub basename: String,
    /// Number of points in the dump: the vector rows `0..points`.
    pub points: usize,
    pub graph: FileSum,
    pub data: FileSum,
    /// The flat links readers search (format version 3; absent in older dumps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<LinksSum>,
}

impl DumpInfo {
    /// The file names this dump occupies.
    pub fn files(&self) -> Vec<&str> {
        let mut f = vec![self.graph.file.as_str(), self.data.file.as_str()];
        if let Some(l) = &self.links {
            f.push(&l.file);
        }
        f
    }
}

/// An HNSW graph whose point ids are vector rows: point `r` is row `r`, and the graph
/// holds exactly the rows `0..len()`.
///
/// Two kinds: a standalone index ([`Index::new`], [`Index::load`]) keeps a copy of the
/// vectors laid out for its searches; a library's index keeps none and is searched over
/// the library's own rows (the mapped vectors file), so that a process holds one copy
/// of the vectors. A library reader's index has no hnsw_rs graph at all: only the flat
/// links, read from the dump's `.links` file; a writer loads hnsw_rs's graph when it
/// must insert (see `store.rs`).
pub struct Index {
    /// hnsw_rs's graph; `None` in a reader that loaded only the links.
    hnsw: Option<Hnsw<'static, f32, UnitDot>>,
    params: IndexParams,
    /// Points of an index without hnsw_rs's graph (the links file's).
    points: usize,
    /// The vectors of rows `0..len()`, laid out for the flat search, in a standalone
    /// index only.
    rows: Option<Rows>,
    /// The links searches use, copied on first use after every change; `None` if
    /// hnsw_rs's graph could not be copied (never seen: searches then use hnsw_rs's).
    flat: OnceLock<Option<Graph>>,
}

/// The `.links` file of a dump: the flat graph as [`Graph::to_bytes`] writes it, with
/// its length and CRC-32 (cheap enough to check at every open, unlike a sha256 of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinksSum {
    pub file: String,
    pub bytes: u64,
    /// CRC-32 (IEEE) of the whole file, 8 hex digits.
    pub crc32: String,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("points", &self.len())
            .field("params", &self.params)
            .field("flat", &self.flat.get().is_some())
            .finish()
    }
}

impl Index {
    /// An empty graph; `capacity` is only an allocation hint.
    pub fn new(params: IndexParams, capacity: usize) -> Result<Index, String> {
        // Checked before Hnsw::new, which exits the process on a bad max_nb_connection.
        params.check()?;
        let hnsw = Hnsw::new(
            params.max_nb_connection,
            capacity.max(1),
            MAX_LAYERS,
            params.ef_construction,
            UnitDot,
        );
        Ok(Index {
            hnsw: Some(hnsw),
            params,
            points: 0,
            rows: Some(Rows::new(0, 0)),
            flat: OnceLock::new(),
        })
    }

    /// An empty graph of a library: searched over the library's rows
    /// ([`Index::search_in`]), keeping no copy of the vectors besides hnsw_rs's.
    pub(crate) fn new_shared(params: IndexParams, capacity: usize) -> Result<Index, String> {
        let mut index = Index::new(params, capacity)?;
        index.rows = None;
        Ok(index)
    }

    /// Whether hnsw_rs's graph is loaded (so that rows can be appended).
    pub(crate) fn can_append(&self) -> bool {
        self.hnsw.is_some()
    }

    /// The parameters the graph was built with.
    pub fn params(&self) -> IndexParams {
        self.params
    }

    /// Number of points (= rows `0..len()`).
    pub fn len(&self) -> usize {
        self.hnsw.as_ref().map_or(self.points, |h| h.get_nb_point())
    }

    /// Whether the graph has no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Add the rows `len()..len() + n` whose vectors are the chunks of `rows`
    /// (`dimension` values each), in parallel on rayon's current pool when many.
    pub fn append(&mut self, rows: &[f32], dimension: usize) {
        let first = self.len();
        let Some(hnsw) = self.hnsw.as_ref() else {
            // A reader's index (links only): the library never appends to one.
            tracing::error!("appending to an index loaded without its hnsw_rs graph (a bug)");
            return;
        };
        // The next search copies the grown graph: inserts also change old points' links.
        self.flat.take();
        if let Some(own) = self.rows.as_mut() {
            if own.len() == 0 {
                *own = Rows::new(dimension, rows.len() / dimension.max(1));
            }
            own.extend(rows);
        }
        let items: Vec<(&[f32], usize)> = rows
            .chunks_exact(dimension)
            .enumerate()
            .map(|(i, v)| (v, first + i))
            .collect();
        if items.len() < PARALLEL_INSERT_MIN {
            for item in items {
                hnsw.insert_slice(item);
            }
        } else {
            hnsw.parallel_insert_slice(&items);
        }
    }

    /// The flat copy of the graph, made now if the graph changed since the last one.
    fn flat(&self) -> Option<&Graph> {
        self.flat
            .get_or_init(|| {
                let hnsw = self.hnsw.as_ref()?;
                if self.rows.as_ref().is_some_and(|r| r.len() != self.len()) {
                    // Rows of another dimension were appended: a caller's bug.
                    tracing::warn!(
                        "searching with hnsw_rs: the index holds vectors of another dimension"
                    );
                    return None;
                }
                let _span = tracing::info_span!("index_flatten", points = self.len()).entered();
                Graph::from_hnsw(hnsw)
                    .inspect_err(|why| {
                        tracing::warn!("searching with hnsw_rs: its graph cannot be copied: {why}")
                    })
                    .ok()
            })
            .as_ref()
    }

    /// Make the copy of the graph that searches use now rather than at the first search
    /// (after building, reloading or appending). Only a matter of timing.
    pub fn prepare_search(&self) {
        if !self.is_empty() {
            self.flat();
        }
    }

    /// Up to `k` rows nearest to the unit vector `query`, nearest first, examining `ef`
    /// candidates (at least `k`). Approximate.
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<usize> {
        if k == 0 || self.is_empty() {
            return Vec::new();
        }
        match (self.flat(), self.rows.as_ref()) {
            (Some(graph), Some(rows)) => graph.search(rows, query, k, ef, None),
            _ => self.search_hnsw_rs(query, k, ef),
        }
    }

    /// [`Index::search`] (with `keep`: [`Index::search_filter`]) over `rows`, the
    /// vectors of (at least) the rows `0..len()`: how a library searches its index.
    pub(crate) fn search_in<R: RowSource + ?Sized>(
        &self,
        rows: &R,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(usize) -> bool>,
    ) -> Vec<usize> {
        if k == 0 || self.is_empty() {
            return Vec::new();
        }
        match self.flat() {
            Some(graph) => graph.search(rows, query, k, ef, keep),
            None => match keep {
                None => self.search_hnsw_rs(query, k, ef),
                Some(keep) => self.search_filter_hnsw_rs(query, k, ef, keep),
            },
        }
    }

    /// Like [`Index::search`] but only rows for which `keep(row)` holds are returned;
    /// the walk still goes through the others, so it finds fewer than `k` rows when the
    /// filter rejects most of what it meets (callers scan exactly then).
    pub fn search_filter(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Vec<usize> {
        if k == 0 || self.is_empty() {
            return Vec::new();
        }
        match (self.flat(), self.rows.as_ref()) {
            (Some(graph), Some(rows)) => graph.search(rows, query, k, ef, Some(keep)),
            _ => self.search_filter_hnsw_rs(query, k, ef, keep),
        }
    }

    fn search_filter_hnsw_rs(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Vec<usize> {
        let Some(hnsw) = self.hnsw.as_ref() else {
            return Vec::new();
        };
        let filter = |id: &usize| keep(*id);
        let found = hnsw.search_filter(query, k, ef.max(k), Some(&filter));
        // hnsw_rs may return rows that fail the filter.
        found
            .into_iter()
            .map(|n| n.d_id)
            .filter(|&r| keep(r))
            .collect()
    }

    /// [`Index::search`] by hnsw_rs's own search over the same graph: the reference the
    /// benchmark and the tests compare the flat search with.
    pub fn search_hnsw_rs(&self, query: &[f32], k: usize, ef: usize) -> Vec<usize> {
        let Some(hnsw) = self.hnsw.as_ref().filter(|_| k > 0 && !self.is_empty()) else {
            return Vec::new();
        };
        let found = hnsw.search(query, k, ef.max(k));
        found.into_iter().map(|n| n.d_id).collect()
    }

    /// Write the graph as `dir/BASENAME.hnsw.{graph,data}`, fsync both files and
    /// return what the manifest must record. Leftover files of that name (from a crash)
    /// are replaced. Refuses an empty graph (hnsw_rs cannot dump one). Also writes the
    /// flat links as `BASENAME.links` (what readers load instead of hnsw_rs's graph).
    pub fn dump(&self, dir: &Path, basename: &str) -> Result<DumpInfo, String> {
        let points = self.len();
        if points == 0 || self.hnsw.is_none() {
            return Err("cannot dump an empty index".to_string());
        }
        // hnsw_rs creates its files by name, following any link planted there. So it
        // writes into a directory of our own, made afresh (mkdir never follows a
        // link), and the files are renamed into the library (a rename replaces a link
        // at the destination instead of writing through it).
        let private = dir.join(format!("{basename}{DUMP_TMP_SUFFIX}"));
        remove_leftover(&private)?;
        std::fs::create_dir(&private).map_err(|e| format!("{}: {e}", private.display()))?;
        let moved = dump_into(self, &private, dir, basename);
        let _ = std::fs::remove_dir_all(&private);
        let name = moved?;
        let graph = format!("{name}.hnsw.graph");
        let data = format!("{name}.hnsw.data");
        let links = match self.flat() {
            Some(flat) => {
                let bytes = flat.to_bytes();
                let file = format!("{name}.links");
                crate::fsio::write_atomic(dir, &format!("{file}.tmp"), &file, &bytes)
                    .map_err(|e| e.to_string())?;
                Some(LinksSum {
                    file,
                    bytes: bytes.len() as u64,
                    crc32: format!("{:08x}", crc32fast::hash(&bytes)),
                })
            }
            None => None,
        };
        Ok(DumpInfo {
            basename: name,
            points,
            graph: file_sum(dir, &graph)?,
            data: file_sum(dir, &data)?,
            links,
        })
    }

    /// Reload a dump written by [`Index::dump`], after checking both files against
    /// `info` (length, then sha256), the parameters against `params` and the point
    /// count against `info.points`. A standalone index (with its own copy of the rows).
    pub fn load(
        dir: &Path,
        info: &DumpInfo,
        params: IndexParams,
        dimension: usize,
    ) -> Result<Index, String> {
        Index::load_hnsw(dir, info, params, dimension, true)
    }

    /// [`Index::load`] for a library: no copy of the rows (searched with
    /// [`Index::search_in`]).
    pub(crate) fn load_shared(
        dir: &Path,
        info: &DumpInfo,
        params: IndexParams,
        dimension: usize,
    ) -> Result<Index, String> {
        Index::load_hnsw(dir, info, params, dimension, false)
    }

    /// A reader's index: the flat links of `info` only (no hnsw_rs graph, so nothing
    /// can be appended), after checking the file's length and CRC-32 and its content
    /// (every link a row of the graph). `Ok(None)` for a dump without links (format
    /// version 2): load hnsw_rs's graph then.
    pub(crate) fn load_links(
        dir: &Path,
        info: &DumpInfo,
        params: IndexParams,
    ) -> Result<Option<Index>, String> {
        let Some(want) = &info.links else {
            return Ok(None);
        };
        // hnsw_rs's files are read by a writer only (checked by sha256 then); here
        // only that they are there, whole.
        for f in [&info.graph, &info.data] {
            let path = dir.join(&f.file);
            let len = std::fs::metadata(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .len();
            if len != f.bytes {
                return Err(format!(
                    "index file {} has {len} bytes, the manifest says {} (truncated or overwritten)",
                    f.file, f.bytes
                ));
            }
        }
        let path = dir.join(&want.file);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.len() as u64 != want.bytes {
            return Err(format!(
                "index file {} has {} bytes, the manifest says {} (truncated or overwritten)",
                want.file,
                bytes.len(),
                want.bytes
            ));
        }
        let crc = format!("{:08x}", crc32fast::hash(&bytes));
        if crc != want.crc32 {
            return Err(format!(
                "index file {} is corrupt (CRC-32 {crc} differs from the manifest's {})",
                want.file, want.crc32
            ));
        }
        let graph =
            Graph::from_bytes(&bytes).map_err(|why| format!("index file {}: {why}", want.file))?;
        if graph.len() != info.points {
            return Err(format!(
                "index file {} holds {} points, the manifest says {}",
                want.file,
                graph.len(),
                info.points
            ));
        }
        Ok(Some(Index {
            hnsw: None,
            params,
            points: info.points,
            rows: None,
            flat: OnceLock::from(Some(graph)),
        }))
    }

    fn load_hnsw(
        dir: &Path,
        info: &DumpInfo,
        params: IndexParams,
        dimension: usize,
        own_rows: bool,
    ) -> Result<Index, String> {
        params.check()?;
        for want in [&info.graph, &info.data] {
            let got = file_sum(dir, &want.file)?;
            if got.bytes != want.bytes {
                return Err(format!(
                    "index file {} has {} bytes, the manifest says {} (truncated or overwritten)",
                    want.file, got.bytes, want.bytes
                ));
            }
            if got.sha256 != want.sha256 {
                return Err(format!(
                    "index file {} is corrupt (sha256 {} differs from the manifest's {})",
                    want.file, got.sha256, want.sha256
                ));
            }
        }
        // Leaked on purpose, see the module doc: the graph may borrow it for 'static.
        let io: &'static HnswIo = Box::leak(Box::new(HnswIo::new(dir, &info.basename)));
        let loaded = catch_unwind(AssertUnwindSafe(|| {
            io.load_hnsw_with_dist::<f32, UnitDot>(UnitDot)
        }));
        let mut hnsw = match loaded {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return Err(format!("reloading the index dump failed: {e:#}")),
            Err(_) => return Err("reloading the index dump failed (hnsw_rs panicked)".into()),
        };
        // hnsw_rs's reload turns candidate extension on; new() leaves it off. Keep the
        // graph built the same way before and after a reload.
        hnsw.set_extend_candidates(false);
        hnsw.set_keeping_pruned(false);
        let rows = if own_rows {
            Some(Rows::from_hnsw(&hnsw).map_err(|why| {
                format!(
                    "index dump does not hold the rows 0..{}: {why}",
                    info.points
                )
            })?)
        } else {
            None
        };
        let found = (
            hnsw.get_max_nb_connection() as usize,
            hnsw.get_ef_construction(),
        );
        let dim = hnsw.get_point_indexation().get_data_dimension();
        let index = Index {
            hnsw: Some(hnsw),
            params,
            points: 0,
            rows,
            flat: OnceLock::new(),
        };
        if found != (params.max_nb_connection, params.ef_construction) {
            return Err(format!(
                "index dump was built with M={} ef_construction={}, the manifest says M={} ef_construction={}",
                found.0, found.1, params.max_nb_connection, params.ef_construction
            ));
        }
        if index.len() != info.points {
            return Err(format!(
                "index dump holds {} points, the manifest says {}",
                index.len(),
                info.points
            ));
        }
        if dim != dimension {
            return Err(format!(
                "index dump has dimension {dim}, the library {dimension}"
            ));
        }
        Ok(index)
    }
}

/// Suffix of the private directory an index dump is written in before its files are
/// moved into the library (`index-C.tmp/`); a leftover one is removed.
pub(crate) const DUMP_TMP_SUFFIX: &str = ".tmp";

/// Remove `path` (a leftover directory of an interrupted dump, or anything else with
/// its name) without following links.
fn remove_leftover(path: &Path) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(e)),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).map_err(err),
        Ok(_) => std::fs::remove_file(path).map_err(err),
    }
}

/// Dump `index` into the empty directory `private`, flush both files to disk and move
/// them into `dir`; the basename hnsw_rs used.
fn dump_into(index: &Index, private: &Path, dir: &Path, basename: &str) -> Result<String, String> {
    let Some(hnsw) = index.hnsw.as_ref() else {
        return Err("no hnsw_rs graph to dump".to_string());
    };
    let dumped = catch_unwind(AssertUnwindSafe(|| hnsw.file_dump(private, basename)));
    let name = match dumped {
        Ok(Ok(name)) => name,
        Ok(Err(e)) => return Err(format!("writing the index dump failed: {e:#}")),
        Err(_) => return Err("writing the index dump failed (hnsw_rs panicked)".to_string()),
    };
    for suffix in [".hnsw.graph", ".hnsw.data"] {
        let f = format!("{name}{suffix}");
        let from = private.join(&f);
        // hnsw_rs flushes but does not fsync: the manifest must never name a file
        // whose bytes may still be in the page cache only.
        OpenOptions::new()
            .write(true)
            .open(&from)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("{f}: {e}"))?;
        std::fs::rename(&from, dir.join(&f)).map_err(|e| format!("{f}: {e}"))?;
    }
    Ok(name)
}

/// Length and sha256 of `dir/file`.
pub fn file_sum(dir: &Path, file: &str) -> Result<FileSum, String> {
    let path = dir.join(file);
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = File::open(&path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSum {
        file: file.to_string(),
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        // A small xorshift: deterministic test vectors without a rand dependency.
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let n = dot(&v, &v).sqrt();
        v.into_iter().map(|a| a / n).collect()
    }

    #[test]
    fn unit_dot_is_never_negative() {
        for s in 0..200 {
            let v = unit(s, 384);
            let d = UnitDot.eval(&v, &v);
            assert!((0.0..1e-5).contains(&d), "{d}");
        }
        let a = unit(1, 8);
        let b: Vec<f32> = a.iter().map(|x| -x).collect();
        assert!((UnitDot.eval(&a, &b) - 2.0).abs() < 1e-5);
    }

    #[test]
    fn bad_params_are_refused_before_hnsw_rs_exits() {
        let p = IndexParams {
            max_nb_connection: 257,
            ef_construction: 10,
        };
        assert!(Index::new(p, 10).unwrap_err().contains("2..=256"));
    }

    #[test]
    fn dump_reload_and_corruption() {
        let dim = 16;
        let rows: Vec<f32> = (0..300).flat_map(|s| unit(s, dim)).collect();
        let mut index = Index::new(IndexParams::default(), 300).unwrap();
        index.append(&rows, dim);
        assert_eq!(index.len(), 300);
        let dir = tempfile::tempdir().unwrap();
        let info = index.dump(dir.path(), "index-1").unwrap();
        assert_eq!(info.basename, "index-1");
        let again = Index::load(dir.path(), &info, IndexParams::default(), dim).unwrap();
        let q = unit(7, dim);
        assert_eq!(index.search(&q, 5, 64), again.search(&q, 5, 64));
        assert_eq!(again.search(&q, 1, 64), vec![7]);

        // A flipped byte is caught by the checksum, not by hnsw_rs's asserts.
        let graph = dir.path().join(&info.graph.file);
        let mut bytes = std::fs::read(&graph).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&graph, &bytes).unwrap();
        let err = Index::load(dir.path(), &info, IndexParams::default(), dim).unwrap_err();
        assert!(err.contains("corrupt"), "{err}");
        bytes.truncate(mid);
        std::fs::write(&graph, &bytes).unwrap();
        let err = Index::load(dir.path(), &info, IndexParams::default(), dim).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }

    /// Rows nearest to `q` by exact search over `rows`, nearest first.
    fn exact(
        q: &[f32],
        rows: &[f32],
        dim: usize,
        k: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        let n = rows.len() / dim;
        super::super::vector::top_k_exact(q, k, (0..n).filter(|&r| keep(r)), |r| {
            &rows[r * dim..(r + 1) * dim]
        })
        .into_iter()
        .map(|(_, r)| r)
        .collect()
    }

    fn built(n: usize, dim: usize) -> (Index, Vec<f32>) {
        let rows: Vec<f32> = (0..n as u64).flat_map(|s| unit(s, dim)).collect();
        let mut index = Index::new(IndexParams::default(), n).unwrap();
        index.append(&rows, dim);
        (index, rows)
    }

    #[test]
    fn empty_and_single_point_indexes_answer_without_panicking() {
        let empty = Index::new(IndexParams::default(), 0).unwrap();
        let q = unit(1, 8);
        empty.prepare_search();
        assert!(empty.search(&q, 5, 16).is_empty());
        assert!(empty.search_filter(&q, 5, 16, &|_| true).is_empty());
        assert!(empty.search_hnsw_rs(&q, 5, 16).is_empty());

        let (one, _) = built(1, 8);
        assert_eq!(one.search(&q, 5, 16), vec![0]);
        assert_eq!(one.search(&q, 1, 0), vec![0]);
        assert!(one.search(&q, 0, 16).is_empty());
        assert_eq!(one.search_filter(&q, 5, 16, &|_| true), vec![0]);
        assert!(one.search_filter(&q, 5, 16, &|_| false).is_empty());
        // A query of another dimension finds nothing rather than reading past rows.
        assert!(one.search(&unit(1, 4), 5, 16).is_empty());
    }

    #[test]
    fn k_beyond_len_and_ef_below_k_are_handled() {
        let dim = 12;
        let (index, rows) = built(40, dim);
        let q = unit(1000, dim);
        let all = index.search(&q, 100, 8);
        assert_eq!(
            all,
            exact(&q, &rows, dim, 100, |_| true),
            "every row, nearest first"
        );
        // ef below k counts as k.
        let (index, rows) = built(500, dim);
        let got = index.search(&q, 10, 1);
        assert_eq!(got, index.search(&q, 10, 10));
        assert_eq!(got.len(), 10);
        let want = exact(&q, &rows, dim, 10, |_| true);
        assert!(
            got.iter().filter(|r| want.contains(r)).count() >= 8,
            "{got:?} {want:?}"
        );
    }

    #[test]
    fn flat_search_finds_what_exact_search_finds() {
        let dim = 24;
        let (index, rows) = built(2000, dim);
        let mut hits = 0;
        let mut same_as_hnsw_rs = 0;
        for s in 0..100 {
            let q = unit(10_000 + s, dim);
            let want = exact(&q, &rows, dim, 10, |_| true);
            let got = index.search(&q, 10, 128);
            hits += got.iter().filter(|r| want.contains(r)).count();
            let theirs = index.search_hnsw_rs(&q, 10, 128);
            same_as_hnsw_rs += got.iter().filter(|r| theirs.contains(r)).count();
            let mut sorted = got.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), got.len(), "no row twice");
        }
        assert!(hits >= 980, "recall@10 {}", hits as f64 / 1000.0);
        assert!(
            same_as_hnsw_rs >= 980,
            "agreement {}",
            same_as_hnsw_rs as f64 / 1000.0
        );
    }

    #[test]
    fn filtered_search_returns_only_allowed_rows() {
        let dim = 16;
        let (index, rows) = built(1000, dim);
        let even = |r: usize| r.is_multiple_of(2);
        let mut hits = 0;
        for s in 0..50 {
            let q = unit(20_000 + s, dim);
            let got = index.search_filter(&q, 10, 64, &even);
            assert_eq!(got.len(), 10);
            assert!(got.iter().all(|&r| even(r)), "{got:?}");
            let want = exact(&q, &rows, dim, 10, even);
            hits += got.iter().filter(|r| want.contains(r)).count();
        }
        assert!(hits >= 490, "filtered recall@10 {}", hits as f64 / 500.0);
        // A filter passing a single row finds it (the walk goes on until it has k or
        // has seen everything reachable); one passing none finds nothing.
        let q = unit(1, dim);
        assert_eq!(index.search_filter(&q, 10, 16, &|r| r == 777), vec![777]);
        assert!(index.search_filter(&q, 10, 16, &|_| false).is_empty());
    }

    #[test]
    fn appended_rows_are_searched_at_once() {
        let dim = 16;
        let (mut index, _) = built(300, dim);
        let q = unit(5, dim);
        assert_eq!(index.search(&q, 1, 32), vec![5]);
        let more: Vec<f32> = (300..400).flat_map(|s| unit(s, dim)).collect();
        index.append(&more, dim);
        for r in [300, 350, 399] {
            assert_eq!(index.search(&unit(r as u64, dim), 1, 32), vec![r]);
        }
    }

    #[test]
    fn concurrent_searches_agree_with_sequential_ones() {
        use rayon::prelude::*;
        let dim = 16;
        let (index, _) = built(800, dim);
        let queries: Vec<Vec<f32>> = (0..64).map(|s| unit(30_000 + s, dim)).collect();
        let one: Vec<Vec<usize>> = queries.iter().map(|q| index.search(q, 10, 32)).collect();
        let many: Vec<Vec<usize>> = queries
            .par_iter()
            .map(|q| index.search(q, 10, 32))
            .collect();
        assert_eq!(one, many);
    }
}
