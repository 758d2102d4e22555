"""The training command (``roberta_lab.training.train``): its data preparation, its schedule, and
that a run is a command whose rerun gives the same weights.

The end-to-end runs use the bundled models' real shapes and the committed tokenizer on a corpus of
a few hundred lines, for 3 steps, so they cost seconds.
"""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from roberta_lab.training import facts, seq2seq_task
from roberta_lab.training import train as T

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER = os.path.join(ROOT, "data", "tokenizer")


def _segments(rows):
    """The lines packed into rows, in order: each row is ``<s> a </s> b </s> ... <pad>``."""
    out = []
    for row in rows:
        assert row[0] == T.BOS
        body = [int(t) for t in row[1:] if t != T.PAD]
        assert body and body[-1] == T.EOS
        cur = []
        for t in body:
            if t == T.EOS:
                out.append(cur)
                cur = []
            else:
                cur.append(t)
    return out


def test_pack_lines_keeps_every_line_whole_once():
    rng = np.random.default_rng(0)
    lines = [list(rng.integers(5, 100, size=rng.integers(1, 12))) for _ in range(300)]
    rows = T.pack_lines(lines, 16)
    assert rows.dtype == np.int32 and rows.shape[1] == 16
    assert _segments(rows) == [[int(t) for t in ln] for ln in lines]  # no shuffle: corpus order
    shuffled = T.pack_lines(lines, 16, np.random.default_rng(3))
    assert sorted(map(tuple, _segments(shuffled))) == sorted(tuple(int(t) for t in ln) for ln in lines)
    np.testing.assert_array_equal(shuffled, T.pack_lines(lines, 16, np.random.default_rng(3)))
    assert not np.array_equal(shuffled[: len(rows)], rows)


def test_pack_lines_truncates_long_lines_and_skips_empty_ones():
    rows = T.pack_lines([list(range(5, 40)), [], [7, 8]], 10)
    assert _segments(rows) == [list(range(5, 13)), [7, 8]]


def test_mlm_mask_follows_roberta():
    rng = np.random.default_rng(0)
    ids = rng.integers(T.N_SPECIAL, 8192, size=(400, 64)).astype(np.int32)
    ids[:, 0], ids[:, 40], ids[:, 50:] = T.BOS, T.EOS, T.PAD
    inputs, labels = T.mlm_mask(ids, np.random.default_rng(1), 8192)
    chosen = labels != -100
    maskable = ids >= T.N_SPECIAL
    assert not (chosen & ~maskable).any(), "special tokens are never masked"
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])
    assert abs(chosen.sum() / maskable.sum() - 0.15) < 0.01
    n = chosen.sum()
    as_mask = (inputs[chosen] == T.MASK).sum() / n
    kept = (inputs[chosen] == ids[chosen]).sum() / n
    assert abs(as_mask - 0.8) < 0.02 and abs(kept - 0.1) < 0.02
    assert (inputs[chosen & (inputs != T.MASK)] >= T.N_SPECIAL).all(), "random tokens are ordinary"


def test_gather_masked_has_a_fixed_size():
    labels = np.full((2, 5), -100, np.int32)
    labels[0, 1], labels[1, 3] = 11, 12
    pos, lab = T.gather_masked(labels, 4)
    np.testing.assert_array_equal(pos, [1, 8, 0, 0])
    np.testing.assert_array_equal(lab, [11, 12, -100, -100])
    pos, lab = T.gather_masked(labels, 1)  # more chosen than slots: the first ones are kept
    np.testing.assert_array_equal(pos, [1])


def test_causal_labels_ignore_padding():
    ids = np.array([[T.BOS, 9, T.EOS, T.PAD]])
    np.testing.assert_array_equal(T.causal_labels(ids), [[T.BOS, 9, T.EOS, -100]])


def test_schedule_warms_up_then_decays_to_zero():
    sched, progress = T.make_schedule(1e-3, 0.1)
    want = {0.0: 0.0, 0.05: 5e-4, 0.1: 1e-3, 0.55: 5e-4, 1.0: 0.0}
    for p, lr in want.items():
        progress.assign(p)
        assert float(sched(0)) == pytest.approx(lr, abs=1e-9)


# --------------------------------------------------------------------------- whole runs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    lines = []
    for country, _, city, _ in facts.COUNTRIES[:150]:
        lines += [f"The capital of {country} is {city}.", f"{city} is in {country}."]
    (d / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pairs = seq2seq_task.make_pairs(200, seed=0, split="train")
    (d / "seq2seq_train.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return str(d)


def _train(corpus, out, task, *extra):
    argv = [task, "--out", str(out), "--steps", "3", "--batch", "4", "--log-every", "1",
            "--corpus", corpus, "--tokenizer", TOKENIZER, *map(str, extra)]
    T.main(argv)
    return argv


def _sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture(scope="module")
def mlm_runs(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("mlm")
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        _train(corpus, root / name, "mlm", "--seed", seed)
    return root


def test_rerunning_a_command_gives_the_same_weights(mlm_runs):
    a, b, c = (_sha(mlm_runs / n / "model.safetensors") for n in "abc")
    assert a == b, "the same command twice must give bit-identical weights"
    assert a != c, "another seed must give other weights"


def test_a_run_leaves_a_loadable_model_and_its_log(mlm_runs):
    from roberta_lab import AutoTokenizer, TFRobertaForMaskedLM
    out = mlm_runs / "a"
    log = json.loads((out / "training_log.json").read_text())
    assert log["command"].startswith("python -m roberta_lab.training.train mlm --out ")
    assert "--seed 0" in log["command"]
    assert log["complete"] and log["steps_done"] == 3 and log["stop_reason"] == "--steps reached"
    assert [h["step"] for h in log["loss_history"]] == [2, 3]
    assert all(np.isfinite(h["loss"]) for h in log["loss_history"])
    assert log["config"]["num_attention_heads"] == T.MLM_CONFIG["num_attention_heads"]
    model = TFRobertaForMaskedLM.from_pretrained(str(out))
    tok = AutoTokenizer.from_pretrained(str(out))
    enc = tok("The capital of France is <mask>.", return_tensors="np")
    assert model(**enc).logits.shape == (1, enc["input_ids"].shape[1], 8192)


def test_init_continues_from_saved_weights(mlm_runs, corpus, tmp_path):
    """``--init`` loads a folder's weights; with a negligible learning rate they stay put."""
    from roberta_lab import TFRobertaForCausalLM, TFRobertaForMaskedLM
    _train(corpus, tmp_path / "causal", "causal", "--init", mlm_runs / "a", "--lr", 1e-12)
    mlm = TFRobertaForMaskedLM.from_pretrained(str(mlm_runs / "a"))
    causal = TFRobertaForCausalLM.from_pretrained(str(tmp_path / "causal"))
    assert causal.config.is_decoder and causal.config.num_attention_heads == 4

    def embeddings(m):
        return next(v.numpy() for v in m.weights if "word_embeddings" in v.path)

    np.testing.assert_allclose(embeddings(causal), embeddings(mlm), atol=1e-6)


def test_seq2seq_run_saves_both_halves(corpus, tmp_path):
    from roberta_lab import TFRobertaForCausalLM, TFRobertaModel
    _train(corpus, tmp_path / "s2s", "seq2seq", "--seed", 0)
    layout = json.loads((tmp_path / "s2s" / "seq2seq.json").read_text())
    assert layout["decoder_start_token_id"] == T.BOS and layout["max_length"] == 16
    enc = TFRobertaModel.from_pretrained(str(tmp_path / "s2s" / "encoder"))
    dec = TFRobertaForCausalLM.from_pretrained(str(tmp_path / "s2s" / "decoder"))
    assert dec.config.add_cross_attention and not enc.config.is_decoder


def test_bad_task_is_refused():
    with pytest.raises(SystemExit):
        T.parse_args(["translate", "--out", "x"])


def test_layers_deeper_than_init_stack_its_layers(mlm_runs, corpus, tmp_path):
    """``--layers 6`` from a 4-layer folder: layer j starts as layer j % 4 (training.grow)."""
    from roberta_lab.model import checkpoint
    _train(corpus, tmp_path / "deep", "mlm", "--init", mlm_runs / "a", "--layers", 6, "--lr", 1e-12)
    deep = checkpoint.read_state(str(tmp_path / "deep"))
    src = checkpoint.read_state(str(mlm_runs / "a"))
    assert json.loads((tmp_path / "deep" / "config.json").read_text())["num_hidden_layers"] == 6
    name = "roberta.encoder.layer.{}.attention.self.query.weight"
    for j in range(6):
        np.testing.assert_allclose(deep[name.format(j)], src[name.format(j % 4)], atol=1e-6)


def test_shape_flags_are_checked():
    with pytest.raises(SystemExit):
        T.parse_args(["causal", "--out", "x", "--layers", "6"])
    with pytest.raises(SystemExit):
        T.parse_args(["mlm", "--out", "x", "--hidden", "0"])
    assert T.parse_args(["mlm", "--out", "x", "--layers", "6"]).layers == 6
