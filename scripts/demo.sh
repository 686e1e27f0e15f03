#!/usr/bin/env bash
# The main job on the bundled sample, on a fresh clone: fetch the model if missing,
# build the release binary, ingest data/sample-2026-05.jsonl (320 real arXiv papers of
# four listing days) into a fresh library, then show what the library answers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/fetch-model.sh
cargo build --release --locked
bin=target/release/paperscout
lib=target/demo/library
rm -rf "$lib"
export PAPERSCOUT_LIBRARY="$lib"

echo "== ingest: embedding 320 papers"
"$bin" ingest data/sample-2026-05.jsonl
echo
echo "== library stats"
"$bin" library stats
echo
echo "== ingest again: nothing new, nothing re-embedded"
"$bin" ingest data/sample-2026-05.jsonl
echo
echo "== papers similar to 2605.24915 (Snapshot Polarimetric Display Inverse Rendering)"
"$bin" similar https://arxiv.org/abs/2605.24915v1 --top 5
echo
echo "== search: \"reinforcement learning for robot manipulation\", listed on 2026-05-29"
"$bin" search "reinforcement learning for robot manipulation" --top 5 --date 2026-05-29
