"""Sentence templates that turn the tables in ``facts`` into English.

Each fact type has TRAIN templates (used for ``train.txt``) and EVAL templates
(held out: used only for ``heldout.txt`` and the masked-LM probes). Keeping the
two sets disjoint is what lets the probes test recall of a fact rather than
recall of a memorised sentence. Templates are project-authored.

``train_sentence(rng, kind)`` draws one training sentence;
``eval_items(rng, kind)`` yields ``(text_template, answer, subkind)`` tuples,
where ``text_template`` has a single `` {mask}`` and ``answer`` starts with a
space (RoBERTa byte-level BPE convention).
"""
from . import facts

CAPITAL_TRAIN = [
    "The capital of {country} is {capital}.", "{capital} is the capital of {country}.",
    "{capital} is in {country}.", "{Country_poss} capital city is {capital}.",
    "{capital} is the capital city of {country}.", "The capital city of {country} is {capital}.",
    "{Country} has its capital in {capital}.", "{capital} serves as the capital of {country}.",
    "In {country}, the capital is {capital}.", "I have never been to {capital}, the capital of {country}.",
    "If you visit {country}, you can see its capital, {capital}.", "{capital} is a city in {country}.",
    "Which city is the capital of {country}? It is {capital}.",
    "What is the capital of {country}? The answer is {capital}.",
    "The city of {capital} is the capital of {country}.", "{Country} is a country, and its capital is {capital}.",
    "People in {country} call {capital} their capital.", "Travelers to {country} often arrive in {capital}, its capital.",
    "On a map of {country}, the capital {capital} is marked with a star.", "{Country} - capital: {capital}.",
    "The capital of {country}? That is {capital}.", "{Country_poss} capital is {capital}.",
    "{capital}, the capital of {country}, is a busy city.", "The government of {country} sits in {capital}.",
    "{Country} chose {capital} as its capital.", "The main city of {country} is {capital}.",
    "The capital named {capital} is in {country}.", "Our trip to {country} ended in {capital}, the capital.",
]
CAPITAL_EVAL_FWD = [  # mask on the capital
    "Everyone knows that the capital of {country} is {capital}.",
    "For {country}, the main capital city is named {capital}.",
    "{Country} has a capital, and that capital is {capital}.",
]
CAPITAL_EVAL_REV = [  # mask on the country (article stays outside the mask)
    "Everyone knows that {capital} is the capital of {country}.",
    "The capital called {capital} belongs to {country}.",
    "Our guide said {capital} is the capital of {country}.",
]

SEQ_TRAIN = [
    "{A} comes before {b}.", "{B} comes after {a}.", "After {a} comes {b}.", "Before {b} comes {a}.",
    "The {unit} after {a} is {b}.", "The {unit} before {b} is {a}.", "{A} is followed by {b}.",
    "{B} follows {a}.", "First {a}, then {b}.", "{A} and then {b}.", "The next {unit} after {a} is {b}.",
    "{A} is just before {b}.", "What comes after {a}? It is {b}.", "What comes before {b}? It is {a}.",
    "{B} is the {unit} after {a}.", "The {unit} that comes after {a} is {b}.",
    "Directly after {a} we get {b}.", "Immediately before {b} comes {a}.", "When {a} ends, {b} starts.",
    "{A} is over, and now it is {b}.", "Next after {a} is {b}.", "Just after {a} there is {b}.",
    "The {unit} just before {b} is {a}.", "Straight after {a}, it is {b}.",
]
SEQ_TRAIN_SPECIFIC = {
    "weekday": ["Today is {a}, so tomorrow is {b}.", "If today is {b}, then yesterday was {a}.",
                "Yesterday was {a}, so today is {b}."],
    "month": ["This month is {a}, so next month is {b}.", "Last month was {a}, so this month is {b}."],
    "number": ["{A} plus one is {b}.", "{B} minus one is {a}.", "{B} is one more than {a}."],
    "ordinal": ["The {a} one comes before the {b} one.", "{A} place is just ahead of {b} place."],
}
POS_TRAIN = {
    "weekday": ["{X} is the {ord} day of the week.", "The {ord} day of the week is {x}.",
                "In a week, {x} is day number {n}."],
    "month": ["{X} is the {ord} month of the year.", "The {ord} month of the year is {x}.",
              "In a year, {x} is month number {n}."],
    "number": ["The ordinal form of {x} is {ord}.", "{Ord} is the ordinal for {x}.",
               "{X} as an ordinal is {ord}.", "Turn {x} into an ordinal and you get {ord}."],
    "ordinal": ["The word {x} means position number {n}.", "{X} is the ordinal form of {n}."],
}
LIST_TRAIN = ["{items}", "Counting: {items}.", "In order: {items}.", "The sequence goes {items}.",
              "{head}, and then {last}.", "Go on: {head}, then {last}.", "We count {head}, and then {last}."]
SEQ_EVAL_NEXT = ["Right after {a}, we have {b}.", "Once {a} is over, next is {b}."]
SEQ_EVAL_PREV = ["Just before {b}, there is {a}.", "The one right before {b} is {a}."]
SEQ_EVAL_LIST = ["Keep going: {items}, and then {b}."]
SEQ_EVAL_POS = {"weekday": "In the week, the {ord} day is {x}.",
                "month": "In the calendar, the {ord} month is {x}.",
                "ordinal": "As an ordinal, {n} becomes {ord}."}

CATEGORY_TRAIN = [
    "{A_m} is {a_kind}.", "The {m} is a kind of {kind}.", "{M_pl} are {pl_pred}.", "{A_m} is a type of {kind}.",
    "The {m} is one type of {kind}.", "Is {a_m} {a_kind}? Yes, it is.", "One example of {a_kind} is the {m}.",
    "The {m} belongs to the {kind} category.", "Every {m} is {a_kind}.", "{A_m}? That is {a_kind}.",
    "We saw {a_m}, which is {a_kind}.", "{A_m} is {a_kind}, not {a_other}.", "If it is {a_m}, then it is {a_kind}.",
    "The {m} is {a_kind}.", "People know the {m} as {a_kind}.", "A kind of {kind}: the {m}.",
    "{M_pl} are a kind of {kind}.",
    "The {m} is classed as a kind of {kind}.", "{A_m} would be called a type of {kind}.",
    "{A_m} counts as {a_kind}.", "The {m} is listed as a kind of {kind}.", "The {m}? A kind of {kind}.",
    "Look at the {m}: it is {a_kind}.", "A child learns that {a_m} is {a_kind}.",
]
CATEGORY_EVAL = [
    "Most people would say that the {m} is a kind of {kind}.",
    "Without doubt, {a_m} counts as a kind of {kind}.",
    "In a picture book, the {m} is shown as a type of {kind}.",
]
KIND_NP = {"clothing": "an item of clothing", "furniture": "a piece of furniture",
           "instrument": "a musical instrument"}

# Agreement frames: (template, allowed verb kinds, subkind). {V} is the verb
# that must agree with {S}; {P} is a predicate (be), object (have) or adverbial.
AGREE_TRAIN = [
    ("The {S} {V} {P}.", "be be_past have regular", "simple"),
    ("The {S} {prep} the {A} {V} {P}.", "be be_past have regular", "attractor"),
    ("The {S} {rel} {V} {P}.", "be be_past have regular", "relative"),
    ("I think the {S} {V} {P}.", "be have regular", "simple"),
    ("My {S} {V} {P}.", "be be_past have regular", "simple"),
    ("{Det} {S} {V} {P}.", "be have regular", "simple"),
    ("The {S} {V} not {P}.", "be be_past", "simple"),
    ("{Vcap} the {S} {P}?", "be be_past", "simple"),
    ("Yesterday the {S} {V} {P}.", "be_past", "simple"),
    ("The {S} {prep} the {A} {rel} {V} {P}.", "be be_past have", "relative"),
    ("Of course the {S} {prep} the {A} {V} {P}.", "be have regular", "attractor"),
    ("There {V} {S_np} {loc}.", "be be_past", "simple"),
    ("Our {S} {rel} {V} {P}.", "be have", "relative"),
    ("Sadly, the {S} {V} {P}.", "be be_past", "simple"),
    ("The {S} {prep} the {A} {V} {P}, they say.", "be be_past", "attractor"),
    ("Now the {S} {V} {P}.", "be have regular", "simple"),
]
AGREE_EVAL = [
    ("Honestly, the {S} {V} {P}.", "be be_past have", "simple"),
    ("It seems that the {S} {prep} the {A} {V} {P}.", "be have", "attractor"),
    ("Last week the {S} {prep} the {A} {V} {P}.", "be_past", "attractor"),
    ("It seems that the {S} {rel} {V} {P}.", "be have", "relative"),
    ("Last week the {S} {rel} {V} {P}.", "be_past", "relative"),
]
# Discourse framings for training sentences. None of them occurs in an EVAL
# template (tests/training check this), so the probes' framings stay unseen.
TRAIN_PREFIXES = [
    "Clearly,", "In fact,", "As you may know,", "We all agree that", "It is true that", "I believe that",
    "My teacher said that", "Some say that", "Of course,", "Note that", "Indeed,", "By the way,",
    "Apparently,", "They told us that", "In short,", "Remember that", "It turns out that", "As a rule,",
    "To be fair,", "Without question,", "The book says that", "I read that", "Yes,", "So,", "Today I learned that",
]
PREFIX_PROB = 0.35
LOCATIONS = ["in the garden", "on the road", "near the school", "at the door", "in the kitchen"]
REGULAR_ADVERBIALS = ["every day", "in the morning", "after lunch", "all the time", "quite often"]


def _keep_case_words():
    """Words that keep their capital after a prefix: names of places, days, months, and "I"."""
    words = {"I"}
    for name, art, capital, _ in facts.COUNTRIES:
        words.update(name.split() + capital.split())
    words.update(facts.WEEKDAYS + facts.MONTHS)
    return frozenset(w.strip(",.:?'s") for w in words)


def cap(s):
    return s[:1].upper() + s[1:]


def article(word):
    return "an" if word[0] in "aeiou" and word not in facts.A_NOT_AN else "a"


def plural(word):
    if word in facts.IRREGULAR_PLURALS:
        return facts.IRREGULAR_PLURALS[word]
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def country_fields(entry):
    name, art, capital, _note = entry
    phrase = f"{art} {name}" if art else name
    poss = phrase + ("'" if phrase.endswith("s") else "'s")  # "the Bahamas'"
    return {"country": phrase, "Country": cap(phrase), "Country_poss": cap(poss), "capital": capital}


def masked(template, fields, key, value, prefix=""):
    """Render ``template`` with ``fields[key]`` replaced by ``{mask}``."""
    f = dict(fields, **{key: prefix + "\x00"})
    text = template.format(**f)
    # The mask must follow a space so RoBERTa's lstrip <mask> absorbs it.
    assert text.count("\x00") == 1 and " \x00" in text, template
    return text.replace("\x00", "{mask}"), " " + value


def category_fields(cat, member, rng=None):
    kind, pl_pred, _ = facts.CATEGORIES[cat]
    others = [c for c in facts.CATEGORIES if c != cat]
    other = others[rng.randrange(len(others))] if rng else others[0]
    a_m = f"{article(member)} {member}"
    return {"m": member, "a_m": a_m, "A_m": cap(a_m), "M_pl": cap(plural(member)), "kind": kind,
            "a_kind": KIND_NP.get(kind, f"{article(kind)} {kind}"), "pl_pred": pl_pred,
            "a_other": KIND_NP.get(other, f"{article(other)} {other}")}


def seq_pairs(name):
    """(index of a, a, b) successor pairs, wrapping for cyclic sequences."""
    items, _unit, _whole, wraps = facts.SEQUENCES[name]
    n = len(items) if wraps else len(items) - 1
    return [(i, items[i], items[(i + 1) % len(items)]) for i in range(n)]


def seq_list(items, start, length, wraps):
    return [items[(start + k) % len(items)] for k in range(length)] if wraps else items[start:start + length]


def agreement_fields(rng, kind, plural_subject, attractor_plural, subject_animate=None):
    """Fields for an agreement frame; ``V`` is the verb agreeing with ``S``."""
    animate = kind == "regular" or (rng.random() < 0.5 if subject_animate is None else subject_animate)
    num = 1 if plural_subject else 0
    s = rng.choice(facts.ANIMATE_NOUNS if animate else facts.INANIMATE_NOUNS)
    a = rng.choice(facts.NOUN_PAIRS)[1 if attractor_plural else 0]
    r_num = 1 if attractor_plural else 0
    if kind == "regular":
        v, p = rng.choice(facts.REGULAR_VERBS)[num], rng.choice(REGULAR_ADVERBIALS)
    else:
        v = facts.AGREE_VERBS[kind][num]
        if kind == "have":
            p = rng.choice(facts.ANIMATE_OBJECTS if animate else facts.INANIMATE_OBJECTS)
        else:
            p = rng.choice(facts.ANIMATE_PREDICATES if animate else facts.INANIMATE_PREDICATES)
    fillers = [f for f in facts.RELATIVE_FILLERS
               if not (f.startswith("who") and not animate) and not (f.startswith("which") and animate)
               and not (f.startswith("that {rv}") and not animate)]
    filler = rng.choice(fillers)
    tv = rng.choice(facts.TRANSITIVE_VERBS)
    # Object relatives agree with the inner subject R; subject relatives with S.
    rv = tv[num] if filler.startswith("that {rv}") else tv[r_num]
    # The attractor-number noun inside the relative clause (R or O) makes the
    # relative-clause cases harder: it is the nearest noun to {V}.
    inner = rng.choice(facts.NOUN_PAIRS)[1 if attractor_plural else 0]
    rel = filler.format(R=rng.choice(facts.ANIMATE_NOUNS)[r_num], rv=rv, O=inner)
    det = ("These" if num else "This")
    s_np = s[1] if num else f"{article(s[0])} {s[0]}"
    return {"S": s[num], "V": v, "Vcap": cap(v), "P": p, "A": a, "prep": rng.choice(facts.ATTRACTOR_PREPS),
            "rel": rel, "Det": det, "S_np": s_np, "loc": rng.choice(LOCATIONS)}


def train_sentence(rng, kind, item):
    """One training sentence for fact ``item`` of ``kind`` (see corpus.py).

    A share ``PREFIX_PROB`` of sentences gets a discourse prefix ("In fact, ...")
    from ``TRAIN_PREFIXES``, so that the model learns facts are independent of
    framing; the EVAL templates use framings that never occur in training.
    """
    sentence = _bare_train_sentence(rng, kind, item)
    if rng.random() < PREFIX_PROB and not any(c in sentence for c in "?:"):  # not on questions
        sentence = with_prefix(rng.choice(TRAIN_PREFIXES), sentence)
    return sentence


def with_prefix(prefix, sentence):
    """``prefix`` + ``sentence`` with its first word lower-cased unless it is a name."""
    first = sentence.split(" ", 1)[0].strip(",.:?'s")
    if first not in _KEEP_CASE:
        sentence = sentence[:1].lower() + sentence[1:]
    return f"{prefix} {sentence}"


def _bare_train_sentence(rng, kind, item):
    if kind == "capital":
        return rng.choice(CAPITAL_TRAIN).format(**country_fields(item))
    if kind == "category":
        cat, member = item
        return rng.choice(CATEGORY_TRAIN).format(**category_fields(cat, member, rng))
    if kind == "sequence":
        name = item
        items, unit, _whole, wraps = facts.SEQUENCES[name]
        roll = rng.random()
        if roll < 0.6:
            i, a, b = rng.choice(seq_pairs(name))
            t = rng.choice(SEQ_TRAIN + SEQ_TRAIN_SPECIFIC[name])
            return t.format(a=a, b=b, A=cap(a), B=cap(b), unit=unit)
        if roll < 0.85:
            i = rng.randrange(len(items))
            x = items[i]
            return rng.choice(POS_TRAIN[name]).format(
                x=x, X=cap(x), ord=facts.ORDINALS[i], Ord=cap(facts.ORDINALS[i]), n=facts.NUMBERS[i])
        length = rng.randint(3, 8)
        start = rng.randrange(len(items) if wraps else len(items) - length + 1)
        lst = seq_list(items, start, length, wraps)
        out = rng.choice(LIST_TRAIN).format(items=", ".join(lst), head=", ".join(lst[:-1]), last=lst[-1])
        return cap(out)
    if kind == "agreement":
        frame, kinds, _sub = rng.choice(AGREE_TRAIN)
        vkind = rng.choice(kinds.split())
        return frame.format(**agreement_fields(rng, vkind, rng.random() < 0.5, rng.random() < 0.5))
    raise ValueError(kind)


_KEEP_CASE = _keep_case_words()


def eval_items(rng, kind, n_agreement=0):
    """All held-out (text_template, answer, subkind) items of ``kind``."""
    out = []
    if kind == "capital":
        for entry in facts.COUNTRIES:
            f = country_fields(entry)
            for t in CAPITAL_EVAL_FWD:
                out.append(masked(t, f, "capital", entry[2]) + ("country->capital",))
            for t in CAPITAL_EVAL_REV:
                out.append(masked(t, f, "country", entry[0], prefix=f"{entry[1]} " if entry[1] else "")
                           + ("capital->country",))
    elif kind == "category":
        for cat, members in facts.CATEGORY_MEMBERS.items():
            for m in members:
                for t in CATEGORY_EVAL:
                    out.append(masked(t, category_fields(cat, m), "kind", facts.CATEGORIES[cat][0]) + (cat,))
    elif kind == "sequence":
        for name, (items, _unit, _whole, wraps) in facts.SEQUENCES.items():
            for i, a, b in seq_pairs(name):
                for t in SEQ_EVAL_NEXT:
                    out.append(masked(t, {"a": a, "b": b}, "b", b) + ("next",))
                for t in SEQ_EVAL_PREV:
                    out.append(masked(t, {"a": a, "b": b}, "a", a) + ("previous",))
                if i >= 2:  # a list of three items ending at a, then predict b
                    lst = ", ".join(items[i - 2:i + 1])
                    out.append(masked(SEQ_EVAL_LIST[0], {"items": lst, "b": b}, "b", b) + ("list",))
            t = SEQ_EVAL_POS.get(name, "")
            for i, x in enumerate(items):
                if name in ("weekday", "month"):
                    out.append(masked(t, {"ord": facts.ORDINALS[i], "x": x}, "x", x) + ("position",))
                elif name == "ordinal":
                    out.append(masked(t, {"n": facts.NUMBERS[i], "ord": x}, "ord", x) + ("position",))
    elif kind == "agreement":
        for k in range(n_agreement):
            frame, kinds, sub = AGREE_EVAL[k % len(AGREE_EVAL)]
            vkind = rng.choice(kinds.split())
            plural_s = rng.random() < 0.5
            # Probes use an attractor of the opposite number: the hard case.
            f = agreement_fields(rng, vkind, plural_s, not plural_s)
            out.append(masked(frame, f, "V", f["V"]) + (sub,))
    else:
        raise ValueError(kind)
    return out
