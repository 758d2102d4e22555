"""ARCHITECTURE.md's "how to add" recipes, tried. The input and hook-point recipes edit the
package, so their edits (and only those) are applied to a copy of it in a temporary folder and a
fresh interpreter checks what the recipe promises follows from them. The head recipe's worked
example (a doctest in ARCHITECTURE.md) gets the shared serialization ``Case`` its second place
asks for. The analysis-method and widget recipes are complete doctests in ARCHITECTURE.md
(run by test_architecture.py)."""

from __future__ import annotations

import doctest
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "roberta_lab"

SETUP = """
import inspect, numpy as np, keras
import roberta_lab
assert roberta_lab.__file__.startswith({tmp!r}), roberta_lab.__file__
from roberta_lab import RobertaConfig, TFRobertaForMaskedLM
keras.utils.set_random_seed(0)
cfg = RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=37)
model = TFRobertaForMaskedLM(cfg)
ids = np.array([[0, 5, 6, 7, 2]])
close = lambda a, b: np.abs(np.asarray(a) - np.asarray(b)).max() < 1e-5
"""


def _apply(tmp: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """A copy of the package under ``tmp`` with each (old, new) replacement made once; an
    anchor that is not there exactly once fails (update the recipe and this test together)."""
    shutil.copytree(PACKAGE, tmp / "roberta_lab", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, pairs in edits.items():
        path = tmp / "roberta_lab" / rel
        text = path.read_text(encoding="utf-8")
        for old, new in pairs:
            assert text.count(old) == 1, f"{rel}: the recipe's anchor moved: {old!r}"
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    return tmp


def _run(tmp: Path, script: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(tmp), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    code = SETUP.format(tmp=str(tmp)) + textwrap.dedent(script) + "\nprint('RECIPE OK')\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and "RECIPE OK" in proc.stdout, proc.stderr[-3000:]


def test_recipe_add_an_input(tmp_path):
    """"An input (two places)": its name in BASE_SIGNATURE and a field on ForwardInputs (with
    its conversion in prepare), and where RobertaMainLayer.call reads it. Here: per-token
    weights on the embeddings. Every class's signature, the three input formats, the compiled
    forward and the hooked runs then take it."""
    tmp = _apply(tmp_path, {
        "model/inputs.py": [
            ('"return_dict")\n_INT_INPUTS', '"return_dict", "token_weights")\n_INT_INPUTS'),
            ("    return_dict: bool | None = None\n",
             "    return_dict: bool | None = None\n    token_weights: tf.Tensor | None = None\n"),
            ("    for name in _FLAGS:\n        v[name] = _flag_value(name, v[name])\n",
             "    for name in _FLAGS:\n        v[name] = _flag_value(name, v[name])\n"
             "    v[\"token_weights\"] = to_tensor(\"token_weights\", v[\"token_weights\"], "
             "\"float\")\n"),
        ],
        "model/trunk.py": [
            ("        x = self.embeddings(ids, positions, types, embeds, training=training)\n",
             "        x = self.embeddings(ids, positions, types, embeds, training=training)\n"
             "        if inputs.token_weights is not None:\n"
             "            x = x * tf.cast(inputs.token_weights, x.dtype)[..., None]\n"),
        ],
    })
    _run(tmp, """
        from roberta_lab import TFRobertaModel
        for cls in (TFRobertaModel, TFRobertaForMaskedLM):
            assert "token_weights" in inspect.signature(cls.call).parameters, cls
        w = np.array([[1, 1, 0.25, 1, 1]], np.float32)
        plain = model(ids).logits.numpy()  # the compiled forward, without the input
        assert close(model(ids, token_weights=np.ones_like(w)).logits, plain)
        a = model(ids, token_weights=w).logits.numpy()
        assert not close(a, plain)
        assert close(model({"input_ids": ids, "token_weights": w}).logits, a)
        as_list = [ids] + [None] * (list(model.signature).index("token_weights") - 1) + [w]
        assert close(model(as_list).logits, a)
        assert close(model.run_with_hooks(ids, token_weights=w, compile=True).logits, a)
        _, cache = model.run_with_cache(ids, token_weights=w, names_filter="blocks.0.hook_resid_pre")
        assert cache["blocks.0.hook_resid_pre"].shape == (1, 5, 32)
    """)


def test_recipe_add_a_hook_point(tmp_path):
    """"A hook point (two places)": a HookPoint attribute called in the layer's forward, and its
    name and shape in HOOK_SHAPES. Here: the stream entering each block's MLP. The model then
    lists it in forward order, caches it, compiled or not, and hooks on it act."""
    tmp = _apply(tmp_path, {
        "model/block.py": [
            ('names = ["resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"]',
             'names = ["resid_pre", "attn_out", "resid_mid", "mlp_in", "mlp_out", "resid_post"]'),
            ("self.hook_mlp_out(self.dropout(self.mlp(resid), training=training))",
             "self.hook_mlp_out(self.dropout(self.mlp(self.hook_mlp_in(resid)), "
             "training=training))"),
        ],
        "model/hook_points.py": [
            ('    "blocks.{l}.mlp.hook_pre": "[batch, pos, d_mlp]",\n',
             '    "blocks.{l}.hook_mlp_in": "[batch, pos, d_model]",\n'
             '    "blocks.{l}.mlp.hook_pre": "[batch, pos, d_mlp]",\n'),
        ],
    })
    _run(tmp, """
        import tensorflow as tf
        names = list(model.hook_dict)
        assert names.index("blocks.1.hook_mlp_in") == names.index("blocks.1.mlp.hook_pre") - 1
        cached = {}
        for compile in (False, True):
            _, cache = model.run_with_cache(ids, compile=compile, names_filter=lambda n: n in (
                "blocks.1.hook_mlp_in", "blocks.1.hook_resid_mid"))
            assert cache["blocks.1.hook_mlp_in"].shape == (1, 5, 32)
            assert close(cache["blocks.1.hook_mlp_in"], cache["blocks.1.hook_resid_mid"])
        plain = model(ids).logits
        zeroed = model.run_with_hooks(ids, fwd_hooks=[("blocks.1.hook_mlp_in",
                                                       lambda x, hook: tf.zeros_like(x))]).logits
        assert not close(zeroed, plain)
    """)
    # and the snapshot test asks for the new name to be recorded
    snapshot = (ROOT / "tests" / "snapshots" / "hook_names.txt").read_text()
    assert "hook_mlp_in" not in snapshot


@pytest.fixture(scope="module")
def recipe_globals():
    """The names ARCHITECTURE.md's examples define (its worked head, controller...)."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    globs: dict = {"__name__": "__main__"}  # as doctest.testfile runs it
    test = doctest.DocTestParser().get_doctest(text, globs, "ARCHITECTURE.md", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, clear_globs=False)
    assert runner.failures == 0
    return test.globs


def test_recipe_add_a_head_has_its_serialization_case(recipe_globals, tmp_path):
    """"A head (two places)": the subclass (ARCHITECTURE.md's TokenScores), and one Case in
    tests/model/test_serialization.py, whose shared checks then pass for it."""
    sys.path.insert(0, str(ROOT / "tests" / "model"))  # as pytest does when it collects it
    import test_serialization as ser

    from conftest import random_ids

    head, cfg = recipe_globals["TokenScores"], recipe_globals["cfg"]
    ids = random_ids(ser.BATCH, ser.SEQ)
    case = ser.Case(head, dict(config=cfg), lambda m: m(ids)["scores"], (ser.BATCH, ser.SEQ),
                    is_model=True)
    checks = ser.TestCase()
    checks.run_shape_test(case)
    checks.run_serialization_test(case)
    checks.run_model_saving_test(case, tmp_path)


def test_recipe_add_a_widget_names_are_exported():
    """"A widget (two places)": its module in views/widgets/ and its names in
    views/widgets/__init__.py. A module whose widget or controller class is not exported fails
    here (the widget recipe's shell and controller are doctests in ARCHITECTURE.md)."""
    import importlib

    from roberta_lab.views import widgets

    folder = PACKAGE / "views" / "widgets"
    modules = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    assert modules
    for stem in modules:
        module = importlib.import_module(f"roberta_lab.views.widgets.{stem}")
        public = [name for name, obj in vars(module).items() if isinstance(obj, type)
                  and obj.__module__ == module.__name__ and name.endswith(("Widget", "Controller"))]
        missing = [name for name in public if name not in widgets.__all__]
        assert not missing, f"views/widgets/{stem}.py: not in widgets.__all__: {missing}"
