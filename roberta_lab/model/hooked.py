"""TransformerLens' hooked-root API on a Keras model: ``hooks()``, ``run_with_hooks``,
``run_with_cache``, eagerly or compiled.

Hook functions have the signature ``fn(activation, hook) -> None | replacement``. Eagerly they
see tensors with values; compiled (``compile=True`` for ``tf.function``, ``compile="xla"`` for
``jit_compile=True``) they run once, at trace time, and become part of the graph, so they must
use TensorFlow ops. A compiled function is kept per hook set (the functions' identities, the
flags and the names collected) and reused by later calls with the same set.

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
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator, Union

import numpy as np
import tensorflow as tf

from .activation_cache import ActivationCache
from .hook_points import HookFn, HookPoint, hook_names, iter_hook_points

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
    def hooks(self, fwd_hooks: Iterable[tuple[NameOrPredicate, HookFn]] = ()) -> Iterator[Any]:
        """Attach hooks for the duration of a ``with`` block; they are removed on exit."""
        attached: list[tuple[HookPoint, HookFn]] = []
        try:
            for name_or_pred, fn in fwd_hooks:
                for point in self.hook_points(name_or_pred):
                    point.add(fn)
                    attached.append((point, fn))
            yield self
        finally:
            for point, fn in reversed(attached):
                point.fns.remove(fn)

    def reset_hooks(self) -> None:
        for point in self.hook_dict.values():
            point.clear()

    # --- running --------------------------------------------------------------------------
    def run_with_hooks(self, *args: Any, fwd_hooks: Iterable[tuple[NameOrPredicate, HookFn]] = (),
                       compile: bool | str = False, **kwargs: Any) -> Any:
        """Call the model with hooks attached; ``compile`` as in the module docstring."""
        fwd_hooks = list(fwd_hooks)
        if not compile:
            with self.hooks(fwd_hooks):
                return self(*args, **kwargs)
        key = ("hooks", tuple((_ident(n), id(f)) for n, f in fwd_hooks))
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
        fwd_hooks = list(fwd_hooks)
        if compile:
            if return_tensors:
                raise ValueError("return_tensors=True needs compile=False (tensors of a compiled "
                                 "call carry no gradient tape)")
            key = ("cache", tuple(names), tuple((_ident(n), id(f)) for n, f in fwd_hooks))
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
        self._prepare(first, dict(tensors, **static))
        full_key = key + (tuple(sorted(static.items())), compile == "xla")
        fns = self.__dict__.setdefault("_compiled_runs", OrderedDict())
        if full_key in fns:
            fns.move_to_end(full_key)
        else:
            while len(fns) >= MAX_COMPILED_RUNS:  # new closures every sweep: keep a bounded set
                fns.popitem(last=False)
            def traced(first_arg: Any, tensor_kwargs: dict) -> tuple[Any, dict]:
                store: dict[str, Any] = {}

                def save(x: Any, hook: HookPoint) -> None:
                    store[hook.name] = x

                extra = [] if names is None else [(n, save) for n in names]
                with self.hooks(fwd_hooks + extra):
                    out = self(first_arg, **tensor_kwargs, **static)
                return out, store

            fns[full_key] = tf.function(traced, jit_compile=compile == "xla",
                                        reduce_retracing=True)
        return fns[full_key](_as_tensors(first), _as_tensors(tensors))


def _ident(name_or_pred: NameOrPredicate) -> Any:
    return name_or_pred if isinstance(name_or_pred, str) else id(name_or_pred)


def _as_tensors(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return tf.convert_to_tensor(value.astype(np.int32) if value.dtype == np.int64 else value)
    if isinstance(value, dict):
        return {k: _as_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v) for v in value)
    return value
