"""The bundled models load by name from an installed wheel, not only from a source checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import json, roberta_lab
from roberta_lab import AutoTokenizer, TFRobertaForMaskedLM, TFRobertaForCausalLM, hub
tok = AutoTokenizer.from_pretrained("roberta-lab/mini-mlm")
model = TFRobertaForMaskedLM.from_pretrained("roberta-lab/mini-mlm")
enc = tok("The capital of France is <mask>.", return_tensors="tf")
logits = model(**enc).logits.numpy()
pos = list(enc["input_ids"][0].numpy()).index(tok.mask_token_id)
TFRobertaForCausalLM.from_pretrained("roberta-lab/mini-causal")
print("RESULT " + json.dumps({"file": roberta_lab.__file__, "data": str(hub.data_dir()),
                              "models": hub.bundled_models(),
                              "top": tok.decode([int(logits[0, pos].argmax())])}))
"""


def test_wheel_ships_the_models_and_loads_them_by_name(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", HF_HUB_OFFLINE="1")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, env=env, timeout=600)
    wheel = next((tmp_path / "dist").glob("roberta_lab-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for model in ("mini-mlm", "mini-mlm-everyday", "mini-causal", "mini-seq2seq/encoder",
                  "mini-seq2seq/decoder"):
        assert f"roberta_lab/data/{model}/model.safetensors" in names, model
    assert "roberta_lab/data/probes/mlm_probes.jsonl" in names
    assert "roberta_lab/cli/__main__.py" in names  # the roberta-lab command is a package
    assert not any(n.startswith("roberta_lab/data/corpus") for n in names)  # corpora: rebuilt, never shipped
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, env=env, timeout=600)
    # Run from outside the checkout with the wheel's copy first on the path.
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(env, PYTHONPATH=str(site)), timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["file"].startswith(str(site)) and out["data"].startswith(str(site))
    assert {"roberta-lab/mini-mlm", "roberta-lab/mini-causal",
            "roberta-lab/mini-seq2seq"} <= set(out["models"])
    assert out["top"] == " Paris"
