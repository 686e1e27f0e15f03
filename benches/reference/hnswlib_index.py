#!/usr/bin/env python3
"""Reference for `cargo bench --bench index`: hnswlib on the same vectors and queries.

Base = the MiniLM vectors of the corpus ($PAPERSCOUT_DATA/arxiv-daily-cs-2026h1, default data
directory ../shared/data from the repository root) for January-April,
queries = the May papers (the first --queries of them), M=16, ef_construction=200,
2 threads to build, 1 to search; recall@10 against exact (numpy) search.

Setup once, outside the repository: python3 -m venv ref-venv && ref-venv/bin/pip install hnswlib numpy
Run: ref-venv/bin/python benches/reference/hnswlib_index.py --queries 1000
"""
import argparse, os, pathlib, time
import numpy as np
import hnswlib

ap = argparse.ArgumentParser()
root = pathlib.Path(__file__).resolve().parents[2]
data = root / (os.environ.get("PAPERSCOUT_DATA") or "../shared/data")
ap.add_argument("--data", default=str(data / "arxiv-daily-cs-2026h1/minilm-embeddings"))
ap.add_argument("--queries", type=int, default=1000)
a = ap.parse_args()
d = pathlib.Path(a.data)
base = np.concatenate([np.load(d / f"arxiv_cs_2026-0{m}.npy") for m in (1, 2, 3, 4)]).astype(np.float32)
queries = np.load(d / "arxiv_cs_2026-05.npy")[: a.queries].astype(np.float32)
exact = np.argsort(-(queries @ base.T), axis=1)[:, :10]

index = hnswlib.Index(space="ip", dim=base.shape[1])
index.init_index(max_elements=len(base), M=16, ef_construction=200)
index.set_num_threads(2)
t = time.perf_counter()
index.add_items(base, np.arange(len(base)))
build = time.perf_counter() - t
index.set_num_threads(1)
print(f"hnswlib {hnswlib.__version__ if hasattr(hnswlib, '__version__') else ''}: base={len(base)} queries={len(queries)} build={build:.1f}s (2 threads)")
for ef in (32, 64, 128):
    index.set_ef(ef)
    t = time.perf_counter()
    labels = np.stack([index.knn_query(q, k=10)[0][0] for q in queries])
    secs = time.perf_counter() - t
    recall = np.mean([len(set(l) & set(e)) / 10 for l, e in zip(labels, exact)])
    print(f"  ef={ef}: recall@10={recall:.3f} queries/s={len(queries) / secs:.0f} (1 thread, one query per call)")
