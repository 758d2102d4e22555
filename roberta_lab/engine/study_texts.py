"""A study's texts: streamed from a file or a ``tf.data.Dataset``, grouped by length, batched.

Sources (never read whole into memory):

* a text file, one text per non-empty line; a text's id is its line number (1-based);
* a JSONL file (``.jsonl``), one object per line: ``{"text": ..., "id": ..., "target": ...,
  "distractor": ...}`` (only ``text`` is required; ``id`` defaults to the line number);
* a ``tf.data.Dataset`` of scalar strings or of dicts with a ``"text"`` key (ids: 0, 1, ...);
* any re-iterable of strings (a list; ids: 0, 1, ...).

Batches are cut from a window of ``pool`` texts sorted by token count (stable), so a batch pads
to nearly its own length; the plan depends only on the texts and the settings, so a resumed or
sharded run computes exactly the same batches. Each text's metric is built from that text
alone (its masked positions come from a seed and its id), never from its batch-mates.

Example:
    >>> records = list(iter_records(["a b", "c"]))
    >>> [(r.id, r.text) for r in records]
    [('0', 'a b'), ('1', 'c')]
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from .ablation import Metric, mask_random_tokens, masked_lm_metric

METRICS = ("masked-lm", "next-token", "loss", "logprob", "logit_diff")


@dataclass
class Record:
    id: str
    text: str
    target: str | None = None
    distractor: str | None = None


@dataclass
class Batch:
    """One sweep call's texts: ids [texts, seq], mask [texts, seq], the metric, and the
    unmasked ids (reference, for mean ablation)."""

    index: int
    text_ids: list[str]
    input_ids: np.ndarray
    attention_mask: np.ndarray
    reference: np.ndarray
    metric: Metric


def check_source(source: Any) -> None:
    """Fail before any work: a path must be a readable file; other sources must iterate."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"texts: {path} is not a file")
        if not os.access(path, os.R_OK):
            raise ValueError(f"texts: {path} is not readable")
    elif not _is_dataset(source) and not hasattr(source, "__iter__"):
        raise TypeError(f"texts must be a path, a tf.data.Dataset or an iterable of strings, "
                        f"got {type(source).__name__}")


def _is_dataset(source: Any) -> bool:
    return type(source).__module__.startswith("tensorflow") and hasattr(source, "as_numpy_iterator")


def iter_records(source: Any) -> Iterator[Record]:
    """The texts of ``source`` one at a time (see the module docstring)."""
    check_source(source)
    if isinstance(source, (str, os.PathLike)):
        yield from _file_records(Path(source))
    elif _is_dataset(source):
        for i, el in enumerate(source.as_numpy_iterator()):
            fields = el if isinstance(el, dict) else {"text": el}
            fields = {k: v.decode("utf-8") if isinstance(v, bytes) else v
                      for k, v in fields.items()}
            yield _record(fields, str(i), f"dataset element {i}")
    else:
        for i, text in enumerate(source):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"texts: item {i} is not a non-empty string")
            yield Record(str(i), text.strip())


def _file_records(path: Path) -> Iterator[Record]:
    jsonl = path.suffix.lower() == ".jsonl"
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                if not jsonl:
                    yield Record(str(number), line.strip())
                    continue
                try:
                    fields = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number}: not JSON ({err.msg})") from None
                if not isinstance(fields, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object")
                yield _record(fields, str(number), f"{path}:{number}")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason})") from None


def _record(fields: dict, default_id: str, where: str) -> Record:
    text = fields.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: field 'text' must be a non-empty string")
    return Record(str(fields.get("id", default_id)), text.strip(), fields.get("target"),
                  fields.get("distractor"))


def count_records(source: Any) -> int | None:
    """How many texts (a cheap pass over a file; a dataset's known cardinality), or None."""
    if isinstance(source, (str, os.PathLike)):
        return sum(1 for _ in iter_records(source))
    if _is_dataset(source):
        n = int(source.cardinality())
        return n if n >= 0 else None
    return len(source) if hasattr(source, "__len__") else None


def plan_batches(records: Iterable[Record], tok: Any, *, metric: str, batch_texts: int,
                 pool: int, max_length: int, seed: int = 0, rate: float = 0.15
                 ) -> Iterator[Batch]:
    """Length-grouped batches of at most ``batch_texts`` texts (see the module docstring)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if batch_texts < 1 or pool < batch_texts:
        raise ValueError(f"need 1 <= batch_texts <= pool, got {batch_texts} and {pool}")
    index, window = 0, []
    for record in records:
        window.append(record)
        if len(window) == pool:
            yield from _cut(window, tok, metric, batch_texts, max_length, seed, rate, index)
            index += -(-len(window) // batch_texts)
            window = []
    if window:
        yield from _cut(window, tok, metric, batch_texts, max_length, seed, rate, index)


def _cut(window, tok, metric, batch_texts, max_length, seed, rate, first_index):
    encoded = [list(ids) for ids in tok([r.text for r in window])["input_ids"]]
    for r, ids in zip(window, encoded):
        if len(ids) > max_length:
            raise ValueError(f"text {r.id} is {len(ids)} tokens long; the model reads at most "
                             f"{max_length}")
    order = sorted(range(len(window)), key=lambda i: len(encoded[i]))  # stable
    for b, start in enumerate(range(0, len(order), batch_texts)):
        members = order[start:start + batch_texts]
        longest = max(len(encoded[i]) for i in members)
        seq = min(max_length, -(-longest // 8) * 8)  # few distinct shapes: few traces
        ids = np.full((len(members), seq), tok.pad_token_id, np.int32)
        mask = np.zeros_like(ids)
        for row, i in enumerate(members):
            ids[row, :len(encoded[i])], mask[row, :len(encoded[i])] = encoded[i], 1
        records = [window[i] for i in members]
        masked, text_metric = _metric(metric, records, ids, mask, tok, seed, rate)
        yield Batch(first_index + b, [r.id for r in records], masked, mask, ids, text_metric)


def _metric(kind, records, ids, mask, tok, seed, rate) -> tuple[np.ndarray, Metric]:
    if kind == "masked-lm":  # a seeded share of each text's tokens, seeded by its id
        out, labels = ids.copy(), np.full(ids.shape, -100, np.int64)
        for row, r in enumerate(records):
            text_seed = [seed, zlib.crc32(r.id.encode("utf-8"))]
            try:
                out[row:row + 1], labels[row:row + 1] = mask_random_tokens(
                    ids[row:row + 1], mask[row:row + 1], tok.all_special_ids, tok.mask_token_id,
                    rate, text_seed)
            except ValueError:
                raise ValueError(f"text {r.id} has no token to mask") from None
        return out, masked_lm_metric(labels)
    if kind == "next-token":  # a causal model's loss on every next token
        n = mask.sum(axis=1)
        if (n < 2).any():
            raise ValueError(f"text {records[int(np.argmin(n))].id} has fewer than 2 tokens")
        width = int(n.max()) - 1
        pos = np.where(np.arange(width)[None] < (n - 1)[:, None], np.arange(width)[None], -1)
        targets = np.take_along_axis(ids, np.minimum(np.maximum(pos, 0) + 1, ids.shape[1] - 1), 1)
        return ids, Metric("loss", pos, targets)
    # loss / logprob / logit_diff of a target word (minus a distractor) at the text's <mask>
    pos, targets, distractors = [], [], []
    for row, r in enumerate(records):
        where = np.flatnonzero(ids[row] == tok.mask_token_id)
        if len(where) != 1:
            raise ValueError(f"text {r.id} needs exactly one {tok.mask_token} for metric {kind!r}")
        pos.append([int(where[0])])
        targets.append([_one_token(tok, r.target, r.id, "target")])
        if kind == "logit_diff":
            distractors.append([_one_token(tok, r.distractor, r.id, "distractor")])
    return ids, Metric(kind, np.array(pos), np.array(targets),
                       np.array(distractors) if kind == "logit_diff" else None)


def _one_token(tok, word: str | None, text_id: str, field: str) -> int:
    if not isinstance(word, str) or not word:
        raise ValueError(f"text {text_id}: field {field!r} is missing (a JSONL field)")
    ids = tok(word, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"text {text_id}: {field} {word!r} is {len(ids)} tokens; it must be one")
    return int(ids[0])
