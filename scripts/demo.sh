#!/usr/bin/env bash
# The main job on the bundled sample, on a fresh clone: fetch the model if missing,
# build the release binary, ingest data/sample-2026-05.jsonl (320 real arXiv papers of
# four listing days) into a fresh library, make a demo profile from three liked papers
# and an interest, print its top 10 of the latest day with the reason for each, and the
# papers similar to the first of them.
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
echo "== profile demo: three liked papers (neural rendering, 2026-05-26) and an interest"
"$bin" profile demo like 2605.24915 https://arxiv.org/abs/2605.25345v1 2605.25426
"$bin" profile demo interests "inverse rendering of materials and lighting"
"$bin" profile demo show
echo
echo "== recommend: the top 10 of the latest listing day for demo, with reasons"
"$bin" recommend demo --top 10 --no-record
echo
top=$("$bin" recommend demo --top 1 --no-record --format json | grep -m1 -o '"id": "[^"]*"' | cut -d'"' -f4)
echo "== papers similar to the first recommendation, $top"
"$bin" similar "$top" --top 5
echo
echo "== search: \"reducing hallucination in large language models with retrieval\", listed on 2026-05-29"
"$bin" search "reducing hallucination in large language models with retrieval" --top 5 --date 2026-05-29
echo
echo "== the same top 10 as an Atom feed (also: --format json, markdown, html)"
"$bin" recommend demo --top 10 --no-record --format atom | head -n 20
echo "..."
