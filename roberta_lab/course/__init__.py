"""The course: lessons (notebooks in ``notebooks/course/``) whose exercises check
themselves.

    >>> from roberta_lab.course import check                     # doctest: +SKIP
    >>> check.lesson1.ex1(mask_positions)                         # doctest: +SKIP
    lesson1.ex1 passed: mask_positions agrees with the reference on 6 fresh inputs.

``check.lessonN.exK(student_function)`` runs the student's function and the reference on fresh
random inputs (and on the bundled models where the exercise is about them) and, on a mismatch,
says what is wrong in plain words: the shape (transposed?), an off-by-one position, the wrong
layer, the sign, a constant scale, the softmax axis. ``roberta_lab.course.build`` writes the
student notebooks from the solution notebooks (nbgrader's ``### BEGIN SOLUTION`` markers).
``setup()`` is the lessons' first cell.
"""

from __future__ import annotations

import os
import warnings

__all__ = ["setup", "MODELS"]

MODELS = {"mlm": ("ROBERTA_LAB_MODEL", "roberta-lab/mini-mlm"),
          "causal": ("ROBERTA_LAB_CAUSAL_MODEL", "roberta-lab/mini-causal"),
          "seq2seq": ("ROBERTA_LAB_SEQ2SEQ_MODEL", "roberta-lab/mini-seq2seq")}


def setup(kind: str = "mlm", seed: int = 0) -> str:
    """A lesson's first cell: TensorFlow imported without its start-up lines, warnings off,
    seeds fixed, inline plots; returns the model name (the kind's environment variable, else
    the bundled model)."""
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {sorted(MODELS)}, got {kind!r}")
    from .._quiet import import_tensorflow  # noqa: PLC0415

    import_tensorflow()
    warnings.filterwarnings("ignore")
    import logging  # noqa: PLC0415

    import absl.logging  # noqa: PLC0415
    import keras  # noqa: PLC0415

    absl.logging.set_verbosity("error")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keras.utils.set_random_seed(seed)
    try:
        from IPython import get_ipython  # noqa: PLC0415

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
    variable, default = MODELS[kind]
    return os.environ.get(variable, default)
