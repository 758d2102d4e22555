"""Checkpoints: HF round trips, formats (sharded, h5, pickle), safety, atomic saves, hub cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import hf_model, max_diff, random_ids, random_mask, tiny_config, torch_inputs
from roberta_lab import RobertaConfig, TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaModel
from roberta_lab.checkpoint import state_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def saved_mlm(tmp_path):
    model = TFRobertaForMaskedLM(tiny_config())
    model.save_pretrained(tmp_path / "mlm")
    return model, tmp_path / "mlm"


def test_roberta_lab_saves_hf_loads(saved_mlm):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model, folder = saved_mlm
    ref = transformers.RobertaForMaskedLM.from_pretrained(str(folder), attn_implementation="eager")
    ids, mask = random_ids(), random_mask()
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask)).logits
    assert max_diff(model(ids, attention_mask=mask).logits, r) < 1e-5
    # and back: HF saves what it loaded, we load it again
    ref.save_pretrained(str(folder / "again"))
    again = TFRobertaForMaskedLM.from_pretrained(folder / "again")
    assert max_diff(again(ids, attention_mask=mask).logits, r) < 1e-5


def test_reload_is_bit_exact_and_config_round_trips(saved_mlm):
    model, folder = saved_mlm
    again = TFRobertaForMaskedLM.from_pretrained(folder)
    for name, value in state_dict(model).items():
        np.testing.assert_array_equal(value, state_dict(again)[name], err_msg=name)
    assert again.config.to_dict() | {"architectures": None} == \
        model.config.to_dict() | {"architectures": None}
    import json
    written = json.loads((folder / "config.json").read_text())
    assert written["architectures"] == ["RobertaForMaskedLM"]
    assert RobertaConfig.from_json_file(folder / "config.json").to_dict() == written


def test_roberta_base_config_values():
    cfg = RobertaConfig.roberta_base()
    assert (cfg.max_position_embeddings, cfg.layer_norm_eps, cfg.type_vocab_size) == (514, 1e-5, 1)
    d = RobertaConfig().to_dict()
    assert d["layer_norm_eps"] == 1e-12 and d["max_position_embeddings"] == 512
    transformers = pytest.importorskip("transformers")
    hf = transformers.RobertaConfig().to_dict()
    ours = RobertaConfig().to_dict()
    for key in ours:
        if key in hf and key != "model_type":
            assert ours[key] == hf[key], key


def test_sharded_checkpoint(saved_mlm, tmp_path):
    model, _ = saved_mlm
    model.save_pretrained(tmp_path / "sharded", max_shard_size=20_000)
    files = sorted(p.name for p in (tmp_path / "sharded").iterdir())
    assert "model.safetensors.index.json" in files and len([f for f in files if f.startswith("model-")]) > 2
    again = TFRobertaForMaskedLM.from_pretrained(tmp_path / "sharded")
    ids = random_ids(2, 5)
    assert max_diff(again(ids).logits, model(ids).logits) == 0.0


def test_hf_tf_h5_checkpoint_from_transformers_4_37():
    folder = FIXTURES / "hf_tf_tiny"
    ref = np.load(folder / "reference.npz")
    model, info = TFRobertaForMaskedLM.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    out = model(ref["input_ids"], attention_mask=ref["attention_mask"]).logits
    assert max_diff(out, ref["logits"]) < 1e-5


def test_pickle_refused_unless_opted_in(saved_mlm, tmp_path):
    torch = pytest.importorskip("torch")
    model, _ = saved_mlm
    folder = tmp_path / "pickled"
    folder.mkdir()
    model.config.save_pretrained(folder)
    torch.save({k: torch.tensor(v) for k, v in state_dict(model).items()},
               folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="allow_pickle"):
        TFRobertaForMaskedLM.from_pretrained(folder)
    loaded = TFRobertaForMaskedLM.from_pretrained(folder, allow_pickle=True)
    assert max_diff(loaded(random_ids(1, 4)).logits, model(random_ids(1, 4)).logits) == 0.0


def test_malicious_pickle_does_not_run_even_when_opted_in(saved_mlm, tmp_path):
    torch = pytest.importorskip("torch")
    model, _ = saved_mlm
    folder = tmp_path / "evil"
    folder.mkdir()
    model.config.save_pretrained(folder)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"x": Evil()}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="weights-only"):
        TFRobertaForMaskedLM.from_pretrained(folder, allow_pickle=True)
    assert not marker.exists()


def test_corrupted_truncated_and_wrong_shape_files(saved_mlm, tmp_path):
    model, folder = saved_mlm
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupted or truncated"):
        TFRobertaForMaskedLM.from_pretrained(bad)
    (bad / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="corrupted or truncated"):
        TFRobertaForMaskedLM.from_pretrained(bad)
    # wrong shapes: a model of another size; nothing is half-loaded
    other = TFRobertaForMaskedLM(tiny_config(hidden_size=16, intermediate_size=20))
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="wrong shape"):
        TFRobertaForMaskedLM.from_pretrained(tmp_path / "other", config=model.config)


def test_missing_unexpected_and_strict(tmp_path):
    mlm = TFRobertaForMaskedLM(tiny_config())
    mlm.save_pretrained(tmp_path / "mlm")
    base, info = TFRobertaModel.from_pretrained(tmp_path / "mlm", output_loading_info=True)
    assert info["missing_keys"] == ["pooler.dense.bias", "pooler.dense.weight"]
    assert "lm_head.bias" in info["unexpected_keys"]
    ids = random_ids(1, 5)
    with pytest.raises(ValueError, match="strict"):
        TFRobertaModel.from_pretrained(tmp_path / "mlm", strict=True)
    # the encoder weights did load: hidden states equal the MLM's
    hidden = mlm(ids, output_hidden_states=True).hidden_states[-1]
    assert max_diff(base(ids).last_hidden_state, hidden) == 0.0
    # a base-model checkpoint (no "roberta." prefix) loads into a head model
    base.save_pretrained(tmp_path / "base")
    _, info = TFRobertaForCausalLM.from_pretrained(tmp_path / "base", is_decoder=True,
                                                   output_loading_info=True)
    assert set(info["missing_keys"]) == {"lm_head.bias", "lm_head.dense.bias",
                                         "lm_head.dense.weight", "lm_head.layer_norm.bias",
                                         "lm_head.layer_norm.weight"}


def test_interrupted_save_keeps_previous_checkpoint(saved_mlm, monkeypatch):
    model, folder = saved_mlm
    (folder / "tokenizer.json").write_text("{}")  # other files in the folder survive saves
    before = (folder / "model.safetensors").read_bytes()
    import safetensors.numpy

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(safetensors.numpy, "save_file", boom)
    new = TFRobertaForMaskedLM(tiny_config())
    with pytest.raises(KeyboardInterrupt):
        new.save_pretrained(folder)
    assert (folder / "model.safetensors").read_bytes() == before
    assert not [p for p in folder.parent.iterdir() if ".tmp-" in p.name]
    monkeypatch.undo()
    new.save_pretrained(folder)
    assert (folder / "tokenizer.json").read_text() == "{}"
    assert (folder / "model.safetensors").read_bytes() != before


def test_hub_id_resolved_from_the_offline_cache(saved_mlm, tmp_path, monkeypatch):
    """The real hub code path (huggingface_hub), served from its cache with HF_HUB_OFFLINE=1."""
    model, folder = saved_mlm
    cache = tmp_path / "hub"
    snap = cache / "models--someone--tiny-roberta" / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(folder / name, snap / name)
    (cache / "models--someone--tiny-roberta" / "refs").mkdir()
    (cache / "models--someone--tiny-roberta" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = TFRobertaForMaskedLM.from_pretrained("someone/tiny-roberta", cache_dir=str(cache))
    ids = random_ids(1, 4)
    assert max_diff(loaded(ids).logits, model(ids).logits) == 0.0
    with pytest.raises(Exception, match="(?i)offline|cannot find|not found|connection"):
        TFRobertaForMaskedLM.from_pretrained("someone/not-cached", cache_dir=str(cache))


def test_hf_weights_match_per_component(tmp_path):
    """Weight layout: every HF tensor lands on the right variable (transposes included)."""
    ref = hf_model("mlm", tiny_config())
    ref.save_pretrained(tmp_path / "hf")
    ours = TFRobertaForMaskedLM.from_pretrained(tmp_path / "hf")
    sd = state_dict(ours)
    for name, tensor in ref.state_dict().items():
        if name in sd:
            np.testing.assert_array_equal(sd[name], tensor.numpy(), err_msg=name)


def test_constructor_options_and_readable_files(tmp_path):
    import stat

    TFRobertaModel(tiny_config()).save_pretrained(tmp_path / "m")
    model, info = TFRobertaModel.from_pretrained(tmp_path / "m", add_pooling_layer=False,
                                                 output_loading_info=True)
    assert model.roberta.pooler is None and "pooler.dense.weight" in info["unexpected_keys"]
    for item in [tmp_path / "m", *(tmp_path / "m").iterdir()]:
        assert item.stat().st_mode & stat.S_IROTH, item
