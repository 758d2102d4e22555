"""Sequence reversal: the task for the small encoder-decoder with cross-attention.

Reversal is chosen because the correct alignment is known exactly and is
visibly anti-diagonal: target token ``i`` should attend to source token
``L - 1 - i``. A trained model's cross-attention maps can be compared with
``expected_alignment`` directly.

Sources are 3-8 tokens from a 26-letter alphabet written as space-separated
lowercase letters ("c a t"), each of which is a single byte-level BPE token
with its leading space. Train and held-out sets are disjoint by construction:
a sequence belongs to the held-out split iff the first byte of the sha256 of
its text is below ``HELDOUT_BYTE_CUTOFF`` (about 10% of all sequences).

TSV format (written by ``corpus.py``): ``source<TAB>target`` per line, no header.
"""
import hashlib
import random

import numpy as np

ALPHABET = [chr(c) for c in range(ord("a"), ord("z") + 1)]
MIN_LEN, MAX_LEN = 3, 8
HELDOUT_BYTE_CUTOFF = 26  # 26/256 ~ 10% of sequences are held out


def split_of(source):
    """'heldout' or 'train', fixed by a hash of the source text (not hash())."""
    return "heldout" if hashlib.sha256(source.encode("utf-8")).digest()[0] < HELDOUT_BYTE_CUTOFF else "train"


def reverse(source):
    return " ".join(reversed(source.split()))


def make_pairs(n, seed=0, split="train"):
    """``n`` distinct (source, target) pairs from ``split``, deterministic in ``seed``."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    # A separate stream per split, so asking for more heldout pairs never
    # changes the train pairs.
    rng = random.Random(seed * 2 + (split == "heldout"))
    seen, pairs = {}, []
    while len(pairs) < n:
        length = rng.randint(MIN_LEN, MAX_LEN)
        source = " ".join(rng.choice(ALPHABET) for _ in range(length))
        if source in seen or split_of(source) != split:
            continue
        seen[source] = None
        pairs.append((source, reverse(source)))
    return pairs


def read_pairs(path):
    with open(path, encoding="utf-8") as fh:
        return [tuple(line.rstrip("\n").split("\t")) for line in fh if line.strip()]


def aligned_source_position(target_index, source_length):
    """Source position target token ``target_index`` should attend to."""
    if not 0 <= target_index < source_length:
        raise ValueError(f"target_index {target_index} out of range for length {source_length}")
    return source_length - 1 - target_index


def expected_alignment(source_length):
    """One-hot (target, source) alignment matrix: the anti-diagonal."""
    m = np.zeros((source_length, source_length), dtype=np.float32)
    for t in range(source_length):
        m[t, aligned_source_position(t, source_length)] = 1.0
    return m
