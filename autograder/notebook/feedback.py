"""nbgrader's HTML feedback for a graded notebook: no hidden test, nothing that runs, only safe outputs.

Its specification: docs/grader.md, `autograder/notebook/feedback.py`.
"""
from __future__ import annotations

import html
import os
import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from traitlets import Bool

from autograder import results
from autograder.output import sanitise
from autograder.notebook.evidence import FEEDBACK_PROOF_ENV, RECORD

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # IPython colours every token of a traceback
HIDDEN_NOTE = "(The output of this cell is not shown: it ran hidden tests.)\n"
UNCONFINED_NOTE = ("(The output of this cell is not shown: the notebook was graded where its code could read the "
                   "hidden tests.)\n")
AFTER_HIDDEN_NOTE = "(The output of this cell is not shown: it ran after hidden tests had run in the same kernel.)\n"
SHOWN_DATA = {"text/plain", "text/html", "text/markdown", "text/latex", "image/png"}  # JavaScript, SVG, widgets: not
STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)
FILTERED = "cs7150_feedback_filtered"  # set in the resources by ClearHiddenTestsFromFeedback once it ran
PROOF_META = "cs7150-feedback-proof"
PROOF_TAG = re.compile(r'<meta name="' + PROOF_META + r'" content="([0-9a-f]+)">')
SCORE = r"\(Score: -?[0-9.]+ / [0-9.]+\)"  # how nbgrader's feedback template writes a score


def split_hidden(source: str, begin: str = ClearHiddenTests.begin_test_delimeter.default_value,
                 end: str = ClearHiddenTests.end_test_delimeter.default_value) -> tuple[set[str], set[str]]:
    """A cell's stripped, non-empty lines inside its hidden-test regions, and those outside them.

    Args:
        source: a cell's source text.
        begin, end: text that marks a line as the start or the end of a hidden-test region
            (matched as nbgrader matches it: anywhere in the line).
    Returns ``(inside, outside)``, two sets of lines; the delimiter lines are in neither.
    """
    inside, outside, hidden = set(), set(), False
    for line in source.splitlines():
        if begin in line:
            hidden = True
        elif end in line:
            hidden = False
        elif line.strip():
            (inside if hidden else outside).add(line.strip())
    return inside, outside


def _error_only(output: NotebookNode) -> NotebookNode:
    """An error output reduced to its exception's name and message (no traceback)."""
    return NotebookNode(output_type="error", ename=output.get("ename", ""), evalue=output.get("evalue", ""),
                        traceback=[f"{output.get('ename', '')}: {output.get('evalue', '')}"])


def _quotes(output: NotebookNode, lines: set[str]) -> bool:
    """Whether an error output's traceback quotes one of ``lines``."""
    text = ANSI.sub("", "\n".join(output.get("traceback", [])))
    return any(line in text for line in lines)


def _safe_output(output: NotebookNode) -> NotebookNode | None:
    """An output with its text cleaned and its HTML sanitised (``autograder.output.sanitise``); None for what is never shown."""
    kind = output.get("output_type")
    if kind == "stream":
        return NotebookNode(output_type="stream", name=output.get("name", "stdout"),
                            text=sanitise.clean_text(output.get("text", "")))
    if kind == "error":
        return NotebookNode(output_type="error", ename=sanitise.clean_text(output.get("ename", "")),
                            evalue=sanitise.clean_text(output.get("evalue", "")),
                            traceback=[sanitise.clean_text(line) for line in output.get("traceback", [])])
    if kind not in ("display_data", "execute_result"):
        return None
    data = {}
    for mime, value in output.get("data", {}).items():
        text = "".join(value) if isinstance(value, list) else value
        if mime not in SHOWN_DATA or not isinstance(text, str):
            continue
        data[mime] = sanitise.clean_html(text) if mime in ("text/html", "text/markdown") else (
            text if mime == "image/png" else sanitise.clean_text(text))
    if not data:
        return None
    safe = NotebookNode(output_type=kind, data=data, metadata={})
    if kind == "execute_result":
        safe.execution_count = output.get("execution_count")
    return safe


def safe_markdown(source: str) -> str:
    """A markdown cell's source with its raw HTML sanitised by nh3 (``>`` kept: it is markdown's quote mark)."""
    return sanitise.clean_html(source).replace("&gt;", ">")


def _is_test(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


class ClearHiddenTestsFromFeedback(ClearHiddenTests):
    """nbgrader's ``ClearHiddenTests`` for the feedback page: the regions, what their execution showed, the
    outputs that could hold them, and anything unsafe to open (see the module).

    Configured by the course's ``ClearHiddenTests`` settings (delimiters). A
    region in a cell that is not a grade cell is removed too instead of
    failing the page (``enforce_metadata`` is off: the notebook is the
    student's, already graded).
    """

    enforce_metadata = Bool(False, help="Fail on a hidden-test region outside a grade cell").tag(config=True)
    kernel_confined = Bool(False, help="The kernel that ran the notebook could not read the course's files "
                           "(gradebook, source notebooks)").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self._hidden = set()
        for cell in nb.cells:
            self._hidden |= split_hidden(cell.source, self.begin_test_delimeter, self.end_test_delimeter)[0]
        # The executor's own record says whether the test cells ran in the grader's process; without it, nothing
        # of the student's outputs is known to be safe.
        record = nb.metadata.get(RECORD)
        apart = isinstance(record, dict) and record.get("executor") == "apart"
        first_hidden = next((i for i, cell in enumerate(nb.cells) if self.begin_test_delimeter in cell.source),
                            len(nb.cells))
        self._withheld = lambda index: (UNCONFINED_NOTE if not self.kernel_confined else
                                        None if apart or index < first_hidden else AFTER_HIDDEN_NOTE)
        nb, resources = super().preprocess(nb, resources)
        resources[FILTERED] = True
        return nb, resources

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        source = cell.source
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except RuntimeError:  # a region without its end (a student's cell quoting a delimiter): cut from its start
            cell.source = source.split(self.begin_test_delimeter, 1)[0].rpartition("\n")[0]
        if cell.cell_type == "markdown":
            cell.source = safe_markdown(cell.source)
        outputs = cell.get("outputs", [])
        if cell.source != source and cell.cell_type == "code":  # it ran hidden tests: only its error, no traceback
            errors = [_error_only(output) for output in outputs if output.output_type == "error"]
            outputs = [NotebookNode(output_type="stream", name="stdout", text=HIDDEN_NOTE), *errors]
        elif any(output.output_type == "error" and _quotes(output, self._hidden) for output in outputs):
            outputs = [_error_only(o) if o.output_type == "error" else o for o in outputs]
        note = self._withheld(index) if cell.cell_type == "code" and outputs else None
        if note:  # the student's code could have put anything in it: a test shows only whether it failed, and how
            errors = [NotebookNode(output_type="error", ename=o.get("ename", ""), evalue="", traceback=[o.get("ename", "")])
                      for o in outputs if o.output_type == "error"] if _is_test(cell) else []
            outputs = [NotebookNode(output_type="stream", name="stdout", text=note), *errors]
        if cell.cell_type == "code":
            cell.outputs = [safe for safe in map(_safe_output, outputs) if safe is not None]
        return cell, resources


class GetGradesPending(GetGrades):
    """nbgrader's ``GetGrades`` that also records, in ``resources["nbgrader"]``, the autograded score and maximum
    (``"autograded"``: test cells) and each cell graded by hand (``"by_hand"``: grade id -> (points, score,
    whether nbgrader still marks it ``needs_manual_grade``)), for ``mark_pending``."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self._autograded, self._by_hand = [0.0, 0.0], {}
        nb, resources = super().preprocess(nb, resources)
        resources["nbgrader"].update(autograded=tuple(self._autograded), by_hand=dict(self._by_hand))
        return nb, resources

    def _get_score(self, cell: NotebookNode, resources: dict) -> None:
        super()._get_score(cell, resources)
        meta = cell.metadata.nbgrader
        if _is_test(cell):
            self._autograded[0] += meta["score"] or 0.0
            self._autograded[1] += meta["points"] or 0.0
        else:
            grade = self.gradebook.find_grade(meta["grade_id"], self.notebook_id, self.assignment_id, self.student_id)
            self._by_hand[meta["grade_id"]] = (meta["points"] or 0.0, meta["score"] or 0.0, grade.needs_manual_grade)


def mark_pending(page: str, grades: dict) -> str:
    """nbgrader's rendered feedback ``page`` with its score stated as ``results.total_statement`` states it and
    every answer still to be graded by hand shown as pending instead of "Score: 0.0 / N".

    Args:
        page: the page nbgrader's feedback template rendered.
        grades: ``resources["nbgrader"]`` after ``GetGradesPending``; a page without its records is returned as is.
    """
    if "by_hand" not in grades:
        return page
    waiting = {grade_id: points for grade_id, (points, _, pending) in grades["by_hand"].items() if pending}
    done = [(points, score) for points, score, pending in grades["by_hand"].values() if not pending]
    score, max_score = grades["autograded"]
    statement = results.total_statement(score, max_score, sum(waiting.values()), written=sum(s for _, s in done),
                                       written_max=sum(p for p, _ in done))
    page = re.sub(rf"(<h4>[^<]*?) {SCORE}(</h4>)", lambda m: f"{m.group(1)} ({html.escape(statement)}){m.group(2)}",
                  page, count=1)
    for grade_id, points in waiting.items():
        note = f"pending: {results.number(points)} points, graded by hand"
        anchor = re.escape(grade_id)
        page = re.sub(rf'(<a href="#{anchor}">[^<]*</a>) {SCORE}', lambda m: f"{m.group(1)} ({note})", page)
        page = re.sub(rf'(<a name="{anchor}"></a>.*?)Score: [0-9.]+ / [0-9.]+ (<a href="#top">)',
                      lambda m: f"{m.group(1)}{note} {m.group(2)}", page, count=1, flags=re.DOTALL)
    return page


def safe_page(page: str, proof: str = "") -> str:
    """nbgrader's rendered page rebuilt safe to open: its body sanitised by nh3 under a restrictive
    Content-Security-Policy (``autograder.output.sanitise.html_page``), with the page's own styles (the template's
    CSS: student content never reaches the head) kept, minus any ``url(...)``; with ``proof``, a ``<meta>``
    in its head that carries it (``page_proof`` reads it back)."""
    head, _, _ = page.partition("<body")
    styles = "\n".join(STYLE_BLOCK.findall(head)).replace("</", "<\\/")
    styles = re.sub(r"url\([^)]*\)", "none", styles)
    body = BODY.search(page)
    safe = sanitise.html_page("notebook feedback", body.group(1) if body else "", style=styles)
    if proof:
        safe = safe.replace('<meta charset="utf-8">',  # after the Content-Security-Policy, which comes first
                            f'<meta name="{PROOF_META}" content="{html.escape(proof)}">\n<meta charset="utf-8">', 1)
    return safe


def page_proof(page: str) -> str:
    """The proof in a page's head (``safe_page``), or "" where it has none."""
    found = PROOF_TAG.search(page.partition("<body")[0])
    return found.group(1) if found else ""


class SafeFeedbackExporter(HTMLExporter):
    """nbconvert's ``HTMLExporter`` (configured as nbgrader configures it for feedback: its ``feedback``
    template) whose page states its score the grader's way (``mark_pending``) and is rebuilt by ``safe_page``:
    the Content-Security-Policy first in its head, its body through nh3. Set as ``GenerateFeedback.exporter_class``.

    Where the grader put a proof in the environment (``evidence.FEEDBACK_PROOF_ENV``) and
    ``ClearHiddenTestsFromFeedback`` ran on the notebook, the page carries that proof in its head:
    ``cs7150 autograde`` hands out no page without it."""

    def from_notebook_node(self, nb: NotebookNode, resources: dict | None = None, **kw) -> tuple[str, dict]:
        page, resources = super().from_notebook_node(nb, resources, **kw)
        proof = os.environ.get(FEEDBACK_PROOF_ENV, "") if resources.get(FILTERED) else ""
        return safe_page(mark_pending(page, resources.get("nbgrader", {})), proof), resources


FEEDBACK_PREPROCESSORS = [GetGradesPending, CSSHTMLHeaderPreprocessor, ClearHiddenTestsFromFeedback]


def nbgrader_config(kernel_confined: bool = False, course_config: Path | None = None) -> str:
    """Lines for a course's ``nbgrader_config.py`` that make ``generate_feedback`` clear the hidden tests and
    write safe pages (``SafeFeedbackExporter``), and, with ``kernel_confined``, say that the kernels ran
    where they could not read the course's files; with ``course_config``, that file is loaded first.

    Their first lines make this package importable where it is now (the course's own configuration imports it
    too), whether or not the nbgrader process can import it otherwise (installed, or on ``PYTHONPATH``, which
    the grader's jobs do not inherit); ``c`` is the config object nbgrader passes in.
    """
    package_parent = str(Path(__file__).resolve().parents[2])
    return ("import sys\n"
            f"if {package_parent!r} not in sys.path:\n"
            f"    sys.path.append({package_parent!r})\n"
            + (f"load_subconfig({str(course_config)!r})\n" if course_config is not None else "")
            + "from autograder.notebook.feedback import FEEDBACK_PREPROCESSORS, SafeFeedbackExporter\n"
            "c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS\n"
            "c.GenerateFeedback.exporter_class = SafeFeedbackExporter\n"
            + ("c.ClearHiddenTestsFromFeedback.kernel_confined = True\n" if kernel_confined else ""))
