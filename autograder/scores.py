"""How the grader writes a score: numbers without a needless ``.0``, and the one statement of a total.

Standard library only, so nbgrader's feedback process (``autograder.feedback``) states a page's score exactly as
the grader's own pages do without importing the grader.
"""
from __future__ import annotations


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
