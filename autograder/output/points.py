"""The points an assignment's notebook header states, checked against what is configured to be graded.

Its specification: docs/grader.md, `autograder/output/points.py`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import config
from autograder.results import number

TOTAL = re.compile(r"\*\*Total: (?P<total>\d+(?:\.\d+)?) points\*\*")
KINDS = {  # how a header names each kind of points (whitespace normalised to one space)
    "package": re.compile(r"(\d+(?:\.\d+)?) for (?:the|your) package"),
    "autograded": re.compile(r"(\d+(?:\.\d+)?) (?:autograded in this notebook|for the exercises in this notebook)"),
    "written": re.compile(r"(\d+(?:\.\d+)?) for (?:the )?written answers"),
}
EXTRA = re.compile(r"up to (\d+(?:\.\d+)?) extra-credit points")  # stated once where extra credit is configured


class PointsMismatch(config.ConfigError):
    """A notebook header's stated points disagree with the configuration (or cannot be read)."""


@dataclass(frozen=True)
class Points:
    """An assignment's points: ``total = package + autograded + written``; ``extra`` (the extra-credit parts'
    points) is earned on top of the total."""

    package: float
    autograded: float
    written: float
    extra: float = 0.0

    @property
    def total(self) -> float:
        return self.package + self.autograded + self.written


def notebook_points(paths) -> tuple[float, float]:
    """(autograded, graded by hand) points of the notebooks ``paths`` (source notebooks, nbgrader metadata).

    Raises:
        PointsMismatch: a graded cell has no numeric ``points``.
    """
    from nbgrader import utils as nbgrader_utils  # nbgrader's import takes seconds: only when a header is checked

    autograded = by_hand = 0.0
    for path in paths:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if not (nbgrader_utils.is_grade(cell) or nbgrader_utils.is_task(cell)):
                continue
            points = cell.metadata["nbgrader"].get("points")
            if not isinstance(points, (int, float)) or isinstance(points, bool):
                raise PointsMismatch(f"{Path(path).name}: cell {index} is graded but its nbgrader points are {points!r}")
            if cell.cell_type == "code" and nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell):
                autograded += points
            else:
                by_hand += points
    return autograded, by_hand


def configured(assignment: config.Assignment, source: Path) -> Points:
    """The points configured for ``assignment``: its package parts and its source notebooks in ``source``."""
    autograded, written = notebook_points(sorted(Path(source).glob("*.ipynb")))
    return Points(assignment.max_score, autograded, written, assignment.extra_max)


def stated(path: Path) -> tuple[float, Points] | None:
    """(total, its kinds) as the header of the notebook ``path`` states them; None when it states no total.
    The extra-credit points are 0 where the header states none.

    Raises:
        PointsMismatch: the header states a total but not each kind of points exactly once, or extra credit twice.
    """
    cells = nbformat.read(path, as_version=4).cells
    text = " ".join(cells[0].source.split()) if cells else ""
    total = TOTAL.search(text)
    if total is None:
        return None
    found = {kind: pattern.findall(text) for kind, pattern in KINDS.items()}
    unclear = [kind for kind, numbers in found.items() if len(numbers) != 1]
    extra = EXTRA.findall(text)
    unclear += ["extra credit (stated twice)"] if len(extra) > 1 else []
    if unclear:
        raise PointsMismatch(f"{Path(path).name}: the header states a total but not, exactly once each, the "
                             f"points of: {', '.join(unclear)} (e.g. \"47 for your package files\", \"56 autograded "
                             "in this notebook\", \"20 for written answers\")")
    return float(total["total"]), Points(*(float(found[kind][0]) for kind in ("package", "autograded", "written")),
                                         extra=float(extra[0]) if extra else 0.0)


def check(assignment: config.Assignment, source: Path, config_dir: Path = config.ASSIGNMENTS_DIR) -> Points | None:
    """Refuse (``PointsMismatch``, every difference named) a header in ``source``'s notebooks whose stated
    points differ from those configured; return the configured points (None: the assignment has no notebooks).

    Args:
        assignment: the loaded configuration (``config.load``).
        source: the assignment's source notebooks' folder (``assignments/source/<name>/``); may not exist.
        config_dir: where its configuration was read (named in the message).
    """
    source = Path(source)
    headers = {path: stated(path) for path in sorted(source.glob("*.ipynb"))} if source.is_dir() else {}
    if not headers:
        return None
    headers = {path: header for path, header in headers.items() if header is not None}
    points = configured(assignment, source)
    where = config.config_path(assignment.name, config_dir)
    for path, (total, kinds) in headers.items():
        wrong = [f"{kind}: the header says {number(getattr(kinds, kind))}, the configuration gives "
                 f"{number(getattr(points, kind))}" for kind in ("package", "autograded", "written", "extra")
                 if getattr(kinds, kind) != getattr(points, kind)]
        if total != points.total:
            wrong.append(f"total: the header says {number(total)}, the configuration gives {number(points.total)}")
        if wrong:
            raise PointsMismatch(
                f"{path}: the points the notebook's header states differ from what is graded "
                f"(package: {where}; notebook: its cells' nbgrader points); change one so they agree:\n  "
                + "\n  ".join(wrong))
    return points
