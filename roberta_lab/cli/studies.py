"""The commands that ablate over many texts: ``sweep`` (every single head, one CSV row each) and
``study`` (a resumable ablation study, engine/study.py, possibly over several workers).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from . import loading
from .loading import CLIError
from .texts import output_path, read_texts, sweep_inputs


def cmd_sweep(args: argparse.Namespace) -> int:
    """Every single head ablated on its own; one CSV row per head (layers x heads rows)."""
    texts = read_texts(args.texts)
    out = output_path(args.out, "--out", args.texts)
    model, tok = loading.load_model(args.model, "mlm")
    from ..engine.ablation import head_means, masked_lm_metric, sweep_heads  # noqa: PLC0415

    ids, mask, labels, reference = sweep_inputs(model, tok, texts)
    means = head_means(model, reference, mask) if args.method == "mean" else None
    result = sweep_heads(model, ids, mask, masked_lm_metric(labels), method=args.method,
                         means=means, progress=False)
    result.to_csv(str(out))
    cfg = model.config
    print(f"baseline loss {result.baseline:.4f}; {cfg.num_hidden_layers} layers x "
          f"{cfg.num_attention_heads} heads = {len(result.labels)} rows -> {out}")
    return 0


# --- study ----------------------------------------------------------------------------------------
def cmd_study(args: argparse.Namespace) -> int:
    """A resumable ablation study over a text file (engine/study.py); under TF_CONFIG naming
    several workers, each process runs its share and worker 0 merges the parts."""
    texts, out = Path(args.texts), Path(args.out)
    if not texts.is_file():
        raise CLIError(f"--texts: {texts} is not a file")
    if not os.access(texts, os.R_OK):
        raise CLIError(f"--texts: {texts} is not readable")
    if not out.parent.is_dir():
        raise CLIError(f"the folder of --out does not exist: {out.parent}")
    if out.exists() and not args.resume:
        raise CLIError(f"--out: {out} exists; pass --resume to continue it or choose another path")
    for name in ("batch_texts", "screen_texts", "means_texts"):
        if getattr(args, name) < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be a positive integer")
    if args.screen_top_k is not None and args.screen_top_k < 1:
        raise CLIError("--screen-top-k must be a positive integer")
    conditions = args.conditions if args.conditions in ("heads", "layers") else \
        [c for c in args.conditions.split(",") if c.strip()]
    loading.quiet_tf()
    from ..engine.study import run_study, strategy_from_tf_config  # noqa: PLC0415

    try:
        workers = strategy_from_tf_config()  # before the model: collectives start first
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CLIError(f"TF_CONFIG: {exc}") from exc
    model, tok = loading.load_model(args.model, "causal" if args.metric == "next-token" else "mlm")
    try:
        result = run_study(model, tok, str(texts), out, conditions=conditions,
                           method=args.method, metric=args.metric, batch_texts=args.batch_texts,
                           means_texts=args.means_texts, dtype=args.dtype,
                           screen_top_k=args.screen_top_k, screen_texts=args.screen_texts,
                           resume=args.resume, progress=not args.no_progress, workers=workers)
    except (ValueError, TypeError, FileExistsError) as exc:
        raise CLIError(str(exc)) from exc
    meta = result.meta
    print(f"{result.texts} texts x {len(result.summary) - 1} conditions in {result.batches} "
          f"batches ({result.computed_batches} computed now) -> {out}")
    if "agreement" in meta:
        a = meta["agreement"]
        print(f"{a['dtype']} vs float32 on batch 0 ({a['texts']} texts): max |metric diff| "
              f"{a['max_abs_metric_diff']:.3g}, rank correlation of mean deltas "
              f"{a['spearman_mean_delta']:.4f}")
    if "screen" in meta and "spearman_abs" in meta["screen"]:
        print(f"screen (Michel, {meta['screen']['texts']} texts) vs exact, top "
              f"{len(meta['screen']['heads'])}: Spearman {meta['screen']['spearman_abs']:.3f}")
    return 0
