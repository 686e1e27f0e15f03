#!/usr/bin/env bash
# The whole test suite on a fresh clone: fetch the model if missing, then run every
# test (unit tests, the one integration-test binary, doc tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/fetch-model.sh
cargo test --locked "$@"
