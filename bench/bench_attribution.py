"""Attribution benchmarks, as ratios on this machine (issue 17's targets in brackets):

* integrated gradients, 64 steps, one 128-token sentence / 64 forward+backward passes run as
  one batch by hand (<= 1.5x);
* ``decompose`` of one logit / one forward pass, 128 tokens (<= 3x);
* exact patching of every single head (``patch_heads``, compiled) / ``attribution_patch``
  (compiled, and eager) (>= 20x).

    python bench/bench_attribution.py --shape mini          # bundled-model size (default)
    python bench/bench_attribution.py --shape base --only decompose,patching

Random weights of the given shape (common.SHAPES); one JSON line per measurement, and the
table in bench/results/attribution-<shape>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

from common import SEQ, SHAPES, emit, inputs, measure, wanted  # noqa: E402

SYSTEM = "roberta_lab"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="mini", choices=sorted(SHAPES))
    parser.add_argument("--only", default="")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--patch-seq", type=int, default=32)
    args = parser.parse_args()
    only = [x for x in args.only.split(",") if x]
    shape, reps = args.shape, args.repeats

    import keras
    import tensorflow as tf

    from roberta_lab import (RobertaConfig, TFRobertaForMaskedLM, attribution_patch, decompose,
                             integrated_gradients, patch_heads)
    from roberta_lab.engine.patching import logit_diff

    keras.utils.set_random_seed(0)
    model = TFRobertaForMaskedLM(RobertaConfig(**SHAPES[shape], hidden_dropout_prob=0.0,
                                               attention_probs_dropout_prob=0.0))
    ids, _ = inputs(shape, batch=1, seq=SEQ)
    target = (np.array([SEQ // 2]), np.array([7]))
    rows: dict[str, dict] = {}

    def record(name, result, **extra):
        rows[name] = dict(result, **extra)
        emit(SYSTEM, name, shape, result, **extra)

    if wanted("ig", only):
        ig_res = measure(lambda: integrated_gradients(model, ids, target, n_steps=64), reps)
        table = model.roberta.embeddings.word_embeddings
        batch_ids = np.repeat(ids, 64, axis=0)
        emb = tf.gather(table, batch_ids)
        index = tf.constant(np.stack([np.arange(64), np.full(64, SEQ // 2), np.full(64, 7)], 1),
                            tf.int32)

        def by_hand():  # 64 forward+backward passes as one batch, gradients at the embeddings
            with tf.GradientTape() as tape:
                tape.watch(emb)
                with model.hooks([("hook_embed", lambda x, hook: emb)]):
                    out = model(batch_ids)
                total = tf.reduce_sum(tf.gather_nd(out.logits, index))
            return tape.gradient(total, emb).numpy()
        hand = measure(by_hand, reps)
        record("ig_64_steps", ig_res, seq=SEQ)
        record("forward_backward_64_batched", hand, seq=SEQ,
               ratio=ig_res["median_s"] / hand["median_s"], target="<= 1.5")

    if wanted("decompose", only):
        fwd = measure(lambda: model(ids).logits.numpy(), reps * 3)
        dec = measure(lambda: decompose(model, ids, target), reps)
        dec_c = measure(lambda: decompose(model, ids, target, compile=True), reps)
        record("forward_one_sentence", fwd, seq=SEQ)
        record("decompose_one_logit", dec, seq=SEQ, ratio=dec["median_s"] / fwd["median_s"],
               target="<= 3")
        record("decompose_one_logit_compiled", dec_c, seq=SEQ,
               ratio=dec_c["median_s"] / fwd["median_s"], target="<= 3")

    if wanted("patching", only):
        pseq = args.patch_seq
        clean, _ = inputs(shape, batch=1, seq=pseq, seed=1)
        corr = clean.copy()
        corr[0, 1:pseq // 2] = inputs(shape, batch=1, seq=pseq, seed=2)[0][0, 1:pseq // 2]
        metric = logit_diff(7, 9, pseq - 2)
        exact = measure(lambda: patch_heads(model, clean, corr, metric, progress=False,
                                            compile=True), 1, 1)
        approx = measure(lambda: attribution_patch(model, clean, metric, corrupted=corr,
                                                   compile=True), reps)
        eager = measure(lambda: attribution_patch(model, clean, metric, corrupted=corr), reps)
        heads = model.config.num_hidden_layers * model.config.num_attention_heads
        record("exact_patching_all_heads_compiled", exact, seq=pseq, heads=heads)
        record("attribution_patching_all_heads_compiled", approx, seq=pseq,
               speedup=exact["median_s"] / approx["median_s"], target=">= 20")
        record("attribution_patching_all_heads_eager", eager, seq=pseq,
               speedup=exact["median_s"] / eager["median_s"], target=">= 20")

    out = HERE / "results" / f"attribution-{shape}"
    out.parent.mkdir(exist_ok=True)
    old = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() \
        else {}
    old.update(rows)
    out.with_suffix(".json").write_text(json.dumps(old, indent=1) + "\n")
    import datetime  # noqa: PLC0415

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"# Attribution benchmarks, {shape} shape (random weights)", "",
             f"Last run {datetime.date.today()} on {os.cpu_count()} CPUs, load average {load} "
             "at the end (a busy machine makes every ratio noisy).", "",
             "| measure | median s | ratio | target |", "|---|---|---|---|"]
    for name, r in old.items():
        ratio = r.get("ratio", r.get("speedup"))
        lines.append(f"| {name} | {r['median_s']:.3f} | "
                     f"{'' if ratio is None else f'{ratio:.2f}x'} | {r.get('target', '')} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
