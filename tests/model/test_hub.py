"""An unreachable hub fails fast with a sentence that says what to do (huggingface_hub alone
retries for about 96 s), and the local cache is still used when the hub cannot be reached."""

from __future__ import annotations

import shutil
import time

import huggingface_hub
from huggingface_hub import constants as hf_constants
import pytest

from roberta_lab.model import hub

BLACKHOLE = "https://hub.invalid"  # RFC 2606: never resolves (as huggingface.co without DNS)


@pytest.fixture
def unreachable(monkeypatch):
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "ENDPOINT", BLACKHOLE)
    monkeypatch.setattr(hub, "PROBE_TIMEOUT_S", 1.0)
    hub._PROBES.clear()
    yield
    hub._PROBES.clear()


def test_unreachable_hub_is_a_fast_clear_error(unreachable, tmp_path):
    start = time.monotonic()
    with pytest.raises(OSError, match="cannot be reached") as err:
        hub.resolve_file("roberta-base", "config.json", cache_dir=str(tmp_path))
    assert "roberta-lab/mini-mlm" in str(err.value) and "not in the local cache" in str(err.value)
    assert time.monotonic() - start < 30  # a hang guard (the failure mode was ~96 s), not a benchmark
    assert hub.hub_reachable() is False  # remembered: the next file does not probe again


def test_unreachable_hub_still_serves_the_cache(unreachable, tmp_path):
    from roberta_lab import RobertaConfig

    snap = tmp_path / "models--someone--tiny" / "snapshots" / ("b" * 40)
    snap.mkdir(parents=True)
    RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                  intermediate_size=37).save_pretrained(str(tmp_path / "cfg"))
    shutil.copy(tmp_path / "cfg" / "config.json", snap / "config.json")
    (tmp_path / "models--someone--tiny" / "refs").mkdir()
    (tmp_path / "models--someone--tiny" / "refs" / "main").write_text("b" * 40)
    path = hub.resolve_file("someone/tiny", "config.json", cache_dir=str(tmp_path))
    assert path.endswith("config.json")
    assert hub.resolve_file("someone/tiny", "absent.json", required=False,
                            cache_dir=str(tmp_path)) is None
