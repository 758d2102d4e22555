"""The architecture's rules, checked on the source: ARCHITECTURE.md's recipes run (doctests);
the internal inputs are built in one module; no compiled function is kept on the model object
outside its registry; no module imports another module's private name; the tests mirror the
package's layout."""

from __future__ import annotations

import ast
import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "roberta_lab"
SOURCES = sorted(p for p in PACKAGE.rglob("*.py"))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_architecture_recipes_run():
    result = doctest.testfile(str(ROOT / "ARCHITECTURE.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 15 and result.failed == 0, result


TESTS = ROOT / "tests"
TEST_HELPERS = {"fixtures", "snapshots"}


def test_tests_mirror_the_package_layout():
    """tests/<sub-package>/ for each sub-package's tests, tests/ itself for cross-cutting ones.
    The folders are not packages (pytest's default import mode puts each test's folder on
    sys.path, so ``from conftest import ...`` and ``from model_zoo import ...`` work from every
    folder); the price is that two test files may not share a basename."""
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} | \
        {p.stem for p in PACKAGE.glob("*.py")}  # tests/cli/ holds cli.py's tests
    assert folders - TEST_HELPERS <= packages, folders - TEST_HELPERS - packages
    files = sorted(TESTS.rglob("test_*.py"))
    names = [p.name for p in files]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    assert not list(TESTS.rglob("__init__.py")) and not list(TESTS.rglob("*/conftest.py"))


def test_forward_inputs_are_built_in_one_module():
    builders = [p.relative_to(ROOT).as_posix() for p in SOURCES
                if re.search(r"\bForwardInputs\(", _read(p))]
    assert builders == ["roberta_lab/model/inputs.py"]
    # and nobody builds the old untyped dict by hand any more
    for path in SOURCES:
        text = _read(path)
        assert "dict.fromkeys((\"inputs_embeds\"" not in text, path
        assert "_engine_inputs" not in text and "._prepare(" not in text, path


# Plain attributes cached on objects that are not compiled functions.
ALLOWED_DICT_KEYS = {"_hook_dict", "extra", "_shown", "special_tokens"}


def test_no_compiled_function_stored_on_the_model_outside_the_registry():
    for path in SOURCES:
        text = _read(path)
        for key in re.findall(r"__dict__(?:\.setdefault\(|\.get\(|\.pop\(|\[)\s*[\"'](\w+)", text):
            assert key in ALLOWED_DICT_KEYS, f"{path}: __dict__[{key!r}]"
    registry = _read(PACKAGE / "model" / "compiled.py")
    assert "class CompiledFunctions" in registry


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_private_name_imported_across_modules(path):
    tree = ast.parse(_read(path))
    modules = set()  # local names bound to roberta_lab modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or
                                                 (node.module or "").startswith("roberta_lab")):
            for alias in node.names:
                assert not _private(alias.name) or alias.name == "_aliases", \
                    f"{path}: imports private {alias.name} from {node.module}"
                modules.add(alias.asname or alias.name)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("roberta_lab"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in modules and _private(node.attr):
            pytest.fail(f"{path}:{node.lineno}: uses {node.value.id}.{node.attr}")


def test_one_call_invalidates_every_compiled_function(tmp_path):
    """Every engine keeps its compiled functions in model.compiled_functions; a dtype change,
    a weight load and reset_hooks each empty it, and the model still computes the same."""
    import numpy as np

    from conftest import random_ids, tiny_config
    from roberta_lab import TFRobertaForMaskedLM
    from roberta_lab.engine.ablation import masked_lm_metric, sweep_heads
    from roberta_lab.engine.fill_mask import mask_logits

    model = TFRobertaForMaskedLM(tiny_config())
    ids = random_ids(2, 6)
    ids[:, 3] = 4
    labels = np.full_like(ids, -100)
    labels[:, 3] = 7
    before = model(ids).logits.numpy()
    mask_logits(model, ids, mask_token_id=4)
    sweep_heads(model, ids, None, masked_lm_metric(labels), progress=False)
    model.run_with_cache(ids, names_filter="blocks.0.hook_resid_pre", compile=True)
    owners = {"forward", "fill_mask", "sweep", "hooked_runs"}
    assert all(model.compiled_functions.entries(o) for o in owners)
    model.set_compute_dtype("bfloat16")
    assert len(model.compiled_functions) == 0
    model.set_compute_dtype(None)
    model(ids)
    model.save_weights(str(tmp_path / "w.weights.h5"))
    model.load_weights(str(tmp_path / "w.weights.h5"))
    assert len(model.compiled_functions) == 0
    model(ids)
    model.reset_hooks()
    assert len(model.compiled_functions) == 0
    np.testing.assert_allclose(model(ids).logits.numpy(), before, atol=1e-6)
