#!/usr/bin/env bash
# The whole test suite on a fresh clone: fetch the model and the test browser if
# missing, then run every test (unit tests, the one integration-test binary, doc tests).
#
# Tests that need the corpus (arXiv papers and their reference vectors, too large for
# the repository) read it from $PAPERSCOUT_DATA, default ../shared/data beside the
# repository. Without it they are ignored, and one line says how many and why; with
# CI set they must run, so a missing corpus fails at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

data="${PAPERSCOUT_DATA:-../shared/data}"
case "$data" in
    /*) ;;
    *) data="$PWD/$data" ;;
esac
if [ -d "$data" ]; then
    data="$(cd "$data" && pwd -P)"
fi
export PAPERSCOUT_DATA="$data"
# build.rs decides cfg(paperscout_corpus) from the same marker; this variable makes
# cargo rerun it when the corpus appears or goes.
if [ -f "$data/arxiv-daily-cs-2026h1/SOURCE.md" ]; then
    export PAPERSCOUT_DATA_PRESENT=yes
else
    export PAPERSCOUT_DATA_PRESENT=no
    if [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; then
        echo "paperscout tests: CI needs the corpus at $data (PAPERSCOUT_DATA): it is missing" >&2
        exit 1
    fi
fi

scripts/fetch-model.sh
# The browser test drives Debian's headless Chromium; install it when missing. Where it
# cannot be installed the browser test says so and skips, except under CI, where it fails.
if ! scripts/install-test-deps.sh; then
    if [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; then
        exit 1
    fi
    echo "paperscout tests: chromium could not be installed; the browser test will skip" >&2
fi

if [ "$PAPERSCOUT_DATA_PRESENT" = no ]; then
    n=$(grep -rhoF 'ignore = "needs the corpus' tests src | wc -l)
    echo "paperscout tests: $n tests need the corpus (arXiv cs papers Jan-May 2026 + reference" \
        "MiniLM vectors, ~90 MB) at $data, which is missing: they are ignored in this run;" \
        "get it (README, Tests) and set PAPERSCOUT_DATA"
fi
cargo test --locked "$@"
# The matrix-product kernels (their own crate): each microkernel this CPU runs against
# a naive product.
cargo test --locked -p paperscout-sgemm
scripts/check-aarch64.sh
# The kernel choice on emulated x86 CPUs without AVX-512 (Haswell) and without AVX
# (Nehalem): what an AVX2-only or older CPU runs by default, to the bit.
scripts/check-x86-cpus.sh
