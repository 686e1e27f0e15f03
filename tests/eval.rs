//! `paperscout eval` (`paperscout::eval`): metrics against hand-computed values, a
//! small deterministic run on a slice of the shared corpus, and the guarantee that
//! rankers never see categories.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use paperscout::eval::{self, BlindPaper, Context, EvalOptions, Ranker};
use paperscout::paper::Paper;

use crate::rank::{april_may, data_dir};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A slice: the last 2,000 papers of April as history, the first two days of May,
/// 6 users, category thresholds lowered to fit the smaller history.
fn small_options(seed: u64) -> EvalOptions {
    EvalOptions {
        data: data_dir(),
        history_until: date(2026, 5, 1),
        max_history_papers: Some(2000),
        max_test_days: Some(2),
        users: 6,
        seed,
        min_category_history: 20,
        min_category_test: 5,
        ..EvalOptions::default()
    }
}

#[test]
fn metrics_match_hand_computed_values() {
    // Relevant at ranks 1 and 3, two relevant that day:
    // DCG = 1/log2(2) + 1/log2(4) = 1.5, IDCG = 1 + 1/log2(3).
    let ranked = [true, false, true, false];
    let want = 1.5 / (1.0 + 1.0 / 3f64.log2());
    assert!((eval::ndcg_at_k(&ranked, 2, 10) - want).abs() < 1e-12);
    assert!((eval::precision_at_k(&ranked, 10) - 0.2).abs() < 1e-12);
    // The ideal list is the top-10 of the day's relevant candidates: with 50
    // relevant, ten relevant in a row is perfect.
    assert!((eval::ndcg_at_k(&[true; 10], 50, 10) - 1.0).abs() < 1e-12);
    // Only the first k count.
    let mut late = [false; 12];
    late[11] = true;
    assert_eq!(eval::ndcg_at_k(&late, 1, 10), 0.0);
    assert_eq!(eval::ndcg_at_k(&ranked, 0, 10), 0.0);
    // Mean and standard error of 1, 2, 3: mean 2, sd 1, se 1/√3.
    let mut m = eval::MeanSe::default();
    for x in [1.0, 2.0, 3.0] {
        m.push(x);
    }
    assert!((m.mean() - 2.0).abs() < 1e-12 && (m.std_err() - 1.0 / 3f64.sqrt()).abs() < 1e-12);
}

#[test]
fn blind_papers_carry_title_abstract_and_authors_only() {
    let mut p = Paper::new("2605.00001", "Coded caching");
    p.abstract_text = "We bound the load.".into();
    p.authors = vec!["Ada Lovelace".into(), "Alan Turing".into()];
    p.categories = vec!["cs.IT".into(), "math.IT".into()];
    let b = BlindPaper::of(&p, date(2026, 5, 4));
    assert_eq!(
        b.text,
        "Coded caching We bound the load. Ada Lovelace Alan Turing"
    );
    assert!(!format!("{b:?}").contains("cs.IT"));
    assert_eq!((b.id.as_str(), b.listed), ("2605.00001", date(2026, 5, 4)));
}

/// A ranker that records everything it is handed, to look for the labels in it.
struct Snoop(Arc<Mutex<Vec<String>>>);

impl Ranker for Snoop {
    fn name(&self) -> String {
        "snoop".into()
    }
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        _: u64,
    ) -> paperscout::Result<Vec<Vec<f32>>> {
        let mut seen = self.0.lock().unwrap();
        let candidates = days.iter().flat_map(|d| d.clone()).take(20);
        for i in likes.iter().copied().chain(candidates) {
            seen.push(format!("{:?}", ctx.papers[i]));
        }
        Ok(days.iter().map(|d| vec![0.0; d.len()]).collect())
    }
}

/// Compile-time: `BlindPaper` and `Context` have no category field (the doc tests on
/// `BlindPaper` fail to compile a ranker that reads one). Run-time: what a ranker of
/// our own is handed by the harness names no category.
#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn rankers_never_see_categories() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let opts = EvalOptions {
        baselines: false,
        users: 2,
        ..small_options(3)
    };
    let corpus = april_may();
    let report = eval::evaluate_with(corpus, &opts, vec![Box::new(Snoop(seen.clone()))]).unwrap();
    assert!(report.ranker("snoop").is_some());
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 20, "the snoop saw {} papers", seen.len());
    let categories: BTreeSet<&str> = corpus
        .papers()
        .iter()
        .flat_map(|p| p.categories.iter().map(String::as_str))
        .collect();
    for s in seen.iter() {
        assert!(!s.contains("categor"), "{s}");
        for c in &categories {
            // Quoted, as a category list would print; abstracts do not quote them.
            assert!(!s.contains(&format!("\"{c}\"")), "{c} visible in {s}");
        }
    }
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn small_eval_is_deterministic_and_prints_every_baseline() {
    let corpus = april_may();
    let a = eval::evaluate(corpus, &small_options(7)).unwrap();
    let b = eval::evaluate(corpus, &small_options(7)).unwrap();
    let c = eval::evaluate(corpus, &small_options(8)).unwrap();
    let figures = |r: &eval::EvalReport| -> Vec<(String, f64, f64)> {
        r.rankers
            .iter()
            .map(|x| (x.name.clone(), x.ndcg, x.precision))
            .collect()
    };
    assert_eq!(figures(&a), figures(&b));
    assert_eq!(a.user_days, b.user_days);
    assert_ne!(
        figures(&a),
        figures(&c),
        "another seed, other users, other numbers"
    );

    assert_eq!(a.users, 6);
    assert_eq!(a.test_days, 2);
    assert_eq!(a.history_papers, 2000);
    assert!(a.user_days > 0 && a.user_days <= 12, "{}", a.user_days);
    let table = eval::format_table(&a);
    for name in [
        "random",
        "mean of likes (cosine)",
        "zotero-arxiv-daily (recency-weighted cosine)",
        "mean of 3 nearest likes",
        "arxiv-sanity-lite (tf-idf SVM)",
        "paperscout (tf-idf ⊕ MiniLM SVM)",
    ] {
        assert!(
            table.contains(&format!("| {name} |")),
            "{name} missing from\n{table}"
        );
    }
    assert!(table.contains("vs arxiv-sanity-lite"), "{table}");
    let random = a.ranker("random").unwrap().ndcg;
    let ours = a.ranker("paperscout (tf-idf ⊕ MiniLM SVM)").unwrap().ndcg;
    assert!(
        ours > random + 0.15,
        "paperscout {ours:.3} vs random {random:.3}"
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn bad_options_are_refused_before_any_work() {
    let corpus = april_may();
    let zero = EvalOptions {
        users: 0,
        ..small_options(1)
    };
    assert!(matches!(
        eval::evaluate(corpus, &zero),
        Err(paperscout::Error::Invalid(_))
    ));
    let likes = EvalOptions {
        likes: (5, 2),
        ..small_options(1)
    };
    assert!(eval::evaluate(corpus, &likes).is_err());
    let early = EvalOptions {
        history_until: date(2020, 1, 1),
        ..small_options(1)
    };
    assert!(eval::evaluate(corpus, &early).is_err());
    let late = EvalOptions {
        history_until: date(2030, 1, 1),
        ..small_options(1)
    };
    assert!(eval::evaluate(corpus, &late).is_err());
    let strict = EvalOptions {
        min_category_history: 1_000_000,
        ..small_options(1)
    };
    assert!(eval::evaluate(corpus, &strict).is_err());
    let missing = EvalOptions {
        data: data_dir().join("no-such-dir"),
        ..small_options(1)
    };
    assert!(matches!(
        eval::run(&missing),
        Err(paperscout::Error::Io { .. })
    ));
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn npy_reader_reads_the_shared_vectors() {
    let m =
        paperscout::library::npy::read(&data_dir().join("minilm-embeddings/arxiv_cs_2026-01.npy"))
            .unwrap();
    assert_eq!((m.rows, m.cols), (3233, 384));
    for r in [0, 1000, 3232] {
        let norm: f32 = m.data[r * 384..(r + 1) * 384]
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "row {r}: norm {norm}");
    }
}

/// The README's figure: Jan-Apr history, the May days, 60 users. Slow in a debug
/// build; run with `cargo test --release -- --ignored full_eval_meets_the_target`.
#[test]
#[ignore]
fn full_eval_meets_the_target() {
    let opts = EvalOptions {
        data: data_dir(),
        ..EvalOptions::default()
    };
    let r = eval::run(&opts).unwrap();
    println!("{}", eval::format_table(&r));
    let ours = r.ranker("paperscout (tf-idf ⊕ MiniLM SVM)").unwrap().ndcg;
    let sanity = r.ranker("arxiv-sanity-lite (tf-idf SVM)").unwrap().ndcg;
    assert!(ours >= 0.35, "{ours}");
    assert!(ours >= 1.10 * sanity, "{ours} vs {sanity}");
    for b in &r.rankers {
        if b.name != "paperscout (tf-idf ⊕ MiniLM SVM)" {
            assert!(ours > b.ndcg, "{} {} ≥ {ours}", b.name, b.ndcg);
        }
    }
}
