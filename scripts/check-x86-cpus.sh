#!/usr/bin/env bash
# The kernel choice on x86 CPUs other than this machine's, under qemu's user-mode
# emulator, so that what an AVX2-only or an older CPU runs is tested, not only what a
# forced path runs on this one:
#   Haswell: AVX2 and FMA, no AVX-512: the default must be the `avx2` path;
#   Nehalem: SSE4.2, no AVX: the default must be the `portable` path.
# On each emulated CPU:
#   1. the sgemm crate's tests: the kernels the CPU has match a naive product, and the
#      others say "not tested on this CPU";
#   2. the kernel tests that run in-process (the CPU report, the products, attention,
#      the tiny model against Candle, the refusal of paths the CPU lacks);
#   3. `paperscout embed` itself on four abstracts of the bundled sample (the longest
#      one truncated): it must report the expected path, and its vectors must equal, to
#      the bit, this machine's own run with that path forced (which the normal test run
#      holds to sentence-transformers' golden vectors);
#   4. forcing a path the emulated CPU lacks fails with a clear error, not a panic.
# Slow under emulation (about 10 s per text), so the golden-vector and int8 tests are
# left to step 3 and the sgemm crate's int8 tests.
# Needs qemu-user 7.2 or later (the first with AVX2); installed when missing
# (scripts/install-test-deps.sh qemu). Where it cannot be installed or does not emulate
# AVX2, the step says SKIPPED and why; it fails only for a wrong result.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { echo "check-x86-cpus: $*"; }
if [ "$(uname -m)" != x86_64 ]; then
    say "this machine is not x86_64: SKIPPED"
    exit 0
fi
scripts/install-test-deps.sh qemu || true
if ! command -v qemu-x86_64 >/dev/null; then
    say "SKIPPED: qemu-x86_64 is missing (Debian: qemu-user); emulated CPUs not tested"
    exit 0
fi
# The binary the test run built (integration tests build it too): `cargo build` would
# resolve features without the dev-dependencies and rebuild most dependencies (7 min
# of a fresh CI run), while this is a no-op after scripts/test.sh's `cargo test`.
cargo test --locked --no-run --test integration
bin=target/debug/paperscout
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sample=data/sample-2026-05.jsonl
{
    head -n 3 "$sample"
    awk '{ print length($0) "\t" $0 }' "$sample" | sort -n | tail -n 1 | cut -f 2-
} >"$work/texts.jsonl"
# qemu warns once per run about host-only CPUID bits it does not emulate; drop those.
quiet() { grep -v '^qemu-x86_64: warning: TCG doesn' || true; }

check_cpu() {
    local cpu=$1 path=$2 lacks=$3
    local runner="qemu-x86_64 -cpu $cpu"
    export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$runner"
    # 1. The sgemm kernels; this also shows whether qemu emulates AVX2.
    cargo test --locked -p paperscout-sgemm -- --nocapture 2>&1 | quiet >"$work/sgemm.log" || {
        cat "$work/sgemm.log"
        say "$cpu: the sgemm tests failed"
        return 1
    }
    local want_avx2="sgemm kernel Avx2: not tested on this CPU"
    [ "$path" = avx2 ] && want_avx2="sgemm kernel Avx2: matches the naive product"
    if [ "$path" = avx2 ] && grep -q "sgemm kernel Avx2: not tested" "$work/sgemm.log"; then
        say "SKIPPED $cpu: this qemu ($(qemu-x86_64 --version | head -n 1)) does not emulate AVX2 (7.2 or later does)"
        return 0
    fi
    for want in "sgemm kernel Avx512: not tested on this CPU" "$want_avx2" \
        "sgemm kernel Portable: matches the naive product"; do
        grep -qF "$want" "$work/sgemm.log" || {
            cat "$work/sgemm.log"
            say "$cpu: expected '$want'"
            return 1
        }
    done
    local ran="the $path and portable kernels"
    [ "$path" = portable ] && ran="the portable kernel"
    say "$cpu: the sgemm tests passed ($ran; the others not tested there)"
    # 2. In-process kernel tests. Skipped: the two that start the binary (the child would
    # run on this machine's CPU, not the emulated one) and the two that embed the golden
    # rows on every path (minutes under emulation; step 3 covers them).
    cargo test --locked --test integration kernels:: -- \
        --skip a_forced_kernel_path_caps_the_element_wise_kernels_too \
        --skip the_precision_is_chosen_by_name_and_reported \
        --skip every_kernel_path_matches_the_golden_vectors \
        --skip int8_linear_layers_stay_near_the_golden_vectors_on_every_path 2>&1 | quiet
    unset CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER
    # 3. The binary: the default path on this CPU, and the same bits as this machine.
    $runner "$bin" -v embed --input "$work/texts.jsonl" --output "$work/emulated.npy" \
        2>&1 | quiet >"$work/embed.log"
    grep -q "^kernel path: $path: " "$work/embed.log" || {
        cat "$work/embed.log"
        say "$cpu: expected the $path path by default"
        return 1
    }
    PAPERSCOUT_KERNEL=$path "$bin" embed -q --input "$work/texts.jsonl" --output "$work/native.npy"
    cmp "$work/emulated.npy" "$work/native.npy" || {
        say "$cpu: its vectors differ from this machine's with PAPERSCOUT_KERNEL=$path"
        return 1
    }
    say "$cpu: \`paperscout embed\` took the $path path by default; its $(wc -l <"$work/texts.jsonl") vectors equal this machine's on that path, to the bit"
    # 4. A path this CPU lacks is refused, with the reason.
    local status=0
    PAPERSCOUT_KERNEL=$lacks $runner "$bin" embed -q --input "$work/texts.jsonl" \
        --output "$work/refused.npy" >"$work/refused.log" 2>&1 || status=$?
    if [ "$status" != 1 ] || ! grep -q "this CPU cannot run the $lacks kernels" "$work/refused.log"; then
        cat "$work/refused.log"
        say "$cpu: PAPERSCOUT_KERNEL=$lacks should fail with exit status 1 and the reason (got $status)"
        return 1
    fi
    say "$cpu: PAPERSCOUT_KERNEL=$lacks is refused: $(grep -o "this CPU cannot.*" "$work/refused.log")"
}

check_cpu Haswell avx2 avx512
check_cpu Nehalem portable avx2
