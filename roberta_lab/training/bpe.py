"""Train the project's byte-level BPE tokenizer in RoBERTa's format.

Same layout as ``roberta-base``: byte-level pre-tokenizer without a prefix
space, special tokens ``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3,
``<mask>``=4 (``<mask>`` is lstrip, so "a <mask>" masks " word" including its
space), and the ``<s> A </s></s> B </s>`` post-processor. Writes
``tokenizer.json`` plus ``vocab.json``/``merges.txt`` and the two HF config
files so ``transformers.AutoTokenizer.from_pretrained(out_dir)`` loads it as a
``RobertaTokenizerFast``.

The corpus repeats facts hundreds of times, so BPE merges whole capitals,
countries, category members and sequence words into single tokens without
any added tokens; ``answer_report`` checks how far that worked.

CLI: ``python -m roberta_lab.training.bpe --corpus data/corpus --out data/tokenizer``
"""
import argparse
import json
import os
import time

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from . import facts

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _mask_token():
    return AddedToken("<mask>", lstrip=True, rstrip=False, single_word=False, normalized=False, special=True)


def _mask_dict():
    return {"content": "<mask>", "lstrip": True, "rstrip": False, "single_word": False, "normalized": False}


def train_tokenizer(files, out_dir, vocab_size=8192, model_max_length=128, min_frequency=2):
    """Train and save the tokenizer; return the ``tokenizers.Tokenizer``.

    ``model_max_length`` should be the model's ``max_position_embeddings - 2``
    (RoBERTa position ids start after the padding index, 1).
    """
    tok = Tokenizer(models.BPE())  # byte-level: every byte is in the vocab, no unk needed
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = SPECIAL_TOKENS[:4] + [_mask_token()]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([str(f) for f in files], trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    for i, t in enumerate(SPECIAL_TOKENS):  # the id order is part of the format
        if tok.token_to_id(t) != i:
            raise RuntimeError(f"{t} got id {tok.token_to_id(t)}, expected {i}")

    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    tok.model.save(out_dir)  # vocab.json + merges.txt (slow RobertaTokenizer files)
    special_map = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                   "pad_token": "<pad>", "cls_token": "<s>", "mask_token": _mask_dict()}
    config = dict(special_map, tokenizer_class="RobertaTokenizer", model_max_length=model_max_length,
                  add_prefix_space=False, trim_offsets=True, errors="replace", clean_up_tokenization_spaces=False)
    for name, obj in (("special_tokens_map.json", special_map), ("tokenizer_config.json", config)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2)
            fh.write("\n")
    return tok


def answer_words():
    """Answer strings (with RoBERTa's leading space) we want as single tokens."""
    words = []
    for name, art, capital, _ in facts.COUNTRIES:
        words += [" " + capital, " " + name]
    for cat, (kind, pl, members) in facts.CATEGORIES.items():
        words += [" " + kind] + [" " + m for m in members.split()]
    for seq in facts.SEQUENCES.values():
        words += [" " + w for w in seq[0]]
    words += [" " + v for pair in facts.AGREE_VERBS.values() for v in pair]
    return list(dict.fromkeys(words))


def answer_report(tok, probe_answers=()):
    """How many answer words / probe answers need more than one token."""
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids  # noqa: E731
    words = answer_words()
    multi = [w for w in words if len(enc(w)) > 1]
    multi_oneword = [w for w in multi if " " not in w.strip() and "-" not in w and "'" not in w]
    rep = {"vocab_size": tok.get_vocab_size(), "answer_words": len(words), "answer_words_multi_token": len(multi),
           "single_word_answers_multi_token": multi_oneword}
    if probe_answers:
        pm = [a for a in probe_answers if len(enc(a)) > 1]
        rep.update(probe_answers=len(probe_answers), probe_answers_multi_token=len(pm),
                   probe_answers_multi_token_distinct=sorted(set(pm)))
    return rep


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the byte-level BPE tokenizer.")
    ap.add_argument("--corpus", default="data/corpus")
    ap.add_argument("--out", default="data/tokenizer")
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--model-max-length", type=int, default=128, help="max_position_embeddings - 2")
    ap.add_argument("--probes", default="data/probes/mlm_probes.jsonl", help="for the report, if present")
    args = ap.parse_args(argv)
    t0 = time.time()
    tok = train_tokenizer([os.path.join(args.corpus, "train.txt")], args.out, args.vocab_size,
                          args.model_max_length)
    secs = time.time() - t0
    answers = []
    if os.path.exists(args.probes):
        with open(args.probes, encoding="utf-8") as fh:
            answers = [json.loads(line)["answer"] for line in fh if line.strip()]
    rep = answer_report(tok, answers)
    rep["train_seconds"] = round(secs, 1)
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
