"""What grading produces, imported by every layer above: a case's, a part's and a student's result,
and the one way a score is written (numbers without a needless ``.0``, one statement of a total)."""
from __future__ import annotations

from dataclasses import dataclass, field


def number(value: float):
    """An int when the value is whole (10, not 10.0), else rounded to 4 decimals."""
    return int(value) if float(value).is_integer() else round(float(value), 4)


def total_statement(score: float, max_score: float, pending: float = 0.0, not_run: float = 0.0,
                    written: float = 0.0, written_max: float = 0.0, extra: float = 0.0, extra_max: float = 0.0) -> str:
    """``"103 of 103 autograded; 20 written points to be graded (total 123)"``: the one way every page (feedback,
    results.json, the final grades) states a total; written points still to be graded are pending, never 0.
    With extra credit: ``"88 of 88 autograded + 9 of 14 extra credit; ... (total 124)"``: the extra points are
    earned on top of the total, which counts the required points only.

    Args:
        score, max_score: the autograded points earned and possible (package and graded notebooks).
        pending: the points graded by hand that are not graded yet.
        not_run: the notebooks' autograded points when they were not graded in this run.
        written, written_max: the points graded by hand so far, and what those answers were worth.
        extra, extra_max: the extra-credit points earned and possible (none stated when ``extra_max`` is 0).
    """
    text = f"{number(score)} of {number(max_score)} autograded"
    if extra_max:
        text += f" + {number(extra)} of {number(extra_max)} extra credit"
    if written_max:
        text += f"; {number(written)} of {number(written_max)} written"
    if not_run:
        text += f"; {number(not_run)} notebook points not graded in this run"
    if pending:
        text += f"; {number(pending)} written points to be graded"
    return f"{text} (total {number(max_score + not_run + written_max + pending)})"


@dataclass
class CaseResult:
    name: str
    score: float
    max_score: float
    summary: str  # "passed" or what went wrong, one line
    details: list[str] = field(default_factory=list)  # inputs, worst element, diagnosis
    picture: str | None = None  # a PNG data URI: expected map, the student's, their difference (``map_picture``)

    @property
    def passed(self) -> bool:
        return self.score == self.max_score


@dataclass
class PartResult:
    name: str  # the function, or a notebook part's name
    file: str
    score: float
    max_score: float
    cases: list[CaseResult] = field(default_factory=list)
    problem: str | None = None  # a reason the whole part scores 0
    extra_credit: bool = False  # its points are earned on top of the maximum (``Part.extra_credit``)


@dataclass
class StudentResult:
    student_id: str
    title: str
    parts: list[PartResult]
    notes: list[str] = field(default_factory=list)  # about the submission or its run, shown to the student
    execution_time: float = 0.0
    grader_errors: list[str] = field(default_factory=list)  # what the grader itself failed to do for it
    pending: float = 0.0  # points graded by hand (written answers), not graded yet
    not_run: float = 0.0  # the notebooks' autograded points when this run did not grade the notebooks

    @property
    def score(self) -> float:
        """The required parts' points earned (extra credit not included)."""
        return sum(part.score for part in self.parts if not part.extra_credit)

    @property
    def max_score(self) -> float:
        """The required parts' points possible: the maximum every page states."""
        return sum(part.max_score for part in self.parts if not part.extra_credit)

    @property
    def extra(self) -> float:
        """The extra-credit parts' points earned, on top of ``score``."""
        return sum(part.score for part in self.parts if part.extra_credit)

    @property
    def extra_max(self) -> float:
        """The extra-credit parts' points possible."""
        return sum(part.max_score for part in self.parts if part.extra_credit)

    @property
    def earned(self) -> float:
        """Every point earned, extra credit included: the ``score`` results.json gives Gradescope."""
        return self.score + self.extra

    @property
    def short_score(self) -> str:
        """``"86 / 88"``, or ``"86 / 88 + 8 extra credit"`` where the assignment has extra credit: for a log line."""
        return f"{number(self.score)} / {number(self.max_score)}" + (
            f" + {number(self.extra)} extra credit" if self.extra_max else "")

    @property
    def statement(self) -> str:
        """The score as every page states it (``total_statement``)."""
        return total_statement(self.score, self.max_score, self.pending, self.not_run, extra=self.extra,
                               extra_max=self.extra_max)


def describe_error(error: BaseException, limit: int = 300) -> str:
    """``"RecursionError: maximum recursion depth exceeded"``, shortened to ``limit`` characters."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def not_graded(part, reason: str) -> PartResult:
    """A part the grader could not grade: 0 points, every case listed, and why."""
    cases = [CaseResult(case.name, 0, case.points, "not graded") for case in part.cases]
    return PartResult(part.function, part.file, 0, part.max_score, cases, problem=f"not graded: {reason}",
                              extra_credit=part.extra_credit)


def failed_result(student_id: str, assignment, reason: str, notes=()) -> StudentResult:
    """The result of a submission the grader could not grade at all: 0 for every part, and why."""
    return StudentResult(
        student_id, assignment.title, [not_graded(part, reason) for part in assignment.parts],
        [*notes, f"the grader could not finish {reason}; what it could not grade scores 0"], grader_errors=[reason])
