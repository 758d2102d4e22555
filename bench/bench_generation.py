"""Per-token greedy generation time: compiled cached (XLA, plain graph), eager cached, no cache.

Random weights; prints one JSON line per (shape, new tokens, engine) with the median over
``--runs`` runs (the compiled engines are warmed up, i.e. traced, first; eager ones too).

    .venv/bin/python bench/bench_generation.py --shapes tiny            # CPU-friendly
    .venv/bin/python bench/bench_generation.py --shapes base --new 64   # roberta-base shape
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from roberta_lab import RobertaConfig, TFRobertaForCausalLM  # noqa: E402
from roberta_lab.generation import generate  # noqa: E402

SHAPES = {
    "tiny": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37),
    "mid": dict(vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                intermediate_size=1024),
}
ENGINES = {"graph": dict(compiled="graph"), "xla": dict(compiled=True),
           "eager": dict(compiled=False), "no_cache": dict(use_cache=False)}


def config(shape: str) -> RobertaConfig:
    if shape == "base":
        return RobertaConfig.roberta_base(is_decoder=True)
    return RobertaConfig(is_decoder=True, **SHAPES[shape])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=["tiny"], choices=["tiny", "mid", "base"])
    ap.add_argument("--new", nargs="+", type=int, default=[64, 256])
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    for shape in args.shapes:
        keras.utils.set_random_seed(0)
        cfg = config(shape)
        model = TFRobertaForCausalLM(cfg)
        prompt = np.random.default_rng(0).integers(3, cfg.vocab_size, (args.batch, args.prompt))
        for new in args.new:
            for engine in args.engines:
                kw = dict(max_new_tokens=new, **ENGINES[engine])
                start = time.perf_counter()
                generate(model, prompt, **kw)  # warm-up: traces / compiles
                first = time.perf_counter() - start
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    generate(model, prompt, **kw)
                    times.append(time.perf_counter() - start)
                med = statistics.median(times)
                print(json.dumps({"shape": shape, "new_tokens": new, "engine": engine,
                                  "batch": args.batch, "prompt": args.prompt,
                                  "median_s": round(med, 4),
                                  "ms_per_token": round(1000 * med / new, 3),
                                  "first_call_s": round(first, 2)}), flush=True)


if __name__ == "__main__":
    main()
