"""Head-role scores from attention patterns, after Clark et al. 2019 ("What does BERT look at?").

For every layer x head, averaged over all real query tokens of all texts:

- ``bos``: attention mass on ``<s>`` keys (BERT's [CLS]); ``eos``: on ``</s>`` keys ([SEP]);
- ``punct``: on punctuation tokens (ids given, or found in a tokenizer's vocabulary);
- ``prev`` / ``next`` / ``self``: the weight at key offset -1 / +1 / 0. ``prev`` averages only
  over queries whose previous token is real (not the first token, not after a pad), ``next``
  likewise, so a perfect previous-token head scores exactly 1;
- ``entropy``: the mean entropy (nats) of the attention rows; a row uniform over n keys has
  log(n).

Padding is ignored: pad query rows are skipped and pad key columns are dropped (the model gives
them ~0 weight anyway). Patterns come from ``blocks.{l}.attn.hook_pattern`` [batch, head, q, k],
read chunk by chunk and reduced at once, so memory does not grow with the number of texts.

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForMaskedLM
    >>> from roberta_lab.head_roles import head_role_scores, top_heads
    >>> keras.utils.set_random_seed(0)
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37)
    >>> model = TFRobertaForMaskedLM(cfg)
    >>> ids = np.array([[0, 5, 6, 7, 2], [0, 8, 2, 1, 1]])
    >>> scores = head_role_scores(model, ids, attention_mask=(ids != 1).astype(int), punct_ids=[6])
    >>> scores.bos.shape, len(scores.to_rows())
    ((2, 4), 8)
    >>> len(top_heads(scores, "eos", k=3))
    3
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

ROLES = ("bos", "eos", "punct", "prev", "next", "self", "entropy")


@dataclass
class HeadRoleScores:
    """Each role a [layer, head] float array; ``n_rows`` the number of query rows averaged."""

    bos: np.ndarray
    eos: np.ndarray
    punct: np.ndarray
    prev: np.ndarray
    next: np.ndarray
    self: np.ndarray
    entropy: np.ndarray
    n_rows: int = 0

    def __getitem__(self, role: str) -> np.ndarray:
        if role not in ROLES:
            raise KeyError(f"unknown role {role!r}; roles are {ROLES}")
        return getattr(self, role)

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per head: layer, head, label ("L3H5") and every role's score."""
        n_layers, n_heads = self.bos.shape
        return [dict(layer=l, head=h, label=f"L{l}H{h}",
                     **{r: float(self[r][l, h]) for r in ROLES})
                for l in range(n_layers) for h in range(n_heads)]


def top_heads(scores: HeadRoleScores, role: str, k: int = 5, largest: bool = True
              ) -> list[tuple[str, float]]:
    """The k heads with the highest (``largest=False``: lowest, e.g. for entropy) score for a
    role, as ("L{layer}H{head}", score), best first."""
    grid = scores[role]
    flat = np.nan_to_num(grid.ravel(), nan=-np.inf if largest else np.inf)
    order = np.argsort(-flat if largest else flat, kind="stable")[:k]
    n_heads = grid.shape[1]
    return [(f"L{i // n_heads}H{i % n_heads}", float(grid.ravel()[i])) for i in order]


def punctuation_ids(tokenizer: Any) -> list[int]:
    """Ids of vocabulary entries that are punctuation only (byte-level BPE's space marker "Ġ"
    stripped), e.g. ".", ",", "Ġ--"."""
    punct = set(string.punctuation) | set("“”‘’…–—")
    specials = set(getattr(tokenizer, "all_special_ids", []))
    out = []
    for token, idx in tokenizer.get_vocab().items():
        text = token.replace("Ġ", "").replace("Ċ", "")
        if text and all(ch in punct for ch in text) and idx not in specials:
            out.append(idx)
    return sorted(out)


class _Accumulator:
    """Running sums [layer, head] of each role and the counts that divide them."""

    def __init__(self, n_layers: int, n_heads: int):
        self.sums = {r: np.zeros((n_layers, n_heads)) for r in ROLES}
        self.counts = {r: 0 for r in ROLES}

    def add(self, layer: int, pattern: np.ndarray, ids: np.ndarray, mask: np.ndarray,
            bos: int, eos: int, punct: np.ndarray) -> None:
        """pattern [batch, head, q, k]; ids, mask [batch, seq]."""
        p = np.asarray(pattern, np.float64)
        valid = mask.astype(bool)                          # [b, s]
        p = p * valid[:, None, None, :]                    # drop pad key columns
        rows = valid[:, None, :]                           # real query rows  [b, 1, q]
        store = layer == 0  # counts are the same for every layer: count once

        def role(name: str, per_row: np.ndarray, ok: np.ndarray) -> None:
            # per_row [b, h, q]; ok [b, 1, q] which rows count for this role
            self.sums[name][layer] += (per_row * ok).sum(axis=(0, 2))
            if store:
                self.counts[name] += int(ok.sum())

        for name, key_ids in (("bos", ids == bos), ("eos", ids == eos),
                              ("punct", np.isin(ids, punct))):
            role(name, (p * key_ids[:, None, None, :]).sum(-1), rows)
        diag = np.diagonal(p, axis1=2, axis2=3)            # [b, h, q]
        role("self", diag, rows)
        seq = ids.shape[1]
        prev = np.zeros_like(diag)
        prev[..., 1:] = np.diagonal(p, offset=-1, axis1=2, axis2=3)   # p[q, q-1]
        has_prev = np.zeros_like(valid)
        has_prev[:, 1:] = valid[:, 1:] & valid[:, :-1]
        role("prev", prev, has_prev[:, None, :])
        nxt = np.zeros_like(diag)
        nxt[..., :seq - 1] = np.diagonal(p, offset=1, axis1=2, axis2=3)  # p[q, q+1]
        has_next = np.zeros_like(valid)
        has_next[:, :-1] = valid[:, :-1] & valid[:, 1:]
        role("next", nxt, has_next[:, None, :])
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        role("entropy", -plogp.sum(-1), rows)

    def result(self) -> HeadRoleScores:
        with np.errstate(invalid="ignore", divide="ignore"):
            arrays = {r: (self.sums[r] / self.counts[r]).astype(np.float32) if self.counts[r]
                      else np.full_like(self.sums[r], np.nan, dtype=np.float32) for r in ROLES}
        return HeadRoleScores(**arrays, n_rows=self.counts["bos"])


def scores_from_patterns(patterns: Sequence[np.ndarray], input_ids: Any,
                         attention_mask: Any = None, *, punct_ids: Iterable[int] = (),
                         bos_id: int = 0, eos_id: int = 2) -> HeadRoleScores:
    """Role scores from patterns already at hand: ``patterns[l]`` [batch, head, q, k] for each
    layer; input_ids / attention_mask [batch, seq]."""
    ids = np.asarray(input_ids)
    mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask)
    acc = _Accumulator(len(patterns), np.shape(patterns[0])[1])
    punct = np.asarray(sorted(set(int(t) for t in punct_ids)), dtype=ids.dtype)
    for layer, pat in enumerate(patterns):
        acc.add(layer, pat, ids, mask, bos_id, eos_id, punct)
    return acc.result()


def head_role_scores(model: Any, input_ids: Any, attention_mask: Any = None, *,
                     punct_ids: Iterable[int] | None = None, tokenizer: Any = None,
                     bos_id: int | None = None, eos_id: int | None = None,
                     batch_size: int = 16, compile: bool | str = False,
                     fwd_hooks: Sequence = ()) -> HeadRoleScores:
    """Run the model over texts and score every head.

    input_ids: [batch, seq] ints (a tokenizer's padded batch); attention_mask: [batch, seq] or
    None (then every ``pad_token_id`` is padding). punct_ids: the punctuation token ids, or
    found with ``punctuation_ids(tokenizer)``. bos_id / eos_id default to the config's.
    ``compile`` and ``fwd_hooks`` go to ``run_with_cache`` (a hook on ``hook_pattern`` that
    returns a replacement is scored as the replacement). Returns ``HeadRoleScores``.
    """
    cfg = model.config
    ids = np.asarray(input_ids)
    ids = ids[None] if ids.ndim == 1 else ids
    if attention_mask is None:
        mask = (ids != cfg.pad_token_id).astype(np.int32)
    else:
        mask = np.asarray(attention_mask).reshape(ids.shape)
    if punct_ids is None:
        punct_ids = punctuation_ids(tokenizer) if tokenizer is not None else ()
    bos = cfg.bos_token_id if bos_id is None else bos_id
    eos = cfg.eos_token_id if eos_id is None else eos_id
    punct = np.asarray(sorted(set(int(t) for t in punct_ids)), dtype=ids.dtype)
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(cfg.num_hidden_layers)]
    acc = _Accumulator(cfg.num_hidden_layers, cfg.num_attention_heads)
    for start in range(0, len(ids), batch_size):
        chunk_ids, chunk_mask = ids[start:start + batch_size], mask[start:start + batch_size]
        _, cache = model.run_with_cache(chunk_ids, attention_mask=chunk_mask, names_filter=names,
                                        compile=compile, fwd_hooks=list(fwd_hooks))
        for layer, name in enumerate(names):
            acc.add(layer, cache[name], chunk_ids, chunk_mask, bos, eos, punct)
    return acc.result()
