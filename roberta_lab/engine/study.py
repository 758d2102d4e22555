"""Ablation studies over text sets of any size: streamed, batched by length, resumable, sharded.

``run_study`` streams texts (``study_texts``), cuts them into length-grouped batches, runs the
batched sweep (``ablation.sweep``) on each batch for every condition, and appends each batch's
rows to a CSV (``study_store``) as soon as it is computed. Memory holds one window of texts and
one batch's activations, whatever the number of texts. An interrupted study, run again with
``resume=True`` and the same settings, computes only the missing batches and ends with the same
file, byte for byte. Options (recorded in ``<out>.json``, and checked on resume):

* ``conditions``: "heads" (every single head), "layers", or a list of head sets, each a string
  like "L0H1+L2H3" or a list of (layer, head) pairs; ``method``: "zero" or "mean" ablation
  (means over the non-pad tokens of the first ``means_texts`` texts unless ``means`` is given);
* ``metric``: "masked-lm" (seeded 15% masking, loss), "next-token" (causal loss), or "loss",
  "logprob", "logit_diff" of a JSONL record's ``target`` (minus ``distractor``) at its <mask>;
* ``dtype="bfloat16"`` (where native): the run reports its agreement with float32 on batch 0;
* ``screen_top_k=k``: rank all heads by the Michel gradient estimate over the first
  ``screen_texts`` texts (one forward and one backward pass per batch), run exact ablations
  of the k best only, and report the rank correlations between screen and exact results;
* ``workers``: a ``tf.distribute.MultiWorkerMirroredStrategy`` (``strategy_from_tf_config``):
  worker i of n computes batches i, i+n, ... into its own part file; after a barrier (an
  all-reduce of the batch counts) worker 0 merges the parts into ``out``.

Example:
    >>> result = run_study(model, tok, "texts.txt", "study.csv")            # doctest: +SKIP
    >>> result.summary["L0H3"]["delta"]                                      # doctest: +SKIP
    0.0213
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from . import study_store as store
from .ablation import Metric, head_means, sweep
from .importance import head_mask_gradients
from .precision import agreement, check_dtype, compute_dtype, spearman
from .study_texts import check_source, count_records, iter_records, plan_batches


@dataclass
class StudyResult:
    path: Path
    texts: int
    batches: int
    computed_batches: int
    summary: dict[str, dict[str, float]]
    meta: dict = field(default_factory=dict)


def parse_conditions(spec: Any, layers: int, heads: int) -> tuple[list[str], list[list]]:
    """(labels, conditions) from "heads", "layers" or a list of "L0H1+L2H3" / pair lists."""
    if spec == "heads":
        conds = [[(lyr, h)] for lyr in range(layers) for h in range(heads)]
    elif spec == "layers":
        return ([f"L{lyr}" for lyr in range(layers)],
                [[(lyr, h) for h in range(heads)] for lyr in range(layers)])
    elif isinstance(spec, str) or not isinstance(spec, Sequence) or not spec:
        raise ValueError(f"conditions must be 'heads', 'layers' or a list of head sets, "
                         f"got {spec!r}")
    else:
        conds = [_parse_set(c) if isinstance(c, str) else sorted({(int(a), int(b)) for a, b in c})
                 for c in spec]
    for c in conds:
        if not c or any(not (0 <= lyr < layers and 0 <= h < heads) for lyr, h in c):
            raise ValueError(f"conditions: {c} is empty or names a head outside {layers} x {heads}")
    return ["+".join(f"L{lyr}H{h}" for lyr, h in c) for c in conds], conds


def _parse_set(text: str) -> list[tuple[int, int]]:
    pairs = []
    for part in text.split("+"):
        m = re.fullmatch(r"\s*L(\d+)H(\d+)\s*", part)
        if not m:
            raise ValueError(f"conditions: {text!r} is not like 'L0H1+L2H3'")
        pairs.append((int(m.group(1)), int(m.group(2))))
    return sorted(set(pairs))


def strategy_from_tf_config() -> Any:
    """A MultiWorkerMirroredStrategy when TF_CONFIG names more than one task, else None.
    Call it before building the model: TensorFlow sets up collectives at program start."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    if sum(len(v) for k, v in cluster.items() if k in ("chief", "worker")) < 2:
        return None
    import tensorflow as tf  # noqa: PLC0415

    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_position(strategy: Any) -> tuple[int, int]:
    """(this worker's index, number of workers); a chief, if any, is worker 0."""
    if strategy is None:
        return 0, 1
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    chiefs, workers = len(spec.get("chief", [])), len(spec.get("worker", []))
    index = resolver.task_id + (chiefs if resolver.task_type == "worker" else 0)
    return index, chiefs + workers


def _barrier(strategy: Any, value: float) -> float:
    """All workers wait here; returns the sum of ``value`` over the workers (an all-reduce)."""
    import tensorflow as tf  # noqa: PLC0415

    local = len(strategy.extended.worker_devices)  # replicas on this worker
    dist = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(float(value) / local))
    return float(strategy.reduce("SUM", dist, axis=None))


def _fingerprint(model: Any, source: Any) -> dict:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
    for w in model.weights:
        digest.update(np.ascontiguousarray(w.numpy()).tobytes())
    if isinstance(source, (str, os.PathLike)):
        src = {"path": str(Path(source).resolve()), "bytes": Path(source).stat().st_size}
    elif isinstance(source, (list, tuple)):
        src = {"texts": hashlib.blake2b("\n".join(source).encode(), digest_size=16).hexdigest()}
    else:
        src = {"type": type(source).__name__}
    return {"model": digest.hexdigest(), "source": src}


def run_study(model: Any, tokenizer: Any, texts: Any, out: str | os.PathLike, *,
              conditions: Any = "heads", method: str = "zero", metric: str = "masked-lm",
              means: np.ndarray | None = None, means_texts: int = 256, batch_texts: int = 16,
              pool: int = 1024, seed: int = 0, rate: float = 0.15, dtype: str | None = None,
              screen_top_k: int | None = None, screen_texts: int = 256,
              compile: bool | str = True, resume: bool = False, progress: bool = True,
              workers: Any = None, on_batch: Callable[[int], None] | None = None) -> StudyResult:
    """Run (or resume) a study; see the module docstring. ``on_batch(index)`` is called after
    each computed batch is on disk."""
    check_source(texts)
    out = Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"out: the folder {out.parent} does not exist")
    if method not in ("zero", "mean"):
        raise ValueError(f"method must be 'zero' or 'mean', got {method!r}")
    dtype = check_dtype(dtype)
    cfg = model.config
    L, H = cfg.num_hidden_layers, cfg.num_attention_heads
    labels, conds = parse_conditions(conditions, L, H)
    if screen_top_k is not None and (conditions != "heads" or method != "zero"
                                     or not 1 <= screen_top_k <= L * H):
        raise ValueError(f"screen_top_k needs conditions='heads', method='zero' and 1 <= k <= "
                         f"{L * H}; got {screen_top_k}, {conditions!r}, {method!r}")
    if method == "mean" and means is None and not isinstance(texts, (str, os.PathLike)) \
            and iter(texts) is texts:
        raise ValueError("method='mean' reads the texts twice: give a file, a dataset or a list")
    total = count_records(texts)
    if total == 0:
        name = texts if isinstance(texts, (str, os.PathLike)) else "the source"
        raise ValueError(f"texts: {name} holds no text")
    index, count = worker_position(workers)
    params = {"conditions": labels, "method": method, "metric": metric,
              "batch_texts": batch_texts, "pool": pool, "seed": seed, "rate": rate,
              "dtype": dtype or "float32", "means_texts": means_texts if means is None else None,
              "means": None if means is None else hashlib.blake2b(
                  np.asarray(means, np.float32).tobytes(), digest_size=16).hexdigest(),
              "screen_top_k": screen_top_k, "screen_texts": screen_texts,
              "workers": count, **_fingerprint(model, texts)}
    final = store.read_meta(out)
    if final is not None and final.get("complete") and out.exists():
        _same_params(out, final["params"], params, resume)
        return StudyResult(out, final["texts"], final["batches"], 0, final["summary"], final)
    path = out if count == 1 else store.part_path(out, index, count)
    part_meta = None
    if path.exists():
        part_meta = store.read_meta(path)
        if part_meta is None:
            raise FileExistsError(f"{path} exists and is not a study this can resume")
        _same_params(path, part_meta["params"], params, resume)
    created = part_meta is None
    part_meta = part_meta or {"params": params}
    store.write_meta(path, part_meta)
    writer = store.StudyStore(path, resume=resume)

    def batches(limit: int | None = None):
        records = iter_records(texts)
        if limit is not None:
            records = (r for r, _ in zip(records, range(limit)))
        return plan_batches(records, tokenizer, metric=metric, batch_texts=batch_texts,
                            pool=pool, max_length=cfg.max_sequence_length, seed=seed, rate=rate)

    try:
        if method == "mean" and means is None:
            means = _stream_means(model, batches(means_texts))
        reference = None  # float32 sweep of batch 0, for a lower precision's agreement
        if dtype is not None and index == 0 and "agreement" not in part_meta:
            first = next(iter(batches()))  # the plan's batch 0 (its first window, sorted)
            reference = sweep(model, first.input_ids, first.attention_mask, first.metric, conds,
                              method=method, means=means, compile=compile, progress=False)
        with compute_dtype(model, dtype):
            if screen_top_k is not None:
                if "screen" not in part_meta:  # a resumed run keeps the heads it started with
                    part_meta["screen"] = _screen(model, batches(screen_texts), screen_top_k)
                    store.write_meta(path, part_meta)
                conds = [[tuple(p)] for p in part_meta["screen"]["heads"]]
                labels = [f"L{lyr}H{h}" for lyr, h in part_meta["screen"]["heads"]]
            _settle_traces(model, conds, method, means, metric, compile)
            bar = tqdm(total=total, unit="text", disable=not progress,
                       desc="study" if count == 1 else f"study (worker {index + 1}/{count})")
            n_texts = n_batches = computed = 0
            started = time.perf_counter()
            for b in batches():
                n_texts, n_batches = n_texts + len(b.text_ids), n_batches + 1
                rows_expected = len(b.text_ids) * (1 + len(conds))
                if b.index % count != index or writer.is_done(b.index, rows_expected):
                    bar.update(len(b.text_ids))  # another worker's, or already on disk
                    continue
                kw = dict(method=method, means=means, labels=labels, compile=compile,
                          progress=False)
                result = sweep(model, b.input_ids, b.attention_mask, b.metric, conds, **kw)
                base = result.extra["baseline_per_text"]
                if reference is not None and b.index == 0:  # on disk before batch 0's rows
                    part_meta["agreement"] = {"dtype": dtype, **agreement(
                        reference.per_text, result.per_text,
                        reference.extra["baseline_per_text"], base)}
                    store.write_meta(path, part_meta)
                rows = []
                for t, text_id in enumerate(b.text_ids):
                    rows.append((text_id, "clean", base[t]))
                    rows.extend((text_id, label, result.per_text[c, t])
                                for c, label in enumerate(labels))
                writer.append(b.index, rows)
                computed += 1
                bar.update(len(b.text_ids))
                if on_batch is not None:
                    on_batch(b.index)
            writer.finish()
            bar.close()
    except BaseException:
        if created and writer.batches_written == 0:  # nothing computed: leave no files
            path.unlink(missing_ok=True)
            store.meta_path(path).unlink(missing_ok=True)
        raise
    part_meta.update(complete=True, texts=n_texts, batches=n_batches,
                     seconds_this_run=time.perf_counter() - started, computed_batches=computed)
    store.write_meta(path, part_meta)
    if count > 1:
        _barrier(workers, computed)  # every part is complete
        if index == 0:
            _merge(out, count, part_meta)
        _barrier(workers, 0.0)  # the merged file exists for everyone
    meta = store.read_meta(out) if count > 1 else _finish(out, part_meta)
    return StudyResult(out, n_texts, n_batches, computed, meta["summary"], meta)


def _settle_traces(model: Any, conds: list, method: str, means: Any, metric: str,
                   compile: bool | str) -> None:
    """Sweep two tiny dummy batches of different shapes, through the one-call path and the
    chunked path. TensorFlow's ``reduce_retracing`` traces a first shape as it is and later
    shapes generically, and the two traces' kernels round differently (up to about 1e-5):
    without this, a batch's numbers would depend on which shapes ran before it, and a resumed
    or sharded study would not equal an uninterrupted one. After it, every batch runs on the
    generic traces."""
    if not compile:
        return
    kind = "loss" if metric in ("masked-lm", "next-token") else metric
    for k in (1, 2):
        for chunked in (False, True):
            texts = k + 1 if chunked else k
            ids = np.full((texts, 8 * k), 5, np.int32)
            pos = np.tile(np.arange(1, k + 1), (texts, 1))
            dummy = Metric(kind, pos, np.full(pos.shape, 7),
                           np.full(pos.shape, 9) if kind == "logit_diff" else None)
            # One row fewer than the sweep has: the chunked path, in few (distinct) chunks.
            chunk = texts * len(conds) - 1 if chunked else None
            sweep(model, ids, None, dummy, conds, method=method, means=means, compile=compile,
                  progress=False, chunk_size=max(chunk, 1) if chunked else None)


def _same_params(path: Path, old: dict, new: dict, resume: bool) -> None:
    if not resume:
        raise FileExistsError(f"{path} exists; pass resume=True (--resume) or choose another out")
    diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if diff:
        raise ValueError(f"{path} was written by a study with other settings ({', '.join(diff)})")


def _finish(out: Path, meta: dict) -> dict:
    meta["summary"] = store.summarize(out)
    if "screen" in meta:
        screen, summary = meta["screen"], meta["summary"]
        keys = [f"L{lyr}H{h}" for lyr, h in screen["heads"]]
        if len(keys) > 1:
            meta["screen"]["spearman_abs"] = spearman(
                screen["abs_grad"], [summary[k]["abs_delta"] for k in keys])
            meta["screen"]["spearman_signed"] = spearman(
                screen["estimate"], [summary[k]["delta"] for k in keys])
    store.write_meta(out, meta)
    return meta


def _merge(out: Path, count: int, meta: dict) -> None:
    parts = [store.read_meta(store.part_path(out, i, count)) for i in range(count)]
    store.merge_parts(out, count)
    merged = {**meta, "computed_batches": sum(p["computed_batches"] for p in parts),
              "seconds_this_run": max(p["seconds_this_run"] for p in parts)}
    for p in parts:
        merged.update({k: p[k] for k in ("agreement",) if k in p})
    _finish(out, merged)
    for i in range(count):
        store.part_path(out, i, count).unlink()
        store.meta_path(store.part_path(out, i, count)).unlink()


def _stream_means(model: Any, batches: Any) -> np.ndarray:
    """head_means over several batches, weighted by their real tokens: [layer, head, d_head]."""
    total, tokens = None, 0
    for b in batches:
        n = int(b.attention_mask.sum())
        part = head_means(model, b.reference, b.attention_mask).astype(np.float64) * n
        total, tokens = (part if total is None else total + part), tokens + n
    return (total / tokens).astype(np.float32)


def _screen(model: Any, batches: Any, k: int) -> dict:
    """Every head's Michel importance E|d metric / d head_mask| and its first-order estimate
    of the zero-ablation delta, -E[d metric / d head_mask] (attribution patching), over the
    batches; the top k by importance, most important first."""
    abs_sum, signed_sum, n = 0.0, 0.0, 0
    for b in batches:
        grads = head_mask_gradients(model, b.input_ids, b.attention_mask, b.metric)
        abs_sum, signed_sum = abs_sum + np.abs(grads).sum(0), signed_sum + grads.sum(0)
        n += len(grads)
    importance, estimate = abs_sum / n, -signed_sum / n
    H = importance.shape[1]
    top = np.argsort(-importance, axis=None, kind="stable")[:k]
    heads = [list(divmod(int(i), H)) for i in top]
    return {"texts": n, "heads": heads,
            "abs_grad": [float(importance[lyr, h]) for lyr, h in heads],
            "estimate": [float(estimate[lyr, h]) for lyr, h in heads],
            "importance_all": importance.tolist(), "estimate_all": estimate.tolist()}
