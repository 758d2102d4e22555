"""The course: lessons (notebooks in ``notebooks/course/``) whose exercises check
themselves.

    >>> from roberta_lab.course import check                     # doctest: +SKIP
    >>> check.lesson1.ex1(mask_positions)                         # doctest: +SKIP
    lesson1.ex1 passed: mask_positions agrees with the reference on 6 fresh inputs.

``check.lessonN.exK(student_function)`` runs the student's function and the reference on fresh
random inputs (and on the bundled models where the exercise is about them) and, on a mismatch,
says what is wrong in plain words: the shape (transposed?), an off-by-one position, the wrong
layer, the sign, a constant scale, the softmax axis. ``roberta_lab.course.build`` writes the
student notebooks from the solution notebooks (nbgrader's ``### BEGIN SOLUTION`` markers).
``setup()`` (``roberta_lab.notebook.setup``) is the lessons' first cell.
"""

from __future__ import annotations

from ..notebook import MODELS, setup  # one setup for every notebook, the lessons' too

__all__ = ["setup", "MODELS"]
