"""Tokenized texts -> a ``tf.data.Dataset`` for ``model.fit``: HF's ``prepare_tf_dataset`` with
its collators built in.

Each batch is padded to its own longest text (dynamic padding: ``input_ids`` with the pad id,
masks and token types with 0, token labels with -100). Columns the model does not take are
dropped. For a masked LM without a ``labels`` column the labels are made on the fly, each epoch
anew, by HF's ``DataCollatorForLanguageModeling`` rule: ``mlm_probability`` of the real,
non-special tokens are chosen; of those 80% become ``<mask>``, 10% a random word, 10% stay; the
rest get label -100. For a causal LM without labels the labels are the ids (pads -100; the model
shifts them).

Example:
    >>> from roberta_lab import AutoTokenizer, TFRobertaForMaskedLM                 # doctest: +SKIP
    >>> tok = AutoTokenizer.from_pretrained("roberta-lab/mini-mlm")                 # doctest: +SKIP
    >>> model = TFRobertaForMaskedLM.from_pretrained("roberta-lab/mini-mlm")        # doctest: +SKIP
    >>> ds = model.prepare_tf_dataset(tok(["A robin is a bird."] * 64), batch_size=16,
    ...                               tokenizer=tok)                                # doctest: +SKIP
    >>> model.compile("adam"); model.fit(ds, epochs=1)                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

SEQUENCE_COLUMNS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")


def _columns(dataset: Any) -> dict[str, list]:
    """A mapping of columns (a tokenizer's output, a dict of lists) or a list of row dicts."""
    if isinstance(dataset, Mapping) or hasattr(dataset, "keys"):
        return {k: list(dataset[k]) for k in dataset.keys()}
    if isinstance(dataset, (list, tuple)) and dataset and isinstance(dataset[0], Mapping):
        return {k: [row[k] for row in dataset] for k in dataset[0]}
    raise TypeError("dataset must be a mapping of columns (e.g. a tokenizer's output) or a list "
                    f"of row dicts, got {type(dataset).__name__}")


def prepare_tf_dataset(model: Any, dataset: Any, batch_size: int = 8, shuffle: bool = True,
                       tokenizer: Any = None, *, seed: int = 0, mlm_probability: float = 0.15,
                       drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches of dicts of the model's inputs (and labels), padded per batch.
    ``tokenizer`` gives the pad id (else ``config.pad_token_id``) and, for dynamic masking,
    ``mask_token_id`` and the special ids."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability!r}")
    columns = {k: v for k, v in _columns(dataset).items() if k in model.signature}
    if "input_ids" not in columns:
        raise ValueError("dataset has no input_ids column")
    n = len(columns["input_ids"])
    if n == 0:
        raise ValueError("dataset is empty")
    lengths = [len(x) for x in columns["input_ids"]]
    if "attention_mask" not in columns:
        columns["attention_mask"] = [[1] * k for k in lengths]
    pad = tokenizer.pad_token_id if tokenizer is not None else model.config.pad_token_id
    cfg = model.config
    is_lm = getattr(model, "lm_head", None) is not None
    dynamic_mlm = is_lm and not cfg.is_decoder and "labels" not in columns
    if dynamic_mlm and (tokenizer is None or tokenizer.mask_token_id is None):
        raise ValueError("dynamic masking for a masked LM needs tokenizer= (its mask token and "
                         "special ids); or give a labels column")
    if is_lm and cfg.is_decoder and "labels" not in columns:
        columns["labels"] = [[t if m else -100 for t, m in zip(ids, mask)]
                             for ids, mask in zip(columns["input_ids"], columns["attention_mask"])]
    pad_values: dict[str, Any] = {}
    specs: dict[str, tf.TensorSpec] = {}
    arrays: dict[str, list] = {}
    for name, values in columns.items():
        if name in SEQUENCE_COLUMNS or (name == "labels" and _is_sequence(values[0])):
            arrays[name] = [np.asarray(v, np.int32) for v in values]
            pad_values[name] = tf.constant({"input_ids": pad, "labels": -100}.get(name, 0),
                                           tf.int32)
        else:
            array = np.asarray(values)
            array = array.astype(np.int32) if array.dtype.kind in "iub" else \
                array.astype(np.float32)
            arrays[name] = list(array)
            pad_values[name] = tf.constant(0, tf.as_dtype(array.dtype))
        first = arrays[name][0]
        specs[name] = tf.TensorSpec([None] * first.ndim, tf.as_dtype(first.dtype))

    def rows():
        for i in range(n):
            yield {name: arrays[name][i] for name in arrays}

    ds = tf.data.Dataset.from_generator(rows, output_signature=specs)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n))  # fit() then knows the steps
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.padded_batch(batch_size, padding_values=pad_values, drop_remainder=drop_remainder)
    if dynamic_mlm:
        special = tf.constant(sorted(set(tokenizer.all_special_ids) | {pad}), tf.int32)
        mask_id, vocab = int(tokenizer.mask_token_id), int(cfg.vocab_size)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(6)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda batch, s: mask_tokens(batch, s, special, mask_id, vocab, mlm_probability))
    return ds.prefetch(tf.data.AUTOTUNE)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1


def mask_tokens(batch: dict[str, tf.Tensor], seeds: tf.Tensor, special: tf.Tensor, mask_id: int,
                vocab: int, probability: float) -> dict[str, tf.Tensor]:
    """HF's 80/10/10 masking of one batch: ids [batch, seq] -> masked ids and labels (-100 where
    not chosen). ``seeds`` [6] int64 make the draws stateless (reproducible per seed)."""
    ids = batch["input_ids"]
    shape = tf.shape(ids)
    seeds = tf.reshape(tf.cast(seeds, tf.int64) % (2**31 - 1), [3, 2])
    real = tf.logical_and(tf.not_equal(batch["attention_mask"], 0),
                          tf.reduce_all(tf.not_equal(ids[..., None], special), axis=-1))
    chosen = tf.logical_and(real, tf.random.stateless_uniform(shape, seeds[0]) < probability)
    draw = tf.random.stateless_uniform(shape, seeds[1])
    to_mask = tf.logical_and(chosen, draw < 0.8)
    to_random = tf.logical_and(chosen, tf.logical_and(draw >= 0.8, draw < 0.9))
    words = tf.random.stateless_uniform(shape, seeds[2], minval=0, maxval=vocab, dtype=tf.int32)
    out = dict(batch)
    out["labels"] = tf.where(chosen, ids, -100)
    out["input_ids"] = tf.where(to_mask, mask_id, tf.where(to_random, words, ids))
    return out
