"""Common mistakes, recognized by computing the mistaken outputs and comparing.

For a failing case the grader computes, in its own process, what a function with a typical mistake would
return on the same inputs (each kind's ``variants`` in ``autograder/kinds``; the convolution and pooling ones
come from ``cs7150.mistakes``, where the notebooks' own checks name them too), and reports the first mistake
whose outputs all match the student's.
"""
from __future__ import annotations

from typing import Iterator

from autograder.kinds import KINDS
from autograder.kinds.kind import Variant
from autograder.package.cases import PreparedCase
from cs7150.mistakes import matches


def variants(pc: PreparedCase) -> Iterator[Variant]:
    """The mistaken outputs for this case that differ from the reference."""
    for diagnosis, outputs in KINDS[pc.part.kind].variants(pc):
        outputs = {name: array for name, array in outputs.items() if array is not None}
        if outputs and not all(matches(array, pc.reference[name]) for name, array in outputs.items()):
            yield diagnosis, outputs


def diagnose(pc: PreparedCase, student: dict) -> str | None:
    """The first mistake whose outputs all match the student's, or None."""
    for diagnosis, outputs in variants(pc):
        if all(name in student and matches(student[name], array) for name, array in outputs.items()):
            return diagnosis
    return None
