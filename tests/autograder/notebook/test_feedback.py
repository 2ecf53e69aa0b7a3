"""nbgrader's HTML feedback without hidden tests: the preprocessor, what it shows and sanitises, the written
pages, and (slow) the pages of two students graded by nbgrader end to end."""
import html
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from traitlets.config import Config

from autograder import autograde, config
from autograder.notebook import evidence, executor, feedback
from autograder.output import report
from autograder.results import CaseResult, StudentResult
from autograder.notebook.nbgrade import NotebookPart
from coursetools.samples import samples_for, write_sample

SOURCE = config.COURSE_ROOT / "source" / "assignment1" / "conv_pool.ipynb"
BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SOLUTION = "    ### BEGIN SOLUTION"
RED = "\x1b[0;31m"  # IPython colours tracebacks token by token


def _traceback(*lines):
    return [RED + "---------------------------------------------------------------------------\x1b[0m",
            *(f"{RED}----> 1\x1b[0m {line}" for line in lines)]


def _notebook():
    hidden_cell = new_code_cell(
        f"assert f(1) == 1\n{BEGIN}\nexpected_for_9 = 81  # a hidden input\nassert f(9) == expected_for_9\n{END}\n",
        metadata={"nbgrader": {"grade": True, "grade_id": "test_f", "points": 2, "locked": True,
                               "solution": False, "schema_version": 3}},
        outputs=[new_output("stream", name="stdout", text="checking f(9) against 81\n"),
                 new_output("error", ename="AssertionError", evalue="f(9) is wrong",
                            traceback=_traceback("assert f(9) == expected_for_9"))])
    quoting_cell = new_code_cell("g()", outputs=[
        new_output("stream", name="stdout", text="g ran\n"),
        new_output("error", ename="NameError", evalue="expected_for_9",
                   traceback=_traceback("g()", "expected_for_9 = 81  # a hidden input"))])
    plain_cell = new_code_cell("h()", outputs=[
        new_output("error", ename="ValueError", evalue="bad", traceback=_traceback("h()"))])
    return new_notebook(cells=[hidden_cell, quoting_cell, plain_cell])


def _cleared(nb, apart=True, **settings):
    """The notebook as the feedback page shows it; ``apart``: the executor's record says its test cells ran in
    the grader's process (``evidence.RECORD``), else the notebook has no such record."""
    if apart:
        nb.metadata[evidence.RECORD] = {"executor": "apart", "proof": "", "tests": {}}
    settings = {"kernel_confined": True, **settings}
    return feedback.ClearHiddenTestsFromFeedback(**settings).preprocess(nb, {})[0]


def test_regions_their_outputs_and_quoting_tracebacks_are_removed():
    nb = _cleared(_notebook())
    hidden, quoting, plain = nb.cells
    assert hidden.source.strip() == "assert f(1) == 1"
    assert [o.output_type for o in hidden.outputs] == ["stream", "error"]
    assert hidden.outputs[0].text == feedback.HIDDEN_NOTE
    assert hidden.outputs[1].traceback == ["AssertionError: f(9) is wrong"]
    assert quoting.outputs[0].text == "g ran\n"  # its own output stays; only the traceback goes
    assert quoting.outputs[1].traceback == ["NameError: expected_for_9"]
    assert [(o.ename, o.evalue) for o in plain.outputs] == [("ValueError", "bad")]  # nothing hidden: kept
    assert "\x1b" not in json.dumps(plain.outputs)  # its colours (escape sequences) are not
    assert "expected_for_9 = 81" not in nbformat.writes(nb) and "81\n" not in nbformat.writes(nb)


def test_the_course_delimiters_are_used():
    settings = Config({"ClearHiddenTests": {"begin_test_delimeter": "BEGIN SECRET",
                                            "end_test_delimeter": "END SECRET"}})
    nb = new_notebook(cells=[new_code_cell("a = 1\n# BEGIN SECRET\nb = 2\n# END SECRET\n")])
    nb, _ = feedback.ClearHiddenTestsFromFeedback(config=settings).preprocess(nb, {})
    assert nb.cells[0].source.strip() == "a = 1"


def test_course_config_lines_set_the_feedback_preprocessors():
    c = Config()
    exec(feedback.nbgrader_config(), {"c": c})
    assert c.GenerateFeedback.preprocessors == feedback.FEEDBACK_PREPROCESSORS
    assert c.GenerateFeedback.exporter_class is feedback.SafeFeedbackExporter


def test_without_the_jail_no_output_of_student_code_is_shown():
    nb = _cleared(_notebook(), kernel_confined=False)
    hidden, quoting, plain = nb.cells
    assert quoting.outputs[0].text == plain.outputs[0].text == feedback.UNCONFINED_NOTE
    assert len(plain.outputs) == 1  # not a test: nothing of it
    assert [(o.get("ename"), o.get("evalue")) for o in hidden.outputs] == [(None, None), ("AssertionError", "")]
    assert "g ran" not in nbformat.writes(nb) and "bad" not in nbformat.writes(nb)


def test_in_a_kernel_that_ran_hidden_tests_later_outputs_are_not_shown():
    early = new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="before any hidden test\n")])
    nb = _cleared(new_notebook(cells=[early, *_notebook().cells]), apart=False)
    assert nb.cells[0].outputs[0].text == "before any hidden test\n"
    assert all(cell.outputs[0].text in (feedback.AFTER_HIDDEN_NOTE, feedback.HIDDEN_NOTE) for cell in nb.cells[1:])
    assert "g ran" not in nbformat.writes(nb)


def test_outputs_and_markdown_are_sanitised():
    outputs = [new_output("display_data", data={"text/html": '<b onclick="steal()">bold</b><script>steal()</script>',
                                                "text/plain": "bold"}),
               new_output("display_data", data={"application/javascript": "steal()"}),
               new_output("display_data", data={"image/svg+xml": "<svg onload='steal()'/>"}),
               new_output("stream", name="stdout", text="\x1b]0;pwned\x07title\n")]
    markdown = nbformat.v4.new_markdown_cell('> quoted\n\n<img src=x onerror="steal()"><a href="javascript:steal()">x</a>')
    nb = _cleared(new_notebook(cells=[new_code_cell("show()", outputs=outputs), markdown]))
    written = nbformat.writes(nb)
    assert "steal" not in written and "onclick" not in written and "pwned" not in written
    assert "<b>bold</b>" in written and "title" in written and nb.cells[1].source.startswith("> quoted")
    assert len(nb.cells[0].outputs) == 2  # the JavaScript and SVG outputs are gone


def test_pages_get_a_content_security_policy_and_a_sanitised_body():
    page = ('<html><head><style>.cell{color:red;background:url(http://x/a.png)}</style>'
            '<script src="https://cdn/mathjax.js"></script></head><body><div class="cell">'
            '<img src="data:image/png;base64,AAAA"><iframe src="https://x"></iframe>ok</div></body></html>')
    safe = feedback.safe_page(page)
    assert re.match(r'<!DOCTYPE html>\s*<html[^>]*>\s*<head><meta http-equiv="Content-Security-Policy"', safe)
    assert "default-src 'none'" in safe
    assert "<script" not in safe and "iframe" not in safe and "http://x" not in safe
    assert ".cell{color:red" in safe and 'class="cell"' in safe and "data:image/png;base64,AAAA" in safe


def _result(page):
    part = NotebookPart("conv_pool.ipynb", "conv_pool.ipynb", 3, 4, [CaseResult("test_f", 3, 4, "failed")])
    part.feedback_html = page
    return StudentResult("s1", "Assignment", [part])


def test_pages_are_written_linked_and_stale_ones_removed(tmp_path):
    report.write_student(tmp_path, _result("<html>page</html>"), "assignment1")
    folder = tmp_path / "students" / "s1"
    assert (folder / "feedback" / "conv_pool.html").read_text() == "<html>page</html>"
    assert 'href="feedback/conv_pool.html"' in (folder / "feedback.html").read_text()
    assert "feedback/conv_pool.html" in (folder / "feedback.txt").read_text()
    report.write_student(tmp_path, _result(None), "assignment1")
    assert not (folder / "feedback" / "conv_pool.html").exists()
    assert "feedback/conv_pool.html" not in (folder / "feedback.html").read_text()


# ---- end to end: nbgrader autograde + generate_feedback (slow: ~20 s per student) ---------------

def _cell_source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _hidden_and_visible(notebook: Path) -> tuple[set[str], set[str]]:
    """The stripped lines inside the notebook's hidden-test regions, and those outside them."""
    hidden, visible = set(), set()
    for cell in json.loads(notebook.read_text())["cells"]:
        inside = False
        for line in _cell_source(cell).splitlines():
            if BEGIN in line or END in line:
                inside = BEGIN in line
            elif line.strip():
                (hidden if inside else visible).add(line.strip())
    return hidden, visible


def _student_notebook(edit=None) -> str:
    """The source notebook as a student with the reference answers submits it: no hidden tests."""
    nb, edited = json.loads(SOURCE.read_text()), False
    for cell in nb["cells"]:
        kept, inside = [], False
        for line in _cell_source(cell).split("\n"):
            if BEGIN in line or END in line:
                inside = BEGIN in line
            elif not inside:
                kept.append(line)
        cell["source"] = "\n".join(kept)
        if edit and edit[0] in cell["source"]:
            cell["source"] = cell["source"].replace(*edit)
            edited = True
    assert edit is None or edited, f"{edit[0]!r} is not in {SOURCE.name}"
    return json.dumps(nb)


@pytest.mark.slow
def test_feedback_pages_show_the_score_and_no_hidden_test(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    reference = next(s for s in samples_for("assignment1") if s.name == "reference")
    assignment = config.load("assignment1")
    shutil.copytree(write_sample(reference, assignment, subs), subs / "hidden_failure")
    for student, edit in [("reference", None),  # right for every D the visible tests try (1, 2), wrong for D = 3:
                          ("hidden_failure", (f"{SOLUTION}\n    span = D * (K - 1) + 1",
                                             f"{SOLUTION}\n    span = min(D, 2) * (K - 1) + 1"))]:
        (subs / student / SOURCE.name).write_text(_student_notebook(edit))
    results = {r.student_id: r for r in autograde.autograde(autograde.ClassRun(
        "assignment1", subs, out, jobs=2, limits=autograde.Limits(wall_s=30, case_s=10, unconfined=True), progress=False,
        notebooks_too=True))}

    hidden, visible = _hidden_and_visible(SOURCE)
    # A hidden line that is also (part of) a line students see cannot tell whether hidden tests leaked.
    secret = {line for line in hidden if not any(line in seen for seen in visible)}
    assert len(secret) > 20
    for student, result in results.items():
        part = next(p for p in result.parts if p.name == SOURCE.name)
        page_path = out / "students" / student / "feedback" / "conv_pool.html"
        assert page_path.is_file(), result.notes
        page = page_path.read_text()
        text = html.unescape(re.sub(r"<[^>]*>", "", page))
        assert re.search(rf"\({report.number(part.score)} of {report.number(part.max_score)} autograded; "
                         r"[^()]*\(total 36\)\)", text), text[:1500]  # the grader's statement of the total
        assert "HIDDEN TESTS" not in page
        assert [line for line in secret if line in text or line in page] == []
        assert 'href="feedback/conv_pool.html"' in (out / "students" / student / "feedback.html").read_text()
    assert results["reference"].parts[-1].score == results["reference"].parts[-1].max_score
    failed = next(c for c in results["hidden_failure"].parts[-1].cases if c.name == "test_output_size")
    assert failed.score == 0 and f"{executor.HIDDEN_ENAME}: {executor.HIDDEN_FAILURE}" in failed.summary
    failure_page = (out / "students" / "hidden_failure" / "feedback" / "conv_pool.html").read_text()
    assert executor.HIDDEN_FAILURE in html.unescape(failure_page)  # that it failed, not the hidden input
    assert "output_size(W=" not in html.unescape(failure_page)


def _nbgrader(course: Path, *arguments: str) -> None:
    """``nbgrader ARGUMENTS`` as an instructor runs it in the course folder (this interpreter's scripts first)."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    run = subprocess.run([sys.executable, "-m", "nbgrader", *arguments, f"--CourseDirectory.root={course}"],
                         cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]


@pytest.mark.slow
def test_plain_nbgrader_generate_feedback_pages_open_with_the_policy_and_run_nothing(tmp_path):
    """The course root's config given to plain nbgrader (generate_assignment, autograde, generate_feedback): the
    page's head starts with the Content-Security-Policy, and nothing of the template or the student runs. It
    states its total the grader's way: before formgrader grades the written answer "1 of 1 autograded; 3 written
    points to be graded (total 4)", the answer pending (not "0.0 / 3.0"); once graded, "2 of 3 written"."""
    from nbgrader.api import Gradebook

    from autograder.output import sanitise
    course = tmp_path / "course"
    (course / "source" / "tiny").mkdir(parents=True)
    shutil.copy2(config.COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    test = {"grade": True, "grade_id": "test_sum", "points": 1, "locked": True, "solution": False, "schema_version": 3}
    answer = {"grade": True, "grade_id": "why", "points": 3, "locked": False, "solution": True, "schema_version": 3}
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source = new_notebook(cells=[new_code_cell(f"assert 1 + 1 == 2\n{BEGIN}\nassert 2 + 2 == 4  # hidden-marker\n{END}",
                                               metadata={"nbgrader": test}),
                                 nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": answer})],
                          metadata={"kernelspec": kernel})
    nbformat.write(source, course / "source" / "tiny" / "tiny.ipynb")
    _nbgrader(course, "generate_assignment", "tiny", "--force")
    submitted = nbformat.read(course / "release" / "tiny" / "tiny.ipynb", as_version=4)
    submitted.cells[1].source = "Because the kernel is flipped."
    submitted.cells += [
        nbformat.v4.new_markdown_cell('My answer <script>alert("markdown")</script><img src=x onerror=alert(1)>'),
        new_code_cell('from IPython.display import HTML, Javascript, display\n'
                      'display(HTML("<b>bold</b><script>alert(1)</script>"))\ndisplay(Javascript("alert(2)"))')]
    (course / "submitted" / "student1" / "tiny").mkdir(parents=True)
    nbformat.write(submitted, course / "submitted" / "student1" / "tiny" / "tiny.ipynb")
    _nbgrader(course, "autograde", "tiny")
    _nbgrader(course, "generate_feedback", "tiny")

    page = (course / "feedback" / "student1" / "tiny" / "tiny.html").read_text()
    first = re.search(r"<head>\s*(<[^>]*>)", page).group(1)
    assert first == f'<meta http-equiv="Content-Security-Policy" content="{sanitise.CSP}">'
    assert "<script" not in page.lower() and "onerror" not in page  # MathJax's, the markdown's, the output's
    assert 'alert("markdown")' not in page and "&lt;script&gt;alert(1)" in page  # the code shown as text only
    assert "My answer" in page and "hidden-marker" not in page and "Score" in page
    text = html.unescape(re.sub(r"<[^>]*>", "", page))
    assert "tiny (1 of 1 autograded; 3 written points to be graded (total 4))" in text
    assert "Written response (pending: 3 points, graded by hand)" in text and "0.0 / 3.0" not in text
    assert text.count("pending: 3 points, graded by hand") == 2  # the contents and the answer's own heading
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:  # what formgrader does
        grade = gradebook.find_grade("why", "tiny", "tiny", "student1")
        grade.manual_score, grade.needs_manual_grade = 2, False
        gradebook.db.commit()
    _nbgrader(course, "generate_feedback", "tiny", "--force")
    text = html.unescape(re.sub(r"<[^>]*>", "", (course / "feedback" / "student1" / "tiny" / "tiny.html").read_text()))
    assert "tiny (1 of 1 autograded; 2 of 3 written (total 4))" in text and "pending" not in text
    assert "Written response (Score: 2.0 / 3.0)" in text


# ---- sanitising what the grader writes ---------------------------------------------------------

def test_text_loses_escape_sequences_control_characters_and_bidi_overrides():
    from autograder.output.sanitise import clean_text
    hostile = "a\x1b]0;owned title\x07b\x1b[2J\x1b]52;c;ZXZpbA==\x1b\\c\x9b31md\u202eevil\x00\r\nline\ttab"
    assert clean_text(hostile) == "abcdevil\nline\ttab"


@pytest.mark.parametrize("cell, written", [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
                                           ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
                                           ("\t=1", "'\t=1"), ("\r=1", "'=1"), ("alice", "alice"), (7, 7)])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell, written):
    from autograder.output.sanitise import csv_cell
    assert csv_cell(cell) == written


def test_feedback_page_is_sanitised_and_has_a_restrictive_policy():
    from autograder.output import sanitise
    from autograder.results import CaseResult, PartResult
    hostile = '</pre><script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a>'
    part = PartResult("conv_forward_naive", "cs7150/conv.py", 0, 3,
                      [CaseResult("c1", 0, 3, "raised ValueError: " + hostile, [hostile])], problem=hostile)
    result = StudentResult("s1", "Assignment 1", [part], notes=[hostile + "\x1b]0;title\x07"])
    page = report.feedback_html(result)
    assert "<script" not in page and "<img" not in page and '<a href="javascript' not in page and "\x1b" not in page
    assert f'<meta http-equiv="Content-Security-Policy" content="{sanitise.CSP}">' in page
    assert "default-src 'none'" in sanitise.CSP
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text, not run
    png = '<img src="data:image/png;base64,iVBORw0KGgo=" alt="curve"><img src="data:text/html;base64,PHNjcmlwdD4=">'
    cleaned = sanitise.clean_html(png)
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in cleaned and "text/html" not in cleaned
    text = report.feedback_text(result)
    assert "\x1b" not in text and "<script>" in text  # plain text: nothing to run, kept readable


def test_a_student_cell_quoting_a_delimiter_still_gets_its_page():
    """A student's cell that holds the hidden-test delimiter's text without its end (nbgrader's own preprocessor
    raises on that) is shown cut at the delimiter; the page is still written."""
    quoting = new_code_cell("print('look: ### BEGIN HIDDEN TESTS')\nsecret_guess = 1\n")
    nb = _cleared(new_notebook(cells=[new_code_cell("a = 1"), quoting]))
    assert nb.cells[0].source == "a = 1" and nb.cells[1].source == ""
    quoting.source = "b = 2\n# ### BEGIN HIDDEN TESTS\nsecret_guess = 1\n"
    assert _cleared(new_notebook(cells=[quoting])).cells[0].source == "b = 2"


def test_only_a_page_the_course_filters_made_carries_the_jobs_proof(monkeypatch):
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    monkeypatch.setenv(evidence.FEEDBACK_PROOF_ENV, "00ff")
    exporter = feedback.SafeFeedbackExporter()
    unfiltered, _ = exporter.from_notebook_node(nb, {})
    assert feedback.page_proof(unfiltered) == ""
    filtered, _ = exporter.from_notebook_node(nb, {feedback.FILTERED: True})
    assert feedback.page_proof(filtered) == "00ff"
    assert feedback.page_proof(feedback.safe_page(filtered)) == ""  # the page handed out no longer carries it
    body = '<body><meta name="cs7150-feedback-proof" content="00ff"></body>'
    assert feedback.page_proof(body) == ""  # a student's markup in the body proves nothing
