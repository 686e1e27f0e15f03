#!/usr/bin/env bash
# Prove that the CUDA build compiles, on a machine without a GPU or a CUDA install:
# nvcc and the CUDA headers come from PyPI (nvidia-cuda-* wheels) into an ignored
# virtual environment, then `cargo check --features cuda` compiles Candle's CUDA
# kernels with that nvcc. Linking (and running) needs the CUDA libraries of a real
# CUDA machine, so this stops at check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cuda_release="${CUDA_WHEELS_VERSION:-13.5.37}"
venv="target/cuda-toolchain"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "nvidia-cuda-nvcc==$cuda_release" "nvidia-cuda-runtime==$cuda_release" \
    "nvidia-cuda-crt==$cuda_release" nvidia-cuda-cccl
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
export CUDA_ROOT="$site/nvidia/cu13"
[ -x "$CUDA_ROOT/bin/nvcc" ] || { echo "cuda-check: no nvcc at $CUDA_ROOT/bin/nvcc" >&2; exit 1; }
export PATH="$CUDA_ROOT/bin:$PATH"
# cudarc 0.19 knows CUDA releases up to 13.4; the 13.5 headers are compatible with it.
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13040}"
# No GPU to ask: compile the kernels for Hopper (sm_90), as on the lent H200 machines.
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
# Candle's build script runs nvcc on half the cores by default (cudaforge); all of them
# take this step from 10.6 to 9.2 minutes on a fresh 2-core machine.
export CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-$(nproc)}"
nvcc --version | tail -n 2
cargo check --locked --features cuda --lib --bins --target-dir target/cuda-check
echo "cuda-check: cargo check --features cuda passed"
