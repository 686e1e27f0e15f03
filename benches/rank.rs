//! Throughput of the profile model on the real corpus (27,085 papers, MiniLM vectors,
//! `$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1`, default data directory `../shared/data`
//! from the repository root): fitting the tf-idf, training one profile against a
//! ~27k-paper library, and scoring one day (2,000 candidates) for 1,000 users.
//! `cargo bench --bench rank` (harness = false: a plain main printing figures).

use std::path::Path;
use std::time::Instant;

use paperscout::eval::{BlindPaper, EvalCorpus};
use paperscout::rank::{
    self, Library, ProfileInput, RankConfig, Rows, SplitMix64, Tfidf, TfidfConfig,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // Which CPU and kernels these figures come from (issue 14).
    println!("{}", paperscout::embed::cpu_report());
    // A relative PAPERSCOUT_DATA (and the default) is taken from the repository root.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join(paperscout::eval::default_corpus());
    let t = Instant::now();
    let corpus = match EvalCorpus::load_dir(&data, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rank bench needs the corpus (set PAPERSCOUT_DATA, see README): {e:#}");
            std::process::exit(1);
        }
    };
    let n = corpus.papers().len();
    let dim = corpus.dim();
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "load {n} papers + vectors: {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let texts: Vec<String> = (0..n)
        .map(|i| BlindPaper::of(&corpus.papers()[i], corpus.listed(i)).text)
        .collect();
    let t = Instant::now();
    let tfidf = match Tfidf::fit(&texts, TfidfConfig::default()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tf-idf fit failed: {e:#}");
            std::process::exit(1);
        }
    };
    let fit_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let rows = tfidf.transform_many(&texts);
    let tr_s = t.elapsed().as_secs_f64();
    let nnz: usize = rows.iter().map(|r| r.nnz()).sum();
    println!(
        "tf-idf fit on {n} texts: {fit_s:.2} s; transform: {tr_s:.2} s ({:.0} texts/s); {} terms, {:.0} non-zeros per row",
        n as f64 / tr_s,
        tfidf.len(),
        nnz as f64 / n as f64
    );

    let ids: Vec<String> = corpus.papers().iter().map(|p| p.id.clone()).collect();
    let (lib_rows, lib) = match Rows::new(corpus.vectors(), dim, &rows)
        .and_then(|r| Ok((r, Library::new(&ids, r, tfidf.len())?)))
    {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(1);
        }
    };
    let _ = lib_rows;

    // Train: profiles of 5-30 likes drawn at random from one neighbourhood.
    let cfg = RankConfig::default();
    let mut g = SplitMix64::new(1);
    let mut times = Vec::new();
    let mut models = Vec::new();
    for _ in 0..24 {
        let seed = g.below(n);
        let sims: Vec<f32> = (0..n)
            .map(|i| {
                rank::dot(
                    corpus
                        .vectors()
                        .get(seed * dim..(seed + 1) * dim)
                        .unwrap_or(&[]),
                    &corpus.vectors()[i * dim..(i + 1) * dim],
                )
            })
            .collect();
        let k = g.range_inclusive(5, 30);
        let likes = rank::top_k(&sims, k);
        let t = Instant::now();
        match rank::train(
            &lib,
            &ProfileInput {
                likes: &likes,
                ..ProfileInput::default()
            },
            &cfg,
        ) {
            Ok(m) => models.push(m),
            Err(e) => {
                eprintln!("{e:#}");
                std::process::exit(1);
            }
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let epochs: Vec<f64> = models
        .iter()
        .filter_map(|m| m.stats().map(|s| s.epochs as f64))
        .collect();
    println!(
        "train one profile (5-30 likes vs {} sampled negatives, library {n}): median {:.1} ms, max {:.1} ms, median {} epochs",
        cfg.negatives.unwrap_or(n),
        1e3 * median(times.clone()),
        1e3 * times.iter().cloned().fold(0.0, f64::max),
        median(epochs)
    );

    // Score: one day of 2,000 candidates for 1,000 users (the 24 models repeated).
    let day = 2000.min(n);
    let cand = match Rows::new(&corpus.vectors()[(n - day) * dim..], dim, &rows[n - day..]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(1);
        }
    };
    let users: Vec<rank::ProfileModel> = (0..1000)
        .map(|i| models[i % models.len()].clone())
        .collect();
    let mut times = Vec::new();
    let mut check = 0.0f32;
    for _ in 0..5 {
        let t = Instant::now();
        match rank::score_many(&users, &cand) {
            Ok(s) => check += s[0][0],
            Err(e) => {
                eprintln!("{e:#}");
                std::process::exit(1);
            }
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let s = median(times);
    println!(
        "score one day ({day} candidates) for 1000 users: median {:.3} s = {:.1} M user-paper scores/s (checksum {check:.3})",
        s,
        (day * 1000) as f64 / s / 1e6
    );
}
