"""Common mistakes, recognized by computing the mistaken outputs and comparing.

For a failing case the grader computes, in its own process, what a function with a typical mistake would
return on the same inputs (each kind's ``variants`` in ``autograder/kinds``; the convolution and pooling ones
come from ``cs7150.mistakes``, where the notebooks' own checks name them too), and reports the first mistake
whose outputs all match the student's (``cs7150.mistakes.first_match``, the notebooks' rule too).
"""
from __future__ import annotations

from typing import Iterator

from autograder.kinds import KINDS
from autograder.kinds.kind import Variant
from autograder.package.cases import PreparedCase
from cs7150.mistakes import differing, first_match


def variants(pc: PreparedCase) -> Iterator[Variant]:
    """The mistaken outputs for this case that differ from the reference."""
    return differing(KINDS[pc.part.kind].variants(pc), pc.reference)


def diagnose(pc: PreparedCase, student: dict) -> str | None:
    """The first mistake whose outputs all match the student's, or None."""
    return first_match(variants(pc), student)
