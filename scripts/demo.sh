#!/usr/bin/env bash
# The main job on the bundled sample, on a fresh clone: fetch the model if missing,
# build the release binary, embed data/sample-2026-05.jsonl, show what came out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/fetch-model.sh
cargo build --release --locked
out="target/demo"
mkdir -p "$out"
echo "embedding data/sample-2026-05.jsonl (320 papers) ..."
start=$(date +%s.%N)
target/release/paperscout -v embed --input data/sample-2026-05.jsonl --output "$out/sample-vectors.jsonl"
end=$(date +%s.%N)
python3 - "$out/sample-vectors.jsonl" "$start" "$end" <<'PY' || true
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
secs = float(sys.argv[3]) - float(sys.argv[2])
dim = len(rows[0]["embedding"])
print(f"{len(rows)} vectors of {dim} floats in {secs:.1f} s (model load included) -> {sys.argv[1]}")
print("first:", rows[0]["id"], [round(x, 4) for x in rows[0]["embedding"][:6]], "...")
PY
