#!/usr/bin/env bash
# The one prepared check to run ON a lent GPU machine (NVIDIA H200, CUDA 13.0 driver and
# libraries in its Python environment, no Rust), from the repository root, with what
# scripts/cuda-build.sh laid out under target/gpu/ carried there:
#
#   paperscout or paperscout.xz                       the CUDA build
#   model-f16/ (or model/: the f32 directory)         all-MiniLM-L6-v2
#   golden.jsonl (optional: tests/fixtures/golden/minilm-golden.jsonl travels anyway)
#   abstracts-10k.jsonl or abstracts-10k.jsonl.xz     10,000 arXiv papers
#
# The corpus beside a checkout ($PAPERSCOUT_DATA, default ../shared/data) does not travel
# to that machine: the inputs are read from target/gpu/ first, from the repository or
# the corpus only where they exist. It
#   1. puts the CUDA 13.0 libraries of python3's site-packages (nvidia/cu13/lib) on
#      LD_LIBRARY_PATH and checks that ldd resolves every library of the binary;
#   2. embeds the golden fixture with --dtype f32 and f16 and prints the worst cosine
#      against the sentence-transformers vectors (> 0.9999 for f32, > 0.999 for f16);
#   3. embeds the 10,000 abstracts with f32 and f16, printing texts/s, and the worst
#      cosine between the two runs;
# and writes all of it into $OUT/gpu-report.txt ($OUT/golden-*.jsonl beside it).
# Exits non-zero when a step failed; a failed step does not stop the later ones.
#
# On the device tool, after scripts/cuda-build.sh here (it prints the carry list, 58 MiB):
#   run(command="bash scripts/gpu-check.sh", timeout_s=540, carry=["target/gpu/paperscout.xz",
#       "target/gpu/model-f16", "target/gpu/golden.jsonl", "target/gpu/abstracts-10k.jsonl.xz"])
#
# Dry run on a machine without a GPU (what this script's author could test):
#   GPU_CHECK_DEVICE=cpu PAPERSCOUT_BIN=target/release/paperscout GPU_CHECK_LIMIT=200 \
#     OUT=/tmp/gpu-check scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

gpu="target/gpu"
out="${OUT:-target/gpu-check}"
device="${GPU_CHECK_DEVICE:-cuda}"
limit="${GPU_CHECK_LIMIT:-10000}"     # texts in the throughput bench
run_timeout="${GPU_CHECK_TIMEOUT:-120}" # seconds for one paperscout run (4 runs fit one call)
work="$(mktemp -d /tmp/gpu-check.XXXXXX)"
mkdir -p "$out"
report="$out/gpu-report.txt"
summary="$work/summary"
: >"$summary"

failures=0
fail() { echo "FAIL: $*" | tee -a "$summary"; failures=$((failures + 1)); }
note() { echo "$*" | tee -a "$summary"; }
section() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }

# Everything from here to the closing brace runs inside main, its output teed into the report.
main() {
section "machine"
date -u '+%Y-%m-%dT%H:%M:%SZ'
uname -srm
command -v nvidia-smi >/dev/null &&
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
python3 --version

# --- inputs ---------------------------------------------------------------------------
section "inputs"
unxz_to() { # unxz_to FILE.xz DEST: python3's lzma, which every python3 has; else xz
    python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$1" "$2" 2>/dev/null || xz -dc "$1" >"$2"
}
first_of() { # first_of PATH...: the first that exists
    local p
    for p in "$@"; do [ -e "$p" ] && { echo "$p"; return 0; }; done
    return 1
}
bin="${PAPERSCOUT_BIN:-}"
if [ -z "$bin" ]; then
    if [ -f "$gpu/paperscout" ]; then
        bin="$gpu/paperscout"
    elif [ -f "$gpu/paperscout.xz" ]; then
        bin="$work/paperscout"
        unxz_to "$gpu/paperscout.xz" "$bin" || bin=""
    fi
fi
[ -n "$bin" ] && [ -s "$bin" ] || {
    echo "FAIL: no binary: carry $gpu/paperscout (or .xz), made by scripts/cuda-build.sh"
    exit 1
}
chmod +x "$bin" 2>/dev/null
model="${GPU_CHECK_MODEL:-$(first_of "$gpu/model-f16" "$gpu/model" models/all-MiniLM-L6-v2)}" || {
    echo "FAIL: no model: carry $gpu/model-f16/ (scripts/cuda-build.sh) or $gpu/model/"
    exit 1
}
golden="$(first_of "$gpu/golden.jsonl" tests/fixtures/golden/minilm-golden.jsonl)" || {
    echo "FAIL: no golden fixture: carry $gpu/golden.jsonl"
    exit 1
}
abstracts="$work/abstracts.jsonl"
corpus="${PAPERSCOUT_DATA:-../shared/data}/arxiv-daily-cs-2026h1"
if [ -f "$gpu/abstracts-10k.jsonl" ]; then
    awk -v n="$limit" 'NR <= n' "$gpu/abstracts-10k.jsonl" >"$abstracts"
elif [ -f "$gpu/abstracts-10k.jsonl.xz" ]; then
    unxz_to "$gpu/abstracts-10k.jsonl.xz" "$work/abstracts-10k.jsonl"
    awk -v n="$limit" 'NR <= n' "$work/abstracts-10k.jsonl" >"$abstracts"
elif [ -d "$corpus" ]; then
    awk -v n="$limit" 'NR <= n' "$corpus"/arxiv_cs_2026-0{1,2,3}.jsonl >"$abstracts"
else
    echo "FAIL: no abstracts: carry $gpu/abstracts-10k.jsonl(.xz) (the corpus at $corpus does not travel)"
    exit 1
fi
n_texts=$(wc -l <"$abstracts")
echo "binary:    $bin ($(stat -c %s "$bin") bytes, sha256 $(sha256sum "$bin" | cut -c1-16))"
echo "model:     $model ($(python3 -c 'import json,struct,sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
print("weights " + "/".join(sorted({v["dtype"] for k, v in h.items() if k != "__metadata__"})))' "$model/model.safetensors"))"
echo "golden:    $golden ($(wc -l <"$golden") rows)"
echo "abstracts: $n_texts texts"
echo "device:    $device"

# --- 1. libraries ----------------------------------------------------------------------
section "CUDA libraries"
# The CUDA 13 wheels (nvidia-cublas, nvidia-cuda-runtime, ...) put their libraries in
# site-packages/nvidia/cu13/lib; older layouts have nvidia/<name>/lib. Search all.
cuda_libs="$(python3 - <<'EOF'
import glob, os, sys
want = ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libnvrtc.so.13"]
roots = [p for p in sys.path if os.path.isdir(os.path.join(p, "nvidia"))]
dirs = []
for name in want:
    hits = [h for r in roots for h in glob.glob(os.path.join(r, "nvidia", "**", name), recursive=True)]
    if not hits:
        print(f"not found in {roots}: {name}", file=sys.stderr)
        continue
    d = os.path.dirname(os.path.realpath(hits[0]))
    if d not in dirs:
        dirs.append(d)
print(":".join(dirs))
EOF
)"
echo "from python3's site-packages: ${cuda_libs:-none}"
# The driver (libcuda.so.1) is normally on the loader's path already; its folder on these
# machines is /usr/local/nvidia. A system toolkit, if any, comes last.
extra=""
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64; do
    [ -d "$d" ] && extra="$extra:$d"
done
export LD_LIBRARY_PATH="${cuda_libs}${extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
LD_LIBRARY_PATH="${LD_LIBRARY_PATH#:}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$bin"
if ldd "$bin" | grep -q 'not found'; then
    if [ "$device" = cuda ]; then
        fail "ldd: libraries not found (above)"
    else
        echo "(device $device: missing CUDA libraries are expected on a machine without CUDA)"
    fi
fi

# --- 2. golden vectors -------------------------------------------------------------------
# compare A B: worst and mean cosine between rows of the same id (json + math only).
compare() {
    python3 - "$@" <<'EOF'
import json, math, sys

def load(path, key="embedding"):
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                rows[o["id"]] = o[key]
    return rows

def cos(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else (1.0 if na == nb else 0.0)

a, b = load(sys.argv[1]), load(sys.argv[2])
common = [k for k in a if k in b]
if len(common) != len(a) or len(common) != len(b):
    print(f"ids differ: {len(a)} vs {len(b)} rows, {len(common)} in common")
if not common:
    print("worst cosine: n/a (no rows in common)")
    sys.exit(1)
if any(len(a[k]) != len(b[k]) for k in common):
    print("dimensions differ")
    sys.exit(1)
sims = sorted((cos(a[k], b[k]), k) for k in common)
mean = sum(s for s, _ in sims) / len(sims)
print(f"rows {len(sims)}  dim {len(a[common[0]])}  worst cosine {sims[0][0]:.7f} ({sims[0][1]})  mean {mean:.7f}")
print(f"WORST {sims[0][0]:.9f}")
EOF
}

# embed DTYPE INPUT OUTPUT: one timed paperscout run. Sets $secs (wall clock, process
# start to exit) and $job (paperscout's own "embedded texts=.. tokens=.. seconds=.." of
# the embedding job alone, without start-up and model load).
secs=""
job=""
embed() {
    local dtype="$1" input="$2" output="$3" t0 t1 rc log="$work/embed.log"
    rm -rf "$output" "$output.partial"
    local timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -f 'peak RSS %M KiB, %e s wall, %U s user')
    t0=$(now)
    timeout "$run_timeout" "${timer[@]}" "$bin" -v --device "$device" --dtype "$dtype" \
        --model "$model" embed -q -i "$input" -o "$output" 2>"$log"
    rc=$?
    t1=$(now)
    sed 's/\x1b\[[0-9;]*m//g' "$log" >"$log.txt" # tracing's colours
    grep -vE '^ +[0-9]+: |^ +at ' "$log.txt" | cut -c1-300 # no backtrace frames
    job="$(grep -oE 'embedded texts=[0-9]+ tokens=[0-9]+ seconds=[0-9.]+' "$log.txt" | tail -n 1)"
    secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
    echo "paperscout --device $device --dtype $dtype embed: exit $rc, $secs s wall"
    return $rc
}

# throughput N_TEXTS: one line of rates from $secs and $job.
throughput() {
    python3 - "$1" "$secs" "$job" <<'EOF'
import re, sys
n, wall, job = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
line = f"{n / wall:.0f} texts/s end to end ({n} texts in {wall:.2f} s, start-up and model load included)"
m = re.search(r"texts=(\d+) tokens=(\d+) seconds=([\d.]+)", job)
if m:
    t, tok, s = int(m[1]), int(m[2]), float(m[3])
    line += f"; embedding job alone {t / s:.0f} texts/s, {tok / s:.0f} tokens/s ({s:.2f} s)"
print(line)
EOF
}

# check DTYPE THRESHOLD: golden run and comparison
check_golden() {
    local dtype="$1" threshold="$2" o="$out/golden-$1.jsonl" line worst
    section "golden check, $dtype (pass: worst cosine > $threshold)"
    embed "$dtype" "$golden" "$o" || { fail "golden $dtype: paperscout failed"; return; }
    line="$(compare "$golden" "$o")"
    echo "$line" | grep -v '^WORST'
    worst="$(echo "$line" | awk '/^WORST/ {print $2}')"
    if [ -n "$worst" ] && python3 -c "import sys; sys.exit(0 if $worst > $threshold else 1)"; then
        note "PASS golden $dtype: worst cosine $worst"
    else
        fail "golden $dtype: worst cosine ${worst:-n/a} (want > $threshold)"
    fi
}
check_golden f32 0.9999
check_golden f16 0.999

# --- 3. throughput ---------------------------------------------------------------------
for dtype in f32 f16; do
    section "throughput, $dtype: $n_texts abstracts (title + \". \" + summary), one process, model load included"
    if embed "$dtype" "$abstracts" "$work/bench-$dtype.jsonl"; then
        rows=$(wc -l <"$work/bench-$dtype.jsonl")
        [ "$rows" -eq "$n_texts" ] || fail "bench $dtype: $rows vectors for $n_texts texts"
        note "THROUGHPUT $dtype: $(throughput "$n_texts")"
    else
        fail "bench $dtype: paperscout failed"
    fi
done
if [ -f "$work/bench-f32.jsonl" ] && [ -f "$work/bench-f16.jsonl" ]; then
    section "f16 vs f32 on the $n_texts abstracts (pass: worst cosine > 0.999)"
    line="$(compare "$work/bench-f32.jsonl" "$work/bench-f16.jsonl")"
    echo "$line" | grep -v '^WORST'
    worst="$(echo "$line" | awk '/^WORST/ {print $2}')"
    if python3 -c "import sys; sys.exit(0 if ${worst:-0} > 0.999 else 1)"; then
        note "PASS f16 vs f32 on $n_texts abstracts: worst cosine $worst"
    else
        fail "f16 vs f32 on $n_texts abstracts: worst cosine ${worst:-n/a}"
    fi
fi

section "summary"
cat "$summary"
echo "failures: $failures"
return $((failures > 0))
}

main 2>&1 | tee "$report"
rc=${PIPESTATUS[0]}
rm -rf "$work"
exit "$rc"
