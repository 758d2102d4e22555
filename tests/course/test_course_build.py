"""The course's notebooks: the student versions are built from the solutions (nbgrader-style
markers), are up to date, leak no solution, and each exercise stops with a plain message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from roberta_lab.course import build, check
from roberta_lab.course.check import ExerciseError

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "notebooks" / "course" / "solutions"
EXERCISES = ROOT / "notebooks" / "course" / "exercises"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_strip_solutions_keeps_indentation_and_drops_hidden_tests():
    src = ("def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
           "### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\ncheck(f)")
    assert build.strip_solutions(src) == ("def f(x):\n    # YOUR CODE HERE\n"
                                          "    raise NotImplementedError()\ncheck(f)")


@pytest.mark.parametrize("src, words", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without its BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_unbalanced_markers_are_errors(src, words):
    with pytest.raises(build.BuildError, match=words):
        build.strip_solutions(src, "lesson.ipynb, cell 3")


def test_a_solution_line_outside_the_markers_is_a_leak(tmp_path):
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
                     "source": "def f(x):\n    ### BEGIN SOLUTION\n    y = np.flatnonzero(x)\n"
                               "    return y\n    ### END SOLUTION\ny = np.flatnonzero(x)"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    with pytest.raises(build.BuildError, match="leak"):
        build.student_notebook(nb, "leaky.ipynb")


def test_committed_student_notebooks_are_up_to_date(tmp_path):
    assert build.build(SOLUTIONS, EXERCISES, check=True) == []
    # and a fresh build from scratch writes one per lesson
    assert len(build.build(SOLUTIONS, tmp_path)) == len(list(SOLUTIONS.glob("*.ipynb"))) >= 6


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_each_lesson_has_objectives_and_two_to_five_checked_exercises(path):
    cells = _cells(path)
    text = "\n".join(_source(c) for c in cells)
    assert "You will learn to" in text and "What to notice" in text
    blocks = text.count(build.BEGIN)
    assert 2 <= blocks <= 5 and blocks == text.count(build.END)
    lesson = int(path.name[:2])
    calls = set(re.findall(rf"check\.lesson{lesson}\.(ex\d)\(", text))
    assert calls == {f"ex{i}" for i in range(1, blocks + 1)}
    # the solution notebook was executed (nbval compares its stored outputs)
    assert all(c.get("execution_count") for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("path", sorted(EXERCISES.glob("*.ipynb")), ids=lambda p: p.stem)
def test_student_notebooks_leak_nothing_and_stop_plainly(path):
    cells = _cells(path)
    solution = "\n".join(_source(c) for c in _cells(SOLUTIONS / path.name))
    hidden = re.findall(rf"{build.BEGIN}\n(.*?)\n\s*{build.END}", solution, re.S)
    for cell in cells:
        src = _source(cell)
        assert build.BEGIN not in src and cell.get("outputs", []) == []
        for block in hidden:
            for line in block.splitlines():
                if len(line.strip()) > 12:
                    assert line.strip() not in src, line
    # an exercise cell as a student first sees it: the check says it is not done yet
    first = next(_source(c) for c in cells if "NotImplementedError" in _source(c))
    namespace = {"check": check, "np": np}
    with pytest.raises(ExerciseError, match="not done yet"):
        exec(first.split("\nprint(")[0], namespace)  # noqa: S102 - our own notebook's cell


def test_build_command_check_mode(capsys):
    assert build.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert build.main(["--src", str(ROOT / "no-such-folder")]) == 2
