"""A student's copy of assignment 1 with one planted mistake: the notebook's own check names it before hand-in.

The release (``autograder.release.build``) gets the instructor's package files with the ``bias_missing`` sample's
edit (``coursetools/samples/assignment1.py``: ``+ b[f]`` deleted from ``conv_forward_naive``) and runs top to
bottom in student mode, as a student runs it. The locked check after ``conv_forward_naive`` must fail with the
grader's diagnosis (``cs7150.mistakes.BIAS``) and show a picture; every other error is one a half-done
release may raise. One run (the notebook's exercises are left as released, so they fail fast).
"""
from __future__ import annotations

import pytest
from nbtools import REPO, cell_name, error_text, execute, nbgrader_meta, outputs

from cs7150 import mistakes

CLEAN_FAILURES = {"NotImplementedError", "AssertionError"}


@pytest.mark.slow
def test_the_notebook_names_a_missing_bias(tmp_path, release_kernel_env):
    from autograder import config
    from autograder.release.build import release
    from coursetools.samples import apply_edits
    from coursetools.samples.assignment1 import SAMPLES

    sample = next(sample for sample in SAMPLES if sample.name == "bias_missing")
    assert sample.diagnoses == {"conv_forward_naive": mistakes.BIAS}
    out = release("assignment1", out=tmp_path / "assignment1")
    assignment = config.load("assignment1")
    reference = {rel: (REPO / rel).read_text(encoding="utf-8") for rel in assignment.student_files}
    for rel, text in apply_edits(reference, sample.edits).items():
        (out / rel).write_text(text, encoding="utf-8")

    nb = execute(out / "conv_pool.ipynb", mode="student")
    cells = {nbgrader_meta(cell).get("grade_id"): cell for cell in nb.cells if cell.cell_type == "code"}
    errors = outputs(cells["test_conv_forward_naive"], "error")
    assert len(errors) == 1 and errors[0].ename == "AssertionError", [error_text(e) for e in errors]
    assert f"likely mistake: {mistakes.BIAS}" in errors[0].evalue, errors[0].evalue
    pictures = [o for o in outputs(cells["test_conv_forward_naive"], "display_data") if "image/png" in o.data]
    assert len(pictures) == 1, "the failing check shows one picture (the letter F, expected / yours / difference)"
    problems = [f"{cell_name(index, cell)}: {error_text(e)}" for index, cell in enumerate(nb.cells)
                if cell.cell_type == "code" for e in outputs(cell, "error") if e.ename not in CLEAN_FAILURES]
    assert not problems, "\n".join(problems)
