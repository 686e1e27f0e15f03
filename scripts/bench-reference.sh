#!/usr/bin/env bash
# The side-by-side reference for `paperscout embed`: sentence-transformers (PyTorch on
# the CPU) in a virtual environment of its own, .venv-bench/ in the repository root
# (ignored by git; a large download, PyTorch and its dependencies, several GB).
#
#   scripts/bench-reference.sh setup            # create .venv-bench once (idempotent)
#   scripts/bench-reference.sh run [ARGS...]    # ../shared/bench/reference_embed.py ARGS
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
    *) say "usage: scripts/bench-reference.sh setup | run [reference_embed.py ARGS...]"; exit 2 ;;
esac
