"""Shared by every benchmark worker: shapes, timing (medians), peak memory, JSON out.

Workers run in separate processes (one per system, so roberta_lab, HF TF 4.37 and HF PyTorch
never share an interpreter) and print one JSON object per measurement on stdout. Peak memory is
the highest resident set size sampled every 2 ms while a measurement runs, minus the resident
size just before it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np

SHAPES = {
    # roberta-base: 12 layers x 768, 12 heads, 3072 MLP, 50265 words, 514 positions.
    "base": dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                 layer_norm_eps=1e-5),
    # The shared peers' "mini" shape (also close to the bundled mini models).
    "mini": dict(vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                 intermediate_size=1024, max_position_embeddings=514, type_vocab_size=1,
                 layer_norm_eps=1e-5),
}
BATCH, SEQ, SWEEP_SEQ = 8, 128, 64
# The bundled mini-mlm and the seed's sentence "The capital of France is <mask>." as its
# tokenizer encodes it (tests/test_bench_harness.py checks these ids). Every system gets the
# same ids, so the peers need not read a tokenizer.json written by a newer `tokenizers`.
BUNDLED_MINI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "data", "mini-mlm")
SEED_IDS = [[0, 289, 291, 273, 1938, 267, 4, 18, 2]]


def inputs(shape: str, batch: int = BATCH, seq: int = SEQ, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, SHAPES[shape]["vocab_size"], size=(batch, seq)).astype(np.int32)
    ids[:, 0], ids[:, -1] = 0, 2
    return ids, np.ones_like(ids)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory():
    """Yields a dict that gets 'peak_mb' (RSS growth) when the block ends."""
    result = {"peak_mb": 0.0}
    base = _rss_bytes()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mb"] = (max(peak[0], _rss_bytes()) - base) / 2**20


def measure(fn, repeats: int = 5, warmup: int = 1, keep: list | None = None) -> dict:
    """Median and spread of ``repeats`` timed calls after ``warmup`` untimed ones. With ``keep``
    (a list), each timed call's return value is appended to it (a slow measurement's result
    can then be checked without another untimed call)."""
    first = time.perf_counter()
    for _ in range(warmup):
        fn()
    first = time.perf_counter() - first
    times = []
    with peak_memory() as mem:
        for _ in range(repeats):
            t = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - t)
            if keep is not None:
                keep.append(value)
    return {"median_s": float(np.median(times)), "min_s": float(np.min(times)),
            "max_s": float(np.max(times)), "runs": len(times), "first_call_s": first,
            "peak_mb": round(mem["peak_mb"], 1)}


def emit(system: str, name: str, shape: str, result: dict, **extra) -> None:
    print(json.dumps({"system": system, "measure": name, "shape": shape, **result, **extra}))
    sys.stdout.flush()


def wanted(name: str, only: list[str] | None) -> bool:
    return not only or name in only
