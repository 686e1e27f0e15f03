#!/usr/bin/env bash
# The side-by-side reference for `paperscout embed`: sentence-transformers (PyTorch on
# the CPU) in a virtual environment of its own, .venv-bench/ in the repository root
# (ignored by git; a large download, PyTorch and its dependencies, several GB).
#
#   scripts/bench-reference.sh setup            # create .venv-bench once (idempotent)
#   scripts/bench-reference.sh run [ARGS...]    # ../shared/bench/reference_embed.py ARGS
#   scripts/bench-reference.sh compare [INPUT [ROUNDS]]   # side by side, alternating
#
# `run` passes its arguments on; without any it embeds the first 512 papers of
# arxiv_cs_2026-01.jsonl on 2 threads with models/all-MiniLM-L6-v2, the README's run.
# PAPERSCOUT_DATA (default ../shared/data) locates the corpus, as for the tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-bench"
say() { printf 'bench-reference: %s\n' "$*" >&2; }

setup() {
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch, sentence_transformers' 2>/dev/null; then
        say "$venv ready: $("$venv/bin/python" -c 'import torch, sentence_transformers as s; print("torch", torch.__version__, "sentence-transformers", s.__version__)')"
        return 0
    fi
    python3 -m venv "$venv" || { say "error: python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
    "$venv/bin/pip" install --quiet --upgrade pip
    # PyTorch first, then sentence-transformers (which would otherwise pick torch itself).
    "$venv/bin/pip" install --quiet torch || { say "error: pip could not install torch"; exit 1; }
    "$venv/bin/pip" install --quiet sentence-transformers numpy || { say "error: pip could not install sentence-transformers"; exit 1; }
    "$venv/bin/python" -c 'import torch, sentence_transformers as s; print("bench-reference: torch", torch.__version__, "sentence-transformers", s.__version__, "MKL", torch.backends.mkl.is_available())'
}

case "${1:-}" in
    setup) setup ;;
    run)
        shift
        [ -x "$venv/bin/python" ] || { say "error: $venv missing: run scripts/bench-reference.sh setup first"; exit 1; }
        data="${PAPERSCOUT_DATA:-$root/../shared/data}"
        script="$root/../shared/bench/reference_embed.py"
        [ -f "$script" ] || { say "error: $script missing (the shared bench directory beside the repository)"; exit 1; }
        if [ $# -eq 0 ]; then
            set -- --model "$root/models/all-MiniLM-L6-v2" \
                --input "$data/arxiv-daily-cs-2026h1/arxiv_cs_2026-01.jsonl" --limit 512 --threads 2
        fi
        exec "$venv/bin/python" "$script" "$@"
        ;;
    compare)
        # compare [INPUT [ROUNDS]]: `paperscout embed` (release build, whole process)
        # and the reference on the same first 512 records of INPUT, alternating, on 2
        # threads, ROUNDS times (default 2); each run's line carries the load average.
        shift
        data="${PAPERSCOUT_DATA:-$root/../shared/data}"
        input="${1:-$data/arxiv-daily-cs-2026h1/arxiv_cs_2026-03.jsonl}"
        rounds="${2:-2}"
        # PAPERSCOUT_BIN: another build of paperscout to time (default the release build).
        bin="${PAPERSCOUT_BIN:-$root/target/release/paperscout}"
        [ -x "$bin" ] || { say "error: $bin missing: cargo build --release first (or set PAPERSCOUT_BIN)"; exit 1; }
        [ -x "$venv/bin/python" ] || { say "error: $venv missing: run scripts/bench-reference.sh setup first"; exit 1; }
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        head -n 512 "$input" > "$tmp/in.jsonl"
        echo "input: first $(wc -l < "$tmp/in.jsonl") records of $input"
        RAYON_NUM_THREADS=2 "$bin" -v embed -q --input "$tmp/in.jsonl" --output "$tmp/warm.npy" 2>&1 | grep -E '^(cpu|flags|kernel path):' || true
        for r in $(seq 1 "$rounds"); do
            load="$(cut -d' ' -f1-3 /proc/loadavg)"
            start=$(date +%s.%N)
            RAYON_NUM_THREADS=2 "$bin" embed -q --input "$tmp/in.jsonl" --output "$tmp/out$r.npy"
            end=$(date +%s.%N)
            awk -v s="$start" -v e="$end" -v l="$load" -v r="$r" \
                'BEGIN { printf "round %d paperscout embed (whole process): secs=%.2f texts/s=%.2f load=%s\n", r, e - s, 512 / (e - s), l }'
            load="$(cut -d' ' -f1-3 /proc/loadavg)"
            start=$(date +%s.%N)
            line="$("$venv/bin/python" "$root/../shared/bench/reference_embed.py" --model "$root/models/all-MiniLM-L6-v2" \
                --input "$tmp/in.jsonl" --limit 512 --threads 2)"
            end=$(date +%s.%N)
            awk -v s="$start" -v e="$end" -v l="$load" -v r="$r" -v line="$line" \
                'BEGIN { printf "round %d %s (whole process: secs=%.2f texts/s=%.2f) load=%s\n", r, line, e - s, 512 / (e - s), l }'
        done
        ;;
    *) say "usage: scripts/bench-reference.sh setup | run [reference_embed.py ARGS...] | compare [INPUT [ROUNDS]]"; exit 2 ;;
esac
