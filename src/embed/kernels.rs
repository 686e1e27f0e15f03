//! Single-threaded f32 kernels for the CPU encoder: the matrix products (our packed
//! sgemm, `crates/sgemm`, with one microkernel per path), and the element-wise steps —
//! softmax, GELU, layer norm — written so the compiler vectorises them.
//!
//! The element-wise kernels are compiled three times: a portable body, and the same
//! body inside `#[target_feature(enable = "avx2,fma")]` and `"avx512f,avx2,fma"`
//! functions chosen at run time by the CPU's features, so one binary runs everywhere
//! and uses 8- or 16-wide vectors where the CPU has them, with the same bits on every
//! variant. `PAPERSCOUT_KERNEL=avx2` (or `portable`) caps them too, so a forced path
//! runs as a CPU with only those instructions would.

use paperscout_sgemm::q8::{self, PackedQ8, Q8Micro};
use paperscout_sgemm::{self as sgemm, Micro, PackedB};

/// Which code runs the encoder's matrix products, chosen once per model load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// Our packed sgemm with a 12×32 AVX-512 microkernel (x86_64 with `avx512f`);
    /// `Linear` weights prepacked at load.
    Avx512,
    /// Our packed sgemm with a 12×32 AVX2+FMA microkernel (x86_64 with `avx2` and
    /// `fma`, no AVX-512); weights prepacked, activations read in place.
    Avx2,
    /// Our packed sgemm with a NEON microkernel (aarch64).
    Neon,
    /// Our packed sgemm in plain Rust: any CPU; the fallback where none of the above runs.
    Portable,
}

impl KernelPath {
    /// Every path, in order of preference.
    pub const ALL: [KernelPath; 4] = [
        KernelPath::Avx512,
        KernelPath::Avx2,
        KernelPath::Neon,
        KernelPath::Portable,
    ];

    /// The short name (`avx512`, `avx2`, `neon`, `portable`), as `PAPERSCOUT_KERNEL` takes it.
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Avx512 => "avx512",
            KernelPath::Avx2 => "avx2",
            KernelPath::Neon => "neon",
            KernelPath::Portable => "portable",
        }
    }

    /// What runs on this path, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            KernelPath::Avx512 => {
                "avx512: sgemm, 12x32 AVX-512 microkernel, weights prepacked, activations read in place"
            }
            KernelPath::Avx2 => {
                "avx2: sgemm, 12x32 AVX2+FMA microkernel (3x32 sub-tiles), weights prepacked, activations read in place"
            }
            KernelPath::Neon => "neon: packed sgemm, 12x32 NEON microkernel, weights prepacked",
            KernelPath::Portable => {
                "portable: packed sgemm, plain Rust microkernel, weights prepacked"
            }
        }
    }

    /// Whether this CPU can run the path; when not, the reason (the missing feature).
    pub fn check(self) -> std::result::Result<(), &'static str> {
        match self {
            KernelPath::Avx512 => {
                if Micro::Avx512.supported() {
                    Ok(())
                } else if cfg!(target_arch = "x86_64") {
                    Err("no avx512f")
                } else {
                    Err("not x86_64")
                }
            }
            KernelPath::Avx2 => {
                #[cfg(target_arch = "x86_64")]
                {
                    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                    {
                        Ok(())
                    } else {
                        Err("no avx2+fma")
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    Err("not x86_64")
                }
            }
            KernelPath::Neon => {
                if Micro::Neon.supported() {
                    Ok(())
                } else {
                    Err("not aarch64")
                }
            }
            KernelPath::Portable => Ok(()),
        }
    }

    /// The best path this CPU runs, unless `PAPERSCOUT_KERNEL` names one (an error when
    /// the name is unknown or the CPU cannot run it).
    pub fn select() -> std::result::Result<KernelPath, String> {
        match std::env::var("PAPERSCOUT_KERNEL") {
            Ok(v) if !v.trim().is_empty() && v.trim() != "auto" => {
                let path = v.parse::<KernelPath>()?;
                path.check().map_err(|why| {
                    format!(
                        "PAPERSCOUT_KERNEL={v}: this CPU cannot run the {} kernels ({why})",
                        path.name()
                    )
                })?;
                Ok(path)
            }
            _ => Ok(Self::best()),
        }
    }

    /// The best path this CPU runs.
    pub fn best() -> KernelPath {
        Self::ALL
            .into_iter()
            .find(|p| p.check().is_ok())
            .unwrap_or(KernelPath::Portable)
    }

    /// Our microkernel behind the path.
    fn micro(self) -> Micro {
        match self {
            KernelPath::Avx512 => Micro::Avx512,
            KernelPath::Avx2 => Micro::Avx2,
            KernelPath::Neon => Micro::Neon,
            KernelPath::Portable => Micro::Portable,
        }
    }
}

impl std::str::FromStr for KernelPath {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        KernelPath::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown kernel path {s:?}: expected avx512, avx2, neon or portable")
            })
    }
}

/// The number format of the encoder's `Linear` layers (QKV, attention, softmax, GELU
/// and layer norm stay f32 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout: the default, sentence-transformers' vectors to cosine > 0.9999.
    F32,
    /// The attention output and both FFN layers in int8: weights with one scale per
    /// output column, inputs with one scale per token, products summed exactly in
    /// i32 (QKV stays f32: see `CpuBert::load_with_kernel`). Vectors within cosine
    /// 0.997 of f32's; faster where the CPU has AVX-512 VNNI (README, "int8").
    Int8,
}

impl Precision {
    /// `f32` or `int8`, as `PAPERSCOUT_PRECISION` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }

    /// `PAPERSCOUT_PRECISION` (`f32`, the default, or `int8`); an error naming the
    /// variable for any other value.
    pub fn select() -> std::result::Result<Precision, String> {
        match std::env::var("PAPERSCOUT_PRECISION") {
            Ok(v) if !v.trim().is_empty() => v
                .parse::<Precision>()
                .map_err(|e| format!("PAPERSCOUT_PRECISION={v}: {e}")),
            _ => Ok(Precision::F32),
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "int8" => Ok(Precision::Int8),
            other => Err(format!("unknown precision {other:?}: expected f32 or int8")),
        }
    }
}

impl KernelPath {
    /// The int8 kernel of this path: VNNI on `avx512` where the CPU has it (else the
    /// AVX2 kernel), the AVX2 kernel on `avx2`, the plain Rust one on `neon` and
    /// `portable`.
    pub fn q8(self) -> Q8Micro {
        let first = |list: &[Q8Micro]| {
            list.iter()
                .copied()
                .find(|m| m.supported())
                .unwrap_or(Q8Micro::Portable)
        };
        match self {
            KernelPath::Avx512 => first(&[Q8Micro::Vnni, Q8Micro::Avx2]),
            KernelPath::Avx2 => first(&[Q8Micro::Avx2]),
            KernelPath::Neon | KernelPath::Portable => Q8Micro::Portable,
        }
    }
}

/// A right-hand matrix used many times (a `Linear` weight, `[n × k]` row-major, read as
/// its transpose), packed once at load: for the f32 kernels (one layout for every
/// path) or quantized for the int8 ones.
pub struct Weight {
    k: usize,
    n: usize,
    form: WeightForm,
}

enum WeightForm {
    F32(PackedB),
    /// The int8 form, for [`Precision::Int8`].
    Int8(PackedQ8),
}

impl Weight {
    /// `w` is `[n × k]` (out, in), packed for the f32 kernels. Panics if it is not
    /// `n · k` long (a caller bug).
    pub fn new(w: Vec<f32>, k: usize, n: usize) -> Weight {
        Self::with_precision(Precision::F32, w, k, n)
    }

    /// `w` (`[n × k]`, out, in) in `precision`: packed for the f32 kernels, or
    /// quantized and packed for the int8 ones.
    pub fn with_precision(precision: Precision, w: Vec<f32>, k: usize, n: usize) -> Weight {
        assert_eq!(w.len(), n * k, "weight of the wrong size");
        let form = match precision {
            Precision::F32 => WeightForm::F32(PackedB::new(k, n, &w, 1, k)),
            Precision::Int8 => WeightForm::Int8(PackedQ8::new(k, n, &w)),
        };
        Weight { k, n, form }
    }

    /// `out[rows×n] = input[rows×k] · wᵀ + bias` (rows `n` and `k` apart): a linear
    /// layer. The same bits as filling `out` with `bias` and [`Self::accumulate`].
    pub fn linear(
        &self,
        path: KernelPath,
        out: &mut [f32],
        input: &[f32],
        bias: &[f32],
        rows: usize,
    ) {
        assert_eq!(bias.len(), self.n, "bias of the wrong size");
        match &self.form {
            WeightForm::F32(packed) => {
                sgemm::sgemm_bias(path.micro(), rows, out, self.n, input, self.k, packed, bias)
            }
            WeightForm::Int8(w) => q8::linear_q8(path.q8(), rows, out, input, w, bias),
        }
    }

    /// `out[rows×n] += input[rows×k] · wᵀ` (rows `n` and `k` apart). f32 weights only:
    /// panics on an int8 one (int8 layers only run whole, as [`Self::linear`]).
    pub fn accumulate(&self, path: KernelPath, out: &mut [f32], input: &[f32], rows: usize) {
        match &self.form {
            WeightForm::F32(packed) => sgemm::sgemm(
                path.micro(),
                rows,
                out,
                self.n,
                true,
                input,
                self.k,
                packed,
                1.0,
            ),
            WeightForm::Int8(_) => panic!("Weight::accumulate: an int8 weight runs only whole"),
        }
    }
}

/// Query rows per block of the fused attention ([`attention_head`]): the block's
/// scores, `ATTENTION_ROWS × l` floats (45 KiB at l = 240), stay in L1/L2 from the
/// scores product through softmax to the context product instead of a whole text's
/// `l × l` (225 KiB) going out to L2 and back twice. 12, 24, 48 and 96 measured alike
/// on an AMD EPYC, all within noise of whole products.
const ATTENTION_ROWS: usize = 48;

/// Packed keys and values of one head, reused by every head and text of a batch.
pub struct AttentionScratch {
    keys: PackedB,
    values: PackedB,
}

impl AttentionScratch {
    pub fn new() -> Self {
        AttentionScratch {
            keys: PackedB::empty(),
            values: PackedB::empty(),
        }
    }
}

impl Default for AttentionScratch {
    fn default() -> Self {
        Self::new()
    }
}

/// One head's self-attention over one text of `l` tokens:
/// `out[l×d] = softmax(scale · q·kᵀ) · v`, with `q`, `k` and `v` rows `ld` apart (read
/// in place from a fused projection), `out` rows `out_rs` apart, `scores` at least
/// `l · l` floats of scratch.
///
/// The keys (transposed) and values are packed once, then the queries go through in
/// blocks of [`ATTENTION_ROWS`]: scores, softmax and context per block while its
/// scores are in L1. Each output has the same bits as the two whole products with
/// softmax between them (every sum runs over the same k in the same order).
///
/// Panics if a slice is too short for the shapes (a caller bug).
#[allow(clippy::too_many_arguments)]
pub fn attention_head(
    path: KernelPath,
    l: usize,
    d: usize,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    ld: usize,
    out: &mut [f32],
    out_rs: usize,
    scale: f32,
    scores: &mut [f32],
    scratch: &mut AttentionScratch,
) {
    let micro = path.micro();
    // kᵀ: element (p, j) = k[j·ld + p]; v as it is.
    scratch.keys.repack(d, l, k, 1, ld);
    scratch.values.repack(l, d, v, ld, 1);
    for r0 in (0..l).step_by(ATTENTION_ROWS) {
        let rows = ATTENTION_ROWS.min(l - r0);
        let s = &mut scores[..rows * l];
        sgemm::sgemm(
            micro,
            rows,
            s,
            l,
            false,
            &q[r0 * ld..],
            ld,
            &scratch.keys,
            scale,
        );
        softmax_rows(s, l);
        let o = &mut out[r0 * out_rs..];
        sgemm::sgemm(micro, rows, o, out_rs, false, s, l, &scratch.values, 1.0);
    }
}

/// `dst[m×n] = (accumulate ? dst : 0) + scale · a[m×k] · b[k×n]` on a chosen path, all
/// row-major with explicit strides (in elements): `a` rows are `a_rs` apart, `b` element
/// `(i, j)` is at `i·b_rs + j·b_cs` (so `b_rs = 1, b_cs = ld` reads a row-major `[n×k]`
/// matrix as its transpose, as `Linear` weights are stored), `dst` rows are `dst_rs`
/// apart. `b` is packed on the fly (for a matrix used once; [`Weight`] packs once).
///
/// Panics if a slice is too short for the shapes: that is a bug in the caller.
#[allow(clippy::too_many_arguments)]
pub fn matmul_on(
    path: KernelPath,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    a: &[f32],
    a_rs: usize,
    b: &[f32],
    b_rs: usize,
    b_cs: usize,
    scale: f32,
) {
    sgemm::sgemm_strided(
        path.micro(),
        m,
        n,
        k,
        dst,
        dst_rs,
        accumulate,
        a,
        a_rs,
        b,
        b_rs,
        b_cs,
        scale,
    )
}

/// Which variant the element-wise kernels run, decided once per process: the widest
/// this CPU has, capped by a forced `PAPERSCOUT_KERNEL` path (`avx2` holds them to
/// AVX2, `portable` to the plain body), so a forced path runs as a CPU with only those
/// instructions would. The bits are the same on every variant; only the speed changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum ElementWise {
    Avx512,
    Avx2,
    Portable,
}

fn element_wise() -> ElementWise {
    static VARIANT: std::sync::OnceLock<ElementWise> = std::sync::OnceLock::new();
    *VARIANT.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let forced = std::env::var("PAPERSCOUT_KERNEL")
                .ok()
                .and_then(|v| v.parse::<KernelPath>().ok());
            let avx2 =
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            match forced {
                Some(KernelPath::Portable) => ElementWise::Portable,
                Some(KernelPath::Avx2) if avx2 => ElementWise::Avx2,
                _ if avx2 && std::is_x86_feature_detected!("avx512f") => ElementWise::Avx512,
                _ if avx2 => ElementWise::Avx2,
                _ => ElementWise::Portable,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            ElementWise::Portable
        }
    })
}

/// The element-wise variant in use, for the CPU report: `avx512`, `avx2` or `portable`
/// (the plain body, as compiled for the target).
pub fn element_wise_variant() -> &'static str {
    match element_wise() {
        ElementWise::Avx512 => "avx512",
        ElementWise::Avx2 => "avx2",
        ElementWise::Portable => "portable",
    }
}

/// The element-wise kernels: one generic body, compiled three times (AVX-512, AVX2+FMA,
/// baseline) and chosen at run time by what the CPU has. The body's reductions keep
/// eight fixed lanes, Rust never fuses or reorders float operations, and the fused
/// multiply-adds it does want are written out (`mul_add`, one rounding on every CPU),
/// so every variant gives the same bits; only the vector width differs.
macro_rules! dispatch {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) => $generic:ident / $avx:ident / $avx512:ident) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            match element_wise() {
                // SAFETY: `element_wise` picks a variant only where the CPU has its features.
                #[cfg(target_arch = "x86_64")]
                ElementWise::Avx512 => unsafe { $avx512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                ElementWise::Avx2 => unsafe { $avx($($arg),*) },
                _ => $generic($($arg),*),
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx($($arg: $ty),*) {
            $generic($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn $avx512($($arg: $ty),*) {
            $generic($($arg),*)
        }
    };
}

dispatch! {
    /// Softmax of each row of `rows` (`width` floats each), in place.
    pub fn softmax_rows(rows: &mut [f32], width: usize) => softmax_rows_generic / softmax_rows_avx2 / softmax_rows_avx512
}

dispatch! {
    /// `x = gelu(x)` with the exact (erf) form BERT uses, in place.
    pub fn gelu_erf(x: &mut [f32]) => gelu_erf_generic / gelu_erf_avx2 / gelu_erf_avx512
}

dispatch! {
    /// `x = gelu(x)` with the tanh approximation, in place.
    pub fn gelu_tanh(x: &mut [f32]) => gelu_tanh_generic / gelu_tanh_avx2 / gelu_tanh_avx512
}

dispatch! {
    /// For each row (`gamma.len()` floats): `x = layer_norm(x + residual) · gamma + beta`.
    pub fn add_layer_norm(x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32)
        => add_layer_norm_generic / add_layer_norm_avx2 / add_layer_norm_avx512
}

#[inline(always)]
fn softmax_rows_generic(rows: &mut [f32], width: usize) {
    if width == 0 {
        return;
    }
    for row in rows.chunks_exact_mut(width) {
        let max = max_lanes(row);
        // Three passes, each a plain map or a lane-wise reduction, so each vectorises
        // (a running sum inside the exp loop would pin it to one lane).
        for v in row.iter_mut() {
            *v = exp(*v - max);
        }
        let inv = 1.0 / sum_lanes(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// Sum with eight independent accumulators: vectorisable, unlike a serial `f32` sum.
#[inline(always)]
fn sum_lanes(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Maximum with eight independent lanes (NaN-free input assumed: scores are finite).
#[inline(always)]
fn max_lanes(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, |a, b| if b > a { b } else { a });
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    acc.iter()
        .copied()
        .fold(tail, |a, b| if b > a { b } else { a })
}

#[inline(always)]
fn gelu_erf_generic(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

#[inline(always)]
fn gelu_tanh_generic(x: &mut [f32]) {
    // tanh(u) = 1 - 2 / (exp(2u) + 1)
    const C: f32 = 0.797_884_6; // sqrt(2 / pi)
    for v in x.iter_mut() {
        let u = C * (*v + 0.044_715 * *v * *v * *v);
        let t = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
        *v = 0.5 * *v * (1.0 + t);
    }
}

#[inline(always)]
fn add_layer_norm_generic(x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let width = gamma.len();
    if width == 0 {
        return;
    }
    for (row, res) in x.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
        for (v, r) in row.iter_mut().zip(res) {
            *v += *r;
        }
        let mean = sum_lanes(row) / width as f32;
        for v in row.iter_mut() {
            *v -= mean;
        }
        let mut sq = [0.0f32; 8];
        let chunks = row.chunks_exact(8);
        let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
        for c in chunks {
            for (a, v) in sq.iter_mut().zip(c) {
                *a += v * v;
            }
        }
        let var = (sq.iter().sum::<f32>() + tail) / width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = *v * inv * g + b;
        }
    }
}

/// `e^x` to about 1e-7 relative error, branch-free so loops over it vectorise
/// (Cephes' `expf` polynomial; inputs clamped to the finite, normal range).
///
/// The polynomial runs on fused multiply-adds (`mul_add`): one rounding each, so the
/// same bits wherever it runs (AVX2/AVX-512 `vfmadd`, aarch64 `fmla`, or the C
/// library's `fmaf` on an x86 CPU without FMA, the slow portable fallback), and about
/// 40 % fewer instructions than separate multiplies and adds (softmax spent a third of
/// attention's time here on an AMD EPYC).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Round x·log2(e) to the nearest integer with the 1.5·2^23 trick: after the add,
    // the low mantissa bits hold n, so both n as a float and n as bits come without a
    // rounding call or a float→int conversion (either would stop vectorisation).
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x.mul_add(LOG2E, MAGIC);
    let n = t - MAGIC;
    // r = x − n·ln 2 in two steps (LN2_HI has few mantissa bits, so n·LN2_HI is exact).
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let y = (p * r).mul_add(r, r) + 1.0;
    // 2^n from the exponent bits; n is within [-126, 127] after the clamp.
    let n_bits = t.to_bits().wrapping_sub(MAGIC.to_bits());
    let pow2 = f32::from_bits(n_bits.wrapping_add(127) << 23);
    y * pow2
}

/// `erf(x)` to about 3e-7 absolute error (Abramowitz & Stegun 7.1.26: 1.5e-7, plus f32
/// rounding), branch-free, its polynomial on fused multiply-adds as in [`exp`].
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / 0.327_591_1f32.mul_add(a, 1.0);
    let mut poly = 1.061_405_4f32;
    poly = poly.mul_add(t, -1.453_152);
    poly = poly.mul_add(t, 1.421_413_7);
    poly = poly.mul_add(t, -0.284_496_74);
    poly = poly.mul_add(t, 0.254_829_6);
    let y = (-(poly * t)).mul_add(exp(-a * a), 1.0);
    y.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std() {
        let mut worst = 0.0f64;
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let want = (x as f64).exp();
            let rel = ((exp(x) as f64 - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp(f32::NEG_INFINITY), exp(-87.0));
    }

    #[test]
    fn erf_matches_reference_values() {
        // erf values from tables (Abramowitz & Stegun, table 7.1). The bound: the
        // approximation's own 1.5e-7 plus f32 rounding (an ulp is 6e-8 at 0.5-1); erf(0.5)
        // comes out 2.2e-7 high since the polynomial runs on fused multiply-adds.
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
            (-1.0, -0.842_700_8),
        ] {
            assert!(
                (erf(x) - want).abs() < 3e-7,
                "erf({x}) = {} want {want}",
                erf(x)
            );
        }
    }

    /// Each element-wise kernel's AVX2 and AVX-512 variants give the generic body's
    /// bits, on rows of odd widths (tails) and of the encoder's; a variant this CPU
    /// cannot run is said, not passed.
    #[test]
    fn element_wise_variants_give_the_same_bits() {
        let mut rng = crate::rank::SplitMix64::new(7);
        let data: Vec<f32> = (0..384 * 7 + 13)
            .map(|_| (rng.next_u64() % 20_000) as f32 / 1000.0 - 10.0)
            .collect();
        let gamma: Vec<f32> = data[..384].iter().map(|v| 1.0 + v / 100.0).collect();
        let beta: Vec<f32> = data[384..768].iter().map(|v| v / 50.0).collect();
        /// Runs every element-wise kernel of one variant on (data, residual, gamma, beta).
        type Run = fn(&mut [f32], &[f32], &[f32], &[f32]);
        type Variants = [(&'static str, Option<Run>); 2];
        #[cfg(target_arch = "x86_64")]
        let variants: Variants = {
            let avx2 =
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            let avx512 = avx2 && std::is_x86_feature_detected!("avx512f");
            // SAFETY (both closures): called only where the CPU has the features.
            let run2: Run = |x, r, g, b| unsafe {
                softmax_rows_avx2(&mut x[..37 * 9], 37);
                gelu_erf_avx2(&mut x[400..1200]);
                gelu_tanh_avx2(&mut x[1200..1700]);
                add_layer_norm_avx2(&mut x[..384 * 6], &r[..384 * 6], g, b, 1e-12);
            };
            let run512: Run = |x, r, g, b| unsafe {
                softmax_rows_avx512(&mut x[..37 * 9], 37);
                gelu_erf_avx512(&mut x[400..1200]);
                gelu_tanh_avx512(&mut x[1200..1700]);
                add_layer_norm_avx512(&mut x[..384 * 6], &r[..384 * 6], g, b, 1e-12);
            };
            [
                ("avx2", avx2.then_some(run2)),
                ("avx512", avx512.then_some(run512)),
            ]
        };
        #[cfg(not(target_arch = "x86_64"))]
        let variants: Variants = [("avx2", None), ("avx512", None)];
        let residual: Vec<f32> = data.iter().rev().copied().collect();
        let mut want = data.clone();
        softmax_rows_generic(&mut want[..37 * 9], 37);
        gelu_erf_generic(&mut want[400..1200]);
        gelu_tanh_generic(&mut want[1200..1700]);
        add_layer_norm_generic(
            &mut want[..384 * 6],
            &residual[..384 * 6],
            &gamma,
            &beta,
            1e-12,
        );
        for (name, run) in variants {
            let Some(run) = run else {
                eprintln!("element-wise {name}: not tested on this CPU (features missing)");
                continue;
            };
            let mut got = data.clone();
            run(&mut got, &residual, &gamma, &beta);
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "element-wise {name} differs from the generic body");
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut rows = vec![1.0, 2.0, 3.0, -1000.0, 0.0, 1000.0];
        softmax_rows(&mut rows, 3);
        let e = [1f32.exp(), 2f32.exp(), 3f32.exp()];
        let s: f32 = e.iter().sum();
        for (got, want) in rows[..3].iter().zip(e.iter().map(|v| v / s)) {
            assert!((got - want).abs() < 1e-6);
        }
        assert!((rows[5] - 1.0).abs() < 1e-6 && rows[3] < 1e-30);
    }

    #[test]
    fn layer_norm_normalises_each_row() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0];
        let res = vec![0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0];
        add_layer_norm(&mut x, &res, &[1.0; 4], &[0.5; 4], 1e-12);
        // Row 0: mean 2.5, var 1.25.
        let want = [-1.5, -0.5, 0.5, 1.5].map(|d: f32| d / 1.25f32.sqrt() + 0.5);
        for (g, w) in x[..4].iter().zip(want) {
            assert!((g - w).abs() < 1e-5);
        }
        // Row 1 becomes 11..14: the same shape.
        for (g, w) in x[4..].iter().zip(want) {
            assert!((g - w).abs() < 1e-5);
        }
    }

    #[test]
    fn matmul_matches_naive() {
        let (m, n, k) = (5, 4, 3);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32 * 0.5 - 3.0).collect();
        // b as a row-major [n×k] matrix read transposed.
        let b: Vec<f32> = (0..n * k).map(|i| (i % 7) as f32 - 2.0).collect();
        for path in KernelPath::ALL.into_iter().filter(|p| p.check().is_ok()) {
            let mut dst = vec![1.0f32; m * n];
            matmul_on(path, m, n, k, &mut dst, n, true, &a, k, &b, 1, k, 2.0);
            for i in 0..m {
                for j in 0..n {
                    let dot: f32 = (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum();
                    assert!((dst[i * n + j] - (1.0 + 2.0 * dot)).abs() < 1e-4);
                }
            }
        }
    }
}
