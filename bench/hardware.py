"""The machine's own limits, measured in the same run: TensorFlow's float32 matmul peak and the
rate at which memory is read. Prints one JSON line.

The matmul peak is the best of several large square multiplies; memory bandwidth is a reduction
over an array much larger than the caches (the weights of a model are read the same way).
"""

from __future__ import annotations

import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    fn = tf.function(lambda x, y: tf.matmul(x, y))
    fn(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(a, b).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def read_gbs(megabytes: int = 1024, repeats: int = 8) -> float:
    x = tf.ones([megabytes * 2**20 // 4], tf.float32)
    fn = tf.function(lambda v: tf.reduce_sum(v))
    fn(x).numpy()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x).numpy()
        best = min(best, time.perf_counter() - t)
    return megabytes * 2**20 / best / 1e9


def vector_isa() -> str:
    """The CPU's widest vector and bfloat16 instruction sets (they decide the matmul peak and
    whether bfloat16 matmuls run natively: AVX-512 BF16 or AMX, or are emulated)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "unknown"
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return " ".join(flag for flag in wanted if flag in flags) or "none of " + " ".join(wanted)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    print(json.dumps({"system": "machine", "measure": "hardware",
                      "matmul_gflops": round(matmul_gflops(), 1), "read_gb_s": round(read_gbs(), 1),
                      "cpu": cpu_model(), "cores": os.cpu_count(), "isa": vector_isa(),
                      "tensorflow": tf.__version__, "numpy": np.__version__,
                      "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")}))
