"""Build the student notebooks from the solution notebooks (nbgrader's markers, no database).

In a solution notebook's code cells, the lines from ``### BEGIN SOLUTION`` to
``### END SOLUTION`` become ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the
same indentation; lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` are dropped;
cells tagged ``solution`` are dropped whole. Outputs and execution counts are cleared. The build
fails if any solution line would still appear in a student notebook.

    python -m roberta_lab.course.build          # notebooks/course/{solutions -> exercises}/
    python -m roberta_lab.course.build --check  # exit 1 if the exercises are out of date

Example:
    >>> strip_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return x + 1\\n    ### END SOLUTION")
    'def f(x):\\n    # YOUR CODE HERE\\n    raise NotImplementedError()'
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
ROOT = Path(__file__).resolve().parents[2]


class BuildError(ValueError):
    """An unbalanced marker or a solution line left in a student notebook (names the file)."""


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace every solution block with the stub; drop hidden-test blocks."""
    out: list[str] = []
    state = None
    for line in source.split("\n"):
        marker = line.strip()
        if marker in (BEGIN, BEGIN_HIDDEN):
            if state is not None:
                raise BuildError(f"{where}: {marker!r} inside another block")
            state = marker
            if marker == BEGIN:
                indent = line[:len(line) - len(line.lstrip())]
                out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            continue
        if marker in (END, END_HIDDEN):
            if state != {END: BEGIN, END_HIDDEN: BEGIN_HIDDEN}[marker]:
                raise BuildError(f"{where}: {marker!r} without its BEGIN")
            state = None
            continue
        if state is None:
            out.append(line)
    if state is not None:
        raise BuildError(f"{where}: {state!r} is never closed")
    return "\n".join(out)


def _solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.split("\n"):
        if line.strip() in (BEGIN, BEGIN_HIDDEN):
            inside = True
        elif line.strip() in (END, END_HIDDEN):
            inside = False
        elif inside and len(line.strip()) > 12:  # short lines ("return x") may recur honestly
            lines.append(line.strip())
    return lines


def student_notebook(nb: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """A solution notebook (nbformat 4 JSON) -> the student version."""
    nb = copy.deepcopy(nb)
    cells, secret = [], []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "solution" in cell.get("metadata", {}).get("tags", []):
            secret += [line.strip() for line in source.split("\n") if len(line.strip()) > 12]
            continue
        if cell["cell_type"] == "code":
            secret += _solution_lines(source)
            cell["source"] = strip_solutions(source, f"{name}, cell {i}")
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    nb["cells"] = cells
    nb.get("metadata", {}).pop("widgets", None)
    text = "\n".join("".join(c["source"]) for c in cells)
    leaked = [line for line in secret if line in text]
    if leaked:
        raise BuildError(f"{name}: solution lines would leak into the student notebook: "
                         f"{leaked[:3]}")
    return nb


def build(src: Path, dest: Path, check: bool = False) -> list[str]:
    """Write (or, with ``check``, compare) every student notebook; returns the names that were
    written or, with ``check``, that are out of date."""
    sources = sorted(src.glob("*.ipynb"))
    if not sources:
        raise BuildError(f"no solution notebooks in {src}")
    changed = []
    for path in sources:
        nb = student_notebook(json.loads(path.read_text(encoding="utf-8")), path.name)
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        target = dest / path.name
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        changed.append(path.name)
        if not check:
            dest.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
    if check:
        stale = {p.name for p in dest.glob("*.ipynb")} - {p.name for p in sources}
        changed += sorted(stale)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roberta_lab.course.build",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT / "notebooks" / "course" / "solutions")
    parser.add_argument("--dest", type=Path, default=ROOT / "notebooks" / "course" / "exercises")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the student notebooks are out of date")
    args = parser.parse_args(argv)
    try:
        changed = build(args.src, args.dest, args.check)
    except (BuildError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if changed:
            print("out of date (run python -m roberta_lab.course.build): " + ", ".join(changed),
                  file=sys.stderr)
            return 1
        print("student notebooks are up to date")
        return 0
    print(f"wrote {len(changed)} student notebook(s) to {args.dest}" +
          (": " + ", ".join(changed) if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
