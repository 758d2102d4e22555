"""Step traces of cached decoding, for teaching: what the cache holds and what the new token
attends to at every step, with the time of each step with and without the cache.

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForCausalLM
    >>> from roberta_lab.step_trace import trace_generation
    >>> keras.utils.set_random_seed(0)
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37, is_decoder=True)
    >>> trace = trace_generation(TFRobertaForCausalLM(cfg), np.array([[0, 5, 6]]), max_new_tokens=8)
    >>> len(trace.steps), trace.steps[1].self_attention.shape
    (8, (2, 4, 4))
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import tensorflow as tf

from .generation import _check  # the same argument checks as generate()

# --- the step trace (teaching) ----------------------------------------------------------------
@dataclasses.dataclass
class Step:
    """One decoding step (batch of 1): the query is the token fed at this step (the whole
    prompt at step 0, whose last position is the query recorded)."""

    index: int
    token_id: int
    text: str | None
    top_ids: list[int]
    top_probs: list[float]
    top_texts: list[str] | None
    cache_shapes: list[list[tuple[int, ...]]]  # per layer: (k, v[, cross_k, cross_v]) shapes
    cache_bytes: int  # the whole cache after this step
    self_attention: np.ndarray  # [layers, heads, k_pos], k_pos = prompt + index
    cross_attention: np.ndarray | None  # [layers, heads, enc_pos]
    time_s: float  # wall time of the cached step (model call, attention collected, choice)
    time_uncached_s: float | None = None  # the same step by full recompute


@dataclasses.dataclass
class GenerationTrace:
    prompt_ids: list[int]
    prompt_text: str | None
    steps: list[Step]
    uncached_tokens: list[int]
    tokens_match: bool  # cached and uncached runs chose the same tokens

    @property
    def tokens(self) -> list[int]:
        return [s.token_id for s in self.steps]

    @property
    def times_cached(self) -> list[float]:
        return [s.time_s for s in self.steps]

    @property
    def times_uncached(self) -> list[float | None]:
        return [s.time_uncached_s for s in self.steps]

    @property
    def cache_bytes(self) -> list[int]:
        return [s.cache_bytes for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: arrays become nested lists."""
        def plain(x: Any) -> Any:
            if isinstance(x, np.ndarray):
                return x.tolist()
            if isinstance(x, tuple):
                return list(x)
            return x
        return {"prompt_ids": self.prompt_ids, "prompt_text": self.prompt_text,
                "tokens_match": self.tokens_match, "uncached_tokens": self.uncached_tokens,
                "steps": [{f.name: plain(getattr(s, f.name)) for f in dataclasses.fields(s)}
                          for s in self.steps]}


def trace_generation(model, input_ids, *, max_new_tokens: int, top_k: int = 5, tokenizer=None,
                     encoder_hidden_states=None, encoder_attention_mask=None) -> GenerationTrace:
    """Greedy generation for one prompt, eagerly, recording every step (see ``Step``); then the
    same steps by full recompute, timed, with a flag saying whether the tokens agree."""
    if isinstance(input_ids, str):
        if tokenizer is None:
            raise ValueError("input_ids is text: pass tokenizer= to encode it")
        input_ids = tokenizer(input_ids, return_tensors="np")["input_ids"]
    ids, mask, enc_kw = _check(model, input_ids, None, max_new_tokens, 1.0, top_k, None, None,
                               False, encoder_hidden_states, encoder_attention_mask)
    if ids.shape[0] != 1:
        raise ValueError(f"input_ids must hold one prompt (batch 1), got batch {ids.shape[0]}")
    cfg = model.config
    layers = range(cfg.num_hidden_layers)
    names = [f"blocks.{l}.attn.hook_pattern" for l in layers]
    has_cross = cfg.add_cross_attention and "encoder_hidden_states" in enc_kw
    if has_cross:
        names += [f"blocks.{l}.cross_attn.hook_pattern" for l in layers]
    decode = (lambda t: tokenizer.decode([t])) if tokenizer is not None else None
    pad_idx = cfg.padding_idx
    steps, seq, past = [], ids, None
    for i in range(max_new_tokens):
        feed = seq if past is None else seq[:, -1:]
        n = seq.shape[1]
        positions = np.arange(pad_idx + n - feed.shape[1] + 1, pad_idx + n + 1, dtype=np.int32)
        start = time.perf_counter()
        out, acts = model.run_with_cache(feed, attention_mask=np.ones([1, n], np.int32),
                                         position_ids=positions[None], past_key_values=past,
                                         use_cache=True, names_filter=names, **enc_kw)
        logits = tf.cast(out.logits[0, -1], tf.float32)
        token = int(tf.argmax(logits))  # as generate's greedy choice
        probs = tf.nn.softmax(logits).numpy()
        elapsed = time.perf_counter() - start
        past = out.past_key_values
        top = np.argsort(-probs, kind="stable")[:top_k]
        shapes = [[tuple(int(d) for d in t.shape) for t in layer] for layer in past]
        size = sum(int(np.prod(s)) * tf.as_dtype(t.dtype).size
                   for layer, lshapes in zip(past, shapes) for t, s in zip(layer, lshapes))
        steps.append(Step(
            index=i, token_id=token, text=decode(token) if decode else None,
            top_ids=top.tolist(), top_probs=probs[top].tolist(),
            top_texts=[decode(int(t)) for t in top] if decode else None,
            cache_shapes=shapes, cache_bytes=size,
            self_attention=np.stack([acts[f"blocks.{l}.attn.hook_pattern"][0, :, -1]
                                     for l in layers]),
            cross_attention=np.stack([acts[f"blocks.{l}.cross_attn.hook_pattern"][0, :, -1]
                                      for l in layers]) if has_cross else None,
            time_s=elapsed))
        seq = np.concatenate([seq, [[token]]], axis=1).astype(np.int32)

    # The reference: no cache, the whole sequence every step, collecting the same patterns so
    # that both timings carry the same overhead.
    seq, uncached = ids, []
    for step in steps:
        n = seq.shape[1]
        start = time.perf_counter()
        out, _ = model.run_with_cache(
            seq, attention_mask=np.ones([1, n], np.int32), use_cache=False, names_filter=names,
            position_ids=np.arange(pad_idx + 1, pad_idx + n + 1, dtype=np.int32)[None], **enc_kw)
        token = int(tf.argmax(tf.cast(out.logits[0, -1], tf.float32)))
        step.time_uncached_s = time.perf_counter() - start
        uncached.append(token)
        # Continue from the cached run's token, so times compare equal lengths even on a mismatch.
        seq = np.concatenate([seq, [[step.token_id]]], axis=1).astype(np.int32)
    prompt_text = tokenizer.decode(ids[0].tolist()) if tokenizer is not None else None
    return GenerationTrace(prompt_ids=ids[0].tolist(), prompt_text=prompt_text, steps=steps,
                           uncached_tokens=uncached,
                           tokens_match=uncached == [s.token_id for s in steps])
