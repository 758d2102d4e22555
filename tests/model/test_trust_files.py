"""Trust under misuse, files: configs validated field by field (naming field and file), a
checkpoint checked against its config before a model is built, nothing read outside a model
folder, saves that never replace what they did not write, every file problem names the file.

Hostile and corrupted files are generated here, in each test's temporary folder."""

from __future__ import annotations

import errno
import json
import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from conftest import random_ids, tiny_config
from roberta_lab import RobertaConfig, TFRobertaForMaskedLM, TFRobertaModel
from roberta_lab.checkpoint import state_dict

IDS = random_ids(2, 5)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    tf.random.set_seed(31)
    model = TFRobertaModel(tiny_config())
    folder = tmp_path_factory.mktemp("trust") / "model"
    model.save_pretrained(folder)
    return model, folder


def _write_config(folder, **fields):
    folder.mkdir(parents=True, exist_ok=True)
    data = tiny_config().to_dict()
    data.update(fields)
    (folder / "config.json").write_text(json.dumps(data))
    return folder


# --- kind: configs validated field by field, naming the field and the file ---------------------
@pytest.mark.parametrize("field,value", [
    ("layer_norm_eps", -1e-5), ("layer_norm_eps", 0.0), ("layer_norm_eps", float("nan")),
    ("layer_norm_eps", "1e-5"), ("hidden_dropout_prob", 1.5), ("hidden_dropout_prob", True),
    ("initializer_range", -0.02), ("initializer_range", float("inf")),
    ("num_hidden_layers", 2.0), ("num_hidden_layers", True), ("num_hidden_layers", 0),
    ("vocab_size", -3), ("vocab_size", 10**12), ("pad_token_id", 99), ("pad_token_id", -1),
    ("pad_token_id", 1.0), ("eos_token_id", 500), ("is_decoder", "yes"), ("use_cache", 1),
    ("return_dict", None), ("hidden_act", 3), ("num_attention_heads", 5),
    ("classifier_dropout", -0.1), ("max_position_embeddings", 2), ("model_type", 7),
    ("tie_word_embeddings", "false")])
def test_bad_config_field_named_with_its_file(tmp_path, field, value):
    with pytest.raises((ValueError, TypeError), match=field) as info:
        RobertaConfig(**{**tiny_config().to_dict(), field: value})
    folder = _write_config(tmp_path / "m", **{field: value})
    with pytest.raises((ValueError, TypeError), match=field) as info:
        RobertaConfig.from_pretrained(folder)
    assert str(folder / "config.json") in str(info.value)
    with pytest.raises((ValueError, TypeError), match=field):
        RobertaConfig.from_json_file(folder / "config.json")


def test_config_field_set_later_checked(tmp_path):
    cfg = tiny_config()
    with pytest.raises(ValueError, match="layer_norm_eps"):
        cfg.layer_norm_eps = -1.0
    cfg.num_attention_heads = 5  # consistent later maybe; the model refuses it now
    with pytest.raises(ValueError, match="num_attention_heads"):
        TFRobertaModel(cfg)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2]", b""])
def test_unreadable_config_names_the_file(tmp_path, content):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_bytes(content)
    for load in (RobertaConfig.from_pretrained, TFRobertaModel.from_pretrained):
        with pytest.raises(ValueError) as info:
            load(folder)
        assert str(folder / "config.json") in str(info.value)


# --- kind: a checkpoint is checked against its config before the model is built -------------
def _no_build(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the model was built before the checkpoint was checked")

    monkeypatch.setattr(TFRobertaModel, "__init__", refuse)


@pytest.mark.parametrize("fields,name", [({"num_hidden_layers": 4000}, "num_hidden_layers"),
                                         ({"vocab_size": 5000}, "vocab_size"),
                                         ({"intermediate_size": 64}, "intermediate_size"),
                                         ({"max_position_embeddings": 600},
                                          "max_position_embeddings")])
def test_config_checkpoint_mismatch_fails_before_building(saved, tmp_path, monkeypatch, fields,
                                                          name):
    _, folder = saved
    other = tmp_path / "m"
    other.mkdir()
    (other / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    _write_config(other, **fields)
    _no_build(monkeypatch)
    with pytest.raises(ValueError, match=name):
        TFRobertaModel.from_pretrained(other)


# --- kind: nothing is read outside the model folder --------------------------------------------
@pytest.mark.parametrize("shard", ["../outside.safetensors", "/tmp/outside.safetensors",
                                   "sub/../../outside.safetensors", "..", "sub\\x.safetensors",
                                   "", 7])
def test_shard_names_cannot_leave_the_folder(saved, tmp_path, shard):
    model, folder = saved
    from safetensors.numpy import save_file

    save_file(state_dict(model), str(tmp_path / "outside.safetensors"))  # a valid bait
    m = tmp_path / "m"
    _write_config(m)
    index = {"weight_map": {k: shard for k in state_dict(model)}}
    (m / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="index"):
        TFRobertaModel.from_pretrained(m)


@pytest.mark.parametrize("name", ["roberta-lab/..", "roberta-lab/../..", "roberta-lab/../data",
                                  "roberta-lab/mini-mlm/../../roberta_lab", "roberta-lab/",
                                  "roberta-lab//etc", "roberta-lab/mini-mlm/.."])
def test_bundled_names_cannot_leave_the_data_folder(name):
    with pytest.raises(ValueError, match="bundled"):
        RobertaConfig.from_pretrained(name)


@pytest.mark.parametrize("content,what", [(b"{bad", "index"), (b'{"weight_map": [1]}', "index"),
                                          (b"\xff\xff", "index")])
def test_bad_index_names_the_file(tmp_path, content, what):
    m = _write_config(tmp_path / "m")
    (m / "model.safetensors.index.json").write_bytes(content)
    with pytest.raises(ValueError, match=what) as info:
        TFRobertaModel.from_pretrained(m)
    assert "model.safetensors.index.json" in str(info.value)


def test_corrupted_safetensors_names_the_file(saved, tmp_path):
    _, folder = saved
    m = _write_config(tmp_path / "m")
    data = (folder / "model.safetensors").read_bytes()
    for bad in (data[:100], b"\x00" * 16, os.urandom(64)):
        (m / "model.safetensors").write_bytes(bad)
        with pytest.raises(ValueError, match="model.safetensors"):
            TFRobertaModel.from_pretrained(m)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_safetensors_load_converted(saved, tmp_path, dtype):
    from safetensors.tensorflow import save_file

    model, _ = saved
    m = _write_config(tmp_path / "m")
    state = state_dict(model)
    save_file({k: tf.cast(v, dtype) for k, v in state.items()}, str(m / "model.safetensors"))
    loaded = TFRobertaModel.from_pretrained(m)
    got = state_dict(loaded)
    for k, v in state.items():
        want = tf.cast(tf.cast(v, dtype), tf.float32).numpy()
        np.testing.assert_array_equal(got[k], want)


def test_offline_hub_id_says_offline():
    with pytest.raises(FileNotFoundError, match="offline"):
        TFRobertaModel.from_pretrained("nobody-here/no-such-model-xyz")


# --- kind: saves never replace what they did not write -----------------------------------------
def test_save_onto_a_file_refused(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("precious")
    with pytest.raises(ValueError, match="not a folder"):
        TFRobertaModel(tiny_config()).save_pretrained(target)
    assert target.read_text() == "precious"


@pytest.mark.parametrize("config", [None, b'{"model_type": "bert"}', b"not json"])
def test_save_into_a_foreign_folder_refused(tmp_path, config):
    target = tmp_path / "home"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "thesis.tex").write_text("precious")
    (target / "data.csv").write_text("a,b")
    if config is not None:
        (target / "config.json").write_bytes(config)
    before = sorted(p.name for p in target.rglob("*"))
    with pytest.raises(ValueError, match="save_pretrained"):
        TFRobertaModel(tiny_config()).save_pretrained(target)
    assert sorted(p.name for p in target.rglob("*")) == before
    assert (target / "sub" / "thesis.tex").read_text() == "precious"


def test_save_keeps_permissions_and_other_files(saved, tmp_path):
    model, _ = saved
    target = tmp_path / "m"
    model.save_pretrained(target)
    (target / "tokenizer.json").write_text("{}")
    (target / "notes").mkdir()
    os.chmod(target, 0o750)
    os.chmod(target / "model.safetensors", 0o640)
    model.save_pretrained(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(target / "model.safetensors").st_mode) == 0o640
    assert (target / "tokenizer.json").read_text() == "{}" and (target / "notes").is_dir()
    # a tokenizer-only folder (tokenizer saved first, as in HF's recipes) is a model folder
    tok_only = tmp_path / "tok"
    tok_only.mkdir()
    (tok_only / "vocab.json").write_text("{}")
    model.save_pretrained(tok_only)
    assert (tok_only / "config.json").exists()


def test_resharding_removes_stale_weights(saved, tmp_path):
    model, _ = saved
    target = tmp_path / "m"
    model.save_pretrained(target)
    model.save_pretrained(target, max_shard_size=20_000)
    assert not (target / "model.safetensors").exists()  # would shadow the new shards
    model.save_pretrained(target)
    assert not (target / "model.safetensors.index.json").exists()
    assert not [p for p in target.iterdir() if p.name.startswith("model-")]


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_failed_save_leaves_the_folder_as_it_was(saved, tmp_path, monkeypatch, err):
    """A full disk mid-write, a read-only folder: a clean error, the old files intact."""
    import safetensors.numpy

    model, _ = saved
    target = tmp_path / "m"
    model.save_pretrained(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    real = safetensors.numpy.save_file

    def full_disk(tensors, path, metadata=None):
        real(tensors, path, metadata=metadata)
        with open(path, "r+b") as f:
            f.truncate(10)  # what was written before the disk filled up
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(safetensors.numpy, "save_file", full_disk)
    with pytest.raises(OSError, match=str(target)):
        TFRobertaModel(tiny_config()).save_pretrained(target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def test_read_only_folder_fails_cleanly(saved, tmp_path, monkeypatch):
    import tempfile as tempfile_module

    model, _ = saved

    def read_only(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile_module, "mkstemp", read_only)
    with pytest.raises(OSError, match="nothing was replaced"):
        model.save_pretrained(tmp_path / "m")
    assert not [p for p in (tmp_path / "m").iterdir()]


def test_config_save_is_atomic_and_refuses_a_folder(tmp_path):
    cfg = tiny_config()
    (tmp_path / "config.json").mkdir()
    with pytest.raises(ValueError, match="folder"):
        cfg.to_json_file(tmp_path / "config.json")


TOKENIZER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "data", "tokenizer")


@pytest.mark.parametrize("name,content", [("tokenizer_config.json", b"{bad"),
                                          ("special_tokens_map.json", b"\xff\xfe"),
                                          ("special_tokens_map.json", b'{"mask_token": {}}'),
                                          ("tokenizer.json", b'{"not": "a tokenizer"}'),
                                          ("tokenizer.json", b"\x00\x01")])
def test_bad_tokenizer_files_name_the_file(tmp_path, name, content):
    import shutil

    from roberta_lab import AutoTokenizer

    if not os.path.isdir(TOKENIZER):
        pytest.skip("bundled tokenizer missing")
    folder = tmp_path / "tok"
    shutil.copytree(TOKENIZER, folder)
    (folder / name).write_bytes(content)
    with pytest.raises(ValueError, match=name):
        AutoTokenizer.from_pretrained(folder)


def test_pickle_that_is_not_a_state_dict_names_the_file(saved, tmp_path):
    torch = pytest.importorskip("torch")
    m = _write_config(tmp_path / "m")
    torch.save([torch.ones(2)], m / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pytorch_model.bin"):
        TFRobertaModel.from_pretrained(m, allow_pickle=True)


@pytest.mark.parametrize("size", [0, -5, True, "0MB", "xMB", "12", 2.5])
def test_bad_shard_size_named(saved, tmp_path, size):
    model, _ = saved
    with pytest.raises(ValueError, match="max_shard_size"):
        model.save_pretrained(tmp_path / "m", max_shard_size=size)
    assert not (tmp_path / "m").exists()


def test_symlink_out_of_the_model_folder_refused(saved, tmp_path):
    _, folder = saved
    m = tmp_path / "m"
    m.mkdir()
    (m / "config.json").write_bytes((folder / "config.json").read_bytes())
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes((folder / "model.safetensors").read_bytes())
    os.symlink(outside, m / "model.safetensors")
    with pytest.raises(ValueError, match="outside its model folder"):
        TFRobertaModel.from_pretrained(m)


@pytest.mark.parametrize("fields", [{"num_hidden_layers": 100_000},
                                    {"vocab_size": 2**24, "hidden_size": 2**14,
                                     "num_attention_heads": 4}])
def test_absurd_sizes_refused_before_allocating(fields):
    with pytest.raises(ValueError, match="num_hidden_layers|weights"):
        TFRobertaModel(tiny_config(**fields))
