#!/usr/bin/env bash
# Build the CUDA binary HERE, on a machine without a GPU or a CUDA install, for the lent
# GPU machines (NVIDIA H200, CUDA 13.0 driver, CUDA libraries in their Python
# environment, no Rust, 64 MiB per call), and lay out everything that travels there
# under target/gpu/:
#
#   paperscout (.xz)           stripped `cargo build --release --features cuda` binary
#   model-f16/                 models/all-MiniLM-L6-v2 with its weights stored as float16
#                              (Candle converts dtypes on load: it serves --dtype f32 too)
#   golden.jsonl               tests/fixtures/golden/minilm-golden.jsonl
#   abstracts-10k.jsonl (.xz)  the first 10,000 papers of the corpus,
#                              $PAPERSCOUT_DATA/arxiv-daily-cs-2026h1 (default data
#                              directory ../shared/data, relative paths from the repository root)
#
# scripts/gpu-check.sh runs there with these files; the .xz copies are what travels (the
# plain ones together are 115 MiB), and the script prints the `carry` list of one call.
# Everything comes from PyPI into an ignored virtual environment
# (target/cuda13.0-toolchain); no root needed; idempotent.
#
# Why CUDA 13.0 wheels: the kernels are compiled to PTX at build time, and PTX from an
# nvcc newer than the driver (13.0 there) may not load. Why a libcuda stub: Candle turns
# on cudarc's `dynamic-linking`, so the binary links against libcuda.so, the driver,
# which no PyPI wheel ships; a link-only stub (same SONAME, libcuda.so.1, exporting the
# cu* functions of cudarc's driver bindings) stands in at link time, and the real driver
# is loaded at run time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'cuda-build: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

start=$(date +%s)

# --- 1. CUDA 13.0 from PyPI: the 13.0 releases of each wheel (cuRAND's is 10.4.0) ----
venv="target/cuda13.0-toolchain"
requirements=(
    nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cuda-nvrtc==13.0.88
    nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35
    # for the float16 copy of the model
    safetensors numpy
)
stamp="$venv/.paperscout-requirements"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
    say "installing ${requirements[*]} into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    printf '%s' "${requirements[*]}" >"$stamp"
fi
py="$venv/bin/python"
site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cuda="$site/nvidia/cu13"
[ -x "$cuda/bin/nvcc" ] || die "no nvcc at $cuda/bin/nvcc"
case "$("$cuda/bin/nvcc" --version)" in
    *"release 13.0,"*) ;;
    *) die "$cuda/bin/nvcc is not CUDA 13.0" ;;
esac

# --- 2. a link directory: unversioned names for the linker, plus the libcuda stub ----
# The wheels ship only the versioned files (libcublas.so.13, ...), and `-lcublas` looks
# for libcublas.so. The links keep the SONAME, so the binary asks for libcublas.so.13.
link_root="$(pwd)/$venv/link"
mkdir -p "$link_root/lib/stubs"
for lib in cudart cublas cublasLt curand nvrtc; do
    real=("$cuda"/lib/lib$lib.so.[0-9]*)
    [ -f "${real[0]}" ] || die "no lib$lib.so.* in $cuda/lib"
    ln -sfn "${real[0]}" "$link_root/lib/lib$lib.so"
done

# cudarc's driver bindings are the list of what the stub must export: every `fn cu*`,
# of all CUDA versions (a superset is harmless; the stub is never run).
cudarc_src="$(cargo metadata --locked --format-version 1 --features cuda 2>/dev/null |
    "$py" -c 'import json, sys, os
pkgs = json.load(sys.stdin)["packages"]
print(next(os.path.dirname(p["manifest_path"]) for p in pkgs if p["name"] == "cudarc"))')" ||
    die "cargo metadata did not name cudarc"
bindings="$cudarc_src/src/driver/sys/mod.rs"
[ -f "$bindings" ] || die "no driver bindings at $bindings"
stub="$link_root/lib/stubs/libcuda.so"
if [ ! -f "$stub" ] || [ "$bindings" -nt "$stub" ]; then
    stub_c="$link_root/libcuda-stub.c"
    {
        echo '/* Link-only stand-in for the CUDA driver (libcuda.so.1); generated from'
        echo " * $bindings by scripts/cuda-build.sh."
        echo ' * Every function returns CUDA_ERROR_STUB_LIBRARY (34) should it ever run. */'
        grep -ohE '\bfn cu[A-Za-z0-9_]+' "$bindings" | sed 's/^fn //' | sort -u |
            sed 's/.*/int &(void) { return 34; }/'
    } >"$stub_c"
    cc -shared -fPIC -O0 -Wl,-soname,libcuda.so.1 -o "$stub.tmp" "$stub_c"
    mv "$stub.tmp" "$stub"
    say "libcuda stub: $(nm -D --defined-only "$stub" | grep -c ' T cu') functions"
fi
ln -sfn libcuda.so "$link_root/lib/stubs/libcuda.so.1" # for ldd below; never run

# --- 3. what travels besides the binary: the f16 model and the inputs ---------------
out="target/gpu"
mkdir -p "$out"
model="models/all-MiniLM-L6-v2"
[ -f "$model/model.safetensors" ] || scripts/fetch-model.sh
f16="$out/model-f16"
if [ ! -f "$f16/model.safetensors" ] || [ "$model/model.safetensors" -nt "$f16/model.safetensors" ]; then
    rm -rf "$f16.tmp"
    mkdir -p "$f16.tmp"
    # Everything but the weights (and the model card) as it is: config.json,
    # tokenizer.json, 1_Pooling/, sentence_bert_config.json, ...
    (cd "$model" && find . -type f ! -name model.safetensors ! -name README.md) |
        while read -r f; do
            mkdir -p "$f16.tmp/$(dirname "$f")"
            cp "$model/$f" "$f16.tmp/$f"
        done
    "$py" - "$model/model.safetensors" "$f16.tmp/model.safetensors" <<'EOF'
import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

src, dst = sys.argv[1], sys.argv[2]
tensors = {}
with safe_open(src, framework="numpy") as f:
    metadata = f.metadata()
    for name in f.keys():
        t = f.get_tensor(name)
        tensors[name] = t.astype(np.float16) if t.dtype == np.float32 else t
save_file(tensors, dst, metadata=metadata)
EOF
    rm -rf "$f16"
    mv "$f16.tmp" "$f16"
    say "wrote $f16 (float16 weights)"
fi

golden_src="tests/fixtures/golden/minilm-golden.jsonl"
[ -f "$golden_src" ] || die "no $golden_src"
install -m 0644 "$golden_src" "$out/golden.jsonl"
data="${PAPERSCOUT_DATA:-../shared/data}/arxiv-daily-cs-2026h1"
abstracts="$out/abstracts-10k.jsonl"
if [ ! -f "$abstracts" ] || [ "$(wc -l <"$abstracts")" -ne 10000 ]; then
    [ -d "$data" ] || die "no corpus at $data: set PAPERSCOUT_DATA (see README, Tests)"
    # January and February hold 7,202 papers; March tops them up to 10,000.
    awk 'NR <= 10000' "$data"/arxiv_cs_2026-0{1,2,3}.jsonl >"$abstracts.tmp"
    [ "$(wc -l <"$abstracts.tmp")" -eq 10000 ] || die "fewer than 10,000 papers in $data"
    mv "$abstracts.tmp" "$abstracts"
fi

# --- 4. the binary --------------------------------------------------------------------
unset CUDA_HOME CUDA_PATH CUDNN_LIB
export CUDA_ROOT="$cuda"                # headers and the wheels' own lib/
export CUDA_TOOLKIT_ROOT_DIR="$link_root" # lib/ and lib/stubs/ for the linker (cudarc's build.rs)
export PATH="$cuda/bin:$PATH"
export CUDARC_CUDA_VERSION=13000        # bindings of the driver's release: nothing newer
export CUDA_COMPUTE_CAP=90              # no GPU to ask: Hopper (sm_90), the H200
build_start=$(date +%s)
cargo build --release --locked --features cuda --bin paperscout --target-dir target/cuda-release
say "cargo build took $(( $(date +%s) - build_start )) s"
strip -o "$out/paperscout.tmp" target/cuda-release/release/paperscout
mv "$out/paperscout.tmp" "$out/paperscout"

# xz: the binary is mostly kernels (PTX text and the fatbin of Candle's quantized
# kernels) and shrinks from 54 MiB to 8 MiB; gpu-check.sh unpacks with python3's lzma.
for f in "$out/paperscout" "$abstracts"; do
    if [ ! -f "$f.xz" ] || [ "$f" -nt "$f.xz" ]; then
        xz -T0 -6 -c "$f" >"$f.xz.tmp"
        mv "$f.xz.tmp" "$f.xz"
    fi
done

# --- 5. report ------------------------------------------------------------------------
echo "== $out/paperscout: $(stat -c %s "$out/paperscout") bytes (unstripped: $(stat -c %s target/cuda-release/release/paperscout))"
echo "== ldd, with the wheels' lib/ and the stub on LD_LIBRARY_PATH (on the GPU machine:"
echo "   its python3's site-packages/nvidia/cu13/lib, and the real driver for libcuda.so.1)"
LD_LIBRARY_PATH="$cuda/lib:$link_root/lib/stubs" ldd "$out/paperscout" || true
echo "== NEEDED"
objdump -p "$out/paperscout" | awk '/NEEDED/ {print "  " $2}'
echo "== newest glibc / libstdc++ symbol versions it asks for"
objdump -T "$out/paperscout" | grep -oE 'GLIBC_[0-9.]+|GLIBCXX_[0-9.]+|CXXABI_[0-9.]+' | sort -uV |
    awk -F_ '{last[$1] = $0} END {for (k in last) print "  " last[k]}'
echo "== sizes under $out"
du -b -s "$out"/* | sort -k2 | awk '{printf "  %10d  %s\n", $1, $2}'
du -b -s "$out" | awk '{printf "  %10d  total (%.1f MiB)\n", $1, $1 / 1048576}'
# A device call carries the working tree (tracked and untracked files git does not
# ignore) plus the `carry` paths: 64 MiB in all.
carry=("$out/paperscout.xz" "$out/model-f16" "$out/golden.jsonl" "$abstracts.xz")
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- |
    tail -n 1 | cut -f1) || tree=0
bytes=$(( tree + $(du -cb -s "${carry[@]}" | tail -n 1 | cut -f1) ))
echo "== one device call: working tree $tree + carry ${carry[*]} = $bytes bytes" \
    "($(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}') MiB of 64)"
if [ "$bytes" -le $((64 * 1048576)) ]; then
    echo "   carry: [$(printf '"%s", ' "${carry[@]}" | sed 's/, $//')]"
    echo "   command: bash scripts/gpu-check.sh"
else
    echo "   over 64 MiB: carry $out/model-f16 and $out/golden.jsonl in a first call, then the"
    echo "   rest in a second call on the still-warm machine (ignored paths stay between calls)"
fi
say "done in $(( $(date +%s) - start )) s"
