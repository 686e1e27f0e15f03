//! A read-only, flat copy of an hnsw_rs graph, the vectors laid out for it, and the
//! HNSW search over both. hnsw_rs still builds, extends, dumps and reloads the graph
//! (`index.rs`); this file only reads it, after the fact, and owns nothing on disk.
//!
//! Why a copy: hnsw_rs's own search allocates per query, keeps visited points in a hash
//! map, takes a lock per neighbour list and reaches every vector through an `Arc`, so on
//! the same graph it answered ~3.7× fewer queries per second than hnswlib. Here a layer
//! is a CSR adjacency of `u32` rows, the vectors are one row-major block of cache-line
//! aligned rows, the visited set is an epoch-stamped array reused across queries, and
//! candidates are `u64` keys (distance bits above the row) in two binary heaps.
//!
//! The search is HNSW's (Malkov & Yashunin 2018, algorithms 2 and 5): a greedy descent
//! through the upper layers, then a beam of width `ef` on layer 0, written after
//! hnswlib's `searchBaseLayerST` (hnswalg.h), its filter rule included.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::hnsw::Hnsw;

use super::rows::RowSource;
use super::vector::dot;

/// The first bytes of an `index-C.links` file (version 1 of its layout).
const LINKS_MAGIC: &[u8] = b"PSLINKS1";

/// f32 values in a 64-byte cache line.
const FLOATS_PER_LINE: usize = 16;

/// Vectors of rows `0..len()`, each starting on a cache line so that a dot product
/// touches no line more than it must and a row can be prefetched line by line.
pub(crate) struct Rows {
    dim: usize,
    /// Floats from one row to the next: `dim` rounded up to whole cache lines.
    stride: usize,
    /// Where row 0 starts in `data`: its first 64-byte-aligned float.
    first: usize,
    len: usize,
    /// Row `r` is `data[first + r * stride..]` for `dim` values; padding is zero.
    data: Vec<f32>,
}

impl Rows {
    /// No rows of dimension `dim`, with room for `capacity`.
    pub(crate) fn new(dim: usize, capacity: usize) -> Rows {
        let stride = dim.div_ceil(FLOATS_PER_LINE).max(1) * FLOATS_PER_LINE;
        let data = vec![0f32; capacity * stride + FLOATS_PER_LINE];
        Rows {
            dim,
            stride,
            first: aligned_start(&data),
            len: 0,
            data,
        }
    }

    /// The vectors of `hnsw`'s points, point `r` (origin id) as row `r`, or why its
    /// points are not the rows `0..get_nb_point()` (an id out of range or repeated).
    pub(crate) fn from_hnsw<D>(hnsw: &Hnsw<'_, f32, D>) -> Result<Rows, String>
    where
        D: Distance<f32> + Send + Sync,
    {
        let n = hnsw.get_nb_point();
        let points = hnsw.get_point_indexation();
        let mut rows = Rows::new(points.get_data_dimension(), n);
        let mut seen = vec![false; n];
        for point in points {
            let row = point.get_origin_id();
            if row >= n || seen[row] {
                return Err(format!("point id {row} is out of 0..{n} or repeated"));
            }
            seen[row] = true;
            let v = point.get_v();
            if v.len() != rows.dim {
                return Err(format!(
                    "point {row} has {} values, not {}",
                    v.len(),
                    rows.dim
                ));
            }
            rows.slot(row).copy_from_slice(v);
        }
        rows.len = n;
        Ok(rows)
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Add the rows whose vectors are the `dim`-value chunks of `vectors`.
    pub(crate) fn extend(&mut self, vectors: &[f32]) {
        if self.dim == 0 {
            return;
        }
        let new = vectors.len() / self.dim;
        let want = self.len + new;
        if self.first + want * self.stride > self.data.len() {
            // Grow by a quarter at least, into a new aligned block.
            let capacity = want.max(self.len + self.len / 4);
            let mut data = vec![0f32; capacity * self.stride + FLOATS_PER_LINE];
            let first = aligned_start(&data);
            let used = self.len * self.stride;
            data[first..first + used].copy_from_slice(&self.data[self.first..self.first + used]);
            (self.data, self.first) = (data, first);
        }
        for (i, v) in vectors.chunks_exact(self.dim).enumerate() {
            let row = self.len + i;
            self.slot(row).copy_from_slice(v);
        }
        self.len = want;
    }

    /// Row `r`'s vector.
    #[inline]
    pub(crate) fn row(&self, r: usize) -> &[f32] {
        let at = self.first + r * self.stride;
        &self.data[at..at + self.dim]
    }

    fn slot(&mut self, r: usize) -> &mut [f32] {
        let at = self.first + r * self.stride;
        &mut self.data[at..at + self.dim]
    }
}

impl RowSource for Rows {
    #[inline]
    fn row(&self, r: usize) -> &[f32] {
        Rows::row(self, r)
    }
    fn len(&self) -> usize {
        self.len
    }
    fn dim(&self) -> usize {
        self.dim
    }
}

/// Index of the first 64-byte-aligned float of `data` (always below 16 for an f32
/// allocation; 0, unaligned but still correct, if it were not).
fn aligned_start(data: &[f32]) -> usize {
    Some(data.as_ptr().align_offset(64))
        .filter(|&f| f < FLOATS_PER_LINE)
        .unwrap_or(0)
}

/// The links of every row in one layer: row `r`'s neighbours are
/// `links[offsets[r]..offsets[r + 1]]` (empty for rows not in the layer).
struct Csr {
    offsets: Vec<u32>,
    links: Vec<u32>,
}

impl Csr {
    #[inline]
    fn of(&self, row: u32) -> &[u32] {
        let r = row as usize;
        &self.links[self.offsets[r] as usize..self.offsets[r + 1] as usize]
    }
}

/// The links of hnsw_rs's graph over rows `0..len`, and scratch space for searches.
pub(crate) struct Graph {
    len: usize,
    /// `layers[l]` is layer `l`; layer 0 holds every row, the last one the entry point.
    layers: Vec<Csr>,
    entry: u32,
    /// Visited sets and heaps of finished searches, reused by the next ones (one per
    /// search running at the same time).
    scratch: Mutex<Vec<Scratch>>,
}

impl Graph {
    /// Copy `hnsw`'s links, or say why they are not a graph over the rows
    /// `0..get_nb_point()` (a point id out of range or repeated, a link to no point,
    /// more than `u32::MAX` rows or links in a layer).
    pub(crate) fn from_hnsw<D>(hnsw: &Hnsw<'_, f32, D>) -> Result<Graph, String>
    where
        D: Distance<f32> + Send + Sync,
    {
        let n = hnsw.get_nb_point();
        if n == 0 {
            return Err("empty graph".into());
        }
        let n32 = u32::try_from(n).map_err(|_| format!("{n} points do not fit in u32"))?;
        let points = hnsw.get_point_indexation();
        let top = hnsw.get_max_level_observed() as usize;
        // The top layer's first point. hnsw_rs's entry point is a point of that layer
        // (the first to reach it); any of them serves.
        let entry = points
            .get_layer_iterator(top)
            .next()
            .map(|p| p.get_origin_id())
            .ok_or("the top layer is empty")?;
        if entry >= n {
            return Err(format!("entry point {entry} is out of 0..{n}"));
        }

        // Pass 1, in hnsw_rs's order: per layer, the degree of every row and all links
        // one list after another (`order[l]` says whose lists, in which order).
        let mut degree = vec![vec![0u32; n]; top + 1];
        let mut order: Vec<Vec<u32>> = vec![Vec::new(); top + 1];
        let mut buffer: Vec<Vec<u32>> = vec![Vec::new(); top + 1];
        let mut seen = vec![false; n];
        for point in points {
            let row = point.get_origin_id();
            if row >= n || seen[row] {
                return Err(format!("point id {row} is out of 0..{n} or repeated"));
            }
            seen[row] = true;
            // The one public way to read links: it allocates, and follows an `Arc` per
            // link to read the neighbour's id (most of this function's time).
            for (l, layer) in point.get_neighborhood_id().iter().enumerate().take(top + 1) {
                if layer.is_empty() {
                    continue;
                }
                degree[l][row] = layer.len() as u32;
                order[l].push(row as u32);
                for nb in layer {
                    if nb.d_id >= n {
                        return Err(format!("point {row} links to {}, not a point", nb.d_id));
                    }
                    buffer[l].push(nb.d_id as u32);
                }
            }
        }
        if seen.iter().any(|s| !s) {
            return Err(format!("hnsw_rs counts {n} points but lacks some"));
        }

        // Pass 2: CSR per layer, lists moved into row order.
        let mut layers = Vec::with_capacity(top + 1);
        for ((degree, order), buffer) in degree.iter().zip(&order).zip(&buffer) {
            if u32::try_from(buffer.len()).is_err() {
                return Err(format!("{} links in a layer overflow u32", buffer.len()));
            }
            let mut offsets = Vec::with_capacity(n + 1);
            let mut at = 0u32;
            offsets.push(0);
            for d in degree {
                at += d;
                offsets.push(at);
            }
            let mut links = vec![0u32; buffer.len()];
            let mut from = 0;
            for &row in order {
                let start = offsets[row as usize] as usize;
                let d = degree[row as usize] as usize;
                links[start..start + d].copy_from_slice(&buffer[from..from + d]);
                from += d;
            }
            layers.push(Csr { offsets, links });
        }
        Ok(Graph {
            len: n32 as usize,
            layers,
            entry: entry as u32,
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Number of rows in the graph.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The graph as stored in a library's `index-C.links` file: all little-endian,
    /// `LINKS_MAGIC`, rows (u64), entry row (u32), layers (u32), then per layer the
    /// `rows + 1` offsets (u32) and the number of links (u64) followed by the links
    /// (u32). Read back by [`Graph::from_bytes`].
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let words: usize = self
            .layers
            .iter()
            .map(|l| l.offsets.len() + l.links.len() + 2)
            .sum();
        let mut out = Vec::with_capacity(LINKS_MAGIC.len() + 16 + words * 4);
        out.extend_from_slice(LINKS_MAGIC);
        out.extend_from_slice(&(self.len as u64).to_le_bytes());
        out.extend_from_slice(&self.entry.to_le_bytes());
        out.extend_from_slice(&(self.layers.len() as u32).to_le_bytes());
        for layer in &self.layers {
            for o in &layer.offsets {
                out.extend_from_slice(&o.to_le_bytes());
            }
            out.extend_from_slice(&(layer.links.len() as u64).to_le_bytes());
            for l in &layer.links {
                out.extend_from_slice(&l.to_le_bytes());
            }
        }
        out
    }

    /// Read a graph written by [`Graph::to_bytes`], or say why `bytes` are not one: a
    /// wrong magic, a length that does not add up, offsets that go backwards or past
    /// the links, a link or entry row out of range. Never panics on bad bytes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Graph, String> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let end = at
                .checked_add(n)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| format!("truncated at byte {at}"))?;
            let s = &bytes[at..end];
            at = end;
            Ok(s)
        };
        if take(LINKS_MAGIC.len())? != LINKS_MAGIC {
            return Err("not a paperscout links file (bad magic)".into());
        }
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
        let len = u64_of(take(8)?);
        let len = u32::try_from(len).map_err(|_| format!("{len} rows do not fit in u32"))? as usize;
        let entry = u32_of(take(4)?);
        let nlayers = u32_of(take(4)?) as usize;
        if len == 0 || entry as usize >= len || nlayers == 0 || nlayers > 64 {
            return Err(format!(
                "bad header: {len} rows, entry {entry}, {nlayers} layers"
            ));
        }
        let words = |b: &[u8]| -> Vec<u32> { b.chunks_exact(4).map(u32_of).collect() };
        let mut layers = Vec::with_capacity(nlayers);
        for l in 0..nlayers {
            let offsets = words(take((len + 1) * 4)?);
            let n = u64_of(take(8)?);
            let n = usize::try_from(n).map_err(|_| format!("layer {l}: {n} links"))?;
            let links = words(take(n.checked_mul(4).ok_or("link count overflows")?)?);
            if offsets[0] != 0
                || offsets.windows(2).any(|w| w[0] > w[1])
                || offsets[len] as usize != links.len()
            {
                return Err(format!("layer {l}: offsets are not a CSR over its links"));
            }
            if let Some(bad) = links.iter().find(|&&r| r as usize >= len) {
                return Err(format!("layer {l}: link to row {bad}, not a row"));
            }
            layers.push(Csr { offsets, links });
        }
        if at != bytes.len() {
            return Err(format!("{} bytes after the last layer", bytes.len() - at));
        }
        Ok(Graph {
            len,
            layers,
            entry,
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Up to `k` rows nearest to the unit vector `query`, nearest first, examining `ef`
    /// candidates on layer 0 (`ef < k` counts as `k`). `rows` holds (at least) the
    /// vectors of the graph's rows. With `keep`, only rows it accepts are returned
    /// (fewer than `k` when the walk meets fewer); the walk still goes through the others.
    pub(crate) fn search<R: RowSource + ?Sized>(
        &self,
        rows: &R,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: Option<&dyn Fn(usize) -> bool>,
    ) -> Vec<usize> {
        if k == 0 || query.len() != rows.dim() || rows.len() < self.len {
            return Vec::new();
        }
        let ef = ef.max(k);
        let distance = |r: u32| ordered(-dot(query, rows.row(r as usize)));

        // Greedy descent: in each upper layer, move to a closer neighbour while any is.
        let mut here = self.entry;
        let mut here_d = distance(here);
        for layer in self.layers[1..].iter().rev() {
            loop {
                let mut moved = false;
                for &nb in layer.of(here) {
                    let d = distance(nb);
                    if d < here_d {
                        (here, here_d) = (nb, d);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }

        let mut scratch = self.take_scratch();
        let found = self.search_layer0(rows, distance, ef, keep, here, here_d, &mut scratch);
        let mut keys: Vec<u64> = found.drain().collect();
        keys.sort_unstable();
        self.put_scratch(scratch);
        keys.iter()
            .take(k)
            .map(|&key| row_of(key) as usize)
            .collect()
    }

    /// The beam search on layer 0 from `start`: the `ef` nearest accepted rows it meets,
    /// as a max-heap of keys (hnswlib's `searchBaseLayerST`).
    #[allow(clippy::too_many_arguments)]
    fn search_layer0<'s, R: RowSource + ?Sized>(
        &self,
        rows: &R,
        distance: impl Fn(u32) -> u32,
        ef: usize,
        keep: Option<&dyn Fn(usize) -> bool>,
        start: u32,
        start_d: u32,
        s: &'s mut Scratch,
    ) -> &'s mut BinaryHeap<u64> {
        let epoch = s.next_epoch(self.len);
        let (visited, fresh) = (&mut s.visited, &mut s.fresh);
        let (candidates, top) = (&mut s.candidates, &mut s.top);
        let accepted = |r: u32| keep.is_none_or(|f| f(r as usize));
        let layer = &self.layers[0];

        visited[start as usize] = epoch;
        candidates.push(Reverse(key(start_d, start)));
        if accepted(start) {
            top.push(key(start_d, start));
        }
        // The farthest distance in `top`; nothing is farther while it is empty.
        let mut bound = top.peek().map_or(u32::MAX, |&t| dist_of(t));
        while let Some(Reverse(c)) = candidates.pop() {
            // Unfiltered, `top` holds every row reached until it is full, so a candidate
            // farther than its farthest ends the search; filtered, only a full `top` does.
            if dist_of(c) > bound && (top.len() >= ef || keep.is_none()) {
                break;
            }
            // Mark the unvisited neighbours and ask for all their vectors at once: the
            // memory system then fetches them in parallel, and each dot product below
            // finds its vector arriving or in cache (1.2-1.3× the queries/s of
            // prefetching only the next neighbour's first line, as hnswlib does).
            fresh.clear();
            for &nb in layer.of(row_of(c)) {
                let seen = &mut visited[nb as usize];
                if *seen != epoch {
                    *seen = epoch;
                    fresh.push(nb);
                    prefetch_row(rows.row(nb as usize));
                }
            }
            for &nb in fresh.iter() {
                let d = distance(nb);
                if top.len() < ef || d < bound {
                    candidates.push(Reverse(key(d, nb)));
                    if accepted(nb) {
                        top.push(key(d, nb));
                        if top.len() > ef {
                            top.pop();
                        }
                    }
                    if let Some(&t) = top.peek() {
                        bound = dist_of(t);
                    }
                }
            }
        }
        top
    }

    fn take_scratch(&self) -> Scratch {
        let pooled = self.scratch.lock().ok().and_then(|mut pool| pool.pop());
        pooled.unwrap_or_default()
    }

    fn put_scratch(&self, s: Scratch) {
        if let Ok(mut pool) = self.scratch.lock() {
            pool.push(s);
        }
    }
}

/// What one search needs besides the graph, kept between searches.
#[derive(Default)]
struct Scratch {
    /// `visited[r] == epoch` iff row `r` was reached by the current search.
    visited: Vec<u16>,
    epoch: u16,
    /// The unvisited neighbours of the row being expanded.
    fresh: Vec<u32>,
    /// Rows to expand, nearest first.
    candidates: BinaryHeap<Reverse<u64>>,
    /// The best rows so far, farthest first.
    top: BinaryHeap<u64>,
}

impl Scratch {
    /// Start a search over `n` rows: a new epoch, so that no row counts as visited.
    fn next_epoch(&mut self, n: usize) -> u16 {
        if self.visited.len() != n {
            self.visited.clear();
            self.visited.resize(n, 0);
            self.epoch = 0;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped: stamps of 65,536 searches ago would look current.
            self.visited.fill(0);
            self.epoch = 1;
        }
        self.candidates.clear();
        self.top.clear();
        self.epoch
    }
}

/// `x`'s bits, mapped so that unsigned order is `f32::total_cmp` order.
#[inline]
fn ordered(x: f32) -> u32 {
    let b = x.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 1 << 31
    }
}

/// A heap entry: distance key in the high half, row in the low half, so that `u64`
/// order is by distance, then by row.
#[inline]
fn key(d: u32, row: u32) -> u64 {
    (d as u64) << 32 | row as u64
}

#[inline]
fn dist_of(key: u64) -> u32 {
    (key >> 32) as u32
}

#[inline]
fn row_of(key: u64) -> u32 {
    key as u32
}

/// Ask for every cache line of `v` to be brought into the cache (a hint; elsewhere than
/// on x86-64, nothing).
#[inline]
fn prefetch_row(v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in v.chunks(FLOATS_PER_LINE) {
            // SAFETY: a prefetch is a hint that cannot fault and reads nothing the program
            // observes; the address is inside a live slice anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_keeps_float_order() {
        let xs = [-2.0f32, -1.0, -1e-9, -0.0, 0.0, 1e-9, 0.5, 1.0, 2.0];
        for w in xs.windows(2) {
            assert!(ordered(w[0]) <= ordered(w[1]), "{} {}", w[0], w[1]);
        }
        assert!(key(ordered(0.1), 7) < key(ordered(0.2), 3));
        assert_eq!(row_of(key(ordered(0.1), 7)), 7);
        assert_eq!(dist_of(key(ordered(0.1), 7)), ordered(0.1));
    }

    #[test]
    fn epochs_wrap_without_stale_visits() {
        let mut s = Scratch::default();
        let e = s.next_epoch(4);
        s.visited[2] = e;
        for _ in 0..70_000 {
            let e = s.next_epoch(4);
            assert!(s.visited.iter().all(|&v| v != e));
        }
    }

    #[test]
    fn rows_stay_aligned_and_intact_as_they_grow() {
        let dim = 5;
        let mut rows = Rows::new(dim, 1);
        let all: Vec<f32> = (0..dim * 100).map(|x| x as f32).collect();
        for chunk in all.chunks(dim * 7) {
            rows.extend(chunk);
            assert_eq!(rows.row(0).as_ptr() as usize % 64, 0);
        }
        assert_eq!(rows.len(), 100);
        for r in 0..100 {
            assert_eq!(rows.row(r), &all[r * dim..(r + 1) * dim]);
        }
    }
}
