"""Sweeps and importance spread over a tf.distribute strategy: two logical CPUs, same numbers.

Logical devices must be configured before TensorFlow starts, so the check runs in a fresh
interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from roberta_lab.replicas import run_split, split_rows

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, "tests")
    import keras
    from conftest import random_ids, tiny_config
    from roberta_lab import TFRobertaForMaskedLM
    from roberta_lab.ablation import head_means, masked_lm_metric, sweep, sweep_heads
    from roberta_lab.importance import michel_importance

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = TFRobertaForMaskedLM(tiny_config(num_hidden_layers=3))
    ids = random_ids(5, 9, seed=2)
    mask = np.ones_like(ids); mask[3, -3:] = 0; ids[3, -3:] = 1
    labels = np.full_like(ids, -100); labels[:, 2] = ids[:, 2]; labels[:2, 5] = ids[:2, 5]
    ids = np.where(labels != -100, 4, ids)
    metric = masked_lm_metric(labels)
    out = {"replicas": strategy.num_replicas_in_sync,
           "devices": [d.name for d in tf.config.list_logical_devices("CPU")]}
    one = sweep_heads(model, ids, mask, metric, chunk_size=7, progress=False)
    two = sweep_heads(model, ids, mask, metric, chunk_size=7, progress=False, strategy=strategy)
    out["sweep_max_diff"] = float(np.abs(one.per_text - two.per_text).max())
    out["sweep_baseline_diff"] = abs(one.baseline - two.baseline)
    means = head_means(model, random_ids(6, 9, seed=8))
    conds = [[(1, 2)], [(0, 1), (2, 3)]]
    one = sweep(model, ids, mask, metric, conds, method="mean", means=means, chunk_size=3,
                progress=False)
    two = sweep(model, ids, mask, metric, conds, method="mean", means=means, chunk_size=3,
                progress=False, strategy=strategy)
    out["mean_sweep_max_diff"] = float(np.abs(one.per_text - two.per_text).max())
    a = michel_importance(model, ids, mask, metric, batch_size=3)
    b = michel_importance(model, ids, mask, metric, batch_size=3, strategy=strategy)
    out["importance_max_diff"] = float(np.abs(a - b).max())
    out["importance_max"] = float(np.abs(a).max())
    print("RESULT " + json.dumps(out))
""")


def test_split_rows_pads_with_the_last_row():
    parts, per = split_rows(5, 2)
    assert per == 3 and [p.tolist() for p in parts] == [[0, 1, 2], [3, 4, 4]]
    parts, per = split_rows(4, 4)
    assert per == 1 and [p.tolist() for p in parts] == [[0], [1], [2], [3]]


def test_run_split_rejects_a_non_strategy():
    with pytest.raises(TypeError, match="strategy"):
        run_split("mirrored", {}, "k", lambda x: x, [np.zeros(3)])


def test_two_logical_cpus_give_the_same_numbers():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["replicas"] == 2 and len(out["devices"]) == 2
    assert out["sweep_max_diff"] < 1e-5 and out["sweep_baseline_diff"] < 1e-6
    assert out["mean_sweep_max_diff"] < 1e-5
    assert out["importance_max"] > 0 and out["importance_max_diff"] < 1e-5
