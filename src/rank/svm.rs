//! A linear support vector machine trained by dual coordinate descent, the solver of
//! LIBLINEAR (Hsieh, Chang, Lin, Keerthi, Sundararajan: "A Dual Coordinate Descent
//! Method for Large-scale Linear SVM", ICML 2008; `solve_l2r_l1l2_svc` in LIBLINEAR's
//! `linear.cpp`), which is what scikit-learn's `LinearSVC` runs. It owns the
//! optimisation only: rows are built by the caller (a sparse tf-idf part ⊕ a scaled
//! dense part ⊕ a constant bias feature, as LIBLINEAR's `-B`).

use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;
use super::tfidf::SparseVec;
use crate::{Error, Result};

/// The loss of the primal problem min ½‖w‖² + Σ Cᵢ ξ(w; xᵢ, yᵢ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// ξ = max(0, 1 − y w·x): the dual has box constraints 0 ≤ α ≤ Cᵢ.
    Hinge,
    /// ξ = max(0, 1 − y w·x)²: scikit-learn `LinearSVC`'s default; the dual adds
    /// αᵢ²/(4Cᵢ) and has only α ≥ 0.
    SquaredHinge,
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvmConfig {
    /// The regularisation trade-off C (> 0): smaller is smoother.
    pub c: f64,
    pub loss: Loss,
    /// Scale each class's C by n / (2 n_class), scikit-learn's `class_weight='balanced'`,
    /// so a handful of positives is not drowned by thousands of negatives.
    pub balanced: bool,
    /// Value of the constant bias feature (LIBLINEAR's `-B`, scikit-learn's
    /// `intercept_scaling`); the bias is regularised like any weight. 0: no bias.
    pub bias: f32,
    /// Stop when max − min of the projected gradient over one epoch is below this
    /// (LIBLINEAR's `eps` stopping rule).
    pub tol: f64,
    /// Give up after this many passes over the rows.
    pub max_epochs: usize,
    /// Seed of the per-epoch random order of coordinates.
    pub seed: u64,
}

impl Default for SvmConfig {
    fn default() -> Self {
        SvmConfig {
            c: 0.01,
            loss: Loss::SquaredHinge,
            balanced: true,
            bias: 1.0,
            tol: 1e-3,
            max_epochs: 1000,
            seed: 0,
        }
    }
}

/// One training row: x = [sparse ; dense_scale · dense ; bias].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The sparse part (`None`: all zero).
    pub sparse: Option<&'a SparseVec>,
    /// The dense part, before [`Problem::dense_scale`] (may be empty when the problem
    /// has no dense part).
    pub dense: &'a [f32],
    pub positive: bool,
    /// Multiplier of this row's C (1 for an ordinary row).
    pub cost: f32,
}

/// A training set.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    /// Size of the sparse feature space (the vocabulary); sparse indices are below it.
    pub sparse_dim: usize,
    /// Length of every row's dense part (0: no dense part).
    pub dense_dim: usize,
    /// Weight of the dense block in the feature row (0: dense part ignored).
    pub dense_scale: f32,
    pub rows: Vec<Row<'a>>,
}

/// A trained linear model, with the feature scales folded in: the decision value of a
/// row is `sparse·sparse_w + dense·dense_w + bias`, on the raw (unscaled) parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// One weight per vocabulary index (empty when the problem had no sparse part).
    pub sparse_w: Vec<f32>,
    /// One weight per dense dimension, already multiplied by the dense scale.
    pub dense_w: Vec<f32>,
    /// The bias weight times the bias feature value.
    pub bias: f32,
}

impl LinearModel {
    /// The decision value w·x of a row (positive: on the positive side).
    pub fn decision(&self, sparse: Option<&SparseVec>, dense: &[f32]) -> f32 {
        let s = sparse.map_or(0.0, |s| s.dot_dense(&self.sparse_w));
        let d = if self.dense_w.is_empty() {
            0.0
        } else {
            super::dot(&self.dense_w, dense)
        };
        s + d + self.bias
    }
}

/// How the optimisation went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SvmStats {
    /// Passes over the rows made.
    pub epochs: usize,
    /// Whether the stopping rule was met before `max_epochs`.
    pub converged: bool,
    /// The dual objective ½αᵀQ̄α − Σα after each epoch (never increasing).
    pub dual_objective: Vec<f64>,
    /// Number of rows with α > 0 (support vectors).
    pub support_vectors: usize,
}

/// Train by dual coordinate descent (Hsieh et al. 2008, Algorithm 1, without
/// shrinking): for each coordinate i in a random order, G = yᵢ w·xᵢ − 1 + Dᵢᵢ αᵢ,
/// αᵢ ← clamp(αᵢ − G / Q̄ᵢᵢ, 0, Uᵢ), w ← w + Δαᵢ yᵢ xᵢ, with Q̄ᵢᵢ = xᵢ·xᵢ + Dᵢᵢ and
/// (Dᵢᵢ, Uᵢ) = (0, Cᵢ) for the hinge loss, (1/(2Cᵢ), ∞) for the squared hinge.
pub fn train(problem: &Problem<'_>, config: &SvmConfig) -> Result<(LinearModel, SvmStats)> {
    train_on(problem, config, true)
}

/// [`train`], with the CPU's AVX2 when `simd` and it has it, else the baseline (the
/// same bits either way: see [`Solver::run`]).
fn train_on(
    problem: &Problem<'_>,
    config: &SvmConfig,
    simd: bool,
) -> Result<(LinearModel, SvmStats)> {
    let n = problem.rows.len();
    let n_pos = problem.rows.iter().filter(|r| r.positive).count();
    if n_pos == 0 || n_pos == n {
        return Err(Error::Invalid(format!(
            "SVM needs both classes: {n_pos} positive of {n} rows"
        )));
    }
    if !(config.c > 0.0 && config.c.is_finite()) {
        return Err(Error::Invalid(format!(
            "SVM C must be > 0, not {}",
            config.c
        )));
    }
    let use_dense = problem.dense_dim > 0 && problem.dense_scale != 0.0;
    for (i, r) in problem.rows.iter().enumerate() {
        if use_dense && r.dense.len() != problem.dense_dim {
            return Err(Error::Invalid(format!(
                "SVM row {i}: dense part has {} values, expected {}",
                r.dense.len(),
                problem.dense_dim
            )));
        }
        if r.sparse
            .is_some_and(|s| s.index_bound() > problem.sparse_dim)
        {
            return Err(Error::Invalid(format!(
                "SVM row {i}: sparse index beyond the feature space of {}",
                problem.sparse_dim
            )));
        }
        if !(r.cost > 0.0 && r.cost.is_finite()) {
            return Err(Error::Invalid(format!(
                "SVM row {i}: cost {} is not > 0",
                r.cost
            )));
        }
    }
    let _span = tracing::debug_span!("svm_train", rows = n).entered();

    let scale = f64::from(problem.dense_scale);
    let bias = f64::from(config.bias);
    let (w_pos, w_neg) = if config.balanced {
        (
            n as f64 / (2.0 * n_pos as f64),
            n as f64 / (2.0 * (n - n_pos) as f64),
        )
    } else {
        (1.0, 1.0)
    };
    // Per-row diagonal D, upper bound U and Q̄ᵢᵢ.
    let mut diag = Vec::with_capacity(n);
    let mut upper = Vec::with_capacity(n);
    let mut qd = Vec::with_capacity(n);
    for r in &problem.rows {
        let ci = config.c * f64::from(r.cost) * if r.positive { w_pos } else { w_neg };
        let (d, u) = match config.loss {
            Loss::Hinge => (0.0, ci),
            Loss::SquaredHinge => (0.5 / ci, f64::INFINITY),
        };
        let mut xx = r.sparse.map_or(0.0, |s| f64::from(s.norm_sq())) + bias * bias;
        if use_dense {
            xx += scale
                * scale
                * r.dense
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>();
        }
        diag.push(d);
        upper.push(u);
        qd.push(xx + d);
    }

    let mut ws = vec![0.0f64; problem.sparse_dim];
    let mut wd = vec![0.0f64; if use_dense { problem.dense_dim } else { 0 }];
    let mut wb = 0.0f64;
    let mut alpha = vec![0.0f64; n];
    let mut stats = SvmStats {
        epochs: 0,
        converged: false,
        dual_objective: Vec::new(),
        support_vectors: 0,
    };
    let mut solver = Solver {
        problem,
        config,
        use_dense,
        scale,
        bias,
        diag: &diag,
        upper: &upper,
        qd: &qd,
        ws: &mut ws,
        wd: &mut wd,
        wb: &mut wb,
        alpha: &mut alpha,
        stats: &mut stats,
    };
    solver.run(simd);
    stats.support_vectors = alpha.iter().filter(|&&a| a > 0.0).count();
    if !stats.converged {
        tracing::debug!(
            epochs = stats.epochs,
            "SVM stopped at max_epochs before converging"
        );
    }
    let model = LinearModel {
        sparse_w: ws.iter().map(|&w| w as f32).collect(),
        dense_w: wd.iter().map(|&w| (w * scale) as f32).collect(),
        bias: (wb * bias) as f32,
    };
    Ok((model, stats))
}

/// The state of one optimisation: what [`train`] checked and set up, and the weights
/// and dual variables it updates.
struct Solver<'s, 'a> {
    problem: &'s Problem<'a>,
    config: &'s SvmConfig,
    use_dense: bool,
    scale: f64,
    bias: f64,
    diag: &'s [f64],
    upper: &'s [f64],
    qd: &'s [f64],
    ws: &'s mut [f64],
    wd: &'s mut [f64],
    wb: &'s mut f64,
    alpha: &'s mut [f64],
    stats: &'s mut SvmStats,
}

impl Solver<'_, '_> {
    /// Run the epochs: with AVX2 where the CPU has it, else the baseline. Both are the
    /// same source with the same operations in the same order (Rust never fuses a
    /// multiply and an add, nor reorders a sum), so they give the same bits; AVX2 only
    /// does four of the dense part's lanes at once.
    fn run(&mut self, simd: bool) {
        #[cfg(target_arch = "x86_64")]
        {
            if simd && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                unsafe { self.epochs_avx2() };
                return;
            }
        }
        self.epochs();
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn epochs_avx2(&mut self) {
        self.epochs();
    }

    /// Dual coordinate descent until the stopping rule or `max_epochs` (see [`train`]).
    #[inline(always)]
    fn epochs(&mut self) {
        let (problem, config, use_dense) = (self.problem, self.config, self.use_dense);
        let (scale, bias) = (self.scale, self.bias);
        let (diag, upper, qd) = (self.diag, self.upper, self.qd);
        let ws = &mut *self.ws;
        let wd = &mut *self.wd;
        let alpha = &mut *self.alpha;
        let stats = &mut *self.stats;
        let mut wb = *self.wb;
        let n = problem.rows.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = SplitMix64::new(config.seed);
        for _ in 0..config.max_epochs {
            rng.shuffle(&mut order);
            let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
            for &i in &order {
                if qd[i] <= 0.0 {
                    continue;
                }
                let r = &problem.rows[i];
                let y = if r.positive { 1.0 } else { -1.0 };
                let mut wx = wb * bias;
                if let Some(s) = r.sparse {
                    for (&k, &v) in s.indices.iter().zip(&s.values) {
                        wx += ws[k as usize] * f64::from(v);
                    }
                }
                if use_dense {
                    wx += scale * dot_f64(wd, r.dense);
                }
                let g = y * wx - 1.0 + diag[i] * alpha[i];
                let pg = if alpha[i] == 0.0 {
                    g.min(0.0)
                } else if alpha[i] >= upper[i] {
                    g.max(0.0)
                } else {
                    g
                };
                pg_max = pg_max.max(pg);
                pg_min = pg_min.min(pg);
                if pg.abs() > 1e-12 {
                    let old = alpha[i];
                    alpha[i] = (old - g / qd[i]).clamp(0.0, upper[i]);
                    let step = (alpha[i] - old) * y;
                    if step != 0.0 {
                        if let Some(s) = r.sparse {
                            for (&k, &v) in s.indices.iter().zip(&s.values) {
                                ws[k as usize] += step * f64::from(v);
                            }
                        }
                        if use_dense {
                            let f = step * scale;
                            for (w, &v) in wd.iter_mut().zip(r.dense) {
                                *w += f * f64::from(v);
                            }
                        }
                        wb += step * bias;
                    }
                }
            }
            stats.epochs += 1;
            let ww = ws.iter().chain(wd.iter()).map(|w| w * w).sum::<f64>() + wb * wb;
            let quad: f64 = alpha.iter().zip(diag).map(|(a, d)| a * a * d).sum();
            let lin: f64 = alpha.iter().sum();
            stats.dual_objective.push(0.5 * ww + 0.5 * quad - lin);
            if pg_max - pg_min < config.tol {
                stats.converged = true;
                break;
            }
        }
        *self.wb = wb;
    }
}

#[inline(always)]
fn dot_f64(w: &[f64], x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let wc = w.chunks_exact(4);
    let xc = x.chunks_exact(4);
    let tail: f64 = wc
        .remainder()
        .iter()
        .zip(xc.remainder())
        .map(|(a, &b)| a * f64::from(b))
        .sum();
    for (a, b) in wc.zip(xc) {
        for k in 0..4 {
            acc[k] += a[k] * f64::from(b[k]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AVX2 and the baseline give the same model, bit for bit, and the same objective.
    #[test]
    fn simd_and_baseline_train_the_same_bits() {
        let mut rng = SplitMix64::new(42);
        let (n, dim, vocab) = (300, 37, 500);
        let dense: Vec<Vec<f32>> = (0..n)
            .map(|_| {
                (0..dim)
                    .map(|_| rng.unit_f64() as f32 * 2.0 - 1.0)
                    .collect()
            })
            .collect();
        let sparse: Vec<SparseVec> = (0..n)
            .map(|_| {
                let mut idx: Vec<u32> = (0..12).map(|_| (rng.next_u64() % vocab) as u32).collect();
                idx.sort_unstable();
                idx.dedup();
                let values = idx.iter().map(|_| rng.unit_f64() as f32).collect();
                SparseVec {
                    indices: idx,
                    values,
                }
            })
            .collect();
        let rows = (0..n)
            .map(|i| Row {
                sparse: Some(&sparse[i]),
                dense: &dense[i],
                positive: i % 7 == 0,
                cost: 1.0,
            })
            .collect();
        let problem = Problem {
            sparse_dim: vocab as usize,
            dense_dim: dim,
            dense_scale: 0.7,
            rows,
        };
        for loss in [Loss::SquaredHinge, Loss::Hinge] {
            let config = SvmConfig {
                loss,
                c: 0.5,
                ..SvmConfig::default()
            };
            let (a, sa) = train_on(&problem, &config, true).unwrap();
            let (b, sb) = train_on(&problem, &config, false).unwrap();
            assert!(sa.epochs > 1, "{sa:?}");
            let bits = |m: &LinearModel| -> Vec<u32> {
                m.sparse_w
                    .iter()
                    .chain(&m.dense_w)
                    .chain([&m.bias])
                    .map(|w| w.to_bits())
                    .collect()
            };
            assert_eq!(bits(&a), bits(&b), "{loss:?}");
            assert_eq!(sa, sb, "{loss:?}");
        }
    }
}
