"""The repeated-span training mix (``--repeat-frac``) and the induction measurements."""
from __future__ import annotations

import numpy as np
import pytest

from roberta_lab.training import induction as I
from roberta_lab.training import train as T


def _rows(n=64, seq_len=32, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.full((n, seq_len), T.PAD, np.int32)
    for r in range(n):
        k = int(rng.integers(3, seq_len - 1))
        rows[r, 0], rows[r, 1:k], rows[r, k] = T.BOS, rng.integers(5, 100, k - 1), T.EOS
    return rows


def _find_repeat(row, first):
    """Start and length of the marked first copy; asserts the second copy follows it."""
    pos = np.flatnonzero(first)
    start, length = int(pos[0]), len(pos)
    assert (np.diff(pos) == 1).all(), "the first copy is one span"
    np.testing.assert_array_equal(row[start:start + length], row[start + length:start + 2 * length])
    return start, length


def test_without_the_mix_rows_and_rng_are_untouched():
    rows, rng = _rows(), np.random.default_rng(5)
    out, first = I.add_repeats(rows, rng, 0.0, 4, 8, 8192)
    assert out is rows and not first.any()
    assert rng.random() == np.random.default_rng(5).random()


def test_repeats_are_inserted_whole_after_bos_in_about_frac_of_rows():
    rows = _rows(n=400)
    out, first = I.add_repeats(rows, np.random.default_rng(1), 0.3, 4, 8, 8192)
    changed = first.any(axis=1)
    assert 0.22 < changed.mean() < 0.38
    np.testing.assert_array_equal(out[~changed], rows[~changed])
    for r in np.flatnonzero(changed):
        start, length = _find_repeat(out[r], first[r])
        assert 4 <= length <= 8 and start >= 1 and out[r, 0] == T.BOS
        assert (out[r, start:start + length] >= I.N_SPECIAL).all()
        body = rows[r][rows[r] != T.PAD]  # the row's text continues after the two copies
        np.testing.assert_array_equal(out[r, :start], body[:start])
        tail = out[r, start + 2 * length:]
        np.testing.assert_array_equal(tail[tail != T.PAD], body[start:start + len(tail[tail != T.PAD])])


def test_the_mix_is_a_function_of_the_seed():
    rows = _rows()
    a = I.add_repeats(rows, np.random.default_rng(3), 0.5, 4, 8, 8192)
    b = I.add_repeats(rows, np.random.default_rng(3), 0.5, 4, 8, 8192)
    c = I.add_repeats(rows, np.random.default_rng(4), 0.5, 4, 8, 8192)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_spans_that_cannot_fit_are_refused():
    with pytest.raises(ValueError):
        I.add_repeats(_rows(seq_len=16), np.random.default_rng(0), 0.5, 4, 8, 8192)


def test_causal_batches_leave_the_first_copy_out_of_the_loss(tmp_path):
    args = T.parse_args(["causal", "--out", str(tmp_path), "--repeat-frac", "1.0", "--repeat-min", "5",
                         "--repeat-max", "5", "--batch", "8"])
    tr = T.Trainer.__new__(T.Trainer)  # only the batch logic: no model is built
    tr.args, tr.rng = args, np.random.default_rng(0)
    tr.cfg = type("C", (), {"vocab_size": 8192})()
    tr.rows, tr.pos, tr.epoch, tr.order = _rows(n=16, seq_len=64), 0, 0, np.arange(16)
    ids, mask, labels = tr.next_batch()
    for r in range(len(ids)):
        masked = np.flatnonzero((labels[r] == -100) & (ids[r] != T.PAD))
        assert len(masked) == 5 and (np.diff(masked) == 1).all()
        start = int(masked[0])
        np.testing.assert_array_equal(labels[r, start + 5:start + 10], ids[r, start:start + 5])
    with pytest.raises(SystemExit):
        T.parse_args(["mlm", "--out", str(tmp_path), "--repeat-frac", "0.5"])


def test_repeated_sequences_layout():
    ids = I.repeated_sequences(n=3, length=7, vocab_size=50, seed=2)
    assert ids.shape == (3, 15) and ids.dtype == np.int32 and (ids[:, 0] == I.BOS).all()
    np.testing.assert_array_equal(ids[:, 1:8], ids[:, 8:])
    assert (ids[:, 1:] >= I.N_SPECIAL).all()


def test_induction_report_on_a_tiny_untrained_model():
    """An untrained model copies nothing: both halves cost about ln(vocab); scores are valid
    attention means, and the induction diagonal of a uniform-ish head is small."""
    from roberta_lab import RobertaConfig, TFRobertaForCausalLM
    cfg = RobertaConfig(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=40, is_decoder=True)
    model = TFRobertaForCausalLM(cfg)
    rep = I.induction_report(model, n=4, length=10)
    assert abs(rep["loss_ratio"] - 1.0) < 0.1
    assert abs(rep["loss_first_half"] - np.log(60)) < 0.5
    scores = np.array(rep["induction_scores"])
    assert scores.shape == (2, 2) and (scores >= 0).all() and (scores <= 1).all()
    assert rep["best_induction_head"]["score"] == pytest.approx(scores.max(), abs=1e-4)
    assert rep["best_induction_head"]["score"] < 0.3
    assert np.array(rep["previous_token_scores"]).shape == (2, 2)
