//! int8 `Linear` layers: `out = input · wᵀ + bias` with the weights quantized once at
//! load (symmetric, one scale per output column) and each input row quantized on the
//! fly (symmetric, one scale per row), the products accumulated exactly in `i32`.
//!
//! An input row `x` becomes `q = round(x · 127 / max|x|)` in `[-127, 127]`, stored as the
//! unsigned byte `q + 128` because the VNNI instruction multiplies unsigned bytes by
//! signed ones; the `128 · Σ w` this adds to every dot product is taken off again with a
//! per-column sum kept beside the packed weights. The result of a tile is
//! `(acc − 128 · colsum) · (row scale · column scale) + bias`, computed in that order
//! on every path, so every kernel gives the same bits.
//!
//! Kernels: AVX-512 VNNI (`vpdpbusd`, 4 multiply-adds per 32-bit lane and instruction,
//! 12×32 tiles in 24 zmm accumulators); AVX2 (`vpmaddubsw` on `|q|` and `w` with `q`'s
//! sign, then `vpmaddwd` by ones: 2×32 sub-tiles); and a plain Rust body (anywhere).
//!
//! Layout: weights in panels of [`QC`] columns; within a panel, for each group of four
//! `k` indices, [`QC`] columns × 4 consecutive bytes (one 32-bit lane per column), so
//! one group of a panel is 128 bytes, two zmm loads. `k` is padded to a multiple of 4
//! and `n` to a multiple of [`QC`] with zeros.

use std::cell::RefCell;

/// Rows of a tile.
pub const QR: usize = 12;
/// Columns of a tile (a weight panel): two vectors of 16 `i32` lanes.
pub const QC: usize = 32;
/// Rows of input per block: the block's quantized rows stay in L2 while every weight
/// panel passes.
const QMC: usize = 144;

/// Which kernel runs [`linear_q8`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Q8Micro {
    /// AVX-512 VNNI (x86_64 with `avx512f`, `avx512bw` and `avx512vnni`).
    Vnni,
    /// AVX2 byte products (x86_64 with `avx2`).
    Avx2,
    /// The plain body, whatever the compiler makes of it.
    Portable,
}

impl Q8Micro {
    /// Every kernel, best first.
    pub const ALL: [Q8Micro; 3] = [Q8Micro::Vnni, Q8Micro::Avx2, Q8Micro::Portable];

    /// Whether this CPU runs the kernel.
    pub fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Q8Micro::Vnni => {
                std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "x86_64")]
            Q8Micro::Avx2 => std::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            Q8Micro::Vnni | Q8Micro::Avx2 => false,
            Q8Micro::Portable => true,
        }
    }

    /// The best kernel this CPU runs.
    pub fn best() -> Q8Micro {
        Self::ALL
            .into_iter()
            .find(|m| m.supported())
            .unwrap_or(Q8Micro::Portable)
    }

    /// Short name for reports: `vnni`, `avx2`, `portable`.
    pub fn name(self) -> &'static str {
        match self {
            Q8Micro::Vnni => "vnni",
            Q8Micro::Avx2 => "avx2",
            Q8Micro::Portable => "portable",
        }
    }
}

/// A `Linear` weight `[n × k]` (out, in), quantized to `i8` per output column and packed.
pub struct PackedQ8 {
    k: usize,
    n: usize,
    /// `k` rounded up to a multiple of 4.
    kq: usize,
    data: Vec<i8>,
    /// Per column (padded to panels): the scale of its quantized weights.
    scale: Vec<f32>,
    /// Per column (padded): `128 · Σ` of its quantized weights.
    offset: Vec<i32>,
}

impl PackedQ8 {
    /// Quantize and pack `w`, `[n × k]` row-major (a `Linear` weight as stored). Panics
    /// if `w` is not `n · k` long (a caller bug).
    pub fn new(k: usize, n: usize, w: &[f32]) -> PackedQ8 {
        assert_eq!(w.len(), n * k, "q8: weight of the wrong size");
        let kq = k.div_ceil(4) * 4;
        let panels = n.div_ceil(QC);
        let mut data = vec![0i8; panels * kq * QC];
        let mut scale = vec![0f32; panels * QC];
        let mut offset = vec![0i32; panels * QC];
        for j in 0..n {
            let row = &w[j * k..(j + 1) * k];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let (s, inv) = if max > 0.0 && max.is_finite() {
                (max / 127.0, 127.0 / max)
            } else {
                (0.0, 0.0)
            };
            let panel = &mut data[(j / QC) * kq * QC..][..kq * QC];
            let col = j % QC;
            let mut sum = 0i32;
            for (p, &v) in row.iter().enumerate() {
                let q = round_even(v * inv) as i8;
                panel[(p / 4) * QC * 4 + col * 4 + p % 4] = q;
                sum += q as i32;
            }
            scale[j] = s;
            offset[j] = 128 * sum;
        }
        PackedQ8 {
            k,
            n,
            kq,
            data,
            scale,
            offset,
        }
    }

    /// Input width.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output width.
    pub fn n(&self) -> usize {
        self.n
    }
}

thread_local! {
    /// Quantized input rows (`u8`, rows `kq` apart, padded to whole tiles) and their
    /// scales: reused by every product on this thread.
    static SCRATCH: RefCell<(Vec<u8>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Quantize `rows` rows of `input` (`k` floats each) into `a` (rows `kq` apart, as
/// `q + 128`, zero-padded to `kq` and to whole tiles) and their scales into `sa`.
fn quantize_rows(
    input: &[f32],
    rows: usize,
    k: usize,
    kq: usize,
    a: &mut Vec<u8>,
    sa: &mut Vec<f32>,
) {
    let padded = rows.div_ceil(QR) * QR;
    a.clear();
    a.resize(padded * kq, 128);
    sa.clear();
    sa.resize(padded, 0.0);
    for r in 0..rows {
        let x = &input[r * k..(r + 1) * k];
        let max = max_abs(x);
        let (s, inv) = if max > 0.0 && max.is_finite() {
            (max / 127.0, 127.0 / max)
        } else {
            (0.0, 0.0)
        };
        sa[r] = s;
        for (o, &v) in a[r * kq..r * kq + k].iter_mut().zip(x) {
            *o = (round_even(v * inv) + 128) as u8;
        }
    }
}

/// `x` (within ±127 but for rounding) rounded to the nearest integer, ties to even,
/// clamped to ±127: the 1.5·2²³ trick, so it vectorises without SSE4.1's `roundps`
/// (`round_ties_even` is a call to `rintf` per value on baseline x86_64).
#[inline(always)]
fn round_even(x: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    let t = x.clamp(-127.0, 127.0) + MAGIC;
    t.to_bits() as i32 - MAGIC.to_bits() as i32
}

/// `max |x|` with sixteen independent lanes, so it vectorises.
fn max_abs(x: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let chunks = x.chunks_exact(16);
    let tail = chunks.remainder().iter().fold(0f32, |m, v| m.max(v.abs()));
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = a.max(v.abs());
        }
    }
    acc.iter().fold(tail, |m, &v| m.max(v))
}

/// `out[m×n] = input[m×k] · wᵀ + bias` in int8 (see the module's notes); `input` rows
/// `k` apart, `out` rows `n` apart.
///
/// Panics if a slice is too short, or the kernel needs a feature this CPU lacks:
/// bugs in the caller.
pub fn linear_q8(
    micro: Q8Micro,
    m: usize,
    out: &mut [f32],
    input: &[f32],
    w: &PackedQ8,
    bias: &[f32],
) {
    let (k, n, kq) = (w.k, w.n, w.kq);
    if m == 0 || n == 0 {
        return;
    }
    assert!(input.len() >= m * k, "q8: input too short");
    assert!(out.len() >= m * n, "q8: output too short");
    assert!(bias.len() >= n, "q8: bias shorter than n");
    assert!(
        micro.supported(),
        "q8: the {micro:?} kernel needs a CPU feature this one lacks"
    );
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let (a, sa) = &mut *s;
        quantize_rows(input, m, k, kq, a, sa);
        let panels = n.div_ceil(QC);
        let tiles = m.div_ceil(QR);
        let mut tb = 0;
        while tb < tiles {
            let te = (tb + QMC / QR).min(tiles);
            for jp in 0..panels {
                let cols = QC.min(n - jp * QC);
                let b = &w.data[jp * kq * QC..][..kq * QC];
                let ws = &w.scale[jp * QC..][..QC];
                let off = &w.offset[jp * QC..][..QC];
                let bias_p = &bias[jp * QC..jp * QC + cols];
                let mut bias_pad = [0f32; QC];
                bias_pad[..cols].copy_from_slice(bias_p);
                for ti in tb..te {
                    let rows = QR.min(m - ti * QR);
                    let at = &a[ti * QR * kq..][..QR * kq];
                    let tile = Tile {
                        sa: &sa[ti * QR..][..QR],
                        ws,
                        off,
                        bias: &bias_pad,
                    };
                    let c0 = ti * QR * n + jp * QC;
                    if rows == QR && cols == QC {
                        kernel(micro, kq / 4, at, kq, b, &tile, &mut out[c0..], n);
                    } else {
                        let mut t = [0f32; QR * QC];
                        kernel(micro, kq / 4, at, kq, b, &tile, &mut t, QC);
                        for i in 0..rows {
                            out[c0 + i * n..][..cols].copy_from_slice(&t[i * QC..][..cols]);
                        }
                    }
                }
            }
            tb = te;
        }
    });
}

/// What turns a tile's integer sums into outputs: the rows' scales, and the panel's
/// column scales, offsets (`128 · Σ w`) and bias, [`QC`] each (padded with zeros).
struct Tile<'a> {
    sa: &'a [f32],
    ws: &'a [f32],
    off: &'a [i32],
    bias: &'a [f32],
}

/// One full [`QR`] × [`QC`] tile into `c` (rows `ldc` apart):
/// `c[i, j] = (Σ_p a[i·lda + p] · b[p, j] − off[j]) · (sa[i] · ws[j]) + bias[j]` over
/// `4 · quads` values of `p`.
#[allow(clippy::too_many_arguments)]
fn kernel(
    micro: Q8Micro,
    quads: usize,
    a: &[u8],
    lda: usize,
    b: &[i8],
    t: &Tile,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(a.len() >= (QR - 1) * lda + 4 * quads && b.len() >= quads * 4 * QC);
    assert!(c.len() >= (QR - 1) * ldc + QC);
    assert!(t.sa.len() >= QR && t.ws.len() >= QC && t.off.len() >= QC && t.bias.len() >= QC);
    match micro {
        // SAFETY: the slices hold what the kernel reads and writes (asserted above)
        // and the CPU has the features (`linear_q8` asserted `supported`).
        #[cfg(target_arch = "x86_64")]
        Q8Micro::Vnni => unsafe {
            vnni::kernel(quads, a.as_ptr(), lda, b.as_ptr(), t, c.as_mut_ptr(), ldc)
        },
        #[cfg(target_arch = "x86_64")]
        Q8Micro::Avx2 => unsafe { kernel_avx2(quads, a, lda, b, t, c, ldc) },
        _ => kernel_body(quads, a, lda, b, t, c, ldc),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kernel_avx2(quads: usize, a: &[u8], lda: usize, b: &[i8], t: &Tile, c: &mut [f32], ldc: usize) {
    let mut acc = [0i32; QR * QC];
    for r in (0..QR).step_by(2) {
        // SAFETY: rows r and r + 1 of `a` hold 4·quads bytes and `b` quads·4·QC
        // (asserted by `kernel`); `acc` holds QR·QC lanes; the CPU has avx2.
        unsafe {
            avx2::rows2(
                quads,
                a.as_ptr().add(r * lda),
                lda,
                b.as_ptr(),
                acc.as_mut_ptr().add(r * QC),
            )
        };
    }
    // `rows2` sums q · w (the signed bytes), which is what VNNI's sum minus the offset
    // is, in integers: the same outputs to the bit.
    for i in 0..QR {
        let sa = t.sa[i];
        let out = &mut c[i * ldc..][..QC];
        for j in 0..QC {
            out[j] = acc[i * QC + j] as f32 * (sa * t.ws[j]) + t.bias[j];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::QC;
    use std::arch::x86_64::*;

    /// Two rows × 32 columns of `Σ q · w` (`q` = the stored byte − 128) into `acc`
    /// (rows `QC` apart). AVX2 has no VNNI, and `vpmaddubsw` (unsigned × signed byte
    /// pairs summed into 16 bits) saturates on `255 · 127 · 2`; with both sides within
    /// ±127 it cannot: `|q|` times `w` with `q`'s sign, the usual trick. Then
    /// `vpmaddwd` by ones sums the pairs into the 32-bit lanes, exactly.
    ///
    /// # Safety
    /// Rows 0 and 1 of `a` (`lda` apart) hold `4 · quads` bytes, `b` holds
    /// `quads · 4 · QC` bytes, `acc` holds `2 · QC` lanes; the CPU has avx2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn rows2(quads: usize, a: *const u8, lda: usize, b: *const i8, acc: *mut i32) {
        let ones = _mm256_set1_epi16(1);
        let bias = _mm256_set1_epi8(-128);
        let mut c = [[_mm256_setzero_si256(); 4]; 2];
        for q in 0..quads {
            let bq = b.add(q * 4 * QC) as *const __m256i;
            for (r, row) in c.iter_mut().enumerate() {
                let raw = (a.add(r * lda + 4 * q) as *const i32).read_unaligned();
                // The stored byte is q + 128: flipping the top bit gives q as i8.
                let qa = _mm256_xor_si256(_mm256_set1_epi32(raw), bias);
                let abs = _mm256_abs_epi8(qa);
                for (g, acc) in row.iter_mut().enumerate() {
                    let w = _mm256_sign_epi8(_mm256_loadu_si256(bq.add(g)), qa);
                    let pairs = _mm256_maddubs_epi16(abs, w);
                    *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
                }
            }
        }
        for (r, row) in c.iter().enumerate() {
            for (g, v) in row.iter().enumerate() {
                _mm256_storeu_si256(acc.add(r * QC + 8 * g) as *mut __m256i, *v);
            }
        }
    }
}

/// The plain body: row by row, the 32 columns' lanes side by side.
#[inline(always)]
fn kernel_body(quads: usize, a: &[u8], lda: usize, b: &[i8], t: &Tile, c: &mut [f32], ldc: usize) {
    for i in 0..QR {
        let ar = &a[i * lda..][..4 * quads];
        let mut lanes = [0i32; QC];
        for (a4, bq) in ar.chunks_exact(4).zip(b.chunks_exact(4 * QC)) {
            let (a0, a1, a2, a3) = (a4[0] as i32, a4[1] as i32, a4[2] as i32, a4[3] as i32);
            for (l, b4) in lanes.iter_mut().zip(bq.chunks_exact(4)) {
                *l += a0 * b4[0] as i32 + a1 * b4[1] as i32 + a2 * b4[2] as i32 + a3 * b4[3] as i32;
            }
        }
        let sa = t.sa[i];
        let out = &mut c[i * ldc..][..QC];
        for j in 0..QC {
            out[j] = (lanes[j] - t.off[j]) as f32 * (sa * t.ws[j]) + t.bias[j];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{Tile, QC, QR};
    use std::arch::x86_64::*;

    /// 12×32 tile: 24 accumulators of 16 `i32` lanes, two `B` vectors per group of four
    /// `k`, each row's four bytes broadcast to every lane; then the outputs, with the
    /// same operations in the same order as the plain body.
    ///
    /// # Safety
    /// Rows `0..QR` of `a` (`lda` apart) hold `4 · quads` bytes, `b` holds
    /// `quads · 4 · QC` bytes, `c` rows `0..QR` (`ldc` apart) hold `QC` floats, the
    /// tile's slices hold `QR` / `QC` values; the CPU has `avx512f`, `avx512bw` and
    /// `avx512vnni`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn kernel(
        quads: usize,
        a: *const u8,
        lda: usize,
        b: *const i8,
        t: &Tile,
        c: *mut f32,
        ldc: usize,
    ) {
        let mut lo = [_mm512_setzero_si512(); QR];
        let mut hi = [_mm512_setzero_si512(); QR];
        let mut a = a;
        let mut b = b;
        for _ in 0..quads {
            let b0 = _mm512_loadu_si512(b as *const __m512i);
            let b1 = _mm512_loadu_si512(b.add(64) as *const __m512i);
            for i in 0..QR {
                let ai = _mm512_set1_epi32((a.add(i * lda) as *const i32).read_unaligned());
                lo[i] = _mm512_dpbusd_epi32(lo[i], ai, b0);
                hi[i] = _mm512_dpbusd_epi32(hi[i], ai, b1);
            }
            a = a.add(4);
            b = b.add(4 * QC);
        }
        let (ws0, ws1) = (
            _mm512_loadu_ps(t.ws.as_ptr()),
            _mm512_loadu_ps(t.ws.as_ptr().add(16)),
        );
        let off = t.off.as_ptr() as *const __m512i;
        let (off0, off1) = (_mm512_loadu_si512(off), _mm512_loadu_si512(off.add(1)));
        let (b0, b1) = (
            _mm512_loadu_ps(t.bias.as_ptr()),
            _mm512_loadu_ps(t.bias.as_ptr().add(16)),
        );
        for i in 0..QR {
            let sa = _mm512_set1_ps(t.sa[i]);
            let v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(lo[i], off0));
            let v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(hi[i], off1));
            let p = c.add(i * ldc);
            _mm512_storeu_ps(
                p,
                _mm512_add_ps(_mm512_mul_ps(v0, _mm512_mul_ps(sa, ws0)), b0),
            );
            _mm512_storeu_ps(
                p.add(16),
                _mm512_add_ps(_mm512_mul_ps(v1, _mm512_mul_ps(sa, ws1)), b1),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::values;

    /// The same integers in plain scalar code, from the packed weights' own bytes.
    fn naive(m: usize, input: &[f32], w: &PackedQ8, bias: &[f32]) -> Vec<f32> {
        let (k, n, kq) = (w.k, w.n, w.kq);
        let (mut a, mut sa) = (Vec::new(), Vec::new());
        quantize_rows(input, m, k, kq, &mut a, &mut sa);
        let mut out = vec![0f32; m * n];
        for r in 0..m {
            for j in 0..n {
                let panel = &w.data[(j / QC) * kq * QC..];
                let mut acc = 0i32;
                for p in 0..kq {
                    acc += a[r * kq + p] as i32
                        * panel[(p / 4) * QC * 4 + (j % QC) * 4 + p % 4] as i32;
                }
                out[r * n + j] = (acc - w.offset[j]) as f32 * (sa[r] * w.scale[j]) + bias[j];
            }
        }
        out
    }

    #[test]
    fn every_q8_kernel_matches_the_scalar_integers_and_stays_near_f32() {
        // Edge tiles in both directions, k not a multiple of 4, a zero row and a zero column.
        for &(m, n, k) in &[
            (1, 1, 1),
            (13, 33, 7),
            (25, 70, 385),
            (12, 32, 384),
            (40, 96, 1536),
        ] {
            let mut input = values(m * k, 3);
            input[..k].fill(0.0);
            let mut wf = values(n * k, 4);
            wf[(n - 1) * k..].fill(0.0);
            let bias = values(n, 5);
            let w = PackedQ8::new(k, n, &wf);
            let want = naive(m, &input, &w, &bias);
            for micro in Q8Micro::ALL {
                if !micro.supported() {
                    println!("q8 kernel {micro:?}: not tested on this CPU");
                    continue;
                }
                let mut got = vec![f32::NAN; m * n];
                linear_q8(micro, m, &mut got, &input, &w, &bias);
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(g, w)| g.to_bits() == w.to_bits()),
                    "{micro:?} {m}x{n}x{k} differs from the scalar integers"
                );
            }
            // Against the f32 product: the error of two 8-bit roundings per term.
            for r in 0..m {
                for j in 0..n {
                    let exact: f32 = (0..k)
                        .map(|p| input[r * k + p] * wf[j * k + p])
                        .sum::<f32>()
                        + bias[j];
                    let bound = 0.02 * (k as f32).sqrt() + 1e-6;
                    assert!(
                        (want[r * n + j] - exact).abs() <= bound,
                        "{m}x{n}x{k} ({r},{j}): {} against f32 {exact}",
                        want[r * n + j]
                    );
                }
            }
        }
    }

    /// `cargo test --release -p paperscout-sgemm q8_speed -- --ignored --nocapture`:
    /// int8 against f32 on the encoder's four dense shapes, one thread.
    #[test]
    #[ignore = "measurement: prints multiply-adds per second per kernel"]
    fn q8_speed() {
        use std::time::Instant;
        for &(name, m, n, k) in &[
            ("qkv", 4096, 1152, 384),
            ("attn_out", 4096, 384, 384),
            ("ffn_up", 4096, 1536, 384),
            ("ffn_down", 4096, 384, 1536),
        ] {
            let input = values(m * k, 1);
            let wf = values(n * k, 2);
            let bias = values(n, 3);
            let ops = 2.0 * (m * n * k) as f64;
            let reps = (2e10 / ops).ceil() as usize;
            let mut out = vec![0f32; m * n];
            let time = |f: &mut dyn FnMut(&mut [f32])| {
                let mut out = vec![0f32; m * n];
                f(&mut out);
                let t = Instant::now();
                for _ in 0..reps {
                    f(&mut out);
                }
                ops * reps as f64 / t.elapsed().as_secs_f64() / 1e9
            };
            let packed = crate::PackedB::new(k, n, &wf, 1, k);
            for micro in [
                crate::Micro::Avx512,
                crate::Micro::Avx2,
                crate::Micro::Portable,
            ] {
                if micro.supported() {
                    let g =
                        time(&mut |o| crate::sgemm_bias(micro, m, o, n, &input, k, &packed, &bias));
                    println!("f32 {micro:?} {name} {m}x{n}x{k}: {g:.1} GFLOP/s");
                }
            }
            let w = PackedQ8::new(k, n, &wf);
            for micro in Q8Micro::ALL {
                if micro.supported() {
                    let g = time(&mut |o| linear_q8(micro, m, o, &input, &w, &bias));
                    println!("q8  {micro:?} {name} {m}x{n}x{k}: {g:.1} GOP/s");
                }
            }
            linear_q8(Q8Micro::best(), m, &mut out, &input, &w, &bias);
        }
    }
}
