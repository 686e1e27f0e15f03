//! The rankers compared by `paperscout eval`: baselines (random, mean of likes,
//! zotero-arxiv-daily, mean of 3 nearest likes, arxiv-sanity-lite) and paperscout's
//! profile model from [`crate::rank`]. Rankers get a [`Context`] and the user's liked
//! rows only: neither holds categories (the harness keeps those), so no ranker can
//! read the relevance labels.

use std::ops::Range;

use crate::rank::{
    self, Library, ProfileInput, RankConfig, Rows, SparseVec, SplitMix64, Tfidf, TfidfConfig,
};
use crate::Result;

use super::data::BlindPaper;

/// A fitted tf-idf vectoriser and the rows of every context paper.
#[derive(Debug, Clone)]
pub struct TextFeatures {
    pub tfidf: Tfidf,
    /// One row per context paper, aligned with [`Context::papers`].
    pub rows: Vec<SparseVec>,
}

/// What a ranker may read: the papers without categories, their vectors and tf-idf
/// rows. Rows `0..history` are the history (the library profiles are trained
/// against); the test days follow.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub papers: &'a [BlindPaper],
    pub ids: &'a [String],
    pub vectors: &'a [f32],
    pub dim: usize,
    pub history: usize,
    pub features: &'a [(TfidfConfig, TextFeatures)],
}

impl<'a> Context<'a> {
    /// The vector of context row `i`.
    pub fn vector(&self, i: usize) -> &'a [f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// The features fitted with `config` (the harness fits every config a ranker
    /// declares in [`Ranker::tfidf`]).
    pub fn features(&self, config: &TfidfConfig) -> Option<&'a TextFeatures> {
        self.features
            .iter()
            .find(|(c, _)| c == config)
            .map(|(_, f)| f)
    }

    fn rows(&self, f: &'a TextFeatures, range: Range<usize>) -> Result<Rows<'a>> {
        Rows::new(
            &self.vectors[range.start * self.dim..range.end * self.dim],
            self.dim,
            &f.rows[range],
        )
    }

    fn features_or_err(&self, config: &TfidfConfig) -> Result<&'a TextFeatures> {
        self.features(config)
            .ok_or_else(|| crate::Error::Invalid(format!("eval: no tf-idf fitted for {config:?}")))
    }
}

/// One ranker under test.
pub trait Ranker: Sync + Send {
    /// The name in the report.
    fn name(&self) -> String;

    /// The tf-idf configuration it needs fitted on the history, if any.
    fn tfidf(&self) -> Option<TfidfConfig> {
        None
    }

    /// Scores of every paper of each of `days` (ranges of context rows), higher is
    /// better, for a user who liked the history rows `likes`. `seed` is this user's.
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<f32>>>;

    /// [`Ranker::score_days`] for a user whose likes the user also put in
    /// collections (`groups`, a partition of `likes`, one per interest): a ranker of
    /// one model per collection overrides this; the others ignore the groups.
    fn score_groups(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        groups: &[Vec<usize>],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<f32>>> {
        let _ = groups;
        self.score_days(ctx, likes, days, seed)
    }

    /// Each day's scores ([`Ranker::score_groups`]) and its top `k` as this ranker
    /// lists them: by score, best first (ties: the earlier paper), unless the ranker
    /// lists a merged feed of collections its own way.
    fn list_groups(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        groups: &[Vec<usize>],
        days: &[Range<usize>],
        seed: u64,
        k: usize,
    ) -> Result<Vec<(Vec<f32>, Vec<usize>)>> {
        Ok(self
            .score_groups(ctx, likes, groups, days, seed)?
            .into_iter()
            .map(|s| {
                let top = rank::top_k(&s, k);
                (s, top)
            })
            .collect())
    }

    /// Whether its scores are calibrated relevances (0-1, or above 1 only to order
    /// papers whose relevance is capped at 1): the harness then measures their
    /// reliability.
    fn calibrated(&self) -> bool {
        false
    }
}

/// paperscout's model with calibrated scores, as `recommend` ranks: one model over all
/// likes, or (`per_collection`) one per collection of the user, trained and merged as
/// `merge` says ([`rank::FEED_MERGE`] for what `recommend` does: the same
/// [`rank::train_weighted`], [`rank::calibrate_weighted`] and [`rank::merge_scores`]).
/// Scores are the calibrated relevance; a paper whose relevance reaches the cap of 1
/// scores 2 + atan(margin), so that, as in `recommend`, the margin orders those.
pub struct CalibratedRanker {
    pub name: String,
    pub rank: RankConfig,
    pub tfidf: TfidfConfig,
    pub per_collection: bool,
    /// With `per_collection`: the weight at which each collection's model also sees
    /// the user's other likes ([`rank::Weak`]; 0: its own likes only), and the rule
    /// that merges the collections' lists.
    pub merge: rank::FeedMerge,
}

impl Ranker for CalibratedRanker {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn tfidf(&self) -> Option<TfidfConfig> {
        Some(self.tfidf.clone())
    }
    fn calibrated(&self) -> bool {
        true
    }
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<f32>>> {
        self.score_groups(ctx, likes, &[likes.to_vec()], days, seed)
    }
    fn score_groups(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        groups: &[Vec<usize>],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .merged_days(ctx, likes, groups, days, seed)?
            .0
            .into_iter()
            .map(|(s, _)| s)
            .collect())
    }
    /// The top `k` as `recommend` lists a merged feed: each collection sure of its
    /// share of the places ([`rank::min_each`], [`rank::pick_shared`]), the rest by
    /// score.
    fn list_groups(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        groups: &[Vec<usize>],
        days: &[Range<usize>],
        seed: u64,
        k: usize,
    ) -> Result<Vec<(Vec<f32>, Vec<usize>)>> {
        let (days, collections) = self.merged_days(ctx, likes, groups, days, seed)?;
        Ok(days
            .into_iter()
            .map(|(s, under)| {
                let order = rank::top_k(&s, s.len());
                let order: Vec<usize> = order.into_iter().filter(|&i| !s[i].is_nan()).collect();
                let each = rank::min_each(k, collections, self.merge.min_share);
                let top = rank::pick_shared(&order, |i| under[i], k, each);
                (s, top)
            })
            .collect())
    }
}

impl CalibratedRanker {
    /// Each day's scores and the model (collection) listing each candidate, and the
    /// number of models.
    #[allow(clippy::type_complexity)]
    fn merged_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        groups: &[Vec<usize>],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<(Vec<(Vec<f32>, Vec<usize>)>, usize)> {
        let f = ctx.features_or_err(&self.tfidf)?;
        let all = [likes.to_vec()];
        let groups: Vec<&Vec<usize>> = if self.per_collection {
            groups.iter().filter(|g| !g.is_empty()).collect()
        } else {
            all.iter().collect()
        };
        let models = self.train(ctx, &groups, seed)?;
        let days = days
            .iter()
            .map(|r| {
                let rows = ctx.rows(f, r.clone())?;
                let pairs: Vec<(&rank::ProfileModel, &rank::Calibration)> =
                    models.iter().map(|(m, c)| (m, c)).collect();
                let merged = rank::merge_scores(&pairs, &rows, self.merge.rule)?;
                let scores = merged
                    .iter()
                    .map(|b| {
                        if b.score >= 1.0 {
                            2.0 + b.margin.atan()
                        } else {
                            b.score
                        }
                    })
                    .collect();
                Ok((scores, merged.iter().map(|b| b.model).collect()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((days, models.len()))
    }

    /// One calibrated model per group of likes, as `recommend` trains them.
    fn train(
        &self,
        ctx: &Context<'_>,
        groups: &[&Vec<usize>],
        seed: u64,
    ) -> Result<Vec<(rank::ProfileModel, rank::Calibration)>> {
        let f = ctx.features_or_err(&self.tfidf)?;
        let library = Library::new(
            &ctx.ids[..ctx.history],
            ctx.rows(f, 0..ctx.history)?,
            f.tfidf.len(),
        )?;
        let mut config = self.rank.clone();
        config.seed ^= seed;
        let mut models = Vec::with_capacity(groups.len());
        for g in groups {
            let input = ProfileInput {
                likes: g,
                ..ProfileInput::default()
            };
            let others: Vec<usize> = groups
                .iter()
                .flat_map(|h| h.iter())
                .filter(|i| !g.contains(i))
                .copied()
                .collect();
            let weak = rank::Weak {
                likes: &others,
                cost: if self.per_collection {
                    self.merge.weak_cost
                } else {
                    0.0
                },
            };
            let model = rank::train_weighted(&library, &input, &weak, &config)?;
            let calibration = rank::calibrate_weighted(&library, &input, &weak, &config, &model)?;
            models.push((model, calibration));
        }
        Ok(models)
    }

    /// Stage-1 calibration features of every candidate of `days` under the model that
    /// lists it in the merged feed of `groups` (one model per group, trained and merged
    /// as `merge` says): what stage 2 is fitted on for users with collections.
    pub fn merged_features_days(
        &self,
        ctx: &Context<'_>,
        groups: &[Vec<usize>],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<[f64; rank::calibrate::FEATURES]>>> {
        let f = ctx.features_or_err(&self.tfidf)?;
        let groups: Vec<&Vec<usize>> = groups.iter().filter(|g| !g.is_empty()).collect();
        let models = self.train(ctx, &groups, seed)?;
        let pairs: Vec<(&rank::ProfileModel, &rank::Calibration)> =
            models.iter().map(|(m, c)| (m, c)).collect();
        days.iter()
            .map(|r| {
                let rows = ctx.rows(f, r.clone())?;
                Ok(rank::merge_scores(&pairs, &rows, self.merge.rule)?
                    .into_iter()
                    .map(|b| models[b.model].1.features(b.margin))
                    .collect())
            })
            .collect()
    }

    /// Stage-1 calibration features ([`rank::Calibration::features`]) of every
    /// candidate of `days` under one model over `likes`: what stage 2 is fitted on.
    pub fn features_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<[f64; rank::calibrate::FEATURES]>>> {
        let f = ctx.features_or_err(&self.tfidf)?;
        let all = likes.to_vec();
        let models = self.train(ctx, &[&all], seed)?;
        days.iter()
            .map(|r| {
                let rows = ctx.rows(f, r.clone())?;
                let mut out = vec![[0.0; rank::calibrate::FEATURES]; rows.len()];
                for (model, calibration) in &models {
                    for (o, m) in out.iter_mut().zip(model.score(&rows)?) {
                        *o = calibration.features(m);
                    }
                }
                Ok(out)
            })
            .collect()
    }
}

/// Uniformly random scores: the floor.
pub struct RandomRanker;

impl Ranker for RandomRanker {
    fn name(&self) -> String {
        "random".into()
    }
    fn score_days(
        &self,
        _: &Context<'_>,
        _: &[usize],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<f32>>> {
        Ok(days
            .iter()
            .enumerate()
            .map(|(d, r)| {
                let mut g = SplitMix64::derive(seed ^ 0xA11CE, d as u64);
                r.clone().map(|_| g.unit_f64() as f32).collect()
            })
            .collect())
    }
}

/// Score every day's papers by `w·v` for a fixed dense profile vector `w`.
fn dense_scores(ctx: &Context<'_>, w: &[f32], days: &[Range<usize>]) -> Vec<Vec<f32>> {
    days.iter()
        .map(|r| r.clone().map(|i| rank::dot(w, ctx.vector(i))).collect())
        .collect()
}

/// Cosine to the mean of the liked vectors (the classic "profile vector").
pub struct MeanRanker;

impl Ranker for MeanRanker {
    fn name(&self) -> String {
        "mean of likes (cosine)".into()
    }
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        _: u64,
    ) -> Result<Vec<Vec<f32>>> {
        let mut w = vec![0.0f32; ctx.dim];
        for &i in likes {
            for (a, b) in w.iter_mut().zip(ctx.vector(i)) {
                *a += b;
            }
        }
        // The norm of w does not change the order.
        Ok(dense_scores(ctx, &w, days))
    }
}

/// zotero-arxiv-daily's `rerank_paper` (`recommender.py`): score = Σᵢ wᵢ cos(paper,
/// likeᵢ), wᵢ ∝ 1 / (1 + log10(rankᵢ + 1)), rank 0 the newest like. A like's time is
/// its paper's listing date (ties: later row first).
pub struct ZoteroRanker;

impl Ranker for ZoteroRanker {
    fn name(&self) -> String {
        "zotero-arxiv-daily (recency-weighted cosine)".into()
    }
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        _: u64,
    ) -> Result<Vec<Vec<f32>>> {
        let mut order = likes.to_vec();
        order.sort_by(|&a, &b| {
            ctx.papers[b]
                .listed
                .cmp(&ctx.papers[a].listed)
                .then(b.cmp(&a))
        });
        let weights: Vec<f32> = (0..order.len())
            .map(|r| 1.0 / (1.0 + ((r + 1) as f32).log10()))
            .collect();
        let total: f32 = weights.iter().sum();
        let mut w = vec![0.0f32; ctx.dim];
        for (&i, &wi) in order.iter().zip(&weights) {
            for (a, b) in w.iter_mut().zip(ctx.vector(i)) {
                *a += wi / total * b;
            }
        }
        Ok(dense_scores(ctx, &w, days))
    }
}

/// Mean cosine to the 3 nearest likes (a cheap k-NN profile).
pub struct NearestRanker {
    pub k: usize,
}

impl Ranker for NearestRanker {
    fn name(&self) -> String {
        format!("mean of {} nearest likes", self.k)
    }
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        _: u64,
    ) -> Result<Vec<Vec<f32>>> {
        let k = self.k.clamp(1, likes.len().max(1));
        Ok(days
            .iter()
            .map(|r| {
                r.clone()
                    .map(|i| {
                        let v = ctx.vector(i);
                        let mut sims: Vec<f32> =
                            likes.iter().map(|&l| rank::dot(ctx.vector(l), v)).collect();
                        sims.sort_unstable_by(|a, b| b.total_cmp(a));
                        sims.iter().take(k).sum::<f32>() / k as f32
                    })
                    .collect()
            })
            .collect())
    }
}

/// A [`rank`] profile model: paperscout's default, arxiv-sanity-lite (the same SVM on
/// tf-idf alone, every other history paper a negative), or a variant being tuned.
/// With `clusters > 1` the likes are first split by spherical k-means on their
/// vectors and one model is trained per cluster; a paper's score is the best of them.
pub struct ProfileRanker {
    pub name: String,
    pub rank: RankConfig,
    pub tfidf: TfidfConfig,
    pub clusters: usize,
}

impl ProfileRanker {
    /// arxiv-sanity-lite's `compute.py` + `serve.py` recommender.
    pub fn arxiv_sanity() -> Self {
        ProfileRanker {
            name: "arxiv-sanity-lite (tf-idf SVM)".into(),
            rank: RankConfig::arxiv_sanity(),
            tfidf: TfidfConfig::arxiv_sanity(),
            clusters: 1,
        }
    }
}

impl Ranker for ProfileRanker {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn tfidf(&self) -> Option<TfidfConfig> {
        Some(self.tfidf.clone())
    }
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<f32>>> {
        let f = ctx.features_or_err(&self.tfidf)?;
        let library = Library::new(
            &ctx.ids[..ctx.history],
            ctx.rows(f, 0..ctx.history)?,
            f.tfidf.len(),
        )?;
        let mut config = self.rank.clone();
        config.seed ^= seed;
        let groups = if self.clusters > 1 {
            spherical_kmeans(ctx, likes, self.clusters, seed)
        } else {
            vec![likes.to_vec()]
        };
        let mut models = Vec::with_capacity(groups.len());
        for g in &groups {
            let input = ProfileInput {
                likes: g,
                ..ProfileInput::default()
            };
            models.push(rank::train(&library, &input, &config)?);
        }
        days.iter()
            .map(|r| {
                let rows = ctx.rows(f, r.clone())?;
                let mut best = models[0].score(&rows)?;
                for m in &models[1..] {
                    for (b, s) in best.iter_mut().zip(m.score(&rows)?) {
                        *b = b.max(s);
                    }
                }
                Ok(best)
            })
            .collect()
    }
}

/// Split `likes` into at most `k` non-empty groups by spherical k-means (cosine) on
/// their vectors, k-means++ seeding, 20 Lloyd iterations; each group keeps ≥ 2 likes
/// where possible (k is lowered until it does).
fn spherical_kmeans(ctx: &Context<'_>, likes: &[usize], k: usize, seed: u64) -> Vec<Vec<usize>> {
    let k = k.min(likes.len() / 2).max(1);
    if k == 1 {
        return vec![likes.to_vec()];
    }
    let mut rng = SplitMix64::derive(seed, 0xC1u64);
    let dim = ctx.dim;
    let mut centers: Vec<Vec<f32>> = vec![ctx.vector(likes[rng.below(likes.len())]).to_vec()];
    while centers.len() < k {
        let d: Vec<f64> = likes
            .iter()
            .map(|&i| {
                let best = centers
                    .iter()
                    .map(|c| rank::dot(c, ctx.vector(i)))
                    .fold(f32::MIN, f32::max);
                f64::from((1.0 - best).max(0.0))
            })
            .collect();
        let total: f64 = d.iter().sum();
        let mut pick = rng.unit_f64() * total;
        let mut chosen = likes.len() - 1;
        for (j, dj) in d.iter().enumerate() {
            if pick < *dj {
                chosen = j;
                break;
            }
            pick -= dj;
        }
        centers.push(ctx.vector(likes[chosen]).to_vec());
    }
    let mut assign = vec![0usize; likes.len()];
    for _ in 0..20 {
        for (a, &i) in assign.iter_mut().zip(likes) {
            let v = ctx.vector(i);
            *a = (0..k)
                .max_by(|&x, &y| {
                    rank::dot(&centers[x], v)
                        .total_cmp(&rank::dot(&centers[y], v))
                        .then(y.cmp(&x))
                })
                .unwrap_or(0);
        }
        for (c, center) in centers.iter_mut().enumerate() {
            let mut sum = vec![0.0f32; dim];
            for (&a, &i) in assign.iter().zip(likes) {
                if a == c {
                    for (s, x) in sum.iter_mut().zip(ctx.vector(i)) {
                        *s += x;
                    }
                }
            }
            let norm = rank::dot(&sum, &sum).sqrt();
            if norm > 0.0 {
                *center = sum.iter().map(|x| x / norm).collect();
            }
        }
    }
    let groups: Vec<Vec<usize>> = (0..k)
        .map(|c| {
            likes
                .iter()
                .zip(&assign)
                .filter(|(_, &a)| a == c)
                .map(|(&i, _)| i)
                .collect()
        })
        .filter(|g: &Vec<usize>| !g.is_empty())
        .collect();
    if groups.iter().any(|g| g.len() < 2) {
        return spherical_kmeans(ctx, likes, k - 1, seed);
    }
    groups
}
