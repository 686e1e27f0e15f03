//! The library at arXiv scale (issue 16): libraries of 100k, 300k and 1M papers built
//! from the corpus' 27,085 real papers and their reference MiniLM vectors, copied and
//! perturbed so that they keep the real structure (copy `c` of a paper: id prefixed
//! `sCC.`, title suffixed `(CC)`, listed `c` half-years earlier, vector + gaussian
//! noise of σ = 0.015 per dimension, renormalised: cosine ≈ 0.96 to its original).
//! For each size it reports:
//!
//! - ingest of the stored vectors (no graph), then the index built from scratch
//!   (`Writer::reindex`), and recall@10 at ef = 64 against exact search (200 queries:
//!   perturbed vectors of random corpus papers);
//! - open (`Library::open`, as every command does first; page cache warm);
//! - the tf-idf vocabulary fit (once per library);
//! - `paperscout similar ID` and `paperscout recommend USER --date D` as whole processes
//!   (the release binary), and `similar` inside a process with the library open (what
//!   the server does per request);
//! - append a 2,000-paper day: writer open + upsert + commit (no embedding);
//! - peak RSS of a process serving 300 `similar` queries (VmHWM), against the raw f32
//!   vectors.
//!
//! `cargo bench --bench scale`; `PAPERSCOUT_SCALE_SIZES=100000,300000` picks sizes
//! (default 100000,300000,1000000); `PAPERSCOUT_SCALE_DIR` keeps the libraries there
//! (default: a temporary directory). With `PAPERSCOUT_SCALE_REUSE=1`, a complete
//! library of a size already in `PAPERSCOUT_SCALE_DIR` (from an earlier run, of any
//! format version) is reused: no ingest and no index build; it is opened by a writer
//! as any command would (which upgrades an older format: timed and printed), and the
//! rest is measured on it. `PAPERSCOUT_SCALE_BLEND=0.5` makes each copy lean towards
//! another random corpus paper (vector + 0.5 × the other's, then the noise), so that a
//! paper's copies are not all within noise of each other (libraries `lib-blend-N`).
//! Needs the corpus (`PAPERSCOUT_DATA`, README).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperscout::eval::EvalCorpus;
use paperscout::library::profiles::Profiles;
use paperscout::library::{Library, ModelInfo, PaperMeta, Writer, WriterOptions};
use paperscout::paper::Paper;
use paperscout::rank::{self, SplitMix64};
use paperscout::recommend::{self, TFIDF_RESCORE_WEIGHT};

const SHA: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
const NOISE: f32 = 0.015;
const BATCH: usize = 50_000;

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("scale bench: {e:#}");
    std::process::exit(1)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A standard normal draw (Box-Muller).
fn gauss(g: &mut SplitMix64) -> f32 {
    let u1 = (g.below(1 << 30) as f64 + 1.0) / (1u64 << 30) as f64;
    let u2 = g.below(1 << 30) as f64 / (1u64 << 30) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn perturbed(v: &[f32], g: &mut SplitMix64) -> Vec<f32> {
    let w: Vec<f32> = v.iter().map(|x| x + NOISE * gauss(g)).collect();
    let n = w.iter().map(|x| x * x).sum::<f32>().sqrt();
    w.into_iter().map(|x| x / n).collect()
}

/// Paper `i` of a scaled library: copy `i / n` of corpus paper `i % n`.
fn scaled(corpus: &EvalCorpus, i: usize, g: &mut SplitMix64) -> (Paper, Vec<f32>) {
    let n = corpus.papers().len();
    let dim = corpus.dim();
    let (c, j) = (i / n, i % n);
    let mut p = corpus.papers()[j].clone();
    let v = &corpus.vectors()[j * dim..(j + 1) * dim];
    if c == 0 {
        return (p, v.to_vec());
    }
    p.id = format!("s{c:02}.{}", p.id);
    p.title = format!("{} ({c:02})", p.title);
    p.listed = p.listed.map(|d| d - Duration::days(182 * c as i64));
    match blend() {
        // A copy leaning towards another real paper, drawn at random: the copies of one
        // paper point different ways instead of sitting within noise of each other.
        Some(w) => {
            let k = (j + 1 + g.below(n - 1)) % n;
            let other = &corpus.vectors()[k * dim..(k + 1) * dim];
            let mixed: Vec<f32> = v.iter().zip(other).map(|(a, b)| a + w * b).collect();
            (p, perturbed(&mixed, g))
        }
        None => (p, perturbed(v, g)),
    }
}

/// `$PAPERSCOUT_SCALE_BLEND=W`: copy `c` of paper `j` is paper `j`'s vector plus `W`
/// times a random other paper's, plus the noise (unset: the noise alone). Its
/// libraries are kept apart (`lib-blend-N`).
fn blend() -> Option<f32> {
    std::env::var("PAPERSCOUT_SCALE_BLEND")
        .ok()
        .and_then(|v| v.parse::<f32>().ok())
        .filter(|w| *w > 0.0)
}

fn model(dim: usize) -> ModelInfo {
    ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2", SHA, dim)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

/// The child process measuring peak RSS: open, tf-idf, 300 `similar` queries.
fn serve_child(dir: &Path) {
    let lib = Library::open_any_model(dir).unwrap_or_else(|e| fail(e));
    let tfidf = recommend::library_tfidf(&lib).unwrap_or_else(|e| fail(e));
    let n = lib.len();
    let mut g = SplitMix64::new(11);
    let mut t = Vec::new();
    for _ in 0..300 {
        let id = lib.id_at(g.below(n)).to_string();
        let s = Instant::now();
        let p = lib.get(&id).unwrap_or_else(|| fail("paper"));
        let v = lib.vector(&id).unwrap_or_else(|| fail("vector")).to_vec();
        let keep = |x: &PaperMeta<'_>| x.id != p.id;
        let hits = lib
            .nearest_where(&v, 110, &keep)
            .unwrap_or_else(|e| fail(e));
        let scored = recommend::rescore(
            hits,
            tfidf.as_ref(),
            &rank::rank_text(p),
            TFIDF_RESCORE_WEIGHT,
        );
        std::hint::black_box(scored);
        t.push(s.elapsed().as_secs_f64());
    }
    println!("VmHWM_KiB {}", vm_hwm_kib());
    println!("similar_median_ms {:.3}", 1e3 * median(t));
}

fn run_cli(args: &[&str]) -> f64 {
    let bin = env!("CARGO_BIN_EXE_paperscout");
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap_or_else(|e| fail(e));
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        fail(format!(
            "paperscout {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    secs
}

/// Whether `dir` holds a library that a run of this bench completed for `size`: at
/// least `size` papers and an index dump. Its format version, if so.
fn complete_library(dir: &Path, size: usize) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
    let m: serde_json::Value = serde_json::from_str(&text).ok()?;
    let papers = m["counts"]["papers"].as_u64()?;
    (papers >= size as u64 && !m["index_dump"].is_null())
        .then(|| m["format_version"].as_u64())
        .flatten()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn bench_size(corpus: &EvalCorpus, size: usize, root: &Path) {
    let dim = corpus.dim();
    let dir: PathBuf = match blend() {
        Some(_) => root.join(format!("lib-blend-{size}")),
        None => root.join(format!("lib-{size}")),
    };
    let reuse = std::env::var("PAPERSCOUT_SCALE_REUSE").is_ok_and(|v| v == "1");
    let reused = if reuse {
        complete_library(&dir, size)
    } else {
        None
    };
    println!(
        "\n== {size} papers ({:.0} MiB of f32 vectors); load {}",
        (size * dim * 4) as f64 / 1048576.0,
        load()
    );
    let mut g = SplitMix64::new(size as u64);
    let build = match reused {
        Some(version) => {
            println!(
                "reusing the library in {} (format version {version}): no ingest, no index build",
                dir.display()
            );
            // Opened by a writer, as `ingest` does: an older format is upgraded here.
            let t = Instant::now();
            let w = Writer::open(&dir, &model(dim), &WriterOptions::default())
                .unwrap_or_else(|e| fail(e));
            drop(w);
            println!(
                "writer open{}: {:.2} s; load {}",
                if version < u64::from(paperscout::library::FORMAT_VERSION) {
                    format!(
                        " with the upgrade from format {version} to {}",
                        paperscout::library::FORMAT_VERSION
                    )
                } else {
                    String::new()
                },
                t.elapsed().as_secs_f64(),
                load()
            );
            None
        }
        None => Some(ingest_and_build(corpus, size, &dir, &mut g)),
    };
    measure(corpus, size, &dir, &mut g, build);
}

/// A new library of `size` papers in `dir`: ingest without a graph, then build it from
/// scratch. The build's seconds.
fn ingest_and_build(corpus: &EvalCorpus, size: usize, dir: &Path, g: &mut SplitMix64) -> f64 {
    let dim = corpus.dim();
    let _ = std::fs::remove_dir_all(dir);
    let t = Instant::now();
    let opts = WriterOptions {
        dump_after_rows: usize::MAX,
        ..WriterOptions::default()
    };
    let mut w = Writer::open(dir, &model(dim), &opts).unwrap_or_else(|e| fail(e));
    let mut i = 0;
    while i < size {
        let end = (i + BATCH).min(size);
        let (papers, vectors): (Vec<Paper>, Vec<Vec<f32>>) =
            (i..end).map(|k| scaled(corpus, k, g)).unzip();
        w.upsert(&papers, &vectors).unwrap_or_else(|e| fail(e));
        w.commit().unwrap_or_else(|e| fail(e));
        i = end;
    }
    drop(w);
    println!(
        "ingest (stored vectors, no graph): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    Writer::reindex(dir, &model(dim), &WriterOptions::default()).unwrap_or_else(|e| fail(e));
    t.elapsed().as_secs_f64()
}

/// The figures of the library of `size` papers in `dir` (`build`: the seconds its
/// index took to build, when this run built it).
fn measure(corpus: &EvalCorpus, size: usize, dir: &Path, g: &mut SplitMix64, build: Option<f64>) {
    let dim = corpus.dim();
    let n = corpus.papers().len();

    // Open, as every command does.
    let mut opens = Vec::new();
    let mut lib = None;
    for _ in 0..3 {
        drop(lib.take());
        let t = Instant::now();
        lib = Some(Library::open(dir, &model(dim)).unwrap_or_else(|e| fail(e)));
        opens.push(t.elapsed().as_secs_f64());
    }
    let lib = lib.unwrap_or_else(|| fail("opened"));

    // Recall@10 at ef=64 (graph alone) against exact search.
    let qs: Vec<(usize, Vec<f32>)> = (0..200)
        .map(|_| {
            let j = g.below(n);
            (j, perturbed(&corpus.vectors()[j * dim..(j + 1) * dim], g))
        })
        .collect();
    // Recall at ef = 64 (the target's) and at larger ef on the same graph; and how many
    // of the exact top 10 are copies of the query's own corpus paper: the copies of one
    // paper sit within noise of each other, so a query's neighbourhood is mostly its
    // paper's cluster at large sizes (37 copies at 1M), which is harder for a graph of
    // fixed degree than real neighbourhoods.
    let efs = [64usize, 128, 256];
    let mut hits = [0usize; 3];
    let mut own_copies = 0;
    let mut search_t = Vec::new();
    for (j, q) in &qs {
        let exact: Vec<String> = lib
            .nearest_exact(q, 10, None)
            .unwrap_or_else(|e| fail(e))
            .iter()
            .map(|h| h.paper.id.clone())
            .collect();
        let own = &corpus.papers()[*j].id;
        own_copies += exact
            .iter()
            .filter(|id| {
                *id == own
                    || id
                        .split_once('.')
                        .is_some_and(|(c, rest)| c.starts_with('s') && c.len() == 3 && rest == own)
            })
            .count();
        for (e, &ef) in efs.iter().enumerate() {
            let t = Instant::now();
            let got = lib.nearest_approx(q, 10, ef).unwrap_or_else(|e| fail(e));
            if ef == 64 {
                search_t.push(t.elapsed().as_secs_f64());
            }
            hits[e] += got.iter().filter(|h| exact.contains(&h.paper.id)).count();
        }
    }
    let build = build.map_or("reused, not built".into(), |b| format!("{b:.1} s"));
    println!(
        "index build from scratch: {build}; recall@10 at ef=64 {:.4} (200 queries), search median {:.2} ms; at ef=128 {:.4}, ef=256 {:.4}; {:.0} % of the exact top 10 are copies of the query's own paper",
        hits[0] as f64 / 2000.0,
        1e3 * median(search_t),
        hits[1] as f64 / 2000.0,
        hits[2] as f64 / 2000.0,
        100.0 * own_copies as f64 / 2000.0
    );
    println!(
        "open: median {:.3} s ({:?}); load {}",
        median(opens.clone()),
        opens,
        load()
    );

    // The tf-idf vocabulary: fitted once per library (a reused library keeps its own).
    let t = Instant::now();
    let stored = recommend::stored_tfidf(&lib).filter(|s| s.library_papers >= size / 2);
    let (tfidf, what) = match stored {
        Some(s) => (s.tfidf, "loaded (fitted by an earlier run)".to_string()),
        None => {
            let fitted = recommend::refit_tfidf(&lib).unwrap_or_else(|e| fail(e));
            let what = format!(
                "fit (once; {} of {} papers)",
                fitted.sample_papers, fitted.library_papers
            );
            (fitted.tfidf, what)
        }
    };
    println!(
        "tf-idf vocabulary {what}: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // similar in a running process.
    let tfidf = tfidf.as_ref();
    let mut sim_t = Vec::new();
    for _ in 0..100 {
        let p = &corpus.papers()[g.below(n)];
        let t = Instant::now();
        let v = lib.vector(&p.id).unwrap_or_else(|| fail("vector")).to_vec();
        let keep = |x: &PaperMeta<'_>| x.id != p.id;
        let hits = lib
            .nearest_where(&v, 110, &keep)
            .unwrap_or_else(|e| fail(e));
        std::hint::black_box(recommend::rescore(
            hits,
            tfidf,
            &rank::rank_text(p),
            TFIDF_RESCORE_WEIGHT,
        ));
        sim_t.push(t.elapsed().as_secs_f64());
    }
    println!(
        "similar inside a process (library open): median {:.2} ms; load {}",
        1e3 * median(sim_t),
        load()
    );

    // Whole processes: similar, and recommend for the busiest day of the corpus.
    let d = dir.to_string_lossy().into_owned();
    let id = corpus.papers()[g.below(n)].id.clone();
    let sim: Vec<f64> = (0..3)
        .map(|_| run_cli(&["--library", &d, "similar", &id, "--top", "10"]))
        .collect();
    println!(
        "`paperscout similar` whole process: median {:.2} s",
        median(sim)
    );
    let day: NaiveDate = {
        let mut per_day = std::collections::HashMap::new();
        for i in 0..n {
            *per_day.entry(corpus.listed(i)).or_insert(0usize) += 1;
        }
        per_day
            .into_iter()
            .max_by_key(|&(d, c)| (c, d))
            .map(|(d, _)| d)
            .unwrap_or_else(|| fail("days"))
    };
    let now: DateTime<Utc> =
        DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_else(|| fail("time"));
    let seed = g.below(n);
    let likes: Vec<String> = lib
        .nearest(&corpus.vectors()[seed * dim..(seed + 1) * dim], 15, None)
        .unwrap_or_else(|e| fail(e))
        .iter()
        .map(|h| h.paper.id.clone())
        .collect();
    let mut edit = Profiles::new(dir)
        .edit("bench", now)
        .unwrap_or_else(|e| fail(e));
    edit.profile.like(&likes, now);
    edit.save().unwrap_or_else(|e| fail(e));
    let date = day.to_string();
    let rec: Vec<f64> = (0..3)
        .map(|_| {
            run_cli(&[
                "--library",
                &d,
                "recommend",
                "bench",
                "--date",
                &date,
                "--no-record",
            ])
        })
        .collect();
    println!(
        "`paperscout recommend USER --date {date}` whole process: median {:.2} s",
        median(rec)
    );
    drop(lib);

    // Peak RSS serving queries, in a fresh process.
    let out = Command::new(std::env::current_exe().unwrap_or_else(|e| fail(e)))
        .env("PAPERSCOUT_SCALE_SERVE", dir)
        .output()
        .unwrap_or_else(|e| fail(e));
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    let hwm: f64 = field("VmHWM_KiB").parse().unwrap_or(0.0);
    let raw = (size * dim * 4) as f64 / 1024.0;
    println!(
        "peak RSS serving 300 similar queries (open + tf-idf + queries): {:.0} MiB = {:.2} × the raw f32 vectors; similar median {} ms",
        hwm / 1024.0,
        hwm / raw,
        field("similar_median_ms")
    );

    // Append a 2,000-paper day: a copy of the corpus not in the library yet (a reused
    // library holds the days earlier runs appended).
    let mut first = size.div_ceil(n).max(1) * n;
    {
        let lib = Library::open(dir, &model(dim)).unwrap_or_else(|e| fail(e));
        while lib.contains(&format!("s{:02}.{}", first / n, corpus.papers()[0].id)) {
            first += n;
        }
    }
    let (papers, vectors): (Vec<Paper>, Vec<Vec<f32>>) =
        (first..first + 2000).map(|k| scaled(corpus, k, g)).unzip();
    let t = Instant::now();
    let mut w =
        Writer::open(dir, &model(dim), &WriterOptions::default()).unwrap_or_else(|e| fail(e));
    let opened = t.elapsed().as_secs_f64();
    w.upsert(&papers, &vectors).unwrap_or_else(|e| fail(e));
    let info = w.commit().unwrap_or_else(|e| fail(e));
    drop(w);
    println!(
        "append a 2,000-paper day (writer open {opened:.2} s + upsert + commit): {:.2} s (index dump written: {}); load {}",
        t.elapsed().as_secs_f64(),
        info.dumped_index,
        load()
    );
    if std::env::var_os("PAPERSCOUT_SCALE_DIR").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn main() {
    if let Some(dir) = std::env::var_os("PAPERSCOUT_SCALE_SERVE") {
        serve_child(Path::new(&dir));
        return;
    }
    // Which CPU and kernels these figures come from (issue 14), as every bench prints it.
    println!("{}", paperscout::embed::cpu_report());
    println!(
        "{} threads; load: {}",
        rayon::current_num_threads(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let sizes: Vec<usize> = std::env::var("PAPERSCOUT_SCALE_SIZES")
        .unwrap_or_else(|_| "100000,300000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join(paperscout::eval::default_corpus());
    let corpus = EvalCorpus::load_dir(&data, None).unwrap_or_else(|e| {
        fail(format!(
            "{e:#} (the bench needs the corpus: set PAPERSCOUT_DATA, see README)"
        ))
    });
    let tmp = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let root = std::env::var_os("PAPERSCOUT_SCALE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    for size in sizes {
        bench_size(&corpus, size, &root);
    }
}
