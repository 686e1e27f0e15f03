//! HNSW index benchmark: build time, size, and single-thread queries/s at each `ef`
//! with recall@10 against exact search, for paperscout's `Index` (an hnsw_rs graph
//! with our `UnitDot` distance) searched two ways on the same graph: by paperscout's
//! flat-copy search (what the library uses) and by hnsw_rs's own search (the reference);
//! then hnsw_rs with its `DistCosine` (same graph parameters, same run).
//!
//! Data: the real MiniLM vectors of the corpus (`$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1`,
//! default data directory `../shared/data` from the repository root). The base is
//! January–April (19,702 papers); queries are May papers (held out). Build on 2 threads,
//! search on 1; M = 16, ef_construction = 200.
//!
//! `cargo bench --bench index` runs the quick set (1,000 May queries, about a minute on
//! two cores). `PAPERSCOUT_BENCH_FULL=1 cargo bench --bench index` uses every May query
//! and adds 1,000 queries drawn out of all 27,085 papers over the other 26,085, and
//! 200,000 synthetic clustered unit vectors (about 15 minutes on two cores, most of it
//! building the `DistCosine` reference). `PAPERSCOUT_BENCH_SETS=may,drawn,synthetic`
//! picks sets, `PAPERSCOUT_BENCH_SYNTHETIC=N` the synthetic size, and
//! `PAPERSCOUT_BENCH_NO_COSINE=1` skips the reference.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hnsw_rs::anndists::dist::{DistCosine, Distance};
use hnsw_rs::api::AnnT;
use hnsw_rs::hnsw::Hnsw;
use paperscout::library::index::{Index, IndexParams};
use paperscout::library::npy;
use paperscout::library::vector::top_k_exact;
use rayon::prelude::*;

const M: usize = 16;
const EF_CONSTRUCTION: usize = 200;
const EFS: [usize; 3] = [32, 64, 128];
const K: usize = 10;
const BUILD_THREADS: usize = 2;
const DIM: usize = 384;

fn main() {
    // Which CPU and kernels these figures come from (issue 14).
    println!("{}", paperscout::embed::cpu_report());
    let full = std::env::var_os("PAPERSCOUT_BENCH_FULL").is_some();
    // Which sets to run: `may`, `drawn`, `synthetic` (comma-separated).
    let sets = std::env::var("PAPERSCOUT_BENCH_SETS")
        .unwrap_or_else(|_| if full { "may,drawn,synthetic" } else { "may" }.to_string());
    let run = |set: &str| sets.split(',').any(|s| s.trim() == set);
    // A relative PAPERSCOUT_DATA (and the default) is taken from the repository root.
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(paperscout::eval::default_corpus())
        .join("minilm-embeddings");
    println!(
        "machine: {} logical CPUs, build on {BUILD_THREADS} threads, search on 1; M={M} ef_construction={EF_CONSTRUCTION}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if run("may") || run("drawn") {
        let months: Vec<npy::Matrix> = (1..=5)
            .map(|m| read(&data.join(format!("arxiv_cs_2026-{m:02}.npy"))))
            .collect();
        if run("may") {
            let base: Vec<f32> = months[..4]
                .iter()
                .flat_map(|m| m.data.iter().copied())
                .collect();
            let may = &months[4];
            let n_queries = if full { may.rows } else { 1000 };
            let queries: Vec<f32> = may.data[..n_queries * DIM].to_vec();
            run_set("real: Jan-Apr base, May queries", &base, &queries);
        }
        if run("drawn") {
            // 1,000 papers drawn (every 27th) out of all five months, over the rest.
            let all: Vec<&[f32]> = months
                .iter()
                .flat_map(|m| m.data.chunks_exact(DIM))
                .collect();
            let (mut rest, mut held) = (Vec::new(), Vec::new());
            for (i, v) in all.iter().enumerate() {
                if i % 27 == 13 && held.len() < 1000 * DIM {
                    held.extend_from_slice(v);
                } else {
                    rest.extend_from_slice(v);
                }
            }
            run_set(
                "real: 1,000 drawn out of 27,085, over the rest",
                &rest,
                &held,
            );
        }
    }
    if run("synthetic") {
        let n = std::env::var("PAPERSCOUT_BENCH_SYNTHETIC")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200_000);
        let (base, queries) = synthetic(n, 1_000, 2_000, 42);
        let name = format!("synthetic: {n} clustered unit vectors (64-d latent)");
        run_set(&name, &base, &queries);
    }
}

fn read(path: &Path) -> npy::Matrix {
    match npy::read(path) {
        Ok(m) => m,
        Err(e) => {
            eprintln!(
                "index bench: {e}\n(the bench needs the corpus: set PAPERSCOUT_DATA, see README)"
            );
            std::process::exit(2);
        }
    }
}

/// Ground truth, build and search both distances, print one block of results.
fn run_set(name: &str, base: &[f32], queries: &[f32]) {
    let n = base.len() / DIM;
    let nq = queries.len() / DIM;
    println!("\n== {name}: {n} base vectors, {nq} queries, k={K}");
    let truth: Vec<Vec<usize>> = queries
        .par_chunks_exact(DIM)
        .map(|q| exact(q, base, K))
        .collect();
    // Exact search on one thread, for comparison (and for the library's exact cut-off).
    let sample = nq.min(200);
    let t = Instant::now();
    for q in queries.chunks_exact(DIM).take(sample) {
        std::hint::black_box(exact(q, base, K));
    }
    let exact_qps = sample as f64 / t.elapsed().as_secs_f64();
    println!("exact (brute force, 1 thread): {exact_qps:.0} q/s");

    bench_index(base, queries, &truth);
    if std::env::var_os("PAPERSCOUT_BENCH_NO_COSINE").is_none() {
        bench_distance("DistCosine (hnsw_rs)", DistCosine, base, queries, &truth);
    }
}

fn exact(q: &[f32], base: &[f32], k: usize) -> Vec<usize> {
    let n = base.len() / DIM;
    top_k_exact(q, k, 0..n, |r| &base[r * DIM..(r + 1) * DIM])
        .into_iter()
        .map(|(_, r)| r)
        .collect()
}

/// paperscout's `Index`: build, the flat copy, size, then each `ef` searched by
/// hnsw_rs and by the flat search, interleaved so that both meet the same machine.
fn bench_index(base: &[f32], queries: &[f32], truth: &[Vec<usize>]) {
    let n = base.len() / DIM;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(BUILD_THREADS)
        .build()
        .expect("a rayon pool");
    let params = IndexParams {
        max_nb_connection: M,
        ef_construction: EF_CONSTRUCTION,
    };
    let t = Instant::now();
    let mut index = Index::new(params, n).expect("valid parameters");
    pool.install(|| index.append(base, DIM));
    let build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    index.prepare_search();
    let flatten = t.elapsed().as_secs_f64();
    let dump = tempfile::tempdir()
        .ok()
        .and_then(|dir| index.dump(dir.path(), "bench").ok())
        .map_or((0, 0), |d| (d.graph.bytes, d.data.bytes));
    println!(
        "UnitDot (paperscout Index): build {build:.2} s ({:.0} points/s), flat copy for search {:.1} ms, index {:.1} MiB as dumped (graph {:.1} + vectors {:.1})",
        n as f64 / build,
        flatten * 1e3,
        (dump.0 + dump.1) as f64 / MIB,
        dump.0 as f64 / MIB,
        dump.1 as f64 / MIB
    );
    type Search<'a> = &'a dyn Fn(&[f32], usize) -> Vec<usize>;
    let hnsw_rs: Search = &|q, ef| index.search_hnsw_rs(q, K, ef);
    let flat: Search = &|q, ef| index.search(q, K, ef);
    for ef in EFS {
        for (name, search) in [("hnsw_rs search", hnsw_rs), ("paperscout search", flat)] {
            let t = Instant::now();
            let got: Vec<Vec<usize>> = queries.chunks_exact(DIM).map(|q| search(q, ef)).collect();
            let secs = t.elapsed().as_secs_f64();
            report(&format!("{name:<18}"), ef, &got, truth, secs);
        }
    }
}

fn report(name: &str, ef: usize, got: &[Vec<usize>], truth: &[Vec<usize>], secs: f64) {
    let r = recall(got, truth);
    println!(
        "  {name}ef={ef:<4} recall@{K}={r:.4}  {:>7.0} q/s  {:>6.1} us/query{}",
        got.len() as f64 / secs,
        secs * 1e6 / got.len() as f64,
        if r >= 0.98 { "" } else { "  (below 0.98)" }
    );
}

fn bench_distance<D>(name: &str, dist: D, base: &[f32], queries: &[f32], truth: &[Vec<usize>])
where
    D: Distance<f32> + Send + Sync,
{
    let n = base.len() / DIM;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(BUILD_THREADS)
        .build()
        .expect("a rayon pool");
    let t = Instant::now();
    let hnsw: Hnsw<f32, D> = Hnsw::new(M, n, 16, EF_CONSTRUCTION, dist);
    let items: Vec<(&[f32], usize)> = base
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| (v, i))
        .collect();
    pool.install(|| hnsw.parallel_insert_slice(&items));
    let build = t.elapsed().as_secs_f64();
    let dump = dump_bytes(&hnsw);
    println!(
        "{name}: build {build:.2} s ({:.0} points/s), index {:.1} MiB as dumped (graph {:.1} + vectors {:.1})",
        n as f64 / build,
        (dump.0 + dump.1) as f64 / MIB,
        dump.0 as f64 / MIB,
        dump.1 as f64 / MIB
    );
    for ef in EFS {
        let t = Instant::now();
        let got: Vec<Vec<usize>> = queries
            .chunks_exact(DIM)
            .map(|q| hnsw.search(q, K, ef).into_iter().map(|h| h.d_id).collect())
            .collect();
        let secs = t.elapsed().as_secs_f64();
        report("", ef, &got, truth, secs);
    }
}

const MIB: f64 = (1 << 20) as f64;

fn recall(got: &[Vec<usize>], truth: &[Vec<usize>]) -> f64 {
    let hits: usize = got
        .iter()
        .zip(truth)
        .map(|(g, t)| g.iter().filter(|r| t.contains(r)).count())
        .sum();
    hits as f64 / (truth.len() * K) as f64
}

/// Bytes of the graph and data files of a dump (what the library stores for the index).
fn dump_bytes<D: Distance<f32> + Send + Sync>(hnsw: &Hnsw<f32, D>) -> (u64, u64) {
    let Ok(dir) = tempfile::tempdir() else {
        return (0, 0);
    };
    let Ok(name) = hnsw.file_dump(dir.path(), "bench") else {
        return (0, 0);
    };
    let size = |suffix: &str| {
        let p: PathBuf = dir.path().join(format!("{name}{suffix}"));
        std::fs::metadata(p).map_or(0, |m| m.len())
    };
    (size(".hnsw.graph"), size(".hnsw.data"))
}

/// `n` base and `nq` query unit vectors from a mixture of `clusters` Gaussians in a
/// 64-dimensional latent space, mapped into 384 dimensions by a fixed random matrix,
/// with a little isotropic noise, then normalised. Sentence embeddings have a low
/// intrinsic dimension too; isotropic clusters in all 384 dimensions would make every
/// neighbour about as far as every other (like uniform random vectors), and recall
/// would measure nothing. Seeded, so runs compare.
fn synthetic(n: usize, nq: usize, clusters: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    const LATENT: usize = 64;
    let mut rng = SplitMix(seed);
    let projection: Vec<Vec<f32>> = (0..DIM).map(|_| rng.gaussians(LATENT)).collect();
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| rng.gaussians(LATENT)).collect();
    let point = |rng: &mut SplitMix| {
        let c = &centres[(rng.next() % clusters as u64) as usize];
        let z: Vec<f32> = c
            .iter()
            .zip(rng.gaussians(LATENT))
            .map(|(a, b)| a + SPREAD * b)
            .collect();
        let noise = rng.gaussians(DIM);
        let x: Vec<f32> = projection
            .iter()
            .zip(noise)
            .map(|(row, e)| row.iter().zip(&z).map(|(a, b)| a * b).sum::<f32>() + NOISE * e)
            .collect();
        unit(x)
    };
    let base: Vec<f32> = (0..n).flat_map(|_| point(&mut rng)).collect();
    let queries: Vec<f32> = (0..nq).flat_map(|_| point(&mut rng)).collect();
    (base, queries)
}

/// Within-cluster spread in the latent space, where centres are N(0, 1): clusters
/// overlap, a lumpy 64-d distribution. With these values recall@10 at ef=64 is close to
/// that of the real vectors (0.98 at 50k points), so the figures mean something.
const SPREAD: f32 = 1.0;
/// Isotropic noise per dimension in the 384-d space (~6 in norm against ~220 of signal):
/// keeps the data off an exact 64-d subspace.
const NOISE: f32 = 0.3;

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// SplitMix64 (Steele, Lea, Flood 2014): a seeded generator without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// `n` standard normal values (Box–Muller).
    fn gaussians(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let (u, v) = (self.uniform(), self.uniform());
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect()
    }
}
