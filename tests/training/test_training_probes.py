"""Probe set build and scorer (no TensorFlow needed)."""
import collections
import json
import os

import pytest

from roberta_lab.training import probes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER = os.path.join(ROOT, "data/tokenizer/tokenizer.json")


def _word_encoder():
    """A fake tokenizer: one id per whitespace-separated word of the answer."""
    vocab = {}
    return lambda s: [vocab.setdefault(w, len(vocab) + 10) for w in s.split()]


def _perfect_fill(items, encode):
    table = {probes.masked_text(it, len(encode(it["answer"]))): encode(it["answer"]) for it in items}
    return lambda text: table[text]


def test_build_is_deterministic(tmp_path):
    a, b = probes.build_probes(0), probes.build_probes(0)
    assert a == b
    probes.write_jsonl(a, str(tmp_path / "a.jsonl"))
    probes.write_jsonl(b, str(tmp_path / "b.jsonl"))
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert probes.read_jsonl(str(tmp_path / "a.jsonl")) == a


def test_items_well_formed_and_kinds_covered():
    items = probes.build_probes(0)
    assert len(items) >= 400
    assert len({it["id"] for it in items}) == len(items)
    counts = collections.Counter(it["kind"] for it in items)
    assert counts["capital"] >= 60
    for kind in ("agreement", "sequence", "category"):
        assert counts[kind] >= 40, kind
    subkinds = {(it["kind"], it["subkind"]) for it in items}
    assert {("capital", "country->capital"), ("capital", "capital->country"),
            ("agreement", "attractor"), ("agreement", "relative")} <= subkinds
    for it in items:
        assert set(it) >= {"id", "kind", "text_template", "answer"}
        assert it["answer"].startswith(" ") and it["answer"].strip()
        assert it["text_template"].count("{mask}") == 1 and " {mask}" in it["text_template"]
    agree = {it["answer"] for it in items if it["kind"] == "agreement"}
    assert agree == {" is", " are", " was", " were", " has", " have"}


def test_masked_text_keeps_space_for_lstrip_mask():
    it = {"text_template": "The capital of France is {mask}.", "answer": " Paris"}
    assert probes.masked_text(it, 1) == "The capital of France is <mask>."
    assert probes.masked_text(it, 3) == "The capital of France is <mask><mask><mask>."
    assert probes.filled(it) == "The capital of France is Paris."


def test_score_perfect_and_wrong_fill():
    items = probes.build_probes(0)
    enc = _word_encoder()
    perfect = probes.score_probes(items, _perfect_fill(items, enc), enc)
    assert perfect["accuracy"] == 1.0 and perfect["failures"] == []
    assert all(k["accuracy"] == 1.0 for k in perfect["per_kind"].values())
    wrong = probes.score_probes(items, lambda text: [3] * text.count("<mask>"), enc)
    assert wrong["accuracy"] == 0.0 and len(wrong["failures"]) == len(items)
    assert set(wrong["per_kind"]) == set(probes.KINDS)


def test_score_counts_multi_token_answers():
    items = [{"id": "a", "kind": "capital", "text_template": "X is {mask}.", "answer": " Buenos Aires"},
             {"id": "b", "kind": "capital", "text_template": "Y is {mask}.", "answer": " Paris"}]
    enc = {" Buenos Aires": [7, 8], " Paris": [9]}.__getitem__
    seen = []

    def half_right(text):  # first token right, second wrong
        seen.append(text)
        return [7, 0] if text.count("<mask>") == 2 else [9]

    res = probes.score_probes(items, half_right, enc)
    assert seen == ["X is <mask><mask>.", "Y is <mask>."]
    assert res["n_multi_token"] == 1 and res["n_correct"] == 1 and res["accuracy"] == 0.5
    assert res["failures"][0]["id"] == "a" and res["failures"][0]["predicted_ids"] == [7, 0]
    with pytest.raises(ValueError):
        probes.score_probes(items, lambda text: [7], enc)  # wrong number of predictions


@pytest.mark.skipif(not os.path.exists(TOKENIZER), reason="tokenizer not built")
def test_score_with_real_tokenizer():
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(TOKENIZER)
    items = probes.build_probes(0)
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids  # noqa: E731
    mask_id = tok.token_to_id("<mask>")

    def fill(text):  # the answer tokens must line up with the <mask> positions
        ids = tok.encode(text).ids
        return [table[text][i] for i, _ in enumerate(j for j in ids if j == mask_id)]

    table = {probes.masked_text(it, len(enc(it["answer"]))): enc(it["answer"]) for it in items}
    res = probes.score_probes(items, fill, enc)
    assert res["accuracy"] == 1.0
    # Encoding the filled sentence gives the masked sentence's tokens with the answer in place.
    for it in items[:50] + items[-50:]:
        ans = enc(it["answer"])
        masked = tok.encode(probes.masked_text(it, len(ans))).ids
        full = tok.encode(probes.filled(it)).ids
        k = masked.index(mask_id)
        assert masked[:k] + ans + masked[k + len(ans):] == full, it


@pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, "data/probes/mlm_probes.jsonl")),
                    reason="probe file not built")
def test_committed_probe_file_matches_build():
    with open(os.path.join(ROOT, "data/probes/mlm_probes.jsonl"), encoding="utf-8") as fh:
        assert [json.loads(line) for line in fh] == probes.build_probes(0)


def test_tense_free_agreement_frames_accept_either_tense_of_the_right_number():
    items = [it for it in probes.build_probes(0) if it["kind"] == "agreement"]
    free = [it for it in items if "also_accept" in it]
    fixed = [it for it in items if it["text_template"].startswith("Last week")]
    assert free and fixed and not any("also_accept" in it for it in fixed)
    number = {" is": 1, " was": 1, " are": 2, " were": 2}
    for it in free:
        assert [number[a] for a in it["also_accept"]] == [number[it["answer"]]]
    # The other tense counts as right; the other number does not.
    vocab = {" is": 10, " was": 11, " are": 12, " were": 13, " has": 14, " have": 15}
    enc = lambda s: [vocab[s]]  # noqa: E731
    it = free[0]
    other_number = {" is": " are", " was": " were", " are": " is", " were": " was"}[it["answer"]]
    assert probes.score_probes([it], lambda t: enc(it["also_accept"][0]), enc)["accuracy"] == 1.0
    assert probes.score_probes([it], lambda t: enc(other_number), enc)["accuracy"] == 0.0
