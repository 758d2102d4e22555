"""The benchmark harness runs end to end on the small shape (a smoke run: no timing asserts).

The committed base-shape table comes from ``python bench/run.py --shape base`` on a quiet
machine; here we only prove that the command, both workers and the report work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def test_run_py_writes_the_table_for_the_small_shape(tmp_path):
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--shape", "mini", "--rounds", "1", "--repeats", "1",
         "--systems", "ours", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "mini.json").read_text())
    assert data["meta"]["errors"] == []
    assert data["meta"]["hardware"]["matmul_gflops"] > 0 and data["meta"]["hardware"]["read_gb_s"] > 0
    table = data["table"]
    for measure in ("import", "bundled_mini_one_sentence", "bundled_mini_fill_mask_text", "bundled_sweep_all_heads", "bundled_sweep_all_heads_loop",
                    "bundled_mini_bfloat16_probe_agreement", "forward", "forward_tffunction", "fill_mask_positions_only",
                    "fill_mask_full_logits", "sweep_all_heads", "sweep_all_heads_loop",
                    "run_with_cache_all"):
        assert f"roberta_lab|{measure}" in table, measure
    # The batched sweep and the loop agree (the harness records the difference).
    assert table["roberta_lab|sweep_all_heads_loop"]["max_abs_diff_vs_batched"] < 1e-4
    assert table["roberta_lab|bundled_sweep_all_heads_loop"]["max_abs_diff_vs_batched"] < 1e-4
    report = (tmp_path / "mini.md").read_text()
    assert "## Ratios and hardware bounds" in report and "forward: share of matmul peak" in report


def test_seed_ids_are_the_tokenizers():
    sys.path.insert(0, str(ROOT / "bench"))
    from common import SEED_IDS

    from roberta_lab import AutoTokenizer

    tok = AutoTokenizer.from_pretrained("roberta-lab/mini-mlm")
    assert [tok("The capital of France is <mask>.")["input_ids"]] == SEED_IDS


def test_hf_pytorch_worker_runs_in_the_test_environment():
    """The peers' worker (here with the test environment's transformers and torch)."""
    proc = subprocess.run(
        [sys.executable, "bench/worker_hf.py", "--framework", "pt", "--shape", "mini",
         "--only", "forward,bundled", "--repeats", "1"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert any(r["measure"] == "forward" and r["median_s"] > 0 for r in rows)
    assert any(r["measure"] == "bundled_mini_one_sentence" for r in rows)


def test_run_py_times_a_baseline_checkout_beside_the_tree(tmp_path):
    """--systems ours,ours@base --baseline DIR: the same worker imports roberta_lab from DIR
    (here the tree itself, so the ratio's only content is noise) and the report compares."""
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--shape", "mini", "--rounds", "2", "--repeats", "1",
         "--systems", "ours,ours@base", "--baseline", str(ROOT), "--only", "forward",
         "--measures", "forward", "--out", str(tmp_path)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "mini.json").read_text())
    table = data["table"]
    assert data["meta"]["rounds_done"] == 2
    assert table["roberta_lab|forward"]["rounds"] == 2
    assert table["roberta_lab@base|forward"]["rounds"] == 2
    assert "roberta_lab|forward_tffunction" not in table  # --measures kept only forward
    assert table["roberta_lab@base|package"]["path"] == str(ROOT / "roberta_lab")
    assert "## Against the baseline" in (tmp_path / "mini.md").read_text()
