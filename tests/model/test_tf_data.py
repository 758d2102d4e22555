"""prepare_tf_dataset: dynamic padding, dropped columns, HF's 80/10/10 dynamic masking; and
resize_token_embeddings with HF's behaviour (kept rows, tied decoder, bias, HF reloads it)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import max_diff, random_ids, tiny_config
from roberta_lab import (AutoTokenizer, TFRobertaForCausalLM, TFRobertaForMaskedLM,
                         TFRobertaForSequenceClassification, TFRobertaForTokenClassification,
                         TFRobertaModel)


def _rows(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return [[0] + rng.integers(5, 99, size=int(rng.integers(3, 12))).tolist() + [2]
            for _ in range(n)]


def test_dynamic_padding_and_unknown_columns_dropped():
    model = TFRobertaForSequenceClassification(tiny_config(num_labels=3))
    rows = _rows(10)
    data = {"input_ids": rows, "labels": [i % 3 for i in range(10)], "text": ["x"] * 10}
    batches = list(model.prepare_tf_dataset(data, batch_size=4, shuffle=False))
    assert [b["input_ids"].shape[0] for b in batches] == [4, 4, 2]
    for i, batch in enumerate(batches):
        chunk = rows[4 * i: 4 * i + 4]
        assert batch["input_ids"].shape[1] == max(len(r) for r in chunk)  # per batch
        assert set(batch) == {"input_ids", "attention_mask", "labels"}
        ids, mask = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
        for r, row in enumerate(chunk):
            assert ids[r, :len(row)].tolist() == row and (ids[r, len(row):] == 1).all()
            assert mask[r].sum() == len(row)
    model.compile(keras.optimizers.SGD(0.0), metrics=["sparse_categorical_accuracy"])
    model.fit(model.prepare_tf_dataset(data, batch_size=4), epochs=1, verbose=0)


def test_token_labels_pad_with_minus_100():
    model = TFRobertaForTokenClassification(tiny_config(num_labels=3))
    rows = _rows(6)
    labels = [[j % 3 for j in range(len(r))] for r in rows]
    batch = next(iter(model.prepare_tf_dataset({"input_ids": rows, "labels": labels},
                                               batch_size=6, shuffle=False)))
    lab = batch["labels"].numpy()
    for r, row in enumerate(rows):
        assert lab[r, :len(row)].tolist() == labels[r] and (lab[r, len(row):] == -100).all()
    assert np.isfinite(float(model(batch).loss))


def test_dynamic_masking_80_10_10(tok_dir):
    tok = AutoTokenizer.from_pretrained(tok_dir)
    model = TFRobertaForMaskedLM(tiny_config(vocab_size=tok.vocab_size))
    rows = [[0] + r[1:-1] + [2] for r in _rows(400, seed=1)]
    ds = model.prepare_tf_dataset({"input_ids": rows}, batch_size=50, shuffle=False,
                                  tokenizer=tok, seed=3)
    chosen = masked = randomised = kept = real = 0
    first = []
    for batch in ds:
        ids, labels = batch["input_ids"].numpy(), batch["labels"].numpy()
        first.append(labels)
        mask = batch["attention_mask"].numpy().astype(bool)
        originals = np.where(labels != -100, labels, -1)
        sel = labels != -100
        special = np.isin(np.where(mask, ids, 1), tok.all_special_ids) & (labels == -100)
        real += int((mask & ~special).sum())
        chosen += int(sel.sum())
        masked += int((ids[sel] == tok.mask_token_id).sum())
        kept += int((ids[sel] == originals[sel]).sum())
        randomised += int(((ids[sel] != tok.mask_token_id) & (ids[sel] != originals[sel])).sum())
        assert not np.isin(labels[sel], [0, 2, 1]).any()  # <s>, </s>, pads never chosen
    share = chosen / real
    # Four binomial standard errors either side of HF's rates (15% chosen; 80/10/10 of those):
    # a few hundred draws cannot pin a share closer than that without failing by chance.
    def near(x, p, n):
        return abs(x - p) < 4 * (p * (1 - p) / n) ** 0.5

    assert near(share, 0.15, real), share
    assert near(masked / chosen, 0.8, chosen) and near(kept / chosen, 0.1, chosen), \
        (masked, kept, chosen)
    # the same seed gives the same masks; a new epoch gives new ones
    again = [b["labels"].numpy() for b in model.prepare_tf_dataset(
        {"input_ids": rows}, batch_size=50, shuffle=False, tokenizer=tok, seed=3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    second_epoch = [b["labels"].numpy() for b in ds]
    assert not all(np.array_equal(a, b) for a, b in zip(first, second_epoch))
    with pytest.raises(ValueError, match="tokenizer"):
        model.prepare_tf_dataset({"input_ids": rows})


def test_causal_lm_labels_are_the_ids():
    model = TFRobertaForCausalLM(tiny_config(is_decoder=True))
    rows = _rows(4)
    batch = next(iter(model.prepare_tf_dataset({"input_ids": rows}, batch_size=4,
                                               shuffle=False)))
    ids, labels = batch["input_ids"].numpy(), batch["labels"].numpy()
    mask = batch["attention_mask"].numpy().astype(bool)
    assert (labels[mask] == ids[mask]).all() and (labels[~mask] == -100).all()


@pytest.mark.parametrize("new", [109, 89])
def test_resize_token_embeddings(tmp_path, new):
    import torch
    import transformers

    model = TFRobertaForMaskedLM(tiny_config())
    old_emb = model.get_input_embeddings().word_embeddings.numpy()
    old_bias = model.lm_head.bias.numpy()
    ids = random_ids(4, 7, vocab=89)
    before = model(ids).logits.numpy()
    model.resize_token_embeddings(new)
    emb = model.get_input_embeddings().word_embeddings
    assert model.config.vocab_size == new and emb.shape == (new, 32)
    assert model.lm_head.decoder is emb and model.lm_head.bias.shape == (new,)
    keep = min(99, new)
    assert np.array_equal(emb.numpy()[:keep], old_emb[:keep])
    assert np.array_equal(model.lm_head.bias.numpy()[:keep], old_bias[:keep])
    if new > 99:
        fresh = emb.numpy()[99:]
        assert np.abs(fresh).max() <= 2 * 0.02 and 0.01 < fresh.std() < 0.03  # truncated normal
        assert (model.lm_head.bias.numpy()[99:] == 0).all()
    after = model(ids).logits.numpy()
    assert after.shape[-1] == new
    assert max_diff(after[..., :keep], before[..., :keep]) < 1e-5
    assert sum(v.shape == (new, 32) for v in model.trainable_variables) == 1  # still tied
    model.compile(keras.optimizers.SGD(0.1))
    model.fit({"input_ids": ids, "labels": ids}, epochs=1, verbose=0)  # trains after resize
    assert max_diff(model.lm_head.decoder, model.get_input_embeddings().word_embeddings) == 0
    model.save_pretrained(tmp_path / "resized")
    ref = transformers.RobertaForMaskedLM.from_pretrained(tmp_path / "resized").eval()
    assert ref.config.vocab_size == new
    with torch.no_grad():
        r = ref(torch.tensor(ids.astype(np.int64))).logits.numpy()
    assert max_diff(model(ids).logits, r) < 1e-5
    model.save(tmp_path / "resized.keras")
    loaded = keras.saving.load_model(tmp_path / "resized.keras")
    assert max_diff(loaded(ids).logits, model(ids).logits) == 0.0


def test_resize_bare_model_and_none():
    model = TFRobertaModel(tiny_config())
    var = model.resize_token_embeddings(None)
    assert var is model.get_input_embeddings().word_embeddings and var.shape == (99, 32)
    model.resize_token_embeddings(120)
    assert model(np.array([[0, 110, 2]])).last_hidden_state.shape == (1, 3, 32)
    with pytest.raises(ValueError, match="vocab_size"):
        model(np.array([[0, 120, 2]]))
