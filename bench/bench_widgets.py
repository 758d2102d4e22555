"""Widget latency: every interaction of every widget, as a click or a keystroke would run it.

    python bench/bench_widgets.py [--shapes bundled,base] [--repeats 5]

Each widget is built headless (ipywidgets without a front end: setting a control's ``value``
runs its observers synchronously, exactly the code a notebook runs), then each interaction is
timed from the change to the end of the update, figures rendered included. Every timed run does
real work (values alternate, texts differ), after one untimed warm-up of the same interaction.
Shapes: the bundled models (mini-mlm, mini-causal, mini-seq2seq), and the roberta-base shape
with random weights (the bundled tokenizer; its ids fit base's vocabulary). Targets: median
<= 100 ms on the bundled models, <= 2 s on the base shape.
Results: bench/results/widgets/widgets.json and .md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from common import SHAPES  # noqa: E402

TARGET_S = {"bundled": 0.1, "base": 2.0}
TEXTS = ["The capital of France is <mask>.", "A robin is a kind of <mask>.",
         "The cat sat on the <mask>.", "Monday comes before <mask>.",
         "Water is made of hydrogen and <mask>.", "The opposite of hot is <mask>.",
         "My favourite colour is <mask>."]
SOURCES = ["a b c d e", "b c d e f", "c d e f g", "d e f g h", "e f g h i", "f g h i j",
           "g h i j k"]


def timed(action, values: list, repeats: int) -> dict:
    """One warm-up call, then ``repeats`` timed calls cycling through ``values``."""
    action(values[0])
    times, cpu = [], []
    for i in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        action(values[(i + 1) % len(values)])
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    # CPU seconds of this process (all its threads): on a machine shared with other jobs the
    # wall time includes waiting for a core; CPU time is what the interaction itself costs.
    return {"median_s": float(np.median(times)), "min_s": float(min(times)),
            "max_s": float(max(times)), "runs": len(times), "cpu_median_s": float(np.median(cpu))}


def setter(widget):
    def set_value(v):
        widget.value = v
    return set_value


def models_for(shape: str):
    import keras

    import roberta_lab as rl
    from roberta_lab.views.widgets import load_seq2seq

    data = ROOT / "data"
    tok = rl.AutoTokenizer.from_pretrained(str(data / "mini-mlm"))
    enc, dec, s2s_tok = load_seq2seq(str(data / "mini-seq2seq"))
    if shape == "bundled":
        return {"mlm": rl.TFRobertaForMaskedLM.from_pretrained(str(data / "mini-mlm")),
                "causal": rl.TFRobertaForCausalLM.from_pretrained(str(data / "mini-causal")),
                "encoder": enc, "decoder": dec, "tok": tok, "s2s_tok": s2s_tok}
    keras.utils.set_random_seed(0)
    base = SHAPES["base"]
    return {"mlm": rl.TFRobertaForMaskedLM(rl.RobertaConfig(**base)),
            "causal": rl.TFRobertaForCausalLM(rl.RobertaConfig(**base, is_decoder=True)),
            "encoder": rl.TFRobertaModel(rl.RobertaConfig(**base)),
            "decoder": rl.TFRobertaForCausalLM(rl.RobertaConfig(
                **base, is_decoder=True, add_cross_attention=True)),
            "tok": tok, "s2s_tok": s2s_tok}


def measure_shape(shape: str, repeats: int) -> list[dict]:
    from roberta_lab.views.widgets import (AttentionExplorerWidget, CacheStepsWidget,
                                           CrossAttentionWidget, HeadAblationWidget,
                                           MaskPredictionWidget)

    m = models_for(shape)
    rows = []

    def record(widget: str, interaction: str, result: dict, w) -> None:
        msg = getattr(w, "message_text", "")
        rows.append({"shape": shape, "widget": widget, "interaction": interaction, **result,
                     "target_s": TARGET_S[shape], "message": msg})
        print(json.dumps(rows[-1]), flush=True)

    t = time.perf_counter()
    w = MaskPredictionWidget({"mlm": (m["mlm"], m["tok"])})
    build = time.perf_counter() - t
    record("mask_prediction", "type a sentence", timed(setter(w.text), TEXTS, repeats), w)
    rows[-1]["build_s"] = build

    w = HeadAblationWidget(m["mlm"], m["tok"])
    toggle = w.buttons[0][0]
    record("head_ablation", "toggle a head", timed(setter(toggle), [True, False], repeats), w)
    w.reset_button.click()
    record("head_ablation", "ablate a layer / reset",
           timed(lambda v: (w.layer_button if v else w.reset_button).click(), [1, 0], repeats), w)
    record("head_ablation", "k least / most important",
           timed(lambda v: (w.least_button if v else w.most_button).click(), [1, 0], repeats), w)
    record("head_ablation", "single-head sweep button",
           timed(lambda v: w.sweep_button.click(), [0], max(2, repeats // 2)), w)
    # A widget's text is fixed, so a second click gives the same numbers and keeps its picture;
    # the first click on each new widget (built untimed, the compiled sweep already warm) is
    # the sweep and its full drawing.
    fresh = [HeadAblationWidget(m["mlm"], m["tok"]) for _ in range(repeats + 1)]
    record("head_ablation", "single-head sweep, first click (drawn)",
           timed(lambda v: fresh[v].sweep_button.click(), list(range(len(fresh))), repeats),
           fresh[-1])

    w = AttentionExplorerWidget(m["mlm"], m["tok"], text=TEXTS[0].replace("<mask>", "Paris"))
    n_layers, n_heads = m["mlm"].config.num_hidden_layers, m["mlm"].config.num_attention_heads
    record("attention", "switch layer", timed(setter(w.layer_select), [1, 0], repeats), w)
    record("attention", "switch head", timed(setter(w.head_select), [1, 0], repeats), w)
    record("attention", "move token window", timed(setter(w.window), [(0, 4), (1, 6)], repeats), w)
    record("attention", "type a sentence",
           timed(setter(w.text), [t.replace("<mask>", "it") for t in TEXTS], repeats), w)

    w = CacheStepsWidget(m["causal"], m["tok"], prompt="Once upon a time", max_new_tokens=8)
    # Steps the slider really has (generation may stop at </s> before max_new_tokens); values
    # outside its range would be clipped to the same step and time nothing.
    steps = [v for v in (3, 5, 7, 1, 2, 0) if v <= w.step.max] or [0]
    record("cache_steps", "move step slider", timed(setter(w.step), steps, repeats), w)
    rows[-1]["steps"] = w.step.max + 1
    record("cache_steps", "switch layer", timed(setter(w.layer_select), [1, 0], repeats), w)
    record("cache_steps", "switch head", timed(setter(w.head_select), [1, "all"], repeats), w)
    record("cache_steps", "move key window",
           timed(setter(w.window), [(0, 4), (1, 6)], repeats), w)

    w = CrossAttentionWidget(m["encoder"], m["decoder"], m["s2s_tok"], source=SOURCES[0],
                             max_new_tokens=8 if shape == "base" else 32)
    record("cross_attention", "switch layer", timed(setter(w.layer_select), [1, 0], repeats), w)
    record("cross_attention", "switch head", timed(setter(w.head_select), [1, "mean"], repeats), w)
    record("cross_attention", "type a source", timed(setter(w.source), SOURCES, repeats), w)
    del n_layers, n_heads
    return rows


def report(res: dict) -> str:
    hw = res["meta"]["hardware"]
    lines = ["# Widget latency: every interaction, median of warm runs", "",
             f"{res['meta']['date'][:16]} on {hw['cpu']} ({hw['cores']} cores; ISA {hw['isa']}); "
             f"load average {res['meta']['load_avg_start'][0]:.1f} at start, "
             f"{res['meta']['load_avg_end'][0]:.1f} at end (a shared machine). Times in ms: "
             "median (min–max) of the timed runs after one warm-up.", "",
             "| shape | widget | interaction | median ms | spread ms | CPU ms (median) | "
             "target ms | met (wall) |", "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        ok = "yes" if r["median_s"] <= r["target_s"] else "**no**"
        lines.append(f"| {r['shape']} | {r['widget']} | {r['interaction']} | "
                     f"{1e3 * r['median_s']:.0f} | {1e3 * r['min_s']:.0f}–{1e3 * r['max_s']:.0f} | "
                     f"{1e3 * r['cpu_median_s']:.0f} | {1e3 * r['target_s']:.0f} | {ok} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="bundled,base")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "widgets"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import tensorflow as tf

    from hardware import cpu_model, vector_isa
    meta = {"date": str(datetime.datetime.now()), "args": vars(args),
            "hardware": {"cpu": cpu_model(), "cores": os.cpu_count(), "isa": vector_isa(),
                         "tensorflow": tf.__version__},
            "load_avg_start": os.getloadavg()}
    rows = []
    for shape in args.shapes.split(","):
        rows += measure_shape(shape, args.repeats)
    meta["load_avg_end"] = os.getloadavg()
    res = {"meta": meta, "rows": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "widgets.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "widgets.md").write_text(report(res))
    print(report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
