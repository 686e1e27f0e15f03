//! The f32 kernels every search path shares: the dot product (cosine of unit vectors),
//! the norm check applied to every vector that enters a library, and exact top-k.
//! Storage and the HNSW graph live elsewhere; this file knows nothing about papers.

use std::cmp::Ordering;

/// How far `‖v‖²` may stray from 1 for a vector to count as L2-normalised. An f32
/// vector normalised by the model is within ~1e-6; 1e-3 only refuses vectors that were
/// never normalised (or are corrupt), not rounding.
pub const UNIT_NORM_TOLERANCE: f32 = 1e-3;

/// Dot product of two equal-length f32 slices (the cosine similarity of unit vectors).
///
/// On x86-64 with AVX2 and FMA (detected at run time) an explicit 4×8-lane FMA loop;
/// elsewhere a loop written so that the compiler vectorises it for the target. Extra
/// elements of the longer slice are ignored (callers check lengths).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { dot_avx2_fma(a, b) };
        }
    }
    dot_portable(a, b)
}

/// The explicit-intrinsics path. Written with intrinsics rather than left to the
/// auto-vectoriser because test builds of this crate are unoptimised, and there a
/// scalar loop is ~100× slower than this one (the index tests call it millions of times).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2_fma(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY (all loads): every offset read is `i..i + 8` with `i + 8 <= n`, and both
    // slices have at least `n` elements; `loadu` has no alignment requirement.
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut acc2 = _mm256_setzero_ps();
    let mut acc3 = _mm256_setzero_ps();
    while i + 32 <= n {
        unsafe {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
            acc2 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 16)),
                _mm256_loadu_ps(pb.add(i + 16)),
                acc2,
            );
            acc3 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 24)),
                _mm256_loadu_ps(pb.add(i + 24)),
                acc3,
            );
        }
        i += 32;
    }
    while i + 8 <= n {
        unsafe {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
        }
        i += 8;
    }
    let acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds exactly 8 f32.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    let mut sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for j in i..n {
        sum += a[j] * b[j];
    }
    sum
}

/// 16 independent accumulators so that the compiler can keep several vector registers
/// in flight and vectorise without reassociating (it may not reorder float sums itself).
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let n = a.len().min(b.len());
    let (ca, ta) = a[..n].as_chunks::<LANES>();
    let (cb, tb) = b[..n].as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ta.iter().zip(tb) {
        tail += x * y;
    }
    // Pairwise reduction keeps the rounding error small and the order fixed.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + tail
}

/// Why a vector cannot enter a library, as a sentence fragment ("has dimension 12, ...").
pub fn check_unit(v: &[f32], dimension: usize) -> Result<(), String> {
    if v.len() != dimension {
        return Err(format!(
            "has dimension {}, the library's model gives {dimension}",
            v.len()
        ));
    }
    if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "has a non-finite value ({}) at position {pos}",
            v[pos]
        ));
    }
    let norm2 = dot(v, v);
    if (norm2 - 1.0).abs() > UNIT_NORM_TOLERANCE {
        return Err(format!(
            "is not L2-normalised (norm {:.6}); normalise vectors before adding them",
            norm2.sqrt()
        ));
    }
    Ok(())
}

/// `v / ‖v‖`, or an error for a vector of the wrong dimension, non-finite or zero.
pub fn normalized(v: &[f32], dimension: usize) -> Result<Vec<f32>, String> {
    if v.len() != dimension {
        return Err(format!(
            "has dimension {}, the library's model gives {dimension}",
            v.len()
        ));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err("has a non-finite value".to_string());
    }
    let norm = dot(v, v).sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return Err("has norm 0 (or overflows)".to_string());
    }
    Ok(v.iter().map(|x| x / norm).collect())
}

/// Best-first order of `(similarity, row)`: higher similarity first, ties by lower row
/// so that results are deterministic.
pub fn by_similarity(a: &(f32, usize), b: &(f32, usize)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Exact top-`k` of `(similarity, row)` over `rows`, best first. `vector(row)` gives a
/// row's vector; the query and the rows are unit vectors so the score is the cosine.
pub fn top_k_exact<'a>(
    query: &[f32],
    k: usize,
    rows: impl Iterator<Item = usize>,
    vector: impl Fn(usize) -> &'a [f32],
) -> Vec<(f32, usize)> {
    if k == 0 {
        return Vec::new();
    }
    let mut scored: Vec<(f32, usize)> = rows.map(|r| (dot(query, vector(r)), r)).collect();
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, by_similarity);
        scored.truncate(k);
    }
    scored.sort_unstable_by(by_similarity);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn dot_matches_naive_for_all_tail_lengths() {
        for n in [0usize, 1, 7, 15, 16, 17, 31, 33, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0).collect();
            let got = dot(&a, &b) as f64;
            let want = naive(&a, &b);
            assert!(
                (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                "n={n}: {got} vs {want}"
            );
            let portable = dot_portable(&a, &b) as f64;
            assert!(
                (portable - want).abs() < 1e-4 * (1.0 + want.abs()),
                "n={n}: {portable}"
            );
        }
    }

    #[test]
    fn unit_check_refuses_bad_vectors() {
        let mut v = vec![0.0f32; 4];
        v[0] = 1.0;
        assert!(check_unit(&v, 4).is_ok());
        assert!(check_unit(&v, 3).unwrap_err().contains("dimension 4"));
        v[1] = f32::NAN;
        assert!(check_unit(&v, 4).unwrap_err().contains("non-finite"));
        let w = vec![0.5f32; 4];
        assert!(check_unit(&w, 4).is_ok());
        let w = vec![1.0f32; 4];
        assert!(check_unit(&w, 4).unwrap_err().contains("normalised"));
        assert!(normalized(&[0.0, 0.0], 2).is_err());
        let n = normalized(&[3.0, 4.0], 2).unwrap();
        assert!((n[0] - 0.6).abs() < 1e-6 && (n[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn top_k_is_sorted_and_exact() {
        let rows: Vec<Vec<f32>> = (0..50)
            .map(|i| {
                let a = i as f32 * 0.1;
                vec![a.cos(), a.sin()]
            })
            .collect();
        let q = [1.0f32, 0.0];
        let top = top_k_exact(&q, 3, 0..rows.len(), |r| &rows[r]);
        assert_eq!(top.iter().map(|t| t.1).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(top_k_exact(&q, 100, 0..rows.len(), |r| &rows[r]).len(), 50);
        assert!(top_k_exact(&q, 0, 0..rows.len(), |r| &rows[r]).is_empty());
    }
}
