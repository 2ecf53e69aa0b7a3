"""nbgrader's HTML feedback for a graded notebook, without the hidden tests.

``nbgrader generate_feedback`` renders the autograded notebook, and
``nbgrader autograde`` has put every test cell back as the instructor wrote
it, hidden tests included: the default feedback page shows them. The course
copy the grader runs nbgrader in (``autograder.notebooks``) appends
``nbgrader_config()`` to its ``nbgrader_config.py``, which adds
``ClearHiddenTestsFromFeedback`` to ``GenerateFeedback.preprocessors``. It
removes, before the page is rendered:

- every hidden-test region (nbgrader's ``ClearHiddenTests``, with the course's
  delimiters);
- the outputs of each cell that had one, but for its error's name and message
  (a traceback quotes the code around the failing line; a print can show the
  hidden inputs);
- the traceback of any other error that quotes a hidden line.

``leaked_lines`` is the grader's last check on the written page.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from traitlets import Bool

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # IPython colours every token of a traceback
TAG = re.compile(r"<[^>]*>")
MIN_LINE = 10  # shorter hidden lines ("pass", "else:") say nothing and also occur in students' code
HIDDEN_NOTE = "(The output of this cell is not shown: it ran hidden tests.)\n"


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


class ClearHiddenTestsFromFeedback(ClearHiddenTests):
    """nbgrader's ``ClearHiddenTests`` for the feedback page: the regions and what their execution showed.

    Configured by the course's ``ClearHiddenTests`` settings (delimiters). A
    region in a cell that is not a grade cell is removed too instead of
    failing the page (``enforce_metadata`` is off: the notebook is the
    student's, already graded).
    """

    enforce_metadata = Bool(False, help="Fail on a hidden-test region outside a grade cell").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self._hidden = set()
        for cell in nb.cells:
            self._hidden |= split_hidden(cell.source, self.begin_test_delimeter, self.end_test_delimeter)[0]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        source = cell.source
        cell, resources = super().preprocess_cell(cell, resources, index)
        outputs = cell.get("outputs", [])
        if cell.source != source:  # the cell ran hidden tests: keep only its error, without the traceback
            errors = [_error_only(output) for output in outputs if output.output_type == "error"]
            cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=HIDDEN_NOTE), *errors]
        elif any(output.output_type == "error" and _quotes(output, self._hidden) for output in outputs):
            cell.outputs = [_error_only(o) if o.output_type == "error" else o for o in outputs]
        return cell, resources


FEEDBACK_PREPROCESSORS = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTestsFromFeedback]


def nbgrader_config() -> str:
    """Lines for a course's ``nbgrader_config.py`` that make ``generate_feedback`` clear the hidden tests.

    They find this package where it is now if the nbgrader process cannot
    import it otherwise (``c`` is the config object nbgrader passes in).
    """
    package_parent = str(Path(__file__).resolve().parent.parent)
    return ("import sys\n"
            f"if {package_parent!r} not in sys.path:\n"
            f"    sys.path.append({package_parent!r})\n"
            "from autograder.feedback import FEEDBACK_PREPROCESSORS\n"
            "c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS\n")


def notebook_hidden_lines(notebook: Path) -> set[str]:
    """The hidden-test lines of a source notebook that a student never sees elsewhere in it.

    Args:
        notebook: path of an instructor (source) notebook.
    Returns the stripped lines of its hidden-test regions that are at least
    ``MIN_LINE`` characters long and appear nowhere outside those regions,
    not even as part of a line (a continuation line of a hidden call can be the
    tail of a visible one).
    Raises OSError or ValueError (JSON) for an unreadable notebook.
    """
    hidden, given = set(), set()
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", []):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        inside, outside = split_hidden(source)
        hidden |= inside
        given |= outside
    return {line for line in hidden if len(line) >= MIN_LINE and not any(line in seen for seen in given)}


def page_text(page: str) -> str:
    """The text an HTML page shows (tags removed, entities decoded), for searching it."""
    return html.unescape(TAG.sub("", page))


def leaked_lines(page: str, lines: set[str]) -> list[str]:
    """The ``lines`` (hidden-test lines) that the HTML ``page`` shows, sorted."""
    text = page_text(page)
    return sorted(line for line in lines if line in text)
