"""One module per lesson; each exercise is one call: ``check.lesson2.ex1(student_function)``."""

from . import lesson1, lesson2, lesson3, lesson4, lesson5, lesson6  # noqa: F401
from ._core import ExerciseError  # noqa: F401
