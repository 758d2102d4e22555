"""The model's compiled functions: one registry per model, one call empties it.

Every engine that compiles something for a model (the forward pass, fill-mask, sweeps,
importance, generation, hooked runs) keeps it here, under its own owner name and a key of its
choosing, instead of on the model object. Traces bake in what they saw at trace time (the
compute dtype, hook functions, Python options), so ``model.invalidate_compiled()`` empties the
registry whenever one of those changes: ``set_compute_dtype``, weight loads
(``load_weights``, checkpoint loading), ``reset_hooks``. Variables are read by reference, so
training steps need no invalidation.

Hooks are part of every key, and a hook change goes through the registry. Hooks are per call
(``hook_points``: a thread's ``with model.hooks()`` is invisible to other threads), so emptying
the whole registry when one thread attaches a hook would be both too much and too little: too
much, because engines enter ``model.hooks()`` inside their own traces (a sweep's tail, a
gradient tape), so every trace would empty the registry that holds it; too little, because
another thread could trace under its own hooks between the emptying and the next lookup. So the
rule is: **an entry runs only under the hook state it was traced under.** A registry built with
``state`` (the model's ``hook_state``: the hooks a call from here would run, persistent and this
thread's, by function identity) adds that state to every key, for every owner. A function
traced with no hook never runs once one is attached (its key lacks the hook), and one traced
with a hook never runs once the hook is gone (the key has it). When hooks are removed (a
``with model.hooks()`` block ends, ``HookPoint.clear``), ``release`` drops the entries traced
with them, so a function traced with a hook never outlives it either (nor keeps its closure
alive); ``reset_hooks`` empties the registry. The eager forward with hooks attached is not
compiled at all (eager hooks see values: ``model._run``). The registry is shared by threads:
lookups and insertions hold a lock (building does not, so two threads may build the same
function; the first one stored wins).

Example:
    >>> reg = CompiledFunctions()
    >>> f = reg.get("demo", ("square",), lambda: (lambda x: x * x))
    >>> f(3), reg.get("demo", ("square",), lambda: None) is f, len(reg)
    (9, True, 1)
    >>> reg.clear(); len(reg)
    0
    >>> hooks = ()  # the state: what hooks a call would run (here: a name)
    >>> reg = CompiledFunctions(state=lambda: hooks)
    >>> plain = reg.get("demo", ("f",), lambda: "traced without hooks")
    >>> hooks = ("zero_head_3",)
    >>> reg.get("demo", ("f",), lambda: "traced with zero_head_3")
    'traced with zero_head_3'
    >>> reg.release(lambda state: "zero_head_3" in state); hooks = ()
    1
    >>> reg.get("demo", ("f",), lambda: None) is plain, len(reg)
    (True, 1)
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
        self._traced_under: dict[Any, set[tuple[str, Any]]] = {}  # state -> its (owner, key)s
        self._lock = threading.Lock()

    def get(self, owner: str, key: Any, build: Callable[[], Callable],
            limit: int | None = None) -> Callable:
        """The function registered under (owner, key), built by ``build()`` the first time."""
        state = self._state() if self._state is not None else None
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
                self._forget(owner, fns.popitem(last=False)[0])
            fns[key] = fn
            if state:
                self._traced_under.setdefault(state, set()).add((owner, key))
        return fn

    def release(self, drop: Callable[[Any], bool]) -> int:
        """Drop the entries traced under a state for which ``drop(state)`` is true (the model
        calls it when hooks are removed); returns how many were dropped."""
        with self._lock:
            if not self._traced_under:  # the common case: nothing was traced under hooks
                return 0
            gone = [state for state in self._traced_under if drop(state)]
            count = 0
            for state in gone:
                for owner, key in self._traced_under.pop(state):
                    count += self._owners.get(owner, {}).pop(key, None) is not None
            return count

    def _forget(self, owner: str, key: Any) -> None:
        """Unlist an entry dropped by an owner's limit (lock held)."""
        if isinstance(key, tuple) and len(key) == 2 and key[1] in self._traced_under:
            entries = self._traced_under[key[1]]
            entries.discard((owner, key))
            if not entries:
                del self._traced_under[key[1]]

    def entries(self, owner: str) -> dict[Any, Callable]:
        """A copy of one owner's functions by key (for inspection and tests)."""
        with self._lock:
            return dict(self._owners.get(owner, {}))

    def clear(self) -> None:
        with self._lock:
            self._owners.clear()
            self._traced_under.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(fns) for fns in self._owners.values())
