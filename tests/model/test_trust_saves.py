"""Trust under misuse, saves: the config's and the tokenizer's ``save_pretrained`` keep the
model's promises (``model/model_folder.py``): never into a file or a folder that is not a model
folder, never a file of ours that is a folder, atomic under a full disk, permissions unchanged,
errors naming the file.

A full disk is a real write failure here, not a patched function: the process's file-size limit
(RLIMIT_FSIZE, with SIGXFSZ ignored) makes the operating system refuse the write (EFBIG) in
whatever library writes the file - Python, safetensors or the tokenizers library."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import stat

import pytest
import tensorflow as tf

from conftest import tiny_config
from roberta_lab import AutoTokenizer, TFRobertaModel

TOKENIZER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "data", "tokenizer")
SAVERS = ["config", "tokenizer", "model"]
# The file each save writes last: the one to turn into a folder.
LAST = {"config": "config.json", "tokenizer": "special_tokens_map.json", "model": "config.json"}


@pytest.fixture(scope="module")
def tokenizer():
    if not os.path.isdir(TOKENIZER):
        pytest.skip("bundled tokenizer missing")
    return AutoTokenizer.from_pretrained(TOKENIZER)


def _save(kind, folder, tokenizer, variant=0):
    """Save a config, tokenizer or model; ``variant`` changes the bytes written."""
    if kind == "config":
        tiny_config(initializer_range=0.02 + variant / 100).save_pretrained(folder)
    elif kind == "tokenizer":
        tokenizer.model_max_length = 64 + variant
        tokenizer.save_pretrained(folder)
    else:
        tf.random.set_seed(variant)
        TFRobertaModel(tiny_config()).save_pretrained(folder)


def _snapshot(folder):
    """Every entry under ``folder`` (hidden ones too) with its bytes and mode."""
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        out[path.relative_to(folder).as_posix()] = (path.read_bytes() if path.is_file() else None,
                                                    mode)
    return out


def _model_folder(tmp_path, tokenizer):
    folder = tmp_path / "m"
    for kind in SAVERS:
        _save(kind, folder, tokenizer)
    return folder


@contextlib.contextmanager
def _file_size_limit(limit):
    """Writes past ``limit`` bytes fail with EFBIG, as on a full disk."""
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)


# --- a path that is a file, a folder that is not a model folder ---------------------------------
@pytest.mark.parametrize("kind", SAVERS)
def test_save_onto_a_file_refused_naming_it(tmp_path, tokenizer, kind):
    target = tmp_path / "notes.txt"
    target.write_text("precious")
    with pytest.raises(ValueError, match="notes.txt.*not a folder"):
        _save(kind, target, tokenizer)
    assert target.read_text() == "precious"


@pytest.mark.parametrize("config", [None, b'{"model_type": "bert"}', b'{"editor": "vim"}',
                                    b"not json"])
@pytest.mark.parametrize("kind", ["config", "tokenizer"])
def test_save_into_a_foreign_folder_refused(tmp_path, tokenizer, kind, config):
    """A folder of other files, with or without someone else's config.json, is left alone."""
    target = tmp_path / "home"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "thesis.tex").write_text("precious")
    (target / "data.csv").write_text("a,b")
    (target / "vocab.json").write_text('{"mine": 0}')  # a name the tokenizer writes
    if config is not None:
        (target / "config.json").write_bytes(config)
    before = _snapshot(target)
    with pytest.raises(ValueError, match=f"save_pretrained: {target}"):
        _save(kind, target, tokenizer)
    assert _snapshot(target) == before


@pytest.mark.parametrize("kind", SAVERS)
def test_a_file_of_ours_that_is_a_folder_refused_before_writing(tmp_path, tokenizer, kind):
    folder = _model_folder(tmp_path, tokenizer)
    name = LAST[kind]
    (folder / name).unlink()
    (folder / name).mkdir()
    (folder / name / "keep.txt").write_text("precious")
    before = _snapshot(folder)
    with pytest.raises(ValueError, match=f"{folder}.*{name}"):
        _save(kind, folder, tokenizer, variant=1)
    assert _snapshot(folder) == before


# --- a full disk mid-save -----------------------------------------------------------------------
@pytest.mark.parametrize("kind,limit", [("config", 300), ("tokenizer", 100_000),
                                        ("model", 2_000)])
def test_full_disk_leaves_the_folder_as_it_was(tmp_path, tokenizer, kind, limit):
    folder = _model_folder(tmp_path, tokenizer)
    before = _snapshot(folder)
    with pytest.raises(OSError, match=f"cannot write .*{folder}"):
        with _file_size_limit(limit):
            _save(kind, folder, tokenizer, variant=1)
    assert _snapshot(folder) == before  # no file changed, no temporary file left


@pytest.mark.parametrize("kind", ["config", "tokenizer"])
def test_full_disk_in_a_new_folder_leaves_no_file(tmp_path, tokenizer, kind):
    target = tmp_path / "new"
    with pytest.raises(OSError, match=str(target)):
        with _file_size_limit(100):
            _save(kind, target, tokenizer)
    assert not target.exists() or list(target.iterdir()) == []


# --- permissions, and what a save may touch ----------------------------------------------------
def test_saves_keep_permissions_and_other_files(tmp_path, tokenizer):
    folder = _model_folder(tmp_path, tokenizer)
    (folder / "notes").mkdir()
    (folder / "README.md").write_text("my model")
    os.chmod(folder, 0o750)
    modes = {"config.json": 0o640, "tokenizer.json": 0o600, "vocab.json": 0o604,
             "merges.txt": 0o644, "tokenizer_config.json": 0o400,
             "special_tokens_map.json": 0o660}
    for name, mode in modes.items():
        os.chmod(folder / name, mode)
    _save("config", folder, tokenizer, variant=2)
    _save("tokenizer", folder, tokenizer, variant=2)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o750
    assert {n: stat.S_IMODE(os.stat(folder / n).st_mode) for n in modes} == modes
    assert (folder / "README.md").read_text() == "my model" and (folder / "notes").is_dir()
    assert '"initializer_range": 0.04' in (folder / "config.json").read_text()
    assert '"model_max_length": 66' in (folder / "tokenizer_config.json").read_text()


def test_current_umask_is_read_without_changing_it():
    from roberta_lab.model.files import current_umask

    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027 and current_umask() == 0o027
    finally:
        os.umask(old)


def test_new_files_follow_the_umask(tmp_path, tokenizer):
    old = os.umask(0o027)
    try:
        _save("config", tmp_path / "m", tokenizer)
        _save("tokenizer", tmp_path / "m", tokenizer)
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "m").iterdir()} == {0o640}


def test_saved_tokenizer_and_config_load_back(tmp_path, tokenizer):
    from roberta_lab import RobertaConfig

    folder = _model_folder(tmp_path, tokenizer)
    text = "The capital of France is <mask>."
    again = AutoTokenizer.from_pretrained(folder)
    assert again(text).input_ids == tokenizer(text).input_ids
    assert RobertaConfig.from_pretrained(folder) == tiny_config(architectures=["RobertaModel"])
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file
