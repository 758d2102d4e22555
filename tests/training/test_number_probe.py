"""The probing data of lesson 8: masked agreement sentences from held-out frames, labelled with
the subject's number."""

from roberta_lab.training import facts, templates
from roberta_lab.training.number_probe import agreement_items


def test_items_are_deterministic_and_balanced():
    items = agreement_items(200, seed=3)
    assert items == agreement_items(200, seed=3) != agreement_items(200, seed=4)
    assert 0.35 < sum(i["label"] for i in items) / len(items) < 0.65


def test_the_label_is_the_subject_number_and_the_verbs_agree_with_it():
    plural_of = dict(facts.ANIMATE_NOUNS + facts.INANIMATE_NOUNS)
    for item in agreement_items(100):
        form = plural_of[item["subject"]] if item["label"] else item["subject"]
        assert f" {form} " in item["text"] or f"the {form} " in item["text"], item
        pair = next(p for p in facts.AGREE_VERBS.values() if item["verb"].strip() in p)
        assert item["verb"].strip() == pair[item["label"]]
        assert item["other"].strip() == pair[1 - item["label"]]
        assert item["text"].count("<mask>") == 1 and " <mask>" in item["text"]


def test_frames_are_the_held_out_ones():
    frames = {f.split("{")[0].strip() for f, _, _ in templates.AGREE_EVAL}
    for item in agreement_items(20):
        assert any(item["text"].startswith(prefix) for prefix in frames), item["text"]
