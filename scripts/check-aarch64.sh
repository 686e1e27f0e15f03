#!/usr/bin/env bash
# The aarch64 (NEON) kernels, from this x86_64 machine:
#   1. `cargo check` of the kernel crate for aarch64-unknown-linux-gnu;
#   2. its tests run under qemu.
# What they need (the Rust target, Debian's gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user) is installed first when missing
# (scripts/install-test-deps.sh aarch64). Where it cannot be installed (no rustup, no
# apt-get, no network), the step says SKIPPED and why: this never fails for a missing
# tool, only for a real compile error or a failing test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=aarch64-unknown-linux-gnu
if [ "$(uname -m)" = aarch64 ]; then
    echo "check-aarch64: this machine is aarch64: the normal test run covered NEON"
    exit 0
fi
scripts/install-test-deps.sh aarch64 || true
if ! command -v rustup >/dev/null || ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "check-aarch64: SKIPPED: the Rust target $target is not installed" \
        "(rustup target add $target); the NEON kernels were not checked"
    exit 0
fi
cargo check --locked -p paperscout-sgemm --target "$target" --tests
echo "check-aarch64: paperscout-sgemm (NEON microkernel) compiles for $target"
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
        cargo test --locked -p paperscout-sgemm --target "$target"
    echo "check-aarch64: the NEON microkernel passed its tests under qemu-aarch64"
else
    echo "check-aarch64: SKIPPED: NEON tests under qemu need aarch64-linux-gnu-gcc and" \
        "qemu-aarch64 (Debian: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
fi
