"""Lesson 3, the residual stream and the logit lens: what one block adds to the stream, and the
rank of the right answer under a layer's lens.

    >>> import numpy as np
    >>> from roberta_lab.course.check import lesson3
    >>> lesson3.ex2(lambda logits, t: int((np.asarray(logits) > np.asarray(logits)[t]).sum()))
    lesson3.ex2 passed: <lambda> agrees with the reference on 7 fresh inputs.
"""

from __future__ import annotations

import numpy as np

from ._core import compare, custom, fresh_seed, rng, shape_hint, sign


# --- references -----------------------------------------------------------------------------
def block_update(hidden_states, layer):
    """hidden_states: a tuple of L+1 arrays [seq, d_model] (index 0 = the embeddings' output,
    index l+1 = block l's output) -> what block ``layer`` changed: hs[layer+1] - hs[layer]."""
    return np.asarray(hidden_states[layer + 1]) - np.asarray(hidden_states[layer])


def target_rank(logits, target_id):
    """[vocab] -> the 0-based rank of ``target_id``: how many tokens have a strictly larger
    logit (0 = the top-1 prediction)."""
    logits = np.asarray(logits)
    return int((logits > logits[target_id]).sum())


# --- checks -----------------------------------------------------------------------------------
def ex1(student) -> None:
    """``block_update(hidden_states, layer)``."""
    r = rng(fresh_seed())
    cases = []
    for n_layers, seq, d in ((4, 6, 16), (3, 9, 8), (6, 5, 32)):
        hs = tuple(r.normal(size=(seq, d)) for _ in range(n_layers + 1))
        cases += [((hs, layer), {}) for layer in (1, n_layers - 2)]
    def other_layer(g, w, a):
        hs, layer = a
        return any(0 <= layer + s and layer + s + 1 < len(hs)
                   and np.allclose(g, block_update(hs, layer + s)) for s in (-1, 1))
    return compare("lesson3.ex1", student, block_update, cases,
                   [sign(), custom(other_layer, "the wrong layer: hidden_states[0] is the "
                                   "embeddings' output and block l writes hidden_states[l + 1], "
                                   "so block l's update is hidden_states[l + 1] - "
                                   "hidden_states[l]."),
                    custom(lambda g, w, a: np.allclose(g, a[0][a[1] + 1]),
                           "you returned the block's output, not the change it made: subtract "
                           "its input (the residual stream before the block)."),
                    shape_hint()])


def ex2(student) -> None:
    """``target_rank(logits, target_id)``."""
    r = rng(fresh_seed())
    cases = []
    for vocab in (10, 50, 200, 8192, 30, 5):
        logits = r.normal(size=vocab)
        cases.append(((logits, int(r.integers(vocab))), {}))
    cases.append(((np.arange(6.0), 5), {}))  # the top-1 token: rank 0
    one_based = custom(lambda g, w, a: int(g) == int(w) + 1,
                       "off by one: the rank is 0-based (the top-1 token has rank 0); count "
                       "the tokens with a strictly larger logit.")
    below = custom(lambda g, w, a: int(g) == int((np.asarray(a[0]) < np.asarray(a[0])[a[1]]).sum()),
                   "you counted the tokens below the target: the rank counts the tokens with a "
                   "larger logit.")
    return compare("lesson3.ex2", student, target_rank, cases[1:] + cases[:1], [one_based, below],
                   equal=lambda g, w: int(g) == int(w))
