"""A probing data set: is the subject singular or plural, read at the masked verb?

Each item renders one of the corpus's held-out agreement frames (``templates.AGREE_EVAL``,
never in the training text) with the verb replaced by ``<mask>``: "It seems that the keys on
the table <mask> old." The label is the subject's number (1 = plural), which the verb must
agree with; the attractor ("the table") has a random number, so the nearest noun is no clue.
``subject`` is the subject noun's lemma ("key"): the word type a control task (Hewitt & Liang
2019) gives its random label to. ``verb`` is the agreeing verb and ``other`` the same verb in
the other number (" are", " is"), so the model's own choice can be read at the mask.

    >>> items = agreement_items(4, seed=0)
    >>> [sorted(item) for item in items][0]
    ['label', 'other', 'subject', 'text', 'verb']
    >>> all(item["text"].count("<mask>") == 1 for item in items)
    True
    >>> sorted({item["label"] for item in agreement_items(40)})
    [0, 1]
"""
from __future__ import annotations

import random

from . import facts, templates

MASK = "<mask>"


def agreement_items(n: int, seed: int = 0) -> list[dict]:
    """``n`` items ``{"text", "label", "subject"}``, deterministic in ``seed``; the frames
    cycle, and subject and attractor numbers are drawn independently (half plural on average)."""
    rng = random.Random(f"number-probe:{seed}")  # str seeds hash with sha512: stable
    out = []
    for i in range(n):
        frame, kinds, _ = templates.AGREE_EVAL[i % len(templates.AGREE_EVAL)]
        plural = rng.random() < 0.5
        fields = templates.agreement_fields(rng, rng.choice(kinds.split()), plural,
                                            rng.random() < 0.5)
        text, verb = templates.masked(frame, fields, "V", fields["V"])
        lemma = next(s for s, p in facts.ANIMATE_NOUNS + facts.INANIMATE_NOUNS
                     if fields["S"] in (s, p))
        other = next(pair[1 - plural] for pair in facts.AGREE_VERBS.values()
                     if fields["V"] in pair)
        out.append({"text": text.format(mask=MASK), "label": int(plural), "subject": lemma,
                    "verb": verb, "other": " " + other})
    return out
