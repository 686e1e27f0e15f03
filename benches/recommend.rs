//! The user-facing commands' speed on a real 27k-paper library: opening it, the tf-idf
//! vocabulary (fitted once and stored, then read from `cache/tfidf.json`), training one
//! profile, a day's top 20 for one user, and `similar` (index + tf-idf re-scoring) per
//! query, with the library already open, as `paperscout` does them.
//!
//! The library is built in a temporary directory from the corpus' 27,085 papers
//! (`$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1`, default data directory `../shared/data`
//! from the repository root) and their reference MiniLM vectors (no model runs). Ranking a day for 1,000 users
//! at once is `cargo bench --bench rank` (`rank::score_many`).
//!
//! `cargo bench --bench recommend` (harness = false: a plain main printing figures).

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use paperscout::eval::EvalCorpus;
use paperscout::library::profiles::Profile;
use paperscout::library::{Library, ModelInfo, Writer, WriterOptions};
use paperscout::rank::{self, RankConfig, SplitMix64};
use paperscout::recommend::{self, RecommendOptions, TFIDF_RESCORE_WEIGHT};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("recommend bench: {e:#}");
    std::process::exit(1)
}

fn main() {
    // Which CPU and kernels these figures come from (issue 14).
    println!("{}", paperscout::embed::cpu_report());
    // A relative PAPERSCOUT_DATA (and the default) is taken from the repository root.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join(paperscout::eval::default_corpus());
    let corpus = EvalCorpus::load_dir(&data, None).unwrap_or_else(|e| {
        fail(format!(
            "{e:#} (the bench needs the corpus: set PAPERSCOUT_DATA, see README)"
        ))
    });
    let n = corpus.papers().len();
    let dim = corpus.dim();
    println!("threads: {}", rayon::current_num_threads());

    let tmp = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let dir = tmp.path().join("library");
    let model = ModelInfo::new(
        "sentence-transformers/all-MiniLM-L6-v2",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        dim,
    );
    let t = Instant::now();
    let mut w = Writer::open(&dir, &model, &WriterOptions::default()).unwrap_or_else(|e| fail(e));
    let vectors: Vec<Vec<f32>> = (0..n)
        .map(|i| corpus.vectors()[i * dim..(i + 1) * dim].to_vec())
        .collect();
    w.upsert(corpus.papers(), &vectors)
        .unwrap_or_else(|e| fail(e));
    w.finish().unwrap_or_else(|e| fail(e));
    println!(
        "build the library ({n} papers, stored vectors): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut opens = Vec::new();
    let mut lib = None;
    for _ in 0..3 {
        let t = Instant::now();
        lib = Some(Library::open(&dir, &model).unwrap_or_else(|e| fail(e)));
        opens.push(t.elapsed().as_secs_f64());
    }
    let lib = lib.expect("opened");
    println!("open: median {:.2} s", median(opens));

    let t = Instant::now();
    let tfidf = recommend::library_tfidf(&lib).unwrap_or_else(|e| fail(e));
    println!(
        "tf-idf of the library, first use (fit + cache): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let mut loads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let again = recommend::library_tfidf(&lib).unwrap_or_else(|e| fail(e));
        loads.push(t.elapsed().as_secs_f64());
        assert_eq!(
            again.as_ref().map(|t| t.len()),
            tfidf.as_ref().map(|t| t.len())
        );
    }
    println!(
        "tf-idf of the library, cached: median {:.0} ms",
        1e3 * median(loads)
    );
    let tfidf = tfidf.as_ref();

    // Profiles of 5-30 likes around a random paper, as `rank`'s bench draws them.
    let now: DateTime<Utc> = DateTime::from_timestamp(1_780_000_000, 0).expect("a time");
    let mut g = SplitMix64::new(1);
    let vector = |i: usize| &corpus.vectors()[i * dim..(i + 1) * dim];
    let busiest = {
        let mut per_day = std::collections::HashMap::new();
        for i in 0..n {
            *per_day.entry(corpus.listed(i)).or_insert(0usize) += 1;
        }
        per_day
            .into_iter()
            .max_by_key(|&(d, c)| (c, d))
            .expect("days")
    };
    let (mut train_t, mut rec_t) = (Vec::new(), Vec::new());
    for u in 0..20 {
        let seed = g.below(n);
        let sims: Vec<f32> = (0..n).map(|i| rank::dot(vector(seed), vector(i))).collect();
        let likes = rank::top_k(&sims, g.range_inclusive(5, 30));
        let ids: Vec<String> = likes
            .iter()
            .map(|&i| corpus.papers()[i].id.clone())
            .collect();
        let mut profile = Profile::new(&format!("u{u}"), now);
        profile.like(&ids, now);
        let t = Instant::now();
        let trained = recommend::train(&lib, tfidf, &profile, &RankConfig::default())
            .unwrap_or_else(|e| fail(e));
        train_t.push(t.elapsed().as_secs_f64());
        let opts = RecommendOptions {
            from: busiest.0,
            to: busiest.0,
            top: 20,
            min_score: None,
            categories: Vec::new(),
            include_seen: false,
        };
        let t = Instant::now();
        let items = recommend::recommend(&lib, tfidf, &profile, &trained, &opts)
            .unwrap_or_else(|e| fail(e));
        rec_t.push(t.elapsed().as_secs_f64());
        assert_eq!(items.len(), 20);
    }
    println!(
        "train one profile against the library (5-30 likes, 3,000 sampled negatives): median {:.0} ms, max {:.0} ms",
        1e3 * median(train_t.clone()),
        1e3 * train_t.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "top 20 of the busiest day ({}, {} papers) for one trained profile, every paper scored: median {:.0} ms",
        busiest.0,
        busiest.1,
        1e3 * median(rec_t)
    );

    // similar: index search for top 10 + 100 candidates, re-scored with tf-idf.
    let queries = SplitMix64::new(7).sample(&(0..n).collect::<Vec<_>>(), 200);
    let mut sim_t = Vec::new();
    let mut checksum = 0.0f32;
    for &q in &queries {
        let p = &corpus.papers()[q];
        let t = Instant::now();
        let v = lib.vector(&p.id).expect("stored").to_vec();
        let keep = |x: &paperscout::paper::Paper| x.id != p.id;
        let hits = lib
            .nearest(&v, 110, Some(&keep))
            .unwrap_or_else(|e| fail(e));
        let scored = recommend::rescore(hits, tfidf, &rank::rank_text(p), TFIDF_RESCORE_WEIGHT);
        sim_t.push(t.elapsed().as_secs_f64());
        checksum += scored[0].1;
    }
    println!(
        "similar (top 10 of 110 index candidates re-scored with tf-idf), library open: median {:.2} ms, p90 {:.2} ms (checksum {checksum:.2})",
        1e3 * median(sim_t.clone()),
        1e3 * {
            let mut s = sim_t.clone();
            s.sort_by(f64::total_cmp);
            s[s.len() * 9 / 10]
        }
    );
}
