//! The profile model (`paperscout::rank`): the SVM and the tf-idf against hand-computed
//! values, and the ranker on a slice of the real corpus (MiniLM vectors from
//! `$PAPERSCOUT_DATA`, see `common::data`).

use std::path::PathBuf;
use std::sync::OnceLock;

use paperscout::eval::{BlindPaper, EvalCorpus};
use paperscout::rank::svm::{self, Problem, Row};
use paperscout::rank::{
    self, Anchor, Interest, Library, Loss, ModelKind, ProfileInput, RankConfig, Rows, SparseVec,
    SvmConfig, Tfidf, TfidfConfig,
};

// ---- SVM ------------------------------------------------------------------------

fn svm_config(c: f64, loss: Loss) -> SvmConfig {
    SvmConfig {
        c,
        loss,
        balanced: false,
        bias: 0.0,
        tol: 1e-9,
        max_epochs: 10_000,
        seed: 1,
    }
}

fn dense_problem<'a>(points: &'a [(Vec<f32>, bool)], scale: f32) -> Problem<'a> {
    Problem {
        sparse_dim: 0,
        dense_dim: points[0].0.len(),
        dense_scale: scale,
        rows: points
            .iter()
            .map(|(x, y)| Row {
                sparse: None,
                dense: x,
                positive: *y,
                cost: 1.0,
            })
            .collect(),
    }
}

/// Two points x = +1 (positive) and x = −1 (negative), no bias. By hand:
/// hinge: the dual is max Σα − ½(α₁+α₂)² with 0 ≤ α ≤ C, so w = α₁+α₂ = min(2C, 1);
/// squared hinge: the primal ½w² + 2C(1−w)² has its minimum at w = 4C / (1 + 4C).
#[test]
fn svm_matches_hand_computed_two_point_case() {
    let pts = vec![(vec![1.0f32], true), (vec![-1.0f32], false)];
    let p = dense_problem(&pts, 1.0);
    for (c, want) in [(0.1, 0.2), (10.0, 1.0)] {
        let (m, stats) = svm::train(&p, &svm_config(c, Loss::Hinge)).unwrap();
        assert!(stats.converged);
        assert!(
            (m.dense_w[0] - want).abs() < 1e-5,
            "hinge C={c}: w={}",
            m.dense_w[0]
        );
    }
    for (c, want) in [(1.0, 0.8), (0.25, 0.5)] {
        let (m, _) = svm::train(&p, &svm_config(c, Loss::SquaredHinge)).unwrap();
        assert!(
            (m.dense_w[0] - want).abs() < 1e-5,
            "squared C={c}: w={}",
            m.dense_w[0]
        );
    }
    // The dense scale is folded into the weights: with x = 2·v and v = ±0.5 the
    // feature rows are the same ±1, so the decision at v = 0.5 is again 0.8.
    let half = vec![(vec![0.5f32], true), (vec![-0.5f32], false)];
    let (m, _) = svm::train(
        &dense_problem(&half, 2.0),
        &svm_config(1.0, Loss::SquaredHinge),
    )
    .unwrap();
    assert!((m.decision(None, &[0.5]) - 0.8).abs() < 1e-5);
    // The same problem through the sparse path.
    let (a, b) = (
        SparseVec {
            indices: vec![3],
            values: vec![1.0],
        },
        SparseVec {
            indices: vec![3],
            values: vec![-1.0],
        },
    );
    let sp = Problem {
        sparse_dim: 4,
        dense_dim: 0,
        dense_scale: 0.0,
        rows: vec![
            Row {
                sparse: Some(&a),
                dense: &[],
                positive: true,
                cost: 1.0,
            },
            Row {
                sparse: Some(&b),
                dense: &[],
                positive: false,
                cost: 1.0,
            },
        ],
    };
    let (m, _) = svm::train(&sp, &svm_config(1.0, Loss::SquaredHinge)).unwrap();
    assert!((m.sparse_w[3] - 0.8).abs() < 1e-5 && m.sparse_w[0] == 0.0);
}

/// Deterministic pseudo-random points without a rand crate.
fn cloud(n: usize, center: [f32; 2], seed: u64) -> Vec<Vec<f32>> {
    let mut g = rank::SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            vec![
                center[0] + g.unit_f64() as f32 - 0.5,
                center[1] + g.unit_f64() as f32 - 0.5,
            ]
        })
        .collect()
}

#[test]
fn svm_separates_separable_data() {
    let mut pts: Vec<(Vec<f32>, bool)> = cloud(40, [2.0, 1.0], 1)
        .into_iter()
        .map(|x| (x, true))
        .collect();
    pts.extend(cloud(60, [-1.0, -2.0], 2).into_iter().map(|x| (x, false)));
    for loss in [Loss::Hinge, Loss::SquaredHinge] {
        let cfg = SvmConfig {
            c: 1.0,
            loss,
            bias: 1.0,
            ..svm_config(1.0, loss)
        };
        let (m, stats) = svm::train(&dense_problem(&pts, 1.0), &cfg).unwrap();
        assert!(stats.converged, "{loss:?}");
        for (x, y) in &pts {
            let d = m.decision(None, x);
            assert_eq!(d > 0.0, *y, "{loss:?}: point {x:?} on the wrong side ({d})");
        }
    }
}

/// One positive at x = 0.2 against 50 negatives at x = −0.2, with a bias and small C:
/// unbalanced, the negatives' weight drags the bias down and the lone positive falls
/// on the negative side; with `balanced` both classes weigh the same and it does not.
#[test]
fn svm_class_balancing_rescues_a_lone_positive() {
    let mut pts = vec![(vec![0.2f32], true)];
    pts.extend((0..50).map(|_| (vec![-0.2f32], false)));
    let p = dense_problem(&pts, 1.0);
    let base = SvmConfig {
        bias: 1.0,
        ..svm_config(0.05, Loss::SquaredHinge)
    };
    let (unbal, _) = svm::train(&p, &base).unwrap();
    let (bal, _) = svm::train(
        &p,
        &SvmConfig {
            balanced: true,
            ..base
        },
    )
    .unwrap();
    assert!(
        unbal.decision(None, &[0.2]) < 0.0,
        "{}",
        unbal.decision(None, &[0.2])
    );
    assert!(
        bal.decision(None, &[0.2]) > 0.0,
        "{}",
        bal.decision(None, &[0.2])
    );
    // Balanced, the two classes sit symmetrically around the boundary.
    let (pos, neg) = (bal.decision(None, &[0.2]), bal.decision(None, &[-0.2]));
    assert!((pos + neg).abs() < 0.05 * (pos - neg), "{pos} {neg}");
}

#[test]
fn svm_dual_objective_never_increases() {
    // Overlapping clouds: not separable, so many epochs.
    let mut pts: Vec<(Vec<f32>, bool)> = cloud(80, [0.3, 0.0], 3)
        .into_iter()
        .map(|x| (x, true))
        .collect();
    pts.extend(cloud(120, [-0.3, 0.1], 4).into_iter().map(|x| (x, false)));
    for loss in [Loss::Hinge, Loss::SquaredHinge] {
        let cfg = SvmConfig {
            balanced: true,
            bias: 1.0,
            ..svm_config(1.0, loss)
        };
        let (_, stats) = svm::train(&dense_problem(&pts, 1.0), &cfg).unwrap();
        let f = &stats.dual_objective;
        assert!(f.len() >= 3, "{loss:?}: only {} epochs", f.len());
        assert!(f[0] < 0.0, "the first epoch must improve on f(0) = 0");
        for w in f.windows(2) {
            assert!(
                w[1] <= w[0] + 1e-9 * w[0].abs(),
                "{loss:?}: {} then {}",
                w[0],
                w[1]
            );
        }
        assert!(f[f.len() - 1] < f[0]);
    }
}

#[test]
fn svm_refuses_one_class_and_bad_c() {
    let pts = vec![(vec![1.0f32], true), (vec![2.0f32], true)];
    assert!(svm::train(&dense_problem(&pts, 1.0), &SvmConfig::default()).is_err());
    let pts = vec![(vec![1.0f32], true), (vec![-1.0f32], false)];
    let cfg = SvmConfig {
        c: 0.0,
        ..SvmConfig::default()
    };
    assert!(svm::train(&dense_problem(&pts, 1.0), &cfg).is_err());
}

// ---- tf-idf ---------------------------------------------------------------------

const DOCS: [&str; 3] = [
    "Graph neural networks for graph data",
    "Neural networks and the data",
    "Quantum graph codes",
];

fn unigrams() -> TfidfConfig {
    TfidfConfig {
        ngram_max: 1,
        min_df: 1,
        max_df: 1.0,
        max_features: 1000,
        sublinear_tf: false,
        stop_words: true,
    }
}

fn value(t: &Tfidf, row: &SparseVec, term: &str) -> f32 {
    row.get(
        t.term_index(term)
            .unwrap_or_else(|| panic!("{term:?} not in vocabulary")),
    )
}

/// By hand: after stop words (for, and, the) the documents are
/// d0 = graph neural networks graph data, d1 = neural networks data,
/// d2 = quantum graph codes; n = 3; df = 2 for graph/neural/networks/data, 1 for
/// quantum/codes; smoothed idf = ln((1+n)/(1+df)) + 1.
#[test]
fn tfidf_matches_hand_computed_values() {
    let t = Tfidf::fit(&DOCS, unigrams()).unwrap();
    assert_eq!(
        t.vocabulary(),
        ["codes", "data", "graph", "networks", "neural", "quantum"]
    );
    let idf2 = (4.0f32 / 3.0).ln() + 1.0;
    let idf1 = 2.0f32.ln() + 1.0;
    assert!((t.idf()[2] - idf2).abs() < 1e-6 && (t.idf()[0] - idf1).abs() < 1e-6);

    // d0: raw tf graph 2, the rest 1, all with the same idf: it cancels in the norm.
    let r0 = t.transform(DOCS[0]);
    let s7 = 7.0f32.sqrt();
    assert!((value(&t, &r0, "graph") - 2.0 / s7).abs() < 1e-6);
    assert!((value(&t, &r0, "neural") - 1.0 / s7).abs() < 1e-6);
    assert_eq!(r0.nnz(), 4);
    // d2: quantum and codes idf1, graph idf2.
    let r2 = t.transform(DOCS[2]);
    let norm = (2.0 * idf1 * idf1 + idf2 * idf2).sqrt();
    assert!((value(&t, &r2, "quantum") - idf1 / norm).abs() < 1e-6);
    assert!((value(&t, &r2, "graph") - idf2 / norm).abs() < 1e-6);
    assert!((r2.norm_sq() - 1.0).abs() < 1e-6);
    assert!(t.term_index("the").is_none() && t.term_index("for").is_none());
    // Unknown words give an empty row, not NaN.
    assert_eq!(t.transform("completely unseen words").nnz(), 0);
}

#[test]
fn tfidf_sublinear_tf() {
    let t = Tfidf::fit(
        &DOCS,
        TfidfConfig {
            sublinear_tf: true,
            ..unigrams()
        },
    )
    .unwrap();
    let r0 = t.transform(DOCS[0]);
    // tf(graph) = 1 + ln 2, the three others 1; equal idf cancels.
    let g = 1.0 + 2.0f32.ln();
    let norm = (g * g + 3.0).sqrt();
    assert!((value(&t, &r0, "graph") - g / norm).abs() < 1e-6);
    assert!((value(&t, &r0, "data") - 1.0 / norm).abs() < 1e-6);
}

#[test]
fn tfidf_bigrams_are_formed_after_stop_words() {
    let t = Tfidf::fit(
        &DOCS,
        TfidfConfig {
            ngram_max: 2,
            ..unigrams()
        },
    )
    .unwrap();
    // d1 "neural networks and the data": the pair spans the removed stop words.
    assert!(t.term_index("networks data").is_some());
    assert!(t.term_index("and the").is_none() && t.term_index("the data").is_none());
    // "neural networks" is in d0 and d1: df 2.
    let i = t.term_index("neural networks").unwrap() as usize;
    assert!((t.idf()[i] - ((4.0f32 / 3.0).ln() + 1.0)).abs() < 1e-6);
    // d0 has 5 words → 4 pairs, all distinct, plus 4 distinct words.
    assert_eq!(t.transform(DOCS[0]).nnz(), 8);
    // Without stop-word removal "the" is a term.
    let t = Tfidf::fit(
        &DOCS,
        TfidfConfig {
            stop_words: false,
            ..unigrams()
        },
    )
    .unwrap();
    assert!(t.term_index("the").is_some());
}

#[test]
fn tfidf_min_df_max_df_and_max_features() {
    // max_df 0.5 of 3 documents: df ≤ 1.5, so only the df-1 words stay.
    let t = Tfidf::fit(
        &DOCS,
        TfidfConfig {
            max_df: 0.5,
            ..unigrams()
        },
    )
    .unwrap();
    assert_eq!(t.vocabulary(), ["codes", "quantum"]);
    let t = Tfidf::fit(
        &DOCS,
        TfidfConfig {
            min_df: 2,
            ..unigrams()
        },
    )
    .unwrap();
    assert_eq!(t.vocabulary(), ["data", "graph", "networks", "neural"]);
    // The most frequent term over the corpus: graph (3 occurrences).
    let t = Tfidf::fit(
        &DOCS,
        TfidfConfig {
            max_features: 1,
            ..unigrams()
        },
    )
    .unwrap();
    assert_eq!(t.vocabulary(), ["graph"]);
    // Nothing left is an error, not an empty vectoriser.
    assert!(Tfidf::fit(
        &DOCS,
        TfidfConfig {
            min_df: 4,
            ..unigrams()
        }
    )
    .is_err());
}

#[test]
fn tfidf_round_trips_through_json_and_refuses_a_corrupt_one() {
    let t = Tfidf::fit(
        &DOCS,
        TfidfConfig {
            ngram_max: 2,
            ..unigrams()
        },
    )
    .unwrap();
    let json = serde_json::to_string(&t).unwrap();
    let back: Tfidf = serde_json::from_str(&json).unwrap();
    assert_eq!(back.vocabulary(), t.vocabulary());
    assert_eq!(back.transform(DOCS[1]), t.transform(DOCS[1]));
    let corrupt = json.replacen("\"codes\"", "\"zzz\"", 1);
    assert!(serde_json::from_str::<Tfidf>(&corrupt).is_err());
}

// ---- the profile model on synthetic data ------------------------------------------

#[test]
fn profile_errors_are_reported_not_panics() {
    let ids: Vec<String> = vec!["a".into(), "b".into()];
    let rows_sparse = vec![SparseVec::default(), SparseVec::default()];
    let vectors = vec![1.0f32, 0.0, 0.0, 1.0];
    assert!(Rows::new(&vectors, 3, &rows_sparse).is_err());
    let rows = Rows::new(&vectors, 2, &rows_sparse).unwrap();
    assert!(Library::new(&ids[..1], rows, 0).is_err());
    let lib = Library::new(&ids, rows, 0).unwrap();
    let cfg = RankConfig::default();
    let none = ProfileInput::default();
    assert!(rank::train(&lib, &none, &cfg).is_err());
    let outside = ProfileInput {
        likes: &[5],
        ..ProfileInput::default()
    };
    assert!(rank::train(&lib, &outside, &cfg).is_err());
    let bad = [Interest {
        text: "x".into(),
        vector: vec![1.0; 3],
        tfidf: SparseVec::default(),
    }];
    let wrong_dim = ProfileInput {
        interests: &bad,
        ..ProfileInput::default()
    };
    assert!(rank::train(&lib, &wrong_dim, &cfg).is_err());
}

#[test]
fn top_k_orders_by_score_then_index_and_puts_nan_last() {
    let s = [0.5, f32::NAN, 0.9, 0.5, -1.0];
    assert_eq!(rank::top_k(&s, 3), [2, 0, 3]);
    assert_eq!(rank::top_k(&s, 10), [2, 0, 3, 4, 1]);
    assert!(rank::top_k(&s, 0).is_empty());
}

// ---- the ranker on real data --------------------------------------------------------

/// The corpus (`$PAPERSCOUT_DATA/arxiv-daily-cs-2026h1`).
pub fn data_dir() -> PathBuf {
    crate::common::corpus()
}

/// April and May 2026 with their MiniLM vectors (loaded once per test binary).
pub fn april_may() -> &'static EvalCorpus {
    static CORPUS: OnceLock<EvalCorpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let d = data_dir();
        let files = [
            d.join("arxiv_cs_2026-04.jsonl"),
            d.join("arxiv_cs_2026-05.jsonl"),
        ];
        EvalCorpus::load_files(&files, &d.join("minilm-embeddings"))
            .unwrap_or_else(|e| panic!("the shared corpus must be readable: {e:#}"))
    })
}

/// The 2,000 papers listed last before 2026-05-01 (the library) and the papers of
/// 2026-05-01 (one day's candidates), with tf-idf fitted on the library.
struct Slice {
    ids: Vec<String>,
    cats: Vec<Vec<String>>,
    vectors: Vec<f32>,
    tfidf: Tfidf,
    rows: Vec<SparseVec>,
    history: usize,
    dim: usize,
}

impl Slice {
    fn library(&self) -> Library<'_> {
        let h = self.history;
        let rows = Rows::new(&self.vectors[..h * self.dim], self.dim, &self.rows[..h]).unwrap();
        Library::new(&self.ids[..h], rows, self.tfidf.len()).unwrap()
    }
    fn day(&self) -> Rows<'_> {
        let h = self.history;
        Rows::new(&self.vectors[h * self.dim..], self.dim, &self.rows[h..]).unwrap()
    }
    fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }
    /// The first `n` library rows carrying category `cat`.
    fn likes_in(&self, cat: &str, n: usize) -> Vec<usize> {
        (0..self.history)
            .filter(|&i| self.cats[i].iter().any(|c| c == cat))
            .take(n)
            .collect()
    }
    /// Whether candidate `j` (row of `day()`) carries `cat`.
    fn day_has(&self, j: usize, cat: &str) -> bool {
        self.cats[self.history + j].iter().any(|c| c == cat)
    }
}

fn slice() -> &'static Slice {
    static SLICE: OnceLock<Slice> = OnceLock::new();
    SLICE.get_or_init(|| {
        let c = april_may();
        let first_day = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let split = c.papers().partition_point(|p| p.listed < Some(first_day));
        let end = c.papers().partition_point(|p| p.listed <= Some(first_day));
        let start = split - 2000;
        let dim = c.dim();
        let blind: Vec<BlindPaper> = (start..end)
            .map(|i| BlindPaper::of(&c.papers()[i], c.listed(i)))
            .collect();
        let texts: Vec<&str> = blind.iter().map(|b| b.text.as_str()).collect();
        let tfidf = Tfidf::fit(&texts[..2000], TfidfConfig::default()).unwrap();
        let rows = tfidf.transform_many(&texts);
        Slice {
            ids: blind.iter().map(|b| b.id.clone()).collect(),
            cats: (start..end)
                .map(|i| c.papers()[i].categories.clone())
                .collect(),
            vectors: c.vectors()[start * dim..end * dim].to_vec(),
            tfidf,
            rows,
            history: 2000,
            dim,
        }
    })
}

/// nDCG@10 with binary relevance, written out here rather than borrowed from `eval`.
fn ndcg10(order: &[usize], relevant: &dyn Fn(usize) -> bool, n_relevant: usize) -> f64 {
    let dcg: f64 = order
        .iter()
        .take(10)
        .enumerate()
        .filter(|(_, &j)| relevant(j))
        .map(|(r, _)| 1.0 / ((r + 2) as f64).log2())
        .sum();
    let idcg: f64 = (0..n_relevant.min(10))
        .map(|r| 1.0 / ((r + 2) as f64).log2())
        .sum();
    dcg / idcg
}

/// The five fine categories (not cs.CV/CL/AI) with the most candidates that day.
fn busy_categories(s: &Slice) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for j in 0..s.day().len() {
        for c in &s.cats[s.history + j] {
            *counts.entry(c.clone()).or_default() += 1;
        }
    }
    let mut v: Vec<(String, usize)> = counts
        .into_iter()
        .filter(|(c, _)| !["cs.CV", "cs.CL", "cs.AI"].contains(&c.as_str()))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(5).map(|(c, _)| c).collect()
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn learned_ranker_beats_random_by_a_wide_margin_on_real_data() {
    let s = slice();
    let lib = s.library();
    let day = s.day();
    let mut learned = 0.0;
    let mut random = 0.0;
    let cats = busy_categories(s);
    assert_eq!(cats.len(), 5);
    for cat in &cats {
        let likes = s.likes_in(cat, 12);
        assert!(likes.len() >= 5, "{cat}: {} likes", likes.len());
        let model = rank::train(
            &lib,
            &ProfileInput {
                likes: &likes,
                ..ProfileInput::default()
            },
            &RankConfig::default(),
        )
        .unwrap();
        assert_eq!(model.kind(), ModelKind::Learned);
        let scores = model.score(&day).unwrap();
        let order = rank::top_k(&scores, 10);
        let rel = |j: usize| s.day_has(j, cat);
        let n_rel = (0..day.len()).filter(|&j| rel(j)).count();
        learned += ndcg10(&order, &rel, n_rel) / 5.0;
        // Random: the mean over 50 shuffles.
        let mut g = rank::SplitMix64::new(9);
        for _ in 0..50 {
            let mut perm: Vec<usize> = (0..day.len()).collect();
            g.shuffle(&mut perm);
            random += ndcg10(&perm, &rel, n_rel) / 250.0;
        }
    }
    assert!(
        learned > random + 0.25 && learned > 3.0 * random,
        "learned {learned:.3} vs random {random:.3} over {cats:?}"
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn explanations_point_at_the_closest_liked_paper() {
    let s = slice();
    let cat = &busy_categories(s)[0];
    let likes = s.likes_in(cat, 8);
    let model = rank::train(
        &s.library(),
        &ProfileInput {
            likes: &likes,
            ..ProfileInput::default()
        },
        &RankConfig::default(),
    )
    .unwrap();
    let day = s.day();
    let top = model.rank(&day, 10).unwrap();
    assert_eq!(top.len(), 10);
    for sc in &top {
        let because = sc.because.as_ref().unwrap();
        let v = day.vector(sc.index);
        let sims: Vec<(usize, f32)> = likes
            .iter()
            .map(|&l| (l, s.vector(l).iter().zip(v).map(|(a, b)| a * b).sum()))
            .collect();
        let (best, best_sim) =
            sims.iter()
                .copied()
                .fold((usize::MAX, f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
        assert_eq!(because.anchor, Anchor::Liked(s.ids[best].clone()));
        assert!((because.similarity - best_sim).abs() < 1e-5);
    }
    // Best first.
    assert!(top.windows(2).all(|w| w[0].score >= w[1].score));
    // An interest closer than every like is named instead.
    let v = day.vector(top[0].index).to_vec();
    let interests = [Interest::new("exactly this paper", v.clone(), &s.tfidf)];
    let with = rank::train(
        &s.library(),
        &ProfileInput {
            likes: &likes,
            interests: &interests,
            ..ProfileInput::default()
        },
        &RankConfig::default(),
    )
    .unwrap();
    let b = with.explain(&v).unwrap();
    assert_eq!(b.anchor, Anchor::Interest("exactly this paper".into()));
    assert!((b.similarity - 1.0).abs() < 1e-4);
}

/// With `min_positives: 2` a one-like profile is plain cosine similarity to that like.
/// The default learns even from one like (measured better, see `rank`'s docs); a
/// library with nothing but the like itself falls back whatever the setting.
#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn a_profile_with_too_few_likes_falls_back_to_similarity() {
    let s = slice();
    let cat = &busy_categories(s)[0];
    let like = s.likes_in(cat, 1);
    let two = RankConfig {
        min_positives: 2,
        ..RankConfig::default()
    };
    let one_like = ProfileInput {
        likes: &like,
        ..ProfileInput::default()
    };
    let model = rank::train(&s.library(), &one_like, &two).unwrap();
    assert_eq!(model.kind(), ModelKind::Similarity);
    let day = s.day();
    let scores = model.score(&day).unwrap();
    let lv = s.vector(like[0]);
    for (j, sc) in scores.iter().enumerate() {
        let cos: f32 = lv.iter().zip(day.vector(j)).map(|(a, b)| a * b).sum();
        assert!(
            (sc - cos).abs() < 1e-5,
            "candidate {j}: {sc} vs cosine {cos}"
        );
    }
    let likes2 = s.likes_in(cat, 2);
    let learned = rank::train(
        &s.library(),
        &ProfileInput {
            likes: &likes2,
            ..ProfileInput::default()
        },
        &two,
    )
    .unwrap();
    assert_eq!(learned.kind(), ModelKind::Learned);
    let default = rank::train(&s.library(), &one_like, &RankConfig::default()).unwrap();
    assert_eq!(default.kind(), ModelKind::Learned);

    // A library holding only the liked paper: nothing to contrast with.
    let h = like[0];
    let rows = Rows::new(s.vector(h), s.dim, &s.rows[h..h + 1]).unwrap();
    let tiny = Library::new(&s.ids[h..h + 1], rows, s.tfidf.len()).unwrap();
    let alone = rank::train(
        &tiny,
        &ProfileInput {
            likes: &[0],
            ..ProfileInput::default()
        },
        &RankConfig::default(),
    )
    .unwrap();
    assert_eq!(alone.kind(), ModelKind::Similarity);
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn dislikes_push_similar_papers_down() {
    let s = slice();
    let lib = s.library();
    let cat = &busy_categories(s)[0];
    let likes = s.likes_in(cat, 10);
    let cfg = RankConfig::default();
    let a = rank::train(
        &lib,
        &ProfileInput {
            likes: &likes,
            ..ProfileInput::default()
        },
        &cfg,
    )
    .unwrap();
    // The dislike: the library paper the likes-only model likes best, liked or not.
    let lrows = lib.rows();
    let d = (0..s.history)
        .filter(|i| !likes.contains(i))
        .max_by(|&x, &y| {
            let sx = a.score_one(lrows.vector(x), lrows.sparse(x));
            let sy = a.score_one(lrows.vector(y), lrows.sparse(y));
            sx.total_cmp(&sy)
        })
        .unwrap();
    let b = rank::train(
        &lib,
        &ProfileInput {
            likes: &likes,
            dislikes: &[d],
            ..ProfileInput::default()
        },
        &cfg,
    )
    .unwrap();
    assert!(
        b.score_one(lrows.vector(d), lrows.sparse(d))
            < a.score_one(lrows.vector(d), lrows.sparse(d))
    );
    // The 15 candidates nearest to the disliked paper fall in the day's ranking.
    let day = s.day();
    let near_d: Vec<f32> = (0..day.len())
        .map(|j| {
            s.vector(d)
                .iter()
                .zip(day.vector(j))
                .map(|(x, y)| x * y)
                .sum()
        })
        .collect();
    let near = rank::top_k(&near_d, 15);
    let position = |m: &rank::ProfileModel| -> f64 {
        let order = rank::top_k(&m.score(&day).unwrap(), day.len());
        let mut pos = vec![0usize; day.len()];
        for (p, &j) in order.iter().enumerate() {
            pos[j] = p;
        }
        near.iter().map(|&j| pos[j] as f64).sum::<f64>() / near.len() as f64
    };
    let (before, after) = (position(&a), position(&b));
    assert!(
        after > before + 5.0,
        "mean position of the dislike's neighbours: {before:.1} → {after:.1}"
    );
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn profile_model_round_trips_through_json() {
    let s = slice();
    let likes = s.likes_in(&busy_categories(s)[1], 6);
    let m = rank::train(
        &s.library(),
        &ProfileInput {
            likes: &likes,
            ..ProfileInput::default()
        },
        &RankConfig::default(),
    )
    .unwrap();
    let back: rank::ProfileModel =
        serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(back.score(&s.day()).unwrap(), m.score(&s.day()).unwrap());
}

#[test]
#[cfg_attr(
    not(paperscout_corpus),
    ignore = "needs the corpus: set PAPERSCOUT_DATA (README, Tests)"
)]
fn score_many_equals_one_by_one() {
    let s = slice();
    let cats = busy_categories(s);
    let models: Vec<rank::ProfileModel> = cats
        .iter()
        .map(|c| {
            let likes = s.likes_in(c, 6);
            rank::train(
                &s.library(),
                &ProfileInput {
                    likes: &likes,
                    ..ProfileInput::default()
                },
                &RankConfig::default(),
            )
            .unwrap()
        })
        .collect();
    let all = rank::score_many(&models, &s.day()).unwrap();
    for (m, row) in models.iter().zip(&all) {
        for (a, b) in m.score(&s.day()).unwrap().iter().zip(row) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
