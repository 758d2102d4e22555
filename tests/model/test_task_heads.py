"""The four task heads: HF PyTorch parity on HF-written random checkpoints, losses, labels,
HF weight names both ways, hooks, head masks and run_with_cache."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import hf_model, max_diff, random_ids, random_mask, tiny_config, torch_inputs
from roberta_lab import (RobertaConfig, TFRobertaForMaskedLM, TFRobertaForMultipleChoice,
                         TFRobertaForQuestionAnswering, TFRobertaForSequenceClassification,
                         TFRobertaForTokenClassification)

torch = pytest.importorskip("torch")

TOL = 1e-5
KINDS = {"seqcls": TFRobertaForSequenceClassification, "tokcls": TFRobertaForTokenClassification,
         "qa": TFRobertaForQuestionAnswering, "mc": TFRobertaForMultipleChoice}


def _pair(kind, tmp_path, **cfg_kw):
    cfg = tiny_config(**{"num_labels": 3, **cfg_kw}) if kind != "qa" else tiny_config(**cfg_kw)
    ref = hf_model(kind, cfg)
    ref.save_pretrained(tmp_path / kind)
    ours, info = KINDS[kind].from_pretrained(tmp_path / kind, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [], info
    return ref, ours


def _close_all(ours, ref, names):
    for name in names:
        a, b = ours[name], getattr(ref, name)
        if isinstance(b, (tuple, list)):
            assert len(a) == len(b), name
            for x, y in zip(a, b):
                assert max_diff(x, y) < TOL, name
        else:
            assert max_diff(a, b) < TOL, f"{name}: {max_diff(a, b)}"


def _inputs(seed=0):
    ids = random_ids(seed=seed)
    ids[:3, -2:] = 1  # right padding: positions skip pads
    mask = (ids != 1).astype(np.int32)
    types = np.random.default_rng(seed + 3).integers(0, 16, size=ids.shape).astype(np.int32)
    return ids, mask, types


@pytest.mark.parametrize("problem,labels", [
    (None, np.arange(13) % 3),
    ("single_label_classification", np.arange(13) % 3),
    ("multi_label_classification", (np.arange(39).reshape(13, 3) % 2).astype(np.float32)),
    ("regression", np.linspace(-1, 1, 39).reshape(13, 3).astype(np.float32)),
])
def test_sequence_classification_parity(tmp_path, problem, labels):
    ref, ours = _pair("seqcls", tmp_path, problem_type=problem)
    ids, mask, types = _inputs()
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types),
                labels=torch.tensor(labels), output_attentions=True, output_hidden_states=True)
    o = ours(ids, attention_mask=mask, token_type_ids=types, labels=labels,
             output_attentions=True, output_hidden_states=True)
    _close_all(o, r, ["logits", "hidden_states", "attentions"])
    assert o.loss.shape == () and abs(float(o.loss) - float(r.loss)) < TOL


def test_sequence_regression_one_label_and_problem_inference(tmp_path):
    ref, ours = _pair("seqcls", tmp_path, num_labels=1)
    ids, mask, _ = _inputs(1)
    y = np.linspace(0, 2, 13).astype(np.float32)
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask), labels=torch.tensor(y))
    o = ours(ids, attention_mask=mask, labels=y)
    assert abs(float(o.loss) - float(r.loss)) < TOL
    # problem_type None, 3 labels: float labels -> multi-label, int labels -> single-label
    m = TFRobertaForSequenceClassification(tiny_config(num_labels=3))
    logits = m(ids).logits.numpy()
    multi = (np.arange(39).reshape(13, 3) % 2).astype(np.float32)
    want = np.mean(np.maximum(logits, 0) - logits * multi + np.log1p(np.exp(-np.abs(logits))))
    assert abs(float(m(ids, labels=multi).loss) - want) < 1e-5
    single = np.arange(13) % 3
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    assert abs(float(m(ids, labels=single).loss) + logp[np.arange(13), single].mean()) < 1e-5


def test_token_classification_parity(tmp_path):
    ref, ours = _pair("tokcls", tmp_path, classifier_dropout=0.3)
    ids, mask, types = _inputs(2)
    labels = np.random.default_rng(4).integers(0, 3, size=ids.shape)
    labels[0] = -100
    labels[ids == 1] = -100
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types,
                               labels=labels), output_attentions=True, output_hidden_states=True)
    o = ours(ids, attention_mask=mask, token_type_ids=types, labels=labels,
             output_attentions=True, output_hidden_states=True)
    _close_all(o, r, ["logits", "hidden_states", "attentions"])
    assert abs(float(o.loss) - float(r.loss)) < TOL


def test_question_answering_parity(tmp_path):
    ref, ours = _pair("qa", tmp_path)
    ids, mask, types = _inputs(3)
    start, end = np.arange(13) % 5, np.arange(13) % 5 + 1
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types,
                               start_positions=start, end_positions=end),
                output_attentions=True, output_hidden_states=True)
    o = ours(ids, attention_mask=mask, token_type_ids=types, start_positions=start,
             end_positions=end, output_attentions=True, output_hidden_states=True)
    _close_all(o, r, ["start_logits", "end_logits", "hidden_states", "attentions"])
    assert abs(float(o.loss) - float(r.loss)) < TOL
    with pytest.raises(ValueError, match="start_positions"):
        ours(ids, start_positions=start + 7, end_positions=end)
    with pytest.raises(ValueError, match="go together"):
        ours(ids, start_positions=start)


def test_multiple_choice_parity(tmp_path):
    ref, ours = _pair("mc", tmp_path)
    ids = np.stack([random_ids(4, 7, seed=s) for s in range(3)], axis=1)  # [4, 3, 7]
    ids[0, :, -2:] = 1
    mask = (ids != 1).astype(np.int32)
    labels = np.array([0, 2, 1, 2])
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, labels=labels),
                output_attentions=True, output_hidden_states=True)
    o = ours(ids, attention_mask=mask, labels=labels, output_attentions=True,
             output_hidden_states=True)
    assert o.logits.shape == (4, 3)
    _close_all(o, r, ["logits", "hidden_states", "attentions"])
    assert abs(float(o.loss) - float(r.loss)) < TOL
    # inputs_embeds [batch, choices, seq, d_model] give the ids' answer (no pads)
    ids2 = ids.copy()
    ids2[ids2 == 1] = 2
    emb = ours.get_input_embeddings().word_embeddings.numpy()[ids2]
    assert max_diff(ours(None, inputs_embeds=emb).logits, ours(ids2).logits) < 1e-5


@pytest.mark.parametrize("kind", list(KINDS))
def test_head_masks_all_shapes_match_hf(tmp_path, kind):
    ref, ours = _pair(kind, tmp_path)
    ids, mask, _ = _inputs(5)
    if kind == "mc":
        ids, mask = ids.reshape(13, 1, 7)[:12].reshape(4, 3, 7), mask[:12].reshape(4, 3, 7)
    batch = ids.shape[0]
    rank1 = np.array([1, 0, 1, 1], np.float32)
    rank2 = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], np.float32)
    field = "start_logits" if kind == "qa" else "logits"
    for hm in (rank1, rank2):
        with torch.no_grad():
            r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, head_mask=hm))
        o = ours(ids, attention_mask=mask, head_mask=hm)
        assert max_diff(o[field], getattr(r, field)) < TOL
    # (batch, layers, heads): row b with rank2 equals the rank-2 answer row b
    per_row = np.stack([rank2 if b % 2 else np.ones_like(rank2) for b in range(batch)])
    o3 = ours(ids, attention_mask=mask, head_mask=per_row)[field].numpy()
    o2 = ours(ids, attention_mask=mask, head_mask=rank2)[field].numpy()
    o1 = ours(ids, attention_mask=mask)[field].numpy()
    assert np.allclose(o3[1::2], o2[1::2], atol=1e-6) and np.allclose(o3[::2], o1[::2], atol=1e-6)


@pytest.mark.parametrize("kind", list(KINDS))
def test_weight_names_both_ways(tmp_path, kind):
    """Our save is what HF PyTorch loads (same outputs), with HF's names."""
    import transformers

    cfg = tiny_config(num_labels=2 if kind == "qa" else 3)
    ours = KINDS[kind](cfg)
    ours.save_pretrained(tmp_path / "ours")
    cls = {"seqcls": transformers.RobertaForSequenceClassification,
           "tokcls": transformers.RobertaForTokenClassification,
           "qa": transformers.RobertaForQuestionAnswering,
           "mc": transformers.RobertaForMultipleChoice}[kind]
    ref, info = cls.from_pretrained(tmp_path / "ours", output_loading_info=True,
                                    attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    ids = random_ids()
    if kind == "mc":
        ids = ids[:12].reshape(4, 3, 7)
    field = "start_logits" if kind == "qa" else "logits"
    with torch.no_grad():
        r = ref.eval()(torch.tensor(ids.astype(np.int64)))
    assert max_diff(ours(ids)[field], getattr(r, field)) < TOL


def test_from_masked_lm_checkpoint_keeps_trunk(tmp_path, caplog):
    """Fine-tuning start: an MLM checkpoint's trunk loads, its LM head is ignored quietly, the
    classifier is new (and reported missing)."""
    mlm = TFRobertaForMaskedLM(tiny_config())
    mlm.save_pretrained(tmp_path / "mlm")
    clf, info = TFRobertaForSequenceClassification.from_pretrained(
        tmp_path / "mlm", num_labels=4, output_loading_info=True)
    assert clf.config.num_labels == 4 and clf.config.id2label[3] == "LABEL_3"
    assert sorted(info["missing_keys"]) == ["classifier.dense.bias", "classifier.dense.weight",
                                            "classifier.out_proj.bias",
                                            "classifier.out_proj.weight"]
    assert all(k.startswith("lm_head.") for k in info["unexpected_keys"])
    a = clf.roberta.embeddings.word_embeddings.numpy()
    assert np.array_equal(a, mlm.roberta.embeddings.word_embeddings.numpy())


def test_labels_are_checked():
    ids = random_ids()
    clf = TFRobertaForSequenceClassification(tiny_config(num_labels=3))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        clf(ids, labels=np.full(13, 3))
    with pytest.raises(ValueError, match="labels must be"):
        clf(ids, labels=np.zeros((13, 2), np.int32))
    tok = TFRobertaForTokenClassification(tiny_config(num_labels=3))
    with pytest.raises(ValueError, match="-100"):
        tok(ids, labels=np.full(ids.shape, 5))
    with pytest.raises(ValueError, match="num_labels == 2"):
        TFRobertaForQuestionAnswering(tiny_config(num_labels=3))
    mc = TFRobertaForMultipleChoice(tiny_config())
    with pytest.raises(ValueError, match="choices"):
        mc(ids)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        mc(ids[:12].reshape(4, 3, 7), labels=np.array([0, 1, 2, 3]))


def test_config_label_fields():
    cfg = RobertaConfig(num_labels=3)
    assert cfg.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert cfg.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    cfg.num_labels = 5
    assert cfg.num_labels == 5 and cfg.label2id["LABEL_4"] == 4
    named = RobertaConfig.from_dict({"id2label": {"0": "neg", "1": "pos"}})  # JSON keys
    assert named.id2label == {0: "neg", 1: "pos"} and named.label2id == {"neg": 0, "pos": 1}
    assert RobertaConfig.from_dict(named.to_dict()) == named
    assert RobertaConfig().num_labels == 2 and RobertaConfig().problem_type is None
    assert RobertaConfig().is_encoder_decoder is False
    with pytest.raises(ValueError, match="problem_type"):
        RobertaConfig(problem_type="ranking")
    with pytest.raises(ValueError, match="classifier_dropout"):
        RobertaConfig(classifier_dropout=1.5)
    with pytest.raises(ValueError, match="num_labels"):
        RobertaConfig(num_labels=0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_hooks_and_run_with_cache(kind):
    model = KINDS[kind](tiny_config(num_labels=2 if kind == "qa" else 3))
    ids = random_ids()
    if kind == "mc":
        ids = ids[:12].reshape(4, 3, 7)
    field = "start_logits" if kind == "qa" else "logits"
    out, cache = model.run_with_cache(ids)
    assert cache["pattern", 1].shape[:2] == (ids.reshape(-1, 7).shape[0], 4)
    assert max_diff(out[field], model(ids)[field]) < 1e-6
    out_c, cache_c = model.run_with_cache(ids, compile=True,
                                          names_filter=lambda n: n.endswith("hook_z"))
    assert max_diff(out_c[field], out[field]) < 1e-5
    assert max_diff(cache_c["blocks.1.attn.hook_z"], cache["blocks.1.attn.hook_z"]) < 1e-5

    def kill(z, hook):  # zeroing every head of layer 0 through hook_z = a (layers, heads) mask
        return z * 0.0

    hooked = model.run_with_hooks(ids, fwd_hooks=[("blocks.0.attn.hook_z", kill)])
    masked = model(ids, head_mask=np.array([[0, 0, 0, 0], [1, 1, 1, 1]], np.float32))
    assert max_diff(hooked[field], masked[field]) < 1e-5


def test_sequence_classification_roberta_base_shape_parity(tmp_path):
    """roberta-base's widths (768, 12 heads, 3072, 50265 words, 514 positions) within 1e-4;
    2 of its 12 layers keep the test to seconds (the full depth is tested on the masked LM)."""
    cfg = RobertaConfig.roberta_base(num_labels=3, num_hidden_layers=2)
    ref = hf_model("seqcls", cfg)
    ref.save_pretrained(tmp_path / "base")
    ours = TFRobertaForSequenceClassification.from_pretrained(tmp_path / "base")
    ids = random_ids(2, 16, vocab=50265, seed=4)
    ids[:, 0], ids[:, -1] = 0, 2
    ids[1, -4:] = 1
    mask = (ids != 1).astype(np.int32)
    labels = np.array([2, 0])
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask, labels=labels))
    o = ours(ids, attention_mask=mask, labels=labels)
    assert max_diff(o.logits, r.logits) < 1e-4
    assert abs(float(o.loss) - float(r.loss)) < 1e-4


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_task_head_at_roberta_base_depth_and_widths(tmp_path, kind):
    """Each task head at roberta-base's depth and widths (12 layers of 768, 12 heads, 3072,
    514 positions) against HF PyTorch within 1e-4; the vocabulary is cut to 1,000 words so the
    four checkpoints stay small (the full vocabulary is tested on the masked LM)."""
    cfg = RobertaConfig.roberta_base(vocab_size=1000, **({} if kind == "qa" else {"num_labels": 3}))
    ref = hf_model(kind, cfg)
    ref.save_pretrained(tmp_path / kind)
    ours = KINDS[kind].from_pretrained(tmp_path / kind)
    ids = random_ids(2, 16, vocab=1000, seed=5)
    ids[:, 0], ids[:, -1] = 0, 2
    ids[1, -4:] = 1
    mask = (ids != 1).astype(np.int32)
    if kind == "mc":  # [batch, choices, seq]: the two rows are one question's two choices
        ids, mask = ids[None], mask[None]
    with torch.no_grad():
        r = ref(**torch_inputs(input_ids=ids, attention_mask=mask))
    o = ours(ids, attention_mask=mask)
    for name in (("start_logits", "end_logits") if kind == "qa" else ("logits",)):
        assert max_diff(o[name], getattr(r, name)) < 1e-4, name
