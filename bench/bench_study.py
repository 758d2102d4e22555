"""Studies at scale on the bundled mini-mlm (all 32 single heads, masked-LM loss): a study
streamed to CSV against the same batches swept in memory, peak memory for 100 and 1,000 texts,
two local worker processes against one, bfloat16 against float32, and the gradient screen
against exact ablations.

    python bench/bench_study.py [--texts 1000] [--rounds 2] [--only study,memory,workers,bf16,screen]

Every measurement runs in a fresh process (so peak RSS growth is its own), one after another,
alternating study and in-memory runs in each round. The texts are the probe sentences of
data/probes with their answers filled in, cycled to the count asked. Results:
bench/results/study/study.json and .md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from common import BUNDLED_MINI, peak_memory  # noqa: E402


def write_texts(path: Path, n: int) -> Path:
    items = [json.loads(line) for line in open(ROOT / "data" / "probes" / "mlm_probes.jsonl")]
    texts = [it["text_template"].replace("{mask}", it["answer"]) for it in items]
    path.write_text("\n".join(texts[i % len(texts)] for i in range(n)) + "\n")
    return path


# --- measurements, each run in its own process ------------------------------------------------
def worker(kind: str, n: int, tmp: Path) -> dict:
    import roberta_lab as rl
    from roberta_lab.engine.ablation import sweep_heads
    from roberta_lab.engine.study import run_study
    from roberta_lab.engine.study_texts import iter_records, plan_batches

    tok = rl.AutoTokenizer.from_pretrained(BUNDLED_MINI)
    model = rl.TFRobertaForMaskedLM.from_pretrained(BUNDLED_MINI)
    src = write_texts(tmp / f"texts-{n}.txt", n)
    warm = write_texts(tmp / "warm.txt", 48)
    kw = dict(batch_texts=16, progress=False)
    dtype = "bfloat16" if kind.endswith("bf16") else None
    # Warm-up: trace the sweep's functions for the batch shapes (both sides alike).
    run_study(model, tok, warm, tmp / f"warm-{kind}.csv", dtype=dtype, **kw)
    out = tmp / f"{kind}-{n}.csv"
    if kind in ("study", "study_bf16"):
        with peak_memory() as mem:
            t = time.perf_counter()
            r = run_study(model, tok, src, out, dtype=dtype, **kw)
            seconds = time.perf_counter() - t
        extra = {"agreement": r.meta.get("agreement")} if dtype else {}
        return {"seconds": seconds, "texts": r.texts, "peak_mb": round(mem["peak_mb"], 1),
                "texts_per_s": r.texts / seconds, **extra}
    if kind == "inmemory":  # the same batches, planned up front, swept, results kept in memory
        batches = list(plan_batches(iter_records(src), tok, metric="masked-lm", batch_texts=16,
                                    pool=1024, max_length=model.config.max_sequence_length))
        with peak_memory() as mem:
            t = time.perf_counter()
            results = [sweep_heads(model, b.input_ids, b.attention_mask, b.metric,
                                   progress=False).per_text for b in batches]
            seconds = time.perf_counter() - t
        texts = sum(r.shape[1] for r in results)
        return {"seconds": seconds, "texts": texts, "peak_mb": round(mem["peak_mb"], 1),
                "texts_per_s": texts / seconds}
    if kind == "screen":  # screen on all texts, then exact on all 32 heads for the correlation
        from roberta_lab.engine.precision import spearman
        t = time.perf_counter()
        screened = run_study(model, tok, src, tmp / "screen.csv", screen_top_k=32,
                             screen_texts=n, **kw)
        both = time.perf_counter() - t
        t = time.perf_counter()
        exact = run_study(model, tok, src, tmp / "exact.csv", **kw)
        exact_s = time.perf_counter() - t
        s = screened.meta["screen"]
        imp, est = np.array(s["importance_all"]), np.array(s["estimate_all"])
        keys = [f"L{lyr}H{h}" for lyr in range(imp.shape[0]) for h in range(imp.shape[1])]
        abs_delta = [exact.summary[k]["abs_delta"] for k in keys]
        delta = [exact.summary[k]["delta"] for k in keys]
        top8_exact = set(np.argsort(-np.array(abs_delta))[:8])
        top8_screen = set(np.argsort(-imp.ravel())[:8])
        return {"texts": n, "exact_s": exact_s, "screen_s": both - exact_s,
                "spearman_importance_vs_abs_delta": spearman(imp.ravel(), abs_delta),
                "spearman_estimate_vs_delta": spearman(est.ravel(), delta),
                "top8_overlap": len(top8_exact & top8_screen)}
    raise ValueError(kind)


def run_worker(kind: str, n: int, tmp: Path) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, "--texts", str(n),
                           "--tmp", str(tmp)], capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return {"error": proc.stderr[-1500:]}
    return json.loads(lines[-1])


def two_workers(n: int, tmp: Path) -> dict:
    """The CLI on 1 process, then on 2 local workers (TF_CONFIG): wall time of each."""
    src = write_texts(tmp / f"w-{n}.txt", n)
    base = [sys.executable, "-m", "roberta_lab.cli", "study", "--texts", str(src),
            "--model", BUNDLED_MINI, "--no-progress"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    subprocess.run(base + ["--out", str(tmp / "w1.csv")], env=env, check=True, capture_output=True)
    one = time.perf_counter() - t
    socks = [socket.socket() for _ in range(2)]
    for s in socks:
        s.bind(("localhost", 0))
    hosts = [f"localhost:{s.getsockname()[1]}" for s in socks]
    for s in socks:
        s.close()
    t = time.perf_counter()
    procs = [subprocess.Popen(base + ["--out", str(tmp / "w2.csv")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=dict(env, TF_CONFIG=json.dumps(
                                  {"cluster": {"worker": hosts},
                                   "task": {"type": "worker", "index": i}})))
             for i in range(2)]
    errs = [p.communicate()[1] for p in procs]
    two = time.perf_counter() - t
    if any(p.returncode for p in procs):
        return {"error": b"".join(errs).decode()[-1500:]}
    m1 = json.loads((tmp / "w1.csv.json").read_text())
    m2 = json.loads((tmp / "w2.csv.json").read_text())
    return {"texts": n, "one_process_wall_s": one, "two_workers_wall_s": two,
            "speedup_wall": one / two, "one_process_study_s": m1["seconds_this_run"],
            "two_workers_study_s": m2["seconds_this_run"],
            "speedup_study": m1["seconds_this_run"] / m2["seconds_this_run"],
            "identical_files": (tmp / "w1.csv").read_bytes() == (tmp / "w2.csv").read_bytes()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--small", type=int, default=160, help="texts for workers/bf16/screen")
    parser.add_argument("--only", default="study,memory,workers,bf16,screen")
    parser.add_argument("--worker", default=None)
    parser.add_argument("--tmp", default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "study"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.texts, Path(args.tmp))), flush=True)
        return 0
    only = args.only.split(",")
    hw = subprocess.run([sys.executable, str(HERE / "hardware.py")], capture_output=True,
                        text=True).stdout.strip().splitlines()[-1]
    results: dict = {"meta": {"date": str(datetime.datetime.now()), "hardware": json.loads(hw),
                              "args": vars(args), "load_avg_start": os.getloadavg()}}
    tmp = Path(tempfile.mkdtemp(prefix="bench_study_"))
    try:
        def fresh() -> Path:
            d = Path(tempfile.mkdtemp(dir=tmp))
            return d
        if "study" in only:
            for kind in ("study", "inmemory"):
                results[kind] = []
            for r in range(args.rounds):
                for kind in ("study", "inmemory"):
                    results[kind].append(run_worker(kind, args.texts, fresh()))
                    print(kind, results[kind][-1], flush=True)
        if "memory" in only:
            results["memory"] = {100: run_worker("study", 100, fresh())}
            if "study" in results:  # the study runs above measured args.texts already
                results["memory"][args.texts] = results["study"][0]
            else:
                results["memory"][args.texts] = run_worker("study", args.texts, fresh())
            print("memory", results["memory"], flush=True)
        if "workers" in only:
            results["workers"] = two_workers(args.small, fresh())
            print("workers", results["workers"], flush=True)
        if "bf16" in only:
            results["bf16"] = {k: run_worker(k, args.small, fresh()) for k in ("study", "study_bf16")}
            print("bf16", results["bf16"], flush=True)
        if "screen" in only:
            results["screen"] = run_worker("screen", args.small, fresh())
            print("screen", results["screen"], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["load_avg_end"] = os.getloadavg()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (out / "study.md").write_text(report(results))
    print(report(results))
    return 0


def _stat(runs: list[dict], key: str) -> str:
    values = [r[key] for r in runs if key in r]
    if not values:
        return "n/a"
    return f"{np.median(values):.3g} ({min(values):.3g}–{max(values):.3g}, {len(values)} runs)"


def report(res: dict) -> str:
    hw = res["meta"]["hardware"]
    lines = ["# Studies at scale: bundled mini-mlm, all 32 single heads, masked-LM loss", "",
             f"{res['meta']['date'][:16]} on {hw.get('cpu')} ({hw.get('cores')} cores; ISA "
             f"{hw.get('isa')}); TensorFlow {hw.get('tensorflow')}; load average "
             f"{res['meta']['load_avg_start'][0]:.1f} at start, {res['meta']['load_avg_end'][0]:.1f} "
             "at end (the machine is shared: times are medians (min–max)).", ""]
    if "study" in res:
        s, m = res["study"], res["inmemory"]
        lines += ["| run | texts/s | seconds | peak RSS growth MB |", "|---|---|---|---|",
                  f"| study (streamed, CSV, fsync per batch) | {_stat(s, 'texts_per_s')} | "
                  f"{_stat(s, 'seconds')} | {_stat(s, 'peak_mb')} |",
                  f"| in-memory sweep of the same batches | {_stat(m, 'texts_per_s')} | "
                  f"{_stat(m, 'seconds')} | {_stat(m, 'peak_mb')} |"]
        ts = [r["texts_per_s"] for r in s if "texts_per_s" in r]
        tm = [r["texts_per_s"] for r in m if "texts_per_s" in r]
        if ts and tm:
            lines += ["", f"Study throughput / in-memory: {np.median(ts) / np.median(tm):.3f} "
                      "(target ≥ 0.9)."]
    if "memory" in res:
        lines += ["", "Peak RSS growth of a study (after a warm-up run): " + ", ".join(
            f"{n} texts: {r.get('peak_mb')} MB" for n, r in res["memory"].items()) + "."]
    if "workers" in res:
        w = res["workers"]
        lines += ["", f"Two local workers (TF_CONFIG) vs one process, {w.get('texts')} texts: "
                  f"study loop {w.get('one_process_study_s', 0):.1f} s vs "
                  f"{w.get('two_workers_study_s', 0):.1f} s (speed-up "
                  f"{w.get('speedup_study', 0):.2f}); whole commands {w.get('one_process_wall_s', 0):.1f} s "
                  f"vs {w.get('two_workers_wall_s', 0):.1f} s ({w.get('speedup_wall', 0):.2f}); "
                  f"identical files: {w.get('identical_files')}. Not a target on 2 shared cores."]
    if "bf16" in res:
        f, b = res["bf16"]["study"], res["bf16"]["study_bf16"]
        a = b.get("agreement") or {}
        lines += ["", f"bfloat16 vs float32 study, {f.get('texts')} texts: {b.get('seconds', 0):.1f} s vs "
                  f"{f.get('seconds', 0):.1f} s; on batch 0: max |metric diff| "
                  f"{a.get('max_abs_metric_diff', float('nan')):.3g}, max |delta diff| "
                  f"{a.get('max_abs_delta_diff', float('nan')):.3g}, Spearman of mean deltas "
                  f"{a.get('spearman_mean_delta', float('nan')):.4f}."]
    if "screen" in res:
        s = res["screen"]
        lines += ["", f"Screen (Michel gradient, one forward + backward per batch) vs exact, all "
                  f"32 heads, {s.get('texts')} texts: Spearman(E|grad|, mean |delta|) = "
                  f"{s.get('spearman_importance_vs_abs_delta', float('nan')):.3f}, "
                  f"Spearman(-E[grad], mean delta) = {s.get('spearman_estimate_vs_delta', float('nan')):.3f}, "
                  f"top-8 overlap {s.get('top8_overlap')}/8; screen {s.get('screen_s', 0):.1f} s, "
                  f"exact {s.get('exact_s', 0):.1f} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
