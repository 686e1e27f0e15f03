//! Ranking metrics with binary relevance, and a mean with its standard error. Owns
//! the formulas only; which candidates are relevant is the harness's business.

/// nDCG@k of one ranked list (Järvelin and Kekäläinen, "Cumulated gain-based
/// evaluation of IR techniques", TOIS 2002), binary gains, log2 discount:
/// DCG = Σ_{r=1..k} rel_r / log2(r + 1), divided by the ideal DCG, the DCG of a list
/// whose first min(k, `n_relevant`) entries are relevant. `ranked` is the relevance of
/// the ranked candidates, best first (entries past `k` are ignored); `n_relevant` is
/// the number of relevant candidates of the whole day. 0 when nothing is relevant.
pub fn ndcg_at_k(ranked: &[bool], n_relevant: usize, k: usize) -> f64 {
    let ideal: f64 = (0..k.min(n_relevant)).map(discount).sum();
    if ideal == 0.0 {
        return 0.0;
    }
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, &rel)| rel)
        .map(|(i, _)| discount(i))
        .sum();
    dcg / ideal
}

/// 1 / log2(position + 1) for a 0-based `i` (position i + 1).
fn discount(i: usize) -> f64 {
    1.0 / ((i + 2) as f64).log2()
}

/// P@k: the fraction of the first k ranked candidates that are relevant (a list
/// shorter than k counts the missing entries as not relevant).
pub fn precision_at_k(ranked: &[bool], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    ranked.iter().take(k).filter(|&&r| r).count() as f64 / k as f64
}

/// Running mean and standard error (Welford's algorithm, so sums of ~10⁴ terms stay
/// exact enough; order of `push` is fixed by the caller, so results repeat exactly).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeanSe {
    n: usize,
    mean: f64,
    m2: f64,
}

impl MeanSe {
    /// Add one observation.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Number of observations.
    pub fn count(&self) -> usize {
        self.n
    }

    /// The mean (0 with no observations).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The standard error of the mean, sample standard deviation / √n (0 below n = 2).
    pub fn std_err(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / (self.n - 1) as f64).sqrt() / (self.n as f64).sqrt()
        }
    }
}
