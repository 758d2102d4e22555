"""The model's compiled functions: one registry per model, one call empties it.

Every engine that compiles something for a model (the forward pass, fill-mask, sweeps,
importance, generation, hooked runs) keeps it here, under its own owner name and a key of its
choosing, instead of on the model object. Traces bake in what they saw at trace time (the
compute dtype, hook functions, Python options), so ``model.invalidate_compiled()`` empties the
registry whenever one of those changes: ``set_compute_dtype``, weight loads
(``load_weights``, checkpoint loading), ``reset_hooks``. Variables are read by reference, so
training steps need no invalidation.

Hooks are per call (``hook_points``: a thread's ``with model.hooks()`` is invisible to other
threads), so they cannot be handled by invalidation alone: a registry built with ``state`` (the
model's ``hook_state``) adds the hooks a call would run to every key, here once for every owner,
and a trace made under one thread's hooks is never reused by a call with other hooks. The
registry is shared by threads: lookups and insertions hold a lock (building does not, so two
threads may build the same function; the first one stored wins).

Example:
    >>> reg = CompiledFunctions()
    >>> f = reg.get("demo", ("square",), lambda: (lambda x: x * x))
    >>> f(3), reg.get("demo", ("square",), lambda: None) is f, len(reg)
    (9, True, 1)
    >>> reg.clear(); len(reg)
    0
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable


class CompiledFunctions:
    """Compiled functions by (owner, key). ``limit`` bounds an owner's entries (least recently
    used dropped), for owners whose keys include fresh closures (hooked runs). ``state``: a
    function returning a hashable part added to every key (the model's ``hook_state``)."""

    def __init__(self, state: Callable[[], Any] | None = None) -> None:
        self._owners: dict[str, OrderedDict] = {}
        self._state = state
        self._lock = threading.Lock()

    def get(self, owner: str, key: Any, build: Callable[[], Callable],
            limit: int | None = None) -> Callable:
        """The function registered under (owner, key), built by ``build()`` the first time."""
        if self._state is not None:
            state = self._state()
            if state:  # no hooks: the plain key, so entries() shows what the owner chose
                key = (key, state)
        with self._lock:
            fns = self._owners.setdefault(owner, OrderedDict())
            if key in fns:
                fns.move_to_end(key)
                return fns[key]
        fn = build()
        with self._lock:
            fns = self._owners.setdefault(owner, OrderedDict())
            if key in fns:  # another thread built it meanwhile: one function per key
                return fns[key]
            while limit is not None and len(fns) >= limit:
                fns.popitem(last=False)
            fns[key] = fn
        return fn

    def entries(self, owner: str) -> dict[Any, Callable]:
        """A copy of one owner's functions by key (for inspection and tests)."""
        with self._lock:
            return dict(self._owners.get(owner, {}))

    def clear(self) -> None:
        with self._lock:
            self._owners.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(fns) for fns in self._owners.values())
