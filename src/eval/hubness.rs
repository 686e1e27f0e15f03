//! Hubness: do some papers rank high for everyone? A user reported one paper in the top
//! 5 of two unrelated profiles. With many users per day, a paper's k-occurrence
//! (in how many users' top-k it lands) shows it: without hubs the counts spread
//! evenly over the day's papers; with hubs a few papers collect most of them
//! (a long right tail: positive skewness), and those appearances are mostly for users
//! the paper is not relevant to.
//!
//! [`HubStats`] measures that per ranker from the top-k lists `eval` already computes,
//! plus what predicts a hub (abstract length, closeness to the corpus' mean direction).
//! [`HubPenalty`] is the correction tried: each day's scores standardised, minus
//! `lambda` times the standardised cosine of each paper to the history's mean vector
//! (the direction every embedding leans to, the usual source of hubs in sentence
//! vectors). `paperscout eval --hubness` runs both; the README reports what it found.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::rankers::{Context, ProfileRanker, Ranker};
use crate::rank;
use crate::Result;

/// Hubness of one ranker's top-k lists over all test days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HubStats {
    /// Mean over days of the skewness of the k-occurrence counts of the day's papers.
    pub skewness: f64,
    /// Mean over days of the largest k-occurrence, as a share of the users.
    pub max_share: f64,
    /// Share of the papers of a day that appear in nobody's top-k (mean over days).
    pub orphans: f64,
    /// Of all appearances of each day's most frequent paper, the share for users it
    /// is relevant to (mean over days).
    pub top_hub_relevant: f64,
    /// Share of all top-k appearances that are relevant (the same precision eval
    /// reports, over the same lists), for comparison with `top_hub_relevant`.
    pub all_relevant: f64,
    /// Spearman correlation, over every test paper, of its k-occurrence with its
    /// abstract length in characters.
    pub corr_length: f64,
    /// The same with its cosine to the history's mean vector.
    pub corr_centroid: f64,
}

/// The top-k lists of every user on every day, for one ranker: `lists[user][day]` holds
/// the day-relative indexes of the user's top k, `relevant[user][day][i]` the labels.
pub fn stats(
    ctx: &Context<'_>,
    days: &[Range<usize>],
    lists: &[Vec<Vec<usize>>],
    relevant: &[Vec<Vec<bool>>],
) -> HubStats {
    let users = lists.len().max(1) as f64;
    let centroid = centroid(ctx);
    let (mut skew, mut max_share, mut orphans, mut hub_rel) = (0.0, 0.0, 0.0, 0.0);
    let (mut rel_hits, mut hits) = (0usize, 0usize);
    let (mut occ_all, mut len_all, mut cen_all) = (Vec::new(), Vec::new(), Vec::new());
    let mut counted_days = 0usize;
    for (d, range) in days.iter().enumerate() {
        let n = range.len();
        if n < 2 {
            continue;
        }
        let mut occ = vec![0usize; n];
        let mut occ_rel = vec![0usize; n];
        for (u, user_lists) in lists.iter().enumerate() {
            for &i in &user_lists[d] {
                occ[i] += 1;
                hits += 1;
                if relevant[u][d][i] {
                    occ_rel[i] += 1;
                    rel_hits += 1;
                }
            }
        }
        counted_days += 1;
        let x: Vec<f64> = occ.iter().map(|&c| c as f64).collect();
        skew += skewness(&x);
        let (top, &top_count) = occ
            .iter()
            .enumerate()
            .max_by_key(|&(i, c)| (*c, std::cmp::Reverse(i)))
            .unwrap_or((0, &0));
        max_share += top_count as f64 / users;
        orphans += occ.iter().filter(|&&c| c == 0).count() as f64 / n as f64;
        if top_count > 0 {
            hub_rel += occ_rel[top] as f64 / top_count as f64;
        }
        for (j, i) in range.clone().enumerate() {
            occ_all.push(occ[j] as f64);
            len_all.push(abstract_len(&ctx.papers[i].text) as f64);
            cen_all.push(rank::dot(ctx.vector(i), &centroid) as f64);
        }
    }
    let days = counted_days.max(1) as f64;
    HubStats {
        skewness: skew / days,
        max_share: max_share / days,
        orphans: orphans / days,
        top_hub_relevant: hub_rel / days,
        all_relevant: rel_hits as f64 / hits.max(1) as f64,
        corr_length: spearman(&occ_all, &len_all),
        corr_centroid: spearman(&occ_all, &cen_all),
    }
}

/// paperscout's profile model with each day's scores standardised and the
/// standardised closeness to the corpus' mean direction taken off, times `lambda`.
pub struct HubPenalty {
    pub inner: ProfileRanker,
    pub lambda: f32,
}

impl Ranker for HubPenalty {
    fn name(&self) -> String {
        if self.lambda < 0.0 {
            format!("{} + {} × centrality", self.inner.name, -self.lambda)
        } else {
            format!("{} − {} × centrality", self.inner.name, self.lambda)
        }
    }
    fn tfidf(&self) -> Option<rank::TfidfConfig> {
        self.inner.tfidf()
    }
    fn score_days(
        &self,
        ctx: &Context<'_>,
        likes: &[usize],
        days: &[Range<usize>],
        seed: u64,
    ) -> Result<Vec<Vec<f32>>> {
        let centroid = centroid(ctx);
        let mut scores = self.inner.score_days(ctx, likes, days, seed)?;
        for (s, r) in scores.iter_mut().zip(days) {
            let hub: Vec<f32> = r
                .clone()
                .map(|i| rank::dot(ctx.vector(i), &centroid))
                .collect();
            let hub = standardised(&hub);
            let std = standardised(s);
            for ((x, z), h) in s.iter_mut().zip(std).zip(hub) {
                *x = z - self.lambda * h;
            }
        }
        Ok(scores)
    }
}

/// The unit mean direction of the history's vectors.
fn centroid(ctx: &Context<'_>) -> Vec<f32> {
    let mut c = vec![0.0f32; ctx.dim];
    for i in 0..ctx.history {
        for (a, b) in c.iter_mut().zip(ctx.vector(i)) {
            *a += b;
        }
    }
    let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        c.iter_mut().for_each(|x| *x /= norm);
    }
    c
}

/// The abstract's length: [`super::data::BlindPaper::text`] is title, abstract and
/// authors; the whole text's length stands in for it (titles and author lists vary
/// far less than abstracts).
fn abstract_len(text: &str) -> usize {
    text.chars().count()
}

fn standardised(x: &[f32]) -> Vec<f32> {
    let n = x.len().max(1) as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let sd = var.sqrt().max(1e-12);
    x.iter().map(|v| (v - mean) / sd).collect()
}

/// Sample skewness (the third standardised moment); 0 for a constant sample.
pub fn skewness(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = x.iter().sum::<f64>() / n;
    let m2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m3 = x.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
    if m2 <= 0.0 {
        0.0
    } else {
        m3 / m2.powf(1.5)
    }
}

/// Spearman's rank correlation (average ranks for ties); 0 when either is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    if va <= 0.0 || vb <= 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            r[o] = avg;
        }
        i = j + 1;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skewness_sees_a_long_right_tail() {
        let even = [3.0, 3.0, 3.0, 3.0];
        assert_eq!(skewness(&even), 0.0);
        let hub = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0];
        assert!(skewness(&hub) > 2.0, "{}", skewness(&hub));
        let sym = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!(skewness(&sym).abs() < 1e-12);
    }

    #[test]
    fn spearman_is_one_for_monotone_and_minus_one_for_reversed() {
        let a = [1.0, 2.0, 3.0, 10.0];
        assert!((spearman(&a, &[0.1, 0.2, 0.9, 5.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&a, &[1.0, 1.0, 1.0, 1.0]), 0.0);
    }
}
