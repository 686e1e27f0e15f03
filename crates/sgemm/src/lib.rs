//! Our own packed single-precision matrix product, one microkernel per instruction set:
//! AVX-512, AVX2+FMA, aarch64 NEON, and a portable body of the same algorithm that runs
//! anywhere (the reference the others are tested against, and the fallback one can
//! force). It replaced the `gemm` crate, which never takes an AVX-512 path on stable
//! Rust and, on AVX2, ran 20-25 % slower than our AVX2 kernel (README, issue 14).
//!
//! The layout is the classic one (Goto / BLIS): `C += A · B` is cut into `MR × NR`
//! tiles; `B` lives in *panels* of `NR` columns, each stored `k` rows of `NR`
//! contiguous floats, and `A` is copied into panels of `MR` rows stored column by
//! column, so the inner loop reads both with unit stride. Weights never change, so
//! [`PackedB`] packs a `Linear` layer's matrix once at model load and every product
//! only packs its activations. The x86 kernels read full row panels of `A` in place
//! instead (12 row streams; measured faster than packing on an Intel Xeon, and on an
//! AMD EPYC 25-35 % faster for the AVX2 kernel) and pack only the last, partial one.
//! `B` is taken in chunks of panels that stay in L2 while each row panel of `A`, in
//! L1, meets the chunk's panels in turn (`NC_PANELS`). [`sgemm_bias`] starts from a
//! bias row, so a `Linear` layer writes its output once per pass over `k`.
//!
//! Edge tiles (fewer than `MR` rows or `NR` columns left) run the same kernel on a
//! zero-padded tile and copy back only the valid part.

use std::cell::RefCell;
pub mod q8;

/// Rows of a tile (rows of `A` per panel).
pub const MR: usize = 12;
/// Columns of a tile (columns of `B` per panel): two 16-float AVX-512 vectors.
pub const NR: usize = 32;
/// The longest stretch of `k` per pass: a row panel of `A`, `MR × KC` floats (18 KiB at
/// 384), stays in L1 while the panels of a chunk of `B` stream past from L2.
/// 384 makes the encoder's k = 384 layers (QKV, attention out, FFN up) one pass, so
/// their output is written once, not read back and written again: 7 % faster as a
/// whole than 320 on that Xeon; 512 and 768 (fewer passes for FFN down) no faster.
const KC_MAX: usize = 384;
/// Panels of `B` per chunk on the x86 path (at most; chunks are made as even as this
/// allows): at `KC_MAX` a chunk of 12 is 576 KiB, which stays in a server core's L2
/// (1-2 MiB) while every row panel of `A` passes, so each product reads its `B` from
/// L3 once instead of once per block of rows. 6 to 48 measured alike on an AMD EPYC,
/// whose L3 feeds the kernel at full speed either way (README, issue 14).
const NC_PANELS: usize = 12;

/// An x86 microkernel reading `A` in place: `(kc, a, a_rs, b, c, ldc, acc, init, scale)`.
#[cfg(target_arch = "x86_64")]
type KernelRows =
    unsafe fn(usize, *const f32, usize, *const f32, *mut f32, usize, bool, *const f32, f32);

/// Which microkernel runs [`sgemm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Micro {
    /// 12×32 tiles in 24 zmm accumulators (x86_64 with `avx512f`).
    Avx512,
    /// 12×32 tiles as sub-tiles of 12 ymm accumulators (x86_64 with `avx2` and `fma`).
    Avx2,
    /// 12×32 tiles as four 6×16 sub-tiles of NEON registers (aarch64).
    Neon,
    /// Plain Rust, whatever the compiler makes of it.
    Portable,
}

impl Micro {
    /// Whether this CPU can run the kernel.
    pub fn supported(self) -> bool {
        match self {
            Micro::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                {
                    std::is_x86_feature_detected!("avx512f")
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    false
                }
            }
            Micro::Avx2 => {
                #[cfg(target_arch = "x86_64")]
                {
                    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    false
                }
            }
            Micro::Neon => cfg!(target_arch = "aarch64"),
            Micro::Portable => true,
        }
    }
}

/// A `k × n` right-hand matrix in panels of [`NR`] columns (the last one zero-padded):
/// panel `j` holds rows `0..k`, each `NR` floats, at `j · k · NR`.
#[derive(Debug, Clone)]
pub struct PackedB {
    k: usize,
    n: usize,
    /// The panels, and past them whatever a larger earlier [`Self::repack`] left.
    data: Vec<f32>,
}

impl PackedB {
    /// Pack `b`, whose element `(p, j)` (row `p < k`, column `j < n`) is at
    /// `p · b_rs + j · b_cs`. A `Linear` weight stored `[n × k]` (out, in) is read as
    /// its transpose with `b_rs = 1, b_cs = k`.
    ///
    /// Panics if `b` is too short for the shape: that is a bug in the caller.
    pub fn new(k: usize, n: usize, b: &[f32], b_rs: usize, b_cs: usize) -> Self {
        let mut packed = Self::empty();
        packed.repack(k, n, b, b_rs, b_cs);
        packed
    }

    /// An empty `0 × 0` matrix, to [`Self::repack`] into.
    pub fn empty() -> Self {
        PackedB {
            k: 0,
            n: 0,
            data: Vec::new(),
        }
    }

    /// Pack `b` as [`Self::new`] does, into this matrix's buffer: for right-hand
    /// sides that change every call (attention's keys and values), without an
    /// allocation each time.
    pub fn repack(&mut self, k: usize, n: usize, b: &[f32], b_rs: usize, b_cs: usize) {
        let len = n.div_ceil(NR) * k * NR;
        // A buffer that already has the room is reused as it is: packing writes every
        // float of the panels, so it need not be zeroed first.
        if self.data.len() < len {
            self.data.resize(len, 0.0);
        }
        pack_b_into(&mut self.data[..len], k, n, b, b_rs, b_cs);
        (self.k, self.n) = (k, n);
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// The panels, `n.div_ceil(NR) · k · NR` floats.
    fn panels(&self) -> &[f32] {
        &self.data[..self.n.div_ceil(NR) * self.k * NR]
    }
}

/// Pack `b` into `data`, `n.div_ceil(NR) · k · NR` floats: every float is written
/// (the last panel's columns past `n` as zeros), so `data` may hold anything before.
fn pack_b_into(data: &mut [f32], k: usize, n: usize, b: &[f32], b_rs: usize, b_cs: usize) {
    let panels = n.div_ceil(NR);
    if k == 0 || n == 0 {
        return;
    }
    assert!(
        b.len() > (k - 1) * b_rs + (n - 1) * b_cs,
        "pack_b: matrix too short"
    );
    for jp in 0..panels {
        let cols = NR.min(n - jp * NR);
        let panel = &mut data[jp * k * NR..(jp + 1) * k * NR];
        if cols < NR {
            for row in panel.chunks_exact_mut(NR) {
                row[cols..].fill(0.0);
            }
        }
        if b_cs == 1 {
            // Rows are contiguous (attention's values): one copy per row.
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                row[..cols].copy_from_slice(&b[p * b_rs + jp * NR..][..cols]);
            }
        } else if b_rs == 1 {
            // Columns are contiguous (a transposed weight, attention's keys).
            let done = transpose_blocks(panel, b, b_cs, jp * NR, cols, k);
            for jj in done..cols {
                let col = &b[(jp * NR + jj) * b_cs..][..k];
                for (p, &v) in col.iter().enumerate() {
                    panel[p * NR + jj] = v;
                }
            }
        } else {
            for p in 0..k {
                let row = &mut panel[p * NR..p * NR + cols];
                for (jj, v) in row.iter_mut().enumerate() {
                    *v = b[p * b_rs + (jp * NR + jj) * b_cs];
                }
            }
        }
    }
}

/// Write columns `first..first + cols` of `b` (contiguous, `b_cs` apart, `k` floats
/// each) into `panel`'s rows (`NR` apart) in blocks of 8 columns × 8 rows through
/// registers, where the CPU has AVX; returns how many leading columns it wrote whole
/// (0 elsewhere), leaving the rest to the caller. A scalar store per float cost
/// 2.4 µs for one head's keys of a 240-token text, as much as a twentieth of that
/// head's attention; this takes 0.9 (`pack_speed`).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn transpose_blocks(
    panel: &mut [f32],
    b: &[f32],
    b_cs: usize,
    first: usize,
    cols: usize,
    k: usize,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        let (c8, k8) = (cols / 8 * 8, k / 8 * 8);
        for j0 in (0..c8).step_by(8) {
            let at = (first + j0) * b_cs;
            assert!(k8 == 0 || b.len() >= at + 7 * b_cs + k8);
            assert!(panel.len() >= k * NR);
            for p0 in (0..k8).step_by(8) {
                // SAFETY: 8 columns of k8 ≥ p0 + 8 floats from `at`, b_cs apart, are in
                // `b` (asserted); rows p0..p0 + 8 of the panel hold columns
                // j0..j0 + 8 ≤ NR (asserted); the CPU has AVX (checked).
                unsafe {
                    avx2::transpose8(
                        b[at + p0..].as_ptr(),
                        b_cs,
                        panel[p0 * NR + j0..].as_mut_ptr(),
                        NR,
                    )
                };
            }
            // The rows past k8 of these 8 columns.
            for jj in j0..j0 + 8 {
                let col = &b[(first + jj) * b_cs..][..k];
                for p in k8..k {
                    panel[p * NR + jj] = col[p];
                }
            }
        }
        return c8;
    }
    0
}

thread_local! {
    /// Packed `A` blocks and (for unpacked right-hand sides) packed `B`: reused by every
    /// product on this thread, so the encoder allocates them once.
    static SCRATCH: RefCell<(Vec<f32>, PackedB)> = RefCell::new((Vec::new(), PackedB::empty()));
}

/// `dst[m×n] = (accumulate ? dst : 0) + scale · a[m×k] · b`, with `b` prepacked;
/// `a` rows are `a_rs` apart (columns contiguous), `dst` rows `dst_rs` apart.
///
/// Panics if a slice is too short or the shapes disagree: bugs in the caller.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    micro: Micro,
    m: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    a: &[f32],
    a_rs: usize,
    b: &PackedB,
    scale: f32,
) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        run(
            micro,
            m,
            b.n,
            b.k,
            dst,
            dst_rs,
            accumulate,
            a,
            a_rs,
            b.panels(),
            scale,
            None,
            &mut s.0,
        );
    });
}

/// `dst[m×n] = a[m×k] · b + bias` (`bias` added to every row), with `b` prepacked: a
/// `Linear` layer. The bias goes in with the first pass over `k`, so `dst` is written
/// once per pass instead of being filled with the bias first; the result has the same
/// bits as filling `dst` with `bias` and calling [`sgemm`] with `accumulate`.
///
/// Panics if a slice is too short or the shapes disagree: bugs in the caller.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_bias(
    micro: Micro,
    m: usize,
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    a_rs: usize,
    b: &PackedB,
    bias: &[f32],
) {
    assert!(bias.len() >= b.n, "sgemm: bias shorter than n");
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        run(
            micro,
            m,
            b.n,
            b.k,
            dst,
            dst_rs,
            false,
            a,
            a_rs,
            b.panels(),
            1.0,
            Some(bias),
            &mut s.0,
        );
    });
}

/// Like [`sgemm`] with `b` as strided memory (element `(p, j)` at `p · b_rs + j · b_cs`),
/// packed here into a per-thread buffer: for products whose right side changes every
/// call (attention).
#[allow(clippy::too_many_arguments)]
pub fn sgemm_strided(
    micro: Micro,
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
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let (apack, bpack) = &mut *s;
        bpack.repack(k, n, b, b_rs, b_cs);
        run(
            micro,
            m,
            n,
            k,
            dst,
            dst_rs,
            accumulate,
            a,
            a_rs,
            bpack.panels(),
            scale,
            None,
            apack,
        );
    });
}

#[allow(clippy::too_many_arguments)]
fn run(
    micro: Micro,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    a: &[f32],
    a_rs: usize,
    bpack: &[f32],
    scale: f32,
    bias: Option<&[f32]>,
    apack: &mut Vec<f32>,
) {
    if m == 0 || n == 0 {
        return;
    }
    // Without `accumulate`, the first pass over k starts each row from `bias` (when
    // given) instead of zero; later passes add to what the first one wrote.
    let bias = if accumulate { None } else { bias };
    assert!(
        dst.len() > (m - 1) * dst_rs + (n - 1),
        "sgemm: dst too short"
    );
    assert!(dst_rs >= n, "sgemm: dst rows overlap");
    if k == 0 {
        for r in 0..m {
            let row = &mut dst[r * dst_rs..r * dst_rs + n];
            match bias {
                _ if accumulate => {}
                Some(b) => row.copy_from_slice(&b[..n]),
                None => row.fill(0.0),
            }
        }
        return;
    }
    assert!(a.len() > (m - 1) * a_rs + (k - 1), "sgemm: lhs too short");
    let panels = n.div_ceil(NR);
    assert!(
        bpack.len() >= panels * k * NR,
        "sgemm: packed rhs too short"
    );
    assert!(
        micro.supported(),
        "sgemm: the {micro:?} kernel needs a CPU feature this one lacks"
    );
    let blocks = k.div_ceil(KC_MAX);
    let kc_len = k.div_ceil(blocks);
    let row_panels = m.div_ceil(MR);
    // The x86 kernels read A's full row panels in place, 12 rows side by side, instead
    // of packing them: the kernel's broadcasts come from 12 sequential streams either
    // way, and packing cost more than it saved (for one panel of B, attention's
    // probabilities · values, as much as the product itself). They pack only the last,
    // partial row panel (zero-padded); the other kernels pack every row panel.
    #[cfg(target_arch = "x86_64")]
    let kernel_rows: Option<KernelRows> = match micro {
        Micro::Avx512 => Some(avx512::kernel_rows_for(a_rs)),
        Micro::Avx2 => Some(avx2::kernel_rows),
        _ => None,
    };
    #[cfg(target_arch = "x86_64")]
    let in_place = if kernel_rows.is_some() { m / MR } else { 0 };
    #[cfg(not(target_arch = "x86_64"))]
    let in_place = 0;
    apack.clear();
    apack.resize((row_panels - in_place) * MR * kc_len, 0.0);
    // Where an in-place tile is partial (fewer than NR columns), the kernel writes all
    // of it here and only the valid part is copied on. One per call, not per tile: as
    // a fresh zeroed array per tile, its memset took 2.6 % of `paperscout embed` (perf,
    // AMD EPYC).
    #[cfg(target_arch = "x86_64")]
    let mut t = [0.0f32; MR * NR];
    // B is taken in chunks of at most NC_PANELS panels: a chunk stays in L2 while each
    // row panel of A (reused from L1) meets its panels in turn, so B comes from L3 once
    // per pass over k. (With blocks of 48 rows against all of B it came once per
    // block: twice per 96-row call of the FFN, 5 times for a 240-token text's QKV.)
    // The order of the sums is the same either way, and so are the bits.
    let chunk = panels.div_ceil(panels.div_ceil(NC_PANELS));
    let mut pc = 0;
    while pc < k {
        let kc = kc_len.min(k - pc);
        // The first pass over k writes dst (from the bias, or adds to it with
        // `accumulate`); later passes add.
        let acc = accumulate || pc > 0;
        let init = if acc { None } else { bias };
        if in_place < row_panels {
            pack_a(
                apack,
                &a[in_place * MR * a_rs + pc..],
                a_rs,
                m - in_place * MR,
                kc,
            );
        }
        for j0 in (0..panels).step_by(chunk) {
            let chunk = j0..(j0 + chunk).min(panels);
            for ip in 0..row_panels {
                for jp in chunk.clone() {
                    let cols = NR.min(n - jp * NR);
                    let bp = &bpack[jp * k * NR + pc * NR..][..kc * NR];
                    let init = init.map(|b| &b[jp * NR..jp * NR + cols]);
                    let c0 = ip * MR * dst_rs + jp * NR;
                    #[cfg(target_arch = "x86_64")]
                    if let Some(kernel_rows) = kernel_rows.filter(|_| ip < in_place) {
                        let a0 = ip * MR * a_rs + pc;
                        assert!(a.len() >= a0 + (MR - 1) * a_rs + kc);
                        let (c, ldc, direct) = if cols == NR {
                            assert!(dst.len() >= c0 + (MR - 1) * dst_rs + NR);
                            (dst[c0..].as_mut_ptr(), dst_rs, true)
                        } else {
                            (t.as_mut_ptr(), NR, false)
                        };
                        let init_row = match init {
                            Some(b) if direct => b.as_ptr(),
                            _ => std::ptr::null(),
                        };
                        // SAFETY: A rows a0 + i·a_rs .. + kc are in `a` (asserted), bp
                        // holds kc·NR floats, c is a full tile (asserted) or the local
                        // one, init_row null or NR floats (a full tile's bias); the CPU
                        // has the kernel's features (asserted above).
                        unsafe {
                            kernel_rows(
                                kc,
                                a[a0..].as_ptr(),
                                a_rs,
                                bp.as_ptr(),
                                c,
                                ldc,
                                acc && direct,
                                init_row,
                                scale,
                            )
                        };
                        if !direct {
                            for i in 0..MR {
                                let out = &mut dst[c0 + i * dst_rs..][..cols];
                                finish_row(out, &t[i * NR..][..cols], acc, init);
                            }
                        }
                        continue;
                    }
                    tile(
                        micro,
                        kc,
                        &apack[(ip - in_place) * MR * kc..][..kc * MR],
                        bp,
                        &mut dst[c0..],
                        dst_rs,
                        MR.min(m - ip * MR),
                        cols,
                        acc,
                        init,
                        scale,
                    );
                }
            }
        }
        pc += kc;
    }
}

/// Copy `mc × kc` of `a` (rows `a_rs` apart) into panels of `MR` rows, column-major
/// within a panel; rows past `mc` in the last panel are zeros.
fn pack_a(apack: &mut [f32], a: &[f32], a_rs: usize, mc: usize, kc: usize) {
    for ip in 0..mc.div_ceil(MR) {
        let panel = &mut apack[ip * MR * kc..(ip + 1) * MR * kc];
        let rows = MR.min(mc - ip * MR);
        if rows == MR {
            // A full panel: its MR rows read side by side, the panel written in order
            // (one contiguous store stream instead of MR strided ones).
            let r: [&[f32]; MR] = std::array::from_fn(|i| &a[(ip * MR + i) * a_rs..][..kc]);
            for (p, out) in panel.chunks_exact_mut(MR).enumerate() {
                for (o, row) in out.iter_mut().zip(&r) {
                    *o = row[p];
                }
            }
            continue;
        }
        for i in 0..rows {
            let row = &a[(ip * MR + i) * a_rs..][..kc];
            for (p, &v) in row.iter().enumerate() {
                panel[p * MR + i] = v;
            }
        }
        if rows < MR {
            for p in 0..kc {
                panel[p * MR + rows..(p + 1) * MR].fill(0.0);
            }
        }
    }
}

/// An edge tile's row `t` (computed from zero) into `out`: added to it (`acc`), added
/// to the bias row `init`, or copied.
#[inline]
fn finish_row(out: &mut [f32], t: &[f32], acc: bool, init: Option<&[f32]>) {
    match init {
        _ if acc => out.iter_mut().zip(t).for_each(|(o, v)| *o += v),
        Some(b) => {
            for ((o, v), b) in out.iter_mut().zip(t).zip(b) {
                *o = b + v;
            }
        }
        None => out.copy_from_slice(&t[..out.len()]),
    }
}

/// One `rows × cols` tile of dst (at most `MR × NR`):
/// `c = (acc ? c : init ? init row : 0) + scale · a·b`, `init` holding `cols` floats.
#[allow(clippy::too_many_arguments)]
#[inline]
fn tile(
    micro: Micro,
    kc: usize,
    ap: &[f32],
    bp: &[f32],
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    acc: bool,
    init: Option<&[f32]>,
    scale: f32,
) {
    let full = rows == MR && cols == NR;
    if full {
        let init = match init {
            Some(b) if !acc => b[..NR].as_ptr(),
            _ => std::ptr::null(),
        };
        assert!(c.len() >= (MR - 1) * ldc + NR);
        // SAFETY: ap holds kc·MR floats, bp kc·NR, c a full MR×NR tile at stride ldc
        // (asserted above and by the callers' slicing); the kernel is run only where
        // the CPU has its features (checked in `run`).
        unsafe {
            micro_tile(
                micro,
                kc,
                ap.as_ptr(),
                bp.as_ptr(),
                c.as_mut_ptr(),
                ldc,
                acc,
                init,
                scale,
            )
        }
        return;
    }
    // Edge tile: compute into a full zero-based tile, then add/copy the valid part.
    let mut t = [0.0f32; MR * NR];
    // SAFETY: as above, with the local tile as destination (stride NR).
    unsafe {
        micro_tile(
            micro,
            kc,
            ap.as_ptr(),
            bp.as_ptr(),
            t.as_mut_ptr(),
            NR,
            false,
            std::ptr::null(),
            scale,
        )
    }
    for i in 0..rows {
        finish_row(
            &mut c[i * ldc..i * ldc + cols],
            &t[i * NR..i * NR + cols],
            acc,
            init,
        );
    }
}

/// Every kernel computes `c = (acc ? c : init ? init : 0) + scale · a·b` on one tile,
/// where `init` (null or `NR` floats) is a row added to each of the tile's rows.
///
/// # Safety
/// `a` must hold `kc·MR` floats, `b` `kc·NR`, `c` an `MR × NR` tile at stride `ldc`,
/// `init` null or `NR` floats; the CPU must have the kernel's features.
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn micro_tile(
    micro: Micro,
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    acc: bool,
    init: *const f32,
    scale: f32,
) {
    match micro {
        #[cfg(target_arch = "x86_64")]
        Micro::Avx512 => avx512::kernel(kc, a, b, c, ldc, acc, init, scale),
        #[cfg(target_arch = "x86_64")]
        Micro::Avx2 => avx2::kernel(kc, a, b, c, ldc, acc, init, scale),
        #[cfg(target_arch = "aarch64")]
        Micro::Neon => neon::kernel(kc, a, b, c, ldc, acc, init, scale),
        _ => portable_kernel(kc, a, b, c, ldc, acc, init, scale),
    }
}

/// # Safety
/// As [`micro_tile`].
#[allow(clippy::too_many_arguments)]
unsafe fn portable_kernel(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    acc: bool,
    init: *const f32,
    scale: f32,
) {
    let a = std::slice::from_raw_parts(a, kc * MR);
    let b = std::slice::from_raw_parts(b, kc * NR);
    let mut t = [[0.0f32; NR]; MR];
    for (ac, bc) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (row, &av) in t.iter_mut().zip(ac) {
            for (x, &bv) in row.iter_mut().zip(bc) {
                *x += av * bv;
            }
        }
    }
    let init = (!init.is_null()).then(|| std::slice::from_raw_parts(init, NR));
    for (i, row) in t.iter().enumerate() {
        let out = std::slice::from_raw_parts_mut(c.add(i * ldc), NR);
        for (j, (o, &v)) in out.iter_mut().zip(row).enumerate() {
            *o = match init {
                _ if acc => *o + scale * v,
                Some(b) => b[j] + scale * v,
                None => scale * v,
            };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// `c = (acc ? c : init ? init row : 0) + scale · (lo | hi)`, row by row: a macro so
    /// it expands inside each kernel with the accumulators still in registers (as a
    /// function it was not inlined, and the 24 accumulators went through the stack).
    macro_rules! store {
        ($lo:expr, $hi:expr, $c:expr, $ldc:expr, $acc:expr, $init:expr, $scale:expr) => {{
            let (lo, hi, c, ldc, init) = ($lo, $hi, $c, $ldc, $init);
            let s = _mm512_set1_ps($scale);
            for i in 0..MR {
                let p = c.add(i * ldc);
                let (x0, x1) = if $acc {
                    (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)))
                } else if !init.is_null() {
                    (_mm512_loadu_ps(init), _mm512_loadu_ps(init.add(16)))
                } else {
                    _mm512_storeu_ps(p, _mm512_mul_ps(s, lo[i]));
                    _mm512_storeu_ps(p.add(16), _mm512_mul_ps(s, hi[i]));
                    continue;
                };
                _mm512_storeu_ps(p, _mm512_fmadd_ps(s, lo[i], x0));
                _mm512_storeu_ps(p.add(16), _mm512_fmadd_ps(s, hi[i], x1));
            }
        }};
    }

    /// [`kernel_rows`] for rows `a_rs` apart. The usual row lengths of sentence
    /// encoders' activations (hidden 384 or 768, feed-forward 1536 or 3072) get a copy
    /// of the loop compiled for that stride, where each row's address is a constant
    /// offset from one pointer. With the stride known only at run time, the 12 row
    /// pointers do not fit the integer registers beside the rest, and LLVM works them
    /// out again at every step: 16 integer instructions per 24 multiply-adds, which on
    /// Intel cores share the two ports of the AVX-512 multiply-adds (`llvm-mca
    /// -mcpu=icelake-server`: see the README, issue 14).
    pub fn kernel_rows_for(a_rs: usize) -> super::KernelRows {
        match a_rs {
            384 => kernel_rows::<384>,
            768 => kernel_rows::<768>,
            1536 => kernel_rows::<1536>,
            3072 => kernel_rows::<3072>,
            _ => kernel_rows::<0>,
        }
    }

    /// As [`kernel`], with `A` read in place: row `i` at `a + i·a_rs`, contiguous; `S`,
    /// where not 0, is `a_rs` known at compile time ([`kernel_rows_for`]).
    ///
    /// # Safety
    /// Rows `0..MR` of `A` must hold `kc` floats each; `S` is 0 or `a_rs`; otherwise as
    /// [`kernel`].
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel_rows<const S: usize>(
        kc: usize,
        a: *const f32,
        a_rs: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        acc: bool,
        init: *const f32,
        scale: f32,
    ) {
        debug_assert!(
            S == 0 || S == a_rs,
            "kernel_rows::<{S}> for rows {a_rs} apart"
        );
        let a_rs = if S == 0 { a_rs } else { S };
        prefetch_tile(c, ldc);
        let mut lo = [_mm512_setzero_ps(); MR];
        let mut hi = [_mm512_setzero_ps(); MR];
        let rows: [*const f32; MR] = std::array::from_fn(|i| a.add(i * a_rs));
        let mut b = b;
        for p in 0..kc {
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            for i in 0..MR {
                let ai = _mm512_set1_ps(*rows[i].add(p));
                lo[i] = _mm512_fmadd_ps(ai, b0, lo[i]);
                hi[i] = _mm512_fmadd_ps(ai, b1, hi[i]);
            }
            b = b.add(NR);
        }
        store!(lo, hi, c, ldc, acc, init, scale);
    }

    /// Ask for the tile's rows of `c` while the products run, so the final read-add-
    /// write (or write) of `c` does not wait for memory.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn prefetch_tile(c: *const f32, ldc: usize) {
        for i in 0..MR {
            _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc + 16) as *const i8);
        }
    }

    /// 12×32 tile: 24 accumulators, two `B` vectors per step, `A` broadcast from memory.
    ///
    /// # Safety
    /// As `micro_tile`; the CPU must have `avx512f`.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        acc: bool,
        init: *const f32,
        scale: f32,
    ) {
        prefetch_tile(c, ldc);
        let mut lo = [_mm512_setzero_ps(); MR];
        let mut hi = [_mm512_setzero_ps(); MR];
        let mut a = a;
        let mut b = b;
        for _ in 0..kc {
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            for i in 0..MR {
                let ai = _mm512_set1_ps(*a.add(i));
                lo[i] = _mm512_fmadd_ps(ai, b0, lo[i]);
                hi[i] = _mm512_fmadd_ps(ai, b1, hi[i]);
            }
            a = a.add(MR);
            b = b.add(NR);
        }
        store!(lo, hi, c, ldc, acc, init, scale);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// Rows of a sub-tile.
    const SR: usize = 3;

    /// Write the transpose of an 8 × 8 block: row `i` of `dst` (rows `dst_rs` apart)
    /// is column `i` of `src` (rows `src_rs` apart).
    ///
    /// # Safety
    /// `src` has 8 rows of 8 floats, `dst` room for 8 rows of 8; the CPU has `avx`.
    #[target_feature(enable = "avx")]
    pub unsafe fn transpose8(src: *const f32, src_rs: usize, dst: *mut f32, dst_rs: usize) {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_rs)));
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves.
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let out = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (i, v) in out.into_iter().enumerate() {
            _mm256_storeu_ps(dst.add(i * dst_rs), v);
        }
    }

    /// 12×32 tile from packed `A` (as `micro_tile`).
    ///
    /// # Safety
    /// As `micro_tile`; the CPU must have `avx2` and `fma`.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        acc: bool,
        init: *const f32,
        scale: f32,
    ) {
        strided(kc, a, 1, MR, b, c, ldc, acc, init, scale)
    }

    /// 12×32 tile with `A` read in place: row `i` at `a + i·a_rs`, contiguous.
    ///
    /// # Safety
    /// Rows `0..MR` of `A` must hold `kc` floats each; otherwise as [`kernel`].
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel_rows(
        kc: usize,
        a: *const f32,
        a_rs: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        acc: bool,
        init: *const f32,
        scale: f32,
    ) {
        strided(kc, a, a_rs, 1, b, c, ldc, acc, init, scale)
    }

    /// The 12×32 tile as four 3×32 sub-tiles, one after another over the whole `B`
    /// panel: 12 ymm accumulators, three broadcasts of `A` held and `B` loaded one
    /// vector at a time, AVX2's 16 registers. (6×16 sub-tiles, the usual AVX2 shape,
    /// ran 20-40 % slower here.) `A` element `(i, p)` is at `a + i·si + p·sp`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    // Indexed by `q`, the accumulators stay in registers.
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    unsafe fn strided(
        kc: usize,
        a: *const f32,
        si: usize,
        sp: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        acc: bool,
        init: *const f32,
        scale: f32,
    ) {
        for r0 in (0..MR).step_by(SR) {
            let mut t = [[_mm256_setzero_ps(); 4]; SR];
            let mut a0 = a.add(r0 * si);
            let mut a1 = a0.add(si);
            let mut a2 = a1.add(si);
            let mut bp = b;
            for _ in 0..kc {
                let x0 = _mm256_broadcast_ss(&*a0);
                let x1 = _mm256_broadcast_ss(&*a1);
                let x2 = _mm256_broadcast_ss(&*a2);
                for q in 0..4 {
                    let bq = _mm256_loadu_ps(bp.add(8 * q));
                    t[0][q] = _mm256_fmadd_ps(x0, bq, t[0][q]);
                    t[1][q] = _mm256_fmadd_ps(x1, bq, t[1][q]);
                    t[2][q] = _mm256_fmadd_ps(x2, bq, t[2][q]);
                }
                a0 = a0.add(sp);
                a1 = a1.add(sp);
                a2 = a2.add(sp);
                bp = bp.add(NR);
            }
            let s = _mm256_set1_ps(scale);
            for (i, row) in t.iter().enumerate() {
                let out = c.add((r0 + i) * ldc);
                for (q, &x) in row.iter().enumerate() {
                    let o = out.add(8 * q);
                    let v = if acc {
                        _mm256_fmadd_ps(s, x, _mm256_loadu_ps(o))
                    } else if !init.is_null() {
                        _mm256_fmadd_ps(s, x, _mm256_loadu_ps(init.add(8 * q)))
                    } else {
                        _mm256_mul_ps(s, x)
                    };
                    _mm256_storeu_ps(o, v);
                }
            }
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use super::{MR, NR};
    use std::arch::aarch64::*;

    /// 12×32 tile as four 6×16 sub-tiles: 24 accumulators of 4 floats each, four `B`
    /// vectors per step (NEON has 32 registers of 4 floats).
    ///
    /// # Safety
    /// As `micro_tile` (NEON is part of every aarch64 CPU).
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        acc: bool,
        init: *const f32,
        scale: f32,
    ) {
        const SR: usize = 6;
        const SC: usize = 16;
        for r0 in (0..MR).step_by(SR) {
            for c0 in (0..NR).step_by(SC) {
                let mut t = [[vdupq_n_f32(0.0); 4]; SR];
                for p in 0..kc {
                    let bp = b.add(p * NR + c0);
                    let bv = [
                        vld1q_f32(bp),
                        vld1q_f32(bp.add(4)),
                        vld1q_f32(bp.add(8)),
                        vld1q_f32(bp.add(12)),
                    ];
                    for (i, row) in t.iter_mut().enumerate() {
                        let av = vdupq_n_f32(*a.add(p * MR + r0 + i));
                        for (x, &bq) in row.iter_mut().zip(&bv) {
                            *x = vfmaq_f32(*x, av, bq);
                        }
                    }
                }
                let s = vdupq_n_f32(scale);
                for (i, row) in t.iter().enumerate() {
                    let out = c.add((r0 + i) * ldc + c0);
                    for (q, &x) in row.iter().enumerate() {
                        let o = out.add(4 * q);
                        let v = if acc {
                            vfmaq_f32(vld1q_f32(o), s, x)
                        } else if !init.is_null() {
                            vfmaq_f32(vld1q_f32(init.add(c0 + 4 * q)), s, x)
                        } else {
                            vmulq_f32(s, x)
                        };
                        vst1q_f32(o, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    pub(crate) fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Each microkernel this CPU runs (on aarch64, under an emulator too: see
    /// scripts/test.sh) against a naive f64 product, on shapes with edge tiles in both
    /// directions, k split into several passes and `B` into several chunks of panels
    /// (even and uneven); a kernel the CPU cannot run is printed as not tested.
    #[test]
    fn every_microkernel_matches_a_naive_product() {
        let shapes = [
            (1, 1, 1),
            (13, 31, 5),
            (12, 32, 16),
            (25, 65, 321),
            (149, 40, 700),
            (37, 32, 333),
            (24, 20, 9),
            (26, 421, 400),
            (13, 800, 40),
        ];
        let mut tested = 0;
        for micro in [Micro::Avx512, Micro::Avx2, Micro::Neon, Micro::Portable] {
            if !micro.supported() {
                println!("sgemm kernel {micro:?}: not tested on this CPU");
                continue;
            }
            for &(m, n, k) in &shapes {
                let (a_rs, dst_rs) = (k + 3, n + 5);
                let a = values(m * a_rs, 1);
                let w = values(n * k, 2); // [n×k], read transposed
                let init = values(m * dst_rs, 3);
                for accumulate in [false, true] {
                    let mut d1 = init.clone();
                    let packed = PackedB::new(k, n, &w, 1, k);
                    sgemm(
                        micro, m, &mut d1, dst_rs, accumulate, &a, a_rs, &packed, 0.5,
                    );
                    let mut d2 = init.clone();
                    sgemm_strided(
                        micro, m, n, k, &mut d2, dst_rs, accumulate, &a, a_rs, &w, 1, k, 0.5,
                    );
                    // With a bias: the bias row filled in first and accumulated into,
                    // to the bit, as the encoder's layers did before sgemm_bias.
                    let bias = values(n, 4);
                    let mut filled = init.clone();
                    for r in 0..m {
                        filled[r * dst_rs..r * dst_rs + n].copy_from_slice(&bias);
                    }
                    let mut with_bias = init.clone();
                    sgemm_bias(micro, m, &mut with_bias, dst_rs, &a, a_rs, &packed, &bias);
                    sgemm(micro, m, &mut filled, dst_rs, true, &a, a_rs, &packed, 1.0);
                    assert!(
                        with_bias
                            .iter()
                            .zip(&filled)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{micro:?} {m}x{n}x{k}: sgemm_bias differs from bias + sgemm"
                    );
                    for i in 0..m {
                        for j in 0..n {
                            let dot: f64 = (0..k)
                                .map(|p| a[i * a_rs + p] as f64 * w[j * k + p] as f64)
                                .sum();
                            let got = with_bias[i * dst_rs + j] as f64;
                            assert!((got - bias[j] as f64 - dot).abs() < 2e-6 * k as f64 + 1e-6);
                        }
                        assert_eq!(
                            with_bias[i * dst_rs + n..(i + 1) * dst_rs],
                            init[i * dst_rs + n..(i + 1) * dst_rs]
                        );
                    }
                    for i in 0..m {
                        for j in 0..dst_rs {
                            let at = i * dst_rs + j;
                            let expect = if j >= n {
                                init[at] as f64
                            } else {
                                let dot: f64 = (0..k)
                                    .map(|p| a[i * a_rs + p] as f64 * w[j * k + p] as f64)
                                    .sum();
                                (if accumulate { init[at] as f64 } else { 0.0 }) + 0.5 * dot
                            };
                            for d in [&d1, &d2] {
                                assert!(
                                    (d[at] as f64 - expect).abs() < 2e-6 * k as f64 + 1e-6,
                                    "{micro:?} {m}x{n}x{k} acc={accumulate} ({i},{j}): {} vs {expect}",
                                    d[at]
                                );
                            }
                        }
                    }
                }
            }
            println!("sgemm kernel {micro:?}: matches the naive product");
            tested += 1;
        }
        assert!(tested >= 1);
    }

    /// The row lengths that get a loop of their own (`avx512::kernel_rows`) give the
    /// same bits as the same rows one float further apart, which take the general loop.
    #[test]
    fn specialised_row_strides_give_the_same_bits() {
        for micro in [Micro::Avx512, Micro::Avx2, Micro::Neon, Micro::Portable] {
            if !micro.supported() {
                println!("sgemm kernel {micro:?}: not tested on this CPU");
                continue;
            }
            for stride in [384, 768, 1536, 3072] {
                let (m, n, k) = (27, 40, stride);
                let a = values(m * stride, 5);
                let mut wider = vec![0.0; m * (stride + 1)];
                for i in 0..m {
                    wider[i * (stride + 1)..][..k].copy_from_slice(&a[i * stride..][..k]);
                }
                let w = values(n * k, 6);
                let packed = PackedB::new(k, n, &w, 1, k);
                let mut d1 = vec![0.0; m * n];
                let mut d2 = vec![0.0; m * n];
                sgemm(micro, m, &mut d1, n, false, &a, stride, &packed, 0.5);
                sgemm(
                    micro,
                    m,
                    &mut d2,
                    n,
                    false,
                    &wider,
                    stride + 1,
                    &packed,
                    0.5,
                );
                assert!(
                    d1.iter().zip(&d2).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{micro:?}: rows {stride} apart differ from rows {} apart",
                    stride + 1
                );
                let dot: f64 = (0..k).map(|p| a[p] as f64 * w[p] as f64).sum();
                assert!((d1[0] as f64 - 0.5 * dot).abs() < 2e-6 * k as f64);
            }
        }
    }

    /// A buffer repacked smaller after a larger matrix (as attention does, texts longest
    /// first) holds the same panels as a fresh one, its padding columns zeros.
    #[test]
    fn a_reused_buffer_packs_as_a_fresh_one() {
        let mut reused = PackedB::empty();
        let big = values(400 * 77, 5);
        reused.repack(400, 77, &big, 77, 1);
        for (k, n) in [(37, 45), (5, 3), (384, 32), (1, 1)] {
            let b = values(k * n, (k + n) as u64);
            reused.repack(k, n, &b, 1, k);
            let fresh = PackedB::new(k, n, &b, 1, k);
            assert_eq!((reused.k(), reused.n()), (k, n));
            assert_eq!(reused.panels(), fresh.panels(), "{k}x{n}");
        }
    }

    /// Every layout packs as the plain definition says: transposed (a weight, or
    /// attention's keys), row-major (attention's values) and neither, with rows or
    /// columns further apart than the matrix is wide, and edge panels.
    #[test]
    fn every_layout_packs_to_the_panels_of_its_definition() {
        for (k, n) in [(32, 240), (33, 45), (7, 3), (240, 32), (1, 1), (16, 64)] {
            let ld = 3 * n.max(k) + 5;
            let b = values(k * ld + n * ld, (k * n) as u64);
            for (b_rs, b_cs) in [(1, ld), (ld, 1), (2, 2 * k + 1)] {
                let packed = PackedB::new(k, n, &b, b_rs, b_cs);
                let panels = packed.panels();
                for jp in 0..n.div_ceil(NR) {
                    for p in 0..k {
                        for jj in 0..NR {
                            let j = jp * NR + jj;
                            let want = if j < n { b[p * b_rs + j * b_cs] } else { 0.0 };
                            let got = panels[jp * k * NR + p * NR + jj];
                            assert_eq!(
                                got.to_bits(),
                                want.to_bits(),
                                "{k}x{n} strides ({b_rs}, {b_cs}): ({p}, {j})"
                            );
                        }
                    }
                }
            }
        }
    }

    /// What packing attention's keys (transposed) and values (row-major) costs, one
    /// head of a 240-token text out of a fused QKV projection:
    /// `cargo test --release -p paperscout-sgemm pack_speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement: prints packing throughput"]
    fn pack_speed() {
        let (l, d, ld) = (240, 32, 1152);
        let qkv = values(l * ld, 9);
        let mut keys = PackedB::empty();
        let mut vals = PackedB::empty();
        let reps = 20_000;
        for (name, transposed) in [("keys (transposed)", true), ("values (row-major)", false)] {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                if transposed {
                    keys.repack(d, l, std::hint::black_box(&qkv), 1, ld);
                } else {
                    vals.repack(l, d, std::hint::black_box(&qkv), ld, 1);
                }
            }
            let ns = t.elapsed().as_nanos() as f64 / reps as f64;
            println!("pack {name} {l}x{d}: {ns:.0} ns per head");
        }
    }

    /// The CPU's own ceiling for f32 products, to read the kernels' figures against:
    /// AVX-512 fused multiply-adds on 24 independent registers (no memory at all), on
    /// 1 and on 2 threads at once (2 vCPUs can be two cores or one core's two
    /// hyper-threads):
    /// `cargo test --release -p paperscout-sgemm fma_peak -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement: prints the AVX-512 FMA peak in GFLOP/s"]
    fn fma_peak() {
        #[cfg(target_arch = "x86_64")]
        {
            if !Micro::Avx512.supported() {
                println!("fma_peak: not measured on this CPU (no avx512f)");
                return;
            }
            use std::arch::x86_64::*;
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::needless_range_loop)]
            fn spin(iters: usize) -> f32 {
                // Indexed, summed as vectors: with an iterator and a reduction per
                // register the compiler rotated the registers and spilled some.
                let mut acc = [_mm512_setzero_ps(); 24];
                let a = _mm512_set1_ps(1.000_000_1);
                let b = _mm512_set1_ps(0.999_999_9);
                for _ in 0..iters {
                    for j in 0..24 {
                        acc[j] = _mm512_fmadd_ps(a, b, acc[j]);
                    }
                }
                let mut sum = _mm512_setzero_ps();
                for j in 0..24 {
                    sum = _mm512_add_ps(sum, acc[j]);
                }
                _mm512_reduce_add_ps(sum)
            }
            let iters = 100_000_000;
            for threads in [1, 2, 1, 2] {
                let start = std::time::Instant::now();
                let sum: f32 = std::thread::scope(|s| {
                    let runs: Vec<_> = (0..threads)
                        // SAFETY: avx512f checked above.
                        .map(|_| s.spawn(move || unsafe { spin(iters) }))
                        .collect();
                    runs.into_iter().map(|r| r.join().unwrap_or(0.0)).sum()
                });
                let flops = (threads * iters * 24 * 16 * 2) as f64;
                println!(
                    "fma_peak: {threads} thread(s): {:.1} GFLOP/s (checksum {sum:.3e})",
                    flops / start.elapsed().as_secs_f64() / 1e9
                );
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        println!("fma_peak: not measured on this CPU (not x86_64)");
    }
}
