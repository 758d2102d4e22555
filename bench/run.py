"""One command for the whole benchmark: peers' environment, alternating runs, the table.

    python bench/run.py --shape base --rounds 3            # the committed table (slow)
    python bench/run.py --shape mini --rounds 1 --systems ours --quick   # CI smoke run
    git worktree add /work/bench-base cb82d99                # a baseline checkout, then:
    python bench/run.py --shape base --systems ours,ours@base --baseline /work/bench-base \
        --only forward,run_with_cache,sweep,generate --measures forward,run_with_cache_all,...

Each round runs every system once, one after another, each in its own process (roberta_lab in
this environment; HF 4.37 TF and PyTorch in the peers' environment made by setup_peers.sh),
so slow drifts of the machine hit all of them alike. The machine's matmul peak and memory
bandwidth are measured in the same run. Results: bench/results/<shape>.json and .md.

``ours@base`` is roberta_lab imported from the ``--baseline`` checkout, timed by this tree's
worker (same timing code), so a change is measured against the code before it in one run; the
report then adds a table of ours / ours@base per measurement with both spreads.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import BATCH, SEQ, SHAPES  # noqa: E402

QUICK = "import,bundled,forward,fill_mask,sweep,run_with_cache"
BASE_SYSTEM = "roberta_lab@base"


def forward_gflop(shape: str, batch: int = BATCH, seq: int = SEQ) -> float:
    """Multiply-adds x 2 of the masked-LM forward pass (embedding gathers and norms ignored)."""
    c = SHAPES[shape]
    h, i, L, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    per_token = L * (2 * 4 * h * h + 2 * 2 * h * i + 2 * 2 * seq * h) + 2 * h * h + 2 * h * v
    return batch * seq * per_token / 1e9


def weight_bytes(shape: str) -> float:
    c = SHAPES[shape]
    h, i, L, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    return 4 * (L * (4 * h * h + 2 * h * i) + v * h + h * h)


def ensure_peers(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run(["bash", str(HERE / "setup_peers.sh"), str(venv)], check=True)
    return python


def run_worker(cmd: list[str]) -> list[dict]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0:
        rows.append({"system": cmd[-1], "measure": "error", "stderr": proc.stderr[-2000:]})
    return rows


def summarise(rows: list[dict]) -> dict:
    groups: dict = defaultdict(list)
    for r in rows:
        groups[(r["system"], r["measure"])].append(r)
    out = {}
    for key, rs in groups.items():
        times = [r["median_s"] for r in rs if isinstance(r.get("median_s"), (int, float))]
        entry = {k: v for k, v in rs[-1].items() if k not in ("median_s", "min_s", "max_s")}
        if times:
            entry.update(median_s=float(np.median(times)), spread_s=[min(times), max(times)],
                         rounds=len(times))
        out[f"{key[0]}|{key[1]}"] = entry
    return out


def ratio(table: dict, a: str, b: str) -> float | None:
    x, y = table.get(a, {}).get("median_s"), table.get(b, {}).get("median_s")
    return None if not x or not y else x / y


def report(shape: str, table: dict, hw: dict, args: argparse.Namespace,
           rounds_done: int | None = None) -> str:
    done = args.rounds if rounds_done is None else rounds_done
    lines = [f"# Benchmark, {shape} shape", "",
             f"{datetime.date.today()} on {hw.get('cpu')} ({hw.get('cores')} cores; "
             f"{hw.get('isa', 'ISA not recorded')}), "
             f"TensorFlow {hw.get('tensorflow')}; {done} of {args.rounds} rounds, systems "
             "alternating.",
             f"Matmul peak {hw.get('matmul_gflops')} GFLOP/s, memory read {hw.get('read_gb_s')} GB/s.",
             "", "| system | measure | median s | spread s | peak MB | extra |", "|---|---|---|---|---|---|"]
    for key, e in sorted(table.items()):
        system, measure = key.split("|")
        spread = e.get("spread_s")
        extra = {k: v for k, v in e.items() if k not in ("system", "measure", "shape", "median_s",
                                                          "spread_s", "rounds", "runs", "peak_mb",
                                                          "first_call_s")}
        lines.append(f"| {system} | {measure} | {e.get('median_s', '-') if e.get('median_s') is None else round(e['median_s'], 4)} | "
                     f"{'-' if not spread else f'{spread[0]:.4f}–{spread[1]:.4f}'} | "
                     f"{e.get('peak_mb', '-')} | {json.dumps(extra) if extra else ''} |")
    gflop = forward_gflop(shape)
    lines += ["", "## Ratios and hardware bounds", "", "| what | value | target |", "|---|---|---|"]
    checks = [
        ("forward: ours / HF-TF compiled", ratio(table, "roberta_lab|forward", "hf-4.37-tf|forward_tffunction"), "≤ 1.0"),
        ("forward bfloat16 (ours) / HF-TF compiled float32", ratio(table, "roberta_lab|forward_bfloat16", "hf-4.37-tf|forward_tffunction"), "≤ 0.6"),
        ("forward: ours / HF-PyTorch", ratio(table, "roberta_lab|forward", "hf-4.37-pytorch|forward"), "≤ 0.6"),
        ("fill-mask: positions only / full logits (ours)", ratio(table, "roberta_lab|fill_mask_positions_only", "roberta_lab|fill_mask_full_logits"), "≤ 0.75"),
        ("run_with_cache (all patterns, residuals) / forward", ratio(table, "roberta_lab|run_with_cache_all", "roberta_lab|forward_tffunction"), "≤ 1.15"),
        ("all single heads: HF-PyTorch loop / ours batched", ratio(table, "hf-4.37-pytorch|sweep_all_heads_loop", "roberta_lab|sweep_all_heads"), "≥ 3"),
        ("all single heads: HF-PyTorch loop / ours batched bfloat16", ratio(table, "hf-4.37-pytorch|sweep_all_heads_loop", "roberta_lab|sweep_all_heads_bfloat16"), "≥ 5"),
        ("all single heads: ours loop / ours batched", ratio(table, "roberta_lab|sweep_all_heads_loop", "roberta_lab|sweep_all_heads"), "≥ 3 (base)"),
        ("generate 64 cached, per token: ours / HF-TF", ratio(table, "roberta_lab|generate_64_cached_compiled", "hf-4.37-tf|generate_64_cached"), "≤ 0.15"),
        ("generate 64 cached, per token: ours / HF-PyTorch", ratio(table, "roberta_lab|generate_64_cached_compiled", "hf-4.37-pytorch|generate_64_cached"), "≤ 1.0"),
        ("generate 256: no cache / cached (ours)", ratio(table, "roberta_lab|generate_256_nocache", "roberta_lab|generate_256_cached_compiled"), "≥ 3"),
    ]
    checks.append(("bundled mini-mlm, all 32 single heads: ours loop / ours batched",
                   ratio(table, "roberta_lab|bundled_sweep_all_heads_loop", "roberta_lab|bundled_sweep_all_heads"), "≥ 10"))
    checks.append(("bundled mini-mlm, all 32 single heads: ours loop / ours batched, compile='xla'",
                   ratio(table, "roberta_lab|bundled_sweep_all_heads_loop", "roberta_lab|bundled_sweep_all_heads_xla"), "≥ 10"))
    agree = table.get("roberta_lab|bundled_mini_bfloat16_probe_agreement", {}).get("agreement")
    if agree is not None:
        checks.append(("bfloat16 top-1 agreement with float32, probe <mask>s (mini-mlm)", agree, "≥ 0.99"))
    one = table.get("roberta_lab|bundled_mini_one_sentence", {}).get("median_s")
    if one:
        checks.append(("bundled mini-mlm, one sentence (ms)", 1000 * one, "≤ 20"))
    checks.append(("bundled mini-mlm one sentence: ours / HF-TF eager",
                   ratio(table, "roberta_lab|bundled_mini_one_sentence", "hf-4.37-tf|bundled_mini_one_sentence"), ""))
    checks.append(("bundled mini-mlm one sentence: ours / HF-PyTorch",
                   ratio(table, "roberta_lab|bundled_mini_one_sentence", "hf-4.37-pytorch|bundled_mini_one_sentence"), ""))
    fwd = table.get("roberta_lab|forward", {}).get("median_s")
    if fwd and hw.get("matmul_gflops"):
        checks.append(("forward: share of matmul peak", gflop / fwd / hw["matmul_gflops"], "≥ 0.9"))
    gen = table.get("roberta_lab|generate_64_cached_compiled", {}).get("median_s")
    if gen and hw.get("read_gb_s"):
        bound = weight_bytes(shape) / (hw["read_gb_s"] * 1e9)
        checks.append(("generate per token / weight-read bound", gen / 64 / bound, "≤ 2"))
    imp = table.get("roberta_lab|import", {})
    if "extra_s" in imp:
        checks.append(("import roberta_lab − import tensorflow (s)", imp["extra_s"], "≤ 0.5"))
    for name, value, target in checks:
        lines.append(f"| {name} | {'n/a' if value is None else round(value, 3)} | {target} |")
    lines += against_baseline(table)
    return "\n".join(lines) + "\n"


def against_baseline(table: dict) -> list[str]:
    """ours / ours@base for every measurement both have (medians over rounds; spreads)."""
    pairs = sorted(key.split("|")[1] for key in table
                   if key.startswith("roberta_lab|") and f"{BASE_SYSTEM}|{key.split('|')[1]}" in table)
    if not pairs:
        return []
    lines = ["", "## Against the baseline (ours@base: the --baseline checkout)", "",
             "| measure | ours median s (spread) | ours@base median s (spread) | ours / base |",
             "|---|---|---|---|"]
    for measure in pairs:
        a, b = table[f"roberta_lab|{measure}"], table[f"{BASE_SYSTEM}|{measure}"]
        if not a.get("median_s") or not b.get("median_s"):
            continue
        fmt = lambda e: f"{e['median_s']:.4f} ({e['spread_s'][0]:.4f}–{e['spread_s'][1]:.4f})"  # noqa: E731
        lines.append(f"| {measure} | {fmt(a)} | {fmt(b)} | {a['median_s'] / b['median_s']:.3f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="mini", choices=sorted(SHAPES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement")
    parser.add_argument("--systems", default="ours,hf-tf,hf-pt")
    parser.add_argument("--only", default="", help="comma list of measurement groups")
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK}")
    parser.add_argument("--peers-venv", default=str(HERE.parent / ".venv-peers"))
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--baseline", default="", help="checkout timed as system ours@base")
    parser.add_argument("--measures", default="",
                        help="comma list: keep only these measurements (roberta_lab workers)")
    parser.add_argument("--sweep-repeats", type=int, default=2,
                        help="timed all-heads sweeps per round (roberta_lab workers)")
    args = parser.parse_args()
    only = QUICK if args.quick else args.only
    systems = args.systems.split(",")
    peers = ensure_peers(Path(args.peers_venv)) if {"hf-tf", "hf-pt"} & set(systems) else None
    commands = {
        "ours": [sys.executable, str(HERE / "worker_ours.py")],
        "hf-tf": [str(peers), str(HERE / "worker_hf.py"), "--framework", "tf"],
        "hf-pt": [str(peers), str(HERE / "worker_hf.py"), "--framework", "pt"],
        "ours@base": [sys.executable, str(HERE / "worker_ours.py"), "--package-root",
                      args.baseline, "--system", BASE_SYSTEM],
    }
    if "ours@base" in systems and not args.baseline:
        parser.error("system ours@base needs --baseline DIR (a checkout of the baseline commit)")
    hw = run_worker([sys.executable, str(HERE / "hardware.py")])[0]
    rows: list[dict] = []
    for round_ in range(args.rounds):
        # Round order alternates (ours, base, ours, ...; then base, ours, ... next round), so
        # neither system always runs first on a machine whose load drifts.
        order = systems if round_ % 2 == 0 else systems[::-1]
        for system in order:
            cmd = commands[system] + ["--shape", args.shape, "--repeats", str(args.repeats)]
            if only:
                cmd += ["--only", only]
            if system.startswith("ours"):
                cmd += ["--sweep-repeats", str(args.sweep_repeats)]
                if args.measures:
                    cmd += ["--measures", args.measures]
            got = run_worker(cmd)
            print(f"round {round_ + 1}/{args.rounds} {system}: {len(got)} measurements", flush=True)
            rows += got
        write(args, rows, hw, rounds_done=round_ + 1)  # a stopped run keeps its finished rounds
    return write(args, rows, hw, rounds_done=args.rounds, final=True)


def write(args: argparse.Namespace, rows: list[dict], hw: dict, rounds_done: int,
          final: bool = False) -> int:
    errors = [r for r in rows if r["measure"] == "error"]
    table = summarise([r for r in rows if r["measure"] != "error"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": str(datetime.datetime.now()), "platform": platform.platform(),
            "hardware": hw, "args": vars(args), "errors": errors, "rounds_done": rounds_done}
    (out / f"{args.shape}.json").write_text(json.dumps({"meta": meta, "table": table}, indent=1) + "\n")
    (out / f"{args.shape}.md").write_text(report(args.shape, table, hw, args, rounds_done))
    if not final:
        return 0
    print((out / f"{args.shape}.md").read_text())
    for e in errors:
        print("worker failed:", e["stderr"], file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
