"""TransformerLens' hooked-root API on a Keras model: ``hooks()``, ``run_with_hooks``,
``run_with_cache``, eagerly or compiled.

Hook functions have the signature ``fn(activation, hook) -> None | replacement``. Eagerly they
see tensors with values; compiled (``compile=True`` for ``tf.function``, ``compile="xla"`` for
``jit_compile=True``) they run once, at trace time, and become part of the graph, so they must
use TensorFlow ops. A compiled function is kept per hook set (the functions' identities, the
flags and the names collected) in the model's registry of compiled functions
(``model.compiled_functions``, see ``compiled.py``) and reused by later calls with the same set.

Example:
    >>> out, cache = model.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_pattern"))  # doctest: +SKIP
    >>> cache["pattern", 0].shape                                                                 # doctest: +SKIP
    (1, 12, 9, 9)
    >>> def kill_head_3(z, hook):                                                                 # doctest: +SKIP
    ...     return tf.concat([z[:, :, :3], tf.zeros_like(z[:, :, 3:4]), z[:, :, 4:]], axis=2)
    >>> model.run_with_hooks(ids, fwd_hooks=[("blocks.0.attn.hook_z", kill_head_3)])              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import difflib
import weakref
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator, Union

import numpy as np
import tensorflow as tf

from .activation_cache import ActivationCache
from .hook_points import (HookFn, HookPoint, any_attached, attached_fns, call_hooks, hook_names,
                          iter_hook_points)

MAX_COMPILED_RUNS = 32  # compiled hook sets kept per model (least recently used dropped)

NameOrPredicate = Union[str, Callable[[str], bool]]
NamesFilter = Union[None, str, Iterable[str], Callable[[str], bool]]


def _filter_fn(names_filter: NamesFilter) -> Callable[[str], bool]:
    if names_filter is None:
        return lambda name: True
    if isinstance(names_filter, str):
        return lambda name: name == names_filter
    if callable(names_filter):
        return names_filter
    wanted = set(names_filter)
    return lambda name: name in wanted


class HookedRootMixin:
    """Adds the hook API to a model whose layers hold ``HookPoint``s."""

    @property
    def hook_dict(self) -> dict[str, HookPoint]:
        """Every hook point by its public name, in forward order."""
        if "_hook_dict" not in self.__dict__:
            found = {hp.name: hp for hp in iter_hook_points(self)}
            cfg = self.config
            order = hook_names(cfg.num_hidden_layers, cfg.add_cross_attention,
                               lm_head=getattr(self, "lm_head", None) is not None)
            if set(order) != set(found):  # the documented list and the model must agree
                raise RuntimeError(f"hook points and HOOK_SHAPES disagree: "
                                   f"{sorted(set(order) ^ set(found))}")
            removed = _HooksRemoved(self)
            for point in found.values():
                point.on_removed = removed
            self.__dict__["_hook_dict"] = {name: found[name] for name in order}
        return self.__dict__["_hook_dict"]

    def hook_points(self, name_or_predicate: NameOrPredicate) -> list[HookPoint]:
        """The hook points a name or predicate selects; an unknown name is a ValueError that
        suggests the nearest valid names."""
        if isinstance(name_or_predicate, str):
            point = self.hook_dict.get(name_or_predicate)
            if point is None:
                near = difflib.get_close_matches(name_or_predicate, list(self.hook_dict), n=3)
                raise ValueError(f"hook name {name_or_predicate!r} does not exist in this model; "
                                 f"nearest valid names: {near}")
            return [point]
        if callable(name_or_predicate):
            return [hp for name, hp in self.hook_dict.items() if name_or_predicate(name)]
        raise TypeError("a hook is selected by a name (str) or a predicate (callable), got "
                        f"{type(name_or_predicate).__name__}")

    @contextlib.contextmanager
    def hooks(self, fwd_hooks: Any = ()) -> Iterator[Any]:
        """Attach hooks for the duration of a ``with`` block, for this thread's calls only
        (other threads using the model do not see them); they are removed on exit."""
        pairs = [(point, fn) for name_or_pred, fn in _hook_list(fwd_hooks)
                 for point in self.hook_points(name_or_pred)]
        try:
            with call_hooks(pairs):
                yield self
        finally:  # a hook change: what was traced with these functions goes (compiled.py)
            if pairs:
                self.hooks_removed(fn for _, fn in pairs)

    def has_hooks(self) -> bool:
        """Whether a call from this thread would run any hook (persistent or attached here)."""
        return any_attached(self.hook_dict.values())

    def hook_state(self) -> tuple:
        """A hashable key of the hooks a call from here would run: the model's registry of
        compiled functions adds it to every key, since a trace bakes in the hooks attached
        while tracing."""
        if not self.has_hooks():
            return ()
        return tuple((name, tuple(_Ident(f) for f in attached_fns(point)))
                     for name, point in self.hook_dict.items() if attached_fns(point))

    def hooks_removed(self, fns: Iterable[HookFn]) -> int:
        """Drop the compiled functions traced with any of ``fns`` attached (the registry's rule
        for hook changes, ``compiled.py``); returns how many were dropped. Called when a
        ``with model.hooks()`` block ends and by ``HookPoint.clear``."""
        gone = {id(fn) for fn in fns}  # alive here, so their ids are theirs
        return self.compiled_functions.release(
            lambda state: any(id(i.obj) in gone for _, idents in state for i in idents))

    def reset_hooks(self) -> None:
        """Remove the persistent hooks (``HookPoint.add``), and the compiled runs traced with
        hooks; ``with`` blocks clean up their own."""
        for point in self.hook_dict.values():
            point.clear()
        self.invalidate_compiled()

    # --- running --------------------------------------------------------------------------
    def run_with_hooks(self, *args: Any, fwd_hooks: Iterable[tuple[NameOrPredicate, HookFn]] = (),
                       compile: bool | str = False, **kwargs: Any) -> Any:
        """Call the model with hooks attached; ``compile`` as in the module docstring."""
        fwd_hooks = _hook_list(fwd_hooks)
        if not compile:
            with self.hooks(fwd_hooks):
                return self(*args, **kwargs)
        key = ("hooks", tuple((_ident(n), _Ident(f)) for n, f in fwd_hooks))
        return self._run_compiled(key, fwd_hooks, None, compile, args, kwargs)[0]

    def run_with_cache(self, *args: Any, names_filter: NamesFilter = None,
                       return_tensors: bool = False, compile: bool | str = False,
                       fwd_hooks: Iterable[tuple[NameOrPredicate, HookFn]] = (),
                       **kwargs: Any) -> tuple[Any, ActivationCache]:
        """Call the model and collect the activations ``names_filter`` selects (all by default).

        Returns (model output, ActivationCache). Values are numpy arrays unless
        ``return_tensors=True`` (eager only), which keeps tensors for ``tf.GradientTape``.
        ``fwd_hooks`` run too (an intervention and its effects in one call).
        """
        keep = _filter_fn(names_filter)
        names = [n for n in self.hook_dict if keep(n)]
        if not names:
            raise ValueError(f"names_filter={names_filter!r} selects no hook; see model.hook_dict")
        fwd_hooks = _hook_list(fwd_hooks)
        if compile:
            if return_tensors:
                raise ValueError("return_tensors=True needs compile=False (tensors of a compiled "
                                 "call carry no gradient tape)")
            key = ("cache", tuple(names), tuple((_ident(n), _Ident(f)) for n, f in fwd_hooks))
            out, store = self._run_compiled(key, fwd_hooks, names, compile, args, kwargs)
        else:
            store: dict[str, Any] = {}

            def save(x: Any, hook: HookPoint) -> None:
                store[hook.name] = x

            with self.hooks(fwd_hooks + [(n, save) for n in names]):
                out = self(*args, **kwargs)
        ordered = {n: store[n] for n in self.hook_dict if n in store}
        if not return_tensors:
            ordered = {n: v.numpy() for n, v in ordered.items()}
        return out, ActivationCache(ordered, self)

    def _run_compiled(self, key: tuple, fwd_hooks: list, names: list[str] | None,
                      compile: bool | str, args: tuple, kwargs: dict) -> tuple[Any, dict]:
        if compile not in (True, "xla"):
            raise ValueError(f"compile must be False, True or 'xla', got {compile!r}")
        if len(args) > 1:
            raise TypeError("compiled runs take the inputs as one positional argument plus "
                            "keyword arguments")
        first = args[0] if args else None
        if isinstance(first, Mapping):
            first = dict(first)
        # Flags and other Python values are baked into the trace; tensors are its inputs.
        static = {k: v for k, v in kwargs.items() if v is None or isinstance(v, (bool, str, int))}
        tensors = {k: v for k, v in kwargs.items() if k not in static}
        # Check the inputs eagerly (values and shapes) before tracing: under XLA TensorFlow
        # drops its asserts.
        self.prepare_inputs(first, **tensors, **static)
        full_key = key + (tuple(sorted(static.items())), compile == "xla")

        def build() -> Callable:
            def traced(first_arg: Any, tensor_kwargs: dict) -> tuple[Any, dict]:
                store: dict[str, Any] = {}

                def save(x: Any, hook: HookPoint) -> None:
                    store[hook.name] = x

                extra = [] if names is None else [(n, save) for n in names]
                with self.hooks(fwd_hooks + extra):
                    out = self(first_arg, **tensor_kwargs, **static)
                return out, store

            return tf.function(traced, jit_compile=compile == "xla", reduce_retracing=True)

        # New closures every sweep: keep a bounded set (least recently used dropped).
        fn = self.compiled_functions.get("hooked_runs", full_key, build, limit=MAX_COMPILED_RUNS)
        return fn(_as_tensors(first), _as_tensors(tensors))


class _HooksRemoved:
    """``HookPoint.on_removed`` for one model; holds the model weakly (no reference cycle)."""

    __slots__ = ("model",)

    def __init__(self, model: Any):
        self.model = weakref.ref(model)

    def __call__(self, fns: Iterable[HookFn]) -> None:
        model = self.model()
        if model is not None:
            model.hooks_removed(fns)


class _Ident:
    """A key part that compares by identity and keeps its object alive: a compiled run keyed on
    ``id(fn)`` could be reused by a new function that got a dead one's id."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ident) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def _ident(name_or_pred: NameOrPredicate) -> Any:
    return name_or_pred if isinstance(name_or_pred, str) else _Ident(name_or_pred)


def _hook_list(fwd_hooks: Any) -> list[tuple[NameOrPredicate, HookFn]]:
    """``fwd_hooks`` as a list of (name or predicate, function) pairs; a dict {name: fn} is
    accepted too. Anything else is a TypeError that says what was expected."""
    if isinstance(fwd_hooks, Mapping):
        fwd_hooks = list(fwd_hooks.items())
    if isinstance(fwd_hooks, (str, bytes)) or not isinstance(fwd_hooks, Iterable):
        raise TypeError("fwd_hooks must be a list of (name or predicate, function) pairs, got "
                        f"{type(fwd_hooks).__name__}")
    out = []
    for entry in fwd_hooks:
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise TypeError("fwd_hooks must be a list of (name or predicate, function) pairs; "
                            f"got the entry {entry!r}")
        name, fn = entry
        if not (isinstance(name, str) or callable(name)):
            raise TypeError(f"fwd_hooks: a hook is selected by a name or a predicate, got "
                            f"{type(name).__name__} {name!r}")
        if not callable(fn):
            raise TypeError(f"fwd_hooks: the hook for {name!r} must be callable, got "
                            f"{type(fn).__name__}")
        out.append((name, fn))
    return out


def _as_tensors(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return tf.convert_to_tensor(value.astype(np.int32) if value.dtype == np.int64 else value)
    if isinstance(value, dict):
        return {k: _as_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v) for v in value)
    return value
