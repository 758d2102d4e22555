"""Evidence for issue 15: which trust tests fail on the old main and pass now, by kind of misuse.

    python scripts/trust_evidence.py                       # old = cb82d99, new = HEAD
    python scripts/trust_evidence.py --timeout 120 --out bench/results/trust-evidence

Each side is a ``git archive`` of ``roberta_lab/`` and ``data/`` at its commit, with TODAY's
``tests/`` and ``pyproject.toml`` copied beside it, so the same tests run against the old and the
new package (pytest runs in that folder: the package comes from there, not from the checkout).
Every test has a time limit (``--timeout``, SIGALRM; a test that runs past it on the old main
counts as a hang). Each test file is its own pytest process (a crash loses one file, not all).

An old-side failure is classified from its exception:

* ``missing API``: the test needs an import path, a keyword or an attribute the old package did
  not have (``ModuleNotFoundError``/``ImportError`` of roberta_lab, ``unexpected keyword
  argument``, ``has no attribute``). These do NOT count as evidence: they fail for the wrong
  reason.
* the right reasons: ``hang`` (ran past the limit), ``wrong result`` (an assertion on a value,
  a file or a folder failed), ``no error`` (an expected error was not raised), ``unclear error``
  (an error was raised, but its message did not name what the test requires), ``traceback``
  (another exception escaped).

The kind of each test (the issue's list: silent wrong, hang, traceback, lost data, outside the
folder, unclear errors) is the table ``KINDS`` below, by test function (a few parameters of a
function are another kind: ``BY_PARAMETER``). Results: ``<out>/evidence.json`` (every test, both
sides) and ``<out>/README.md`` (the table).

The module is also the pytest plugin that sets the time limit (``-p trust_evidence``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_MAIN = "cb82d99"
TEST_FILES = ["tests/model/test_trust_saves.py", "tests/model/test_trust_files.py",
              "tests/model/test_trust_inputs.py", "tests/model/test_trust_properties.py",
              "tests/model/test_trust_hooks.py", "tests/cli/test_trust_cli.py"]
SILENT, HANG, TRACEBACK, LOST, OUTSIDE, UNCLEAR = (
    "silent wrong", "hang", "traceback", "lost data", "outside the folder", "unclear errors")
KIND_ORDER = [SILENT, HANG, TRACEBACK, LOST, OUTSIDE, UNCLEAR]

KINDS = {
    # test_trust_inputs.py
    **dict.fromkeys([
        "test_wide_int_inputs_are_not_wrapped_eagerly", "test_wide_int_ids_under_tf_function_raise",
        "test_wide_int_ids_under_xla_poison_only_their_row", "test_wide_int_labels_under_xla_give_nan_loss",
        "test_soft_mask_refused_in_tf_function", "test_soft_mask_under_xla_poisons_its_row",
        "test_wide_int_mask_is_not_binary", "test_property_int_inputs_exact_or_named_error",
        "test_sweep_ids_and_masks_checked_before_cast", "test_metric_fields_checked",
        "test_metric_positions_and_targets_checked_against_inputs", "test_sweep_means_checked",
        "test_masked_lm_metric_labels_checked", "test_generation_ids_and_mask_checked_before_cast",
        "test_tiny_temperature_is_greedy_not_nan", "test_all_ignored_labels_zero_loss_and_gradient",
        "test_fit_on_all_ignored_batch_keeps_weights_finite",
        "test_lens_positions_and_targets_never_wrap", "test_fill_mask_top_k_bool_refused",
        "test_metric_position_on_padding_refused"], SILENT),
    "test_sweep_arguments_named": HANG,
    "test_sweep_conditions_named": LOST,
    "test_widget_top_k_named": HANG,
    **dict.fromkeys([
        "test_generation_arguments_named", "test_mask_random_tokens_checks",
        "test_patching_arguments_named", "test_widget_controller_arguments_named",
        "test_importance_batch_size_named"], UNCLEAR),
    # test_trust_properties.py
    **dict.fromkeys([
        "test_every_int_input_exact_or_named", "test_int_inputs_refuse_floats_and_bools",
        "test_attention_mask_binary_or_named", "test_int64_ids_in_tf_function_exact_or_refused"],
        SILENT),
    **dict.fromkeys(["test_corrupted_files_name_the_file",
                     "test_config_field_values_accepted_or_named"], UNCLEAR),
    # test_trust_hooks.py
    **dict.fromkeys([
        "test_hooks_in_one_thread_do_not_change_another", "test_concurrent_run_with_cache_do_not_mix",
        "test_sweep_concurrent_with_hooked_calls", "test_generation_concurrent_with_hooks",
        "test_engine_traces_do_not_keep_hooks_attached_while_tracing",
        "test_compiled_runs_not_reused_for_a_new_function_with_a_dead_ones_id",
        "test_concurrent_compiled_calls_equal_serial_calls", "test_concurrent_generation_equals_serial",
        "test_wrong_hook_shape_caught_after_retrace",
        "test_wrong_hook_shape_in_own_tf_function_with_unknown_shapes"], SILENT),
    **dict.fromkeys(["test_wrong_hook_dtype_names_the_hook",
                     "test_hook_returning_non_tensor_names_the_hook",
                     "test_fwd_hooks_as_dict_and_bad_entries"], UNCLEAR),
    # test_trust_files.py
    "test_bad_config_field_named_with_its_file": UNCLEAR,
    "test_config_field_set_later_checked": SILENT,
    "test_unreadable_config_names_the_file": UNCLEAR,
    "test_config_checkpoint_mismatch_fails_before_building": HANG,
    "test_absurd_sizes_refused_before_allocating": HANG,
    **dict.fromkeys(["test_shard_names_cannot_leave_the_folder",
                     "test_bundled_names_cannot_leave_the_data_folder",
                     "test_symlink_out_of_the_model_folder_refused"], OUTSIDE),
    **dict.fromkeys([
        "test_bad_index_names_the_file", "test_corrupted_safetensors_names_the_file",
        "test_half_precision_safetensors_load_converted", "test_offline_hub_id_says_offline",
        "test_bad_tokenizer_files_name_the_file",
        "test_pickle_that_is_not_a_state_dict_names_the_file", "test_bad_shard_size_named"],
        UNCLEAR),
    "test_resharding_removes_stale_weights": SILENT,
    **dict.fromkeys([
        "test_save_onto_a_file_refused", "test_save_into_a_foreign_folder_refused",
        "test_save_keeps_permissions_and_other_files",
        "test_failed_save_leaves_the_folder_as_it_was", "test_read_only_folder_fails_cleanly",
        "test_config_save_is_atomic_and_refuses_a_folder"], LOST),
    # test_trust_cli.py: the command line's kind is "traceback", except where data was at stake
    **dict.fromkeys([
        "test_models_listed_are_the_bundled_ones", "test_every_listed_model_with_every_command",
        "test_seq2seq_generate_reverses", "test_texts_folder_and_bad_utf8",
        "test_bad_out_refused_before_work", "test_unwritable_out_refused_before_work",
        "test_bad_trace_path_refused_before_work", "test_full_disk_during_csv_write",
        "test_unexpected_error_is_one_line", "test_bad_numbers_exit_2"], TRACEBACK),
    "test_missing_texts_file_is_not_swept_as_text": SILENT,
    "test_ctrl_c_keeps_the_earlier_csv": LOST,
    # test_trust_saves.py
    **dict.fromkeys([
        "test_save_onto_a_file_refused_naming_it", "test_save_into_a_foreign_folder_refused",
        "test_a_file_of_ours_that_is_a_folder_refused_before_writing",
        "test_full_disk_leaves_the_folder_as_it_was", "test_full_disk_in_a_new_folder_leaves_no_file",
        "test_saves_keep_permissions_and_other_files", "test_current_umask_is_read_without_changing_it",
        "test_new_files_follow_the_umask", "test_saved_tokenizer_and_config_load_back"], LOST),
}
# (function, substring of its parameters) -> kind, where one parameter is another kind of misuse
BY_PARAMETER = {("test_sweep_arguments_named", "labels"): LOST,
                ("test_widget_controller_arguments_named", "top_k"): HANG,
                ("test_bad_config_field_named_with_its_file", "layer_norm_eps"): SILENT}

API_MISSING = re.compile(
    r"No module named '?roberta_lab|cannot import name|unexpected keyword argument|"
    r"has no attribute")
# ... but an attribute missing on a plain Python value is the old code crashing on bad input
# (a list where it expected a dict): a traceback, not a missing API.
BUILTIN_ATTRIBUTE = re.compile(
    r"'(list|tuple|dict|set|str|bytes|int|float|bool|NoneType)' object has no attribute")


def kind_of(test_id: str) -> str:
    name, _, params = test_id.partition("[")
    for (fn, part), kind in BY_PARAMETER.items():
        if fn == name and part in params:
            return kind
    if name not in KINDS:
        raise KeyError(f"{test_id}: add its kind to KINDS in {__file__}")
    return KINDS[name]


def failure_reason(message: str, text: str) -> str:
    """Why a test failed, from its message and traceback (see the module docstring)."""
    both = f"{message}\n{text}"
    if "TrustEvidenceTimeout" in both:
        return "hang"
    last = [ln for ln in text.splitlines() if ln.startswith("E ")]
    final = "\n".join(last[-3:]) or message
    if (API_MISSING.search(final) or API_MISSING.search(message)) and not \
            (BUILTIN_ATTRIBUTE.search(final) or BUILTIN_ATTRIBUTE.search(message)):
        return "missing API"
    if "DID NOT RAISE" in both:
        return "no error"
    if "Regex pattern did not match" in both:
        return "unclear error"
    if re.search(r"^E\s+(AssertionError|assert )", text, re.M) or \
            message.startswith(("AssertionError", "assert ")) or "Falsifying example" in both:
        return "wrong result"
    return "traceback"


# --- the pytest plugin: a time limit per test ------------------------------------------------------
class TrustEvidenceTimeout(Exception):
    """A test ran past the limit: on the old main, a hang."""


def _drop_editable_finders() -> None:
    """An editable install of roberta_lab (``pip install -e``) adds an import finder that maps
    any roberta_lab module the folder lacks to the install's checkout: the old side would then
    import today's modules. Without it, a module the old package lacks is a plain
    ModuleNotFoundError."""
    sys.meta_path[:] = [f for f in sys.meta_path if not (
        f if isinstance(f, type) else type(f)).__module__.startswith("__editable__")]


if os.environ.get("TRUST_EVIDENCE_TIMEOUT"):  # loaded as the plugin inside a side's pytest
    _drop_editable_finders()


def _on_alarm(signum, frame):
    raise TrustEvidenceTimeout(f"ran past {os.environ.get('TRUST_EVIDENCE_TIMEOUT')} s")


def pytest_runtest_setup(item):
    limit = int(os.environ.get("TRUST_EVIDENCE_TIMEOUT", "0"))
    if limit:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(limit)


def pytest_runtest_teardown(item, nextitem):
    signal.alarm(0)


# --- running -----------------------------------------------------------------------------------------
def make_side(rev: str, folder: Path) -> str:
    """``folder``: roberta_lab/ and data/ at ``rev``, today's tests/ and pyproject.toml."""
    folder.mkdir(parents=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", rev], check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "roberta_lab", "data"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    shutil.copytree(ROOT / "tests", folder / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    shutil.copy2(ROOT / "pyproject.toml", folder / "pyproject.toml")
    return commit


def run_file(folder: Path, test_file: str, timeout: int, log: Path) -> dict[str, dict]:
    xml = log.with_suffix(".xml")
    env = dict(os.environ, TRUST_EVIDENCE_TIMEOUT=str(timeout), TF_CPP_MIN_LOG_LEVEL="3",
               HF_HUB_OFFLINE="1", PYTHONPATH=str(Path(__file__).resolve().parent))
    cmd = [sys.executable, "-m", "pytest", test_file, "-q", "-p", "no:cacheprovider",
           "-p", "trust_evidence", f"--junitxml={xml}", "-o", "junit_family=xunit1"]
    started = time.time()
    with open(log, "w") as out:
        try:
            subprocess.run(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                           timeout=max(2400, timeout * 10))
        except subprocess.TimeoutExpired:
            out.write("\n[trust_evidence] the whole file ran past its limit\n")
    results = {}
    if xml.exists():
        for case in ET.parse(xml).getroot().iter("testcase"):
            test_id = f"{Path(test_file).name}::{case.get('name')}"
            outcome, message, text = "passed", "", ""
            for tag in ("failure", "error", "skipped"):
                node = case.find(tag)
                if node is not None:
                    outcome, message, text = tag, node.get("message") or "", node.text or ""
                    break
            if outcome == "error" and test_id in results:  # a teardown error after a result
                continue
            last = [ln for ln in text.splitlines() if ln.startswith("E ")][-3:]
            results[test_id] = {"outcome": outcome, "message": message[:400],
                                "reason": failure_reason(message, text)
                                if outcome in ("failure", "error") else None,
                                "final": "\n".join(last)[:600],
                                "seconds": float(case.get("time") or 0)}
    print(f"  {folder.name}: {test_file} -> {len(results)} results in "
          f"{time.time() - started:.0f} s", flush=True)
    return results


def tabulate(old: dict, new: dict) -> dict:
    rows = {k: collections.Counter() for k in KIND_ORDER}
    for test_id, after in new.items():
        kind = kind_of(test_id.split("::", 1)[1])
        before = old.get(test_id, {"outcome": "missing", "reason": "not run"})
        row = rows[kind]
        row["tests"] += 1
        row["pass now"] += after["outcome"] == "passed"
        if after["outcome"] != "passed":
            continue
        if before["outcome"] == "passed":
            row["pass on old main too"] += 1
        elif before["outcome"] == "skipped":
            row["skipped on old main"] += 1
        elif before.get("reason") == "missing API":
            row["fail on old main: missing API (not counted)"] += 1
        elif before["outcome"] == "missing":
            row["not run on old main"] += 1
        else:
            row["EVIDENCE: fail on old main, pass now"] += 1
            row[f"  old: {before['reason']}"] += 1
    return {k: dict(v) for k, v in rows.items()}


def write_report(out: Path, meta: dict, table: dict, old: dict, new: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "evidence.json").write_text(json.dumps(
        {"meta": meta, "table": table,
         "tests": {t: {"kind": kind_of(t.split("::", 1)[1]), "new": new[t],
                       "old": old.get(t)} for t in sorted(new)}}, indent=1) + "\n")
    cols = ["tests", "pass now", "EVIDENCE: fail on old main, pass now",
            "fail on old main: missing API (not counted)", "pass on old main too"]
    reasons = ["hang", "wrong result", "no error", "unclear error", "traceback"]
    lines = [f"# Trust tests on the old main ({meta['old']}) and now ({meta['new']})", "",
             *([] if meta["complete"] else ["**Partial: the run had not finished.**", ""]),
             f"Made by `python scripts/trust_evidence.py --timeout {meta['timeout']}` on "
             f"{meta['date']} ({meta['seconds']:.0f} s). Each side is `git archive` of "
             "`roberta_lab/` and `data/` at its commit with today's `tests/`; every test has "
             f"a {meta['timeout']} s limit (past it on the old main: a hang). Files: "
             + ", ".join(f"`{Path(f).name}`" for f in meta["files"]) + ".", "",
             "A test is evidence when it passes now and failed on the old main for the right "
             "reason; failures only because an API did not exist yet (an import path, a "
             "keyword, an attribute) are counted apart and are not evidence.", "",
             "| kind (issue 15) | tests | pass now | fail on old main, pass now | of which: "
             + " / ".join(reasons) + " | old main lacked the API | pass on old main too |",
             "|---|---|---|---|---|---|---|"]
    total = collections.Counter()
    for kind in KIND_ORDER:
        row = table[kind]
        total.update(row)
        why = " / ".join(str(row.get(f"  old: {r}", 0)) for r in reasons)
        lines.append(f"| {kind} | " + " | ".join(str(row.get(c, 0)) for c in cols[:3]) +
                     f" | {why} | {row.get(cols[3], 0)} | {row.get(cols[4], 0)} |")
    why = " / ".join(str(total.get(f"  old: {r}", 0)) for r in reasons)
    lines.append("| **all** | " + " | ".join(f"**{total.get(c, 0)}**" for c in cols[:3]) +
                 f" | {why} | {total.get(cols[3], 0)} | {total.get(cols[4], 0)} |")
    failing_now = sorted(t for t, r in new.items() if r["outcome"] != "passed")
    lines += ["", f"Not passing now: {failing_now or 'none'}.", ""]
    hangs = sorted(t for t, r in old.items() if r.get("reason") == "hang" and t in new)
    if hangs:
        lines += [f"Ran past the {meta['timeout']} s limit on the old main (counted as hangs), "
                  "with the time the same test takes now:", ""]
        lines += [f"- `{t}`: {new[t]['seconds']:.1f} s now" for t in hangs] + [""]
    lines += ["## Every test", "", "| test | kind | old main | now |", "|---|---|---|---|"]
    for t in sorted(new):
        before = old.get(t, {"outcome": "missing"})
        was = before["outcome"] if before["outcome"] in ("passed", "skipped", "missing") \
            else f"fails: {before['reason']}"
        lines.append(f"| `{t}` | {kind_of(t.split('::', 1)[1])} | {was} | {new[t]['outcome']} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=OLD_MAIN)
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per test")
    parser.add_argument("--out", default=str(ROOT / "bench/results/trust-evidence"))
    parser.add_argument("files", nargs="*", default=TEST_FILES)
    parser.add_argument("--merge", action="store_true",
                        help="keep the results of the other files in <out>/evidence.json")
    parser.add_argument("--reclassify", action="store_true",
                        help="only classify again the results in <out>/evidence.json")
    args = parser.parse_args()
    if args.reclassify:
        data = json.loads((Path(args.out) / "evidence.json").read_text())
        old, new = {}, {}
        for test_id, row in data["tests"].items():
            new[test_id] = row["new"]
            if row["old"] is not None:
                old[test_id] = row["old"]
                if row["old"]["outcome"] in ("failure", "error"):
                    old[test_id]["reason"] = failure_reason(
                        row["old"]["message"], row["old"].get("final", row["old"]["message"]))
        table = tabulate(old, new)
        write_report(Path(args.out), data["meta"], table, old, new)
        print(json.dumps(table, indent=1))
        return 0
    for f in args.files:  # every test must have a kind before anything runs
        for name in re.findall(r"^def (test_\w+)", (ROOT / f).read_text(), re.M):
            kind_of(name)
    started = time.time()
    lock = threading.Lock()
    kept: dict[str, dict] = {"old": {}, "new": {}}
    files = list(args.files)
    if args.merge and (Path(args.out) / "evidence.json").exists():
        previous = json.loads((Path(args.out) / "evidence.json").read_text())
        ran = {Path(f).name for f in args.files}
        for test_id, row in previous["tests"].items():
            if test_id.split("::")[0] not in ran:
                kept["new"][test_id] = row["new"]
                if row["old"] is not None:
                    kept["old"][test_id] = row["old"]
        files = previous["meta"]["files"] + [f for f in args.files
                                             if f not in previous["meta"]["files"]]

    def report(done: bool) -> dict:
        """The table so far (rewritten after every file, so a cut-short run leaves results)."""
        with lock:
            old = {**kept["old"], **sides["old"][1]}
            new = {**kept["new"], **sides["new"][1]}
            meta = {"old": sides["old"][0][:7], "new": sides["new"][0][:7],
                    "timeout": args.timeout, "files": files, "complete": done,
                    "seconds": time.time() - started,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            table = tabulate(old, new)
            write_report(Path(args.out), meta, table, old, new)
            return table

    def run_side(side: str, tmp: str) -> None:
        # The two sides run at once (one process each); files one after another.
        for f in args.files:
            log = Path(tmp) / f"{side}-{Path(f).stem}.log"
            results = run_file(Path(tmp) / side, f, args.timeout, log)
            with lock:
                sides[side][1].update(results)
            report(False)

    with tempfile.TemporaryDirectory(prefix="trust-evidence-") as tmp:
        sides = {side: (make_side(rev, Path(tmp) / side), {})
                 for side, rev in (("old", args.old), ("new", args.new))}
        threads = [threading.Thread(target=run_side, args=(side, tmp)) for side in sides]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(json.dumps(report(True), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
