"""The bundled small models (data/mini-mlm, data/mini-mlm-everyday, data/mini-causal and
data/mini-seq2seq).

Each test skips cleanly when its model folder has not been trained yet. Thresholds are the
values the committed models reached (see data/README.md, "Measured quality"), so a regression
in roberta_lab's model code or in the checkpoint loader shows up here.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data")
MAX_SAFETENSORS_BYTES = 25 * 1000 * 1000

# Targets, and what the committed models reached (data/README.md, "Measured quality").
# The tests assert the targets and the measured values (minus a small margin), so they also catch
# a loader or model regression that leaves a target met.
PROBE_ACCURACY_TARGET = 0.85  # issue 19: the probes stay at or above 85%
PROBE_MARGIN = 0.005  # below the measured accuracy: a few items may flip on another CPU
PARIS_REACHED = True  # " Paris" top-1 for "The capital of France is <mask>."
SEQ2SEQ_EXACT_MATCH_TARGET, SEQ2SEQ_EXACT_MATCH_MEASURED = 0.95, 0.9985
# Heads named in data/README.md with the role head_roles() measured for them (layer, head, role).
NAMED_HEADS = [(1, 1, "next"), (1, 7, "prev"), (1, 3, "prev")]
CAUSAL_SENTENCE_LOSS_MAX = 3.31  # measured 3.01 on SENTENCES (mean token loss), plus 0.3
# Greedy continuations of the committed mini-causal (data/README.md) and its minimal-pair
# accuracy (measured 0.525 = 126/240 overall, 0.573 = 55/96 across a relative clause; asserted
# less 2 items). Agreement is near chance (data/README.md says so); the pins catch a regression.
CAUSAL_CONTINUATIONS = {"The capital of France is": " Paris.", "After Monday comes": " Tuesday.",
                        "The keys to the cabinet": " are on the table, they say.",
                        "A salmon is a kind of": " fish.", "My sisters": " have a good idea."}
CAUSAL_MINIMAL_PAIRS_MIN, CAUSAL_RELATIVE_AGREEMENT_MIN = 124 / 240, 53 / 96
SEQ2SEQ_SUBSET = 300  # held-out pairs decoded in the test (keeps it fast)
# Everyday cloze (data/probes/everyday_cloze.jsonl, 220 sentences, never trained on): top-1 and
# top-5 as measured (data/README.md, "Issue 19") less 2 sentences, and the sentences whose first
# guess is an accepted answer, with that guess. mini-mlm: 11/220 and 25/220; mini-mlm-everyday
# (four epochs of data/corpus-everyday): 19/220 and 62/220.
CLOZE_PINNED = {"everyday-011": "water", "everyday-049": "kitchen", "everyday-062": "night",
                "everyday-086": "head", "everyday-099": "water", "everyday-100": "out",
                "everyday-120": "door", "everyday-121": "animal", "everyday-132": "month",
                "everyday-186": "table", "everyday-187": "table"}
CLOZE_PINNED_EVERYDAY = {
    "everyday-001": "tea", "everyday-062": "night", "everyday-101": "door", "everyday-107": "office",
    "everyday-120": "door", "everyday-121": "animal", "everyday-135": "air", "everyday-137": "hot",
    "everyday-142": "cream", "everyday-177": "river", "everyday-179": "tree", "everyday-186": "table",
    "everyday-187": "table", "everyday-194": "game", "everyday-196": "place", "everyday-197": "game",
    "everyday-209": "money", "everyday-216": "vegetables", "everyday-218": "out"}
# Per bundled masked LM: probe accuracy measured (data/README.md), the heads the card names with
# their head_roles() role (layer, head, role), and (top-1 min, top-5 min, pinned first guesses).
MLM_EXPECTED = {
    "mini-mlm": {"probes": 0.8744, "heads": NAMED_HEADS, "cloze": (9 / 220, 23 / 220, CLOZE_PINNED)},
    "mini-mlm-everyday": {"probes": 0.8735, "heads": NAMED_HEADS,
                          "cloze": (17 / 220, 60 / 220, CLOZE_PINNED_EVERYDAY)},
}
# Induction (induction.induction_report: 8 x <s> r r, 20 random tokens): the targets
# (measured: loss ratio 0.077, induction heads layer 3 heads 2 and 1 at 0.910 and 0.885), and the
# previous-token head they compose with (measured 0.987 at layer 1, head 0).
INDUCTION_LOSS_RATIO_MAX, INDUCTION_SCORE_MIN = 0.30, 0.40
INDUCTION_HEADS = [(3, 2), (3, 1)]
PREVIOUS_TOKEN_HEAD, PREVIOUS_TOKEN_SCORE_MIN = (1, 0), 0.85

SENTENCES = ["The capital of France is Paris.", "A robin is a bird.",
             "After Monday comes Tuesday, and the keys to the cabinet are on the table."]


def _folder(name):
    path = os.path.join(DATA, name)
    if not os.path.isfile(os.path.join(path, "config.json")) and not os.path.isfile(
            os.path.join(path, "seq2seq.json")):
        pytest.skip(f"{path} is not trained yet (python -m roberta_lab.training.train)")
    return path


def _tok(name):
    from roberta_lab import AutoTokenizer
    return AutoTokenizer.from_pretrained(name)


def _hf():
    return pytest.importorskip("transformers"), pytest.importorskip("torch")


class MaskedLM(tuple):
    """``(model, tokenizer)`` of one bundled masked LM, with its folder name and expected values."""
    name: str
    want: dict


@pytest.fixture(scope="module", params=sorted(MLM_EXPECTED))
def mlm(request):
    _folder(request.param)
    from roberta_lab import TFRobertaForMaskedLM
    name = "roberta-lab/" + request.param
    out = MaskedLM((TFRobertaForMaskedLM.from_pretrained(name), _tok(name)))
    out.name, out.want = request.param, MLM_EXPECTED[request.param]
    return out


@pytest.fixture(scope="module")
def causal():
    _folder("mini-causal")
    from roberta_lab import TFRobertaForCausalLM
    return TFRobertaForCausalLM.from_pretrained("roberta-lab/mini-causal"), _tok("roberta-lab/mini-causal")


@pytest.fixture(scope="module")
def seq2seq():
    _folder("mini-seq2seq")
    from roberta_lab.training.evaluate import load_seq2seq
    return load_seq2seq("roberta-lab/mini-seq2seq")


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("rel", ["mini-mlm", "mini-mlm-everyday", "mini-causal",
                                 "mini-seq2seq/encoder",
                                 "mini-seq2seq/decoder"])
def test_safetensors_size(rel):
    path = os.path.join(DATA, rel, "model.safetensors")
    if not os.path.isfile(path):
        pytest.skip(f"{path} is not trained yet")
    assert os.path.getsize(path) <= MAX_SAFETENSORS_BYTES


@pytest.mark.parametrize("name", ["mini-mlm", "mini-mlm-everyday", "mini-causal", "mini-seq2seq"])
def test_folder_has_tokenizer_and_log(name):
    path = _folder(name)
    for f in ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
              "special_tokens_map.json", "training_log.json"):
        assert os.path.isfile(os.path.join(path, f)), f
    log = json.load(open(os.path.join(path, "training_log.json")))
    assert log["complete"] and log["steps_done"] > 0 and np.isfinite(log["final_loss"])


def test_bundled_names_listed():
    _folder("mini-mlm")
    from roberta_lab import bundled_models
    assert {"roberta-lab/mini-mlm", "roberta-lab/mini-mlm-everyday"} <= set(bundled_models())


# --------------------------------------------------------------------------- masked LM


def test_mlm_matches_hf(mlm):
    transformers, torch = _hf()
    model, tok = mlm
    enc = tok(SENTENCES, padding=True, return_tensors="np")
    ours = np.asarray(model(enc["input_ids"], attention_mask=enc["attention_mask"]).logits)
    hf = transformers.RobertaForMaskedLM.from_pretrained(os.path.join(DATA, mlm.name)).eval()
    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(enc["input_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(enc["attention_mask"], dtype=torch.long)).logits.numpy()
    keep = enc["attention_mask"].astype(bool)
    np.testing.assert_allclose(ours[keep], theirs[keep], atol=1e-4, rtol=0)


def test_hf_tokenizer_agrees(mlm):
    transformers, _ = _hf()
    _, tok = mlm
    hf_tok = transformers.AutoTokenizer.from_pretrained(os.path.join(DATA, mlm.name))
    for s in SENTENCES + ["The capital of France is <mask>."]:
        assert hf_tok(s)["input_ids"] == tok(s)["input_ids"]


def test_paris(mlm):
    from roberta_lab.training.evaluate import paris_check
    model, tok = mlm
    res = paris_check(model, tok)
    if not PARIS_REACHED:
        pytest.xfail(f"the committed mini-mlm is under-trained; top-1 is {res['top1']!r}")
    assert res["top1"] == " Paris", res


def test_probe_accuracy(mlm):
    from roberta_lab.training.evaluate import score_mlm_probes
    model, tok = mlm
    res = score_mlm_probes(model, tok)
    assert res["n"] == 1067
    per_kind = {k: v["accuracy"] for k, v in res["per_kind"].items()}
    assert res["accuracy"] >= PROBE_ACCURACY_TARGET, per_kind
    assert res["accuracy"] >= mlm.want["probes"] - PROBE_MARGIN, per_kind


def test_bfloat16_mode_agrees_on_the_probes(mlm):
    """bfloat16 mode keeps the float32 top-1 at >= 99% of the probe set's <mask> positions."""
    from roberta_lab.training.evaluate import bfloat16_agreement
    model, tok = mlm
    res = bfloat16_agreement(model, tok)
    assert res["positions"] >= 1067 and res["agreement"] >= 0.99, res


def test_head_roles(mlm):
    """At least three heads with a clear role, and the heads the model card names keep theirs."""
    from roberta_lab.training.evaluate import head_roles
    model, tok = mlm
    res = head_roles(model, tok)
    clear = {(c["layer"], c["head"]): c["role"] for c in res["clear_heads"]}
    assert len(clear) >= 3, res["clear_heads"]
    for layer, head, role in mlm.want["heads"]:
        assert clear.get((layer, head)) == role, (layer, head, role, res["clear_heads"])


# --------------------------------------------------------------------------- causal LM


def test_causal_matches_hf(causal):
    transformers, torch = _hf()
    model, tok = causal
    assert model.config.is_decoder
    enc = tok(SENTENCES, padding=True, return_tensors="np")
    ours = np.asarray(model(enc["input_ids"], attention_mask=enc["attention_mask"]).logits)
    hf = transformers.RobertaForCausalLM.from_pretrained(os.path.join(DATA, "mini-causal")).eval()
    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(enc["input_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(enc["attention_mask"], dtype=torch.long)).logits.numpy()
    keep = enc["attention_mask"].astype(bool)
    np.testing.assert_allclose(ours[keep], theirs[keep], atol=1e-4, rtol=0)


def test_causal_continues_with_grammatical_facts(causal):
    """The continuations the model card shows, and the minimal-pair agreement it measured."""
    from roberta_lab.training.evaluate import agreement_minimal_pairs, greedy_continue
    model, tok = causal
    got = {p: greedy_continue(model, tok, p) for p in CAUSAL_CONTINUATIONS}
    assert got == CAUSAL_CONTINUATIONS
    res = agreement_minimal_pairs(model, tok)
    assert res["n"] == 240 and res["accuracy"] >= CAUSAL_MINIMAL_PAIRS_MIN, res
    assert res["per_subkind"]["relative"] >= CAUSAL_RELATIVE_AGREEMENT_MIN, res


def test_causal_greedy_and_loss(causal):
    from roberta_lab.training.evaluate import greedy_continue
    model, tok = causal
    text = greedy_continue(model, tok, "The capital of France is", n_new=6)
    assert text.strip() and text == greedy_continue(model, tok, "The capital of France is", n_new=6)
    enc = tok(SENTENCES, padding=True, return_tensors="np")
    labels = np.where(enc["attention_mask"] == 1, enc["input_ids"], -100)
    loss = float(np.mean(model(enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels).loss))
    assert loss <= CAUSAL_SENTENCE_LOSS_MAX, loss


# --------------------------------------------------------------------------- seq2seq


def test_seq2seq_layout(seq2seq):
    enc, dec, _, layout = seq2seq
    assert not enc.config.is_decoder
    assert dec.config.is_decoder and dec.config.add_cross_attention
    assert layout["encoder"].startswith("encoder/") and layout["decoder"].startswith("decoder/")


def test_seq2seq_matches_hf(seq2seq):
    transformers, torch = _hf()
    enc, dec, tok, _ = seq2seq
    src = tok(["c a t", "h e l l o"], padding=True, return_tensors="np")
    tgt = tok(["t a c", "o l l e h"], padding=True, return_tensors="np")
    h = enc(src["input_ids"], attention_mask=src["attention_mask"]).last_hidden_state
    ours = np.asarray(dec(tgt["input_ids"], attention_mask=tgt["attention_mask"],
                          encoder_hidden_states=h, encoder_attention_mask=src["attention_mask"]).logits)
    folder = os.path.join(DATA, "mini-seq2seq")
    hf_enc = transformers.RobertaModel.from_pretrained(os.path.join(folder, "encoder"),
                                                       add_pooling_layer=False).eval()
    hf_dec = transformers.RobertaForCausalLM.from_pretrained(os.path.join(folder, "decoder")).eval()
    t = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    with torch.no_grad():
        hh = hf_enc(input_ids=t(src["input_ids"]), attention_mask=t(src["attention_mask"])).last_hidden_state
        theirs = hf_dec(input_ids=t(tgt["input_ids"]), attention_mask=t(tgt["attention_mask"]),
                        encoder_hidden_states=hh,
                        encoder_attention_mask=t(src["attention_mask"])).logits.numpy()
    np.testing.assert_allclose(np.asarray(h), hh.numpy(), atol=1e-4, rtol=0)
    keep = tgt["attention_mask"].astype(bool)
    np.testing.assert_allclose(ours[keep], theirs[keep], atol=1e-4, rtol=0)


def test_seq2seq_exact_match(seq2seq):
    from roberta_lab.training import seq2seq_task
    from roberta_lab.training.evaluate import seq2seq_greedy
    enc, dec, tok, layout = seq2seq
    path = os.path.join(DATA, "corpus", "seq2seq_heldout.tsv")
    if os.path.isfile(path):  # data/corpus is git-ignored; the held-out split is reproducible
        pairs = seq2seq_task.read_pairs(path)[:SEQ2SEQ_SUBSET]
    else:
        pairs = seq2seq_task.make_pairs(SEQ2SEQ_SUBSET, seed=0, split="heldout")
    assert all(seq2seq_task.split_of(s) == "heldout" for s, _ in pairs)
    preds = seq2seq_greedy(enc, dec, tok, [s for s, _ in pairs], int(layout["max_length"]))
    em = float(np.mean([p == t for p, (_, t) in zip(preds, pairs)]))
    if SEQ2SEQ_EXACT_MATCH_MEASURED is not None and SEQ2SEQ_EXACT_MATCH_MEASURED < SEQ2SEQ_EXACT_MATCH_TARGET:
        assert em >= SEQ2SEQ_EXACT_MATCH_MEASURED - 0.03
    else:
        assert em >= SEQ2SEQ_EXACT_MATCH_TARGET


def test_seq2seq_cross_attention_follows_the_alignment(seq2seq):
    """Most cross-attention weight sits on the aligned (reversed) source letter: the best head
    nearly all of it, the best layer's heads on average most of it (data/README.md)."""
    from roberta_lab.training import seq2seq_task
    from roberta_lab.training.evaluate import seq2seq_alignment
    enc, dec, tok, layout = seq2seq
    pairs = seq2seq_task.make_pairs(200, seed=0, split="heldout")
    res = seq2seq_alignment(enc, dec, tok, pairs, int(layout["max_length"]))
    assert res["best_head_mean"] >= 0.9 and res["best_layer_mean"] >= 0.5, res
    assert res["best_layer_mean"] > 3 * res["uniform_baseline"]


# --------------------------------------------------------------------------- issue 19


def test_everyday_cloze(mlm):
    """Top-1/top-5 on the 220 everyday cloze sentences (never trained on), and a pinned sample of
    sentences whose first guess is an accepted answer."""
    from roberta_lab.training import cloze
    model, tok = mlm
    res = cloze.score_cloze(model, tok)
    assert res["n"] == 220
    top1, top5, pinned = mlm.want["cloze"]
    assert res["top1"] >= top1 and res["top5"] >= top5, (res["top1"], res["top5"])
    got = {o["id"]: o["top5"][0] for o in res["items"] if o["id"] in pinned}
    assert got == pinned


def test_causal_has_a_previous_token_head(causal):
    """The first half of the induction circuit: one head attends to the previous token."""
    from roberta_lab.training.induction import induction_report
    model, _ = causal
    rep = induction_report(model)
    lp, hp = PREVIOUS_TOKEN_HEAD
    assert np.array(rep["previous_token_scores"])[lp, hp] >= PREVIOUS_TOKEN_SCORE_MIN, rep
    assert rep["best_previous_token_head"] == {"layer": lp, "head": hp,
                                               "score": rep["best_previous_token_head"]["score"]}


def test_causal_induction(causal):
    """On <s> r r (8 sequences of 20 random tokens) the repeated half is predicted from the first,
    and the named induction heads attend to the token after the previous occurrence."""
    from roberta_lab.training.induction import induction_report
    model, _ = causal
    rep = induction_report(model)
    assert rep["loss_ratio"] <= INDUCTION_LOSS_RATIO_MAX, rep["loss_ratio"]
    assert rep["best_induction_head"]["score"] >= INDUCTION_SCORE_MIN, rep["best_induction_head"]
    scores = np.array(rep["induction_scores"])
    for layer, head in INDUCTION_HEADS:
        assert scores[layer, head] >= INDUCTION_SCORE_MIN, (layer, head, scores.round(3).tolist())


def test_causal_induction_needs_its_heads(causal):
    """Zeroing the two induction heads (head_mask) takes most of the repeated half's advantage
    away; zeroing two other heads of the same layer does not."""
    from roberta_lab.training.induction import repeated_sequences
    import tensorflow as tf
    model, _ = causal
    ids = repeated_sequences(8, 20, model.config.vocab_size, seed=1)

    def second_half_loss(off):
        mask = np.ones((model.config.num_hidden_layers, model.config.num_attention_heads), "float32")
        for layer, head in off:
            mask[layer, head] = 0.0
        logits = model(ids, head_mask=tf.constant(mask)).logits[:, :-1]
        nll = -tf.gather(tf.nn.log_softmax(logits, -1), ids[:, 1:], batch_dims=2).numpy()
        return float(nll[:, 20:].mean()), float(nll[:, :20].mean())

    full, first = second_half_loss([])
    ablated, _ = second_half_loss(INDUCTION_HEADS)
    others, _ = second_half_loss([(3, 0), (3, 3)])
    assert full <= INDUCTION_LOSS_RATIO_MAX * first, (full, first)
    assert ablated - full > 3 * abs(others - full), (full, ablated, others)
