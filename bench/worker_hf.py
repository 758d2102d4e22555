"""The peers' side of the benchmark (run in the peers' virtual environment, see setup_peers.sh):
HF transformers 4.37.2 with TensorFlow 2.15 (the seed's classes) or with PyTorch.

    python bench/worker_hf.py --framework tf|pt --shape base|mini [--only ...] [--repeats 5]

Same measurement names and JSON schema as worker_ours.py. HF 4.37's TF RoBERTa raises
NotImplementedError for any head_mask, which the sweep records.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import BATCH, BUNDLED_MINI, SEED_IDS, SHAPES, SWEEP_SEQ, emit, inputs, measure, wanted  # noqa: E402


def run_tf(shape: str, only: list[str], reps: int) -> None:
    import tensorflow as tf
    from transformers import RobertaConfig, TFRobertaForCausalLM, TFRobertaForMaskedLM

    system = "hf-4.37-tf"
    if wanted("bundled", only):
        bundled = TFRobertaForMaskedLM.from_pretrained(BUNDLED_MINI)
        seed_ids = np.array(SEED_IDS, np.int32)
        emit(system, "bundled_mini_one_sentence", "bundled", measure(
            lambda: bundled(seed_ids).logits.numpy(), reps * 4))
    cfg = RobertaConfig(**SHAPES[shape])
    model = TFRobertaForMaskedLM(cfg)
    ids, mask = inputs(shape)
    model(ids, attention_mask=mask)
    fn = tf.function(lambda i, a: model(i, attention_mask=a, training=False).logits)
    if wanted("forward", only):
        emit(system, "forward", shape, measure(lambda: model(ids, attention_mask=mask).logits.numpy(), reps))
        emit(system, "forward_tffunction", shape, measure(lambda: fn(ids, mask).numpy(), reps))
    if wanted("all_outputs", only):
        fn2 = tf.function(lambda i, a: model(i, attention_mask=a, output_attentions=True,
                                             output_hidden_states=True, training=False).logits)
        emit(system, "forward_all_outputs", shape, measure(lambda: fn2(ids, mask).numpy(), reps))
    if wanted("fill_mask", only):
        one = ids[:1].copy()
        one[0, 60] = 4
        emit(system, "fill_mask_full_logits", shape, measure(lambda: fn(one, np.ones_like(one)).numpy(), reps * 4))
    if wanted("sweep", only):
        L, H = cfg.num_hidden_layers, cfg.num_attention_heads
        sids, smask = inputs(shape, BATCH, SWEEP_SEQ, seed=1)
        try:
            model(sids, attention_mask=smask, head_mask=np.ones((L, H), np.float32))
            result = {"median_s": None, "runs": 0}
        except NotImplementedError as err:
            result = {"median_s": None, "runs": 0, "unsupported": f"NotImplementedError: {err}"[:120]}
        emit(system, "sweep_all_heads_loop", shape, result)
    if wanted("generate", only):
        cfg.is_decoder = True
        dec = TFRobertaForCausalLM(cfg)
        prompt = ids[:1, :16]
        dec(prompt)
        for steps in (64, 256):
            for label, cache in (("cached", True), ("nocache", False)):
                def gen():
                    return dec.generate(prompt, max_new_tokens=steps, min_new_tokens=steps,
                                        do_sample=False, use_cache=cache, pad_token_id=1,
                                        eos_token_id=None)
                r = measure(gen, 1 if shape == "base" else 3)
                r["per_token_ms"] = 1000 * r["median_s"] / steps
                emit(system, f"generate_{steps}_{label}", shape, r)


def run_pt(shape: str, only: list[str], reps: int) -> None:
    import torch
    from transformers import RobertaConfig, RobertaForCausalLM, RobertaForMaskedLM

    system = "hf-4.37-pytorch"
    torch.manual_seed(0)
    cfg = RobertaConfig(**SHAPES[shape])
    model = RobertaForMaskedLM(cfg).eval()
    ids_np, mask_np = inputs(shape)
    ids, mask = torch.tensor(ids_np).long(), torch.tensor(mask_np).long()
    with torch.inference_mode():
        if wanted("bundled", only):
            bundled = RobertaForMaskedLM.from_pretrained(BUNDLED_MINI).eval()
            seed_ids = torch.tensor(SEED_IDS).long()
            emit(system, "bundled_mini_one_sentence", "bundled", measure(
                lambda: bundled(seed_ids).logits.numpy(), reps * 4))
        if wanted("forward", only):
            emit(system, "forward", shape, measure(lambda: model(ids, attention_mask=mask).logits, reps),
                 threads=torch.get_num_threads())
        if wanted("all_outputs", only):
            emit(system, "forward_all_outputs", shape, measure(
                lambda: model(ids, attention_mask=mask, output_attentions=True,
                              output_hidden_states=True).logits, reps))
        if wanted("fill_mask", only):
            one = ids[:1].clone()
            one[0, 60] = 4
            emit(system, "fill_mask_full_logits", shape, measure(lambda: model(one).logits, reps * 4))
        if wanted("sweep", only):
            L, H = cfg.num_hidden_layers, cfg.num_attention_heads
            s_np, sm_np = inputs(shape, BATCH, SWEEP_SEQ, seed=1)
            sids, smask = torch.tensor(s_np).long(), torch.tensor(sm_np).long()

            def sweep():
                for layer in range(L):
                    for head in range(H):
                        hm = torch.ones((L, H))
                        hm[layer, head] = 0
                        model(sids, attention_mask=smask, head_mask=hm)
            model(sids, attention_mask=smask, head_mask=torch.ones((L, H)))
            t = time.perf_counter()
            sweep()
            emit(system, "sweep_all_heads_loop", shape, {"median_s": time.perf_counter() - t,
                                                         "runs": 1, "conditions": L * H})
        if wanted("generate", only):
            cfg.is_decoder = True
            dec = RobertaForCausalLM(cfg).eval()
            prompt = ids[:1, :16]
            for steps in (64, 256):
                for label, cache in (("cached", True), ("nocache", False)):
                    def gen():
                        return dec.generate(prompt, max_new_tokens=steps, min_new_tokens=steps,
                                            do_sample=False, use_cache=cache, pad_token_id=1,
                                            eos_token_id=None)
                    r = measure(gen, 1 if shape == "base" else 3)
                    r["per_token_ms"] = 1000 * r["median_s"] / steps
                    emit(system, f"generate_{steps}_{label}", shape, r)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", choices=["tf", "pt"], required=True)
    parser.add_argument("--shape", default="mini", choices=sorted(SHAPES))
    parser.add_argument("--only", default="")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    only = [x for x in args.only.split(",") if x]
    (run_tf if args.framework == "tf" else run_pt)(args.shape, only, args.repeats)


if __name__ == "__main__":
    main()
