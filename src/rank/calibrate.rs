//! Scores a person can read: a profile model's margin w·x mapped to a calibrated
//! relevance in [0, 1], fitted on the profile's own training data. It owns the fit
//! (Platt scaling on cross-validated margins, corrected for unlabeled negatives) and
//! the mapping; which margins to fit on is the caller's ([`super::cross_validated_margins`]).
//!
//! # The method
//! The model separates the likes (and interests) from a random sample of the library.
//! That sample is *unlabeled*, not negative: some of it is relevant to the user. So a
//! plain Platt fit of "like vs sample" answers "how likely is this one of your likes"
//! (tiny everywhere: a handful of likes against 3,000 papers), not "how likely is this
//! relevant". We fit it anyway and then correct it as Elkan and Noto do for learning
//! from positive and unlabeled data ("Learning classifiers from only positive and
//! unlabeled data", KDD 2008):
//!
//! 1. margins of every training row from a model that did not see it (k-fold
//!    cross-validation), so the likes' margins are honest rather than memorised;
//! 2. Platt scaling on them, g(m) = 1 / (1 + exp(A·m + B)), with Platt's smoothed
//!    targets (N₊+1)/(N₊+2) and 1/(N₋+2) and the Newton solver of Lin, Lin and Weng
//!    ("A note on Platt's probabilistic outputs for support vector machines", 2007);
//! 3. π̂, the share of the sample that is relevant: half of the relevant papers score
//!    above the held-out likes' median margin, so π̂ = 2 · the share of the sample
//!    above that median (irrelevant papers scoring that high make it an over-estimate);
//! 4. relevance r(m) = min(1, π̂ · (N₋/N₊) · g(m)/(1 − g(m))): with the likes a sample
//!    of the relevant papers, the odds of "like vs sample" times the sample-to-likes
//!    ratio is the density ratio of relevant papers to all papers at m, and π̂ times
//!    that is P(relevant | m) (Elkan and Noto's odds form, their section 3, with π
//!    estimated as above instead of from the mean of g over the likes, which with a
//!    handful of likes made every score several times too high).
//!
//! r rises with m whenever A < 0 (likes score above the sample). With one like there is
//! nothing to hold out: the fit then uses the training margins, which flatters the
//! like, so r is over-confident; `README.md` ("Scores") says so.

use serde::{Deserialize, Serialize};

/// The map from a model's margin to a calibrated relevance in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Platt's slope A (negative when higher margins are likelier likes).
    pub a: f64,
    /// Platt's offset B.
    pub b: f64,
    /// ln((1 − e)/e): the correction from "one of the likes" to "relevant".
    pub log_prior: f64,
}

impl Calibration {
    /// The relevance of a paper with margin `m`: within [0, 1], non-decreasing in `m`
    /// (a model whose likes scored *below* the sample gets a flat 0.5 instead of an
    /// inverted scale). NaN stays NaN.
    pub fn apply(&self, m: f32) -> f32 {
        if m.is_nan() {
            return f32::NAN;
        }
        if self.a >= 0.0 || !self.a.is_finite() {
            return 0.5;
        }
        // ln(g/(1-g)) = -(A m + B); r = exp(that + log_prior), capped at 1.
        let log_r = -(self.a * f64::from(m) + self.b) + self.log_prior;
        if log_r >= 0.0 {
            1.0
        } else {
            log_r.exp() as f32
        }
    }

    /// Fit on margins of positives (`pos`, held out from the model that scored them
    /// where possible) and of negatives or unlabeled papers (`neg`). Needs at least one
    /// of each; otherwise the flat 0.5 map.
    pub fn fit(pos: &[f32], neg: &[f32]) -> Calibration {
        let flat = Calibration {
            a: 0.0,
            b: 0.0,
            log_prior: 0.0,
        };
        let pos: Vec<f64> = pos
            .iter()
            .filter(|m| m.is_finite())
            .map(|&m| f64::from(m))
            .collect();
        let neg: Vec<f64> = neg
            .iter()
            .filter(|m| m.is_finite())
            .map(|&m| f64::from(m))
            .collect();
        if pos.is_empty() || neg.is_empty() {
            return flat;
        }
        let (a, b) = platt(&pos, &neg);
        if a >= 0.0 || !a.is_finite() || !b.is_finite() {
            return Calibration {
                a,
                b,
                log_prior: 0.0,
            };
        }
        // P(relevant | m) = π · (n₋/n₊) · odds(g(m)), π the share of the sample that
        // is relevant. π is estimated from where the held-out likes fall: half of the
        // relevant papers score above the likes' median margin, so π ≈ 2 · the share
        // of the sample above it (an over-estimate by the irrelevant papers that score
        // that high: the scores lean over-confident, never the other way).
        let mut sorted = pos.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let above = neg.iter().filter(|&&m| m >= median).count() as f64;
        let n_neg = neg.len() as f64;
        let pi = (2.0 * above / n_neg).clamp(0.5 / n_neg, 1.0);
        Calibration {
            a,
            b,
            log_prior: (pi * n_neg / pos.len() as f64).ln(),
        }
    }
}

/// Platt's (A, B) minimising the cross-entropy of P(positive | m) = 1/(1 + exp(A m + B))
/// against the smoothed targets; Newton's method with backtracking (Lin, Lin and Weng
/// 2007, Algorithm 1).
pub fn platt(pos: &[f64], neg: &[f64]) -> (f64, f64) {
    let n_pos = pos.len() as f64;
    let n_neg = neg.len() as f64;
    let hi = (n_pos + 1.0) / (n_pos + 2.0);
    let lo = 1.0 / (n_neg + 2.0);
    let data: Vec<(f64, f64)> = pos
        .iter()
        .map(|&m| (m, hi))
        .chain(neg.iter().map(|&m| (m, lo)))
        .collect();
    let (min_step, sigma, eps) = (1e-10, 1e-12, 1e-5);
    let mut a = 0.0;
    let mut b = ((n_neg + 1.0) / (n_pos + 1.0)).ln();
    let objective = |a: f64, b: f64| -> f64 {
        data.iter()
            .map(|&(m, t)| {
                let f = m * a + b;
                if f >= 0.0 {
                    t * f + (1.0 + (-f).exp()).ln()
                } else {
                    (t - 1.0) * f + (1.0 + f.exp()).ln()
                }
            })
            .sum()
    };
    let mut fval = objective(a, b);
    for _ in 0..100 {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (sigma, sigma, 0.0, 0.0, 0.0);
        for &(m, t) in &data {
            let f = m * a + b;
            let (p, q) = if f >= 0.0 {
                let e = (-f).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = f.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += m * m * d2;
            h22 += d2;
            h21 += m * d2;
            let d1 = t - p;
            g1 += m * d1;
            g2 += d1;
        }
        if g1.abs() < eps && g2.abs() < eps {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let gd = g1 * da + g2 * db;
        let mut step = 1.0;
        let mut moved = false;
        while step >= min_step {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = objective(na, nb);
            if nf < fval + 1e-4 * step * gd {
                a = na;
                b = nb;
                fval = nf;
                moved = true;
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_recovers_a_known_sigmoid_on_separable_ish_data() {
        // Positives around +1, negatives around -1: A < 0, P(+|0) near the middle.
        let pos: Vec<f64> = (0..50).map(|i| 1.0 + (i as f64 - 25.0) / 50.0).collect();
        let neg: Vec<f64> = (0..50).map(|i| -1.0 + (i as f64 - 25.0) / 50.0).collect();
        let (a, b) = platt(&pos, &neg);
        assert!(a < -2.0, "a steep negative slope on separable data: {a}");
        let p = |m: f64| 1.0 / (1.0 + (a * m + b).exp());
        assert!(p(1.0) > 0.9 && p(-1.0) < 0.1, "{} {}", p(1.0), p(-1.0));
        assert!((p(0.0) - 0.5).abs() < 0.1, "{}", p(0.0));
    }

    #[test]
    fn relevance_is_monotone_within_0_1_and_sensible() {
        // 10 likes scoring 0..1, 1,000 sample papers scoring -2..-0.5 with a few high.
        let pos: Vec<f32> = (0..10).map(|i| 0.1 * i as f32).collect();
        let mut neg: Vec<f32> = (0..1000).map(|i| -2.0 + 1.5 * i as f32 / 1000.0).collect();
        neg.extend([0.2, 0.5, 0.8]);
        let c = Calibration::fit(&pos, &neg);
        let mut last = -1.0f32;
        for k in -400..=400 {
            let m = k as f32 / 100.0;
            let r = c.apply(m);
            assert!((0.0..=1.0).contains(&r), "r({m}) = {r}");
            assert!(r >= last, "not monotone at {m}: {r} < {last}");
            last = r;
        }
        // A paper scoring like the likes is relevant; one like the sample is not.
        assert!(c.apply(0.8) > 0.8, "{}", c.apply(0.8));
        assert!(c.apply(-1.5) < 0.05, "{}", c.apply(-1.5));
        assert!(c.apply(f32::NAN).is_nan());
    }

    #[test]
    fn degenerate_inputs_give_a_flat_middle_score() {
        for c in [
            Calibration::fit(&[], &[1.0, 2.0]),
            Calibration::fit(&[1.0], &[]),
            // Likes scoring below the sample: no inverted scale.
            Calibration::fit(&[-2.0, -1.5, -1.8], &[1.0, 1.5, 2.0, 1.2]),
        ] {
            assert_eq!(c.apply(-3.0), c.apply(3.0));
            assert_eq!(c.apply(0.0), 0.5);
        }
    }
}
