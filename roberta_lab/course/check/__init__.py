"""One module per lesson; each exercise is one call: ``check.lesson2.ex1(student_function)``."""

from . import (lesson1, lesson2, lesson3, lesson4, lesson5, lesson6, lesson7, lesson8,  # noqa: F401
               lesson9, lesson10)
from ._core import ExerciseError  # noqa: F401
