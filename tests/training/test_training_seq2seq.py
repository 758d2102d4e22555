"""Reversal task for the encoder-decoder (no TensorFlow needed)."""
import numpy as np
import pytest

from roberta_lab.training import seq2seq_task as s2s


def test_aligned_source_position():
    assert [s2s.aligned_source_position(t, 5) for t in range(5)] == [4, 3, 2, 1, 0]
    assert s2s.aligned_source_position(0, 3) == 2
    for bad in (-1, 3):
        with pytest.raises(ValueError):
            s2s.aligned_source_position(bad, 3)
    np.testing.assert_array_equal(s2s.expected_alignment(4), np.fliplr(np.eye(4)))


def test_pairs_deterministic_disjoint_and_reversed():
    train = s2s.make_pairs(2000, seed=0, split="train")
    assert train == s2s.make_pairs(2000, seed=0, split="train")
    held = s2s.make_pairs(300, seed=0, split="heldout")
    assert not {s for s, _ in train} & {s for s, _ in held}
    assert len({s for s, _ in train}) == 2000
    for src, tgt in train + held:
        toks = src.split()
        assert s2s.MIN_LEN <= len(toks) <= s2s.MAX_LEN and set(toks) <= set(s2s.ALPHABET)
        assert tgt.split() == toks[::-1]
        assert all(tgt.split()[t] == toks[s2s.aligned_source_position(t, len(toks))] for t in range(len(toks)))
    assert all(s2s.split_of(s) == "heldout" for s, _ in held)
    # Changing the number of held-out pairs never changes the train pairs.
    assert s2s.make_pairs(100, seed=0, split="train") == train[:100]
    with pytest.raises(ValueError):
        s2s.make_pairs(1, split="dev")
