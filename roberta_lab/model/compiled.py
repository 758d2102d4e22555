"""The model's compiled functions: one registry per model, one call empties it.

Every engine that compiles something for a model (the forward pass, fill-mask, sweeps,
importance, generation, hooked runs) keeps it here, under its own owner name and a key of its
choosing, instead of on the model object. Traces bake in what they saw at trace time (the
compute dtype, hook functions, Python options), so ``model.invalidate_compiled()`` empties the
registry whenever one of those changes: ``set_compute_dtype``, weight loads
(``load_weights``, checkpoint loading), ``reset_hooks``. Variables are read by reference, so
training steps need no invalidation.

Example:
    >>> reg = CompiledFunctions()
    >>> f = reg.get("demo", ("square",), lambda: (lambda x: x * x))
    >>> f(3), reg.get("demo", ("square",), lambda: None) is f, len(reg)
    (9, True, 1)
    >>> reg.clear(); len(reg)
    0
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable


class CompiledFunctions:
    """Compiled functions by (owner, key). ``limit`` bounds an owner's entries (least recently
    used dropped), for owners whose keys include fresh closures (hooked runs)."""

    def __init__(self) -> None:
        self._owners: dict[str, OrderedDict] = {}

    def get(self, owner: str, key: Any, build: Callable[[], Callable],
            limit: int | None = None) -> Callable:
        """The function registered under (owner, key), built by ``build()`` the first time."""
        fns = self._owners.setdefault(owner, OrderedDict())
        if key in fns:
            fns.move_to_end(key)
            return fns[key]
        while limit is not None and len(fns) >= limit:
            fns.popitem(last=False)
        fns[key] = fn = build()
        return fn

    def entries(self, owner: str) -> dict[Any, Callable]:
        """A copy of one owner's functions by key (for inspection and tests)."""
        return dict(self._owners.get(owner, {}))

    def clear(self) -> None:
        self._owners.clear()

    def __len__(self) -> int:
        return sum(len(fns) for fns in self._owners.values())
