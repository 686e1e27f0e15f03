//! The profile model behind `paperscout recommend`: from a user's liked and disliked
//! papers and interest texts, learn one linear profile over [tf-idf ⊕ MiniLM vector]
//! and score a day's candidates with one dot product each, with an explanation
//! (`because`) for the ones shown. Pure functions over plain data: no I/O, no ids
//! lookup, no dates (the caller maps ids to library rows and picks the day's papers).
//!
//! # The model
//! Feature row x = [tfidf(text) ; s · v ; 1], where tfidf is an L2-normalised sparse
//! row ([`tfidf::Tfidf`], fitted on the library, text = title + abstract + authors), v
//! the L2-normalised sentence vector and s = [`RankConfig::dense_scale`]. A linear SVM
//! ([`svm`], squared hinge, balanced classes) separates the positives (likes and
//! interest texts) from the negatives (dislikes, weighted like a like, and a seeded
//! sample of the library's other papers). Score = w·x. A profile with fewer than
//! [`RankConfig::min_positives`] positives (by default: none, see there), or a library
//! with nothing to contrast the likes with, falls back to similarity: w = mean of the
//! positive vectors − ½ mean of the dislike vectors (Rocchio-style; not measured, the
//! simulated users have no dislikes).
//!
//! # How the defaults were chosen (`paperscout eval`, MiniLM vectors, 60 users)
//! Chosen on a validation split (history Jan-Mar 2026, test days April 2026) and then
//! measured once on the test split (history Jan-Apr, test days May); see
//! [`crate::eval`] and the README for the tables.
//!
//! Validation, nDCG@10 (60 users, 1,283 user-days, standard error ≈ 0.009):
//!
//! | s ↓ C → | 0.003 | 0.01 | 0.03 | 0.1 |
//! |---|---:|---:|---:|---:|
//! | 0.5 | 0.443 | 0.448 | 0.448 | 0.438 |
//! | **1** | 0.444 | **0.451** | 0.451 | 0.434 |
//! | 1.5 | 0.446 | 0.447 | 0.436 | 0.408 |
//! | 2 | 0.444 | 0.439 | 0.421 | 0.383 |
//! | 3 | 0.436 | 0.418 | 0.387 | 0.342 |
//!
//! - features: tf-idf alone (arxiv-sanity-lite) 0.391, MiniLM alone 0.439, both 0.451;
//! - negatives sampled: 1,000 → 0.443, **3,000 → 0.451**, 10,000 → 0.450, all
//!   (13,285) → 0.448, at 1×, 5×, 24×, 31× the training time of 1,000;
//! - loss: hinge 0.443, **squared hinge 0.451**;
//! - tf-idf: max_features 20k-100k, min_df 2-5, max_df 0.1-0.5 all give 0.450-0.453:
//!   arxiv-sanity-lite's settings are kept;
//! - several interests: clustering the likes (spherical k-means) and keeping one
//!   model per cluster, score = best cluster, *hurts*: k = 2 → 0.431, k = 3 → 0.422,
//!   vs 0.451 for one profile vector. A linear model over likes from 2-3 categories
//!   already covers them, so there is one profile vector per user;
//! - few likes (every user with exactly n likes), learned vs similarity fallback:
//!   n = 1: 0.278 vs 0.215; 2: 0.322 vs 0.211; 3: 0.355 vs 0.232; 5: 0.387 vs 0.240.
//!
//! The tf-idf and the ranker follow arxiv-sanity-lite (`compute.py`, `serve.py`),
//! which trains the same kind of SVM on tf-idf alone, and zotero-arxiv-daily, which
//! ranks by similarity to liked papers.

pub mod calibrate;
pub mod rng;
pub mod svm;
pub mod tfidf;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use calibrate::Calibration;
pub use rng::SplitMix64;
pub use svm::{LinearModel, Loss, SvmConfig, SvmStats};
pub use tfidf::{SparseVec, Tfidf, TfidfConfig};

use crate::{Error, Result};

/// The text the tf-idf block indexes for a paper: title, abstract and authors,
/// separated by spaces (arxiv-sanity-lite's `title + summary + authors`). The same rule
/// in `eval` and in `recommend`, so what `eval` measured is what users get.
pub fn rank_text(paper: &crate::paper::Paper) -> String {
    let mut text = String::with_capacity(
        paper.title.len() + paper.abstract_text.len() + 16 * paper.authors.len(),
    );
    text.push_str(&paper.title);
    text.push(' ');
    text.push_str(&paper.abstract_text);
    for a in &paper.authors {
        text.push(' ');
        text.push_str(a);
    }
    text
}

/// A paper's title and abstract, separated by a space: the text `similar`'s tf-idf
/// re-scoring may index instead of [`rank_text`] (no author names).
pub fn title_abstract(paper: &crate::paper::Paper) -> String {
    format!("{} {}", paper.title, paper.abstract_text)
}

/// Hyper-parameters of the profile model. [`Default`] is what `recommend` uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankConfig {
    /// Weight s of the dense (MiniLM) block in the feature row, relative to the
    /// L2-normalised tf-idf block (both blocks have norm 1 before scaling). 0 ignores
    /// the dense vectors (arxiv-sanity-lite's model).
    pub dense_scale: f32,
    /// Whether to use the tf-idf block at all.
    pub use_tfidf: bool,
    /// SVM settings (C, loss, class balancing, bias, stopping).
    pub svm: SvmConfig,
    /// Number of library papers sampled as negatives; `None`: every library paper
    /// that is not a positive or a dislike.
    pub negatives: Option<usize>,
    /// A dislike's C relative to a like's (dislikes are explicit, so they weigh like
    /// likes rather than like one of thousands of sampled negatives).
    pub dislike_weight: f32,
    /// Below this many positives (likes + interests) the profile falls back to
    /// similarity. Default 1, i.e. always learn: measured, an SVM trained on a single
    /// like against the library sample ranks better than cosine to that like (nDCG@10
    /// 0.278 vs 0.215), because the negatives subtract what every paper shares. The
    /// fallback remains for a library with no other paper to contrast with.
    pub min_positives: usize,
    /// Seed of the negative sample (the SVM's order has its own in `svm.seed`).
    pub seed: u64,
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig {
            dense_scale: 1.0,
            use_tfidf: true,
            svm: SvmConfig::default(),
            negatives: Some(3_000),
            dislike_weight: 1.0,
            min_positives: 1,
            seed: 0x5eed,
        }
    }
}

impl RankConfig {
    /// arxiv-sanity-lite's model: tf-idf only, LinearSVC C = 0.01 (squared hinge,
    /// balanced), every other library paper a negative.
    pub fn arxiv_sanity() -> Self {
        RankConfig {
            dense_scale: 0.0,
            use_tfidf: true,
            svm: SvmConfig {
                c: 0.01,
                ..SvmConfig::default()
            },
            negatives: None,
            ..RankConfig::default()
        }
    }
}

/// Row-aligned papers as the ranker sees them: a dense vector (L2-normalised, `dim`
/// values) and a tf-idf row each. Used both for the library and for a day's candidates.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    vectors: &'a [f32],
    dim: usize,
    tfidf: &'a [SparseVec],
}

impl<'a> Rows<'a> {
    /// `vectors` is row-major `[tfidf.len(), dim]`.
    pub fn new(vectors: &'a [f32], dim: usize, tfidf: &'a [SparseVec]) -> Result<Self> {
        if dim == 0 || vectors.len() != dim * tfidf.len() {
            return Err(Error::Invalid(format!(
                "rows: {} vector values for {} tf-idf rows of dimension {dim}",
                vectors.len(),
                tfidf.len()
            )));
        }
        Ok(Rows {
            vectors,
            dim,
            tfidf,
        })
    }

    /// Number of papers.
    pub fn len(&self) -> usize {
        self.tfidf.len()
    }

    /// Whether there are no papers.
    pub fn is_empty(&self) -> bool {
        self.tfidf.is_empty()
    }

    /// Dimension of the dense vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The dense vector of paper `i`.
    pub fn vector(&self, i: usize) -> &'a [f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// The tf-idf row of paper `i`.
    pub fn sparse(&self, i: usize) -> &'a SparseVec {
        &self.tfidf[i]
    }

    fn index_bound(&self) -> usize {
        self.tfidf
            .iter()
            .map(SparseVec::index_bound)
            .max()
            .unwrap_or(0)
    }
}

/// The library a profile is trained against: ids (for explanations) and rows.
#[derive(Debug, Clone, Copy)]
pub struct Library<'a> {
    ids: &'a [String],
    rows: Rows<'a>,
    vocab_len: usize,
}

impl<'a> Library<'a> {
    /// `ids[i]` names row `i`; `vocab_len` is the tf-idf vectoriser's [`Tfidf::len`].
    pub fn new(ids: &'a [String], rows: Rows<'a>, vocab_len: usize) -> Result<Self> {
        if ids.len() != rows.len() {
            return Err(Error::Invalid(format!(
                "library: {} ids for {} rows",
                ids.len(),
                rows.len()
            )));
        }
        if rows.index_bound() > vocab_len {
            return Err(Error::Invalid(format!(
                "library: tf-idf rows index beyond the vocabulary of {vocab_len} terms"
            )));
        }
        Ok(Library {
            ids,
            rows,
            vocab_len,
        })
    }

    /// The rows.
    pub fn rows(&self) -> Rows<'a> {
        self.rows
    }
}

/// An interest stated as text, embedded by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interest {
    pub text: String,
    /// Its sentence vector (L2-normalised, the library's dimension).
    pub vector: Vec<f32>,
    /// Its tf-idf row, by the library's vectoriser.
    pub tfidf: SparseVec,
}

impl Interest {
    /// An interest with its tf-idf row made by `tfidf`.
    pub fn new(text: impl Into<String>, vector: Vec<f32>, tfidf: &Tfidf) -> Self {
        let text = text.into();
        let row = tfidf.transform(&text);
        Interest {
            text,
            vector,
            tfidf: row,
        }
    }
}

/// What a profile is made of: library row indices and interests.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileInput<'a> {
    pub likes: &'a [usize],
    pub dislikes: &'a [usize],
    pub interests: &'a [Interest],
}

/// Which kind of model a profile got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// A linear SVM over [tf-idf ⊕ dense].
    Learned,
    /// Too few positives: mean of the positive vectors (cosine).
    Similarity,
}

/// What an explanation points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// A liked paper, by id.
    Liked(String),
    /// An interest text.
    Interest(String),
}

/// Why a candidate is recommended: the liked paper or interest it is closest to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Because {
    pub anchor: Anchor,
    /// Cosine similarity of the dense vectors, in [-1, 1].
    pub similarity: f32,
}

/// One ranked candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Row of the candidate in the [`Rows`] that were ranked.
    pub index: usize,
    /// w·x (for a learned model, > 0 means on the likes' side of the boundary).
    pub score: f32,
    pub because: Option<Because>,
}

/// A trained profile: score = `sparse_w`·tfidf + `dense_w`·v + bias, one dot product
/// per candidate. Serialisable so the library can store it with the profile; it is
/// only meaningful with the vectoriser (vocabulary) it was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileModel {
    kind: ModelKind,
    model: LinearModel,
    dim: usize,
    anchors: Vec<(Anchor, Vec<f32>)>,
    stats: Option<SvmStats>,
}

/// Train a user's profile against `library`.
///
/// Errors: a profile with no likes and no interests, an index outside the library,
/// a vector of the wrong dimension.
pub fn train(
    library: &Library<'_>,
    profile: &ProfileInput<'_>,
    config: &RankConfig,
) -> Result<ProfileModel> {
    train_weighted(library, profile, &Weak::default(), config)
}

/// Likes that a model sees as positives of a lower weight (`cost`; a like's is 1),
/// never as negatives nor as anchors: in the merged feed of collections, each
/// collection's model also sees the other collections' likes at
/// [`FEED_MERGE`]`.weak_cost` (README, "Collections and calibrated scores").
#[derive(Debug, Clone, Copy, Default)]
pub struct Weak<'a> {
    pub likes: &'a [usize],
    pub cost: f32,
}

/// Under which collection, and with which score, a merged feed of several
/// collections' models lists a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeRule {
    /// The collection whose model gives the highest calibrated score (ties: the
    /// higher margin, then the earlier model).
    BestScore,
    /// The collection of the liked paper (or interest) closest to the candidate: the
    /// anchor its reason names (dense cosine; ties: the earlier model). The score is
    /// that collection's model's calibrated score.
    NearestLike,
}

/// How the whole feed of a profile with several collections is trained and merged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedMerge {
    /// Each collection's model also sees the other collections' likes as positives of
    /// this weight ([`Weak`]; 0: its own likes only).
    pub weak_cost: f32,
    pub rule: MergeRule,
    /// The part of the list's places (0-1) shared out evenly among the collections
    /// before the rest go by score ([`min_each`], [`pick_shared`]): a collection
    /// whose calibrated scores run lower than another's still has its best papers
    /// listed. 0: by score alone.
    pub min_share: f32,
}

/// What `recommend` does without `--collection`, chosen with `paperscout eval
/// --collections` (README, "Collections and calibrated scores"): seeing the other
/// collections' likes at a low weight lets each model rank as well as one model over
/// all likes, and listing a paper under its nearest like's collection keeps a model
/// that learned a little of another field from winning that field's papers (as the
/// best score did on the sample library).
pub const FEED_MERGE: FeedMerge = FeedMerge {
    weak_cost: 0.1,
    rule: MergeRule::NearestLike,
    min_share: 0.25,
};

/// Of `room` places of a merged feed's list, how many each of `collections` is sure
/// of: `min_share` of them split evenly, rounded down (none with fewer than two
/// collections). With [`FEED_MERGE`]'s quarter, two collections are sure of one place
/// each in a list of 8 to 11 and of two in `recommend`'s default 20, three of one
/// each from 12 places on.
pub fn min_each(room: usize, collections: usize, min_share: f32) -> usize {
    if collections < 2 || min_share.is_nan() || min_share <= 0.0 {
        return 0;
    }
    let share = f64::from(min_share.min(1.0)) * room as f64 / collections as f64;
    share.floor() as usize
}

/// Which of `order` (the candidates that may be listed, best first) fill `room`
/// places when each group (`group_of`: a merged feed's collection) is sure of
/// `min_each` of them: every group's best `min_each` first (best first across groups
/// while places last), then the best of the rest. Returned in `order`'s order; a
/// group with fewer candidates leaves its places to the others.
pub fn pick_shared(
    order: &[usize],
    group_of: impl Fn(usize) -> usize,
    room: usize,
    min_each: usize,
) -> Vec<usize> {
    let mut taken = vec![false; order.len()];
    let mut left = room;
    if min_each > 0 {
        let mut per_group: HashMap<usize, usize> = HashMap::new();
        for (n, &i) in order.iter().enumerate() {
            if left == 0 {
                break;
            }
            let count = per_group.entry(group_of(i)).or_default();
            if *count < min_each {
                *count += 1;
                taken[n] = true;
                left -= 1;
            }
        }
    }
    for t in taken.iter_mut() {
        if left == 0 {
            break;
        }
        if !*t {
            *t = true;
            left -= 1;
        }
    }
    order
        .iter()
        .zip(taken)
        .filter(|(_, t)| *t)
        .map(|(&i, _)| i)
        .collect()
}

/// One candidate of a merged feed: the model (collection) listing it, and that model's
/// calibrated score and margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Merged {
    pub model: usize,
    pub score: f32,
    pub margin: f32,
}

/// Every row of `candidates` merged over `models` (each with its calibration) under
/// `rule`. Scores are each model's [`Calibration::apply`]; a NaN margin gives a NaN
/// score (the caller leaves it out). No model: an error.
pub fn merge_scores(
    models: &[(&ProfileModel, &Calibration)],
    candidates: &Rows<'_>,
    rule: MergeRule,
) -> Result<Vec<Merged>> {
    if models.is_empty() {
        return Err(Error::Invalid("merge: no model to rank with".into()));
    }
    // (calibrated score, margin) of every candidate under every model.
    let scored: Vec<Vec<(f32, f32)>> = models
        .iter()
        .map(|(m, c)| -> Result<Vec<(f32, f32)>> {
            Ok(m.score(candidates)?
                .into_iter()
                .map(|margin| (c.apply(margin), margin))
                .collect())
        })
        .collect::<Result<_>>()?;
    Ok((0..candidates.len())
        .map(|i| {
            let pick = match rule {
                MergeRule::BestScore => None,
                MergeRule::NearestLike => {
                    let v = candidates.vector(i);
                    let mut best: Option<(usize, f32)> = None;
                    for (k, (m, _)) in models.iter().enumerate() {
                        if let Some(b) = m.explain(v) {
                            if best.is_none_or(|(_, s)| b.similarity > s) {
                                best = Some((k, b.similarity));
                            }
                        }
                    }
                    best.map(|(k, _)| k)
                }
            };
            // Best score: also the fallback when no model has an anchor.
            let model = pick.unwrap_or_else(|| {
                let mut k = 0;
                for (j, s) in scored.iter().enumerate().skip(1) {
                    let (a, b) = (s[i], scored[k][i]);
                    if a.0 > b.0 || (a.0 == b.0 && a.1 > b.1) || (b.0.is_nan() && !a.0.is_nan()) {
                        k = j;
                    }
                }
                k
            });
            let (score, margin) = scored[model][i];
            Merged {
                model,
                score,
                margin,
            }
        })
        .collect())
}

/// [`train`] with `weak` likes as positives of weight `weak.cost`.
pub fn train_weighted(
    library: &Library<'_>,
    profile: &ProfileInput<'_>,
    weak: &Weak<'_>,
    config: &RankConfig,
) -> Result<ProfileModel> {
    let weak_likes: &[usize] = if weak.cost > 0.0 { weak.likes } else { &[] };
    let rows = library.rows;
    let dim = rows.dim();
    let n_lib = rows.len();
    for &i in profile
        .likes
        .iter()
        .chain(profile.dislikes)
        .chain(weak_likes)
    {
        if i >= n_lib {
            return Err(Error::Invalid(format!(
                "profile: row {i} is outside the library of {n_lib} papers"
            )));
        }
    }
    for it in profile.interests {
        if it.vector.len() != dim {
            return Err(Error::Invalid(format!(
                "interest {:?}: vector of dimension {}, library has {dim}",
                it.text,
                it.vector.len()
            )));
        }
        if it.tfidf.index_bound() > library.vocab_len {
            return Err(Error::Invalid(format!(
                "interest {:?}: tf-idf row made by another vectoriser",
                it.text
            )));
        }
    }
    let positives = profile.likes.len() + profile.interests.len();
    if positives == 0 {
        return Err(Error::Invalid(
            "profile has no liked papers and no interests: nothing to rank by".into(),
        ));
    }
    let mut anchors: Vec<(Anchor, Vec<f32>)> = profile
        .likes
        .iter()
        .map(|&i| {
            (
                Anchor::Liked(library.ids[i].clone()),
                rows.vector(i).to_vec(),
            )
        })
        .collect();
    anchors.extend(
        profile
            .interests
            .iter()
            .map(|it| (Anchor::Interest(it.text.clone()), it.vector.clone())),
    );

    if positives < config.min_positives.max(1) {
        return Ok(similarity_model(library, profile, anchors));
    }

    let _span = tracing::debug_span!("train_profile", likes = profile.likes.len()).entered();
    let mut excluded = vec![false; n_lib];
    for &i in profile
        .likes
        .iter()
        .chain(profile.dislikes)
        .chain(weak_likes)
    {
        excluded[i] = true;
    }
    let pool: Vec<usize> = (0..n_lib).filter(|&i| !excluded[i]).collect();
    let sampled = match config.negatives {
        Some(k) => SplitMix64::new(config.seed).sample(&pool, k),
        None => pool,
    };
    let n_neg = profile.dislikes.len() + sampled.len();
    if n_neg == 0 {
        return Ok(similarity_model(library, profile, anchors));
    }
    // With balancing, one like weighs n/(2 n_pos) and one negative n/(2 n_neg): a cost
    // of dislike_weight · n_neg / n_pos makes a dislike weigh dislike_weight likes.
    let dislike_cost = config.dislike_weight * n_neg as f32 / positives as f32;
    if !config.use_tfidf && config.dense_scale == 0.0 {
        return Err(Error::Invalid(
            "rank config uses neither tf-idf nor dense vectors".into(),
        ));
    }
    let sparse = |s| config.use_tfidf.then_some(s);
    let mut svm_rows = Vec::with_capacity(positives + n_neg);
    for &i in profile.likes {
        svm_rows.push(svm::Row {
            sparse: sparse(rows.sparse(i)),
            dense: rows.vector(i),
            positive: true,
            cost: 1.0,
        });
    }
    for &i in weak_likes {
        svm_rows.push(svm::Row {
            sparse: sparse(rows.sparse(i)),
            dense: rows.vector(i),
            positive: true,
            cost: weak.cost,
        });
    }
    for it in profile.interests {
        svm_rows.push(svm::Row {
            sparse: sparse(&it.tfidf),
            dense: &it.vector,
            positive: true,
            cost: 1.0,
        });
    }
    for &i in profile.dislikes {
        svm_rows.push(svm::Row {
            sparse: sparse(rows.sparse(i)),
            dense: rows.vector(i),
            positive: false,
            cost: dislike_cost,
        });
    }
    for &i in &sampled {
        svm_rows.push(svm::Row {
            sparse: sparse(rows.sparse(i)),
            dense: rows.vector(i),
            positive: false,
            cost: 1.0,
        });
    }
    let problem = svm::Problem {
        sparse_dim: if config.use_tfidf {
            library.vocab_len
        } else {
            0
        },
        dense_dim: dim,
        dense_scale: config.dense_scale,
        rows: svm_rows,
    };
    let (model, stats) = svm::train(&problem, &config.svm)?;
    Ok(ProfileModel {
        kind: ModelKind::Learned,
        model,
        dim,
        anchors,
        stats: Some(stats),
    })
}

/// Folds of the cross-validation behind [`calibrate_model`]: 3 extra trainings per
/// profile (about 50 ms with 3,000 negatives), enough held-out margins for a
/// two-parameter fit.
pub const CALIBRATION_FOLDS: usize = 3;

/// The calibration of `model` (trained by [`train`] on `library`, `profile` and
/// `config`): stage 1 of [`calibrate`] (Platt scaling and the prior of unlabeled
/// negatives), fitted on margins from [`CALIBRATION_FOLDS`]-fold cross-validation over
/// the same training set (the same negative sample), then stage 2's fixed global map.
/// With fewer than 2 positives, for the similarity fallback, or when the held-out likes
/// do not score above the sample, on `model`'s own training margins. Cost: the
/// [`CALIBRATION_FOLDS`] trainings of the cross-validation, and one scoring pass over
/// the training rows when refitting.
pub fn calibrate_model(
    library: &Library<'_>,
    profile: &ProfileInput<'_>,
    config: &RankConfig,
    model: &ProfileModel,
) -> Result<Calibration> {
    calibrate_weighted(library, profile, &Weak::default(), config, model)
}

/// [`calibrate_model`] of a model trained by [`train_weighted`] with `weak`: the weak
/// likes are in every fold's training set, and never scored as positives.
pub fn calibrate_weighted(
    library: &Library<'_>,
    profile: &ProfileInput<'_>,
    weak: &Weak<'_>,
    config: &RankConfig,
    model: &ProfileModel,
) -> Result<Calibration> {
    let weak_likes: &[usize] = if weak.cost > 0.0 { weak.likes } else { &[] };
    let rows = library.rows;
    let n_lib = rows.len();
    let mut excluded = vec![false; n_lib];
    for &i in profile
        .likes
        .iter()
        .chain(profile.dislikes)
        .chain(weak_likes)
    {
        if i >= n_lib {
            return Err(Error::Invalid(format!(
                "profile: row {i} is outside the library of {n_lib} papers"
            )));
        }
        excluded[i] = true;
    }
    let pool: Vec<usize> = (0..n_lib).filter(|&i| !excluded[i]).collect();
    let sampled = match config.negatives {
        Some(k) => SplitMix64::new(config.seed).sample(&pool, k),
        None => pool,
    };
    let positives = profile.likes.len() + profile.interests.len();
    let learned = model.kind == ModelKind::Learned;
    let training = || {
        let pos: Vec<f32> = profile
            .likes
            .iter()
            .map(|&i| model.score_one(rows.vector(i), rows.sparse(i)))
            .chain(
                profile
                    .interests
                    .iter()
                    .map(|it| model.score_one(&it.vector, &it.tfidf)),
            )
            .collect();
        let neg: Vec<f32> = profile
            .dislikes
            .iter()
            .chain(&sampled)
            .map(|&i| model.score_one(rows.vector(i), rows.sparse(i)))
            .collect();
        (pos, neg)
    };
    if positives < 2 || !learned {
        let (pos, neg) = training();
        return Ok(Calibration::fit(&pos, &neg));
    }
    let weak = Weak {
        likes: weak_likes,
        cost: weak.cost,
    };
    let (pos, neg) = cross_validated_margins(library, profile, &weak, config, &sampled)?;
    Ok(calibrate::fit_or_refit((&pos, &neg), training))
}

/// Margins of every positive (likes, then interests) and every negative (dislikes, then
/// `sampled`) from a model trained on the other folds (same settings, the negatives
/// fixed to the folds' share of `sampled`). Folds are drawn with `config.seed`.
fn cross_validated_margins(
    library: &Library<'_>,
    profile: &ProfileInput<'_>,
    weak: &Weak<'_>,
    config: &RankConfig,
    sampled: &[usize],
) -> Result<(Vec<f32>, Vec<f32>)> {
    let rows = library.rows;
    let n_pos = profile.likes.len() + profile.interests.len();
    let folds = CALIBRATION_FOLDS.min(n_pos).max(2);
    let negatives: Vec<usize> = profile.dislikes.iter().chain(sampled).copied().collect();
    // fold[j] of positive j (likes then interests) and of negative j.
    let assign = |n: usize, stream: u64| -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        SplitMix64::derive(config.seed, stream).shuffle(&mut order);
        let mut fold = vec![0; n];
        for (k, &j) in order.iter().enumerate() {
            fold[j] = k % folds;
        }
        fold
    };
    let pos_fold = assign(n_pos, 0xCA11);
    let neg_fold = assign(negatives.len(), 0xCA12);
    let n_likes = profile.likes.len();
    let mut pos_margin = vec![f32::NAN; n_pos];
    let mut neg_margin = vec![f32::NAN; negatives.len()];
    for f in 0..folds {
        // The training rows of this fold, compacted: likes, dislikes, sampled.
        let mut keep: Vec<usize> = Vec::new();
        let mut likes = Vec::new();
        for (j, &i) in profile.likes.iter().enumerate() {
            if pos_fold[j] != f {
                likes.push(keep.len());
                keep.push(i);
            }
        }
        let mut weak_rows = Vec::new();
        for &i in weak.likes {
            weak_rows.push(keep.len());
            keep.push(i);
        }
        let mut dislikes = Vec::new();
        for (j, &i) in negatives.iter().enumerate() {
            if neg_fold[j] != f {
                if j < profile.dislikes.len() {
                    dislikes.push(keep.len());
                }
                keep.push(i);
            }
        }
        let interests: Vec<Interest> = profile
            .interests
            .iter()
            .enumerate()
            .filter(|(j, _)| pos_fold[n_likes + j] != f)
            .map(|(_, it)| it.clone())
            .collect();
        if likes.is_empty() && interests.is_empty() {
            continue;
        }
        let ids: Vec<String> = keep.iter().map(|&i| library.ids[i].clone()).collect();
        let mut vectors = Vec::with_capacity(keep.len() * rows.dim());
        for &i in &keep {
            vectors.extend_from_slice(rows.vector(i));
        }
        let sparse: Vec<SparseVec> = keep.iter().map(|&i| rows.sparse(i).clone()).collect();
        let sub = Library::new(
            &ids,
            Rows::new(&vectors, rows.dim(), &sparse)?,
            library.vocab_len,
        )?;
        let input = ProfileInput {
            likes: &likes,
            dislikes: &dislikes,
            interests: &interests,
        };
        let sub_config = RankConfig {
            negatives: None,
            ..config.clone()
        };
        let sub_weak = Weak {
            likes: &weak_rows,
            cost: weak.cost,
        };
        let model = train_weighted(&sub, &input, &sub_weak, &sub_config)?;
        for (j, &i) in profile.likes.iter().enumerate() {
            if pos_fold[j] == f {
                pos_margin[j] = model.score_one(rows.vector(i), rows.sparse(i));
            }
        }
        for (j, it) in profile.interests.iter().enumerate() {
            if pos_fold[n_likes + j] == f {
                pos_margin[n_likes + j] = model.score_one(&it.vector, &it.tfidf);
            }
        }
        for (j, &i) in negatives.iter().enumerate() {
            if neg_fold[j] == f {
                neg_margin[j] = model.score_one(rows.vector(i), rows.sparse(i));
            }
        }
    }
    Ok((pos_margin, neg_margin))
}

impl ProfileModel {
    /// Learned or similarity fallback.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The SVM's optimisation report (`None` for the similarity fallback).
    pub fn stats(&self) -> Option<&SvmStats> {
        self.stats.as_ref()
    }

    /// The weights.
    pub fn weights(&self) -> &LinearModel {
        &self.model
    }

    /// Score of one paper: w·x.
    #[inline]
    pub fn score_one(&self, vector: &[f32], tfidf: &SparseVec) -> f32 {
        let d = if self.model.dense_w.is_empty() {
            0.0
        } else {
            dot(&self.model.dense_w, vector)
        };
        d + tfidf.dot_dense(&self.model.sparse_w) + self.model.bias
    }

    /// Scores of every row of `candidates`, in order.
    pub fn score(&self, candidates: &Rows<'_>) -> Result<Vec<f32>> {
        self.check(candidates)?;
        Ok((0..candidates.len())
            .map(|i| self.score_one(candidates.vector(i), candidates.sparse(i)))
            .collect())
    }

    /// The liked paper or interest closest to `vector` (dense cosine).
    pub fn explain(&self, vector: &[f32]) -> Option<Because> {
        self.anchors
            .iter()
            .map(|(a, v)| (a, dot(v, vector)))
            .max_by(|x, y| x.1.total_cmp(&y.1))
            .map(|(a, sim)| Because {
                anchor: a.clone(),
                similarity: sim,
            })
    }

    /// The `top` best candidates, best first (ties: lower index first), each with its
    /// explanation.
    pub fn rank(&self, candidates: &Rows<'_>, top: usize) -> Result<Vec<Scored>> {
        let scores = self.score(candidates)?;
        Ok(top_k(&scores, top)
            .into_iter()
            .map(|i| Scored {
                index: i,
                score: scores[i],
                because: self.explain(candidates.vector(i)),
            })
            .collect())
    }

    fn check(&self, candidates: &Rows<'_>) -> Result<()> {
        if candidates.dim() != self.dim {
            return Err(Error::Invalid(format!(
                "candidates have vectors of dimension {}, the profile {}",
                candidates.dim(),
                self.dim
            )));
        }
        if !self.model.sparse_w.is_empty() && candidates.index_bound() > self.model.sparse_w.len() {
            return Err(Error::Invalid(
                "candidates' tf-idf rows come from another vectoriser than the profile's".into(),
            ));
        }
        Ok(())
    }
}

/// Scores of every candidate for every profile (`[profiles][candidates]`): a day's
/// ranking for all users. Equal to [`ProfileModel::score`] per profile, but computed
/// for blocks of [`LANES`] profiles at once, in parallel over blocks: each block's
/// weights are transposed into `[feature][LANES]` so that one candidate row is read
/// once per block and every non-zero of it costs one contiguous 8-wide
/// multiply-add (a gather from 8 separate vocabulary-sized arrays would touch 8 cache
/// lines instead of one).
pub fn score_many(profiles: &[ProfileModel], candidates: &Rows<'_>) -> Result<Vec<Vec<f32>>> {
    use rayon::prelude::*;
    for p in profiles {
        p.check(candidates)?;
    }
    let _span = tracing::debug_span!(
        "score_many",
        profiles = profiles.len(),
        candidates = candidates.len()
    )
    .entered();
    let blocks: Vec<Vec<Vec<f32>>> = profiles
        .par_chunks(LANES)
        .map(|block| score_block(block, candidates))
        .collect();
    Ok(blocks.into_iter().flatten().collect())
}

/// Profiles scored together by [`score_many`].
pub const LANES: usize = 8;

fn score_block(block: &[ProfileModel], candidates: &Rows<'_>) -> Vec<Vec<f32>> {
    let dim = candidates.dim();
    let vocab = block
        .iter()
        .map(|p| p.model.sparse_w.len())
        .max()
        .unwrap_or(0);
    // Transposed weights; lanes past the block's end and absent parts stay 0.
    let mut dense_t = vec![[0.0f32; LANES]; dim];
    let mut sparse_t = vec![[0.0f32; LANES]; vocab];
    let mut bias = [0.0f32; LANES];
    for (j, p) in block.iter().enumerate() {
        for (k, &w) in p.model.dense_w.iter().enumerate() {
            dense_t[k][j] = w;
        }
        for (k, &w) in p.model.sparse_w.iter().enumerate() {
            sparse_t[k][j] = w;
        }
        bias[j] = p.model.bias;
    }
    let mut out = vec![vec![0.0f32; candidates.len()]; block.len()];
    for c in 0..candidates.len() {
        let mut acc = bias;
        for (x, w) in candidates.vector(c).iter().zip(&dense_t) {
            for j in 0..LANES {
                acc[j] += x * w[j];
            }
        }
        let row = candidates.sparse(c);
        for (&i, &x) in row.indices.iter().zip(&row.values) {
            if let Some(w) = sparse_t.get(i as usize) {
                for j in 0..LANES {
                    acc[j] += x * w[j];
                }
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            o[c] = a;
        }
    }
    out
}

/// Indices of the `k` largest scores, best first; ties broken by lower index, NaN last.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let cmp = |a: &usize, b: &usize| {
        let (x, y) = (scores[*a], scores[*b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => a.cmp(b),
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) => y.total_cmp(&x).then(a.cmp(b)),
        }
    };
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, cmp);
        idx.truncate(k);
    }
    idx.sort_unstable_by(cmp);
    idx
}

/// Dot product (cosine for unit vectors) of two equal-length f32 slices, in 8 independent lanes so the
/// compiler vectorises it.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ac = a.chunks_exact(8);
    let bc = b.chunks_exact(8);
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn similarity_model(
    library: &Library<'_>,
    profile: &ProfileInput<'_>,
    anchors: Vec<(Anchor, Vec<f32>)>,
) -> ProfileModel {
    let dim = library.rows.dim();
    let mut w = vec![0.0f32; dim];
    let n_pos = anchors.len() as f32;
    for (_, v) in &anchors {
        for (a, b) in w.iter_mut().zip(v) {
            *a += b / n_pos;
        }
    }
    if !profile.dislikes.is_empty() {
        let f = 0.5 / profile.dislikes.len() as f32;
        for &i in profile.dislikes {
            for (a, b) in w.iter_mut().zip(library.rows.vector(i)) {
                *a -= f * b;
            }
        }
    }
    ProfileModel {
        kind: ModelKind::Similarity,
        model: LinearModel {
            sparse_w: Vec::new(),
            dense_w: w,
            bias: 0.0,
        },
        dim,
        anchors,
        stats: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(dense_w: [f32; 2], anchor: &str, at: [f32; 2]) -> ProfileModel {
        ProfileModel {
            kind: ModelKind::Learned,
            model: LinearModel {
                sparse_w: Vec::new(),
                dense_w: dense_w.to_vec(),
                bias: 0.0,
            },
            dim: 2,
            anchors: vec![(Anchor::Liked(anchor.into()), at.to_vec())],
            stats: None,
        }
    }

    #[test]
    fn shared_places_go_to_each_groups_best_then_by_order() {
        // Candidates 0..10 best first; group 1 holds only 7 and 9.
        let order: Vec<usize> = (0..10).collect();
        let group = |i: usize| usize::from(i == 7 || i == 9);
        // By order alone, group 1 gets nothing in 4 places.
        assert_eq!(pick_shared(&order, group, 4, 0), vec![0, 1, 2, 3]);
        // One place sure for each: group 1's best (7) replaces the last of group 0.
        assert_eq!(pick_shared(&order, group, 4, 1), vec![0, 1, 2, 7]);
        // Two each: both of group 1's.
        assert_eq!(pick_shared(&order, group, 4, 2), vec![0, 1, 7, 9]);
        // A group with fewer candidates than its share leaves the places to others.
        assert_eq!(pick_shared(&order, group, 6, 3), vec![0, 1, 2, 3, 7, 9]);
        // Fewer candidates than places: all of them.
        assert_eq!(pick_shared(&order[..3], group, 6, 3), vec![0, 1, 2]);
        // Not the candidates' own order: the order given is kept.
        let order = [9, 4, 7, 0];
        assert_eq!(pick_shared(&order, group, 2, 1), vec![9, 4]);
        assert_eq!(pick_shared(&order, |i| i % 2, 2, 1), vec![9, 4]);
    }

    #[test]
    fn min_each_splits_the_share_evenly_rounded_down() {
        assert_eq!(min_each(20, 2, 0.25), 2);
        assert_eq!(min_each(20, 2, 0.5), 5);
        assert_eq!(min_each(20, 3, 0.5), 3);
        assert_eq!(min_each(10, 2, 0.25), 1);
        assert_eq!(min_each(10, 3, 0.25), 0, "rounded down");
        assert_eq!(min_each(12, 3, 0.25), 1);
        assert_eq!(min_each(10, 2, 1.0), 5);
        assert_eq!(min_each(10, 2, 2.0), 5, "a share above 1 is all the places");
        assert_eq!(min_each(10, 1, 0.5), 0, "one collection: by score");
        assert_eq!(min_each(10, 2, 0.0), 0);
        assert_eq!(min_each(10, 2, f32::NAN), 0);
        assert_eq!(min_each(0, 2, 0.5), 0);
    }

    #[test]
    fn merging_by_nearest_like_lists_under_the_nearest_likes_model_with_its_score() {
        // Model 1 has learned much of model 0's field (a large weight on its axis), as
        // a model that sees another collection's likes may: its margin wins there.
        let m0 = model([1.0, 0.0], "a", [1.0, 0.0]);
        let m1 = model([2.0, 2.0], "b", [0.0, 1.0]);
        let cal = Calibration::fit(&[2.0, 0.4, 2.5, 1.5], &[0.0, 0.1, -0.2, 0.6, 1.2, 0.3]);
        assert!(cal.apply(2.48) > cal.apply(0.96), "an increasing map");
        let vectors = [0.96, 0.28, 0.0, 1.0, f32::NAN, 0.0];
        let sparse = vec![SparseVec::default(); 3];
        let rows = Rows::new(&vectors, 2, &sparse).unwrap();
        let models = [(&m0, &cal), (&m1, &cal)];

        let best = merge_scores(&models, &rows, MergeRule::BestScore).unwrap();
        assert_eq!((best[0].model, best[1].model), (1, 1));
        let near = merge_scores(&models, &rows, MergeRule::NearestLike).unwrap();
        assert_eq!((near[0].model, near[1].model), (0, 1));
        // The score is the listing model's own calibrated score.
        assert!((near[0].margin - 0.96).abs() < 1e-6);
        assert_eq!(near[0].score, cal.apply(near[0].margin));
        assert!(near[0].score < best[0].score);
        assert_eq!(near[1], best[1]);
        // A candidate no model can score: a NaN score, for the caller to leave out.
        assert!(near[2].score.is_nan() && best[2].score.is_nan());
        assert!(merge_scores(&[], &rows, MergeRule::BestScore).is_err());
    }
}
