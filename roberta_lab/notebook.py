"""The notebooks' shared first cell: ``MODEL = roberta_lab.notebook.setup()``.

``setup`` quietens TensorFlow's and Python's warnings (and the native libraries' notices while
they load), fixes the seeds (Python, NumPy,
TensorFlow, through ``keras.utils.set_random_seed(0)``), turns on inline plots inside IPython,
and returns the model name to load: the environment variable of the notebook's kind, else the
bundled default.

=========  ===========================  ==========================
kind       environment variable         default
=========  ===========================  ==========================
mlm        ``ROBERTA_LAB_MODEL``         ``roberta-lab/mini-mlm``
causal     ``ROBERTA_LAB_CAUSAL_MODEL``  ``roberta-lab/mini-causal``
seq2seq    ``ROBERTA_LAB_SEQ2SEQ_MODEL`` ``roberta-lab/mini-seq2seq``
=========  ===========================  ==========================

Example:
    >>> import os
    >>> os.environ.pop("ROBERTA_LAB_CAUSAL_MODEL", None) and None
    >>> setup("causal")
    'roberta-lab/mini-causal'
"""

from __future__ import annotations

import logging
import os
import warnings

# Before TensorFlow loads (a notebook imports this module first): no C++ info/warning lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ._quiet import import_tensorflow, silenced_fd2  # noqa: E402

# Load TensorFlow now, quietly, before keras imports it loudly (its native libraries print
# notices such as oneDNN's to descriptor 2, which a live kernel shows as red boxes).
tf = import_tensorflow()
with silenced_fd2():
    import keras  # noqa: E402

MODELS = {"mlm": ("ROBERTA_LAB_MODEL", "roberta-lab/mini-mlm"),
          "causal": ("ROBERTA_LAB_CAUSAL_MODEL", "roberta-lab/mini-causal"),
          "seq2seq": ("ROBERTA_LAB_SEQ2SEQ_MODEL", "roberta-lab/mini-seq2seq")}


def setup(kind: str = "mlm", seed: int = 0) -> str:
    """Quiet logs, seeds, inline plots; returns the model name for ``kind`` (see the table)."""
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {sorted(MODELS)}, got {kind!r}")
    warnings.filterwarnings("ignore")
    with silenced_fd2():
        import absl.logging  # noqa: PLC0415  (TensorFlow's logger; loaded with it)

        absl.logging.set_verbosity("error")
        logging.getLogger("tensorflow").setLevel(logging.ERROR)  # e.g. retracing notices
        keras.utils.set_random_seed(seed)
        tf.constant(0)  # the runtime's own start-up notices, here rather than in a later cell
    try:
        from IPython import get_ipython  # noqa: PLC0415

        shell = get_ipython()
    except ImportError:  # plain Python: nothing to set up
        shell = None
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
    variable, default = MODELS[kind]
    return os.environ.get(variable, default)
