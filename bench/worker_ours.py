"""roberta_lab's side of the benchmark: prints one JSON line per measurement.

    python bench/worker_ours.py --shape base|mini [--only forward,sweep,...] [--repeats 5]
        [--measures forward,sweep_all_heads,...] [--package-root DIR --system NAME]

``--package-root`` imports roberta_lab from another checkout (e.g. a ``git worktree`` of an
older commit), so one run can time a baseline beside the working tree with the same timing
code; ``--system`` labels its rows. ``--measures`` keeps only the named measurements of the
groups ``--only`` selects (the slow ones are skipped, not run and dropped).
"""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from common import BATCH, BUNDLED_MINI, SEED_IDS, SHAPES, SWEEP_SEQ, emit, inputs, measure, wanted  # noqa: E402

SYSTEM = "roberta_lab"
MEASURES: list[str] = []


def timed(name: str) -> bool:
    return not MEASURES or name in MEASURES


def import_time() -> dict:
    """Fresh interpreters: import tensorflow alone, then import roberta_lab and its models."""
    def run(stmt: str) -> float:
        code = f"import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), check=True)
        return float(out.stdout.strip().splitlines()[-1])
    tf_t = [run("import tensorflow") for _ in range(3)]
    lab_t = [run("import roberta_lab; roberta_lab.TFRobertaForMaskedLM") for _ in range(3)]
    return {"import_tensorflow_s": float(np.median(tf_t)),
            "import_roberta_lab_s": float(np.median(lab_t)),
            "extra_s": float(np.median(lab_t) - np.median(tf_t))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="mini", choices=sorted(SHAPES))
    parser.add_argument("--only", default="")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--measures", default="")
    parser.add_argument("--package-root", default="")
    parser.add_argument("--system", default="roberta_lab")
    parser.add_argument("--sweep-repeats", type=int, default=2,
                        help="timed sweeps after the first (tracing) one")
    args = parser.parse_args()
    only = [x for x in args.only.split(",") if x]
    shape, reps = args.shape, args.repeats
    global SYSTEM
    SYSTEM = args.system  # noqa: F841 (read by the emits below)
    MEASURES[:] = [x for x in args.measures.split(",") if x]
    if args.package_root:
        sys.path.insert(0, os.path.abspath(args.package_root))

    import tensorflow as tf

    import roberta_lab
    from roberta_lab import RobertaConfig, TFRobertaForCausalLM, TFRobertaForMaskedLM
    from roberta_lab.ablation import Metric, sweep_heads
    from roberta_lab.importance import michel_importance

    emit(SYSTEM, "package", shape, {"path": os.path.dirname(roberta_lab.__file__)})
    if wanted("import", only):
        emit(SYSTEM, "import", shape, import_time())
    if wanted("bundled", only):  # one sentence through the bundled mini-mlm, the seed's eager API
        bundled = TFRobertaForMaskedLM.from_pretrained(BUNDLED_MINI)
        seed_ids = np.array(SEED_IDS, np.int32)
        emit(SYSTEM, "bundled_mini_one_sentence", "bundled", measure(
            lambda: bundled(seed_ids).logits.numpy(), reps * 4))
        from roberta_lab import AutoTokenizer
        from roberta_lab.fill_mask import fill_mask
        tok = AutoTokenizer.from_pretrained(BUNDLED_MINI)
        emit(SYSTEM, "bundled_mini_fill_mask_text", "bundled", measure(
            lambda: fill_mask(bundled, tok, "The capital of France is <mask>."), reps * 4))
        # All 32 single-head ablations of the bundled model on the seed sentence (the ablation
        # widget's case: per-call overhead, not arithmetic, dominates) against the loop.
        paris = tok(" Paris", add_special_tokens=False)["input_ids"][0]
        mask_at = np.array([[SEED_IDS[0].index(4)]])
        bmetric = Metric("logprob", mask_at, np.array([[paris]]))
        sweep_heads(bundled, seed_ids, None, bmetric, progress=False)  # trace once
        r = measure(lambda: sweep_heads(bundled, seed_ids, None, bmetric, progress=False), reps * 4)
        batched = sweep_heads(bundled, seed_ids, None, bmetric, progress=False).metric
        emit(SYSTEM, "bundled_sweep_all_heads", "bundled", {**r, "conditions": batched.size})
        # The same with compile="xla" (one compile for this shape, then fused kernels).
        xla = lambda: sweep_heads(bundled, seed_ids, None, bmetric, progress=False, compile="xla")  # noqa: E731
        t = time.perf_counter()
        batched_xla = xla().metric
        compile_s = time.perf_counter() - t
        emit(SYSTEM, "bundled_sweep_all_heads_xla", "bundled", {
            **measure(xla, reps * 4), "conditions": batched_xla.size, "first_call_s": compile_s,
            "max_abs_diff_vs_tffunction": float(np.abs(batched_xla - batched).max())})
        bl, bh = bundled.config.num_hidden_layers, bundled.config.num_attention_heads
        bloop = tf.function(lambda i, hm: bundled(i, head_mask=hm).logits)

        def bundled_loop():
            out = []
            for layer in range(bl):
                for head in range(bh):
                    hm = np.ones((bl, bh), np.float32)
                    hm[layer, head] = 0
                    logits = bloop(seed_ids, hm)
                    out.append(float(bmetric.score(tf.gather(logits, mask_at, batch_dims=1),
                                                   np.arange(1)).numpy()[0]))
            return np.array(out)
        reference = bundled_loop()
        emit(SYSTEM, "bundled_sweep_all_heads_loop", "bundled", {
            **measure(bundled_loop, reps), "conditions": bl * bh,
            "max_abs_diff_vs_batched": float(np.abs(reference - batched).max())})
        from roberta_lab.training.evaluate import bfloat16_agreement
        emit(SYSTEM, "bundled_mini_bfloat16_probe_agreement", "bundled", bfloat16_agreement(bundled, tok))
    cfg = RobertaConfig(**SHAPES[shape])
    model = TFRobertaForMaskedLM(cfg)
    ids, mask = inputs(shape)
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads

    if wanted("forward", only):  # the seed's eager API (compiled behind it) and a tf.function
        if timed("forward"):
            emit(SYSTEM, "forward", shape, measure(
                lambda: model(ids, attention_mask=mask).logits.numpy(), reps))
        fn = tf.function(lambda i, a: model(i, attention_mask=a).logits)
        if timed("forward_tffunction"):
            emit(SYSTEM, "forward_tffunction", shape, measure(lambda: fn(ids, mask).numpy(), reps))
        if timed("forward_bfloat16"):
            model.set_compute_dtype("bfloat16")  # weights stay float32; matmuls in bfloat16
            emit(SYSTEM, "forward_bfloat16", shape, measure(
                lambda: model(ids, attention_mask=mask).logits.numpy(), reps))
            model.set_compute_dtype(None)
    if wanted("all_outputs", only):
        emit(SYSTEM, "forward_all_outputs", shape, measure(
            lambda: model(ids, attention_mask=mask, output_attentions=True,
                          output_hidden_states=True).logits.numpy(), reps))
    if wanted("run_with_cache", only):
        keep = lambda n: n.endswith(("hook_pattern", "hook_resid_pre", "hook_resid_mid",  # noqa: E731
                                     "hook_resid_post"))
        emit(SYSTEM, "run_with_cache_all", shape, measure(
            lambda: model.run_with_cache(ids, attention_mask=mask, names_filter=keep,
                                         compile=True), reps))
    if wanted("fill_mask", only):
        from roberta_lab.fill_mask import mask_logits

        one = ids[:1].copy()
        one[0, 60] = 4
        emit(SYSTEM, "fill_mask_positions_only", shape, measure(
            lambda: mask_logits(model, one, mask_token_id=4).numpy(), reps * 4))
        emit(SYSTEM, "fill_mask_full_logits", shape, measure(
            lambda: model(one).logits.numpy(), reps * 4))
    if wanted("sweep", only):
        # base: 8 x 64 tokens (as the peers); mini: one probe sentence of 16 tokens (the
        # ablation widget's case), where per-call overhead rather than arithmetic dominates.
        seq, rows = (SWEEP_SEQ, BATCH) if shape == "base" else (16, 1)
        sids, smask = inputs(shape, rows, seq, seed=1)
        rng = np.random.default_rng(0)
        positions = np.sort(rng.choice(np.arange(1, seq - 1), (rows, 8), replace=True), 1)
        metric = Metric("loss", positions, np.take_along_axis(sids, positions, 1))
        t = time.perf_counter()
        result = sweep_heads(model, sids, smask, metric, progress=False)
        first = time.perf_counter() - t  # includes tracing one graph per start layer
        r = measure(lambda: sweep_heads(model, sids, smask, metric, progress=False),
                    args.sweep_repeats, warmup=0)
        emit(SYSTEM, "sweep_all_heads", shape, {**r, "first_call_s": first, "conditions": L * H})
    if wanted("sweep", only) and timed("sweep_all_heads_bfloat16"):
        # The same sweep with the matmuls in bfloat16 (weights float32, cast on use), and its
        # agreement with float32's numbers (engine.precision.agreement).
        from roberta_lab.engine.precision import agreement, compute_dtype, native_bfloat16
        with compute_dtype(model, "bfloat16"):
            t = time.perf_counter()
            low = sweep_heads(model, sids, smask, metric, progress=False)
            first_bf = time.perf_counter() - t
            r = measure(lambda: sweep_heads(model, sids, smask, metric, progress=False),
                        args.sweep_repeats, warmup=0)
        emit(SYSTEM, "sweep_all_heads_bfloat16", shape, {
            **r, "first_call_s": first_bf, "conditions": L * H, "native_bfloat16": native_bfloat16(),
            **agreement(result.per_text, low.per_text, result.extra["baseline_per_text"],
                        low.extra["baseline_per_text"])})
    if wanted("sweep", only) and timed("sweep_all_heads_loop"):
        loop = tf.function(lambda i, a, hm: model(i, attention_mask=a, head_mask=hm).logits)

        def one_at_a_time():
            values = []
            for layer in range(L):
                for head in range(H):
                    hm = np.ones((L, H), np.float32)
                    hm[layer, head] = 0
                    logits = loop(sids, smask, hm)
                    values.append(metric.score(tf.gather(logits, positions, batch_dims=1),
                                               np.arange(rows)).numpy().mean())
            return np.array(values)
        loop(sids, smask, np.ones((L, H), np.float32))  # traced once; every call below is timed
        kept: list = []
        r = measure(one_at_a_time, 3 if shape == "base" else reps, warmup=0, keep=kept)
        reference = kept[0]
        emit(SYSTEM, "sweep_all_heads_loop", shape, {
            **r, "conditions": L * H,
            "max_abs_diff_vs_batched": float(np.abs(reference - result.metric).max())})
    if wanted("importance", only):
        sids, smask = inputs(shape, BATCH, SWEEP_SEQ, seed=1)
        positions = np.tile(np.arange(5, SWEEP_SEQ - 1, 8), (BATCH, 1))
        metric = Metric("loss", positions, np.take_along_axis(sids, positions, 1))
        emit(SYSTEM, "michel_importance", shape, measure(
            lambda: michel_importance(model, sids, smask, metric), max(2, reps // 2)))
    if wanted("generate", only):
        from roberta_lab.generation import generate

        dec = TFRobertaForCausalLM(RobertaConfig(**SHAPES[shape], is_decoder=True))
        prompt = ids[:1, :16]
        for steps in (64, 256):
            # compile="xla" is today's word; a baseline checkout may still have compiled=True.
            word = "compile" if "compile" in inspect.signature(generate).parameters else "compiled"
            xla = "xla" if word == "compile" else True
            for label, kw in (("cached_compiled", {word: xla}),
                              ("cached_eager", {word: False}),
                              ("nocache", dict(use_cache=False, **{word: False}))):
                if not timed(f"generate_{steps}_{label}"):
                    continue
                r = measure(lambda: generate(dec, prompt, max_new_tokens=steps, **kw), 3)
                r["per_token_ms"] = 1000 * r["median_s"] / steps
                emit(SYSTEM, f"generate_{steps}_{label}", shape, r)


if __name__ == "__main__":
    main()
