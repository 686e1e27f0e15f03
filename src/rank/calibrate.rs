//! Scores a person can read: a profile model's margin w·x mapped to a calibrated
//! relevance in [0, 1]. Two stages: a per-profile fit on the profile's own training
//! data (which margins to fit on is the caller's, [`super::cross_validated_margins`]),
//! and a fixed global map from that fit's features to a probability, fitted once on
//! `paperscout eval`'s simulated users ([`STAGE2`]).
//!
//! # Stage 1: per profile (no extra cost beyond the cross-validation)
//! The model separates the likes (and interests) from a random sample of the library.
//! That sample is *unlabeled*, not negative: some of it is relevant to the user.
//!
//! 1. margins of every training row from a model that did not see it (k-fold
//!    cross-validation), so the likes' margins are honest rather than memorised;
//! 2. Platt scaling on them, g(m) = 1 / (1 + exp(A·m + B)), with Platt's smoothed
//!    targets (N₊+1)/(N₊+2) and 1/(N₋+2) and the Newton solver of Lin, Lin and Weng
//!    ("A note on Platt's probabilistic outputs for support vector machines", 2007).
//!    With the likes a sample of the relevant papers, ℓ(m) = ln(g/(1−g)) + ln(N₋/N₊)
//!    is the log density ratio of relevant papers to all papers at m (Elkan and Noto,
//!    "Learning classifiers from only positive and unlabeled data", KDD 2008, §3);
//! 3. π̂, the share of the sample that is relevant: half of the relevant papers score
//!    above the held-out likes' median margin, so π̂ = 2 · the share of the sample
//!    above that median. Elkan and Noto's relevance is then π̂ · exp(ℓ(m)).
//!
//! When the held-out likes do not score above the sample (Platt's A ≥ 0: a profile
//! whose likes have little in common, or 2-3 likes whose folds each miss the others'
//! topic), the fit is redone on the full model's own training margins, which always
//! separate the likes (over-confident, and corrected by stage 2 like any other fit).
//! Only a fit without any positive or any negative is flat.
//!
//! # Stage 2: one global map, fitted on simulated users
//! Stage 1 alone was over-confident on `eval`'s simulated users (papers scored 0.5-0.6
//! were 10 % relevant; mean score 0.31 against 5.5 % relevant): π̂ over-estimates the
//! prior (irrelevant papers score above the likes' median too), and with 5-30 likes the
//! density ratio is noisy. So the score is a logistic map of stage 1's features,
//!
//!   score(m) = σ(w₁ · ℓ(m) + w₂ · ln π̂ + w₃ · ln N₊ + w₀),
//!
//! with w fitted by maximum likelihood on every candidate of every simulated user-day
//! of a split that shares no day and no user with the README's measurement:
//! `paperscout eval --fit-calibration` (history before 2026-04-01, test days of April
//! 2026, seed 7, users with 1-3 categories and 1-30 likes; each candidate of a user of
//! several categories a second time as the merged feed of one collection per category
//! lists it, under the collection listing it) prints the constants of [`STAGE2`]. The
//! README's reliability table is measured on May with seed 42. w₁ > 0,
//! so the score is non-decreasing in the margin, and strictly so: the merge of
//! collections and the ties of the list use the score alone where it is below 1 in
//! f32. "Relevant" is the simulation's (the paper shares a category with the user's
//! interests): a score reads as that probability for a profile like the simulated ones.
//!
//! Measured on the README's split (`paperscout eval --collections`: May 2026, seed 42,
//! users with 2-3 categories): expected calibration error 0.017 for one model over all
//! likes and 0.013 for the merged feed of collections (stage 1 alone, capped at 1, as
//! shipped before: about 0.26); papers scored 0.5-0.6 are 62 % and 50 % relevant
//! (before: 10 %); mean score 0.039 and 0.044 against 5.5 % relevant (before: 0.31).
//! One model's ranking is unchanged (nDCG@10 0.370); the merged feed's, ordered across
//! collections by these scores, rises to 0.374.

use serde::{Deserialize, Serialize};

/// Stage 2's weights (w₁, w₂, w₃, w₀) for (ℓ(m), ln π̂, ln N₊, 1), printed by
/// `paperscout eval --fit-calibration --history-until 2026-04-01 --test-until
/// 2026-04-30 --seed 7` (60 users, 616,032 candidates of April, 4.1 % relevant, 36 of
/// the users also as collections; on them: log loss 0.148 and expected calibration
/// error 0.002, against 0.270 and 0.092 for stage 1 alone, σ(ℓ + ln π̂)).
pub const STAGE2: [f64; 4] = [0.7267, -0.2173, 0.3382, -4.3797];

/// The number of stage-2 features, the constant last.
pub const FEATURES: usize = 4;

/// The map from a model's margin to a calibrated relevance in [0, 1]: stage 1's fit
/// for one profile; [`Calibration::apply`] adds stage 2.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Platt's slope A (negative when higher margins are likelier likes).
    pub a: f64,
    /// Platt's offset B.
    pub b: f64,
    /// ln(N₋/N₊): from "one of the likes" odds to the density ratio.
    pub log_ratio: f64,
    /// ln π̂, the estimated share of the library that is relevant.
    pub log_prior: f64,
    /// ln N₊, the number of positives the fit saw.
    pub log_pos: f64,
}

impl Calibration {
    /// The flat map: every margin gets the same score (a fit without positives or
    /// without negatives).
    pub fn flat() -> Calibration {
        Calibration {
            a: 0.0,
            b: 0.0,
            log_ratio: 0.0,
            log_prior: (0.05f64).ln(),
            log_pos: 0.0,
        }
    }

    /// Whether stage 1 found no signal (the likes did not score above the sample):
    /// the caller then refits on other margins ([`super::calibrate_model`]).
    pub fn is_degenerate(&self) -> bool {
        !(self.a < 0.0 && self.a.is_finite() && self.b.is_finite())
    }

    /// Stage 2's features of margin `m`: (ℓ(m), ln π̂, ln N₊, 1).
    pub fn features(&self, m: f32) -> [f64; FEATURES] {
        let (a, b) = if self.is_degenerate() {
            (0.0, 0.0)
        } else {
            (self.a, self.b)
        };
        let l = -(a * f64::from(m) + b) + self.log_ratio;
        [l, self.log_prior, self.log_pos, 1.0]
    }

    /// The relevance of a paper with margin `m` under [`STAGE2`]: within [0, 1],
    /// non-decreasing in `m`. NaN stays NaN.
    pub fn apply(&self, m: f32) -> f32 {
        self.apply_with(&STAGE2, m)
    }

    /// [`Calibration::apply`] with other stage-2 weights (fitting, tests).
    pub fn apply_with(&self, w: &[f64; FEATURES], m: f32) -> f32 {
        if m.is_nan() {
            return f32::NAN;
        }
        let x = self.features(m);
        let z: f64 = w.iter().zip(&x).map(|(w, x)| w * x).sum();
        sigmoid(z) as f32
    }

    /// Fit on margins of positives (`pos`, held out from the model that scored them
    /// where possible) and of negatives or unlabeled papers (`neg`). Needs at least one
    /// of each; otherwise [`Calibration::flat`]. A fit whose likes score below the
    /// sample is returned as it is ([`Calibration::is_degenerate`]).
    pub fn fit(pos: &[f32], neg: &[f32]) -> Calibration {
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
            return Calibration::flat();
        }
        let (a, b) = platt(&pos, &neg);
        let n_pos = pos.len() as f64;
        let n_neg = neg.len() as f64;
        // π ≈ 2 · the share of the sample above the likes' median (half of the
        // relevant papers score above it; irrelevant ones that high over-estimate it).
        let mut sorted = pos.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let above = neg.iter().filter(|&&m| m >= median).count() as f64;
        let pi = (2.0 * above / n_neg).clamp(0.5 / n_neg, 1.0);
        Calibration {
            a,
            b,
            log_ratio: (n_neg / n_pos).ln(),
            log_prior: pi.ln(),
            log_pos: n_pos.ln(),
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Maximum-likelihood logistic regression of `y` on `x` (stage 2's fit): the weights
/// w minimising Σ log(1 + exp(−s·w·x)), s = ±1, with a tiny ridge (1e-6) so that
/// separable data still has an answer. Newton's method with step halving.
pub fn fit_logistic(x: &[[f64; FEATURES]], y: &[bool]) -> [f64; FEATURES] {
    let mut w = [0.0; FEATURES];
    let ridge = 1e-6 * x.len().max(1) as f64;
    let loss = |w: &[f64; FEATURES]| -> f64 {
        let mut s = 0.0;
        for (xi, &yi) in x.iter().zip(y) {
            let z: f64 = w.iter().zip(xi).map(|(a, b)| a * b).sum();
            let t = if yi { -z } else { z };
            s += if t > 0.0 {
                t + (-t).exp().ln_1p()
            } else {
                t.exp().ln_1p()
            };
        }
        s + 0.5 * ridge * w.iter().map(|v| v * v).sum::<f64>()
    };
    let mut f = loss(&w);
    for _ in 0..50 {
        let mut g = [0.0; FEATURES];
        let mut h = [[0.0; FEATURES]; FEATURES];
        for (xi, &yi) in x.iter().zip(y) {
            let z: f64 = w.iter().zip(xi).map(|(a, b)| a * b).sum();
            let p = sigmoid(z);
            let r = p - f64::from(u8::from(yi));
            let d = p * (1.0 - p);
            for j in 0..FEATURES {
                g[j] += r * xi[j];
                for k in 0..FEATURES {
                    h[j][k] += d * xi[j] * xi[k];
                }
            }
        }
        for j in 0..FEATURES {
            g[j] += ridge * w[j];
            h[j][j] += ridge;
        }
        let Some(step) = solve(h, g) else { break };
        let mut t = 1.0;
        let mut moved = false;
        while t > 1e-8 {
            let mut nw = w;
            for j in 0..FEATURES {
                nw[j] -= t * step[j];
            }
            let nf = loss(&nw);
            if nf <= f {
                let done = f - nf < 1e-10 * f.max(1.0);
                w = nw;
                f = nf;
                moved = !done;
                break;
            }
            t /= 2.0;
        }
        if !moved {
            break;
        }
    }
    w
}

/// Solve h · s = g by Gaussian elimination with partial pivoting (None: singular).
fn solve(mut h: [[f64; FEATURES]; FEATURES], mut g: [f64; FEATURES]) -> Option<[f64; FEATURES]> {
    for c in 0..FEATURES {
        let p = (c..FEATURES).max_by(|&i, &j| h[i][c].abs().total_cmp(&h[j][c].abs()))?;
        if h[p][c].abs() < 1e-300 {
            return None;
        }
        h.swap(c, p);
        g.swap(c, p);
        for r in c + 1..FEATURES {
            let k = h[r][c] / h[c][c];
            let pivot = h[c];
            for (x, p) in h[r].iter_mut().zip(pivot).skip(c) {
                *x -= k * p;
            }
            g[r] -= k * g[c];
        }
    }
    let mut s = [0.0; FEATURES];
    for c in (0..FEATURES).rev() {
        let t: f64 = (c + 1..FEATURES).map(|j| h[c][j] * s[j]).sum();
        s[c] = (g[c] - t) / h[c][c];
    }
    s.iter().all(|v| v.is_finite()).then_some(s)
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

/// Stage 1 on held-out margins (`held_out`: positives, negatives), refitted on the
/// model's own training margins (`training`, computed only when needed) when the
/// held-out likes do not score above the sample.
pub fn fit_or_refit(
    held_out: (&[f32], &[f32]),
    training: impl FnOnce() -> (Vec<f32>, Vec<f32>),
) -> Calibration {
    let c = Calibration::fit(held_out.0, held_out.1);
    if !c.is_degenerate() {
        return c;
    }
    let (pos, neg) = training();
    let t = Calibration::fit(&pos, &neg);
    if t.is_degenerate() {
        c
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::super::SplitMix64;
    use super::*;

    fn uniform(rng: &mut SplitMix64) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn platt_recovers_a_known_sigmoid() {
        // Margins uniform in [-3, 3], labels drawn from P(+|m) = 1/(1 + exp(-2m + 1)).
        let (a0, b0) = (-2.0, 1.0);
        let mut rng = SplitMix64::new(7);
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let m = -3.0 + 6.0 * uniform(&mut rng);
            if uniform(&mut rng) < 1.0 / (1.0 + (a0 * m + b0).exp()) {
                pos.push(m);
            } else {
                neg.push(m);
            }
        }
        let (a, b) = platt(&pos, &neg);
        assert!((a - a0).abs() < 0.1, "A = {a}, expected {a0}");
        assert!((b - b0).abs() < 0.1, "B = {b}, expected {b0}");
    }

    #[test]
    fn logistic_fit_recovers_known_weights() {
        let w0 = [1.5, -0.7, 0.4, -2.0];
        let mut rng = SplitMix64::new(11);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..30_000 {
            let xi = [
                -4.0 + 8.0 * uniform(&mut rng),
                -2.0 + 2.0 * uniform(&mut rng),
                3.0 * uniform(&mut rng),
                1.0,
            ];
            let z: f64 = w0.iter().zip(&xi).map(|(a, b)| a * b).sum();
            y.push(uniform(&mut rng) < sigmoid(z));
            x.push(xi);
        }
        let w = fit_logistic(&x, &y);
        for j in 0..FEATURES {
            assert!((w[j] - w0[j]).abs() < 0.12, "w = {w:?}, expected {w0:?}");
        }
    }

    #[test]
    fn relevance_is_monotone_within_0_1_and_ranks_likes_above_the_sample() {
        // 10 likes scoring 0..1, 1,000 sample papers scoring -2..-0.5 with a few high.
        let pos: Vec<f32> = (0..10).map(|i| 0.1 * i as f32).collect();
        let mut neg: Vec<f32> = (0..1000).map(|i| -2.0 + 1.5 * i as f32 / 1000.0).collect();
        neg.extend([0.2, 0.5, 0.8]);
        let c = Calibration::fit(&pos, &neg);
        assert!(!c.is_degenerate());
        const { assert!(STAGE2[0] > 0.0, "stage 2 must keep the margin's order") };
        let mut last = -1.0f32;
        for k in -400..=400 {
            let m = k as f32 / 100.0;
            let r = c.apply(m);
            assert!((0.0..=1.0).contains(&r), "r({m}) = {r}");
            assert!(r >= last, "not monotone at {m}: {r} < {last}");
            last = r;
        }
        assert!(
            c.apply(0.8) > c.apply(-1.5) + 0.1,
            "{} {}",
            c.apply(0.8),
            c.apply(-1.5)
        );
        assert!(c.apply(-1.5) < 0.05, "{}", c.apply(-1.5));
        assert!(c.apply(f32::NAN).is_nan());
        // Elkan and Noto's odds form, σ(ℓ + ln π̂), is the stage-2 weights (1, 1, 0, 0).
        let m = 0.3f32;
        let x = c.features(m);
        let r = (x[0] + x[1]).exp();
        let expected = r / (1.0 + r);
        assert!((f64::from(c.apply_with(&[1.0, 1.0, 0.0, 0.0], m)) - expected).abs() < 1e-6);
    }

    #[test]
    fn degenerate_fits_are_refitted_on_training_margins_when_they_separate() {
        // Held-out likes scoring below the sample: no signal there.
        let held = (
            vec![-2.0f32, -1.5, -1.8],
            vec![1.0f32, 1.5, 2.0, 1.2, -1.0, 0.0],
        );
        let c = Calibration::fit(&held.0, &held.1);
        assert!(c.is_degenerate());
        assert_eq!(c.apply(-3.0), c.apply(3.0), "a degenerate fit is flat");
        // The model's own margins separate the likes: the refit ranks by margin.
        let r = fit_or_refit((&held.0, &held.1), || {
            (vec![1.0, 1.2, 0.9], vec![-1.0, -0.8, -1.2, -0.5, 0.1, -0.3])
        });
        assert!(!r.is_degenerate());
        assert!(
            r.apply(1.5) > r.apply(-1.0),
            "{} {}",
            r.apply(1.5),
            r.apply(-1.0)
        );
        // No signal anywhere, or nothing to fit: flat, within [0, 1].
        let flat = fit_or_refit((&held.0, &held.1), || (held.0.clone(), held.1.clone()));
        assert_eq!(flat.apply(-3.0), flat.apply(3.0));
        for c in [
            Calibration::fit(&[], &[1.0, 2.0]),
            Calibration::fit(&[1.0], &[]),
        ] {
            assert_eq!(c.apply(-3.0), c.apply(3.0));
            assert!((0.0..=1.0).contains(&c.apply(0.0)));
        }
    }
}
