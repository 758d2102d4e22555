"""The one table of old import paths: ``roberta_lab.<old>`` is the same module object as its new
home, so code written against the flat layout (``roberta_lab.ablation``, ``roberta_lab.widgets``)
keeps working.

Example:
    >>> import roberta_lab.hub, roberta_lab.model.hub
    >>> roberta_lab.hub is roberta_lab.model.hub
    True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

#: old top-level name -> sub-package it moved to (``roberta_lab.<package>.<name>``).
MOVED = {
    **dict.fromkeys(["config", "tokenizer", "hub", "checkpoint", "inputs", "input_checks",
                     "outputs", "layers", "hook_points", "activation_cache", "hooked",
                     "embeddings", "attention", "block", "heads"], "model"),
    **dict.fromkeys(["fill_mask", "ablation", "importance", "lens", "patching", "head_roles",
                     "generation", "step_trace", "replicas"], "engine"),
    **dict.fromkeys(["viz", "viz_assets", "widgets"], "views"),
}


def target_of(fullname: str) -> str | None:
    """The new module path of an old one, or None if ``fullname`` did not move.

    >>> target_of("roberta_lab.widgets.ablation")
    'roberta_lab.views.widgets.ablation'
    >>> target_of("roberta_lab.training.train") is None
    True
    """
    parts = fullname.split(".")
    if len(parts) < 2 or parts[0] != "roberta_lab" or parts[1] not in MOVED:
        return None
    return ".".join(["roberta_lab", MOVED[parts[1]], *parts[1:]])


class _AliasLoader(importlib.abc.Loader):
    """Hands the import system the already-imported real module."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        # The import system has just set the alias's spec on the real module; give its own back.
        module.__spec__ = self.real_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = target_of(fullname)
        if new is None:
            return None
        real = importlib.import_module(new)
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(new), is_package=hasattr(real, "__path__"))


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once), so an old name never loads a
    second copy of a module through the moved package's ``__path__``."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
