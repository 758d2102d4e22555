"""Studies (engine/study.py): streamed, length-batched, resumable, bounded in memory; the
numbers are the sweep's. Tiny random models with the bundled tokenizer."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from roberta_lab import AutoTokenizer, RobertaConfig, TFRobertaForMaskedLM
from roberta_lab.engine import study_store
from roberta_lab.engine.ablation import Metric, sweep
from roberta_lab.engine.importance import head_mask_gradients
from roberta_lab.engine.precision import native_bfloat16, spearman
from roberta_lab.engine.study import parse_conditions, run_study
from roberta_lab.engine.study_texts import iter_records, plan_batches

TOKENIZER = Path(__file__).resolve().parents[2] / "data" / "tokenizer"
WORDS = ("the cat sat on a mat while the dog ran after a red ball in the park near "
         "an old house by the river and birds sang").split()


def make_texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 14)))).capitalize() + "."
            for _ in range(n)]


@pytest.fixture(scope="module")
def setup():
    if not (TOKENIZER / "vocab.json").is_file():
        pytest.skip("the bundled tokenizer data/tokenizer is missing")
    tok = AutoTokenizer.from_pretrained(str(TOKENIZER))
    keras.utils.set_random_seed(0)
    cfg = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=37, max_position_embeddings=66,
                        type_vocab_size=1, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return TFRobertaForMaskedLM(cfg), tok


def write(path: Path, texts: list[str]) -> Path:
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path


def test_interrupted_then_resumed_equals_uninterrupted(setup, tmp_path):
    model, tok = setup
    src = write(tmp_path / "texts.txt", make_texts(23))
    kw = dict(batch_texts=3, pool=8, progress=False)
    model.set_compute_dtype(None)  # drops every compiled function: a fresh process's state
    whole = run_study(model, tok, src, tmp_path / "whole.csv", **kw)
    assert whole.batches == 9 and whole.computed_batches == 9  # windows 8+8+7 -> 3+3+3 batches

    def stop_after_four(index):
        if index == 3:
            raise KeyboardInterrupt("injected")
    with pytest.raises(KeyboardInterrupt):
        run_study(model, tok, src, tmp_path / "cut.csv", on_batch=stop_after_four, **kw)
    # As if the process died in the middle of writing batch 4's rows.
    with open(tmp_path / "cut.csv", "ab") as f:
        f.write(b"4,17,clean,3.1")
    with pytest.raises(FileExistsError):
        run_study(model, tok, src, tmp_path / "cut.csv", **kw)
    model.set_compute_dtype(None)  # the resumed run starts, as a new process would, untraced
    done = run_study(model, tok, src, tmp_path / "cut.csv", resume=True, **kw)
    assert done.computed_batches == 5
    assert (tmp_path / "cut.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert done.summary == whole.summary
    again = run_study(model, tok, src, tmp_path / "cut.csv", resume=True, **kw)
    assert again.computed_batches == 0
    with pytest.raises(ValueError, match="other settings.*method"):
        run_study(model, tok, src, tmp_path / "cut.csv", resume=True, method="mean", **kw)


def test_rows_are_the_sweep_of_each_text_alone(setup, tmp_path):
    """Length grouping and padding do not change a text's numbers: each equals a sweep of that
    text on its own (no padding), within float32 rounding."""
    model, tok = setup
    texts = make_texts(7, seed=3)
    src = write(tmp_path / "t.txt", texts)
    conditions = ["L0H1", "L1H0+L1H3", [(0, 2), (1, 2)]]
    result = run_study(model, tok, src, tmp_path / "s.csv", conditions=conditions,
                       batch_texts=4, progress=False)
    rows = {(r["text_id"], r["condition"]): r["metric"]
            for r in study_store.read_rows(tmp_path / "s.csv")}
    assert len(rows) == 7 * 4
    labels, conds = parse_conditions(conditions, 2, 4)
    assert labels == ["L0H1", "L1H0+L1H3", "L0H2+L1H2"]
    for batch in plan_batches(iter_records(src), tok, metric="masked-lm", batch_texts=1, pool=8,
                              max_length=64):
        n = int(batch.attention_mask.sum())
        alone = sweep(model, batch.input_ids[:, :n], None, batch.metric, conds, progress=False)
        text_id = batch.text_ids[0]
        assert rows[(text_id, "clean")] == pytest.approx(alone.baseline, abs=2e-5)
        for label, value in zip(labels, alone.metric):
            assert rows[(text_id, label)] == pytest.approx(float(value), abs=2e-5)
    assert result.summary["L0H1"]["texts"] == 7


def test_sources_metrics_and_mean_ablation(setup, tmp_path):
    model, tok = setup
    texts = make_texts(6, seed=5)
    src = write(tmp_path / "t.txt", texts)
    a = run_study(model, tok, src, tmp_path / "a.csv", conditions="layers", method="mean",
                  batch_texts=4, progress=False)
    ds = tf.data.Dataset.from_tensor_slices({"text": texts,
                                             "id": [str(i) for i in range(1, 7)]})
    b = run_study(model, tok, ds, tmp_path / "b.csv", conditions="layers", method="mean",
                  batch_texts=4, progress=False)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert set(a.summary) == {"clean", "L0", "L1"} and a.summary == b.summary
    # JSONL: target minus distractor logit at each text's <mask>.
    records = [{"text": "The cat sat on the <mask>.", "target": " mat", "distractor": " dog"},
               {"text": "A <mask> ran after the ball.", "target": " dog", "distractor": " cat",
                "id": "dog"}]
    jl = tmp_path / "t.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in records))
    r = run_study(model, tok, jl, tmp_path / "j.csv", metric="logit_diff",
                  conditions=["L0H0"], progress=False)
    rows = list(study_store.read_rows(tmp_path / "j.csv"))
    assert {row["text_id"] for row in rows} == {"1", "dog"}
    ids = tok([records[0]["text"]], return_tensors="np")["input_ids"]
    pos = int(np.flatnonzero(ids[0] == tok.mask_token_id)[0])
    logits = model(ids).logits.numpy()[0, pos]
    t, d = (tok(w, add_special_tokens=False)["input_ids"][0] for w in (" mat", " dog"))
    clean = next(row["metric"] for row in rows
                 if row["text_id"] == "1" and row["condition"] == "clean")
    assert clean == pytest.approx(float(logits[t] - logits[d]), abs=1e-4)
    assert r.summary["L0H0"]["texts"] == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no mask here", "target": " mat"}\n')
    with pytest.raises(ValueError, match="text 1 needs exactly one <mask>"):
        run_study(model, tok, bad, tmp_path / "x.csv", metric="logprob", progress=False)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.csv.json").exists()
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt holds no text"):
        run_study(model, tok, tmp_path / "empty.txt", tmp_path / "e.csv")
    with pytest.raises(ValueError, match="texts: .* is not a file"):
        run_study(model, tok, tmp_path / "missing.txt", tmp_path / "y.csv")
    with pytest.raises(ValueError, match="not like 'L0H1"):
        run_study(model, tok, src, tmp_path / "z.csv", conditions=["L0X1"])


def test_memory_does_not_grow_with_texts(setup, tmp_path):
    """Python-heap peak (tracemalloc: numpy arrays included) of a 400-text study is that of a
    40-text one: only a window of texts and one batch are ever held."""
    model, tok = setup
    kw = dict(conditions=["L0H0", "L1H1"], batch_texts=8, pool=16, progress=False)
    run_study(model, tok, write(tmp_path / "w.txt", make_texts(16)), tmp_path / "w.csv", **kw)
    peaks = {}
    for n in (40, 400):
        src = write(tmp_path / f"{n}.txt", make_texts(n, seed=n))
        tracemalloc.start()
        run_study(model, tok, src, tmp_path / f"{n}.csv", **kw)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # 400 texts hold ~3,600 result rows; kept in memory they alone would add ~1 MB.
    assert peaks[400] < peaks[40] + 256 * 1024, peaks


def test_bfloat16_reports_agreement(setup, tmp_path):
    model, tok = setup
    src = write(tmp_path / "t.txt", make_texts(11, seed=4))
    if not native_bfloat16():
        with pytest.raises(ValueError, match="no native bfloat16"):
            run_study(model, tok, src, tmp_path / "b.csv", dtype="bfloat16")
        return
    kw = dict(batch_texts=3, pool=8, progress=False)
    run_study(model, tok, src, tmp_path / "f.csv", **kw)
    b16 = run_study(model, tok, src, tmp_path / "b.csv", dtype="bfloat16", **kw)
    agree = b16.meta["agreement"]
    assert agree["dtype"] == "bfloat16" and agree["texts"] == 3
    # The agreement is batch 0's: the same texts in the float32 and bfloat16 files.
    rows = [{(r["text_id"], r["condition"]): r["metric"]
             for r in study_store.read_rows(tmp_path / name) if r["batch"] == 0}
            for name in ("f.csv", "b.csv")]
    assert rows[0].keys() == rows[1].keys()
    worst = max(abs(rows[0][k] - rows[1][k]) for k in rows[0])
    assert worst == pytest.approx(agree["max_abs_metric_diff"], abs=1e-5)
    # bfloat16 keeps 8 bits of mantissa: differences of about 1e-2 on a loss near 6.
    assert 0 < agree["max_abs_metric_diff"] < 0.2
    assert model.roberta.blocks[0].attn.output_dense.matmul_dtype is None  # back to float32


def test_screen_then_exact_top_k(setup, tmp_path):
    model, tok = setup
    src = write(tmp_path / "t.txt", make_texts(10, seed=7))
    result = run_study(model, tok, src, tmp_path / "s.csv", screen_top_k=5, screen_texts=6,
                       batch_texts=4, progress=False)
    screen = result.meta["screen"]
    assert len(screen["heads"]) == 5 and set(result.summary) - {"clean"} == \
        {f"L{lyr}H{h}" for lyr, h in screen["heads"]}
    # The screen is |d metric / d head mask| averaged over the first 6 texts, per head.
    total = np.zeros((2, 4))
    for b in plan_batches((r for r, _ in zip(iter_records(src), range(6))), tok,
                          metric="masked-lm", batch_texts=4, pool=1024, max_length=64):
        total += np.abs(head_mask_gradients(model, b.input_ids, b.attention_mask, b.metric)).sum(0)
    np.testing.assert_allclose(screen["importance_all"], total / 6, rtol=1e-5, atol=1e-7)
    assert screen["abs_grad"] == sorted(screen["abs_grad"], reverse=True)
    exact = [result.summary[f"L{lyr}H{h}"]["abs_delta"] for lyr, h in screen["heads"]]
    assert screen["spearman_abs"] == pytest.approx(spearman(screen["abs_grad"], exact))
    with pytest.raises(ValueError, match="screen_top_k"):
        run_study(model, tok, src, tmp_path / "x.csv", screen_top_k=3, method="mean")


def test_spearman_against_definition():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=30), rng.normal(size=30)
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    assert spearman(a, b) == pytest.approx(np.corrcoef(ra, rb)[0, 1])
    assert spearman([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


@pytest.fixture(scope="module")
def model_dir(setup, tmp_path_factory):
    model, _ = setup
    folder = tmp_path_factory.mktemp("study_model")
    model.save_pretrained(folder)
    for f in TOKENIZER.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    return str(folder)


def test_cli_study_and_resume(model_dir, tmp_path, capsys):
    from roberta_lab.cli import main

    src = write(tmp_path / "t.txt", make_texts(9))
    args = ["study", "--texts", str(src), "--model", model_dir, "--batch-texts", "4",
            "--conditions", "L0H0,L1H2+L1H3", "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "a.csv")]) == 0
    assert "9 texts x 2 conditions in 3 batches (3 computed now)" in capsys.readouterr().out
    assert main(args + ["--out", str(tmp_path / "a.csv")]) == 2
    assert "exists; pass --resume" in capsys.readouterr().err
    assert main(args + ["--out", str(tmp_path / "a.csv"), "--resume"]) == 0
    assert "(0 computed now)" in capsys.readouterr().out
    rows = list(study_store.read_rows(tmp_path / "a.csv"))
    assert len(rows) == 9 * 3 and {r["condition"] for r in rows} == {"clean", "L0H0", "L1H2+L1H3"}


@pytest.mark.parametrize("argv, message", [
    (["--texts", "{tmp}/missing.txt"], "--texts: .*missing.txt is not a file"),
    (["--out", "{tmp}/no/dir/x.csv"], "the folder of --out does not exist"),
    (["--conditions", "L9H0"], "outside 2 x 4"),
    (["--conditions", "head"], "not like 'L0H1"),
    (["--batch-texts", "0"], "--batch-texts must be a positive integer"),
    (["--method", "mean", "--screen-top-k", "2"], "screen_top_k needs"),
])
def test_cli_study_errors_are_one_line(model_dir, tmp_path, capsys, argv, message):
    import re

    from roberta_lab.cli import main

    src = write(tmp_path / "t.txt", make_texts(3))
    base = {"--texts": str(src), "--out": str(tmp_path / "o.csv"), "--model": model_dir}
    for flag, value in zip(argv[::2], argv[1::2]):
        base[flag] = value.format(tmp=tmp_path)
    args = ["study", "--no-progress"] + [x for kv in base.items() for x in kv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("roberta-lab: error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "o.csv").exists()


def test_sweep_in_bfloat16_with_compute_dtype(setup):
    from roberta_lab.engine.ablation import sweep_heads
    from roberta_lab.engine.precision import agreement, compute_dtype

    model, tok = setup
    ids = np.asarray(tok(make_texts(3, seed=9), padding=True, return_tensors="np")["input_ids"])
    mask = (ids != tok.pad_token_id).astype(np.int32)
    metric = Metric("logprob", np.array([[1], [2], [1]]), ids[:, [2, 3, 2]][:, :1])
    f32 = sweep_heads(model, ids, mask, metric, progress=False)
    if not native_bfloat16():
        with pytest.raises(ValueError, match="dtype='bfloat16'"):
            with compute_dtype(model, "bfloat16"):
                pass
        return
    with compute_dtype(model, "bfloat16"):
        b16 = sweep_heads(model, ids, mask, metric, progress=False)
    again = sweep_heads(model, ids, mask, metric, progress=False)
    np.testing.assert_array_equal(again.per_text, f32.per_text)  # float32 again afterwards
    a = agreement(f32.per_text, b16.per_text, f32.extra["baseline_per_text"],
                  b16.extra["baseline_per_text"])
    assert 0 < a["max_abs_metric_diff"] < 0.1 and a["texts"] == 3
    with pytest.raises(ValueError, match="dtype must be"):
        with compute_dtype(model, "int8"):
            pass


def test_next_token_metric_on_a_causal_model(setup, tmp_path):
    from roberta_lab import TFRobertaForCausalLM

    _, tok = setup
    keras.utils.set_random_seed(3)
    model = TFRobertaForCausalLM(RobertaConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=66, type_vocab_size=1, is_decoder=True))
    texts = make_texts(5, seed=11)
    result = run_study(model, tok, write(tmp_path / "t.txt", texts), tmp_path / "c.csv",
                       metric="next-token", conditions=["L1H2"], batch_texts=2, progress=False)
    rows = {(r["text_id"], r["condition"]): r["metric"]
            for r in study_store.read_rows(tmp_path / "c.csv")}
    for line, text in enumerate(texts, start=1):
        ids = np.asarray(tok([text], return_tensors="np")["input_ids"], np.int32)
        logp = tf.nn.log_softmax(model(ids).logits[0]).numpy()
        loss = -np.mean([logp[i, ids[0, i + 1]] for i in range(ids.shape[1] - 1)])
        assert rows[(str(line), "clean")] == pytest.approx(loss, abs=1e-4)
    assert result.summary["L1H2"]["texts"] == 5
