"""Text generation with ``TFRobertaForCausalLM``: greedy, temperature, top-k and top-p sampling
with a KV cache (the step-by-step trace for teaching is in ``step_trace.py``).

Shapes: prompt ``input_ids``/``attention_mask`` [batch, prompt]; optional encoder states
[batch, enc_pos, d_model] and mask [batch, enc_pos]; ``generate`` returns int32
[batch, prompt + max_new_tokens] (rows that met ``eos_token_id`` are padded with
``pad_token_id`` after it, so shapes stay fixed). Three engines compute the same greedy tokens:

* ``compiled=True`` (default, = ``"xla"``): prefill + a ``tf.while_loop`` in one graph over
  fixed-size cache buffers [batch, heads, prompt + new, d_head] written at ``cache_index``,
  compiled with XLA; traced once per (shapes, max_new_tokens, do_sample, top_k, top_p or not).
  ``compiled="graph"``: the same loop as a plain ``tf.function``.
* ``compiled=False``: HF-style eager loop, the public ``model(...)`` with a growing cache.
* ``use_cache=False``: the reference; the whole sequence is recomputed at every step (eager).

Positions follow RoBERTa (real tokens count from ``padding_idx + 1``, pads keep
``padding_idx``) and are passed explicitly, counted from the attention mask, so a left-padded
row yields the same tokens as that row alone (greedy; sampled noise depends on the row index).
Sampling adds Gumbel noise that is a pure uint32 hash of ``(seed, step, row, token)``: a seed
reproduces across calls and across all engines, graph and XLA included (TF's stateless Philox
kernels differ under XLA), up to float near-ties between the engines' logits.

Example:
    >>> import numpy as np, keras
    >>> from roberta_lab import RobertaConfig, TFRobertaForCausalLM
    >>> from roberta_lab.generation import generate
    >>> keras.utils.set_random_seed(0)
    >>> cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                     num_attention_heads=4, intermediate_size=37, is_decoder=True)
    >>> model = TFRobertaForCausalLM(cfg)
    >>> out = generate(model, np.array([[0, 5, 6]]), max_new_tokens=8)
    >>> out.shape
    (1, 11)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ..model.inputs import BASE_SIGNATURE

_NEG_INF = float("-inf")


# --- logits -> next token (shared by every engine, so all three choose alike) -----------------
def top_k_filter(logits: tf.Tensor, k: int) -> tf.Tensor:
    """[batch, vocab] -> the same with every logit below the k-th largest set to -inf (ties with
    the k-th are kept, as in HF)."""
    k = min(int(k), int(logits.shape[-1]))
    kth = tf.math.top_k(logits, k=k).values[:, -1:]  # [batch, 1]
    return tf.where(logits < kth, tf.constant(_NEG_INF, logits.dtype), logits)


def top_p_filter(logits: tf.Tensor, p: Any) -> tf.Tensor:
    """[batch, vocab] -> keep the smallest set of most likely tokens whose probability mass is
    >= p (always at least one); the rest become -inf. Ties with the last kept logit are kept."""
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    probs = tf.nn.softmax(ordered, axis=-1)
    before = tf.cumsum(probs, axis=-1, exclusive=True)  # mass of the strictly more likely tokens
    # A token is needed while the mass before it is still short of p.
    n_keep = tf.maximum(tf.reduce_sum(tf.cast(before < tf.cast(p, probs.dtype), tf.int32), -1), 1)
    cut = tf.gather(ordered, n_keep[:, None] - 1, batch_dims=1)  # [batch, 1]
    return tf.where(logits < cut, tf.constant(_NEG_INF, logits.dtype), logits)


def next_token(logits: tf.Tensor, step: Any, seed: Any, do_sample: bool, temperature: Any,
               top_k: int | None, top_p: Any) -> tf.Tensor:
    """logits [batch, vocab] -> int32 [batch]. HF's order: temperature, top-k, top-p, sample."""
    logits = tf.cast(logits, tf.float32)
    if not do_sample:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    logits = logits / tf.cast(temperature, tf.float32)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    # Gumbel-max = a categorical draw. The noise is a hash of (seed, step, row, token) in uint32
    # arithmetic: TF's stateless Philox differs between XLA and TF kernels, this does not, so
    # every engine (eager, graph, XLA) samples the same tokens for a seed.
    u = _uniform(tf.shape(logits), seed, step)
    return tf.argmax(logits - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)


def _hash(x: tf.Tensor) -> tf.Tensor:
    """uint32 -> uint32, a well-mixed integer hash (Wellons' lowbias32)."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def _uniform(shape: tf.Tensor, seed: Any, step: Any) -> tf.Tensor:
    """float32 in (0, 1) of ``shape`` [batch, vocab], a pure function of (seed, step, row, col)."""
    as_u32 = lambda t: tf.cast(tf.math.floormod(tf.cast(t, tf.int64), 2**32), tf.uint32)  # noqa
    key = _hash(_hash(as_u32(seed)) ^ as_u32(step) * tf.constant(0x9E3779B9, tf.uint32))
    rows = tf.cast(tf.range(shape[0]), tf.uint32)[:, None]
    cols = tf.cast(tf.range(shape[1]), tf.uint32)[None, :]
    bits = _hash(_hash(key ^ _hash(rows + tf.constant(0x632BE5AB, tf.uint32))) + cols)
    # top 24 bits -> (0, 1), never 0 or 1 (log stays finite)
    return (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32)
            + 0.5) / 2.0**24


def _finish(token: tf.Tensor, done: tf.Tensor, eos: Any, pad: Any):
    """A finished row emits pad; a row that emits eos (-1: none) is finished from then on."""
    token = tf.where(done, tf.cast(pad, tf.int32), token)
    return token, tf.logical_or(done, tf.equal(token, tf.cast(eos, tf.int32)))


def _positions(mask: tf.Tensor, start: Any, padding_idx: int) -> tf.Tensor:
    """mask [batch, seq] (1 = real) -> RoBERTa positions continuing ``start`` [batch, 1] real
    tokens already seen: real tokens get padding_idx + their running count, pads padding_idx."""
    real = tf.cast(mask, tf.int32)
    return (tf.cumsum(real, axis=1) + start) * real + padding_idx


# --- the compiled engine --------------------------------------------------------------------
def _engine_inputs(**given: Any) -> dict[str, Any]:
    # RobertaMainLayer.call reads the prepared-inputs dict; the rest stays None.
    v = {name: None for name in BASE_SIGNATURE}
    v.update(given, use_cache=True, output_attentions=False, output_hidden_states=False)
    return v


def _build_compiled(model, new: int, do_sample: bool, top_k: int | None, use_top_p: bool,
                    xla: bool):
    cfg = model.config
    pad_idx = cfg.padding_idx

    # Values that may change between calls (seed, temperature, top_p, eos, pad) are tensor
    # inputs, not baked in: changing them does not retrace.
    def run(ids, mask, enc, enc_mask, seed, temperature, top_p, eos, pad):
        batch, prompt = tf.shape(ids)[0], ids.shape[1]
        total = prompt + new
        dtype = model.roberta.embeddings.word_embeddings.dtype
        zeros = tf.zeros([batch, cfg.num_attention_heads, total, cfg.head_dim], dtype)
        past = tuple((zeros, zeros) for _ in range(cfg.num_hidden_layers))
        # Slots after the prompt are all real: the causal rule hides the ones not yet written.
        full_mask = tf.concat([mask, tf.ones([batch, new], mask.dtype)], axis=1)  # [batch, total]
        tp = top_p if use_top_p else None

        def forward(step_ids, positions, past, index):
            v = _engine_inputs(input_ids=step_ids, attention_mask=full_mask, position_ids=positions,
                               past_key_values=past, encoder_hidden_states=enc,
                               encoder_attention_mask=enc_mask, cache_index=index)
            out = model.roberta.call(v, training=False)
            logits = model.lm_head(out["last_hidden_state"][:, -1:])[:, 0]  # [batch, vocab]
            return logits, out["past_key_values"]

        # Prefill: the whole prompt in one call at cache_index 0 (also computes cross K/V).
        logits, past = forward(ids, _positions(mask, 0, pad_idx), past, tf.constant(0))
        count = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1, keepdims=True)  # real tokens [b,1]
        token, done = _finish(next_token(logits, 0, seed, do_sample, temperature, top_k, tp),
                              tf.zeros([batch], tf.bool), eos, pad)
        # [batch, new] prefilled with pad: steps skipped after every row finished stay pad.
        tokens = tf.concat([token[:, None], tf.fill([batch, new - 1], pad)], axis=1)
        column = tf.range(new)[None, :]

        def body(i, token, count, done, tokens, past):
            count = count + 1
            logits, past = forward(token[:, None], count + pad_idx, past, prompt + i - 1)
            token, done = _finish(next_token(logits, i, seed, do_sample, temperature, top_k, tp),
                                  done, eos, pad)
            return i + 1, token, count, done, tf.where(column == i, token[:, None], tokens), past

        def cond(i, token, count, done, tokens, past):
            return tf.logical_and(i < new, tf.logical_not(tf.reduce_all(done)))

        tokens = tf.while_loop(cond, body, (tf.constant(1), token, count, done, tokens, past))[4]
        return tf.concat([ids, tokens], axis=1)

    return tf.function(run, jit_compile=xla)


def _compiled(model, key: tuple):
    fns = model.__dict__.setdefault("_generation_fns", {})  # one traced loop per static option set
    if key not in fns:
        fns[key] = _build_compiled(model, *key)
    return fns[key]


# --- the eager engines ----------------------------------------------------------------------
def _eager_loop(model, ids, mask, enc_kw, new, use_cache, choose, eos, pad) -> np.ndarray:
    pad_idx = model.config.padding_idx
    batch = ids.shape[0]
    seq, full_mask = ids, mask
    positions = _positions(mask, 0, pad_idx).numpy()
    done = tf.zeros([batch], tf.bool)
    out, past = [], None
    for i in range(new):
        if use_cache:  # HF's loop: feed only what the cache has not seen
            feed = seq if past is None else seq[:, -1:]
            res = model(feed, attention_mask=full_mask, position_ids=positions[:, -feed.shape[1]:],
                        past_key_values=past, use_cache=True, **enc_kw)
            past = res.past_key_values
        else:
            res = model(seq, attention_mask=full_mask, position_ids=positions, use_cache=False,
                        **enc_kw)
        token, done = _finish(choose(res.logits[:, -1], i), done, eos, pad)
        out.append(token.numpy())
        if bool(tf.reduce_all(done)):
            break
        seq = np.concatenate([seq, out[-1][:, None]], axis=1).astype(np.int32)
        full_mask = np.concatenate([full_mask, np.ones([batch, 1], full_mask.dtype)], axis=1)
        positions = np.concatenate([positions, positions.max(axis=1, keepdims=True) + 1], axis=1)
    gen = np.full([batch, new], pad, np.int32)
    gen[:, :len(out)] = np.stack(out, axis=1)
    return np.concatenate([np.asarray(ids), gen], axis=1)


# --- the public API -------------------------------------------------------------------------
def _check(model, input_ids, attention_mask, max_new_tokens, temperature, top_k, top_p,
           pad_token_id, compiled, enc, enc_mask):
    """Validate eagerly (names the argument) and return numpy ids, mask and the encoder kwargs."""
    cfg = getattr(model, "config", None)
    if getattr(model, "lm_head", None) is None or cfg is None:
        raise TypeError(f"model must be a TFRobertaForCausalLM, got {type(model).__name__}")
    if not cfg.is_decoder:
        raise ValueError("model must be a decoder (config.is_decoder=True) to generate")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        raise TypeError(f"max_new_tokens must be an int, got {type(max_new_tokens).__name__}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                              or top_k < 1):
        raise ValueError(f"top_k must be an int >= 1 or None, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if compiled not in (True, False, "graph", "xla"):
        raise ValueError(f"compiled must be True, False, 'graph' or 'xla', got {compiled!r}")
    ids = np.asarray(input_ids.numpy() if hasattr(input_ids, "numpy") else input_ids)
    if ids.ndim == 1:
        ids = ids[None]
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"input_ids must be integer [batch, prompt], got {ids.dtype} {ids.shape}")
    ids = ids.astype(np.int32)
    if attention_mask is None:  # as HF: pads in the prompt are masked when pad_token_id is known
        mask = (ids != pad_token_id) if pad_token_id is not None else np.ones_like(ids)
    else:
        mask = np.asarray(attention_mask.numpy() if hasattr(attention_mask, "numpy")
                          else attention_mask)
        mask = mask.reshape(ids.shape) if mask.size == ids.size else mask
    mask = np.asarray(mask, np.int32)
    if (mask.sum(axis=1) == 0).any():
        raise ValueError("attention_mask has a row with no real token")
    limit = cfg.max_sequence_length
    if ids.shape[1] + max_new_tokens - 1 > limit:  # the last new token is never embedded
        raise ValueError(f"max_new_tokens={max_new_tokens} with a prompt of {ids.shape[1]} "
                         f"exceeds the position table ({limit} tokens)")
    enc_kw = {k: x for k, x in (("encoder_hidden_states", enc),
                                ("encoder_attention_mask", enc_mask)) if x is not None}
    model._prepare(ids, dict(attention_mask=mask, **enc_kw))  # shapes, ranges, dtypes
    return ids, mask, enc_kw


def generate(model, input_ids, attention_mask=None, *, max_new_tokens: int, do_sample=False,
             temperature=1.0, top_k=None, top_p=None, seed=None, eos_token_id=None,
             pad_token_id=None, encoder_hidden_states=None, encoder_attention_mask=None,
             use_cache=True, compiled=True) -> np.ndarray:
    """Generate ``max_new_tokens`` per row; returns int32 [batch, prompt + max_new_tokens].

    Greedy unless ``do_sample``. ``compiled``: True or "xla" (tf.function with jit_compile, the
    fastest), "graph" (plain tf.function), False (eager loop with the public model call);
    ``use_cache=False`` is always the eager full recompute.
    ``pad_token_id`` defaults to config.pad_token_id (else eos); it fills rows after their eos.
    """
    if getattr(model, "lm_head", None) is None or getattr(model, "config", None) is None:
        raise TypeError(f"model must be a TFRobertaForCausalLM, got {type(model).__name__}")
    if pad_token_id is None:
        pad_token_id = model.config.pad_token_id if model.config.pad_token_id is not None \
            else eos_token_id
    ids, mask, enc_kw = _check(model, input_ids, attention_mask, max_new_tokens, temperature,
                               top_k, top_p, pad_token_id, compiled, encoder_hidden_states,
                               encoder_attention_mask)
    pad = 0 if pad_token_id is None else int(pad_token_id)
    eos = -1 if eos_token_id is None else int(eos_token_id)
    if seed is None:  # follows the global seed (keras.utils.set_random_seed) when one is set
        seed = int(tf.random.uniform([], 0, 2**31 - 1, dtype=tf.int64))
    top_k = None if top_k is None else int(top_k)
    if use_cache and compiled:
        # XLA is the default: 4-9x faster per token than a plain graph on CPU (tiny and
        # 256x4 models, bench/bench_generation.py), for a slower first call.
        key = (int(max_new_tokens), bool(do_sample), top_k if do_sample else None,
               bool(do_sample and top_p is not None), compiled != "graph")
        enc, enc_mask = (tf.cast(enc_kw[k], tf.float32) if k in enc_kw else None
                         for k in ("encoder_hidden_states", "encoder_attention_mask"))
        out = _compiled(model, key)(tf.constant(ids), tf.constant(mask, tf.float32), enc, enc_mask,
                                    tf.constant(seed, tf.int64),
                                    tf.constant(temperature, tf.float32),
                                    tf.constant(1.0 if top_p is None else top_p, tf.float32),
                                    tf.constant(eos, tf.int32), tf.constant(pad, tf.int32))
        return out.numpy()

    def choose(logits, step):
        return next_token(logits, step, seed, do_sample, temperature, top_k, top_p)

    return _eager_loop(model, ids, mask, enc_kw, max_new_tokens, use_cache, choose, eos, pad)
