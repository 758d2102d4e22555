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
    >>> trace.timing["mode"], trace.timing["warmup_excluded"]
    ('graph', True)

Timing: the eager recording pass is not timed (its cost is Python overhead, the same for one
token or fifty). A second pass times each step both ways with the same compiled forward
(``tf.function``, one trace per way, dynamic lengths), warm (the tracing call is not timed), as
the median of ``repeats`` runs; both ways compute only the last position's logits.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import tensorflow as tf

from ..model.cache import KVCache
from ..model.inputs import engine_inputs
from .generation import check_arguments, prompt_ids  # the same argument checks as generate()

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
    time_s: float  # median time of the cached step (compiled, warm; see the module docstring)
    time_uncached_s: float | None = None  # the same step by full recompute, timed the same way


@dataclasses.dataclass
class GenerationTrace:
    prompt_ids: list[int]
    prompt_text: str | None
    steps: list[Step]
    uncached_tokens: list[int]
    tokens_match: bool  # cached and uncached runs chose the same tokens
    timing: dict[str, Any] = dataclasses.field(default_factory=dict)  # how the times were taken

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
                "timing": self.timing,
                "steps": [{f.name: plain(getattr(s, f.name)) for f in dataclasses.fields(s)}
                          for s in self.steps]}


def _build_forward_fns(model, enc_ranks: tuple[tuple[str, int], ...]):
    cfg = model.config
    names = [name for name, _ in enc_ranks]

    def forward(ids, past, enc):
        # past: None, or (HF's per-layer tuples, seen [1, 1]); positions follow the model's
        # one rule (the cache carries the count of tokens seen).
        n_keys = tf.shape(ids)[1] + (0 if past is None else tf.shape(past[0][0][0])[2])
        cache = None if past is None else KVCache.from_legacy_cache(past[0], past[1])
        inputs = engine_inputs(input_ids=ids, attention_mask=tf.ones([1, n_keys], tf.float32),
                               past_key_values=cache, use_cache=True, output_attentions=False,
                               output_hidden_states=False, **dict(zip(names, enc)))
        out = model.roberta.call(inputs, training=False)
        new = out["past_key_values"]
        return (model.lm_head(out["last_hidden_state"][:, -1:])[:, 0],
                (new.to_legacy_cache(), new.seen))

    seq = tf.TensorSpec([1, None], tf.int32)
    enc_specs = tuple(tf.TensorSpec([1] + [None] * (rank - 1), tf.float32)
                      for _, rank in enc_ranks)
    kv = tf.TensorSpec([1, cfg.num_attention_heads, None, cfg.head_dim],
                       model.roberta.embeddings.word_embeddings.dtype)
    n_cached = 4 if cfg.add_cross_attention and "encoder_hidden_states" in names else 2
    past = (tuple(tuple(kv for _ in range(n_cached)) for _ in range(cfg.num_hidden_layers)),
            tf.TensorSpec([1, 1], tf.int32))
    full = tf.function(lambda ids, enc: forward(ids, None, enc), input_signature=[seq, enc_specs])
    step = tf.function(forward, input_signature=[seq, past, enc_specs])
    return full, step


def _forward_fns(model, enc_kw: dict[str, Any]):
    """Two compiled forwards sharing one body: the whole sequence (no cache) and one new token
    over a cache; each returns (last logits [1, vocab], (cache tuples, seen)). Lengths are
    dynamic, so each traces once; both live in the model's registry of compiled functions."""
    enc = {k: tf.convert_to_tensor(x, tf.float32) for k, x in enc_kw.items()}
    key = tuple((k, x.shape.rank) for k, x in sorted(enc.items()))
    full, step = model.compiled_functions.get("step_trace", key,
                                              lambda: _build_forward_fns(model, key))
    return full, step, tuple(enc[k] for k, _ in key)


def _median_time(fn, *args, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)[0].numpy()  # .numpy() waits for the result
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_steps(model, ids: np.ndarray, tokens: list[int], *, repeats: int = 5,
               encoder_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Time each step of decoding ``tokens`` after the prompt ``ids`` [1, prompt], with and
    without the cache, the same way (see the module docstring). Returns ``{"cached": [s...],
    "uncached": [s...], "mode": "graph", "repeats": r, "warmup_excluded": True,
    "traces": (cached, uncached)}``; step 0 is the prompt in one call both ways."""
    full, step, enc = _forward_fns(model, encoder_kwargs or {})
    seq = np.asarray(ids, np.int32)
    past, cached, uncached = None, [], []
    for i in range(len(tokens)):
        whole = (tf.constant(seq), enc)
        full(*whole)  # warm-up (traces on the first step only)
        uncached.append(_median_time(full, *whole, repeats=repeats))
        if past is None:
            cached.append(uncached[-1])  # step 0: the prefill is the same call
            past = full(*whole)[1]
        else:
            new = (tf.constant(seq[:, -1:]), past, enc)
            past_next = step(*new)[1]  # warm-up (traces on the first cached step only)
            cached.append(_median_time(step, *new, repeats=repeats))
            past = past_next
        seq = np.concatenate([seq, [[tokens[i]]]], axis=1).astype(np.int32)
    return {"cached": cached, "uncached": uncached, "mode": "graph", "repeats": repeats,
            "warmup_excluded": True,
            "traces": (step.experimental_get_tracing_count(),
                       full.experimental_get_tracing_count())}


def trace_generation(model, input_ids, *, max_new_tokens: int, top_k: int = 5, tokenizer=None,
                     encoder_hidden_states=None, encoder_attention_mask=None,
                     stop_at_eos: bool = True, repeats: int = 5) -> GenerationTrace:
    """Greedy generation for one prompt, eagerly, recording every step (see ``Step``); the
    same tokens by full recompute, with a flag saying whether they agree; then each step timed
    both ways by ``time_steps``. Text is encoded as a causal prompt (``prompt_ids``: no
    trailing ``</s>``). Decoding stops after ``config.eos_token_id`` unless ``stop_at_eos=False``.
    """
    if isinstance(input_ids, str):
        if tokenizer is None:
            raise ValueError("input_ids is text: pass tokenizer= to encode it")
        input_ids = prompt_ids(tokenizer, input_ids)
    ids, mask, enc_kw = check_arguments(model, input_ids, None, max_new_tokens, 1.0, top_k, None,
                                        None, False, encoder_hidden_states,
                                        encoder_attention_mask)
    if ids.shape[0] != 1:
        raise ValueError(f"input_ids must hold one prompt (batch 1), got batch {ids.shape[0]}")
    cfg = model.config
    layers = range(cfg.num_hidden_layers)
    names = [f"blocks.{l}.attn.hook_pattern" for l in layers]
    has_cross = cfg.add_cross_attention and "encoder_hidden_states" in enc_kw
    if has_cross:
        names += [f"blocks.{l}.cross_attn.hook_pattern" for l in layers]
    decode = (lambda t: tokenizer.decode([t])) if tokenizer is not None else None
    steps, seq, past = [], ids, None
    for i in range(max_new_tokens):
        feed = seq if past is None else seq[:, -1:]
        n = seq.shape[1]
        out, acts = model.run_with_cache(feed, attention_mask=np.ones([1, n], np.int32),
                                         past_key_values=past, use_cache=True,
                                         names_filter=names, **enc_kw)
        logits = tf.cast(out.logits[0, -1], tf.float32)
        token = int(tf.argmax(logits))  # as generate's greedy choice
        probs = tf.nn.softmax(logits).numpy()
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
            time_s=float("nan")))
        seq = np.concatenate([seq, [[token]]], axis=1).astype(np.int32)
        if stop_at_eos and token == cfg.eos_token_id:
            break

    # The reference tokens: no cache, the whole sequence every step (eager, the public call).
    seq, uncached = ids, []
    for step in steps:
        n = seq.shape[1]
        out = model(seq, attention_mask=np.ones([1, n], np.int32), use_cache=False, **enc_kw)
        uncached.append(int(tf.argmax(tf.cast(out.logits[0, -1], tf.float32))))
        # Continue from the cached run's token, so both runs see equal lengths on a mismatch.
        seq = np.concatenate([seq, [[step.token_id]]], axis=1).astype(np.int32)
    timing = time_steps(model, ids, [s.token_id for s in steps], repeats=repeats,
                        encoder_kwargs=enc_kw)
    for step, t_c, t_u in zip(steps, timing["cached"], timing["uncached"]):
        step.time_s, step.time_uncached_s = t_c, t_u
    timing = {k: v for k, v in timing.items() if k not in ("cached", "uncached")}
    prompt_text = tokenizer.decode(ids[0].tolist()) if tokenizer is not None else None
    return GenerationTrace(prompt_ids=ids[0].tolist(), prompt_text=prompt_text, steps=steps,
                           uncached_tokens=uncached,
                           tokens_match=uncached == [s.token_id for s in steps], timing=timing)
